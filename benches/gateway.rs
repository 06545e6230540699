//! SPEC §12 "gateway": the GraphQL gateway over HTTP on a store holding the simulated company,
//! synced through the real HubSpot connector from its mock (as `tributary demo` does), then
//! queried at fixed concurrency for a fixed time per query: requests per second, p50 and p99.
//!
//! ```sh
//! cargo bench --bench gateway -- [--accounts N] [--postgres] [--secs S] [--concurrency C]
//!                                  [--only TEXT]
//! ```
//!
//! `--only 360` runs only the queries whose name holds `360` (to profile one of them).
//!
//! Queries (issue 12's shared set): a page of 10 accounts by name with `totalCount`, the same
//! page without it, and one account with its people and subscriptions (at concurrency C and
//! at 1). Every response is checked (HTTP 200, no `errors`); a failed one stops the bench.
//! The load generator runs in this process, on the same two cores as the server, so the
//! figures are a floor of what a separate client would measure; record them with the command
//! in BENCHMARKS.md.

#![allow(clippy::print_stdout, clippy::print_stderr)] // A bench reports on the terminal.

/// mimalloc instead of glibc's malloc: a sync allocates and frees many small values per record
/// on several threads, and glibc's allocator took about a third of its CPU (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tributary::demo::{self, DemoOptions};
use tributary_store::testing::TestDatabase;

struct Args {
    accounts: usize,
    postgres: bool,
    secs: u64,
    concurrency: usize,
    only: Option<String>,
}

fn args() -> Result<Args> {
    let mut out = Args {
        accounts: 20_000,
        postgres: false,
        secs: 10,
        concurrency: 10,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--accounts" => out.accounts = value()?.parse()?,
            "--postgres" => out.postgres = true,
            "--secs" => out.secs = value()?.parse()?,
            "--concurrency" => out.concurrency = value()?.parse()?,
            "--only" => out.only = Some(value()?),
            "--bench" => {}
            other => bail!("unknown argument `{other}`"),
        }
    }
    Ok(out)
}

const PAGE_COUNTED: &str = "{ accounts(first: 10) { totalCount edges { node { id name } } } }";
const PAGE: &str = "{ accounts(first: 10) { edges { node { id name } } } }";
const ACCOUNT_360: &str = "query($id: ID!) { account(id: $id) { name people { name email } subscriptions { plan status arr { amount currency } } } }";

/// A client whose every request carries `Authorization: Bearer <key>`.
fn client(key: &str) -> Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse()?,
    );
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .build()?)
}

/// One POST; fails on a non-200 or a GraphQL error.
async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Result<Value> {
    let resp = client.post(url).json(body).send().await?;
    ensure!(resp.status().is_success(), "HTTP {}", resp.status());
    let body: Value = resp.json().await?;
    ensure!(body.get("errors").is_none(), "GraphQL errors: {body}");
    Ok(body)
}

struct Figures {
    requests: usize,
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

/// `concurrency` clients sending `body` back to back for `secs` seconds.
async fn load(url: &str, key: &str, body: Value, concurrency: usize, secs: u64) -> Result<Figures> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (url, body) = (url.to_owned(), body.clone());
        let key = key.to_owned();
        tasks.push(tokio::spawn(async move {
            let client = client(&key)?;
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                post(&client, &url, &body).await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let took = started.elapsed();
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Ok(Figures {
        requests: all.len(),
        per_sec: all.len() as f64 / took.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = args()?;
    let db = if args.postgres {
        TestDatabase::postgres()
            .await?
            .context("--postgres needs TRIBUTARY_TEST_POSTGRES_URL to name a server")?
    } else {
        TestDatabase::sqlite()
    };
    let backend = db.backend;
    eprintln!(
        "syncing {} simulated accounts into {backend}…",
        args.accounts
    );
    let started = Instant::now();
    let opts = DemoOptions {
        accounts: args.accounts,
        database: db.url.clone(),
        progress: false,
        ..DemoOptions::default()
    };
    let demo = demo::prepare(&opts).await?;
    ensure!(demo.succeeded(), "the sync failed: {:?}", demo.reports());
    eprintln!("synced in {:.1}s", started.elapsed().as_secs_f64());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/graphql", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The demo's admin key (the account-360 query reads people's emails); no rate limit, so
    // the figures are the gateway's throughput.
    let key = tributary::demo::admin_key(&demo.store).await?;
    let key = key.expose().to_owned();
    let mut config = tributary_gateway::GatewayConfig::default();
    config.auth.rate_limit = None;
    let server = tokio::spawn(tributary_gateway::serve(
        listener,
        tributary_gateway::AppState {
            config,
            ..tributary_gateway::AppState::new(demo.store.clone())
        },
        async move {
            let _ = stopped.await;
        },
    ));

    let client = client(&key)?;
    let first = post(&client, &url, &json!({ "query": PAGE_COUNTED })).await?;
    let total = first["data"]["accounts"]["totalCount"]
        .as_u64()
        .unwrap_or(0);
    let id = first["data"]["accounts"]["edges"][0]["node"]["id"].clone();
    eprintln!("{total} accounts served");

    println!(
        "backend={backend} accounts={} concurrency={} secs={}",
        args.accounts, args.concurrency, args.secs
    );
    println!(
        "{:<34} {:>5} {:>9} {:>9} {:>9}",
        "query", "c", "req/s", "p50 ms", "p99 ms"
    );
    let cases = [
        (
            "page of 10 with totalCount",
            json!({ "query": PAGE_COUNTED }),
            args.concurrency,
        ),
        (
            "page of 10 without totalCount",
            json!({ "query": PAGE }),
            args.concurrency,
        ),
        (
            "account 360",
            json!({ "query": ACCOUNT_360, "variables": { "id": id } }),
            args.concurrency,
        ),
        (
            "account 360",
            json!({ "query": ACCOUNT_360, "variables": { "id": id } }),
            1,
        ),
    ];
    for (name, body, concurrency) in cases {
        if args
            .only
            .as_deref()
            .is_some_and(|only| !name.contains(only))
        {
            continue;
        }
        let f = load(&url, &key, body, concurrency, args.secs).await?;
        println!(
            "{name:<34} {concurrency:>5} {:>9.0} {:>9.2} {:>9.2}   ({} requests)",
            f.per_sec,
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3,
            f.requests
        );
    }

    let _ = stop.send(());
    server.await??;
    let store = demo.store.clone();
    demo.shutdown_mocks().await?;
    store.close().await?;
    db.cleanup().await?;
    Ok(())
}
