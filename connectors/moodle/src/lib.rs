//! The Moodle connector: courses, learners and their enrollments from a Moodle site's web
//! services (REST protocol), on the SDK's pull driver.
//!
//! Moodle has no change filter on users or enrolments and returns the whole course catalogue
//! in one call, so every stream is a **full refresh**: the engine compares each record's
//! content hash and writes only what changed, and the refresh's sweep deletes what Moodle no
//! longer shows ([`DeleteStrategy::KeyDiff`], recorded on every run). Courses carry
//! `timemodified` as their source time.
//!
//! The call pattern (see the README for the counts):
//! - `courses`: one `core_course_get_courses` (the front page, id 1, is dropped).
//! - `users`: `core_course_get_courses`, then per course `core_enrol_get_enrolled_users`
//!   pages (`limitfrom`/`limitnumber`). A learner enrolled in several courses is taken at the
//!   first of its active courses (`enrolledcourses`), so it is read once.
//! - `enrollments`: the same listing; per learner, at that first course, one
//!   `core_enrol_get_users_courses` (progress, completed, last access of every active
//!   enrolment), and only for completed enrolments `core_completion_get_course_completion_status`
//!   (completion time, the course-grade criterion) and `gradereport_user_get_grade_items`
//!   (the course total). A user listed in a course but absent from its `enrolledcourses` has a
//!   suspended or ended enrolment there: a dropped enrollment, taken from the listing itself.
//!
//! The stream state is the course being listed and the offset in it, checkpointed after every
//! page, so a killed sync resumes there. Moodle answers errors with HTTP 200 and an exception
//! body: `client::classify` turns an invalid token into an auth error and a refused parameter
//! into a configuration error; a course whose completion Moodle will not report
//! (`nocriteriaset`, `cannotviewreport`, `nottracked`) leaves that enrollment's completion
//! time unknown and the read goes on.
//!
//! What it must not do: open its own HTTP client, read the environment, sleep, retry, log the
//! token, panic on vendor data, or know the store, GraphQL or the simulator.

mod client;
mod mapping;
mod read;

use async_stream::try_stream;
use async_trait::async_trait;
use futures::stream::BoxStream;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use tributary_connector::learning::CourseCatalog;
use tributary_connector::pull::{self, Emitter, PerRecord, Phase, StreamDecl};
use tributary_connector::{
    Auth, Connector, ConnectorContext, ConnectorError, ConnectorKind, Declared, DeleteStrategy,
    ReadItem, StreamSpec, StreamState, SyncMode, check_endpoint, check_range,
};
use tributary_model::EntityKind;

pub use client::{Exception, SERVER_PATH, classify};
pub use mapping::enrollment_id;

/// The connector kind in `tributary.toml`.
pub const KIND: &str = "moodle";

/// The users a `core_enrol_get_enrolled_users` page asks for unless configured.
pub const DEFAULT_PAGE_SIZE: u32 = 200;

/// The largest page the connector asks for (Moodle has no cap; large pages time PHP out).
pub const MAX_PAGE_SIZE: u32 = 5000;

/// The functions the token's external service must include.
pub const REQUIRED_FUNCTIONS: [&str; 5] = [
    "core_course_get_courses",
    "core_enrol_get_enrolled_users",
    "core_enrol_get_users_courses",
    "core_completion_get_course_completion_status",
    "gradereport_user_get_grade_items",
];

/// Configuration of one Moodle connector instance: `[connectors.<name>]` with
/// `kind = "moodle"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MoodleConfig {
    /// The site's URL (`https://moodle.example.edu`, with a sub-path if Moodle lives under
    /// one); calls go to `{endpoint}/webservice/rest/server.php`.
    pub endpoint: String,
    /// The web service token (Site administration → Server → Web services → Manage tokens),
    /// of a service with the [`REQUIRED_FUNCTIONS`]. Write it as `{ env = "MOODLE_TOKEN" }`.
    pub token: SecretString,
    /// Users per `core_enrol_get_enrolled_users` page, 1 to 5000.
    pub page_size: u32,
    /// Course metadata the site's course custom fields (`level`, `kind`, `features`, `tags`)
    /// do not give.
    pub courses: CourseCatalog,
}

impl Default for MoodleConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            token: SecretString::default(),
            page_size: DEFAULT_PAGE_SIZE,
            courses: CourseCatalog::default(),
        }
    }
}

impl MoodleConfig {
    /// Checks every value; the message names the key.
    pub fn validate(&self, instance: &str) -> Result<(), ConnectorError> {
        let fail = |message: String| ConnectorError::config(instance, message);
        if self.endpoint.trim().is_empty() {
            return Err(fail(
                "endpoint is required (the Moodle site's URL)".to_owned(),
            ));
        }
        check_endpoint(&self.endpoint).map_err(fail)?;
        check_range("page_size", self.page_size.into(), 1..=MAX_PAGE_SIZE.into()).map_err(fail)?;
        if self.token.expose_secret().trim().is_empty() {
            return Err(fail("token is required".to_owned()));
        }
        self.courses.validate("courses").map_err(fail)?;
        Ok(())
    }
}

/// The Moodle connector kind.
pub struct MoodleKind;

/// Moodle's entry in a registry of kinds (the binary's `src/registry.rs`).
pub static DECLARATION: Declared<MoodleKind> = Declared::new();

impl ConnectorKind for MoodleKind {
    type Config = MoodleConfig;
    const NAME: &'static str = KIND;
    const SUMMARY: &'static str = "Moodle: courses, learners, enrollments (web services, REST)";
    const AUTH: &'static [&'static str] = &["web service token (wstoken)"];

    fn streams() -> Vec<StreamSpec> {
        STREAMS.iter().map(StreamDecl::spec).collect()
    }

    fn auth(config: &MoodleConfig, instance: &str) -> Result<Auth, ConnectorError> {
        config.validate(instance)?;
        Ok(Auth::ApiKeyQuery {
            name: "wstoken".to_owned(),
            value: config.token.clone(),
        })
    }

    fn build(
        config: MoodleConfig,
        cx: ConnectorContext,
    ) -> Result<Box<dyn Connector>, ConnectorError> {
        config.validate(&cx.instance)?;
        let url = format!("{}{SERVER_PATH}", config.endpoint.trim_end_matches('/'));
        Ok(Box::new(MoodleConnector {
            moodle: client::Moodle {
                http: cx.http.clone(),
                url,
                instance: cx.instance.clone(),
            },
            ctx: cx,
            config,
        }))
    }
}

const FULL_REFRESH: &[SyncMode] = &[SyncMode::FullRefresh];

/// The streams, in sync order: courses and users before the enrollments that reference them.
static STREAMS: [StreamDecl; 3] = [
    StreamDecl {
        name: "courses",
        entity: EntityKind::Course,
        cursor_field: None,
        modes: FULL_REFRESH,
        delete_strategy: DeleteStrategy::KeyDiff,
        vendor: (),
    },
    StreamDecl {
        name: "users",
        entity: EntityKind::Person,
        cursor_field: None,
        modes: FULL_REFRESH,
        delete_strategy: DeleteStrategy::KeyDiff,
        vendor: (),
    },
    StreamDecl {
        name: "enrollments",
        entity: EntityKind::Enrollment,
        cursor_field: None,
        modes: FULL_REFRESH,
        delete_strategy: DeleteStrategy::KeyDiff,
        vendor: (),
    },
];

/// A configured Moodle connector instance.
#[derive(Debug)]
pub struct MoodleConnector {
    ctx: ConnectorContext,
    config: MoodleConfig,
    moodle: client::Moodle,
}

#[async_trait]
impl Connector for MoodleConnector {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn instance(&self) -> &str {
        &self.ctx.instance
    }

    /// `core_webservice_get_site_info`: the token works, and its service has every function
    /// the streams call.
    async fn check(&self) -> Result<(), ConnectorError> {
        let info = self
            .moodle
            .call("core_webservice_get_site_info", &[])
            .await?;
        let offered: Vec<&str> = info
            .get("functions")
            .and_then(Value::as_array)
            .map(|fs| {
                fs.iter()
                    .filter_map(|f| f.get("name").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        let missing: Vec<&str> = REQUIRED_FUNCTIONS
            .iter()
            .copied()
            .filter(|f| !offered.contains(f))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ConnectorError::config(
                &self.ctx.instance,
                format!(
                    "the token's web service lacks {} (add them to the external service)",
                    missing.join(", ")
                ),
            ))
        }
    }

    fn streams(&self) -> Vec<StreamSpec> {
        MoodleKind::streams()
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
            let emit = Emitter {
                system: KIND,
                instance: &self.ctx.instance,
                stream: decl.name,
                incremental: false,
            };
            let courses = read::courses(&self.moodle).await?;
            match decl.name {
                "courses" => {
                    for raw in courses {
                        yield mapping::map_course(&emit, &self.config.courses, raw).into_item();
                    }
                    yield pull::finish(mode, None);
                }
                name => {
                    let mut position = match pull::start::<read::Position>(name, mode, state) {
                        pull::Start::Resume(p) => p,
                        pull::Start::Fresh => read::Position::default(),
                    };
                    let mut source = read::Listing::new(
                        &self.moodle,
                        &self.config,
                        courses,
                        name == "enrollments",
                    );
                    let instance = self.ctx.instance.as_str();
                    let mapper = PerRecord(|raw: Value| {
                        if name == "enrollments" {
                            mapping::map_enrollment(&emit, instance, raw)
                        } else {
                            mapping::map_user(&emit, raw)
                        }
                    });
                    let phase = Phase {
                        vendor: KIND,
                        stream: decl.name,
                        name: "course listings",
                        state: &mut position,
                        tally: None,
                    };
                    for await item in pull::read_pages(phase, &mut source, &mapper) {
                        yield item?;
                    }
                    yield pull::finish(mode, None);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
