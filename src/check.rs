//! `tributary check-config`: everything a run will need, checked before a run needs it: the
//! database URL's form and the database's reachability, the files the configuration names,
//! the secrets it references, and each connector's credentials against its endpoint. Each
//! check gives one line; a failed one says what is wrong and where (path, host and port, the
//! variable, the endpoint).

use crate::{Config, config::missing_secrets, ledger::FxSource, registry};
use std::time::Duration;
use tributary_connector::ConnectorError;
use tributary_store::Store;

/// How long the database may take to accept a connection.
pub const DATABASE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one connector's credential check may take in all.
pub const CONNECTOR_TIMEOUT: Duration = Duration::from_secs(15);

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Whether it passed.
    pub ok: bool,
    /// What was checked and, for a failure, why it failed, on one line.
    pub text: String,
}

impl Finding {
    fn ok(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            text: text.into(),
        }
    }

    fn failed(text: impl Into<String>) -> Self {
        Self {
            ok: false,
            text: text.into(),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = if self.ok { "ok  " } else { "FAIL" };
        write!(f, "{mark} {}", self.text)
    }
}

/// Runs every check of `config` (loaded, so its paths are resolved), reading secrets through
/// `lookup` (the process environment in production). Creates nothing: a SQLite file that does
/// not exist yet only needs its directory.
pub async fn run(config: &Config, lookup: &dyn Fn(&str) -> Option<String>) -> Vec<Finding> {
    let mut findings = vec![database(config, lookup).await];
    findings.extend(files(config));
    findings.push(match config.gateway.gateway_config() {
        Ok(_) => Finding::ok("gateway settings"),
        Err(e) => Finding::failed(crate::error_line(&e)),
    });
    for (name, section) in &config.connectors {
        findings.push(connector(name, section, lookup).await);
    }
    findings
}

async fn database(config: &Config, lookup: &dyn Fn(&str) -> Option<String>) -> Finding {
    let url = match config.database_url_with(lookup) {
        Ok(url) => url,
        Err(e) => return Finding::failed(format!("database: {}", crate::error_line(&e))),
    };
    // Only for URLs we accept: another scheme gets the list of accepted forms below.
    let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if postgres
        && matches!(config.database_url, crate::config::DatabaseUrl::Literal(_))
        && crate::config::literal_password(&url)
    {
        return Finding::failed(format!(
            "database: `database_url` {} holds a password; write `database_url = {{ env = \"TRIBUTARY_DATABASE_URL\" }}` and put the URL in that variable",
            crate::serve::redact(&url)
        ));
    }
    match Store::probe(&url, DATABASE_TIMEOUT).await {
        Ok(()) => Finding::ok(format!("database {}", crate::serve::redact(&url))),
        Err(e) => Finding::failed(format!("database: {e}")),
    }
}

/// The files the configuration names: today the ledger's FX rates.
fn files(config: &Config) -> Vec<Finding> {
    let ledger = &config.ledger;
    if ledger.fx_source != FxSource::Csv {
        return vec![Finding::ok("ledger: exchange rates from synced data")];
    }
    let what = if ledger.fx_rates_csv.is_empty() {
        "ledger: no fx_rates_csv, every contract must be in the reporting currency".to_owned()
    } else {
        format!("fx_rates_csv `{}`", ledger.fx_rates_csv)
    };
    vec![match ledger.csv_fx_table() {
        Ok(_) => Finding::ok(what),
        Err(e) => Finding::failed(crate::error_line(&e)),
    }]
}

async fn connector(
    name: &str,
    section: &crate::config::ConnectorSection,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Finding {
    let subject = format!("connector `{name}` ({})", section.kind);
    let missing = missing_secrets(&section.settings, lookup);
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|(key, var)| format!("`{var}` (for `{key}`)"))
            .collect();
        let (noun, verb) = if list.len() == 1 {
            ("variable", "is")
        } else {
            ("variables", "are")
        };
        return Finding::failed(format!(
            "{subject}: environment {noun} {} {verb} not set",
            list.join(", ")
        ));
    }
    if registry::push_kind(section).is_some() {
        return match registry::build_push(name, section, lookup) {
            Ok(mount) => Finding::ok(format!(
                "{subject}: push endpoint at {} (credentials: `tributary apikey create --push {name}`)",
                mount.prefix
            )),
            Err(e) => Finding::failed(format!("{subject}: {}", crate::error_line(&e))),
        };
    }
    let built = match registry::build_with(name, section, lookup, registry::check_http_config()) {
        Ok(c) => c,
        Err(e) => return Finding::failed(format!("{subject}: {}", crate::error_line(&e))),
    };
    match tokio::time::timeout(CONNECTOR_TIMEOUT, built.check()).await {
        Ok(Ok(())) => Finding::ok(format!(
            "{subject}: credentials accepted, syncs every {}s",
            section.interval_secs
        )),
        Ok(Err(e)) => Finding::failed(format!("{subject}: {e}{}", hint(&e))),
        Err(_) => Finding::failed(format!(
            "{subject}: no answer within {} s",
            CONNECTOR_TIMEOUT.as_secs()
        )),
    }
}

/// A hint for an endpoint where nothing listens: on this machine, most likely the simulator
/// that is not running.
fn hint(e: &ConnectorError) -> &'static str {
    let ConnectorError::Transient { url, message } = e else {
        return "";
    };
    if !message.to_ascii_lowercase().contains("connection refused") {
        return "";
    }
    if is_loopback(url) {
        " (nothing listens there; is `tributary sim serve` running?)"
    } else {
        " (nothing listens there; check the endpoint)"
    }
}

/// Whether `url`'s host is this machine.
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_hosts_are_recognised() {
        for url in [
            "http://127.0.0.1:4100/crm/v3/objects/companies",
            "http://localhost:4100",
            "http://[::1]:4100/x",
            "http://user@127.0.0.2/",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://api.hubapi.com/crm",
            "http://10.0.0.1:4100",
            "http://[::2]/",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
