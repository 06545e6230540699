//! The ledger against the simulated company (SPEC §7): ARR per account and in total equals
//! the generator's truth exactly, the ledger reconciles, churned accounts end in a churn and
//! the event kinds match the deals' motions.

#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use chrono::{Months, NaiveDate};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use tributary_analytics::fx::FxTable;
use tributary_analytics::ledger::{Ledger, LedgerConfig, SubscriptionInput, kind_name};
use tributary_analytics::metrics::{PeriodArr, grr, nrr};
use tributary_model::{Currency, ExternalRef, Money, RevenueEventKind};
use tributary_sim::{Company, DealMotion, SimConfig};

struct World {
    company: Company,
    truth_fx: tributary_sim::FxTable,
    fx: FxTable,
    subscriptions: Vec<SubscriptionInput>,
    ledger: Ledger,
}

fn world() -> World {
    world_of(SimConfig::default().seed)
}

fn world_of(seed: u64) -> World {
    let company = Company::generate(&SimConfig {
        seed,
        accounts: 500,
        ..SimConfig::default()
    });
    let truth_fx = company.ground_truth().fx;
    // The simulator's rates are fixed: effective long before its history starts.
    let since = company.history_start - Months::new(120);
    let mut fx = FxTable::new(Currency::parse(&truth_fx.reporting_currency).unwrap());
    for (code, rate) in &truth_fx.rates {
        fx.insert(Currency::parse(code).unwrap(), since, *rate)
            .unwrap();
    }
    let subscriptions: Vec<SubscriptionInput> = company
        .expected_closed_won_deals()
        .map(|d| SubscriptionInput {
            id: d.id.clone(),
            account: company.accounts[d.account].id.clone(),
            start: d.start_date(),
            end: Some(d.end_date()),
            arr: Money::new(d.arr(), d.currency.clone()),
            source: Some(ExternalRef::new("hubspot", "sim", "deals", d.id.clone())),
            kind_hint: Some(match d.motion {
                DealMotion::NewBusiness => RevenueEventKind::New,
                DealMotion::Renewal => RevenueEventKind::Renewal,
                DealMotion::Expansion | DealMotion::AddOn => RevenueEventKind::Expansion,
                DealMotion::Contraction => RevenueEventKind::Contraction,
            }),
        })
        .collect();
    let ledger = Ledger::derive(&subscriptions, &fx, &LedgerConfig::default()).unwrap();
    World {
        company,
        truth_fx,
        fx,
        subscriptions,
        ledger,
    }
}

#[test]
fn arr_per_account_and_in_total_equals_the_generator_exactly() {
    for seed in [42, 7] {
        arr_equals_the_generator(&world_of(seed));
    }
}

/// An amount in cents, rounded half away from zero: how finance rounds an account's ARR.
fn cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

fn arr_equals_the_generator(w: &World) {
    let today = w.company.today;
    // The generator's view: the deals active today, converted exactly with its rates; an
    // account's ARR is their sum rounded to the cent.
    let mut expected: BTreeMap<&str, Decimal> = BTreeMap::new();
    for d in w.company.active_deals_on(today) {
        *expected
            .entry(w.company.accounts[d.account].id.as_str())
            .or_default() += w.truth_fx.to_reporting(d.currency.as_str(), d.arr());
    }
    let mut active = 0;
    let mut rounded_away = 0;
    for a in &w.company.accounts {
        let exact = expected.get(a.id.as_str()).copied().unwrap_or_default();
        let want = cents(exact);
        let got = w.ledger.arr_on(&a.id, today);
        assert_eq!(got, want, "account {}", a.id);
        // Every figure has exactly two decimals.
        assert_eq!(got.scale(), 2, "account {}: {got}", a.id);
        active += usize::from(want > Decimal::ZERO);
        rounded_away += usize::from(want != exact);
    }
    assert!(rounded_away > 0, "the EUR rate makes some accounts round");
    // The ground truth's per-account ARR (account currency) agrees too.
    for t in &w.company.ground_truth().per_account {
        assert_eq!(
            w.ledger.arr_on(&t.account_id, today),
            cents(w.truth_fx.to_reporting(&t.currency, t.arr_today)),
            "account {}",
            t.account_id
        );
    }
    let truth = w.company.truth();
    let exact_total: Decimal = truth
        .arr_today
        .iter()
        .map(|(c, arr)| w.truth_fx.to_reporting(c, *arr))
        .sum();
    // The total is the sum of the accounts' rounded ARR, within half a cent per account of the
    // exact total.
    let total: Decimal = expected.values().copied().map(cents).sum();
    assert!(
        (total - exact_total).abs() <= Decimal::new(5, 3) * Decimal::from(active),
        "{total} {exact_total}"
    );
    assert_eq!(w.ledger.total_arr_on(today), total);
    // Summed over all accounts' contracts at once, the exact total is rounded once.
    assert_eq!(
        tributary_analytics::ledger::arr_on(&w.subscriptions, &w.fx, today)
            .unwrap()
            .amount,
        cents(exact_total)
    );
    assert_eq!(active, truth.active_accounts);
    assert!(truth.arr_today.len() == 3 && total > Decimal::from(1_000_000));
    eprintln!("ARR today {total} USD over {active} active accounts");
}

#[test]
fn the_ledger_reconciles_for_every_account_over_several_periods() {
    for seed in [42, 7] {
        reconciles(&world_of(seed));
    }
}

fn reconciles(w: &World) {
    let start = w.company.history_start;
    let today = w.company.today;
    let mut periods: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    let mut q = start - Months::new(1);
    while q < today + Months::new(15) {
        periods.push((q, q + Months::new(3)));
        q = q + Months::new(3);
    }
    periods.push((start - Months::new(1), today));
    periods.push((today - Months::new(12), today));
    periods.push((start, today + Months::new(24)));
    for (from, to) in &periods {
        let report = w.ledger.reconcile(*from, *to);
        assert!(report.is_reconciled(), "{from}..{to}: {report:?}");
        assert_eq!(report.closing_arr, w.ledger.total_arr_on(*to));
    }
    let life = w.ledger.reconcile(start - Months::new(1), today);
    assert_eq!(life.opening_arr, Decimal::ZERO);
    assert_eq!(life.movement, w.ledger.total_arr_on(today));
    eprintln!(
        "{} periods reconciled; history bridge {:?}",
        periods.len(),
        life.by_kind
    );
}

#[test]
fn churned_accounts_end_with_a_churn_and_kinds_match_the_deals() {
    let w = world();
    let today = w.company.today;
    let grace = u64::from(LedgerConfig::default().grace_days);
    let (mut churned, mut pending) = (0, 0);
    for a in &w.company.accounts {
        let past: Vec<_> = w
            .ledger
            .account_events(&a.id)
            .iter()
            .filter(|e| e.date <= today)
            .collect();
        let last = past.last().expect("every account has a new business");
        assert_eq!(past[0].kind, RevenueEventKind::New);
        match a.churned_on {
            Some(day) => {
                churned += 1;
                assert_eq!(last.kind, RevenueEventKind::Churn, "account {}", a.id);
                assert_eq!(last.date, day, "account {}", a.id);
                assert_eq!(w.ledger.arr_on(&a.id, today), Decimal::ZERO);
            }
            // A contract ending within the grace period before today (here: on today) whose
            // renewal is not decided yet: the ledger shows the churn the contracts imply, the
            // generator does not call it churned yet.
            None if last.kind == RevenueEventKind::Churn => {
                pending += 1;
                assert!(
                    last.date + chrono::Days::new(grace) >= today,
                    "account {}",
                    a.id
                );
            }
            None => assert!(w.ledger.arr_on(&a.id, today) > Decimal::ZERO),
        }
    }
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for e in w.ledger.events().iter().filter(|e| e.date <= today) {
        *kinds.entry(kind_name(e.kind)).or_default() += 1;
    }
    let motions = w.company.truth().won_deals_by_motion;
    eprintln!("churned {churned}, pending {pending}; kinds {kinds:?}; motions {motions:?}");
    let m = |k: &str| motions.get(k).copied().unwrap_or(0);
    let k = |k: &str| kinds.get(k).copied().unwrap_or(0);
    assert_eq!(churned, w.company.truth().churned_accounts);
    assert!(churned > 50 && pending < 10, "{churned} {pending}");
    assert_eq!(k("churn"), churned + pending);
    assert_eq!(k("new"), m("new_business"));
    assert_eq!(k("renewal"), m("renewal"));
    assert_eq!(k("contraction"), m("contraction"));
    assert_eq!(k("expansion"), m("expansion") + m("add_on"));
    // Event by event, not only in count: every deal's motion is the kind of the event it
    // starts.
    assert_eq!(w.ledger.kind_mismatches(), []);
}

#[test]
fn nrr_and_grr_over_the_last_year_match_the_deals() {
    let w = world();
    let (from, to) = (w.company.today - Months::new(12), w.company.today);
    // Independently of the ledger: per account, the deals active on each day.
    let mut rows: BTreeMap<usize, PeriodArr> = BTreeMap::new();
    let zero = PeriodArr {
        start: Decimal::ZERO,
        end: Decimal::ZERO,
    };
    for d in w.company.active_deals_on(from) {
        rows.entry(d.account).or_insert(zero).start +=
            w.truth_fx.to_reporting(d.currency.as_str(), d.arr());
    }
    for d in w.company.active_deals_on(to) {
        rows.entry(d.account).or_insert(zero).end +=
            w.truth_fx.to_reporting(d.currency.as_str(), d.arr());
    }
    let rows: Vec<PeriodArr> = rows
        .into_values()
        .map(|r| PeriodArr {
            start: cents(r.start),
            end: cents(r.end),
        })
        .collect();
    let (n, g) = (nrr(&rows).unwrap(), grr(&rows).unwrap());
    assert_eq!(w.ledger.nrr(from, to), Some(n));
    assert_eq!(w.ledger.grr(from, to), Some(g));
    assert!(g <= n && g <= Decimal::ONE);
    assert!(
        g > Decimal::new(5, 1) && n < Decimal::new(15, 1),
        "nrr {n} grr {g}"
    );
    eprintln!("NRR {} GRR {}", n.round_dp(4), g.round_dp(4));
}
