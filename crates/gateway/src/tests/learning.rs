//! The learning domain over HTTP: the course catalog with filters and keyset paging,
//! enrollments on people and accounts, and learning progress per account and per role — with
//! learners (LMS people) placed at an account through the email of its CRM contacts, and every
//! relation of a page loaded in one batch.

use super::*;
use tributary_model::{
    Course, CourseKind, CourseLevel, Enrollment, EnrollmentStatus, LearningEvent,
};

fn lms(object: &str, id: &str) -> ExternalRef {
    ExternalRef::new("skilljar", "academy", object, id)
}

fn learner(id: &str, email: &str) -> SourceRecord {
    SourceRecord {
        external_ref: lms("users", id),
        source_updated_at: None,
        raw: json!({"id": id}),
        entity: Entity::Person(Person {
            name: format!("Learner {id}"),
            email: Some(email.into()),
            title: None,
            role: None,
            account: None,
            first_seen_at: None,
            hints: tributary_model::IdentityHint::from_field(
                tributary_model::IdentityHintKind::CompanyName,
                "company",
                &format!(" Company of {id} "),
            )
            .into_iter()
            .collect(),
        }),
    }
}

fn course(
    id: &str,
    title: &str,
    kind: CourseKind,
    level: CourseLevel,
    tags: &[&str],
) -> SourceRecord {
    SourceRecord {
        external_ref: lms("courses", id),
        source_updated_at: None,
        raw: json!({"id": id}),
        entity: Entity::Course(Course {
            title: title.into(),
            kind,
            level,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            features: vec!["workflows".into()],
        }),
    }
}

fn enrollment(
    person: &str,
    course: &str,
    status: EnrollmentStatus,
    day: u32,
    certified: bool,
) -> SourceRecord {
    let at = |d: u32| Utc.with_ymd_and_hms(2026, 2, d, 9, 0, 0).unwrap();
    SourceRecord {
        external_ref: lms("enrollments", &format!("{person}-{course}")),
        source_updated_at: None,
        raw: json!({}),
        entity: Entity::Enrollment(Enrollment {
            person: Some(lms("users", person)),
            course: Some(lms("courses", course)),
            enrolled_at: at(day),
            started_at: (status != EnrollmentStatus::Enrolled).then(|| at(day + 1)),
            completed_at: (status == EnrollmentStatus::Completed).then(|| at(day + 2)),
            status,
            score: (status == EnrollmentStatus::Completed).then(|| Decimal::new(925, 1)),
            passed: (status == EnrollmentStatus::Completed).then_some(true),
            certified,
        }),
    }
}

fn statement(id: &str, person: &str, verb: &str, voided: bool) -> SourceRecord {
    let at = Utc.with_ymd_and_hms(2026, 2, 6, 9, 0, 0).unwrap();
    SourceRecord {
        external_ref: lms("statements", id),
        source_updated_at: Some(at),
        raw: json!({"id": id, "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}")}}),
        entity: Entity::LearningEvent(LearningEvent {
            person: Some(lms("users", person)),
            course: Some(lms("courses", "c1")),
            verb: format!("http://adlnet.gov/expapi/verbs/{verb}"),
            occurred_at: at,
            stored_at: at,
            score: None,
            success: None,
            completion: Some(verb == "completed"),
            registration: None,
            voided,
        }),
    }
}

/// Acme's contacts are Zoe (end user) and Ada (admin), `<name>@acme.example`. The LMS knows
/// Zoe and Ada by the same emails, and a stranger nobody in the CRM matches.
async fn load_learning(store: &Store) {
    use EnrollmentStatus::*;
    let records = vec![
        learner("u1", "zoe@acme.example"),
        learner("u2", "ada@acme.example"),
        learner("u3", "stranger@elsewhere.example"),
        course(
            "c1",
            "Admin certification",
            CourseKind::Certification,
            CourseLevel::Advanced,
            &["admins"],
        ),
        course(
            "c2",
            "Getting started",
            CourseKind::ELearning,
            CourseLevel::Foundational,
            &[],
        ),
        course(
            "c3",
            "Live onboarding",
            CourseKind::Webinar,
            CourseLevel::Foundational,
            &["live"],
        ),
        enrollment("u1", "c2", Completed, 1, false),
        enrollment("u1", "c3", Enrolled, 5, false),
        enrollment("u2", "c1", Completed, 3, true),
        enrollment("u2", "c2", Dropped, 2, false),
        enrollment("u3", "c2", InProgress, 4, false),
        statement("s1", "u2", "completed", false),
        statement("s2", "u2", "launched", true),
    ];
    store
        .commit_batch(CommitBatch {
            connector: "academy".into(),
            stream: "all".into(),
            records,
            ..Default::default()
        })
        .await
        .expect("learning fixtures commit");
}

#[tokio::test]
async fn courses_filter_and_page_by_title() {
    with_fixtures(|store| async move {
        load_learning(&store).await;
        let app = router(&store);
        let d = data(
            &app,
            r#"{ all: courses(first: 2) { totalCount pageInfo { hasNextPage endCursor }
                   nodes { title kind level tags features } }
                 advanced: courses(filter: {level: ADVANCED}) { totalCount nodes { title } }
                 tagged: courses(filter: {tag: "live"}) { nodes { title kind } }
                 byTitle: courses(filter: {titleContains: "START"}) { nodes { title } }
                 feature: courses(filter: {feature: "nope"}) { totalCount } }"#,
            json!({}),
        )
        .await;
        assert_eq!(d["all"]["totalCount"], 3);
        assert_eq!(d["all"]["pageInfo"]["hasNextPage"], true);
        assert_eq!(
            d["all"]["nodes"][0],
            json!({"title": "Admin certification", "kind": "CERTIFICATION", "level": "ADVANCED",
                   "tags": ["admins"], "features": ["workflows"]})
        );
        assert_eq!(d["all"]["nodes"][1]["title"], "Getting started");
        assert_eq!(d["advanced"]["totalCount"], 1);
        assert_eq!(d["tagged"]["nodes"], json!([{"title": "Live onboarding", "kind": "WEBINAR"}]));
        assert_eq!(d["byTitle"]["nodes"], json!([{"title": "Getting started"}]));
        assert_eq!(d["feature"]["totalCount"], 0);

        let after = d["all"]["pageInfo"]["endCursor"].as_str().unwrap();
        let next = data(
            &app,
            "query($a: String) { courses(first: 2, after: $a) { pageInfo { hasNextPage } nodes { title } } }",
            json!({"a": after}),
        )
        .await;
        assert_eq!(next["courses"]["nodes"], json!([{"title": "Live onboarding"}]));
        assert_eq!(next["courses"]["pageInfo"]["hasNextPage"], false);

        // An account cursor is not a course cursor.
        let account_cursor = crate::cursor::encode_account("Acme", uuid::Uuid::nil());
        let reply = query_reply(
            &app,
            "query($a: String) { courses(after: $a) { totalCount } }",
            json!({"a": account_cursor}),
        )
        .await;
        assert!(!reply.codes().is_empty(), "{}", reply.text());
    })
    .await;
}

#[tokio::test]
async fn accounts_see_their_learners_progress_by_role_in_one_batch() {
    with_fixtures(|store| async move {
        load_learning(&store).await;
        let (app, stats) = router_with_stats(&store);
        let d = data(
            &app,
            r#"{ accounts(first: 27) { nodes {
                   name
                   learning { enrolled started completed certified learners certifiedLearners lastActivityAt }
                   learningByRole { role progress { enrolled completed certified learners } }
                   enrollments { status score passed certified course { title }
                                 person { email identityHints { kind field value } } }
                   completed: enrollments(status: COMPLETED) { course { title } }
                   people { name enrollments { status course { title } } }
                 } } }"#,
            json!({}),
        )
        .await;
        let nodes = d["accounts"]["nodes"].as_array().unwrap();
        let acme = nodes.iter().find(|n| n["name"] == "Acme").unwrap();
        assert_eq!(
            acme["learning"],
            json!({"enrolled": 4, "started": 3, "completed": 2, "certified": 1, "learners": 2,
                   "certifiedLearners": 1, "lastActivityAt": "2026-02-05T09:00:00Z"})
        );
        assert_eq!(
            acme["learningByRole"],
            json!([
                {"role": "ADMIN", "progress": {"enrolled": 2, "completed": 1, "certified": 1, "learners": 1}},
                {"role": "END_USER", "progress": {"enrolled": 2, "completed": 1, "certified": 0, "learners": 1}},
            ])
        );
        let titles: Vec<&str> = acme["enrollments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["course"]["title"].as_str().unwrap())
            .collect();
        assert_eq!(
            titles,
            ["Getting started", "Getting started", "Admin certification", "Live onboarding"],
            "by enrollment time"
        );
        assert_eq!(
            acme["enrollments"][2],
            json!({"status": "COMPLETED", "score": "92.5", "passed": true, "certified": true,
                   "course": {"title": "Admin certification"},
                   "person": {"email": "ada@acme.example", "identityHints": [
                       {"kind": "COMPANY_NAME", "field": "company", "value": "Company of u2"}]}})
        );
        assert_eq!(acme["completed"].as_array().unwrap().len(), 2);
        let ada = acme["people"].as_array().unwrap().iter().find(|p| p["name"] == "Ada").unwrap();
        assert_eq!(
            ada["enrollments"],
            json!([{"status": "DROPPED", "course": {"title": "Getting started"}},
                   {"status": "COMPLETED", "course": {"title": "Admin certification"}}])
        );
        // Nobody else learns; the stranger belongs to no account.
        for n in nodes.iter().filter(|n| n["name"] != "Acme") {
            assert_eq!(n["learning"]["enrolled"], 0, "{}", n["name"]);
            assert_eq!(n["learningByRole"], json!([]));
        }
        // One batch per relation for the whole page, whatever the number of accounts.
        assert_eq!(stats.get(tributary_store::read::learning::LEARNERS_OF_ACCOUNTS).0, 1);
        assert_eq!(stats.get("enrollments of people").0, 1);
        assert_eq!(stats.get("courses by id").0, 1);
        assert_eq!(stats.get("people by id").0, 1);
    })
    .await;
}

/// A learner's statements are there for audit, voided ones flagged, each with the statement
/// as stored.
#[tokio::test]
async fn learners_statements_are_kept_for_audit() {
    with_fixtures(|store| async move {
        load_learning(&store).await;
        let app = router(&store);
        let d = data(
            &app,
            r#"{ accounts(filter: {nameContains: "Acme"}) { nodes { enrollments {
                   person { learningEvents { verb voided completion statement course { title } } }
                 } } } }"#,
            json!({}),
        )
        .await;
        let enrollments = d["accounts"]["nodes"][0]["enrollments"].as_array().unwrap();
        let ada = enrollments
            .iter()
            .map(|e| &e["person"]["learningEvents"])
            .find(|events| events.as_array().is_some_and(|a| !a.is_empty()))
            .expect("Ada's statements");
        let events = ada.as_array().unwrap();
        assert_eq!(events.len(), 2, "{ada}");
        let completed = events
            .iter()
            .find(|e| e["verb"] == "http://adlnet.gov/expapi/verbs/completed")
            .unwrap();
        assert_eq!(completed["voided"], false);
        assert_eq!(completed["completion"], true);
        assert_eq!(completed["course"]["title"], "Admin certification");
        let raw: Value = serde_json::from_str(completed["statement"].as_str().unwrap()).unwrap();
        assert_eq!(raw["id"], "s1");
        assert!(events.iter().any(|e| e["voided"] == true), "{ada}");
    })
    .await;
}
