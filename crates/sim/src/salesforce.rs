//! A mock of the Salesforce REST API (`vendor-apis.md` §1), serving the simulated company:
//! accounts as `Account`, contacts as `Contact`, deals as `Opportunity` and owners as `User`.
//!
//! - `POST /services/oauth2/token`, form-encoded: `grant_type=refresh_token` (with the
//!   configured `client_id`, `client_secret` and `refresh_token`) or
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an `assertion` whose claims
//!   `iss` (the client id), `sub` (the username), `aud` (the login URL) and `exp` (at most five
//!   minutes ahead, not past) are checked; the signature is not verified. The response is
//!   Salesforce's: `access_token`, `instance_url` (this server), `id`, `token_type`,
//!   `issued_at` (epoch milliseconds as a string), `signature`, `scope` and no `expires_in`.
//!   Refusals are 400 `{"error":"invalid_grant","error_description":"authentication failure"}`.
//! - `GET /services/data/<version>/query?q=<SOQL>` and `/queryAll?q=<SOQL>`: the SOQL subset
//!   `SELECT <fields> FROM Account|Contact|Opportunity|User [WHERE <field> <op> <literal>
//!   [AND …]] [ORDER BY <field> [ASC|DESC][, …]] [LIMIT n]`; `query` leaves out deleted rows,
//!   `queryAll` includes them with `IsDeleted = true`. Batches of 2000 records (the
//!   configured `batch_size`), smaller on `Sforce-Query-Options: batchSize=N` (200 to 2000);
//!   further batches at `nextRecordsUrl` (`/services/data/<version>/query/<locator>-<offset>`).
//!   Anything outside the subset is 400 `MALFORMED_QUERY`; an unknown field `INVALID_FIELD`.
//! - Every API response carries `Sforce-Limit-Info: api-usage=N/LIMIT`; past `daily_limit`
//!   requests the answer is 403 `REQUEST_LIMIT_EXCEEDED` (`TotalRequests Limit exceeded.`). A
//!   missing, unknown or expired access token gets 401 `INVALID_SESSION_ID`.
//!
//! The `malformed` knob serves that many live accounts with `NumberOfEmployees: "lots"`,
//! contacts with `CreatedDate: "yesterday"` and won opportunities with `Amount`/`ARR__c`
//! `"n/a"`.
//!
//! Opportunities carry two custom fields: `ARR__c` (annual value) and `Term_Months__c`.
//!
//! Every response is wrapped in the shared fault layer ([`FaultInjector`]): token expiry, the
//! `mutate` and `duplicates` knobs are honoured by the query paging.

use crate::{
    Company, DealMotion, DealStage, Faults,
    faults::{self, FaultInjector, FaultStats, TokenCheck, VendorFaults, VendorMock},
};
use axum::{
    Router,
    body::Bytes,
    extract::{Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::Engine as _;
use chrono::{DateTime, NaiveTime, Utc};
use serde_json::{Map, Number, Value, json};
use std::{
    collections::{HashMap, HashSet},
    str::FromStr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

/// Where the token endpoint is served.
pub const TOKEN_PATH: &str = "/services/oauth2/token";
/// The grant type of the JWT bearer flow.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How access tokens issued by the mock begin (an org id and `!`, as Salesforce's do).
pub const TOKEN_PREFIX: &str = "00DSIM000000001!";
/// The session lifetime of issued tokens unless `token_ttl_secs` is set (two hours).
pub const SESSION_LIFETIME_SECS: u64 = 7200;
/// The largest (and default) query batch.
pub const MAX_BATCH_SIZE: usize = 2000;
/// The smallest batch `Sforce-Query-Options: batchSize` may ask for.
pub const MIN_BATCH_SIZE: usize = 200;

/// Settings of the Salesforce mock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceMockConfig {
    /// The connected app's consumer key (`client_id`, and `iss` of a JWT assertion).
    pub client_id: String,
    /// The connected app's consumer secret, required by the refresh-token grant.
    pub client_secret: String,
    /// The refresh token the refresh-token grant exchanges.
    pub refresh_token: String,
    /// The username a JWT assertion's `sub` must name.
    pub username: String,
    /// The audience a JWT assertion's `aud` must name (the login URL).
    pub audience: String,
    /// API requests allowed per rolling day; past it every API request gets 403
    /// `REQUEST_LIMIT_EXCEEDED`.
    pub daily_limit: u64,
    /// Records per batch when the request does not ask for fewer. Salesforce serves 2000; a
    /// smaller value lets tests page a small company (any value from 1 is accepted).
    pub batch_size: usize,
    /// Records soft-deleted in the org (in its Recycle Bin) besides those the generator
    /// archived: the sObject and the generator's id (`SimAccount::id` etc.). They are deleted
    /// at the company's today (midnight UTC), after every generated change, and served only by
    /// `queryAll`, with `IsDeleted = true`.
    pub deleted: Vec<(SObject, String)>,
    /// The fault knobs.
    pub faults: Faults,
}

impl Default for SalesforceMockConfig {
    fn default() -> Self {
        Self {
            client_id: "3MVG9sim-consumer-key".to_owned(),
            client_secret: "sim-consumer-secret".to_owned(),
            refresh_token: "5Aep861sim-refresh-token".to_owned(),
            username: "integration@sim.example".to_owned(),
            audience: "https://login.salesforce.com".to_owned(),
            daily_limit: 100_000,
            batch_size: MAX_BATCH_SIZE,
            deleted: Vec::new(),
            faults: Faults::default(),
        }
    }
}

impl SalesforceMockConfig {
    /// The defaults with `faults`.
    pub fn with_faults(faults: Faults) -> Self {
        Self {
            faults,
            ..Self::default()
        }
    }

    /// The credentials this mock accepts, for `tributary sim serve` to print.
    pub fn credential_hint(&self) -> String {
        format!(
            "client_id={} client_secret={} refresh_token={} username={} token_path={TOKEN_PATH}",
            self.client_id, self.client_secret, self.refresh_token, self.username
        )
    }
}

/// The sObjects the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SObject {
    /// Accounts.
    Account,
    /// Contacts.
    Contact,
    /// Opportunities (deals).
    Opportunity,
    /// Users (account owners).
    User,
}

impl SObject {
    fn parse(name: &str) -> Option<Self> {
        [Self::Account, Self::Contact, Self::Opportunity, Self::User]
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(name))
    }

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Account => "Account",
            Self::Contact => "Contact",
            Self::Opportunity => "Opportunity",
            Self::User => "User",
        }
    }

    /// The three-character key prefix of its ids.
    fn key_prefix(self) -> &'static str {
        match self {
            Self::Account => "001",
            Self::Contact => "003",
            Self::Opportunity => "006",
            Self::User => "005",
        }
    }

    /// The fields it has, by API name.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Account => &[
                "Id",
                "Name",
                "Type",
                "Industry",
                "BillingCountry",
                "BillingCity",
                "Website",
                "NumberOfEmployees",
                "OwnerId",
                "CurrencyIsoCode",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
            Self::Contact => &[
                "Id",
                "AccountId",
                "FirstName",
                "LastName",
                "Name",
                "Email",
                "Title",
                "OwnerId",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
            Self::Opportunity => &[
                "Id",
                "AccountId",
                "Name",
                "StageName",
                "Amount",
                "CloseDate",
                "Type",
                "IsWon",
                "IsClosed",
                "Probability",
                "CurrencyIsoCode",
                "ARR__c",
                "Term_Months__c",
                "OwnerId",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
            Self::User => &[
                "Id",
                "Username",
                "FirstName",
                "LastName",
                "Name",
                "Email",
                "IsActive",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
        }
    }

    fn canonical_field(self, name: &str) -> Option<&'static str> {
        self.fields()
            .iter()
            .copied()
            .find(|f| f.eq_ignore_ascii_case(name))
    }
}

/// The 18-character id Salesforce would give record `n` of `object`: the key prefix, `SIM`,
/// `n` in nine digits, and the three-character case-safe suffix.
pub fn salesforce_id(object: SObject, n: u64) -> String {
    let base = format!("{}SIM{:09}", object.key_prefix(), n % 1_000_000_000);
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let mut id = base.clone();
    for chunk in base.as_bytes().chunks(5) {
        let bits = chunk
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |acc, (i, _)| acc | (1 << i));
        id.push(char::from(alphabet[bits]));
    }
    id
}

/// A Salesforce datetime: `2024-04-25T15:50:37.000+0000`.
pub fn sf_datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

fn parse_sf_datetime(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn decimal_number(d: rust_decimal::Decimal) -> Value {
    Number::from_str(&d.normalize().to_string()).map_or(Value::Null, Value::Number)
}

fn numeric_id(id: &str, fallback: usize) -> u64 {
    id.parse().unwrap_or(fallback as u64 + 1)
}

struct QueryCursor {
    object: SObject,
    fields: Vec<&'static str>,
    /// Matching record indices in order.
    rows: Vec<usize>,
}

struct MockState {
    company: Arc<Company>,
    config: SalesforceMockConfig,
    faults: FaultInjector,
    api_used: AtomicU64,
    /// Records deleted through `config.deleted`, by sObject and index.
    deleted: HashSet<(SObject, usize)>,
    /// Records served malformed (the `malformed` knob), by sObject and index.
    malformed: HashSet<(SObject, usize)>,
    cursors: Mutex<HashMap<String, Arc<QueryCursor>>>,
    next_cursor: AtomicU64,
}

/// The Salesforce mock's routes serving `company`, wrapped in the fault layer of
/// `config.faults`. Use [`SalesforceMock`] to read the fault counters.
pub fn router(company: Arc<Company>, config: SalesforceMockConfig) -> Router {
    SalesforceMock::new(company, config).router()
}

/// One Salesforce mock instance. Clones share everything.
#[derive(Clone)]
pub struct SalesforceMock {
    state: Arc<MockState>,
}

impl std::fmt::Debug for SalesforceMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceMock")
            .field("config", &self.state.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl SalesforceMock {
    /// A mock serving `company` as configured.
    pub fn new(company: Arc<Company>, config: SalesforceMockConfig) -> Self {
        let ids = |object: SObject| -> Vec<&str> {
            match object {
                SObject::Account => company.accounts.iter().map(|a| a.id.as_str()).collect(),
                SObject::Contact => company.contacts.iter().map(|c| c.id.as_str()).collect(),
                SObject::Opportunity => company.deals.iter().map(|d| d.id.as_str()).collect(),
                SObject::User => company.owners.iter().map(|o| o.id.as_str()).collect(),
            }
        };
        let deleted = config
            .deleted
            .iter()
            .filter_map(|(object, id)| {
                ids(*object)
                    .iter()
                    .position(|candidate| candidate == id)
                    .map(|i| (*object, i))
            })
            .collect();
        let n = config.faults.malformed_records;
        let mut malformed = HashSet::new();
        if n > 0 {
            let seed = company.seed;
            let live_accounts = (0..company.accounts.len())
                .filter(|&i| company.accounts[i].archived_at.is_none())
                .collect();
            let live_contacts = (0..company.contacts.len())
                .filter(|&i| company.contacts[i].archived_at.is_none())
                .collect();
            let won_deals = (0..company.deals.len())
                .filter(|&i| {
                    company.deals[i].stage == DealStage::ClosedWon
                        && company.deals[i].archived_at.is_none()
                })
                .collect();
            for (object, label, candidates) in [
                (
                    SObject::Account,
                    "faults.malformed.sf.accounts",
                    live_accounts,
                ),
                (
                    SObject::Contact,
                    "faults.malformed.sf.contacts",
                    live_contacts,
                ),
                (
                    SObject::Opportunity,
                    "faults.malformed.sf.opportunities",
                    won_deals,
                ),
            ] {
                malformed.extend(
                    faults::sample(seed, label, candidates, n)
                        .into_iter()
                        .map(|i| (object, i)),
                );
            }
        }
        let state = Arc::new(MockState {
            malformed,
            deleted,
            faults: FaultInjector::for_company(&company, config.faults.clone()),
            company,
            config,
            api_used: AtomicU64::new(0),
            cursors: Mutex::new(HashMap::new()),
            next_cursor: AtomicU64::new(1),
        });
        Self { state }
    }

    /// The routes, wrapped in the limit accounting and the fault layer.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/services/data/{version}/query", get(query))
            .route("/services/data/{version}/queryAll", get(query_all))
            .route("/services/data/{version}/query/{locator}", get(next_batch))
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                api_limits,
            ));
        let routes = Router::new()
            .route(TOKEN_PATH, post(issue_token))
            .merge(api)
            .with_state(self.state.clone());
        self.state.faults.wrap(routes, SalesforceFaults)
    }

    /// The configuration it serves with.
    pub fn config(&self) -> &SalesforceMockConfig {
        &self.state.config
    }

    /// Its fault injector.
    pub fn faults(&self) -> &FaultInjector {
        &self.state.faults
    }

    /// What its faults have done so far.
    pub fn stats(&self) -> FaultStats {
        self.state.faults.stats()
    }

    /// API requests counted against the daily limit so far.
    pub fn api_usage(&self) -> u64 {
        self.state.api_used.load(Ordering::Relaxed)
    }
}

impl VendorMock for SalesforceMock {
    fn vendor(&self) -> &'static str {
        "salesforce"
    }

    fn router(&self) -> Router {
        SalesforceMock::router(self)
    }

    fn credential_hint(&self) -> String {
        self.state.config.credential_hint()
    }

    fn faults(&self) -> &FaultInjector {
        SalesforceMock::faults(self)
    }
}

/// Salesforce's bodies for the shared fault layer.
struct SalesforceFaults;

impl VendorFaults for SalesforceFaults {
    fn rate_limited(&self) -> Response {
        api_error(
            StatusCode::TOO_MANY_REQUESTS,
            "REQUEST_LIMIT_EXCEEDED",
            "ConcurrentPerOrgLongTxn Limit exceeded.",
        )
    }

    fn server_error(&self, status: StatusCode) -> Response {
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            api_error(status, "UNKNOWN_EXCEPTION", "An unexpected error occurred.")
        } else {
            api_error(
                status,
                "SERVER_UNAVAILABLE",
                "Server temporarily unavailable.",
            )
        }
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// Salesforce's REST error body: a JSON array of `{message, errorCode}`.
fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, &json!([{"message": message, "errorCode": code}]))
}

fn oauth_error(error: &str, description: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"error": error, "error_description": description}),
    )
}

async fn not_found() -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

/// Counts every API request against the daily limit, refuses past it and stamps
/// `Sforce-Limit-Info` on every response.
async fn api_limits(State(state): State<Arc<MockState>>, request: Request, next: Next) -> Response {
    let used = state.api_used.fetch_add(1, Ordering::Relaxed) + 1;
    let limit = state.config.daily_limit;
    let mut response = if used > limit {
        api_error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        )
    } else {
        next.run(request).await
    };
    if let Ok(v) = HeaderValue::from_str(&format!("api-usage={}/{limit}", used.min(limit))) {
        response.headers_mut().insert("sforce-limit-info", v);
    }
    response
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// The claims of a compact JWT, unverified.
fn jwt_claims(assertion: &str) -> Option<Map<String, Value>> {
    let mut parts = assertion.split('.');
    let (_header, claims, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Whether a JWT bearer assertion names this org's app, user and login URL and is current.
fn assertion_ok(config: &SalesforceMockConfig, assertion: &str) -> bool {
    let Some(claims) = jwt_claims(assertion) else {
        return false;
    };
    let str_claim = |name: &str| claims.get(name).and_then(Value::as_str);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a.trim_end_matches('/') == config.audience,
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| a.trim_end_matches('/') == config.audience),
        _ => false,
    };
    let now = Utc::now().timestamp();
    let exp_ok = claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|exp| exp > now && exp <= now + 300);
    str_claim("iss") == Some(config.client_id.as_str())
        && str_claim("sub") == Some(config.username.as_str())
        && aud_ok
        && exp_ok
}

/// `POST /services/oauth2/token`: the refresh-token and JWT bearer grants.
async fn issue_token(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map_or("", String::as_str);
    let config = &state.config;
    match field("grant_type") {
        "refresh_token" => {
            if field("client_id") != config.client_id {
                return oauth_error("invalid_client_id", "client identifier invalid");
            }
            if field("client_secret") != config.client_secret {
                return oauth_error("invalid_client", "invalid client credentials");
            }
            if field("refresh_token") != config.refresh_token {
                return oauth_error("invalid_grant", "authentication failure");
            }
        }
        JWT_BEARER_GRANT => {
            if !assertion_ok(config, field("assertion")) {
                return oauth_error("invalid_grant", "authentication failure");
            }
        }
        _ => return oauth_error("unsupported_grant_type", "grant type not supported"),
    }
    let issued = state
        .faults
        .issue_token(TOKEN_PREFIX, SESSION_LIFETIME_SECS);
    let instance_url = base_url(&headers);
    let id = format!(
        "{instance_url}/id/00DSIM000000001EAA/{}",
        salesforce_id(SObject::User, 1)
    );
    let issued_at = Utc::now().timestamp_millis().to_string();
    // Not a real HMAC (the mock has no consumer secret to key it with): a stable digest.
    let digest: Vec<u8> = format!("{id}{issued_at}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
        .to_be_bytes()
        .repeat(4);
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": issued.access_token,
            "instance_url": instance_url,
            "id": id,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64::engine::general_purpose::STANDARD.encode(digest),
            "scope": "api refresh_token",
        }),
    )
}

impl MockState {
    /// `None` when the request carries a valid session, else the 401.
    fn refuse(&self, headers: &HeaderMap) -> Option<Response> {
        let invalid = || {
            api_error(
                StatusCode::UNAUTHORIZED,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
            )
        };
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        let Some(token) = token else {
            return Some(invalid());
        };
        match self.faults.check_token(token) {
            TokenCheck::Valid => None,
            TokenCheck::Expired { .. } | TokenCheck::Unknown => Some(invalid()),
        }
    }

    fn len(&self, object: SObject) -> usize {
        let co = &self.company;
        match object {
            SObject::Account => co.accounts.len(),
            SObject::Contact => co.contacts.len(),
            SObject::Opportunity => co.deals.len(),
            SObject::User => co.owners.len(),
        }
    }

    fn account_id(&self, i: usize) -> Value {
        self.company.accounts.get(i).map_or(Value::Null, |a| {
            Value::String(salesforce_id(SObject::Account, numeric_id(&a.id, i)))
        })
    }

    fn owner_id(&self, i: usize) -> Value {
        self.company.owners.get(i).map_or(Value::Null, |o| {
            Value::String(salesforce_id(SObject::User, numeric_id(&o.id, i)))
        })
    }

    /// Every field of record `i` of `object`, as Salesforce would serve it.
    fn record(&self, object: SObject, i: usize) -> Map<String, Value> {
        let co = &self.company;
        let revision = self.faults.revision(object.as_str(), i);
        let rev_suffix = revision.map_or(String::new(), |r| format!(" (rev {})", r.number));
        let mut r = Map::new();
        let mut put = |k: &str, v: Value| {
            r.insert(k.to_owned(), v);
        };
        let (created, updated, deleted_at) = match object {
            SObject::Account => {
                let a = &co.accounts[i];
                put(
                    "Id",
                    Value::String(salesforce_id(object, numeric_id(&a.id, i))),
                );
                put("Name", json!(a.name));
                put("Type", json!("Customer"));
                put("Industry", json!(industry_label(&a.industry)));
                put("BillingCountry", json!(a.country));
                put("BillingCity", json!(a.city));
                put("Website", json!(format!("https://www.{}", a.domain)));
                let employees =
                    u64::from(a.employees) + u64::from(revision.map_or(0, |r| r.number));
                put("NumberOfEmployees", json!(employees));
                put("OwnerId", self.owner_id(a.owner));
                put("CurrencyIsoCode", json!(a.currency.as_str()));
                (a.created_at, a.updated_at, a.archived_at)
            }
            SObject::Contact => {
                let c = &co.contacts[i];
                put(
                    "Id",
                    Value::String(salesforce_id(object, numeric_id(&c.id, i))),
                );
                put("AccountId", self.account_id(c.account));
                put("FirstName", json!(c.first_name));
                put("LastName", json!(c.last_name));
                put("Name", json!(format!("{} {}", c.first_name, c.last_name)));
                put("Email", json!(c.email));
                put("Title", json!(format!("{}{rev_suffix}", c.job_title)));
                let owner = co.accounts.get(c.account).map_or(usize::MAX, |a| a.owner);
                put("OwnerId", self.owner_id(owner));
                (c.created_at, c.updated_at, c.archived_at)
            }
            SObject::Opportunity => {
                let d = &co.deals[i];
                put(
                    "Id",
                    Value::String(salesforce_id(object, numeric_id(&d.id, i))),
                );
                put("AccountId", self.account_id(d.account));
                put("Name", json!(format!("{}{rev_suffix}", d.name)));
                put("StageName", json!(stage_name(d.stage)));
                put("Amount", decimal_number(d.amount));
                put(
                    "CloseDate",
                    json!(d.close_date.date_naive().format("%Y-%m-%d").to_string()),
                );
                put("Type", json!(opportunity_type(d.motion)));
                let won = d.stage == DealStage::ClosedWon;
                let closed = won || d.stage == DealStage::ClosedLost;
                put("IsWon", json!(won));
                put("IsClosed", json!(closed));
                put("Probability", json!(probability(d.stage)));
                put("CurrencyIsoCode", json!(d.currency.as_str()));
                let arr = if d.term_months == 0 {
                    Value::Null
                } else {
                    decimal_number(
                        (d.amount * rust_decimal::Decimal::from(12)
                            / rust_decimal::Decimal::from(d.term_months))
                        .round_dp(2),
                    )
                };
                put("ARR__c", arr);
                put("Term_Months__c", json!(d.term_months));
                let owner = co.accounts.get(d.account).map_or(usize::MAX, |a| a.owner);
                put("OwnerId", self.owner_id(owner));
                (d.created_at, d.updated_at, d.archived_at)
            }
            SObject::User => {
                let o = &co.owners[i];
                put(
                    "Id",
                    Value::String(salesforce_id(object, numeric_id(&o.id, i))),
                );
                put("Username", json!(o.email));
                put("FirstName", json!(o.first_name));
                put("LastName", json!(o.last_name));
                put("Name", json!(format!("{} {}", o.first_name, o.last_name)));
                put("Email", json!(o.email));
                put("IsActive", json!(true));
                let start = co.history_start.and_time(NaiveTime::MIN).and_utc();
                (start, start, None)
            }
        };
        let deleted_at = deleted_at.or_else(|| {
            self.deleted
                .contains(&(object, i))
                .then(|| co.today.and_time(NaiveTime::MIN).and_utc())
        });
        let updated = revision.map_or(updated, |r| r.updated_at.max(updated));
        let modstamp = deleted_at.map_or(updated, |d| d.max(updated));
        put("CreatedDate", json!(sf_datetime(created)));
        put("LastModifiedDate", json!(sf_datetime(updated)));
        put("SystemModstamp", json!(sf_datetime(modstamp)));
        put("IsDeleted", json!(deleted_at.is_some()));
        if self.malformed.contains(&(object, i)) {
            // What a broken integration or a lenient proxy leaves behind.
            match object {
                SObject::Account => {
                    r.insert("NumberOfEmployees".into(), json!("lots"));
                }
                SObject::Contact => {
                    r.insert("CreatedDate".into(), json!("yesterday"));
                }
                SObject::Opportunity => {
                    r.insert("Amount".into(), json!("n/a"));
                    r.insert("ARR__c".into(), json!("n/a"));
                }
                SObject::User => {}
            }
        }
        r
    }
}

fn industry_label(hubspot: &str) -> String {
    hubspot
        .split('_')
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars.next().map_or(String::new(), |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The default Salesforce stage a HubSpot pipeline stage corresponds to.
pub fn stage_name(stage: DealStage) -> &'static str {
    match stage {
        DealStage::AppointmentScheduled => "Prospecting",
        DealStage::QualifiedToBuy => "Qualification",
        DealStage::PresentationScheduled => "Value Proposition",
        DealStage::DecisionMakerBoughtIn => "Id. Decision Makers",
        DealStage::ContractSent => "Negotiation/Review",
        DealStage::ClosedWon => "Closed Won",
        DealStage::ClosedLost => "Closed Lost",
    }
}

fn probability(stage: DealStage) -> u32 {
    match stage {
        DealStage::AppointmentScheduled => 10,
        DealStage::QualifiedToBuy => 20,
        DealStage::PresentationScheduled => 50,
        DealStage::DecisionMakerBoughtIn => 60,
        DealStage::ContractSent => 90,
        DealStage::ClosedWon => 100,
        DealStage::ClosedLost => 0,
    }
}

/// The opportunity `Type` of a deal's motion (this org's customised picklist).
pub fn opportunity_type(motion: DealMotion) -> &'static str {
    match motion {
        DealMotion::NewBusiness => "New Business",
        DealMotion::Renewal => "Renewal",
        DealMotion::Expansion | DealMotion::AddOn => "Existing Customer - Upgrade",
        DealMotion::Contraction => "Existing Customer - Downgrade",
    }
}

// ---------------------------------------------------------------------------------------------
// SOQL

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Op(String),
    Comma,
}

fn tokenize(q: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == ',' {
            chars.next();
            out.push(Token::Comma);
        } else if c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated string literal".to_owned()),
                    Some('\\') => match chars.next() {
                        Some(e) => s.push(e),
                        None => return Err("unterminated string literal".to_owned()),
                    },
                    Some('\'') => break,
                    Some(ch) => s.push(ch),
                }
            }
            out.push(Token::Str(s));
        } else if matches!(c, '<' | '>' | '=' | '!') {
            chars.next();
            let mut op = c.to_string();
            if chars.peek() == Some(&'=') {
                chars.next();
                op.push('=');
            }
            out.push(Token::Op(op));
        } else if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '+' | '-') {
            let mut w = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | ':' | '+' | '-') {
                    w.push(ch);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Token::Word(w));
        } else {
            return Err(format!("unexpected token: '{c}'"));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    DateTime(DateTime<Utc>),
    Text(String),
    Bool(bool),
    Number(f64),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
struct Condition {
    field: &'static str,
    op: String,
    value: Literal,
}

#[derive(Debug, Clone, PartialEq)]
struct Soql {
    object: SObject,
    fields: Vec<&'static str>,
    conditions: Vec<Condition>,
    /// Field and ascending.
    order: Vec<(&'static str, bool)>,
    limit: Option<usize>,
}

/// A parse failure: the error code (`MALFORMED_QUERY`, `INVALID_FIELD`, `INVALID_TYPE`) and
/// the message.
type SoqlError = (&'static str, String);

fn malformed(message: impl Into<String>) -> SoqlError {
    ("MALFORMED_QUERY", message.into())
}

fn keyword(t: Option<&Token>, kw: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
}

fn parse_soql(q: &str) -> Result<Soql, SoqlError> {
    let tokens = tokenize(q).map_err(malformed)?;
    let mut pos = 0;
    if !keyword(tokens.first(), "SELECT") {
        return Err(malformed("unexpected token: expected SELECT"));
    }
    pos += 1;
    let mut names = Vec::new();
    loop {
        match tokens.get(pos) {
            Some(Token::Word(w)) if !w.eq_ignore_ascii_case("FROM") => names.push(w.clone()),
            _ => return Err(malformed("expected a field name in the SELECT list")),
        }
        pos += 1;
        if tokens.get(pos) == Some(&Token::Comma) {
            pos += 1;
        } else {
            break;
        }
    }
    if !keyword(tokens.get(pos), "FROM") {
        return Err(malformed("unexpected token: expected FROM"));
    }
    pos += 1;
    let object = match tokens.get(pos) {
        Some(Token::Word(w)) => SObject::parse(w).ok_or_else(|| {
            (
                "INVALID_TYPE",
                format!("sObject type '{w}' is not supported."),
            )
        })?,
        _ => return Err(malformed("expected an sObject after FROM")),
    };
    pos += 1;
    let field = |name: &str| {
        object.canonical_field(name).ok_or_else(|| {
            (
                "INVALID_FIELD",
                format!("No such column '{name}' on entity '{}'.", object.as_str()),
            )
        })
    };
    let fields = names
        .iter()
        .map(|n| field(n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut conditions = Vec::new();
    if keyword(tokens.get(pos), "WHERE") {
        pos += 1;
        loop {
            let name = match tokens.get(pos) {
                Some(Token::Word(w)) => field(w)?,
                _ => return Err(malformed("expected a field in WHERE")),
            };
            let op = match tokens.get(pos + 1) {
                Some(Token::Op(op)) if ["=", "!=", "<", "<=", ">", ">="].contains(&op.as_str()) => {
                    op.clone()
                }
                _ => return Err(malformed("expected a comparison operator")),
            };
            let value = match tokens.get(pos + 2) {
                Some(Token::Str(s)) => Literal::Text(s.clone()),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
                Some(Token::Word(w)) => {
                    if let Some(t) = parse_literal_datetime(w) {
                        Literal::DateTime(t)
                    } else if let Ok(n) = w.parse::<f64>() {
                        Literal::Number(n)
                    } else {
                        return Err(malformed(format!("invalid literal: {w}")));
                    }
                }
                _ => return Err(malformed("expected a literal")),
            };
            conditions.push(Condition {
                field: name,
                op,
                value,
            });
            pos += 3;
            if keyword(tokens.get(pos), "AND") {
                pos += 1;
            } else {
                break;
            }
        }
    }
    let mut order = Vec::new();
    if keyword(tokens.get(pos), "ORDER") {
        if !keyword(tokens.get(pos + 1), "BY") {
            return Err(malformed("expected BY after ORDER"));
        }
        pos += 2;
        loop {
            let name = match tokens.get(pos) {
                Some(Token::Word(w)) => field(w)?,
                _ => return Err(malformed("expected a field in ORDER BY")),
            };
            pos += 1;
            let mut ascending = true;
            if keyword(tokens.get(pos), "ASC") {
                pos += 1;
            } else if keyword(tokens.get(pos), "DESC") {
                ascending = false;
                pos += 1;
            }
            order.push((name, ascending));
            if tokens.get(pos) == Some(&Token::Comma) {
                pos += 1;
            } else {
                break;
            }
        }
    }
    let mut limit = None;
    if keyword(tokens.get(pos), "LIMIT") {
        match tokens.get(pos + 1) {
            Some(Token::Word(w)) => {
                limit = Some(
                    w.parse()
                        .map_err(|_| malformed(format!("invalid LIMIT: {w}")))?,
                );
            }
            _ => return Err(malformed("expected a number after LIMIT")),
        }
        pos += 2;
    }
    if let Some(t) = tokens.get(pos) {
        return Err(malformed(format!("unexpected token: {t:?}")));
    }
    Ok(Soql {
        object,
        fields,
        conditions,
        order,
        limit,
    })
}

/// A SOQL datetime literal: `2024-01-01T00:00:00Z`, with milliseconds or an offset.
fn parse_literal_datetime(w: &str) -> Option<DateTime<Utc>> {
    if !w.contains('T') {
        return None;
    }
    DateTime::parse_from_rfc3339(w)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| parse_sf_datetime(w))
}

fn compare(value: &Value, literal: &Literal) -> Option<std::cmp::Ordering> {
    match (value, literal) {
        (Value::String(s), Literal::DateTime(t)) => parse_sf_datetime(s).map(|v| v.cmp(t)),
        (Value::String(s), Literal::Text(t)) => Some(s.as_str().cmp(t.as_str())),
        (Value::Bool(b), Literal::Bool(l)) => Some(b.cmp(l)),
        (Value::Number(n), Literal::Number(l)) => n.as_f64().and_then(|v| v.partial_cmp(l)),
        _ => None,
    }
}

fn matches(record: &Map<String, Value>, c: &Condition) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let value = record.get(c.field).unwrap_or(&Value::Null);
    if c.value == Literal::Null {
        return match c.op.as_str() {
            "=" => value.is_null(),
            "!=" => !value.is_null(),
            _ => false,
        };
    }
    let Some(ord) = compare(value, &c.value) else {
        return false;
    };
    match c.op.as_str() {
        "=" => ord == Equal,
        "!=" => ord != Equal,
        "<" => ord == Less,
        "<=" => ord != Greater,
        ">" => ord == Greater,
        ">=" => ord != Less,
        _ => false,
    }
}

fn order_key_cmp(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            match (parse_sf_datetime(x), parse_sf_datetime(y)) {
                (Some(p), Some(q)) => p.cmp(&q),
                _ => x.cmp(y),
            }
        }
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        // Nulls first, as Salesforce sorts ascending by default.
        (Value::Null, _) => std::cmp::Ordering::Less,
        (_, Value::Null) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    }
}

/// The batch size a request asks for through `Sforce-Query-Options: batchSize=N`.
fn requested_batch(headers: &HeaderMap) -> Option<usize> {
    headers
        .get("sforce-query-options")?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|opt| {
            let (k, v) = opt.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("batchSize")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .map(|n| n.clamp(MIN_BATCH_SIZE, MAX_BATCH_SIZE))
}

async fn query(
    State(state): State<Arc<MockState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    run_query(&state, &version, &headers, &params, false)
}

async fn query_all(
    State(state): State<Arc<MockState>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    run_query(&state, &version, &headers, &params, true)
}

fn run_query(
    state: &MockState,
    version: &str,
    headers: &HeaderMap,
    params: &[(String, String)],
    all: bool,
) -> Response {
    if let Some(refused) = state.refuse(headers) {
        return refused;
    }
    let Some(q) = params.iter().find(|(k, _)| k == "q").map(|(_, v)| v) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    let soql = match parse_soql(q) {
        Ok(s) => s,
        Err((code, message)) => return api_error(StatusCode::BAD_REQUEST, code, &message),
    };
    let n = state.len(soql.object);
    let mut rows: Vec<(usize, Map<String, Value>)> = (0..n)
        .map(|i| (i, state.record(soql.object, i)))
        .filter(|(_, r)| all || r.get("IsDeleted") != Some(&Value::Bool(true)))
        .filter(|(_, r)| soql.conditions.iter().all(|c| matches(r, c)))
        .collect();
    if !soql.order.is_empty() {
        rows.sort_by(|(_, a), (_, b)| {
            soql.order
                .iter()
                .map(|(f, asc)| {
                    let o = order_key_cmp(
                        a.get(*f).unwrap_or(&Value::Null),
                        b.get(*f).unwrap_or(&Value::Null),
                    );
                    if *asc { o } else { o.reverse() }
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    if let Some(limit) = soql.limit {
        rows.truncate(limit);
    }
    let cursor = Arc::new(QueryCursor {
        object: soql.object,
        fields: soql.fields,
        rows: rows.into_iter().map(|(i, _)| i).collect(),
    });
    let locator = format!(
        "01gSIM{:012}",
        state.next_cursor.fetch_add(1, Ordering::Relaxed)
    );
    state
        .cursors
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(locator.clone(), cursor.clone());
    let batch = requested_batch(headers).unwrap_or(state.config.batch_size.max(1));
    serve_batch(state, version, &locator, &cursor, 0, batch)
}

async fn next_batch(
    State(state): State<Arc<MockState>>,
    Path((version, locator)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = state.refuse(&headers) {
        return refused;
    }
    let invalid = || {
        api_error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        )
    };
    let Some((id, offset)) = locator.rsplit_once('-') else {
        return invalid();
    };
    let Ok(offset) = offset.parse::<usize>() else {
        return invalid();
    };
    let cursor = state
        .cursors
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(id)
        .cloned();
    let Some(cursor) = cursor else {
        return invalid();
    };
    if offset > cursor.rows.len() {
        return invalid();
    }
    let batch = requested_batch(&headers).unwrap_or(state.config.batch_size.max(1));
    serve_batch(&state, &version, id, &cursor, offset, batch)
}

fn serve_batch(
    state: &MockState,
    version: &str,
    locator: &str,
    cursor: &QueryCursor,
    offset: usize,
    batch: usize,
) -> Response {
    let end = (offset + batch).min(cursor.rows.len());
    let page = &cursor.rows[offset..end];
    let stream = cursor.object.as_str();
    let records: Vec<Value> = page
        .iter()
        .map(|&i| {
            let full = state.record(cursor.object, i);
            let id = full.get("Id").and_then(Value::as_str).unwrap_or_default();
            let mut out = Map::new();
            out.insert(
                "attributes".into(),
                json!({"type": stream, "url": format!("/services/data/{version}/sobjects/{stream}/{id}")}),
            );
            for f in &cursor.fields {
                out.insert((*f).to_owned(), full.get(*f).cloned().unwrap_or(Value::Null));
            }
            Value::Object(out)
        })
        .collect();
    let has_next = end < cursor.rows.len();
    let mut next = end;
    if let Some(&last) = page.last() {
        let last_id = state
            .record(cursor.object, last)
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if state
            .faults
            .repeat_last(stream, &last_id, page.len(), has_next)
        {
            next = end - 1;
        }
        let upcoming_end = (end + batch).min(cursor.rows.len());
        state.faults.mutate_around_page(
            stream,
            &format!("{locator}-{offset}"),
            page,
            &cursor.rows[end..upcoming_end],
        );
    }
    let mut body = Map::new();
    body.insert("totalSize".into(), json!(cursor.rows.len()));
    body.insert("done".into(), json!(!has_next));
    if has_next {
        body.insert(
            "nextRecordsUrl".into(),
            json!(format!("/services/data/{version}/query/{locator}-{next}")),
        );
    }
    body.insert("records".into(), Value::Array(records));
    json_response(StatusCode::OK, &Value::Object(body))
}
