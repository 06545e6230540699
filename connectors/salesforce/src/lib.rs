//! The Salesforce connector: `Account`, `Contact`, `Opportunity` or `Contract`,
//! `OpportunityContactRole` and `DatedConversionRate` over the REST query API (`query`, and
//! `queryAll` for incremental runs and deletes; Bulk API 2.0 query jobs for large first loads),
//! mapped to accounts, people, subscriptions, deal contacts and FX rates. The crate README
//! describes the streams, their state, the describe check, Bulk, auth and limits.
//!
//! Key types: [`SalesforceConfig`] (`kind = "salesforce"`, with the revenue mapping over
//! [`default_mapping`]); [`SalesforceConnector`], declared to registries as [`DECLARATION`];
//! [`mapping`], the pure functions from Salesforce's JSON to the model; [`quota_observer`],
//! the daily request limit as [`ConnectorError::QuotaExhausted`]. Privately: `setup`, what a
//! read fetches before its first query (describe checks and the select list, the owners, the
//! corporate currency); `query` and `bulk`, page sources of the SDK's pull driver reading one
//! SOQL query in `(SystemModstamp, Id)` order ([`tributary_connector::pull::keyset`]).
//!
//! What it must not do: open its own HTTP client, read the environment, sleep or retry on its
//! own (the runtime's [`tributary_connector::HttpClient`] retries and refreshes tokens on
//! `INVALID_SESSION_ID`; only a Bulk job is waited for, see `bulk`), log tokens, or panic on
//! vendor data.

mod bulk;
pub mod mapping;
mod query;
mod setup;
#[cfg(test)]
mod tests;

pub use bulk::{
    DEFAULT_BULK_MAX_RECORDS, DEFAULT_BULK_POLL_INTERVAL_MS, DEFAULT_BULK_THRESHOLD,
    DEFAULT_BULK_TIMEOUT_SECS,
};

pub use mapping::MapError;

use async_stream::try_stream;
use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;
use tributary_connector::map::FieldCatalog;
use tributary_connector::pull::keyset::Keyset;
use tributary_connector::pull::{self, INCREMENTAL_FIRST, PerRecord, Phase, StreamDecl};
use tributary_connector::{
    Auth, AuthSettings, Connector, ConnectorContext, ConnectorError, ConnectorKind, CrmSettings,
    Declared, DeleteStrategy, MappingSettings, ObservedResponse, QuotaVerdict, ReadItem,
    RevenueMapping, StreamSpec, StreamState, SyncMode, check_range, header_text,
};
use tributary_model::{Currency, EntityKind, RevenueEventKind};

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
    /// Checks every value; the message names the field. Returns the settings every CRM
    /// connector parses alike (the mapping over [`default_mapping`]).
    pub fn validate(&self, instance: &str) -> Result<CrmSettings, ConnectorError> {
        let (endpoint, currency, mapping) = (&self.endpoint, &self.default_currency, &self.mapping);
        let crm = CrmSettings::parse(instance, endpoint, currency, mapping, default_mapping())?;
        let fail = |message: String| ConnectorError::config(instance, message);
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
        bulk::validate(self).map_err(fail)?;
        let batch_sizes = MIN_BATCH_SIZE.into()..=DEFAULT_BATCH_SIZE.into();
        check_range("batch_size", self.batch_size.into(), batch_sizes).map_err(fail)?;
        match self.auth {
            AuthSettings::Oauth2(_) | AuthSettings::Bearer { .. } => Ok(crm),
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

/// The `salesforce` kind.
pub struct SalesforceKind;

/// Salesforce's entry in a registry of kinds.
pub static DECLARATION: Declared<SalesforceKind> = Declared::new();

impl ConnectorKind for SalesforceKind {
    type Config = SalesforceConfig;
    const NAME: &'static str = KIND;
    const SUMMARY: &'static str = "Salesforce: accounts, contacts, won opportunities or contracts, contact roles and dated rates (REST query/queryAll, Bulk API 2.0)";
    const AUTH: &'static [&'static str] = &["OAuth2 refresh token", "OAuth2 JWT bearer"];

    fn streams() -> Vec<StreamSpec> {
        STREAMS.iter().map(StreamDecl::spec).collect()
    }

    fn auth(config: &SalesforceConfig, instance: &str) -> Result<Auth, ConnectorError> {
        http_auth(config, instance)
    }

    fn build(
        config: SalesforceConfig,
        cx: ConnectorContext,
    ) -> Result<Box<dyn Connector>, ConnectorError> {
        Ok(Box::new(SalesforceConnector::new(cx, config)?))
    }
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
    let usage = header_text(response.headers, "sforce-limit-info");
    let usage = usage.map(|v| format!(" ({v})")).unwrap_or_default();
    QuotaVerdict::Exhausted {
        message: format!("Salesforce daily API request limit reached{usage}"),
        resume_at: None,
    }
}

/// What Salesforce needs to know about a stream besides its declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sf {
    /// The SOQL select list every read of the object starts from; `CurrencyIsoCode` (when the
    /// org has it) and the mapping's fields come on top (`select_list`).
    fields: &'static str,
    /// Whether the object may carry `CurrencyIsoCode` in a multi-currency org.
    currency: bool,
}

/// A stream of this connector: an sObject.
type Object = &'static StreamDecl<Sf>;

const ACCOUNT: &str = "Account";
const CONTACT: &str = "Contact";
const OPPORTUNITY: &str = "Opportunity";
const CONTRACT: &str = "Contract";
const CONTACT_ROLE: &str = "OpportunityContactRole";
const RATES: &str = "DatedConversionRate";

/// An sObject read by `SystemModstamp`, incrementally through `queryAll`, which returns rows
/// with `IsDeleted = true`: deletes come from the source itself.
const fn queried(
    name: &'static str,
    entity: EntityKind,
    fields: &'static str,
    currency: bool,
) -> StreamDecl<Sf> {
    StreamDecl {
        name,
        entity,
        cursor_field: Some("SystemModstamp"),
        modes: INCREMENTAL_FIRST,
        delete_strategy: DeleteStrategy::NativeFeed,
        vendor: Sf { fields, currency },
    }
}

/// Every stream of the kind, in sync order; an instance declares those its config selects
/// ([`SalesforceConnector::declares`]).
static STREAMS: [StreamDecl<Sf>; 6] = [
    queried(
        ACCOUNT,
        EntityKind::Account,
        "Id, Name, Industry, BillingCountry, Website, NumberOfEmployees, OwnerId, CreatedDate, \
         SystemModstamp, IsDeleted",
        true,
    ),
    queried(
        CONTACT,
        EntityKind::Person,
        "Id, AccountId, FirstName, LastName, Email, Title, CreatedDate, SystemModstamp, IsDeleted",
        false,
    ),
    queried(
        OPPORTUNITY,
        EntityKind::Subscription,
        "Id, AccountId, Name, StageName, CloseDate, IsWon, IsClosed, SystemModstamp, IsDeleted",
        true,
    ),
    queried(
        CONTRACT,
        EntityKind::Subscription,
        "Id, AccountId, ContractNumber, Status, StatusCode, StartDate, EndDate, ContractTerm, \
         SystemModstamp, IsDeleted",
        true,
    ),
    queried(
        CONTACT_ROLE,
        EntityKind::DealContact,
        "Id, OpportunityId, ContactId, Role, IsPrimary, SystemModstamp, IsDeleted",
        false,
    ),
    // A small table read whole every time: no incremental mode, and a rate the refresh no
    // longer sees is swept. No `IsDeleted`: rates are edited, never soft-deleted.
    StreamDecl {
        name: RATES,
        entity: EntityKind::FxRate,
        cursor_field: None,
        modes: &[SyncMode::FullRefresh],
        delete_strategy: DeleteStrategy::KeyDiff,
        vendor: Sf {
            fields: "Id, IsoCode, ConversionRate, StartDate, NextStartDate, SystemModstamp",
            currency: false,
        },
    },
];

/// A `describe` result and when it was fetched; `None` when the org has no such object.
type CachedDescribe = (std::time::Instant, Option<std::sync::Arc<FieldCatalog>>);

/// A configured Salesforce connector instance.
#[derive(Debug)]
pub struct SalesforceConnector {
    ctx: ConnectorContext,
    config: SalesforceConfig,
    default_currency: Currency,
    /// `config.mapping` over [`default_mapping`].
    mapping: RevenueMapping,
    /// `describe` results by object, with when they were fetched: kept across reads for
    /// [`DESCRIBE_MAX_AGE`].
    describes: Mutex<HashMap<&'static str, CachedDescribe>>,
}

impl SalesforceConnector {
    /// Validates `config` and builds the connector; `ctx.http` must carry [`http_auth`]. Installs
    /// [`quota_observer`] on the client.
    pub fn new(
        mut ctx: ConnectorContext,
        config: SalesforceConfig,
    ) -> Result<Self, ConnectorError> {
        let CrmSettings {
            default_currency,
            mapping,
        } = config.validate(&ctx.instance)?;
        ctx.http = ctx.http.with_quota_observer(quota_observer);
        Ok(Self {
            ctx,
            config,
            default_currency,
            mapping,
            describes: Mutex::new(HashMap::new()),
        })
    }

    /// The resolved revenue mapping.
    pub fn mapping(&self) -> &RevenueMapping {
        &self.mapping
    }

    /// The validated configuration.
    pub fn config(&self) -> &SalesforceConfig {
        &self.config
    }

    /// The object subscriptions come from.
    fn subscription_object(&self) -> &'static str {
        match self.config.subscriptions_from {
            SubscriptionSource::Opportunity => OPPORTUNITY,
            SubscriptionSource::Contract => CONTRACT,
        }
    }

    /// Whether this instance declares `object`.
    fn declares(&self, object: Object) -> bool {
        match object.name {
            // Contact roles point at opportunities, which are subscriptions only then.
            OPPORTUNITY | CONTACT_ROLE => {
                self.config.subscriptions_from == SubscriptionSource::Opportunity
            }
            CONTRACT => self.config.subscriptions_from == SubscriptionSource::Contract,
            RATES => self.config.fx_rates,
            _ => true,
        }
    }

    fn config_error(&self, message: String) -> ConnectorError {
        ConnectorError::config(&self.ctx.instance, message)
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
        STREAMS
            .iter()
            .filter(|o| self.declares(o))
            .map(StreamDecl::spec)
            .collect()
    }

    fn read<'a>(
        &'a self,
        stream: &'a StreamSpec,
        mode: SyncMode,
        state: Option<StreamState>,
    ) -> BoxStream<'a, Result<ReadItem, ConnectorError>> {
        Box::pin(try_stream! {
            let declared = STREAMS.iter().filter(|o| self.declares(o));
            let object = StreamDecl::lookup(declared, &stream.name, KIND, &self.ctx.instance)?;
            // Rates have no incremental mode: every read is whole.
            let mut cursor = Keyset::starting(object.name, object.mode(mode), state);
            // One SOQL query from the position (or the mark less the overlap) on, through
            // `queryAll` when incremental, or a Bulk job for a large full refresh from scratch;
            // then the end state.
            let (stream, incremental) = (object.name, cursor.incremental);
            let mode = if incremental { SyncMode::Incremental } else { SyncMode::FullRefresh };
            let from = cursor.from(self.config.overlap_secs);
            let Some(run) = self.prepare(object).await? else {
                yield pull::finish(mode, None);
                return;
            };
            let first = self.first_batch(query::soql_for(object, &run.fields, from), incremental).await?;
            if let Some(total) = first.total {
                tracing::debug!(stream, total, incremental, "salesforce query");
            }
            let emit = self.emitter(object, incremental);
            let mapper = PerRecord(|raw: Value| self.map_record(object, &run, &emit, raw));
            // A large full refresh from scratch goes through a Bulk API 2.0 query job instead
            // (bulk.rs); its checkpoints resume through REST.
            if self.wants_bulk(&cursor, first.total) {
                let mut source = self.bulk_pages(object, run.fields.clone()).await?;
                let phase = Phase { vendor: KIND, stream, name: "bulk", state: &mut cursor, tally: None };
                for await item in pull::read_pages(phase, &mut source, &mapper) {
                    yield item?;
                }
                source.finish().await;
            } else {
                // The count is this query's: a resumed read runs a new query from its
                // position, which has a `totalSize` of its own.
                let name = if incremental { "queryAll" } else { "query" };
                let mut source = query::QueryPages::new(self, first);
                let phase = Phase { vendor: KIND, stream, name, state: &mut cursor, tally: None };
                for await item in pull::read_pages(phase, &mut source, &mapper) {
                    yield item?;
                }
            }
            let next = cursor.next();
            if incremental {
                tracing::info!(stream, next = ?next.as_ref().map(|s| &s.0), "salesforce changes read");
            }
            yield pull::finish(mode, next);
        })
    }
}
