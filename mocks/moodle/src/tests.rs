//! The mock against the API it documents, over HTTP.

use super::*;
use std::collections::BTreeSet;
use tributary_mock_kit::{MockServer, Probability};
use tributary_sim::SimConfig;

async fn serve(faults: Faults) -> (MoodleMock, MockServer) {
    let mut company = Company::generate(&SimConfig {
        accounts: 40,
        ..SimConfig::default()
    });
    // The generator deletes nothing; a CRM user deletes two people a week before today.
    for i in [3, 5] {
        let person = &mut company.contacts[i];
        person.archived_at = Some(
            company.today.and_time(chrono::NaiveTime::MIN).and_utc() - chrono::Duration::days(7),
        );
    }
    let company = Arc::new(company);
    let mock = MoodleMock::new(company, faults);
    let server = MockServer::start(mock.router())
        .await
        .expect("a loopback port");
    (mock, server)
}

async fn get(server: &MockServer, path: &str, key: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(format!("{}{path}", server.base_url));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("the mock answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// Every page of a listing from `query`, following `next_cursor`: (ids in order, totals).
async fn page_through(server: &MockServer, resource: &str, query: &str) -> (Vec<Value>, Vec<u64>) {
    let (mut records, mut totals, mut cursor) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        let mut path = format!("/v1/{resource}?limit=7{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, body) = get(server, &path, Some(DEFAULT_API_KEY)).await;
        assert_eq!(status, 200, "{body}");
        records.extend(body["data"].as_array().expect("data").iter().cloned());
        totals.push(body["total"].as_u64().expect("total"));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (records, totals),
        }
    }
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn a_listing_serves_every_live_record_once_in_updated_order_with_its_total() {
    let (mock, server) = serve(Faults::none()).await;
    for resource in Resource::ALL {
        let (records, totals) = page_through(&server, resource.as_str(), "").await;
        let live = &mock.live_records()[resource.as_str()];
        let served = ids(&records);
        assert_eq!(
            served.iter().cloned().collect::<BTreeSet<_>>().len(),
            served.len()
        );
        assert_eq!(
            served.iter().cloned().collect::<BTreeSet<_>>(),
            live.keys().cloned().collect()
        );
        assert!(totals.iter().all(|&t| t as usize == live.len()));
        let keys: Vec<(String, String)> = records
            .iter()
            .map(|r| {
                (
                    r["updated_at"].as_str().unwrap_or("").to_owned(),
                    r["id"].to_string(),
                )
            })
            .collect();
        assert!(
            keys.windows(2).all(|w| w[0] <= w[1]),
            "not in (updated_at, id) order"
        );
    }
}

#[tokio::test]
async fn changes_since_a_time_include_tombstones_of_deleted_records() {
    let (mock, server) = serve(Faults::none()).await;
    let deleted = &mock.deleted_records()["people"];
    let since = *deleted.values().min().expect("two people are deleted");
    let query = format!(
        "&include_deleted=true&updated_since={}",
        stamp(since).replace('+', "%2B")
    );
    let (records, _) = page_through(&server, "people", &query).await;
    let tombstones: BTreeSet<String> = records
        .iter()
        .filter(|r| r["deleted"] == json!(true))
        .map(|r| r["id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(tombstones, deleted.keys().cloned().collect());
    let live = &mock.live_records()["people"];
    let changed: BTreeSet<String> = live
        .iter()
        .filter(|(_, t)| **t >= since)
        .map(|(id, _)| id.clone())
        .collect();
    let served_live: BTreeSet<String> = records
        .iter()
        .filter(|r| r["deleted"] != json!(true))
        .map(|r| r["id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(served_live, changed);
}

#[tokio::test]
async fn bad_keys_and_bad_parameters_get_the_documented_errors() {
    let (_, server) = serve(Faults::none()).await;
    let (status, body) = get(&server, "/v1/accounts", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = get(&server, "/v1/me", Some("wrong")).await;
    assert_eq!(status, 401);
    let (status, body) = get(&server, "/v1/me", Some(DEFAULT_API_KEY)).await;
    assert_eq!(status, 200, "{body}");
    for bad in [
        "limit=0",
        "limit=101",
        "cursor=nope",
        "updated_since=yesterday",
        "include_deleted=1",
    ] {
        let (status, body) = get(
            &server,
            &format!("/v1/accounts?{bad}"),
            Some(DEFAULT_API_KEY),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
    }
    let (status, _) = get(&server, "/v1/invoices", Some(DEFAULT_API_KEY)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn duplicates_repeat_a_record_across_pages_and_malformed_records_lack_their_field() {
    let faults = Faults::none()
        .with_duplicates(Probability::ONE)
        .with_malformed_records(2);
    let (mock, server) = serve(faults).await;
    let (records, _) = page_through(&server, "accounts", "").await;
    let served = ids(&records);
    let distinct: BTreeSet<&String> = served.iter().collect();
    assert!(distinct.len() < served.len(), "no record was repeated");
    assert_eq!(distinct.len(), mock.live_records()["accounts"].len());
    assert!(mock.faults().stats().duplicated > 0);
    let nameless = records
        .iter()
        .filter(|r| r["name"].is_null())
        .map(|r| r["id"].to_string());
    assert_eq!(nameless.collect::<BTreeSet<_>>().len(), 2);
}
