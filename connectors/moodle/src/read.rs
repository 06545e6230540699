//! The reads: the course list, and the listing of each course's enrolled users that the
//! `users` and `enrollments` streams page through (see the crate docs for the call pattern).

use crate::MoodleConfig;
use crate::client::{Moodle, options};
use crate::mapping::{self, Facts, SITE_COURSE_ID};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use tributary_connector::ConnectorError;
use tributary_connector::map::id_text;
use tributary_connector::pull::{Page, PageSource, PullState};
use tributary_model::CourseKind;

/// Completion or grade exceptions that mean "Moodle will not say for this course": the
/// enrollment's completion time or grade is recorded as unknown and the read goes on.
const UNKNOWN_FOR_COURSE: [&str; 6] = [
    "nocriteriaset",
    "cannotviewreport",
    "nottracked",
    "notenrolled",
    "nopermissions",
    "nocourseid",
];

/// Every course of the site but the front page, in id order (`core_course_get_courses`).
pub async fn courses(moodle: &Moodle) -> Result<Vec<Value>, ConnectorError> {
    let body = moodle.call("core_course_get_courses", &[]).await?;
    let Value::Array(all) = body else {
        return Err(ConnectorError::Decode {
            url: moodle.url.clone(),
            message: "core_course_get_courses did not return an array".to_owned(),
        });
    };
    let mut courses: Vec<(i64, Value)> = all
        .into_iter()
        .filter_map(|c| {
            let id = c.get("id").and_then(id_text)?.parse::<i64>().ok();
            Some((id.unwrap_or(i64::MAX), c))
        })
        .filter(|(id, _)| *id != SITE_COURSE_ID)
        .collect();
    courses.sort_by_key(|(id, _)| *id);
    Ok(courses.into_iter().map(|(_, c)| c).collect())
}

/// Where a listing stands: the course being listed and the users before this page. Saved
/// after every page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The Moodle id of the course being listed (0: the first).
    pub course: i64,
    /// `limitfrom` of the next page in it.
    pub offset: u64,
}

impl PullState for Position {
    fn is_incremental(&self) -> bool {
        false
    }
}

/// The enrolled users of every course, a page at a time, as users or as enrollment facts.
pub struct Listing<'a> {
    moodle: &'a Moodle,
    page_size: u32,
    /// Course ids in order, with their `startdate`.
    courses: Vec<(i64, Value)>,
    /// Courses that are certifications (their kind from custom fields or the catalog).
    certifications: BTreeSet<String>,
    enrollments: bool,
}

impl<'a> Listing<'a> {
    /// The listing over `courses` (from [`courses`]); `enrollments` selects what a page holds.
    pub fn new(
        moodle: &'a Moodle,
        config: &MoodleConfig,
        courses: Vec<Value>,
        enrollments: bool,
    ) -> Self {
        let mut certifications = BTreeSet::new();
        let courses = courses
            .into_iter()
            .filter_map(|c| {
                let id = c.get("id").and_then(id_text)?;
                if let Ok(course) = mapping::course(&c, &id, &config.courses)
                    && course.kind == CourseKind::Certification
                {
                    certifications.insert(id.clone());
                }
                Some((
                    id.parse().ok()?,
                    c.get("startdate").cloned().unwrap_or(Value::Null),
                ))
            })
            .collect();
        Self {
            moodle,
            page_size: config.page_size,
            courses,
            certifications,
            enrollments,
        }
    }

    fn decode(&self, message: String) -> ConnectorError {
        ConnectorError::Decode {
            url: self.moodle.url.clone(),
            message,
        }
    }

    /// The facts of every active enrolment of `user`, from one `core_enrol_get_users_courses`
    /// and, for completed ones, their completion status and course total.
    async fn learner(&self, user: &str) -> Result<Vec<Value>, ConnectorError> {
        let params = vec![("userid".to_owned(), user.to_owned())];
        let body = self
            .moodle
            .call("core_enrol_get_users_courses", &params)
            .await?;
        let Value::Array(entries) = body else {
            return Err(self.decode(format!(
                "core_enrol_get_users_courses of user {user} did not return an array"
            )));
        };
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let Some(course) = entry.get("id").and_then(id_text) else {
                out.push(entry);
                continue;
            };
            let f = tributary_connector::Fields::new(&entry, "enrollments", &course);
            let completed = mapping::boolean(&f, "completed").ok().flatten() == Some(true);
            let mut facts = Facts {
                user: user.to_owned(),
                course: course.clone(),
                active: true,
                startdate: entry.get("startdate").cloned().unwrap_or(Value::Null),
                certification: self.certifications.contains(&course),
                entry,
                ..Facts::default()
            };
            if completed {
                facts.completion = self.completion(&course, user).await?;
                facts.grade = self.course_total(&course, user).await?;
            }
            out.push(facts.to_json());
        }
        Ok(out)
    }

    async fn completion(&self, course: &str, user: &str) -> Result<Value, ConnectorError> {
        let function = "core_completion_get_course_completion_status";
        let params = vec![
            ("courseid".to_owned(), course.to_owned()),
            ("userid".to_owned(), user.to_owned()),
        ];
        match self.moodle.try_call(function, &params).await? {
            Ok(body) => Ok(body.get("completionstatus").cloned().unwrap_or(Value::Null)),
            Err(e) if UNKNOWN_FOR_COURSE.contains(&e.errorcode.as_str()) => {
                tracing::debug!(course, user, errorcode = %e.errorcode, "completion unknown");
                Ok(serde_json::json!({ "unknown": e.errorcode }))
            }
            Err(e) => Err(crate::classify(
                &e,
                function,
                &self.moodle.url,
                &self.moodle.instance,
            )),
        }
    }

    async fn course_total(&self, course: &str, user: &str) -> Result<Value, ConnectorError> {
        let function = "gradereport_user_get_grade_items";
        let params = vec![
            ("courseid".to_owned(), course.to_owned()),
            ("userid".to_owned(), user.to_owned()),
        ];
        match self.moodle.try_call(function, &params).await? {
            Ok(body) => Ok(body
                .get("usergrades")
                .and_then(Value::as_array)
                .and_then(|g| g.first())
                .and_then(|g| g.get("gradeitems"))
                .and_then(Value::as_array)
                .and_then(|items| {
                    items
                        .iter()
                        .find(|i| i.get("itemtype").and_then(Value::as_str) == Some("course"))
                })
                .cloned()
                .unwrap_or(Value::Null)),
            Err(e) if UNKNOWN_FOR_COURSE.contains(&e.errorcode.as_str()) => {
                tracing::debug!(course, user, errorcode = %e.errorcode, "grade unknown");
                Ok(Value::Null)
            }
            Err(e) => Err(crate::classify(
                &e,
                function,
                &self.moodle.url,
                &self.moodle.instance,
            )),
        }
    }
}

/// The ids of a listed user's active enrolments (`enrolledcourses`), when listed.
fn active_courses(user: &Value) -> Option<Vec<i64>> {
    let list = user.get("enrolledcourses")?.as_array()?;
    Some(
        list.iter()
            .filter_map(|c| c.get("id").and_then(id_text)?.parse().ok())
            .collect(),
    )
}

#[async_trait]
impl PageSource<Position> for Listing<'_> {
    type Raw = Value;

    async fn next_page(&mut self, position: &mut Position) -> Result<Page<Value>, ConnectorError> {
        let Some(index) = self
            .courses
            .iter()
            .position(|(id, _)| *id >= position.course)
        else {
            return Ok(Page::new(Vec::new(), false));
        };
        let (course, startdate) = self.courses[index].clone();
        if course != position.course {
            *position = Position { course, offset: 0 };
        }
        let mut params = vec![("courseid".to_owned(), course.to_string())];
        params.extend(options(&[
            ("limitfrom", position.offset.to_string()),
            ("limitnumber", self.page_size.to_string()),
        ]));
        let body = self
            .moodle
            .call("core_enrol_get_enrolled_users", &params)
            .await?;
        let Value::Array(users) = body else {
            return Err(self.decode(format!(
                "core_enrol_get_enrolled_users of course {course} did not return an array"
            )));
        };
        let served = users.len();
        let mut records = Vec::new();
        for user in users {
            let active = active_courses(&user);
            let home = match &active {
                None => true,
                Some(a) if a.is_empty() => !self.enrollments,
                Some(a) => a.iter().min() == Some(&course),
            };
            let listed_here = active.as_ref().is_none_or(|a| a.contains(&course));
            if !self.enrollments {
                if home {
                    records.push(user);
                }
                continue;
            }
            let Some(id) = user.get("id").and_then(id_text) else {
                records.push(user);
                continue;
            };
            if !listed_here {
                let facts = Facts {
                    user: id,
                    course: course.to_string(),
                    active: false,
                    last_course_access: user
                        .get("lastcourseaccess")
                        .cloned()
                        .unwrap_or(Value::Null),
                    startdate: startdate.clone(),
                    certification: self.certifications.contains(&course.to_string()),
                    ..Facts::default()
                };
                records.push(facts.to_json());
            } else if home {
                records.extend(self.learner(&id).await?);
            }
        }
        let more = if (served as u64) < u64::from(self.page_size) {
            match self.courses.get(index + 1) {
                Some((next, _)) => {
                    *position = Position {
                        course: *next,
                        offset: 0,
                    };
                    true
                }
                None => false,
            }
        } else {
            position.offset += served as u64;
            true
        };
        Ok(Page::new(records, more))
    }
}
