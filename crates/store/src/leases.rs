//! Leases: how several worker processes share one database and run each scheduled sync
//! exactly once (SPEC §6, §14).
//!
//! `sync_leases` holds one row per connector: when its next run is due, who holds it and until
//! when. A worker claims a due run by taking the row; on PostgreSQL the claim reads the row
//! with `FOR UPDATE SKIP LOCKED` inside a transaction, so two workers racing for it never both
//! win and neither waits on the other. SQLite has one writer at a time, so the claim is a
//! single conditional `UPDATE`. A worker renews its lease while it runs; a worker that dies
//! stops renewing, its lease expires, and the next worker to poll takes the same scheduled
//! slot over (the run resumes from the last checkpoint).

use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbBackend, ExprTrait};
use std::time::Duration;

/// A claimed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The connector instance.
    pub connector: String,
    /// The worker holding it.
    pub holder: String,
    /// The scheduled slot the run is for.
    pub scheduled_for: DateTime<Utc>,
    /// Someone asked for a full refresh ([`Store::request_sync`]).
    pub full_refresh: bool,
}

fn ttl_after(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60))
}

impl Store {
    /// Creates the connector's schedule row if missing, first due at `first_run_at`, and
    /// records its kind.
    pub async fn ensure_schedule(
        &self,
        connector: &str,
        kind: &str,
        first_run_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let q = Query::insert()
            .into_table("sync_leases")
            .columns(["connector", "kind", "next_run_at", "full_refresh_requested"])
            .values_panic([
                connector.into(),
                kind.into(),
                first_run_at.into(),
                false.into(),
            ])
            .on_conflict(
                OnConflict::column("connector")
                    .update_column("kind")
                    .to_owned(),
            )
            .to_owned();
        self.db().execute(&q).await?;
        Ok(())
    }

    /// Asks the workers to sync `connector` as soon as one is free (the admin `triggerSync`
    /// mutation): its next run becomes due now, as a full refresh if asked. `false` when no
    /// worker has ever scheduled that connector.
    pub async fn request_sync(
        &self,
        connector: &str,
        full_refresh: bool,
    ) -> Result<bool, StoreError> {
        let mut q = Query::update()
            .table("sync_leases")
            .value("next_run_at", Utc::now())
            .and_where(Expr::col("connector").eq(connector))
            .to_owned();
        if full_refresh {
            q.value("full_refresh_requested", true);
        }
        Ok(self.db().execute(&q).await?.rows_affected() == 1)
    }

    /// Claims the connector for `holder` for `ttl`. With `due_only`, only when its next run is
    /// due (the scheduler); without, whenever nobody holds it (a manual `tributary sync`).
    /// Returns `None` when another live worker holds it or nothing is due.
    pub async fn claim(
        &self,
        connector: &str,
        holder: &str,
        ttl: Duration,
        due_only: bool,
    ) -> Result<Option<Lease>, StoreError> {
        let now = Utc::now();
        let free = Expr::col("holder")
            .is_null()
            .or(Expr::col("expires_at").lt(now));
        let mut select = Query::select()
            .columns(["next_run_at", "full_refresh_requested"])
            .from("sync_leases")
            .and_where(Expr::col("connector").eq(connector))
            .and_where(free.clone())
            .to_owned();
        if due_only {
            select.and_where(Expr::col("next_run_at").lte(now));
        }
        let txn = self.begin_write().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let Some(row) = txn.query_one(&select).await? else {
            txn.rollback().await?;
            return Ok(None);
        };
        let scheduled_for: DateTime<Utc> = row.try_get("", "next_run_at")?;
        let full_refresh: bool = row.try_get("", "full_refresh_requested")?;
        // The same conditions again: on SQLite this update is what makes the claim atomic.
        let update = Query::update()
            .table("sync_leases")
            .values([
                ("holder", holder.into()),
                ("expires_at", ttl_after(now, ttl).into()),
                ("claimed_for", scheduled_for.into()),
            ])
            .and_where(Expr::col("connector").eq(connector))
            .and_where(Expr::col("next_run_at").eq(scheduled_for))
            .and_where(free)
            .to_owned();
        let claimed = txn.execute(&update).await?.rows_affected() == 1;
        txn.commit().await?;
        Ok(claimed.then(|| Lease {
            connector: connector.to_owned(),
            holder: holder.to_owned(),
            scheduled_for,
            full_refresh,
        }))
    }

    /// Extends a held lease by `ttl`; `false` when it was lost (expired and taken over).
    pub async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
        let q = Query::update()
            .table("sync_leases")
            .value("expires_at", ttl_after(Utc::now(), ttl))
            .and_where(Expr::col("connector").eq(lease.connector.as_str()))
            .and_where(Expr::col("holder").eq(lease.holder.as_str()))
            .to_owned();
        Ok(self.db().execute(&q).await?.rows_affected() == 1)
    }

    /// Releases a lease. With `next_run_at`, the schedule moves on (a scheduled run finished);
    /// without, the due time stays (a manual sync). `false` when the lease had been lost.
    pub async fn release(
        &self,
        lease: &Lease,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let mut q = Query::update()
            .table("sync_leases")
            .values([
                ("holder", Option::<String>::None.into()),
                ("expires_at", Option::<DateTime<Utc>>::None.into()),
            ])
            .and_where(Expr::col("connector").eq(lease.connector.as_str()))
            .and_where(Expr::col("holder").eq(lease.holder.as_str()))
            .to_owned();
        if let Some(next) = next_run_at {
            q.value("next_run_at", next);
            // The run that just finished honoured any full-refresh request it was claimed with.
            if lease.full_refresh {
                q.value("full_refresh_requested", false);
            }
        }
        Ok(self.db().execute(&q).await?.rows_affected() == 1)
    }
}
