//! The revenue ledger step: after a sync, derive every account's RevenueEvents from its
//! subscriptions (`tributary-analytics`) and store them as a derived stream, so finance reads a
//! ledger that always matches the synced contracts.
//!
//! The events are written through the same `commit_batch` as synced records, keyed by
//! `tributary:ledger/revenue_events/<account's source ref>@<date>`, as a full refresh: unchanged events
//! write nothing, and an event whose contract vanished (a deleted opportunity) is swept away.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::HashMap;
use tributary_analytics::fx::{FxTable, Quote};
use tributary_analytics::ledger::{Ledger, LedgerConfig, SubscriptionInput};
use tributary_model::{Currency, Entity, EntityKind, ExternalRef, SourceRecord};
use tributary_store::{CommitBatch, Store};

/// The instance name the ledger's derived rows carry.
pub const LEDGER_INSTANCE: &str = "ledger";
const STREAM: &str = "revenue_events";

/// The `[ledger]` section of `tributary.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerSettings {
    /// Currency every ledger amount is converted into.
    pub reporting_currency: String,
    /// Days after a contract ends within which a new one still counts as its renewal rather
    /// than churn followed by new business.
    pub grace_days: u32,
    /// Where exchange rates come from: `csv` (the file `fx_rates_csv`) or `synced` (the dated
    /// rates a CRM connector synced, e.g. Salesforce `DatedConversionRate`, quoted against the
    /// reporting currency as the org's corporate currency).
    pub fx_source: FxSource,
    /// A CSV file of dated FX rates into the reporting currency (`date,currency,rate`); a
    /// relative path is relative to the configuration file's directory; empty: only the reporting currency is known, and a contract in
    /// another currency stops the ledger refresh with an error naming it. Used when
    /// `fx_source = "csv"`.
    pub fx_rates_csv: String,
}

/// Where the ledger's exchange rates come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FxSource {
    /// The CSV file named by `fx_rates_csv`.
    #[default]
    Csv,
    /// Rates synced from a source into the store (`fx_rates`), quoted against the reporting
    /// currency; amounts are divided by them, as the CRM itself converts.
    Synced,
}

impl Default for LedgerSettings {
    fn default() -> Self {
        Self {
            reporting_currency: "USD".to_owned(),
            grace_days: 30,
            fx_source: FxSource::Csv,
            fx_rates_csv: String::new(),
        }
    }
}

impl LedgerSettings {
    /// The FX table of the CSV file these settings name.
    pub fn csv_fx_table(&self) -> Result<FxTable> {
        let reporting = Currency::parse(&self.reporting_currency)?;
        if self.fx_rates_csv.is_empty() {
            return Ok(FxTable::new(reporting));
        }
        let text = std::fs::read_to_string(&self.fx_rates_csv)
            .with_context(|| format!("cannot read fx_rates_csv `{}`", self.fx_rates_csv))?;
        FxTable::from_csv(reporting, &text)
            .with_context(|| format!("invalid fx_rates_csv `{}`", self.fx_rates_csv))
    }

    /// The FX table these settings name: the CSV file, or the rates synced into `store`.
    pub async fn fx_table(&self, store: &Store) -> Result<FxTable> {
        match self.fx_source {
            FxSource::Csv => self.csv_fx_table(),
            FxSource::Synced => synced_fx(store, Currency::parse(&self.reporting_currency)?).await,
        }
    }

    /// Re-derives the ledger in `store` with these settings.
    pub async fn refresh(&self, store: &Store) -> Result<LedgerOutcome> {
        refresh(store, &self.fx_table(store).await?, self.grace_days).await
    }
}

/// The dated rates synced into `store` that are quoted against `reporting`, as inverse quotes
/// (units of the currency per unit of `reporting`).
pub async fn synced_fx(store: &Store, reporting: Currency) -> Result<FxTable> {
    let mut table = FxTable::new(reporting.clone());
    for row in store.fx_rates(&reporting).await? {
        if row.currency == reporting {
            continue;
        }
        table
            .insert_quote(row.currency, row.start_date, Quote::Inverse(row.rate))
            .context("conflicting synced exchange rates")?;
    }
    Ok(table)
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, Default)]
pub struct LedgerOutcome {
    /// Events in the ledger.
    pub events: usize,
    /// Events written or changed.
    pub written: u64,
    /// Events removed because their contracts vanished.
    pub removed: u64,
    /// Subscriptions whose source classification (`motion`: the opportunity type or deal type
    /// the field mapping reads) differs from the kind the ledger derived from ARR.
    pub kind_mismatches: usize,
}

/// Re-derives the ledger from the stored subscriptions and stores it.
pub async fn refresh(store: &Store, fx: &FxTable, grace_days: u32) -> Result<LedgerOutcome> {
    let subs = store.live_subscriptions().await?;
    let mut ids: Vec<uuid::Uuid> = subs.iter().filter_map(|s| s.account_id).collect();
    ids.extend(subs.iter().map(|s| s.id));
    ids.sort();
    ids.dedup();
    // Each account and subscription by one of its source references (the first seen).
    let mut refs: HashMap<uuid::Uuid, ExternalRef> = HashMap::new();
    for r in store.external_refs_of(&ids).await? {
        refs.entry(r.entity_id)
            .or_insert_with(|| r.to_external_ref());
    }
    // Accounts and subscriptions are keyed by their source references, not our ids, so the
    // ledger (and its rows) is the same in every store that synced the same source, whatever
    // order the rows arrived in.
    let mut inputs = Vec::with_capacity(subs.len());
    let mut account_refs: HashMap<String, ExternalRef> = HashMap::new();
    for s in &subs {
        let Some(account) = s.account_id else {
            continue;
        };
        let account_ref = refs.get(&account).cloned().unwrap_or_else(|| {
            ExternalRef::new("tributary", "store", "accounts", account.to_string())
        });
        let key = account_ref.to_string();
        account_refs.insert(key.clone(), account_ref);
        let source = refs.get(&s.id).cloned();
        inputs.push(SubscriptionInput {
            id: source
                .as_ref()
                .map_or_else(|| s.id.to_string(), ToString::to_string),
            account: key,
            start: s.start_date,
            end: s.end_date,
            arr: s.arr.clone(),
            source,
            kind_hint: s.motion,
        });
    }
    inputs.sort_by(|a, b| (&a.account, a.start, &a.id).cmp(&(&b.account, b.start, &b.id)));
    let ledger = Ledger::derive(&inputs, fx, &LedgerConfig { grace_days })
        .context("cannot derive the revenue ledger")?;
    // The ledger must explain every account's ARR from before its first line to after its
    // last; a ledger that does not is a bug, and storing it would mislead finance.
    if let (Some(first), Some(last)) = (
        ledger.events().iter().map(|e| e.date).min(),
        ledger.events().iter().map(|e| e.date).max(),
    ) {
        let report = ledger.reconcile(first.pred_opt().unwrap_or(first), last);
        anyhow::ensure!(
            report.is_reconciled(),
            "the derived revenue ledger does not reconcile: {report:?}"
        );
    }
    let mismatches = ledger.kind_mismatches();
    if let Some(first) = mismatches.first() {
        tracing::info!(
            count = mismatches.len(),
            example = ?first,
            "subscriptions whose CRM type disagrees with the ARR movement the ledger derived"
        );
    }
    let records: Vec<SourceRecord> = ledger
        .events()
        .iter()
        .map(|e| {
            let event = e.to_revenue_event(account_refs.get(&e.account).cloned());
            SourceRecord {
                external_ref: ExternalRef::new(
                    "tributary",
                    LEDGER_INSTANCE,
                    STREAM,
                    format!("{}@{}", e.account, e.date),
                ),
                source_updated_at: None,
                raw: serde_json::to_value(&event).unwrap_or(serde_json::Value::Null),
                entity: Entity::RevenueEvent(event),
            }
        })
        .collect();
    debug_assert!(records.iter().all(|r| r.kind() == EntityKind::RevenueEvent));
    let events = records.len();
    store.begin_sweep(LEDGER_INSTANCE, STREAM).await?;
    let outcome = store
        .commit_batch(CommitBatch {
            connector: LEDGER_INSTANCE.to_owned(),
            stream: STREAM.to_owned(),
            records_read: events as u64,
            records,
            state: Some(serde_json::Value::Null),
            complete_full_refresh: true,
            ..Default::default()
        })
        .await?;
    Ok(LedgerOutcome {
        events,
        written: outcome.written,
        removed: outcome.swept,
        kind_mismatches: mismatches.len(),
    })
}

/// The simulator's fixed FX rates as a dated table (valid since 2000), for the demo.
pub fn simulator_fx() -> Result<FxTable> {
    let since = NaiveDate::from_ymd_opt(2000, 1, 1).context("valid date")?;
    let sim = tributary_sim::FxTable::simulator();
    let mut table = FxTable::new(Currency::parse(&sim.reporting_currency)?);
    for (code, rate) in sim.rates {
        let currency = Currency::parse(&code)?;
        if currency.as_str() != sim.reporting_currency {
            table.insert(currency, since, rate)?;
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;
    use tributary_model::{FxRate, Money, RevenueEventKind, Subscription, SubscriptionStatus};
    use tributary_store::testing::for_each_backend;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn record(object: &str, id: &str, entity: Entity) -> SourceRecord {
        SourceRecord {
            external_ref: ExternalRef::new("salesforce", "sf", object, id),
            source_updated_at: None,
            raw: serde_json::json!({"Id": id}),
            entity,
        }
    }

    fn rate(id: &str, currency: &str, start: &str, rate: &str) -> SourceRecord {
        record(
            "DatedConversionRate",
            id,
            Entity::FxRate(FxRate {
                base: Currency::usd(),
                currency: Currency::parse(currency).expect("currency"),
                start_date: d(start),
                rate: Decimal::from_str(rate).expect("rate"),
            }),
        )
    }

    /// The ledger converts through rates synced from the CRM when `fx_source = "synced"`:
    /// dated, divided exactly as Salesforce converts, and refusing a currency it has no rate for.
    #[tokio::test]
    async fn synced_rates_convert_the_ledger_as_the_crm_does() {
        for_each_backend(|store| async move {
            let account = Entity::Account(tributary_model::Account::named("Acme"));
            let sub = |start: &str, amount: &str| {
                Entity::Subscription(Subscription {
                    account: Some(ExternalRef::new("salesforce", "sf", "Account", "001A")),
                    plan: "Pro".into(),
                    start_date: d(start),
                    end_date: Some(d(start) + chrono::Months::new(12)),
                    arr: Money::new(
                        Decimal::from_str(amount).expect("amount"),
                        Currency::parse("EUR").expect("EUR"),
                    ),
                    status: SubscriptionStatus::Active,
                    motion: Some(RevenueEventKind::New),
                    arr_basis: None,
                })
            };
            store
                .commit_batch(CommitBatch {
                    connector: "sf".into(),
                    stream: "all".into(),
                    records: vec![
                        record("Account", "001A", account),
                        record("Opportunity", "006A", sub("2024-01-01", "1000")),
                        record("Opportunity", "006B", sub("2025-01-01", "1000")),
                        rate("04w1", "EUR", "2000-01-01", "0.925926"),
                        rate("04w2", "EUR", "2024-07-01", "0.8"),
                        // Quoted against another base: ignored for a USD ledger.
                        record(
                            "DatedConversionRate",
                            "04w3",
                            Entity::FxRate(FxRate {
                                base: Currency::parse("GBP").expect("GBP"),
                                currency: Currency::parse("EUR").expect("EUR"),
                                start_date: d("2000-01-01"),
                                rate: Decimal::ONE,
                            }),
                        ),
                    ],
                    ..Default::default()
                })
                .await
                .expect("commit");
            let settings = LedgerSettings {
                fx_source: FxSource::Synced,
                ..LedgerSettings::default()
            };
            let outcome = settings.refresh(&store).await.expect("ledger");
            // 2024-01-01 new at 1000/0.925926; 2025-01-01 renewal at 1000/0.8.
            assert_eq!(outcome.events, 3, "{outcome:?}");
            assert_eq!(
                outcome.kind_mismatches, 1,
                "the renewal is typed New in the CRM"
            );
            let (events, _) = store
                .revenue_events(&Default::default(), 0, 10, true)
                .await
                .expect("events");
            let deltas: Vec<(NaiveDate, Decimal)> = events
                .iter()
                .map(|e| (e.date, e.arr_delta.amount))
                .collect();
            // 1000 / 0.925926 = 1079.99991…, shown to the cent; deltas are differences of
            // the rounded ARR, written with two decimals.
            let shown: Vec<(NaiveDate, String)> =
                deltas.iter().map(|(d, a)| (*d, a.to_string())).collect();
            assert_eq!(
                shown,
                vec![
                    (d("2024-01-01"), "1080.00".to_owned()),
                    (d("2025-01-01"), "170.00".to_owned()),
                    (d("2026-01-01"), "-1250.00".to_owned()),
                ]
            );
            // Each line says what it converted, at which rate, effective from which day.
            assert_eq!(
                events[0].original_delta.as_ref().map(ToString::to_string),
                Some("1000.00 EUR".to_owned())
            );
            let fx = events[0].fx.expect("one rate");
            assert_eq!(fx.rate, Decimal::from_str("0.925926").expect("rate"));
            assert_eq!(fx.quote, tributary_model::FxQuote::Divide);
            assert_eq!(fx.rate_date, Some(d("2000-01-01")));
            assert_eq!(events[1].fx, None, "two rates meet on the renewal");
            assert_eq!(
                events[2].fx.and_then(|f| f.rate_date),
                Some(d("2024-07-01"))
            );
            // Without synced rates for GBP, a GBP contract is refused with its currency named.
            let table = synced_fx(&store, Currency::parse("GBP").expect("GBP"))
                .await
                .expect("table");
            let err = table
                .convert(&Money::new(Decimal::ONE, Currency::usd()), d("2025-01-01"))
                .unwrap_err();
            assert!(err.to_string().contains("USD"), "{err}");
        })
        .await;
    }
}
