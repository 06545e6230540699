//! Pure mapping from Salesforce REST query records to the unified model. No I/O: every
//! function takes one record as `query`/`queryAll` returned it (`{"attributes":{..},"Id",..}`)
//! and returns a model entity or a [`MapError`] naming the object, id, field and value.
//!
//! Salesforce sends numbers and currency as JSON numbers, booleans as booleans, datetimes as
//! `2024-04-25T15:50:37.000+0000` (no colon in the offset) and dates as `YYYY-MM-DD`; a lenient
//! proxy may turn any of them into strings, so every reader accepts both.

use chrono::{DateTime, Months, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;
use tributary_model::{
    Account, Currency, ExternalRef, Money, Person, Segment, Subscription, SubscriptionStatus,
    normalize_domain, normalize_email,
};

/// The `system` of every [`ExternalRef`] this connector emits.
pub const SYSTEM: &str = "salesforce";

/// A field that could not be mapped; the record is rejected with this as its reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object} `{id}`: field `{field}` {}: {problem}", value.as_ref().map_or_else(|| "is missing".to_owned(), |v| format!("has invalid value `{v}`")))]
pub struct MapError {
    /// The sObject (`Account`, `Contact`, `Opportunity`).
    pub object: &'static str,
    /// The record id.
    pub id: String,
    /// The offending field.
    pub field: &'static str,
    /// The value as received; `None` when it was missing or null.
    pub value: Option<String>,
    /// What was expected.
    pub problem: String,
}

/// Parses a Salesforce datetime: `2024-04-25T15:50:37.000+0000`, or RFC 3339.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A record's `Id`, when it has one.
pub fn record_id(raw: &Value) -> Option<String> {
    raw.get("Id")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A record's `SystemModstamp`.
pub fn modstamp(raw: &Value) -> Option<DateTime<Utc>> {
    raw.get("SystemModstamp")
        .and_then(Value::as_str)
        .and_then(parse_datetime)
}

/// Whether the record is soft-deleted (`IsDeleted`, only ever true through `queryAll`).
pub fn is_deleted(raw: &Value) -> bool {
    matches!(raw.get("IsDeleted"), Some(Value::Bool(true)))
        || raw.get("IsDeleted").and_then(Value::as_str) == Some("true")
}

/// Field access with errors that name the record.
struct Fields<'a> {
    raw: &'a Value,
    object: &'static str,
    id: String,
}

impl<'a> Fields<'a> {
    fn new(raw: &'a Value, object: &'static str) -> Self {
        Self {
            raw,
            object,
            id: record_id(raw).unwrap_or_else(|| "?".to_owned()),
        }
    }

    fn error(&self, field: &'static str, value: Option<&Value>, problem: &str) -> MapError {
        MapError {
            object: self.object,
            id: self.id.clone(),
            field,
            value: value.map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            problem: problem.to_owned(),
        }
    }

    /// A non-empty string value.
    fn text(&self, field: &str) -> Option<String> {
        match self.raw.get(field)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        }
    }

    fn present(&self, field: &str) -> Option<&'a Value> {
        match self.raw.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(v) => Some(v),
        }
    }

    fn decimal(&self, field: &'static str) -> Result<Option<Decimal>, MapError> {
        let Some(v) = self.present(field) else {
            return Ok(None);
        };
        let text = match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.trim().to_owned(),
            _ => return Err(self.error(field, Some(v), "expected a number")),
        };
        Decimal::from_str(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .map(Some)
            .map_err(|_| self.error(field, Some(v), "expected a number"))
    }

    fn int(&self, field: &'static str) -> Result<Option<i64>, MapError> {
        match self.decimal(field)? {
            None => Ok(None),
            Some(d) if d.fract().is_zero() => i64::try_from(d)
                .map(Some)
                .map_err(|_| self.error(field, self.present(field), "expected an integer")),
            Some(_) => Err(self.error(field, self.present(field), "expected an integer")),
        }
    }

    fn datetime(&self, field: &'static str) -> Result<Option<DateTime<Utc>>, MapError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => parse_datetime(s).map(Some).ok_or_else(|| {
                self.error(
                    field,
                    self.present(field),
                    "expected a datetime like 2024-04-25T15:50:37.000+0000",
                )
            }),
            Some(v) => Err(self.error(field, Some(v), "expected a datetime string")),
        }
    }

    fn date(&self, field: &'static str) -> Result<Option<NaiveDate>, MapError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map(Some)
                .map_err(|_| self.error(field, self.present(field), "expected YYYY-MM-DD")),
            Some(v) => Err(self.error(field, Some(v), "expected a date string")),
        }
    }

    fn bool(&self, field: &'static str) -> Result<Option<bool>, MapError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(self.error(field, Some(v), "expected true or false")),
        }
    }

    fn account(&self, instance: &str) -> Option<ExternalRef> {
        self.text("AccountId")
            .map(|id| ExternalRef::new(SYSTEM, instance, "Account", id))
    }
}

/// Maps an `Account`. The segment follows `NumberOfEmployees` (under 200 SMB, under 2,000
/// mid-market, else enterprise); the region is `BillingCountry`; the owner is `OwnerId`.
pub fn map_account(raw: &Value) -> Result<Account, MapError> {
    let f = Fields::new(raw, "Account");
    let employees = f.int("NumberOfEmployees")?;
    Ok(Account {
        name: f.text("Name").unwrap_or_default(),
        domain: f.text("Website").and_then(|w| normalize_domain(&w)),
        segment: employees.map(|n| match n {
            n if n < 200 => Segment::Smb,
            n if n < 2000 => Segment::MidMarket,
            _ => Segment::Enterprise,
        }),
        industry: f.text("Industry"),
        region: f.text("BillingCountry"),
        owner: f.text("OwnerId"),
        seats: None,
        created_at: f.datetime("CreatedDate")?,
    })
}

/// Maps a `Contact` to a [`Person`] of the account `AccountId`. An address that is not an
/// email becomes `None`, not an error.
pub fn map_contact(raw: &Value, instance: &str) -> Result<Person, MapError> {
    let f = Fields::new(raw, "Contact");
    let name = [f.text("FirstName"), f.text("LastName")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Person {
        name,
        email: f.text("Email").and_then(|e| normalize_email(&e)),
        title: f.text("Title"),
        role: None,
        account: f.account(instance),
        first_seen_at: f.datetime("CreatedDate")?,
    })
}

/// Whether an opportunity is closed-won: `IsWon`, else the default stage `Closed Won`.
pub fn is_won(raw: &Value) -> bool {
    let f = Fields::new(raw, "Opportunity");
    match f.bool("IsWon") {
        Ok(Some(won)) => won,
        _ => f.text("StageName").as_deref() == Some("Closed Won"),
    }
}

/// Maps a closed-won `Opportunity` to a [`Subscription`]; any other is `Ok(None)`.
///
/// The term starts on `CloseDate` and lasts the custom `Term_Months__c` (12 when absent); ARR
/// is the custom `ARR__c` when present, else `Amount × 12 / term` rounded to cents, in
/// `CurrencyIsoCode` (else `default_currency`); the status is as seen on `today`.
pub fn map_opportunity(
    raw: &Value,
    instance: &str,
    default_currency: &Currency,
    today: NaiveDate,
) -> Result<Option<Subscription>, MapError> {
    if !is_won(raw) {
        return Ok(None);
    }
    let f = Fields::new(raw, "Opportunity");
    let term = match f.int("Term_Months__c")? {
        None => 12,
        Some(n) if (1..=120).contains(&n) => n as u32,
        Some(_) => {
            return Err(f.error(
                "Term_Months__c",
                f.present("Term_Months__c"),
                "expected a term between 1 and 120 months",
            ));
        }
    };
    let arr = match f.decimal("ARR__c")? {
        Some(arr) => arr,
        None => match f.decimal("Amount")? {
            Some(amount) if term == 12 => amount,
            Some(amount) => (amount * Decimal::from(12) / Decimal::from(term)).round_dp(2),
            None => {
                return Err(f.error(
                    "Amount",
                    None,
                    "a closed-won opportunity needs an Amount or ARR__c to derive ARR",
                ));
            }
        },
    };
    let currency = match f.text("CurrencyIsoCode") {
        None => default_currency.clone(),
        Some(code) => Currency::parse(&code).map_err(|_| {
            f.error(
                "CurrencyIsoCode",
                f.present("CurrencyIsoCode"),
                "expected an ISO 4217 code",
            )
        })?,
    };
    let Some(start) = f.date("CloseDate")? else {
        return Err(f.error(
            "CloseDate",
            None,
            "a closed-won opportunity needs a close date to start its term",
        ));
    };
    let end = start.checked_add_months(Months::new(term)).ok_or_else(|| {
        f.error(
            "CloseDate",
            f.present("CloseDate"),
            "term ends out of range",
        )
    })?;
    Ok(Some(Subscription {
        account: f.account(instance),
        plan: f
            .text("Name")
            .or_else(|| f.text("Type"))
            .unwrap_or_else(|| "default".to_owned()),
        start_date: start,
        end_date: Some(end),
        arr: Money::new(arr, currency),
        status: SubscriptionStatus::on(start, Some(end), today),
        motion: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
    }

    #[test]
    fn datetimes_without_the_offset_colon_parse() {
        let t = parse_datetime("2024-04-25T15:50:37.000+0000").unwrap();
        assert_eq!(t.timestamp(), 1_714_060_237);
        assert_eq!(parse_datetime("2024-04-25T15:50:37Z"), Some(t));
        assert_eq!(parse_datetime("yesterday"), None);
        let raw = json!({"Id": "001", "SystemModstamp": "2024-04-25T15:50:37.000+0000", "IsDeleted": true});
        assert_eq!(modstamp(&raw), Some(t));
        assert!(is_deleted(&raw));
        assert!(!is_deleted(&json!({"Id": "001"})));
    }

    #[test]
    fn account_maps_standard_fields() {
        let raw = json!({"attributes": {"type": "Account"}, "Id": "001A", "Name": "Acme",
            "Website": "https://www.Acme.com/about", "NumberOfEmployees": 450, "Industry": "Software",
            "BillingCountry": "Germany", "OwnerId": "005X", "CreatedDate": "2022-01-03T10:00:00.000+0000"});
        let a = map_account(&raw).unwrap();
        assert_eq!(a.name, "Acme");
        assert_eq!(a.domain.as_deref(), Some("acme.com"));
        assert_eq!(a.segment, Some(Segment::MidMarket));
        assert_eq!(a.region.as_deref(), Some("Germany"));
        assert_eq!(a.owner.as_deref(), Some("005X"));
        assert!(a.created_at.is_some());
        let bad = json!({"Id": "001B", "NumberOfEmployees": "many"});
        let err = map_account(&bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Account `001B`: field `NumberOfEmployees` has invalid value `many`: expected a number"
        );
    }

    #[test]
    fn contact_points_at_its_account() {
        let raw = json!({"Id": "003A", "AccountId": "001A", "FirstName": "Ada", "LastName": "Lovelace",
            "Email": "ADA@acme.com", "Title": "CTO"});
        let p = map_contact(&raw, "sf").unwrap();
        assert_eq!(p.name, "Ada Lovelace");
        assert_eq!(p.email.as_deref(), Some("ada@acme.com"));
        assert_eq!(
            p.account,
            Some(ExternalRef::new("salesforce", "sf", "Account", "001A"))
        );
    }

    #[test]
    fn won_opportunities_become_subscriptions_with_arr() {
        let base = json!({"Id": "006A", "AccountId": "001A", "Name": "Acme renewal", "IsWon": true,
            "StageName": "Closed Won", "Amount": 6000.5, "CloseDate": "2026-03-01", "CurrencyIsoCode": "EUR"});
        let s = map_opportunity(&base, "sf", &usd(), today())
            .unwrap()
            .unwrap();
        assert_eq!(s.arr.amount, Decimal::from_str("6000.5").unwrap());
        assert_eq!(s.arr.currency.as_str(), "EUR");
        assert_eq!(s.end_date, NaiveDate::from_ymd_opt(2027, 3, 1));
        let mut six = base.clone();
        six["Term_Months__c"] = json!(6);
        six["CurrencyIsoCode"] = Value::Null;
        let s = map_opportunity(&six, "sf", &usd(), today())
            .unwrap()
            .unwrap();
        assert_eq!(s.arr.amount, Decimal::from_str("12001.00").unwrap());
        assert_eq!(s.arr.currency.as_str(), "USD");
        let mut custom = six.clone();
        custom["ARR__c"] = json!(9000);
        let s = map_opportunity(&custom, "sf", &usd(), today())
            .unwrap()
            .unwrap();
        assert_eq!(s.arr.amount, Decimal::from(9000));
        let mut lost = base.clone();
        lost["IsWon"] = json!(false);
        assert_eq!(map_opportunity(&lost, "sf", &usd(), today()), Ok(None));
        let mut no_amount = base.clone();
        no_amount["Amount"] = Value::Null;
        let err = map_opportunity(&no_amount, "sf", &usd(), today()).unwrap_err();
        assert_eq!(err.field, "Amount");
        let mut bad_date = base;
        bad_date["CloseDate"] = json!("03/01/2026");
        let err = map_opportunity(&bad_date, "sf", &usd(), today()).unwrap_err();
        assert!(err.to_string().contains("`03/01/2026`"), "{err}");
    }
}
