//! Money as fixed-point integers: an amount is stored as `amount × 10⁴` in a `bigint` column
//! next to its ISO currency. That is exact on SQLite (which has no decimal type) and on
//! PostgreSQL, lets SQL `SUM` stay exact, and covers every ISO 4217 minor unit (at most three
//! decimals) with one to spare.

use crate::StoreError;
use rust_decimal::Decimal;

/// The number of decimal places kept.
pub const SCALE: u32 = 4;

/// `amount × 10⁴` as an integer; an error when the amount has more than four decimals or does
/// not fit.
pub fn to_e4(amount: Decimal) -> Result<i64, StoreError> {
    let normalized = amount.normalize();
    if normalized.scale() > SCALE {
        return Err(StoreError::Invalid(format!(
            "amount {amount} has more than {SCALE} decimal places"
        )));
    }
    let scaled = normalized
        .checked_mul(Decimal::from(10_i64.pow(SCALE)))
        .ok_or_else(|| StoreError::Invalid(format!("amount {amount} is too large")))?;
    i64::try_from(scaled).map_err(|_| StoreError::Invalid(format!("amount {amount} is too large")))
}

/// The inverse of [`to_e4`], with two decimals at least (`1200` → `0.12`, `10000` → `1.00`).
pub fn from_e4(e4: i64) -> Decimal {
    let mut d = Decimal::new(e4, SCALE).normalize();
    if d.scale() < 2 {
        d.rescale(2);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn round_trips_exactly() {
        for s in ["0", "0.01", "1234.5", "99999999.9999", "-12.3400"] {
            let d = Decimal::from_str(s).unwrap();
            assert_eq!(from_e4(to_e4(d).unwrap()), d, "{s}");
        }
        assert_eq!(from_e4(10_000).to_string(), "1.00");
        assert_eq!(from_e4(12_345).to_string(), "1.2345");
    }

    #[test]
    fn refuses_what_it_cannot_keep() {
        assert!(to_e4(Decimal::from_str("0.00001").unwrap()).is_err());
        assert!(to_e4(Decimal::MAX).is_err());
    }
}
