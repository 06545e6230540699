//! The connector kind Salesforce declares to a registry.

use crate::{STREAMS, SalesforceConfig, SalesforceConnector, http_auth};
use tributary_connector::pull::StreamDecl;
use tributary_connector::{
    Auth, Connector, ConnectorContext, ConnectorError, ConnectorKind, Declared, StreamSpec,
};

/// The `salesforce` kind.
pub struct SalesforceKind;

/// Salesforce's entry in a registry of kinds.
pub static DECLARATION: Declared<SalesforceKind> = Declared::new();

impl ConnectorKind for SalesforceKind {
    type Config = SalesforceConfig;
    const NAME: &'static str = crate::KIND;
    const SUMMARY: &'static str = "Salesforce: accounts, contacts, won opportunities or contracts, contact roles and dated rates (REST query/queryAll, Bulk API 2.0)";
    const AUTH: &'static [&'static str] = &["OAuth2 refresh token", "OAuth2 JWT bearer"];

    fn streams() -> Vec<StreamSpec> {
        STREAMS.iter().map(StreamDecl::spec).collect()
    }

    fn auth(config: &SalesforceConfig, instance: &str) -> Result<Auth, ConnectorError> {
        http_auth(config, instance)
    }

    fn build(
        config: SalesforceConfig,
        cx: ConnectorContext,
    ) -> Result<Box<dyn Connector>, ConnectorError> {
        Ok(Box::new(SalesforceConnector::new(cx, config)?))
    }
}
