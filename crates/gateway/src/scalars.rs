//! The scalars and value types every domain shares: `Date`, `DateTime` and `Money`.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value};
use chrono::{NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;

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

/// The day `as_of` names, today (UTC) when absent.
pub(crate) fn day(as_of: Option<Date>) -> NaiveDate {
    as_of.map_or_else(|| Utc::now().date_naive(), |d| d.0)
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

/// An optional instant as the scalar.
pub(crate) fn instant(t: Option<chrono::DateTime<Utc>>) -> Option<DateTime> {
    t.map(DateTime)
}

/// An exact amount of money. `amount` is a decimal string (`"1200.50"`), never a float, with
/// exactly the currency's ISO 4217 minor-unit decimals (`"1200.00"` USD, `"1200"` JPY).
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct Money {
    /// The amount, exact, with exactly the currency's minor-unit decimals (two for USD, EUR
    /// and GBP, none for JPY).
    pub amount: Decimal,
    /// ISO 4217 currency code, e.g. `USD`.
    pub currency: String,
}

impl Money {
    /// `amount` in `currency`, written as the API writes amounts: with exactly the currency's
    /// minor-unit decimals (`7` → `7.00` USD). Every amount Tributary derives already is a
    /// whole number of minor units (see `tributary_model::ROUNDING`), so this only writes the
    /// decimals; an amount a source gave with more (a CRM field with four decimals) is rounded
    /// by the same rule.
    pub(crate) fn new(amount: Decimal, currency: &tributary_model::Currency) -> Self {
        Money {
            amount: currency.round(amount),
            currency: currency.as_str().to_owned(),
        }
    }
}

impl From<&tributary_model::Money> for Money {
    fn from(m: &tributary_model::Money) -> Self {
        Money::new(m.amount, &m.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn amounts_have_exactly_the_currencys_minor_unit_decimals() {
        for (given, code, shown) in [
            ("7", "USD", "7.00"),
            ("1.2350", "USD", "1.24"),
            ("1201.00", "EUR", "1201.00"),
            ("-0.0001", "USD", "0.00"),
            ("-0.005", "USD", "-0.01"),
            ("0", "GBP", "0.00"),
            ("220291575.8064", "USD", "220291575.81"),
            ("1200.00", "JPY", "1200"),
            ("12", "KWD", "12.000"),
        ] {
            let currency = tributary_model::Currency::parse(code).unwrap();
            let m = Money::new(Decimal::from_str(given).unwrap(), &currency);
            assert_eq!(m.amount.to_string(), shown, "{given} {code}");
            // As GraphQL writes it: a string with those decimals.
            let json = async_graphql::to_value(m.amount).unwrap();
            assert_eq!(json, Value::String(shown.to_owned()), "{given} {code}");
        }
    }
}
