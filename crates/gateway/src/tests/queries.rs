//! The data served: pagination, filters, account 360, money, batching, the sync log.

use super::with_admin_key;
use super::*;
use crate::build_schema;
use crate::loaders::LoaderStats;
use std::sync::Arc;
use std::time::Duration;

const PAGE: &str = r#"
    query Page($first: Int, $after: String, $filter: AccountFilter) {
      accounts(first: $first, after: $after, filter: $filter) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id name segment } }
        nodes { name }
      }
    }"#;

#[tokio::test]
async fn cursors_page_through_every_account_once() {
    with_fixtures(|store| async move {
        let app = router(&store);
        let mut names = Vec::new();
        let mut after = Value::Null;
        let mut pages = 0;
        loop {
            let d = data(&app, PAGE, json!({"first": 10, "after": after})).await;
            let conn = &d["accounts"];
            pages += 1;
            assert_eq!(conn["totalCount"], ACCOUNTS, "{conn}");
            let edges = conn["edges"].as_array().unwrap();
            assert!(edges.len() <= 10);
            let page_names: Vec<String> = edges
                .iter()
                .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
                .collect();
            let node_names: Vec<&str> = conn["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["name"].as_str().unwrap())
                .collect();
            assert_eq!(page_names, node_names);
            let info = &conn["pageInfo"];
            assert_eq!(info["endCursor"], edges.last().unwrap()["cursor"]);
            assert_eq!(info["startCursor"], edges[0]["cursor"]);
            names.extend(page_names);
            if info["hasNextPage"] == false {
                break;
            }
            after = info["endCursor"].clone();
        }
        assert_eq!(pages, 3);
        let mut expected: Vec<String> = (0..25).map(|i| format!("Co {i:02}")).collect();
        expected.extend(["Acme".to_owned(), "Globex".to_owned()]);
        expected.sort();
        assert_eq!(names, expected);

        // `first` defaults to 20; 0 gives the count alone.
        let d = data(&app, PAGE, json!({})).await;
        assert_eq!(d["accounts"]["edges"].as_array().unwrap().len(), 20);
        let d = data(&app, PAGE, json!({"first": 0})).await;
        assert_eq!(d["accounts"]["edges"], json!([]));
        assert_eq!(d["accounts"]["totalCount"], ACCOUNTS);
        assert_eq!(d["accounts"]["pageInfo"]["hasNextPage"], true);
        assert_eq!(d["accounts"]["pageInfo"]["endCursor"], Value::Null);
    })
    .await;
}

#[tokio::test]
async fn filters_narrow_the_list_and_its_count() {
    with_fixtures(|store| async move {
        let app = router(&store);
        let names = |d: &Value| -> Vec<String> {
            d["accounts"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["name"].as_str().unwrap().to_owned())
                .collect()
        };
        let d = data(
            &app,
            PAGE,
            json!({"filter": {"segment": "SMB", "nameContains": "co 1"}}),
        )
        .await;
        assert_eq!(names(&d), ["Co 10", "Co 12", "Co 14", "Co 16", "Co 18"]);
        assert_eq!(d["accounts"]["totalCount"], 5);
        assert!(
            d["accounts"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["node"]["segment"] == "SMB")
        );

        let d = data(&app, PAGE, json!({"filter": {"segment": "ENTERPRISE"}})).await;
        assert_eq!(d["accounts"]["totalCount"], 13);

        let d = data(
            &app,
            PAGE,
            json!({"filter": {"domain": "https://www.ACME.example/", "region": "AMER"}}),
        )
        .await;
        assert_eq!(names(&d), ["Acme"]);

        let d = data(&app, PAGE, json!({"filter": {"industry": "Retail"}})).await;
        assert_eq!(d["accounts"]["totalCount"], 0);

        // A cursor keeps working inside a filtered list.
        let filter = json!({"nameContains": "CO "});
        let d = data(&app, PAGE, json!({"first": 24, "filter": filter})).await;
        let after = d["accounts"]["pageInfo"]["endCursor"].clone();
        let d = data(
            &app,
            PAGE,
            json!({"first": 24, "after": after, "filter": filter}),
        )
        .await;
        assert_eq!(names(&d), ["Co 24"]);
        assert_eq!(d["accounts"]["pageInfo"]["hasNextPage"], false);
    })
    .await;
}

const ACCOUNT_360: &str = r#"
    query One($id: ID!) {
      account(id: $id) {
        id name domain segment industry region owner seats createdAt sourceUpdatedAt
        people { id name email title role firstSeenAt externalRefs { object externalId } }
        subscriptions { id plan startDate endDate status arr { amount currency } }
        arr { amount currency }
        arrByCurrency { amount currency }
        externalRefs { system instance object externalId }
      }
    }"#;

async fn id_of(app: &Router, name: &str) -> String {
    let d = data(app, PAGE, json!({"filter": {"nameContains": name}})).await;
    d["accounts"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn account_360_with_people_subscriptions_and_exact_money() {
    with_fixtures(|store| async move {
        let app = router(&store);
        let id = id_of(&app, "acme").await;
        let d = data(&app, ACCOUNT_360, json!({"id": id})).await;
        let a = &d["account"];
        assert_eq!(a["id"], id.as_str());
        assert_eq!(a["name"], "Acme");
        assert_eq!(a["domain"], "acme.example");
        assert_eq!(a["segment"], "MID_MARKET");
        assert_eq!(a["industry"], "Software");
        assert_eq!(a["region"], "AMER");
        assert_eq!(a["owner"], "Dana");
        assert_eq!(a["seats"], 10);
        // RFC 3339 in UTC.
        assert_eq!(a["createdAt"], "2024-05-06T07:08:09Z");
        assert_eq!(a["sourceUpdatedAt"], "2026-01-02T03:04:05Z");

        let people = a["people"].as_array().unwrap();
        let names: Vec<&str> = people.iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Ada", "Zoe"]);
        assert_eq!(people[0]["email"], "ada@acme.example");
        assert_eq!(people[0]["role"], "ADMIN");
        assert_eq!(people[1]["role"], "END_USER");
        assert_eq!(people[0]["title"], "Ops");
        assert_eq!(people[0]["firstSeenAt"], "2025-01-01T00:00:00Z");
        assert_eq!(
            people[0]["externalRefs"],
            json!([{"object": "contacts", "externalId": "p2"}])
        );

        let subs = a["subscriptions"].as_array().unwrap();
        assert_eq!(subs.len(), 2);
        let current = subs
            .iter()
            .find(|s| s["endDate"] == "2999-01-01")
            .expect("current subscription");
        // Money is a decimal string, exact, never a float.
        assert_eq!(current["arr"], json!({"amount": "1200.50", "currency": "USD"}));
        assert_eq!(current["startDate"], "2020-01-01");
        assert_eq!(current["status"], "ACTIVE");
        assert_eq!(current["plan"], "Pro");

        // Only the current subscription counts towards ARR.
        assert_eq!(a["arr"], json!({"amount": "1200.50", "currency": "USD"}));
        assert_eq!(a["arrByCurrency"], json!([{"amount": "1200.50", "currency": "USD"}]));
        assert_eq!(
            a["externalRefs"],
            json!([{"system": "hubspot", "instance": "hs", "object": "companies", "externalId": "acme"}])
        );

        // ARR as of a day in the past counts the subscription that was running then.
        let d = data(
            &app,
            r#"query($id: ID!) { account(id: $id) { arr(asOf: "2020-06-01") { amount currency } } }"#,
            json!({"id": id}),
        )
        .await;
        assert_eq!(d["account"]["arr"], json!({"amount": "1300.49", "currency": "USD"}));
        let d = data(
            &app,
            r#"query($id: ID!) { account(id: $id) { arr(asOf: "2019-01-01") { amount currency } arrByCurrency(asOf: "2019-01-01") { amount } } }"#,
            json!({"id": id}),
        )
        .await;
        assert_eq!(d["account"]["arr"], json!({"amount": "0.00", "currency": "USD"}));
        assert_eq!(d["account"]["arrByCurrency"], json!([]));
    })
    .await;
}

#[tokio::test]
async fn arr_in_several_currencies_is_only_given_per_currency() {
    with_fixtures(|store| async move {
        let app = router(&store);
        let id = id_of(&app, "globex").await;
        let d = data(&app, ACCOUNT_360, json!({"id": id})).await;
        assert_eq!(d["account"]["arr"], Value::Null);
        assert_eq!(
            d["account"]["arrByCurrency"],
            json!([
                {"amount": "1000.00", "currency": "EUR"},
                {"amount": "10.01", "currency": "USD"}
            ])
        );
        // An account without subscriptions has no ARR to speak of.
        let id = id_of(&app, "co 00").await;
        let d = data(&app, ACCOUNT_360, json!({"id": id})).await;
        assert_eq!(d["account"]["arr"], Value::Null);
        assert_eq!(d["account"]["people"], json!([]));
        assert_eq!(d["account"]["subscriptions"], json!([]));
    })
    .await;
}

#[tokio::test]
async fn an_unknown_account_is_null() {
    with_fixtures(|store| async move {
        let app = router(&store);
        let d = data(
            &app,
            ACCOUNT_360,
            json!({"id": "0190f5c4-0000-7000-8000-000000000000"}),
        )
        .await;
        assert_eq!(d, json!({"account": null}));
    })
    .await;
}

/// The children of a page of accounts are loaded with one store call per kind, not one per
/// account. The loader is given a generous batching window so the test cannot flake on a
/// loaded machine; resolving children per account (or bypassing the loader) fails it.
#[tokio::test]
async fn children_of_a_page_are_loaded_in_one_batch_per_kind() {
    with_fixtures(|store| async move {
        let (app, stats) = router_with_stats(&store);
        let d = data(
            &app,
            r#"{ accounts(first: 27) { nodes {
                   name
                   people { name }
                   subscriptions { plan }
                   arr { amount }
                   arrByCurrency { amount }
                   externalRefs { externalId }
                   revenueEvents { kind }
                   ledgerArr { amount }
                 } } }"#,
            json!({}),
        )
        .await;
        let nodes = d["accounts"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), ACCOUNTS);
        let acme = nodes.iter().find(|n| n["name"] == "Acme").unwrap();
        assert_eq!(acme["people"].as_array().unwrap().len(), 2);
        assert_eq!(acme["subscriptions"].as_array().unwrap().len(), 2);
        assert!(
            nodes
                .iter()
                .all(|n| n["externalRefs"].as_array().unwrap().len() == 1)
        );

        let n = ACCOUNTS as u64;
        assert_eq!(stats.people(), (1, n), "people: (batches, keys)");
        // `subscriptions`, `arr` and `arrByCurrency` share one batch.
        assert_eq!(
            stats.subscriptions(),
            (1, n),
            "subscriptions: (batches, keys)"
        );
        assert_eq!(stats.refs(), (1, n), "external refs: (batches, keys)");
        // `revenueEvents` and `ledgerArr` share one batch.
        assert_eq!(stats.revenue_events(), (1, n), "revenue events: (batches, keys)");

        // The people on the deals of every subscription of the page: one batch.
        let d = data(
            &app,
            "{ accounts(first: 27) { nodes { subscriptions { contacts { role person { name } } } } } }",
            json!({}),
        )
        .await;
        assert_eq!(d["accounts"]["nodes"].as_array().unwrap().len(), ACCOUNTS);
        assert_eq!(stats.contacts(), (1, 4), "deal contacts: (batches, keys)");

        // A second level batches too: the refs of every person of the page in one call.
        let d = data(
            &app,
            "{ accounts(first: 27) { nodes { people { externalRefs { externalId } } } } }",
            json!({}),
        )
        .await;
        assert_eq!(d["accounts"]["nodes"].as_array().unwrap().len(), ACCOUNTS);
        assert_eq!(stats.people(), (2, 2 * n));
        assert_eq!(
            stats.refs(),
            (2, n + 2),
            "the second batch holds the two people"
        );
    })
    .await;
}

/// A page with children selected, and one account with its children, read each relation of
/// each level with **one** prefetched query and never wait for the DataLoader: the test runs
/// with no batching delay at all, where a loader batch could split, and proves the loader was
/// not asked (its batches are counted apart from the prefetched ones).
#[tokio::test]
async fn pages_and_accounts_prefetch_one_query_per_relation_and_level() {
    with_fixtures(|store| async move {
        let stats = Arc::new(LoaderStats::default());
        let config = GatewayConfig {
            batch_delay: Duration::ZERO,
            ..GatewayConfig::default()
        };
        let schema = build_schema(store.clone(), &config, stats.clone());
        let app = with_admin_key(
            &store,
            crate::router(
                AppState {
                    store: store.clone(),
                    config,
                    push: Vec::new(),
                },
                schema,
            ),
        );
        let d = data(
            &app,
            r#"{ accounts(first: 27) {
                   edges { node { name people { name externalRefs { externalId } } arr { amount } } }
                   nodes { subscriptions { plan contacts { role } externalRefs { externalId } }
                           ledgerArr { amount } }
                 } }"#,
            json!({}),
        )
        .await;
        let n = ACCOUNTS as u64;
        let nodes = d["accounts"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), ACCOUNTS);
        let acme = d["accounts"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["node"])
            .find(|n| n["name"] == "Acme")
            .unwrap();
        assert_eq!(acme["people"].as_array().unwrap().len(), 2);
        assert_eq!(acme["people"][0]["externalRefs"], json!([{"externalId": "p2"}]));
        // `edges` and `nodes` ask for different children of the same accounts: one query each.
        assert_eq!(stats.people(), (1, n), "people");
        assert_eq!(stats.subscriptions(), (1, n), "subscriptions");
        assert_eq!(stats.revenue_events(), (1, n), "revenue events");
        assert_eq!(stats.contacts(), (1, 4), "deal contacts of the page's 4 subscriptions");
        // Second level: the refs of the page's people, and of its subscriptions.
        assert_eq!(stats.refs(), (2, 2 + 4), "refs of 2 people, then of 4 subscriptions");
        assert_eq!(stats.loader_batches(), 0, "nothing waited for the DataLoader");

        // One account: its children are read alongside it, once each.
        let id = id_of(&app, "acme").await;
        let d = data(&app, ACCOUNT_360, json!({"id": id})).await;
        assert_eq!(d["account"]["people"].as_array().unwrap().len(), 2);
        assert_eq!(d["account"]["subscriptions"].as_array().unwrap().len(), 2);
        assert_eq!(stats.people(), (2, n + 1));
        assert_eq!(stats.subscriptions(), (2, n + 1));
        assert_eq!(stats.loader_batches(), 0, "account 360 did not wait either");

        // An unknown account is null, whatever its children queries found.
        let d = data(&app, ACCOUNT_360, json!({"id": uuid::Uuid::nil().to_string()})).await;
        assert_eq!(d["account"], Value::Null);

        // A level the parent does not look ahead to falls back to the loader, and still works.
        let d = data(
            &app,
            "{ accounts(first: 27) { nodes { subscriptions { contacts { person { externalRefs { externalId } } } } } } }",
            json!({}),
        )
        .await;
        assert_eq!(d["accounts"]["nodes"].as_array().unwrap().len(), ACCOUNTS);
        assert!(stats.loader_batches() > 0);
    })
    .await;
}

#[tokio::test]
async fn sync_runs_and_quarantine_page_with_offset_cursors() {
    for_each_backend(|store| async move {
        load_fixtures(&store).await;
        for (i, connector) in ["hs", "hs", "sf", "hs", "hs"].into_iter().enumerate() {
            let run = store
                .start_run(connector, "companies", "incremental", Some(json!({"after": i})))
                .await
                .unwrap();
            if i < 4 {
                store
                    .finish_run(
                        run,
                        tributary_store::RunFinish {
                            status: if i == 1 {
                                tributary_store::RunStatus::Failed
                            } else {
                                tributary_store::RunStatus::Succeeded
                            },
                            cursor_after: Some(json!({"after": i + 1})),
                            error: (i == 1).then(|| "vendor said 500".to_owned()),
                            checks: Default::default(),
                        },
                    )
                    .await
                    .unwrap();
            }
            // Runs are ordered by start time; keep them apart.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let app = router(&store);
        let q = r#"query($after: String) {
            syncRuns(connector: "hs", first: 3, after: $after) {
              totalCount
              pageInfo { hasNextPage hasPreviousPage endCursor }
              nodes { id connector stream mode status startedAt finishedAt recordsRead
                      recordsWritten recordsQuarantined recordsDeleted cursorBefore cursorAfter error }
            } }"#;
        let d = data(&app, q, json!({})).await;
        let runs = &d["syncRuns"];
        assert_eq!(runs["totalCount"], 4);
        assert_eq!(runs["pageInfo"]["hasNextPage"], true);
        assert_eq!(runs["pageInfo"]["hasPreviousPage"], false);
        let nodes = runs["nodes"].as_array().unwrap();
        // Newest first: the last run is still running.
        assert_eq!(nodes[0]["status"], "RUNNING");
        assert_eq!(nodes[0]["finishedAt"], Value::Null);
        assert_eq!(nodes[0]["cursorBefore"], json!({"after": 4}));
        assert_eq!(nodes[1]["status"], "SUCCEEDED");
        assert_eq!(nodes[1]["cursorAfter"], json!({"after": 4}));
        assert_eq!(nodes[1]["mode"], "incremental");
        assert_eq!(nodes[1]["recordsRead"], 0);
        assert_eq!(nodes[2]["status"], "FAILED");
        assert_eq!(nodes[2]["error"], "vendor said 500");
        let after = runs["pageInfo"]["endCursor"].clone();
        let d = data(&app, q, json!({"after": after})).await;
        let runs = &d["syncRuns"];
        assert_eq!(runs["nodes"].as_array().unwrap().len(), 1);
        assert_eq!(runs["pageInfo"]["hasNextPage"], false);
        assert_eq!(runs["pageInfo"]["hasPreviousPage"], true);
        let all = data(&app, "{ syncRuns { totalCount } }", json!({})).await;
        assert_eq!(all["syncRuns"]["totalCount"], 5);

        // A cursor of one list is refused by another.
        let reply = query_reply(
            &app,
            "query($after: String) { quarantine(after: $after) { totalCount } }",
            json!({"after": after}),
        )
        .await;
        assert_eq!(reply.codes(), ["BAD_CURSOR"]);

        let d = data(
            &app,
            "{ quarantine(first: 5) { totalCount edges { cursor node { id syncRunId connector stream externalId reason payload createdAt } } } }",
            json!({}),
        )
        .await;
        let q = &d["quarantine"];
        assert_eq!(q["totalCount"], 1);
        let node = &q["edges"][0]["node"];
        assert_eq!(node["connector"], "hs");
        assert_eq!(node["stream"], "all");
        assert_eq!(node["externalId"], "bad-1");
        assert_eq!(node["payload"], "{\"amount\":\"x\"}");
        assert!(node["reason"].as_str().unwrap().contains("not a decimal"));
        assert!(node["createdAt"].as_str().is_some());
    })
    .await;
}

#[tokio::test]
async fn connectors_show_their_schedule_and_trigger_sync_makes_them_due() {
    for_each_backend(|store| async move {
        let later = Utc::now() + chrono::Duration::hours(1);
        store.ensure_schedule("hs", "hubspot", later).await.unwrap();
        let run = store.start_run("hs", "companies", "incremental", None).await.unwrap();
        store
            .finish_run(
                run,
                tributary_store::RunFinish {
                    status: tributary_store::RunStatus::Succeeded,
                    cursor_after: None,
                    error: None,
                    checks: Default::default(),
                },
            )
            .await
            .unwrap();
        let app = router(&store);
        let d = data(
            &app,
            "{ connectors { name kind nextRunAt runningOn fullRefreshRequested lastRuns { stream status } } }",
            json!({}),
        )
        .await;
        let c = &d["connectors"][0];
        assert_eq!(c["name"], "hs");
        assert_eq!(c["kind"], "hubspot");
        assert_eq!(c["runningOn"], Value::Null);
        assert_eq!(c["fullRefreshRequested"], false);
        assert_eq!(c["lastRuns"], json!([{"stream": "companies", "status": "SUCCEEDED"}]));
        let due_before = c["nextRunAt"].as_str().unwrap().to_owned();

        let d = data(
            &app,
            r#"mutation { triggerSync(connector: "hs", fullRefresh: true) { connector fullRefresh status { nextRunAt } } }"#,
            json!({}),
        )
        .await;
        let t = &d["triggerSync"];
        assert_eq!(t["connector"], "hs");
        assert_eq!(t["fullRefresh"], true);
        assert!(t["status"]["nextRunAt"].as_str().unwrap() < due_before.as_str());
        // A worker now finds the run due, as a full refresh.
        let lease = store
            .claim("hs", "w", std::time::Duration::from_secs(30), true)
            .await
            .unwrap()
            .unwrap();
        assert!(lease.full_refresh);

        let reply = query_reply(&app, r#"mutation { triggerSync(connector: "nope") { connector } }"#, json!({})).await;
        assert_eq!(reply.codes(), ["NOT_FOUND"]);
    })
    .await;
}

#[tokio::test]
async fn the_revenue_ledger_filters_by_account_kind_and_date() {
    with_fixtures(|store| async move {
        let app = router(&store);
        let acme = id_of(&app, "Acme").await;
        let q = r#"query($f: RevenueLedgerFilter) { revenueLedger(filter: $f, first: 10) {
                       totalCount nodes { date kind arrDelta { amount currency } arrAfter { amount } } } }"#;
        let all = data(&app, q, json!({})).await;
        assert_eq!(all["revenueLedger"]["totalCount"], 3);
        let of_acme = data(&app, q, json!({"f": {"accountId": acme}})).await;
        assert_eq!(of_acme["revenueLedger"]["totalCount"], 2);
        let new = data(&app, q, json!({"f": {"kinds": ["NEW"]}})).await;
        assert_eq!(new["revenueLedger"]["totalCount"], 2);
        let later = data(&app, q, json!({"f": {"from": "2020-06-01", "to": "2021-01-01"}})).await;
        let nodes = later["revenueLedger"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0]["kind"], "CONTRACTION");
        assert_eq!(nodes[0]["arrDelta"], json!({"amount": "-99.99", "currency": "USD"}));
        assert_eq!(nodes[0]["arrAfter"]["amount"], "1200.50");
        let none = data(&app, q, json!({"f": {"kinds": ["CHURN", "RENEWAL"]}})).await;
        assert_eq!(none["revenueLedger"]["totalCount"], 0);
        // Bad filters are validation errors, not empty results.
        for f in [
            json!({"accountId": "nope"}),
            json!({"from": "2021-01-02", "to": "2021-01-01"}),
        ] {
            let reply = query_reply(&app, q, json!({"f": f})).await;
            assert_eq!(reply.codes(), vec!["VALIDATION_FAILED"], "{f}: {}", reply.text());
        }
        let reply = query_reply(&app, q, json!({"f": {"kinds": ["UPSELL"]}})).await;
        assert!(!reply.codes().is_empty(), "{}", reply.text());
    })
    .await;
}

#[tokio::test]
async fn accounts_carry_their_ledger_and_subscriptions_their_deal_people() {
    with_fixtures(|store| async move {
        let app = router(&store);
        let acme = id_of(&app, "Acme").await;
        let d = data(
            &app,
            r#"query($id: ID!) { account(id: $id) {
                 revenueEvents { date kind }
                 history: revenueEvents(to: "2020-12-31") { kind }
                 ledgerArr { amount currency }
                 before: ledgerArr(asOf: "2019-12-31") { amount currency }
                 middle: ledgerArr(asOf: "2020-07-01") { amount }
                 subscriptions { plan motion arrBasis contacts { role primary person { name email } } }
               } }"#,
            json!({"id": acme}),
        )
        .await;
        let a = &d["account"];
        assert_eq!(a["revenueEvents"].as_array().unwrap().len(), 2);
        assert_eq!(a["history"], json!([{"kind": "NEW"}]));
        assert_eq!(
            a["ledgerArr"],
            json!({"amount": "1200.50", "currency": "USD"})
        );
        assert_eq!(a["before"], json!({"amount": "0.00", "currency": "USD"}));
        assert_eq!(a["middle"]["amount"], "1300.49");
        let subs = a["subscriptions"].as_array().unwrap();
        let with_people: Vec<&Value> = subs
            .iter()
            .filter(|s| !s["contacts"].as_array().unwrap().is_empty())
            .collect();
        assert_eq!(with_people.len(), 1);
        assert_eq!(with_people[0]["motion"], "RENEWAL");
        assert_eq!(with_people[0]["arrBasis"], "ARR_FIELD");
        assert!(subs.iter().any(|s| s["arrBasis"].is_null()));
        assert_eq!(
            with_people[0]["contacts"],
            json!([{"role": "Economic Buyer", "primary": true,
                    "person": {"name": "Ada", "email": "ada@acme.example"}}])
        );
        assert!(subs.iter().any(|s| s["motion"].is_null()));
        // An account without ledger lines has no ledger ARR.
        let co = id_of(&app, "Co 00").await;
        let d = data(
            &app,
            "query($id: ID!) { account(id: $id) { ledgerArr { amount } revenueEvents { kind } } }",
            json!({"id": co}),
        )
        .await;
        assert_eq!(
            d["account"],
            json!({"ledgerArr": null, "revenueEvents": []})
        );
    })
    .await;
}

#[tokio::test]
async fn the_arr_bridge_reconciles_the_stored_ledger() {
    with_fixtures(|store| async move {
        let app = router(&store);
        let q = r#"query($from: Date!, $to: Date!, $a: ID) { revenueBridge(from: $from, to: $to, accountId: $a) {
                     openingArr { amount currency } closingArr { amount }
                     movements { kind events arrDelta { amount } }
                     difference { amount } reconciled differences { accountId } } }"#;
        let d = data(&app, q, json!({"from": "2020-06-01", "to": "2021-06-01"})).await;
        let b = &d["revenueBridge"];
        assert_eq!(b["openingArr"], json!({"amount": "2390.50", "currency": "USD"}));
        assert_eq!(b["closingArr"]["amount"], "2290.51");
        assert_eq!(b["difference"]["amount"], "0.00");
        assert_eq!(b["reconciled"], true);
        assert_eq!(b["differences"], json!([]));
        let contraction = b["movements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == "CONTRACTION")
            .unwrap();
        assert_eq!(contraction["events"], 1);
        assert_eq!(contraction["arrDelta"]["amount"], "-99.99");
        // One account; and before any line, there is no bridge.
        let acme = id_of(&app, "Acme").await;
        let d = data(&app, q, json!({"from": "2019-01-01", "to": "2030-01-01", "a": acme})).await;
        assert_eq!(d["revenueBridge"]["openingArr"]["amount"], "0.00");
        assert_eq!(d["revenueBridge"]["closingArr"]["amount"], "1200.50");
        let d = data(&app, q, json!({"from": "2010-01-01", "to": "2011-01-01"})).await;
        assert_eq!(d["revenueBridge"], Value::Null);
        let reply = query_reply(&app, q, json!({"from": "2021-01-01", "to": "2020-01-01"})).await;
        assert_eq!(reply.codes(), vec!["VALIDATION_FAILED"], "{}", reply.text());
    })
    .await;
}

/// Top-level and nested fields come back in the order the query selects them (GraphQL spec
/// §7.1.1: ordered by the selection set), whichever domain module resolves them, on every
/// request.
#[tokio::test]
async fn response_fields_follow_the_query_order() {
    with_fixtures(|store| async move {
        let app = router(&store);
        let query = r#"{ syncRuns(first: 1) { totalCount } accounts(first: 2) { totalCount edges { node { name id } } }
                        quarantine(first: 1) { totalCount } revenueLedger(first: 1) { totalCount }
                        connectors { name } b: accounts(first: 1) { pageInfo { hasNextPage } totalCount } }"#;
        let expected = [
            "\"syncRuns\"", "\"accounts\"", "\"totalCount\"", "\"edges\"", "\"name\"", "\"id\"",
            "\"quarantine\"", "\"revenueLedger\"", "\"connectors\"", "\"b\"", "\"pageInfo\"",
        ];
        for _ in 0..20 {
            let reply = query_reply(&app, query, json!({})).await;
            let text = reply.text();
            let mut at = 0;
            for key in expected {
                let found = text[at..].find(key).unwrap_or_else(|| panic!("{key} out of order in {text}"));
                at += found + key.len();
            }
        }
        // Fragments are expanded where they are spread.
        let query = "query { ...Ops accounts(first: 1) { totalCount } } fragment Ops on Query { quarantine(first: 1) { totalCount } }";
        let text = query_reply(&app, query, json!({})).await.text();
        let (q, a) = (text.find("\"quarantine\""), text.find("\"accounts\""));
        assert!(q.is_some() && q < a, "{text}");

        // Nested fields too: a person's `externalRefs` waits for the batching loader (a level
        // below the page's look-ahead) while `name` is ready at once, and the executor
        // records sibling fields as they finish; the response still lists them as asked, in
        // every item of every list.
        let query = "{ accounts(first: 27) { nodes { subscriptions { contacts { primary person { externalRefs { externalId system } name ...P } } } } } }
                     fragment P on Person { id name }";
        let text = query_reply(&app, query, json!({})).await.text();
        let people = text.matches("\"person\":{").count();
        assert!(people > 0, "{text}");
        assert_eq!(
            text.matches("\"person\":{\"externalRefs\":").count(),
            people,
            "{text}"
        );
        assert!(text.contains("\"system\":\"hubspot\"}],\"name\":"), "{text}");
        assert!(!text.contains("\"system\":\"hubspot\"}],\"id\":"), "{text}");
    })
    .await;
}

/// `totalCount` is counted only when selected — directly, by alias or through a fragment —
/// and for offset pages also when `hasNextPage` is; the page itself is right either way.
#[tokio::test]
async fn total_count_is_counted_only_when_selected() {
    with_fixtures(|store| async move {
        let app = router(&store);
        let page = |d: &Value| d["accounts"]["edges"].as_array().map(Vec::len);
        let d = data(&app, "{ accounts(first: 2) { pageInfo { hasNextPage } edges { node { name } } } }", json!({})).await;
        assert_eq!(page(&d), Some(2));
        assert_eq!(d["accounts"]["pageInfo"]["hasNextPage"], true);
        let d = data(
            &app,
            "{ accounts(first: 2) { ...Counted } sr: syncRuns(first: 1) { n: totalCount } q: quarantine(first: 5) { pageInfo { hasNextPage } } }
             fragment Counted on AccountConnection { n: totalCount }",
            json!({}),
        )
        .await;
        assert_eq!(d["accounts"]["n"], json!(ACCOUNTS), "{d}");
        assert_eq!(d["sr"]["n"], 0, "{d}");
        assert_eq!(d["q"]["pageInfo"]["hasNextPage"], false, "{d}");
        let d = data(&app, "{ revenueLedger(first: 1) { pageInfo { hasNextPage } } }", json!({})).await;
        assert_eq!(d["revenueLedger"]["pageInfo"]["hasNextPage"], true, "{d}");
        // Without the selection the store is not asked to count.
        let unasked = store
            .list_accounts(&Default::default(), 2, None, false)
            .await
            .expect("a page");
        assert_eq!((unasked.items.len(), unasked.total), (2, None));
    })
    .await;
}
