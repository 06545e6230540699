//! The Salesforce connector: `Account`, `Contact`, `Opportunity` or `Contract`,
//! `OpportunityContactRole` and `DatedConversionRate` over the REST query API (`GET
//! /services/data/<version>/query` and `/queryAll`), mapped to accounts, people,
//! subscriptions, deal contacts and FX rates.
//!
//! Key types:
//! - [`SalesforceConfig`]: the `[connectors.<name>]` section of `tributary.toml` for
//!   `kind = "salesforce"`, with the revenue field mapping (`[connectors.<name>.mapping]`,
//!   over [`default_mapping`]).
//! - [`SalesforceConnector`]: implements [`tributary_connector::Connector`]. Streams:
//!   `Account`, `Contact`, then `Opportunity` and `OpportunityContactRole` (subscriptions from
//!   opportunities, the default) or `Contract` (`subscriptions_from = "contract"`), then
//!   `DatedConversionRate` (`fx_rates`, full refresh only); the others incremental (first) or
//!   full refresh.
//! - [`mapping`]: the pure functions from Salesforce's JSON to the model, with [`MapError`].
//! - [`quota_observer`]: turns the daily `REQUEST_LIMIT_EXCEEDED` into
//!   [`ConnectorError::QuotaExhausted`]; `reserve_api_requests` stops a read earlier, from
//!   `Sforce-Limit-Info`.
//!
//! Every read is one SOQL query ordered by `SystemModstamp, Id`, paged through
//! `nextRecordsUrl`, with a checkpoint after every batch holding the last `(SystemModstamp,
//! Id)` read — never the `nextRecordsUrl`, whose cursor expires. A resumed read queries again
//! from that stamp and skips what it had read. A full refresh uses `query` (live rows only; the
//! engine's sweep deletes the rest) and ends with [`ReadItem::Complete`] holding the last
//! stamp served as the next incremental run's mark. An incremental run uses
//! `queryAll` from the saved high-water mark minus `overlap_secs`, so soft-deleted rows arrive
//! with `IsDeleted = true` and become deletes, and saves the newest stamp read as the next
//! mark; with no mark it reads everything first. Only closed-won opportunities (activated or
//! expired contracts) are subscriptions: a full refresh skips the others, an incremental run
//! deletes them. The first request of every read asks for `batch_size` records per batch
//! (`Sforce-Query-Options`).
//!
//! Before the first query of `Account`, `Opportunity` or `Contract` the object's `describe` is
//! read (cached for [`DESCRIBE_MAX_AGE`], so once per run): `CurrencyIsoCode` is selected only
//! where it exists (single-currency orgs refuse it), the mapping's fields only when the
//! mapping names them, and a configured field the object lacks fails the read with a config
//! error before any record. An `Account` read first loads the org's users (one query) and
//! maps `OwnerId` to the owner's email; a `DatedConversionRate` read first finds the corporate
//! currency, and reads nothing in a single-currency org.
//!
//! A full refresh from scratch of more than `bulk_threshold` rows runs the same SOQL as a Bulk
//! API 2.0 query job instead (`bulk.rs`), checkpointing the same position after every results
//! page, so that a cut-off bulk read resumes through REST.
//!
//! After the token request every call goes to the token response's `instance_url`
//! ([`tributary_connector::TokenExtras::instance_url`]); with a static bearer session id, to
//! `endpoint`.
//!
//! What it must not do: open its own HTTP client, read the environment, sleep or retry on its
//! own (the runtime's [`tributary_connector::HttpClient`] retries and refreshes tokens on
//! `INVALID_SESSION_ID`), log tokens, or panic on vendor data.

mod bulk;
mod kind;
pub mod mapping;

pub use bulk::{
    DEFAULT_BULK_MAX_RECORDS, DEFAULT_BULK_POLL_INTERVAL_MS, DEFAULT_BULK_THRESHOLD,
    DEFAULT_BULK_TIMEOUT_SECS,
};

pub use kind::{DECLARATION, SalesforceKind};
pub use mapping::MapError;

use async_stream::try_stream;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use futures::{StreamExt, stream::BoxStream};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tributary_connector::{
    Auth, AuthSettings, Connector, ConnectorContext, ConnectorError, DeleteStrategy, HeaderName,
    HeaderValue, HttpRequest, HttpResponse, MappingSettings, ObservedResponse, QuotaVerdict,
    ReadItem, Reject, RevenueMapping, SourceCount, StreamSpec, StreamState, SyncMode,
    quota_readings,
};
use tributary_model::{Currency, Entity, EntityKind, ExternalRef, RevenueEventKind, SourceRecord};

/// The connector kind in `tributary.toml`.
pub const KIND: &str = "salesforce";

/// Salesforce's production login URL.
pub const DEFAULT_ENDPOINT: &str = "https://login.salesforce.com";

/// The REST API version used unless configured.
pub const DEFAULT_API_VERSION: &str = "v62.0";

/// How far an incremental run reads back behind the saved high-water mark unless configured.
pub const DEFAULT_OVERLAP_SECS: u64 = 300;

/// Records per query batch asked for through `Sforce-Query-Options` unless configured (the
/// most Salesforce serves).
pub const DEFAULT_BATCH_SIZE: u32 = 2000;

/// The smallest `batch_size` Salesforce accepts.
pub const MIN_BATCH_SIZE: u32 = 200;

/// How long an object's `describe` is trusted: a sync run describes each object once, and a
/// field dropped or added in the org is seen by the next run after this.
pub const DESCRIBE_MAX_AGE: Duration = Duration::from_secs(600);

/// Where subscriptions come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionSource {
    /// Closed-won opportunities (the `Opportunity` stream): term from `CloseDate`.
    #[default]
    Opportunity,
    /// Activated and expired contracts (the `Contract` stream): `StartDate` to `EndDate`.
    Contract,
}

/// Salesforce's standard revenue mapping: ARR from `Amount` over a 12-month term, no custom
/// fields, motion from the standard opportunity `Type` picklist (`New Customer`, `Existing
/// Customer - Upgrade` / `- Replacement` / `- Downgrade`). `[connectors.<name>.mapping]`
/// overlays it.
pub fn default_mapping() -> RevenueMapping {
    RevenueMapping {
        arr_field: None,
        amount_field: "Amount".to_owned(),
        term_field: None,
        default_term_months: 12,
        motion_field: Some("Type".to_owned()),
        motions: BTreeMap::from([
            ("New Customer".to_owned(), RevenueEventKind::New),
            (
                "Existing Customer - Upgrade".to_owned(),
                RevenueEventKind::Expansion,
            ),
            (
                "Existing Customer - Replacement".to_owned(),
                RevenueEventKind::Renewal,
            ),
            (
                "Existing Customer - Downgrade".to_owned(),
                RevenueEventKind::Contraction,
            ),
        ]),
    }
}

/// Configuration of one Salesforce connector instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SalesforceConfig {
    /// The login URL (`https://login.salesforce.com`, `https://test.salesforce.com` or a My
    /// Domain); REST calls go to the `instance_url` the token endpoint returns, or here when
    /// `auth` is a static bearer session id. Point it at the simulator in tests and the demo.
    pub endpoint: String,
    /// REST API version, `vNN.N`.
    pub api_version: String,
    /// Credentials: a `[connectors.<name>.auth]` table, `kind = "oauth2"` with
    /// `grant = "refresh_token"` (`client_id`, `client_secret`, `refresh_token`) or
    /// `grant = "jwt_bearer"` (`client_id`, `username`, `audience`, `private_key_pem`), and
    /// `token_url = "<endpoint>/services/oauth2/token"`; or `kind = "bearer"` with a session id.
    pub auth: AuthSettings,
    /// Seconds an incremental run reads back behind the saved high-water mark, so that rows
    /// committed with a stamp just behind it are not lost. Re-read rows are identical upserts.
    pub overlap_secs: u64,
    /// ISO 4217 currency of opportunities without `CurrencyIsoCode` (single-currency orgs).
    pub default_currency: String,
    /// Daily API requests to leave to the org's other integrations: when `Sforce-Limit-Info`
    /// shows this many or fewer left, the run stops at its checkpoint with
    /// `QuotaExhausted` instead of spending them. 0 reads until Salesforce refuses.
    pub reserve_api_requests: u64,
    /// Records (the first REST batch's `totalSize`) above which a full refresh that starts from
    /// scratch reads through a Bulk API 2.0 query job instead of paging the REST query. 0 never
    /// uses Bulk. Incremental runs and resumed reads always use REST.
    pub bulk_threshold: u64,
    /// Milliseconds before the first poll of a Bulk query job's state; the wait doubles per
    /// poll up to eight times this.
    pub bulk_poll_interval_ms: u64,
    /// Records per Bulk results page (`maxRecords`); a checkpoint follows every page.
    pub bulk_max_records: u64,
    /// Seconds a Bulk query job may take to complete before it is aborted and the stream fails.
    pub bulk_timeout_secs: u64,
    /// How won deals become subscriptions: a `[connectors.<name>.mapping]` table overlaying
    /// [`default_mapping`] (`arr_field`, `amount_field`, `term_field`, `default_term_months`,
    /// `motion_field`, `motions`). Every field it names must exist on the object read
    /// (checked through `describe` before any record is loaded).
    pub mapping: MappingSettings,
    /// Records per query batch, 200 to 2000, asked for with `Sforce-Query-Options:
    /// batchSize=N` on the first request of every read (a hint Salesforce may undercut).
    pub batch_size: u32,
    /// `opportunity` (closed-won opportunities are subscriptions, the default) or `contract`
    /// (activated and expired contracts are; the mapping then names `Contract` fields).
    pub subscriptions_from: SubscriptionSource,
    /// Whether to sync the org's dated exchange rates (`DatedConversionRate`) as FX rates. A
    /// single-currency org has none: the stream then reads nothing.
    pub fx_rates: bool,
}

impl Default for SalesforceConfig {
    fn default() -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            auth: AuthSettings::None,
            overlap_secs: DEFAULT_OVERLAP_SECS,
            default_currency: "USD".to_owned(),
            reserve_api_requests: 0,
            bulk_threshold: bulk::DEFAULT_BULK_THRESHOLD,
            bulk_poll_interval_ms: bulk::DEFAULT_BULK_POLL_INTERVAL_MS,
            bulk_max_records: bulk::DEFAULT_BULK_MAX_RECORDS,
            bulk_timeout_secs: bulk::DEFAULT_BULK_TIMEOUT_SECS,
            mapping: MappingSettings::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            subscriptions_from: SubscriptionSource::Opportunity,
            fx_rates: true,
        }
    }
}

impl SalesforceConfig {
    /// Checks every value; the message names the field.
    pub fn validate(&self, instance: &str) -> Result<(), ConnectorError> {
        let fail = |message: String| ConnectorError::Config {
            instance: instance.to_owned(),
            message,
        };
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
        let version_ok = self
            .api_version
            .strip_prefix('v')
            .and_then(|v| v.split_once('.'))
            .is_some_and(|(major, minor)| {
                !major.is_empty()
                    && !minor.is_empty()
                    && major.bytes().all(|b| b.is_ascii_digit())
                    && minor.bytes().all(|b| b.is_ascii_digit())
            });
        if !version_ok {
            return Err(fail(format!(
                "api_version must look like `v62.0`, got `{}`",
                self.api_version
            )));
        }
        Currency::parse(&self.default_currency)
            .map_err(|e| fail(format!("default_currency: {e}")))?;
        bulk::validate(self).map_err(fail)?;
        if !(MIN_BATCH_SIZE..=DEFAULT_BATCH_SIZE).contains(&self.batch_size) {
            return Err(fail(format!(
                "batch_size must be between {MIN_BATCH_SIZE} and {DEFAULT_BATCH_SIZE}, got {}",
                self.batch_size
            )));
        }
        self.mapping
            .resolve(default_mapping())
            .map_err(|e| fail(e.to_string()))?;
        match self.auth {
            AuthSettings::Oauth2(_) | AuthSettings::Bearer { .. } => Ok(()),
            _ => Err(fail(
                "auth must be `kind = \"oauth2\"` (refresh_token or jwt_bearer) or `kind = \"bearer\"`"
                    .to_owned(),
            )),
        }
    }
}

/// The [`Auth`] the runtime's HTTP client must carry for `config`.
pub fn http_auth(config: &SalesforceConfig, instance: &str) -> Result<Auth, ConnectorError> {
    config.auth.build(instance)
}

/// Turns Salesforce's daily-limit refusal (403 `REQUEST_LIMIT_EXCEEDED`, `TotalRequests Limit
/// exceeded.`) into [`ConnectorError::QuotaExhausted`]; the concurrency variant of the same
/// code stays an ordinary retryable refusal. [`SalesforceConnector::new`] installs it.
pub fn quota_observer(response: &ObservedResponse<'_>) -> QuotaVerdict {
    if response.status.as_u16() != 403 {
        return QuotaVerdict::Continue;
    }
    let errors: Vec<Value> = serde_json::from_slice(response.body).unwrap_or_default();
    let daily = errors.iter().any(|e| {
        e.get("errorCode").and_then(Value::as_str) == Some("REQUEST_LIMIT_EXCEEDED")
            && e.get("message")
                .and_then(Value::as_str)
                .is_some_and(|m| m.contains("TotalRequests"))
    });
    if !daily {
        return QuotaVerdict::Continue;
    }
    let usage = response
        .headers
        .get("sforce-limit-info")
        .and_then(|v| v.to_str().ok())
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    QuotaVerdict::Exhausted {
        message: format!("Salesforce daily API request limit reached{usage}"),
        resume_at: None,
    }
}

/// Daily API requests left, from `Sforce-Limit-Info: api-usage=used/max`.
fn daily_remaining(response: &HttpResponse) -> Option<u64> {
    quota_readings(&response.headers)
        .into_iter()
        .find(|r| r.header == "Sforce-Limit-Info")
        .map(|r| r.remaining as u64)
}

/// The sObjects this connector reads, one stream each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Object {
    Account,
    Contact,
    Opportunity,
    Contract,
    OpportunityContactRole,
    DatedConversionRate,
}

impl Object {
    const ALL: [Object; 6] = [
        Object::Account,
        Object::Contact,
        Object::Opportunity,
        Object::Contract,
        Object::OpportunityContactRole,
        Object::DatedConversionRate,
    ];

    fn name(self) -> &'static str {
        match self {
            Object::Account => "Account",
            Object::Contact => "Contact",
            Object::Opportunity => "Opportunity",
            Object::Contract => "Contract",
            Object::OpportunityContactRole => "OpportunityContactRole",
            Object::DatedConversionRate => "DatedConversionRate",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }

    fn entity(self) -> EntityKind {
        match self {
            Object::Account => EntityKind::Account,
            Object::Contact => EntityKind::Person,
            Object::Opportunity | Object::Contract => EntityKind::Subscription,
            Object::OpportunityContactRole => EntityKind::DealContact,
            Object::DatedConversionRate => EntityKind::FxRate,
        }
    }

    /// The fields every read of the object selects; `CurrencyIsoCode` (when the org has it)
    /// and the mapping's fields come on top ([`SalesforceConnector::select_list`]).
    fn base_fields(self) -> &'static [&'static str] {
        match self {
            Object::Account => &[
                "Id",
                "Name",
                "Industry",
                "BillingCountry",
                "Website",
                "NumberOfEmployees",
                "OwnerId",
                "CreatedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
            Object::Contact => &[
                "Id",
                "AccountId",
                "FirstName",
                "LastName",
                "Email",
                "Title",
                "CreatedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
            Object::Opportunity => &[
                "Id",
                "AccountId",
                "Name",
                "StageName",
                "CloseDate",
                "IsWon",
                "IsClosed",
                "SystemModstamp",
                "IsDeleted",
            ],
            Object::Contract => &[
                "Id",
                "AccountId",
                "ContractNumber",
                "Status",
                "StatusCode",
                "StartDate",
                "EndDate",
                "ContractTerm",
                "SystemModstamp",
                "IsDeleted",
            ],
            Object::OpportunityContactRole => &[
                "Id",
                "OpportunityId",
                "ContactId",
                "Role",
                "IsPrimary",
                "SystemModstamp",
                "IsDeleted",
            ],
            // No `IsDeleted`: rates are edited, never soft-deleted.
            Object::DatedConversionRate => &[
                "Id",
                "IsoCode",
                "ConversionRate",
                "StartDate",
                "NextStartDate",
                "SystemModstamp",
            ],
        }
    }

    /// Whether the object may carry `CurrencyIsoCode` in a multi-currency org.
    fn has_currency(self) -> bool {
        matches!(
            self,
            Object::Account | Object::Opportunity | Object::Contract
        )
    }

    fn spec(self) -> StreamSpec {
        match self {
            // A small table read whole every time: no incremental mode.
            Object::DatedConversionRate => StreamSpec {
                name: self.name().to_owned(),
                entity: self.entity(),
                cursor_field: None,
                modes: vec![SyncMode::FullRefresh],
                // Read whole each time; a rate the refresh no longer sees is swept.
                delete_strategy: DeleteStrategy::KeyDiff,
            },
            _ => StreamSpec {
                name: self.name().to_owned(),
                entity: self.entity(),
                cursor_field: Some("SystemModstamp".to_owned()),
                modes: vec![SyncMode::Incremental, SyncMode::FullRefresh],
                // `queryAll` returns rows with `IsDeleted = true`.
                delete_strategy: DeleteStrategy::NativeFeed,
            },
        }
    }
}

/// A `describe` result and when it was fetched; `None` when the org has no such object.
type CachedDescribe = (Instant, Option<Arc<Describe>>);

/// What `describe` says about an sObject: its fields, by lowercased API name.
#[derive(Debug, Clone, Default)]
struct Describe {
    fields: HashMap<String, String>,
}

impl Describe {
    fn from_body(body: &Value) -> Option<Self> {
        let fields = body.get("fields")?.as_array()?;
        Some(Self {
            fields: fields
                .iter()
                .filter_map(|f| f.get("name")?.as_str())
                .map(|n| (n.to_ascii_lowercase(), n.to_owned()))
                .collect(),
        })
    }

    /// The field's API name as the org spells it, when the object has it.
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// The last record read: its `SystemModstamp` and `Id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    modstamp: DateTime<Utc>,
    id: String,
}

/// The state of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cursor {
    /// The high-water mark of the last completed incremental run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<DateTime<Utc>>,
    /// The last record read by the read in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<Position>,
    /// The read in progress is incremental (through `queryAll`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    incremental: bool,
}

impl Cursor {
    fn from_state(state: Option<StreamState>, stream: &str) -> Self {
        StreamState::decode(state, stream)
    }

    fn to_state(&self) -> StreamState {
        StreamState::encode(self)
    }

    /// Whether a record at `(modstamp, id)` was read before this position.
    fn already_read(&self, modstamp: DateTime<Utc>, id: &str) -> bool {
        self.after
            .as_ref()
            .is_some_and(|a| modstamp == a.modstamp && id <= a.id.as_str())
    }
}

/// A SOQL datetime literal, truncated to the second (so `>=` still includes the instant).
fn soql_datetime(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One batch of a query response.
struct Batch {
    records: Vec<Value>,
    next: Option<String>,
    total: Option<u64>,
    /// Daily API requests left, from `Sforce-Limit-Info`.
    api_remaining: Option<u64>,
}

fn parse_batch(url: &str, body: Value) -> Result<Batch, ConnectorError> {
    let decode = |message: &str| ConnectorError::Decode {
        url: url.to_owned(),
        message: message.to_owned(),
    };
    let Value::Object(mut map) = body else {
        return Err(decode("response is not a JSON object"));
    };
    let done = match map.get("done") {
        Some(Value::Bool(b)) => *b,
        _ => return Err(decode("response has no boolean `done`")),
    };
    let next = match map.remove("nextRecordsUrl") {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        None | Some(Value::Null) => None,
        Some(_) => return Err(decode("`nextRecordsUrl` is not a string")),
    };
    if !done && next.is_none() {
        return Err(decode("`done` is false but there is no `nextRecordsUrl`"));
    }
    let total = map.get("totalSize").and_then(Value::as_u64);
    let records = match map.remove("records") {
        Some(Value::Array(records)) => records,
        _ => return Err(decode("response has no `records` array")),
    };
    Ok(Batch {
        records,
        next: if done { None } else { next },
        total,
        api_remaining: None,
    })
}

/// A configured Salesforce connector instance.
#[derive(Debug)]
pub struct SalesforceConnector {
    ctx: ConnectorContext,
    config: SalesforceConfig,
    default_currency: Currency,
    /// `config.mapping` over [`default_mapping`].
    mapping: RevenueMapping,
    /// `describe` results by object, with when they were fetched (`None`: no such object).
    describes: Mutex<HashMap<Object, CachedDescribe>>,
    /// User id → email (else name), loaded at the start of every `Account` read.
    owners: Mutex<Arc<HashMap<String, String>>>,
    /// The org's corporate currency, loaded at the start of every `DatedConversionRate` read.
    corporate: Mutex<Option<Currency>>,
}

impl SalesforceConnector {
    /// Validates `config` and builds the connector; `ctx.http` must carry [`http_auth`]. Installs
    /// [`quota_observer`] on the client.
    pub fn new(
        mut ctx: ConnectorContext,
        config: SalesforceConfig,
    ) -> Result<Self, ConnectorError> {
        config.validate(&ctx.instance)?;
        let default_currency =
            Currency::parse(&config.default_currency).map_err(|e| ConnectorError::Config {
                instance: ctx.instance.clone(),
                message: format!("default_currency: {e}"),
            })?;
        let mapping =
            config
                .mapping
                .resolve(default_mapping())
                .map_err(|e| ConnectorError::Config {
                    instance: ctx.instance.clone(),
                    message: e.to_string(),
                })?;
        ctx.http = ctx.http.with_quota_observer(quota_observer);
        Ok(Self {
            ctx,
            config,
            default_currency,
            mapping,
            describes: Mutex::new(HashMap::new()),
            owners: Mutex::new(Arc::new(HashMap::new())),
            corporate: Mutex::new(None),
        })
    }

    /// The resolved revenue mapping.
    pub fn mapping(&self) -> &RevenueMapping {
        &self.mapping
    }

    /// The object subscriptions come from.
    fn subscription_object(&self) -> Object {
        match self.config.subscriptions_from {
            SubscriptionSource::Opportunity => Object::Opportunity,
            SubscriptionSource::Contract => Object::Contract,
        }
    }

    /// The streams this instance declares, in sync order.
    fn objects(&self) -> Vec<Object> {
        let mut objects = vec![Object::Account, Object::Contact];
        match self.config.subscriptions_from {
            // Contact roles point at opportunities, which are subscriptions only here.
            SubscriptionSource::Opportunity => {
                objects.extend([Object::Opportunity, Object::OpportunityContactRole]);
            }
            SubscriptionSource::Contract => objects.push(Object::Contract),
        }
        if self.config.fx_rates {
            objects.push(Object::DatedConversionRate);
        }
        objects
    }

    /// `GET …/sobjects/{object}/describe`, at most once per [`DESCRIBE_MAX_AGE`]; `None` when
    /// the org has no such object (404).
    async fn describe(&self, object: Object) -> Result<Option<Arc<Describe>>, ConnectorError> {
        let cached = self
            .describes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&object)
            .filter(|(at, _)| at.elapsed() < DESCRIBE_MAX_AGE)
            .map(|(_, d)| d.clone());
        if let Some(describe) = cached {
            return Ok(describe);
        }
        let base = self.instance_url().await?;
        let url = format!(
            "{base}/services/data/{}/sobjects/{}/describe",
            self.config.api_version,
            object.name()
        );
        let describe = match self.ctx.http.send(&HttpRequest::get(&url)).await {
            Ok(response) => Some(Arc::new(Describe::from_body(&response.body).ok_or_else(
                || ConnectorError::Decode {
                    url: url.clone(),
                    message: "the describe result has no `fields` array".to_owned(),
                },
            )?)),
            Err(ConnectorError::Http { status: 404, .. }) => None,
            Err(e) => return Err(e),
        };
        self.describes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(object, (Instant::now(), describe.clone()));
        Ok(describe)
    }

    /// Whether the org has multi-currency enabled: `Opportunity` has `CurrencyIsoCode`.
    async fn multi_currency(&self) -> Result<bool, ConnectorError> {
        Ok(self
            .describe(Object::Opportunity)
            .await?
            .is_some_and(|d| d.field("CurrencyIsoCode").is_some()))
    }

    /// The fields a REST read of `object` selects: its base fields, `CurrencyIsoCode` when the
    /// org has it (a single-currency org answers `INVALID_FIELD` otherwise), and for the
    /// subscription object the mapping's fields. A field the instance configured must exist
    /// (else a config error naming object and field, before any record is read); a default
    /// field the object lacks is left out (`Type` on `Contract`), except the amount when there
    /// is no ARR field, which ARR cannot do without.
    async fn select_list(&self, object: Object) -> Result<Vec<String>, ConnectorError> {
        let mut fields: Vec<String> = object
            .base_fields()
            .iter()
            .map(|f| (*f).to_owned())
            .collect();
        let mapped = object == self.subscription_object();
        if !object.has_currency() && !mapped {
            return Ok(fields);
        }
        let Some(describe) = self.describe(object).await? else {
            return Err(self.config_error(format!(
                "the org has no sObject `{}` (describe answered 404)",
                object.name()
            )));
        };
        if object.has_currency()
            && let Some(f) = describe.field("CurrencyIsoCode")
        {
            fields.push(f.to_owned());
        }
        if mapped {
            let settings = &self.config.mapping;
            let m = &self.mapping;
            let configured =
                |s: &Option<String>| s.as_deref().is_some_and(|v| !v.trim().is_empty());
            let wanted = [
                (
                    "arr_field",
                    m.arr_field.as_deref(),
                    configured(&settings.arr_field),
                ),
                (
                    "amount_field",
                    Some(m.amount_field.as_str()),
                    configured(&settings.amount_field) || m.arr_field.is_none(),
                ),
                (
                    "term_field",
                    m.term_field.as_deref(),
                    configured(&settings.term_field),
                ),
                (
                    "motion_field",
                    m.motion_field.as_deref(),
                    configured(&settings.motion_field),
                ),
            ];
            for (key, field, required) in wanted {
                let Some(field) = field else { continue };
                match describe.field(field) {
                    Some(name) => {
                        if !fields.iter().any(|f| f.eq_ignore_ascii_case(name)) {
                            fields.push(name.to_owned());
                        }
                    }
                    None if required => {
                        return Err(self.config_error(format!(
                            "`{}` has no field `{field}` (mapping.{key}); name a field of `{}` that exists in this org",
                            object.name(),
                            object.name()
                        )));
                    }
                    None => tracing::debug!(
                        object = object.name(),
                        field,
                        key,
                        "default mapping field absent on the object; not selected"
                    ),
                }
            }
        }
        Ok(fields)
    }

    /// Every row of a small query, all batches.
    async fn query_all_rows(&self, soql: String) -> Result<Vec<Value>, ConnectorError> {
        let mut batch = self.first_batch(soql, false).await?;
        let mut rows = std::mem::take(&mut batch.records);
        while let Some(next) = batch.next.take() {
            batch = self.next_batch(&next).await?;
            rows.append(&mut batch.records);
        }
        Ok(rows)
    }

    /// Loads user id → email (else name) for resolving account owners: one query per read.
    async fn load_owners(&self) -> Result<(), ConnectorError> {
        let rows = self
            .query_all_rows("SELECT Id, Email, Name FROM User".to_owned())
            .await?;
        let owners: HashMap<String, String> = rows
            .iter()
            .filter_map(|u| {
                let id = mapping::record_id(u)?;
                let text = |f: &str| {
                    u.get(f)
                        .and_then(Value::as_str)
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                };
                let shown = text("Email")
                    .map(|e| e.to_ascii_lowercase())
                    .or_else(|| text("Name"))?;
                Some((id, shown))
            })
            .collect();
        tracing::debug!(
            users = owners.len(),
            "salesforce users loaded for account owners"
        );
        *self.owners.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(owners);
        Ok(())
    }

    /// Loads the org's corporate currency, which dated rates are quoted against.
    async fn load_corporate(&self) -> Result<Currency, ConnectorError> {
        let rows = self
            .query_all_rows("SELECT IsoCode FROM CurrencyType WHERE IsCorporate = true".to_owned())
            .await?;
        let code = rows
            .first()
            .and_then(|r| r.get("IsoCode"))
            .and_then(Value::as_str)
            .ok_or_else(|| ConnectorError::Decode {
                url: self.config.endpoint.clone(),
                message: "the org has no corporate currency (CurrencyType with IsCorporate = true)"
                    .to_owned(),
            })?;
        let currency = Currency::parse(code).map_err(|e| ConnectorError::Decode {
            url: self.config.endpoint.clone(),
            message: format!("corporate currency `{code}`: {e}"),
        })?;
        *self
            .corporate
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(currency.clone());
        Ok(currency)
    }

    /// Everything a read of `object` needs before its first query: the describe checks and
    /// select list, the owners (`Account`), the corporate currency (`DatedConversionRate`).
    /// `None` when there is nothing to read (rates of a single-currency org).
    async fn prepare(&self, object: Object) -> Result<Option<Vec<String>>, ConnectorError> {
        match object {
            Object::DatedConversionRate => {
                if !self.multi_currency().await? {
                    tracing::info!(
                        "single-currency salesforce org: no dated conversion rates to read"
                    );
                    return Ok(None);
                }
                self.load_corporate().await?;
            }
            Object::Account => self.load_owners().await?,
            _ => {}
        }
        self.select_list(object).await.map(Some)
    }

    /// The validated configuration.
    pub fn config(&self) -> &SalesforceConfig {
        &self.config
    }

    /// Where REST calls go: the token response's `instance_url`, else `endpoint`.
    async fn instance_url(&self) -> Result<String, ConnectorError> {
        let base = match self.ctx.http.token_manager() {
            Some(manager) => {
                let extras = manager.extras().await?;
                match extras.instance_url() {
                    Some(url) => url.to_owned(),
                    None => {
                        return Err(ConnectorError::Decode {
                            url: self.config.endpoint.clone(),
                            message: "the token response has no `instance_url`".to_owned(),
                        });
                    }
                }
            }
            None => self.config.endpoint.clone(),
        };
        Ok(base.trim_end_matches('/').to_owned())
    }

    fn external_ref(&self, object: Object, id: String) -> ExternalRef {
        ExternalRef::new(mapping::SYSTEM, &self.ctx.instance, object.name(), id)
    }

    fn config_error(&self, message: String) -> ConnectorError {
        ConnectorError::Config {
            instance: self.ctx.instance.clone(),
            message,
        }
    }

    /// The SOQL of a read of `fields` from `from` (inclusive) on.
    fn soql_for(object: Object, fields: &[String], from: Option<DateTime<Utc>>) -> String {
        let filter = from
            .map(|t| format!(" WHERE SystemModstamp >= {}", soql_datetime(t)))
            .unwrap_or_default();
        format!(
            "SELECT {} FROM {}{filter} ORDER BY SystemModstamp ASC, Id ASC",
            fields.join(", "),
            object.name()
        )
    }

    /// The first batch of `soql` through `query` or `queryAll`, asking for `batch_size`
    /// records per batch (`Sforce-Query-Options`; later batches keep the query's size).
    async fn first_batch(&self, soql: String, all: bool) -> Result<Batch, ConnectorError> {
        let base = self.instance_url().await?;
        let resource = if all { "queryAll" } else { "query" };
        let url = format!(
            "{base}/services/data/{}/{resource}",
            self.config.api_version
        );
        let options = HeaderValue::from_str(&format!("batchSize={}", self.config.batch_size))
            .map_err(|e| self.config_error(format!("batch_size: {e}")))?;
        let request = HttpRequest::get(&url)
            .query("q", soql)
            .header(HeaderName::from_static("sforce-query-options"), options);
        let response = self.ctx.http.send(&request).await?;
        let api_remaining = daily_remaining(&response);
        Ok(Batch {
            api_remaining,
            ..parse_batch(&url, response.body)?
        })
    }

    /// A further batch at `nextRecordsUrl`, relative to the instance.
    async fn next_batch(&self, next: &str) -> Result<Batch, ConnectorError> {
        let url = if next.starts_with("http://") || next.starts_with("https://") {
            next.to_owned()
        } else {
            format!("{}{next}", self.instance_url().await?)
        };
        let response = self.ctx.http.get_json(&url, &[]).await?;
        let api_remaining = daily_remaining(&response);
        Ok(Batch {
            api_remaining,
            ..parse_batch(&url, response.body)?
        })
    }

    /// Refuses to go on when the org's daily API requests are down to the configured reserve.
    fn keep_reserve(&self, remaining: Option<u64>) -> Result<(), ConnectorError> {
        let reserve = self.config.reserve_api_requests;
        match remaining {
            Some(left) if reserve > 0 && left <= reserve => Err(ConnectorError::QuotaExhausted {
                url: self.config.endpoint.clone(),
                message: format!(
                    "{left} daily API requests left, at or under the reserve of {reserve} (reserve_api_requests)"
                ),
                resume_at: None,
            }),
            _ => Ok(()),
        }
    }

    /// One record as the item to yield: a delete, a record, a reject, or nothing (a not-won
    /// opportunity in a full refresh).
    fn item(
        &self,
        object: Object,
        raw: Value,
        id: String,
        today: NaiveDate,
        incremental: bool,
    ) -> Option<ReadItem> {
        if mapping::is_deleted(&raw) {
            return incremental.then(|| ReadItem::Delete(self.external_ref(object, id)));
        }
        let instance = &self.ctx.instance;
        let entity = match object {
            Object::Account => mapping::map_account(&raw).map(|mut a| {
                // The owner as people know them; an unknown user stays an id.
                let owners = self
                    .owners
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                a.owner = a.owner.map(|id| owners.get(&id).cloned().unwrap_or(id));
                Some(Entity::Account(a))
            }),
            Object::Contact => {
                mapping::map_contact(&raw, instance).map(|p| Some(Entity::Person(p)))
            }
            Object::Opportunity => mapping::map_opportunity(
                &raw,
                instance,
                &self.mapping,
                &self.default_currency,
                today,
            )
            .map(|s| s.map(Entity::Subscription)),
            Object::Contract => {
                mapping::map_contract(&raw, instance, &self.mapping, &self.default_currency, today)
                    .map(|s| s.map(Entity::Subscription))
            }
            Object::OpportunityContactRole => {
                mapping::map_contact_role(&raw, instance).map(|d| Some(Entity::DealContact(d)))
            }
            Object::DatedConversionRate => {
                let corporate = self
                    .corporate
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                match corporate {
                    Some(base) => {
                        mapping::map_dated_rate(&raw, &base).map(|r| r.map(Entity::FxRate))
                    }
                    None => Err(MapError {
                        object: "DatedConversionRate",
                        id: id.clone(),
                        field: "IsoCode".to_owned(),
                        value: None,
                        problem: "the org's corporate currency is not known".to_owned(),
                    }),
                }
            }
        };
        match entity {
            Ok(None) if incremental => Some(ReadItem::Delete(self.external_ref(object, id))),
            Ok(None) => None,
            Ok(Some(entity)) => Some(ReadItem::Record(Box::new(SourceRecord {
                external_ref: self.external_ref(object, id),
                source_updated_at: mapping::modstamp(&raw),
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

    /// The state to read from in `mode`, given the saved one.
    fn starting_cursor(object: Object, mode: SyncMode, state: Option<StreamState>) -> Cursor {
        let cursor = Cursor::from_state(state, object.name());
        match mode {
            SyncMode::FullRefresh if cursor.since.is_none() && !cursor.incremental => cursor,
            SyncMode::FullRefresh => {
                // Resuming an incremental read as a refresh would let the sweep delete the
                // rows read before it began.
                tracing::info!(
                    stream = object.name(),
                    "full refresh requested; starting over from incremental state"
                );
                Cursor::default()
            }
            SyncMode::Incremental if cursor.incremental || cursor.since.is_some() => Cursor {
                incremental: true,
                ..cursor
            },
            SyncMode::Incremental => {
                if cursor != Cursor::default() {
                    tracing::info!(
                        stream = object.name(),
                        "incremental run after a cut-off full refresh; reading everything first"
                    );
                }
                Cursor {
                    incremental: true,
                    ..Cursor::default()
                }
            }
        }
    }

    /// The end of a full refresh that read to the end: the engine sweeps what it did not see,
    /// and the next incremental run starts from the last stamp served (less the overlap), as
    /// one after an incremental run does, instead of reading everything again.
    pub(crate) fn full_refresh_end(cursor: &Cursor) -> ReadItem {
        match &cursor.after {
            Some(last) => ReadItem::Complete(
                Cursor {
                    since: Some(last.modstamp),
                    ..Cursor::default()
                }
                .to_state(),
            ),
            None => ReadItem::Checkpoint(StreamState(Value::Null)),
        }
    }

    fn read_object(
        &self,
        object: Object,
        mut cursor: Cursor,
    ) -> BoxStream<'_, Result<ReadItem, ConnectorError>> {
        Box::pin(try_stream! {
            let today = Utc::now().date_naive();
            let incremental = cursor.incremental;
            let overlap = TimeDelta::try_seconds(i64::try_from(self.config.overlap_secs).unwrap_or(i64::MAX))
                .unwrap_or(TimeDelta::MAX);
            let from = match (&cursor.after, cursor.since) {
                (Some(after), _) => Some(after.modstamp),
                (None, Some(since)) => Some(since.checked_sub_signed(overlap).unwrap_or(since)),
                (None, None) => None,
            };
            let Some(fields) = self.prepare(object).await? else {
                yield ReadItem::Checkpoint(StreamState(Value::Null));
                return;
            };
            let mut batch = self.first_batch(Self::soql_for(object, &fields, from), incremental).await?;
            if let Some(total) = batch.total {
                tracing::debug!(stream = object.name(), total, incremental, "salesforce query");
            }
            // A large full refresh from scratch goes through a Bulk API 2.0 query job instead
            // (bulk.rs); its checkpoints resume here, through REST.
            if self.wants_bulk(&cursor, batch.total) {
                let mut items = self.read_bulk(object, fields.clone(), today);
                while let Some(item) = items.next().await {
                    yield item?;
                }
                return;
            }
            // Reconciliation: the rows the query served against its `totalSize`. A resumed
            // read runs a new query from its position, which has a total of its own.
            let total = batch.total;
            let mut served = 0u64;
            loop {
                served += batch.records.len() as u64;
                for raw in std::mem::take(&mut batch.records) {
                    let (Some(id), Some(stamp)) = (mapping::record_id(&raw), mapping::modstamp(&raw)) else {
                        yield ReadItem::Reject(Reject {
                            external_id: mapping::record_id(&raw),
                            reason: format!("{} record without an `Id` or a valid `SystemModstamp`", object.name()),
                            raw,
                        });
                        continue;
                    };
                    if cursor.already_read(stamp, &id) {
                        continue;
                    }
                    // The last record served, not the greatest: a record changed while the
                    // query pages is served in its old place with its new, later stamp, and
                    // resuming from that stamp would skip the records between.
                    cursor.after = Some(Position { modstamp: stamp, id: id.clone() });
                    if let Some(item) = self.item(object, raw, id, today, incremental) {
                        yield item;
                    }
                }
                match batch.next.take() {
                    Some(next) => {
                        yield ReadItem::Checkpoint(cursor.to_state());
                        self.keep_reserve(batch.api_remaining)?;
                        batch = self.next_batch(&next).await?;
                    }
                    None => break,
                }
            }
            if let Some(source) = total {
                if served < source {
                    tracing::warn!(stream = object.name(), source, served, "salesforce served fewer rows than its totalSize");
                }
                let phase = if incremental { "queryAll" } else { "query" };
                yield ReadItem::Count(SourceCount { phase: phase.into(), source, read: served });
            }
            if incremental {
                let high = match (cursor.since, cursor.after.as_ref().map(|a| a.modstamp)) {
                    (Some(s), Some(a)) => Some(s.max(a)),
                    (s, a) => s.or(a),
                };
                tracing::info!(stream = object.name(), ?high, "salesforce changes read");
                yield ReadItem::Checkpoint(match high {
                    Some(since) => Cursor { since: Some(since), ..Cursor::default() }.to_state(),
                    None => StreamState(Value::Null),
                });
            } else {
                yield Self::full_refresh_end(&cursor);
            }
        })
    }
}

#[async_trait]
impl Connector for SalesforceConnector {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn instance(&self) -> &str {
        &self.ctx.instance
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.first_batch("SELECT Id FROM Account LIMIT 1".to_owned(), false)
            .await
            .map(|_| ())
    }

    fn streams(&self) -> Vec<StreamSpec> {
        self.objects().into_iter().map(Object::spec).collect()
    }

    fn read<'a>(
        &'a self,
        stream: &'a StreamSpec,
        mode: SyncMode,
        state: Option<StreamState>,
    ) -> BoxStream<'a, Result<ReadItem, ConnectorError>> {
        Box::pin(try_stream! {
            let Some(object) = Object::from_name(&stream.name).filter(|o| self.objects().contains(o)) else {
                Err(self.config_error(format!(
                    "salesforce has no stream `{}` (with subscriptions_from = `{}` and fx_rates = {})",
                    stream.name,
                    match self.config.subscriptions_from {
                        SubscriptionSource::Opportunity => "opportunity",
                        SubscriptionSource::Contract => "contract",
                    },
                    self.config.fx_rates
                )))?;
                return;
            };
            // Rates have no incremental mode: every read is whole.
            let mode = if object.spec().modes.contains(&mode) { mode } else { SyncMode::FullRefresh };
            let cursor = Self::starting_cursor(object, mode, state);
            let mut items = self.read_object(object, cursor);
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

    fn t(s: &str) -> DateTime<Utc> {
        mapping::parse_datetime(s).unwrap()
    }

    #[test]
    fn config_has_defaults_and_refuses_unknown_fields() {
        let c: SalesforceConfig =
            serde_json::from_value(json!({"auth": {"kind": "bearer", "token": "00D!x"}})).unwrap();
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(c.api_version, "v62.0");
        assert_eq!(c.overlap_secs, 300);
        c.validate("sf").unwrap();
        let err = serde_json::from_value::<SalesforceConfig>(json!({"batchsize": 5})).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `batchsize`"),
            "{err}"
        );
        for (v, expected) in [
            (json!({}), "auth must be"),
            (
                json!({"auth": {"kind": "bearer", "token": "x"}, "api_version": "62"}),
                "api_version must look like `v62.0`, got `62`",
            ),
            (
                json!({"auth": {"kind": "bearer", "token": "x"}, "endpoint": "login"}),
                "endpoint `login` is not a URL",
            ),
            (
                json!({"auth": {"kind": "bearer", "token": "x"}, "default_currency": "dollars"}),
                "default_currency",
            ),
        ] {
            let c: SalesforceConfig = serde_json::from_value(v.clone()).unwrap();
            let err = c.validate("sf").unwrap_err();
            assert!(err.to_string().contains(expected), "{v}: {err}");
        }
    }

    #[test]
    fn soql_orders_by_stamp_and_id_with_an_unquoted_literal() {
        let base = |o: Object| -> Vec<String> {
            o.base_fields().iter().map(|f| (*f).to_owned()).collect()
        };
        assert_eq!(
            SalesforceConnector::soql_for(Object::Contact, &base(Object::Contact), None),
            "SELECT Id, AccountId, FirstName, LastName, Email, Title, CreatedDate, SystemModstamp, \
             IsDeleted FROM Contact ORDER BY SystemModstamp ASC, Id ASC"
        );
        let q = SalesforceConnector::soql_for(
            Object::Account,
            &base(Object::Account),
            Some(t("2024-04-25T15:50:37.900+0000")),
        );
        assert!(
            q.ends_with("FROM Account WHERE SystemModstamp >= 2024-04-25T15:50:37Z ORDER BY SystemModstamp ASC, Id ASC"),
            "{q}"
        );
    }

    #[test]
    fn cursor_round_trips_and_skips_what_was_read() {
        let c = Cursor {
            since: Some(t("2024-01-01T00:00:00.000+0000")),
            after: Some(Position {
                modstamp: t("2024-02-01T00:00:00.000+0000"),
                id: "003B".into(),
            }),
            incremental: true,
        };
        assert_eq!(Cursor::from_state(Some(c.to_state()), "Contact"), c);
        assert!(c.already_read(t("2024-02-01T00:00:00.000+0000"), "003A"));
        assert!(c.already_read(t("2024-02-01T00:00:00.000+0000"), "003B"));
        assert!(!c.already_read(t("2024-02-01T00:00:00.000+0000"), "003C"));
        assert!(!c.already_read(t("2024-02-01T00:00:01.000+0000"), "003A"));
        assert_eq!(
            Cursor::from_state(Some(StreamState(json!({"since": "soon"}))), "Contact"),
            Cursor::default()
        );
        assert_eq!(Cursor::default().to_state().0, json!({}));
        // An incremental state is not resumed as a full refresh, and vice versa.
        let full = SalesforceConnector::starting_cursor(
            Object::Contact,
            SyncMode::FullRefresh,
            Some(c.to_state()),
        );
        assert_eq!(full, Cursor::default());
        let inc = SalesforceConnector::starting_cursor(
            Object::Contact,
            SyncMode::Incremental,
            Some(
                Cursor {
                    incremental: false,
                    since: None,
                    ..c.clone()
                }
                .to_state(),
            ),
        );
        assert_eq!(
            inc,
            Cursor {
                incremental: true,
                ..Cursor::default()
            }
        );
    }

    #[test]
    fn batches_decode_or_fail_loudly() {
        let b = parse_batch(
            "u",
            json!({"totalSize": 3, "done": false, "nextRecordsUrl": "/services/data/v62.0/query/01g-2", "records": [{}]}),
        )
        .unwrap();
        assert_eq!(
            (b.records.len(), b.next.as_deref(), b.total),
            (1, Some("/services/data/v62.0/query/01g-2"), Some(3))
        );
        let b = parse_batch("u", json!({"totalSize": 1, "done": true, "records": []})).unwrap();
        assert!(b.next.is_none());
        for bad in [
            json!([]),
            json!({"done": false, "records": []}),
            json!({"done": true}),
            json!({"records": []}),
        ] {
            assert!(matches!(
                parse_batch("u", bad),
                Err(ConnectorError::Decode { .. })
            ));
        }
    }
}
