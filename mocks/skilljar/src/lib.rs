//! A mock of the Skilljar API v1 serving a simulated [`Company`]'s learning data, written from
//! Skilljar's documentation (`vendor-apis.md` §5, the v1 API reference and its OpenAPI
//! snapshot). The translation from the world to Skilljar's JSON is in [`records`].
//!
//! Every request authenticates with **HTTP Basic, the API key as the user name and an empty
//! password**; any other scheme (a bearer token) is a 401 `{"detail": …}` with
//! `WWW-Authenticate: Basic realm="api"`.
//!
//! | request | answer |
//! |---|---|
//! | `GET /v1/ping` | an empty 200: the credential check |
//! | `GET /v1/domains` | the one domain, [`records::DOMAIN`] |
//! | `GET /v1/domains/{domain}/published-courses` | the world's courses (not paths), `include_searchable_content=true` adds `tags`, descriptions and keywords |
//! | `GET /v1/domains/{domain}/published-paths` | the world's learning paths |
//! | `GET /v1/domains/{domain}/published-paths/{id}/published-path-enrollments` | the path's enrollments, each with its `user` |
//! | `GET /v1/domains/{domain}/users` | **DomainUserListItem**s of the learners |
//! | `GET /v1/domains/{domain}/users/{id}/signup-fields` | the learner's sign-up field values: `Company`, `CRM Contact ID`, `CRM Account ID` |
//! | `GET /v1/users` (filter `email`) | **UserOverview**s of the learners, with `latest_activity` and counts |
//! | `GET /v1/users/{id}` | one UserOverview |
//! | `GET /v1/users/{id}/published-courses` | a **bare array** of UserPublishedCourseProgress |
//! | `GET /v1/users/{id}/published-path-enrollments` | the learner's path enrollments (paged) |
//! | `GET /v1/paths`, `GET /v1/paths/{id}/path-items` | paths and their courses, in order |
//!
//! Learners are the contacts with at least one enrollment (archived CRM contacts included: the
//! LMS does not know the CRM deleted them). Lists are Django REST framework pages:
//! `{"count", "next", "previous", "results"}` with `page` (1-based) and `page_size` (default
//! [`DEFAULT_PAGE_SIZE`], larger values clamped to [`MAX_PAGE_SIZE`]); `next` and `previous`
//! are absolute URLs; a page past the end is a 404 `{"detail": "Invalid page."}`. An unknown
//! path or id is a 404 `{"detail": "Not found."}`.
//!
//! Every knob of [`Faults`] applies: the fault layer answers 429s (with `Retry-After` and
//! DRF's throttle body), 5xx and truncated bodies; `duplicates` starts a page with the previous
//! page's last record again; `mutate` changes users' `latest_activity` and courses' titles
//! around each page; `malformed` serves that many learners without an email, courses without
//! a title and progress records with an unreadable `enrolled_at`.

pub mod records;

use axum::{
    Router,
    extract::{OriginalUri, Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::Engine;
use chrono::{DateTime, Utc};
use records::{DOMAIN, Learner};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tributary_mock_kit::{
    FaultInjector, Faults, ServedPage, VendorFaults, VendorMock, draw, fnv1a, respond, sample,
};
use tributary_sim::Company;

/// The API key the mock accepts.
pub const DEFAULT_API_KEY: &str = "skilljar-test-key";

/// The largest `page_size` a list honours (larger ones are clamped, as DRF does).
pub const MAX_PAGE_SIZE: usize = 1000;

/// The page size of a list without `page_size`.
pub const DEFAULT_PAGE_SIZE: usize = 100;

const CONTENT_TYPE: &str = "application/json";

/// One mock instance: the company it serves, its API key and its fault injector.
#[derive(Clone)]
pub struct SkilljarMock {
    state: Arc<MockState>,
}

struct MockState {
    company: Arc<Company>,
    api_key: String,
    faults: FaultInjector,
    learners: Vec<Learner>,
    by_user: HashMap<String, usize>,
    /// Course indices of the published courses, and of the paths.
    courses: Vec<usize>,
    paths: Vec<usize>,
    /// Learners served without an email, courses without a title, and learners whose first
    /// course progress has an unreadable `enrolled_at` (`malformed`).
    bad_users: HashSet<usize>,
    bad_courses: HashSet<usize>,
    bad_progress: HashSet<usize>,
}

impl SkilljarMock {
    /// A mock serving `company` with `faults`, accepting [`DEFAULT_API_KEY`].
    pub fn new(company: Arc<Company>, faults: Faults) -> Self {
        let learners = records::learners(&company);
        let by_user = records::learner_index(&learners);
        let (paths, courses): (Vec<usize>, Vec<usize>) =
            (0..company.courses.len()).partition(|&i| records::is_path(&company, i));
        let n = faults.malformed_records;
        let seed = company.seed;
        let bad_users = sample(
            seed,
            "faults.malformed.users",
            (0..learners.len()).collect(),
            n,
        );
        let bad_courses = sample(seed, "faults.malformed.courses", courses.clone(), n);
        let with_courses = (0..learners.len())
            .filter(|&l| !learners[l].courses.is_empty())
            .collect();
        let bad_progress = sample(seed, "faults.malformed.progress", with_courses, n);
        let faults = FaultInjector::for_world(company.seed, company.today, faults);
        Self {
            state: Arc::new(MockState {
                company,
                api_key: DEFAULT_API_KEY.to_owned(),
                faults,
                learners,
                by_user,
                courses,
                paths,
                bad_users,
                bad_courses,
                bad_progress,
            }),
        }
    }

    /// The live records a full read lands, per stream of the connector (`courses`, `paths`,
    /// `users`, `enrollments`), by the connector's external ids: published-course and
    /// published-path ids; user ids; `<user id>:<published course or path id>`. Each with its last change.
    pub fn live_records(&self) -> BTreeMap<&'static str, BTreeMap<String, DateTime<Utc>>> {
        let s = &self.state;
        let c = &*s.company;
        let mut courses = BTreeMap::new();
        for &i in &s.courses {
            courses.insert(records::published_course_id(c, i), c.courses[i].updated_at);
        }
        let mut paths = BTreeMap::new();
        for &i in &s.paths {
            paths.insert(records::published_path_id(c, i), c.courses[i].updated_at);
        }
        let mut users = BTreeMap::new();
        let mut enrollments = BTreeMap::new();
        for l in &s.learners {
            let changed = records::latest_activity(c, l)
                .unwrap_or_else(|| records::signed_up_at(c, l))
                .max(c.contacts[l.contact].updated_at);
            users.insert(l.id.clone(), changed);
            for p in &l.courses {
                let key = format!("{}:{}", l.id, records::published_course_id(c, p.course));
                enrollments.insert(key, p.current(c).updated_at);
            }
            for p in &l.paths {
                let key = format!("{}:{}", l.id, records::published_path_id(c, p.course));
                enrollments.insert(key, p.current(c).updated_at);
            }
        }
        BTreeMap::from([
            ("courses", courses),
            ("paths", paths),
            ("users", users),
            ("enrollments", enrollments),
        ])
    }
}

impl VendorMock for SkilljarMock {
    fn vendor(&self) -> &'static str {
        "skilljar"
    }

    fn router(&self) -> Router {
        let routes = Router::new()
            .route("/v1/ping", get(ping))
            .route("/v1/domains", get(domains))
            .route(
                "/v1/domains/{domain}/published-courses",
                get(published_courses),
            )
            .route("/v1/domains/{domain}/published-paths", get(published_paths))
            .route(
                "/v1/domains/{domain}/published-paths/{path}/published-path-enrollments",
                get(published_path_enrollments),
            )
            .route("/v1/domains/{domain}/users", get(domain_users))
            .route(
                "/v1/domains/{domain}/users/{user}/signup-fields",
                get(signup_fields),
            )
            .route("/v1/users", get(users))
            .route("/v1/users/{user}", get(user))
            .route("/v1/users/{user}/published-courses", get(user_courses))
            .route(
                "/v1/users/{user}/published-path-enrollments",
                get(user_paths),
            )
            .route("/v1/paths", get(paths))
            .route("/v1/paths/{path}/path-items", get(path_items))
            .fallback(not_found)
            .with_state(Arc::clone(&self.state));
        self.state.faults.wrap(routes, SkilljarFaults)
    }

    fn credential_hint(&self) -> String {
        // `key=value` tokens, like every mock's hint: HTTP Basic, the key as the user name.
        format!("api_key={} auth=basic", self.state.api_key)
    }

    fn faults(&self) -> &FaultInjector {
        &self.state.faults
    }
}

/// Skilljar's throttle and server-error bodies (Django REST framework's).
struct SkilljarFaults;

impl VendorFaults for SkilljarFaults {
    fn rate_limited(&self) -> Response {
        detail(
            StatusCode::TOO_MANY_REQUESTS,
            "Request was throttled. Expected available in 1 second.",
        )
    }

    fn server_error(&self, status: StatusCode) -> Response {
        detail(status, "A server error occurred.")
    }
}

fn detail(status: StatusCode, message: &str) -> Response {
    respond::json(status, CONTENT_TYPE, &json!({ "detail": message }))
}

async fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not found.")
}

/// The 401 for a request without the API key as a Basic user name, if it lacks it.
fn refusal(state: &MockState, headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let message = match given {
        None => "Authentication credentials were not provided.",
        Some(value) => match basic_user(value) {
            Some(user) if user == state.api_key => return None,
            Some(_) => "Invalid username/password.",
            // DRF's Basic authentication ignores other schemes, so the request is anonymous.
            None => "Authentication credentials were not provided.",
        },
    };
    let mut response = detail(StatusCode::UNAUTHORIZED, message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"api\""),
    );
    Some(response)
}

/// The user name of a `Basic` authorization header.
fn basic_user(value: &str) -> Option<String> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, _password) = text.split_once(':')?;
    Some(user.to_owned())
}

macro_rules! authorized {
    ($state:expr, $headers:expr) => {
        if let Some(refused) = refusal(&$state, &$headers) {
            return refused;
        }
    };
}

async fn ping(State(state): State<Arc<MockState>>, headers: HeaderMap) -> Response {
    authorized!(state, headers);
    StatusCode::OK.into_response()
}

/// One list request, as DRF's page-number paginator reads it.
struct ListRequest<'a> {
    uri: &'a OriginalUri,
    headers: &'a HeaderMap,
    query: &'a [(String, String)],
}

/// A DRF page over `items` (each a world index and its vendor id), rendered by `render`.
/// `stream` keys the paging faults; `mutate` says whether records of this list change.
fn drf_page(
    state: &MockState,
    req: &ListRequest<'_>,
    stream: &str,
    items: &[(usize, String)],
    mutate: bool,
    render: impl Fn(usize) -> Value,
) -> Response {
    let param = |name| respond::param(req.query, name);
    let size = param("page_size")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .map_or(DEFAULT_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE));
    let page = match param("page") {
        None => 1,
        Some("last") => items.len().div_ceil(size).max(1),
        Some(p) => match p.parse::<usize>() {
            Ok(p) if p >= 1 => p,
            _ => return detail(StatusCode::NOT_FOUND, "Invalid page."),
        },
    };
    let count = items.len();
    let start = (page - 1) * size;
    if start >= count && page != 1 {
        return detail(StatusCode::NOT_FOUND, "Invalid page.");
    }
    let end = (start + size).min(count);
    let has_next = end < count;
    // `duplicates`: this page starts with the previous page's last record again when the
    // draw for that page said so (decided by the record alone, so a retry sees the same).
    let repeat_from_previous = page > 1 && {
        let prev = &items[start.saturating_sub(size)..start];
        repeats(
            state,
            stream,
            prev.last().map(|(_, id)| id.as_str()),
            prev.len(),
            true,
        )
    };
    let first = if repeat_from_previous {
        start - 1
    } else {
        start
    };
    let page_items = &items[first..end];
    let indices: Vec<usize> = items[start..end].iter().map(|(i, _)| *i).collect();
    let upcoming: Vec<usize> = items[end..(end + size).min(count)]
        .iter()
        .map(|(i, _)| *i)
        .collect();
    let page_key = page.to_string();
    state.faults.page_served(ServedPage {
        stream,
        page: &indices,
        upcoming: &upcoming,
        last_id: items[start..end].last().map(|(_, id)| id.as_str()),
        has_next,
        mutate: mutate.then_some((stream, page_key.as_str())),
    });
    let link = |p: usize| page_url(req, p, size);
    let body = json!({
        "count": count,
        "next": has_next.then(|| link(page + 1)),
        "previous": (page > 1).then(|| link(page - 1)),
        "results": page_items.iter().map(|(i, _)| render(*i)).collect::<Vec<_>>(),
    });
    respond::json(StatusCode::OK, CONTENT_TYPE, &body)
}

/// Whether the kit's `duplicates` draw repeats a page's last record on the next page (the
/// same draw as [`FaultInjector::page_served`], without counting it again).
fn repeats(
    state: &MockState,
    stream: &str,
    last: Option<&str>,
    len: usize,
    has_next: bool,
) -> bool {
    let p = state.faults.faults().duplicates;
    let Some(last) = last else { return false };
    !p.is_zero()
        && len >= 2
        && has_next
        && p.hits(draw(
            state.faults.seed(),
            "duplicates",
            &[fnv1a(stream), fnv1a(last)],
        ))
}

/// The request's URL with `page` and `page_size` replaced, absolute, as DRF builds links.
fn page_url(req: &ListRequest<'_>, page: usize, size: usize) -> String {
    let mut params: Vec<(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| k != "page" && k != "page_size")
        .cloned()
        .collect();
    params.push(("page".to_owned(), page.to_string()));
    params.push(("page_size".to_owned(), size.to_string()));
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!(
        "{}{}?{}",
        respond::base_url(req.headers),
        req.uri.0.path(),
        query.join("&")
    )
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn unknown_domain(domain: &str) -> Option<Response> {
    (domain != DOMAIN).then(|| detail(StatusCode::NOT_FOUND, "Not found."))
}

fn searchable(query: &[(String, String)]) -> bool {
    matches!(
        respond::param(query, "include_searchable_content"),
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1"
    )
}

async fn domains(
    State(state): State<Arc<MockState>>,
    uri: OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    authorized!(state, headers);
    let req = ListRequest {
        uri: &uri,
        headers: &headers,
        query: &query,
    };
    let items = [(0, DOMAIN.to_owned())];
    drf_page(&state, &req, "domains", &items, false, |_| {
        records::domain()
    })
}

async fn published_courses(
    State(state): State<Arc<MockState>>,
    Path(domain): Path<String>,
    uri: OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    authorized!(state, headers);
    if let Some(r) = unknown_domain(&domain) {
        return r;
    }
    let c = &*state.company;
    let items: Vec<(usize, String)> = state
        .courses
        .iter()
        .map(|&i| (i, records::published_course_id(c, i)))
        .collect();
    let req = ListRequest {
        uri: &uri,
        headers: &headers,
        query: &query,
    };
    let full = searchable(&query);
    drf_page(&state, &req, "published-courses", &items, true, |i| {
        let revision = state
            .faults
            .revision("published-courses", i)
            .map_or(0, |r| r.number);
        let mut record = records::published_course(c, i, full, revision);
        if state.bad_courses.contains(&i) {
            record["course"]["title"] = Value::Null;
        }
        record
    })
}

async fn published_paths(
    State(state): State<Arc<MockState>>,
    Path(domain): Path<String>,
    uri: OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    authorized!(state, headers);
    if let Some(r) = unknown_domain(&domain) {
        return r;
    }
    let c = &*state.company;
    let items: Vec<(usize, String)> = state
        .paths
        .iter()
        .map(|&i| (i, records::published_path_id(c, i)))
        .collect();
    let req = ListRequest {
        uri: &uri,
        headers: &headers,
        query: &query,
    };
    let full = searchable(&query);
    drf_page(&state, &req, "published-paths", &items, false, |i| {
        records::published_path(c, i, full)
    })
}

async fn published_path_enrollments(
    State(state): State<Arc<MockState>>,
    Path((domain, published)): Path<(String, String)>,
    uri: OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    authorized!(state, headers);
    if let Some(r) = unknown_domain(&domain) {
        return r;
    }
    let c = &*state.company;
    let Some(&path) = state
        .paths
        .iter()
        .find(|&&i| records::published_path_id(c, i) == published)
    else {
        return not_found().await;
    };
    let all: Vec<Value> = state
        .learners
        .iter()
        .flat_map(|l| {
            l.paths
                .iter()
                .filter(|p| p.course == path)
                .flat_map(move |p| records::published_path_enrollments(c, l, p))
        })
        .collect();
    let items: Vec<(usize, String)> = all
        .iter()
        .enumerate()
        .map(|(k, v)| (k, v["id"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let req = ListRequest {
        uri: &uri,
        headers: &headers,
        query: &query,
    };
    let stream = format!("published-path-enrollments.{published}");
    drf_page(&state, &req, &stream, &items, false, |k| all[k].clone())
}

fn learner_items(state: &MockState, email: Option<&str>) -> Vec<(usize, String)> {
    let c = &*state.company;
    state
        .learners
        .iter()
        .enumerate()
        .filter(|(_, l)| email.is_none_or(|e| c.contacts[l.contact].email.eq_ignore_ascii_case(e)))
        .map(|(i, l)| (i, l.id.clone()))
        .collect()
}

fn with_bad_email(state: &MockState, learner: usize, mut record: Value) -> Value {
    if state.bad_users.contains(&learner) {
        record["user"]["email"] = Value::Null;
    }
    record
}

async fn domain_users(
    State(state): State<Arc<MockState>>,
    Path(domain): Path<String>,
    uri: OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    authorized!(state, headers);
    if let Some(r) = unknown_domain(&domain) {
        return r;
    }
    let items = learner_items(&state, None);
    let req = ListRequest {
        uri: &uri,
        headers: &headers,
        query: &query,
    };
    drf_page(&state, &req, "domain-users", &items, false, |i| {
        with_bad_email(
            &state,
            i,
            records::domain_user(&state.company, &state.learners[i]),
        )
    })
}

async fn signup_fields(
    State(state): State<Arc<MockState>>,
    Path((domain, user)): Path<(String, String)>,
    uri: OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    authorized!(state, headers);
    if let Some(r) = unknown_domain(&domain) {
        return r;
    }
    let Some(&l) = state.by_user.get(&user) else {
        return not_found().await;
    };
    let values = records::signup_values(&state.company, &state.learners[l]);
    let items: Vec<(usize, String)> = records::SIGNUP_FIELDS
        .iter()
        .enumerate()
        .map(|(k, (id, _))| (k, format!("{user}.{id}")))
        .collect();
    let req = ListRequest {
        uri: &uri,
        headers: &headers,
        query: &query,
    };
    drf_page(&state, &req, "signup-fields", &items, false, |k| {
        values[k].clone()
    })
}

fn overview(state: &MockState, l: usize) -> Value {
    let revision = state.faults.revision("users", l).map(|r| r.updated_at);
    let record = records::user_overview(&state.company, &state.learners[l], revision);
    with_bad_email(state, l, record)
}

async fn users(
    State(state): State<Arc<MockState>>,
    uri: OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    authorized!(state, headers);
    let items = learner_items(&state, respond::param(&query, "email"));
    let req = ListRequest {
        uri: &uri,
        headers: &headers,
        query: &query,
    };
    drf_page(&state, &req, "users", &items, true, |l| overview(&state, l))
}

async fn user(
    State(state): State<Arc<MockState>>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Response {
    authorized!(state, headers);
    match state.by_user.get(&user) {
        Some(&l) => respond::json(StatusCode::OK, CONTENT_TYPE, &overview(&state, l)),
        None => not_found().await,
    }
}

async fn user_courses(
    State(state): State<Arc<MockState>>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Response {
    authorized!(state, headers);
    let Some(&l) = state.by_user.get(&user) else {
        return not_found().await;
    };
    let c = &*state.company;
    let mut progress: Vec<Value> = state.learners[l]
        .courses
        .iter()
        .map(|p| records::course_progress(c, p))
        .collect();
    if state.bad_progress.contains(&l)
        && let Some(first) = progress.first_mut()
    {
        first["enrolled_at"] = json!("not a date");
    }
    respond::json(StatusCode::OK, CONTENT_TYPE, &Value::Array(progress))
}

async fn user_paths(
    State(state): State<Arc<MockState>>,
    Path(user): Path<String>,
    uri: OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    authorized!(state, headers);
    let Some(&l) = state.by_user.get(&user) else {
        return not_found().await;
    };
    let c = &*state.company;
    let all: Vec<Value> = state.learners[l]
        .paths
        .iter()
        .flat_map(|p| records::path_enrollments(c, p))
        .collect();
    let items: Vec<(usize, String)> = all
        .iter()
        .enumerate()
        .map(|(k, v)| (k, v["id"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let req = ListRequest {
        uri: &uri,
        headers: &headers,
        query: &query,
    };
    let stream = format!("path-enrollments.{user}");
    drf_page(&state, &req, &stream, &items, false, |k| all[k].clone())
}

async fn paths(
    State(state): State<Arc<MockState>>,
    uri: OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    authorized!(state, headers);
    let c = &*state.company;
    let items: Vec<(usize, String)> = state
        .paths
        .iter()
        .map(|&i| (i, records::path_id(c, i)))
        .collect();
    let req = ListRequest {
        uri: &uri,
        headers: &headers,
        query: &query,
    };
    drf_page(&state, &req, "paths", &items, false, |i| {
        records::path(c, i)
    })
}

async fn path_items(
    State(state): State<Arc<MockState>>,
    Path(path): Path<String>,
    uri: OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    authorized!(state, headers);
    let c = &*state.company;
    let Some(&i) = state
        .paths
        .iter()
        .find(|&&i| records::path_id(c, i) == path)
    else {
        return not_found().await;
    };
    let all = records::path_items(c, i);
    let items: Vec<(usize, String)> = all
        .iter()
        .enumerate()
        .map(|(k, v)| (k, v["id"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let req = ListRequest {
        uri: &uri,
        headers: &headers,
        query: &query,
    };
    let stream = format!("path-items.{path}");
    drf_page(&state, &req, &stream, &items, false, |k| all[k].clone())
}

#[cfg(test)]
mod tests;
