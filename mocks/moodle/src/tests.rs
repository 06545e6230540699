//! The mock against the API it documents, over HTTP.

use super::*;
use tributary_mock_kit::{MockServer, Probability};
use tributary_sim::SimConfig;

async fn serve(faults: Faults) -> (MoodleMock, MockServer) {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: 40,
        ..SimConfig::default()
    }));
    let mock = MoodleMock::new(company, faults);
    let server = MockServer::start(mock.router())
        .await
        .expect("a loopback port");
    (mock, server)
}

fn url(server: &MockServer) -> String {
    format!("{}/webservice/rest/server.php", server.base_url)
}

/// A form-encoded POST of `params` with the token and JSON format.
async fn call(server: &MockServer, function: &str, params: &[(&str, String)]) -> Value {
    let mut form: Vec<(&str, String)> = vec![
        ("wstoken", DEFAULT_TOKEN.to_owned()),
        ("wsfunction", function.to_owned()),
        ("moodlewsrestformat", "json".to_owned()),
    ];
    form.extend(params.iter().cloned());
    let response = reqwest::Client::new()
        .post(url(server))
        .form(&form)
        .send()
        .await
        .expect("the mock answers");
    assert_eq!(response.status().as_u16(), 200, "Moodle answers 200");
    response.json().await.expect("a JSON body")
}

#[tokio::test]
async fn errors_are_exceptions_with_http_200() {
    let (_mock, server) = serve(Faults::none()).await;
    let response = reqwest::Client::new()
        .get(url(&server))
        .query(&[
            ("wstoken", "wrong"),
            ("wsfunction", "core_webservice_get_site_info"),
            ("moodlewsrestformat", "json"),
        ])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["exception"], "moodle_exception");
    assert_eq!(body["errorcode"], "invalidtoken");
    assert_eq!(body["message"], "Invalid token - token not found");

    let denied = call(&server, "core_user_get_users", &[]).await;
    assert_eq!(denied["errorcode"], "accessexception");
    assert_eq!(denied["exception"], "webservice_access_exception");
    let unknown = call(&server, "no_such_function", &[]).await;
    assert_eq!(unknown["errorcode"], "invalidrecord");
    let missing = call(&server, "core_enrol_get_enrolled_users", &[]).await;
    assert_eq!(missing["errorcode"], "invalidparameter");
    assert!(
        missing["debuginfo"].as_str().unwrap().contains("courseid"),
        "{missing}"
    );
    let bad = call(
        &server,
        "core_enrol_get_enrolled_users",
        &[("courseid", "two".into())],
    )
    .await;
    assert_eq!(bad["errorcode"], "invalidparameter");
    let front = call(
        &server,
        "core_completion_get_course_completion_status",
        &[("courseid", "1".into()), ("userid", "3".into())],
    )
    .await;
    assert!(
        front["errorcode"] == "nocriteriaset" || front["errorcode"] == "invalidrecord",
        "{front}"
    );
}

#[tokio::test]
async fn without_a_format_the_answer_is_xml() {
    let (_mock, server) = serve(Faults::none()).await;
    let response = reqwest::Client::new()
        .post(url(&server))
        .form(&[
            ("wstoken", DEFAULT_TOKEN),
            ("wsfunction", "core_course_get_courses"),
        ])
        .send()
        .await
        .expect("answers");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let text = response.text().await.expect("text");
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<RESPONSE>\n<MULTIPLE>")
    );
    assert!(text.contains("<KEY name=\"shortname\"><VALUE>academy</VALUE></KEY>"));
    let refused = reqwest::Client::new()
        .get(url(&server))
        .query(&[("wsfunction", "core_course_get_courses")])
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    assert!(
        refused.contains(
            "<EXCEPTION class=\"moodle_exception\">\n<ERRORCODE>invalidtoken</ERRORCODE>"
        ),
        "{refused}"
    );
}

#[tokio::test]
async fn courses_include_the_front_page_and_custom_fields() {
    let (mock, server) = serve(Faults::none()).await;
    let courses = call(&server, "core_course_get_courses", &[]).await;
    let courses = courses.as_array().expect("an array");
    assert_eq!(courses[0]["id"], 1);
    assert_eq!(courses[0]["format"], "site");
    assert_eq!(courses.len(), mock.course_ids().len() + 1);
    let c = &courses[1];
    assert_eq!(c["id"], 2);
    assert_eq!(c["visible"], 1, "older functions send 0/1");
    let fields: Vec<&str> = c["customfields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["shortname"].as_str().unwrap())
        .collect();
    assert!(
        fields.starts_with(&["level", "kind", "features"]),
        "{fields:?}"
    );
    let picked = call(
        &server,
        "core_course_get_courses",
        &[
            ("options[ids][0]", "3".into()),
            ("options[ids][1]", "2".into()),
        ],
    )
    .await;
    assert_eq!(picked[0]["id"], 3);
    assert_eq!(picked[1]["id"], 2);
    let by_field = call(
        &server,
        "core_course_get_courses_by_field",
        &[
            ("field", "shortname".into()),
            ("value", c["shortname"].as_str().unwrap().into()),
        ],
    )
    .await;
    assert_eq!(by_field["courses"][0]["id"], 2);
    assert_eq!(by_field["warnings"], json!([]));
}

async fn enrolled(server: &MockServer, course: u64, options: &[(&str, &str)]) -> Vec<Value> {
    let mut params = vec![("courseid", course.to_string())];
    let names: Vec<String> = (0..options.len())
        .map(|i| format!("options[{i}][name]"))
        .collect();
    let values: Vec<String> = (0..options.len())
        .map(|i| format!("options[{i}][value]"))
        .collect();
    for (i, (name, value)) in options.iter().enumerate() {
        params.push((names[i].as_str(), (*name).to_owned()));
        params.push((values[i].as_str(), (*value).to_owned()));
    }
    let body = call(server, "core_enrol_get_enrolled_users", &params).await;
    body.as_array().expect("an array of users").clone()
}

/// Every user of a course, paging with `limitfrom`/`limitnumber` until a short page.
async fn page_through(server: &MockServer, course: u64, limit: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut from = 0;
    loop {
        let (f, l) = (from.to_string(), limit.to_string());
        let page = enrolled(server, course, &[("limitfrom", &f), ("limitnumber", &l)]).await;
        ids.extend(page.iter().map(|u| u["id"].as_u64().unwrap()));
        if page.len() < limit {
            return ids;
        }
        from += limit;
    }
}

fn busiest_course(mock: &MoodleMock) -> u64 {
    let site = mock.site();
    let i = (0..site.by_course.len())
        .max_by_key(|i| site.by_course[*i].len())
        .unwrap();
    course_id(i)
}

#[tokio::test]
async fn enrolled_users_page_with_limits_and_filter_by_state() {
    let (mock, server) = serve(Faults::none()).await;
    let course = busiest_course(&mock);
    let all = enrolled(&server, course, &[]).await;
    assert!(all.len() > 6, "a busy course: {}", all.len());
    let ids: Vec<u64> = all.iter().map(|u| u["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "id order");
    assert_eq!(page_through(&server, course, 4).await, ids);
    let u = &all[0];
    for key in [
        "idnumber",
        "institution",
        "lastcourseaccess",
        "enrolledcourses",
        "customfields",
    ] {
        assert!(u.get(key).is_some(), "{key} in {u}");
    }
    assert_eq!(u["customfields"][0]["shortname"], "crmaccountid");
    let active = enrolled(&server, course, &[("onlyactive", "1")]).await;
    let suspended = enrolled(&server, course, &[("onlysuspended", "1")]).await;
    assert_eq!(active.len() + suspended.len(), all.len());
    let trimmed = enrolled(
        &server,
        course,
        &[("userfields", "idnumber,lastcourseaccess")],
    )
    .await;
    let keys: Vec<&String> = trimmed[0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
}

#[tokio::test]
async fn progress_completion_and_grades_per_learner() {
    let (mock, server) = serve(Faults::none()).await;
    let site = mock.site();
    let company = &mock.state.company;
    let (&(user, course), e) = site
        .enrolments
        .iter()
        .find(|(_, e)| {
            let w = e.of(company);
            w.completed_at.is_some() && w.score.is_some()
        })
        .expect("a graded completion");
    let courses = call(
        &server,
        "core_enrol_get_users_courses",
        &[("userid", user.to_string())],
    )
    .await;
    let entry = courses
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == course)
        .expect("the course");
    assert_eq!(entry["completed"], true, "newer functions send booleans");
    assert_eq!(entry["progress"], 100.0);
    let status = call(
        &server,
        "core_completion_get_course_completion_status",
        &[
            ("courseid", course.to_string()),
            ("userid", user.to_string()),
        ],
    )
    .await;
    assert_eq!(status["completionstatus"]["completed"], true);
    let done = e.of(company).completed_at.unwrap().timestamp();
    assert_eq!(
        status["completionstatus"]["completions"][0]["timecompleted"],
        done
    );
    let grades = call(
        &server,
        "gradereport_user_get_grade_items",
        &[
            ("courseid", course.to_string()),
            ("userid", user.to_string()),
        ],
    )
    .await;
    let items = grades["usergrades"][0]["gradeitems"].as_array().unwrap();
    let total = items.iter().find(|i| i["itemtype"] == "course").unwrap();
    assert!(total["graderaw"].is_number(), "{total}");
    let by_email = call(
        &server,
        "core_user_get_users_by_field",
        &[
            ("field", "email".into()),
            (
                "values[0]",
                company.contacts[site.contact(user).unwrap()].email.clone(),
            ),
        ],
    )
    .await;
    assert_eq!(by_email[0]["id"], user);
    let none = call(
        &server,
        "core_user_get_users_by_field",
        &[
            ("field", "email".into()),
            ("values[0]", "nobody@example.com".into()),
        ],
    )
    .await;
    assert_eq!(none, json!([]));
}

#[tokio::test]
async fn duplicates_repeat_a_user_and_faults_come_from_the_proxy() {
    let (mock, server) = serve(
        Faults::none()
            .with_duplicates(Probability::ONE)
            .with_server_errors(tributary_mock_kit::Schedule::burst(1, 1)),
    )
    .await;
    let first = reqwest::Client::new()
        .get(url(&server))
        .send()
        .await
        .expect("answers");
    assert_eq!(first.status().as_u16(), 500);
    assert!(first.text().await.unwrap().contains("nginx"));
    let course = busiest_course(&mock);
    let ids = page_through(&server, course, 3).await;
    let mut unique = ids.clone();
    unique.dedup();
    assert!(ids.len() > unique.len(), "a repeated user");
    let expected: Vec<u64> = mock.site().by_course[mock.site().course(course).unwrap()].clone();
    assert_eq!(unique, expected, "nothing skipped");
    assert!(mock.faults().stats().duplicated > 0);
}

#[tokio::test]
async fn login_token_php_issues_the_token_or_says_why_not() {
    let (_mock, server) = serve(Faults::none()).await;
    let login = |user: &'static str, password: &'static str, service: &'static str| {
        let url = format!("{}/login/token.php", server.base_url);
        async move {
            reqwest::Client::new()
                .get(url)
                .query(&[
                    ("username", user),
                    ("password", password),
                    ("service", service),
                ])
                .send()
                .await
                .expect("answers")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let ok = login(DEFAULT_USERNAME, DEFAULT_PASSWORD, "moodle_mobile_app").await;
    assert_eq!(ok["token"], DEFAULT_TOKEN);
    let wrong = login(DEFAULT_USERNAME, "nope", SERVICE).await;
    assert_eq!(wrong["errorcode"], "invalidlogin");
    let service = login(DEFAULT_USERNAME, DEFAULT_PASSWORD, "other").await;
    assert_eq!(service["errorcode"], "servicenotavailable");
}
