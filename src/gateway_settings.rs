//! The `[gateway]` section of `tributary.toml`: how `tributary serve` and `tributary demo`
//! expose GraphQL. Every key is optional; the defaults are fit for production
//! ([`tributary_gateway::GatewayConfig::default`]).
//!
//! ```toml
//! [gateway.limits]
//! body_limit_bytes = 1048576
//! query_timeout_secs = 30
//! request_timeout_secs = 60
//! max_depth = 12
//! max_complexity = 10000
//! request_concurrency = 4
//! expensive_concurrency = 2
//! shutdown_grace_secs = 10
//! ```

use serde::Deserialize;
use std::time::Duration;
use tributary_gateway::GatewayConfig;

/// The `[gateway]` section.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySettings {
    /// `[gateway.limits]`: sizes, timeouts and query cost bounds.
    pub limits: LimitSettings,
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
        anyhow::ensure!(
            l.request_concurrency > 0 && l.expensive_concurrency > 0,
            "gateway.limits.request_concurrency and expensive_concurrency must be at least 1"
        );
        Ok(GatewayConfig {
            body_limit_bytes: l.body_limit_bytes,
            query_timeout: Duration::from_secs(l.query_timeout_secs),
            request_timeout: Duration::from_secs(l.request_timeout_secs),
            max_depth: l.max_depth,
            max_complexity: l.max_complexity,
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
    fn a_request_timeout_below_the_query_timeout_is_one_clear_line() {
        let s: GatewaySettings =
            toml::from_str("[limits]\nquery_timeout_secs = 30\nrequest_timeout_secs = 10\n")
                .unwrap();
        let err = s.gateway_config().unwrap_err().to_string();
        assert!(err.contains("request_timeout_secs (10)"), "{err}");
    }
}
