//! Moodle's JSON to the model: the only place that knows Moodle's field names. Pure
//! functions; a record that does not map is a [`MapError`] naming the field, which becomes a
//! reject.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tributary_connector::MapError;
use tributary_connector::learning::{CourseCatalog, CourseFacts};
use tributary_connector::map::{Fields, full_name, id_text};
use tributary_connector::pull::{Emitter, Mapped};
use tributary_model::{
    Course, CourseKind, CourseLevel, Enrollment, EnrollmentStatus, Entity, ExternalRef,
    IdentityHint, IdentityHintKind, Person, normalize_email,
};

/// The front page, which `core_course_get_courses` lists with the courses.
pub const SITE_COURSE_ID: i64 = 1;

/// Moodle's completion criterion type "course grade".
const CRITERIA_GRADE: i64 = 6;

/// A Moodle timestamp: Unix seconds, 0 (or absent) meaning unset.
pub fn unix(f: &Fields<'_>, field: &str) -> Result<Option<DateTime<Utc>>, MapError> {
    match f.int(field) {
        Ok(None) | Ok(Some(0)) => Ok(None),
        Ok(Some(s)) => DateTime::from_timestamp(s, 0)
            .map(Some)
            .ok_or_else(|| f.error(field, Some(&s.to_string()), "is not a Unix timestamp")),
        Err(_) => Err(f.error(field, f.text(field).as_deref(), "expected Unix seconds")),
    }
}

/// A Moodle boolean: `true`/`false` in newer functions, `1`/`0` (or their strings) in older.
pub fn boolean(f: &Fields<'_>, field: &str) -> Result<Option<bool>, MapError> {
    match f.text(field).as_deref() {
        None => Ok(None),
        Some("1") => Ok(Some(true)),
        Some("0") => Ok(Some(false)),
        Some(_) => f.bool(field),
    }
}

/// The custom field `shortname` of a course or user (`customfields[]`), when set.
pub fn custom_field(raw: &Value, shortname: &str) -> Option<String> {
    raw.get("customfields")?
        .as_array()?
        .iter()
        .find(|f| f.get("shortname").and_then(Value::as_str) == Some(shortname))
        .and_then(|f| f.get("value"))
        .and_then(|v| match v {
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|v| !v.is_empty())
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// A custom field's select label or token (`Foundational`, `e-learning`) as the model's
/// snake_case value.
fn enum_value<T: serde::de::DeserializeOwned>(
    f: &Fields<'_>,
    raw: &Value,
    shortname: &str,
) -> Result<Option<T>, MapError> {
    let Some(text) = custom_field(raw, shortname) else {
        return Ok(None);
    };
    let token: String = text
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect();
    serde_json::from_value(Value::String(token))
        .map(Some)
        .map_err(|_| {
            f.error(
                &format!("customfields.{shortname}"),
                Some(&text),
                "is not a known value",
            )
        })
}

/// What the course says about itself: its keys (id, shortname, idnumber), title and the
/// `level`, `kind`, `features` and `tags` custom fields.
pub fn course_facts(raw: &Value, id: &str) -> Result<CourseFacts, MapError> {
    let f = Fields::new(raw, "courses", id);
    let title = f
        .text("fullname")
        .or_else(|| f.text("displayname"))
        .ok_or_else(|| f.error("fullname", None, "is required"))?;
    let mut keys = vec![id.to_owned()];
    keys.extend(f.text("shortname"));
    keys.extend(f.text("idnumber"));
    Ok(CourseFacts {
        keys,
        title,
        kind: enum_value::<CourseKind>(&f, raw, "kind")?,
        level: enum_value::<CourseLevel>(&f, raw, "level")?,
        tags: list(custom_field(raw, "tags")),
        features: list(custom_field(raw, "features")),
    })
}

/// The model course of `raw`, completed from the catalog.
pub fn course(raw: &Value, id: &str, catalog: &CourseCatalog) -> Result<Course, MapError> {
    course_facts(raw, id).map(|facts| catalog.course(facts))
}

/// A record's id, when it has one.
pub fn record_id(raw: &Value) -> Option<String> {
    raw.get("id").and_then(id_text)
}

/// A course of `core_course_get_courses` (the front page is skipped, never stored).
pub fn map_course(emit: &Emitter<'_>, catalog: &CourseCatalog, raw: Value) -> Mapped {
    let Some(id) = record_id(&raw) else {
        return emit.reject(None, "course without an `id`", raw);
    };
    let f = Fields::new(&raw, "courses", &id);
    let updated = unix(&f, "timemodified").ok().flatten();
    let entity = course(&raw, &id, catalog).map(|c| Some(Entity::Course(c)));
    emit.mapped(id, raw, updated, entity)
}

/// Identity hints of a Moodle user: `idnumber` (the CRM contact id), `institution` (the
/// company) and the profile fields named in [`HINT_FIELDS`].
pub fn hints(raw: &Value) -> Vec<IdentityHint> {
    let f = Fields::new(raw, "users", "?");
    let mut out: Vec<IdentityHint> = Vec::new();
    let mut add = |kind, field: &str, value: Option<String>| {
        if let Some(h) = value.and_then(|v| IdentityHint::from_field(kind, field, &v)) {
            out.push(h);
        }
    };
    add(
        IdentityHintKind::CrmContactId,
        "idnumber",
        f.text("idnumber"),
    );
    add(
        IdentityHintKind::CompanyName,
        "institution",
        f.text("institution"),
    );
    for (shortname, kind) in HINT_FIELDS {
        add(
            kind,
            &format!("customfields.{shortname}"),
            custom_field(raw, shortname),
        );
    }
    out
}

/// User profile fields (by shortname) read as identity hints.
pub const HINT_FIELDS: [(&str, IdentityHintKind); 5] = [
    ("crmcontactid", IdentityHintKind::CrmContactId),
    ("crmaccountid", IdentityHintKind::CrmAccountId),
    ("company", IdentityHintKind::CompanyName),
    ("companyname", IdentityHintKind::CompanyName),
    ("companydomain", IdentityHintKind::EmailDomain),
];

/// A user of `core_enrol_get_enrolled_users`: a valid `email` is required.
pub fn map_user(emit: &Emitter<'_>, raw: Value) -> Mapped {
    let Some(id) = record_id(&raw) else {
        return emit.reject(None, "user without an `id`", raw);
    };
    let person = person(&raw, &id);
    emit.mapped(id, raw, None, person.map(|p| Some(Entity::Person(p))))
}

/// The person of a Moodle user.
pub fn person(raw: &Value, id: &str) -> Result<Person, MapError> {
    let f = Fields::new(raw, "users", id);
    let raw_email = f.text("email");
    let email = raw_email
        .as_deref()
        .and_then(normalize_email)
        .ok_or_else(|| f.error("email", raw_email.as_deref(), "is not an email address"))?;
    let name = match f.text("fullname") {
        Some(n) => n,
        None => full_name(f.text("firstname"), f.text("lastname")),
    };
    Ok(Person {
        name,
        email: Some(email),
        title: f.text("department"),
        role: None,
        account: None,
        first_seen_at: unix(&f, "firstaccess")?,
        hints: hints(raw),
    })
}

/// The external id of the enrolment of `user` in `course`.
pub fn enrollment_id(course: &str, user: &str) -> String {
    format!("{course}:{user}")
}

/// What the connector learnt of one enrolment, the raw payload of an enrollment: the ids,
/// whether the enrolment is active, the learner's entry of `core_enrol_get_users_courses`
/// (active enrolments), the `completionstatus` of
/// `core_completion_get_course_completion_status` (fetched for completed enrolments;
/// `{"unknown": errorcode}` when Moodle would not say), the course total of
/// `gradereport_user_get_grade_items`, and what the course list says of the course.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Moodle user id.
    pub user: String,
    /// Moodle course id.
    pub course: String,
    /// Whether the enrolment is active (not suspended or ended).
    pub active: bool,
    /// `lastcourseaccess` from the course's listing (suspended enrolments).
    pub last_course_access: Value,
    /// The course entry of `core_enrol_get_users_courses`.
    pub entry: Value,
    /// `completionstatus`, `{"unknown": code}` or null.
    pub completion: Value,
    /// The course-total grade item or null.
    pub grade: Value,
    /// The course's `startdate`.
    pub startdate: Value,
    /// Whether the course is a certification.
    pub certification: bool,
}

impl Facts {
    /// The raw payload.
    pub fn to_json(&self) -> Value {
        json!({
            "userid": self.user, "courseid": self.course, "active": self.active,
            "lastcourseaccess": self.last_course_access, "course": self.entry,
            "completionstatus": self.completion, "coursegrade": self.grade,
            "startdate": self.startdate, "certification": self.certification,
        })
    }
}

/// An enrollment from its [`Facts`] payload.
pub fn map_enrollment(emit: &Emitter<'_>, instance: &str, raw: Value) -> Mapped {
    let text = |k: &str| raw.get(k).and_then(id_text);
    let (Some(user), Some(course)) = (text("userid"), text("courseid")) else {
        return emit.reject(None, "enrolment without `userid` and `courseid`", raw);
    };
    let id = enrollment_id(&course, &user);
    let entity = enrollment(&raw, &id, instance, &user, &course);
    emit.mapped(id, raw, None, entity.map(|e| Some(Entity::Enrollment(e))))
}

fn enrollment(
    raw: &Value,
    id: &str,
    instance: &str,
    user: &str,
    course: &str,
) -> Result<Enrollment, MapError> {
    let f = Fields::new(raw, "enrollments", id);
    let active = boolean(&f, "active")?.unwrap_or(true);
    let entry = raw.get("course").cloned().unwrap_or(Value::Null);
    let e = Fields::new(&entry, "enrollments", id);
    let completed = active && boolean(&e, "completed")?.unwrap_or(false);
    let progress = e.decimal("progress")?.unwrap_or(Decimal::ZERO);
    let last_access = if active {
        unix(&e, "lastaccess")?
    } else {
        unix(&f, "lastcourseaccess")?
    };
    let completed_at = if completed {
        completion_time(raw.get("completionstatus"), id)?
    } else {
        None
    };
    let status = if !active {
        EnrollmentStatus::Dropped
    } else if completed {
        EnrollmentStatus::Completed
    } else if last_access.is_some() || progress > Decimal::ZERO {
        EnrollmentStatus::InProgress
    } else {
        EnrollmentStatus::Enrolled
    };
    // Moodle shows no per-course first access: the first activity it reports for the pair
    // (its last access, or its completion) is when the learner had started by.
    let started_at = match status {
        EnrollmentStatus::Enrolled => None,
        _ => [last_access, completed_at].into_iter().flatten().min(),
    };
    // Nor does it expose the enrolment's start (`user_enrolments.timestart`): the earliest
    // time it reports for the pair, else the course's start date.
    let enrolled_at = match started_at.or(completed_at) {
        Some(t) => t,
        None => unix(&f, "startdate")?
            .ok_or_else(|| f.error("startdate", None, "no time is known for the enrolment"))?,
    };
    let grade = raw.get("coursegrade").filter(|g| !g.is_null());
    let score = match grade {
        Some(g) => percent(g, id)?,
        None => None,
    };
    let passed = if completed {
        grade_criterion(raw.get("completionstatus"))
    } else {
        None
    };
    let certified =
        completed && passed != Some(false) && boolean(&f, "certification")?.unwrap_or(false);
    Ok(Enrollment {
        person: Some(ExternalRef::new(crate::KIND, instance, "users", user)),
        course: Some(ExternalRef::new(crate::KIND, instance, "courses", course)),
        enrolled_at,
        started_at,
        completed_at,
        status,
        score,
        passed,
        certified,
    })
}

/// When the course was completed: the latest `timecompleted` of its completed criteria
/// (Moodle does not return the course's own completion time); `None` when Moodle would not
/// say (`{"unknown": code}`: no criteria set, report not viewable).
fn completion_time(status: Option<&Value>, id: &str) -> Result<Option<DateTime<Utc>>, MapError> {
    let Some(status) = status.filter(|s| s.get("completions").is_some()) else {
        return Ok(None);
    };
    let mut latest = None;
    for c in status["completions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let f = Fields::new(c, "enrollments", id);
        if boolean(&f, "complete")? == Some(true) {
            latest = latest.max(unix(&f, "timecompleted")?);
        }
    }
    Ok(latest)
}

/// Whether the course-grade criterion (type 6) is met, when the course has one.
fn grade_criterion(status: Option<&Value>) -> Option<bool> {
    status?
        .get("completions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_i64) == Some(CRITERIA_GRADE))
        .map(|c| {
            let f = Fields::new(c, "enrollments", "?");
            boolean(&f, "complete").ok().flatten().unwrap_or(false)
        })
}

/// The course total's `graderaw` as a percent of its range, to two decimals.
fn percent(item: &Value, id: &str) -> Result<Option<Decimal>, MapError> {
    let f = Fields::new(item, "enrollments", id);
    let Some(raw) = f.decimal("graderaw")? else {
        return Ok(None);
    };
    let min = f.decimal("grademin")?.unwrap_or(Decimal::ZERO);
    let max = f.decimal("grademax")?.unwrap_or(Decimal::ONE_HUNDRED);
    if max <= min {
        return Err(f.error("grademax", Some(&max.to_string()), "is not above grademin"));
    }
    Ok(Some(
        ((raw - min) / (max - min) * Decimal::ONE_HUNDRED).round_dp(2),
    ))
}

#[cfg(test)]
mod tests;
