//! Prometheus metrics at `GET /metrics`, in the OpenMetrics text format
//! (`application/openmetrics-text; version=1.0.0`), which Prometheus scrapes natively.
//!
//! Two kinds of series:
//! - **this replica's traffic**, counted as requests pass through [`track`]: HTTP responses by
//!   status, GraphQL requests by operation name and outcome, their latency, and GraphQL errors
//!   by `extensions.code`;
//! - **the sync state**, read from the database at scrape time with one set-based query
//!   ([`Store::stream_health`]): records of each stream's latest run, lag since its last
//!   success and its last attempt, completeness against the vendor's count, open quarantine.
//!   Replicas are stateless (SPEC §14), so every replica reports the same sync series.
//!
//! Operation names are chosen by clients, so a label set per name could grow without bound:
//! the first [`MAX_OPERATION_NAMES`] distinct names are kept, later ones count as `other`,
//! and operations without a name as `anonymous`.

use crate::http::Shared;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tributary_store::Store;

/// Distinct operation names labelled by name; later names are counted as `other`.
pub const MAX_OPERATION_NAMES: usize = 100;

/// Longest operation name kept as a label.
const MAX_NAME_LEN: usize = 64;

/// The `Content-Type` of `/metrics`.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationOutcome {
    operation: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Operation {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Code {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Status {
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Stream {
    connector: String,
    stream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamRecords {
    connector: String,
    stream: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamStatus {
    connector: String,
    stream: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Build {
    version: &'static str,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

/// How a GraphQL request ended, as the metrics label it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Executed without errors.
    Ok,
    /// Executed, with errors in the response (partial data).
    Error,
    /// Refused before execution (unparsable, invalid, over a limit, not allowed).
    Rejected,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Rejected => "rejected",
        }
    }
}

/// What a GraphQL handler tells [`track`] about the request, as a response extension.
#[derive(Clone, Debug)]
pub(crate) struct GraphqlOutcome {
    /// The operation's name, when it has one.
    pub(crate) operation: Option<String>,
    /// How it ended.
    pub(crate) outcome: Outcome,
    /// The `extensions.code` of each error.
    pub(crate) codes: Vec<String>,
}

/// This replica's request metrics.
#[derive(Debug)]
pub(crate) struct Metrics {
    started: Instant,
    names: Mutex<HashSet<String>>,
    requests: Family<OperationOutcome, Counter>,
    latency: Family<Operation, Histogram, fn() -> Histogram>,
    errors: Family<Code, Counter>,
    responses: Family<Status, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            names: Mutex::default(),
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            errors: Family::default(),
            responses: Family::default(),
        }
    }
}

impl Metrics {
    /// The label of an operation name: itself while fewer than [`MAX_OPERATION_NAMES`] were
    /// seen (and it is a GraphQL name of a sane length), `other` past that, `anonymous` for
    /// none.
    fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return "anonymous".to_owned();
        };
        let is_name = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_name {
            return "other".to_owned();
        }
        // A poisoned lock only means another request panicked mid-insert; the set is intact.
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if names.contains(name) || names.len() < MAX_OPERATION_NAMES && names.insert(name.into()) {
            name.to_owned()
        } else {
            "other".to_owned()
        }
    }

    fn record(&self, status: StatusCode, graphql: Option<&GraphqlOutcome>, seconds: f64) {
        self.responses
            .get_or_create(&Status {
                status: status.as_u16(),
            })
            .inc();
        let Some(g) = graphql else {
            return;
        };
        let operation = self.operation_label(g.operation.as_deref());
        self.requests
            .get_or_create(&OperationOutcome {
                operation: operation.clone(),
                outcome: g.outcome.label(),
            })
            .inc();
        self.latency
            .get_or_create(&Operation { operation })
            .observe(seconds);
        for code in &g.codes {
            // Codes are ours (SCREAMING_SNAKE); anything else is folded so a label cannot
            // carry arbitrary text.
            let sane = code.len() <= 48
                && code
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            self.errors
                .get_or_create(&Code {
                    code: if sane { code.clone() } else { "OTHER".into() },
                })
                .inc();
        }
    }

    /// The registry of one scrape: the request series (shared with the live counters) and
    /// the sync series read from `store` now.
    async fn scrape(&self, store: &Store) -> Registry {
        let mut r = Registry::with_prefix("tributary");
        r.register(
            "http_responses",
            "HTTP responses by status code",
            self.responses.clone(),
        );
        r.register(
            "graphql_requests",
            "GraphQL requests by operation name and outcome (ok, error, rejected)",
            self.requests.clone(),
        );
        r.register(
            "graphql_request_duration_seconds",
            "Time to answer a GraphQL request, by operation name",
            self.latency.clone(),
        );
        r.register(
            "graphql_errors",
            "GraphQL errors by extensions.code",
            self.errors.clone(),
        );
        r.register(
            "build",
            "The running build",
            Info::new(Build {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        let uptime = Gauge::<f64, AtomicU64>::default();
        uptime.set(self.started.elapsed().as_secs_f64());
        r.register(
            "uptime_seconds",
            "Seconds since this process started",
            uptime,
        );
        register_sync(&mut r, store).await;
        r
    }
}

/// The sync series, from the database now.
async fn register_sync(r: &mut Registry, store: &Store) {
    let up = Gauge::<i64>::default();
    r.register(
        "store_up",
        "Whether the database answered this scrape's query (1) or not (0)",
        up.clone(),
    );
    let rows = match store.stream_health().await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "metrics: failed to read the sync state");
            return;
        }
    };
    up.set(1);
    let now = Utc::now();
    let records = Family::<StreamRecords, Gauge>::default();
    let status = Family::<StreamStatus, Gauge>::default();
    let lag = Family::<Stream, Gauge<f64, AtomicU64>>::default();
    let attempt_lag = Family::<Stream, Gauge<f64, AtomicU64>>::default();
    let source = Family::<Stream, Gauge>::default();
    let source_read = Family::<Stream, Gauge>::default();
    let completeness = Family::<Stream, Gauge<f64, AtomicU64>>::default();
    let quarantine = Family::<Stream, Gauge>::default();
    let secs = |d: chrono::TimeDelta| d.num_milliseconds().max(0) as f64 / 1000.0;
    for row in rows {
        let s = Stream {
            connector: row.connector.clone(),
            stream: row.stream.clone(),
        };
        for (kind, n) in [
            ("read", row.records_read),
            ("written", row.records_written),
            ("quarantined", row.records_quarantined),
            ("deleted", row.records_deleted),
        ] {
            records
                .get_or_create(&StreamRecords {
                    connector: row.connector.clone(),
                    stream: row.stream.clone(),
                    kind,
                })
                .set(n);
        }
        status
            .get_or_create(&StreamStatus {
                connector: row.connector.clone(),
                stream: row.stream.clone(),
                status: row.status.as_str(),
            })
            .set(1);
        if let Some(at) = row.last_success_at {
            lag.get_or_create(&s).set(secs(now - at));
        }
        attempt_lag
            .get_or_create(&s)
            .set(secs(now - row.started_at));
        if let (Some(count), Some(read)) = (row.source_count, row.source_read) {
            source.get_or_create(&s).set(count);
            source_read.get_or_create(&s).set(read);
            let ratio = if count > 0 {
                read as f64 / count as f64
            } else {
                1.0
            };
            completeness.get_or_create(&s).set(ratio);
        }
        quarantine.get_or_create(&s).set(row.open_quarantine);
    }
    r.register(
        "sync_records",
        "Records of each stream's latest run, by kind (read, written, quarantined, deleted)",
        records,
    );
    r.register(
        "sync_last_run_status",
        "The status of each stream's latest run (the series present has value 1)",
        status,
    );
    r.register(
        "sync_lag_seconds",
        "Seconds since each stream's last successful sync finished (absent until one has)",
        lag,
    );
    r.register(
        "sync_attempt_lag_seconds",
        "Seconds since each stream's last sync attempt started",
        attempt_lag,
    );
    r.register(
        "sync_source_records",
        "The vendor's own count of what each stream's latest run should read, where it gives one",
        source,
    );
    r.register(
        "sync_source_records_read",
        "Records the latest run read in the phases the vendor counted",
        source_read,
    );
    r.register(
        "sync_completeness_ratio",
        "Records read over the vendor's count in each stream's latest run, where counted",
        completeness,
    );
    r.register(
        "quarantine_open",
        "Unresolved quarantined records by stream",
        quarantine,
    );
}

/// Middleware counting every response, and GraphQL requests by what their handler reported.
pub(crate) async fn track(
    State(metrics): State<Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let response = next.run(req).await;
    metrics.record(
        response.status(),
        response.extensions().get::<GraphqlOutcome>(),
        start.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`.
pub(crate) async fn endpoint(State(shared): State<Shared>) -> Response {
    let registry = shared.metrics.scrape(&shared.state.store).await;
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &registry) {
        tracing::error!(error = %e, "failed to encode the metrics");
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    }
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded() {
        let m = Metrics::default();
        assert_eq!(m.operation_label(None), "anonymous");
        assert_eq!(m.operation_label(Some("1abc")), "other");
        assert_eq!(m.operation_label(Some("a b")), "other");
        assert_eq!(m.operation_label(Some(&"x".repeat(65))), "other");
        for i in 0..MAX_OPERATION_NAMES {
            assert_eq!(m.operation_label(Some(&format!("Op{i}"))), format!("Op{i}"));
        }
        assert_eq!(m.operation_label(Some("Late")), "other");
        assert_eq!(m.operation_label(Some("Op7")), "Op7");
    }
}
