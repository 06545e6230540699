//! The generic children-of query and the decoding of read types, on both backends.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::entities::{person, subscription};
use crate::testing::for_each_backend;
use crate::{
    AccountFilter, CommitBatch, PersonRow, QuarantineItem, RevenueEventFilter, SubscriptionRow,
};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::QueryOrder;
use serde_json::json;
use std::str::FromStr;
use tributary_model::*;

fn rec(object: &str, id: &str, entity: Entity) -> SourceRecord {
    SourceRecord {
        external_ref: ExternalRef::new("crm", "crm-1", object, id),
        source_updated_at: None,
        raw: json!({ "id": id }),
        entity,
    }
}

fn company(id: &str, segment: Option<Segment>) -> SourceRecord {
    let mut a = Account::named(format!("Company {id}"));
    a.segment = segment;
    rec("companies", id, Entity::Account(a))
}

fn contact(id: &str, company: &str, name: &str) -> SourceRecord {
    rec(
        "contacts",
        id,
        Entity::Person(Person {
            name: name.into(),
            email: None,
            title: None,
            role: Some(PersonRole::EndUser),
            account: Some(ExternalRef::new("crm", "crm-1", "companies", company)),
            first_seen_at: None,
            hints: vec![],
        }),
    )
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::from_str(s).unwrap()
}

fn money(amount: &str, currency: &str) -> Money {
    Money::new(
        Decimal::from_str(amount).unwrap(),
        Currency::parse(currency).unwrap(),
    )
}

fn deal(id: &str, company: &str, arr: Money, motion: Option<RevenueEventKind>) -> SourceRecord {
    rec(
        "deals",
        id,
        Entity::Subscription(Subscription {
            account: Some(ExternalRef::new("crm", "crm-1", "companies", company)),
            plan: "Pro".into(),
            start_date: d("2026-01-01"),
            end_date: Some(d("2027-01-01")),
            arr,
            status: SubscriptionStatus::Pending,
            motion,
            arr_basis: motion.map(|_| ArrBasis::AmountOverTerm),
        }),
    )
}

async fn commit(store: &Store, records: Vec<SourceRecord>) {
    store
        .commit_batch(CommitBatch {
            connector: "crm-1".into(),
            stream: "s".into(),
            records,
            ..Default::default()
        })
        .await
        .unwrap();
}

/// Our id of each company, by its external id.
async fn account_ids(store: &Store) -> std::collections::BTreeMap<String, Uuid> {
    let page = store
        .list_accounts(&AccountFilter::default(), 100, None, true)
        .await
        .unwrap();
    let ids: Vec<Uuid> = page.items.iter().map(|a| a.id).collect();
    store
        .external_refs_of(&ids)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.external_id, r.entity_id))
        .collect()
}

#[tokio::test]
async fn children_come_in_one_query_per_chunk_grouped_by_parent_in_order() {
    for_each_backend(|store| async move {
        commit(
            &store,
            vec![
                company("1", None),
                company("2", None),
                company("3", None),
                company("4", None),
                contact("10", "1", "Zoe"),
                contact("11", "1", "Adam"),
                contact("12", "2", "Mia"),
                contact("13", "3", "Ben"),
                contact("14", "4", "Eve"),
            ],
        )
        .await;
        // Contact 13 is deleted at the source: it is no child any more.
        store
            .commit_batch(CommitBatch {
                connector: "crm-1".into(),
                stream: "s".into(),
                deletes: vec![ExternalRef::new("crm", "crm-1", "contacts", "13")],
                ..Default::default()
            })
            .await
            .unwrap();
        let ids = account_ids(&store).await;
        let (a1, a2, a3) = (ids["1"], ids["2"], ids["3"]);
        let names = |rows: &[PersonRow], parent: Uuid| -> Vec<String> {
            rows.iter()
                .filter(|p| p.parent_id() == Some(parent))
                .map(|p| p.name.clone())
                .collect()
        };
        let select = person::Entity::find()
            .filter(person::Column::DeletedAt.is_null())
            .order_by_asc(person::Column::Name);
        // Chunks of one, two and many parents, with a repeated parent and an unknown one,
        // give the same children: ordered within each parent, each once.
        let parents = [a1, a2, a1, a3, Uuid::now_v7()];
        for chunk_size in [1, 2, IN_CHUNK] {
            let rows: Vec<PersonRow> = rows_in_chunks(
                store.db(),
                select.clone(),
                person::Column::AccountId,
                &parents,
                chunk_size,
            )
            .await
            .unwrap();
            assert_eq!(rows.len(), 3, "chunks of {chunk_size}");
            assert_eq!(names(&rows, a1), ["Adam", "Zoe"], "chunks of {chunk_size}");
            assert_eq!(names(&rows, a2), ["Mia"]);
            assert!(names(&rows, a3).is_empty(), "deleted children are left out");
        }
        // The public entry point: the relation's own filter and order.
        let rows: Vec<PersonRow> = store.children_of(&[a2, a1]).await.unwrap();
        assert_eq!(names(&rows, a1), ["Adam", "Zoe"]);
        assert_eq!(PersonRow::RELATION, "people of accounts");
        assert!(
            store
                .children_of::<PersonRow>(&[])
                .await
                .unwrap()
                .is_empty()
        );
        // The same query serves any relation: people by their own id, deleted ones included.
        let all: Vec<PersonRow> = store.children_of(&[a1, a2, a3, ids["4"]]).await.unwrap();
        let by_id = store
            .people_by_id(&all.iter().map(|p| p.id).collect::<Vec<_>>())
            .await
            .unwrap();
        assert_eq!(by_id.len(), 4);
    })
    .await;
}

#[tokio::test]
async fn rows_decode_into_domain_types() {
    for_each_backend(|store| async move {
        commit(
            &store,
            vec![
                company("1", Some(Segment::MidMarket)),
                deal(
                    "d1",
                    "1",
                    money("1200.5", "eur"),
                    Some(RevenueEventKind::Renewal),
                ),
                deal("d2", "1", money("99999999.9999", "USD"), None),
                rec(
                    "rates",
                    "r1",
                    Entity::FxRate(FxRate {
                        base: Currency::usd(),
                        currency: Currency::parse("JPY").unwrap(),
                        start_date: d("2026-01-01"),
                        rate: Decimal::from_str("151.123456789").unwrap(),
                    }),
                ),
                rec(
                    "ledger",
                    "e1",
                    Entity::RevenueEvent(RevenueEvent {
                        account: Some(ExternalRef::new("crm", "crm-1", "companies", "1")),
                        subscription: None,
                        date: d("2026-01-01"),
                        kind: RevenueEventKind::Contraction,
                        arr_delta: money("-0.0001", "USD"),
                        arr_after: money("10", "USD"),
                        original_delta: Some(money("-150", "JPY")),
                        fx: Some(FxConversion {
                            rate: Decimal::from_str("151.123456789").unwrap(),
                            quote: FxQuote::Divide,
                            rate_date: Some(d("2026-01-01")),
                        }),
                    }),
                ),
            ],
        )
        .await;
        let account = store
            .list_accounts(&AccountFilter::default(), 10, None, true)
            .await
            .unwrap()
            .items
            .remove(0);
        assert_eq!(account.segment, Some(Segment::MidMarket));
        let filtered = AccountFilter {
            segment: Some(Segment::MidMarket),
            ..Default::default()
        };
        assert_eq!(
            store
                .list_accounts(&filtered, 10, None, true)
                .await
                .unwrap()
                .total,
            Some(1)
        );

        let subs: Vec<SubscriptionRow> = store.children_of(&[account.id]).await.unwrap();
        let mut got: Vec<(String, SubscriptionStatus, Option<RevenueEventKind>)> = subs
            .iter()
            .map(|s| (s.arr.to_string(), s.status, s.motion))
            .collect();
        let bases: std::collections::HashSet<Option<ArrBasis>> =
            subs.iter().map(|s| s.arr_basis).collect();
        assert_eq!(bases, [None, Some(ArrBasis::AmountOverTerm)].into());
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            [
                (
                    "1200.50 EUR".to_owned(),
                    SubscriptionStatus::Pending,
                    Some(RevenueEventKind::Renewal)
                ),
                (
                    "99999999.9999 USD".to_owned(),
                    SubscriptionStatus::Pending,
                    None
                ),
            ]
        );

        let rates = store.fx_rates(&Currency::usd()).await.unwrap();
        assert_eq!(rates.len(), 1);
        assert_eq!(rates[0].currency.as_str(), "JPY");
        assert_eq!(rates[0].rate.to_string(), "151.123456789");

        let filter = RevenueEventFilter {
            kinds: vec![RevenueEventKind::Contraction],
            ..Default::default()
        };
        let events = store.all_revenue_events(&filter).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, RevenueEventKind::Contraction);
        assert_eq!(events[0].arr_delta.to_string(), "-0.0001 USD");
        assert_eq!(events[0].arr_after.to_string(), "10.00 USD");
        // In the currency's own decimals: none for JPY.
        assert_eq!(
            events[0].original_delta.as_ref().map(ToString::to_string),
            Some("-150 JPY".to_owned())
        );
        let fx = events[0].fx.unwrap();
        assert_eq!(fx.rate.to_string(), "151.123456789");
        assert_eq!(
            (fx.quote, fx.rate_date),
            (FxQuote::Divide, Some(d("2026-01-01")))
        );
        assert_eq!(events[0].account_id, Some(account.id));
        let filter = RevenueEventFilter {
            kinds: vec![RevenueEventKind::New],
            ..Default::default()
        };
        assert!(store.all_revenue_events(&filter).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_stored_value_that_does_not_decode_is_a_corrupt_row() {
    for_each_backend(|store| async move {
        commit(
            &store,
            vec![company("1", None), deal("d1", "1", money("1", "USD"), None)],
        )
        .await;
        let id = account_ids(&store).await["1"];
        subscription::Entity::update_many()
            .col_expr(
                subscription::Column::Status,
                sea_orm::sea_query::Expr::value("zombie"),
            )
            .exec(store.db())
            .await
            .unwrap();
        let err = store
            .children_of::<SubscriptionRow>(&[id])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { table: "subscriptions", message } if message.contains("zombie")),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn sync_runs_decode_their_status_warnings_and_drift() {
    use crate::{RunChecks, RunFinish, RunStatus, SchemaDrift, SchemaUpdate};
    for_each_backend(|store| async move {
        let run = store
            .start_run("crm-1", "deals", "incremental", None)
            .await
            .unwrap();
        let drift = SchemaDrift {
            field: "properties.amount".into(),
            old_type: "number".into(),
            new_type: Some("string".into()),
            policy: "evolve".into(),
        };
        store
            .record_schema(
                run,
                "crm-1",
                "deals",
                &SchemaUpdate {
                    drift: vec![drift.clone()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let (rows, _) = store.sync_runs(Some("crm-1"), 0, 10, true).await.unwrap();
        assert_eq!(rows[0].status, RunStatus::Running);
        assert!(rows[0].warnings.is_empty() && rows[0].complete().is_none());
        store
            .finish_run(
                run,
                RunFinish {
                    status: RunStatus::Paused,
                    cursor_after: Some(json!({"after": "9"})),
                    error: None,
                    checks: RunChecks {
                        source_count: Some(10),
                        source_read: Some(9),
                        warnings: vec!["read 9 of 10".into()],
                        ..Default::default()
                    },
                },
            )
            .await
            .unwrap();
        let (rows, total) = store.sync_runs(Some("crm-1"), 0, 10, true).await.unwrap();
        assert_eq!(total, Some(1));
        let r = &rows[0];
        assert_eq!(r.status, RunStatus::Paused);
        assert_eq!(r.warnings, ["read 9 of 10"]);
        assert_eq!(r.drift, [drift]);
        assert_eq!(r.complete(), Some(false));
        assert_eq!(r.cursor_after, Some(json!({"after": "9"})));
    })
    .await;
}

/// The latest run of every stream of several connectors comes from one query, newest first
/// within each connector, and a connector without runs has none.
#[tokio::test]
async fn latest_runs_are_the_newest_per_connector_and_stream() {
    for_each_backend(|store| async move {
        let mut latest = Vec::new();
        for (connector, stream) in [
            ("crm-1", "companies"),
            ("crm-1", "contacts"),
            ("crm-2", "companies"),
            ("crm-1", "companies"),
            ("crm-2", "companies"),
            ("crm-1", "contacts"),
        ] {
            let id = store
                .start_run(connector, stream, "incremental", None)
                .await
                .unwrap();
            latest.retain(|(c, s, _)| (*c, *s) != (connector, stream));
            latest.push((connector, stream, id.0));
        }
        let names = ["crm-1", "crm-2", "lms-1"].map(String::from);
        let rows = store.latest_runs(&names).await.unwrap();
        let got: Vec<(&str, &str, uuid::Uuid)> = rows
            .iter()
            .map(|r| (r.connector.as_str(), r.stream.as_str(), r.id))
            .collect();
        // By connector, newest first: crm-1's contacts ran last.
        let mut want = latest.clone();
        want.sort_by(|a, b| a.0.cmp(b.0).then(b.2.cmp(&a.2)));
        assert_eq!(got, want);
        assert!(store.latest_runs(&[]).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn stream_health_is_the_latest_run_the_last_success_and_open_quarantine() {
    use crate::{RunChecks, RunFinish, RunStatus};
    for_each_backend(|store| async move {
        let finish = |status, count| RunFinish {
            status,
            cursor_after: None,
            error: None,
            checks: RunChecks {
                source_count: count,
                source_read: count.map(|c| c - 1),
                ..Default::default()
            },
        };
        // crm/companies: succeeded, then failed (the latest).
        let ok = store
            .start_run("crm", "companies", "full_refresh", None)
            .await
            .unwrap();
        store
            .commit_batch(CommitBatch {
                connector: "crm".into(),
                stream: "companies".into(),
                run_id: Some(ok),
                records_read: 3,
                rejects: vec![QuarantineItem {
                    external_id: Some("q1".into()),
                    reason: "bad".into(),
                    payload: "{}".into(),
                }],
                ..Default::default()
            })
            .await
            .unwrap();
        store
            .finish_run(ok, finish(RunStatus::Succeeded, Some(10)))
            .await
            .unwrap();
        let failed = store
            .start_run("crm", "companies", "incremental", None)
            .await
            .unwrap();
        store
            .finish_run(failed, finish(RunStatus::Failed, None))
            .await
            .unwrap();
        // crm/contacts: only running.
        store
            .start_run("crm", "contacts", "incremental", None)
            .await
            .unwrap();

        let rows = store.stream_health().await.unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        let (companies, contacts) = (&rows[0], &rows[1]);
        assert_eq!(
            (companies.connector.as_str(), companies.stream.as_str()),
            ("crm", "companies")
        );
        assert_eq!(companies.status, RunStatus::Failed);
        assert!(companies.finished_at.is_some());
        let (runs, _) = store.sync_runs(Some("crm"), 0, 10, false).await.unwrap();
        let ok_row = runs.iter().find(|r| r.id == ok.0).unwrap();
        assert_eq!(companies.last_success_at, ok_row.finished_at);
        assert_eq!(companies.open_quarantine, 1);
        assert_eq!(companies.source_count, None);
        assert_eq!(contacts.status, RunStatus::Running);
        assert_eq!(contacts.last_success_at, None);
        assert_eq!(contacts.open_quarantine, 0);

        // The schema is current; one migration rolled back is one pending.
        use sea_orm_migration::MigratorTrait;
        assert!(store.pending_migrations().await.unwrap().is_empty());
        crate::migration::Migrator::down(store.db(), Some(1))
            .await
            .unwrap();
        assert_eq!(store.pending_migrations().await.unwrap().len(), 1);
        store.migrate().await.unwrap();
        assert!(store.pending_migrations().await.unwrap().is_empty());
    })
    .await;
}
