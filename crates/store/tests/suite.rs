//! One storage suite, run on SQLite and (when `TRIBUTARY_TEST_POSTGRES_URL` is set) PostgreSQL.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use chrono::{NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use std::str::FromStr;
use tributary_model::*;
use tributary_store::testing::TestDatabase;
use tributary_store::testing::for_each_backend;
use tributary_store::{
    AccountFilter, CommitBatch, PersonRow, QuarantineItem, RunFinish, RunStatus,
};

fn company(id: &str, name: &str, segment: Segment) -> SourceRecord {
    SourceRecord {
        external_ref: ExternalRef::new("hubspot", "hs", "companies", id),
        source_updated_at: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
        raw: json!({"id": id, "properties": {"name": name}}),
        entity: Entity::Account(Account {
            name: name.into(),
            domain: Some(format!("{}.example", name.to_lowercase())),
            segment: Some(segment),
            industry: Some("Software".into()),
            region: Some("EMEA".into()),
            owner: None,
            seats: Some(10),
            created_at: None,
        }),
    }
}

fn contact(id: &str, company_id: &str) -> SourceRecord {
    SourceRecord {
        external_ref: ExternalRef::new("hubspot", "hs", "contacts", id),
        source_updated_at: None,
        raw: json!({"id": id}),
        entity: Entity::Person(Person {
            name: format!("Person {id}"),
            email: Some(format!("p{id}@x.example")),
            title: None,
            role: Some(PersonRole::Admin),
            account: Some(ExternalRef::new("hubspot", "hs", "companies", company_id)),
            first_seen_at: None,
            hints: vec![],
        }),
    }
}

fn deal(id: &str, company_id: &str, amount: &str) -> SourceRecord {
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    SourceRecord {
        external_ref: ExternalRef::new("hubspot", "hs", "deals", id),
        source_updated_at: None,
        raw: json!({"id": id, "amount": amount}),
        entity: Entity::Subscription(Subscription {
            account: Some(ExternalRef::new("hubspot", "hs", "companies", company_id)),
            plan: "Pro".into(),
            start_date: start,
            end_date: NaiveDate::from_ymd_opt(2027, 1, 1),
            arr: Money::new(Decimal::from_str(amount).unwrap(), Currency::usd()),
            status: SubscriptionStatus::Active,
            motion: None,
            arr_basis: None,
        }),
    }
}

fn batch(records: Vec<SourceRecord>) -> CommitBatch {
    CommitBatch {
        connector: "hs".into(),
        stream: "s".into(),
        records_read: records.len() as u64,
        records,
        ..Default::default()
    }
}

#[tokio::test]
async fn upserts_are_idempotent_and_only_count_changes() {
    for_each_backend(|store| async move {
        let records = vec![
            company("1", "Acme", Segment::Enterprise),
            company("2", "Globex", Segment::Smb),
            contact("10", "1"),
            deal("20", "2", "1200.50"),
        ];
        let first = store.commit_batch(batch(records.clone())).await.unwrap();
        assert_eq!(first.written, 4);
        let counts = store.counts().await.unwrap();
        let again = store.commit_batch(batch(records.clone())).await.unwrap();
        assert_eq!(again.written, 0);
        assert_eq!(again.unchanged, 4);
        assert_eq!(store.counts().await.unwrap(), counts);

        let mut changed = records.clone();
        if let Entity::Account(a) = &mut changed[0].entity {
            a.name = "Acme Corp".into();
        }
        let third = store.commit_batch(batch(changed)).await.unwrap();
        assert_eq!(third.written, 1);
        assert_eq!(store.counts().await.unwrap(), counts);
    })
    .await;
}

#[tokio::test]
async fn references_resolve_whatever_the_load_order() {
    for_each_backend(|store| async move {
        // The contact arrives before its company: the company's id is reserved.
        store
            .commit_batch(batch(vec![contact("10", "1")]))
            .await
            .unwrap();
        store
            .commit_batch(batch(vec![company("1", "Acme", Segment::Smb)]))
            .await
            .unwrap();
        let page = store
            .list_accounts(&AccountFilter::default(), 10, None, true)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        let people: Vec<PersonRow> = store.children_of(&[page.items[0].id]).await.unwrap();
        assert_eq!(people.len(), 1);
        assert_eq!(people[0].email.as_deref(), Some("p10@x.example"));
    })
    .await;
}

#[tokio::test]
async fn bad_records_are_quarantined_and_the_rest_lands() {
    for_each_backend(|store| async move {
        let mut b = batch(vec![
            company("1", "Acme", Segment::Smb),
            company("2", "  ", Segment::Smb),
            deal("20", "1", "0.00001"),
        ]);
        b.rejects.push(QuarantineItem {
            external_id: Some("99".into()),
            reason: "property `amount` is not a decimal".into(),
            payload: "{\"amount\":\"x\"}".into(),
        });
        let out = store.commit_batch(b).await.unwrap();
        assert_eq!(out.written, 1);
        assert_eq!(out.quarantined, 3);
        let (rows, total) = store.quarantine(0, 10, true).await.unwrap();
        assert_eq!(total, Some(3));
        let reasons: Vec<&str> = rows.iter().map(|r| r.reason.as_str()).collect();
        assert!(reasons.iter().any(|r| r.contains("`name`")), "{reasons:?}");
        assert!(
            reasons.iter().any(|r| r.contains("decimal places")),
            "{reasons:?}"
        );
        assert!(rows.iter().any(|r| r.payload.contains("\"x\"")));

        // The same bad records in a later run are counted, not duplicated.
        let again = batch(vec![company("2", "", Segment::Smb)]);
        assert_eq!(store.commit_batch(again).await.unwrap().quarantined, 1);
        let (rows, total) = store.quarantine(0, 10, true).await.unwrap();
        assert_eq!(total, Some(3));
        let row = rows
            .iter()
            .find(|r| r.external_id.as_deref() == Some("2"))
            .unwrap();
        assert_eq!(row.occurrences, 2);

        // Once the record is fixed at the source and lands, its entry is resolved.
        let fixed = batch(vec![company("2", "Initech", Segment::Smb)]);
        assert_eq!(store.commit_batch(fixed).await.unwrap().written, 1);
        let (_, total) = store.quarantine(0, 10, true).await.unwrap();
        assert_eq!(total, Some(2));
    })
    .await;
}

#[tokio::test]
async fn state_and_run_counters_commit_with_the_batch() {
    for_each_backend(|store| async move {
        let run = store
            .start_run("hs", "s", "full_refresh", None)
            .await
            .unwrap();
        let mut b = batch(vec![company("1", "Acme", Segment::Smb)]);
        b.run_id = Some(run);
        b.state = Some(json!({"after": "2"}));
        store.commit_batch(b).await.unwrap();
        assert_eq!(
            store.load_state("hs", "s").await.unwrap(),
            Some(json!({"after": "2"}))
        );
        let mut b = batch(vec![]);
        b.state = Some(serde_json::Value::Null);
        store.commit_batch(b).await.unwrap();
        assert_eq!(store.load_state("hs", "s").await.unwrap(), None);
        store
            .finish_run(
                run,
                RunFinish {
                    status: RunStatus::Succeeded,
                    cursor_after: None,
                    error: None,
                    checks: Default::default(),
                },
            )
            .await
            .unwrap();
        let (runs, total) = store.sync_runs(Some("hs"), 0, 10, true).await.unwrap();
        assert_eq!(total, Some(1));
        assert_eq!(runs[0].records_read, 1);
        assert_eq!(runs[0].records_written, 1);
        assert_eq!(runs[0].status, RunStatus::Succeeded);
    })
    .await;
}

/// Every item of a batch lands in exactly one figure: a delete of a row that is not stored
/// (or is already deleted) and a record repeated in the batch are skipped, not lost.
#[tokio::test]
async fn every_item_of_a_batch_is_accounted_for() {
    for_each_backend(|store| async move {
        let acme = company("1", "Acme", Segment::Smb);
        let first = store
            .commit_batch(batch(vec![
                acme.clone(),
                company("2", "Globex", Segment::Smb),
            ]))
            .await
            .unwrap();
        assert_eq!((first.written, first.skipped, first.accounted()), (2, 0, 2));

        // Acme twice (the later copy loads), Globex unchanged, and a delete of a row that
        // was never stored.
        let mut b = batch(vec![
            acme.clone(),
            company("1", "Acme Inc", Segment::Smb),
            company("2", "Globex", Segment::Smb),
        ]);
        b.deletes = vec![ExternalRef::new("hubspot", "hs", "companies", "404")];
        b.records_read += 1;
        let items = b.records_read;
        let out = store.commit_batch(b).await.unwrap();
        assert_eq!(
            (out.written, out.unchanged, out.deleted, out.skipped),
            (1, 1, 0, 2),
            "{out:?}"
        );
        assert_eq!(out.accounted(), items);

        // Deleting twice: the second delete finds nothing live and is skipped.
        for expected in [(1, 0), (0, 1)] {
            let mut b = batch(vec![]);
            b.deletes = vec![ExternalRef::new("hubspot", "hs", "companies", "1")];
            let out = store.commit_batch(b).await.unwrap();
            assert_eq!((out.deleted, out.skipped), expected, "{out:?}");
            assert_eq!(out.accounted(), 1);
        }
    })
    .await;
}

#[tokio::test]
async fn deletes_hide_rows_and_a_reappearing_row_comes_back() {
    for_each_backend(|store| async move {
        store
            .commit_batch(batch(vec![company("1", "Acme", Segment::Smb)]))
            .await
            .unwrap();
        let mut b = batch(vec![]);
        b.deletes = vec![ExternalRef::new("hubspot", "hs", "companies", "1")];
        assert_eq!(store.commit_batch(b).await.unwrap().deleted, 1);
        let f = AccountFilter::default();
        assert_eq!(
            store.list_accounts(&f, 10, None, true).await.unwrap().total,
            Some(0)
        );
        let out = store
            .commit_batch(batch(vec![company("1", "Acme", Segment::Smb)]))
            .await
            .unwrap();
        assert_eq!(out.written, 1);
        assert_eq!(
            store.list_accounts(&f, 10, None, true).await.unwrap().total,
            Some(1)
        );
    })
    .await;
}

#[tokio::test]
async fn account_pages_are_keyset_ordered_and_filtered() {
    for_each_backend(|store| async move {
        let records: Vec<SourceRecord> = (0..25)
            .map(|i| {
                let seg = if i % 2 == 0 {
                    Segment::Smb
                } else {
                    Segment::Enterprise
                };
                company(&i.to_string(), &format!("Co {i:02}"), seg)
            })
            .collect();
        store.commit_batch(batch(records)).await.unwrap();
        let f = AccountFilter::default();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list_accounts(&f, 10, after.clone(), true)
                .await
                .unwrap();
            assert_eq!(page.total, Some(25));
            seen.extend(page.items.iter().map(|a| a.name.clone()));
            let Some(last) = page.items.last() else { break };
            if !page.has_next {
                break;
            }
            after = Some((last.name.clone(), last.id));
        }
        let expected: Vec<String> = (0..25).map(|i| format!("Co {i:02}")).collect();
        assert_eq!(seen, expected);
        let smb = AccountFilter {
            segment: Some(Segment::Smb),
            name_contains: Some("CO 1".into()),
            ..Default::default()
        };
        let page = store.list_accounts(&smb, 100, None, true).await.unwrap();
        let names: Vec<&str> = page.items.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Co 10", "Co 12", "Co 14", "Co 16", "Co 18"]);
        // LIKE wildcards in user input are literal.
        let pct = AccountFilter {
            name_contains: Some("%".into()),
            ..Default::default()
        };
        assert_eq!(
            store
                .list_accounts(&pct, 100, None, true)
                .await
                .unwrap()
                .total,
            Some(0)
        );
    })
    .await;
}

#[tokio::test]
async fn large_batches_are_chunked_under_the_parameter_caps() {
    for_each_backend(|store| async move {
        let records: Vec<SourceRecord> = (0..6000)
            .map(|i| contact(&i.to_string(), &(i % 50).to_string()))
            .collect();
        let out = store.commit_batch(batch(records)).await.unwrap();
        assert_eq!(out.written, 6000);
        let counts = store.counts().await.unwrap();
        assert_eq!(counts.entities[&EntityKind::Person], 6000);
        assert_eq!(counts.external_refs, 6050);
    })
    .await;
}

#[tokio::test]
async fn a_completed_full_refresh_marks_rows_it_did_not_see_as_deleted() {
    for_each_backend(|store| async move {
        let all = vec![
            company("1", "Acme", Segment::Smb),
            company("2", "Globex", Segment::Smb),
            company("3", "Initech", Segment::Smb),
        ];
        store.begin_sweep("hs", "s").await.unwrap();
        let mut b = batch(all.clone());
        b.state = Some(serde_json::Value::Null);
        b.complete_full_refresh = true;
        assert_eq!(store.commit_batch(b).await.unwrap().swept, 0);

        // Second full refresh, interrupted after page one ({"after": ...}) and resumed: the
        // marker of the first attempt survives, and "3" vanished at the source.
        store.begin_sweep("hs", "s").await.unwrap();
        let mut b = batch(vec![all[0].clone()]);
        b.state = Some(json!({"after": "2"}));
        store.commit_batch(b).await.unwrap();
        store.begin_sweep("hs", "s").await.unwrap();
        let mut b = batch(vec![all[1].clone()]);
        b.state = Some(serde_json::Value::Null);
        b.complete_full_refresh = true;
        assert_eq!(store.commit_batch(b).await.unwrap().swept, 1);
        let names: Vec<String> = store
            .list_accounts(&AccountFilter::default(), 10, None, true)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, ["Acme", "Globex"]);

        // A refresh that sees nothing deletes nothing.
        store.begin_sweep("hs", "s").await.unwrap();
        let mut b = batch(vec![]);
        b.state = Some(serde_json::Value::Null);
        b.complete_full_refresh = true;
        assert_eq!(store.commit_batch(b).await.unwrap().swept, 0);
        assert_eq!(
            store
                .list_accounts(&AccountFilter::default(), 10, None, true)
                .await
                .unwrap()
                .total,
            Some(2)
        );
    })
    .await;
}

#[tokio::test]
async fn leases_give_each_due_run_to_exactly_one_worker() {
    use std::time::Duration;
    for_each_backend(|store| async move {
        let past = Utc::now() - chrono::Duration::seconds(5);
        store.ensure_schedule("hs", "hubspot", past).await.unwrap();
        store
            .ensure_schedule("hs", "hubspot", Utc::now())
            .await
            .unwrap(); // no-op: already scheduled
        let ttl = Duration::from_secs(30);

        // Many workers race for one due run: exactly one wins.
        let mut tasks = Vec::new();
        for w in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .claim("hs", &format!("w{w}"), ttl, true)
                    .await
                    .unwrap()
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            winners.extend(t.await.unwrap());
        }
        assert_eq!(winners.len(), 1, "{winners:?}");
        let lease = winners.pop().unwrap();
        assert!(store.renew(&lease, ttl).await.unwrap());
        assert!(
            store
                .claim("hs", "other", ttl, false)
                .await
                .unwrap()
                .is_none()
        );

        // Finishing moves the schedule on; nothing is due until then.
        let next = Utc::now() + chrono::Duration::seconds(60);
        assert!(store.release(&lease, Some(next)).await.unwrap());
        assert!(store.claim("hs", "w1", ttl, true).await.unwrap().is_none());
        // A manual sync may still take it when nobody holds it.
        let manual = store.claim("hs", "cli", ttl, false).await.unwrap().unwrap();
        assert!(store.release(&manual, None).await.unwrap());
        // An admin's request makes it due now, as a full refresh, once.
        assert!(store.request_sync("hs", true).await.unwrap());
        assert!(!store.request_sync("nope", true).await.unwrap());
        let asked = store.claim("hs", "w2", ttl, true).await.unwrap().unwrap();
        assert!(asked.full_refresh);
        assert!(store.release(&asked, Some(Utc::now())).await.unwrap());
        let plain = store.claim("hs", "w2", ttl, true).await.unwrap().unwrap();
        assert!(!plain.full_refresh);
        assert!(store.release(&plain, Some(next)).await.unwrap());

        // A dead holder's lease expires and is taken over for the same slot.
        store.ensure_schedule("zd", "zendesk", past).await.unwrap();
        let dead = store
            .claim("zd", "dead", Duration::from_millis(1), true)
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let heir = store.claim("zd", "heir", ttl, true).await.unwrap().unwrap();
        assert_eq!(heir.scheduled_for, dead.scheduled_for);
        assert!(
            !store.renew(&dead, ttl).await.unwrap(),
            "the dead worker lost its lease"
        );
        assert!(!store.release(&dead, Some(next)).await.unwrap());
        let leases = store.leases().await.unwrap();
        assert_eq!(
            leases
                .iter()
                .find(|l| l.connector == "zd")
                .unwrap()
                .holder
                .as_deref(),
            Some("heir")
        );
    })
    .await;
}

#[tokio::test]
async fn the_content_digest_ignores_ids_and_order_but_not_content() {
    let a = TestDatabase::sqlite();
    let b = TestDatabase::sqlite();
    let (sa, sb) = (a.store().await.unwrap(), b.store().await.unwrap());
    let recs = vec![
        company("1", "Acme", Segment::Smb),
        contact("10", "1"),
        deal("20", "1", "10.00"),
    ];
    sa.commit_batch(batch(recs.clone())).await.unwrap();
    let mut reversed = recs.clone();
    reversed.reverse();
    for r in reversed {
        sb.commit_batch(batch(vec![r])).await.unwrap();
    }
    assert_eq!(
        sa.content_digest().await.unwrap(),
        sb.content_digest().await.unwrap()
    );
    sb.commit_batch(batch(vec![deal("20", "1", "11.00")]))
        .await
        .unwrap();
    assert_ne!(
        sa.content_digest().await.unwrap(),
        sb.content_digest().await.unwrap()
    );
}
