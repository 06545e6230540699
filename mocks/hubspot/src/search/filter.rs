//! Search request parsing: `filterGroups`, filters and their operators, sorts, limits and
//! HubSpot's validation errors, checked against HubSpot's documented limits.

use super::*;

/// How a property's values compare in search filters and sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PropertyKind {
    /// Date-times, compared as epoch milliseconds; filter values may be epoch milliseconds (a
    /// string or a number) or ISO 8601.
    Date,
    /// Numbers, compared as decimals.
    Number,
    /// Everything else, compared case-insensitively.
    Text,
}

pub(crate) fn property_kind(name: &str) -> PropertyKind {
    match name {
        "createdate" | "hs_lastmodifieddate" | "lastmodifieddate" | "closedate" => {
            PropertyKind::Date
        }
        "hs_object_id"
        | "amount"
        | "numberofemployees"
        | "seats"
        | "term_months"
        | "hs_deal_stage_probability"
        | "hubspot_owner_id"
        | "associatedcompanyid" => PropertyKind::Number,
        _ => PropertyKind::Text,
    }
}

/// A property value as search compares it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SearchKey {
    /// A number, or a date-time as epoch milliseconds.
    Number(Decimal),
    /// Lower-cased text.
    Text(String),
}

/// Epoch milliseconds from the forms HubSpot's search accepts for dates: digits (epoch
/// milliseconds), ISO 8601 with an offset, or a bare `YYYY-MM-DD` (midnight UTC).
pub(crate) fn parse_epoch_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_time(NaiveTime::MIN).and_utc().timestamp_millis())
}

pub(crate) fn ms_key(t: DateTime<Utc>) -> SearchKey {
    SearchKey::Number(Decimal::from(t.timestamp_millis()))
}

/// A stored property value (always text) as a key of `kind`; `None` when it is missing or
/// does not parse as that kind, which search treats alike.
pub(crate) fn stored_key(kind: PropertyKind, value: &str) -> Option<SearchKey> {
    match kind {
        PropertyKind::Date => parse_epoch_ms(value).map(|ms| SearchKey::Number(Decimal::from(ms))),
        PropertyKind::Number => Decimal::from_str(value.trim()).ok().map(SearchKey::Number),
        PropertyKind::Text => Some(SearchKey::Text(value.to_lowercase())),
    }
}

/// A filter value of the request as a key of `kind`.
pub(crate) fn operand(kind: PropertyKind, value: &Value) -> Option<SearchKey> {
    match (kind, value) {
        (PropertyKind::Date, Value::Number(n)) => n.as_i64().map(|ms| SearchKey::Number(ms.into())),
        (PropertyKind::Number, Value::Number(n)) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .ok()
            .map(SearchKey::Number),
        (PropertyKind::Text, Value::Number(n)) => Some(SearchKey::Text(n.to_string())),
        (PropertyKind::Text, Value::Bool(b)) => Some(SearchKey::Text(b.to_string())),
        (_, Value::String(s)) => stored_key(kind, s),
        _ => None,
    }
}

/// What one filter asks of a property.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    Eq(SearchKey),
    Neq(SearchKey),
    Lt(SearchKey),
    Lte(SearchKey),
    Gt(SearchKey),
    Gte(SearchKey),
    Between(SearchKey, SearchKey),
    In(Vec<SearchKey>),
    NotIn(Vec<SearchKey>),
    Has,
    NotHas,
}

#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub(crate) property: String,
    pub(crate) kind: PropertyKind,
    pub(crate) test: Test,
}

impl Filter {
    /// Whether a record whose property is `value` passes. A missing value passes only the
    /// negative tests (`NEQ`, `NOT_IN`, `NOT_HAS_PROPERTY`), as in HubSpot's index.
    pub(crate) fn passes(&self, value: Option<&SearchKey>) -> bool {
        match (&self.test, value) {
            (Test::Has, v) => v.is_some(),
            (Test::NotHas, v) => v.is_none(),
            (Test::Neq(k), v) => v != Some(k),
            (Test::NotIn(ks), v) => v.is_none_or(|v| !ks.contains(v)),
            (_, None) => false,
            (Test::Eq(k), Some(v)) => v == k,
            (Test::Lt(k), Some(v)) => v < k,
            (Test::Lte(k), Some(v)) => v <= k,
            (Test::Gt(k), Some(v)) => v > k,
            (Test::Gte(k), Some(v)) => v >= k,
            (Test::Between(lo, hi), Some(v)) => lo <= v && v <= hi,
            (Test::In(ks), Some(v)) => ks.contains(v),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Sort {
    pub(crate) property: String,
    pub(crate) kind: PropertyKind,
    pub(crate) descending: bool,
}

/// A parsed search request body.
#[derive(Debug, Clone)]
pub(crate) struct SearchRequest {
    /// ORed groups of ANDed filters; none matches every record.
    pub(crate) groups: Vec<Vec<Filter>>,
    pub(crate) sort: Option<Sort>,
    pub(crate) properties: Option<Vec<String>>,
    pub(crate) limit: usize,
    pub(crate) after: usize,
    pub(crate) query: Option<String>,
}

/// HubSpot's 400 for a request it cannot run: category `VALIDATION_ERROR`, with the offending
/// input named in `errors[].in`.
pub(crate) fn validation_error(message: &str, input: &str) -> Response {
    let body = json!({
        "status": "error",
        "message": message,
        "correlationId": uuid::Uuid::now_v7().to_string(),
        "category": "VALIDATION_ERROR",
        "errors": [{"message": message, "in": input}],
    });
    json_response(StatusCode::BAD_REQUEST, &body)
}

/// A search request HubSpot would refuse: why, and which input (`errors[].in`).
#[derive(Debug)]
pub(crate) struct Invalid {
    pub(crate) message: String,
    pub(crate) input: &'static str,
}

impl Invalid {
    pub(crate) fn new(message: impl Into<String>, input: &'static str) -> Self {
        Self {
            message: message.into(),
            input,
        }
    }

    pub(crate) fn response(&self) -> Response {
        validation_error(&self.message, self.input)
    }
}

/// A whole number given as a JSON number or a string of digits (HubSpot's SDKs send either).
pub(crate) fn whole_number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if s.trim().is_empty() => Some(0),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn parse_filter(raw: &Value) -> Result<Filter, Invalid> {
    let property = raw
        .get("propertyName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Invalid::new("filter is missing `propertyName`", "filterGroups"))?
        .to_owned();
    let operator = raw
        .get("operator")
        .and_then(Value::as_str)
        .ok_or_else(|| Invalid::new("filter is missing `operator`", "filterGroups"))?;
    let kind = property_kind(&property);
    let one = |field: &str| -> Result<SearchKey, Invalid> {
        let value = raw.get(field).unwrap_or(&Value::Null);
        operand(kind, value).ok_or_else(|| {
            Invalid::new(
                format!(
                    "Invalid value `{value}` for `{field}` of the {operator} filter on property `{property}`"
                ),
                "filterGroups",
            )
        })
    };
    let many = || -> Result<Vec<SearchKey>, Invalid> {
        let Some(values) = raw.get("values").and_then(Value::as_array) else {
            return Err(Invalid::new(
                format!("The {operator} filter on property `{property}` needs a `values` array"),
                "filterGroups",
            ));
        };
        values
            .iter()
            .map(|v| {
                operand(kind, v).ok_or_else(|| {
                    Invalid::new(
                        format!("Invalid value `{v}` in `values` of the {operator} filter on property `{property}`"),
                        "filterGroups",
                    )
                })
            })
            .collect()
    };
    let test = match operator {
        "EQ" => Test::Eq(one("value")?),
        "NEQ" => Test::Neq(one("value")?),
        "LT" => Test::Lt(one("value")?),
        "LTE" => Test::Lte(one("value")?),
        "GT" => Test::Gt(one("value")?),
        "GTE" => Test::Gte(one("value")?),
        "BETWEEN" => Test::Between(one("value")?, one("highValue")?),
        "IN" => Test::In(many()?),
        "NOT_IN" => Test::NotIn(many()?),
        "HAS_PROPERTY" => Test::Has,
        "NOT_HAS_PROPERTY" => Test::NotHas,
        other => {
            return Err(Invalid::new(
                format!("Unsupported filter operator `{other}`"),
                "filterGroups",
            ));
        }
    };
    Ok(Filter {
        property,
        kind,
        test,
    })
}

pub(crate) fn parse_search(body: &[u8]) -> Result<SearchRequest, Invalid> {
    let body: Value = serde_json::from_slice(body).map_err(|e| {
        Invalid::new(
            format!(
                "Invalid input JSON on line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
            "body",
        )
    })?;
    let Value::Object(body) = body else {
        return Err(Invalid::new(
            "Invalid input JSON: the body must be an object",
            "body",
        ));
    };
    let mut groups = Vec::new();
    let mut filters = 0;
    if let Some(raw_groups) = body.get("filterGroups").filter(|v| !v.is_null()) {
        let Some(raw_groups) = raw_groups.as_array() else {
            return Err(Invalid::new(
                "`filterGroups` must be an array",
                "filterGroups",
            ));
        };
        if raw_groups.len() > SEARCH_MAX_FILTER_GROUPS {
            return Err(Invalid::new(
                format!(
                    "Too many filter groups: {} (at most {SEARCH_MAX_FILTER_GROUPS})",
                    raw_groups.len()
                ),
                "filterGroups",
            ));
        }
        for group in raw_groups {
            let raw_filters = group
                .get("filters")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            if raw_filters.len() > SEARCH_MAX_FILTERS_PER_GROUP {
                return Err(Invalid::new(
                    format!(
                        "Too many filters in a group: {} (at most {SEARCH_MAX_FILTERS_PER_GROUP})",
                        raw_filters.len()
                    ),
                    "filterGroups",
                ));
            }
            filters += raw_filters.len();
            groups.push(
                raw_filters
                    .iter()
                    .map(parse_filter)
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        if filters > SEARCH_MAX_FILTERS {
            return Err(Invalid::new(
                format!("Too many filters: {filters} (at most {SEARCH_MAX_FILTERS})"),
                "filterGroups",
            ));
        }
    }
    let sort = match body
        .get("sorts")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        None | Some([]) => None,
        Some([one]) => {
            let (property, direction) = match one {
                // The short form: `"-createdate"` sorts descending.
                Value::String(s) => match s.strip_prefix('-') {
                    Some(p) => (p.to_owned(), "DESCENDING".to_owned()),
                    None => (s.clone(), "ASCENDING".to_owned()),
                },
                _ => (
                    one.get("propertyName")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    one.get("direction")
                        .and_then(Value::as_str)
                        .unwrap_or("ASCENDING")
                        .to_ascii_uppercase(),
                ),
            };
            if property.is_empty() {
                return Err(Invalid::new("sort is missing `propertyName`", "sorts"));
            }
            let descending = match direction.as_str() {
                "ASCENDING" => false,
                "DESCENDING" => true,
                other => {
                    return Err(Invalid::new(
                        format!("Invalid sort direction `{other}` (ASCENDING or DESCENDING)"),
                        "sorts",
                    ));
                }
            };
            Some(Sort {
                kind: property_kind(&property),
                property,
                descending,
            })
        }
        Some(many) => {
            return Err(Invalid::new(
                format!("Only one sort is supported, got {}", many.len()),
                "sorts",
            ));
        }
    };
    let properties = body
        .get("properties")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        });
    let limit = match body.get("limit").filter(|v| !v.is_null()) {
        None => 10,
        Some(v) => match whole_number(v) {
            Some(n) if (1..=SEARCH_MAX_LIMIT as i64).contains(&n) => n as usize,
            _ => {
                return Err(Invalid::new(
                    format!("limit must be between 1 and {SEARCH_MAX_LIMIT}, got {v}"),
                    "limit",
                ));
            }
        },
    };
    let after = match body.get("after").filter(|v| !v.is_null()) {
        None => 0,
        Some(v) => match whole_number(v) {
            Some(n) if n >= 0 => n as usize,
            _ => {
                return Err(Invalid::new(
                    format!("Invalid paging cursor `after`: {v}"),
                    "after",
                ));
            }
        },
    };
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    Ok(SearchRequest {
        groups,
        sort,
        properties,
        limit,
        after,
        query,
    })
}
