//! Authentication, roles and per-key rate limits (SPEC §10).
//!
//! - **Who is asking.** A GraphQL request carries an API key as `Authorization: Bearer <key>`
//!   (or `X-Api-Key: <key>`). The key is hashed and looked up in the store
//!   ([`tributary_store::keys`]); the gateway never sees a stored secret and never logs the one
//!   it was sent. A missing, unknown or revoked key is refused with HTTP 401 and
//!   `extensions.code = "UNAUTHENTICATED"`, unless [`AuthConfig::anonymous_role`] lets
//!   anonymous requests act as a role. A push credential (a key scoped to one push source) is
//!   refused here with 403 `FORBIDDEN`: it is only good at its source's endpoint.
//! - **Caching.** A verified key is cached per replica for [`AuthConfig::cache_ttl`], so a
//!   revocation by another process (`tributary apikey revoke`) takes effect within that time;
//!   a revocation through this process's store invalidates the cache at once (the store's
//!   revocation counter, [`Store::api_keys_generation`]). Unknown keys are not cached, so a key
//!   created a moment ago works at once.
//! - **What it may read.** The request's [`Principal`] goes into the GraphQL request's data,
//!   and field guards ([`RoleGuard`]) check its role per field: [`REVENUE`] (ARR, subscription
//!   amounts, the revenue ledger and bridge) needs finance or admin; [`PERSONAL`] (people's
//!   names and emails, quarantined raw payloads) needs cs, ce or admin; [`ADMIN`] (every
//!   mutation) needs admin. A denial is a field error with code `FORBIDDEN` that names the
//!   field and the roles that may read it; the field is null and the rest of the response
//!   stands.
//! - **How often.** A token bucket per principal (per key; per client IP for anonymous
//!   requests) allows [`RateLimit::requests_per_minute`] with bursts of [`RateLimit::burst`];
//!   past it the answer is 429 with `extensions.code = "RATE_LIMITED"` and `Retry-After`. The
//!   buckets live in each replica's memory: behind a load balancer with N replicas a key may
//!   get up to N times its limit.
//! - **Push credentials.** [`PushCredentials`] implements the connector SDK's
//!   `CredentialVerifier` over the same store and cache, scoped to one push source.

use crate::error::code;
use crate::http::{MediaType, error_response, negotiate};
use crate::jwt::{JwtConfig, JwtError, looks_like_jwt};
use async_graphql::{Context, ErrorExtensions, Guard};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tributary_connector::{CredentialVerifier, VerifiedCredential, VerifyError};
use tributary_store::keys::looks_like_key;
use tributary_store::{ApiKey, KeyHash, KeyScope, Role, Store, StoreError};
use uuid::Uuid;

/// The header carrying a key when `Authorization` is taken by something else.
pub const API_KEY_HEADER: &str = "x-api-key";

/// How the gateway authenticates and limits requests (`[gateway.auth]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// The role of a request without a key; `None` (the default) refuses such requests with
    /// 401. A request with a wrong or revoked key is refused either way.
    pub anonymous_role: Option<Role>,
    /// How long a verified key is trusted without asking the database again: a key revoked
    /// by another process still works on this replica for up to this long.
    pub cache_ttl: Duration,
    /// Requests per principal; `None` for no limit.
    pub rate_limit: Option<RateLimit>,
    /// Limits of particular roles, instead of `rate_limit`.
    pub role_rate_limits: BTreeMap<Role, RateLimit>,
    /// JWT bearer tokens accepted besides API keys ([`crate::jwt`]); `None`: API keys only.
    pub jwt: Option<JwtConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            anonymous_role: None,
            cache_ttl: Duration::from_secs(5),
            rate_limit: Some(RateLimit::default()),
            role_rate_limits: BTreeMap::new(),
            jwt: None,
        }
    }
}

impl AuthConfig {
    /// The limit of a principal with `role`.
    fn limit_of(&self, role: Role) -> Option<RateLimit> {
        self.role_rate_limits
            .get(&role)
            .copied()
            .or(self.rate_limit)
    }
}

/// A token bucket's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per minute (the bucket refills at this rate); at least 1.
    pub requests_per_minute: u32,
    /// Requests that may arrive at once (the bucket's size); at least 1.
    pub burst: u32,
}

impl Default for RateLimit {
    /// 600 a minute (10 a second) with bursts of 100: a dashboard refreshing dozens of tiles
    /// at once passes, a loop hammering the server does not.
    fn default() -> Self {
        RateLimit {
            requests_per_minute: 600,
            burst: 100,
        }
    }
}

/// Who is asking: put in every GraphQL request's data by the HTTP layer, read by the field
/// guards. Tests that run the schema in process put one in themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The key's id; `None` for an anonymous request.
    pub key_id: Option<Uuid>,
    /// The key's name; `anonymous` for an anonymous request.
    pub name: String,
    /// What it may read.
    pub role: Role,
}

impl Principal {
    /// A principal of `role` not backed by a key (anonymous access, in-process tests).
    pub fn unkeyed(name: impl Into<String>, role: Role) -> Self {
        Principal {
            key_id: None,
            name: name.into(),
            role,
        }
    }
}

/// Roles that may read revenue: ARR, subscription amounts, the ledger, the bridge.
pub const REVENUE: RoleGuard = RoleGuard(&[Role::Finance, Role::Admin]);
/// Roles that may read personal data: people's names and emails, quarantined raw payloads.
pub const PERSONAL: RoleGuard = RoleGuard(&[Role::Cs, Role::Ce, Role::Admin]);
/// Roles that may run mutations.
pub const ADMIN: RoleGuard = RoleGuard(&[Role::Admin]);

/// A field guard: the request's [`Principal`] must have one of these roles.
#[derive(Clone, Copy, Debug)]
pub struct RoleGuard(pub &'static [Role]);

impl RoleGuard {
    /// Whether `role` passes.
    pub fn allows(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    /// `finance or admin`.
    fn roles(&self) -> String {
        let names: Vec<&str> = self.0.iter().map(|r| r.as_str()).collect();
        match names.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => "no role".to_owned(),
        }
    }
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let role = ctx.data_opt::<Principal>().map(|p| p.role);
        if role.is_some_and(|r| self.allows(r)) {
            return Ok(());
        }
        // The error's `path` says where; the message names the field as the schema does.
        let field = ctx.item.node.name.node.as_str();
        let who = match role {
            Some(r) => format!("role {r}"),
            None => "an unauthenticated request".to_owned(),
        };
        Err(async_graphql::Error::new(format!(
            "`{field}` needs role {}; {who} may not read it",
            self.roles()
        ))
        .extend_with(|_, e| e.set("code", code::FORBIDDEN)))
    }
}

/// A verified key in the cache.
struct Cached {
    key: ApiKey,
    at: Instant,
    generation: u64,
}

/// Most entries the key cache and the rate limiter keep before dropping stale ones.
const MAX_ENTRIES: usize = 10_000;

/// Verifies keys (through a short cache) and keeps the rate limiter's buckets. One per
/// router; shared by the GraphQL middleware and the push endpoints.
pub(crate) struct Authenticator {
    store: Store,
    config: AuthConfig,
    cache: Mutex<HashMap<KeyHash, Cached>>,
    buckets: Buckets,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub(crate) fn new(store: Store, config: AuthConfig) -> Self {
        Authenticator {
            store,
            config,
            cache: Mutex::default(),
            buckets: Buckets::default(),
        }
    }

    /// The live key `secret` names, from the cache when it is fresh.
    pub(crate) async fn key(&self, secret: &str) -> Result<Option<ApiKey>, StoreError> {
        if !looks_like_key(secret) {
            return Ok(None);
        }
        let hash = KeyHash::of(secret);
        let generation = self.store.api_keys_generation();
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(c) = cache.get(&hash)
                && c.generation == generation
                && now.duration_since(c.at) < self.config.cache_ttl
            {
                return Ok(Some(c.key.clone()));
            }
        }
        let key = self.store.verify_api_key(&hash).await?;
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        match &key {
            Some(key) if !self.config.cache_ttl.is_zero() => {
                if cache.len() >= MAX_ENTRIES {
                    let ttl = self.config.cache_ttl;
                    cache.retain(|_, c| {
                        now.duration_since(c.at) < ttl && c.generation == generation
                    });
                }
                cache.insert(
                    hash,
                    Cached {
                        key: key.clone(),
                        at: now,
                        generation,
                    },
                );
            }
            _ => {
                cache.remove(&hash);
            }
        }
        Ok(key)
    }

    /// The principal of a GraphQL request, or the response refusing it.
    async fn principal(
        &self,
        headers: &HeaderMap,
        media: MediaType,
    ) -> Result<Principal, Response> {
        let Some(secret) = presented_key(headers) else {
            return match self.config.anonymous_role {
                Some(role) => Ok(Principal::unkeyed("anonymous", role)),
                None => Err(unauthenticated(
                    media,
                    "this endpoint needs an API key: send `Authorization: Bearer <key>` \
                     (create one with `tributary apikey create`)",
                )),
            };
        };
        if let Some(jwt) = &self.config.jwt
            && looks_like_jwt(secret)
        {
            return jwt.verify(secret).map_err(|e| match e {
                JwtError::Invalid(_) => unauthenticated(media, &e.to_string()),
                JwtError::NoRole(_) => {
                    error_response(StatusCode::FORBIDDEN, media, code::FORBIDDEN, e.to_string())
                }
            });
        }
        match self.key(secret).await {
            Ok(Some(ApiKey {
                id,
                name,
                scope: KeyScope::Graphql(role),
                ..
            })) => Ok(Principal {
                key_id: Some(id),
                name,
                role,
            }),
            Ok(Some(ApiKey {
                scope: KeyScope::Push { source },
                ..
            })) => Err(error_response(
                StatusCode::FORBIDDEN,
                media,
                code::FORBIDDEN,
                format!(
                    "this key is a push credential of source `{source}`; it cannot query GraphQL"
                ),
            )),
            // The key is never echoed: it may be a real key sent to the wrong server.
            Ok(None) => Err(unauthenticated(media, "the API key is unknown or revoked")),
            Err(e) => {
                tracing::error!(error = %e, "cannot verify an API key: the store failed");
                Err(error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    media,
                    code::INTERNAL,
                    "internal error",
                ))
            }
        }
    }
}

/// The key a request presents: `Authorization: Bearer <key>`, else `X-Api-Key: <key>`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim());
    bearer
        .or_else(|| {
            headers
                .get(API_KEY_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .filter(|k| !k.is_empty())
}

fn unauthenticated(media: MediaType, message: &str) -> Response {
    let mut r = error_response(
        StatusCode::UNAUTHORIZED,
        media,
        code::UNAUTHENTICATED,
        message,
    );
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// The middleware in front of `/graphql`: authenticates, applies the rate limit, and hands
/// the [`Principal`] to the handler as a request extension. A browser asking for the bare
/// endpoint gets GraphiQL without a key (the page holds no data; its requests carry the key
/// the user enters in its headers pane).
pub(crate) async fn require(
    State(auth): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if request.method() == Method::GET
        && request.uri().query().is_none_or(str::is_empty)
        && crate::http::accepts_html(headers)
    {
        return next.run(request).await;
    }
    let media = negotiate(headers).unwrap_or(MediaType::Json);
    let principal = match auth.principal(headers, media).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    if let Some(limit) = auth.config.limit_of(principal.role) {
        let bucket = match principal.key_id {
            Some(id) => BucketKey::Key(id),
            None if principal.name.starts_with("jwt:") => {
                BucketKey::Subject(principal.name.clone())
            }
            None => BucketKey::Anonymous(
                request
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip()),
            ),
        };
        if let Err(wait) = auth.buckets.take(bucket, limit, Instant::now()) {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            tracing::info!(key = %principal.name, retry_after_secs = secs, "rate limited");
            let mut r = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                media,
                code::RATE_LIMITED,
                format!(
                    "rate limit of {} requests per minute (bursts of {}) exceeded; retry in {secs} s",
                    limit.requests_per_minute, limit.burst
                ),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            return r;
        }
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// Whose bucket a request takes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum BucketKey {
    Key(Uuid),
    /// A JWT's subject (`jwt:<sub>`).
    Subject(String),
    /// An anonymous client by IP (`None` when the server was not given peer addresses).
    Anonymous(Option<IpAddr>),
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by principal.
#[derive(Default)]
struct Buckets(Mutex<HashMap<BucketKey, Bucket>>);

impl Buckets {
    /// Takes a token from `key`'s bucket, or says how long until one is there.
    fn take(&self, key: BucketKey, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        let per_sec = f64::from(limit.requests_per_minute.max(1)) / 60.0;
        let size = f64::from(limit.burst.max(1));
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
            // A bucket that has refilled is the same as no bucket.
            map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec < size);
        }
        let b = map.entry(key).or_insert(Bucket {
            tokens: size,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec).min(size);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }
}

/// The push credentials of one source, checked against the key store through the
/// gateway's cache: only live keys created with `tributary apikey create --push <source>`
/// verify.
pub(crate) struct PushCredentials {
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) source: String,
}

#[async_trait::async_trait]
impl CredentialVerifier for PushCredentials {
    async fn verify(&self, secret: &str) -> Result<Option<VerifiedCredential>, VerifyError> {
        match self.auth.key(secret).await {
            Ok(Some(ApiKey {
                name,
                scope: KeyScope::Push { source },
                ..
            })) if source == self.source => Ok(Some(VerifiedCredential { name })),
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::error!(error = %e, source = %self.source, "cannot verify a push credential: the store failed");
                Err(VerifyError("the credential store failed".to_owned()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_allow_a_burst_then_refill_at_the_rate() {
        let b = Buckets::default();
        let limit = RateLimit {
            requests_per_minute: 60,
            burst: 3,
        };
        let t0 = Instant::now();
        let key = BucketKey::Key(Uuid::nil());
        for _ in 0..3 {
            assert_eq!(b.take(key.clone(), limit, t0), Ok(()));
        }
        let wait = b.take(key.clone(), limit, t0).unwrap_err();
        assert!(
            wait > Duration::from_millis(990) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // Another principal has its own bucket.
        assert_eq!(b.take(BucketKey::Anonymous(None), limit, t0), Ok(()));
        assert_eq!(
            b.take(key.clone(), limit, t0 + Duration::from_secs(1)),
            Ok(())
        );
        assert!(
            b.take(key.clone(), limit, t0 + Duration::from_secs(1))
                .is_err()
        );
        // Refills to the burst, no further.
        let later = t0 + Duration::from_secs(100);
        for _ in 0..3 {
            assert_eq!(b.take(key.clone(), limit, later), Ok(()));
        }
        assert!(b.take(key.clone(), limit, later).is_err());
    }

    #[test]
    fn keys_are_read_from_bearer_or_x_api_key() {
        let h = |name: &'static str, v: &str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_str(v).unwrap());
            h
        };
        assert_eq!(
            presented_key(&h("authorization", "Bearer trb_x")),
            Some("trb_x")
        );
        assert_eq!(
            presented_key(&h("authorization", "bearer  trb_x ")),
            Some("trb_x")
        );
        assert_eq!(presented_key(&h("x-api-key", "trb_y")), Some("trb_y"));
        assert_eq!(presented_key(&h("authorization", "Basic abc")), None);
        assert_eq!(presented_key(&h("x-api-key", " ")), None);
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }

    #[test]
    fn guards_name_their_roles() {
        assert_eq!(REVENUE.roles(), "finance or admin");
        assert_eq!(PERSONAL.roles(), "cs, ce or admin");
        assert_eq!(ADMIN.roles(), "admin");
        assert!(REVENUE.allows(Role::Finance) && !REVENUE.allows(Role::Viewer));
    }
}
