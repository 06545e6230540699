//! The OAuth2 token manager driven through the HTTP client, against an in-process token endpoint
//! and resource server.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use futures::future::join_all;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use tributary_connector::{
    Auth, ClientAuth, ConnectorError, Grant, HttpClient, HttpClientConfig, JwtBearer, OAuth2Config,
    TokenManager,
};

const INSTANCE: &str = "sfdc-test";

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn refresh_config(mock: &Mock) -> OAuth2Config {
    OAuth2Config::new(
        INSTANCE,
        mock.token_url(),
        CLIENT_ID,
        Grant::RefreshToken {
            refresh_token: secret(REFRESH_TOKEN),
        },
    )
    .with_client_secret(secret(CLIENT_SECRET))
}

fn jwt_config(mock: &Mock, key: &str) -> OAuth2Config {
    OAuth2Config::new(
        INSTANCE,
        mock.token_url(),
        CLIENT_ID,
        Grant::JwtBearer(JwtBearer::new(
            secret(key),
            SUBJECT,
            "https://login.example",
        )),
    )
}

fn fast_retries() -> HttpClientConfig {
    HttpClientConfig {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..HttpClientConfig::default()
    }
}

fn client(config: OAuth2Config) -> HttpClient {
    HttpClient::new(
        fast_retries(),
        Auth::OAuth2(TokenManager::new(config).unwrap()),
    )
    .unwrap()
}

#[tokio::test]
async fn refresh_token_grant_issues_a_bearer_token_that_is_reused_while_valid() {
    let mock = Mock::start().await;
    let http = client(refresh_config(&mock));
    for _ in 0..3 {
        let resp = http.get_json(&mock.resource_url(), &[]).await.unwrap();
        assert_eq!(resp.body["ok"], true);
    }
    let s = mock.lock();
    assert_eq!(s.token_calls, 1, "an hour-long token is fetched once");
    assert_eq!(s.seen_tokens, vec![s.issued[0].clone(); 3]);
    let form = &s.forms[0];
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], REFRESH_TOKEN);
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert_eq!(s.authorizations[0], None);
}

#[tokio::test]
async fn a_401_causes_exactly_one_refresh_and_a_successful_retry() {
    let mock = Mock::start().await;
    let http = client(refresh_config(&mock));
    http.get_json(&mock.resource_url(), &[]).await.unwrap();
    mock.revoke_all();
    let resp = http.get_json(&mock.resource_url(), &[]).await.unwrap();
    assert_eq!(resp.body["ok"], true);
    let s = mock.lock();
    assert_eq!(s.token_calls, 2);
    assert_eq!(s.resource_401s, 1);
    assert_eq!(
        s.seen_tokens,
        vec![
            s.issued[0].clone(),
            s.issued[0].clone(),
            s.issued[1].clone()
        ]
    );
}

#[tokio::test]
async fn a_second_401_after_the_refresh_is_an_auth_error() {
    let mock = Mock::start().await;
    mock.lock().refuse_all = true;
    let http = client(refresh_config(&mock));
    let err = http.get_json(&mock.resource_url(), &[]).await.unwrap_err();
    assert!(
        matches!(
            &err,
            ConnectorError::Auth {
                status: 401,
                token_for: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("INVALID_SESSION_ID"), "{err}");
    let s = mock.lock();
    assert_eq!(s.token_calls, 2, "one token, then exactly one refresh");
    assert_eq!(s.resource_calls, 2, "the request is retried once");
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_use() {
    let mock = Mock::start().await;
    // The first token lives 61 s; with a 60 s skew it needs replacing after one second.
    mock.lock().lifetimes.push_back(Some(61));
    let http = client(refresh_config(&mock));
    http.get_json(&mock.resource_url(), &[]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    http.get_json(&mock.resource_url(), &[]).await.unwrap();
    let s = mock.lock();
    assert_eq!(s.token_calls, 2);
    assert_eq!(
        s.resource_401s, 0,
        "refreshed before the vendor had to refuse it"
    );
    assert_eq!(
        s.seen_tokens,
        vec![s.issued[0].clone(), s.issued[1].clone()]
    );
}

#[tokio::test]
async fn twenty_concurrent_requests_on_an_expired_token_share_one_refresh() {
    let mock = Mock::start().await;
    {
        let mut s = mock.lock();
        s.lifetimes.push_back(Some(61));
        s.token_delay = Duration::from_millis(200);
    }
    let http = client(refresh_config(&mock));
    http.get_json(&mock.resource_url(), &[]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let url = mock.resource_url();
    let results = join_all((0..20).map(|_| http.get_json(&url, &[]))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let s = mock.lock();
    assert_eq!(s.token_calls, 2, "one initial token and one shared refresh");
    assert_eq!(s.resource_401s, 0);
    assert!(s.seen_tokens[1..].iter().all(|t| *t == s.issued[1]));
}

#[tokio::test]
async fn twenty_concurrent_first_requests_fetch_one_token() {
    let mock = Mock::start().await;
    mock.lock().token_delay = Duration::from_millis(200);
    let http = client(refresh_config(&mock));
    let url = mock.resource_url();
    let results = join_all((0..20).map(|_| http.get_json(&url, &[]))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(mock.lock().token_calls, 1);
}

#[tokio::test]
async fn twenty_concurrent_401s_share_one_refresh() {
    let mock = Mock::start().await;
    let http = client(refresh_config(&mock));
    http.get_json(&mock.resource_url(), &[]).await.unwrap();
    {
        let mut s = mock.lock();
        s.token_delay = Duration::from_millis(200);
        s.valid.clear();
    }
    let url = mock.resource_url();
    let results = join_all((0..20).map(|_| http.get_json(&url, &[]))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let s = mock.lock();
    assert_eq!(s.token_calls, 2, "the revoked token is replaced once");
    assert_eq!(s.resource_401s, 20, "every request met the revoked token");
}

#[tokio::test]
async fn client_credentials_grant_with_basic_client_auth_and_scopes() {
    let mock = Mock::start().await;
    mock.lock().expect_basic = true;
    let mut config = OAuth2Config::new(
        INSTANCE,
        mock.token_url(),
        CLIENT_ID,
        Grant::ClientCredentials,
    )
    .with_client_secret(secret(CLIENT_SECRET));
    config.client_auth = ClientAuth::BasicHeader;
    config.scopes = vec!["crm.read".to_owned(), "crm.write".to_owned()];
    let http = client(config);
    http.get_json(&mock.resource_url(), &[]).await.unwrap();
    let s = mock.lock();
    assert_eq!(s.token_calls, 1);
    let form = &s.forms[0];
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "crm.read crm.write");
    assert!(!form.contains_key("client_secret"));
    assert!(
        s.authorizations[0]
            .as_deref()
            .unwrap()
            .starts_with("Basic ")
    );
    assert_eq!(s.seen_tokens, vec![s.issued[0].clone()]);
}

#[tokio::test]
async fn client_credentials_with_a_wrong_secret_is_refused() {
    let mock = Mock::start().await;
    let config = OAuth2Config::new(
        INSTANCE,
        mock.token_url(),
        CLIENT_ID,
        Grant::ClientCredentials,
    )
    .with_client_secret(secret("not-the-secret"));
    let err = client(config)
        .get_json(&mock.resource_url(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Auth { status: 400, token_for: Some(i), .. } if i == INSTANCE),
        "{err:?}"
    );
    assert!(err.to_string().contains("invalid_client"), "{err}");
    assert!(!err.to_string().contains("not-the-secret"));
}

#[tokio::test]
async fn jwt_bearer_grant_signs_a_verifiable_assertion_and_exposes_instance_url() {
    let mock = Mock::start().await;
    let manager = TokenManager::new(jwt_config(&mock, PRIVATE_KEY)).unwrap();
    let http = HttpClient::new(fast_retries(), Auth::OAuth2(manager.clone())).unwrap();

    let extras = manager.extras().await.unwrap();
    assert_eq!(extras.instance_url(), Some(mock.base.as_str()));
    assert!(extras.get_str("issued_at").is_some());
    let instance_url = http
        .token_manager()
        .unwrap()
        .extras()
        .await
        .unwrap()
        .instance_url()
        .unwrap()
        .to_owned();
    for _ in 0..3 {
        http.get_json(&format!("{instance_url}/resource"), &[])
            .await
            .unwrap();
    }
    {
        let s = mock.lock();
        assert_eq!(
            s.token_calls, 1,
            "no expires_in: the token is used until refused"
        );
        let form = &s.forms[0];
        assert_eq!(
            form["grant_type"],
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        );
        assert!(!form.contains_key("client_secret"));
        let claims = &s.claims[0];
        assert_eq!(claims.iss, CLIENT_ID);
        assert_eq!(claims.sub, SUBJECT);
        assert_eq!(claims.aud, "https://login.example");
        assert!(
            (1..=180).contains(&s.verify_seconds[0]),
            "exp is at most three minutes ahead: {}",
            s.verify_seconds[0]
        );
    }
    // Salesforce issues no refresh token: a refused session means a new assertion.
    mock.revoke_all();
    http.get_json(&format!("{instance_url}/resource"), &[])
        .await
        .unwrap();
    let s = mock.lock();
    assert_eq!(s.token_calls, 2);
    assert_eq!(s.claims.len(), 2, "a second assertion was verified");
}

#[tokio::test]
async fn jwt_signed_with_the_wrong_key_or_for_the_wrong_audience_is_refused() {
    let mock = Mock::start().await;
    let err = client(jwt_config(&mock, OTHER_PRIVATE_KEY))
        .get_json(&mock.resource_url(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ConnectorError::Auth {
                status: 400,
                token_for: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("invalid_grant"), "{err}");

    mock.lock().jwt_audience = "https://test.example".to_owned();
    let err = client(jwt_config(&mock, PRIVATE_KEY))
        .get_json(&mock.resource_url(), &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    let s = mock.lock();
    assert_eq!(s.token_calls, 2);
    assert!(s.claims.is_empty(), "no assertion passed verification");
    assert_eq!(s.resource_calls, 0);
}

#[tokio::test]
async fn invalid_grant_is_an_auth_error_that_names_the_connector_and_holds_no_secret() {
    let mock = Mock::start().await;
    mock.lock().token_faults.push_back(TokenFault::InvalidGrant(
        "authentication failure".to_owned(),
    ));
    let err = client(refresh_config(&mock))
        .get_json(&mock.resource_url(), &[])
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.starts_with(
            "failed to refresh token for connector `sfdc-test`: invalid_grant: authentication failure"
        ),
        "{shown}"
    );
    assert!(!err.is_retryable());
    let debug = format!("{err:?}");
    for s in [REFRESH_TOKEN, CLIENT_SECRET] {
        assert!(!shown.contains(s) && !debug.contains(s), "{s} leaked");
    }
    let s = mock.lock();
    assert_eq!(s.token_calls, 1, "a refused grant is not retried");
    assert_eq!(s.resource_calls, 0);
}

#[tokio::test]
async fn secrets_echoed_by_the_token_endpoint_are_scrubbed() {
    let mock = Mock::start().await;
    mock.lock()
        .token_faults
        .push_back(TokenFault::InvalidGrant(format!(
            "refresh token {REFRESH_TOKEN} for client secret {CLIENT_SECRET} is revoked"
        )));
    let err = client(refresh_config(&mock))
        .get_json(&mock.resource_url(), &[])
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(
        !shown.contains(REFRESH_TOKEN) && !shown.contains(CLIENT_SECRET),
        "{shown}"
    );
}

#[tokio::test]
async fn a_failing_token_endpoint_is_retried_with_backoff() {
    let mock = Mock::start().await;
    mock.lock()
        .token_faults
        .extend([TokenFault::Status(503), TokenFault::Status(502)]);
    let resp = client(refresh_config(&mock))
        .get_json(&mock.resource_url(), &[])
        .await
        .unwrap();
    assert_eq!(resp.body["ok"], true);
    assert_eq!(mock.lock().token_calls, 3);
}

#[tokio::test]
async fn a_token_response_cut_short_is_retried() {
    let mock = Mock::start().await;
    mock.lock()
        .token_faults
        .extend([TokenFault::Truncated, TokenFault::Truncated]);
    let resp = client(refresh_config(&mock))
        .get_json(&mock.resource_url(), &[])
        .await
        .unwrap();
    assert_eq!(resp.body["ok"], true);
    assert_eq!(mock.lock().token_calls, 3);
}

#[tokio::test]
async fn the_manager_hands_out_tokens_directly() {
    let mock = Mock::start().await;
    let manager = TokenManager::new(refresh_config(&mock)).unwrap();
    let first = manager.token().await.unwrap();
    assert_eq!(first.generation(), 1);
    assert_eq!(first.secret().expose_secret(), mock.lock().issued[0]);
    let again = manager.token().await.unwrap();
    assert_eq!(again.generation(), 1);
    // Two rejections of the same token: the second finds it already replaced.
    let second = manager.refresh_after_rejection(&first).await.unwrap();
    let third = manager.refresh_after_rejection(&first).await.unwrap();
    assert_eq!(second.generation(), 2);
    assert_eq!(third.generation(), 2);
    assert_eq!(mock.lock().token_calls, 2);
}

#[tokio::test]
async fn calls_go_to_the_token_responses_instance_url_else_the_endpoint() {
    let mock = Mock::start().await;
    let jwt = TokenManager::new(jwt_config(&mock, PRIVATE_KEY)).unwrap();
    let http = HttpClient::new(fast_retries(), Auth::OAuth2(jwt)).unwrap();
    let url = http.instance_url("https://login.example").await.unwrap();
    assert_eq!(url, mock.base.trim_end_matches('/'));
    // The refresh-token answer of this mock names no instance.
    let err = client(refresh_config(&mock))
        .instance_url("https://login.example")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no `instance_url`"), "{err}");
    let bearer = HttpClient::new(fast_retries(), Auth::Bearer(secret("00D!x"))).unwrap();
    let url = bearer.instance_url("https://org.example/").await.unwrap();
    assert_eq!(url, "https://org.example");
}

/// The path Salesforce's Bulk API 2.0 reads take: `instance_url` from the token response's
/// extras, then CSV result pages through `send_bytes`/`send_decoded`. A token response cut
/// short must be retried on every step of it, the first token request included.
#[tokio::test]
async fn a_token_response_cut_short_is_retried_on_the_bulk_path() {
    let mock = Mock::start().await;
    mock.lock().token_faults.extend([TokenFault::Truncated]);
    let http = client(refresh_config(&mock));
    let manager = http.token_manager().unwrap().clone();
    let extras = manager.extras().await.unwrap();
    assert!(extras.get("access_token").is_none());
    let request = tributary_connector::HttpRequest::get(mock.resource_url());
    let page = http.send_bytes(&request).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&page.body).unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(mock.lock().token_calls, 2);

    // A token the vendor refuses mid-read, whose replacement is cut short: the read goes on,
    // and extras asked for meanwhile are the replacement's.
    mock.revoke_all();
    mock.lock()
        .token_faults
        .extend([TokenFault::Truncated, TokenFault::Truncated]);
    let decoded = http
        .send_decoded(&request, |_, bytes| Ok(bytes.len()))
        .await
        .unwrap();
    assert!(decoded.body > 0);
    manager.extras().await.unwrap();
    assert_eq!(mock.lock().token_calls, 5);
}

/// Extras asked for while no token is cached (the first call of a read, or right after a 401
/// dropped the token) fetch one; a response cut short is retried there too.
#[tokio::test]
async fn extras_retry_a_token_response_cut_short() {
    let mock = Mock::start().await;
    mock.lock()
        .token_faults
        .extend([TokenFault::Truncated, TokenFault::Status(503)]);
    let manager = TokenManager::new(refresh_config(&mock)).unwrap();
    manager.extras().await.unwrap();
    assert_eq!(mock.lock().token_calls, 3);
}
