//! sea-orm entities for reading the tables created by [`crate::migration`]. Writes go through
//! the batched upserts in [`crate::write`]. These types are private to the store: every read in
//! [`crate::read`] decodes them into its own read types, so no caller sees a storage row.

#![allow(missing_docs)]
// The learning, usage and support tables have entities before their domains have reads.
#![allow(dead_code)]

macro_rules! entity_module {
    ($module:ident, $table:literal, { $($field:tt)* }) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                $($field)*
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity_module!(account, "accounts", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_updated_at: Option<DateTimeUtc>,
    pub content_hash: String,
    pub synced_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub name: String,
    pub domain: Option<String>,
    pub segment: Option<String>,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub owner: Option<String>,
    pub seats: Option<i64>,
    pub created_at: Option<DateTimeUtc>,
});

entity_module!(person, "people", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_updated_at: Option<DateTimeUtc>,
    pub content_hash: String,
    pub synced_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub account_id: Option<Uuid>,
    pub name: String,
    pub email: Option<String>,
    pub title: Option<String>,
    pub role: Option<String>,
    pub first_seen_at: Option<DateTimeUtc>,
    pub hints: Option<Json>,
});

entity_module!(subscription, "subscriptions", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_updated_at: Option<DateTimeUtc>,
    pub content_hash: String,
    pub synced_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub account_id: Option<Uuid>,
    pub plan: String,
    pub start_date: Date,
    pub end_date: Option<Date>,
    pub arr_e4: i64,
    pub currency: String,
    pub status: String,
    pub motion: Option<String>,
    pub arr_basis: Option<String>,
});

entity_module!(deal_contact, "deal_contacts", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_updated_at: Option<DateTimeUtc>,
    pub content_hash: String,
    pub synced_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub subscription_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub role: Option<String>,
    pub is_primary: bool,
});

entity_module!(fx_rate, "fx_rates", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_updated_at: Option<DateTimeUtc>,
    pub content_hash: String,
    pub synced_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub base: String,
    pub currency: String,
    pub start_date: Date,
    pub rate: String,
});

entity_module!(revenue_event, "revenue_events", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_updated_at: Option<DateTimeUtc>,
    pub content_hash: String,
    pub synced_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub account_id: Option<Uuid>,
    pub subscription_id: Option<Uuid>,
    pub event_date: Date,
    pub kind: String,
    pub arr_delta_e4: i64,
    pub arr_after_e4: i64,
    pub currency: String,
    pub original_delta_e4: Option<i64>,
    pub original_currency: Option<String>,
    pub fx_rate: Option<String>,
    pub fx_quote: Option<String>,
    pub fx_rate_date: Option<Date>,
});

entity_module!(course, "courses", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_updated_at: Option<DateTimeUtc>,
    pub content_hash: String,
    pub synced_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub title: String,
    pub kind: String,
    pub level: String,
    pub tags: Json,
    pub features: Json,
});

entity_module!(enrollment, "enrollments", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_updated_at: Option<DateTimeUtc>,
    pub content_hash: String,
    pub synced_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub person_id: Option<Uuid>,
    pub course_id: Option<Uuid>,
    pub enrolled_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub status: String,
    pub score: Option<String>,
    pub passed: Option<bool>,
    pub certified: bool,
});

entity_module!(usage_event, "usage_events", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_updated_at: Option<DateTimeUtc>,
    pub content_hash: String,
    pub synced_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub person_id: Option<Uuid>,
    pub anonymous_id: Option<String>,
    pub account_id: Option<Uuid>,
    pub event: String,
    pub feature: Option<String>,
    pub occurred_at: DateTimeUtc,
    pub properties: Json,
});

entity_module!(ticket, "tickets", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_updated_at: Option<DateTimeUtc>,
    pub content_hash: String,
    pub synced_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub account_id: Option<Uuid>,
    pub requester_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub solved_at: Option<DateTimeUtc>,
    pub channel: Option<String>,
    pub tags: Json,
    pub category: String,
});

entity_module!(external_ref, "external_refs", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub system: String,
    pub instance: String,
    pub object: String,
    pub external_id: String,
    pub entity_kind: String,
    pub entity_id: Uuid,
    pub created_at: DateTimeUtc,
    pub stream: Option<String>,
    pub last_seen_at: Option<DateTimeUtc>,
});

entity_module!(raw_payload, "raw_payloads", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ref_id: i64,
    pub payload: Json,
    pub content_hash: String,
    pub source_updated_at: Option<DateTimeUtc>,
    pub sync_run_id: Option<Uuid>,
    pub fetched_at: DateTimeUtc,
});

entity_module!(sync_state, "sync_state", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub connector: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub stream: String,
    pub state: Json,
    pub updated_at: DateTimeUtc,
    pub sweep_started_at: Option<DateTimeUtc>,
});

entity_module!(sync_run, "sync_runs", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub connector: String,
    pub stream: String,
    pub mode: String,
    pub status: String,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub records_read: i64,
    pub records_written: i64,
    pub records_quarantined: i64,
    pub records_deleted: i64,
    pub records_unchanged: i64,
    pub records_skipped: i64,
    pub records_swept: i64,
    pub cursor_before: Option<Json>,
    pub cursor_after: Option<Json>,
    pub error: Option<String>,
    pub scheduled_for: Option<DateTimeUtc>,
    pub worker: Option<String>,
    pub delete_strategy: Option<String>,
    pub source_count: Option<i64>,
    pub source_read: Option<i64>,
    pub warnings: Option<Json>,
    pub drift: Option<Json>,
});

entity_module!(stream_field, "stream_fields", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub connector: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub stream: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub field: String,
    pub json_type: String,
    pub always_present: bool,
    pub first_seen_at: DateTimeUtc,
    pub last_changed_at: DateTimeUtc,
});

entity_module!(sync_lease, "sync_leases", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub connector: String,
    pub kind: Option<String>,
    pub next_run_at: DateTimeUtc,
    pub full_refresh_requested: bool,
    pub holder: Option<String>,
    pub expires_at: Option<DateTimeUtc>,
    pub claimed_for: Option<DateTimeUtc>,
});

entity_module!(quarantine, "quarantine", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub sync_run_id: Option<Uuid>,
    pub connector: String,
    pub stream: String,
    pub external_id: Option<String>,
    pub reason: String,
    pub payload: String,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    pub occurrences: i64,
    pub resolved_at: Option<DateTimeUtc>,
});

entity_module!(learning_event, "learning_events", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_updated_at: Option<DateTimeUtc>,
    pub content_hash: String,
    pub synced_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub person_id: Option<Uuid>,
    pub course_id: Option<Uuid>,
    pub verb: String,
    pub occurred_at: DateTimeUtc,
    pub stored_at: DateTimeUtc,
    pub score: Option<String>,
    pub success: Option<bool>,
    pub completion: Option<bool>,
    pub registration: Option<String>,
    pub voided: bool,
});
