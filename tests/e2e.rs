//! End to end, exactly as `tributary demo` runs it: simulated company → HubSpot mock on
//! loopback → the real HubSpot connector over HTTP → the store → GraphQL over a real socket.
//! Runs on SQLite, and again on PostgreSQL when `TRIBUTARY_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

mod common;

use anyhow::{Context, Result};
use common::Gateway;
use serde_json::{Value, json};
use tributary::demo::{self, DemoOptions};
use tributary_connector::SyncMode;
use tributary_mock_kit::Faults;
use tributary_sim::{Company, SimConfig};
use tributary_store::testing::TestDatabase;

const ACCOUNTS_PAGE: &str = r#"
query($after: String) {
  accounts(first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id name subscriptions { arr { amount currency } } people { email } } }
  }
}"#;

#[tokio::test]
async fn demo_path_serves_the_simulated_company_over_http() -> Result<()> {
    let faults = Faults::none().with_malformed_records(2);
    let sim = SimConfig {
        seed: 7,
        accounts: 150,
        ..SimConfig::default()
    };
    let truth = Company::generate(&sim).truth();

    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let opts = DemoOptions {
            seed: sim.seed,
            accounts: sim.accounts,
            faults: faults.clone(),
            database: db.url.clone(),
            progress: false,
            ..DemoOptions::default()
        };
        let demo = demo::prepare(&opts).await?;
        assert!(demo.report.succeeded(), "{backend}: {:?}", demo.report);
        let gateway = Gateway::start(demo.store.clone()).await?;

        // Walk every page of accounts over HTTP.
        let mut after = Value::Null;
        let mut names = Vec::new();
        let mut subscriptions = 0;
        let mut people = 0;
        let total = loop {
            let data = gateway
                .query(ACCOUNTS_PAGE, json!({"after": after}))
                .await?;
            let conn = &data["accounts"];
            for edge in conn["edges"].as_array().context("edges")? {
                names.push(edge["node"]["name"].as_str().context("name")?.to_owned());
                subscriptions += edge["node"]["subscriptions"]
                    .as_array()
                    .context("subs")?
                    .len();
                people += edge["node"]["people"].as_array().context("people")?.len();
            }
            if !conn["pageInfo"]["hasNextPage"]
                .as_bool()
                .context("hasNextPage")?
            {
                break conn["totalCount"].as_u64().context("totalCount")?;
            }
            after = conn["pageInfo"]["endCursor"].clone();
        };
        // The malformed companies (empty names) are quarantined; everything else landed.
        let expected_accounts = truth.accounts - faults.malformed_records;
        assert_eq!(total as usize, expected_accounts, "{backend}");
        assert_eq!(names.len(), expected_accounts, "{backend}");
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "{backend}: pages come in name order");
        assert!(subscriptions > 0 && people > 0, "{backend}");
        assert!(
            subscriptions <= truth.closed_won_deals - faults.malformed_records,
            "{backend}: {subscriptions} subscriptions"
        );

        // Every bad record is in quarantine with its reason.
        let data = gateway
            .query(
                "{ quarantine(first: 50) { totalCount edges { node { stream reason payload } } } }",
                Value::Null,
            )
            .await?;
        let q = &data["quarantine"];
        assert_eq!(
            q["totalCount"],
            json!(3 * faults.malformed_records),
            "{backend}: {q}"
        );
        let reasons: Vec<String> = q["edges"]
            .as_array()
            .context("edges")?
            .iter()
            .map(|e| format!("{}: {}", e["node"]["stream"], e["node"]["reason"]))
            .collect();
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("deals") && r.contains("amount")),
            "{reasons:?}"
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("companies") && r.contains("name")),
            "{reasons:?}"
        );

        // A second sync of unchanged data changes nothing.
        let before = demo.store.counts().await?;
        let again = demo.sync(SyncMode::FullRefresh).await?;
        assert!(again.succeeded(), "{backend}");
        let (_, outcome) = again.totals();
        assert_eq!(outcome.written, 0, "{backend}: {again:?}");
        // Bad records seen again are counted on their quarantine entry, not duplicated.
        assert_eq!(demo.store.counts().await?, before, "{backend}");

        let data = gateway
            .query("{ syncRuns(first: 10) { totalCount edges { node { stream status recordsWritten } } } }", Value::Null)
            .await?;
        assert_eq!(data["syncRuns"]["totalCount"], json!(8), "{backend}");

        gateway.stop().await?;
        demo.hubspot.shutdown().await?;
        demo.store.close().await?;
        db.cleanup().await?;
    }
    Ok(())
}

#[tokio::test]
async fn the_revenue_ledger_over_http_reconciles_to_the_generators_arr() -> Result<()> {
    use rust_decimal::Decimal;
    use std::str::FromStr;
    let sim = SimConfig {
        seed: 11,
        accounts: 120,
        ..SimConfig::default()
    };
    let truth = Company::generate(&sim).truth();
    let fx = tributary::ledger::simulator_fx()?;
    let mut expected = Decimal::ZERO;
    for (currency, amount) in &truth.arr_today {
        let money =
            tributary_model::Money::new(*amount, tributary_model::Currency::parse(currency)?);
        expected += fx.convert(&money, truth.today)?.amount;
    }
    assert!(expected > Decimal::ZERO);

    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let opts = DemoOptions {
            seed: sim.seed,
            accounts: sim.accounts,
            database: db.url.clone(),
            progress: false,
            ..DemoOptions::default()
        };
        let demo = demo::prepare(&opts).await?;
        let gateway = Gateway::start(demo.store.clone()).await?;
        let mut after = Value::Null;
        let mut arr_today = Decimal::ZERO;
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        loop {
            let data = gateway
                .query(
                    "query($after: String) { revenueLedger(first: 500, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { date kind arrDelta { amount currency } } } }",
                    json!({"after": after}),
                )
                .await?;
            let l = &data["revenueLedger"];
            for n in l["nodes"].as_array().context("nodes")? {
                assert_eq!(n["arrDelta"]["currency"], "USD", "{backend}");
                *kinds
                    .entry(n["kind"].as_str().context("kind")?.to_owned())
                    .or_default() += 1;
                let date = chrono::NaiveDate::from_str(n["date"].as_str().context("date")?)?;
                if date <= truth.today {
                    arr_today +=
                        Decimal::from_str(n["arrDelta"]["amount"].as_str().context("amount")?)?;
                }
            }
            if !l["pageInfo"]["hasNextPage"]
                .as_bool()
                .context("hasNextPage")?
            {
                break;
            }
            after = l["pageInfo"]["endCursor"].clone();
        }
        // Σ ledger deltas up to today = ARR today, to the cent and beyond, in USD.
        assert_eq!(arr_today, expected, "{backend}: {kinds:?}");
        assert_eq!(
            kinds.get("NEW"),
            Some(&sim.accounts),
            "{backend}: {kinds:?}"
        );
        assert!(
            kinds.contains_key("RENEWAL") && kinds.contains_key("CHURN"),
            "{backend}: {kinds:?}"
        );

        // A second sync of unchanged contracts changes no ledger line.
        let before = demo.store.content_digest().await?;
        demo.sync(SyncMode::FullRefresh).await?;
        assert_eq!(demo.store.content_digest().await?, before, "{backend}");

        gateway.stop().await?;
        demo.hubspot.shutdown().await?;
        demo.store.close().await?;
        db.cleanup().await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_deleted_opportunity_leaves_the_ledger() -> Result<()> {
    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let opts = DemoOptions {
            seed: 3,
            accounts: 40,
            database: db.url.clone(),
            progress: false,
            ..DemoOptions::default()
        };
        let demo = demo::prepare(&opts).await?;
        let (before, total_before) = demo
            .store
            .revenue_events(&Default::default(), 0, 10_000, true)
            .await?;
        // The CRM deletes the deal behind one account's first subscription.
        let subs = demo.store.live_subscriptions().await?;
        let first = subs
            .iter()
            .min_by_key(|s| (s.start_date, s.id))
            .context("a subscription")?;
        let account = first.account_id.context("account")?;
        let deal = demo
            .store
            .external_refs_of(&[first.id])
            .await?
            .into_iter()
            .next()
            .context("deal ref")?;
        let deleted = demo
            .store
            .commit_batch(tributary_store::CommitBatch {
                connector: tributary::demo::DEMO_CONNECTOR.into(),
                stream: "deals".into(),
                deletes: vec![tributary_model::ExternalRef::new(
                    deal.system,
                    deal.instance,
                    deal.object,
                    deal.external_id,
                )],
                ..Default::default()
            })
            .await?;
        assert_eq!(deleted.deleted, 1, "{backend}");
        let outcome =
            tributary::ledger::refresh(&demo.store, &tributary::ledger::simulator_fx()?, 30)
                .await?;
        assert!(
            outcome.written + outcome.removed > 0,
            "{backend}: {outcome:?}"
        );
        let (after, _) = demo
            .store
            .revenue_events(
                &tributary_store::RevenueEventFilter {
                    account: Some(account),
                    ..Default::default()
                },
                0,
                10_000,
                true,
            )
            .await?;
        let old: Vec<_> = before
            .iter()
            .filter(|e| e.account_id == Some(account))
            .collect();
        assert_ne!(
            after
                .iter()
                .map(|e| (e.date, e.arr_delta.clone()))
                .collect::<Vec<_>>(),
            old.iter()
                .map(|e| (e.date, e.arr_delta.clone()))
                .collect::<Vec<_>>(),
            "{backend}: the account's ledger still shows the deleted deal"
        );
        assert!(total_before > Some(0));
        demo.hubspot.shutdown().await?;
        demo.store.close().await?;
        db.cleanup().await?;
    }
    Ok(())
}

/// The demo's connector is a scheduled connector like any configured one: the `connectors`
/// query lists it, and `triggerSync` makes the demo's worker run it (full refresh) at once.
#[tokio::test]
async fn the_demo_connector_is_listed_and_runs_when_triggered() -> Result<()> {
    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let opts = DemoOptions {
            seed: 5,
            accounts: 40,
            database: db.url.clone(),
            progress: false,
            ..DemoOptions::default()
        };
        let demo = demo::prepare(&opts).await?;
        let gateway = Gateway::start(demo.store.clone()).await?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(demo.worker()?.run(stopped));

        let listed = gateway
            .query(
                "{ connectors { name kind nextRunAt lastRuns { stream status } } }",
                Value::Null,
            )
            .await?;
        let c = &listed["connectors"][0];
        assert_eq!(
            c["name"],
            json!(demo::DEMO_CONNECTOR),
            "{backend}: {listed}"
        );
        assert_eq!(c["kind"], json!("hubspot"), "{backend}");
        assert_eq!(
            c["lastRuns"].as_array().map(Vec::len),
            Some(4),
            "{backend}: {c}"
        );
        let runs = |data: &Value| data["syncRuns"]["totalCount"].as_u64().unwrap_or(0);
        const RUNS: &str =
            "{ syncRuns(first: 20) { totalCount edges { node { stream mode status } } } }";
        let before = runs(&gateway.query(RUNS, Value::Null).await?);

        let triggered = gateway
            .query(
                r#"mutation { triggerSync(connector: "hubspot-demo", fullRefresh: true) { connector fullRefresh } }"#,
                Value::Null,
            )
            .await?;
        assert_eq!(
            triggered["triggerSync"]["fullRefresh"],
            json!(true),
            "{backend}"
        );
        // The worker polls every 2 s; wait (bounded) for its four stream runs to finish.
        let mut after = Value::Null;
        for _ in 0..300 {
            after = gateway.query(RUNS, Value::Null).await?;
            let finished = after["syncRuns"]["edges"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .take(4)
                        .all(|e| e["node"]["status"] == json!("SUCCEEDED"))
                })
                .unwrap_or(false);
            if runs(&after) >= before + 4 && finished {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert_eq!(runs(&after), before + 4, "{backend}: {after}");
        let newest = &after["syncRuns"]["edges"][0]["node"];
        assert_eq!(newest["mode"], json!("full_refresh"), "{backend}: {after}");

        let _ = stop.send(true);
        worker.await??;
        gateway.stop().await?;
        demo.hubspot.shutdown().await?;
        demo.store.close().await?;
        db.cleanup().await?;
    }
    Ok(())
}
