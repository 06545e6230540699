//! [`MockServer`]: an axum router served on a loopback socket for the lifetime of a value.
//!
//! It serves any router; a vendor mock hands it routes already wrapped in its fault layer
//! ([`FaultInjector::wrap`](crate::FaultInjector::wrap), e.g. through
//! [`VendorMock::router`](crate::VendorMock::router)), so the knobs travel with the router.

use std::{io, net::SocketAddr};
use tokio::{sync::oneshot, task::JoinHandle};

/// A running mock: serves its router until [`MockServer::shutdown`] or until it is dropped.
///
/// Dropping it signals a graceful shutdown without waiting for it; call
/// [`MockServer::shutdown`] to wait until every connection is closed.
#[derive(Debug)]
pub struct MockServer {
    /// `http://127.0.0.1:<port>`, without a trailing slash: what a connector's `endpoint` is
    /// set to.
    pub base_url: String,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl MockServer {
    /// Serves `router` on `127.0.0.1` on a free port.
    pub async fn start(router: axum::Router) -> io::Result<MockServer> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), router).await
    }

    /// Serves `router` on `addr` (port 0 picks a free port).
    pub async fn start_on(addr: SocketAddr, router: axum::Router) -> io::Result<MockServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    // Either an explicit stop or the sender being dropped ends the server.
                    let _ = stopped.await;
                })
                .await
        });
        tracing::debug!(%addr, "mock server listening");
        Ok(MockServer {
            base_url: format!("http://{addr}"),
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits until the open ones are closed; an error is how
    /// the server failed while it ran.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    #[tokio::test]
    async fn serves_until_shut_down() {
        let router = axum::Router::new().route("/ping", get(|| async { "pong" }));
        let server = MockServer::start(router).await.unwrap();
        assert!(server.base_url.starts_with("http://127.0.0.1:"));
        let url = format!("{}/ping", server.base_url);
        let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
        assert_eq!(body, "pong");
        server.shutdown().await.unwrap();
        let fresh = reqwest::Client::new();
        assert!(fresh.get(&url).send().await.is_err());
    }
}
