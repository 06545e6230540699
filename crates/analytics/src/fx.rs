//! Dated exchange rates into one reporting currency.
//!
//! A rate is "units of reporting currency per unit of the currency", effective from its date
//! until the currency's next dated rate: a lookup takes the latest rate on or before the day
//! asked for, and fails when there is none (an amount is never converted at a guessed rate).
//! The reporting currency itself always converts at exactly 1.
//!
//! A rate can also be held the other way round, as "units of the currency per unit of the
//! reporting currency" ([`Quote::Inverse`]) — how Salesforce's `DatedConversionRate` quotes
//! against the corporate currency. Such an amount is *divided* by the rate, exactly as
//! Salesforce converts it, rather than multiplied by a rounded reciprocal, so the ledger
//! agrees with the CRM's own converted figures.
//!
//! Rounding: [`FxTable::convert`] rounds the converted amount to the reporting currency's
//! minor unit (ISO 4217: cents for USD, whole yen for JPY), half away from zero — the one
//! rule of [`tributary_model::ROUNDING`]. [`FxTable::convert_exact`] leaves it unrounded, for
//! amounts that are summed before the sum is rounded once: the ledger converts each contract
//! exactly and rounds an account's ARR (see [`crate::ledger`] for why and for what reconciles).

use crate::AnalyticsError;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;
use tributary_model::{Currency, FxConversion, FxQuote, Money};

/// How one dated rate is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    /// Units of the reporting currency per unit of the currency: amounts are multiplied.
    Direct(Decimal),
    /// Units of the currency per unit of the reporting currency: amounts are divided.
    Inverse(Decimal),
}

impl Quote {
    fn value(self) -> Decimal {
        match self {
            Quote::Direct(r) | Quote::Inverse(r) => r,
        }
    }

    /// The quote as the model records it.
    fn conversion(self, rate_date: Option<NaiveDate>) -> FxConversion {
        let (rate, quote) = match self {
            Quote::Direct(r) => (r, FxQuote::Multiply),
            Quote::Inverse(r) => (r, FxQuote::Divide),
        };
        FxConversion {
            rate,
            quote,
            rate_date,
        }
    }

    /// `amount` in the reporting currency, unrounded (division keeps 28 significant digits).
    fn apply(self, amount: Decimal) -> Decimal {
        match self {
            Quote::Direct(r) => amount * r,
            Quote::Inverse(r) => amount / r,
        }
    }
}

/// Dated rates per currency into a reporting currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxTable {
    reporting: Currency,
    rates: BTreeMap<Currency, BTreeMap<NaiveDate, Quote>>,
}

impl FxTable {
    /// An empty table reporting in `reporting`: only that currency converts until rates are added.
    pub fn new(reporting: Currency) -> Self {
        Self {
            reporting,
            rates: BTreeMap::new(),
        }
    }

    /// The reporting currency.
    pub fn reporting(&self) -> &Currency {
        &self.reporting
    }

    /// Adds the rate of `currency` effective from `date`. Refuses non-positive rates, a rate
    /// for the reporting currency other than 1, and a second, different rate for the same
    /// currency and date (giving the same rate again is a no-op).
    pub fn insert(
        &mut self,
        currency: Currency,
        date: NaiveDate,
        rate: Decimal,
    ) -> Result<(), AnalyticsError> {
        self.insert_quote(currency, date, Quote::Direct(rate))
    }

    /// Adds `quote` for `currency` from `date`, with the checks of [`FxTable::insert`].
    pub fn insert_quote(
        &mut self,
        currency: Currency,
        date: NaiveDate,
        quote: Quote,
    ) -> Result<(), AnalyticsError> {
        let rate = quote.value();
        if rate <= Decimal::ZERO {
            return Err(AnalyticsError::InvalidRate {
                currency,
                rate: rate.to_string(),
                reason: "rates must be positive",
            });
        }
        if currency == self.reporting && rate != Decimal::ONE {
            return Err(AnalyticsError::InvalidRate {
                currency,
                rate: rate.to_string(),
                reason: "the reporting currency converts at 1",
            });
        }
        let dated = self.rates.entry(currency.clone()).or_default();
        match dated.get(&date) {
            Some(existing) if *existing != quote => {
                Err(AnalyticsError::DuplicateRate { currency, date })
            }
            _ => {
                dated.insert(date, quote);
                Ok(())
            }
        }
    }

    /// [`FxTable::insert`] in builder form.
    pub fn with_rate(
        mut self,
        currency: Currency,
        date: NaiveDate,
        rate: Decimal,
    ) -> Result<Self, AnalyticsError> {
        self.insert(currency, date, rate)?;
        Ok(self)
    }

    /// Parses CSV text with the header `date,currency,rate` and one rate per line
    /// (`2025-01-01,EUR,1.08`). Strict: the header must be exactly that, every line has three
    /// fields, dates are ISO `YYYY-MM-DD`, currencies three letters, rates positive decimals;
    /// a final newline and `\r\n` endings are accepted, blank lines are not. Errors name the
    /// 1-based line (the header is line 1).
    pub fn from_csv(reporting: Currency, text: &str) -> Result<Self, AnalyticsError> {
        let mut table = Self::new(reporting);
        let text = text.strip_suffix('\n').unwrap_or(text);
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let err = |line: usize, reason: String| AnalyticsError::FxCsv { line, reason };
        match lines.next() {
            Some(h) if h.trim() == "date,currency,rate" => {}
            Some(h) => {
                return Err(err(
                    1,
                    format!("expected the header `date,currency,rate`, found `{h}`"),
                ));
            }
            None => return Err(err(1, "missing header".to_owned())),
        }
        for (i, line) in lines.enumerate() {
            let n = i + 2;
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let [date, currency, rate] = fields.as_slice() else {
                return Err(err(
                    n,
                    format!("expected 3 fields, found {}: `{line}`", fields.len()),
                ));
            };
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|e| err(n, format!("invalid date `{date}`: {e}")))?;
            let currency = Currency::parse(currency).map_err(|e| err(n, e.to_string()))?;
            let rate = Decimal::from_str(rate)
                .map_err(|e| err(n, format!("invalid rate `{rate}`: {e}")))?;
            table
                .insert(currency, date, rate)
                .map_err(|e| err(n, e.to_string()))?;
        }
        Ok(table)
    }

    /// The rate of `currency` on `date`: the latest one effective on or before it.
    pub fn rate(&self, currency: &Currency, date: NaiveDate) -> Result<Quote, AnalyticsError> {
        self.dated_rate(currency, date).map(|(quote, _)| quote)
    }

    /// [`FxTable::rate`] with the day the rate is effective from (`None` for the reporting
    /// currency, which converts at 1 on every day).
    fn dated_rate(
        &self,
        currency: &Currency,
        date: NaiveDate,
    ) -> Result<(Quote, Option<NaiveDate>), AnalyticsError> {
        if *currency == self.reporting {
            return Ok((Quote::Direct(Decimal::ONE), None));
        }
        self.rates
            .get(currency)
            .and_then(|dated| dated.range(..=date).next_back())
            .map(|(day, rate)| (*rate, Some(*day)))
            .ok_or_else(|| AnalyticsError::MissingRate {
                currency: currency.clone(),
                date,
            })
    }

    /// `money` in the reporting currency at the rate of `date`, rounded to the reporting
    /// currency's minor unit, half away from zero ([`Currency::round`]).
    pub fn convert(&self, money: &Money, date: NaiveDate) -> Result<Money, AnalyticsError> {
        self.convert_recorded(money, date).map(|(m, _)| m)
    }

    /// [`FxTable::convert`], with the rate it used and the day that rate is effective from.
    pub fn convert_recorded(
        &self,
        money: &Money,
        date: NaiveDate,
    ) -> Result<(Money, FxConversion), AnalyticsError> {
        let (exact, conversion) = self.convert_exact(money, date)?;
        Ok((exact.round_to_minor_unit(), conversion))
    }

    /// `money` in the reporting currency at the rate of `date`, *not* rounded (a division
    /// keeps 28 significant digits), with the rate used: for amounts that are added up before
    /// the sum is rounded once (an account's ARR, see [`crate::ledger`]).
    pub fn convert_exact(
        &self,
        money: &Money,
        date: NaiveDate,
    ) -> Result<(Money, FxConversion), AnalyticsError> {
        let (rate, rate_date) = self.dated_rate(&money.currency, date)?;
        Ok((
            Money::new(rate.apply(money.amount), self.reporting.clone()),
            rate.conversion(rate_date),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::from_str(s).unwrap()
    }
    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn cur(s: &str) -> Currency {
        Currency::parse(s).unwrap()
    }

    #[test]
    fn lookup_takes_the_latest_rate_on_or_before_the_date() {
        let fx = FxTable::from_csv(
            Currency::usd(),
            "date,currency,rate\n2025-01-01,EUR,1.08\n2025-07-01,EUR,1.10\r\n2025-03-01,GBP,1.27\n",
        )
        .unwrap();
        let eur = cur("EUR");
        assert_eq!(
            fx.rate(&eur, d("2025-01-01")).unwrap(),
            Quote::Direct(dec("1.08"))
        );
        assert_eq!(
            fx.rate(&eur, d("2025-06-30")).unwrap(),
            Quote::Direct(dec("1.08"))
        );
        assert_eq!(
            fx.rate(&eur, d("2025-07-01")).unwrap(),
            Quote::Direct(dec("1.10"))
        );
        assert_eq!(
            fx.rate(&eur, d("2030-01-01")).unwrap(),
            Quote::Direct(dec("1.10"))
        );
        assert_eq!(
            fx.rate(&eur, d("2024-12-31")),
            Err(AnalyticsError::MissingRate {
                currency: eur,
                date: d("2024-12-31")
            })
        );
        assert!(fx.rate(&cur("GBP"), d("2025-02-28")).is_err());
        assert!(fx.rate(&cur("JPY"), d("2025-08-01")).is_err());
        assert_eq!(
            fx.rate(&Currency::usd(), d("1900-01-01")).unwrap(),
            Quote::Direct(Decimal::ONE)
        );
    }

    #[test]
    fn inverse_quotes_divide_like_the_crm_does() {
        // Salesforce: 1 USD = 0.925926 EUR; 1000 EUR is 1000 / 0.925926 USD.
        let mut fx = FxTable::new(Currency::usd());
        fx.insert_quote(cur("EUR"), d("2000-01-01"), Quote::Inverse(dec("0.925926")))
            .unwrap();
        let m = fx
            .convert(&Money::new(dec("1000"), cur("EUR")), d("2025-01-01"))
            .unwrap();
        assert_eq!(m.amount.to_string(), "1080.00");
        assert_eq!(m.currency, Currency::usd());
        // The same date may not carry two different quotes.
        assert!(
            fx.insert_quote(cur("EUR"), d("2000-01-01"), Quote::Direct(dec("1.08")))
                .is_err()
        );
        assert!(
            fx.insert_quote(cur("EUR"), d("2001-01-01"), Quote::Inverse(dec("0")))
                .is_err()
        );
    }

    #[test]
    fn csv_errors_name_the_line() {
        let check = |text: &str, line: usize, needle: &str| {
            let e = FxTable::from_csv(Currency::usd(), text).unwrap_err();
            match &e {
                AnalyticsError::FxCsv { line: l, reason } => {
                    assert_eq!(*l, line, "{e}");
                    assert!(reason.contains(needle), "{e}");
                }
                other => panic!("unexpected {other:?}"),
            }
        };
        check("", 1, "header");
        check("day,currency,rate\n", 1, "header");
        check("date,currency,rate\n2025-01-01,EUR\n", 2, "found 2");
        check("date,currency,rate\n2025-01-01,EUR,1.08,x\n", 2, "found 4");
        check(
            "date,currency,rate\n2025-01-01,EUR,1.08\n\n2025-02-01,EUR,1.1",
            3,
            "found 1",
        );
        check(
            "date,currency,rate\n2025-01-01,EUR,1.08\n2025-13-01,EUR,1.1\n",
            3,
            "date",
        );
        check("date,currency,rate\n2025-01-01,EURO,1.08\n", 2, "currency");
        check("date,currency,rate\n2025-01-01,EUR,abc\n", 2, "rate");
        check("date,currency,rate\n2025-01-01,EUR,0\n", 2, "positive");
        check("date,currency,rate\n2025-01-01,EUR,-1.2\n", 2, "positive");
        check("date,currency,rate\n2025-01-01,USD,1.2\n", 2, "reporting");
        check(
            "date,currency,rate\n2025-01-01,EUR,1.08\n2025-01-01,EUR,1.09\n",
            3,
            "duplicate",
        );
        // The same rate twice is harmless; an explicit USD rate of 1 too.
        assert!(
            FxTable::from_csv(
                Currency::usd(),
                "date,currency,rate\n2025-01-01,EUR,1.08\n2025-01-01,eur,1.080\n2025-01-01,USD,1\n"
            )
            .is_ok()
        );
    }

    #[test]
    fn conversion_rounds_half_away_from_zero_to_the_minor_unit() {
        let fx = FxTable::new(Currency::usd())
            .with_rate(cur("EUR"), d("2025-01-01"), dec("1.08"))
            .unwrap()
            .with_rate(cur("EUR"), d("2025-07-01"), dec("1.1"))
            .unwrap()
            .with_rate(cur("JPY"), d("2025-01-01"), dec("0.00665"))
            .unwrap()
            .with_rate(cur("CHF"), d("2025-01-01"), dec("0.5"))
            .unwrap();
        let on = d("2025-05-05");
        let conv = |amount: &str, c: &str| fx.convert(&Money::new(dec(amount), cur(c)), on);
        let shown = |amount: &str, c: &str| conv(amount, c).unwrap().amount.to_string();
        // 1234.56 × 1.08 = 1333.3248: cents, with exactly two decimals.
        assert_eq!(shown("1234.56", "EUR"), "1333.32");
        assert_eq!(conv("1234.56", "EUR").unwrap().currency, Currency::usd());
        assert_eq!(shown("1000", "EUR"), "1080.00");
        // 1.5 × 0.00665 = 0.009975 → 0.01; 0.5 × 0.00665 = 0.003325 → 0.00.
        assert_eq!(shown("1.5", "JPY"), "0.01");
        assert_eq!(shown("0.5", "JPY"), "0.00");
        // True midpoints: 0.01 × 0.5 = 0.005 → 0.01 (half away from zero; banker's: 0.00).
        assert_eq!(shown("0.01", "CHF"), "0.01");
        assert_eq!(shown("-0.01", "CHF"), "-0.01");
        assert_eq!(shown("0.03", "CHF"), "0.02");
        assert_eq!(shown("10", "USD"), "10.00");
        assert!(conv("1", "GBP").is_err());
        // The rate and the day it is effective from are recorded.
        let (m, used) = fx
            .convert_recorded(&Money::new(dec("100"), cur("EUR")), d("2025-09-30"))
            .unwrap();
        assert_eq!(m.amount.to_string(), "110.00");
        assert_eq!(
            used,
            FxConversion {
                rate: dec("1.1"),
                quote: FxQuote::Multiply,
                rate_date: Some(d("2025-07-01")),
            }
        );
        let (_, same) = fx
            .convert_recorded(&Money::new(dec("100"), Currency::usd()), on)
            .unwrap();
        assert_eq!((same.rate, same.rate_date), (Decimal::ONE, None));
        // A reporting currency without minor unit rounds to whole units.
        let yen = FxTable::new(cur("JPY"))
            .with_rate(Currency::usd(), d("2025-01-01"), dec("151.37"))
            .unwrap();
        let m = yen
            .convert(&Money::new(dec("12.34"), Currency::usd()), on)
            .unwrap();
        assert_eq!(m.amount.to_string(), "1868");
    }
}
