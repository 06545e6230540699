//! Shared by the end-to-end tests: the GraphQL gateway on a real socket.

#![allow(dead_code)] // each test binary uses its own part

pub mod learning;
pub mod ledger;
pub mod logs;
pub mod metrics;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use tributary_store::Store;

/// The gateway serving `store` on 127.0.0.1, port chosen by the OS.
pub struct Gateway {
    /// The GraphQL endpoint.
    pub url: String,
    /// An admin key created in the store for this gateway's tests; [`Gateway::post`] sends it.
    pub admin_key: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    /// Starts serving with the default configuration but no rate limit (tests send requests
    /// back to back; `tests/auth.rs` tests the limit with [`Gateway::start_with`]).
    pub async fn start(store: Store) -> Result<Self> {
        let mut config = tributary_gateway::GatewayConfig::default();
        config.auth.rate_limit = None;
        Self::start_with(store, config, Vec::new()).await
    }

    /// Starts serving with `config` and these push sources, after creating an admin key in
    /// `store`.
    pub async fn start_with(
        store: Store,
        config: tributary_gateway::GatewayConfig,
        push: Vec<tributary_gateway::PushMount>,
    ) -> Result<Self> {
        let name = format!("test-admin-{}", uuid::Uuid::now_v7());
        let admin_key = store
            .create_api_key(
                &name,
                tributary_store::KeyScope::Graphql(tributary_store::Role::Admin),
            )
            .await?
            .secret
            .expose()
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/graphql", listener.local_addr()?);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(tributary_gateway::serve(
            listener,
            tributary_gateway::AppState {
                config,
                push,
                ..tributary_gateway::AppState::new(store)
            },
            async move {
                let _ = rx.await;
            },
        ));
        Ok(Self {
            url,
            admin_key,
            stop: Some(tx),
            task,
        })
    }

    /// A POST to the GraphQL endpoint carrying whatever credentials the gateway needs (the
    /// admin key); every test request goes through here, so tests of raw requests stay valid
    /// as auth changes.
    pub fn post(&self) -> reqwest::RequestBuilder {
        self.post_as(Some(&self.admin_key))
    }

    /// A POST to the GraphQL endpoint with `Authorization: Bearer <key>`, or no credentials.
    pub fn post_as(&self, key: Option<&str>) -> reqwest::RequestBuilder {
        let request = reqwest::Client::new().post(&self.url);
        match key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
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

/// Issue 13's fragment fan-out: `levels` fragments, each spreading the one below twice, so the
/// query expands to 2^levels fields while its text stays a few hundred bytes per level.
pub fn fragment_fan_out(levels: usize) -> String {
    let mut q = format!("query {{ ...F{levels} }}\nfragment F0 on Query {{ a: __typename }}\n");
    for i in 1..=levels {
        q.push_str(&format!(
            "fragment F{i} on Query {{ ...F{p} a: __typename ...F{p} }}\n",
            p = i - 1
        ));
    }
    q
}
