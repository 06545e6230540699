//! GraphQL over HTTP: media types, status codes, error shapes and codes, limits, the other
//! routes. The table test follows the graphql-http audit suite.

use super::*;
use std::time::Duration;

const JSON_CT: &str = "application/json; charset=utf-8";
const GQL_CT: &str = "application/graphql-response+json; charset=utf-8";

/// One request and what must come back.
struct Case {
    name: &'static str,
    method: Method,
    /// Path and query string.
    uri: &'static str,
    content_type: Option<&'static str>,
    accept: Option<&'static str>,
    body: &'static str,
    status: StatusCode,
    /// Expected `Content-Type` of the response.
    response_type: &'static str,
    /// `Some(true)`: `data` must be present; `Some(false)`: absent; `None`: either.
    has_data: Option<bool>,
    /// Expected `extensions.code` of the first error, if any.
    code: Option<&'static str>,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            name: "",
            method: Method::POST,
            uri: "/graphql",
            content_type: Some("application/json"),
            accept: None,
            body: r#"{"query": "{ __typename }"}"#,
            status: StatusCode::OK,
            response_type: JSON_CT,
            has_data: Some(true),
            code: None,
        }
    }
}

async fn check(app: &Router, case: &Case) {
    let mut req = Request::builder().method(case.method.clone()).uri(case.uri);
    if let Some(ct) = case.content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    if let Some(accept) = case.accept {
        req = req.header(header::ACCEPT, accept);
    }
    let body = if case.method == Method::GET {
        Body::empty()
    } else {
        Body::from(case.body)
    };
    let reply = send(app, req.body(body).unwrap()).await;
    let name = case.name;
    assert_eq!(reply.status, case.status, "{name}: {}", reply.text());
    assert_eq!(reply.content_type(), case.response_type, "{name}");
    let json = reply.json();
    if let Some(has_data) = case.has_data {
        assert_eq!(json.get("data").is_some(), has_data, "{name}: {json}");
    }
    match case.code {
        Some(code) => assert_eq!(
            reply.codes().first().map(String::as_str),
            Some(code),
            "{name}: {json}"
        ),
        None => assert!(json.get("errors").is_none(), "{name}: {json}"),
    }
    // Every error is spec-shaped: a message and a code.
    for e in json["errors"].as_array().into_iter().flatten() {
        assert!(e["message"].is_string(), "{name}: {e}");
        assert!(e["extensions"]["code"].is_string(), "{name}: {e}");
    }
}

#[tokio::test]
async fn graphql_over_http_conformance() {
    for_each_backend(|store| async move {
        let app = router(&store);
        let gql = Some(GQL);
        let cases = [
            Case {
                name: "accepts application/graphql-response+json and says so",
                accept: gql,
                response_type: GQL_CT,
                ..Default::default()
            },
            Case {
                name: "accepts application/json and says so",
                accept: Some("application/json"),
                ..Default::default()
            },
            Case {
                name: "*/* gets application/json",
                accept: Some("*/*"),
                ..Default::default()
            },
            Case {
                name: "no Accept gets application/json",
                ..Default::default()
            },
            Case {
                name: "quality values decide",
                accept: Some("application/json;q=0.5, application/graphql-response+json"),
                response_type: GQL_CT,
                ..Default::default()
            },
            Case {
                name: "nothing acceptable is 406",
                accept: Some("text/csv"),
                status: StatusCode::NOT_ACCEPTABLE,
                has_data: Some(false),
                code: Some("NOT_ACCEPTABLE"),
                ..Default::default()
            },
            Case {
                name: "UTF-8 request with charset",
                content_type: Some("application/json; charset=utf-8"),
                body: r#"{"query": "{ __type(name: \"Run🏃Swim🏊\") { name } }"}"#,
                ..Default::default()
            },
            Case {
                name: "POST without Content-Type is 415",
                content_type: None,
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                has_data: Some(false),
                code: Some("UNSUPPORTED_MEDIA_TYPE"),
                ..Default::default()
            },
            Case {
                name: "POST as text/plain is 415",
                content_type: Some("text/plain"),
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                has_data: Some(false),
                code: Some("UNSUPPORTED_MEDIA_TYPE"),
                ..Default::default()
            },
            Case {
                name: "POST without a body is 400",
                body: "",
                status: StatusCode::BAD_REQUEST,
                has_data: Some(false),
                code: Some("BAD_REQUEST"),
                ..Default::default()
            },
            Case {
                name: "body that is not JSON is 400",
                body: r#"{ "not a JSON"#,
                accept: gql,
                response_type: GQL_CT,
                status: StatusCode::BAD_REQUEST,
                has_data: Some(false),
                code: Some("BAD_REQUEST"),
                ..Default::default()
            },
            Case {
                name: "missing query is 400",
                body: r#"{"qeury": "{ __typename }"}"#,
                accept: gql,
                response_type: GQL_CT,
                status: StatusCode::BAD_REQUEST,
                has_data: Some(false),
                code: Some("BAD_REQUEST"),
                ..Default::default()
            },
            Case {
                name: "query that is not a string is 400",
                body: r#"{"query": ["array"]}"#,
                status: StatusCode::BAD_REQUEST,
                has_data: Some(false),
                code: Some("BAD_REQUEST"),
                ..Default::default()
            },
            Case {
                name: "variables that are not a map is 400",
                body: r#"{"query": "{ __typename }", "variables": "string"}"#,
                status: StatusCode::BAD_REQUEST,
                has_data: Some(false),
                code: Some("BAD_REQUEST"),
                ..Default::default()
            },
            Case {
                name: "null operationName, variables and extensions are fine",
                accept: gql,
                response_type: GQL_CT,
                body: r#"{"query": "{ __typename }", "operationName": null, "variables": null, "extensions": null}"#,
                ..Default::default()
            },
            Case {
                name: "operationName and map variables and extensions",
                accept: gql,
                response_type: GQL_CT,
                body: r#"{"query": "query A { __typename } query Type($name: String!) { __type(name: $name) { name } }",
                          "operationName": "Type", "variables": {"name": "Account"}, "extensions": {"some": "value"}}"#,
                ..Default::default()
            },
            Case {
                name: "document parse failure: 400 and no data under graphql-response+json",
                accept: gql,
                response_type: GQL_CT,
                body: r#"{"query": "{"}"#,
                status: StatusCode::BAD_REQUEST,
                has_data: Some(false),
                code: Some("GRAPHQL_PARSE_FAILED"),
                ..Default::default()
            },
            Case {
                name: "document parse failure: 200 under application/json",
                accept: Some("application/json"),
                body: r#"{"query": "{"}"#,
                has_data: Some(false),
                code: Some("GRAPHQL_PARSE_FAILED"),
                ..Default::default()
            },
            Case {
                name: "document validation failure: 400 and no data",
                accept: gql,
                response_type: GQL_CT,
                body: r#"{"query": "{ f8f31403dfe404bccbb0e835f2629c6a7 }"}"#,
                status: StatusCode::BAD_REQUEST,
                has_data: Some(false),
                code: Some("VALIDATION_FAILED"),
                ..Default::default()
            },
            Case {
                name: "document validation failure: 200 under application/json",
                accept: Some("application/json"),
                body: r#"{"query": "{ f8f31403dfe404bccbb0e835f2629c6a7 }"}"#,
                has_data: Some(false),
                code: Some("VALIDATION_FAILED"),
                ..Default::default()
            },
            Case {
                name: "variable coercion failure is a request error",
                accept: gql,
                response_type: GQL_CT,
                body: r#"{"query": "query CoerceFailure($id: ID!) { __typename }", "variables": {"id": null}}"#,
                status: StatusCode::BAD_REQUEST,
                has_data: Some(false),
                code: Some("VALIDATION_FAILED"),
                ..Default::default()
            },
            Case {
                name: "an operation that cannot be chosen is a request error",
                accept: gql,
                response_type: GQL_CT,
                body: r#"{"query": "query A { __typename } query B { __typename }"}"#,
                status: StatusCode::BAD_REQUEST,
                has_data: Some(false),
                code: Some("VALIDATION_FAILED"),
                ..Default::default()
            },
            Case {
                name: "GET with a query string",
                method: Method::GET,
                uri: "/graphql?query=%7B%20__typename%20%7D",
                content_type: None,
                ..Default::default()
            },
            Case {
                name: "GET with JSON variables",
                method: Method::GET,
                uri: "/graphql?query=query%20T(%24name%3A%20String!)%20%7B%20__type(name%3A%20%24name)%20%7B%20name%20%7D%20%7D&variables=%7B%22name%22%3A%22Account%22%7D",
                content_type: None,
                accept: gql,
                response_type: GQL_CT,
                ..Default::default()
            },
            Case {
                name: "GET without query is 400",
                method: Method::GET,
                uri: "/graphql?qeury=%7B__typename%7D",
                content_type: None,
                accept: gql,
                response_type: GQL_CT,
                status: StatusCode::BAD_REQUEST,
                has_data: Some(false),
                code: Some("BAD_REQUEST"),
                ..Default::default()
            },
            Case {
                name: "mutation over GET is 405",
                method: Method::GET,
                uri: "/graphql?query=mutation%20%7B%20__typename%20%7D",
                content_type: None,
                accept: gql,
                response_type: GQL_CT,
                status: StatusCode::METHOD_NOT_ALLOWED,
                has_data: Some(false),
                code: Some("METHOD_NOT_ALLOWED"),
                ..Default::default()
            },
        ];
        for case in &cases {
            check(&app, case).await;
        }
    })
    .await;
}

#[tokio::test]
async fn get_serves_data_and_graphiql() {
    with_fixtures(|store| async move {
        let app = router(&store);
        let reply = get(
            &app,
            "/graphql?query=%7B%20accounts(first%3A%202)%20%7B%20totalCount%20nodes%20%7B%20name%20%7D%20%7D%20%7D",
            GQL,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(
            reply.json(),
            json!({"data": {"accounts": {"totalCount": ACCOUNTS, "nodes": [{"name": "Acme"}, {"name": "Co 00"}]}}})
        );
        assert_eq!(reply.headers[header::VARY], "accept");

        for uri in ["/", "/graphql"] {
            let reply = get(&app, uri, "text/html,application/xhtml+xml,*/*;q=0.8").await;
            assert_eq!(reply.status, StatusCode::OK, "{uri}");
            assert!(reply.content_type().starts_with("text/html"), "{uri}");
            assert!(reply.text().contains("GraphiQL"), "{uri}");
        }
        // Other methods on the endpoint.
        let req = Request::builder()
            .method(Method::DELETE)
            .uri("/graphql")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, req).await.status, StatusCode::METHOD_NOT_ALLOWED);
        let reply = get(&app, "/nope", "").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.codes(), ["NOT_FOUND"]);
    })
    .await;
}

#[tokio::test]
async fn argument_errors_carry_codes_and_never_a_500() {
    with_fixtures(|store| async move {
        let app = router(&store);
        let page = "query($first: Int, $after: String) { accounts(first: $first, after: $after) { totalCount } }";
        for (variables, code) in [
            (json!({"after": "not a cursor"}), "BAD_CURSOR"),
            (json!({"after": "YWNjb3VudDpub3BlOkFjbWU"}), "BAD_CURSOR"),
            (json!({"after": "!!"}), "BAD_CURSOR"),
            (json!({"first": 501}), "VALIDATION_FAILED"),
            (json!({"first": -1}), "VALIDATION_FAILED"),
        ] {
            let reply = query_reply(&app, page, variables.clone()).await;
            assert_eq!(reply.status, StatusCode::OK, "{variables}");
            assert_eq!(reply.codes(), [code], "{variables}");
            let body = reply.json();
            // `accounts` is non-null, so the error nulls `data`; execution began, so `data`
            // is there.
            assert_eq!(body["data"], Value::Null, "{body}");
            assert_eq!(body["errors"][0]["path"], json!(["accounts"]), "{body}");
        }

        let reply = query_reply(
            &app,
            "query($id: ID!) { account(id: $id) { name } }",
            json!({"id": "nope"}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.codes(), ["VALIDATION_FAILED"]);
        assert_eq!(reply.json()["data"], json!({"account": null}), "{}", reply.text());

        // A failed nullable field is null and its siblings are still answered.
        let reply = query_reply(
            &app,
            r#"{ account(id: "nope") { name } accounts(first: 1) { totalCount } }"#,
            json!({}),
        )
        .await;
        assert_eq!(reply.codes(), ["VALIDATION_FAILED"]);
        assert_eq!(
            reply.json()["data"],
            json!({"account": null, "accounts": {"totalCount": ACCOUNTS}})
        );

        // A value of the wrong type is caught by validation, before execution.
        let reply = query_reply(&app, r#"{ accounts(first: "ten") { totalCount } }"#, json!({})).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let codes = reply.codes();
        assert!(!codes.is_empty(), "{}", reply.text());
        assert!(codes.iter().all(|c| c == "VALIDATION_FAILED"), "{}", reply.text());
        let reply = query_reply(
            &app,
            r#"{ account(id: "0190f5c4-0000-7000-8000-000000000000") { arr(asOf: "yesterday") { amount } } }"#,
            json!({}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
        assert_eq!(reply.codes(), ["VALIDATION_FAILED"]);
    })
    .await;
}

#[tokio::test]
async fn malformed_queries_get_spec_shaped_errors() {
    for_each_backend(|store| async move {
        let app = router(&store);
        let reply = post(
            &app,
            GQL,
            r#"{"query": "{ accounts(first: 2) { edges { node { name } }"}"#,
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let body = reply.json();
        assert!(body.get("data").is_none(), "{body}");
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1);
        assert!(!errors[0]["message"].as_str().unwrap().is_empty());
        assert_eq!(errors[0]["extensions"]["code"], "GRAPHQL_PARSE_FAILED");
        assert!(errors[0]["locations"][0]["line"].is_number(), "{body}");
    })
    .await;
}

#[tokio::test]
async fn store_failures_are_internal_and_hidden() {
    with_fixtures(|store| async move {
        let state = AppState::new(store.clone());
        let app = super::with_admin_key(&store, app(state));
        // The key is verified (and cached) while the database is there.
        data(&app, "{ __typename }", json!({})).await;
        // A clone shares the pool: closing it takes the database away from the router.
        store.clone().close().await.unwrap();
        let reply = query_reply(&app, "{ accounts { totalCount } }", json!({})).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.codes(), ["INTERNAL"]);
        let body = reply.json();
        assert_eq!(body["errors"][0]["message"], "internal error");
        assert!(!reply.text().to_lowercase().contains("pool"), "{body}");

        let reply = get(&app, "/readyz", "").await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        let reply = get(&app, "/healthz", "").await;
        assert_eq!(reply.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn health_and_readiness() {
    for_each_backend(|store| async move {
        let app = router(&store);
        let reply = get(&app, "/healthz", "").await;
        assert_eq!(
            (reply.status, reply.text().as_str()),
            (StatusCode::OK, "ok")
        );
        let reply = get(&app, "/readyz", "").await;
        assert_eq!(reply.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn complexity_and_depth_limits() {
    for_each_backend(|store| async move {
        let app = router(&store);
        // 500 accounts with all their children is too much at once…
        let everything = r#"{ accounts(first: 500) { edges { cursor node {
            id name domain segment industry region owner seats createdAt sourceUpdatedAt
            people { id name email title role firstSeenAt externalRefs { system instance object externalId } }
            subscriptions { id plan startDate endDate status arr { amount currency } externalRefs { externalId } }
            arr { amount currency } arrByCurrency { amount currency }
            externalRefs { system instance object externalId } } } } }"#;
        let reply = query_reply(&app, everything, json!({})).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
        assert_eq!(reply.codes(), ["QUERY_TOO_COMPLEX"]);
        // …but a normal page of it is fine.
        let page = everything.replace("first: 500", "first: 50");
        let reply = query_reply(&app, &page, json!({})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

        // Introspection as GraphiQL sends it nests deeper than the depth limit and passes.
        let reply = query_reply(&app, INTROSPECTION, json!({})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let body = reply.json();
        assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");

        // The depth limit applies to data fields.
        let shallow = router_with(
            &store,
            GatewayConfig {
                max_depth: 3,
                ..GatewayConfig::default()
            },
        );
        let reply = query_reply(&shallow, "{ accounts { nodes { people { name } } } }", json!({})).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.codes(), ["QUERY_TOO_DEEP"]);
        let reply = query_reply(&shallow, "{ accounts { nodes { name } } }", json!({})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    })
    .await;
}

#[tokio::test]
async fn request_size_and_time_are_bounded() {
    for_each_backend(|store| async move {
        let app = router(&store);
        let big =
            json!({"query": "{ __typename }", "variables": {"pad": "x".repeat(2 * 1024 * 1024)}});
        let reply = post(&app, GQL, big.to_string()).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        // A GraphQL error, not the body limit's plain text.
        assert_eq!(reply.codes(), ["PAYLOAD_TOO_LARGE"], "{}", reply.text());
        assert!(reply.json().get("data").is_none());
        // A GET's query string is held to the same limit.
        let small = router_with(
            &store,
            GatewayConfig {
                body_limit_bytes: 1000,
                ..GatewayConfig::default()
            },
        );
        let q = format!("query=%7B__typename%7D%23{}", "x".repeat(2000));
        let reply = get(&small, &format!("/graphql?{q}"), GQL).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(reply.codes(), ["PAYLOAD_TOO_LARGE"], "{}", reply.text());
        assert!(reply.text().contains("query string"), "{}", reply.text());

        // The loader's batching window outlasts the query timeout, so the query cannot
        // finish in time whatever the machine's speed. (The page prefetches its children; the
        // references of a deal contact's person are a level below its look-ahead, so they
        // wait for the loader.)
        load_fixtures(&store).await;
        let hasty = router_with(
            &store,
            GatewayConfig {
                query_timeout: Duration::from_millis(50),
                batch_delay: Duration::from_secs(30),
                ..GatewayConfig::default()
            },
        );
        let reply = query_reply(
            &hasty,
            "{ accounts { nodes { subscriptions { contacts { person { externalRefs { externalId } } } } } } }",
            json!({}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(reply.codes(), ["TIMEOUT"]);
        assert!(reply.json().get("data").is_none());
    })
    .await;
}

#[tokio::test]
async fn serve_answers_on_a_socket_and_shuts_down_gracefully() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for_each_backend(|store| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(crate::serve(
            listener,
            AppState::new(store.clone()),
            async {
                let _ = stopped.await;
            },
        ));
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut raw = String::new();
        conn.read_to_string(&mut raw).await.unwrap();
        assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
        assert!(raw.ends_with("ok"), "{raw}");
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    })
    .await;
}

/// `serve` on a loopback port with `config`: its address, an admin key, the sender that starts
/// its shutdown, and its task.
async fn serve_on_loopback(
    store: &Store,
    config: GatewayConfig,
) -> (
    std::net::SocketAddr,
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::serve(
        listener,
        AppState {
            config,
            ..AppState::new(store.clone())
        },
        async {
            let _ = stopped.await;
        },
    ));
    let name = format!("loopback-{}", uuid::Uuid::now_v7());
    let key = store
        .create_api_key(&name, KeyScope::Graphql(Role::Admin))
        .await
        .unwrap();
    (addr, key.secret.expose().to_owned(), stop, server)
}

#[tokio::test]
async fn shutdown_cancels_queries_still_running_after_the_grace_period() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for_each_backend(|store| async move {
        load_fixtures(&store).await;
        // The loader's 30 s batching window keeps the query running (see
        // `request_size_and_time_are_bounded`).
        let config = GatewayConfig {
            batch_delay: Duration::from_secs(30),
            shutdown_grace: Duration::from_millis(300),
            ..GatewayConfig::default()
        };
        let (addr, key, stop, server) = serve_on_loopback(&store, config).await;
        let body = json!({"query": "{ accounts { nodes { subscriptions { contacts { person { externalRefs { externalId } } } } } } }"}).to_string();
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST /graphql HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nAccept: {GQL}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            key,
            body.len()
        );
        conn.write_all(request.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.send(()).unwrap();
        // Generous: the grace period is 0.3 s, then one more second at most.
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("serve returns after its grace period")
            .unwrap()
            .unwrap();
        let mut raw = String::new();
        conn.read_to_string(&mut raw).await.unwrap();
        assert!(raw.starts_with("HTTP/1.1 503"), "{raw}");
        assert!(raw.contains("SHUTTING_DOWN"), "{raw}");
    })
    .await;
}

/// graphql-js 16's `getIntrospectionQuery()` with every option on, as GraphiQL sends it.
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    description
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL isOneOf
  fields(includeDeprecated: true) {
    name description args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name description type { ...TypeRef } defaultValue isDeprecated deprecationReason
}
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}"#;

/// A body that arrives too slowly is cut at the request timeout with a GraphQL error (408
/// `REQUEST_TIMEOUT`), not a plain-text page.
#[tokio::test]
async fn a_slow_upload_gets_a_graphql_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for_each_backend(|store| async move {
        let config = GatewayConfig {
            query_timeout: Duration::from_millis(100),
            request_timeout: Duration::from_millis(300),
            ..GatewayConfig::default()
        };
        let (addr, key, stop, server) = serve_on_loopback(&store, config).await;
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        // Announces 100 bytes and sends 10, then waits past the request timeout.
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nAccept: {GQL}\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"query\":",
            key
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        let mut raw = String::new();
        tokio::time::timeout(Duration::from_secs(10), conn.read_to_string(&mut raw))
            .await
            .expect("the server answers at its request timeout")
            .unwrap();
        assert!(raw.starts_with("HTTP/1.1 408"), "{raw}");
        assert!(raw.contains("\"REQUEST_TIMEOUT\""), "{raw}");
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    })
    .await;
}
