//! A mock of the Canvas LMS REST API (Instructure) serving a simulated [`Company`]'s learning
//! data, written from Canvas's API documentation (`vendor-apis.md` §3;
//! <https://canvas.instructure.com/doc/api/>), never from the connector.
//!
//! What it serves, with `Authorization: Bearer <token>` (or the discouraged `?access_token=`):
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/v1/users/self` | the token's user (the account admin) |
//! | `GET /api/v1/accounts/:account_id` | the root account (`self` or [`ROOT_ACCOUNT_ID`]) |
//! | `GET /api/v1/accounts/:account_id/courses` | the course catalog; `include[]` (`total_students`, `term`, `account_name`), `state[]`, `search_term`, `per_page` |
//! | `GET /api/v1/courses/:id` | one course (`include[]` as above) |
//! | `GET /api/v1/accounts/:account_id/users` | the learners; `include[]=email`, `search_term` (2 characters at least), `per_page` |
//! | `GET /api/v1/courses/:course_id/enrollments` | the course's enrollments; `type[]`, `state[]` (**default active + invited**), `user_id`, `per_page` |
//! | `GET /api/v1/courses/:course_id/bulk_user_progress` | module progress of every student of the course, `completed_at` included |
//! | `GET /api/v1/courses/:course_id/users/:user_id/progress` | one student's progress |
//!
//! **The world as Canvas sees it.** One root account ([`ROOT_ACCOUNT_ID`]) holds a course per
//! world course (id = the world's course id, `sis_course_id` and `course_code` = its code,
//! `course_format` `on_campus` for instructor-led courses, else `online`; a learning path is a
//! course too). Users are the world's contacts with at least one enrollment, archived CRM
//! contacts included (the LMS does not know the CRM deleted them): id [`user_id`],
//! `sis_user_id` = the CRM contact id, `integration_id` = the CRM account id, `login_id` =
//! email. Canvas keys a student enrollment by user and course, so a learner's latest world
//! enrollment in a course is their one `StudentEnrollment` there ([`served_enrollments`]; id =
//! the world's enrollment id):
//! not started → `active` with no activity; in progress → `active` with `last_activity_at`;
//! completed → `completed` when it ended more than [`CONCLUDED_AFTER_DAYS`] days before
//! today (the enrollment was concluded), else still `active`, and in both cases the module
//! progress has `completed_at`; dropped → `deleted` (even ids) or `inactive` (odd ids).
//! Scores are the world's, as `grades.current_score`/`final_score`; graded courses use a
//! "Pass"/"Fail" grading scheme, so `final_grade` says whether the learner passed.
//!
//! **Paging** (RFC 8288 `Link` header with `current`, `next`, `prev`, `first`, `last`): a
//! `per_page` of 1 to 100 (default 10; more is served as 100, as Canvas caps it). Courses and
//! users page by number (`page=2`) and give `rel="last"`; enrollments and progress page by
//! bookmark (`page=bookmark:WzEyXQ`, base64 of the last id read) and omit `rel="last"`. Every
//! endpoint accepts both forms; Link URLs keep the request's other parameters and never the
//! `access_token`.
//!
//! **Errors**: 401 with `WWW-Authenticate: Bearer realm="canvas-lms"` and
//! `{"errors":[{"message":"Invalid access token."}]}`; a valid token without admin rights
//! ([`LIMITED_TOKEN`]) gets a permission 403 (`user not authorized to perform that action`,
//! JSON) on account endpoints; 404 `The specified resource does not exist.`; throttling is
//! **403 with the plain-text body `403 Forbidden (Rate Limit Exceeded)`** (the kit's
//! `rate_limit` knob, through [`VendorFaults::rate_limit_status`]). Every response carries
//! `X-Request-Cost` and `X-Rate-Limit-Remaining`.
//!
//! Every knob of [`Faults`] applies: the fault layer answers throttles, 5xx and truncated
//! bodies; `duplicates` repeats a page's last record on the next page (the next link is then a
//! bookmark of the record before it); `mutate` changes enrollments around each page (a newer
//! `updated_at`, more `total_activity_time`); `malformed` serves that many users without a
//! name and that many enrollments with an unreadable `created_at`.

use axum::{
    Router,
    extract::{OriginalUri, Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tributary_mock_kit::{
    FaultInjector, Faults, ServedPage, VendorFaults, VendorMock, auth, fnv1a, respond, sample,
};
use tributary_model::EnrollmentStatus;
use tributary_sim::Company;

/// The admin access token the mock accepts.
pub const DEFAULT_TOKEN: &str = "canvas-test-token";

/// A valid token of a user without admin rights: account endpoints answer it with a
/// permission 403 (not a throttle).
pub const LIMITED_TOKEN: &str = "canvas-student-token";

/// The id of the root account (also reachable as `self`).
pub const ROOT_ACCOUNT_ID: i64 = 1;

/// The id of the admin user the tokens belong to.
pub const ADMIN_USER_ID: i64 = 1;

/// The largest page served (a larger `per_page` is served as this).
pub const MAX_PER_PAGE: usize = 100;

/// The page size without `per_page`.
pub const DEFAULT_PER_PAGE: usize = 10;

/// A completed enrollment that ended more than this many days before today is concluded
/// (`enrollment_state: completed`); a more recent one is still `active`.
pub const CONCLUDED_AFTER_DAYS: i64 = 30;

/// The module requirements of every course (progress counts against it).
pub const REQUIREMENT_COUNT: u32 = 4;

/// The body of Canvas's throttle.
pub const THROTTLED_BODY: &str = "403 Forbidden (Rate Limit Exceeded)";

const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The bucket's high-water mark `X-Rate-Limit-Remaining` counts down from.
const BUCKET: f64 = 700.0;

/// The Canvas user id of contact `i`: its CRM id (digits) offset into Canvas's id space, or a
/// hash of it if it is not a number.
pub fn user_id(company: &Company, i: usize) -> i64 {
    let crm = &company.contacts[i].id;
    match crm.parse::<i64>() {
        Ok(n) if n < i64::MAX / 2 => 100_000 + n,
        _ => 100_000 + (fnv1a(crm) % 1_000_000_000_000) as i64,
    }
}

/// The Canvas course id of world course `i`.
pub fn course_id(company: &Company, i: usize) -> i64 {
    company.courses[i].id as i64
}

/// The Canvas enrollment id of world enrollment `i`.
pub fn enrollment_id(company: &Company, i: usize) -> i64 {
    company.enrollments[i].id as i64
}

/// The `enrollment_state` Canvas shows for world enrollment `i`.
pub fn enrollment_state(company: &Company, i: usize) -> &'static str {
    let e = &company.enrollments[i];
    match e.status {
        EnrollmentStatus::Enrolled | EnrollmentStatus::InProgress => "active",
        EnrollmentStatus::Completed => match e.completed_at {
            Some(at) if concluded(company, at) => "completed",
            _ => "active",
        },
        EnrollmentStatus::Dropped if e.id.is_multiple_of(2) => "deleted",
        EnrollmentStatus::Dropped => "inactive",
    }
}

fn concluded(company: &Company, at: DateTime<Utc>) -> bool {
    let today = company
        .today
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(at);
    today - at > Duration::days(CONCLUDED_AFTER_DAYS)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The world enrollments Canvas shows (indices into `company.enrollments`, ascending): one
/// student enrollment per user and course, as Canvas keys them, so a learner who enrolled in
/// a course again (after dropping it, or to retake it) has the latest of their world
/// enrollments in it; the earlier ones were replaced by it.
pub fn served_enrollments(company: &Company) -> Vec<usize> {
    let mut latest: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (i, e) in company.enrollments.iter().enumerate() {
        let slot = latest.entry((e.person, e.course)).or_insert(i);
        let current = &company.enrollments[*slot];
        if (e.enrolled_at, e.id) > (current.enrolled_at, current.id) {
            *slot = i;
        }
    }
    let mut out: Vec<usize> = latest.into_values().collect();
    out.sort_unstable();
    out
}

/// The world's learners: contacts with at least one enrollment, by Canvas user id.
fn learners(company: &Company) -> Vec<(i64, usize)> {
    let mut seen = HashSet::new();
    let mut out: Vec<(i64, usize)> = company
        .enrollments
        .iter()
        .filter(|e| seen.insert(e.person))
        .map(|e| (user_id(company, e.person), e.person))
        .collect();
    out.sort();
    out
}

/// Course `i` as Canvas serves it, with the `include[]` extras asked for.
pub fn course_json(company: &Company, i: usize, include: &[&str], students: usize) -> Value {
    let c = &company.courses[i];
    let id = course_id(company, i);
    let format = match c.kind {
        tributary_model::CourseKind::Ilt => "on_campus",
        _ => "online",
    };
    let mut course = json!({
        "id": id,
        "sis_course_id": c.code,
        "uuid": format!("{:016x}{:016x}", fnv1a(&c.code), c.id),
        "integration_id": null,
        "sis_import_id": null,
        "name": c.title,
        "course_code": c.code,
        "original_name": null,
        "workflow_state": "available",
        "account_id": ROOT_ACCOUNT_ID,
        "root_account_id": ROOT_ACCOUNT_ID,
        "enrollment_term_id": 1,
        "grading_periods": null,
        "grading_standard_id": if c.passing_score.is_some() { json!(1) } else { Value::Null },
        "grade_passback_setting": null,
        "created_at": stamp(c.created_at),
        "start_at": stamp(c.created_at),
        "end_at": null,
        "locale": null,
        "enrollments": null,
        "calendar": { "ics": format!("/feeds/calendars/course_{id}.ics") },
        "default_view": "modules",
        "syllabus_body": null,
        "public_syllabus": false,
        "public_syllabus_to_auth": false,
        "storage_quota_mb": 500,
        "is_public": false,
        "is_public_to_auth_users": false,
        "homeroom_course": false,
        "course_color": null,
        "friendly_name": null,
        "apply_assignment_group_weights": false,
        "time_zone": "Etc/UTC",
        "blueprint": false,
        "template": false,
        "license": "private",
        "course_format": format,
        "hide_final_grades": false,
        "restrict_enrollments_to_course_dates": false,
    });
    for inc in include {
        match *inc {
            "total_students" => course["total_students"] = json!(students),
            "term" => {
                course["term"] = json!({
                    "id": 1, "name": "Default Term", "start_at": null, "end_at": null,
                    "workflow_state": "active", "grading_period_group_id": null,
                })
            }
            "account_name" => course["account_name"] = json!("Simulated Academy"),
            "concluded" => course["concluded"] = json!(false),
            _ => {}
        }
    }
    course
}

/// Contact `i` as a Canvas user (`email` only with `include[]=email`).
pub fn user_json(company: &Company, i: usize, with_email: bool) -> Value {
    let c = &company.contacts[i];
    let name = format!("{} {}", c.first_name, c.last_name);
    let mut user = json!({
        "id": user_id(company, i),
        "name": name,
        "sortable_name": format!("{}, {}", c.last_name, c.first_name),
        "last_name": c.last_name,
        "first_name": c.first_name,
        "short_name": name,
        "sis_user_id": c.id,
        "sis_import_id": null,
        "integration_id": company.accounts[c.account].id,
        "login_id": c.email,
        "created_at": stamp(c.created_at),
    });
    if with_email {
        user["email"] = json!(c.email);
    }
    user
}

/// World enrollment `i` as a Canvas `StudentEnrollment`; `revision` is how often `mutate`
/// changed it (and `updated_at` its changed time).
pub fn enrollment_json(
    company: &Company,
    base: &str,
    i: usize,
    updated_at: DateTime<Utc>,
    revision: u32,
) -> Value {
    let e = &company.enrollments[i];
    let c = &company.contacts[e.person];
    let course = &company.courses[e.course];
    let cid = course_id(company, e.course);
    let uid = user_id(company, e.person);
    let state = enrollment_state(company, i);
    let last_activity = match e.status {
        EnrollmentStatus::Enrolled => None,
        EnrollmentStatus::InProgress => Some(e.updated_at),
        EnrollmentStatus::Completed => e.completed_at,
        EnrollmentStatus::Dropped => e.started_at,
    };
    let activity_secs = match last_activity {
        None => 0,
        Some(_) => u64::from(course.duration_minutes) * 60 * u64::from(e.progress_percent) / 100,
    } + u64::from(revision) * 60;
    let score = e.score.and_then(|s| s.to_string().parse::<f64>().ok());
    let grade = match (course.passing_score, e.passed, score) {
        (Some(_), Some(true), Some(_)) => json!("Pass"),
        (Some(_), Some(false), Some(_)) => json!("Fail"),
        _ => Value::Null,
    };
    let name = format!("{} {}", c.first_name, c.last_name);
    let html = format!("{base}/courses/{cid}/users/{uid}");
    json!({
        "id": enrollment_id(company, i),
        "course_id": cid,
        "sis_course_id": course.code,
        "course_integration_id": null,
        "course_section_id": 10_000 + cid,
        "section_integration_id": null,
        "sis_account_id": null,
        "sis_section_id": null,
        "sis_user_id": c.id,
        "enrollment_state": state,
        "limit_privileges_to_course_section": false,
        "sis_import_id": null,
        "root_account_id": ROOT_ACCOUNT_ID,
        "type": "StudentEnrollment",
        "user_id": uid,
        "associated_user_id": null,
        "role": "StudentEnrollment",
        "role_id": 3,
        "created_at": stamp(e.enrolled_at),
        "updated_at": stamp(updated_at),
        "start_at": null,
        "end_at": null,
        "last_activity_at": last_activity.map(stamp),
        "last_attended_at": null,
        "total_activity_time": activity_secs,
        "html_url": html,
        "grades": {
            "html_url": format!("{base}/courses/{cid}/grades/{uid}"),
            "current_grade": grade,
            "current_score": score,
            "final_grade": grade,
            "final_score": score,
            "unposted_current_score": score,
            "unposted_current_grade": grade,
            "unposted_final_score": score,
            "unposted_final_grade": grade,
        },
        "user": {
            "id": uid,
            "name": name,
            "sortable_name": format!("{}, {}", c.last_name, c.first_name),
            "short_name": name,
            "sis_user_id": c.id,
            "login_id": c.email,
        },
    })
}

/// The module progress of world enrollment `i`.
pub fn progress_json(company: &Company, base: &str, i: usize) -> Value {
    let e = &company.enrollments[i];
    let done = u32::from(e.progress_percent.min(100)) * REQUIREMENT_COUNT / 100;
    let next = (done < REQUIREMENT_COUNT).then(|| {
        format!(
            "{base}/courses/{}/modules/items/{}",
            course_id(company, e.course),
            done + 1
        )
    });
    json!({
        "requirement_count": REQUIREMENT_COUNT,
        "requirement_completed_count": done,
        "next_requirement_url": next,
        "completed_at": e.completed_at.map(stamp),
    })
}

/// One mock instance: the company it serves, its tokens and its fault injector.
#[derive(Clone)]
pub struct CanvasMock {
    state: Arc<MockState>,
}

struct MockState {
    company: Arc<Company>,
    faults: FaultInjector,
    /// Learners by Canvas user id: (user id, contact index).
    users: Vec<(i64, usize)>,
    /// Per course index, its enrollments (indices into `company.enrollments`) by id.
    by_course: Vec<Vec<usize>>,
    /// Users (contact indices) served without a name.
    malformed_users: HashSet<usize>,
    /// Enrollments served with an unreadable `created_at`.
    malformed_enrollments: HashSet<usize>,
    requests: AtomicU64,
}

impl CanvasMock {
    /// A mock serving `company` with `faults`, accepting [`DEFAULT_TOKEN`].
    pub fn new(company: Arc<Company>, faults: Faults) -> Self {
        let users = learners(&company);
        let mut by_course = vec![Vec::new(); company.courses.len()];
        for i in served_enrollments(&company) {
            if let Some(list) = by_course.get_mut(company.enrollments[i].course) {
                list.push(i);
            }
        }
        for list in &mut by_course {
            list.sort_by_key(|&i| enrollment_id(&company, i));
        }
        let malformed_users = sample(
            company.seed,
            "faults.malformed.users",
            users.iter().map(|&(_, i)| i).collect(),
            faults.malformed_records,
        );
        let malformed_enrollments = sample(
            company.seed,
            "faults.malformed.enrollments",
            served_enrollments(&company),
            faults.malformed_records,
        );
        let faults = FaultInjector::for_world(company.seed, company.today, faults);
        Self {
            state: Arc::new(MockState {
                company,
                faults,
                users,
                by_course,
                malformed_users,
                malformed_enrollments,
                requests: AtomicU64::new(0),
            }),
        }
    }

    /// What a client that asks for every state lands per stream (`courses`, `users`,
    /// `enrollments`, the connector's stream names): id → a version stamp. Courses have no
    /// `updated_at`, so their creation time stands in; users likewise.
    pub fn live_records(&self) -> BTreeMap<&'static str, BTreeMap<String, DateTime<Utc>>> {
        let company = &self.state.company;
        let courses = (0..company.courses.len())
            .map(|i| {
                (
                    course_id(company, i).to_string(),
                    company.courses[i].created_at,
                )
            })
            .collect();
        let users = self
            .state
            .users
            .iter()
            .map(|&(id, i)| (id.to_string(), company.contacts[i].created_at))
            .collect();
        let enrollments = served_enrollments(company)
            .into_iter()
            .map(|i| {
                (
                    enrollment_id(company, i).to_string(),
                    company.enrollments[i].updated_at,
                )
            })
            .collect();
        BTreeMap::from([
            ("courses", courses),
            ("users", users),
            ("enrollments", enrollments),
        ])
    }
}

/// Canvas's throttle and server-error bodies for the kit's fault layer.
#[derive(Debug, Clone, Copy)]
pub struct CanvasFaults;

impl VendorFaults for CanvasFaults {
    fn rate_limited(&self) -> Response {
        (
            StatusCode::FORBIDDEN,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                ),
                (
                    header::HeaderName::from_static("x-rate-limit-remaining"),
                    HeaderValue::from_static("0.0"),
                ),
            ],
            THROTTLED_BODY,
        )
            .into_response()
    }

    fn rate_limit_status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    fn server_error(&self, status: StatusCode) -> Response {
        let body = json!({
            "errors": [{ "message": "An error occurred." }],
            "error_report_id": 4242,
        });
        respond::json(status, CONTENT_TYPE, &body)
    }
}

impl VendorMock for CanvasMock {
    fn vendor(&self) -> &'static str {
        "canvas"
    }

    fn router(&self) -> Router {
        let routes = Router::new()
            .route("/api/v1/users/self", get(me))
            .route("/api/v1/accounts/{account}", get(account))
            .route("/api/v1/accounts/{account}/courses", get(courses))
            .route("/api/v1/accounts/{account}/users", get(users))
            .route("/api/v1/courses/{course}", get(course))
            .route("/api/v1/courses/{course}/enrollments", get(enrollments))
            .route(
                "/api/v1/courses/{course}/bulk_user_progress",
                get(bulk_progress),
            )
            .route(
                "/api/v1/courses/{course}/users/{user}/progress",
                get(user_progress),
            )
            .fallback(not_found)
            .with_state(Arc::clone(&self.state));
        self.state
            .faults
            .wrap(routes, CanvasFaults)
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&self.state),
                throttle_headers,
            ))
    }

    fn credential_hint(&self) -> String {
        format!("access_token={DEFAULT_TOKEN}")
    }

    fn faults(&self) -> &FaultInjector {
        &self.state.faults
    }
}

/// `X-Request-Cost` and `X-Rate-Limit-Remaining` on every response, throttles and errors
/// included (a throttle already says 0).
async fn throttle_headers(
    State(state): State<Arc<MockState>>,
    req: Request,
    next: Next,
) -> Response {
    let n = state.requests.fetch_add(1, Ordering::Relaxed);
    let mut response = next.run(req).await;
    let cost = 0.01 + (n % 17) as f64 / 100.0;
    let remaining = BUCKET - (n % 40) as f64 * 12.5;
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("{cost:.4}")) {
        headers.insert("x-request-cost", v);
    }
    if !headers.contains_key("x-rate-limit-remaining")
        && let Ok(v) = HeaderValue::from_str(&format!("{remaining:.1}"))
    {
        headers.insert("x-rate-limit-remaining", v);
    }
    response
}

fn errors(status: StatusCode, message: &str) -> Response {
    respond::json(
        status,
        CONTENT_TYPE,
        &json!({ "errors": [{ "message": message }] }),
    )
}

async fn not_found() -> Response {
    errors(
        StatusCode::NOT_FOUND,
        "The specified resource does not exist.",
    )
}

/// The token of a request: `Authorization: Bearer`, else `?access_token=`.
fn token<'a>(headers: &'a HeaderMap, query: &'a [(String, String)]) -> Option<&'a str> {
    auth::bearer(headers).or_else(|| respond::param(query, "access_token"))
}

/// The refusal of a request without a valid token, or (`admin`) without admin rights.
fn refusal(headers: &HeaderMap, query: &[(String, String)], admin: bool) -> Option<Response> {
    match token(headers, query) {
        Some(DEFAULT_TOKEN) => None,
        Some(LIMITED_TOKEN) if !admin => None,
        Some(LIMITED_TOKEN) => Some(errors(
            StatusCode::FORBIDDEN,
            "user not authorized to perform that action",
        )),
        _ => {
            let mut r = errors(StatusCode::UNAUTHORIZED, "Invalid access token.");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"canvas-lms\""),
            );
            Some(r)
        }
    }
}

fn is_root(account: &str) -> bool {
    account == "self" || account.parse::<i64>() == Ok(ROOT_ACCOUNT_ID)
}

/// Every value of a repeated parameter (`include[]`), also accepted without the brackets.
fn values<'q>(query: &'q [(String, String)], name: &str) -> Vec<&'q str> {
    query
        .iter()
        .filter(|(k, _)| k == &format!("{name}[]") || k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// A request's base URL (`http://host/api/v1`) for `html_url`s.
fn api_base(headers: &HeaderMap) -> String {
    respond::base_url(headers)
}

async fn me(headers: HeaderMap, Query(query): Query<Vec<(String, String)>>) -> Response {
    if let Some(refused) = refusal(&headers, &query, false) {
        return refused;
    }
    let body = json!({
        "id": ADMIN_USER_ID, "name": "Academy Admin", "sortable_name": "Admin, Academy",
        "short_name": "Academy Admin", "sis_user_id": null, "login_id": "academy-admin",
        "created_at": "2021-11-01T00:00:00Z", "locale": null, "effective_locale": "en",
        "permissions": {},
    });
    respond::json(StatusCode::OK, CONTENT_TYPE, &body)
}

async fn account(
    Path(account): Path<String>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(refused) = refusal(&headers, &query, true) {
        return refused;
    }
    if !is_root(&account) {
        return not_found().await;
    }
    let body = json!({
        "id": ROOT_ACCOUNT_ID, "name": "Simulated Academy", "uuid": "c4nv4s00000000000000000000000001",
        "parent_account_id": null, "root_account_id": null, "default_time_zone": "Etc/UTC",
        "workflow_state": "active", "sis_account_id": null, "integration_id": null,
    });
    respond::json(StatusCode::OK, CONTENT_TYPE, &body)
}

/// A page request: where it starts and how long it is.
struct PageRequest {
    per_page: usize,
    /// `Some(n)`: page number `n` (1-based); `None`: a bookmark.
    number: Option<usize>,
    /// The id the page starts after (a bookmark).
    after: Option<i64>,
}

fn page_request(query: &[(String, String)]) -> Result<PageRequest, Box<Response>> {
    let per_page = match respond::param(query, "per_page").map(str::parse::<usize>) {
        None => DEFAULT_PER_PAGE,
        Some(Ok(0)) | Some(Err(_)) => DEFAULT_PER_PAGE,
        Some(Ok(n)) => n.min(MAX_PER_PAGE),
    };
    let page = respond::param(query, "page").unwrap_or("1");
    if let Some(mark) = page.strip_prefix("bookmark:") {
        let after = URL_SAFE_NO_PAD
            .decode(mark)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Vec<i64>>(&bytes).ok())
            .and_then(|v| v.first().copied());
        return match after {
            Some(after) => Ok(PageRequest {
                per_page,
                number: None,
                after: Some(after),
            }),
            None => Err(Box::new(errors(
                StatusCode::BAD_REQUEST,
                "invalid page bookmark",
            ))),
        };
    }
    let number = match page {
        "first" => 1,
        n => n.parse::<usize>().unwrap_or(1).max(1),
    };
    Ok(PageRequest {
        per_page,
        number: Some(number),
        after: None,
    })
}

fn bookmark(id: i64) -> String {
    format!("bookmark:{}", URL_SAFE_NO_PAD.encode(format!("[{id}]")))
}

/// One listing's page: the rows it serves and the `Link` header.
struct Paged {
    range: std::ops::Range<usize>,
    link: String,
}

/// Pages `ids` (ascending) for `request`, applying the paging faults to `stream`. `numbered`
/// endpoints page by number and give `rel="last"`; the others by bookmark.
#[allow(clippy::too_many_arguments)]
fn paginate(
    state: &MockState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    request: &PageRequest,
    ids: &[i64],
    indices: &[usize],
    stream: &str,
    numbered: bool,
    mutate: bool,
) -> Paged {
    let per = request.per_page;
    let start = match (request.number, request.after) {
        (_, Some(after)) => ids.partition_point(|&id| id <= after),
        (Some(n), None) => ((n - 1) * per).min(ids.len()),
        (None, None) => 0,
    };
    let end = (start + per).min(ids.len());
    let has_next = end < ids.len();
    let upcoming_end = (end + per).min(ids.len());
    let last_id = (end > start).then(|| ids[end - 1].to_string());
    let page_key = match (request.number, request.after) {
        (_, Some(after)) => bookmark(after),
        (n, None) => n.unwrap_or(1).to_string(),
    };
    let repeat = state.faults.page_served(ServedPage {
        stream,
        page: &indices[start..end],
        upcoming: &indices[end..upcoming_end],
        last_id: last_id.as_deref(),
        has_next,
        mutate: mutate.then_some((stream, page_key.as_str())),
    });
    // The next page: by number when this one was numbered and nothing repeats, else a
    // bookmark of the last record (of the one before it, when `duplicates` repeats it).
    let next = has_next.then(|| match (numbered, request.number, repeat) {
        (true, Some(n), false) => (n + 1).to_string(),
        (_, _, true) if end - start >= 2 => bookmark(ids[end - 2]),
        _ => bookmark(ids[end - 1]),
    });
    let url = |page: &str| link_url(uri, headers, page, per);
    let current = match request.number {
        Some(n) if numbered || n > 1 => n.to_string(),
        Some(_) => "first".to_owned(),
        None => page_key.clone(),
    };
    let mut links = vec![format!("<{}>; rel=\"current\"", url(&current))];
    if let Some(next) = &next {
        links.push(format!("<{}>; rel=\"next\"", url(next)));
    }
    if let Some(n) = request.number.filter(|&n| n > 1) {
        links.push(format!("<{}>; rel=\"prev\"", url(&(n - 1).to_string())));
    }
    links.push(format!(
        "<{}>; rel=\"first\"",
        url(if numbered { "1" } else { "first" })
    ));
    if numbered {
        let last = ids.len().div_ceil(per).max(1);
        links.push(format!("<{}>; rel=\"last\"", url(&last.to_string())));
    }
    Paged {
        range: start..end,
        link: links.join(","),
    }
}

/// The request's URL with `page` and `per_page` set, its other parameters kept as sent and
/// the access token left out.
fn link_url(uri: &axum::http::Uri, headers: &HeaderMap, page: &str, per_page: usize) -> String {
    let mut parts: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .filter(|kv| {
            let key = kv.split('=').next().unwrap_or("");
            !matches!(key, "page" | "per_page" | "access_token")
        })
        .map(str::to_owned)
        .collect();
    parts.push(format!("page={page}"));
    parts.push(format!("per_page={per_page}"));
    format!(
        "{}{}?{}",
        respond::base_url(headers),
        uri.path(),
        parts.join("&")
    )
}

fn with_link(body: &Value, link: &str) -> Response {
    let mut r = respond::json(StatusCode::OK, CONTENT_TYPE, body);
    if let Ok(v) = HeaderValue::from_str(link) {
        r.headers_mut().insert(header::LINK, v);
    }
    r
}

/// Students per course (every enrollment not deleted).
fn students(state: &MockState, course: usize) -> usize {
    state.by_course.get(course).map_or(0, |list| {
        list.iter()
            .filter(|&&i| enrollment_state(&state.company, i) != "deleted")
            .count()
    })
}

async fn courses(
    State(state): State<Arc<MockState>>,
    Path(account): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&headers, &query, true) {
        return refused;
    }
    if !is_root(&account) {
        return not_found().await;
    }
    let request = match page_request(&query) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let include = values(&query, "include");
    let states = values(&query, "state");
    // Every course is `available`; without `state[]` all but deleted ones are listed.
    let listed = states.is_empty() || states.iter().any(|s| matches!(*s, "available" | "all"));
    let search = respond::param(&query, "search_term").map(str::to_lowercase);
    if search.as_ref().is_some_and(|s| s.chars().count() < 2) {
        return errors(
            StatusCode::BAD_REQUEST,
            "search_term of 2 or more characters is required",
        );
    }
    let company = &state.company;
    let mut rows: Vec<(i64, usize)> = (0..company.courses.len())
        .filter(|_| listed)
        .filter(|&i| {
            search.as_ref().is_none_or(|s| {
                let c = &company.courses[i];
                c.title.to_lowercase().contains(s) || c.code.to_lowercase().contains(s)
            })
        })
        .map(|i| (course_id(company, i), i))
        .collect();
    rows.sort();
    let (ids, indices): (Vec<i64>, Vec<usize>) = rows.into_iter().unzip();
    let paged = paginate(
        &state, &uri, &headers, &request, &ids, &indices, "courses", true, false,
    );
    let body: Vec<Value> = indices[paged.range.clone()]
        .iter()
        .map(|&i| course_json(company, i, &include, students(&state, i)))
        .collect();
    with_link(&Value::Array(body), &paged.link)
}

fn find_course(state: &MockState, course: &str) -> Option<usize> {
    let company = &state.company;
    if let Some(sis) = course.strip_prefix("sis_course_id:") {
        return company.courses.iter().position(|c| c.code == sis);
    }
    let id = course.parse::<i64>().ok()?;
    (0..company.courses.len()).find(|&i| course_id(company, i) == id)
}

async fn course(
    State(state): State<Arc<MockState>>,
    Path(course): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&headers, &query, false) {
        return refused;
    }
    let Some(i) = find_course(&state, &course) else {
        return not_found().await;
    };
    let include = values(&query, "include");
    let body = course_json(&state.company, i, &include, students(&state, i));
    respond::json(StatusCode::OK, CONTENT_TYPE, &body)
}

async fn users(
    State(state): State<Arc<MockState>>,
    Path(account): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&headers, &query, true) {
        return refused;
    }
    if !is_root(&account) {
        return not_found().await;
    }
    let request = match page_request(&query) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let with_email = values(&query, "include").contains(&"email");
    let search = respond::param(&query, "search_term").map(str::to_lowercase);
    if search.as_ref().is_some_and(|s| s.chars().count() < 2) {
        return errors(
            StatusCode::BAD_REQUEST,
            "search_term of 2 or more characters is required",
        );
    }
    let company = &state.company;
    let rows: Vec<(i64, usize)> = state
        .users
        .iter()
        .copied()
        .filter(|&(_, i)| {
            search.as_ref().is_none_or(|s| {
                let c = &company.contacts[i];
                format!("{} {}", c.first_name, c.last_name)
                    .to_lowercase()
                    .contains(s)
                    || c.email.to_lowercase().contains(s)
                    || c.id.contains(s.as_str())
            })
        })
        .collect();
    let (ids, indices): (Vec<i64>, Vec<usize>) = rows.into_iter().unzip();
    let paged = paginate(
        &state, &uri, &headers, &request, &ids, &indices, "users", true, false,
    );
    let body: Vec<Value> = indices[paged.range.clone()]
        .iter()
        .map(|&i| {
            let mut user = user_json(company, i, with_email);
            if state.malformed_users.contains(&i) {
                user["name"] = Value::Null;
                user["short_name"] = Value::Null;
                user["sortable_name"] = Value::Null;
            }
            user
        })
        .collect();
    with_link(&Value::Array(body), &paged.link)
}

const ENROLLMENT_TYPES: [&str; 5] = [
    "StudentEnrollment",
    "TeacherEnrollment",
    "TaEnrollment",
    "DesignerEnrollment",
    "ObserverEnrollment",
];

const ENROLLMENT_STATES: [&str; 7] = [
    "active",
    "invited",
    "creation_pending",
    "deleted",
    "rejected",
    "completed",
    "inactive",
];

async fn enrollments(
    State(state): State<Arc<MockState>>,
    Path(course): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&headers, &query, false) {
        return refused;
    }
    let Some(ci) = find_course(&state, &course) else {
        return not_found().await;
    };
    let request = match page_request(&query) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let types = values(&query, "type");
    if let Some(bad) = types.iter().find(|t| !ENROLLMENT_TYPES.contains(t)) {
        return errors(
            StatusCode::BAD_REQUEST,
            &format!("Invalid type parameter: {bad}"),
        );
    }
    let mut states = values(&query, "state");
    if let Some(bad) = states.iter().find(|s| !ENROLLMENT_STATES.contains(s)) {
        return errors(
            StatusCode::BAD_REQUEST,
            &format!("Invalid state parameter: {bad}"),
        );
    }
    // Canvas's documented default: active and invited enrollments only.
    if states.is_empty() {
        states = vec!["active", "invited"];
    }
    let user = match respond::param(&query, "user_id").map(str::parse::<i64>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return not_found().await,
    };
    let students_asked = types.is_empty() || types.contains(&"StudentEnrollment");
    let company = &state.company;
    let rows: Vec<(i64, usize)> = state.by_course[ci]
        .iter()
        .copied()
        .filter(|_| students_asked)
        .filter(|&i| states.contains(&enrollment_state(company, i)))
        .filter(|&i| user.is_none_or(|u| user_id(company, company.enrollments[i].person) == u))
        .map(|i| (enrollment_id(company, i), i))
        .collect();
    let (ids, indices): (Vec<i64>, Vec<usize>) = rows.into_iter().unzip();
    let paged = paginate(
        &state,
        &uri,
        &headers,
        &request,
        &ids,
        &indices,
        "enrollments",
        false,
        true,
    );
    let base = api_base(&headers);
    let body: Vec<Value> = indices[paged.range.clone()]
        .iter()
        .map(|&i| {
            let revision = state.faults.revision("enrollments", i);
            let updated = revision.map_or(company.enrollments[i].updated_at, |r| r.updated_at);
            let mut e =
                enrollment_json(company, &base, i, updated, revision.map_or(0, |r| r.number));
            if state.malformed_enrollments.contains(&i) {
                e["created_at"] = json!("yesterday-ish");
            }
            e
        })
        .collect();
    with_link(&Value::Array(body), &paged.link)
}

/// The enrollment of user `uid` in course `ci` whose progress is shown: the last one by id
/// that is not deleted.
fn progress_enrollment(state: &MockState, ci: usize, uid: i64) -> Option<usize> {
    let company = &state.company;
    state.by_course[ci]
        .iter()
        .copied()
        .filter(|&i| user_id(company, company.enrollments[i].person) == uid)
        .rfind(|&i| enrollment_state(company, i) != "deleted")
}

async fn bulk_progress(
    State(state): State<Arc<MockState>>,
    Path(course): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&headers, &query, false) {
        return refused;
    }
    let Some(ci) = find_course(&state, &course) else {
        return not_found().await;
    };
    let request = match page_request(&query) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let company = &state.company;
    let mut rows: Vec<(i64, usize)> = state.by_course[ci]
        .iter()
        .map(|&i| user_id(company, company.enrollments[i].person))
        .collect::<std::collections::BTreeSet<i64>>()
        .into_iter()
        .filter_map(|uid| Some((uid, progress_enrollment(&state, ci, uid)?)))
        .collect();
    rows.sort();
    let (ids, indices): (Vec<i64>, Vec<usize>) = rows.into_iter().unzip();
    let paged = paginate(
        &state,
        &uri,
        &headers,
        &request,
        &ids,
        &indices,
        "bulk_user_progress",
        false,
        false,
    );
    let base = api_base(&headers);
    let body: Vec<Value> = paged
        .range
        .clone()
        .map(|k| {
            let (uid, i) = (ids[k], indices[k]);
            let c = &company.contacts[company.enrollments[i].person];
            json!({
                "id": uid,
                "display_name": format!("{} {}", c.first_name, c.last_name),
                "avatar_image_url": format!("{base}/images/messages/avatar-50.png"),
                "html_url": format!("{base}/courses/{}/users/{uid}", course_id(company, ci)),
                "pronouns": null,
                "progress": progress_json(company, &base, i),
            })
        })
        .collect();
    with_link(&Value::Array(body), &paged.link)
}

async fn user_progress(
    State(state): State<Arc<MockState>>,
    Path((course, user)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&headers, &query, false) {
        return refused;
    }
    let Some(ci) = find_course(&state, &course) else {
        return not_found().await;
    };
    let Some(i) = user
        .parse::<i64>()
        .ok()
        .and_then(|uid| progress_enrollment(&state, ci, uid))
    else {
        return not_found().await;
    };
    let body = progress_json(&state.company, &api_base(&headers), i);
    respond::json(StatusCode::OK, CONTENT_TYPE, &body)
}

#[cfg(test)]
mod tests;
