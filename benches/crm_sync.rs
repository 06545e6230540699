//! SPEC §12 "CRM records synced": the simulated company's CRM mock on loopback → the real
//! connector over HTTP at the vendor's largest page → the sync engine → the store, measured
//! per stream as records per second of wall-clock time.
//!
//! ```sh
//! cargo bench --bench crm_sync -- [--crm hubspot|salesforce|both] [--accounts N]
//!                                 [--postgres] [--runs R] [--resync] [--digest]
//! ```
//!
//! With `--resync`, each run then syncs the same, unchanged source again into the database it
//! just filled and reports that too: what a scheduled full refresh of a quiet CRM costs. With
//! `--digest`, each run prints the store's content digest, which must be the same on SQLite
//! and PostgreSQL for the same arguments.
//!
//! Each run syncs into a fresh database (a temporary SQLite file, or with `--postgres` a
//! database created on the server `TRIBUTARY_TEST_POSTGRES_URL` names and dropped after the
//! run) and prints one line per stream,
//! then the best run's totals. Record the figures and the command in
//! BENCHMARKS.md.

#![allow(clippy::print_stdout, clippy::print_stderr)] // A bench reports on the terminal.

/// mimalloc instead of glibc's malloc: a sync allocates and frees many small values per record
/// on several threads, and glibc's allocator took about a third of its CPU (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result, bail};
use std::sync::Arc;
use std::time::Instant;
use tributary::demo::SimulatedCrm;
use tributary_connector::SyncMode;
use tributary_mock_hubspot as hubspot;
use tributary_mock_kit::MockServer;
use tributary_mock_salesforce as salesforce;
use tributary_sim::{Company, SimConfig};
use tributary_store::testing::TestDatabase;
use tributary_sync::{NoProgress, SyncEngine};

struct Args {
    crms: Vec<SimulatedCrm>,
    accounts: usize,
    postgres: bool,
    runs: usize,
    resync: bool,
    digest: bool,
}

fn args() -> Result<Args> {
    let mut out = Args {
        crms: vec![SimulatedCrm::Hubspot, SimulatedCrm::Salesforce],
        accounts: 20_000,
        postgres: false,
        runs: 3,
        resync: false,
        digest: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--crm" => {
                out.crms = match value()?.as_str() {
                    "hubspot" => vec![SimulatedCrm::Hubspot],
                    "salesforce" => vec![SimulatedCrm::Salesforce],
                    "both" => vec![SimulatedCrm::Hubspot, SimulatedCrm::Salesforce],
                    other => bail!("--crm: hubspot, salesforce or both, not `{other}`"),
                }
            }
            "--accounts" => out.accounts = value()?.parse()?,
            "--postgres" => out.postgres = true,
            "--runs" => out.runs = value()?.parse()?,
            "--resync" => out.resync = true,
            "--digest" => out.digest = true,
            // `cargo bench` passes `--bench`; libtest's filters mean nothing here.
            "--bench" => {}
            other => bail!("unknown argument `{other}`"),
        }
    }
    Ok(out)
}

/// A fresh database for one run: a temporary SQLite file, or a new database on the server of
/// `--postgres` (created here, dropped after the run).
async fn fresh_database(postgres: bool) -> Result<TestDatabase> {
    if postgres {
        TestDatabase::postgres()
            .await?
            .context("--postgres needs TRIBUTARY_TEST_POSTGRES_URL to name a server")
    } else {
        Ok(TestDatabase::sqlite())
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = args()?;
    let started = Instant::now();
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: args.accounts,
        ..SimConfig::default()
    }));
    eprintln!(
        "generated {} accounts, {} contacts, {} deals in {:.2}s",
        company.accounts.len(),
        company.contacts.len(),
        company.deals.len(),
        started.elapsed().as_secs_f64()
    );
    for crm in &args.crms {
        let router = match crm {
            SimulatedCrm::Hubspot => {
                hubspot::router(Arc::clone(&company), hubspot::HubspotMockConfig::default())
            }
            SimulatedCrm::Salesforce => salesforce::router(
                Arc::clone(&company),
                salesforce::SalesforceMockConfig {
                    daily_limit: u64::MAX,
                    ..salesforce::SalesforceMockConfig::default()
                },
            ),
        };
        let mock = MockServer::start(router).await?;
        let connector = crm.connector(crm.kind(), &mock.base_url)?;
        let mut best: Option<(f64, u64)> = None;
        for run in 0..args.runs {
            let db = fresh_database(args.postgres).await?;
            let store = db.store().await?;
            let t = Instant::now();
            let report = SyncEngine::new(store.clone())
                .sync(connector.as_ref(), SyncMode::FullRefresh, &[], &NoProgress)
                .await?;
            let secs = t.elapsed().as_secs_f64();
            if !report.succeeded() {
                bail!("{} sync failed: {report:?}", crm.kind());
            }
            for s in &report.streams {
                println!(
                    "{} run {run}: {:<24} {:>9} records {:>7.2}s {:>9.0} records/s",
                    crm.kind(),
                    s.stream,
                    s.read,
                    s.duration.as_secs_f64(),
                    s.read as f64 / s.duration.as_secs_f64().max(1e-9)
                );
            }
            let (read, _) = report.totals();
            println!(
                "{} run {run}: {:<24} {read:>9} records {secs:>7.2}s {:>9.0} records/s",
                crm.kind(),
                "all streams",
                read as f64 / secs
            );
            if best.is_none_or(|(b, _)| secs < b) {
                best = Some((secs, read));
            }
            if args.resync {
                let t = Instant::now();
                let again = SyncEngine::new(store.clone())
                    .sync(connector.as_ref(), SyncMode::FullRefresh, &[], &NoProgress)
                    .await?;
                let secs = t.elapsed().as_secs_f64();
                if !again.succeeded() {
                    bail!("{} re-sync failed: {again:?}", crm.kind());
                }
                let (read, outcome) = again.totals();
                println!(
                    "{} run {run}: {:<24} {read:>9} records {secs:>7.2}s {:>9.0} records/s ({} written, {} unchanged)",
                    crm.kind(),
                    "re-sync, unchanged",
                    read as f64 / secs,
                    outcome.written,
                    outcome.unchanged
                );
            }
            if args.digest {
                println!(
                    "{} run {run}: content digest {}",
                    crm.kind(),
                    store.content_digest().await?
                );
            }
            store.close().await?;
            db.cleanup().await?;
        }
        if let Some((secs, read)) = best {
            println!(
                "{} best of {}: {read} records in {secs:.2}s = {:.0} records/s ({})",
                crm.kind(),
                args.runs,
                read as f64 / secs,
                if args.postgres {
                    "PostgreSQL"
                } else {
                    "SQLite"
                }
            );
        }
        mock.shutdown().await?;
    }
    Ok(())
}
