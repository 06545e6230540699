//! Retention metrics over a period (SPEC §8).
//!
//! - NRR = Σ ARR at end / Σ ARR at start, over the accounts with ARR > 0 at start (an account
//!   that churned counts with 0 at end; accounts new in the period are left out).
//! - GRR = Σ min(ARR at end, ARR at start) / Σ ARR at start over the same accounts: expansion
//!   does not count, contraction and churn do.
//!
//! Both are exact [`Decimal`] ratios (1 = 100%), not rounded: round for display only. Both are
//! `None` when no account had ARR at the start (the ratio is undefined, not 0 or 1).

use crate::ledger::Ledger;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

/// One account's ARR at the start and the end of a period, in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PeriodArr {
    /// ARR on the period's first day.
    pub start: Decimal,
    /// ARR on its last day.
    pub end: Decimal,
}

/// Net revenue retention of the accounts `rows`.
pub fn nrr(rows: &[PeriodArr]) -> Option<Decimal> {
    ratio(rows, |r| r.end)
}

/// Gross revenue retention of the accounts `rows`.
pub fn grr(rows: &[PeriodArr]) -> Option<Decimal> {
    ratio(rows, |r| r.end.min(r.start))
}

fn ratio(rows: &[PeriodArr], kept: impl Fn(&PeriodArr) -> Decimal) -> Option<Decimal> {
    let retained = rows.iter().filter(|r| r.start > Decimal::ZERO);
    let (mut num, mut den) = (Decimal::ZERO, Decimal::ZERO);
    for r in retained {
        num += kept(r);
        den += r.start;
    }
    (den > Decimal::ZERO).then(|| num / den)
}

impl Ledger {
    /// Every account's ARR on `from` and on `to`, from the ledger.
    pub fn period_arr(&self, from: NaiveDate, to: NaiveDate) -> Vec<(String, PeriodArr)> {
        self.accounts()
            .into_iter()
            .map(|a| {
                let row = PeriodArr {
                    start: self.arr_on(a, from),
                    end: self.arr_on(a, to),
                };
                (a.to_owned(), row)
            })
            .collect()
    }

    /// [`nrr`] of all accounts from `from` to `to`.
    pub fn nrr(&self, from: NaiveDate, to: NaiveDate) -> Option<Decimal> {
        let rows: Vec<PeriodArr> = self.period_arr(from, to).into_iter().map(|r| r.1).collect();
        nrr(&rows)
    }

    /// [`grr`] of all accounts from `from` to `to`.
    pub fn grr(&self, from: NaiveDate, to: NaiveDate) -> Option<Decimal> {
        let rows: Vec<PeriodArr> = self.period_arr(from, to).into_iter().map(|r| r.1).collect();
        grr(&rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(start: i64, end: i64) -> PeriodArr {
        PeriodArr {
            start: Decimal::from(start),
            end: Decimal::from(end),
        }
    }

    #[test]
    fn nrr_and_grr_follow_the_spec() {
        // Expanded 100→150, contracted 200→150, churned 100→0, new 0→500 (left out).
        let rows = [row(100, 150), row(200, 150), row(100, 0), row(0, 500)];
        // NRR = (150 + 150 + 0) / 400 = 0.75; GRR = (100 + 150 + 0) / 400 = 0.625.
        assert_eq!(nrr(&rows), Some(Decimal::new(75, 2)));
        assert_eq!(grr(&rows), Some(Decimal::new(625, 3)));
        // All expanding: NRR above 1, GRR exactly 1.
        let up = [row(100, 130), row(50, 50)];
        assert_eq!(nrr(&up), Some(Decimal::new(12, 1)));
        assert_eq!(grr(&up), Some(Decimal::ONE));
    }

    #[test]
    fn undefined_without_accounts_at_start() {
        assert_eq!(nrr(&[]), None);
        assert_eq!(grr(&[row(0, 100)]), None);
    }
}
