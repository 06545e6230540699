//! `tributary check-config` and the paths of `tributary.toml`: one test per failure a run
//! would otherwise hit late (database URL, database reachability, files, secrets, a
//! connector's credentials and endpoint), the example configuration passing, and the binary
//! resolving paths against the config file's directory from another working directory.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tributary::Config;
use tributary::check::{Finding, run};
use tributary_mock_hubspot as hubspot;
use tributary_mock_kit::MockServer;
use tributary_sim::{Company, SimConfig};

const TOKEN: &str = hubspot::DEFAULT_ACCESS_TOKEN;

/// A fresh directory under the system's temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("tributary-check-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir.canonicalize().unwrap())
    }

    /// Writes `tributary.toml` with `text` and loads it.
    fn config(&self, text: &str) -> Config {
        let path = self.0.join("tributary.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn env(var: &str) -> Option<String> {
    (var == "HUBSPOT_ACCESS_TOKEN").then(|| TOKEN.to_owned())
}

/// The failed findings, each checked to be one line.
fn failures(findings: &[Finding]) -> Vec<String> {
    let failed: Vec<String> = findings
        .iter()
        .filter(|f| !f.ok)
        .map(|f| f.text.clone())
        .collect();
    for text in &failed {
        assert!(!text.contains('\n'), "not one line: {text}");
        assert!(!text.contains(".rs:"), "a source location: {text}");
    }
    failed
}

/// The one failure of `findings`.
fn only_failure(findings: &[Finding]) -> String {
    let failed = failures(findings);
    assert_eq!(failed.len(), 1, "{findings:#?}");
    failed.into_iter().next().unwrap()
}

/// A port on this machine where nothing listens: bound once by the OS, then closed.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn hubspot_mock() -> MockServer {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: 5,
        ..SimConfig::default()
    }));
    MockServer::start(hubspot::router(
        company,
        hubspot::HubspotMockConfig::default(),
    ))
    .await
    .unwrap()
}

fn hubspot_section(endpoint: &str) -> String {
    format!(
        "[connectors.crm]\nkind = \"hubspot\"\nendpoint = \"{endpoint}\"\n\
         access_token = {{ env = \"HUBSPOT_ACCESS_TOKEN\" }}\n"
    )
}

#[tokio::test]
async fn the_example_config_passes_against_the_simulator() {
    let mock = hubspot_mock().await;
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("tributary.example.toml");
    let mut config = Config::load(&example).unwrap();
    // The example points at `tributary sim serve`'s default port; this test's mock listens
    // wherever the OS put it.
    let section = config.connectors.get_mut("hubspot-sim").unwrap();
    section
        .settings
        .insert("endpoint".into(), format!("http://{}", mock.addr()).into());
    let findings = run(&config, &env).await;
    assert!(failures(&findings).is_empty(), "{findings:#?}");
    // Database, FX file, gateway settings and the one connector.
    assert_eq!(findings.len(), 4, "{findings:#?}");
    assert!(
        findings[1].text.ends_with("fx/simulator.csv`"),
        "{findings:#?}"
    );
}

#[tokio::test]
async fn a_mysql_url_is_refused_with_the_accepted_forms() {
    let dir = Scratch::new();
    let config = dir.config("database_url = \"mysql://root:hunter2@db.example.com/crm\"\n");
    let line = only_failure(&run(&config, &env).await);
    assert!(
        line.starts_with("database: unsupported database url `mysql://…`"),
        "{line}"
    );
    assert!(
        line.contains("sqlite://") && line.contains("postgres://"),
        "{line}"
    );
    assert!(!line.contains("hunter2"), "{line}");
}

#[tokio::test]
async fn a_bare_file_name_is_refused_with_the_accepted_forms() {
    let dir = Scratch::new();
    let config = dir.config("database_url = \"tributary.db\"\n");
    let line = only_failure(&run(&config, &env).await);
    assert!(line.contains("`tributary.db` (no scheme)"), "{line}");
    assert!(line.contains("sqlite://path/to/file.db"), "{line}");
}

#[tokio::test]
async fn an_unreachable_postgres_names_host_port_and_the_os_error() {
    let dir = Scratch::new();
    let port = closed_port();
    let config = dir.config(&format!(
        "database_url = \"postgres://postgres@127.0.0.1:{port}/tributary\"\n"
    ));
    let line = only_failure(&run(&config, &env).await);
    assert!(
        line.starts_with(&format!(
            "database: cannot connect to PostgreSQL at 127.0.0.1:{port}: "
        )),
        "{line}"
    );
    assert!(line.to_lowercase().contains("connection refused"), "{line}");
    assert_eq!(line.to_lowercase().matches("connection refused").count(), 1);
}

#[tokio::test]
async fn a_wrong_postgres_role_is_reported_once() {
    let Ok(url) = std::env::var("TRIBUTARY_TEST_POSTGRES_URL") else {
        eprintln!("TRIBUTARY_TEST_POSTGRES_URL not set: skipped");
        return;
    };
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest.rsplit_once('@').map_or(rest, |(_, h)| h))
        .unwrap();
    let dir = Scratch::new();
    let config = dir.config(&format!(
        "database_url = \"postgres://no_such_role_tributary@{host}\"\n"
    ));
    let line = only_failure(&run(&config, &env).await);
    assert!(
        line.starts_with("database: cannot connect to PostgreSQL at "),
        "{line}"
    );
    assert_eq!(line.matches("no_such_role_tributary").count(), 1, "{line}");
    assert!(!line.contains(" at line "), "{line}");
}

#[tokio::test]
async fn a_sqlite_file_in_a_missing_directory_is_named() {
    let dir = Scratch::new();
    let config = dir.config("database_url = \"sqlite://missing/dir/t.db\"\n");
    let line = only_failure(&run(&config, &env).await);
    let file = dir.0.join("missing/dir/t.db");
    assert_eq!(
        line,
        format!(
            "database: cannot connect to SQLite database `{}`: directory `{}` does not exist",
            file.display(),
            dir.0.join("missing/dir").display()
        )
    );
    // A check creates nothing.
    assert!(!dir.0.join("missing").exists());
}

#[tokio::test]
async fn a_missing_fx_file_is_named() {
    let dir = Scratch::new();
    let config = dir.config("[ledger]\nfx_rates_csv = \"fx/rates.csv\"\n");
    let line = only_failure(&run(&config, &env).await);
    assert!(
        line.starts_with(&format!(
            "cannot read fx_rates_csv `{}`",
            dir.0.join("fx/rates.csv").display()
        )),
        "{line}"
    );
    // With the file beside the config, the same configuration passes.
    std::fs::create_dir(dir.0.join("fx")).unwrap();
    std::fs::write(
        dir.0.join("fx/rates.csv"),
        "date,currency,rate\n2026-01-01,EUR,1.08\n",
    )
    .unwrap();
    assert!(failures(&run(&config, &env).await).is_empty());
}

#[tokio::test]
async fn a_missing_secret_names_the_variable() {
    let mock = hubspot_mock().await;
    let dir = Scratch::new();
    let config = dir.config(&hubspot_section(&format!("http://{}", mock.addr())));
    let line = only_failure(&run(&config, &|_| None).await);
    assert_eq!(
        line,
        "connector `crm` (hubspot): environment variable `HUBSPOT_ACCESS_TOKEN` (for `access_token`) is not set"
    );
}

#[tokio::test]
async fn refused_credentials_fail_the_connector_check() {
    let mock = hubspot_mock().await;
    let dir = Scratch::new();
    let config = dir.config(&hubspot_section(&format!("http://{}", mock.addr())));
    let line = only_failure(&run(&config, &|_| Some("pat-wrong".to_owned())).await);
    assert!(
        line.starts_with("connector `crm` (hubspot): authentication failed"),
        "{line}"
    );
    assert!(line.contains("HTTP 401"), "{line}");
    assert!(!line.contains("pat-wrong"), "the token leaked: {line}");
}

#[tokio::test]
async fn an_endpoint_where_nothing_listens_hints_at_the_simulator() {
    let dir = Scratch::new();
    let port = closed_port();
    let config = dir.config(&hubspot_section(&format!("http://127.0.0.1:{port}")));
    let line = only_failure(&run(&config, &env).await);
    assert!(line.starts_with("connector `crm` (hubspot): "), "{line}");
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(line.to_lowercase().contains("connection refused"), "{line}");
    assert!(
        line.ends_with("is `tributary sim serve` running?)"),
        "{line}"
    );
}

/// Runs the binary in `cwd`.
fn tributary(cwd: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .current_dir(cwd)
        .env_remove("TRIBUTARY_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn check_config_prints_a_line_per_failure_and_exits_non_zero() {
    let dir = Scratch::new();
    let port = closed_port();
    std::fs::write(
        dir.0.join("tributary.toml"),
        format!(
            "database_url = \"sqlite:nowhere/t.db\"\n[ledger]\nfx_rates_csv = \"fx.csv\"\n{}",
            hubspot_section(&format!("http://127.0.0.1:{port}"))
        ),
    )
    .unwrap();
    let elsewhere = Scratch::new();
    let out = tributary(
        &elsewhere.0,
        &[
            "check-config",
            "--config",
            &format!("{}/tributary.toml", dir.0.display()),
        ],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert_eq!(failed.len(), 3, "{stdout}");
    assert!(
        failed[0].contains(&dir.0.join("nowhere/t.db").display().to_string()),
        "{stdout}"
    );
    assert!(
        failed[1].contains(&dir.0.join("fx.csv").display().to_string()),
        "{stdout}"
    );
    assert!(failed[2].contains("`HUBSPOT_ACCESS_TOKEN`"), "{stdout}");
    assert_eq!(stderr.trim(), "error: 3 of 4 checks failed");
}

#[test]
fn a_sync_from_another_directory_uses_the_config_directory_and_fails_when_the_ledger_cannot_run() {
    let dir = Scratch::new();
    std::fs::write(
        dir.0.join("tributary.toml"),
        "[ledger]\nfx_rates_csv = \"fx/missing.csv\"\n",
    )
    .unwrap();
    let elsewhere = Scratch::new();
    let out = tributary(
        &elsewhere.0,
        &[
            "sync",
            "--config",
            &format!("{}/tributary.toml", dir.0.display()),
        ],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        !out.status.success(),
        "a ledger that cannot run fails the sync:\n{stdout}\n{stderr}"
    );
    let fx = dir.0.join("fx/missing.csv").display().to_string();
    assert!(
        stdout.contains("revenue ledger: FAILED") && stdout.contains(&fx),
        "{stdout}"
    );
    assert!(
        stderr.starts_with("error: the revenue ledger was not refreshed: cannot read fx_rates_csv"),
        "{stderr}"
    );
    assert_eq!(stderr.matches(&fx).count(), 1, "{stderr}");
    // The default database is beside the config file, not in the working directory.
    assert!(dir.0.join("tributary.db").exists());
    assert!(!elsewhere.0.join("tributary.db").exists());
}
