//! Skilljar as the conformance kit sees it: its mock, its connector, and what the simulated
//! source holds, derived from the world through the mock's id scheme.

use serde_json::{Value, json};
use std::sync::Arc;
use tributary_connector::DynKind;
use tributary_mock_kit::{Faults, VendorMock};
use tributary_mock_skilljar::{DEFAULT_API_KEY, SkilljarMock};
use tributary_sim::Company;
use tributary_testkit::{Expected, VendorUnderTest};

/// Skilljar under the conformance kit.
pub struct Skilljar;

impl VendorUnderTest for Skilljar {
    fn name(&self) -> &'static str {
        "skilljar"
    }

    fn mock(&self, company: Arc<Company>, faults: Faults) -> Box<dyn VendorMock> {
        Box::new(SkilljarMock::new(company, faults))
    }

    fn kind(&self) -> &'static dyn DynKind {
        &tributary_connector_skilljar::DECLARATION
    }

    fn settings(&self, base_url: &str) -> Value {
        // Small pages: many checkpoints per stream, so cut-offs and faults land mid-stream.
        json!({ "endpoint": base_url, "api_key": DEFAULT_API_KEY, "page_size": 10 })
    }

    fn expected(&self, company: &Arc<Company>) -> Expected {
        SkilljarMock::new(company.clone(), Faults::none())
            .live_records()
            .into_iter()
            .map(|(stream, ids)| (stream.to_owned(), ids))
            .collect()
    }
}
