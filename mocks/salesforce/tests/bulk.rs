//! The Salesforce mock's Bulk API 2.0 query jobs against their documented wire format
//! (`vendor-apis.md` §1, "Bulk API 2.0 query jobs").

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap

use reqwest::{Method, header::HeaderMap};
use serde_json::{Value, json};
use std::sync::Arc;
use tributary_mock_kit::{Faults, MockServer, Probability, Schedule};
use tributary_mock_salesforce::{
    SObject, SalesforceMock, SalesforceMockConfig, TOKEN_PATH,
    bulk::{BulkMockConfig, BulkStats},
};
use tributary_sim::{Company, SimConfig};

const JOBS: &str = "/services/data/v62.0/jobs/query";
const SOQL: &str = "SELECT Id, Name, NumberOfEmployees, CurrencyIsoCode, SystemModstamp, IsDeleted \
                    FROM Account ORDER BY SystemModstamp ASC, Id ASC";

struct Fixture {
    company: Arc<Company>,
    mock: SalesforceMock,
    server: MockServer,
    client: reqwest::Client,
    token: String,
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.headers))
    }
}

async fn fixture(config: SalesforceMockConfig) -> Fixture {
    let company = Arc::new(Company::generate(&SimConfig {
        accounts: 40,
        ..SimConfig::default()
    }));
    let mock = SalesforceMock::new(company.clone(), config);
    let server = MockServer::start(mock.router()).await.unwrap();
    let client = reqwest::Client::new();
    let c = mock.config().clone();
    let token: Value = client
        .post(format!("{}{TOKEN_PATH}", server.base_url))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
            ("refresh_token", &c.refresh_token),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Fixture {
        company,
        mock,
        server,
        client,
        token: token["access_token"].as_str().unwrap().to_owned(),
    }
}

impl Fixture {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send_as(method, path, body, Some(&self.token)).await
    }

    async fn send_as(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.server.base_url));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    async fn create(&self, body: Value) -> Reply {
        self.send(Method::POST, JOBS, Some(body)).await
    }

    async fn create_ok(&self, operation: &str, query: &str) -> String {
        let r = self
            .create(
                json!({"operation": operation, "query": query, "contentType": "CSV",
                           "columnDelimiter": "COMMA", "lineEnding": "LF"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_owned()
    }

    async fn poll(&self, id: &str) -> Value {
        let r = self.send(Method::GET, &format!("{JOBS}/{id}"), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    async fn poll_until_done(&self, id: &str) -> Value {
        for _ in 0..20 {
            let info = self.poll(id).await;
            if info["state"] != "UploadComplete" && info["state"] != "InProgress" {
                return info;
            }
        }
        panic!("job {id} never finished");
    }

    async fn results(&self, id: &str, max: Option<usize>, locator: Option<&str>) -> Reply {
        let mut path = format!("{JOBS}/{id}/results");
        let mut sep = '?';
        if let Some(n) = max {
            path.push_str(&format!("{sep}maxRecords={n}"));
            sep = '&';
        }
        if let Some(l) = locator {
            path.push_str(&format!("{sep}locator={l}"));
        }
        self.send(Method::GET, &path, None).await
    }

    /// Every page of a completed job: the header rows and the data rows.
    async fn all_rows(&self, id: &str, max: usize) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
        let mut headers = Vec::new();
        let mut rows = Vec::new();
        let mut locator: Option<String> = None;
        loop {
            let r = self.results(id, Some(max), locator.as_deref()).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let mut page = parse_csv(&r.body, b',');
            assert_eq!(
                r.header("sforce-numberofrecords"),
                (page.len() - 1).to_string()
            );
            assert!(page.len() - 1 <= max);
            headers.push(page.remove(0));
            rows.extend(page);
            match r.header("sforce-locator") {
                "null" => break,
                next => locator = Some(next.to_owned()),
            }
        }
        (headers, rows)
    }

    /// Every record of a REST query, in order.
    async fn rest(&self, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut path = format!(
            "/services/data/v62.0/query?q={}",
            url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
        );
        loop {
            let r = self.send(Method::GET, &path, None).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let body = r.json();
            out.extend(body["records"].as_array().unwrap().iter().cloned());
            match body["nextRecordsUrl"].as_str() {
                Some(next) => path = next.to_owned(),
                None => break,
            }
        }
        out
    }
}

fn parse_csv(body: &str, delimiter: u8) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// A REST value as Bulk API 2.0 writes it in CSV.
fn as_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => match s.strip_suffix("+0000") {
            Some(stamp) => format!("{stamp}Z"),
            None => s.clone(),
        },
        other => other.to_string(),
    }
}

#[tokio::test]
async fn a_job_is_created_polled_to_completion_and_its_results_paged() {
    let f = fixture(SalesforceMockConfig::default()).await;
    let rest = f.rest(SOQL).await;
    let r = f
        .create(
            json!({"operation": "query", "query": SOQL, "contentType": "CSV",
                       "columnDelimiter": "COMMA", "lineEnding": "LF"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("sforce-limit-info").starts_with("api-usage="));
    let job = r.json();
    let id = job["id"].as_str().unwrap();
    assert!(id.starts_with("750") && id.len() == 18, "{id}");
    assert_eq!(job["operation"], "query");
    assert_eq!(job["object"], "Account");
    assert_eq!(job["state"], "UploadComplete");
    assert_eq!(job["concurrencyMode"], "Parallel");
    assert_eq!(job["contentType"], "CSV");
    assert_eq!(job["lineEnding"], "LF");
    assert_eq!(job["columnDelimiter"], "COMMA");
    assert!(job["createdById"].as_str().unwrap().starts_with("005"));
    assert!(
        job["apiVersion"].is_number() && job["apiVersion"].as_f64() == Some(62.0),
        "apiVersion is a JSON number: {}",
        job["apiVersion"]
    );
    assert!(r.body.contains("\"apiVersion\":62.0"), "{}", r.body);
    for stamp in ["createdDate", "systemModstamp"] {
        let s = job[stamp].as_str().unwrap();
        assert!(s.ends_with(".000+0000") || s.ends_with("+0000"), "{s}");
    }
    assert!(job.get("numberRecordsProcessed").is_none());

    // Results before completion are refused.
    let early = f.results(id, None, None).await;
    assert_eq!(early.status, 400, "{}", early.body);
    assert_eq!(early.json()[0]["errorCode"], "JOB_NOT_COMPLETE");

    // The default takes two polls: InProgress, then JobComplete.
    let first = f.poll(id).await;
    assert_eq!(first["state"], "InProgress");
    assert_eq!(first["jobType"], "V2Query");
    assert_eq!(f.results(id, None, None).await.status, 400);
    let done = f.poll(id).await;
    assert_eq!(done["state"], "JobComplete");
    assert_eq!(
        done["numberRecordsProcessed"].as_u64(),
        Some(rest.len() as u64)
    );
    assert_eq!(done["retries"], 0);
    assert!(done["totalProcessingTime"].is_u64());
    assert_eq!(
        f.poll(id).await["state"],
        "JobComplete",
        "it stays complete"
    );

    // Pages of 7: the same records, fields and order as the REST query.
    let (headers, rows) = f.all_rows(id, 7).await;
    assert_eq!(headers.len(), rest.len().div_ceil(7));
    for h in &headers {
        assert_eq!(
            h,
            &[
                "Id",
                "Name",
                "NumberOfEmployees",
                "CurrencyIsoCode",
                "SystemModstamp",
                "IsDeleted"
            ],
            "a header row on every page, in SELECT order"
        );
    }
    assert_eq!(rows.len(), rest.len());
    for (row, record) in rows.iter().zip(&rest) {
        let expected: Vec<String> = headers[0].iter().map(|h| as_cell(&record[h])).collect();
        assert_eq!(row, &expected);
    }
    assert!(rows[0][4].ends_with('Z'), "{:?}", rows[0]);
    assert_eq!(rows[0][5], "false");

    // Without maxRecords everything comes in one page.
    let whole = f.results(id, None, None).await;
    assert_eq!(whole.header("sforce-locator"), "null");
    assert_eq!(
        whole.header("sforce-numberofrecords"),
        rest.len().to_string()
    );
    assert!(whole.header("content-type").starts_with("text/csv"));

    let stats = f.mock.bulk_stats();
    assert_eq!(
        (stats.jobs_created, stats.status_polls),
        (1, 3),
        "{stats:?}"
    );
    assert_eq!(stats.result_pages, headers.len() as u64 + 1);
}

#[tokio::test]
async fn csv_quotes_every_value_and_writes_values_as_bulk_does() {
    let f = fixture(SalesforceMockConfig {
        bulk: BulkMockConfig {
            polls_to_complete: 1,
            ..BulkMockConfig::default()
        },
        ..SalesforceMockConfig::default()
    })
    .await;
    let q = "SELECT Id, Amount, IsWon, CloseDate, CreatedDate, Term_Months__c FROM Opportunity ORDER BY Id";
    let id = f.create_ok("query", q).await;
    assert_eq!(f.poll(id.as_str()).await["state"], "JobComplete");
    let r = f.results(&id, Some(1000), None).await;
    assert!(
        r.body.starts_with(
            "\"Id\",\"Amount\",\"IsWon\",\"CloseDate\",\"CreatedDate\",\"Term_Months__c\"\n\"006"
        ),
        "{}",
        r.body
    );
    let rows = parse_csv(&r.body, b',');
    let rest = f.rest(q).await;
    assert_eq!(rows.len(), rest.len() + 1);
    // Null as an empty value (the mock's records have no nulls in these fields; the unit
    // tests of the module cover it), booleans as words, dates as they are, datetimes with Z.
    for (row, record) in rows[1..].iter().zip(&rest) {
        let expected: Vec<String> = rows[0].iter().map(|h| as_cell(&record[h])).collect();
        assert_eq!(row, &expected);
        assert!(row[2] == "true" || row[2] == "false", "{row:?}");
        assert_eq!(row[3].len(), 10, "{row:?}");
        assert!(
            row[4].len() == 24 && row[4].ends_with('Z') && row[4].as_bytes()[19] == b'.',
            "{row:?}"
        );
    }
}

#[tokio::test]
async fn other_delimiters_and_crlf_are_honoured() {
    let f = fixture(SalesforceMockConfig::default()).await;
    let r = f
        .create(
            json!({"operation": "query", "query": "SELECT Id, Name FROM Account",
                       "columnDelimiter": "PIPE", "lineEnding": "CRLF"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let job = r.json();
    assert_eq!(
        (&job["columnDelimiter"], &job["lineEnding"]),
        (&json!("PIPE"), &json!("CRLF"))
    );
    let id = job["id"].as_str().unwrap();
    f.poll_until_done(id).await;
    let r = f.results(id, Some(3), None).await;
    assert!(r.body.starts_with("\"Id\"|\"Name\"\r\n"), "{}", r.body);
    assert_eq!(parse_csv(&r.body, b'|').len(), 4);
}

#[tokio::test]
async fn query_all_includes_deleted_rows_and_query_does_not() {
    // The company is generated again, identically, by the fixture.
    let third = Company::generate(&SimConfig {
        accounts: 40,
        ..SimConfig::default()
    })
    .contacts[2]
        .id
        .clone();
    let f = fixture(SalesforceMockConfig {
        deleted: vec![(SObject::Contact, third)],
        ..SalesforceMockConfig::default()
    })
    .await;
    let q = "SELECT Id, IsDeleted FROM Contact";
    let live = f.create_ok("query", q).await;
    let all = f.create_ok("queryAll", q).await;
    f.poll_until_done(&live).await;
    let info = f.poll_until_done(&all).await;
    assert_eq!(info["operation"], "queryAll");
    let (_, live_rows) = f.all_rows(&live, 1000).await;
    let (_, all_rows) = f.all_rows(&all, 1000).await;
    assert_eq!(live_rows.len() + 1, all_rows.len());
    assert!(live_rows.iter().all(|r| r[1] == "false"));
    assert_eq!(all_rows.iter().filter(|r| r[1] == "true").count(), 1);
}

#[tokio::test]
async fn the_snapshot_is_taken_when_the_job_is_created() {
    let f = fixture(SalesforceMockConfig::with_faults(
        Faults::none().with_mutate(Probability::ONE),
    ))
    .await;
    let q = "SELECT Id, SystemModstamp FROM Contact ORDER BY Id";
    let id = f.create_ok("query", q).await;
    // Paging the REST query changes every record it serves (the `mutate` knob).
    let changed = f.rest(q).await;
    assert!(f.mock.stats().mutated > 0);
    let after = f.rest(q).await;
    assert_ne!(changed, after, "records changed after the job was created");
    f.poll_until_done(&id).await;
    let (_, rows) = f.all_rows(&id, 1000).await;
    let stamps_now: Vec<String> = after
        .iter()
        .map(|r| as_cell(&r["SystemModstamp"]))
        .collect();
    let stamps_bulk: Vec<String> = rows.iter().map(|r| r[1].clone()).collect();
    assert_eq!(stamps_bulk.len(), stamps_now.len());
    assert_ne!(stamps_bulk, stamps_now, "the results are the snapshot");
    let today = f.company.today.format("%Y-%m-%d").to_string();
    assert!(
        stamps_bulk.iter().all(|s| s < &today),
        "no stamp from the mutations, which come after the company's today"
    );
}

#[tokio::test]
async fn unsupported_soql_and_bad_jobs_are_refused_like_rest() {
    let f = fixture(SalesforceMockConfig::default()).await;
    for (body, code) in [
        (
            json!({"operation": "query", "query": "SELECT Name FROM Account GROUP BY Name"}),
            "MALFORMED_QUERY",
        ),
        (
            json!({"operation": "query", "query": "SELECT Id FROM Account LIMIT 5 OFFSET 5"}),
            "MALFORMED_QUERY",
        ),
        (
            json!({"operation": "query", "query": "SELECT COUNT() FROM Account"}),
            "MALFORMED_QUERY",
        ),
        (
            json!({"operation": "query", "query": "SELECT Id, (SELECT Id FROM Contacts) FROM Account"}),
            "MALFORMED_QUERY",
        ),
        (
            json!({"operation": "query", "query": "SELECT Id, Revenue__c FROM Account"}),
            "INVALID_FIELD",
        ),
        (
            json!({"operation": "query", "query": "SELECT Id FROM Lead"}),
            "INVALID_TYPE",
        ),
        (json!({"operation": "query"}), "MALFORMED_QUERY"),
        (
            json!({"operation": "insert", "query": "SELECT Id FROM Account"}),
            "INVALIDJOB",
        ),
        (
            json!({"operation": "query", "query": "SELECT Id FROM Account", "columnDelimiter": "SPACE"}),
            "INVALIDJOB",
        ),
        (
            json!({"operation": "query", "query": "SELECT Id FROM Account", "contentType": "JSON"}),
            "INVALIDJOB",
        ),
    ] {
        let r = f.create(body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let errors = r.json();
        assert_eq!(errors[0]["errorCode"], code, "{body}: {}", r.body);
        assert!(errors[0]["message"].is_string());
    }
    assert_eq!(f.mock.bulk_stats().jobs_created, 0);

    // A single-currency org refuses `CurrencyIsoCode` in a job as its REST query does.
    let f = fixture(SalesforceMockConfig {
        multi_currency: false,
        ..SalesforceMockConfig::default()
    })
    .await;
    let r = f.create(json!({"operation": "query", "query": SOQL})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()[0]["errorCode"], "INVALID_FIELD", "{}", r.body);
}

#[tokio::test]
async fn unknown_jobs_are_not_found_and_jobs_abort_and_delete() {
    let f = fixture(SalesforceMockConfig::default()).await;
    let nobody = "750SIM000000999AAA";
    for (method, path) in [
        (Method::GET, format!("{JOBS}/{nobody}")),
        (Method::GET, format!("{JOBS}/{nobody}/results")),
        (Method::DELETE, format!("{JOBS}/{nobody}")),
    ] {
        let r = f.send(method.clone(), &path, None).await;
        assert_eq!(r.status, 404, "{method} {path}");
        assert_eq!(r.json()[0]["errorCode"], "NOT_FOUND");
    }
    let r = f
        .send(
            Method::PATCH,
            &format!("{JOBS}/{nobody}"),
            Some(json!({"state": "Aborted"})),
        )
        .await;
    assert_eq!(r.status, 404);

    // Abort an open job: its results are refused, it can be deleted.
    let id = f.create_ok("query", "SELECT Id FROM Account").await;
    assert_eq!(f.poll(&id).await["state"], "InProgress");
    let r = f.send(Method::DELETE, &format!("{JOBS}/{id}"), None).await;
    assert_eq!(r.status, 400, "an InProgress job cannot be deleted");
    let r = f
        .send(
            Method::PATCH,
            &format!("{JOBS}/{id}"),
            Some(json!({"state": "JobComplete"})),
        )
        .await;
    assert_eq!(r.status, 400, "only Aborted can be set");
    let r = f
        .send(
            Method::PATCH,
            &format!("{JOBS}/{id}"),
            Some(json!({"state": "Aborted"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "Aborted");
    assert_eq!(f.poll(&id).await["state"], "Aborted", "it stays aborted");
    assert_eq!(f.results(&id, None, None).await.status, 400);
    let r = f
        .send(
            Method::PATCH,
            &format!("{JOBS}/{id}"),
            Some(json!({"state": "Aborted"})),
        )
        .await;
    assert_eq!(r.status, 400, "a finished job cannot be aborted");
    let r = f.send(Method::DELETE, &format!("{JOBS}/{id}"), None).await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    assert_eq!(
        f.send(Method::GET, &format!("{JOBS}/{id}"), None)
            .await
            .status,
        404
    );
    let stats = f.mock.bulk_stats();
    assert_eq!((stats.jobs_aborted, stats.jobs_deleted), (1, 1));
}

#[tokio::test]
async fn a_failing_job_ends_failed_with_its_error_message() {
    let f = fixture(SalesforceMockConfig {
        bulk: BulkMockConfig {
            polls_to_complete: 3,
            fail_with: Some("InternalServerError : query timed out".to_owned()),
            ..BulkMockConfig::default()
        },
        ..SalesforceMockConfig::default()
    })
    .await;
    let id = f.create_ok("query", "SELECT Id FROM Account").await;
    assert_eq!(f.poll(&id).await["state"], "InProgress");
    assert_eq!(f.poll(&id).await["state"], "InProgress");
    let info = f.poll(&id).await;
    assert_eq!(info["state"], "Failed");
    assert_eq!(
        info["errorMessage"],
        "InternalServerError : query timed out"
    );
    assert_eq!(f.results(&id, None, None).await.status, 400);
}

#[tokio::test]
async fn bad_locators_and_max_records_are_refused() {
    let f = fixture(SalesforceMockConfig::default()).await;
    let id = f.create_ok("query", "SELECT Id FROM Account").await;
    f.poll_until_done(&id).await;
    for path in [
        format!("{JOBS}/{id}/results?locator=bm9wZQ"),
        format!("{JOBS}/{id}/results?locator=OTk5OTk"),
        format!("{JOBS}/{id}/results?maxRecords=0"),
        format!("{JOBS}/{id}/results?maxRecords=many"),
    ] {
        let r = f.send(Method::GET, &path, None).await;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
    }
}

#[tokio::test]
async fn sessions_and_the_daily_limit_guard_the_bulk_routes() {
    let f = fixture(SalesforceMockConfig {
        daily_limit: 4,
        ..SalesforceMockConfig::default()
    })
    .await;
    let body = json!({"operation": "query", "query": "SELECT Id FROM Account"});
    let r = f
        .send_as(Method::POST, JOBS, Some(body.clone()), None)
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()[0]["errorCode"], "INVALID_SESSION_ID");
    let r = f
        .send_as(Method::POST, JOBS, Some(body.clone()), Some("forged"))
        .await;
    assert_eq!(r.status, 401);
    let id = f.create_ok("query", "SELECT Id FROM Account").await;
    let r = f.send(Method::GET, &format!("{JOBS}/{id}"), None).await;
    assert_eq!(r.header("sforce-limit-info"), "api-usage=4/4");
    let r = f.send(Method::GET, &format!("{JOBS}/{id}"), None).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()[0]["message"], "TotalRequests Limit exceeded.");
    assert_eq!(f.mock.bulk_stats().status_polls, 1);
}

#[tokio::test]
async fn the_fault_layer_covers_the_bulk_routes() {
    // Request 1 is the token; 2 creates the job, 3 and 4 poll, 5 is throttled, 6 fails,
    // 7 is a truncated page, 8 the same page whole.
    let f = fixture(SalesforceMockConfig::with_faults(
        Faults::none()
            .with_rate_limit(Schedule::requests(5..=5))
            .with_retry_after_secs(0)
            .with_server_errors(Schedule::requests(6..=6))
            .with_truncate(Schedule::requests(7..=7)),
    ))
    .await;
    let id = f.create_ok("query", SOQL).await;
    f.poll_until_done(&id).await;
    let throttled = f.results(&id, Some(10), None).await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.json()[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
    let failed = f.results(&id, Some(10), None).await;
    assert!([500, 502, 503].contains(&failed.status));
    let cut = f.results(&id, Some(10), None).await;
    let whole = f.results(&id, Some(10), None).await;
    assert_eq!((cut.status, whole.status), (200, 200));
    assert!(cut.body.len() < whole.body.len() && whole.body.starts_with(&cut.body));
    assert!(whole.body.ends_with('\n') && !cut.body.ends_with('\n'));
    assert_eq!(
        cut.header("sforce-numberofrecords"),
        "10",
        "the headers still promise the whole page"
    );
    let stats = f.mock.stats();
    assert_eq!(
        (stats.rate_limited, stats.server_errors, stats.truncated),
        (1, 1, 1)
    );
    assert_eq!(
        f.mock.bulk_stats(),
        BulkStats {
            jobs_created: 1,
            status_polls: 2,
            result_pages: 2,
            rows_served: 20,
            ..BulkStats::default()
        }
    );
}

#[tokio::test]
async fn the_duplicates_knob_repeats_a_row_across_pages() {
    let f = fixture(SalesforceMockConfig::with_faults(
        Faults::none().with_duplicates(Probability::ONE),
    ))
    .await;
    let id = f
        .create_ok("query", "SELECT Id FROM Account ORDER BY Id")
        .await;
    f.poll_until_done(&id).await;
    let (_, rows) = f.all_rows(&id, 10).await;
    let mut unique = rows.clone();
    unique.dedup();
    let live = f
        .company
        .accounts
        .iter()
        .filter(|a| a.archived_at.is_none())
        .count();
    assert_eq!(unique.len(), live);
    assert!(rows.len() > unique.len(), "some rows came twice");
}
