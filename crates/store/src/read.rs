//! Read queries for the gateway. List paths are single set-based queries (keyset pagination,
//! one `COUNT(*)` with the same filter), and children of many accounts are fetched in one
//! `IN (…)` query so a page of accounts never costs one query per row.

use crate::entities::{
    account, deal_contact, external_ref, fx_rate, person, revenue_event, subscription,
};
use crate::{Store, StoreError, write::table_of};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::collections::{BTreeMap, BTreeSet};
use tributary_model::EntityKind;
use uuid::Uuid;

/// Bind parameters per `IN (…)` list.
const IN_CHUNK: usize = 10_000;

/// A page of rows and the size of the whole filtered set.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows matching the filter, all pages together.
    pub total: u64,
    /// Whether a row follows the last one of this page.
    pub has_next: bool,
}

/// A page of accounts.
pub type AccountPage = Page<account::Model>;

/// Filters on the account list; all given conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
    /// Exact segment (`smb`, `mid_market`, `enterprise`).
    pub segment: Option<String>,
    /// Exact industry.
    pub industry: Option<String>,
    /// Exact region.
    pub region: Option<String>,
    /// Exact domain.
    pub domain: Option<String>,
}

/// Filters on the revenue ledger; all given conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct RevenueEventFilter {
    /// Events of this account only.
    pub account: Option<Uuid>,
    /// Events of these kinds only (`new`, `renewal`, …); empty: every kind.
    pub kinds: Vec<String>,
    /// Events on or after this day.
    pub from: Option<chrono::NaiveDate>,
    /// Events on or before this day.
    pub to: Option<chrono::NaiveDate>,
}

/// Live (not deleted) rows per table, for operators and tests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreCounts {
    /// Live rows per entity kind.
    pub entities: BTreeMap<EntityKind, u64>,
    /// Rows in `external_refs`.
    pub external_refs: u64,
    /// Rows in `raw_payloads`.
    pub raw_payloads: u64,
    /// Rows in `quarantine`.
    pub quarantine: u64,
}

impl Store {
    /// Accounts ordered by (name, id), `first` at most, after the `(name, id)` cursor.
    pub async fn list_accounts(
        &self,
        filter: &AccountFilter,
        first: u64,
        after: Option<(String, Uuid)>,
    ) -> Result<AccountPage, StoreError> {
        let mut cond = Condition::all().add(account::Column::DeletedAt.is_null());
        if let Some(s) = filter.name_contains.as_deref().filter(|s| !s.is_empty()) {
            let pattern = format!("%{}%", escape_like(&s.to_lowercase()));
            cond = cond.add(
                Expr::expr(Func::lower(Expr::col(account::Column::Name)))
                    .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
            );
        }
        for (col, value) in [
            (account::Column::Segment, &filter.segment),
            (account::Column::Industry, &filter.industry),
            (account::Column::Region, &filter.region),
            (account::Column::Domain, &filter.domain),
        ] {
            if let Some(v) = value {
                cond = cond.add(col.eq(v.as_str()));
            }
        }
        let total = account::Entity::find()
            .filter(cond.clone())
            .count(self.db())
            .await?;
        let mut page_cond = cond;
        if let Some((name, id)) = after {
            page_cond = page_cond.add(
                Condition::any()
                    .add(account::Column::Name.gt(name.clone()))
                    .add(
                        Condition::all()
                            .add(account::Column::Name.eq(name))
                            .add(account::Column::Id.gt(id)),
                    ),
            );
        }
        let mut items = account::Entity::find()
            .filter(page_cond)
            .order_by_asc(account::Column::Name)
            .order_by_asc(account::Column::Id)
            .limit(first + 1)
            .all(self.db())
            .await?;
        let has_next = items.len() as u64 > first;
        items.truncate(first as usize);
        Ok(Page {
            items,
            total,
            has_next,
        })
    }

    /// One live account by id.
    pub async fn account(&self, id: Uuid) -> Result<Option<account::Model>, StoreError> {
        Ok(account::Entity::find_by_id(id)
            .filter(account::Column::DeletedAt.is_null())
            .one(self.db())
            .await?)
    }

    /// Live people of the given accounts, ordered by name.
    pub async fn people_of_accounts(
        &self,
        account_ids: &[Uuid],
    ) -> Result<Vec<person::Model>, StoreError> {
        let mut out = Vec::new();
        for chunk in account_ids.chunks(IN_CHUNK) {
            out.extend(
                person::Entity::find()
                    .filter(person::Column::AccountId.is_in(chunk.iter().copied()))
                    .filter(person::Column::DeletedAt.is_null())
                    .order_by_asc(person::Column::Name)
                    .order_by_asc(person::Column::Id)
                    .all(self.db())
                    .await?,
            );
        }
        Ok(out)
    }

    /// Live subscriptions of the given accounts, ordered by start date.
    pub async fn subscriptions_of_accounts(
        &self,
        account_ids: &[Uuid],
    ) -> Result<Vec<subscription::Model>, StoreError> {
        let mut out = Vec::new();
        for chunk in account_ids.chunks(IN_CHUNK) {
            out.extend(
                subscription::Entity::find()
                    .filter(subscription::Column::AccountId.is_in(chunk.iter().copied()))
                    .filter(subscription::Column::DeletedAt.is_null())
                    .order_by_asc(subscription::Column::StartDate)
                    .order_by_asc(subscription::Column::Id)
                    .all(self.db())
                    .await?,
            );
        }
        Ok(out)
    }

    /// Every live subscription that belongs to an account (the revenue ledger's input).
    pub async fn live_subscriptions(&self) -> Result<Vec<subscription::Model>, StoreError> {
        Ok(subscription::Entity::find()
            .filter(subscription::Column::DeletedAt.is_null())
            .filter(subscription::Column::AccountId.is_not_null())
            .order_by_asc(subscription::Column::Id)
            .all(self.db())
            .await?)
    }

    /// Live revenue events matching `filter`, by date, account and id; `offset`/`limit` page
    /// through them. Also returns how many match in all.
    pub async fn revenue_events(
        &self,
        filter: &RevenueEventFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<revenue_event::Model>, u64), StoreError> {
        let q = revenue_event_query(filter);
        let total = q.clone().count(self.db()).await?;
        let rows = q.offset(offset).limit(limit).all(self.db()).await?;
        Ok((rows, total))
    }

    /// Every live revenue event matching `filter`, by date, account and id.
    pub async fn all_revenue_events(
        &self,
        filter: &RevenueEventFilter,
    ) -> Result<Vec<revenue_event::Model>, StoreError> {
        Ok(revenue_event_query(filter).all(self.db()).await?)
    }

    /// Live revenue events of the given accounts, by date.
    pub async fn revenue_events_of_accounts(
        &self,
        account_ids: &[Uuid],
    ) -> Result<Vec<revenue_event::Model>, StoreError> {
        let mut out = Vec::new();
        for chunk in account_ids.chunks(IN_CHUNK) {
            out.extend(
                revenue_event::Entity::find()
                    .filter(revenue_event::Column::AccountId.is_in(chunk.iter().copied()))
                    .filter(revenue_event::Column::DeletedAt.is_null())
                    .order_by_asc(revenue_event::Column::EventDate)
                    .order_by_asc(revenue_event::Column::Id)
                    .all(self.db())
                    .await?,
            );
        }
        Ok(out)
    }

    /// Live people-on-deal rows of the given subscriptions, primary contact first.
    pub async fn deal_contacts_of_subscriptions(
        &self,
        subscription_ids: &[Uuid],
    ) -> Result<Vec<deal_contact::Model>, StoreError> {
        let mut out = Vec::new();
        for chunk in subscription_ids.chunks(IN_CHUNK) {
            out.extend(
                deal_contact::Entity::find()
                    .filter(deal_contact::Column::SubscriptionId.is_in(chunk.iter().copied()))
                    .filter(deal_contact::Column::DeletedAt.is_null())
                    .order_by_desc(deal_contact::Column::IsPrimary)
                    .order_by_asc(deal_contact::Column::Id)
                    .all(self.db())
                    .await?,
            );
        }
        Ok(out)
    }

    /// People by id (live or not: a deal keeps its history).
    pub async fn people_by_id(&self, ids: &[Uuid]) -> Result<Vec<person::Model>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(IN_CHUNK) {
            out.extend(
                person::Entity::find()
                    .filter(person::Column::Id.is_in(chunk.iter().copied()))
                    .all(self.db())
                    .await?,
            );
        }
        Ok(out)
    }

    /// Live synced exchange rates quoted against `base`, by currency and start date.
    pub async fn fx_rates(&self, base: &str) -> Result<Vec<fx_rate::Model>, StoreError> {
        Ok(fx_rate::Entity::find()
            .filter(fx_rate::Column::DeletedAt.is_null())
            .filter(fx_rate::Column::Base.eq(base))
            .order_by_asc(fx_rate::Column::Currency)
            .order_by_asc(fx_rate::Column::StartDate)
            .order_by_asc(fx_rate::Column::Id)
            .all(self.db())
            .await?)
    }

    /// The source references of the given entities (an account merged from two systems has
    /// two).
    pub async fn external_refs_of(
        &self,
        entity_ids: &[Uuid],
    ) -> Result<Vec<external_ref::Model>, StoreError> {
        let mut out = Vec::new();
        for chunk in entity_ids.chunks(IN_CHUNK) {
            out.extend(
                external_ref::Entity::find()
                    .filter(external_ref::Column::EntityId.is_in(chunk.iter().copied()))
                    .order_by_asc(external_ref::Column::Id)
                    .all(self.db())
                    .await?,
            );
        }
        Ok(out)
    }

    /// The external ids of the live (not deleted) rows that connector `instance` landed, per
    /// stream that last reported them: what a sync made of the source, for tests that compare
    /// it with the source's own truth. References only linked to (a contact's account not yet
    /// synced) have no row and no stream, and are left out.
    pub async fn live_external_ids(
        &self,
        instance: &str,
    ) -> Result<BTreeMap<String, BTreeSet<String>>, StoreError> {
        use sea_orm::ConnectionTrait;
        use sea_orm::sea_query::Query;
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for kind in EntityKind::ALL {
            let q = Query::select()
                .expr_as(Expr::col(("r", "stream")), "stream")
                .expr_as(Expr::col(("r", "external_id")), "external_id")
                .from_as("external_refs", "r")
                .join_as(
                    sea_orm::sea_query::JoinType::InnerJoin,
                    table_of(kind),
                    "e",
                    Expr::col(("e", "id")).equals(("r", "entity_id")),
                )
                .and_where(Expr::col(("r", "instance")).eq(instance))
                .and_where(Expr::col(("r", "stream")).is_not_null())
                .and_where(Expr::col(("e", "deleted_at")).is_null())
                .to_owned();
            for row in self.db().query_all(&q).await? {
                let stream: String = row.try_get("", "stream")?;
                out.entry(stream)
                    .or_default()
                    .insert(row.try_get("", "external_id")?);
            }
        }
        Ok(out)
    }

    /// Row counts of every table that a sync writes.
    pub async fn counts(&self) -> Result<StoreCounts, StoreError> {
        use sea_orm::ConnectionTrait;
        use sea_orm::sea_query::Query;
        let mut counts = StoreCounts::default();
        for kind in EntityKind::ALL {
            let q = Query::select()
                .expr_as(Expr::col("id").count(), "n")
                .from(table_of(kind))
                .and_where(Expr::col("deleted_at").is_null())
                .to_owned();
            counts
                .entities
                .insert(kind, count_of(self.db().query_one(&q).await?)?);
        }
        for (table, slot) in [
            ("external_refs", &mut counts.external_refs),
            ("raw_payloads", &mut counts.raw_payloads),
            ("quarantine", &mut counts.quarantine),
        ] {
            let q = Query::select()
                .expr_as(Expr::cust("COUNT(*)"), "n")
                .from(table)
                .to_owned();
            *slot = count_of(self.db().query_one(&q).await?)?;
        }
        Ok(counts)
    }
}

impl Store {
    /// A digest of the synced content: for every live row, its source references and content
    /// hash, plus the unresolved quarantine, in a canonical order. Two stores that synced the
    /// same source to the same state have equal digests whatever their ids, load order or
    /// backend — how tests prove that faults, crashes and resumes lose or duplicate nothing.
    pub async fn content_digest(&self) -> Result<String, StoreError> {
        use sea_orm::ConnectionTrait;
        use sea_orm::sea_query::Query;
        let mut lines: Vec<String> = Vec::new();
        for kind in EntityKind::ALL {
            let t = table_of(kind);
            let q = Query::select()
                .expr_as(Expr::col(("r", "system")), "system")
                .expr_as(Expr::col(("r", "instance")), "instance")
                .expr_as(Expr::col(("r", "object")), "object")
                .expr_as(Expr::col(("r", "external_id")), "external_id")
                .expr_as(Expr::col(("e", "content_hash")), "content_hash")
                .from_as("external_refs", "r")
                .join_as(
                    sea_orm::sea_query::JoinType::InnerJoin,
                    t,
                    "e",
                    Expr::col(("e", "id")).equals(("r", "entity_id")),
                )
                .and_where(Expr::col(("e", "deleted_at")).is_null())
                .to_owned();
            for row in self.db().query_all(&q).await? {
                let get = |c: &str| -> Result<String, StoreError> { Ok(row.try_get("", c)?) };
                lines.push(format!(
                    "{}\t{}:{}/{}/{}\t{}",
                    kind.as_str(),
                    get("system")?,
                    get("instance")?,
                    get("object")?,
                    get("external_id")?,
                    get("content_hash")?
                ));
            }
        }
        let q = Query::select()
            .columns(["connector", "stream", "external_id", "reason"])
            .from("quarantine")
            .and_where(Expr::col("resolved_at").is_null())
            .to_owned();
        for row in self.db().query_all(&q).await? {
            let external_id: Option<String> = row.try_get("", "external_id")?;
            lines.push(format!(
                "quarantine\t{}\t{}\t{}\t{}",
                row.try_get::<String>("", "connector")?,
                row.try_get::<String>("", "stream")?,
                external_id.unwrap_or_default(),
                row.try_get::<String>("", "reason")?
            ));
        }
        lines.sort();
        Ok(crate::write::hex_sha256(lines.join("\n").as_bytes()))
    }
}

/// The ordered query of the live revenue events matching `filter`.
fn revenue_event_query(filter: &RevenueEventFilter) -> sea_orm::Select<revenue_event::Entity> {
    let mut q = revenue_event::Entity::find().filter(revenue_event::Column::DeletedAt.is_null());
    if let Some(a) = filter.account {
        q = q.filter(revenue_event::Column::AccountId.eq(a));
    }
    if !filter.kinds.is_empty() {
        q = q.filter(revenue_event::Column::Kind.is_in(filter.kinds.iter().cloned()));
    }
    if let Some(from) = filter.from {
        q = q.filter(revenue_event::Column::EventDate.gte(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(revenue_event::Column::EventDate.lte(to));
    }
    q.order_by_asc(revenue_event::Column::EventDate)
        .order_by_asc(revenue_event::Column::AccountId)
        .order_by_asc(revenue_event::Column::Id)
}

fn count_of(row: Option<sea_orm::QueryResult>) -> Result<u64, StoreError> {
    let n: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
