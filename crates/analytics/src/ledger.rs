//! The revenue ledger (SPEC §3 RevenueEvent): every change of an account's ARR, derived from
//! its subscriptions, in the reporting currency, and the check that it reconciles.
//!
//! # Rules
//!
//! - **ARR** of an account on day `d` is the sum of the ARR of its subscriptions active on `d`
//!   (`start ≤ d < end`; an open end never ends) — SPEC §8, [`arr_on`].
//! - **Conversion**: each subscription's ARR is converted once, exactly, at the FX rate of its
//!   start date (the booking rate), and keeps that reporting-currency value for its whole
//!   term. ARR therefore changes only when a subscription starts or ends, never because a
//!   rate moved.
//! - **Rounding** (one rule): an account's ARR on a day — the exact sum of its active
//!   subscriptions' converted ARR — is rounded to the reporting currency's minor unit (cents
//!   for USD, whole yen for JPY), half away from zero ([`tributary_model::ROUNDING`]). Every
//!   event's `arr_after` is that rounded ARR, and its `arr_delta` the difference of two rounded
//!   ARRs, so every figure has exactly the currency's decimals, an account's deltas add up to
//!   its ARR to the cent (the differences telescope), and a total over accounts is the exact
//!   sum of their rounded figures: nothing is ever rounded twice and nothing is left over.
//!   Finance's reading: EUR 30,636.48 at 1.08 is USD 33,087.3984, shown as 33,087.40; when a
//!   co-terminous add-on of EUR 1,000.01 (USD 1,080.0108) joins it the account's ARR is
//!   34,167.4092 → 34,167.41, a delta of +1,080.01; and when both are renewed as one flat
//!   contract the renewal is +0.00, not a one-cent movement from rounding each contract
//!   separately.
//! - **What an event records besides its amounts**: the change in the contracts' own currency
//!   ([`LedgerEvent::original_delta`], when they share one) and the rate that converted them
//!   with the day it is effective from ([`LedgerEvent::fx`], when they share one).
//! - **Events**: one per account and day on which its ARR changes or a subscription is
//!   replaced by another; all starts and ends of that day are netted into one event:
//!   - `new`: ARR goes from zero to positive (the first subscription, or a return after churn);
//!   - `churn`: ARR goes to zero — dated on the end date of the last subscription(s);
//!   - `expansion` / `contraction`: ARR goes up / down and stays positive (a renewal at a
//!     different ARR, or a co-terminous add-on starting mid-term);
//!   - `renewal`: subscriptions end and others start on the same day at the same total ARR.
//! - **Grace period** ([`LedgerConfig::grace_days`], default 30): when all of an account's
//!   subscriptions have ended and a new one starts no more than the grace period later, the
//!   gap is treated as continuous service — the ended subscriptions are extended to the new
//!   start ([`EffectiveSubscription::end`] versus [`EffectiveSubscription::contract_end`]) —
//!   so a late renewal is a renewal (or expansion/contraction) and not a churn followed by a
//!   new business. Beyond the grace period it is a churn and a `new`.
//! - Subscriptions with zero ARR never change ARR and produce no events; a renewal at zero ARR
//!   is therefore a churn.
//!
//! The ledger is derived from the subscriptions as they stand, so the contract schedule's
//! future is in it too: a subscription ending after today without a successor yields a churn
//! dated on its end. Callers that show history filter on `date ≤ today`; the next sync that
//! brings the renewal re-derives the ledger and the churn becomes a renewal.

use crate::AnalyticsError;
use crate::fx::FxTable;
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tributary_model::{Currency, ExternalRef, FxConversion, Money, RevenueEvent, RevenueEventKind};

/// A subscription as the ledger needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionInput {
    /// Our id (or the source's) of the subscription; unique within the input.
    pub id: String,
    /// The account the subscription belongs to (any stable key).
    pub account: String,
    /// First day of the term.
    pub start: NaiveDate,
    /// Day after the last day of the term (exclusive); `None` for an evergreen subscription.
    pub end: Option<NaiveDate>,
    /// Annual recurring revenue in the subscription's own currency.
    pub arr: Money,
    /// The opportunity or deal the subscription came from, when known.
    pub source: Option<ExternalRef>,
    /// What the source says the subscription's start is (from the opportunity type or deal
    /// motion: new business, renewal, expansion…), when it says. The ledger derives the kind
    /// from ARR and never from this; [`Ledger::kind_mismatches`] lists where they disagree.
    pub kind_hint: Option<RevenueEventKind>,
}

/// How the ledger is derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerConfig {
    /// Days after all of an account's subscriptions ended within which a new subscription
    /// still counts as a renewal rather than a churn and a new business.
    pub grace_days: u32,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self { grace_days: 30 }
    }
}

/// A subscription converted to the reporting currency, with its end as the ledger uses it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectiveSubscription {
    /// The subscription's id.
    pub id: String,
    /// The account.
    pub account: String,
    /// First day of the term.
    pub start: NaiveDate,
    /// The end the ledger uses: the contract end, extended over a gap within the grace period.
    pub end: Option<NaiveDate>,
    /// The end as contracted.
    pub contract_end: Option<NaiveDate>,
    /// ARR in the reporting currency, converted exactly at the rate of `start` (not rounded:
    /// an account's ARR is rounded once it is summed).
    pub arr: Decimal,
    /// ARR in the subscription's own currency, as given.
    pub original_arr: Money,
    /// The rate that converted it.
    pub fx: FxConversion,
    /// The source opportunity.
    pub source: Option<ExternalRef>,
    /// The source's own classification of the subscription's start.
    pub kind_hint: Option<RevenueEventKind>,
}

impl EffectiveSubscription {
    fn active_on(&self, day: NaiveDate) -> bool {
        self.start <= day && self.end.is_none_or(|e| day < e)
    }
}

/// One entry of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEvent {
    /// The account.
    pub account: String,
    /// The day the change takes effect (ARR on this day already includes it).
    pub date: NaiveDate,
    /// What happened.
    pub kind: RevenueEventKind,
    /// Change of the account's ARR, reporting currency.
    pub arr_delta: Money,
    /// The account's ARR from this day on, reporting currency.
    pub arr_after: Money,
    /// Subscriptions starting on this day.
    pub started: Vec<String>,
    /// Subscriptions ending on this day (their effective end).
    pub ended: Vec<String>,
    /// The source opportunity: that of the first subscription started, else of the first ended.
    pub source: Option<ExternalRef>,
    /// The change in the subscriptions' own currency (Σ started − Σ ended original ARR), when
    /// they are all in one currency.
    pub original_delta: Option<Money>,
    /// The rate that converted the subscriptions started and ended, when it is the same for
    /// all of them.
    pub fx: Option<FxConversion>,
}

impl LedgerEvent {
    /// The event as the model's [`RevenueEvent`], for an account known by `account`.
    pub fn to_revenue_event(&self, account: Option<ExternalRef>) -> RevenueEvent {
        RevenueEvent {
            account,
            subscription: self.source.clone(),
            date: self.date,
            kind: self.kind,
            arr_delta: self.arr_delta.clone(),
            arr_after: self.arr_after.clone(),
            original_delta: self.original_delta.clone(),
            fx: self.fx,
        }
    }
}

/// The revenue ledger of a set of accounts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ledger {
    reporting: Currency,
    config: LedgerConfig,
    /// By account, then start, then id.
    subscriptions: Vec<EffectiveSubscription>,
    /// By account, then date.
    events: Vec<LedgerEvent>,
}

/// Σ ARR of the subscriptions active on `day` (`start ≤ day < end`), each converted exactly
/// to the reporting currency at the rate of its start date, the sum rounded to the currency's
/// minor unit. Pass one account's subscriptions for its ARR as the ledger shows it.
/// Pass one account's subscriptions for its ARR, or any set for their total. Contract ends
/// are used as given (no grace period).
pub fn arr_on(
    subscriptions: &[SubscriptionInput],
    fx: &FxTable,
    day: NaiveDate,
) -> Result<Money, AnalyticsError> {
    let mut total = Decimal::ZERO;
    for s in subscriptions {
        if s.start <= day && s.end.is_none_or(|e| day < e) {
            total += fx.convert_exact(&s.arr, s.start)?.0.amount;
        }
    }
    Ok(Money::rounded(total, fx.reporting().clone()))
}

impl Ledger {
    /// Derives the ledger of `subscriptions` (any number of accounts, any order).
    ///
    /// Fails on a subscription whose end is not after its start, with negative ARR, with an
    /// id used twice, or whose currency has no rate on its start date.
    pub fn derive(
        subscriptions: &[SubscriptionInput],
        fx: &FxTable,
        config: &LedgerConfig,
    ) -> Result<Self, AnalyticsError> {
        let mut by_account: BTreeMap<&str, Vec<EffectiveSubscription>> = BTreeMap::new();
        let mut ids = std::collections::HashSet::new();
        for s in subscriptions {
            let invalid = |reason: &str| AnalyticsError::InvalidSubscription {
                id: s.id.clone(),
                reason: reason.to_owned(),
            };
            if !ids.insert(s.id.as_str()) {
                return Err(invalid("the id is used twice"));
            }
            if s.end.is_some_and(|e| e <= s.start) {
                return Err(invalid("the end is not after the start"));
            }
            if s.arr.amount < Decimal::ZERO {
                return Err(invalid("negative arr"));
            }
            let (converted, conversion) = fx.convert_exact(&s.arr, s.start)?;
            by_account
                .entry(&s.account)
                .or_default()
                .push(EffectiveSubscription {
                    id: s.id.clone(),
                    account: s.account.clone(),
                    start: s.start,
                    end: s.end,
                    contract_end: s.end,
                    arr: converted.amount,
                    original_arr: s.arr.clone(),
                    fx: conversion,
                    source: s.source.clone(),
                    kind_hint: s.kind_hint,
                });
        }
        let mut ledger = Ledger {
            reporting: fx.reporting().clone(),
            config: *config,
            subscriptions: Vec::with_capacity(subscriptions.len()),
            events: Vec::new(),
        };
        for (_, mut subs) in by_account {
            subs.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
            bridge_gaps(&mut subs, config.grace_days);
            ledger
                .events
                .extend(account_events(&subs, &ledger.reporting));
            ledger.subscriptions.extend(subs);
        }
        Ok(ledger)
    }

    /// The reporting currency.
    pub fn reporting(&self) -> &Currency {
        &self.reporting
    }

    /// The configuration the ledger was derived with.
    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    /// All events, by account then date.
    pub fn events(&self) -> &[LedgerEvent] {
        &self.events
    }

    /// The subscriptions as the ledger used them, by account then start.
    pub fn subscriptions(&self) -> &[EffectiveSubscription] {
        &self.subscriptions
    }

    /// The events of one account, by date.
    pub fn account_events(&self, account: &str) -> &[LedgerEvent] {
        let from = self
            .events
            .partition_point(|e| e.account.as_str() < account);
        let to = self
            .events
            .partition_point(|e| e.account.as_str() <= account);
        &self.events[from..to]
    }

    /// The subscriptions of one account, by start.
    pub fn account_subscriptions(&self, account: &str) -> &[EffectiveSubscription] {
        let from = self
            .subscriptions
            .partition_point(|s| s.account.as_str() < account);
        let to = self
            .subscriptions
            .partition_point(|s| s.account.as_str() <= account);
        &self.subscriptions[from..to]
    }

    /// The accounts with at least one subscription, in order.
    pub fn accounts(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .subscriptions
            .iter()
            .map(|s| s.account.as_str())
            .collect();
        out.dedup();
        out
    }

    /// An account's ARR on `day` according to the ledger: `arr_after` of its last event on or
    /// before `day`, zero before its first.
    pub fn arr_on(&self, account: &str, day: NaiveDate) -> Decimal {
        let events = self.account_events(account);
        let n = events.partition_point(|e| e.date <= day);
        n.checked_sub(1)
            .map_or(Decimal::ZERO, |i| events[i].arr_after.amount)
    }

    /// Σ over accounts of [`Ledger::arr_on`].
    pub fn total_arr_on(&self, day: NaiveDate) -> Decimal {
        self.accounts().iter().map(|a| self.arr_on(a, day)).sum()
    }

    /// An account's ARR on `day` summed from its (effective) subscriptions, independently of
    /// the events, and rounded to the reporting currency's minor unit.
    pub fn subscription_arr_on(&self, account: &str, day: NaiveDate) -> Decimal {
        self.reporting.round(
            self.account_subscriptions(account)
                .iter()
                .filter(|s| s.active_on(day))
                .map(|s| s.arr)
                .sum(),
        )
    }

    /// The events whose derived kind differs from the kind the source gave a subscription
    /// starting on them ([`SubscriptionInput::kind_hint`]): a deal booked as a renewal that
    /// raised ARR, an add-on closed the day of a renewal (the two net into one event), a
    /// renewal signed after the grace period (a `new`). A diagnostic for finance, not an error.
    pub fn kind_mismatches(&self) -> Vec<KindMismatch> {
        let mut out = Vec::new();
        for e in &self.events {
            let subs = self.account_subscriptions(&e.account);
            for id in &e.started {
                let hinted = subs.iter().find(|s| &s.id == id).and_then(|s| s.kind_hint);
                if let Some(hinted) = hinted.filter(|h| *h != e.kind) {
                    out.push(KindMismatch {
                        account: e.account.clone(),
                        date: e.date,
                        subscription: id.clone(),
                        derived: e.kind,
                        hinted,
                    });
                }
            }
        }
        out
    }

    /// Checks, per account and in total, that the deltas of the events dated in
    /// `(from, to]` add up to ARR on `to` minus ARR on `from`, both summed from the
    /// subscriptions independently of the events. Every difference is listed; a correct
    /// ledger has none.
    pub fn reconcile(&self, from: NaiveDate, to: NaiveDate) -> ReconciliationReport {
        let mut report = ReconciliationReport {
            from,
            to,
            opening_arr: Decimal::ZERO,
            closing_arr: Decimal::ZERO,
            movement: Decimal::ZERO,
            by_kind: BTreeMap::new(),
            differences: Vec::new(),
        };
        for account in self.accounts() {
            let opening = self.subscription_arr_on(account, from);
            let closing = self.subscription_arr_on(account, to);
            let mut movement = Decimal::ZERO;
            for e in self.account_events(account) {
                if from < e.date && e.date <= to {
                    movement += e.arr_delta.amount;
                    let k = report.by_kind.entry(kind_name(e.kind)).or_default();
                    k.events += 1;
                    k.arr_delta += e.arr_delta.amount;
                }
            }
            report.opening_arr += opening;
            report.closing_arr += closing;
            report.movement += movement;
            let difference = closing - opening - movement;
            if !difference.is_zero() {
                report.differences.push(AccountDifference {
                    account: account.to_owned(),
                    opening_arr: opening,
                    closing_arr: closing,
                    movement,
                    difference,
                });
            }
        }
        report
    }
}

/// The stable snake_case name of an event kind ([`RevenueEventKind::as_str`], the one place
/// the names are spelled).
pub fn kind_name(kind: RevenueEventKind) -> &'static str {
    kind.as_str()
}

/// Extends the subscriptions that end where a gap of at most `grace_days` begins to the
/// start of the subscription after the gap. `subs` is one account's, sorted by start.
fn bridge_gaps(subs: &mut [EffectiveSubscription], grace_days: u32) {
    // Only subscriptions that carry ARR cover the account: a zero-ARR one does not keep it alive.
    let mut covered_until: Option<Option<NaiveDate>> = None; // Some(None): open-ended.
    for i in 0..subs.len() {
        if subs[i].arr.is_zero() {
            continue;
        }
        let start = subs[i].start;
        if let Some(Some(until)) = covered_until
            && until < start
            && start
                <= until
                    .checked_add_days(Days::new(grace_days.into()))
                    .unwrap_or(NaiveDate::MAX)
        {
            for s in subs[..i].iter_mut() {
                if !s.arr.is_zero() && s.end == Some(until) {
                    s.end = Some(start);
                }
            }
            covered_until = Some(Some(start));
        }
        covered_until = match (covered_until, subs[i].end) {
            (None, end) => Some(end),
            (Some(None), _) | (_, None) => Some(None),
            (Some(Some(until)), Some(end)) => Some(Some(until.max(end))),
        };
    }
}

#[derive(Default)]
struct DayChange<'a> {
    /// Exact, unrounded.
    delta: Decimal,
    started: Vec<&'a EffectiveSubscription>,
    ended: Vec<&'a EffectiveSubscription>,
}

/// The events of one account whose gaps are bridged.
fn account_events(subs: &[EffectiveSubscription], reporting: &Currency) -> Vec<LedgerEvent> {
    let mut days: BTreeMap<NaiveDate, DayChange<'_>> = BTreeMap::new();
    for s in subs.iter().filter(|s| !s.arr.is_zero()) {
        let day = days.entry(s.start).or_default();
        day.delta += s.arr;
        day.started.push(s);
        if let Some(end) = s.end {
            let day = days.entry(end).or_default();
            day.delta -= s.arr;
            day.ended.push(s);
        }
    }
    // The exact ARR, and the ARR as shown: rounded to the minor unit.
    let mut exact = Decimal::ZERO;
    let mut arr = reporting.round(Decimal::ZERO);
    let mut out = Vec::new();
    for (date, change) in days {
        let before = arr;
        exact += change.delta;
        arr = reporting.round(exact);
        debug_assert!(
            arr >= Decimal::ZERO,
            "arr is a sum of active non-negative amounts"
        );
        let kind = if before.is_zero() && arr > Decimal::ZERO {
            RevenueEventKind::New
        } else if before > Decimal::ZERO && arr.is_zero() {
            RevenueEventKind::Churn
        } else if arr > before {
            RevenueEventKind::Expansion
        } else if arr < before {
            RevenueEventKind::Contraction
        } else if !change.started.is_empty() && !change.ended.is_empty() {
            RevenueEventKind::Renewal
        } else {
            continue;
        };
        let involved = || change.started.iter().chain(&change.ended);
        let source = involved().find_map(|s| s.source.clone());
        let currency = &involved().next().map(|s| &s.original_arr.currency);
        let original_delta = involved()
            .all(|s| Some(&s.original_arr.currency) == *currency)
            .then(|| {
                let started: Decimal = change.started.iter().map(|s| s.original_arr.amount).sum();
                let ended: Decimal = change.ended.iter().map(|s| s.original_arr.amount).sum();
                currency.map(|c| Money::new(started - ended, c.clone()))
            })
            .flatten();
        let first_fx = involved().next().map(|s| s.fx);
        let fx = first_fx.filter(|f| involved().all(|s| s.fx == *f));
        out.push(LedgerEvent {
            account: subs[0].account.clone(),
            date,
            kind,
            arr_delta: Money::new(arr - before, reporting.clone()),
            arr_after: Money::new(arr, reporting.clone()),
            started: change.started.iter().map(|s| s.id.clone()).collect(),
            ended: change.ended.iter().map(|s| s.id.clone()).collect(),
            source,
            original_delta,
            fx,
        });
    }
    out
}

/// A subscription whose source classification disagrees with the ledger's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindMismatch {
    /// The account.
    pub account: String,
    /// The event's date (the subscription's start).
    pub date: NaiveDate,
    /// The subscription.
    pub subscription: String,
    /// The kind the ledger derived from ARR.
    pub derived: RevenueEventKind,
    /// The kind the source gave.
    pub hinted: RevenueEventKind,
}

/// Events of one kind within a reconciled period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KindMovement {
    /// How many events.
    pub events: usize,
    /// Σ of their deltas.
    pub arr_delta: Decimal,
}

/// An account whose events do not explain its ARR change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountDifference {
    /// The account.
    pub account: String,
    /// ARR on the period's first day, from subscriptions.
    pub opening_arr: Decimal,
    /// ARR on its last day, from subscriptions.
    pub closing_arr: Decimal,
    /// Σ of the event deltas in the period.
    pub movement: Decimal,
    /// `closing − opening − movement`.
    pub difference: Decimal,
}

/// The result of [`Ledger::reconcile`]: an ARR bridge from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconciliationReport {
    /// Opening day.
    pub from: NaiveDate,
    /// Closing day.
    pub to: NaiveDate,
    /// Total ARR on `from`, from subscriptions.
    pub opening_arr: Decimal,
    /// Total ARR on `to`, from subscriptions.
    pub closing_arr: Decimal,
    /// Σ of all event deltas dated in `(from, to]`.
    pub movement: Decimal,
    /// The movement by event kind (`new`, `expansion`, …).
    pub by_kind: BTreeMap<&'static str, KindMovement>,
    /// Accounts whose movement differs from their ARR change (empty when reconciled).
    pub differences: Vec<AccountDifference>,
}

impl ReconciliationReport {
    /// `closing − opening − movement` over all accounts.
    pub fn total_difference(&self) -> Decimal {
        self.closing_arr - self.opening_arr - self.movement
    }

    /// Whether every account and the total reconcile exactly.
    pub fn is_reconciled(&self) -> bool {
        self.differences.is_empty() && self.total_difference().is_zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::from_str(s).unwrap()
    }

    /// `(id, account, start, end or "", arr, currency)`.
    fn subs(rows: &[(&str, &str, &str, &str, &str, &str)]) -> Vec<SubscriptionInput> {
        rows.iter()
            .map(|(id, account, start, end, arr, cur)| SubscriptionInput {
                id: (*id).to_owned(),
                account: (*account).to_owned(),
                start: d(start),
                end: (!end.is_empty()).then(|| d(end)),
                arr: Money::new(
                    Decimal::from_str(arr).unwrap(),
                    Currency::parse(cur).unwrap(),
                ),
                source: Some(ExternalRef::new("crm", "test", "deal", *id)),
                kind_hint: None,
            })
            .collect()
    }

    fn fx() -> FxTable {
        FxTable::new(Currency::usd())
            .with_rate(
                Currency::parse("EUR").unwrap(),
                d("2020-01-01"),
                Decimal::new(108, 2),
            )
            .unwrap()
            .with_rate(
                Currency::parse("EUR").unwrap(),
                d("2025-01-01"),
                Decimal::new(110, 2),
            )
            .unwrap()
    }

    fn render(ledger: &Ledger) -> String {
        ledger
            .events()
            .iter()
            .map(|e| {
                format!(
                    "{} {} {} {:+} ={}\n",
                    e.account,
                    e.date,
                    kind_name(e.kind),
                    e.arr_delta.amount,
                    e.arr_after.amount
                )
            })
            .collect()
    }

    fn check(
        rows: &[(&str, &str, &str, &str, &str, &str)],
        grace_days: u32,
        expected: &str,
    ) -> Ledger {
        let input = subs(rows);
        let ledger = Ledger::derive(&input, &fx(), &LedgerConfig { grace_days }).unwrap();
        assert_eq!(render(&ledger), expected);
        // Every check also reconciles over a few periods and is independent of input order.
        for (from, to) in [
            ("2019-01-01", "2030-01-01"),
            ("2023-03-01", "2024-03-01"),
            ("2024-01-01", "2024-12-31"),
        ] {
            let report = ledger.reconcile(d(from), d(to));
            assert!(report.is_reconciled(), "{report:?}");
        }
        let mut reversed = input.clone();
        reversed.reverse();
        let again = Ledger::derive(&reversed, &fx(), &LedgerConfig { grace_days }).unwrap();
        assert_eq!(render(&again), expected);
        ledger
    }

    #[test]
    fn a_contract_life_new_renewal_expansion_add_on_contraction_churn() {
        let ledger = check(
            &[
                ("n", "a", "2022-01-01", "2023-01-01", "1200", "USD"),
                ("r1", "a", "2023-01-01", "2024-01-01", "1200", "USD"),
                ("x", "a", "2024-01-01", "2025-01-01", "1500", "USD"),
                ("addon", "a", "2024-07-01", "2025-01-01", "300", "USD"),
                ("c", "a", "2025-01-01", "2026-01-01", "1000", "USD"),
            ],
            30,
            "a 2022-01-01 new +1200.00 =1200.00\n\
             a 2023-01-01 renewal +0.00 =1200.00\n\
             a 2024-01-01 expansion +300.00 =1500.00\n\
             a 2024-07-01 expansion +300.00 =1800.00\n\
             a 2025-01-01 contraction -800.00 =1000.00\n\
             a 2026-01-01 churn -1000.00 =0.00\n",
        );
        let renewal = &ledger.account_events("a")[1];
        assert_eq!(renewal.started, ["r1"]);
        assert_eq!(renewal.ended, ["n"]);
        assert_eq!(renewal.source.as_ref().unwrap().external_id, "r1");
        let churn = ledger.account_events("a").last().unwrap();
        assert_eq!(churn.source.as_ref().unwrap().external_id, "c");
        let model = churn.to_revenue_event(None);
        assert_eq!(model.kind, RevenueEventKind::Churn);
        assert_eq!(model.arr_after, Money::zero(Currency::usd()));
        assert_eq!(ledger.arr_on("a", d("2024-06-30")), Decimal::from(1500));
        assert_eq!(ledger.arr_on("a", d("2024-07-01")), Decimal::from(1800));
        assert_eq!(ledger.arr_on("a", d("2021-12-31")), Decimal::ZERO);
        assert_eq!(ledger.arr_on("a", d("2026-01-01")), Decimal::ZERO);
        let report = ledger.reconcile(d("2023-06-01"), d("2025-06-01"));
        assert_eq!(report.opening_arr, Decimal::from(1200));
        assert_eq!(report.closing_arr, Decimal::from(1000));
        assert_eq!(report.movement, Decimal::from(-200));
        assert_eq!(report.by_kind["expansion"].events, 2);
        assert_eq!(report.by_kind["expansion"].arr_delta, Decimal::from(600));
        assert_eq!(report.by_kind["contraction"].arr_delta, Decimal::from(-800));
        assert!(!report.by_kind.contains_key("renewal"));
    }

    #[test]
    fn a_late_renewal_within_grace_is_a_renewal_beyond_it_churn_and_new() {
        let rows = [
            ("n", "a", "2023-01-01", "2024-01-01", "1200", "USD"),
            ("late", "a", "2024-01-21", "2025-01-21", "1200", "USD"),
        ];
        let ledger = check(
            &rows,
            30,
            "a 2023-01-01 new +1200.00 =1200.00\n\
             a 2024-01-21 renewal +0.00 =1200.00\n\
             a 2025-01-21 churn -1200.00 =0.00\n",
        );
        // The gap is covered at the old ARR: the ledger's ARR is not the contracts' ARR there.
        assert_eq!(ledger.arr_on("a", d("2024-01-10")), Decimal::from(1200));
        let raw = subs(&rows);
        assert_eq!(
            arr_on(&raw, &fx(), d("2024-01-10")).unwrap().amount,
            Decimal::ZERO
        );
        let bridged = &ledger.account_subscriptions("a")[0];
        assert_eq!(bridged.end, Some(d("2024-01-21")));
        assert_eq!(bridged.contract_end, Some(d("2024-01-01")));
        // The boundary: a gap of exactly the grace period is bridged, one day more is not.
        check(
            &rows,
            20,
            "a 2023-01-01 new +1200.00 =1200.00\n\
             a 2024-01-21 renewal +0.00 =1200.00\n\
             a 2025-01-21 churn -1200.00 =0.00\n",
        );
        check(
            &rows,
            19,
            "a 2023-01-01 new +1200.00 =1200.00\n\
             a 2024-01-01 churn -1200.00 =0.00\n\
             a 2024-01-21 new +1200.00 =1200.00\n\
             a 2025-01-21 churn -1200.00 =0.00\n",
        );
        // A late renewal at a higher ARR is an expansion.
        check(
            &[
                ("n", "a", "2023-01-01", "2024-01-01", "1200", "USD"),
                ("late", "a", "2024-01-05", "2025-01-05", "1300", "USD"),
            ],
            30,
            "a 2023-01-01 new +1200.00 =1200.00\n\
             a 2024-01-05 expansion +100.00 =1300.00\n\
             a 2025-01-05 churn -1300.00 =0.00\n",
        );
    }

    #[test]
    fn overlapping_subscriptions_add_up_and_accounts_stay_apart() {
        check(
            &[
                ("p1", "a", "2023-01-01", "", "1000", "USD"),
                ("p2", "a", "2023-06-01", "2024-06-01", "500", "USD"),
                ("z", "a", "2023-02-01", "2023-03-01", "0", "USD"),
                ("b1", "b", "2023-01-01", "2024-01-01", "100", "EUR"),
                ("b2", "b", "2024-01-01", "2025-01-01", "100", "EUR"),
                ("b3", "b", "2025-01-01", "2026-01-01", "100", "EUR"),
            ],
            30,
            "a 2023-01-01 new +1000.00 =1000.00\n\
             a 2023-06-01 expansion +500.00 =1500.00\n\
             a 2024-06-01 contraction -500.00 =1000.00\n\
             b 2023-01-01 new +108.00 =108.00\n\
             b 2024-01-01 renewal +0.00 =108.00\n\
             b 2025-01-01 expansion +2.00 =110.00\n\
             b 2026-01-01 churn -110.00 =0.00\n",
        );
    }

    #[test]
    fn an_accounts_arr_is_rounded_to_the_cent_once_and_flat_renewals_stay_flat() {
        // EUR 30,636.48 × 1.08 = 33,087.3984; the add-on EUR 1,000.01 × 1.08 = 1,080.0108.
        let ledger = check(
            &[
                ("main", "a", "2023-01-01", "2024-01-01", "30636.48", "EUR"),
                ("addon", "a", "2023-07-01", "2024-01-01", "1000.01", "EUR"),
                ("renew", "a", "2024-01-01", "2025-01-01", "31636.49", "EUR"),
                // Renewed flat in EUR when the rate is 1.10: 34,800.139 → 34,800.14.
                ("again", "a", "2025-01-01", "2026-01-01", "31636.49", "EUR"),
            ],
            30,
            "a 2023-01-01 new +33087.40 =33087.40\n\
             a 2023-07-01 expansion +1080.01 =34167.41\n\
             a 2024-01-01 renewal +0.00 =34167.41\n\
             a 2025-01-01 expansion +632.73 =34800.14\n\
             a 2026-01-01 churn -34800.14 =0.00\n",
        );
        let e = ledger.account_events("a");
        assert!(
            e.iter()
                .all(|e| e.arr_delta.amount.scale() == 2 && e.arr_after.amount.scale() == 2)
        );
        // What each event records of the contracts behind it.
        let eur = |s: &str| {
            Some(Money::new(
                Decimal::from_str(s).unwrap(),
                Currency::parse("EUR").unwrap(),
            ))
        };
        assert_eq!(e[0].original_delta, eur("30636.48"));
        assert_eq!(e[1].original_delta, eur("1000.01"));
        assert_eq!(e[2].original_delta, eur("0.00"));
        let at_108 = Some(FxConversion {
            rate: Decimal::new(108, 2),
            quote: tributary_model::FxQuote::Multiply,
            rate_date: Some(d("2020-01-01")),
        });
        assert_eq!((e[0].fx, e[1].fx, e[2].fx), (at_108, at_108, at_108));
        // Two rates met on 2025-01-01: none is recorded; the EUR change is still known.
        assert_eq!((e[3].original_delta.clone(), e[3].fx), (eur("0.00"), None));
        assert_eq!(e[4].fx.map(|f| f.rate), Some(Decimal::new(110, 2)));
        let model = e[1].to_revenue_event(None);
        assert_eq!((model.original_delta, model.fx), (eur("1000.01"), at_108));
    }

    #[test]
    fn kind_hints_that_disagree_with_arr_are_listed() {
        let mut input = subs(&[
            ("n", "a", "2023-01-01", "2024-01-01", "1200", "USD"),
            ("r", "a", "2024-01-01", "2025-01-01", "1500", "USD"),
            ("addon", "a", "2024-01-01", "2025-01-01", "100", "USD"),
            ("late", "a", "2025-03-01", "2026-03-01", "1600", "USD"),
        ]);
        let hints = [
            RevenueEventKind::New,
            RevenueEventKind::Renewal,
            RevenueEventKind::Expansion,
            RevenueEventKind::Renewal,
        ];
        for (s, h) in input.iter_mut().zip(hints) {
            s.kind_hint = Some(h);
        }
        let ledger = Ledger::derive(&input, &fx(), &LedgerConfig::default()).unwrap();
        let found: Vec<(String, RevenueEventKind, RevenueEventKind)> = ledger
            .kind_mismatches()
            .into_iter()
            .map(|m| (m.subscription, m.derived, m.hinted))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "r".to_owned(),
                    RevenueEventKind::Expansion,
                    RevenueEventKind::Renewal
                ),
                (
                    "late".to_owned(),
                    RevenueEventKind::New,
                    RevenueEventKind::Renewal
                ),
            ]
        );
    }

    #[test]
    fn refuses_what_cannot_be_ledgered() {
        let bad = |rows: &[(&str, &str, &str, &str, &str, &str)], needle: &str| {
            let e = Ledger::derive(&subs(rows), &fx(), &LedgerConfig::default()).unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        };
        bad(
            &[("s", "a", "2023-01-01", "2023-01-01", "1", "USD")],
            "end is not after",
        );
        bad(&[("s", "a", "2023-01-01", "", "-1", "USD")], "negative");
        bad(
            &[("s", "a", "2019-01-01", "", "1", "EUR")],
            "no fx rate for `EUR`",
        );
        bad(
            &[
                ("s", "a", "2023-01-01", "", "1", "USD"),
                ("s", "b", "2023-01-01", "", "1", "USD"),
            ],
            "used twice",
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Up to 25 subscriptions over 4 accounts, in USD and EUR, some open-ended, some at
        /// zero ARR, over about three years. Starts and ends sit on a 30-day grid with some
        /// jitter, so that renewals on the day, short gaps within a grace period and longer
        /// ones all come up often.
        fn subscription_sets() -> impl Strategy<Value = Vec<SubscriptionInput>> {
            let one = (
                (0u64..40, prop_oneof![2 => Just(0u64), 1 => 1u64..100])
                    .prop_map(|(k, jitter)| k * 30 + jitter),
                prop_oneof![1 => Just(None), 9 => (1u64..16).prop_map(|m| Some(m * 30))],
                prop_oneof![1 => Just(0i64), 7 => 1i64..5_000_000],
                0usize..2,
                0usize..4,
            );
            prop::collection::vec(one, 0..25).prop_map(|rows| {
                rows.into_iter()
                    .enumerate()
                    .map(|(i, (start, len, cents, cur, account))| {
                        let start = d("2022-01-01") + Days::new(start);
                        SubscriptionInput {
                            id: format!("s{i}"),
                            account: format!("acct{account}"),
                            start,
                            end: len.map(|l| start + Days::new(l)),
                            arr: Money::new(
                                Decimal::new(cents, 2),
                                Currency::parse(["USD", "EUR"][cur]).unwrap(),
                            ),
                            source: None,
                            kind_hint: None,
                        }
                    })
                    .collect()
            })
        }

        fn day() -> impl Strategy<Value = NaiveDate> {
            (0u64..1900).prop_map(|o| d("2021-06-01") + Days::new(o))
        }

        proptest! {
            /// For arbitrary subscription sets and periods the ledger reconciles per account
            /// and in total, `arr_after` chains the deltas, churn is exactly "ARR reaches
            /// zero", and the ledger's ARR is the subscriptions' ARR on any day — without a
            /// grace period, the contracts' ARR ([`arr_on`]) itself.
            #[test]
            fn the_ledger_reconciles_for_arbitrary_subscription_sets(
                input in subscription_sets(),
                grace_days in prop_oneof![Just(0u32), Just(30), Just(90)],
                periods in prop::collection::vec((day(), day()), 1..6),
                days in prop::collection::vec(day(), 1..30),
            ) {
                let fx = fx();
                let ledger = Ledger::derive(&input, &fx, &LedgerConfig { grace_days }).unwrap();
                for account in ledger.accounts() {
                    let mut arr = Decimal::ZERO;
                    for e in ledger.account_events(account) {
                        arr += e.arr_delta.amount;
                        prop_assert_eq!(arr, e.arr_after.amount);
                        prop_assert!(arr >= Decimal::ZERO);
                        prop_assert_eq!(e.kind == RevenueEventKind::Churn, arr.is_zero());
                    }
                    // The grace period: a churn is never followed by a return within it, and
                    // a subscription is only extended over a gap of at most the grace period
                    // up to the start of the next one.
                    for w in ledger.account_events(account).windows(2) {
                        if w[0].kind == RevenueEventKind::Churn {
                            prop_assert_eq!(w[1].kind, RevenueEventKind::New);
                            prop_assert!(w[1].date > w[0].date + Days::new(grace_days.into()));
                        }
                    }
                    let subs = ledger.account_subscriptions(account);
                    for s in subs {
                        if s.end != s.contract_end {
                            let (Some(end), Some(contract_end)) = (s.end, s.contract_end) else {
                                panic!("only a contract end is extended: {s:?}");
                            };
                            prop_assert!(contract_end < end);
                            prop_assert!(end <= contract_end + Days::new(grace_days.into()));
                            prop_assert!(subs.iter().any(|n| n.start == end && !n.arr.is_zero()));
                        }
                    }
                    let own: Vec<SubscriptionInput> =
                        input.iter().filter(|s| s.account == account).cloned().collect();
                    for day in &days {
                        let from_events = ledger.arr_on(account, *day);
                        prop_assert_eq!(from_events, ledger.subscription_arr_on(account, *day));
                        if grace_days == 0 {
                            prop_assert_eq!(from_events, arr_on(&own, &fx, *day).unwrap().amount);
                        }
                    }
                }
                for (a, b) in periods {
                    let (from, to) = (a.min(b), a.max(b));
                    let report = ledger.reconcile(from, to);
                    prop_assert!(report.is_reconciled(), "{:?}", report);
                    prop_assert_eq!(
                        report.movement,
                        ledger.total_arr_on(to) - ledger.total_arr_on(from)
                    );
                }
            }

            /// The ledger does not depend on the order of its input.
            #[test]
            fn the_ledger_does_not_depend_on_input_order(
                (input, shuffled) in subscription_sets()
                    .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
            ) {
                let config = LedgerConfig::default();
                prop_assert_eq!(
                    Ledger::derive(&input, &fx(), &config).unwrap(),
                    Ledger::derive(&shuffled, &fx(), &config).unwrap()
                );
            }

            /// A ledger that was tampered with does not reconcile: the check can fail.
            #[test]
            fn a_tampered_ledger_is_reported(
                input in subscription_sets()
                    .prop_filter("some arr", |v| v.iter().any(|s| !s.arr.amount.is_zero())),
                which in any::<prop::sample::Index>(),
            ) {
                let mut ledger = Ledger::derive(&input, &fx(), &LedgerConfig::default()).unwrap();
                let i = which.index(ledger.events.len());
                let victim = ledger.events[i].clone();
                ledger.events[i].arr_delta.amount += Decimal::new(1, 4);
                let report = ledger.reconcile(victim.date - Days::new(1), d("2030-01-01"));
                prop_assert!(!report.is_reconciled());
                prop_assert_eq!(report.differences.len(), 1);
                prop_assert_eq!(&report.differences[0].account, &victim.account);
                prop_assert_eq!(report.differences[0].difference, Decimal::new(-1, 4));
                prop_assert_eq!(report.total_difference(), Decimal::new(-1, 4));
            }
        }
    }
}
