//! A mock of the Salesforce REST API (`vendor-apis.md` §1), serving the simulated company:
//! accounts as `Account`, contacts as `Contact`, deals as `Opportunity`, owners as `User`,
//! one `Contract` per closed-won deal, one to three `OpportunityContactRole`s per closed-won
//! deal, and the org's currencies as `CurrencyType` and `DatedConversionRate`.
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
//!   `SELECT <fields> FROM <sObject> [WHERE <field> <op> <literal> [AND …]] [ORDER BY <field>
//!   [ASC|DESC][, …]] [LIMIT n]`; `query` leaves out deleted rows, `queryAll` includes them
//!   with `IsDeleted = true`. Batches of 2000 records (the configured `batch_size`), smaller
//!   when the query request asks through `Sforce-Query-Options: batchSize=N` (200 to 2000,
//!   kept by the query's further batches); further batches at `nextRecordsUrl`
//!   (`/services/data/<version>/query/<locator>-<offset>`). Anything outside the subset is 400
//!   `MALFORMED_QUERY`; an unknown field `INVALID_FIELD`, an unknown sObject `INVALID_TYPE`.
//! - `GET /services/data/<version>/sobjects/<sObject>/describe`: `{name, label, queryable,
//!   fields: [{name, label, type, nillable, picklistValues: [{value, label, active,
//!   defaultValue}]}]}` for every sObject served; 404 `NOT_FOUND` for any other.
//! - `multi_currency = false` serves a single-currency org: no object has `CurrencyIsoCode`
//!   (describe leaves it out, a query selecting it is 400 `INVALID_FIELD`) and `CurrencyType`
//!   and `DatedConversionRate` do not exist. Otherwise the corporate currency is USD, with EUR
//!   and GBP dated rates ([`dated_conversion_rates`]).
//! - Every API response carries `Sforce-Limit-Info: api-usage=N/LIMIT`; past `daily_limit`
//!   requests the answer is 403 `REQUEST_LIMIT_EXCEEDED` (`TotalRequests Limit exceeded.`). A
//!   missing, unknown or expired access token gets 401 `INVALID_SESSION_ID`.
//!
//! The `malformed` knob serves that many live accounts with `NumberOfEmployees: "lots"`,
//! contacts with `CreatedDate: "yesterday"`, won opportunities with `Amount`/`ARR__c`
//! `"n/a"`, contracts with `ContractTerm: "twelve"` and contact roles with `IsPrimary:
//! "sometimes"`.
//!
//! Opportunities carry two custom fields: `ARR__c` (annual value) and `Term_Months__c`;
//! contracts carry `ARR__c`. The org's opportunity `Type` picklist is customised (`New
//! Business`, `Renewal`, `Existing Customer - Upgrade`, `Existing Customer - Downgrade`; see
//! [`opportunity_type`]).
//!
//! A contract (id prefix `800`) exists for every closed-won deal: it starts on the close date,
//! runs `ContractTerm` months and ends on `EndDate`, the inclusive last day (start + term − 1
//! day, as Salesforce derives it); its `StatusCode` is `Activated` until the company's today
//! passes `EndDate`, then `Expired` (the expiry touches `SystemModstamp`, as Salesforce's
//! system job does). It is deleted with its deal.
//!
//! Contact roles (id prefix `00K`) name contacts of the deal's account that existed when it
//! closed, drawn deterministically from the deal's id, with roles from the standard picklist
//! and exactly one `IsPrimary` per deal; a deal whose account had no contact then has none.
//! They are created when the deal closes and deleted with the deal or the contact.
//!
//! Every response is wrapped in the shared fault layer ([`FaultInjector`]): token expiry, the
//! `mutate` and `duplicates` knobs are honoured by the query paging.
//!
//! Bulk API 2.0 query jobs (`/services/data/<version>/jobs/query…`) are served by [`bulk`],
//! behind the same session check, limit accounting and fault layer.

#[path = "salesforce_bulk.rs"]
pub mod bulk;

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
use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Number, Value, json};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
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
    /// Records per batch at most, whatever the request asks for (`Sforce-Query-Options` is a
    /// hint). Salesforce serves 2000; a smaller value lets tests page a small company (any
    /// value from 1 is accepted).
    pub batch_size: usize,
    /// Records soft-deleted in the org (in its Recycle Bin) besides those the generator
    /// archived: the sObject and the generator's id (`SimAccount::id` etc.). They are deleted
    /// at the company's today (midnight UTC), after every generated change, and served only by
    /// `queryAll`, with `IsDeleted = true`.
    pub deleted: Vec<(SObject, String)>,
    /// The fault knobs.
    pub faults: Faults,
    /// How Bulk API 2.0 query jobs behave.
    pub bulk: bulk::BulkMockConfig,
    /// Whether the org has multi-currency enabled (the default): then records carry
    /// `CurrencyIsoCode` and `CurrencyType`/`DatedConversionRate` exist. When false, every
    /// amount is in the corporate currency (USD) and selecting `CurrencyIsoCode` is 400
    /// `INVALID_FIELD`, as in a real single-currency org.
    pub multi_currency: bool,
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
            bulk: bulk::BulkMockConfig::default(),
            multi_currency: true,
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
    /// Contracts, one per closed-won deal.
    Contract,
    /// Contacts' roles on closed-won deals.
    OpportunityContactRole,
    /// The org's currencies (multi-currency orgs only).
    CurrencyType,
    /// Dated exchange rates against the corporate currency (multi-currency orgs only).
    DatedConversionRate,
}

impl SObject {
    /// Every sObject the mock serves.
    pub const ALL: [SObject; 8] = [
        Self::Account,
        Self::Contact,
        Self::Opportunity,
        Self::User,
        Self::Contract,
        Self::OpportunityContactRole,
        Self::CurrencyType,
        Self::DatedConversionRate,
    ];

    fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether the object exists only in multi-currency orgs.
    fn multi_currency_only(self) -> bool {
        matches!(self, Self::CurrencyType | Self::DatedConversionRate)
    }

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Account => "Account",
            Self::Contact => "Contact",
            Self::Opportunity => "Opportunity",
            Self::User => "User",
            Self::Contract => "Contract",
            Self::OpportunityContactRole => "OpportunityContactRole",
            Self::CurrencyType => "CurrencyType",
            Self::DatedConversionRate => "DatedConversionRate",
        }
    }

    /// The three-character key prefix of its ids.
    fn key_prefix(self) -> &'static str {
        match self {
            Self::Account => "001",
            Self::Contact => "003",
            Self::Opportunity => "006",
            Self::User => "005",
            Self::Contract => "800",
            Self::OpportunityContactRole => "00K",
            Self::CurrencyType => "02N",
            Self::DatedConversionRate => "04w",
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
            Self::Contract => &[
                "Id",
                "AccountId",
                "ContractNumber",
                "Status",
                "StatusCode",
                "StartDate",
                "EndDate",
                "ContractTerm",
                "ActivatedDate",
                "ARR__c",
                "CurrencyIsoCode",
                "OwnerId",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
            Self::OpportunityContactRole => &[
                "Id",
                "OpportunityId",
                "ContactId",
                "Role",
                "IsPrimary",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
                "IsDeleted",
            ],
            // Neither currency object has `IsDeleted`: rows are edited, never soft-deleted.
            Self::CurrencyType => &[
                "Id",
                "IsoCode",
                "ConversionRate",
                "DecimalPlaces",
                "IsActive",
                "IsCorporate",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
            ],
            Self::DatedConversionRate => &[
                "Id",
                "IsoCode",
                "ConversionRate",
                "StartDate",
                "NextStartDate",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
            ],
        }
    }

    /// The describe `type` of a field (the same on every object that has it).
    fn field_type(field: &str) -> &'static str {
        match field {
            "Id" => "id",
            "AccountId" | "OwnerId" | "OpportunityId" | "ContactId" => "reference",
            "Amount" | "ARR__c" | "AnnualRevenue" => "currency",
            "CloseDate" | "StartDate" | "EndDate" | "NextStartDate" => "date",
            "CreatedDate" | "LastModifiedDate" | "SystemModstamp" | "ActivatedDate" => "datetime",
            "IsDeleted" | "IsWon" | "IsClosed" | "IsActive" | "IsPrimary" | "IsCorporate" => {
                "boolean"
            }
            "NumberOfEmployees" | "ContractTerm" | "DecimalPlaces" => "int",
            "Term_Months__c" | "ConversionRate" => "double",
            "Probability" => "percent",
            "Website" => "url",
            "Email" => "email",
            "Username" => "string",
            "StageName"
            | "Type"
            | "Industry"
            | "Status"
            | "StatusCode"
            | "Role"
            | "CurrencyIsoCode"
            | "ForecastCategoryName"
            | "IsoCode" => "picklist",
            _ => "string",
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
    /// Records per batch, as the query request asked (`Sforce-Query-Options`) or the org's
    /// default; further batches keep it unless they ask again.
    batch: usize,
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
    /// Bulk API 2.0 query jobs.
    bulk: bulk::Jobs,
    /// The deal (index into `company.deals`) of each contract: the closed-won ones.
    contracts: Vec<usize>,
    /// The contact roles on closed-won deals.
    contact_roles: Vec<ContactRole>,
    /// The dated rates, in the order served.
    rates: Vec<DatedRate>,
}

/// The Salesforce mock's routes serving `company`, wrapped in the fault layer of
/// `config.faults`. Use [`SalesforceMock`] to read the fault counters.
/// The revenue field mapping of the simulated org, as the `mapping` table of a Salesforce
/// connector's configuration: ARR in the custom field `ARR__c`, the term in `Term_Months__c`,
/// and its customised `Type` picklist. The demo and the tests configure it so that synced
/// subscriptions match the generator's; the connector knows nothing of the simulator.
pub fn revenue_mapping() -> Value {
    json!({
        "arr_field": "ARR__c",
        "term_field": "Term_Months__c",
        "motions": {
            "New Business": "new",
            "Renewal": "renewal",
            "Existing Customer - Upgrade": "expansion",
            "Existing Customer - Downgrade": "contraction",
        },
    })
}

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
        let contracts: Vec<usize> = (0..company.deals.len())
            .filter(|&i| company.deals[i].stage == DealStage::ClosedWon)
            .collect();
        let contact_roles = contact_roles(&company, &contracts);
        let ids = |object: SObject| -> Vec<&str> {
            match object {
                SObject::Account => company.accounts.iter().map(|a| a.id.as_str()).collect(),
                SObject::Contact => company.contacts.iter().map(|c| c.id.as_str()).collect(),
                SObject::Opportunity => company.deals.iter().map(|d| d.id.as_str()).collect(),
                SObject::User => company.owners.iter().map(|o| o.id.as_str()).collect(),
                // A contract goes by its deal's id.
                SObject::Contract => contracts
                    .iter()
                    .map(|&d| company.deals[d].id.as_str())
                    .collect(),
                SObject::OpportunityContactRole
                | SObject::CurrencyType
                | SObject::DatedConversionRate => Vec::new(),
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
                (
                    SObject::Contract,
                    "faults.malformed.sf.contracts",
                    (0..contracts.len())
                        .filter(|&i| company.deals[contracts[i]].archived_at.is_none())
                        .collect(),
                ),
                (
                    SObject::OpportunityContactRole,
                    "faults.malformed.sf.contact_roles",
                    (0..contact_roles.len())
                        .filter(|&i| {
                            let role = &contact_roles[i];
                            company.deals[role.deal].archived_at.is_none()
                                && company.contacts[role.contact].archived_at.is_none()
                        })
                        .collect(),
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
            faults: FaultInjector::for_world(company.seed, company.today, config.faults.clone()),
            company,
            config,
            api_used: AtomicU64::new(0),
            cursors: Mutex::new(HashMap::new()),
            next_cursor: AtomicU64::new(1),
            bulk: bulk::Jobs::default(),
            contracts,
            contact_roles,
            rates: dated_conversion_rates(),
        });
        Self { state }
    }

    /// The routes, wrapped in the limit accounting and the fault layer.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/services/data/{version}/query", get(query))
            .route("/services/data/{version}/queryAll", get(query_all))
            .route("/services/data/{version}/query/{locator}", get(next_batch))
            .route(
                "/services/data/{version}/sobjects/{object}/describe",
                get(describe),
            )
            .merge(bulk::routes())
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

    /// The records `query` serves (not deleted), per sObject, rendered exactly as its query
    /// routes render them (every field). What a full read of the org must land, before the
    /// connector's own choices (which objects, which rows); conformance tests compare with it.
    pub fn live_rows(&self) -> BTreeMap<&'static str, Vec<Map<String, Value>>> {
        let s = &self.state;
        SObject::ALL
            .into_iter()
            .map(|object| {
                let rows = (0..s.len(object))
                    .map(|i| s.record(object, i))
                    .filter(|r| r.get("IsDeleted") != Some(&Value::Bool(true)))
                    .collect();
                (object.as_str(), rows)
            })
            .collect()
    }

    /// The deleted records only `queryAll` serves (`IsDeleted = true`), per sObject, rendered
    /// as its routes render them.
    pub fn deleted_rows(&self) -> BTreeMap<&'static str, Vec<Map<String, Value>>> {
        let s = &self.state;
        SObject::ALL
            .into_iter()
            .map(|object| {
                let rows = (0..s.len(object))
                    .map(|i| s.record(object, i))
                    .filter(|r| r.get("IsDeleted") == Some(&Value::Bool(true)))
                    .collect();
                (object.as_str(), rows)
            })
            .collect()
    }

    /// A row's `Id` and `SystemModstamp`, as [`SalesforceMock::live_rows`] renders them.
    pub fn id_and_modstamp(row: &Map<String, Value>) -> Option<(String, DateTime<Utc>)> {
        let id = row.get("Id")?.as_str()?.to_owned();
        let stamp = parse_sf_datetime(row.get("SystemModstamp")?.as_str()?)?;
        Some((id, stamp))
    }

    /// API requests counted against the daily limit so far.
    pub fn api_usage(&self) -> u64 {
        self.state.api_used.load(Ordering::Relaxed)
    }

    /// Every record of `object` as the mock serves it (all fields, deleted ones included with
    /// `IsDeleted = true`), in storage order: what tests compare a connector's reads against.
    pub fn records(&self, object: SObject) -> Vec<Map<String, Value>> {
        (0..self.state.len(object))
            .map(|i| self.state.record(object, i))
            .collect()
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
    /// Parses `q` against this org: [`parse_soql`], then what a single-currency org lacks
    /// (`CurrencyIsoCode` is `INVALID_FIELD`, the currency objects `INVALID_TYPE`).
    fn parse(&self, q: &str) -> Result<Soql, SoqlError> {
        let soql = parse_soql(q)?;
        if self.config.multi_currency {
            return Ok(soql);
        }
        let object = soql.object.as_str();
        if soql.object.multi_currency_only() {
            return Err((
                "INVALID_TYPE",
                format!("sObject type '{object}' is not supported."),
            ));
        }
        let uses_currency = soql
            .fields
            .iter()
            .chain(soql.conditions.iter().map(|c| &c.field))
            .chain(soql.order.iter().map(|(f, _)| f))
            .any(|f| *f == "CurrencyIsoCode");
        if uses_currency {
            return Err((
                "INVALID_FIELD",
                format!(
                    "No such column 'CurrencyIsoCode' on entity '{object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
                ),
            ));
        }
        Ok(soql)
    }

    /// The describe result of `object` in this org, or `None` when the org has no such object.
    fn describe(&self, object: SObject) -> Option<Value> {
        if object.multi_currency_only() && !self.config.multi_currency {
            return None;
        }
        let picklist = |values: &[(&str, bool)]| -> Value {
            values
                .iter()
                .enumerate()
                .map(|(n, (v, active))| {
                    json!({"value": v, "label": v, "active": active, "defaultValue": n == 0 && *active, "validFor": null})
                })
                .collect()
        };
        let active = |values: &[&str]| -> Vec<(String, bool)> {
            values.iter().map(|v| ((*v).to_owned(), true)).collect()
        };
        let fields: Vec<Value> = object
            .fields()
            .iter()
            .filter(|f| self.config.multi_currency || **f != "CurrencyIsoCode")
            .map(|f| {
                let values: Vec<(String, bool)> = match (object, *f) {
                    (SObject::Opportunity, "Type") => OPPORTUNITY_TYPES
                        .iter()
                        .map(|(v, a)| ((*v).to_owned(), *a))
                        .collect(),
                    (SObject::Opportunity, "StageName") => active(
                        &[
                            DealStage::AppointmentScheduled,
                            DealStage::QualifiedToBuy,
                            DealStage::PresentationScheduled,
                            DealStage::DecisionMakerBoughtIn,
                            DealStage::ContractSent,
                            DealStage::ClosedWon,
                            DealStage::ClosedLost,
                        ]
                        .map(stage_name),
                    ),
                    (SObject::Contract, "Status" | "StatusCode") => {
                        active(&["Draft", "InApproval", "Activated", "Terminated", "Expired"])
                    }
                    (SObject::OpportunityContactRole, "Role") => active(&CONTACT_ROLES),
                    (SObject::Account, "Type") => active(&["Prospect", "Customer", "Partner"]),
                    (_, "CurrencyIsoCode" | "IsoCode") => active(&CURRENCIES),
                    _ => Vec::new(),
                };
                let borrowed: Vec<(&str, bool)> =
                    values.iter().map(|(v, a)| (v.as_str(), *a)).collect();
                json!({
                    "name": f,
                    "label": f.trim_end_matches("__c").replace('_', " "),
                    "type": SObject::field_type(f),
                    "nillable": !matches!(*f, "Id" | "IsDeleted" | "CreatedDate" | "LastModifiedDate" | "SystemModstamp"),
                    "custom": f.ends_with("__c"),
                    "picklistValues": picklist(&borrowed),
                })
            })
            .collect();
        Some(json!({
            "name": object.as_str(),
            "label": object.as_str(),
            "keyPrefix": object.key_prefix(),
            "queryable": true,
            "custom": false,
            "fields": fields,
        }))
    }

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
            SObject::Contract => self.contracts.len(),
            SObject::OpportunityContactRole => self.contact_roles.len(),
            SObject::CurrencyType if self.config.multi_currency => CURRENCIES.len(),
            SObject::DatedConversionRate if self.config.multi_currency => self.rates.len(),
            SObject::CurrencyType | SObject::DatedConversionRate => 0,
        }
    }

    /// Whether record `i` of `object` was deleted through `config.deleted`.
    fn deleted_by_config(&self, object: SObject, i: usize) -> bool {
        self.deleted.contains(&(object, i))
    }

    /// When a deal was deleted: archived by the generator or through `config.deleted`.
    fn deal_deleted_at(&self, d: usize) -> Option<DateTime<Utc>> {
        let co = &self.company;
        co.deals[d].archived_at.or_else(|| {
            self.deleted_by_config(SObject::Opportunity, d)
                .then(|| co.today.and_time(NaiveTime::MIN).and_utc())
        })
    }

    /// When a contact was deleted: archived by the generator or through `config.deleted`.
    fn contact_deleted_at(&self, c: usize) -> Option<DateTime<Utc>> {
        let co = &self.company;
        co.contacts[c].archived_at.or_else(|| {
            self.deleted_by_config(SObject::Contact, c)
                .then(|| co.today.and_time(NaiveTime::MIN).and_utc())
        })
    }

    /// A deal's `ARR__c`: the annual value of its term, rounded to cents.
    fn deal_arr(&self, d: usize) -> Value {
        let d = &self.company.deals[d];
        if d.term_months == 0 {
            Value::Null
        } else {
            decimal_number(
                (d.amount * Decimal::from(12) / Decimal::from(d.term_months)).round_dp(2),
            )
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
                put("ARR__c", self.deal_arr(i));
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
            SObject::Contract => {
                let di = self.contracts[i];
                let d = &co.deals[di];
                let n = numeric_id(&d.id, di);
                put("Id", Value::String(salesforce_id(object, n)));
                put("AccountId", self.account_id(d.account));
                put("ContractNumber", json!(format!("{:08}", n % 100_000_000)));
                // Salesforce derives EndDate as the last day of the term, inclusive.
                let end = d.end_date();
                let last_day = end.checked_sub_days(Days::new(1)).unwrap_or(end);
                let expired = co.today > last_day;
                let status = if expired { "Expired" } else { "Activated" };
                put("Status", json!(status));
                put("StatusCode", json!(status));
                put(
                    "StartDate",
                    json!(d.start_date().format("%Y-%m-%d").to_string()),
                );
                put("EndDate", json!(last_day.format("%Y-%m-%d").to_string()));
                put("ContractTerm", json!(d.term_months));
                put("ActivatedDate", json!(sf_datetime(d.close_date)));
                put("ARR__c", self.deal_arr(di));
                put("CurrencyIsoCode", json!(d.currency.as_str()));
                let owner = co.accounts.get(d.account).map_or(usize::MAX, |a| a.owner);
                put("OwnerId", self.owner_id(owner));
                let created = d.close_date.max(d.created_at);
                let mut updated = created.max(d.updated_at);
                if expired {
                    // The nightly job that expires contracts touches them.
                    updated = updated.max(end.and_time(NaiveTime::MIN).and_utc());
                }
                (created, updated, self.deal_deleted_at(di))
            }
            SObject::OpportunityContactRole => {
                let role = &self.contact_roles[i];
                let d = &co.deals[role.deal];
                let c = &co.contacts[role.contact];
                put("Id", Value::String(salesforce_id(object, role.n)));
                put(
                    "OpportunityId",
                    Value::String(salesforce_id(
                        SObject::Opportunity,
                        numeric_id(&d.id, role.deal),
                    )),
                );
                put(
                    "ContactId",
                    Value::String(salesforce_id(
                        SObject::Contact,
                        numeric_id(&c.id, role.contact),
                    )),
                );
                put("Role", json!(role.role));
                put("IsPrimary", json!(role.primary));
                let created = d.close_date.max(c.created_at);
                let deleted = match (
                    self.deal_deleted_at(role.deal),
                    self.contact_deleted_at(role.contact),
                ) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                (created, created, deleted)
            }
            SObject::CurrencyType => {
                let code = CURRENCIES[i];
                put("Id", Value::String(salesforce_id(object, i as u64 + 1)));
                put("IsoCode", json!(code));
                let latest = self
                    .rates
                    .iter()
                    .filter(|r| r.iso_code == code)
                    .max_by_key(|r| r.start_date)
                    .map_or(Decimal::ONE, |r| r.rate);
                put("ConversionRate", decimal_number(latest));
                put("DecimalPlaces", json!(2));
                put("IsActive", json!(true));
                put("IsCorporate", json!(code == CORPORATE_CURRENCY));
                let start = co.history_start.and_time(NaiveTime::MIN).and_utc();
                (start, start, None)
            }
            SObject::DatedConversionRate => {
                let rate = &self.rates[i];
                put("Id", Value::String(salesforce_id(object, i as u64 + 1)));
                put("IsoCode", json!(rate.iso_code));
                put("ConversionRate", decimal_number(rate.rate));
                put(
                    "StartDate",
                    json!(rate.start_date.format("%Y-%m-%d").to_string()),
                );
                // Salesforce keeps each rate's end as the next rate's start.
                let next = self
                    .rates
                    .iter()
                    .filter(|r| r.iso_code == rate.iso_code && r.start_date > rate.start_date)
                    .map(|r| r.start_date)
                    .min();
                put(
                    "NextStartDate",
                    next.map_or(Value::Null, |n| json!(n.format("%Y-%m-%d").to_string())),
                );
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
        if object.fields().contains(&"IsDeleted") {
            put("IsDeleted", json!(deleted_at.is_some()));
        }
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
                SObject::Contract => {
                    r.insert("ContractTerm".into(), json!("twelve"));
                }
                SObject::OpportunityContactRole => {
                    r.insert("IsPrimary".into(), json!("sometimes"));
                }
                SObject::User | SObject::CurrencyType | SObject::DatedConversionRate => {}
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

/// The org's opportunity `Type` picklist: its customised values first, then Salesforce's
/// defaults it keeps inactive.
const OPPORTUNITY_TYPES: [(&str, bool); 6] = [
    ("New Business", true),
    ("Renewal", true),
    ("Existing Customer - Upgrade", true),
    ("Existing Customer - Downgrade", true),
    ("New Customer", false),
    ("Existing Customer - Replacement", false),
];

/// The standard `OpportunityContactRole.Role` picklist.
pub const CONTACT_ROLES: [&str; 8] = [
    "Decision Maker",
    "Economic Buyer",
    "Evaluator",
    "Executive Sponsor",
    "Influencer",
    "Technical Buyer",
    "Business User",
    "Other",
];

/// The org's corporate currency: every dated rate is quoted against it.
pub const CORPORATE_CURRENCY: &str = "USD";

/// A contact's role on a closed-won deal.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ContactRole {
    /// Index into `company.deals`.
    deal: usize,
    /// Index into `company.contacts`.
    contact: usize,
    role: &'static str,
    primary: bool,
    /// The number its id is made from (stable as the company moves on).
    n: u64,
}

/// A mixing hash (splitmix64's finaliser): a deterministic draw from a number.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One to three roles per closed-won deal, on contacts of its account created before it
/// closed (in id order, so the draw does not change as the company moves on), drawn from the
/// deal's id; the first is primary.
fn contact_roles(company: &Company, won: &[usize]) -> Vec<ContactRole> {
    let mut by_account: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, c) in company.contacts.iter().enumerate() {
        by_account.entry(c.account).or_default().push(i);
    }
    for contacts in by_account.values_mut() {
        contacts.sort_by_key(|&i| (numeric_id(&company.contacts[i].id, i), i));
    }
    let mut out = Vec::new();
    for &d in won {
        let deal = &company.deals[d];
        let candidates: Vec<usize> = by_account
            .get(&deal.account)
            .map(|cs| {
                cs.iter()
                    .copied()
                    .filter(|&c| company.contacts[c].created_at <= deal.close_date)
                    .collect()
            })
            .unwrap_or_default();
        if candidates.is_empty() {
            continue;
        }
        let deal_n = numeric_id(&deal.id, d);
        let h = mix(deal_n);
        let count = (1 + (h % 3) as usize).min(candidates.len());
        let start = ((h >> 8) % candidates.len() as u64) as usize;
        let first_role = ((h >> 24) % CONTACT_ROLES.len() as u64) as usize;
        for k in 0..count {
            out.push(ContactRole {
                deal: d,
                contact: candidates[(start + k) % candidates.len()],
                role: CONTACT_ROLES[(first_role + 3 * k) % CONTACT_ROLES.len()],
                primary: k == 0,
                n: deal_n * 4 + k as u64,
            });
        }
    }
    out
}

/// One `DatedConversionRate` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedRate {
    /// The currency quoted.
    pub iso_code: &'static str,
    /// First day the rate applies.
    pub start_date: NaiveDate,
    /// Units of `iso_code` per unit of [`CORPORATE_CURRENCY`], exactly as served.
    pub rate: Decimal,
}

/// The dated rates the mock serves (besides the corporate currency's own rows at 1): EUR at
/// 1/1.08 and GBP at 1/1.27 (rounded to six decimals, as Salesforce keeps them) from
/// 2000-01-01, then EUR at 1/1.10 and GBP at 1/1.25 from 2025-01-01 — so a conversion must
/// pick the rate of its date.
pub fn dated_conversion_rates() -> Vec<DatedRate> {
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a valid calendar date");
    let inverse = |per_unit: Decimal| (Decimal::ONE / per_unit).round_dp(6);
    vec![
        DatedRate {
            iso_code: CORPORATE_CURRENCY,
            start_date: day(2000, 1, 1),
            rate: Decimal::ONE,
        },
        DatedRate {
            iso_code: "EUR",
            start_date: day(2000, 1, 1),
            rate: inverse(Decimal::new(108, 2)),
        },
        DatedRate {
            iso_code: "GBP",
            start_date: day(2000, 1, 1),
            rate: inverse(Decimal::new(127, 2)),
        },
        DatedRate {
            iso_code: "EUR",
            start_date: day(2025, 1, 1),
            rate: inverse(Decimal::new(110, 2)),
        },
        DatedRate {
            iso_code: "GBP",
            start_date: day(2025, 1, 1),
            rate: inverse(Decimal::new(125, 2)),
        },
    ]
}

/// The currencies of the org (`CurrencyType.IsoCode`), the corporate one first.
const CURRENCIES: [&str; 3] = [CORPORATE_CURRENCY, "EUR", "GBP"];

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
    let soql = match state.parse(q) {
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
    // The header is a hint: the org never serves more than its own batch size.
    let org_batch = state.config.batch_size.max(1);
    let batch = requested_batch(headers).map_or(org_batch, |n| n.min(org_batch));
    let cursor = Arc::new(QueryCursor {
        object: soql.object,
        fields: soql.fields,
        rows: rows.into_iter().map(|(i, _)| i).collect(),
        batch,
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
    serve_batch(state, version, &locator, &cursor, 0, batch)
}

/// `GET /services/data/<version>/sobjects/<sObject>/describe`.
async fn describe(
    State(state): State<Arc<MockState>>,
    Path((_version, object)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = state.refuse(&headers) {
        return refused;
    }
    match SObject::parse(&object).and_then(|o| state.describe(o)) {
        Some(body) => json_response(StatusCode::OK, &body),
        None => api_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        ),
    }
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
    let batch =
        requested_batch(&headers).map_or(cursor.batch, |n| n.min(state.config.batch_size.max(1)));
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
