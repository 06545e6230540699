//! The ARR bridge over a stored revenue ledger: opening ARR + new + expansion − contraction −
//! churn = closing ARR, from the ledger lines as they were read back from the database.
//!
//! [`crate::ledger::Ledger::reconcile`] checks a ledger it has just derived against the
//! subscriptions it came from. This module checks the lines that were *stored*: opening and
//! closing ARR are read from each account's `arr_after` snapshots (the last line on or before
//! the day), the movements from the `arr_delta`s in between — two independent readings of the
//! same lines, so a stored ledger that lost or duplicated a line does not reconcile, and the
//! accounts where it fails are named. Its result is a [`ReconciliationReport`] like
//! `reconcile`'s.

use crate::AnalyticsError;
use crate::ledger::{AccountDifference, ReconciliationReport};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use tributary_model::{Currency, Money, RevenueEventKind};

/// One stored line of the revenue ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    /// The account (any stable key; lines without an account share the empty key).
    pub account: String,
    /// The day the change takes effect.
    pub date: NaiveDate,
    /// What happened.
    pub kind: RevenueEventKind,
    /// Change of the account's ARR, reporting currency.
    pub arr_delta: Money,
    /// The account's ARR from this day on, reporting currency.
    pub arr_after: Money,
}

/// The ARR bridge of a stored ledger, in its one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    /// The ledger's reporting currency.
    pub currency: Currency,
    /// Opening and closing ARR, movement by kind, and the accounts that do not reconcile.
    pub report: ReconciliationReport,
}

#[derive(Default)]
struct AccountBridge {
    opening: Decimal,
    closing: Decimal,
    movement: Decimal,
}

fn add(a: Decimal, b: Decimal) -> Result<Decimal, AnalyticsError> {
    a.checked_add(b).ok_or(AnalyticsError::Overflow("ARR"))
}

/// The bridge from the end of `from` to the end of `to` over `lines` (any order; lines dated
/// after `to` are ignored). `None` when no line is dated on or before `to` (the ledger's
/// currency is then unknown). Fails when `from` is after `to` or the lines mix currencies.
pub fn bridge(
    lines: &[LedgerLine],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Option<Bridge>, AnalyticsError> {
    if from > to {
        return Err(AnalyticsError::InvalidPeriod { from, to });
    }
    let mut lines: Vec<&LedgerLine> = lines.iter().filter(|l| l.date <= to).collect();
    // Snapshots are read in date order; the sort is stable, so same-day lines keep theirs.
    lines.sort_by_key(|l| l.date);
    let Some(first) = lines.first() else {
        return Ok(None);
    };
    let currency = first.arr_after.currency.clone();
    if let Some(other) = lines
        .iter()
        .flat_map(|l| [&l.arr_delta.currency, &l.arr_after.currency])
        .find(|c| **c != currency)
    {
        return Err(AnalyticsError::MixedCurrencies {
            first: currency,
            other: other.clone(),
        });
    }
    let mut accounts: BTreeMap<&str, AccountBridge> = BTreeMap::new();
    let mut report = ReconciliationReport {
        from,
        to,
        opening_arr: Decimal::ZERO,
        closing_arr: Decimal::ZERO,
        movement: Decimal::ZERO,
        by_kind: BTreeMap::new(),
        differences: Vec::new(),
    };
    for l in lines {
        let a = accounts.entry(&l.account).or_default();
        if l.date <= from {
            a.opening = l.arr_after.amount;
        }
        a.closing = l.arr_after.amount;
        if l.date > from {
            a.movement = add(a.movement, l.arr_delta.amount)?;
            let k = report.by_kind.entry(l.kind.as_str()).or_default();
            k.events += 1;
            k.arr_delta = add(k.arr_delta, l.arr_delta.amount)?;
        }
    }
    for (account, a) in accounts {
        report.opening_arr = add(report.opening_arr, a.opening)?;
        report.closing_arr = add(report.closing_arr, a.closing)?;
        report.movement = add(report.movement, a.movement)?;
        let difference = a.closing - a.opening - a.movement;
        if !difference.is_zero() {
            report.differences.push(AccountDifference {
                account: account.to_owned(),
                opening_arr: a.opening,
                closing_arr: a.closing,
                movement: a.movement,
                difference,
            });
        }
    }
    Ok(Some(Bridge { currency, report }))
}

/// An account's ARR on `day` according to its stored lines (one account's, in date order):
/// the `arr_after` of the last line on or before `day`, zero before the first. `None` when
/// there are no lines.
pub fn arr_on(lines: &[LedgerLine], day: NaiveDate) -> Option<Money> {
    let first = lines.first()?;
    Some(match lines.iter().rev().find(|l| l.date <= day) {
        Some(last) => last.arr_after.clone(),
        None => Money::zero(first.arr_after.currency.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::from_str(s).unwrap()
    }

    fn usd(n: i64) -> Money {
        Money::new(Decimal::from(n), Currency::usd())
    }

    fn line(account: u32, date: &str, kind: &str, delta: i64, after: i64) -> LedgerLine {
        LedgerLine {
            account: account.to_string(),
            date: d(date),
            kind: RevenueEventKind::parse(kind).unwrap(),
            arr_delta: usd(delta),
            arr_after: usd(after),
        }
    }

    #[test]
    fn the_bridge_walks_from_opening_to_closing_arr() {
        let mut lines = vec![
            line(1, "2024-01-01", "new", 100, 100),
            line(2, "2024-06-01", "new", 50, 50),
            line(1, "2025-01-01", "expansion", 20, 120),
            line(2, "2025-06-01", "churn", -50, 0),
            line(1, "2026-01-01", "renewal", 0, 120),
            line(3, "2027-01-01", "new", 999, 999),
        ];
        // Order does not matter.
        lines.reverse();
        let b = bridge(&lines, d("2024-12-31"), d("2026-06-30"))
            .unwrap()
            .unwrap();
        assert_eq!(b.currency, Currency::usd());
        let r = &b.report;
        assert!(r.is_reconciled(), "{r:?}");
        assert_eq!(
            (r.opening_arr, r.closing_arr, r.movement),
            (Decimal::from(150), Decimal::from(120), Decimal::from(-30))
        );
        let m: Vec<(&str, usize, Decimal)> = r
            .by_kind
            .iter()
            .map(|(k, m)| (*k, m.events, m.arr_delta))
            .collect();
        assert_eq!(
            m,
            [
                ("churn", 1, Decimal::from(-50)),
                ("expansion", 1, Decimal::from(20)),
                ("renewal", 1, Decimal::ZERO)
            ]
        );
    }

    #[test]
    fn a_lost_line_is_named() {
        // Account 1's expansion line is missing: its snapshots jump without a movement.
        let lines = vec![
            line(1, "2024-01-01", "new", 100, 100),
            line(1, "2026-01-01", "renewal", 0, 120),
            line(2, "2024-01-01", "new", 10, 10),
        ];
        let r = bridge(&lines, d("2024-12-31"), d("2026-06-30"))
            .unwrap()
            .unwrap()
            .report;
        assert!(!r.is_reconciled());
        assert_eq!(r.total_difference(), Decimal::from(20));
        assert_eq!(r.differences.len(), 1);
        assert_eq!(r.differences[0].account, "1");
        assert_eq!(
            bridge(&lines, d("2026-01-01"), d("2025-01-01")),
            Err(AnalyticsError::InvalidPeriod {
                from: d("2026-01-01"),
                to: d("2025-01-01")
            })
        );
        assert_eq!(bridge(&[], d("2024-01-01"), d("2025-01-01")), Ok(None));
        assert_eq!(bridge(&lines, d("2020-01-01"), d("2021-01-01")), Ok(None));
    }

    #[test]
    fn a_ledger_in_two_currencies_is_refused() {
        let mut lines = vec![line(1, "2024-01-01", "new", 100, 100)];
        let mut eur = line(2, "2024-01-01", "new", 10, 10);
        eur.arr_after.currency = Currency::parse("EUR").unwrap();
        lines.push(eur);
        assert!(matches!(
            bridge(&lines, d("2024-01-01"), d("2025-01-01")),
            Err(AnalyticsError::MixedCurrencies { .. })
        ));
    }

    #[test]
    fn arr_on_a_day_is_the_last_snapshot() {
        let lines = vec![
            line(1, "2024-01-01", "new", 100, 100),
            line(1, "2025-01-01", "expansion", 20, 120),
        ];
        assert_eq!(arr_on(&lines, d("2023-12-31")), Some(usd(0)));
        assert_eq!(arr_on(&lines, d("2024-06-01")), Some(usd(100)));
        assert_eq!(arr_on(&lines, d("2030-01-01")), Some(usd(120)));
        assert_eq!(arr_on(&[], d("2030-01-01")), None);
    }
}
