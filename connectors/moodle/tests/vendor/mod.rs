//! Moodle as the conformance kit sees it: its mock, its connector, and what the simulated
//! site holds, derived from the world through the mock's id scheme.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tributary_connector::DynKind;
use tributary_mock_kit::{Faults, VendorMock};
use tributary_mock_moodle::{DEFAULT_TOKEN, MoodleMock};
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
        json!({ "endpoint": base_url, "token": DEFAULT_TOKEN, "page_size": 5 })
    }

    fn expected(&self, company: &Arc<Company>) -> Expected {
        expected(company)
    }
}

/// Per stream, the ids the site holds: every course but the front page, every LMS user, one
/// enrollment per (course, user) pair.
pub fn expected(company: &Arc<Company>) -> Expected {
    let mock = MoodleMock::new(company.clone(), Faults::none());
    let site = mock.site();
    let stamp = |s: i64| DateTime::<Utc>::from_timestamp(s, 0).unwrap_or_default();
    let courses: BTreeMap<String, DateTime<Utc>> = mock
        .course_ids()
        .into_iter()
        .map(|(id, modified)| (id.to_string(), stamp(modified)))
        .collect();
    let users = site
        .by_user
        .keys()
        .filter_map(|id| {
            let contact = site.contact(*id)?;
            Some((id.to_string(), company.contacts[contact].updated_at))
        })
        .collect();
    let enrollments = site
        .enrolments
        .iter()
        .map(|((user, course), e)| {
            (
                tributary_connector_moodle::enrollment_id(&course.to_string(), &user.to_string()),
                e.of(company).updated_at,
            )
        })
        .collect();
    BTreeMap::from([
        ("courses".to_owned(), courses),
        ("users".to_owned(), users),
        ("enrollments".to_owned(), enrollments),
    ])
}
