//! Engine semantics with an in-memory connector: checkpoints commit with their data, a failed
//! stream resumes from its last checkpoint without gaps or duplicates, rejects are quarantined.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use tributary_connector::*;
use tributary_model::*;
use tributary_store::RunStatus;
use tributary_store::testing::TestDatabase;
use tributary_sync::{NoProgress, SyncEngine};

/// Serves `pages` pages of `per_page` accounts; the state is the next page number. Fails once
/// with a transient error when asked for page `fail_at` the first time.
struct Paged {
    pages: usize,
    /// Pages served from the second read on (rows of the others vanished at the source).
    later_pages: Option<usize>,
    /// Fail with an exhausted quota instead of a transient error.
    quota: bool,
    per_page: usize,
    fail_at: Option<usize>,
    failures: AtomicUsize,
    reads_from: std::sync::Mutex<Vec<usize>>,
    /// End the read with `ReadItem::Complete(this)` instead of a null checkpoint.
    complete_with: Option<serde_json::Value>,
    /// After the last page's checkpoint, end with `ReadItem::Complete(this)` and no records.
    then_complete: Option<serde_json::Value>,
}

#[async_trait]
impl Connector for Paged {
    fn kind(&self) -> &'static str {
        "paged"
    }
    fn instance(&self) -> &str {
        "paged-test"
    }
    async fn check(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
    fn streams(&self) -> Vec<StreamSpec> {
        vec![StreamSpec {
            name: "accounts".into(),
            entity: EntityKind::Account,
            cursor_field: None,
            modes: vec![SyncMode::FullRefresh],
            delete_strategy: DeleteStrategy::KeyDiff,
        }]
    }
    fn read<'a>(
        &'a self,
        _stream: &'a StreamSpec,
        _mode: SyncMode,
        state: Option<StreamState>,
    ) -> BoxStream<'a, Result<ReadItem, ConnectorError>> {
        let start = state
            .and_then(|s| s.0.get("page").and_then(|p| p.as_u64()))
            .unwrap_or(0) as usize;
        let pages = {
            let mut reads = self.reads_from.lock().expect("lock");
            reads.push(start);
            match self.later_pages {
                Some(p) if reads.len() > 1 => p,
                _ => self.pages,
            }
        };
        let mut items = Vec::new();
        for page in start..pages {
            if Some(page) == self.fail_at && self.failures.fetch_add(1, Ordering::SeqCst) == 0 {
                items.push(Err(if self.quota {
                    ConnectorError::QuotaExhausted {
                        url: "mem://".into(),
                        message: "daily limit of 1000 requests reached".into(),
                        resume_at: None,
                    }
                } else {
                    ConnectorError::Transient {
                        url: "mem://".into(),
                        message: "connection reset".into(),
                    }
                }));
                break;
            }
            for i in 0..self.per_page {
                let n = page * self.per_page + i;
                if n == 7 {
                    items.push(Ok(ReadItem::Reject(Reject {
                        external_id: Some(n.to_string()),
                        reason: "field `x` is not a number".into(),
                        raw: json!({"id": n, "x": "y"}),
                    })));
                    continue;
                }
                items.push(Ok(ReadItem::Record(Box::new(SourceRecord {
                    external_ref: ExternalRef::new(
                        "paged",
                        "paged-test",
                        "accounts",
                        n.to_string(),
                    ),
                    source_updated_at: None,
                    raw: json!({"id": n}),
                    entity: Entity::Account(Account::named(format!("Account {n:04}"))),
                }))));
            }
            let next = if page + 1 == pages {
                serde_json::Value::Null
            } else {
                json!({"page": page + 1})
            };
            match (&self.complete_with, next.is_null()) {
                (Some(end), true) => items.push(Ok(ReadItem::Complete(StreamState(end.clone())))),
                _ => items.push(Ok(ReadItem::Checkpoint(StreamState(next)))),
            }
        }
        if let Some(end) = &self.then_complete {
            items.push(Ok(ReadItem::Complete(StreamState(end.clone()))));
        }
        stream::iter(items).boxed()
    }
}

fn paged(fail_at: Option<usize>) -> Paged {
    Paged {
        pages: 5,
        later_pages: None,
        quota: false,
        per_page: 10,
        fail_at,
        failures: AtomicUsize::new(0),
        reads_from: Default::default(),
        complete_with: None,
        then_complete: None,
    }
}

#[tokio::test]
async fn a_failed_stream_resumes_from_its_last_checkpoint() {
    for db in TestDatabase::all().await.unwrap() {
        // Reference: a clean run.
        let clean_db = TestDatabase::sqlite();
        let clean = clean_db.store().await.unwrap();
        SyncEngine::new(clean.clone())
            .sync(&paged(None), SyncMode::FullRefresh, &[], &NoProgress)
            .await
            .unwrap();
        let expected = clean.counts().await.unwrap();

        let store = db.store().await.unwrap();
        let engine = SyncEngine::new(store.clone());
        let conn = paged(Some(3));
        let first = engine
            .sync(&conn, SyncMode::FullRefresh, &[], &NoProgress)
            .await
            .unwrap();
        assert!(!first.succeeded());
        assert_eq!(
            first.streams[0].outcome.written, 29,
            "pages 0-2 minus the reject"
        );
        assert_eq!(
            store.load_state("paged-test", "accounts").await.unwrap(),
            Some(json!({"page": 3}))
        );

        let second = engine
            .sync(&conn, SyncMode::FullRefresh, &[], &NoProgress)
            .await
            .unwrap();
        assert!(second.succeeded());
        assert_eq!(*conn.reads_from.lock().unwrap(), vec![0, 3]);
        assert_eq!(second.streams[0].outcome.written, 20);
        assert_eq!(
            store.load_state("paged-test", "accounts").await.unwrap(),
            None
        );
        assert_eq!(store.counts().await.unwrap(), expected, "{}", db.backend);

        let (runs, total) = store
            .sync_runs(Some("paged-test"), 0, 10, true)
            .await
            .unwrap();
        assert_eq!(total, Some(2));
        assert_eq!(runs[0].status, RunStatus::Succeeded);
        assert_eq!(runs[1].status, RunStatus::Failed);
        assert!(
            runs[1]
                .error
                .as_deref()
                .unwrap()
                .contains("connection reset")
        );
        assert_eq!(runs[1].cursor_after, Some(json!({"page": 3})));
        let (q, _) = store.quarantine(0, 10, true).await.unwrap();
        assert_eq!(q.len(), 1);
        assert!(q[0].reason.contains("not a number"));

        store.close().await.unwrap();
        db.cleanup().await.unwrap();
    }
}

#[tokio::test]
async fn unknown_streams_are_refused() {
    let db = TestDatabase::sqlite();
    let store = db.store().await.unwrap();
    let err = SyncEngine::new(store)
        .sync(
            &paged(None),
            SyncMode::FullRefresh,
            &["nope".into()],
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("has no stream `nope` (it has: accounts)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_full_refresh_marks_rows_that_vanished_as_deleted() {
    for db in TestDatabase::all().await.unwrap() {
        let store = db.store().await.unwrap();
        let engine = SyncEngine::new(store.clone());
        let conn = Paged {
            later_pages: Some(4),
            ..paged(None)
        };
        let first = engine
            .sync(&conn, SyncMode::FullRefresh, &[], &NoProgress)
            .await
            .unwrap();
        assert_eq!(first.streams[0].outcome.swept, 0);
        let second = engine
            .sync(&conn, SyncMode::FullRefresh, &[], &NoProgress)
            .await
            .unwrap();
        assert_eq!(second.streams[0].outcome.swept, 10, "{}", db.backend);
        assert_eq!(second.streams[0].outcome.written, 0);
        let counts = store.counts().await.unwrap();
        assert_eq!(counts.entities[&EntityKind::Account], 39, "{}", db.backend);
        store.close().await.unwrap();
        db.cleanup().await.unwrap();
    }
}

/// A full refresh that ends with `ReadItem::Complete` sweeps like one ending with a null
/// checkpoint, and keeps the state it hands over (the next incremental run's mark).
/// Pages read while the previous commit runs join the next commit (the connector here yields
/// 200 pages at once, far faster than they commit): nothing is lost or counted twice, and the
/// newest checkpoint — here a final state after the last page, with no records of its own —
/// is what the store keeps.
#[tokio::test]
async fn pages_read_during_a_commit_join_the_next_one_with_their_checkpoint() {
    for db in TestDatabase::all().await.unwrap() {
        let store = db.store().await.unwrap();
        let mark = json!({"since": "2026-12-01T00:00:00Z"});
        let conn = Paged {
            pages: 200,
            then_complete: Some(mark.clone()),
            ..paged(None)
        };
        let report = SyncEngine::new(store.clone())
            .sync(&conn, SyncMode::FullRefresh, &[], &NoProgress)
            .await
            .unwrap();
        let s = &report.streams[0];
        assert_eq!(s.read, 2_000, "{}", db.backend);
        assert_eq!((s.outcome.written, s.outcome.quarantined), (1_999, 1));
        assert_eq!(
            store.load_state("paged-test", "accounts").await.unwrap(),
            Some(mark.clone()),
            "{}",
            db.backend
        );
        let counts = store.counts().await.unwrap();
        assert_eq!(
            counts.entities[&EntityKind::Account],
            1_999,
            "{}",
            db.backend
        );
        store.close().await.unwrap();
        db.cleanup().await.unwrap();
    }
}

#[tokio::test]
async fn a_full_refresh_can_complete_with_a_state() {
    for db in TestDatabase::all().await.unwrap() {
        let store = db.store().await.unwrap();
        let engine = SyncEngine::new(store.clone());
        let mark = json!({"since": "2026-11-01T00:00:00Z"});
        let conn = Paged {
            later_pages: Some(4),
            complete_with: Some(mark.clone()),
            ..paged(None)
        };
        engine
            .sync(&conn, SyncMode::FullRefresh, &[], &NoProgress)
            .await
            .unwrap();
        let second = engine
            .sync(&conn, SyncMode::FullRefresh, &[], &NoProgress)
            .await
            .unwrap();
        assert_eq!(second.streams[0].outcome.swept, 10, "{}", db.backend);
        assert_eq!(
            store.load_state("paged-test", "accounts").await.unwrap(),
            Some(mark.clone()),
            "{}",
            db.backend
        );
        let counts = store.counts().await.unwrap();
        assert_eq!(counts.entities[&EntityKind::Account], 39, "{}", db.backend);
        store.close().await.unwrap();
        db.cleanup().await.unwrap();
    }
}

#[tokio::test]
async fn a_spent_quota_pauses_the_run_at_its_checkpoint_without_failing() {
    let db = TestDatabase::sqlite();
    let store = db.store().await.unwrap();
    let engine = SyncEngine::new(store.clone());
    let conn = Paged {
        quota: true,
        ..paged(Some(2))
    };
    let first = engine
        .sync(&conn, SyncMode::FullRefresh, &[], &NoProgress)
        .await
        .unwrap();
    assert!(first.succeeded(), "a pause is not a failure");
    let paused = first.paused().expect("paused");
    assert!(paused.message.contains("daily limit"));
    assert_eq!(
        store.load_state("paged-test", "accounts").await.unwrap(),
        Some(json!({"page": 2}))
    );
    let (runs, _) = store
        .sync_runs(Some("paged-test"), 0, 10, true)
        .await
        .unwrap();
    assert_eq!(runs[0].status, RunStatus::Paused);
    assert!(runs[0].error.as_deref().unwrap().contains("daily limit"));
    // The next run resumes from the checkpoint and completes.
    let second = engine
        .sync(&conn, SyncMode::FullRefresh, &[], &NoProgress)
        .await
        .unwrap();
    assert!(second.succeeded() && second.paused().is_none());
    assert_eq!(
        store.counts().await.unwrap().entities[&EntityKind::Account],
        49
    );
}

/// Serves one page and its checkpoint, then tells the test that the engine asks for more
/// (the page's commit is then under way) and never answers: a run a worker stops mid-stream.
struct Stalling {
    per_page: usize,
    asked_for_more: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

#[async_trait]
impl Connector for Stalling {
    fn kind(&self) -> &'static str {
        "paged"
    }
    fn instance(&self) -> &str {
        "paged-test"
    }
    async fn check(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
    fn streams(&self) -> Vec<StreamSpec> {
        paged(None).streams()
    }
    fn read<'a>(
        &'a self,
        _stream: &'a StreamSpec,
        _mode: SyncMode,
        _state: Option<StreamState>,
    ) -> BoxStream<'a, Result<ReadItem, ConnectorError>> {
        let mut items: Vec<Result<ReadItem, ConnectorError>> = (0..self.per_page)
            .map(|n| {
                Ok(ReadItem::Record(Box::new(SourceRecord {
                    external_ref: ExternalRef::new(
                        "paged",
                        "paged-test",
                        "accounts",
                        n.to_string(),
                    ),
                    source_updated_at: None,
                    raw: json!({"id": n}),
                    entity: Entity::Account(Account::named(format!("Account {n:05}"))),
                })))
            })
            .collect();
        items.push(Ok(ReadItem::Checkpoint(StreamState(json!({"page": 1})))));
        let signal = self.asked_for_more.lock().expect("lock").take();
        let stall = stream::once(async move {
            if let Some(tx) = signal {
                let _ = tx.send(());
            }
            futures::future::pending::<Result<ReadItem, ConnectorError>>().await
        });
        stream::iter(items).chain(stall).boxed()
    }
}

#[tokio::test]
async fn a_sync_stopped_mid_stream_lets_its_batch_commit_with_its_checkpoint() {
    for db in TestDatabase::all().await.unwrap() {
        let store = db.store().await.unwrap();
        let (tx, asked) = tokio::sync::oneshot::channel();
        let conn = Stalling {
            per_page: 3_000,
            asked_for_more: std::sync::Mutex::new(Some(tx)),
        };
        let engine = SyncEngine::new(store.clone());
        let run = engine.clone();
        tokio::select! {
            _ = run.sync(&conn, SyncMode::FullRefresh, &[], &NoProgress) => panic!("the sync cannot end"),
            _ = asked => {}
        }
        // The sync future is dropped here, as a stopping worker drops it; its batch commits.
        engine.commits_finished().await;
        let counts = store.counts().await.unwrap();
        assert_eq!(
            counts.entities[&EntityKind::Account],
            3_000,
            "{}",
            db.backend
        );
        assert_eq!(
            store.load_state("paged-test", "accounts").await.unwrap(),
            Some(json!({"page": 1})),
            "{}",
            db.backend
        );
        store.close().await.unwrap();
        db.cleanup().await.unwrap();
    }
}
