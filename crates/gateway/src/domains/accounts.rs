//! The accounts domain: accounts (a Relay connection with keyset cursors), their people and
//! subscriptions, the people on each deal, and where each record came from.
//!
//! `Account`'s revenue fields (`revenueEvents`, `ledgerArr`) are declared here, where the type
//! is, and resolved by [`super::revenue`].

use super::learning::{self, Enrollment, EnrollmentStatus, LearningProgress, RoleLearningProgress};
use super::revenue::{self, RevenueEvent, RevenueEventKind};
use super::{loaders, store};
use crate::auth;
use crate::cursor;
use crate::error::GatewayError;
use crate::loaders::{ChildrenOf, ContactsOf, DealContactWithPerson};
use crate::paging::{
    DEFAULT_PAGE_SIZE, PageInfo, connection, page_complexity, page_size, wants_total,
};
use crate::prefetch::{self, AccountPlan, Prefetched, Selection};
use crate::scalars::{Date, DateTime, Money, day, instant};
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use std::sync::Arc;
use tributary_analytics::arr::{self, Contract};
use tributary_store::{AccountRow, ExternalRefRow, PersonRow, SubscriptionRow};
use uuid::Uuid;

/// An account's size band.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "tributary_model::Segment")]
pub enum Segment {
    /// Small and medium business.
    Smb,
    /// Mid-market.
    MidMarket,
    /// Enterprise.
    Enterprise,
}

/// A person's role at their account.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "tributary_model::PersonRole")]
pub enum PersonRole {
    /// Administers the product for the account.
    Admin,
    /// Uses the product.
    EndUser,
    /// Sponsors or signs.
    Executive,
}

/// Lifecycle of a subscription, as its source reports it.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "tributary_model::SubscriptionStatus")]
pub enum SubscriptionStatus {
    /// Signed, not yet started.
    Pending,
    /// Running.
    Active,
    /// Ended (renewed into another subscription or churned).
    Ended,
    /// Cancelled before its end.
    Cancelled,
}

/// Filters on the account list; all given conditions must hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct AccountFilter {
    /// Case-insensitive substring of the name; `%` and `_` match themselves.
    pub name_contains: Option<String>,
    /// Exact segment.
    pub segment: Option<Segment>,
    /// Exact industry, as the source names it.
    pub industry: Option<String>,
    /// Exact region, as the source names it.
    pub region: Option<String>,
    /// Exact domain; `https://www.Acme.com/` is read as `acme.com`.
    pub domain: Option<String>,
}

impl From<AccountFilter> for tributary_store::AccountFilter {
    fn from(f: AccountFilter) -> Self {
        tributary_store::AccountFilter {
            name_contains: f.name_contains,
            segment: f.segment.map(Into::into),
            industry: f.industry,
            region: f.region,
            domain: f.domain.map(|d| {
                tributary_model::normalize_domain(&d).unwrap_or_else(|| d.trim().to_lowercase())
            }),
        }
    }
}

/// Where a record came from: one row in one source system.
#[derive(SimpleObject, Clone, Debug)]
pub struct ExternalRef {
    /// The vendor system, e.g. `hubspot`.
    pub system: String,
    /// The connector instance, e.g. `hubspot-prod`.
    pub instance: String,
    /// The vendor's object type, e.g. `companies`.
    pub object: String,
    /// The vendor's id of the row.
    pub external_id: String,
}

impl From<&ExternalRefRow> for ExternalRef {
    fn from(r: &ExternalRefRow) -> Self {
        ExternalRef {
            system: r.system.clone(),
            instance: r.instance.clone(),
            object: r.object.clone(),
            external_id: r.external_id.clone(),
        }
    }
}

/// The source references of entity `id`, prefetched or batched.
pub(crate) async fn external_refs(
    ctx: &Context<'_>,
    pre: Option<&Prefetched>,
    id: Uuid,
) -> Result<Vec<ExternalRef>> {
    let refs = prefetch::children(ctx, pre, id, ChildrenOf::<ExternalRefRow>::new(id)).await?;
    Ok(refs.iter().map(ExternalRef::from).collect())
}

/// The subscriptions of account `id`, prefetched or batched.
async fn subscriptions_of(
    ctx: &Context<'_>,
    pre: Option<&Prefetched>,
    id: Uuid,
) -> Result<Arc<[SubscriptionRow]>> {
    Ok(prefetch::children(ctx, pre, id, ChildrenOf::<SubscriptionRow>::new(id)).await?)
}

/// The subscriptions as ARR needs them.
fn contracts(rows: &[SubscriptionRow]) -> Vec<Contract<'_>> {
    rows.iter()
        .map(|s| Contract {
            status: s.status,
            start: s.start_date,
            end: s.end_date,
            arr: &s.arr,
        })
        .collect()
}

/// A customer account, merged across systems.
pub struct Account(AccountRow, Option<Arc<Prefetched>>);

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Account(row, None)
    }
}

impl Account {
    fn pre(&self) -> Option<&Prefetched> {
        self.1.as_deref()
    }
}

/// A customer account, merged across systems.
#[Object]
impl Account {
    /// Our id of the account.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Primary web domain, lower-case, without scheme or `www.`.
    async fn domain(&self) -> Option<&str> {
        self.0.domain.as_deref()
    }

    /// Size band.
    async fn segment(&self) -> Option<Segment> {
        self.0.segment.map(Into::into)
    }

    /// Industry, as the source names it.
    async fn industry(&self) -> Option<&str> {
        self.0.industry.as_deref()
    }

    /// Sales region, as the source names it.
    async fn region(&self) -> Option<&str> {
        self.0.region.as_deref()
    }

    /// Owner (account manager), as the source names it.
    async fn owner(&self) -> Option<&str> {
        self.0.owner.as_deref()
    }

    /// Licensed seats, where known.
    async fn seats(&self) -> Option<i64> {
        self.0.seats
    }

    /// When the account was created in its source.
    async fn created_at(&self) -> Option<DateTime> {
        instant(self.0.created_at)
    }

    /// The source's last-modified time of the row we hold.
    async fn source_updated_at(&self) -> Option<DateTime> {
        instant(self.0.source_updated_at)
    }

    /// People of the account, by name.
    async fn people(&self, ctx: &Context<'_>) -> Result<Vec<Person>> {
        let id = self.0.id;
        let rows =
            prefetch::children(ctx, self.pre(), id, ChildrenOf::<PersonRow>::new(id)).await?;
        Ok(rows
            .iter()
            .map(|p| Person(p.clone(), self.1.clone()))
            .collect())
    }

    /// Subscriptions of the account, by start date.
    async fn subscriptions(&self, ctx: &Context<'_>) -> Result<Vec<Subscription>> {
        let rows = subscriptions_of(ctx, self.pre(), self.0.id).await?;
        Ok(rows
            .iter()
            .map(|s| Subscription(s.clone(), self.1.clone()))
            .collect())
    }

    /// Annual recurring revenue: the sum of the ARR of the subscriptions active on `asOf`
    /// (default: today, UTC). A subscription is active when its source does not call it
    /// ended or cancelled and `asOf` falls in `[startDate, endDate)`. Zero when none is active
    /// and all the account's subscriptions share one currency; null when the account has no
    /// subscription or active ones in several currencies (see `arrByCurrency`).
    ///
    /// Needs role finance or admin (otherwise null, with a `FORBIDDEN` error).
    #[graphql(guard = "auth::REVENUE")]
    async fn arr(&self, ctx: &Context<'_>, as_of: Option<Date>) -> Result<Option<Money>> {
        let rows = subscriptions_of(ctx, self.pre(), self.0.id).await?;
        let arr = arr::account_arr(&contracts(&rows), day(as_of)).map_err(GatewayError::from)?;
        Ok(arr.as_ref().map(Money::from))
    }

    /// ARR (as in `arr`) per currency, by currency code; empty when no subscription is active.
    ///
    /// Needs role finance or admin (otherwise null, with a `FORBIDDEN` error).
    #[graphql(guard = "auth::REVENUE")]
    async fn arr_by_currency(
        &self,
        ctx: &Context<'_>,
        as_of: Option<Date>,
    ) -> Result<Option<Vec<Money>>> {
        let rows = subscriptions_of(ctx, self.pre(), self.0.id).await?;
        let sums = arr::by_currency(&contracts(&rows), day(as_of)).map_err(GatewayError::from)?;
        Ok(Some(sums.iter().map(Money::from).collect()))
    }

    /// The account's lines of the revenue ledger, by date, optionally between `from` and `to`
    /// (inclusive). The ledger also holds scheduled future changes (a contract ending without
    /// a renewal yet is a churn on its end date); pass `to` to see history only.
    ///
    /// Needs role finance or admin (otherwise null, with a `FORBIDDEN` error).
    #[graphql(guard = "auth::REVENUE")]
    async fn revenue_events(
        &self,
        ctx: &Context<'_>,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<Option<Vec<RevenueEvent>>> {
        revenue::account_revenue_events(ctx, self.pre(), self.0.id, from, to)
            .await
            .map(Some)
    }

    /// ARR on `asOf` (default: today, UTC) according to the revenue ledger, in the reporting
    /// currency: the `arrAfter` of the account's last ledger line on or before that day, zero
    /// before its first. Null when the account has no ledger lines. Unlike `arr`, which adds
    /// the contracts' own currencies, this is what finance reconciles.
    ///
    /// Needs role finance or admin (otherwise null, with a `FORBIDDEN` error).
    #[graphql(guard = "auth::REVENUE")]
    async fn ledger_arr(&self, ctx: &Context<'_>, as_of: Option<Date>) -> Result<Option<Money>> {
        revenue::account_ledger_arr(ctx, self.pre(), self.0.id, day(as_of)).await
    }

    /// The source rows merged into this account.
    async fn external_refs(&self, ctx: &Context<'_>) -> Result<Vec<ExternalRef>> {
        external_refs(ctx, self.pre(), self.0.id).await
    }

    /// Enrollments of the account's learners, by enrollment time, optionally of one status.
    /// A learner belongs to the account when they share a normalised email with one of its
    /// people (until identity resolution links them).
    async fn enrollments(
        &self,
        ctx: &Context<'_>,
        status: Option<EnrollmentStatus>,
    ) -> Result<Vec<Enrollment>> {
        learning::account_enrollment_list(ctx, self.pre(), self.0.id, status).await
    }

    /// How far the account's learners have come: enrolled, started, completed, certified,
    /// learners and last activity (see `LearningProgress`).
    async fn learning(&self, ctx: &Context<'_>) -> Result<LearningProgress> {
        learning::account_learning(ctx, self.pre(), self.0.id).await
    }

    /// `learning` per role of the learners: learners whose role is unknown (null) first, then
    /// admin, end user, executive; roles without learners are left out.
    async fn learning_by_role(&self, ctx: &Context<'_>) -> Result<Vec<RoleLearningProgress>> {
        learning::account_learning_by_role(ctx, self.pre(), self.0.id).await
    }
}

/// A person's part in the deal behind a subscription (Salesforce OpportunityContactRole,
/// HubSpot deal–contact association).
pub struct DealContact(DealContactWithPerson);

/// A person's part in the deal behind a subscription.
#[Object]
impl DealContact {
    /// The role as the CRM names it (`Decision Maker`, `Economic Buyer`…).
    async fn role(&self) -> Option<&str> {
        self.0.contact.role.as_deref()
    }

    /// Whether the CRM marks this person as the deal's primary contact.
    async fn primary(&self) -> bool {
        self.0.contact.primary
    }

    /// The person; null when the CRM's contact has not been synced (or was deleted).
    async fn person(&self) -> Option<Person> {
        self.0
            .person
            .clone()
            .filter(|p| p.deleted_at.is_none())
            .map(Person::from)
    }
}

/// A person: CRM contact, LMS learner, product user or ticket requester.
pub struct Person(PersonRow, Option<Arc<Prefetched>>);

impl From<PersonRow> for Person {
    fn from(row: PersonRow) -> Self {
        Person(row, None)
    }
}

/// A person: CRM contact, LMS learner, product user or ticket requester.
#[Object]
impl Person {
    /// Our id of the person.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Full name.
    ///
    /// Needs role cs, ce or admin (otherwise null, with a `FORBIDDEN` error).
    #[graphql(guard = "auth::PERSONAL")]
    async fn name(&self) -> Option<&str> {
        Some(&self.0.name)
    }

    /// Normalised (trimmed, lower-case) email address.
    ///
    /// Needs role cs, ce or admin (otherwise null, with a `FORBIDDEN` error).
    #[graphql(guard = "auth::PERSONAL")]
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// Job title, as the source names it.
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }

    /// Role at the account.
    async fn role(&self) -> Option<PersonRole> {
        self.0.role.map(Into::into)
    }

    /// When a source first saw the person.
    async fn first_seen_at(&self) -> Option<DateTime> {
        instant(self.0.first_seen_at)
    }

    /// The source rows merged into this person.
    async fn external_refs(&self, ctx: &Context<'_>) -> Result<Vec<ExternalRef>> {
        external_refs(ctx, self.1.as_deref(), self.0.id).await
    }

    /// What the person's source says about their identity elsewhere — a CRM id in an LMS
    /// field, a company name given at sign-up — with the field that said it: the evidence
    /// identity resolution works from.
    ///
    /// Needs role cs, ce or admin (otherwise null, with a `FORBIDDEN` error).
    #[graphql(guard = "auth::PERSONAL")]
    async fn identity_hints(&self) -> Option<Vec<IdentityHint>> {
        Some(
            self.0
                .hints
                .iter()
                .map(|h| IdentityHint {
                    kind: h.kind.into(),
                    field: h.field.clone(),
                    value: h.value.clone(),
                })
                .collect(),
        )
    }

    /// The person's learning events (xAPI statements), by time, voided ones included and
    /// flagged: the audit trail behind enrollments that came from a statements endpoint.
    async fn learning_events(&self, ctx: &Context<'_>) -> Result<Vec<learning::LearningEvent>> {
        learning::person_learning_events(ctx, self.0.id).await
    }

    /// The person's enrollments, by enrollment time: their own, and those of learner records
    /// in other systems with the same normalised email.
    async fn enrollments(&self, ctx: &Context<'_>) -> Result<Vec<Enrollment>> {
        learning::person_enrollments(ctx, self.1.as_deref(), self.0.id).await
    }
}

/// What an identity hint claims.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "tributary_model::IdentityHintKind")]
pub enum IdentityHintKind {
    /// The id of the person's contact record in a CRM.
    CrmContactId,
    /// The id of the person's account record in a CRM.
    CrmAccountId,
    /// The company name the person gave.
    CompanyName,
    /// A company web domain given apart from the email address.
    EmailDomain,
}

/// One identity claim a source makes about a person, with the field that carried it.
#[derive(SimpleObject, Clone, Debug)]
pub struct IdentityHint {
    /// What the value claims to be.
    pub kind: IdentityHintKind,
    /// The source's field, as the source names it (e.g. `sis_user_id`).
    pub field: String,
    /// The value.
    pub value: String,
}

/// How a subscription's ARR was derived from its CRM record.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "tributary_model::ArrBasis")]
pub enum ArrBasis {
    /// Read from the mapping's ARR field (`arr_field`, e.g. `ARR__c`).
    ArrField,
    /// The amount field × 12 / the term in months from the record's term field, rounded to
    /// the currency's minor unit.
    AmountOverTerm,
    /// The amount field × 12 / the mapping's `default_term_months`: the record has no term.
    AmountOverDefaultTerm,
}

/// A subscription of an account, derived from CRM opportunities or contracts.
pub struct Subscription(SubscriptionRow, Option<Arc<Prefetched>>);

/// A subscription of an account, derived from CRM opportunities or contracts.
#[Object]
impl Subscription {
    /// Our id of the subscription.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Product or plan name.
    async fn plan(&self) -> &str {
        &self.0.plan
    }

    /// First day of the term.
    async fn start_date(&self) -> Date {
        Date(self.0.start_date)
    }

    /// Day after the last day of the term (exclusive), when known.
    async fn end_date(&self) -> Option<Date> {
        self.0.end_date.map(Date)
    }

    /// Annual recurring revenue of the subscription, in its own currency.
    ///
    /// Needs role finance or admin (otherwise null, with a `FORBIDDEN` error).
    #[graphql(guard = "auth::REVENUE")]
    async fn arr(&self) -> Option<Money> {
        Some(Money::from(&self.0.arr))
    }

    /// How `arr` was derived from the CRM record through the instance's field mapping: read
    /// from the ARR field, or the amount × 12 / the term in months (the record's term, or
    /// the mapping's default term when the record gives none); null when not recorded.
    async fn arr_basis(&self) -> Option<ArrBasis> {
        self.0.arr_basis.map(Into::into)
    }

    /// Lifecycle status, as the source reports it.
    async fn status(&self) -> SubscriptionStatus {
        self.0.status.into()
    }

    /// What the CRM calls this deal (new business, renewal, expansion…), read through the
    /// instance's field mapping from the opportunity type or deal type; null when the source
    /// does not say. The ledger's kinds come from ARR movements and may differ.
    async fn motion(&self) -> Option<RevenueEventKind> {
        self.0.motion.map(Into::into)
    }

    /// The people on the deal behind this subscription, primary contact first.
    async fn contacts(&self, ctx: &Context<'_>) -> Result<Vec<DealContact>> {
        let id = self.0.id;
        let rows = prefetch::children(ctx, self.1.as_deref(), id, ContactsOf(id)).await?;
        Ok(rows.iter().cloned().map(DealContact).collect())
    }

    /// The source rows this subscription was derived from.
    async fn external_refs(&self, ctx: &Context<'_>) -> Result<Vec<ExternalRef>> {
        external_refs(ctx, self.1.as_deref(), self.0.id).await
    }
}

connection!(
    /// A page of accounts, ordered by name then id.
    AccountConnection,
    AccountEdge,
    Account
);

/// The accounts domain's queries.
#[derive(Default, Debug, Clone, Copy)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// Accounts, ordered by name then id, `first` (0 to 500) after the cursor `after`.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(DEFAULT_PAGE_SIZE)")] first: Option<i32>,
        after: Option<String>,
        filter: Option<AccountFilter>,
    ) -> Result<AccountConnection> {
        let first = page_size(first)?;
        let after = after.as_deref().map(cursor::decode_account).transpose()?;
        let filter = filter.unwrap_or_default().into();
        let page = store(ctx)?
            .list_accounts(&filter, first, after, wants_total(ctx, false))
            .await
            .map_err(GatewayError::from)?;
        // One query per relation and level for the whole page, before any node resolves.
        let plan = AccountPlan::of(&Selection::connection_nodes(&ctx.look_ahead()));
        let pre = if plan.is_empty() {
            None
        } else {
            let ids: Vec<Uuid> = page.items.iter().map(|a| a.id).collect();
            Some(Arc::new(plan.load(loaders(ctx)?, &ids).await?))
        };
        let edges: Vec<AccountEdge> = page
            .items
            .into_iter()
            .map(|row| AccountEdge {
                cursor: cursor::encode_account(&row.name, row.id),
                node: Account(row, pre.clone()),
            })
            .collect();
        Ok(AccountConnection {
            page_info: PageInfo {
                has_next_page: page.has_next,
                has_previous_page: false,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: page.total,
        })
    }

    /// One account by id; null when there is none.
    async fn account(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Account>> {
        let uuid = Uuid::parse_str(&id).map_err(|_| {
            GatewayError::Validation(format!(
                "`id` must be an account id (a UUID), got `{}`",
                id.0
            ))
        })?;
        // The id is known before the account is read, so its children are read alongside it:
        // one round trip of concurrent queries instead of one per level.
        let plan = AccountPlan::of(&Selection::object(ctx.look_ahead()));
        let (row, pre) = tokio::try_join!(
            async { store(ctx)?.account(uuid).await.map_err(GatewayError::from) },
            async {
                if plan.is_empty() {
                    return Ok(None);
                }
                Ok::<_, GatewayError>(Some(Arc::new(plan.load(loaders(ctx)?, &[uuid]).await?)))
            },
        )?;
        Ok(row.map(|row| Account(row, pre)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_domains_are_normalised() {
        let f: tributary_store::AccountFilter = AccountFilter {
            domain: Some("https://www.Acme.com/pricing".into()),
            segment: Some(Segment::MidMarket),
            ..Default::default()
        }
        .into();
        assert_eq!(f.domain.as_deref(), Some("acme.com"));
        assert_eq!(f.segment, Some(tributary_model::Segment::MidMarket));
    }
}
