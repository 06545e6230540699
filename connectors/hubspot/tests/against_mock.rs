//! The HubSpot connector against the simulator's HubSpot mock over loopback.

use futures::StreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};
use tributary_connector::{
    Connector, ConnectorContext, ConnectorError, HttpClient, HttpClientConfig, ReadItem, Reject,
    StreamSpec, StreamState, SyncMode,
};
use tributary_connector_hubspot::{HubspotConfig, HubspotConnector, http_auth};
use tributary_mock_hubspot as hubspot;
use tributary_mock_hubspot::{HubspotMock, HubspotMockConfig};
use tributary_mock_kit::{FaultStats, Faults, MockServer, Probability, Schedule};
use tributary_model::{Entity, ExternalRef, SourceRecord};
use tributary_sim::{Company, SimConfig};

const INSTANCE: &str = "hubspot-sim";

struct Fixture {
    company: Arc<Company>,
    mock: HubspotMock,
    server: MockServer,
}

async fn fixture_with(company: Company, faults: Faults) -> Fixture {
    let company = Arc::new(company);
    let mock = HubspotMock::new(
        company.clone(),
        HubspotMockConfig {
            faults,
            ..HubspotMockConfig::default()
        },
    );
    let server = MockServer::start(mock.router())
        .await
        .expect("mock binds on loopback");
    Fixture {
        company,
        mock,
        server,
    }
}

fn generate(accounts: usize) -> Company {
    Company::generate(&SimConfig {
        seed: 7,
        accounts,
        ..SimConfig::default()
    })
}

fn connector(f: &Fixture, token: &str, page_size: u32) -> HubspotConnector {
    connector_with(f, token, page_size, HttpClientConfig::default())
}

fn connector_with(
    f: &Fixture,
    token: &str,
    page_size: u32,
    http: HttpClientConfig,
) -> HubspotConnector {
    let config = HubspotConfig {
        page_size,
        mapping: tributary_testkit::mapping(tributary_mock_hubspot::revenue_mapping()),
        ..HubspotConfig::new(f.server.base_url.clone(), SecretString::from(token))
    };
    let http = HttpClient::new(http, http_auth(&config, "test").expect("auth builds"))
        .expect("http client builds");
    let ctx = ConnectorContext {
        instance: INSTANCE.to_owned(),
        http,
    };
    HubspotConnector::new(ctx, config).expect("config is valid")
}

fn stream(c: &HubspotConnector, name: &str) -> StreamSpec {
    c.streams()
        .into_iter()
        .find(|s| s.name == name)
        .expect("stream exists")
}

async fn read_all(
    c: &HubspotConnector,
    name: &str,
    state: Option<StreamState>,
) -> Result<Vec<ReadItem>, ConnectorError> {
    let spec = stream(c, name);
    let mut items = Vec::new();
    let mut s = c.read(&spec, SyncMode::FullRefresh, state);
    while let Some(item) = s.next().await {
        items.push(item?);
    }
    Ok(items)
}

fn records(items: &[ReadItem]) -> Vec<&SourceRecord> {
    items
        .iter()
        .filter_map(|i| match i {
            ReadItem::Record(r) => Some(r.as_ref()),
            _ => None,
        })
        .collect()
}

fn rejects(items: &[ReadItem]) -> Vec<&Reject> {
    items
        .iter()
        .filter_map(|i| match i {
            ReadItem::Reject(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn ids(records: &[&SourceRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| r.external_ref.external_id.clone())
        .collect()
}

fn company_ref(id: &str) -> ExternalRef {
    ExternalRef::new("hubspot", INSTANCE, "companies", id)
}

#[tokio::test]
async fn full_read_lands_every_company_contact_and_won_deal_once() {
    let f = fixture_with(generate(40), Faults::default()).await;
    let c = connector(&f, hubspot::DEFAULT_ACCESS_TOKEN, 7);
    let co = &f.company;

    // Companies.
    let items = read_all(&c, "companies", None).await.unwrap();
    let recs = records(&items);
    let expected: Vec<String> = co.accounts.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids(&recs), expected, "every company exactly once, in order");
    assert!(rejects(&items).is_empty());
    for (r, a) in recs.iter().zip(&co.accounts) {
        assert_eq!(
            r.external_ref,
            ExternalRef::new("hubspot", INSTANCE, "companies", &a.id)
        );
        assert_eq!(r.raw["id"], json!(a.id), "raw is the record as received");
        assert!(r.source_updated_at.is_some());
        let Entity::Account(acct) = &r.entity else {
            panic!("not an account: {r:?}")
        };
        assert_eq!(acct.name, a.name);
        assert_eq!(acct.domain.as_deref(), Some(a.domain.as_str()));
        assert_eq!(acct.segment, Some(a.segment));
        assert_eq!(acct.region.as_deref(), Some(a.region.as_str()));
        assert_eq!(acct.seats, Some(i64::from(a.seats)));
        assert_eq!(acct.owner.as_deref(), Some(co.owners[a.owner].id.as_str()));
        assert!(r.entity.validate().is_ok());
    }
    // A checkpoint after every page (40 / 7 → 6 live pages, 1 archived page), the last Null.
    let checkpoints: Vec<&StreamState> = items
        .iter()
        .filter_map(|i| match i {
            ReadItem::Checkpoint(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(checkpoints.len(), 7, "{checkpoints:?}");
    assert_eq!(checkpoints[0].0["after"], json!(co.accounts[7].id));
    assert_eq!(checkpoints[5].0, json!({"archived": true}));
    assert_eq!(checkpoints[6].0, Value::Null);
    assert!(matches!(items.last(), Some(ReadItem::Checkpoint(s)) if s.0.is_null()));

    // Contacts.
    let items = read_all(&c, "contacts", None).await.unwrap();
    let recs = records(&items);
    let expected: Vec<String> = co.contacts.iter().map(|x| x.id.clone()).collect();
    assert_eq!(ids(&recs), expected);
    for (r, x) in recs.iter().zip(&co.contacts) {
        let Entity::Person(p) = &r.entity else {
            panic!("not a person: {r:?}")
        };
        assert_eq!(p.name, format!("{} {}", x.first_name, x.last_name));
        assert_eq!(p.email.as_deref(), Some(x.email.as_str()));
        assert_eq!(p.role, Some(x.role));
        assert_eq!(p.account, Some(company_ref(&co.accounts[x.account].id)));
        assert_eq!(p.first_seen_at, Some(x.created_at));
    }

    // Deals: exactly the closed-won ones, with ARR and dates as generated.
    let items = read_all(&c, "deals", None).await.unwrap();
    let recs = records(&items);
    let won: Vec<_> = co.expected_closed_won_deals().collect();
    assert!(won.len() < co.deals.len(), "lost and open deals exist");
    assert_eq!(
        ids(&recs),
        won.iter().map(|d| d.id.clone()).collect::<Vec<_>>()
    );
    assert!(rejects(&items).is_empty());
    let today = chrono::Utc::now().date_naive();
    for (r, d) in recs.iter().zip(&won) {
        let Entity::Subscription(s) = &r.entity else {
            panic!("not a subscription: {r:?}")
        };
        assert_eq!(s.arr.amount, d.arr(), "{d:?}");
        assert_eq!(s.arr.currency, d.currency);
        assert_eq!(s.start_date, d.start_date());
        assert_eq!(s.end_date, Some(d.end_date()));
        assert_eq!(s.plan, d.name);
        assert_eq!(s.motion, Some(motion_of(d.motion)), "{d:?}");
        assert_eq!(s.account, Some(company_ref(&co.accounts[d.account].id)));
        assert_eq!(
            s.status,
            tributary_model::SubscriptionStatus::on(d.start_date(), Some(d.end_date()), today)
        );
        assert!(r.entity.validate().is_ok());
    }
    let arr: BTreeMap<String, rust_decimal::Decimal> =
        recs.iter().fold(BTreeMap::new(), |mut m, r| {
            if let Entity::Subscription(s) = &r.entity
                && s.start_date <= co.today
                && s.end_date.is_some_and(|e| e > co.today)
            {
                *m.entry(s.arr.currency.to_string()).or_default() += s.arr.amount;
            }
            m
        });
    assert_eq!(
        arr,
        co.truth().arr_today,
        "ARR on the sim's today reconciles"
    );
    // Won deals in the custom pipeline (numeric stage ids) are among them.
    let renewals: Vec<&&SourceRecord> = recs
        .iter()
        .filter(|r| r.raw["properties"]["pipeline"] == hubspot::RENEWALS_PIPELINE.id)
        .collect();
    assert!(!renewals.is_empty());
    assert!(
        renewals
            .iter()
            .all(|r| r.raw["properties"]["dealstage"] == "4811304")
    );
    let currencies: BTreeSet<String> = recs
        .iter()
        .filter_map(|r| match &r.entity {
            Entity::Subscription(s) => Some(s.arr.currency.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        currencies.contains("EUR") && currencies.contains("GBP") && currencies.contains("USD"),
        "amounts keep their deal's currency: {currencies:?}"
    );

    // Deal contacts: every association of every deal, labels mapped.
    let items = read_all(&c, "deal_contacts", None).await.unwrap();
    assert!(rejects(&items).is_empty());
    let recs = records(&items);
    let chosen = hubspot::deal_contacts(co);
    let expected: Vec<(String, String, bool, Option<&str>)> = co
        .deals
        .iter()
        .zip(&chosen)
        .flat_map(|(d, list)| {
            list.iter().enumerate().map(move |(rank, &j)| {
                let role = match rank {
                    0 => Some(hubspot::CONTACT_ROLE_LABELS[0]),
                    1 => Some(hubspot::CONTACT_ROLE_LABELS[1]),
                    _ => None,
                };
                (d.id.clone(), co.contacts[j].id.clone(), rank == 0, role)
            })
        })
        .collect();
    assert!(
        expected.len() > co.deals.len(),
        "deals have several contacts"
    );
    let got: Vec<(String, String, bool, Option<&str>)> = recs
        .iter()
        .map(|r| {
            let Entity::DealContact(dc) = &r.entity else {
                panic!("not a deal contact: {r:?}")
            };
            let deal = dc.subscription.as_ref().unwrap();
            let person = dc.person.as_ref().unwrap();
            assert_eq!(
                (deal.object.as_str(), person.object.as_str()),
                ("deals", "contacts")
            );
            assert_eq!(
                r.external_ref,
                ExternalRef::new(
                    "hubspot",
                    INSTANCE,
                    "deal_contacts",
                    format!("{}-{}", deal.external_id, person.external_id)
                )
            );
            assert!(r.source_updated_at.is_some());
            assert!(r.entity.validate().is_ok());
            (
                deal.external_id.clone(),
                person.external_id.clone(),
                dc.primary,
                dc.role.as_deref(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert!(matches!(items.last(), Some(ReadItem::Checkpoint(s)) if s.0.is_null()));
    assert!(
        !items.iter().any(|i| matches!(i, ReadItem::Delete(_))),
        "no archived phase"
    );
}

fn motion_of(m: tributary_sim::DealMotion) -> tributary_model::RevenueEventKind {
    use tributary_model::RevenueEventKind as K;
    use tributary_sim::DealMotion as M;
    match m {
        M::NewBusiness => K::New,
        M::Renewal => K::Renewal,
        M::Expansion | M::AddOn => K::Expansion,
        M::Contraction => K::Contraction,
    }
}

/// The mock behind a router that answers `GET /crm/v3/pipelines/deals` with `pipelines`.
async fn with_pipelines(company: Company, pipelines: Value) -> Fixture {
    let f = fixture_with(company, Faults::default()).await;
    let router = axum::Router::new()
        .route(
            "/crm/v3/pipelines/deals",
            axum::routing::get(move || {
                let body = pipelines.clone();
                async move { axum::Json(body) }
            }),
        )
        .fallback_service(f.mock.router());
    let server = MockServer::start(router).await.expect("mock binds");
    Fixture { server, ..f }
}

fn won_ids(items: &[ReadItem]) -> BTreeSet<String> {
    ids(&records(items)).into_iter().collect()
}

#[tokio::test]
async fn won_is_decided_by_the_pipeline_stage_and_unknown_stages_fall_back() {
    let company = generate(40);
    let all_won: BTreeSet<String> = company
        .expected_closed_won_deals()
        .map(|d| d.id.clone())
        .collect();
    let in_renewals: BTreeSet<String> = company
        .expected_closed_won_deals()
        .filter(|d| hubspot::deal_pipeline(d).id == hubspot::RENEWALS_PIPELINE.id)
        .map(|d| d.id.clone())
        .collect();
    assert!(!in_renewals.is_empty());
    let stage = |id: &str, closed: bool, probability: &str| {
        json!({"id": id, "label": id, "displayOrder": 0, "archived": false,
            "metadata": {"isClosed": closed.to_string(), "probability": probability}})
    };
    let default = json!({"id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": false,
        "stages": [stage("closedwon", true, "1.0"), stage("closedlost", true, "0.0"),
                   stage("appointmentscheduled", false, "0.2"), stage("qualifiedtobuy", false, "0.4"),
                   stage("presentationscheduled", false, "0.6"), stage("decisionmakerboughtin", false, "0.8"),
                   stage("contractsent", false, "0.9")]});

    // The custom pipeline is unknown (created after the run read the pipelines): its deals
    // are decided by hs_is_closed_won; nothing fails.
    let f = with_pipelines(generate(40), json!({"results": [default.clone()]})).await;
    let c = connector(&f, hubspot::DEFAULT_ACCESS_TOKEN, 50);
    let items = read_all(&c, "deals", None).await.unwrap();
    assert!(rejects(&items).is_empty());
    assert_eq!(won_ids(&items), all_won);

    // The stage metadata wins over `hs_is_closed_won`: a portal whose `Renewed` stage has
    // a probability below 1.0 does not count it as won.
    let mut renewals = json!({"id": "1487", "label": "Renewals", "displayOrder": 1, "archived": false,
        "stages": [stage("4811301", false, "0.3"), stage("4811302", false, "0.6"),
                   stage("4811303", false, "0.9"), stage("4811304", true, "0.99"),
                   stage("4811305", true, "0.0")]});
    let f = with_pipelines(
        generate(40),
        json!({"results": [default.clone(), renewals.clone()]}),
    )
    .await;
    let c = connector(&f, hubspot::DEFAULT_ACCESS_TOKEN, 50);
    let items = read_all(&c, "deals", None).await.unwrap();
    let expected: BTreeSet<String> = all_won.difference(&in_renewals).cloned().collect();
    assert_eq!(won_ids(&items), expected);

    // And the other way: a won stage in a custom pipeline is won without the `closedwon` id.
    renewals["stages"][3]["metadata"]["probability"] = json!("1.0");
    let f = with_pipelines(generate(40), json!({"results": [default, renewals]})).await;
    let c = connector(&f, hubspot::DEFAULT_ACCESS_TOKEN, 50);
    assert_eq!(
        won_ids(&read_all(&c, "deals", None).await.unwrap()),
        all_won
    );

    // A pipelines body that is not one fails the stream loudly.
    let f = with_pipelines(generate(5), json!({"status": "error"})).await;
    let c = connector(&f, hubspot::DEFAULT_ACCESS_TOKEN, 50);
    let err = read_all(&c, "deals", None).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Decode { .. }), "{err:?}");
}

#[tokio::test]
async fn a_mapped_property_the_portal_lacks_fails_before_anything_is_read() {
    let f = fixture_with(generate(10), Faults::default()).await;
    let mut mapping = tributary_testkit::mapping(tributary_mock_hubspot::revenue_mapping());
    mapping.term_field = Some("contract_term".to_owned());
    let config = HubspotConfig {
        mapping,
        ..HubspotConfig::new(
            f.server.base_url.clone(),
            SecretString::from(hubspot::DEFAULT_ACCESS_TOKEN),
        )
    };
    let http = HttpClient::new(
        HttpClientConfig::default(),
        http_auth(&config, "t").unwrap(),
    )
    .unwrap();
    let c = HubspotConnector::new(
        ConnectorContext {
            instance: INSTANCE.to_owned(),
            http,
        },
        config,
    )
    .unwrap();
    for mode in [SyncMode::FullRefresh, SyncMode::Incremental] {
        let spec = stream(&c, "deals");
        let first = c.read(&spec, mode, None).next().await.unwrap();
        match first {
            Err(ConnectorError::Config { instance, message }) => {
                assert_eq!(instance, INSTANCE);
                assert!(message.contains("mapping.term_field"), "{message}");
                assert!(message.contains("`contract_term`"), "{message}");
            }
            other => panic!("expected a config error first, got {other:?}"),
        }
    }
    // Other streams do not depend on the deal mapping.
    assert!(!records(&read_all(&c, "companies", None).await.unwrap()).is_empty());
}

#[tokio::test]
async fn a_portal_without_multi_currency_books_every_deal_in_its_currency() {
    let company = Arc::new(generate(30));
    let mock = HubspotMock::new(
        company.clone(),
        HubspotMockConfig {
            multi_currency: false,
            ..HubspotMockConfig::default()
        },
    );
    let server = MockServer::start(mock.router()).await.unwrap();
    let config = HubspotConfig {
        mapping: tributary_testkit::mapping(tributary_mock_hubspot::revenue_mapping()),
        default_currency: "CHF".to_owned(),
        ..HubspotConfig::new(
            server.base_url.clone(),
            SecretString::from(hubspot::DEFAULT_ACCESS_TOKEN),
        )
    };
    let http = HttpClient::new(
        HttpClientConfig::default(),
        http_auth(&config, "t").unwrap(),
    )
    .unwrap();
    let c = HubspotConnector::new(
        ConnectorContext {
            instance: INSTANCE.to_owned(),
            http,
        },
        config,
    )
    .unwrap();
    let items = read_all(&c, "deals", None).await.unwrap();
    let recs = records(&items);
    assert_eq!(recs.len(), company.expected_closed_won_deals().count());
    for r in &recs {
        let Entity::Subscription(s) = &r.entity else {
            panic!("{r:?}")
        };
        assert_eq!(s.arr.currency.to_string(), "CHF");
        assert!(r.raw["properties"].get("deal_currency_code").is_none());
    }
}

#[tokio::test]
async fn resuming_from_a_mid_stream_checkpoint_has_no_gap_or_duplicate() {
    let f = fixture_with(generate(30), Faults::default()).await;
    let c = connector(&f, hubspot::DEFAULT_ACCESS_TOKEN, 7);
    for name in ["companies", "contacts", "deals", "deal_contacts"] {
        let full = read_all(&c, name, None).await.unwrap();
        let all_ids = ids(&records(&full));

        // Stop after the third checkpoint, as a crash after committing it would.
        let spec = stream(&c, name);
        let mut s = c.read(&spec, SyncMode::FullRefresh, None);
        let mut before = Vec::new();
        let mut seen = 0;
        let state = loop {
            match s.next().await.unwrap().unwrap() {
                ReadItem::Checkpoint(state) => {
                    seen += 1;
                    if seen == 3 {
                        break state;
                    }
                }
                ReadItem::Record(r) => before.push(r.external_ref.external_id.clone()),
                // The vendor's total for the progress bar; lost and open deals.
                ReadItem::Expect(_) | ReadItem::Skip => {}
                other => panic!("unexpected {other:?}"),
            }
        };
        drop(s);
        assert!(state.0.get("after").is_some(), "{name}: {state:?}");
        let rest = read_all(&c, name, Some(state)).await.unwrap();
        let after = ids(&records(&rest));
        assert!(!before.is_empty() && !after.is_empty(), "{name}");
        let mut joined = before.clone();
        joined.extend(after);
        assert_eq!(joined, all_ids, "{name}: resumed read continues exactly");
    }
}

#[tokio::test]
async fn malformed_records_become_rejects_or_fail_validation() {
    let faults = Faults::none().with_malformed_records(2);
    let f = fixture_with(generate(30), faults.clone()).await;
    let bad = hubspot::malformed_ids(&f.company, &faults);
    let c = connector(&f, hubspot::DEFAULT_ACCESS_TOKEN, 7);

    // Deals: exactly the malformed won deals are rejected, naming `amount`; the rest land.
    let items = read_all(&c, "deals", None).await.unwrap();
    let rej = rejects(&items);
    let rejected: Vec<String> = rej.iter().filter_map(|r| r.external_id.clone()).collect();
    assert_eq!(rejected, bad.deals);
    for r in &rej {
        let id = r.external_id.as_deref().unwrap();
        assert!(r.reason.contains("amount"), "{}", r.reason);
        assert!(
            r.reason.contains(id) && r.reason.contains("deals"),
            "{}",
            r.reason
        );
        assert!(r.reason.contains(hubspot::MALFORMED_AMOUNT), "{}", r.reason);
        assert_eq!(r.raw["id"], json!(id));
        assert_eq!(r.raw["properties"]["amount"], hubspot::MALFORMED_AMOUNT);
    }
    let landed: BTreeSet<String> = ids(&records(&items)).into_iter().collect();
    let expected: BTreeSet<String> = f
        .company
        .expected_closed_won_deals()
        .map(|d| d.id.clone())
        .filter(|id| !bad.deals.contains(id))
        .collect();
    assert_eq!(landed, expected);

    // Companies with an empty name are records; validation is what quarantines them.
    let items = read_all(&c, "companies", None).await.unwrap();
    assert!(rejects(&items).is_empty());
    let recs = records(&items);
    assert_eq!(recs.len(), f.company.accounts.len());
    let invalid: Vec<String> = recs
        .iter()
        .filter(|r| r.entity.validate().is_err())
        .map(|r| r.external_ref.external_id.clone())
        .collect();
    assert_eq!(invalid, bad.companies);

    // Contacts with a garbage email and no name: records without email, failing validation.
    let items = read_all(&c, "contacts", None).await.unwrap();
    assert!(rejects(&items).is_empty());
    let invalid: Vec<String> = records(&items)
        .iter()
        .filter(|r| matches!(&r.entity, Entity::Person(p) if p.email.is_none()))
        .filter(|r| r.entity.validate().is_err())
        .map(|r| r.external_ref.external_id.clone())
        .collect();
    assert_eq!(invalid, bad.contacts);
}

#[tokio::test]
async fn archived_records_are_emitted_as_deletes_after_the_live_ones() {
    let mut company = generate(12);
    let archived_at = chrono::Utc::now() - chrono::Duration::days(3);
    let gone: Vec<String> = [1usize, 5, 9]
        .iter()
        .map(|&i| {
            company.contacts[i].archived_at = Some(archived_at);
            company.contacts[i].id.clone()
        })
        .collect();
    let f = fixture_with(company, Faults::default()).await;
    let c = connector(&f, hubspot::DEFAULT_ACCESS_TOKEN, 2);
    let items = read_all(&c, "contacts", None).await.unwrap();
    let deletes: Vec<&ExternalRef> = items
        .iter()
        .filter_map(|i| match i {
            ReadItem::Delete(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(
        deletes
            .iter()
            .map(|r| r.external_id.clone())
            .collect::<Vec<_>>(),
        gone
    );
    assert!(deletes.iter().all(|r| r.object == "contacts"));
    let live = ids(&records(&items));
    assert_eq!(live.len(), f.company.contacts.len() - gone.len());
    assert!(live.iter().all(|id| !gone.contains(id)));
    // The archived phase resumes from its own checkpoint: 2 archived pages of size 2.
    let resume_at = items
        .iter()
        .filter_map(|i| match i {
            ReadItem::Checkpoint(s)
                if s.0.get("archived").is_some() && s.0.get("after").is_some() =>
            {
                Some(s.clone())
            }
            _ => None,
        })
        .next()
        .expect("a mid-archive checkpoint");
    let rest = read_all(&c, "contacts", Some(resume_at)).await.unwrap();
    assert!(records(&rest).is_empty());
    let rest_deletes: Vec<String> = rest
        .iter()
        .filter_map(|i| match i {
            ReadItem::Delete(r) => Some(r.external_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(rest_deletes, gone[2..].to_vec());
}

#[tokio::test]
async fn check_works_and_a_wrong_token_is_an_auth_error() {
    let f = fixture_with(generate(3), Faults::default()).await;
    let good = connector(&f, hubspot::DEFAULT_ACCESS_TOKEN, 100);
    good.check().await.unwrap();

    let bad = connector(&f, "pat-na1-wrong", 100);
    let err = bad.check().await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("INVALID_AUTHENTICATION"), "{err}");
    assert!(
        !err.to_string().contains("pat-na1-wrong"),
        "token not leaked"
    );
    let err = read_all(&bad, "companies", None).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn unknown_streams_are_config_errors() {
    let f = fixture_with(generate(3), Faults::default()).await;
    let c = connector(&f, hubspot::DEFAULT_ACCESS_TOKEN, 100);
    let bogus = StreamSpec {
        name: "tickets".to_owned(),
        ..stream(&c, "deals")
    };
    for mode in [SyncMode::FullRefresh, SyncMode::Incremental] {
        let first = c.read(&bogus, mode, None).next().await.unwrap();
        assert!(
            matches!(&first, Err(ConnectorError::Config { message, .. }) if message.contains("tickets")),
            "{first:?}"
        );
    }
}

#[tokio::test]
async fn transient_faults_are_retried_and_land_exactly_what_a_clean_run_lands() {
    // 429 storms (Retry-After 0), 5xx bursts and randomly truncated pages; never more than
    // a few failures in a row, well inside the client's retry budget.
    let faults = Faults::none()
        .with_malformed_records(2)
        .with_rate_limit(Schedule::burst(3, 4).repeating_every(23))
        .with_retry_after_secs(0)
        .with_server_errors(Schedule::burst(2, 13).repeating_every(29))
        .with_truncate(Schedule::random(Probability::new(0.15)));
    let clean = fixture_with(generate(60), Faults::none().with_malformed_records(2)).await;
    let faulty = fixture_with(generate(60), faults).await;
    // Backoff of a millisecond or so: the test is about outcomes, not waiting.
    let fast = HttpClientConfig {
        initial_backoff: std::time::Duration::from_millis(1),
        max_backoff: std::time::Duration::from_millis(5),
        ..HttpClientConfig::default()
    };
    let c_clean = connector(&clean, hubspot::DEFAULT_ACCESS_TOKEN, 9);
    let c_faulty = connector_with(&faulty, hubspot::DEFAULT_ACCESS_TOKEN, 9, fast);

    c_faulty.check().await.unwrap();
    c_clean.check().await.unwrap();
    for name in ["companies", "contacts", "deals", "deal_contacts"] {
        let expected = read_all(&c_clean, name, None).await.unwrap();
        let got = read_all(&c_faulty, name, None).await.unwrap();
        assert!(!records(&expected).is_empty(), "{name}");
        // Records, rejects, deletes and checkpoints: item for item the same.
        assert_eq!(got, expected, "{name}");
    }

    let clean_stats = clean.mock.stats();
    assert_eq!(clean_stats.rate_limited + clean_stats.server_errors, 0);
    let stats = faulty.mock.stats();
    assert!(stats.rate_limited >= 6, "{stats:?}");
    assert!(stats.server_errors >= 4, "{stats:?}");
    assert!(stats.truncated >= 3, "{stats:?}");
    // Every fault cost exactly one retried request, and nothing else differed.
    assert_eq!(
        stats.requests,
        clean_stats.requests + stats.rate_limited + stats.server_errors + stats.truncated,
        "{stats:?}"
    );
    assert_eq!(
        FaultStats {
            requests: 0,
            rate_limited: 0,
            server_errors: 0,
            truncated: 0,
            ..stats
        },
        FaultStats::default(),
        "no other knob was on"
    );
}
