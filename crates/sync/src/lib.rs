//! The sync engine (SPEC §6): runs a connector's streams into the store.
//!
//! Key types:
//! - [`SyncEngine`]: reads each stream and commits every page together with the stream's
//!   cursor in one store transaction, so a crash resumes from the last checkpoint with no
//!   duplicates and no gaps.
//! - [`Progress`]: callbacks for a progress display (the binary draws bars with indicatif).
//! - [`SyncReport`] / [`StreamReport`]: what a run did; the same figures land in `sync_runs`.
//!
//! Records a connector rejects, and records that fail model validation in the store, go to
//! quarantine and the run goes on. A connector error stops that stream only: its committed
//! checkpoints stay, the run is recorded as failed with the error, and the next stream runs.
//!
//! Every run also checks what a plain load would miss: the source's own counts against what
//! was read (a shortfall is a warning on the run, in the log and in GraphQL), and schema
//! drift, found before the batch that shows it loads ([`drift`]). Each run records the
//! stream's delete strategy.
//!
//! The engine knows connectors only through the `Connector` trait and the database only
//! through `Store`; it never sees HTTP or SQL.

pub mod drift;

pub use drift::{DriftPolicy, SchemaTracker};

use futures::StreamExt;
use std::time::{Duration, Instant};
use tracing::Instrument;
use tributary_connector::{
    Connector, PushItem, PushSource, ReadItem, SourceCount, StreamSpec, SyncMode,
};
use tributary_model::SyncRunId;
use tributary_store::{
    CommitBatch, CommitOutcome, QuarantineItem, RunChecks, RunFinish, RunOrigin, RunStatus,
    SchemaDrift, Store,
};

/// Errors that stop a whole sync (connector errors only stop their stream).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The store failed.
    #[error("store failed during sync of `{connector}`: {source}")]
    Store {
        /// The connector instance.
        connector: String,
        /// The cause.
        #[source]
        source: tributary_store::StoreError,
    },
    /// A stream named on the command line does not exist.
    #[error("connector `{connector}` has no stream `{stream}` (it has: {available})")]
    UnknownStream {
        /// The connector instance.
        connector: String,
        /// The stream asked for.
        stream: String,
        /// The streams it has.
        available: String,
    },
}

/// Progress callbacks. All methods have empty defaults.
pub trait Progress: Send + Sync {
    /// A stream starts.
    fn stream_started(&self, _stream: &StreamSpec) {}
    /// The vendor says `more` items of the stream are still to come (added up over the
    /// phases of a read): the total a progress bar fills towards.
    fn expected(&self, _stream: &StreamSpec, _more: u64) {}
    /// A batch of a stream was committed; the figures are the stream's running totals.
    fn committed(&self, _stream: &StreamSpec, _read: u64, _outcome: &CommitOutcome) {}
    /// A stream finished.
    fn stream_finished(&self, _report: &StreamReport) {}
}

/// A [`Progress`] that shows nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What happened to one stream.
#[derive(Debug, Clone)]
pub struct StreamReport {
    /// The stream.
    pub stream: String,
    /// Its row in `sync_runs`.
    pub run_id: SyncRunId,
    /// Items the connector yielded (records, rejects, deletes).
    pub read: u64,
    /// What the store did with them.
    pub outcome: CommitOutcome,
    /// The error that stopped the stream, if any.
    pub error: Option<String>,
    /// Why the stream paused cleanly (the vendor's quota is spent), and when it may resume.
    pub paused: Option<Paused>,
    /// The delete strategy, the source's counts and the warnings, as recorded on the run.
    pub checks: RunChecks,
    /// Schema drift found before load, as recorded on the run.
    pub drift: Vec<SchemaDrift>,
    /// Wall time.
    pub duration: Duration,
}

/// A stream that stopped because the vendor's quota is spent: not a failure. Its checkpoint
/// is committed and the next run resumes from it.
#[derive(Debug, Clone)]
pub struct Paused {
    /// The vendor's explanation.
    pub message: String,
    /// When the quota window rolls over, when known.
    pub resume_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What happened to every stream of a connector.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The connector instance.
    pub connector: String,
    /// One report per stream, in sync order.
    pub streams: Vec<StreamReport>,
}

impl SyncReport {
    /// Whether every stream finished without error (a pause for quota is not an error).
    pub fn succeeded(&self) -> bool {
        self.streams.iter().all(|s| s.error.is_none())
    }

    /// The pause, when the vendor's quota stopped the run.
    pub fn paused(&self) -> Option<&Paused> {
        self.streams.iter().find_map(|s| s.paused.as_ref())
    }

    /// The sum over streams.
    pub fn totals(&self) -> (u64, CommitOutcome) {
        let mut out = CommitOutcome::default();
        let mut read = 0;
        for s in &self.streams {
            read += s.read;
            out.add(s.outcome);
        }
        (read, out)
    }
}

/// The most items pages held back by a running commit grow a batch to: past about a thousand
/// rows a statement's fixed costs are amortised, and every item held is memory (a contact's
/// parsed payload is several kilobytes; with 5,000 a sync's peak RSS passed 300 MB).
const GROUP_ITEMS: usize = 1_000;

/// Runs streams into the store.
#[derive(Clone, Debug)]
pub struct SyncEngine {
    store: Store,
    batch_size: usize,
    drift_policy: DriftPolicy,
    /// Commit tasks running, shared by clones of this engine, so
    /// [`SyncEngine::commits_finished`] can wait for them all.
    commits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SyncEngine {
    /// An engine committing at every checkpoint, and at least every 5,000 items.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            batch_size: 5_000,
            drift_policy: DriftPolicy::default(),
            commits: std::sync::Arc::default(),
        }
    }

    /// Waits until no batch of this engine (or a clone of it) is being committed. A sync
    /// dropped mid-run (a worker stopping) leaves its batch in flight to commit with its
    /// checkpoint; a process that waits here before it exits keeps that batch instead of
    /// rolling it back.
    pub async fn commits_finished(&self) {
        while self.commits.load(std::sync::atomic::Ordering::Acquire) > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Sets what happens to records that show a field's type changed.
    pub fn with_drift_policy(mut self, policy: DriftPolicy) -> Self {
        self.drift_policy = policy;
        self
    }

    /// Sets the most items held before a commit when a connector checkpoints rarely.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Syncs the named streams (all when `only` is empty) of `connector`.
    pub async fn sync(
        &self,
        connector: &dyn Connector,
        mode: SyncMode,
        only: &[String],
        progress: &dyn Progress,
    ) -> Result<SyncReport, SyncError> {
        self.sync_with(connector, mode, only, RunOrigin::default(), progress)
            .await
    }

    /// [`SyncEngine::sync`], recording who runs it and for which scheduled slot.
    pub async fn sync_with(
        &self,
        connector: &dyn Connector,
        mode: SyncMode,
        only: &[String],
        origin: RunOrigin,
        progress: &dyn Progress,
    ) -> Result<SyncReport, SyncError> {
        let instance = connector.instance().to_owned();
        let all = connector.streams();
        for name in only {
            if !all.iter().any(|s| &s.name == name) {
                return Err(SyncError::UnknownStream {
                    connector: instance,
                    stream: name.clone(),
                    available: all
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        // Runs still marked running were cut off by a crash; this process now owns the
        // connector (one sync per connector at a time).
        self.store
            .abandon_stale_runs(&instance)
            .await
            .map_err(|source| SyncError::Store {
                connector: instance.clone(),
                source,
            })?;
        let mut streams = Vec::new();
        for spec in all
            .iter()
            .filter(|s| only.is_empty() || only.contains(&s.name))
        {
            let report = self
                .sync_stream(connector, spec, mode, &origin, progress)
                .await
                .map_err(|source| SyncError::Store {
                    connector: instance.clone(),
                    source,
                })?;
            progress.stream_finished(&report);
            let paused = report.paused.is_some();
            streams.push(report);
            if paused {
                // The quota belongs to the vendor org, shared by every stream of the
                // connector: the remaining streams would only be refused too.
                break;
            }
        }
        Ok(SyncReport {
            connector: instance,
            streams,
        })
    }

    /// Runs one stream inside a span naming the connector and the stream, so every line
    /// logged while it runs (the connector's, the HTTP client's) carries both. The span is
    /// attached to the future, not entered across `.await`s, so it never leaks onto other
    /// tasks' lines.
    async fn sync_stream(
        &self,
        connector: &dyn Connector,
        spec: &StreamSpec,
        mode: SyncMode,
        origin: &RunOrigin,
        progress: &dyn Progress,
    ) -> Result<StreamReport, tributary_store::StoreError> {
        // A stream that cannot read incrementally is read in full.
        let mode = if spec.modes.contains(&mode) {
            mode
        } else {
            spec.modes.first().copied().unwrap_or(SyncMode::FullRefresh)
        };
        let span = tracing::info_span!("sync_stream", connector = %connector.instance(), stream = %spec.name, mode = mode.as_str());
        self.run_stream(connector, spec, mode, origin, progress)
            .instrument(span)
            .await
    }

    async fn run_stream(
        &self,
        connector: &dyn Connector,
        spec: &StreamSpec,
        mode: SyncMode,
        origin: &RunOrigin,
        progress: &dyn Progress,
    ) -> Result<StreamReport, tributary_store::StoreError> {
        let instance = connector.instance().to_owned();
        let started = Instant::now();
        progress.stream_started(spec);
        if mode == SyncMode::FullRefresh {
            // Rows this refresh does not see by its end are marked deleted; a resumed refresh
            // keeps the start of the attempt it resumes.
            self.store.begin_sweep(&instance, &spec.name).await?;
        }
        let state = self.store.load_state(&instance, &spec.name).await?;
        let run_id = self
            .store
            .start_run_for(
                &instance,
                &spec.name,
                mode.as_str(),
                state.clone(),
                origin.clone(),
            )
            .await?;
        let new_batch = || CommitBatch {
            connector: instance.clone(),
            stream: spec.name.clone(),
            run_id: Some(run_id),
            replayable: true,
            ..Default::default()
        };
        let mut schema = SchemaTracker::new(
            self.store.stream_fields(&instance, &spec.name).await?,
            self.drift_policy,
        );
        let mut drift: Vec<SchemaDrift> = Vec::new();
        let mut batch = new_batch();
        let mut read = 0u64;
        let mut totals = CommitOutcome::default();
        let mut cursor = state.clone();
        let mut error = None;
        let mut paused = None;
        let mut counts: Vec<SourceCount> = Vec::new();
        // The commit of the last batch runs on its own task while the connector fetches the
        // next page (pipelining); at most one is in flight, so commits stay in page order.
        let mut inflight: Option<InflightCommit> = None;
        let mut items = connector.read(spec, mode, state.map(tributary_connector::StreamState));
        while let Some(item) = items.next().await {
            let item = match item {
                Ok(item) => item,
                Err(tributary_connector::ConnectorError::QuotaExhausted {
                    message,
                    resume_at,
                    ..
                }) => {
                    tracing::warn!(stream = %spec.name, %message, resume_at = ?resume_at, "vendor quota spent: the run pauses at its last checkpoint and resumes when the window rolls over");
                    paused = Some(Paused { message, resume_at });
                    break;
                }
                Err(e) => {
                    tracing::error!(stream = %spec.name, error = %e, "stream stopped");
                    error = Some(e.to_string());
                    break;
                }
            };
            let mut flush = false;
            match item {
                ReadItem::Record(r) => {
                    batch.records.push(*r);
                    batch.records_read += 1;
                }
                ReadItem::Reject(r) => {
                    batch.rejects.push(QuarantineItem {
                        external_id: r.external_id,
                        reason: r.reason,
                        payload: r.raw.to_string(),
                    });
                    batch.records_read += 1;
                }
                ReadItem::Delete(r) => {
                    batch.deletes.push(r);
                    batch.records_read += 1;
                }
                ReadItem::Skip => {
                    batch.skipped += 1;
                    batch.records_read += 1;
                }
                ReadItem::Count(c) => {
                    counts.push(c);
                }
                ReadItem::Expect(more) => progress.expected(spec, more),
                ReadItem::Checkpoint(s) => {
                    cursor = (!s.0.is_null()).then(|| s.0.clone());
                    // A full refresh that reached its end (state back to null) sweeps away
                    // what it did not see, atomically with its last page.
                    batch.complete_full_refresh = mode == SyncMode::FullRefresh && s.0.is_null();
                    batch.state = Some(s.0);
                    flush = true;
                }
                ReadItem::Complete(s) => {
                    cursor = (!s.0.is_null()).then(|| s.0.clone());
                    batch.complete_full_refresh = mode == SyncMode::FullRefresh;
                    batch.state = Some(s.0);
                    flush = true;
                }
            }
            let held = batch.records.len() + batch.rejects.len() + batch.deletes.len();
            if !(flush || held >= self.batch_size) {
                continue;
            }
            // Group commit: while the previous commit is still running, the pages read
            // meanwhile join this batch (its checkpoint is the newest page's), up to
            // GROUP_ITEMS; a batch always ends at a checkpoint or at the batch size.
            if held < Ord::min(self.batch_size, GROUP_ITEMS)
                && inflight.as_ref().is_some_and(|c| !c.is_finished())
            {
                continue;
            }
            if let Some(c) = inflight.take() {
                read += c.read;
                totals.add(c.finish().await?);
                progress.committed(spec, read, &totals);
            }
            let full = std::mem::replace(&mut batch, new_batch());
            inflight = Some(self.start_commit(full, &mut schema, &mut drift));
        }
        drop(items);
        if let Some(c) = inflight.take() {
            read += c.read;
            totals.add(c.finish().await?);
            progress.committed(spec, read, &totals);
        }
        // The pages held back while the last commit ran, with their checkpoint; and whatever
        // arrived after the last checkpoint, committed without moving the cursor (upserts are
        // idempotent, so re-reading it next time is harmless).
        if batch.records_read > 0 || batch.state.is_some() {
            read += batch.records_read;
            totals.add(
                self.start_commit(batch, &mut schema, &mut drift)
                    .finish()
                    .await?,
            );
            progress.committed(spec, read, &totals);
        }
        let status = if error.is_some() {
            RunStatus::Failed
        } else if paused.is_some() {
            RunStatus::Paused
        } else {
            RunStatus::Succeeded
        };
        let checks = completeness(spec, &counts);
        self.store
            .finish_run(
                run_id,
                RunFinish {
                    status,
                    checks: checks.clone(),
                    cursor_after: cursor,
                    error: error.clone().or_else(|| {
                        paused.as_ref().map(|p| match p.resume_at {
                            Some(t) => format!("paused: {} (resumes after {t})", p.message),
                            None => format!("paused: {}", p.message),
                        })
                    }),
                },
            )
            .await?;
        tracing::info!(
            stream = %spec.name,
            read,
            written = totals.written,
            unchanged = totals.unchanged,
            quarantined = totals.quarantined,
            deleted = totals.deleted,
            skipped = totals.skipped,
            swept = totals.swept,
            status = status.as_str(),
            "stream finished"
        );
        Ok(StreamReport {
            stream: spec.name.clone(),
            run_id,
            read,
            outcome: totals,
            error,
            paused,
            checks,
            drift,
            duration: started.elapsed(),
        })
    }

    /// Commits what a push source accepted from one request, stream by stream, through the
    /// same store path as a pull sync; the caller acknowledges the request only after this
    /// returns. Should the process die between two streams' commits, the client saw no
    /// answer and retries, and the upserts of the retry are harmless.
    pub async fn ingest(
        &self,
        source: &dyn PushSource,
        items: Vec<PushItem>,
    ) -> Result<CommitOutcome, SyncError> {
        let instance = source.instance().to_owned();
        let streams = source.streams();
        let mut batches: Vec<CommitBatch> = Vec::new();
        for PushItem { stream, item } in items {
            if !streams.iter().any(|s| s.name == stream) {
                return Err(SyncError::UnknownStream {
                    connector: instance,
                    stream,
                    available: streams
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            let at = match batches.iter().position(|b| b.stream == stream) {
                Some(at) => at,
                None => {
                    batches.push(CommitBatch {
                        connector: instance.clone(),
                        stream,
                        ..Default::default()
                    });
                    batches.len() - 1
                }
            };
            let batch = &mut batches[at];
            match item {
                ReadItem::Record(r) => batch.records.push(*r),
                ReadItem::Reject(r) => batch.rejects.push(QuarantineItem {
                    external_id: r.external_id,
                    reason: r.reason,
                    payload: r.raw.to_string(),
                }),
                ReadItem::Delete(r) => batch.deletes.push(r),
                ReadItem::Skip => batch.skipped += 1,
                // A push has no cursor and no vendor count.
                ReadItem::Checkpoint(_)
                | ReadItem::Complete(_)
                | ReadItem::Count(_)
                | ReadItem::Expect(_) => continue,
            }
            batch.records_read += 1;
        }
        let mut outcome = CommitOutcome::default();
        for batch in batches {
            outcome.add(self.store.commit_batch(batch).await.map_err(|source| {
                SyncError::Store {
                    connector: instance.clone(),
                    source,
                }
            })?);
        }
        Ok(outcome)
    }

    /// Starts the commit of a batch of a run on its own task, after looking at it: new fields
    /// are recorded and drift is reported on the run (and in the log) first, and the records
    /// the policy holds move into quarantine.
    fn start_commit(
        &self,
        mut batch: CommitBatch,
        schema: &mut SchemaTracker,
        drift: &mut Vec<SchemaDrift>,
    ) -> InflightCommit {
        let seen = schema.observe(&batch.records);
        for d in &seen.update.drift {
            tracing::warn!(
                stream = %batch.stream,
                field = %d.field,
                old_type = %d.old_type,
                new_type = d.new_type.as_deref().unwrap_or("(gone)"),
                policy = %d.policy,
                "schema drift detected before load"
            );
        }
        let changed = !seen.update.upsert.is_empty()
            || !seen.update.remove.is_empty()
            || !seen.update.drift.is_empty();
        let schema_update = match (changed, batch.run_id) {
            (true, Some(run)) => Some((run, seen.update.clone())),
            _ => None,
        };
        drift.extend(seen.update.drift);
        // Highest index first, so earlier indexes stay valid while records move out.
        for (i, reason) in seen.quarantine.into_iter().rev() {
            let r = batch.records.remove(i);
            batch.rejects.push(QuarantineItem {
                external_id: Some(r.external_ref.external_id.clone()),
                reason,
                payload: r.raw.to_string(),
            });
        }
        let items = batch.records_read;
        let store = self.store.clone();
        let running = CommitRunning::new(&self.commits);
        let task = tokio::spawn(
            async move {
                let _running = running;
                if let Some((run, update)) = schema_update {
                    store
                        .record_schema(run, &batch.connector, &batch.stream, &update)
                        .await?;
                }
                let outcome = store.commit_batch(batch).await?;
                // Every record, reject and delete read lands in exactly one figure of the
                // outcome.
                debug_assert_eq!(outcome.accounted(), items, "{outcome:?}");
                Ok(outcome)
            }
            .in_current_span(),
        );
        InflightCommit { task, read: items }
    }
}

/// Counts a commit task as running until it is dropped (it finished, or it panicked).
struct CommitRunning(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl CommitRunning {
    fn new(count: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        CommitRunning(std::sync::Arc::clone(count))
    }
}

impl Drop for CommitRunning {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// A batch being committed on its own task.
struct InflightCommit {
    task: tokio::task::JoinHandle<Result<CommitOutcome, tributary_store::StoreError>>,
    /// The items the batch holds.
    read: u64,
}

impl InflightCommit {
    fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the commit; a panic inside it is the caller's panic.
    async fn finish(self) -> Result<CommitOutcome, tributary_store::StoreError> {
        match self.task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(tributary_store::StoreError::Invalid(format!(
                "commit task stopped: {e}"
            ))),
        }
    }
}

/// The run's checks from the counts the connector reported: sums, and a warning per phase
/// that read less than the source said it holds.
fn completeness(spec: &StreamSpec, counts: &[SourceCount]) -> RunChecks {
    let mut checks = RunChecks {
        delete_strategy: Some(spec.delete_strategy.as_str().to_owned()),
        ..RunChecks::default()
    };
    for c in counts {
        *checks.source_count.get_or_insert(0) += c.source;
        *checks.source_read.get_or_insert(0) += c.read;
        if c.read < c.source {
            let warning = format!(
                "incomplete: {} of `{}`: the source reports {} records, {} were read ({} missing)",
                c.phase,
                spec.name,
                c.source,
                c.read,
                c.source - c.read
            );
            tracing::warn!(stream = %spec.name, phase = %c.phase, source = c.source, read = c.read, "{warning}");
            checks.warnings.push(warning);
        }
    }
    checks
}
