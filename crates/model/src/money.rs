//! Exact money: a decimal amount and an ISO 4217 currency. Never a float.
//!
//! # Rounding
//!
//! One rule, in one place: an amount shown in a currency has exactly that currency's ISO 4217
//! minor unit of decimals ([`Currency::minor_units`]: 2 for USD, EUR and GBP, 0 for JPY, 3
//! for KWD…), and an amount that has more (a conversion, `amount × 12 / term`) is rounded to
//! it **half away from zero** ([`ROUNDING`]: 1.005 → 1.01, −1.005 → −1.01, 0.5 JPY → 1 JPY),
//! the commercial rounding CRMs and invoicing systems apply. [`Money::round_to_minor_unit`]
//! applies it. Amounts are rounded where they are *derived* (each contract's converted ARR,
//! each ARR computed from an amount and a term), never after they are added up, so a total
//! is the exact sum of the rounded figures it is made of.

use crate::ModelError;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code, stored upper-case (`USD`, `EUR`, `JPY`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    /// Parses a three-letter code, case-insensitively.
    pub fn parse(code: &str) -> Result<Self, ModelError> {
        let code = code.trim();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(code.to_ascii_uppercase()))
        } else {
            Err(ModelError::InvalidCurrency(code.to_owned()))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// US dollars, the default reporting currency.
    pub fn usd() -> Self {
        Self("USD".to_owned())
    }

    /// The number of decimals of the currency's minor unit (ISO 4217): 0 for currencies
    /// without a minor unit in use (JPY, KRW, ISK, CLP…), 3 for the dinars and rials divided
    /// into a thousand (BHD, IQD, JOD, KWD, LYD, OMR, TND), 4 for the Unidad de Fomento units
    /// (CLF, UYW), and 2 for every other code, known or not.
    pub fn minor_units(&self) -> u32 {
        match self.0.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            "CLF" | "UYW" => 4,
            _ => 2,
        }
    }

    /// `amount` rounded to this currency's minor unit by [`ROUNDING`], written with exactly
    /// [`Currency::minor_units`] decimals (`7` → `7.00`, `1.005` → `1.01` in USD; `1234.5` →
    /// `1235` in JPY).
    pub fn round(&self, amount: Decimal) -> Decimal {
        let dp = self.minor_units();
        let mut rounded = amount.round_dp_with_strategy(dp, ROUNDING);
        rounded.rescale(dp);
        // No negative zero: −0.001 USD is written 0.00.
        if rounded.is_zero() {
            rounded.set_sign_positive(true);
        }
        rounded
    }
}

/// How an amount is rounded to its currency's minor unit: half away from zero.
pub const ROUNDING: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;

impl TryFrom<String> for Currency {
    type Error = ModelError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.0
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An exact amount of money in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount, exact.
    pub amount: Decimal,
    /// The currency of `amount`.
    pub currency: Currency,
}

impl Money {
    /// Builds an amount in a currency.
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self::new(Decimal::ZERO, currency)
    }

    /// `amount` in `currency`, rounded to the currency's minor unit ([`Currency::round`]).
    pub fn rounded(amount: Decimal, currency: Currency) -> Self {
        Self::new(currency.round(amount), currency)
    }

    /// This amount rounded to its currency's minor unit ([`Currency::round`]).
    pub fn round_to_minor_unit(&self) -> Money {
        Money::rounded(self.amount, self.currency.clone())
    }

    /// Whether the amount is a whole number of the currency's minor unit (`1.10` and `1.1` in
    /// USD are, `1.105` is not).
    pub fn is_whole_minor_units(&self) -> bool {
        self.amount.normalize().scale() <= self.currency.minor_units()
    }

    /// Adds two amounts of the same currency.
    pub fn checked_add(&self, other: &Money) -> Result<Money, ModelError> {
        if self.currency != other.currency {
            return Err(ModelError::CurrencyMismatch(
                self.currency.to_string(),
                other.currency.to_string(),
            ));
        }
        Ok(Money::new(
            self.amount + other.amount,
            self.currency.clone(),
        ))
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn currency_is_normalised_and_validated() {
        assert_eq!(Currency::parse(" eur ").unwrap().as_str(), "EUR");
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("U$D").is_err());
        assert!(serde_json::from_str::<Currency>("\"us\"").is_err());
    }

    #[test]
    fn money_adds_exactly_and_refuses_mixed_currencies() {
        let a = Money::new(Decimal::from_str("0.10").unwrap(), Currency::usd());
        let b = Money::new(Decimal::from_str("0.20").unwrap(), Currency::usd());
        assert_eq!(
            a.checked_add(&b).unwrap().amount,
            Decimal::from_str("0.30").unwrap()
        );
        let e = Money::new(Decimal::ONE, Currency::parse("EUR").unwrap());
        assert!(matches!(
            a.checked_add(&e),
            Err(ModelError::CurrencyMismatch(_, _))
        ));
    }

    #[test]
    fn amounts_round_half_away_from_zero_to_the_minor_unit() {
        let dec = |s: &str| Decimal::from_str(s).unwrap();
        let cur = |s: &str| Currency::parse(s).unwrap();
        for (amount, code, shown) in [
            ("7", "USD", "7.00"),
            ("1.005", "USD", "1.01"),
            ("-1.005", "USD", "-1.01"),
            ("1.0049999", "EUR", "1.00"),
            ("220291575.8064", "USD", "220291575.81"),
            ("1714.285714", "GBP", "1714.29"),
            ("0.5", "JPY", "1"),
            ("1234.4999", "JPY", "1234"),
            ("-2.5", "JPY", "-3"),
            ("1.0005", "KWD", "1.001"),
            ("3", "KWD", "3.000"),
            ("1.00005", "CLF", "1.0001"),
            ("9.999", "XYZ", "10.00"),
            ("-0.001", "USD", "0.00"),
        ] {
            let m = Money::rounded(dec(amount), cur(code));
            assert_eq!(m.amount.to_string(), shown, "{amount} {code}");
            assert!(m.is_whole_minor_units(), "{m}");
        }
        assert!(!Money::new(dec("1.105"), Currency::usd()).is_whole_minor_units());
        assert!(Money::new(dec("1.1"), Currency::usd()).is_whole_minor_units());
        assert!(!Money::new(dec("1.5"), cur("JPY")).is_whole_minor_units());
        assert_eq!(cur("jpy").minor_units(), 0);
        assert_eq!(Currency::usd().minor_units(), 2);
        assert_eq!(cur("BHD").minor_units(), 3);
    }

    #[test]
    fn money_serialises_amount_as_string() {
        let m = Money::new(Decimal::from_str("1234.50").unwrap(), Currency::usd());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount":"1234.50","currency":"USD"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
    }
}
