//! `tributary serve`: the GraphQL gateway and/or a worker that syncs each connector on its
//! interval (`--role gateway|worker|all`).
//!
//! Workers coordinate only through the database: each connector's next run is a row in
//! `sync_leases`; a worker claims a due run with a lease, renews it while it runs and moves
//! the schedule on when it finishes. Several workers (processes) can therefore share one
//! PostgreSQL database, every scheduled run executes once, and a dead worker's run is taken
//! over when its lease expires.

use crate::{Config, registry};
use anyhow::{Context, Result};
use chrono::Utc;
use std::{collections::HashMap, sync::Arc, time::Duration};
use tokio::sync::watch;
use tributary_connector::{Connector, SyncMode};
use tributary_store::{Lease, RunOrigin, Store};
use tributary_sync::{NoProgress, SyncEngine};

/// What a `serve` process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Serve GraphQL only (stateless; run as many as you like).
    Gateway,
    /// Run scheduled syncs only.
    Worker,
    /// Both.
    All,
}

/// A worker: the connectors it may run and how it claims them.
pub struct Worker {
    /// This worker's id, recorded as lease holder and on its runs.
    pub id: String,
    store: Store,
    engine: SyncEngine,
    drift_policies: std::collections::HashMap<String, tributary_sync::DriftPolicy>,
    connectors: Vec<(Arc<dyn Connector>, Duration)>,
    lease_ttl: Duration,
    poll: Duration,
    ledger: crate::ledger::LedgerSettings,
    /// Rates that replace `ledger`'s source (the demo's simulated company).
    fixed_fx: Option<(tributary_analytics::fx::FxTable, u32)>,
}

impl Worker {
    /// A worker over `connectors` (each with its interval).
    pub fn new(
        store: Store,
        connectors: Vec<(Arc<dyn Connector>, Duration)>,
        lease_ttl: Duration,
        poll: Duration,
    ) -> Self {
        let id = format!(
            "worker-{}-{}",
            std::process::id(),
            &uuid::Uuid::now_v7().simple().to_string()[24..]
        );
        Self {
            id,
            engine: SyncEngine::new(store.clone()),
            store,
            connectors,
            lease_ttl,
            poll,
            ledger: crate::ledger::LedgerSettings::default(),
            fixed_fx: None,
            drift_policies: std::collections::HashMap::new(),
        }
    }

    /// Derives the revenue ledger with `fx` and `grace_days` instead of ledger settings (the
    /// demo, whose simulated company has its own rates).
    pub fn with_fixed_fx(mut self, fx: tributary_analytics::fx::FxTable, grace_days: u32) -> Self {
        self.fixed_fx = Some((fx, grace_days));
        self
    }

    /// Sets each connector's drift policy (by instance name; the default for the others).
    pub fn with_drift_policies(
        mut self,
        policies: std::collections::HashMap<String, tributary_sync::DriftPolicy>,
    ) -> Self {
        self.drift_policies = policies;
        self
    }

    /// Sets how the revenue ledger is derived after each run.
    pub fn with_ledger(mut self, ledger: crate::ledger::LedgerSettings) -> Self {
        self.ledger = ledger;
        self
    }

    /// Polls for due runs until `stop` flips, running each claimed run to its end (or until
    /// its lease is lost or the worker stops).
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> Result<()> {
        let now = Utc::now();
        for (c, _) in &self.connectors {
            self.store
                .ensure_schedule(c.instance(), c.kind(), now)
                .await?;
        }
        let this = Arc::new(self);
        let mut running: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
        loop {
            running.retain(|_, task| !task.is_finished());
            for (connector, interval) in &this.connectors {
                let name = connector.instance().to_owned();
                if running.contains_key(&name) {
                    continue;
                }
                match this
                    .store
                    .claim(&name, &this.id, this.lease_ttl, true)
                    .await
                {
                    Ok(Some(lease)) => {
                        let task = tokio::spawn(Arc::clone(&this).run_claimed(
                            Arc::clone(connector),
                            *interval,
                            lease,
                            stop.clone(),
                        ));
                        running.insert(name, task);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(connector = %name, error = %e, "cannot claim run"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(this.poll) => {},
                _ = stop.changed() => break,
            }
        }
        for (_, task) in running {
            let _ = task.await;
        }
        // A run stopped mid-stream leaves its last batch committing with its checkpoint.
        this.engine.commits_finished().await;
        Ok(())
    }

    async fn run_claimed(
        self: Arc<Self>,
        connector: Arc<dyn Connector>,
        interval: Duration,
        lease: Lease,
        mut stop: watch::Receiver<bool>,
    ) {
        let name = connector.instance().to_owned();
        tracing::info!(connector = %name, worker = %self.id, scheduled_for = %lease.scheduled_for, "claimed scheduled run");
        let origin = RunOrigin {
            worker: Some(self.id.clone()),
            scheduled_for: Some(lease.scheduled_for),
        };
        let heartbeat = async {
            loop {
                tokio::time::sleep(self.lease_ttl / 3).await;
                match self.store.renew(&lease, self.lease_ttl).await {
                    Ok(true) => {}
                    Ok(false) => return "lease lost to another worker",
                    Err(e) => {
                        tracing::warn!(connector = %name, error = %e, "cannot renew lease");
                    }
                }
            }
        };
        let mode = if lease.full_refresh {
            SyncMode::FullRefresh
        } else {
            SyncMode::Incremental
        };
        let engine = self
            .engine
            .clone()
            .with_drift_policy(self.drift_policies.get(&name).copied().unwrap_or_default());
        let sync = engine.sync_with(connector.as_ref(), mode, &[], origin, &NoProgress);
        let mut resume_at = None;
        let finished = tokio::select! {
            result = sync => {
                match result {
                    Ok(report) => {
                        let (read, o) = report.totals();
                        tracing::info!(connector = %name, read, written = o.written, unchanged = o.unchanged, skipped = o.skipped, quarantined = o.quarantined, deleted = o.deleted, swept = o.swept, succeeded = report.succeeded(), "scheduled sync finished");
                        resume_at = report.paused().and_then(|p| p.resume_at);
                        let ledger = match &self.fixed_fx {
                            Some((fx, grace)) => crate::ledger::refresh(&self.store, fx, *grace).await,
                            None => self.ledger.refresh(&self.store).await,
                        };
                        match ledger {
                            Ok(l) => tracing::info!(events = l.events, written = l.written, removed = l.removed, "revenue ledger refreshed"),
                            Err(e) => tracing::error!(error = %crate::error_line(&e), "cannot refresh the revenue ledger"),
                        }
                    }
                    Err(e) => tracing::error!(connector = %name, error = %e, "scheduled sync failed"),
                }
                true
            }
            why = heartbeat => {
                tracing::warn!(connector = %name, why, "scheduled sync abandoned");
                false
            }
            _ = stop.changed() => {
                tracing::info!(connector = %name, "worker stopping; the run resumes from its last checkpoint");
                false
            }
        };
        // A finished run moves the schedule on by one interval (never into the past: missed
        // slots are not replayed); an interrupted one keeps its slot for the next worker.
        let next = finished.then(|| {
            let next = lease.scheduled_for
                + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::hours(1));
            // A spent vendor quota pushes the next run past the window's roll-over.
            next.max(Utc::now()).max(resume_at.unwrap_or(next))
        });
        if let Err(e) = self.store.release(&lease, next).await {
            tracing::error!(connector = %name, error = %e, "cannot release lease");
        }
    }
}

/// Serves GraphQL and/or runs a worker until `shutdown` resolves.
pub async fn serve(
    config: &Config,
    role: Role,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let gateway = config.gateway.gateway_config()?;
    // The store's connect error names the file or the host and port.
    let store = Store::connect(&config.database_url()?).await?;
    store.migrate().await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    // One signal stops the gateway and the worker together.
    let mut stopped = stop_rx.clone();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let shutdown = async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let worker = if role == Role::Gateway {
        None
    } else {
        let configured = registry::build_all(config)?;
        let policies = configured
            .iter()
            .map(|c| (c.connector.instance().to_owned(), c.drift_policy))
            .collect();
        let connectors = configured
            .into_iter()
            .map(|c| (Arc::from(c.connector), Duration::from_secs(c.interval_secs)))
            .collect();
        let worker = Worker::new(
            store.clone(),
            connectors,
            Duration::from_secs(config.scheduler.lease_ttl_secs),
            Duration::from_millis(config.scheduler.poll_interval_ms),
        )
        .with_ledger(config.ledger.clone())
        .with_drift_policies(policies);
        println!("worker: {}", worker.id);
        Some(tokio::spawn(worker.run(stop_rx)))
    };
    if role == Role::Worker {
        shutdown.await;
    } else {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        println!("graphql: http://{addr}/graphql");
        if gateway.graphiql {
            println!("graphiql: http://{addr}/");
        }
        let push = registry::build_push_all(config)?;
        for m in &push {
            println!(
                "push: {} ({}) at http://{addr}{}",
                m.source.instance(),
                m.source.kind(),
                m.prefix
            );
        }
        let state = tributary_gateway::AppState {
            config: gateway,
            push,
            ..tributary_gateway::AppState::new(store)
        };
        tributary_gateway::serve(listener, state, shutdown).await?;
    }
    if let Some(worker) = worker {
        worker.await??;
    }
    Ok(())
}

/// Hides the password of a database URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_passwords_are_hidden() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}
