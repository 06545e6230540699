//! The connector kinds this build knows, as a list of declarations (each vendor crate's
//! `DECLARATION`, a [`DynKind`]): building an instance from its `[connectors.<name>]`
//! section, `check-config` and `tributary connectors list` are generic over it. Adding a
//! connector adds one line to [`KINDS`].

use crate::config::{ConnectorSection, resolve_secrets};
use anyhow::{Context, Result};
use std::sync::Arc;
use tributary_connector::{
    Connector, DynKind, HttpClientConfig, PushKind, describe_specs, describe_streams, find_kind,
};
use tributary_mock_hubspot::{HubspotMock, HubspotMockConfig};
use tributary_mock_kit::{Faults, VendorMock};
use tributary_mock_salesforce::{SalesforceMock, SalesforceMockConfig};
use tributary_sim::Company;

/// Every connector kind this build knows, in the order `connectors list` shows them.
pub static KINDS: &[&dyn DynKind] = &[
    &tributary_connector_hubspot::DECLARATION,
    &tributary_connector_salesforce::DECLARATION,
    &tributary_connector_skilljar::DECLARATION,
    &tributary_connector_canvas::DECLARATION,
    &tributary_connector_moodle::DECLARATION,
    // `tributary connector new` adds kinds above this line.
];

/// Every push connector kind (an endpoint the gateway mounts, fed by the vendor's client):
/// listed by `connectors list`, built from the same `[connectors.<name>]` sections and
/// mounted by `tributary serve`'s gateway instead of being scheduled.
pub static PUSH_KINDS: &[&dyn PushKind] = &[&tributary_connector_xapi::DECLARATION];

/// The push kind of a section, if its kind is one.
pub fn push_kind(section: &ConnectorSection) -> Option<&'static dyn PushKind> {
    PUSH_KINDS
        .iter()
        .copied()
        .find(|k| k.name() == section.kind)
}

/// Builds the push source `name` from its section (a push kind), resolving secrets with
/// `lookup`, with the prefix the gateway mounts it under.
pub fn build_push(
    name: &str,
    section: &ConnectorSection,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<tributary_gateway::PushMount> {
    let kind = push_kind(section)
        .with_context(|| format!("connector `{name}`: `{}` is not a push kind", section.kind))?;
    let settings = resolve_secrets(name, &section.settings, lookup)?;
    let settings = serde_json::to_value(toml::Value::Table(settings))
        .with_context(|| format!("settings of connector `{name}` are not representable"))?;
    let built = kind.build(name, settings)?;
    Ok(tributary_gateway::PushMount {
        prefix: built.prefix,
        source: built.source,
    })
}

/// Every configured push source, for the gateway; two on one prefix are refused.
pub fn build_push_all(config: &crate::Config) -> Result<Vec<tributary_gateway::PushMount>> {
    let mut mounts: Vec<tributary_gateway::PushMount> = Vec::new();
    for (name, section) in &config.connectors {
        if push_kind(section).is_none() {
            continue;
        }
        let mount = build_push(name, section, &|v| std::env::var(v).ok())?;
        if let Some(other) = mounts.iter().find(|m| {
            m.prefix == mount.prefix
                || m.prefix.starts_with(&format!("{}/", mount.prefix))
                || mount.prefix.starts_with(&format!("{}/", m.prefix))
        }) {
            anyhow::bail!(
                "connector `{name}` is mounted at `{}`, which overlaps `{}` of connector `{}`; give one another `path`",
                mount.prefix,
                other.prefix,
                other.source.instance()
            );
        }
        mounts.push(mount);
    }
    Ok(mounts)
}

/// Builds a vendor's mock serving a simulated company with fault knobs.
pub type MockFactory = fn(Arc<Company>, Faults) -> Box<dyn VendorMock>;

/// Every vendor mock `tributary sim serve` starts, in port order.
pub static MOCKS: &[MockFactory] = &[
    |company, faults| {
        let config = HubspotMockConfig::with_faults(faults);
        Box::new(HubspotMock::new(company, config))
    },
    |company, faults| {
        let config = SalesforceMockConfig::with_faults(faults);
        Box::new(SalesforceMock::new(company, config))
    },
    |company, faults| Box::new(tributary_mock_skilljar::SkilljarMock::new(company, faults)),
    |company, faults| Box::new(tributary_mock_canvas::CanvasMock::new(company, faults)),
    |company, faults| Box::new(tributary_mock_moodle::MoodleMock::new(company, faults)),
    // `tributary connector new` adds mocks above this line.
];

/// Builds the connector `name` from its section, resolving secrets with `lookup`.
pub fn build(
    name: &str,
    section: &ConnectorSection,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Box<dyn Connector>> {
    build_with(name, section, lookup, HttpClientConfig::default())
}

/// [`build`] with the HTTP client settings `http` (e.g. [`check_http_config`]).
pub fn build_with(
    name: &str,
    section: &ConnectorSection,
    lookup: &dyn Fn(&str) -> Option<String>,
    http: HttpClientConfig,
) -> Result<Box<dyn Connector>> {
    let kind = find_kind(KINDS, name, &section.kind)?;
    let settings = resolve_secrets(name, &section.settings, lookup)?;
    let settings = serde_json::to_value(toml::Value::Table(settings))
        .with_context(|| format!("settings of connector `{name}` are not representable"))?;
    Ok(kind.build(name, settings, http)?)
}

/// HTTP settings for `check-config`: a few seconds per request and one quick retry, so an
/// endpoint nobody answers fails in seconds instead of after a sync's patient backoff.
pub fn check_http_config() -> HttpClientConfig {
    HttpClientConfig {
        timeout: std::time::Duration::from_secs(5),
        max_retries: 1,
        initial_backoff: std::time::Duration::from_millis(200),
        max_backoff: std::time::Duration::from_secs(1),
        ..HttpClientConfig::default()
    }
}

/// Builds every configured connector from the process environment, with its interval and
/// drift policy.
pub fn build_all(config: &crate::Config) -> Result<Vec<Configured>> {
    config
        .connectors
        .iter()
        .filter(|(_, section)| push_kind(section).is_none())
        .map(|(name, section)| {
            Ok(Configured {
                connector: build(name, section, &|v| std::env::var(v).ok())?,
                interval_secs: section.interval_secs,
                drift_policy: section.drift_policy,
            })
        })
        .collect()
}

/// A connector instance with the engine's settings of its section.
pub struct Configured {
    /// The instance.
    pub connector: Box<dyn Connector>,
    /// Seconds between scheduled syncs.
    pub interval_secs: u64,
    /// What happens to records that show a field changed type.
    pub drift_policy: tributary_sync::DriftPolicy,
}

/// `tributary connectors list`: every kind with its auth and streams (cursor field, sync
/// modes, delete strategy).
pub fn list() -> String {
    let mut out = String::new();
    for kind in KINDS {
        out.push_str(&format!("{}  {}\n", kind.name(), kind.summary()));
        out.push_str(&format!("  auth: {}\n", kind.auth_methods().join(" | ")));
        for line in describe_streams(*kind) {
            out.push_str(&format!("  stream {line}\n"));
        }
    }
    for kind in PUSH_KINDS {
        out.push_str(&format!("{}  {}\n", kind.name(), kind.summary()));
        out.push_str(&format!("  auth: {}\n", kind.auth_methods().join(" | ")));
        for line in describe_specs(&kind.streams()) {
            out.push_str(&format!("  stream {line}\n"));
        }
    }
    out
}

/// The configured instances of `config` for `tributary connectors list`: each with its kind,
/// interval and the streams it syncs, or why it cannot be built (a missing secret, a bad key),
/// with `lookup` resolving secrets.
pub fn list_instances(config: &crate::Config, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    if config.connectors.is_empty() {
        return "no connector instances configured\n".to_owned();
    }
    let mut out = String::new();
    for (name, section) in &config.connectors {
        if push_kind(section).is_some() {
            match build_push(name, section, lookup) {
                Ok(mount) => {
                    out.push_str(&format!(
                        "{name}  kind={} push, mounted at {}\n",
                        section.kind, mount.prefix
                    ));
                    for line in describe_specs(&mount.source.streams()) {
                        out.push_str(&format!("  stream {line}\n"));
                    }
                }
                Err(e) => out.push_str(&format!(
                    "{name}  kind={} push\n  cannot be built: {e:#}\n",
                    section.kind
                )),
            }
            continue;
        }
        out.push_str(&format!(
            "{name}  kind={} every {}s\n",
            section.kind, section.interval_secs
        ));
        match build(name, section, lookup) {
            Ok(connector) => {
                for line in describe_specs(&connector.streams()) {
                    out.push_str(&format!("  stream {line}\n"));
                }
            }
            Err(e) => out.push_str(&format!("  cannot be built: {e:#}\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_unique_names_and_streams_with_a_delete_strategy() {
        let mut names: Vec<&str> = KINDS.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KINDS.len(), "{names:?}");
        for kind in KINDS {
            assert!(!kind.streams().is_empty(), "{}", kind.name());
            assert!(!kind.auth_methods().is_empty(), "{}", kind.name());
        }
    }

    #[test]
    fn the_list_shows_every_kind_with_streams_cursors_and_delete_strategies() {
        let list = list();
        for expected in [
            "hubspot  HubSpot CRM",
            "auth: private-app token | OAuth2 refresh token",
            "stream companies",
            "cursor=hs_lastmodifieddate",
            "cursor=lastmodifieddate",
            "deletes=native_feed",
            "deletes=key_diff",
            "salesforce  Salesforce",
            "stream Opportunity",
            "cursor=SystemModstamp",
            "modes=incremental,full_refresh",
            "stream DatedConversionRate",
            "modes=full_refresh ",
            "xapi  xAPI 1.0.3 statements endpoint",
            "auth: HTTP basic: user = push key name, password = push key",
            "stream statements",
            "learning_event",
        ] {
            assert!(
                list.contains(expected),
                "`{expected}` missing from:\n{list}"
            );
        }
    }

    /// The example's commented xAPI section, uncommented, builds: every documented key is
    /// one the kind accepts.
    #[test]
    fn the_example_xapi_section_builds() {
        let example = include_str!("../tributary.example.toml");
        let start = example
            .find("# [connectors.lrs]")
            .expect("the example documents an xapi source");
        let text: String = example[start..]
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(""))
            .filter(|l| l.starts_with('[') || l.contains(" = "))
            .map(|l| format!("{l}\n"))
            .collect();
        let config: toml::Table = toml::from_str(&text).expect("the section parses");
        let section: ConnectorSection = config["connectors"]["lrs"]
            .clone()
            .try_into()
            .expect("a connector section");
        let mount = build_push("lrs", &section, &|_| None).expect("the section builds");
        assert_eq!(mount.prefix, "/xapi");
        assert_eq!(mount.source.kind(), "xapi");
    }

    #[test]
    fn every_kind_is_listed_and_has_a_mock_for_sim_serve() {
        let list = list();
        let company = Arc::new(Company::generate(&tributary_sim::SimConfig {
            accounts: 3,
            ..tributary_sim::SimConfig::default()
        }));
        let vendors: Vec<&str> = MOCKS
            .iter()
            .map(|mock| mock(Arc::clone(&company), Faults::none()).vendor())
            .collect();
        for kind in KINDS {
            let line = format!("{}  {}\n", kind.name(), kind.summary());
            assert!(list.contains(&line), "`{line}` missing from:\n{list}");
            assert!(
                vendors.contains(&kind.name()),
                "no mock for {}",
                kind.name()
            );
        }
    }

    #[test]
    fn configured_instances_are_listed_with_their_streams_or_what_stops_them() {
        let config = crate::Config::parse(
            r#"
[connectors.crm]
kind = "hubspot"
interval_secs = 900
access_token = { env = "LIST_TEST_TOKEN" }

[connectors.sfdc]
kind = "salesforce"
access_token = { env = "LIST_TEST_MISSING" }
"#,
        )
        .expect("a valid config");
        let lookup = |var: &str| (var == "LIST_TEST_TOKEN").then(|| "pat-x".to_owned());
        let list = list_instances(&config, &lookup);
        assert!(
            list.contains("crm  kind=hubspot every 900s\n  stream companies"),
            "{list}"
        );
        assert!(
            list.contains("sfdc  kind=salesforce every 3600s\n  cannot be built:"),
            "{list}"
        );
        assert!(list.contains("LIST_TEST_MISSING"), "{list}");
        let empty = crate::Config::parse("").expect("an empty config");
        assert_eq!(
            list_instances(&empty, &lookup),
            "no connector instances configured\n"
        );
    }

    #[test]
    fn an_unknown_kind_names_the_known_ones() {
        let section: ConnectorSection =
            toml::from_str("kind = \"nosuchvendor\"").expect("a valid section");
        let err = build("desk", &section, &|_| None)
            .err()
            .expect("unknown kind");
        let known: Vec<&str> = KINDS.iter().map(|k| k.name()).collect();
        assert!(known.starts_with(&["hubspot", "salesforce"]), "{known:?}");
        assert_eq!(
            format!("{err:#}"),
            format!(
                "invalid configuration for connector `desk`: unknown kind `nosuchvendor` (known: {})",
                known.join(", ")
            )
        );
    }
}
