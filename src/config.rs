//! `tributary.toml`: the one configuration file (SPEC §11, STYLE §4).
//!
//! Secrets are never literals: a key whose name says it holds a secret (`*token*`,
//! `*secret*`, `*password*`, `*key*`) must be an env-var reference, `{ env = "NAME" }`, which
//! is resolved here, at the binary's edge, before a connector sees its settings.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::{collections::BTreeMap, net::SocketAddr, path::Path};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Database URL: `sqlite://tributary.db` (the default) or `postgres://user@host/db`.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// Address the GraphQL gateway listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// How `tributary serve` workers schedule syncs.
    #[serde(default)]
    pub scheduler: SchedulerConfig,
    /// How the revenue ledger is derived after each sync.
    #[serde(default)]
    pub ledger: crate::ledger::LedgerSettings,
    /// Connector instances by name; the name goes into every record's external reference.
    #[serde(default)]
    pub connectors: BTreeMap<String, ConnectorSection>,
}

/// The `[scheduler]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// How long a worker's claim on a run lasts without renewal; a worker that dies hands its
    /// run to another after at most this long. Renewed every third of it while running.
    pub lease_ttl_secs: u64,
    /// How often each worker looks for due runs.
    pub poll_interval_ms: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            lease_ttl_secs: 60,
            poll_interval_ms: 2_000,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: default_database_url(),
            listen: default_listen(),
            scheduler: SchedulerConfig::default(),
            ledger: crate::ledger::LedgerSettings::default(),
            connectors: BTreeMap::new(),
        }
    }
}

fn default_database_url() -> String {
    "sqlite://tributary.db".to_owned()
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4000))
}

fn default_interval_secs() -> u64 {
    3600
}

/// One `[connectors.<name>]` section: engine keys, then the connector's own settings.
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectorSection {
    /// The vendor kind: `hubspot`.
    pub kind: String,
    /// Seconds between scheduled syncs under `tributary serve`.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    /// What happens to records whose field changed type since earlier syncs (SPEC §6):
    /// `"evolve"` (the default) loads them, keeps the raw payload and adopts the new type;
    /// `"quarantine"` holds them in quarantine with their raw payload until someone decides.
    /// Either way the drift is reported on the run, in the log and in GraphQL before the
    /// batch loads.
    #[serde(default)]
    pub drift_policy: tributary_sync::DriftPolicy,
    /// Every other key: the connector's settings (see its README).
    #[serde(flatten)]
    pub settings: toml::Table,
}

impl Config {
    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file `{}`", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid config file `{}`", path.display()))
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self> {
        let config: Config = toml::from_str(text)?;
        if config.scheduler.lease_ttl_secs == 0 || config.scheduler.poll_interval_ms == 0 {
            bail!("scheduler: lease_ttl_secs and poll_interval_ms must be at least 1");
        }
        for (name, section) in &config.connectors {
            if section.interval_secs == 0 {
                bail!("connector `{name}`: interval_secs must be at least 1");
            }
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                bail!("connector name `{name}` may only use letters, digits, `-` and `_`");
            }
        }
        Ok(config)
    }
}

/// Replaces every `{ env = "NAME" }` in `settings` with the variable's value, using `lookup`
/// (the process environment in production), and refuses literal secrets.
pub fn resolve_secrets(
    connector: &str,
    settings: &toml::Table,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<toml::Table> {
    let mut out = toml::Table::new();
    for (key, value) in settings {
        let resolved = match value {
            toml::Value::Table(t) if t.len() == 1 && t.contains_key("env") => {
                let Some(toml::Value::String(var)) = t.get("env") else {
                    bail!("connector `{connector}`: `{key}.env` must be a string");
                };
                let v = lookup(var).with_context(|| {
                    format!("connector `{connector}`: environment variable `{var}` (for `{key}`) is not set")
                })?;
                toml::Value::String(v)
            }
            toml::Value::String(_) if is_secret_key(key) => bail!(
                "connector `{connector}`: `{key}` holds a secret; write `{key} = {{ env = \"VAR\" }}` instead of a literal"
            ),
            toml::Value::Table(t) => toml::Value::Table(resolve_secrets(connector, t, lookup)?),
            other => other.clone(),
        };
        out.insert(key.clone(), resolved);
    }
    Ok(out)
}

/// Whether a key names a secret: `token`, `access_token`, `refresh_token`, `client_secret`,
/// `password`, `private_key_pem`, `api_key` … but not `token_url` or `token_path`, which are
/// addresses.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k == "token"
        || k == "key"
        || k.ends_with("_token")
        || k.ends_with("_key")
        || ["secret", "password", "private_key", "api_key"]
            .iter()
            .any(|s| k.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../tributary.example.toml");

    #[test]
    fn the_example_config_parses_and_resolves() {
        let config = Config::parse(EXAMPLE).expect("example parses");
        assert_eq!(config.database_url, "sqlite://tributary.db");
        let hs = &config.connectors["hubspot-sim"];
        assert_eq!(hs.kind, "hubspot");
        assert_eq!(hs.drift_policy, tributary_sync::DriftPolicy::Evolve);
        assert!(
            Config::parse("[connectors.x]\nkind = \"hubspot\"\ndrift_policy = \"ignore\"").is_err(),
            "an unknown policy is refused"
        );
        let resolved = resolve_secrets("hubspot-sim", &hs.settings, &|v| {
            (v == "HUBSPOT_ACCESS_TOKEN").then(|| "pat-123".to_owned())
        })
        .unwrap();
        assert_eq!(resolved["access_token"].as_str(), Some("pat-123"));
        // Every documented key is one the connector accepts (its config denies unknown keys).
        let connector = crate::registry::build("hubspot-sim", hs, &|_| Some("pat-123".into()))
            .expect("the example's connector settings are valid");
        // The example's FX file loads (paths are relative to the working directory).
        let fx = config
            .ledger
            .csv_fx_table()
            .expect("fx/simulator.csv loads");
        let eur = tributary_model::Money::new(
            rust_decimal::Decimal::ONE,
            tributary_model::Currency::parse("EUR").unwrap(),
        );
        let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        assert_eq!(
            fx.convert(&eur, day).unwrap().amount,
            rust_decimal::Decimal::new(108, 2)
        );
        assert_eq!(connector.kind(), "hubspot");
    }

    #[test]
    fn literal_secrets_and_missing_variables_are_refused() {
        let c = Config::parse("[connectors.x]\nkind = \"hubspot\"\naccess_token = \"pat-1\"\n")
            .unwrap();
        let err = resolve_secrets("x", &c.connectors["x"].settings, &|_| None).unwrap_err();
        assert!(err.to_string().contains("holds a secret"), "{err}");
        let c = Config::parse(
            "[connectors.x]\nkind = \"hubspot\"\naccess_token = { env = \"NOPE\" }\n",
        )
        .unwrap();
        let err = resolve_secrets("x", &c.connectors["x"].settings, &|_| None).unwrap_err();
        assert!(err.to_string().contains("`NOPE`"), "{err}");
    }

    #[test]
    fn secret_keys_are_told_from_addresses() {
        for k in [
            "token",
            "access_token",
            "refresh_token",
            "client_secret",
            "password",
            "private_key_pem",
            "api_key",
            "key",
            "write_key",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "token_url",
            "endpoint",
            "client_id",
            "username",
            "audience",
            "token_path",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn unknown_top_level_keys_are_refused() {
        assert!(Config::parse("databse_url = \"x\"").is_err());
    }
}
