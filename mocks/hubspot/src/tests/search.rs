//! Search: filters, sorts, paging, the result cap, validation errors and records changing mid-sync.

use super::*;

#[tokio::test]
async fn search_filters_sorts_pages_and_counts_on_the_modified_date() {
    let (company, server) = serve(40, Faults::default()).await;
    let mut times: Vec<i64> = company.accounts.iter().map(|a| ms(a.updated_at)).collect();
    times.sort_unstable();
    let median = times[times.len() / 2];
    let expected = |keep: &dyn Fn(i64) -> bool| -> Vec<String> {
        let mut v: Vec<(i64, u64)> = company
            .accounts
            .iter()
            .filter(|a| keep(ms(a.updated_at)))
            .map(|a| (ms(a.updated_at), a.id.parse().unwrap()))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, id)| id.to_string()).collect()
    };
    let sorted_set = |mut v: Vec<String>| {
        v.sort_unstable();
        v
    };

    // GTE, as an epoch-millisecond string, sorted ascending, paged by offset.
    let body = json!({
        "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": median.to_string()}]}],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["name", "numberofemployees"],
        "limit": 7,
    });
    let (status, headers, first) = search(&server, "companies", &body).await;
    assert_eq!(status, 200, "{first}");
    assert!(
        headers
            .keys()
            .all(|k| !k.as_str().starts_with("x-hubspot-ratelimit")),
        "search responses carry no rate-limit headers: {headers:?}"
    );
    assert_eq!(
        first["paging"],
        json!({"next": {"after": "7"}}),
        "a numeric offset, no link"
    );
    let props = first["results"][0]["properties"].as_object().unwrap();
    let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
            "name",
            "numberofemployees"
        ]
    );
    assert!(first["results"][0].get("associations").is_none());
    let (records, totals) = search_all(&server, "companies", &body).await;
    let want = expected(&|t| t >= median);
    assert!(totals.iter().all(|&t| t == want.len() as u64), "{totals:?}");
    let got_times: Vec<i64> = records
        .iter()
        .map(|r| modified(r, "hs_lastmodifieddate"))
        .collect();
    assert!(
        got_times.windows(2).all(|w| w[0] <= w[1]),
        "ascending: {got_times:?}"
    );
    assert_eq!(sorted_set(ids_of(&records)), sorted_set(want.clone()));

    // The same window in every other spelling: a number, ISO 8601, LT/LTE/GT/BETWEEN/EQ.
    let iso = |t: i64| timestamp(DateTime::from_timestamp_millis(t).unwrap());
    type Keep<'a> = Box<dyn Fn(i64) -> bool + 'a>;
    let cases: Vec<(Value, Keep<'_>)> = vec![
        (
            json!({"operator": "GTE", "value": median}),
            Box::new(move |t| t >= median),
        ),
        (
            json!({"operator": "GT", "value": iso(median)}),
            Box::new(move |t| t > median),
        ),
        (
            json!({"operator": "LT", "value": median.to_string()}),
            Box::new(move |t| t < median),
        ),
        (
            json!({"operator": "LTE", "value": iso(median)}),
            Box::new(move |t| t <= median),
        ),
        (
            json!({"operator": "EQ", "value": median.to_string()}),
            Box::new(move |t| t == median),
        ),
        (
            json!({"operator": "BETWEEN", "value": times[5].to_string(), "highValue": iso(times[20])}),
            Box::new(|t| times[5] <= t && t <= times[20]),
        ),
    ];
    for (filter, keep) in cases {
        let mut f = filter.clone();
        f["propertyName"] = json!("hs_lastmodifieddate");
        let body = json!({
            "filterGroups": [{"filters": [f]}],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}],
            "limit": 200,
        });
        let (status, _, page) = search(&server, "companies", &body).await;
        assert_eq!(status, 200, "{filter}: {page}");
        let want = expected(&keep);
        assert!(!want.is_empty(), "{filter}");
        assert_eq!(page["total"], json!(want.len()), "{filter}");
        assert!(page.get("paging").is_none());
        let results = page["results"].as_array().unwrap();
        let t: Vec<i64> = results
            .iter()
            .map(|r| modified(r, "hs_lastmodifieddate"))
            .collect();
        assert!(t.windows(2).all(|w| w[0] >= w[1]), "descending: {filter}");
        assert_eq!(sorted_set(ids_of(results)), sorted_set(want), "{filter}");
    }

    // Contacts filter on `lastmodifieddate`; `hs_lastmodifieddate` matches none of them.
    let contact_median = {
        let mut t: Vec<i64> = company.contacts.iter().map(|c| ms(c.updated_at)).collect();
        t.sort_unstable();
        t[t.len() / 2]
    };
    let on = |property: &str| {
        json!({
            "filterGroups": [{"filters": [{"propertyName": property, "operator": "GTE", "value": contact_median}]}],
            "sorts": [{"propertyName": property, "direction": "ASCENDING"}],
            "limit": 200,
        })
    };
    let (records, _) = search_all(&server, "contacts", &on("lastmodifieddate")).await;
    let want = company
        .contacts
        .iter()
        .filter(|c| ms(c.updated_at) >= contact_median)
        .count();
    assert_eq!(records.len(), want);
    assert!(
        records
            .iter()
            .all(|r| modified(r, "lastmodifieddate") >= contact_median)
    );
    let (_, _, none) = search(&server, "contacts", &on("hs_lastmodifieddate")).await;
    assert_eq!(none["total"], 0);

    // hs_object_id: EQ, GT + sort by id descending, IN; groups are ORed.
    let ids: Vec<&str> = company.accounts.iter().map(|a| a.id.as_str()).collect();
    let body = json!({
        "filterGroups": [
            {"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": ids[3]}]},
            {"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": ids[36]}]},
            {"filters": [{"propertyName": "hs_object_id", "operator": "IN", "values": [ids[0], ids[1]]}]},
        ],
        "sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}],
        "limit": 10,
    });
    let (status, _, page) = search(&server, "companies", &body).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        ids_of(page["results"].as_array().unwrap()),
        [ids[39], ids[38], ids[37], ids[3], ids[1], ids[0]]
    );
    // Filters in a group are ANDed: an id window by GTE + LT.
    let body = json!({
        "filterGroups": [{"filters": [
            {"propertyName": "hs_object_id", "operator": "GTE", "value": ids[10]},
            {"propertyName": "hs_object_id", "operator": "LT", "value": ids[14]},
        ]}],
        "limit": 10,
    });
    let (_, _, page) = search(&server, "companies", &body).await;
    assert_eq!(
        ids_of(page["results"].as_array().unwrap()),
        ids[10..14].to_vec()
    );
    // No filters: everything, in id order, 10 by default.
    let (_, _, page) = search(&server, "companies", &json!({})).await;
    assert_eq!(page["total"], 40);
    assert_eq!(
        ids_of(page["results"].as_array().unwrap()),
        ids[..10].to_vec()
    );
    // Free text over the default searchable properties.
    let name = &company.accounts[7].name;
    let (_, _, page) = search(
        &server,
        "companies",
        &json!({"query": name.to_uppercase(), "limit": 100}),
    )
    .await;
    assert!(ids_of(page["results"].as_array().unwrap()).contains(&company.accounts[7].id));
}

#[tokio::test]
async fn search_never_returns_archived_records_and_breaks_ties_out_of_id_order() {
    let mut company = Company::generate(&SimConfig {
        accounts: 60,
        ..SimConfig::default()
    });
    let same = company.accounts[0].updated_at;
    for a in &mut company.accounts[..50] {
        a.updated_at = same;
    }
    company.accounts[2].archived_at = Some(same);
    let archived_id = company.accounts[2].id.clone();
    let company = Arc::new(company);
    let serve_it = || async {
        let mock = HubspotMock::new(company.clone(), HubspotMockConfig::default());
        MockServer::start(mock.router()).await.unwrap()
    };
    let server = serve_it().await;
    let body = json!({
        "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": ms(same)}]}],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 200,
    });
    let (_, _, page) = search(&server, "companies", &body).await;
    let got = ids_of(page["results"].as_array().unwrap());
    assert_eq!(page["total"], 49);
    assert!(!got.contains(&archived_id));
    let mut by_id = got.clone();
    by_id.sort_by_key(|id| id.parse::<u64>().unwrap());
    assert_ne!(got, by_id, "ties are not served in id order");
    let (_, _, again) = search(&serve_it().await, "companies", &body).await;
    assert_eq!(
        ids_of(again["results"].as_array().unwrap()),
        got,
        "but deterministically"
    );
}

#[tokio::test]
async fn search_refuses_bad_requests_and_paging_past_the_cap() {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: 40,
        ..SimConfig::default()
    }));
    let default =
        MockServer::start(HubspotMock::new(company.clone(), HubspotMockConfig::default()).router())
            .await
            .unwrap();
    let assert_400 = |status: u16, body: &Value, input: &str| {
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["status"], "error");
        assert_eq!(body["category"], "VALIDATION_ERROR", "{body}");
        assert_eq!(body["errors"][0]["in"], input, "{body}");
        assert!(uuid::Uuid::parse_str(body["correlationId"].as_str().unwrap()).is_ok());
    };

    // `limit` is at most 200.
    let (status, _, body) = search(&default, "deals", &json!({"limit": 201})).await;
    assert_400(status, &body, "limit");
    assert!(body["message"].as_str().unwrap().contains("200"), "{body}");
    for bad in [json!(0), json!("lots")] {
        let (status, _, body) = search(&default, "deals", &json!({"limit": bad})).await;
        assert_400(status, &body, "limit");
    }
    let (status, _, body) = search(&default, "deals", &json!({"limit": 200})).await;
    assert_eq!(status, 200, "{body}");

    // HubSpot's real cap: offsets up to 9,999 are served, 10,000 is refused, however few
    // records match.
    assert_eq!(SEARCH_RESULT_CAP, 10_000);
    let (status, _, body) = search(
        &default,
        "companies",
        &json!({"after": "9999", "limit": 100}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["total"].as_u64(),
            body["results"].as_array().map(Vec::len)
        ),
        (Some(40), Some(0))
    );
    for after in [json!("10000"), json!(10_000), json!("12000")] {
        let (status, _, body) = search(&default, "companies", &json!({"after": after})).await;
        assert_400(status, &body, "after");
    }
    let (status, _, body) = search(&default, "companies", &json!({"after": "x"})).await;
    assert_400(status, &body, "after");

    // A lowered cap: the page that reaches it is cut at the cap, its `next` points at the
    // cap, and following it is the 400 a reader that only pages gets (airbyte#26365).
    let capped = MockServer::start(
        HubspotMock::new(
            company.clone(),
            HubspotMockConfig {
                search_result_cap: 25,
                ..HubspotMockConfig::default()
            },
        )
        .router(),
    )
    .await
    .unwrap();
    let mut body = json!({
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 10,
    });
    let mut seen = 0;
    for (after, len, next) in [("0", 10, "10"), ("10", 10, "20"), ("20", 5, "25")] {
        body["after"] = json!(after);
        let (status, _, page) = search(&capped, "companies", &body).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], 40, "total is the true count, not the cap");
        assert_eq!(page["results"].as_array().unwrap().len(), len);
        assert_eq!(page["paging"]["next"]["after"], next);
        seen += len;
    }
    assert_eq!(seen, 25);
    body["after"] = json!("25");
    let (status, _, page) = search(&capped, "companies", &body).await;
    assert_400(status, &page, "after");

    // Malformed requests.
    let bad_requests = [
        (
            json!({"sorts": [{"propertyName": "createdate"}, {"propertyName": "hs_object_id"}]}),
            "sorts",
        ),
        (
            json!({"sorts": [{"propertyName": "createdate", "direction": "UP"}]}),
            "sorts",
        ),
        (
            json!({"filterGroups": [{"filters": [{"propertyName": "createdate", "operator": "NEARLY", "value": "1"}]}]}),
            "filterGroups",
        ),
        (
            json!({"filterGroups": [{"filters": [{"propertyName": "createdate", "operator": "GTE", "value": "last tuesday"}]}]}),
            "filterGroups",
        ),
        (
            json!({"filterGroups": [{"filters": [{"propertyName": "createdate", "operator": "BETWEEN", "value": "1"}]}]}),
            "filterGroups",
        ),
        (
            json!({"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "IN", "value": "1"}]}]}),
            "filterGroups",
        ),
        (
            json!({"filterGroups": vec![json!({"filters": []}); 6]}),
            "filterGroups",
        ),
        (
            json!({"filterGroups": [{"filters": vec![json!({"propertyName": "hs_object_id", "operator": "HAS_PROPERTY"}); 11]}]}),
            "filterGroups",
        ),
        (
            json!({"filterGroups": vec![json!({"filters": vec![json!({"propertyName": "hs_object_id", "operator": "HAS_PROPERTY"}); 9]}); 3]}),
            "filterGroups",
        ),
        (json!([1, 2]), "body"),
    ];
    for (request, input) in bad_requests {
        let (status, _, body) = search(&default, "deals", &request).await;
        assert_400(status, &body, input);
    }
    let resp = reqwest::Client::new()
        .post(format!("{}/crm/v3/objects/deals/search", default.base_url))
        .bearer_auth(DEFAULT_ACCESS_TOKEN)
        .body("{\"limit\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid input JSON"),
        "{body}"
    );

    // Auth and unknown objects as on the list endpoint.
    let resp = reqwest::Client::new()
        .post(format!("{}/crm/v3/objects/deals/search", default.base_url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let (status, _, body) = search(&default, "widgets", &json!({})).await;
    assert_eq!(
        (status, body["category"].as_str()),
        (404, Some("OBJECT_NOT_FOUND"))
    );
}

#[tokio::test]
async fn search_sees_records_changed_mid_sync_and_shares_the_fault_layer() {
    let faults = Faults::none()
        .with_mutate(Probability::new(0.2))
        .with_rate_limit(Schedule::requests(2..=2))
        .with_retry_after_secs(0);
    let (company, mock, server) = serve_mock(40, faults).await;
    let newest_generated = company
        .accounts
        .iter()
        .map(|a| ms(a.updated_at))
        .max()
        .unwrap();
    let body = json!({
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["numberofemployees"],
        "limit": 10,
    });
    let (status, _, first) = search(&server, "companies", &body).await;
    assert_eq!(status, 200);
    let (status, _, throttled) = search(&server, "companies", &body).await;
    assert_eq!(
        (status, throttled["errorType"].as_str()),
        (429, Some("RATE_LIMIT"))
    );
    assert!(
        mock.stats().mutated > 0,
        "serving a search page changed records"
    );
    assert!(
        first["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| modified(r, "hs_lastmodifieddate") <= newest_generated)
    );

    // Exactly the changed records are newer than anything generated, and search finds them
    // by their new time, with the changed property.
    let changed: Vec<String> = (0..company.accounts.len())
        .filter(|&i| mock.faults().revision("companies", i).is_some())
        .map(|i| company.accounts[i].id.clone())
        .collect();
    let newer = json!({
        "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": newest_generated}]}],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        "properties": ["numberofemployees"],
        "limit": 200,
    });
    let before = mock.stats().mutated;
    let (_, _, page) = search(&server, "companies", &newer).await;
    let results = page["results"].as_array().unwrap();
    assert_eq!(ids_of(results), changed);
    for r in results {
        let i = company
            .accounts
            .iter()
            .position(|a| a.id == r["id"])
            .unwrap();
        let employees: u64 = r["properties"]["numberofemployees"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(employees > u64::from(company.accounts[i].employees));
        assert_eq!(r["updatedAt"], r["properties"]["hs_lastmodifieddate"]);
    }
    assert!(mock.stats().mutated >= before);
    assert_eq!(mock.stats().rate_limited, 1);
}
