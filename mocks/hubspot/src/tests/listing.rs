//! Listing: paging, limits, properties and associations, auth errors, malformed records.

use super::*;

#[tokio::test]
async fn paging_walks_every_record_exactly_once() {
    let (company, server) = serve(40, Faults::default()).await;
    for (object, expected) in [
        (
            "companies",
            company
                .accounts
                .iter()
                .map(|a| a.id.clone())
                .collect::<Vec<_>>(),
        ),
        (
            "contacts",
            company.contacts.iter().map(|c| c.id.clone()).collect(),
        ),
        ("0-3", company.deals.iter().map(|d| d.id.clone()).collect()),
    ] {
        let records = walk(&server, object, "limit=7").await;
        let got: Vec<String> = records
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, expected, "{object}");
        for r in &records {
            assert_eq!(r["archived"], false);
            assert_eq!(r["properties"]["hs_object_id"], r["id"]);
            for (_, v) in r["properties"].as_object().unwrap() {
                assert!(v.is_string() || v.is_null(), "{v}");
            }
        }
    }
    // Nothing is archived in the first cut.
    let (_, _, body) = get(
        &server,
        "/crm/v3/objects/deals?archived=true",
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    assert_eq!(body, json!({"results": []}));
}

#[tokio::test]
async fn limit_defaults_to_ten_clamps_at_100_and_links_follow() {
    let (_company, server) = serve(40, Faults::default()).await;
    let (_, headers, body) = get(
        &server,
        "/crm/v3/objects/contacts",
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    assert_eq!(body["results"].as_array().unwrap().len(), 10);
    assert_eq!(headers["x-hubspot-ratelimit-max"], "190");
    assert_eq!(
        headers["x-hubspot-ratelimit-interval-milliseconds"],
        "10000"
    );
    assert!(headers.contains_key("x-hubspot-ratelimit-remaining"));
    let props = body["results"][0]["properties"].as_object().unwrap();
    let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "createdate",
            "email",
            "firstname",
            "hs_object_id",
            "lastmodifieddate",
            "lastname"
        ]
    );
    let (_, _, big) = get(
        &server,
        "/crm/v3/objects/contacts?limit=500",
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    assert_eq!(big["results"].as_array().unwrap().len(), 100);
    let link = body["paging"]["next"]["link"].as_str().unwrap();
    assert!(link.starts_with(&server.base_url), "{link}");
    let client = reqwest::Client::new();
    let next: Value = client
        .get(link)
        .bearer_auth(DEFAULT_ACCESS_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(next["results"][0]["id"], body["paging"]["next"]["after"]);
}

#[tokio::test]
async fn properties_and_associations_are_served_as_requested() {
    let (company, server) = serve(10, Faults::default()).await;
    let (_, _, body) = get(
        &server,
        "/crm/v3/objects/deals?limit=100&properties=amount,dealstage,term_months,nosuch&properties=deal_currency_code&associations=companies",
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    let first = &body["results"][0];
    let mut keys: Vec<&str> = first["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "amount",
            "createdate",
            "deal_currency_code",
            "dealstage",
            "hs_lastmodifieddate",
            "hs_object_id",
            "term_months"
        ]
    );
    let deal = &company.deals[0];
    let account = &company.accounts[deal.account];
    assert_eq!(
        first["associations"]["companies"]["results"][0],
        json!({"id": account.id, "type": "deal_to_company"})
    );
    let (_, _, companies) = get(
        &server,
        "/crm/v3/objects/companies?limit=1&properties=segment,seats,region&associations=contacts",
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    let c = &companies["results"][0];
    assert_eq!(
        c["properties"]["segment"],
        company.accounts[0].segment.as_str()
    );
    let contacts = c["associations"]["contacts"]["results"].as_array().unwrap();
    assert_eq!(
        contacts.len(),
        company.contacts.iter().filter(|x| x.account == 0).count()
    );
    assert_eq!(contacts[0]["type"], "company_to_contact");
}

#[tokio::test]
async fn auth_errors_have_hubspots_body() {
    let (_company, server) = serve(5, Faults::default()).await;
    for token in [None, Some("pat-na1-wrong")] {
        let (status, _, body) = get(&server, "/crm/v3/objects/companies", token).await;
        assert_eq!(status, 401);
        assert_eq!(body["status"], "error");
        assert_eq!(body["category"], "INVALID_AUTHENTICATION");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("Authentication credentials not found")
        );
        let id = body["correlationId"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok());
    }
    let (status, _, body) = get(
        &server,
        "/crm/v3/objects/widgets",
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["category"], "OBJECT_NOT_FOUND");
    let (status, _, body) = get(
        &server,
        "/crm/v3/objects/deals?after=zzz",
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["category"], "VALIDATION_ERROR");
}

#[tokio::test]
async fn malformed_knob_serves_exactly_n_bad_records_per_object() {
    let faults = Faults::none().with_malformed_records(3);
    let (company, server) = serve(30, faults.clone()).await;
    let chosen = malformed_ids(&company, &faults);
    assert_eq!(
        (
            chosen.companies.len(),
            chosen.contacts.len(),
            chosen.deals.len()
        ),
        (3, 3, 3)
    );
    assert_eq!(chosen, malformed_ids(&company, &faults), "deterministic");

    let bad_ids = |records: &[Value], bad: &dyn Fn(&Value) -> bool| -> Vec<String> {
        records
            .iter()
            .filter(|r| bad(&r["properties"]))
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let companies = walk(&server, "companies", "limit=100").await;
    assert_eq!(bad_ids(&companies, &|p| p["name"] == ""), chosen.companies);
    let contacts = walk(&server, "contacts", "limit=100").await;
    assert_eq!(
        bad_ids(&contacts, &|p| p["email"] == MALFORMED_EMAIL
            && p["firstname"].is_null()
            && p["lastname"].is_null()),
        chosen.contacts
    );
    let deals = walk(
        &server,
        "deals",
        "limit=100&properties=amount,hs_is_closed_won",
    )
    .await;
    let bad = bad_ids(&deals, &|p| {
        p["amount"]
            .as_str()
            .is_some_and(|a| a.parse::<rust_decimal::Decimal>().is_err())
    });
    assert_eq!(bad, chosen.deals);
    for r in deals
        .iter()
        .filter(|r| bad.contains(&r["id"].as_str().unwrap().to_owned()))
    {
        assert_eq!(r["properties"]["hs_is_closed_won"], "true");
    }
}

#[test]
fn credential_hint_names_the_private_app_token_and_the_oauth_client() {
    let mock = HubspotMock::new(
        Arc::new(Company::generate(&SimConfig {
            accounts: 1,
            ..SimConfig::default()
        })),
        HubspotMockConfig::default(),
    );
    assert_eq!(VendorMock::vendor(&mock), "hubspot");
    assert_eq!(
        VendorMock::credential_hint(&mock),
        "access_token=pat-na1-sim-0000 client_id=sim-hubspot-client-0000 \
         client_secret=sim-hubspot-secret-0000 refresh_token=na1-sim-refresh-0000 \
         token_path=/oauth/v1/token"
    );
}

#[tokio::test]
async fn one_record_by_id_as_the_listing_serves_it() {
    // hubspot-api-client's `basic_api.get_by_id` (`.ci/official-clients`).
    let (_, server) = serve(10, Faults::default()).await;
    let token = Some(DEFAULT_ACCESS_TOKEN);
    let query = "properties=amount,dealstage&associations=companies";
    let (_, _, page) = get(
        &server,
        &format!("/crm/v3/objects/deals?limit=5&{query}"),
        token,
    )
    .await;
    for listed in page["results"].as_array().unwrap() {
        let id = listed["id"].as_str().unwrap();
        let (status, _, one) = get(
            &server,
            &format!("/crm/v3/objects/deals/{id}?{query}"),
            token,
        )
        .await;
        assert_eq!(status, 200, "{one}");
        assert_eq!(&one, listed);
    }
    for missing in [
        "/crm/v3/objects/deals/999999999999",
        "/crm/v3/objects/deals/abc",
    ] {
        let (status, _, body) = get(&server, missing, token).await;
        assert_eq!(status, 404, "{missing}");
        assert_eq!(body["category"], "OBJECT_NOT_FOUND");
        assert_eq!(body["status"], "error");
    }
    let (status, _, _) = get(&server, "/crm/v3/objects/deals/1", None).await;
    assert_eq!(status, 401);
}
