use super::*;
use chrono::TimeZone;
use serde_json::json;
use tributary_connector::learning::CourseEntry;
use tributary_model::CourseLevel;

const fn emit(stream: &'static str) -> Emitter<'static> {
    Emitter {
        system: crate::KIND,
        instance: "academy",
        stream,
        incremental: false,
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

fn record(m: Mapped) -> tributary_model::SourceRecord {
    match m {
        Mapped::Record(r) => *r,
        other => panic!("a record, got {other:?}"),
    }
}

fn enrollment(m: Mapped) -> Enrollment {
    match record(m).entity {
        Entity::Enrollment(e) => e,
        other => panic!("an enrollment, got {other:?}"),
    }
}

fn progress(course_progress: Value, all_enrollments: Value, certificate: Value) -> Value {
    json!({
        "user_id": "u7", "published_course_id": "pc1", "domain_name": "academy.example.com",
        "enrolled_at": "2024-02-01T10:00:00.000Z", "enrollment_id": "xyz",
        "course": {"id": "c1", "title": "Intro", "lesson_count": 12, "required_lesson_count": 10},
        "course_progress": course_progress,
        "certificate": certificate,
        "all_enrollments": all_enrollments,
    })
}

#[test]
fn a_completed_graded_course_maps_score_in_percent_pass_and_certificate() {
    let raw = progress(
        json!({"course_progress_id": "p1", "completed_lesson_count": 12,
               "completed_at": "2024-02-10T16:22:05.000Z", "latest_activity": "2024-02-10T16:22:05.000Z",
               "score": 18, "max_score": 20, "success_status": "PASSED"}),
        json!([{"course_progress_id": "p1", "active": true, "expires_at": null, "enrollment_id": "xyz"}]),
        json!({"id": "ct1"}),
    );
    let r = record(map_course_progress(&emit(ENROLLMENTS), now(), raw));
    assert_eq!(r.external_ref.external_id, "u7:pc1");
    let Entity::Enrollment(e) = r.entity else {
        panic!("an enrollment")
    };
    assert_eq!(e.status, EnrollmentStatus::Completed);
    assert_eq!(e.score, Some(Decimal::from(90)));
    assert_eq!(e.passed, Some(true));
    assert!(e.certified);
    assert_eq!(
        e.completed_at,
        Some(Utc.with_ymd_and_hms(2024, 2, 10, 16, 22, 5).unwrap())
    );
    assert_eq!(e.started_at, None, "Skilljar v1 has no start time");
    assert_eq!(
        e.person,
        Some(ExternalRef::new("skilljar", "academy", "users", "u7"))
    );
    assert_eq!(
        e.course,
        Some(ExternalRef::new("skilljar", "academy", "courses", "pc1"))
    );
}

#[test]
fn statuses_follow_activity_and_inactive_or_expired_enrollments_are_dropped() {
    let fresh = json!({"completed_lesson_count": 0, "completed_at": null, "latest_activity": null,
                       "score": null, "max_score": null, "success_status": null});
    let active = json!([{"active": true, "expires_at": null}]);
    let check = |cp: &Value, all: &Value| {
        enrollment(map_course_progress(
            &emit(ENROLLMENTS),
            now(),
            progress(cp.clone(), all.clone(), Value::Null),
        ))
        .status
    };
    assert_eq!(check(&fresh, &active), EnrollmentStatus::Enrolled);
    let mut started = fresh.clone();
    started["latest_activity"] = json!("2024-02-03T00:00:00Z");
    assert_eq!(check(&started, &active), EnrollmentStatus::InProgress);
    assert_eq!(
        check(&started, &json!([{"active": false}])),
        EnrollmentStatus::Dropped
    );
    assert_eq!(
        check(
            &started,
            &json!([{"active": true, "expires_at": "2025-01-01T00:00:00Z"}])
        ),
        EnrollmentStatus::Dropped,
        "expired before now"
    );
    assert_eq!(
        check(
            &started,
            &json!([{"active": false}, {"active": true, "expires_at": "2027-01-01T00:00:00Z"}])
        ),
        EnrollmentStatus::InProgress,
        "a live re-enrollment keeps access"
    );
    // No progress object at all: enrolled.
    assert_eq!(check(&Value::Null, &active), EnrollmentStatus::Enrolled);
    let failed = json!({"completed_at": "2024-02-10T00:00:00Z", "score": 4, "max_score": 10,
                        "success_status": "FAILED"});
    let e = enrollment(map_course_progress(
        &emit(ENROLLMENTS),
        now(),
        progress(failed, active, Value::Null),
    ));
    assert_eq!(
        (e.status, e.passed, e.score),
        (
            EnrollmentStatus::Completed,
            Some(false),
            Some(Decimal::from(40))
        )
    );
    assert!(!e.certified);
}

#[test]
fn unreadable_progress_is_rejected_naming_field_and_value() {
    let mut raw = progress(json!({}), json!([]), Value::Null);
    raw["enrolled_at"] = json!("not a date");
    let Mapped::Reject(r) = map_course_progress(&emit(ENROLLMENTS), now(), raw.clone()) else {
        panic!("a reject")
    };
    assert!(
        r.reason.contains("enrolled_at") && r.reason.contains("not a date"),
        "{}",
        r.reason
    );
    assert_eq!(r.raw, raw);
    let zero_max = progress(json!({"score": 3, "max_score": 0}), json!([]), Value::Null);
    let Mapped::Reject(r) = map_course_progress(&emit(ENROLLMENTS), now(), zero_max) else {
        panic!("a reject")
    };
    assert!(r.reason.contains("max_score"), "{}", r.reason);
    let Mapped::Reject(_) = map_course_progress(&emit(ENROLLMENTS), now(), json!({})) else {
        panic!("a reject without ids")
    };
}

#[test]
fn a_path_enrollment_is_derived_from_its_courses() {
    let part = |course: &str, done: Option<&str>, activity: Option<&str>| {
        json!({"published_course_id": format!("p{course}"), "course": {"id": course},
               "course_progress": {"completed_at": done, "latest_activity": activity}})
    };
    let composite = |progress: Vec<Value>, enrollments: Value| {
        json!({"user_id": "u7", "published_path_id": "pp9", "enrollments": enrollments,
               "path_courses": ["c1", "c2"], "course_progress": progress})
    };
    let enrolled = json!([
        {"id": "e1", "enrolled_at": "2024-01-01T00:00:00Z", "active": false},
        {"id": "e2", "enrolled_at": "2024-03-01T00:00:00Z", "active": true, "expires_at": null},
    ]);
    let map = |raw: Value| enrollment(map_path_enrollment(&emit(ENROLLMENTS), now(), raw));

    let e = map(composite(vec![], enrolled.clone()));
    assert_eq!(e.status, EnrollmentStatus::Enrolled);
    assert_eq!(
        e.enrolled_at,
        Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap(),
        "the latest enrollment"
    );
    let e = map(composite(
        vec![part("c1", Some("2024-03-05T00:00:00Z"), None)],
        enrolled.clone(),
    ));
    assert_eq!(
        (e.status, e.completed_at),
        (EnrollmentStatus::InProgress, None)
    );
    let e = map(composite(
        vec![
            part("c1", Some("2024-03-05T00:00:00Z"), None),
            part(
                "c2",
                Some("2024-03-09T00:00:00Z"),
                Some("2024-03-09T00:00:00Z"),
            ),
        ],
        enrolled,
    ));
    assert_eq!(e.status, EnrollmentStatus::Completed);
    assert_eq!(
        e.completed_at,
        Some(Utc.with_ymd_and_hms(2024, 3, 9, 0, 0, 0).unwrap())
    );
    assert_eq!(
        e.course,
        Some(ExternalRef::new("skilljar", "academy", "paths", "pp9"))
    );
    let e = map(composite(
        vec![],
        json!([{"enrolled_at": "2024-01-01T00:00:00Z", "active": false}]),
    ));
    assert_eq!(e.status, EnrollmentStatus::Dropped);
}

#[test]
fn users_map_to_people_with_identity_hints_from_signup_fields() {
    let raw = json!({
        "user": {"id": "u7", "email": " Ada@Example.COM ", "first_name": "Ada", "last_name": "Byron"},
        "registration_count": 3, "completion_count": 1,
        "signed_up_at": "2024-01-01T00:00:00.000Z", "latest_activity": "2024-05-01T00:00:00.000Z",
        "inactive_at": null,
        "signup_fields": [
            {"signup_field": {"id": "f1", "label": "Company"}, "value": "Acme Corp"},
            {"signup_field": {"id": "f2", "label": "crm contact id"}, "value": "1042"},
            {"signup_field": {"id": "f3", "label": "Favourite colour"}, "value": "blue"},
            {"signup_field": {"id": "f4", "label": "CRM Account ID"}, "value": "  "},
        ],
    });
    let r = record(map_user(
        &emit(USERS),
        &crate::default_identity_fields(),
        raw,
    ));
    assert_eq!(r.external_ref.external_id, "u7");
    assert_eq!(
        r.source_updated_at,
        Some(Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap())
    );
    let Entity::Person(p) = r.entity else {
        panic!("a person")
    };
    assert_eq!(p.name, "Ada Byron");
    assert_eq!(p.email.as_deref(), Some("ada@example.com"));
    assert_eq!(p.account, None, "identity resolution links accounts later");
    assert_eq!(
        p.hints,
        vec![
            IdentityHint::from_field(IdentityHintKind::CrmContactId, "crm contact id", "1042")
                .unwrap(),
            IdentityHint::from_field(IdentityHintKind::CompanyName, "Company", "Acme Corp")
                .unwrap(),
        ]
    );
    let bad = json!({"user": {"id": "u8", "email": null}});
    let Mapped::Reject(r) = map_user(&emit(USERS), &BTreeMap::new(), bad) else {
        panic!("a reject")
    };
    assert!(r.reason.contains("user.email"), "{}", r.reason);
}

#[test]
fn courses_and_paths_take_metadata_from_the_catalog_table() {
    let catalog = CourseCatalog {
        default_level: Some(CourseLevel::Foundational),
        map: [(
            "admin-certification".to_owned(),
            CourseEntry {
                kind: Some(CourseKind::Certification),
                level: Some(CourseLevel::Advanced),
                tags: vec!["admins".to_owned()],
                features: vec!["workflows".to_owned()],
            },
        )]
        .into(),
        ..CourseCatalog::default()
    };
    let raw = json!({"id": "pc1", "course": {"id": "c1", "title": "Admin certification"},
                     "slug": "admin-certification", "tags": ["exam", {"name": "admins"}]});
    let r = record(map_catalog(
        CatalogItem::PublishedCourse,
        &emit(COURSES),
        &catalog,
        raw,
    ));
    let Entity::Course(c) = r.entity else {
        panic!("a course")
    };
    assert_eq!(r.external_ref.external_id, "pc1");
    assert_eq!(
        (c.kind, c.level),
        (CourseKind::Certification, CourseLevel::Advanced)
    );
    assert_eq!(c.tags, ["exam", "admins"]);
    assert_eq!(c.features, ["workflows"]);
    let path =
        json!({"id": "pp2", "path": {"id": "p2", "title": "Admin path"}, "slug": "admin-path"});
    let Entity::Course(p) = record(map_catalog(
        CatalogItem::PublishedPath,
        &emit(COURSES),
        &catalog,
        path,
    ))
    .entity
    else {
        panic!("a course")
    };
    assert_eq!(p.kind, CourseKind::LearningPath);
    let untitled = json!({"id": "pc3", "course": {"id": "c3", "title": null}});
    let Mapped::Reject(r) = map_catalog(
        CatalogItem::PublishedCourse,
        &emit(COURSES),
        &catalog,
        untitled,
    ) else {
        panic!("a reject")
    };
    assert!(r.reason.contains("course.title"), "{}", r.reason);
}
