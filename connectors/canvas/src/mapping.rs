//! Canvas's JSON to the model: the only place that knows Canvas's field names. Pure functions;
//! a record that does not map is a [`MapError`] naming the field, which becomes a reject.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;
use tributary_connector::MapError;
use tributary_connector::learning::{CourseCatalog, CourseFacts};
use tributary_connector::map::{Fields, id_text, parse_timestamp};
use tributary_connector::pull::{Emitter, Mapped};
use tributary_model::{
    Course, CourseKind, Enrollment, EnrollmentStatus, Entity, ExternalRef, IdentityHint,
    IdentityHintKind, Person, normalize_email,
};

const TIMESTAMP: &str = "an ISO 8601 timestamp";

/// A record's id, when it has one (Canvas ids are integers; strings are accepted).
pub fn record_id(raw: &Value) -> Option<String> {
    raw.get("id").and_then(id_text)
}

fn time(f: &Fields<'_>, field: &str) -> Result<Option<DateTime<Utc>>, MapError> {
    f.datetime(field, parse_timestamp, TIMESTAMP)
}

/// The keys a course's catalog entry may be found under: its id, SIS id and course code.
pub fn course_keys(raw: &Value) -> Vec<String> {
    ["id", "sis_course_id", "course_code"]
        .iter()
        .filter_map(|k| raw.get(*k).and_then(id_text))
        .filter(|k| !k.trim().is_empty())
        .collect()
}

/// A course: `name` is required; a deleted course is not loaded (the sweep removes it).
pub fn map_course(
    f: &Fields<'_>,
    raw: &Value,
    catalog: &CourseCatalog,
) -> Result<Option<Course>, MapError> {
    if f.text("workflow_state").as_deref() == Some("deleted") {
        return Ok(None);
    }
    let title = f
        .text("name")
        .ok_or_else(|| f.error("name", None, "is required"))?;
    // The one delivery fact Canvas records: a course taught on campus is instructor-led.
    let kind = match f.text("course_format").as_deref() {
        Some("on_campus") => Some(CourseKind::Ilt),
        _ => None,
    };
    Ok(Some(catalog.course(CourseFacts {
        keys: course_keys(raw),
        title,
        kind,
        ..CourseFacts::default()
    })))
}

/// A user: `name` is required (else `sortable_name`); the email from `email`
/// (`include[]=email`), else a `login_id` that is one; identity hints from the configured
/// fields (`hints`: Canvas field → what it carries).
pub fn map_user(
    f: &Fields<'_>,
    hints: &BTreeMap<String, IdentityHintKind>,
) -> Result<Person, MapError> {
    let name = f
        .text("name")
        .or_else(|| f.text("sortable_name"))
        .ok_or_else(|| f.error("name", None, "is required"))?;
    let email = f
        .text("email")
        .or_else(|| f.text("login_id").filter(|l| l.contains('@')))
        .and_then(|e| normalize_email(&e));
    let hints = hints
        .iter()
        .filter_map(|(field, kind)| IdentityHint::from_field(*kind, field, &f.text(field)?))
        .collect();
    Ok(Person {
        name,
        email,
        title: None,
        role: None,
        account: None,
        first_seen_at: time(f, "created_at")?,
        hints,
    })
}

/// What the connector knows besides the enrollment record itself.
pub struct EnrollmentContext<'a> {
    /// The system and instance of the references.
    pub emit: &'a Emitter<'a>,
    /// The course catalog (is the course a certification?).
    pub catalog: &'a CourseCatalog,
    /// The learner's module progress in the course (`bulk_user_progress`), when listed.
    pub progress: Option<&'a Value>,
}

/// Whether Canvas's `final_grade` says passed: a Pass/Fail (or complete/incomplete) grading
/// scheme; `None` for letter or point grades, which do not say.
pub fn passed_grade(grade: Option<&str>) -> Option<bool> {
    match grade?.trim().to_ascii_lowercase().as_str() {
        "pass" | "passed" | "complete" => Some(true),
        "fail" | "failed" | "incomplete" => Some(false),
        _ => None,
    }
}

/// A student enrollment. Canvas has no `completed_at` on enrollments: completion is the
/// module progress's `completed_at`, or `enrollment_state == "completed"` (the course or the
/// enrollment concluded; `updated_at` then stands in for the time). `deleted`, `inactive` and
/// `rejected` enrollments are dropped. Other roles are not learning records (`None`).
pub fn map_enrollment(
    f: &Fields<'_>,
    raw: &Value,
    id: &str,
    cx: &EnrollmentContext<'_>,
) -> Result<Option<Enrollment>, MapError> {
    match f.text("type").as_deref() {
        None | Some("StudentEnrollment") => {}
        Some(_) => return Ok(None),
    }
    let user = f
        .text("user_id")
        .ok_or_else(|| f.error("user_id", None, "is required"))?;
    let course = f
        .text("course_id")
        .ok_or_else(|| f.error("course_id", None, "is required"))?;
    let enrolled_at =
        time(f, "created_at")?.ok_or_else(|| f.error("created_at", None, "is required"))?;
    let updated_at = time(f, "updated_at")?;
    let last_activity = time(f, "last_activity_at")?;
    let activity = f.decimal("total_activity_time")?.unwrap_or_default();
    let progress_done = match cx.progress {
        Some(p) => {
            let pf = Fields::new(p, "progress", id);
            time(&pf, "completed_at")?
        }
        None => None,
    };
    let state = f
        .text("enrollment_state")
        .ok_or_else(|| f.error("enrollment_state", None, "is required"))?;
    let (status, completed_at) = match state.as_str() {
        "deleted" | "inactive" | "rejected" => (EnrollmentStatus::Dropped, None),
        "completed" => (
            EnrollmentStatus::Completed,
            progress_done.or(updated_at).or(last_activity),
        ),
        "active" | "invited" | "creation_pending" => match progress_done {
            Some(at) => (EnrollmentStatus::Completed, Some(at)),
            None if last_activity.is_some() || activity > Decimal::ZERO => {
                (EnrollmentStatus::InProgress, None)
            }
            None => (EnrollmentStatus::Enrolled, None),
        },
        other => {
            return Err(f.error(
                "enrollment_state",
                Some(other),
                "expected active, invited, creation_pending, completed, inactive, deleted or rejected",
            ));
        }
    };
    let grades = raw.get("grades").cloned().unwrap_or(Value::Null);
    let gf = Fields::new(&grades, "grades", id);
    let score = if status == EnrollmentStatus::Completed {
        gf.decimal("final_score")?.or(gf.decimal("current_score")?)
    } else {
        gf.decimal("current_score")?
    };
    let passed = passed_grade(gf.text("final_grade").as_deref())
        .filter(|_| status == EnrollmentStatus::Completed);
    let keys: Vec<String> = ["course_id", "sis_course_id"]
        .iter()
        .filter_map(|k| raw.get(*k).and_then(id_text))
        .collect();
    // Canvas has no certificates: a passed completion of a course the catalog calls a
    // certification is one.
    let kind = cx
        .catalog
        .entry(&keys)
        .and_then(|e| e.kind)
        .or(cx.catalog.default_kind);
    let certified = kind == Some(CourseKind::Certification) && passed == Some(true);
    Ok(Some(Enrollment {
        person: Some(ExternalRef::new(
            cx.emit.system,
            cx.emit.instance,
            "users",
            user,
        )),
        course: Some(ExternalRef::new(
            cx.emit.system,
            cx.emit.instance,
            "courses",
            course,
        )),
        enrolled_at,
        started_at: None,
        completed_at,
        status,
        score,
        passed,
        certified,
    }))
}

/// What one raw record of `stream` becomes.
pub fn map_record(
    stream: &'static str,
    emit: &Emitter<'_>,
    raw: Value,
    catalog: &CourseCatalog,
    hints: &BTreeMap<String, IdentityHintKind>,
    progress: Option<&Value>,
) -> Mapped {
    let Some(id) = record_id(&raw) else {
        return emit.reject(None, format!("{stream} record without an `id`"), raw);
    };
    let fields = Fields::new(&raw, stream, &id);
    let (entity, updated) = match stream {
        "courses" => (
            map_course(&fields, &raw, catalog).map(|c| c.map(Entity::Course)),
            None,
        ),
        "users" => (
            map_user(&fields, hints).map(|p| Some(Entity::Person(p))),
            None,
        ),
        _ => {
            let cx = EnrollmentContext {
                emit,
                catalog,
                progress,
            };
            (
                map_enrollment(&fields, &raw, &id, &cx).map(|e| e.map(Entity::Enrollment)),
                raw.get("updated_at")
                    .and_then(Value::as_str)
                    .and_then(parse_timestamp),
            )
        }
    };
    emit.mapped(id, raw, updated, entity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tributary_connector::learning::CourseEntry;

    fn emit() -> Emitter<'static> {
        Emitter {
            system: "canvas",
            instance: "lms",
            stream: "enrollments",
            incremental: false,
        }
    }

    fn catalog() -> CourseCatalog {
        CourseCatalog {
            map: BTreeMap::from([(
                "admin-cert".to_owned(),
                CourseEntry {
                    kind: Some(CourseKind::Certification),
                    ..CourseEntry::default()
                },
            )]),
            ..CourseCatalog::default()
        }
    }

    fn enrollment(state: &str) -> Value {
        json!({
            "id": 41, "course_id": 7, "sis_course_id": "admin-cert", "user_id": 100123,
            "type": "StudentEnrollment", "enrollment_state": state,
            "created_at": "2026-03-01T10:00:00Z", "updated_at": "2026-04-02T10:00:00Z",
            "last_activity_at": "2026-04-01T09:00:00Z", "total_activity_time": 3600,
            "grades": { "current_score": 88.5, "final_score": 88.5, "final_grade": "Pass",
                        "current_grade": "Pass" }
        })
    }

    fn map(raw: &Value, progress: Option<&Value>) -> Result<Option<Enrollment>, MapError> {
        let emit = emit();
        let catalog = catalog();
        let cx = EnrollmentContext {
            emit: &emit,
            catalog: &catalog,
            progress,
        };
        map_enrollment(&Fields::new(raw, "enrollments", "41"), raw, "41", &cx)
    }

    fn t(s: &str) -> DateTime<Utc> {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn completion_comes_from_progress_and_certifies_a_passed_certification() {
        let progress = json!({ "requirement_count": 4, "requirement_completed_count": 4,
                               "completed_at": "2026-03-20T12:00:00Z" });
        let e = map(&enrollment("active"), Some(&progress))
            .unwrap()
            .unwrap();
        assert_eq!(e.status, EnrollmentStatus::Completed);
        assert_eq!(e.completed_at, Some(t("2026-03-20T12:00:00Z")));
        assert_eq!(e.score, Some(Decimal::new(885, 1)));
        assert_eq!(e.passed, Some(true));
        assert!(e.certified);
        assert_eq!(e.enrolled_at, t("2026-03-01T10:00:00Z"));
        assert_eq!(e.person.unwrap().external_id, "100123");
        assert_eq!(e.course.unwrap().object, "courses");
    }

    #[test]
    fn a_concluded_enrollment_without_progress_completes_at_its_update() {
        let e = map(&enrollment("completed"), None).unwrap().unwrap();
        assert_eq!(e.status, EnrollmentStatus::Completed);
        assert_eq!(e.completed_at, Some(t("2026-04-02T10:00:00Z")));
    }

    #[test]
    fn states_map_to_statuses() {
        for (state, status) in [
            ("deleted", EnrollmentStatus::Dropped),
            ("inactive", EnrollmentStatus::Dropped),
            ("rejected", EnrollmentStatus::Dropped),
            ("active", EnrollmentStatus::InProgress),
            ("invited", EnrollmentStatus::InProgress),
        ] {
            let e = map(&enrollment(state), None).unwrap().unwrap();
            assert_eq!(e.status, status, "{state}");
            assert_eq!(e.completed_at, None);
            assert_eq!(e.passed, None);
            assert!(!e.certified);
        }
        let mut idle = enrollment("active");
        idle["last_activity_at"] = Value::Null;
        idle["total_activity_time"] = json!(0);
        idle["grades"] = json!({ "current_score": null, "final_score": null });
        let e = map(&idle, None).unwrap().unwrap();
        assert_eq!(e.status, EnrollmentStatus::Enrolled);
        assert_eq!(e.score, None);
    }

    #[test]
    fn bad_values_name_the_field_and_other_roles_are_not_learning() {
        let mut bad = enrollment("active");
        bad["created_at"] = json!("yesterday-ish");
        let err = map(&bad, None).unwrap_err().to_string();
        assert!(
            err.contains("created_at") && err.contains("yesterday-ish"),
            "{err}"
        );
        let mut odd = enrollment("sleeping");
        odd["grades"] = Value::Null;
        let err = map(&odd, None).unwrap_err().to_string();
        assert!(
            err.contains("enrollment_state") && err.contains("sleeping"),
            "{err}"
        );
        let mut teacher = enrollment("active");
        teacher["type"] = json!("TeacherEnrollment");
        assert_eq!(map(&teacher, None).unwrap(), None);
        let mut failed = enrollment("completed");
        failed["grades"]["final_grade"] = json!("Fail");
        let e = map(&failed, None).unwrap().unwrap();
        assert_eq!((e.passed, e.certified), (Some(false), false));
    }

    #[test]
    fn users_carry_identity_hints_from_the_configured_fields() {
        let raw = json!({ "id": 100123, "name": "Ada Lovelace", "sortable_name": "Lovelace, Ada",
                          "sis_user_id": "51", "integration_id": "7", "login_id": "Ada@Acme.io",
                          "created_at": "2025-01-02T03:04:05Z" });
        let hints = BTreeMap::from([
            ("sis_user_id".to_owned(), IdentityHintKind::CrmContactId),
            ("integration_id".to_owned(), IdentityHintKind::CrmAccountId),
        ]);
        let p = map_user(&Fields::new(&raw, "users", "100123"), &hints).unwrap();
        assert_eq!(p.name, "Ada Lovelace");
        assert_eq!(p.email.as_deref(), Some("ada@acme.io"));
        assert_eq!(p.account, None);
        assert_eq!(p.first_seen_at, Some(t("2025-01-02T03:04:05Z")));
        assert_eq!(
            p.hints,
            vec![
                IdentityHint::from_field(IdentityHintKind::CrmAccountId, "integration_id", "7")
                    .unwrap(),
                IdentityHint::from_field(IdentityHintKind::CrmContactId, "sis_user_id", "51")
                    .unwrap(),
            ]
        );
        let nameless = json!({ "id": 5, "name": null });
        let err = map_user(&Fields::new(&nameless, "users", "5"), &hints).unwrap_err();
        assert!(err.to_string().contains("name"), "{err}");
    }

    #[test]
    fn courses_take_the_catalog_and_canvas_format() {
        let raw = json!({ "id": 7, "name": "Admin certification", "course_code": "admin-cert",
                          "sis_course_id": "admin-cert", "workflow_state": "available",
                          "course_format": "online" });
        let c = map_course(&Fields::new(&raw, "courses", "7"), &raw, &catalog())
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.title.as_str(), c.kind),
            ("Admin certification", CourseKind::Certification)
        );
        let mut ilt = raw.clone();
        ilt["course_format"] = json!("on_campus");
        ilt["sis_course_id"] = json!("workshop");
        ilt["course_code"] = json!("workshop");
        let c = map_course(&Fields::new(&ilt, "courses", "7"), &ilt, &catalog())
            .unwrap()
            .unwrap();
        assert_eq!(c.kind, CourseKind::Ilt);
        let mut gone = raw.clone();
        gone["workflow_state"] = json!("deleted");
        assert_eq!(
            map_course(&Fields::new(&gone, "courses", "7"), &gone, &catalog()).unwrap(),
            None
        );
    }
}
