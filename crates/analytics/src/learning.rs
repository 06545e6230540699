//! Learning progress: how far a group of learners (an account, one role at an account) has
//! come — enrolled, started, completed, certified — from their enrollments.
//!
//! Definitions (SPEC §8's "trained" builds on them):
//! - **enrolled**: enrollments, whatever their status (a dropped one included);
//! - **started**: enrollments with a start or a completion time, or in progress or completed;
//! - **completed**: enrollments with status completed;
//! - **certified**: completed enrollments that earned a certification;
//! - **learners**: distinct people with at least one enrollment; `certified_learners`:
//!   distinct people with at least one certification;
//! - **last activity**: the latest enrolment, start or completion time of any enrollment.

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use tributary_model::{EnrollmentStatus, PersonRole};

/// One enrollment as progress counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrollmentFacts<L> {
    /// The learner (any id that is equal for the same person).
    pub learner: L,
    /// The learner's role at the account, when known.
    pub role: Option<PersonRole>,
    /// Status.
    pub status: EnrollmentStatus,
    /// When the learner enrolled.
    pub enrolled_at: DateTime<Utc>,
    /// When the learner started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the learner completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Whether it earned a certification.
    pub certified: bool,
}

/// Learning progress of a group of learners (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Enrollments.
    pub enrolled: u64,
    /// Enrollments started (or finished).
    pub started: u64,
    /// Enrollments completed.
    pub completed: u64,
    /// Completed enrollments that earned a certification.
    pub certified: u64,
    /// Distinct learners.
    pub learners: u64,
    /// Distinct learners holding at least one certification.
    pub certified_learners: u64,
    /// The latest activity of any enrollment.
    pub last_activity_at: Option<DateTime<Utc>>,
}

impl Progress {
    /// The progress of these enrollments.
    pub fn of<'a, L: Ord + Copy + 'a>(
        enrollments: impl IntoIterator<Item = &'a EnrollmentFacts<L>>,
    ) -> Progress {
        let mut p = Progress::default();
        let mut learners = BTreeSet::new();
        let mut certified = BTreeSet::new();
        for e in enrollments {
            p.enrolled += 1;
            let completed = e.status == EnrollmentStatus::Completed;
            if completed
                || e.status == EnrollmentStatus::InProgress
                || e.started_at.is_some()
                || e.completed_at.is_some()
            {
                p.started += 1;
            }
            if completed {
                p.completed += 1;
                if e.certified {
                    p.certified += 1;
                    certified.insert(e.learner);
                }
            }
            learners.insert(e.learner);
            let last = [e.started_at, e.completed_at]
                .into_iter()
                .flatten()
                .fold(e.enrolled_at, Ord::max);
            p.last_activity_at = p.last_activity_at.max(Some(last));
        }
        p.learners = learners.len() as u64;
        p.certified_learners = certified.len() as u64;
        p
    }

    /// The progress of these enrollments per role of their learners (`None`: role unknown),
    /// roles in their declared order.
    pub fn by_role<'a, L: Ord + Copy + 'a>(
        enrollments: impl IntoIterator<Item = &'a EnrollmentFacts<L>>,
    ) -> Vec<(Option<PersonRole>, Progress)> {
        // Keyed by the role's declared order, unknown first.
        type Group<'b, L> = (Option<PersonRole>, Vec<&'b EnrollmentFacts<L>>);
        let mut groups: BTreeMap<Option<u8>, Group<'a, L>> = BTreeMap::new();
        for e in enrollments {
            let order = e.role.map(|r| r as u8);
            groups
                .entry(order)
                .or_insert((e.role, Vec::new()))
                .1
                .push(e);
        }
        groups
            .into_values()
            .map(|(role, es)| (role, Progress::of(es)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap()
    }

    fn e(learner: u32, role: Option<PersonRole>, status: EnrollmentStatus) -> EnrollmentFacts<u32> {
        EnrollmentFacts {
            learner,
            role,
            status,
            enrolled_at: at(1),
            started_at: (status != EnrollmentStatus::Enrolled).then(|| at(2)),
            completed_at: (status == EnrollmentStatus::Completed).then(|| at(learner + 3)),
            certified: false,
        }
    }

    #[test]
    fn counts_follow_the_definitions() {
        use EnrollmentStatus::*;
        let mut cert = e(2, Some(PersonRole::Admin), Completed);
        cert.certified = true;
        let mut dropped_cert = e(3, None, Dropped);
        dropped_cert.certified = true; // not completed: not a certification
        let all = [
            e(1, Some(PersonRole::Admin), Enrolled),
            e(1, Some(PersonRole::Admin), Completed),
            cert,
            e(3, None, InProgress),
            dropped_cert,
        ];
        let p = Progress::of(&all);
        assert_eq!(
            (p.enrolled, p.started, p.completed, p.certified),
            (5, 4, 2, 1)
        );
        assert_eq!((p.learners, p.certified_learners), (3, 1));
        assert_eq!(p.last_activity_at, Some(at(5)), "learner 2's completion");
        let roles = Progress::by_role(&all);
        assert_eq!(roles.len(), 2);
        assert_eq!(roles[0].0, None);
        assert_eq!(roles[1].0, Some(PersonRole::Admin));
        assert_eq!(roles[1].1.learners, 2);
        assert_eq!(
            Progress::of(&[] as &[EnrollmentFacts<u32>]),
            Progress::default()
        );
    }
}
