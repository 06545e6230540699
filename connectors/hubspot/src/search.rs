//! Incremental reads through HubSpot's CRM search endpoint
//! (`POST /crm/v3/objects/{objectType}/search`, <https://developers.hubspot.com/docs/api/crm/search>):
//! the request bodies, the response shape, and [`Window`], the pure state machine that walks one
//! time window of changes without gaps, without duplicates and without ever meeting the search
//! cap. No I/O here; `lib.rs` sends what this module builds.
//!
//! Why a window is read by *seeking* (every page is a fresh query anchored at the last modified
//! time read) rather than by paging with `after`:
//! - one query serves at most 10,000 results, and asking for `after` at or past that is HTTP
//!   400 (airbyte#26365; NangoHQ integration-templates#647: more than 10,000 changed deals in a
//!   window were never synced). A query that always starts at offset 0 never reaches the cap,
//!   however many records changed;
//! - `after` is an offset into a result set sorted by the modified date, and that set changes
//!   while it is read: a record already read that is edited again jumps to the end, every
//!   record behind it moves up one place, and the next offset skips one record that was never
//!   read. Re-anchoring on the modified date cannot skip: an edited record only moves later,
//!   where this run (or the next one) reads it again.
//!
//! The price is that records sharing the anchor's exact millisecond come back on the next
//! query; they are skipped by id ([`Window::seen`]). When more records share one millisecond
//! than a page holds, seeking by time cannot move past them, so that millisecond is read on
//! its own, sorted by `hs_object_id` and seeking by id ([`Window::by_id`]), before the window
//! continues strictly after it. HubSpot does not promise any order among ties of a sort, so
//! nothing here relies on one.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tributary_connector::map::id_text;

/// The largest `limit` the search endpoint accepts.
pub const MAX_SEARCH_PAGE_SIZE: u32 = 200;

/// Progress through one window of changes: every record modified before [`Window::from`] has
/// been read. Stored in the stream state after every page, so a cut-off run resumes exactly
/// here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Window {
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
    /// holds) in `hs_object_id` order: the last id read (`"0"` before the first page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_id: Option<String>,
}

/// What the window did with one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    /// For each record of the page, whether to emit it (false: already read at the anchor).
    pub emit: Vec<bool>,
    /// `Some(high)` when the window has been read to its end; `high` is the newest modified
    /// time read (epoch milliseconds), or the window's start when it held nothing newer.
    pub done: Option<i64>,
}

/// A page the window cannot make progress with; the stream stops with a decode error rather
/// than loop or skip.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WindowError {
    /// A full page carried no parsable modified time, so there is nothing to re-anchor on.
    #[error("a full search page has no record with a readable `{0}`")]
    NoTimestamps(&'static str),
    /// The search returned records modified before the anchor it was asked for.
    #[error("search returned a record modified at {got}, before the requested {from}")]
    BeforeAnchor {
        /// The anchor asked for.
        from: i64,
        /// The newest time on the page.
        got: i64,
    },
    /// Paging by id inside a crowded millisecond did not move forward.
    #[error("paging by `hs_object_id` did not advance past `{0}`")]
    IdStuck(String),
}

impl Window {
    /// A window of every change at or after `from` (epoch milliseconds).
    pub fn starting_at(from: i64) -> Self {
        Self {
            from,
            past: false,
            seen: Vec::new(),
            by_id: None,
        }
    }

    /// The search request for the next page: `modified_property` is the object's
    /// last-modified property, `properties` what to return.
    pub fn request(&self, modified_property: &str, properties: &[&str], limit: u32) -> Value {
        let from = self.from.to_string();
        let (filters, sort) = match &self.by_id {
            Some(after_id) => (
                json!([
                    {"propertyName": modified_property, "operator": "EQ", "value": from},
                    {"propertyName": "hs_object_id", "operator": "GT", "value": after_id},
                ]),
                "hs_object_id",
            ),
            None => (
                json!([{
                    "propertyName": modified_property,
                    "operator": if self.past { "GT" } else { "GTE" },
                    "value": from,
                }]),
                modified_property,
            ),
        };
        json!({
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": properties,
            "limit": limit,
        })
    }

    /// Takes in one page (each record's id and modified time, in the order served) and
    /// whether the search said there is more.
    pub fn advance(
        &mut self,
        page: &[(String, Option<i64>)],
        has_next: bool,
        modified_property: &'static str,
    ) -> Result<Step, WindowError> {
        if let Some(after_id) = self.by_id.clone() {
            let emit = page.iter().map(|(id, _)| !self.seen.contains(id)).collect();
            match page.last() {
                Some((last, _)) if has_next => {
                    if id_order(last, &after_id) != std::cmp::Ordering::Greater {
                        return Err(WindowError::IdStuck(after_id));
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
            return Err(WindowError::NoTimestamps(modified_property));
        };
        if newest < self.from || (self.past && newest == self.from) {
            return Err(WindowError::BeforeAnchor {
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

/// Orders HubSpot ids numerically when both are numbers (they always are), else as text.
fn id_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// The request for the newest modified time of an object type (and, in `total`, how many live
/// records it has): one record, sorted descending.
pub(crate) fn newest_request(modified_property: &str) -> Value {
    json!({
        "sorts": [{"propertyName": modified_property, "direction": "DESCENDING"}],
        "properties": [modified_property],
        "limit": 1,
    })
}

/// One page of a search response.
#[derive(Debug)]
pub(crate) struct SearchPage {
    /// How many records the query matches in all (not capped).
    pub total: Option<u64>,
    /// The records, in the order served.
    pub results: Vec<Value>,
    /// Whether `paging.next` said there is more.
    pub has_next: bool,
}

/// Decodes a search response; the message says what is missing.
pub(crate) fn parse_search_page(mut body: Value) -> Result<SearchPage, String> {
    let has_next = !matches!(body.pointer("/paging/next/after"), None | Some(Value::Null));
    let total = body.get("total").and_then(Value::as_u64);
    match body.get_mut("results").map(Value::take) {
        Some(Value::Array(results)) => Ok(SearchPage {
            total,
            results,
            has_next,
        }),
        _ => Err("search response has no `results` array".to_owned()),
    }
}

/// The associations batch-read body for `ids`.
pub(crate) fn associations_request(ids: &[String]) -> Value {
    json!({"inputs": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()})
}

/// Puts the companies of an associations v4 batch-read response into each record, in the
/// shape the list endpoint uses (`associations.companies.results[{id,type}]`, the primary
/// labelled `<singular>_to_company`), so that one mapping serves both endpoints. Records the
/// response does not mention have no company.
pub(crate) fn attach_companies(records: &mut [Value], response: &Value, singular: &str) {
    let Some(results) = response.get("results").and_then(Value::as_array) else {
        return;
    };
    for result in results {
        let Some(from) = result.pointer("/from/id").and_then(id_text) else {
            continue;
        };
        let mut primary = Vec::new();
        let mut others = Vec::new();
        for to in result
            .get("to")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
        {
            let Some(id) = to.get("toObjectId").and_then(id_text) else {
                continue;
            };
            // HubSpot's primary company types are contact→company 1 and deal→company 5; their
            // labels changed in 2024 (`Primary` became `Deal with Primary Company`) and HubSpot
            // says to rely on type ids, so either marks the primary.
            let is_primary = to
                .get("associationTypes")
                .and_then(Value::as_array)
                .is_some_and(|types| {
                    types.iter().any(|t| {
                        let defined =
                            t.get("category").and_then(Value::as_str) == Some("HUBSPOT_DEFINED");
                        let primary_id = matches!(
                            t.get("typeId").and_then(Value::as_u64),
                            Some(1) if singular == "contact"
                        ) || matches!(
                            t.get("typeId").and_then(Value::as_u64),
                            Some(5) if singular == "deal"
                        );
                        (defined && primary_id)
                            || t.get("label")
                                .and_then(Value::as_str)
                                .is_some_and(|l| l.to_ascii_lowercase().contains("primary"))
                    })
                });
            if is_primary {
                primary.push(json!({"id": id, "type": format!("{singular}_to_company")}));
            } else {
                others.push(json!({"id": id, "type": format!("{singular}_to_company_unlabeled")}));
            }
        }
        primary.extend(others);
        for record in records.iter_mut() {
            if record.get("id").and_then(id_text).as_deref() == Some(from.as_str())
                && let Some(map) = record.as_object_mut()
            {
                map.insert(
                    "associations".to_owned(),
                    json!({"companies": {"results": primary.clone()}}),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "hs_lastmodifieddate";

    fn page(records: &[(&str, i64)]) -> Vec<(String, Option<i64>)> {
        records
            .iter()
            .map(|(id, t)| ((*id).to_owned(), Some(*t)))
            .collect()
    }

    #[test]
    fn requests_seek_by_time_then_by_id_inside_a_crowded_millisecond() {
        let mut w = Window::starting_at(1_000);
        assert_eq!(
            w.request(M, &["name"], 3),
            json!({
                "filterGroups": [{"filters": [{"propertyName": M, "operator": "GTE", "value": "1000"}]}],
                "sorts": [{"propertyName": M, "direction": "ASCENDING"}],
                "properties": ["name"],
                "limit": 3,
            })
        );
        w.past = true;
        assert_eq!(
            w.request(M, &[], 3)["filterGroups"][0]["filters"][0]["operator"],
            "GT"
        );
        w.by_id = Some("42".into());
        let body = w.request("lastmodifieddate", &[], 3);
        assert_eq!(
            body["filterGroups"][0]["filters"],
            json!([
                {"propertyName": "lastmodifieddate", "operator": "EQ", "value": "1000"},
                {"propertyName": "hs_object_id", "operator": "GT", "value": "42"},
            ])
        );
        assert_eq!(body["sorts"][0]["propertyName"], "hs_object_id");
        assert!(body.get("after").is_none(), "never an offset");
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
            Err(WindowError::NoTimestamps(M))
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

    #[test]
    fn search_pages_decode_or_say_what_is_missing() {
        let p = parse_search_page(
            json!({"total": 3, "results": [{"id": "1"}], "paging": {"next": {"after": "1"}}}),
        )
        .unwrap();
        assert_eq!((p.total, p.results.len(), p.has_next), (Some(3), 1, true));
        let p = parse_search_page(json!({"total": 0, "results": []})).unwrap();
        assert!(!p.has_next);
        assert!(parse_search_page(json!({"status": "error"})).is_err());
    }

    #[test]
    fn batch_read_companies_become_list_shaped_associations() {
        let mut records = vec![
            json!({"id": "512", "properties": {}}),
            json!({"id": "513", "properties": {}}),
        ];
        let response = json!({"status": "COMPLETE", "results": [{
            "from": {"id": "512"},
            "to": [
                {"toObjectId": 902, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 341, "label": null}]},
                {"toObjectId": 901, "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": null},
                    {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"},
                ]},
            ],
        }], "errors": [{"context": {"fromObjectId": ["513"]}}]});
        attach_companies(&mut records, &response, "deal");
        assert_eq!(
            records[0]["associations"],
            json!({"companies": {"results": [
                {"id": "901", "type": "deal_to_company"},
                {"id": "902", "type": "deal_to_company_unlabeled"},
            ]}})
        );
        assert!(records[1].get("associations").is_none());
        assert_eq!(
            associations_request(&["1".into(), "2".into()]),
            json!({"inputs": [{"id": "1"}, {"id": "2"}]})
        );
        assert_eq!(
            newest_request(M)["sorts"][0],
            json!({"propertyName": M, "direction": "DESCENDING"})
        );
    }
}
