//! The Canvas LMS connector: the courses of an account, its users (learners, with the CRM ids
//! Canvas keeps in `sis_user_id`/`integration_id` as identity hints) and the student
//! enrollments of every course, with grades, activity and completion.
//!
//! The API it speaks (`vendor-apis.md` §3; <https://canvas.instructure.com/doc/api/>):
//! `GET /api/v1/accounts/:account_id/courses`, `GET /api/v1/accounts/:account_id/users`
//! (`include[]=email`), and per course `GET /api/v1/courses/:id/enrollments` (every state asked
//! for explicitly: Canvas's default is active + invited only) and
//! `GET /api/v1/courses/:id/bulk_user_progress` (module progress, the only place Canvas
//! records when a learner completed a course); bearer token; `per_page` and the `Link`
//! header's `rel="next"` (RFC 8288, URLs opaque: page numbers or bookmarks).
//!
//! How a read goes, all on the SDK's pull driver ([`tributary_connector::pull`]):
//! - **Full refresh only.** Canvas offers no change filter on any of these lists (courses have
//!   no `updated_at`; users and enrollments cannot be filtered by it), so every run reads
//!   everything; the engine writes only what changed (content hash) and its sweep after the
//!   read deletes what Canvas no longer lists (`DeleteStrategy::KeyDiff`).
//! - The state between pages is the `rel="next"` URL (Canvas's page numbers and bookmarks stay
//!   valid, and carry no credentials), and for enrollments the course being read: a run cut
//!   off resumes at the page it had reached.
//! - Throttling: Canvas answers a drained rate bucket with `403 Forbidden (Rate Limit
//!   Exceeded)` (plain text), newer instances with 429. A quota observer classifies that 403
//!   as a throttle ([`tributary_connector::QuotaVerdict::Throttled`]), so the HTTP client
//!   retries it with backoff; any other 403 stays an auth failure. The observer also logs
//!   `X-Rate-Limit-Remaining` when the bucket runs low.
//!
//! What it must not do: open its own HTTP client, read the environment, sleep, retry, log the
//! token, panic on vendor data, or know the store, GraphQL or the simulator.

mod mapping;

use async_stream::try_stream;
use async_trait::async_trait;
use futures::stream::BoxStream;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tributary_connector::learning::CourseCatalog;
use tributary_connector::pull::{
    self, Emitter, MapPage, Mapped, Page, PageSource, Phase, PullState, Start, StreamDecl,
};
use tributary_connector::{
    Auth, Connector, ConnectorContext, ConnectorError, ConnectorKind, Declared, DeleteStrategy,
    ObservedResponse, QuotaVerdict, ReadItem, StreamSpec, StreamState, SyncMode, check_endpoint,
    check_range, header_text,
};
use tributary_model::{EntityKind, IdentityHintKind};

pub use mapping::{passed_grade, record_id};

/// The connector kind in `tributary.toml`.
pub const KIND: &str = "canvas";

/// The largest page Canvas serves (it caps larger `per_page` values silently).
pub const MAX_PER_PAGE: u32 = 100;

/// `X-Rate-Limit-Remaining` below which the observer warns.
pub const LOW_BUCKET: f64 = 100.0;

/// Configuration of one Canvas connector instance: `[connectors.<name>]` with
/// `kind = "canvas"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CanvasConfig {
    /// The Canvas instance, e.g. `https://school.instructure.com` (without `/api/v1`).
    pub endpoint: String,
    /// An access token of an account admin, sent as `Authorization: Bearer`. Write it as
    /// `{ env = "CANVAS_ACCESS_TOKEN" }`; the binary resolves it before this struct is built.
    pub access_token: SecretString,
    /// The account whose courses and users are read: `self` (the token's root account), a
    /// numeric id or `sis_account_id:…`.
    pub account_id: String,
    /// Records per request (`per_page`), 1 to 100.
    pub per_page: u32,
    /// Which user fields carry which identity (`sis_user_id = "crm_contact_id"`); the
    /// default reads the CRM contact id from `sis_user_id` and the CRM account id from
    /// `integration_id`. Fields: `sis_user_id`, `integration_id`, `login_id`, `email`.
    pub hints: BTreeMap<String, IdentityHintKind>,
    /// Course metadata Canvas does not record (kind, level, tags, features), by course id,
    /// SIS course id or course code.
    pub courses: CourseCatalog,
}

/// The user fields a hint may name.
pub const HINT_FIELDS: [&str; 4] = ["sis_user_id", "integration_id", "login_id", "email"];

impl Default for CanvasConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            access_token: SecretString::default(),
            account_id: "self".to_owned(),
            per_page: MAX_PER_PAGE,
            hints: BTreeMap::from([
                ("sis_user_id".to_owned(), IdentityHintKind::CrmContactId),
                ("integration_id".to_owned(), IdentityHintKind::CrmAccountId),
            ]),
            courses: CourseCatalog::default(),
        }
    }
}

impl CanvasConfig {
    /// Checks every value; the message names the key.
    pub fn validate(&self, instance: &str) -> Result<(), ConnectorError> {
        let fail = |message: String| ConnectorError::config(instance, message);
        check_endpoint(&self.endpoint).map_err(fail)?;
        check_range("per_page", self.per_page.into(), 1..=MAX_PER_PAGE.into()).map_err(fail)?;
        if self.access_token.expose_secret().trim().is_empty() {
            return Err(fail("access_token is required".to_owned()));
        }
        let account = self.account_id.trim();
        if account.is_empty() || account.contains(['/', '?', '#']) {
            return Err(fail(format!(
                "account_id must be `self`, a number or `sis_account_id:…`, not {account:?}"
            )));
        }
        if let Some(field) = self
            .hints
            .keys()
            .find(|f| !HINT_FIELDS.contains(&f.as_str()))
        {
            return Err(fail(format!(
                "hints.{field} is not a Canvas user field that carries an identity (one of {})",
                HINT_FIELDS.join(", ")
            )));
        }
        self.courses.validate("courses").map_err(fail)?;
        Ok(())
    }
}

/// The Canvas connector kind.
pub struct CanvasKind;

/// Canvas's entry in a registry of kinds (the binary's `src/registry.rs`).
pub static DECLARATION: Declared<CanvasKind> = Declared::new();

impl ConnectorKind for CanvasKind {
    type Config = CanvasConfig;
    const NAME: &'static str = KIND;
    const SUMMARY: &'static str =
        "Canvas LMS: courses, users and student enrollments with grades and completion";
    const AUTH: &'static [&'static str] = &["access token (bearer)"];

    fn streams() -> Vec<StreamSpec> {
        STREAMS.iter().map(StreamDecl::spec).collect()
    }

    fn auth(config: &CanvasConfig, instance: &str) -> Result<Auth, ConnectorError> {
        config.validate(instance)?;
        Ok(Auth::Bearer(config.access_token.clone()))
    }

    fn build(
        config: CanvasConfig,
        mut cx: ConnectorContext,
    ) -> Result<Box<dyn Connector>, ConnectorError> {
        config.validate(&cx.instance)?;
        cx.http = cx.http.with_quota_observer(throttle_observer);
        Ok(Box::new(CanvasConnector {
            base: config.endpoint.trim_end_matches('/').to_owned(),
            ctx: cx,
            config,
        }))
    }
}

/// Canvas's throttle is a 403 whose body says `Rate Limit Exceeded` (a real permission 403
/// has a JSON `errors` body): retried like a 429. Also warns as the bucket runs low.
pub fn throttle_observer(r: &ObservedResponse<'_>) -> QuotaVerdict {
    if let Some(remaining) =
        header_text(r.headers, "x-rate-limit-remaining").and_then(|v| v.parse::<f64>().ok())
        && remaining < LOW_BUCKET
    {
        tracing::debug!(url = r.url, remaining, "Canvas rate bucket running low");
    }
    let throttled = r.status.as_u16() == 403
        && String::from_utf8_lossy(r.body)
            .to_ascii_lowercase()
            .contains("rate limit exceeded");
    if throttled {
        QuotaVerdict::Throttled
    } else {
        QuotaVerdict::Continue
    }
}

/// The streams, in sync order: courses and users before the enrollments that reference them.
static STREAMS: [StreamDecl<()>; 3] = [
    StreamDecl {
        name: "courses",
        entity: EntityKind::Course,
        cursor_field: None,
        modes: &[SyncMode::FullRefresh],
        delete_strategy: DeleteStrategy::KeyDiff,
        vendor: (),
    },
    StreamDecl {
        name: "users",
        entity: EntityKind::Person,
        cursor_field: None,
        modes: &[SyncMode::FullRefresh],
        delete_strategy: DeleteStrategy::KeyDiff,
        vendor: (),
    },
    StreamDecl {
        name: "enrollments",
        entity: EntityKind::Enrollment,
        cursor_field: None,
        modes: &[SyncMode::FullRefresh],
        delete_strategy: DeleteStrategy::KeyDiff,
        vendor: (),
    },
];

/// Every enrollment state, asked for explicitly (Canvas's default is active + invited).
const ENROLLMENT_STATES: [&str; 7] = [
    "active",
    "invited",
    "creation_pending",
    "completed",
    "inactive",
    "deleted",
    "rejected",
];

/// A configured Canvas connector instance.
#[derive(Debug)]
pub struct CanvasConnector {
    ctx: ConnectorContext,
    config: CanvasConfig,
    base: String,
}

/// The saved state of a cut-off read: the next page's URL, and for enrollments the course it
/// belongs to. Empty between runs (every run is a full refresh).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    /// The course whose enrollments are being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course: Option<i64>,
    /// The `rel="next"` URL of the page to read next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl PullState for LinkState {
    fn is_incremental(&self) -> bool {
        false
    }
}

impl CanvasConnector {
    fn api(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.base)
    }

    fn account(&self) -> &str {
        self.config.account_id.trim()
    }

    fn per_page(&self) -> (&'static str, String) {
        ("per_page", self.config.per_page.to_string())
    }

    /// A saved or served next-page URL, refused unless it is on the configured instance: the
    /// bearer token must not follow a link elsewhere.
    fn checked_next(&self, url: &str, next: String) -> Result<String, ConnectorError> {
        let same_origin = next
            .strip_prefix(&self.base)
            .is_some_and(|rest| rest.starts_with('/'));
        if same_origin {
            Ok(next)
        } else {
            Err(ConnectorError::Decode {
                url: url.to_owned(),
                message: "the `Link: rel=\"next\"` URL is not on the configured endpoint"
                    .to_owned(),
            })
        }
    }

    /// One page: `next` when resuming, else `first` with `query`; the records and the next URL.
    async fn page(
        &self,
        first: &str,
        query: &[(&str, String)],
        next: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let response = match next {
            Some(url) => self.ctx.http.get_json(url, &[]).await?,
            None => self.ctx.http.get_json(first, query).await?,
        };
        let shown = next.unwrap_or(first);
        let records = match response.body {
            Value::Array(records) => records,
            _ => {
                return Err(ConnectorError::Decode {
                    url: shown.to_owned(),
                    message: "a list page is not a JSON array".to_owned(),
                });
            }
        };
        let following = pull::link_next(&response.headers)
            .map(|n| self.checked_next(shown, n))
            .transpose()?;
        if following.as_deref().is_some_and(|f| Some(f) == next) {
            return Err(ConnectorError::Decode {
                url: shown.to_owned(),
                message: "the `Link: rel=\"next\"` URL did not advance".to_owned(),
            });
        }
        Ok((records, following))
    }

    /// The ids of the account's courses, ascending (every page, not resumable: it is small).
    async fn course_ids(&self) -> Result<Vec<i64>, ConnectorError> {
        let first = self.api(&format!("accounts/{}/courses", self.account()));
        let query = [self.per_page()];
        let mut ids = Vec::new();
        let mut next = None;
        loop {
            let (records, following) = self.page(&first, &query, next.as_deref()).await?;
            ids.extend(
                records
                    .iter()
                    .filter_map(|r| r.get("id").and_then(Value::as_i64)),
            );
            match following {
                Some(f) => next = Some(f),
                None => break,
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The module progress of every student of `course`: user id → progress object.
    async fn progress(&self, course: i64) -> Result<HashMap<String, Value>, ConnectorError> {
        let first = self.api(&format!("courses/{course}/bulk_user_progress"));
        let query = [self.per_page()];
        let mut out = HashMap::new();
        let mut next = None;
        loop {
            let (records, following) = self.page(&first, &query, next.as_deref()).await?;
            for r in records {
                if let (Some(id), Some(progress)) = (record_id(&r), r.get("progress")) {
                    out.insert(id, progress.clone());
                }
            }
            match following {
                Some(f) => next = Some(f),
                None => return Ok(out),
            }
        }
    }
}

#[async_trait]
impl Connector for CanvasConnector {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn instance(&self) -> &str {
        &self.ctx.instance
    }

    /// Reads the account: the token must be valid and an admin's.
    async fn check(&self) -> Result<(), ConnectorError> {
        let url = self.api(&format!("accounts/{}", self.account()));
        self.ctx.http.get_json(&url, &[]).await.map(|_| ())
    }

    fn streams(&self) -> Vec<StreamSpec> {
        CanvasKind::streams()
    }

    fn read<'a>(
        &'a self,
        stream: &'a StreamSpec,
        mode: SyncMode,
        state: Option<StreamState>,
    ) -> BoxStream<'a, Result<ReadItem, ConnectorError>> {
        Box::pin(try_stream! {
            let decl = StreamDecl::lookup(&STREAMS, &stream.name, KIND, &self.ctx.instance)?;
            let mode = decl.mode(mode);
            let mut cursor = match pull::start::<LinkState>(decl.name, mode, state) {
                Start::Resume(s) => s,
                Start::Fresh => LinkState::default(),
            };
            // A saved link to another host (the endpoint was changed since): start over.
            if let Some(next) = cursor.next.take() {
                match self.checked_next("saved stream state", next) {
                    Ok(next) => cursor.next = Some(next),
                    Err(_) => {
                        tracing::info!(stream = decl.name, "saved page link is not on the endpoint; starting over");
                        cursor = LinkState::default();
                    }
                }
            }
            let emit = Emitter {
                system: KIND,
                instance: &self.ctx.instance,
                stream: decl.name,
                incremental: false,
            };
            let mapper = Mapper { conn: self, stream: decl.name, emit };
            let phase = Phase {
                vendor: KIND,
                stream: decl.name,
                name: "listing",
                state: &mut cursor,
                tally: None,
            };
            match decl.name {
                "enrollments" => {
                    let mut source = Enrollments { conn: self, courses: None, progress: None };
                    for await item in pull::read_pages(phase, &mut source, &mapper) {
                        yield item?;
                    }
                }
                name => {
                    let (path, query) = if name == "courses" {
                        (format!("accounts/{}/courses", self.account()), vec![
                            self.per_page(),
                        ])
                    } else {
                        (format!("accounts/{}/users", self.account()), vec![
                            self.per_page(),
                            ("include[]", "email".to_owned()),
                        ])
                    };
                    let mut source = Listing { conn: self, first: self.api(&path), query };
                    for await item in pull::read_pages(phase, &mut source, &mapper) {
                        yield item?;
                    }
                }
            }
            yield pull::finish(SyncMode::FullRefresh, Some(StreamState(Value::Null)));
        })
    }
}

/// A raw record and, for an enrollment, the learner's progress in its course.
type Raw = (Value, Option<Arc<Value>>);

struct Mapper<'a> {
    conn: &'a CanvasConnector,
    stream: &'static str,
    emit: Emitter<'a>,
}

#[async_trait]
impl MapPage<Raw> for Mapper<'_> {
    async fn map_page(&self, records: Vec<Raw>) -> Result<Vec<Mapped>, ConnectorError> {
        let config = &self.conn.config;
        Ok(records
            .into_iter()
            .map(|(raw, progress)| {
                mapping::map_record(
                    self.stream,
                    &self.emit,
                    raw,
                    &config.courses,
                    &config.hints,
                    progress.as_deref(),
                )
            })
            .collect())
    }
}

/// The pages of one account-level listing (courses, users).
struct Listing<'a> {
    conn: &'a CanvasConnector,
    first: String,
    query: Vec<(&'static str, String)>,
}

#[async_trait]
impl PageSource<LinkState> for Listing<'_> {
    type Raw = Raw;

    async fn next_page(&mut self, state: &mut LinkState) -> Result<Page<Raw>, ConnectorError> {
        let (records, next) = self
            .conn
            .page(&self.first, &self.query, state.next.as_deref())
            .await?;
        state.next = next;
        let more = state.next.is_some();
        Ok(Page::new(
            records.into_iter().map(|r| (r, None)).collect(),
            more,
        ))
    }
}

/// A listing of a course that is gone (404: deleted since the course list was read) as an
/// empty one.
fn gone_is_empty<T: Default>(result: Result<T, ConnectorError>) -> Result<T, ConnectorError> {
    match result {
        Err(ConnectorError::Http {
            status: 404, url, ..
        }) => {
            tracing::info!(url, "course gone while reading it; going on with the next");
            Ok(T::default())
        }
        other => other,
    }
}

/// The enrollments of every course, course by course (ascending id), each course's module
/// progress read before its enrollments.
struct Enrollments<'a> {
    conn: &'a CanvasConnector,
    /// The account's course ids, read once per run.
    courses: Option<Vec<i64>>,
    /// The progress of the course being read: (course, user id → progress).
    progress: Option<(i64, HashMap<String, Arc<Value>>)>,
}

#[async_trait]
impl PageSource<LinkState> for Enrollments<'_> {
    type Raw = Raw;

    async fn next_page(&mut self, state: &mut LinkState) -> Result<Page<Raw>, ConnectorError> {
        let conn = self.conn;
        if self.courses.is_none() {
            self.courses = Some(conn.course_ids().await?);
        }
        let courses = self.courses.as_deref().unwrap_or_default();
        // The course to read: the saved one (or the first after it, if it is gone).
        let Some(&course) = courses
            .iter()
            .find(|&&c| state.course.is_none_or(|saved| c >= saved))
        else {
            *state = LinkState::default();
            return Ok(Page::new(Vec::new(), false));
        };
        if state.course != Some(course) {
            state.next = None;
        }
        state.course = Some(course);
        if self.progress.as_ref().is_none_or(|(c, _)| *c != course) {
            let progress = gone_is_empty(conn.progress(course).await)?;
            let progress = progress
                .into_iter()
                .map(|(k, v)| (k, Arc::new(v)))
                .collect();
            self.progress = Some((course, progress));
        }
        let first = conn.api(&format!("courses/{course}/enrollments"));
        let mut query = vec![conn.per_page(), ("type[]", "StudentEnrollment".to_owned())];
        query.extend(
            ENROLLMENT_STATES
                .iter()
                .map(|s| ("state[]", (*s).to_owned())),
        );
        // A course deleted since the course list was read has no enrollments left to read.
        let (records, next) =
            gone_is_empty(conn.page(&first, &query, state.next.as_deref()).await)?;
        let progress = self.progress.as_ref().map(|(_, p)| p);
        let records = records
            .into_iter()
            .map(|r| {
                let mine = r
                    .get("user_id")
                    .and_then(tributary_connector::map::id_text)
                    .and_then(|u| progress.and_then(|p| p.get(&u)).cloned());
                (r, mine)
            })
            .collect();
        let more = match next {
            Some(next) => {
                state.next = Some(next);
                true
            }
            None => match courses.iter().find(|&&c| c > course) {
                Some(&following) => {
                    *state = LinkState {
                        course: Some(following),
                        next: None,
                    };
                    true
                }
                None => {
                    *state = LinkState::default();
                    false
                }
            },
        };
        Ok(Page::new(records, more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_connector::{HttpClient, HttpClientConfig};

    /// The commented Canvas section of `tributary.example.toml`, uncommented.
    fn example_section() -> serde_json::Value {
        let example = include_str!("../../../tributary.example.toml");
        let start = example
            .find("# [connectors.canvas-lms]")
            .expect("the example has a Canvas section");
        let text: String = example[start..]
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
            .collect::<Vec<_>>()
            .join("\n");
        let parsed: toml::Table = toml::from_str(&text).expect("the section is TOML");
        let mut section = serde_json::to_value(&parsed["connectors"]["canvas-lms"]).unwrap();
        assert_eq!(section["kind"], "canvas");
        let object = section.as_object_mut().unwrap();
        object.remove("kind");
        assert_eq!(object["access_token"]["env"], "CANVAS_ACCESS_TOKEN");
        object.insert("access_token".to_owned(), "resolved-token".into());
        section
    }

    #[test]
    fn the_example_section_is_a_valid_config() {
        let config: CanvasConfig = serde_json::from_value(example_section()).unwrap();
        config.validate("canvas-lms").unwrap();
        assert_eq!(config.account_id, "self");
        assert_eq!(config.hints, CanvasConfig::default().hints);
        assert_eq!(
            config.courses.map["admin-certification"].kind,
            Some(tributary_model::CourseKind::Certification)
        );
    }

    fn valid() -> CanvasConfig {
        CanvasConfig {
            endpoint: "https://school.instructure.com".to_owned(),
            access_token: SecretString::from("t"),
            ..CanvasConfig::default()
        }
    }

    #[test]
    fn bad_values_name_their_key() {
        type Break = fn(&mut CanvasConfig);
        let cases: [(Break, &str); 5] = [
            (|c| c.per_page = 0, "per_page"),
            (|c| c.per_page = 101, "per_page"),
            (|c| c.access_token = SecretString::from(" "), "access_token"),
            (|c| c.account_id = "1/../2".to_owned(), "account_id"),
            (
                |c| {
                    c.hints
                        .insert("name".to_owned(), IdentityHintKind::CompanyName);
                },
                "hints.name",
            ),
        ];
        for (break_it, key) in cases {
            let mut config = valid();
            break_it(&mut config);
            let err = config.validate("lms").unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
        valid().validate("lms").unwrap();
    }

    fn observed(status: u16, body: &str) -> QuotaVerdict {
        let headers = tributary_connector::HeaderMap::new();
        throttle_observer(&ObservedResponse {
            method: &tributary_connector::Method::GET,
            url: "https://x/api/v1/courses",
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            headers: &headers,
            body: body.as_bytes(),
        })
    }

    #[test]
    fn only_the_rate_limit_403_is_a_throttle() {
        assert_eq!(
            observed(403, "403 Forbidden (Rate Limit Exceeded)"),
            QuotaVerdict::Throttled
        );
        assert_eq!(
            observed(
                403,
                r#"{"errors":[{"message":"user not authorized to perform that action"}]}"#
            ),
            QuotaVerdict::Continue
        );
        assert_eq!(observed(200, "[]"), QuotaVerdict::Continue);
    }

    #[test]
    fn a_course_gone_mid_read_is_empty_and_other_errors_stay() {
        let gone = ConnectorError::Http {
            url: "https://x/api/v1/courses/9/enrollments".to_owned(),
            status: 404,
            body: String::new(),
        };
        assert_eq!(
            gone_is_empty::<Vec<u8>>(Err(gone)).unwrap(),
            Vec::<u8>::new()
        );
        let refused = ConnectorError::Http {
            url: "https://x/api/v1/courses/9/enrollments".to_owned(),
            status: 400,
            body: String::new(),
        };
        assert!(gone_is_empty::<Vec<u8>>(Err(refused)).is_err());
    }

    #[test]
    fn next_links_must_stay_on_the_endpoint() {
        let conn = CanvasConnector {
            ctx: ConnectorContext {
                instance: "lms".to_owned(),
                http: HttpClient::new(HttpClientConfig::default(), Auth::None).unwrap(),
            },
            config: valid(),
            base: "https://school.instructure.com".to_owned(),
        };
        let here = "https://school.instructure.com/api/v1/courses/1/enrollments?page=bookmark:WzFd";
        assert_eq!(conn.checked_next("u", here.to_owned()).unwrap(), here);
        for elsewhere in [
            "https://evil.example/api/v1/courses?page=2",
            "https://school.instructure.com.evil.example/api/v1/courses",
        ] {
            assert!(
                conn.checked_next("u", elsewhere.to_owned()).is_err(),
                "{elsewhere}"
            );
        }
    }
}
