//! The revenue ledger as the generator's own contract history gives it, and the money checks
//! every amount the API shows must pass.
//!
//! [`generator_ledger`] is computed here from the simulated company's won deals alone — each
//! deal's term, ARR, currency and motion (new business, renewal, expansion, contraction,
//! add-on) — with none of Tributary's ledger code: an account's ARR on a day is the exact sum
//! of its running deals' converted ARR, shown in whole cents (half away from zero); a line is
//! written on every day a deal starts (its kind is the deal's motion) and on the day the last
//! deal ends (a churn). The end-to-end tests compare the ledger served over GraphQL with it,
//! line by line, in cents.

#![allow(dead_code)] // each test binary uses its own part

use anyhow::{Context, Result, ensure};
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;
use std::collections::BTreeMap;
use tributary_sim::{Company, DealMotion, SimDeal};

/// How one deal's ARR is converted into USD, as the test expects the ledger to do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    /// The ARR in USD, exact.
    pub usd: Decimal,
    /// The rate as quoted.
    pub rate: Decimal,
    /// `MULTIPLY` or `DIVIDE`, as GraphQL names the quote.
    pub quote: &'static str,
    /// The day the rate is effective from; `None` for USD.
    pub rate_date: Option<NaiveDate>,
}

/// The simulator's fixed rates (USD per unit), effective from 2000-01-01 as the demo loads
/// them.
pub fn simulator_rates(deal: &SimDeal) -> Conversion {
    let table = tributary_sim::FxTable::simulator();
    let code = deal.currency.as_str();
    if code == table.reporting_currency {
        return Conversion {
            usd: deal.arr(),
            rate: Decimal::ONE,
            quote: "MULTIPLY",
            rate_date: None,
        };
    }
    let rate = table.rates[code];
    Conversion {
        usd: deal.arr() * rate,
        rate,
        quote: "MULTIPLY",
        rate_date: NaiveDate::from_ymd_opt(2000, 1, 1),
    }
}

/// One line of the ledger: amounts in cents.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Line {
    /// The generator's account id (HubSpot's company id); empty when not compared.
    pub account: String,
    /// The day the change takes effect.
    pub date: NaiveDate,
    /// `NEW`, `RENEWAL`, `EXPANSION`, `CONTRACTION` or `CHURN`.
    pub kind: String,
    /// Change of the account's ARR, USD cents.
    pub delta_cents: i64,
    /// The account's ARR afterwards, USD cents.
    pub after_cents: i64,
    /// The change in the deals' own currency: (currency, cents).
    pub original: Option<(String, i64)>,
    /// The rate that converted the day's deals: (rate, quote, effective day).
    pub fx: Option<(Decimal, String, Option<NaiveDate>)>,
}

/// `amount` in cents, rounded half away from zero.
fn cents(amount: Decimal) -> i64 {
    let c = (amount * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(c).expect("cents fit in i64")
}

/// An amount that is a whole number of cents, in cents.
fn exact_cents(amount: Decimal) -> i64 {
    let c = amount * Decimal::ONE_HUNDRED;
    assert!(
        c.fract().is_zero(),
        "{amount} is not a whole number of cents"
    );
    i64::try_from(c.trunc()).expect("cents fit in i64")
}

fn kind_of(motion: DealMotion) -> &'static str {
    match motion {
        DealMotion::NewBusiness => "NEW",
        DealMotion::Renewal => "RENEWAL",
        DealMotion::Expansion | DealMotion::AddOn => "EXPANSION",
        DealMotion::Contraction => "CONTRACTION",
    }
}

/// Where a line's kind comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kinds {
    /// The motion of the deal starting on the day (fixed rates: a flat renewal is flat in
    /// USD too).
    Motions,
    /// The movement of the account's ARR in USD cents (dated rates: a flat renewal booked at
    /// a newer rate moves ARR in USD).
    UsdMovement,
}

/// The ledger the generator's won deals that `keep` accepts give, converted by `convert`,
/// sorted by account, date.
pub fn generator_ledger(
    company: &Company,
    keep: impl Fn(&SimDeal) -> bool,
    convert: impl Fn(&SimDeal) -> Conversion,
    kinds: Kinds,
) -> Vec<Line> {
    #[derive(Default)]
    struct Day<'a> {
        delta: Decimal,
        started: Vec<&'a SimDeal>,
        ended: Vec<&'a SimDeal>,
    }
    let mut accounts: BTreeMap<&str, BTreeMap<NaiveDate, Day<'_>>> = BTreeMap::new();
    for d in company.expected_closed_won_deals().filter(|d| keep(d)) {
        let days = accounts
            .entry(company.accounts[d.account].id.as_str())
            .or_default();
        let usd = convert(d).usd;
        let start = days.entry(d.start_date()).or_default();
        start.delta += usd;
        start.started.push(d);
        let end = days.entry(d.end_date()).or_default();
        end.delta -= usd;
        end.ended.push(d);
    }
    let mut out = Vec::new();
    for (account, days) in accounts {
        let (mut exact, mut shown) = (Decimal::ZERO, 0i64);
        for (date, day) in days {
            exact += day.delta;
            let before = shown;
            shown = cents(exact);
            let kind = if let Some(first) = day.started.first() {
                if before == 0 {
                    "NEW"
                } else if kinds == Kinds::UsdMovement {
                    match shown.cmp(&before) {
                        std::cmp::Ordering::Greater => "EXPANSION",
                        std::cmp::Ordering::Less if shown == 0 => "CHURN",
                        std::cmp::Ordering::Less => "CONTRACTION",
                        std::cmp::Ordering::Equal => "RENEWAL",
                    }
                } else {
                    // An add-on and a renewal never start on the same day in the generator.
                    assert!(
                        day.started.iter().all(|d| d.motion == first.motion),
                        "{account} {date}: several motions start"
                    );
                    kind_of(first.motion)
                }
            } else if shown == 0 {
                "CHURN"
            } else if shown == before {
                continue;
            } else {
                panic!("{account} {date}: ARR moves without a deal starting or the last ending")
            };
            let involved = || day.started.iter().chain(&day.ended);
            let currency = day
                .started
                .iter()
                .chain(&day.ended)
                .next()
                .map(|d| &d.currency);
            let original = involved()
                .all(|d| Some(&d.currency) == currency)
                .then(|| {
                    let started: Decimal = day.started.iter().map(|d| d.arr()).sum();
                    let ended: Decimal = day.ended.iter().map(|d| d.arr()).sum();
                    currency.map(|c| (c.to_string(), exact_cents(started - ended)))
                })
                .flatten();
            let first = involved().next().map(|d| convert(d));
            let fx = first
                .filter(|f| {
                    involved().all(|d| {
                        let c = convert(d);
                        (c.rate, c.quote, c.rate_date) == (f.rate, f.quote, f.rate_date)
                    })
                })
                .map(|f| (f.rate, f.quote.to_owned(), f.rate_date));
            out.push(Line {
                account: account.to_owned(),
                date,
                kind: kind.to_owned(),
                delta_cents: shown - before,
                after_cents: shown,
                original,
                fx,
            });
        }
    }
    out
}

/// The decimals of a currency's minor unit, for the currencies the simulator uses.
fn minor_units(currency: &str) -> Option<usize> {
    match currency {
        "USD" | "EUR" | "GBP" => Some(2),
        "JPY" => Some(0),
        _ => None,
    }
}

/// A Money amount as GraphQL wrote it, in minor units; an error unless it is a string with
/// exactly the currency's minor-unit decimals (`"1200.00"`, not `"1200"`, `"1200.0"` or
/// `"1200.004"`).
pub fn minor_amount(money: &Value) -> Result<i64> {
    let currency = money["currency"].as_str().context("currency")?;
    let amount = money["amount"].as_str().context("amount is a string")?;
    let dp = minor_units(currency).with_context(|| format!("unexpected currency {currency}"))?;
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    ensure!(
        fraction.len() == dp && fraction.bytes().all(|b| b.is_ascii_digit()),
        "{amount} {currency} does not have exactly {dp} decimals"
    );
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    ensure!(
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
        "{amount} {currency} is not a decimal"
    );
    let minor: i64 = format!("{digits}{fraction}").parse()?;
    Ok(if whole.starts_with('-') {
        -minor
    } else {
        minor
    })
}

/// Walks a GraphQL response and checks every Money in it (an object with `amount` and
/// `currency`) with [`minor_amount`]; returns how many it checked.
pub fn check_every_money(value: &Value) -> Result<usize> {
    match value {
        Value::Object(map) if map.contains_key("amount") && map.contains_key("currency") => {
            minor_amount(value)?;
            Ok(1)
        }
        Value::Object(map) => map.values().map(check_every_money).sum(),
        Value::Array(items) => items.iter().map(check_every_money).sum(),
        _ => Ok(0),
    }
}

/// A served ledger node (`accountId date kind arrDelta arrAfter originalDelta fx`) as a
/// [`Line`], its account named by `account`.
pub fn served_line(node: &Value, account: String) -> Result<Line> {
    ensure!(node["arrDelta"]["currency"] == "USD", "{node}");
    ensure!(node["arrAfter"]["currency"] == "USD", "{node}");
    let original = match &node["originalDelta"] {
        Value::Null => None,
        m => Some((
            m["currency"].as_str().context("currency")?.to_owned(),
            minor_amount(m)?,
        )),
    };
    let fx = match &node["fx"] {
        Value::Null => None,
        f => Some((
            f["rate"]
                .as_str()
                .context("rate is a decimal string")?
                .parse::<Decimal>()?,
            f["quote"].as_str().context("quote")?.to_owned(),
            match &f["rateDate"] {
                Value::Null => None,
                d => Some(d.as_str().context("rateDate")?.parse()?),
            },
        )),
    };
    Ok(Line {
        account,
        date: node["date"].as_str().context("date")?.parse()?,
        kind: node["kind"].as_str().context("kind")?.to_owned(),
        delta_cents: minor_amount(&node["arrDelta"])?,
        after_cents: minor_amount(&node["arrAfter"])?,
        original,
        fx,
    })
}

/// The fields [`served_line`] reads, for a `revenueLedger` query.
pub const LINE_FIELDS: &str = "accountId date kind arrDelta { amount currency } \
    arrAfter { amount currency } originalDelta { amount currency } \
    fx { rate quote rateDate }";

/// Equal ledgers, or a failure that shows where they part.
pub fn assert_same_lines(got: &[Line], want: &[Line], what: &str) {
    if got != want {
        let missing: Vec<_> = want.iter().filter(|l| !got.contains(l)).take(5).collect();
        let extra: Vec<_> = got.iter().filter(|l| !want.contains(l)).take(5).collect();
        panic!(
            "{what}: {} lines, expected {}; missing {missing:#?}; unexpected {extra:#?}",
            got.len(),
            want.len()
        );
    }
}

/// The generator's ARR on `day` in USD cents, from its won deals that `keep` accepts and that
/// run on `day`, summed per account exactly and rounded to the cent per account.
pub fn generator_arr_cents(
    company: &Company,
    day: NaiveDate,
    keep: impl Fn(&SimDeal) -> bool,
    convert: impl Fn(&SimDeal) -> Conversion,
) -> i64 {
    let mut per_account: BTreeMap<usize, Decimal> = BTreeMap::new();
    for d in company.active_deals_on(day).filter(|d| keep(d)) {
        *per_account.entry(d.account).or_default() += convert(d).usd;
    }
    per_account.into_values().map(cents).sum()
}
