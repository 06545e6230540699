//! Unit tests of the crate root: configuration, stream declarations, state and pages.

use super::*;
use crate::read::{modified_ms, parse_page};
use serde_json::json;
use tributary_connector::{HttpClient, HttpClientConfig};

fn ctx() -> ConnectorContext {
    ConnectorContext {
        instance: "hs".to_owned(),
        http: HttpClient::new(HttpClientConfig::default(), Auth::None).unwrap(),
    }
}

fn config(v: Value) -> Result<HubspotConfig, serde_json::Error> {
    serde_json::from_value(v)
}

#[test]
fn config_has_defaults_and_refuses_unknown_fields() {
    let c = config(json!({"access_token": "pat-na1-x"})).unwrap();
    assert_eq!(c.endpoint, "https://api.hubapi.com");
    assert_eq!(c.page_size, 100);
    assert_eq!(c.search_page_size, 200);
    assert_eq!(c.overlap_secs, 300);
    assert_eq!(c.default_currency, "USD");
    assert_eq!(c.mapping, MappingSettings::default());
    assert_eq!(c.access_token.expose_secret(), "pat-na1-x");
    let err = config(json!({"access_token": "x", "mapping": {"arr": "hs_arr"}})).unwrap_err();
    assert!(err.to_string().contains("unknown field `arr`"), "{err}");
    assert!(!format!("{c:?}").contains("pat-na1-x"), "token is redacted");
    let err = config(json!({"access_token": "x", "pagesize": 5})).unwrap_err();
    assert!(
        err.to_string().contains("unknown field `pagesize`"),
        "{err}"
    );
}

#[test]
fn invalid_configs_are_refused_with_the_field_named() {
    let cases = [
        (
            json!({"access_token": "x", "page_size": 0}),
            "page_size must be between 1 and 100, got 0",
        ),
        (
            json!({"access_token": "x", "page_size": 101}),
            "page_size must be between 1 and 100, got 101",
        ),
        (
            json!({"access_token": "x", "search_page_size": 201}),
            "search_page_size must be between 1 and 200, got 201",
        ),
        (
            json!({"access_token": "x", "search_page_size": 0}),
            "search_page_size must be between 1 and 200, got 0",
        ),
        (
            json!({"access_token": "x", "endpoint": "api.hubapi.com"}),
            "endpoint `api.hubapi.com` is not a URL",
        ),
        (
            json!({"access_token": "x", "endpoint": "ftp://h"}),
            "must be an http(s) URL",
        ),
        (
            json!({"access_token": "x", "default_currency": "dollars"}),
            "default_currency: invalid currency code `dollars`",
        ),
        (json!({}), "access_token is required"),
        (
            json!({"access_token": "x", "mapping": {"default_term_months": 0}}),
            "mapping.default_term_months: must be between 1 and 120, got 0",
        ),
        (
            json!({"access_token": "x", "mapping": {"term_field": "term months"}}),
            "mapping.term_field: `term months` is not a field name",
        ),
    ];
    for (v, expected) in cases {
        let err = HubspotConnector::new(ctx(), config(v.clone()).unwrap()).unwrap_err();
        assert!(matches!(err, ConnectorError::Config { .. }));
        assert!(err.to_string().contains(expected), "{v}: {err}");
        assert!(err.to_string().contains("`hs`"), "{err}");
    }
}

#[test]
fn streams_declare_entity_cursor_and_mode() {
    let c = HubspotConnector::new(
        ctx(),
        HubspotConfig::new("http://127.0.0.1:1/", SecretString::from("t")),
    )
    .unwrap();
    assert_eq!(c.kind(), "hubspot");
    assert_eq!(c.instance(), "hs");
    assert_eq!(
        c.list_url(obj(DEALS)),
        "http://127.0.0.1:1/crm/v3/objects/deals"
    );
    let streams = c.streams();
    let summary: Vec<(&str, EntityKind, Option<&str>)> = streams
        .iter()
        .map(|s| (s.name.as_str(), s.entity, s.cursor_field.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "companies",
                EntityKind::Account,
                Some("hs_lastmodifieddate")
            ),
            ("contacts", EntityKind::Person, Some("lastmodifieddate")),
            (
                "deals",
                EntityKind::Subscription,
                Some("hs_lastmodifieddate")
            ),
            (
                "deal_contacts",
                EntityKind::DealContact,
                Some("hs_lastmodifieddate")
            ),
        ]
    );
    assert!(
        streams
            .iter()
            .all(|s| s.modes == [SyncMode::Incremental, SyncMode::FullRefresh]),
        "incremental first: scheduled runs are incremental"
    );
    assert!(matches!(http_auth(c.config(), "t"), Ok(Auth::Bearer(_))));
    assert_eq!(c.mapping(), &default_mapping());
}

#[test]
fn the_mapping_decides_which_deal_properties_are_requested() {
    let config = HubspotConfig {
        mapping: tributary_testkit::mapping(tributary_mock_hubspot::revenue_mapping()),
        ..HubspotConfig::new("http://127.0.0.1:1/", SecretString::from("t"))
    };
    let c = HubspotConnector::new(ctx(), config).unwrap();
    let existing: BTreeSet<String> = ["deal_currency_code".to_owned()].into();
    let props = c.deal_properties(&existing);
    for p in [
        "amount",
        "term_months",
        "deal_motion",
        "deal_currency_code",
        "dealstage",
        "pipeline",
    ] {
        assert!(props.contains(&p), "{p}: {props:?}");
    }
    assert!(!props.contains(&"dealtype"), "{props:?}");
    // No multi-currency: the property is not requested.
    let props = c.deal_properties(&BTreeSet::new());
    assert!(!props.contains(&"deal_currency_code"), "{props:?}");
    let m = c.mapping();
    assert_eq!(m.key_of("term_months"), "term_field");
    assert_eq!(m.key_of("amount"), "amount_field");
    assert_eq!(m.key_of("deal_motion"), "motion_field");
}

#[test]
fn cursor_state_round_trips_and_tolerates_garbage() {
    let check = |cursor: Cursor, expected: Value| {
        let state = StreamState::encode(&cursor);
        assert_eq!(state.0, expected);
        assert_eq!(from_state(Some(state), "deals"), cursor);
    };
    let live = Cursor {
        after: Some("513".into()),
        ..Cursor::default()
    };
    assert!(!live.is_incremental());
    check(live, json!({"after": "513"}));
    let archived = Cursor {
        archived: true,
        ..Cursor::default()
    };
    check(archived, json!({"archived": true}));
    let first_read = Cursor {
        after: Some("9".into()),
        mark: Some(1_709_251_200_000),
        tally: Tally {
            total: Some(40),
            read: 7,
        },
        ..Cursor::default()
    };
    assert!(first_read.is_incremental());
    check(
        first_read,
        json!({"after": "9", "mark": 1_709_251_200_000_i64, "total": 40, "read": 7}),
    );
    let windowed = Cursor {
        since: Some(1_000),
        window: Some(Window {
            from: 900,
            past: false,
            seen: vec!["5".into()],
            by_id: None,
        }),
        tally: Tally {
            total: Some(3),
            read: 1,
        },
        ..Cursor::default()
    };
    check(
        windowed,
        json!({"since": 1000, "window": {"from": 900, "seen": ["5"]}, "total": 3, "read": 1}),
    );
    check(
        Cursor {
            since: Some(5),
            ..Cursor::default()
        },
        json!({"since": 5}),
    );
    assert_eq!(
        from_state(Some(StreamState(json!([1]))), "deals"),
        Cursor::default()
    );
    assert_eq!(
        from_state(Some(StreamState(json!({"since": "yesterday"}))), "deals"),
        Cursor::default()
    );
    assert_eq!(from_state(None, "deals"), Cursor::default());
}

#[test]
fn modified_times_come_from_the_objects_own_property() {
    let contact = json!({"id": "1", "properties": {"lastmodifieddate": "2024-03-01T00:00:00.001Z",
        "hs_lastmodifieddate": "2020-01-01T00:00:00Z"}});
    assert_eq!(
        modified_ms(&contact, obj("contacts")),
        Some(1_709_251_200_001)
    );
    assert_eq!(
        modified_ms(&contact, obj(COMPANIES)),
        Some(1_577_836_800_000)
    );
    let top_level = json!({"id": "1", "updatedAt": "2024-03-01T00:00:00Z", "properties": {}});
    assert_eq!(modified_ms(&top_level, obj(DEALS)), Some(1_709_251_200_000));
    assert_eq!(modified_ms(&json!({"id": "1"}), obj(DEALS)), None);
}

#[test]
fn pages_decode_or_fail_loudly() {
    let p = parse_page(
        "u",
        json!({"results": [{"id": "1"}], "paging": {"next": {"after": "2", "link": "x"}}}),
    )
    .unwrap();
    assert_eq!((p.0.len(), p.1.as_deref()), (1, Some("2")));
    let p = parse_page("u", json!({"results": []})).unwrap();
    assert_eq!(p.1, None);
    assert!(matches!(
        parse_page("u", json!({"status": "error"})),
        Err(ConnectorError::Decode { .. })
    ));
    assert!(matches!(
        parse_page("u", json!([])),
        Err(ConnectorError::Decode { .. })
    ));
    assert!(
        parse_page(
            "u",
            json!({"results": [], "paging": {"next": {"after": {}}}})
        )
        .is_err()
    );
}

fn obj(name: &str) -> Object {
    StreamDecl::find(&STREAMS, name).unwrap()
}

fn from_state(state: Option<StreamState>, stream: &str) -> Cursor {
    StreamState::decode(state, stream)
}
