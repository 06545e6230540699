//! Reading in keyset order over `(modified, id)`: one query sorted by a record's modification
//! stamp and then its id (Salesforce's `ORDER BY SystemModstamp, Id`; any API that filters on
//! `modified >= t` and sorts by modified time and id), paged by a server-side cursor that
//! expires. [`Keyset`] is the stream state such a read saves instead of the cursor: the last
//! `(modified, id)` read, from which a resumed read queries again (`modified >= stamp`) and
//! skips what it had read; and between runs, the high-water mark an incremental run reads
//! from, [`crate::pull::lookback`] behind it.
//!
//! The position is the last record *served*, not the greatest: a record changed while the
//! query pages is served in its old place with its new, later stamp, and resuming from that
//! stamp would skip the records between.

use super::{Page, PullState, Start, start};
use crate::{StreamState, SyncMode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The last record read: its modification stamp and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// When the record was last modified (Salesforce's `SystemModstamp`).
    pub modstamp: DateTime<Utc>,
    /// Its id, the tie-break among records modified at the same instant.
    pub id: String,
}

/// The state of a stream read in `(modified, id)` order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keyset {
    /// The high-water mark of the last completed incremental run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// The last record read by the read in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Position>,
    /// The read in progress is incremental (it also serves deleted rows, e.g. `queryAll`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incremental: bool,
}

impl PullState for Keyset {
    /// A mark, or an incremental read in progress: a full refresh cannot resume it.
    fn is_incremental(&self) -> bool {
        self.incremental || self.since.is_some()
    }
}

impl Keyset {
    /// The state as the engine stores it.
    pub fn to_state(&self) -> StreamState {
        StreamState::encode(self)
    }

    /// The state to read `stream` from in `mode`, given the saved one (the SDK's rules).
    pub fn starting(stream: &str, mode: SyncMode, state: Option<StreamState>) -> Self {
        let keyset = match start::<Keyset>(stream, mode, state) {
            Start::Resume(keyset) => keyset,
            Start::Fresh => Keyset::default(),
        };
        Keyset {
            incremental: mode == SyncMode::Incremental,
            ..keyset
        }
    }

    /// The stamp the query starts from (inclusive): the position of a resumed read, else the
    /// mark less `overlap_secs`, else none (everything).
    pub fn from(&self, overlap_secs: u64) -> Option<DateTime<Utc>> {
        match (&self.after, self.since) {
            (Some(after), _) => Some(after.modstamp),
            (None, Some(since)) => Some(super::lookback(since, overlap_secs)),
            (None, None) => None,
        }
    }

    /// Whether a record at `(modstamp, id)` was read before this position.
    pub fn already_read(&self, modstamp: DateTime<Utc>, id: &str) -> bool {
        self.after
            .as_ref()
            .is_some_and(|a| modstamp == a.modstamp && id <= a.id.as_str())
    }

    /// Takes in a batch served in `(modified, id)` order: drops the records read before this
    /// position (a resumed query starts again at its stamp) and moves the position to the
    /// last record served. Returns the rest and how many were dropped; a record without a
    /// `position` stays, for the mapper to reject.
    pub fn advance<R>(
        &mut self,
        records: Vec<R>,
        position: impl Fn(&R) -> Option<Position>,
    ) -> (Vec<R>, u64) {
        let served = records.len();
        let fresh: Vec<R> = records
            .into_iter()
            .filter(|raw| match position(raw) {
                Some(p) if self.already_read(p.modstamp, &p.id) => false,
                Some(p) => {
                    self.after = Some(p);
                    true
                }
                None => true,
            })
            .collect();
        let skipped = (served - fresh.len()) as u64;
        (fresh, skipped)
    }

    /// [`Keyset::advance`] over a page's records, as the page the driver reads; `more` when
    /// another page follows.
    pub fn page<R>(
        &mut self,
        records: Vec<R>,
        position: impl Fn(&R) -> Option<Position>,
        more: bool,
    ) -> Page<R> {
        let (records, skipped) = self.advance(records, position);
        Page {
            records,
            skipped,
            more,
            total: None,
        }
    }

    /// What follows a read that reached its end: the next incremental run's mark, the newest
    /// of the saved one and the last stamp read (after a full refresh, the last stamp served,
    /// so that the next incremental run does not read everything again).
    pub fn next(&self) -> Option<StreamState> {
        let last = self.after.as_ref().map(|a| a.modstamp);
        let since = match (self.since, last) {
            (Some(s), Some(a)) => Some(s.max(a)),
            (s, a) => s.or(a),
        };
        since.map(|since| {
            Keyset {
                since: Some(since),
                ..Keyset::default()
            }
            .to_state()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn at(id: &str, stamp: &str) -> Position {
        Position {
            modstamp: t(stamp),
            id: id.to_owned(),
        }
    }

    #[test]
    fn the_state_round_trips_and_follows_the_starting_rules() {
        let k = Keyset {
            since: Some(t("2024-01-01T00:00:00Z")),
            after: Some(at("003B", "2024-02-01T00:00:00Z")),
            incremental: true,
        };
        assert_eq!(StreamState::decode::<Keyset>(Some(k.to_state()), "s"), k);
        assert_eq!(
            k.to_state().0,
            json!({"since": "2024-01-01T00:00:00Z", "incremental": true,
                   "after": {"modstamp": "2024-02-01T00:00:00Z", "id": "003B"}})
        );
        assert_eq!(Keyset::default().to_state().0, json!({}));
        assert_eq!(k.from(300), Some(t("2024-02-01T00:00:00Z")));
        let between = Keyset {
            after: None,
            ..k.clone()
        };
        assert_eq!(between.from(300), Some(t("2023-12-31T23:55:00Z")));
        assert_eq!(Keyset::default().from(300), None);
        // An incremental state is not resumed as a full refresh, and vice versa.
        let full = Keyset::starting("s", SyncMode::FullRefresh, Some(k.to_state()));
        assert_eq!(full, Keyset::default());
        let cut = Keyset {
            since: None,
            incremental: false,
            ..k.clone()
        };
        let resumed = Keyset::starting("s", SyncMode::FullRefresh, Some(cut.to_state()));
        assert_eq!(resumed, cut);
        let inc = Keyset::starting("s", SyncMode::Incremental, Some(cut.to_state()));
        assert_eq!(
            inc,
            Keyset {
                incremental: true,
                ..Keyset::default()
            }
        );
    }

    #[test]
    fn a_resumed_page_drops_what_was_read_and_moves_to_the_last_record_served() {
        let mut k = Keyset {
            after: Some(at("b", "2024-02-01T00:00:00Z")),
            ..Keyset::default()
        };
        assert!(k.already_read(t("2024-02-01T00:00:00Z"), "a"));
        assert!(k.already_read(t("2024-02-01T00:00:00Z"), "b"));
        assert!(!k.already_read(t("2024-02-01T00:00:00Z"), "c"));
        assert!(!k.already_read(t("2024-02-01T00:00:01Z"), "a"));
        let records = vec![
            Some(at("a", "2024-02-01T00:00:00Z")),
            Some(at("b", "2024-02-01T00:00:00Z")),
            Some(at("c", "2024-02-01T00:00:00Z")),
            None,
            Some(at("e", "2024-03-01T00:00:00Z")),
            // Changed while the query paged: served in its old place with a later stamp.
            Some(at("d", "2024-04-01T00:00:00Z")),
        ];
        let page = k.page(records, Clone::clone, true);
        assert_eq!((page.records.len(), page.skipped, page.more), (4, 2, true));
        assert_eq!(page.records[1], None, "kept for the mapper to reject");
        assert_eq!(k.after, Some(at("d", "2024-04-01T00:00:00Z")));
        assert_eq!(
            k.next(),
            Some(StreamState(json!({"since": "2024-04-01T00:00:00Z"})))
        );
        // The mark never moves back; a read of nothing keeps it.
        let k = Keyset {
            since: Some(t("2024-05-01T00:00:00Z")),
            ..k
        };
        assert_eq!(
            k.next(),
            Some(StreamState(json!({"since": "2024-05-01T00:00:00Z"})))
        );
        assert_eq!(Keyset::default().next(), None);
    }
}
