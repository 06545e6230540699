//! Search: `POST /crm/v3/objects/{objectType}/search`, running a parsed request (`filter`)
//! over the records as served (changed records included) and paging by offset up to the cap.

use crate::*;

mod filter;

pub(crate) use filter::*;

impl MockState {
    /// The record's id as a number (the generator's ids are numeric).
    pub(crate) fn numeric_id(&self, object: HubspotObject, i: usize) -> u64 {
        self.ids[slot(object)][i]
    }

    /// The index of the record with `id`, if the mock serves one.
    pub(crate) fn index_of(&self, object: HubspotObject, id: &str) -> Option<usize> {
        let n: u64 = id.trim().parse().ok()?;
        self.ids[slot(object)].binary_search(&n).ok()
    }

    /// A property of a live record as search sees it, changes by the `mutate` knob included.
    pub(crate) fn search_key(
        &self,
        object: HubspotObject,
        i: usize,
        property: &str,
        kind: PropertyKind,
    ) -> Option<SearchKey> {
        // The properties every incremental reader filters and sorts on, without rendering.
        if property == object.modified_property() {
            return Some(ms_key(self.created_updated(object, i).1));
        }
        match property {
            "createdate" => Some(ms_key(self.created_updated(object, i).0)),
            "hs_object_id" => Some(SearchKey::Number(self.numeric_id(object, i).into())),
            _ => self
                .properties(object, i)
                .into_iter()
                .find(|(name, _)| *name == property)
                .and_then(|(_, value)| value)
                .and_then(|v| stored_key(kind, &v)),
        }
    }

    /// Whether the free-text `query` occurs in one of the object's default searchable
    /// properties.
    pub(crate) fn matches_query(&self, object: HubspotObject, i: usize, query: &str) -> bool {
        let searchable: &[&str] = match object {
            HubspotObject::Companies => &["name", "domain"],
            HubspotObject::Contacts => &["firstname", "lastname", "email"],
            HubspotObject::Deals => &["dealname"],
        };
        self.properties(object, i)
            .into_iter()
            .filter(|(name, _)| searchable.contains(name))
            .filter_map(|(_, v)| v)
            .any(|v| v.to_lowercase().contains(query))
    }

    /// Indices of the live records matching `req`, in the order the search serves them.
    pub(crate) fn search(&self, object: HubspotObject, req: &SearchRequest) -> Vec<usize> {
        let mut matches: Vec<usize> = (0..self.len(object))
            .filter(|&i| self.archived_at(object, i).is_none())
            .filter(|&i| {
                req.query
                    .as_deref()
                    .is_none_or(|q| self.matches_query(object, i, q))
            })
            .filter(|&i| {
                req.groups.is_empty()
                    || req.groups.iter().any(|group| {
                        group.iter().all(|f| {
                            f.passes(self.search_key(object, i, &f.property, f.kind).as_ref())
                        })
                    })
            })
            .collect();
        let Some(sort) = &req.sort else {
            // Without a sort, results come in id order.
            return matches;
        };
        // Ties come in an order HubSpot does not promise; the mock uses a seeded shuffle, so
        // that a reader relying on ties being in id order fails here rather than in production.
        let seed = self.company.seed;
        let mut keyed: Vec<(Option<SearchKey>, u64, usize)> = matches
            .drain(..)
            .map(|i| {
                (
                    self.search_key(object, i, &sort.property, sort.kind),
                    faults::draw(seed, "search-ties", &[self.numeric_id(object, i)]),
                    i,
                )
            })
            .collect();
        keyed.sort_by(|a, b| {
            let by_key = match (&a.0, &b.0) {
                (Some(x), Some(y)) if sort.descending => y.cmp(x),
                (Some(x), Some(y)) => x.cmp(y),
                // Records without the property come last either way.
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            by_key.then(a.1.cmp(&b.1))
        });
        keyed.into_iter().map(|(_, _, i)| i).collect()
    }
}

/// `POST /crm/v3/objects/{objectType}/search`. Search responses carry no rate-limit headers.
pub(crate) async fn search_objects(
    State(state): State<Arc<MockState>>,
    Path(object_type): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    search_page(&state, &object_type, &body)
}

pub(crate) fn search_page(state: &MockState, object_type: &str, body: &[u8]) -> Response {
    let Some(object) = HubspotObject::parse(object_type) else {
        return error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to infer object type from: {object_type}"),
        );
    };
    let req = match parse_search(body) {
        Ok(req) => req,
        Err(invalid) => return invalid.response(),
    };
    let cap = state.config.search_result_cap;
    if req.after >= cap {
        // HubSpot's search index serves at most this many results per query, however it is
        // paged: a reader must narrow the query instead.
        return validation_error(
            &format!(
                "There was a problem with the request: search results are limited to {cap}; \
                 `after` must be below {cap}, got {}",
                req.after
            ),
            "after",
        );
    }
    let matches = state.search(object, &req);
    let total = matches.len();
    let start = req.after.min(total);
    let end = (req.after + req.limit).min(total).min(cap);
    let page = &matches[start..end];
    let mut next = (end < total).then_some(end);
    // `duplicates`: the next offset points back at this page's last record.
    if let (Some(n), Some(&last)) = (next, page.last())
        && state.faults.repeat_last(
            &format!("{}?search", object.as_str()),
            state.id(object, last),
            page.len(),
            true,
        )
    {
        next = Some(n - 1);
    }
    let results: Vec<Value> = page
        .iter()
        .map(|&i| state.render(object, i, &req.properties, &[]))
        .collect();
    // `mutate`: records on this page and the next change after it is served, as records do
    // while an incremental sync pages through them. The key is the request itself, so the
    // same request replays the same changes.
    let upcoming: Vec<usize> = next
        .map(|n| matches[n..(n + req.limit).min(total)].to_vec())
        .unwrap_or_default();
    state.faults.mutate_around_page(
        object.as_str(),
        &format!("search:{}", String::from_utf8_lossy(body)),
        page,
        &upcoming,
    );
    let mut response = Map::new();
    response.insert("total".into(), json!(total));
    response.insert("results".into(), Value::Array(results));
    if let Some(n) = next {
        response.insert("paging".into(), json!({"next": {"after": n.to_string()}}));
    }
    json_response(StatusCode::OK, &Value::Object(response))
}
