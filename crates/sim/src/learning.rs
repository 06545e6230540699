//! The learning side of the company: the product's feature catalog with its release calendar,
//! the course catalog that teaches those features, and every enrollment of every person.
//!
//! Enrollments follow the treatment the causal model drew for each contract year
//! ([`crate::causal`]): in a trained year some people complete courses inside the exposure
//! window (a certification among them in a certified year); in every year a few people enroll
//! and drop or stall, so enrollments alone never mean training. Each record is planned over
//! its whole life (enrolled, started, progress milestones, completed or dropped) independently
//! of `today`; what a given `today` shows is that plan seen as of then.

use crate::causal::{ContractPath, DGP, Treatment};
use crate::company::{Presence, draws, hash_unit, idx_of, midnight, present_at, stream_rng};
use crate::names;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use tributary_model::{CourseKind, CourseLevel, EnrollmentStatus};

/// A product feature and its release.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimFeature {
    /// Stable numeric id, 1-based in release order.
    pub id: u32,
    /// Stable key, e.g. `workflows`; the `feature` of usage events and tickets.
    pub key: &'static str,
    /// Display name.
    pub name: &'static str,
    /// General availability day.
    pub released_on: NaiveDate,
    /// Part of the core product, used from an account's first day.
    pub core: bool,
    /// The key-action feature: its first use by an account marks time-to-value.
    pub key_action: bool,
    /// The usage event names the feature emits.
    pub events: &'static [&'static str],
    /// When the feature was announced (45 days before release).
    pub created_at: DateTime<Utc>,
    /// Last change: the release itself once it has happened.
    pub updated_at: DateTime<Utc>,
}

/// A course of the learning catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimCourse {
    /// Stable numeric id, ascending in creation order.
    pub id: u64,
    /// Stable slug, e.g. `getting-started-workflows`.
    pub code: String,
    /// Title.
    pub title: String,
    /// Delivery format (e-learning, ILT, webinar, certification, learning path).
    pub kind: CourseKind,
    /// Foundational or advanced.
    pub level: CourseLevel,
    /// Keys of the product features it teaches.
    pub features: Vec<&'static str>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Expected duration in minutes.
    pub duration_minutes: u32,
    /// Passing score in percent for graded courses (quizzes and exams).
    pub passing_score: Option<u32>,
    /// For a learning path: indices into [`crate::Company::courses`] of its courses, in order.
    pub path_courses: Vec<usize>,
    /// When the course was published.
    pub created_at: DateTime<Utc>,
    /// Last revision.
    pub updated_at: DateTime<Utc>,
}

/// A person's enrollment in a course, as of the company's today.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimEnrollment {
    /// Stable numeric id, ascending in enrollment order.
    pub id: u64,
    /// Index into [`crate::Company::accounts`] of the learner's account at enrollment.
    pub account: usize,
    /// Index into [`crate::Company::contacts`] of the learner.
    pub person: usize,
    /// Index into [`crate::Company::courses`].
    pub course: usize,
    /// For a course taken as part of a learning path: the path's index in `courses`.
    pub learning_path: Option<usize>,
    /// When the learner enrolled (the record's creation).
    pub enrolled_at: DateTime<Utc>,
    /// When the learner started, if they have.
    pub started_at: Option<DateTime<Utc>>,
    /// When the learner completed, if they have.
    pub completed_at: Option<DateTime<Utc>>,
    /// When the enrollment was dropped (withdrawn or expired), if it was.
    pub dropped_at: Option<DateTime<Utc>>,
    /// Status.
    pub status: EnrollmentStatus,
    /// Progress in percent (100 when completed).
    pub progress_percent: u8,
    /// Score in percent for a completed graded course.
    pub score: Option<Decimal>,
    /// Whether a completed graded course was passed.
    pub passed: Option<bool>,
    /// Whether the completion earned a certification.
    pub certified: bool,
    /// When the record was created (= `enrolled_at`).
    pub created_at: DateTime<Utc>,
    /// Last change (start, progress, completion or drop).
    pub updated_at: DateTime<Utc>,
}

/// The feature catalog, including features not announced yet (filter on `created_at`).
pub(crate) fn feature_catalog(history_start: NaiveDate) -> Vec<SimFeature> {
    names::FEATURES
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let released_on = history_start + Duration::days(f.release_offset_days);
            SimFeature {
                id: i as u32 + 1,
                key: f.key,
                name: f.name,
                released_on,
                core: f.core,
                key_action: f.key_action,
                events: f.events,
                created_at: midnight(released_on - Duration::days(45)) + Duration::hours(15),
                updated_at: midnight(released_on) + Duration::hours(16),
            }
        })
        .collect()
}

/// The feature catalog as of `today`: announced features, released ones updated.
pub(crate) fn features_as_of(history_start: NaiveDate, today: NaiveDate) -> Vec<SimFeature> {
    let cutoff = midnight(today);
    feature_catalog(history_start)
        .into_iter()
        .filter(|f| f.created_at < cutoff)
        .map(|mut f| {
            if f.updated_at >= cutoff {
                f.updated_at = f.created_at;
            }
            f
        })
        .collect()
}

/// A course over its whole life, before the `today` cut.
struct CoursePlan {
    code: String,
    title: String,
    kind: CourseKind,
    level: CourseLevel,
    features: Vec<&'static str>,
    tags: Vec<String>,
    duration_minutes: u32,
    passing_score: Option<u32>,
    path_codes: Vec<String>,
    created_at: DateTime<Utc>,
}

/// What kind of course a learner picks; used to find candidates quickly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    Foundational,
    Advanced,
    Ilt,
    Webinar,
    Certification,
    Path,
}

impl Pick {
    const ALL: [Pick; 6] = [
        Pick::Foundational,
        Pick::Advanced,
        Pick::Ilt,
        Pick::Webinar,
        Pick::Certification,
        Pick::Path,
    ];

    fn of(c: &SimCourse) -> Pick {
        match (c.kind, c.level) {
            (CourseKind::ELearning, CourseLevel::Foundational) => Pick::Foundational,
            (CourseKind::ELearning, CourseLevel::Advanced) => Pick::Advanced,
            (CourseKind::Ilt, _) => Pick::Ilt,
            (CourseKind::Webinar, _) => Pick::Webinar,
            (CourseKind::Certification, _) => Pick::Certification,
            (CourseKind::LearningPath, _) => Pick::Path,
        }
    }
}

/// The whole course catalog (every course ever published, in creation order) and, per
/// [`Pick`], the indices of its courses in creation order.
pub(crate) struct Catalog {
    pub courses: Vec<SimCourse>,
    by_pick: Vec<Vec<usize>>,
}

impl Catalog {
    /// Builds the catalog; deterministic in the seed and independent of `today`.
    pub(crate) fn build(seed: u64, history_start: NaiveDate) -> Catalog {
        let mut rng = stream_rng(seed, "catalog", 0);
        let catalog_start = history_start - Duration::days(365);
        let day = |offset: i64| history_start + Duration::days(offset);
        let at =
            |d: NaiveDate, u: f64| midnight(d) + Duration::minutes(9 * 60 + (u * 480.0) as i64);
        let mut plans = Vec::new();
        for (i, f) in names::FEATURES.iter().enumerate() {
            let released = day(f.release_offset_days).max(catalog_start);
            let u: [f64; 8] = draws(&mut rng);
            let tags = |extra: &str| vec![f.key.replace('_', "-"), extra.to_owned()];
            plans.push(CoursePlan {
                code: format!("getting-started-{}", f.key.replace('_', "-")),
                title: format!("Getting Started with {}", f.name),
                kind: CourseKind::ELearning,
                level: CourseLevel::Foundational,
                features: vec![f.key],
                tags: tags("foundational"),
                duration_minutes: 20 + (u[0] * 25.0) as u32,
                passing_score: Some(70),
                path_codes: Vec::new(),
                created_at: at(released + Duration::days((u[1] * 20.0) as i64), u[2]),
            });
            plans.push(CoursePlan {
                code: format!("{}-in-depth", f.key.replace('_', "-")),
                title: format!("{} in Depth", f.name),
                kind: CourseKind::ELearning,
                level: CourseLevel::Advanced,
                features: vec![f.key],
                tags: tags("advanced"),
                duration_minutes: 45 + (u[3] * 45.0) as u32,
                passing_score: Some(75),
                path_codes: Vec::new(),
                created_at: at(released + Duration::days(60 + (u[4] * 60.0) as i64), u[2]),
            });
            if i % 3 == 0 {
                plans.push(CoursePlan {
                    code: format!("{}-workshop", f.key.replace('_', "-")),
                    title: format!("{} Workshop (instructor-led)", f.name),
                    kind: CourseKind::Ilt,
                    level: CourseLevel::Advanced,
                    features: vec![f.key],
                    tags: tags("ilt"),
                    duration_minutes: 180 + 60 * (u[5] * 3.0) as u32,
                    passing_score: None,
                    path_codes: Vec::new(),
                    created_at: at(released + Duration::days(90 + (u[6] * 60.0) as i64), u[7]),
                });
            }
            if f.release_offset_days > 0 {
                plans.push(CoursePlan {
                    code: format!("whats-new-{}", f.key.replace('_', "-")),
                    title: format!("What's New: {}", f.name),
                    kind: CourseKind::Webinar,
                    level: CourseLevel::Foundational,
                    features: vec![f.key],
                    tags: tags("webinar"),
                    duration_minutes: 45,
                    passing_score: None,
                    path_codes: Vec::new(),
                    // Published with the feature's announcement, ahead of the release.
                    created_at: at(day(f.release_offset_days) - Duration::days(40), u[7]),
                });
            }
        }
        for (title, offset, features) in names::CERTIFICATIONS {
            let u: [f64; 2] = draws(&mut rng);
            plans.push(CoursePlan {
                code: title.to_ascii_lowercase().replace(' ', "-"),
                title: (*title).to_owned(),
                kind: CourseKind::Certification,
                level: CourseLevel::Advanced,
                features: features.to_vec(),
                tags: vec!["certification".to_owned()],
                duration_minutes: 90 + (u[0] * 4.0) as u32 * 15,
                passing_score: Some(70),
                path_codes: Vec::new(),
                created_at: at(day(*offset), u[1]),
            });
        }
        for (title, features) in names::LEARNING_PATHS {
            let u: [f64; 1] = draws(&mut rng);
            let codes: Vec<String> = features
                .iter()
                .map(|k| format!("getting-started-{}", k.replace('_', "-")))
                .collect();
            let created = codes
                .iter()
                .filter_map(|c| plans.iter().find(|p| &p.code == c))
                .map(|p| p.created_at)
                .max()
                .unwrap_or_else(|| midnight(catalog_start));
            plans.push(CoursePlan {
                code: title.to_ascii_lowercase().replace(' ', "-"),
                title: (*title).to_owned(),
                kind: CourseKind::LearningPath,
                level: CourseLevel::Foundational,
                features: features.to_vec(),
                tags: vec!["learning-path".to_owned()],
                duration_minutes: 0,
                passing_score: None,
                path_codes: codes,
                created_at: created + Duration::days(7 + (u[0] * 14.0) as i64),
            });
        }
        plans.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.code.cmp(&b.code)));
        let index_of = |code: &str| plans.iter().position(|p| p.code == code);
        let mut courses: Vec<SimCourse> = plans
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let path_courses: Vec<usize> =
                    p.path_codes.iter().filter_map(|c| index_of(c)).collect();
                let duration_minutes = if p.kind == CourseKind::LearningPath {
                    path_courses
                        .iter()
                        .map(|&j| plans[j].duration_minutes)
                        .sum()
                } else {
                    p.duration_minutes
                };
                SimCourse {
                    id: 1001 + i as u64,
                    code: p.code.clone(),
                    title: p.title.clone(),
                    kind: p.kind,
                    level: p.level,
                    features: p.features.clone(),
                    tags: p.tags.clone(),
                    duration_minutes,
                    passing_score: p.passing_score,
                    path_courses,
                    created_at: p.created_at,
                    updated_at: p.created_at,
                }
            })
            .collect();
        // Ids have gaps in a real LMS; keep them ascending.
        let mut next = 1000u64;
        for c in &mut courses {
            next += 1 + (hash_unit(seed, "course-ids", c.id, 0) * 5.0) as u64;
            c.id = next;
        }
        let mut by_pick = vec![Vec::new(); Pick::ALL.len()];
        for (i, c) in courses.iter().enumerate() {
            let slot = Pick::ALL
                .iter()
                .position(|p| *p == Pick::of(c))
                .unwrap_or(0);
            by_pick[slot].push(i);
        }
        Catalog { courses, by_pick }
    }

    /// Courses of a pick published before `t` (a prefix of the creation order).
    fn available(&self, pick: Pick, t: DateTime<Utc>) -> &[usize] {
        let slot = Pick::ALL.iter().position(|p| *p == pick).unwrap_or(0);
        let list = &self.by_pick[slot];
        let n = list.partition_point(|&i| self.courses[i].created_at < t);
        &list[..n]
    }

    /// The catalog as of `today`: published courses, with their last revision before today.
    /// Courses are revised every 200–500 days.
    pub(crate) fn as_of(&self, seed: u64, today: NaiveDate) -> Vec<SimCourse> {
        let cutoff = midnight(today);
        self.courses
            .iter()
            .filter(|c| c.created_at < cutoff)
            .map(|c| {
                let mut c = c.clone();
                let mut t = c.created_at;
                for k in 0u64.. {
                    let gap = 200.0 + 300.0 * hash_unit(seed, "course-revisions", c.id, k);
                    let next = t + Duration::minutes((gap * 1440.0) as i64);
                    if next >= cutoff {
                        break;
                    }
                    t = next;
                }
                c.updated_at = t;
                c
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    Completed {
        score: Option<Decimal>,
        passed: Option<bool>,
        certified: bool,
    },
    Dropped,
}

/// An enrollment over its whole life.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EnrollmentPlan {
    pub account: usize,
    pub person: usize,
    pub course: usize,
    pub learning_path: Option<usize>,
    pub enrolled_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    /// Progress milestones after the start: (time, percent).
    milestones: Vec<(DateTime<Utc>, u8)>,
    end: Option<(DateTime<Utc>, End)>,
    /// Order within the account (ties of `enrolled_at` are broken by it).
    pub seq: u32,
}

impl EnrollmentPlan {
    /// The record as of `today`, if the learner had enrolled by then (id unset).
    pub(crate) fn as_of(&self, today: NaiveDate) -> Option<SimEnrollment> {
        let cutoff = midnight(today);
        if self.enrolled_at >= cutoff {
            return None;
        }
        let mut updated_at = self.enrolled_at;
        let started_at = self.started_at.filter(|t| *t < cutoff);
        let mut progress = 0u8;
        if let Some(s) = started_at {
            updated_at = s;
            for (t, p) in &self.milestones {
                if *t < cutoff {
                    progress = *p;
                    updated_at = *t;
                }
            }
        }
        let mut e = SimEnrollment {
            id: 0,
            account: self.account,
            person: self.person,
            course: self.course,
            learning_path: self.learning_path,
            enrolled_at: self.enrolled_at,
            started_at,
            completed_at: None,
            dropped_at: None,
            status: if started_at.is_some() {
                EnrollmentStatus::InProgress
            } else {
                EnrollmentStatus::Enrolled
            },
            progress_percent: progress,
            score: None,
            passed: None,
            certified: false,
            created_at: self.enrolled_at,
            updated_at,
        };
        match self.end {
            Some((
                t,
                End::Completed {
                    score,
                    passed,
                    certified,
                },
            )) if t < cutoff => {
                e.completed_at = Some(t);
                e.status = EnrollmentStatus::Completed;
                e.progress_percent = 100;
                e.score = score;
                e.passed = passed;
                e.certified = certified;
                e.updated_at = t;
            }
            Some((t, End::Dropped)) if t < cutoff => {
                e.dropped_at = Some(t);
                e.status = EnrollmentStatus::Dropped;
                e.updated_at = t;
            }
            _ => {}
        }
        Some(e)
    }

    /// When it completes, whatever `today` is.
    pub(crate) fn completion(&self) -> Option<(DateTime<Utc>, bool)> {
        match self.end {
            Some((t, End::Completed { certified, .. })) => Some((t, certified)),
            _ => None,
        }
    }
}

/// A completion at an account: when, which course, whether it certified.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Completion {
    pub at: DateTime<Utc>,
    pub course: usize,
    pub certified: bool,
}

fn score(u: f64, lo: f64, hi: f64) -> Decimal {
    let mut d = Decimal::from((lo + (hi - lo) * u).floor() as i64);
    d.rescale(0);
    d
}

/// Plans every enrollment of account `idx` in the contract years that start before `today`
/// (later years' records would all lie after it). In a trained year, learners complete
/// courses inside the exposure window; in every year, some people enroll without completing.
pub(crate) fn plan_enrollments(
    seed: u64,
    idx: usize,
    path: &ContractPath,
    people: &[Presence],
    catalog: &Catalog,
    today: NaiveDate,
) -> Vec<EnrollmentPlan> {
    let mut rng = stream_rng(seed, "learning", idx as u64);
    let mut out: Vec<EnrollmentPlan> = Vec::new();
    let mut seq = 0u32;
    let mut push = |mut p: EnrollmentPlan, out: &mut Vec<EnrollmentPlan>| {
        p.seq = seq;
        seq += 1;
        out.push(p);
    };
    for year in &path.years {
        if year.term_start >= today {
            break;
        }
        let tier = year.state.tier;
        let window_start = midnight(year.term_start);
        let window_end = midnight(year.anniversary - Duration::days(DGP.exposure_window_end_days));
        let window_ms = (window_end - window_start).num_milliseconds() as f64;
        let header: [f64; 2] = draws(&mut rng);
        let learners = if year.treatment.is_trained() {
            1 + idx_of(header[0], [2, 3, 6][tier])
        } else {
            0
        };
        for k in 0..learners {
            let u: [f64; 16] = draws(&mut rng);
            let done = if year.year == 1 && k == 0 && u[0] < 0.45 {
                // Onboarding: completed within the first three weeks.
                window_start
                    + Duration::days(3)
                    + Duration::milliseconds((u[1] * 18.0 * 86_400_000.0) as i64)
            } else {
                window_start
                    + Duration::days(7)
                    + Duration::milliseconds((u[1] * (window_ms - 8.0 * 86_400_000.0)) as i64)
            };
            let enrolled = (done - Duration::minutes((60.0 + u[2] * 20.0 * 1440.0) as i64))
                .max(window_start + Duration::minutes(30));
            let started = enrolled
                + Duration::milliseconds(
                    (u[3] * (done - enrolled).num_milliseconds().min(3 * 86_400_000) as f64) as i64,
                );
            let Some(person) = present_at(people, enrolled, done, u[4]) else {
                continue;
            };
            let certified_year = year.treatment == Treatment::Certified;
            let pick = if certified_year && k == 0 {
                Pick::Certification
            } else if u[5] < 0.15 {
                Pick::Path
            } else if u[5] < 0.27 {
                Pick::Certification
            } else if u[5] < 0.37 {
                Pick::Ilt
            } else if u[5] < 0.47 {
                Pick::Webinar
            } else if u[5] < 0.8 {
                Pick::Foundational
            } else {
                Pick::Advanced
            };
            let mut candidates = catalog.available(pick, enrolled);
            let mut pick = pick;
            if candidates.is_empty() {
                pick = Pick::Foundational;
                candidates = catalog.available(pick, enrolled);
            }
            if candidates.is_empty() {
                continue;
            }
            let course = candidates[idx_of(u[6], candidates.len())];
            let milestones = |from: DateTime<Utc>, to: DateTime<Utc>| {
                let span = (to - from).num_milliseconds();
                [25u8, 50, 75]
                    .iter()
                    .map(|&p| (from + Duration::milliseconds(span * i64::from(p) / 100), p))
                    .collect::<Vec<_>>()
            };
            match pick {
                Pick::Path => {
                    let parts = &catalog.courses[course].path_courses;
                    let m = parts.len().max(1) as i64;
                    let span = (done - started).num_milliseconds();
                    let mut prev = started;
                    for (j, &part) in parts.iter().enumerate() {
                        let end = started + Duration::milliseconds(span * (j as i64 + 1) / m);
                        push(
                            EnrollmentPlan {
                                account: idx,
                                person,
                                course: part,
                                learning_path: Some(course),
                                enrolled_at: enrolled,
                                started_at: Some(prev),
                                milestones: milestones(prev, end),
                                end: Some((
                                    end,
                                    End::Completed {
                                        score: Some(score(u[7 + j % 4], 72.0, 100.0)),
                                        passed: Some(true),
                                        certified: false,
                                    },
                                )),
                                seq: 0,
                            },
                            &mut out,
                        );
                        prev = end;
                    }
                    push(
                        EnrollmentPlan {
                            account: idx,
                            person,
                            course,
                            learning_path: None,
                            enrolled_at: enrolled,
                            started_at: Some(started),
                            milestones: milestones(started, done),
                            end: Some((
                                done,
                                End::Completed {
                                    score: None,
                                    passed: None,
                                    certified: false,
                                },
                            )),
                            seq: 0,
                        },
                        &mut out,
                    );
                }
                _ => {
                    let graded = catalog.courses[course].passing_score.is_some();
                    let end = if pick == Pick::Certification {
                        // In a certified year the first learner passes and others may; in a
                        // merely trained year every attempt fails (still a completion).
                        let passes = certified_year && (k == 0 || u[11] < 0.5);
                        let s = if passes {
                            score(u[12], 70.0, 100.0)
                        } else {
                            score(u[12], 35.0, 70.0)
                        };
                        End::Completed {
                            score: Some(s),
                            passed: Some(passes),
                            certified: passes,
                        }
                    } else if graded {
                        End::Completed {
                            score: Some(score(u[12], 70.0, 100.0)),
                            passed: Some(true),
                            certified: false,
                        }
                    } else {
                        End::Completed {
                            score: None,
                            passed: None,
                            certified: false,
                        }
                    };
                    push(
                        EnrollmentPlan {
                            account: idx,
                            person,
                            course,
                            learning_path: None,
                            enrolled_at: enrolled,
                            started_at: Some(started),
                            milestones: milestones(started, done),
                            end: Some((done, end)),
                            seq: 0,
                        },
                        &mut out,
                    );
                }
            }
        }

        // People who enroll and never complete: dropped, stalled or never started.
        let year_ms = (midnight(year.anniversary) - window_start).num_milliseconds() as f64;
        let idle = idx_of(header[1], [3, 4, 6][tier]);
        for _ in 0..idle {
            let u: [f64; 8] = draws(&mut rng);
            let enrolled = window_start + Duration::milliseconds((u[0] * year_ms) as i64);
            let started = enrolled + Duration::minutes((u[1] * 5.0 * 1440.0) as i64);
            let Some(person) = present_at(people, enrolled, enrolled, u[2]) else {
                continue;
            };
            let pick =
                [Pick::Foundational, Pick::Advanced, Pick::Ilt, Pick::Webinar][idx_of(u[3], 4)];
            let candidates = catalog.available(pick, enrolled);
            if candidates.is_empty() {
                continue;
            }
            let course = candidates[idx_of(u[4], candidates.len())];
            let step = Duration::minutes((1440.0 * (3.0 + u[5] * 20.0)) as i64);
            let (started_at, milestones, end) = if u[6] < 0.4 {
                let dropped = started + step * 2;
                (
                    Some(started),
                    vec![(started + step, 25)],
                    Some((dropped, End::Dropped)),
                )
            } else if u[6] < 0.7 {
                let stall = if u[7] < 0.5 { 25 } else { 50 };
                let ms = if stall == 25 {
                    vec![(started + step, 25)]
                } else {
                    vec![(started + step, 25), (started + step * 2, 50)]
                };
                (Some(started), ms, None)
            } else {
                (None, Vec::new(), None)
            };
            push(
                EnrollmentPlan {
                    account: idx,
                    person,
                    course,
                    learning_path: None,
                    enrolled_at: enrolled,
                    started_at,
                    milestones,
                    end,
                    seq: 0,
                },
                &mut out,
            );
        }
    }
    out
}

/// The completions among an account's enrollment plans, in time order.
pub(crate) fn completions(plans: &[EnrollmentPlan]) -> Vec<Completion> {
    let mut out: Vec<Completion> = plans
        .iter()
        .filter_map(|p| {
            p.completion().map(|(at, certified)| Completion {
                at,
                course: p.course,
                certified,
            })
        })
        .collect();
    out.sort_by_key(|c| (c.at, c.course));
    out
}

#[cfg(test)]
/// The treatment an account's completions give one contract year (what an analyst recovers
/// from the LMS data): completions inside `[term_start, anniversary − 30 days)`.
pub(crate) fn observed_treatment(
    completions: &[Completion],
    term_start: NaiveDate,
    anniversary: NaiveDate,
) -> Treatment {
    let from = midnight(term_start);
    let to = midnight(anniversary - Duration::days(DGP.exposure_window_end_days));
    let mut t = Treatment::Untrained;
    for c in completions.iter().filter(|c| c.at >= from && c.at < to) {
        t = t.max(if c.certified {
            Treatment::Certified
        } else {
            Treatment::Completed
        });
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Company, SimConfig};

    #[test]
    fn completions_reproduce_every_years_treatment_including_the_current_one() {
        let co = Company::generate(&SimConfig {
            accounts: 400,
            ..SimConfig::default()
        });
        let mut trained = 0;
        for i in 0..co.accounts.len() {
            let completions = completions(&co.enrollment_plans(i));
            for y in co
                .lives
                .path(i)
                .years
                .iter()
                .filter(|y| y.term_start < co.today)
            {
                assert_eq!(
                    observed_treatment(&completions, y.term_start, y.anniversary),
                    y.treatment,
                    "{y:?}"
                );
                trained += usize::from(y.treatment.is_trained());
            }
        }
        assert!(trained > 200, "{trained}");
    }

    #[test]
    fn enrollments_as_of_show_progress_then_an_end() {
        let co = Company::generate(&SimConfig {
            accounts: 100,
            ..SimConfig::default()
        });
        let plans = (0..co.accounts.len())
            .map(|i| co.enrollment_plans(i))
            .find(|plans| plans.iter().any(|p| p.completion().is_some()))
            .unwrap();
        let done = plans.iter().find(|p| p.completion().is_some()).unwrap();
        let (at, _) = done.completion().unwrap();
        let before = done.as_of(at.date_naive()).unwrap();
        let after = done.as_of(at.date_naive() + Duration::days(1)).unwrap();
        assert_ne!(before.status, EnrollmentStatus::Completed);
        assert!(before.progress_percent < 100);
        assert_eq!(after.status, EnrollmentStatus::Completed);
        assert_eq!(after.completed_at, Some(at));
        assert_eq!(after.updated_at, at);
        assert!(done.as_of(done.enrolled_at.date_naive()).is_none());
    }
}
