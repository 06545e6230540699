//! The Salesforce connector: `Account`, `Contact` and `Opportunity` over the REST query API
//! (`GET /services/data/<version>/query` and `/queryAll`), mapped to accounts, people and
//! subscriptions.
//!
//! Key types:
//! - [`SalesforceConfig`]: the `[connectors.<name>]` section of `tributary.toml` for
//!   `kind = "salesforce"`.
//! - [`SalesforceConnector`]: implements [`tributary_connector::Connector`] with the streams
//!   `Account`, `Contact` and `Opportunity`, each incremental (first) or full refresh.
//! - [`mapping`]: the pure functions from Salesforce's JSON to the model, with [`MapError`].
//! - [`quota_observer`]: turns the daily `REQUEST_LIMIT_EXCEEDED` into
//!   [`ConnectorError::QuotaExhausted`]; `reserve_api_requests` stops a read earlier, from
//!   `Sforce-Limit-Info`.
//!
//! Every read is one SOQL query ordered by `SystemModstamp, Id`, paged through
//! `nextRecordsUrl`, with a checkpoint after every batch holding the last `(SystemModstamp,
//! Id)` read — never the `nextRecordsUrl`, whose cursor expires. A resumed read queries again
//! from that stamp and skips what it had read. A full refresh uses `query` (live rows only; the
//! engine's sweep deletes the rest) and ends with a null state. An incremental run uses
//! `queryAll` from the saved high-water mark minus `overlap_secs`, so soft-deleted rows arrive
//! with `IsDeleted = true` and become deletes, and saves the newest stamp read as the next
//! mark; with no mark it reads everything first. Only closed-won opportunities are
//! subscriptions: a full refresh skips the others, an incremental run deletes them.
//!
//! After the token request every call goes to the token response's `instance_url`
//! ([`tributary_connector::TokenExtras::instance_url`]); with a static bearer session id, to
//! `endpoint`.
//!
//! What it must not do: open its own HTTP client, read the environment, sleep or retry on its
//! own (the runtime's [`tributary_connector::HttpClient`] retries and refreshes tokens on
//! `INVALID_SESSION_ID`), log tokens, or panic on vendor data.

pub mod mapping;

pub use mapping::MapError;

use async_stream::try_stream;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use futures::{StreamExt, stream::BoxStream};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_connector::{
    Auth, AuthSettings, Connector, ConnectorContext, ConnectorError, HttpResponse,
    ObservedResponse, QuotaVerdict, ReadItem, Reject, StreamSpec, StreamState, SyncMode,
    quota_readings,
};
use tributary_model::{Currency, Entity, EntityKind, ExternalRef, SourceRecord};

/// The connector kind in `tributary.toml`.
pub const KIND: &str = "salesforce";

/// Salesforce's production login URL.
pub const DEFAULT_ENDPOINT: &str = "https://login.salesforce.com";

/// The REST API version used unless configured.
pub const DEFAULT_API_VERSION: &str = "v62.0";

/// How far an incremental run reads back behind the saved high-water mark unless configured.
pub const DEFAULT_OVERLAP_SECS: u64 = 300;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    Account,
    Contact,
    Opportunity,
}

impl Object {
    const ALL: [Object; 3] = [Object::Account, Object::Contact, Object::Opportunity];

    fn name(self) -> &'static str {
        match self {
            Object::Account => "Account",
            Object::Contact => "Contact",
            Object::Opportunity => "Opportunity",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }

    fn entity(self) -> EntityKind {
        match self {
            Object::Account => EntityKind::Account,
            Object::Contact => EntityKind::Person,
            Object::Opportunity => EntityKind::Subscription,
        }
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            Object::Account => &[
                "Id",
                "Name",
                "Industry",
                "BillingCountry",
                "Website",
                "NumberOfEmployees",
                "OwnerId",
                "CurrencyIsoCode",
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
                "Amount",
                "CloseDate",
                "Type",
                "IsWon",
                "IsClosed",
                "CurrencyIsoCode",
                "ARR__c",
                "Term_Months__c",
                "SystemModstamp",
                "IsDeleted",
            ],
        }
    }

    fn spec(self) -> StreamSpec {
        StreamSpec {
            name: self.name().to_owned(),
            entity: self.entity(),
            cursor_field: Some("SystemModstamp".to_owned()),
            modes: vec![SyncMode::Incremental, SyncMode::FullRefresh],
        }
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
        match state.map(|s| s.0) {
            None | Some(Value::Null) => Cursor::default(),
            Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|e| {
                // Starting over is always correct, only slower.
                tracing::warn!(stream, state = %v, error = %e, "unrecognised stream state; starting over");
                Cursor::default()
            }),
        }
    }

    fn to_state(&self) -> StreamState {
        StreamState(serde_json::to_value(self).unwrap_or(Value::Null))
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
        ctx.http = ctx.http.with_quota_observer(quota_observer);
        Ok(Self {
            ctx,
            config,
            default_currency,
        })
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

    /// The SOQL of a read from `from` (inclusive) on.
    fn soql(object: Object, from: Option<DateTime<Utc>>) -> String {
        let filter = from
            .map(|t| format!(" WHERE SystemModstamp >= {}", soql_datetime(t)))
            .unwrap_or_default();
        format!(
            "SELECT {} FROM {}{filter} ORDER BY SystemModstamp ASC, Id ASC",
            object.fields().join(", "),
            object.name()
        )
    }

    /// The first batch of `soql` through `query` or `queryAll`.
    async fn first_batch(&self, soql: String, all: bool) -> Result<Batch, ConnectorError> {
        let base = self.instance_url().await?;
        let resource = if all { "queryAll" } else { "query" };
        let url = format!(
            "{base}/services/data/{}/{resource}",
            self.config.api_version
        );
        let response = self.ctx.http.get_json(&url, &[("q", soql)]).await?;
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
        let entity = match object {
            Object::Account => mapping::map_account(&raw).map(|a| Some(Entity::Account(a))),
            Object::Contact => {
                mapping::map_contact(&raw, &self.ctx.instance).map(|p| Some(Entity::Person(p)))
            }
            Object::Opportunity => {
                mapping::map_opportunity(&raw, &self.ctx.instance, &self.default_currency, today)
                    .map(|s| s.map(Entity::Subscription))
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
            let mut batch = self.first_batch(Self::soql(object, from), incremental).await?;
            if let Some(total) = batch.total {
                tracing::debug!(stream = object.name(), total, incremental, "salesforce query");
            }
            loop {
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
            let end = if incremental {
                let high = match (cursor.since, cursor.after.as_ref().map(|a| a.modstamp)) {
                    (Some(s), Some(a)) => Some(s.max(a)),
                    (s, a) => s.or(a),
                };
                tracing::info!(stream = object.name(), ?high, "salesforce changes read");
                match high {
                    Some(since) => Cursor { since: Some(since), ..Cursor::default() }.to_state(),
                    None => StreamState(Value::Null),
                }
            } else {
                StreamState(Value::Null)
            };
            yield ReadItem::Checkpoint(end);
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
                Err(self.config_error(format!("salesforce has no stream `{}`", stream.name)))?;
                return;
            };
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
        assert_eq!(
            SalesforceConnector::soql(Object::Contact, None),
            "SELECT Id, AccountId, FirstName, LastName, Email, Title, CreatedDate, SystemModstamp, \
             IsDeleted FROM Contact ORDER BY SystemModstamp ASC, Id ASC"
        );
        let q = SalesforceConnector::soql(Object::Account, Some(t("2024-04-25T15:50:37.900+0000")));
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
