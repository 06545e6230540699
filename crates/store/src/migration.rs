//! Schema migrations. The same migrations run on SQLite and PostgreSQL: only portable column
//! types (text, bigint, uuid, timestamps, json) are used, and money is fixed-point `bigint`
//! (amount × 10⁴, see [`crate::money`]) because SQLite has no exact decimal type.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// All migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(M0001Initial),
            Box::new(M0002Scheduling),
            Box::new(M0003Revenue),
            Box::new(M0004SyncChecks),
            Box::new(M0005MoneyProvenance),
            Box::new(M0006RunFigures),
            Box::new(M0007LiveAccounts),
            Box::new(M0008ApiKeys),
            Box::new(M0009PersonHints),
            Box::new(M0010LearningEvents),
        ]
    }
}

struct M0001Initial;

impl MigrationName for M0001Initial {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

/// Columns every entity table carries: provenance and soft deletion.
fn entity_table(name: &'static str) -> TableCreateStatement {
    Table::create()
        .table(name)
        .if_not_exists()
        .col(uuid("id").primary_key())
        .col(timestamp_with_time_zone_null("source_updated_at"))
        .col(string("content_hash"))
        .col(timestamp_with_time_zone("synced_at"))
        .col(timestamp_with_time_zone_null("deleted_at"))
        .to_owned()
}

fn index(table: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(format!("idx_{table}_{}", cols.join("_")))
        .table(table)
        .if_not_exists();
    for c in cols {
        idx.col(*c);
    }
    idx.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Initial {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let tables = vec![
            entity_table("accounts")
                .col(string("name"))
                .col(string_null("domain"))
                .col(string_null("segment"))
                .col(string_null("industry"))
                .col(string_null("region"))
                .col(string_null("owner"))
                .col(big_integer_null("seats"))
                .col(timestamp_with_time_zone_null("created_at"))
                .to_owned(),
            entity_table("people")
                .col(uuid_null("account_id"))
                .col(string("name"))
                .col(string_null("email"))
                .col(string_null("title"))
                .col(string_null("role"))
                .col(timestamp_with_time_zone_null("first_seen_at"))
                .to_owned(),
            entity_table("subscriptions")
                .col(uuid_null("account_id"))
                .col(string("plan"))
                .col(date("start_date"))
                .col(date_null("end_date"))
                .col(big_integer("arr_e4"))
                .col(string_len("currency", 3))
                .col(string("status"))
                .to_owned(),
            entity_table("revenue_events")
                .col(uuid_null("account_id"))
                .col(uuid_null("subscription_id"))
                .col(date("event_date"))
                .col(string("kind"))
                .col(big_integer("arr_delta_e4"))
                .col(big_integer("arr_after_e4"))
                .col(string_len("currency", 3))
                .to_owned(),
            entity_table("courses")
                .col(string("title"))
                .col(string("kind"))
                .col(string("level"))
                .col(json("tags"))
                .col(json("features"))
                .to_owned(),
            entity_table("enrollments")
                .col(uuid_null("person_id"))
                .col(uuid_null("course_id"))
                .col(timestamp_with_time_zone("enrolled_at"))
                .col(timestamp_with_time_zone_null("started_at"))
                .col(timestamp_with_time_zone_null("completed_at"))
                .col(string("status"))
                .col(string_null("score"))
                .col(boolean_null("passed"))
                .col(boolean("certified"))
                .to_owned(),
            entity_table("usage_events")
                .col(uuid_null("person_id"))
                .col(string_null("anonymous_id"))
                .col(uuid_null("account_id"))
                .col(string("event"))
                .col(string_null("feature"))
                .col(timestamp_with_time_zone("occurred_at"))
                .col(json("properties"))
                .to_owned(),
            entity_table("tickets")
                .col(uuid_null("account_id"))
                .col(uuid_null("requester_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("solved_at"))
                .col(string_null("channel"))
                .col(json("tags"))
                .col(string("category"))
                .to_owned(),
            Table::create()
                .table("external_refs")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(string("system"))
                .col(string("instance"))
                .col(string("object"))
                .col(string("external_id"))
                .col(string("entity_kind"))
                .col(uuid("entity_id"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
            Table::create()
                .table("raw_payloads")
                .if_not_exists()
                .col(big_integer("ref_id").primary_key())
                .col(json_binary("payload"))
                .col(string("content_hash"))
                .col(timestamp_with_time_zone_null("source_updated_at"))
                .col(uuid_null("sync_run_id"))
                .col(timestamp_with_time_zone("fetched_at"))
                .to_owned(),
            Table::create()
                .table("sync_state")
                .if_not_exists()
                .col(string("connector"))
                .col(string("stream"))
                .col(json("state"))
                .col(timestamp_with_time_zone("updated_at"))
                .primary_key(Index::create().col("connector").col("stream"))
                .to_owned(),
            Table::create()
                .table("sync_runs")
                .if_not_exists()
                .col(uuid("id").primary_key())
                .col(string("connector"))
                .col(string("stream"))
                .col(string("mode"))
                .col(string("status"))
                .col(timestamp_with_time_zone("started_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .col(big_integer("records_read").default(0))
                .col(big_integer("records_written").default(0))
                .col(big_integer("records_quarantined").default(0))
                .col(big_integer("records_deleted").default(0))
                .col(json_null("cursor_before"))
                .col(json_null("cursor_after"))
                .col(text_null("error"))
                .to_owned(),
            Table::create()
                .table("quarantine")
                .if_not_exists()
                .col(big_pk_auto("id"))
                .col(uuid_null("sync_run_id"))
                .col(string("connector"))
                .col(string("stream"))
                .col(string_null("external_id"))
                .col(text("reason"))
                .col(text("payload"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("last_seen_at"))
                .col(big_integer("occurrences").default(1))
                .col(timestamp_with_time_zone_null("resolved_at"))
                .to_owned(),
        ];
        for t in tables {
            m.create_table(t).await?;
        }
        m.create_index(
            index(
                "external_refs",
                &["system", "instance", "object", "external_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        // One row per bad source record: a record that stays bad across runs is counted, not
        // duplicated (rows without an external id never conflict, as NULLs are distinct).
        m.create_index(
            index("quarantine", &["connector", "stream", "external_id"])
                .unique()
                .to_owned(),
        )
        .await?;
        for (t, cols) in [
            ("external_refs", &["entity_kind", "entity_id"][..]),
            ("accounts", &["name", "id"][..]),
            ("accounts", &["domain"][..]),
            ("people", &["account_id"][..]),
            ("people", &["email"][..]),
            ("subscriptions", &["account_id"][..]),
            ("revenue_events", &["account_id", "event_date"][..]),
            ("enrollments", &["person_id"][..]),
            ("enrollments", &["course_id"][..]),
            ("usage_events", &["account_id", "occurred_at"][..]),
            ("tickets", &["account_id"][..]),
            ("sync_runs", &["connector", "started_at"][..]),
        ] {
            m.create_index(index(t, cols)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "quarantine",
            "sync_runs",
            "sync_state",
            "raw_payloads",
            "external_refs",
            "tickets",
            "usage_events",
            "enrollments",
            "courses",
            "revenue_events",
            "subscriptions",
            "people",
            "accounts",
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Scheduling and full-refresh sweeps: leases that let several workers share one database
/// (each scheduled run claimed by exactly one), and the bookkeeping that marks rows a full
/// refresh did not see as deleted.
struct M0002Scheduling;

impl MigrationName for M0002Scheduling {
    fn name(&self) -> &str {
        "m0002_scheduling"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002Scheduling {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("sync_leases")
                .if_not_exists()
                .col(string("connector").primary_key())
                .col(string_null("kind"))
                .col(timestamp_with_time_zone("next_run_at"))
                .col(boolean("full_refresh_requested").default(false))
                .col(string_null("holder"))
                .col(timestamp_with_time_zone_null("expires_at"))
                .col(timestamp_with_time_zone_null("claimed_for"))
                .to_owned(),
        )
        .await?;
        // SQLite alters one column per statement.
        for (table, col) in [
            ("external_refs", string_null("stream")),
            (
                "external_refs",
                timestamp_with_time_zone_null("last_seen_at"),
            ),
            (
                "sync_state",
                timestamp_with_time_zone_null("sweep_started_at"),
            ),
            ("sync_runs", timestamp_with_time_zone_null("scheduled_for")),
            ("sync_runs", string_null("worker")),
        ] {
            m.alter_table(
                Table::alter()
                    .table(table)
                    .add_column(col.to_owned())
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(index(
            "external_refs",
            &["instance", "stream", "last_seen_at"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("sync_leases").if_exists().to_owned())
            .await?;
        m.drop_index(
            Index::drop()
                .name("idx_external_refs_instance_stream_last_seen_at")
                .table("external_refs")
                .to_owned(),
        )
        .await?;
        for (table, col) in [
            ("external_refs", "stream"),
            ("external_refs", "last_seen_at"),
            ("sync_state", "sweep_started_at"),
            ("sync_runs", "scheduled_for"),
            ("sync_runs", "worker"),
        ] {
            m.alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// The CRM's revenue detail: the source's own classification of a subscription (`motion`),
/// people's roles on deals, and dated exchange rates synced from a source.
struct M0003Revenue;

impl MigrationName for M0003Revenue {
    fn name(&self) -> &str {
        "m0003_revenue"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0003Revenue {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("subscriptions")
                .add_column(string_null("motion"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            entity_table("deal_contacts")
                .col(uuid_null("subscription_id"))
                .col(uuid_null("person_id"))
                .col(string_null("role"))
                .col(boolean("is_primary"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            entity_table("fx_rates")
                .col(string_len("base", 3))
                .col(string_len("currency", 3))
                .col(date("start_date"))
                .col(string("rate"))
                .to_owned(),
        )
        .await?;
        for (t, cols) in [
            ("deal_contacts", &["subscription_id"][..]),
            ("deal_contacts", &["person_id"][..]),
            ("fx_rates", &["base", "currency", "start_date"][..]),
        ] {
            m.create_index(index(t, cols)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["fx_rates", "deal_contacts"] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        m.alter_table(
            Table::alter()
                .table("subscriptions")
                .drop_column("motion")
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}

/// What every run checks besides landing rows (SPEC §6): the stream's delete strategy, the
/// source's own count against what was read, warnings, and schema drift; and the fields each
/// stream has been seen to carry, which drift is detected against.
struct M0004SyncChecks;

impl MigrationName for M0004SyncChecks {
    fn name(&self) -> &str {
        "m0004_sync_checks"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0004SyncChecks {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for col in [
            string_null("delete_strategy"),
            big_integer_null("source_count"),
            big_integer_null("source_read"),
            json_null("warnings"),
            json_null("drift"),
        ] {
            m.alter_table(
                Table::alter()
                    .table("sync_runs")
                    .add_column(col.to_owned())
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table("stream_fields")
                .if_not_exists()
                .col(string("connector"))
                .col(string("stream"))
                .col(string("field"))
                .col(string("json_type"))
                .col(boolean("always_present"))
                .col(timestamp_with_time_zone("first_seen_at"))
                .col(timestamp_with_time_zone("last_changed_at"))
                .primary_key(Index::create().col("connector").col("stream").col("field"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("stream_fields").if_exists().to_owned())
            .await?;
        for col in [
            "delete_strategy",
            "source_count",
            "source_read",
            "warnings",
            "drift",
        ] {
            m.alter_table(
                Table::alter()
                    .table("sync_runs")
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

/// Where money figures come from: a revenue event's change in the contracts' own currency and
/// the exchange rate that converted it (with the day it is effective from), and how a
/// subscription's ARR was derived from its source record.
struct M0005MoneyProvenance;

impl MigrationName for M0005MoneyProvenance {
    fn name(&self) -> &str {
        "m0005_money_provenance"
    }
}

/// The columns [`M0005MoneyProvenance`] adds, by table.
fn money_provenance_columns() -> [(&'static str, ColumnDef); 6] {
    [
        ("revenue_events", big_integer_null("original_delta_e4")),
        ("revenue_events", string_len_null("original_currency", 3)),
        // A rate is kept exactly as text, like `fx_rates.rate`.
        ("revenue_events", string_null("fx_rate")),
        ("revenue_events", string_null("fx_quote")),
        ("revenue_events", date_null("fx_rate_date")),
        ("subscriptions", string_null("arr_basis")),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for M0005MoneyProvenance {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for (table, mut col) in money_provenance_columns() {
            m.alter_table(Table::alter().table(table).add_column(&mut col).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, col) in money_provenance_columns() {
            m.alter_table(
                Table::alter()
                    .table(table)
                    .drop_column(Alias::new(col.get_column_name()))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

/// Every figure of a run's summary table on the run itself, so that what a run read adds up
/// there too: `read = written + unchanged + skipped + quarantined + deleted`, with `swept` (rows
/// a full refresh removed, also counted in `records_deleted`) beside them.
struct M0006RunFigures;

impl MigrationName for M0006RunFigures {
    fn name(&self) -> &str {
        "m0006_run_figures"
    }
}

/// The columns [`M0006RunFigures`] adds to `sync_runs`.
const RUN_FIGURES: [&str; 3] = ["records_unchanged", "records_skipped", "records_swept"];

#[async_trait::async_trait]
impl MigrationTrait for M0006RunFigures {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for col in RUN_FIGURES {
            m.alter_table(
                Table::alter()
                    .table("sync_runs")
                    .add_column(big_integer(col).default(0))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in RUN_FIGURES {
            m.alter_table(
                Table::alter()
                    .table("sync_runs")
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

/// A partial index over the live accounts by `(name, id)`: the account list's order and
/// filter. `COUNT(*)` of the live accounts (`totalCount`) then reads this index instead of
/// the table — on SQLite a scan of the index's pages (`SCAN accounts USING INDEX
/// idx_accounts_live_name_id` in `EXPLAIN QUERY PLAN`), ~5× faster at 20,000 accounts — and
/// the first page stops at its `LIMIT` without checking `deleted_at` row by row. Both
/// backends support partial indexes with the same syntax.
struct M0007LiveAccounts;

impl MigrationName for M0007LiveAccounts {
    fn name(&self) -> &str {
        "m0007_live_accounts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0007LiveAccounts {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_accounts_live_name_id \
                 ON accounts (name, id) WHERE deleted_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS idx_accounts_live_name_id")
            .await?;
        Ok(())
    }
}

struct M0008ApiKeys;

impl MigrationName for M0008ApiKeys {
    fn name(&self) -> &str {
        "m0008_api_keys"
    }
}

/// API keys (`crate::keys`): only a key's SHA-256 is stored, looked up through a unique index.
/// A name is unique among keys not revoked, so a revoked key's name can be reused.
#[async_trait::async_trait]
impl MigrationTrait for M0008ApiKeys {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("api_keys")
                .if_not_exists()
                .col(uuid("id").primary_key())
                .col(string("name"))
                .col(string("role"))
                .col(string_null("source"))
                .col(string("prefix"))
                .col(string("key_hash"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(timestamp_with_time_zone_null("last_used_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_api_keys_key_hash")
                .table("api_keys")
                .col("key_hash")
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS idx_api_keys_live_name \
                 ON api_keys (name) WHERE revoked_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("api_keys").if_exists().to_owned())
            .await?;
        Ok(())
    }
}

/// Identity hints on people (SPEC §4; issue 14): what an LMS or product source says about a
/// person's CRM ids, company or domain, as JSON (`[{kind, field, value}]`, `NULL` when there
/// are none).
struct M0009PersonHints;

impl MigrationName for M0009PersonHints {
    fn name(&self) -> &str {
        "m0009_person_hints"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0009PersonHints {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("people")
                .add_column(json_null("hints"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("people")
                .drop_column("hints")
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}

/// Learning events (issue 14): every learning statement a push source (xAPI) received, kept
/// for audit beside the enrollments folded from them; the statement is its raw payload.
struct M0010LearningEvents;

impl MigrationName for M0010LearningEvents {
    fn name(&self) -> &str {
        "m0010_learning_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0010LearningEvents {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            entity_table("learning_events")
                .col(uuid_null("person_id"))
                .col(uuid_null("course_id"))
                .col(string("verb"))
                .col(timestamp_with_time_zone("occurred_at"))
                .col(timestamp_with_time_zone("stored_at"))
                .col(string_null("score"))
                .col(boolean_null("success"))
                .col(boolean_null("completion"))
                .col(string_null("registration"))
                .col(boolean("voided"))
                .to_owned(),
        )
        .await?;
        for cols in [&["person_id", "occurred_at"][..], &["course_id"][..]] {
            m.create_index(index("learning_events", cols)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table("learning_events")
                .if_exists()
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::for_each_backend;

    /// The newest migration goes down and up again on both backends, and its columns are
    /// there after it went up: an earlier schema can be upgraded and downgraded in place.
    #[tokio::test]
    async fn the_newest_migrations_go_down_and_up_again() {
        for_each_backend(|store| async move {
            let db = store.db();
            let has = |table: &'static str, col: &'static str| async move {
                SchemaManager::new(db).has_column(table, col).await.unwrap()
            };
            for (table, col) in [
                ("revenue_events", "fx_rate_date"),
                ("subscriptions", "arr_basis"),
                ("sync_runs", "records_skipped"),
            ] {
                assert!(has(table, col).await, "{table}.{col}");
            }
            let has_live_index = || async move {
                SchemaManager::new(db)
                    .has_index("accounts", "idx_accounts_live_name_id")
                    .await
                    .unwrap()
            };
            assert!(has_live_index().await);
            assert!(has("api_keys", "key_hash").await);
            assert!(has("people", "hints").await);
            assert!(has("learning_events", "voided").await);
            Migrator::down(db, Some(1)).await.expect("down m0010");
            assert!(
                !SchemaManager::new(db)
                    .has_table("learning_events")
                    .await
                    .unwrap()
            );
            assert!(has("people", "hints").await, "only m0010 went down");
            Migrator::down(db, Some(1)).await.expect("down m0009");
            assert!(!has("people", "hints").await);
            assert!(has("api_keys", "key_hash").await, "only m0009 went down");
            Migrator::down(db, Some(1)).await.expect("down m0008");
            assert!(!SchemaManager::new(db).has_table("api_keys").await.unwrap());
            assert!(has_live_index().await, "only m0008 went down");
            Migrator::down(db, Some(1)).await.expect("down m0007");
            assert!(!has_live_index().await);
            assert!(
                has("sync_runs", "records_swept").await,
                "only m0007 went down"
            );
            Migrator::down(db, Some(1)).await.expect("down m0006");
            assert!(!has("sync_runs", "records_swept").await);
            assert!(
                has("subscriptions", "arr_basis").await,
                "only m0006 went down"
            );
            Migrator::down(db, Some(1)).await.expect("down m0005");
            assert!(!has("revenue_events", "fx_rate").await);
            assert!(!has("subscriptions", "arr_basis").await);
            assert!(
                has("subscriptions", "motion").await,
                "only the newest went down"
            );
            Migrator::up(db, None).await.expect("up again");
            assert!(has("revenue_events", "original_delta_e4").await);
            assert!(has("subscriptions", "arr_basis").await);
            assert!(has("sync_runs", "records_unchanged").await);
            assert!(has_live_index().await);
            assert!(has("api_keys", "last_used_at").await);
            assert!(has("people", "hints").await);
            assert!(has("learning_events", "stored_at").await);
        })
        .await;
    }
}
