//! The one HTTP client connectors use: timeouts, retries with exponential backoff and jitter on
//! 429, 5xx, connection errors and truncated bodies, `Retry-After` honoured (seconds or
//! HTTP-date), auth applied per request, and tracing with secrets redacted.

use crate::ConnectorError;
use reqwest::{Method, StatusCode, header::HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use std::{sync::Arc, time::Duration};

/// Tunables of the [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpClientConfig {
    /// Timeout of one request, connect to last byte.
    pub timeout: Duration,
    /// Retries after the first attempt before giving up.
    pub max_retries: u32,
    /// First backoff delay; doubles per retry.
    pub initial_backoff: Duration,
    /// Upper bound of one backoff delay, `Retry-After` included.
    pub max_backoff: Duration,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_retries: 6,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    /// No credentials.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Bearer(_) => f.write_str("Auth::Bearer(<redacted>)"),
        }
    }
}

/// A response whose status was a success.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The decoded JSON body.
    pub body: serde_json::Value,
}

/// The shared, cheaply clonable HTTP client.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
    auth: Arc<Auth>,
    config: Arc<HttpClientConfig>,
}

impl HttpClient {
    /// Builds a client with its own connection pool.
    pub fn new(config: HttpClientConfig, auth: Auth) -> Result<Self, ConnectorError> {
        let inner = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Config {
                instance: String::new(),
                message: format!("cannot build HTTP client: {e}"),
            })?;
        Ok(Self {
            inner,
            auth: Arc::new(auth),
            config: Arc::new(config),
        })
    }

    /// `GET url?query` and decode JSON, retrying what is retryable.
    pub async fn get_json(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<HttpResponse, ConnectorError> {
        self.send_json(Method::GET, url, query, None).await
    }

    /// `POST url` with a JSON body and decode JSON, retrying what is retryable.
    pub async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<HttpResponse, ConnectorError> {
        self.send_json(Method::POST, url, &[], Some(body)).await
    }

    async fn send_json(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, ConnectorError> {
        let shown = redact_url(url);
        let mut attempt = 0u32;
        loop {
            let result = self.attempt(method.clone(), url, &shown, query, body).await;
            match result {
                Ok(resp) => return Ok(resp),
                Err(e) if e.is_retryable() && attempt < self.config.max_retries => {
                    let delay = self.backoff(attempt, &e);
                    tracing::warn!(url = %shown, attempt, delay_ms = delay.as_millis() as u64, error = %e, "retrying request");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn attempt(
        &self,
        method: Method,
        url: &str,
        shown: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, ConnectorError> {
        let mut req = self.inner.request(method.clone(), url).query(query);
        if let Auth::Bearer(token) = self.auth.as_ref() {
            req = req.bearer_auth(token.expose_secret());
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let started = std::time::Instant::now();
        let resp = req.send().await.map_err(|e| ConnectorError::Transient {
            url: shown.to_owned(),
            message: without_url(&e),
        })?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| ConnectorError::Transient {
            url: shown.to_owned(),
            message: format!("reading body: {}", without_url(&e)),
        })?;
        tracing::debug!(%method, url = %shown, status = status.as_u16(), bytes = bytes.len(), elapsed_ms = started.elapsed().as_millis() as u64, "http");
        if status.is_success() {
            let body = serde_json::from_slice(&bytes).map_err(|e| {
                // A body cut short is a transport failure worth retrying; anything else is
                // a vendor sending something we do not understand.
                if e.is_eof() {
                    ConnectorError::Transient {
                        url: shown.to_owned(),
                        message: format!("truncated body ({} bytes): {e}", bytes.len()),
                    }
                } else {
                    ConnectorError::Decode {
                        url: shown.to_owned(),
                        message: e.to_string(),
                    }
                }
            })?;
            return Ok(HttpResponse {
                status,
                headers,
                body,
            });
        }
        let snippet: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
        Err(match status.as_u16() {
            429 => ConnectorError::RateLimited {
                url: shown.to_owned(),
                retry_after: retry_after(&headers),
            },
            401 | 403 => ConnectorError::Auth {
                url: shown.to_owned(),
                status: status.as_u16(),
                body: snippet,
            },
            500..=599 | 408 => ConnectorError::Transient {
                url: shown.to_owned(),
                message: format!("HTTP {}: {snippet}", status.as_u16()),
            },
            code => ConnectorError::Http {
                url: shown.to_owned(),
                status: code,
                body: snippet,
            },
        })
    }

    /// Exponential backoff with jitter; a vendor's `Retry-After` wins when it is given.
    fn backoff(&self, attempt: u32, err: &ConnectorError) -> Duration {
        if let ConnectorError::RateLimited {
            retry_after: Some(d),
            ..
        } = err
        {
            return (*d).min(self.config.max_backoff);
        }
        let base = self
            .config
            .initial_backoff
            .saturating_mul(1u32 << attempt.min(16));
        let capped = base.min(self.config.max_backoff);
        // Full jitter between half and all of the delay keeps retries from many workers apart.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let frac = 0.5 + f64::from(nanos % 1000) / 2000.0;
        capped.mul_f64(frac)
    }
}

/// Parses `Retry-After` as delta-seconds or an HTTP-date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// Hides the values of query parameters that look like credentials.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if is_secret_name(k) => format!("{k}=<redacted>"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["token", "key", "secret", "password", "signature"]
        .iter()
        .any(|s| n.contains(s))
}

/// reqwest errors print the full URL, query included; keep only the cause.
fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.without_url_ref().to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

trait WithoutUrlRef {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrlRef for reqwest::Error {
    fn without_url_ref(&self) -> String {
        if self.is_timeout() {
            "timed out".to_owned()
        } else if self.is_connect() {
            "connection failed".to_owned()
        } else if self.is_body() || self.is_decode() {
            "body error".to_owned()
        } else {
            "request failed".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        let future = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        h.insert("retry-after", future.parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120));
    }

    #[test]
    fn secrets_in_urls_are_redacted() {
        assert_eq!(
            redact_url("https://m.example/ws?wstoken=abc&wsfunction=x"),
            "https://m.example/ws?wstoken=<redacted>&wsfunction=x"
        );
        assert_eq!(redact_url("https://x/y"), "https://x/y");
    }

    #[test]
    fn bearer_auth_is_not_printed() {
        let a = Auth::Bearer(SecretString::from("pat-secret".to_owned()));
        assert!(!format!("{a:?}").contains("pat-secret"));
    }
}
