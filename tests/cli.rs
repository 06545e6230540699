//! The binary as a user meets it: what it prints where, and its exit status.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use std::process::{Command, Output};
use std::sync::Arc;
use tributary_mock_hubspot as hubspot;
use tributary_mock_kit::MockServer;
use tributary_sim::{Company, SimConfig};

fn tributary(args: &[&str], dir: &std::path::Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tributary"));
    cmd.args(args).current_dir(dir).env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// A temporary directory removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("tributary-cli-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A second demo on a taken port stops with one line naming the address, before it opens a
/// database or syncs anything.
#[test]
fn the_demo_checks_its_port_before_syncing() {
    let dir = TempDir::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = tributary(
        &["demo", "--listen", &addr, "--database", "sqlite://demo.db"],
        dir.path(),
        &[],
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(&format!("error: cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(
        !dir.path().join("demo.db").exists(),
        "the demo opened its database before checking the port"
    );
    assert!(text(&out.stdout).is_empty());
}

/// `tributary sync` whose streams fail prints the summary table on stdout, exits non-zero,
/// and names each failed stream with its reason; its redirected log has no colour codes.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_with_failed_streams_exits_non_zero_naming_them() {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: 20,
        ..SimConfig::default()
    }));
    let mock = MockServer::start(hubspot::router(
        company,
        hubspot::HubspotMockConfig::default(),
    ))
    .await
    .unwrap();
    let dir = TempDir::new();
    std::fs::write(
        dir.path().join("tributary.toml"),
        format!(
            "database_url = \"sqlite://{db}?mode=rwc\"\n\n[ledger]\nfx_rates_csv = \"{fx}\"\n\n\
             [connectors.hubspot-sim]\nkind = \"hubspot\"\nendpoint = \"{url}\"\n\
             access_token = {{ env = \"HUBSPOT_ACCESS_TOKEN\" }}\n",
            db = dir.path().join("t.db").display(),
            fx = concat!(env!("CARGO_MANIFEST_DIR"), "/fx/simulator.csv"),
            url = mock.base_url,
        ),
    )
    .unwrap();
    let dir_path = dir.path().to_owned();
    // A wrong token: every stream fails on its first request, without retries.
    let out = tokio::task::spawn_blocking(move || {
        tributary(
            &["sync", "--config", "tributary.toml"],
            &dir_path,
            &[("HUBSPOT_ACCESS_TOKEN", "pat-wrong")],
        )
    })
    .await
    .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    let header = stdout.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("stream ") && header.contains(" skipped "),
        "{stdout}"
    );
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    for stream in ["companies", "contacts", "deals", "deal_contacts"] {
        assert!(
            error.contains(&format!("hubspot-sim/{stream} (")),
            "{stream} is not named: {error}"
        );
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("hubspot-sim/{stream} ")) && l.contains("FAILED: ")),
            "{stdout}"
        );
    }
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in a redirected log: {stderr}"
    );
    mock.shutdown().await.unwrap();
}
