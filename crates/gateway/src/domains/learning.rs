//! The learning domain: the course catalog (a Relay connection with filters), enrollments, and
//! learning progress per account and per role.
//!
//! `Account.enrollments`, `Account.learning`, `Account.learningByRole` and
//! `Person.enrollments` are declared on their types in [`super::accounts`] and resolved here.
//! Who an account's learners are is the store's business (`tributary_store::read::learning`:
//! until identity resolution lands, the people sharing an email with the account's contacts);
//! the counts are `tributary_analytics::learning`'s.

use super::accounts::{ExternalRef, Person, PersonRole, external_refs};
use super::{loaders, store};
use crate::cursor;
use crate::error::GatewayError;
use crate::loaders::{ChildrenOf, CourseById, PersonById};
use crate::paging::{
    DEFAULT_PAGE_SIZE, PageInfo, connection, page_complexity, page_size, wants_total,
};
use crate::prefetch::{self, Prefetched};
use crate::scalars::{DateTime, instant};
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use std::sync::Arc;
use tributary_analytics::learning::{EnrollmentFacts, Progress};
use tributary_store::{
    AccountEnrollmentRow, CourseRow, EnrollmentRow, LearningEventRow, PersonEnrollmentRow,
};
use uuid::Uuid;

/// A course's delivery format.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "tributary_model::CourseKind")]
pub enum CourseKind {
    /// Self-paced online.
    ELearning,
    /// Instructor-led training.
    Ilt,
    /// Live or recorded webinar.
    Webinar,
    /// Certification exam or track.
    Certification,
    /// A sequence of courses.
    LearningPath,
}

/// A course's level.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "tributary_model::CourseLevel")]
pub enum CourseLevel {
    /// Getting started.
    Foundational,
    /// For power users.
    Advanced,
}

/// Where an enrollment stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "tributary_model::EnrollmentStatus")]
pub enum EnrollmentStatus {
    /// Enrolled, not started.
    Enrolled,
    /// Started, not finished.
    InProgress,
    /// Finished.
    Completed,
    /// Withdrawn or expired.
    Dropped,
}

/// Filters on the course catalog; all given conditions must hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct CourseFilter {
    /// Case-insensitive substring of the title.
    pub title_contains: Option<String>,
    /// Exact kind.
    pub kind: Option<CourseKind>,
    /// Exact level.
    pub level: Option<CourseLevel>,
    /// Courses carrying this tag.
    pub tag: Option<String>,
    /// Courses teaching this product feature (its key, e.g. `workflows`).
    pub feature: Option<String>,
}

impl From<CourseFilter> for tributary_store::CourseFilter {
    fn from(f: CourseFilter) -> Self {
        tributary_store::CourseFilter {
            title_contains: f.title_contains,
            kind: f.kind.map(Into::into),
            level: f.level.map(Into::into),
            tag: f.tag,
            feature: f.feature,
        }
    }
}

/// A course of a learning catalog.
pub struct Course(CourseRow);

/// A course of a learning catalog (an LMS course, learning path or xAPI activity).
#[Object]
impl Course {
    /// Our id of the course.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Delivery format: from the LMS where it says, else from the connector's `courses`
    /// mapping in `tributary.toml`.
    async fn kind(&self) -> CourseKind {
        self.0.kind.into()
    }

    /// Level: from the LMS where it says, else from the connector's `courses` mapping.
    async fn level(&self) -> CourseLevel {
        self.0.level.into()
    }

    /// Tags, the LMS's and the mapping's.
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }

    /// Keys of the product features the course teaches.
    async fn features(&self) -> &[String] {
        &self.0.features
    }

    /// The source's last-modified time of the row we hold.
    async fn source_updated_at(&self) -> Option<DateTime> {
        instant(self.0.source_updated_at)
    }

    /// The source rows of this course.
    async fn external_refs(&self, ctx: &Context<'_>) -> Result<Vec<ExternalRef>> {
        external_refs(ctx, None, self.0.id).await
    }
}

/// A person's enrollment in a course.
pub struct Enrollment(EnrollmentRow);

/// A person's enrollment in a course.
#[Object]
impl Enrollment {
    /// Our id of the enrollment.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The learner: the LMS's person (its own record; the CRM contact of the same human is
    /// linked by identity resolution).
    async fn person(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        let Some(id) = self.0.person_id else {
            return Ok(None);
        };
        let row = loaders(ctx)?
            .load_one(PersonById(id))
            .await
            .map_err(GatewayError::from)?;
        Ok(row.map(Person::from))
    }

    /// The course; null when its row is not synced (yet) or deleted.
    async fn course(&self, ctx: &Context<'_>) -> Result<Option<Course>> {
        let Some(id) = self.0.course_id else {
            return Ok(None);
        };
        let row = loaders(ctx)?
            .load_one(CourseById(id))
            .await
            .map_err(GatewayError::from)?;
        Ok(row.map(Course))
    }

    /// When the learner enrolled.
    async fn enrolled_at(&self) -> DateTime {
        DateTime(self.0.enrolled_at)
    }

    /// When the learner started, if they have.
    async fn started_at(&self) -> Option<DateTime> {
        instant(self.0.started_at)
    }

    /// When the learner completed, if they have.
    async fn completed_at(&self) -> Option<DateTime> {
        instant(self.0.completed_at)
    }

    /// The latest of enrolling, starting and completing.
    async fn last_activity_at(&self) -> DateTime {
        DateTime(self.0.last_activity_at())
    }

    /// Status.
    async fn status(&self) -> EnrollmentStatus {
        self.0.status.into()
    }

    /// Score in percent (0–100, exact decimal as text), when graded.
    async fn score(&self) -> Option<String> {
        self.0.score.map(|s| s.normalize().to_string())
    }

    /// Whether the learner passed, when graded.
    async fn passed(&self) -> Option<bool> {
        self.0.passed
    }

    /// Whether the enrollment earned a certification.
    async fn certified(&self) -> bool {
        self.0.certified
    }

    /// The source rows of this enrollment.
    async fn external_refs(&self, ctx: &Context<'_>) -> Result<Vec<ExternalRef>> {
        external_refs(ctx, None, self.0.id).await
    }
}

/// A learning event of a person: one xAPI statement as stored, kept for audit.
pub struct LearningEvent(LearningEventRow);

/// A learning event of a person: one xAPI statement as the statements endpoint stored it.
/// Voided statements are kept (flagged) for audit; nothing derived counts them.
#[Object]
impl LearningEvent {
    /// Our id of the event.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The verb's IRI, e.g. `http://adlnet.gov/expapi/verbs/completed`.
    async fn verb(&self) -> &str {
        &self.0.verb
    }

    /// When it happened (the statement's `timestamp`).
    async fn occurred_at(&self) -> DateTime {
        DateTime(self.0.occurred_at)
    }

    /// When the endpoint stored it (`stored`).
    async fn stored_at(&self) -> DateTime {
        DateTime(self.0.stored_at)
    }

    /// Score in percent (the scaled score × 100, exact decimal as text), when given.
    async fn score(&self) -> Option<String> {
        self.0.score.map(|s| s.normalize().to_string())
    }

    /// `result.success`, when given.
    async fn success(&self) -> Option<bool> {
        self.0.success
    }

    /// `result.completion`, when given.
    async fn completion(&self) -> Option<bool> {
        self.0.completion
    }

    /// The registration the statement belongs to, when given.
    async fn registration(&self) -> Option<&str> {
        self.0.registration.as_deref()
    }

    /// Voided by a later statement.
    async fn voided(&self) -> bool {
        self.0.voided
    }

    /// The course (the statement's activity).
    async fn course(&self, ctx: &Context<'_>) -> Result<Option<Course>> {
        let Some(id) = self.0.course_id else {
            return Ok(None);
        };
        let row = loaders(ctx)?
            .load_one(CourseById(id))
            .await
            .map_err(GatewayError::from)?;
        Ok(row.map(Course))
    }

    /// The statement as stored (JSON text), with its actor's identifiers.
    ///
    /// Needs role cs, ce or admin (otherwise null, with a `FORBIDDEN` error).
    #[graphql(guard = "crate::auth::PERSONAL")]
    async fn statement(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let rows = store(ctx)?
            .raw_payloads_of(&[self.0.id])
            .await
            .map_err(GatewayError::from)?;
        Ok(rows.into_iter().next().map(|(_, v)| v.to_string()))
    }
}

/// `Person.learningEvents`.
pub(crate) async fn person_learning_events(
    ctx: &Context<'_>,
    id: Uuid,
) -> Result<Vec<LearningEvent>> {
    let rows =
        crate::loaders::children(loaders(ctx)?, ChildrenOf::<LearningEventRow>::new(id)).await?;
    Ok(rows.iter().cloned().map(LearningEvent).collect())
}

/// How far a group of learners has come. Enrolled counts every enrollment (dropped ones
/// too); started, those begun or finished; completed, those with status completed;
/// certified, completed ones that earned a certification.
#[derive(SimpleObject, Clone, Debug)]
pub struct LearningProgress {
    /// Enrollments.
    pub enrolled: u64,
    /// Enrollments started or finished.
    pub started: u64,
    /// Enrollments completed.
    pub completed: u64,
    /// Completed enrollments that earned a certification.
    pub certified: u64,
    /// Distinct learners.
    pub learners: u64,
    /// Distinct learners with at least one certification.
    pub certified_learners: u64,
    /// The latest enrolment, start or completion of any of the enrollments.
    pub last_activity_at: Option<DateTime>,
}

impl From<Progress> for LearningProgress {
    fn from(p: Progress) -> Self {
        LearningProgress {
            enrolled: p.enrolled,
            started: p.started,
            completed: p.completed,
            certified: p.certified,
            learners: p.learners,
            certified_learners: p.certified_learners,
            last_activity_at: instant(p.last_activity_at),
        }
    }
}

/// Learning progress of an account's learners in one role.
#[derive(SimpleObject, Clone, Debug)]
pub struct RoleLearningProgress {
    /// The role (the CRM contact's); null for learners whose role is unknown.
    pub role: Option<PersonRole>,
    /// Their progress.
    pub progress: LearningProgress,
}

fn facts(rows: &[AccountEnrollmentRow]) -> Vec<EnrollmentFacts<Uuid>> {
    rows.iter()
        .map(|r| EnrollmentFacts {
            learner: r.learner_id,
            role: r.role,
            status: r.enrollment.status,
            enrolled_at: r.enrollment.enrolled_at,
            started_at: r.enrollment.started_at,
            completed_at: r.enrollment.completed_at,
            certified: r.enrollment.certified,
        })
        .collect()
}

/// The enrollments of account `id`'s learners, prefetched or batched.
pub(crate) async fn account_enrollments(
    ctx: &Context<'_>,
    pre: Option<&Prefetched>,
    id: Uuid,
) -> Result<Arc<[AccountEnrollmentRow]>> {
    Ok(prefetch::children(ctx, pre, id, ChildrenOf::<AccountEnrollmentRow>::new(id)).await?)
}

/// `Account.enrollments`.
pub(crate) async fn account_enrollment_list(
    ctx: &Context<'_>,
    pre: Option<&Prefetched>,
    id: Uuid,
    status: Option<EnrollmentStatus>,
) -> Result<Vec<Enrollment>> {
    let rows = account_enrollments(ctx, pre, id).await?;
    let status = status.map(tributary_model::EnrollmentStatus::from);
    Ok(rows
        .iter()
        .filter(|r| status.is_none_or(|s| r.enrollment.status == s))
        .map(|r| Enrollment(r.enrollment.clone()))
        .collect())
}

/// `Account.learning`.
pub(crate) async fn account_learning(
    ctx: &Context<'_>,
    pre: Option<&Prefetched>,
    id: Uuid,
) -> Result<LearningProgress> {
    let rows = account_enrollments(ctx, pre, id).await?;
    Ok(Progress::of(&facts(&rows)).into())
}

/// `Account.learningByRole`.
pub(crate) async fn account_learning_by_role(
    ctx: &Context<'_>,
    pre: Option<&Prefetched>,
    id: Uuid,
) -> Result<Vec<RoleLearningProgress>> {
    let rows = account_enrollments(ctx, pre, id).await?;
    Ok(Progress::by_role(&facts(&rows))
        .into_iter()
        .map(|(role, p)| RoleLearningProgress {
            role: role.map(Into::into),
            progress: p.into(),
        })
        .collect())
}

/// `Person.enrollments`.
pub(crate) async fn person_enrollments(
    ctx: &Context<'_>,
    pre: Option<&Prefetched>,
    id: Uuid,
) -> Result<Vec<Enrollment>> {
    let rows = prefetch::children(ctx, pre, id, ChildrenOf::<PersonEnrollmentRow>::new(id)).await?;
    Ok(rows
        .iter()
        .map(|r| Enrollment(r.enrollment.clone()))
        .collect())
}

connection!(
    /// A page of courses, ordered by title then id.
    CourseConnection,
    CourseEdge,
    Course
);

/// The learning domain's queries.
#[derive(Default, Debug, Clone, Copy)]
pub struct LearningQuery;

#[Object]
impl LearningQuery {
    /// Courses of every synced catalog, ordered by title then id, `first` (0 to 500) after
    /// the cursor `after`.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn courses(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(DEFAULT_PAGE_SIZE)")] first: Option<i32>,
        after: Option<String>,
        filter: Option<CourseFilter>,
    ) -> Result<CourseConnection> {
        let first = page_size(first)?;
        let after = after
            .as_deref()
            .map(|c| cursor::decode_keyset("course", c))
            .transpose()?;
        let filter = filter.unwrap_or_default().into();
        let page = store(ctx)?
            .list_courses(&filter, first, after, wants_total(ctx, false))
            .await
            .map_err(GatewayError::from)?;
        let edges: Vec<CourseEdge> = page
            .items
            .into_iter()
            .map(|row| CourseEdge {
                cursor: cursor::encode_keyset("course", &row.title, row.id),
                node: Course(row),
            })
            .collect();
        Ok(CourseConnection {
            page_info: PageInfo {
                has_next_page: page.has_next,
                has_previous_page: false,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: page.total,
        })
    }

    /// One course by id; null when there is none.
    async fn course(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Course>> {
        let uuid = Uuid::parse_str(&id).map_err(|_| {
            GatewayError::Validation(format!("`id` must be a course id (a UUID), got `{}`", id.0))
        })?;
        let rows = store(ctx)?
            .courses_by_id(&[uuid])
            .await
            .map_err(GatewayError::from)?;
        Ok(rows.into_iter().next().map(Course))
    }
}
