//! The revenue domain: the stored revenue ledger, the ARR bridge finance reconciles with, and
//! an account's ARR according to the ledger. The bridge and ledger ARR are computed by
//! `tributary_analytics::bridge`; this module only reads the lines and presents the result.

use super::store;
use crate::auth;
use crate::error::GatewayError;
use crate::loaders::ChildrenOf;
use crate::paging::{
    DEFAULT_PAGE_SIZE, connection, offset_after, page_complexity, page_size, wants_total,
};
use crate::prefetch::{self, Prefetched};
use crate::scalars::{Date, Money};
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use tributary_analytics::bridge::{self, LedgerLine};
use tributary_store::RevenueEventRow;
use uuid::Uuid;

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
pub struct RevenueEvent(RevenueEventRow);

impl From<RevenueEventRow> for RevenueEvent {
    fn from(row: RevenueEventRow) -> Self {
        RevenueEvent(row)
    }
}

/// One line of the revenue ledger: a change of an account's ARR, in the reporting currency.
#[Object]
impl RevenueEvent {
    /// Our id of the event.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The account.
    async fn account_id(&self) -> Option<ID> {
        self.0.account_id.map(|id| ID(id.to_string()))
    }

    /// The day the change takes effect.
    async fn date(&self) -> Date {
        Date(self.0.date)
    }

    /// What happened.
    async fn kind(&self) -> RevenueEventKind {
        self.0.kind.into()
    }

    /// Change of the account's ARR.
    async fn arr_delta(&self) -> Money {
        Money::from(&self.0.arr_delta)
    }

    /// The account's ARR from this day on.
    async fn arr_after(&self) -> Money {
        Money::from(&self.0.arr_after)
    }

    /// The change in the contracts' own currency, before conversion (what the contracts
    /// started on this day add, less what those ended take away); null when they are in
    /// several currencies.
    async fn original_delta(&self) -> Option<Money> {
        self.0.original_delta.as_ref().map(Money::from)
    }

    /// The exchange rate that converted this day's contracts into the reporting currency,
    /// and the day it is effective from; null when several rates contributed (a contract
    /// booked at an older rate ends the day one booked at a newer rate starts).
    async fn fx(&self) -> Option<FxConversion> {
        self.0.fx.map(Into::into)
    }
}

/// Which way an exchange rate is quoted.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "tributary_model::FxQuote")]
pub enum FxQuote {
    /// Units of the reporting currency per unit of the contract's currency: amounts are
    /// multiplied by the rate.
    Multiply,
    /// Units of the contract's currency per unit of the reporting currency (Salesforce's
    /// `DatedConversionRate`): amounts are divided by the rate.
    Divide,
}

/// How contracts were converted into the reporting currency: each contract's ARR at the rate
/// effective on its start date, exactly; the account's ARR is then rounded to the cent.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct FxConversion {
    /// The rate, as quoted.
    pub rate: Decimal,
    /// Whether amounts are multiplied or divided by `rate`.
    pub quote: FxQuote,
    /// The day the rate is effective from (the latest dated rate on or before the contract's
    /// start); null for contracts already in the reporting currency, which convert at 1.
    pub rate_date: Option<Date>,
}

impl From<tributary_model::FxConversion> for FxConversion {
    fn from(f: tributary_model::FxConversion) -> Self {
        FxConversion {
            rate: f.rate.normalize(),
            quote: f.quote.into(),
            rate_date: f.rate_date.map(Date),
        }
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
                .map(Into::into)
                .collect(),
            from: f.from.map(|d| d.0),
            to: f.to.map(|d| d.0),
        })
    }
}

connection!(
    /// A page of the revenue ledger, by date.
    RevenueEventConnection,
    RevenueEventEdge,
    RevenueEvent
);

/// The movement of one kind of revenue event over the bridge's period.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct BridgeMovement {
    /// The kind.
    pub kind: RevenueEventKind,
    /// Lines of this kind in the period.
    pub events: u64,
    /// Their summed ARR change (negative for contraction and churn).
    pub arr_delta: Money,
}

/// An account whose movements do not explain its ARR change.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct BridgeDifference {
    /// The account.
    pub account_id: ID,
    /// Its ARR on the opening day.
    pub opening_arr: Money,
    /// Its ARR on the closing day.
    pub closing_arr: Money,
    /// The sum of its movements in between.
    pub movement: Money,
}

/// The ARR bridge from `from` to `to`: ARR on the opening day, every movement dated after it
/// up to and including the closing day, and ARR on the closing day.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct RevenueBridge {
    /// Opening day (ARR at the end of it).
    pub from: Date,
    /// Closing day (ARR at the end of it).
    pub to: Date,
    /// Total ARR on `from`.
    pub opening_arr: Money,
    /// Movements by kind, in the order new, renewal, expansion, contraction, churn.
    pub movements: Vec<BridgeMovement>,
    /// Total ARR on `to`.
    pub closing_arr: Money,
    /// `closingArr − openingArr − Σ movements`; zero when the ledger reconciles.
    pub difference: Money,
    /// Whether the total and every account reconcile exactly.
    pub reconciled: bool,
    /// Accounts that do not reconcile (at most 100).
    pub differences: Vec<BridgeDifference>,
}

/// Most differing accounts listed.
const MAX_DIFFERENCES: usize = 100;

impl From<bridge::Bridge> for RevenueBridge {
    fn from(b: bridge::Bridge) -> Self {
        let r = &b.report;
        let money = |amount| Money::new(amount, &b.currency);
        RevenueBridge {
            from: Date(r.from),
            to: Date(r.to),
            opening_arr: money(r.opening_arr),
            movements: tributary_model::RevenueEventKind::ALL
                .into_iter()
                .map(|kind| {
                    let m = r.by_kind.get(kind.as_str()).cloned().unwrap_or_default();
                    BridgeMovement {
                        kind: kind.into(),
                        events: m.events as u64,
                        arr_delta: money(m.arr_delta),
                    }
                })
                .collect(),
            closing_arr: money(r.closing_arr),
            difference: money(r.total_difference()),
            reconciled: r.is_reconciled(),
            differences: r
                .differences
                .iter()
                .take(MAX_DIFFERENCES)
                .map(|d| BridgeDifference {
                    account_id: ID(d.account.clone()),
                    opening_arr: money(d.opening_arr),
                    closing_arr: money(d.closing_arr),
                    movement: money(d.movement),
                })
                .collect(),
        }
    }
}

/// A stored ledger line as analytics takes it; lines without an account share the empty key.
fn line(row: &RevenueEventRow) -> LedgerLine {
    LedgerLine {
        account: row.account_id.map(|id| id.to_string()).unwrap_or_default(),
        date: row.date,
        kind: row.kind,
        arr_delta: row.arr_delta.clone(),
        arr_after: row.arr_after.clone(),
    }
}

/// The ledger lines of account `id`, prefetched or batched.
async fn lines_of(
    ctx: &Context<'_>,
    pre: Option<&Prefetched>,
    id: Uuid,
) -> Result<std::sync::Arc<[RevenueEventRow]>> {
    Ok(prefetch::children(ctx, pre, id, ChildrenOf::<RevenueEventRow>::new(id)).await?)
}

/// `Account.revenueEvents`: the account's ledger lines between `from` and `to`, inclusive.
pub(crate) async fn account_revenue_events(
    ctx: &Context<'_>,
    pre: Option<&Prefetched>,
    account: Uuid,
    from: Option<Date>,
    to: Option<Date>,
) -> Result<Vec<RevenueEvent>> {
    let rows = lines_of(ctx, pre, account).await?;
    Ok(rows
        .iter()
        .filter(|e| from.is_none_or(|f| e.date >= f.0))
        .filter(|e| to.is_none_or(|t| e.date <= t.0))
        .cloned()
        .map(RevenueEvent)
        .collect())
}

/// `Account.ledgerArr`: the account's ARR on `day` according to its ledger lines.
pub(crate) async fn account_ledger_arr(
    ctx: &Context<'_>,
    pre: Option<&Prefetched>,
    account: Uuid,
    day: NaiveDate,
) -> Result<Option<Money>> {
    let rows = lines_of(ctx, pre, account).await?;
    let lines: Vec<LedgerLine> = rows.iter().map(line).collect();
    Ok(bridge::arr_on(&lines, day).as_ref().map(Money::from))
}

const REVENUE_LEDGER: &str = "revenueLedger";

/// The revenue domain's queries.
#[derive(Default, Debug, Clone, Copy)]
pub struct RevenueQuery;

#[Object]
impl RevenueQuery {
    /// The revenue ledger finance reconciles against: every change of ARR (new, renewal,
    /// expansion, contraction, churn) in the reporting currency, by date then account,
    /// filtered by account, kinds and dates. Derived from subscriptions after every sync; an
    /// account's deltas sum to its ARR. Scheduled future changes are included (a contract
    /// ending without a renewal yet is a churn on its end date); filter `to` for history.
    ///
    /// Needs role finance or admin (otherwise null, with a `FORBIDDEN` error).
    #[graphql(
        complexity = "page_complexity(first, child_complexity)",
        guard = "auth::REVENUE"
    )]
    async fn revenue_ledger(
        &self,
        ctx: &Context<'_>,
        filter: Option<RevenueLedgerFilter>,
        #[graphql(default_with = "Some(DEFAULT_PAGE_SIZE)")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<RevenueEventConnection>> {
        let first = page_size(first)?;
        let offset = offset_after(REVENUE_LEDGER, after.as_deref())?;
        let filter: tributary_store::RevenueEventFilter = filter.unwrap_or_default().try_into()?;
        let (rows, total) = store(ctx)?
            .revenue_events(&filter, offset, first, wants_total(ctx, true))
            .await
            .map_err(GatewayError::from)?;
        Ok(Some(RevenueEventConnection::from_offset_page(
            REVENUE_LEDGER,
            offset,
            rows,
            total,
        )))
    }

    /// The ARR bridge finance reconciles with, from the stored ledger: ARR at the end of
    /// `from`, every movement (new, renewal, expansion, contraction, churn) dated after it up
    /// to `to`, and ARR at the end of `to`, in the reporting currency, with the accounts whose
    /// movements do not explain their ARR change. Optionally of one account. Null when the
    /// ledger has no lines up to `to`.
    ///
    /// Needs role finance or admin (otherwise null, with a `FORBIDDEN` error).
    #[graphql(guard = "auth::REVENUE")]
    async fn revenue_bridge(
        &self,
        ctx: &Context<'_>,
        from: Date,
        to: Date,
        account_id: Option<ID>,
    ) -> Result<Option<RevenueBridge>> {
        if from.0 > to.0 {
            return Err(GatewayError::Validation(format!(
                "`from` ({}) is after `to` ({})",
                from.0, to.0
            ))
            .into());
        }
        let filter: tributary_store::RevenueEventFilter = RevenueLedgerFilter {
            account_id,
            to: Some(to),
            ..RevenueLedgerFilter::default()
        }
        .try_into()?;
        let rows = store(ctx)?
            .all_revenue_events(&filter)
            .await
            .map_err(GatewayError::from)?;
        // Folding the whole ledger is CPU work: it runs off the async workers (a request
        // holds one of the few expensive-field permits meanwhile, see `checks`).
        let (from, to) = (from.0, to.0);
        let bridge = tokio::task::spawn_blocking(move || {
            let lines: Vec<LedgerLine> = rows.iter().map(line).collect();
            bridge::bridge(&lines, from, to)
        })
        .await
        .map_err(|_| GatewayError::Misconfigured("the ARR bridge computation stopped"))?
        .map_err(GatewayError::from)?;
        Ok(bridge.map(Into::into))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_model::Currency;

    fn row(account: u128, date: &str, kind: &str, delta: i64, after: i64) -> RevenueEventRow {
        let usd = |n: i64| tributary_model::Money::new(Decimal::new(n, 2), Currency::usd());
        RevenueEventRow {
            id: Uuid::now_v7(),
            account_id: Some(Uuid::from_u128(account)),
            subscription_id: None,
            date: NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(),
            kind: tributary_model::RevenueEventKind::parse(kind).unwrap(),
            arr_delta: usd(delta),
            arr_after: usd(after),
            original_delta: None,
            fx: None,
        }
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_bridge_is_presented_in_kind_order_with_stored_amounts() {
        let rows = [
            row(1, "2024-01-01", "new", 100, 100),
            row(2, "2024-06-01", "new", 50, 50),
            row(1, "2025-01-01", "expansion", 20, 120),
            row(2, "2025-06-01", "churn", -50, 0),
            row(1, "2026-01-01", "renewal", 0, 120),
        ];
        let lines: Vec<LedgerLine> = rows.iter().map(line).collect();
        let b: RevenueBridge = bridge::bridge(&lines, d("2024-12-31"), d("2026-06-30"))
            .unwrap()
            .unwrap()
            .into();
        assert!(b.reconciled, "{b:?}");
        assert_eq!(b.opening_arr.amount.to_string(), "1.50");
        assert_eq!(b.closing_arr.amount.to_string(), "1.20");
        assert_eq!(b.difference.amount.to_string(), "0.00");
        let m: Vec<(RevenueEventKind, u64, String)> = b
            .movements
            .iter()
            .map(|m| (m.kind, m.events, m.arr_delta.amount.to_string()))
            .collect();
        assert_eq!(
            m,
            [
                (RevenueEventKind::New, 0, "0.00".to_owned()),
                (RevenueEventKind::Renewal, 1, "0.00".to_owned()),
                (RevenueEventKind::Expansion, 1, "0.20".to_owned()),
                (RevenueEventKind::Contraction, 0, "0.00".to_owned()),
                (RevenueEventKind::Churn, 1, "-0.50".to_owned()),
            ]
        );
    }

    #[test]
    fn a_lost_line_names_its_account() {
        let rows = [
            row(1, "2024-01-01", "new", 100, 100),
            row(1, "2026-01-01", "renewal", 0, 120),
            row(2, "2024-01-01", "new", 10, 10),
        ];
        let lines: Vec<LedgerLine> = rows.iter().map(line).collect();
        let b: RevenueBridge = bridge::bridge(&lines, d("2024-12-31"), d("2026-06-30"))
            .unwrap()
            .unwrap()
            .into();
        assert!(!b.reconciled);
        assert_eq!(b.difference.amount.to_string(), "0.20");
        assert_eq!(b.differences.len(), 1);
        assert_eq!(
            b.differences[0].account_id.as_str(),
            Uuid::from_u128(1).to_string()
        );
    }
}
