//! Canvas as the conformance kit sees it: its mock, its connector, and what the simulated
//! source holds, derived from the world through the mock's id scheme.

use serde_json::{Value, json};
use std::sync::Arc;
use tributary_connector::DynKind;
use tributary_mock_canvas::{CanvasMock, DEFAULT_TOKEN};
use tributary_mock_kit::{Faults, VendorMock};
use tributary_sim::Company;
use tributary_testkit::{Expected, VendorUnderTest};

/// Canvas under the conformance kit.
pub struct Canvas;

impl VendorUnderTest for Canvas {
    fn name(&self) -> &'static str {
        "canvas"
    }

    fn mock(&self, company: Arc<Company>, faults: Faults) -> Box<dyn VendorMock> {
        Box::new(CanvasMock::new(company, faults))
    }

    fn kind(&self) -> &'static dyn DynKind {
        &tributary_connector_canvas::DECLARATION
    }

    fn settings(&self, base_url: &str) -> Value {
        // Small pages: many checkpoints per stream, so cut-offs and faults land mid-stream.
        json!({ "endpoint": base_url, "access_token": DEFAULT_TOKEN, "per_page": 7 })
    }

    /// Every course, every learner, and every student enrollment in any state (the connector
    /// asks for all of them; dropped ones land as dropped).
    fn expected(&self, company: &Arc<Company>) -> Expected {
        CanvasMock::new(company.clone(), Faults::none())
            .live_records()
            .into_iter()
            .map(|(stream, ids)| (stream.to_owned(), ids))
            .collect()
    }
}
