//! Operability and protocol options: `/metrics`, `/readyz`, request ids, persisted queries and
//! the allow-list, and the introspection, GraphiQL and CORS switches.

use super::*;
use crate::{Manifest, PersistedQueries, PersistedQueryMode, sha256_hex};
use std::collections::BTreeMap;
use std::sync::Arc;
use tributary_store::{RunChecks, RunFinish, RunStatus};

/// One sample of a metrics exposition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses the OpenMetrics text format strictly enough to catch a malformed exposition:
/// every line is `# HELP|TYPE|UNIT <family> …`, a sample `name{label="value",…} value` of a
/// family whose `TYPE` came before, or the final `# EOF`.
pub(crate) fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"# EOF"),
        "the exposition ends with # EOF"
    );
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, family) = (parts.next().unwrap(), parts.next().unwrap_or_default());
            assert!(is_metric_name(family), "bad family name in {line:?}");
            match kind {
                "TYPE" => {
                    let ty = parts.next().unwrap_or_default();
                    assert!(
                        ["counter", "gauge", "histogram", "info", "unknown"].contains(&ty),
                        "{line:?}"
                    );
                    assert!(
                        families.insert(family.to_owned(), ty.to_owned()).is_none(),
                        "family {family} declared twice"
                    );
                }
                "HELP" | "UNIT" => {}
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels close");
                let mut labels = BTreeMap::new();
                let mut rest = body;
                while !rest.is_empty() {
                    let (key, after) = rest.split_once("=\"").expect("label=\"value\"");
                    assert!(is_metric_name(key) && !key.contains(':'), "{line:?}");
                    let mut value = String::new();
                    let mut chars = after.char_indices();
                    let end = loop {
                        match chars.next().expect("label value closes") {
                            (_, '\\') => match chars.next().expect("escape").1 {
                                'n' => value.push('\n'),
                                c @ ('\\' | '"') => value.push(c),
                                c => panic!("bad escape \\{c} in {line:?}"),
                            },
                            (i, '"') => break i,
                            (_, c) => value.push(c),
                        }
                    };
                    labels.insert(key.to_owned(), value);
                    rest = &after[end + 1..];
                    rest = rest.strip_prefix(',').unwrap_or(rest);
                }
                (name, labels)
            }
        };
        assert!(is_metric_name(name), "{line:?}");
        let family = ["_total", "_bucket", "_sum", "_count", "_info", "_created"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|f| families.contains_key(*f))
            })
            .unwrap_or(name);
        assert!(
            families.contains_key(family),
            "sample {name} has no TYPE before it"
        );
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

/// The value of the one sample `name` with exactly `labels`; `None` when absent.
pub(crate) fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let found: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name && s.labels == want)
        .map(|s| s.value)
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} appears twice");
    found.first().copied()
}

/// Two runs of `hs/companies` (the latest succeeded, read 4 of the 5 the vendor counted, set
/// one record aside) and a failed run of `hs/contacts`.
async fn sync_history(store: &Store) {
    let run = store
        .start_run("hs", "companies", "full_refresh", None)
        .await
        .unwrap();
    let records: Vec<SourceRecord> = (0..3)
        .map(|i| company(&format!("m{i}"), &format!("Metric {i}"), Segment::Smb))
        .collect();
    store
        .commit_batch(CommitBatch {
            connector: "hs".into(),
            stream: "companies".into(),
            run_id: Some(run),
            records_read: 4,
            records,
            rejects: vec![QuarantineItem {
                external_id: Some("bad".into()),
                reason: "no name".into(),
                payload: "{}".into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .finish_run(
            run,
            RunFinish {
                status: RunStatus::Succeeded,
                cursor_after: None,
                error: None,
                checks: RunChecks {
                    source_count: Some(5),
                    source_read: Some(4),
                    ..Default::default()
                },
            },
        )
        .await
        .unwrap();
    let failed = store
        .start_run("hs", "contacts", "incremental", None)
        .await
        .unwrap();
    store
        .finish_run(
            failed,
            RunFinish {
                status: RunStatus::Failed,
                cursor_after: None,
                error: Some("vendor said no".into()),
                checks: RunChecks::default(),
            },
        )
        .await
        .unwrap();
}

async fn scrape(app: &Router) -> Vec<Sample> {
    let reply = get(app, "/metrics", "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(
        reply
            .content_type()
            .starts_with("application/openmetrics-text"),
        "{}",
        reply.content_type()
    );
    parse_exposition(&reply.text())
}

#[tokio::test]
async fn metrics_count_requests_and_report_the_sync_state() {
    for_each_backend(|store| async move {
        sync_history(&store).await;
        let app = router(&store);
        data(&app, "query Accounts { accounts { totalCount } }", json!({})).await;
        data(&app, "query Accounts { accounts { totalCount } }", json!({})).await;
        data(&app, "{ __typename }", json!({})).await;
        let reply = query_reply(&app, "query Broken { nope }", json!({})).await;
        assert_eq!(reply.codes(), ["VALIDATION_FAILED"]);
        let reply = query_reply(&app, "query Partial { account(id: \"nope\") { name } }", json!({})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let partial_codes = reply.codes();
        assert_eq!(partial_codes.len(), 1, "{}", reply.text());
        let reply = post(&app, GQL, "{not json").await;
        assert_eq!(reply.codes(), ["BAD_REQUEST"]);
        assert_eq!(get(&app, "/nowhere", "").await.status, StatusCode::NOT_FOUND);

        let m = scrape(&app).await;
        let requests = "tributary_graphql_requests_total";
        let op = |name, outcome| [("operation", name), ("outcome", outcome)];
        assert_eq!(value(&m, requests, &op("Accounts", "ok")), Some(2.0));
        assert_eq!(value(&m, requests, &op("anonymous", "ok")), Some(1.0));
        assert_eq!(value(&m, requests, &op("Broken", "rejected")), Some(1.0));
        assert_eq!(value(&m, requests, &op("anonymous", "rejected")), Some(1.0));
        let count = "tributary_graphql_request_duration_seconds_count";
        assert_eq!(value(&m, count, &[("operation", "Accounts")]), Some(2.0));
        let inf = [("operation", "Accounts"), ("le", "+Inf")];
        assert_eq!(
            value(&m, "tributary_graphql_request_duration_seconds_bucket", &inf),
            Some(2.0)
        );
        let errors = "tributary_graphql_errors_total";
        // `Broken`'s VALIDATION_FAILED, plus `Partial`'s error when it has the same code.
        let partial_code = partial_codes[0].as_str();
        let validation = if partial_code == "VALIDATION_FAILED" { 2.0 } else { 1.0 };
        assert_eq!(
            value(&m, errors, &[("code", "VALIDATION_FAILED")]),
            Some(validation)
        );
        assert_eq!(value(&m, errors, &[("code", "BAD_REQUEST")]), Some(1.0));
        assert_eq!(value(&m, requests, &op("Partial", "error")), Some(1.0));
        if partial_code != "VALIDATION_FAILED" {
            assert_eq!(value(&m, errors, &[("code", partial_code)]), Some(1.0));
        }
        let responses = "tributary_http_responses_total";
        // The 404 is counted as a response but not as a GraphQL request.
        assert_eq!(value(&m, responses, &[("status", "404")]), Some(1.0));
        assert_eq!(value(&m, responses, &[("status", "400")]), Some(2.0));
        assert_eq!(value(&m, responses, &[("status", "200")]), Some(4.0));
        assert!(!m.iter().any(|s| s.name == requests && s.labels["operation"] == "nowhere"));

        // The sync series agree with `syncRuns`.
        let runs = data(
            &app,
            "{ syncRuns { nodes { connector stream recordsRead recordsWritten recordsQuarantined recordsDeleted } } }",
            json!({}),
        )
        .await;
        let runs = runs["syncRuns"]["nodes"].as_array().unwrap().clone();
        assert_eq!(runs.len(), 2);
        for run in &runs {
            let (c, s) = (run["connector"].as_str().unwrap(), run["stream"].as_str().unwrap());
            for (kind, field) in [
                ("read", "recordsRead"),
                ("written", "recordsWritten"),
                ("quarantined", "recordsQuarantined"),
                ("deleted", "recordsDeleted"),
            ] {
                let labels = [("connector", c), ("stream", s), ("kind", kind)];
                assert_eq!(
                    value(&m, "tributary_sync_records", &labels),
                    Some(run[field].as_i64().unwrap() as f64),
                    "{c}/{s} {kind}"
                );
            }
        }
        let companies = [("connector", "hs"), ("stream", "companies")];
        let contacts = [("connector", "hs"), ("stream", "contacts")];
        assert_eq!(value(&m, "tributary_sync_records", &[companies[0], companies[1], ("kind", "read")]), Some(4.0));
        assert_eq!(value(&m, "tributary_sync_records", &[companies[0], companies[1], ("kind", "written")]), Some(3.0));
        let status = |s: [(&'static str, &'static str); 2], st| {
            value(&m, "tributary_sync_last_run_status", &[s[0], s[1], ("status", st)])
        };
        assert_eq!(status(companies, "succeeded"), Some(1.0));
        assert_eq!(status(contacts, "failed"), Some(1.0));
        assert_eq!(status(contacts, "succeeded"), None);
        let lag = value(&m, "tributary_sync_lag_seconds", &companies).unwrap();
        assert!((0.0..3600.0).contains(&lag), "{lag}");
        assert_eq!(value(&m, "tributary_sync_lag_seconds", &contacts), None);
        for s in [companies, contacts] {
            let lag = value(&m, "tributary_sync_attempt_lag_seconds", &s).unwrap();
            assert!((0.0..3600.0).contains(&lag), "{lag}");
        }
        assert_eq!(value(&m, "tributary_sync_source_records", &companies), Some(5.0));
        assert_eq!(value(&m, "tributary_sync_source_records_read", &companies), Some(4.0));
        assert_eq!(value(&m, "tributary_sync_completeness_ratio", &companies), Some(0.8));
        assert_eq!(value(&m, "tributary_sync_completeness_ratio", &contacts), None);
        assert_eq!(value(&m, "tributary_quarantine_open", &companies), Some(1.0));
        assert_eq!(value(&m, "tributary_quarantine_open", &contacts), Some(0.0));
        assert_eq!(value(&m, "tributary_store_up", &[]), Some(1.0));
        let version = [("version", env!("CARGO_PKG_VERSION"))];
        assert_eq!(value(&m, "tributary_build_info", &version), Some(1.0));
        assert!(value(&m, "tributary_uptime_seconds", &[]).unwrap() >= 0.0);

        // Another replica over the same database reports the same sync state and none of
        // this one's traffic.
        let other = scrape(&router(&store)).await;
        assert_eq!(value(&other, "tributary_quarantine_open", &companies), Some(1.0));
        assert_eq!(value(&other, requests, &op("Accounts", "ok")), None);

        // A database that stopped answering: the scrape still answers, saying so.
        store.clone().close().await.unwrap();
        let m = scrape(&app).await;
        assert_eq!(value(&m, "tributary_store_up", &[]), Some(0.0));
        assert_eq!(value(&m, "tributary_quarantine_open", &companies), None);
    })
    .await;
}

#[tokio::test]
async fn readiness_names_what_is_not_ready() {
    for_each_backend(|store| async move {
        let reply = get(&router(&store), "/readyz", "").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json()["status"], "ready");
        store.clone().close().await.unwrap();
        let reply = get(&router(&store), "/readyz", "").await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            reply.json(),
            json!({"status": "not_ready", "database": "unreachable"})
        );
    })
    .await;
    // A database this build has not migrated.
    let bare = Store::connect("sqlite::memory:").await.unwrap();
    let reply = get(&router(&bare), "/readyz", "").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = reply.json();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["database"], "ok");
    let pending = body["pending_migrations"].as_array().unwrap();
    assert!(
        !pending.is_empty() && pending[0].as_str().unwrap().starts_with('m'),
        "{body}"
    );
    // Liveness touches nothing.
    bare.clone().close().await.unwrap();
    assert_eq!(
        get(&router(&bare), "/healthz", "").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    for_each_backend(|store| async move {
        let app = router(&store);
        let id_of = |r: &Reply| {
            r.headers
                .get("x-request-id")
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let a = id_of(&query_reply(&app, "{ __typename }", json!({})).await).unwrap();
        let b = id_of(&get(&app, "/nowhere", "").await).unwrap();
        assert_ne!(a, b);
        assert!(uuid::Uuid::parse_str(&a).is_ok(), "{a}");
        let with = |id: &'static str| {
            Request::get("/healthz")
                .header("x-request-id", id)
                .body(Body::empty())
                .unwrap()
        };
        let kept = send(&app, with("lb-1234:abc")).await;
        assert_eq!(id_of(&kept).as_deref(), Some("lb-1234:abc"));
        let replaced = send(&app, with("<script>alert(1)</script>")).await;
        let id = id_of(&replaced).unwrap();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    })
    .await;
}

fn pq(hash: &str) -> Value {
    json!({"persistedQuery": {"version": 1, "sha256Hash": hash}})
}

/// `s` percent-encoded for a query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn automatic_persisted_queries_follow_apollos_protocol() {
    for_each_backend(|store| async move {
        load_fixtures(&store).await;
        let app = router(&store);
        let query = "query Count { accounts { totalCount } }";
        let hash = sha256_hex(query);
        let want = json!({"accounts": {"totalCount": ACCOUNTS}});

        // The hash alone is unknown: the client is told to send the text.
        for accept in [GQL, "application/json"] {
            let reply = post(&app, accept, json!({"extensions": pq(&hash)}).to_string()).await;
            assert_eq!(
                reply.codes(),
                ["PERSISTED_QUERY_NOT_FOUND"],
                "{}",
                reply.text()
            );
            assert!(reply.json().get("data").is_none());
            let status = if accept == GQL {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            assert_eq!(reply.status, status);
        }
        // A text that is not the hash's is refused and not cached.
        let reply = post(
            &app,
            GQL,
            json!({"query": "{ __typename }", "extensions": pq(&hash)}).to_string(),
        )
        .await;
        assert_eq!(reply.codes(), ["PERSISTED_QUERY_HASH_MISMATCH"]);
        // Hash and text: runs, and registers.
        let reply = post(
            &app,
            GQL,
            json!({"query": query, "extensions": pq(&hash)}).to_string(),
        )
        .await;
        assert_eq!(reply.json()["data"], want, "{}", reply.text());
        // Now the hash alone runs, over POST and GET (upper-case hex too).
        let reply = post(
            &app,
            GQL,
            json!({"extensions": pq(&hash.to_uppercase())}).to_string(),
        )
        .await;
        assert_eq!(reply.json()["data"], want, "{}", reply.text());
        let uri = format!("/graphql?extensions={}", encode(&pq(&hash).to_string()));
        let reply = get(&app, &uri, GQL).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["data"], want);
        // Other replicas have their own cache.
        let reply = post(
            &router(&store),
            GQL,
            json!({"extensions": pq(&hash)}).to_string(),
        )
        .await;
        assert_eq!(reply.codes(), ["PERSISTED_QUERY_NOT_FOUND"]);
        // Malformed extensions are request errors.
        for bad in [
            json!({"persistedQuery": {"version": 2, "sha256Hash": hash}}),
            json!({"persistedQuery": {"version": 1, "sha256Hash": "abc"}}),
            json!({"persistedQuery": "x"}),
        ] {
            let reply = post(&app, GQL, json!({"extensions": bad}).to_string()).await;
            assert_eq!(reply.codes(), ["BAD_REQUEST"], "{bad}");
        }
        // A mutation persisted over POST still cannot run over GET.
        let mutation = "mutation M { triggerSync(connector: \"none\") { connector } }";
        let mhash = sha256_hex(mutation);
        post(
            &app,
            GQL,
            json!({"query": mutation, "extensions": pq(&mhash)}).to_string(),
        )
        .await;
        let uri = format!("/graphql?extensions={}", encode(&pq(&mhash).to_string()));
        assert_eq!(
            get(&app, &uri, GQL).await.status,
            StatusCode::METHOD_NOT_ALLOWED
        );

        // Off: a persisted query is refused, a plain one runs.
        let off = router_with(
            &store,
            GatewayConfig {
                persisted_queries: PersistedQueries {
                    mode: PersistedQueryMode::Off,
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        let reply = post(
            &off,
            GQL,
            json!({"query": query, "extensions": pq(&hash)}).to_string(),
        )
        .await;
        assert_eq!(reply.codes(), ["PERSISTED_QUERY_NOT_SUPPORTED"]);
        assert_eq!(data(&off, query, json!({})).await, want);
    })
    .await;
}

#[tokio::test]
async fn the_allow_list_runs_only_listed_operations() {
    let listed = "query Count { accounts { totalCount } }";
    let manifest = json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": "count-v1", "name": "Count", "type": "query", "body": listed},
        ],
    });
    let manifest = Arc::new(Manifest::parse(&manifest.to_string()).unwrap());
    for_each_backend(|store| {
        let manifest = manifest.clone();
        async move {
            load_fixtures(&store).await;
            let app = router_with(
                &store,
                GatewayConfig {
                    persisted_queries: PersistedQueries {
                        mode: PersistedQueryMode::AllowList,
                        manifest,
                        ..Default::default()
                    },
                    ..Default::default()
                },
            );
            let want = json!({"accounts": {"totalCount": ACCOUNTS}});
            // By hash (POST and GET), and by its exact text.
            let ext = pq(&sha256_hex(listed));
            let reply = post(&app, GQL, json!({"extensions": ext}).to_string()).await;
            assert_eq!(reply.json()["data"], want, "{}", reply.text());
            let uri = format!("/graphql?extensions={}", encode(&ext.to_string()));
            let reply = get(&app, &uri, GQL).await;
            assert_eq!(reply.json()["data"], want, "{}", reply.text());
            assert_eq!(data(&app, listed, json!({})).await, want);
            // Anything else is refused before parsing: a valid query, an unparsable one,
            // an unknown hash, even one sent with its matching text.
            let other = "{ accounts { totalCount } }";
            for body in [
                json!({"query": other}),
                json!({"query": "{ this does not parse"}),
                json!({"extensions": pq(&sha256_hex(other))}),
                json!({"query": other, "extensions": pq(&sha256_hex(other))}),
            ] {
                let reply = post(&app, GQL, body.to_string()).await;
                assert_eq!(reply.status, StatusCode::BAD_REQUEST);
                assert_eq!(reply.codes(), ["PERSISTED_QUERY_NOT_ALLOWED"], "{body}");
            }
        }
    })
    .await;
}

const SCHEMA_QUERY: &str = "{ __schema { queryType { name } } }";

#[tokio::test]
async fn switches_turn_off_introspection_graphiql_and_cors_is_opt_in() {
    for_each_backend(|store| async move {
        let closed = router_with(
            &store,
            GatewayConfig {
                introspection: false,
                graphiql: false,
                ..Default::default()
            },
        );
        for q in [
            SCHEMA_QUERY,
            "{ __type(name: \"Query\") { name } }",
            "query Q { ...F } fragment F on Query { __schema { types { name } } }",
        ] {
            let reply = query_reply(&closed, q, json!({})).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST);
            assert_eq!(reply.codes(), ["INTROSPECTION_DISABLED"], "{q}");
        }
        assert_eq!(
            data(&closed, "{ __typename }", json!({})).await["__typename"],
            "Query"
        );
        assert_eq!(
            get(&closed, "/", "text/html").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&closed, "/graphql", "text/html").await.status,
            StatusCode::NOT_ACCEPTABLE
        );
        // The defaults: both on.
        let open = router(&store);
        let reply = query_reply(&open, SCHEMA_QUERY, json!({})).await;
        assert_eq!(
            reply.json()["data"]["__schema"]["queryType"]["name"],
            "Query"
        );
        assert_eq!(get(&open, "/", "text/html").await.status, StatusCode::OK);

        // CORS: no headers by default.
        let from = |origin: &'static str, method: Method| {
            let mut r = Request::builder()
                .method(method.clone())
                .uri("/graphql?query=%7B__typename%7D")
                .header(header::ORIGIN, origin);
            if method == Method::OPTIONS {
                r = r
                    .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
                    .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type");
            }
            r.body(Body::empty()).unwrap()
        };
        let acao = |r: &Reply| {
            r.headers
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let reply = send(&open, from("https://bi.example", Method::GET)).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(acao(&reply), None);
        let listed = router_with(
            &store,
            GatewayConfig {
                cors_allowed_origins: vec!["https://bi.example".into()],
                ..Default::default()
            },
        );
        let reply = send(&listed, from("https://bi.example", Method::GET)).await;
        assert_eq!(acao(&reply).as_deref(), Some("https://bi.example"));
        let preflight = send(&listed, from("https://bi.example", Method::OPTIONS)).await;
        assert_eq!(preflight.status, StatusCode::OK);
        assert_eq!(acao(&preflight).as_deref(), Some("https://bi.example"));
        let allowed = preflight.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(allowed.contains("content-type"), "{allowed}");
        let reply = send(&listed, from("https://evil.example", Method::GET)).await;
        assert_eq!(acao(&reply), None);
        let any = router_with(
            &store,
            GatewayConfig {
                cors_allowed_origins: vec!["*".into()],
                ..Default::default()
            },
        );
        let reply = send(&any, from("https://evil.example", Method::GET)).await;
        assert_eq!(acao(&reply).as_deref(), Some("*"));
    })
    .await;
}
