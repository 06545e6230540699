//! The gateway's errors and their stable `extensions.code` (STYLE §3).
//!
//! Every error a client can see carries a SCREAMING_SNAKE code. Internal errors (the store
//! failed, a row does not decode, analytics refused stored data) are logged with their whole chain through `tracing` and reach
//! the client only as "internal error" with code `INTERNAL`.

use async_graphql::ErrorExtensions;
use std::sync::Arc;
use tributary_store::StoreError;

/// Every `extensions.code` this gateway answers with, and when (the README's "Error codes"
/// table lists them with their HTTP status). A request error (the request is refused before
/// execution: no `data` entry) has status 400 under `application/graphql-response+json` and
/// 200 under `application/json`, unless its own status is given here.
pub mod code {
    /// The client's input is invalid: the document does not validate against the schema
    /// (unknown field, wrong argument type, missing variable, unknown operation name), or an
    /// argument value is out of range or malformed (`first: 1000`, `id: "x"`, a NUL
    /// character). A request error when found before execution, a field error after.
    pub const VALIDATION_FAILED: &str = "VALIDATION_FAILED";
    /// A pagination cursor that this server did not hand out (field error).
    pub const BAD_CURSOR: &str = "BAD_CURSOR";
    /// The thing asked for does not exist (unknown route: 404).
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// Something failed on our side (500 when nothing could be answered); details are in the
    /// server log only.
    pub const INTERNAL: &str = "INTERNAL";
    /// The query did not finish within the configured query timeout and was cancelled (504).
    pub const TIMEOUT: &str = "TIMEOUT";
    /// The server is shutting down and cancelled the query past its grace period (503).
    pub const SHUTTING_DOWN: &str = "SHUTTING_DOWN";
    /// The GraphQL document does not parse.
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    /// The document nests fields (fragments expanded) or brackets deeper than the limit.
    pub const QUERY_TOO_DEEP: &str = "QUERY_TOO_DEEP";
    /// The document's cost (fragments expanded, lists by `first`) exceeds the limit.
    pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    /// The HTTP request is not a well-formed GraphQL-over-HTTP request (bad JSON, `query`
    /// missing or not a string …): 400.
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    /// The request body (or a GET's query string) is larger than the body limit: 413.
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    /// The whole HTTP exchange (a slow upload included) took longer than the request timeout:
    /// 408.
    pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
    /// The request's `Content-Type` is missing or not `application/json`: 415.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
    /// The `Accept` header admits no media type this server can produce: 406.
    pub const NOT_ACCEPTABLE: &str = "NOT_ACCEPTABLE";
    /// The HTTP method cannot run this operation (a mutation over GET): 405.
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    /// No API key, or an unknown or revoked one (HTTP 401; see `auth`).
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    /// The key's role may not read this field or run this mutation (a field error, HTTP 200
    /// with the rest of the data), or the key cannot be used here at all (a push credential
    /// sent to `/graphql`: HTTP 403).
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// The key (or, for anonymous requests, the client's IP) exceeded its rate limit (HTTP
    /// 429 with `Retry-After`).
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// Automatic persisted queries: this replica knows no query by that hash; resend the
    /// hash with the query text (Apollo's APQ protocol).
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    /// Persisted queries are off (`gateway.persisted_queries.mode = "off"`); send the text.
    pub const PERSISTED_QUERY_NOT_SUPPORTED: &str = "PERSISTED_QUERY_NOT_SUPPORTED";
    /// The query text sent with a persisted-query hash does not hash to it.
    pub const PERSISTED_QUERY_HASH_MISMATCH: &str = "PERSISTED_QUERY_HASH_MISMATCH";
    /// Allow-list mode: the operation is not on the server's list; refused unparsed.
    pub const PERSISTED_QUERY_NOT_ALLOWED: &str = "PERSISTED_QUERY_NOT_ALLOWED";
    /// The document asks for `__schema` or `__type` and introspection is switched off
    /// (`gateway.introspection = false`).
    pub const INTROSPECTION_DISABLED: &str = "INTROSPECTION_DISABLED";
}

/// Errors raised while resolving a query.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// An argument is out of range or malformed; the message says which and why.
    #[error("{0}")]
    Validation(String),
    /// The object the operation names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A pagination cursor does not decode or belongs to another list.
    #[error("invalid cursor `{0}`: pass an `endCursor` this list returned")]
    BadCursor(String),
    /// The store failed.
    #[error("store error")]
    Store(#[source] Arc<StoreError>),
    /// The analytics core refused the stored data (a revenue ledger mixing currencies).
    #[error("analytics error")]
    Analytics(#[source] tributary_analytics::AnalyticsError),
    /// The schema was built without data a resolver needs (a programming error).
    #[error("schema misconfigured: {0}")]
    Misconfigured(&'static str),
}

impl GatewayError {
    /// The stable `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::Validation(_) => code::VALIDATION_FAILED,
            GatewayError::BadCursor(_) => code::BAD_CURSOR,
            GatewayError::NotFound(_) => code::NOT_FOUND,
            GatewayError::Store(_)
            | GatewayError::Analytics(_)
            | GatewayError::Misconfigured(_) => code::INTERNAL,
        }
    }

    /// Whether the client must not see the message.
    fn is_internal(&self) -> bool {
        self.code() == code::INTERNAL
    }
}

impl From<tributary_analytics::AnalyticsError> for GatewayError {
    /// A period the other way round is the client's mistake; anything else is ours.
    fn from(e: tributary_analytics::AnalyticsError) -> Self {
        match e {
            tributary_analytics::AnalyticsError::InvalidPeriod { from, to } => {
                GatewayError::Validation(format!("`from` ({from}) is after `to` ({to})"))
            }
            e => GatewayError::Analytics(e),
        }
    }
}

impl From<StoreError> for GatewayError {
    fn from(e: StoreError) -> Self {
        GatewayError::Store(Arc::new(e))
    }
}

impl From<Arc<StoreError>> for GatewayError {
    fn from(e: Arc<StoreError>) -> Self {
        GatewayError::Store(e)
    }
}

impl From<GatewayError> for async_graphql::Error {
    /// Internal errors lose their message here; the error itself travels on as the source and
    /// is logged once per request when the response is complete.
    fn from(e: GatewayError) -> Self {
        let code = e.code();
        let message = if e.is_internal() {
            "internal error".to_owned()
        } else {
            e.to_string()
        };
        async_graphql::Error {
            message,
            source: Some(Arc::new(e)),
            extensions: None,
        }
        .extend_with(|_, ext| ext.set("code", code))
    }
}

/// Logs the internal errors among `errors`, each distinct cause once (a failed batch load
/// reaches every account of a page, and one line is enough).
pub(crate) fn log_internal(errors: &[async_graphql::ServerError]) {
    let mut seen: Vec<String> = Vec::new();
    for e in errors {
        let Some(cause) = e
            .source
            .as_ref()
            .and_then(|s| s.downcast_ref::<GatewayError>())
            .filter(|g| g.is_internal())
        else {
            continue;
        };
        let chain = error_chain(cause);
        if seen.contains(&chain) {
            continue;
        }
        let path = serde_json::to_string(&e.path).unwrap_or_default();
        tracing::error!(error = %chain, %path, "query failed on an internal error");
        seen.push(chain);
    }
}

/// `error: cause: cause …`, for logs.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// An error raised outside a resolver (by the HTTP layer or the request checks), with its code.
pub(crate) fn server_error(
    message: impl Into<String>,
    code: &'static str,
) -> async_graphql::ServerError {
    let mut e = async_graphql::ServerError::new(message, None);
    set_code(&mut e, code);
    e
}

/// Sets `extensions.code` unless the error already has one.
pub(crate) fn set_code(e: &mut async_graphql::ServerError, code: &'static str) {
    if has_code(e) {
        return;
    }
    e.extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
}

/// Whether `extensions.code` is set.
pub(crate) fn has_code(e: &async_graphql::ServerError) -> bool {
    e.extensions
        .as_ref()
        .is_some_and(|x| x.get("code").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let e: async_graphql::Error =
            GatewayError::from(StoreError::Invalid("secret table detail".into())).into();
        assert_eq!(e.message, "internal error");
        let ext = e.extensions.as_ref().expect("extensions");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("INTERNAL"))
        );
        // The cause stays attached for the log, and never reaches the JSON.
        let server = e.into_server_error(async_graphql::Pos::default());
        assert!(server.source::<GatewayError>().is_some());
        let json = serde_json::to_string(&server).unwrap();
        assert!(!json.contains("secret"), "{json}");
        log_internal(&[server.clone(), server]);
    }

    #[test]
    fn client_errors_keep_their_message_and_code() {
        let e: async_graphql::Error = GatewayError::BadCursor("xyz".into()).into();
        assert!(e.message.contains("`xyz`"), "{}", e.message);
        let ext = e.extensions.expect("extensions");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("BAD_CURSOR"))
        );
    }

    #[test]
    fn set_code_keeps_an_existing_code() {
        let mut e = server_error("x", code::BAD_CURSOR);
        set_code(&mut e, code::INTERNAL);
        let ext = e.extensions.expect("extensions");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("BAD_CURSOR"))
        );
    }
}
