//! Pure mapping from HubSpot CRM v3 records to the unified model. No I/O: every function takes
//! one record exactly as the list endpoint returned it (`{"id","properties",...}`) and returns a
//! model entity or a [`MapError`] naming the object, id, property and value that did not parse
//! (the SDK's, read through its [`Fields`] over the record's `properties`).
//!
//! HubSpot sends every property value as a string or null (numbers, booleans and dates too;
//! <https://developers.hubspot.com/docs/api/crm/properties>), and a cleared property can come
//! back as `""`, so an empty string is treated like null everywhere.

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use tributary_connector::RevenueMapping;
use tributary_connector::map::{
    Fields, MapError, array, full_name, id_text, parse_timestamp, segment_by_employees,
};
use tributary_model::{
    Account, Currency, DealContact, ExternalRef, Person, PersonRole, RevenueEventKind, Segment,
    Subscription, SubscriptionStatus, normalize_domain, normalize_email,
};

/// The `system` of every [`ExternalRef`] this connector emits.
pub const SYSTEM: &str = "hubspot";

/// The record's `id`, when it has one (a string, or a number from a lenient proxy).
pub fn record_id(raw: &Value) -> Option<String> {
    raw.get("id").and_then(id_text)
}

/// The record's last-modified time: the top-level `updatedAt`, else the object's
/// last-modified property.
pub fn updated_at(raw: &Value) -> Option<DateTime<Utc>> {
    let p = Fields::new(properties(raw), "", "");
    let top = raw
        .get("updatedAt")
        .and_then(Value::as_str)
        .map(str::to_owned);
    [
        top,
        p.text("hs_lastmodifieddate"),
        p.text("lastmodifieddate"),
    ]
    .into_iter()
    .flatten()
    .find_map(|s| parse_datetime(&s))
}

/// Parses the timestamp forms HubSpot uses: ISO 8601 with an offset or `Z`
/// (`2024-03-02T08:11:19.515Z`), a bare date (`2024-03-01`, date-typed properties), epoch
/// milliseconds (`1709251200000`, legacy and search filters) and ISO without a zone (read as UTC).
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    parse_timestamp(s)
}

/// The record's `properties` (null when it has none: every property then reads as absent).
fn properties(raw: &Value) -> &Value {
    static NONE: Value = Value::Null;
    raw.get("properties").unwrap_or(&NONE)
}

/// A date-time property in any form [`parse_datetime`] reads.
fn datetime(p: &Fields<'_>, name: &str) -> Result<Option<DateTime<Utc>>, MapError> {
    p.datetime(name, parse_datetime, "expected an ISO 8601 date-time")
}

/// The first associated company: the primary (labeled) association when there is one, else the
/// first listed. HubSpot lists a primary association twice, labeled and `*_unlabeled`.
fn company(raw: &Value, instance: &str, singular: &str) -> Option<ExternalRef> {
    let results = raw.pointer("/associations/companies/results")?.as_array()?;
    let primary = format!("{singular}_to_company");
    let chosen = results
        .iter()
        .find(|r| r.get("type").and_then(Value::as_str) == Some(primary.as_str()))
        .or_else(|| results.first())?;
    let id = record_id(chosen)?;
    Some(ExternalRef::new(SYSTEM, instance, "companies", id))
}

/// Maps a company to an [`Account`].
///
/// The segment comes from the custom `segment` property when it names one, else from
/// `numberofemployees` (under 200 SMB, under 2,000 mid-market, else enterprise); the region
/// from the custom `region` property, else `country`. An empty name is kept: the sync engine
/// quarantines it through `Entity::validate`.
pub fn map_company(raw: &Value) -> Result<Account, MapError> {
    let id = record_id(raw).unwrap_or_else(|| "?".to_owned());
    let p = Fields::new(properties(raw), "companies", &id);
    let employees = p.int("numberofemployees")?;
    let segment = p
        .text("segment")
        .and_then(|s| Segment::parse(&s))
        .or_else(|| employees.map(segment_by_employees));
    let created_at = datetime(&p, "createdate")?.or_else(|| {
        let created = raw.get("createdAt")?.as_str()?;
        parse_datetime(created)
    });
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
    let id = record_id(raw).unwrap_or_else(|| "?".to_owned());
    let p = Fields::new(properties(raw), "contacts", &id);
    let name = full_name(p.text("firstname"), p.text("lastname"));
    Ok(Person {
        name,
        email: p.text("email").and_then(|e| normalize_email(&e)),
        title: p.text("jobtitle"),
        role: p.text("role").and_then(|r| PersonRole::parse(&r)),
        account: company(raw, instance, "contact"),
        first_seen_at: datetime(&p, "createdate")?,
        hints: vec![],
    })
}

/// HubSpot's standard revenue mapping, the base `[connectors.<name>.mapping]` overlays: the
/// contract value in `amount`, no ARR property (`hs_arr` exists only with line items or
/// recurring revenue), no term property (12 months), and the motion from `dealtype`, where
/// only `newbusiness` has a meaning of its own. `existingbusiness` is left unmapped: it is a
/// renewal, an expansion or a contraction, and only the portal knows which, through a custom
/// property (map that with `motion_field` and `motions`) or its pipelines.
pub fn default_mapping() -> RevenueMapping {
    RevenueMapping {
        arr_field: None,
        amount_field: "amount".to_owned(),
        term_field: None,
        default_term_months: 12,
        motion_field: Some("dealtype".to_owned()),
        motions: BTreeMap::from([("newbusiness".to_owned(), RevenueEventKind::New)]),
    }
}

/// Whether a deal is closed-won by its calculated `hs_is_closed_won` (`"true"`), or, when a
/// proxy dropped that, by the default pipeline's `closedwon` stage. Only a fallback: the
/// connector decides from the deal's stage in its pipeline (`GET /crm/v3/pipelines/deals`),
/// which also covers custom pipelines with numeric stage ids.
pub fn is_closed_won(raw: &Value) -> bool {
    let p = Fields::new(properties(raw), "deals", "");
    match p.text("hs_is_closed_won") {
        Some(v) => v.eq_ignore_ascii_case("true"),
        None => p.text("dealstage").is_some_and(|s| s == "closedwon"),
    }
}

/// The deal's `pipeline` and `dealstage` ids, when it has them.
pub fn deal_stage(raw: &Value) -> (Option<String>, Option<String>) {
    let p = Fields::new(properties(raw), "deals", "");
    (p.text("pipeline"), p.text("dealstage"))
}

/// How a deal maps: the instance, the resolved field mapping and the portal's currency.
#[derive(Debug, Clone)]
pub struct DealMapping<'a> {
    /// The connector instance, for references.
    pub instance: &'a str,
    /// The resolved field mapping.
    pub mapping: &'a RevenueMapping,
    /// The currency of deals without `deal_currency_code`.
    pub default_currency: &'a Currency,
    /// The subscription status is as seen on this day.
    pub today: NaiveDate,
}

/// Maps a deal to a [`Subscription`] when `won` (the connector decides it from the deal's
/// pipeline stage); any other deal is `Ok(None)` (skipped) without parsing.
///
/// The term starts on `closedate`'s (UTC) date and lasts the mapping's term property (its
/// default when unset or empty); ARR is the mapping's ARR property when set, else
/// `amount × 12 / term` rounded half-up to cents ([`RevenueMapping::arr`]), in
/// `deal_currency_code`, else `default_currency` (a portal without multi-currency); the
/// motion is the mapping's reading of its motion property; the plan is the deal name (the
/// pipeline's label or id when the deal has none); the status is as seen on `today`.
pub fn map_deal(
    raw: &Value,
    won: bool,
    pipeline_label: Option<&str>,
    m: &DealMapping<'_>,
) -> Result<Option<Subscription>, MapError> {
    if !won {
        return Ok(None);
    }
    let id = record_id(raw).unwrap_or_else(|| "?".to_owned());
    let p = Fields::new(properties(raw), "deals", &id);
    let revenue = p.revenue(m.mapping, "deal_currency_code", m.default_currency, None)?;
    let start = match datetime(&p, "closedate")? {
        Some(t) => t.date_naive(),
        None => {
            return Err(p.error(
                "closedate",
                None,
                "a closed-won deal needs a close date to start its term",
            ));
        }
    };
    let end = start
        .checked_add_months(Months::new(revenue.term))
        .ok_or_else(|| {
            p.error(
                "closedate",
                Some(&start.to_string()),
                "term ends out of range",
            )
        })?;
    let plan = p
        .text("dealname")
        .or_else(|| pipeline_label.map(str::to_owned))
        .or_else(|| p.text("pipeline"))
        .unwrap_or_else(|| "default".to_owned());
    Ok(Some(Subscription {
        account: company(raw, m.instance, "deal"),
        plan,
        start_date: start,
        end_date: Some(end),
        arr: revenue.arr,
        status: SubscriptionStatus::on(start, Some(end), m.today),
        motion: revenue.motion,
        arr_basis: Some(revenue.basis),
    }))
}

/// One deal→contact association of an associations v4 batch-read response, mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct DealContactEdge {
    /// The deal's id.
    pub deal: String,
    /// The contact's id.
    pub contact: String,
    /// The edge as received: `{"from":{"id"},"to":{"toObjectId","associationTypes"}}`.
    pub raw: Value,
    /// The mapped entity.
    pub entity: DealContact,
}

/// Whether an association label marks the primary record (`Primary`, `Primary Contact`,
/// `Deal with Primary Company`: HubSpot renamed its primary labels in 2024, and portals name
/// their own).
pub(crate) fn is_primary_label(label: &str) -> bool {
    label.to_ascii_lowercase().contains("primary")
}

/// The deal→contact edges of an associations v4 batch-read response
/// (`POST /crm/v4/associations/deals/contacts/batch/read`), in the order served. The role is
/// the first association label that does not mark the primary (HubSpot's own deal→contact
/// type, 3, is unlabeled; labels such as `Decision Maker` are the portal's), and `primary`
/// says whether any label marks the primary contact. An edge without an id is an `Err` with
/// the raw edge, for a reject; inputs listed under `errors` (no contacts) have no edges.
pub fn deal_contact_edges(response: &Value, instance: &str) -> Vec<Result<DealContactEdge, Value>> {
    let mut out = Vec::new();
    let Some(results) = response.get("results").and_then(Value::as_array) else {
        return out;
    };
    for result in results {
        let from = result.pointer("/from/id").and_then(id_text);
        for edge in array(result, "to") {
            let raw = serde_json::json!({"from": result.get("from").cloned().unwrap_or(Value::Null), "to": edge});
            let (Some(deal), Some(contact)) =
                (from.clone(), edge.get("toObjectId").and_then(id_text))
            else {
                out.push(Err(raw));
                continue;
            };
            let labels: Vec<&str> = array(edge, "associationTypes")
                .iter()
                .filter_map(|t| t.get("label").and_then(Value::as_str))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let primary = labels.iter().any(|l| is_primary_label(l));
            let role = labels
                .iter()
                .find(|l| !is_primary_label(l))
                .map(|l| (*l).to_owned());
            out.push(Ok(DealContactEdge {
                entity: DealContact {
                    subscription: Some(ExternalRef::new(SYSTEM, instance, "deals", &deal)),
                    person: Some(ExternalRef::new(SYSTEM, instance, "contacts", &contact)),
                    role,
                    primary,
                },
                deal,
                contact,
                raw,
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use serde_json::json;
    use tributary_connector::MappingSettings;

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
            "companies `7`: field `numberofemployees` has invalid value `lots`: expected a whole number"
        );
        let raw = json!({"id": "7", "properties": {"name": "X", "createdate": "yesterday"}});
        assert_eq!(map_company(&raw).unwrap_err().field, "createdate");
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

    fn sim_mapping() -> RevenueMapping {
        serde_json::from_value::<tributary_connector::MappingSettings>(
            tributary_mock_hubspot::revenue_mapping(),
        )
        .unwrap()
        .resolve(default_mapping())
        .unwrap()
    }

    /// Maps `raw` as won, with the simulator's mapping, in `currency` by default.
    fn won(
        raw: &Value,
        currency: &Currency,
        today: &str,
    ) -> Result<Option<Subscription>, MapError> {
        let mapping = sim_mapping();
        map_deal(
            raw,
            is_closed_won(raw),
            Some("Sales Pipeline"),
            &DealMapping {
                instance: "hs",
                mapping: &mapping,
                default_currency: currency,
                today: day(today),
            },
        )
    }

    #[test]
    fn won_deal_becomes_a_subscription() {
        let raw = deal(json!({
            "dealname": "Bluepeak – renewal 2024", "amount": "12000", "deal_currency_code": "eur",
            "dealstage": "closedwon", "hs_is_closed_won": "true", "closedate": "2024-03-01T17:00:00.000Z",
            "term_months": null, "pipeline": "default", "deal_motion": "renewal"
        }));
        let s = won(&raw, &usd(), "2024-06-01").unwrap().unwrap();
        assert_eq!(s.plan, "Bluepeak – renewal 2024");
        assert_eq!(s.start_date, day("2024-03-01"));
        assert_eq!(s.end_date, Some(day("2025-03-01")));
        assert_eq!(s.arr.amount, Decimal::from(12000));
        assert_eq!(s.arr.currency.to_string(), "EUR");
        assert_eq!(s.status, SubscriptionStatus::Active);
        assert_eq!(s.motion, Some(RevenueEventKind::Renewal));
        assert_eq!(
            s.account,
            Some(ExternalRef::new("hubspot", "hs", "companies", "901")),
            "the labeled association is the primary"
        );
        let ended = won(&raw, &usd(), "2025-03-01").unwrap().unwrap();
        assert_eq!(ended.status, SubscriptionStatus::Ended);
    }

    #[test]
    fn short_terms_annualise_and_currency_defaults() {
        let raw = deal(json!({
            "dealname": null, "pipeline": "1487", "amount": "1750.00", "dealstage": "123456",
            "hs_is_closed_won": "true", "closedate": "2024-05-15T00:00:00Z", "term_months": "7",
            "deal_motion": "add_on"
        }));
        let gbp = Currency::parse("GBP").unwrap();
        let s = won(&raw, &gbp, "2024-06-01").unwrap().unwrap();
        assert_eq!(s.plan, "Sales Pipeline", "no name: the pipeline's label");
        assert_eq!(s.arr.to_string(), "3000.00 GBP");
        assert_eq!(s.end_date, Some(day("2024-12-15")));
        assert_eq!(s.motion, Some(RevenueEventKind::Expansion));
    }

    #[test]
    fn the_mapping_names_the_fields_for_arr_term_and_motion() {
        // HubSpot's defaults: amount over 12 months, `dealtype` for the motion.
        let defaults = default_mapping();
        assert_eq!(defaults.fields(), ["amount", "dealtype"]);
        let raw = deal(json!({
            "dealname": "X", "amount": "6000", "closedate": "2024-01-01T00:00:00Z",
            "term_months": "6", "dealtype": "newbusiness", "hs_arr": "9000"
        }));
        let m = DealMapping {
            instance: "hs",
            mapping: &defaults,
            default_currency: &usd(),
            today: day("2024-02-01"),
        };
        let s = map_deal(&raw, true, None, &m).unwrap().unwrap();
        assert_eq!(
            (s.arr.amount, s.end_date),
            (Decimal::from(6000), Some(day("2025-01-01")))
        );
        assert_eq!(s.motion, Some(RevenueEventKind::New));
        let existing =
            deal(json!({"amount": "1", "closedate": "2024-01-01", "dealtype": "existingbusiness"}));
        assert_eq!(
            map_deal(&existing, true, None, &m).unwrap().unwrap().motion,
            None
        );
        // An ARR property wins over the amount; the term still sets the end.
        let settings: MappingSettings = serde_json::from_value(json!({
            "arr_field": "hs_arr", "term_field": "term_months", "motion_field": ""
        }))
        .unwrap();
        let custom = settings.resolve(default_mapping()).unwrap();
        assert_eq!(custom.fields(), ["hs_arr", "amount", "term_months"]);
        let m = DealMapping {
            mapping: &custom,
            ..m
        };
        let s = map_deal(&raw, true, None, &m).unwrap().unwrap();
        assert_eq!(
            (s.arr.amount, s.end_date),
            (Decimal::from(9000), Some(day("2024-07-01")))
        );
        assert_eq!(s.motion, None);
        // Without an ARR value, the amount over the configured term.
        let no_arr = deal(json!({"amount": "6000", "closedate": "2024-01-01", "term_months": "6"}));
        assert_eq!(
            map_deal(&no_arr, true, None, &m)
                .unwrap()
                .unwrap()
                .arr
                .amount,
            Decimal::from(12000)
        );
    }

    #[test]
    fn lost_and_open_deals_are_skipped_without_parsing() {
        for props in [
            json!({"dealstage": "closedlost", "hs_is_closed_won": "false", "amount": "garbage"}),
            json!({"dealstage": "contractsent", "amount": null}),
            json!({}),
            // The calculated property wins over the stage id.
            json!({"dealstage": "closedwon", "hs_is_closed_won": "false"}),
        ] {
            assert_eq!(won(&deal(props), &usd(), "2024-01-01"), Ok(None));
        }
        assert_eq!(won(&json!(null), &usd(), "2024-01-01"), Ok(None));
        assert!(is_closed_won(&deal(json!({"dealstage": "closedwon"}))));
        assert!(is_closed_won(&deal(
            json!({"dealstage": "4811304", "hs_is_closed_won": "TRUE"})
        )));
        assert_eq!(
            deal_stage(&deal(json!({"pipeline": "1487", "dealstage": "4811304"}))),
            (Some("1487".into()), Some("4811304".into()))
        );
    }

    #[test]
    fn won_deals_with_bad_values_are_rejected_naming_property_and_value() {
        let check = |props: Value, property: &str, message: &str| {
            let mut p = json!({"dealstage": "closedwon", "amount": "100", "closedate": "2024-01-01T00:00:00Z"});
            for (k, v) in props.as_object().unwrap() {
                p[k] = v.clone();
            }
            let e = won(&deal(p), &usd(), "2024-06-01").unwrap_err();
            assert_eq!(e.field, property);
            assert_eq!(e.to_string(), message);
        };
        check(
            json!({"amount": "12,5O0"}),
            "amount",
            "deals `512`: field `amount` has invalid value `12,5O0`: expected a decimal number",
        );
        check(
            json!({"amount": null}),
            "amount",
            "deals `512`: field `amount` is missing: a won deal needs an ARR or an amount to derive ARR",
        );
        check(
            json!({"amount": "-5"}),
            "amount",
            "deals `512`: field `amount` has invalid value `-5`: ARR must not be negative, got -5",
        );
        check(
            json!({"closedate": "soon"}),
            "closedate",
            "deals `512`: field `closedate` has invalid value `soon`: expected an ISO 8601 date-time",
        );
        check(
            json!({"closedate": null}),
            "closedate",
            "deals `512`: field `closedate` is missing: a closed-won deal needs a close date to start its term",
        );
        check(
            json!({"deal_currency_code": "EURO"}),
            "deal_currency_code",
            "deals `512`: field `deal_currency_code` has invalid value `EURO`: expected an ISO 4217 code",
        );
        check(
            json!({"term_months": "0"}),
            "term_months",
            "deals `512`: field `term_months` has invalid value `0`: expected a term between 1 and 120 months, got 0",
        );
        check(
            json!({"term_months": "twelve"}),
            "term_months",
            "deals `512`: field `term_months` has invalid value `twelve`: expected a whole number",
        );
    }

    #[test]
    fn amounts_keep_their_deals_currency_or_take_the_portals() {
        let cases = [
            (json!("EUR"), "EUR"),
            (json!("GBP"), "GBP"),
            (json!("usd"), "USD"),
            (json!(null), "CHF"),
            (json!(""), "CHF"),
        ];
        let chf = Currency::parse("CHF").unwrap();
        for (code, expected) in cases {
            let raw = deal(json!({"dealstage": "closedwon", "amount": "1234.56",
                "closedate": "2024-01-01", "deal_currency_code": code}));
            let s = won(&raw, &chf, "2024-02-01").unwrap().unwrap();
            assert_eq!(s.arr.currency.to_string(), expected, "{code}");
            assert_eq!(s.arr.amount.to_string(), "1234.56");
        }
        // A portal without multi-currency sends no such property at all.
        let raw =
            deal(json!({"dealstage": "closedwon", "amount": "10", "closedate": "2024-01-01"}));
        assert_eq!(
            won(&raw, &chf, "2024-02-01").unwrap().unwrap().arr.currency,
            chf
        );
    }

    #[test]
    fn deal_contact_edges_carry_labels_and_the_primary() {
        let response = json!({"status": "COMPLETE", "results": [{
            "from": {"id": "512"},
            "to": [
                {"toObjectId": 101, "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": 3, "label": null},
                    {"category": "USER_DEFINED", "typeId": 16, "label": "Primary Contact"},
                    {"category": "USER_DEFINED", "typeId": 18, "label": "Decision Maker"},
                ]},
                {"toObjectId": "102", "associationTypes": [
                    {"category": "USER_DEFINED", "typeId": 20, "label": "Champion"},
                ]},
                {"toObjectId": 103, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 3, "label": null}]},
                {"associationTypes": []},
            ],
        }], "errors": [{"context": {"fromObjectId": ["513"]}}]});
        let edges = deal_contact_edges(&response, "hs");
        assert_eq!(edges.len(), 4);
        let ok: Vec<&DealContactEdge> = edges.iter().filter_map(|e| e.as_ref().ok()).collect();
        let summary: Vec<(&str, &str, Option<&str>, bool)> = ok
            .iter()
            .map(|e| {
                (
                    e.deal.as_str(),
                    e.contact.as_str(),
                    e.entity.role.as_deref(),
                    e.entity.primary,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("512", "101", Some("Decision Maker"), true),
                ("512", "102", Some("Champion"), false),
                ("512", "103", None, false),
            ]
        );
        assert_eq!(
            ok[0].entity.subscription,
            Some(ExternalRef::new("hubspot", "hs", "deals", "512"))
        );
        assert_eq!(
            ok[0].entity.person,
            Some(ExternalRef::new("hubspot", "hs", "contacts", "101"))
        );
        assert_eq!(ok[1].raw["to"]["toObjectId"], "102");
        assert_eq!(ok[1].raw["from"]["id"], "512");
        assert!(edges[3].is_err());
        assert!(deal_contact_edges(&json!({"status": "error"}), "hs").is_empty());
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
            let _ = won(&raw, &usd(), "2024-01-01");
            let _ = deal_contact_edges(&raw, "hs");
        }
        assert_eq!(record_id(&json!({"id": 5})).as_deref(), Some("5"));
        assert_eq!(record_id(&json!({"id": " "})), None);
    }
}
