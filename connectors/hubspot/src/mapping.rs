//! Pure mapping from HubSpot CRM v3 records to the unified model. No I/O: every function takes
//! one record exactly as the list endpoint returned it (`{"id","properties",...}`) and returns a
//! model entity or a [`MapError`] naming the object, id, property and value that did not parse.
//!
//! HubSpot sends every property value as a string or null (numbers, booleans and dates too;
//! <https://developers.hubspot.com/docs/api/crm/properties>), and a cleared property can come
//! back as `""`, so an empty string is treated like null everywhere.

use chrono::{DateTime, Months, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;
use tributary_model::{
    Account, Currency, ExternalRef, Money, Person, PersonRole, Segment, Subscription,
    SubscriptionStatus, normalize_domain, normalize_email,
};

/// The `system` of every [`ExternalRef`] this connector emits.
pub const SYSTEM: &str = "hubspot";

/// A property that could not be mapped; the record is rejected with this as its reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object} `{id}`: property `{property}` {}: {problem}", value.as_ref().map_or_else(|| "is missing".to_owned(), |v| format!("has invalid value `{v}`")))]
pub struct MapError {
    /// The object type (`companies`, `contacts`, `deals`).
    pub object: &'static str,
    /// The record id, or `?` when the record has none.
    pub id: String,
    /// The offending property.
    pub property: &'static str,
    /// The value as received; `None` when it was missing or null.
    pub value: Option<String>,
    /// What was expected.
    pub problem: String,
}

/// The record's `id`, when it has one (a string, or a number from a lenient proxy).
pub fn record_id(raw: &Value) -> Option<String> {
    match raw.get("id")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The record's last-modified time: the top-level `updatedAt`, else the object's
/// last-modified property.
pub fn updated_at(raw: &Value) -> Option<DateTime<Utc>> {
    raw.get("updatedAt")
        .and_then(Value::as_str)
        .and_then(parse_datetime)
        .or_else(|| prop(raw, "hs_lastmodifieddate").and_then(|s| parse_datetime(&s)))
        .or_else(|| prop(raw, "lastmodifieddate").and_then(|s| parse_datetime(&s)))
}

/// Parses the timestamp forms HubSpot uses: ISO 8601 with an offset or `Z`
/// (`2024-03-02T08:11:19.515Z`), a bare date (`2024-03-01`, date-typed properties), epoch
/// milliseconds (`1709251200000`, legacy and search filters) and ISO without a zone (read as UTC).
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

/// A property as text: `None` when absent, null or empty. Numbers and booleans (which HubSpot
/// does not send, but a proxy might) are rendered as text.
fn prop(raw: &Value, name: &str) -> Option<String> {
    match raw.get("properties")?.get(name)? {
        Value::Null => None,
        Value::String(s) => {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_owned())
        }
        other => Some(other.to_string()),
    }
}

struct Props<'a> {
    raw: &'a Value,
    object: &'static str,
    id: String,
}

impl<'a> Props<'a> {
    fn new(raw: &'a Value, object: &'static str) -> Self {
        Self {
            raw,
            object,
            id: record_id(raw).unwrap_or_else(|| "?".to_owned()),
        }
    }

    fn text(&self, name: &str) -> Option<String> {
        prop(self.raw, name)
    }

    fn error(&self, property: &'static str, value: Option<&str>, problem: &str) -> MapError {
        MapError {
            object: self.object,
            id: self.id.clone(),
            property,
            value: value.map(str::to_owned),
            problem: problem.to_owned(),
        }
    }

    /// A whole number; `250.0` is accepted, `12.5` and `abc` are not.
    fn int(&self, name: &'static str) -> Result<Option<i64>, MapError> {
        let Some(s) = self.text(name) else {
            return Ok(None);
        };
        if let Ok(n) = s.parse::<i64>() {
            return Ok(Some(n));
        }
        Decimal::from_str(&s)
            .ok()
            .filter(|d| d.fract().is_zero())
            .and_then(|d| i64::try_from(d).ok())
            .map(Some)
            .ok_or_else(|| self.error(name, Some(&s), "expected a whole number"))
    }

    fn datetime(&self, name: &'static str) -> Result<Option<DateTime<Utc>>, MapError> {
        let Some(s) = self.text(name) else {
            return Ok(None);
        };
        parse_datetime(&s)
            .map(Some)
            .ok_or_else(|| self.error(name, Some(&s), "expected an ISO 8601 date-time"))
    }

    /// The first associated company: the primary (labeled) association when there is one,
    /// else the first listed. HubSpot lists a primary association twice, labeled and
    /// `*_unlabeled`.
    fn company(&self, instance: &str, singular: &str) -> Option<ExternalRef> {
        let results = self
            .raw
            .get("associations")?
            .get("companies")?
            .get("results")?
            .as_array()?;
        let primary = format!("{singular}_to_company");
        let chosen = results
            .iter()
            .find(|r| r.get("type").and_then(Value::as_str) == Some(primary.as_str()))
            .or_else(|| results.first())?;
        let id = record_id(chosen)?;
        Some(ExternalRef::new(SYSTEM, instance, "companies", id))
    }
}

/// Maps a company to an [`Account`].
///
/// The segment comes from the custom `segment` property when it names one, else from
/// `numberofemployees` (under 200 SMB, under 2,000 mid-market, else enterprise); the region
/// from the custom `region` property, else `country`. An empty name is kept: the sync engine
/// quarantines it through `Entity::validate`.
pub fn map_company(raw: &Value) -> Result<Account, MapError> {
    let p = Props::new(raw, "companies");
    let employees = p.int("numberofemployees")?;
    let segment = p
        .text("segment")
        .and_then(|s| Segment::parse(&s))
        .or_else(|| {
            employees.map(|n| match n {
                n if n < 200 => Segment::Smb,
                n if n < 2000 => Segment::MidMarket,
                _ => Segment::Enterprise,
            })
        });
    let created_at = match p.datetime("createdate")? {
        Some(t) => Some(t),
        None => raw
            .get("createdAt")
            .and_then(Value::as_str)
            .and_then(parse_datetime),
    };
    Ok(Account {
        name: p.text("name").unwrap_or_default(),
        domain: p.text("domain").and_then(|d| normalize_domain(&d)),
        segment,
        industry: p.text("industry"),
        region: p.text("region").or_else(|| p.text("country")),
        owner: p.text("hubspot_owner_id"),
        seats: p.int("seats")?,
        created_at,
    })
}

/// Maps a contact to a [`Person`]. An address that is not an email becomes `None`, not an
/// error; the account is the first associated company (request `associations=companies`).
pub fn map_contact(raw: &Value, instance: &str) -> Result<Person, MapError> {
    let p = Props::new(raw, "contacts");
    let name = [p.text("firstname"), p.text("lastname")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Person {
        name,
        email: p.text("email").and_then(|e| normalize_email(&e)),
        title: p.text("jobtitle"),
        role: p.text("role").and_then(|r| PersonRole::parse(&r)),
        account: p.company(instance, "contact"),
        first_seen_at: p.datetime("createdate")?,
    })
}

/// Whether a deal is closed-won: `hs_is_closed_won` is `"true"` (which also covers custom
/// pipelines with numeric stage ids) or the stage is the default pipeline's `closedwon`.
pub fn is_closed_won(raw: &Value) -> bool {
    prop(raw, "hs_is_closed_won").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || prop(raw, "dealstage").is_some_and(|s| s == "closedwon")
}

/// Maps a closed-won deal to a [`Subscription`]; any other deal is `Ok(None)` (skipped).
///
/// The term starts on `closedate`'s (UTC) date and lasts the custom `term_months` (12 when
/// absent); ARR is `amount × 12 / term_months` (rounded to cents when the term is not a whole
/// year) in `deal_currency_code`, else `default_currency`; the status is as seen on `today`.
pub fn map_deal(
    raw: &Value,
    instance: &str,
    default_currency: &Currency,
    today: NaiveDate,
) -> Result<Option<Subscription>, MapError> {
    if !is_closed_won(raw) {
        return Ok(None);
    }
    let p = Props::new(raw, "deals");
    let amount = match p.text("amount") {
        None => {
            return Err(p.error(
                "amount",
                None,
                "a closed-won deal needs an amount to derive ARR",
            ));
        }
        Some(s) => Decimal::from_str(&s)
            .map_err(|_| p.error("amount", Some(&s), "expected a decimal number"))?,
    };
    let term = match p.int("term_months")? {
        None => 12,
        Some(n) if (1..=120).contains(&n) => n as u32,
        Some(n) => {
            return Err(p.error(
                "term_months",
                Some(&n.to_string()),
                "expected a term between 1 and 120 months",
            ));
        }
    };
    let currency = match p.text("deal_currency_code") {
        None => default_currency.clone(),
        Some(code) => Currency::parse(&code).map_err(|_| {
            p.error(
                "deal_currency_code",
                Some(&code),
                "expected an ISO 4217 code",
            )
        })?,
    };
    let start = match p.datetime("closedate")? {
        Some(t) => t.date_naive(),
        None => {
            return Err(p.error(
                "closedate",
                None,
                "a closed-won deal needs a close date to start its term",
            ));
        }
    };
    let end = start.checked_add_months(Months::new(term)).ok_or_else(|| {
        p.error(
            "closedate",
            Some(&start.to_string()),
            "term ends out of range",
        )
    })?;
    let arr = if term == 12 {
        amount
    } else {
        (amount * Decimal::from(12) / Decimal::from(term)).round_dp(2)
    };
    let plan = p
        .text("dealname")
        .or_else(|| p.text("pipeline"))
        .unwrap_or_else(|| "default".to_owned());
    Ok(Some(Subscription {
        account: p.company(instance, "deal"),
        plan,
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

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn usd() -> Currency {
        Currency::usd()
    }

    fn deal(props: Value) -> Value {
        json!({
            "id": "512",
            "properties": props,
            "createdAt": "2024-01-10T12:00:00.000Z",
            "updatedAt": "2024-03-02T08:11:19.515Z",
            "archived": false,
            "associations": {"companies": {"results": [
                {"id": "902", "type": "deal_to_company_unlabeled"},
                {"id": "901", "type": "deal_to_company"}
            ]}}
        })
    }

    #[test]
    fn company_maps_with_custom_properties() {
        let raw = json!({
            "id": "901",
            "properties": {
                "name": "Bluepeak Analytics", "domain": "https://www.BluePeak.com/", "industry": "COMPUTER_SOFTWARE",
                "country": "Germany", "region": "EMEA", "segment": "Mid-Market", "numberofemployees": "150",
                "seats": "42", "hubspot_owner_id": "52550153", "createdate": "2022-05-01T09:30:00.000Z",
                "hs_lastmodifieddate": "2024-01-01T00:00:00Z", "hs_object_id": "901"
            },
            "createdAt": "2022-05-01T09:30:00.000Z", "updatedAt": "2024-01-01T00:00:00Z", "archived": false
        });
        let a = map_company(&raw).unwrap();
        assert_eq!(a.name, "Bluepeak Analytics");
        assert_eq!(a.domain.as_deref(), Some("bluepeak.com"));
        assert_eq!(a.segment, Some(Segment::MidMarket), "custom segment wins");
        assert_eq!(a.region.as_deref(), Some("EMEA"));
        assert_eq!(a.seats, Some(42));
        assert_eq!(a.owner.as_deref(), Some("52550153"));
        assert_eq!(a.industry.as_deref(), Some("COMPUTER_SOFTWARE"));
        assert_eq!(
            a.created_at.unwrap().to_rfc3339(),
            "2022-05-01T09:30:00+00:00"
        );
        assert_eq!(
            updated_at(&raw).unwrap().to_rfc3339(),
            "2024-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn company_falls_back_to_country_and_headcount() {
        let check = |employees: &str, expected: Option<Segment>| {
            let raw = json!({"id": "1", "properties": {
                "name": "X", "country": "France", "segment": null, "region": "",
                "numberofemployees": employees
            }});
            let a = map_company(&raw).unwrap();
            assert_eq!(a.segment, expected, "{employees}");
            assert_eq!(a.region.as_deref(), Some("France"));
        };
        check("199", Some(Segment::Smb));
        check("200", Some(Segment::MidMarket));
        check("1999.0", Some(Segment::MidMarket));
        check("2000", Some(Segment::Enterprise));
        check("", None);
    }

    #[test]
    fn company_with_empty_name_is_mapped_and_left_to_validation() {
        let raw = json!({"id": "7", "properties": {"name": "", "domain": null}});
        let a = map_company(&raw).unwrap();
        assert_eq!(a.name, "");
        assert_eq!(a.domain, None);
    }

    #[test]
    fn company_with_garbage_numbers_is_rejected_naming_the_property() {
        let raw = json!({"id": "7", "properties": {"name": "X", "numberofemployees": "lots"}});
        let e = map_company(&raw).unwrap_err();
        assert_eq!(
            e.to_string(),
            "companies `7`: property `numberofemployees` has invalid value `lots`: expected a whole number"
        );
        let raw = json!({"id": "7", "properties": {"name": "X", "createdate": "yesterday"}});
        assert_eq!(map_company(&raw).unwrap_err().property, "createdate");
    }

    #[test]
    fn contact_maps_name_email_role_and_primary_company() {
        let raw = json!({
            "id": "101",
            "properties": {"firstname": "Ada", "lastname": "Lovelace", "email": " Ada@BluePeak.com ",
                "jobtitle": "IT Administrator", "role": "admin", "createdate": "2023-02-03T04:05:06.789Z",
                "lastmodifieddate": "2024-02-03T04:05:06.789Z"},
            "associations": {"companies": {"results": [
                {"id": "901", "type": "contact_to_company"},
                {"id": "901", "type": "contact_to_company_unlabeled"}
            ]}}
        });
        let p = map_contact(&raw, "hs").unwrap();
        assert_eq!(p.name, "Ada Lovelace");
        assert_eq!(p.email.as_deref(), Some("ada@bluepeak.com"));
        assert_eq!(p.title.as_deref(), Some("IT Administrator"));
        assert_eq!(p.role, Some(PersonRole::Admin));
        assert_eq!(
            p.account,
            Some(ExternalRef::new("hubspot", "hs", "companies", "901"))
        );
        assert_eq!(
            p.first_seen_at.unwrap().to_rfc3339(),
            "2023-02-03T04:05:06.789+00:00"
        );
        // `lastmodifieddate` is the contacts' modified property.
        let mut no_top = raw.clone();
        no_top.as_object_mut().unwrap().remove("updatedAt");
        assert_eq!(
            updated_at(&no_top).unwrap().to_rfc3339(),
            "2024-02-03T04:05:06.789+00:00"
        );
    }

    #[test]
    fn contact_with_garbage_email_and_no_name_maps_to_an_empty_person() {
        let raw = json!({"id": "5", "properties": {"firstname": null, "lastname": null,
            "email": "n/a (ask the AE)", "role": "wizard"}});
        let p = map_contact(&raw, "hs").unwrap();
        assert_eq!(
            (p.name.as_str(), p.email.as_deref(), p.role),
            ("", None, None)
        );
        assert_eq!(p.account, None);
        let only_last = json!({"id": "6", "properties": {"lastname": "Curie"}});
        assert_eq!(map_contact(&only_last, "hs").unwrap().name, "Curie");
    }

    #[test]
    fn won_deal_becomes_a_subscription() {
        let raw = deal(json!({
            "dealname": "Bluepeak – renewal 2024", "amount": "12000", "deal_currency_code": "eur",
            "dealstage": "closedwon", "hs_is_closed_won": "true", "closedate": "2024-03-01T17:00:00.000Z",
            "term_months": null, "pipeline": "default"
        }));
        let s = map_deal(&raw, "hs", &usd(), day("2024-06-01"))
            .unwrap()
            .unwrap();
        assert_eq!(s.plan, "Bluepeak – renewal 2024");
        assert_eq!(s.start_date, day("2024-03-01"));
        assert_eq!(s.end_date, Some(day("2025-03-01")));
        assert_eq!(s.arr.to_string(), "12000 EUR");
        assert_eq!(s.status, SubscriptionStatus::Active);
        assert_eq!(
            s.account,
            Some(ExternalRef::new("hubspot", "hs", "companies", "901")),
            "the labeled association is the primary"
        );
        let ended = map_deal(&raw, "hs", &usd(), day("2025-03-01"))
            .unwrap()
            .unwrap();
        assert_eq!(ended.status, SubscriptionStatus::Ended);
    }

    #[test]
    fn short_terms_annualise_and_currency_defaults() {
        let raw = deal(json!({
            "dealname": null, "pipeline": "default", "amount": "1750.00", "dealstage": "123456",
            "hs_is_closed_won": "true", "closedate": "2024-05-15T00:00:00Z", "term_months": "7"
        }));
        let gbp = Currency::parse("GBP").unwrap();
        let s = map_deal(&raw, "hs", &gbp, day("2024-06-01"))
            .unwrap()
            .unwrap();
        assert_eq!(s.plan, "default");
        assert_eq!(s.arr.to_string(), "3000.00 GBP");
        assert_eq!(s.end_date, Some(day("2024-12-15")));
    }

    #[test]
    fn lost_and_open_deals_are_skipped_without_parsing() {
        for props in [
            json!({"dealstage": "closedlost", "hs_is_closed_won": "false", "amount": "garbage"}),
            json!({"dealstage": "contractsent", "amount": null}),
            json!({}),
        ] {
            assert_eq!(
                map_deal(&deal(props), "hs", &usd(), day("2024-01-01")),
                Ok(None)
            );
        }
        assert_eq!(
            map_deal(&json!(null), "hs", &usd(), day("2024-01-01")),
            Ok(None)
        );
    }

    #[test]
    fn won_deals_with_bad_values_are_rejected_naming_property_and_value() {
        let check = |props: Value, property: &str, message: &str| {
            let mut p = json!({"dealstage": "closedwon", "amount": "100", "closedate": "2024-01-01T00:00:00Z"});
            for (k, v) in props.as_object().unwrap() {
                p[k] = v.clone();
            }
            let e = map_deal(&deal(p), "hs", &usd(), day("2024-06-01")).unwrap_err();
            assert_eq!(e.property, property);
            assert_eq!(e.to_string(), message);
        };
        check(
            json!({"amount": "12,5O0"}),
            "amount",
            "deals `512`: property `amount` has invalid value `12,5O0`: expected a decimal number",
        );
        check(
            json!({"amount": null}),
            "amount",
            "deals `512`: property `amount` is missing: a closed-won deal needs an amount to derive ARR",
        );
        check(
            json!({"closedate": "soon"}),
            "closedate",
            "deals `512`: property `closedate` has invalid value `soon`: expected an ISO 8601 date-time",
        );
        check(
            json!({"closedate": null}),
            "closedate",
            "deals `512`: property `closedate` is missing: a closed-won deal needs a close date to start its term",
        );
        check(
            json!({"deal_currency_code": "EURO"}),
            "deal_currency_code",
            "deals `512`: property `deal_currency_code` has invalid value `EURO`: expected an ISO 4217 code",
        );
        check(
            json!({"term_months": "0"}),
            "term_months",
            "deals `512`: property `term_months` has invalid value `0`: expected a term between 1 and 120 months",
        );
        check(
            json!({"term_months": "twelve"}),
            "term_months",
            "deals `512`: property `term_months` has invalid value `twelve`: expected a whole number",
        );
    }

    #[test]
    fn timestamps_in_every_hubspot_form_parse() {
        let cases = [
            ("2024-03-02T08:11:19.515Z", "2024-03-02T08:11:19.515+00:00"),
            ("2024-03-02T09:11:19+01:00", "2024-03-02T08:11:19+00:00"),
            ("1709251200000", "2024-03-01T00:00:00+00:00"),
            ("2024-03-01", "2024-03-01T00:00:00+00:00"),
            ("2024-03-01T10:00:00", "2024-03-01T10:00:00+00:00"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_datetime(input).unwrap().to_rfc3339(),
                expected,
                "{input}"
            );
        }
        for bad in ["", "yesterday", "2024-13-01", "99999999999999999999"] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn records_without_ids_or_properties_do_not_panic() {
        for raw in [
            json!(null),
            json!([]),
            json!({"id": 5}),
            json!({"properties": "x"}),
        ] {
            let _ = map_company(&raw);
            let _ = map_contact(&raw, "hs");
            let _ = map_deal(&raw, "hs", &usd(), day("2024-01-01"));
        }
        assert_eq!(record_id(&json!({"id": 5})).as_deref(), Some("5"));
        assert_eq!(record_id(&json!({"id": " "})), None);
    }
}
