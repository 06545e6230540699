//! The Skilljar connector: the Skilljar API v1 (customer-education LMS) → courses, learners
//! and their enrollments with progress, scores and certificates.
//!
//! Streams, all full refreshes (Skilljar v1 has no change filter), each declared with
//! [`DeleteStrategy::KeyDiff`] so the sweep at the end of a refresh finds deletions:
//!
//! | stream | entity | read from |
//! |---|---|---|
//! | `courses` | `Course` | `/v1/domains/{domain}/published-courses`, per domain |
//! | `paths` | `Course` (kind learning path) | `/v1/domains/{domain}/published-paths`, per domain |
//! | `users` | `Person` | `/v1/users` overviews, plus each learner's sign-up fields per domain for identity hints |
//! | `enrollments` | `Enrollment` | `/v1/users`, then per learner `/v1/users/{id}/published-courses` (a bare array) and `/published-path-enrollments`; paths' courses from `/v1/paths/{id}/path-items` |
//!
//! **Why a full refresh is the efficient choice.** v1 cannot list what changed, and
//! per-learner progress is the only source of completions, so every read walks the learners.
//! What makes it cheap is the store: records whose content hash is unchanged are not written
//! again, so a re-read of an unchanged academy writes nothing, and the sweep after the read
//! deletes the records that vanished (a key diff). Skipping learners whose overview
//! `latest_activity` did not move would save requests, but would need the previous run's
//! overviews (state the engine does not hand a connector) and would lose the sweep, so drops
//! and unenrollments would never propagate. Per-learner requests run a few at a time
//! (`user_concurrency`) through the shared client, which keeps to its rate budget and honours
//! `Retry-After`.
//!
//! Paging: every list is a Django REST framework page; `next` is followed as an opaque URL
//! (page numbers or cursors alike) and bare arrays are accepted where an envelope was
//! expected. The state after each page is the next page's URL (relative to `endpoint`) and
//! the listing's count so far, so a cut-off read resumes at its page; `count` is reported as
//! the source count of `courses`, `paths` and `users` (completeness). A 404 on a list endpoint is a
//! configuration error naming the endpoint (Skilljar answers 404 for endpoints a deployment
//! does not serve, not an empty list); 401/403 are auth errors; 429 is retried by the client
//! after `Retry-After`.
//!
//! What it must not do: open its own HTTP client, read the environment, sleep, retry, log the
//! key, panic on vendor data, or know the store, GraphQL or the simulator.

mod mapping;
mod wire;

use async_stream::try_stream;
use async_trait::async_trait;
use base64::Engine;
use chrono::Utc;
use futures::stream::BoxStream;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::BTreeMap;
use tributary_connector::learning::CourseCatalog;
use tributary_connector::pull::{self, Emitter, PerRecord, Phase, Start, StreamDecl};
use tributary_connector::{
    Auth, Connector, ConnectorContext, ConnectorError, ConnectorKind, Declared, DeleteStrategy,
    HeaderName, ReadItem, StreamSpec, StreamState, SyncMode, check_endpoint, check_range,
};
use tributary_model::{EntityKind, IdentityHintKind};
use wire::{Listing, PerUser, Position};

pub use mapping::enrollment_key;

/// The connector kind in `tributary.toml`.
pub const KIND: &str = "skilljar";

/// Skilljar's production API base URL.
pub const DEFAULT_ENDPOINT: &str = "https://api.skilljar.com";

/// The largest `page_size` requested (Skilljar does not publish its maximum; lists clamp).
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Configuration of one Skilljar connector instance: `[connectors.<name>]` with
/// `kind = "skilljar"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SkilljarConfig {
    /// Base URL of the API, without `/v1`; point it at the mock for tests.
    pub endpoint: String,
    /// The organisation's API key, sent as the HTTP Basic user name with an empty password.
    /// Write it as `{ env = "SKILLJAR_API_KEY" }`; the binary resolves it.
    pub api_key: SecretString,
    /// Records per list request, 1 to 1000.
    pub page_size: u32,
    /// The domains (storefront host names) to read courses and sign-up fields from; empty
    /// reads every domain of `/v1/domains`.
    pub domains: Vec<String>,
    /// Sign-up field labels (any case) whose values are identity hints, with the hint each
    /// carries (`crm_contact_id`, `crm_account_id`, `company_name`, `email_domain`). Empty
    /// skips the per-learner sign-up field requests.
    pub identity_fields: BTreeMap<String, IdentityHintKind>,
    /// Per-learner requests in flight at once, 1 to 32.
    pub user_concurrency: u32,
    /// Course metadata Skilljar does not keep (kind, level, tags, features), by published
    /// course or path id, course or path id, or slug.
    pub courses: CourseCatalog,
}

/// The sign-up field labels read as identity hints unless configured otherwise.
pub fn default_identity_fields() -> BTreeMap<String, IdentityHintKind> {
    use IdentityHintKind::*;
    [
        ("Company", CompanyName),
        ("Company Name", CompanyName),
        ("Company Domain", EmailDomain),
        ("CRM Contact ID", CrmContactId),
        ("CRM Account ID", CrmAccountId),
        ("Salesforce Contact ID", CrmContactId),
        ("Salesforce Account ID", CrmAccountId),
        ("HubSpot Contact ID", CrmContactId),
        ("HubSpot Company ID", CrmAccountId),
    ]
    .into_iter()
    .map(|(label, kind)| (label.to_owned(), kind))
    .collect()
}

impl Default for SkilljarConfig {
    fn default() -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            api_key: SecretString::default(),
            page_size: 100,
            domains: Vec::new(),
            identity_fields: default_identity_fields(),
            user_concurrency: 1,
            courses: CourseCatalog::default(),
        }
    }
}

impl SkilljarConfig {
    /// Checks every value; the message names the key.
    pub fn validate(&self, instance: &str) -> Result<(), ConnectorError> {
        let fail = |message: String| ConnectorError::config(instance, message);
        check_endpoint(&self.endpoint).map_err(fail)?;
        check_range("page_size", self.page_size.into(), 1..=MAX_PAGE_SIZE.into()).map_err(fail)?;
        check_range("user_concurrency", self.user_concurrency.into(), 1..=32).map_err(fail)?;
        if self.api_key.expose_secret().trim().is_empty() {
            return Err(fail("api_key is required".to_owned()));
        }
        if let Some(d) = self
            .domains
            .iter()
            .find(|d| d.trim().is_empty() || d.contains('/'))
        {
            return Err(fail(format!("domains: `{d}` is not a domain name")));
        }
        self.courses.validate("courses").map_err(fail)?;
        Ok(())
    }
}

/// The Skilljar connector kind.
pub struct SkilljarKind;

/// Skilljar's entry in a registry of kinds (the binary's `src/registry.rs`).
pub static DECLARATION: Declared<SkilljarKind> = Declared::new();

impl ConnectorKind for SkilljarKind {
    type Config = SkilljarConfig;
    const NAME: &'static str = KIND;
    const SUMMARY: &'static str =
        "Skilljar API v1: published courses and paths, learners, enrollments with progress";
    const AUTH: &'static [&'static str] = &["API key (HTTP Basic user name, empty password)"];

    fn streams() -> Vec<StreamSpec> {
        STREAMS.iter().map(StreamDecl::spec).collect()
    }

    /// `Authorization: Basic base64("<key>:")`, as a sensitive header so the key never shows
    /// in logs (a Basic user name would).
    fn auth(config: &SkilljarConfig, instance: &str) -> Result<Auth, ConnectorError> {
        config.validate(instance)?;
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:", config.api_key.expose_secret().trim()));
        Ok(Auth::ApiKeyHeader {
            name: HeaderName::from_static("authorization"),
            value: SecretString::from(format!("Basic {token}")),
        })
    }

    fn build(
        config: SkilljarConfig,
        cx: ConnectorContext,
    ) -> Result<Box<dyn Connector>, ConnectorError> {
        config.validate(&cx.instance)?;
        Ok(Box::new(SkilljarConnector {
            base: config.endpoint.trim_end_matches('/').to_owned(),
            ctx: cx,
            config,
        }))
    }
}

const FULL_REFRESH: &[SyncMode] = &[SyncMode::FullRefresh];

/// The streams, in sync order: courses, paths and users before the enrollments that reference
/// them. Courses and paths are two streams (both `Course`) because their records differ in
/// shape, which one stream's drift check would report on every first run.
static STREAMS: [StreamDecl; 4] = [
    StreamDecl {
        name: mapping::COURSES,
        entity: EntityKind::Course,
        cursor_field: None,
        modes: FULL_REFRESH,
        delete_strategy: DeleteStrategy::KeyDiff,
        vendor: (),
    },
    StreamDecl {
        name: mapping::PATHS,
        entity: EntityKind::Course,
        cursor_field: None,
        modes: FULL_REFRESH,
        delete_strategy: DeleteStrategy::KeyDiff,
        vendor: (),
    },
    StreamDecl {
        name: mapping::USERS,
        entity: EntityKind::Person,
        cursor_field: None,
        modes: FULL_REFRESH,
        delete_strategy: DeleteStrategy::KeyDiff,
        vendor: (),
    },
    StreamDecl {
        name: mapping::ENROLLMENTS,
        entity: EntityKind::Enrollment,
        cursor_field: None,
        modes: FULL_REFRESH,
        delete_strategy: DeleteStrategy::KeyDiff,
        vendor: (),
    },
];

/// A configured Skilljar connector instance.
#[derive(Debug)]
pub struct SkilljarConnector {
    ctx: ConnectorContext,
    config: SkilljarConfig,
    base: String,
}

#[async_trait]
impl Connector for SkilljarConnector {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn instance(&self) -> &str {
        &self.ctx.instance
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        let url = format!("{}/v1/ping", self.base);
        self.ctx
            .http
            .send_bytes(&tributary_connector::HttpRequest::get(&url))
            .await
            .map(|_| ())
    }

    fn streams(&self) -> Vec<StreamSpec> {
        SkilljarKind::streams()
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
            let mut position = match pull::start::<Position>(decl.name, mode, state) {
                Start::Resume(p) => p,
                Start::Fresh => Position::default(),
            };
            let emit = Emitter {
                system: KIND,
                instance: &self.ctx.instance,
                stream: decl.name,
                incremental: false,
            };
            let now = Utc::now();
            match decl.name {
                mapping::COURSES | mapping::PATHS => {
                    let (item, list) = if decl.name == mapping::COURSES {
                        (mapping::CatalogItem::PublishedCourse, "published-courses")
                    } else {
                        (mapping::CatalogItem::PublishedPath, "published-paths")
                    };
                    let listings: Vec<String> = self
                        .domains()
                        .await?
                        .iter()
                        .map(|d| format!("/v1/domains/{}/{list}", wire::segment(d)))
                        .collect();
                    // A saved position past the listings (the domains changed) starts over: a
                    // read that skipped them would let the sweep delete what it never read.
                    if position.listing >= listings.len() {
                        position = Position::default();
                    }
                    let start = position.listing;
                    for (k, path) in listings.iter().enumerate().skip(start) {
                        if k != position.listing {
                            position = Position { listing: k, ..Position::default() };
                        }
                        let mapper = PerRecord(|raw| mapping::map_catalog(item, &emit, &self.config.courses, raw));
                        let mut source = Listing::new(self, path, &[("include_searchable_content", "true")], PerUser::None, true);
                        let phase = Phase { vendor: KIND, stream: decl.name, name: list, state: &mut position, tally: Some(Position::tally) };
                        for await item in pull::read_pages(phase, &mut source, &mapper) {
                            yield item?;
                        }
                        if k + 1 < listings.len() {
                            yield ReadItem::Checkpoint(StreamState::encode(&Position { listing: k + 1, ..Position::default() }));
                        }
                    }
                }
                mapping::USERS => {
                    let domains = if self.config.identity_fields.is_empty() {
                        Vec::new()
                    } else {
                        self.domains().await?
                    };
                    let fields = &self.config.identity_fields;
                    let mapper = PerRecord(|raw| mapping::map_user(&emit, fields, raw));
                    let mut source = Listing::new(self, "/v1/users", &[], PerUser::SignupFields(domains), true);
                    let phase = Phase { vendor: KIND, stream: decl.name, name: "users", state: &mut position, tally: Some(Position::tally) };
                    for await item in pull::read_pages(phase, &mut source, &mapper) {
                        yield item?;
                    }
                }
                _ => {
                    let domains = self.domains().await?;
                    let learning = wire::Learning {
                        paths: self.path_courses().await?,
                        enrollments: self.path_enrollments(&domains).await?,
                    };
                    let mapper = PerRecord(|raw: serde_json::Value| {
                        if raw.get("published_path_id").is_some() {
                            mapping::map_path_enrollment(&emit, now, raw)
                        } else {
                            mapping::map_course_progress(&emit, now, raw)
                        }
                    });
                    let mut source = Listing::new(self, "/v1/users", &[], PerUser::Progress(learning), false);
                    let phase = Phase { vendor: KIND, stream: decl.name, name: "learners", state: &mut position, tally: None };
                    for await item in pull::read_pages(phase, &mut source, &mapper) {
                        yield item?;
                    }
                }
            }
            yield pull::finish(SyncMode::FullRefresh, None);
        })
    }
}
