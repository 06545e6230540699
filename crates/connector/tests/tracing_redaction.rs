//! Everything the HTTP client and token manager log — at every level, dependencies included —
//! during token requests, refreshes, authenticated requests and a refused grant holds no secret.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use secrecy::SecretString;
use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};
use tracing_subscriber::fmt::MakeWriter;
use tributary_connector::{
    Auth, Grant, HttpClient, HttpClientConfig, JwtBearer, OAuth2Config, TokenManager,
};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

// A current-thread runtime: the server, the client and the subscriber share one thread, so the
// thread-local subscriber sees every event.
#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(buffer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mock = Mock::start().await;
    let config = HttpClientConfig {
        initial_backoff: Duration::from_millis(10),
        ..HttpClientConfig::default()
    };

    // Refresh-token grant: first token, a request, a revocation, a 401 and the refresh after it.
    let refresh = TokenManager::new(
        OAuth2Config::new(
            "sfdc-test",
            mock.token_url(),
            CLIENT_ID,
            Grant::RefreshToken {
                refresh_token: secret(REFRESH_TOKEN),
            },
        )
        .with_client_secret(secret(CLIENT_SECRET)),
    )
    .unwrap();
    let http = HttpClient::new(config.clone(), Auth::OAuth2(refresh.clone())).unwrap();
    http.get_json(&mock.resource_url(), &[]).await.unwrap();
    mock.revoke_all();
    http.get_json(&mock.resource_url(), &[]).await.unwrap();
    tracing::info!(manager = ?refresh, auth = ?http.auth(), client = ?http, "debug output of the client");

    // JWT bearer grant.
    let jwt = HttpClient::new(
        config.clone(),
        Auth::OAuth2(
            TokenManager::new(OAuth2Config::new(
                "sfdc-jwt",
                mock.token_url(),
                CLIENT_ID,
                Grant::JwtBearer(JwtBearer::new(
                    secret(PRIVATE_KEY),
                    SUBJECT,
                    "https://login.example",
                )),
            ))
            .unwrap(),
        ),
    )
    .unwrap();
    jwt.get_json(&mock.resource_url(), &[]).await.unwrap();
    let extras = jwt.token_manager().unwrap().extras().await.unwrap();
    tracing::info!(?extras, "extras");

    // A refused grant, logged by the manager and by us.
    mock.lock()
        .token_faults
        .push_back(TokenFault::InvalidGrant(format!(
            "authentication failure for {REFRESH_TOKEN}"
        )));
    let refused = HttpClient::new(
        config,
        Auth::OAuth2(
            TokenManager::new(
                OAuth2Config::new(
                    "sfdc-refused",
                    mock.token_url(),
                    CLIENT_ID,
                    Grant::RefreshToken {
                        refresh_token: secret(REFRESH_TOKEN),
                    },
                )
                .with_client_secret(secret(CLIENT_SECRET)),
            )
            .unwrap(),
        ),
    )
    .unwrap();
    let err = refused
        .get_json(&mock.resource_url(), &[])
        .await
        .unwrap_err();
    tracing::error!(error = %err, debug = ?err, "sync failed");

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    // The capture works and covers what matters, so the absence checks below mean something.
    for expected in [
        "requesting access token",
        "access token obtained",
        "access token refused; refreshing it once",
        "http response",
        "access token request failed",
        "failed to refresh token for connector `sfdc-refused`",
        "status=401",
        "instance_url",
    ] {
        assert!(logs.contains(expected), "missing `{expected}` in:\n{logs}");
    }
    let mut secrets = vec![
        CLIENT_SECRET.to_owned(),
        REFRESH_TOKEN.to_owned(),
        "BEGIN PRIVATE KEY".to_owned(),
        "c2lnbmF0dXJl".to_owned(),
    ];
    let s = mock.lock();
    assert_eq!(s.issued.len(), 3);
    secrets.extend(s.issued.iter().cloned());
    // Each JWT assertion sent.
    secrets.extend(s.forms.iter().filter_map(|f| f.get("assertion").cloned()));
    assert!(secrets.len() >= 8);
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "`{secret}` leaked into the logs:\n{logs}"
        );
    }
}
