//! Authentication, field guards by role and rate limits, through the router.

use super::*;
use crate::{AuthConfig, RateLimit};

/// A router over `store` with `auth`, without the tests' admin key: requests carry what each
/// test gives them.
fn bare(store: &Store, auth: AuthConfig) -> Router {
    app(AppState {
        store: store.clone(),
        config: GatewayConfig {
            auth,
            ..GatewayConfig::default()
        },
        push: Vec::new(),
    })
}

async fn key(store: &Store, name: &str, role: Role) -> String {
    store
        .create_api_key(name, KeyScope::Graphql(role))
        .await
        .unwrap()
        .secret
        .expose()
        .to_owned()
}

/// POSTs `query` with `Authorization: Bearer <secret>` (no header for `None`).
async fn as_key(app: &Router, secret: Option<&str>, query: &str) -> Reply {
    let mut req = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, GQL);
    if let Some(secret) = secret {
        req = req.header(header::AUTHORIZATION, format!("Bearer {secret}"));
    }
    let body = json!({ "query": query }).to_string();
    send(app, req.body(Body::from(body)).unwrap()).await
}

const EVERYTHING: &str = r#"{
  account: accounts(first: 1, filter: {nameContains: "Acme"}) { nodes {
    name arr { amount } ledgerArr { amount } arrByCurrency { amount } revenueEvents { kind }
    people { name email title }
    subscriptions { plan arr { amount } }
  } }
  revenueLedger(first: 1) { totalCount }
  revenueBridge(from: "2020-01-01", to: "2021-12-31") { openingArr { amount } }
  quarantine(first: 1) { nodes { reason payload } }
}"#;

/// The paths of the FORBIDDEN errors of `reply`, each as `a.b.0.c`, with numbers as `#`.
fn forbidden(reply: &Reply) -> Vec<String> {
    let body = reply.json();
    let mut paths: Vec<String> = body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            assert_eq!(e["extensions"]["code"], "FORBIDDEN", "{e}");
            e["path"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| match p {
                    Value::String(s) => s.clone(),
                    _ => "#".to_owned(),
                })
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[tokio::test]
async fn each_role_reads_what_it_may_and_is_told_what_it_may_not() {
    with_fixtures(|store| async move {
        let app = bare(&store, AuthConfig::default());
        let revenue = [
            "account.nodes.#.arr",
            "account.nodes.#.arrByCurrency",
            "account.nodes.#.ledgerArr",
            "account.nodes.#.revenueEvents",
            "account.nodes.#.subscriptions.#.arr",
            "revenueBridge",
            "revenueLedger",
        ];
        let personal = [
            "account.nodes.#.people.#.email",
            "account.nodes.#.people.#.name",
            "quarantine.nodes.#.payload",
        ];
        let sorted = |v: &[&[&str]]| {
            let mut all: Vec<String> = v.concat().iter().map(|s| s.to_string()).collect();
            all.sort();
            all
        };
        for (role, denied) in [
            (Role::Viewer, sorted(&[&revenue, &personal])),
            (Role::Finance, sorted(&[&personal])),
            (Role::Cs, sorted(&[&revenue])),
            (Role::Ce, sorted(&[&revenue])),
            (Role::Admin, Vec::new()),
        ] {
            let secret = key(&store, role.as_str(), role).await;
            let reply = as_key(&app, Some(&secret), EVERYTHING).await;
            assert_eq!(reply.status, StatusCode::OK, "{role}: {}", reply.text());
            assert_eq!(forbidden(&reply), denied, "{role}: {}", reply.text());
            let body = reply.json();
            let acme = &body["data"]["account"]["nodes"][0];
            // Partial data: the unguarded fields are there, the guarded ones null.
            assert_eq!(acme["name"], "Acme", "{role}: {body}");
            assert_eq!(acme["people"].as_array().unwrap().len(), 2, "{role}");
            assert!(acme["subscriptions"][0]["plan"].is_string(), "{role}");
            assert!(body["data"]["quarantine"]["nodes"][0]["reason"].is_string());
            let reads_revenue = !denied.iter().any(|p| p == "revenueLedger");
            assert_eq!(acme["arr"].is_object(), reads_revenue, "{role}: {body}");
            assert_eq!(body["data"]["revenueLedger"].is_object(), reads_revenue);
            let reads_personal = !denied.iter().any(|p| p.ends_with("email"));
            assert_eq!(acme["people"][0]["name"].is_string(), reads_personal);
            assert_eq!(
                body["data"]["quarantine"]["nodes"][0]["payload"].is_string(),
                reads_personal
            );
            // Nothing guarded leaks through the errors: they name the field and the roles.
            let text = reply.text();
            for secret_value in ["1200.5", "Zoe", "Ada", "\\\"amount\\\":\\\"x\\\""] {
                if !reads_revenue && secret_value == "1200.5" {
                    assert!(!text.contains(secret_value), "{role}: {text}");
                }
                if !reads_personal && secret_value != "1200.5" {
                    assert!(!text.contains(secret_value), "{role}: {text}");
                }
            }
            for e in body["errors"].as_array().into_iter().flatten() {
                let message = e["message"].as_str().unwrap();
                assert!(message.contains(&format!("role {role}")), "{message}");
                assert!(
                    message.contains("finance or admin") || message.contains("cs, ce or admin"),
                    "{message}"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn only_admin_may_trigger_a_sync() {
    with_fixtures(|store| async move {
        store
            .ensure_schedule("hs", "hubspot", Utc::now() + chrono::Duration::hours(1))
            .await
            .unwrap();
        let app = bare(&store, AuthConfig::default());
        let mutation =
            r#"mutation { triggerSync(connector: "hs", fullRefresh: true) { fullRefresh } }"#;
        for role in [Role::Viewer, Role::Cs, Role::Ce, Role::Finance] {
            let secret = key(&store, role.as_str(), role).await;
            let reply = as_key(&app, Some(&secret), mutation).await;
            assert_eq!(reply.codes(), ["FORBIDDEN"], "{role}: {}", reply.text());
            let message = reply.json()["errors"][0]["message"].clone();
            assert!(
                message
                    .as_str()
                    .unwrap()
                    .contains("`triggerSync` needs role admin"),
                "{message}"
            );
        }
        let leases = store.leases().await.unwrap();
        assert!(
            !leases[0].full_refresh_requested,
            "a refused mutation did nothing"
        );
        let admin = key(&store, "admin", Role::Admin).await;
        let reply = as_key(&app, Some(&admin), mutation).await;
        assert_eq!(
            reply.json()["data"]["triggerSync"]["fullRefresh"],
            true,
            "{}",
            reply.text()
        );
        // Anonymous: refused before anything runs.
        let reply = as_key(&app, None, mutation).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.codes(), ["UNAUTHENTICATED"]);
    })
    .await;
}

#[tokio::test]
async fn missing_unknown_and_revoked_keys_are_unauthenticated() {
    with_fixtures(|store| async move {
        let app = bare(&store, AuthConfig::default());
        let secret = key(&store, "bi", Role::Viewer).await;
        let q = "{ accounts(first: 1) { totalCount } }";
        let ok = as_key(&app, Some(&secret), q).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
        assert_eq!(ok.json()["data"]["accounts"]["totalCount"], 27);

        let unknown = "trb_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        for (secret, says) in [
            (None, "needs an API key"),
            (Some("not-a-key"), "unknown or revoked"),
            (Some(unknown), "unknown or revoked"),
        ] {
            let reply = as_key(&app, secret, q).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
            assert_eq!(reply.codes(), ["UNAUTHENTICATED"]);
            assert!(reply.json().get("data").is_none());
            assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
            assert!(reply.text().contains(says), "{}", reply.text());
            assert!(!reply.text().contains("AAAAAAAA"), "the key is echoed");
        }
        // The key in `X-Api-Key` works as well.
        let reply = send(
            &app,
            Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-api-key", &secret)
                .body(Body::from(json!({"query": q}).to_string()))
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

        // Revoked through this process's store: refused at once, cache or not.
        store.revoke_api_key("bi").await.unwrap().unwrap();
        let reply = as_key(&app, Some(&secret), q).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
        assert_eq!(reply.codes(), ["UNAUTHENTICATED"]);
    })
    .await;
}

#[tokio::test]
async fn an_anonymous_role_lets_requests_without_a_key_read_as_that_role() {
    with_fixtures(|store| async move {
        let app = bare(
            &store,
            AuthConfig {
                anonymous_role: Some(Role::Viewer),
                ..AuthConfig::default()
            },
        );
        let reply = as_key(
            &app,
            None,
            "{ accounts(first: 1) { totalCount nodes { arr { amount } } } }",
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json()["data"]["accounts"]["totalCount"], 27);
        assert_eq!(reply.codes(), ["FORBIDDEN"]);
        // A wrong key is still refused, not downgraded to anonymous.
        let reply = as_key(&app, Some("trb_nope"), "{ __typename }").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn a_key_past_its_rate_limit_gets_429_with_retry_after() {
    for_each_backend(|store| async move {
        let app = bare(
            &store,
            AuthConfig {
                // One a minute after a burst of two: the third request is refused whatever
                // the machine's speed.
                rate_limit: Some(RateLimit {
                    requests_per_minute: 1,
                    burst: 2,
                }),
                role_rate_limits: [(
                    Role::Admin,
                    RateLimit {
                        requests_per_minute: 6000,
                        burst: 100,
                    },
                )]
                .into(),
                ..AuthConfig::default()
            },
        );
        let viewer = key(&store, "viewer", Role::Viewer).await;
        let other = key(&store, "other", Role::Viewer).await;
        let admin = key(&store, "admin", Role::Admin).await;
        for _ in 0..2 {
            let reply = as_key(&app, Some(&viewer), "{ __typename }").await;
            assert_eq!(reply.status, StatusCode::OK);
        }
        let reply = as_key(&app, Some(&viewer), "{ __typename }").await;
        assert_eq!(
            reply.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            reply.text()
        );
        assert_eq!(reply.codes(), ["RATE_LIMITED"]);
        let retry: u64 = reply.headers[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        // Each key has its own bucket, and a role its own limit.
        assert_eq!(
            as_key(&app, Some(&other), "{ __typename }").await.status,
            StatusCode::OK
        );
        for _ in 0..5 {
            assert_eq!(
                as_key(&app, Some(&admin), "{ __typename }").await.status,
                StatusCode::OK
            );
        }
    })
    .await;
}

mod jwt {
    use super::*;
    use crate::jwt::JwtConfig;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    const RSA: &str = include_str!("jwt/test-rsa.pem");
    const EC: &str = include_str!("jwt/test-ec.pem");
    const OTHER_RSA: &str = include_str!("jwt/other-rsa.pem");
    const JWKS: &str = include_str!("jwt/jwks.json");

    fn config() -> AuthConfig {
        AuthConfig {
            jwt: Some(JwtConfig {
                jwks: JwtConfig::parse_jwks(JWKS).unwrap(),
                issuer: "https://idp.example/".into(),
                audience: "tributary".into(),
                role_claim: "groups".into(),
                role_map: [("bi-analysts".to_owned(), Role::Finance)].into(),
            }),
            ..AuthConfig::default()
        }
    }

    fn claims(groups: Value) -> Value {
        let now = Utc::now().timestamp();
        json!({
            "sub": "ada@example.com", "iss": "https://idp.example/", "aud": "tributary",
            "iat": now, "exp": now + 600, "groups": groups,
        })
    }

    fn sign(alg: Algorithm, kid: &str, pem: &str, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_owned());
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        };
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    #[tokio::test]
    async fn signed_tokens_act_as_their_mapped_role() {
        with_fixtures(|store| async move {
            let app = bare(&store, config());
            let q = r#"{ accounts(first: 1, filter: {nameContains: "Acme"}) { nodes { arr { amount } people { email } } } }"#;
            // RS256, a group mapped to finance: ARR yes, emails no.
            let token = sign(Algorithm::RS256, "test-rsa", RSA, &claims(json!(["staff", "bi-analysts"])));
            let reply = as_key(&app, Some(&token), q).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
            assert_eq!(forbidden(&reply), ["accounts.nodes.#.people.#.email"], "{}", reply.text());
            // ES256, a role name as the claim value.
            let token = sign(Algorithm::ES256, "test-ec", EC, &claims(json!("cs")));
            let reply = as_key(&app, Some(&token), q).await;
            assert_eq!(forbidden(&reply), ["accounts.nodes.#.arr"], "{}", reply.text());
            // API keys still work beside tokens.
            let secret = key(&store, "k", Role::Admin).await;
            assert!(forbidden(&as_key(&app, Some(&secret), q).await).is_empty());
        })
        .await;
    }

    #[tokio::test]
    async fn tokens_that_do_not_verify_are_unauthenticated() {
        for_each_backend(|store| async move {
            let app = bare(&store, config());
            let good = claims(json!("finance"));
            let mut expired = good.clone();
            expired["exp"] = json!(Utc::now().timestamp() - 3600);
            let mut audience = good.clone();
            audience["aud"] = json!("someone-else");
            let mut issuer = good.clone();
            issuer["iss"] = json!("https://evil.example/");
            let hs256 = jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &good,
                &EncodingKey::from_secret(b"secret"),
            )
            .unwrap();
            for (what, token, says) in [
                (
                    "expired",
                    sign(Algorithm::RS256, "test-rsa", RSA, &expired),
                    "expired",
                ),
                (
                    "audience",
                    sign(Algorithm::RS256, "test-rsa", RSA, &audience),
                    "wrong audience",
                ),
                (
                    "issuer",
                    sign(Algorithm::RS256, "test-rsa", RSA, &issuer),
                    "wrong issuer",
                ),
                (
                    "foreign key",
                    sign(Algorithm::RS256, "test-rsa", OTHER_RSA, &good),
                    "bad signature",
                ),
                (
                    "unknown kid",
                    sign(Algorithm::RS256, "nope", RSA, &good),
                    "no key",
                ),
                ("hs256", hs256, "only RS256 and ES256"),
            ] {
                let reply = as_key(&app, Some(&token), "{ __typename }").await;
                assert_eq!(
                    reply.status,
                    StatusCode::UNAUTHORIZED,
                    "{what}: {}",
                    reply.text()
                );
                assert_eq!(reply.codes(), ["UNAUTHENTICATED"], "{what}");
                assert!(reply.text().contains(says), "{what}: {}", reply.text());
                assert!(
                    !reply.text().contains(&token[..20]),
                    "{what}: the token is echoed"
                );
            }
            // A good token without a known role: 403.
            let token = sign(Algorithm::RS256, "test-rsa", RSA, &claims(json!(["staff"])));
            let reply = as_key(&app, Some(&token), "{ __typename }").await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
            assert_eq!(reply.codes(), ["FORBIDDEN"]);
            // Without `[gateway.auth.jwt]` a token is just an unknown key.
            let keys_only = bare(&store, AuthConfig::default());
            let token = sign(Algorithm::RS256, "test-rsa", RSA, &good);
            assert_eq!(
                as_key(&keys_only, Some(&token), "{ __typename }")
                    .await
                    .status,
                StatusCode::UNAUTHORIZED
            );
        })
        .await;
    }
}
