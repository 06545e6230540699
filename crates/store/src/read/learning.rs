//! The learning domain: the course catalog, enrollments, and who of an account is learning.
//!
//! **Learners and accounts.** An LMS learner is a person of their own (the LMS's user), with no
//! account: the LMS does not know the CRM. Until identity resolution links people across
//! systems (SPEC §4, issue 16), a learner belongs to the account of every person with the same
//! normalised email (the CRM contact), and takes that contact's role — §4's exact-email rule,
//! applied when reading. It lives in one place, [`LEARNERS_OF_ACCOUNTS`]'s query, so resolved
//! links can replace it there. A CRM contact deleted by the CRM still places its learner at
//! the account (the enrollment happened while they were there).

use super::{Child, Page, decode, rows_in, sealed};
use crate::entities::{course, enrollment, learning_event};
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use rust_decimal::Decimal;
use sea_orm::sea_query::{Alias, Expr, JoinType, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use tributary_model::{CourseKind, CourseLevel, EnrollmentStatus, PersonRole};
use uuid::Uuid;

/// A live course of a learning catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseRow {
    /// Our id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Delivery format.
    pub kind: CourseKind,
    /// Level.
    pub level: CourseLevel,
    /// Tags.
    pub tags: Vec<String>,
    /// Product features the course teaches.
    pub features: Vec<String>,
    /// The source's last-modified time of the row held.
    pub source_updated_at: Option<DateTime<Utc>>,
}

fn strings(
    table: &'static str,
    column: &str,
    v: serde_json::Value,
) -> Result<Vec<String>, StoreError> {
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt {
        table,
        message: format!("`{column}` is not a list of strings: {e}"),
    })
}

fn enum_of<T: serde::de::DeserializeOwned>(
    table: &'static str,
    column: &str,
    value: &str,
) -> Result<T, StoreError> {
    decode(table, column, value, |s| {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    })
}

impl TryFrom<course::Model> for CourseRow {
    type Error = StoreError;

    fn try_from(m: course::Model) -> Result<Self, StoreError> {
        const T: &str = "courses";
        Ok(CourseRow {
            id: m.id,
            kind: enum_of(T, "kind", &m.kind)?,
            level: enum_of(T, "level", &m.level)?,
            tags: strings(T, "tags", m.tags)?,
            features: strings(T, "features", m.features)?,
            title: m.title,
            source_updated_at: m.source_updated_at,
        })
    }
}

/// Filters on the course list; all given conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct CourseFilter {
    /// Case-insensitive substring of the title.
    pub title_contains: Option<String>,
    /// Exact kind.
    pub kind: Option<CourseKind>,
    /// Exact level.
    pub level: Option<CourseLevel>,
    /// Courses carrying this tag.
    pub tag: Option<String>,
    /// Courses teaching this product feature.
    pub feature: Option<String>,
}

impl CourseFilter {
    fn matches(&self, c: &CourseRow) -> bool {
        self.title_contains
            .as_deref()
            .is_none_or(|s| c.title.to_lowercase().contains(&s.to_lowercase()))
            && self.kind.is_none_or(|k| c.kind == k)
            && self.level.is_none_or(|l| c.level == l)
            && self.tag.as_ref().is_none_or(|t| c.tags.contains(t))
            && self.feature.as_ref().is_none_or(|f| c.features.contains(f))
    }
}

/// A live enrollment of a person in a course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentRow {
    /// Our id.
    pub id: Uuid,
    /// The learner (the LMS's person).
    pub person_id: Option<Uuid>,
    /// The course.
    pub course_id: Option<Uuid>,
    /// When the learner enrolled.
    pub enrolled_at: DateTime<Utc>,
    /// When the learner started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the learner completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Status.
    pub status: EnrollmentStatus,
    /// Score in percent, when graded.
    pub score: Option<Decimal>,
    /// Whether the learner passed, when graded.
    pub passed: Option<bool>,
    /// Whether the enrollment earned a certification.
    pub certified: bool,
}

impl EnrollmentRow {
    /// The latest of enrolling, starting and completing: the enrollment's last known activity.
    pub fn last_activity_at(&self) -> DateTime<Utc> {
        [self.started_at, self.completed_at]
            .into_iter()
            .flatten()
            .fold(self.enrolled_at, Ord::max)
    }
}

impl TryFrom<enrollment::Model> for EnrollmentRow {
    type Error = StoreError;

    fn try_from(m: enrollment::Model) -> Result<Self, StoreError> {
        const T: &str = "enrollments";
        Ok(EnrollmentRow {
            status: enum_of(T, "status", &m.status)?,
            score: m
                .score
                .as_deref()
                .map(|s| Decimal::from_str(s).map_err(|_| super::corrupt(T, "score", s)))
                .transpose()?,
            id: m.id,
            person_id: m.person_id,
            course_id: m.course_id,
            enrolled_at: m.enrolled_at,
            started_at: m.started_at,
            completed_at: m.completed_at,
            passed: m.passed,
            certified: m.certified,
        })
    }
}

fn live_enrollments() -> sea_orm::Select<enrollment::Entity> {
    enrollment::Entity::find()
        .filter(enrollment::Column::DeletedAt.is_null())
        .order_by_asc(enrollment::Column::EnrolledAt)
        .order_by_asc(enrollment::Column::Id)
}

/// An enrollment as seen from a person: their own, or one of a learner record of the same
/// human (same normalised email) in another system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonEnrollmentRow {
    /// The person asked about.
    pub person_id: Uuid,
    /// The enrollment.
    pub enrollment: EnrollmentRow,
}

/// An enrollment of a learner of an account (see the module docs for who that is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEnrollmentRow {
    /// The account.
    pub account_id: Uuid,
    /// The learner's role at the account (the CRM contact's).
    pub role: Option<PersonRole>,
    /// The person the enrollment belongs to (the LMS's learner).
    pub learner_id: Uuid,
    /// The enrollment.
    pub enrollment: EnrollmentRow,
}

/// The relation name of [`AccountEnrollmentRow`].
pub const LEARNERS_OF_ACCOUNTS: &str = "enrollments of accounts";

impl sealed::Sealed for PersonEnrollmentRow {}
impl Child for PersonEnrollmentRow {
    const RELATION: &'static str = "enrollments of people";

    fn parent_id(&self) -> Option<Uuid> {
        Some(self.person_id)
    }

    fn load<'a>(
        store: &'a Store,
        parents: &'a [Uuid],
    ) -> BoxFuture<'a, Result<Vec<Self>, StoreError>> {
        Box::pin(store.enrollments_of_people(parents))
    }
}

impl sealed::Sealed for AccountEnrollmentRow {}
impl Child for AccountEnrollmentRow {
    const RELATION: &'static str = LEARNERS_OF_ACCOUNTS;

    fn parent_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }

    fn load<'a>(
        store: &'a Store,
        parents: &'a [Uuid],
    ) -> BoxFuture<'a, Result<Vec<Self>, StoreError>> {
        Box::pin(store.enrollments_of_accounts(parents))
    }
}

impl Store {
    /// Courses ordered by (title, id), `first` at most, after the `(title, id)` cursor.
    /// Catalogs are small (hundreds of courses), so the filter runs over the live catalog
    /// read in one query.
    pub async fn list_courses(
        &self,
        filter: &CourseFilter,
        first: u64,
        after: Option<(String, Uuid)>,
        count: bool,
    ) -> Result<Page<CourseRow>, StoreError> {
        let all: Vec<CourseRow> = course::Entity::find()
            .filter(course::Column::DeletedAt.is_null())
            .order_by_asc(course::Column::Title)
            .order_by_asc(course::Column::Id)
            .all(self.db())
            .await?
            .into_iter()
            .map(CourseRow::try_from)
            .collect::<Result<_, _>>()?;
        let matching: Vec<CourseRow> = all.into_iter().filter(|c| filter.matches(c)).collect();
        let total = count.then_some(matching.len() as u64);
        let mut rest = matching.into_iter().filter(|c| {
            after
                .as_ref()
                .is_none_or(|(t, id)| (&c.title, &c.id) > (t, id))
        });
        let items: Vec<CourseRow> = rest.by_ref().take(first as usize).collect();
        let has_next = rest.next().is_some();
        Ok(Page {
            items,
            total,
            has_next,
        })
    }

    /// Live courses by id, in no particular order.
    pub async fn courses_by_id(&self, ids: &[Uuid]) -> Result<Vec<CourseRow>, StoreError> {
        rows_in(
            self.db(),
            course::Entity::find().filter(course::Column::DeletedAt.is_null()),
            course::Column::Id,
            ids,
        )
        .await
    }

    /// Live enrollments by id, by enrollment time.
    async fn enrollments_by_id(&self, ids: &[Uuid]) -> Result<Vec<EnrollmentRow>, StoreError> {
        rows_in(self.db(), live_enrollments(), enrollment::Column::Id, ids).await
    }

    /// The live enrollments of the given learners, by learner, each by enrollment time: one
    /// query per 10,000 learners.
    async fn enrollments_by_learner(
        &self,
        learners: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<EnrollmentRow>>, StoreError> {
        let rows: Vec<EnrollmentRow> = rows_in(
            self.db(),
            live_enrollments(),
            enrollment::Column::PersonId,
            learners,
        )
        .await?;
        let mut by_learner: HashMap<Uuid, Vec<EnrollmentRow>> = HashMap::new();
        for e in rows {
            if let Some(p) = e.person_id {
                by_learner.entry(p).or_default().push(e);
            }
        }
        Ok(by_learner)
    }

    /// Live enrollments in the given courses, by enrollment time then id.
    pub async fn enrollments_of_courses(
        &self,
        courses: &[Uuid],
    ) -> Result<Vec<EnrollmentRow>, StoreError> {
        rows_in(
            self.db(),
            live_enrollments(),
            enrollment::Column::CourseId,
            courses,
        )
        .await
    }

    /// The live enrollments of each person: their own and those of live learner records with
    /// the same email. Two queries (the learners, then their enrollments) whatever the number
    /// of people.
    pub async fn enrollments_of_people(
        &self,
        people: &[Uuid],
    ) -> Result<Vec<PersonEnrollmentRow>, StoreError> {
        // Who learns as whom: every person asked is their own learner, plus the live people
        // sharing their email.
        let mut learners: Vec<(Uuid, Uuid)> = people.iter().map(|&p| (p, p)).collect();
        for chunk in people.chunks(super::IN_CHUNK) {
            let q = Query::select()
                .expr_as(Expr::col(("q", "id")), Alias::new("asked"))
                .expr_as(Expr::col(("l", "id")), Alias::new("learner"))
                .from_as("people", "q")
                .join_as(
                    JoinType::InnerJoin,
                    "people",
                    "l",
                    Expr::col(("l", "email")).equals(("q", "email")),
                )
                .and_where(Expr::col(("q", "id")).is_in(chunk.iter().copied()))
                .and_where(Expr::col(("l", "id")).ne(Expr::col(("q", "id"))))
                .and_where(Expr::col(("l", "deleted_at")).is_null())
                .to_owned();
            for row in self.db().query_all(&q).await? {
                learners.push((row.try_get("", "asked")?, row.try_get("", "learner")?));
            }
        }
        let learner_ids: Vec<Uuid> = learners.iter().map(|(_, l)| *l).collect();
        let by_learner = self.enrollments_by_learner(&learner_ids).await?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (asked, learner) in learners {
            for e in by_learner.get(&learner).into_iter().flatten() {
                if seen.insert((asked, e.id)) {
                    out.push(PersonEnrollmentRow {
                        person_id: asked,
                        enrollment: e.clone(),
                    });
                }
            }
        }
        out.sort_by(|a, b| {
            (a.person_id, a.enrollment.enrolled_at, a.enrollment.id).cmp(&(
                b.person_id,
                b.enrollment.enrolled_at,
                b.enrollment.id,
            ))
        });
        Ok(out)
    }

    /// The live enrollments of each account's learners (see the module docs), by enrollment
    /// time: two queries (learners with their account and role, then the enrollments)
    /// whatever the number of accounts.
    pub async fn enrollments_of_accounts(
        &self,
        accounts: &[Uuid],
    ) -> Result<Vec<AccountEnrollmentRow>, StoreError> {
        // (account, learner) → role; one role per pair (the first contact's, by id).
        let mut learners: BTreeMap<(Uuid, Uuid), Option<PersonRole>> = BTreeMap::new();
        for chunk in accounts.chunks(super::IN_CHUNK) {
            let q = Query::select()
                .expr_as(Expr::col(("c", "account_id")), Alias::new("account_id"))
                .expr_as(Expr::col(("c", "role")), Alias::new("role"))
                .expr_as(Expr::col(("l", "id")), Alias::new("learner"))
                .from_as("people", "c")
                .join_as(
                    JoinType::InnerJoin,
                    "people",
                    "l",
                    Expr::col(("l", "email")).equals(("c", "email")),
                )
                .and_where(Expr::col(("c", "account_id")).is_in(chunk.iter().copied()))
                .and_where(Expr::col(("l", "deleted_at")).is_null())
                .order_by(("c", "id"), sea_orm::Order::Asc)
                .to_owned();
            for row in self.db().query_all(&q).await? {
                let role: Option<String> = row.try_get("", "role")?;
                let role = role
                    .as_deref()
                    .map(|r| decode("people", "role", r, PersonRole::parse))
                    .transpose()?;
                learners
                    .entry((row.try_get("", "account_id")?, row.try_get("", "learner")?))
                    .or_insert(role);
            }
        }
        let learner_ids: Vec<Uuid> = learners.keys().map(|(_, l)| *l).collect();
        let by_learner = self.enrollments_by_learner(&learner_ids).await?;
        let mut out = Vec::new();
        for ((account_id, learner_id), role) in learners {
            for e in by_learner.get(&learner_id).into_iter().flatten() {
                out.push(AccountEnrollmentRow {
                    account_id,
                    role,
                    learner_id,
                    enrollment: e.clone(),
                });
            }
        }
        out.sort_by(|a, b| {
            (a.account_id, a.enrollment.enrolled_at, a.enrollment.id).cmp(&(
                b.account_id,
                b.enrollment.enrolled_at,
                b.enrollment.id,
            ))
        });
        Ok(out)
    }

    /// One live enrollment by id.
    pub async fn enrollment(&self, id: Uuid) -> Result<Option<EnrollmentRow>, StoreError> {
        Ok(self.enrollments_by_id(&[id]).await?.into_iter().next())
    }
}

/// A learning event (an xAPI statement) of a person, kept for audit: voided ones included,
/// flagged.
#[derive(Debug, Clone, PartialEq)]
pub struct LearningEventRow {
    /// Our id.
    pub id: Uuid,
    /// The learner.
    pub person_id: Option<Uuid>,
    /// The course (the statement's activity).
    pub course_id: Option<Uuid>,
    /// The verb's IRI.
    pub verb: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// When the record store stored it.
    pub stored_at: DateTime<Utc>,
    /// Score in percent, when given.
    pub score: Option<Decimal>,
    /// Whether the attempt succeeded, when given.
    pub success: Option<bool>,
    /// Whether the activity was completed, when given.
    pub completion: Option<bool>,
    /// The registration, when given.
    pub registration: Option<String>,
    /// Voided by a later statement.
    pub voided: bool,
}

impl TryFrom<learning_event::Model> for LearningEventRow {
    type Error = StoreError;

    fn try_from(m: learning_event::Model) -> Result<Self, StoreError> {
        Ok(LearningEventRow {
            score: m
                .score
                .as_deref()
                .map(|s| {
                    Decimal::from_str(s).map_err(|_| super::corrupt("learning_events", "score", s))
                })
                .transpose()?,
            id: m.id,
            person_id: m.person_id,
            course_id: m.course_id,
            verb: m.verb,
            occurred_at: m.occurred_at,
            stored_at: m.stored_at,
            success: m.success,
            completion: m.completion,
            registration: m.registration,
            voided: m.voided,
        })
    }
}

super::child!(
    LearningEventRow,
    "learning events of people",
    learning_event,
    PersonId,
    |r| r.person_id,
    learning_event::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(learning_event::Column::DeletedAt.is_null())
                .add(learning_event::Column::Voided.eq(true))
        )
        .order_by_asc(learning_event::Column::OccurredAt)
        .order_by_asc(learning_event::Column::Id)
);

impl Store {
    /// The raw payloads (as the source sent them) of the given entities, by entity id: one
    /// query per 10,000 ids. An entity merged from several sources has several.
    pub async fn raw_payloads_of(
        &self,
        entity_ids: &[Uuid],
    ) -> Result<Vec<(Uuid, serde_json::Value)>, StoreError> {
        let mut out = Vec::new();
        for chunk in entity_ids.chunks(super::IN_CHUNK) {
            let q = Query::select()
                .expr_as(Expr::col(("r", "entity_id")), Alias::new("entity_id"))
                .expr_as(Expr::col(("p", "payload")), Alias::new("payload"))
                .from_as("external_refs", "r")
                .join_as(
                    JoinType::InnerJoin,
                    "raw_payloads",
                    "p",
                    Expr::col(("p", "ref_id")).equals(("r", "id")),
                )
                .and_where(Expr::col(("r", "entity_id")).is_in(chunk.iter().copied()))
                .order_by(("r", "id"), sea_orm::Order::Asc)
                .to_owned();
            for row in self.db().query_all(&q).await? {
                out.push((row.try_get("", "entity_id")?, row.try_get("", "payload")?));
            }
        }
        Ok(out)
    }
}
