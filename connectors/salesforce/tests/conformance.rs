//! The Salesforce connector against the conformance kit: the definition of done.

use std::sync::Arc;
use tributary_connector::{
    Connector, ConnectorContext, ConnectorError, HttpClient, HttpClientConfig,
};
use tributary_connector_salesforce::{SalesforceConfig, SalesforceConnector, http_auth};
use tributary_sim::{Company, Faults, VendorMock, salesforce};
use tributary_testkit::{Expected, VendorUnderTest};

mod truth;

struct Salesforce;

/// The connector with the refresh-token grant against the mock's token endpoint; every later
/// call goes to the `instance_url` the mock returns.
fn refresh_token_connector(base_url: &str) -> Result<Box<dyn Connector>, ConnectorError> {
    let mock = salesforce::SalesforceMockConfig::default();
    let config: SalesforceConfig = serde_json::from_value(serde_json::json!({
        "endpoint": base_url,
        "auth": {
            "kind": "oauth2",
            "grant": "refresh_token",
            "token_url": format!("{base_url}{}", salesforce::TOKEN_PATH),
            "client_id": mock.client_id,
            "client_secret": mock.client_secret,
            "refresh_token": mock.refresh_token,
        },
    }))
    .map_err(|e| ConnectorError::Config {
        instance: "salesforce-kit".into(),
        message: e.to_string(),
    })?;
    let http = HttpClient::new(
        HttpClientConfig::default(),
        http_auth(&config, "salesforce-kit")?,
    )?;
    let ctx = ConnectorContext {
        instance: "salesforce-kit".to_owned(),
        http,
    };
    Ok(Box::new(SalesforceConnector::new(ctx, config)?))
}

impl VendorUnderTest for Salesforce {
    fn name(&self) -> &'static str {
        "salesforce"
    }

    fn mock(&self, company: Arc<Company>, faults: Faults) -> Box<dyn VendorMock> {
        Box::new(salesforce::SalesforceMock::new(
            company,
            salesforce::SalesforceMockConfig {
                // Small batches: many checkpoints per stream, so cut-offs and faults land
                // mid-stream (the org-side batch size; the client cannot send
                // `Sforce-Query-Options`).
                batch_size: 25,
                ..salesforce::SalesforceMockConfig::with_faults(faults)
            },
        ))
    }

    fn expected(&self, company: &Arc<Company>) -> Expected {
        truth::expected(company)
    }

    fn read_not_landed(&self, company: &Arc<Company>) -> Expected {
        truth::read_not_landed(company)
    }

    fn connector(&self, base_url: &str) -> Result<Box<dyn Connector>, ConnectorError> {
        // Salesforce has no static API keys: the plain connector uses OAuth too.
        refresh_token_connector(base_url)
    }

    fn oauth_connector(
        &self,
        base_url: &str,
    ) -> Option<Result<Box<dyn Connector>, ConnectorError>> {
        Some(refresh_token_connector(base_url))
    }
}

tributary_testkit::conformance_suite!(Salesforce);
