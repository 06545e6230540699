//! The Canvas connector against the Canvas mock over loopback: what it lands equals the world
//! per learner (both backends), throttles are retried and a permission refusal is not.

use chrono::SubsecRound;
use futures::StreamExt;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tributary_connector::{
    Connector, ConnectorError, DynKind, ErrorClass, HttpClientConfig, ReadItem, SyncMode,
};
use tributary_mock_canvas::{
    CanvasMock, DEFAULT_TOKEN, LIMITED_TOKEN, served_enrollments, user_id,
};
use tributary_mock_kit::{Faults, MockServer, Schedule, VendorMock};
use tributary_model::{CourseKind, EnrollmentStatus, Entity};
use tributary_sim::{Company, SimConfig};
use tributary_store::testing::TestDatabase;
use tributary_sync::{NoProgress, SyncEngine};

const INSTANCE: &str = "canvas-sim";

fn company() -> Arc<Company> {
    Arc::new(Company::generate(&SimConfig {
        seed: 11,
        accounts: 60,
        ..SimConfig::default()
    }))
}

async fn serve(company: &Arc<Company>, faults: Faults) -> (CanvasMock, MockServer) {
    let mock = CanvasMock::new(company.clone(), faults);
    let server = MockServer::start(mock.router())
        .await
        .expect("a loopback port");
    (mock, server)
}

/// The settings a deployment would write: the catalog says which courses are certifications
/// (Canvas has no such notion), keyed by course code.
fn settings(company: &Company, base_url: &str, token: &str) -> Value {
    let map: serde_json::Map<String, Value> = company
        .courses
        .iter()
        .filter(|c| c.kind == CourseKind::Certification)
        .map(|c| (c.code.clone(), json!({ "kind": "certification" })))
        .collect();
    json!({
        "endpoint": base_url,
        "access_token": token,
        "per_page": 20,
        "courses": { "map": map },
    })
}

fn connector(company: &Company, server: &MockServer, token: &str) -> Box<dyn Connector> {
    tributary_connector_canvas::DECLARATION
        .build(
            INSTANCE,
            settings(company, &server.base_url, token),
            HttpClientConfig {
                initial_backoff: std::time::Duration::from_millis(5),
                ..HttpClientConfig::default()
            },
        )
        .expect("the settings are valid")
}

/// Per learner (Canvas user id): enrollments, completions, certifications.
type PerLearner = BTreeMap<String, (i64, i64, i64)>;

/// The world's truth as Canvas can hold it: one enrollment per learner and course (the
/// latest; see [`served_enrollments`]).
fn world_per_learner(company: &Company) -> PerLearner {
    let mut out = PerLearner::new();
    for e in served_enrollments(company)
        .into_iter()
        .map(|i| &company.enrollments[i])
    {
        let row = out
            .entry(user_id(company, e.person).to_string())
            .or_default();
        row.0 += 1;
        row.1 += i64::from(e.completed_at.is_some());
        row.2 += i64::from(e.certified);
    }
    out
}

#[tokio::test]
async fn what_lands_per_learner_and_account_equals_the_world_on_every_backend() {
    let company = company();
    let want = world_per_learner(&company);
    assert!(want.values().any(|r| r.1 > 0) && want.values().any(|r| r.2 > 0));
    for db in TestDatabase::all().await.expect("test databases") {
        let store = db.store().await.expect("a migrated store");
        let (_mock, server) = serve(&company, Faults::none()).await;
        let conn = connector(&company, &server, DEFAULT_TOKEN);
        let report = SyncEngine::new(store.clone())
            .sync(conn.as_ref(), SyncMode::FullRefresh, &[], &NoProgress)
            .await
            .expect("the sync runs");
        assert!(report.succeeded(), "{report:?}");
        for s in &report.streams {
            assert_eq!(s.outcome.quarantined, 0, "{}: {:?}", s.stream, s.outcome);
        }
        let sql = Database::connect(db.url.as_str()).await.expect("connects");
        let rows = sql
            .query_all_raw(Statement::from_string(
                sql.get_database_backend(),
                "SELECT r.external_id AS learner, CAST(COUNT(*) AS BIGINT) AS enrolled, \
                 CAST(SUM(CASE WHEN e.completed_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS completed, \
                 CAST(SUM(CASE WHEN e.certified THEN 1 ELSE 0 END) AS BIGINT) AS certified \
                 FROM enrollments e JOIN external_refs r ON r.entity_id = e.person_id \
                 AND r.system = 'canvas' AND r.object = 'users' \
                 WHERE e.deleted_at IS NULL GROUP BY r.external_id"
                    .to_owned(),
            ))
            .await
            .expect("the query runs");
        let mut got = PerLearner::new();
        for row in rows {
            let learner: String = row.try_get("", "learner").expect("learner");
            let counts = (
                row.try_get::<i64>("", "enrolled").expect("enrolled"),
                row.try_get::<i64>("", "completed").expect("completed"),
                row.try_get::<i64>("", "certified").expect("certified"),
            );
            got.insert(learner, counts);
        }
        assert_eq!(got, want, "{}", db.backend);
        // Per account too, linking each learner to the account of the CRM contact its
        // `sis_user_id` names (what identity resolution will do).
        let per_account = |per_learner: &PerLearner| {
            let mut out: BTreeMap<usize, (i64, i64, i64)> = BTreeMap::new();
            for (learner, (n, done, certified)) in per_learner {
                let contact = company
                    .contacts
                    .iter()
                    .enumerate()
                    .find(|(i, _)| user_id(&company, *i).to_string() == *learner)
                    .map(|(_, c)| c.account)
                    .expect("a learner is a CRM contact");
                let row = out.entry(contact).or_default();
                row.0 += n;
                row.1 += done;
                row.2 += certified;
            }
            out
        };
        let mut world_accounts: BTreeMap<usize, (i64, i64, i64)> = BTreeMap::new();
        for e in served_enrollments(&company)
            .into_iter()
            .map(|i| &company.enrollments[i])
        {
            let row = world_accounts.entry(e.account).or_default();
            row.0 += 1;
            row.1 += i64::from(e.completed_at.is_some());
            row.2 += i64::from(e.certified);
        }
        assert_eq!(
            per_account(&got),
            world_accounts,
            "{} per account",
            db.backend
        );
        sql.close().await.expect("closes");
        store.close().await.expect("closes");
        db.cleanup().await.expect("drops");
    }
}

#[tokio::test]
async fn completion_times_scores_and_statuses_are_the_worlds() {
    let company = company();
    let (_mock, server) = serve(&company, Faults::none()).await;
    let conn = connector(&company, &server, DEFAULT_TOKEN);
    let stream = conn
        .streams()
        .into_iter()
        .find(|s| s.name == "enrollments")
        .expect("an enrollments stream");
    let mut read = conn.read(&stream, SyncMode::FullRefresh, None);
    let mut landed = BTreeMap::new();
    while let Some(item) = read.next().await {
        if let ReadItem::Record(r) = item.expect("no error") {
            let Entity::Enrollment(e) = r.entity else {
                panic!("not an enrollment: {:?}", r.entity);
            };
            landed.insert(r.external_ref.external_id.clone(), e);
        }
    }
    let served = served_enrollments(&company);
    assert_eq!(landed.len(), served.len());
    assert!(
        served.len() < company.enrollments.len(),
        "some learners enrolled twice"
    );
    for w in served.into_iter().map(|i| &company.enrollments[i]) {
        let e = &landed[&w.id.to_string()];
        // Canvas's timestamps are whole seconds.
        assert_eq!(
            e.enrolled_at,
            w.enrolled_at.trunc_subsecs(0),
            "enrollment {}",
            w.id
        );
        assert_eq!(
            e.completed_at,
            w.completed_at.map(|t| t.trunc_subsecs(0)),
            "enrollment {}",
            w.id
        );
        assert_eq!(e.certified, w.certified, "enrollment {}", w.id);
        let dropped = w.status == EnrollmentStatus::Dropped;
        assert_eq!(
            e.status == EnrollmentStatus::Dropped,
            dropped,
            "enrollment {}",
            w.id
        );
        if w.status == EnrollmentStatus::Completed {
            assert_eq!(e.status, EnrollmentStatus::Completed);
            assert_eq!(e.score, w.score, "enrollment {}", w.id);
            assert_eq!(
                e.passed,
                w.passed.filter(|_| w.score.is_some()),
                "enrollment {}",
                w.id
            );
        }
        let learner = e.person.as_ref().expect("a learner");
        assert_eq!(learner.object, "users");
        assert_eq!(learner.external_id, user_id(&company, w.person).to_string());
    }
}

#[tokio::test]
async fn learners_carry_their_crm_ids_as_identity_hints() {
    let company = company();
    let (_mock, server) = serve(&company, Faults::none()).await;
    let conn = connector(&company, &server, DEFAULT_TOKEN);
    let stream = conn
        .streams()
        .into_iter()
        .find(|s| s.name == "users")
        .unwrap();
    let mut read = conn.read(&stream, SyncMode::FullRefresh, None);
    let mut people = Vec::new();
    while let Some(item) = read.next().await {
        if let ReadItem::Record(r) = item.expect("no error")
            && let Entity::Person(p) = r.entity
        {
            people.push(p);
        }
    }
    let learners: BTreeSet<usize> = company.enrollments.iter().map(|e| e.person).collect();
    assert_eq!(people.len(), learners.len());
    for i in learners {
        let c = &company.contacts[i];
        let p = people
            .iter()
            .find(|p| p.email.as_deref() == Some(c.email.as_str()))
            .expect("every learner, by email");
        let hint = |field: &str| {
            p.hints
                .iter()
                .find(|h| h.field == field)
                .map(|h| h.value.clone())
        };
        assert_eq!(hint("sis_user_id"), Some(c.id.clone()));
        assert_eq!(
            hint("integration_id"),
            Some(company.accounts[c.account].id.clone())
        );
        assert_eq!(p.account, None);
    }
}

#[tokio::test]
async fn throttles_are_retried_and_a_permission_refusal_is_an_auth_failure() {
    let company = company();
    let faults = Faults::none()
        .with_rate_limit(Schedule::burst(3, 1))
        .with_retry_after_secs(0);
    let (mock, server) = serve(&company, faults).await;
    let conn = connector(&company, &server, DEFAULT_TOKEN);
    conn.check()
        .await
        .expect("three throttles, then the account");
    assert_eq!(mock.faults().stats().rate_limited, 3);
    assert_eq!(mock.faults().stats().requests, 4);

    let (mock, server) = serve(&company, Faults::none()).await;
    let limited = connector(&company, &server, LIMITED_TOKEN);
    let err = limited.check().await.expect_err("not an admin");
    assert_eq!(err.class(), ErrorClass::Auth, "{err:?}");
    assert!(
        matches!(err, ConnectorError::Auth { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(mock.faults().stats().requests, 1, "not retried");

    let wrong = connector(&company, &server, "wrong-token");
    let err = wrong.check().await.expect_err("a bad token");
    assert!(
        matches!(err, ConnectorError::Auth { status: 401, .. }),
        "{err:?}"
    );
}
