//! Associations v4 batch read: `POST /crm/v4/associations/{fromType}/{toType}/batch/read`.

use crate::*;

/// The association types HubSpot defines between two objects: `(typeId, label)`, the primary
/// (labelled `Primary`) first where one exists. Ids as commonly documented (vendor-apis.md §2).
pub(crate) fn association_types(
    from: HubspotObject,
    to: HubspotObject,
) -> &'static [(u32, Option<&'static str>)] {
    use HubspotObject as O;
    match (from, to) {
        (O::Contacts, O::Companies) => &[(1, Some("Primary")), (279, None)],
        (O::Deals, O::Companies) => &[(5, Some("Primary")), (341, None)],
        (O::Companies, O::Contacts) => &[(280, None)],
        (O::Companies, O::Deals) => &[(342, None)],
        (O::Deals, O::Contacts) => &[(3, None)],
        (O::Contacts, O::Deals) => &[(4, None)],
        _ => &[],
    }
}

/// User-defined deal→contact labels: `(deal→contact typeId, contact→deal typeId, label)`.
/// HubSpot gives each direction of a paired label its own type id.
pub(crate) const DEAL_CONTACT_LABELS: [(u32, u32, &str); 3] = [
    (16, 17, PRIMARY_CONTACT_LABEL),
    (18, 19, CONTACT_ROLE_LABELS[0]),
    (20, 21, CONTACT_ROLE_LABELS[1]),
];

impl MockState {
    /// The live records of `to` associated with record `i` of `from`, each with its
    /// association types as the v4 API lists them. A deal's contacts carry the portal's
    /// labels by rank: the first is labelled [`PRIMARY_CONTACT_LABEL`] and
    /// `CONTACT_ROLE_LABELS[0]`, the second `CONTACT_ROLE_LABELS[1]`, the third nothing but
    /// HubSpot's unlabeled type.
    pub(crate) fn edges(
        &self,
        from: HubspotObject,
        i: usize,
        to: HubspotObject,
    ) -> Vec<(&str, Vec<Value>)> {
        use HubspotObject as O;
        let defined = |types: &[(u32, Option<&str>)]| -> Vec<Value> {
            types
                .iter()
                .map(|(id, label)| json!({"category": "HUBSPOT_DEFINED", "typeId": id, "label": label}))
                .collect()
        };
        let labelled = |rank: usize, forward: bool| -> Vec<Value> {
            let mut types = defined(association_types(from, to));
            let user = |(there, back, label): (u32, u32, &str)| json!({"category": "USER_DEFINED", "typeId": if forward { there } else { back }, "label": label});
            match rank {
                0 => types.extend([user(DEAL_CONTACT_LABELS[0]), user(DEAL_CONTACT_LABELS[1])]),
                1 => types.push(user(DEAL_CONTACT_LABELS[2])),
                _ => {}
            }
            types
        };
        let co = &self.company;
        match (from, to) {
            (O::Deals, O::Contacts) => self.deal_contacts[i]
                .iter()
                .enumerate()
                .filter(|&(_, &j)| self.archived_at(O::Contacts, j).is_none())
                .map(|(rank, &j)| (co.contacts[j].id.as_str(), labelled(rank, true)))
                .collect(),
            (O::Contacts, O::Deals) => self.contact_deals[i]
                .iter()
                .filter(|&&d| self.archived_at(O::Deals, d).is_none())
                .map(|&d| {
                    let rank = self.deal_contacts[d]
                        .iter()
                        .position(|&j| j == i)
                        .unwrap_or(usize::MAX);
                    (co.deals[d].id.as_str(), labelled(rank, false))
                })
                .collect(),
            _ => {
                let types = defined(association_types(from, to));
                if types.is_empty() {
                    return Vec::new();
                }
                self.associated(from, i, to)
                    .into_iter()
                    .map(|id| (id, types.clone()))
                    .collect()
            }
        }
    }
}

/// `POST /crm/v4/associations/{fromType}/{toType}/batch/read` with `{"inputs":[{"id":"512"}]}`:
/// each input's associated records with their association types. Inputs without any (or
/// unknown, or archived) are listed under `errors` with HubSpot's `NO_ASSOCIATIONS_FOUND`, and
/// the status is then 207 Multi-Status.
pub(crate) async fn batch_read_associations(
    State(state): State<Arc<MockState>>,
    Path((from_type, to_type)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let rate_headers = state.rate_headers(false);
    let mut response = associations_page(&state, &from_type, &to_type, &body);
    response.headers_mut().extend(rate_headers);
    response
}

pub(crate) fn associations_page(
    state: &MockState,
    from_type: &str,
    to_type: &str,
    body: &[u8],
) -> Response {
    let (Some(from), Some(to)) = (
        HubspotObject::parse(from_type),
        HubspotObject::parse(to_type),
    ) else {
        return error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to infer object types from: {from_type}, {to_type}"),
        );
    };
    let inputs: Vec<String> = match serde_json::from_slice::<Value>(body) {
        Ok(v) => match v.get("inputs").and_then(Value::as_array) {
            Some(inputs) => inputs
                .iter()
                .filter_map(|i| match i.get("id") {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            None => return validation_error("the body needs an `inputs` array", "inputs"),
        },
        Err(e) => {
            return validation_error(
                &format!(
                    "Invalid input JSON on line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ),
                "body",
            );
        }
    };
    if inputs.len() > ASSOCIATIONS_BATCH_MAX {
        return validation_error(
            &format!(
                "Too many inputs: {} (at most {ASSOCIATIONS_BATCH_MAX})",
                inputs.len()
            ),
            "inputs",
        );
    }
    let started = timestamp(Utc::now());
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for id in inputs {
        let associated: Vec<(&str, Vec<Value>)> = state
            .index_of(from, &id)
            .filter(|&i| state.archived_at(from, i).is_none())
            .map(|i| state.edges(from, i, to))
            .unwrap_or_default();
        if associated.is_empty() {
            errors.push(json!({
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "message": format!("No {} is associated with {} {id}.", to.singular(), from.singular()),
                "context": {"fromObjectId": [id]},
            }));
            continue;
        }
        let to_list: Vec<Value> = associated
            .into_iter()
            .map(|(to_id, types)| {
                let number: Value = to_id
                    .parse::<u64>()
                    .map_or_else(|_| Value::String(to_id.to_owned()), Value::from);
                json!({"toObjectId": number, "associationTypes": types})
            })
            .collect();
        results.push(json!({"from": {"id": id}, "to": to_list}));
    }
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": timestamp(Utc::now()),
    });
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        body["numErrors"] = json!(errors.len());
        body["errors"] = Value::Array(errors);
        StatusCode::MULTI_STATUS
    };
    json_response(status, &body)
}
