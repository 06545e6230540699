//! Push sources (SPEC §5, §14): endpoints that *receive* data — Segment's tracking API, xAPI
//! statements — rather than page through a vendor's. A push connector is a crate like the
//! others: it declares its streams and turns one HTTP request into validated items; the
//! gateway mounts it under a prefix, and the engine commits its items through the same store
//! path as a pull sync **before** the gateway acknowledges, so nothing acknowledged is lost
//! and a replica holds no state (a client that got no answer retries; upserts keyed by
//! external reference make the retry harmless).
//!
//! What a push source must not do: store anything itself, answer success for data it has not
//! handed back as items, or panic on a client's bytes.

use crate::{HeaderMap, Method, ReadItem, StreamSpec};
use async_trait::async_trait;

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
}

impl PushResponse {
    /// A JSON response.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
        }
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
    /// No such route under the source's prefix (404).
    #[error("not found: {0}")]
    NotFound(String),
    /// The route exists but not for this method (405).
    #[error("method not allowed: {0}")]
    MethodNotAllowed(String),
}

impl PushError {
    /// The HTTP status it is answered with.
    pub fn status(&self) -> u16 {
        match self {
            PushError::Unauthorized(_) => 401,
            PushError::TooLarge { .. } => 413,
            PushError::BadRequest(_) => 400,
            PushError::NotFound(_) => 404,
            PushError::MethodNotAllowed(_) => 405,
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

    /// The body of an error in the vendor's shape; by default `{"error": "<message>"}`.
    fn error_response(&self, error: &PushError) -> PushResponse {
        PushResponse::json(
            error.status(),
            &serde_json::json!({ "error": error.to_string() }),
        )
    }
}
