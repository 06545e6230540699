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
pub use tributary_connector::MapError;
use tributary_connector::RevenueMapping;
use tributary_connector::map::{Fields, full_name, id_text, segment_by_employees};
use tributary_connector::pull::keyset::Position;
use tributary_model::{
    Account, Currency, DealContact, ExternalRef, FxRate, Person, Subscription, SubscriptionStatus,
    normalize_domain, normalize_email,
};

/// The `system` of every [`ExternalRef`] this connector emits.
pub const SYSTEM: &str = "salesforce";

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
    raw.get("Id").and_then(id_text)
}

/// A record's `SystemModstamp`.
pub fn modstamp(raw: &Value) -> Option<DateTime<Utc>> {
    raw.get("SystemModstamp")
        .and_then(Value::as_str)
        .and_then(parse_datetime)
}

/// A record's place in a query ordered by `SystemModstamp, Id`, when it has both.
pub fn position(raw: &Value) -> Option<Position> {
    Some(Position {
        modstamp: modstamp(raw)?,
        id: record_id(raw)?,
    })
}

/// Whether the record is soft-deleted (`IsDeleted`, only ever true through `queryAll`).
pub fn is_deleted(raw: &Value) -> bool {
    matches!(raw.get("IsDeleted"), Some(Value::Bool(true)))
        || raw.get("IsDeleted").and_then(Value::as_str) == Some("true")
}

/// The `AccountId` as a reference to the account.
fn account(f: &Fields<'_>, instance: &str) -> Option<ExternalRef> {
    f.text("AccountId")
        .map(|id| ExternalRef::new(SYSTEM, instance, "Account", id))
}

/// A Salesforce datetime field.
fn datetime(f: &Fields<'_>, field: &str) -> Result<Option<DateTime<Utc>>, MapError> {
    f.datetime(
        field,
        parse_datetime,
        "expected a datetime like 2024-04-25T15:50:37.000+0000",
    )
}

/// Maps an `Account`. The segment follows `NumberOfEmployees` (under 200 SMB, under 2,000
/// mid-market, else enterprise); the region is `BillingCountry`; the owner is `OwnerId`.
pub fn map_account(raw: &Value) -> Result<Account, MapError> {
    let id = record_id(raw).unwrap_or_else(|| "?".to_owned());
    let f = Fields::new(raw, "Account", &id);
    let employees = f.int("NumberOfEmployees")?;
    Ok(Account {
        name: f.text("Name").unwrap_or_default(),
        domain: f.text("Website").and_then(|w| normalize_domain(&w)),
        segment: employees.map(segment_by_employees),
        industry: f.text("Industry"),
        region: f.text("BillingCountry"),
        owner: f.text("OwnerId"),
        seats: None,
        created_at: datetime(&f, "CreatedDate")?,
    })
}

/// Maps a `Contact` to a [`Person`] of the account `AccountId`. An address that is not an
/// email becomes `None`, not an error.
pub fn map_contact(raw: &Value, instance: &str) -> Result<Person, MapError> {
    let id = record_id(raw).unwrap_or_else(|| "?".to_owned());
    let f = Fields::new(raw, "Contact", &id);
    let name = full_name(f.text("FirstName"), f.text("LastName"));
    Ok(Person {
        name,
        email: f.text("Email").and_then(|e| normalize_email(&e)),
        title: f.text("Title"),
        role: None,
        account: account(&f, instance),
        first_seen_at: datetime(&f, "CreatedDate")?,
        hints: vec![],
    })
}

/// Whether an opportunity is closed-won: `IsWon`, else the default stage `Closed Won`.
pub fn is_won(raw: &Value) -> bool {
    let id = record_id(raw).unwrap_or_else(|| "?".to_owned());
    let f = Fields::new(raw, "Opportunity", &id);
    match f.bool("IsWon") {
        Ok(Some(won)) => won,
        _ => f.text("StageName").as_deref() == Some("Closed Won"),
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
    let id = record_id(raw).unwrap_or_else(|| "?".to_owned());
    let f = Fields::new(raw, "Opportunity", &id);
    let revenue = f.revenue(mapping, "CurrencyIsoCode", default_currency, None)?;
    let Some(start) = f.date("CloseDate")? else {
        return Err(f.error(
            "CloseDate",
            None,
            "a closed-won opportunity needs a close date to start its term",
        ));
    };
    let end = start
        .checked_add_months(Months::new(revenue.term))
        .ok_or_else(|| {
            f.error(
                "CloseDate",
                f.text("CloseDate").as_deref(),
                "term ends out of range",
            )
        })?;
    Ok(Some(Subscription {
        account: account(&f, instance),
        plan: f
            .text("Name")
            .or_else(|| f.text("Type"))
            .unwrap_or_else(|| "default".to_owned()),
        start_date: start,
        end_date: Some(end),
        arr: revenue.arr,
        status: SubscriptionStatus::on(start, Some(end), today),
        motion: revenue.motion,
        arr_basis: Some(revenue.basis),
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
    let id = record_id(raw).unwrap_or_else(|| "?".to_owned());
    let f = Fields::new(raw, "Contract", &id);
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
    let revenue = f.revenue(
        mapping,
        "CurrencyIsoCode",
        default_currency,
        Some("ContractTerm"),
    )?;
    let end = match f.date("EndDate")? {
        Some(last) => last.checked_add_days(Days::new(1)),
        None => start.checked_add_months(Months::new(revenue.term)),
    }
    .ok_or_else(|| {
        f.error(
            "EndDate",
            f.text("EndDate").as_deref(),
            "term ends out of range",
        )
    })?;
    if end <= start {
        return Err(f.error(
            "EndDate",
            f.text("EndDate").as_deref(),
            "the contract ends before it starts",
        ));
    }
    Ok(Some(Subscription {
        account: account(&f, instance),
        plan: f
            .text("ContractNumber")
            .map_or_else(|| "contract".to_owned(), |n| format!("Contract {n}")),
        start_date: start,
        end_date: Some(end),
        arr: revenue.arr,
        status: if f.text("StatusCode").as_deref() == Some("Terminated") {
            SubscriptionStatus::Cancelled
        } else {
            SubscriptionStatus::on(start, Some(end), today)
        },
        motion: revenue.motion,
        arr_basis: Some(revenue.basis),
    }))
}

/// Maps an `OpportunityContactRole` to a [`DealContact`] between the opportunity's
/// subscription and the contact's person.
pub fn map_contact_role(raw: &Value, instance: &str) -> Result<DealContact, MapError> {
    let id = record_id(raw).unwrap_or_else(|| "?".to_owned());
    let f = Fields::new(raw, "OpportunityContactRole", &id);
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
    let id = record_id(raw).unwrap_or_else(|| "?".to_owned());
    let f = Fields::new(raw, "DatedConversionRate", &id);
    let Some(code) = f.text("IsoCode") else {
        return Err(f.error("IsoCode", None, "a rate names its currency"));
    };
    let currency = Currency::parse(&code).map_err(|_| {
        f.error(
            "IsoCode",
            f.text("IsoCode").as_deref(),
            "expected an ISO 4217 code",
        )
    })?;
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
                f.text("ConversionRate").as_deref(),
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
    use std::str::FromStr;
    use tributary_model::Segment;
    use tributary_model::{Money, RevenueEventKind};

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
            "Account `001B`: field `NumberOfEmployees` has invalid value `many`: expected a whole number"
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
        serde_json::from_value::<tributary_connector::MappingSettings>(
            tributary_mock_salesforce::revenue_mapping(),
        )
        .unwrap()
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
            "Contract `800A`: field `ContractTerm` has invalid value `twelve`: expected a whole number"
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
