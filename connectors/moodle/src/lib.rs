//! The Moodle connector, scaffolded by `tributary connector new moodle`: accounts and people from
//! a paged JSON API, full refresh and incremental, with deletes from the API's tombstones.
//!
//! The API it speaks (served by its mock, `mocks/moodle`, until it is edited into the real
//! vendor's): `GET {endpoint}/v1/{accounts|people}` with `limit`, `cursor` (the previous
//! page's `next_cursor`), `updated_since` (inclusive) and `include_deleted=true`, answering
//! `{"data": […], "next_cursor": …, "total": n}` in `(updated_at, id)` order; bearer API key.
//!
//! How a read goes, all on the SDK's pull driver ([`tributary_connector::pull`]):
//! - The stream state is a [`Keyset`]: the last `(updated_at, id)` read, and between
//!   incremental runs the high-water mark. The API's own cursor expires with the query, so it
//!   is never saved: a resumed read asks again from the saved stamp and skips what it had read.
//! - A full refresh lists live records; the engine's sweep then deletes what it did not see.
//!   An incremental run lists what changed since the mark less `overlap_secs`, tombstones
//!   included, and turns each tombstone into a delete.
//! - The API's `total` is reported against what was read (a shortfall is a warning on the
//!   run); a record that does not map is rejected with its raw payload and the read goes on.
//!
//! What it must not do: open its own HTTP client, read the environment, sleep, retry, log the
//! key, panic on vendor data, or know the store, GraphQL or the simulator.

mod mapping;

use async_stream::try_stream;
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::stream::BoxStream;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use tributary_connector::pull::keyset::Keyset;
use tributary_connector::pull::{
    self, Emitter, INCREMENTAL_FIRST, Page, PageSource, PerRecord, Phase, StreamDecl,
};
use tributary_connector::{
    Auth, Connector, ConnectorContext, ConnectorError, ConnectorKind, Declared, DeleteStrategy,
    ReadItem, StreamSpec, StreamState, SyncMode, check_endpoint, check_range,
};
use tributary_model::EntityKind;

/// The connector kind in `tributary.toml`.
pub const KIND: &str = "moodle";

/// Moodle's production API base URL.
pub const DEFAULT_ENDPOINT: &str = "https://api.moodle.example";

/// The largest page the API serves.
pub const MAX_PAGE_SIZE: u32 = 100;

/// How far an incremental run reads back behind the saved mark unless configured.
pub const DEFAULT_OVERLAP_SECS: u64 = 300;

/// Configuration of one Moodle connector instance: `[connectors.<name>]` with `kind = "moodle"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MoodleConfig {
    /// Base URL of the API, without a trailing path; point it at the mock for tests.
    pub endpoint: String,
    /// The API key, sent as `Authorization: Bearer`. Write it in `tributary.toml` as
    /// `{ env = "MOODLE_API_KEY" }`; the binary resolves it before this struct is built.
    pub api_key: SecretString,
    /// Records per request, 1 to 100.
    pub page_size: u32,
    /// Seconds an incremental run reads back behind the saved mark, so that a change stamped
    /// just before the last run ended but committed after it is still read.
    pub overlap_secs: u64,
}

impl Default for MoodleConfig {
    fn default() -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            api_key: SecretString::default(),
            page_size: MAX_PAGE_SIZE,
            overlap_secs: DEFAULT_OVERLAP_SECS,
        }
    }
}

impl MoodleConfig {
    /// Checks every value; the message names the key.
    pub fn validate(&self, instance: &str) -> Result<(), ConnectorError> {
        let fail = |message: String| ConnectorError::config(instance, message);
        check_endpoint(&self.endpoint).map_err(fail)?;
        check_range("page_size", self.page_size.into(), 1..=MAX_PAGE_SIZE.into()).map_err(fail)?;
        if self.api_key.expose_secret().trim().is_empty() {
            return Err(fail("api_key is required".to_owned()));
        }
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
    const SUMMARY: &'static str = "Moodle: accounts and people (paged JSON API)";
    const AUTH: &'static [&'static str] = &["API key (bearer)"];

    fn streams() -> Vec<StreamSpec> {
        STREAMS.iter().map(StreamDecl::spec).collect()
    }

    fn auth(config: &MoodleConfig, instance: &str) -> Result<Auth, ConnectorError> {
        config.validate(instance)?;
        Ok(Auth::Bearer(config.api_key.clone()))
    }

    fn build(
        config: MoodleConfig,
        cx: ConnectorContext,
    ) -> Result<Box<dyn Connector>, ConnectorError> {
        config.validate(&cx.instance)?;
        Ok(Box::new(MoodleConnector {
            base: config.endpoint.trim_end_matches('/').to_owned(),
            ctx: cx,
            config,
        }))
    }
}

/// The streams, in sync order: accounts before the people who reference them. The vendor
/// part of each declaration is its path under `/v1`.
static STREAMS: [StreamDecl<&str>; 2] = [
    StreamDecl {
        name: "accounts",
        entity: EntityKind::Account,
        cursor_field: Some("updated_at"),
        modes: INCREMENTAL_FIRST,
        delete_strategy: DeleteStrategy::NativeFeed,
        vendor: "accounts",
    },
    StreamDecl {
        name: "people",
        entity: EntityKind::Person,
        cursor_field: Some("updated_at"),
        modes: INCREMENTAL_FIRST,
        delete_strategy: DeleteStrategy::NativeFeed,
        vendor: "people",
    },
];

/// A configured Moodle connector instance.
#[derive(Debug)]
pub struct MoodleConnector {
    ctx: ConnectorContext,
    config: MoodleConfig,
    base: String,
}

#[async_trait]
impl Connector for MoodleConnector {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn instance(&self) -> &str {
        &self.ctx.instance
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        let url = format!("{}/v1/me", self.base);
        self.ctx.http.get_json(&url, &[]).await.map(|_| ())
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
            let mut cursor = Keyset::starting(decl.name, decl.mode(mode), state);
            let incremental = cursor.incremental;
            let mode = if incremental { SyncMode::Incremental } else { SyncMode::FullRefresh };
            let emit = Emitter {
                system: KIND,
                instance: &self.ctx.instance,
                stream: decl.name,
                incremental,
            };
            let mapper = PerRecord(|raw: Value| mapping::map_record(decl.name, &emit, raw));
            let mut source = Listing {
                conn: self,
                path: decl.vendor,
                from: cursor.from(self.config.overlap_secs),
                include_deleted: incremental,
                next: None,
                first: true,
            };
            let name = if incremental { "changes" } else { "listing" };
            let phase = Phase { vendor: KIND, stream: decl.name, name, state: &mut cursor, tally: None };
            for await item in pull::read_pages(phase, &mut source, &mapper) {
                yield item?;
            }
            yield pull::finish(mode, cursor.next());
        })
    }
}

/// The pages of one listing: the first from the filters, the rest by the API's `next_cursor`
/// (kept here, never saved: it belongs to this query).
struct Listing<'a> {
    conn: &'a MoodleConnector,
    path: &'static str,
    from: Option<DateTime<Utc>>,
    include_deleted: bool,
    next: Option<String>,
    first: bool,
}

#[async_trait]
impl PageSource<Keyset> for Listing<'_> {
    type Raw = Value;

    async fn next_page(&mut self, cursor: &mut Keyset) -> Result<Page<Value>, ConnectorError> {
        let conn = self.conn;
        let url = format!("{}/v1/{}", conn.base, self.path);
        let mut query = vec![("limit", conn.config.page_size.to_string())];
        if let Some(from) = self.from {
            query.push((
                "updated_since",
                from.to_rfc3339_opts(SecondsFormat::Millis, true),
            ));
        }
        if self.include_deleted {
            query.push(("include_deleted", "true".to_owned()));
        }
        if let Some(next) = self.next.take() {
            query.push(("cursor", next));
        }
        let body = conn.ctx.http.get_json(&url, &query).await?.body;
        let decode = |message: &str| ConnectorError::Decode {
            url: url.clone(),
            message: message.to_owned(),
        };
        let records = match body.get("data") {
            Some(Value::Array(records)) => records.clone(),
            _ => return Err(decode("the page has no `data` array")),
        };
        self.next = match body.get("next_cursor") {
            None | Some(Value::Null) => None,
            Some(Value::String(next)) => Some(next.clone()),
            Some(_) => return Err(decode("`next_cursor` is neither a string nor null")),
        };
        // Only the first page's count is the whole query's.
        let total = std::mem::take(&mut self.first)
            .then(|| body.get("total").and_then(Value::as_u64))
            .flatten();
        let more = self.next.is_some();
        Ok(cursor
            .page(records, mapping::position, more)
            .with_total(total))
    }
}
