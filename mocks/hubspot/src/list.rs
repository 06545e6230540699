//! The list endpoint: `GET /crm/v3/objects/{objectType}`, paged by an `after` cursor.

use crate::*;
use tributary_mock_kit::{
    ServedPage,
    respond::{base_url, param},
};

/// HubSpot's timestamp format: ISO 8601 in UTC with milliseconds and `Z`.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Values of a query parameter, accepting both `a,b` and repeated `k=a&k=b` (SDKs send either).
pub(crate) fn list_param(query: &[(String, String)], name: &str) -> Option<Vec<String>> {
    let mut found = false;
    let mut out = Vec::new();
    for (k, v) in query {
        if k == name {
            found = true;
            out.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    found.then_some(out)
}

pub(crate) async fn list_objects(
    State(state): State<Arc<MockState>>,
    Path(object_type): Path<String>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let rate_headers = state.rate_headers(false);
    let mut response = list_page(&state, &object_type, &headers, &query);
    response.headers_mut().extend(rate_headers);
    response
}

pub(crate) fn list_page(
    state: &MockState,
    object_type: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Response {
    let Some(object) = HubspotObject::parse(object_type) else {
        return error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to infer object type from: {object_type}"),
        );
    };
    let limit = match param(query, "limit") {
        None => 10,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) => n.clamp(1, 100) as usize,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    &format!("Unable to parse limit: '{raw}' is not a valid integer"),
                );
            }
        },
    };
    let start_id = match param(query, "after") {
        None | Some("") => 0,
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(n) => n,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    &format!("Invalid paging cursor: '{raw}'"),
                );
            }
        },
    };
    let archived = param(query, "archived").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let requested = list_param(query, "properties");
    let associations: Vec<HubspotObject> = list_param(query, "associations")
        .unwrap_or_default()
        .iter()
        .filter_map(|a| HubspotObject::parse(a))
        .collect();

    // The cursor is the id of the first record of the next page: stable when records are
    // added or archived between pages, as HubSpot's own cursor is.
    let ids = &state.ids[slot(object)];
    // `lost_from_listing`: the newest live records never appear in a live listing.
    let lost_from = match (archived, state.config.lost_from_listing) {
        (true, _) | (_, 0) => usize::MAX,
        (false, lost) => (0..state.len(object))
            .rev()
            .filter(|&i| state.archived_at(object, i).is_none())
            .take(lost)
            .last()
            .unwrap_or(usize::MAX),
    };
    let matches = |i: &usize| state.archived_at(object, *i).is_some() == archived && *i < lost_from;
    let mut candidates =
        (ids.partition_point(|&id| id < start_id)..state.len(object)).filter(matches);
    let page: Vec<usize> = candidates.by_ref().take(limit).collect();
    // The page after this one: where the cursor points, and what `mutate` may change.
    let upcoming: Vec<usize> = candidates.take(limit).collect();

    let results: Vec<Value> = page
        .iter()
        .map(|&i| state.render(object, i, &requested, &associations))
        .collect();

    // Faults that act on paging, decided once the page is rendered: `duplicates` points the
    // cursor back at this page's last record; `mutate` changes live records only (archived
    // ones are frozen), under the stream name `revision` looks them up by.
    let stream = match archived {
        false => object.as_str().to_owned(),
        true => format!("{}?archived", object.as_str()),
    };
    let mut next = upcoming.first().copied();
    let page_key = start_id.to_string();
    let repeat = state.faults.page_served(ServedPage {
        stream: &stream,
        page: &page,
        upcoming: &upcoming,
        last_id: page.last().map(|&last| state.id(object, last)),
        has_next: next.is_some(),
        mutate: (!archived).then_some((stream.as_str(), page_key.as_str())),
    });
    if repeat {
        next = page.last().copied();
    }

    let mut body = Map::new();
    body.insert("results".into(), Value::Array(results));
    if let Some(n) = next {
        let after = state.id(object, n).to_owned();
        let mut link_query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in query.iter().filter(|(k, _)| k != "after") {
            link_query.append_pair(k, v);
        }
        link_query.append_pair("after", &after);
        let link = format!(
            "{}/crm/v3/objects/{object_type}?{}",
            base_url(headers),
            link_query.finish()
        );
        body.insert(
            "paging".into(),
            json!({"next": {"after": after, "link": link}}),
        );
    }
    json_response(StatusCode::OK, &Value::Object(body))
}

/// `GET /crm/v3/objects/{objectType}/{objectId}` (`properties`, `associations`, `archived`):
/// one record by id, as the official clients' `basic_api.get_by_id` reads it; 404
/// `OBJECT_NOT_FOUND` for an unknown id, or an archived one unless `archived=true`.
pub(crate) async fn get_object(
    State(state): State<Arc<MockState>>,
    Path((object_type, object_id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let rate_headers = state.rate_headers(false);
    let mut response = match HubspotObject::parse(&object_type) {
        None => error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to infer object type from: {object_type}"),
        ),
        Some(object) => {
            let archived =
                param(&query, "archived").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let ids = &state.ids[slot(object)];
            let found = object_id
                .parse::<u64>()
                .ok()
                .and_then(|id| ids.binary_search(&id).ok())
                .filter(|&i| state.archived_at(object, i).is_some() == archived);
            match found {
                None => error(
                    StatusCode::NOT_FOUND,
                    "OBJECT_NOT_FOUND",
                    "Object not found.  objectId are usually numeric.",
                ),
                Some(i) => {
                    let requested = list_param(&query, "properties");
                    let associations: Vec<HubspotObject> = list_param(&query, "associations")
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|a| HubspotObject::parse(a))
                        .collect();
                    json_response(
                        StatusCode::OK,
                        &state.render(object, i, &requested, &associations),
                    )
                }
            }
        }
    };
    response.headers_mut().extend(rate_headers);
    response
}
