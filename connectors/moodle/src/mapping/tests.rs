use super::*;
use std::str::FromStr;

const EMIT: Emitter<'static> = Emitter {
    system: crate::KIND,
    instance: "lms",
    stream: "enrollments",
    incremental: false,
};

fn record(m: Mapped) -> Entity {
    match m {
        Mapped::Record(r) => r.entity,
        other => panic!("a record, got {other:?}"),
    }
}

fn reject_reason(m: Mapped) -> String {
    match m {
        Mapped::Reject(r) => r.reason,
        other => panic!("a reject, got {other:?}"),
    }
}

#[test]
fn a_course_takes_its_metadata_from_custom_fields_then_the_catalog() {
    let raw = json!({
        "id": 7, "shortname": "adm-101", "idnumber": "ADM101", "fullname": "Admin basics",
        "timemodified": 1_700_000_000,
        "customfields": [
            {"shortname": "level", "type": "select", "value": "Advanced", "valueraw": "2"},
            {"shortname": "kind", "type": "text", "value": "e-learning"},
            {"shortname": "features", "type": "text", "value": "workflows, reports"},
            {"shortname": "tags", "type": "text", "value": ""},
        ],
    });
    let catalog: CourseCatalog = toml::from_str(
        r#"
        [map."adm-101"]
        kind = "certification"
        tags = ["admins"]
        "#,
    )
    .unwrap();
    let emit = Emitter {
        stream: "courses",
        ..EMIT
    };
    let Entity::Course(c) = record(map_course(&emit, &catalog, raw.clone())) else {
        panic!("a course");
    };
    assert_eq!(c.title, "Admin basics");
    assert_eq!(c.level, CourseLevel::Advanced);
    assert_eq!(c.kind, CourseKind::ELearning, "the LMS wins over the map");
    assert_eq!(c.features, vec!["workflows", "reports"]);
    assert_eq!(c.tags, vec!["admins"], "from the map, matched on shortname");

    let mut bad = raw;
    bad["customfields"][0]["value"] = json!("Expert");
    let reason = reject_reason(map_course(&emit, &catalog, bad));
    assert!(
        reason.contains("customfields.level") && reason.contains("Expert"),
        "{reason}"
    );
}

#[test]
fn a_user_maps_with_identity_hints_and_bad_fields_are_rejected() {
    let raw = json!({
        "id": 42, "fullname": "Ada Byron", "email": "Ada@Example.com", "department": "CTO",
        "institution": "Example Corp", "idnumber": "c-9", "firstaccess": 1_700_000_000,
        "customfields": [
            {"shortname": "crmaccountid", "value": "a-3", "type": "text", "name": "x"},
            {"shortname": "companydomain", "value": "Example.COM", "type": "text", "name": "y"},
        ],
    });
    let emit = Emitter {
        stream: "users",
        ..EMIT
    };
    let Entity::Person(p) = record(map_user(&emit, raw.clone())) else {
        panic!("a person");
    };
    assert_eq!(p.email.as_deref(), Some("ada@example.com"));
    assert_eq!(p.title.as_deref(), Some("CTO"));
    assert_eq!(p.account, None, "identity resolution links accounts later");
    assert_eq!(p.first_seen_at.map(|t| t.timestamp()), Some(1_700_000_000));
    let hints: Vec<(IdentityHintKind, &str, &str)> = p
        .hints
        .iter()
        .map(|h| (h.kind, h.field.as_str(), h.value.as_str()))
        .collect();
    assert_eq!(
        hints,
        vec![
            (IdentityHintKind::CrmContactId, "idnumber", "c-9"),
            (IdentityHintKind::CompanyName, "institution", "Example Corp"),
            (
                IdentityHintKind::CrmAccountId,
                "customfields.crmaccountid",
                "a-3"
            ),
            (
                IdentityHintKind::EmailDomain,
                "customfields.companydomain",
                "example.com"
            ),
        ]
    );
    let mut never = raw.clone();
    never["firstaccess"] = json!("never");
    let reason = reject_reason(map_user(&emit, never));
    assert!(
        reason.contains("firstaccess") && reason.contains("never"),
        "{reason}"
    );
    let mut unset = raw;
    unset["firstaccess"] = json!(0);
    unset["email"] = json!("");
    let reason = reject_reason(map_user(&emit, unset));
    assert!(reason.contains("email"), "{reason}");
}

fn completed_facts() -> Value {
    Facts {
        user: "42".into(),
        course: "7".into(),
        active: true,
        entry: json!({"id": 7, "progress": 100.0, "completed": true, "lastaccess": 1_700_000_500, "startdate": 1_600_000_000}),
        completion: json!({"completed": true, "aggregation": 2, "completions": [
            {"type": 4, "complete": true, "timecompleted": 1_700_000_400},
            {"type": 6, "complete": false, "timecompleted": null},
        ]}),
        grade: json!({"itemtype": "course", "graderaw": 31.5, "grademin": 0, "grademax": 50}),
        startdate: json!(1_600_000_000),
        certification: true,
        ..Facts::default()
    }
    .to_json()
}

#[test]
fn a_completed_enrollment_takes_completion_grade_and_pass() {
    let Entity::Enrollment(e) = record(map_enrollment(&EMIT, "lms", completed_facts())) else {
        panic!("an enrollment");
    };
    assert_eq!(e.status, EnrollmentStatus::Completed);
    assert_eq!(e.completed_at.map(|t| t.timestamp()), Some(1_700_000_400));
    assert_eq!(
        e.started_at.map(|t| t.timestamp()),
        Some(1_700_000_400),
        "earliest activity"
    );
    assert_eq!(e.enrolled_at.timestamp(), 1_700_000_400);
    assert_eq!(
        e.score,
        Some(Decimal::from_str("63").unwrap()),
        "31.5 of 50"
    );
    assert_eq!(
        e.passed,
        Some(false),
        "the course-grade criterion is not met"
    );
    assert!(!e.certified, "a failed certification does not certify");
    assert_eq!(
        e.person,
        Some(ExternalRef::new("moodle", "lms", "users", "42"))
    );
    assert_eq!(
        e.course,
        Some(ExternalRef::new("moodle", "lms", "courses", "7"))
    );
}

#[test]
fn unknown_completion_dropped_and_not_started_enrollments() {
    let mut unknown = completed_facts();
    unknown["completionstatus"] = json!({"unknown": "nocriteriaset"});
    unknown["coursegrade"] = Value::Null;
    let Entity::Enrollment(e) = record(map_enrollment(&EMIT, "lms", unknown)) else {
        panic!("an enrollment, not a failure");
    };
    assert_eq!(e.status, EnrollmentStatus::Completed);
    assert_eq!(e.completed_at, None, "unknown, recorded as such");
    assert_eq!(e.passed, None);
    assert_eq!(e.score, None);

    let dropped = Facts {
        user: "42".into(),
        course: "8".into(),
        active: false,
        last_course_access: json!(1_650_000_000),
        startdate: json!(1_600_000_000),
        ..Facts::default()
    }
    .to_json();
    let Entity::Enrollment(e) = record(map_enrollment(&EMIT, "lms", dropped)) else {
        panic!("an enrollment");
    };
    assert_eq!(e.status, EnrollmentStatus::Dropped);
    assert_eq!(e.started_at.map(|t| t.timestamp()), Some(1_650_000_000));

    let waiting = Facts {
        user: "42".into(),
        course: "9".into(),
        active: true,
        entry: json!({"id": 9, "progress": null, "completed": false, "lastaccess": 0}),
        startdate: json!("1600000000"),
        ..Facts::default()
    }
    .to_json();
    let Entity::Enrollment(e) = record(map_enrollment(&EMIT, "lms", waiting)) else {
        panic!("an enrollment");
    };
    assert_eq!(e.status, EnrollmentStatus::Enrolled);
    assert_eq!(e.started_at, None);
    assert_eq!(e.enrolled_at.timestamp(), 1_600_000_000, "the course start");

    let mut old = completed_facts();
    old["course"]["completed"] = json!(1);
    old["course"]["progress"] = json!("100");
    assert!(
        matches!(map_enrollment(&EMIT, "lms", old), Mapped::Record(_)),
        "0/1 booleans"
    );
    let mut bad = completed_facts();
    bad["course"]["completed"] = json!("maybe");
    let reason = reject_reason(map_enrollment(&EMIT, "lms", bad));
    assert!(
        reason.contains("completed") && reason.contains("maybe"),
        "{reason}"
    );
    assert_eq!(enrollment_id("7", "42"), "7:42");
}
