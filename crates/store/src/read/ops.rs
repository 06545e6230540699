//! The operations domain: the sync run log, quarantined records and the connectors'
//! schedules and leases.

use super::decode;
use crate::entities::{quarantine, sync_lease, sync_run};
use crate::{RunStatus, SchemaDrift, Store, StoreError};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

/// One run of one connector stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRunRow {
    /// Our id.
    pub id: Uuid,
    /// The connector instance.
    pub connector: String,
    /// The stream.
    pub stream: String,
    /// The sync mode (`full_refresh`, `incremental`).
    pub mode: String,
    /// How the run ended, or that it runs.
    pub status: RunStatus,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished; none while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    /// Records the connector read.
    pub records_read: i64,
    /// Records inserted or changed.
    pub records_written: i64,
    /// Records set aside as unmappable.
    pub records_quarantined: i64,
    /// Records deleted: those the source deleted, and those a full refresh swept.
    pub records_deleted: i64,
    /// Records read that were already stored as read.
    pub records_unchanged: i64,
    /// Records read and deliberately not loaded (e.g. open deals).
    pub records_skipped: i64,
    /// Rows a full refresh removed because the source no longer listed them (also counted
    /// in `records_deleted`).
    pub records_swept: i64,
    /// The stream's cursor when the run started.
    pub cursor_before: Option<serde_json::Value>,
    /// The stream's cursor when it ended.
    pub cursor_after: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// The scheduled slot it ran for, when a worker ran it.
    pub scheduled_for: Option<DateTime<Utc>>,
    /// The worker that ran it.
    pub worker: Option<String>,
    /// How the stream learns of deletions (`native_feed`, `key_diff`, `none`).
    pub delete_strategy: Option<String>,
    /// The source's own count of what the run read.
    pub source_count: Option<i64>,
    /// Records read in the phases the source counted.
    pub source_read: Option<i64>,
    /// Problems that did not stop the run.
    pub warnings: Vec<String>,
    /// Fields whose type changed or that disappeared.
    pub drift: Vec<SchemaDrift>,
}

impl SyncRunRow {
    /// Whether everything the source counted was read; none when it counted nothing.
    pub fn complete(&self) -> Option<bool> {
        Some(self.source_read? >= self.source_count?)
    }
}

/// A JSON column holding a list, empty when null.
fn json_list<T: serde::de::DeserializeOwned>(
    table: &'static str,
    column: &str,
    value: Option<serde_json::Value>,
) -> Result<Vec<T>, StoreError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v).map_err(|e| StoreError::Corrupt {
            table,
            message: format!("`{column}` does not decode: {e}"),
        }),
    }
}

impl TryFrom<sync_run::Model> for SyncRunRow {
    type Error = StoreError;

    fn try_from(m: sync_run::Model) -> Result<Self, StoreError> {
        const T: &str = "sync_runs";
        Ok(SyncRunRow {
            status: decode(T, "status", &m.status, RunStatus::parse)?,
            warnings: json_list(T, "warnings", m.warnings)?,
            drift: json_list(T, "drift", m.drift)?,
            id: m.id,
            connector: m.connector,
            stream: m.stream,
            mode: m.mode,
            started_at: m.started_at,
            finished_at: m.finished_at,
            records_read: m.records_read,
            records_written: m.records_written,
            records_quarantined: m.records_quarantined,
            records_deleted: m.records_deleted,
            records_unchanged: m.records_unchanged,
            records_skipped: m.records_skipped,
            records_swept: m.records_swept,
            cursor_before: m.cursor_before,
            cursor_after: m.cursor_after,
            error: m.error,
            scheduled_for: m.scheduled_for,
            worker: m.worker,
            delete_strategy: m.delete_strategy,
            source_count: m.source_count,
            source_read: m.source_read,
        })
    }
}

/// A source record that could not be mapped, kept with its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    /// Our id of the entry.
    pub id: i64,
    /// The run that set it aside, when known.
    pub sync_run_id: Option<Uuid>,
    /// The connector instance.
    pub connector: String,
    /// The stream.
    pub stream: String,
    /// The vendor's id of the record, when it had one.
    pub external_id: Option<String>,
    /// Why it was set aside.
    pub reason: String,
    /// The record as the vendor sent it.
    pub payload: String,
    /// When it was first set aside.
    pub created_at: DateTime<Utc>,
    /// When it was last seen.
    pub last_seen_at: DateTime<Utc>,
    /// How many times it was seen.
    pub occurrences: i64,
}

impl From<quarantine::Model> for QuarantineRow {
    fn from(m: quarantine::Model) -> Self {
        QuarantineRow {
            id: m.id,
            sync_run_id: m.sync_run_id,
            connector: m.connector,
            stream: m.stream,
            external_id: m.external_id,
            reason: m.reason,
            payload: m.payload,
            created_at: m.created_at,
            last_seen_at: m.last_seen_at,
            occurrences: m.occurrences,
        }
    }
}

/// A connector's schedule and lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    /// The connector instance.
    pub connector: String,
    /// Its vendor kind.
    pub kind: Option<String>,
    /// When its next run is due.
    pub next_run_at: DateTime<Utc>,
    /// Whether a full refresh was asked for and has not run yet.
    pub full_refresh_requested: bool,
    /// The worker holding the lease, if any.
    pub holder: Option<String>,
    /// When that lease expires unless renewed.
    pub expires_at: Option<DateTime<Utc>>,
    /// The scheduled slot the holder claimed.
    pub claimed_for: Option<DateTime<Utc>>,
}

impl From<sync_lease::Model> for ScheduleRow {
    fn from(m: sync_lease::Model) -> Self {
        ScheduleRow {
            connector: m.connector,
            kind: m.kind,
            next_run_at: m.next_run_at,
            full_refresh_requested: m.full_refresh_requested,
            holder: m.holder,
            expires_at: m.expires_at,
            claimed_for: m.claimed_for,
        }
    }
}

impl Store {
    /// Runs, newest first, optionally of one connector; `offset`/`limit` page through them.
    /// With `count`, also how many there are in all (one more query).
    pub async fn sync_runs(
        &self,
        connector: Option<&str>,
        offset: u64,
        limit: u64,
        count: bool,
    ) -> Result<(Vec<SyncRunRow>, Option<u64>), StoreError> {
        let mut q = sync_run::Entity::find();
        if let Some(c) = connector {
            q = q.filter(sync_run::Column::Connector.eq(c));
        }
        let total = self.count_if(count, &q).await?;
        let rows = q
            .order_by_desc(sync_run::Column::StartedAt)
            .order_by_desc(sync_run::Column::Id)
            .offset(super::sql_count(offset))
            .limit(super::sql_count(limit))
            .all(self.db())
            .await?;
        let rows = rows
            .into_iter()
            .map(SyncRunRow::try_from)
            .collect::<Result<_, _>>()?;
        Ok((rows, total))
    }

    /// The latest run of each stream of each of `connectors`, by connector, newest first
    /// within a connector: **one** query whatever the number of connectors (a window over
    /// their runs), so a list of connectors never costs a query per connector.
    pub async fn latest_runs(&self, connectors: &[String]) -> Result<Vec<SyncRunRow>, StoreError> {
        use sea_orm::{DbBackend, Statement};
        if connectors.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.backend();
        let placeholders: Vec<String> = (1..=connectors.len())
            .map(|i| match backend {
                DbBackend::Postgres => format!("${i}"),
                _ => "?".to_owned(),
            })
            .collect();
        let sql = format!(
            "SELECT * FROM (SELECT sync_runs.*, ROW_NUMBER() OVER (PARTITION BY connector, \
             stream ORDER BY started_at DESC, id DESC) AS latest FROM sync_runs WHERE connector \
             IN ({})) runs WHERE latest = 1 ORDER BY connector, started_at DESC, id DESC",
            placeholders.join(", ")
        );
        let values = connectors.iter().map(|c| c.as_str().into());
        let rows = sync_run::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
            .all(self.db())
            .await?;
        rows.into_iter().map(SyncRunRow::try_from).collect()
    }

    /// Unresolved quarantined records (a record that later landed is resolved), newest
    /// first. With `count`, also how many there are in all (one more query).
    pub async fn quarantine(
        &self,
        offset: u64,
        limit: u64,
        count: bool,
    ) -> Result<(Vec<QuarantineRow>, Option<u64>), StoreError> {
        let q = quarantine::Entity::find().filter(quarantine::Column::ResolvedAt.is_null());
        let total = self.count_if(count, &q).await?;
        let rows = q
            .order_by_desc(quarantine::Column::Id)
            .offset(super::sql_count(offset))
            .limit(super::sql_count(limit))
            .all(self.db())
            .await?;
        Ok((rows.into_iter().map(QuarantineRow::from).collect(), total))
    }

    /// Every connector's schedule and lease, by connector.
    pub async fn leases(&self) -> Result<Vec<ScheduleRow>, StoreError> {
        Ok(sync_lease::Entity::find()
            .order_by_asc(sync_lease::Column::Connector)
            .all(self.db())
            .await?
            .into_iter()
            .map(ScheduleRow::from)
            .collect())
    }
}

/// What `/metrics` reports about one connector stream: its latest run, when it last
/// succeeded, and how many of its records wait in quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHealthRow {
    /// The connector instance.
    pub connector: String,
    /// The stream.
    pub stream: String,
    /// How the latest run ended, or that it runs.
    pub status: RunStatus,
    /// When the latest run started (the last attempt).
    pub started_at: DateTime<Utc>,
    /// When the latest run finished; none while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    /// Records the latest run read.
    pub records_read: i64,
    /// Records the latest run inserted or changed.
    pub records_written: i64,
    /// Records the latest run set aside.
    pub records_quarantined: i64,
    /// Records the latest run deleted.
    pub records_deleted: i64,
    /// The source's own count of what the latest run read, when it gives one.
    pub source_count: Option<i64>,
    /// Records read in the phases the source counted.
    pub source_read: Option<i64>,
    /// When a run of this stream last finished successfully.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Unresolved quarantined records of this stream.
    pub open_quarantine: i64,
}

#[derive(sea_orm::FromQueryResult)]
struct StreamHealthRaw {
    connector: String,
    stream: String,
    status: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    records_read: i64,
    records_written: i64,
    records_quarantined: i64,
    records_deleted: i64,
    source_count: Option<i64>,
    source_read: Option<i64>,
    last_success_at: Option<DateTime<Utc>>,
    open_quarantine: i64,
}

impl Store {
    /// Every connector stream that has run, by connector and stream, with its latest run,
    /// its last success and its open quarantine: **one** query whatever the number of
    /// streams, for a metrics scrape.
    pub async fn stream_health(&self) -> Result<Vec<StreamHealthRow>, StoreError> {
        use sea_orm::{FromQueryResult, Statement};
        // Per stream, index walks rather than a window over every run ever recorded: the
        // latest run and the latest successful one are found walking `(connector,
        // started_at)` backwards, which stops at the first match.
        let sql = "SELECT r.connector, r.stream, r.status, r.started_at, r.finished_at, \
             r.records_read, r.records_written, r.records_quarantined, r.records_deleted, \
             r.source_count, r.source_read, \
             (SELECT x.finished_at FROM sync_runs x WHERE x.connector = s.connector \
             AND x.stream = s.stream AND x.status = 'succeeded' \
             ORDER BY x.started_at DESC, x.id DESC LIMIT 1) AS last_success_at, \
             (SELECT COUNT(*) FROM quarantine q WHERE q.connector = s.connector \
             AND q.stream = s.stream AND q.resolved_at IS NULL) AS open_quarantine \
             FROM (SELECT DISTINCT connector, stream FROM sync_runs) s \
             JOIN sync_runs r ON r.id = (SELECT y.id FROM sync_runs y \
             WHERE y.connector = s.connector AND y.stream = s.stream \
             ORDER BY y.started_at DESC, y.id DESC LIMIT 1) \
             ORDER BY r.connector, r.stream";
        let rows = StreamHealthRaw::find_by_statement(Statement::from_string(self.backend(), sql))
            .all(self.db())
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StreamHealthRow {
                    status: decode("sync_runs", "status", &r.status, RunStatus::parse)?,
                    connector: r.connector,
                    stream: r.stream,
                    started_at: r.started_at,
                    finished_at: r.finished_at,
                    records_read: r.records_read,
                    records_written: r.records_written,
                    records_quarantined: r.records_quarantined,
                    records_deleted: r.records_deleted,
                    source_count: r.source_count,
                    source_read: r.source_read,
                    last_success_at: r.last_success_at,
                    open_quarantine: r.open_quarantine,
                })
            })
            .collect()
    }
}
