//! Push connectors' ingest routes, with a small webhook source: a request is authenticated
//! and validated by the source, committed, and only then acknowledged; a bad record is
//! quarantined while the rest land; refusals commit nothing.

use super::{data, for_each_backend, send};
use crate::{AppState, PushMount, app};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use tributary_connector::{
    Accepted, DeleteStrategy, Method, PushError, PushItem, PushRequest, PushResponse, PushSource,
    ReadItem, Reject, StreamSpec, SyncMode,
};
use tributary_model::{Account, Entity, EntityKind, ExternalRef, SourceRecord};
use tributary_store::{KeyScope, Role, Store};

/// Accepts `POST /accounts` with a JSON array of `{"id", "name"}` and a push key of its
/// instance in `x-key`, checked through the request's credentials (the key store).
struct Webhook;

#[async_trait]
impl PushSource for Webhook {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn instance(&self) -> &str {
        "hook"
    }

    fn streams(&self) -> Vec<StreamSpec> {
        vec![StreamSpec {
            name: "accounts".into(),
            entity: EntityKind::Account,
            cursor_field: None,
            modes: vec![SyncMode::Incremental],
            delete_strategy: DeleteStrategy::None,
        }]
    }

    fn max_body_bytes(&self) -> usize {
        512
    }

    async fn accept(&self, r: PushRequest) -> Result<Accepted, PushError> {
        if r.path != "/accounts" {
            return Err(PushError::NotFound(r.path));
        }
        if r.method != Method::POST {
            return Err(PushError::MethodNotAllowed(r.method.to_string()));
        }
        let key = r.headers.get("x-key").and_then(|v| v.to_str().ok());
        r.credentials.require(key).await?;
        let rows: Vec<Value> = serde_json::from_slice(&r.body)
            .map_err(|e| PushError::BadRequest(format!("not a JSON array: {e}")))?;
        let items = rows
            .into_iter()
            .map(|raw| {
                let id = raw["id"].as_str().map(str::to_owned);
                let item = match (&id, raw["name"].as_str()) {
                    (Some(id), Some(name)) => ReadItem::Record(Box::new(SourceRecord {
                        external_ref: ExternalRef::new("webhook", "hook", "accounts", id.clone()),
                        source_updated_at: None,
                        entity: Entity::Account(Account::named(name.to_owned())),
                        raw,
                    })),
                    _ => ReadItem::Reject(Reject {
                        external_id: id,
                        reason: "an account needs an id and a name".into(),
                        raw,
                    }),
                };
                PushItem {
                    stream: "accounts".into(),
                    item,
                }
            })
            .collect();
        Ok(Accepted {
            items,
            response: PushResponse::json(200, &json!({"success": true})),
        })
    }
}

fn router(store: &Store) -> axum::Router {
    super::with_admin_key(
        store,
        app(AppState {
            push: vec![PushMount {
                prefix: "/ingest/hook".into(),
                source: Arc::new(Webhook),
            }],
            ..AppState::new(store.clone())
        }),
    )
}

/// A push key for `source`.
async fn push_key(store: &Store, name: &str, source: &str) -> String {
    store
        .create_api_key(
            name,
            KeyScope::Push {
                source: source.into(),
            },
        )
        .await
        .unwrap()
        .secret
        .expose()
        .to_owned()
}

fn hook(path: &str, key: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(format!("/ingest/hook{path}"))
        .header("x-key", key)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

async fn accounts(app: &axum::Router) -> i64 {
    data(app, "{ accounts(first: 1) { totalCount } }", json!({})).await["accounts"]["totalCount"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn accepted_requests_are_committed_before_the_answer() {
    for_each_backend(|store| async move {
        let app = router(&store);
        let secret = push_key(&store, "web", "hook").await;
        let body = json!([{"id": "1", "name": "Acme"}, {"id": "2", "name": "Globex"}, {"id": "3"}]);
        let reply = send(&app, hook("/accounts", &secret, body.to_string())).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json(), json!({"success": true}));
        // Answered after the commit: readable at once, the bad record in quarantine.
        assert_eq!(accounts(&app).await, 2);
        let q = data(
            &app,
            "{ quarantine(first: 5) { totalCount nodes { reason } } }",
            json!({}),
        )
        .await;
        assert_eq!(q["quarantine"]["totalCount"], 1, "{q}");
        // A retry of the same request is harmless.
        let reply = send(&app, hook("/accounts", &secret, body.to_string())).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(accounts(&app).await, 2);
        // GraphQL is still where it was.
        assert_eq!(
            send(&app, Request::get("/healthz").body(Body::empty()).unwrap())
                .await
                .status,
            StatusCode::OK
        );
    })
    .await;
}

#[tokio::test]
async fn refused_requests_commit_nothing_and_say_why() {
    for_each_backend(|store| async move {
        let app = router(&store);
        let secret = push_key(&store, "web", "hook").await;
        let other = push_key(&store, "other", "another-source").await;
        let revoked = push_key(&store, "old", "hook").await;
        store.revoke_api_key("old").await.unwrap().unwrap();
        let graphql = store
            .create_api_key("bi", KeyScope::Graphql(Role::Admin))
            .await
            .unwrap()
            .secret
            .expose()
            .to_owned();
        let one = json!([{"id": "1", "name": "Acme"}]).to_string();
        let cases = [
            (
                hook("/accounts", "wrong", one.clone()),
                StatusCode::UNAUTHORIZED,
                "invalid credentials",
            ),
            (
                hook("/accounts", &other, one.clone()),
                StatusCode::UNAUTHORIZED,
                "invalid credentials",
            ),
            (
                hook("/accounts", &revoked, one.clone()),
                StatusCode::UNAUTHORIZED,
                "invalid credentials",
            ),
            (
                hook("/accounts", &graphql, one.clone()),
                StatusCode::UNAUTHORIZED,
                "invalid credentials",
            ),
            (
                hook("/accounts", &secret, "{not json"),
                StatusCode::BAD_REQUEST,
                "not a JSON array",
            ),
            (
                hook("/elsewhere", &secret, one.clone()),
                StatusCode::NOT_FOUND,
                "/elsewhere",
            ),
            (
                hook(
                    "/accounts",
                    &secret,
                    format!("[{}]", vec![r#"{"id":"9","name":"x"}"#; 40].join(",")),
                ),
                StatusCode::PAYLOAD_TOO_LARGE,
                "limit 512 bytes",
            ),
        ];
        for (request, status, says) in cases {
            let reply = send(&app, request).await;
            assert_eq!(reply.status, status, "{}", reply.text());
            assert!(reply.text().contains(says), "{}", reply.text());
            assert!(
                !reply.text().contains("trb_"),
                "a key is echoed: {}",
                reply.text()
            );
        }
        assert_eq!(accounts(&app).await, 0);
    })
    .await;
}

/// A push credential is good at its source's endpoint only: GraphQL refuses it with 403.
#[tokio::test]
async fn a_push_key_cannot_query_graphql() {
    for_each_backend(|store| async move {
        let app = router(&store);
        let secret = push_key(&store, "web", "hook").await;
        let reply = send(
            &app,
            Request::post("/graphql")
                .header("authorization", format!("Bearer {secret}"))
                .header("content-type", "application/json")
                .body(Body::from(r#"{"query": "{ accounts { totalCount } }"}"#))
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
        assert_eq!(reply.codes(), ["FORBIDDEN"]);
        assert!(reply.json().get("data").is_none());
        assert!(!reply.text().contains(&secret));
    })
    .await;
}

/// Counts the requests inside `accept` at once; each stays a while.
struct Overlap {
    serialized: bool,
    inside: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl PushSource for Overlap {
    fn kind(&self) -> &'static str {
        "overlap"
    }

    fn instance(&self) -> &str {
        "overlap"
    }

    fn streams(&self) -> Vec<StreamSpec> {
        Webhook.streams()
    }

    fn max_body_bytes(&self) -> usize {
        64
    }

    fn serialized(&self) -> bool {
        self.serialized
    }

    async fn accept(&self, _: PushRequest) -> Result<Accepted, PushError> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.inside.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        self.inside.fetch_sub(1, SeqCst);
        Ok(Accepted {
            items: vec![],
            response: PushResponse::json(200, &json!({})),
        })
    }
}

#[tokio::test]
async fn a_serialized_source_takes_its_writes_one_at_a_time() {
    let store = tributary_store::testing::TestDatabase::sqlite()
        .store()
        .await
        .unwrap();
    for serialized in [true, false] {
        let source = Arc::new(Overlap {
            serialized,
            inside: Default::default(),
            most: Default::default(),
        });
        let app = app(AppState {
            push: vec![PushMount {
                prefix: "/overlap".into(),
                source: source.clone(),
            }],
            ..AppState::new(store.clone())
        });
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..6 {
            let app = app.clone();
            requests.spawn(async move {
                send(
                    &app,
                    Request::post("/overlap/x").body(Body::empty()).unwrap(),
                )
                .await
            });
        }
        while let Some(reply) = requests.join_next().await {
            assert_eq!(reply.unwrap().status, StatusCode::OK);
        }
        let most = source.most.load(std::sync::atomic::Ordering::SeqCst);
        if serialized {
            assert_eq!(most, 1, "serialized writes overlapped");
        } else {
            // The control: the same requests do overlap when the source does not ask.
            assert!(most > 1, "the control never overlapped");
        }
    }
}
