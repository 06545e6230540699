//! GraphQL over HTTP (<https://graphql.github.io/graphql-over-http/draft/>), written out here
//! rather than taken from async-graphql-axum so that status codes, media types and error
//! shapes follow the spec:
//!
//! - `POST /graphql` with `Content-Type: application/json` (anything else: 415) and a JSON
//!   object `{query, operationName?, variables?, extensions?}` (anything else: 400);
//! - `GET /graphql?query=…&operationName=…&variables=<json>&extensions=<json>`; a mutation over
//!   GET is refused with 405;
//! - the response is `application/graphql-response+json` when the client's `Accept` header
//!   prefers it, `application/json` when it accepts JSON (`*/*` included) or sends no
//!   `Accept`, and 406 otherwise;
//! - a request error (the document does not parse or validate, a limit is exceeded) has no
//!   `data` entry and status 400 under `application/graphql-response+json`, 200 under
//!   `application/json`; once execution began the status is 200 and `data` is present.

use crate::auth::Principal;
use crate::checks::ExecutionMarker;
use crate::error::{code, has_code, server_error, set_code};
use crate::metrics::{GraphqlOutcome, Outcome};
use crate::{AppState, TributarySchema};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{ServerError, Variables};
use axum::body::Bytes;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What the GraphQL handlers share.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) state: AppState,
    pub(crate) schema: TributarySchema,
    /// This replica's request metrics.
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// This replica's persisted-query cache and allow-list.
    pub(crate) apq: Arc<crate::apq::Apq>,
    /// Flips to `true` when the server's shutdown grace period is over: queries still running
    /// are cancelled.
    pub(crate) cancel: tokio::sync::watch::Receiver<bool>,
    /// The schema's types, for [`crate::cost`].
    pub(crate) registry: Arc<async_graphql::registry::Registry>,
    /// The cost bounds of the configuration.
    pub(crate) limits: crate::cost::Limits,
}

/// Aborts a spawned query when the handler that waits for it is dropped (the client went
/// away) or gives up on it (timeout, shutdown).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The media type of a GraphQL response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MediaType {
    /// `application/graphql-response+json`: status codes describe request errors.
    GraphqlResponse,
    /// `application/json`: the legacy type; request errors still answer 200.
    Json,
}

pub(crate) const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

impl MediaType {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            MediaType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        })
    }
}

/// One media range of an `Accept` header: its essence (`type/subtype`, lower-case), its
/// quality, and whether its parameters allow UTF-8.
fn media_ranges(accept: &str) -> impl Iterator<Item = (String, f32)> + '_ {
    accept.split(',').filter_map(|range| {
        let mut parts = range.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        if essence.is_empty() {
            return None;
        }
        let mut q = 1.0_f32;
        for param in parts {
            let (name, value) = param.split_once('=')?;
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "q" => {
                    q = value
                        .parse()
                        .ok()
                        .filter(|q: &f32| (0.0..=1.0).contains(q))?
                }
                "charset" if !value.eq_ignore_ascii_case("utf-8") => return None,
                _ => {}
            }
        }
        Some((essence, q))
    })
}

/// The response media type for an `Accept` header; `None` when it admits neither.
pub(crate) fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let accept: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .collect();
    // No preference: the spec asks servers to assume `application/json`.
    if accept.is_empty() {
        return Some(MediaType::Json);
    }
    let (mut graphql_q, mut json_q) = (0.0_f32, 0.0_f32);
    for (essence, q) in accept.iter().flat_map(|a| media_ranges(a)) {
        match essence.as_str() {
            GRAPHQL_RESPONSE_JSON => graphql_q = graphql_q.max(q),
            // Wildcards get the legacy type, which every client understands.
            JSON | "application/*" | "*/*" => json_q = json_q.max(q),
            _ => {}
        }
    }
    if graphql_q > 0.0 && graphql_q >= json_q {
        Some(MediaType::GraphqlResponse)
    } else if json_q > 0.0 {
        Some(MediaType::Json)
    } else {
        None
    }
}

pub(crate) fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(media_ranges)
        .any(|(essence, q)| essence == "text/html" && q > 0.0)
}

/// A GraphQL response body. `data` is left out (not `null`) for request errors.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, async_graphql::Value>,
}

fn respond(status: StatusCode, media: MediaType, body: &Body<'_>) -> Response {
    let json = match serde_json::to_vec(body) {
        Ok(json) => json,
        Err(e) => {
            // A GraphQL value always serialises; this guards against a future non-string key.
            tracing::error!(error = %e, "failed to serialise a GraphQL response");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let mut response = (status, json).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, media.content_type());
    headers.insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// A response carrying one error and no `data`.
pub(crate) fn error_response(
    status: StatusCode,
    media: MediaType,
    code: &'static str,
    message: impl Into<String>,
) -> Response {
    let errors = [server_error(message, code)];
    let mut response = respond(
        status,
        media,
        &Body {
            errors: &errors,
            data: None,
            extensions: &BTreeMap::new(),
        },
    );
    // Counted by the metrics as a refused GraphQL request (`not_found` takes it off).
    response.extensions_mut().insert(GraphqlOutcome {
        operation: None,
        outcome: Outcome::Rejected,
        codes: vec![code.to_owned()],
    });
    response
}

/// The parameters of a GraphQL-over-HTTP request.
#[derive(Debug, Default)]
pub(crate) struct Params {
    /// The document; absent only when a persisted-query hash stands for it.
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<serde_json::Map<String, serde_json::Value>>,
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A map parameter: a JSON object, or null/absent.
fn map_param(
    name: &str,
    value: Option<serde_json::Value>,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, String> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(format!(
            "`{name}` must be an object or null, got {}",
            json_type(&other)
        )),
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

impl Params {
    /// The parameters of a POST body.
    pub(crate) fn from_json(body: serde_json::Value) -> Result<Params, String> {
        let serde_json::Value::Object(mut body) = body else {
            return Err(format!(
                "the request body must be a JSON object, got {}",
                json_type(&body)
            ));
        };
        let query = match body.remove("query") {
            Some(serde_json::Value::String(q)) => Some(q),
            None | Some(serde_json::Value::Null) => None,
            Some(other) => {
                return Err(format!(
                    "`query` must be a string, got {}",
                    json_type(&other)
                ));
            }
        };
        let operation_name = match body.remove("operationName") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s),
            Some(other) => {
                return Err(format!(
                    "`operationName` must be a string or null, got {}",
                    json_type(&other)
                ));
            }
        };
        let params = Params {
            query,
            operation_name,
            variables: map_param("variables", body.remove("variables"))?,
            extensions: map_param("extensions", body.remove("extensions"))?,
        };
        params.require_query("the request has no `query`")
    }

    /// `self`, unless it has neither a query nor a persisted-query hash.
    fn require_query(self, message: &str) -> Result<Params, String> {
        if self.query.is_none() && !crate::apq::has_persisted_query(self.extensions.as_ref()) {
            return Err(message.to_owned());
        }
        Ok(self)
    }

    /// The parameters of a GET query string.
    pub(crate) fn from_query_string(raw: &str) -> Result<Params, String> {
        let pairs: Vec<(String, String)> =
            form_pairs(raw).map_err(|e| format!("malformed query string: {e}"))?;
        let mut params = Params::default();
        let mut query = None;
        let mut seen = Vec::new();
        for (key, value) in pairs {
            if !matches!(
                key.as_str(),
                "query" | "operationName" | "variables" | "extensions"
            ) {
                continue;
            }
            if seen.contains(&key) {
                return Err(format!("`{key}` is given more than once"));
            }
            seen.push(key.clone());
            let json = |name: &str, v: &str| {
                serde_json::from_str::<serde_json::Value>(v)
                    .map_err(|e| format!("`{name}` is not JSON: {e}"))
            };
            match key.as_str() {
                "query" => query = Some(value),
                "operationName" => params.operation_name = Some(value).filter(|v| !v.is_empty()),
                "variables" => {
                    params.variables = map_param("variables", Some(json("variables", &value)?))?;
                }
                _ => {
                    params.extensions = map_param("extensions", Some(json("extensions", &value)?))?;
                }
            }
        }
        params.query = query;
        params.require_query("the request has no `query` parameter")
    }
}

/// `application/x-www-form-urlencoded` pairs, through axum's own decoder.
fn form_pairs(raw: &str) -> Result<Vec<(String, String)>, String> {
    let uri: axum::http::Uri = format!("/?{raw}")
        .parse()
        .map_err(|e: axum::http::uri::InvalidUri| e.to_string())?;
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| e.body_text())
}

/// Whether the POST body is declared as JSON in UTF-8.
fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = ct.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(JSON)
        && parts.all(|p| match p.split_once('=') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
                value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
}

fn not_acceptable() -> Response {
    error_response(
        StatusCode::NOT_ACCEPTABLE,
        MediaType::Json,
        code::NOT_ACCEPTABLE,
        format!(
            "this endpoint answers `{GRAPHQL_RESPONSE_JSON}` or `{JSON}`; the `Accept` header admits neither"
        ),
    )
}

/// `POST /graphql`.
pub(crate) async fn graphql_post(
    State(shared): State<Shared>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    if !is_json_content_type(&headers) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            code::UNSUPPORTED_MEDIA_TYPE,
            "send the request as `Content-Type: application/json`",
        );
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return error_response(
            StatusCode::BAD_REQUEST,
            media,
            code::BAD_REQUEST,
            "the request body is empty; send {\"query\": \"…\"}",
        );
    }
    let params = serde_json::from_slice::<serde_json::Value>(&body)
        .map_err(|e| format!("the request body is not JSON: {e}"))
        .and_then(Params::from_json);
    match params {
        Ok(params) => execute(&shared, media, params, Method::POST, principal).await,
        Err(message) => error_response(StatusCode::BAD_REQUEST, media, code::BAD_REQUEST, message),
    }
}

/// `GET /graphql`; GraphiQL for a browser that asks for the bare endpoint.
pub(crate) async fn graphql_get(
    State(shared): State<Shared>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    if raw.is_empty() && shared.state.config.graphiql && accepts_html(&headers) {
        return crate::graphiql::page().await;
    }
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let limit = shared.state.config.body_limit_bytes;
    if raw.len() > limit {
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            media,
            code::PAYLOAD_TOO_LARGE,
            format!("the query string is larger than the limit of {limit} bytes"),
        );
    }
    match Params::from_query_string(&raw) {
        Ok(params) => execute(&shared, media, params, Method::GET, principal).await,
        Err(message) => error_response(StatusCode::BAD_REQUEST, media, code::BAD_REQUEST, message),
    }
}

/// The operation a request selects.
struct Selected {
    ty: OperationType,
    /// The [`Shape`] of its selection (response keys in query order, fragments expanded, at
    /// every level), by which the response's `data` is ordered.
    shape: Shape,
    /// Its name, when it has one.
    name: Option<String>,
    /// Whether it asks for `__schema` or `__type` anywhere.
    introspects: bool,
}

/// The operation the request selects. `None` when the document does not parse or names no
/// operation.
fn selected_operation(request: &mut async_graphql::Request) -> Option<Selected> {
    let name = request.operation_name.clone();
    let doc = request.parsed_query().ok()?;
    let (op, name) = match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => (op, None),
        (DocumentOperations::Multiple(ops), Some(name)) => (ops.get(name.as_str())?, Some(name)),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            let (name, op) = ops.iter().next()?;
            (op, Some(name.to_string()))
        }
        (DocumentOperations::Multiple(_), None) => return None,
    };
    let introspects = crate::switches::asks_introspection(doc, &op.node.selection_set.node);
    let mut shape = Shape::default();
    let mut budget = SHAPE_BUDGET;
    shape.add(
        doc,
        &op.node.selection_set.node,
        &mut Vec::new(),
        &mut budget,
    );
    Some(Selected {
        ty: op.node.ty,
        shape,
        name,
        introspects,
    })
}

/// Most fields a [`Shape`] records. The shape is built before the query is validated, so a
/// document whose fragments expand without end (a "fragment bomb", which the complexity
/// limit then refuses) must not make it grow without end either; past the budget the rest of
/// the response keeps the executor's order.
const SHAPE_BUDGET: usize = 20_000;

/// The response keys a selection set asks for, in the query's order, each with the shape of
/// its own selection (fields of the same key merged, as the executor merges them).
#[derive(Debug, Default)]
struct Shape(Vec<(String, Shape)>);

impl Shape {
    /// Adds the fields of `set` (fragments expanded where they are spread; a fragment inside
    /// itself is skipped), spending one unit of `budget` per field.
    fn add<'d>(
        &mut self,
        doc: &'d async_graphql::parser::types::ExecutableDocument,
        set: &'d async_graphql::parser::types::SelectionSet,
        visiting: &mut Vec<&'d str>,
        budget: &mut usize,
    ) {
        use async_graphql::parser::types::Selection;
        for item in &set.items {
            // Spreads spend the budget too: a fragment of spreads only still expands.
            if *budget == 0 {
                return;
            }
            *budget -= 1;
            match &item.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.as_str();
                    let at = match self.0.iter().position(|(k, _)| k == key) {
                        Some(at) => at,
                        None => {
                            self.0.push((key.to_owned(), Shape::default()));
                            self.0.len() - 1
                        }
                    };
                    self.0[at]
                        .1
                        .add(doc, &field.node.selection_set.node, visiting, budget);
                }
                Selection::InlineFragment(fragment) => {
                    self.add(doc, &fragment.node.selection_set.node, visiting, budget);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if visiting.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = doc.fragments.get(name) {
                        visiting.push(name);
                        self.add(doc, &fragment.node.selection_set.node, visiting, budget);
                        visiting.pop();
                    }
                }
            }
        }
    }

    /// Puts the fields of `value` in this shape's order, at every level (each item of a list
    /// alike). The executor resolves sibling fields concurrently and records each as it
    /// finishes, and the root types merge one object per domain; the spec orders a response
    /// by its selection set (GraphQL §6.3.2, "CollectFields").
    fn order(&self, value: &mut async_graphql::Value) {
        match value {
            async_graphql::Value::Object(map) => {
                let mut ordered = async_graphql::indexmap::IndexMap::with_capacity(map.len());
                for (key, shape) in &self.0 {
                    if let Some((name, mut value)) = map.shift_remove_entry(key.as_str()) {
                        shape.order(&mut value);
                        ordered.insert(name, value);
                    }
                }
                ordered.extend(std::mem::take(map));
                *map = ordered;
            }
            async_graphql::Value::List(items) => {
                for item in items {
                    self.order(item);
                }
            }
            _ => {}
        }
    }
}

/// The status of a request error (no `data`): 400 under `application/graphql-response+json`,
/// 200 under the legacy `application/json`.
fn request_error_status(media: MediaType) -> StatusCode {
    match media {
        MediaType::GraphqlResponse => StatusCode::BAD_REQUEST,
        MediaType::Json => StatusCode::OK,
    }
}

/// `response` with the operation's name recorded for the metrics.
fn named(mut response: Response, operation: Option<String>) -> Response {
    if let Some(outcome) = response.extensions_mut().get_mut::<GraphqlOutcome>() {
        outcome.operation = operation;
    }
    response
}

async fn execute(
    shared: &Shared,
    media: MediaType,
    params: Params,
    method: Method,
    principal: Option<Extension<Principal>>,
) -> Response {
    let operation = params.operation_name.clone();
    let response = execute_named(shared, media, params, method, principal).await;
    match response.extensions().get::<GraphqlOutcome>() {
        Some(o) if o.operation.is_none() => named(response, operation),
        _ => response,
    }
}

async fn execute_named(
    shared: &Shared,
    media: MediaType,
    params: Params,
    method: Method,
    principal: Option<Extension<Principal>>,
) -> Response {
    // `auth::require` runs in front of every GraphQL request; without its principal nothing runs.
    let Some(Extension(principal)) = principal else {
        return error_response(
            StatusCode::UNAUTHORIZED,
            media,
            code::UNAUTHENTICATED,
            "this endpoint needs an API key",
        );
    };
    // Persisted queries first: in allow-list mode a query off the list is refused before
    // anything parses it.
    let query = match shared.apq.resolve(params.query, params.extensions.as_ref()) {
        Ok(query) => query,
        Err(refusal) => {
            return error_response(
                request_error_status(media),
                media,
                refusal.code,
                refusal.message,
            );
        }
    };
    // Before anything parses the document.
    if let Err(e) = crate::cost::nesting(&query) {
        return refused(media, e);
    }
    let mut request = async_graphql::Request::new(query);
    request.operation_name = params.operation_name;
    if let Some(vars) = params.variables {
        request.variables = Variables::from_json(serde_json::Value::Object(vars));
    }
    for (key, value) in params.extensions.into_iter().flatten() {
        match async_graphql::Value::from_json(value) {
            Ok(v) => {
                request.extensions.0.insert(key, v);
            }
            Err(e) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    media,
                    code::BAD_REQUEST,
                    format!("extension `{key}` is not a GraphQL value: {e}"),
                );
            }
        }
    }
    // The cost bounds, on the parsed document before async-graphql sees it: its own checks
    // after parsing (recursion depth, directives) and its validation expand fragments
    // without memory. A document that does not parse is reported by `execute` below.
    if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
        if let Err(e) =
            crate::cost::check(&shared.registry, &doc, &request.variables, shared.limits)
        {
            return refused(media, e);
        }
        request.set_parsed_query(doc);
    }
    let selected = selected_operation(&mut request);
    let name = selected.as_ref().and_then(|s| s.name.clone());
    if !shared.state.config.introspection && selected.as_ref().is_some_and(|s| s.introspects) {
        return named(
            error_response(
                request_error_status(media),
                media,
                code::INTROSPECTION_DISABLED,
                "introspection is disabled on this server",
            ),
            name,
        );
    }
    if method == Method::GET
        && selected
            .as_ref()
            .is_some_and(|s| s.ty == OperationType::Mutation)
    {
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            code::METHOD_NOT_ALLOWED,
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return named(response, name);
    }

    let marker = ExecutionMarker::default();
    let request = request.data(marker.clone()).data(principal);
    let timeout: Duration = shared.state.config.query_timeout;
    // The query runs in its own task, dropped at the deadline: every field resolution yields
    // now and then (`checks`), so the work stops there instead of running on unobserved.
    let schema = shared.schema.clone();
    let task = tokio::spawn(async move { schema.execute(request).await });
    let _abort = AbortOnDrop(task.abort_handle());
    let mut cancel = shared.cancel.clone();
    let outcome = tokio::select! {
        joined = task => Some(joined),
        () = tokio::time::sleep(timeout) => None,
        Ok(_) = cancel.wait_for(|cancelled| *cancelled) => {
            tracing::warn!("query cancelled: the server is shutting down");
            return ran_and_failed(named(
                error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    media,
                    code::SHUTTING_DOWN,
                    "the server is shutting down; retry on another instance",
                ),
                name,
            ));
        }
    };
    let mut response = match outcome {
        Some(Ok(response)) => response,
        Some(Err(e)) => {
            // A resolver panicked: a bug of ours, never an empty reply.
            tracing::error!(error = %e, "query task failed");
            return ran_and_failed(named(
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    media,
                    code::INTERNAL,
                    "internal error",
                ),
                name,
            ));
        }
        None => {
            tracing::warn!(
                timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                "query timed out and was cancelled"
            );
            return ran_and_failed(named(
                error_response(
                    StatusCode::GATEWAY_TIMEOUT,
                    media,
                    code::TIMEOUT,
                    format!("the query did not finish within {} ms", timeout.as_millis()),
                ),
                name,
            ));
        }
    };
    let executed = marker.executed();
    if let Some(selected) = &selected {
        selected.shape.order(&mut response.data);
    }
    for e in &mut response.errors {
        if !has_code(e) {
            // Request errors without a code come from choosing the operation ("operation name
            // required"); execution errors without one from coercing argument values. Our
            // resolvers always set a code. Both are the client's invalid input.
            set_code(e, code::VALIDATION_FAILED);
        }
    }
    let status = if !executed && media == MediaType::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut out = respond(
        status,
        media,
        &Body {
            errors: &response.errors,
            data: executed.then_some(&response.data),
            extensions: &response.extensions,
        },
    );
    out.headers_mut().extend(response.http_headers);
    out.extensions_mut().insert(GraphqlOutcome {
        operation: name,
        outcome: if !executed {
            Outcome::Rejected
        } else if response.errors.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Error
        },
        codes: response
            .errors
            .iter()
            .filter_map(|e| e.extensions.as_ref()?.get("code"))
            .map(|c| match c {
                async_graphql::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
    });
    out
}

/// A request refused before it ran (no `data`), with `error`'s code.
fn refused(media: MediaType, error: ServerError) -> Response {
    let body = Body {
        errors: std::slice::from_ref(&error),
        data: None,
        extensions: &BTreeMap::new(),
    };
    let mut response = respond(request_error_status(media), media, &body);
    let codes = error
        .extensions
        .as_ref()
        .and_then(|x| x.get("code"))
        .map(|c| match c {
            async_graphql::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .into_iter()
        .collect();
    response.extensions_mut().insert(GraphqlOutcome {
        operation: None,
        outcome: Outcome::Rejected,
        codes,
    });
    response
}

/// `response` counted as a query that ran and failed (timed out, cancelled, panicked), not
/// as a refusal.
fn ran_and_failed(mut response: Response) -> Response {
    if let Some(outcome) = response.extensions_mut().get_mut::<GraphqlOutcome>() {
        outcome.outcome = Outcome::Error;
    }
    response
}

/// The limits the HTTP layers below [`transport_errors`] enforce, for its messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TransportLimits {
    pub(crate) body_limit_bytes: usize,
    pub(crate) request_timeout: Duration,
}

/// Turns the plain-text answers of the body limit (413) and the request timeout (408, a body
/// that arrives too slowly) into GraphQL errors on `/graphql`; push routes keep their own,
/// vendor-shaped, errors.
pub(crate) async fn transport_errors(
    State(limits): State<TransportLimits>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let graphql = request.uri().path() == "/graphql";
    let media = negotiate(request.headers()).unwrap_or(MediaType::Json);
    let response = next.run(request).await;
    let ours = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    if !graphql || ours {
        return response;
    }
    match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            media,
            code::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than the limit of {} bytes",
                limits.body_limit_bytes
            ),
        ),
        StatusCode::REQUEST_TIMEOUT => error_response(
            StatusCode::REQUEST_TIMEOUT,
            media,
            code::REQUEST_TIMEOUT,
            format!(
                "the request did not arrive and finish within {} s",
                limits.request_timeout.as_secs()
            ),
        ),
        _ => response,
    }
}

/// `GET /healthz`: the process serves HTTP.
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the database answers and its schema is this build's. 200 with
/// `{"status": "ready"}`, or 503 with `{"status": "not_ready", "database": …, "pending_migrations":
/// […]}` naming what is not ready.
pub(crate) async fn readyz(State(shared): State<Shared>) -> Response {
    let (status, body) = match shared.state.store.pending_migrations().await {
        Ok(pending) if pending.is_empty() => (
            StatusCode::OK,
            serde_json::json!({"status": "ready", "database": "ok", "pending_migrations": []}),
        ),
        Ok(pending) => {
            tracing::warn!(
                ?pending,
                "not ready: migrations pending; run `tributary migrate`"
            );
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"status": "not_ready", "database": "ok",
                    "pending_migrations": pending}),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"status": "not_ready", "database": "unreachable"}),
            )
        }
    };
    (status, axum::Json(body)).into_response()
}

/// Any other path.
pub(crate) async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    let mut response = error_response(
        StatusCode::NOT_FOUND,
        MediaType::Json,
        code::NOT_FOUND,
        format!(
            "no route for {method} {}; GraphQL is served at /graphql",
            uri.path()
        ),
    );
    response.extensions_mut().remove::<GraphqlOutcome>();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> Option<MediaType> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        negotiate(&h)
    }

    #[test]
    fn negotiation_follows_the_spec_and_quality_values() {
        use MediaType::*;
        assert_eq!(negotiate(&HeaderMap::new()), Some(Json));
        for (header, expected) in [
            ("application/graphql-response+json", Some(GraphqlResponse)),
            ("application/json", Some(Json)),
            ("*/*", Some(Json)),
            ("application/*", Some(Json)),
            (
                "application/graphql-response+json, application/json;q=0.9",
                Some(GraphqlResponse),
            ),
            (
                "application/json, application/graphql-response+json;q=0.5",
                Some(Json),
            ),
            (
                "application/json;q=0.5, application/graphql-response+json",
                Some(GraphqlResponse),
            ),
            (
                "Application/GraphQL-Response+JSON; charset=utf-8",
                Some(GraphqlResponse),
            ),
            (
                "application/graphql-response+json; charset=latin1, */*;q=0.1",
                Some(Json),
            ),
            ("text/html", None),
            ("application/json;q=0", None),
            ("text/html,application/xhtml+xml,*/*;q=0.8", Some(Json)),
            ("", Some(Json)),
        ] {
            assert_eq!(accept(header), expected, "{header}");
        }
    }

    #[test]
    fn post_parameters_are_type_checked() {
        use serde_json::json;
        let ok = Params::from_json(json!({
            "query": "{ a }", "operationName": null, "variables": {"x": 1}, "extensions": null
        }))
        .unwrap();
        assert_eq!(ok.query.as_deref(), Some("{ a }"));
        assert_eq!(ok.variables.unwrap()["x"], 1);
        for bad in [
            json!([]),
            json!("{ a }"),
            json!({}),
            json!({"qeury": "{ a }"}),
            json!({"query": {"obj": "ect"}}),
            json!({"query": 0}),
            json!({"query": false}),
            json!({"query": ["array"]}),
            json!({"query": "{ a }", "operationName": 1}),
            json!({"query": "{ a }", "variables": "string"}),
            json!({"query": "{ a }", "variables": ["array"]}),
            json!({"query": "{ a }", "extensions": 0}),
        ] {
            assert!(Params::from_json(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn get_parameters_decode_json_values() {
        let p = Params::from_query_string(
            "query=query%20Q(%24n%3AString!)%7B__type(name%3A%24n)%7Bname%7D%7D&variables=%7B%22n%22%3A%22X%22%7D&operationName=Q&other=1",
        )
        .unwrap();
        assert_eq!(
            p.query.as_deref(),
            Some("query Q($n:String!){__type(name:$n){name}}")
        );
        assert_eq!(p.operation_name.as_deref(), Some("Q"));
        assert_eq!(p.variables.unwrap()["n"], "X");
        for bad in [
            "",
            "qeury=%7Ba%7D",
            "query=%7Ba%7D&variables=nope",
            "query=%7Ba%7D&variables=%5B%5D",
            "query=a&query=b",
        ] {
            assert!(Params::from_query_string(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Request parsing answers `Ok` or an error message for any bytes and any query
        /// string, never a panic; so do the document bounds for any query text.
        #[test]
        fn request_parsing_never_panics(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            raw in "\\PC{0,200}",
            query in "[{}()\\[\\]a-z:$!.@ \"#\\\\\n]{0,200}",
        ) {
            if let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) {
                let _ = Params::from_json(json);
            }
            let _ = Params::from_query_string(&raw);
            let _ = Params::from_query_string(&String::from_utf8_lossy(&body));
            let _ = crate::cost::nesting(&query);
            if let Ok(doc) = async_graphql::parser::parse_query(&query) {
                let registry = crate::cost::registry();
                let limits = crate::cost::Limits { max_cost: 10_000, max_depth: 12 };
                let _ = crate::cost::check(&registry, &doc, &Variables::default(), limits);
            }
        }

        /// Well-formed POST bodies parse to what they say.
        #[test]
        fn post_bodies_round_trip(query in "\\PC{0,100}", name in proptest::option::of("[A-Za-z_]{1,20}")) {
            let body = serde_json::json!({"query": query, "operationName": name});
            let p = Params::from_json(body).unwrap();
            proptest::prop_assert_eq!(p.query, Some(query));
            proptest::prop_assert_eq!(p.operation_name, name);
        }
    }

    #[test]
    fn content_type_must_be_json_in_utf8() {
        let ct = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
            is_json_content_type(&h)
        };
        assert!(ct("application/json"));
        assert!(ct("Application/JSON; charset=UTF-8"));
        assert!(!ct("application/json; charset=latin1"));
        assert!(!ct("text/plain"));
        assert!(!ct("application/graphql"));
        assert!(!is_json_content_type(&HeaderMap::new()));
    }
}
