//! Property definitions (`GET /crm/v3/properties/{objectType}`), custom properties included.

use crate::*;

/// `(name, label, type, fieldType, options, hubspot_defined)` of every property the mock
/// serves for `object`.
pub(crate) type PropertyDef = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Vec<(String, String)>,
    bool,
);

pub(crate) fn property_definitions(
    object: HubspotObject,
    multi_currency: bool,
) -> Vec<PropertyDef> {
    let opts = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
            .collect()
    };
    let boolean = || opts(&[("true", "Yes"), ("false", "No")]);
    let text = |name, label| (name, label, "string", "text", Vec::new(), true);
    let number = |name, label| (name, label, "number", "number", Vec::new(), true);
    let datetime = |name, label| (name, label, "datetime", "date", Vec::new(), true);
    let common = |modified: &'static str| {
        vec![
            datetime("createdate", "Create Date"),
            datetime(modified, "Last Modified Date"),
            number("hs_object_id", "Record ID"),
            (
                "hubspot_owner_id",
                "Owner",
                "enumeration",
                "select",
                Vec::new(),
                true,
            ),
        ]
    };
    let mut defs = match object {
        HubspotObject::Companies => vec![
            text("name", "Company name"),
            text("domain", "Company Domain Name"),
            text("industry", "Industry"),
            text("city", "City"),
            text("country", "Country/Region"),
            number("numberofemployees", "Number of Employees"),
            text("lifecyclestage", "Lifecycle Stage"),
            ("segment", "Segment", "string", "text", Vec::new(), false),
            ("region", "Region", "string", "text", Vec::new(), false),
            ("seats", "Seats", "number", "number", Vec::new(), false),
        ],
        HubspotObject::Contacts => vec![
            text("firstname", "First Name"),
            text("lastname", "Last Name"),
            text("email", "Email"),
            text("jobtitle", "Job Title"),
            ("role", "Role", "string", "text", Vec::new(), false),
            text("lifecyclestage", "Lifecycle Stage"),
            number("associatedcompanyid", "Primary Associated Company ID"),
        ],
        HubspotObject::Deals => {
            let stages: Vec<(String, String)> = PIPELINES
                .iter()
                .flat_map(|p| p.stages.iter())
                .map(|s| (s.id.to_owned(), s.label.to_owned()))
                .collect();
            let pipelines: Vec<(String, String)> = PIPELINES
                .iter()
                .map(|p| (p.id.to_owned(), p.label.to_owned()))
                .collect();
            let mut deals = vec![
                text("dealname", "Deal Name"),
                number("amount", "Amount"),
                (
                    "dealstage",
                    "Deal Stage",
                    "enumeration",
                    "radio",
                    stages,
                    true,
                ),
                (
                    "pipeline",
                    "Pipeline",
                    "enumeration",
                    "select",
                    pipelines,
                    true,
                ),
                datetime("closedate", "Close Date"),
                (
                    "dealtype",
                    "Deal Type",
                    "enumeration",
                    "radio",
                    opts(&[
                        ("newbusiness", "New Business"),
                        ("existingbusiness", "Existing Business"),
                    ]),
                    true,
                ),
                (
                    DEAL_MOTION_PROPERTY,
                    "Deal Motion",
                    "enumeration",
                    "select",
                    opts(&[
                        ("new_business", "New business"),
                        ("renewal", "Renewal"),
                        ("expansion", "Expansion"),
                        ("contraction", "Contraction"),
                        ("add_on", "Add-on"),
                    ]),
                    false,
                ),
                (
                    "hs_is_closed_won",
                    "Is Closed Won",
                    "bool",
                    "booleancheckbox",
                    boolean(),
                    true,
                ),
                (
                    "hs_is_closed",
                    "Is Deal Closed?",
                    "bool",
                    "booleancheckbox",
                    boolean(),
                    true,
                ),
                number("hs_deal_stage_probability", "Deal Stage Probability"),
                (
                    "term_months",
                    "Term (months)",
                    "number",
                    "number",
                    Vec::new(),
                    false,
                ),
            ];
            if multi_currency {
                deals.push((
                    "deal_currency_code",
                    "Currency",
                    "enumeration",
                    "select",
                    opts(&[
                        ("EUR", "Euro"),
                        ("GBP", "British Pound"),
                        ("USD", "US Dollar"),
                    ]),
                    true,
                ));
            }
            deals
        }
    };
    defs.extend(common(object.modified_property()));
    defs
}

/// `GET /crm/v3/properties/{objectType}`: the definitions of every property the object has,
/// HubSpot's and the portal's custom ones (`name`, `label`, `type`, `fieldType`, `options`,
/// `groupName`, `hubspotDefined`…).
pub(crate) async fn list_properties(
    State(state): State<Arc<MockState>>,
    Path(object_type): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let rate_headers = state.rate_headers(false);
    let Some(object) = HubspotObject::parse(&object_type) else {
        return error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to infer object type from: {object_type}"),
        );
    };
    let group = format!("{}information", object.singular());
    let results: Vec<Value> = property_definitions(object, state.config.multi_currency)
        .into_iter()
        .enumerate()
        .map(
            |(k, (name, label, kind, field_type, options, hubspot_defined))| {
                let options: Vec<Value> = options
                .into_iter()
                .enumerate()
                .map(|(n, (value, label))| {
                    json!({"label": label, "value": value, "displayOrder": n, "hidden": false})
                })
                .collect();
                let mut p = json!({
                    "name": name,
                    "label": label,
                    "type": kind,
                    "fieldType": field_type,
                    "description": "",
                    "groupName": group,
                    "options": options,
                    "displayOrder": k,
                    "calculated": name.starts_with("hs_is_"),
                    "externalOptions": false,
                    "hasUniqueValue": name == "hs_object_id",
                    "hidden": false,
                    "formField": !hubspot_defined,
                    "createdAt": SCHEMA_CREATED_AT,
                    "updatedAt": SCHEMA_CREATED_AT,
                    "archived": false,
                });
                if hubspot_defined {
                    p["hubspotDefined"] = Value::Bool(true);
                }
                p
            },
        )
        .collect();
    let mut response = json_response(StatusCode::OK, &json!({ "results": results }));
    response.headers_mut().extend(rate_headers);
    response
}
