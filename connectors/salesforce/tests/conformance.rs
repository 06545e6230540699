//! The Salesforce connector against the conformance kit: the definition of done.

use serde_json::{Value, json};
use std::sync::Arc;
use tributary_connector::DynKind;
use tributary_mock_kit::{Faults, VendorMock};
use tributary_mock_salesforce as salesforce;
use tributary_sim::Company;
use tributary_testkit::{Expected, VendorUnderTest};

mod truth;

struct Salesforce;

/// Settings with the refresh-token grant against the mock's token endpoint; every later call
/// goes to the `instance_url` the mock returns. Salesforce has no static API keys, so the
/// plain connector uses OAuth too.
pub(crate) fn refresh_token_settings(base_url: &str) -> Value {
    let mock = salesforce::SalesforceMockConfig::default();
    json!({
        "endpoint": base_url,
        "auth": {
            "kind": "oauth2",
            "grant": "refresh_token",
            "token_url": format!("{base_url}{}", salesforce::TOKEN_PATH),
            "client_id": mock.client_id,
            "client_secret": mock.client_secret,
            "refresh_token": mock.refresh_token,
        },
    })
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

    fn kind(&self) -> &'static dyn DynKind {
        &tributary_connector_salesforce::DECLARATION
    }

    fn settings(&self, base_url: &str) -> Value {
        refresh_token_settings(base_url)
    }

    fn oauth_settings(&self, base_url: &str) -> Option<Value> {
        Some(refresh_token_settings(base_url))
    }
}

tributary_testkit::conformance_suite!(Salesforce);
