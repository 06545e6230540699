//! The Salesforce mock against its documented wire format (`vendor-apis.md` §1).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use base64::Engine as _;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::{str::FromStr, sync::Arc};
use tributary_mock_kit::{Faults, MockServer, Schedule};
use tributary_mock_salesforce::{
    JWT_BEARER_GRANT, SObject, SalesforceMock, SalesforceMockConfig, TOKEN_PATH, opportunity_type,
    salesforce_id, sf_datetime,
};
use tributary_sim::{Company, DealStage, SimConfig, SimContact};

fn parse_sf_datetime(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

struct Fixture {
    company: Arc<Company>,
    mock: SalesforceMock,
    server: MockServer,
    client: reqwest::Client,
}

async fn fixture(config: SalesforceMockConfig) -> Fixture {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: 80,
        ..SimConfig::default()
    }));
    fixture_for(company, config).await
}

async fn fixture_for(company: Arc<Company>, config: SalesforceMockConfig) -> Fixture {
    let mock = SalesforceMock::new(company.clone(), config);
    let server = MockServer::start(mock.router()).await.unwrap();
    Fixture {
        company,
        mock,
        server,
        client: reqwest::Client::new(),
    }
}

impl Fixture {
    async fn token(&self) -> String {
        let c = self.mock.config();
        let (status, body) = self
            .post_token(&[
                ("grant_type", "refresh_token"),
                ("client_id", &c.client_id),
                ("client_secret", &c.client_secret),
                ("refresh_token", &c.refresh_token),
            ])
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn post_token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}{TOKEN_PATH}", self.server.base_url))
            .form(form)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        token: &str,
        batch: Option<usize>,
    ) -> (u16, HeaderMap, Value) {
        let mut req = self
            .client
            .get(format!("{}{path}", self.server.base_url))
            .query(query)
            .bearer_auth(token);
        if let Some(n) = batch {
            req = req.header("Sforce-Query-Options", format!("batchSize={n}"));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.json().await.unwrap())
    }
}

const Q: &str = "/services/data/v62.0/query";

#[test]
fn ids_are_eighteen_characters_with_the_case_safe_suffix() {
    // 001SI → bits 3,4 (S, I) = 24 → 'Y'; M0000 → bit 0 → 'B'; 00042 → 'A'.
    assert_eq!(salesforce_id(SObject::Account, 42), "001SIM000000042YBA");
    assert_eq!(salesforce_id(SObject::User, 7).len(), 18);
    assert_eq!(
        sf_datetime(DateTime::from_timestamp(1_714_060_237, 0).unwrap()),
        "2024-04-25T15:50:37.000+0000"
    );
}

#[tokio::test]
async fn soql_subset_parses_and_refuses_the_rest() {
    let f = fixture(SalesforceMockConfig::default()).await;
    let token = f.token().await;
    let (status, _, body) = f
        .get(
            Q,
            &[(
                "q",
                "select Id, systemmodstamp FROM Opportunity WHERE SystemModstamp>=2024-01-01T00:00:00Z \
                 AND IsDeleted = false ORDER BY SystemModstamp ASC, Id ASC LIMIT 5",
            )],
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let records = body["records"].as_array().unwrap();
    assert_eq!(records.len(), 5);
    let keys: Vec<&String> = records[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["Id", "SystemModstamp", "attributes"],
        "canonical names"
    );
    for bad in [
        "SELECT FROM Account",
        "SELECT Id Account",
        "SELECT Id FROM Account WHERE",
        "SELECT Id FROM Account ORDER SystemModstamp",
        "SELECT Id FROM Account GROUP BY Name",
        "SELECT Id FROM Account WHERE Name = 'x",
        "SELECT Id FROM Account WHERE SystemModstamp >= yesterday",
    ] {
        let (status, _, body) = f.get(Q, &[("q", bad)], &token, None).await;
        assert_eq!(
            (status, &body[0]["errorCode"]),
            (400, &json!("MALFORMED_QUERY")),
            "{bad}"
        );
    }
    let (status, _, body) = f
        .get(Q, &[("q", "SELECT Nope FROM Account")], &token, None)
        .await;
    assert_eq!(
        (status, &body[0]["errorCode"]),
        (400, &json!("INVALID_FIELD"))
    );
    let (status, _, body) = f
        .get(Q, &[("q", "SELECT Id FROM Lead")], &token, None)
        .await;
    assert_eq!(
        (status, &body[0]["errorCode"]),
        (400, &json!("INVALID_TYPE"))
    );
}

#[tokio::test]
async fn token_endpoint_speaks_both_grants_and_refuses_bad_ones() {
    let f = fixture(SalesforceMockConfig::default()).await;
    let c = f.mock.config().clone();
    let (status, body) = f
        .post_token(&[
            ("grant_type", "refresh_token"),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
            ("refresh_token", &c.refresh_token),
        ])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["instance_url"], json!(f.server.base_url));
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("expires_in").is_none());
    assert!(body["issued_at"].as_str().unwrap().parse::<i64>().is_ok());
    for key in ["id", "signature", "scope"] {
        assert!(body[key].is_string(), "{key}: {body}");
    }
    let (status, body) = f
        .post_token(&[
            ("grant_type", "refresh_token"),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
            ("refresh_token", "stolen"),
        ])
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "authentication failure"})
    );

    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let jwt = |claims: Value| format!("{}.{}.c2ln", b64(&json!({"alg": "RS256"})), b64(&claims));
    let exp = Utc::now().timestamp() + 120;
    let good = json!({"iss": c.client_id, "sub": c.username, "aud": c.audience, "exp": exp});
    let (status, body) = f
        .post_token(&[("grant_type", JWT_BEARER_GRANT), ("assertion", &jwt(good))])
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none());
    for bad in [
        json!({"iss": "other", "sub": c.username, "aud": c.audience, "exp": exp}),
        json!({"iss": c.client_id, "sub": "eve@x", "aud": c.audience, "exp": exp}),
        json!({"iss": c.client_id, "sub": c.username, "aud": "https://evil", "exp": exp}),
        json!({"iss": c.client_id, "sub": c.username, "aud": c.audience, "exp": exp - 600}),
        json!({"iss": c.client_id, "sub": c.username, "aud": c.audience, "exp": exp + 3600}),
    ] {
        let (status, body) = f
            .post_token(&[
                ("grant_type", JWT_BEARER_GRANT),
                ("assertion", &jwt(bad.clone())),
            ])
            .await;
        assert_eq!(
            (status, &body["error"]),
            (400, &json!("invalid_grant")),
            "{bad}"
        );
    }
    let (status, body) = f.post_token(&[("grant_type", "password")]).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn query_pages_through_next_records_url_and_serves_every_live_record() {
    let f = fixture(SalesforceMockConfig::default()).await;
    let token = f.token().await;
    let live = f
        .company
        .contacts
        .iter()
        .filter(|c| c.archived_at.is_none())
        .count();
    assert!(live > 400, "need three batches of 200, have {live}");
    let (status, headers, mut body) = f
        .get(
            Q,
            &[(
                "q",
                "SELECT Id, Email, SystemModstamp FROM Contact ORDER BY SystemModstamp ASC, Id ASC",
            )],
            &token,
            Some(200),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(headers.contains_key("sforce-limit-info"));
    assert_eq!(body["totalSize"], json!(live));
    let mut seen = Vec::new();
    loop {
        let records = body["records"].as_array().unwrap();
        assert!(records.len() <= 200);
        for r in records {
            assert_eq!(r["attributes"]["type"], "Contact");
            assert_eq!(
                r.as_object().unwrap().len(),
                4,
                "attributes + 3 fields: {r}"
            );
            seen.push((
                parse_sf_datetime(r["SystemModstamp"].as_str().unwrap()).unwrap(),
                r["Id"].as_str().unwrap().to_owned(),
            ));
        }
        if body["done"] == json!(true) {
            assert!(body.get("nextRecordsUrl").is_none());
            break;
        }
        let next = body["nextRecordsUrl"].as_str().unwrap().to_owned();
        assert!(next.starts_with("/services/data/v62.0/query/01g"), "{next}");
        let (status, _, b) = f.get(&next, &[], &token, Some(200)).await;
        assert_eq!(status, 200);
        body = b;
    }
    assert_eq!(seen.len(), live);
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "ordered by SystemModstamp, Id"
    );
}

#[tokio::test]
async fn where_filters_on_system_modstamp_and_query_all_adds_deleted_rows() {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: 80,
        ..SimConfig::default()
    }));
    let deleted: Vec<String> = company
        .contacts
        .iter()
        .step_by(7)
        .map(|c| c.id.clone())
        .collect();
    let f = fixture_for(
        company,
        SalesforceMockConfig {
            deleted: deleted
                .iter()
                .map(|id| (SObject::Contact, id.clone()))
                .collect(),
            ..SalesforceMockConfig::default()
        },
    )
    .await;
    let token = f.token().await;
    let count = |body: &Value| body["totalSize"].as_u64().unwrap() as usize;
    let today = f.company.today.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let is_deleted = |c: &SimContact| deleted.contains(&c.id);
    let stamp = |c: &SimContact| if is_deleted(c) { today } else { c.updated_at };
    let mut stamps: Vec<_> = f.company.contacts.iter().map(|c| c.updated_at).collect();
    stamps.sort();
    let cut = stamps[stamps.len() / 2];
    let soql = format!(
        "SELECT Id, IsDeleted, SystemModstamp FROM Contact WHERE SystemModstamp >= {} ORDER BY SystemModstamp ASC",
        cut.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let (_, _, live) = f.get(Q, &[("q", &soql)], &token, None).await;
    let (_, _, all) = f
        .get(
            "/services/data/v62.0/queryAll",
            &[("q", &soql)],
            &token,
            None,
        )
        .await;
    let contacts = &f.company.contacts;
    let cut_s = cut.timestamp();
    let expect_all = contacts
        .iter()
        .filter(|c| stamp(c).timestamp() >= cut_s)
        .count();
    let expect_live = contacts
        .iter()
        .filter(|c| !is_deleted(c) && stamp(c).timestamp() >= cut_s)
        .count();
    assert_eq!((count(&live), count(&all)), (expect_live, expect_all));
    assert!(expect_all > expect_live, "deleted contacts since the cut");
    assert!(expect_live < contacts.len());
    let deleted_rows = all["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["IsDeleted"] == json!(true))
        .count();
    assert_eq!(deleted_rows, expect_all - expect_live);
    let (status, _, body) = f
        .get(
            Q,
            &[("q", "SELECT Id FROM Account GROUP BY Name")],
            &token,
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body[0]["errorCode"], "MALFORMED_QUERY");
}

#[tokio::test]
async fn opportunities_carry_amount_arr_and_type() {
    let f = fixture(SalesforceMockConfig::default()).await;
    let token = f.token().await;
    let (_, _, body) = f
        .get(
            Q,
            &[("q", "SELECT Id, Amount, ARR__c, Type, IsWon, CloseDate, StageName FROM Opportunity WHERE IsWon = true")],
            &token,
            None,
        )
        .await;
    let records = body["records"].as_array().unwrap();
    let won: Vec<_> = f
        .company
        .deals
        .iter()
        .filter(|d| d.archived_at.is_none() && d.stage == DealStage::Won)
        .collect();
    assert_eq!(records.len(), won.len());
    let (r, d) = (&records[0], won[0]);
    assert_eq!(r["StageName"], "Closed Won");
    assert_eq!(r["Type"], opportunity_type(d.motion));
    assert_eq!(
        rust_decimal::Decimal::from_str(&r["Amount"].to_string()).unwrap(),
        d.amount
    );
    assert!(r["ARR__c"].is_number());
    assert_eq!(r["CloseDate"], json!(d.close_date.date_naive().to_string()));
}

#[tokio::test]
async fn limit_header_counts_and_the_daily_limit_refuses() {
    let f = fixture(SalesforceMockConfig {
        daily_limit: 3,
        ..SalesforceMockConfig::default()
    })
    .await;
    let token = f.token().await;
    let q = [("q", "SELECT Id FROM User")];
    for n in 1..=3 {
        let (status, headers, _) = f.get(Q, &q, &token, None).await;
        assert_eq!(status, 200);
        assert_eq!(
            headers["sforce-limit-info"],
            format!("api-usage={n}/3").as_str()
        );
    }
    let (status, headers, body) = f.get(Q, &q, &token, None).await;
    assert_eq!(status, 403);
    assert_eq!(headers["sforce-limit-info"], "api-usage=3/3");
    assert_eq!(
        body,
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    );
    assert_eq!(f.mock.api_usage(), 4);
}

#[tokio::test]
async fn expired_and_unknown_sessions_get_invalid_session_id() {
    let f = fixture(SalesforceMockConfig::with_faults(
        Faults::none().with_token_ttl_requests(2),
    ))
    .await;
    let token = f.token().await;
    let q = [("q", "SELECT Id FROM Account")];
    for _ in 0..2 {
        assert_eq!(f.get(Q, &q, &token, None).await.0, 200);
    }
    let (status, _, body) = f.get(Q, &q, &token, None).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
    assert_eq!(f.get(Q, &q, "forged", None).await.0, 401);
    assert_eq!(f.mock.stats().expired_tokens, 1);
}

#[tokio::test]
async fn fault_layer_speaks_salesforce() {
    let f = fixture(SalesforceMockConfig::with_faults(
        Faults::none().with_server_errors(Schedule::burst(1, 2)),
    ))
    .await;
    let token = f.token().await;
    let (status, _, body) = f
        .get(Q, &[("q", "SELECT Id FROM User")], &token, None)
        .await;
    let expected = if status == 500 {
        "UNKNOWN_EXCEPTION"
    } else {
        "SERVER_UNAVAILABLE"
    };
    assert!([500, 502, 503].contains(&status), "{status}");
    assert_eq!(body[0]["errorCode"], expected);
    assert_eq!(f.mock.stats().server_errors, 1);
}

fn describe_path(object: &str) -> String {
    format!("/services/data/v62.0/sobjects/{object}/describe")
}

#[tokio::test]
async fn describe_serves_every_sobject_with_its_fields_and_picklists() {
    let f = fixture(SalesforceMockConfig::default()).await;
    let token = f.token().await;
    for object in SObject::ALL {
        let (status, _, body) = f
            .get(&describe_path(object.as_str()), &[], &token, None)
            .await;
        assert_eq!(status, 200, "{object:?}: {body}");
        assert_eq!(body["name"], object.as_str());
        let names: Vec<&str> = body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, object.fields(), "{object:?}");
        for field in body["fields"].as_array().unwrap() {
            assert!(
                field["type"].is_string() && field["picklistValues"].is_array(),
                "{field}"
            );
        }
    }
    let (_, _, body) = f
        .get(&describe_path("Opportunity"), &[], &token, None)
        .await;
    let type_field = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Type")
        .unwrap();
    assert_eq!(type_field["type"], "picklist");
    let active: Vec<&str> = type_field["picklistValues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["active"] == json!(true))
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        active,
        [
            "New Business",
            "Renewal",
            "Existing Customer - Upgrade",
            "Existing Customer - Downgrade"
        ]
    );
    let (status, _, body) = f.get(&describe_path("Invoice__c"), &[], &token, None).await;
    assert_eq!(status, 404);
    assert_eq!(body[0]["errorCode"], "NOT_FOUND");
    let (status, _, _) = f.get(&describe_path("Account"), &[], "bogus", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_single_currency_org_has_no_currency_iso_code_and_no_currency_objects() {
    let f = fixture(SalesforceMockConfig {
        multi_currency: false,
        ..SalesforceMockConfig::default()
    })
    .await;
    let token = f.token().await;
    for object in ["Account", "Opportunity", "Contract"] {
        let (_, _, body) = f.get(&describe_path(object), &[], &token, None).await;
        assert!(
            body["fields"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["name"] != "CurrencyIsoCode"),
            "{object}"
        );
        let (status, _, body) = f
            .get(
                Q,
                &[("q", &format!("SELECT Id, CurrencyIsoCode FROM {object}"))],
                &token,
                None,
            )
            .await;
        assert_eq!(status, 400, "{object}");
        assert_eq!(body[0]["errorCode"], "INVALID_FIELD", "{body}");
        assert!(
            body[0]["message"]
                .as_str()
                .unwrap()
                .contains("CurrencyIsoCode")
        );
    }
    for object in ["CurrencyType", "DatedConversionRate"] {
        let (status, _, body) = f
            .get(
                Q,
                &[("q", &format!("SELECT Id FROM {object}"))],
                &token,
                None,
            )
            .await;
        assert_eq!(
            (status, body[0]["errorCode"].clone()),
            (400, json!("INVALID_TYPE"))
        );
        let (status, _, _) = f.get(&describe_path(object), &[], &token, None).await;
        assert_eq!(status, 404, "{object}");
    }
    let (status, _, body) = f
        .get(
            Q,
            &[("q", "SELECT Id, Amount FROM Opportunity")],
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_batch_size_a_query_asks_for_is_kept_by_its_later_batches() {
    let f = fixture(SalesforceMockConfig::default()).await;
    let token = f.token().await;
    let (_, _, body) = f
        .get(Q, &[("q", "SELECT Id FROM Contact")], &token, Some(200))
        .await;
    assert_eq!(body["records"].as_array().unwrap().len(), 200);
    let next = body["nextRecordsUrl"].as_str().unwrap().to_owned();
    let (_, _, body) = f.get(&next, &[], &token, None).await;
    assert_eq!(
        body["records"].as_array().unwrap().len(),
        200,
        "kept without the header"
    );
    // The org's own batch size caps what a request asks for.
    let f = fixture(SalesforceMockConfig {
        batch_size: 50,
        ..SalesforceMockConfig::default()
    })
    .await;
    let token = f.token().await;
    let (_, _, body) = f
        .get(Q, &[("q", "SELECT Id FROM Contact")], &token, Some(500))
        .await;
    assert_eq!(body["records"].as_array().unwrap().len(), 50);
}

async fn all_records(f: &Fixture, token: &str, soql: &str) -> Vec<Value> {
    let (status, _, mut body) = f.get(Q, &[("q", soql)], token, None).await;
    assert_eq!(status, 200, "{body}");
    let mut out = Vec::new();
    loop {
        out.extend(body["records"].as_array().unwrap().iter().cloned());
        match body["nextRecordsUrl"].as_str() {
            Some(next) => body = f.get(next, &[], token, None).await.2,
            None => return out,
        }
    }
}

#[tokio::test]
async fn contracts_mirror_closed_won_deals_with_inclusive_end_dates() {
    let f = fixture(SalesforceMockConfig::default()).await;
    let token = f.token().await;
    let contracts = all_records(
        &f,
        &token,
        "SELECT Id, AccountId, ContractNumber, Status, StatusCode, StartDate, EndDate, ContractTerm, ARR__c, CurrencyIsoCode, OwnerId, CreatedDate, SystemModstamp, IsDeleted FROM Contract",
    )
    .await;
    let opportunities = all_records(
        &f,
        &token,
        "SELECT Id, AccountId, ARR__c, CurrencyIsoCode FROM Opportunity WHERE IsWon = true",
    )
    .await;
    let won: Vec<_> = f
        .company
        .deals
        .iter()
        .filter(|d| d.archived_at.is_none() && d.stage == DealStage::Won)
        .collect();
    assert_eq!(contracts.len(), won.len());
    assert_eq!(opportunities.len(), won.len());
    let today = f.company.today;
    let mut expired = 0;
    for d in won {
        let n: u64 = d.id.parse().unwrap();
        let id = salesforce_id(SObject::Contract, n);
        assert!(id.starts_with("800"));
        let c = contracts.iter().find(|c| c["Id"] == json!(id)).unwrap();
        let o = opportunities
            .iter()
            .find(|o| o["Id"] == json!(salesforce_id(SObject::Opportunity, n)))
            .unwrap();
        assert_eq!(c["StartDate"], json!(d.start_date().to_string()));
        let last = d.end_date().pred_opt().unwrap();
        assert_eq!(c["EndDate"], json!(last.to_string()), "inclusive last day");
        assert_eq!(c["ContractTerm"], json!(d.term_months));
        assert_eq!(
            (&c["AccountId"], &c["ARR__c"]),
            (&o["AccountId"], &o["ARR__c"])
        );
        assert_eq!(c["CurrencyIsoCode"], o["CurrencyIsoCode"]);
        let status = if today > last { "Expired" } else { "Activated" };
        expired += usize::from(status == "Expired");
        assert_eq!(
            (&c["Status"], &c["StatusCode"]),
            (&json!(status), &json!(status))
        );
        assert!(c["ContractNumber"].as_str().unwrap().len() == 8);
    }
    assert!(expired > 0 && expired < contracts.len(), "{expired}");
}

#[tokio::test]
async fn contact_roles_name_one_to_three_contacts_of_the_deals_account_one_primary() {
    let f = fixture(SalesforceMockConfig::default()).await;
    let token = f.token().await;
    let roles = all_records(
        &f,
        &token,
        "SELECT Id, OpportunityId, ContactId, Role, IsPrimary, SystemModstamp FROM OpportunityContactRole ORDER BY SystemModstamp ASC",
    )
    .await;
    assert!(!roles.is_empty());
    let co = &f.company;
    let deal_of = |id: &str| {
        co.deals
            .iter()
            .find(|d| salesforce_id(SObject::Opportunity, d.id.parse().unwrap()) == id)
            .unwrap()
    };
    let contact_of = |id: &str| {
        co.contacts
            .iter()
            .find(|c| salesforce_id(SObject::Contact, c.id.parse().unwrap()) == id)
            .unwrap()
    };
    let mut per_deal: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for r in &roles {
        assert!(r["Id"].as_str().unwrap().starts_with("00K"));
        let deal = deal_of(r["OpportunityId"].as_str().unwrap());
        let contact = contact_of(r["ContactId"].as_str().unwrap());
        assert_eq!(deal.stage, DealStage::Won);
        assert_eq!(deal.account, contact.account);
        assert!(contact.created_at <= deal.close_date);
        assert!(tributary_mock_salesforce::CONTACT_ROLES.contains(&r["Role"].as_str().unwrap()));
        let e = per_deal.entry(deal.id.clone()).or_default();
        e.0 += 1;
        e.1 += usize::from(r["IsPrimary"] == json!(true));
    }
    for (deal, (n, primary)) in per_deal {
        assert!((1..=3).contains(&n), "{deal}: {n}");
        assert_eq!(primary, 1, "{deal}");
    }
}

#[tokio::test]
async fn currency_objects_serve_the_exposed_dated_rates() {
    let f = fixture(SalesforceMockConfig::default()).await;
    let token = f.token().await;
    let corporate = all_records(
        &f,
        &token,
        "SELECT IsoCode FROM CurrencyType WHERE IsCorporate = true",
    )
    .await;
    assert_eq!(corporate.len(), 1);
    assert_eq!(
        corporate[0]["IsoCode"],
        tributary_mock_salesforce::CORPORATE_CURRENCY
    );
    let rows = all_records(
        &f,
        &token,
        "SELECT Id, IsoCode, ConversionRate, StartDate, NextStartDate FROM DatedConversionRate ORDER BY StartDate ASC",
    )
    .await;
    let expected = tributary_mock_salesforce::dated_conversion_rates();
    assert_eq!(rows.len(), expected.len());
    for rate in &expected {
        let row = rows
            .iter()
            .find(|r| {
                r["IsoCode"] == json!(rate.iso_code)
                    && r["StartDate"] == json!(rate.start_date.to_string())
            })
            .unwrap();
        assert_eq!(
            rust_decimal::Decimal::from_str(&row["ConversionRate"].to_string()).unwrap(),
            rate.rate
        );
        let next = expected
            .iter()
            .filter(|r| r.iso_code == rate.iso_code && r.start_date > rate.start_date)
            .map(|r| json!(r.start_date.to_string()))
            .next()
            .unwrap_or(Value::Null);
        assert_eq!(row["NextStartDate"], next);
    }
    let eur: Vec<String> = expected
        .iter()
        .filter(|r| r.iso_code == "EUR")
        .map(|r| r.rate.to_string())
        .collect();
    assert_eq!(eur, ["0.925926", "0.909091"]);
}
