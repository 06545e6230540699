//! The mock against its documentation, over HTTP: helpers here, one module per concern.

mod associations;
mod knobs;
mod listing;
mod search;
use crate::*;
use std::collections::BTreeSet;
use tributary_mock_kit::{MockServer, Probability, Schedule};
use tributary_sim::SimConfig;

async fn serve(accounts: usize, faults: Faults) -> (Arc<Company>, MockServer) {
    let (company, _, server) = serve_mock(accounts, faults).await;
    (company, server)
}

/// The mock with a handle on its fault counters.
async fn serve_mock(accounts: usize, faults: Faults) -> (Arc<Company>, HubspotMock, MockServer) {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts,
        ..SimConfig::default()
    }));
    let mock = HubspotMock::new(company.clone(), HubspotMockConfig::with_faults(faults));
    let server = MockServer::start(mock.router()).await.unwrap();
    (company, mock, server)
}

/// `GET` returning the raw body, for responses that are not JSON.
async fn get_raw(
    server: &MockServer,
    path_and_query: &str,
    token: Option<&str>,
) -> (u16, HeaderMap, String) {
    let client = reqwest::Client::new();
    let mut req = client.get(format!("{}{path_and_query}", server.base_url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

/// Walks every page of a list with `token`, returning the ids on each page.
async fn page_ids(server: &MockServer, object: &str, query: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    for page in walk_pages(server, object, query).await {
        pages.push(
            page.iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect(),
        );
    }
    pages
}

/// Walks every page of a list, returning the records of each page.
async fn walk_pages(server: &MockServer, object: &str, query: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut q = format!("/crm/v3/objects/{object}?{query}");
        if let Some(a) = &after {
            q.push_str(&format!("&after={a}"));
        }
        let (status, _, body) = get(server, &q, Some(DEFAULT_ACCESS_TOKEN)).await;
        assert_eq!(status, 200, "{body}");
        pages.push(body["results"].as_array().unwrap().clone());
        match body["paging"]["next"]["after"].as_str() {
            Some(a) => after = Some(a.to_owned()),
            None => return pages,
        }
        assert!(pages.len() < 10_000, "paging never ends");
    }
}

async fn post_token(server: &MockServer, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{TOKEN_PATH}", server.base_url))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn refresh_form(config: &HubspotMockConfig) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "refresh_token".to_owned()),
        ("client_id", config.client_id.clone()),
        ("client_secret", config.client_secret.clone()),
        ("redirect_uri", "http://localhost/callback".to_owned()),
        ("refresh_token", config.refresh_token.clone()),
    ]
}

async fn refresh(server: &MockServer, config: &HubspotMockConfig) -> (u16, Value) {
    let form = refresh_form(config);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post_token(server, &pairs).await
}

async fn get(
    server: &MockServer,
    path_and_query: &str,
    token: Option<&str>,
) -> (u16, HeaderMap, Value) {
    let client = reqwest::Client::new();
    let mut req = client.get(format!("{}{path_and_query}", server.base_url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body: Value = resp.json().await.unwrap();
    (status, headers, body)
}

/// Walks every page of a list, returning all records.
async fn walk(server: &MockServer, object: &str, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut q = format!("/crm/v3/objects/{object}?{query}");
        if let Some(a) = &after {
            q.push_str(&format!("&after={a}"));
        }
        let (status, _, body) = get(server, &q, Some(DEFAULT_ACCESS_TOKEN)).await;
        assert_eq!(status, 200, "{body}");
        all.extend(body["results"].as_array().unwrap().iter().cloned());
        match body["paging"]["next"]["after"].as_str() {
            Some(a) => after = Some(a.to_owned()),
            None => {
                assert!(body.get("paging").is_none(), "no paging on the last page");
                return all;
            }
        }
    }
}

/// `POST` a search (or any JSON body) with the private-app token.
async fn post_json(server: &MockServer, path: &str, body: &Value) -> (u16, HeaderMap, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", server.base_url))
        .bearer_auth(DEFAULT_ACCESS_TOKEN)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap())
}

async fn search(server: &MockServer, object: &str, body: &Value) -> (u16, HeaderMap, Value) {
    post_json(server, &format!("/crm/v3/objects/{object}/search"), body).await
}

/// Pages a search to its end with `after`, returning every record and the `total` of each
/// page.
async fn search_all(server: &MockServer, object: &str, body: &Value) -> (Vec<Value>, Vec<u64>) {
    let mut records = Vec::new();
    let mut totals = Vec::new();
    let mut body = body.clone();
    loop {
        let (status, _, page) = search(server, object, &body).await;
        assert_eq!(status, 200, "{page}");
        totals.push(page["total"].as_u64().unwrap());
        records.extend(page["results"].as_array().unwrap().iter().cloned());
        match page["paging"]["next"]["after"].as_str() {
            Some(after) => body["after"] = json!(after),
            None => {
                assert!(page.get("paging").is_none());
                return (records, totals);
            }
        }
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn modified(r: &Value, property: &str) -> i64 {
    ms(r["properties"][property].as_str().unwrap().parse().unwrap())
}

fn ids_of(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}
