//! End to end, exactly as `tributary demo` runs it: simulated company → HubSpot mock on
//! loopback → the real HubSpot connector over HTTP → the store → GraphQL over a real socket.
//! Runs on SQLite, and again on PostgreSQL when `TRIBUTARY_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

mod common;

use anyhow::{Context, Result};
use common::{Gateway, ledger};
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
        assert!(demo.succeeded(), "{backend}: {:?}", demo.reports());
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

        // Every bad record is in quarantine with its reason: the CRM's three streams that map
        // records (companies, contacts, deals) and the LMS's three (courses, users,
        // enrollments) each serve `malformed` broken ones.
        let data = gateway
            .query(
                "{ quarantine(first: 50) { totalCount edges { node { stream reason payload } } } }",
                Value::Null,
            )
            .await?;
        let q = &data["quarantine"];
        assert_eq!(
            q["totalCount"],
            json!(6 * faults.malformed_records),
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
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("enrollments") && r.contains("enrolled_at")),
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
            .query("{ syncRuns(first: 10) { totalCount edges { node { stream status recordsRead recordsWritten recordsUnchanged recordsSkipped recordsQuarantined recordsDeleted recordsSwept } } } }", Value::Null)
            .await?;
        // Two runs of the CRM's four streams, one of the LMS's four.
        assert_eq!(data["syncRuns"]["totalCount"], json!(12), "{backend}");
        // Every run's figures add up to what it read, as its summary line does.
        let mut skipped = 0;
        for edge in data["syncRuns"]["edges"].as_array().context("edges")? {
            let n = &edge["node"];
            let f = |k: &str| n[k].as_i64().unwrap_or(-1);
            let accounted = f("recordsWritten")
                + f("recordsUnchanged")
                + f("recordsSkipped")
                + f("recordsQuarantined")
                + f("recordsDeleted")
                - f("recordsSwept");
            assert_eq!(f("recordsRead"), accounted, "{backend}: {n}");
            skipped += f("recordsSkipped");
        }
        // Open deals are read and deliberately not loaded, in both runs.
        assert!(skipped > 0, "{backend}: {data}");

        gateway.stop().await?;
        let store = demo.store.clone();
        demo.shutdown_mocks().await?;
        store.close().await?;
        db.cleanup().await?;
    }
    Ok(())
}

/// Every ledger line served over GraphQL, page by page, its account named by its HubSpot
/// company id (the generator's account id); and every page as served, for the money walk.
async fn served_ledger(gateway: &Gateway) -> Result<(Vec<ledger::Line>, Vec<Value>)> {
    let mut company_of = std::collections::HashMap::new();
    let mut after = Value::Null;
    loop {
        let data = gateway
            .query(
                "query($after: String) { accounts(first: 100, after: $after) {
                   pageInfo { hasNextPage endCursor } nodes { id externalRefs { object externalId } } } }",
                json!({"after": after}),
            )
            .await?;
        let page = &data["accounts"];
        for a in page["nodes"].as_array().context("nodes")? {
            let company = a["externalRefs"]
                .as_array()
                .context("refs")?
                .iter()
                .find(|r| r["object"] == "companies")
                .context("a company ref")?;
            company_of.insert(
                a["id"].as_str().context("id")?.to_owned(),
                company["externalId"]
                    .as_str()
                    .context("externalId")?
                    .to_owned(),
            );
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let (mut lines, mut pages) = (Vec::new(), Vec::new());
    let mut after = Value::Null;
    loop {
        let data = gateway
            .query(
                &format!(
                    "query($after: String) {{ revenueLedger(first: 200, after: $after) {{
                       pageInfo {{ hasNextPage endCursor }} nodes {{ {} }} }} }}",
                    ledger::LINE_FIELDS
                ),
                json!({"after": after}),
            )
            .await?;
        let page = &data["revenueLedger"];
        for n in page["nodes"].as_array().context("nodes")? {
            let account = company_of
                .get(n["accountId"].as_str().context("accountId")?)
                .context("the line's account is served")?;
            lines.push(ledger::served_line(n, account.clone())?);
        }
        let more = page["pageInfo"]["hasNextPage"] == true;
        after = page["pageInfo"]["endCursor"].clone();
        pages.push(data);
        if !more {
            break;
        }
    }
    lines.sort();
    Ok((lines, pages))
}

/// The revenue ledger, served over GraphQL after the demo's sync, is the generator's own
/// contract history line for line — each line's account, date, kind, delta and ARR after in
/// cents, the change in the deal's own currency and the rate that converted it — computed in
/// `common::ledger` from the simulated deals without Tributary's ledger code. Every money
/// amount of the ledger, the bridge and the accounts' subscriptions has exactly its
/// currency's decimals, and the bridge reconciles to zero, on both backends.
#[tokio::test]
async fn the_revenue_ledger_over_http_is_the_generators_contract_history() -> Result<()> {
    let sim = SimConfig {
        seed: 11,
        accounts: 120,
        ..SimConfig::default()
    };
    let company = Company::generate(&sim);
    let today = company.today;
    let want = ledger::generator_ledger(
        &company,
        |_| true,
        ledger::simulator_rates,
        ledger::Kinds::Motions,
    );
    // The generator's ARR today, per account in cents, summed: what the ledger must add up to.
    let arr_today: i64 = {
        let mut last: std::collections::BTreeMap<&str, i64> = Default::default();
        for l in want.iter().filter(|l| l.date <= today) {
            last.insert(&l.account, l.after_cents);
        }
        last.values().sum()
    };
    assert_eq!(
        arr_today,
        ledger::generator_arr_cents(&company, today, |_| true, ledger::simulator_rates)
    );
    assert!(arr_today > 0);
    // The world is one where rounding matters: some lines are not whole cents before rounding.
    assert!(
        company
            .expected_closed_won_deals()
            .any(
                |d| !(ledger::simulator_rates(d).usd * rust_decimal::Decimal::ONE_HUNDRED)
                    .fract()
                    .is_zero()
            ),
        "no deal converts to a fraction of a cent"
    );

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
        let (got, pages) = served_ledger(&gateway).await?;
        ledger::assert_same_lines(&got, &want, &format!("{backend}: the served ledger"));
        let mut checked = 0;
        for page in &pages {
            checked += ledger::check_every_money(page)?;
        }
        // Σ deltas up to today = the generator's ARR today, to the cent.
        let served_today: i64 = got
            .iter()
            .filter(|l| l.date <= today)
            .map(|l| l.delta_cents)
            .sum();
        assert_eq!(served_today, arr_today, "{backend}");
        let kinds: std::collections::BTreeSet<&str> = got.iter().map(|l| l.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["CHURN", "CONTRACTION", "EXPANSION", "NEW", "RENEWAL"].into(),
            "{backend}"
        );

        // The bridge over several periods: reconciled to zero, opening and closing the
        // generator's ARR on those days.
        let arr_on = |day: chrono::NaiveDate| -> i64 {
            let mut last: std::collections::BTreeMap<&str, i64> = Default::default();
            for l in want.iter().filter(|l| l.date <= day) {
                last.insert(&l.account, l.after_cents);
            }
            last.values().sum()
        };
        let first = want.iter().map(|l| l.date).min().context("a line")?;
        for (from, to) in [
            (first - chrono::Days::new(1), today),
            (today - chrono::Months::new(12), today),
            (
                today - chrono::Months::new(30),
                today - chrono::Months::new(6),
            ),
            (today, today + chrono::Months::new(18)),
        ] {
            let data = gateway
                .query(
                    "query($from: Date!, $to: Date!) { revenueBridge(from: $from, to: $to) {
                       openingArr { amount currency } closingArr { amount currency }
                       movements { kind events arrDelta { amount currency } }
                       difference { amount currency } reconciled
                       differences { accountId opening: openingArr { amount currency } } } }",
                    json!({"from": from.to_string(), "to": to.to_string()}),
                )
                .await?;
            checked += ledger::check_every_money(&data)?;
            let b = &data["revenueBridge"];
            assert_eq!(b["reconciled"], true, "{backend} {from}..{to}: {b}");
            assert_eq!(b["difference"]["amount"], "0.00", "{backend} {from}..{to}");
            assert_eq!(
                ledger::minor_amount(&b["openingArr"])?,
                arr_on(from),
                "{backend} {from}"
            );
            assert_eq!(
                ledger::minor_amount(&b["closingArr"])?,
                arr_on(to),
                "{backend} {to}"
            );
            let moved: i64 = b["movements"]
                .as_array()
                .context("movements")?
                .iter()
                .map(|m| ledger::minor_amount(&m["arrDelta"]))
                .sum::<Result<i64>>()?;
            assert_eq!(arr_on(from) + moved, arr_on(to), "{backend} {from}..{to}");
        }

        // Accounts: subscriptions in their own currencies, ARR per currency and per the
        // ledger, each line — all with exactly their currency's decimals; every subscription
        // says how its ARR was derived.
        let mut after = Value::Null;
        let mut bases = std::collections::BTreeSet::new();
        loop {
            let data = gateway
                .query(
                    "query($after: String) { accounts(first: 20, after: $after) {
                       pageInfo { hasNextPage endCursor }
                       nodes { arr { amount currency } arrByCurrency { amount currency }
                               ledgerArr { amount currency }
                               subscriptions { arr { amount currency } arrBasis }
                               revenueEvents { arrDelta { amount currency } arrAfter { amount currency }
                                               originalDelta { amount currency } } } } }",
                    json!({"after": after}),
                )
                .await?;
            checked += ledger::check_every_money(&data)?;
            let page = &data["accounts"];
            for a in page["nodes"].as_array().context("nodes")? {
                for s in a["subscriptions"].as_array().context("subscriptions")? {
                    bases.insert(s["arrBasis"].as_str().context("arrBasis")?.to_owned());
                }
            }
            if page["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
        // The demo's HubSpot deals carry an amount and a term.
        assert_eq!(bases, ["AMOUNT_OVER_TERM".to_owned()].into(), "{backend}");
        assert!(
            checked > 5 * want.len(),
            "{backend}: only {checked} amounts"
        );

        // A second sync of unchanged contracts changes no ledger line.
        let before = demo.store.content_digest().await?;
        demo.sync(SyncMode::FullRefresh).await?;
        assert_eq!(demo.store.content_digest().await?, before, "{backend}");

        gateway.stop().await?;
        let store = demo.store.clone();
        demo.shutdown_mocks().await?;
        store.close().await?;
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
        let store = demo.store.clone();
        demo.shutdown_mocks().await?;
        store.close().await?;
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
        let store = demo.store.clone();
        demo.shutdown_mocks().await?;
        store.close().await?;
        db.cleanup().await?;
    }
    Ok(())
}
