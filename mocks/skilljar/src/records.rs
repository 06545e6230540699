//! The world as Skilljar v1 shows it: the only place that knows Skilljar's field names and id
//! formats. Ids are short lower-case alphanumeric strings, like Skilljar's, built from the
//! world's numeric ids with a prefix per object.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use tributary_model::{CourseKind, EnrollmentStatus};
use tributary_sim::{Company, SimEnrollment};

/// The one storefront domain the simulated organisation publishes to.
pub const DOMAIN: &str = "academy.tributary-sim.example";

/// The sign-up fields every learner fills in on [`DOMAIN`], as `(id, label)`: the company,
/// and the CRM ids a token-based SSO integration writes through the API.
pub const SIGNUP_FIELDS: [(&str, &str); 3] = [
    ("sfcompany", "Company"),
    ("sfcrmcontactid", "CRM Contact ID"),
    ("sfcrmaccountid", "CRM Account ID"),
];

/// A timestamp as Skilljar writes it: UTC, milliseconds, `Z`.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn alnum(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The Skilljar user id of contact `i`.
pub fn user_id(company: &Company, i: usize) -> String {
    format!("u{}", alnum(&company.contacts[i].id))
}

/// The course id of course `i`.
pub fn course_id(company: &Company, i: usize) -> String {
    format!("c{}", company.courses[i].id)
}

/// The published-course id of course `i` on [`DOMAIN`] (differs from the course id).
pub fn published_course_id(company: &Company, i: usize) -> String {
    format!("pc{}", company.courses[i].id)
}

/// The path id of learning path `i`.
pub fn path_id(company: &Company, i: usize) -> String {
    format!("p{}", company.courses[i].id)
}

/// The published-path id of learning path `i` on [`DOMAIN`].
pub fn published_path_id(company: &Company, i: usize) -> String {
    format!("pp{}", company.courses[i].id)
}

/// The enrollment id of world enrollment `e`.
pub fn enrollment_id(e: &SimEnrollment) -> String {
    format!("e{}", e.id)
}

/// Whether course `i` is a learning path (served as a path, not a published course).
pub fn is_path(company: &Company, i: usize) -> bool {
    company.courses[i].kind == CourseKind::LearningPath
}

fn lesson_count(company: &Company, i: usize) -> u32 {
    company.courses[i].duration_minutes.div_ceil(15).max(1)
}

/// One learner's enrollments in one course or path, every world enrollment of the pair in
/// enrollment order. Skilljar keeps one progress per learner and course, with the enrollment
/// history in `all_enrollments`: the progress shown is the latest enrollment's (the convention
/// every LMS mock and the end-to-end truth share).
#[derive(Debug, Clone)]
pub struct Pair {
    /// The course (or path) index.
    pub course: usize,
    /// Indices into `company.enrollments`, oldest first.
    pub enrollments: Vec<usize>,
}

impl Pair {
    /// The enrollment whose progress Skilljar shows: the latest.
    pub fn current<'c>(&self, company: &'c Company) -> &'c SimEnrollment {
        let last = *self.enrollments.last().expect("a pair has an enrollment");
        &company.enrollments[last]
    }
}

/// An LMS user: a contact with at least one enrollment.
#[derive(Debug, Clone)]
pub struct Learner {
    /// Index into `company.contacts`.
    pub contact: usize,
    /// Skilljar user id.
    pub id: String,
    /// Enrollments in published courses, by course index.
    pub courses: Vec<Pair>,
    /// Enrollments in learning paths, by path index.
    pub paths: Vec<Pair>,
}

/// The learners of `company`, in contact order (the order `/v1/users` lists them).
pub fn learners(company: &Company) -> Vec<Learner> {
    let mut by_contact: BTreeMap<usize, BTreeMap<usize, Vec<usize>>> = BTreeMap::new();
    for (k, e) in company.enrollments.iter().enumerate() {
        by_contact
            .entry(e.person)
            .or_default()
            .entry(e.course)
            .or_default()
            .push(k);
    }
    by_contact
        .into_iter()
        .map(|(contact, pairs)| {
            let (mut courses, mut paths) = (Vec::new(), Vec::new());
            for (course, mut enrollments) in pairs {
                enrollments.sort_by_key(|&k| {
                    let e = &company.enrollments[k];
                    (e.enrolled_at, e.id)
                });
                let pair = Pair {
                    course,
                    enrollments,
                };
                if is_path(company, course) {
                    paths.push(pair);
                } else {
                    courses.push(pair);
                }
            }
            Learner {
                contact,
                id: user_id(company, contact),
                courses,
                paths,
            }
        })
        .collect()
}

/// Learner index by Skilljar user id.
pub fn learner_index(learners: &[Learner]) -> HashMap<String, usize> {
    learners
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.clone(), i))
        .collect()
}

fn user_json(company: &Company, learner: &Learner) -> Value {
    let c = &company.contacts[learner.contact];
    json!({
        "id": learner.id,
        "email": c.email,
        "first_name": c.first_name,
        "last_name": c.last_name,
    })
}

fn all_pairs(learner: &Learner) -> impl Iterator<Item = &Pair> {
    learner.courses.iter().chain(&learner.paths)
}

/// When the learner signed up: their first enrollment.
pub fn signed_up_at(company: &Company, learner: &Learner) -> DateTime<Utc> {
    all_pairs(learner)
        .flat_map(|p| &p.enrollments)
        .map(|&k| company.enrollments[k].enrolled_at)
        .min()
        .unwrap_or(company.contacts[learner.contact].created_at)
}

/// The learner's latest activity in any course.
pub fn latest_activity(company: &Company, learner: &Learner) -> Option<DateTime<Utc>> {
    learner
        .courses
        .iter()
        .filter_map(|p| activity(p.current(company)))
        .max()
}

fn activity(e: &SimEnrollment) -> Option<DateTime<Utc>> {
    e.started_at.map(|_| e.updated_at)
}

/// A **UserOverview** (`GET /v1/users`); `revision` moves `latest_activity` (the `mutate` knob).
pub fn user_overview(
    company: &Company,
    learner: &Learner,
    revision: Option<DateTime<Utc>>,
) -> Value {
    let completed = learner
        .courses
        .iter()
        .filter(|p| p.current(company).completed_at.is_some())
        .count();
    let latest = revision.or_else(|| latest_activity(company, learner));
    json!({
        "user": user_json(company, learner),
        "registration_count": learner.courses.len(),
        "completion_count": completed,
        "signed_up_at": stamp(signed_up_at(company, learner)),
        "latest_activity": latest.map(stamp),
        "inactive_at": null,
    })
}

/// A **DomainUserListItem** (`GET /v1/domains/{domain}/users`).
pub fn domain_user(company: &Company, learner: &Learner) -> Value {
    json!({
        "user": user_json(company, learner),
        "active": true,
        "marketing_optin": null,
        "enrolled_at": stamp(signed_up_at(company, learner)),
        "expires_at": null,
        "access_code": null,
    })
}

/// The learner's sign-up field values on [`DOMAIN`].
pub fn signup_values(company: &Company, learner: &Learner) -> Vec<Value> {
    let c = &company.contacts[learner.contact];
    let a = &company.accounts[c.account];
    let values = [a.name.as_str(), c.id.as_str(), a.id.as_str()];
    SIGNUP_FIELDS
        .iter()
        .zip(values)
        .map(|((id, label), value)| {
            json!({ "signup_field": { "id": id, "label": label }, "value": value })
        })
        .collect()
}

/// A domain (`GET /v1/domains`).
pub fn domain() -> Value {
    json!({
        "id": "d1sim",
        "name": DOMAIN,
        "catalog_title": "All Courses",
        "private": false,
        "access_code_message_html": null,
        "marketing_message": null,
    })
}

fn searchable(company: &Company, i: usize, record: &mut Value) {
    let c = &company.courses[i];
    record["tags"] = json!(c.tags);
    record["short_description"] = json!(format!("{} ({} minutes)", c.title, c.duration_minutes));
    record["long_description_html"] = json!(format!("<p>{}</p>", c.title));
    record["search_keywords"] = json!(c.features.join(" "));
    record["lesson_list"] = json!([]);
}

/// A published course (`GET /v1/domains/{domain}/published-courses`); `revision` is how often
/// the `mutate` knob changed it.
pub fn published_course(
    company: &Company,
    i: usize,
    searchable_content: bool,
    revision: u32,
) -> Value {
    let c = &company.courses[i];
    let title = match revision {
        0 => c.title.clone(),
        n => format!("{} (rev {n})", c.title),
    };
    let mut record = json!({
        "id": published_course_id(company, i),
        "course": { "id": course_id(company, i), "title": title },
        "slug": c.code,
        "course_url": format!("https://{DOMAIN}/{}", c.code),
        "hidden": false,
        "registration_required": false,
        "registration_starts_at": null,
        "registration_ends_at": null,
        "timezone": "UTC",
        "offer": null,
    });
    if searchable_content {
        searchable(company, i, &mut record);
    }
    record
}

/// A published path (`GET /v1/domains/{domain}/published-paths`).
pub fn published_path(company: &Company, i: usize, searchable_content: bool) -> Value {
    let c = &company.courses[i];
    let mut record = json!({
        "id": published_path_id(company, i),
        "path": { "id": path_id(company, i), "title": c.title },
        "slug": c.code,
        "path_url": format!("https://{DOMAIN}/path/{}", c.code),
        "hidden": false,
        "registration_required": false,
    });
    if searchable_content {
        searchable(company, i, &mut record);
    }
    record
}

/// A path (`GET /v1/paths`).
pub fn path(company: &Company, i: usize) -> Value {
    let c = &company.courses[i];
    json!({
        "id": path_id(company, i),
        "title": c.title,
        "created_at": stamp(c.created_at),
        "updated_at": stamp(c.updated_at),
    })
}

/// The items of path `i` (`GET /v1/paths/{path_id}/path-items`), in order.
pub fn path_items(company: &Company, i: usize) -> Vec<Value> {
    company.courses[i]
        .path_courses
        .iter()
        .enumerate()
        .map(|(order, &course)| {
            json!({
                "id": format!("pi{}x{order}", company.courses[i].id),
                "order": order,
                "content_type": "course",
                "course": {
                    "id": course_id(company, course),
                    "title": company.courses[course].title,
                },
            })
        })
        .collect()
}

fn enrollment_entry(e: &SimEnrollment) -> Value {
    let dropped = e.status == EnrollmentStatus::Dropped;
    json!({
        "course_progress_id": format!("cp{}", e.id),
        "active": !dropped,
        "expires_at": e.dropped_at.filter(|_| dropped).map(stamp),
        "enrollment_id": enrollment_id(e),
    })
}

/// A **UserPublishedCourseProgress** (`GET /v1/users/{id}/published-courses`).
pub fn course_progress(company: &Company, pair: &Pair) -> Value {
    let e = pair.current(company);
    let i = pair.course;
    let c = &company.courses[i];
    let lessons = lesson_count(company, i);
    let done = if e.completed_at.is_some() {
        lessons
    } else if e.started_at.is_some() {
        (lessons * u32::from(e.progress_percent) / 100).clamp(1, lessons.saturating_sub(1).max(1))
    } else {
        0
    };
    let success = e.passed.map(|p| if p { "PASSED" } else { "FAILED" });
    let certificate = e.certified.then(|| {
        json!({
            "id": format!("ct{}", e.id),
            "certificate_url": format!("https://{DOMAIN}/certificates/ct{}", e.id),
            "issued_at": e.completed_at.map(stamp),
        })
    });
    json!({
        "published_course_id": published_course_id(company, i),
        "domain_name": DOMAIN,
        "enrolled_at": stamp(e.enrolled_at),
        "enrollment_id": enrollment_id(e),
        "course": {
            "id": course_id(company, i),
            "title": c.title,
            "lesson_count": lessons,
            "required_lesson_count": lessons,
        },
        "course_progress": {
            "course_progress_id": format!("cp{}", e.id),
            "completed_lesson_count": done,
            "completed_required_lesson_count": done,
            "completed_at": e.completed_at.map(stamp),
            "latest_activity": activity(e).map(stamp),
            "score": e.score.and_then(|d| d.normalize().to_string().parse::<serde_json::Number>().ok()),
            "max_score": e.score.map(|_| 100),
            "credits_earned": null,
            "credit_unit_plural": null,
            "success_status": success,
        },
        "certificate": certificate,
        "all_enrollments": pair
            .enrollments
            .iter()
            .map(|&k| enrollment_entry(&company.enrollments[k]))
            .collect::<Vec<_>>(),
    })
}

/// The learner's path enrollments (`GET /v1/users/{id}/published-path-enrollments`): one per
/// world enrollment of the path, like Skilljar's (a learner may hold several).
pub fn path_enrollments(company: &Company, pair: &Pair) -> Vec<Value> {
    let i = pair.course;
    pair.enrollments
        .iter()
        .map(|&k| {
            let e = &company.enrollments[k];
            let dropped = e.status == EnrollmentStatus::Dropped;
            json!({
                "id": enrollment_id(e),
                "published_path": {
                    "id": published_path_id(company, i),
                    "path": { "id": path_id(company, i), "title": company.courses[i].title },
                },
                "domain_name": DOMAIN,
                "enrolled_at": stamp(e.enrolled_at),
                "expires_at": e.dropped_at.filter(|_| dropped).map(stamp),
                "active": !dropped,
                "purchase": null,
            })
        })
        .collect()
}

/// The learner's enrollments in a published path as the path's own list shows them
/// (`GET /v1/domains/{domain}/published-paths/{id}/published-path-enrollments`): with the
/// `user` instead of the path.
pub fn published_path_enrollments(company: &Company, learner: &Learner, pair: &Pair) -> Vec<Value> {
    pair.enrollments
        .iter()
        .map(|&k| {
            let e = &company.enrollments[k];
            let dropped = e.status == EnrollmentStatus::Dropped;
            json!({
                "id": enrollment_id(e),
                "user": user_json(company, learner),
                "enrolled_at": stamp(e.enrolled_at),
                "expires_at": e.dropped_at.filter(|_| dropped).map(stamp),
                "active": !dropped,
                "purchase": null,
            })
        })
        .collect()
}
