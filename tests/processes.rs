//! Real processes: several `tributary serve --role worker` sharing one database, and syncs
//! killed with SIGKILL in the middle of a stream. Each test runs on SQLite and, when
//! `TRIBUTARY_TEST_POSTGRES_URL` is set, on PostgreSQL.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tributary::config::ConnectorSection;
use tributary_connector::SyncMode;
use tributary_mock_hubspot as hubspot;
use tributary_mock_kit::MockServer;
use tributary_sim::{Company, SimConfig};
use tributary_store::testing::TestDatabase;
use tributary_store::{RunStatus, Store};
use tributary_sync::{NoProgress, SyncEngine};

const CONNECTOR: &str = "hubspot-sim";
const TOKEN: &str = "pat-na1-sim-0000";
/// The demo connector's streams, sorted.
const STREAMS: [&str; 4] = ["companies", "contacts", "deal_contacts", "deals"];

/// A child process killed when dropped.
struct Proc(Child);

impl Proc {
    fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.0.id().to_string())
            .status();
    }

    async fn wait_exit(&mut self, within: Duration) -> Result<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.0.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("process {} did not exit", self.0.id());
            }
            // Async: the simulator's mock serves on this test's runtime meanwhile.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_mock(accounts: usize) -> Result<MockServer> {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts,
        ..SimConfig::default()
    }));
    Ok(MockServer::start(hubspot::router(
        company,
        hubspot::HubspotMockConfig::default(),
    ))
    .await?)
}

fn write_config(
    dir: &std::path::Path,
    db: &str,
    mock: &str,
    interval: u64,
    ttl: u64,
) -> Result<std::path::PathBuf> {
    let path = dir.join("tributary.toml");
    std::fs::write(
        &path,
        format!(
            "database_url = \"{db}\"\nlisten = \"127.0.0.1:0\"\n\n[scheduler]\nlease_ttl_secs = {ttl}\npoll_interval_ms = 100\n\n\
             [ledger]\nfx_rates_csv = \"{fx}\"\n\n\
             [connectors.{CONNECTOR}]\nkind = \"hubspot\"\ninterval_secs = {interval}\nendpoint = \"{mock}\"\n\
             access_token = {{ env = \"HUBSPOT_ACCESS_TOKEN\" }}\n",
            fx = concat!(env!("CARGO_MANIFEST_DIR"), "/fx/simulator.csv"),
        ),
    )?;
    Ok(path)
}

fn tributary(config: &std::path::Path, args: &[&str]) -> Result<Proc> {
    let child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("HUBSPOT_ACCESS_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("spawn tributary")?;
    Ok(Proc(child))
}

/// The digest of a clean, uninterrupted sync of the same mock.
async fn clean_digest(mock: &MockServer) -> Result<String> {
    let db = TestDatabase::sqlite();
    let store = db.store().await?;
    let section: ConnectorSection = toml::from_str(&format!(
        "kind = \"hubspot\"\nendpoint = \"{}\"\naccess_token = {{ env = \"T\" }}\n",
        mock.base_url
    ))?;
    let connector = tributary::registry::build(CONNECTOR, &section, &|_| Some(TOKEN.to_owned()))?;
    let report = SyncEngine::new(store.clone())
        .sync(connector.as_ref(), SyncMode::FullRefresh, &[], &NoProgress)
        .await?;
    assert!(report.succeeded());
    tributary::ledger::refresh(&store, &tributary::ledger::simulator_fx()?, 30).await?;
    Ok(store.content_digest().await?)
}

async fn wait_for<F, Fut>(what: &str, within: Duration, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + within;
    while !check().await? {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// True once a running stream has committed at least one page.
async fn mid_stream(store: &Store) -> Result<bool> {
    let (runs, _) = store.sync_runs(Some(CONNECTOR), 0, 10, true).await?;
    Ok(runs
        .iter()
        .any(|r| r.status == RunStatus::Running && r.records_read > 0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_run_every_scheduled_run_exactly_once() -> Result<()> {
    let mock = start_mock(40).await?;
    for db in TestDatabase::all().await? {
        let dir = tempdir()?;
        let config = write_config(&dir.0, &db.url, &mock.base_url, 1, 10)?;
        let store = db.store().await?;
        let mut a = tributary(&config, &["serve", "--role", "worker"])?;
        let mut b = tributary(&config, &["serve", "--role", "worker"])?;
        // Let about five one-second slots pass.
        wait_for("five scheduled runs", Duration::from_secs(60), || async {
            let (runs, _) = store.sync_runs(Some(CONNECTOR), 0, 1000, true).await?;
            // Slots whose every stream succeeded (a worker stopped mid-slot leaves one that
            // did not, which the assertions below do not count).
            let mut succeeded: BTreeMap<_, usize> = BTreeMap::new();
            for r in runs.iter().filter(|r| r.status == RunStatus::Succeeded) {
                *succeeded.entry(r.scheduled_for).or_default() += 1;
            }
            Ok(succeeded.values().filter(|n| **n >= STREAMS.len()).count() >= 5)
        })
        .await?;
        a.signal("TERM");
        b.signal("TERM");
        a.wait_exit(Duration::from_secs(20)).await?;
        b.wait_exit(Duration::from_secs(20)).await?;

        let (runs, _) = store.sync_runs(Some(CONNECTOR), 0, 1000, true).await?;
        let mut by_slot: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for r in &runs {
            by_slot
                .entry(r.scheduled_for.context("scheduled run without slot")?)
                .or_default()
                .push(r);
        }
        let mut completed = 0;
        for (slot, runs) in &by_slot {
            let workers: std::collections::BTreeSet<_> =
                runs.iter().map(|r| r.worker.clone()).collect();
            assert_eq!(
                workers.len(),
                1,
                "{}: slot {slot} ran on {workers:?}",
                db.backend
            );
            if runs.iter().all(|r| r.status == RunStatus::Succeeded) {
                let mut streams: Vec<_> = runs.iter().map(|r| r.stream.as_str()).collect();
                streams.sort();
                assert_eq!(streams, STREAMS, "{}: slot {slot}", db.backend);
                completed += 1;
            }
        }
        assert!(
            completed >= 5,
            "{}: {completed} completed slots",
            db.backend
        );
        let slots: Vec<_> = by_slot.keys().collect();
        for w in slots.windows(2) {
            assert!(
                *w[1] - *w[0] >= chrono::Duration::milliseconds(999),
                "{}: slots {w:?} closer than the interval",
                db.backend
            );
        }
        store.close().await?;
        db.cleanup().await?;
    }
    mock.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_run_is_taken_over_after_its_lease_expires() -> Result<()> {
    let mock = start_mock(1500).await?;
    let expected = clean_digest(&mock).await?;
    for db in TestDatabase::all().await? {
        let dir = tempdir()?;
        let config = write_config(&dir.0, &db.url, &mock.base_url, 3600, 2)?;
        let store = db.store().await?;
        let a = tributary(&config, &["serve", "--role", "worker"])?;
        wait_for(
            "worker A in the middle of a stream",
            Duration::from_secs(60),
            || mid_stream(&store),
        )
        .await?;
        a.signal("KILL");
        drop(a);
        let a_slot = store.leases().await?[0].claimed_for;
        let _b = tributary(&config, &["serve", "--role", "worker"])?;
        wait_for(
            "worker B to finish the run",
            Duration::from_secs(90),
            || async {
                let (runs, _) = store.sync_runs(Some(CONNECTOR), 0, 100, true).await?;
                Ok(runs
                    .iter()
                    // `deal_contacts` is the connector's last stream.
                    .any(|r| r.stream == "deal_contacts" && r.status == RunStatus::Succeeded))
            },
        )
        .await?;
        let (runs, _) = store.sync_runs(Some(CONNECTOR), 0, 100, true).await?;
        let workers: std::collections::BTreeSet<_> =
            runs.iter().filter_map(|r| r.worker.clone()).collect();
        assert_eq!(workers.len(), 2, "{}: {workers:?}", db.backend);
        assert!(
            runs.iter().all(|r| r.scheduled_for == a_slot),
            "{}: B ran A's slot",
            db.backend
        );
        // The worker refreshes the revenue ledger right after the run's last stream.
        let digest_matches = wait_for(
            "the clean run's content",
            Duration::from_secs(30),
            || async { Ok(store.content_digest().await? == expected) },
        )
        .await;
        assert!(
            digest_matches.is_ok(),
            "{}: content differs from a clean run",
            db.backend
        );
        store.close().await?;
        db.cleanup().await?;
    }
    mock.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_mid_stream_resumes_to_the_same_content() -> Result<()> {
    let mock = start_mock(1500).await?;
    let expected = clean_digest(&mock).await?;
    for db in TestDatabase::all().await? {
        let dir = tempdir()?;
        let config = write_config(&dir.0, &db.url, &mock.base_url, 3600, 2)?;
        let store = db.store().await?;
        let killed = tributary(&config, &["sync"])?;
        wait_for("the sync to be mid-stream", Duration::from_secs(60), || {
            mid_stream(&store)
        })
        .await?;
        killed.signal("KILL");
        drop(killed);
        // The killed process's lease must expire before a new sync may take the connector.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut again = tributary(&config, &["sync"])?;
        let status = again.wait_exit(Duration::from_secs(120)).await?;
        assert!(status.success(), "{}: second sync failed", db.backend);
        assert_eq!(store.content_digest().await?, expected, "{}", db.backend);
        let (runs, _) = store.sync_runs(Some(CONNECTOR), 0, 100, true).await?;
        assert!(
            runs.iter().any(|r| r.status == RunStatus::Abandoned),
            "{}: the killed run is marked abandoned",
            db.backend
        );
        store.close().await?;
        db.cleanup().await?;
    }
    mock.shutdown().await?;
    Ok(())
}

/// A temporary directory removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> Result<TempDir> {
    let dir =
        std::env::temp_dir().join(format!("tributary-proc-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(TempDir(dir))
}
