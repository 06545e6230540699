//! The mock against the API it documents, over HTTP.

use super::*;
use std::collections::BTreeSet;
use tributary_mock_kit::{MockServer, Probability};
use tributary_sim::SimConfig;

async fn serve(faults: Faults) -> (SkilljarMock, MockServer) {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: 40,
        ..SimConfig::default()
    }));
    let mock = SkilljarMock::new(company, faults);
    let server = MockServer::start(mock.router())
        .await
        .expect("a loopback port");
    (mock, server)
}

enum Cred<'a> {
    Basic(&'a str),
    Bearer(&'a str),
    None,
}

async fn get_as(server: &MockServer, url: &str, cred: Cred<'_>) -> (u16, Value) {
    let url = if url.starts_with("http") {
        url.to_owned()
    } else {
        format!("{}{url}", server.base_url)
    };
    let mut request = reqwest::Client::new().get(url);
    request = match cred {
        Cred::Basic(key) => request.basic_auth(key, Some("")),
        Cred::Bearer(key) => request.bearer_auth(key),
        Cred::None => request,
    };
    let response = request.send().await.expect("the mock answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("a JSON body")
    };
    (status, body)
}

async fn get(server: &MockServer, url: &str) -> (u16, Value) {
    get_as(server, url, Cred::Basic(DEFAULT_API_KEY)).await
}

/// Every page of a list, following `next` as an opaque URL: (results, counts per page).
async fn page_through(server: &MockServer, first: &str) -> (Vec<Value>, Vec<u64>) {
    let (mut results, mut counts) = (Vec::new(), Vec::new());
    let mut url = first.to_owned();
    loop {
        let (status, body) = get(server, &url).await;
        assert_eq!(status, 200, "{url}: {body}");
        results.extend(body["results"].as_array().expect("results").iter().cloned());
        counts.push(body["count"].as_u64().expect("count"));
        match body["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with("http://"), "next is absolute: {next}");
                url = next.to_owned();
            }
            None => return (results, counts),
        }
    }
}

#[tokio::test]
async fn ping_and_domains_answer_with_basic_auth_and_bearer_is_refused() {
    let (_mock, server) = serve(Faults::none()).await;
    let (status, body) = get(&server, "/v1/ping").await;
    assert_eq!((status, body), (200, Value::Null));
    let (status, body) = get(&server, "/v1/domains").await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 1);
    assert_eq!(body["results"][0]["name"], records::DOMAIN);
    for cred in [
        Cred::Bearer(DEFAULT_API_KEY),
        Cred::None,
        Cred::Basic("wrong-key"),
    ] {
        let (status, body) = get_as(&server, "/v1/users", cred).await;
        assert_eq!(status, 401, "{body}");
        assert!(body["detail"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn users_page_by_number_with_count_and_absolute_next_urls() {
    let (mock, server) = serve(Faults::none()).await;
    let (users, counts) = page_through(&server, "/v1/users?page_size=7").await;
    let live = mock.live_records();
    assert_eq!(users.len(), live["users"].len());
    assert!(counts.iter().all(|&c| c == users.len() as u64));
    let ids: BTreeSet<&str> = users
        .iter()
        .map(|u| u["user"]["id"].as_str().expect("user.id"))
        .collect();
    assert_eq!(ids.len(), users.len(), "each user once");
    assert!(ids.iter().all(|id| live["users"].contains_key(*id)));
    let first = &users[0];
    for field in ["registration_count", "completion_count", "signed_up_at"] {
        assert!(!first[field].is_null(), "{field}: {first}");
    }
    // Past the end: DRF's 404.
    let (status, body) = get(&server, "/v1/users?page=999").await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (404, Some("Invalid page."))
    );
    // Unknown ids and endpoints: 404 with a detail.
    let (status, body) = get(&server, "/v1/users/nosuchuser").await;
    assert_eq!((status, body["detail"].as_str()), (404, Some("Not found.")));
    let (status, _) = get(&server, "/v1/domains/other.example/published-courses").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn per_user_progress_is_a_bare_array_with_scores_and_certificates() {
    let (mock, server) = serve(Faults::none()).await;
    let live = mock.live_records();
    let (users, _) = page_through(&server, "/v1/users?page_size=100").await;
    let (mut completed, mut scored, mut certified, mut entries) = (0, 0, 0, 0);
    for u in &users {
        let id = u["user"]["id"].as_str().expect("id");
        let (status, body) = get(&server, &format!("/v1/users/{id}/published-courses")).await;
        assert_eq!(status, 200);
        let progress = body.as_array().expect("a bare array");
        for p in progress {
            entries += 1;
            let key = format!("{id}:{}", p["published_course_id"].as_str().expect("id"));
            assert!(live["enrollments"].contains_key(&key), "{key}");
            let cp = &p["course_progress"];
            if !cp["completed_at"].is_null() {
                completed += 1;
            }
            if cp["score"].is_number() {
                scored += 1;
                assert!(cp["max_score"].is_number());
            }
            if !p["certificate"].is_null() {
                certified += 1;
            }
            assert!(
                p["all_enrollments"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
            );
        }
        let (status, body) = get(
            &server,
            &format!("/v1/users/{id}/published-path-enrollments"),
        )
        .await;
        assert_eq!(status, 200);
        assert!(body["results"].is_array());
    }
    assert!(
        entries > 0 && completed > 0 && scored > 0,
        "{entries} {completed} {scored}"
    );
    assert!(certified > 0, "the world certifies someone");
}

#[tokio::test]
async fn catalog_lists_courses_paths_and_path_items_and_signup_fields_carry_crm_ids() {
    let (mock, server) = serve(Faults::none()).await;
    let live = mock.live_records();
    let base = format!("/v1/domains/{}", records::DOMAIN);
    let (courses, _) = page_through(
        &server,
        &format!("{base}/published-courses?include_searchable_content=true&page_size=5"),
    )
    .await;
    let (paths, _) = page_through(&server, &format!("{base}/published-paths")).await;
    assert_eq!(courses.len(), live["courses"].len());
    assert_eq!(paths.len(), live["paths"].len());
    assert!(courses[0]["tags"].is_array(), "{}", courses[0]);
    assert!(courses[0]["course"]["title"].is_string());
    let pp = paths[0]["id"].as_str().expect("published path id");
    let (enrolled, _) = page_through(
        &server,
        &format!("{base}/published-paths/{pp}/published-path-enrollments"),
    )
    .await;
    assert!(
        enrolled
            .iter()
            .all(|e| e["user"]["id"].is_string() && e["enrolled_at"].is_string())
    );
    let (all_paths, _) = page_through(&server, "/v1/paths").await;
    assert_eq!(all_paths.len(), paths.len());
    let path = all_paths[0]["id"].as_str().expect("path id");
    let (items, _) = page_through(&server, &format!("/v1/paths/{path}/path-items")).await;
    assert!(!items.is_empty() && items[0]["course"]["id"].is_string());

    let (users, _) = page_through(&server, &format!("{base}/users")).await;
    let id = users[0]["user"]["id"].as_str().expect("id");
    let (fields, _) = page_through(&server, &format!("{base}/users/{id}/signup-fields")).await;
    let labels: Vec<&str> = fields
        .iter()
        .map(|f| f["signup_field"]["label"].as_str().expect("label"))
        .collect();
    assert_eq!(labels, ["Company", "CRM Contact ID", "CRM Account ID"]);
    assert!(fields.iter().all(|f| f["value"].is_string()));
}

#[tokio::test]
async fn duplicates_repeat_a_record_on_the_next_page_and_malformed_records_break() {
    let faults = Faults::none()
        .with_duplicates(Probability::ONE)
        .with_malformed_records(2);
    let (mock, server) = serve(faults).await;
    let (users, _) = page_through(&server, "/v1/users?page_size=5").await;
    let distinct: BTreeSet<&str> = users
        .iter()
        .map(|u| u["user"]["id"].as_str().expect("id"))
        .collect();
    assert!(users.len() > distinct.len(), "some user was served twice");
    assert_eq!(distinct.len(), mock.live_records()["users"].len());
    assert!(mock.faults().stats().duplicated > 0);
    let without_email = users
        .iter()
        .filter(|u| u["user"]["email"].is_null())
        .count();
    assert!(without_email >= 2, "{without_email}");
}
