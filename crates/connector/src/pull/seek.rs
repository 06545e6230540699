//! Reading a window of changes by *seeking* on the modified time, for vendors whose search
//! filters and sorts by it (HubSpot CRM search; any `modified >= t ORDER BY modified` API):
//! [`SeekWindow`] is the pure state machine, the vendor builds each request from it.
//!
//! Every page is a fresh query anchored at the last modified time read, never an offset: an
//! offset into a result set sorted by modified time skips a record whenever one already read is
//! edited again and jumps to the end, and searches cap how deep an offset may go (HubSpot's
//! 10,000). Re-anchoring cannot skip: an edited record only moves later, where this run (or the
//! next) reads it again. The price is that records sharing the anchor's exact millisecond come
//! back on the next query; they are skipped by id ([`SeekWindow::seen`]). When more records
//! share one millisecond than a page holds, seeking by time cannot move past them, so that
//! millisecond is read on its own, sorted and seeking by id ([`SeekWindow::by_id`]), before the
//! window continues strictly after it. Nothing here relies on any order among ties of a sort.
//! The window starts [`crate::pull::lookback_ms`] behind the saved mark.

use serde::{Deserialize, Serialize};

/// Progress through one window of changes: every record modified before [`SeekWindow::from`] has
/// been read. Stored in the stream state after every page, so a cut-off run resumes exactly
/// here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeekWindow {
    /// Epoch milliseconds: the anchor the next query starts from.
    pub from: i64,
    /// Every record modified at exactly `from` has been read too: the next query is `GT from`
    /// instead of `GTE from`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub past: bool,
    /// Ids modified at exactly `from` that have been read, skipped when a query anchored at
    /// `from` returns them again. At most about one page of ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<String>,
    /// Set while reading a crowded millisecond (more records at exactly `from` than a page
    /// holds) in id order: the last id read (`"0"` before the first page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_id: Option<String>,
}

/// What the window did with one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// For each record of the page, whether to emit it (false: already read at the anchor).
    pub emit: Vec<bool>,
    /// `Some(high)` when the window has been read to its end; `high` is the newest modified
    /// time read (epoch milliseconds), or the window's start when it held nothing newer.
    pub done: Option<i64>,
}

/// A page the window cannot make progress with; the stream stops with a decode error rather
/// than loop or skip.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeekError {
    /// A full page carried no parsable modified time, so there is nothing to re-anchor on.
    #[error("a full search page has no record with a readable `{0}`")]
    NoTimestamps(String),
    /// The search returned records modified before the anchor it was asked for.
    #[error("search returned a record modified at {got}, before the requested {from}")]
    BeforeAnchor {
        /// The anchor asked for.
        from: i64,
        /// The newest time on the page.
        got: i64,
    },
    /// Paging by id inside a crowded millisecond did not move forward.
    #[error("paging by id did not advance past `{0}`")]
    IdStuck(String),
}

impl SeekWindow {
    /// A window of every change at or after `from` (epoch milliseconds).
    pub fn starting_at(from: i64) -> Self {
        Self {
            from,
            past: false,
            seen: Vec::new(),
            by_id: None,
        }
    }

    /// Takes in one page (each record's id and modified time, in the order served) and
    /// whether the search said there is more; `modified_field` names the time for errors.
    pub fn advance(
        &mut self,
        page: &[(String, Option<i64>)],
        has_next: bool,
        modified_field: &str,
    ) -> Result<Step, SeekError> {
        if let Some(after_id) = self.by_id.clone() {
            let emit = page.iter().map(|(id, _)| !self.seen.contains(id)).collect();
            match page.last() {
                Some((last, _)) if has_next => {
                    if id_order(last, &after_id) != std::cmp::Ordering::Greater {
                        return Err(SeekError::IdStuck(after_id));
                    }
                    self.seen
                        .retain(|id| id_order(id, last) == std::cmp::Ordering::Greater);
                    self.by_id = Some(last.clone());
                }
                _ => {
                    // The crowded millisecond is read: go on strictly after it.
                    self.by_id = None;
                    self.past = true;
                    self.seen.clear();
                }
            }
            return Ok(Step { emit, done: None });
        }
        let emit: Vec<bool> = page
            .iter()
            .map(|(id, m)| self.past || *m != Some(self.from) || !self.seen.contains(id))
            .collect();
        let newest = page.iter().filter_map(|(_, m)| *m).max();
        if !has_next {
            return Ok(Step {
                emit,
                done: Some(newest.map_or(self.from, |n| n.max(self.from))),
            });
        }
        let Some(newest) = newest else {
            return Err(SeekError::NoTimestamps(modified_field.to_owned()));
        };
        if newest < self.from || (self.past && newest == self.from) {
            return Err(SeekError::BeforeAnchor {
                from: self.from,
                got: newest,
            });
        }
        if newest > self.from {
            self.from = newest;
            self.past = false;
            self.seen = page
                .iter()
                .filter(|(_, m)| *m == Some(newest))
                .map(|(id, _)| id.clone())
                .collect();
        } else {
            // A full page all at the anchor: more records share this millisecond than a page
            // holds. Read it by id, skipping those already read.
            for (id, _) in page {
                if !self.seen.contains(id) {
                    self.seen.push(id.clone());
                }
            }
            self.by_id = Some("0".to_owned());
        }
        Ok(Step { emit, done: None })
    }
}

/// Orders ids numerically when both are numbers (HubSpot's always are), else as text.
fn id_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type Window = SeekWindow;
    type WindowError = SeekError;
    const M: &str = "hs_lastmodifieddate";

    fn page(records: &[(&str, i64)]) -> Vec<(String, Option<i64>)> {
        records
            .iter()
            .map(|(id, t)| ((*id).to_owned(), Some(*t)))
            .collect()
    }

    #[test]
    fn a_window_reanchors_on_the_newest_time_and_skips_what_it_read_there() {
        let mut w = Window::starting_at(100);
        let step = w
            .advance(&page(&[("1", 100), ("2", 150), ("3", 150)]), true, M)
            .unwrap();
        assert_eq!(step.emit, [true, true, true]);
        assert_eq!(step.done, None);
        assert_eq!(
            w,
            Window {
                from: 150,
                past: false,
                seen: vec!["2".into(), "3".into()],
                by_id: None
            }
        );
        // The next query, GTE 150, serves 2 and 3 again (in any order) before the new ones.
        let step = w
            .advance(&page(&[("3", 150), ("4", 150), ("2", 150)]), true, M)
            .unwrap();
        assert_eq!(step.emit, [false, true, false]);
        assert_eq!(
            w.by_id.as_deref(),
            Some("0"),
            "a full page at one millisecond"
        );
        assert_eq!(w.seen, ["2", "3", "4"]);
        // Inside the crowded millisecond, by id.
        let step = w
            .advance(&page(&[("2", 150), ("5", 150), ("6", 150)]), true, M)
            .unwrap();
        assert_eq!(step.emit, [false, true, true]);
        assert_eq!(w.by_id.as_deref(), Some("6"));
        assert_eq!(
            w.seen,
            Vec::<String>::new(),
            "ids up to 6 are behind the cursor"
        );
        let step = w.advance(&page(&[("9", 150)]), false, M).unwrap();
        assert_eq!((step.emit, step.done), (vec![true], None));
        assert_eq!(
            w,
            Window {
                from: 150,
                past: true,
                seen: vec![],
                by_id: None
            }
        );
        // Then strictly after it, to the end.
        let step = w
            .advance(&page(&[("7", 151), ("8", 190)]), false, M)
            .unwrap();
        assert_eq!((step.emit, step.done), (vec![true, true], Some(190)));
    }

    #[test]
    fn an_empty_window_ends_at_its_start_and_bad_pages_stop_it() {
        let mut w = Window::starting_at(500);
        assert_eq!(w.advance(&[], false, M).unwrap().done, Some(500));
        let mut w = Window::starting_at(500);
        assert_eq!(
            w.advance(&[("1".into(), None)], true, M),
            Err(WindowError::NoTimestamps(M.to_owned()))
        );
        assert_eq!(
            w.advance(&page(&[("1", 400)]), true, M),
            Err(WindowError::BeforeAnchor {
                from: 500,
                got: 400
            })
        );
        w.past = true;
        assert!(w.advance(&page(&[("1", 500)]), true, M).is_err());
        let mut w = Window {
            by_id: Some("9".into()),
            ..Window::starting_at(500)
        };
        assert_eq!(
            w.advance(&page(&[("3", 500)]), true, M),
            Err(WindowError::IdStuck("9".into()))
        );
    }

    #[test]
    fn window_state_round_trips_compactly() {
        let w = Window::starting_at(7);
        assert_eq!(serde_json::to_value(&w).unwrap(), json!({"from": 7}));
        let w = Window {
            from: 7,
            past: true,
            seen: vec!["1".into()],
            by_id: Some("0".into()),
        };
        let v = serde_json::to_value(&w).unwrap();
        assert_eq!(
            v,
            json!({"from": 7, "past": true, "seen": ["1"], "by_id": "0"})
        );
        assert_eq!(serde_json::from_value::<Window>(v).unwrap(), w);
    }
}
