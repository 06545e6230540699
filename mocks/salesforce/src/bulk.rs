//! Bulk API 2.0 query jobs of the Salesforce mock (`vendor-apis.md` §1, "Bulk API 2.0 query
//! jobs"), served beside the REST routes by [`super::SalesforceMock`] and behind the same
//! session check, daily-limit accounting (`Sforce-Limit-Info`) and fault layer.
//!
//! - `POST /services/data/<version>/jobs/query` with `{"operation":"query"|"queryAll",
//!   "query":"SELECT …","contentType":"CSV","columnDelimiter":"COMMA","lineEnding":"LF"}`
//!   creates a job and answers with the job object: an `id` beginning `750`, `operation`,
//!   `object`, `createdById`, `createdDate` and `systemModstamp` in the `+0000` form, `state:
//!   "UploadComplete"`, `concurrencyMode: "Parallel"`, `contentType`, `apiVersion` as a JSON
//!   number, `lineEnding` and `columnDelimiter`. The SOQL goes through the REST query's parser,
//!   so anything outside its subset (GROUP BY, OFFSET, TYPEOF, aggregate functions,
//!   subqueries) or an unknown field is the same 400 `MALFORMED_QUERY` / `INVALID_FIELD` /
//!   `INVALID_TYPE` error array; Bulk-only refusals (an unknown operation, content type,
//!   delimiter or line ending) are 400 `INVALIDJOB`. The rows are taken when the job is created,
//!   as Salesforce snapshots them when it runs the query: later changes (the `mutate` knob) do
//!   not show in the results.
//! - `GET …/jobs/query/<id>` is the job info (with `jobType: "V2Query"`). Each poll moves an
//!   open job on: `InProgress` until the [`BulkMockConfig::polls_to_complete`]th poll, then
//!   `JobComplete` (or `Failed` with `errorMessage` when [`BulkMockConfig::fail_with`] is set),
//!   with `numberRecordsProcessed`, `retries` and `totalProcessingTime` once finished. An
//!   unknown id is 404 `NOT_FOUND`.
//! - `GET …/jobs/query/<id>/results?maxRecords=N&locator=L` is one page of CSV: a header row
//!   of the selected fields in SELECT order, then one row per record, every value quoted as
//!   Salesforce does (RFC 4180: `"` doubled, commas and line breaks kept inside quotes), null
//!   as an empty value, booleans `true`/`false`, datetimes `2024-04-25T15:50:37.000Z`. Headers
//!   `Sforce-NumberOfRecords` (rows in this page) and `Sforce-Locator` (an opaque cursor, the
//!   literal `null` on the last page). Pages hold `maxRecords` rows, or
//!   [`BulkMockConfig::default_max_records`]. A job that is not `JobComplete` answers 400
//!   `JOB_NOT_COMPLETE`; a locator the job did not hand out, 400 `INVALID_LOCATOR`.
//! - `PATCH …/jobs/query/<id>` with `{"state":"Aborted"}` aborts an open job (a finished one
//!   is 400 `INVALIDJOBSTATE`); `DELETE …/jobs/query/<id>` deletes a job that is not
//!   `InProgress` and answers 204.
//!
//! The `duplicates` knob also applies to results pages (the last row of a page comes again
//! first on the next), so that a client's de-duplication is exercised on this path too.
//!
//! Error codes other than `NOT_FOUND` and the SOQL ones are not documented in
//! `vendor-apis.md`; the names here are the mock's best reading of Salesforce's, and a client
//! should key on the status, not on them.

use crate::{
    MockState, SObject, SalesforceMock, api_error, json_response, salesforce_id, sf_datetime,
    tokenize,
};
use axum::{
    Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Map, Number, Value, json};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

/// Rows per results page when a request gives no `maxRecords` unless configured (Salesforce
/// sizes pages by bytes; this is in the same range).
pub const DEFAULT_MAX_RECORDS: usize = 50_000;

/// Settings of the mock's Bulk API 2.0 query jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkMockConfig {
    /// The status poll (`GET …/jobs/query/<id>`) on which a job finishes; earlier polls show
    /// `InProgress`. 0 and 1 both finish it on the first poll. Default 2, so that a client
    /// must really poll.
    pub polls_to_complete: u32,
    /// When set, every job ends `Failed` with this `errorMessage` instead of `JobComplete`.
    pub fail_with: Option<String>,
    /// Rows per results page when the request has no `maxRecords`.
    pub default_max_records: usize,
}

impl Default for BulkMockConfig {
    fn default() -> Self {
        Self {
            polls_to_complete: 2,
            fail_with: None,
            default_max_records: DEFAULT_MAX_RECORDS,
        }
    }
}

/// What the Bulk API 2.0 routes have done so far ([`SalesforceMock::bulk_stats`]). Only
/// requests that reached the route count (not those the fault layer or the session check
/// answered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkStats {
    /// Query jobs created.
    pub jobs_created: u64,
    /// Job info requests (`GET …/jobs/query/<id>`) for a known job.
    pub status_polls: u64,
    /// Results pages served.
    pub result_pages: u64,
    /// CSV rows served in results pages (a repeated row counts again).
    pub rows_served: u64,
    /// Jobs aborted through `PATCH {"state":"Aborted"}`.
    pub jobs_aborted: u64,
    /// Jobs deleted.
    pub jobs_deleted: u64,
}

/// The state of a query job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobState {
    UploadComplete,
    InProgress,
    JobComplete,
    Failed,
    Aborted,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            Self::UploadComplete => "UploadComplete",
            Self::InProgress => "InProgress",
            Self::JobComplete => "JobComplete",
            Self::Failed => "Failed",
            Self::Aborted => "Aborted",
        }
    }

    fn is_open(self) -> bool {
        matches!(self, Self::UploadComplete | Self::InProgress)
    }
}

/// `columnDelimiter` values and the byte each stands for.
const DELIMITERS: [(&str, u8); 6] = [
    ("COMMA", b','),
    ("BACKQUOTE", b'`'),
    ("CARET", b'^'),
    ("PIPE", b'|'),
    ("SEMICOLON", b';'),
    ("TAB", b'\t'),
];

struct Job {
    id: String,
    operation: &'static str,
    object: SObject,
    api_version: Number,
    created: DateTime<Utc>,
    modstamp: DateTime<Utc>,
    started: Instant,
    processing_ms: u64,
    state: JobState,
    polls: u32,
    error_message: Option<String>,
    delimiter: (&'static str, u8),
    crlf: bool,
    fields: Vec<&'static str>,
    /// The snapshot: every row's cells (empty for null) and the record's `Id`.
    rows: Arc<Vec<(Vec<String>, String)>>,
}

impl Job {
    fn info(&self, with_type: bool) -> Value {
        let mut o = Map::new();
        let mut put = |k: &str, v: Value| {
            o.insert(k.to_owned(), v);
        };
        put("id", json!(self.id));
        put("operation", json!(self.operation));
        put("object", json!(self.object.as_str()));
        put("createdById", json!(salesforce_id(SObject::User, 1)));
        put("createdDate", json!(sf_datetime(self.created)));
        put("systemModstamp", json!(sf_datetime(self.modstamp)));
        put("state", json!(self.state.as_str()));
        put("concurrencyMode", json!("Parallel"));
        put("contentType", json!("CSV"));
        put("apiVersion", Value::Number(self.api_version.clone()));
        if with_type {
            put("jobType", json!("V2Query"));
        }
        put("lineEnding", json!(if self.crlf { "CRLF" } else { "LF" }));
        put("columnDelimiter", json!(self.delimiter.0));
        if matches!(self.state, JobState::JobComplete | JobState::Failed) {
            put("numberRecordsProcessed", json!(self.rows.len()));
            put("retries", json!(0));
            put("totalProcessingTime", json!(self.processing_ms));
        }
        if let Some(message) = &self.error_message {
            put("errorMessage", json!(message));
        }
        Value::Object(o)
    }
}

/// The query jobs of one mock instance and their counters.
#[derive(Default)]
pub(super) struct Jobs {
    jobs: Mutex<HashMap<String, Job>>,
    next: AtomicU64,
    created: AtomicU64,
    polls: AtomicU64,
    pages: AtomicU64,
    rows: AtomicU64,
    aborted: AtomicU64,
    deleted: AtomicU64,
}

impl Jobs {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Job>) -> T) -> T {
        f(&mut self.jobs.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl SalesforceMock {
    /// What the Bulk API 2.0 routes have done so far.
    pub fn bulk_stats(&self) -> BulkStats {
        let j = &self.state.bulk;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        BulkStats {
            jobs_created: get(&j.created),
            status_polls: get(&j.polls),
            result_pages: get(&j.pages),
            rows_served: get(&j.rows),
            jobs_aborted: get(&j.aborted),
            jobs_deleted: get(&j.deleted),
        }
    }
}

/// The Bulk API 2.0 query routes, to merge into the mock's API router (inside its limit
/// accounting and fault layers).
pub(super) fn routes() -> Router<Arc<MockState>> {
    Router::new()
        .route("/services/data/{version}/jobs/query", post(create_job))
        .route(
            "/services/data/{version}/jobs/query/{id}",
            get(job_info).patch(abort_job).delete(delete_job),
        )
        .route(
            "/services/data/{version}/jobs/query/{id}/results",
            get(job_results),
        )
}

fn invalid_job(message: &str) -> Response {
    api_error(StatusCode::BAD_REQUEST, "INVALIDJOB", message)
}

fn job_not_found() -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

/// The `apiVersion` number of a `vNN.N` path segment.
fn api_version(version: &str) -> Option<Number> {
    let v: f64 = version.strip_prefix('v')?.parse().ok()?;
    Number::from_f64(v)
}

/// Refuses what Bulk API 2.0 query jobs do not run, whatever the REST parser accepts.
fn bulk_unsupported(q: &str) -> Option<String> {
    let tokens = tokenize(q).ok()?;
    let words: Vec<String> = tokens
        .iter()
        .filter_map(|t| match t {
            super::Token::Word(w) => Some(w.to_ascii_uppercase()),
            _ => None,
        })
        .collect();
    for (i, w) in words.iter().enumerate() {
        let feature = match w.as_str() {
            "GROUP" if words.get(i + 1).is_some_and(|n| n == "BY") => "GROUP BY",
            "OFFSET" => "OFFSET",
            "TYPEOF" => "TYPEOF",
            _ => continue,
        };
        return Some(format!(
            "{feature} is not supported by Bulk API 2.0 query jobs"
        ));
    }
    None
}

/// One value of a record as a CSV cell: null empty, datetimes with `Z`.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => match s.strip_suffix("+0000") {
            Some(stamp) if DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z").is_ok() => {
                format!("{stamp}Z")
            }
            _ => s.clone(),
        },
        other => other.to_string(),
    }
}

/// `POST …/jobs/query`.
async fn create_job(
    State(state): State<Arc<MockState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = state.refuse(&headers) {
        return refused;
    }
    let Some(api_version) = api_version(&version) else {
        return job_not_found();
    };
    let request: Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => map,
        _ => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "JSON_PARSER_ERROR",
                "The request body is not a JSON object",
            );
        }
    };
    let text = |name: &str| request.get(name).and_then(Value::as_str);
    let operation = match text("operation") {
        Some("query") => "query",
        Some("queryAll") => "queryAll",
        Some(other) => return invalid_job(&format!("Invalid operation: {other}")),
        None => return invalid_job("operation is required: query or queryAll"),
    };
    if !matches!(text("contentType"), None | Some("CSV")) {
        return invalid_job("contentType must be CSV");
    }
    let delimiter = match text("columnDelimiter") {
        None => DELIMITERS[0],
        Some(name) => match DELIMITERS.iter().find(|(n, _)| *n == name) {
            Some(d) => *d,
            None => return invalid_job(&format!("Invalid columnDelimiter: {name}")),
        },
    };
    let crlf = match text("lineEnding") {
        None | Some("LF") => false,
        Some("CRLF") => true,
        Some(other) => return invalid_job(&format!("Invalid lineEnding: {other}")),
    };
    let Some(q) = text("query").filter(|q| !q.trim().is_empty()) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    if let Some(message) = bulk_unsupported(q) {
        return api_error(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", &message);
    }
    // The org's own checks too (a single-currency org has no `CurrencyIsoCode`).
    let soql = match state.parse(q) {
        Ok(s) => s,
        Err((code, message)) => return api_error(StatusCode::BAD_REQUEST, code, &message),
    };

    // The snapshot, selected as the REST query selects.
    let all = operation == "queryAll";
    let rows: Vec<Map<String, Value>> = crate::query::select_rows(&state, &soql, all)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let rows: Vec<(Vec<String>, String)> = rows
        .iter()
        .map(|r| {
            let cells = soql
                .fields
                .iter()
                .map(|f| cell(r.get(*f).unwrap_or(&Value::Null)))
                .collect();
            let id = r.get("Id").and_then(Value::as_str).unwrap_or_default();
            (cells, id.to_owned())
        })
        .collect();

    let n = state.bulk.next.fetch_add(1, Ordering::Relaxed) + 1;
    // A job id has the `750` key prefix; the digits and the case-safe suffix are those of
    // record `n` (the suffix depends only on where the upper-case letters are).
    let id = format!("750{}", &salesforce_id(SObject::Account, n)[3..]);
    let now = Utc::now();
    let job = Job {
        id: id.clone(),
        operation,
        object: soql.object,
        api_version,
        created: now,
        modstamp: now,
        started: Instant::now(),
        processing_ms: 0,
        state: JobState::UploadComplete,
        polls: 0,
        error_message: None,
        delimiter,
        crlf,
        fields: soql.fields,
        rows: Arc::new(rows),
    };
    let info = job.info(false);
    state.bulk.with(|jobs| jobs.insert(id, job));
    bump(&state.bulk.created, 1);
    json_response(StatusCode::OK, &info)
}

/// `GET …/jobs/query/<id>`: the job info; each poll of an open job moves it on.
async fn job_info(
    State(state): State<Arc<MockState>>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = state.refuse(&headers) {
        return refused;
    }
    let config = &state.config.bulk;
    let info = state.bulk.with(|jobs| {
        let job = jobs.get_mut(&id)?;
        if job.state.is_open() {
            job.polls = job.polls.saturating_add(1);
            if job.polls >= config.polls_to_complete {
                job.processing_ms =
                    u64::try_from(job.started.elapsed().as_millis()).unwrap_or(u64::MAX);
                job.modstamp = Utc::now();
                match &config.fail_with {
                    Some(message) => {
                        job.state = JobState::Failed;
                        job.error_message = Some(message.clone());
                    }
                    None => job.state = JobState::JobComplete,
                }
            } else {
                job.state = JobState::InProgress;
            }
        }
        Some(job.info(true))
    });
    match info {
        Some(info) => {
            bump(&state.bulk.polls, 1);
            json_response(StatusCode::OK, &info)
        }
        None => job_not_found(),
    }
}

/// `PATCH …/jobs/query/<id>` with `{"state":"Aborted"}`.
async fn abort_job(
    State(state): State<Arc<MockState>>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = state.refuse(&headers) {
        return refused;
    }
    let wanted = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("state").and_then(Value::as_str).map(str::to_owned));
    if wanted.as_deref() != Some("Aborted") {
        return api_error(
            StatusCode::BAD_REQUEST,
            "INVALIDJOBSTATE",
            "A query job can only be set to the state Aborted",
        );
    }
    let outcome = state.bulk.with(|jobs| {
        let job = jobs.get_mut(&id)?;
        if !job.state.is_open() {
            return Some(Err(job.state));
        }
        job.state = JobState::Aborted;
        job.modstamp = Utc::now();
        Some(Ok(job.info(true)))
    });
    match outcome {
        None => job_not_found(),
        Some(Err(current)) => api_error(
            StatusCode::BAD_REQUEST,
            "INVALIDJOBSTATE",
            &format!(
                "Job {id} is {} and can no longer be aborted",
                current.as_str()
            ),
        ),
        Some(Ok(info)) => {
            bump(&state.bulk.aborted, 1);
            json_response(StatusCode::OK, &info)
        }
    }
}

/// `DELETE …/jobs/query/<id>`.
async fn delete_job(
    State(state): State<Arc<MockState>>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = state.refuse(&headers) {
        return refused;
    }
    let outcome = state
        .bulk
        .with(|jobs| match jobs.get(&id).map(|j| j.state) {
            None => None,
            Some(JobState::InProgress) => Some(false),
            Some(_) => {
                jobs.remove(&id);
                Some(true)
            }
        });
    match outcome {
        None => job_not_found(),
        Some(false) => api_error(
            StatusCode::BAD_REQUEST,
            "INVALIDJOBSTATE",
            &format!(
                "Job {id} is InProgress; abort it or wait for it to finish before deleting it"
            ),
        ),
        Some(true) => {
            bump(&state.bulk.deleted, 1);
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

fn encode_locator(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(offset.to_string())
}

fn decode_locator(locator: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(locator)
        .ok()?;
    std::str::from_utf8(&bytes).ok()?.parse().ok()
}

/// `GET …/jobs/query/<id>/results?maxRecords=N&locator=L`: one page of CSV.
async fn job_results(
    State(state): State<Arc<MockState>>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(refused) = state.refuse(&headers) {
        return refused;
    }
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let page_size = match param("maxRecords") {
        None => state.config.bulk.default_max_records.max(1),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_MAX_RECORDS",
                    &format!("maxRecords must be a positive integer, got {v}"),
                );
            }
        },
    };
    let job = state.bulk.with(|jobs| {
        jobs.get(&id).map(|j| {
            (
                j.state,
                j.fields.clone(),
                Arc::clone(&j.rows),
                j.delimiter.1,
                j.crlf,
                j.object,
            )
        })
    });
    let Some((job_state, fields, rows, delimiter, crlf, object)) = job else {
        return job_not_found();
    };
    if job_state != JobState::JobComplete {
        return api_error(
            StatusCode::BAD_REQUEST,
            "JOB_NOT_COMPLETE",
            &format!(
                "Job {id} is {}; results are available once it is JobComplete",
                job_state.as_str()
            ),
        );
    }
    let offset = match param("locator").filter(|l| !l.is_empty()) {
        None => 0,
        Some(l) => match decode_locator(l).filter(|&o| o <= rows.len()) {
            Some(o) => o,
            None => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_LOCATOR",
                    &format!("Invalid locator: {l}"),
                );
            }
        },
    };
    let end = offset.saturating_add(page_size).min(rows.len());
    let page = &rows[offset..end];
    let has_next = end < rows.len();
    let mut next = end;
    if let Some((_, last_id)) = page.last()
        && state
            .faults
            .repeat_last(object.as_str(), last_id, page.len(), has_next)
    {
        next = end - 1;
    }
    let body = match render_csv(&fields, page, delimiter, crlf) {
        Ok(body) => body,
        Err(e) => {
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNKNOWN_EXCEPTION",
                &format!("could not write CSV: {e}"),
            );
        }
    };
    bump(&state.bulk.pages, 1);
    bump(&state.bulk.rows, page.len() as u64);
    let locator = if has_next {
        encode_locator(next)
    } else {
        "null".to_owned()
    };
    let mut response = (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=UTF-8"),
        )],
        body,
    )
        .into_response();
    let h = response.headers_mut();
    h.insert("sforce-numberofrecords", HeaderValue::from(page.len()));
    if let Ok(v) = HeaderValue::from_str(&locator) {
        h.insert("sforce-locator", v);
    }
    response
}

fn render_csv(
    fields: &[&str],
    page: &[(Vec<String>, String)],
    delimiter: u8,
    crlf: bool,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .quote_style(csv::QuoteStyle::Always)
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    w.write_record(fields)?;
    for (cells, _) in page {
        w.write_record(cells)?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_follow_the_bulk_formats() {
        assert_eq!(cell(&Value::Null), "");
        assert_eq!(cell(&json!(true)), "true");
        assert_eq!(cell(&json!(12.5)), "12.5");
        assert_eq!(
            cell(&json!("2024-04-25T15:50:37.000+0000")),
            "2024-04-25T15:50:37.000Z"
        );
        assert_eq!(cell(&json!("2024-04-25")), "2024-04-25");
        assert_eq!(cell(&json!("yesterday")), "yesterday");
    }

    #[test]
    fn locators_round_trip_and_look_like_salesforce_ones() {
        assert_eq!(encode_locator(10_000), "MTAwMDA");
        assert_eq!(decode_locator("MTAwMDA"), Some(10_000));
        assert_eq!(decode_locator("null"), None);
    }

    #[test]
    fn bulk_refuses_what_it_cannot_run() {
        assert!(bulk_unsupported("SELECT Id FROM Account GROUP BY Name").is_some());
        assert!(bulk_unsupported("SELECT Id FROM Account LIMIT 5 OFFSET 5").is_some());
        assert!(bulk_unsupported("SELECT Id FROM Account WHERE Name = 'Group by'").is_none());
        assert!(bulk_unsupported("SELECT Id FROM Account").is_none());
    }

    #[test]
    fn csv_quotes_every_value() {
        let page = vec![(
            vec![
                "a,b".to_owned(),
                "say \"hi\"\nthere".to_owned(),
                String::new(),
            ],
            "x".to_owned(),
        )];
        let out = render_csv(&["A", "B", "C"], &page, b',', false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"A\",\"B\",\"C\"\n\"a,b\",\"say \"\"hi\"\"\nthere\",\"\"\n"
        );
    }
}
