//! The simulated company's learning, through the Skilljar mock and the connector, equals the
//! world's: per learner, every enrollment with its status, completion, score, pass and
//! certification (the world's enrollments through the mock's id scheme: one per learner and
//! course or path, the latest when a learner enrolled more than once), and on SQLite and
//! PostgreSQL the store holds exactly those enrollments, with nothing quarantined.
//!
//! One exception, a limit of Skilljar v1 rather than of the connector: a path's progress is
//! derived from its courses, and v1 keeps one progress per learner and course, so when a
//! learner later retook one of the path's courses on its own, the path shows the retake's
//! state. Those paths are listed from the world and compared by key only.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tributary_connector::{Connector, DynKind, HttpClientConfig, ReadItem, SyncMode};
use tributary_mock_kit::{Faults, MockServer, VendorMock};
use tributary_mock_skilljar::{DEFAULT_API_KEY, SkilljarMock, records};
use tributary_model::{EnrollmentStatus, Entity};
use tributary_sim::{Company, SimConfig};
use tributary_store::testing::TestDatabase;
use tributary_sync::{NoProgress, SyncEngine};

/// Per learner (Skilljar user id): per published course or path id, what matters.
type Learning = BTreeMap<String, BTreeMap<String, Facts>>;

#[derive(Debug, Clone, PartialEq)]
struct Facts {
    status: EnrollmentStatus,
    enrolled_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    score: Option<Decimal>,
    passed: Option<bool>,
    certified: bool,
}

fn company() -> Arc<Company> {
    Arc::new(Company::generate(&SimConfig {
        accounts: 60,
        ..SimConfig::default()
    }))
}

/// The world's truth, from `company.enrollments` alone (ids by the mock's scheme): per learner
/// and course, the latest enrollment; and the (learner, path) keys whose path had one of its
/// courses retaken on its own later.
fn world(company: &Company) -> (Learning, BTreeSet<(String, String)>) {
    let mut pick: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (k, e) in company.enrollments.iter().enumerate() {
        let slot = pick.entry((e.person, e.course)).or_insert(k);
        let held = &company.enrollments[*slot];
        if (e.enrolled_at, e.id) > (held.enrolled_at, held.id) {
            *slot = k;
        }
    }
    let mut retaken = BTreeSet::new();
    for (&(person, course), _) in pick.iter() {
        if !records::is_path(company, course) {
            continue;
        }
        let outside = company.courses[course].path_courses.iter().any(|&part| {
            pick.get(&(person, part))
                .is_some_and(|&j| company.enrollments[j].learning_path != Some(course))
        });
        if outside {
            retaken.insert((
                records::user_id(company, person),
                records::published_path_id(company, course),
            ));
        }
    }
    let mut out = Learning::new();
    for ((person, course), k) in pick {
        let e = &company.enrollments[k];
        let key = if records::is_path(company, course) {
            records::published_path_id(company, course)
        } else {
            records::published_course_id(company, course)
        };
        out.entry(records::user_id(company, person))
            .or_default()
            .insert(
                key,
                Facts {
                    status: e.status,
                    enrolled_at: e.enrolled_at,
                    completed_at: e.completed_at,
                    score: e.score.map(|s| s.normalize()),
                    passed: e.passed,
                    certified: e.certified,
                },
            );
    }
    (out, retaken)
}

async fn serve(company: &Arc<Company>) -> (SkilljarMock, MockServer, Box<dyn Connector>) {
    let mock = SkilljarMock::new(company.clone(), Faults::none());
    let server = MockServer::start(mock.router()).await.expect("a port");
    let settings = serde_json::json!({ "endpoint": server.base_url, "api_key": DEFAULT_API_KEY });
    let connector = tributary_connector_skilljar::DECLARATION
        .build("academy", settings, HttpClientConfig::default())
        .expect("the connector builds");
    (mock, server, connector)
}

#[tokio::test]
async fn enrollments_completions_and_certifications_equal_the_worlds_per_learner() {
    let company = company();
    let (_mock, _server, connector) = serve(&company).await;
    let spec = connector
        .streams()
        .into_iter()
        .find(|s| s.name == "enrollments")
        .expect("an enrollments stream");
    let mut read = connector.read(&spec, SyncMode::FullRefresh, None);
    let mut landed = Learning::new();
    while let Some(item) = read.next().await {
        match item.expect("the read succeeds") {
            ReadItem::Record(r) => {
                let Entity::Enrollment(e) = r.entity else {
                    panic!("an enrollment")
                };
                let user = e.person.expect("a learner").external_id;
                let course = e.course.expect("a course").external_id;
                assert_eq!(
                    r.external_ref.external_id,
                    tributary_connector_skilljar::enrollment_key(&user, &course)
                );
                landed.entry(user).or_default().insert(
                    course,
                    Facts {
                        status: e.status,
                        enrolled_at: e.enrolled_at,
                        completed_at: e.completed_at,
                        score: e.score.map(|s| s.normalize()),
                        passed: e.passed,
                        certified: e.certified,
                    },
                );
            }
            ReadItem::Reject(r) => panic!("nothing is rejected: {}", r.reason),
            _ => {}
        }
    }
    let (mut truth, retaken) = world(&company);
    for (user, path) in &retaken {
        let held = landed.get_mut(user).and_then(|m| m.remove(path));
        assert!(held.is_some(), "{user}:{path} is landed");
        truth.get_mut(user).and_then(|m| m.remove(path));
    }
    eprintln!(
        "{} path enrollments compared by key only (a course retaken)",
        retaken.len()
    );
    assert!(
        truth.values().flat_map(|m| m.values()).any(|f| f.certified),
        "the world certifies someone, so the check can fail"
    );
    assert_eq!(
        landed.keys().collect::<Vec<_>>(),
        truth.keys().collect::<Vec<_>>(),
        "the same learners"
    );
    for (user, want) in &truth {
        assert_eq!(&landed[user], want, "learner {user}");
    }
    let count = |pick: fn(&Facts) -> bool| -> usize {
        landed
            .values()
            .flat_map(|m| m.values())
            .filter(|f| pick(f))
            .count()
    };
    assert!(count(|f| f.status == EnrollmentStatus::Completed) > 0);
    assert!(count(|f| f.status == EnrollmentStatus::Dropped) > 0);
}

#[tokio::test]
async fn the_store_lands_exactly_the_worlds_enrollments_on_both_backends() {
    let company = company();
    let (_mock, _server, connector) = serve(&company).await;
    let (truth, _) = world(&company);
    let want: BTreeSet<String> = truth
        .iter()
        .flat_map(|(user, courses)| {
            courses
                .keys()
                .map(move |c| tributary_connector_skilljar::enrollment_key(user, c))
        })
        .collect();
    let mut backends = vec![TestDatabase::sqlite()];
    if let Some(pg) = TestDatabase::postgres()
        .await
        .expect("postgres reachable when set")
    {
        backends.push(pg);
    } else {
        eprintln!("PostgreSQL not configured: checked on SQLite only");
    }
    for db in backends {
        let store = db.store().await.expect("a store");
        let report = SyncEngine::new(store.clone())
            .sync(connector.as_ref(), SyncMode::FullRefresh, &[], &NoProgress)
            .await
            .expect("the sync runs");
        for s in &report.streams {
            assert!(s.error.is_none(), "{}: {:?}", s.stream, s.error);
        }
        let landed = store
            .live_external_ids(connector.instance())
            .await
            .expect("ids");
        let got: BTreeSet<String> = landed["enrollments"].iter().cloned().collect();
        assert_eq!(got, want);
        assert_eq!(store.counts().await.expect("counts").quarantine, 0);
        store.close().await.expect("close");
        db.cleanup().await.expect("cleanup");
    }
}

#[tokio::test]
async fn every_learner_carries_the_worlds_crm_ids_and_company_as_identity_hints() {
    use tributary_model::{IdentityHint, IdentityHintKind};
    let company = company();
    let (_mock, _server, connector) = serve(&company).await;
    let spec = connector
        .streams()
        .into_iter()
        .find(|s| s.name == "users")
        .expect("a users stream");
    let mut read = connector.read(&spec, SyncMode::FullRefresh, None);
    let mut people = BTreeMap::new();
    while let Some(item) = read.next().await {
        if let ReadItem::Record(r) = item.expect("the read succeeds") {
            let Entity::Person(p) = r.entity else {
                panic!("a person")
            };
            people.insert(r.external_ref.external_id, p);
        }
    }
    let learners: BTreeSet<usize> = company.enrollments.iter().map(|e| e.person).collect();
    assert_eq!(
        people.len(),
        learners.len(),
        "every contact with an enrollment"
    );
    for i in learners {
        let contact = &company.contacts[i];
        let account = &company.accounts[contact.account];
        let p = &people[&records::user_id(&company, i)];
        assert_eq!(
            p.email.as_deref(),
            Some(contact.email.to_lowercase().as_str())
        );
        assert_eq!(p.account, None);
        let hint = |kind, field: &str, value: &str| {
            IdentityHint::from_field(kind, field, value).expect("a value")
        };
        let want = vec![
            hint(
                IdentityHintKind::CrmContactId,
                "CRM Contact ID",
                &contact.id,
            ),
            hint(
                IdentityHintKind::CrmAccountId,
                "CRM Account ID",
                &account.id,
            ),
            hint(IdentityHintKind::CompanyName, "Company", &account.name),
        ];
        assert_eq!(p.hints, want, "learner {}", contact.email);
    }
}
