//! Request checks and error handling run inside async-graphql as an extension:
//!
//! - the **depth** limit, counted over the fields of the data schema only. Introspection is
//!   left out: GraphiQL's and BI tools' introspection query nests `ofType` nine levels under
//!   `__schema { types { fields { args { type …` (depth ~15) and is bounded by the schema, not
//!   by data, so counting it would lock tools out for no gain;
//! - the **complexity** limit (async-graphql computes it; list fields multiply their selection
//!   by `first`);
//! - a stable `extensions.code` on every parse and validation error;
//! - **null propagation** as the GraphQL spec has it (§6.4.4, "Handling Field Errors"):
//!   async-graphql leaves a failed field out of its parent object, and turns an object whose
//!   fields all failed into `null`, so `{ account(id: "x") { name } }` would answer
//!   `"data": null` instead of `"data": {"account": null}`. The resolve hook below catches
//!   every field error: a nullable field becomes `null`; a non-null one makes its parent
//!   `null` in turn, up to the nearest nullable field (or `data` itself);
//! - a marker telling the HTTP layer whether execution began, so a request error (no `data`
//!   entry, GraphQL-over-HTTP) can be told from an execution error (`data` present).

use crate::error::{code, server_error, set_code};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextResolve,
    NextValidation, ResolveInfo,
};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{
    Name, Positioned, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Set by the extension when execution of the operation begins. The HTTP layer puts one in
/// each request's data and reads it after the request ran.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExecutionMarker(Arc<AtomicBool>);

impl ExecutionMarker {
    /// Whether execution began.
    pub(crate) fn executed(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The extension factory; see the module docs.
pub(crate) struct RequestChecks {
    pub(crate) max_depth: usize,
    pub(crate) max_complexity: usize,
}

impl ExtensionFactory for RequestChecks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestChecksExtension {
            max_depth: self.max_depth,
            max_complexity: self.max_complexity,
            field_errors: Mutex::default(),
            propagating: AtomicBool::new(false),
        })
    }
}

/// One per request (async-graphql asks the factory for each).
struct RequestChecksExtension {
    max_depth: usize,
    max_complexity: usize,
    /// Errors of fields caught by the resolve hook, added to the response at the end.
    field_errors: Mutex<Vec<ServerError>>,
    /// Whether a non-null field failed, so parents must look for [`PROPAGATE`] children.
    propagating: AtomicBool,
}

/// Stands in, inside the parent's value, for a non-null field that failed, until the parent's
/// own resolve hook replaces the parent with `null` (or with this marker, if it is non-null
/// too). It never reaches a client: the NUL bytes keep it from colliding with real data, and
/// it is only looked for once a non-null field has failed.
const PROPAGATE: &str = "\0tributary: null propagates to the parent\0";

fn is_propagate(v: &Value) -> bool {
    matches!(v, Value::String(s) if s == PROPAGATE)
}

/// Settles a field value of GraphQL type `ty` (`[Person!]!`): replaces items and objects that
/// hold a failed non-null field with `null` where their type allows it. Returns `true` when
/// the value itself must propagate to its parent (it is non-null and could not be settled).
fn settle(value: &mut Value, ty: &str) -> bool {
    if let Some(inner) = ty.strip_suffix('!') {
        return must_propagate(value, inner);
    }
    if must_propagate(value, ty) {
        *value = Value::Null;
    }
    false
}

/// Whether a value of nullable type `ty` must become `null`.
fn must_propagate(value: &mut Value, ty: &str) -> bool {
    if is_propagate(value) {
        return true;
    }
    match value {
        Value::List(items) => match ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            Some(item_ty) => {
                let mut propagate = false;
                for item in items.iter_mut() {
                    propagate |= settle(item, item_ty);
                }
                propagate
            }
            None => false,
        },
        Value::Object(fields) => fields.values().any(is_propagate),
        _ => false,
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestChecksExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        match next.run(ctx, query, variables).await {
            Ok(doc) => {
                let depth = document_depth(&doc);
                if depth > self.max_depth {
                    return Err(server_error(
                        format!(
                            "query nests fields {depth} deep; the limit is {}",
                            self.max_depth
                        ),
                        code::QUERY_TOO_DEEP,
                    ));
                }
                Ok(doc)
            }
            Err(mut e) => {
                set_code(&mut e, code::GRAPHQL_PARSE_FAILED);
                Err(e)
            }
        }
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        match next.run(ctx).await {
            Ok(result) if result.complexity > self.max_complexity => Err(vec![server_error(
                format!(
                    "query complexity is {}; the limit is {} (ask for smaller pages or fewer fields)",
                    result.complexity, self.max_complexity
                ),
                code::QUERY_TOO_COMPLEX,
            )]),
            Ok(result) => Ok(result),
            Err(mut errors) => {
                for e in &mut errors {
                    set_code(e, code::GRAPHQL_VALIDATION_FAILED);
                }
                Err(errors)
            }
        }
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(marker) = ctx.data_opt::<ExecutionMarker>() {
            marker.0.store(true, Ordering::Release);
        }
        let mut response = next.run(ctx, operation_name).await;
        let caught = std::mem::take(
            &mut *self
                .field_errors
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        response.errors.extend(caught);
        crate::error::log_internal(&response.errors);
        // The root object is the nearest nullable parent of a failed non-null root field.
        if self.propagating.load(Ordering::Acquire) && must_propagate(&mut response.data, "Query") {
            response.data = Value::Null;
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let ty = info.return_type;
        match next.run(ctx, info).await {
            Ok(Some(mut value)) => {
                if self.propagating.load(Ordering::Acquire) && settle(&mut value, ty) {
                    return Ok(Some(Value::String(PROPAGATE.to_owned())));
                }
                Ok(Some(value))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.field_errors
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(e);
                if ty.ends_with('!') {
                    self.propagating.store(true, Ordering::Release);
                    Ok(Some(Value::String(PROPAGATE.to_owned())))
                } else {
                    Ok(Some(Value::Null))
                }
            }
        }
    }
}

/// The deepest nesting of fields in any operation of `doc`, fragments expanded, introspection
/// fields (`__schema`, `__type`) and what they select not counted.
pub(crate) fn document_depth(doc: &ExecutableDocument) -> usize {
    let mut walker = DepthWalker {
        fragments: &doc.fragments,
        active: Vec::new(),
    };
    doc.operations
        .iter()
        .map(|(_, op)| walker.selection_set(&op.node.selection_set))
        .max()
        .unwrap_or(0)
}

struct DepthWalker<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// Fragments being expanded, to stop on cycles (validation reports them).
    active: Vec<&'a str>,
}

impl<'a> DepthWalker<'a> {
    fn selection_set(&mut self, set: &'a Positioned<SelectionSet>) -> usize {
        let mut deepest = 0;
        for item in &set.node.items {
            let depth = match &item.node {
                Selection::Field(f) => {
                    if f.node.name.node.starts_with("__") {
                        0
                    } else {
                        1 + self.selection_set(&f.node.selection_set)
                    }
                }
                Selection::InlineFragment(f) => self.selection_set(&f.node.selection_set),
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    match self.fragments.get(name) {
                        Some(def) if !self.active.contains(&name) => {
                            self.active.push(name);
                            let d = self.selection_set(&def.node.selection_set);
                            self.active.pop();
                            d
                        }
                        _ => 0,
                    }
                }
            };
            deepest = deepest.max(depth);
        }
        deepest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn depth(q: &str) -> usize {
        document_depth(&parse_query(q).unwrap())
    }

    #[test]
    fn depth_counts_nested_fields_through_fragments() {
        assert_eq!(depth("{ a }"), 1);
        assert_eq!(depth("{ a { b { c } } d }"), 3);
        assert_eq!(depth("{ a { ...F } } fragment F on T { b { c { d } } }"), 4);
        assert_eq!(depth("{ a { ... on T { b { c } } } }"), 3);
        assert_eq!(depth("query A { a } query B { a { b } }"), 2);
    }

    fn v(json: serde_json::Value) -> Value {
        Value::from_json(json).unwrap()
    }

    #[test]
    fn failed_non_null_fields_null_their_nearest_nullable_parent() {
        let p = serde_json::Value::String(PROPAGATE.to_owned());
        // A nullable object with a failed non-null field becomes null.
        let mut a = v(serde_json::json!({"name": "A", "id": p}));
        assert!(!settle(&mut a, "Account"));
        assert_eq!(a, Value::Null);
        // A non-null one propagates further.
        let mut a = v(serde_json::json!({"name": "A", "id": p}));
        assert!(settle(&mut a, "Account!"));
        // Items: a nullable item becomes null, a non-null item takes the list with it.
        let mut l = v(serde_json::json!([{"id": "1"}, {"id": p}]));
        assert!(!settle(&mut l, "[Person]!"));
        assert_eq!(l, v(serde_json::json!([{"id": "1"}, null])));
        let mut l = v(serde_json::json!([{"id": "1"}, {"id": p}]));
        assert!(!settle(&mut l, "[Person!]"));
        assert_eq!(l, Value::Null);
        let mut l = v(serde_json::json!([{"id": "1"}, {"id": p}]));
        assert!(settle(&mut l, "[Person!]!"));
        // Healthy values are left alone.
        let mut ok = v(serde_json::json!({"people": [{"id": "1"}], "n": 3}));
        assert!(!settle(&mut ok, "Account!"));
        assert_eq!(ok, v(serde_json::json!({"people": [{"id": "1"}], "n": 3})));
    }

    #[test]
    fn depth_ignores_introspection_and_survives_cycles() {
        assert_eq!(
            depth("{ __schema { types { fields { type { ofType { name } } } } } }"),
            0
        );
        assert_eq!(depth("{ __typename a { __typename } }"), 1);
        assert_eq!(depth("{ a { ...F } } fragment F on T { b { ...F } }"), 2);
        assert_eq!(depth("{ a { ...Missing } }"), 1);
    }
}
