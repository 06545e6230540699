//! The HubSpot CRM connector: companies, contacts and deals through the CRM v3 list endpoint
//! (`GET /crm/v3/objects/{objectType}`), mapped to accounts, people and subscriptions.
//!
//! Key types:
//! - [`HubspotConfig`]: the `[connectors.<name>]` section of `tributary.toml` for
//!   `kind = "hubspot"`.
//! - [`HubspotConnector`]: implements [`tributary_connector::Connector`] with the streams
//!   `companies`, `contacts` and `deals` (full refresh; incremental search comes later).
//! - [`mapping`]: the pure functions from HubSpot's JSON to the model, with [`MapError`].
//!
//! A read pages through the list endpoint with an opaque `after` cursor, emits a checkpoint
//! after every page, then pages `archived=true` and emits a delete per archived record. Only
//! closed-won deals become subscriptions; lost and open deals are skipped. A record whose
//! property does not parse becomes a reject and the stream goes on.
//!
//! What it must not do: open its own HTTP client or read the environment (the token arrives in
//! the config and is applied by the runtime's [`tributary_connector::HttpClient`], built with
//! [`http_auth`]); sleep or retry on its own (the client retries 429/5xx); log the token; or
//! panic on vendor data. Only this crate knows HubSpot's JSON.

pub mod mapping;

pub use mapping::MapError;

use async_stream::try_stream;
use async_trait::async_trait;
use chrono::{NaiveDate, Utc};
use futures::stream::BoxStream;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_connector::{
    Auth, Connector, ConnectorContext, ConnectorError, ReadItem, Reject, StreamSpec, StreamState,
    SyncMode,
};
use tributary_model::{Currency, Entity, EntityKind, ExternalRef, SourceRecord};

/// The connector kind in `tributary.toml`.
pub const KIND: &str = "hubspot";

/// HubSpot's production API base URL.
pub const DEFAULT_ENDPOINT: &str = "https://api.hubapi.com";

/// The largest page the list endpoint serves.
pub const MAX_PAGE_SIZE: u32 = 100;

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
    /// ISO 4217 currency of deals without `deal_currency_code` (the portal's company currency).
    pub default_currency: String,
}

impl Default for HubspotConfig {
    fn default() -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            access_token: SecretString::default(),
            page_size: MAX_PAGE_SIZE,
            default_currency: "USD".to_owned(),
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
        if self.access_token.expose_secret().trim().is_empty() {
            return Err(fail("access_token is required".to_owned()));
        }
        Ok(())
    }
}

/// The credentials the runtime's HTTP client applies to every HubSpot request.
pub fn http_auth(config: &HubspotConfig) -> Auth {
    Auth::Bearer(config.access_token.clone())
}

/// The object types this connector reads, one stream each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    Companies,
    Contacts,
    Deals,
}

impl Object {
    const ALL: [Object; 3] = [Object::Companies, Object::Contacts, Object::Deals];

    fn name(self) -> &'static str {
        match self {
            Object::Companies => "companies",
            Object::Contacts => "contacts",
            Object::Deals => "deals",
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
        }
    }

    /// Contacts name their last-modified property differently from every other object.
    fn cursor_field(self) -> &'static str {
        match self {
            Object::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// Exactly the properties the mapping reads.
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
            Object::Deals => &[
                "dealname",
                "pipeline",
                "amount",
                "deal_currency_code",
                "dealstage",
                "hs_is_closed_won",
                "closedate",
                "term_months",
                "createdate",
                "hs_lastmodifieddate",
            ],
        }
    }

    fn associations(self) -> Option<&'static str> {
        match self {
            Object::Companies => None,
            Object::Contacts | Object::Deals => Some("companies"),
        }
    }

    fn spec(self) -> StreamSpec {
        StreamSpec {
            name: self.name().to_owned(),
            entity: self.entity(),
            cursor_field: Some(self.cursor_field().to_owned()),
            modes: vec![SyncMode::FullRefresh],
        }
    }
}

/// The connector's stream state: where the next page starts. `archived` marks the second
/// phase of a read (the `archived=true` listing that yields deletes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    archived: bool,
}

impl Cursor {
    fn from_state(state: Option<StreamState>, stream: &str) -> Self {
        match state.map(|s| s.0) {
            None | Some(Value::Null) => Cursor::default(),
            Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|e| {
                // A full refresh that starts over is always correct, only slower.
                tracing::warn!(stream, state = %v, error = %e, "unrecognised stream state; starting over");
                Cursor::default()
            }),
        }
    }

    fn to_state(&self) -> StreamState {
        StreamState(serde_json::to_value(self).unwrap_or(Value::Null))
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
}

impl HubspotConnector {
    /// Validates `config` and builds the connector. `ctx.http` must carry [`http_auth`].
    pub fn new(ctx: ConnectorContext, config: HubspotConfig) -> Result<Self, ConnectorError> {
        config.validate(&ctx.instance)?;
        let default_currency =
            Currency::parse(&config.default_currency).map_err(|e| ConnectorError::Config {
                instance: ctx.instance.clone(),
                message: format!("default_currency: {e}"),
            })?;
        Ok(Self {
            base: config.endpoint.trim_end_matches('/').to_owned(),
            ctx,
            config,
            default_currency,
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &HubspotConfig {
        &self.config
    }

    fn list_url(&self, object: Object) -> String {
        format!("{}/crm/v3/objects/{}", self.base, object.name())
    }

    fn config_error(&self, message: String) -> ConnectorError {
        ConnectorError::Config {
            instance: self.ctx.instance.clone(),
            message,
        }
    }

    /// Maps one live record to a record or a reject; `None` for a deal that is not won.
    fn map_record(&self, object: Object, raw: Value, today: NaiveDate) -> Option<ReadItem> {
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
                mapping::map_deal(&raw, &self.ctx.instance, &self.default_currency, today)
                    .map(|s| s.map(Entity::Subscription))
            }
        };
        match entity {
            Ok(None) => None,
            Ok(Some(entity)) => Some(ReadItem::Record(Box::new(SourceRecord {
                external_ref: ExternalRef::new(KIND, &self.ctx.instance, object.name(), id),
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
            if mode != SyncMode::FullRefresh {
                Err(self.config_error(format!(
                    "stream `{}` supports only full_refresh, not {}",
                    stream.name,
                    mode.as_str()
                )))?;
            }
            let url = self.list_url(object);
            let properties = object.properties().join(",");
            let today = Utc::now().date_naive();
            let mut cursor = Cursor::from_state(state, &stream.name);
            loop {
                let mut query = vec![
                    ("limit", self.config.page_size.to_string()),
                    ("properties", properties.clone()),
                ];
                if let Some(assoc) = object.associations() {
                    query.push(("associations", assoc.to_owned()));
                }
                if cursor.archived {
                    query.push(("archived", "true".to_owned()));
                }
                if let Some(after) = &cursor.after {
                    query.push(("after", after.clone()));
                }
                let response = self.ctx.http.get_json(&url, &query).await?;
                let page = parse_page(&url, response.body)?;
                tracing::debug!(stream = object.name(), records = page.results.len(), archived = cursor.archived, "hubspot page");
                for raw in page.results {
                    if cursor.archived {
                        match mapping::record_id(&raw) {
                            Some(id) => yield ReadItem::Delete(ExternalRef::new(KIND, &self.ctx.instance, object.name(), id)),
                            None => yield ReadItem::Reject(Reject {
                                external_id: None,
                                reason: format!("archived {} record without an `id`", object.name()),
                                raw,
                            }),
                        }
                    } else if let Some(item) = self.map_record(object, raw, today) {
                        yield item;
                    }
                }
                match page.next {
                    Some(next) => {
                        if cursor.after.as_deref() == Some(next.as_str()) {
                            Err(ConnectorError::Decode {
                                url: url.clone(),
                                message: format!("paging cursor `{next}` did not advance"),
                            })?;
                        }
                        cursor.after = Some(next);
                    }
                    None if !cursor.archived => {
                        // Live records done: deletes come from the archived listing next.
                        cursor = Cursor { after: None, archived: true };
                    }
                    None => {
                        yield ReadItem::Checkpoint(StreamState(Value::Null));
                        break;
                    }
                }
                yield ReadItem::Checkpoint(cursor.to_state());
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
        assert_eq!(c.default_currency, "USD");
        assert_eq!(c.access_token.expose_secret(), "pat-na1-x");
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
            ]
        );
        assert!(streams.iter().all(|s| s.modes == [SyncMode::FullRefresh]));
        assert!(matches!(http_auth(c.config()), Auth::Bearer(_)));
    }

    #[test]
    fn cursor_state_round_trips_and_tolerates_garbage() {
        let live = Cursor {
            after: Some("513".into()),
            archived: false,
        };
        assert_eq!(live.to_state().0, json!({"after": "513"}));
        let archived = Cursor {
            after: None,
            archived: true,
        };
        assert_eq!(archived.to_state().0, json!({"archived": true}));
        assert_eq!(Cursor::from_state(Some(live.to_state()), "deals"), live);
        assert_eq!(
            Cursor::from_state(Some(StreamState(json!([1]))), "deals"),
            Cursor::default()
        );
        assert_eq!(Cursor::from_state(None, "deals"), Cursor::default());
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
