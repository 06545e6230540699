//! The connector against the Moodle mock over HTTP, checked against the simulated world: per
//! learner, the enrollments and completions it reads (what the engine lands) equal the
//! world's; the token never appears in a URL; a refused token is an auth error.

use axum::{extract::Request, middleware::Next, response::Response};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tributary_connector::{Connector, ConnectorError, DynKind, ReadItem, SyncMode};
use tributary_mock_kit::{Faults, MockServer, VendorMock};
use tributary_mock_moodle::{DEFAULT_TOKEN, MoodleMock};
use tributary_model::{EnrollmentStatus, Entity, IdentityHintKind};
use tributary_sim::{Company, SimConfig, SimEnrollment};
use tributary_testkit::items::read_stream;

fn connector(base: &str, token: &str) -> Box<dyn Connector> {
    tributary_connector_moodle::DECLARATION
        .build(
            "lms",
            json!({ "endpoint": base, "token": token, "page_size": 7 }),
            tributary_connector::HttpClientConfig::default(),
        )
        .expect("a connector")
}

/// What one learner's enrollment in one course says.
type Outcome = (
    EnrollmentStatus,
    Option<DateTime<Utc>>,
    Option<Decimal>,
    Option<bool>,
    bool,
);

/// The world's enrollment Moodle keeps for a (person, course) enrolled more than once: the
/// completed one (course completion outlives a re-enrolment), else the latest.
fn kept<'a>(a: &'a SimEnrollment, b: &'a SimEnrollment) -> &'a SimEnrollment {
    let done = |e: &SimEnrollment| e.status == EnrollmentStatus::Completed;
    match (done(a), done(b)) {
        (true, false) => a,
        (false, true) => b,
        _ if b.enrolled_at >= a.enrolled_at => b,
        _ => a,
    }
}

/// Per CRM contact id, per course code: the world's truth.
fn truth(company: &Company) -> BTreeMap<String, BTreeMap<String, Outcome>> {
    let mut pairs: HashMap<(usize, usize), &SimEnrollment> = HashMap::new();
    for e in &company.enrollments {
        let entry = pairs.entry((e.person, e.course)).or_insert(e);
        *entry = kept(entry, e);
    }
    let mut out: BTreeMap<String, BTreeMap<String, Outcome>> = BTreeMap::new();
    for ((person, course), e) in pairs {
        // Moodle keeps whole seconds.
        let completed = e
            .completed_at
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.timestamp(), 0));
        let outcome = (e.status, completed, e.score, e.passed, e.certified);
        out.entry(company.contacts[person].id.clone())
            .or_default()
            .insert(company.courses[course].code.clone(), outcome);
    }
    out
}

fn records(items: &[ReadItem]) -> Vec<(String, Entity)> {
    items
        .iter()
        .filter_map(|i| match i {
            ReadItem::Record(r) => Some((r.external_ref.external_id.clone(), r.entity.clone())),
            ReadItem::Reject(r) => panic!("a reject: {} ({})", r.reason, r.raw),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn enrollments_and_completions_per_learner_equal_the_worlds() {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: 60,
        ..SimConfig::default()
    }));
    let mock = MoodleMock::new(company.clone(), Faults::none());
    let server = MockServer::start(mock.router()).await.expect("a port");
    let conn = connector(&server.base_url, DEFAULT_TOKEN);
    conn.check()
        .await
        .expect("the token and its functions are accepted");

    let courses = records(
        &read_stream(conn.as_ref(), "courses", SyncMode::FullRefresh, None)
            .await
            .expect("courses"),
    );
    // Course id → its code: the world's course with that title (titles are unique).
    let code_of_title: HashMap<&str, &str> = company
        .courses
        .iter()
        .map(|c| (c.title.as_str(), c.code.as_str()))
        .collect();
    let course_code: HashMap<String, String> = courses
        .iter()
        .map(|(id, e)| {
            let Entity::Course(c) = e else {
                panic!("a course")
            };
            let code = code_of_title[c.title.as_str()];
            let world = company.courses.iter().find(|w| w.code == code).unwrap();
            assert_eq!((c.kind, c.level), (world.kind, world.level), "{code}");
            assert_eq!(c.features, world.features, "{code}");
            (id.clone(), code.to_owned())
        })
        .collect();
    assert_eq!(
        course_code.len(),
        company.courses.len(),
        "the front page is dropped"
    );

    let users = records(
        &read_stream(conn.as_ref(), "users", SyncMode::FullRefresh, None)
            .await
            .expect("users"),
    );
    let contact_of: HashMap<String, String> = users
        .iter()
        .map(|(id, e)| {
            let Entity::Person(p) = e else {
                panic!("a person")
            };
            let crm = p
                .hints
                .iter()
                .find(|h| h.kind == IdentityHintKind::CrmContactId)
                .expect("a CRM contact id hint");
            assert!(
                p.hints
                    .iter()
                    .any(|h| h.kind == IdentityHintKind::CrmAccountId),
                "{p:?}"
            );
            (id.clone(), crm.value.clone())
        })
        .collect();

    let items = read_stream(conn.as_ref(), "enrollments", SyncMode::FullRefresh, None)
        .await
        .expect("enrollments");
    let mut read: BTreeMap<String, BTreeMap<String, Outcome>> = BTreeMap::new();
    for (id, e) in records(&items) {
        let Entity::Enrollment(e) = e else {
            panic!("an enrollment")
        };
        let user = &e.person.as_ref().unwrap().external_id;
        let course = &e.course.as_ref().unwrap().external_id;
        assert_eq!(id, format!("{course}:{user}"));
        let outcome = (e.status, e.completed_at, e.score, e.passed, e.certified);
        let previous = read
            .entry(contact_of[user].clone())
            .or_default()
            .insert(course_code[course].clone(), outcome);
        assert!(previous.is_none(), "{id} read twice");
    }
    let want = truth(&company);
    assert_eq!(read.len(), want.len(), "learners");
    for (learner, courses) in &want {
        assert_eq!(read.get(learner), Some(courses), "learner {learner}");
    }
    let completed = want
        .values()
        .flat_map(|c| c.values())
        .filter(|o| o.0 == EnrollmentStatus::Completed)
        .count();
    assert!(
        completed > 20,
        "the world has completions to compare: {completed}"
    );
}

#[tokio::test]
async fn the_token_travels_in_the_body_and_a_refused_token_is_an_auth_error() {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: 10,
        ..SimConfig::default()
    }));
    let mock = MoodleMock::new(company, Faults::none());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let router = mock.router().layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(req.uri().to_string());
                let response: Response = next.run(req).await;
                response
            }
        },
    ));
    let server = MockServer::start(router).await.expect("a port");
    let conn = connector(&server.base_url, DEFAULT_TOKEN);
    read_stream(conn.as_ref(), "users", SyncMode::FullRefresh, None)
        .await
        .expect("users");
    let uris = seen.lock().unwrap().clone();
    assert!(uris.len() > 2, "{uris:?}");
    assert!(
        uris.iter().all(|u| u == "/webservice/rest/server.php"),
        "no parameter, the token least of all, in a URL: {uris:?}"
    );

    let refused = connector(&server.base_url, "not-the-token");
    let err = refused.check().await.expect_err("refused");
    assert!(
        matches!(err, ConnectorError::Auth { status: 200, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("invalidtoken"), "{err}");
    assert!(!err.to_string().contains("not-the-token"), "{err}");
    let err = read_stream(refused.as_ref(), "enrollments", SyncMode::FullRefresh, None)
        .await
        .expect_err("refused");
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
}
