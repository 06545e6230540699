//! The query timeout and graceful shutdown, against the real `tributary serve` process: a
//! query that runs past `query_timeout_secs` stops using CPU within a second of its deadline
//! (measured on the server's own CPU time, `/proc/<pid>/stat`), and SIGTERM while a long query
//! runs ends the process within `shutdown_grace_secs` plus a margin. On SQLite, and again on
//! PostgreSQL when `TRIBUTARY_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

mod common;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tributary_store::testing::TestDatabase;

/// A `tributary serve` process, killed when dropped.
struct Server {
    child: Child,
    url: String,
    /// An admin API key, made with `tributary apikey create` before the server started.
    key: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `tributary serve --role all` on `db` with these `[gateway.limits]` lines.
    fn start(dir: &std::path::Path, db: &str, limits: &str) -> Result<Self> {
        let config = dir.join("tributary.toml");
        std::fs::write(
            &config,
            format!(
                "database_url = \"{db}\"\nlisten = \"127.0.0.1:0\"\n\n[gateway.limits]\n{limits}\n"
            ),
        )?;
        let created = Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args([
                "apikey", "create", "--role", "admin", "--name", "limits", "--config",
            ])
            .arg(&config)
            .output()
            .context("spawn tributary apikey create")?;
        anyhow::ensure!(
            created.status.success(),
            "apikey create: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        let key = String::from_utf8(created.stdout)?
            .lines()
            .find_map(|l| l.strip_prefix("api key: ").map(str::to_owned))
            .context("apikey create printed no key")?;
        let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(["serve", "--role", "all", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("spawn tributary serve")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines.next().context("serve exited before listening")??;
            if let Some(url) = line.strip_prefix("graphql: ") {
                break url.to_owned();
            }
        };
        // Keep draining stdout so the process never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Server { child, url, key })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The CPU time the process has used (user + system).
    fn cpu(&self) -> Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        // Fields after the command name (which may hold spaces) start at its closing `)`.
        let rest = &stat[stat.rfind(')').context("stat")? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        // Linux reports them in USER_HZ, 100 on every platform Rust supports.
        Ok(Duration::from_millis(ticks * 10))
    }

    async fn wait_exit(&mut self, within: Duration) -> Result<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("serve did not exit within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Every request of this file is built here, with the server's admin key.
fn request(server: &Server, body: &Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(&server.url)
        .bearer_auth(&server.key)
        .header("accept", "application/graphql-response+json")
        .json(body)
}

/// A query that legitimately runs for a long time when the limits allow it: the whole schema,
/// introspected `aliases` times. Introspection resolves without ever waiting on I/O, so it is
/// also the case a non-cooperative executor could not stop.
fn long_query(aliases: usize) -> String {
    let fields: String = (0..aliases)
        .map(|i| format!(" s{i}: __schema {{ ...S }}"))
        .collect();
    format!(
        "query {{{fields} }}\nfragment S on __Schema {{ types {{ name kind fields {{ name args {{ name type {{ name kind ofType {{ name }} }} }} type {{ name kind ofType {{ name kind ofType {{ name }} }} }} }} }} }}"
    )
}

/// Limits that let [`long_query`] through, with a query timeout of `timeout` seconds.
fn lenient(timeout: u64, grace: u64) -> String {
    format!(
        "query_timeout_secs = {timeout}\nrequest_timeout_secs = {}\nmax_complexity = 1000000000\nshutdown_grace_secs = {grace}",
        timeout + 60
    )
}

async fn normal_query(server: &Server) -> Result<()> {
    let resp = request(
        server,
        &json!({"query": "{ accounts(first: 1) { totalCount } }"}),
    )
    .send()
    .await?;
    ensure!(resp.status() == 200, "HTTP {}", resp.status());
    let body: Value = resp.json().await?;
    ensure!(body["data"]["accounts"]["totalCount"] == json!(0), "{body}");
    Ok(())
}

#[tokio::test]
async fn a_query_past_its_timeout_stops_using_cpu_within_a_second() -> Result<()> {
    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let dir = tempdir()?;
        // The schema must exist before `serve` answers; it migrates at start.
        let server = Server::start(&dir, &db.url, &lenient(1, 10))?;
        normal_query(&server).await?;

        let before = server.cpu()?;
        let sent = Instant::now();
        let resp = request(&server, &json!({"query": long_query(3000)}))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        assert_eq!(status, 504, "{backend}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "TIMEOUT",
            "{backend}"
        );
        let deadline = sent + Duration::from_secs(1);
        let at_deadline = server.cpu()?;
        // The query did work until its deadline (so the measurement below means something).
        assert!(
            at_deadline - before >= Duration::from_millis(300),
            "{backend}: the query used only {:?} of CPU",
            at_deadline - before
        );
        // Within a second of the deadline the CPU time stops growing.
        tokio::time::sleep_until((deadline + Duration::from_secs(1)).into()).await;
        let settled = server.cpu()?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let later = server.cpu()?;
        assert!(
            later - settled <= Duration::from_millis(150),
            "{backend}: the server used {:?} of CPU in the 2 s after the query was cancelled",
            later - settled
        );
        normal_query(&server).await?;

        // The fragment fan-out (2³⁰ fields in 2 KB) ran on past every deadline while
        // async-graphql expanded it before validation; it is refused before that now, even
        // under these lenient limits, and leaves no work behind.
        let sent = Instant::now();
        let resp = request(&server, &json!({"query": common::fragment_fan_out(30)}))
            .timeout(Duration::from_secs(20))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        assert_eq!(status, 400, "{backend}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX");
        tokio::time::sleep_until((sent + Duration::from_secs(1)).into()).await;
        let settled = server.cpu()?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let later = server.cpu()?;
        assert!(
            later - settled <= Duration::from_millis(150),
            "{backend}: the server used {:?} of CPU after refusing the fan-out",
            later - settled
        );
        normal_query(&server).await?;
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
        db.cleanup().await?;
    }
    Ok(())
}

#[tokio::test]
async fn sigterm_stops_the_server_within_its_grace_period_while_a_query_runs() -> Result<()> {
    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let dir = tempdir()?;
        let grace = 2;
        let mut server = Server::start(&dir, &db.url, &lenient(120, grace))?;
        normal_query(&server).await?;
        let running = tokio::spawn(request(&server, &json!({"query": long_query(20_000)})).send());
        // Let the query start working.
        let started = server.cpu()?;
        let wait_from = Instant::now();
        while server.cpu()? - started < Duration::from_millis(300) {
            ensure!(
                wait_from.elapsed() < Duration::from_secs(30),
                "{backend}: the query never started"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let signalled = Instant::now();
        let kill = Command::new("kill")
            .args(["-TERM", &server.pid().to_string()])
            .status()?;
        assert!(kill.success());
        let status = server.wait_exit(Duration::from_secs(grace + 8)).await?;
        let took = signalled.elapsed();
        assert!(status.success(), "{backend}: {status:?}");
        // The client got an answer (503, the server is shutting down) or a closed connection,
        // never a hang.
        if let Ok(Ok(resp)) = running.await {
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 503, "{backend}: {body}");
            assert_eq!(body["errors"][0]["extensions"]["code"], "SHUTTING_DOWN");
        }
        assert!(
            took >= Duration::from_secs(grace) - Duration::from_millis(200),
            "{backend}: exited after {took:?}, before the grace period let the query finish"
        );
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
        db.cleanup().await?;
    }
    Ok(())
}

/// A fresh directory under the system's temporary directory.
fn tempdir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "tributary-limits-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
