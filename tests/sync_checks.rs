//! What every run checks besides landing rows (SPEC §6), seen as an operator sees it — in
//! GraphQL `syncRuns` over a real socket — on SQLite and again on PostgreSQL when
//! `TRIBUTARY_TEST_POSTGRES_URL` is set:
//!
//! - **completeness**: the HubSpot mock silently leaves the newest companies out of its
//!   listing while search still counts them; the run says how many the source reported, how
//!   many were read, and warns of the shortfall;
//! - **schema drift**: between two syncs the portal starts serving a property as a number
//!   instead of a string; the second run reports the field, its old and new type and the
//!   policy before the batch loads, and nothing is lost (every company lands, or under the
//!   quarantine policy waits in quarantine with its raw payload);
//! - every run records its stream's delete strategy.

#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

mod common;

use anyhow::{Context, Result, ensure};
use common::Gateway;
use serde_json::{Value, json};
use std::sync::Arc;
use tributary::demo::SimulatedCrm;
use tributary_connector::SyncMode;
use tributary_mock_hubspot as hubspot;
use tributary_mock_kit::MockServer;
use tributary_model::EntityKind;
use tributary_sim::{Company, SimConfig};
use tributary_store::Store;
use tributary_store::testing::TestDatabase;
use tributary_sync::{DriftPolicy, NoProgress, SyncEngine};

const RUNS: &str = r#"{ syncRuns(first: 50) { nodes {
    stream mode status recordsQuarantined deleteStrategy sourceCount sourceRead complete warnings
    schemaDrift { field oldType newType policy } } } }"#;

fn company() -> Arc<Company> {
    Arc::new(Company::generate(&SimConfig {
        seed: 5,
        accounts: 60,
        ..SimConfig::default()
    }))
}

async fn sync_companies(
    store: &Store,
    config: hubspot::HubspotMockConfig,
    company: &Arc<Company>,
    policy: DriftPolicy,
) -> Result<()> {
    let mock = MockServer::start(hubspot::router(Arc::clone(company), config)).await?;
    let connector = SimulatedCrm::Hubspot.connector("hubspot", &mock.base_url)?;
    let report = SyncEngine::new(store.clone())
        .with_drift_policy(policy)
        .sync(
            connector.as_ref(),
            SyncMode::FullRefresh,
            &["companies".to_owned()],
            &NoProgress,
        )
        .await?;
    ensure!(report.succeeded(), "sync failed: {report:?}");
    Ok(())
}

/// The newest run of `companies`, as GraphQL shows it.
async fn last_companies_run(gw: &Gateway) -> Result<Value> {
    let data = gw.query(RUNS, json!({})).await?;
    data["syncRuns"]["nodes"]
        .as_array()
        .context("nodes")?
        .iter()
        .find(|r| r["stream"] == "companies")
        .cloned()
        .context("no companies run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_serves_fewer_records_than_it_reports_shows_the_shortfall() -> Result<()> {
    let company = company();
    let live = company
        .accounts
        .iter()
        .filter(|a| a.archived_at.is_none())
        .count() as i64;
    for db in TestDatabase::all().await? {
        let store = db.store().await?;
        let lossy = hubspot::HubspotMockConfig {
            lost_from_listing: 3,
            ..hubspot::HubspotMockConfig::default()
        };
        sync_companies(&store, lossy, &company, DriftPolicy::Evolve).await?;
        let gw = Gateway::start(store.clone()).await?;
        let run = last_companies_run(&gw).await?;
        assert_eq!(run["status"], "SUCCEEDED", "{run}");
        assert_eq!(run["deleteStrategy"], "native_feed", "{run}");
        assert_eq!(run["sourceCount"], live, "{run}");
        assert_eq!(run["sourceRead"], live - 3, "{run}");
        assert_eq!(run["complete"], false, "{run}");
        let warnings = run["warnings"].to_string();
        assert!(
            warnings.contains(&format!(
                "the source reports {live} records, {} were read (3 missing)",
                live - 3
            )),
            "{run}"
        );
        // A faithful source: complete, no warning.
        sync_companies(
            &store,
            hubspot::HubspotMockConfig::default(),
            &company,
            DriftPolicy::Evolve,
        )
        .await?;
        let run = last_companies_run(&gw).await?;
        assert_eq!(run["complete"], true, "{run}");
        assert_eq!(run["sourceRead"], live, "{run}");
        assert_eq!(run["warnings"], json!([]), "{run}");
        gw.stop().await?;
        store.close().await?;
        db.cleanup().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_that_changes_type_is_reported_before_load_and_nothing_is_lost() -> Result<()> {
    let company = company();
    let drifting = hubspot::HubspotMockConfig {
        numeric_properties: vec!["numberofemployees".to_owned()],
        ..hubspot::HubspotMockConfig::default()
    };
    for policy in [DriftPolicy::Evolve, DriftPolicy::Quarantine] {
        for db in TestDatabase::all().await? {
            let store = db.store().await?;
            sync_companies(
                &store,
                hubspot::HubspotMockConfig::default(),
                &company,
                policy,
            )
            .await?;
            let gw = Gateway::start(store.clone()).await?;
            let first = last_companies_run(&gw).await?;
            assert_eq!(first["schemaDrift"], json!([]), "{first}");
            let before = store.counts().await?;

            sync_companies(&store, drifting.clone(), &company, policy).await?;
            let run = last_companies_run(&gw).await?;
            let drift = run["schemaDrift"].as_array().context("drift")?;
            assert_eq!(drift.len(), 1, "{run}");
            assert_eq!(drift[0]["field"], "properties.numberofemployees", "{run}");
            assert_eq!(drift[0]["oldType"], "string", "{run}");
            assert_eq!(drift[0]["newType"], "number", "{run}");
            let policy_text = drift[0]["policy"].as_str().context("policy")?;
            assert!(policy_text.starts_with(policy.as_str()), "{run}");

            let after = store.counts().await?;
            let quarantine = gw
                .query(
                    "{ quarantine(first: 500) { totalCount nodes { reason payload } } }",
                    json!({}),
                )
                .await?;
            let held = quarantine["quarantine"]["totalCount"]
                .as_i64()
                .context("count")?;
            match policy {
                DriftPolicy::Evolve => {
                    // Every company still lands, with the value read from the number.
                    assert_eq!(
                        after.entities.get(&EntityKind::Account),
                        before.entities.get(&EntityKind::Account),
                        "{after:?}"
                    );
                    assert_eq!(held, 0, "{quarantine}");
                    assert_eq!(run["recordsQuarantined"], 0, "{run}");
                }
                DriftPolicy::Quarantine => {
                    // The drifted companies wait in quarantine with their raw payload; the
                    // ones without a value (null has no type) load as before.
                    ensure!(held > 0, "nothing held: {quarantine}");
                    assert_eq!(run["recordsQuarantined"], held, "{run}");
                    let node = &quarantine["quarantine"]["nodes"][0];
                    assert!(
                        node["reason"].as_str().unwrap().contains(
                            "`properties.numberofemployees` changed type from string to number"
                        ),
                        "{node}"
                    );
                    let payload: Value = serde_json::from_str(node["payload"].as_str().unwrap())?;
                    assert!(
                        payload["properties"]["numberofemployees"].is_number(),
                        "the raw payload is kept as received: {payload}"
                    );
                    // Nothing lost: each held company is still the stored one from the
                    // first sync (none deleted, since the refresh saw it).
                    assert_eq!(
                        after.entities.get(&EntityKind::Account),
                        before.entities.get(&EntityKind::Account),
                        "{after:?}"
                    );
                }
            }
            gw.stop().await?;
            store.close().await?;
            db.cleanup().await?;
        }
    }
    Ok(())
}
