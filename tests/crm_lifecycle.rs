//! Time passes in the CRM (issue 5's done-when): the simulated company is synced as it stood
//! 90 days ago, then the CRM moves on to today — renewals and expansions close, and an
//! opportunity is deleted — and an **incremental** sync brings exactly that in. Checked over
//! GraphQL on a real socket: the new renewals are subscriptions, the deleted opportunity's
//! subscription and its ledger lines are gone, and the whole revenue ledger equals the
//! generator's own contract history at today (minus the deleted one), line for line: each
//! line's date, kind, delta and ARR after in cents, its change in the deal's currency and the
//! rate that converted it, computed from the generator's won deals alone (`common::ledger`,
//! not Tributary's ledger code).
//!
//! Runs for Salesforce (query/queryAll, `IsDeleted`) and HubSpot (search, `archived=true`),
//! on SQLite and again on PostgreSQL when `TRIBUTARY_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

mod common;

use anyhow::{Context, Result, ensure};
use chrono::{Days, NaiveDate};
use common::Gateway;
use common::ledger::{self, Line, assert_same_lines};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tributary::demo::SimulatedCrm;
use tributary_connector::{Connector, SyncMode};
use tributary_mock_hubspot as hubspot;
use tributary_mock_kit::MockServer;
use tributary_mock_salesforce::{SObject, SalesforceMockConfig};
use tributary_model::Currency;
use tributary_sim::{Company, SimConfig};
use tributary_store::Store;
use tributary_store::testing::TestDatabase;
use tributary_sync::{NoProgress, SyncEngine};

const SEED: u64 = 11;
const ACCOUNTS: usize = 80;
const DAYS_BETWEEN: u64 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crm {
    Salesforce,
    Hubspot,
}

fn company_on(today: NaiveDate) -> Company {
    Company::generate(&SimConfig {
        seed: SEED,
        accounts: ACCOUNTS,
        today,
        ..SimConfig::default()
    })
}

/// Starts the CRM's mock of `company` on `addr` (port 0: any).
async fn start_mock(crm: Crm, company: Arc<Company>, addr: SocketAddr) -> Result<MockServer> {
    let router = match crm {
        Crm::Salesforce => tributary_mock_salesforce::router(
            company,
            SalesforceMockConfig {
                batch_size: 200,
                ..SalesforceMockConfig::default()
            },
        ),
        Crm::Hubspot => hubspot::router(company, hubspot::HubspotMockConfig::default()),
    };
    Ok(MockServer::start_on(addr, router).await?)
}

/// The connector, configured from TOML exactly as `tributary.toml` would be, with the field
/// mapping that matches the simulated org.
fn connector(crm: Crm, base_url: &str) -> Result<Box<dyn Connector>> {
    match crm {
        Crm::Salesforce => SimulatedCrm::Salesforce.connector("sfdc", base_url),
        Crm::Hubspot => SimulatedCrm::Hubspot.connector("hubspot", base_url),
    }
}

/// Syncs and re-derives the ledger; returns the records read per stream.
async fn sync(
    store: &Store,
    connector: &dyn Connector,
    mode: SyncMode,
) -> Result<BTreeMap<String, u64>> {
    let report = SyncEngine::new(store.clone())
        .sync(connector, mode, &[], &NoProgress)
        .await?;
    ensure!(report.succeeded(), "sync failed: {report:?}");
    tributary::ledger::refresh(store, &tributary::ledger::simulator_fx()?, 30).await?;
    Ok(report
        .streams
        .iter()
        .map(|s| (s.stream.clone(), s.read))
        .collect())
}

/// Every line of the ledger the generator's won deals give at the simulator's fixed rates
/// (those deleted in the CRM left out, unless listed in `keep`), computed from the deals
/// alone (`common::ledger`), accounts left out (compared by date, kind and amounts).
fn expected_ledger(company: &Company, keep: &[String]) -> Vec<Line> {
    unnamed(ledger::generator_ledger(
        company,
        |d| d.archived_at.is_none() || keep.contains(&d.id),
        ledger::simulator_rates,
        ledger::Kinds::Motions,
    ))
}

/// `lines` without their accounts, sorted.
fn unnamed(lines: Vec<Line>) -> Vec<Line> {
    let mut lines: Vec<Line> = lines
        .into_iter()
        .map(|l| Line {
            account: String::new(),
            ..l
        })
        .collect();
    lines.sort();
    lines
}

/// Every ledger line over HTTP, page by page, each money amount checked for its currency's
/// decimals.
async fn served(gw: &Gateway) -> Result<Vec<Line>> {
    let mut lines = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = gw
            .query(
                &format!(
                    "query($after: String) {{ revenueLedger(first: 200, after: $after) {{
                       pageInfo {{ hasNextPage endCursor }} nodes {{ {} }} }} }}",
                    ledger::LINE_FIELDS
                ),
                json!({"after": after}),
            )
            .await?;
        ledger::check_every_money(&d)?;
        let l = &d["revenueLedger"];
        for n in l["nodes"].as_array().context("nodes")? {
            lines.push(ledger::served_line(n, String::new())?);
        }
        if l["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = l["pageInfo"]["endCursor"].clone();
    }
    lines.sort();
    Ok(lines)
}

/// The vendor id of generator deal `deal` in `crm`.
fn vendor_deal_id(crm: Crm, deal: &tributary_sim::SimDeal, index: usize) -> String {
    match crm {
        Crm::Salesforce => tributary_mock_salesforce::salesforce_id(
            SObject::Opportunity,
            deal.id.parse().unwrap_or(index as u64),
        ),
        Crm::Hubspot => deal.id.clone(),
    }
}

async fn lifecycle(crm: Crm) -> Result<()> {
    let today = SimConfig::default().today;
    let then = today - Days::new(DAYS_BETWEEN);
    let before = Arc::new(company_on(then));
    let mut after = company_on(today);
    // A deal won before the first sync and still running today is deleted in the CRM since
    // (HubSpot: archived, served by `archived=true`; Salesforce: in the Recycle Bin, served by
    // queryAll with `IsDeleted`).
    let deleted: Vec<String> = after
        .active_deals_on(today)
        .filter(|d| d.start_date() < then)
        .map(|d| d.id.clone())
        .take(1)
        .collect();
    ensure!(deleted.len() == 1, "no deal to delete");
    for d in after.deals.iter_mut().filter(|d| deleted.contains(&d.id)) {
        d.archived_at = Some(
            (today - Days::new(1))
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc(),
        );
    }
    let after = Arc::new(after);

    // What happened in the CRM between the two syncs.
    let renewals: Vec<(usize, &tributary_sim::SimDeal)> = after
        .deals
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            d.stage.is_won()
                && d.motion == tributary_sim::DealMotion::Renewal
                && d.start_date() >= then
                && d.start_date() < today
        })
        .collect();
    ensure!(
        renewals.len() >= 3,
        "the generator closed only {} renewals in {DAYS_BETWEEN} days",
        renewals.len()
    );
    for (_, r) in &renewals {
        ensure!(
            !before
                .deals
                .iter()
                .any(|d| d.id == r.id && d.stage.is_won()),
            "renewal {} was already won at the first sync",
            r.id
        );
    }

    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let store = Store::connect(&db.url).await?;
        store.migrate().await?;

        let mock = start_mock(crm, Arc::clone(&before), "127.0.0.1:0".parse()?).await?;
        let addr = mock.addr();
        let connector = connector(crm, &mock.base_url)?;
        // The first sync. Salesforce: a full refresh, which hands the next incremental run
        // its high-water mark. HubSpot's full refresh does not yet (it ends with a null
        // state), so its first sync is an incremental one with no mark, which reads
        // everything and leaves one.
        let first_mode = match crm {
            Crm::Salesforce => SyncMode::FullRefresh,
            Crm::Hubspot => SyncMode::Incremental,
        };
        let first = sync(&store, connector.as_ref(), first_mode).await?;
        let gateway = Gateway::start(store.clone()).await?;
        assert_same_lines(
            &served(&gateway).await?,
            &expected_ledger(&before, &[]),
            &format!("{crm:?}/{backend}: the first sync's ledger is the generator's as of {then}"),
        );
        // The deleted deal is in the ledger before it is deleted.
        let deleted_account = match deleted.first() {
            Some(id) => {
                let d = after.deals.iter().find(|d| &d.id == id).unwrap();
                Some(after.accounts[d.account].name.clone())
            }
            None => None,
        };

        // Time passes in the CRM; the connector reads only what changed.
        mock.shutdown().await?;
        let mock = start_mock(crm, Arc::clone(&after), addr).await?;
        let second = sync(&store, connector.as_ref(), SyncMode::Incremental).await?;
        // It really was incremental: only what changed in 90 days was read.
        let (first_total, second_total): (u64, u64) = (first.values().sum(), second.values().sum());
        assert!(
            second_total * 3 < first_total,
            "{crm:?}/{backend}: the second run read {second:?} after {first:?}"
        );

        // Every renewal closed since is a subscription now, with the CRM's motion.
        for (i, r) in &renewals {
            let id = vendor_deal_id(crm, r, *i);
            let sub = store
                .live_subscriptions()
                .await?
                .into_iter()
                .find(|s| s.start_date == r.start_date() && s.plan.contains(&r.name))
                .with_context(|| format!("{crm:?}/{backend}: renewal {id} has no subscription"))?;
            assert_eq!(sub.end_date, Some(r.end_date()), "{crm:?}/{backend}: {id}");
            assert_eq!(
                sub.motion,
                Some(tributary_model::RevenueEventKind::Renewal),
                "{crm:?}/{backend}: {id}"
            );
        }
        // The whole ledger, over HTTP, equals the generator's at today without the deleted
        // deal — so the renewals are in it and the deleted deal's lines are gone.
        let ledger = served(&gateway).await?;
        assert_same_lines(
            &ledger,
            &expected_ledger(&after, &[]),
            &format!("{crm:?}/{backend}: the ledger after the incremental sync"),
        );
        if let Some(name) = deleted_account {
            assert_ne!(
                expected_ledger(&after, &deleted),
                ledger,
                "{crm:?}/{backend}: deleting {name}'s deal must change the ledger"
            );
        }
        // ARR today per the ledger, in cents, equals the generator's, less the deleted deal.
        let total: i64 = ledger
            .iter()
            .filter(|l| l.date <= today)
            .map(|l| l.delta_cents)
            .sum();
        let want = ledger::generator_arr_cents(
            &after,
            today,
            |d| !deleted.contains(&d.id),
            ledger::simulator_rates,
        );
        assert_eq!(total, want, "{crm:?}/{backend}: ARR today");

        gateway.stop().await?;
        mock.shutdown().await?;
        store.close().await?;
        db.cleanup().await?;
    }
    Ok(())
}

#[tokio::test]
async fn salesforce_renewals_arrive_incrementally_and_deleted_opportunities_leave_the_ledger()
-> Result<()> {
    lifecycle(Crm::Salesforce).await
}

#[tokio::test]
async fn hubspot_renewals_arrive_incrementally() -> Result<()> {
    lifecycle(Crm::Hubspot).await
}

/// `fx_source = "synced"`: the ledger converts through the exchange rates the Salesforce
/// connector synced from the org (`DatedConversionRate`), dividing by the rate of each
/// contract's start date exactly as Salesforce converts — checked line for line, in cents,
/// against the generator's deals converted here at the org's published rates.
#[tokio::test]
async fn the_ledger_converts_through_salesforces_dated_rates() -> Result<()> {
    use tributary::ledger::{FxSource, LedgerSettings};
    let company = Arc::new(company_on(SimConfig::default().today));
    // Salesforce converts by dividing by the rate of the contract's start date (the latest
    // `DatedConversionRate` on or before it), quoted as units of the currency per USD.
    let rates = tributary_mock_salesforce::dated_conversion_rates();
    let convert = |d: &tributary_sim::SimDeal| -> ledger::Conversion {
        if d.currency == Currency::usd() {
            return ledger::simulator_rates(d);
        }
        let r = rates
            .iter()
            .filter(|r| r.iso_code == d.currency.as_str() && r.start_date <= d.start_date())
            .max_by_key(|r| r.start_date)
            .expect("a rate for every deal");
        ledger::Conversion {
            usd: d.arr() / r.rate,
            rate: r.rate,
            quote: "DIVIDE",
            rate_date: Some(r.start_date),
        }
    };
    let want = unnamed(ledger::generator_ledger(
        &company,
        |d| d.archived_at.is_none(),
        convert,
        ledger::Kinds::UsdMovement,
    ));
    // The org's later rates really are used: converting at the first rates would differ.
    assert_ne!(want, expected_ledger(&company, &[]));
    assert!(
        want.iter().any(|l| l.fx.is_none()),
        "a renewal meets two rates"
    );

    for db in TestDatabase::all().await? {
        let backend = db.backend;
        let store = db.store().await?;
        let mock = start_mock(
            Crm::Salesforce,
            Arc::clone(&company),
            "127.0.0.1:0".parse()?,
        )
        .await?;
        let connector = connector(Crm::Salesforce, &mock.base_url)?;
        let report = SyncEngine::new(store.clone())
            .sync(connector.as_ref(), SyncMode::FullRefresh, &[], &NoProgress)
            .await?;
        ensure!(report.succeeded(), "{backend}: {report:?}");
        let settings = LedgerSettings {
            fx_source: FxSource::Synced,
            ..LedgerSettings::default()
        };
        settings.refresh(&store).await?;
        let gateway = Gateway::start(store.clone()).await?;
        assert_same_lines(
            &served(&gateway).await?,
            &want,
            &format!("{backend}: the ledger through the org's dated rates"),
        );
        gateway.stop().await?;
        mock.shutdown().await?;
        store.close().await?;
        db.cleanup().await?;
    }
    Ok(())
}
