//! Skilljar's JSON to the model: the only place that knows Skilljar's field names. Pure
//! functions; a record that does not map is a [`MapError`] naming the field and value, which
//! becomes a reject carrying the raw payload.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;
use tributary_connector::MapError;
use tributary_connector::learning::{CourseCatalog, CourseFacts};
use tributary_connector::map::{Fields, full_name, id_text, parse_timestamp};
use tributary_connector::pull::{Emitter, Mapped};
use tributary_model::{
    CourseKind, Enrollment, EnrollmentStatus, Entity, ExternalRef, IdentityHint, IdentityHintKind,
    Person, normalize_email,
};

const TIMESTAMP: &str = "an ISO-8601 timestamp";

/// The stream names, which are also the objects of the references between them.
pub const COURSES: &str = "courses";
/// See [`COURSES`].
pub const PATHS: &str = "paths";
/// See [`COURSES`].
pub const USERS: &str = "users";
/// See [`COURSES`].
pub const ENROLLMENTS: &str = "enrollments";

fn id_at(raw: &Value, pointer: &str) -> Option<String> {
    raw.pointer(pointer).and_then(id_text)
}

fn time_at(raw: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    raw.pointer(pointer)?.as_str().and_then(parse_timestamp)
}

/// A course or path listing's record: which listing it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogItem {
    /// `/v1/domains/{domain}/published-courses`.
    PublishedCourse,
    /// `/v1/domains/{domain}/published-paths`.
    PublishedPath,
}

/// A published course or path → a `Course`, keyed by its published id. Metadata Skilljar does
/// not keep (kind, level, features) comes from the `courses` table of the configuration,
/// matched on the published id, the course or path id, or the slug.
pub fn map_catalog(
    item: CatalogItem,
    emit: &Emitter<'_>,
    catalog: &CourseCatalog,
    raw: Value,
) -> Mapped {
    let Some(id) = id_at(&raw, "/id") else {
        return emit.reject(None, "published course or path without an `id`", raw);
    };
    let (object, inner, kind) = match item {
        CatalogItem::PublishedCourse => ("published-course", "course", None),
        CatalogItem::PublishedPath => ("published-path", "path", Some(CourseKind::LearningPath)),
    };
    let nested = raw.get(inner).cloned().unwrap_or(Value::Null);
    let f = Fields::new(&nested, object, &id);
    let course = f
        .text("title")
        .ok_or_else(|| f.error(&format!("{inner}.title"), None, "is required"))
        .map(|title| {
            let mut keys = vec![id.clone()];
            keys.extend(f.text("id"));
            keys.extend(Fields::new(&raw, object, &id).text("slug"));
            catalog.course(CourseFacts {
                keys,
                title,
                kind,
                level: None,
                tags: tags(&raw),
                features: Vec::new(),
            })
        });
    emit.mapped(id, raw, None, course.map(|c| Some(Entity::Course(c))))
}

/// `tags` (with `include_searchable_content=true`): strings, or objects with a `name`.
fn tags(raw: &Value) -> Vec<String> {
    tributary_connector::map::array(raw, "tags")
        .iter()
        .filter_map(|t| match t {
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// A **UserOverview** from `/v1/users`, with the sign-up field values read for it added as
/// `signup_fields` (`[{signup_field: {id, label}, value}]`), → a `Person` with the identity
/// hints `identity_fields` (sign-up field label, any case → hint kind) picks out.
pub fn map_user(
    emit: &Emitter<'_>,
    identity_fields: &BTreeMap<String, IdentityHintKind>,
    raw: Value,
) -> Mapped {
    let Some(id) = id_at(&raw, "/user/id") else {
        return emit.reject(None, "user without a `user.id`", raw);
    };
    let updated = time_at(&raw, "/latest_activity").or_else(|| time_at(&raw, "/signed_up_at"));
    let person = person(&raw, &id, identity_fields);
    emit.mapped(id, raw, updated, person.map(|p| Some(Entity::Person(p))))
}

fn person(
    raw: &Value,
    id: &str,
    identity_fields: &BTreeMap<String, IdentityHintKind>,
) -> Result<Person, MapError> {
    let user = raw.get("user").cloned().unwrap_or(Value::Null);
    let u = Fields::new(&user, "user", id);
    let raw_email = u.text("email");
    let email = raw_email
        .as_deref()
        .and_then(normalize_email)
        .ok_or_else(|| {
            u.error(
                "user.email",
                raw_email.as_deref(),
                "is not an email address",
            )
        })?;
    let f = Fields::new(raw, "user", id);
    let mut hints: Vec<IdentityHint> = tributary_connector::map::array(raw, "signup_fields")
        .iter()
        .filter_map(|v| {
            let label = v.pointer("/signup_field/label")?.as_str()?.trim();
            let kind = identity_fields
                .iter()
                .find(|(l, _)| l.trim().eq_ignore_ascii_case(label))
                .map(|(_, k)| *k)?;
            let value = match v.get("value")? {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            IdentityHint::from_field(kind, label, &value)
        })
        .collect();
    hints.sort_by(|a, b| (a.kind, &a.field, &a.value).cmp(&(b.kind, &b.field, &b.value)));
    hints.dedup();
    Ok(Person {
        name: full_name(u.text("first_name"), u.text("last_name")),
        email: Some(email),
        title: None,
        role: None,
        account: None,
        first_seen_at: f.datetime("signed_up_at", parse_timestamp, TIMESTAMP)?,
        hints,
    })
}

/// The external id of a learner's enrollment in a published course or path.
pub fn enrollment_key(user: &str, published: &str) -> String {
    format!("{user}:{published}")
}

/// Whether any of `enrollments` (`all_enrollments` entries or path enrollments, with `active`
/// and `expires_at`) still gives access at `now`; `None` when there are none to judge by.
fn any_live(enrollments: &[Value], now: DateTime<Utc>) -> Option<bool> {
    if enrollments.is_empty() {
        return None;
    }
    Some(enrollments.iter().any(|e| {
        let active = e.get("active").and_then(Value::as_bool).unwrap_or(true);
        let expired = time_at(e, "/expires_at").is_some_and(|t| t <= now);
        active && !expired
    }))
}

/// One **UserPublishedCourseProgress** of `/v1/users/{user}/published-courses`, with the
/// user's id added as `user_id` → an `Enrollment` keyed `<user id>:<published course id>`.
///
/// Skilljar v1 reports no start time: `started_at` stays empty and a course counts as started
/// when its progress shows activity. Status: `completed_at` → completed; else no active,
/// unexpired enrollment in `all_enrollments` → dropped; else activity → in progress; else
/// enrolled. Score in percent = `score` / `max_score` × 100 (the score itself without a
/// maximum); passed from `success_status`; certified when a `certificate` exists.
pub fn map_course_progress(emit: &Emitter<'_>, now: DateTime<Utc>, raw: Value) -> Mapped {
    let (Some(user), Some(published)) =
        (id_at(&raw, "/user_id"), id_at(&raw, "/published_course_id"))
    else {
        return emit.reject(
            None,
            "course progress without `user_id` or `published_course_id`",
            raw,
        );
    };
    let id = enrollment_key(&user, &published);
    let updated = time_at(&raw, "/course_progress/latest_activity")
        .or_else(|| time_at(&raw, "/course_progress/completed_at"))
        .or_else(|| time_at(&raw, "/enrolled_at"));
    let enrollment = course_enrollment(emit, &raw, &id, &user, &published, now);
    emit.mapped(
        id,
        raw,
        updated,
        enrollment.map(|e| Some(Entity::Enrollment(e))),
    )
}

fn course_enrollment(
    emit: &Emitter<'_>,
    raw: &Value,
    id: &str,
    user: &str,
    published: &str,
    now: DateTime<Utc>,
) -> Result<Enrollment, MapError> {
    let f = Fields::new(raw, "course-progress", id);
    let enrolled_at = f
        .datetime("enrolled_at", parse_timestamp, TIMESTAMP)?
        .ok_or_else(|| f.error("enrolled_at", None, "is required"))?;
    let progress = raw.get("course_progress").cloned().unwrap_or(Value::Null);
    let p = Fields::new(&progress, "course-progress", id);
    let completed_at = p.datetime("completed_at", parse_timestamp, TIMESTAMP)?;
    let latest = p.datetime("latest_activity", parse_timestamp, TIMESTAMP)?;
    let lessons = p.int("completed_lesson_count")?.unwrap_or(0);
    let score = match (p.decimal("score")?, p.decimal("max_score")?) {
        (Some(s), Some(m)) if m > Decimal::ZERO => {
            Some((s * Decimal::ONE_HUNDRED / m).round_dp(2).normalize())
        }
        (Some(_), Some(m)) => {
            return Err(p.error(
                "course_progress.max_score",
                Some(&m.to_string()),
                "must be positive",
            ));
        }
        (Some(s), None) => Some(s.normalize()),
        (None, _) => None,
    };
    let passed = match p
        .text("success_status")
        .map(|s| s.to_ascii_uppercase())
        .as_deref()
    {
        Some("PASSED") => Some(true),
        Some("FAILED") => Some(false),
        _ => None,
    };
    let live = any_live(tributary_connector::map::array(raw, "all_enrollments"), now);
    let status = if completed_at.is_some() {
        EnrollmentStatus::Completed
    } else if live == Some(false) {
        EnrollmentStatus::Dropped
    } else if latest.is_some() || lessons > 0 {
        EnrollmentStatus::InProgress
    } else {
        EnrollmentStatus::Enrolled
    };
    Ok(Enrollment {
        person: Some(ExternalRef::new(emit.system, emit.instance, USERS, user)),
        course: Some(ExternalRef::new(
            emit.system,
            emit.instance,
            COURSES,
            published,
        )),
        enrolled_at,
        started_at: None,
        completed_at,
        status,
        score,
        passed,
        certified: raw
            .get("certificate")
            .is_some_and(|c| !c.is_null() && c != &Value::Bool(false)),
    })
}

/// A learner's enrollments in one published path, as the connector assembles them: `{user_id,
/// published_path_id, enrollments: [path enrollments…], path_courses: [course ids],
/// course_progress: [the learner's progress in those courses]}`.
///
/// Skilljar v1 keeps no progress on a path enrollment, so it is derived from the path's
/// courses: enrolled at the latest path enrollment; in progress once any of its courses shows
/// activity; completed, at the last completion, once every course is; dropped when no path
/// enrollment is active and unexpired (and it is not completed).
pub fn map_path_enrollment(emit: &Emitter<'_>, now: DateTime<Utc>, raw: Value) -> Mapped {
    let (Some(user), Some(published)) =
        (id_at(&raw, "/user_id"), id_at(&raw, "/published_path_id"))
    else {
        return emit.reject(
            None,
            "path enrollment without `user_id` or `published_path_id`",
            raw,
        );
    };
    let id = enrollment_key(&user, &published);
    let enrollment = path_enrollment(emit, &raw, &id, &user, &published, now);
    let updated = enrollment
        .as_ref()
        .ok()
        .map(|e| e.completed_at.unwrap_or(e.enrolled_at));
    emit.mapped(
        id,
        raw,
        updated,
        enrollment.map(|e| Some(Entity::Enrollment(e))),
    )
}

fn path_enrollment(
    emit: &Emitter<'_>,
    raw: &Value,
    id: &str,
    user: &str,
    published: &str,
    now: DateTime<Utc>,
) -> Result<Enrollment, MapError> {
    let entries = tributary_connector::map::array(raw, "enrollments");
    let mut enrolled_at = None;
    for e in entries {
        let f = Fields::new(e, "path-enrollment", id);
        let at = f
            .datetime("enrolled_at", parse_timestamp, TIMESTAMP)?
            .ok_or_else(|| f.error("enrolled_at", None, "is required"))?;
        enrolled_at = enrolled_at.max(Some(at));
    }
    let enrolled_at = enrolled_at.ok_or_else(|| {
        Fields::new(raw, "path-enrollment", id).error("enrollments", None, "is empty")
    })?;
    let parts: Vec<&str> = tributary_connector::map::array(raw, "path_courses")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let progress = tributary_connector::map::array(raw, "course_progress");
    let mut started = false;
    let mut completions = Vec::new();
    for part in &parts {
        let mine = progress
            .iter()
            .find(|p| p.pointer("/course/id").and_then(id_text).as_deref() == Some(*part));
        if let Some(p) = mine {
            let cp = p.get("course_progress").cloned().unwrap_or(Value::Null);
            let f = Fields::new(&cp, "course-progress", id);
            let done = f.datetime("completed_at", parse_timestamp, TIMESTAMP)?;
            started |= done.is_some()
                || f.datetime("latest_activity", parse_timestamp, TIMESTAMP)?
                    .is_some()
                || f.int("completed_lesson_count")?.unwrap_or(0) > 0;
            completions.extend(done);
        }
    }
    let completed_at = (!parts.is_empty() && completions.len() == parts.len())
        .then(|| completions.iter().max().copied())
        .flatten();
    let status = if completed_at.is_some() {
        EnrollmentStatus::Completed
    } else if any_live(entries, now) == Some(false) {
        EnrollmentStatus::Dropped
    } else if started {
        EnrollmentStatus::InProgress
    } else {
        EnrollmentStatus::Enrolled
    };
    Ok(Enrollment {
        person: Some(ExternalRef::new(emit.system, emit.instance, USERS, user)),
        course: Some(ExternalRef::new(
            emit.system,
            emit.instance,
            PATHS,
            published,
        )),
        enrolled_at,
        started_at: None,
        completed_at,
        status,
        score: None,
        passed: None,
        certified: false,
    })
}

#[cfg(test)]
mod tests;
