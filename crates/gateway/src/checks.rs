//! Request checks and error handling run inside async-graphql as an extension:
//!
//! - the **cost and depth** limits and the document's own bounds ([`cost`]), checked on the
//!   parsed document before async-graphql validates it (the HTTP layer checks them even
//!   earlier, before async-graphql's own post-parse checks; this hook covers direct callers of
//!   `Schema::execute`). Depth counts the fields of the data
//!   schema only: GraphiQL's and BI tools' introspection query nests `ofType` nine levels
//!   under `__schema { types { fields { args { type …` and is bounded by the schema;
//! - **cooperative cancellation**: every field resolution spends tokio's task budget, so a
//!   query that resolves without waiting still yields and the HTTP layer can drop it at its
//!   deadline; and **fair sharing**: a request resolves a few root fields at a time, and
//!   expensive fields (declared in [`cost::DECLARED_COSTS`]) run a few at a time across all
//!   requests, so no request takes every store connection;
//! - a stable `extensions.code` on every parse and validation error;
//! - **null propagation** as the GraphQL spec has it (§6.4.4, "Handling Field Errors"):
//!   async-graphql leaves a failed field out of its parent object, and turns an object whose
//!   fields all failed into `null`, so `{ account(id: "x") { name } }` would answer
//!   `"data": null` instead of `"data": {"account": null}`. The resolve hook below catches
//!   every field error: a nullable field becomes `null`; a non-null one makes its parent
//!   `null` in turn, up to the nearest nullable field (or `data` itself);
//! - a marker telling the HTTP layer whether execution began, so a request error (no `data`
//!   entry, GraphQL-over-HTTP) can be told from an execution error (`data` present).

use crate::cost;
use crate::error::{code, set_code};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextResolve,
    NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value, Variables};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Semaphore;

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
    pub(crate) limits: cost::Limits,
    /// Root fields of one request resolved at once.
    pub(crate) fields_per_request: usize,
    /// Expensive fields ([`cost::DECLARED_COSTS`]) resolved at once, all requests together.
    pub(crate) expensive: Arc<Semaphore>,
}

impl ExtensionFactory for RequestChecks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestChecksExtension {
            limits: self.limits,
            root_fields: Semaphore::new(self.fields_per_request.max(1)),
            expensive: Arc::clone(&self.expensive),
            field_errors: Mutex::default(),
            propagating: AtomicBool::new(false),
        })
    }
}

/// One per request (async-graphql asks the factory for each).
struct RequestChecksExtension {
    limits: cost::Limits,
    /// Caps the root fields this request resolves at once: each reads the store, and 500
    /// aliases must not take every connection of the pool from the other requests.
    root_fields: Semaphore,
    /// Shared by all requests: caps the expensive fields resolved at once.
    expensive: Arc<Semaphore>,
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
            // Before validation, whose rules expand fragments without memory (see `cost`).
            Ok(doc) => {
                cost::check(&ctx.schema_env.registry, &doc, variables, self.limits)?;
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
        // Cost and depth were decided in `parse_query`, on the document as written.
        match next.run(ctx).await {
            Ok(result) => Ok(result),
            Err(mut errors) => {
                for e in &mut errors {
                    set_code(e, code::VALIDATION_FAILED);
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
        // Cooperative cancellation: a field that resolves without waiting on anything (a
        // large in-memory list, introspection) would otherwise run the whole response in one
        // poll, and the query timeout, which drops the request's task, could not stop it.
        tokio::task::consume_budget().await;
        let _root = if info.path_node.parent.is_none() {
            Some(self.root_fields.acquire().await)
        } else {
            None
        };
        let _expensive = if cost::field_cost(info.parent_type, info.name) > 1 {
            Some(self.expensive.acquire().await)
        } else {
            None
        };
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
