//! A mock of Moodle's web services (REST protocol) serving a simulated [`Company`] as a Moodle
//! site, written from Moodle's documentation (`vendor-apis.md` §4, Moodle's external function
//! definitions): `GET` or form-encoded `POST` to `/webservice/rest/server.php` with `wstoken`,
//! `wsfunction` and `moodlewsrestformat=json` (without it the answer is Moodle's XML), and
//! PHP-style bracketed arrays (`options[0][name]=limitfrom`, `values[0]=…`).
//!
//! | `wsfunction` | answer |
//! |---|---|
//! | `core_webservice_get_site_info` | the site, the token's user and its functions |
//! | `core_course_get_courses` | every course including the front page (id 1); `options[ids][]` filters; level, kind, features, tags and passing grade in `customfields` |
//! | `core_course_get_courses_by_field` | `{courses, warnings}` by `field` = `id`, `ids`, `shortname`, `idnumber`, `category` (or none) |
//! | `core_enrol_get_enrolled_users` | a course's users in id order; options `limitfrom`/`limitnumber` (paging), `onlyactive`, `onlysuspended`, `userfields`; CRM ids in `idnumber` and profile fields |
//! | `core_enrol_get_users_courses` | a user's active enrolments with `progress`, `completed`, `lastaccess` |
//! | `core_completion_get_course_completion_status` | criteria and their `timecompleted`; `nocriteriaset` for the front page, `nottracked` for a learner without an active enrolment |
//! | `gradereport_user_get_grade_items` | grade items per user, the course total with `itemtype` `course` and `graderaw` |
//! | `core_user_get_users_by_field` | users by `id`, `idnumber`, `username` or `email`; `[]` when none match |
//! | `POST /login/token.php` | `{token, privatetoken}` for [`DEFAULT_USERNAME`]/[`DEFAULT_PASSWORD`] and service `moodle_mobile_app` or [`SERVICE`] |
//!
//! Errors answer **HTTP 200** with Moodle's exception body: `invalidtoken`,
//! `accessexception` (a real function outside the service), `invalidrecord` (an unknown
//! function, course or user), `invalidparameter` (a missing or malformed parameter, with
//! `debuginfo` naming it). Timestamps are Unix seconds, 0 when unset; booleans are `true`/
//! `false` in newer functions and `0`/`1` in older ones, as Moodle sends them.
//!
//! Faults: Moodle itself never rate-limits, so the kit's 429s come from a reverse proxy in
//! front of it (nginx's `limit_req`), as do 5xx pages — both as nginx's HTML bodies, never a
//! Moodle exception. `duplicates` shifts a course's enrolled-users listing by one after a page
//! (as an enrolment added mid-listing would), so the next page repeats that page's last user;
//! `mutate` changes users around each page (their `department`); `malformed` serves that many
//! users with a `firstaccess` that is not a timestamp.

mod params;
pub mod site;

use axum::{
    Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use params::Params;
use serde_json::{Value, json};
use site::{Site, course_id, user_id};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use tributary_mock_kit::{FaultInjector, Faults, ServedPage, VendorFaults, VendorMock, sample};
use tributary_sim::Company;

pub use site::SITE_COURSE_ID;

/// The web service token the mock accepts unless configured otherwise.
pub const DEFAULT_TOKEN: &str = "moodle-test-wstoken";

/// The user `login/token.php` issues [`DEFAULT_TOKEN`] to.
pub const DEFAULT_USERNAME: &str = "tributary";

/// That user's password.
pub const DEFAULT_PASSWORD: &str = "tributary-password";

/// The external service the token belongs to.
pub const SERVICE: &str = "tributary";

/// The functions the token's service allows.
pub const FUNCTIONS: [&str; 8] = [
    "core_webservice_get_site_info",
    "core_course_get_courses",
    "core_course_get_courses_by_field",
    "core_enrol_get_enrolled_users",
    "core_enrol_get_users_courses",
    "core_completion_get_course_completion_status",
    "gradereport_user_get_grade_items",
    "core_user_get_users_by_field",
];

/// Real Moodle functions the service does not include: `accessexception`.
const OTHER_FUNCTIONS: [&str; 5] = [
    "core_user_get_users",
    "core_course_search_courses",
    "core_completion_get_activities_completion_status",
    "core_enrol_get_course_enrolment_methods",
    "core_user_create_users",
];

const JSON: &str = "application/json";
const XML: &str = "application/xml; charset=utf-8";

/// One mock instance: the company, its site, the token and the fault injector.
#[derive(Clone)]
pub struct MoodleMock {
    state: Arc<MockState>,
}

struct MockState {
    company: Arc<Company>,
    site: Site,
    token: String,
    faults: FaultInjector,
    /// Users served with a malformed `firstaccess`.
    malformed: HashSet<usize>,
    /// `duplicates`: per enrolled-users listing (course and filter), the offsets from which it
    /// is shifted back by one more record.
    shifts: Mutex<BTreeMap<String, BTreeSet<u64>>>,
}

/// A Moodle exception, answered with HTTP 200.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    class: &'static str,
    errorcode: &'static str,
    message: String,
    debuginfo: Option<String>,
}

impl Exception {
    fn new(class: &'static str, errorcode: &'static str, message: impl Into<String>) -> Self {
        Self {
            class,
            errorcode,
            message: message.into(),
            debuginfo: None,
        }
    }

    fn invalid_parameter(debuginfo: impl Into<String>) -> Self {
        Self {
            debuginfo: Some(debuginfo.into()),
            ..Self::new(
                "invalid_parameter_exception",
                "invalidparameter",
                "Invalid parameter value detected",
            )
        }
    }

    fn missing_record(table: &str) -> Self {
        Self::new(
            "dml_missing_record_exception",
            "invalidrecord",
            format!("Can't find data record in database table {table}."),
        )
    }

    fn json(&self) -> Value {
        let mut v = json!({
            "exception": self.class, "errorcode": self.errorcode, "message": self.message,
        });
        if let Some(d) = &self.debuginfo {
            v["debuginfo"] = json!(d);
        }
        v
    }
}

type Answer = Result<Value, Exception>;

impl MoodleMock {
    /// A mock serving `company` with `faults`, accepting [`DEFAULT_TOKEN`].
    pub fn new(company: Arc<Company>, faults: Faults) -> Self {
        let site = Site::of(&company);
        let users: Vec<usize> = site
            .by_user
            .keys()
            .filter_map(|id| site.contact(*id))
            .collect();
        let malformed = sample(
            company.seed,
            "faults.malformed.users",
            users,
            faults.malformed_records,
        );
        let faults = FaultInjector::for_world(company.seed, company.today, faults);
        Self {
            state: Arc::new(MockState {
                company,
                site,
                token: DEFAULT_TOKEN.to_owned(),
                faults,
                malformed,
                shifts: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The site: every enrolment with its Moodle ids.
    pub fn site(&self) -> &Site {
        &self.state.site
    }

    /// The Moodle ids of the courses it serves (front page excluded), with `timemodified`.
    pub fn course_ids(&self) -> BTreeMap<u64, i64> {
        let company = &self.state.company;
        (0..company.courses.len())
            .map(|i| (course_id(i), company.courses[i].updated_at.timestamp()))
            .collect()
    }
}

impl VendorMock for MoodleMock {
    fn vendor(&self) -> &'static str {
        "moodle"
    }

    fn router(&self) -> Router {
        let routes = Router::new()
            .route("/webservice/rest/server.php", get(server).post(server))
            .route("/login/token.php", post(token).get(token))
            .fallback(not_found)
            .with_state(Arc::clone(&self.state));
        self.state.faults.wrap(routes, ReverseProxy)
    }

    fn credential_hint(&self) -> String {
        format!("wstoken={}", self.state.token)
    }

    fn faults(&self) -> &FaultInjector {
        &self.state.faults
    }
}

/// The reverse proxy in front of Moodle, which is what answers 429s and 5xx pages.
struct ReverseProxy;

fn nginx_page(status: StatusCode) -> Response {
    let line = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let body = format!(
        "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html"),
            (header::SERVER, "nginx"),
        ],
        body,
    )
        .into_response()
}

impl VendorFaults for ReverseProxy {
    fn rate_limited(&self) -> Response {
        nginx_page(StatusCode::TOO_MANY_REQUESTS)
    }

    fn server_error(&self, status: StatusCode) -> Response {
        nginx_page(status)
    }
}

async fn not_found() -> Response {
    nginx_page(StatusCode::NOT_FOUND)
}

/// `/login/token.php`: a token for the configured user and service.
async fn token(
    State(state): State<Arc<MockState>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let p = Params::parse(query.as_deref(), &body);
    let reply = if p.get("username") == Some(DEFAULT_USERNAME)
        && p.get("password") == Some(DEFAULT_PASSWORD)
    {
        match p.get("service") {
            Some(SERVICE) | Some("moodle_mobile_app") => {
                json!({ "token": state.token, "privatetoken": null })
            }
            _ => json!({
                "error": "Web service is not available (it doesn't exist or might be disabled)",
                "errorcode": "servicenotavailable", "stacktrace": null, "debuginfo": null,
                "reproductionlink": null,
            }),
        }
    } else {
        json!({
            "error": "Invalid login, please try again", "errorcode": "invalidlogin",
            "stacktrace": null, "debuginfo": null, "reproductionlink": null,
        })
    };
    tributary_mock_kit::respond::json(StatusCode::OK, JSON, &reply)
}

/// `/webservice/rest/server.php`, GET or POST.
async fn server(
    State(state): State<Arc<MockState>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let p = Params::parse(query.as_deref(), &body);
    let as_json = p.get("moodlewsrestformat") == Some("json");
    let answer = if p.get("wstoken") != Some(state.token.as_str()) {
        Err(Exception::new(
            "moodle_exception",
            "invalidtoken",
            "Invalid token - token not found",
        ))
    } else {
        call(&state, p.get("wsfunction").unwrap_or_default(), &p)
    };
    let body = match answer {
        Ok(v) => v,
        Err(e) if as_json => e.json(),
        Err(e) => return xml_response(&xml_exception(&e)),
    };
    if as_json {
        tributary_mock_kit::respond::json(StatusCode::OK, JSON, &body)
    } else {
        xml_response(&xml_reply(&body))
    }
}

fn call(state: &MockState, function: &str, p: &Params) -> Answer {
    match function {
        "core_webservice_get_site_info" => Ok(site_info(state)),
        "core_course_get_courses" => courses(state, p),
        "core_course_get_courses_by_field" => courses_by_field(state, p),
        "core_enrol_get_enrolled_users" => enrolled_users(state, p),
        "core_enrol_get_users_courses" => users_courses(state, p),
        "core_completion_get_course_completion_status" => completion_status(state, p),
        "gradereport_user_get_grade_items" => grade_items(state, p),
        "core_user_get_users_by_field" => users_by_field(state, p),
        f if OTHER_FUNCTIONS.contains(&f) => Err(Exception {
            debuginfo: Some(format!(
                "Access to the function {f}() is not allowed. There could be multiple reasons for this: 1. The service linked to the user token does not contain the function. 2. The service is user-restricted and the user is not listed. 3. The service is IP-restricted and the user IP is not listed. 4. The service is time-restricted and the time has expired. 5. The token is time-restricted and the time has expired. 6. The user has a capability missing. 7. The function is called with username/password (no user token is sent) and the user is not allowed to use web services."
            )),
            ..Exception::new(
                "webservice_access_exception",
                "accessexception",
                "Access control exception",
            )
        }),
        _ => Err(Exception::missing_record("external_functions")),
    }
}

/// A required integer parameter.
fn int(p: &Params, name: &str) -> Result<i64, Exception> {
    match p.get(name) {
        None => Err(Exception::invalid_parameter(format!(
            "Missing required key in single structure: {name}"
        ))),
        Some(v) => v.trim().parse().map_err(|_| {
            Exception::invalid_parameter(format!(
                "{name} => Invalid parameter value detected (Invalid external api parameter: the value is \"{v}\", the server was expecting \"int\" type)"
            ))
        }),
    }
}

fn id_param(p: &Params, name: &str) -> Result<u64, Exception> {
    let v = int(p, name)?;
    u64::try_from(v).map_err(|_| {
        Exception::invalid_parameter(format!("{name} => Invalid parameter value detected"))
    })
}

fn site_info(state: &MockState) -> Value {
    json!({
        "sitename": "Customer Academy", "username": DEFAULT_USERNAME, "firstname": "Tributary",
        "lastname": "Sync", "fullname": "Tributary Sync", "lang": "en", "userid": 2,
        "siteurl": "https://moodle.example", "userpictureurl": "https://moodle.example/theme/image.php/boost/core/1/u/f1",
        "functions": FUNCTIONS.iter().map(|f| json!({ "name": f, "version": "2023100900" })).collect::<Vec<_>>(),
        "downloadfiles": 0, "uploadfiles": 0, "release": "4.3 (Build: 20231009)",
        "version": "2023100900", "mobilecssurl": "", "advancedfeatures": [
            { "name": "usecomments", "value": 1 }, { "name": "enablecompletion", "value": 1 },
        ],
        "usercanmanageownfiles": true, "userquota": 104857600, "usermaxuploadfilesize": -1,
        "userhomepage": 1, "userprivateaccesskey": format!("{:x}", state.company.seed),
        "siteid": SITE_COURSE_ID, "sitecalendartype": "gregorian", "usercalendartype": "gregorian",
        "userissiteadmin": false, "theme": "boost", "limitconcurrentlogins": 0,
    })
}

fn course(state: &MockState, id: u64) -> Option<Value> {
    if id == SITE_COURSE_ID {
        return Some(site::site_course_json(&state.company));
    }
    state
        .site
        .course(id)
        .map(|i| site::course_json(&state.company, i))
}

fn courses(state: &MockState, p: &Params) -> Answer {
    let ids = p.list("options[ids]");
    if ids.is_empty() {
        let all = (0..state.company.courses.len()).map(|i| site::course_json(&state.company, i));
        return Ok(Value::Array(
            std::iter::once(site::site_course_json(&state.company))
                .chain(all)
                .collect(),
        ));
    }
    let mut out = Vec::new();
    for id in ids {
        let id: u64 = id.parse().map_err(|_| {
            Exception::invalid_parameter(format!(
                "options => Invalid parameter value detected: ids => {id}"
            ))
        })?;
        out.push(course(state, id).ok_or_else(|| Exception::missing_record("course"))?);
    }
    Ok(Value::Array(out))
}

fn courses_by_field(state: &MockState, p: &Params) -> Answer {
    let field = p.get("field").unwrap_or_default();
    let value = p.get("value").unwrap_or_default();
    let all = (0..state.company.courses.len()).map(|i| (i, site::course_json(&state.company, i)));
    let matches = |(_, c): &(usize, Value)| -> bool {
        let text = |k: &str| {
            c[k].as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| c[k].to_string())
        };
        match field {
            "" => true,
            "id" | "category" => text(if field == "id" { "id" } else { "categoryid" }) == value,
            "ids" => value.split(',').any(|v| v.trim() == text("id")),
            "shortname" | "idnumber" => text(field) == value,
            _ => false,
        }
    };
    if !["", "id", "ids", "shortname", "idnumber", "category"].contains(&field) {
        return Err(Exception::invalid_parameter(format!(
            "Invalid field name: {field}"
        )));
    }
    let courses: Vec<Value> = all.filter(matches).map(|(_, c)| c).collect();
    Ok(json!({ "courses": courses, "warnings": [] }))
}

fn flag(options: &BTreeMap<&str, &str>, name: &str) -> Result<bool, Exception> {
    match options.get(name).map(|v| v.trim()) {
        None | Some("0") | Some("false") | Some("") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some(v) => Err(Exception::invalid_parameter(format!(
            "options => Invalid parameter value detected ({name}: {v})"
        ))),
    }
}

fn number(options: &BTreeMap<&str, &str>, name: &str) -> Result<u64, Exception> {
    match options.get(name) {
        None => Ok(0),
        Some(v) => v.trim().parse().map_err(|_| {
            Exception::invalid_parameter(format!(
                "options => Invalid parameter value detected ({name}: {v})"
            ))
        }),
    }
}

fn enrolled_users(state: &MockState, p: &Params) -> Answer {
    let id = id_param(p, "courseid")?;
    let options = p.options();
    let onlyactive = flag(&options, "onlyactive")?;
    let onlysuspended = flag(&options, "onlysuspended")?;
    if onlyactive && onlysuspended {
        return Err(Exception::new(
            "coding_exception",
            "codingerror",
            "Coding error detected, it must be fixed by a programmer: Both onlyactive and onlysuspended are set, this is probably not what you want!",
        ));
    }
    let limitfrom = number(&options, "limitfrom")?;
    let limitnumber = number(&options, "limitnumber")?;
    let descending = match options.get("sortdirection").map(|s| s.to_ascii_uppercase()) {
        None => false,
        Some(d) if d == "ASC" => false,
        Some(d) if d == "DESC" => true,
        Some(d) => {
            return Err(Exception::invalid_parameter(format!(
                "Invalid sort direction parameter: {d}"
            )));
        }
    };
    let userfields: Option<Vec<&str>> = options.get("userfields").map(|f| {
        f.split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect()
    });
    if id == SITE_COURSE_ID {
        return Ok(json!([]));
    }
    let Some(course) = state.site.course(id) else {
        return Err(Exception::missing_record("course"));
    };
    let company = &state.company;
    let mut users: Vec<u64> = state.site.by_course[course]
        .iter()
        .copied()
        .filter(|u| {
            let active = state.site.enrolments[&(*u, id)].active(company);
            (!onlyactive || active) && (!onlysuspended || !active)
        })
        .collect();
    if descending {
        users.reverse();
    }
    let total = users.len() as u64;
    let listing = format!("{id}:{onlyactive}:{onlysuspended}:{descending}");
    let shift = {
        let shifts = state.shifts.lock().unwrap_or_else(PoisonError::into_inner);
        shifts
            .get(&listing)
            .map_or(0, |s| s.range(..=limitfrom).count() as u64)
    };
    let start = limitfrom.saturating_sub(shift).min(total);
    let end = if limitnumber == 0 {
        total
    } else {
        (start + limitnumber).min(total)
    };
    let page = &users[start as usize..end as usize];
    let upcoming_end = if limitnumber == 0 {
        end
    } else {
        (end + limitnumber).min(total)
    };
    let upcoming = &users[end as usize..upcoming_end as usize];
    let contacts =
        |ids: &[u64]| -> Vec<usize> { ids.iter().filter_map(|u| state.site.contact(*u)).collect() };
    let (indices, next) = (contacts(page), contacts(upcoming));
    let last_id = page.last().map(u64::to_string);
    let page_key = format!("{listing}:{limitfrom}");
    let repeat = state.faults.page_served(ServedPage {
        stream: &listing,
        page: &indices,
        upcoming: &next,
        last_id: last_id.as_deref(),
        has_next: end < total,
        mutate: Some(("users", &page_key)),
    });
    if repeat && limitnumber > 0 {
        state
            .shifts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(listing)
            .or_default()
            .insert(limitfrom + limitnumber);
    }
    let out: Vec<Value> = page
        .iter()
        .filter_map(|u| {
            let contact = state.site.contact(*u)?;
            let mut v = user_json(state, contact);
            let e = &state.site.enrolments[&(*u, id)];
            v["lastcourseaccess"] = json!(e.last_access(company));
            v["groups"] = json!([]);
            v["roles"] =
                json!([{ "roleid": 5, "name": "", "shortname": "student", "sortorder": 0 }]);
            v["enrolledcourses"] = Value::Array(
                state.site.by_user[u]
                    .iter()
                    .filter(|c| state.site.enrolments[&(*u, **c)].active(company))
                    .filter_map(|c| {
                        let i = state.site.course(*c)?;
                        let course = &company.courses[i];
                        Some(json!({ "id": c, "fullname": course.title, "shortname": course.code }))
                    })
                    .collect(),
            );
            if let (Some(fields), Value::Object(map)) = (&userfields, &mut v) {
                map.retain(|k, _| k == "id" || fields.contains(&k.as_str()));
            }
            Some(v)
        })
        .collect();
    Ok(Value::Array(out))
}

/// A user description, changed by `mutate` and broken by `malformed`.
fn user_json(state: &MockState, contact: usize) -> Value {
    let revision = state
        .faults
        .revision("users", contact)
        .map_or(0, |r| r.number);
    let mut v = site::user_json(&state.company, &state.site, contact, revision);
    if state.malformed.contains(&contact) {
        v["firstaccess"] = json!("never");
    }
    v
}

fn users_courses(state: &MockState, p: &Params) -> Answer {
    let user = id_param(p, "userid")?;
    let with_count = matches!(p.get("returnusercount"), Some("1") | Some("true"));
    let Some(courses) = state.site.by_user.get(&user) else {
        return if user == 2 {
            Ok(json!([]))
        } else {
            Err(Exception::missing_record("user"))
        };
    };
    let company = &state.company;
    let out: Vec<Value> = courses
        .iter()
        .map(|c| &state.site.enrolments[&(user, *c)])
        .filter(|e| e.active(company))
        .map(|e| {
            let count = with_count.then(|| state.site.by_course[e.course].len());
            site::users_course_json(company, e, count)
        })
        .collect();
    Ok(Value::Array(out))
}

fn completion_status(state: &MockState, p: &Params) -> Answer {
    let course = id_param(p, "courseid")?;
    let user = id_param(p, "userid")?;
    if course == SITE_COURSE_ID {
        return Err(Exception::new(
            "moodle_exception",
            "nocriteriaset",
            "No criteria set for this course",
        ));
    }
    if state.site.course(course).is_none() {
        return Err(Exception::missing_record("course"));
    }
    if state.site.contact(user).is_none() {
        return Err(Exception::missing_record("user"));
    }
    match state.site.enrolments.get(&(user, course)) {
        Some(e) if e.active(&state.company) => Ok(site::completion_json(&state.company, e)),
        _ => Err(Exception::new(
            "moodle_exception",
            "nottracked",
            "You are currently not being tracked by completion in this course",
        )),
    }
}

fn grade_items(state: &MockState, p: &Params) -> Answer {
    let course = id_param(p, "courseid")?;
    let user = match p.get("userid") {
        None => 0,
        Some(_) => id_param(p, "userid")?,
    };
    let Some(index) = state.site.course(course) else {
        return Err(Exception::missing_record("course"));
    };
    let company = &state.company;
    let users: Vec<u64> = if user == 0 {
        state.site.by_course[index].clone()
    } else {
        vec![user]
    };
    let mut warnings = Vec::new();
    let mut grades = Vec::new();
    for u in users {
        match state.site.enrolments.get(&(u, course)) {
            Some(e) if e.active(company) => grades.push(site::user_grades_json(company, e)),
            Some(_) => {}
            None => warnings.push(json!({
                "item": "user", "itemid": u, "warningcode": "notenrolled",
                "message": "The user is not enrolled in this course",
            })),
        }
    }
    Ok(json!({ "usergrades": grades, "warnings": warnings }))
}

fn users_by_field(state: &MockState, p: &Params) -> Answer {
    let field = p.get("field").ok_or_else(|| {
        Exception::invalid_parameter("Missing required key in single structure: field")
    })?;
    if !["id", "idnumber", "username", "email"].contains(&field) {
        return Err(Exception::invalid_parameter(format!(
            "field => Invalid parameter value detected (the field {field} is not allowed)"
        )));
    }
    let values = p.list("values");
    let company = &state.company;
    let out: Vec<Value> = state
        .site
        .by_user
        .keys()
        .filter_map(|id| state.site.contact(*id))
        .filter(|&i| {
            let c = &company.contacts[i];
            values.iter().any(|v| match field {
                "id" => v.trim() == user_id(i).to_string(),
                "idnumber" => *v == c.id,
                _ => v.eq_ignore_ascii_case(&c.email),
            })
        })
        .map(|i| user_json(state, i))
        .collect();
    Ok(Value::Array(out))
}

fn xml_response(body: &str) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, XML)],
        body.to_owned(),
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Moodle's REST XML: `<RESPONSE>` around `<MULTIPLE>` (lists), `<SINGLE>` with `<KEY
/// name="…">` (structures) and `<VALUE>` (scalars; `null="null"` for null).
fn xml_reply(v: &Value) -> String {
    fn node(v: &Value, out: &mut String) {
        match v {
            Value::Array(items) => {
                out.push_str("<MULTIPLE>\n");
                for item in items {
                    node(item, out);
                }
                out.push_str("</MULTIPLE>\n");
            }
            Value::Object(map) => {
                out.push_str("<SINGLE>\n");
                for (k, v) in map {
                    out.push_str(&format!("<KEY name=\"{}\">", escape(k)));
                    node(v, out);
                    out.push_str("</KEY>\n");
                }
                out.push_str("</SINGLE>\n");
            }
            Value::Null => out.push_str("<VALUE null=\"null\"/>"),
            Value::Bool(b) => out.push_str(&format!("<VALUE>{}</VALUE>", u8::from(*b))),
            Value::Number(n) => out.push_str(&format!("<VALUE>{n}</VALUE>")),
            Value::String(s) => out.push_str(&format!("<VALUE>{}</VALUE>", escape(s))),
        }
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<RESPONSE>\n");
    node(v, &mut out);
    out.push_str("</RESPONSE>\n");
    out
}

fn xml_exception(e: &Exception) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<EXCEPTION class=\"{}\">\n<ERRORCODE>{}</ERRORCODE>\n<MESSAGE>{}</MESSAGE>\n",
        e.class,
        escape(e.errorcode),
        escape(&e.message)
    );
    if let Some(d) = &e.debuginfo {
        out.push_str(&format!("<DEBUGINFO>{}</DEBUGINFO>\n", escape(d)));
    }
    out.push_str("</EXCEPTION>\n");
    out
}

#[cfg(test)]
mod tests;
