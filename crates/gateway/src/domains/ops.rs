//! The operations domain: connectors and their schedules, sync runs, quarantined records, and
//! `triggerSync`, which only records the request for a worker.

use super::store;
use crate::auth;
use crate::error::GatewayError;
use crate::paging::{
    DEFAULT_PAGE_SIZE, connection, offset_after, page_complexity, page_size, wants_total,
};
use crate::scalars::{DateTime, instant};
use async_graphql::{Context, Enum, ID, Json, Object, Result, SimpleObject};
use tributary_store::{QuarantineRow, ScheduleRow, Store, SyncRunRow};

/// How a sync run ended.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "tributary_store::RunStatus")]
pub enum SyncRunStatus {
    /// Still running.
    Running,
    /// Read the stream to its end.
    Succeeded,
    /// Stopped on an error; committed checkpoints stay.
    Failed,
    /// Its process disappeared before finishing.
    Abandoned,
    /// Stopped cleanly at its checkpoint because the vendor's quota is spent; resumes when the
    /// quota window rolls over (see `error` for the vendor's message).
    Paused,
}

/// One run of one connector stream.
pub struct SyncRun(SyncRunRow);

impl From<SyncRunRow> for SyncRun {
    fn from(row: SyncRunRow) -> Self {
        SyncRun(row)
    }
}

/// One run of one connector stream.
#[Object]
impl SyncRun {
    /// Our id of the run.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The connector instance, e.g. `hubspot-prod`.
    async fn connector(&self) -> &str {
        &self.0.connector
    }

    /// The stream, e.g. `companies`.
    async fn stream(&self) -> &str {
        &self.0.stream
    }

    /// The sync mode, e.g. `full_refresh` or `incremental`.
    async fn mode(&self) -> &str {
        &self.0.mode
    }

    /// How the run ended, or that it is still running.
    async fn status(&self) -> SyncRunStatus {
        self.0.status.into()
    }

    /// When the run started.
    async fn started_at(&self) -> DateTime {
        DateTime(self.0.started_at)
    }

    /// When the run finished; null while it runs.
    async fn finished_at(&self) -> Option<DateTime> {
        instant(self.0.finished_at)
    }

    /// Records the connector read.
    async fn records_read(&self) -> i64 {
        self.0.records_read
    }

    /// Records inserted or changed.
    async fn records_written(&self) -> i64 {
        self.0.records_written
    }

    /// Records set aside as unmappable (see `quarantine`).
    async fn records_quarantined(&self) -> i64 {
        self.0.records_quarantined
    }

    /// Records deleted: those the source deleted, and the rows a full refresh swept
    /// (`recordsSwept`). `recordsRead` = `recordsWritten` + `recordsUnchanged` +
    /// `recordsSkipped` + `recordsQuarantined` + (`recordsDeleted` − `recordsSwept`).
    async fn records_deleted(&self) -> i64 {
        self.0.records_deleted
    }

    /// Records read that were already stored exactly as read.
    async fn records_unchanged(&self) -> i64 {
        self.0.records_unchanged
    }

    /// Records read and deliberately not loaded (an open deal, a rate of the reporting
    /// currency against itself).
    async fn records_skipped(&self) -> i64 {
        self.0.records_skipped
    }

    /// Rows a full refresh removed because the source no longer listed them.
    async fn records_swept(&self) -> i64 {
        self.0.records_swept
    }

    /// The stream's cursor (connector-specific JSON) when the run started.
    async fn cursor_before(&self) -> Option<Json<&serde_json::Value>> {
        self.0.cursor_before.as_ref().map(Json)
    }

    /// The stream's cursor when the run ended.
    async fn cursor_after(&self) -> Option<Json<&serde_json::Value>> {
        self.0.cursor_after.as_ref().map(Json)
    }

    /// Why the run failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }

    /// How the stream learns of deletions at the source: `native_feed` (the vendor lists
    /// them), `key_diff` (a full read's keys against the stored ones) or `none`.
    async fn delete_strategy(&self) -> Option<&str> {
        self.0.delete_strategy.as_deref()
    }

    /// The source's own count of what the run read (e.g. HubSpot search `total`, Salesforce
    /// `totalSize`), summed over the phases it counted; null when the source gave none.
    async fn source_count(&self) -> Option<i64> {
        self.0.source_count
    }

    /// How many records the connector read in the phases the source counted.
    async fn source_read(&self) -> Option<i64> {
        self.0.source_read
    }

    /// Whether everything the source counted was read: null when it counted nothing.
    async fn complete(&self) -> Option<bool> {
        self.0.complete()
    }

    /// Problems that did not stop the run, loudest first (a completeness shortfall).
    async fn warnings(&self) -> &[String] {
        &self.0.warnings
    }

    /// Fields whose type changed or that disappeared, found before the batch that showed
    /// them was loaded.
    async fn schema_drift(&self) -> Vec<SchemaDrift> {
        self.0
            .drift
            .iter()
            .cloned()
            .map(SchemaDrift::from)
            .collect()
    }
}

/// A field of a stream whose type changed or that disappeared (SPEC §6).
#[derive(SimpleObject, Clone, Debug)]
pub struct SchemaDrift {
    /// The field's path in the source's payload, dot-separated (`properties.amount`).
    pub field: String,
    /// Its JSON type before: string, number, boolean, object or array.
    pub old_type: String,
    /// Its JSON type now; null when it disappeared.
    pub new_type: Option<String>,
    /// What was done about it.
    pub policy: String,
}

impl From<tributary_store::SchemaDrift> for SchemaDrift {
    fn from(d: tributary_store::SchemaDrift) -> Self {
        SchemaDrift {
            field: d.field,
            old_type: d.old_type,
            new_type: d.new_type,
            policy: d.policy,
        }
    }
}

/// A source record that could not be mapped, kept with its payload for inspection.
#[derive(SimpleObject, Clone, Debug)]
pub struct QuarantinedRecord {
    /// Our id of the entry.
    pub id: ID,
    /// The run that set the record aside, when known.
    pub sync_run_id: Option<ID>,
    /// The connector instance.
    pub connector: String,
    /// The stream.
    pub stream: String,
    /// The vendor's id of the record, when it had one.
    pub external_id: Option<String>,
    /// Why the record was set aside.
    pub reason: String,
    /// The record as the vendor sent it (usually JSON text).
    ///
    /// Needs role cs, ce or admin (otherwise null, with a `FORBIDDEN` error).
    #[graphql(guard = "auth::PERSONAL")]
    pub payload: Option<String>,
    /// When the record was set aside.
    pub created_at: DateTime,
}

impl From<QuarantineRow> for QuarantinedRecord {
    fn from(r: QuarantineRow) -> Self {
        QuarantinedRecord {
            id: ID(r.id.to_string()),
            sync_run_id: r.sync_run_id.map(|id| ID(id.to_string())),
            connector: r.connector,
            stream: r.stream,
            external_id: r.external_id,
            reason: r.reason,
            payload: Some(r.payload),
            created_at: DateTime(r.created_at),
        }
    }
}

/// A connector instance as the workers schedule it.
pub struct ConnectorStatus {
    schedule: ScheduleRow,
    last_runs: Vec<SyncRunRow>,
}

/// A connector instance as the workers schedule it.
#[Object]
impl ConnectorStatus {
    /// The instance name from `tributary.toml`.
    async fn name(&self) -> &str {
        &self.schedule.connector
    }

    /// The vendor kind, e.g. `hubspot`.
    async fn kind(&self) -> Option<&str> {
        self.schedule.kind.as_deref()
    }

    /// When its next scheduled run is due.
    async fn next_run_at(&self) -> DateTime {
        DateTime(self.schedule.next_run_at)
    }

    /// The worker running it now, if any (its lease may have expired: see `leaseExpiresAt`).
    async fn running_on(&self) -> Option<&str> {
        self.schedule.holder.as_deref()
    }

    /// When the current worker's lease expires unless renewed.
    async fn lease_expires_at(&self) -> Option<DateTime> {
        instant(self.schedule.expires_at)
    }

    /// Whether a full refresh was asked for and has not run yet.
    async fn full_refresh_requested(&self) -> bool {
        self.schedule.full_refresh_requested
    }

    /// The latest run of each stream.
    async fn last_runs(&self) -> Vec<SyncRun> {
        self.last_runs.iter().cloned().map(SyncRun).collect()
    }
}

/// What `triggerSync` did.
#[derive(SimpleObject)]
pub struct TriggerSyncPayload {
    /// The connector.
    pub connector: String,
    /// Whether the run will be a full refresh.
    pub full_refresh: bool,
    /// The connector's status after the request.
    pub status: ConnectorStatus,
}

connection!(
    /// A page of sync runs, newest first.
    SyncRunConnection,
    SyncRunEdge,
    SyncRun
);
connection!(
    /// A page of quarantined records, newest first.
    QuarantineConnection,
    QuarantineEdge,
    QuarantinedRecord
);

/// The status of each connector scheduled by `schedules`, with its latest run per stream:
/// one query for the runs of all of them.
async fn statuses_of(
    store: &Store,
    schedules: Vec<ScheduleRow>,
) -> Result<Vec<ConnectorStatus>, GatewayError> {
    let names: Vec<String> = schedules.iter().map(|s| s.connector.clone()).collect();
    let mut runs: std::collections::HashMap<String, Vec<SyncRunRow>> =
        std::collections::HashMap::new();
    for run in store.latest_runs(&names).await? {
        runs.entry(run.connector.clone()).or_default().push(run);
    }
    Ok(schedules
        .into_iter()
        .map(|schedule| ConnectorStatus {
            last_runs: runs.remove(&schedule.connector).unwrap_or_default(),
            schedule,
        })
        .collect())
}

/// The status of the connector scheduled by `schedule`.
async fn status_of(store: &Store, schedule: ScheduleRow) -> Result<ConnectorStatus, GatewayError> {
    let mut out = statuses_of(store, vec![schedule]).await?;
    out.pop()
        .ok_or(GatewayError::Misconfigured("one schedule gives one status"))
}

const SYNC_RUNS: &str = "syncRuns";
const QUARANTINE: &str = "quarantine";

/// The operations domain's queries.
#[derive(Default, Debug, Clone, Copy)]
pub struct OpsQuery;

#[Object]
impl OpsQuery {
    /// Every connector the workers schedule, with its next run, lease and latest runs.
    async fn connectors(&self, ctx: &Context<'_>) -> Result<Vec<ConnectorStatus>, GatewayError> {
        let store = store(ctx)?;
        statuses_of(store, store.leases().await?).await
    }

    /// Sync runs, newest first, optionally of one connector instance.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn sync_runs(
        &self,
        ctx: &Context<'_>,
        connector: Option<String>,
        #[graphql(default_with = "Some(DEFAULT_PAGE_SIZE)")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<SyncRunConnection> {
        let first = page_size(first)?;
        let offset = offset_after(SYNC_RUNS, after.as_deref())?;
        let (rows, total) = store(ctx)?
            .sync_runs(connector.as_deref(), offset, first, wants_total(ctx, true))
            .await
            .map_err(GatewayError::from)?;
        Ok(SyncRunConnection::from_offset_page(
            SYNC_RUNS, offset, rows, total,
        ))
    }

    /// Records set aside because they could not be mapped, newest first.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn quarantine(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(DEFAULT_PAGE_SIZE)")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<QuarantineConnection> {
        let first = page_size(first)?;
        let offset = offset_after(QUARANTINE, after.as_deref())?;
        let (rows, total) = store(ctx)?
            .quarantine(offset, first, wants_total(ctx, true))
            .await
            .map_err(GatewayError::from)?;
        Ok(QuarantineConnection::from_offset_page(
            QUARANTINE, offset, rows, total,
        ))
    }
}

/// The operations domain's mutations: admin operations. They only record intent in the
/// database; workers act on it, so the gateway never calls a vendor.
#[derive(Default, Debug, Clone, Copy)]
pub struct OpsMutation;

#[Object]
impl OpsMutation {
    /// Asks the workers to sync `connector` now (as a full refresh when `fullRefresh`). The
    /// first free worker claims it within its poll interval; follow it with `connectors` or
    /// `syncRuns`.
    ///
    /// Needs role admin (otherwise a `FORBIDDEN` error).
    #[graphql(guard = "auth::ADMIN")]
    async fn trigger_sync(
        &self,
        ctx: &Context<'_>,
        connector: String,
        #[graphql(default = false)] full_refresh: bool,
    ) -> Result<TriggerSyncPayload, GatewayError> {
        let store = store(ctx)?;
        if !store.request_sync(&connector, full_refresh).await? {
            return Err(GatewayError::NotFound(format!(
                "no connector `{connector}` is scheduled; is it in tributary.toml and is a worker running?"
            )));
        }
        let schedule = store
            .leases()
            .await?
            .into_iter()
            .find(|l| l.connector == connector)
            .ok_or_else(|| GatewayError::NotFound(format!("connector `{connector}` vanished")))?;
        let full_refresh = schedule.full_refresh_requested;
        Ok(TriggerSyncPayload {
            connector,
            full_refresh,
            status: status_of(store, schedule).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_run_statuses_map_from_the_store() {
        for status in tributary_store::RunStatus::ALL {
            let api = SyncRunStatus::from(status);
            assert_eq!(tributary_store::RunStatus::from(api), status);
        }
    }
}
