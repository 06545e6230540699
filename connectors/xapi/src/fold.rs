//! Enrollments folded from statements. An (actor, activity) pair's enrollment is computed from
//! every non-voided statement of the pair with one of the ADL verbs below, matched on the full
//! IRI; the enrollment record's raw payload is the list of those statements' summaries, so
//! the next request folds from it without reading every statement again.

use crate::statement::timestamp;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tributary_model::{Enrollment, EnrollmentStatus, ExternalRef};

const ADL: &str = "http://adlnet.gov/expapi/verbs/";

/// What an enrollment-relevant verb means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `registered`: enrolled.
    Registered,
    /// `launched`, `attempted`: started.
    Started,
    /// `completed`.
    Completed,
    /// `passed`.
    Passed,
    /// `failed`.
    Failed,
}

/// The step of a verb IRI, when it is one of the ADL verbs that move an enrollment.
pub fn step(verb: &str) -> Option<Step> {
    match verb.strip_prefix(ADL)? {
        "registered" => Some(Step::Registered),
        "launched" | "attempted" => Some(Step::Started),
        "completed" => Some(Step::Completed),
        "passed" => Some(Step::Passed),
        "failed" => Some(Step::Failed),
        _ => None,
    }
}

/// One statement of a pair, as much of it as the fold reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The statement id.
    pub id: String,
    /// The verb IRI.
    pub verb: String,
    /// The statement's timestamp.
    pub timestamp: DateTime<Utc>,
    /// Score in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Decimal>,
    /// `result.success`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// `result.completion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion: Option<bool>,
}

/// The raw payload of an enrollment record: the pair and its statements, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PairState {
    /// The actor's IFI key.
    pub actor: String,
    /// The activity IRI.
    pub activity: String,
    /// The pair's live statements.
    pub statements: Vec<Summary>,
}

impl PairState {
    /// Adds statements (a repeated id replaces the earlier copy) and drops voided ones.
    pub fn apply(&mut self, added: &[Summary], voided: &[String]) {
        for s in added {
            self.statements.retain(|old| old.id != s.id);
            self.statements.push(s.clone());
        }
        self.statements.retain(|s| !voided.contains(&s.id));
        self.statements
            .sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
    }

    /// The enrollment, or `None` when no statement is left.
    pub fn enrollment(&self, person: ExternalRef, course: ExternalRef) -> Option<Enrollment> {
        let first = self.statements.first()?;
        let mut enrolled_at = None;
        let mut started_at: Option<DateTime<Utc>> = None;
        let mut completed_at: Option<DateTime<Utc>> = None;
        let mut passed = None;
        let mut score = None;
        for s in &self.statements {
            let Some(step) = step(&s.verb) else { continue };
            match step {
                Step::Registered => {
                    enrolled_at.get_or_insert(s.timestamp);
                }
                Step::Started => {
                    started_at.get_or_insert(s.timestamp);
                }
                Step::Completed | Step::Passed | Step::Failed => {
                    if s.completion != Some(false) {
                        completed_at = Some(s.timestamp);
                    }
                }
            }
            // The latest verdict and score win (a retake after a failure).
            match step {
                Step::Passed => passed = Some(s.success.unwrap_or(true)),
                Step::Failed => passed = Some(s.success.unwrap_or(false)),
                _ => {
                    if let Some(ok) = s.success {
                        passed = Some(ok);
                    }
                }
            }
            if s.score.is_some() {
                score = s.score;
            }
        }
        let enrolled_at = enrolled_at.unwrap_or(first.timestamp);
        // A learner who completed has started, even without a launch statement.
        let started_at = started_at.or(completed_at.map(|c| c.max(enrolled_at)));
        let status = if completed_at.is_some() {
            EnrollmentStatus::Completed
        } else if started_at.is_some() {
            EnrollmentStatus::InProgress
        } else {
            EnrollmentStatus::Enrolled
        };
        Some(Enrollment {
            person: Some(person),
            course: Some(course),
            enrolled_at,
            started_at,
            completed_at,
            status,
            score,
            passed,
            certified: false,
        })
    }
}

/// The external id of a pair's enrollment.
pub fn pair_id(actor: &str, activity: &str) -> String {
    format!("{actor} {activity}")
}

/// Reads a stored enrollment's raw payload back (an unreadable one starts over).
pub fn stored_state(raw: &serde_json::Value) -> Option<PairState> {
    serde_json::from_value(raw.clone()).ok()
}

/// A timestamp string as the fold keeps it.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    timestamp(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: &str, verb: &str, day: u32, score: Option<i64>) -> Summary {
        Summary {
            id: id.into(),
            verb: format!("{ADL}{verb}"),
            timestamp: parse_time(&format!("2024-03-{day:02}T12:00:00Z")).unwrap(),
            score: score.map(Decimal::from),
            success: None,
            completion: None,
        }
    }

    fn r(x: &str) -> ExternalRef {
        ExternalRef::new("xapi", "lrs", "x", x)
    }

    #[test]
    fn verbs_match_full_adl_iris_only() {
        assert_eq!(
            step("http://adlnet.gov/expapi/verbs/passed"),
            Some(Step::Passed)
        );
        assert_eq!(step("https://w3id.org/xapi/adl/verbs/passed"), None);
        assert_eq!(step("http://example.com/verbs/completed"), None);
        assert_eq!(step("http://adlnet.gov/expapi/verbs/experienced"), None);
    }

    #[test]
    fn a_pair_folds_from_registration_to_a_verdict_and_voiding_undoes_it() {
        let mut state = PairState::default();
        state.apply(
            &[s("1", "registered", 1, None), s("2", "launched", 2, None)],
            &[],
        );
        let e = state.enrollment(r("p"), r("c")).unwrap();
        assert_eq!(e.status, EnrollmentStatus::InProgress);
        assert_eq!(e.enrolled_at, parse_time("2024-03-01T12:00:00Z").unwrap());
        state.apply(
            &[s("3", "completed", 5, None), s("4", "failed", 5, Some(40))],
            &[],
        );
        state.apply(&[s("5", "passed", 9, Some(85))], &[]);
        let e = state.enrollment(r("p"), r("c")).unwrap();
        assert_eq!(e.status, EnrollmentStatus::Completed);
        assert_eq!((e.passed, e.score), (Some(true), Some(Decimal::from(85))));
        assert_eq!(
            e.completed_at,
            parse_time("2024-03-09T12:00:00Z").unwrap().into()
        );
        state.apply(&[], &["5".into()]);
        let e = state.enrollment(r("p"), r("c")).unwrap();
        assert_eq!((e.passed, e.score), (Some(false), Some(Decimal::from(40))));
        state.apply(&[], &["1".into(), "2".into(), "3".into(), "4".into()]);
        assert!(state.enrollment(r("p"), r("c")).is_none());
    }
}
