//! The HubSpot CRM connector: companies, contacts, deals and the deals' contacts, mapped to
//! accounts, people, subscriptions and deal contacts; full refresh through the CRM v3 list
//! endpoint (`GET /crm/v3/objects/{objectType}`), incremental through the search endpoint
//! (`POST /crm/v3/objects/{objectType}/search`) on the last-modified time.
//!
//! Key types:
//! - [`HubspotConfig`]: the `[connectors.<name>]` section of `tributary.toml` for
//!   `kind = "hubspot"`, with its revenue field mapping (`mapping`, over [`default_mapping`];
//!   the simulated portal's is published by its mock, `tributary_mock_hubspot::revenue_mapping`).
//! - [`HubspotConnector`]: implements [`tributary_connector::Connector`] with the streams
//!   `companies`, `contacts`, `deals` and `deal_contacts`, each incremental (first, so
//!   scheduled runs are) or full refresh. [`HubspotKind`] declares the kind
//!   ([`tributary_connector::ConnectorKind`]) and [`DECLARATION`] is its entry for a registry.
//! - [`mapping`]: the pure functions from HubSpot's JSON to the model, rejecting with the
//!   SDK's [`MapError`].
//! - [`Pipelines`]: the portal's deal pipelines (`GET /crm/v3/pipelines/deals`), which say
//!   which stage of which pipeline is won: closed with probability 1.0. Custom pipelines have
//!   numeric stage ids, so `dealstage == "closedwon"` would miss their won deals.
//! - `search` (private): the search request bodies and the window state machine that reads a
//!   window of changes without gaps or duplicates and never meets the 10,000-result cap.
//! - `read` (private): the page sources and mappers this crate hands the SDK's pull driver
//!   ([`tributary_connector::pull`]), which owns the page loop, the per-page checkpoints,
//!   the counts and the starting-cursor rules.
//!
//! A full refresh pages through the list endpoint with an opaque `after` cursor, emits a
//! checkpoint after every page, then pages `archived=true` and emits a delete per archived
//! record, and ends with a null state (the engine then marks rows it did not see deleted).
//! An incremental run reads every record modified since the saved high-water mark minus
//! `overlap_secs` through search, then pages `archived=true` for deletes, and saves the new
//! high-water mark; with no saved mark it does one full read through the list endpoint first.
//! Each run of the `deals` stream first reads the portal's deal property definitions
//! (`GET /crm/v3/properties/deals`: a mapped property that does not exist is a
//! [`ConnectorError::Config`] naming it, before anything is read; `deal_currency_code` is
//! requested only where multi-currency is on) and its pipelines, once, through the same
//! client. A deal in a stage the pipelines do not list is decided by `hs_is_closed_won`, with
//! one warning per pipeline and stage. The `deal_contacts` stream pages (or searches) deals
//! and batch-reads their contacts (`POST /crm/v4/associations/deals/contacts/batch/read`).
//! Only closed-won deals become subscriptions: a full refresh skips the others, an
//! incremental run deletes them (a won deal that is lost no longer is a subscription, and no
//! sweep follows an incremental run). A record whose property does not parse becomes a reject
//! and the stream goes on. The vendor's own counts (search `total`) are reported against what
//! was read, for a full read and for each window of changes. See the crate README for the
//! state format.
//!
//! What it must not do: open its own HTTP client or read the environment (the token arrives in
//! the config and is applied by the runtime's [`tributary_connector::HttpClient`], built with
//! [`http_auth`]); sleep or retry on its own (the client retries 429/5xx); log the token; or
//! panic on vendor data. Only this crate knows HubSpot's JSON.

pub mod mapping;
mod pipelines;
mod read;
mod search;
#[cfg(test)]
mod tests;

pub use mapping::default_mapping;
pub use pipelines::{Pipelines, Stage};
pub use search::MAX_SEARCH_PAGE_SIZE;
pub use tributary_connector::MapError;

use search::Window;
use std::collections::{BTreeSet, HashSet};

use async_stream::try_stream;
use async_trait::async_trait;
use chrono::{NaiveDate, Utc};
use futures::stream::BoxStream;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_connector::pull::{
    self, Emitter, INCREMENTAL_FIRST, PerRecord, Phase, PullState, Start, StreamDecl, Tally,
};
use tributary_connector::{
    Auth, AuthSettings, Connector, ConnectorContext, ConnectorError, ConnectorKind, CrmSettings,
    Declared, DeleteStrategy, MappingSettings, ReadItem, RevenueMapping, StreamSpec, StreamState,
    SyncMode, check_range,
};
use tributary_model::{Currency, EntityKind};

/// The connector kind in `tributary.toml`.
pub const KIND: &str = "hubspot";

/// HubSpot's production API base URL.
pub const DEFAULT_ENDPOINT: &str = "https://api.hubapi.com";

/// The largest page the list endpoint serves.
pub const MAX_PAGE_SIZE: u32 = 100;

/// How far an incremental run reads back behind the saved high-water mark unless configured.
pub const DEFAULT_OVERLAP_SECS: u64 = 300;

/// Configuration of one HubSpot connector instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubspotConfig {
    /// Base URL of the HubSpot API, without a trailing path; point it at the simulator's mock
    /// for tests and the demo.
    pub endpoint: String,
    /// Private-app access token (`pat-na1-…`) sent as `Authorization: Bearer`; needs the
    /// `crm.objects.{companies,contacts,deals}.read` scopes. Write it in `tributary.toml` as
    /// `{ env = "HUBSPOT_TOKEN" }`; the binary resolves it before this struct is built.
    pub access_token: SecretString,
    /// Records per list request, 1 to 100 (HubSpot's maximum).
    pub page_size: u32,
    /// Records per search request of an incremental run, 1 to 200 (HubSpot's maximum).
    pub search_page_size: u32,
    /// Seconds an incremental run reads back behind the saved high-water mark, so that a
    /// change that reached HubSpot's (eventually consistent) search index after the last run
    /// had read past its time is still read (airbyte#27146). Re-read records are identical
    /// upserts.
    pub overlap_secs: u64,
    /// ISO 4217 currency of deals without `deal_currency_code`: the portal's company
    /// currency, which every amount is in when multi-currency is off.
    pub default_currency: String,
    /// How won deals become subscriptions: a `[connectors.<name>.mapping]` table overlaying
    /// [`default_mapping`] (`amount_field = "amount"`, no `arr_field`, no `term_field` so 12
    /// months, `motion_field = "dealtype"` with `newbusiness` → new). Keys: `arr_field`,
    /// `amount_field`, `term_field`, `default_term_months`, `motion_field` and `motions`
    /// (`{ "<value>" = "new" | "renewal" | "expansion" | "contraction" | "churn" }`, replacing
    /// the default table). Every named property must exist in the portal: each run of the
    /// `deals` stream checks them against `GET /crm/v3/properties/deals` before reading.
    pub mapping: MappingSettings,
    /// OAuth2 instead of a private-app token (public apps): a `[connectors.<name>.auth]`
    /// table, e.g. `kind = "oauth2"`, `grant = "refresh_token"`,
    /// `token_url = "https://api.hubapi.com/oauth/v1/token"`, `client_id`,
    /// `client_secret = { env = … }`, `refresh_token = { env = … }`. HubSpot's access tokens
    /// last 30 minutes; they are refreshed ahead of expiry and once on a 401. Leave
    /// `access_token` empty when this is set.
    pub auth: Option<AuthSettings>,
}

impl Default for HubspotConfig {
    fn default() -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            access_token: SecretString::default(),
            page_size: MAX_PAGE_SIZE,
            search_page_size: MAX_SEARCH_PAGE_SIZE,
            overlap_secs: DEFAULT_OVERLAP_SECS,
            default_currency: "USD".to_owned(),
            mapping: MappingSettings::default(),
            auth: None,
        }
    }
}

impl HubspotConfig {
    /// The defaults with `access_token` and `endpoint` set.
    pub fn new(endpoint: impl Into<String>, access_token: SecretString) -> Self {
        Self {
            endpoint: endpoint.into(),
            access_token,
            ..Self::default()
        }
    }

    /// Checks every value; the message names the field and the accepted range. Returns the
    /// settings every CRM connector parses alike (the mapping over [`default_mapping`]).
    pub fn validate(&self, instance: &str) -> Result<CrmSettings, ConnectorError> {
        let fail = |message: String| ConnectorError::config(instance, message);
        check_range("page_size", self.page_size.into(), 1..=MAX_PAGE_SIZE.into()).map_err(fail)?;
        let search = MAX_SEARCH_PAGE_SIZE.into();
        check_range("search_page_size", self.search_page_size.into(), 1..=search).map_err(fail)?;
        let (endpoint, currency, mapping) = (&self.endpoint, &self.default_currency, &self.mapping);
        let crm = CrmSettings::parse(instance, endpoint, currency, mapping, default_mapping())?;
        let has_token = !self.access_token.expose_secret().trim().is_empty();
        match (has_token, &self.auth) {
            (false, None) => Err(fail(
                "access_token is required (or an `auth` table for OAuth2)".to_owned(),
            )),
            (true, Some(_)) => Err(fail(
                "give either access_token (private app) or an `auth` table (OAuth2), not both"
                    .to_owned(),
            )),
            _ => Ok(crm),
        }
    }
}

/// The credentials the runtime's HTTP client applies to every HubSpot request: the private-app
/// token, or an OAuth2 token manager when `auth` is configured.
pub fn http_auth(config: &HubspotConfig, instance: &str) -> Result<Auth, ConnectorError> {
    match &config.auth {
        Some(settings) => settings.build(instance),
        None => Ok(Auth::Bearer(config.access_token.clone())),
    }
}

/// The HubSpot connector kind: `kind = "hubspot"` in `tributary.toml`.
pub struct HubspotKind;

/// HubSpot's entry in a registry of kinds (`&hubspot::DECLARATION` is a
/// `&dyn tributary_connector::DynKind`).
pub static DECLARATION: Declared<HubspotKind> = Declared::new();

impl ConnectorKind for HubspotKind {
    type Config = HubspotConfig;
    const NAME: &'static str = KIND;
    const SUMMARY: &'static str =
        "HubSpot CRM: companies, contacts, won deals and their contacts (CRM v3 list and search)";
    const AUTH: &'static [&'static str] = &["private-app token", "OAuth2 refresh token"];

    fn streams() -> Vec<StreamSpec> {
        STREAMS.iter().map(StreamDecl::spec).collect()
    }

    fn auth(config: &HubspotConfig, instance: &str) -> Result<Auth, ConnectorError> {
        http_auth(config, instance)
    }

    fn build(
        config: HubspotConfig,
        cx: ConnectorContext,
    ) -> Result<Box<dyn Connector>, ConnectorError> {
        Ok(Box::new(HubspotConnector::new(cx, config)?))
    }
}

/// What HubSpot needs to know about a stream besides its declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hs {
    /// The HubSpot object type the stream pages through.
    path: &'static str,
    /// Exactly the properties the mapping reads; for deals, those besides the revenue
    /// mapping's (see [`HubspotConnector::deal_properties`]).
    properties: &'static [&'static str],
    /// The singular in association type names (`deal_to_company`).
    singular: &'static str,
    /// The associations the list endpoint is asked for (search reads them separately).
    associations: Option<&'static str>,
}

/// A stream of this connector.
type Object = &'static StreamDecl<Hs>;

const COMPANIES: &str = "companies";
const DEALS: &str = "deals";
const DEAL_CONTACTS: &str = "deal_contacts";

/// Every deal property the connector reads besides the mapping's.
const DEAL_PROPERTIES: [&str; 7] = [
    "dealname",
    "pipeline",
    "dealstage",
    "hs_is_closed_won",
    "closedate",
    "createdate",
    "hs_lastmodifieddate",
];

/// Set in portals with multi-currency on; requested only when the portal has it.
const CURRENCY_PROPERTY: &str = "deal_currency_code";

/// The streams, in sync order. Contacts name their last-modified property differently from
/// every other object. Archived records come from `archived=true`; deal contacts have no
/// archived listing (an archived deal lists no associations, so there is nothing to name), so
/// only a full refresh's sweep finds removed edges.
static STREAMS: [StreamDecl<Hs>; 4] = [
    StreamDecl {
        name: COMPANIES,
        entity: EntityKind::Account,
        cursor_field: Some("hs_lastmodifieddate"),
        modes: INCREMENTAL_FIRST,
        delete_strategy: DeleteStrategy::NativeFeed,
        vendor: Hs {
            path: COMPANIES,
            properties: &[
                "name",
                "domain",
                "industry",
                "country",
                "region",
                "segment",
                "numberofemployees",
                "seats",
                "hubspot_owner_id",
                "createdate",
                "hs_lastmodifieddate",
            ],
            singular: "company",
            associations: None,
        },
    },
    StreamDecl {
        name: "contacts",
        entity: EntityKind::Person,
        cursor_field: Some("lastmodifieddate"),
        modes: INCREMENTAL_FIRST,
        delete_strategy: DeleteStrategy::NativeFeed,
        vendor: Hs {
            path: "contacts",
            properties: &[
                "firstname",
                "lastname",
                "email",
                "jobtitle",
                "role",
                "createdate",
                "lastmodifieddate",
            ],
            singular: "contact",
            associations: Some(COMPANIES),
        },
    },
    StreamDecl {
        name: DEALS,
        entity: EntityKind::Subscription,
        cursor_field: Some("hs_lastmodifieddate"),
        modes: INCREMENTAL_FIRST,
        delete_strategy: DeleteStrategy::NativeFeed,
        vendor: Hs {
            path: DEALS,
            properties: &DEAL_PROPERTIES,
            singular: "deal",
            associations: Some(COMPANIES),
        },
    },
    // Deal→contact associations: read by paging (or searching) deals and batch-reading their
    // contacts through the associations v4 API.
    StreamDecl {
        name: DEAL_CONTACTS,
        entity: EntityKind::DealContact,
        cursor_field: Some("hs_lastmodifieddate"),
        modes: INCREMENTAL_FIRST,
        delete_strategy: DeleteStrategy::KeyDiff,
        vendor: Hs {
            path: DEALS,
            // Only what paging and the change window need.
            properties: &["hs_lastmodifieddate"],
            singular: "deal",
            associations: None,
        },
    },
];

/// The object's last-modified property, which orders its changes.
fn modified_property(object: Object) -> &'static str {
    object.cursor_field.unwrap_or("hs_lastmodifieddate")
}

/// Whether the stream pages the archived listing for deletes.
fn reads_archived(object: Object) -> bool {
    object.delete_strategy == DeleteStrategy::NativeFeed
}

/// One read of a stream: the connector, the stream, how records are emitted (`emit`: deals
/// no longer won are deletes in an incremental read) and what the read knows about the portal,
/// fetched once when it starts: the properties to request and, for deals, the pipelines that
/// say which stages are won.
struct Run<'a> {
    conn: &'a HubspotConnector,
    object: Object,
    emit: Emitter<'a>,
    properties: Vec<&'a str>,
    pipelines: Option<Pipelines>,
    today: NaiveDate,
    /// `(pipeline, stage)` combinations the pipelines did not list, logged once each.
    unknown_stages: std::sync::Mutex<HashSet<(String, String)>>,
}

/// The connector's stream state (the engine stores it as opaque JSON). Which fields are set
/// says where a read stands:
///
/// | state | meaning |
/// |---|---|
/// | `{"after": c}`, `{"archived": true, "after": c}` | a full refresh, in the live or the archived listing |
/// | `{"mark": t, "after": c, …}` | an incremental run's first full read through the list endpoint; `t` becomes the high-water mark when it ends |
/// | `{"since": t}` | incremental, between runs: every change up to `t` (epoch ms) has been read |
/// | `{"since": t, "window": {…}, …}` | incremental, part-way through the search window (see [`Window`]) |
/// | `{"since": t, "archived": true, "after": c}` | incremental, window read, paging archived records for deletes |
///
/// `total` and `read` carry the reconciliation of the current phase across a resumed run: how
/// many records the vendor said it holds, and how many have been read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    archived: bool,
    /// The high-water mark an incremental first read records when it ends: the newest
    /// modified time in HubSpot when it began (epoch milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mark: Option<i64>,
    /// The high-water mark of the last complete window (epoch milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<i64>,
    /// The window being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window: Option<Window>,
    #[serde(flatten)]
    tally: Tally,
}

impl PullState for Cursor {
    /// A state a full refresh cannot resume: a mark, or a window of changes.
    fn is_incremental(&self) -> bool {
        self.mark.is_some() || self.since.is_some() || self.window.is_some()
    }
}

impl Cursor {
    /// The state between incremental runs: every change up to `since` has been read.
    fn between_runs(since: i64) -> Self {
        Self {
            since: Some(since),
            ..Self::default()
        }
    }
}

/// A configured HubSpot connector instance.
#[derive(Debug)]
pub struct HubspotConnector {
    ctx: ConnectorContext,
    config: HubspotConfig,
    base: String,
    default_currency: Currency,
    mapping: RevenueMapping,
}

impl HubspotConnector {
    /// Validates `config`, resolves its field mapping over [`default_mapping`] and builds the
    /// connector. `ctx.http` must carry [`http_auth`].
    pub fn new(ctx: ConnectorContext, config: HubspotConfig) -> Result<Self, ConnectorError> {
        let CrmSettings {
            default_currency,
            mapping,
        } = config.validate(&ctx.instance)?;
        Ok(Self {
            base: config.endpoint.trim_end_matches('/').to_owned(),
            ctx,
            config,
            default_currency,
            mapping,
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &HubspotConfig {
        &self.config
    }

    /// The resolved field mapping deals are read with.
    pub fn mapping(&self) -> &RevenueMapping {
        &self.mapping
    }

    fn list_url(&self, object: Object) -> String {
        format!("{}/crm/v3/objects/{}", self.base, object.vendor.path)
    }

    /// The deal properties to request: the connector's own, the mapping's, and
    /// `deal_currency_code` when the portal has it (`existing`: every deal property the
    /// portal has).
    fn deal_properties(&self, existing: &BTreeSet<String>) -> Vec<&str> {
        let mut out = DEAL_PROPERTIES.to_vec();
        let currency = existing
            .contains(CURRENCY_PROPERTY)
            .then_some(CURRENCY_PROPERTY);
        for p in self.mapping.fields().into_iter().chain(currency) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    /// The read of `object` in `mode`, with what it needs to know before its first page. For
    /// deals: the portal's property definitions (every mapped property must exist; a missing
    /// one is a config error naming it, before anything is read) and its pipelines. Two
    /// requests per run of the stream, through the same client (auth, retries, budget) as
    /// every other.
    async fn run(&self, object: Object, mode: SyncMode) -> Result<Run<'_>, ConnectorError> {
        let mut run = Run {
            conn: self,
            object,
            emit: Emitter {
                system: KIND,
                instance: &self.ctx.instance,
                stream: object.name,
                incremental: mode == SyncMode::Incremental,
            },
            properties: object.vendor.properties.to_vec(),
            pipelines: None,
            today: Utc::now().date_naive(),
            unknown_stages: std::sync::Mutex::new(HashSet::new()),
        };
        if object.name != DEALS {
            return Ok(run);
        }
        let url = format!("{}/crm/v3/properties/deals", self.base);
        let response = self.ctx.http.get_json(&url, &[]).await?;
        let existing: BTreeSet<String> = response
            .body
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| ConnectorError::Decode {
                url: url.clone(),
                message: "property definitions have no `results` array".to_owned(),
            })?
            .iter()
            .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let within = format!(
            "the {} deal properties GET /crm/v3/properties/deals lists",
            existing.len()
        );
        self.mapping
            .ensure_fields_exist(&self.ctx.instance, &within, |f| existing.contains(f))?;
        let url = format!("{}/crm/v3/pipelines/deals", self.base);
        let response = self.ctx.http.get_json(&url, &[]).await?;
        let pipelines = Pipelines::parse(&response.body)
            .map_err(|message| ConnectorError::Decode { url, message })?;
        tracing::debug!(
            stream = DEALS,
            stages = pipelines.stage_count(),
            multi_currency = existing.contains(CURRENCY_PROPERTY),
            "hubspot deal pipelines and properties read"
        );
        run.properties = self.deal_properties(&existing);
        run.pipelines = Some(pipelines);
        Ok(run)
    }
}

impl Run<'_> {
    /// Whether a deal is won: its stage in its pipeline is closed with probability 1.0; for a
    /// stage the pipelines do not list (a pipeline created since the run began, a proxy that
    /// strips it), the calculated `hs_is_closed_won`, with a warning once per combination.
    fn deal_is_won(&self, raw: &Value) -> (bool, Option<String>) {
        let (pipeline, stage) = mapping::deal_stage(raw);
        let known = match (&self.pipelines, &stage) {
            (Some(p), Some(stage)) => p.stage(pipeline.as_deref(), stage),
            _ => None,
        };
        if let Some(known) = known {
            return (known.is_won(), Some(known.pipeline_label.clone()));
        }
        let won = mapping::is_closed_won(raw);
        let key = (
            pipeline.clone().unwrap_or_default(),
            stage.clone().unwrap_or_default(),
        );
        let first = self
            .unknown_stages
            .lock()
            .map(|mut seen| seen.insert(key))
            .unwrap_or(false);
        if first {
            tracing::warn!(
                stream = self.object.name,
                pipeline = pipeline.as_deref().unwrap_or(""),
                stage = stage.as_deref().unwrap_or(""),
                won,
                "hubspot deal stage not in the portal's pipelines; deciding won by hs_is_closed_won"
            );
        }
        let label = pipeline
            .as_deref()
            .and_then(|p| self.pipelines.as_ref()?.pipeline_label(p))
            .map(str::to_owned);
        (won, label)
    }

    /// The state to read from in `mode`, given the saved one (the SDK's rules). A fresh read
    /// first asks search for the newest modified time and the number of live records: the
    /// list endpoint has no total, so this says how many records a complete read must yield;
    /// and an incremental first read takes its high-water mark *before* it pages, so a record
    /// changed while it pages past gets a later time and is read next run.
    async fn starting_cursor(
        &self,
        mode: SyncMode,
        state: Option<StreamState>,
    ) -> Result<Cursor, ConnectorError> {
        Ok(match pull::start::<Cursor>(self.object.name, mode, state) {
            Start::Resume(cursor) => cursor,
            Start::Fresh => {
                let (mark, total) = self.newest().await?;
                Cursor {
                    mark: (mode == SyncMode::Incremental).then_some(mark),
                    tally: Tally { total, read: 0 },
                    ..Cursor::default()
                }
            }
        })
    }
}

#[async_trait]
impl Connector for HubspotConnector {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn instance(&self) -> &str {
        &self.ctx.instance
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.ctx
            .http
            .get_json(&self.list_url(&STREAMS[0]), &[("limit", "1".to_owned())])
            .await
            .map(|_| ())
    }

    fn streams(&self) -> Vec<StreamSpec> {
        HubspotKind::streams()
    }

    fn read<'a>(
        &'a self,
        stream: &'a StreamSpec,
        mode: SyncMode,
        state: Option<StreamState>,
    ) -> BoxStream<'a, Result<ReadItem, ConnectorError>> {
        Box::pin(try_stream! {
            let object = StreamDecl::lookup(&STREAMS, &stream.name, KIND, &self.ctx.instance)?;
            // Before anything is read: a mapping naming a property the portal lacks fails
            // here, and the pipelines are read once for the whole run of the stream.
            let run = self.run(object, mode).await?;
            let mut cursor = run.starting_cursor(mode, state).await?;
            let stream = object.name;
            let tally = Some((|c| &mut c.tally) as fn(&mut Cursor) -> &mut Tally);
            // From the cursor: a full read through the list endpoint (a full refresh, or an
            // incremental first read that ends with its mark), or the search window of changes
            // since the saved mark; then the archived listing for deletes; then the end state.
            if !cursor.archived {
                if cursor.since.is_none() {
                    let mut source = read::ListPages { run: &run, archived: false };
                    let phase = Phase { vendor: KIND, stream, name: "full read", state: &mut cursor, tally };
                    for await item in pull::read_pages(phase, &mut source, &run) {
                        yield item?;
                    }
                    // Live records done: deletes come from the archived listing next.
                    cursor = Cursor { archived: true, mark: cursor.mark, ..Cursor::default() };
                } else {
                    let since = cursor.since.unwrap_or(0);
                    let start = pull::lookback_ms(since, self.config.overlap_secs);
                    let window = cursor.window.take().unwrap_or_else(|| Window::starting_at(start));
                    let mut source = read::SearchPages { run: &run, window, high: None };
                    let phase = Phase { vendor: KIND, stream, name: "search window", state: &mut cursor, tally };
                    for await item in pull::read_pages(phase, &mut source, &run) {
                        yield item?;
                    }
                    let new_since = since.max(source.high.unwrap_or(since));
                    tracing::info!(stream, since, new_since, read = cursor.tally.read, "hubspot changes read");
                    // The high-water mark moves only now that the whole window is read.
                    cursor = Cursor { archived: true, ..Cursor::between_runs(new_since) };
                }
                if reads_archived(object) {
                    yield ReadItem::Checkpoint(StreamState::encode(&cursor));
                }
            }
            if reads_archived(object) {
                // Search never returns archived records: their deletes come from the listing.
                let mut source = read::ListPages { run: &run, archived: true };
                let mapper = PerRecord(|raw: Value| match mapping::record_id(&raw) {
                    Some(id) => run.emit.delete(id),
                    None => run.emit.reject(None, format!("archived {stream} record without an `id`"), raw),
                });
                let phase = Phase { vendor: KIND, stream, name: "archived", state: &mut cursor, tally: None };
                for await item in pull::read_pages(phase, &mut source, &mapper) {
                    yield item?;
                }
            }
            let next = cursor.since.or(cursor.mark).map(|s| StreamState::encode(&Cursor::between_runs(s)));
            yield pull::finish(mode, next);
        })
    }
}
