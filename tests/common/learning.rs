//! The generator's learning truth per account, from the simulated world alone (never from a
//! sync): what an LMS serves placed at the account of the learner's CRM contact. An LMS keeps
//! one enrollment per learner and course (Skilljar's progress, Canvas's and Moodle's
//! enrolment): when the world has a person enroll in a course again, the latest enrollment is
//! the one the LMS shows.

use std::collections::BTreeMap;
use tributary_model::EnrollmentStatus;
use tributary_sim::Company;

/// Enrollments, completions and certifications of one account's learners.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Learning {
    /// Every enrollment, whatever its status.
    pub enrolled: u64,
    /// Enrollments completed.
    pub completed: u64,
    /// Completed enrollments that earned a certification.
    pub certified: u64,
}

/// Per world account id: the learning of the people the CRM lists at that account. A fresh
/// CRM sync lands the live contacts of the live companies, so enrollments of contacts the CRM
/// archived (it serves them only as deletions) belong to no account; enrollments at archived
/// companies are left out with the company.
pub fn generator_learning(company: &Company) -> BTreeMap<String, Learning> {
    // The latest enrollment of each (person, course).
    let mut latest: BTreeMap<(usize, usize), &tributary_sim::SimEnrollment> = BTreeMap::new();
    for e in &company.enrollments {
        let slot = latest.entry((e.person, e.course)).or_insert(e);
        if (e.enrolled_at, e.id) > (slot.enrolled_at, slot.id) {
            *slot = e;
        }
    }
    let mut out: BTreeMap<String, Learning> = BTreeMap::new();
    for e in latest.into_values() {
        let contact = &company.contacts[e.person];
        let account = &company.accounts[contact.account];
        if contact.archived_at.is_some() || account.archived_at.is_some() {
            continue;
        }
        let l = out.entry(account.id.clone()).or_default();
        l.enrolled += 1;
        if e.status == EnrollmentStatus::Completed {
            l.completed += 1;
            if e.certified {
                l.certified += 1;
            }
        }
    }
    out
}
