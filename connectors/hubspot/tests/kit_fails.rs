//! The conformance kit fails when it should: against a mock that ignores its fault knobs, a
//! connector that drops its last page, and a connector that ignores its checkpoint. Each test
//! runs one check on SQLite and asserts the kit's error names that check.

#![allow(clippy::unwrap_used)]

mod vendor;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use std::sync::Arc;
use tributary_connector::{
    Connector, ConnectorError, DynKind, ReadItem, StreamSpec, StreamState, SyncMode,
};
use tributary_mock_kit::{Faults, VendorMock};
use tributary_sim::Company;
use tributary_testkit::{Backend, Check, Expected, Kit, KitError, Knob, VendorUnderTest};
use vendor::HubSpot;

/// What a connector wrapper does to its inner connector's reads.
#[derive(Clone, Copy)]
enum Breakage {
    /// Withholds the records after the last-but-one checkpoint of each stream, still ending
    /// normally.
    DropLastPage,
    /// Reads every stream from the start, whatever state it is handed.
    IgnoreCheckpoint,
}

struct Broken {
    inner: Box<dyn Connector>,
    breakage: Breakage,
}

#[async_trait]
impl Connector for Broken {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn instance(&self) -> &str {
        self.inner.instance()
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.inner.check().await
    }

    fn streams(&self) -> Vec<StreamSpec> {
        self.inner.streams()
    }

    fn read<'a>(
        &'a self,
        stream: &'a StreamSpec,
        mode: SyncMode,
        state: Option<StreamState>,
    ) -> BoxStream<'a, Result<ReadItem, ConnectorError>> {
        match self.breakage {
            Breakage::IgnoreCheckpoint => self.inner.read(stream, mode, None),
            Breakage::DropLastPage => {
                let inner = self.inner.read(stream, mode, state);
                futures::stream::once(async move {
                    let items: Vec<Result<ReadItem, ConnectorError>> = inner.collect().await;
                    let checkpoints: Vec<usize> = items
                        .iter()
                        .enumerate()
                        .filter(|(_, i)| {
                            matches!(i, Ok(ReadItem::Checkpoint(_) | ReadItem::Complete(_)))
                        })
                        .map(|(n, _)| n)
                        .collect();
                    let cut = match checkpoints.len() {
                        n if n >= 2 => checkpoints[n - 2],
                        _ => usize::MAX,
                    };
                    let kept: Vec<_> = items
                        .into_iter()
                        .enumerate()
                        .filter(|(n, i)| *n <= cut || !matches!(i, Ok(ReadItem::Record(_))))
                        .map(|(_, i)| i)
                        .collect();
                    futures::stream::iter(kept)
                })
                .flatten()
                .boxed()
            }
        }
    }
}

/// HubSpot with one thing wrong.
struct Faulty {
    name: &'static str,
    knobs_off: bool,
    breakage: Option<Breakage>,
}

impl VendorUnderTest for Faulty {
    fn name(&self) -> &'static str {
        self.name
    }

    fn mock(&self, company: Arc<Company>, faults: Faults) -> Box<dyn VendorMock> {
        // A mock that ignores the knobs it is given.
        HubSpot.mock(
            company,
            if self.knobs_off {
                Faults::none()
            } else {
                faults
            },
        )
    }

    fn kind(&self) -> &'static dyn DynKind {
        HubSpot.kind()
    }

    fn settings(&self, base_url: &str) -> serde_json::Value {
        HubSpot.settings(base_url)
    }

    fn connector(&self, base_url: &str) -> Result<Box<dyn Connector>, ConnectorError> {
        let inner = HubSpot.connector(base_url)?;
        Ok(match self.breakage {
            Some(breakage) => Box::new(Broken { inner, breakage }),
            None => inner,
        })
    }

    fn oauth_connector(
        &self,
        base_url: &str,
    ) -> Option<Result<Box<dyn Connector>, ConnectorError>> {
        HubSpot.oauth_connector(base_url)
    }

    fn expected(&self, company: &Arc<Company>) -> Expected {
        HubSpot.expected(company)
    }

    fn read_not_landed(&self, company: &Arc<Company>) -> Expected {
        HubSpot.read_not_landed(company)
    }
}

async fn fails(vendor: Faulty, check: Check) -> KitError {
    let err = Kit::default()
        .check(&vendor, check, Backend::Sqlite)
        .await
        .expect_err("the kit must fail");
    assert_eq!(err.check(), check.name(), "{err}");
    assert!(matches!(err, KitError::Check { .. }), "{err}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_that_ignores_its_fault_knobs_fails_the_fault_checks() {
    let vendor = || Faulty {
        name: "hubspot (knobs off)",
        knobs_off: true,
        breakage: None,
    };
    let err = fails(vendor(), Check::Fault(Knob::Truncate)).await;
    assert!(
        err.to_string().contains(
            "fault knob `truncate` was not injected: the mock's `truncated` counter is 0"
        ),
        "{err}"
    );
    let err = fails(vendor(), Check::TokenExpiry).await;
    assert!(
        err.to_string().contains("`expired_tokens` counter is 0"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_that_drops_its_last_page_fails_the_truth_comparison() {
    let vendor = Faulty {
        name: "hubspot (drops its last page)",
        knobs_off: false,
        breakage: Some(Breakage::DropLastPage),
    };
    // The last page of `companies`, `contacts` and `deals` is their `archived=true` listing
    // (deletes, not records); `deal_contacts` ends with live records.
    let err = fails(vendor, Check::FullRead).await;
    let text = err.to_string();
    assert!(
        text.contains("the store does not hold the source's records")
            && text.contains("stream `deal_contacts`")
            && text.contains("missing"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_that_ignores_its_checkpoint_fails_resume() {
    let vendor = Faulty {
        name: "hubspot (ignores its checkpoint)",
        knobs_off: false,
        breakage: Some(Breakage::IgnoreCheckpoint),
    };
    let err = fails(vendor, Check::Resume).await;
    assert!(
        err.to_string()
            .contains("it did not start from the checkpoint"),
        "{err}"
    );
}
