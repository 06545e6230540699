//! The one HTTP client connectors use: timeouts, retries with exponential backoff and jitter on
//! 429, 5xx, connection errors and truncated bodies, `Retry-After` honoured (seconds or
//! HTTP-date), a per-instance rate budget and bound on requests in flight, auth applied per
//! request (with an OAuth2 token refreshed ahead of expiry and once after a 401), quota
//! observers, and tracing with secrets redacted.

use crate::{
    ConnectorError,
    auth::{Token, TokenManager},
    quota::{ObservedResponse, QuotaObserver, QuotaVerdict},
};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{
    Method, StatusCode,
    header::{HeaderMap, HeaderName, HeaderValue},
};
use secrecy::{ExposeSecret, SecretString};
use std::{num::NonZeroU32, sync::Arc, time::Duration};
use tokio::sync::Semaphore;

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
    /// The request budget of the instance (every attempt counts); `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Most requests of the instance in flight at once (at least 1).
    pub max_in_flight: usize,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_retries: 6,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(60),
            rate_limit: None,
            max_in_flight: 16,
        }
    }
}

/// A request budget: one request every `replenish_every`, with up to `burst` at once after a
/// quiet spell (a GCRA, as `governor` implements it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// The time one request's allowance takes to come back.
    pub replenish_every: Duration,
    /// How many requests may go at once.
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// `requests` per second, all of them allowed at once.
    pub fn per_second(requests: NonZeroU32) -> Self {
        Self::per_interval(requests, Duration::from_secs(1))
    }

    /// `requests` per `interval` (HubSpot: 100 per 10 s), all of them allowed at once.
    pub fn per_interval(requests: NonZeroU32, interval: Duration) -> Self {
        Self {
            replenish_every: interval / requests.get(),
            burst: requests,
        }
    }

    /// The same rate with another burst size.
    pub fn with_burst(self, burst: NonZeroU32) -> Self {
        Self { burst, ..self }
    }

    fn quota(&self) -> Option<Quota> {
        Quota::with_period(self.replenish_every).map(|q| q.allow_burst(self.burst))
    }
}

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    /// No credentials.
    None,
    /// `Authorization: Bearer <token>`, a token that does not expire (e.g. a HubSpot private
    /// app token).
    Bearer(SecretString),
    /// An API key in a request header, e.g. `X-Api-Key: <key>`.
    ApiKeyHeader {
        /// The header.
        name: HeaderName,
        /// The key.
        value: SecretString,
    },
    /// An API key in a query parameter, e.g. Moodle's `wstoken`; in a request with a form
    /// body ([`HttpRequest::form`]) it is a field of that body instead, which keeps it out of
    /// URLs and access logs. Its name should look like a credential (contain `token`, `key`,
    /// `secret`…) so that URL redaction hides it wherever a connector builds such a URL itself.
    ApiKeyQuery {
        /// The parameter.
        name: String,
        /// The key.
        value: SecretString,
    },
    /// HTTP Basic: `Authorization: Basic base64(username:password)`.
    Basic {
        /// The user name (e.g. `agent@example.com/token` for Zendesk).
        username: String,
        /// The password or API token.
        password: SecretString,
    },
    /// `Authorization: Bearer <token>` from a [`TokenManager`], refreshed ahead of expiry and
    /// once after a 401, after which the request is retried.
    OAuth2(TokenManager),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Bearer(_) => f.write_str("Auth::Bearer(<redacted>)"),
            Auth::ApiKeyHeader { name, .. } => {
                write!(
                    f,
                    "Auth::ApiKeyHeader {{ name: {name:?}, value: <redacted> }}"
                )
            }
            Auth::ApiKeyQuery { name, .. } => {
                write!(
                    f,
                    "Auth::ApiKeyQuery {{ name: {name:?}, value: <redacted> }}"
                )
            }
            Auth::Basic { username, .. } => {
                write!(
                    f,
                    "Auth::Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
            Auth::OAuth2(manager) => write!(f, "Auth::OAuth2({manager:?})"),
        }
    }
}

/// A response whose status was a success.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: StatusCode,
    /// Response headers, e.g. `X-HubSpot-RateLimit-Remaining` or `Sforce-Limit-Info` (see
    /// [`crate::quota_readings`]).
    pub headers: HeaderMap,
    /// The decoded JSON body.
    pub body: serde_json::Value,
}

/// A response whose status was a success, with its body as bytes ([`HttpClient::send_bytes`]).
#[derive(Debug)]
pub struct BytesResponse {
    /// Status code.
    pub status: StatusCode,
    /// Response headers (e.g. Salesforce Bulk API's `Sforce-Locator`).
    pub headers: HeaderMap,
    /// The body as received.
    pub body: Vec<u8>,
}

/// Why [`HttpClient::send_decoded`]'s decoder refused a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The body arrived cut short; the request is tried again.
    Incomplete(String),
    /// The body is complete but not what was expected.
    Invalid(String),
}

/// A successful response with its body decoded by [`HttpClient::send_decoded`].
#[derive(Debug)]
pub struct Decoded<T> {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The decoded body.
    pub body: T,
}

/// A response header's value as trimmed text, when it is present and printable
/// (`Sforce-Locator`, `Sforce-Limit-Info`, quota headers).
pub fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// One request for [`HttpClient::send`] / [`HttpClient::send_bytes`]: method, URL, query
/// parameters, extra headers (e.g. `Sforce-Query-Options: batchSize=200`) and an optional JSON
/// or form-encoded body. Auth headers are added by the client; never put credentials here.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    method: Method,
    url: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Option<serde_json::Value>,
    form: Option<Vec<(String, String)>>,
}

impl HttpRequest {
    /// A request without query, extra headers or body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            form: None,
        }
    }

    /// `GET url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::GET, url)
    }

    /// `POST url`.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::POST, url)
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Sets a form-encoded body (`application/x-www-form-urlencoded`), replacing any JSON
    /// body. With [`Auth::ApiKeyQuery`] the key goes into this body, not the URL.
    pub fn form(mut self, fields: Vec<(String, String)>) -> Self {
        self.body = None;
        self.form = Some(fields);
        self
    }

    /// The URL (as given, before query parameters).
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The shared, cheaply clonable HTTP client. Clones share the connection pool, the rate budget,
/// the in-flight bound and the credentials.
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    auth: Arc<Auth>,
    config: Arc<HttpClientConfig>,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    in_flight: Arc<Semaphore>,
    observers: Arc<Vec<Arc<dyn QuotaObserver>>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("auth", &self.auth)
            .field("config", &self.config)
            .field("quota_observers", &self.observers.len())
            .finish_non_exhaustive()
    }
}

/// A failed attempt, with the OAuth2 token the vendor refused when it answered 401.
struct Failure {
    error: ConnectorError,
    rejected: Option<Token>,
    /// The error is the token manager's, which retried it already: retrying it here too would
    /// multiply the token requests against a failing endpoint.
    retried: bool,
}

impl From<ConnectorError> for Failure {
    fn from(error: ConnectorError) -> Self {
        Self {
            error,
            rejected: None,
            retried: false,
        }
    }
}

impl Failure {
    fn from_token_manager(error: ConnectorError) -> Self {
        Self {
            error,
            rejected: None,
            retried: true,
        }
    }
}

impl HttpClient {
    /// Builds a client with its own connection pool, rate budget and in-flight bound.
    pub fn new(config: HttpClientConfig, auth: Auth) -> Result<Self, ConnectorError> {
        let fail = |message: String| ConnectorError::Config {
            instance: String::new(),
            message,
        };
        if config.max_in_flight == 0 {
            return Err(fail("max_in_flight must be at least 1".to_owned()));
        }
        let limiter = match &config.rate_limit {
            None => None,
            Some(limit) => {
                let quota = limit.quota().ok_or_else(|| {
                    fail("rate_limit must replenish after a non-zero interval".to_owned())
                })?;
                Some(Arc::new(RateLimiter::direct(quota)))
            }
        };
        match &auth {
            Auth::ApiKeyHeader { name, value } => {
                HeaderValue::from_str(value.expose_secret()).map_err(|_| {
                    fail(format!(
                        "the API key for header `{name}` has characters a header cannot carry"
                    ))
                })?;
            }
            Auth::ApiKeyQuery { name, .. } if name.is_empty() => {
                return Err(fail("the API key query parameter needs a name".to_owned()));
            }
            _ => {}
        }
        let inner = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| fail(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            inner,
            auth: Arc::new(auth),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            config: Arc::new(config),
            limiter,
            observers: Arc::new(Vec::new()),
        })
    }

    /// This client with one more [`QuotaObserver`], which sees every response of this client
    /// and of clones made from it afterwards.
    pub fn with_quota_observer(mut self, observer: impl QuotaObserver + 'static) -> Self {
        let mut observers = self.observers.as_ref().clone();
        observers.push(Arc::new(observer));
        self.observers = Arc::new(observers);
        self
    }

    /// The credentials requests carry.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The token manager, when requests authenticate with OAuth2; a connector reads the token
    /// response's extra fields through it (e.g. Salesforce's `instance_url`).
    pub fn token_manager(&self) -> Option<&TokenManager> {
        match self.auth.as_ref() {
            Auth::OAuth2(manager) => Some(manager),
            _ => None,
        }
    }

    /// Where calls to the vendor go: the `instance_url` of the OAuth2 token response (the
    /// instance a Salesforce org lives on; a token response without one is a decode error),
    /// else `endpoint` (a static bearer token); without a trailing slash.
    pub async fn instance_url(&self, endpoint: &str) -> Result<String, ConnectorError> {
        let base = match self.token_manager() {
            Some(manager) => match manager.extras().await?.instance_url() {
                Some(url) => url.to_owned(),
                None => {
                    return Err(ConnectorError::Decode {
                        url: endpoint.to_owned(),
                        message: "the token response has no `instance_url`".to_owned(),
                    });
                }
            },
            None => endpoint.to_owned(),
        };
        Ok(base.trim_end_matches('/').to_owned())
    }

    /// The tunables.
    pub fn config(&self) -> &HttpClientConfig {
        &self.config
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

    /// `method url?query` with an optional JSON body, decoding JSON, retrying what is
    /// retryable.
    pub async fn send_json(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, ConnectorError> {
        let mut request = HttpRequest::new(method, url);
        for (name, value) in query {
            request = request.query(*name, value.clone());
        }
        if let Some(body) = body {
            request = request.json(body.clone());
        }
        self.send(&request).await
    }

    /// Sends `request` and decodes the body as JSON, retrying what is retryable (a body cut
    /// short included).
    pub async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, ConnectorError> {
        self.execute(request, |shown, _, bytes| {
            serde_json::from_slice(bytes).map_err(|e| {
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
            })
        })
        .await
        .map(|(status, headers, body)| HttpResponse {
            status,
            headers,
            body,
        })
    }

    /// Sends `request` and returns the body as bytes (CSV results, exports), with the same
    /// retries, auth, budget and observers as [`HttpClient::send`]. A body shorter than its
    /// `Content-Length` is retried as a transient failure.
    pub async fn send_bytes(&self, request: &HttpRequest) -> Result<BytesResponse, ConnectorError> {
        self.send_decoded(request, |_, bytes| Ok(bytes.to_vec()))
            .await
            .map(|r| BytesResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })
    }

    /// Sends `request` and decodes a successful body with `decode`, which sees the headers
    /// too. [`BodyError::Incomplete`] (a CSV page shorter than its declared record count, a
    /// missing final line break) is retried like a transport failure, within the client's
    /// retry budget; [`BodyError::Invalid`] fails at once as a decode error.
    pub async fn send_decoded<T>(
        &self,
        request: &HttpRequest,
        decode: impl Fn(&HeaderMap, &[u8]) -> Result<T, BodyError>,
    ) -> Result<Decoded<T>, ConnectorError> {
        self.execute(request, |shown, headers, bytes| {
            decode(headers, bytes).map_err(|e| match e {
                BodyError::Incomplete(message) => ConnectorError::Transient {
                    url: shown.to_owned(),
                    message: format!("incomplete body ({} bytes): {message}", bytes.len()),
                },
                BodyError::Invalid(message) => ConnectorError::Decode {
                    url: shown.to_owned(),
                    message,
                },
            })
        })
        .await
        .map(|(status, headers, body)| Decoded {
            status,
            headers,
            body,
        })
    }

    /// The retry loop around [`HttpClient::attempt`]; `decode` turns a success body into `T`
    /// and may fail retryably.
    async fn execute<T>(
        &self,
        request: &HttpRequest,
        decode: impl Fn(&str, &HeaderMap, &[u8]) -> Result<T, ConnectorError>,
    ) -> Result<(StatusCode, HeaderMap, T), ConnectorError> {
        let shown = redact_url(&request.url);
        let mut retries = 0u32;
        let mut attempt = 0u32;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            let mut failure = match self.attempt(request, &shown, attempt).await {
                Ok((status, headers, bytes)) => match decode(&shown, &headers, &bytes) {
                    Ok(body) => return Ok((status, headers, body)),
                    Err(error) => Failure::from(error),
                },
                Err(failure) => failure,
            };
            // A 401 on an OAuth2 token: the token expired early or was revoked. Replace it once
            // (shared with every request that saw the same token refused) and go again at once;
            // a second 401 is a real refusal.
            if let (Some(rejected), Auth::OAuth2(manager)) = (&failure.rejected, self.auth.as_ref())
                && !reauthenticated
            {
                reauthenticated = true;
                tracing::debug!(url = %shown, attempt, generation = rejected.generation(), "access token refused; refreshing it once");
                match manager.refresh_after_rejection(rejected).await {
                    Ok(_) => continue,
                    Err(e) => failure = Failure::from_token_manager(e),
                }
            }
            let error = failure.error;
            if error.is_retryable() && !failure.retried && retries < self.config.max_retries {
                let delay = self.backoff(retries, &error);
                tracing::warn!(url = %shown, attempt, delay_ms = delay.as_millis() as u64, error = %error, "retrying request");
                tokio::time::sleep(delay).await;
                retries += 1;
                continue;
            }
            return Err(error);
        }
    }

    async fn attempt(
        &self,
        request: &HttpRequest,
        shown: &str,
        attempt: u32,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), Failure> {
        let method = &request.method;
        let token = match self.auth.as_ref() {
            Auth::OAuth2(manager) => {
                Some(manager.token().await.map_err(Failure::from_token_manager)?)
            }
            _ => None,
        };
        let permit = self
            .in_flight
            .acquire()
            .await
            .expect("the in-flight semaphore is never closed");
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let mut req = self
            .inner
            .request(method.clone(), &request.url)
            .query(&request.query)
            .headers(request.headers.clone());
        req = match self.auth.as_ref() {
            // `token` is set exactly when the auth is OAuth2.
            Auth::None | Auth::OAuth2(_) => match &token {
                Some(token) => req.bearer_auth(token.secret().expose_secret()),
                None => req,
            },
            Auth::Bearer(secret) => req.bearer_auth(secret.expose_secret()),
            Auth::ApiKeyHeader { name, value } => {
                let mut value = HeaderValue::from_str(value.expose_secret())
                    .expect("checked to be a valid header value in HttpClient::new");
                value.set_sensitive(true);
                req.header(name, value)
            }
            Auth::ApiKeyQuery { name, value } => match &request.form {
                Some(fields) => {
                    let mut fields = fields.clone();
                    fields.push((name.clone(), value.expose_secret().to_owned()));
                    req.form(&fields)
                }
                None => req.query(&[(name.as_str(), value.expose_secret())]),
            },
            Auth::Basic { username, password } => {
                req.basic_auth(username, Some(password.expose_secret()))
            }
        };
        if let Some(body) = &request.body {
            req = req.json(body);
        } else if let Some(fields) = &request.form
            && !matches!(self.auth.as_ref(), Auth::ApiKeyQuery { .. })
        {
            req = req.form(fields);
        }
        let started = std::time::Instant::now();
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => {
                let message = without_url(&e);
                tracing::debug!(%method, url = %shown, attempt, elapsed_ms = started.elapsed().as_millis() as u64, error = %message, "http request failed");
                return Err(ConnectorError::Transient {
                    url: shown.to_owned(),
                    message,
                }
                .into());
            }
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| ConnectorError::Transient {
            url: shown.to_owned(),
            message: format!("reading body: {}", without_url(&e)),
        })?;
        tracing::debug!(%method, url = %shown, status = status.as_u16(), bytes = bytes.len(), elapsed_ms = started.elapsed().as_millis() as u64, attempt, "http response");
        drop(permit);
        let verdict = self.observe(&ObservedResponse {
            method,
            url: shown,
            status,
            headers: &headers,
            body: &bytes,
        });
        if status.is_success() {
            return Ok((status, headers, bytes.to_vec()));
        }
        if let QuotaVerdict::Exhausted { message, resume_at } = verdict {
            return Err(ConnectorError::QuotaExhausted {
                url: shown.to_owned(),
                message,
                resume_at,
            }
            .into());
        }
        let snippet: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
        let throttled = verdict == QuotaVerdict::Throttled;
        let error = match status.as_u16() {
            _ if throttled => ConnectorError::RateLimited {
                url: shown.to_owned(),
                retry_after: retry_after(&headers),
            },
            429 => ConnectorError::RateLimited {
                url: shown.to_owned(),
                retry_after: retry_after(&headers),
            },
            401 | 403 => ConnectorError::Auth {
                url: shown.to_owned(),
                status: status.as_u16(),
                body: snippet,
                token_for: None,
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
        };
        Err(Failure {
            error,
            rejected: token.filter(|_| status == StatusCode::UNAUTHORIZED),
            retried: false,
        })
    }

    /// Shows a response to every observer; the first verdict other than `Continue` wins.
    fn observe(&self, response: &ObservedResponse<'_>) -> QuotaVerdict {
        let mut verdict = QuotaVerdict::Continue;
        for observer in self.observers.iter() {
            let v = observer.observe(response);
            if verdict == QuotaVerdict::Continue {
                verdict = v;
            }
        }
        verdict
    }

    fn backoff(&self, retry: u32, err: &ConnectorError) -> Duration {
        backoff_delay(
            self.config.initial_backoff,
            self.config.max_backoff,
            retry,
            err,
        )
    }
}

/// The retry policy of every request, token requests included: exponential backoff from
/// `initial` with jitter, at most `max`; a vendor's `Retry-After` wins when it is given.
pub(crate) fn backoff_delay(
    initial: Duration,
    max: Duration,
    retry: u32,
    err: &ConnectorError,
) -> Duration {
    if let ConnectorError::RateLimited {
        retry_after: Some(d),
        ..
    } = err
    {
        return (*d).min(max);
    }
    let base = initial.saturating_mul(1u32 << retry.min(16));
    let capped = base.min(max);
    // Full jitter between half and all of the delay keeps retries from many workers apart.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let frac = 0.5 + f64::from(nanos % 1000) / 2000.0;
    capped.mul_f64(frac)
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

/// Hides user info (`https://user:pass@host`) and the values of query parameters that look like
/// credentials.
pub(crate) fn redact_url(url: &str) -> String {
    let url = redact_userinfo(url);
    let Some((base, query)) = url.split_once('?') else {
        return url;
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

fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://<redacted>@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "token",
        "key",
        "secret",
        "password",
        "signature",
        "assertion",
        "credential",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// reqwest errors print the full URL, query included; keep only the cause.
pub(crate) fn without_url(e: &reqwest::Error) -> String {
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
    fn header_text_is_trimmed_and_only_printable() {
        let mut h = HeaderMap::new();
        h.insert("sforce-locator", " MTAwMDA ".parse().unwrap());
        h.insert("x-bytes", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert_eq!(header_text(&h, "Sforce-Locator"), Some("MTAwMDA"));
        assert_eq!(header_text(&h, "x-bytes"), None);
        assert_eq!(header_text(&h, "absent"), None);
    }

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
        assert_eq!(
            redact_url("https://bob:hunter2@x.example/y?a=1"),
            "https://<redacted>@x.example/y?a=1"
        );
        assert_eq!(
            redact_url("https://x.example/y?email=a@b.c"),
            "https://x.example/y?email=a@b.c"
        );
    }

    #[test]
    fn credentials_are_not_printed() {
        let secret = || SecretString::from("pat-secret".to_owned());
        for a in [
            Auth::Bearer(secret()),
            Auth::ApiKeyHeader {
                name: HeaderName::from_static("x-api-key"),
                value: secret(),
            },
            Auth::ApiKeyQuery {
                name: "wstoken".to_owned(),
                value: secret(),
            },
            Auth::Basic {
                username: "agent@example.com/token".to_owned(),
                password: secret(),
            },
        ] {
            let shown = format!("{a:?}");
            assert!(!shown.contains("pat-secret"), "{shown}");
            let client = HttpClient::new(HttpClientConfig::default(), a).unwrap();
            assert!(!format!("{client:?}").contains("pat-secret"));
        }
    }

    #[test]
    fn invalid_settings_are_config_errors() {
        let zero = HttpClientConfig {
            max_in_flight: 0,
            ..HttpClientConfig::default()
        };
        assert!(matches!(
            HttpClient::new(zero, Auth::None),
            Err(ConnectorError::Config { .. })
        ));
        let bad_key = Auth::ApiKeyHeader {
            name: HeaderName::from_static("x-api-key"),
            value: SecretString::from("line\nbreak-SECRET".to_owned()),
        };
        let err = HttpClient::new(HttpClientConfig::default(), bad_key).unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
        let no_rate = HttpClientConfig {
            rate_limit: Some(RateLimit {
                replenish_every: Duration::ZERO,
                burst: NonZeroU32::MIN,
            }),
            ..HttpClientConfig::default()
        };
        assert!(HttpClient::new(no_rate, Auth::None).is_err());
    }

    #[test]
    fn rate_limits_spread_the_interval() {
        let hubspot =
            RateLimit::per_interval(NonZeroU32::new(100).unwrap(), Duration::from_secs(10));
        assert_eq!(hubspot.replenish_every, Duration::from_millis(100));
        assert_eq!(hubspot.burst.get(), 100);
        let smooth = RateLimit::per_second(NonZeroU32::new(4).unwrap()).with_burst(NonZeroU32::MIN);
        assert_eq!(smooth.replenish_every, Duration::from_millis(250));
        assert_eq!(smooth.burst.get(), 1);
    }
}
