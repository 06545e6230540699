//! The GraphQL gateway of Tributary (SPEC §10, §11): an async-graphql schema over the unified
//! model, one module per domain, and the axum router that serves it over HTTP.
//!
//! Key items:
//! - [`domains`]: the schema by domain — [`domains::accounts`], [`domains::revenue`],
//!   [`domains::ops`] — each with its own types and `…Query` object, merged into
//!   [`QueryRoot`] and [`MutationRoot`] (async-graphql `MergedObject`). Learning, usage,
//!   support and analytics domains are added beside them.
//! - [`schema`] / [`TributarySchema`]: the schema over a [`Store`], with depth and complexity
//!   limits and set-based loading of children: lists and `account(id)` look ahead and
//!   prefetch the children of all their parents, one `Store::children_of` query per relation
//!   and level (`prefetch`); deeper levels go through one generic DataLoader. And [`sdl`],
//!   the schema's SDL built without a database (the source of `schema.graphql`).
//! - [`app`]: the router: `POST`/`GET /graphql` (GraphQL over HTTP, answering
//!   `application/graphql-response+json` or `application/json` as the client accepts),
//!   GraphiQL at `/` (every file it loads embedded, see `graphiql`), `/healthz`, `/readyz`,
//!   Prometheus `/metrics` (`metrics`); with a body size limit (413 as a GraphQL error), query
//!   cost and depth bounds counted with fragments expanded before anything else walks the
//!   document (`cost`), a query timeout that cancels the query's task, caps on concurrent
//!   fields, request ids ([`request_id`]) and request tracing, persisted queries and an
//!   allow-list (`apq`, [`PersistedQueries`]), and switches for introspection, GraphiQL and CORS
//!   (`switches`). [`serve`] runs it with a graceful shutdown bounded by
//!   [`GatewayConfig::shutdown_grace`]. Push connectors' ingest routes
//!   ([`PushMount`]) are mounted under their prefixes: a request is committed through the
//!   sync engine before it is acknowledged.
//! - [`auth`]: API keys (`Authorization: Bearer`), the [`Principal`] each request runs as,
//!   field guards by role (`FORBIDDEN`), 401 `UNAUTHENTICATED`, per-key rate limits (429
//!   `RATE_LIMITED`), and push sources' credentials checked against the same key store.
//! - [`GatewayError`]: every error a client sees carries a stable `extensions.code`
//!   (`VALIDATION_FAILED`, `BAD_CURSOR`, `INTERNAL` …; see [`error::code`]); internal errors are
//!   logged and shown only as "internal error".
//!
//! What it must not do: call a vendor, touch SQL, decode stored values or compute figures. It
//! reads through `tributary-store`, whose read types arrive decoded (model enums, exact
//! `Money`), and takes ARR and the ARR bridge from `tributary-analytics`; it converts both
//! into its own output types, so a column or a formula can change without changing the API.
//! Its list queries are set-based, so the gateway stays a thin, stateless layer (SPEC §14:
//! replicas sit behind any load balancer).

pub mod auth;
pub mod domains;
pub mod error;
pub mod jwt;
pub mod paging;
pub mod scalars;

mod apq;
mod checks;
mod cost;
mod cursor;
mod graphiql;
mod http;
mod loaders;
mod metrics;
mod prefetch;
mod push;
pub mod request_id;
mod switches;

#[cfg(test)]
mod tests;

pub use apq::{Manifest, ManifestError, PersistedQueries, PersistedQueryMode, sha256_hex};
pub use auth::{AuthConfig, Principal, RateLimit};
pub use domains::{MutationRoot, QueryRoot};
pub use error::GatewayError;
pub use metrics::MAX_OPERATION_NAMES;
pub use paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use push::PushMount;

use async_graphql::{EmptySubscription, Schema, SchemaBuilder};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::http::{HeaderName, header};
use axum::routing::get;
use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tributary_store::Store;

/// The schema served at `/graphql`. Subscriptions come later.
pub type TributarySchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Limits and timeouts of the gateway. [`Default`] gives values fit for production.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub body_limit_bytes: usize,
    /// Longest a GraphQL operation may run; past it the client gets 504 with code `TIMEOUT`.
    pub query_timeout: Duration,
    /// Longest a whole HTTP exchange may take (including a slow upload); past it, 408 with
    /// code `REQUEST_TIMEOUT`.
    /// Should exceed `query_timeout` so that queries time out with a GraphQL error.
    pub request_timeout: Duration,
    /// Deepest field nesting allowed (introspection not counted); code `QUERY_TOO_DEEP`.
    pub max_depth: usize,
    /// Highest query cost allowed, counted on the document before validation with fragments
    /// expanded: a field counts 1 (an expensive one what it declares, the ARR bridge 1,000), a
    /// paged list its selection once per node `first` asks for; code `QUERY_TOO_COMPLEX`.
    pub max_complexity: usize,
    /// Root fields of one request resolved at the same time (each may hold a store
    /// connection), so one request of many aliases cannot take the whole pool.
    pub request_concurrency: usize,
    /// Expensive fields (the ARR bridge) resolved at the same time across all requests.
    pub expensive_concurrency: usize,
    /// How long `serve` lets requests in flight finish after a shutdown signal before it
    /// cancels them and returns.
    pub shutdown_grace: Duration,
    /// How long the child loaders wait to gather keys into one batch. Lists and `account`
    /// prefetch their children by look-ahead and never wait; only deeper levels do.
    pub batch_delay: Duration,
    /// API keys, anonymous access and rate limits ([`auth`]).
    pub auth: AuthConfig,
    /// Whether `__schema` and `__type` may be queried; when not, such documents get
    /// `INTROSPECTION_DISABLED`.
    pub introspection: bool,
    /// Whether GraphiQL is served at `/`; when not, `/` answers 404.
    pub graphiql: bool,
    /// Origins allowed to call from a browser (CORS); empty: no CORS headers; `"*"`: any.
    pub cors_allowed_origins: Vec<String>,
    /// Automatic persisted queries and the allow-list.
    pub persisted_queries: PersistedQueries,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            body_limit_bytes: 1024 * 1024,
            query_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            max_depth: 12,
            max_complexity: 10_000,
            request_concurrency: 4,
            expensive_concurrency: 2,
            shutdown_grace: Duration::from_secs(10),
            batch_delay: loaders::DEFAULT_BATCH_DELAY,
            auth: AuthConfig::default(),
            introspection: true,
            graphiql: true,
            cors_allowed_origins: Vec::new(),
            persisted_queries: PersistedQueries::default(),
        }
    }
}

/// What the router serves from.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Limits and timeouts.
    pub config: GatewayConfig,
    /// Push connectors' ingest routes, each under its prefix.
    pub push: Vec<PushMount>,
}

impl AppState {
    /// State over `store` with the default configuration.
    pub fn new(store: Store) -> Self {
        AppState {
            store,
            config: GatewayConfig::default(),
            push: Vec::new(),
        }
    }
}

/// The schema builder without data: the types, limits and checks.
fn builder(config: &GatewayConfig) -> SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    let builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .extension(checks::RequestChecks {
        limits: cost_limits(config),
        fields_per_request: config.request_concurrency,
        expensive: Arc::new(tokio::sync::Semaphore::new(
            config.expensive_concurrency.max(1),
        )),
    });
    if config.introspection {
        builder
    } else {
        builder.disable_introspection()
    }
}

/// The cost limits of `config`.
pub(crate) fn cost_limits(config: &GatewayConfig) -> cost::Limits {
    cost::Limits {
        max_cost: u64::try_from(config.max_complexity).unwrap_or(u64::MAX),
        max_depth: config.max_depth,
    }
}

/// The schema over `store` with the default limits.
pub fn schema(store: Store) -> TributarySchema {
    schema_with_config(store, &GatewayConfig::default())
}

/// The schema over `store` with the limits of `config`.
pub fn schema_with_config(store: Store, config: &GatewayConfig) -> TributarySchema {
    build_schema(store, config, Arc::default())
}

pub(crate) fn build_schema(
    store: Store,
    config: &GatewayConfig,
    stats: Arc<loaders::LoaderStats>,
) -> TributarySchema {
    let loaders = loaders::loaders(store.clone(), config.batch_delay, stats);
    builder(config).data(store).data(loaders).finish()
}

/// The schema's SDL, built without a database; `schema.graphql` at the repository root is
/// this text (a test fails when it drifts).
pub fn sdl() -> String {
    builder(&GatewayConfig::default()).finish().sdl()
}

/// The HTTP router: `POST`/`GET /graphql`, GraphiQL at `/` (its assets under `/assets/`;
/// unless switched off), `/healthz`, `/readyz`, `/metrics`.
pub fn app(state: AppState) -> Router {
    let schema = schema_with_config(state.store.clone(), &state.config);
    router(state, schema)
}

pub(crate) fn router(state: AppState, schema: TributarySchema) -> Router {
    // Never cancelled (a closed channel is not a cancellation): `serve` builds its router
    // with a cancel it controls.
    let (_, never) = tokio::sync::watch::channel(false);
    router_with_cancel(state, schema, never)
}

fn router_with_cancel(
    state: AppState,
    schema: TributarySchema,
    cancel: tokio::sync::watch::Receiver<bool>,
) -> Router {
    let config = state.config.clone();
    let authenticator = Arc::new(auth::Authenticator::new(
        state.store.clone(),
        config.auth.clone(),
    ));
    let pushed = push::mount(Router::new(), &state.store, &state.push, &authenticator);
    let metrics = Arc::new(metrics::Metrics::default());
    let apq = Arc::new(apq::Apq::new(config.persisted_queries.clone()));
    let shared = http::Shared {
        limits: cost_limits(&state.config),
        registry: Arc::new(cost::registry()),
        state,
        schema,
        cancel,
        metrics: metrics.clone(),
        apq,
    };
    let mut routes = Router::new();
    if config.graphiql {
        routes = routes
            .route("/", get(graphiql::page))
            .route("/assets/{*path}", get(graphiql::asset));
    }
    let router = routes
        .route(
            "/graphql",
            get(http::graphql_get).post(http::graphql_post).route_layer(
                axum::middleware::from_fn_with_state(authenticator, auth::require),
            ),
        )
        .route("/healthz", get(http::healthz))
        .route("/readyz", get(http::readyz))
        .route("/metrics", get(metrics::endpoint))
        .fallback(http::not_found)
        .with_state(shared)
        .merge(pushed)
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        // tower-http 0.6 needs the timeout innermost and the body limit outside it (deps.md
        // §5.5); `ServiceBuilder` lists layers outermost first.
        .layer(
            ServiceBuilder::new()
                // Keys never reach a log: the headers that carry them are marked sensitive
                // before anything (the trace layer included) can print them.
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    HeaderName::from_static(auth::API_KEY_HEADER),
                ]))
                // Outermost: the request id, so the trace span and every layer inside see it;
                // then the metrics, which count the body limit's and timeout's answers too.
                .layer(axum::middleware::from_fn(request_id::assign))
                .layer(axum::middleware::from_fn_with_state(
                    metrics,
                    metrics::track,
                ))
                .layer(TraceLayer::new_for_http().make_span_with(request_id::span))
                .layer(axum::middleware::from_fn_with_state(
                    http::TransportLimits {
                        body_limit_bytes: config.body_limit_bytes,
                        request_timeout: config.request_timeout,
                    },
                    http::transport_errors,
                ))
                .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    config.request_timeout,
                )),
        );
    // CORS answers preflight requests itself, so it wraps everything.
    match switches::cors(&config.cors_allowed_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// Serves [`app`] on `listener` until `shutdown` completes; then stops accepting, lets the
/// requests in flight finish for up to [`GatewayConfig::shutdown_grace`], cancels those still
/// running (they answer 503 `SHUTTING_DOWN`) and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "gateway listening");
    }
    let grace = state.config.shutdown_grace;
    let schema = schema_with_config(state.store.clone(), &state.config);
    let (cancel, cancelled) = tokio::sync::watch::channel(false);
    let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
    // Peer addresses key the rate limit of anonymous requests.
    let app = router_with_cancel(state, schema, cancelled)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = signalled.send(());
        })
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        _ = on_signal => {}
    }
    tracing::info!(
        grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
        "shutting down: finishing requests in flight"
    );
    if let Ok(result) = tokio::time::timeout(grace, &mut server).await {
        return result;
    }
    tracing::warn!("shutdown grace period over: cancelling requests in flight");
    let _ = cancel.send(true);
    // Cancelled handlers answer at once; a connection that still does not close is left to
    // the end of the process.
    match tokio::time::timeout(Duration::from_secs(1), &mut server).await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}
