//! The GraphQL output and input types. They are the gateway's own (STYLE §1): store rows are
//! converted here, never exposed, so a column can change without changing the API.

use crate::error::GatewayError;
use crate::loaders::{
    self, ContactsOf, Loaders, PeopleOf, RefsOf, RevenueEventsOf, SubscriptionsOf,
};
use async_graphql::{
    Context, Enum, ID, InputObject, InputValueError, InputValueResult, Json, Object, Result,
    Scalar, ScalarType, SimpleObject, Value,
};
use chrono::{NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use tributary_store::entities::{
    account, external_ref, person, quarantine, revenue_event, subscription, sync_run,
};
use tributary_store::money::from_e4;
use uuid::Uuid;

/// The batching loader from the schema's data.
pub(crate) fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, GatewayError> {
    ctx.data_opt::<Loaders>()
        .ok_or(GatewayError::Misconfigured("the schema has no loader"))
}

/// A calendar day, `YYYY-MM-DD` (ISO 8601).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

const DATE_FORMAT: &str = "%Y-%m-%d";

/// A calendar day, `YYYY-MM-DD` (ISO 8601).
#[Scalar(
    name = "Date",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, DATE_FORMAT)
                .map(Date)
                .map_err(|_| InputValueError::custom(format!("`{s}` is not a YYYY-MM-DD date"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(s) if NaiveDate::parse_from_str(s, DATE_FORMAT).is_ok())
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format(DATE_FORMAT).to_string())
    }
}

/// An instant: an RFC 3339 date-time in UTC, e.g. `2026-01-02T03:04:05Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An instant: an RFC 3339 date-time in UTC, e.g. `2026-01-02T03:04:05Z`.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| DateTime(t.with_timezone(&Utc)))
                .map_err(|_| {
                    InputValueError::custom(format!("`{s}` is not an RFC 3339 date-time"))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok())
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

fn instant(t: Option<chrono::DateTime<Utc>>) -> Option<DateTime> {
    t.map(DateTime)
}

/// An exact amount of money. `amount` is a decimal string (`"1200.50"`), never a float.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct Money {
    /// The amount, exact, with at least two decimals.
    pub amount: Decimal,
    /// ISO 4217 currency code, e.g. `USD`.
    pub currency: String,
}

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

/// How a sync run ended.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum SyncRunStatus {
    /// Still running.
    Running,
    /// Read the stream to its end.
    Succeeded,
    /// Stopped on an error; committed checkpoints stay.
    Failed,
    /// Its process disappeared before finishing.
    Abandoned,
    /// Stopped cleanly at its checkpoint because the vendor's quota is spent; resumes when the
    /// quota window rolls over (see `error` for the vendor's message).
    Paused,
}

impl SyncRunStatus {
    fn parse(s: &str) -> Option<Self> {
        use tributary_store::RunStatus as R;
        [R::Running, R::Succeeded, R::Failed, R::Abandoned, R::Paused]
            .into_iter()
            .find(|r| r.as_str() == s)
            .map(|r| match r {
                R::Running => SyncRunStatus::Running,
                R::Succeeded => SyncRunStatus::Succeeded,
                R::Failed => SyncRunStatus::Failed,
                R::Abandoned => SyncRunStatus::Abandoned,
                R::Paused => SyncRunStatus::Paused,
            })
    }
}

fn corrupt(table: &'static str, column: &str, value: &str) -> GatewayError {
    GatewayError::Corrupt {
        table,
        message: format!("unknown `{column}` value `{value}`"),
    }
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
            segment: f
                .segment
                .map(|s| tributary_model::Segment::from(s).as_str().to_owned()),
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

impl From<&external_ref::Model> for ExternalRef {
    fn from(m: &external_ref::Model) -> Self {
        ExternalRef {
            system: m.system.clone(),
            instance: m.instance.clone(),
            object: m.object.clone(),
            external_id: m.external_id.clone(),
        }
    }
}

async fn external_refs(ctx: &Context<'_>, id: Uuid) -> Result<Vec<ExternalRef>> {
    let refs = loaders::children(loaders(ctx)?, RefsOf(id)).await?;
    Ok(refs.iter().map(ExternalRef::from).collect())
}

/// A customer account, merged across systems.
pub struct Account {
    row: account::Model,
}

impl From<account::Model> for Account {
    fn from(row: account::Model) -> Self {
        Account { row }
    }
}

/// A customer account, merged across systems.
#[Object]
impl Account {
    /// Our id of the account.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// Primary web domain, lower-case, without scheme or `www.`.
    async fn domain(&self) -> Option<&str> {
        self.row.domain.as_deref()
    }

    /// Size band.
    async fn segment(&self) -> Result<Option<Segment>> {
        match self.row.segment.as_deref() {
            None => Ok(None),
            Some(s) => tributary_model::Segment::parse(s)
                .map(|s| Some(s.into()))
                .ok_or_else(|| corrupt("accounts", "segment", s).into()),
        }
    }

    /// Industry, as the source names it.
    async fn industry(&self) -> Option<&str> {
        self.row.industry.as_deref()
    }

    /// Sales region, as the source names it.
    async fn region(&self) -> Option<&str> {
        self.row.region.as_deref()
    }

    /// Owner (account manager), as the source names it.
    async fn owner(&self) -> Option<&str> {
        self.row.owner.as_deref()
    }

    /// Licensed seats, where known.
    async fn seats(&self) -> Option<i64> {
        self.row.seats
    }

    /// When the account was created in its source.
    async fn created_at(&self) -> Option<DateTime> {
        instant(self.row.created_at)
    }

    /// The source's last-modified time of the row we hold.
    async fn source_updated_at(&self) -> Option<DateTime> {
        instant(self.row.source_updated_at)
    }

    /// People of the account, by name.
    async fn people(&self, ctx: &Context<'_>) -> Result<Vec<Person>> {
        let rows = loaders::children(loaders(ctx)?, PeopleOf(self.row.id)).await?;
        Ok(rows.iter().cloned().map(Person::from).collect())
    }

    /// Subscriptions of the account, by start date.
    async fn subscriptions(&self, ctx: &Context<'_>) -> Result<Vec<Subscription>> {
        let rows = loaders::children(loaders(ctx)?, SubscriptionsOf(self.row.id)).await?;
        Ok(rows.iter().cloned().map(Subscription::from).collect())
    }

    /// Annual recurring revenue: the sum of the ARR of the subscriptions active on `asOf`
    /// (default: today, UTC). A subscription is active when its source does not call it
    /// ended or cancelled and `asOf` falls in `[startDate, endDate)`. Zero when none is active
    /// and all the account's subscriptions share one currency; null when the account has no
    /// subscription or active ones in several currencies (see `arrByCurrency`).
    async fn arr(&self, ctx: &Context<'_>, as_of: Option<Date>) -> Result<Option<Money>> {
        let rows = loaders::children(loaders(ctx)?, SubscriptionsOf(self.row.id)).await?;
        let by_currency = arr_by_currency(&rows, day(as_of))?;
        Ok(match by_currency.len() {
            1 => by_currency.into_iter().next(),
            0 => {
                let currencies: BTreeSet<&str> = rows.iter().map(|s| s.currency.as_str()).collect();
                match currencies.into_iter().collect::<Vec<_>>().as_slice() {
                    [only] => Some(Money {
                        amount: from_e4(0),
                        currency: (*only).to_owned(),
                    }),
                    _ => None,
                }
            }
            _ => None,
        })
    }

    /// ARR (as in `arr`) per currency, by currency code; empty when no subscription is active.
    async fn arr_by_currency(&self, ctx: &Context<'_>, as_of: Option<Date>) -> Result<Vec<Money>> {
        let rows = loaders::children(loaders(ctx)?, SubscriptionsOf(self.row.id)).await?;
        Ok(arr_by_currency(&rows, day(as_of))?)
    }

    /// The account's lines of the revenue ledger, by date, optionally between `from` and `to`
    /// (inclusive). The ledger also holds scheduled future changes (a contract ending without
    /// a renewal yet is a churn on its end date); pass `to` to see history only.
    async fn revenue_events(
        &self,
        ctx: &Context<'_>,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<Vec<RevenueEvent>> {
        let rows = loaders::children(loaders(ctx)?, RevenueEventsOf(self.row.id)).await?;
        Ok(rows
            .iter()
            .filter(|e| from.is_none_or(|f| e.event_date >= f.0))
            .filter(|e| to.is_none_or(|t| e.event_date <= t.0))
            .cloned()
            .map(RevenueEvent::from)
            .collect())
    }

    /// ARR on `asOf` (default: today, UTC) according to the revenue ledger, in the reporting
    /// currency: the `arrAfter` of the account's last ledger line on or before that day, zero
    /// before its first. Null when the account has no ledger lines. Unlike `arr`, which adds
    /// the contracts' own currencies, this is what finance reconciles.
    async fn ledger_arr(&self, ctx: &Context<'_>, as_of: Option<Date>) -> Result<Option<Money>> {
        let rows = loaders::children(loaders(ctx)?, RevenueEventsOf(self.row.id)).await?;
        let day = day(as_of);
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let last = rows.iter().rev().find(|e| e.event_date <= day);
        Ok(Some(Money {
            amount: from_e4(last.map_or(0, |e| e.arr_after_e4)),
            currency: last.unwrap_or(first).currency.clone(),
        }))
    }

    /// The source rows merged into this account.
    async fn external_refs(&self, ctx: &Context<'_>) -> Result<Vec<ExternalRef>> {
        external_refs(ctx, self.row.id).await
    }
}

fn day(as_of: Option<Date>) -> NaiveDate {
    as_of.map_or_else(|| Utc::now().date_naive(), |d| d.0)
}

/// Whether a subscription counts towards ARR on `day`.
fn is_active(s: &subscription::Model, day: NaiveDate) -> Result<bool, GatewayError> {
    use tributary_model::SubscriptionStatus as S;
    let status =
        S::parse(&s.status).ok_or_else(|| corrupt("subscriptions", "status", &s.status))?;
    Ok(matches!(status, S::Active | S::Pending)
        && S::on(s.start_date, s.end_date, day) == S::Active)
}

/// ARR of the subscriptions active on `day`, per currency, sorted by currency.
fn arr_by_currency(
    rows: &[subscription::Model],
    day: NaiveDate,
) -> Result<Vec<Money>, GatewayError> {
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for s in rows {
        if !is_active(s, day)? {
            continue;
        }
        let sum = sums.entry(s.currency.as_str()).or_default();
        *sum = sum
            .checked_add(s.arr_e4)
            .ok_or_else(|| GatewayError::Corrupt {
                table: "subscriptions",
                message: format!("ARR in {} overflows", s.currency),
            })?;
    }
    Ok(sums
        .into_iter()
        .map(|(currency, e4)| Money {
            amount: from_e4(e4),
            currency: currency.to_owned(),
        })
        .collect())
}

/// What a revenue event did to an account's ARR.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "tributary_model::RevenueEventKind")]
pub enum RevenueEventKind {
    /// The account's first ARR (or its return after churning).
    New,
    /// Contracts replaced at the same ARR.
    Renewal,
    /// ARR went up.
    Expansion,
    /// ARR went down but stayed above zero.
    Contraction,
    /// ARR went to zero.
    Churn,
}

/// One line of the revenue ledger: a change of an account's ARR, in the reporting currency.
/// Derived from the account's subscriptions after every sync; the deltas of an account sum to
/// its ARR.
pub struct RevenueEvent {
    row: revenue_event::Model,
}

impl From<revenue_event::Model> for RevenueEvent {
    fn from(row: revenue_event::Model) -> Self {
        RevenueEvent { row }
    }
}

/// One line of the revenue ledger: a change of an account's ARR, in the reporting currency.
#[Object]
impl RevenueEvent {
    /// Our id of the event.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// The account.
    async fn account_id(&self) -> Option<ID> {
        self.row.account_id.map(|id| ID(id.to_string()))
    }

    /// The day the change takes effect.
    async fn date(&self) -> Date {
        Date(self.row.event_date)
    }

    /// What happened.
    async fn kind(&self) -> Result<RevenueEventKind> {
        Ok(parse_kind("revenue_events", &self.row.kind)?)
    }

    /// Change of the account's ARR.
    async fn arr_delta(&self) -> Money {
        Money {
            amount: from_e4(self.row.arr_delta_e4),
            currency: self.row.currency.clone(),
        }
    }

    /// The account's ARR from this day on.
    async fn arr_after(&self) -> Money {
        Money {
            amount: from_e4(self.row.arr_after_e4),
            currency: self.row.currency.clone(),
        }
    }
}

/// A stored revenue-event kind (`new`, `renewal`…) as the API enum.
fn parse_kind(table: &'static str, s: &str) -> Result<RevenueEventKind, GatewayError> {
    Ok(match s {
        "new" => RevenueEventKind::New,
        "renewal" => RevenueEventKind::Renewal,
        "expansion" => RevenueEventKind::Expansion,
        "contraction" => RevenueEventKind::Contraction,
        "churn" => RevenueEventKind::Churn,
        other => return Err(corrupt(table, "kind", other)),
    })
}

/// The stored name of a revenue-event kind.
pub(crate) fn kind_name(kind: RevenueEventKind) -> &'static str {
    match kind {
        RevenueEventKind::New => "new",
        RevenueEventKind::Renewal => "renewal",
        RevenueEventKind::Expansion => "expansion",
        RevenueEventKind::Contraction => "contraction",
        RevenueEventKind::Churn => "churn",
    }
}

/// Which lines of the revenue ledger to return; all given conditions must hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct RevenueLedgerFilter {
    /// Events of this account only.
    pub account_id: Option<ID>,
    /// Events of these kinds only; empty or absent: every kind.
    pub kinds: Option<Vec<RevenueEventKind>>,
    /// Events on or after this day.
    pub from: Option<Date>,
    /// Events on or before this day.
    pub to: Option<Date>,
}

impl TryFrom<RevenueLedgerFilter> for tributary_store::RevenueEventFilter {
    type Error = GatewayError;

    fn try_from(f: RevenueLedgerFilter) -> Result<Self, GatewayError> {
        let account = match f.account_id {
            Some(id) => Some(Uuid::parse_str(id.as_str()).map_err(|_| {
                GatewayError::Validation(format!(
                    "`filter.accountId` is not an account id: `{}`",
                    id.as_str()
                ))
            })?),
            None => None,
        };
        if let (Some(from), Some(to)) = (f.from, f.to)
            && from.0 > to.0
        {
            return Err(GatewayError::Validation(format!(
                "`filter.from` ({}) is after `filter.to` ({})",
                from.0, to.0
            )));
        }
        Ok(tributary_store::RevenueEventFilter {
            account,
            kinds: f
                .kinds
                .unwrap_or_default()
                .into_iter()
                .map(|k| kind_name(k).to_owned())
                .collect(),
            from: f.from.map(|d| d.0),
            to: f.to.map(|d| d.0),
        })
    }
}

/// A person's part in the deal behind a subscription (Salesforce OpportunityContactRole,
/// HubSpot deal–contact association).
pub struct DealContact {
    row: crate::loaders::DealContactRow,
}

/// A person's part in the deal behind a subscription.
#[Object]
impl DealContact {
    /// The role as the CRM names it (`Decision Maker`, `Economic Buyer`…).
    async fn role(&self) -> Option<&str> {
        self.row.contact.role.as_deref()
    }

    /// Whether the CRM marks this person as the deal's primary contact.
    async fn primary(&self) -> bool {
        self.row.contact.is_primary
    }

    /// The person; null when the CRM's contact has not been synced (or was deleted).
    async fn person(&self) -> Option<Person> {
        self.row
            .person
            .clone()
            .filter(|p| p.deleted_at.is_none())
            .map(Person::from)
    }
}

/// A person: CRM contact, LMS learner, product user or ticket requester.
pub struct Person {
    row: person::Model,
}

impl From<person::Model> for Person {
    fn from(row: person::Model) -> Self {
        Person { row }
    }
}

/// A person: CRM contact, LMS learner, product user or ticket requester.
#[Object]
impl Person {
    /// Our id of the person.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// Full name.
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// Normalised (trimmed, lower-case) email address.
    async fn email(&self) -> Option<&str> {
        self.row.email.as_deref()
    }

    /// Job title, as the source names it.
    async fn title(&self) -> Option<&str> {
        self.row.title.as_deref()
    }

    /// Role at the account.
    async fn role(&self) -> Result<Option<PersonRole>> {
        match self.row.role.as_deref() {
            None => Ok(None),
            Some(r) => tributary_model::PersonRole::parse(r)
                .map(|r| Some(r.into()))
                .ok_or_else(|| corrupt("people", "role", r).into()),
        }
    }

    /// When a source first saw the person.
    async fn first_seen_at(&self) -> Option<DateTime> {
        instant(self.row.first_seen_at)
    }

    /// The source rows merged into this person.
    async fn external_refs(&self, ctx: &Context<'_>) -> Result<Vec<ExternalRef>> {
        external_refs(ctx, self.row.id).await
    }
}

/// A subscription of an account, derived from CRM opportunities or contracts.
pub struct Subscription {
    row: subscription::Model,
}

impl From<subscription::Model> for Subscription {
    fn from(row: subscription::Model) -> Self {
        Subscription { row }
    }
}

/// A subscription of an account, derived from CRM opportunities or contracts.
#[Object]
impl Subscription {
    /// Our id of the subscription.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// Product or plan name.
    async fn plan(&self) -> &str {
        &self.row.plan
    }

    /// First day of the term.
    async fn start_date(&self) -> Date {
        Date(self.row.start_date)
    }

    /// Day after the last day of the term (exclusive), when known.
    async fn end_date(&self) -> Option<Date> {
        self.row.end_date.map(Date)
    }

    /// Annual recurring revenue of the subscription.
    async fn arr(&self) -> Money {
        Money {
            amount: from_e4(self.row.arr_e4),
            currency: self.row.currency.clone(),
        }
    }

    /// Lifecycle status, as the source reports it.
    async fn status(&self) -> Result<SubscriptionStatus> {
        tributary_model::SubscriptionStatus::parse(&self.row.status)
            .map(Into::into)
            .ok_or_else(|| corrupt("subscriptions", "status", &self.row.status).into())
    }

    /// What the CRM calls this deal (new business, renewal, expansion…), read through the
    /// instance's field mapping from the opportunity type or deal type; null when the source
    /// does not say. The ledger's kinds come from ARR movements and may differ.
    async fn motion(&self) -> Result<Option<RevenueEventKind>> {
        Ok(self
            .row
            .motion
            .as_deref()
            .map(|m| parse_kind("subscriptions", m))
            .transpose()?)
    }

    /// The people on the deal behind this subscription, primary contact first.
    async fn contacts(&self, ctx: &Context<'_>) -> Result<Vec<DealContact>> {
        let rows = loaders::children(loaders(ctx)?, ContactsOf(self.row.id)).await?;
        Ok(rows
            .iter()
            .cloned()
            .map(|row| DealContact { row })
            .collect())
    }

    /// The source rows this subscription was derived from.
    async fn external_refs(&self, ctx: &Context<'_>) -> Result<Vec<ExternalRef>> {
        external_refs(ctx, self.row.id).await
    }
}

/// One run of one connector stream.
pub struct SyncRun {
    row: sync_run::Model,
}

impl From<sync_run::Model> for SyncRun {
    fn from(row: sync_run::Model) -> Self {
        SyncRun { row }
    }
}

/// One run of one connector stream.
#[Object]
impl SyncRun {
    /// Our id of the run.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// The connector instance, e.g. `hubspot-prod`.
    async fn connector(&self) -> &str {
        &self.row.connector
    }

    /// The stream, e.g. `companies`.
    async fn stream(&self) -> &str {
        &self.row.stream
    }

    /// The sync mode, e.g. `full_refresh` or `incremental`.
    async fn mode(&self) -> &str {
        &self.row.mode
    }

    /// How the run ended, or that it is still running.
    async fn status(&self) -> Result<SyncRunStatus> {
        SyncRunStatus::parse(&self.row.status)
            .ok_or_else(|| corrupt("sync_runs", "status", &self.row.status).into())
    }

    /// When the run started.
    async fn started_at(&self) -> DateTime {
        DateTime(self.row.started_at)
    }

    /// When the run finished; null while it runs.
    async fn finished_at(&self) -> Option<DateTime> {
        instant(self.row.finished_at)
    }

    /// Records the connector read.
    async fn records_read(&self) -> i64 {
        self.row.records_read
    }

    /// Records inserted or changed.
    async fn records_written(&self) -> i64 {
        self.row.records_written
    }

    /// Records set aside as unmappable (see `quarantine`).
    async fn records_quarantined(&self) -> i64 {
        self.row.records_quarantined
    }

    /// Records deleted because the source deleted them.
    async fn records_deleted(&self) -> i64 {
        self.row.records_deleted
    }

    /// The stream's cursor (connector-specific JSON) when the run started.
    async fn cursor_before(&self) -> Option<Json<&serde_json::Value>> {
        self.row.cursor_before.as_ref().map(Json)
    }

    /// The stream's cursor when the run ended.
    async fn cursor_after(&self) -> Option<Json<&serde_json::Value>> {
        self.row.cursor_after.as_ref().map(Json)
    }

    /// Why the run failed.
    async fn error(&self) -> Option<&str> {
        self.row.error.as_deref()
    }

    /// How the stream learns of deletions at the source: `native_feed` (the vendor lists
    /// them), `key_diff` (a full read's keys against the stored ones) or `none`.
    async fn delete_strategy(&self) -> Option<&str> {
        self.row.delete_strategy.as_deref()
    }

    /// The source's own count of what the run read (e.g. HubSpot search `total`, Salesforce
    /// `totalSize`), summed over the phases it counted; null when the source gave none.
    async fn source_count(&self) -> Option<i64> {
        self.row.source_count
    }

    /// How many records the connector read in the phases the source counted.
    async fn source_read(&self) -> Option<i64> {
        self.row.source_read
    }

    /// Whether everything the source counted was read: null when it counted nothing.
    async fn complete(&self) -> Option<bool> {
        Some(self.row.source_read? >= self.row.source_count?)
    }

    /// Problems that did not stop the run, loudest first (a completeness shortfall).
    async fn warnings(&self) -> Vec<String> {
        self.row
            .warnings
            .as_ref()
            .and_then(|w| serde_json::from_value(w.clone()).ok())
            .unwrap_or_default()
    }

    /// Fields whose type changed or that disappeared, found before the batch that showed
    /// them was loaded.
    async fn schema_drift(&self) -> Vec<SchemaDrift> {
        self.row
            .drift
            .as_ref()
            .and_then(|d| {
                serde_json::from_value::<Vec<tributary_store::SchemaDrift>>(d.clone()).ok()
            })
            .unwrap_or_default()
            .into_iter()
            .map(|d| SchemaDrift {
                field: d.field,
                old_type: d.old_type,
                new_type: d.new_type,
                policy: d.policy,
            })
            .collect()
    }
}

/// A field of a stream whose type changed or that disappeared (SPEC §6).
#[derive(SimpleObject, Clone, Debug)]
pub struct SchemaDrift {
    /// The field's path in the source's payload, dot-separated (`properties.amount`).
    pub field: String,
    /// Its JSON type before: string, number, boolean, object or array.
    pub old_type: String,
    /// Its JSON type now; null when it disappeared.
    pub new_type: Option<String>,
    /// What was done about it.
    pub policy: String,
}

/// A source record that could not be mapped, kept with its payload for inspection.
pub struct QuarantinedRecord {
    row: quarantine::Model,
}

impl From<quarantine::Model> for QuarantinedRecord {
    fn from(row: quarantine::Model) -> Self {
        QuarantinedRecord { row }
    }
}

/// A source record that could not be mapped, kept with its payload for inspection.
#[Object]
impl QuarantinedRecord {
    /// Our id of the entry.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// The run that set the record aside, when known.
    async fn sync_run_id(&self) -> Option<ID> {
        self.row.sync_run_id.map(|id| ID(id.to_string()))
    }

    /// The connector instance.
    async fn connector(&self) -> &str {
        &self.row.connector
    }

    /// The stream.
    async fn stream(&self) -> &str {
        &self.row.stream
    }

    /// The vendor's id of the record, when it had one.
    async fn external_id(&self) -> Option<&str> {
        self.row.external_id.as_deref()
    }

    /// Why the record was set aside.
    async fn reason(&self) -> &str {
        &self.row.reason
    }

    /// The record as the vendor sent it (usually JSON text).
    async fn payload(&self) -> &str {
        &self.row.payload
    }

    /// When the record was set aside.
    async fn created_at(&self) -> DateTime {
        DateTime(self.row.created_at)
    }
}

/// Relay page information.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct PageInfo {
    /// Whether an edge follows the last one.
    pub has_next_page: bool,
    /// Whether an edge precedes the first one. Exact for offset lists; keyset lists
    /// (`accounts`) say `false`, as Relay allows for forward pagination.
    pub has_previous_page: bool,
    /// Cursor of the first edge.
    pub start_cursor: Option<String>,
    /// Cursor of the last edge; pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// Defines a Relay connection type and its edge type over a node type.
macro_rules! connection {
    ($(#[$doc:meta])* $conn:ident, $edge:ident, $node:ty) => {
        $(#[$doc])*
        pub struct $conn {
            pub(crate) edges: Vec<$edge>,
            pub(crate) page_info: PageInfo,
            pub(crate) total_count: u64,
        }

        $(#[$doc])*
        #[Object]
        impl $conn {
            /// The page, with a cursor per node.
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }

            /// The page's nodes, for clients that need no cursors.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }

            /// Where this page sits in the list.
            async fn page_info(&self) -> &PageInfo {
                &self.page_info
            }

            /// Nodes matching the arguments, all pages together.
            async fn total_count(&self) -> u64 {
                self.total_count
            }
        }

        /// A node and its cursor.
        pub struct $edge {
            pub(crate) cursor: String,
            pub(crate) node: $node,
        }

        /// A node and its cursor.
        #[Object]
        impl $edge {
            /// Opaque; pass it as `after` to continue after this node.
            async fn cursor(&self) -> &str {
                &self.cursor
            }

            /// The node.
            async fn node(&self) -> &$node {
                &self.node
            }
        }
    };
}

connection!(
    /// A page of accounts, ordered by name then id.
    AccountConnection,
    AccountEdge,
    Account
);
connection!(
    /// A page of sync runs, newest first.
    SyncRunConnection,
    SyncRunEdge,
    SyncRun
);
connection!(
    /// A page of the revenue ledger, by date.
    RevenueEventConnection,
    RevenueEventEdge,
    RevenueEvent
);
connection!(
    /// A page of quarantined records, newest first.
    QuarantineConnection,
    QuarantineEdge,
    QuarantinedRecord
);

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(
        status: &str,
        start: &str,
        end: Option<&str>,
        arr_e4: i64,
        currency: &str,
    ) -> subscription::Model {
        let d = |s: &str| NaiveDate::parse_from_str(s, DATE_FORMAT).unwrap();
        subscription::Model {
            id: Uuid::now_v7(),
            source_updated_at: None,
            content_hash: String::new(),
            synced_at: Utc::now(),
            deleted_at: None,
            account_id: None,
            plan: "Pro".into(),
            start_date: d(start),
            end_date: end.map(d),
            arr_e4,
            currency: currency.into(),
            status: status.into(),
            motion: None,
        }
    }

    #[test]
    fn arr_sums_active_subscriptions_per_currency() {
        let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let rows = [
            sub(
                "active",
                "2026-01-01",
                Some("2027-01-01"),
                12_005_000,
                "USD",
            ),
            sub("active", "2026-01-01", None, 5_000, "USD"),
            // Not counted: ended by date, cancelled, not started, ended by the source.
            sub("active", "2025-01-01", Some("2026-01-01"), 1, "USD"),
            sub("cancelled", "2026-01-01", Some("2027-01-01"), 1, "USD"),
            sub("pending", "2026-07-01", Some("2027-07-01"), 1, "USD"),
            sub("ended", "2026-01-01", Some("2027-01-01"), 1, "USD"),
            // Counted: the source has not caught up with the start date.
            sub("pending", "2026-05-01", Some("2027-05-01"), 10_000, "EUR"),
        ];
        let got = arr_by_currency(&rows, day).unwrap();
        let got: Vec<(String, String)> = got
            .into_iter()
            .map(|m| (m.amount.to_string(), m.currency))
            .collect();
        assert_eq!(
            got,
            [
                ("1.00".to_owned(), "EUR".to_owned()),
                ("1201.00".to_owned(), "USD".to_owned())
            ]
        );
    }

    #[test]
    fn unknown_stored_status_is_an_internal_error() {
        let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let rows = [sub("zombie", "2026-01-01", None, 1, "USD")];
        let err = arr_by_currency(&rows, day).unwrap_err();
        assert_eq!(err.code(), "INTERNAL");
    }

    #[test]
    fn sync_run_statuses_map_from_the_store_names() {
        assert_eq!(
            SyncRunStatus::parse("succeeded"),
            Some(SyncRunStatus::Succeeded)
        );
        assert_eq!(
            SyncRunStatus::parse("abandoned"),
            Some(SyncRunStatus::Abandoned)
        );
        assert_eq!(SyncRunStatus::parse("Succeeded"), None);
    }

    #[test]
    fn filter_domains_are_normalised() {
        let f: tributary_store::AccountFilter = AccountFilter {
            domain: Some("https://www.Acme.com/pricing".into()),
            segment: Some(Segment::MidMarket),
            ..Default::default()
        }
        .into();
        assert_eq!(f.domain.as_deref(), Some("acme.com"));
        assert_eq!(f.segment.as_deref(), Some("mid_market"));
    }
}

/// A connector instance as the workers schedule it.
pub struct ConnectorStatus {
    row: tributary_store::entities::sync_lease::Model,
    last_runs: Vec<sync_run::Model>,
}

impl ConnectorStatus {
    /// Wraps a schedule row and the connector's latest run per stream.
    pub fn new(
        row: tributary_store::entities::sync_lease::Model,
        last_runs: Vec<sync_run::Model>,
    ) -> Self {
        ConnectorStatus { row, last_runs }
    }
}

/// A connector instance as the workers schedule it.
#[Object]
impl ConnectorStatus {
    /// The instance name from `tributary.toml`.
    async fn name(&self) -> &str {
        &self.row.connector
    }

    /// The vendor kind, e.g. `hubspot`.
    async fn kind(&self) -> Option<&str> {
        self.row.kind.as_deref()
    }

    /// When its next scheduled run is due.
    async fn next_run_at(&self) -> DateTime {
        DateTime(self.row.next_run_at)
    }

    /// The worker running it now, if any (its lease may have expired: see `leaseExpiresAt`).
    async fn running_on(&self) -> Option<&str> {
        self.row.holder.as_deref()
    }

    /// When the current worker's lease expires unless renewed.
    async fn lease_expires_at(&self) -> Option<DateTime> {
        instant(self.row.expires_at)
    }

    /// Whether a full refresh was asked for and has not run yet.
    async fn full_refresh_requested(&self) -> bool {
        self.row.full_refresh_requested
    }

    /// The latest run of each stream.
    async fn last_runs(&self) -> Vec<SyncRun> {
        self.last_runs.iter().cloned().map(SyncRun::from).collect()
    }
}

/// What `triggerSync` did.
#[derive(async_graphql::SimpleObject)]
pub struct TriggerSyncPayload {
    /// The connector.
    pub connector: String,
    /// Whether the run will be a full refresh.
    pub full_refresh: bool,
    /// The connector's status after the request.
    pub status: ConnectorStatus,
}
