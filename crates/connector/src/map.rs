//! What every vendor's mapping shares: [`MapError`], the reason a record is rejected, and
//! [`Fields`], typed readers over a record's fields that name the record, field and value when
//! one does not parse.
//!
//! Vendors send numbers, booleans and dates as JSON strings as often as natively (HubSpot sends
//! every property as a string; a proxy in front of Salesforce may too), and a cleared field can
//! come back as `""`. So every reader accepts both forms and treats an empty string like null:
//! a record is rejected for a value that is there and wrong, never for one that is absent.

use crate::{ArrProblem, BodyError, RevenueMapping};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;
use tributary_model::{ArrBasis, Currency, Money, RevenueEventKind, Segment};

/// A field that could not be mapped; the record is rejected with this as its reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object} `{id}`: field `{field}` {}: {problem}", value.as_ref().map_or_else(|| "is missing".to_owned(), |v| format!("has invalid value `{v}`")))]
pub struct MapError {
    /// The vendor's object (`deals`, `Opportunity`…).
    pub object: &'static str,
    /// The record id, or `?` when the record has none.
    pub id: String,
    /// The offending field (a configured one, for mapped revenue fields).
    pub field: String,
    /// The value as received; `None` when it was missing or null.
    pub value: Option<String>,
    /// What was expected.
    pub problem: String,
}

/// An id as text: a non-empty string (trimmed) or a number, as vendors and lenient proxies
/// send them.
pub fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses the timestamp forms vendors send: RFC 3339 (`2024-03-02T08:11:19.515Z`), an offset
/// without a colon (Salesforce's `2024-04-25T15:50:37.000+0000`), epoch milliseconds
/// (`1709251200000`, HubSpot's legacy form and search filters), a bare date (`2024-03-01`,
/// read as midnight UTC) and ISO without a zone (read as UTC).
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.to_utc());
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.to_utc());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok().and_then(DateTime::from_timestamp_millis);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

/// The size band of a headcount, as both CRMs' standard employee counts are read: under 200
/// SMB, under 2,000 mid-market, else enterprise.
pub fn segment_by_employees(employees: i64) -> Segment {
    match employees {
        n if n < 200 => Segment::Smb,
        n if n < 2000 => Segment::MidMarket,
        _ => Segment::Enterprise,
    }
}

/// A person's display name from first and last name, either of which may be missing.
pub fn full_name(first: Option<String>, last: Option<String>) -> String {
    [first, last]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Typed reads of one record's fields (`fields` is the JSON object that holds them: the
/// record itself, or HubSpot's `properties`), with errors naming the record.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    fields: &'a Value,
    object: &'static str,
    id: &'a str,
}

impl<'a> Fields<'a> {
    /// Reads `fields` of the `object` record `id` (`?` when it has none).
    pub fn new(fields: &'a Value, object: &'static str, id: &'a str) -> Self {
        Self { fields, object, id }
    }

    /// A [`MapError`] about `field` of this record.
    pub fn error(&self, field: &str, value: Option<&str>, problem: &str) -> MapError {
        MapError {
            object: self.object,
            id: self.id.to_owned(),
            field: field.to_owned(),
            value: value.map(str::to_owned),
            problem: problem.to_owned(),
        }
    }

    /// The value as text: `None` when absent, null or blank; numbers and booleans rendered.
    pub fn text(&self, field: &str) -> Option<String> {
        match self.fields.get(field)? {
            Value::Null => None,
            Value::String(s) => {
                let t = s.trim();
                (!t.is_empty()).then(|| t.to_owned())
            }
            other => Some(other.to_string()),
        }
    }

    /// A whole number; `250.0` is accepted, `12.5` and `abc` are not.
    pub fn int(&self, field: &str) -> Result<Option<i64>, MapError> {
        let Some(s) = self.text(field) else {
            return Ok(None);
        };
        if let Ok(n) = s.parse::<i64>() {
            return Ok(Some(n));
        }
        parse_decimal(&s)
            .filter(|d| d.fract().is_zero())
            .and_then(|d| i64::try_from(d).ok())
            .map(Some)
            .ok_or_else(|| self.error(field, Some(&s), "expected a whole number"))
    }

    /// A decimal number, plain or in scientific notation.
    pub fn decimal(&self, field: &str) -> Result<Option<Decimal>, MapError> {
        let Some(s) = self.text(field) else {
            return Ok(None);
        };
        parse_decimal(&s)
            .map(Some)
            .ok_or_else(|| self.error(field, Some(&s), "expected a decimal number"))
    }

    /// A date-time by the vendor's `parse`; `expected` describes its forms for the error.
    pub fn datetime(
        &self,
        field: &str,
        parse: fn(&str) -> Option<DateTime<Utc>>,
        expected: &str,
    ) -> Result<Option<DateTime<Utc>>, MapError> {
        let Some(s) = self.text(field) else {
            return Ok(None);
        };
        parse(&s)
            .map(Some)
            .ok_or_else(|| self.error(field, Some(&s), expected))
    }

    /// A calendar date, `YYYY-MM-DD`.
    pub fn date(&self, field: &str) -> Result<Option<NaiveDate>, MapError> {
        let Some(s) = self.text(field) else {
            return Ok(None);
        };
        NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| self.error(field, Some(&s), "expected YYYY-MM-DD"))
    }

    /// A boolean: JSON `true`/`false` or the strings, in any case.
    pub fn bool(&self, field: &str) -> Result<Option<bool>, MapError> {
        match self.text(field) {
            None => Ok(None),
            Some(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(s) => Err(self.error(field, Some(&s), "expected true or false")),
        }
    }
}

impl Fields<'_> {
    /// The currency in `field`, else `default` (a single-currency org or portal).
    pub fn currency(&self, field: &str, default: &Currency) -> Result<Currency, MapError> {
        match self.text(field) {
            None => Ok(default.clone()),
            Some(code) => Currency::parse(&code)
                .map_err(|_| self.error(field, Some(&code), "expected an ISO 4217 code")),
        }
    }

    /// The term (months) and ARR of a won deal or contract through `mapping`'s fields (see
    /// [`RevenueMapping::arr`]); `term_fallback` names the object's own term field (Salesforce
    /// `Contract.ContractTerm`) read when the mapping has none. An error names the field at
    /// fault: the term's, the amount's when there is no value, the one that is negative.
    pub fn term_and_arr(
        &self,
        mapping: &RevenueMapping,
        term_fallback: Option<&str>,
    ) -> Result<(u32, Decimal, ArrBasis), MapError> {
        let arr = match &mapping.arr_field {
            Some(field) => self.decimal(field)?,
            None => None,
        };
        let amount = self.decimal(&mapping.amount_field)?;
        let term_field = mapping.term_field.as_deref().or(term_fallback);
        let term = match term_field {
            Some(field) => self.int(field)?,
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
                _ => self.text(field),
            };
            self.error(field, value.as_deref(), &problem.describe())
        })
    }
}

/// What a won deal or contract is worth, read through a [`RevenueMapping`]
/// ([`Fields::revenue`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revenue {
    /// The term in months.
    pub term: u32,
    /// ARR, in the record's currency, rounded to its minor unit ([`Money::rounded`]).
    pub arr: Money,
    /// How the ARR was derived: the ARR field, or the amount over the term.
    pub basis: ArrBasis,
    /// The mapping's reading of its motion field, when it lists the value.
    pub motion: Option<RevenueEventKind>,
}

impl Fields<'_> {
    /// The term and ARR of a won deal or contract ([`Fields::term_and_arr`], `term_fallback`
    /// as there), the ARR in the currency of `currency_field`, else `default_currency`
    /// ([`Fields::currency`]), and the motion as `mapping` reads its motion field
    /// ([`RevenueMapping::motion`]).
    pub fn revenue(
        &self,
        mapping: &RevenueMapping,
        currency_field: &str,
        default_currency: &Currency,
        term_fallback: Option<&str>,
    ) -> Result<Revenue, MapError> {
        let (term, arr, basis) = self.term_and_arr(mapping, term_fallback)?;
        let currency = self.currency(currency_field, default_currency)?;
        let motion_value = mapping.motion_field.as_deref().and_then(|f| self.text(f));
        Ok(Revenue {
            term,
            arr: Money::rounded(arr, currency),
            basis,
            motion: mapping.motion(motion_value.as_deref()),
        })
    }
}

fn parse_decimal(s: &str) -> Option<Decimal> {
    Decimal::from_str(s)
        .or_else(|_| Decimal::from_scientific(s))
        .ok()
}

/// The fields an object has, from the vendor's field metadata (Salesforce's `describe`,
/// HubSpot's property definitions): what a mapping is checked against before anything is read
/// ([`RevenueMapping::fields_on`], [`RevenueMapping::ensure_fields_exist`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldCatalog {
    /// Lowercased name → the name as the vendor spells it.
    names: std::collections::BTreeMap<String, String>,
}

impl FieldCatalog {
    /// The `name` of every entry of the array at `key` of `body` (`fields` of a describe,
    /// `results` of property definitions); `None` when there is no such array.
    pub fn from_names(body: &Value, key: &str) -> Option<Self> {
        let names = body.get(key)?.as_array()?;
        Some(Self {
            names: names
                .iter()
                .filter_map(|f| f.get("name")?.as_str())
                .map(|n| (n.to_ascii_lowercase(), n.to_owned()))
                .collect(),
        })
    }

    /// The field's name as the vendor spells it, matched case-insensitively (Salesforce's API
    /// names are).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.names
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// How many fields the object has.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The rows of one page of a CSV export as JSON records keyed by `columns` (every value a
/// string, an empty value null), for vendors that export CSV (Salesforce's Bulk API results,
/// Canvas's reports), so that the records map like the vendor's JSON ones. The header row must
/// name `columns`, in order (case-insensitively). A body that does not end with a line break,
/// or holds fewer rows than the vendor `announced` for the page, arrived cut short:
/// [`BodyError::Incomplete`], which [`crate::HttpClient::send_decoded`] fetches again. A
/// malformed row, or more rows than announced, is [`BodyError::Invalid`].
pub fn csv_records(
    body: &[u8],
    columns: &[String],
    delimiter: u8,
    announced: Option<usize>,
) -> Result<Vec<Value>, BodyError> {
    // Every page has a header row and ends with a line break (LF or CRLF).
    if body.last() != Some(&b'\n') {
        return Err(BodyError::Incomplete(format!(
            "the CSV body ({} bytes) does not end with a line break",
            body.len()
        )));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(delimiter)
        .from_reader(body);
    let header = reader
        .headers()
        .map_err(|e| BodyError::Invalid(format!("unreadable CSV header row: {e}")))?
        .clone();
    let same = header.len() == columns.len()
        && header
            .iter()
            .zip(columns)
            .all(|(h, c)| h.trim().eq_ignore_ascii_case(c));
    if !same {
        return Err(BodyError::Invalid(format!(
            "CSV columns `{}` are not the query's `{}`",
            header.iter().collect::<Vec<_>>().join(","),
            columns.join(",")
        )));
    }
    let mut records = Vec::new();
    for (line, row) in reader.records().enumerate() {
        let row = row.map_err(|e| BodyError::Invalid(format!("CSV row {}: {e}", line + 1)))?;
        let record = columns.iter().zip(row.iter()).map(|(column, value)| {
            let value = (!value.is_empty()).then(|| Value::String(value.to_owned()));
            (column.clone(), value.unwrap_or(Value::Null))
        });
        records.push(Value::Object(record.collect()));
    }
    match announced {
        Some(n) if records.len() < n => Err(BodyError::Incomplete(format!(
            "{} of the {n} rows the page announced",
            records.len()
        ))),
        Some(n) if records.len() > n => Err(BodyError::Invalid(format!(
            "{} rows where the page announced {n}",
            records.len()
        ))),
        _ => Ok(records),
    }
}

/// The array at `key` of `value`, empty when it is missing or not an array (a vendor's
/// optional list: a pipeline's `stages`, an association's `to`).
pub fn array<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn iso(s: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc())
    }

    #[test]
    fn readers_accept_strings_and_native_values_and_name_what_failed() {
        let raw = json!({"n": "250.0", "m": 7, "x": "12.5", "d": "1e3", "blank": " ", "b": true,
            "s": "FALSE", "t": "2024-03-01T00:00:00Z", "day": "2024-03-01", "bad": "soon"});
        let f = Fields::new(&raw, "deals", "42");
        assert_eq!(f.int("n"), Ok(Some(250)));
        assert_eq!(f.int("m"), Ok(Some(7)));
        assert_eq!(f.int("blank"), Ok(None));
        assert_eq!(f.int("absent"), Ok(None));
        assert_eq!(
            f.int("x").unwrap_err().to_string(),
            "deals `42`: field `x` has invalid value `12.5`: expected a whole number"
        );
        assert_eq!(f.decimal("d"), Ok(Some(Decimal::from(1000))));
        assert_eq!(f.bool("b"), Ok(Some(true)));
        assert_eq!(f.bool("s"), Ok(Some(false)));
        assert!(f.bool("bad").is_err());
        assert_eq!(
            f.datetime("t", iso, "expected ISO"),
            Ok(iso("2024-03-01T00:00:00Z"))
        );
        assert_eq!(
            f.datetime("bad", iso, "expected ISO")
                .unwrap_err()
                .to_string(),
            "deals `42`: field `bad` has invalid value `soon`: expected ISO"
        );
        assert_eq!(f.date("day"), Ok(NaiveDate::from_ymd_opt(2024, 3, 1)));
        assert_eq!(
            f.error("amount", None, "needed").to_string(),
            "deals `42`: field `amount` is missing: needed"
        );
        assert_eq!(id_text(&json!(" 7 ")), Some("7".to_owned()));
        assert_eq!(full_name(None, Some("Ng".into())), "Ng");
        assert_eq!(segment_by_employees(199), Segment::Smb);
        assert_eq!(segment_by_employees(200), Segment::MidMarket);
        assert_eq!(segment_by_employees(2000), Segment::Enterprise);
        for (s, ms) in [
            ("2024-03-01T00:00:00.001Z", 1_709_251_200_001),
            ("2024-03-01T01:00:00.000+0100", 1_709_251_200_000),
            ("1709251200000", 1_709_251_200_000),
            ("2024-03-01", 1_709_251_200_000),
            ("2024-03-01T00:00:00", 1_709_251_200_000),
        ] {
            assert_eq!(
                parse_timestamp(s).map(|t| t.timestamp_millis()),
                Some(ms),
                "{s}"
            );
        }
        assert_eq!(parse_timestamp(" "), None);
        assert_eq!(id_text(&json!(8)), Some("8".to_owned()));
        assert_eq!(id_text(&json!("")), None);
    }

    #[test]
    fn revenue_reads_term_arr_currency_and_motion_through_the_mapping() {
        let mapping = RevenueMapping {
            arr_field: None,
            amount_field: "Amount".into(),
            term_field: None,
            default_term_months: 12,
            motion_field: Some("Type".into()),
            motions: [("New Customer".to_owned(), RevenueEventKind::New)].into(),
        };
        let usd = Currency::usd();
        let raw = json!({"Amount": "6000", "Term": 6, "Cur": "EUR", "Type": "New Customer"});
        let f = Fields::new(&raw, "Contract", "800A");
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(
            f.revenue(&mapping, "Cur", &usd, Some("Term")),
            Ok(Revenue {
                term: 6,
                arr: Money::new(Decimal::from(12000), eur.clone()),
                basis: ArrBasis::AmountOverTerm,
                motion: Some(RevenueEventKind::New),
            })
        );
        // amount × 12 / term rounded to the currency's minor unit: cents for EUR, yen for JPY.
        for (cur, shown) in [("EUR", "1714.29"), ("JPY", "1714"), ("KWD", "1714.286")] {
            let raw = json!({"Amount": "1000", "Term": 7, "Cur": cur});
            let r = Fields::new(&raw, "Contract", "800B")
                .revenue(&mapping, "Cur", &usd, Some("Term"))
                .unwrap();
            assert_eq!(r.arr.amount.to_string(), shown);
        }
        let plain = json!({"Amount": 100, "Type": "Renewal"});
        let r = Fields::new(&plain, "Opportunity", "006A")
            .revenue(&mapping, "Cur", &usd, None)
            .unwrap();
        assert_eq!(
            (r.term, r.arr.currency.as_str(), r.motion, r.basis),
            (12, "USD", None, ArrBasis::AmountOverDefaultTerm)
        );
        assert_eq!(r.arr.amount.to_string(), "100.00");
        let bad = json!({"Amount": 100, "Cur": "dollars"});
        let err = Fields::new(&bad, "Opportunity", "006A")
            .revenue(&mapping, "Cur", &usd, None)
            .unwrap_err();
        assert_eq!(err.field, "Cur");
        let none = json!({"Type": "New Customer"});
        let err = Fields::new(&none, "Opportunity", "006A")
            .revenue(&mapping, "Cur", &usd, None)
            .unwrap_err();
        assert_eq!(err.field, "Amount");
    }

    #[test]
    fn a_field_catalog_finds_fields_as_the_vendor_spells_them() {
        let describe = json!({"name": "Contract", "fields": [{"name": "Id"}, {"name": "ARR__c"}, {"label": "x"}]});
        let c = FieldCatalog::from_names(&describe, "fields").unwrap();
        assert_eq!((c.len(), c.is_empty()), (2, false));
        assert_eq!(c.field("arr__C"), Some("ARR__c"));
        assert_eq!(c.field("Amount"), None);
        assert_eq!(FieldCatalog::from_names(&describe, "results"), None);
        assert_eq!(
            FieldCatalog::from_names(&json!({"results": {}}), "results"),
            None
        );
    }

    #[test]
    fn csv_rows_become_records_and_short_pages_are_incomplete() {
        let columns: Vec<String> = ["Id", "Name", "Amount"].map(str::to_owned).into();
        let body = b"\"Id\",\"Name\",\"Amount\"\n\"006A\",\"Acme, \"\"Inc\"\"\nEU\",\"\"\n006B,Beta,12.50\r\n";
        assert_eq!(
            csv_records(body, &columns, b',', Some(2)),
            Ok(vec![
                json!({"Id": "006A", "Name": "Acme, \"Inc\"\nEU", "Amount": null}),
                json!({"Id": "006B", "Name": "Beta", "Amount": "12.50"}),
            ])
        );
        assert_eq!(
            csv_records(b"id|name|amount\n", &columns, b'|', None),
            Ok(vec![])
        );
        // A body cut anywhere but inside a quoted line break is incomplete.
        let plain = b"Id,Name,Amount\n006A,Acme,\n006B,Beta,12.50\r\n";
        for cut in 0..plain.len() - 1 {
            assert!(
                matches!(
                    csv_records(&plain[..cut], &columns, b',', Some(2)),
                    Err(BodyError::Incomplete(_))
                ),
                "{cut}"
            );
        }
        // Cut at a row's end: only the announced count tells.
        let first_row = body.iter().position(|b| *b == b'\n').unwrap() + 1;
        let one = &body[..body.len() - b"006B,Beta,12.50\r\n".len()];
        assert!(first_row < one.len());
        assert!(matches!(
            csv_records(one, &columns, b',', Some(2)),
            Err(BodyError::Incomplete(_))
        ));
        assert!(matches!(
            csv_records(body, &columns, b',', Some(1)),
            Err(BodyError::Invalid(_))
        ));
        assert!(matches!(
            csv_records(body, &columns[..2], b',', None),
            Err(BodyError::Invalid(m)) if m.contains("not the query's")
        ));
    }

    #[test]
    fn optional_arrays_read_as_empty() {
        let v = json!({"to": [1, 2], "stages": null, "label": "x"});
        assert_eq!(array(&v, "to"), &[json!(1), json!(2)][..]);
        assert!(array(&v, "stages").is_empty());
        assert!(array(&v, "label").is_empty());
        assert!(array(&v, "missing").is_empty());
    }
}
