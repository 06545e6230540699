//! HubSpot as the conformance kit sees it, shared by the suite and the kit's own failure tests.

use serde_json::{Value, json};
use std::sync::Arc;
use tributary_connector::DynKind;
use tributary_mock_hubspot as hubspot;
use tributary_mock_kit::{Faults, VendorMock};
use tributary_sim::Company;
use tributary_testkit::{Expected, VendorUnderTest};

/// HubSpot under the conformance kit: its mock, its connector (private-app token or OAuth
/// refresh-token grant) and what the simulated portal holds.
pub struct HubSpot;

impl VendorUnderTest for HubSpot {
    fn name(&self) -> &'static str {
        "hubspot"
    }

    fn mock(&self, company: Arc<Company>, faults: Faults) -> Box<dyn VendorMock> {
        Box::new(hubspot::HubspotMock::new(
            company,
            hubspot::HubspotMockConfig::with_faults(faults),
        ))
    }

    fn expected(&self, company: &Arc<Company>) -> Expected {
        let mock =
            hubspot::HubspotMock::new(company.clone(), hubspot::HubspotMockConfig::default());
        let mut out: Expected = mock
            .live_records()
            .into_iter()
            .map(|(object, records)| (object.to_owned(), records))
            .collect();
        let deals = out.get("deals").cloned().unwrap_or_default();
        // Deals land as subscriptions only once won; the connector skips the others.
        let won: std::collections::HashSet<&str> = company
            .deals
            .iter()
            .filter(|d| d.stage.is_won())
            .map(|d| d.id.as_str())
            .collect();
        if let Some(deals) = out.get_mut("deals") {
            deals.retain(|id, _| won.contains(id.as_str()));
        }
        // One `deal_contacts` record per association between live records (won or not), `{deal}-{contact}`,
        // as new as its deal (HubSpot moves a deal's modified time when its contacts change).
        let edges = mock
            .live_deal_contacts()
            .into_iter()
            .filter_map(|(deal, contact)| Some((format!("{deal}-{contact}"), *deals.get(&deal)?)))
            .collect();
        out.insert("deal_contacts".to_owned(), edges);
        out
    }

    fn read_not_landed(&self, company: &Arc<Company>) -> Expected {
        let mock =
            hubspot::HubspotMock::new(company.clone(), hubspot::HubspotMockConfig::default());
        // Archived records: `archived=true` has no time filter, so every run reads them all.
        let mut out: Expected = mock
            .archived_records()
            .into_iter()
            .map(|(object, records)| {
                let always = records
                    .into_keys()
                    .map(|id| (id, chrono::DateTime::<chrono::Utc>::MAX_UTC))
                    .collect();
                (object.to_owned(), always)
            })
            .collect();
        // Live deals that are not won: an incremental run that meets one deletes it.
        let live = mock.live_records();
        if let (Some(deals), Some(out)) = (live.get("deals"), out.get_mut("deals")) {
            for d in company.deals.iter().filter(|d| !d.stage.is_won()) {
                if let Some(v) = deals.get(&d.id) {
                    out.insert(d.id.clone(), *v);
                }
            }
        }
        out
    }

    fn kind(&self) -> &'static dyn DynKind {
        &tributary_connector_hubspot::DECLARATION
    }

    fn settings(&self, base_url: &str) -> Value {
        json!({
            "endpoint": base_url,
            "access_token": hubspot::DEFAULT_ACCESS_TOKEN,
            // Small pages: many checkpoints per stream, so cut-offs and faults land mid-stream.
            "page_size": 25,
            "mapping": hubspot::revenue_mapping(),
        })
    }

    fn oauth_settings(&self, base_url: &str) -> Option<Value> {
        // A public app: refresh-token grant against the mock's OAuth endpoint.
        Some(json!({
            "endpoint": base_url,
            "page_size": 25,
            "mapping": hubspot::revenue_mapping(),
            "auth": {
                "kind": "oauth2",
                "grant": "refresh_token",
                "token_url": format!("{base_url}{}", hubspot::TOKEN_PATH),
                "client_id": hubspot::DEFAULT_CLIENT_ID,
                "client_secret": hubspot::DEFAULT_CLIENT_SECRET,
                "refresh_token": hubspot::DEFAULT_REFRESH_TOKEN,
            },
        }))
    }
}
