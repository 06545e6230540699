//! Deal pipelines (`GET /crm/v3/pipelines/deals`,
//! <https://developers.hubspot.com/docs/api/crm/pipelines>): which stage of which pipeline means
//! a deal is won.
//!
//! A deal's `dealstage` is an id that only means something within its `pipeline`. The default
//! pipeline's ids are names (`closedwon`), but every custom pipeline's are numbers
//! (`4811304`), so `dealstage == "closedwon"` misses every deal won in a custom pipeline (a
//! renewals pipeline, typically). A stage is won when its metadata says it is closed with a
//! probability of 1.0; the calculated `hs_is_closed_won` says the same and is the fallback for a
//! stage the pipelines did not list. No I/O here: the connector fetches the body once per run
//! of the `deals` stream.

use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::HashMap;
use std::str::FromStr;
use tributary_connector::map::{array, id_text};

/// One stage of a deal pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The pipeline's label (`Sales Pipeline`, `Renewals`).
    pub pipeline_label: String,
    /// The stage's label (`Closed Won`, `Renewed`).
    pub label: String,
    /// `metadata.isClosed`.
    pub closed: bool,
    /// `metadata.probability`, when it is a number.
    pub probability: Option<Decimal>,
}

impl Stage {
    /// Closed with a win probability of 1.0.
    pub fn is_won(&self) -> bool {
        self.closed && self.probability == Some(Decimal::ONE)
    }
}

/// The portal's deal pipelines, by pipeline and stage id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pipelines {
    stages: HashMap<(String, String), Stage>,
    /// For a deal without a `pipeline`: the pipelines each stage id occurs in.
    by_stage: HashMap<String, Vec<String>>,
    labels: HashMap<String, String>,
}

impl Pipelines {
    /// Parses a `GET /crm/v3/pipelines/deals` body. Archived pipelines and stages are kept
    /// (old deals still sit in them); a stage without an id is skipped; the error says what
    /// the body lacks.
    pub fn parse(body: &Value) -> Result<Self, String> {
        let results = body
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| "pipelines response has no `results` array".to_owned())?;
        let mut out = Pipelines::default();
        for pipeline in results {
            let Some(pipeline_id) = pipeline.get("id").and_then(id_text) else {
                continue;
            };
            let pipeline_label = pipeline
                .get("label")
                .and_then(Value::as_str)
                .unwrap_or(&pipeline_id)
                .to_owned();
            for stage in array(pipeline, "stages") {
                let Some(stage_id) = stage.get("id").and_then(id_text) else {
                    continue;
                };
                let metadata = stage.get("metadata");
                let text = |name: &str| -> Option<String> {
                    match metadata?.get(name)? {
                        Value::String(s) => Some(s.trim().to_owned()),
                        Value::Bool(b) => Some(b.to_string()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    }
                };
                let closed = text("isClosed").is_some_and(|v| v.eq_ignore_ascii_case("true"));
                let probability = text("probability").and_then(|p| Decimal::from_str(&p).ok());
                out.by_stage
                    .entry(stage_id.clone())
                    .or_default()
                    .push(pipeline_id.clone());
                out.stages.insert(
                    (pipeline_id.clone(), stage_id.clone()),
                    Stage {
                        pipeline_label: pipeline_label.clone(),
                        label: stage
                            .get("label")
                            .and_then(Value::as_str)
                            .unwrap_or(&stage_id)
                            .to_owned(),
                        closed,
                        probability,
                    },
                );
            }
            out.labels.insert(pipeline_id, pipeline_label);
        }
        Ok(out)
    }

    /// The stage `stage` of `pipeline`; without a pipeline, the stage of that id when exactly
    /// one pipeline has it.
    pub fn stage(&self, pipeline: Option<&str>, stage: &str) -> Option<&Stage> {
        let pipeline = match pipeline {
            Some(p) => p.to_owned(),
            None => match self.by_stage.get(stage).map(Vec::as_slice) {
                Some([only]) => only.clone(),
                _ => return None,
            },
        };
        self.stages.get(&(pipeline, stage.to_owned()))
    }

    /// The label of a pipeline.
    pub fn pipeline_label(&self, pipeline: &str) -> Option<&str> {
        self.labels.get(pipeline).map(String::as_str)
    }

    /// How many stages all pipelines have.
    pub fn stage_count(&self) -> usize {
        self.stages.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn won_stages_are_closed_with_probability_one_in_any_pipeline() {
        let body = json!({"results": [
            {"id": "default", "label": "Sales Pipeline", "archived": false, "stages": [
                {"id": "contractsent", "label": "Contract Sent", "metadata": {"isClosed": "false", "probability": "0.9"}},
                {"id": "closedwon", "label": "Closed Won", "metadata": {"isClosed": "true", "probability": "1.0"}},
                {"id": "closedlost", "label": "Closed Lost", "metadata": {"isClosed": "true", "probability": "0.0"}},
            ]},
            {"id": 1487, "label": "Renewals", "stages": [
                {"id": "4811304", "label": "Renewed", "metadata": {"isClosed": true, "probability": 1}},
                {"id": "4811306", "label": "Paused", "metadata": {"isClosed": "true", "probability": "0.5"}},
                {"id": "4811307", "label": "Odd", "metadata": {"isClosed": "true", "probability": "n/a"}},
                {"label": "no id"},
            ]},
            {"label": "no id"},
        ]});
        let p = Pipelines::parse(&body).unwrap();
        assert_eq!(p.stage_count(), 6);
        let won = |pipeline: Option<&str>, stage: &str| p.stage(pipeline, stage).map(Stage::is_won);
        assert_eq!(won(Some("default"), "closedwon"), Some(true));
        assert_eq!(won(Some("default"), "closedlost"), Some(false));
        assert_eq!(won(Some("default"), "contractsent"), Some(false));
        assert_eq!(won(Some("1487"), "4811304"), Some(true));
        assert_eq!(won(Some("1487"), "4811306"), Some(false));
        assert_eq!(won(Some("1487"), "4811307"), Some(false));
        assert_eq!(
            won(Some("1487"), "closedwon"),
            None,
            "stage ids are per pipeline"
        );
        assert_eq!(won(Some("99"), "closedwon"), None);
        assert_eq!(won(None, "4811304"), Some(true), "unique stage id");
        let renewed = p.stage(Some("1487"), "4811304").unwrap();
        assert_eq!(
            (renewed.label.as_str(), renewed.pipeline_label.as_str()),
            ("Renewed", "Renewals")
        );
        assert_eq!(p.pipeline_label("1487"), Some("Renewals"));
        assert!(Pipelines::parse(&json!({"status": "error"})).is_err());
        assert_eq!(
            Pipelines::parse(&json!({"results": []}))
                .unwrap()
                .stage_count(),
            0
        );
    }
}
