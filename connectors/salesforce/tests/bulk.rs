//! Full refreshes through Bulk API 2.0 query jobs, against the simulator's Salesforce mock:
//! the same store content as the REST path, resumable through REST after a cut-off, immune to
//! the transient fault knobs, and clear about failed jobs.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use serde_json::{Value, json};
use std::{collections::HashSet, sync::Arc};
use tributary_connector::{
    Connector, ConnectorContext, ConnectorError, DynKind, HttpClient, HttpClientConfig, SyncMode,
};
use tributary_connector_salesforce::{SalesforceConfig, SalesforceConnector, http_auth};
use tributary_mock_kit::{Faults, MockServer, Schedule, VendorMock};
use tributary_mock_salesforce::{
    SalesforceMock, SalesforceMockConfig, TOKEN_PATH,
    bulk::{BulkMockConfig, BulkStats},
};
use tributary_sim::{Company, SimConfig};
use tributary_store::{Store, testing::for_each_backend};
use tributary_sync::{NoProgress, SyncEngine, SyncReport};
use tributary_testkit::items::{checkpoints, completion, nth_checkpoint, read_stream, record_ids};
use tributary_testkit::{CutOff, Expected, VendorUnderTest};

mod truth;

/// Bulk for anything above ten rows, pages of 40, polls a few milliseconds apart.
fn bulk_settings() -> Value {
    json!({"bulk_threshold": 10, "bulk_max_records": 40, "bulk_poll_interval_ms": 2})
}

fn rest_settings() -> Value {
    json!({"bulk_threshold": 0})
}

fn company() -> Arc<Company> {
    Arc::new(Company::generate(&SimConfig {
        accounts: 60,
        ..SimConfig::default()
    }))
}

fn mock_config(faults: Faults) -> SalesforceMockConfig {
    SalesforceMockConfig {
        batch_size: 50,
        ..SalesforceMockConfig::with_faults(faults)
    }
}

async fn serve(
    company: &Arc<Company>,
    config: SalesforceMockConfig,
) -> (SalesforceMock, MockServer) {
    let mock = SalesforceMock::new(company.clone(), config);
    let server = MockServer::start(mock.router()).await.unwrap();
    (mock, server)
}

/// Settings with the refresh-token grant against `base_url` (Salesforce has no static API
/// keys), with `extra` on top.
fn settings_with(base_url: &str, extra: &Value) -> Value {
    let m = SalesforceMockConfig::default();
    let mut config = json!({
        "endpoint": base_url,
        "auth": {
            "kind": "oauth2",
            "grant": "refresh_token",
            "token_url": format!("{base_url}{TOKEN_PATH}"),
            "client_id": m.client_id,
            "client_secret": m.client_secret,
            "refresh_token": m.refresh_token,
        },
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        config[k] = v.clone();
    }
    config
}

/// The connector with the refresh-token grant against `base_url`, with `settings` on top.
fn connector(base_url: &str, settings: &Value) -> Result<SalesforceConnector, ConnectorError> {
    let config = settings_with(base_url, settings);
    let config: SalesforceConfig =
        serde_json::from_value(config).map_err(|e| ConnectorError::Config {
            instance: "sf-bulk".into(),
            message: e.to_string(),
        })?;
    let http = HttpClient::new(HttpClientConfig::default(), http_auth(&config, "sf-bulk")?)?;
    SalesforceConnector::new(
        ConnectorContext {
            instance: "sf-bulk".into(),
            http,
        },
        config,
    )
}

async fn sync(store: &Store, connector: &dyn Connector, mode: SyncMode) -> SyncReport {
    let report = SyncEngine::new(store.clone())
        .sync(connector, mode, &[], &NoProgress)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    report
}

/// The digest of a clean full refresh through REST of `company` (with `faults`' malformed
/// records, if any), on a reset `store`.
async fn rest_digest(store: &Store, company: &Arc<Company>, faults: Faults) -> String {
    store.reset().await.unwrap();
    let (mock, server) = serve(company, mock_config(faults)).await;
    let c = connector(&server.base_url, &rest_settings()).unwrap();
    sync(store, &c, SyncMode::FullRefresh).await;
    assert_eq!(mock.bulk_stats(), BulkStats::default(), "REST only");
    store.content_digest().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_full_refresh_goes_through_bulk_and_lands_what_rest_lands() {
    let co = company();
    // Two malformed records per stream: their rejects must read the same on both paths.
    let faults = Faults::none().with_malformed_records(2);
    for_each_backend(|store| {
        let co = co.clone();
        let faults = faults.clone();
        async move {
            let clean = rest_digest(&store, &co, faults.clone()).await;
            store.reset().await.unwrap();
            let (mock, server) = serve(&co, mock_config(faults)).await;
            let c = connector(&server.base_url, &bulk_settings()).unwrap();
            let report = sync(&store, &c, SyncMode::FullRefresh).await;
            assert_eq!(store.content_digest().await.unwrap(), clean);
            let bulk = mock.bulk_stats();
            let streams = report.streams.len() as u64;
            assert!(bulk.jobs_created >= 3, "{bulk:?}");
            assert!(bulk.jobs_created <= streams, "{bulk:?}");
            assert_eq!(
                bulk.jobs_deleted, bulk.jobs_created,
                "every job is cleaned up"
            );
            assert!(
                bulk.status_polls >= 2 * bulk.jobs_created,
                "each job is polled until complete: {bulk:?}"
            );
            assert!(
                bulk.result_pages > bulk.jobs_created,
                "results are paged: {bulk:?}"
            );
            // A second bulk refresh changes nothing.
            let again = sync(&store, &c, SyncMode::FullRefresh).await;
            let (_, outcome) = again.totals();
            assert_eq!((outcome.written, outcome.deleted, outcome.swept), (0, 0, 0));
            assert_eq!(store.content_digest().await.unwrap(), clean);
        }
    })
    .await;
}

#[tokio::test]
async fn bulk_pages_checkpoint_the_rest_position_and_a_cut_off_resumes_through_rest() {
    let co = company();
    let (mock, server) = serve(&co, mock_config(Faults::none())).await;
    let c = connector(&server.base_url, &bulk_settings()).unwrap();
    let all = read_stream(&c, "Contact", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    let ids = record_ids(&all);
    assert_eq!(
        ids.len(),
        co.contacts
            .iter()
            .filter(|x| x.archived_at.is_none())
            .count()
    );
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "no record twice"
    );
    let cps = checkpoints(&all);
    assert_eq!(
        cps.len(),
        ids.len().div_ceil(40),
        "one checkpoint per results page"
    );
    assert!(
        completion(&all).is_some_and(|s| s["since"].is_string()),
        "{:?}",
        cps.last()
    );
    assert!(
        cps[0]["after"]["id"].is_string() && cps[0]["after"]["modstamp"].is_string(),
        "{}",
        cps[0]
    );
    assert_eq!(mock.bulk_stats().jobs_created, 1);

    // The same records in the same order as the REST path.
    let rest = connector(&server.base_url, &rest_settings()).unwrap();
    let by_rest = read_stream(&rest, "Contact", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    assert_eq!(record_ids(&by_rest), ids);

    // Cut off after the second page: the saved position resumes through REST.
    let (cut, state) = nth_checkpoint(&all, 1).unwrap();
    let before = mock.bulk_stats();
    let resumed = read_stream(&c, "Contact", SyncMode::FullRefresh, Some(state.clone()))
        .await
        .unwrap();
    assert_eq!(
        mock.bulk_stats(),
        before,
        "a resumed read does not start a job"
    );
    let mut joined = record_ids(&all[..=cut]);
    assert_eq!(joined.len(), 80);
    joined.extend(record_ids(&resumed));
    assert_eq!(joined, ids, "no gaps, no repeats");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_cut_off_mid_bulk_resumes_to_the_clean_digest() {
    let co = company();
    for_each_backend(|store| {
        let co = co.clone();
        async move {
            let clean = rest_digest(&store, &co, Faults::none()).await;
            store.reset().await.unwrap();
            let (mock, server) = serve(&co, mock_config(Faults::none())).await;
            let c = connector(&server.base_url, &bulk_settings()).unwrap();
            let cut = CutOff::new(&c, 2);
            let partial = SyncEngine::new(store.clone())
                .sync(&cut, SyncMode::FullRefresh, &[], &NoProgress)
                .await
                .unwrap();
            assert!(!partial.succeeded(), "the cut-off run fails");
            let jobs = mock.bulk_stats().jobs_created;
            assert!(jobs >= 3, "the cut-off run read through bulk");
            sync(&store, &c, SyncMode::FullRefresh).await;
            assert_eq!(store.content_digest().await.unwrap(), clean);
            let bulk = mock.bulk_stats();
            assert!(
                bulk.jobs_created < 2 * jobs,
                "streams cut off mid-bulk resume through REST: {bulk:?}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_and_expiring_tokens_still_land_the_clean_digest() {
    let co = company();
    for_each_backend(|store| {
        let co = co.clone();
        async move {
            let clean = rest_digest(&store, &co, Faults::none()).await;
            for (knob, faults) in [
                (
                    "rate_limit",
                    Faults::none()
                        .with_rate_limit(Schedule::burst(2, 3).repeating_every(5))
                        .with_retry_after_secs(0),
                ),
                (
                    "server_errors",
                    Faults::none().with_server_errors(Schedule::burst(2, 4).repeating_every(7)),
                ),
                (
                    "truncate",
                    Faults::none().with_truncate(Schedule::burst(1, 3).repeating_every(3)),
                ),
                ("token_expiry", Faults::none().with_token_ttl_requests(3)),
            ] {
                store.reset().await.unwrap();
                let (mock, server) = serve(&co, mock_config(faults)).await;
                let c = connector(&server.base_url, &bulk_settings()).unwrap();
                sync(&store, &c, SyncMode::FullRefresh).await;
                assert_eq!(store.content_digest().await.unwrap(), clean, "{knob}");
                let (stats, bulk) = (mock.stats(), mock.bulk_stats());
                let met = match knob {
                    "rate_limit" => stats.rate_limited,
                    "server_errors" => stats.server_errors,
                    "truncate" => stats.truncated,
                    _ => stats.expired_tokens,
                };
                assert!(met > 0, "{knob}: {stats:?}");
                assert!(
                    bulk.jobs_created >= 3 && bulk.result_pages > bulk.jobs_created,
                    "{knob}: {bulk:?}"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_failed_job_is_a_clear_error_and_is_cleaned_up() {
    let co = company();
    let (mock, server) = serve(
        &co,
        SalesforceMockConfig {
            bulk: BulkMockConfig {
                fail_with: Some("InternalServerError : query timed out".to_owned()),
                ..BulkMockConfig::default()
            },
            ..mock_config(Faults::none())
        },
    )
    .await;
    let c = connector(&server.base_url, &bulk_settings()).unwrap();
    let err = read_stream(&c, "Account", SyncMode::FullRefresh, None)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("bulk query job `750")
            && message
                .contains("for `Account` ended Failed: InternalServerError : query timed out"),
        "{message}"
    );
    let bulk = mock.bulk_stats();
    assert_eq!(
        (bulk.jobs_created, bulk.jobs_deleted, bulk.result_pages),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn a_job_that_never_finishes_is_aborted_after_the_timeout() {
    let co = company();
    let (mock, server) = serve(
        &co,
        SalesforceMockConfig {
            bulk: BulkMockConfig {
                polls_to_complete: u32::MAX,
                ..BulkMockConfig::default()
            },
            ..mock_config(Faults::none())
        },
    )
    .await;
    let mut settings = bulk_settings();
    settings["bulk_timeout_secs"] = json!(1);
    let c = connector(&server.base_url, &settings).unwrap();
    let err = read_stream(&c, "Account", SyncMode::FullRefresh, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bulk_timeout_secs"), "{err}");
    let bulk = mock.bulk_stats();
    assert_eq!((bulk.jobs_aborted, bulk.jobs_deleted), (1, 1), "{bulk:?}");
}

#[tokio::test]
async fn small_reads_incremental_runs_and_a_zero_threshold_stay_on_rest() {
    let co = company();
    let (mock, server) = serve(&co, mock_config(Faults::none())).await;
    // Under the threshold.
    let mut high = bulk_settings();
    high["bulk_threshold"] = json!(100_000);
    let c = connector(&server.base_url, &high).unwrap();
    assert!(
        !record_ids(
            &read_stream(&c, "Contact", SyncMode::FullRefresh, None)
                .await
                .unwrap()
        )
        .is_empty()
    );
    // Incremental, however large.
    let c = connector(&server.base_url, &bulk_settings()).unwrap();
    let items = read_stream(&c, "Contact", SyncMode::Incremental, None)
        .await
        .unwrap();
    assert!(!record_ids(&items).is_empty());
    // Disabled.
    let c = connector(&server.base_url, &rest_settings()).unwrap();
    read_stream(&c, "Contact", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    assert_eq!(mock.bulk_stats(), BulkStats::default());
}

/// The conformance kit with every large full refresh going through Bulk, token expiry
/// included (a token response cut short is retried on every path since the token manager
/// retries its own requests).
struct SalesforceBulk;

impl VendorUnderTest for SalesforceBulk {
    fn name(&self) -> &'static str {
        "salesforce-bulk"
    }

    fn mock(&self, company: Arc<Company>, faults: Faults) -> Box<dyn VendorMock> {
        Box::new(SalesforceMock::new(
            company,
            SalesforceMockConfig {
                batch_size: 25,
                ..SalesforceMockConfig::with_faults(faults)
            },
        ))
    }

    fn kind(&self) -> &'static dyn DynKind {
        &tributary_connector_salesforce::DECLARATION
    }

    fn settings(&self, base_url: &str) -> Value {
        let mut settings = settings_with(base_url, &bulk_settings());
        // Small jobs' result pages: many Bulk checkpoints per stream.
        settings["bulk_max_records"] = json!(20);
        settings
    }

    fn oauth_settings(&self, base_url: &str) -> Option<Value> {
        Some(self.settings(base_url))
    }

    fn expected(&self, company: &Arc<Company>) -> Expected {
        truth::expected(company)
    }

    fn read_not_landed(&self, company: &Arc<Company>) -> Expected {
        truth::read_not_landed(company)
    }
}

tributary_testkit::conformance_suite!(SalesforceBulk);
