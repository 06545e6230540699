//! The `[gateway]` section of `tributary.toml`: how `tributary serve` and `tributary demo`
//! expose GraphQL. Every key is optional; the defaults are fit for production
//! ([`tributary_gateway::GatewayConfig::default`]).
//!
//! ```toml
//! [gateway]
//! introspection = true
//! graphiql = true
//! cors_allowed_origins = []
//!
//! [gateway.persisted_queries]
//! mode = "automatic"
//! allow_list = ""
//! cache_bytes = 16777216
//!
//! [gateway.limits]
//! body_limit_bytes = 1048576
//! query_timeout_secs = 30
//! request_timeout_secs = 60
//! max_depth = 12
//! max_complexity = 10000
//! request_concurrency = 4
//! expensive_concurrency = 2
//! shutdown_grace_secs = 10
//!
//! [gateway.auth]
//! anonymous_role = "viewer"   # absent: requests without a key get 401
//! cache_ttl_secs = 5
//! requests_per_minute = 600   # 0: no limit
//! burst = 100
//!
//! [gateway.auth.roles.admin]
//! requests_per_minute = 6000
//! burst = 500
//!
//! [gateway.auth.jwt]          # optional: OIDC/JWT bearer tokens besides API keys
//! jwks_file = "jwks.json"
//! issuer = "https://login.example.com/"
//! audience = "tributary"
//! role_claim = "groups"
//! role_map = { "bi-analysts" = "finance" }
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tributary_gateway::jwt::JwtConfig;
use tributary_gateway::{
    AuthConfig, GatewayConfig, Manifest, PersistedQueries, PersistedQueryMode, RateLimit,
};
use tributary_store::Role;

/// The `[gateway]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySettings {
    /// `[gateway.limits]`: sizes, timeouts and query cost bounds.
    pub limits: LimitSettings,
    /// `[gateway.auth]`: anonymous access, the key cache and rate limits.
    pub auth: AuthSettings,
    /// Whether `__schema` and `__type` are answered; off, they get `INTROSPECTION_DISABLED`.
    pub introspection: bool,
    /// Whether GraphiQL is served at `/`; off, `/` answers 404.
    pub graphiql: bool,
    /// Origins whose browser pages may call the gateway (CORS), e.g.
    /// `["https://bi.example.com"]`; empty (the default): no CORS headers; `["*"]`: any.
    pub cors_allowed_origins: Vec<String>,
    /// `[gateway.persisted_queries]`: Automatic Persisted Queries and the allow-list.
    pub persisted_queries: PersistedQuerySettings,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        let d = GatewayConfig::default();
        GatewaySettings {
            limits: LimitSettings::default(),
            auth: AuthSettings::default(),
            introspection: d.introspection,
            graphiql: d.graphiql,
            cors_allowed_origins: d.cors_allowed_origins,
            persisted_queries: PersistedQuerySettings::default(),
        }
    }
}

/// The `[gateway.persisted_queries]` table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PersistedQuerySettings {
    /// `"off"`, `"automatic"` (Apollo's APQ, the default) or `"allow_list"` (only the
    /// operations of `allow_list` run).
    pub mode: PersistedQueryMode,
    /// An Apollo persisted-query manifest (JSON), relative to the configuration file; needed
    /// for `allow_list`, optional for `automatic` (its operations are then known without a
    /// first round trip).
    pub allow_list: String,
    /// Most bytes of query text the automatic cache holds per replica.
    pub cache_bytes: usize,
}

impl Default for PersistedQuerySettings {
    fn default() -> Self {
        let d = PersistedQueries::default();
        PersistedQuerySettings {
            mode: d.mode,
            allow_list: String::new(),
            cache_bytes: d.cache_bytes,
        }
    }
}

/// The `[gateway.auth]` table. API keys themselves live in the database
/// (`tributary apikey create`), never in the file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// The role of requests without a key (`viewer` …); absent, they are refused with 401.
    pub anonymous_role: Option<Role>,
    /// Seconds a verified key is trusted by a replica without asking the database: a key
    /// revoked by another process still works there for up to this long. 0 checks every
    /// request.
    pub cache_ttl_secs: u64,
    /// Requests a minute per key (per client IP for anonymous requests), per replica; 0 for
    /// no limit.
    pub requests_per_minute: u32,
    /// Requests a key may send at once before the per-minute rate applies.
    pub burst: u32,
    /// `[gateway.auth.roles.<role>]`: limits of one role instead of the above.
    pub roles: BTreeMap<Role, RoleLimitSettings>,
    /// `[gateway.auth.jwt]`: accept OIDC/JWT bearer tokens too; absent, API keys only.
    pub jwt: Option<JwtSettings>,
}

/// The `[gateway.auth.jwt]` table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    /// The identity provider's JWK set (its `jwks_uri` document, saved), relative to the
    /// configuration file. Tokens signed (RS256 or ES256) by one of its keys are accepted.
    pub jwks_file: String,
    /// The `iss` tokens must carry.
    pub issuer: String,
    /// The `aud` tokens must carry.
    pub audience: String,
    /// The claim naming the role (a string or a list of strings).
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// `[gateway.auth.jwt.role_map]`: claim values mapped to roles (`"bi-analysts" =
    /// "finance"`); other values count if they are role names.
    #[serde(default)]
    pub role_map: BTreeMap<String, Role>,
}

fn default_role_claim() -> String {
    "role".to_owned()
}

impl JwtSettings {
    /// The gateway's JWT configuration, its key set read from `jwks_file`.
    pub fn jwt_config(&self) -> anyhow::Result<JwtConfig> {
        use anyhow::Context;
        let text = std::fs::read_to_string(&self.jwks_file).with_context(|| {
            format!(
                "gateway.auth.jwt.jwks_file: cannot read `{}`",
                self.jwks_file
            )
        })?;
        let jwks = JwtConfig::parse_jwks(&text).with_context(|| {
            format!(
                "gateway.auth.jwt.jwks_file: `{}` is not a JWK set",
                self.jwks_file
            )
        })?;
        anyhow::ensure!(
            !jwks.keys.is_empty(),
            "gateway.auth.jwt.jwks_file: `{}` holds no key",
            self.jwks_file
        );
        Ok(JwtConfig {
            jwks,
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            role_claim: self.role_claim.clone(),
            role_map: self.role_map.clone(),
        })
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        let d = AuthConfig::default();
        let limit = d.rate_limit.unwrap_or_default();
        AuthSettings {
            anonymous_role: d.anonymous_role,
            cache_ttl_secs: d.cache_ttl.as_secs(),
            requests_per_minute: limit.requests_per_minute,
            burst: limit.burst,
            roles: BTreeMap::new(),
            jwt: None,
        }
    }
}

/// A `[gateway.auth.roles.<role>]` table.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RoleLimitSettings {
    /// Requests a minute per key of this role, per replica; 0 for no limit.
    pub requests_per_minute: u32,
    /// Requests a key of this role may send at once.
    pub burst: u32,
}

/// `requests_per_minute` and `burst` as a limit: `None` for no limit.
fn rate_limit(
    key: &str,
    requests_per_minute: u32,
    burst: u32,
) -> anyhow::Result<Option<RateLimit>> {
    if requests_per_minute == 0 {
        return Ok(None);
    }
    anyhow::ensure!(
        burst > 0,
        "{key}.burst must be at least 1 when requests_per_minute is set"
    );
    Ok(Some(RateLimit {
        requests_per_minute,
        burst,
    }))
}

impl AuthSettings {
    /// The gateway's auth configuration, or one line saying which key is wrong.
    pub fn auth_config(&self) -> anyhow::Result<AuthConfig> {
        let mut role_rate_limits = BTreeMap::new();
        for (role, l) in &self.roles {
            let key = format!("gateway.auth.roles.{role}");
            // A role without a limit gets an unbounded bucket rather than the default.
            role_rate_limits.insert(
                *role,
                rate_limit(&key, l.requests_per_minute, l.burst)?.unwrap_or(RateLimit {
                    requests_per_minute: u32::MAX,
                    burst: u32::MAX,
                }),
            );
        }
        Ok(AuthConfig {
            anonymous_role: self.anonymous_role,
            cache_ttl: Duration::from_secs(self.cache_ttl_secs),
            rate_limit: rate_limit("gateway.auth", self.requests_per_minute, self.burst)?,
            role_rate_limits,
            jwt: self.jwt.as_ref().map(JwtSettings::jwt_config).transpose()?,
        })
    }
}

impl PersistedQuerySettings {
    /// The gateway's persisted-query settings, the manifest read.
    fn persisted_queries(&self) -> anyhow::Result<PersistedQueries> {
        use anyhow::Context;
        let manifest = if self.allow_list.is_empty() {
            anyhow::ensure!(
                self.mode != PersistedQueryMode::AllowList,
                "gateway.persisted_queries: mode \"allow_list\" needs `allow_list = \"operations.json\"` (an Apollo persisted-query manifest)"
            );
            Manifest::default()
        } else {
            let text = std::fs::read_to_string(&self.allow_list).with_context(|| {
                format!(
                    "gateway.persisted_queries.allow_list: cannot read `{}`",
                    self.allow_list
                )
            })?;
            Manifest::parse(&text).with_context(|| {
                format!("gateway.persisted_queries.allow_list `{}`", self.allow_list)
            })?
        };
        Ok(PersistedQueries {
            mode: self.mode,
            cache_bytes: self.cache_bytes,
            manifest: std::sync::Arc::new(manifest),
        })
    }
}

/// The `[gateway.limits]` table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Longest a GraphQL operation may run, in seconds.
    pub query_timeout_secs: u64,
    /// Longest a whole HTTP exchange may take, in seconds; more than `query_timeout_secs`.
    pub request_timeout_secs: u64,
    /// Deepest field nesting allowed.
    pub max_depth: usize,
    /// Highest query cost allowed (fragments expanded, lists counted by `first`).
    pub max_complexity: usize,
    /// Root fields of one request resolved at the same time.
    pub request_concurrency: usize,
    /// Expensive fields (the ARR bridge) resolved at the same time, all requests together.
    pub expensive_concurrency: usize,
    /// How long requests in flight may finish after SIGTERM/SIGINT, in seconds, before they
    /// are cancelled and the process exits.
    pub shutdown_grace_secs: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        let d = GatewayConfig::default();
        LimitSettings {
            body_limit_bytes: d.body_limit_bytes,
            query_timeout_secs: d.query_timeout.as_secs(),
            request_timeout_secs: d.request_timeout.as_secs(),
            max_depth: d.max_depth,
            max_complexity: d.max_complexity,
            request_concurrency: d.request_concurrency,
            expensive_concurrency: d.expensive_concurrency,
            shutdown_grace_secs: d.shutdown_grace.as_secs(),
        }
    }
}

impl GatewaySettings {
    /// The gateway's configuration, or one line saying which key is wrong.
    pub fn gateway_config(&self) -> anyhow::Result<GatewayConfig> {
        let l = &self.limits;
        anyhow::ensure!(
            l.query_timeout_secs > 0,
            "gateway.limits.query_timeout_secs must be at least 1"
        );
        anyhow::ensure!(
            l.request_timeout_secs > l.query_timeout_secs,
            "gateway.limits.request_timeout_secs ({}) must exceed query_timeout_secs ({})",
            l.request_timeout_secs,
            l.query_timeout_secs
        );
        for origin in &self.cors_allowed_origins {
            let (scheme, host) = origin.split_once("://").unwrap_or_default();
            anyhow::ensure!(
                origin == "*"
                    || matches!(scheme, "http" | "https")
                        && !host.is_empty()
                        && !host.contains('/')
                        && origin.chars().all(|c| c.is_ascii_graphic()),
                "gateway.cors_allowed_origins: `{origin}` is not an origin; write `https://host[:port]` (no path) or `*`"
            );
        }
        anyhow::ensure!(
            l.request_concurrency > 0 && l.expensive_concurrency > 0,
            "gateway.limits.request_concurrency and expensive_concurrency must be at least 1"
        );
        Ok(GatewayConfig {
            introspection: self.introspection,
            graphiql: self.graphiql,
            cors_allowed_origins: self.cors_allowed_origins.clone(),
            persisted_queries: self.persisted_queries.persisted_queries()?,
            body_limit_bytes: l.body_limit_bytes,
            query_timeout: Duration::from_secs(l.query_timeout_secs),
            request_timeout: Duration::from_secs(l.request_timeout_secs),
            max_depth: l.max_depth,
            max_complexity: l.max_complexity,
            auth: self.auth.auth_config()?,
            request_concurrency: l.request_concurrency,
            expensive_concurrency: l.expensive_concurrency,
            shutdown_grace: Duration::from_secs(l.shutdown_grace_secs),
            ..GatewayConfig::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_gateways() {
        let c = GatewaySettings::default().gateway_config().unwrap();
        assert_eq!(c, GatewayConfig::default());
    }

    #[test]
    fn auth_settings_become_the_gateways_auth_config() {
        let s: GatewaySettings = toml::from_str(
            "[auth]\nanonymous_role = \"viewer\"\ncache_ttl_secs = 0\nrequests_per_minute = 0\n\
             [auth.roles.finance]\nrequests_per_minute = 60\nburst = 5\n",
        )
        .unwrap();
        let a = s.gateway_config().unwrap().auth;
        assert_eq!(a.anonymous_role, Some(Role::Viewer));
        assert_eq!(a.cache_ttl, Duration::ZERO);
        assert_eq!(a.rate_limit, None);
        assert_eq!(
            a.role_rate_limits[&Role::Finance],
            RateLimit {
                requests_per_minute: 60,
                burst: 5
            }
        );
        for bad in [
            "[auth]\nanonymous_role = \"root\"\n",
            "[auth]\napi_key = \"trb_x\"\n",
            "[auth.roles.push]\nrequests_per_minute = 1\nburst = 1\n",
        ] {
            assert!(toml::from_str::<GatewaySettings>(bad).is_err(), "{bad}");
        }
        let s: GatewaySettings = toml::from_str("[auth]\nburst = 0\n").unwrap();
        let err = s.gateway_config().unwrap_err().to_string();
        assert!(err.contains("gateway.auth.burst"), "{err}");
    }

    #[test]
    fn a_jwt_section_reads_its_key_set() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let jwks = root.join("crates/gateway/src/tests/jwt/jwks.json");
        let s: GatewaySettings = toml::from_str(&format!(
            "[auth.jwt]\njwks_file = \"{}\"\nissuer = \"https://idp\"\naudience = \"t\"\n\
             role_map = {{ \"bi\" = \"finance\" }}\n",
            jwks.display()
        ))
        .unwrap();
        let jwt = s.gateway_config().unwrap().auth.jwt.unwrap();
        assert_eq!(jwt.jwks.keys.len(), 2);
        assert_eq!(jwt.role_claim, "role");
        assert_eq!(jwt.role_map["bi"], Role::Finance);
        let s: GatewaySettings = toml::from_str(
            "[auth.jwt]\njwks_file = \"/nowhere/jwks.json\"\nissuer = \"i\"\naudience = \"a\"\n",
        )
        .unwrap();
        let err = crate::error_line(&s.gateway_config().unwrap_err());
        assert!(err.contains("/nowhere/jwks.json"), "{err}");
    }

    #[test]
    fn a_request_timeout_below_the_query_timeout_is_one_clear_line() {
        let s: GatewaySettings =
            toml::from_str("[limits]\nquery_timeout_secs = 30\nrequest_timeout_secs = 10\n")
                .unwrap();
        let err = s.gateway_config().unwrap_err().to_string();
        assert!(err.contains("request_timeout_secs (10)"), "{err}");
    }

    #[test]
    fn switches_and_persisted_queries_map_into_the_gateway_config() {
        let s: GatewaySettings = toml::from_str(
            "introspection = false\ngraphiql = false\ncors_allowed_origins = [\"https://bi.example:8443\", \"*\"]\n[persisted_queries]\nmode = \"off\"\ncache_bytes = 10\n",
        )
        .unwrap();
        let c = s.gateway_config().unwrap();
        assert!(!c.introspection && !c.graphiql);
        assert_eq!(c.cors_allowed_origins, ["https://bi.example:8443", "*"]);
        assert_eq!(c.persisted_queries.mode, PersistedQueryMode::Off);
        assert_eq!(c.persisted_queries.cache_bytes, 10);
        for bad in ["bi.example", "https://bi.example/path", "ftp://x"] {
            let s = GatewaySettings {
                cors_allowed_origins: vec![bad.into()],
                ..Default::default()
            };
            let err = s.gateway_config().unwrap_err().to_string();
            assert!(err.contains(bad) && !err.contains('\n'), "{err}");
        }
        let s: GatewaySettings =
            toml::from_str("[persisted_queries]\nmode = \"allow_list\"\n").unwrap();
        let err = s.gateway_config().unwrap_err().to_string();
        assert!(err.contains("needs `allow_list"), "{err}");
        assert!(toml::from_str::<GatewaySettings>("[persisted_queries]\nmode = \"on\"\n").is_err());
    }
}
