//! A quota observer classifying a refusal as the vendor's throttle ([`QuotaVerdict::Throttled`]):
//! Canvas answers a drained rate bucket with `403 Forbidden (Rate Limit Exceeded)`, which must
//! be retried like a 429, while a real permission 403 stays an auth failure.

#![allow(clippy::unwrap_used)]

use axum::{Router, http::StatusCode, response::IntoResponse, routing::get};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tributary_connector::{
    Auth, ConnectorError, ErrorClass, HttpClient, HttpClientConfig, ObservedResponse, QuotaVerdict,
};

/// What the server answers, in order; then 200s.
#[derive(Clone, Copy)]
enum Answer {
    Throttle,
    Forbidden,
}

struct Server {
    url: String,
    calls: Arc<Mutex<u32>>,
    _task: tokio::task::JoinHandle<()>,
}

async fn serve(answers: Vec<Answer>) -> Server {
    let queue = Arc::new(Mutex::new(VecDeque::from(answers)));
    let calls = Arc::new(Mutex::new(0u32));
    let counted = calls.clone();
    let app = Router::new().route(
        "/r",
        get(move || {
            let queue = queue.clone();
            let counted = counted.clone();
            async move {
                *counted.lock().unwrap() += 1;
                match queue.lock().unwrap().pop_front() {
                    Some(Answer::Throttle) => (
                        StatusCode::FORBIDDEN,
                        [
                            ("content-type", "text/plain"),
                            ("x-rate-limit-remaining", "0.0"),
                        ],
                        "403 Forbidden (Rate Limit Exceeded)",
                    )
                        .into_response(),
                    Some(Answer::Forbidden) => (
                        StatusCode::FORBIDDEN,
                        [("content-type", "application/json")],
                        r#"{"errors":[{"message":"user not authorized to perform that action"}]}"#,
                    )
                        .into_response(),
                    None => (StatusCode::OK, [("content-type", "application/json")], "[]")
                        .into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/r", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        url,
        calls,
        _task: task,
    }
}

fn client() -> HttpClient {
    HttpClient::new(
        HttpClientConfig {
            initial_backoff: Duration::from_millis(5),
            ..HttpClientConfig::default()
        },
        Auth::None,
    )
    .unwrap()
}

/// What a Canvas connector installs.
fn canvas_throttle(r: &ObservedResponse<'_>) -> QuotaVerdict {
    if r.status == 403 && String::from_utf8_lossy(r.body).contains("Rate Limit Exceeded") {
        QuotaVerdict::Throttled
    } else {
        QuotaVerdict::Continue
    }
}

#[tokio::test]
async fn a_throttle_403_is_retried_like_a_429() {
    let server = serve(vec![Answer::Throttle, Answer::Throttle]).await;
    let http = client().with_quota_observer(canvas_throttle);
    let resp = http.get_json(&server.url, &[]).await.unwrap();
    assert_eq!(resp.body, serde_json::json!([]));
    assert_eq!(*server.calls.lock().unwrap(), 3);
}

#[tokio::test]
async fn a_permission_403_stays_an_auth_failure() {
    let server = serve(vec![Answer::Forbidden]).await;
    let http = client().with_quota_observer(canvas_throttle);
    let err = http.get_json(&server.url, &[]).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(*server.calls.lock().unwrap(), 1, "not retried");
}

#[tokio::test]
async fn without_the_classifier_a_throttle_403_is_an_auth_failure() {
    let server = serve(vec![Answer::Throttle]).await;
    let err = client().get_json(&server.url, &[]).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Auth, "{err:?}");
    assert_eq!(*server.calls.lock().unwrap(), 1);
}

#[tokio::test]
async fn a_throttle_that_never_lifts_ends_as_rate_limited() {
    let server = serve(vec![Answer::Throttle; 20]).await;
    let http = HttpClient::new(
        HttpClientConfig {
            initial_backoff: Duration::from_millis(1),
            max_retries: 2,
            ..HttpClientConfig::default()
        },
        Auth::None,
    )
    .unwrap()
    .with_quota_observer(canvas_throttle);
    let err = http.get_json(&server.url, &[]).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::RateLimited, "{err:?}");
    assert_eq!(*server.calls.lock().unwrap(), 3);
}
