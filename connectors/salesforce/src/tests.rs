//! Unit tests of the crate root: config, SOQL, the cursor and batch decoding.

use super::*;
use chrono::{DateTime, Utc};
use query::parse_batch;
use serde_json::json;
use tributary_connector::pull::keyset::{Keyset as Cursor, Position};

fn t(s: &str) -> DateTime<Utc> {
    mapping::parse_datetime(s).unwrap()
}

#[test]
fn config_has_defaults_and_refuses_unknown_fields() {
    let c: SalesforceConfig =
        serde_json::from_value(json!({"auth": {"kind": "bearer", "token": "00D!x"}})).unwrap();
    assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
    assert_eq!(c.api_version, "v62.0");
    assert_eq!(c.overlap_secs, 300);
    c.validate("sf").unwrap();
    let err = serde_json::from_value::<SalesforceConfig>(json!({"batchsize": 5})).unwrap_err();
    assert!(
        err.to_string().contains("unknown field `batchsize`"),
        "{err}"
    );
    for (v, expected) in [
        (json!({}), "auth must be"),
        (
            json!({"auth": {"kind": "bearer", "token": "x"}, "api_version": "62"}),
            "api_version must look like `v62.0`, got `62`",
        ),
        (
            json!({"auth": {"kind": "bearer", "token": "x"}, "endpoint": "login"}),
            "endpoint `login` is not a URL",
        ),
        (
            json!({"auth": {"kind": "bearer", "token": "x"}, "default_currency": "dollars"}),
            "default_currency",
        ),
    ] {
        let c: SalesforceConfig = serde_json::from_value(v.clone()).unwrap();
        let err = c.validate("sf").unwrap_err();
        assert!(err.to_string().contains(expected), "{v}: {err}");
    }
}

#[test]
fn soql_orders_by_stamp_and_id_with_an_unquoted_literal() {
    let object = |name: &str| StreamDecl::find(&STREAMS, name).unwrap();
    let base =
        |o: Object| -> Vec<String> { o.vendor.fields.split(", ").map(str::to_owned).collect() };
    assert_eq!(
        query::soql_for(object("Contact"), &base(object("Contact")), None),
        "SELECT Id, AccountId, FirstName, LastName, Email, Title, CreatedDate, SystemModstamp, \
         IsDeleted FROM Contact ORDER BY SystemModstamp ASC, Id ASC"
    );
    let q = query::soql_for(
        object("Account"),
        &base(object("Account")),
        Some(t("2024-04-25T15:50:37.900+0000")),
    );
    assert!(
        q.ends_with("FROM Account WHERE SystemModstamp >= 2024-04-25T15:50:37Z ORDER BY SystemModstamp ASC, Id ASC"),
        "{q}"
    );
}

#[test]
fn cursor_round_trips_and_skips_what_was_read() {
    let c = Cursor {
        since: Some(t("2024-01-01T00:00:00.000+0000")),
        after: Some(Position {
            modstamp: t("2024-02-01T00:00:00.000+0000"),
            id: "003B".into(),
        }),
        incremental: true,
    };
    assert_eq!(
        StreamState::decode::<Cursor>(Some(c.to_state()), "Contact"),
        c
    );
    assert!(c.already_read(t("2024-02-01T00:00:00.000+0000"), "003A"));
    assert!(c.already_read(t("2024-02-01T00:00:00.000+0000"), "003B"));
    assert!(!c.already_read(t("2024-02-01T00:00:00.000+0000"), "003C"));
    assert!(!c.already_read(t("2024-02-01T00:00:01.000+0000"), "003A"));
    assert_eq!(
        StreamState::decode::<Cursor>(Some(StreamState(json!({"since": "soon"}))), "Contact"),
        Cursor::default()
    );
    assert_eq!(Cursor::default().to_state().0, json!({}));
    // An incremental state is not resumed as a full refresh, and vice versa.
    let full = Cursor::starting("Contact", SyncMode::FullRefresh, Some(c.to_state()));
    assert_eq!(full, Cursor::default());
    let inc = Cursor::starting(
        "Contact",
        SyncMode::Incremental,
        Some(
            Cursor {
                incremental: false,
                since: None,
                ..c.clone()
            }
            .to_state(),
        ),
    );
    assert_eq!(
        inc,
        Cursor {
            incremental: true,
            ..Cursor::default()
        }
    );
}

#[test]
fn batches_decode_or_fail_loudly() {
    let b = parse_batch(
        "u",
        json!({"totalSize": 3, "done": false, "nextRecordsUrl": "/services/data/v62.0/query/01g-2", "records": [{}]}),
    )
    .unwrap();
    assert_eq!(
        (b.records.len(), b.next.as_deref(), b.total),
        (1, Some("/services/data/v62.0/query/01g-2"), Some(3))
    );
    let b = parse_batch("u", json!({"totalSize": 1, "done": true, "records": []})).unwrap();
    assert!(b.next.is_none());
    for bad in [
        json!([]),
        json!({"done": false, "records": []}),
        json!({"done": true}),
        json!({"records": []}),
    ] {
        assert!(matches!(
            parse_batch("u", bad),
            Err(ConnectorError::Decode { .. })
        ));
    }
}

#[test]
fn a_resumed_batch_drops_what_was_read_and_moves_to_the_last_record_served() {
    let rec = |id: &str, stamp: &str| json!({"Id": id, "SystemModstamp": stamp});
    let mut c = Cursor {
        after: Some(Position {
            modstamp: t("2024-02-01T00:00:00.000+0000"),
            id: "003B".into(),
        }),
        ..Cursor::default()
    };
    let (fresh, skipped) = c.advance(
        vec![
            rec("003A", "2024-02-01T00:00:00.000+0000"),
            rec("003B", "2024-02-01T00:00:00.000+0000"),
            rec("003C", "2024-02-01T00:00:00.000+0000"),
            json!({"Id": "003X"}),
            rec("003D", "2024-03-01T00:00:00.000+0000"),
        ],
        mapping::position,
    );
    // The two read before are dropped but still count as served; the one without a stamp
    // stays for the mapper to reject.
    assert_eq!(skipped, 2);
    let ids: Vec<_> = fresh.iter().map(|r| r["Id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["003C", "003X", "003D"]);
    assert_eq!(c.after.as_ref().unwrap().id, "003D");
    assert_eq!(
        c.next(),
        Some(StreamState(json!({"since": "2024-03-01T00:00:00Z"})))
    );
}
