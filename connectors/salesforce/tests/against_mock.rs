//! The Salesforce connector against the simulator's Salesforce mock: paging, instance_url,
//! resumable state, incremental reads with deletes, the daily limit, expiring sessions and the
//! JWT bearer grant.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use futures::StreamExt;
use serde_json::{Value, json};
use std::{collections::HashSet, sync::Arc};
use tributary_connector::{
    Connector, ConnectorContext, ConnectorError, HttpClient, HttpClientConfig, ReadItem,
    StreamState, SyncMode,
};
use tributary_connector_salesforce::{SalesforceConfig, SalesforceConnector, http_auth};
use tributary_sim::{
    Company, DealStage, Faults, MockServer, SimConfig,
    salesforce::{SObject, SalesforceMock, SalesforceMockConfig, TOKEN_PATH, salesforce_id},
};

fn company() -> Arc<Company> {
    Arc::new(Company::generate(&SimConfig {
        accounts: 60,
        ..SimConfig::default()
    }))
}

async fn serve(
    company: &Arc<Company>,
    config: SalesforceMockConfig,
) -> (SalesforceMock, MockServer) {
    let mock = SalesforceMock::new(company.clone(), config);
    let server = MockServer::start(mock.router()).await.unwrap();
    (mock, server)
}

fn small_batches() -> SalesforceMockConfig {
    SalesforceMockConfig {
        batch_size: 50,
        ..SalesforceMockConfig::default()
    }
}

/// A connector whose `endpoint` (the login URL) is unreachable: every REST call must go to
/// the `instance_url` from the token response.
fn connector(token_url: &str, auth: Value) -> Result<SalesforceConnector, ConnectorError> {
    let mut auth = auth;
    auth["token_url"] = json!(token_url);
    let config: SalesforceConfig = serde_json::from_value(json!({
        "endpoint": "http://login.invalid",
        "auth": auth,
    }))
    .unwrap();
    let http = HttpClient::new(HttpClientConfig::default(), http_auth(&config, "sf-test")?)?;
    SalesforceConnector::new(
        ConnectorContext {
            instance: "sf-test".into(),
            http,
        },
        config,
    )
}

fn refresh_connector(server: &MockServer) -> SalesforceConnector {
    let m = SalesforceMockConfig::default();
    connector(
        &format!("{}{TOKEN_PATH}", server.base_url),
        json!({"kind": "oauth2", "grant": "refresh_token", "client_id": m.client_id,
               "client_secret": m.client_secret, "refresh_token": m.refresh_token}),
    )
    .unwrap()
}

async fn read(
    c: &SalesforceConnector,
    stream: &str,
    mode: SyncMode,
    state: Option<StreamState>,
) -> Result<Vec<ReadItem>, ConnectorError> {
    let spec = c.streams().into_iter().find(|s| s.name == stream).unwrap();
    let mut items = Vec::new();
    let mut s = c.read(&spec, mode, state);
    while let Some(item) = s.next().await {
        items.push(item?);
    }
    Ok(items)
}

fn record_ids(items: &[ReadItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match i {
            ReadItem::Record(r) => Some(r.external_ref.external_id.clone()),
            _ => None,
        })
        .collect()
}

fn checkpoints(items: &[ReadItem]) -> Vec<&Value> {
    items
        .iter()
        .filter_map(|i| match i {
            ReadItem::Checkpoint(s) => Some(&s.0),
            _ => None,
        })
        .collect()
}

fn sf_id(object: SObject, id: &str) -> String {
    salesforce_id(object, id.parse().unwrap())
}

#[tokio::test]
async fn full_refresh_pages_every_record_through_the_instance_url() {
    let co = company();
    let (_mock, server) = serve(&co, small_batches()).await;
    let c = refresh_connector(&server);
    c.check().await.unwrap();
    let items = read(&c, "Contact", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    let ids = record_ids(&items);
    let expected: HashSet<String> = co
        .contacts
        .iter()
        .map(|x| sf_id(SObject::Contact, &x.id))
        .collect();
    assert_eq!(ids.len(), expected.len(), "no record twice");
    assert_eq!(ids.into_iter().collect::<HashSet<_>>(), expected);
    let cps = checkpoints(&items);
    assert_eq!(
        cps.len(),
        co.contacts.len().div_ceil(50),
        "one checkpoint per batch"
    );
    assert_eq!(
        *cps.last().unwrap(),
        &Value::Null,
        "a complete refresh ends with null"
    );
    assert!(cps[0]["after"]["id"].is_string(), "{}", cps[0]);

    let items = read(&c, "Opportunity", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    let won = co
        .deals
        .iter()
        .filter(|d| d.stage == DealStage::ClosedWon)
        .count();
    assert!(won > 0 && won < co.deals.len());
    assert_eq!(
        record_ids(&items).len(),
        won,
        "only closed-won opportunities"
    );
    assert!(
        !items
            .iter()
            .any(|i| matches!(i, ReadItem::Delete(_) | ReadItem::Reject(_)))
    );
}

#[tokio::test]
async fn a_cut_off_read_resumes_from_its_checkpoint_without_gaps_or_repeats() {
    let co = company();
    let (_mock, server) = serve(&co, small_batches()).await;
    let c = refresh_connector(&server);
    let all = read(&c, "Contact", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    // Everything up to the second checkpoint, then a fresh read from that state.
    let cut = all
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, ReadItem::Checkpoint(_)))
        .nth(1)
        .map(|(n, _)| n)
        .unwrap();
    let ReadItem::Checkpoint(state) = &all[cut] else {
        unreachable!()
    };
    let rest = read(&c, "Contact", SyncMode::FullRefresh, Some(state.clone()))
        .await
        .unwrap();
    let mut ids = record_ids(&all[..=cut]);
    assert_eq!(ids.len(), 100);
    ids.extend(record_ids(&rest));
    assert_eq!(ids, record_ids(&all), "the same records in the same order");
}

#[tokio::test]
async fn incremental_reads_changes_through_query_all_and_deletes() {
    let co = company();
    let (_mock, server) = serve(&co, small_batches()).await;
    let c = refresh_connector(&server);
    let first = read(&c, "Contact", SyncMode::Incremental, None)
        .await
        .unwrap();
    assert_eq!(record_ids(&first).len(), co.contacts.len());
    let ReadItem::Checkpoint(state) = first.last().unwrap() else {
        panic!("ends with a checkpoint")
    };
    assert!(state.0["since"].is_string(), "{}", state.0);
    assert!(state.0.get("after").is_none());
    drop(server);

    // The org soft-deletes two contacts and an opportunity after the first run.
    let gone = [&co.contacts[3].id, &co.contacts[10].id];
    let won = co
        .deals
        .iter()
        .find(|d| d.stage == DealStage::ClosedWon)
        .unwrap();
    let (_mock, server) = serve(
        &co,
        SalesforceMockConfig {
            deleted: vec![
                (SObject::Contact, gone[0].clone()),
                (SObject::Contact, gone[1].clone()),
                (SObject::Opportunity, won.id.clone()),
            ],
            ..small_batches()
        },
    )
    .await;
    let c = refresh_connector(&server);
    let second = read(&c, "Contact", SyncMode::Incremental, Some(state.clone()))
        .await
        .unwrap();
    let deletes: HashSet<String> = second
        .iter()
        .filter_map(|i| match i {
            ReadItem::Delete(r) => Some(r.external_id.clone()),
            _ => None,
        })
        .collect();
    let expected: HashSet<String> = gone.iter().map(|id| sf_id(SObject::Contact, id)).collect();
    assert_eq!(deletes, expected);
    assert!(
        record_ids(&second).len() < co.contacts.len() / 2,
        "only the overlap window is re-read: {}",
        record_ids(&second).len()
    );

    // Opportunities: a first incremental run turns not-won ones into deletes, the second sees
    // the deleted won one.
    let first = read(&c, "Opportunity", SyncMode::Incremental, None)
        .await
        .unwrap();
    let not_won = co
        .deals
        .iter()
        .filter(|d| d.stage != DealStage::ClosedWon)
        .count();
    let deletes = first
        .iter()
        .filter(|i| matches!(i, ReadItem::Delete(_)))
        .count();
    assert_eq!(deletes, not_won + 1, "not-won plus the deleted won one");
}

#[tokio::test]
async fn the_daily_limit_ends_the_read_as_quota_exhausted() {
    let co = company();
    let (mock, server) = serve(
        &co,
        SalesforceMockConfig {
            daily_limit: 3,
            ..small_batches()
        },
    )
    .await;
    let c = refresh_connector(&server);
    let err = read(&c, "Contact", SyncMode::FullRefresh, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::QuotaExhausted { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("api-usage=3/3"), "{err}");
    assert_eq!(mock.api_usage(), 4, "the refusal is not retried");
}

#[tokio::test]
async fn expired_sessions_are_refreshed_mid_query() {
    let co = company();
    let (mock, server) = serve(
        &co,
        SalesforceMockConfig {
            faults: Faults::none().with_token_ttl_requests(2),
            ..small_batches()
        },
    )
    .await;
    let c = refresh_connector(&server);
    let items = read(&c, "Contact", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    assert_eq!(record_ids(&items).len(), co.contacts.len());
    let stats = mock.stats();
    assert!(stats.expired_tokens >= 2, "{stats:?}");
    assert!(stats.tokens_issued >= 3, "{stats:?}");
}

#[tokio::test]
async fn jwt_bearer_grant_signs_in_and_a_wrong_user_is_refused() {
    let co = company();
    let (_mock, server) = serve(&co, small_batches()).await;
    let m = SalesforceMockConfig::default();
    let key = include_str!("../../../crates/connector/tests/fixtures/test-only-rsa-private.pem");
    let jwt = |username: &str| {
        connector(
            &format!("{}{TOKEN_PATH}", server.base_url),
            json!({"kind": "oauth2", "grant": "jwt_bearer", "client_id": m.client_id,
                   "username": username, "audience": m.audience, "private_key_pem": key}),
        )
        .unwrap()
    };
    jwt(&m.username).check().await.unwrap();
    let err = jwt("eve@example.com").check().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err}");
    assert!(err.to_string().contains("invalid_grant"), "{err}");
}

#[tokio::test]
async fn repeated_and_changing_records_are_read_once_each_and_none_is_lost() {
    let co = company();
    let (mock, server) = serve(
        &co,
        SalesforceMockConfig {
            faults: Faults::none()
                .with_duplicates(tributary_sim::Probability::new(0.5))
                .with_mutate(tributary_sim::Probability::new(0.05)),
            ..small_batches()
        },
    )
    .await;
    let c = refresh_connector(&server);
    let items = read(&c, "Contact", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    let stats = mock.stats();
    assert!(stats.duplicated > 0 && stats.mutated > 0, "{stats:?}");
    let ids = record_ids(&items);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), co.contacts.len(), "every contact, none lost");
    assert_eq!(ids.len(), unique.len(), "a repeated record is skipped");
}

#[tokio::test]
async fn a_reserve_of_api_requests_stops_the_run_at_a_checkpoint_before_the_limit() {
    let co = company();
    let (mock, server) = serve(
        &co,
        SalesforceMockConfig {
            daily_limit: 10,
            ..small_batches()
        },
    )
    .await;
    let m = SalesforceMockConfig::default();
    let config: SalesforceConfig = serde_json::from_value(json!({
        "endpoint": "http://login.invalid",
        "reserve_api_requests": 7,
        "auth": {"kind": "oauth2", "grant": "refresh_token", "client_id": m.client_id,
                 "client_secret": m.client_secret, "refresh_token": m.refresh_token,
                 "token_url": format!("{}{TOKEN_PATH}", server.base_url)},
    }))
    .unwrap();
    let http = HttpClient::new(
        HttpClientConfig::default(),
        http_auth(&config, "sf").unwrap(),
    )
    .unwrap();
    let c = SalesforceConnector::new(
        ConnectorContext {
            instance: "sf".into(),
            http,
        },
        config,
    )
    .unwrap();
    let spec = c
        .streams()
        .into_iter()
        .find(|s| s.name == "Contact")
        .unwrap();
    let mut items = Vec::new();
    let mut s = c.read(&spec, SyncMode::FullRefresh, None);
    let err = loop {
        match s.next().await {
            Some(Ok(item)) => items.push(item),
            Some(Err(e)) => break e,
            None => panic!("the read should stop at the reserve"),
        }
    };
    assert!(
        matches!(err, ConnectorError::QuotaExhausted { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("reserve of 7"), "{err}");
    // 3 requests used (7 left): three batches read, each followed by its checkpoint.
    assert_eq!(mock.api_usage(), 3);
    assert_eq!(record_ids(&items).len(), 150);
    assert!(matches!(items.last(), Some(ReadItem::Checkpoint(_))));
}

#[tokio::test]
async fn malformed_records_become_rejects_naming_the_field_and_the_stream_goes_on() {
    let co = company();
    let (_mock, server) = serve(
        &co,
        SalesforceMockConfig {
            faults: Faults::none().with_malformed_records(2),
            ..small_batches()
        },
    )
    .await;
    let c = refresh_connector(&server);
    for (stream, field, value, records) in [
        ("Account", "NumberOfEmployees", "lots", co.accounts.len()),
        (
            "Opportunity",
            "ARR__c",
            "n/a",
            co.deals
                .iter()
                .filter(|d| d.stage == DealStage::ClosedWon)
                .count(),
        ),
    ] {
        let items = read(&c, stream, SyncMode::FullRefresh, None).await.unwrap();
        let rejects: Vec<&str> = items
            .iter()
            .filter_map(|i| match i {
                ReadItem::Reject(r) => Some(r.reason.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(rejects.len(), 2, "{stream}: {rejects:?}");
        for reason in rejects {
            assert!(
                reason.starts_with(stream)
                    && reason.contains(&format!("field `{field}` has invalid value `{value}`")),
                "{reason}"
            );
        }
        assert_eq!(record_ids(&items).len(), records - 2, "{stream}");
    }
}
