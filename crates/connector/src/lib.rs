//! The connector SDK (SPEC §5, STYLE §2): what a vendor crate implements and what it is given.
//!
//! Key types:
//! - [`Connector`]: a configured instance of a vendor integration; declares its [`StreamSpec`]s
//!   and reads a stream as a stream of [`ReadItem`]s (records, rejects, deletes, checkpoints).
//! - [`ConnectorContext`]: what the runtime hands a connector — its instance name and an
//!   [`HttpClient`] that already retries, backs off, honours `Retry-After`, keeps to the
//!   instance's rate budget and in-flight bound, and authenticates every request ([`Auth`]).
//! - [`TokenManager`] (module [`auth`]): OAuth2 access tokens by the refresh-token,
//!   client-credentials or JWT bearer grant, refreshed ahead of expiry and once after a 401,
//!   one refresh shared by all concurrent requests. [`AuthSettings`] is the `auth` table of a
//!   connector's configuration and builds any [`Auth`].
//! - [`QuotaObserver`] and [`quota_readings`]: the vendor's quota headers, and a way to end a
//!   request with [`ConnectorError::QuotaExhausted`] when a daily limit is reached.
//! - [`ConnectorError`]: every failure with a class, so retry policy lives in one place.
//! - [`ConnectorKind`] (module [`kind`]): what a vendor crate declares — kind name, typed
//!   config, auth, streams with cursor field, sync modes and [`DeleteStrategy`], and how to
//!   build an instance; the binary's registry is a list of [`DynKind`]s.
//! - [`PushSource`] (module [`push`]): an endpoint that receives data (Segment, xAPI): a
//!   request becomes validated items, committed before the gateway acknowledges; it checks
//!   its clients' keys through [`Credentials`] and reads back what it stored before through
//!   [`StoredRecords`]; [`PushKind`] declares it to the binary's registry.
//! - [`SourceCount`] and [`StreamSpec::delete_strategy`]: the reconciliation and delete
//!   strategy the engine records on every run (SPEC §6).
//! - [`pull`]: the shared pull driver (stream declarations, starting-cursor rules, the page
//!   loop with per-page checkpoints and counts, the record/delete/reject step, paging shapes);
//!   [`map`]: [`MapError`] and the typed field readers every vendor mapping uses.
//!
//! A connector must not open its own HTTP client, read env vars or files, sleep to back off,
//! spawn detached tasks, log secrets or panic on vendor data. It knows nothing of the store,
//! the sync engine or GraphQL; the engine treats stream state as opaque JSON.

pub mod auth;
mod error;
mod http;
pub mod kind;
pub mod learning;
pub mod map;
pub mod pull;
pub mod push;
mod quota;
pub mod revenue;

pub use auth::{
    AuthSettings, ClientAuth, Grant, JwtBearer, OAuth2Config, Token, TokenExtras, TokenManager,
};
pub use error::{ConnectorError, ErrorClass};
pub use http::{
    Auth, BodyError, BytesResponse, Decoded, HttpClient, HttpClientConfig, HttpRequest,
    HttpResponse, RateLimit, header_text,
};
pub use kind::{
    ConnectorKind, Declared, DynKind, check_endpoint, check_range, describe_specs,
    describe_streams, find_kind,
};
pub use map::{Fields, MapError};
pub use push::{
    Accepted, BuiltPush, CredentialVerifier, Credentials, PushError, PushItem, PushKind,
    PushRequest, PushResponse, PushSource, RecordKind, RecordPageRequest, RecordReadError,
    RecordReader, StoredRecord, StoredRecords, VerifiedCredential, VerifyError,
};
pub use quota::{
    DailyReserve, ObservedResponse, QuotaObserver, QuotaReading, QuotaVerdict, QuotaWindow,
    daily_remaining, quota_readings,
};
pub use reqwest::{
    Method,
    header::{HeaderMap, HeaderName, HeaderValue},
};
pub use revenue::{ArrProblem, CrmSettings, MappingError, MappingSettings, RevenueMapping};

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use tributary_model::{EntityKind, ExternalRef, SourceRecord};

/// How a stream is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Read everything from the start.
    FullRefresh,
    /// Read what changed since the saved cursor.
    Incremental,
}

impl SyncMode {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::FullRefresh => "full_refresh",
            SyncMode::Incremental => "incremental",
        }
    }
}

/// How a stream learns that the source deleted a row (SPEC §6), recorded on every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteStrategy {
    /// The vendor lists deleted rows and the connector emits [`ReadItem::Delete`] for each
    /// (Salesforce `queryAll` with `IsDeleted`, HubSpot `archived=true`); a full refresh
    /// also sweeps what it did not see.
    NativeFeed,
    /// Only a full read finds deletions: the keys it saw are compared with the stored ones
    /// and the rest are marked deleted (the engine's sweep at the end of a full refresh).
    KeyDiff,
    /// The source never deletes (an append-only feed, dated rates): nothing is swept.
    None,
}

impl DeleteStrategy {
    /// The stable snake_case name stored on runs.
    pub fn as_str(self) -> &'static str {
        match self {
            DeleteStrategy::NativeFeed => "native_feed",
            DeleteStrategy::KeyDiff => "key_diff",
            DeleteStrategy::None => "none",
        }
    }
}

/// A stream a connector can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// The stream's name, unique within the connector (e.g. `companies`).
    pub name: String,
    /// The entity its records map to.
    pub entity: EntityKind,
    /// The vendor field that orders changes, for incremental reads.
    pub cursor_field: Option<String>,
    /// The modes this stream supports; the first is the default.
    pub modes: Vec<SyncMode>,
    /// How deletions at the source reach the store.
    pub delete_strategy: DeleteStrategy,
}

/// Opaque, connector-owned state of one stream; the engine stores it as JSON and hands it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamState(pub serde_json::Value);

impl StreamState {
    /// A connector's typed cursor from the saved state: the default when there is none (or it
    /// is null), and also — with a warning — when it does not decode, since starting a stream
    /// over is always correct, only slower.
    pub fn decode<T: serde::de::DeserializeOwned + Default>(
        state: Option<StreamState>,
        stream: &str,
    ) -> T {
        match state.map(|s| s.0) {
            None | Some(serde_json::Value::Null) => T::default(),
            Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|e| {
                tracing::warn!(stream, state = %v, error = %e, "unrecognised stream state; starting over");
                T::default()
            }),
        }
    }

    /// The state of a typed cursor (null if it cannot be represented, which starts over).
    pub fn encode<T: Serialize>(cursor: &T) -> StreamState {
        StreamState(serde_json::to_value(cursor).unwrap_or(serde_json::Value::Null))
    }
}

/// A record the connector could not map. It is quarantined with its raw payload and the sync
/// goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// The vendor id, when it could be read.
    pub external_id: Option<String>,
    /// Why the record was rejected, for a human.
    pub reason: String,
    /// The payload as received.
    pub raw: serde_json::Value,
}

/// The source's own count of what a read covers, and how much of it the connector read: the
/// reconciliation of SPEC §6. A connector emits one when a phase of its read that the vendor
/// counted ends (HubSpot search `total`, Salesforce `totalSize`, Skilljar `count`); `read`
/// counts the source records the connector took in that phase, across resumed runs (it
/// carries the tally in its state), whether they became records, rejects or deletions. The
/// engine sums them over the run and records a shortfall on the run as a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCount {
    /// Which part of the read the vendor counted, for a human (e.g. `search window`).
    pub phase: String,
    /// How many records the vendor said the phase holds.
    pub source: u64,
    /// How many the connector read in it.
    pub read: u64,
}

/// One item a stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadItem {
    /// A mapped record to upsert.
    Record(Box<SourceRecord>),
    /// A record that failed mapping.
    Reject(Reject),
    /// The source deleted this row.
    Delete(ExternalRef),
    /// A record read and deliberately not loaded (a deal that is not won, in a full refresh
    /// whose sweep removes what it no longer sees; a deleted row a full listing still shows):
    /// nothing is stored, but the run counts it, so its figures add up to what was read.
    Skip,
    /// The vendor's count of a phase of the read against what was read.
    Count(SourceCount),
    /// The vendor says this many more items are still to come in the phase being read (its
    /// count less what earlier runs of a resumed read took): a total for a progress bar, sent
    /// once per phase when the vendor reports one. Not a check: [`ReadItem::Count`] is.
    Expect(u64),
    /// Everything before this item is safe to commit together with this state. A connector
    /// emits one after each page; `StreamState(Value::Null)` means "start over next time"
    /// (and, in a full refresh, that the read reached its end, as [`ReadItem::Complete`]).
    Checkpoint(StreamState),
    /// The read reached the end of the stream: everything before is committed with this
    /// state, and a full refresh marks the rows it did not see as deleted, in the same
    /// transaction. Unlike a null checkpoint, the state survives, so a full refresh can hand
    /// the next incremental run its high-water mark instead of making it read everything.
    Complete(StreamState),
}

/// What the runtime hands a connector instance.
#[derive(Clone, Debug)]
pub struct ConnectorContext {
    /// The instance name from `tributary.toml` (e.g. `hubspot-prod`); goes into every
    /// [`ExternalRef`].
    pub instance: String,
    /// The shared HTTP client (retries, backoff, timeouts, auth).
    pub http: HttpClient,
}

/// A configured instance of a vendor integration.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The vendor kind, e.g. `hubspot`.
    fn kind(&self) -> &'static str;

    /// The instance name.
    fn instance(&self) -> &str;

    /// Verifies credentials and reachability with one cheap call.
    async fn check(&self) -> Result<(), ConnectorError>;

    /// The streams this connector offers, in the order they should be synced.
    fn streams(&self) -> Vec<StreamSpec>;

    /// Reads one stream from `state` (none: from the start).
    fn read<'a>(
        &'a self,
        stream: &'a StreamSpec,
        mode: SyncMode,
        state: Option<StreamState>,
    ) -> BoxStream<'a, Result<ReadItem, ConnectorError>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Mark {
        since: Option<String>,
    }

    #[test]
    fn typed_states_round_trip_and_unknown_ones_start_over() {
        let mark = Mark {
            since: Some("2026-11-01".into()),
        };
        let state = StreamState::encode(&mark);
        assert_eq!(state.0, json!({"since": "2026-11-01"}));
        assert_eq!(StreamState::decode::<Mark>(Some(state), "s"), mark);
        assert_eq!(StreamState::decode::<Mark>(None, "s"), Mark::default());
        assert_eq!(
            StreamState::decode::<Mark>(Some(StreamState(serde_json::Value::Null)), "s"),
            Mark::default()
        );
        assert_eq!(
            StreamState::decode::<Mark>(Some(StreamState(json!({"page": 3}))), "s"),
            Mark::default()
        );
    }
}
