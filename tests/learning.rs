//! The learning half of the demo, end to end: the simulated company's LMS (the Skilljar mock)
//! synced through the real Skilljar connector beside the CRM, and served over GraphQL on a real
//! socket — enrollments, completions and certifications per account equal to the generator's
//! truth, courses with the metadata the demo's mapping gives them. SQLite, and PostgreSQL when
//! `TRIBUTARY_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

mod common;

use anyhow::{Context, Result};
use common::Gateway;
use common::learning::{Learning, generator_learning};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tributary::demo::{self, DemoOptions};
use tributary_sim::{Company, SimConfig};
use tributary_store::testing::TestDatabase;

const PAGE: &str = r#"
query($after: String) {
  accounts(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      externalRefs { system externalId }
      learning { enrolled completed certified learners }
      learningByRole { role progress { enrolled } }
    }
  }
}"#;

#[tokio::test]
async fn learning_per_account_equals_the_generators_truth() -> Result<()> {
    let sim = SimConfig {
        seed: 11,
        accounts: 120,
        ..SimConfig::default()
    };
    let company = Company::generate(&sim);
    let want = generator_learning(&company);
    assert!(
        want.values().any(|l| l.certified > 0) && want.len() > 20,
        "the world has learning to compare: {want:?}"
    );

    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let demo = demo::prepare(&DemoOptions {
            seed: sim.seed,
            accounts: sim.accounts,
            database: db.url.clone(),
            progress: false,
            ..DemoOptions::default()
        })
        .await?;
        assert!(demo.succeeded(), "{backend}: {:?}", demo.reports());
        let gateway = Gateway::start(demo.store.clone()).await?;

        let mut got: BTreeMap<String, Learning> = BTreeMap::new();
        let mut after = Value::Null;
        loop {
            let data = gateway.query(PAGE, json!({"after": after})).await?;
            let conn = &data["accounts"];
            for node in conn["nodes"].as_array().context("nodes")? {
                let id = node["externalRefs"]
                    .as_array()
                    .context("refs")?
                    .iter()
                    .find(|r| r["system"] == "hubspot")
                    .context("a HubSpot company")?["externalId"]
                    .as_str()
                    .context("id")?
                    .to_owned();
                let l = &node["learning"];
                let n = |k: &str| l[k].as_u64().unwrap();
                // Per role adds up to the whole.
                let by_role: u64 = node["learningByRole"]
                    .as_array()
                    .context("roles")?
                    .iter()
                    .map(|r| r["progress"]["enrolled"].as_u64().unwrap())
                    .sum();
                assert_eq!(by_role, n("enrolled"), "{backend}: {node}");
                if n("enrolled") > 0 {
                    got.insert(
                        id,
                        Learning {
                            enrolled: n("enrolled"),
                            completed: n("completed"),
                            certified: n("certified"),
                        },
                    );
                }
            }
            if conn["pageInfo"]["hasNextPage"] != json!(true) {
                break;
            }
            after = conn["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(got, want, "{backend}: per account, served vs the generator");

        // The catalog: every world course, with the mapping's metadata.
        let data = gateway
            .query(
                "{ courses(first: 500) { totalCount nodes { title kind level features } } }",
                Value::Null,
            )
            .await?;
        assert_eq!(
            data["courses"]["totalCount"].as_u64(),
            Some(company.courses.len() as u64),
            "{backend}"
        );
        for course in &company.courses {
            let served = data["courses"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["title"] == course.title.as_str())
                .with_context(|| format!("{backend}: course {}", course.title))?;
            let kind = serde_json::to_value(course.kind)?;
            assert_eq!(
                served["kind"].as_str().map(str::to_lowercase),
                kind.as_str().map(str::to_owned),
                "{backend}: {served}"
            );
            let level = serde_json::to_value(course.level)?;
            assert_eq!(
                served["level"].as_str().map(str::to_lowercase),
                level.as_str().map(str::to_owned),
                "{backend}: {served}"
            );
            if !course.features.is_empty() {
                assert_eq!(served["features"], json!(course.features), "{backend}");
            }
        }

        gateway.stop().await?;
        let store = demo.store.clone();
        demo.shutdown_mocks().await?;
        store.close().await?;
        db.cleanup().await?;
    }
    Ok(())
}
