//! Connector errors, each with a class that decides retries.

use std::time::Duration;

/// The class of a [`ConnectorError`]; retry policy keys on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The configuration is wrong; retrying cannot help.
    Config,
    /// Credentials were refused.
    Auth,
    /// The vendor throttled us.
    RateLimited,
    /// A network error or a 5xx; worth retrying.
    Transient,
    /// The vendor's response could not be decoded.
    Decode,
    /// Anything else that must stop the stream.
    Fatal,
}

/// Errors a connector or its HTTP client returns.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// Invalid configuration.
    #[error("invalid configuration for connector `{instance}`: {message}")]
    Config {
        /// The instance.
        instance: String,
        /// What is wrong.
        message: String,
    },
    /// The vendor refused the credentials (401/403).
    #[error("authentication failed for {url}: HTTP {status}: {body}")]
    Auth {
        /// The request URL (without secrets).
        url: String,
        /// HTTP status.
        status: u16,
        /// The start of the error body.
        body: String,
    },
    /// The vendor throttled the request.
    #[error("rate limited by {url}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// The request URL.
        url: String,
        /// How long the vendor asked us to wait.
        retry_after: Option<Duration>,
    },
    /// A transient failure: connection error, timeout, 5xx, truncated body.
    #[error("transient failure calling {url}: {message}")]
    Transient {
        /// The request URL.
        url: String,
        /// What happened.
        message: String,
    },
    /// A response that does not decode.
    #[error("could not decode response from {url}: {message}")]
    Decode {
        /// The request URL.
        url: String,
        /// The decode error.
        message: String,
    },
    /// A non-retryable HTTP error.
    #[error("request to {url} failed: HTTP {status}: {body}")]
    Http {
        /// The request URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The start of the error body.
        body: String,
    },
}

impl ConnectorError {
    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            ConnectorError::Config { .. } => ErrorClass::Config,
            ConnectorError::Auth { .. } => ErrorClass::Auth,
            ConnectorError::RateLimited { .. } => ErrorClass::RateLimited,
            ConnectorError::Transient { .. } => ErrorClass::Transient,
            ConnectorError::Decode { .. } => ErrorClass::Decode,
            ConnectorError::Http { .. } => ErrorClass::Fatal,
        }
    }

    /// Whether retrying the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.class(),
            ErrorClass::RateLimited | ErrorClass::Transient
        )
    }
}
