//! Tests through the router (`app(state)` + `tower::ServiceExt::oneshot`), on SQLite always
//! and on PostgreSQL when `TRIBUTARY_TEST_POSTGRES_URL` is set.

mod auth;
mod graphiql;
mod learning;
mod ops;
mod protocol;
mod push;
mod queries;
mod schema_file;

use crate::{AppState, GatewayConfig, app};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;
use std::sync::Arc;
use tower::ServiceExt;
use tributary_model::{
    Account, ArrBasis, Currency, DealContact, Entity, ExternalRef, Money, Person, PersonRole,
    RevenueEvent, RevenueEventKind, Segment, SourceRecord, Subscription, SubscriptionStatus,
};
pub(crate) use tributary_store::testing::for_each_backend;
use tributary_store::{CommitBatch, KeyScope, QuarantineItem, Role, Store};

pub(crate) const GQL: &str = "application/graphql-response+json";

/// Runs `f` once per test backend with the fixture data loaded.
pub(crate) async fn with_fixtures<F, Fut>(f: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for_each_backend(|store| {
        let fut = f(store.clone());
        async move {
            load_fixtures(&store).await;
            fut.await
        }
    })
    .await;
}

fn company(id: &str, name: &str, segment: Segment) -> SourceRecord {
    SourceRecord {
        external_ref: ExternalRef::new("hubspot", "hs", "companies", id),
        source_updated_at: Some(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()),
        raw: json!({"id": id, "properties": {"name": name}}),
        entity: Entity::Account(Account {
            name: name.into(),
            domain: Some(format!("{}.example", name.to_lowercase().replace(' ', "-"))),
            segment: Some(segment),
            industry: Some("Software".into()),
            region: Some(
                if name.starts_with("Co") {
                    "EMEA"
                } else {
                    "AMER"
                }
                .into(),
            ),
            owner: Some("Dana".into()),
            seats: Some(10),
            created_at: Some(Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, 9).unwrap()),
        }),
    }
}

fn contact(id: &str, company_id: &str, name: &str, role: PersonRole) -> SourceRecord {
    SourceRecord {
        external_ref: ExternalRef::new("hubspot", "hs", "contacts", id),
        source_updated_at: None,
        raw: json!({"id": id}),
        entity: Entity::Person(Person {
            name: name.into(),
            email: Some(format!("{}@acme.example", name.to_lowercase())),
            title: Some("Ops".into()),
            role: Some(role),
            account: Some(ExternalRef::new("hubspot", "hs", "companies", company_id)),
            first_seen_at: Some(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()),
            hints: vec![],
        }),
    }
}

fn deal(
    id: &str,
    company_id: &str,
    amount: &str,
    currency: &str,
    (start, end): (&str, &str),
) -> SourceRecord {
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    SourceRecord {
        external_ref: ExternalRef::new("hubspot", "hs", "deals", id),
        source_updated_at: None,
        raw: json!({"id": id, "amount": amount}),
        entity: Entity::Subscription(Subscription {
            account: Some(ExternalRef::new("hubspot", "hs", "companies", company_id)),
            plan: "Pro".into(),
            start_date: d(start),
            end_date: Some(d(end)),
            arr: Money::new(
                Decimal::from_str(amount).unwrap(),
                Currency::parse(currency).unwrap(),
            ),
            status: SubscriptionStatus::Active,
            motion: (id == "d1").then_some(RevenueEventKind::Renewal),
            arr_basis: (id == "d1").then_some(ArrBasis::ArrField),
        }),
    }
}

/// A ledger line of `company_id` in USD.
fn ledger_line(
    company_id: &str,
    date: &str,
    kind: RevenueEventKind,
    delta: &str,
    after: &str,
) -> SourceRecord {
    let usd = |s: &str| Money::new(Decimal::from_str(s).unwrap(), Currency::usd());
    SourceRecord {
        external_ref: ExternalRef::new(
            "tributary",
            "ledger",
            "revenue_events",
            format!("{company_id}@{date}"),
        ),
        source_updated_at: None,
        raw: json!({}),
        entity: Entity::RevenueEvent(RevenueEvent {
            account: Some(ExternalRef::new("hubspot", "hs", "companies", company_id)),
            subscription: None,
            date: NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(),
            kind,
            arr_delta: usd(delta),
            arr_after: usd(after),
            original_delta: None,
            fx: None,
        }),
    }
}

/// Accounts in the fixtures.
pub(crate) const ACCOUNTS: usize = 27;
/// A term running for as long as these tests will.
const CURRENT: (&str, &str) = ("2020-01-01", "2999-01-01");

/// 25 accounts `Co 00` … `Co 24` (even: SMB, odd: enterprise, region EMEA) and two with
/// children: `Acme` (two people, one current USD subscription and one that ended) and `Globex`
/// (current subscriptions in EUR and USD).
pub(crate) async fn load_fixtures(store: &Store) {
    let mut records: Vec<SourceRecord> = (0..25)
        .map(|i| {
            let seg = if i % 2 == 0 {
                Segment::Smb
            } else {
                Segment::Enterprise
            };
            company(&format!("c{i}"), &format!("Co {i:02}"), seg)
        })
        .collect();
    records.extend([
        company("acme", "Acme", Segment::MidMarket),
        company("globex", "Globex", Segment::Enterprise),
        contact("p1", "acme", "Zoe", PersonRole::EndUser),
        contact("p2", "acme", "Ada", PersonRole::Admin),
        deal("d1", "acme", "1200.50", "USD", CURRENT),
        deal("d2", "acme", "99.99", "USD", ("2020-01-01", "2021-01-01")),
        deal("d3", "globex", "1000", "EUR", CURRENT),
        deal("d4", "globex", "10.01", "USD", CURRENT),
        SourceRecord {
            external_ref: ExternalRef::new("hubspot", "hs", "deal_contacts", "d1-p2"),
            source_updated_at: None,
            raw: json!({}),
            entity: Entity::DealContact(DealContact {
                subscription: Some(ExternalRef::new("hubspot", "hs", "deals", "d1")),
                person: Some(ExternalRef::new("hubspot", "hs", "contacts", "p2")),
                role: Some("Economic Buyer".into()),
                primary: true,
            }),
        },
        ledger_line(
            "acme",
            "2020-01-01",
            RevenueEventKind::New,
            "1300.49",
            "1300.49",
        ),
        ledger_line(
            "acme",
            "2021-01-01",
            RevenueEventKind::Contraction,
            "-99.99",
            "1200.50",
        ),
        ledger_line(
            "globex",
            "2020-01-01",
            RevenueEventKind::New,
            "1090.01",
            "1090.01",
        ),
    ]);
    let out = store
        .commit_batch(CommitBatch {
            connector: "hs".into(),
            stream: "all".into(),
            records,
            rejects: vec![QuarantineItem {
                external_id: Some("bad-1".into()),
                reason: "property `amount` is not a decimal".into(),
                payload: "{\"amount\":\"x\"}".into(),
            }],
            ..Default::default()
        })
        .await
        .expect("fixtures commit");
    assert_eq!(out.written, ACCOUNTS as u64 + 10);
}

/// A router over `store` with the default configuration, its requests carrying an admin key.
pub(crate) fn router(store: &Store) -> Router {
    with_admin_key(store, app(AppState::new(store.clone())))
}

/// A router over `store` whose loader records its batches in the returned statistics, with a
/// generous batching window (50 ms) so a test of batching cannot flake on a loaded machine.
pub(crate) fn router_with_stats(store: &Store) -> (Router, Arc<crate::loaders::LoaderStats>) {
    let stats = Arc::new(crate::loaders::LoaderStats::default());
    let config = GatewayConfig {
        batch_delay: std::time::Duration::from_millis(50),
        ..GatewayConfig::default()
    };
    let schema = crate::build_schema(store.clone(), &config, stats.clone());
    let app = with_admin_key(
        store,
        crate::router(
            AppState {
                store: store.clone(),
                config,
                push: Vec::new(),
            },
            schema,
        ),
    );
    (app, stats)
}

/// A router over `store` with `config`, its requests carrying an admin key.
pub(crate) fn router_with(store: &Store, config: GatewayConfig) -> Router {
    with_admin_key(
        store,
        app(AppState {
            store: store.clone(),
            config,
            push: Vec::new(),
        }),
    )
}

/// `router` with every `/graphql` request that carries no key of its own given a real admin key, created
/// in `store` on the first request: the tests of queries and of the protocol go through the
/// same authentication as a client.
pub(crate) fn with_admin_key(store: &Store, router: Router) -> Router {
    use axum::middleware::Next;
    let store = store.clone();
    let secret = Arc::new(tokio::sync::OnceCell::<String>::new());
    router.layer(axum::middleware::from_fn(
        move |mut request: Request<Body>, next: Next| {
            let (store, secret) = (store.clone(), Arc::clone(&secret));
            async move {
                let h = request.headers();
                // Only `/graphql` asks for a key; `/readyz` and friends must work on a closed
                // or unmigrated store, where no key can be made.
                if request.uri().path() == "/graphql"
                    && !h.contains_key(header::AUTHORIZATION)
                    && !h.contains_key("x-api-key")
                {
                    let secret = secret
                        .get_or_init(|| async {
                            let name = format!("test-admin-{}", uuid::Uuid::now_v7());
                            store
                                .create_api_key(&name, KeyScope::Graphql(Role::Admin))
                                .await
                                .expect("create the tests' admin key")
                                .secret
                                .expose()
                                .to_owned()
                        })
                        .await;
                    request.headers_mut().insert(
                        header::AUTHORIZATION,
                        format!("Bearer {secret}").parse().expect("a key is ASCII"),
                    );
                }
                next.run(request).await
            }
        },
    ))
}

/// A response, its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Bytes,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.bytes)
            )
        })
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    pub(crate) fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }

    /// The `extensions.code` of every error.
    pub(crate) fn codes(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| {
                        e["extensions"]["code"]
                            .as_str()
                            .unwrap_or("<none>")
                            .to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub(crate) async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Reply {
        status,
        headers,
        bytes,
    }
}

/// `POST /graphql` with a JSON body and the given `Accept` header (none when empty).
pub(crate) async fn post(app: &Router, accept: &str, body: impl Into<Body>) -> Reply {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/graphql")
        .header(header::CONTENT_TYPE, "application/json");
    if !accept.is_empty() {
        req = req.header(header::ACCEPT, accept);
    }
    send(app, req.body(body.into()).unwrap()).await
}

/// `GET` of `uri` with the given `Accept` header (none when empty).
pub(crate) async fn get(app: &Router, uri: &str, accept: &str) -> Reply {
    let mut req = Request::builder().method(Method::GET).uri(uri);
    if !accept.is_empty() {
        req = req.header(header::ACCEPT, accept);
    }
    send(app, req.body(Body::empty()).unwrap()).await
}

/// Runs a query that must succeed and returns its `data`.
pub(crate) async fn data(app: &Router, query: &str, variables: Value) -> Value {
    let reply = query_reply(app, query, variables).await;
    let body = reply.json();
    assert_eq!(reply.status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

/// Runs a query, accepting `application/graphql-response+json`.
pub(crate) async fn query_reply(app: &Router, query: &str, variables: Value) -> Reply {
    post(
        app,
        GQL,
        json!({"query": query, "variables": variables}).to_string(),
    )
    .await
}
