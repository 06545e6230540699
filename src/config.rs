//! `tributary.toml`: the one configuration file (SPEC §11, STYLE §4).
//!
//! Secrets are never literals: a key whose name says it holds a secret (`*token*`,
//! `*secret*`, `*password*`, `*key*`) must be an env-var reference, `{ env = "NAME" }`, which
//! is resolved here, at the binary's edge, before a connector sees its settings.
//!
//! `database_url` may be an env-var reference too, `database_url = { env = "TRIBUTARY_DATABASE_URL" }`,
//! resolved by [`Config::database_url`]; a literal URL that embeds a password is refused by
//! `check-config` ([`literal_password`]).
//!
//! Paths are relative to the configuration file: [`Config::load`] resolves a relative SQLite
//! `database_url` (`sqlite://tributary.db`, `sqlite:data/t.db`) and `ledger.fx_rates_csv`
//! against the directory holding the file, so a command behaves the same from any working
//! directory. Without a `database_url` the database is `tributary.db` beside the file.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Database URL: `sqlite://tributary.db` (the default) or `postgres://user@host/db`, or
    /// an env-var reference `{ env = "TRIBUTARY_DATABASE_URL" }` (a URL with a password
    /// belongs there). A relative SQLite path is relative to the configuration file's
    /// directory. Read it through [`Config::database_url`].
    #[serde(default = "default_database_url")]
    pub database_url: DatabaseUrl,
    /// The configuration file's directory, against which a SQLite path read from the
    /// environment is resolved; none for a configuration parsed from text.
    #[serde(skip)]
    pub dir: Option<PathBuf>,
    /// Address the GraphQL gateway listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// How `tributary serve` workers schedule syncs.
    #[serde(default)]
    pub scheduler: SchedulerConfig,
    /// How the revenue ledger is derived after each sync.
    #[serde(default)]
    pub ledger: crate::ledger::LedgerSettings,
    /// How the GraphQL gateway is exposed: limits (and, later, auth and protocol options).
    #[serde(default)]
    pub gateway: crate::gateway_settings::GatewaySettings,
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

/// The `database_url` key: a literal URL or an env-var reference.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum DatabaseUrl {
    /// `database_url = "postgres://…"`.
    Literal(String),
    /// `database_url = { env = "VAR" }`.
    Env(EnvRef),
}

/// `{ env = "VAR" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvRef {
    /// The environment variable holding the value.
    pub env: String,
}

impl From<&str> for DatabaseUrl {
    fn from(url: &str) -> Self {
        DatabaseUrl::Literal(url.to_owned())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: default_database_url(),
            dir: None,
            listen: default_listen(),
            scheduler: SchedulerConfig::default(),
            ledger: crate::ledger::LedgerSettings::default(),
            gateway: crate::gateway_settings::GatewaySettings::default(),
            connectors: BTreeMap::new(),
        }
    }
}

fn default_database_url() -> DatabaseUrl {
    DatabaseUrl::Literal("sqlite://tributary.db".to_owned())
}

/// Whether a literal database URL embeds a password (`postgres://user:pw@host/db`, or a
/// `password=` parameter); `check-config` refuses it with a hint to use an env reference.
pub fn literal_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = rest.split('/').next().unwrap_or_default();
    let in_userinfo = authority
        .rsplit_once('@')
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .is_some_and(|(_, password)| !password.is_empty());
    let in_query = query.split('&').any(|pair| {
        pair.split_once('=')
            .is_some_and(|(k, v)| k.eq_ignore_ascii_case("password") && !v.is_empty())
    });
    in_userinfo || in_query
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
    /// Reads and parses a file, and resolves its relative paths against the file's directory
    /// ([`Config::resolve_paths`]).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file `{}`", path.display()))?;
        let mut config = Self::parse(&text)
            .with_context(|| format!("invalid config file `{}`", path.display()))?;
        config.resolve_paths(&config_dir(path)?);
        Ok(config)
    }

    /// The database URL, reading an env-var reference from the process environment.
    pub fn database_url(&self) -> Result<String> {
        self.database_url_with(&|var| std::env::var(var).ok())
    }

    /// The database URL, reading an env-var reference through `lookup`; a missing variable
    /// is one line naming it. A relative SQLite path from the environment is resolved against
    /// the configuration file's directory, like a literal one.
    pub fn database_url_with(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
        match &self.database_url {
            DatabaseUrl::Literal(url) => Ok(url.clone()),
            DatabaseUrl::Env(EnvRef { env }) => {
                let url = lookup(env).with_context(|| {
                    format!("environment variable `{env}` (for `database_url`) is not set")
                })?;
                Ok(match &self.dir {
                    Some(dir) => resolve_sqlite_url(&url, dir),
                    None => url,
                })
            }
        }
    }

    /// Makes every relative path of the configuration absolute against `dir`: a SQLite
    /// `database_url`'s file, `ledger.fx_rates_csv`, `gateway.persisted_queries.allow_list` and `gateway.auth.jwt.jwks_file`. Absolute paths, in-memory databases
    /// and PostgreSQL URLs are left as they are.
    pub fn resolve_paths(&mut self, dir: &Path) {
        if let DatabaseUrl::Literal(url) = &mut self.database_url {
            *url = resolve_sqlite_url(url, dir);
        }
        self.dir = Some(dir.to_owned());
        for path in [
            &mut self.ledger.fx_rates_csv,
            &mut self.gateway.persisted_queries.allow_list,
        ] {
            if !path.is_empty() && Path::new(path.as_str()).is_relative() {
                *path = dir.join(path.as_str()).display().to_string();
            }
        }
        if let Some(jwt) = &mut self.gateway.auth.jwt
            && Path::new(&jwt.jwks_file).is_relative()
        {
            jwt.jwks_file = dir.join(&jwt.jwks_file).display().to_string();
        }
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self> {
        let config: Config =
            toml::from_str(text).map_err(|e| anyhow::anyhow!(toml_error(text, &e)))?;
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

/// A TOML error on one line, `line L, column C: message`, instead of the parser's multi-line
/// excerpt with a caret.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// The absolute directory holding the configuration file `path`.
fn config_dir(path: &Path) -> Result<PathBuf> {
    let file = path
        .canonicalize()
        .with_context(|| format!("cannot resolve config file `{}`", path.display()))?;
    Ok(file
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf))
}

/// `url` with a relative SQLite file made absolute against `dir`; any other URL unchanged.
/// `sqlite://a.db` and `sqlite:a.db` both name `a.db`; `sqlite:///abs/a.db` is absolute.
fn resolve_sqlite_url(url: &str, dir: &Path) -> String {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return url.to_owned();
    };
    if rest.contains(":memory:") || rest.contains("mode=memory") {
        return url.to_owned();
    }
    let (location, query) = match rest.split_once('?') {
        Some((l, q)) => (l, Some(q)),
        None => (rest, None),
    };
    let file = location.strip_prefix("//").unwrap_or(location);
    if file.is_empty() || Path::new(file).is_absolute() {
        return url.to_owned();
    }
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("sqlite://{}{query}", dir.join(file).display())
}

/// Every `{ env = "NAME" }` in `settings` (nested tables too) whose variable `lookup` does
/// not know, as `(key, variable)`.
pub fn missing_secrets(
    settings: &toml::Table,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let mut missing = Vec::new();
    for (key, value) in settings {
        if let toml::Value::Table(t) = value {
            match t.get("env") {
                Some(toml::Value::String(var)) if t.len() == 1 => {
                    if lookup(var).is_none() {
                        missing.push((key.clone(), var.clone()));
                    }
                }
                _ => missing.extend(missing_secrets(t, lookup)),
            }
        }
    }
    missing
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
        assert_eq!(
            Config::parse(EXAMPLE).expect("example parses").database_url,
            DatabaseUrl::from("sqlite://tributary.db")
        );
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = Config::load(&root.join("tributary.example.toml")).expect("example loads");
        let root = root.canonicalize().unwrap();
        assert_eq!(
            config.database_url().unwrap(),
            format!("sqlite://{}", root.join("tributary.db").display())
        );
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
        // The example's FX file loads (paths are relative to the config file's directory).
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
    fn the_database_url_may_be_an_env_reference() {
        let c = Config::parse("database_url = { env = \"TRIBUTARY_DATABASE_URL\" }\n").unwrap();
        let url = "postgres://u:pw@h/db";
        let got = c
            .database_url_with(&|v| (v == "TRIBUTARY_DATABASE_URL").then(|| url.to_owned()))
            .unwrap();
        assert_eq!(got, url);
        let err = c.database_url_with(&|_| None).unwrap_err().to_string();
        assert_eq!(
            err,
            "environment variable `TRIBUTARY_DATABASE_URL` (for `database_url`) is not set"
        );
        assert!(Config::parse("database_url = { env = \"X\", y = 1 }\n").is_err());
    }

    #[test]
    fn passwords_in_literal_database_urls_are_found() {
        for url in [
            "postgres://u:pw@h/db",
            "postgresql://u:p%40ss@h:5432/db?sslmode=require",
            "postgres://u@h/db?password=x",
        ] {
            assert!(literal_password(url), "{url}");
        }
        for url in [
            "postgres://u@h/db",
            "postgres://h:5432/db",
            "postgres://u:@h/db",
            "sqlite://a:b.db",
            "sqlite::memory:",
            "postgres://u@h/db?sslmode=disable",
        ] {
            assert!(!literal_password(url), "{url}");
        }
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
    fn relative_paths_resolve_against_the_config_files_directory() {
        let dir = std::env::temp_dir().join(format!(
            "tributary-config-{}",
            uuid::Uuid::now_v7().simple()
        ));
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        let dir = dir.canonicalize().unwrap();
        let file = dir.join("conf/tributary.toml");
        let load = |text: &str| {
            std::fs::write(&file, text).unwrap();
            Config::load(&file).unwrap()
        };
        let conf = dir.join("conf");
        // Resolved against `conf`, not the working directory (the package root under test).
        let c = load(
            "database_url = \"sqlite:data/t.db?mode=rwc\"\n[ledger]\nfx_rates_csv = \"fx/r.csv\"\n",
        );
        assert_eq!(
            c.database_url().unwrap(),
            format!("sqlite://{}?mode=rwc", conf.join("data/t.db").display())
        );
        assert_eq!(
            c.ledger.fx_rates_csv,
            conf.join("fx/r.csv").display().to_string()
        );
        // The same through a path with `..`.
        let c = Config::load(&dir.join("conf/../conf/tributary.toml")).unwrap();
        assert_eq!(
            c.ledger.fx_rates_csv,
            conf.join("fx/r.csv").display().to_string()
        );
        // The default database lives beside the file.
        let c = load("");
        assert_eq!(
            c.database_url().unwrap(),
            format!("sqlite://{}", conf.join("tributary.db").display())
        );
        // A SQLite path from the environment is resolved the same way.
        let c = load("database_url = { env = \"T_DB\" }\n");
        assert_eq!(
            c.database_url_with(&|v| (v == "T_DB").then(|| "sqlite:e.db".into()))
                .unwrap(),
            format!("sqlite://{}", conf.join("e.db").display())
        );
        assert_eq!(c.ledger.fx_rates_csv, "");
        // Absolute paths, memory databases and PostgreSQL stay as written.
        for url in [
            "sqlite:///var/lib/t.db",
            "sqlite::memory:",
            "postgres://u@h:5432/db",
        ] {
            assert_eq!(
                load(&format!("database_url = \"{url}\""))
                    .database_url()
                    .unwrap(),
                url
            );
        }
        let c = load("[ledger]\nfx_rates_csv = \"/etc/fx.csv\"\n");
        assert_eq!(c.ledger.fx_rates_csv, "/etc/fx.csv");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_secrets_are_listed_by_key_and_variable() {
        let c = Config::parse(
            "[connectors.x]\nkind = \"hubspot\"\naccess_token = { env = \"A\" }\n\
             [connectors.x.auth]\nclient_secret = { env = \"B\" }\nrefresh_token = { env = \"C\" }\n",
        )
        .unwrap();
        let missing = missing_secrets(&c.connectors["x"].settings, &|v| {
            (v == "C").then(|| "set".to_owned())
        });
        assert_eq!(
            missing,
            [
                ("access_token".to_owned(), "A".to_owned()),
                ("client_secret".to_owned(), "B".to_owned())
            ]
        );
    }

    #[test]
    fn unknown_top_level_keys_are_refused() {
        assert!(Config::parse("databse_url = \"x\"").is_err());
    }

    #[test]
    fn syntax_errors_are_one_line_with_line_and_column() {
        let err = Config::parse("listen = \"127.0.0.1:4000\"\ndatabse_url = \"x\"\n").unwrap_err();
        let text = format!("{err:#}");
        assert!(!text.contains('\n'), "{text}");
        assert!(
            text.starts_with("line 2, column 1: unknown field `databse_url`"),
            "{text}"
        );
        let err = Config::parse("database_url = \n").unwrap_err().to_string();
        assert!(err.starts_with("line 1, column 16: "), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
