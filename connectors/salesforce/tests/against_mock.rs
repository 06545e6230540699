//! The Salesforce connector against the simulator's Salesforce mock: paging, instance_url,
//! resumable state, incremental reads with deletes, the daily limit, expiring sessions, the
//! JWT bearer grant, `Sforce-Query-Options`, the field mapping and its describe check,
//! single-currency orgs, contracts, contact roles, account owners and dated rates.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use chrono::NaiveDate;
use futures::StreamExt;
use rust_decimal::Decimal;
use serde_json::Map;
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::Arc,
};
use tributary_connector::{
    Connector, ConnectorContext, ConnectorError, HttpClient, HttpClientConfig, ReadItem,
    StreamState, SyncMode,
};
use tributary_connector_salesforce::{SalesforceConfig, SalesforceConnector, http_auth};
use tributary_mock_kit::{Faults, MockServer};
use tributary_mock_salesforce::{
    CORPORATE_CURRENCY, SObject, SalesforceMock, SalesforceMockConfig, TOKEN_PATH,
    dated_conversion_rates, salesforce_id,
};
use tributary_model::{Entity, RevenueEventKind};
use tributary_sim::{Company, DealMotion, DealStage, SimConfig};
use tributary_testkit::items::{checkpoints, completion, nth_checkpoint, read_stream, record_ids};

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

/// A refresh-token connector with `extra` settings laid over the defaults, then `edit`ed.
fn build(
    server: &MockServer,
    extra: Value,
    edit: impl FnOnce(&mut SalesforceConfig),
) -> Result<SalesforceConnector, ConnectorError> {
    let m = SalesforceMockConfig::default();
    let mut settings = json!({
        "endpoint": "http://login.invalid",
        "auth": {"kind": "oauth2", "grant": "refresh_token", "client_id": m.client_id,
                 "client_secret": m.client_secret, "refresh_token": m.refresh_token,
                 "token_url": format!("{}{TOKEN_PATH}", server.base_url)},
    });
    if let (Some(base), Value::Object(extra)) = (settings.as_object_mut(), extra) {
        base.extend(extra);
    }
    let mut config: SalesforceConfig = serde_json::from_value(settings).unwrap();
    edit(&mut config);
    let http = HttpClient::new(HttpClientConfig::default(), http_auth(&config, "sf-test")?)?;
    SalesforceConnector::new(
        ConnectorContext {
            instance: "sf-test".into(),
            http,
        },
        config,
    )
}

fn configured(server: &MockServer, extra: Value) -> SalesforceConnector {
    build(server, extra, |_| {}).unwrap()
}

/// Configured with the simulator org's mapping (ARR__c, Term_Months__c, its Type picklist).
fn simulated(server: &MockServer, extra: Value) -> SalesforceConnector {
    build(server, extra, |c| {
        c.mapping = tributary_testkit::mapping(tributary_mock_salesforce::revenue_mapping())
    })
    .unwrap()
}

/// The mock's records of `object` that `query` serves (not deleted).
fn live(mock: &SalesforceMock, object: SObject) -> Vec<Map<String, Value>> {
    mock.records(object)
        .into_iter()
        .filter(|r| r.get("IsDeleted") != Some(&Value::Bool(true)))
        .collect()
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

fn sf_id(object: SObject, id: &str) -> String {
    salesforce_id(object, id.parse().unwrap())
}

#[tokio::test]
async fn full_refresh_pages_every_record_through_the_instance_url() {
    let co = company();
    let (_mock, server) = serve(&co, small_batches()).await;
    let c = refresh_connector(&server);
    c.check().await.unwrap();
    let items = read_stream(&c, "Contact", SyncMode::FullRefresh, None)
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
    assert!(
        completion(&items).is_some_and(|s| s["since"].is_string()),
        "a complete refresh ends with the next run's mark: {:?}",
        cps.last()
    );
    assert!(cps[0]["after"]["id"].is_string(), "{}", cps[0]);

    let items = read_stream(&c, "Opportunity", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    let won = co
        .deals
        .iter()
        .filter(|d| d.stage == DealStage::Won)
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
    let all = read_stream(&c, "Contact", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    // Everything up to the second checkpoint, then a fresh read from that state.
    let (cut, state) = nth_checkpoint(&all, 1).unwrap();
    let rest = read_stream(&c, "Contact", SyncMode::FullRefresh, Some(state.clone()))
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
    let first = read_stream(&c, "Contact", SyncMode::Incremental, None)
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
    let won = co.deals.iter().find(|d| d.stage == DealStage::Won).unwrap();
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
    let second = read_stream(&c, "Contact", SyncMode::Incremental, Some(state.clone()))
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
    let first = read_stream(&c, "Opportunity", SyncMode::Incremental, None)
        .await
        .unwrap();
    let not_won = co
        .deals
        .iter()
        .filter(|d| d.stage != DealStage::Won)
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
    let err = read_stream(&c, "Contact", SyncMode::FullRefresh, None)
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
    let items = read_stream(&c, "Contact", SyncMode::FullRefresh, None)
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
                .with_duplicates(tributary_mock_kit::Probability::new(0.5))
                .with_mutate(tributary_mock_kit::Probability::new(0.05)),
            ..small_batches()
        },
    )
    .await;
    let c = refresh_connector(&server);
    let items = read_stream(&c, "Contact", SyncMode::FullRefresh, None)
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
    let (mock, server) = serve(
        &co,
        SalesforceMockConfig {
            faults: Faults::none().with_malformed_records(2),
            ..small_batches()
        },
    )
    .await;
    let c = refresh_connector(&server);
    let won = co
        .deals
        .iter()
        .filter(|d| d.stage == DealStage::Won)
        .count();
    let contracts = configured(
        &server,
        json!({"subscriptions_from": "contract", "mapping": {"arr_field": "ARR__c"}}),
    );
    let simulated = simulated(&server, json!({}));
    for (c, stream, field, value, records) in [
        (
            &c,
            "Account",
            "NumberOfEmployees",
            "lots",
            co.accounts.len(),
        ),
        // The standard mapping derives ARR from Amount; the simulator's reads ARR__c.
        (&c, "Opportunity", "Amount", "n/a", won),
        (&simulated, "Opportunity", "ARR__c", "n/a", won),
        (&contracts, "Contract", "ContractTerm", "twelve", won),
        (
            &c,
            "OpportunityContactRole",
            "IsPrimary",
            "sometimes",
            live(&mock, SObject::OpportunityContactRole).len(),
        ),
    ] {
        let items = read_stream(c, stream, SyncMode::FullRefresh, None)
            .await
            .unwrap();
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

fn entities(items: &[ReadItem]) -> Vec<(&str, &Entity, &Value)> {
    items
        .iter()
        .filter_map(|i| match i {
            ReadItem::Record(r) => Some((r.external_ref.external_id.as_str(), &r.entity, &r.raw)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn batch_size_is_asked_for_with_sforce_query_options_and_kept_by_later_batches() {
    let co = company();
    // The org would serve 2000 per batch; the connector asks for 200.
    let (_mock, server) = serve(&co, SalesforceMockConfig::default()).await;
    assert!(co.contacts.len() > 400, "{}", co.contacts.len());
    let c = configured(&server, json!({"batch_size": 200}));
    let items = read_stream(&c, "Contact", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    assert_eq!(record_ids(&items).len(), co.contacts.len());
    assert_eq!(
        checkpoints(&items).len(),
        co.contacts.len().div_ceil(200),
        "one checkpoint per batch of 200"
    );
    // The default asks for 2000: one batch.
    let items = read_stream(
        &refresh_connector(&server),
        "Contact",
        SyncMode::FullRefresh,
        None,
    )
    .await
    .unwrap();
    assert_eq!(checkpoints(&items).len(), 1);
    for bad in [199, 2001] {
        let err = build(&server, json!({"batch_size": bad}), |_| {}).unwrap_err();
        assert!(
            err.to_string()
                .contains("batch_size must be between 200 and 2000"),
            "{err}"
        );
    }
}

/// `(account, start, end, ARR, currency)` of every subscription read.
fn subscription_set(
    items: &[ReadItem],
) -> BTreeSet<(String, NaiveDate, NaiveDate, Decimal, String)> {
    entities(items)
        .into_iter()
        .filter_map(|(_, e, _)| match e {
            Entity::Subscription(s) => Some((
                s.account.as_ref().unwrap().external_id.clone(),
                s.start_date,
                s.end_date.unwrap(),
                s.arr.amount.normalize(),
                s.arr.currency.as_str().to_owned(),
            )),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_mapping_selects_only_configured_fields_and_matches_the_generator() {
    let co = company();
    let (_mock, server) = serve(&co, SalesforceMockConfig::default()).await;
    // The standard mapping selects neither custom field: a real org without them would
    // answer INVALID_FIELD.
    let standard = refresh_connector(&server);
    let items = read_stream(&standard, "Opportunity", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    for (_, _, raw) in entities(&items) {
        assert!(
            raw.get("ARR__c").is_none() && raw.get("Term_Months__c").is_none(),
            "{raw}"
        );
        assert!(
            raw.get("Amount").is_some() && raw.get("Type").is_some(),
            "{raw}"
        );
    }
    // The simulator's mapping lands exactly the generator's contracts and motions.
    let sim = simulated(&server, json!({}));
    let items = read_stream(&sim, "Opportunity", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    let by_id: HashMap<&str, &Entity> = entities(&items)
        .into_iter()
        .map(|(id, e, _)| (id, e))
        .collect();
    let won: Vec<_> = co
        .deals
        .iter()
        .filter(|d| d.stage == DealStage::Won)
        .collect();
    assert_eq!(by_id.len(), won.len());
    for d in won {
        let Entity::Subscription(s) = by_id[sf_id(SObject::Opportunity, &d.id).as_str()] else {
            panic!("a subscription")
        };
        assert_eq!(s.start_date, d.start_date());
        assert_eq!(s.end_date, Some(d.end_date()));
        assert_eq!(s.arr.amount, d.arr().round_dp(2), "{}", d.id);
        assert_eq!(s.arr.currency, d.currency);
        let motion = match d.motion {
            DealMotion::NewBusiness => RevenueEventKind::New,
            DealMotion::Renewal => RevenueEventKind::Renewal,
            DealMotion::Expansion | DealMotion::AddOn => RevenueEventKind::Expansion,
            DealMotion::Contraction => RevenueEventKind::Contraction,
        };
        assert_eq!(s.motion, Some(motion), "{}", d.id);
    }
}

#[tokio::test]
async fn a_mapping_field_the_org_lacks_fails_the_read_before_any_record() {
    let co = company();
    let (mock, server) = serve(&co, SalesforceMockConfig::default()).await;
    for (extra, object, field, key) in [
        (
            json!({"mapping": {"arr_field": "Annual_Value__c"}}),
            "Opportunity",
            "Annual_Value__c",
            "arr_field",
        ),
        (
            json!({"mapping": {"motion_field": "Motion__c"}}),
            "Opportunity",
            "Motion__c",
            "motion_field",
        ),
        // Contracts have no Amount: without an ARR field the default amount is required.
        (
            json!({"subscriptions_from": "contract"}),
            "Contract",
            "Amount",
            "amount_field",
        ),
    ] {
        let c = configured(&server, extra.clone());
        let spec = c.streams().into_iter().find(|s| s.name == object).unwrap();
        let mut s = c.read(&spec, SyncMode::FullRefresh, None);
        let Some(Err(err)) = s.next().await else {
            panic!("{extra}: the first item must be the error")
        };
        assert!(matches!(err, ConnectorError::Config { .. }), "{err}");
        assert!(
            err.to_string().contains(&format!(
                "`{object}` has no field `{field}` (mapping.{key})"
            )),
            "{err}"
        );
    }
    // A default field the object lacks (Type on Contract) is simply not selected.
    let c = configured(
        &server,
        json!({"subscriptions_from": "contract", "mapping": {"arr_field": "ARR__c"}}),
    );
    let before = mock.api_usage();
    let items = read_stream(&c, "Contract", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    assert!(!record_ids(&items).is_empty());
    let _ = read_stream(&c, "Contract", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    // The second read reuses the cached describe: one query request (+ token) only.
    assert!(
        mock.api_usage() - before <= 4,
        "{}",
        mock.api_usage() - before
    );
}

#[tokio::test]
async fn a_single_currency_org_is_read_without_currency_iso_code() {
    let co = company();
    let (_mock, server) = serve(
        &co,
        SalesforceMockConfig {
            multi_currency: false,
            ..SalesforceMockConfig::default()
        },
    )
    .await;
    let c = build(&server, json!({"default_currency": "EUR"}), |c| {
        c.mapping = tributary_testkit::mapping(tributary_mock_salesforce::revenue_mapping());
    })
    .unwrap();
    for stream in ["Account", "Opportunity", "OpportunityContactRole"] {
        let items = read_stream(&c, stream, SyncMode::FullRefresh, None)
            .await
            .unwrap();
        assert!(!record_ids(&items).is_empty(), "{stream}");
        for (_, e, raw) in entities(&items) {
            assert!(raw.get("CurrencyIsoCode").is_none(), "{raw}");
            if let Entity::Subscription(s) = e {
                assert_eq!(s.arr.currency.as_str(), "EUR");
            }
        }
    }
    // No rates in a single-currency org: the stream completes empty.
    let items = read_stream(&c, "DatedConversionRate", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    assert_eq!(items, vec![ReadItem::Checkpoint(StreamState(Value::Null))]);
}

#[tokio::test]
async fn contracts_give_the_same_subscriptions_as_opportunities() {
    let co = company();
    let (_mock, server) = serve(&co, small_batches()).await;
    let from_opportunities = simulated(&server, json!({}));
    let from_contracts = configured(
        &server,
        json!({"subscriptions_from": "contract", "fx_rates": false, "mapping": {"arr_field": "ARR__c"}}),
    );
    let names = |c: &SalesforceConnector| -> Vec<String> {
        c.streams().into_iter().map(|s| s.name).collect()
    };
    assert_eq!(
        names(&from_opportunities),
        [
            "Account",
            "Contact",
            "Opportunity",
            "OpportunityContactRole",
            "DatedConversionRate"
        ]
    );
    assert_eq!(names(&from_contracts), ["Account", "Contact", "Contract"]);
    let opportunities = read_stream(
        &from_opportunities,
        "Opportunity",
        SyncMode::FullRefresh,
        None,
    )
    .await
    .unwrap();
    let contracts = read_stream(&from_contracts, "Contract", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    let expected = subscription_set(&opportunities);
    assert!(!expected.is_empty());
    assert_eq!(subscription_set(&contracts), expected);
    // Contract ids are the 800 key prefix; an undeclared stream is refused.
    assert!(
        record_ids(&contracts)
            .iter()
            .all(|id| id.starts_with("800"))
    );
    let spec = from_opportunities
        .streams()
        .into_iter()
        .find(|s| s.name == "Opportunity")
        .unwrap();
    let mut s = from_contracts.read(&spec, SyncMode::FullRefresh, None);
    let Some(Err(err)) = s.next().await else {
        panic!("refused")
    };
    assert!(err.to_string().contains("no stream `Opportunity`"), "{err}");

    // Incremental: the deleted deal's contract becomes a delete.
    drop(server);
    let won = co.deals.iter().find(|d| d.stage == DealStage::Won).unwrap();
    let (_mock, server) = serve(
        &co,
        SalesforceMockConfig {
            deleted: vec![(SObject::Opportunity, won.id.clone())],
            ..small_batches()
        },
    )
    .await;
    let c = configured(
        &server,
        json!({"subscriptions_from": "contract", "mapping": {"arr_field": "ARR__c"}}),
    );
    let items = read_stream(&c, "Contract", SyncMode::Incremental, None)
        .await
        .unwrap();
    let deletes: Vec<&str> = items
        .iter()
        .filter_map(|i| match i {
            ReadItem::Delete(r) => Some(r.external_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deletes, [sf_id(SObject::Contract, &won.id)]);
}

#[tokio::test]
async fn contact_roles_link_won_deals_to_their_accounts_contacts() {
    let co = company();
    let (mock, server) = serve(&co, small_batches()).await;
    let c = refresh_connector(&server);
    let items = read_stream(&c, "OpportunityContactRole", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    let deal_account: HashMap<String, usize> = co
        .deals
        .iter()
        .map(|d| (sf_id(SObject::Opportunity, &d.id), d.account))
        .collect();
    let contact_account: HashMap<String, usize> = co
        .contacts
        .iter()
        .map(|x| (sf_id(SObject::Contact, &x.id), x.account))
        .collect();
    let mut per_deal: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let roles = entities(&items);
    assert_eq!(
        roles.len(),
        live(&mock, SObject::OpportunityContactRole).len()
    );
    assert!(!roles.is_empty());
    for (id, e, _) in roles {
        assert!(id.starts_with("00K"), "{id}");
        let Entity::DealContact(d) = e else {
            panic!("a deal contact")
        };
        let deal = d.subscription.as_ref().unwrap();
        let person = d.person.as_ref().unwrap();
        assert_eq!(
            (deal.object.as_str(), person.object.as_str()),
            ("Opportunity", "Contact")
        );
        assert_eq!(
            deal_account[&deal.external_id], contact_account[&person.external_id],
            "a contact of the deal's account"
        );
        assert!(tributary_mock_salesforce::CONTACT_ROLES.contains(&d.role.as_deref().unwrap()));
        let entry = per_deal.entry(deal.external_id.clone()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(d.primary);
    }
    for (deal, (roles, primaries)) in per_deal {
        assert!((1..=3).contains(&roles), "{deal}: {roles}");
        assert_eq!(primaries, 1, "{deal}: exactly one primary");
    }
    // Incremental: a deleted deal takes its roles with it.
    let first = read_stream(&c, "OpportunityContactRole", SyncMode::Incremental, None)
        .await
        .unwrap();
    let ReadItem::Checkpoint(state) = first.last().unwrap().clone() else {
        panic!()
    };
    let with_roles = mock
        .records(SObject::OpportunityContactRole)
        .into_iter()
        .find(|r| r["IsDeleted"] == json!(false))
        .unwrap();
    let deal_sf_id = with_roles["OpportunityId"].as_str().unwrap().to_owned();
    let deal = co
        .deals
        .iter()
        .find(|d| sf_id(SObject::Opportunity, &d.id) == deal_sf_id)
        .unwrap();
    drop(server);
    let (mock, server) = serve(
        &co,
        SalesforceMockConfig {
            deleted: vec![(SObject::Opportunity, deal.id.clone())],
            ..small_batches()
        },
    )
    .await;
    let c = refresh_connector(&server);
    let second = read_stream(
        &c,
        "OpportunityContactRole",
        SyncMode::Incremental,
        Some(state),
    )
    .await
    .unwrap();
    let deletes: BTreeSet<String> = second
        .iter()
        .filter_map(|i| match i {
            ReadItem::Delete(r) => Some(r.external_id.clone()),
            _ => None,
        })
        .collect();
    let expected: BTreeSet<String> = mock
        .records(SObject::OpportunityContactRole)
        .into_iter()
        .filter(|r| r["OpportunityId"] == json!(deal_sf_id))
        .map(|r| r["Id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(deletes, expected);
}

#[tokio::test]
async fn account_owners_are_their_users_emails() {
    let co = company();
    let (mock, server) = serve(&co, small_batches()).await;
    let c = refresh_connector(&server);
    let items = read_stream(&c, "Account", SyncMode::FullRefresh, None)
        .await
        .unwrap();
    let emails: HashSet<String> = co.owners.iter().map(|o| o.email.to_lowercase()).collect();
    let accounts = entities(&items);
    assert_eq!(accounts.len(), live(&mock, SObject::Account).len());
    for (id, e, raw) in accounts {
        let Entity::Account(a) = e else {
            panic!("an account")
        };
        let owner = a.owner.as_deref().unwrap();
        assert!(
            emails.contains(owner),
            "{id}: {owner} (OwnerId {})",
            raw["OwnerId"]
        );
    }
}

#[tokio::test]
async fn dated_rates_are_synced_exactly_against_the_corporate_currency() {
    let co = company();
    let (_mock, server) = serve(&co, SalesforceMockConfig::default()).await;
    let c = refresh_connector(&server);
    let spec = c
        .streams()
        .into_iter()
        .find(|s| s.name == "DatedConversionRate")
        .unwrap();
    assert_eq!(spec.modes, [SyncMode::FullRefresh]);
    // Asked incrementally, the stream still reads everything.
    let items = read_stream(&c, "DatedConversionRate", SyncMode::Incremental, None)
        .await
        .unwrap();
    let got: BTreeSet<(String, String, NaiveDate, Decimal)> = entities(&items)
        .into_iter()
        .map(|(_, e, _)| match e {
            Entity::FxRate(r) => (
                r.base.as_str().to_owned(),
                r.currency.as_str().to_owned(),
                r.start_date,
                r.rate,
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    let expected: BTreeSet<(String, String, NaiveDate, Decimal)> = dated_conversion_rates()
        .into_iter()
        .filter(|r| r.iso_code != CORPORATE_CURRENCY)
        .map(|r| {
            (
                CORPORATE_CURRENCY.to_owned(),
                r.iso_code.to_owned(),
                r.start_date,
                r.rate,
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert!(
        got.iter()
            .any(|(_, c, _, r)| c == "EUR" && r.to_string() == "0.925926")
    );
    assert!(
        completion(&items).is_some_and(|s| s["since"].is_string()),
        "a whole read"
    );
}
