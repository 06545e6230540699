//! Large initial loads through Bulk API 2.0 query jobs (`vendor-apis.md` §1; the crate README
//! has the steps): `SalesforceConnector`'s `read` switches here for a full refresh from
//! scratch above `bulk_threshold` rows, and [`BulkPages`] records the same keyset position as
//! the REST path, so a read cut off mid-bulk resumes through REST.
//!
//! Two things a connector otherwise leaves to the runtime happen here, and why: waiting
//! between polls (a job runs asynchronously on Salesforce's side; there is nothing to retry,
//! only a job to wait for), and checking that a results page is whole (a CSV body that ended
//! early looks whole to HTTP when the length header agrees with it, so each page is checked
//! against `Sforce-NumberOfRecords` and its final line break, and a short one is a
//! [`BodyError::Incomplete`] that the client fetches again within its retry budget).

use crate::{Object, SalesforceConfig, SalesforceConnector, mapping};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tributary_connector::map::csv_records;
use tributary_connector::pull::keyset::Keyset;
use tributary_connector::pull::{Page as PullPage, PageSource};
use tributary_connector::{
    BodyError, ConnectorError, HttpRequest, Method, check_range, daily_remaining, header_text,
};

/// Rows above which a full refresh from scratch goes through Bulk unless configured.
pub const DEFAULT_BULK_THRESHOLD: u64 = 100_000;
/// Milliseconds before the first poll of a Bulk job unless configured.
pub const DEFAULT_BULK_POLL_INTERVAL_MS: u64 = 2_000;
/// Rows per Bulk results page unless configured.
pub const DEFAULT_BULK_MAX_RECORDS: u64 = 50_000;
/// Seconds a Bulk job may take to complete unless configured.
pub const DEFAULT_BULK_TIMEOUT_SECS: u64 = 3_600;

/// The wait between polls grows to at most this multiple of `bulk_poll_interval_ms`.
const MAX_POLL_FACTOR: u32 = 8;

/// `columnDelimiter` names and their bytes.
const DELIMITERS: [(&str, u8); 6] = [
    ("COMMA", b','),
    ("BACKQUOTE", b'`'),
    ("CARET", b'^'),
    ("PIPE", b'|'),
    ("SEMICOLON", b';'),
    ("TAB", b'\t'),
];

/// Checks the Bulk keys of `config`; the message names the field.
pub(crate) fn validate(config: &SalesforceConfig) -> Result<(), String> {
    check_range("bulk_max_records", config.bulk_max_records, 1..=u64::MAX)?;
    check_range("bulk_timeout_secs", config.bulk_timeout_secs, 1..=u64::MAX)
}

/// A created job: where it lives and how its CSV is delimited.
#[derive(Debug)]
struct Job {
    id: String,
    url: String,
    delimiter: u8,
    /// The SELECT list: the CSV columns, in order.
    columns: Vec<String>,
}

/// One results page, decoded.
#[derive(Debug)]
struct Page {
    records: Vec<Value>,
    /// The locator of the next page; `None` on the last.
    next: Option<String>,
    /// Daily API requests left, from `Sforce-Limit-Info`.
    api_remaining: Option<u64>,
}

/// Decodes one results page of a job whose SELECT list is `fields` (the record keys, spelt as
/// the query spells them), given its
/// `Sforce-NumberOfRecords` and `Sforce-Locator` headers.
fn parse_page(
    number_of_records: Option<&str>,
    locator: Option<&str>,
    body: &[u8],
    fields: &[String],
    delimiter: u8,
) -> Result<Page, BodyError> {
    let promised = match number_of_records {
        None => None,
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            BodyError::Invalid(format!("`Sforce-NumberOfRecords` is not a number: `{n}`"))
        })?),
    };
    let next = match locator {
        None => return Err(BodyError::Invalid("no `Sforce-Locator` header".to_owned())),
        Some("null") => None,
        Some("") => {
            return Err(BodyError::Invalid(
                "an empty `Sforce-Locator` header".to_owned(),
            ));
        }
        Some(locator) => Some(locator.to_owned()),
    };
    let records = csv_records(body, fields, delimiter, promised)?;
    Ok(Page {
        records,
        next,
        api_remaining: None,
    })
}

/// The results pages of a completed job, paged by `locator`; the same position as the REST
/// path is recorded after each, with the reserve checked before the next.
pub(crate) struct BulkPages<'a> {
    conn: &'a SalesforceConnector,
    object: Object,
    job: Job,
    /// The next page's locator; `None` before the first.
    locator: Option<String>,
    /// Daily API requests left after the last page.
    api_remaining: Option<u64>,
    pages: u64,
}

#[async_trait]
impl PageSource<Keyset> for BulkPages<'_> {
    type Raw = Value;

    async fn next_page(&mut self, cursor: &mut Keyset) -> Result<PullPage<Value>, ConnectorError> {
        if self.pages > 0 {
            self.conn.keep_reserve(self.api_remaining)?;
        }
        let (conn, object) = (self.conn, self.object);
        let page = conn
            .results_page(object, &self.job, self.locator.as_deref())
            .await?;
        self.pages += 1;
        self.api_remaining = page.api_remaining;
        self.locator = page.next;
        let more = self.locator.is_some();
        Ok(cursor.page(page.records, mapping::position, more))
    }
}

impl BulkPages<'_> {
    /// After the last page: deletes the job.
    pub(crate) async fn finish(self) {
        let (stream, job, pages) = (self.object.name, &self.job.id, self.pages);
        tracing::info!(stream, job = %job, pages, "salesforce bulk query read");
        self.conn.delete_job(&self.job).await;
    }
}

impl SalesforceConnector {
    /// Whether a read from `cursor` of a query with `total` rows goes through Bulk: a full
    /// refresh from scratch above the threshold.
    pub(crate) fn wants_bulk(&self, cursor: &Keyset, total: Option<u64>) -> bool {
        let threshold = self.config.bulk_threshold;
        threshold > 0
            && !cursor.incremental
            && *cursor == Keyset::default()
            && total.is_some_and(|t| t > threshold)
    }

    /// The pages of a full refresh of `object` from scratch through a Bulk API 2.0 query job
    /// selecting `fields` (the REST read's select list): creates the job and waits for it.
    pub(crate) async fn bulk_pages(
        &self,
        object: Object,
        fields: Vec<String>,
    ) -> Result<BulkPages<'_>, ConnectorError> {
        let job = self.create_job(object, fields).await?;
        tracing::info!(stream = object.name, job = %job.id, "salesforce bulk query job created");
        if let Err(e) = self.wait_for(object, &job).await {
            self.delete_job(&job).await;
            return Err(e);
        }
        Ok(BulkPages {
            conn: self,
            object,
            job,
            locator: None,
            api_remaining: None,
            pages: 0,
        })
    }

    /// `POST …/jobs/query` with the REST path's SOQL.
    async fn create_job(&self, object: Object, fields: Vec<String>) -> Result<Job, ConnectorError> {
        let base = self.instance_url().await?;
        let url = format!(
            "{base}/services/data/{}/jobs/query",
            self.config.api_version
        );
        let soql = crate::query::soql_for(object, &fields, None);
        let request = HttpRequest::post(&url).json(json!({
            "operation": "query",
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }));
        let response = self.ctx.http.send(&request).await?;
        let decode = |message: String| ConnectorError::Decode {
            url: url.clone(),
            message,
        };
        let id = response
            .body
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
            .ok_or_else(|| {
                decode(format!(
                    "the created job has no usable `id`: {}",
                    response.body
                ))
            })?
            .to_owned();
        let delimiter = match response.body.get("columnDelimiter").and_then(Value::as_str) {
            None => b',',
            Some(name) => DELIMITERS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| *b)
                .ok_or_else(|| decode(format!("unknown `columnDelimiter` `{name}`")))?,
        };
        Ok(Job {
            url: format!("{url}/{id}"),
            id,
            delimiter,
            columns: fields,
        })
    }

    /// Polls `job` until it is `JobComplete`.
    async fn wait_for(&self, object: Object, job: &Job) -> Result<(), ConnectorError> {
        let interval = Duration::from_millis(self.config.bulk_poll_interval_ms);
        let deadline = Duration::from_secs(self.config.bulk_timeout_secs);
        let started = Instant::now();
        let mut polls = 0u32;
        loop {
            let factor = 1u32 << polls.min(MAX_POLL_FACTOR.trailing_zeros());
            tokio::time::sleep(interval.saturating_mul(factor)).await;
            polls = polls.saturating_add(1);
            let response = self.ctx.http.send(&HttpRequest::get(&job.url)).await?;
            let state = response
                .body
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or_default();
            tracing::debug!(stream = object.name, job = %job.id, state, polls, "salesforce bulk query job");
            match state {
                "JobComplete" => return Ok(()),
                "Failed" | "Aborted" => {
                    let reason = response
                        .body
                        .get("errorMessage")
                        .and_then(Value::as_str)
                        .filter(|m| !m.is_empty())
                        .unwrap_or("no errorMessage given");
                    return Err(ConnectorError::Transient {
                        url: job.url.clone(),
                        message: format!(
                            "salesforce bulk query job `{}` for `{}` ended {state}: {reason}",
                            job.id, object.name
                        ),
                    });
                }
                "UploadComplete" | "InProgress" => {}
                other => {
                    return Err(ConnectorError::Decode {
                        url: job.url.clone(),
                        message: format!("unknown bulk job state `{other}`"),
                    });
                }
            }
            self.keep_reserve(daily_remaining(&response.headers))?;
            if started.elapsed() >= deadline {
                self.abort_job(job).await;
                return Err(ConnectorError::Transient {
                    url: job.url.clone(),
                    message: format!(
                        "salesforce bulk query job `{}` for `{}` was still {state} after {} s (bulk_timeout_secs); aborted it",
                        job.id, object.name, self.config.bulk_timeout_secs
                    ),
                });
            }
        }
    }

    /// One results page, fetched again while it arrives cut short.
    async fn results_page(
        &self,
        object: Object,
        job: &Job,
        locator: Option<&str>,
    ) -> Result<Page, ConnectorError> {
        let url = format!("{}/results", job.url);
        let mut request =
            HttpRequest::get(&url).query("maxRecords", self.config.bulk_max_records.to_string());
        if let Some(locator) = locator {
            request = request.query("locator", locator);
        }
        // A page cut short is fetched again (locators are stable) by the client's retries.
        let response = self
            .ctx
            .http
            .send_decoded(&request, |headers, body| {
                parse_page(
                    header_text(headers, "sforce-numberofrecords"),
                    header_text(headers, "sforce-locator"),
                    body,
                    &job.columns,
                    job.delimiter,
                )
            })
            .await
            .inspect_err(|e| {
                tracing::warn!(stream = object.name, job = %job.id, error = %e, "bulk results page failed");
            })?;
        Ok(Page {
            api_remaining: daily_remaining(&response.headers),
            ..response.body
        })
    }

    /// Deletes `job`; a failure is only logged (Salesforce deletes jobs after seven days).
    async fn delete_job(&self, job: &Job) {
        let request = HttpRequest::new(Method::DELETE, &job.url);
        if let Err(e) = self.ctx.http.send_bytes(&request).await {
            tracing::warn!(job = %job.id, error = %e, "could not delete the salesforce bulk query job");
        }
    }

    /// Aborts `job`; a failure is only logged.
    async fn abort_job(&self, job: &Job) {
        let request = HttpRequest::new(Method::PATCH, &job.url).json(json!({"state": "Aborted"}));
        if let Err(e) = self.ctx.http.send_bytes(&request).await {
            tracing::warn!(job = %job.id, error = %e, "could not abort the salesforce bulk query job");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn a_page_becomes_records_with_nulls_and_a_locator() {
        let body = b"\"Id\",\"Name\",\"IsWon\",\"Amount\"\n\
                     \"006A\",\"Acme, \"\"Inc\"\"\nEU\",\"true\",\"\"\n\
                     \"006B\",\"Beta\",\"false\",\"12.50\"\n";
        let page = parse_page(
            Some("2"),
            Some("MTAwMDA"),
            body,
            &fields(&["Id", "Name", "IsWon", "Amount"]),
            b',',
        )
        .unwrap();
        assert_eq!(page.next.as_deref(), Some("MTAwMDA"));
        assert_eq!(
            page.records,
            vec![
                json!({"Id": "006A", "Name": "Acme, \"Inc\"\nEU", "IsWon": "true", "Amount": null}),
                json!({"Id": "006B", "Name": "Beta", "IsWon": "false", "Amount": "12.50"}),
            ]
        );
        let last = parse_page(
            Some("0"),
            Some("null"),
            b"Id,Name,IsWon,Amount\r\n",
            &fields(&["Id", "Name", "IsWon", "Amount"]),
            b',',
        )
        .unwrap();
        assert!(last.next.is_none() && last.records.is_empty());
    }

    #[test]
    fn cut_pages_are_told_apart_from_wrong_ones() {
        let whole = "\"Id\",\"Name\",\"IsWon\",\"Amount\"\n\"006A\",\"A\",\"true\",\"1\"\n\"006B\",\"B\",\"true\",\"2\"\n";
        let all = fields(&["Id", "Name", "IsWon", "Amount"]);
        let page = |n: Option<&str>, locator: Option<&str>, body: &[u8], columns: &[String]| {
            parse_page(n, locator, body, columns, b',')
        };
        for cut in 0..whole.len() {
            let r = page(Some("2"), Some("null"), &whole.as_bytes()[..cut], &all);
            assert!(
                matches!(r, Err(BodyError::Incomplete(_))),
                "{cut}: {:?}",
                &whole[..cut]
            );
        }
        let whole = whole.as_bytes();
        assert!(page(Some("2"), Some("null"), whole, &all).is_ok());
        assert!(matches!(
            page(Some("2"), None, whole, &all),
            Err(BodyError::Invalid(_))
        ));
        assert!(matches!(
            page(Some("2"), Some("null"), whole, &fields(&["Id", "Name"])),
            Err(BodyError::Invalid(m)) if m.contains("not the query's")
        ));
        assert!(matches!(
            page(Some("1"), Some("null"), whole, &all),
            Err(BodyError::Invalid(_))
        ));
    }

    #[test]
    fn bulk_keys_are_validated() {
        let mut c = SalesforceConfig::default();
        assert_eq!(c.bulk_threshold, DEFAULT_BULK_THRESHOLD);
        assert!(validate(&c).is_ok());
        c.bulk_max_records = 0;
        assert!(validate(&c).unwrap_err().contains("bulk_max_records"));
    }
}
