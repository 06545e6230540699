//! Push sources (SPEC §5, §14): endpoints that *receive* data — Segment's tracking API, xAPI
//! statements — rather than page through a vendor's. A push connector is a crate like the
//! others: it declares its streams and turns one HTTP request into validated items; the
//! gateway mounts it under a prefix, and the engine commits its items through the same store
//! path as a pull sync **before** the gateway acknowledges, so nothing acknowledged is lost
//! and a replica holds no state (a client that got no answer retries; upserts keyed by
//! external reference make the retry harmless).
//!
//! Credentials: a push source never sees the key store. The gateway hands it a
//! [`Credentials`] in each [`PushRequest`], scoped to the source's instance, and the source asks
//! it whether the secret its client presented (a Segment write key as the HTTP basic user or
//! `writeKey` in the body, an xAPI basic-auth pair's password) is a live credential *for this
//! source*. [`basic_auth`] and [`bearer`] read the usual headers.
//!
//! Stored records: a push source that must answer for what it accepted earlier (an xAPI
//! statement fetched by id, a resubmission compared with what is stored, a list by stored
//! time) reads it through the [`StoredRecords`] of its request, which the gateway implements
//! over the store, scoped to the source's own system (its kind) and instance: the raw
//! payloads it handed back as records, by external id or by the records' `source_updated_at`.
//!
//! What a push source must not do: store anything itself, answer success for data it has not
//! handed back as items, or panic on a client's bytes.

use crate::{ConnectorError, HeaderMap, Method, ReadItem, StreamSpec};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tributary_model::EntityKind;

/// One HTTP request to a push source, its path relative to the source's mount prefix.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// The HTTP method.
    pub method: Method,
    /// The path under the mount prefix, starting with `/` (e.g. `/v1/track`).
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The request headers (authentication, content type and encoding).
    pub headers: HeaderMap,
    /// The body as received (still compressed if the client compressed it).
    pub body: Vec<u8>,
    /// Verifies the credentials the client presented, against the credentials issued for
    /// this source only (`tributary apikey create --push <instance>`).
    pub credentials: Credentials,
    /// Reads back what this source stored before (its own system and instance only).
    pub records: StoredRecords,
}

/// A push credential that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCredential {
    /// The credential's name (`tributary apikey create --name`), e.g. to compare with the
    /// user name of an xAPI basic-auth pair.
    pub name: String,
}

/// The credential store could not answer; the source should refuse with
/// [`PushError::Unavailable`] so the client retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credentials cannot be checked now: {0}")]
pub struct VerifyError(pub String);

/// Checks a secret against the credentials issued for one push source. The gateway implements
/// it over the key store; a secret issued for another source, or a GraphQL key, does not
/// verify.
#[async_trait]
pub trait CredentialVerifier: Send + Sync {
    /// The credential `secret` belongs to, when it is live and scoped to this source.
    async fn verify(&self, secret: &str) -> Result<Option<VerifiedCredential>, VerifyError>;
}

/// The [`CredentialVerifier`] of a request (cheap to clone).
#[derive(Clone)]
pub struct Credentials(Arc<dyn CredentialVerifier>);

impl Credentials {
    /// Credentials checked by `verifier`.
    pub fn new(verifier: Arc<dyn CredentialVerifier>) -> Self {
        Credentials(verifier)
    }

    /// Credentials that verify nothing (a request built outside the gateway, in a test).
    pub fn none() -> Self {
        struct Nothing;
        #[async_trait]
        impl CredentialVerifier for Nothing {
            async fn verify(&self, _: &str) -> Result<Option<VerifiedCredential>, VerifyError> {
                Ok(None)
            }
        }
        Credentials(Arc::new(Nothing))
    }

    /// The credential `secret` belongs to, when it is live and scoped to this source.
    pub async fn verify(&self, secret: &str) -> Result<Option<VerifiedCredential>, VerifyError> {
        self.0.verify(secret).await
    }

    /// `Ok(credential)` when `secret` verifies; otherwise the error to refuse the request with:
    /// [`PushError::Unauthorized`] (no secret, or a wrong one) or [`PushError::Unavailable`].
    pub async fn require(&self, secret: Option<&str>) -> Result<VerifiedCredential, PushError> {
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return Err(PushError::Unauthorized("no credentials".to_owned()));
        };
        match self.verify(secret).await {
            Ok(Some(credential)) => Ok(credential),
            // Never echo the secret.
            Ok(None) => Err(PushError::Unauthorized("invalid credentials".to_owned())),
            Err(e) => Err(PushError::Unavailable(e.to_string())),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(…)")
    }
}

/// Which of its stored records a push source reads: its records of one object (the
/// [`ExternalRef::object`](tributary_model::ExternalRef) it gave them) mapped to one entity
/// kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordKind {
    /// The object, e.g. `statements`.
    pub object: String,
    /// The entity its records hold.
    pub entity: EntityKind,
}

/// A record the source stored earlier, as it handed it back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// Its external id.
    pub external_id: String,
    /// Its raw payload, as last stored.
    pub raw: serde_json::Value,
    /// Its `source_updated_at`, if it had one.
    pub updated_at: Option<DateTime<Utc>>,
    /// The row was deleted (a [`ReadItem::Delete`] of it was committed).
    pub deleted: bool,
}

/// A page of stored records ordered by `(updated_at, external_id)`; records stored without
/// a `source_updated_at` are never listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPageRequest {
    /// Only records updated strictly after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only records updated at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// Continue after this position (before it when descending): the last record's
    /// `(updated_at, external_id)` of the previous page.
    pub after: Option<(DateTime<Utc>, String)>,
    /// Oldest first; otherwise newest first.
    pub ascending: bool,
    /// At most this many records (the gateway caps it at 1,000).
    pub limit: u64,
    /// Deleted records too.
    pub include_deleted: bool,
}

/// The store could not answer; the source refuses with [`PushError::Unavailable`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored records cannot be read now: {0}")]
pub struct RecordReadError(pub String);

/// Reads a push source's stored records; the gateway implements it over the store, scoped to
/// the source's system (kind) and instance.
#[async_trait]
pub trait RecordReader: Send + Sync {
    /// The records of `kind` with these external ids (those that exist), in any order.
    async fn get(
        &self,
        kind: &RecordKind,
        external_ids: &[String],
    ) -> Result<Vec<StoredRecord>, RecordReadError>;

    /// One page of the records of `kind` by update time.
    async fn page(
        &self,
        kind: &RecordKind,
        page: &RecordPageRequest,
    ) -> Result<Vec<StoredRecord>, RecordReadError>;
}

/// The [`RecordReader`] of a request (cheap to clone).
#[derive(Clone)]
pub struct StoredRecords(Arc<dyn RecordReader>);

impl StoredRecords {
    /// Records read by `reader`.
    pub fn new(reader: Arc<dyn RecordReader>) -> Self {
        StoredRecords(reader)
    }

    /// No stored records at all (a request built outside the gateway, in a test).
    pub fn none() -> Self {
        struct Nothing;
        #[async_trait]
        impl RecordReader for Nothing {
            async fn get(
                &self,
                _: &RecordKind,
                _: &[String],
            ) -> Result<Vec<StoredRecord>, RecordReadError> {
                Ok(vec![])
            }
            async fn page(
                &self,
                _: &RecordKind,
                _: &RecordPageRequest,
            ) -> Result<Vec<StoredRecord>, RecordReadError> {
                Ok(vec![])
            }
        }
        StoredRecords(Arc::new(Nothing))
    }

    /// See [`RecordReader::get`].
    pub async fn get(
        &self,
        kind: &RecordKind,
        external_ids: &[String],
    ) -> Result<Vec<StoredRecord>, RecordReadError> {
        if external_ids.is_empty() {
            return Ok(vec![]);
        }
        self.0.get(kind, external_ids).await
    }

    /// See [`RecordReader::page`].
    pub async fn page(
        &self,
        kind: &RecordKind,
        page: &RecordPageRequest,
    ) -> Result<Vec<StoredRecord>, RecordReadError> {
        self.0.page(kind, page).await
    }
}

impl std::fmt::Debug for StoredRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredRecords(…)")
    }
}

impl From<RecordReadError> for PushError {
    fn from(e: RecordReadError) -> Self {
        PushError::Unavailable(e.to_string())
    }
}

/// The user name and password of an `Authorization: Basic` header, if it has a well-formed one.
pub fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(reqwest::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The token of an `Authorization: Bearer` header, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(reqwest::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// What the gateway sends back once the items are committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushResponse {
    /// HTTP status.
    pub status: u16,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// Further headers (name, value), e.g. a protocol version the client must see echoed.
    pub headers: Vec<(String, String)>,
}

impl PushResponse {
    /// A JSON response.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    /// A response without a body (e.g. 204).
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            content_type: "text/plain",
            body: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// This response with one more header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// An item for one of the source's streams: a record, a reject (quarantined with its raw
/// payload) or a deletion; checkpoints and counts mean nothing here.
#[derive(Debug, Clone, PartialEq)]
pub struct PushItem {
    /// The stream, one of [`PushSource::streams`].
    pub stream: String,
    /// The item.
    pub item: ReadItem,
}

/// A request the source accepted: what to commit, and what to answer once it is committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The items, committed before `response` is sent.
    pub items: Vec<PushItem>,
    /// The answer.
    pub response: PushResponse,
}

/// Why a request was refused; nothing of it is committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// Missing or wrong credentials (401).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The body is larger than the source accepts (413).
    #[error("payload too large: {message} (limit {limit_bytes} bytes)")]
    TooLarge {
        /// The limit that was exceeded.
        limit_bytes: usize,
        /// Which limit, for the client.
        message: String,
    },
    /// The request does not parse or validate as a whole (400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request contradicts what is stored (409), e.g. an id reused with other content.
    #[error("conflict: {0}")]
    Conflict(String),
    /// No such route under the source's prefix (404).
    #[error("not found: {0}")]
    NotFound(String),
    /// The route exists but not for this method (405).
    #[error("method not allowed: {0}")]
    MethodNotAllowed(String),
    /// Something the request depends on (the credential store) cannot answer now (503); the
    /// client retries.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl PushError {
    /// The HTTP status it is answered with.
    pub fn status(&self) -> u16 {
        match self {
            PushError::Unauthorized(_) => 401,
            PushError::TooLarge { .. } => 413,
            PushError::BadRequest(_) => 400,
            PushError::Conflict(_) => 409,
            PushError::NotFound(_) => 404,
            PushError::MethodNotAllowed(_) => 405,
            PushError::Unavailable(_) => 503,
        }
    }
}

/// A configured push endpoint.
#[async_trait]
pub trait PushSource: Send + Sync {
    /// The kind, e.g. `segment`.
    fn kind(&self) -> &'static str;

    /// The instance name from `tributary.toml`; goes into every external reference.
    fn instance(&self) -> &str;

    /// The streams its items belong to.
    fn streams(&self) -> Vec<StreamSpec>;

    /// The largest request body it accepts, in bytes, as sent (the gateway refuses larger
    /// ones with [`PushSource::error_response`] of [`PushError::TooLarge`] before reading
    /// further).
    fn max_body_bytes(&self) -> usize;

    /// Authenticates and validates one request into items. Records that fail validation on
    /// their own become rejects and the rest go on; a request that is wrong as a whole is
    /// an error and nothing of it is committed.
    async fn accept(&self, request: PushRequest) -> Result<Accepted, PushError>;

    /// Whether the gateway accepts and commits this source's requests one at a time (per
    /// gateway process): for a source whose items depend on what it read back through
    /// [`StoredRecords`] (a fold of earlier records), so that two concurrent requests cannot
    /// each build on a state the other is about to change. Default false.
    fn serialized(&self) -> bool {
        false
    }

    /// The body of an error in the vendor's shape; by default `{"error": "<message>"}`.
    fn error_response(&self, error: &PushError) -> PushResponse {
        PushResponse::json(
            error.status(),
            &serde_json::json!({ "error": error.to_string() }),
        )
    }
}

/// A push connector kind, for the binary's registry: what `tributary connectors list` shows,
/// and how an instance is built from its `[connectors.<name>]` section.
pub trait PushKind: Send + Sync {
    /// The `kind = "…"` value in `tributary.toml`.
    fn name(&self) -> &'static str;
    /// One line for `tributary connectors list`.
    fn summary(&self) -> &'static str;
    /// How clients authenticate, for humans.
    fn auth_methods(&self) -> &'static [&'static str];
    /// The streams its items belong to.
    fn streams(&self) -> Vec<StreamSpec>;
    /// Decodes `settings` (every key of the section but the engine's) and builds the
    /// instance with the path prefix it is mounted under.
    fn build(
        &self,
        instance: &str,
        settings: serde_json::Value,
    ) -> Result<BuiltPush, ConnectorError>;
}

/// A push source instance and where the gateway mounts it.
pub struct BuiltPush {
    /// The path prefix: starts with `/`, no trailing `/`.
    pub prefix: String,
    /// The source.
    pub source: Arc<dyn PushSource>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn basic_and_bearer_credentials_are_read_from_the_header() {
        // "writekey:" and "user:pa:ss" in base64.
        assert_eq!(
            basic_auth(&with_auth("Basic d3JpdGVrZXk6")),
            Some(("writekey".to_owned(), String::new()))
        );
        assert_eq!(
            basic_auth(&with_auth("basic dXNlcjpwYTpzcw==")),
            Some(("user".to_owned(), "pa:ss".to_owned()))
        );
        assert_eq!(basic_auth(&with_auth("Basic !!!")), None);
        assert_eq!(basic_auth(&with_auth("Bearer abc")), None);
        assert_eq!(basic_auth(&HeaderMap::new()), None);
        assert_eq!(bearer(&with_auth("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&with_auth("Bearer ")), None);
        assert_eq!(bearer(&with_auth("Basic abc")), None);
    }

    #[tokio::test]
    async fn no_credentials_verify_against_none() {
        let none = Credentials::none();
        assert_eq!(
            none.require(Some("trb_x")).await,
            Err(PushError::Unauthorized("invalid credentials".to_owned()))
        );
        assert_eq!(
            none.require(None).await,
            Err(PushError::Unauthorized("no credentials".to_owned()))
        );
    }
}
