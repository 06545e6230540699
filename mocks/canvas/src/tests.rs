//! The mock against the API it documents, over HTTP.

use super::*;
use std::collections::BTreeSet;
use tributary_mock_kit::{MockServer, Probability, Schedule};
use tributary_sim::SimConfig;

async fn serve(faults: Faults) -> (CanvasMock, Arc<Company>, MockServer) {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: 40,
        ..SimConfig::default()
    }));
    let mock = CanvasMock::new(company.clone(), faults);
    let server = MockServer::start(mock.router())
        .await
        .expect("a loopback port");
    (mock, company, server)
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    /// The `Link` targets by rel.
    fn links(&self) -> BTreeMap<String, String> {
        let header = self
            .headers
            .get("link")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut out = BTreeMap::new();
        let mut rest = header;
        while let Some(open) = rest.find('<') {
            let close = rest[open..].find('>').expect("a closing >") + open;
            let target = &rest[open + 1..close];
            let after = &rest[close + 1..];
            let end = after
                .find(",<")
                .or_else(|| after.find(", <"))
                .unwrap_or(after.len());
            let rel = after[..end]
                .split("rel=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .expect("a rel");
            out.insert(rel.to_owned(), target.to_owned());
            rest = &after[end..];
        }
        out
    }
}

async fn get_url(url: &str, token: Option<&str>) -> Answer {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the mock answers");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.expect("a body"),
    }
}

async fn get(server: &MockServer, path: &str) -> Answer {
    get_url(&format!("{}{path}", server.base_url), Some(DEFAULT_TOKEN)).await
}

/// Every record of a listing, following `rel="next"`; and the pages' answers.
async fn page_through(server: &MockServer, path: &str) -> (Vec<Value>, Vec<Answer>) {
    let mut url = format!("{}{path}", server.base_url);
    let (mut records, mut pages) = (Vec::new(), Vec::new());
    loop {
        let answer = get_url(&url, Some(DEFAULT_TOKEN)).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        records.extend(answer.json().as_array().expect("an array").iter().cloned());
        let next = answer.links().get("next").cloned();
        pages.push(answer);
        match next {
            Some(next) => url = next,
            None => return (records, pages),
        }
    }
}

fn ids(records: &[Value]) -> Vec<i64> {
    records
        .iter()
        .map(|r| r["id"].as_i64().expect("an integer id"))
        .collect()
}

#[tokio::test]
async fn auth_failures_are_canvas_shaped_and_permission_is_not_a_throttle() {
    let (_, _, server) = serve(Faults::none()).await;
    let url = format!("{}/api/v1/accounts/self/courses", server.base_url);
    for token in [None, Some("wrong")] {
        let a = get_url(&url, token).await;
        assert_eq!(a.status, 401);
        assert_eq!(a.headers["www-authenticate"], "Bearer realm=\"canvas-lms\"");
        assert_eq!(
            a.json(),
            json!({ "errors": [{ "message": "Invalid access token." }] })
        );
    }
    let a = get_url(&url, Some(LIMITED_TOKEN)).await;
    assert_eq!(a.status, 403);
    assert!(a.text.contains("user not authorized"), "{}", a.text);
    assert!(!a.text.contains("Rate Limit Exceeded"));
    // The discouraged query parameter works too, and is not carried into Link URLs.
    let a = get_url(
        &format!("{url}?access_token={DEFAULT_TOKEN}&per_page=3"),
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.links().values().all(|l| !l.contains("access_token")));
    let a = get(&server, "/api/v1/courses/999999").await;
    assert_eq!(a.status, 404);
    assert_eq!(
        a.json()["errors"][0]["message"],
        "The specified resource does not exist."
    );
}

#[tokio::test]
async fn throttling_is_a_plain_text_403_and_every_response_reports_the_bucket() {
    let faults = Faults::none()
        .with_rate_limit(Schedule::burst(1, 2))
        .with_retry_after_secs(0);
    let (mock, _, server) = serve(faults).await;
    let first = get(&server, "/api/v1/users/self").await;
    assert_eq!(first.status, 200);
    let throttled = get(&server, "/api/v1/users/self").await;
    assert_eq!(throttled.status, 403);
    assert_eq!(throttled.text, THROTTLED_BODY);
    assert!(
        throttled.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(throttled.headers["x-rate-limit-remaining"], "0.0");
    for a in [&first, &throttled] {
        assert!(a.headers.contains_key("x-request-cost"));
        let remaining: f64 = a.headers["x-rate-limit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.0..=700.0).contains(&remaining));
    }
    assert_eq!(mock.faults().stats().rate_limited, 1);
}

#[tokio::test]
async fn courses_page_by_number_with_a_last_link_and_per_page_limits() {
    let (_, company, server) = serve(Faults::none()).await;
    let first = get(&server, "/api/v1/accounts/self/courses").await;
    assert_eq!(first.json().as_array().unwrap().len(), DEFAULT_PER_PAGE);
    let links = first.links();
    assert!(links["next"].contains("page=2"), "{links:?}");
    assert!(links.contains_key("last") && links.contains_key("first"));
    let (courses, pages) = page_through(
        &server,
        "/api/v1/accounts/1/courses?include[]=total_students&include[]=term&per_page=7",
    )
    .await;
    let want: Vec<i64> = company.courses.iter().map(|c| c.id as i64).collect();
    assert_eq!(ids(&courses), want);
    assert_eq!(pages.len(), want.len().div_ceil(7));
    assert!(pages[1].links()["prev"].contains("page=1"));
    assert!(courses.iter().all(|c| c["total_students"].is_u64()
        && c["term"]["name"] == "Default Term"
        && c.get("updated_at").is_none()));
    assert_eq!(courses[0]["sis_course_id"], company.courses[0].code);
    // Beyond the cap, 100 are served.
    let big = get(&server, "/api/v1/accounts/self/courses?per_page=1000").await;
    assert_eq!(
        big.json().as_array().unwrap().len(),
        want.len().min(MAX_PER_PAGE)
    );
    // `state[]` filters: no course is deleted.
    let deleted = get(&server, "/api/v1/accounts/self/courses?state[]=deleted").await;
    assert_eq!(deleted.json(), json!([]));
    let one = get(&server, &format!("/api/v1/courses/{}", want[2])).await;
    assert_eq!(one.json()["id"], want[2]);
    let other = get(&server, "/api/v1/accounts/7/courses").await;
    assert_eq!(other.status, 404);
}

#[tokio::test]
async fn users_are_the_learners_with_crm_ids_and_emails_on_request() {
    let (mock, company, server) = serve(Faults::none()).await;
    let (users, _) = page_through(&server, "/api/v1/accounts/self/users?per_page=50").await;
    let learners: BTreeSet<usize> = company.enrollments.iter().map(|e| e.person).collect();
    assert_eq!(users.len(), learners.len());
    assert!(users.iter().all(|u| u.get("email").is_none()));
    let (users, _) = page_through(
        &server,
        "/api/v1/accounts/self/users?include[]=email&per_page=50",
    )
    .await;
    for u in &users {
        let c = company
            .contacts
            .iter()
            .find(|c| u["sis_user_id"] == c.id)
            .expect("sis_user_id is a CRM contact id");
        assert_eq!(u["email"], c.email);
        assert_eq!(u["login_id"], c.email);
        assert_eq!(u["integration_id"], company.accounts[c.account].id);
    }
    let served: BTreeSet<String> = ids(&users).iter().map(i64::to_string).collect();
    let live: BTreeSet<String> = mock.live_records()["users"].keys().cloned().collect();
    assert_eq!(served, live);
    let short = get(&server, "/api/v1/accounts/self/users?search_term=a").await;
    assert_eq!(short.status, 400);
}

#[tokio::test]
async fn enrollments_default_to_active_and_invited_and_page_by_bookmark() {
    let (_, company, server) = serve(Faults::none()).await;
    let busiest = (0..company.courses.len())
        .max_by_key(|&c| company.enrollments.iter().filter(|e| e.course == c).count())
        .unwrap();
    let cid = company.courses[busiest].id;
    let world: Vec<usize> = served_enrollments(&company)
        .into_iter()
        .filter(|&i| company.enrollments[i].course == busiest)
        .collect();
    let path = format!("/api/v1/courses/{cid}/enrollments?per_page=3");
    let (default, pages) = page_through(&server, &path).await;
    let want_default = world
        .iter()
        .filter(|&&i| enrollment_state(&company, i) == "active")
        .count();
    assert_eq!(default.len(), want_default);
    assert!(default.iter().all(|e| e["enrollment_state"] == "active"));
    if pages.len() > 1 {
        let links = pages[0].links();
        assert!(links["next"].contains("page=bookmark:"), "{links:?}");
        assert!(!links.contains_key("last"));
    }
    let all = "&state[]=active&state[]=invited&state[]=completed&state[]=inactive&state[]=deleted&type[]=StudentEnrollment";
    let (every, _) = page_through(&server, &format!("{path}{all}")).await;
    let mut want: Vec<i64> = world
        .iter()
        .map(|&i| company.enrollments[i].id as i64)
        .collect();
    want.sort();
    assert_eq!(ids(&every), want);
    let e = &every[0];
    for field in [
        "enrollment_state",
        "created_at",
        "updated_at",
        "last_activity_at",
        "total_activity_time",
        "grades",
        "user_id",
        "course_id",
        "type",
    ] {
        assert!(e.get(field).is_some(), "{field} missing from {e}");
    }
    let teachers = get(&server, &format!("{path}&type[]=TeacherEnrollment")).await;
    assert_eq!(teachers.json(), json!([]));
    let bad = get(&server, &format!("{path}&state[]=sleeping")).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn progress_carries_completed_at_that_enrollments_lack() {
    let (_, company, server) = serve(Faults::none()).await;
    let i = served_enrollments(&company)
        .into_iter()
        .find(|&i| {
            company.enrollments[i].completed_at.is_some()
                && enrollment_state(&company, i) == "completed"
        })
        .expect("a concluded completion");
    let e = &company.enrollments[i];
    let (cid, uid) = (company.courses[e.course].id, user_id(&company, e.person));
    let one = get(
        &server,
        &format!("/api/v1/courses/{cid}/users/{uid}/progress"),
    )
    .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["completed_at"], stamp(e.completed_at.unwrap()));
    let (bulk, _) = page_through(
        &server,
        &format!("/api/v1/courses/{cid}/bulk_user_progress?per_page=4"),
    )
    .await;
    let mine = bulk.iter().find(|p| p["id"] == uid).expect("the learner");
    assert_eq!(mine["progress"], one.json());
}

#[tokio::test]
async fn duplicates_repeat_a_record_and_every_record_is_still_served() {
    let (mock, company, server) = serve(Faults::none().with_duplicates(Probability::ONE)).await;
    let (users, _) = page_through(&server, "/api/v1/accounts/self/users?per_page=5").await;
    let unique: BTreeSet<i64> = ids(&users).into_iter().collect();
    assert!(users.len() > unique.len(), "a record was repeated");
    let learners: BTreeSet<usize> = company.enrollments.iter().map(|e| e.person).collect();
    assert_eq!(unique.len(), learners.len());
    assert!(mock.faults().stats().duplicated > 0);
}

#[tokio::test]
async fn malformed_records_are_broken_the_canvas_way() {
    let (_, _, server) = serve(Faults::none().with_malformed_records(2)).await;
    let (users, _) = page_through(&server, "/api/v1/accounts/self/users?per_page=100").await;
    assert_eq!(users.iter().filter(|u| u["name"].is_null()).count(), 2);
}
