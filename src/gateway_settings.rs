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
//! ```

use serde::Deserialize;
use std::time::Duration;
use tributary_gateway::{GatewayConfig, Manifest, PersistedQueries, PersistedQueryMode};

/// The `[gateway]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySettings {
    /// `[gateway.limits]`: sizes, timeouts and query cost bounds.
    pub limits: LimitSettings,
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
    /// Highest query cost allowed.
    pub max_complexity: usize,
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
