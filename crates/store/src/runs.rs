//! Sync state (one opaque JSON cursor per connector stream) and the `sync_runs` log.

use crate::entities::{stream_field, sync_run, sync_state};
use crate::{CommitOutcome, Store, StoreError};
use chrono::{DateTime, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use tributary_model::SyncRunId;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Still running (or its process died; see [`Store::abandon_stale_runs`]).
    Running,
    /// Read the stream to its end.
    Succeeded,
    /// Stopped on an error; committed checkpoints stay.
    Failed,
    /// Stopped cleanly because the vendor's quota (e.g. a daily API limit) is spent; it
    /// resumes from its checkpoint when the window rolls over.
    Paused,
    /// Its process disappeared before finishing.
    Abandoned,
}

impl RunStatus {
    /// The stable snake_case name stored in `sync_runs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Paused => "paused",
            RunStatus::Abandoned => "abandoned",
        }
    }

    /// Every status.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Paused,
        RunStatus::Abandoned,
    ];

    /// Parses [`RunStatus::as_str`] back.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The end of a run.
#[derive(Debug, Clone)]
pub struct RunFinish {
    /// How it ended.
    pub status: RunStatus,
    /// The stream state after the run.
    pub cursor_after: Option<serde_json::Value>,
    /// The error, when it failed.
    pub error: Option<String>,
    /// What the run checked besides landing rows.
    pub checks: RunChecks,
}

/// What a run checked besides landing rows (SPEC §6), recorded on its `sync_runs` row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunChecks {
    /// How the stream learns of deletions (`native_feed`, `key_diff`, `none`).
    pub delete_strategy: Option<String>,
    /// The source's own count of what the run read, summed over the phases it counted; none
    /// when the source reported no count.
    pub source_count: Option<u64>,
    /// How many records the connector read in those counted phases.
    pub source_read: Option<u64>,
    /// Loud, human-readable problems that did not stop the run (a completeness shortfall).
    pub warnings: Vec<String>,
}

/// A field of a stream's records whose type changed or that disappeared, found before the
/// batch that showed it was loaded (SPEC §6).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchemaDrift {
    /// The field's path in the raw payload, dot-separated (`properties.amount`).
    pub field: String,
    /// Its type before (a JSON type name: string, number, boolean, object, array).
    pub old_type: String,
    /// Its type now; none when it disappeared.
    pub new_type: Option<String>,
    /// What was done about it, for a human.
    pub policy: String,
}

/// A field a stream's records have been seen to carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSchema {
    /// The field's path in the raw payload, dot-separated.
    pub field: String,
    /// Its JSON type.
    pub json_type: String,
    /// Whether every record seen so far carried it (only such a field can "disappear").
    pub always_present: bool,
}

/// A change to a stream's known fields, written together with the drift it explains.
#[derive(Debug, Clone, Default)]
pub struct SchemaUpdate {
    /// Fields to add or replace.
    pub upsert: Vec<FieldSchema>,
    /// Fields no longer carried.
    pub remove: Vec<String>,
    /// The drift found, appended to the run's record.
    pub drift: Vec<SchemaDrift>,
}

/// Saves a stream's state. `null` means "start over next time"; the row stays because it
/// also carries the full-refresh sweep marker.
pub(crate) async fn save_state<C: ConnectionTrait>(
    db: &C,
    connector: &str,
    stream: &str,
    state: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let q = Query::insert()
        .into_table("sync_state")
        .columns(["connector", "stream", "state", "updated_at"])
        .values_panic([
            connector.into(),
            stream.into(),
            Expr::val(sea_orm::Value::Json(Some(Box::new(state)))),
            now.into(),
        ])
        .on_conflict(
            OnConflict::columns(["connector", "stream"])
                .update_columns(["state", "updated_at"])
                .to_owned(),
        )
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// Who started a run and for which scheduled slot.
#[derive(Debug, Clone, Default)]
pub struct RunOrigin {
    /// The worker process (its lease holder id), if a scheduler started the run.
    pub worker: Option<String>,
    /// The scheduled time the run was claimed for.
    pub scheduled_for: Option<DateTime<Utc>>,
}

pub(crate) async fn advance_run<C: ConnectionTrait>(
    db: &C,
    run: SyncRunId,
    read: u64,
    o: &CommitOutcome,
) -> Result<(), StoreError> {
    let add = |col: &'static str, n: u64| (col, Expr::col(col).add(n as i64));
    let q = Query::update()
        .table("sync_runs")
        .values([
            add("records_read", read),
            add("records_written", o.written),
            add("records_quarantined", o.quarantined),
            // The column counts every row the run marked deleted, swept ones included.
            add("records_deleted", o.deleted + o.swept),
            add("records_unchanged", o.unchanged),
            add("records_skipped", o.skipped),
            add("records_swept", o.swept),
        ])
        .and_where(Expr::col("id").eq(run.0))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

impl Store {
    /// The saved state of a stream, if any.
    pub async fn load_state(
        &self,
        connector: &str,
        stream: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(sync_state::Entity::find()
            .filter(sync_state::Column::Connector.eq(connector))
            .filter(sync_state::Column::Stream.eq(stream))
            .one(self.db())
            .await?
            .map(|m| m.state)
            .filter(|s| !s.is_null()))
    }

    /// Marks the start of a full refresh of a stream, unless one is already under way (a
    /// resumed full refresh keeps its original start). Rows the refresh does not see by its
    /// end are marked deleted ([`crate::CommitBatch::complete_full_refresh`]).
    pub async fn begin_sweep(&self, connector: &str, stream: &str) -> Result<(), StoreError> {
        let now = Utc::now();
        let insert = Query::insert()
            .into_table("sync_state")
            .columns([
                "connector",
                "stream",
                "state",
                "updated_at",
                "sweep_started_at",
            ])
            .values_panic([
                connector.into(),
                stream.into(),
                Expr::val(sea_orm::Value::Json(Some(Box::new(
                    serde_json::Value::Null,
                )))),
                now.into(),
                now.into(),
            ])
            .on_conflict(
                OnConflict::columns(["connector", "stream"])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        self.db().execute(&insert).await?;
        let update = Query::update()
            .table("sync_state")
            .value("sweep_started_at", now)
            .and_where(Expr::col("connector").eq(connector))
            .and_where(Expr::col("stream").eq(stream))
            .and_where(Expr::col("sweep_started_at").is_null())
            .to_owned();
        self.db().execute(&update).await?;
        Ok(())
    }

    /// Records the start of a run and returns its id.
    pub async fn start_run(
        &self,
        connector: &str,
        stream: &str,
        mode: &str,
        cursor_before: Option<serde_json::Value>,
    ) -> Result<SyncRunId, StoreError> {
        self.start_run_for(connector, stream, mode, cursor_before, RunOrigin::default())
            .await
    }

    /// Records the start of a run with its origin (worker and scheduled slot).
    pub async fn start_run_for(
        &self,
        connector: &str,
        stream: &str,
        mode: &str,
        cursor_before: Option<serde_json::Value>,
        origin: RunOrigin,
    ) -> Result<SyncRunId, StoreError> {
        let id = SyncRunId::new();
        let q = Query::insert()
            .into_table("sync_runs")
            .columns([
                "id",
                "connector",
                "stream",
                "mode",
                "status",
                "started_at",
                "cursor_before",
                "worker",
                "scheduled_for",
            ])
            .values_panic([
                id.0.into(),
                connector.into(),
                stream.into(),
                mode.into(),
                RunStatus::Running.as_str().into(),
                Utc::now().into(),
                Expr::val(sea_orm::Value::Json(cursor_before.map(Box::new))),
                origin.worker.into(),
                origin.scheduled_for.into(),
            ])
            .to_owned();
        self.db().execute(&q).await?;
        Ok(id)
    }

    /// Records the end of a run.
    pub async fn finish_run(&self, id: SyncRunId, finish: RunFinish) -> Result<(), StoreError> {
        let q = Query::update()
            .table("sync_runs")
            .values([
                ("status", finish.status.as_str().into()),
                ("finished_at", Utc::now().into()),
                (
                    "cursor_after",
                    Expr::val(sea_orm::Value::Json(finish.cursor_after.map(Box::new))),
                ),
                ("error", finish.error.into()),
                ("delete_strategy", finish.checks.delete_strategy.into()),
                (
                    "source_count",
                    finish.checks.source_count.map(saturating_i64).into(),
                ),
                (
                    "source_read",
                    finish.checks.source_read.map(saturating_i64).into(),
                ),
                (
                    "warnings",
                    Expr::val(sea_orm::Value::Json(
                        (!finish.checks.warnings.is_empty())
                            .then(|| Box::new(serde_json::json!(finish.checks.warnings))),
                    )),
                ),
            ])
            .and_where(Expr::col("id").eq(id.0))
            .to_owned();
        self.db().execute(&q).await?;
        Ok(())
    }

    /// The fields `stream` of `connector` has been seen to carry, by path.
    pub async fn stream_fields(
        &self,
        connector: &str,
        stream: &str,
    ) -> Result<Vec<FieldSchema>, StoreError> {
        Ok(stream_field::Entity::find()
            .filter(stream_field::Column::Connector.eq(connector))
            .filter(stream_field::Column::Stream.eq(stream))
            .order_by_asc(stream_field::Column::Field)
            .all(self.db())
            .await?
            .into_iter()
            .map(|m| FieldSchema {
                field: m.field,
                json_type: m.json_type,
                always_present: m.always_present,
            })
            .collect())
    }

    /// Records a change to a stream's known fields and appends the drift it explains to
    /// `run`'s record, in one transaction.
    pub async fn record_schema(
        &self,
        run: SyncRunId,
        connector: &str,
        stream: &str,
        update: &SchemaUpdate,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let txn = self.begin_write().await?;
        for f in &update.upsert {
            let q = Query::insert()
                .into_table("stream_fields")
                .columns([
                    "connector",
                    "stream",
                    "field",
                    "json_type",
                    "always_present",
                    "first_seen_at",
                    "last_changed_at",
                ])
                .values_panic([
                    connector.into(),
                    stream.into(),
                    f.field.as_str().into(),
                    f.json_type.as_str().into(),
                    f.always_present.into(),
                    now.into(),
                    now.into(),
                ])
                .on_conflict(
                    OnConflict::columns(["connector", "stream", "field"])
                        .update_columns(["json_type", "always_present", "last_changed_at"])
                        .to_owned(),
                )
                .to_owned();
            txn.execute(&q).await?;
        }
        if !update.remove.is_empty() {
            let q = Query::delete()
                .from_table("stream_fields")
                .and_where(Expr::col("connector").eq(connector))
                .and_where(Expr::col("stream").eq(stream))
                .and_where(Expr::col("field").is_in(update.remove.iter().map(String::as_str)))
                .to_owned();
            txn.execute(&q).await?;
        }
        if !update.drift.is_empty() {
            let row = sync_run::Entity::find_by_id(run.0).one(&txn).await?;
            let mut drift: Vec<SchemaDrift> = row
                .and_then(|r| r.drift)
                .and_then(|d| serde_json::from_value(d).ok())
                .unwrap_or_default();
            drift.extend(update.drift.iter().cloned());
            let q = Query::update()
                .table("sync_runs")
                .value(
                    "drift",
                    Expr::val(sea_orm::Value::Json(Some(Box::new(serde_json::json!(
                        drift
                    ))))),
                )
                .and_where(Expr::col("id").eq(run.0))
                .to_owned();
            txn.execute(&q).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Marks runs of `connector` still `running` as abandoned: their process died (the caller
    /// holds the connector, so no live run can exist).
    pub async fn abandon_stale_runs(&self, connector: &str) -> Result<u64, StoreError> {
        let q = Query::update()
            .table("sync_runs")
            .values([
                ("status", RunStatus::Abandoned.as_str().into()),
                ("finished_at", Utc::now().into()),
            ])
            .and_where(Expr::col("connector").eq(connector))
            .and_where(Expr::col("status").eq(RunStatus::Running.as_str()))
            .to_owned();
        Ok(self.db().execute(&q).await?.rows_affected())
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
