//! The gateway as an SRE sees it, after a real sync (the demo's path: simulated company →
//! HubSpot mock → connector → store): `/metrics` is valid OpenMetrics text whose sync series
//! agree with `syncRuns`, `/readyz` is ready, responses carry request ids. On SQLite, and on
//! PostgreSQL when `TRIBUTARY_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used)]

mod common;

use anyhow::{Context, Result};
use common::{Gateway, metrics};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tributary::demo::{self, DemoOptions};
use tributary_mock_kit::Faults;
use tributary_store::testing::TestDatabase;

#[tokio::test]
async fn metrics_after_a_demo_sync_agree_with_sync_runs() -> Result<()> {
    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let opts = DemoOptions {
            seed: 3,
            accounts: 40,
            faults: Faults::none().with_malformed_records(1),
            database: db.url.clone(),
            progress: false,
            ..DemoOptions::default()
        };
        let demo = demo::prepare(&opts).await?;
        assert!(demo.succeeded(), "{backend}: {:?}", demo.reports());
        let gateway = Gateway::start(demo.store.clone()).await?;

        let reply = gateway
            .post()
            .json(&json!({"query": "query Runs { syncRuns(first: 50) { nodes { connector stream status recordsRead recordsWritten recordsQuarantined recordsDeleted sourceCount sourceRead } } }"}))
            .send()
            .await?;
        let request_id = reply
            .headers()
            .get("x-request-id")
            .context("x-request-id")?
            .to_str()?
            .to_owned();
        assert!(uuid::Uuid::parse_str(&request_id).is_ok(), "{request_id}");
        let body: Value = reply.json().await?;
        let runs = body["data"]["syncRuns"]["nodes"]
            .as_array()
            .context("runs")?
            .clone();
        assert!(!runs.is_empty(), "{backend}: {body}");

        let resp = gateway.get("/metrics").send().await?;
        assert_eq!(resp.status(), 200);
        let ct = resp.headers()["content-type"].to_str()?.to_owned();
        assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
        let m = metrics::parse(&resp.text().await?);

        // Newest first: the first run of each stream is its latest.
        let mut seen = BTreeSet::new();
        for run in &runs {
            let c = run["connector"].as_str().unwrap();
            let s = run["stream"].as_str().unwrap();
            if !seen.insert((c.to_owned(), s.to_owned())) {
                continue;
            }
            let stream = [("connector", c), ("stream", s)];
            for (kind, field) in [
                ("read", "recordsRead"),
                ("written", "recordsWritten"),
                ("quarantined", "recordsQuarantined"),
                ("deleted", "recordsDeleted"),
            ] {
                assert_eq!(
                    metrics::value(
                        &m,
                        "tributary_sync_records",
                        &[stream[0], stream[1], ("kind", kind)]
                    ),
                    Some(run[field].as_f64().unwrap()),
                    "{backend}: {c}/{s} {kind}"
                );
            }
            assert_eq!(run["status"], "SUCCEEDED", "{backend}: {run}");
            assert_eq!(
                metrics::value(
                    &m,
                    "tributary_sync_last_run_status",
                    &[stream[0], stream[1], ("status", "succeeded")]
                ),
                Some(1.0)
            );
            for lag in [
                "tributary_sync_lag_seconds",
                "tributary_sync_attempt_lag_seconds",
            ] {
                let v =
                    metrics::value(&m, lag, &stream).with_context(|| format!("{lag} {c}/{s}"))?;
                assert!((0.0..3600.0).contains(&v), "{backend}: {lag} {v}");
            }
            match (run["sourceCount"].as_f64(), run["sourceRead"].as_f64()) {
                (Some(count), Some(read)) => {
                    assert_eq!(
                        metrics::value(&m, "tributary_sync_source_records", &stream),
                        Some(count)
                    );
                    let ratio =
                        metrics::value(&m, "tributary_sync_completeness_ratio", &stream).unwrap();
                    assert!((ratio - if count > 0.0 { read / count } else { 1.0 }).abs() < 1e-9);
                }
                _ => assert_eq!(
                    metrics::value(&m, "tributary_sync_completeness_ratio", &stream),
                    None
                ),
            }
            assert!(metrics::value(&m, "tributary_quarantine_open", &stream).is_some());
        }
        assert!(seen.len() >= 3, "{backend}: {seen:?}");
        // The malformed company is in quarantine, under its stream.
        let open: f64 = m
            .iter()
            .filter(|s| s.name == "tributary_quarantine_open")
            .map(|s| s.value)
            .sum();
        let q = gateway
            .query("{ quarantine { totalCount } }", Value::Null)
            .await?;
        assert_eq!(
            open,
            q["quarantine"]["totalCount"].as_f64().unwrap(),
            "{backend}"
        );
        assert!(open >= 1.0);
        // The request above is counted under its operation name.
        assert_eq!(
            metrics::value(
                &m,
                "tributary_graphql_requests_total",
                &[("operation", "Runs"), ("outcome", "ok")]
            ),
            Some(1.0)
        );
        assert_eq!(metrics::value(&m, "tributary_store_up", &[]), Some(1.0));

        let ready = gateway.get("/readyz").send().await?;
        assert_eq!(ready.status(), 200);
        assert_eq!(ready.json::<Value>().await?["status"], "ready");

        gateway.stop().await?;
        let store = demo.store.clone();
        demo.shutdown_mocks().await?;
        store.close().await?;
        db.cleanup().await?;
    }
    Ok(())
}

/// `tributary serve` with `TRIBUTARY_LOG_FORMAT=json` and the database URL from the
/// environment: log lines are JSON objects, and a request's lines carry its request id.
#[tokio::test]
async fn serve_logs_json_lines_with_the_request_id() -> Result<()> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = std::env::temp_dir().join(format!("tributary-ops-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("tributary.toml");
    std::fs::write(
        &config,
        "database_url = { env = \"TRIBUTARY_DATABASE_URL\" }\nlisten = \"127.0.0.1:0\"\n\
         [gateway]\ngraphiql = false\n[gateway.auth]\nanonymous_role = \"viewer\"\n",
    )?;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["serve", "--role", "gateway", "--config"])
        .arg(&config)
        .env("TRIBUTARY_DATABASE_URL", "sqlite://served.db")
        .env("TRIBUTARY_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,tower_http=debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdout = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(60), stdout.next_line())
        .await
        .context("serve printed nothing")??
        .context("serve exited")?;
    let url = first
        .strip_prefix("graphql: ")
        .context("graphql line")?
        .to_owned();
    // The relative SQLite path from the environment lives beside the config file.
    assert!(dir.join("served.db").exists());

    let reply = reqwest::Client::new()
        .post(&url)
        .header("x-request-id", "ops-test-42")
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await?;
    assert_eq!(reply.headers()["x-request-id"], "ops-test-42");
    assert_eq!(reply.status(), 200);
    let root = url.trim_end_matches("/graphql");
    let not_found = reqwest::get(format!("{root}/")).await?;
    assert_eq!(not_found.status(), 404, "GraphiQL is off");

    child.start_kill()?;
    let out = child.wait_with_output().await?;
    let stderr = String::from_utf8(out.stderr)?;
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).with_context(|| format!("not JSON: {l}")))
        .collect::<Result<_>>()?;
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["request_id"] == "ops-test-42" && l["span"]["path"] == "/graphql"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
