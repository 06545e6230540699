//! Shared by the end-to-end tests: the GraphQL gateway on a real socket.

#![allow(dead_code)] // each test binary uses its own part

pub mod ledger;
pub mod metrics;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use tributary_store::Store;

/// The gateway serving `store` on 127.0.0.1, port chosen by the OS.
pub struct Gateway {
    /// The GraphQL endpoint.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    /// Starts serving.
    pub async fn start(store: Store) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/graphql", listener.local_addr()?);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(tributary_gateway::serve(
            listener,
            tributary_gateway::AppState::new(store),
            async move {
                let _ = rx.await;
            },
        ));
        Ok(Self {
            url,
            stop: Some(tx),
            task,
        })
    }

    /// A POST to the GraphQL endpoint carrying whatever credentials the gateway needs; every
    /// test request goes through here, so tests of raw requests stay valid as auth changes.
    pub fn post(&self) -> reqwest::RequestBuilder {
        reqwest::Client::new().post(&self.url)
    }

    /// POSTs `query`; the `data` of a successful answer, or an error naming what failed.
    pub async fn query(&self, query: &str, variables: Value) -> Result<Value> {
        let resp = self
            .post()
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await?;
        ensure!(resp.status().is_success(), "HTTP {}", resp.status());
        let body: Value = resp.json().await?;
        ensure!(body.get("errors").is_none(), "GraphQL errors: {body}");
        body.get("data").cloned().context("no data")
    }

    /// A GET of another route of the same server (`/metrics`, `/readyz` …).
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        let base = self.url.trim_end_matches("/graphql");
        reqwest::Client::new().get(format!("{base}{path}"))
    }

    /// Stops serving and waits for the server to end.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await??;
        Ok(())
    }
}
