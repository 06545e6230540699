//! The shared pull driver: the parts of reading a paged vendor API that every pull connector
//! used to write for itself, as small pieces a vendor crate composes.
//!
//! - [`StreamDecl`]: a stream table as a declaration (name, entity, cursor field, modes, delete
//!   strategy, plus whatever the vendor needs per stream) instead of a hand-written enum.
//! - [`start`]: the starting-cursor rules, with their log lines, over any typed state that
//!   says whether it belongs to an incremental read ([`PullState`]).
//! - [`read_pages`]: the page loop of one phase of a read. A vendor's [`PageSource`] fetches
//!   the next page and records in the typed state where the following one starts; a
//!   [`MapPage`] turns its raw records into [`Mapped`] items (records, rejects, deletes, or
//!   nothing); the driver yields them, a checkpoint of the state after every page but the
//!   phase's last, and the vendor's count against what was read ([`ReadItem::Count`]) when
//!   the phase ends. The vendor then emits the state that follows the phase, or [`finish`].
//! - [`Emitter`]: the record/delete/reject step for one raw record.
//! - Paging shapes: [`cursor_token`] and [`ensure_advanced`] (HubSpot `paging.next.after`),
//!   [`OffsetLimit`] (Moodle, Skilljar's `count`), [`link_next`] (`Link: <…>; rel="next"`,
//!   Canvas), [`next_url`] (Salesforce `nextRecordsUrl`, Skilljar `next`) and
//!   [`lookback`]/[`lookback_ms`] (time windows read with an overlap behind the saved mark),
//!   [`seek::SeekWindow`], a window of changes read by seeking on the modified time, and
//!   [`keyset::Keyset`], the state of one query read in `(modified, id)` order.
//!
//! Vendor knowledge (request bodies, search windows and caps, SOQL, bulk jobs) stays in the
//! vendor crate; nothing here sends a request. A phase's state is the vendor's own type, so
//! a vendor's state format does not change when it moves onto the driver.

use crate::{
    ConnectorError, DeleteStrategy, HeaderMap, ReadItem, Reject, SourceCount, StreamSpec,
    StreamState, SyncMode,
};
use async_stream::try_stream;
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use tributary_model::{Entity, EntityKind, ExternalRef, SourceRecord};

/// One stream of a connector kind, declared as data; `V` is what the vendor needs per stream
/// (an API path, the fields to request…).
#[derive(Debug, Clone, Copy)]
pub struct StreamDecl<V: 'static = ()> {
    /// The stream's name, unique within the kind.
    pub name: &'static str,
    /// The entity its records map to.
    pub entity: EntityKind,
    /// The vendor field that orders changes, for incremental reads.
    pub cursor_field: Option<&'static str>,
    /// The modes it supports; the first is the default.
    pub modes: &'static [SyncMode],
    /// How deletions at the source reach the store.
    pub delete_strategy: DeleteStrategy,
    /// The vendor's own per-stream facts.
    pub vendor: V,
}

/// Incremental first, so that scheduled runs (which use a stream's first mode) are.
pub const INCREMENTAL_FIRST: &[SyncMode] = &[SyncMode::Incremental, SyncMode::FullRefresh];

impl<V> StreamDecl<V> {
    /// The [`StreamSpec`] the engine sees.
    pub fn spec(&self) -> StreamSpec {
        StreamSpec {
            name: self.name.to_owned(),
            entity: self.entity,
            cursor_field: self.cursor_field.map(str::to_owned),
            modes: self.modes.to_vec(),
            delete_strategy: self.delete_strategy,
        }
    }

    /// The declaration called `name` in `table`.
    pub fn find<'t>(table: &'t [StreamDecl<V>], name: &str) -> Option<&'t StreamDecl<V>> {
        table.iter().find(|d| d.name == name)
    }

    /// `mode`, or the stream's default when it does not support `mode` (a table read whole
    /// each time has no incremental mode).
    pub fn mode(&self, mode: SyncMode) -> SyncMode {
        if self.modes.contains(&mode) {
            mode
        } else {
            self.modes.first().copied().unwrap_or(SyncMode::FullRefresh)
        }
    }
}

/// A connector's typed stream state, as far as the starting-cursor rules need to know it.
pub trait PullState: Serialize + DeserializeOwned + Default + PartialEq {
    /// Whether the state belongs to an incremental read: a high-water mark, or a read in
    /// progress that will set one. Any other non-default state is a cut-off full refresh.
    fn is_incremental(&self) -> bool;
}

/// Where a read starts, by [`start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start<S> {
    /// Go on from the saved state, which suits the requested mode.
    Resume(S),
    /// Start the requested mode from scratch (its state is `S::default()` plus whatever the
    /// vendor learns first, e.g. a high-water mark taken before a first full read).
    Fresh,
}

/// The shared starting-cursor rules. A full refresh resumes only a cut-off full refresh: one
/// that resumed an incremental run's state would let the sweep at its end delete the rows read
/// before it began, so it starts over. An incremental run resumes only incremental state; after
/// a cut-off full refresh it reads everything first (the refresh never reached a mark).
pub fn start<S: PullState>(stream: &str, mode: SyncMode, state: Option<StreamState>) -> Start<S> {
    let state: S = StreamState::decode(state, stream);
    match mode {
        SyncMode::FullRefresh if state == S::default() => Start::Fresh,
        SyncMode::FullRefresh if !state.is_incremental() => Start::Resume(state),
        SyncMode::FullRefresh => {
            tracing::info!(
                stream,
                "full refresh requested; starting over from incremental state"
            );
            Start::Fresh
        }
        SyncMode::Incremental if state.is_incremental() => Start::Resume(state),
        SyncMode::Incremental => {
            if state != S::default() {
                tracing::info!(
                    stream,
                    "incremental run after a cut-off full refresh; reading everything first"
                );
            }
            Start::Fresh
        }
    }
}

/// The item that ends a read that reached its end: a full refresh hands `next` (the next
/// incremental run's mark, when it has one) in [`ReadItem::Complete`] so the engine sweeps what
/// it did not see; an incremental run saves `next` as a checkpoint. Without a `next`, a null
/// checkpoint: start over next time.
pub fn finish(mode: SyncMode, next: Option<StreamState>) -> ReadItem {
    match (mode, next) {
        (SyncMode::FullRefresh, Some(state)) => ReadItem::Complete(state),
        (SyncMode::Incremental, Some(state)) => ReadItem::Checkpoint(state),
        (_, None) => ReadItem::Checkpoint(StreamState(Value::Null)),
    }
}

/// The vendor's count of a phase and how many of its records have been read. A state that
/// carries it across resumed runs makes a resumed run's count cover the whole phase.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// How many records the vendor said the phase holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// How many of them have been read (counted only once a total is known).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub read: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One page a [`PageSource`] fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<R> {
    /// The raw records to map, in the order served.
    pub records: Vec<R>,
    /// Records the page served but the source dropped as already read (a resumed query
    /// starting at the last position read); the vendor's count covers them.
    pub skipped: u64,
    /// Whether another page of the phase follows.
    pub more: bool,
    /// The vendor's count of the whole phase, when the page reports it.
    pub total: Option<u64>,
}

impl<R> Page<R> {
    /// A page of `records`, followed by another when `more`.
    pub fn new(records: Vec<R>, more: bool) -> Self {
        Self {
            records,
            skipped: 0,
            more,
            total: None,
        }
    }

    /// With the vendor's count of the phase.
    pub fn with_total(mut self, total: Option<u64>) -> Self {
        self.total = total;
        self
    }
}

/// A vendor's pages of one phase of a read (a listing, a query, a window of changes).
#[async_trait]
pub trait PageSource<S: Send>: Send {
    /// A raw record as the vendor sent it.
    type Raw: Send;

    /// Fetches the next page: the first from `state` (from scratch, or where a resumed read
    /// stands), then the one after the last. Records in `state` where the following page
    /// starts, so that the checkpoint after this page resumes there; a transient token the
    /// vendor does not want saved (an expiring next-URL) stays in the source.
    async fn next_page(&mut self, state: &mut S) -> Result<Page<Self::Raw>, ConnectorError>;
}

/// What a mapper made of one raw record.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    /// A mapped record to upsert.
    Record(Box<SourceRecord>),
    /// A record that failed mapping; the read goes on.
    Reject(Reject),
    /// The source deleted the row (or it no longer maps to an entity, in an incremental read).
    Delete(ExternalRef),
    /// Nothing to load (e.g. a lost deal in a full refresh, whose sweep deletes it); still
    /// yielded as [`ReadItem::Skip`] so the run counts it.
    Skip,
}

impl Mapped {
    /// The item to yield.
    pub fn into_item(self) -> ReadItem {
        match self {
            Mapped::Record(r) => ReadItem::Record(r),
            Mapped::Reject(r) => ReadItem::Reject(r),
            Mapped::Delete(r) => ReadItem::Delete(r),
            Mapped::Skip => ReadItem::Skip,
        }
    }
}

/// Maps one page of raw records; a page at a time because some vendors need a request per
/// page (HubSpot's association batch reads).
#[async_trait]
pub trait MapPage<R: Send>: Send + Sync {
    /// The items of `records`, in order.
    async fn map_page(&self, records: Vec<R>) -> Result<Vec<Mapped>, ConnectorError>;
}

/// A [`MapPage`] that maps each record on its own with a function.
pub struct PerRecord<F>(pub F);

#[async_trait]
impl<R, F> MapPage<R> for PerRecord<F>
where
    R: Send + 'static,
    F: Fn(R) -> Mapped + Send + Sync,
{
    async fn map_page(&self, records: Vec<R>) -> Result<Vec<Mapped>, ConnectorError> {
        Ok(records.into_iter().map(&self.0).collect())
    }
}

/// One phase of a read for [`read_pages`].
pub struct Phase<'a, S> {
    /// The vendor (the connector kind), for logs.
    pub vendor: &'static str,
    /// The stream, for logs.
    pub stream: &'a str,
    /// The phase, for the count and logs (`full read`, `search window`, `query`).
    pub name: &'static str,
    /// The typed state the source advances; after the phase it says where the phase ended.
    pub state: &'a mut S,
    /// Where `state` carries the phase's [`Tally`] across resumed runs; `None` counts this
    /// run's pages only (a resumed query that has a count of its own).
    pub tally: Option<fn(&mut S) -> &mut Tally>,
}

/// Reads one phase to its end: every page from `source`, mapped by `mapper`, with a checkpoint
/// of the state after each page that another follows, and at the end, when the vendor gave a
/// count, a [`ReadItem::Count`] of it against what was read (a shortfall is also a warning:
/// silent loss is the bug peers shipped, airbyte#23630). The phase's last state is left in
/// `phase.state` for the vendor to go on from; it emits no checkpoint for it.
pub fn read_pages<'a, S, Src, M>(
    phase: Phase<'a, S>,
    source: &'a mut Src,
    mapper: &'a M,
) -> BoxStream<'a, Result<ReadItem, ConnectorError>>
where
    S: Serialize + Send + 'a,
    Src: PageSource<S> + 'a,
    M: MapPage<Src::Raw> + 'a,
{
    let Phase {
        vendor,
        stream,
        name,
        state,
        tally,
    } = phase;
    Box::pin(try_stream! {
        let mut local = Tally::default();
        let mut pages = 0u64;
        let mut announced = false;
        loop {
            let page = source.next_page(state).await?;
            pages += 1;
            let count = match tally {
                Some(field) => field(state),
                None => &mut local,
            };
            if count.total.is_none() {
                count.total = page.total;
            }
            let expect = match (announced, count.total) {
                (false, Some(total)) => Some(total.saturating_sub(count.read)),
                _ => None,
            };
            if count.total.is_some() {
                count.read += page.records.len() as u64 + page.skipped;
            }
            if let Some(more) = expect {
                announced = true;
                yield ReadItem::Expect(more);
            }
            tracing::debug!(stream, phase = name, records = page.records.len(), "page read");
            for mapped in mapper.map_page(page.records).await? {
                yield mapped.into_item();
            }
            if !page.more {
                break;
            }
            yield ReadItem::Checkpoint(StreamState::encode(&*state));
        }
        let count = match tally {
            Some(field) => field(state).clone(),
            None => local,
        };
        if let Some(source) = count.total {
            reconcile(vendor, stream, name, source, count.read);
            yield ReadItem::Count(SourceCount { phase: name.to_owned(), source, read: count.read });
        }
        tracing::debug!(stream, phase = name, pages, "phase read");
    })
}

/// Logs the vendor's count of a phase against what was read: a shortfall is a warning.
pub fn reconcile(vendor: &str, stream: &str, phase: &str, source: u64, read: u64) {
    if read < source {
        tracing::warn!(
            stream,
            phase,
            source,
            read,
            missing = source - read,
            "{vendor} reported more records than were read"
        );
    } else {
        tracing::debug!(stream, phase, source, read, "{vendor} counts reconcile");
    }
}

/// The record/delete/reject step of one stream's read.
#[derive(Debug, Clone, Copy)]
pub struct Emitter<'a> {
    /// The `system` of every reference (the connector kind).
    pub system: &'static str,
    /// The connector instance.
    pub instance: &'a str,
    /// The stream, which is the reference's object.
    pub stream: &'a str,
    /// Whether the read is incremental: a record that no longer maps to an entity (a deal
    /// that is not won) is then a delete, since no sweep follows an incremental read.
    pub incremental: bool,
}

impl Emitter<'_> {
    /// The reference of the stream's record `id`.
    pub fn external_ref(&self, id: impl Into<String>) -> ExternalRef {
        ExternalRef::new(self.system, self.instance, self.stream, id)
    }

    /// The source deleted record `id`.
    pub fn delete(&self, id: impl Into<String>) -> Mapped {
        Mapped::Delete(self.external_ref(id))
    }

    /// A reject of `raw` for `reason`.
    pub fn reject(&self, id: Option<String>, reason: impl Into<String>, raw: Value) -> Mapped {
        Mapped::Reject(Reject {
            external_id: id,
            reason: reason.into(),
            raw,
        })
    }

    /// What the vendor's mapping made of record `id`: a record, a reject with the error as
    /// its reason, or for no entity, nothing (a full refresh's sweep deletes it) or a delete
    /// (incremental).
    pub fn mapped<E: std::fmt::Display>(
        &self,
        id: String,
        raw: Value,
        source_updated_at: Option<DateTime<Utc>>,
        entity: Result<Option<Entity>, E>,
    ) -> Mapped {
        match entity {
            Ok(Some(entity)) => Mapped::Record(Box::new(SourceRecord {
                external_ref: self.external_ref(id),
                source_updated_at,
                raw,
                entity,
            })),
            Ok(None) if self.incremental => self.delete(id),
            Ok(None) => Mapped::Skip,
            Err(e) => self.reject(Some(id), e.to_string(), raw),
        }
    }
}

/// A cursor token at `pointer` in a page body (HubSpot `/paging/next/after`): `None` at the
/// end, a string or a number otherwise; anything else is an error message.
pub fn cursor_token(body: &Value, pointer: &str) -> Result<Option<String>, String> {
    match body.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!("`{pointer}` is not a cursor: {other}")),
    }
}

/// Refuses a next token equal to the one just used: following it would loop forever.
pub fn ensure_advanced(
    url: &str,
    previous: Option<&str>,
    next: Option<&str>,
) -> Result<(), ConnectorError> {
    match next {
        Some(next) if Some(next) == previous => Err(ConnectorError::Decode {
            url: url.to_owned(),
            message: format!("paging cursor `{next}` did not advance"),
        }),
        _ => Ok(()),
    }
}

/// Offset/limit paging (Moodle's `limitfrom`/`limitnum`, Skilljar's `count` with pages): where
/// the next page starts, stored in the state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetLimit {
    /// Records before this page.
    pub offset: u64,
    /// Records per page.
    pub limit: u64,
}

impl OffsetLimit {
    /// The page after one that served `served` records: none after a short page, or when the
    /// vendor's `total` has been reached.
    pub fn next(self, served: usize, total: Option<u64>) -> Option<Self> {
        let offset = self.offset + served as u64;
        let short = (served as u64) < self.limit || served == 0;
        let reached = total.is_some_and(|t| offset >= t);
        (!short && !reached).then_some(Self { offset, ..self })
    }
}

/// The `rel="next"` target of a response's `Link` headers (RFC 8288; Canvas, GitHub).
pub fn link_next(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let is_next = params.split(';').any(|p| {
                let Some((key, value)) = p.trim().split_once('=') else {
                    return false;
                };
                key.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            });
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| target.to_owned())
        })
}

/// A next-page URL as vendors give it (Salesforce `nextRecordsUrl` is a path on the instance,
/// Skilljar's `next` is absolute), made absolute against `base`.
pub fn next_url(base: &str, next: &str) -> String {
    if next.starts_with("http://") || next.starts_with("https://") {
        next.to_owned()
    } else {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            next.trim_start_matches('/')
        )
    }
}

/// Where an incremental read by modified time starts: `overlap_secs` before the saved mark,
/// so that a change that became visible after the last run read past its time is still read.
/// Re-read records are identical upserts.
pub fn lookback(mark: DateTime<Utc>, overlap_secs: u64) -> DateTime<Utc> {
    let overlap = i64::try_from(overlap_secs)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .unwrap_or(TimeDelta::MAX);
    mark.checked_sub_signed(overlap).unwrap_or(mark)
}

/// [`lookback`] for a mark in epoch milliseconds (never before 0).
pub fn lookback_ms(mark_ms: i64, overlap_secs: u64) -> i64 {
    let overlap = i64::try_from(overlap_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    mark_ms.saturating_sub(overlap).max(0)
}

pub mod keyset;
mod lookup;
pub mod seek;

#[cfg(test)]
mod tests;
