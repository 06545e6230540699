//! Helpers for tests that read a connector's items directly, without the engine.

use futures::StreamExt;
use serde_json::Value;
use tributary_connector::{Connector, ConnectorError, ReadItem, StreamState, SyncMode};

/// Every item of one read of `stream` (which `connector` must declare), or its first error.
pub async fn read_stream(
    connector: &dyn Connector,
    stream: &str,
    mode: SyncMode,
    state: Option<StreamState>,
) -> Result<Vec<ReadItem>, ConnectorError> {
    let spec = connector
        .streams()
        .into_iter()
        .find(|s| s.name == stream)
        .ok_or_else(|| ConnectorError::Config {
            instance: connector.instance().to_owned(),
            message: format!("no stream `{stream}`"),
        })?;
    let mut items = Vec::new();
    let mut s = connector.read(&spec, mode, state);
    while let Some(item) = s.next().await {
        items.push(item?);
    }
    Ok(items)
}

/// The external ids of the records among `items`, in order.
pub fn record_ids(items: &[ReadItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match i {
            ReadItem::Record(r) => Some(r.external_ref.external_id.clone()),
            _ => None,
        })
        .collect()
}

/// The states of the checkpoints among `items`, the final `Complete` included.
pub fn checkpoints(items: &[ReadItem]) -> Vec<&Value> {
    items
        .iter()
        .filter_map(|i| match i {
            ReadItem::Checkpoint(s) | ReadItem::Complete(s) => Some(&s.0),
            _ => None,
        })
        .collect()
}

/// The state of the `Complete` that ends `items`, when the read ended with one.
pub fn completion(items: &[ReadItem]) -> Option<&Value> {
    match items.last() {
        Some(ReadItem::Complete(s)) => Some(&s.0),
        _ => None,
    }
}

/// The position in `items` of their `n`-th checkpoint (from 0) and its state: where a read
/// cut off there would resume from.
pub fn nth_checkpoint(items: &[ReadItem], n: usize) -> Option<(usize, &StreamState)> {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match item {
            ReadItem::Checkpoint(s) => Some((i, s)),
            _ => None,
        })
        .nth(n)
}
