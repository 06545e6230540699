//! The query routes: `query`, `queryAll`, their `nextRecordsUrl` batches and `describe`.

use crate::*;

/// The batch size a request asks for through `Sforce-Query-Options: batchSize=N`.
pub(crate) fn requested_batch(headers: &HeaderMap) -> Option<usize> {
    headers
        .get("sforce-query-options")?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|opt| {
            let (k, v) = opt.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("batchSize")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .map(|n| n.clamp(MIN_BATCH_SIZE, MAX_BATCH_SIZE))
}

pub(crate) async fn query(
    State(state): State<Arc<MockState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    run_query(&state, &version, &headers, &params, false)
}

pub(crate) async fn query_all(
    State(state): State<Arc<MockState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    run_query(&state, &version, &headers, &params, true)
}

/// The rows `soql` selects, with their indices, as the org answers it: live rows only unless
/// `all` (`queryAll`), filtered by its conditions, in its `ORDER BY` (ties keep the org's
/// order) and cut at its `LIMIT`. The REST query and a Bulk job select alike.
pub(crate) fn select_rows(
    state: &MockState,
    soql: &Soql,
    all: bool,
) -> Vec<(usize, Map<String, Value>)> {
    let mut rows: Vec<(usize, Map<String, Value>)> = (0..state.len(soql.object))
        .map(|i| (i, state.record(soql.object, i)))
        .filter(|(_, r)| all || r.get("IsDeleted") != Some(&Value::Bool(true)))
        .filter(|(_, r)| soql.conditions.iter().all(|c| matches(r, c)))
        .collect();
    if !soql.order.is_empty() {
        rows.sort_by(|(_, a), (_, b)| {
            soql.order
                .iter()
                .map(|(f, asc)| {
                    let o = order_key_cmp(
                        a.get(*f).unwrap_or(&Value::Null),
                        b.get(*f).unwrap_or(&Value::Null),
                    );
                    if *asc { o } else { o.reverse() }
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    if let Some(limit) = soql.limit {
        rows.truncate(limit);
    }
    rows
}

pub(crate) fn run_query(
    state: &MockState,
    version: &str,
    headers: &HeaderMap,
    params: &[(String, String)],
    all: bool,
) -> Response {
    if let Some(refused) = state.refuse(headers) {
        return refused;
    }
    let Some(q) = params.iter().find(|(k, _)| k == "q").map(|(_, v)| v) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    let soql = match state.parse(q) {
        Ok(s) => s,
        Err((code, message)) => return api_error(StatusCode::BAD_REQUEST, code, &message),
    };
    let rows = select_rows(state, &soql, all);
    // The header is a hint: the org never serves more than its own batch size.
    let org_batch = state.config.batch_size.max(1);
    let batch = requested_batch(headers).map_or(org_batch, |n| n.min(org_batch));
    let cursor = Arc::new(QueryCursor {
        object: soql.object,
        fields: soql.fields,
        rows: rows.into_iter().map(|(i, _)| i).collect(),
        batch,
    });
    let locator = format!(
        "01gSIM{:012}",
        state.next_cursor.fetch_add(1, Ordering::Relaxed)
    );
    state
        .cursors
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(locator.clone(), cursor.clone());
    serve_batch(state, version, &locator, &cursor, 0, batch)
}

/// `GET /services/data/<version>/sobjects/<sObject>/describe`.
pub(crate) async fn describe(
    State(state): State<Arc<MockState>>,
    Path((_version, object)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = state.refuse(&headers) {
        return refused;
    }
    match SObject::parse(&object).and_then(|o| state.describe(o)) {
        Some(body) => json_response(StatusCode::OK, &body),
        None => api_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        ),
    }
}

pub(crate) async fn next_batch(
    State(state): State<Arc<MockState>>,
    Path((version, locator)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = state.refuse(&headers) {
        return refused;
    }
    let invalid = || {
        api_error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        )
    };
    let Some((id, offset)) = locator.rsplit_once('-') else {
        return invalid();
    };
    let Ok(offset) = offset.parse::<usize>() else {
        return invalid();
    };
    let cursor = state
        .cursors
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(id)
        .cloned();
    let Some(cursor) = cursor else {
        return invalid();
    };
    if offset > cursor.rows.len() {
        return invalid();
    }
    let batch =
        requested_batch(&headers).map_or(cursor.batch, |n| n.min(state.config.batch_size.max(1)));
    serve_batch(&state, &version, id, &cursor, offset, batch)
}

pub(crate) fn serve_batch(
    state: &MockState,
    version: &str,
    locator: &str,
    cursor: &QueryCursor,
    offset: usize,
    batch: usize,
) -> Response {
    let end = (offset + batch).min(cursor.rows.len());
    let page = &cursor.rows[offset..end];
    let stream = cursor.object.as_str();
    let records: Vec<Value> = page
        .iter()
        .map(|&i| {
            let full = state.record(cursor.object, i);
            let id = full.get("Id").and_then(Value::as_str).unwrap_or_default();
            let mut out = Map::new();
            out.insert(
                "attributes".into(),
                json!({"type": stream, "url": format!("/services/data/{version}/sobjects/{stream}/{id}")}),
            );
            for f in &cursor.fields {
                out.insert((*f).to_owned(), full.get(*f).cloned().unwrap_or(Value::Null));
            }
            Value::Object(out)
        })
        .collect();
    let has_next = end < cursor.rows.len();
    let mut next = end;
    if let Some(&last) = page.last() {
        let last_id = state
            .record(cursor.object, last)
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if state
            .faults
            .repeat_last(stream, &last_id, page.len(), has_next)
        {
            next = end - 1;
        }
        let upcoming_end = (end + batch).min(cursor.rows.len());
        state.faults.mutate_around_page(
            stream,
            &format!("{locator}-{offset}"),
            page,
            &cursor.rows[end..upcoming_end],
        );
    }
    let mut body = Map::new();
    body.insert("totalSize".into(), json!(cursor.rows.len()));
    body.insert("done".into(), json!(!has_next));
    if has_next {
        body.insert(
            "nextRecordsUrl".into(),
            json!(format!("/services/data/{version}/query/{locator}-{next}")),
        );
    }
    body.insert("records".into(), Value::Array(records));
    json_response(StatusCode::OK, &Value::Object(body))
}

/// `GET /services/data/<version>/sobjects/`: the global describe, every sObject the org has
/// with its key prefix and resource URLs (simple-salesforce's `describe()`).
pub(crate) async fn describe_global(
    State(state): State<Arc<MockState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = state.refuse(&headers) {
        return refused;
    }
    let sobjects: Vec<Value> = SObject::ALL
        .into_iter()
        .filter_map(|object| {
            let described = state.describe(object)?;
            let name = object.as_str();
            let base = format!("/services/data/{version}/sobjects/{name}");
            Some(json!({
                "name": name,
                "label": described.get("label").cloned().unwrap_or(Value::Null),
                "keyPrefix": object.key_prefix(),
                "queryable": true,
                "retrieveable": true,
                "custom": false,
                "urls": {
                    "sobject": base,
                    "describe": format!("{base}/describe"),
                    "rowTemplate": format!("{base}/{{ID}}"),
                },
            }))
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects}),
    )
}

/// `GET /services/data/<version>/sobjects/<sObject>/<id>`: one record with every field
/// (simple-salesforce's `sf.Account.get(id)`); 404 `NOT_FOUND` for an unknown id, 404
/// `ENTITY_IS_DELETED` for a deleted one, as Salesforce answers.
pub(crate) async fn retrieve(
    State(state): State<Arc<MockState>>,
    Path((version, object, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = state.refuse(&headers) {
        return refused;
    }
    let not_found = || {
        api_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    };
    let Some(object) = SObject::parse(&object).filter(|o| state.describe(*o).is_some()) else {
        return not_found();
    };
    let Some(full) = (0..state.len(object))
        .map(|i| state.record(object, i))
        .find(|r| r.get("Id").and_then(Value::as_str) == Some(id.as_str()))
    else {
        return not_found();
    };
    if full.get("IsDeleted") == Some(&Value::Bool(true)) {
        return api_error(
            StatusCode::NOT_FOUND,
            "ENTITY_IS_DELETED",
            "entity is deleted",
        );
    }
    let name = object.as_str();
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        json!({"type": name, "url": format!("/services/data/{version}/sobjects/{name}/{id}")}),
    );
    for f in object
        .fields()
        .iter()
        .filter(|f| state.config.multi_currency || **f != "CurrencyIsoCode")
    {
        out.insert(
            (*f).to_owned(),
            full.get(*f).cloned().unwrap_or(Value::Null),
        );
    }
    json_response(StatusCode::OK, &Value::Object(out))
}
