//! An in-process OAuth2 token endpoint and resource server on 127.0.0.1:0, with knobs and
//! counters, for the auth and HTTP client tests.

#![allow(dead_code, clippy::unwrap_used)]

use axum::{
    Form, Json, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;
use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

pub const CLIENT_ID: &str = "3MVG9-test-consumer-key";
pub const CLIENT_SECRET: &str = "cs-0123456789-SECRET";
pub const REFRESH_TOKEN: &str = "rt-5Aep861-REFRESH";
pub const SUBJECT: &str = "integration@acme.example";
pub const PRIVATE_KEY: &str = include_str!("../fixtures/test-only-rsa-private.pem");
pub const PUBLIC_KEY: &str = include_str!("../fixtures/test-only-rsa-public.pem");
pub const OTHER_PRIVATE_KEY: &str = include_str!("../fixtures/test-only-rsa-other-private.pem");

/// A canned answer of the token endpoint, used before issuing tokens.
#[derive(Clone, Debug)]
pub enum TokenFault {
    /// HTTP 400 `{"error":"invalid_grant","error_description": <text>}`.
    InvalidGrant(String),
    /// This status with a non-JSON body.
    Status(u16),
    /// 200 with a token response cut off mid-JSON.
    Truncated,
}

/// A canned answer of the resource server, used before the normal behaviour.
#[derive(Clone, Debug)]
pub enum ResourceFault {
    /// 429 with this `Retry-After` value.
    TooMany(String),
    /// 429 with HubSpot's daily-limit body.
    DailyLimit,
}

/// The claims the endpoint saw in a JWT bearer assertion.
#[derive(Clone, Debug, Deserialize)]
pub struct SeenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
}

#[derive(Default)]
pub struct Inner {
    // Token endpoint behaviour.
    /// Expect the client id and secret in a Basic header instead of the form.
    pub expect_basic: bool,
    /// Lifetimes of the next tokens (`expires_in`); then `default_lifetime`.
    pub lifetimes: VecDeque<Option<u64>>,
    pub default_lifetime: Option<u64>,
    /// How long the token endpoint takes.
    pub token_delay: Duration,
    /// Answers before tokens are issued.
    pub token_faults: VecDeque<TokenFault>,
    /// The JWT audience the endpoint accepts.
    pub jwt_audience: String,
    /// The mock's own base URL, returned as Salesforce's `instance_url`.
    pub base_url: String,

    // Token endpoint records.
    pub token_calls: usize,
    pub forms: Vec<HashMap<String, String>>,
    pub authorizations: Vec<Option<String>>,
    pub claims: Vec<SeenClaims>,
    pub issued: Vec<String>,
    pub valid: HashSet<String>,
    pub verify_seconds: Vec<u64>,

    // Resource server behaviour.
    pub resource_delay: Duration,
    pub resource_faults: VecDeque<ResourceFault>,
    /// Refuse every token (a user whose access was withdrawn).
    pub refuse_all: bool,

    // Resource server records.
    pub resource_calls: usize,
    pub resource_401s: usize,
    pub seen_tokens: Vec<String>,
    pub in_flight: usize,
    pub max_in_flight: usize,
    pub arrivals: Vec<Instant>,
    pub seen_headers: Vec<HeaderMap>,
    pub seen_queries: Vec<String>,
}

#[derive(Clone)]
pub struct Mock {
    pub base: String,
    state: Arc<Mutex<Inner>>,
}

impl Mock {
    pub async fn start() -> Mock {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(Inner {
            default_lifetime: Some(3600),
            jwt_audience: "https://login.example".to_owned(),
            base_url: base.clone(),
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/services/oauth2/token", post(token))
            .route("/resource", get(resource).post(resource))
            .route("/open", get(open))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Mock { base, state }
    }

    pub fn token_url(&self) -> String {
        format!("{}/services/oauth2/token", self.base)
    }

    pub fn resource_url(&self) -> String {
        format!("{}/resource", self.base)
    }

    pub fn open_url(&self) -> String {
        format!("{}/open", self.base)
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap()
    }

    /// Every token issued so far stops working.
    pub fn revoke_all(&self) {
        self.lock().valid.clear();
    }
}

type Shared = State<Arc<Mutex<Inner>>>;

async fn token(
    State(state): Shared,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let delay = state.lock().unwrap().token_delay;
    tokio::time::sleep(delay).await;
    let mut s = state.lock().unwrap();
    s.token_calls += 1;
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    s.forms.push(form.clone());
    s.authorizations.push(authorization.clone());
    match s.token_faults.pop_front() {
        Some(TokenFault::InvalidGrant(description)) => return invalid_grant(&description),
        Some(TokenFault::Status(code)) => {
            return (StatusCode::from_u16(code).unwrap(), "upstream trouble").into_response();
        }
        Some(TokenFault::Truncated) => {
            return (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"access_token\":\"abc",
            )
                .into_response();
        }
        None => {}
    }
    let client_ok = if s.expect_basic {
        let expected = format!(
            "Basic {}",
            base64_encode(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes())
        );
        authorization.as_deref() == Some(expected.as_str()) && !form.contains_key("client_secret")
    } else {
        form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
    };
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    let mut extra = serde_json::Map::new();
    match grant.as_str() {
        "refresh_token" => {
            if !client_ok {
                return invalid_client();
            }
            if form.get("refresh_token").map(String::as_str) != Some(REFRESH_TOKEN) {
                return invalid_grant("expired access/refresh token");
            }
        }
        "client_credentials" => {
            if !client_ok {
                return invalid_client();
            }
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            let assertion = form.get("assertion").cloned().unwrap_or_default();
            let mut validation = Validation::new(Algorithm::RS256);
            validation.set_audience(&[s.jwt_audience.as_str()]);
            validation.set_issuer(&[CLIENT_ID]);
            validation.sub = Some(SUBJECT.to_owned());
            validation.leeway = 0;
            validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
            let key = DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
            let claims = match jsonwebtoken::decode::<SeenClaims>(&assertion, &key, &validation) {
                Ok(data) => data.claims,
                Err(_) => return invalid_grant("invalid assertion"),
            };
            let now = unix_now();
            // Salesforce: the expiry must be within three minutes.
            if claims.exp > now + 180 {
                return invalid_grant("assertion expiry too far ahead");
            }
            s.verify_seconds.push(claims.exp - now);
            s.claims.push(claims);
            // Salesforce's JWT bearer answer: no expires_in, no refresh_token, extras.
            extra.insert("instance_url".into(), json!(s.base_url));
            extra.insert(
                "id".into(),
                json!("https://login.example/id/00Dxx0000001gPL/005xx000001SwiU"),
            );
            extra.insert("issued_at".into(), json!(format!("{}000", now)));
            extra.insert("signature".into(), json!("c2lnbmF0dXJl"));
            extra.insert("scope".into(), json!("api"));
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "unsupported_grant_type", "error_description": "grant type not supported"})),
            )
                .into_response();
        }
    }
    let n = s.issued.len() + 1;
    let access = format!("at-{n}-ACCESS-{}", unix_now());
    s.issued.push(access.clone());
    s.valid.insert(access.clone());
    let mut body = serde_json::Map::new();
    body.insert("access_token".into(), json!(access));
    body.insert("token_type".into(), json!("Bearer"));
    if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        let lifetime = match s.lifetimes.pop_front() {
            Some(l) => l,
            None => s.default_lifetime,
        };
        if let Some(l) = lifetime {
            body.insert("expires_in".into(), json!(l));
        }
    }
    if grant == "refresh_token" {
        // HubSpot sends the same refresh token back.
        body.insert("refresh_token".into(), json!(REFRESH_TOKEN));
    }
    body.extend(extra);
    Json(serde_json::Value::Object(body)).into_response()
}

fn invalid_grant(description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant", "error_description": description})),
    )
        .into_response()
}

fn invalid_client() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_client", "error_description": "invalid client credentials"})),
    )
        .into_response()
}

async fn resource(State(state): Shared, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let (fault, delay) = {
        let mut s = state.lock().unwrap();
        s.resource_calls += 1;
        s.arrivals.push(Instant::now());
        s.seen_headers.push(headers.clone());
        s.seen_queries
            .push(uri.query().unwrap_or_default().to_owned());
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        if let Some(t) = &token {
            s.seen_tokens.push(t.clone());
        }
        if let Some(fault) = s.resource_faults.pop_front() {
            (Some(fault), Duration::ZERO)
        } else {
            let ok = !s.refuse_all && token.is_some_and(|t| s.valid.contains(&t));
            if !ok {
                s.resource_401s += 1;
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])),
                )
                    .into_response();
            }
            s.in_flight += 1;
            s.max_in_flight = s.max_in_flight.max(s.in_flight);
            (None, s.resource_delay)
        }
    };
    if let Some(fault) = fault {
        return fault_response(fault);
    }
    tokio::time::sleep(delay).await;
    let n = {
        let mut s = state.lock().unwrap();
        s.in_flight -= 1;
        s.resource_calls
    };
    quota_headers(Json(json!({"ok": true, "n": n})).into_response())
}

/// No auth; counts concurrency and arrivals.
async fn open(State(state): Shared, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let (fault, delay) = {
        let mut s = state.lock().unwrap();
        s.resource_calls += 1;
        s.arrivals.push(Instant::now());
        s.seen_headers.push(headers);
        s.seen_queries
            .push(uri.query().unwrap_or_default().to_owned());
        match s.resource_faults.pop_front() {
            Some(fault) => (Some(fault), Duration::ZERO),
            None => {
                s.in_flight += 1;
                s.max_in_flight = s.max_in_flight.max(s.in_flight);
                (None, s.resource_delay)
            }
        }
    };
    if let Some(fault) = fault {
        return fault_response(fault);
    }
    tokio::time::sleep(delay).await;
    state.lock().unwrap().in_flight -= 1;
    quota_headers(Json(json!({"ok": true})).into_response())
}

fn fault_response(fault: ResourceFault) -> Response {
    match fault {
        ResourceFault::TooMany(retry_after) => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response();
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_str(&retry_after).unwrap());
            r
        }
        ResourceFault::DailyLimit => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(
                    json!({"status": "error", "message": "You have reached your daily limit.",
                    "errorType": "RATE_LIMIT", "policyName": "DAILY"}),
                ),
            )
                .into_response();
            r.headers_mut().insert(
                "x-hubspot-ratelimit-daily-remaining",
                HeaderValue::from_static("0"),
            );
            r.headers_mut().insert(
                "x-hubspot-ratelimit-daily",
                HeaderValue::from_static("250000"),
            );
            r
        }
    }
}

fn quota_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        "x-hubspot-ratelimit-remaining",
        HeaderValue::from_static("97"),
    );
    h.insert("x-hubspot-ratelimit-max", HeaderValue::from_static("100"));
    h.insert(
        "sforce-limit-info",
        HeaderValue::from_static("api-usage=18/15000"),
    );
    r
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Standard base64 with padding, enough for a Basic header.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
