//! Deal pipelines (`GET /crm/v3/pipelines/deals`): the default pipeline and the portal's custom
//! renewals pipeline, and which stage a deal is in.

use crate::*;

/// One stage of a deal pipeline as the mock serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineStage {
    /// The stage id deals carry in `dealstage`: a name in the default pipeline, a number in
    /// custom ones.
    pub id: &'static str,
    /// The label shown in HubSpot.
    pub label: &'static str,
    /// `metadata.isClosed`.
    pub closed: bool,
    /// `metadata.probability`, `"0.0"` to `"1.0"`.
    pub probability: &'static str,
}

/// One deal pipeline as the mock serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pipeline {
    /// `default`, or a number for a custom pipeline.
    pub id: &'static str,
    /// The label shown in HubSpot.
    pub label: &'static str,
    /// Its stages, in display order.
    pub stages: &'static [PipelineStage],
}

/// HubSpot's default sales pipeline, with its standard stage ids and probabilities.
pub const DEFAULT_PIPELINE: Pipeline = Pipeline {
    id: "default",
    label: "Sales Pipeline",
    stages: &[
        PipelineStage {
            id: "appointmentscheduled",
            label: "Appointment Scheduled",
            closed: false,
            probability: "0.2",
        },
        PipelineStage {
            id: "qualifiedtobuy",
            label: "Qualified To Buy",
            closed: false,
            probability: "0.4",
        },
        PipelineStage {
            id: "presentationscheduled",
            label: "Presentation Scheduled",
            closed: false,
            probability: "0.6",
        },
        PipelineStage {
            id: "decisionmakerboughtin",
            label: "Decision Maker Bought-In",
            closed: false,
            probability: "0.8",
        },
        PipelineStage {
            id: "contractsent",
            label: "Contract Sent",
            closed: false,
            probability: "0.9",
        },
        PipelineStage {
            id: "closedwon",
            label: "Closed Won",
            closed: true,
            probability: "1.0",
        },
        PipelineStage {
            id: "closedlost",
            label: "Closed Lost",
            closed: true,
            probability: "0.0",
        },
    ],
};

/// The portal's custom renewals pipeline. Like every custom pipeline its id and stage ids are
/// numbers, so `dealstage == "closedwon"` does not find its won deals: only the pipeline's
/// stage metadata (closed, probability 1.0) or the calculated `hs_is_closed_won` does.
pub const RENEWALS_PIPELINE: Pipeline = Pipeline {
    id: "1487",
    label: "Renewals",
    stages: &[
        PipelineStage {
            id: "4811301",
            label: "Renewal Due",
            closed: false,
            probability: "0.3",
        },
        PipelineStage {
            id: "4811302",
            label: "Quote Sent",
            closed: false,
            probability: "0.6",
        },
        PipelineStage {
            id: "4811303",
            label: "Contract Out",
            closed: false,
            probability: "0.9",
        },
        PipelineStage {
            id: "4811304",
            label: "Renewed",
            closed: true,
            probability: "1.0",
        },
        PipelineStage {
            id: "4811305",
            label: "Not Renewed",
            closed: true,
            probability: "0.0",
        },
    ],
};

/// Every pipeline of the simulated portal, in display order.
pub const PIPELINES: [Pipeline; 2] = [DEFAULT_PIPELINE, RENEWALS_PIPELINE];

/// The pipeline a deal is in: renewals (at the same, more or fewer seats) are worked in the
/// custom [`RENEWALS_PIPELINE`], new business and mid-term add-ons in the default one.
pub fn deal_pipeline(d: &SimDeal) -> &'static Pipeline {
    match d.motion {
        DealMotion::Renewal | DealMotion::Expansion | DealMotion::Contraction => &RENEWALS_PIPELINE,
        DealMotion::NewBusiness | DealMotion::AddOn => &DEFAULT_PIPELINE,
    }
}

/// The stage a deal is in, in its pipeline ([`deal_pipeline`]).
pub fn deal_stage(d: &SimDeal) -> &'static PipelineStage {
    let pipeline = deal_pipeline(d);
    let index = if pipeline.id == DEFAULT_PIPELINE.id {
        match d.stage {
            DealStage::Discovery => 0,
            DealStage::Qualified => 1,
            DealStage::Proposal => 2,
            DealStage::Commitment => 3,
            DealStage::Negotiation => 4,
            DealStage::Won => 5,
            DealStage::Lost => 6,
        }
    } else {
        match d.stage {
            DealStage::Discovery | DealStage::Qualified => 0,
            DealStage::Proposal | DealStage::Commitment => 1,
            DealStage::Negotiation => 2,
            DealStage::Won => 3,
            DealStage::Lost => 4,
        }
    };
    &pipeline.stages[index]
}

/// The portal's custom deal property saying what a deal does to the contract (HubSpot's own
/// `dealtype` only knows `newbusiness` and `existingbusiness`, which cannot tell a renewal from
/// an expansion).
pub const DEAL_MOTION_PROPERTY: &str = "deal_motion";

/// The [`DEAL_MOTION_PROPERTY`] value of a motion (the property's enumeration options).
pub fn deal_motion(motion: DealMotion) -> &'static str {
    match motion {
        DealMotion::NewBusiness => "new_business",
        DealMotion::Renewal => "renewal",
        DealMotion::Expansion => "expansion",
        DealMotion::Contraction => "contraction",
        DealMotion::AddOn => "add_on",
    }
}

/// When the simulated portal's pipelines and custom properties were set up.
pub(crate) const SCHEMA_CREATED_AT: &str = "2019-01-07T09:00:00.000Z";

pub(crate) fn pipeline_json(p: &Pipeline, display_order: usize) -> Value {
    let stages: Vec<Value> = p
        .stages
        .iter()
        .enumerate()
        .map(|(k, s)| {
            json!({
                "id": s.id,
                "label": s.label,
                "displayOrder": k,
                "metadata": {"isClosed": s.closed.to_string(), "probability": s.probability},
                "createdAt": SCHEMA_CREATED_AT,
                "updatedAt": SCHEMA_CREATED_AT,
                "archived": false,
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
            })
        })
        .collect();
    json!({
        "id": p.id,
        "label": p.label,
        "displayOrder": display_order,
        "stages": stages,
        "createdAt": SCHEMA_CREATED_AT,
        "updatedAt": SCHEMA_CREATED_AT,
        "archived": false,
    })
}

/// `GET /crm/v3/pipelines/{objectType}`: the deal pipelines with their stages (`metadata`
/// values are strings, as HubSpot sends them). Other objects have none here.
pub(crate) async fn list_pipelines(
    State(state): State<Arc<MockState>>,
    Path(object_type): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let rate_headers = state.rate_headers(false);
    let mut response = match HubspotObject::parse(&object_type) {
        Some(HubspotObject::Deals) => {
            let results: Vec<Value> = PIPELINES
                .iter()
                .enumerate()
                .map(|(k, p)| pipeline_json(p, k))
                .collect();
            json_response(StatusCode::OK, &json!({ "results": results }))
        }
        Some(_) => json_response(StatusCode::OK, &json!({"results": []})),
        None => error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to infer object type from: {object_type}"),
        ),
    };
    response.headers_mut().extend(rate_headers);
    response
}
