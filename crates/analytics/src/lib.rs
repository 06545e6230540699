//! Revenue analytics for Tributary (SPEC §3, §8): the core math behind the revenue ledger
//! finance reconciles against.
//!
//! Key items:
//! - [`fx::FxTable`]: dated exchange rates into one reporting currency (latest rate on or
//!   before a date), built in code or parsed from CSV text; [`fx::FxTable::convert`] rounds to
//!   the reporting currency's minor unit, half away from zero.
//! - [`ledger::Ledger`]: from subscriptions ([`ledger::SubscriptionInput`]) the ordered
//!   [`tributary_model::RevenueEvent`]-shaped events per account (new, renewal, expansion,
//!   contraction, churn) with ARR delta and ARR after in the reporting currency, plus
//!   [`ledger::arr_on`] and a reconciliation check ([`ledger::Ledger::reconcile`]).
//! - [`metrics`]: NRR and GRR over a period (SPEC §8) as exact [`rust_decimal::Decimal`]s.
//! - [`arr`]: an account's ARR on a day from its contracts, in their own currencies (what
//!   the account 360 shows; SPEC §8), and which contracts count towards it.
//! - [`bridge`]: the ARR bridge over a *stored* ledger ([`bridge::LedgerLine`]s read back
//!   from the database): opening and closing ARR from the lines' snapshots, movements from
//!   their deltas, and the accounts where the two readings disagree; plus an account's ARR
//!   on a day according to its stored lines.
//!
//! Money is always [`rust_decimal::Decimal`], never a float, so ledger totals reconcile to
//! the last digit.
//!
//! # Rounding, as finance reads it
//!
//! Every amount the ledger shows is in the reporting currency with exactly its ISO 4217 minor
//! unit of decimals (two for USD). The one rule ([`tributary_model::ROUNDING`], half away from
//! zero) is applied once per account and day: each contract's ARR is converted exactly at its
//! booking rate, an account's ARR on a day is the sum of its active contracts' converted ARR
//! rounded to the cent, and each ledger line's delta is the difference between two such
//! rounded ARRs. So an account's lines add up to its ARR to the cent, the bridge's opening,
//! movements and closing are sums of those rounded figures and reconcile exactly, and a flat
//! renewal stays flat. A total over accounts can differ from the total converted and rounded
//! in one go by at most half a cent per account; finance reconciles against the sum of the
//! accounts, which is what every total here is. See [`ledger`] for a worked example.
//!
//! What this crate must not do: any I/O. It reads no files (CSV comes in as text), opens no
//! connection and touches no database; the store and gateway feed it and present its results
//! (SPEC §2: analytics core math does no I/O). That keeps every number here reproducible in a
//! unit test.

pub mod arr;
pub mod bridge;
pub mod fx;
pub mod learning;
pub mod ledger;
pub mod metrics;

use chrono::NaiveDate;
use tributary_model::Currency;

/// Errors of the analytics core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalyticsError {
    /// A line of an FX CSV that does not parse (line numbers are 1-based, the header is line 1).
    #[error("invalid fx csv at line {line}: {reason}")]
    FxCsv {
        /// The offending line.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The same currency and effective date given twice with different rates.
    #[error("duplicate fx rate for `{currency}` on {date}")]
    DuplicateRate {
        /// The currency.
        currency: Currency,
        /// The effective date.
        date: NaiveDate,
    },
    /// A rate that is zero or negative, or one for the reporting currency other than 1.
    #[error("invalid fx rate {rate} for `{currency}`: {reason}")]
    InvalidRate {
        /// The currency.
        currency: Currency,
        /// The rate as given.
        rate: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// No rate for the currency on or before the date.
    #[error("no fx rate for `{currency}` on or before {date}")]
    MissingRate {
        /// The currency.
        currency: Currency,
        /// The date asked for.
        date: NaiveDate,
    },
    /// A period whose start is after its end.
    #[error("invalid period: {from} is after {to}")]
    InvalidPeriod {
        /// The start asked for.
        from: NaiveDate,
        /// The end asked for.
        to: NaiveDate,
    },
    /// Amounts in different currencies that must share one (a ledger in one reporting
    /// currency).
    #[error("amounts in {first} and {other} cannot be combined")]
    MixedCurrencies {
        /// The currency met first.
        first: Currency,
        /// Another one.
        other: Currency,
    },
    /// A sum that does not fit a decimal.
    #[error("{0} overflows")]
    Overflow(&'static str),
    /// A subscription that cannot be put in a ledger.
    #[error("invalid subscription `{id}`: {reason}")]
    InvalidSubscription {
        /// The subscription's id.
        id: String,
        /// Why it is refused.
        reason: String,
    },
}
