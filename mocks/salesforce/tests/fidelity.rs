//! What the real Salesforce REST API accepts and official clients send (simple-salesforce,
//! driven by `.ci/official-clients`): the mock must accept it too (SPEC §7).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use serde_json::Value;
use std::sync::Arc;
use tributary_mock_kit::MockServer;
use tributary_mock_salesforce::{API_VERSIONS, SalesforceMock, SalesforceMockConfig, TOKEN_PATH};
use tributary_sim::{Company, SimConfig};

struct Fixture {
    server: MockServer,
    client: reqwest::Client,
    token: String,
}

async fn fixture() -> Fixture {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: 80,
        ..SimConfig::default()
    }));
    let config = SalesforceMockConfig::default();
    let mock = SalesforceMock::new(company, config.clone());
    let server = MockServer::start(mock.router()).await.unwrap();
    let client = reqwest::Client::new();
    let body: Value = client
        .post(format!("{}{TOKEN_PATH}", server.base_url))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
            ("refresh_token", config.refresh_token.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    Fixture {
        server,
        client,
        token,
    }
}

impl Fixture {
    /// GET `path` (with a query string if any) as simple-salesforce does, with its headers.
    async fn get(&self, path: &str, query: &[(&str, &str)], batch: Option<usize>) -> (u16, Value) {
        let mut req = self
            .client
            .get(format!("{}{path}", self.server.base_url))
            .query(query)
            .bearer_auth(&self.token)
            .header("Content-Type", "application/json")
            .header("X-PrettyPrint", "1");
        if let Some(n) = batch {
            req = req.header("Sforce-Query-Options", format!("batchSize={n}"));
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }
}

const SOQL: &str = "SELECT Id FROM Contact";

#[tokio::test]
async fn query_and_query_all_answer_with_and_without_a_trailing_slash() {
    let f = fixture().await;
    for resource in ["query", "queryAll"] {
        let (status, bare) = f
            .get(
                &format!("/services/data/v59.0/{resource}"),
                &[("q", SOQL)],
                None,
            )
            .await;
        assert_eq!(status, 200, "{bare}");
        let (status, slash) = f
            .get(
                &format!("/services/data/v59.0/{resource}/"),
                &[("q", SOQL)],
                None,
            )
            .await;
        assert_eq!(status, 200, "{resource}/ is refused: {slash}");
        assert_eq!(bare["totalSize"], slash["totalSize"]);
        assert_eq!(bare["records"], slash["records"]);
    }
}

#[tokio::test]
async fn next_records_url_answers_with_and_without_a_trailing_slash() {
    let f = fixture().await;
    let (status, first) = f
        .get("/services/data/v59.0/query/", &[("q", SOQL)], Some(200))
        .await;
    assert_eq!(status, 200, "{first}");
    let next = first["nextRecordsUrl"].as_str().unwrap().to_owned();
    let (status, bare) = f.get(&next, &[], None).await;
    assert_eq!(status, 200, "{bare}");
    let (status, slash) = f.get(&format!("{next}/"), &[], None).await;
    assert_eq!(status, 200, "{next}/ is refused: {slash}");
    assert_eq!(bare["records"], slash["records"]);
}

#[tokio::test]
async fn describe_answers_with_and_without_a_trailing_slash() {
    let f = fixture().await;
    let (status, bare) = f
        .get("/services/data/v59.0/sobjects/Account/describe", &[], None)
        .await;
    assert_eq!(status, 200, "{bare}");
    let (status, slash) = f
        .get("/services/data/v59.0/sobjects/Account/describe/", &[], None)
        .await;
    assert_eq!(status, 200, "describe/ is refused: {slash}");
    assert_eq!(bare, slash);
}

#[tokio::test]
async fn version_discovery_lists_the_versions_without_a_session() {
    let f = fixture().await;
    for path in ["/services/data", "/services/data/"] {
        let resp = f
            .client
            .get(format!("{}{path}", f.server.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let body: Value = resp.json().await.unwrap();
        let versions: Vec<&str> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap())
            .collect();
        assert_eq!(versions, API_VERSIONS);
        for v in body.as_array().unwrap() {
            let url = v["url"].as_str().unwrap();
            let (status, _) = f.get(&format!("{url}/query"), &[("q", SOQL)], None).await;
            assert_eq!(status, 200, "{url}/query");
        }
    }
}

#[tokio::test]
async fn global_describe_lists_every_sobject_with_its_urls() {
    // simple-salesforce's `describe()`.
    let f = fixture().await;
    for path in [
        "/services/data/v59.0/sobjects",
        "/services/data/v59.0/sobjects/",
    ] {
        let (status, body) = f.get(path, &[], None).await;
        assert_eq!(status, 200, "{path}: {body}");
        let sobjects = body["sobjects"].as_array().unwrap();
        let names: Vec<&str> = sobjects
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"Account") && names.contains(&"Opportunity"),
            "{names:?}"
        );
        let account = sobjects.iter().find(|o| o["name"] == "Account").unwrap();
        assert_eq!(account["keyPrefix"], "001");
        let describe = account["urls"]["describe"].as_str().unwrap();
        let (status, _) = f.get(describe, &[], None).await;
        assert_eq!(status, 200, "{describe}");
    }
}

#[tokio::test]
async fn a_record_is_retrieved_by_id_as_query_serves_it() {
    // simple-salesforce's `sf.Account.get(id)`.
    let f = fixture().await;
    let (_, listed) = f
        .get(
            "/services/data/v59.0/query",
            &[("q", "SELECT Id, Name, SystemModstamp FROM Account LIMIT 3")],
            None,
        )
        .await;
    for record in listed["records"].as_array().unwrap() {
        let url = record["attributes"]["url"].as_str().unwrap();
        for path in [url.to_owned(), format!("{url}/")] {
            let (status, got) = f.get(&path, &[], None).await;
            assert_eq!(status, 200, "{path}: {got}");
            assert_eq!(got["attributes"]["type"], "Account");
            for field in ["Id", "Name", "SystemModstamp"] {
                assert_eq!(got[field], record[field], "{field}");
            }
        }
    }
    let (status, body) = f
        .get(
            "/services/data/v59.0/sobjects/Account/001SIM999999999AAA",
            &[],
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body[0]["errorCode"], "NOT_FOUND");
}
