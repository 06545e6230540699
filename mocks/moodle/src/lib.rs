//! A mock of Moodle's REST API serving a simulated [`Company`], scaffolded by
//! `tributary connector new moodle` as a generic paged JSON API. Edit it into the real vendor's
//! API **from the vendor's documentation** (never from the connector: the connector passing
//! against it must mean something), keeping the translation from the world to the vendor's
//! JSON in one place ([`account_json`], [`person_json`]).
//!
//! What it serves, with `Authorization: Bearer <api key>` on every request:
//!
//! | request | answer |
//! |---|---|
//! | `GET /v1/me` | `{"id": "org_<seed>", "name": …}`: the cheapest authenticated call |
//! | `GET /v1/accounts`, `GET /v1/people` | one page: `{"data": […], "next_cursor": "…" or null, "total": n}` |
//!
//! A listing takes `limit` (1 to [`MAX_PAGE_SIZE`], default [`DEFAULT_PAGE_SIZE`]), `cursor`
//! (the previous page's `next_cursor`, opaque), `updated_since` (RFC 3339, inclusive) and
//! `include_deleted=true` (deleted records as tombstones, `{"id", "deleted": true,
//! "updated_at"}` stamped when they were deleted). Records come in `(updated_at, id)` order
//! (ids compared as strings) and the cursor is a keyset position, so a record that changes
//! while a client pages moves behind it and is served again, never skipped. `total` counts
//! every record the filters match. Errors are `{"error": {"code", "message"}}`: 400
//! `invalid_request` naming the parameter, 401 `unauthorized`, 404 `not_found`.
//!
//! Every knob of [`Faults`] applies: the shared fault layer answers 429s, 5xx and truncated
//! bodies; `duplicates` repeats a page's last record on the next page; `mutate` changes
//! records around each page (a newer `updated_at`, a changed `employees` or `title`);
//! `malformed` serves that many live records per listing without their required field.

use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::get,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use tributary_mock_kit::{
    FaultInjector, Faults, GenericVendor, ServedPage, VendorMock, auth, respond, sample,
};
use tributary_sim::Company;

/// The API key the mock accepts unless configured otherwise.
pub const DEFAULT_API_KEY: &str = "moodle-test-key";

/// The largest page a listing serves.
pub const MAX_PAGE_SIZE: usize = 100;

/// The page size of a listing without `limit`.
pub const DEFAULT_PAGE_SIZE: usize = 50;

const CONTENT_TYPE: &str = "application/json";

/// A resource the API lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Customer accounts (the world's accounts).
    Accounts,
    /// People at accounts (the world's contacts).
    People,
}

impl Resource {
    /// Both, in the order a client syncs them.
    pub const ALL: [Resource; 2] = [Resource::Accounts, Resource::People];

    /// Its path segment, which is also its name in [`MoodleMock::live_records`].
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Accounts => "accounts",
            Resource::People => "people",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }

    fn parse(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == path)
    }

    fn len(self, company: &Company) -> usize {
        match self {
            Resource::Accounts => company.accounts.len(),
            Resource::People => company.contacts.len(),
        }
    }

    /// The vendor's id of record `i`: a prefix and the world's id.
    fn id(self, company: &Company, i: usize) -> String {
        match self {
            Resource::Accounts => format!("acc_{}", company.accounts[i].id),
            Resource::People => format!("per_{}", company.contacts[i].id),
        }
    }

    /// When record `i` was last modified and, if it was, deleted, in the world.
    fn stamps(self, company: &Company, i: usize) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
        match self {
            Resource::Accounts => {
                let a = &company.accounts[i];
                (a.updated_at, a.archived_at)
            }
            Resource::People => {
                let c = &company.contacts[i];
                (c.updated_at, c.archived_at)
            }
        }
    }
}

/// Account `i` of `company` as Moodle serves it; `revision` is how often `mutate` changed it.
pub fn account_json(
    company: &Company,
    i: usize,
    updated_at: DateTime<Utc>,
    revision: u32,
) -> Value {
    let a = &company.accounts[i];
    let industry = serde_json::to_value(a.industry)
        .ok()
        .and_then(|v| v.as_str().map(str::to_ascii_lowercase));
    json!({
        "id": Resource::Accounts.id(company, i),
        "name": a.name,
        "domain": a.domain,
        "industry": industry,
        "region": a.region,
        "employees": a.employees + revision,
        "created_at": stamp(a.created_at),
        "updated_at": stamp(updated_at),
    })
}

/// Person `i` of `company` as Moodle serves it; `revision` is how often `mutate` changed it.
pub fn person_json(company: &Company, i: usize, updated_at: DateTime<Utc>, revision: u32) -> Value {
    let c = &company.contacts[i];
    let title = match revision {
        0 => c.job_title.clone(),
        n => format!("{} (rev {n})", c.job_title),
    };
    json!({
        "id": Resource::People.id(company, i),
        "account_id": Resource::Accounts.id(company, c.account),
        "first_name": c.first_name,
        "last_name": c.last_name,
        "email": c.email,
        "title": title,
        "role": c.role.as_str(),
        "created_at": stamp(c.created_at),
        "updated_at": stamp(updated_at),
    })
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One mock instance: the company it serves, its API key and its fault injector.
#[derive(Clone)]
pub struct MoodleMock {
    state: Arc<MockState>,
}

struct MockState {
    company: Arc<Company>,
    api_key: String,
    faults: FaultInjector,
    /// Per resource, the live records served malformed.
    malformed: [HashSet<usize>; 2],
}

impl MoodleMock {
    /// A mock serving `company` with `faults`, accepting [`DEFAULT_API_KEY`].
    pub fn new(company: Arc<Company>, faults: Faults) -> Self {
        let malformed = Resource::ALL.map(|r| {
            let live = (0..r.len(&company))
                .filter(|&i| r.stamps(&company, i).1.is_none())
                .collect();
            let label = format!("faults.malformed.{}", r.as_str());
            sample(company.seed, &label, live, faults.malformed_records)
        });
        let faults = FaultInjector::for_world(company.seed, company.today, faults);
        Self {
            state: Arc::new(MockState {
                company,
                api_key: DEFAULT_API_KEY.to_owned(),
                faults,
                malformed,
            }),
        }
    }

    /// The live records it serves, per resource: id → last modified (before any `mutate`).
    pub fn live_records(&self) -> BTreeMap<&'static str, BTreeMap<String, DateTime<Utc>>> {
        self.records(|(updated, deleted)| deleted.is_none().then_some(updated))
    }

    /// The deleted records it serves as tombstones, per resource: id → when deleted.
    pub fn deleted_records(&self) -> BTreeMap<&'static str, BTreeMap<String, DateTime<Utc>>> {
        self.records(|(_, deleted)| deleted)
    }

    fn records(
        &self,
        pick: impl Fn((DateTime<Utc>, Option<DateTime<Utc>>)) -> Option<DateTime<Utc>>,
    ) -> BTreeMap<&'static str, BTreeMap<String, DateTime<Utc>>> {
        let company = &self.state.company;
        Resource::ALL
            .into_iter()
            .map(|r| {
                let records = (0..r.len(company))
                    .filter_map(|i| Some((r.id(company, i), pick(r.stamps(company, i))?)))
                    .collect();
                (r.as_str(), records)
            })
            .collect()
    }
}

impl VendorMock for MoodleMock {
    fn vendor(&self) -> &'static str {
        "moodle"
    }

    fn router(&self) -> Router {
        let routes = Router::new()
            .route("/v1/me", get(me))
            .route("/v1/{resource}", get(list))
            .fallback(not_found)
            .with_state(Arc::clone(&self.state));
        self.state.faults.wrap(routes, GenericVendor)
    }

    fn credential_hint(&self) -> String {
        format!("api_key={}", self.state.api_key)
    }

    fn faults(&self) -> &FaultInjector {
        &self.state.faults
    }
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({ "error": { "code": code, "message": message.into() } });
    respond::json(status, CONTENT_TYPE, &body)
}

fn bad_request(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request", message)
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// The 401 for a request without the API key, if it lacks it.
fn refusal(state: &MockState, headers: &HeaderMap) -> Option<Response> {
    let message = match auth::bearer(headers) {
        Some(key) if key == state.api_key => return None,
        Some(_) => "invalid API key",
        None => "missing `Authorization: Bearer <api key>`",
    };
    Some(error(StatusCode::UNAUTHORIZED, "unauthorized", message))
}

async fn me(State(state): State<Arc<MockState>>, headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&state, &headers) {
        return refused;
    }
    let body = json!({ "id": format!("org_{}", state.company.seed), "name": "Simulated company" });
    respond::json(StatusCode::OK, CONTENT_TYPE, &body)
}

/// A listing's position: the `(updated_at, id)` of the last record a page served.
type Key = (DateTime<Utc>, String);

fn encode_cursor((t, id): &Key) -> String {
    format!("{}.{id}", t.timestamp_millis())
}

fn decode_cursor(cursor: &str) -> Option<Key> {
    let (ms, id) = cursor.split_once('.')?;
    Some((
        DateTime::from_timestamp_millis(ms.parse().ok()?)?,
        id.to_owned(),
    ))
}

/// One record as a listing orders it.
struct Row {
    key: Key,
    index: usize,
    deleted: bool,
    revision: u32,
}

async fn list(
    State(state): State<Arc<MockState>>,
    Path(resource): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&state, &headers) {
        return refused;
    }
    let Some(resource) = Resource::parse(&resource) else {
        return not_found().await;
    };
    let param = |name| respond::param(&query, name);
    let limit = match param("limit").map(str::parse::<usize>) {
        None => DEFAULT_PAGE_SIZE,
        Some(Ok(n)) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
        Some(_) => return bad_request(format!("limit must be between 1 and {MAX_PAGE_SIZE}")),
    };
    let since = match param("updated_since").map(DateTime::parse_from_rfc3339) {
        None => None,
        Some(Ok(t)) => Some(t.to_utc()),
        Some(Err(_)) => return bad_request("updated_since must be an RFC 3339 timestamp"),
    };
    let after = match param("cursor").map(decode_cursor) {
        None => None,
        Some(Some(key)) => Some(key),
        Some(None) => return bad_request("cursor is not one this API issued"),
    };
    let include_deleted = match param("include_deleted") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return bad_request("include_deleted must be true or false"),
    };

    let company = &state.company;
    let stream = resource.as_str();
    let mut rows: Vec<Row> = (0..resource.len(company))
        .filter_map(|index| {
            let (updated, deleted) = resource.stamps(company, index);
            let revision = state.faults.revision(stream, index);
            let row = match deleted {
                Some(_) if !include_deleted => return None,
                Some(at) => Row {
                    key: (at, resource.id(company, index)),
                    index,
                    deleted: true,
                    revision: 0,
                },
                None => Row {
                    key: (
                        revision.map_or(updated, |r| r.updated_at),
                        resource.id(company, index),
                    ),
                    index,
                    deleted: false,
                    revision: revision.map_or(0, |r| r.number),
                },
            };
            since.is_none_or(|s| row.key.0 >= s).then_some(row)
        })
        .collect();
    rows.sort_by(|a, b| a.key.cmp(&b.key));
    let total = rows.len();
    let start = after
        .as_ref()
        .map_or(0, |after| rows.partition_point(|r| &r.key <= after));
    let end = (start + limit).min(total);
    let (page, upcoming) = (&rows[start..end], &rows[end..(end + limit).min(total)]);
    let has_next = end < total;

    let indices: Vec<usize> = page
        .iter()
        .filter(|r| !r.deleted)
        .map(|r| r.index)
        .collect();
    let next: Vec<usize> = upcoming
        .iter()
        .filter(|r| !r.deleted)
        .map(|r| r.index)
        .collect();
    let last_id = page.last().map(|r| r.key.1.as_str());
    let page_key = after
        .as_ref()
        .map_or_else(|| "first".to_owned(), encode_cursor);
    let repeat = state.faults.page_served(ServedPage {
        stream,
        page: &indices,
        upcoming: &next,
        last_id,
        has_next,
        mutate: Some((stream, &page_key)),
    });
    // `duplicates`: the next page starts at this page's last record again.
    let resume_at = match (repeat, page.len()) {
        (true, n) if n >= 2 => Some(&page[n - 2].key),
        _ => page.last().map(|r| &r.key),
    };
    let next_cursor = if has_next {
        resume_at.map(encode_cursor)
    } else {
        None
    };

    let malformed = &state.malformed[resource.slot()];
    let data: Vec<Value> = page
        .iter()
        .map(|row| {
            if row.deleted {
                return json!({ "id": row.key.1, "deleted": true, "updated_at": stamp(row.key.0) });
            }
            let mut record = match resource {
                Resource::Accounts => account_json(company, row.index, row.key.0, row.revision),
                Resource::People => person_json(company, row.index, row.key.0, row.revision),
            };
            if malformed.contains(&row.index) {
                // The field a record cannot be loaded without.
                let required = match resource {
                    Resource::Accounts => "name",
                    Resource::People => "email",
                };
                record[required] = Value::Null;
            }
            record
        })
        .collect();
    let body = json!({ "data": data, "next_cursor": next_cursor, "total": total });
    respond::json(StatusCode::OK, CONTENT_TYPE, &body)
}

#[cfg(test)]
mod tests;
