//! A mock of the Salesforce REST API (`vendor-apis.md` §1), serving the simulated company
//! (`tributary-sim`):
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
//! - `GET /services/data/<version>/sobjects/`: the global describe (name, label, keyPrefix,
//!   urls); `GET /services/data/<version>/sobjects/<sObject>/<id>`: one record with every
//!   field, 404 `NOT_FOUND` for an unknown id and `ENTITY_IS_DELETED` for a deleted one.
//! - Every resource answers with and without a trailing slash, under any `v<NN.N>`; version
//!   discovery `GET /services/data/` lists [`API_VERSIONS`] without a session.
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

//!
//! # Layout
//!
//! `records.rs` and `org.rs` translate the world into Salesforce's sObjects, field names,
//! picklist labels and ids (with `objects.rs`, the sObjects' fields and id format): nothing
//! outside this crate knows them. `soql.rs` parses and evaluates the SOQL subset; `query.rs`
//! serves `query`, `queryAll`, their batches and `describe`; `bulk.rs` Bulk API 2.0 query
//! jobs; `auth.rs` the error bodies, the daily limit and the token endpoint, on the shared
//! scaffolding of [`tributary_mock_kit`].
//!
//! What it must not do: depend on the Salesforce connector (it is written from Salesforce's
//! documentation), or be used by library code paths (only tests, benches and the binary).

mod auth;
pub mod bulk;
mod config;
mod mock;
mod objects;
mod org;
mod query;
mod records;
mod soql;

pub use config::{
    JWT_BEARER_GRANT, MAX_BATCH_SIZE, MIN_BATCH_SIZE, SESSION_LIFETIME_SECS, SalesforceMockConfig,
    TOKEN_PATH, TOKEN_PREFIX,
};
pub use mock::{API_VERSIONS, SalesforceMock, revenue_mapping, router};
pub use objects::{SObject, salesforce_id, sf_datetime};
pub use org::{
    CONTACT_ROLES, CORPORATE_CURRENCY, DatedRate, dated_conversion_rates, opportunity_type,
    stage_name,
};

// What every module of the mock shares: its own items and the crates it is built on.
#[allow(unused_imports)]
pub(crate) use {auth::*, config::*, mock::*, objects::*, org::*, query::*, records::*, soql::*};
#[allow(unused_imports)]
pub(crate) use {
    axum::{
        Json, Router,
        body::Bytes,
        extract::{Path, Query, Request, State},
        http::{HeaderMap, HeaderValue, StatusCode, header},
        middleware::Next,
        response::{IntoResponse, Response},
        routing::{get, post},
    },
    base64::Engine as _,
    chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc},
    rust_decimal::Decimal,
    serde_json::{Map, Number, Value, json},
    std::{
        collections::{BTreeMap, HashMap, HashSet},
        str::FromStr,
        sync::{
            Arc, Mutex, PoisonError,
            atomic::{AtomicU64, Ordering},
        },
    },
    tributary_mock_kit::{
        self as faults, FaultInjector, FaultStats, Faults, TokenCheck, VendorFaults, VendorMock,
    },
    tributary_sim::{Company, DealMotion, DealStage, Industry},
};
