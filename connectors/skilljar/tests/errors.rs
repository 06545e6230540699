//! The connector against the mock's refusals, over HTTP: a wrong key is an auth error, a list
//! endpoint the deployment does not serve is a configuration error naming it, and 429s are
//! waited out.

use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tributary_connector::{Connector, ConnectorError, DynKind, HttpClientConfig, SyncMode};
use tributary_mock_kit::{Faults, MockServer, Schedule, VendorMock};
use tributary_mock_skilljar::{DEFAULT_API_KEY, SkilljarMock};
use tributary_sim::{Company, SimConfig};

async fn serve(faults: Faults) -> (SkilljarMock, MockServer) {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: 15,
        ..SimConfig::default()
    }));
    let mock = SkilljarMock::new(company, faults);
    let server = MockServer::start(mock.router()).await.expect("a port");
    (mock, server)
}

fn connector(settings: Value) -> Box<dyn Connector> {
    tributary_connector_skilljar::DECLARATION
        .build("academy", settings, HttpClientConfig::default())
        .expect("the connector builds")
}

async fn first_error(conn: &dyn Connector, stream: &str) -> Option<ConnectorError> {
    let spec = conn
        .streams()
        .into_iter()
        .find(|s| s.name == stream)
        .expect("the stream");
    let mut read = conn.read(&spec, SyncMode::FullRefresh, None);
    while let Some(item) = read.next().await {
        if let Err(e) = item {
            return Some(e);
        }
    }
    None
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_and_the_right_one_passes_the_check() {
    let (_mock, server) = serve(Faults::none()).await;
    let good = connector(json!({ "endpoint": server.base_url, "api_key": DEFAULT_API_KEY }));
    good.check().await.expect("the key is accepted");
    let bad = connector(json!({ "endpoint": server.base_url, "api_key": "not-the-key" }));
    match bad.check().await {
        Err(ConnectorError::Auth { status, .. }) => assert_eq!(status, 401),
        other => panic!("an auth error, got {other:?}"),
    }
    match first_error(bad.as_ref(), "users").await {
        Some(ConnectorError::Auth { status: 401, .. }) => {}
        other => panic!("an auth error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_404_on_a_list_endpoint_is_a_configuration_error_naming_it() {
    let (_mock, server) = serve(Faults::none()).await;
    let conn = connector(json!({
        "endpoint": server.base_url,
        "api_key": DEFAULT_API_KEY,
        "domains": ["wrong.example.com"],
    }));
    match first_error(conn.as_ref(), "courses").await {
        Some(ConnectorError::Config { message, .. }) => {
            assert!(
                message.contains("/v1/domains/wrong.example.com/published-courses"),
                "{message}"
            );
        }
        other => panic!("a configuration error, got {other:?}"),
    }
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_the_read_completes() {
    let faults = Faults::none()
        .with_rate_limit(Schedule::burst(2, 1).repeating_every(5))
        .with_retry_after_secs(0);
    let (mock, server) = serve(faults).await;
    let conn = connector(json!({ "endpoint": server.base_url, "api_key": DEFAULT_API_KEY }));
    assert!(first_error(conn.as_ref(), "enrollments").await.is_none());
    assert!(mock.faults().stats().rate_limited > 0);
}
