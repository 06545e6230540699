//! Associations, pipelines, property definitions and deal contacts.

use super::*;

#[tokio::test]
async fn associations_batch_read_lists_primary_and_unlabeled_types() {
    let mut company = Company::generate(&SimConfig {
        accounts: 10,
        ..SimConfig::default()
    });
    // A deal whose company was deleted has no associations left.
    let orphan_account = company.deals[0].account;
    company.accounts[orphan_account].archived_at =
        Some(company.accounts[orphan_account].updated_at);
    let company = Arc::new(company);
    let server =
        MockServer::start(HubspotMock::new(company.clone(), HubspotMockConfig::default()).router())
            .await
            .unwrap();
    let orphan = company
        .deals
        .iter()
        .find(|d| d.account == orphan_account)
        .unwrap()
        .id
        .clone();
    let linked = company
        .deals
        .iter()
        .find(|d| d.account != orphan_account)
        .unwrap();
    let inputs = json!({"inputs": [{"id": linked.id}, {"id": orphan}, {"id": "1"}]});
    let (status, headers, body) = post_json(
        &server,
        "/crm/v4/associations/deals/companies/batch/read",
        &inputs,
    )
    .await;
    assert_eq!(status, 207, "{body}");
    assert!(headers.contains_key("x-hubspot-ratelimit-remaining"));
    assert_eq!(body["status"], "COMPLETE");
    let account_id: u64 = company.accounts[linked.account].id.parse().unwrap();
    assert_eq!(
        body["results"],
        json!([{"from": {"id": linked.id}, "to": [{"toObjectId": account_id, "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"},
            {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": null},
        ]}]}])
    );
    assert_eq!(body["numErrors"], 2);
    let missing: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["subCategory"], "crm.associations.NO_ASSOCIATIONS_FOUND");
            e["context"]["fromObjectId"][0].as_str().unwrap()
        })
        .collect();
    assert_eq!(missing, [orphan.as_str(), "1"]);

    // Contacts: every input found, a plain 200; companies list their contacts.
    let contact = company
        .contacts
        .iter()
        .find(|c| c.account != orphan_account)
        .unwrap();
    let (status, _, body) = post_json(
        &server,
        "/crm/v4/associations/contacts/companies/batch/read",
        &json!({"inputs": [{"id": contact.id}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none());
    assert_eq!(
        body["results"][0]["to"][0]["associationTypes"][0]["typeId"],
        1
    );
    let (status, _, body) = post_json(
        &server,
        "/crm/v4/associations/companies/contacts/batch/read",
        &json!({"inputs": [{"id": company.accounts[contact.account].id}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let contacts: Vec<u64> = body["results"][0]["to"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["toObjectId"].as_u64().unwrap())
        .collect();
    assert!(contacts.contains(&contact.id.parse().unwrap()));

    let too_many = json!({"inputs": vec![json!({"id": "1"}); ASSOCIATIONS_BATCH_MAX + 1]});
    let (status, _, body) = post_json(
        &server,
        "/crm/v4/associations/deals/companies/batch/read",
        &too_many,
    )
    .await;
    assert_eq!(
        (status, body["category"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
}

#[tokio::test]
async fn pipelines_and_property_definitions_describe_the_portal() {
    let (company, server) = serve(40, Faults::default()).await;
    let (status, headers, body) = get(
        &server,
        "/crm/v3/pipelines/deals",
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(headers.contains_key("x-hubspot-ratelimit-remaining"));
    let pipelines = body["results"].as_array().unwrap();
    assert_eq!(pipelines.len(), 2);
    assert_eq!(pipelines[0]["id"], "default");
    assert_eq!(pipelines[0]["stages"][5]["id"], "closedwon");
    assert_eq!(
        pipelines[0]["stages"][5]["metadata"],
        json!({"isClosed": "true", "probability": "1.0"})
    );
    assert_eq!(pipelines[1]["id"], RENEWALS_PIPELINE.id);
    assert_eq!(pipelines[1]["label"], "Renewals");
    let won: Vec<&str> = pipelines[1]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metadata"]["isClosed"] == "true" && s["metadata"]["probability"] == "1.0")
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(won, ["4811304"]);
    let (status, _, _) = get(&server, "/crm/v3/pipelines/deals", Some("nope")).await;
    assert_eq!(status, 401);

    // Renewal deals are in the custom pipeline, with numeric stage ids.
    let (_, _, deals) = get(
        &server,
        "/crm/v3/objects/deals?limit=100&properties=dealstage,pipeline,hs_is_closed_won,deal_motion,dealtype",
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    let mut renewals_won = 0;
    for (d, raw) in company
        .deals
        .iter()
        .zip(deals["results"].as_array().unwrap())
    {
        let p = &raw["properties"];
        assert_eq!(p["pipeline"], deal_pipeline(d).id);
        assert_eq!(p["dealstage"], deal_stage(d).id);
        assert_eq!(p["deal_motion"], deal_motion(d.motion));
        assert_eq!(p["hs_is_closed_won"], d.stage.is_won().to_string());
        if d.stage.is_won() && p["pipeline"] == "1487" {
            renewals_won += 1;
            assert_eq!(p["dealstage"], "4811304");
        }
    }
    assert!(renewals_won > 0, "won deals in the custom pipeline");

    // Property definitions, custom ones included; no currency without multi-currency.
    let (status, _, body) = get(
        &server,
        "/crm/v3/properties/deals",
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "amount",
        "term_months",
        "deal_motion",
        "dealtype",
        "deal_currency_code",
    ] {
        assert!(names.contains(&name), "{name}: {names:?}");
    }
    let motion = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "deal_motion")
        .unwrap();
    assert_eq!(motion["type"], "enumeration");
    assert_eq!(motion["options"][1]["value"], "renewal");
    let single = MockServer::start(
        HubspotMock::new(
            company.clone(),
            HubspotMockConfig {
                multi_currency: false,
                ..HubspotMockConfig::default()
            },
        )
        .router(),
    )
    .await
    .unwrap();
    let (_, _, body) = get(
        &single,
        "/crm/v3/properties/deals",
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    assert!(
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["name"] != "deal_currency_code")
    );
    let (_, _, deals) = get(
        &single,
        "/crm/v3/objects/deals?limit=5&properties=amount,deal_currency_code",
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    assert!(
        deals["results"][0]["properties"]
            .get("deal_currency_code")
            .is_none()
    );
    let (status, _, _) = get(
        &server,
        "/crm/v3/properties/widgets",
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn deals_have_one_to_three_labelled_contacts_of_their_company() {
    let (company, server) = serve(40, Faults::default()).await;
    let mock_state = HubspotMock::new(company.clone(), HubspotMockConfig::default());
    let chosen = &mock_state.state.deal_contacts;
    assert_eq!(chosen, &deal_contacts(&company), "deterministic");
    let mut sizes = BTreeSet::new();
    for (d, list) in company.deals.iter().zip(chosen) {
        sizes.insert(list.len());
        for &j in list {
            assert_eq!(company.contacts[j].account, d.account);
            assert!(company.contacts[j].created_at <= d.updated_at);
        }
    }
    assert!(sizes.contains(&1) && sizes.contains(&3), "{sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 3));
    let (i, deal) = company
        .deals
        .iter()
        .enumerate()
        .find(|(i, _)| chosen[*i].len() >= 3)
        .unwrap();
    let (status, _, body) = post_json(
        &server,
        "/crm/v4/associations/deals/contacts/batch/read",
        &json!({"inputs": [{"id": deal.id}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let to = body["results"][0]["to"].as_array().unwrap();
    let ids: Vec<u64> = to
        .iter()
        .map(|t| t["toObjectId"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = chosen[i]
        .iter()
        .map(|&j| company.contacts[j].id.parse().unwrap())
        .collect();
    assert_eq!(ids, expected);
    let labels = |k: usize| -> Vec<Value> {
        to[k]["associationTypes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["label"].clone())
            .collect()
    };
    assert_eq!(
        labels(0),
        [
            json!(null),
            json!("Primary Contact"),
            json!("Decision Maker")
        ]
    );
    assert_eq!(labels(1), [json!(null), json!("Champion")]);
    assert_eq!(labels(2), [json!(null)]);
    assert_eq!(to[0]["associationTypes"][0]["typeId"], 3);
    assert_eq!(to[0]["associationTypes"][1]["category"], "USER_DEFINED");
    // And back: the contact lists the deal, with the paired label's own id.
    let first = &company.contacts[chosen[i][0]];
    let (_, _, body) = post_json(
        &server,
        "/crm/v4/associations/contacts/deals/batch/read",
        &json!({"inputs": [{"id": first.id}]}),
    )
    .await;
    let back = body["results"][0]["to"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["toObjectId"].as_u64() == Some(deal.id.parse().unwrap()))
        .unwrap();
    assert_eq!(back["associationTypes"][0]["typeId"], 4);
    assert_eq!(back["associationTypes"][1]["typeId"], 17);
    // The list endpoint names them too.
    let (_, _, list) = get(
        &server,
        &format!(
            "/crm/v3/objects/deals?limit=1&after={}&associations=contacts",
            deal.id
        ),
        Some(DEFAULT_ACCESS_TOKEN),
    )
    .await;
    assert_eq!(
        list["results"][0]["associations"]["contacts"]["results"][0],
        json!({"id": first.id, "type": "deal_to_contact"})
    );
}
