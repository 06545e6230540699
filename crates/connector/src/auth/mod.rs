//! OAuth2 access tokens for connectors: a [`TokenManager`] obtains, caches and refreshes one
//! instance's token with the refresh-token, client-credentials or JWT bearer grant.
//!
//! - Tokens are refreshed **ahead of expiry** (`refresh_skew` before `expires_in` runs out) and
//!   **once after a 401** ([`TokenManager::refresh_after_rejection`]); the
//!   [`crate::HttpClient`] does both itself when built with [`crate::Auth::OAuth2`].
//! - Concurrent callers share one refresh: the first caller starts it and every caller that
//!   needs a token meanwhile awaits the same shared future, so twenty requests meeting an
//!   expired token make one token request. A generation counter tells a 401 on a token that has
//!   already been replaced from one on the current token.
//! - The standard grants go through the `oauth2` crate, driven by our reqwest client (no
//!   redirects) through a newtype implementing `oauth2::AsyncHttpClient`; the JWT bearer grant,
//!   which `oauth2` lacks, is a form POST through the same transport, read with `oauth2`'s
//!   response types.
//! - Secrets live in [`SecretString`]s. They never reach `Debug`, tracing or errors: error texts
//!   from the token endpoint are reduced to the OAuth2 `error` and `error_description` and
//!   scrubbed of every secret the manager knows.

mod jwt;
mod settings;
mod transport;

use crate::{ConnectorError, http::redact_url};
use futures::{
    FutureExt,
    future::{BoxFuture, Shared},
};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, ExtraTokenFields, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
    basic::{
        BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
        BasicTokenType,
    },
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
pub use settings::{AuthSettings, ClientAuthSetting, GrantSetting, OAuth2Settings};
use std::{
    fmt,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};
use transport::{OAuthHttp, TransportError};

/// The grant type of the JWT bearer flow (RFC 7523 §2.1).
pub const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How the client authenticates itself at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` as form fields (Salesforce, HubSpot).
    #[default]
    RequestBody,
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
    BasicHeader,
}

/// How the manager obtains access tokens.
#[derive(Debug, Clone)]
pub enum Grant {
    /// `grant_type=refresh_token` (Salesforce web-server apps, HubSpot public apps). A refresh
    /// token the endpoint rotates is kept in memory for the next refresh.
    RefreshToken {
        /// The long-lived refresh token.
        refresh_token: SecretString,
    },
    /// `grant_type=client_credentials`; needs a client secret.
    ClientCredentials,
    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an RS256 assertion signed
    /// afresh for every token request (Salesforce server-to-server). No refresh token is issued.
    JwtBearer(JwtBearer),
}

impl Grant {
    /// A stable name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Grant::RefreshToken { .. } => "refresh_token",
            Grant::ClientCredentials => "client_credentials",
            Grant::JwtBearer(_) => "jwt_bearer",
        }
    }
}

/// The JWT bearer grant's assertion: `iss` is the client id, `sub` the username, `aud` the
/// audience URL and `exp` at most `lifetime` ahead.
#[derive(Debug, Clone)]
pub struct JwtBearer {
    /// PEM-encoded RSA private key (PKCS#8 `BEGIN PRIVATE KEY` or PKCS#1 `BEGIN RSA PRIVATE KEY`)
    /// whose certificate is uploaded to the vendor's app.
    pub private_key_pem: SecretString,
    /// `sub`: the user to act as (the Salesforce username).
    pub subject: String,
    /// `aud`: e.g. `https://login.salesforce.com` or `https://test.salesforce.com`.
    pub audience: String,
    /// How far ahead `exp` is; at most 3 minutes, which Salesforce enforces.
    pub lifetime: Duration,
}

impl JwtBearer {
    /// A grant with a two-minute assertion lifetime, leaving room for clock skew under
    /// Salesforce's three-minute limit.
    pub fn new(
        private_key_pem: SecretString,
        subject: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            private_key_pem,
            subject: subject.into(),
            audience: audience.into(),
            lifetime: Duration::from_secs(120),
        }
    }
}

/// Everything a [`TokenManager`] needs.
#[derive(Debug, Clone)]
pub struct OAuth2Config {
    /// The connector instance (e.g. `sfdc-prod`); named in errors and logs.
    pub instance: String,
    /// The token endpoint, e.g. `https://login.salesforce.com/services/oauth2/token`.
    pub token_url: String,
    /// The client id (Salesforce consumer key); also the JWT `iss`.
    pub client_id: String,
    /// The client secret, when the app has one.
    pub client_secret: Option<SecretString>,
    /// Where the client id and secret go.
    pub client_auth: ClientAuth,
    /// The grant.
    pub grant: Grant,
    /// Scopes to request; none sends no `scope`.
    pub scopes: Vec<String>,
    /// Refresh a token this long before it expires. Keep it well under the token lifetime: a
    /// token that lives less than this is refreshed before every use.
    pub refresh_skew: Duration,
    /// Lifetime assumed when a token response has no `expires_in` (Salesforce never sends one).
    /// `None`: such a token is used until the vendor answers 401.
    pub assumed_lifetime: Option<Duration>,
    /// Timeout of one token request.
    pub timeout: Duration,
    /// Retries of a token request that failed retryably (5xx, 429, a connection error, a
    /// response cut short) before the failure is returned. The manager retries itself because
    /// tokens are also fetched outside any request's retry loop ([`TokenManager::extras`]).
    pub max_retries: u32,
    /// First delay before such a retry; doubles per retry up to `max_backoff`. The token
    /// endpoint's `Retry-After` wins when it sends one.
    pub initial_backoff: Duration,
    /// Upper bound of one retry delay, `Retry-After` included.
    pub max_backoff: Duration,
}

impl OAuth2Config {
    /// A configuration with no secret, body client authentication, no scopes, a one-minute
    /// refresh skew, no assumed lifetime, a 30-second timeout and four retries from 100 ms.
    pub fn new(
        instance: impl Into<String>,
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        grant: Grant,
    ) -> Self {
        Self {
            instance: instance.into(),
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: None,
            client_auth: ClientAuth::default(),
            grant,
            scopes: Vec::new(),
            refresh_skew: Duration::from_secs(60),
            assumed_lifetime: None,
            timeout: Duration::from_secs(30),
            max_retries: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }

    /// Sets the client secret.
    pub fn with_client_secret(mut self, secret: SecretString) -> Self {
        self.client_secret = Some(secret);
        self
    }
}

/// Fields of the token response beyond RFC 6749's, e.g. Salesforce's `instance_url` (the host
/// every later call must go to), `id`, `issued_at` and `signature`. `Debug` shows only the
/// field names: some (`id_token`, `signature`) are sensitive.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenExtras(serde_json::Map<String, serde_json::Value>);

impl ExtraTokenFields for TokenExtras {}

impl TokenExtras {
    /// A field's value.
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.get(name)
    }

    /// A string field's value.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(serde_json::Value::as_str)
    }

    /// Salesforce's `instance_url`.
    pub fn instance_url(&self) -> Option<&str> {
        self.get_str("instance_url")
    }

    /// The names of the fields present.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

impl fmt::Debug for TokenExtras {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// An access token handed out by a [`TokenManager`], with the generation it belongs to.
#[derive(Clone)]
pub struct Token {
    secret: Arc<SecretString>,
    generation: u64,
}

impl Token {
    /// The access token.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// Which successful token request produced it (1 for the first).
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("secret", &"<redacted>")
            .field("generation", &self.generation)
            .finish()
    }
}

type TokenResponseBody = StandardTokenResponse<TokenExtras, BasicTokenType>;
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenResponseBody,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;
type Refresh = Shared<BoxFuture<'static, Result<Token, ConnectorError>>>;

/// Obtains, caches and refreshes the access token of one connector instance. Cheap to clone;
/// clones share the token.
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

struct Inner {
    config: OAuth2Config,
    token_url: TokenUrl,
    shown_token_url: String,
    signer: Option<jwt::Signer>,
    http: reqwest::Client,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    generation: u64,
    rotated_refresh_token: Option<SecretString>,
    extras: Arc<TokenExtras>,
    inflight: Option<Refresh>,
}

struct Current {
    token: Token,
    expires_at: Option<Instant>,
}

impl TokenManager {
    /// Checks the configuration (token URL, client id, secrets the grant needs, the JWT key) and
    /// builds the manager's own reqwest client, which never follows redirects. No request is
    /// made until a token is first needed.
    pub fn new(config: OAuth2Config) -> Result<Self, ConnectorError> {
        let fail = |message: String| ConnectorError::Config {
            instance: config.instance.clone(),
            message,
        };
        let token_url = TokenUrl::new(config.token_url.clone()).map_err(|e| {
            fail(format!(
                "token_url `{}` is not a URL: {e}",
                redact_url(&config.token_url)
            ))
        })?;
        if !matches!(token_url.url().scheme(), "http" | "https") {
            return Err(fail(format!(
                "token_url `{}` must be an http(s) URL",
                redact_url(&config.token_url)
            )));
        }
        if config.client_id.trim().is_empty() {
            return Err(fail("client_id is required".to_owned()));
        }
        let has_secret = config
            .client_secret
            .as_ref()
            .is_some_and(|s| !s.expose_secret().is_empty());
        let signer = match &config.grant {
            Grant::RefreshToken { refresh_token } => {
                if refresh_token.expose_secret().trim().is_empty() {
                    return Err(fail("refresh_token is required".to_owned()));
                }
                None
            }
            Grant::ClientCredentials => {
                if !has_secret {
                    return Err(fail(
                        "client_secret is required for the client credentials grant".to_owned(),
                    ));
                }
                None
            }
            Grant::JwtBearer(grant) => Some(jwt::Signer::new(
                &config.instance,
                &config.client_id,
                grant,
            )?),
        };
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| fail(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                shown_token_url: redact_url(&config.token_url),
                token_url,
                signer,
                http,
                state: Mutex::new(State::default()),
                config,
            }),
        })
    }

    /// The connector instance this manager serves.
    pub fn instance(&self) -> &str {
        &self.inner.config.instance
    }

    /// A token to use now: the cached one while it is more than `refresh_skew` from expiry,
    /// otherwise a new one (shared with every concurrent caller).
    pub async fn token(&self) -> Result<Token, ConnectorError> {
        let refresh = {
            let mut state = self.inner.lock();
            if let Some(current) = &state.current
                && current.is_fresh(Instant::now(), self.inner.config.refresh_skew)
            {
                return Ok(current.token.clone());
            }
            let reason = if state.current.is_some() {
                "expiring"
            } else {
                "none cached"
            };
            self.refresh_locked(&mut state, reason)
        };
        refresh.await
    }

    /// Replaces `rejected`, a token the vendor answered 401 to. When it was already replaced
    /// (another request saw the 401 first), the replacement is returned without a new request.
    pub async fn refresh_after_rejection(&self, rejected: &Token) -> Result<Token, ConnectorError> {
        let refresh = {
            let mut state = self.inner.lock();
            match &state.current {
                Some(current) if current.token.generation != rejected.generation => {
                    return Ok(current.token.clone());
                }
                Some(_) => state.current = None,
                None => {}
            }
            self.refresh_locked(&mut state, "rejected with 401")
        };
        refresh.await
    }

    /// The extra fields of the latest token response (obtaining a token first if none is
    /// cached), e.g. Salesforce's `instance_url`.
    pub async fn extras(&self) -> Result<Arc<TokenExtras>, ConnectorError> {
        self.token().await?;
        Ok(self.inner.lock().extras.clone())
    }

    /// The refresh in flight, or a new one.
    fn refresh_locked(&self, state: &mut State, reason: &'static str) -> Refresh {
        if let Some(inflight) = &state.inflight {
            return inflight.clone();
        }
        let inner = self.inner.clone();
        let refresh_token = state.rotated_refresh_token.clone();
        let refresh = async move {
            let outcome = inner.request_token_retrying(refresh_token, reason).await;
            let mut state = inner.lock();
            state.inflight = None;
            let fetched = outcome?;
            state.generation += 1;
            let token = Token {
                secret: Arc::new(fetched.access_token),
                generation: state.generation,
            };
            state.current = Some(Current {
                token: token.clone(),
                expires_at: fetched.expires_at,
            });
            if let Some(rotated) = fetched.refresh_token {
                state.rotated_refresh_token = Some(rotated);
            }
            state.extras = Arc::new(fetched.extras);
            Ok(token)
        }
        .boxed()
        .shared();
        state.inflight = Some(refresh.clone());
        refresh
    }
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let generation = self.inner.lock().generation;
        f.debug_struct("TokenManager")
            .field("instance", &self.inner.config.instance)
            .field("token_url", &self.inner.shown_token_url)
            .field("grant", &self.inner.config.grant.kind())
            .field("generation", &generation)
            .finish_non_exhaustive()
    }
}

impl Current {
    fn is_fresh(&self, now: Instant, skew: Duration) -> bool {
        self.expires_at
            .is_none_or(|expires_at| now.checked_add(skew).is_some_and(|t| t < expires_at))
    }
}

/// What one successful token request produced.
struct Fetched {
    access_token: SecretString,
    expires_at: Option<Instant>,
    refresh_token: Option<SecretString>,
    extras: TokenExtras,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a handful of fields assigned together; a panic elsewhere cannot leave
        // it half-written, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// [`Inner::request_token`], retried while it fails retryably. Every way to a token goes
    /// through here — [`TokenManager::token`], [`TokenManager::refresh_after_rejection`] and
    /// [`TokenManager::extras`] — so a token response cut short is retried wherever a
    /// connector asks for a token, not only inside [`crate::HttpClient`]'s request loop.
    async fn request_token_retrying(
        &self,
        rotated_refresh_token: Option<SecretString>,
        reason: &'static str,
    ) -> Result<Fetched, ConnectorError> {
        let mut retries = 0;
        loop {
            match self
                .request_token(rotated_refresh_token.clone(), reason)
                .await
            {
                Err(e) if e.is_retryable() && retries < self.config.max_retries => {
                    let delay = crate::http::backoff_delay(
                        self.config.initial_backoff,
                        self.config.max_backoff,
                        retries,
                        &e,
                    );
                    tracing::warn!(connector = %self.config.instance, delay_ms = delay.as_millis() as u64, error = %e, "retrying access token request");
                    tokio::time::sleep(delay).await;
                    retries += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn request_token(
        &self,
        rotated_refresh_token: Option<SecretString>,
        reason: &'static str,
    ) -> Result<Fetched, ConnectorError> {
        let grant = self.config.grant.kind();
        tracing::debug!(connector = %self.config.instance, grant, reason, token_url = %self.shown_token_url, "requesting access token");
        let started = Instant::now();
        let transport = OAuthHttp::new(self.http.clone());
        let mut assertion = None;
        let result = match &self.config.grant {
            Grant::RefreshToken { refresh_token } => {
                let refresh_token = rotated_refresh_token.as_ref().unwrap_or(refresh_token);
                let refresh_token = RefreshToken::new(refresh_token.expose_secret().to_owned());
                self.oauth_client()
                    .exchange_refresh_token(&refresh_token)
                    .add_scopes(self.scopes())
                    .request_async(&transport)
                    .await
                    .map_err(|e| self.oauth_error(e, transport.last_status()))
            }
            Grant::ClientCredentials => self
                .oauth_client()
                .exchange_client_credentials()
                .add_scopes(self.scopes())
                .request_async(&transport)
                .await
                .map_err(|e| self.oauth_error(e, transport.last_status())),
            Grant::JwtBearer(_) => {
                let signed = self
                    .signer
                    .as_ref()
                    .expect("a jwt bearer grant always has a signer: TokenManager::new builds it")
                    .assertion(&self.config.instance)?;
                let result = self.jwt_bearer(&transport, &signed).await;
                assertion = Some(signed);
                result
            }
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let status = transport.last_status();
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                let e = self.scrubbed(e, assertion.as_ref());
                tracing::warn!(connector = %self.config.instance, grant, status, elapsed_ms, error = %e, "access token request failed");
                return Err(e);
            }
        };
        let expires_in = response.expires_in();
        let lifetime = expires_in.or(self.config.assumed_lifetime);
        tracing::debug!(
            connector = %self.config.instance,
            grant,
            status,
            elapsed_ms,
            expires_in_secs = expires_in.map(|d| d.as_secs()),
            refresh_token_returned = response.refresh_token().is_some(),
            extra_fields = ?response.extra_fields(),
            "access token obtained"
        );
        Ok(Fetched {
            access_token: SecretString::from(response.access_token().secret().to_owned()),
            // Counted from before the request, so the token is never thought to live longer
            // than it does.
            expires_at: lifetime.and_then(|d| started.checked_add(d)),
            refresh_token: response
                .refresh_token()
                .map(|t| SecretString::from(t.secret().to_owned())),
            extras: response.extra_fields().clone(),
        })
    }

    fn oauth_client(&self) -> OAuthClient {
        let client = oauth2::Client::new(ClientId::new(self.config.client_id.clone()))
            .set_token_uri(self.token_url.clone())
            .set_auth_type(match self.config.client_auth {
                ClientAuth::RequestBody => AuthType::RequestBody,
                ClientAuth::BasicHeader => AuthType::BasicAuth,
            });
        match &self.config.client_secret {
            Some(secret) => {
                client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()))
            }
            None => client,
        }
    }

    fn scopes(&self) -> impl Iterator<Item = Scope> + '_ {
        self.config.scopes.iter().cloned().map(Scope::new)
    }

    /// The JWT bearer grant, which `oauth2` has no request type for: the same form POST and
    /// response handling as its standard grants.
    async fn jwt_bearer(
        &self,
        transport: &OAuthHttp,
        assertion: &SecretString,
    ) -> Result<TokenResponseBody, ConnectorError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", JWT_BEARER_GRANT_TYPE),
            ("assertion", assertion.expose_secret()),
        ];
        let scope = self.config.scopes.join(" ");
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        let mut request = self
            .http
            .post(self.token_url.url().clone())
            .header(reqwest::header::ACCEPT, "application/json");
        // RFC 7523 needs no client authentication; send it only when the app has a secret.
        if let Some(secret) = &self.config.client_secret {
            match self.config.client_auth {
                ClientAuth::RequestBody => {
                    form.push(("client_id", &self.config.client_id));
                    form.push(("client_secret", secret.expose_secret()));
                }
                ClientAuth::BasicHeader => {
                    let encode = |s: &str| -> String {
                        oauth2::url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
                    };
                    request = request.basic_auth(
                        encode(&self.config.client_id),
                        Some(encode(secret.expose_secret())),
                    );
                }
            }
        }
        let request = request
            .form(&form)
            .build()
            .map_err(|e| ConnectorError::Config {
                instance: self.config.instance.clone(),
                message: format!(
                    "cannot build the token request: {}",
                    crate::http::without_url(&e)
                ),
            })?;
        let response = transport
            .execute(request)
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let body = response.body();
        if status == reqwest::StatusCode::OK {
            serde_json::from_slice::<TokenResponseBody>(body).map_err(|e| self.undecodable(&e))
        } else {
            Err(match serde_json::from_slice::<BasicErrorResponse>(body) {
                Ok(refusal) => self.refused(status.as_u16(), describe_refusal(&refusal)),
                Err(_) => self.refused(
                    status.as_u16(),
                    "the token endpoint's error response has no OAuth2 error".to_owned(),
                ),
            })
        }
    }

    /// Maps an `oauth2` failure; never quotes a response body but the OAuth2 error fields.
    fn oauth_error(
        &self,
        error: RequestTokenError<TransportError, BasicErrorResponse>,
        status: Option<u16>,
    ) -> ConnectorError {
        let ok = status.is_none_or(|s| s == 200);
        match error {
            RequestTokenError::ServerResponse(refusal) => {
                self.refused(status.unwrap_or(400), describe_refusal(&refusal))
            }
            RequestTokenError::Request(e) => self.transport_error(e),
            // A body cut short is a transport failure: the request is retried.
            RequestTokenError::Parse(e, _body) if ok && e.inner().is_eof() => {
                ConnectorError::Transient {
                    url: self.shown_token_url.clone(),
                    message: format!("token response cut short at `{}`", e.path()),
                }
            }
            RequestTokenError::Parse(e, _body) if ok => ConnectorError::Decode {
                url: self.shown_token_url.clone(),
                message: format!("token response does not decode at `{}`", e.path()),
            },
            RequestTokenError::Parse(..) => self.refused(
                status.unwrap_or(400),
                "the token endpoint's error response has no OAuth2 error".to_owned(),
            ),
            RequestTokenError::Other(message) if ok => ConnectorError::Decode {
                url: self.shown_token_url.clone(),
                message,
            },
            RequestTokenError::Other(message) => self.refused(status.unwrap_or(400), message),
        }
    }

    fn transport_error(&self, error: TransportError) -> ConnectorError {
        let url = self.shown_token_url.clone();
        match error {
            TransportError::Retryable {
                status: 429,
                retry_after,
            } => ConnectorError::RateLimited { url, retry_after },
            TransportError::Retryable { status, .. } => ConnectorError::Transient {
                url,
                message: format!("token endpoint answered HTTP {status}"),
            },
            TransportError::Send(message) => ConnectorError::Transient {
                url,
                message: format!("token request failed: {message}"),
            },
        }
    }

    fn refused(&self, status: u16, body: String) -> ConnectorError {
        ConnectorError::Auth {
            url: self.shown_token_url.clone(),
            status,
            body,
            token_for: Some(self.config.instance.clone()),
        }
    }

    fn undecodable(&self, e: &serde_json::Error) -> ConnectorError {
        if e.is_eof() {
            // A body cut short is a transport failure: the request is retried.
            return ConnectorError::Transient {
                url: self.shown_token_url.clone(),
                message: format!(
                    "token response cut short (line {} column {})",
                    e.line(),
                    e.column()
                ),
            };
        }
        // serde_json's message can quote the offending value, which may be the token itself.
        ConnectorError::Decode {
            url: self.shown_token_url.clone(),
            message: format!(
                "token response does not decode ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ),
        }
    }

    /// Replaces every secret this manager knows by `<redacted>` in an error's text: vendors
    /// have been known to echo request parameters in error descriptions.
    fn scrubbed(&self, error: ConnectorError, assertion: Option<&SecretString>) -> ConnectorError {
        let mut secrets: Vec<&str> = Vec::new();
        if let Some(s) = &self.config.client_secret {
            secrets.push(s.expose_secret());
        }
        match &self.config.grant {
            Grant::RefreshToken { refresh_token } => secrets.push(refresh_token.expose_secret()),
            Grant::JwtBearer(jwt) => secrets.push(jwt.private_key_pem.expose_secret()),
            Grant::ClientCredentials => {}
        }
        let state = self.lock();
        if let Some(rotated) = &state.rotated_refresh_token {
            secrets.push(rotated.expose_secret());
        }
        if let Some(current) = &state.current {
            secrets.push(current.token.secret.expose_secret());
        }
        if let Some(a) = assertion {
            secrets.push(a.expose_secret());
        }
        let scrub = |text: String| -> String {
            secrets
                .iter()
                .filter(|s| s.len() >= 4)
                .fold(text, |t, s| t.replace(s, "<redacted>"))
        };
        match error {
            ConnectorError::Auth {
                url,
                status,
                body,
                token_for,
            } => ConnectorError::Auth {
                url,
                status,
                body: scrub(body),
                token_for,
            },
            ConnectorError::Decode { url, message } => ConnectorError::Decode {
                url,
                message: scrub(message),
            },
            ConnectorError::Transient { url, message } => ConnectorError::Transient {
                url,
                message: scrub(message),
            },
            ConnectorError::Config { instance, message } => ConnectorError::Config {
                instance,
                message: scrub(message),
            },
            other => other,
        }
    }
}

/// `error: error_description`, cut to 300 characters.
fn describe_refusal(refusal: &BasicErrorResponse) -> String {
    let text = match refusal.error_description() {
        Some(description) if !description.is_empty() => {
            format!("{}: {description}", refusal.error())
        }
        _ => refusal.error().to_string(),
    };
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses_keep_vendor_extras() {
        let body = r#"{"access_token":"00Dxx!AQ","instance_url":"https://acme.my.salesforce.com",
            "id":"https://login.salesforce.com/id/00D/005","token_type":"Bearer",
            "issued_at":"1700000000000","signature":"c2ln","scope":"api refresh_token"}"#;
        let r: TokenResponseBody = serde_json::from_str(body).unwrap();
        assert_eq!(r.access_token().secret(), "00Dxx!AQ");
        assert_eq!(r.expires_in(), None);
        assert_eq!(
            r.extra_fields().instance_url(),
            Some("https://acme.my.salesforce.com")
        );
        assert_eq!(r.extra_fields().get_str("issued_at"), Some("1700000000000"));
        assert!(r.extra_fields().get("access_token").is_none());
        let shown = format!("{:?}", r.extra_fields());
        assert!(
            shown.contains("instance_url") && !shown.contains("c2ln"),
            "{shown}"
        );

        let hubspot = r#"{"token_type":"bearer","refresh_token":"r-1","access_token":"a-1","expires_in":1800}"#;
        let r: TokenResponseBody = serde_json::from_str(hubspot).unwrap();
        assert_eq!(r.expires_in(), Some(Duration::from_secs(1800)));
        assert_eq!(r.refresh_token().unwrap().secret(), "r-1");
        assert_eq!(r.extra_fields().names().count(), 0);
    }

    fn config(grant: Grant) -> OAuth2Config {
        OAuth2Config::new(
            "sfdc",
            "https://login.example/services/oauth2/token",
            "cid",
            grant,
        )
    }

    #[test]
    fn configuration_is_checked_without_quoting_secrets() {
        let bad_key = Grant::JwtBearer(JwtBearer::new(
            SecretString::from("-----BEGIN PRIVATE KEY-----\nnot-a-key-XYZZY\n".to_owned()),
            "user@example.com",
            "https://login.example",
        ));
        let e = TokenManager::new(config(bad_key)).unwrap_err();
        assert!(matches!(e, ConnectorError::Config { .. }), "{e:?}");
        assert!(!e.to_string().contains("XYZZY") && !format!("{e:?}").contains("XYZZY"));

        let e = TokenManager::new(config(Grant::ClientCredentials)).unwrap_err();
        assert!(e.to_string().contains("client_secret is required"), "{e}");

        let e = TokenManager::new(config(Grant::RefreshToken {
            refresh_token: SecretString::from(String::new()),
        }))
        .unwrap_err();
        assert!(e.to_string().contains("refresh_token is required"), "{e}");

        let mut c = config(Grant::ClientCredentials)
            .with_client_secret(SecretString::from("s3cr3t".to_owned()));
        c.token_url = "not a url".to_owned();
        let e = TokenManager::new(c).unwrap_err();
        assert!(e.to_string().contains("token_url"), "{e}");
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let c = config(Grant::RefreshToken {
            refresh_token: SecretString::from("rt-PLUGH".to_owned()),
        })
        .with_client_secret(SecretString::from("cs-PLUGH".to_owned()));
        let shown = format!("{c:?}");
        assert!(!shown.contains("PLUGH"), "{shown}");
        let m = TokenManager::new(c).unwrap();
        let shown = format!("{m:?}");
        assert!(
            shown.contains("refresh_token") && !shown.contains("PLUGH"),
            "{shown}"
        );
        let t = Token {
            secret: Arc::new(SecretString::from("at-PLUGH".to_owned())),
            generation: 3,
        };
        assert!(!format!("{t:?}").contains("PLUGH"));
    }

    #[test]
    fn freshness_honours_the_skew() {
        let now = Instant::now();
        let token = Token {
            secret: Arc::new(SecretString::from("t".to_owned())),
            generation: 1,
        };
        let at = |secs| Current {
            token: token.clone(),
            expires_at: Some(now + Duration::from_secs(secs)),
        };
        assert!(at(120).is_fresh(now, Duration::from_secs(60)));
        assert!(!at(30).is_fresh(now, Duration::from_secs(60)));
        let forever = Current {
            token,
            expires_at: None,
        };
        assert!(forever.is_fresh(now, Duration::from_secs(3600)));
    }
}
