//! The `oauth2` crate's HTTP seam, implemented over our reqwest 0.13 client (deps.md §5.2:
//! oauth2 5 would otherwise pull reqwest 0.12). The orphan rule forbids implementing
//! [`oauth2::AsyncHttpClient`] on `reqwest::Client` itself, hence the newtype.

use crate::http::{retry_after, without_url};
use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse, http};
use std::{
    future::Future,
    pin::Pin,
    sync::atomic::{AtomicU16, Ordering},
    time::Duration,
};

/// Why a token request did not produce a response for `oauth2` to interpret.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// The request could not be sent or its response not read. The message never holds the URL
    /// (reqwest prints queries) nor the form body.
    #[error("{0}")]
    Send(String),
    /// The token endpoint answered with a status worth retrying (5xx, 429, 408); the body is not
    /// handed to `oauth2`, which would read it as a refusal.
    #[error("token endpoint answered HTTP {status}")]
    Retryable {
        /// The status.
        status: u16,
        /// The endpoint's `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
}

/// Our reqwest client as `oauth2` sees it. Build one per token request: it remembers the status
/// of the last response, which `oauth2`'s error type drops.
pub(crate) struct OAuthHttp {
    client: reqwest::Client,
    last_status: AtomicU16,
}

impl OAuthHttp {
    /// Wraps `client`, which must not follow redirects (SSRF, per the `oauth2` docs).
    pub(crate) fn new(client: reqwest::Client) -> Self {
        Self {
            client,
            last_status: AtomicU16::new(0),
        }
    }

    /// The status of the last response, if one arrived.
    pub(crate) fn last_status(&self) -> Option<u16> {
        match self.last_status.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
    }

    /// Sends a prepared request and reads the whole response.
    pub(crate) async fn execute(
        &self,
        request: reqwest::Request,
    ) -> Result<HttpResponse, TransportError> {
        let resp = self
            .client
            .execute(request)
            .await
            .map_err(|e| TransportError::Send(without_url(&e)))?;
        let status = resp.status();
        self.last_status.store(status.as_u16(), Ordering::Relaxed);
        if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
            return Err(TransportError::Retryable {
                status: status.as_u16(),
                retry_after: retry_after(resp.headers()),
            });
        }
        let mut builder = http::Response::builder()
            .status(status)
            .version(resp.version());
        for (name, value) in resp.headers() {
            builder = builder.header(name, value);
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| TransportError::Send(format!("reading body: {}", without_url(&e))))?;
        builder
            .body(body.to_vec())
            .map_err(|e| TransportError::Send(format!("rebuilding response: {e}")))
    }
}

impl<'c> AsyncHttpClient<'c> for OAuthHttp {
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(|e| {
                TransportError::Send(format!("invalid token request: {}", without_url(&e)))
            })?;
            self.execute(request).await
        })
    }
}
