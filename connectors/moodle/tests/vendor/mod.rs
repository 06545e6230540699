//! Moodle as the conformance kit sees it: its mock, its connector, and what the simulated
//! source holds, derived from the world through the mock's id scheme.

use serde_json::{Value, json};
use std::sync::Arc;
use tributary_connector::DynKind;
use tributary_mock_kit::{Faults, VendorMock};
use tributary_mock_moodle::{DEFAULT_API_KEY, MoodleMock};
use tributary_sim::Company;
use tributary_testkit::{Expected, VendorUnderTest};

/// Moodle under the conformance kit.
pub struct Moodle;

impl VendorUnderTest for Moodle {
    fn name(&self) -> &'static str {
        "moodle"
    }

    fn mock(&self, company: Arc<Company>, faults: Faults) -> Box<dyn VendorMock> {
        Box::new(MoodleMock::new(company, faults))
    }

    fn kind(&self) -> &'static dyn DynKind {
        &tributary_connector_moodle::DECLARATION
    }

    fn settings(&self, base_url: &str) -> Value {
        // Small pages: many checkpoints per stream, so cut-offs and faults land mid-stream.
        json!({ "endpoint": base_url, "api_key": DEFAULT_API_KEY, "page_size": 25 })
    }

    fn expected(&self, company: &Arc<Company>) -> Expected {
        to_expected(MoodleMock::new(company.clone(), Faults::none()).live_records())
    }

    /// Tombstones: an incremental run reads those deleted within its window.
    fn read_not_landed(&self, company: &Arc<Company>) -> Expected {
        to_expected(MoodleMock::new(company.clone(), Faults::none()).deleted_records())
    }
}

fn to_expected(
    records: std::collections::BTreeMap<
        &'static str,
        std::collections::BTreeMap<String, chrono::DateTime<chrono::Utc>>,
    >,
) -> Expected {
    records
        .into_iter()
        .map(|(stream, ids)| (stream.to_owned(), ids))
        .collect()
}
