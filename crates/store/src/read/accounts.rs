//! The accounts domain: accounts, their people and subscriptions, the people on each deal,
//! and the source references of any entity.

use super::{Page, child, decode, money, rows_in};
use crate::entities::{account, deal_contact, external_ref, person, subscription};
use crate::{Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tributary_model::{
    ArrBasis, EntityKind, ExternalRef, IdentityHint, Money, PersonRole, RevenueEventKind, Segment,
    SubscriptionStatus,
};
use uuid::Uuid;

/// A live customer account, merged across systems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// Our id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Primary web domain, lower-case, without scheme or `www.`.
    pub domain: Option<String>,
    /// Size band.
    pub segment: Option<Segment>,
    /// Industry, as the source names it.
    pub industry: Option<String>,
    /// Sales region, as the source names it.
    pub region: Option<String>,
    /// Owner (account manager), as the source names it.
    pub owner: Option<String>,
    /// Licensed seats, where known.
    pub seats: Option<i64>,
    /// When the account was created in its source.
    pub created_at: Option<DateTime<Utc>>,
    /// The source's last-modified time of the row held.
    pub source_updated_at: Option<DateTime<Utc>>,
}

impl TryFrom<account::Model> for AccountRow {
    type Error = StoreError;

    fn try_from(m: account::Model) -> Result<Self, StoreError> {
        Ok(AccountRow {
            segment: m
                .segment
                .as_deref()
                .map(|s| decode("accounts", "segment", s, Segment::parse))
                .transpose()?,
            id: m.id,
            name: m.name,
            domain: m.domain,
            industry: m.industry,
            region: m.region,
            owner: m.owner,
            seats: m.seats,
            created_at: m.created_at,
            source_updated_at: m.source_updated_at,
        })
    }
}

/// A page of accounts.
pub type AccountPage = Page<AccountRow>;

/// Filters on the account list; all given conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// Case-insensitive substring of the name (`%` and `_` match themselves).
    pub name_contains: Option<String>,
    /// Exact segment.
    pub segment: Option<Segment>,
    /// Exact industry.
    pub industry: Option<String>,
    /// Exact region.
    pub region: Option<String>,
    /// Exact domain, as stored (normalise it first: [`tributary_model::normalize_domain`]).
    pub domain: Option<String>,
}

/// A person: CRM contact, LMS learner, product user or ticket requester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    /// Our id.
    pub id: Uuid,
    /// The account the person belongs to.
    pub account_id: Option<Uuid>,
    /// Full name.
    pub name: String,
    /// Normalised email address.
    pub email: Option<String>,
    /// Job title, as the source names it.
    pub title: Option<String>,
    /// Role at the account.
    pub role: Option<PersonRole>,
    /// When a source first saw the person.
    pub first_seen_at: Option<DateTime<Utc>>,
    /// When the source deleted the person (only [`Store::people_by_id`] returns such rows).
    pub deleted_at: Option<DateTime<Utc>>,
    /// What the source says about the person's identity elsewhere (SPEC §4).
    pub hints: Vec<IdentityHint>,
}

impl TryFrom<person::Model> for PersonRow {
    type Error = StoreError;

    fn try_from(m: person::Model) -> Result<Self, StoreError> {
        Ok(PersonRow {
            role: m
                .role
                .as_deref()
                .map(|r| decode("people", "role", r, PersonRole::parse))
                .transpose()?,
            id: m.id,
            account_id: m.account_id,
            name: m.name,
            email: m.email,
            title: m.title,
            first_seen_at: m.first_seen_at,
            deleted_at: m.deleted_at,
            hints: match m.hints {
                None => Vec::new(),
                Some(v) => serde_json::from_value(v).map_err(|e| StoreError::Corrupt {
                    table: "people",
                    message: format!("`hints` do not decode: {e}"),
                })?,
            },
        })
    }
}

child!(
    PersonRow,
    "people of accounts",
    person,
    AccountId,
    |r| r.account_id,
    person::Entity::find()
        .filter(person::Column::DeletedAt.is_null())
        .order_by_asc(person::Column::Name)
        .order_by_asc(person::Column::Id)
);

/// A live subscription, derived from CRM opportunities or contracts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    /// Our id.
    pub id: Uuid,
    /// The subscribing account.
    pub account_id: Option<Uuid>,
    /// Product or plan name.
    pub plan: String,
    /// First day of the term.
    pub start_date: NaiveDate,
    /// Day after the last day of the term (exclusive), when known.
    pub end_date: Option<NaiveDate>,
    /// Annual recurring revenue, in the contract's currency.
    pub arr: Money,
    /// Lifecycle status, as the source reports it.
    pub status: SubscriptionStatus,
    /// What the CRM calls the deal (new business, renewal…), when it says.
    pub motion: Option<RevenueEventKind>,
    /// How `arr` was derived from the source record, when recorded.
    pub arr_basis: Option<ArrBasis>,
}

impl TryFrom<subscription::Model> for SubscriptionRow {
    type Error = StoreError;

    fn try_from(m: subscription::Model) -> Result<Self, StoreError> {
        const T: &str = "subscriptions";
        Ok(SubscriptionRow {
            arr: money(T, m.arr_e4, &m.currency)?,
            status: decode(T, "status", &m.status, SubscriptionStatus::parse)?,
            motion: m
                .motion
                .as_deref()
                .map(|k| decode(T, "motion", k, RevenueEventKind::parse))
                .transpose()?,
            arr_basis: m
                .arr_basis
                .as_deref()
                .map(|b| decode(T, "arr_basis", b, ArrBasis::parse))
                .transpose()?,
            id: m.id,
            account_id: m.account_id,
            plan: m.plan,
            start_date: m.start_date,
            end_date: m.end_date,
        })
    }
}

child!(
    SubscriptionRow,
    "subscriptions of accounts",
    subscription,
    AccountId,
    |r| r.account_id,
    subscription::Entity::find()
        .filter(subscription::Column::DeletedAt.is_null())
        .order_by_asc(subscription::Column::StartDate)
        .order_by_asc(subscription::Column::Id)
);

/// A person's live part in the deal behind a subscription (Salesforce
/// OpportunityContactRole, HubSpot deal–contact association).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealContactRow {
    /// Our id.
    pub id: Uuid,
    /// The deal's subscription.
    pub subscription_id: Option<Uuid>,
    /// The person, when synced.
    pub person_id: Option<Uuid>,
    /// The role as the CRM names it (`Decision Maker`…).
    pub role: Option<String>,
    /// Whether the CRM marks the person as the deal's primary contact.
    pub primary: bool,
}

impl TryFrom<deal_contact::Model> for DealContactRow {
    type Error = StoreError;

    fn try_from(m: deal_contact::Model) -> Result<Self, StoreError> {
        Ok(DealContactRow {
            id: m.id,
            subscription_id: m.subscription_id,
            person_id: m.person_id,
            role: m.role,
            primary: m.is_primary,
        })
    }
}

child!(
    DealContactRow,
    "contacts of deals",
    deal_contact,
    SubscriptionId,
    |r| r.subscription_id,
    deal_contact::Entity::find()
        .filter(deal_contact::Column::DeletedAt.is_null())
        .order_by_desc(deal_contact::Column::IsPrimary)
        .order_by_asc(deal_contact::Column::Id)
);

/// Where an entity came from: one row in one source system (an account merged from two
/// systems has two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalRefRow {
    /// Our id of the entity.
    pub entity_id: Uuid,
    /// Its kind.
    pub entity_kind: EntityKind,
    /// The vendor system, e.g. `hubspot`.
    pub system: String,
    /// The connector instance, e.g. `hubspot-prod`.
    pub instance: String,
    /// The vendor's object type, e.g. `companies`.
    pub object: String,
    /// The vendor's id of the row.
    pub external_id: String,
    /// The stream that last reported the row; none for a reference only linked to.
    pub stream: Option<String>,
}

impl ExternalRefRow {
    /// The reference as the model has it.
    pub fn to_external_ref(&self) -> ExternalRef {
        ExternalRef::new(
            self.system.clone(),
            self.instance.clone(),
            self.object.clone(),
            self.external_id.clone(),
        )
    }
}

impl TryFrom<external_ref::Model> for ExternalRefRow {
    type Error = StoreError;

    fn try_from(m: external_ref::Model) -> Result<Self, StoreError> {
        Ok(ExternalRefRow {
            entity_kind: decode(
                "external_refs",
                "entity_kind",
                &m.entity_kind,
                EntityKind::parse,
            )?,
            entity_id: m.entity_id,
            system: m.system,
            instance: m.instance,
            object: m.object,
            external_id: m.external_id,
            stream: m.stream,
        })
    }
}

child!(
    ExternalRefRow,
    "external references of entities",
    external_ref,
    EntityId,
    |r| Some(r.entity_id),
    external_ref::Entity::find().order_by_asc(external_ref::Column::Id)
);

impl Store {
    /// Accounts ordered by (name, id), `first` at most, after the `(name, id)` cursor.
    pub async fn list_accounts(
        &self,
        filter: &AccountFilter,
        first: u64,
        after: Option<(String, Uuid)>,
        count: bool,
    ) -> Result<AccountPage, StoreError> {
        let mut cond = Condition::all().add(account::Column::DeletedAt.is_null());
        if let Some(s) = filter.name_contains.as_deref().filter(|s| !s.is_empty()) {
            let pattern = format!("%{}%", escape_like(&s.to_lowercase()));
            cond = cond.add(
                Expr::expr(Func::lower(Expr::col(account::Column::Name)))
                    .like(LikeExpr::new(pattern).escape('\\')),
            );
        }
        let segment = filter.segment.map(|s| s.as_str().to_owned());
        for (col, value) in [
            (account::Column::Segment, &segment),
            (account::Column::Industry, &filter.industry),
            (account::Column::Region, &filter.region),
            (account::Column::Domain, &filter.domain),
        ] {
            if let Some(v) = value {
                cond = cond.add(col.eq(v.as_str()));
            }
        }
        let total = self
            .count_if(count, &account::Entity::find().filter(cond.clone()))
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
        let mut rows = account::Entity::find()
            .filter(page_cond)
            .order_by_asc(account::Column::Name)
            .order_by_asc(account::Column::Id)
            .limit(first + 1)
            .all(self.db())
            .await?;
        let has_next = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Ok(Page {
            items: rows
                .into_iter()
                .map(AccountRow::try_from)
                .collect::<Result<_, _>>()?,
            total,
            has_next,
        })
    }

    /// One live account by id.
    pub async fn account(&self, id: Uuid) -> Result<Option<AccountRow>, StoreError> {
        account::Entity::find_by_id(id)
            .filter(account::Column::DeletedAt.is_null())
            .one(self.db())
            .await?
            .map(AccountRow::try_from)
            .transpose()
    }

    /// People by id, live or not (a deal keeps its history), in no particular order.
    pub async fn people_by_id(&self, ids: &[Uuid]) -> Result<Vec<PersonRow>, StoreError> {
        rows_in(self.db(), person::Entity::find(), person::Column::Id, ids).await
    }

    /// Every live subscription that belongs to an account (the revenue ledger's input), by id.
    pub async fn live_subscriptions(&self) -> Result<Vec<SubscriptionRow>, StoreError> {
        subscription::Entity::find()
            .filter(subscription::Column::DeletedAt.is_null())
            .filter(subscription::Column::AccountId.is_not_null())
            .order_by_asc(subscription::Column::Id)
            .all(self.db())
            .await?
            .into_iter()
            .map(SubscriptionRow::try_from)
            .collect()
    }

    /// The source references of the given entities, by id of the reference
    /// ([`Store::children_of`] for [`ExternalRefRow`]).
    pub async fn external_refs_of(
        &self,
        entity_ids: &[Uuid],
    ) -> Result<Vec<ExternalRefRow>, StoreError> {
        self.children_of(entity_ids).await
    }
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
