//! The HubSpot connector against the conformance kit: the definition of done.

use axum::Router;
use secrecy::SecretString;
use std::sync::Arc;
use tributary_connector::{
    Connector, ConnectorContext, ConnectorError, HttpClient, HttpClientConfig,
};
use tributary_connector_hubspot::{HubspotConfig, HubspotConnector, http_auth, simulator_mapping};
use tributary_sim::{Company, Faults, hubspot};
use tributary_testkit::{Kit, VendorUnderTest};

struct HubSpot;

impl VendorUnderTest for HubSpot {
    fn name(&self) -> &'static str {
        "hubspot"
    }

    fn mock(&self, company: Arc<Company>, faults: Faults) -> Router {
        hubspot::router(company, hubspot::HubspotMockConfig::with_faults(faults))
    }

    fn connector(&self, base_url: &str) -> Result<Box<dyn Connector>, ConnectorError> {
        let config = HubspotConfig {
            // Small pages: many checkpoints per stream, so cut-offs and faults land mid-stream.
            page_size: 25,
            mapping: simulator_mapping(),
            ..HubspotConfig::new(
                base_url.to_owned(),
                SecretString::from(hubspot::DEFAULT_ACCESS_TOKEN),
            )
        };
        let http = HttpClient::new(
            HttpClientConfig::default(),
            http_auth(&config, "hubspot-kit")?,
        )?;
        let ctx = ConnectorContext {
            instance: "hubspot-kit".to_owned(),
            http,
        };
        Ok(Box::new(HubspotConnector::new(ctx, config)?))
    }

    fn oauth_connector(
        &self,
        base_url: &str,
    ) -> Option<Result<Box<dyn Connector>, ConnectorError>> {
        // A public app: refresh-token grant against the mock's OAuth endpoint.
        let auth = serde_json::from_value(serde_json::json!({
            "kind": "oauth2",
            "grant": "refresh_token",
            "token_url": format!("{base_url}{}", hubspot::TOKEN_PATH),
            "client_id": hubspot::DEFAULT_CLIENT_ID,
            "client_secret": hubspot::DEFAULT_CLIENT_SECRET,
            "refresh_token": hubspot::DEFAULT_REFRESH_TOKEN,
        }));
        let auth = match auth {
            Ok(a) => a,
            Err(e) => {
                return Some(Err(ConnectorError::Config {
                    instance: "hubspot-kit".into(),
                    message: e.to_string(),
                }));
            }
        };
        let config = HubspotConfig {
            page_size: 25,
            mapping: simulator_mapping(),
            auth: Some(auth),
            ..HubspotConfig::new(base_url.to_owned(), SecretString::default())
        };
        Some((|| {
            let http = HttpClient::new(
                HttpClientConfig::default(),
                http_auth(&config, "hubspot-kit")?,
            )?;
            let ctx = ConnectorContext {
                instance: "hubspot-kit".to_owned(),
                http,
            };
            Ok(Box::new(HubspotConnector::new(ctx, config)?) as Box<dyn Connector>)
        })())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_passes_the_conformance_kit() {
    let report = Kit::default()
        .run(&HubSpot)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    report.assert_ran(tributary_testkit::ALL_CHECKS);
}
