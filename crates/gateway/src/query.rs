//! The query root.

use crate::bridge::RevenueBridge;
use crate::cursor;
use crate::error::GatewayError;
use crate::types::{
    Account, AccountConnection, AccountEdge, AccountFilter, ConnectorStatus, Date, PageInfo,
    QuarantineConnection, QuarantineEdge, RevenueEventConnection, RevenueEventEdge,
    RevenueLedgerFilter, SyncRunConnection, SyncRunEdge, TriggerSyncPayload,
};
use async_graphql::{Context, ID, Object, Result};
use tributary_store::Store;
use uuid::Uuid;

/// Page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: i32 = 20;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: i32 = 500;

/// The page size `first` asks for.
fn page_size(first: Option<i32>) -> Result<u64, GatewayError> {
    let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
    match u64::try_from(first) {
        Ok(n) if first <= MAX_PAGE_SIZE => Ok(n),
        _ => Err(GatewayError::Validation(format!(
            "`first` must be between 0 and {MAX_PAGE_SIZE}, got {first}"
        ))),
    }
}

/// Complexity of a list field: its selection counted once per node it may return. `first` is
/// clamped so that an out-of-range value is reported as such by the resolver rather than as a
/// too-complex query.
fn page_complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let n = first
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE)
        .unsigned_abs() as usize;
    n.saturating_mul(child_complexity).saturating_add(1)
}

fn store<'a>(ctx: &Context<'a>) -> Result<&'a Store, GatewayError> {
    ctx.data_opt::<Store>()
        .ok_or(GatewayError::Misconfigured("the schema has no store"))
}

/// The offset after the `after` cursor of the list `list`.
fn offset_after(list: &str, after: Option<&str>) -> Result<u64, GatewayError> {
    match after {
        None => Ok(0),
        Some(c) => Ok(cursor::decode_offset(list, c)?.saturating_add(1)),
    }
}

/// Page info of an offset page starting at `offset` with `len` edges out of `total`.
fn offset_page_info(list: &str, offset: u64, len: usize, total: u64) -> PageInfo {
    let len = len as u64;
    PageInfo {
        has_next_page: offset.saturating_add(len) < total,
        has_previous_page: offset > 0,
        start_cursor: (len > 0).then(|| cursor::encode_offset(list, offset)),
        end_cursor: (len > 0).then(|| cursor::encode_offset(list, offset + len - 1)),
    }
}

const SYNC_RUNS: &str = "syncRuns";
const QUARANTINE: &str = "quarantine";
const REVENUE_LEDGER: &str = "revenueLedger";

/// Reads of the unified model and of the sync log.
#[derive(Default, Debug, Clone, Copy)]
pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// Accounts, ordered by name then id, `first` (0 to 500) after the cursor `after`.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(DEFAULT_PAGE_SIZE)")] first: Option<i32>,
        after: Option<String>,
        filter: Option<AccountFilter>,
    ) -> Result<AccountConnection> {
        let first = page_size(first)?;
        let after = after.as_deref().map(cursor::decode_account).transpose()?;
        let filter = filter.unwrap_or_default().into();
        let page = store(ctx)?
            .list_accounts(&filter, first, after)
            .await
            .map_err(GatewayError::from)?;
        let edges: Vec<AccountEdge> = page
            .items
            .into_iter()
            .map(|row| AccountEdge {
                cursor: cursor::encode_account(&row.name, row.id),
                node: Account::from(row),
            })
            .collect();
        Ok(AccountConnection {
            page_info: PageInfo {
                has_next_page: page.has_next,
                has_previous_page: false,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: page.total,
        })
    }

    /// One account by id; null when there is none.
    async fn account(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Account>> {
        let uuid = Uuid::parse_str(&id).map_err(|_| {
            GatewayError::Validation(format!(
                "`id` must be an account id (a UUID), got `{}`",
                id.0
            ))
        })?;
        let row = store(ctx)?
            .account(uuid)
            .await
            .map_err(GatewayError::from)?;
        Ok(row.map(Account::from))
    }

    /// Every connector the workers schedule, with its next run, lease and latest runs.
    async fn connectors(&self, ctx: &Context<'_>) -> Result<Vec<ConnectorStatus>, GatewayError> {
        let store = store(ctx)?;
        let mut out = Vec::new();
        for row in store.leases().await? {
            let last_runs = latest_per_stream(store, &row.connector).await?;
            out.push(ConnectorStatus::new(row, last_runs));
        }
        Ok(out)
    }

    /// Sync runs, newest first, optionally of one connector instance.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn sync_runs(
        &self,
        ctx: &Context<'_>,
        connector: Option<String>,
        #[graphql(default_with = "Some(DEFAULT_PAGE_SIZE)")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<SyncRunConnection> {
        let first = page_size(first)?;
        let offset = offset_after(SYNC_RUNS, after.as_deref())?;
        let (rows, total) = store(ctx)?
            .sync_runs(connector.as_deref(), offset, first)
            .await
            .map_err(GatewayError::from)?;
        let page_info = offset_page_info(SYNC_RUNS, offset, rows.len(), total);
        let edges = (offset..)
            .zip(rows)
            .map(|(i, row)| SyncRunEdge {
                cursor: cursor::encode_offset(SYNC_RUNS, i),
                node: row.into(),
            })
            .collect();
        Ok(SyncRunConnection {
            edges,
            page_info,
            total_count: total,
        })
    }

    /// The revenue ledger finance reconciles against: every change of ARR (new, renewal,
    /// expansion, contraction, churn) in the reporting currency, by date then account,
    /// filtered by account, kinds and dates. Derived from subscriptions after every sync; an
    /// account's deltas sum to its ARR. Scheduled future changes are included (a contract
    /// ending without a renewal yet is a churn on its end date); filter `to` for history.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn revenue_ledger(
        &self,
        ctx: &Context<'_>,
        filter: Option<RevenueLedgerFilter>,
        #[graphql(default_with = "Some(DEFAULT_PAGE_SIZE)")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<RevenueEventConnection> {
        let first = page_size(first)?;
        let offset = offset_after(REVENUE_LEDGER, after.as_deref())?;
        let filter: tributary_store::RevenueEventFilter = filter.unwrap_or_default().try_into()?;
        let (rows, total) = store(ctx)?
            .revenue_events(&filter, offset, first)
            .await
            .map_err(GatewayError::from)?;
        let page_info = offset_page_info(REVENUE_LEDGER, offset, rows.len(), total);
        let edges = (offset..)
            .zip(rows)
            .map(|(i, row)| RevenueEventEdge {
                cursor: cursor::encode_offset(REVENUE_LEDGER, i),
                node: row.into(),
            })
            .collect();
        Ok(RevenueEventConnection {
            edges,
            page_info,
            total_count: total,
        })
    }

    /// The ARR bridge finance reconciles with, from the stored ledger: ARR at the end of
    /// `from`, every movement (new, renewal, expansion, contraction, churn) dated after it up
    /// to `to`, and ARR at the end of `to`, in the reporting currency, with the accounts whose
    /// movements do not explain their ARR change. Optionally of one account. Null when the
    /// ledger has no lines up to `to`.
    async fn revenue_bridge(
        &self,
        ctx: &Context<'_>,
        from: Date,
        to: Date,
        account_id: Option<ID>,
    ) -> Result<Option<RevenueBridge>> {
        let filter: tributary_store::RevenueEventFilter = RevenueLedgerFilter {
            account_id,
            to: Some(to),
            ..RevenueLedgerFilter::default()
        }
        .try_into()?;
        let rows = store(ctx)?
            .all_revenue_events(&filter)
            .await
            .map_err(GatewayError::from)?;
        Ok(crate::bridge::bridge(&rows, from.0, to.0)?)
    }

    /// Records set aside because they could not be mapped, newest first.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn quarantine(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(DEFAULT_PAGE_SIZE)")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<QuarantineConnection> {
        let first = page_size(first)?;
        let offset = offset_after(QUARANTINE, after.as_deref())?;
        let (rows, total) = store(ctx)?
            .quarantine(offset, first)
            .await
            .map_err(GatewayError::from)?;
        let page_info = offset_page_info(QUARANTINE, offset, rows.len(), total);
        let edges = (offset..)
            .zip(rows)
            .map(|(i, row)| QuarantineEdge {
                cursor: cursor::encode_offset(QUARANTINE, i),
                node: row.into(),
            })
            .collect();
        Ok(QuarantineConnection {
            edges,
            page_info,
            total_count: total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None).unwrap(), 20);
        assert_eq!(page_size(Some(0)).unwrap(), 0);
        assert_eq!(page_size(Some(500)).unwrap(), 500);
        for bad in [-1, 501, i32::MIN, i32::MAX] {
            let e = page_size(Some(bad)).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_FAILED", "{bad}");
        }
    }

    #[test]
    fn complexity_never_overflows() {
        assert_eq!(page_complexity(Some(i32::MAX), usize::MAX), usize::MAX);
        assert_eq!(page_complexity(Some(-5), 3), 4);
        assert_eq!(page_complexity(None, 3), 61);
    }

    #[test]
    fn offset_pages() {
        let p = offset_page_info("q", 0, 0, 0);
        assert!(!p.has_next_page && !p.has_previous_page && p.end_cursor.is_none());
        let p = offset_page_info("q", 10, 5, 16);
        assert!(p.has_next_page && p.has_previous_page);
        assert_eq!(
            cursor::decode_offset("q", p.end_cursor.as_deref().unwrap()).unwrap(),
            14
        );
        assert_eq!(offset_after("q", p.end_cursor.as_deref()).unwrap(), 15);
    }
}

/// The latest run of each stream of `connector` (streams run in turn, so the newest few runs
/// hold one of each).
async fn latest_per_stream(
    store: &Store,
    connector: &str,
) -> Result<Vec<tributary_store::entities::sync_run::Model>, GatewayError> {
    let (runs, _) = store.sync_runs(Some(connector), 0, 100).await?;
    let mut seen = std::collections::BTreeSet::new();
    Ok(runs
        .into_iter()
        .filter(|r| seen.insert(r.stream.clone()))
        .collect())
}

/// The mutation root: admin operations. They only record intent in the database; workers act
/// on it, so the gateway never calls a vendor.
pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Asks the workers to sync `connector` now (as a full refresh when `fullRefresh`). The
    /// first free worker claims it within its poll interval; follow it with `connectors` or
    /// `syncRuns`.
    async fn trigger_sync(
        &self,
        ctx: &Context<'_>,
        connector: String,
        #[graphql(default = false)] full_refresh: bool,
    ) -> Result<TriggerSyncPayload, GatewayError> {
        let store = store(ctx)?;
        if !store.request_sync(&connector, full_refresh).await? {
            return Err(GatewayError::NotFound(format!(
                "no connector `{connector}` is scheduled; is it in tributary.toml and is a worker running?"
            )));
        }
        let row = store
            .leases()
            .await?
            .into_iter()
            .find(|l| l.connector == connector)
            .ok_or_else(|| GatewayError::NotFound(format!("connector `{connector}` vanished")))?;
        let last_runs = latest_per_stream(store, &connector).await?;
        Ok(TriggerSyncPayload {
            connector,
            full_refresh: row.full_refresh_requested,
            status: ConnectorStatus::new(row, last_runs),
        })
    }
}
