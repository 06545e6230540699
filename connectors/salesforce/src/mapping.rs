//! Pure mapping from Salesforce REST query records to the unified model. No I/O: every
//! function takes one record as `query`/`queryAll` returned it (`{"attributes":{..},"Id",..}`)
//! and returns a model entity or a [`MapError`] naming the object, id, field and value.
//!
//! Salesforce sends numbers and currency as JSON numbers, booleans as booleans, datetimes as
//! `2024-04-25T15:50:37.000+0000` (no colon in the offset) and dates as `YYYY-MM-DD`; a lenient
//! proxy may turn any of them into strings, so every reader accepts both.

use chrono::{DateTime, Days, Months, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;
use tributary_connector::{ArrProblem, RevenueMapping};
use tributary_model::{
    Account, Currency, DealContact, ExternalRef, FxRate, Money, Person, Segment, Subscription,
    SubscriptionStatus, normalize_domain, normalize_email,
};

/// The `system` of every [`ExternalRef`] this connector emits.
pub const SYSTEM: &str = "salesforce";

/// A field that could not be mapped; the record is rejected with this as its reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object} `{id}`: field `{field}` {}: {problem}", value.as_ref().map_or_else(|| "is missing".to_owned(), |v| format!("has invalid value `{v}`")))]
pub struct MapError {
    /// The sObject (`Account`, `Contact`, `Opportunity`, `Contract`…).
    pub object: &'static str,
    /// The record id.
    pub id: String,
    /// The offending field (a configured mapping field when the mapping names it).
    pub field: String,
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

    fn error(&self, field: &str, value: Option<&Value>, problem: &str) -> MapError {
        MapError {
            object: self.object,
            id: self.id.clone(),
            field: field.to_owned(),
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

    fn decimal(&self, field: &str) -> Result<Option<Decimal>, MapError> {
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

    fn int(&self, field: &str) -> Result<Option<i64>, MapError> {
        match self.decimal(field)? {
            None => Ok(None),
            Some(d) if d.fract().is_zero() => i64::try_from(d)
                .map(Some)
                .map_err(|_| self.error(field, self.present(field), "expected an integer")),
            Some(_) => Err(self.error(field, self.present(field), "expected an integer")),
        }
    }

    fn datetime(&self, field: &str) -> Result<Option<DateTime<Utc>>, MapError> {
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

    fn date(&self, field: &str) -> Result<Option<NaiveDate>, MapError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map(Some)
                .map_err(|_| self.error(field, self.present(field), "expected YYYY-MM-DD")),
            Some(v) => Err(self.error(field, Some(v), "expected a date string")),
        }
    }

    fn bool(&self, field: &str) -> Result<Option<bool>, MapError> {
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

/// The ARR and term of a won deal or contract through `mapping`; `term_fallback` names the
/// object's own term field (`Contract.ContractTerm`) used when the mapping has none.
fn term_and_arr(
    f: &Fields<'_>,
    mapping: &RevenueMapping,
    term_fallback: Option<&str>,
) -> Result<(u32, Decimal), MapError> {
    let arr = match &mapping.arr_field {
        Some(field) => f.decimal(field)?,
        None => None,
    };
    let amount = f.decimal(&mapping.amount_field)?;
    let term_field = mapping.term_field.as_deref().or(term_fallback);
    let term = match term_field {
        Some(field) => f.int(field)?,
        None => None,
    };
    mapping.arr(arr, amount, term).map_err(|problem| {
        let field = match &problem {
            ArrProblem::Term(_) => term_field.unwrap_or("term"),
            ArrProblem::NoValue => &mapping.amount_field,
            ArrProblem::Negative(_) => mapping
                .arr_field
                .as_deref()
                .filter(|_| arr.is_some())
                .unwrap_or(&mapping.amount_field),
        };
        let value = match &problem {
            ArrProblem::NoValue => None,
            _ => f.present(field),
        };
        f.error(field, value, &problem.describe())
    })
}

/// The record's `CurrencyIsoCode`, else `default_currency` (single-currency orgs).
fn currency(f: &Fields<'_>, default_currency: &Currency) -> Result<Currency, MapError> {
    match f.text("CurrencyIsoCode") {
        None => Ok(default_currency.clone()),
        Some(code) => Currency::parse(&code).map_err(|_| {
            f.error(
                "CurrencyIsoCode",
                f.present("CurrencyIsoCode"),
                "expected an ISO 4217 code",
            )
        }),
    }
}

/// Maps a closed-won `Opportunity` to a [`Subscription`]; any other is `Ok(None)`.
///
/// The term starts on `CloseDate` and lasts the mapping's term field (else its default
/// term); ARR is the mapping's ARR field when present, else amount × 12 / term rounded to
/// cents ([`RevenueMapping::arr`]), in `CurrencyIsoCode` (else `default_currency`); the motion
/// is the mapping's reading of its motion field (`Type`); the status is as seen on `today`.
pub fn map_opportunity(
    raw: &Value,
    instance: &str,
    mapping: &RevenueMapping,
    default_currency: &Currency,
    today: NaiveDate,
) -> Result<Option<Subscription>, MapError> {
    if !is_won(raw) {
        return Ok(None);
    }
    let f = Fields::new(raw, "Opportunity");
    let (term, arr) = term_and_arr(&f, mapping, None)?;
    let currency = currency(&f, default_currency)?;
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
    let motion = mapping
        .motion_field
        .as_deref()
        .and_then(|field| f.text(field));
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
        motion: mapping.motion(motion.as_deref()),
    }))
}

/// Whether a contract is a subscription: its `StatusCode` (the system category of the
/// org-customisable `Status`) is `Activated` or `Expired`, or it was `Terminated` after it
/// had started. Draft and in-approval contracts, and those terminated before their start, are
/// not.
fn contract_counts(f: &Fields<'_>, start: Option<NaiveDate>, today: NaiveDate) -> bool {
    let code = f.text("StatusCode").or_else(|| f.text("Status"));
    match code.as_deref() {
        Some("Activated" | "Expired") => true,
        Some("Terminated") => start.is_some_and(|s| s <= today),
        _ => false,
    }
}

/// Maps an activated or expired `Contract` to a [`Subscription`]; any other is `Ok(None)`.
///
/// It runs from `StartDate` to the day after `EndDate` (Salesforce's end is the last day,
/// ours the day after); without an `EndDate`, for the term. The term is the mapping's term
/// field, else `ContractTerm`, else the default; ARR follows the mapping as for opportunities,
/// with the mapping's fields read on the contract. The plan is `Contract <ContractNumber>`; a
/// contract terminated after its start is `Cancelled`.
pub fn map_contract(
    raw: &Value,
    instance: &str,
    mapping: &RevenueMapping,
    default_currency: &Currency,
    today: NaiveDate,
) -> Result<Option<Subscription>, MapError> {
    let f = Fields::new(raw, "Contract");
    let start = f.date("StartDate")?;
    if !contract_counts(&f, start, today) {
        return Ok(None);
    }
    let Some(start) = start else {
        return Err(f.error(
            "StartDate",
            None,
            "an activated contract needs a start date",
        ));
    };
    let (term, arr) = term_and_arr(&f, mapping, Some("ContractTerm"))?;
    let currency = currency(&f, default_currency)?;
    let end = match f.date("EndDate")? {
        Some(last) => last.checked_add_days(Days::new(1)),
        None => start.checked_add_months(Months::new(term)),
    }
    .ok_or_else(|| f.error("EndDate", f.present("EndDate"), "term ends out of range"))?;
    if end <= start {
        return Err(f.error(
            "EndDate",
            f.present("EndDate"),
            "the contract ends before it starts",
        ));
    }
    let motion = mapping
        .motion_field
        .as_deref()
        .and_then(|field| f.text(field));
    Ok(Some(Subscription {
        account: f.account(instance),
        plan: f
            .text("ContractNumber")
            .map_or_else(|| "contract".to_owned(), |n| format!("Contract {n}")),
        start_date: start,
        end_date: Some(end),
        arr: Money::new(arr, currency),
        status: if f.text("StatusCode").as_deref() == Some("Terminated") {
            SubscriptionStatus::Cancelled
        } else {
            SubscriptionStatus::on(start, Some(end), today)
        },
        motion: mapping.motion(motion.as_deref()),
    }))
}

/// Maps an `OpportunityContactRole` to a [`DealContact`] between the opportunity's
/// subscription and the contact's person.
pub fn map_contact_role(raw: &Value, instance: &str) -> Result<DealContact, MapError> {
    let f = Fields::new(raw, "OpportunityContactRole");
    let reference = |field: &str, object: &str| -> Result<ExternalRef, MapError> {
        f.text(field)
            .map(|id| ExternalRef::new(SYSTEM, instance, object, id))
            .ok_or_else(|| {
                f.error(
                    field,
                    None,
                    "a contact role names its opportunity and contact",
                )
            })
    };
    Ok(DealContact {
        subscription: Some(reference("OpportunityId", "Opportunity")?),
        person: Some(reference("ContactId", "Contact")?),
        role: f.text("Role"),
        primary: f.bool("IsPrimary")?.unwrap_or(false),
    })
}

/// Maps a `DatedConversionRate` quoted against the corporate currency `base` to an
/// [`FxRate`]: from `StartDate`, one `base` is worth `ConversionRate` units of `IsoCode`
/// (kept exactly as sent). The corporate currency's own rows (always 1) are `Ok(None)`.
pub fn map_dated_rate(raw: &Value, base: &Currency) -> Result<Option<FxRate>, MapError> {
    let f = Fields::new(raw, "DatedConversionRate");
    let Some(code) = f.text("IsoCode") else {
        return Err(f.error("IsoCode", None, "a rate names its currency"));
    };
    let currency = Currency::parse(&code)
        .map_err(|_| f.error("IsoCode", f.present("IsoCode"), "expected an ISO 4217 code"))?;
    if &currency == base {
        return Ok(None);
    }
    let Some(start_date) = f.date("StartDate")? else {
        return Err(f.error("StartDate", None, "a dated rate needs its start date"));
    };
    let rate = match f.decimal("ConversionRate")? {
        Some(r) if r > Decimal::ZERO => r,
        Some(_) => {
            return Err(f.error(
                "ConversionRate",
                f.present("ConversionRate"),
                "expected a positive rate",
            ));
        }
        None => return Err(f.error("ConversionRate", None, "a dated rate needs its rate")),
    };
    Ok(Some(FxRate {
        base: base.clone(),
        currency,
        start_date,
        rate,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tributary_model::RevenueEventKind;

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

    fn standard() -> RevenueMapping {
        crate::default_mapping()
    }

    fn simulator() -> RevenueMapping {
        crate::simulator_mapping()
            .resolve(crate::default_mapping())
            .unwrap()
    }

    #[test]
    fn won_opportunities_become_subscriptions_with_arr_and_motion() {
        let base = json!({"Id": "006A", "AccountId": "001A", "Name": "Acme renewal", "IsWon": true,
            "StageName": "Closed Won", "Amount": 6000.5, "CloseDate": "2026-03-01", "CurrencyIsoCode": "EUR",
            "Type": "Existing Customer - Upgrade"});
        let s = map_opportunity(&base, "sf", &standard(), &usd(), today())
            .unwrap()
            .unwrap();
        assert_eq!(s.arr.amount, Decimal::from_str("6000.5").unwrap());
        assert_eq!(s.arr.currency.as_str(), "EUR");
        assert_eq!(s.end_date, NaiveDate::from_ymd_opt(2027, 3, 1));
        assert_eq!(s.motion, Some(RevenueEventKind::Expansion));
        // The standard mapping reads neither custom field, even when present.
        let mut six = base.clone();
        six["Term_Months__c"] = json!(6);
        six["ARR__c"] = json!(9000);
        six["CurrencyIsoCode"] = Value::Null;
        six["Type"] = json!("Renewal");
        let s = map_opportunity(&six, "sf", &standard(), &usd(), today())
            .unwrap()
            .unwrap();
        assert_eq!(s.arr.amount, Decimal::from_str("6000.5").unwrap());
        assert_eq!(s.arr.currency.as_str(), "USD");
        assert_eq!(s.motion, None, "`Renewal` is not a standard Type");
        // The simulator's mapping does.
        let s = map_opportunity(&six, "sf", &simulator(), &usd(), today())
            .unwrap()
            .unwrap();
        assert_eq!(s.arr.amount, Decimal::from(9000));
        assert_eq!(s.end_date, NaiveDate::from_ymd_opt(2026, 9, 1));
        assert_eq!(s.motion, Some(RevenueEventKind::Renewal));
        six["ARR__c"] = Value::Null;
        let s = map_opportunity(&six, "sf", &simulator(), &usd(), today())
            .unwrap()
            .unwrap();
        assert_eq!(s.arr.amount, Decimal::from_str("12001.00").unwrap());
        let mut lost = base.clone();
        lost["IsWon"] = json!(false);
        assert_eq!(
            map_opportunity(&lost, "sf", &standard(), &usd(), today()),
            Ok(None)
        );
        let mut no_amount = base.clone();
        no_amount["Amount"] = Value::Null;
        let err = map_opportunity(&no_amount, "sf", &standard(), &usd(), today()).unwrap_err();
        assert_eq!(err.field, "Amount");
        let mut bad_term = base.clone();
        bad_term["Term_Months__c"] = json!(0);
        let err = map_opportunity(&bad_term, "sf", &simulator(), &usd(), today()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Opportunity `006A`: field `Term_Months__c` has invalid value `0`: expected a term between 1 and 120 months, got 0"
        );
        let mut bad_arr = base.clone();
        bad_arr["ARR__c"] = json!("n/a");
        let err = map_opportunity(&bad_arr, "sf", &simulator(), &usd(), today()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Opportunity `006A`: field `ARR__c` has invalid value `n/a`"),
            "{err}"
        );
        let mut bad_date = base;
        bad_date["CloseDate"] = json!("03/01/2026");
        let err = map_opportunity(&bad_date, "sf", &standard(), &usd(), today()).unwrap_err();
        assert!(err.to_string().contains("`03/01/2026`"), "{err}");
    }

    #[test]
    fn activated_and_expired_contracts_become_subscriptions_ending_the_day_after() {
        let arr = RevenueMapping {
            arr_field: Some("ARR__c".into()),
            ..standard()
        };
        let base = json!({"Id": "800A", "AccountId": "001A", "ContractNumber": "00000042",
            "Status": "Activated", "StatusCode": "Activated", "StartDate": "2026-03-01",
            "EndDate": "2027-02-28", "ContractTerm": 12, "ARR__c": 9000, "CurrencyIsoCode": "GBP"});
        let s = map_contract(&base, "sf", &arr, &usd(), today())
            .unwrap()
            .unwrap();
        assert_eq!(s.start_date, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!(s.end_date, NaiveDate::from_ymd_opt(2027, 3, 1));
        assert_eq!(
            s.arr,
            Money::new(Decimal::from(9000), Currency::parse("GBP").unwrap())
        );
        assert_eq!(s.plan, "Contract 00000042");
        assert_eq!(s.status, SubscriptionStatus::Active);
        assert_eq!(s.motion, None, "contracts have no Type");
        // The term comes from ContractTerm when the mapping has no term field.
        let mut six = base.clone();
        six["ARR__c"] = Value::Null;
        six["Amount"] = json!(3000);
        six["ContractTerm"] = json!(6);
        six["EndDate"] = Value::Null;
        let s = map_contract(&six, "sf", &arr, &usd(), today())
            .unwrap()
            .unwrap();
        assert_eq!(s.arr.amount, Decimal::from(6000));
        assert_eq!(s.end_date, NaiveDate::from_ymd_opt(2026, 9, 1));
        let mut expired = base.clone();
        expired["StatusCode"] = json!("Expired");
        expired["StartDate"] = json!("2024-03-01");
        expired["EndDate"] = json!("2025-02-28");
        let s = map_contract(&expired, "sf", &arr, &usd(), today())
            .unwrap()
            .unwrap();
        assert_eq!(s.status, SubscriptionStatus::Ended);
        for (code, start) in [
            ("Draft", "2026-03-01"),
            ("InApproval", "2026-03-01"),
            ("Terminated", "2027-03-01"),
        ] {
            let mut c = base.clone();
            c["StatusCode"] = json!(code);
            c["StartDate"] = json!(start);
            assert_eq!(
                map_contract(&c, "sf", &arr, &usd(), today()),
                Ok(None),
                "{code}"
            );
        }
        let mut terminated = base.clone();
        terminated["StatusCode"] = json!("Terminated");
        let s = map_contract(&terminated, "sf", &arr, &usd(), today())
            .unwrap()
            .unwrap();
        assert_eq!(s.status, SubscriptionStatus::Cancelled);
        let mut bad = base;
        bad["ARR__c"] = Value::Null;
        bad["ContractTerm"] = json!("twelve");
        let err = map_contract(&bad, "sf", &arr, &usd(), today()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Contract `800A`: field `ContractTerm` has invalid value `twelve`: expected a number"
        );
    }

    #[test]
    fn contact_roles_link_the_opportunity_and_the_contact() {
        let raw = json!({"Id": "00KA", "OpportunityId": "006A", "ContactId": "003A",
            "Role": "Economic Buyer", "IsPrimary": true});
        let d = map_contact_role(&raw, "sf").unwrap();
        assert_eq!(
            d.subscription,
            Some(ExternalRef::new("salesforce", "sf", "Opportunity", "006A"))
        );
        assert_eq!(
            d.person,
            Some(ExternalRef::new("salesforce", "sf", "Contact", "003A"))
        );
        assert_eq!(d.role.as_deref(), Some("Economic Buyer"));
        assert!(d.primary);
        let mut bad = raw.clone();
        bad["IsPrimary"] = json!("sometimes");
        assert_eq!(
            map_contact_role(&bad, "sf").unwrap_err().to_string(),
            "OpportunityContactRole `00KA`: field `IsPrimary` has invalid value `sometimes`: expected true or false"
        );
        let mut orphan = raw;
        orphan["ContactId"] = Value::Null;
        assert_eq!(
            map_contact_role(&orphan, "sf").unwrap_err().field,
            "ContactId"
        );
    }

    #[test]
    fn dated_rates_are_kept_exactly_and_the_corporate_currency_is_skipped() {
        let raw = json!({"Id": "04wA", "IsoCode": "EUR", "ConversionRate": 0.925926,
            "StartDate": "2000-01-01", "NextStartDate": null});
        let r = map_dated_rate(&raw, &usd()).unwrap().unwrap();
        assert_eq!(r.rate.to_string(), "0.925926");
        assert_eq!(r.currency.as_str(), "EUR");
        assert_eq!(r.base.as_str(), "USD");
        assert_eq!(r.start_date, NaiveDate::from_ymd_opt(2000, 1, 1).unwrap());
        let mut own = raw.clone();
        own["IsoCode"] = json!("USD");
        assert_eq!(map_dated_rate(&own, &usd()), Ok(None));
        let mut zero = raw;
        zero["ConversionRate"] = json!(0);
        assert_eq!(
            map_dated_rate(&zero, &usd()).unwrap_err().field,
            "ConversionRate"
        );
    }
}
