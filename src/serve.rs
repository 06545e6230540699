//! `tributary serve`: the GraphQL gateway plus a scheduler that syncs each connector on its
//! interval.

use crate::{Config, registry};
use anyhow::{Context, Result};
use std::{sync::Arc, time::Duration};
use tokio::sync::watch;
use tributary_connector::{Connector, SyncMode};
use tributary_store::Store;
use tributary_sync::{NoProgress, SyncEngine};

/// Runs `connector` every `interval` until `stop` flips to true. The first run starts at once.
pub async fn schedule(
    engine: SyncEngine,
    connector: Arc<dyn Connector>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let name = connector.instance().to_owned();
        tokio::select! {
            result = engine.sync(connector.as_ref(), SyncMode::Incremental, &[], &NoProgress) => match result {
                Ok(report) => {
                    let (read, o) = report.totals();
                    tracing::info!(connector = %name, read, written = o.written, quarantined = o.quarantined, succeeded = report.succeeded(), "scheduled sync finished");
                }
                Err(e) => tracing::error!(connector = %name, error = %e, "scheduled sync failed"),
            },
            _ = stop.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {},
            _ = stop.changed() => return,
        }
    }
}

/// Serves GraphQL on `config.listen` and runs the scheduler until `shutdown` resolves.
pub async fn serve(
    config: &Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let store = Store::connect(&config.database_url)
        .await
        .with_context(|| format!("cannot open database `{}`", redact(&config.database_url)))?;
    store.migrate().await?;
    let connectors = registry::build_all(config)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let engine = SyncEngine::new(store.clone());
    let mut tasks = Vec::new();
    for (connector, interval_secs) in connectors {
        tasks.push(tokio::spawn(schedule(
            engine.clone(),
            Arc::from(connector),
            Duration::from_secs(interval_secs),
            stop_rx.clone(),
        )));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    println!("graphql: http://{addr}/graphql");
    println!("graphiql: http://{addr}/");
    tributary_gateway::serve(listener, tributary_gateway::AppState::new(store), shutdown).await?;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
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
