//! Builds connector instances from configuration. The one place that knows every connector
//! crate: adding a connector means one match arm here.

use crate::config::{ConnectorSection, resolve_secrets};
use anyhow::{Context, Result, bail};
use tributary_connector::{Connector, ConnectorContext, HttpClient, HttpClientConfig};

/// Connector kinds this build knows.
pub const KINDS: &[&str] = &["hubspot", "salesforce"];

/// Builds the connector `name` from its section, resolving secrets with `lookup`.
pub fn build(
    name: &str,
    section: &ConnectorSection,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Box<dyn Connector>> {
    let settings = resolve_secrets(name, &section.settings, lookup)?;
    match section.kind.as_str() {
        "hubspot" => {
            use tributary_connector_hubspot::{HubspotConfig, HubspotConnector, http_auth};
            let config: HubspotConfig = toml::Value::Table(settings)
                .try_into()
                .with_context(|| format!("invalid settings for connector `{name}`"))?;
            let http = HttpClient::new(HttpClientConfig::default(), http_auth(&config, name)?)?;
            let ctx = ConnectorContext {
                instance: name.to_owned(),
                http,
            };
            Ok(Box::new(HubspotConnector::new(ctx, config)?))
        }
        "salesforce" => {
            use tributary_connector_salesforce::{
                SalesforceConfig, SalesforceConnector, http_auth,
            };
            let config: SalesforceConfig = toml::Value::Table(settings)
                .try_into()
                .with_context(|| format!("invalid settings for connector `{name}`"))?;
            let http = HttpClient::new(HttpClientConfig::default(), http_auth(&config, name)?)?;
            let ctx = ConnectorContext {
                instance: name.to_owned(),
                http,
            };
            Ok(Box::new(SalesforceConnector::new(ctx, config)?))
        }
        other => bail!(
            "connector `{name}` has unknown kind `{other}` (known: {})",
            KINDS.join(", ")
        ),
    }
}

/// Builds every configured connector from the process environment.
pub fn build_all(config: &crate::Config) -> Result<Vec<(Box<dyn Connector>, u64)>> {
    config
        .connectors
        .iter()
        .map(|(name, section)| {
            Ok((
                build(name, section, &|v| std::env::var(v).ok())?,
                section.interval_secs,
            ))
        })
        .collect()
}
