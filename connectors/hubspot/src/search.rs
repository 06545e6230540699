//! Incremental reads through HubSpot's CRM search endpoint
//! (`POST /crm/v3/objects/{objectType}/search`, <https://developers.hubspot.com/docs/api/crm/search>):
//! the request bodies and the response shape. No I/O here; `read.rs` sends what this builds.
//!
//! A window of changes is read by *seeking* on the modified time with the SDK's [`Window`]
//! state machine ([`tributary_connector::pull::seek`]), never by paging with `after`: one query
//! serves at most 10,000 results and asking for `after` at or past that is HTTP 400
//! (airbyte#26365; NangoHQ integration-templates#647: more than 10,000 changed deals in a
//! window were never synced), and `after` is an offset into a set that changes while it is
//! read. Inside a crowded millisecond the window sorts and seeks by `hs_object_id`.

use crate::mapping::is_primary_label;
use serde_json::{Value, json};
use tributary_connector::map::{array, id_text};
use tributary_connector::pull::Page;
use tributary_connector::pull::seek::SeekWindow;

/// The largest `limit` the search endpoint accepts.
pub const MAX_SEARCH_PAGE_SIZE: u32 = 200;

/// The window state, shared with the SDK ([`tributary_connector::pull::seek`]).
pub(crate) type Window = SeekWindow;

/// The search request for the next page of `window`: `modified_property` is the object's
/// last-modified property, `properties` what to return.
pub(crate) fn request(
    window: &Window,
    modified_property: &str,
    properties: &[&str],
    limit: u32,
) -> Value {
    let from = window.from.to_string();
    let (filters, sort) = match &window.by_id {
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
                "operator": if window.past { "GT" } else { "GTE" },
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

/// The request for the newest modified time of an object type (and, in `total`, how many live
/// records it has): one record, sorted descending.
pub(crate) fn newest_request(modified_property: &str) -> Value {
    json!({
        "sorts": [{"propertyName": modified_property, "direction": "DESCENDING"}],
        "properties": [modified_property],
        "limit": 1,
    })
}

/// Decodes a search response: its records, whether `paging.next` says there is more, and in
/// `total` how many records the query matches in all (not capped); the message says what is
/// missing.
pub(crate) fn parse_search_page(mut body: Value) -> Result<Page<Value>, String> {
    let has_next = !matches!(body.pointer("/paging/next/after"), None | Some(Value::Null));
    let total = body.get("total").and_then(Value::as_u64);
    match body.get_mut("results").map(Value::take) {
        Some(Value::Array(results)) => Ok(Page::new(results, has_next).with_total(total)),
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
        for to in array(result, "to") {
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
                        let type_id = t.get("typeId").and_then(Value::as_u64);
                        let primary_id = matches!(
                            (singular, type_id),
                            ("contact", Some(1)) | ("deal", Some(5))
                        );
                        (defined && primary_id)
                            || t.get("label")
                                .and_then(Value::as_str)
                                .is_some_and(is_primary_label)
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

    #[test]
    fn requests_seek_by_time_then_by_id_inside_a_crowded_millisecond() {
        let mut w = Window::starting_at(1_000);
        assert_eq!(
            request(&w, M, &["name"], 3),
            json!({
                "filterGroups": [{"filters": [{"propertyName": M, "operator": "GTE", "value": "1000"}]}],
                "sorts": [{"propertyName": M, "direction": "ASCENDING"}],
                "properties": ["name"],
                "limit": 3,
            })
        );
        w.past = true;
        assert_eq!(
            request(&w, M, &[], 3)["filterGroups"][0]["filters"][0]["operator"],
            "GT"
        );
        w.by_id = Some("42".into());
        let body = request(&w, "lastmodifieddate", &[], 3);
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
    fn search_pages_decode_or_say_what_is_missing() {
        let p = parse_search_page(
            json!({"total": 3, "results": [{"id": "1"}], "paging": {"next": {"after": "1"}}}),
        )
        .unwrap();
        assert_eq!((p.total, p.records.len(), p.more), (Some(3), 1, true));
        let p = parse_search_page(json!({"total": 0, "results": []})).unwrap();
        assert!(!p.more);
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
