//! The revenue domain: the stored revenue ledger (derived from subscriptions after every
//! sync) and the dated FX rates synced from a CRM.

use super::{child, corrupt, currency_of, decode, money};
use crate::entities::{fx_rate, revenue_event};
use crate::{Store, StoreError};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::str::FromStr;
use tributary_model::{Currency, FxConversion, FxQuote, Money, RevenueEventKind};
use uuid::Uuid;

/// One live line of the revenue ledger: a change of an account's ARR, in the reporting
/// currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueEventRow {
    /// Our id.
    pub id: Uuid,
    /// The account.
    pub account_id: Option<Uuid>,
    /// The subscription the line came from, when known.
    pub subscription_id: Option<Uuid>,
    /// The day the change takes effect.
    pub date: NaiveDate,
    /// What happened.
    pub kind: RevenueEventKind,
    /// Change of the account's ARR.
    pub arr_delta: Money,
    /// The account's ARR from this day on.
    pub arr_after: Money,
    /// The change in the contracts' own currency, when they share one.
    pub original_delta: Option<Money>,
    /// The rate that converted the contracts, when they share one.
    pub fx: Option<FxConversion>,
}

impl TryFrom<revenue_event::Model> for RevenueEventRow {
    type Error = StoreError;

    fn try_from(m: revenue_event::Model) -> Result<Self, StoreError> {
        const T: &str = "revenue_events";
        Ok(RevenueEventRow {
            kind: decode(T, "kind", &m.kind, RevenueEventKind::parse)?,
            arr_delta: money(T, m.arr_delta_e4, &m.currency)?,
            arr_after: money(T, m.arr_after_e4, &m.currency)?,
            original_delta: match (m.original_delta_e4, m.original_currency.as_deref()) {
                (Some(e4), Some(currency)) => Some(money(T, e4, currency)?),
                _ => None,
            },
            fx: match (m.fx_rate.as_deref(), m.fx_quote.as_deref()) {
                (Some(rate), Some(quote)) => Some(FxConversion {
                    rate: Decimal::from_str(rate).map_err(|_| corrupt(T, "fx_rate", rate))?,
                    quote: decode(T, "fx_quote", quote, FxQuote::parse)?,
                    rate_date: m.fx_rate_date,
                }),
                _ => None,
            },
            id: m.id,
            account_id: m.account_id,
            subscription_id: m.subscription_id,
            date: m.event_date,
        })
    }
}

child!(
    RevenueEventRow,
    "revenue events of accounts",
    revenue_event,
    AccountId,
    |r| r.account_id,
    revenue_event::Entity::find()
        .filter(revenue_event::Column::DeletedAt.is_null())
        .order_by_asc(revenue_event::Column::EventDate)
        .order_by_asc(revenue_event::Column::Id)
);

/// Filters on the revenue ledger; all given conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct RevenueEventFilter {
    /// Events of this account only.
    pub account: Option<Uuid>,
    /// Events of these kinds only; empty: every kind.
    pub kinds: Vec<RevenueEventKind>,
    /// Events on or after this day.
    pub from: Option<NaiveDate>,
    /// Events on or before this day.
    pub to: Option<NaiveDate>,
}

/// A live dated exchange rate synced from a source: from `start_date` on, one unit of `base`
/// is worth `rate` units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxRateRow {
    /// The currency rates are quoted against.
    pub base: Currency,
    /// The currency quoted.
    pub currency: Currency,
    /// First day the rate applies.
    pub start_date: NaiveDate,
    /// Units of `currency` per unit of `base`, exact.
    pub rate: Decimal,
}

impl TryFrom<fx_rate::Model> for FxRateRow {
    type Error = StoreError;

    fn try_from(m: fx_rate::Model) -> Result<Self, StoreError> {
        const T: &str = "fx_rates";
        Ok(FxRateRow {
            base: currency_of(T, &m.base)?,
            currency: currency_of(T, &m.currency)?,
            start_date: m.start_date,
            rate: Decimal::from_str(&m.rate).map_err(|_| corrupt(T, "rate", &m.rate))?,
        })
    }
}

impl Store {
    /// Live revenue events matching `filter`, by date, account and id; `offset`/`limit` page
    /// through them. With `count`, also how many match in all (one more query).
    pub async fn revenue_events(
        &self,
        filter: &RevenueEventFilter,
        offset: u64,
        limit: u64,
        count: bool,
    ) -> Result<(Vec<RevenueEventRow>, Option<u64>), StoreError> {
        let q = revenue_event_query(filter);
        let total = self.count_if(count, &q).await?;
        let rows = q
            .offset(super::sql_count(offset))
            .limit(super::sql_count(limit))
            .all(self.db())
            .await?;
        Ok((decode_all(rows)?, total))
    }

    /// Every live revenue event matching `filter`, by date, account and id.
    pub async fn all_revenue_events(
        &self,
        filter: &RevenueEventFilter,
    ) -> Result<Vec<RevenueEventRow>, StoreError> {
        decode_all(revenue_event_query(filter).all(self.db()).await?)
    }

    /// Live synced exchange rates quoted against `base`, by currency and start date.
    pub async fn fx_rates(&self, base: &Currency) -> Result<Vec<FxRateRow>, StoreError> {
        fx_rate::Entity::find()
            .filter(fx_rate::Column::DeletedAt.is_null())
            .filter(fx_rate::Column::Base.eq(base.as_str()))
            .order_by_asc(fx_rate::Column::Currency)
            .order_by_asc(fx_rate::Column::StartDate)
            .order_by_asc(fx_rate::Column::Id)
            .all(self.db())
            .await?
            .into_iter()
            .map(FxRateRow::try_from)
            .collect()
    }
}

fn decode_all(rows: Vec<revenue_event::Model>) -> Result<Vec<RevenueEventRow>, StoreError> {
    rows.into_iter().map(RevenueEventRow::try_from).collect()
}

/// The ordered query of the live revenue events matching `filter`.
fn revenue_event_query(filter: &RevenueEventFilter) -> sea_orm::Select<revenue_event::Entity> {
    let mut q = revenue_event::Entity::find().filter(revenue_event::Column::DeletedAt.is_null());
    if let Some(a) = filter.account {
        q = q.filter(revenue_event::Column::AccountId.eq(a));
    }
    if !filter.kinds.is_empty() {
        q = q.filter(revenue_event::Column::Kind.is_in(filter.kinds.iter().map(|k| k.as_str())));
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
