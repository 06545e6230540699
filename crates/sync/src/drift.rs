//! Schema drift (SPEC §6): a field of a stream's records that changes type or disappears is
//! found before the batch that shows it loads, and reported on the run, in the log and in
//! GraphQL, naming the field, its old and new type and the policy applied. Peers meet such a
//! change first as a failed load with an unreadable error (dlt#4340, #1840), or not at all.
//!
//! The tracker knows each stream's fields as JSON paths into the raw payload (`name`,
//! `properties.amount`, down to [`MAX_DEPTH`] levels of objects) with their JSON type, and
//! whether every record seen so far carried them. Nulls say nothing about a type, and a field
//! that only some records carry can be absent from a whole batch without having gone, so only
//! a field every record carried can disappear.

use std::collections::{BTreeMap, HashMap, HashSet};
use tributary_model::SourceRecord;
use tributary_store::{FieldSchema, SchemaDrift, SchemaUpdate};

/// How deep into nested objects fields are tracked; deeper objects are one `object` field.
pub const MAX_DEPTH: usize = 2;

/// What the engine does with records that show a type change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftPolicy {
    /// Load them as the connector mapped them (a value the mapping cannot read is already a
    /// reject), keep the raw payload with its new value, and adopt the new type.
    #[default]
    Evolve,
    /// Hold them in quarantine with their raw payload and the drift as the reason, and keep
    /// the old type, until someone decides; every run reports the drift again.
    Quarantine,
}

impl DriftPolicy {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftPolicy::Evolve => "evolve",
            DriftPolicy::Quarantine => "quarantine",
        }
    }
}

/// The JSON type name of a non-null value.
fn type_of(v: &serde_json::Value) -> Option<&'static str> {
    use serde_json::Value;
    Some(match v {
        Value::Null => return None,
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    })
}

#[derive(Debug, Clone)]
struct Known {
    json_type: String,
    always_present: bool,
}

#[derive(Debug, Default)]
struct Seen {
    /// Records carrying the field (null included).
    present: usize,
    /// Non-null types, with the first record showing each.
    types: BTreeMap<&'static str, usize>,
}

/// A batch's verdict: what to write to the stream's schema and the run, and which records
/// the policy holds back, with the reason.
#[derive(Debug, Default)]
pub struct Observation {
    /// The schema change and the drift found.
    pub update: SchemaUpdate,
    /// Indexes into the batch's records to quarantine instead of loading, with the reason.
    pub quarantine: Vec<(usize, String)>,
}

/// The known fields of one stream during one run.
#[derive(Debug)]
pub struct SchemaTracker {
    known: HashMap<String, Known>,
    policy: DriftPolicy,
    /// No record of this stream was ever seen: whatever the first batch carries in every
    /// record is always present.
    first: bool,
    /// Type changes already reported in this run (a quarantined change recurs every batch).
    reported: HashSet<(String, String)>,
}

impl SchemaTracker {
    /// A tracker starting from the fields the store knows.
    pub fn new(fields: Vec<FieldSchema>, policy: DriftPolicy) -> Self {
        Self {
            first: fields.is_empty(),
            known: fields
                .into_iter()
                .map(|f| {
                    (
                        f.field,
                        Known {
                            json_type: f.json_type,
                            always_present: f.always_present,
                        },
                    )
                })
                .collect(),
            policy,
            reported: HashSet::new(),
        }
    }

    /// Looks at a batch before it loads.
    pub fn observe(&mut self, records: &[SourceRecord]) -> Observation {
        let mut out = Observation::default();
        if records.is_empty() {
            return out;
        }
        let mut seen: HashMap<String, Seen> = HashMap::new();
        let mut path = String::new();
        for (i, r) in records.iter().enumerate() {
            walk(&r.raw, 0, &mut path, &mut |field, value| {
                let s = match seen.get_mut(field) {
                    Some(s) => s,
                    None => seen.entry(field.to_owned()).or_default(),
                };
                s.present += 1;
                if let Some(t) = type_of(value) {
                    s.types.entry(t).or_insert(i);
                }
            });
        }
        let n = records.len();
        let mut fields: Vec<(&String, &Seen)> = seen.iter().collect();
        fields.sort_by(|a, b| a.0.cmp(b.0));
        for (field, s) in fields {
            let everywhere = s.present == n;
            match self.known.get_mut(field.as_str()) {
                None => {
                    // A new field is recorded once it shows a type.
                    if let Some((t, _)) = s.types.iter().next() {
                        let known = Known {
                            json_type: (*t).to_owned(),
                            always_present: everywhere && self.first,
                        };
                        out.update.upsert.push(schema(field, &known));
                        self.known.insert(field.clone(), known);
                    }
                }
                Some(known) => {
                    let changed = s
                        .types
                        .iter()
                        .find(|(t, _)| **t != known.json_type.as_str());
                    if let Some((new_type, _)) = changed {
                        let new_type = (*new_type).to_owned();
                        let key = (field.clone(), new_type.clone());
                        let first_report = self.reported.insert(key);
                        match self.policy {
                            DriftPolicy::Evolve => {
                                out.update.drift.push(SchemaDrift {
                                    field: field.clone(),
                                    old_type: known.json_type.clone(),
                                    new_type: Some(new_type.clone()),
                                    policy: format!(
                                        "evolve: records load as mapped, the raw payload keeps the new value, and the field is now typed {new_type}"
                                    ),
                                });
                                known.json_type = new_type;
                                known.always_present &= everywhere;
                                out.update.upsert.push(schema(field, known));
                                continue;
                            }
                            DriftPolicy::Quarantine => {
                                let held: Vec<usize> = records
                                    .iter()
                                    .enumerate()
                                    .filter(|(_, r)| {
                                        lookup(&r.raw, field).and_then(type_of)
                                            == Some(new_type.as_str())
                                    })
                                    .map(|(i, _)| i)
                                    .collect();
                                let reason = format!(
                                    "schema drift: field `{field}` changed type from {} to {new_type}; held by drift_policy = \"quarantine\"",
                                    known.json_type
                                );
                                if first_report {
                                    out.update.drift.push(SchemaDrift {
                                        field: field.clone(),
                                        old_type: known.json_type.clone(),
                                        new_type: Some(new_type.clone()),
                                        policy: "quarantine: records with the new type are held in quarantine with their raw payload; the field keeps its old type".to_owned(),
                                    });
                                }
                                out.quarantine
                                    .extend(held.into_iter().map(|i| (i, reason.clone())));
                            }
                        }
                    }
                    if known.always_present && !everywhere {
                        known.always_present = false;
                        out.update.upsert.push(schema(field, known));
                    }
                }
            }
        }
        // A field every record carried that no record of this batch carries has gone.
        let mut gone: Vec<String> = self
            .known
            .iter()
            .filter(|(f, k)| k.always_present && !seen.contains_key(f.as_str()))
            .map(|(f, _)| f.clone())
            .collect();
        gone.sort();
        for field in gone {
            if let Some(k) = self.known.remove(&field) {
                out.update.drift.push(SchemaDrift {
                    field: field.clone(),
                    old_type: k.json_type,
                    new_type: None,
                    policy: "recorded: records load without it, and it leaves the stream's known fields (it is new again if it returns)".to_owned(),
                });
                out.update.remove.push(field);
            }
        }
        out.quarantine.sort_by_key(|(i, _)| *i);
        out.quarantine.dedup_by_key(|(i, _)| *i);
        self.first = false;
        out
    }
}

fn schema(field: &str, k: &Known) -> FieldSchema {
    FieldSchema {
        field: field.to_owned(),
        json_type: k.json_type.clone(),
        always_present: k.always_present,
    }
}

/// Calls `f` with the path and value of every field of `v` (an object), descending into
/// objects up to [`MAX_DEPTH`] levels.
fn walk(
    v: &serde_json::Value,
    depth: usize,
    path: &mut String,
    f: &mut dyn FnMut(&str, &serde_json::Value),
) {
    let serde_json::Value::Object(map) = v else {
        return;
    };
    for (key, value) in map {
        let len = path.len();
        if len > 0 {
            path.push('.');
        }
        path.push_str(key);
        match value {
            serde_json::Value::Object(_) if depth + 1 < MAX_DEPTH => {
                walk(value, depth + 1, path, f);
            }
            _ => f(path, value),
        }
        path.truncate(len);
    }
}

/// The value at a dotted `path` of `v`.
fn lookup<'v>(v: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    // Keys may contain dots themselves; walk the same way `walk` built the path.
    fn go<'v>(v: &'v serde_json::Value, rest: &str, depth: usize) -> Option<&'v serde_json::Value> {
        let map = v.as_object()?;
        if let Some(found) = map.get(rest) {
            return Some(found);
        }
        if depth + 1 >= MAX_DEPTH {
            return None;
        }
        map.iter().find_map(|(k, child)| {
            let tail = rest.strip_prefix(k.as_str())?.strip_prefix('.')?;
            go(child, tail, depth + 1)
        })
    }
    go(v, path, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use tributary_model::{Account, Entity, ExternalRef};

    fn record(raw: Value) -> SourceRecord {
        SourceRecord {
            external_ref: ExternalRef::new("hubspot", "hs", "companies", "1"),
            source_updated_at: None,
            raw,
            entity: Entity::Account(Account::named("Acme")),
        }
    }

    fn batch(raws: &[Value]) -> Vec<SourceRecord> {
        raws.iter().cloned().map(record).collect()
    }

    #[test]
    fn the_first_batch_records_fields_and_reports_nothing() {
        let mut t = SchemaTracker::new(Vec::new(), DriftPolicy::Evolve);
        let o = t.observe(&batch(&[
            json!({"id": "1", "properties": {"n": "5", "seats": null}, "tags": [1]}),
            json!({"id": "2", "properties": {"n": "7", "seats": 3}}),
        ]));
        assert!(o.update.drift.is_empty());
        let fields: Vec<(&str, &str, bool)> = o
            .update
            .upsert
            .iter()
            .map(|f| (f.field.as_str(), f.json_type.as_str(), f.always_present))
            .collect();
        assert_eq!(
            fields,
            [
                ("id", "string", true),
                ("properties.n", "string", true),
                ("properties.seats", "number", true),
                ("tags", "array", false),
            ]
        );
        // The same shape again changes nothing; `tags` was never in every record, so its
        // absence is not news.
        let o = t.observe(&batch(&[
            json!({"id": "3", "properties": {"n": "1", "seats": 1}}),
        ]));
        assert!(
            o.update.drift.is_empty() && o.update.upsert.is_empty(),
            "{o:?}"
        );
    }

    #[test]
    fn a_type_change_is_reported_with_old_and_new_type_and_evolves() {
        let known = vec![FieldSchema {
            field: "properties.seats".into(),
            json_type: "number".into(),
            always_present: true,
        }];
        let mut t = SchemaTracker::new(known, DriftPolicy::Evolve);
        let o = t.observe(&batch(&[json!({"properties": {"seats": "twelve"}})]));
        assert_eq!(o.update.drift.len(), 1);
        let d = &o.update.drift[0];
        assert_eq!(
            (d.field.as_str(), d.old_type.as_str(), d.new_type.as_deref()),
            ("properties.seats", "number", Some("string"))
        );
        assert!(d.policy.starts_with("evolve"), "{}", d.policy);
        assert!(o.quarantine.is_empty());
        // Adopted: the next batch of strings is not drift.
        assert!(
            t.observe(&batch(&[json!({"properties": {"seats": "9"}})]))
                .update
                .drift
                .is_empty()
        );
    }

    #[test]
    fn under_quarantine_the_drifted_records_are_held_and_reported_once() {
        let known = vec![FieldSchema {
            field: "amount".into(),
            json_type: "string".into(),
            always_present: true,
        }];
        let mut t = SchemaTracker::new(known, DriftPolicy::Quarantine);
        let o = t.observe(&batch(&[
            json!({"amount": "1"}),
            json!({"amount": 2}),
            json!({"amount": null}),
        ]));
        assert_eq!(o.update.drift.len(), 1);
        assert_eq!(o.quarantine.len(), 1);
        assert_eq!(o.quarantine[0].0, 1);
        assert!(
            o.quarantine[0]
                .1
                .contains("`amount` changed type from string to number")
        );
        let o = t.observe(&batch(&[json!({"amount": 3})]));
        assert!(o.update.drift.is_empty(), "reported once per run");
        assert_eq!(o.quarantine.len(), 1, "but held every time");
    }

    #[test]
    fn only_a_field_every_record_carried_can_disappear() {
        let known = vec![
            FieldSchema {
                field: "name".into(),
                json_type: "string".into(),
                always_present: true,
            },
            FieldSchema {
                field: "nickname".into(),
                json_type: "string".into(),
                always_present: false,
            },
        ];
        let mut t = SchemaTracker::new(known, DriftPolicy::Evolve);
        let o = t.observe(&batch(&[json!({"id": "1"})]));
        assert_eq!(o.update.drift.len(), 1, "{o:?}");
        assert_eq!(o.update.drift[0].field, "name");
        assert_eq!(o.update.drift[0].new_type, None);
        assert_eq!(o.update.remove, ["name"]);
        // A field that was null everywhere is present: not gone.
        let mut t = SchemaTracker::new(
            vec![FieldSchema {
                field: "name".into(),
                json_type: "string".into(),
                always_present: true,
            }],
            DriftPolicy::Evolve,
        );
        assert!(
            t.observe(&batch(&[json!({"name": null})]))
                .update
                .drift
                .is_empty()
        );
    }

    #[test]
    fn nested_paths_resolve_back_to_their_values() {
        let v = json!({"properties": {"a.b": 1, "c": {"d": 2}}, "e": 3});
        assert_eq!(lookup(&v, "properties.a.b"), Some(&json!(1)));
        assert_eq!(lookup(&v, "properties.c"), Some(&json!({"d": 2})));
        assert_eq!(lookup(&v, "e"), Some(&json!(3)));
        assert_eq!(lookup(&v, "x"), None);
    }
}
