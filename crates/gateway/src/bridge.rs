//! The ARR bridge finance reconciles with: opening ARR + new + expansion − contraction −
//! churn = closing ARR, computed from the stored revenue ledger.
//!
//! Opening and closing ARR are read from each account's `arrAfter` snapshots (the last line
//! on or before the day), the movements from the `arrDelta`s in between — two independent
//! readings of the stored rows, so a ledger that lost or duplicated a line does not reconcile,
//! and the accounts where it fails are named.

use crate::error::GatewayError;
use crate::types::{Date, Money, RevenueEventKind, kind_name};
use async_graphql::{ID, SimpleObject};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use tributary_store::entities::revenue_event;
use tributary_store::money::from_e4;
use uuid::Uuid;

/// The movement of one kind of revenue event over the bridge's period.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct BridgeMovement {
    /// The kind.
    pub kind: RevenueEventKind,
    /// Lines of this kind in the period.
    pub events: u64,
    /// Their summed ARR change (negative for contraction and churn).
    pub arr_delta: Money,
}

/// An account whose movements do not explain its ARR change.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct BridgeDifference {
    /// The account.
    pub account_id: ID,
    /// Its ARR on the opening day.
    pub opening_arr: Money,
    /// Its ARR on the closing day.
    pub closing_arr: Money,
    /// The sum of its movements in between.
    pub movement: Money,
}

/// The ARR bridge from `from` to `to`: ARR on the opening day, every movement dated after it
/// up to and including the closing day, and ARR on the closing day.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct RevenueBridge {
    /// Opening day (ARR at the end of it).
    pub from: Date,
    /// Closing day (ARR at the end of it).
    pub to: Date,
    /// Total ARR on `from`.
    pub opening_arr: Money,
    /// Movements by kind, in the order new, renewal, expansion, contraction, churn.
    pub movements: Vec<BridgeMovement>,
    /// Total ARR on `to`.
    pub closing_arr: Money,
    /// `closingArr − openingArr − Σ movements`; zero when the ledger reconciles.
    pub difference: Money,
    /// Whether the total and every account reconcile exactly.
    pub reconciled: bool,
    /// Accounts that do not reconcile (at most 100).
    pub differences: Vec<BridgeDifference>,
}

const KINDS: [RevenueEventKind; 5] = [
    RevenueEventKind::New,
    RevenueEventKind::Renewal,
    RevenueEventKind::Expansion,
    RevenueEventKind::Contraction,
    RevenueEventKind::Churn,
];

/// Most differing accounts listed.
const MAX_DIFFERENCES: usize = 100;

#[derive(Default)]
struct AccountBridge {
    opening: i64,
    closing: i64,
    movement: i64,
}

/// The bridge over `rows`: every live ledger line dated on or before `to`, in date order.
/// `None` when there are none (the ledger's currency is then unknown).
pub(crate) fn bridge(
    rows: &[revenue_event::Model],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Option<RevenueBridge>, GatewayError> {
    if from > to {
        return Err(GatewayError::Validation(format!(
            "`from` ({from}) is after `to` ({to})"
        )));
    }
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let currency = first.currency.clone();
    if let Some(other) = rows.iter().find(|r| r.currency != currency) {
        return Err(GatewayError::Corrupt {
            table: "revenue_events",
            message: format!(
                "the ledger mixes {currency} and {}; refresh it in one reporting currency",
                other.currency
            ),
        });
    }
    let overflow = || GatewayError::Corrupt {
        table: "revenue_events",
        message: "ARR overflows".to_owned(),
    };
    let mut accounts: BTreeMap<Option<Uuid>, AccountBridge> = BTreeMap::new();
    let mut by_kind: BTreeMap<&'static str, (u64, i64)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.event_date <= to) {
        let a = accounts.entry(r.account_id).or_default();
        // Rows come in date order: the last one seen on or before a day is its snapshot.
        if r.event_date <= from {
            a.opening = r.arr_after_e4;
        }
        a.closing = r.arr_after_e4;
        if r.event_date > from {
            a.movement = a
                .movement
                .checked_add(r.arr_delta_e4)
                .ok_or_else(overflow)?;
            let k = by_kind.entry(leak_kind(&r.kind)?).or_default();
            k.0 += 1;
            k.1 = k.1.checked_add(r.arr_delta_e4).ok_or_else(overflow)?;
        }
    }
    let money = |e4: i64| Money {
        amount: from_e4(e4),
        currency: currency.clone(),
    };
    let (mut opening, mut closing, mut movement) = (0i64, 0i64, 0i64);
    let mut differences = Vec::new();
    let mut unreconciled = 0usize;
    for (account, a) in &accounts {
        opening = opening.checked_add(a.opening).ok_or_else(overflow)?;
        closing = closing.checked_add(a.closing).ok_or_else(overflow)?;
        movement = movement.checked_add(a.movement).ok_or_else(overflow)?;
        if a.closing - a.opening != a.movement {
            unreconciled += 1;
            if differences.len() < MAX_DIFFERENCES {
                differences.push(BridgeDifference {
                    account_id: ID(account.map_or_else(String::new, |u| u.to_string())),
                    opening_arr: money(a.opening),
                    closing_arr: money(a.closing),
                    movement: money(a.movement),
                });
            }
        }
    }
    let difference = closing - opening - movement;
    Ok(Some(RevenueBridge {
        from: Date(from),
        to: Date(to),
        opening_arr: money(opening),
        movements: KINDS
            .iter()
            .map(|k| {
                let (events, delta) = by_kind.get(kind_name(*k)).copied().unwrap_or_default();
                BridgeMovement {
                    kind: *k,
                    events,
                    arr_delta: money(delta),
                }
            })
            .collect(),
        closing_arr: money(closing),
        difference: money(difference),
        reconciled: unreconciled == 0 && difference == 0,
        differences,
    }))
}

/// The static name of a stored kind.
fn leak_kind(s: &str) -> Result<&'static str, GatewayError> {
    KINDS
        .iter()
        .map(|k| kind_name(*k))
        .find(|k| *k == s)
        .ok_or_else(|| GatewayError::Corrupt {
            table: "revenue_events",
            message: format!("unknown kind `{s}`"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn row(account: u128, date: &str, kind: &str, delta: i64, after: i64) -> revenue_event::Model {
        revenue_event::Model {
            id: Uuid::now_v7(),
            source_updated_at: None,
            content_hash: String::new(),
            synced_at: Utc::now(),
            deleted_at: None,
            account_id: Some(Uuid::from_u128(account)),
            subscription_id: None,
            event_date: NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(),
            kind: kind.into(),
            arr_delta_e4: delta,
            arr_after_e4: after,
            currency: "USD".into(),
        }
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_bridge_walks_from_opening_to_closing_arr() {
        let rows = vec![
            row(1, "2024-01-01", "new", 100, 100),
            row(2, "2024-06-01", "new", 50, 50),
            row(1, "2025-01-01", "expansion", 20, 120),
            row(2, "2025-06-01", "churn", -50, 0),
            row(1, "2026-01-01", "renewal", 0, 120),
            row(3, "2027-01-01", "new", 999, 999),
        ];
        let b = bridge(&rows, d("2024-12-31"), d("2026-06-30"))
            .unwrap()
            .unwrap();
        assert!(b.reconciled, "{b:?}");
        assert_eq!(b.opening_arr.amount, from_e4(150));
        assert_eq!(b.closing_arr.amount, from_e4(120));
        let m: Vec<(u64, i64)> = b
            .movements
            .iter()
            .map(|m| {
                (
                    m.events,
                    (m.arr_delta.amount * rust_decimal::Decimal::from(10_000))
                        .try_into()
                        .unwrap(),
                )
            })
            .collect();
        assert_eq!(m, vec![(0, 0), (1, 0), (1, 20), (0, 0), (1, -50)]);
        assert_eq!(b.difference.amount, from_e4(0));
    }

    #[test]
    fn a_lost_line_is_named() {
        // Account 1's expansion line is missing: its snapshots jump without a movement.
        let rows = vec![
            row(1, "2024-01-01", "new", 100, 100),
            row(1, "2026-01-01", "renewal", 0, 120),
            row(2, "2024-01-01", "new", 10, 10),
        ];
        let b = bridge(&rows, d("2024-12-31"), d("2026-06-30"))
            .unwrap()
            .unwrap();
        assert!(!b.reconciled);
        assert_eq!(b.difference.amount, from_e4(20));
        assert_eq!(b.differences.len(), 1);
        assert_eq!(
            b.differences[0].account_id.as_str(),
            Uuid::from_u128(1).to_string()
        );
        assert!(bridge(&rows, d("2026-01-01"), d("2025-01-01")).is_err());
        assert_eq!(bridge(&[], d("2024-01-01"), d("2025-01-01")).unwrap(), None);
    }
}
