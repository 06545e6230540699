//! A wire-faithful mock of HubSpot's CRM v3 object list endpoints, serving a [`Company`].
//!
//! Served: `GET /crm/v3/objects/{objectType}` for `companies`, `contacts` and `deals` (also
//! their ids `0-2`, `0-1`, `0-3`) with `limit`, `after`, `properties`, `associations` and
//! `archived`, private-app Bearer auth, HubSpot's error bodies and `X-HubSpot-RateLimit-*`
//! headers. Shapes follow <https://developers.hubspot.com/docs/api/crm/understanding-the-crm>
//! (see `vendor-apis.md` §2): every property value is a string or null, the list is ordered by
//! id, the paging cursor is opaque, and there is no `paging` on the last page.
//!
//! Quirks reproduced on purpose, because real portals have them:
//! - an association is listed twice, once with the primary label (`contact_to_company`) and
//!   once unlabeled (`contact_to_company_unlabeled`);
//! - requesting an unknown property is not an error, it is silently left out;
//! - `createdate`, the last-modified property and `hs_object_id` always come back.

use crate::{Company, Faults, SimContact, SimDeal, company::stream_rng};
use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, SecondsFormat, Utc};
use rand::RngExt;
use serde_json::{Map, Value, json};
use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// Settings of the HubSpot mock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubspotMockConfig {
    /// The private-app token the mock accepts as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Faults to inject.
    pub faults: Faults,
}

impl Default for HubspotMockConfig {
    fn default() -> Self {
        Self {
            access_token: DEFAULT_ACCESS_TOKEN.to_owned(),
            faults: Faults::default(),
        }
    }
}

impl HubspotMockConfig {
    /// The default token with `faults` (typically `SimConfig::faults`).
    pub fn with_faults(faults: Faults) -> Self {
        Self {
            faults,
            ..Self::default()
        }
    }

    /// What `tributary sim serve` prints after the base URL: how to authenticate.
    pub fn credential_hint(&self) -> String {
        format!("access_token={}", self.access_token)
    }
}

/// The token the mock accepts unless configured otherwise.
pub const DEFAULT_ACCESS_TOKEN: &str = "pat-na1-sim-0000";

/// Requests allowed per rolling ten-second window (the Professional/Enterprise limit). The mock
/// reports it in headers; it does not throttle unless a fault knob asks for it.
pub const RATE_LIMIT_MAX: u32 = 190;
/// Length of the rolling window, in milliseconds.
pub const RATE_LIMIT_INTERVAL_MS: u64 = 10_000;
/// The daily request allowance reported in headers.
pub const RATE_LIMIT_DAILY: u64 = 1_000_000;

/// A HubSpot CRM object type the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubspotObject {
    /// `companies` (`0-2`).
    Companies,
    /// `contacts` (`0-1`).
    Contacts,
    /// `deals` (`0-3`).
    Deals,
}

impl HubspotObject {
    /// Every object type.
    pub const ALL: [HubspotObject; 3] = [
        HubspotObject::Companies,
        HubspotObject::Contacts,
        HubspotObject::Deals,
    ];

    /// Parses a path segment: the plural name or the object type id.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "companies" | "0-2" => Some(HubspotObject::Companies),
            "contacts" | "0-1" => Some(HubspotObject::Contacts),
            "deals" | "0-3" => Some(HubspotObject::Deals),
            _ => None,
        }
    }

    /// The plural name used in paths and association keys.
    pub fn as_str(self) -> &'static str {
        match self {
            HubspotObject::Companies => "companies",
            HubspotObject::Contacts => "contacts",
            HubspotObject::Deals => "deals",
        }
    }

    /// The singular used in association type names (`contact_to_company`).
    fn singular(self) -> &'static str {
        match self {
            HubspotObject::Companies => "company",
            HubspotObject::Contacts => "contact",
            HubspotObject::Deals => "deal",
        }
    }

    /// The last-modified property: contacts differ from every other object.
    pub fn modified_property(self) -> &'static str {
        match self {
            HubspotObject::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// What the list endpoint returns when no `properties` are requested.
    pub fn default_properties(self) -> &'static [&'static str] {
        match self {
            HubspotObject::Companies => &[
                "name",
                "domain",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
            HubspotObject::Contacts => &[
                "firstname",
                "lastname",
                "email",
                "createdate",
                "lastmodifieddate",
                "hs_object_id",
            ],
            HubspotObject::Deals => &[
                "dealname",
                "amount",
                "dealstage",
                "pipeline",
                "closedate",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
        }
    }
}

/// Which records the mock serves malformed, by id, per object type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MalformedIds {
    /// Companies served with an empty `name`.
    pub companies: Vec<String>,
    /// Contacts served with a garbage `email` and no name.
    pub contacts: Vec<String>,
    /// Closed-won deals served with an `amount` that is not a number.
    pub deals: Vec<String>,
}

/// The `amount` a malformed deal is served with.
pub const MALFORMED_AMOUNT: &str = "12,5O0";
/// The `email` a malformed contact is served with.
pub const MALFORMED_EMAIL: &str = "n/a (ask the AE)";

/// Chooses, deterministically from the company's seed, the records
/// [`Faults::malformed_records`] corrupts: that many companies, contacts and closed-won deals
/// (won deals, so that a connector that skips lost and open deals still meets every one), in
/// id order. Archived records are never chosen.
pub fn malformed_ids(company: &Company, faults: &Faults) -> MalformedIds {
    let [companies, contacts, deals] = malformed_indices(company, faults);
    let ids = |set: HashSet<usize>, id: &dyn Fn(usize) -> String| {
        let mut v: Vec<usize> = set.into_iter().collect();
        v.sort_unstable();
        v.into_iter().map(id).collect()
    };
    MalformedIds {
        companies: ids(companies, &|i| company.accounts[i].id.clone()),
        contacts: ids(contacts, &|i| company.contacts[i].id.clone()),
        deals: ids(deals, &|i| company.deals[i].id.clone()),
    }
}

fn malformed_indices(company: &Company, faults: &Faults) -> [HashSet<usize>; 3] {
    let n = faults.malformed_records;
    let choose = |label: &str, candidates: Vec<usize>| -> HashSet<usize> {
        let mut rng = stream_rng(company.seed, label, 0);
        let mut c = candidates;
        let take = n.min(c.len());
        // A partial Fisher–Yates shuffle: the first `take` slots are a uniform sample.
        for i in 0..take {
            let j = rng.random_range(i..c.len());
            c.swap(i, j);
        }
        c.truncate(take);
        c.into_iter().collect()
    };
    if n == 0 {
        return [HashSet::new(), HashSet::new(), HashSet::new()];
    }
    [
        choose(
            "faults.malformed.companies",
            (0..company.accounts.len())
                .filter(|&i| company.accounts[i].archived_at.is_none())
                .collect(),
        ),
        choose(
            "faults.malformed.contacts",
            (0..company.contacts.len())
                .filter(|&i| company.contacts[i].archived_at.is_none())
                .collect(),
        ),
        choose(
            "faults.malformed.deals",
            (0..company.deals.len())
                .filter(|&i| {
                    company.deals[i].stage.is_won() && company.deals[i].archived_at.is_none()
                })
                .collect(),
        ),
    ]
}

struct RateWindow {
    started: Instant,
    used: u32,
}

struct MockState {
    company: Arc<Company>,
    token: String,
    malformed: [HashSet<usize>; 3],
    /// Numeric ids per object type, ascending (the generator assigns them so).
    ids: [Vec<u64>; 3],
    contacts_by_account: Vec<Vec<usize>>,
    deals_by_account: Vec<Vec<usize>>,
    window: Mutex<RateWindow>,
    daily_used: AtomicU64,
}

fn slot(object: HubspotObject) -> usize {
    match object {
        HubspotObject::Companies => 0,
        HubspotObject::Contacts => 1,
        HubspotObject::Deals => 2,
    }
}

/// The HubSpot mock's routes, serving `company`.
pub fn router(company: Arc<Company>, config: HubspotMockConfig) -> Router {
    let parse_ids = |ids: Vec<&String>| -> Vec<u64> {
        ids.into_iter()
            .map(|id| id.parse().unwrap_or(u64::MAX))
            .collect()
    };
    let ids = [
        parse_ids(company.accounts.iter().map(|a| &a.id).collect()),
        parse_ids(company.contacts.iter().map(|c| &c.id).collect()),
        parse_ids(company.deals.iter().map(|d| &d.id).collect()),
    ];
    debug_assert!(
        ids.iter().all(|v| v.windows(2).all(|w| w[0] < w[1])),
        "generated ids ascend"
    );
    let mut contacts_by_account = vec![Vec::new(); company.accounts.len()];
    for (i, c) in company.contacts.iter().enumerate() {
        if let Some(list) = contacts_by_account.get_mut(c.account) {
            list.push(i);
        }
    }
    let mut deals_by_account = vec![Vec::new(); company.accounts.len()];
    for (i, d) in company.deals.iter().enumerate() {
        if let Some(list) = deals_by_account.get_mut(d.account) {
            list.push(i);
        }
    }
    let state = Arc::new(MockState {
        malformed: malformed_indices(&company, &config.faults),
        company,
        token: config.access_token,
        ids,
        contacts_by_account,
        deals_by_account,
        window: Mutex::new(RateWindow {
            started: Instant::now(),
            used: 0,
        }),
        daily_used: AtomicU64::new(0),
    });
    Router::new()
        .route("/crm/v3/objects/{object_type}", get(list_objects))
        .fallback(not_found)
        .with_state(state)
}

/// HubSpot's error body: `{"status":"error","message","correlationId","category"}`.
fn error(status: StatusCode, category: &str, message: &str) -> Response {
    let body = json!({
        "status": "error",
        "message": message,
        "correlationId": uuid::Uuid::now_v7().to_string(),
        "category": category,
    });
    json_response(status, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        )],
        body.to_string(),
    )
        .into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "OBJECT_NOT_FOUND",
        "resource not found",
    )
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    match value.trim().split_once(' ') {
        Some((scheme, given)) => scheme.eq_ignore_ascii_case("bearer") && given.trim() == token,
        None => false,
    }
}

impl MockState {
    /// Counts a request and returns the rate-limit headers to send with its response.
    fn rate_headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let remaining = match self.window.lock() {
            Ok(mut w) => {
                if w.started.elapsed() >= Duration::from_millis(RATE_LIMIT_INTERVAL_MS) {
                    w.started = Instant::now();
                    w.used = 0;
                }
                w.used = w.used.saturating_add(1);
                RATE_LIMIT_MAX.saturating_sub(w.used)
            }
            Err(_) => RATE_LIMIT_MAX,
        };
        let daily_used = self.daily_used.fetch_add(1, Ordering::Relaxed) + 1;
        let h = |name: &'static str, v: String| {
            (
                HeaderName::from_static(name),
                HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("0")),
            )
        };
        vec![
            h("x-hubspot-ratelimit-daily", RATE_LIMIT_DAILY.to_string()),
            h(
                "x-hubspot-ratelimit-daily-remaining",
                RATE_LIMIT_DAILY.saturating_sub(daily_used).to_string(),
            ),
            h(
                "x-hubspot-ratelimit-interval-milliseconds",
                RATE_LIMIT_INTERVAL_MS.to_string(),
            ),
            h("x-hubspot-ratelimit-max", RATE_LIMIT_MAX.to_string()),
            h("x-hubspot-ratelimit-remaining", remaining.to_string()),
        ]
    }

    fn archived_at(&self, object: HubspotObject, i: usize) -> Option<DateTime<Utc>> {
        match object {
            HubspotObject::Companies => self.company.accounts[i].archived_at,
            HubspotObject::Contacts => self.company.contacts[i].archived_at,
            HubspotObject::Deals => self.company.deals[i].archived_at,
        }
    }

    fn len(&self, object: HubspotObject) -> usize {
        self.ids[slot(object)].len()
    }

    fn id(&self, object: HubspotObject, i: usize) -> &str {
        match object {
            HubspotObject::Companies => &self.company.accounts[i].id,
            HubspotObject::Contacts => &self.company.contacts[i].id,
            HubspotObject::Deals => &self.company.deals[i].id,
        }
    }

    /// Every property of a record, by name, as HubSpot would store it (strings or null).
    fn properties(&self, object: HubspotObject, i: usize) -> Vec<(&'static str, Option<String>)> {
        let co = &self.company;
        let malformed = self.malformed[slot(object)].contains(&i);
        match object {
            HubspotObject::Companies => {
                let a = &co.accounts[i];
                vec![
                    (
                        "name",
                        Some(if malformed {
                            String::new()
                        } else {
                            a.name.clone()
                        }),
                    ),
                    ("domain", Some(a.domain.clone())),
                    ("industry", Some(a.industry.clone())),
                    ("city", Some(a.city.clone())),
                    ("country", Some(a.country.clone())),
                    ("numberofemployees", Some(a.employees.to_string())),
                    (
                        "hubspot_owner_id",
                        co.owners.get(a.owner).map(|o| o.id.clone()),
                    ),
                    ("lifecyclestage", Some("customer".to_owned())),
                    ("segment", Some(a.segment.as_str().to_owned())),
                    ("region", Some(a.region.clone())),
                    ("seats", Some(a.seats.to_string())),
                    ("createdate", Some(timestamp(a.created_at))),
                    ("hs_lastmodifieddate", Some(timestamp(a.updated_at))),
                    ("hs_object_id", Some(a.id.clone())),
                ]
            }
            HubspotObject::Contacts => {
                let c: &SimContact = &co.contacts[i];
                let (first, last, email) = if malformed {
                    (None, None, MALFORMED_EMAIL.to_owned())
                } else {
                    (
                        Some(c.first_name.clone()),
                        Some(c.last_name.clone()),
                        c.email.clone(),
                    )
                };
                vec![
                    ("firstname", first),
                    ("lastname", last),
                    ("email", Some(email)),
                    ("jobtitle", Some(c.job_title.clone())),
                    ("role", Some(c.role.as_str().to_owned())),
                    ("lifecyclestage", Some("customer".to_owned())),
                    (
                        "associatedcompanyid",
                        co.accounts.get(c.account).map(|a| a.id.clone()),
                    ),
                    ("createdate", Some(timestamp(c.created_at))),
                    ("lastmodifieddate", Some(timestamp(c.updated_at))),
                    ("hs_object_id", Some(c.id.clone())),
                ]
            }
            HubspotObject::Deals => {
                let d: &SimDeal = &co.deals[i];
                let amount = if malformed {
                    MALFORMED_AMOUNT.to_owned()
                } else {
                    // HubSpot echoes numbers as entered: `4200`, not `4200.00`.
                    d.amount.normalize().to_string()
                };
                vec![
                    ("dealname", Some(d.name.clone())),
                    ("amount", Some(amount)),
                    ("deal_currency_code", Some(d.currency.to_string())),
                    ("dealstage", Some(d.stage.as_str().to_owned())),
                    ("pipeline", Some("default".to_owned())),
                    ("closedate", Some(timestamp(d.close_date))),
                    ("dealtype", Some(d.dealtype().to_owned())),
                    ("hs_is_closed_won", Some(d.stage.is_won().to_string())),
                    ("hs_is_closed", Some(d.stage.is_closed().to_string())),
                    (
                        "hs_deal_stage_probability",
                        Some(d.stage.probability().to_owned()),
                    ),
                    (
                        "hubspot_owner_id",
                        co.accounts
                            .get(d.account)
                            .and_then(|a| co.owners.get(a.owner))
                            .map(|o| o.id.clone()),
                    ),
                    ("term_months", Some(d.term_months.to_string())),
                    ("createdate", Some(timestamp(d.created_at))),
                    ("hs_lastmodifieddate", Some(timestamp(d.updated_at))),
                    ("hs_object_id", Some(d.id.clone())),
                ]
            }
        }
    }

    fn created_updated(&self, object: HubspotObject, i: usize) -> (DateTime<Utc>, DateTime<Utc>) {
        match object {
            HubspotObject::Companies => {
                let a = &self.company.accounts[i];
                (a.created_at, a.updated_at)
            }
            HubspotObject::Contacts => {
                let c = &self.company.contacts[i];
                (c.created_at, c.updated_at)
            }
            HubspotObject::Deals => {
                let d = &self.company.deals[i];
                (d.created_at, d.updated_at)
            }
        }
    }

    /// Ids of the records of `to` associated with record `i` of `from`.
    fn associated(&self, from: HubspotObject, i: usize, to: HubspotObject) -> Vec<&str> {
        use HubspotObject as O;
        let co = &self.company;
        let live = |object: HubspotObject, j: usize| self.archived_at(object, j).is_none();
        let company_of = |a: usize| -> Vec<&str> {
            if a < co.accounts.len() && live(O::Companies, a) {
                vec![co.accounts[a].id.as_str()]
            } else {
                Vec::new()
            }
        };
        match (from, to) {
            (O::Contacts, O::Companies) => company_of(co.contacts[i].account),
            (O::Deals, O::Companies) => company_of(co.deals[i].account),
            (O::Companies, O::Contacts) => self.contacts_by_account[i]
                .iter()
                .filter(|&&j| live(O::Contacts, j))
                .map(|&j| co.contacts[j].id.as_str())
                .collect(),
            (O::Companies, O::Deals) => self.deals_by_account[i]
                .iter()
                .filter(|&&j| live(O::Deals, j))
                .map(|&j| co.deals[j].id.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn render(
        &self,
        object: HubspotObject,
        i: usize,
        requested: &Option<Vec<String>>,
        associations: &[HubspotObject],
    ) -> Value {
        let all = self.properties(object, i);
        let always = ["createdate", object.modified_property(), "hs_object_id"];
        let mut props = Map::new();
        for (name, value) in all {
            let wanted = match requested {
                Some(list) => always.contains(&name) || list.iter().any(|p| p == name),
                None => object.default_properties().contains(&name),
            };
            if wanted {
                props.insert(name.to_owned(), value.map_or(Value::Null, Value::String));
            }
        }
        let (created, updated) = self.created_updated(object, i);
        let archived_at = self.archived_at(object, i);
        let mut record = Map::new();
        record.insert("id".into(), Value::String(self.id(object, i).to_owned()));
        record.insert("properties".into(), Value::Object(props));
        record.insert("createdAt".into(), Value::String(timestamp(created)));
        record.insert(
            "updatedAt".into(),
            Value::String(timestamp(archived_at.unwrap_or(updated).max(updated))),
        );
        record.insert("archived".into(), Value::Bool(archived_at.is_some()));
        if let Some(at) = archived_at {
            record.insert("archivedAt".into(), Value::String(timestamp(at)));
        }
        let mut assoc = Map::new();
        for &to in associations {
            let ids = self.associated(object, i, to);
            if ids.is_empty() {
                continue;
            }
            let label = format!("{}_to_{}", object.singular(), to.singular());
            let mut results = Vec::new();
            for id in ids {
                results.push(json!({"id": id, "type": label}));
                // Real portals list a primary association a second time, unlabeled.
                if to == HubspotObject::Companies {
                    results.push(json!({"id": id, "type": format!("{label}_unlabeled")}));
                }
            }
            assoc.insert(to.as_str().to_owned(), json!({ "results": results }));
        }
        if !assoc.is_empty() {
            record.insert("associations".into(), Value::Object(assoc));
        }
        Value::Object(record)
    }
}

/// HubSpot's timestamp format: ISO 8601 in UTC with milliseconds and `Z`.
fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Values of a query parameter, accepting both `a,b` and repeated `k=a&k=b` (SDKs send either).
fn list_param(query: &[(String, String)], name: &str) -> Option<Vec<String>> {
    let mut found = false;
    let mut out = Vec::new();
    for (k, v) in query {
        if k == name {
            found = true;
            out.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    found.then_some(out)
}

fn param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn list_objects(
    State(state): State<Arc<MockState>>,
    Path(object_type): Path<String>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if !authorized(&headers, &state.token) {
        return error(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication \
             and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        );
    }
    let rate_headers = state.rate_headers();
    let mut response = list_page(&state, &object_type, &headers, &query);
    response.headers_mut().extend(rate_headers);
    response
}

fn list_page(
    state: &MockState,
    object_type: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Response {
    let Some(object) = HubspotObject::parse(object_type) else {
        return error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to infer object type from: {object_type}"),
        );
    };
    let limit = match param(query, "limit") {
        None => 10,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) => n.clamp(1, 100) as usize,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    &format!("Unable to parse limit: '{raw}' is not a valid integer"),
                );
            }
        },
    };
    let start_id = match param(query, "after") {
        None | Some("") => 0,
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(n) => n,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    &format!("Invalid paging cursor: '{raw}'"),
                );
            }
        },
    };
    let archived = param(query, "archived").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let requested = list_param(query, "properties");
    let associations: Vec<HubspotObject> = list_param(query, "associations")
        .unwrap_or_default()
        .iter()
        .filter_map(|a| HubspotObject::parse(a))
        .collect();

    // The cursor is the id of the first record of the next page: stable when records are
    // added or archived between pages, as HubSpot's own cursor is.
    let ids = &state.ids[slot(object)];
    let matches = |i: &usize| state.archived_at(object, *i).is_some() == archived;
    let mut candidates =
        (ids.partition_point(|&id| id < start_id)..state.len(object)).filter(matches);
    let page: Vec<usize> = candidates.by_ref().take(limit).collect();
    let next = candidates.next();

    let results: Vec<Value> = page
        .iter()
        .map(|&i| state.render(object, i, &requested, &associations))
        .collect();
    let mut body = Map::new();
    body.insert("results".into(), Value::Array(results));
    if let Some(n) = next {
        let after = state.id(object, n).to_owned();
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let mut link_query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in query.iter().filter(|(k, _)| k != "after") {
            link_query.append_pair(k, v);
        }
        link_query.append_pair("after", &after);
        let link = format!(
            "http://{host}/crm/v3/objects/{object_type}?{}",
            link_query.finish()
        );
        body.insert(
            "paging".into(),
            json!({"next": {"after": after, "link": link}}),
        );
    }
    json_response(StatusCode::OK, &Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MockServer, SimConfig};

    async fn serve(accounts: usize, faults: Faults) -> (Arc<Company>, MockServer) {
        let company = Arc::new(Company::generate(&SimConfig {
            accounts,
            faults: faults.clone(),
            ..SimConfig::default()
        }));
        let config = HubspotMockConfig {
            faults,
            ..HubspotMockConfig::default()
        };
        let server = MockServer::start(router(company.clone(), config))
            .await
            .unwrap();
        (company, server)
    }

    async fn get(
        server: &MockServer,
        path_and_query: &str,
        token: Option<&str>,
    ) -> (u16, HeaderMap, Value) {
        let client = reqwest::Client::new();
        let mut req = client.get(format!("{}{path_and_query}", server.base_url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body: Value = resp.json().await.unwrap();
        (status, headers, body)
    }

    /// Walks every page of a list, returning all records.
    async fn walk(server: &MockServer, object: &str, query: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut q = format!("/crm/v3/objects/{object}?{query}");
            if let Some(a) = &after {
                q.push_str(&format!("&after={a}"));
            }
            let (status, _, body) = get(server, &q, Some(DEFAULT_ACCESS_TOKEN)).await;
            assert_eq!(status, 200, "{body}");
            all.extend(body["results"].as_array().unwrap().iter().cloned());
            match body["paging"]["next"]["after"].as_str() {
                Some(a) => after = Some(a.to_owned()),
                None => {
                    assert!(body.get("paging").is_none(), "no paging on the last page");
                    return all;
                }
            }
        }
    }

    #[tokio::test]
    async fn paging_walks_every_record_exactly_once() {
        let (company, server) = serve(40, Faults::default()).await;
        for (object, expected) in [
            (
                "companies",
                company
                    .accounts
                    .iter()
                    .map(|a| a.id.clone())
                    .collect::<Vec<_>>(),
            ),
            (
                "contacts",
                company.contacts.iter().map(|c| c.id.clone()).collect(),
            ),
            ("0-3", company.deals.iter().map(|d| d.id.clone()).collect()),
        ] {
            let records = walk(&server, object, "limit=7").await;
            let got: Vec<String> = records
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(got, expected, "{object}");
            for r in &records {
                assert_eq!(r["archived"], false);
                assert_eq!(r["properties"]["hs_object_id"], r["id"]);
                for (_, v) in r["properties"].as_object().unwrap() {
                    assert!(v.is_string() || v.is_null(), "{v}");
                }
            }
        }
        // Nothing is archived in the first cut.
        let (_, _, body) = get(
            &server,
            "/crm/v3/objects/deals?archived=true",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(body, json!({"results": []}));
    }

    #[tokio::test]
    async fn limit_defaults_to_ten_clamps_at_100_and_links_follow() {
        let (_company, server) = serve(40, Faults::default()).await;
        let (_, headers, body) = get(
            &server,
            "/crm/v3/objects/contacts",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(body["results"].as_array().unwrap().len(), 10);
        assert_eq!(headers["x-hubspot-ratelimit-max"], "190");
        assert_eq!(
            headers["x-hubspot-ratelimit-interval-milliseconds"],
            "10000"
        );
        assert!(headers.contains_key("x-hubspot-ratelimit-remaining"));
        let props = body["results"][0]["properties"].as_object().unwrap();
        let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "createdate",
                "email",
                "firstname",
                "hs_object_id",
                "lastmodifieddate",
                "lastname"
            ]
        );
        let (_, _, big) = get(
            &server,
            "/crm/v3/objects/contacts?limit=500",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(big["results"].as_array().unwrap().len(), 100);
        let link = body["paging"]["next"]["link"].as_str().unwrap();
        assert!(link.starts_with(&server.base_url), "{link}");
        let client = reqwest::Client::new();
        let next: Value = client
            .get(link)
            .bearer_auth(DEFAULT_ACCESS_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(next["results"][0]["id"], body["paging"]["next"]["after"]);
    }

    #[tokio::test]
    async fn properties_and_associations_are_served_as_requested() {
        let (company, server) = serve(10, Faults::default()).await;
        let (_, _, body) = get(
            &server,
            "/crm/v3/objects/deals?limit=100&properties=amount,dealstage,term_months,nosuch&properties=deal_currency_code&associations=companies",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        let first = &body["results"][0];
        let mut keys: Vec<&str> = first["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "amount",
                "createdate",
                "deal_currency_code",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "term_months"
            ]
        );
        let deal = &company.deals[0];
        let account = &company.accounts[deal.account];
        assert_eq!(
            first["associations"]["companies"]["results"][0],
            json!({"id": account.id, "type": "deal_to_company"})
        );
        let (_, _, companies) = get(
            &server,
            "/crm/v3/objects/companies?limit=1&properties=segment,seats,region&associations=contacts",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        let c = &companies["results"][0];
        assert_eq!(
            c["properties"]["segment"],
            company.accounts[0].segment.as_str()
        );
        let contacts = c["associations"]["contacts"]["results"].as_array().unwrap();
        assert_eq!(
            contacts.len(),
            company.contacts.iter().filter(|x| x.account == 0).count()
        );
        assert_eq!(contacts[0]["type"], "company_to_contact");
    }

    #[tokio::test]
    async fn auth_errors_have_hubspots_body() {
        let (_company, server) = serve(5, Faults::default()).await;
        for token in [None, Some("pat-na1-wrong")] {
            let (status, _, body) = get(&server, "/crm/v3/objects/companies", token).await;
            assert_eq!(status, 401);
            assert_eq!(body["status"], "error");
            assert_eq!(body["category"], "INVALID_AUTHENTICATION");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("Authentication credentials not found")
            );
            let id = body["correlationId"].as_str().unwrap();
            assert!(uuid::Uuid::parse_str(id).is_ok());
        }
        let (status, _, body) = get(
            &server,
            "/crm/v3/objects/widgets",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(body["category"], "OBJECT_NOT_FOUND");
        let (status, _, body) = get(
            &server,
            "/crm/v3/objects/deals?after=zzz",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["category"], "VALIDATION_ERROR");
    }

    #[tokio::test]
    async fn malformed_knob_serves_exactly_n_bad_records_per_object() {
        let faults = Faults::none().with_malformed_records(3);
        let (company, server) = serve(30, faults.clone()).await;
        let chosen = malformed_ids(&company, &faults);
        assert_eq!(
            (
                chosen.companies.len(),
                chosen.contacts.len(),
                chosen.deals.len()
            ),
            (3, 3, 3)
        );
        assert_eq!(chosen, malformed_ids(&company, &faults), "deterministic");

        let bad_ids = |records: &[Value], bad: &dyn Fn(&Value) -> bool| -> Vec<String> {
            records
                .iter()
                .filter(|r| bad(&r["properties"]))
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let companies = walk(&server, "companies", "limit=100").await;
        assert_eq!(bad_ids(&companies, &|p| p["name"] == ""), chosen.companies);
        let contacts = walk(&server, "contacts", "limit=100").await;
        assert_eq!(
            bad_ids(&contacts, &|p| p["email"] == MALFORMED_EMAIL
                && p["firstname"].is_null()
                && p["lastname"].is_null()),
            chosen.contacts
        );
        let deals = walk(
            &server,
            "deals",
            "limit=100&properties=amount,hs_is_closed_won",
        )
        .await;
        let bad = bad_ids(&deals, &|p| {
            p["amount"]
                .as_str()
                .is_some_and(|a| a.parse::<rust_decimal::Decimal>().is_err())
        });
        assert_eq!(bad, chosen.deals);
        for r in deals
            .iter()
            .filter(|r| bad.contains(&r["id"].as_str().unwrap().to_owned()))
        {
            assert_eq!(r["properties"]["hs_is_closed_won"], "true");
        }
    }
}
