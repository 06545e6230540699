//! A connector wrapper that fails each stream after a number of checkpoints, as a crash would.

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use tributary_connector::{Connector, ConnectorError, ReadItem, StreamSpec, StreamState, SyncMode};

/// Cuts every stream of `inner` off after `after` checkpoints.
pub struct CutOff<'a> {
    inner: &'a dyn Connector,
    after: usize,
}

impl<'a> CutOff<'a> {
    /// `inner`, failing each stream with a transient error after `after` checkpoints.
    pub fn new(inner: &'a dyn Connector, after: usize) -> Self {
        Self { inner, after }
    }
}

#[async_trait]
impl Connector for CutOff<'_> {
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

    fn read<'b>(
        &'b self,
        stream: &'b StreamSpec,
        mode: SyncMode,
        state: Option<StreamState>,
    ) -> BoxStream<'b, Result<ReadItem, ConnectorError>> {
        let mut seen = 0;
        let after = self.after;
        self.inner
            .read(stream, mode, state)
            .scan(false, move |stopped, item| {
                if *stopped {
                    return futures::future::ready(None);
                }
                if matches!(item, Ok(ReadItem::Checkpoint(_) | ReadItem::Complete(_))) {
                    seen += 1;
                    if seen > after {
                        *stopped = true;
                        return futures::future::ready(Some(Err(ConnectorError::Transient {
                            url: "conformance-kit://cut-off".into(),
                            message: "the conformance kit cut the stream off".into(),
                        })));
                    }
                }
                futures::future::ready(Some(item))
            })
            .boxed()
    }
}
