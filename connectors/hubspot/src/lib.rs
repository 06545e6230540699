//! The HubSpot CRM connector: companies, contacts, deals and the deals' contacts, mapped to
//! accounts, people, subscriptions and deal contacts; full refresh through the CRM v3 list
//! endpoint (`GET /crm/v3/objects/{objectType}`), incremental through the search endpoint
//! (`POST /crm/v3/objects/{objectType}/search`) on the last-modified time.
//!
//! Key types:
//! - [`HubspotConfig`]: the `[connectors.<name>]` section of `tributary.toml` for
//!   `kind = "hubspot"`, with its revenue field mapping (`mapping`, over [`default_mapping`];
//!   [`simulator_mapping`] is the simulated portal's).
//! - [`HubspotConnector`]: implements [`tributary_connector::Connector`] with the streams
//!   `companies`, `contacts`, `deals` and `deal_contacts`, each incremental (first, so
//!   scheduled runs are) or full refresh.
//! - [`mapping`]: the pure functions from HubSpot's JSON to the model, with [`MapError`].
//! - [`Pipelines`]: the portal's deal pipelines (`GET /crm/v3/pipelines/deals`), which say
//!   which stage of which pipeline is won: closed with probability 1.0. Custom pipelines have
//!   numeric stage ids, so `dealstage == "closedwon"` would miss their won deals.
//! - `search` (private): the search request bodies and the window state machine that reads a
//!   window of changes without gaps or duplicates and never meets the 10,000-result cap.
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
//! and the stream goes on. See the crate README for the state format.
//!
//! What it must not do: open its own HTTP client or read the environment (the token arrives in
//! the config and is applied by the runtime's [`tributary_connector::HttpClient`], built with
//! [`http_auth`]); sleep or retry on its own (the client retries 429/5xx); log the token; or
//! panic on vendor data. Only this crate knows HubSpot's JSON.

pub mod mapping;
mod pipelines;
mod search;

pub use mapping::{MapError, default_mapping, simulator_mapping};
pub use pipelines::{Pipelines, Stage};
pub use search::MAX_SEARCH_PAGE_SIZE;

use search::{SearchPage, Window};
use std::collections::{BTreeSet, HashSet};

use async_stream::try_stream;
use async_trait::async_trait;
use chrono::{NaiveDate, Utc};
use futures::{StreamExt, stream::BoxStream};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_connector::{
    Auth, AuthSettings, Connector, ConnectorContext, ConnectorError, DeleteStrategy,
    MappingSettings, ReadItem, Reject, RevenueMapping, SourceCount, StreamSpec, StreamState,
    SyncMode,
};
use tributary_model::{Currency, Entity, EntityKind, ExternalRef, SourceRecord};

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

    /// Checks every value; the message names the field and the accepted range.
    pub fn validate(&self, instance: &str) -> Result<(), ConnectorError> {
        let fail = |message: String| ConnectorError::Config {
            instance: instance.to_owned(),
            message,
        };
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(fail(format!(
                "page_size must be between 1 and {MAX_PAGE_SIZE}, got {}",
                self.page_size
            )));
        }
        if !(1..=MAX_SEARCH_PAGE_SIZE).contains(&self.search_page_size) {
            return Err(fail(format!(
                "search_page_size must be between 1 and {MAX_SEARCH_PAGE_SIZE}, got {}",
                self.search_page_size
            )));
        }
        match url::Url::parse(&self.endpoint) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(_) => {
                return Err(fail(format!(
                    "endpoint `{}` must be an http(s) URL with a host",
                    self.endpoint
                )));
            }
            Err(e) => {
                return Err(fail(format!(
                    "endpoint `{}` is not a URL: {e}",
                    self.endpoint
                )));
            }
        }
        Currency::parse(&self.default_currency)
            .map_err(|e| fail(format!("default_currency: {e}")))?;
        let has_token = !self.access_token.expose_secret().trim().is_empty();
        match (has_token, &self.auth) {
            (false, None) => {
                return Err(fail(
                    "access_token is required (or an `auth` table for OAuth2)".to_owned(),
                ));
            }
            (true, Some(_)) => {
                return Err(fail(
                    "give either access_token (private app) or an `auth` table (OAuth2), not both"
                        .to_owned(),
                ));
            }
            _ => {}
        }
        Ok(())
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

/// The streams this connector reads: one per object type, and the deals' contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    Companies,
    Contacts,
    Deals,
    /// Deal→contact associations: read by paging (or searching) deals and batch-reading
    /// their contacts through the associations v4 API.
    DealContacts,
}

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

impl Object {
    const ALL: [Object; 4] = [
        Object::Companies,
        Object::Contacts,
        Object::Deals,
        Object::DealContacts,
    ];

    fn name(self) -> &'static str {
        match self {
            Object::Companies => "companies",
            Object::Contacts => "contacts",
            Object::Deals => "deals",
            Object::DealContacts => "deal_contacts",
        }
    }

    /// The HubSpot object type the stream pages through.
    fn path(self) -> &'static str {
        match self {
            Object::DealContacts => "deals",
            other => other.name(),
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }

    fn entity(self) -> EntityKind {
        match self {
            Object::Companies => EntityKind::Account,
            Object::Contacts => EntityKind::Person,
            Object::Deals => EntityKind::Subscription,
            Object::DealContacts => EntityKind::DealContact,
        }
    }

    /// Contacts name their last-modified property differently from every other object.
    fn cursor_field(self) -> &'static str {
        match self {
            Object::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// Exactly the properties the mapping reads; for deals, those besides the revenue
    /// mapping's (see [`HubspotConnector::deal_properties`]).
    fn properties(self) -> &'static [&'static str] {
        match self {
            Object::Companies => &[
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
            Object::Contacts => &[
                "firstname",
                "lastname",
                "email",
                "jobtitle",
                "role",
                "createdate",
                "lastmodifieddate",
            ],
            Object::Deals => &DEAL_PROPERTIES,
            // Only what paging and the change window need.
            Object::DealContacts => &["hs_lastmodifieddate"],
        }
    }

    /// The singular in association type names (`deal_to_company`).
    fn singular(self) -> &'static str {
        match self {
            Object::Companies => "company",
            Object::Contacts => "contact",
            Object::Deals | Object::DealContacts => "deal",
        }
    }

    fn associations(self) -> Option<&'static str> {
        match self {
            Object::Companies | Object::DealContacts => None,
            Object::Contacts | Object::Deals => Some("companies"),
        }
    }

    /// Whether the stream pages the archived listing for deletes. Deal contacts do not: an
    /// archived deal lists no associations, so there is nothing to name; a full refresh's
    /// sweep removes them.
    fn reads_archived(self) -> bool {
        self != Object::DealContacts
    }

    fn spec(self) -> StreamSpec {
        StreamSpec {
            name: self.name().to_owned(),
            entity: self.entity(),
            cursor_field: Some(self.cursor_field().to_owned()),
            // Incremental first: the engine falls back to a stream's first mode.
            modes: vec![SyncMode::Incremental, SyncMode::FullRefresh],
            // Archived records come from `archived=true`; deal contacts have no archived
            // listing, so only a full refresh's sweep finds removed edges.
            delete_strategy: if self.reads_archived() {
                DeleteStrategy::NativeFeed
            } else {
                DeleteStrategy::KeyDiff
            },
        }
    }
}

/// What one read of a stream knows about the portal, fetched once when the read starts: the
/// properties to request and, for deals, the pipelines that say which stages are won.
struct RunContext {
    properties: Vec<String>,
    pipelines: Option<Pipelines>,
    today: NaiveDate,
    /// `(pipeline, stage)` combinations the pipelines did not list, logged once each.
    unknown_stages: std::sync::Mutex<HashSet<(String, String)>>,
}

impl RunContext {
    fn property_refs(&self) -> Vec<&str> {
        self.properties.iter().map(String::as_str).collect()
    }
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
    #[serde(default, skip_serializing_if = "is_zero")]
    read: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Cursor {
    fn from_state(state: Option<StreamState>, stream: &str) -> Self {
        StreamState::decode(state, stream)
    }

    fn to_state(&self) -> StreamState {
        StreamState::encode(self)
    }

    /// A state a full refresh can resume: its own, or none.
    fn is_full_refresh(&self) -> bool {
        self.mark.is_none() && self.since.is_none() && self.window.is_none()
    }
}

/// One page of a list response.
struct Page {
    results: Vec<Value>,
    next: Option<String>,
}

fn parse_page(url: &str, body: Value) -> Result<Page, ConnectorError> {
    let next = match body.pointer("/paging/next/after") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            return Err(ConnectorError::Decode {
                url: url.to_owned(),
                message: format!("`paging.next.after` is not a cursor: {other}"),
            });
        }
    };
    let results = match body {
        Value::Object(mut map) => match map.remove("results") {
            Some(Value::Array(results)) => results,
            _ => {
                return Err(ConnectorError::Decode {
                    url: url.to_owned(),
                    message: "response has no `results` array".to_owned(),
                });
            }
        },
        _ => {
            return Err(ConnectorError::Decode {
                url: url.to_owned(),
                message: "response is not a JSON object".to_owned(),
            });
        }
    };
    Ok(Page { results, next })
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

/// The `mapping.*` key that names `field`, for messages.
fn mapping_key(mapping: &RevenueMapping, field: &str) -> &'static str {
    if mapping.arr_field.as_deref() == Some(field) {
        "arr_field"
    } else if mapping.amount_field == field {
        "amount_field"
    } else if mapping.term_field.as_deref() == Some(field) {
        "term_field"
    } else {
        "motion_field"
    }
}

impl HubspotConnector {
    /// Validates `config`, resolves its field mapping over [`default_mapping`] and builds the
    /// connector. `ctx.http` must carry [`http_auth`].
    pub fn new(ctx: ConnectorContext, config: HubspotConfig) -> Result<Self, ConnectorError> {
        config.validate(&ctx.instance)?;
        let fail = |message: String| ConnectorError::Config {
            instance: ctx.instance.clone(),
            message,
        };
        let default_currency = Currency::parse(&config.default_currency)
            .map_err(|e| fail(format!("default_currency: {e}")))?;
        let mapping = config
            .mapping
            .resolve(default_mapping())
            .map_err(|e| fail(e.to_string()))?;
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
        format!("{}/crm/v3/objects/{}", self.base, object.path())
    }

    fn search_url(&self, object: Object) -> String {
        format!("{}/crm/v3/objects/{}/search", self.base, object.path())
    }

    fn associations_url(&self, object: Object, to: &str) -> String {
        format!(
            "{}/crm/v4/associations/{}/{to}/batch/read",
            self.base,
            object.path()
        )
    }

    fn config_error(&self, message: String) -> ConnectorError {
        ConnectorError::Config {
            instance: self.ctx.instance.clone(),
            message,
        }
    }

    fn external_ref(&self, object: Object, id: String) -> ExternalRef {
        ExternalRef::new(KIND, &self.ctx.instance, object.name(), id)
    }

    /// The deal properties to request: the connector's own, the mapping's, and
    /// `deal_currency_code` when the portal has it (`existing`: every deal property the
    /// portal has).
    fn deal_properties(&self, existing: &BTreeSet<String>) -> Vec<String> {
        let mut out: Vec<String> = DEAL_PROPERTIES.iter().map(|p| (*p).to_owned()).collect();
        let mut add = |p: &str| {
            if !out.iter().any(|q| q == p) {
                out.push(p.to_owned());
            }
        };
        for f in self.mapping.fields() {
            add(f);
        }
        if existing.contains(CURRENCY_PROPERTY) {
            add(CURRENCY_PROPERTY);
        }
        out
    }

    /// What a read of `object` needs to know before its first page. For deals: the portal's
    /// property definitions (every mapped property must exist; a missing one is a config
    /// error naming it, before anything is read) and its pipelines. Two requests per run of
    /// the stream, through the same client (auth, retries, budget) as every other.
    async fn run_context(&self, object: Object) -> Result<RunContext, ConnectorError> {
        let today = Utc::now().date_naive();
        let plain = |properties: &[&str]| RunContext {
            properties: properties.iter().map(|p| (*p).to_owned()).collect(),
            pipelines: None,
            today,
            unknown_stages: std::sync::Mutex::new(HashSet::new()),
        };
        if object != Object::Deals {
            return Ok(plain(object.properties()));
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
        for field in self.mapping.fields() {
            if !existing.contains(field) {
                return Err(self.config_error(format!(
                    "mapping.{}: HubSpot has no deal property `{field}` (it is not among the \
                     {} listed by GET /crm/v3/properties/deals); name an existing property's \
                     internal name",
                    mapping_key(&self.mapping, field),
                    existing.len()
                )));
            }
        }
        let url = format!("{}/crm/v3/pipelines/deals", self.base);
        let response = self.ctx.http.get_json(&url, &[]).await?;
        let pipelines = Pipelines::parse(&response.body)
            .map_err(|message| ConnectorError::Decode { url, message })?;
        tracing::debug!(
            stages = pipelines.stage_count(),
            multi_currency = existing.contains(CURRENCY_PROPERTY),
            "hubspot deal pipelines and properties read"
        );
        Ok(RunContext {
            properties: self.deal_properties(&existing),
            pipelines: Some(pipelines),
            ..plain(&[])
        })
    }

    /// Whether a deal is won: its stage in its pipeline is closed with probability 1.0; for a
    /// stage the pipelines do not list (a pipeline created since the run began, a proxy that
    /// strips it), the calculated `hs_is_closed_won`, with a warning once per combination.
    fn deal_is_won(&self, raw: &Value, run: &RunContext) -> (bool, Option<String>) {
        let (pipeline, stage) = mapping::deal_stage(raw);
        let known = match (&run.pipelines, &stage) {
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
        let first = run
            .unknown_stages
            .lock()
            .map(|mut seen| seen.insert(key))
            .unwrap_or(false);
        if first {
            tracing::warn!(
                pipeline = pipeline.as_deref().unwrap_or(""),
                stage = stage.as_deref().unwrap_or(""),
                won,
                "hubspot deal stage not in the portal's pipelines; deciding won by hs_is_closed_won"
            );
        }
        let label = pipeline
            .as_deref()
            .and_then(|p| run.pipelines.as_ref()?.pipeline_label(p))
            .map(str::to_owned);
        (won, label)
    }

    /// Maps one live record to a record or a reject. A deal that is not won is `None` in a
    /// full refresh (the sweep at its end deletes a subscription it no longer sees) and a
    /// delete in an incremental run (which has no sweep).
    fn map_record(
        &self,
        object: Object,
        raw: Value,
        run: &RunContext,
        incremental: bool,
    ) -> Option<ReadItem> {
        let Some(id) = mapping::record_id(&raw) else {
            return Some(ReadItem::Reject(Reject {
                external_id: None,
                reason: format!("{} record without an `id`", object.name()),
                raw,
            }));
        };
        let entity = match object {
            Object::Companies => mapping::map_company(&raw).map(|a| Some(Entity::Account(a))),
            Object::Contacts => {
                mapping::map_contact(&raw, &self.ctx.instance).map(|p| Some(Entity::Person(p)))
            }
            Object::Deals => {
                let (won, pipeline_label) = self.deal_is_won(&raw, run);
                let m = mapping::DealMapping {
                    instance: &self.ctx.instance,
                    mapping: &self.mapping,
                    default_currency: &self.default_currency,
                    today: run.today,
                };
                mapping::map_deal(&raw, won, pipeline_label.as_deref(), &m)
                    .map(|s| s.map(Entity::Subscription))
            }
            // Mapped a page at a time ([`HubspotConnector::deal_contact_items`]).
            Object::DealContacts => Ok(None),
        };
        match entity {
            Ok(None) if incremental && object == Object::Deals => {
                Some(ReadItem::Delete(self.external_ref(object, id)))
            }
            Ok(None) => None,
            Ok(Some(entity)) => Some(ReadItem::Record(Box::new(SourceRecord {
                external_ref: self.external_ref(object, id),
                source_updated_at: mapping::updated_at(&raw),
                raw,
                entity,
            }))),
            Err(e) => Some(ReadItem::Reject(Reject {
                external_id: Some(id),
                reason: e.to_string(),
                raw,
            })),
        }
    }

    /// The items of one page of live records: each mapped on its own, or, for deal contacts,
    /// the contacts of the page's deals, batch-read through associations v4.
    async fn map_page(
        &self,
        object: Object,
        records: Vec<Value>,
        run: &RunContext,
        incremental: bool,
    ) -> Result<Vec<ReadItem>, ConnectorError> {
        if object == Object::DealContacts {
            return self.deal_contact_items(&records).await;
        }
        Ok(records
            .into_iter()
            .filter_map(|raw| self.map_record(object, raw, run, incremental))
            .collect())
    }

    /// The deal→contact associations of `deals` (`POST /crm/v4/associations/deals/contacts/
    /// batch/read`), one record per edge keyed `<deal id>-<contact id>`, modified when its
    /// deal was. A deal without contacts (a 207 listing it under `errors`) has none.
    async fn deal_contact_items(&self, deals: &[Value]) -> Result<Vec<ReadItem>, ConnectorError> {
        let ids: Vec<String> = deals.iter().filter_map(mapping::record_id).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let url = self.associations_url(Object::DealContacts, "contacts");
        let response = self
            .ctx
            .http
            .post_json(&url, &search::associations_request(&ids))
            .await?;
        let modified: std::collections::HashMap<String, Option<chrono::DateTime<Utc>>> = deals
            .iter()
            .filter_map(|d| Some((mapping::record_id(d)?, mapping::updated_at(d))))
            .collect();
        Ok(
            mapping::deal_contact_edges(&response.body, &self.ctx.instance)
                .into_iter()
                .map(|edge| match edge {
                    Ok(edge) => ReadItem::Record(Box::new(SourceRecord {
                        external_ref: self.external_ref(
                            Object::DealContacts,
                            format!("{}-{}", edge.deal, edge.contact),
                        ),
                        source_updated_at: modified.get(&edge.deal).copied().flatten(),
                        raw: edge.raw,
                        entity: Entity::DealContact(edge.entity),
                    })),
                    Err(raw) => ReadItem::Reject(Reject {
                        external_id: None,
                        reason: "deal_contacts: association without a deal or contact id"
                            .to_owned(),
                        raw,
                    }),
                })
                .collect(),
        )
    }

    /// One page of the list endpoint: live records, or archived ones.
    async fn list_page(
        &self,
        object: Object,
        run: &RunContext,
        archived: bool,
        after: Option<&str>,
    ) -> Result<Page, ConnectorError> {
        let url = self.list_url(object);
        let mut query = vec![
            ("limit", self.config.page_size.to_string()),
            ("properties", run.properties.join(",")),
        ];
        if let Some(assoc) = object.associations()
            && !archived
        {
            query.push(("associations", assoc.to_owned()));
        }
        if archived {
            query.push(("archived", "true".to_owned()));
        }
        if let Some(after) = after {
            query.push(("after", after.to_owned()));
        }
        let response = self.ctx.http.get_json(&url, &query).await?;
        let page = parse_page(&url, response.body)?;
        tracing::debug!(
            stream = object.name(),
            records = page.results.len(),
            archived,
            "hubspot list page"
        );
        if page.next.is_some() && page.next.as_deref() == after {
            return Err(ConnectorError::Decode {
                url,
                message: format!("paging cursor `{}` did not advance", after.unwrap_or("")),
            });
        }
        Ok(page)
    }

    /// An archived record as a delete (a reject when it has no id).
    fn archived_item(&self, object: Object, raw: Value) -> ReadItem {
        match mapping::record_id(&raw) {
            Some(id) => ReadItem::Delete(self.external_ref(object, id)),
            None => ReadItem::Reject(Reject {
                external_id: None,
                reason: format!("archived {} record without an `id`", object.name()),
                raw,
            }),
        }
    }

    /// One search request.
    async fn search(&self, object: Object, body: &Value) -> Result<SearchPage, ConnectorError> {
        let url = self.search_url(object);
        let response = self.ctx.http.post_json(&url, body).await?;
        search::parse_search_page(response.body)
            .map_err(|message| ConnectorError::Decode { url, message })
    }

    /// The newest last-modified time of any live record (epoch milliseconds; 0 when there is
    /// none) and how many live records there are.
    async fn newest(&self, object: Object) -> Result<(i64, Option<u64>), ConnectorError> {
        let page = self
            .search(object, &search::newest_request(object.cursor_field()))
            .await?;
        let newest = page
            .results
            .first()
            .and_then(|r| modified_ms(r, object))
            .unwrap_or(0);
        Ok((newest, page.total))
    }

    /// Search returns no associations: reads the companies of `records` through the
    /// associations v4 batch endpoint and puts them where the list endpoint would.
    async fn attach_companies(
        &self,
        object: Object,
        records: &mut [Value],
    ) -> Result<(), ConnectorError> {
        let Some(to) = object.associations() else {
            return Ok(());
        };
        let ids: Vec<String> = records.iter().filter_map(mapping::record_id).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let url = self.associations_url(object, to);
        // A 207 lists the records without any association under `errors`: not a failure.
        let response = self
            .ctx
            .http
            .post_json(&url, &search::associations_request(&ids))
            .await?;
        search::attach_companies(records, &response.body, object.singular());
        Ok(())
    }

    /// The state to read from in `mode`, given the saved one.
    async fn starting_cursor(
        &self,
        object: Object,
        mode: SyncMode,
        state: Option<StreamState>,
    ) -> Result<Cursor, ConnectorError> {
        let cursor = Cursor::from_state(state, object.name());
        match mode {
            SyncMode::FullRefresh if cursor.is_full_refresh() && cursor != Cursor::default() => {
                Ok(cursor)
            }
            SyncMode::FullRefresh if cursor.is_full_refresh() => {
                // The list endpoint has no total: one search says how many records a
                // complete read must yield.
                let (_, total) = self.newest(object).await?;
                Ok(Cursor {
                    total,
                    ..Cursor::default()
                })
            }
            SyncMode::FullRefresh => {
                // Resuming an incremental run's list read as a refresh would let the sweep
                // delete the rows read before the refresh began.
                tracing::info!(
                    stream = object.name(),
                    "full refresh requested; starting over from incremental state"
                );
                Ok(Cursor::default())
            }
            SyncMode::Incremental if cursor.since.is_some() || cursor.mark.is_some() => Ok(cursor),
            SyncMode::Incremental => {
                if cursor != Cursor::default() {
                    tracing::info!(
                        stream = object.name(),
                        "incremental run after a cut-off full refresh; reading everything first"
                    );
                }
                // The high-water mark is taken before the full read: a record changed while
                // the read pages past it gets a later time and is read by the next run.
                let (mark, total) = self.newest(object).await?;
                Ok(Cursor {
                    mark: Some(mark),
                    total,
                    ..Cursor::default()
                })
            }
        }
    }

    /// A full read through the list endpoint: a full refresh, or the first incremental run
    /// (`cursor.mark` set), which ends with the mark as its high-water mark.
    fn read_listing<'a>(
        &'a self,
        object: Object,
        run: &'a RunContext,
        mut cursor: Cursor,
    ) -> BoxStream<'a, Result<ReadItem, ConnectorError>> {
        Box::pin(try_stream! {
            let incremental = cursor.mark.is_some();
            loop {
                let page = self.list_page(object, run, cursor.archived, cursor.after.as_deref()).await?;
                if cursor.archived {
                    for raw in page.results {
                        yield self.archived_item(object, raw);
                    }
                } else {
                    if cursor.total.is_some() {
                        cursor.read += page.results.len() as u64;
                    }
                    for item in self.map_page(object, page.results, run, incremental).await? {
                        yield item;
                    }
                }
                let end = || match cursor.mark {
                    Some(mark) => Cursor { since: Some(mark), ..Cursor::default() }.to_state(),
                    None => StreamState(Value::Null),
                };
                match page.next {
                    Some(next) => cursor.after = Some(next),
                    None if !cursor.archived => {
                        if let Some(total) = cursor.total {
                            reconcile(object, "full read", total, cursor.read);
                            yield ReadItem::Count(SourceCount { phase: "full read".into(), source: total, read: cursor.read });
                        }
                        if !object.reads_archived() {
                            yield ReadItem::Checkpoint(end());
                            break;
                        }
                        // Live records done: deletes come from the archived listing next.
                        cursor = Cursor { archived: true, mark: cursor.mark, ..Cursor::default() };
                    }
                    None => {
                        yield ReadItem::Checkpoint(end());
                        break;
                    }
                }
                yield ReadItem::Checkpoint(cursor.to_state());
            }
        })
    }

    /// An incremental run from a high-water mark: the search window, then the archived
    /// listing for deletes.
    fn read_changes<'a>(
        &'a self,
        object: Object,
        run: &'a RunContext,
        mut cursor: Cursor,
    ) -> BoxStream<'a, Result<ReadItem, ConnectorError>> {
        Box::pin(try_stream! {
            let since = cursor.since.unwrap_or(0);
            if !cursor.archived {
                let overlap_ms = i64::try_from(self.config.overlap_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
                let mut window = cursor
                    .window
                    .take()
                    .unwrap_or_else(|| Window::starting_at(since.saturating_sub(overlap_ms).max(0)));
                let url = self.search_url(object);
                let properties = run.property_refs();
                loop {
                    let body = window.request(object.cursor_field(), &properties, self.config.search_page_size);
                    let page = self.search(object, &body).await?;
                    if cursor.total.is_none() {
                        // The window's first query: how many records it holds.
                        cursor.total = page.total;
                    }
                    let mut results = page.results;
                    self.attach_companies(object, &mut results).await?;
                    let keys: Vec<(String, Option<i64>)> = results
                        .iter()
                        .map(|r| (mapping::record_id(r).unwrap_or_default(), modified_ms(r, object)))
                        .collect();
                    let step = window
                        .advance(&keys, page.has_next, object.cursor_field())
                        .map_err(|e| ConnectorError::Decode { url: url.clone(), message: e.to_string() })?;
                    tracing::debug!(stream = object.name(), records = results.len(), from = window.from, "hubspot search page");
                    let fresh: Vec<Value> = results
                        .into_iter()
                        .zip(step.emit)
                        .filter_map(|(raw, emit)| emit.then_some(raw))
                        .collect();
                    cursor.read += fresh.len() as u64;
                    for item in self.map_page(object, fresh, run, true).await? {
                        yield item;
                    }
                    match step.done {
                        None => {
                            cursor.window = Some(window.clone());
                            yield ReadItem::Checkpoint(cursor.to_state());
                        }
                        Some(high) => {
                            if let Some(total) = cursor.total {
                                reconcile(object, "search window", total, cursor.read);
                                yield ReadItem::Count(SourceCount { phase: "search window".into(), source: total, read: cursor.read });
                            }
                            let new_since = since.max(high);
                            tracing::info!(stream = object.name(), since, new_since, read = cursor.read, "hubspot changes read");
                            // The high-water mark moves only now that the whole window is read.
                            cursor = Cursor { since: Some(new_since), archived: true, ..Cursor::default() };
                            if !object.reads_archived() {
                                yield ReadItem::Checkpoint(Cursor { since: Some(new_since), ..Cursor::default() }.to_state());
                                return;
                            }
                            yield ReadItem::Checkpoint(cursor.to_state());
                            break;
                        }
                    }
                }
            }
            // Search never returns archived records: their deletes come from the listing.
            loop {
                let page = self.list_page(object, run, true, cursor.after.as_deref()).await?;
                for raw in page.results {
                    yield self.archived_item(object, raw);
                }
                match page.next {
                    Some(next) => {
                        cursor.after = Some(next);
                        yield ReadItem::Checkpoint(cursor.to_state());
                    }
                    None => {
                        yield ReadItem::Checkpoint(Cursor { since: cursor.since, ..Cursor::default() }.to_state());
                        break;
                    }
                }
            }
        })
    }
}

/// A record's last-modified time in epoch milliseconds: the object's modified property, else
/// `updatedAt`.
fn modified_ms(raw: &Value, object: Object) -> Option<i64> {
    raw.get("properties")
        .and_then(|p| p.get(object.cursor_field()))
        .and_then(Value::as_str)
        .and_then(mapping::parse_datetime)
        .or_else(|| mapping::updated_at(raw))
        .map(|t| t.timestamp_millis())
}

/// Compares what the vendor said a read holds with what was read; a shortfall is the silent
/// loss peers shipped (airbyte#23630, #34446), so it is a warning, never quiet.
fn reconcile(object: Object, phase: &str, total: u64, read: u64) {
    if read < total {
        tracing::warn!(
            stream = object.name(),
            phase,
            total,
            read,
            missing = total - read,
            "hubspot reported more records than were read"
        );
    } else {
        tracing::debug!(
            stream = object.name(),
            phase,
            total,
            read,
            "hubspot counts reconcile"
        );
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
            .get_json(
                &self.list_url(Object::Companies),
                &[("limit", "1".to_owned())],
            )
            .await
            .map(|_| ())
    }

    fn streams(&self) -> Vec<StreamSpec> {
        Object::ALL.into_iter().map(Object::spec).collect()
    }

    fn read<'a>(
        &'a self,
        stream: &'a StreamSpec,
        mode: SyncMode,
        state: Option<StreamState>,
    ) -> BoxStream<'a, Result<ReadItem, ConnectorError>> {
        Box::pin(try_stream! {
            let Some(object) = Object::from_name(&stream.name) else {
                Err(self.config_error(format!("hubspot has no stream `{}`", stream.name)))?;
                return;
            };
            // Before anything is read: a mapping naming a property the portal lacks fails
            // here, and the pipelines are read once for the whole run of the stream.
            let run = self.run_context(object).await?;
            let cursor = self.starting_cursor(object, mode, state).await?;
            let mut items = if cursor.since.is_some() {
                self.read_changes(object, &run, cursor)
            } else {
                self.read_listing(object, &run, cursor)
            };
            while let Some(item) = items.next().await {
                yield item?;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tributary_connector::{HttpClient, HttpClientConfig};

    fn ctx() -> ConnectorContext {
        ConnectorContext {
            instance: "hs".to_owned(),
            http: HttpClient::new(HttpClientConfig::default(), Auth::None).unwrap(),
        }
    }

    fn config(v: Value) -> Result<HubspotConfig, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn config_has_defaults_and_refuses_unknown_fields() {
        let c = config(json!({"access_token": "pat-na1-x"})).unwrap();
        assert_eq!(c.endpoint, "https://api.hubapi.com");
        assert_eq!(c.page_size, 100);
        assert_eq!(c.search_page_size, 200);
        assert_eq!(c.overlap_secs, 300);
        assert_eq!(c.default_currency, "USD");
        assert_eq!(c.mapping, MappingSettings::default());
        assert_eq!(c.access_token.expose_secret(), "pat-na1-x");
        let err = config(json!({"access_token": "x", "mapping": {"arr": "hs_arr"}})).unwrap_err();
        assert!(err.to_string().contains("unknown field `arr`"), "{err}");
        assert!(!format!("{c:?}").contains("pat-na1-x"), "token is redacted");
        let err = config(json!({"access_token": "x", "pagesize": 5})).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `pagesize`"),
            "{err}"
        );
    }

    #[test]
    fn invalid_configs_are_refused_with_the_field_named() {
        let cases = [
            (
                json!({"access_token": "x", "page_size": 0}),
                "page_size must be between 1 and 100, got 0",
            ),
            (
                json!({"access_token": "x", "page_size": 101}),
                "page_size must be between 1 and 100, got 101",
            ),
            (
                json!({"access_token": "x", "search_page_size": 201}),
                "search_page_size must be between 1 and 200, got 201",
            ),
            (
                json!({"access_token": "x", "search_page_size": 0}),
                "search_page_size must be between 1 and 200, got 0",
            ),
            (
                json!({"access_token": "x", "endpoint": "api.hubapi.com"}),
                "endpoint `api.hubapi.com` is not a URL",
            ),
            (
                json!({"access_token": "x", "endpoint": "ftp://h"}),
                "must be an http(s) URL",
            ),
            (
                json!({"access_token": "x", "default_currency": "dollars"}),
                "default_currency: invalid currency code `dollars`",
            ),
            (json!({}), "access_token is required"),
            (
                json!({"access_token": "x", "mapping": {"default_term_months": 0}}),
                "mapping.default_term_months: must be between 1 and 120, got 0",
            ),
            (
                json!({"access_token": "x", "mapping": {"term_field": "term months"}}),
                "mapping.term_field: `term months` is not a field name",
            ),
        ];
        for (v, expected) in cases {
            let err = HubspotConnector::new(ctx(), config(v.clone()).unwrap()).unwrap_err();
            assert!(matches!(err, ConnectorError::Config { .. }));
            assert!(err.to_string().contains(expected), "{v}: {err}");
            assert!(err.to_string().contains("`hs`"), "{err}");
        }
    }

    #[test]
    fn streams_declare_entity_cursor_and_mode() {
        let c = HubspotConnector::new(
            ctx(),
            HubspotConfig::new("http://127.0.0.1:1/", SecretString::from("t")),
        )
        .unwrap();
        assert_eq!(c.kind(), "hubspot");
        assert_eq!(c.instance(), "hs");
        assert_eq!(
            c.list_url(Object::Deals),
            "http://127.0.0.1:1/crm/v3/objects/deals"
        );
        let streams = c.streams();
        let summary: Vec<(&str, EntityKind, Option<&str>)> = streams
            .iter()
            .map(|s| (s.name.as_str(), s.entity, s.cursor_field.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "companies",
                    EntityKind::Account,
                    Some("hs_lastmodifieddate")
                ),
                ("contacts", EntityKind::Person, Some("lastmodifieddate")),
                (
                    "deals",
                    EntityKind::Subscription,
                    Some("hs_lastmodifieddate")
                ),
                (
                    "deal_contacts",
                    EntityKind::DealContact,
                    Some("hs_lastmodifieddate")
                ),
            ]
        );
        assert!(
            streams
                .iter()
                .all(|s| s.modes == [SyncMode::Incremental, SyncMode::FullRefresh]),
            "incremental first: scheduled runs are incremental"
        );
        assert!(matches!(http_auth(c.config(), "t"), Ok(Auth::Bearer(_))));
        assert_eq!(c.mapping(), &default_mapping());
    }

    #[test]
    fn the_mapping_decides_which_deal_properties_are_requested() {
        let config = HubspotConfig {
            mapping: simulator_mapping(),
            ..HubspotConfig::new("http://127.0.0.1:1/", SecretString::from("t"))
        };
        let c = HubspotConnector::new(ctx(), config).unwrap();
        let existing: BTreeSet<String> = ["deal_currency_code".to_owned()].into();
        let props = c.deal_properties(&existing);
        for p in [
            "amount",
            "term_months",
            "deal_motion",
            "deal_currency_code",
            "dealstage",
            "pipeline",
        ] {
            assert!(props.iter().any(|q| q == p), "{p}: {props:?}");
        }
        assert!(!props.iter().any(|q| q == "dealtype"), "{props:?}");
        // No multi-currency: the property is not requested.
        let props = c.deal_properties(&BTreeSet::new());
        assert!(
            !props.iter().any(|q| q == "deal_currency_code"),
            "{props:?}"
        );
        let m = c.mapping();
        assert_eq!(mapping_key(m, "term_months"), "term_field");
        assert_eq!(mapping_key(m, "amount"), "amount_field");
        assert_eq!(mapping_key(m, "deal_motion"), "motion_field");
    }

    #[test]
    fn cursor_state_round_trips_and_tolerates_garbage() {
        let check = |cursor: Cursor, expected: Value| {
            assert_eq!(cursor.to_state().0, expected);
            assert_eq!(Cursor::from_state(Some(cursor.to_state()), "deals"), cursor);
        };
        let live = Cursor {
            after: Some("513".into()),
            ..Cursor::default()
        };
        assert!(live.is_full_refresh());
        check(live, json!({"after": "513"}));
        let archived = Cursor {
            archived: true,
            ..Cursor::default()
        };
        check(archived, json!({"archived": true}));
        let first_read = Cursor {
            after: Some("9".into()),
            mark: Some(1_709_251_200_000),
            total: Some(40),
            read: 7,
            ..Cursor::default()
        };
        assert!(!first_read.is_full_refresh());
        check(
            first_read,
            json!({"after": "9", "mark": 1_709_251_200_000_i64, "total": 40, "read": 7}),
        );
        let windowed = Cursor {
            since: Some(1_000),
            window: Some(Window {
                from: 900,
                past: false,
                seen: vec!["5".into()],
                by_id: None,
            }),
            total: Some(3),
            read: 1,
            ..Cursor::default()
        };
        check(
            windowed,
            json!({"since": 1000, "window": {"from": 900, "seen": ["5"]}, "total": 3, "read": 1}),
        );
        check(
            Cursor {
                since: Some(5),
                ..Cursor::default()
            },
            json!({"since": 5}),
        );
        assert_eq!(
            Cursor::from_state(Some(StreamState(json!([1]))), "deals"),
            Cursor::default()
        );
        assert_eq!(
            Cursor::from_state(Some(StreamState(json!({"since": "yesterday"}))), "deals"),
            Cursor::default()
        );
        assert_eq!(Cursor::from_state(None, "deals"), Cursor::default());
    }

    #[test]
    fn modified_times_come_from_the_objects_own_property() {
        let contact = json!({"id": "1", "properties": {"lastmodifieddate": "2024-03-01T00:00:00.001Z",
            "hs_lastmodifieddate": "2020-01-01T00:00:00Z"}});
        assert_eq!(
            modified_ms(&contact, Object::Contacts),
            Some(1_709_251_200_001)
        );
        assert_eq!(
            modified_ms(&contact, Object::Companies),
            Some(1_577_836_800_000)
        );
        let top_level = json!({"id": "1", "updatedAt": "2024-03-01T00:00:00Z", "properties": {}});
        assert_eq!(
            modified_ms(&top_level, Object::Deals),
            Some(1_709_251_200_000)
        );
        assert_eq!(modified_ms(&json!({"id": "1"}), Object::Deals), None);
    }

    #[test]
    fn pages_decode_or_fail_loudly() {
        let p = parse_page(
            "u",
            json!({"results": [{"id": "1"}], "paging": {"next": {"after": "2", "link": "x"}}}),
        )
        .unwrap();
        assert_eq!((p.results.len(), p.next.as_deref()), (1, Some("2")));
        let p = parse_page("u", json!({"results": []})).unwrap();
        assert_eq!(p.next, None);
        assert!(matches!(
            parse_page("u", json!({"status": "error"})),
            Err(ConnectorError::Decode { .. })
        ));
        assert!(matches!(
            parse_page("u", json!([])),
            Err(ConnectorError::Decode { .. })
        ));
        assert!(
            parse_page(
                "u",
                json!({"results": [], "paging": {"next": {"after": {}}}})
            )
            .is_err()
        );
    }
}
