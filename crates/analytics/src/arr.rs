//! An account's ARR from its contracts, in the contracts' own currencies (SPEC §8: ARR on a
//! day is the sum of the ARR of the subscriptions active on it).
//!
//! This is what an account view shows. The revenue ledger ([`crate::ledger`]) is the other
//! reading: every contract converted to one reporting currency at its booking rate, which is
//! what finance reconciles. A contract counts here when its source does not call it ended or
//! cancelled and the day falls in `[start, end)`; a source that has not yet moved a contract
//! from pending to active does not keep it out.

use crate::AnalyticsError;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use tributary_model::{Currency, Money, SubscriptionStatus};

/// A contract as ARR needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contract<'a> {
    /// Lifecycle status, as the source reports it.
    pub status: SubscriptionStatus,
    /// First day of the term.
    pub start: NaiveDate,
    /// Day after the last day of the term (exclusive); `None` when open-ended.
    pub end: Option<NaiveDate>,
    /// Annual recurring revenue, in the contract's currency.
    pub arr: &'a Money,
}

impl Contract<'_> {
    /// Whether the contract counts towards ARR on `day`.
    pub fn counts_on(&self, day: NaiveDate) -> bool {
        use SubscriptionStatus as S;
        matches!(self.status, S::Active | S::Pending)
            && S::on(self.start, self.end, day) == S::Active
    }
}

/// Σ ARR of the contracts that count on `day`, per currency, by currency code; empty when
/// none counts.
pub fn by_currency(
    contracts: &[Contract<'_>],
    day: NaiveDate,
) -> Result<Vec<Money>, AnalyticsError> {
    let mut sums: BTreeMap<&Currency, Decimal> = BTreeMap::new();
    for c in contracts.iter().filter(|c| c.counts_on(day)) {
        let sum = sums.entry(&c.arr.currency).or_default();
        *sum = sum
            .checked_add(c.arr.amount)
            .ok_or(AnalyticsError::Overflow("ARR"))?;
    }
    Ok(sums
        .into_iter()
        .map(|(currency, amount)| Money::new(amount, currency.clone()))
        .collect())
}

/// An account's ARR on `day` as one amount: the sum of [`by_currency`] when it is in one
/// currency; zero when no contract counts and all of them share one currency; `None` when the
/// account has no contract, or when those that count are in several currencies (there is no
/// one number without a conversion; see [`by_currency`]).
pub fn account_arr(
    contracts: &[Contract<'_>],
    day: NaiveDate,
) -> Result<Option<Money>, AnalyticsError> {
    let mut sums = by_currency(contracts, day)?;
    Ok(match sums.len() {
        1 => sums.pop(),
        0 => {
            let currencies: BTreeSet<&Currency> =
                contracts.iter().map(|c| &c.arr.currency).collect();
            match currencies.into_iter().collect::<Vec<_>>().as_slice() {
                [only] => Some(Money::zero((*only).clone())),
                _ => None,
            }
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::from_str(s).unwrap()
    }

    fn money(amount: &str, currency: &str) -> Money {
        Money::new(
            Decimal::from_str(amount).unwrap(),
            Currency::parse(currency).unwrap(),
        )
    }

    fn contract<'a>(
        status: SubscriptionStatus,
        start: &str,
        end: Option<&str>,
        arr: &'a Money,
    ) -> Contract<'a> {
        Contract {
            status,
            start: d(start),
            end: end.map(d),
            arr,
        }
    }

    #[test]
    fn arr_sums_counting_contracts_per_currency() {
        use SubscriptionStatus as S;
        let (big, small, one, eur) = (
            money("1200.50", "USD"),
            money("0.50", "USD"),
            money("0.0001", "USD"),
            money("1.00", "EUR"),
        );
        let day = d("2026-06-01");
        let contracts = [
            contract(S::Active, "2026-01-01", Some("2027-01-01"), &big),
            contract(S::Active, "2026-01-01", None, &small),
            // Not counted: ended by date, cancelled, not started, ended by the source.
            contract(S::Active, "2025-01-01", Some("2026-01-01"), &one),
            contract(S::Cancelled, "2026-01-01", Some("2027-01-01"), &one),
            contract(S::Pending, "2026-07-01", Some("2027-07-01"), &one),
            contract(S::Ended, "2026-01-01", Some("2027-01-01"), &one),
            // Counted: the source has not caught up with the start date.
            contract(S::Pending, "2026-05-01", Some("2027-05-01"), &eur),
        ];
        let got: Vec<String> = by_currency(&contracts, day)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, ["1.00 EUR", "1201.00 USD"]);
        assert_eq!(
            account_arr(&contracts, day).unwrap(),
            None,
            "two currencies"
        );
        assert_eq!(
            account_arr(&contracts[..3], day).unwrap(),
            Some(money("1201.00", "USD"))
        );
    }

    #[test]
    fn an_account_without_counting_contracts_has_zero_or_no_arr() {
        use SubscriptionStatus as S;
        let (usd, eur) = (money("10", "USD"), money("10", "EUR"));
        let day = d("2030-01-01");
        let ended = contract(S::Active, "2020-01-01", Some("2021-01-01"), &usd);
        let ended_eur = contract(S::Active, "2020-01-01", Some("2021-01-01"), &eur);
        assert_eq!(
            account_arr(&[ended], day).unwrap(),
            Some(Money::zero(Currency::usd()))
        );
        assert_eq!(account_arr(&[ended, ended_eur], day).unwrap(), None);
        assert_eq!(account_arr(&[], day).unwrap(), None);
    }
}
