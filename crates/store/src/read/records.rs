//! Stored source records read back by their external reference: what a push source needs to
//! answer for what it accepted before (an xAPI statement fetched by id, a conflicting
//! resubmission, a list by stored time). Each read is scoped to one source system, instance
//! and object, and returns the raw payload as received with the row's stored time and
//! whether the row is deleted.

use crate::write::table_of;
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Cond, Expr, JoinType, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, ExprTrait, QueryResult};
use tributary_model::EntityKind;

/// Which records: one object of one source instance, of one entity kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordScope {
    /// The source system (the connector kind), e.g. `xapi`.
    pub system: String,
    /// The connector instance.
    pub instance: String,
    /// The source's object, e.g. `statements`.
    pub object: String,
    /// The entity the records map to.
    pub kind: EntityKind,
}

/// A stored record: its raw payload as received, when it was last updated at the source and
/// whether its row is deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// The source's id of the row.
    pub external_id: String,
    /// The payload as last received.
    pub payload: serde_json::Value,
    /// The source's last-modified time of the row, when it gave one.
    pub source_updated_at: Option<DateTime<Utc>>,
    /// The row is marked deleted.
    pub deleted: bool,
}

/// A page of records ordered by `(source_updated_at, external_id)`; records without a
/// `source_updated_at` are not listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecordPage {
    /// Only records updated strictly after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only records updated at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// Continue after (ascending) or before (descending) this position.
    pub after: Option<(DateTime<Utc>, String)>,
    /// Oldest first; otherwise newest first.
    pub ascending: bool,
    /// At most this many records.
    pub limit: u64,
    /// Deleted rows too.
    pub include_deleted: bool,
}

fn base(scope: &RecordScope) -> SelectStatement {
    Query::select()
        .expr_as(Expr::col(("r", "external_id")), "external_id")
        .expr_as(Expr::col(("p", "payload")), "payload")
        .expr_as(Expr::col(("p", "source_updated_at")), "source_updated_at")
        .expr_as(Expr::col(("e", "deleted_at")), "deleted_at")
        .from_as("external_refs", "r")
        .join_as(
            JoinType::InnerJoin,
            "raw_payloads",
            "p",
            Expr::col(("p", "ref_id")).equals(("r", "id")),
        )
        .join_as(
            JoinType::InnerJoin,
            table_of(scope.kind),
            "e",
            Expr::col(("e", "id")).equals(("r", "entity_id")),
        )
        .and_where(Expr::col(("r", "system")).eq(scope.system.as_str()))
        .and_where(Expr::col(("r", "instance")).eq(scope.instance.as_str()))
        .and_where(Expr::col(("r", "object")).eq(scope.object.as_str()))
        .and_where(Expr::col(("r", "entity_kind")).eq(scope.kind.as_str()))
        .to_owned()
}

fn decode(row: QueryResult) -> Result<RawRecord, StoreError> {
    let deleted_at: Option<DateTime<Utc>> = row.try_get("", "deleted_at")?;
    Ok(RawRecord {
        external_id: row.try_get("", "external_id")?,
        payload: row.try_get("", "payload")?,
        source_updated_at: row.try_get("", "source_updated_at")?,
        deleted: deleted_at.is_some(),
    })
}

impl Store {
    /// The stored records of `scope` with these external ids (those that exist), in no
    /// particular order.
    pub async fn raw_records(
        &self,
        scope: &RecordScope,
        external_ids: &[String],
    ) -> Result<Vec<RawRecord>, StoreError> {
        let mut out = Vec::with_capacity(external_ids.len());
        for chunk in external_ids.chunks(super::IN_CHUNK) {
            let q = base(scope)
                .and_where(Expr::col(("r", "external_id")).is_in(chunk.iter().map(String::as_str)))
                .to_owned();
            for row in self.db().query_all(&q).await? {
                out.push(decode(row)?);
            }
        }
        Ok(out)
    }

    /// One page of the records of `scope` by update time (see [`RawRecordPage`]).
    pub async fn raw_record_page(
        &self,
        scope: &RecordScope,
        page: &RawRecordPage,
    ) -> Result<Vec<RawRecord>, StoreError> {
        let at = || Expr::col(("p", "source_updated_at"));
        let id = || Expr::col(("r", "external_id"));
        let mut q = base(scope);
        q.and_where(at().is_not_null());
        if !page.include_deleted {
            q.and_where(Expr::col(("e", "deleted_at")).is_null());
        }
        if let Some(since) = page.since {
            q.and_where(at().gt(since));
        }
        if let Some(until) = page.until {
            q.and_where(at().lte(until));
        }
        if let Some((t, after)) = &page.after {
            let after = after.as_str();
            q.cond_where(if page.ascending {
                Cond::any()
                    .add(at().gt(*t))
                    .add(Cond::all().add(at().eq(*t)).add(id().gt(after)))
            } else {
                Cond::any()
                    .add(at().lt(*t))
                    .add(Cond::all().add(at().eq(*t)).add(id().lt(after)))
            });
        }
        let order = if page.ascending {
            Order::Asc
        } else {
            Order::Desc
        };
        q.order_by(("p", "source_updated_at"), order.clone())
            .order_by(("r", "external_id"), order)
            .limit(page.limit);
        self.db()
            .query_all(&q)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CommitBatch;
    use crate::testing::for_each_backend;
    use chrono::TimeZone;
    use tributary_model::{Entity, ExternalRef, LearningEvent, SourceRecord};

    fn event(id: &str, second: u32) -> SourceRecord {
        let at = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, second).unwrap();
        SourceRecord {
            external_ref: ExternalRef::new("xapi", "lrs", "statements", id),
            source_updated_at: Some(at),
            raw: serde_json::json!({"id": id, "n": [1, 2]}),
            entity: Entity::LearningEvent(LearningEvent {
                person: None,
                course: None,
                verb: "http://adlnet.gov/expapi/verbs/attempted".into(),
                occurred_at: at,
                stored_at: at,
                score: None,
                success: None,
                completion: None,
                registration: None,
                voided: false,
            }),
        }
    }

    #[tokio::test]
    async fn raw_records_come_back_by_id_and_in_pages_by_update_time() {
        for_each_backend(|store| async move {
            // Two records share a second: the id breaks the tie.
            let records = vec![event("b", 1), event("a", 1), event("c", 2), event("d", 3)];
            store
                .commit_batch(CommitBatch {
                    connector: "lrs".into(),
                    stream: "statements".into(),
                    records,
                    deletes: vec![ExternalRef::new("xapi", "lrs", "statements", "c")],
                    ..Default::default()
                })
                .await
                .unwrap();
            let scope = RecordScope {
                system: "xapi".into(),
                instance: "lrs".into(),
                object: "statements".into(),
                kind: EntityKind::LearningEvent,
            };
            let mut got = store
                .raw_records(&scope, &["a".into(), "c".into(), "zz".into()])
                .await
                .unwrap();
            got.sort_by(|x, y| x.external_id.cmp(&y.external_id));
            assert_eq!(got.len(), 2);
            assert_eq!(got[0].payload, serde_json::json!({"id": "a", "n": [1, 2]}));
            assert!(!got[0].deleted && got[1].deleted);
            let other = RecordScope {
                instance: "other".into(),
                ..scope.clone()
            };
            assert!(
                store
                    .raw_records(&other, &["a".into()])
                    .await
                    .unwrap()
                    .is_empty()
            );

            let ids = |rows: Vec<RawRecord>| -> Vec<String> {
                rows.into_iter().map(|r| r.external_id).collect()
            };
            let mut page = RawRecordPage {
                since: None,
                until: None,
                after: None,
                ascending: true,
                limit: 2,
                include_deleted: false,
            };
            let first = store.raw_record_page(&scope, &page).await.unwrap();
            let last = first.last().unwrap();
            page.after = Some((last.source_updated_at.unwrap(), last.external_id.clone()));
            assert_eq!(ids(first), ["a", "b"]);
            assert_eq!(
                ids(store.raw_record_page(&scope, &page).await.unwrap()),
                ["d"]
            );
            page.after = None;
            page.ascending = false;
            page.include_deleted = true;
            page.limit = 10;
            assert_eq!(
                ids(store.raw_record_page(&scope, &page).await.unwrap()),
                ["d", "c", "b", "a"]
            );
            page.since = Some(Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 1).unwrap());
            page.until = Some(Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 2).unwrap());
            assert_eq!(
                ids(store.raw_record_page(&scope, &page).await.unwrap()),
                ["c"]
            );
        })
        .await;
    }
}
