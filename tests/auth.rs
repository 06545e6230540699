//! Authentication and roles over HTTP, on SQLite and PostgreSQL: API keys by role against the
//! field guards, 401 for missing and revoked keys, admin-only mutations, a per-key rate limit,
//! push credentials kept apart from GraphQL keys, no key in the logs or in the database in
//! clear; and `tributary apikey create|list|revoke` through the binary.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

mod common;

use anyhow::{Result, ensure};
use async_trait::async_trait;
use common::Gateway;
use common::logs::Buffer;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tributary::demo::{self, DemoOptions};
use tributary_connector::{
    Accepted, DeleteStrategy, PushError, PushItem, PushRequest, PushResponse, PushSource, ReadItem,
    StreamSpec, SyncMode, push::basic_auth,
};
use tributary_gateway::{GatewayConfig, PushMount, RateLimit};
use tributary_model::{Account, Entity, EntityKind, ExternalRef, SourceRecord};
use tributary_store::testing::TestDatabase;
use tributary_store::{KeyScope, Role, Store};

/// A Segment-like push source: `POST /v1/accounts` with the write key as the HTTP basic user.
struct Web;

#[async_trait]
impl PushSource for Web {
    fn kind(&self) -> &'static str {
        "webtest"
    }

    fn instance(&self) -> &str {
        "web"
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
        4096
    }

    async fn accept(&self, r: PushRequest) -> Result<Accepted, PushError> {
        let user = basic_auth(&r.headers).map(|(user, _)| user);
        r.credentials.require(user.as_deref()).await?;
        let row: Value = serde_json::from_slice(&r.body)
            .map_err(|e| PushError::BadRequest(format!("not JSON: {e}")))?;
        let id = row["id"].as_str().unwrap_or_default().to_owned();
        Ok(Accepted {
            items: vec![PushItem {
                stream: "accounts".into(),
                item: ReadItem::Record(Box::new(SourceRecord {
                    external_ref: ExternalRef::new("webtest", "web", "accounts", id),
                    source_updated_at: None,
                    entity: Entity::Account(Account::named("Pushed Inc".to_owned())),
                    raw: row,
                })),
            }],
            response: PushResponse::json(200, &json!({"success": true})),
        })
    }
}

async fn key(store: &Store, name: &str, scope: KeyScope) -> Result<String> {
    Ok(store
        .create_api_key(name, scope)
        .await?
        .secret
        .expose()
        .to_owned())
}

/// POSTs `query` with `key` (or none); the status and the body.
async fn ask(gw: &Gateway, key: Option<&str>, query: &str) -> Result<(u16, Value)> {
    let resp = gw
        .post_as(key)
        .json(&json!({ "query": query }))
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await?))
}

/// The `extensions.code` of each error.
fn codes(body: &Value) -> Vec<&str> {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["extensions"]["code"].as_str().unwrap_or("<none>"))
        .collect()
}

/// The last element of each FORBIDDEN error's path.
fn forbidden_fields(body: &Value) -> Vec<String> {
    let mut fields: Vec<String> = body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["extensions"]["code"] == "FORBIDDEN")
        .filter_map(|e| e["path"].as_array()?.last()?.as_str().map(str::to_owned))
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

const ACCOUNTS: &str =
    "{ accounts(first: 3) { totalCount nodes { name arr { amount } people { email } } } }";

async fn scenario(db: &TestDatabase, secrets: &mut Vec<String>) -> Result<()> {
    let backend = db.backend;
    let demo = demo::prepare(&DemoOptions {
        seed: 11,
        accounts: 30,
        database: db.url.clone(),
        progress: false,
        ..DemoOptions::default()
    })
    .await?;
    ensure!(demo.succeeded(), "{backend}: {:?}", demo.reports());
    let store = demo.store.clone();
    let mut config = GatewayConfig::default();
    config.auth.rate_limit = None;
    // The `ce` role gets a small bucket: two requests at once, then one every 3 s.
    config.auth.role_rate_limits.insert(
        Role::Ce,
        RateLimit {
            requests_per_minute: 20,
            burst: 2,
        },
    );
    let gw = Gateway::start_with(
        store.clone(),
        config,
        vec![PushMount {
            prefix: "/ingest/web".into(),
            source: Arc::new(Web),
        }],
    )
    .await?;
    secrets.push(gw.admin_key.clone());
    let role_key = |role: Role| {
        let store = store.clone();
        async move { key(&store, role.as_str(), KeyScope::Graphql(role)).await }
    };
    let viewer = role_key(Role::Viewer).await?;
    let finance = role_key(Role::Finance).await?;
    let cs = role_key(Role::Cs).await?;
    let ce = role_key(Role::Ce).await?;
    let push = key(
        &store,
        "web-write-key",
        KeyScope::Push {
            source: "web".into(),
        },
    )
    .await?;
    secrets.extend([
        viewer.clone(),
        finance.clone(),
        cs.clone(),
        ce.clone(),
        push.clone(),
    ]);

    // Each role reads accounts; the guards refuse what the role may not read.
    for (who, key, denied) in [
        ("viewer", &viewer, vec!["arr", "email"]),
        ("finance", &finance, vec!["email"]),
        ("cs", &cs, vec!["arr"]),
        ("admin", &gw.admin_key, vec![]),
    ] {
        let (status, body) = ask(&gw, Some(key), ACCOUNTS).await?;
        ensure!(status == 200, "{backend} {who}: HTTP {status} {body}");
        ensure!(
            body["data"]["accounts"]["totalCount"].as_u64() > Some(0),
            "{backend} {who}: {body}"
        );
        ensure!(
            forbidden_fields(&body) == denied,
            "{backend} {who}: denied {:?}, expected {denied:?}: {body}",
            forbidden_fields(&body)
        );
        let first = &body["data"]["accounts"]["nodes"][0];
        ensure!(first["name"].is_string(), "{backend} {who}: {body}");
        ensure!(
            first["arr"].is_null() == denied.contains(&"arr"),
            "{backend} {who}: {body}"
        );
    }

    // No key, an unknown key, a revoked key: 401 UNAUTHENTICATED, no data.
    let revoked = key(&store, "leaver", KeyScope::Graphql(Role::Admin)).await?;
    secrets.push(revoked.clone());
    let (status, _) = ask(&gw, Some(&revoked), "{ __typename }").await?;
    ensure!(
        status == 200,
        "{backend}: the key works before it is revoked"
    );
    store.revoke_api_key("leaver").await?;
    for (what, key) in [
        ("no key", None),
        ("revoked", Some(revoked.as_str())),
        (
            "unknown",
            Some("trb_0123456789012345678901234567890123456789012"),
        ),
    ] {
        let (status, body) = ask(&gw, key, ACCOUNTS).await?;
        ensure!(status == 401, "{backend} {what}: HTTP {status} {body}");
        ensure!(
            codes(&body) == ["UNAUTHENTICATED"],
            "{backend} {what}: {body}"
        );
        ensure!(body.get("data").is_none(), "{backend} {what}: {body}");
    }

    // Mutations: anonymous refused before anything runs; a viewer is FORBIDDEN; admin runs it.
    let trigger =
        r#"mutation { triggerSync(connector: "hubspot-demo", fullRefresh: true) { fullRefresh } }"#;
    let (status, body) = ask(&gw, None, trigger).await?;
    ensure!(
        status == 401 && codes(&body) == ["UNAUTHENTICATED"],
        "{backend}: {body}"
    );
    let (status, body) = ask(&gw, Some(&viewer), trigger).await?;
    ensure!(
        status == 200 && codes(&body) == ["FORBIDDEN"],
        "{backend}: {body}"
    );
    ensure!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("triggerSync") && m.contains("admin")),
        "{backend}: {body}"
    );
    let (_, body) = ask(&gw, Some(&gw.admin_key), trigger).await?;
    ensure!(
        body["data"]["triggerSync"]["fullRefresh"] == true,
        "{backend}: {body}"
    );

    // The rate limit: requests until one is refused (the burst is two), then after the
    // Retry-After it names, the key works again.
    let mut refused = None;
    for _ in 0..10 {
        let resp = gw
            .post_as(Some(&ce))
            .json(&json!({"query": "{ __typename }"}))
            .send()
            .await?;
        if resp.status() == 429 {
            refused = Some(resp);
            break;
        }
        ensure!(resp.status() == 200, "{backend}: HTTP {}", resp.status());
    }
    let refused = refused.ok_or_else(|| anyhow::anyhow!("{backend}: never rate limited"))?;
    let retry: u64 = refused.headers()["retry-after"].to_str()?.parse()?;
    let body: Value = refused.json().await?;
    ensure!(codes(&body) == ["RATE_LIMITED"], "{backend}: {body}");
    ensure!((1..=3).contains(&retry), "{backend}: Retry-After {retry}");
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let (status, body) = ask(&gw, Some(&ce), "{ __typename }").await?;
    ensure!(
        status == 200,
        "{backend}: after the window, HTTP {status} {body}"
    );

    // A push key cannot query GraphQL; a GraphQL key cannot push; the push key can.
    let (status, body) = ask(&gw, Some(&push), "{ __typename }").await?;
    ensure!(
        status == 403 && codes(&body) == ["FORBIDDEN"],
        "{backend}: {body}"
    );
    let ingest = gw.url.replace("/graphql", "/ingest/web/v1/accounts");
    let client = reqwest::Client::new();
    let send = |user: &str| {
        client
            .post(&ingest)
            .basic_auth(user, Option::<&str>::None)
            .json(&json!({"id": "p-1"}))
            .send()
    };
    ensure!(
        send(&gw.admin_key).await?.status() == 401,
        "{backend}: a GraphQL key pushed"
    );
    ensure!(
        send(&viewer).await?.status() == 401,
        "{backend}: a GraphQL key pushed"
    );
    let ok = send(&push).await?;
    ensure!(
        ok.status() == 200,
        "{backend}: push refused: {}",
        ok.text().await?
    );
    let data = gw
        .query(
            r#"{ accounts(filter: {nameContains: "Pushed"}) { totalCount } }"#,
            json!({}),
        )
        .await?;
    ensure!(data["accounts"]["totalCount"] == 1, "{backend}: {data}");

    gw.stop().await?;
    demo.shutdown_mocks().await?;
    store.close().await?;
    Ok(())
}

// A current-thread runtime: the gateway, the client and the subscriber share one thread, so
// the thread-local subscriber sees every event, dependencies' included.
#[tokio::test]
async fn keys_roles_and_limits_over_http_and_no_key_in_logs_or_database() -> Result<()> {
    let logs = Buffer::default();
    let _guard = logs.capture();
    for db in TestDatabase::all().await? {
        let mut secrets = Vec::new();
        scenario(&db, &mut secrets).await?;
        let text = logs.text();
        ensure!(text.contains("rate limited"), "the logs were not captured");
        for secret in &secrets {
            // The display prefix (`trb_` and 8 characters) may be shown; the rest never.
            let hidden = &secret[12..];
            ensure!(
                !text.contains(hidden),
                "{}: a key is in the logs",
                db.backend
            );
            if db.backend == "sqlite" {
                let path = db.url.trim_start_matches("sqlite://");
                for file in [path.to_owned(), format!("{path}-wal")] {
                    let bytes = std::fs::read(&file).unwrap_or_default();
                    let clear = bytes.windows(hidden.len()).any(|w| w == hidden.as_bytes());
                    ensure!(!clear, "a key is stored in clear in {file}");
                }
            }
        }
        db.cleanup().await?;
    }
    Ok(())
}

fn tributary(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("TRIBUTARY_CONFIG")
        .output()
        .unwrap()
}

/// `tributary apikey create|list|revoke` on each backend: the key is printed once, listed
/// without its secret, and refused by the store once revoked.
#[tokio::test]
async fn apikey_commands_create_list_and_revoke() -> Result<()> {
    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let dir = std::env::temp_dir().join(format!("tributary-apikey-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("tributary.toml"),
            format!("database_url = \"{}\"\n", db.url),
        )?;
        let out = tributary(
            &["apikey", "create", "--role", "finance", "--name", "bi-prod"],
            &dir,
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        ensure!(
            out.status.success(),
            "{backend}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let secret = stdout
            .lines()
            .find_map(|l| l.strip_prefix("api key: "))
            .ok_or_else(|| anyhow::anyhow!("no key printed: {stdout}"))?
            .to_owned();
        let id = stdout
            .lines()
            .find_map(|l| l.strip_prefix("id: "))
            .ok_or_else(|| anyhow::anyhow!("no id printed: {stdout}"))?
            .to_owned();
        let out = tributary(
            &["apikey", "create", "--push", "web", "--name", "web"],
            &dir,
        );
        ensure!(out.status.success(), "{backend}");
        ensure!(String::from_utf8_lossy(&out.stdout).contains("scope: push:web"));
        // A second live key of the same name is refused.
        let out = tributary(
            &["apikey", "create", "--role", "viewer", "--name", "bi-prod"],
            &dir,
        );
        ensure!(
            !out.status.success(),
            "{backend}: a duplicate name was accepted"
        );

        let out = tributary(&["apikey", "list"], &dir);
        let list = String::from_utf8_lossy(&out.stdout).into_owned();
        ensure!(out.status.success(), "{backend}: {list}");
        ensure!(
            list.contains("bi-prod") && list.contains("finance"),
            "{list}"
        );
        ensure!(list.contains("push:web"), "{list}");
        ensure!(list.contains(&secret[..12]), "the prefix is listed: {list}");
        ensure!(!list.contains(&secret[12..]), "the key is listed: {list}");

        let store = db.store().await?;
        let verified = store
            .verify_api_key(&tributary_store::KeyHash::of(&secret))
            .await?;
        ensure!(verified.is_some_and(|k| k.scope == KeyScope::Graphql(Role::Finance)));

        let out = tributary(&["apikey", "revoke", &id], &dir);
        ensure!(
            out.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        ensure!(String::from_utf8_lossy(&out.stdout).contains("revoked key `bi-prod`"));
        let out = tributary(&["apikey", "revoke", "bi-prod"], &dir);
        ensure!(!out.status.success(), "{backend}: revoked twice");
        ensure!(
            store
                .verify_api_key(&tributary_store::KeyHash::of(&secret))
                .await?
                .is_none(),
            "{backend}: a revoked key verifies"
        );
        let out = tributary(&["apikey", "list"], &dir);
        let list = String::from_utf8_lossy(&out.stdout).into_owned();
        let row = list
            .lines()
            .find(|l| l.contains("bi-prod"))
            .unwrap_or_default();
        ensure!(
            !row.trim_end().ends_with('-'),
            "revoked shows a time: {list}"
        );
        store.close().await?;
        let _ = std::fs::remove_dir_all(&dir);
        db.cleanup().await?;
    }
    Ok(())
}

/// What a running demo printed about its xAPI endpoint: the statements URL and the
/// `user:pass` credentials.
#[derive(Default)]
struct XapiLines {
    url: String,
    credentials: String,
}

/// Runs `tributary demo` on `database` until it serves; returns the child, the GraphQL URL and
/// the admin key it printed.
fn start_demo(
    database: &str,
    dir: &std::path::Path,
) -> Result<(std::process::Child, String, String)> {
    start_demo_with_xapi(database, dir).map(|(child, url, key, _)| (child, url, key))
}

/// [`start_demo`], with the xAPI lines.
fn start_demo_with_xapi(
    database: &str,
    dir: &std::path::Path,
) -> Result<(std::process::Child, String, String, XapiLines)> {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args([
            "demo",
            "--accounts",
            "20",
            "--listen",
            "127.0.0.1:0",
            "--database",
            database,
        ])
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let (mut url, mut key, mut curl) = (None, None, String::new());
    let mut xapi = XapiLines::default();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(u) = line.strip_prefix("xapi: ") {
            xapi.url = u.split(' ').next().unwrap_or_default().to_owned();
        } else if let Some(c) = line.strip_prefix("xapi credentials: ") {
            xapi.credentials = c.to_owned();
        } else if let Some(u) = line.strip_prefix("graphql: ") {
            ensure!(key.is_none(), "the key line comes after the graphql line");
            url = Some(u.to_owned());
        } else if let Some(k) = line.strip_prefix("admin api key: ") {
            ensure!(url.is_some(), "the key line comes after the graphql line");
            key = Some(k.to_owned());
        } else if line.trim_start().starts_with("-H 'authorization: Bearer") {
            curl = line;
        } else if line.starts_with("press Ctrl-C") {
            break;
        }
    }
    let (url, key) = (url.unwrap_or_default(), key.unwrap_or_default());
    ensure!(
        url.starts_with("http://127.0.0.1:"),
        "the demo serves on loopback: {url}"
    );
    ensure!(key.starts_with("trb_"), "no admin key printed");
    ensure!(
        curl.contains(&key),
        "the curl example carries the key: {curl}"
    );
    Ok((child, url, key, xapi))
}

/// The demo prints a fresh admin key after the GraphQL URL; it works, no key does not, and the
/// next demo on the same database revokes it.
#[tokio::test]
async fn the_demo_prints_an_admin_key_that_works_until_the_next_demo() -> Result<()> {
    for db in TestDatabase::all().await? {
        let dir = std::env::temp_dir().join(format!("tributary-demo-key-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir)?;
        let client = reqwest::Client::new();
        let ask = |url: &str, key: Option<&str>| {
            let mut r = client
                .post(url)
                .json(&json!({"query": "{ accounts(first: 1) { totalCount } }"}));
            if let Some(key) = key {
                r = r.bearer_auth(key);
            }
            r.send()
        };
        let (mut first, url, old_key, xapi) = start_demo_with_xapi(&db.url, &dir)?;
        let status = ask(&url, Some(&old_key)).await?.status();
        let anonymous = ask(&url, None).await?.status();
        // The printed xAPI endpoint takes a statement with the printed credentials, and the
        // activity is a course in GraphQL right after.
        let (user, pass) = xapi
            .credentials
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("no xapi credentials line"))?;
        let statement = json!({
            "actor": {"mbox": "mailto:learner@demo.example", "name": "A Learner"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": "https://lms.demo.example/courses/xapi-intro",
                       "definition": {"name": {"en-US": "Demo xAPI course"}}},
            "timestamp": "2026-03-01T12:00:00Z",
        });
        let sent = client
            .post(&xapi.url)
            .basic_auth(user, Some(pass))
            .header("X-Experience-API-Version", "1.0.3")
            .json(&statement)
            .send()
            .await?;
        ensure!(
            sent.status() == 200,
            "{}: xapi POST: HTTP {}",
            db.backend,
            sent.status()
        );
        let bad = client
            .post(&xapi.url)
            .basic_auth(user, Some("wrong"))
            .header("X-Experience-API-Version", "1.0.3")
            .json(&statement)
            .send()
            .await?;
        ensure!(
            bad.status() == 401,
            "{}: wrong password: HTTP {}",
            db.backend,
            bad.status()
        );
        let courses: Value = client
            .post(&url)
            .bearer_auth(&old_key)
            .json(&json!({"query": "{ courses(filter: {titleContains: \"Demo xAPI\"}) { totalCount } }"}))
            .send()
            .await?
            .json()
            .await?;
        ensure!(
            courses["data"]["courses"]["totalCount"] == 1,
            "{}: {courses}",
            db.backend
        );
        first.kill()?;
        first.wait()?;
        ensure!(
            status == 200,
            "{}: the demo's key: HTTP {status}",
            db.backend
        );
        ensure!(anonymous == 401, "{}: no key: HTTP {anonymous}", db.backend);

        let (mut second, url, new_key) = start_demo(&db.url, &dir)?;
        let old = ask(&url, Some(&old_key)).await?.status();
        let new = ask(&url, Some(&new_key)).await?.status();
        second.kill()?;
        second.wait()?;
        ensure!(new_key != old_key);
        ensure!(
            old == 401,
            "{}: the previous demo's key: HTTP {old}",
            db.backend
        );
        ensure!(new == 200, "{}: the new key: HTTP {new}", db.backend);
        let _ = std::fs::remove_dir_all(&dir);
        db.cleanup().await?;
    }
    Ok(())
}

/// A key revoked by another process (another pool on the same database) keeps working on a
/// replica for up to `cache_ttl`, as documented; with no cache it is refused at once.
#[tokio::test]
async fn a_revocation_elsewhere_takes_effect_within_the_cache_ttl() -> Result<()> {
    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let store = db.store().await?;
        let other_process = db.store().await?;
        let mut cached = GatewayConfig::default();
        cached.auth.cache_ttl = Duration::from_secs(3600);
        let mut uncached = GatewayConfig::default();
        uncached.auth.cache_ttl = Duration::ZERO;
        let cached = Gateway::start_with(store.clone(), cached, Vec::new()).await?;
        let uncached = Gateway::start_with(store.clone(), uncached, Vec::new()).await?;
        let secret = key(&store, "bi", KeyScope::Graphql(Role::Viewer)).await?;
        for gw in [&cached, &uncached] {
            let (status, body) = ask(gw, Some(&secret), "{ __typename }").await?;
            ensure!(status == 200, "{backend}: {body}");
        }
        ensure!(other_process.revoke_api_key("bi").await?.is_some());
        let (status, _) = ask(&cached, Some(&secret), "{ __typename }").await?;
        ensure!(
            status == 200,
            "{backend}: within the TTL the cached key still works"
        );
        let (status, body) = ask(&uncached, Some(&secret), "{ __typename }").await?;
        ensure!(
            status == 401,
            "{backend}: without a cache: HTTP {status} {body}"
        );
        cached.stop().await?;
        uncached.stop().await?;
        other_process.close().await?;
        store.close().await?;
        db.cleanup().await?;
    }
    Ok(())
}
