//! The HTTP client's rate budget, in-flight bound, `Retry-After`, static credentials and quota
//! hooks, against an in-process server.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use futures::future::join_all;
use secrecy::SecretString;
use std::{
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tributary_connector::{
    Auth, ConnectorError, ErrorClass, HttpClient, HttpClientConfig, QuotaVerdict, QuotaWindow,
    RateLimit, quota_readings,
};

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn open_client(config: HttpClientConfig) -> HttpClient {
    HttpClient::new(config, Auth::None).unwrap()
}

#[tokio::test]
async fn the_rate_limit_spaces_requests() {
    let mock = Mock::start().await;
    let http = open_client(HttpClientConfig {
        rate_limit: Some(RateLimit::per_second(nz(5)).with_burst(nz(1))),
        ..HttpClientConfig::default()
    });
    let started = Instant::now();
    for _ in 0..6 {
        http.get_json(&mock.open_url(), &[]).await.unwrap();
    }
    // Six requests at one per 200 ms need five intervals; only a lower bound is asserted.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    let s = mock.lock();
    let span = *s.arrivals.last().unwrap() - s.arrivals[0];
    assert!(span >= Duration::from_millis(900), "{span:?}");
}

#[tokio::test]
async fn an_exhausted_budget_holds_requests_back() {
    let mock = Mock::start().await;
    // Two requests per minute, both at once: a third must wait about 30 s.
    let http = open_client(HttpClientConfig {
        rate_limit: Some(RateLimit::per_interval(nz(2), Duration::from_secs(60))),
        ..HttpClientConfig::default()
    });
    let url = mock.open_url();
    let all = join_all((0..3).map(|_| http.get_json(&url, &[])));
    let outcome = tokio::time::timeout(Duration::from_millis(700), all).await;
    assert!(outcome.is_err(), "the third request cannot have finished");
    assert_eq!(mock.lock().resource_calls, 2);
    // Clones share the budget.
    let clone = http.clone();
    let third = tokio::time::timeout(Duration::from_millis(300), clone.get_json(&url, &[])).await;
    assert!(third.is_err());
    assert_eq!(mock.lock().resource_calls, 2);
}

#[tokio::test]
async fn the_semaphore_caps_requests_in_flight() {
    let mock = Mock::start().await;
    mock.lock().resource_delay = Duration::from_millis(100);
    let http = open_client(HttpClientConfig {
        max_in_flight: 3,
        ..HttpClientConfig::default()
    });
    let url = mock.open_url();
    let results = join_all((0..12).map(|_| http.get_json(&url, &[]))).await;
    assert!(results.iter().all(Result::is_ok));
    let s = mock.lock();
    assert_eq!(s.resource_calls, 12);
    assert_eq!(
        s.max_in_flight, 3,
        "never more than three, and three were reached"
    );
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let mock = Mock::start().await;
    let when = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc2822();
    mock.lock()
        .resource_faults
        .push_back(ResourceFault::TooMany(when));
    let http = open_client(HttpClientConfig {
        initial_backoff: Duration::from_millis(10),
        ..HttpClientConfig::default()
    });
    let started = Instant::now();
    http.get_json(&mock.open_url(), &[]).await.unwrap();
    // The date has one-second resolution, so the wait is between one and two seconds; the
    // client's own backoff would have been 10 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(mock.lock().resource_calls, 2);
}

#[tokio::test]
async fn static_credentials_are_sent() {
    let mock = Mock::start().await;
    let key = || SecretString::from("key-123".to_owned());
    for auth in [
        Auth::ApiKeyHeader {
            name: reqwest::header::HeaderName::from_static("x-api-key"),
            value: key(),
        },
        Auth::ApiKeyQuery {
            name: "wstoken".to_owned(),
            value: key(),
        },
        Auth::Basic {
            username: "agent@example.com/token".to_owned(),
            password: key(),
        },
        Auth::Bearer(key()),
    ] {
        HttpClient::new(HttpClientConfig::default(), auth)
            .unwrap()
            .get_json(&mock.open_url(), &[("page", "2".to_owned())])
            .await
            .unwrap();
    }
    let s = mock.lock();
    let header = |i: usize, name: &str| {
        s.seen_headers[i]
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(header(0, "x-api-key").as_deref(), Some("key-123"));
    assert_eq!(header(0, "authorization"), None);
    assert_eq!(s.seen_queries[1], "page=2&wstoken=key-123");
    assert_eq!(
        header(2, "authorization"),
        Some(format!(
            "Basic {}",
            base64_encode(b"agent@example.com/token:key-123")
        ))
    );
    assert_eq!(
        header(3, "authorization").as_deref(),
        Some("Bearer key-123")
    );
}

#[tokio::test]
async fn quota_headers_reach_callers_and_observers() {
    let mock = Mock::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let http = open_client(HttpClientConfig::default()).with_quota_observer(
        move |r: &tributary_connector::ObservedResponse<'_>| {
            record
                .lock()
                .unwrap()
                .push((r.status.as_u16(), quota_readings(r.headers)));
            QuotaVerdict::Continue
        },
    );
    let resp = http.get_json(&mock.open_url(), &[]).await.unwrap();
    assert_eq!(
        resp.headers["x-hubspot-ratelimit-remaining"], "97",
        "callers read the vendor's headers"
    );
    let readings = quota_readings(&resp.headers);
    assert!(
        readings
            .iter()
            .any(|r| r.window == QuotaWindow::Daily && r.remaining == 14982.0)
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, 200);
    assert_eq!(seen[0].1, readings);
}

#[tokio::test]
async fn an_observer_ends_a_request_on_an_exhausted_daily_quota_without_retrying() {
    let mock = Mock::start().await;
    mock.lock()
        .resource_faults
        .push_back(ResourceFault::DailyLimit);
    let http = open_client(HttpClientConfig {
        initial_backoff: Duration::from_millis(10),
        ..HttpClientConfig::default()
    })
    .with_quota_observer(|r: &tributary_connector::ObservedResponse<'_>| {
        // What a HubSpot connector would say: a 429 of the DAILY policy will not lift today.
        let body: serde_json::Value = serde_json::from_slice(r.body).unwrap_or_default();
        if r.status == 429 && body["policyName"] == "DAILY" {
            QuotaVerdict::Exhausted {
                message: "daily limit reached".to_owned(),
                resume_at: None,
            }
        } else {
            QuotaVerdict::Continue
        }
    });
    let err = http.get_json(&mock.open_url(), &[]).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::QuotaExhausted { message, .. } if message == "daily limit reached"),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::RateLimited);
    assert_eq!(mock.lock().resource_calls, 1, "not retried");

    // Without the observer the same 429 is an ordinary, retried throttle.
    mock.lock()
        .resource_faults
        .push_back(ResourceFault::DailyLimit);
    let plain = open_client(HttpClientConfig {
        initial_backoff: Duration::from_millis(10),
        ..HttpClientConfig::default()
    });
    plain.get_json(&mock.open_url(), &[]).await.unwrap();
    assert_eq!(mock.lock().resource_calls, 3);
}
