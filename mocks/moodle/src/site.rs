//! The simulated company as a Moodle site: which courses, users and enrolments it holds and
//! their Moodle ids, and the translation of each into the JSON Moodle's web services answer.
//! This is the only place that knows Moodle's field names.
//!
//! Ids: course `i` of the world is Moodle course `i + 2` (course 1 is the site's front page,
//! which `core_course_get_courses` lists too); the LMS users are the contacts with at least
//! one enrollment, contact `i` being Moodle user `i + 3` (users 1 and 2 are Moodle's guest
//! and admin). Moodle keeps one enrolment per (user, course); when the world enrolled a person
//! in a course more than once, the site shows the completed one (Moodle's course completion
//! outlives a re-enrolment), else the latest.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tributary_model::{CourseKind, EnrollmentStatus};
use tributary_sim::{Company, SimEnrollment};

/// The Moodle id of the site course (the front page).
pub const SITE_COURSE_ID: u64 = 1;

/// The Moodle course id of world course `index`.
pub fn course_id(index: usize) -> u64 {
    index as u64 + 2
}

/// The Moodle user id of world contact `index`.
pub fn user_id(index: usize) -> u64 {
    index as u64 + 3
}

/// Unix seconds, Moodle's timestamps (0 means unset).
pub fn unix(t: Option<DateTime<Utc>>) -> i64 {
    t.map_or(0, |t| t.timestamp())
}

/// One enrolment of the site: a (user, course) pair and the world's enrollment it shows.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// World contact index.
    pub contact: usize,
    /// World course index.
    pub course: usize,
    /// World enrollment index.
    pub enrollment: usize,
}

impl Enrolment {
    /// The world's enrollment.
    pub fn of<'c>(&self, company: &'c Company) -> &'c SimEnrollment {
        &company.enrollments[self.enrollment]
    }

    /// Whether the enrolment is active (a dropped enrollment is a suspended enrolment).
    pub fn active(&self, company: &Company) -> bool {
        self.of(company).status != EnrollmentStatus::Dropped
    }

    /// The last time the learner accessed the course (0: never).
    pub fn last_access(&self, company: &Company) -> i64 {
        let e = self.of(company);
        match e.started_at {
            None => 0,
            Some(s) => unix(Some(e.completed_at.map_or(s, |c| c.max(s)))),
        }
    }
}

/// The site: the world's learning data in Moodle's terms, indexed.
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// Every enrolment, by (user id, course id).
    pub enrolments: BTreeMap<(u64, u64), Enrolment>,
    /// Per course index: the user ids enrolled, ascending.
    pub by_course: Vec<Vec<u64>>,
    /// Per user id: the course ids the user is enrolled in, ascending.
    pub by_user: BTreeMap<u64, Vec<u64>>,
}

impl Site {
    /// The site of `company`.
    pub fn of(company: &Company) -> Self {
        let mut enrolments: BTreeMap<(u64, u64), Enrolment> = BTreeMap::new();
        for (i, e) in company.enrollments.iter().enumerate() {
            let key = (user_id(e.person), course_id(e.course));
            let candidate = Enrolment {
                contact: e.person,
                course: e.course,
                enrollment: i,
            };
            match enrolments.get(&key) {
                Some(kept) if !replaces(e, kept.of(company)) => {}
                _ => {
                    enrolments.insert(key, candidate);
                }
            }
        }
        let mut by_course = vec![Vec::new(); company.courses.len()];
        let mut by_user: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for (&(user, course), e) in &enrolments {
            by_course[e.course].push(user);
            by_user.entry(user).or_default().push(course);
        }
        for users in &mut by_course {
            users.sort_unstable();
        }
        Self {
            enrolments,
            by_course,
            by_user,
        }
    }

    /// The world contact index of Moodle user `id`, when it is an LMS user.
    pub fn contact(&self, id: u64) -> Option<usize> {
        self.by_user
            .contains_key(&id)
            .then(|| usize::try_from(id - 3).ok())
            .flatten()
    }

    /// The world course index of Moodle course `id`, when it is one of the world's.
    pub fn course(&self, id: u64) -> Option<usize> {
        let i = usize::try_from(id.checked_sub(2)?).ok()?;
        (i < self.by_course.len()).then_some(i)
    }
}

/// Whether enrollment `e` replaces `kept` as the one Moodle shows for their pair.
fn replaces(e: &SimEnrollment, kept: &SimEnrollment) -> bool {
    let done = |x: &SimEnrollment| x.status == EnrollmentStatus::Completed;
    match (done(e), done(kept)) {
        (true, false) => true,
        (false, true) => false,
        _ => e.enrolled_at >= kept.enrolled_at,
    }
}

fn snake<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn text_field(name: &str, shortname: &str, value: &str) -> Value {
    json!({ "name": name, "shortname": shortname, "type": "text", "valueraw": value, "value": value })
}

/// The front page, as `core_course_get_courses` lists it.
pub fn site_course_json(company: &Company) -> Value {
    json!({
        "id": SITE_COURSE_ID, "shortname": "academy", "categoryid": 0, "categorysortorder": 1,
        "fullname": "Customer Academy", "displayname": "Customer Academy", "idnumber": "",
        "summary": "", "summaryformat": 1, "format": "site", "showgrades": 1, "newsitems": 3,
        "startdate": 0, "enddate": 0, "numsections": 1, "maxbytes": 0, "showreports": 0,
        "visible": 1, "groupmode": 0, "groupmodeforce": 0, "defaultgroupingid": 0,
        "timecreated": unix(company.courses.first().map(|c| c.created_at)),
        "timemodified": unix(company.courses.first().map(|c| c.created_at)),
        "enablecompletion": 0, "completionnotify": 0, "lang": "", "forcetheme": "",
        "courseformatoptions": [], "customfields": [],
    })
}

/// World course `i` as `core_course_get_courses` lists it: level, kind, product features and
/// tags in the site's course custom fields.
pub fn course_json(company: &Company, i: usize) -> Value {
    let c = &company.courses[i];
    let mut customfields = vec![
        text_field("Level", "level", &snake(&c.level)),
        text_field("Format", "kind", &snake(&c.kind)),
        text_field("Product features", "features", &c.features.join(", ")),
    ];
    if !c.tags.is_empty() {
        customfields.push(text_field("Tags", "tags", &c.tags.join(", ")));
    }
    if let Some(pass) = c.passing_score {
        customfields.push(text_field(
            "Passing grade",
            "passinggrade",
            &pass.to_string(),
        ));
    }
    json!({
        "id": course_id(i), "shortname": c.code, "categoryid": 1, "categorysortorder": 10000 + i,
        "fullname": c.title, "displayname": c.title, "idnumber": c.code,
        "summary": format!("<p>{}</p>", c.title), "summaryformat": 1, "format": "topics",
        "showgrades": 1, "newsitems": 0, "startdate": unix(Some(c.created_at)), "enddate": 0,
        "numsections": 4, "maxbytes": 0, "showreports": 0, "visible": 1, "groupmode": 0,
        "groupmodeforce": 0, "defaultgroupingid": 0, "timecreated": unix(Some(c.created_at)),
        "timemodified": unix(Some(c.updated_at)), "enablecompletion": 1, "completionnotify": 0,
        "lang": "", "forcetheme": "",
        "courseformatoptions": [
            { "name": "hiddensections", "value": 0 },
            { "name": "coursedisplay", "value": 0 },
        ],
        "customfields": customfields,
    })
}

/// Whether world course `i` is a certification (its completion certifies a passing learner).
pub fn is_certification(company: &Company, i: usize) -> bool {
    company.courses[i].kind == CourseKind::Certification
}

/// The user description of contact `i` (as `core_user_get_users_by_field` and
/// `core_enrol_get_enrolled_users` share it): the CRM contact id in `idnumber`, the company in
/// `institution`, the CRM account id and the company's domain in profile fields.
/// `revision` is how often the `mutate` knob changed the user. No `preferences`: Moodle
/// returns them for the token's own user only, who is none of the learners.
pub fn user_json(company: &Company, site: &Site, i: usize, revision: u32) -> Value {
    let c = &company.contacts[i];
    let a = &company.accounts[c.account];
    let id = user_id(i);
    let courses = site.by_user.get(&id).map(Vec::as_slice).unwrap_or(&[]);
    let enrolments: Vec<&Enrolment> = courses
        .iter()
        .filter_map(|course| site.enrolments.get(&(id, *course)))
        .collect();
    let first = enrolments
        .iter()
        .filter_map(|e| e.of(company).started_at)
        .min();
    let last = enrolments
        .iter()
        .map(|e| e.last_access(company))
        .max()
        .unwrap_or(0);
    let department = match revision {
        0 => c.job_title.clone(),
        n => format!("{} (rev {n})", c.job_title),
    };
    json!({
        "id": id, "username": c.email.to_ascii_lowercase(), "firstname": c.first_name,
        "lastname": c.last_name, "fullname": format!("{} {}", c.first_name, c.last_name),
        "email": c.email, "department": department, "institution": a.name, "idnumber": c.id,
        "firstaccess": unix(first), "lastaccess": last, "auth": "manual", "suspended": false,
        "confirmed": true, "lang": "en", "theme": "", "timezone": "99", "mailformat": 1,
        "description": "", "descriptionformat": 1, "city": a.city, "country": a.country,
        "profileimageurlsmall": format!("https://moodle.example/theme/image.php/boost/core/1/u/f2?u={id}"),
        "profileimageurl": format!("https://moodle.example/theme/image.php/boost/core/1/u/f1?u={id}"),
        "customfields": [
            { "type": "text", "value": a.id, "name": "CRM account id", "shortname": "crmaccountid" },
            { "type": "text", "value": a.domain, "name": "Company domain", "shortname": "companydomain" },
        ],
    })
}

/// The course entry of `core_enrol_get_users_courses` for an active enrolment.
pub fn users_course_json(company: &Company, e: &Enrolment, with_count: Option<usize>) -> Value {
    let c = &company.courses[e.course];
    let world = e.of(company);
    let completed = world.status == EnrollmentStatus::Completed;
    let mut v = json!({
        "id": course_id(e.course), "shortname": c.code, "fullname": c.title,
        "displayname": c.title, "idnumber": c.code, "visible": 1,
        "summary": format!("<p>{}</p>", c.title), "summaryformat": 1, "format": "topics",
        "showgrades": true, "lang": "", "enablecompletion": true, "completionhascriteria": true,
        "completionusertracked": true, "category": 1,
        "progress": f64::from(world.progress_percent),
        "completed": completed, "startdate": unix(Some(c.created_at)), "enddate": 0,
        "marker": 0, "lastaccess": e.last_access(company), "isfavourite": false, "hidden": false,
        "overviewfiles": [], "showactivitydates": true, "showcompletionconditions": true,
        "timemodified": unix(Some(c.updated_at)),
    });
    if let Some(n) = with_count {
        v["enrolledusercount"] = json!(n);
    }
    v
}

/// `core_completion_get_course_completion_status` for an enrolment: activity completion for
/// every course, and for a graded course the course-grade criterion (aggregation "any", so a
/// failed exam still completes the course but its grade criterion stays incomplete).
pub fn completion_json(company: &Company, e: &Enrolment) -> Value {
    let c = &company.courses[e.course];
    let world = e.of(company);
    let done = world.completed_at;
    let mut completions = vec![json!({
        "type": 4, "title": "Activity completion",
        "status": if done.is_some() { "Yes" } else { "No" },
        "complete": done.is_some(), "timecompleted": done.map(|t| t.timestamp()),
        "details": {
            "type": "Activity completion",
            "criteria": format!("<a href=\"https://moodle.example/mod/page/view.php?id={}\">{}</a>", 100 + e.course, c.title),
            "requirement": "Marking yourself complete", "status": "",
        },
    })];
    if let Some(pass) = c.passing_score {
        let passed = done.is_some() && world.passed == Some(true);
        let status = world
            .score
            .map(|s| format!("{:.2}%", s))
            .unwrap_or_default();
        completions.push(json!({
            "type": 6, "title": "Course grade", "status": if passed { "Yes" } else { "No" },
            "complete": passed, "timecompleted": if passed { done.map(|t| t.timestamp()) } else { None },
            "details": {
                "type": "Course grade", "criteria": "Course grade",
                "requirement": format!("Achieving grade, {pass}.00%"), "status": status,
            },
        }));
    }
    json!({
        "completionstatus": {
            "completed": done.is_some(),
            "aggregation": if c.passing_score.is_some() { 2 } else { 1 },
            "completions": completions,
        },
        "warnings": [],
    })
}

/// One user's grade items of `gradereport_user_get_grade_items`: a quiz for graded courses
/// and the course total (`itemtype` `course`), `graderaw` null until graded.
pub fn user_grades_json(company: &Company, e: &Enrolment) -> Value {
    let c = &company.courses[e.course];
    let world = e.of(company);
    let contact = &company.contacts[e.contact];
    let raw = world
        .score
        .map(|s| s.to_string().parse::<f64>().unwrap_or(0.0));
    let graded = world.completed_at.filter(|_| raw.is_some());
    let item = |id: u64, name: Value, itemtype: &str, module: Value| {
        json!({
            "id": id, "itemname": name, "itemtype": itemtype, "itemmodule": module,
            "iteminstance": course_id(e.course), "itemnumber": 0, "idnumber": "",
            "categoryid": null, "outcomeid": null, "scaleid": null, "locked": false,
            "weightraw": 1, "weightformatted": "100.00 %", "status": "",
            "graderaw": raw, "gradedatesubmitted": graded.map(|t| t.timestamp()),
            "gradedategraded": graded.map(|t| t.timestamp()), "gradehiddenbydate": false,
            "gradeneedsupdate": false, "gradeishidden": false, "gradeislocked": false,
            "gradeisoverridden": false,
            "gradeformatted": raw.map(|r| format!("{r:.2}")).unwrap_or_else(|| "-".to_owned()),
            "grademin": 0, "grademax": 100, "rangeformatted": "0&ndash;100",
            "percentageformatted": raw.map(|r| format!("{r:.2} %")).unwrap_or_else(|| "-".to_owned()),
            "feedback": "", "feedbackformat": 0,
        })
    };
    let mut items = Vec::new();
    if c.passing_score.is_some() {
        items.push(item(
            course_id(e.course) * 10 + 1,
            json!(format!("{} exam", c.title)),
            "mod",
            json!("quiz"),
        ));
    }
    items.push(item(
        course_id(e.course) * 10,
        Value::Null,
        "course",
        Value::Null,
    ));
    json!({
        "courseid": course_id(e.course), "courseidnumber": c.code,
        "userid": user_id(e.contact), "userfullname": format!("{} {}", contact.first_name, contact.last_name),
        "useridnumber": contact.id, "maxdepth": 2, "gradeitems": items,
    })
}
