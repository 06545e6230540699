//! Connector errors, each with a class that decides retries.
//!
//! No variant ever carries a credential: URLs are redacted before they get here, error bodies of
//! token endpoints are reduced to their OAuth2 `error` code and description, and the token
//! manager scrubs every secret it knows from any vendor text it quotes.

use std::time::Duration;

/// The class of a [`ConnectorError`]; retry policy keys on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The configuration is wrong; retrying cannot help.
    Config,
    /// Credentials were refused.
    Auth,
    /// The vendor throttled us, or a quota is used up.
    RateLimited,
    /// A network error or a 5xx; worth retrying.
    Transient,
    /// The vendor's response could not be decoded.
    Decode,
    /// Anything else that must stop the stream.
    Fatal,
}

/// Errors a connector or its HTTP client returns.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectorError {
    /// Invalid configuration.
    #[error("invalid configuration for connector `{instance}`: {message}")]
    Config {
        /// The instance.
        instance: String,
        /// What is wrong.
        message: String,
    },
    /// Credentials were refused: the vendor answered 401/403 to a request, or its token endpoint
    /// refused to issue an access token (then `token_for` names the connector instance).
    #[error("{}", auth_message(url, *status, body, token_for.as_deref()))]
    Auth {
        /// The URL that refused, without secrets: the resource, or the token endpoint.
        url: String,
        /// HTTP status of the refusal.
        status: u16,
        /// The start of the error body; for a token endpoint, its OAuth2 `error` code and
        /// `error_description` only.
        body: String,
        /// Set when the token endpoint refused: the connector instance whose token could not be
        /// obtained or refreshed.
        token_for: Option<String>,
    },
    /// The vendor throttled the request; the client retries it after `retry_after` (or its own
    /// backoff) until its retries run out.
    #[error("rate limited by {url}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// The request URL.
        url: String,
        /// How long the vendor asked us to wait.
        retry_after: Option<Duration>,
    },
    /// A quota that does not come back within a run (e.g. a daily API limit) is used up. The
    /// client never retries it; the engine ends the run successfully at its last checkpoint and
    /// resumes after `resume_at`. A connector (or a [`crate::QuotaObserver`]) returns it.
    #[error("API quota exhausted at {url}: {message}{}", resume_at.map(|t| format!(" (resumes after {})", t.to_rfc3339())).unwrap_or_default())]
    QuotaExhausted {
        /// The request URL.
        url: String,
        /// Which quota, for a human (e.g. "daily limit of 250000 requests reached").
        message: String,
        /// When the quota window rolls over, when the vendor says.
        resume_at: Option<chrono::DateTime<chrono::Utc>>,
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

fn auth_message(url: &str, status: u16, body: &str, token_for: Option<&str>) -> String {
    match token_for {
        Some(instance) => {
            format!(
                "failed to refresh token for connector `{instance}`: {body} (HTTP {status} from {url})"
            )
        }
        None => format!("authentication failed for {url}: HTTP {status}: {body}"),
    }
}

impl ConnectorError {
    /// A [`ConnectorError::Config`] of connector `instance`.
    pub fn config(instance: &str, message: impl Into<String>) -> Self {
        ConnectorError::Config {
            instance: instance.to_owned(),
            message: message.into(),
        }
    }

    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            ConnectorError::Config { .. } => ErrorClass::Config,
            ConnectorError::Auth { .. } => ErrorClass::Auth,
            ConnectorError::RateLimited { .. } | ConnectorError::QuotaExhausted { .. } => {
                ErrorClass::RateLimited
            }
            ConnectorError::Transient { .. } => ErrorClass::Transient,
            ConnectorError::Decode { .. } => ErrorClass::Decode,
            ConnectorError::Http { .. } => ErrorClass::Fatal,
        }
    }

    /// Whether retrying the same request may succeed. An exhausted quota is rate limiting that
    /// will not lift within a run, so it is not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            ConnectorError::QuotaExhausted { .. } => false,
            other => matches!(
                other.class(),
                ErrorClass::RateLimited | ErrorClass::Transient
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_exhausted_is_rate_limited_but_not_retried() {
        let e = ConnectorError::QuotaExhausted {
            url: "https://x/y".to_owned(),
            message: "daily limit reached".to_owned(),
            resume_at: None,
        };
        assert_eq!(e.class(), ErrorClass::RateLimited);
        assert!(!e.is_retryable());
        let throttled = ConnectorError::RateLimited {
            url: "https://x/y".to_owned(),
            retry_after: None,
        };
        assert!(throttled.is_retryable());
    }

    #[test]
    fn auth_messages_name_what_failed() {
        let refused = ConnectorError::Auth {
            url: "https://x/y".to_owned(),
            status: 401,
            body: "INVALID_SESSION_ID".to_owned(),
            token_for: None,
        };
        assert_eq!(
            refused.to_string(),
            "authentication failed for https://x/y: HTTP 401: INVALID_SESSION_ID"
        );
        let refresh = ConnectorError::Auth {
            url: "https://login/token".to_owned(),
            status: 400,
            body: "invalid_grant: authentication failure".to_owned(),
            token_for: Some("sfdc".to_owned()),
        };
        assert_eq!(
            refresh.to_string(),
            "failed to refresh token for connector `sfdc`: invalid_grant: authentication failure (HTTP 400 from https://login/token)"
        );
        assert!(!refresh.is_retryable());
    }
}
