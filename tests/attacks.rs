//! The attack suite (issue 13): what a hostile but fair client sends, over HTTP against the
//! gateway serving a demo sync. Each case gets its status and `extensions.code`, leaks no SQL,
//! panic or stack trace, and the server answers a normal query correctly right after. Runs on
//! SQLite, and again on PostgreSQL when `TRIBUTARY_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

mod common;

use anyhow::{Context, Result, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::Gateway;
use common::logs::Buffer;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tributary::demo::{self, DemoOptions};
use tributary_store::testing::TestDatabase;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// One answer: status, body as JSON (null when it is not JSON) and as text.
struct Reply {
    status: u16,
    body: Value,
    text: String,
}

impl Reply {
    fn codes(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the status and that every error carries `code`.
    fn expect(&self, case: &str, status: u16, code: &str) {
        assert_eq!(self.status, status, "{case}: {}", self.text);
        let codes = self.codes();
        assert!(
            !codes.is_empty() && codes.iter().all(|c| c == code),
            "{case}: expected {code}, got {codes:?}: {}",
            self.text
        );
    }
}

async fn read(resp: reqwest::Response) -> Result<Reply> {
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Reply { status, body, text })
}

/// POSTs a GraphQL request asking for `application/graphql-response+json`.
async fn post(gw: &Gateway, body: Value) -> Result<Reply> {
    read(
        gw.post()
            .header("accept", GRAPHQL_RESPONSE)
            .json(&body)
            .send()
            .await?,
    )
    .await
}

async fn query(gw: &Gateway, q: &str, variables: Value) -> Result<Reply> {
    post(gw, json!({"query": q, "variables": variables})).await
}

/// No panic, backtrace or SQL text in what a client sees.
fn assert_clean(case: &str, text: &str) {
    let lower = text.to_lowercase();
    for leak in [
        "panicked",
        "backtrace",
        ".rs:",
        "select ",
        "where ",
        "sqlite",
        "postgres",
        "syntax error",
        "sqlx",
        "tryfrominterror",
    ] {
        assert!(!lower.contains(leak), "{case}: `{leak}` in {text}");
    }
}

/// The server still answers a normal query, with the right count.
async fn still_serves(gw: &Gateway, case: &str, accounts: u64) -> Result<()> {
    let data = gw
        .query("{ accounts(first: 1) { totalCount } }", Value::Null)
        .await
        .with_context(|| format!("after {case}"))?;
    ensure!(
        data["accounts"]["totalCount"] == json!(accounts),
        "after {case}: {data}"
    );
    Ok(())
}

fn cursor(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn hostile_requests_get_their_error_and_the_server_keeps_serving() -> Result<()> {
    // Everything logged at TRACE while the attacks run (a current-thread runtime: the gateway's
    // tasks log on this thread): no API key may appear in it.
    let logs = Buffer::default();
    let _guard = logs.capture();
    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let opts = DemoOptions {
            seed: 13,
            accounts: 40,
            database: db.url.clone(),
            progress: false,
            ..DemoOptions::default()
        };
        let demo = demo::prepare(&opts).await?;
        let gw = Gateway::start(demo.store.clone()).await?;
        let accounts = gw
            .query("{ accounts(first: 1) { totalCount } }", Value::Null)
            .await?["accounts"]["totalCount"]
            .as_u64()
            .context("totalCount")?;
        assert!(accounts > 0, "{backend}");
        let mut cases = 0;
        macro_rules! case {
            ($name:expr, $reply:expr, $status:expr, $code:expr) => {{
                let name = format!("{backend}: {}", $name);
                let reply = $reply;
                reply.expect(&name, $status, $code);
                assert_clean(&name, &reply.text);
                still_serves(&gw, &name, accounts).await?;
                cases += 1;
                reply
            }};
        }

        // Fragment fan-out: refused at validation, at once, at 24 levels and at 30.
        for levels in [24, 30] {
            let started = Instant::now();
            case!(
                format!("fragment fan-out of {levels} levels"),
                query(&gw, &common::fragment_fan_out(levels), Value::Null).await?,
                400,
                "QUERY_TOO_COMPLEX"
            );
            assert!(started.elapsed() < Duration::from_secs(10), "{backend}");
        }
        // The same fan-out defined but never spread: validation would still walk it.
        case!(
            "unused fragment fan-out",
            query(
                &gw,
                &common::fragment_fan_out(30).replace("query { ...F30 }", "query { __typename }"),
                Value::Null
            )
            .await?,
            400,
            "QUERY_TOO_COMPLEX"
        );
        // A fragment spreading itself.
        case!(
            "fragment cycle",
            query(
                &gw,
                "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
                Value::Null
            )
            .await?,
            400,
            "VALIDATION_FAILED"
        );
        // Depth bombs: fields nested past the limit, and brackets nested past the parser's.
        let deep = format!(
            "{{ accounts {{ nodes {} {} }} }}",
            "{ x ".repeat(20),
            "}".repeat(20)
        );
        case!(
            "depth bomb",
            query(&gw, &deep, Value::Null).await?,
            400,
            "QUERY_TOO_DEEP"
        );
        case!(
            "bracket bomb",
            query(&gw, &"{a".repeat(200_000), Value::Null).await?,
            400,
            "QUERY_TOO_DEEP"
        );
        // Alias bombs: many cheap fields, and expensive ones.
        let aliases: String = (0..5000)
            .map(|i| format!(" a{i}: accounts(first: 500) {{ totalCount }}"))
            .collect();
        case!(
            "alias bomb",
            query(&gw, &format!("{{{aliases} }}"), Value::Null).await?,
            400,
            "QUERY_TOO_COMPLEX"
        );
        let bridges: String = (0..500)
            .map(|i| {
                format!(
                    " b{i}: revenueBridge(from: \"2024-01-01\", to: \"2025-12-31\") {{ closingArr {{ amount }} }}"
                )
            })
            .collect();
        case!(
            "500 aliases of the ARR bridge",
            query(&gw, &format!("{{{bridges} }}"), Value::Null).await?,
            400,
            "QUERY_TOO_COMPLEX"
        );
        // Out-of-range and malformed arguments.
        for (name, q) in [
            ("huge first", "{ accounts(first: 100000) { totalCount } }"),
            ("negative first", "{ syncRuns(first: -1) { totalCount } }"),
        ] {
            let reply = case!(
                name,
                query(&gw, q, Value::Null).await?,
                200,
                "VALIDATION_FAILED"
            );
            assert!(
                reply.text.contains("first"),
                "{backend}: {name}: {}",
                reply.text
            );
        }
        case!(
            "first beyond Int",
            query(
                &gw,
                "{ accounts(first: 99999999999) { totalCount } }",
                Value::Null
            )
            .await?,
            400,
            "VALIDATION_FAILED"
        );
        case!(
            "first beyond Int in a variable",
            query(
                &gw,
                "query($n: Int) { accounts(first: $n) { totalCount } }",
                json!({"n": 99_999_999_999_i64})
            )
            .await?,
            400,
            "VALIDATION_FAILED"
        );
        case!(
            "invalid variables",
            query(
                &gw,
                "query($n: Int) { accounts(first: $n) { totalCount } }",
                json!({"n": "twenty"})
            )
            .await?,
            400,
            "VALIDATION_FAILED"
        );
        case!(
            "missing variable",
            query(
                &gw,
                "query($n: Int!) { accounts(first: $n) { totalCount } }",
                json!({})
            )
            .await?,
            400,
            "VALIDATION_FAILED"
        );
        case!(
            "unknown field",
            query(&gw, "{ accounts { secretColumn } }", Value::Null).await?,
            400,
            "VALIDATION_FAILED"
        );
        case!(
            "unknown operation name",
            post(
                &gw,
                json!({"query": "query A { __typename } query B { __typename }", "operationName": "C"})
            )
            .await?,
            400,
            "VALIDATION_FAILED"
        );
        // The HTTP envelope.
        case!(
            "malformed JSON",
            read(
                gw.post()
                    .header("accept", GRAPHQL_RESPONSE)
                    .header("content-type", "application/json")
                    .body("{\"query\": \"{ __typename }\"")
                    .send()
                    .await?
            )
            .await?,
            400,
            "BAD_REQUEST"
        );
        case!(
            "a batch",
            post(&gw, json!([{"query": "{ __typename }"}])).await?,
            400,
            "BAD_REQUEST"
        );
        case!(
            "wrong content type",
            read(
                gw.post()
                    .header("accept", GRAPHQL_RESPONSE)
                    .header("content-type", "text/plain")
                    .body("{ __typename }")
                    .send()
                    .await?
            )
            .await?,
            415,
            "UNSUPPORTED_MEDIA_TYPE"
        );
        let oversized =
            json!({"query": format!("{{ __typename }} #{}", "x".repeat(2 * 1024 * 1024))});
        case!(
            "oversized body",
            post(&gw, oversized).await?,
            413,
            "PAYLOAD_TOO_LARGE"
        );
        case!(
            "oversized chunked body",
            read(
                gw.post()
                    .header("accept", GRAPHQL_RESPONSE)
                    .header("content-type", "application/json")
                    .body(reqwest::Body::wrap_stream(futures::stream::iter(
                        (0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024]))
                    )))
                    .send()
                    .await?
            )
            .await?,
            413,
            "PAYLOAD_TOO_LARGE"
        );

        // Forged cursors on every paged list.
        for (list, q) in [
            (
                "accounts",
                "query($c: String) { accounts(after: $c) { totalCount } }",
            ),
            (
                "revenueLedger",
                "query($c: String) { revenueLedger(after: $c) { totalCount } }",
            ),
            (
                "syncRuns",
                "query($c: String) { syncRuns(after: $c) { totalCount } }",
            ),
            (
                "quarantine",
                "query($c: String) { quarantine(after: $c) { totalCount } }",
            ),
        ] {
            let forged = [
                cursor(&format!("{list}:9223372036854775807")),
                cursor(&format!("{list}:18446744073709551615")),
                cursor(&format!("{list}:99999999999999999999999")),
                cursor(&format!("{list}:-1")),
                cursor("account:00000000-0000-0000-0000-000000000000:\u{0}"),
                cursor("otherList:3"),
                "' OR 1=1 --".to_owned(),
                "%".to_owned(),
                "x".repeat(10_000),
            ];
            for c in forged {
                let reply = case!(
                    format!("forged cursor on {list}"),
                    query(&gw, q, json!({"c": c})).await?,
                    200,
                    "BAD_CURSOR"
                );
                assert!(
                    reply.body.get("data").is_some(),
                    "{backend}: {}",
                    reply.text
                );
            }
        }

        // The farthest offset a cursor may hold is a valid, empty page (SQL binds it).
        for list in ["revenueLedger", "syncRuns", "quarantine"] {
            let q = format!(
                "query($c: String) {{ {list}(after: $c) {{ totalCount nodes {{ __typename }} }} }}"
            );
            let far = cursor(&format!("{list}:9223372036854775806"));
            let reply = query(&gw, &q, json!({"c": far})).await?;
            assert_eq!(reply.status, 200, "{backend}: {}", reply.text);
            assert!(
                reply.body.get("errors").is_none(),
                "{backend}: {}",
                reply.text
            );
            assert_eq!(reply.body["data"][list]["nodes"], json!([]), "{backend}");
        }

        // NUL bytes in every string argument: refused, naming it.
        for (arg, q, vars) in [
            (
                "filter",
                "query($v: String) { accounts(filter: {nameContains: $v}) { totalCount } }",
                "v",
            ),
            (
                "filter",
                "query($v: String) { accounts(filter: {industry: $v}) { totalCount } }",
                "v",
            ),
            (
                "filter",
                "query($v: String) { accounts(filter: {region: $v}) { totalCount } }",
                "v",
            ),
            (
                "filter",
                "query($v: String) { accounts(filter: {domain: $v}) { totalCount } }",
                "v",
            ),
            (
                "connector",
                "query($v: String) { syncRuns(connector: $v) { totalCount } }",
                "v",
            ),
            ("id", "query($v: ID!) { account(id: $v) { name } }", "v"),
            (
                "filter",
                "query($v: ID) { revenueLedger(filter: {accountId: $v}) { totalCount } }",
                "v",
            ),
        ] {
            let reply = case!(
                format!("NUL in a variable for `{arg}`"),
                query(&gw, q, json!({vars: "acme\u{0}"})).await?,
                400,
                "VALIDATION_FAILED"
            );
            assert!(reply.text.contains("$v"), "{backend}: {}", reply.text);
            // The same as a literal, named by its argument.
            let literal = q
                .replace("query($v: String) ", "")
                .replace("query($v: ID!) ", "")
                .replace("query($v: ID) ", "")
                .replace("$v", "\"acme\\u0000\"");
            let reply = case!(
                format!("NUL in a literal `{arg}`"),
                query(&gw, &literal, Value::Null).await?,
                400,
                "VALIDATION_FAILED"
            );
            assert!(
                reply.text.contains(&format!("argument `{arg}`")),
                "{backend}: {}",
                reply.text
            );
        }

        // Injection strings in every filter: no effect, nothing matched, nothing leaked.
        for s in [
            "' OR 1=1 --",
            "%",
            "_",
            "\\",
            "%' --",
            "\"; DROP TABLE accounts; --",
            "🦀\u{202e}ß",
        ] {
            for field in ["nameContains", "industry", "region", "domain"] {
                let q = format!(
                    "query($v: String) {{ accounts(filter: {{{field}: $v}}) {{ totalCount }} }}"
                );
                let reply = query(&gw, &q, json!({"v": s})).await?;
                let name = format!("{backend}: {field} = {s:?}");
                assert_eq!(reply.status, 200, "{name}: {}", reply.text);
                assert_eq!(
                    reply.body["data"]["accounts"]["totalCount"],
                    json!(0),
                    "{name}: {}",
                    reply.text
                );
                assert_clean(&name, &reply.text);
            }
            let reply = query(
                &gw,
                "query($v: String) { syncRuns(connector: $v) { totalCount } }",
                json!({"v": s}),
            )
            .await?;
            assert_eq!(
                reply.body["data"]["syncRuns"]["totalCount"],
                json!(0),
                "{backend}: {}",
                reply.text
            );
            for q in [
                "query($v: ID!) { account(id: $v) { name } }",
                "query($v: ID) { revenueLedger(filter: {accountId: $v}) { totalCount } }",
            ] {
                let reply = query(&gw, q, json!({"v": s})).await?;
                assert!(
                    reply.codes().iter().all(|c| c == "VALIDATION_FAILED"),
                    "{backend}: {}",
                    reply.text
                );
                assert_clean(&format!("{backend}: id {s:?}"), &reply.text);
            }
            still_serves(&gw, &format!("injection {s:?}"), accounts).await?;
        }

        // An allowed, expensive query (many ARR bridges) does not hold up a plain one.
        let allowed: String = (0..8)
            .map(|i| {
                format!(
                    " b{i}: revenueBridge(from: \"2020-01-01\", to: \"2030-12-31\") {{ closingArr {{ amount }} movements {{ kind arrDelta {{ amount }} }} }}"
                )
            })
            .collect();
        let expensive = format!("{{{allowed} }}");
        let load: Vec<_> = (0..4)
            .map(|_| {
                let q = expensive.clone();
                let req = gw
                    .post()
                    .header("accept", GRAPHQL_RESPONSE)
                    .json(&json!({"query": q}));
                tokio::spawn(async move { read(req.send().await?).await })
            })
            .collect();
        let started = Instant::now();
        still_serves(&gw, "expensive queries in flight", accounts).await?;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{backend}: a plain query took {:?} beside expensive ones",
            started.elapsed()
        );
        for task in load {
            let reply = task.await??;
            assert_eq!(reply.status, 200, "{backend}: {}", reply.text);
            assert!(
                reply.body.get("errors").is_none(),
                "{backend}: {}",
                reply.text
            );
        }
        assert!(cases > 40, "{backend}: {cases} cases");

        let text = logs.text();
        ensure!(
            text.contains("gateway listening"),
            "{backend}: the logs were not captured"
        );
        // The display prefix (`trb_` and 8 characters) may be shown; the rest never.
        ensure!(
            !text.contains(&gw.admin_key[12..]),
            "{backend}: the admin key is in the logs"
        );

        gw.stop().await?;
        demo.shutdown_mocks().await?;
        db.cleanup().await?;
    }
    Ok(())
}
