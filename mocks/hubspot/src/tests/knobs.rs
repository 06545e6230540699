//! The shared fault knobs through HubSpot's wire format: 429s, 5xx, truncation, slowness,
//! OAuth expiry, duplicates and mutations.

use super::*;

#[tokio::test]
async fn rate_limit_knob_answers_the_scheduled_requests_with_hubspots_429() {
    let faults = Faults::none()
        .with_rate_limit(Schedule::requests(3..=5))
        .with_retry_after_secs(1);
    let (_company, mock, server) = serve_mock(10, faults).await;
    let path = "/crm/v3/objects/companies?limit=2";
    for n in 1..=6u64 {
        let (status, headers, body) = get(&server, path, Some(DEFAULT_ACCESS_TOKEN)).await;
        if (3..=5).contains(&n) {
            assert_eq!(status, 429, "request {n}");
            assert_eq!(headers["retry-after"], "1");
            assert_eq!(headers["x-hubspot-ratelimit-remaining"], "0");
            assert_eq!(headers["x-hubspot-ratelimit-max"], "190");
            assert_eq!(body["status"], "error");
            assert_eq!(
                body["message"],
                "You have reached your ten_secondly_rolling limit."
            );
            assert_eq!(body["errorType"], "RATE_LIMIT");
            assert_eq!(body["policyName"], "TEN_SECONDLY_ROLLING");
            for id in ["correlationId", "requestId"] {
                assert!(uuid::Uuid::parse_str(body[id].as_str().unwrap()).is_ok());
            }
        } else {
            assert_eq!(status, 200, "request {n}: {body}");
            assert!(headers.get("retry-after").is_none());
            assert_eq!(body["results"].as_array().unwrap().len(), 2);
        }
    }
    let stats = mock.stats();
    assert_eq!((stats.requests, stats.rate_limited), (6, 3));
}

#[tokio::test]
async fn server_errors_knob_sends_a_burst_of_500_502_503() {
    let faults = Faults::none().with_server_errors(Schedule::burst(3, 2));
    let (_company, mock, server) = serve_mock(10, faults).await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(get_raw(&server, "/crm/v3/objects/deals", Some(DEFAULT_ACCESS_TOKEN)).await);
    }
    let statuses: Vec<u16> = got.iter().map(|g| g.0).collect();
    assert_eq!(statuses, [200, 502, 503, 500, 200]);
    // HubSpot's own 500 is JSON; the 502 and 503 come from its edge as HTML.
    let body: Value = serde_json::from_str(&got[3].2).unwrap();
    assert_eq!(body["status"], "error");
    assert_eq!(body["category"], "INTERNAL_ERROR");
    for (i, text) in [(1, "502 Bad Gateway"), (2, "503 Service Unavailable")] {
        assert_eq!(got[i].1[header::CONTENT_TYPE], "text/html");
        assert!(got[i].2.contains(text), "{}", got[i].2);
    }
    assert!(serde_json::from_str::<Value>(&got[4].2).is_ok());
    assert_eq!(mock.stats().server_errors, 3);
}

#[tokio::test]
async fn truncate_knob_cuts_successful_pages_short() {
    let faults = Faults::none().with_truncate(Schedule::requests(1..=2));
    let (_company, mock, server) = serve_mock(20, faults).await;
    let path = "/crm/v3/objects/contacts?limit=10&associations=companies";
    // Request 1 is scheduled but fails authentication: its 401 stays whole.
    let (status, _, body) = get_raw(&server, path, None).await;
    assert_eq!(status, 401);
    assert!(serde_json::from_str::<Value>(&body).is_ok(), "{body}");
    let (status, headers, cut) = get_raw(&server, path, Some(DEFAULT_ACCESS_TOKEN)).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-hubspot-ratelimit-remaining"));
    let (status, _, whole) = get_raw(&server, path, Some(DEFAULT_ACCESS_TOKEN)).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&whole).is_ok());
    assert!(cut.len() < whole.len() && whole.starts_with(&cut), "{cut}");
    let err = serde_json::from_str::<Value>(&cut).unwrap_err();
    assert!(
        err.is_eof(),
        "a client sees a body that ends too early: {err}"
    );
    assert_eq!(mock.stats().truncated, 1);
}

#[tokio::test]
async fn slow_knob_delays_every_page() {
    let (_company, mock, server) = serve_mock(5, Faults::none().with_slow_ms(200)).await;
    for _ in 0..2 {
        let started = Instant::now();
        let (status, _, _) = get(
            &server,
            "/crm/v3/objects/companies",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(status, 200);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }
    assert_eq!(mock.stats().slowed, 2);
}

#[tokio::test]
async fn oauth_tokens_expire_mid_pagination_and_a_refresh_issues_a_working_one() {
    let (company, mock, server) = serve_mock(30, Faults::none().with_token_ttl_requests(3)).await;
    let config = mock.config().clone();

    // Bad requests get the token endpoint's 400 bodies.
    for (field, value, status) in [
        ("client_id", "nope", "BAD_CLIENT_ID"),
        ("client_secret", "nope", "BAD_CLIENT_SECRET"),
        ("refresh_token", "nope", "BAD_REFRESH_TOKEN"),
        ("grant_type", "authorization_code", "BAD_GRANT_TYPE"),
    ] {
        let mut form = refresh_form(&config);
        for (k, v) in &mut form {
            if *k == field {
                *v = value.to_owned();
            }
        }
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (code, body) = post_token(&server, &pairs).await;
        assert_eq!(
            (code, body["status"].as_str()),
            (400, Some(status)),
            "{body}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains(if field == "grant_type" {
                    "grant_type"
                } else {
                    field.split('_').next_back().unwrap()
                })
        );
    }
    assert_eq!(mock.stats().tokens_issued, 0);

    let (code, body) = refresh(&server, &config).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["refresh_token"], config.refresh_token.as_str());
    assert_eq!(body["expires_in"], OAUTH_TOKEN_LIFETIME_SECS);
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with(OAUTH_TOKEN_PREFIX), "{token}");

    // Three pages with it, then the fourth request, mid-pagination, is refused.
    let mut ids = Vec::new();
    let mut after = String::new();
    let page = |after: &str| format!("/crm/v3/objects/companies?limit=5&after={after}");
    for _ in 0..3 {
        let (status, _, body) = get(&server, &page(&after), Some(&token)).await;
        assert_eq!(status, 200, "{body}");
        for r in body["results"].as_array().unwrap() {
            ids.push(r["id"].as_str().unwrap().to_owned());
        }
        after = body["paging"]["next"]["after"].as_str().unwrap().to_owned();
    }
    let (status, _, body) = get(&server, &page(&after), Some(&token)).await;
    assert_eq!(status, 401);
    assert_eq!(body["status"], "error");
    assert_eq!(body["category"], "EXPIRED_AUTHENTICATION");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("The OAuth token used to make this call expired ")
            && message.ends_with(" second(s) ago."),
        "{message}"
    );
    let expire_time = body["context"]["expire time"][0].as_str().unwrap();
    assert!(
        expire_time.parse::<DateTime<Utc>>().is_ok(),
        "{expire_time}"
    );
    // Still refused, and the private-app token is unaffected.
    let (status, _, _) = get(&server, &page(&after), Some(&token)).await;
    assert_eq!(status, 401);
    let (status, _, _) = get(&server, &page(&after), Some(DEFAULT_ACCESS_TOKEN)).await;
    assert_eq!(status, 200);

    // A refreshed token resumes where the expired one stopped: 3 more pages, the last.
    let (code, body) = refresh(&server, &config).await;
    assert_eq!(code, 200);
    assert_eq!(body["refresh_token"], config.refresh_token.as_str());
    let fresh = body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(fresh, token);
    loop {
        let (status, _, body) = get(&server, &page(&after), Some(&fresh)).await;
        assert_eq!(status, 200, "{body}");
        for r in body["results"].as_array().unwrap() {
            ids.push(r["id"].as_str().unwrap().to_owned());
        }
        match body["paging"]["next"]["after"].as_str() {
            Some(a) => after = a.to_owned(),
            None => break,
        }
    }
    let all: Vec<String> = company.accounts.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, all);
    let stats = mock.stats();
    assert_eq!((stats.tokens_issued, stats.expired_tokens), (2, 2));

    // A token the mock never issued is invalid, not expired.
    let (status, _, body) = get(
        &server,
        "/crm/v3/objects/companies",
        Some(&format!("{OAUTH_TOKEN_PREFIX}0123")),
    )
    .await;
    assert_eq!(
        (status, body["category"].as_str()),
        (401, Some("INVALID_AUTHENTICATION"))
    );
}

#[tokio::test]
async fn oauth_tokens_expire_after_token_ttl_secs() {
    let (_company, mock, server) = serve_mock(5, Faults::none().with_token_ttl_secs(1)).await;
    let (code, body) = refresh(&server, mock.config()).await;
    assert_eq!(code, 200);
    assert_eq!(body["expires_in"], 1);
    let token = body["access_token"].as_str().unwrap().to_owned();
    let path = "/crm/v3/objects/deals";
    let (status, _, _) = get(&server, path, Some(&token)).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (status, _, body) = get(&server, path, Some(&token)).await;
    assert_eq!(
        (status, body["category"].as_str()),
        (401, Some("EXPIRED_AUTHENTICATION"))
    );
    assert_eq!(mock.stats().expired_tokens, 1);
}

#[tokio::test]
async fn duplicates_knob_repeats_records_on_consecutive_pages() {
    let faults = Faults::none().with_duplicates(Probability::new(0.5));
    let (company, mock, server) = serve_mock(40, faults.clone()).await;
    let pages = page_ids(&server, "companies", "limit=6").await;
    let repeated = pages
        .windows(2)
        .filter(|w| w[0].last().is_some() && w[0].last() == w[1].first())
        .count();
    assert!(repeated > 0, "{pages:?}");
    assert_eq!(repeated as u64, mock.stats().duplicated);
    // Every record is still served, in order; a repeat is the only extra.
    let mut flat: Vec<String> = pages.concat();
    assert_eq!(flat.len(), company.accounts.len() + repeated);
    flat.dedup();
    let all: Vec<String> = company.accounts.iter().map(|a| a.id.clone()).collect();
    assert_eq!(flat, all);
    // The same seed replays the same pages.
    let (_, _, again) = serve_mock(40, faults).await;
    assert_eq!(page_ids(&again, "companies", "limit=6").await, pages);
    // Off, no record repeats.
    let (_, _, clean) = serve_mock(40, Faults::none()).await;
    assert_eq!(page_ids(&clean, "companies", "limit=6").await.concat(), all);
}

#[tokio::test]
async fn mutate_knob_changes_records_while_a_sync_pages_through_them() {
    let faults = Faults::none().with_mutate(Probability::new(0.1));
    let (company, mock, server) = serve_mock(40, faults.clone()).await;
    let query = "limit=7&properties=numberofemployees";
    let updated_at = |r: &Value| -> DateTime<Utc> {
        assert_eq!(r["updatedAt"], r["properties"]["hs_lastmodifieddate"]);
        r["updatedAt"].as_str().unwrap().parse().unwrap()
    };
    let employees = |r: &Value| -> u64 {
        r["properties"]["numberofemployees"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let newest_generated = company.accounts.iter().map(|a| a.updated_at).max().unwrap();

    let pages = walk_pages(&server, "companies", query).await;
    let records: Vec<&Value> = pages.iter().flatten().collect();
    let ids: Vec<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let all: Vec<&str> = company.accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, all, "still one pass: every record once, in order");
    for r in &pages[0] {
        let a = &company.accounts[all.iter().position(|id| *id == r["id"]).unwrap()];
        assert_eq!(
            updated_at(r),
            a.updated_at,
            "the first page is served as generated"
        );
    }
    let mut changed_mid_sync = 0;
    for (r, a) in records.iter().zip(&company.accounts) {
        if updated_at(r) > a.updated_at {
            changed_mid_sync += 1;
            assert!(
                updated_at(r) > newest_generated,
                "newer than anything generated"
            );
            assert!(
                employees(r) > u64::from(a.employees),
                "and a property changed"
            );
        } else {
            assert_eq!(updated_at(r), a.updated_at);
            assert_eq!(employees(r), u64::from(a.employees));
        }
    }
    assert!(
        changed_mid_sync > 0,
        "a later page shows a record changed after the start"
    );
    assert!(mock.stats().mutated >= changed_mid_sync as u64);

    // The next pass sees every change made so far, also those made after a record's page
    // had been served.
    let before: Vec<Option<Revision>> = (0..company.accounts.len())
        .map(|i| mock.faults().revision("companies", i))
        .collect();
    assert!(before.iter().flatten().count() > changed_mid_sync);
    let second = walk_pages(&server, "companies", query).await.concat();
    for ((r, a), rev) in second.iter().zip(&company.accounts).zip(&before) {
        match rev {
            Some(rev) => {
                assert!(updated_at(r) >= rev.updated_at);
                assert!(employees(r) >= u64::from(a.employees) + u64::from(rev.number));
            }
            None => assert!(updated_at(r) >= a.updated_at),
        }
    }

    // Contacts and deals change their own property; the same seed replays exactly.
    let contacts = walk_pages(&server, "contacts", "limit=20&properties=jobtitle")
        .await
        .concat();
    let revised: Vec<&Value> = contacts
        .iter()
        .filter(|r| {
            r["properties"]["jobtitle"]
                .as_str()
                .unwrap()
                .contains(" (rev ")
        })
        .collect();
    assert!(!revised.is_empty());
    for r in revised {
        assert_eq!(r["updatedAt"], r["properties"]["lastmodifieddate"]);
        assert!(
            r["updatedAt"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
                > newest_generated
        );
    }
    let (_, _, again) = serve_mock(40, faults).await;
    assert_eq!(walk_pages(&again, "companies", query).await, pages);
}
