//! A wire-faithful mock of HubSpot's CRM v3 object list and search endpoints, serving a
//! [`Company`].
//!
//! Served: `GET /crm/v3/objects/{objectType}` for `companies`, `contacts` and `deals` (also
//! their ids `0-2`, `0-1`, `0-3`) with `limit`, `after`, `properties`, `associations` and
//! `archived`; `POST /crm/v3/objects/{objectType}/search` (below);
//! `POST /crm/v4/associations/{fromType}/{toType}/batch/read`; `GET /crm/v3/pipelines/deals`
//! (the default pipeline and a custom [`RENEWALS_PIPELINE`] with numeric ids, see below);
//! `GET /crm/v3/properties/{objectType}` (property definitions, custom ones included); Bearer
//! auth with the private-app
//! token (never expires) or an OAuth access token from `POST /oauth/v1/token`
//! (`grant_type=refresh_token`, which expires); HubSpot's error bodies and
//! `X-HubSpot-RateLimit-*` headers. Shapes follow
//! <https://developers.hubspot.com/docs/api/crm/understanding-the-crm>,
//! <https://developers.hubspot.com/docs/api/crm/search> and
//! <https://developers.hubspot.com/docs/api/oauth/tokens> (see `vendor-apis.md` §2): every
//! property value is a string or null, the list is ordered by id, the paging cursor is opaque,
//! and there is no `paging` on the last page.
//!
//! Search takes a JSON body with `filterGroups` (groups ORed, filters ANDed; `EQ`, `NEQ`, `LT`,
//! `LTE`, `GT`, `GTE`, `BETWEEN` with `value` + `highValue`, `IN`, `NOT_IN`, `HAS_PROPERTY`,
//! `NOT_HAS_PROPERTY` on any served property; dates as epoch milliseconds, string or number, or
//! ISO 8601), one `sorts` entry, `properties`, `query`, `limit` (at most 200) and `after` (a
//! numeric offset). It answers `{"total","results","paging":{"next":{"after":"200"}}}` with no
//! `link` and no rate-limit headers, never returns archived records or associations, breaks
//! sort ties in an unspecified (seeded) order, and refuses to page past
//! [`HubspotMockConfig::search_result_cap`] (10,000, as HubSpot) with a 400
//! `VALIDATION_ERROR`: the cap behind airbyte#26365.
//!
//! [`HubspotMock`] is the mock with a handle on its [`FaultInjector`] (knobs and counters);
//! [`router`] is the shorthand when no handle is needed. Every knob of [`Faults`] applies: the
//! shared fault layer answers 429s with HubSpot's `RATE_LIMIT` body, 5xx with HubSpot's (500)
//! or its edge's (502, 503) bodies; an expired OAuth token gets HubSpot's
//! `EXPIRED_AUTHENTICATION` 401; `mutate` changes [`HubspotObject::mutated_property`] and the
//! last-modified time of live records around list and search pages alike (search filters and
//! sorts see the changes); `duplicates` repeats a page's last record on the next page (live
//! and archived listings, and search).
//!
//! The simulated portal, as a real one is set up:
//! - renewal deals (renewals, expansions, contractions) are worked in the custom `Renewals`
//!   pipeline (id `1487`), whose stage ids are numbers: its won stage is `4811304`, not
//!   `closedwon` ([`deal_pipeline`], [`deal_stage`]);
//! - deals carry the custom properties `term_months` and [`DEAL_MOTION_PROPERTY`]
//!   (`new_business`, `renewal`, `expansion`, `contraction`, `add_on`), besides HubSpot's
//!   `dealtype` (`newbusiness` / `existingbusiness` only);
//! - with [`HubspotMockConfig::multi_currency`] (the default) deals carry `deal_currency_code`
//!   in the account's billing currency; without it the property does not exist;
//! - each deal has one to three contacts of its company ([`deal_contacts`]); through the
//!   associations v4 batch read the first carries the user-defined labels
//!   [`PRIMARY_CONTACT_LABEL`] and `Decision Maker`, the second `Champion`.
//!
//! Quirks reproduced on purpose, because real portals have them:
//! - an association is listed twice, once with the primary label (`contact_to_company`) and
//!   once unlabeled (`contact_to_company_unlabeled`);
//! - requesting an unknown property is not an error, it is silently left out;
//! - `createdate`, the last-modified property and `hs_object_id` always come back.

use crate::{
    Company, DealMotion, DealStage, Faults, SimContact, SimDeal,
    faults::{self, FaultInjector, FaultStats, Revision, TokenCheck, VendorFaults, VendorMock},
};
use axum::{
    Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    str::FromStr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// Settings of the HubSpot mock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubspotMockConfig {
    /// The private-app token the mock accepts as `Authorization: Bearer <token>`; it never
    /// expires.
    pub access_token: String,
    /// The OAuth app's client id, which `POST /oauth/v1/token` requires.
    pub client_id: String,
    /// The OAuth app's client secret, which `POST /oauth/v1/token` requires.
    pub client_secret: String,
    /// The refresh token `POST /oauth/v1/token` exchanges for access tokens; like HubSpot's,
    /// it stays the same on every refresh.
    pub refresh_token: String,
    /// Faults to inject.
    pub faults: Faults,
    /// How many results one search query pages through before paging further is a 400
    /// ([`SEARCH_RESULT_CAP`], HubSpot's 10,000, unless a test lowers it to reach the cap with
    /// a small company).
    pub search_result_cap: usize,
    /// Whether the portal has multi-currency on: deals then carry `deal_currency_code` (and
    /// the property exists in `GET /crm/v3/properties/deals`). Off, every amount is in the
    /// portal's company currency and the property does not exist.
    pub multi_currency: bool,
    /// How many of the newest live records of every object the list endpoint silently
    /// leaves out of its pages while search still counts them: a vendor-side loss such as
    /// ~8,000 companies missing with no error (airbyte#34446), for completeness tests. 0 is
    /// HubSpot as documented.
    pub lost_from_listing: usize,
    /// Properties served as JSON numbers, where HubSpot serves every property as a string,
    /// whenever their value reads as a number: a portal whose field changed type, for
    /// schema-drift tests. Empty is HubSpot as documented.
    pub numeric_properties: Vec<String>,
}

impl Default for HubspotMockConfig {
    fn default() -> Self {
        Self {
            access_token: DEFAULT_ACCESS_TOKEN.to_owned(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            refresh_token: DEFAULT_REFRESH_TOKEN.to_owned(),
            faults: Faults::default(),
            search_result_cap: SEARCH_RESULT_CAP,
            multi_currency: true,
            lost_from_listing: 0,
            numeric_properties: Vec::new(),
        }
    }
}

impl HubspotMockConfig {
    /// The default token with `faults` (typically `SimConfig::faults`).
    pub fn with_faults(faults: Faults) -> Self {
        Self {
            faults,
            ..Self::default()
        }
    }

    /// What `tributary sim serve` prints after the base URL: how to authenticate, with the
    /// private-app token or through OAuth (the token path is relative to the base URL).
    pub fn credential_hint(&self) -> String {
        format!(
            "access_token={} client_id={} client_secret={} refresh_token={} token_path={TOKEN_PATH}",
            self.access_token, self.client_id, self.client_secret, self.refresh_token
        )
    }
}

/// The private-app token the mock accepts unless configured otherwise.
pub const DEFAULT_ACCESS_TOKEN: &str = "pat-na1-sim-0000";
/// The OAuth client id the mock accepts unless configured otherwise.
pub const DEFAULT_CLIENT_ID: &str = "sim-hubspot-client-0000";
/// The OAuth client secret the mock accepts unless configured otherwise.
pub const DEFAULT_CLIENT_SECRET: &str = "sim-hubspot-secret-0000";
/// The OAuth refresh token the mock accepts unless configured otherwise.
pub const DEFAULT_REFRESH_TOKEN: &str = "na1-sim-refresh-0000";
/// Where the token endpoint is served, relative to the base URL.
pub const TOKEN_PATH: &str = "/oauth/v1/token";
/// How OAuth access tokens issued by the mock begin (the rest is 32 hex digits).
pub const OAUTH_TOKEN_PREFIX: &str = "sim-oauth-";
/// HubSpot's OAuth access-token lifetime in seconds, used unless `token_ttl_secs` is set.
pub const OAUTH_TOKEN_LIFETIME_SECS: u64 = 1800;

/// Requests allowed per rolling ten-second window (the Professional/Enterprise limit). The mock
/// reports it in headers; it does not throttle unless a fault knob asks for it.
pub const RATE_LIMIT_MAX: u32 = 190;
/// Length of the rolling window, in milliseconds.
pub const RATE_LIMIT_INTERVAL_MS: u64 = 10_000;
/// The daily request allowance reported in headers.
pub const RATE_LIMIT_DAILY: u64 = 1_000_000;

/// Results one search query can page through: asking for `after` at or beyond it is HTTP 400
/// (the cause of airbyte#26365 and of NangoHQ integration-templates#647).
pub const SEARCH_RESULT_CAP: usize = 10_000;
/// The largest `limit` of a search request; a larger one is HTTP 400.
pub const SEARCH_MAX_LIMIT: usize = 200;
/// The most `filterGroups` of a search request.
pub const SEARCH_MAX_FILTER_GROUPS: usize = 5;
/// The most filters in one group (HubSpot's 2024 limit; it was 3, then 6).
pub const SEARCH_MAX_FILTERS_PER_GROUP: usize = 10;
/// The most filters over all groups of a search request.
pub const SEARCH_MAX_FILTERS: usize = 25;
/// The most `inputs` of an associations batch read.
pub const ASSOCIATIONS_BATCH_MAX: usize = 1_000;

/// A HubSpot CRM object type the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubspotObject {
    /// `companies` (`0-2`).
    Companies,
    /// `contacts` (`0-1`).
    Contacts,
    /// `deals` (`0-3`).
    Deals,
}

impl HubspotObject {
    /// Every object type.
    pub const ALL: [HubspotObject; 3] = [
        HubspotObject::Companies,
        HubspotObject::Contacts,
        HubspotObject::Deals,
    ];

    /// Parses a path segment: the plural name or the object type id.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "companies" | "0-2" => Some(HubspotObject::Companies),
            "contacts" | "0-1" => Some(HubspotObject::Contacts),
            "deals" | "0-3" => Some(HubspotObject::Deals),
            _ => None,
        }
    }

    /// The plural name used in paths and association keys.
    pub fn as_str(self) -> &'static str {
        match self {
            HubspotObject::Companies => "companies",
            HubspotObject::Contacts => "contacts",
            HubspotObject::Deals => "deals",
        }
    }

    /// The singular used in association type names (`contact_to_company`).
    fn singular(self) -> &'static str {
        match self {
            HubspotObject::Companies => "company",
            HubspotObject::Contacts => "contact",
            HubspotObject::Deals => "deal",
        }
    }

    /// The last-modified property: contacts differ from every other object.
    pub fn modified_property(self) -> &'static str {
        match self {
            HubspotObject::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// The property the `mutate` knob changes (besides the last-modified one): a company's
    /// `numberofemployees` grows by the revision number, a contact's `jobtitle` and a deal's
    /// `dealname` get ` (rev N)` appended.
    pub fn mutated_property(self) -> &'static str {
        match self {
            HubspotObject::Companies => "numberofemployees",
            HubspotObject::Contacts => "jobtitle",
            HubspotObject::Deals => "dealname",
        }
    }

    /// What the list endpoint returns when no `properties` are requested.
    pub fn default_properties(self) -> &'static [&'static str] {
        match self {
            HubspotObject::Companies => &[
                "name",
                "domain",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
            HubspotObject::Contacts => &[
                "firstname",
                "lastname",
                "email",
                "createdate",
                "lastmodifieddate",
                "hs_object_id",
            ],
            HubspotObject::Deals => &[
                "dealname",
                "amount",
                "dealstage",
                "pipeline",
                "closedate",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
        }
    }
}

/// Which records the mock serves malformed, by id, per object type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MalformedIds {
    /// Companies served with an empty `name`.
    pub companies: Vec<String>,
    /// Contacts served with a garbage `email` and no name.
    pub contacts: Vec<String>,
    /// Closed-won deals served with an `amount` that is not a number.
    pub deals: Vec<String>,
}

/// The `amount` a malformed deal is served with.
pub const MALFORMED_AMOUNT: &str = "12,5O0";
/// The `email` a malformed contact is served with.
pub const MALFORMED_EMAIL: &str = "n/a (ask the AE)";

/// Chooses, deterministically from the company's seed, the records
/// [`Faults::malformed_records`] corrupts: that many companies, contacts and closed-won deals
/// (won deals, so that a connector that skips lost and open deals still meets every one), in
/// id order. Archived records are never chosen.
pub fn malformed_ids(company: &Company, faults: &Faults) -> MalformedIds {
    let [companies, contacts, deals] = malformed_indices(company, faults);
    let ids = |set: HashSet<usize>, id: &dyn Fn(usize) -> String| {
        let mut v: Vec<usize> = set.into_iter().collect();
        v.sort_unstable();
        v.into_iter().map(id).collect()
    };
    MalformedIds {
        companies: ids(companies, &|i| company.accounts[i].id.clone()),
        contacts: ids(contacts, &|i| company.contacts[i].id.clone()),
        deals: ids(deals, &|i| company.deals[i].id.clone()),
    }
}

fn malformed_indices(company: &Company, faults: &Faults) -> [HashSet<usize>; 3] {
    let n = faults.malformed_records;
    if n == 0 {
        return [HashSet::new(), HashSet::new(), HashSet::new()];
    }
    let choose =
        |label: &str, candidates: Vec<usize>| faults::sample(company.seed, label, candidates, n);
    [
        choose(
            "faults.malformed.companies",
            (0..company.accounts.len())
                .filter(|&i| company.accounts[i].archived_at.is_none())
                .collect(),
        ),
        choose(
            "faults.malformed.contacts",
            (0..company.contacts.len())
                .filter(|&i| company.contacts[i].archived_at.is_none())
                .collect(),
        ),
        choose(
            "faults.malformed.deals",
            (0..company.deals.len())
                .filter(|&i| {
                    company.deals[i].stage.is_won() && company.deals[i].archived_at.is_none()
                })
                .collect(),
        ),
    ]
}

/// The contacts associated with each deal (indices into [`Company::contacts`], the primary
/// first): one to three of the people of the deal's company, chosen deterministically from the
/// seed among those who existed when the deal was last changed, so a deal's contacts change
/// only when the deal does (as the `num_associated_contacts` rollup moves its modified time in
/// HubSpot). A deal whose company had no contacts yet has none.
pub fn deal_contacts(company: &Company) -> Vec<Vec<usize>> {
    let mut contacts_by_account = vec![Vec::new(); company.accounts.len()];
    for (i, c) in company.contacts.iter().enumerate() {
        if let Some(list) = contacts_by_account.get_mut(c.account) {
            list.push(i);
        }
    }
    let numeric = |id: &str| id.parse::<u64>().unwrap_or(u64::MAX);
    company
        .deals
        .iter()
        .map(|d| {
            let deal_id = numeric(&d.id);
            let mut eligible: Vec<(u64, usize)> = contacts_by_account
                .get(d.account)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .copied()
                .filter(|&j| company.contacts[j].created_at <= d.updated_at)
                .map(|j| {
                    let contact_id = numeric(&company.contacts[j].id);
                    (
                        faults::draw(company.seed, "deal-contacts", &[deal_id, contact_id]),
                        j,
                    )
                })
                .collect();
            eligible.sort_unstable();
            let n = 1 + (faults::draw(company.seed, "deal-contacts-n", &[deal_id]) % 3) as usize;
            eligible.into_iter().take(n).map(|(_, j)| j).collect()
        })
        .collect()
}

/// The user-defined deal→contact association label the mock puts on a deal's first contact:
/// the portal marks its primary contact with a label, as HubSpot has no built-in one.
pub const PRIMARY_CONTACT_LABEL: &str = "Primary Contact";
/// The role label (user-defined) of a deal's first and second contact; the third has none.
pub const CONTACT_ROLE_LABELS: [&str; 2] = ["Decision Maker", "Champion"];

struct RateWindow {
    started: Instant,
    used: u32,
}

struct MockState {
    company: Arc<Company>,
    config: HubspotMockConfig,
    faults: FaultInjector,
    malformed: [HashSet<usize>; 3],
    /// Numeric ids per object type, ascending (the generator assigns them so).
    ids: [Vec<u64>; 3],
    contacts_by_account: Vec<Vec<usize>>,
    deals_by_account: Vec<Vec<usize>>,
    /// Per deal, its contacts (indices), the primary first ([`deal_contacts`]).
    deal_contacts: Vec<Vec<usize>>,
    /// Per contact, the deals it is associated with, in id order.
    contact_deals: Vec<Vec<usize>>,
    window: Mutex<RateWindow>,
    daily_used: AtomicU64,
}

fn slot(object: HubspotObject) -> usize {
    match object {
        HubspotObject::Companies => 0,
        HubspotObject::Contacts => 1,
        HubspotObject::Deals => 2,
    }
}

/// The HubSpot mock's routes, serving `company`, wrapped in the fault layer of
/// `config.faults`. Use [`HubspotMock`] to read the fault counters.
/// The revenue field mapping of the simulated portal, as the `mapping` table of a HubSpot
/// connector's configuration: the term in its custom `term_months` property, and the motion
/// in its custom `deal_motion` property, whose options name every motion the generator has (a
/// mid-term `add_on` adds ARR: an expansion). With it, every subscription's ARR, term and
/// motion equal the generator's truth; HubSpot's own `dealtype` (`newbusiness` /
/// `existingbusiness`) could not tell renewals from expansions. Data, not a connector type:
/// the simulator knows the portal, the connector knows nothing of the simulator.
pub fn revenue_mapping() -> Value {
    json!({
        "term_field": "term_months",
        "motion_field": "deal_motion",
        "motions": {
            "new_business": "new",
            "renewal": "renewal",
            "expansion": "expansion",
            "contraction": "contraction",
            "add_on": "expansion",
        },
    })
}

pub fn router(company: Arc<Company>, config: HubspotMockConfig) -> Router {
    HubspotMock::new(company, config).router()
}

/// One HubSpot mock instance: its state, its fault injector and the routes serving them.
/// Clones share everything.
#[derive(Clone)]
pub struct HubspotMock {
    state: Arc<MockState>,
}

impl std::fmt::Debug for HubspotMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubspotMock")
            .field("config", &self.state.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl HubspotMock {
    /// A mock serving `company` as configured; faults draw from the company's seed.
    pub fn new(company: Arc<Company>, config: HubspotMockConfig) -> Self {
        let parse_ids = |ids: Vec<&String>| -> Vec<u64> {
            ids.into_iter()
                .map(|id| id.parse().unwrap_or(u64::MAX))
                .collect()
        };
        let ids = [
            parse_ids(company.accounts.iter().map(|a| &a.id).collect()),
            parse_ids(company.contacts.iter().map(|c| &c.id).collect()),
            parse_ids(company.deals.iter().map(|d| &d.id).collect()),
        ];
        debug_assert!(
            ids.iter().all(|v| v.windows(2).all(|w| w[0] < w[1])),
            "generated ids ascend"
        );
        let mut contacts_by_account = vec![Vec::new(); company.accounts.len()];
        for (i, c) in company.contacts.iter().enumerate() {
            if let Some(list) = contacts_by_account.get_mut(c.account) {
                list.push(i);
            }
        }
        let mut deals_by_account = vec![Vec::new(); company.accounts.len()];
        for (i, d) in company.deals.iter().enumerate() {
            if let Some(list) = deals_by_account.get_mut(d.account) {
                list.push(i);
            }
        }
        let deal_contacts = deal_contacts(&company);
        let mut contact_deals = vec![Vec::new(); company.contacts.len()];
        for (i, list) in deal_contacts.iter().enumerate() {
            for &j in list {
                contact_deals[j].push(i);
            }
        }
        let state = Arc::new(MockState {
            deal_contacts,
            contact_deals,
            malformed: malformed_indices(&company, &config.faults),
            faults: FaultInjector::for_world(company.seed, company.today, config.faults.clone()),
            company,
            config,
            ids,
            contacts_by_account,
            deals_by_account,
            window: Mutex::new(RateWindow {
                started: Instant::now(),
                used: 0,
            }),
            daily_used: AtomicU64::new(0),
        });
        HubspotMock { state }
    }

    /// The mock's routes wrapped in its fault layer; every router of one mock shares its
    /// state, tokens and counters.
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .route("/crm/v3/objects/{object_type}", get(list_objects))
            .route("/crm/v3/objects/{object_type}/search", post(search_objects))
            .route("/crm/v3/pipelines/{object_type}", get(list_pipelines))
            .route("/crm/v3/properties/{object_type}", get(list_properties))
            .route(
                "/crm/v4/associations/{from_type}/{to_type}/batch/read",
                post(batch_read_associations),
            )
            .route(TOKEN_PATH, post(issue_token))
            .fallback(not_found)
            .with_state(self.state.clone());
        self.state
            .faults
            .wrap(routes, HubspotFaults(self.state.clone()))
    }

    /// The configuration it serves with.
    pub fn config(&self) -> &HubspotMockConfig {
        &self.state.config
    }

    /// Its fault injector: the knobs, issued tokens and changed records.
    pub fn faults(&self) -> &FaultInjector {
        &self.state.faults
    }

    /// What its faults have done so far.
    pub fn stats(&self) -> FaultStats {
        self.state.faults.stats()
    }

    /// The records it serves as live (not archived), per object type (`companies`,
    /// `contacts`, `deals`): id → last-modified time (`hs_lastmodifieddate`,
    /// `lastmodifieddate` for contacts), read through the same accessors its routes render
    /// from. What a full read of the portal must land; conformance tests compare with it.
    pub fn live_records(&self) -> BTreeMap<&'static str, BTreeMap<String, DateTime<Utc>>> {
        let s = &self.state;
        HubspotObject::ALL
            .into_iter()
            .map(|object| {
                let records = (0..s.len(object))
                    .filter(|&i| s.archived_at(object, i).is_none())
                    .map(|i| (s.id(object, i).to_owned(), s.created_updated(object, i).1))
                    .collect();
                (object.as_str(), records)
            })
            .collect()
    }

    /// The records it lists under `archived=true`, per object type: id → when archived.
    pub fn archived_records(&self) -> BTreeMap<&'static str, BTreeMap<String, DateTime<Utc>>> {
        let s = &self.state;
        HubspotObject::ALL
            .into_iter()
            .map(|object| {
                let records = (0..s.len(object))
                    .filter_map(|i| Some((s.id(object, i).to_owned(), s.archived_at(object, i)?)))
                    .collect();
                (object.as_str(), records)
            })
            .collect()
    }

    /// The deal→contact associations it serves between live records, as (deal id, contact
    /// id) in deal order, the primary contact first: the same edges as its associations
    /// routes.
    pub fn live_deal_contacts(&self) -> Vec<(String, String)> {
        let s = &self.state;
        let co = &s.company;
        let mut out = Vec::new();
        for (d, contacts) in s.deal_contacts.iter().enumerate() {
            if s.archived_at(HubspotObject::Deals, d).is_some() {
                continue;
            }
            for &c in contacts {
                if s.archived_at(HubspotObject::Contacts, c).is_none() {
                    out.push((co.deals[d].id.clone(), co.contacts[c].id.clone()));
                }
            }
        }
        out
    }
}

impl VendorMock for HubspotMock {
    fn vendor(&self) -> &'static str {
        "hubspot"
    }

    fn router(&self) -> Router {
        HubspotMock::router(self)
    }

    fn credential_hint(&self) -> String {
        self.state.config.credential_hint()
    }

    fn faults(&self) -> &FaultInjector {
        HubspotMock::faults(self)
    }
}

/// HubSpot's bodies for the shared fault layer.
struct HubspotFaults(Arc<MockState>);

impl VendorFaults for HubspotFaults {
    /// The ten-secondly limit's 429, with the rate-limit headers showing nothing left. See
    /// <https://developers.hubspot.com/docs/api/usage-details#error-responses>.
    fn rate_limited(&self) -> Response {
        let body = json!({
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": uuid::Uuid::now_v7().to_string(),
            "policyName": "TEN_SECONDLY_ROLLING",
            "requestId": uuid::Uuid::now_v7().to_string(),
        });
        let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, &body);
        response.headers_mut().extend(self.0.rate_headers(true));
        response
    }

    /// A 500 is HubSpot's own JSON error; 502 and 503 come from the edge in front of it, as
    /// HTML, which a client must survive without decoding.
    fn server_error(&self, status: StatusCode) -> Response {
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            return error(status, "INTERNAL_ERROR", "internal error");
        }
        let reason = status.canonical_reason().unwrap_or("Server Error");
        let code = status.as_u16();
        (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/html"))],
            format!(
                "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n\
                 <center><h1>{code} {reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n\
                 </body>\r\n</html>\r\n"
            ),
        )
            .into_response()
    }
}

/// HubSpot's error body: `{"status":"error","message","correlationId","category"}`.
fn error(status: StatusCode, category: &str, message: &str) -> Response {
    let body = json!({
        "status": "error",
        "message": message,
        "correlationId": uuid::Uuid::now_v7().to_string(),
        "category": category,
    });
    json_response(status, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        )],
        body.to_string(),
    )
        .into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "OBJECT_NOT_FOUND",
        "resource not found",
    )
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    match value.trim().split_once(' ') {
        Some((scheme, given)) if scheme.eq_ignore_ascii_case("bearer") => Some(given.trim()),
        _ => None,
    }
}

fn invalid_authentication() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication \
         and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    )
}

/// HubSpot's 401 for an OAuth token past its time: category `EXPIRED_AUTHENTICATION`, the age
/// in the message and the expiry in `context`.
fn expired_authentication(expired_at: DateTime<Utc>) -> Response {
    let ago = (Utc::now() - expired_at).num_seconds().max(0);
    let body = json!({
        "status": "error",
        "message": format!("The OAuth token used to make this call expired {ago} second(s) ago."),
        "correlationId": uuid::Uuid::now_v7().to_string(),
        "category": "EXPIRED_AUTHENTICATION",
        "context": {"expire time": [timestamp(expired_at)]},
    });
    json_response(StatusCode::UNAUTHORIZED, &body)
}

/// The token endpoint's error body: `{"status":"BAD_REFRESH_TOKEN","message",…}` with a 400.
fn oauth_error(status: &str, message: &str) -> Response {
    let body = json!({
        "status": status,
        "message": message,
        "correlationId": uuid::Uuid::now_v7().to_string(),
    });
    json_response(StatusCode::BAD_REQUEST, &body)
}

/// `POST /oauth/v1/token` with a form-encoded `grant_type=refresh_token`, `refresh_token`,
/// `client_id` and `client_secret` (`redirect_uri` is accepted and ignored): a fresh access
/// token and the unchanged refresh token. Authorization-code grants need a browser and are
/// not simulated.
async fn issue_token(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map_or("", String::as_str);
    let config = &state.config;
    match field("grant_type") {
        "refresh_token" => {}
        "" => return oauth_error("BAD_GRANT_TYPE", "missing grant_type"),
        other => {
            return oauth_error(
                "BAD_GRANT_TYPE",
                &format!("unsupported grant_type: {other}"),
            );
        }
    }
    if field("client_id") != config.client_id {
        return oauth_error("BAD_CLIENT_ID", "missing or invalid client_id");
    }
    if field("client_secret") != config.client_secret {
        return oauth_error("BAD_CLIENT_SECRET", "missing or invalid client_secret");
    }
    if field("refresh_token") != config.refresh_token {
        return oauth_error("BAD_REFRESH_TOKEN", "missing or invalid refresh token");
    }
    let issued = state
        .faults
        .issue_token(OAUTH_TOKEN_PREFIX, OAUTH_TOKEN_LIFETIME_SECS);
    let body = json!({
        "token_type": "bearer",
        "refresh_token": config.refresh_token,
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
    });
    json_response(StatusCode::OK, &body)
}

impl MockState {
    /// Accepts the private-app token (never expires) or a token the mock issued and that is
    /// still valid (`None`); otherwise HubSpot's 401.
    fn refuse(&self, headers: &HeaderMap) -> Option<Response> {
        let Some(token) = bearer(headers) else {
            return Some(invalid_authentication());
        };
        if token == self.config.access_token {
            return None;
        }
        match self.faults.check_token(token) {
            TokenCheck::Valid => None,
            TokenCheck::Expired { expired_at } => Some(expired_authentication(expired_at)),
            TokenCheck::Unknown => Some(invalid_authentication()),
        }
    }

    /// Counts a request and returns the rate-limit headers to send with its response;
    /// `exhausted` reports nothing left in the window (the headers of a 429).
    fn rate_headers(&self, exhausted: bool) -> Vec<(HeaderName, HeaderValue)> {
        let remaining = match self.window.lock() {
            Ok(mut w) => {
                if w.started.elapsed() >= Duration::from_millis(RATE_LIMIT_INTERVAL_MS) {
                    w.started = Instant::now();
                    w.used = 0;
                }
                w.used = w.used.saturating_add(1);
                RATE_LIMIT_MAX.saturating_sub(w.used)
            }
            Err(_) => RATE_LIMIT_MAX,
        };
        let remaining = if exhausted { 0 } else { remaining };
        let daily_used = self.daily_used.fetch_add(1, Ordering::Relaxed) + 1;
        let h = |name: &'static str, v: String| {
            (
                HeaderName::from_static(name),
                HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("0")),
            )
        };
        vec![
            h("x-hubspot-ratelimit-daily", RATE_LIMIT_DAILY.to_string()),
            h(
                "x-hubspot-ratelimit-daily-remaining",
                RATE_LIMIT_DAILY.saturating_sub(daily_used).to_string(),
            ),
            h(
                "x-hubspot-ratelimit-interval-milliseconds",
                RATE_LIMIT_INTERVAL_MS.to_string(),
            ),
            h("x-hubspot-ratelimit-max", RATE_LIMIT_MAX.to_string()),
            h("x-hubspot-ratelimit-remaining", remaining.to_string()),
        ]
    }

    fn archived_at(&self, object: HubspotObject, i: usize) -> Option<DateTime<Utc>> {
        match object {
            HubspotObject::Companies => self.company.accounts[i].archived_at,
            HubspotObject::Contacts => self.company.contacts[i].archived_at,
            HubspotObject::Deals => self.company.deals[i].archived_at,
        }
    }

    fn len(&self, object: HubspotObject) -> usize {
        self.ids[slot(object)].len()
    }

    fn id(&self, object: HubspotObject, i: usize) -> &str {
        match object {
            HubspotObject::Companies => &self.company.accounts[i].id,
            HubspotObject::Contacts => &self.company.contacts[i].id,
            HubspotObject::Deals => &self.company.deals[i].id,
        }
    }

    /// The record's latest change by the `mutate` knob, if any.
    fn revision(&self, object: HubspotObject, i: usize) -> Option<Revision> {
        self.faults.revision(object.as_str(), i)
    }

    /// Every property of a record, by name, as HubSpot would store it (strings or null).
    fn properties(&self, object: HubspotObject, i: usize) -> Vec<(&'static str, Option<String>)> {
        let co = &self.company;
        let malformed = self.malformed[slot(object)].contains(&i);
        let revision = self.revision(object, i);
        let rev = revision.map_or(0, |r| r.number);
        let (_, updated) = self.created_updated(object, i);
        // A changed text property keeps its value and says which revision it is.
        let revised = |text: &str| match rev {
            0 => text.to_owned(),
            n => format!("{text} (rev {n})"),
        };
        match object {
            HubspotObject::Companies => {
                let a = &co.accounts[i];
                vec![
                    (
                        "name",
                        Some(if malformed {
                            String::new()
                        } else {
                            a.name.clone()
                        }),
                    ),
                    ("domain", Some(a.domain.clone())),
                    ("industry", Some(a.industry.clone())),
                    ("city", Some(a.city.clone())),
                    ("country", Some(a.country.clone())),
                    (
                        "numberofemployees",
                        Some((u64::from(a.employees) + u64::from(rev)).to_string()),
                    ),
                    (
                        "hubspot_owner_id",
                        co.owners.get(a.owner).map(|o| o.id.clone()),
                    ),
                    ("lifecyclestage", Some("customer".to_owned())),
                    ("segment", Some(a.segment.as_str().to_owned())),
                    ("region", Some(a.region.clone())),
                    ("seats", Some(a.seats.to_string())),
                    ("createdate", Some(timestamp(a.created_at))),
                    ("hs_lastmodifieddate", Some(timestamp(updated))),
                    ("hs_object_id", Some(a.id.clone())),
                ]
            }
            HubspotObject::Contacts => {
                let c: &SimContact = &co.contacts[i];
                let (first, last, email) = if malformed {
                    (None, None, MALFORMED_EMAIL.to_owned())
                } else {
                    (
                        Some(c.first_name.clone()),
                        Some(c.last_name.clone()),
                        c.email.clone(),
                    )
                };
                vec![
                    ("firstname", first),
                    ("lastname", last),
                    ("email", Some(email)),
                    ("jobtitle", Some(revised(&c.job_title))),
                    ("role", Some(c.role.as_str().to_owned())),
                    ("lifecyclestage", Some("customer".to_owned())),
                    (
                        "associatedcompanyid",
                        co.accounts.get(c.account).map(|a| a.id.clone()),
                    ),
                    ("createdate", Some(timestamp(c.created_at))),
                    ("lastmodifieddate", Some(timestamp(updated))),
                    ("hs_object_id", Some(c.id.clone())),
                ]
            }
            HubspotObject::Deals => {
                let d: &SimDeal = &co.deals[i];
                let amount = if malformed {
                    MALFORMED_AMOUNT.to_owned()
                } else {
                    // HubSpot echoes numbers as entered: `4200`, not `4200.00`.
                    d.amount.normalize().to_string()
                };
                let stage = deal_stage(d);
                let mut props = vec![
                    ("dealname", Some(revised(&d.name))),
                    ("amount", Some(amount)),
                ];
                if self.config.multi_currency {
                    props.push(("deal_currency_code", Some(d.currency.to_string())));
                }
                props.extend([
                    ("dealstage", Some(stage.id.to_owned())),
                    ("pipeline", Some(deal_pipeline(d).id.to_owned())),
                    ("closedate", Some(timestamp(d.close_date))),
                    ("dealtype", Some(d.dealtype().to_owned())),
                    (DEAL_MOTION_PROPERTY, Some(deal_motion(d.motion).to_owned())),
                    ("hs_is_closed_won", Some(d.stage.is_won().to_string())),
                    ("hs_is_closed", Some(d.stage.is_closed().to_string())),
                    (
                        "hs_deal_stage_probability",
                        Some(stage.probability.to_owned()),
                    ),
                    (
                        "hubspot_owner_id",
                        co.accounts
                            .get(d.account)
                            .and_then(|a| co.owners.get(a.owner))
                            .map(|o| o.id.clone()),
                    ),
                    ("term_months", Some(d.term_months.to_string())),
                    ("createdate", Some(timestamp(d.created_at))),
                    ("hs_lastmodifieddate", Some(timestamp(updated))),
                    ("hs_object_id", Some(d.id.clone())),
                ]);
                props
            }
        }
    }

    /// When the record was created and last modified (by the `mutate` knob, when it was).
    fn created_updated(&self, object: HubspotObject, i: usize) -> (DateTime<Utc>, DateTime<Utc>) {
        let (created, updated) = self.generated_times(object, i);
        match self.revision(object, i) {
            Some(r) => (created, r.updated_at.max(updated)),
            None => (created, updated),
        }
    }

    fn generated_times(&self, object: HubspotObject, i: usize) -> (DateTime<Utc>, DateTime<Utc>) {
        match object {
            HubspotObject::Companies => {
                let a = &self.company.accounts[i];
                (a.created_at, a.updated_at)
            }
            HubspotObject::Contacts => {
                let c = &self.company.contacts[i];
                (c.created_at, c.updated_at)
            }
            HubspotObject::Deals => {
                let d = &self.company.deals[i];
                (d.created_at, d.updated_at)
            }
        }
    }

    /// Ids of the records of `to` associated with record `i` of `from`.
    fn associated(&self, from: HubspotObject, i: usize, to: HubspotObject) -> Vec<&str> {
        use HubspotObject as O;
        let co = &self.company;
        let live = |object: HubspotObject, j: usize| self.archived_at(object, j).is_none();
        let company_of = |a: usize| -> Vec<&str> {
            if a < co.accounts.len() && live(O::Companies, a) {
                vec![co.accounts[a].id.as_str()]
            } else {
                Vec::new()
            }
        };
        match (from, to) {
            (O::Contacts, O::Companies) => company_of(co.contacts[i].account),
            (O::Deals, O::Companies) => company_of(co.deals[i].account),
            (O::Companies, O::Contacts) => self.contacts_by_account[i]
                .iter()
                .filter(|&&j| live(O::Contacts, j))
                .map(|&j| co.contacts[j].id.as_str())
                .collect(),
            (O::Companies, O::Deals) => self.deals_by_account[i]
                .iter()
                .filter(|&&j| live(O::Deals, j))
                .map(|&j| co.deals[j].id.as_str())
                .collect(),
            (O::Deals, O::Contacts) => self.deal_contacts[i]
                .iter()
                .filter(|&&j| live(O::Contacts, j))
                .map(|&j| co.contacts[j].id.as_str())
                .collect(),
            (O::Contacts, O::Deals) => self.contact_deals[i]
                .iter()
                .filter(|&&j| live(O::Deals, j))
                .map(|&j| co.deals[j].id.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn render(
        &self,
        object: HubspotObject,
        i: usize,
        requested: &Option<Vec<String>>,
        associations: &[HubspotObject],
    ) -> Value {
        let all = self.properties(object, i);
        let always = ["createdate", object.modified_property(), "hs_object_id"];
        let mut props = Map::new();
        for (name, value) in all {
            let wanted = match requested {
                Some(list) => always.contains(&name) || list.iter().any(|p| p == name),
                None => object.default_properties().contains(&name),
            };
            if wanted {
                let value = match value {
                    None => Value::Null,
                    Some(v) if self.config.numeric_properties.iter().any(|p| p == name) => v
                        .parse::<serde_json::Number>()
                        .map_or(Value::String(v), Value::Number),
                    Some(v) => Value::String(v),
                };
                props.insert(name.to_owned(), value);
            }
        }
        let (created, updated) = self.created_updated(object, i);
        let archived_at = self.archived_at(object, i);
        let mut record = Map::new();
        record.insert("id".into(), Value::String(self.id(object, i).to_owned()));
        record.insert("properties".into(), Value::Object(props));
        record.insert("createdAt".into(), Value::String(timestamp(created)));
        record.insert(
            "updatedAt".into(),
            Value::String(timestamp(archived_at.unwrap_or(updated).max(updated))),
        );
        record.insert("archived".into(), Value::Bool(archived_at.is_some()));
        if let Some(at) = archived_at {
            record.insert("archivedAt".into(), Value::String(timestamp(at)));
        }
        let mut assoc = Map::new();
        for &to in associations {
            let ids = self.associated(object, i, to);
            if ids.is_empty() {
                continue;
            }
            let label = format!("{}_to_{}", object.singular(), to.singular());
            let mut results = Vec::new();
            for id in ids {
                results.push(json!({"id": id, "type": label}));
                // Real portals list a primary association a second time, unlabeled.
                if to == HubspotObject::Companies {
                    results.push(json!({"id": id, "type": format!("{label}_unlabeled")}));
                }
            }
            assoc.insert(to.as_str().to_owned(), json!({ "results": results }));
        }
        if !assoc.is_empty() {
            record.insert("associations".into(), Value::Object(assoc));
        }
        Value::Object(record)
    }
}

/// HubSpot's timestamp format: ISO 8601 in UTC with milliseconds and `Z`.
fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Values of a query parameter, accepting both `a,b` and repeated `k=a&k=b` (SDKs send either).
fn list_param(query: &[(String, String)], name: &str) -> Option<Vec<String>> {
    let mut found = false;
    let mut out = Vec::new();
    for (k, v) in query {
        if k == name {
            found = true;
            out.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    found.then_some(out)
}

fn param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn list_objects(
    State(state): State<Arc<MockState>>,
    Path(object_type): Path<String>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let rate_headers = state.rate_headers(false);
    let mut response = list_page(&state, &object_type, &headers, &query);
    response.headers_mut().extend(rate_headers);
    response
}

fn list_page(
    state: &MockState,
    object_type: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Response {
    let Some(object) = HubspotObject::parse(object_type) else {
        return error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to infer object type from: {object_type}"),
        );
    };
    let limit = match param(query, "limit") {
        None => 10,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) => n.clamp(1, 100) as usize,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    &format!("Unable to parse limit: '{raw}' is not a valid integer"),
                );
            }
        },
    };
    let start_id = match param(query, "after") {
        None | Some("") => 0,
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(n) => n,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    &format!("Invalid paging cursor: '{raw}'"),
                );
            }
        },
    };
    let archived = param(query, "archived").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let requested = list_param(query, "properties");
    let associations: Vec<HubspotObject> = list_param(query, "associations")
        .unwrap_or_default()
        .iter()
        .filter_map(|a| HubspotObject::parse(a))
        .collect();

    // The cursor is the id of the first record of the next page: stable when records are
    // added or archived between pages, as HubSpot's own cursor is.
    let ids = &state.ids[slot(object)];
    // `lost_from_listing`: the newest live records never appear in a live listing.
    let lost_from = match (archived, state.config.lost_from_listing) {
        (true, _) | (_, 0) => usize::MAX,
        (false, lost) => (0..state.len(object))
            .rev()
            .filter(|&i| state.archived_at(object, i).is_none())
            .take(lost)
            .last()
            .unwrap_or(usize::MAX),
    };
    let matches = |i: &usize| state.archived_at(object, *i).is_some() == archived && *i < lost_from;
    let mut candidates =
        (ids.partition_point(|&id| id < start_id)..state.len(object)).filter(matches);
    let page: Vec<usize> = candidates.by_ref().take(limit).collect();
    // The page after this one: where the cursor points, and what `mutate` may change.
    let upcoming: Vec<usize> = candidates.take(limit).collect();

    let results: Vec<Value> = page
        .iter()
        .map(|&i| state.render(object, i, &requested, &associations))
        .collect();

    // Faults that act on paging, decided once the page is rendered: `duplicates` points the
    // cursor back at this page's last record; `mutate` changes live records only (archived
    // ones are frozen), under the stream name `revision` looks them up by.
    let stream = match archived {
        false => object.as_str().to_owned(),
        true => format!("{}?archived", object.as_str()),
    };
    let mut next = upcoming.first().copied();
    if let Some(&last) = page.last()
        && state
            .faults
            .repeat_last(&stream, state.id(object, last), page.len(), next.is_some())
    {
        next = Some(last);
    }
    if !archived {
        state
            .faults
            .mutate_around_page(&stream, &start_id.to_string(), &page, &upcoming);
    }

    let mut body = Map::new();
    body.insert("results".into(), Value::Array(results));
    if let Some(n) = next {
        let after = state.id(object, n).to_owned();
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let mut link_query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in query.iter().filter(|(k, _)| k != "after") {
            link_query.append_pair(k, v);
        }
        link_query.append_pair("after", &after);
        let link = format!(
            "http://{host}/crm/v3/objects/{object_type}?{}",
            link_query.finish()
        );
        body.insert(
            "paging".into(),
            json!({"next": {"after": after, "link": link}}),
        );
    }
    json_response(StatusCode::OK, &Value::Object(body))
}

// ---------------------------------------------------------------------------------------------
// Search: `POST /crm/v3/objects/{objectType}/search`
// ---------------------------------------------------------------------------------------------

/// How a property's values compare in search filters and sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PropertyKind {
    /// Date-times, compared as epoch milliseconds; filter values may be epoch milliseconds (a
    /// string or a number) or ISO 8601.
    Date,
    /// Numbers, compared as decimals.
    Number,
    /// Everything else, compared case-insensitively.
    Text,
}

fn property_kind(name: &str) -> PropertyKind {
    match name {
        "createdate" | "hs_lastmodifieddate" | "lastmodifieddate" | "closedate" => {
            PropertyKind::Date
        }
        "hs_object_id"
        | "amount"
        | "numberofemployees"
        | "seats"
        | "term_months"
        | "hs_deal_stage_probability"
        | "hubspot_owner_id"
        | "associatedcompanyid" => PropertyKind::Number,
        _ => PropertyKind::Text,
    }
}

/// A property value as search compares it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SearchKey {
    /// A number, or a date-time as epoch milliseconds.
    Number(Decimal),
    /// Lower-cased text.
    Text(String),
}

/// Epoch milliseconds from the forms HubSpot's search accepts for dates: digits (epoch
/// milliseconds), ISO 8601 with an offset, or a bare `YYYY-MM-DD` (midnight UTC).
fn parse_epoch_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_time(NaiveTime::MIN).and_utc().timestamp_millis())
}

fn ms_key(t: DateTime<Utc>) -> SearchKey {
    SearchKey::Number(Decimal::from(t.timestamp_millis()))
}

/// A stored property value (always text) as a key of `kind`; `None` when it is missing or
/// does not parse as that kind, which search treats alike.
fn stored_key(kind: PropertyKind, value: &str) -> Option<SearchKey> {
    match kind {
        PropertyKind::Date => parse_epoch_ms(value).map(|ms| SearchKey::Number(Decimal::from(ms))),
        PropertyKind::Number => Decimal::from_str(value.trim()).ok().map(SearchKey::Number),
        PropertyKind::Text => Some(SearchKey::Text(value.to_lowercase())),
    }
}

/// A filter value of the request as a key of `kind`.
fn operand(kind: PropertyKind, value: &Value) -> Option<SearchKey> {
    match (kind, value) {
        (PropertyKind::Date, Value::Number(n)) => n.as_i64().map(|ms| SearchKey::Number(ms.into())),
        (PropertyKind::Number, Value::Number(n)) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .ok()
            .map(SearchKey::Number),
        (PropertyKind::Text, Value::Number(n)) => Some(SearchKey::Text(n.to_string())),
        (PropertyKind::Text, Value::Bool(b)) => Some(SearchKey::Text(b.to_string())),
        (_, Value::String(s)) => stored_key(kind, s),
        _ => None,
    }
}

/// What one filter asks of a property.
#[derive(Debug, Clone)]
enum Test {
    Eq(SearchKey),
    Neq(SearchKey),
    Lt(SearchKey),
    Lte(SearchKey),
    Gt(SearchKey),
    Gte(SearchKey),
    Between(SearchKey, SearchKey),
    In(Vec<SearchKey>),
    NotIn(Vec<SearchKey>),
    Has,
    NotHas,
}

#[derive(Debug, Clone)]
struct Filter {
    property: String,
    kind: PropertyKind,
    test: Test,
}

impl Filter {
    /// Whether a record whose property is `value` passes. A missing value passes only the
    /// negative tests (`NEQ`, `NOT_IN`, `NOT_HAS_PROPERTY`), as in HubSpot's index.
    fn passes(&self, value: Option<&SearchKey>) -> bool {
        match (&self.test, value) {
            (Test::Has, v) => v.is_some(),
            (Test::NotHas, v) => v.is_none(),
            (Test::Neq(k), v) => v != Some(k),
            (Test::NotIn(ks), v) => v.is_none_or(|v| !ks.contains(v)),
            (_, None) => false,
            (Test::Eq(k), Some(v)) => v == k,
            (Test::Lt(k), Some(v)) => v < k,
            (Test::Lte(k), Some(v)) => v <= k,
            (Test::Gt(k), Some(v)) => v > k,
            (Test::Gte(k), Some(v)) => v >= k,
            (Test::Between(lo, hi), Some(v)) => lo <= v && v <= hi,
            (Test::In(ks), Some(v)) => ks.contains(v),
        }
    }
}

#[derive(Debug, Clone)]
struct Sort {
    property: String,
    kind: PropertyKind,
    descending: bool,
}

/// A parsed search request body.
#[derive(Debug, Clone)]
struct SearchRequest {
    /// ORed groups of ANDed filters; none matches every record.
    groups: Vec<Vec<Filter>>,
    sort: Option<Sort>,
    properties: Option<Vec<String>>,
    limit: usize,
    after: usize,
    query: Option<String>,
}

/// HubSpot's 400 for a request it cannot run: category `VALIDATION_ERROR`, with the offending
/// input named in `errors[].in`.
fn validation_error(message: &str, input: &str) -> Response {
    let body = json!({
        "status": "error",
        "message": message,
        "correlationId": uuid::Uuid::now_v7().to_string(),
        "category": "VALIDATION_ERROR",
        "errors": [{"message": message, "in": input}],
    });
    json_response(StatusCode::BAD_REQUEST, &body)
}

/// A search request HubSpot would refuse: why, and which input (`errors[].in`).
#[derive(Debug)]
struct Invalid {
    message: String,
    input: &'static str,
}

impl Invalid {
    fn new(message: impl Into<String>, input: &'static str) -> Self {
        Self {
            message: message.into(),
            input,
        }
    }

    fn response(&self) -> Response {
        validation_error(&self.message, self.input)
    }
}

/// A whole number given as a JSON number or a string of digits (HubSpot's SDKs send either).
fn whole_number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if s.trim().is_empty() => Some(0),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn parse_filter(raw: &Value) -> Result<Filter, Invalid> {
    let property = raw
        .get("propertyName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Invalid::new("filter is missing `propertyName`", "filterGroups"))?
        .to_owned();
    let operator = raw
        .get("operator")
        .and_then(Value::as_str)
        .ok_or_else(|| Invalid::new("filter is missing `operator`", "filterGroups"))?;
    let kind = property_kind(&property);
    let one = |field: &str| -> Result<SearchKey, Invalid> {
        let value = raw.get(field).unwrap_or(&Value::Null);
        operand(kind, value).ok_or_else(|| {
            Invalid::new(
                format!(
                    "Invalid value `{value}` for `{field}` of the {operator} filter on property `{property}`"
                ),
                "filterGroups",
            )
        })
    };
    let many = || -> Result<Vec<SearchKey>, Invalid> {
        let Some(values) = raw.get("values").and_then(Value::as_array) else {
            return Err(Invalid::new(
                format!("The {operator} filter on property `{property}` needs a `values` array"),
                "filterGroups",
            ));
        };
        values
            .iter()
            .map(|v| {
                operand(kind, v).ok_or_else(|| {
                    Invalid::new(
                        format!("Invalid value `{v}` in `values` of the {operator} filter on property `{property}`"),
                        "filterGroups",
                    )
                })
            })
            .collect()
    };
    let test = match operator {
        "EQ" => Test::Eq(one("value")?),
        "NEQ" => Test::Neq(one("value")?),
        "LT" => Test::Lt(one("value")?),
        "LTE" => Test::Lte(one("value")?),
        "GT" => Test::Gt(one("value")?),
        "GTE" => Test::Gte(one("value")?),
        "BETWEEN" => Test::Between(one("value")?, one("highValue")?),
        "IN" => Test::In(many()?),
        "NOT_IN" => Test::NotIn(many()?),
        "HAS_PROPERTY" => Test::Has,
        "NOT_HAS_PROPERTY" => Test::NotHas,
        other => {
            return Err(Invalid::new(
                format!("Unsupported filter operator `{other}`"),
                "filterGroups",
            ));
        }
    };
    Ok(Filter {
        property,
        kind,
        test,
    })
}

fn parse_search(body: &[u8]) -> Result<SearchRequest, Invalid> {
    let body: Value = serde_json::from_slice(body).map_err(|e| {
        Invalid::new(
            format!(
                "Invalid input JSON on line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
            "body",
        )
    })?;
    let Value::Object(body) = body else {
        return Err(Invalid::new(
            "Invalid input JSON: the body must be an object",
            "body",
        ));
    };
    let mut groups = Vec::new();
    let mut filters = 0;
    if let Some(raw_groups) = body.get("filterGroups").filter(|v| !v.is_null()) {
        let Some(raw_groups) = raw_groups.as_array() else {
            return Err(Invalid::new(
                "`filterGroups` must be an array",
                "filterGroups",
            ));
        };
        if raw_groups.len() > SEARCH_MAX_FILTER_GROUPS {
            return Err(Invalid::new(
                format!(
                    "Too many filter groups: {} (at most {SEARCH_MAX_FILTER_GROUPS})",
                    raw_groups.len()
                ),
                "filterGroups",
            ));
        }
        for group in raw_groups {
            let raw_filters = group
                .get("filters")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            if raw_filters.len() > SEARCH_MAX_FILTERS_PER_GROUP {
                return Err(Invalid::new(
                    format!(
                        "Too many filters in a group: {} (at most {SEARCH_MAX_FILTERS_PER_GROUP})",
                        raw_filters.len()
                    ),
                    "filterGroups",
                ));
            }
            filters += raw_filters.len();
            groups.push(
                raw_filters
                    .iter()
                    .map(parse_filter)
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        if filters > SEARCH_MAX_FILTERS {
            return Err(Invalid::new(
                format!("Too many filters: {filters} (at most {SEARCH_MAX_FILTERS})"),
                "filterGroups",
            ));
        }
    }
    let sort = match body
        .get("sorts")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        None | Some([]) => None,
        Some([one]) => {
            let (property, direction) = match one {
                // The short form: `"-createdate"` sorts descending.
                Value::String(s) => match s.strip_prefix('-') {
                    Some(p) => (p.to_owned(), "DESCENDING".to_owned()),
                    None => (s.clone(), "ASCENDING".to_owned()),
                },
                _ => (
                    one.get("propertyName")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    one.get("direction")
                        .and_then(Value::as_str)
                        .unwrap_or("ASCENDING")
                        .to_ascii_uppercase(),
                ),
            };
            if property.is_empty() {
                return Err(Invalid::new("sort is missing `propertyName`", "sorts"));
            }
            let descending = match direction.as_str() {
                "ASCENDING" => false,
                "DESCENDING" => true,
                other => {
                    return Err(Invalid::new(
                        format!("Invalid sort direction `{other}` (ASCENDING or DESCENDING)"),
                        "sorts",
                    ));
                }
            };
            Some(Sort {
                kind: property_kind(&property),
                property,
                descending,
            })
        }
        Some(many) => {
            return Err(Invalid::new(
                format!("Only one sort is supported, got {}", many.len()),
                "sorts",
            ));
        }
    };
    let properties = body
        .get("properties")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        });
    let limit = match body.get("limit").filter(|v| !v.is_null()) {
        None => 10,
        Some(v) => match whole_number(v) {
            Some(n) if (1..=SEARCH_MAX_LIMIT as i64).contains(&n) => n as usize,
            _ => {
                return Err(Invalid::new(
                    format!("limit must be between 1 and {SEARCH_MAX_LIMIT}, got {v}"),
                    "limit",
                ));
            }
        },
    };
    let after = match body.get("after").filter(|v| !v.is_null()) {
        None => 0,
        Some(v) => match whole_number(v) {
            Some(n) if n >= 0 => n as usize,
            _ => {
                return Err(Invalid::new(
                    format!("Invalid paging cursor `after`: {v}"),
                    "after",
                ));
            }
        },
    };
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    Ok(SearchRequest {
        groups,
        sort,
        properties,
        limit,
        after,
        query,
    })
}

impl MockState {
    /// The record's id as a number (the generator's ids are numeric).
    fn numeric_id(&self, object: HubspotObject, i: usize) -> u64 {
        self.ids[slot(object)][i]
    }

    /// The index of the record with `id`, if the mock serves one.
    fn index_of(&self, object: HubspotObject, id: &str) -> Option<usize> {
        let n: u64 = id.trim().parse().ok()?;
        self.ids[slot(object)].binary_search(&n).ok()
    }

    /// A property of a live record as search sees it, changes by the `mutate` knob included.
    fn search_key(
        &self,
        object: HubspotObject,
        i: usize,
        property: &str,
        kind: PropertyKind,
    ) -> Option<SearchKey> {
        // The properties every incremental reader filters and sorts on, without rendering.
        if property == object.modified_property() {
            return Some(ms_key(self.created_updated(object, i).1));
        }
        match property {
            "createdate" => Some(ms_key(self.created_updated(object, i).0)),
            "hs_object_id" => Some(SearchKey::Number(self.numeric_id(object, i).into())),
            _ => self
                .properties(object, i)
                .into_iter()
                .find(|(name, _)| *name == property)
                .and_then(|(_, value)| value)
                .and_then(|v| stored_key(kind, &v)),
        }
    }

    /// Whether the free-text `query` occurs in one of the object's default searchable
    /// properties.
    fn matches_query(&self, object: HubspotObject, i: usize, query: &str) -> bool {
        let searchable: &[&str] = match object {
            HubspotObject::Companies => &["name", "domain"],
            HubspotObject::Contacts => &["firstname", "lastname", "email"],
            HubspotObject::Deals => &["dealname"],
        };
        self.properties(object, i)
            .into_iter()
            .filter(|(name, _)| searchable.contains(name))
            .filter_map(|(_, v)| v)
            .any(|v| v.to_lowercase().contains(query))
    }

    /// Indices of the live records matching `req`, in the order the search serves them.
    fn search(&self, object: HubspotObject, req: &SearchRequest) -> Vec<usize> {
        let mut matches: Vec<usize> = (0..self.len(object))
            .filter(|&i| self.archived_at(object, i).is_none())
            .filter(|&i| {
                req.query
                    .as_deref()
                    .is_none_or(|q| self.matches_query(object, i, q))
            })
            .filter(|&i| {
                req.groups.is_empty()
                    || req.groups.iter().any(|group| {
                        group.iter().all(|f| {
                            f.passes(self.search_key(object, i, &f.property, f.kind).as_ref())
                        })
                    })
            })
            .collect();
        let Some(sort) = &req.sort else {
            // Without a sort, results come in id order.
            return matches;
        };
        // Ties come in an order HubSpot does not promise; the mock uses a seeded shuffle, so
        // that a reader relying on ties being in id order fails here rather than in production.
        let seed = self.company.seed;
        let mut keyed: Vec<(Option<SearchKey>, u64, usize)> = matches
            .drain(..)
            .map(|i| {
                (
                    self.search_key(object, i, &sort.property, sort.kind),
                    faults::draw(seed, "search-ties", &[self.numeric_id(object, i)]),
                    i,
                )
            })
            .collect();
        keyed.sort_by(|a, b| {
            let by_key = match (&a.0, &b.0) {
                (Some(x), Some(y)) if sort.descending => y.cmp(x),
                (Some(x), Some(y)) => x.cmp(y),
                // Records without the property come last either way.
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            by_key.then(a.1.cmp(&b.1))
        });
        keyed.into_iter().map(|(_, _, i)| i).collect()
    }
}

/// `POST /crm/v3/objects/{objectType}/search`. Search responses carry no rate-limit headers.
async fn search_objects(
    State(state): State<Arc<MockState>>,
    Path(object_type): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    search_page(&state, &object_type, &body)
}

fn search_page(state: &MockState, object_type: &str, body: &[u8]) -> Response {
    let Some(object) = HubspotObject::parse(object_type) else {
        return error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to infer object type from: {object_type}"),
        );
    };
    let req = match parse_search(body) {
        Ok(req) => req,
        Err(invalid) => return invalid.response(),
    };
    let cap = state.config.search_result_cap;
    if req.after >= cap {
        // HubSpot's search index serves at most this many results per query, however it is
        // paged: a reader must narrow the query instead.
        return validation_error(
            &format!(
                "There was a problem with the request: search results are limited to {cap}; \
                 `after` must be below {cap}, got {}",
                req.after
            ),
            "after",
        );
    }
    let matches = state.search(object, &req);
    let total = matches.len();
    let start = req.after.min(total);
    let end = (req.after + req.limit).min(total).min(cap);
    let page = &matches[start..end];
    let mut next = (end < total).then_some(end);
    // `duplicates`: the next offset points back at this page's last record.
    if let (Some(n), Some(&last)) = (next, page.last())
        && state.faults.repeat_last(
            &format!("{}?search", object.as_str()),
            state.id(object, last),
            page.len(),
            true,
        )
    {
        next = Some(n - 1);
    }
    let results: Vec<Value> = page
        .iter()
        .map(|&i| state.render(object, i, &req.properties, &[]))
        .collect();
    // `mutate`: records on this page and the next change after it is served, as records do
    // while an incremental sync pages through them. The key is the request itself, so the
    // same request replays the same changes.
    let upcoming: Vec<usize> = next
        .map(|n| matches[n..(n + req.limit).min(total)].to_vec())
        .unwrap_or_default();
    state.faults.mutate_around_page(
        object.as_str(),
        &format!("search:{}", String::from_utf8_lossy(body)),
        page,
        &upcoming,
    );
    let mut response = Map::new();
    response.insert("total".into(), json!(total));
    response.insert("results".into(), Value::Array(results));
    if let Some(n) = next {
        response.insert("paging".into(), json!({"next": {"after": n.to_string()}}));
    }
    json_response(StatusCode::OK, &Value::Object(response))
}

// ---------------------------------------------------------------------------------------------
// Associations v4 batch read: `POST /crm/v4/associations/{fromType}/{toType}/batch/read`
// ---------------------------------------------------------------------------------------------

/// The association types HubSpot defines between two objects: `(typeId, label)`, the primary
/// (labelled `Primary`) first where one exists. Ids as commonly documented (vendor-apis.md §2).
fn association_types(
    from: HubspotObject,
    to: HubspotObject,
) -> &'static [(u32, Option<&'static str>)] {
    use HubspotObject as O;
    match (from, to) {
        (O::Contacts, O::Companies) => &[(1, Some("Primary")), (279, None)],
        (O::Deals, O::Companies) => &[(5, Some("Primary")), (341, None)],
        (O::Companies, O::Contacts) => &[(280, None)],
        (O::Companies, O::Deals) => &[(342, None)],
        (O::Deals, O::Contacts) => &[(3, None)],
        (O::Contacts, O::Deals) => &[(4, None)],
        _ => &[],
    }
}

/// User-defined deal→contact labels: `(deal→contact typeId, contact→deal typeId, label)`.
/// HubSpot gives each direction of a paired label its own type id.
const DEAL_CONTACT_LABELS: [(u32, u32, &str); 3] = [
    (16, 17, PRIMARY_CONTACT_LABEL),
    (18, 19, CONTACT_ROLE_LABELS[0]),
    (20, 21, CONTACT_ROLE_LABELS[1]),
];

impl MockState {
    /// The live records of `to` associated with record `i` of `from`, each with its
    /// association types as the v4 API lists them. A deal's contacts carry the portal's
    /// labels by rank: the first is labelled [`PRIMARY_CONTACT_LABEL`] and
    /// `CONTACT_ROLE_LABELS[0]`, the second `CONTACT_ROLE_LABELS[1]`, the third nothing but
    /// HubSpot's unlabeled type.
    fn edges(&self, from: HubspotObject, i: usize, to: HubspotObject) -> Vec<(&str, Vec<Value>)> {
        use HubspotObject as O;
        let defined = |types: &[(u32, Option<&str>)]| -> Vec<Value> {
            types
                .iter()
                .map(|(id, label)| json!({"category": "HUBSPOT_DEFINED", "typeId": id, "label": label}))
                .collect()
        };
        let labelled = |rank: usize, forward: bool| -> Vec<Value> {
            let mut types = defined(association_types(from, to));
            let user = |(there, back, label): (u32, u32, &str)| json!({"category": "USER_DEFINED", "typeId": if forward { there } else { back }, "label": label});
            match rank {
                0 => types.extend([user(DEAL_CONTACT_LABELS[0]), user(DEAL_CONTACT_LABELS[1])]),
                1 => types.push(user(DEAL_CONTACT_LABELS[2])),
                _ => {}
            }
            types
        };
        let co = &self.company;
        match (from, to) {
            (O::Deals, O::Contacts) => self.deal_contacts[i]
                .iter()
                .enumerate()
                .filter(|&(_, &j)| self.archived_at(O::Contacts, j).is_none())
                .map(|(rank, &j)| (co.contacts[j].id.as_str(), labelled(rank, true)))
                .collect(),
            (O::Contacts, O::Deals) => self.contact_deals[i]
                .iter()
                .filter(|&&d| self.archived_at(O::Deals, d).is_none())
                .map(|&d| {
                    let rank = self.deal_contacts[d]
                        .iter()
                        .position(|&j| j == i)
                        .unwrap_or(usize::MAX);
                    (co.deals[d].id.as_str(), labelled(rank, false))
                })
                .collect(),
            _ => {
                let types = defined(association_types(from, to));
                if types.is_empty() {
                    return Vec::new();
                }
                self.associated(from, i, to)
                    .into_iter()
                    .map(|id| (id, types.clone()))
                    .collect()
            }
        }
    }
}

/// `POST /crm/v4/associations/{fromType}/{toType}/batch/read` with `{"inputs":[{"id":"512"}]}`:
/// each input's associated records with their association types. Inputs without any (or
/// unknown, or archived) are listed under `errors` with HubSpot's `NO_ASSOCIATIONS_FOUND`, and
/// the status is then 207 Multi-Status.
async fn batch_read_associations(
    State(state): State<Arc<MockState>>,
    Path((from_type, to_type)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let rate_headers = state.rate_headers(false);
    let mut response = associations_page(&state, &from_type, &to_type, &body);
    response.headers_mut().extend(rate_headers);
    response
}

fn associations_page(state: &MockState, from_type: &str, to_type: &str, body: &[u8]) -> Response {
    let (Some(from), Some(to)) = (
        HubspotObject::parse(from_type),
        HubspotObject::parse(to_type),
    ) else {
        return error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to infer object types from: {from_type}, {to_type}"),
        );
    };
    let inputs: Vec<String> = match serde_json::from_slice::<Value>(body) {
        Ok(v) => match v.get("inputs").and_then(Value::as_array) {
            Some(inputs) => inputs
                .iter()
                .filter_map(|i| match i.get("id") {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            None => return validation_error("the body needs an `inputs` array", "inputs"),
        },
        Err(e) => {
            return validation_error(
                &format!(
                    "Invalid input JSON on line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ),
                "body",
            );
        }
    };
    if inputs.len() > ASSOCIATIONS_BATCH_MAX {
        return validation_error(
            &format!(
                "Too many inputs: {} (at most {ASSOCIATIONS_BATCH_MAX})",
                inputs.len()
            ),
            "inputs",
        );
    }
    let started = timestamp(Utc::now());
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for id in inputs {
        let associated: Vec<(&str, Vec<Value>)> = state
            .index_of(from, &id)
            .filter(|&i| state.archived_at(from, i).is_none())
            .map(|i| state.edges(from, i, to))
            .unwrap_or_default();
        if associated.is_empty() {
            errors.push(json!({
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "message": format!("No {} is associated with {} {id}.", to.singular(), from.singular()),
                "context": {"fromObjectId": [id]},
            }));
            continue;
        }
        let to_list: Vec<Value> = associated
            .into_iter()
            .map(|(to_id, types)| {
                let number: Value = to_id
                    .parse::<u64>()
                    .map_or_else(|_| Value::String(to_id.to_owned()), Value::from);
                json!({"toObjectId": number, "associationTypes": types})
            })
            .collect();
        results.push(json!({"from": {"id": id}, "to": to_list}));
    }
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": timestamp(Utc::now()),
    });
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        body["numErrors"] = json!(errors.len());
        body["errors"] = Value::Array(errors);
        StatusCode::MULTI_STATUS
    };
    json_response(status, &body)
}

// ---------------------------------------------------------------------------------------------
// Pipelines (`GET /crm/v3/pipelines/deals`) and property definitions
// (`GET /crm/v3/properties/{objectType}`)
// ---------------------------------------------------------------------------------------------

/// One stage of a deal pipeline as the mock serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineStage {
    /// The stage id deals carry in `dealstage`: a name in the default pipeline, a number in
    /// custom ones.
    pub id: &'static str,
    /// The label shown in HubSpot.
    pub label: &'static str,
    /// `metadata.isClosed`.
    pub closed: bool,
    /// `metadata.probability`, `"0.0"` to `"1.0"`.
    pub probability: &'static str,
}

/// One deal pipeline as the mock serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pipeline {
    /// `default`, or a number for a custom pipeline.
    pub id: &'static str,
    /// The label shown in HubSpot.
    pub label: &'static str,
    /// Its stages, in display order.
    pub stages: &'static [PipelineStage],
}

/// HubSpot's default sales pipeline, with its standard stage ids and probabilities.
pub const DEFAULT_PIPELINE: Pipeline = Pipeline {
    id: "default",
    label: "Sales Pipeline",
    stages: &[
        PipelineStage {
            id: "appointmentscheduled",
            label: "Appointment Scheduled",
            closed: false,
            probability: "0.2",
        },
        PipelineStage {
            id: "qualifiedtobuy",
            label: "Qualified To Buy",
            closed: false,
            probability: "0.4",
        },
        PipelineStage {
            id: "presentationscheduled",
            label: "Presentation Scheduled",
            closed: false,
            probability: "0.6",
        },
        PipelineStage {
            id: "decisionmakerboughtin",
            label: "Decision Maker Bought-In",
            closed: false,
            probability: "0.8",
        },
        PipelineStage {
            id: "contractsent",
            label: "Contract Sent",
            closed: false,
            probability: "0.9",
        },
        PipelineStage {
            id: "closedwon",
            label: "Closed Won",
            closed: true,
            probability: "1.0",
        },
        PipelineStage {
            id: "closedlost",
            label: "Closed Lost",
            closed: true,
            probability: "0.0",
        },
    ],
};

/// The portal's custom renewals pipeline. Like every custom pipeline its id and stage ids are
/// numbers, so `dealstage == "closedwon"` does not find its won deals: only the pipeline's
/// stage metadata (closed, probability 1.0) or the calculated `hs_is_closed_won` does.
pub const RENEWALS_PIPELINE: Pipeline = Pipeline {
    id: "1487",
    label: "Renewals",
    stages: &[
        PipelineStage {
            id: "4811301",
            label: "Renewal Due",
            closed: false,
            probability: "0.3",
        },
        PipelineStage {
            id: "4811302",
            label: "Quote Sent",
            closed: false,
            probability: "0.6",
        },
        PipelineStage {
            id: "4811303",
            label: "Contract Out",
            closed: false,
            probability: "0.9",
        },
        PipelineStage {
            id: "4811304",
            label: "Renewed",
            closed: true,
            probability: "1.0",
        },
        PipelineStage {
            id: "4811305",
            label: "Not Renewed",
            closed: true,
            probability: "0.0",
        },
    ],
};

/// Every pipeline of the simulated portal, in display order.
pub const PIPELINES: [Pipeline; 2] = [DEFAULT_PIPELINE, RENEWALS_PIPELINE];

/// The pipeline a deal is in: renewals (at the same, more or fewer seats) are worked in the
/// custom [`RENEWALS_PIPELINE`], new business and mid-term add-ons in the default one.
pub fn deal_pipeline(d: &SimDeal) -> &'static Pipeline {
    match d.motion {
        DealMotion::Renewal | DealMotion::Expansion | DealMotion::Contraction => &RENEWALS_PIPELINE,
        DealMotion::NewBusiness | DealMotion::AddOn => &DEFAULT_PIPELINE,
    }
}

/// The stage a deal is in, in its pipeline ([`deal_pipeline`]).
pub fn deal_stage(d: &SimDeal) -> &'static PipelineStage {
    let pipeline = deal_pipeline(d);
    let index = if pipeline.id == DEFAULT_PIPELINE.id {
        match d.stage {
            DealStage::AppointmentScheduled => 0,
            DealStage::QualifiedToBuy => 1,
            DealStage::PresentationScheduled => 2,
            DealStage::DecisionMakerBoughtIn => 3,
            DealStage::ContractSent => 4,
            DealStage::ClosedWon => 5,
            DealStage::ClosedLost => 6,
        }
    } else {
        match d.stage {
            DealStage::AppointmentScheduled | DealStage::QualifiedToBuy => 0,
            DealStage::PresentationScheduled | DealStage::DecisionMakerBoughtIn => 1,
            DealStage::ContractSent => 2,
            DealStage::ClosedWon => 3,
            DealStage::ClosedLost => 4,
        }
    };
    &pipeline.stages[index]
}

/// The portal's custom deal property saying what a deal does to the contract (HubSpot's own
/// `dealtype` only knows `newbusiness` and `existingbusiness`, which cannot tell a renewal from
/// an expansion).
pub const DEAL_MOTION_PROPERTY: &str = "deal_motion";

/// The [`DEAL_MOTION_PROPERTY`] value of a motion (the property's enumeration options).
pub fn deal_motion(motion: DealMotion) -> &'static str {
    match motion {
        DealMotion::NewBusiness => "new_business",
        DealMotion::Renewal => "renewal",
        DealMotion::Expansion => "expansion",
        DealMotion::Contraction => "contraction",
        DealMotion::AddOn => "add_on",
    }
}

/// When the simulated portal's pipelines and custom properties were set up.
const SCHEMA_CREATED_AT: &str = "2019-01-07T09:00:00.000Z";

fn pipeline_json(p: &Pipeline, display_order: usize) -> Value {
    let stages: Vec<Value> = p
        .stages
        .iter()
        .enumerate()
        .map(|(k, s)| {
            json!({
                "id": s.id,
                "label": s.label,
                "displayOrder": k,
                "metadata": {"isClosed": s.closed.to_string(), "probability": s.probability},
                "createdAt": SCHEMA_CREATED_AT,
                "updatedAt": SCHEMA_CREATED_AT,
                "archived": false,
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
            })
        })
        .collect();
    json!({
        "id": p.id,
        "label": p.label,
        "displayOrder": display_order,
        "stages": stages,
        "createdAt": SCHEMA_CREATED_AT,
        "updatedAt": SCHEMA_CREATED_AT,
        "archived": false,
    })
}

/// `GET /crm/v3/pipelines/{objectType}`: the deal pipelines with their stages (`metadata`
/// values are strings, as HubSpot sends them). Other objects have none here.
async fn list_pipelines(
    State(state): State<Arc<MockState>>,
    Path(object_type): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let rate_headers = state.rate_headers(false);
    let mut response = match HubspotObject::parse(&object_type) {
        Some(HubspotObject::Deals) => {
            let results: Vec<Value> = PIPELINES
                .iter()
                .enumerate()
                .map(|(k, p)| pipeline_json(p, k))
                .collect();
            json_response(StatusCode::OK, &json!({ "results": results }))
        }
        Some(_) => json_response(StatusCode::OK, &json!({"results": []})),
        None => error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to infer object type from: {object_type}"),
        ),
    };
    response.headers_mut().extend(rate_headers);
    response
}

/// `(name, label, type, fieldType, options, hubspot_defined)` of every property the mock
/// serves for `object`.
type PropertyDef = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Vec<(String, String)>,
    bool,
);

fn property_definitions(object: HubspotObject, multi_currency: bool) -> Vec<PropertyDef> {
    let opts = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
            .collect()
    };
    let boolean = || opts(&[("true", "Yes"), ("false", "No")]);
    let text = |name, label| (name, label, "string", "text", Vec::new(), true);
    let number = |name, label| (name, label, "number", "number", Vec::new(), true);
    let datetime = |name, label| (name, label, "datetime", "date", Vec::new(), true);
    let common = |modified: &'static str| {
        vec![
            datetime("createdate", "Create Date"),
            datetime(modified, "Last Modified Date"),
            number("hs_object_id", "Record ID"),
            (
                "hubspot_owner_id",
                "Owner",
                "enumeration",
                "select",
                Vec::new(),
                true,
            ),
        ]
    };
    let mut defs = match object {
        HubspotObject::Companies => vec![
            text("name", "Company name"),
            text("domain", "Company Domain Name"),
            text("industry", "Industry"),
            text("city", "City"),
            text("country", "Country/Region"),
            number("numberofemployees", "Number of Employees"),
            text("lifecyclestage", "Lifecycle Stage"),
            ("segment", "Segment", "string", "text", Vec::new(), false),
            ("region", "Region", "string", "text", Vec::new(), false),
            ("seats", "Seats", "number", "number", Vec::new(), false),
        ],
        HubspotObject::Contacts => vec![
            text("firstname", "First Name"),
            text("lastname", "Last Name"),
            text("email", "Email"),
            text("jobtitle", "Job Title"),
            ("role", "Role", "string", "text", Vec::new(), false),
            text("lifecyclestage", "Lifecycle Stage"),
            number("associatedcompanyid", "Primary Associated Company ID"),
        ],
        HubspotObject::Deals => {
            let stages: Vec<(String, String)> = PIPELINES
                .iter()
                .flat_map(|p| p.stages.iter())
                .map(|s| (s.id.to_owned(), s.label.to_owned()))
                .collect();
            let pipelines: Vec<(String, String)> = PIPELINES
                .iter()
                .map(|p| (p.id.to_owned(), p.label.to_owned()))
                .collect();
            let mut deals = vec![
                text("dealname", "Deal Name"),
                number("amount", "Amount"),
                (
                    "dealstage",
                    "Deal Stage",
                    "enumeration",
                    "radio",
                    stages,
                    true,
                ),
                (
                    "pipeline",
                    "Pipeline",
                    "enumeration",
                    "select",
                    pipelines,
                    true,
                ),
                datetime("closedate", "Close Date"),
                (
                    "dealtype",
                    "Deal Type",
                    "enumeration",
                    "radio",
                    opts(&[
                        ("newbusiness", "New Business"),
                        ("existingbusiness", "Existing Business"),
                    ]),
                    true,
                ),
                (
                    DEAL_MOTION_PROPERTY,
                    "Deal Motion",
                    "enumeration",
                    "select",
                    opts(&[
                        ("new_business", "New business"),
                        ("renewal", "Renewal"),
                        ("expansion", "Expansion"),
                        ("contraction", "Contraction"),
                        ("add_on", "Add-on"),
                    ]),
                    false,
                ),
                (
                    "hs_is_closed_won",
                    "Is Closed Won",
                    "bool",
                    "booleancheckbox",
                    boolean(),
                    true,
                ),
                (
                    "hs_is_closed",
                    "Is Deal Closed?",
                    "bool",
                    "booleancheckbox",
                    boolean(),
                    true,
                ),
                number("hs_deal_stage_probability", "Deal Stage Probability"),
                (
                    "term_months",
                    "Term (months)",
                    "number",
                    "number",
                    Vec::new(),
                    false,
                ),
            ];
            if multi_currency {
                deals.push((
                    "deal_currency_code",
                    "Currency",
                    "enumeration",
                    "select",
                    opts(&[
                        ("EUR", "Euro"),
                        ("GBP", "British Pound"),
                        ("USD", "US Dollar"),
                    ]),
                    true,
                ));
            }
            deals
        }
    };
    defs.extend(common(object.modified_property()));
    defs
}

/// `GET /crm/v3/properties/{objectType}`: the definitions of every property the object has,
/// HubSpot's and the portal's custom ones (`name`, `label`, `type`, `fieldType`, `options`,
/// `groupName`, `hubspotDefined`…).
async fn list_properties(
    State(state): State<Arc<MockState>>,
    Path(object_type): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let rate_headers = state.rate_headers(false);
    let Some(object) = HubspotObject::parse(&object_type) else {
        return error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("Unable to infer object type from: {object_type}"),
        );
    };
    let group = format!("{}information", object.singular());
    let results: Vec<Value> = property_definitions(object, state.config.multi_currency)
        .into_iter()
        .enumerate()
        .map(
            |(k, (name, label, kind, field_type, options, hubspot_defined))| {
                let options: Vec<Value> = options
                .into_iter()
                .enumerate()
                .map(|(n, (value, label))| {
                    json!({"label": label, "value": value, "displayOrder": n, "hidden": false})
                })
                .collect();
                let mut p = json!({
                    "name": name,
                    "label": label,
                    "type": kind,
                    "fieldType": field_type,
                    "description": "",
                    "groupName": group,
                    "options": options,
                    "displayOrder": k,
                    "calculated": name.starts_with("hs_is_"),
                    "externalOptions": false,
                    "hasUniqueValue": name == "hs_object_id",
                    "hidden": false,
                    "formField": !hubspot_defined,
                    "createdAt": SCHEMA_CREATED_AT,
                    "updatedAt": SCHEMA_CREATED_AT,
                    "archived": false,
                });
                if hubspot_defined {
                    p["hubspotDefined"] = Value::Bool(true);
                }
                p
            },
        )
        .collect();
    let mut response = json_response(StatusCode::OK, &json!({ "results": results }));
    response.headers_mut().extend(rate_headers);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MockServer, Probability, Schedule, SimConfig};
    use std::collections::BTreeSet;

    async fn serve(accounts: usize, faults: Faults) -> (Arc<Company>, MockServer) {
        let (company, _, server) = serve_mock(accounts, faults).await;
        (company, server)
    }

    /// The mock with a handle on its fault counters.
    async fn serve_mock(
        accounts: usize,
        faults: Faults,
    ) -> (Arc<Company>, HubspotMock, MockServer) {
        let company = Arc::new(Company::generate(&SimConfig {
            accounts,
            ..SimConfig::default()
        }));
        let mock = HubspotMock::new(company.clone(), HubspotMockConfig::with_faults(faults));
        let server = MockServer::start(mock.router()).await.unwrap();
        (company, mock, server)
    }

    /// `GET` returning the raw body, for responses that are not JSON.
    async fn get_raw(
        server: &MockServer,
        path_and_query: &str,
        token: Option<&str>,
    ) -> (u16, HeaderMap, String) {
        let client = reqwest::Client::new();
        let mut req = client.get(format!("{}{path_and_query}", server.base_url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.text().await.unwrap())
    }

    /// Walks every page of a list with `token`, returning the ids on each page.
    async fn page_ids(server: &MockServer, object: &str, query: &str) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        for page in walk_pages(server, object, query).await {
            pages.push(
                page.iter()
                    .map(|r| r["id"].as_str().unwrap().to_owned())
                    .collect(),
            );
        }
        pages
    }

    /// Walks every page of a list, returning the records of each page.
    async fn walk_pages(server: &MockServer, object: &str, query: &str) -> Vec<Vec<Value>> {
        let mut pages = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut q = format!("/crm/v3/objects/{object}?{query}");
            if let Some(a) = &after {
                q.push_str(&format!("&after={a}"));
            }
            let (status, _, body) = get(server, &q, Some(DEFAULT_ACCESS_TOKEN)).await;
            assert_eq!(status, 200, "{body}");
            pages.push(body["results"].as_array().unwrap().clone());
            match body["paging"]["next"]["after"].as_str() {
                Some(a) => after = Some(a.to_owned()),
                None => return pages,
            }
            assert!(pages.len() < 10_000, "paging never ends");
        }
    }

    async fn post_token(server: &MockServer, form: &[(&str, &str)]) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}{TOKEN_PATH}", server.base_url))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    fn refresh_form(config: &HubspotMockConfig) -> Vec<(&'static str, String)> {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("client_id", config.client_id.clone()),
            ("client_secret", config.client_secret.clone()),
            ("redirect_uri", "http://localhost/callback".to_owned()),
            ("refresh_token", config.refresh_token.clone()),
        ]
    }

    async fn refresh(server: &MockServer, config: &HubspotMockConfig) -> (u16, Value) {
        let form = refresh_form(config);
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post_token(server, &pairs).await
    }

    async fn get(
        server: &MockServer,
        path_and_query: &str,
        token: Option<&str>,
    ) -> (u16, HeaderMap, Value) {
        let client = reqwest::Client::new();
        let mut req = client.get(format!("{}{path_and_query}", server.base_url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body: Value = resp.json().await.unwrap();
        (status, headers, body)
    }

    /// Walks every page of a list, returning all records.
    async fn walk(server: &MockServer, object: &str, query: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut q = format!("/crm/v3/objects/{object}?{query}");
            if let Some(a) = &after {
                q.push_str(&format!("&after={a}"));
            }
            let (status, _, body) = get(server, &q, Some(DEFAULT_ACCESS_TOKEN)).await;
            assert_eq!(status, 200, "{body}");
            all.extend(body["results"].as_array().unwrap().iter().cloned());
            match body["paging"]["next"]["after"].as_str() {
                Some(a) => after = Some(a.to_owned()),
                None => {
                    assert!(body.get("paging").is_none(), "no paging on the last page");
                    return all;
                }
            }
        }
    }

    #[tokio::test]
    async fn paging_walks_every_record_exactly_once() {
        let (company, server) = serve(40, Faults::default()).await;
        for (object, expected) in [
            (
                "companies",
                company
                    .accounts
                    .iter()
                    .map(|a| a.id.clone())
                    .collect::<Vec<_>>(),
            ),
            (
                "contacts",
                company.contacts.iter().map(|c| c.id.clone()).collect(),
            ),
            ("0-3", company.deals.iter().map(|d| d.id.clone()).collect()),
        ] {
            let records = walk(&server, object, "limit=7").await;
            let got: Vec<String> = records
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(got, expected, "{object}");
            for r in &records {
                assert_eq!(r["archived"], false);
                assert_eq!(r["properties"]["hs_object_id"], r["id"]);
                for (_, v) in r["properties"].as_object().unwrap() {
                    assert!(v.is_string() || v.is_null(), "{v}");
                }
            }
        }
        // Nothing is archived in the first cut.
        let (_, _, body) = get(
            &server,
            "/crm/v3/objects/deals?archived=true",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(body, json!({"results": []}));
    }

    #[tokio::test]
    async fn limit_defaults_to_ten_clamps_at_100_and_links_follow() {
        let (_company, server) = serve(40, Faults::default()).await;
        let (_, headers, body) = get(
            &server,
            "/crm/v3/objects/contacts",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(body["results"].as_array().unwrap().len(), 10);
        assert_eq!(headers["x-hubspot-ratelimit-max"], "190");
        assert_eq!(
            headers["x-hubspot-ratelimit-interval-milliseconds"],
            "10000"
        );
        assert!(headers.contains_key("x-hubspot-ratelimit-remaining"));
        let props = body["results"][0]["properties"].as_object().unwrap();
        let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "createdate",
                "email",
                "firstname",
                "hs_object_id",
                "lastmodifieddate",
                "lastname"
            ]
        );
        let (_, _, big) = get(
            &server,
            "/crm/v3/objects/contacts?limit=500",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(big["results"].as_array().unwrap().len(), 100);
        let link = body["paging"]["next"]["link"].as_str().unwrap();
        assert!(link.starts_with(&server.base_url), "{link}");
        let client = reqwest::Client::new();
        let next: Value = client
            .get(link)
            .bearer_auth(DEFAULT_ACCESS_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(next["results"][0]["id"], body["paging"]["next"]["after"]);
    }

    #[tokio::test]
    async fn properties_and_associations_are_served_as_requested() {
        let (company, server) = serve(10, Faults::default()).await;
        let (_, _, body) = get(
            &server,
            "/crm/v3/objects/deals?limit=100&properties=amount,dealstage,term_months,nosuch&properties=deal_currency_code&associations=companies",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        let first = &body["results"][0];
        let mut keys: Vec<&str> = first["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "amount",
                "createdate",
                "deal_currency_code",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "term_months"
            ]
        );
        let deal = &company.deals[0];
        let account = &company.accounts[deal.account];
        assert_eq!(
            first["associations"]["companies"]["results"][0],
            json!({"id": account.id, "type": "deal_to_company"})
        );
        let (_, _, companies) = get(
            &server,
            "/crm/v3/objects/companies?limit=1&properties=segment,seats,region&associations=contacts",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        let c = &companies["results"][0];
        assert_eq!(
            c["properties"]["segment"],
            company.accounts[0].segment.as_str()
        );
        let contacts = c["associations"]["contacts"]["results"].as_array().unwrap();
        assert_eq!(
            contacts.len(),
            company.contacts.iter().filter(|x| x.account == 0).count()
        );
        assert_eq!(contacts[0]["type"], "company_to_contact");
    }

    #[tokio::test]
    async fn auth_errors_have_hubspots_body() {
        let (_company, server) = serve(5, Faults::default()).await;
        for token in [None, Some("pat-na1-wrong")] {
            let (status, _, body) = get(&server, "/crm/v3/objects/companies", token).await;
            assert_eq!(status, 401);
            assert_eq!(body["status"], "error");
            assert_eq!(body["category"], "INVALID_AUTHENTICATION");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("Authentication credentials not found")
            );
            let id = body["correlationId"].as_str().unwrap();
            assert!(uuid::Uuid::parse_str(id).is_ok());
        }
        let (status, _, body) = get(
            &server,
            "/crm/v3/objects/widgets",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(body["category"], "OBJECT_NOT_FOUND");
        let (status, _, body) = get(
            &server,
            "/crm/v3/objects/deals?after=zzz",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["category"], "VALIDATION_ERROR");
    }

    #[tokio::test]
    async fn malformed_knob_serves_exactly_n_bad_records_per_object() {
        let faults = Faults::none().with_malformed_records(3);
        let (company, server) = serve(30, faults.clone()).await;
        let chosen = malformed_ids(&company, &faults);
        assert_eq!(
            (
                chosen.companies.len(),
                chosen.contacts.len(),
                chosen.deals.len()
            ),
            (3, 3, 3)
        );
        assert_eq!(chosen, malformed_ids(&company, &faults), "deterministic");

        let bad_ids = |records: &[Value], bad: &dyn Fn(&Value) -> bool| -> Vec<String> {
            records
                .iter()
                .filter(|r| bad(&r["properties"]))
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let companies = walk(&server, "companies", "limit=100").await;
        assert_eq!(bad_ids(&companies, &|p| p["name"] == ""), chosen.companies);
        let contacts = walk(&server, "contacts", "limit=100").await;
        assert_eq!(
            bad_ids(&contacts, &|p| p["email"] == MALFORMED_EMAIL
                && p["firstname"].is_null()
                && p["lastname"].is_null()),
            chosen.contacts
        );
        let deals = walk(
            &server,
            "deals",
            "limit=100&properties=amount,hs_is_closed_won",
        )
        .await;
        let bad = bad_ids(&deals, &|p| {
            p["amount"]
                .as_str()
                .is_some_and(|a| a.parse::<rust_decimal::Decimal>().is_err())
        });
        assert_eq!(bad, chosen.deals);
        for r in deals
            .iter()
            .filter(|r| bad.contains(&r["id"].as_str().unwrap().to_owned()))
        {
            assert_eq!(r["properties"]["hs_is_closed_won"], "true");
        }
    }

    #[test]
    fn credential_hint_names_the_private_app_token_and_the_oauth_client() {
        let mock = HubspotMock::new(
            Arc::new(Company::generate(&SimConfig {
                accounts: 1,
                ..SimConfig::default()
            })),
            HubspotMockConfig::default(),
        );
        assert_eq!(VendorMock::vendor(&mock), "hubspot");
        assert_eq!(
            VendorMock::credential_hint(&mock),
            "access_token=pat-na1-sim-0000 client_id=sim-hubspot-client-0000 \
             client_secret=sim-hubspot-secret-0000 refresh_token=na1-sim-refresh-0000 \
             token_path=/oauth/v1/token"
        );
    }

    #[tokio::test]
    async fn rate_limit_knob_answers_the_scheduled_requests_with_hubspots_429() {
        let faults = Faults::none()
            .with_rate_limit(Schedule::requests(3..=5))
            .with_retry_after_secs(1);
        let (_company, mock, server) = serve_mock(10, faults).await;
        let path = "/crm/v3/objects/companies?limit=2";
        for n in 1..=6u64 {
            let (status, headers, body) = get(&server, path, Some(DEFAULT_ACCESS_TOKEN)).await;
            if (3..=5).contains(&n) {
                assert_eq!(status, 429, "request {n}");
                assert_eq!(headers["retry-after"], "1");
                assert_eq!(headers["x-hubspot-ratelimit-remaining"], "0");
                assert_eq!(headers["x-hubspot-ratelimit-max"], "190");
                assert_eq!(body["status"], "error");
                assert_eq!(
                    body["message"],
                    "You have reached your ten_secondly_rolling limit."
                );
                assert_eq!(body["errorType"], "RATE_LIMIT");
                assert_eq!(body["policyName"], "TEN_SECONDLY_ROLLING");
                for id in ["correlationId", "requestId"] {
                    assert!(uuid::Uuid::parse_str(body[id].as_str().unwrap()).is_ok());
                }
            } else {
                assert_eq!(status, 200, "request {n}: {body}");
                assert!(headers.get("retry-after").is_none());
                assert_eq!(body["results"].as_array().unwrap().len(), 2);
            }
        }
        let stats = mock.stats();
        assert_eq!((stats.requests, stats.rate_limited), (6, 3));
    }

    #[tokio::test]
    async fn server_errors_knob_sends_a_burst_of_500_502_503() {
        let faults = Faults::none().with_server_errors(Schedule::burst(3, 2));
        let (_company, mock, server) = serve_mock(10, faults).await;
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(get_raw(&server, "/crm/v3/objects/deals", Some(DEFAULT_ACCESS_TOKEN)).await);
        }
        let statuses: Vec<u16> = got.iter().map(|g| g.0).collect();
        assert_eq!(statuses, [200, 502, 503, 500, 200]);
        // HubSpot's own 500 is JSON; the 502 and 503 come from its edge as HTML.
        let body: Value = serde_json::from_str(&got[3].2).unwrap();
        assert_eq!(body["status"], "error");
        assert_eq!(body["category"], "INTERNAL_ERROR");
        for (i, text) in [(1, "502 Bad Gateway"), (2, "503 Service Unavailable")] {
            assert_eq!(got[i].1[header::CONTENT_TYPE], "text/html");
            assert!(got[i].2.contains(text), "{}", got[i].2);
        }
        assert!(serde_json::from_str::<Value>(&got[4].2).is_ok());
        assert_eq!(mock.stats().server_errors, 3);
    }

    #[tokio::test]
    async fn truncate_knob_cuts_successful_pages_short() {
        let faults = Faults::none().with_truncate(Schedule::requests(1..=2));
        let (_company, mock, server) = serve_mock(20, faults).await;
        let path = "/crm/v3/objects/contacts?limit=10&associations=companies";
        // Request 1 is scheduled but fails authentication: its 401 stays whole.
        let (status, _, body) = get_raw(&server, path, None).await;
        assert_eq!(status, 401);
        assert!(serde_json::from_str::<Value>(&body).is_ok(), "{body}");
        let (status, headers, cut) = get_raw(&server, path, Some(DEFAULT_ACCESS_TOKEN)).await;
        assert_eq!(status, 200);
        assert!(headers.contains_key("x-hubspot-ratelimit-remaining"));
        let (status, _, whole) = get_raw(&server, path, Some(DEFAULT_ACCESS_TOKEN)).await;
        assert_eq!(status, 200);
        assert!(serde_json::from_str::<Value>(&whole).is_ok());
        assert!(cut.len() < whole.len() && whole.starts_with(&cut), "{cut}");
        let err = serde_json::from_str::<Value>(&cut).unwrap_err();
        assert!(
            err.is_eof(),
            "a client sees a body that ends too early: {err}"
        );
        assert_eq!(mock.stats().truncated, 1);
    }

    #[tokio::test]
    async fn slow_knob_delays_every_page() {
        let (_company, mock, server) = serve_mock(5, Faults::none().with_slow_ms(200)).await;
        for _ in 0..2 {
            let started = Instant::now();
            let (status, _, _) = get(
                &server,
                "/crm/v3/objects/companies",
                Some(DEFAULT_ACCESS_TOKEN),
            )
            .await;
            assert_eq!(status, 200);
            assert!(started.elapsed() >= Duration::from_millis(200));
        }
        assert_eq!(mock.stats().slowed, 2);
    }

    #[tokio::test]
    async fn oauth_tokens_expire_mid_pagination_and_a_refresh_issues_a_working_one() {
        let (company, mock, server) =
            serve_mock(30, Faults::none().with_token_ttl_requests(3)).await;
        let config = mock.config().clone();

        // Bad requests get the token endpoint's 400 bodies.
        for (field, value, status) in [
            ("client_id", "nope", "BAD_CLIENT_ID"),
            ("client_secret", "nope", "BAD_CLIENT_SECRET"),
            ("refresh_token", "nope", "BAD_REFRESH_TOKEN"),
            ("grant_type", "authorization_code", "BAD_GRANT_TYPE"),
        ] {
            let mut form = refresh_form(&config);
            for (k, v) in &mut form {
                if *k == field {
                    *v = value.to_owned();
                }
            }
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (code, body) = post_token(&server, &pairs).await;
            assert_eq!(
                (code, body["status"].as_str()),
                (400, Some(status)),
                "{body}"
            );
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .contains(if field == "grant_type" {
                        "grant_type"
                    } else {
                        field.split('_').next_back().unwrap()
                    })
            );
        }
        assert_eq!(mock.stats().tokens_issued, 0);

        let (code, body) = refresh(&server, &config).await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["refresh_token"], config.refresh_token.as_str());
        assert_eq!(body["expires_in"], OAUTH_TOKEN_LIFETIME_SECS);
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert!(token.starts_with(OAUTH_TOKEN_PREFIX), "{token}");

        // Three pages with it, then the fourth request, mid-pagination, is refused.
        let mut ids = Vec::new();
        let mut after = String::new();
        let page = |after: &str| format!("/crm/v3/objects/companies?limit=5&after={after}");
        for _ in 0..3 {
            let (status, _, body) = get(&server, &page(&after), Some(&token)).await;
            assert_eq!(status, 200, "{body}");
            for r in body["results"].as_array().unwrap() {
                ids.push(r["id"].as_str().unwrap().to_owned());
            }
            after = body["paging"]["next"]["after"].as_str().unwrap().to_owned();
        }
        let (status, _, body) = get(&server, &page(&after), Some(&token)).await;
        assert_eq!(status, 401);
        assert_eq!(body["status"], "error");
        assert_eq!(body["category"], "EXPIRED_AUTHENTICATION");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with("The OAuth token used to make this call expired ")
                && message.ends_with(" second(s) ago."),
            "{message}"
        );
        let expire_time = body["context"]["expire time"][0].as_str().unwrap();
        assert!(
            expire_time.parse::<DateTime<Utc>>().is_ok(),
            "{expire_time}"
        );
        // Still refused, and the private-app token is unaffected.
        let (status, _, _) = get(&server, &page(&after), Some(&token)).await;
        assert_eq!(status, 401);
        let (status, _, _) = get(&server, &page(&after), Some(DEFAULT_ACCESS_TOKEN)).await;
        assert_eq!(status, 200);

        // A refreshed token resumes where the expired one stopped: 3 more pages, the last.
        let (code, body) = refresh(&server, &config).await;
        assert_eq!(code, 200);
        assert_eq!(body["refresh_token"], config.refresh_token.as_str());
        let fresh = body["access_token"].as_str().unwrap().to_owned();
        assert_ne!(fresh, token);
        loop {
            let (status, _, body) = get(&server, &page(&after), Some(&fresh)).await;
            assert_eq!(status, 200, "{body}");
            for r in body["results"].as_array().unwrap() {
                ids.push(r["id"].as_str().unwrap().to_owned());
            }
            match body["paging"]["next"]["after"].as_str() {
                Some(a) => after = a.to_owned(),
                None => break,
            }
        }
        let all: Vec<String> = company.accounts.iter().map(|a| a.id.clone()).collect();
        assert_eq!(ids, all);
        let stats = mock.stats();
        assert_eq!((stats.tokens_issued, stats.expired_tokens), (2, 2));

        // A token the mock never issued is invalid, not expired.
        let (status, _, body) = get(
            &server,
            "/crm/v3/objects/companies",
            Some(&format!("{OAUTH_TOKEN_PREFIX}0123")),
        )
        .await;
        assert_eq!(
            (status, body["category"].as_str()),
            (401, Some("INVALID_AUTHENTICATION"))
        );
    }

    #[tokio::test]
    async fn oauth_tokens_expire_after_token_ttl_secs() {
        let (_company, mock, server) = serve_mock(5, Faults::none().with_token_ttl_secs(1)).await;
        let (code, body) = refresh(&server, mock.config()).await;
        assert_eq!(code, 200);
        assert_eq!(body["expires_in"], 1);
        let token = body["access_token"].as_str().unwrap().to_owned();
        let path = "/crm/v3/objects/deals";
        let (status, _, _) = get(&server, path, Some(&token)).await;
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let (status, _, body) = get(&server, path, Some(&token)).await;
        assert_eq!(
            (status, body["category"].as_str()),
            (401, Some("EXPIRED_AUTHENTICATION"))
        );
        assert_eq!(mock.stats().expired_tokens, 1);
    }

    #[tokio::test]
    async fn duplicates_knob_repeats_records_on_consecutive_pages() {
        let faults = Faults::none().with_duplicates(Probability::new(0.5));
        let (company, mock, server) = serve_mock(40, faults.clone()).await;
        let pages = page_ids(&server, "companies", "limit=6").await;
        let repeated = pages
            .windows(2)
            .filter(|w| w[0].last().is_some() && w[0].last() == w[1].first())
            .count();
        assert!(repeated > 0, "{pages:?}");
        assert_eq!(repeated as u64, mock.stats().duplicated);
        // Every record is still served, in order; a repeat is the only extra.
        let mut flat: Vec<String> = pages.concat();
        assert_eq!(flat.len(), company.accounts.len() + repeated);
        flat.dedup();
        let all: Vec<String> = company.accounts.iter().map(|a| a.id.clone()).collect();
        assert_eq!(flat, all);
        // The same seed replays the same pages.
        let (_, _, again) = serve_mock(40, faults).await;
        assert_eq!(page_ids(&again, "companies", "limit=6").await, pages);
        // Off, no record repeats.
        let (_, _, clean) = serve_mock(40, Faults::none()).await;
        assert_eq!(page_ids(&clean, "companies", "limit=6").await.concat(), all);
    }

    #[tokio::test]
    async fn mutate_knob_changes_records_while_a_sync_pages_through_them() {
        let faults = Faults::none().with_mutate(Probability::new(0.1));
        let (company, mock, server) = serve_mock(40, faults.clone()).await;
        let query = "limit=7&properties=numberofemployees";
        let updated_at = |r: &Value| -> DateTime<Utc> {
            assert_eq!(r["updatedAt"], r["properties"]["hs_lastmodifieddate"]);
            r["updatedAt"].as_str().unwrap().parse().unwrap()
        };
        let employees = |r: &Value| -> u64 {
            r["properties"]["numberofemployees"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        };
        let newest_generated = company.accounts.iter().map(|a| a.updated_at).max().unwrap();

        let pages = walk_pages(&server, "companies", query).await;
        let records: Vec<&Value> = pages.iter().flatten().collect();
        let ids: Vec<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let all: Vec<&str> = company.accounts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, all, "still one pass: every record once, in order");
        for r in &pages[0] {
            let a = &company.accounts[all.iter().position(|id| *id == r["id"]).unwrap()];
            assert_eq!(
                updated_at(r),
                a.updated_at,
                "the first page is served as generated"
            );
        }
        let mut changed_mid_sync = 0;
        for (r, a) in records.iter().zip(&company.accounts) {
            if updated_at(r) > a.updated_at {
                changed_mid_sync += 1;
                assert!(
                    updated_at(r) > newest_generated,
                    "newer than anything generated"
                );
                assert!(
                    employees(r) > u64::from(a.employees),
                    "and a property changed"
                );
            } else {
                assert_eq!(updated_at(r), a.updated_at);
                assert_eq!(employees(r), u64::from(a.employees));
            }
        }
        assert!(
            changed_mid_sync > 0,
            "a later page shows a record changed after the start"
        );
        assert!(mock.stats().mutated >= changed_mid_sync as u64);

        // The next pass sees every change made so far, also those made after a record's page
        // had been served.
        let before: Vec<Option<Revision>> = (0..company.accounts.len())
            .map(|i| mock.faults().revision("companies", i))
            .collect();
        assert!(before.iter().flatten().count() > changed_mid_sync);
        let second = walk_pages(&server, "companies", query).await.concat();
        for ((r, a), rev) in second.iter().zip(&company.accounts).zip(&before) {
            match rev {
                Some(rev) => {
                    assert!(updated_at(r) >= rev.updated_at);
                    assert!(employees(r) >= u64::from(a.employees) + u64::from(rev.number));
                }
                None => assert!(updated_at(r) >= a.updated_at),
            }
        }

        // Contacts and deals change their own property; the same seed replays exactly.
        let contacts = walk_pages(&server, "contacts", "limit=20&properties=jobtitle")
            .await
            .concat();
        let revised: Vec<&Value> = contacts
            .iter()
            .filter(|r| {
                r["properties"]["jobtitle"]
                    .as_str()
                    .unwrap()
                    .contains(" (rev ")
            })
            .collect();
        assert!(!revised.is_empty());
        for r in revised {
            assert_eq!(r["updatedAt"], r["properties"]["lastmodifieddate"]);
            assert!(
                r["updatedAt"]
                    .as_str()
                    .unwrap()
                    .parse::<DateTime<Utc>>()
                    .unwrap()
                    > newest_generated
            );
        }
        let (_, _, again) = serve_mock(40, faults).await;
        assert_eq!(walk_pages(&again, "companies", query).await, pages);
    }

    /// `POST` a search (or any JSON body) with the private-app token.
    async fn post_json(server: &MockServer, path: &str, body: &Value) -> (u16, HeaderMap, Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}{path}", server.base_url))
            .bearer_auth(DEFAULT_ACCESS_TOKEN)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.json().await.unwrap())
    }

    async fn search(server: &MockServer, object: &str, body: &Value) -> (u16, HeaderMap, Value) {
        post_json(server, &format!("/crm/v3/objects/{object}/search"), body).await
    }

    /// Pages a search to its end with `after`, returning every record and the `total` of each
    /// page.
    async fn search_all(server: &MockServer, object: &str, body: &Value) -> (Vec<Value>, Vec<u64>) {
        let mut records = Vec::new();
        let mut totals = Vec::new();
        let mut body = body.clone();
        loop {
            let (status, _, page) = search(server, object, &body).await;
            assert_eq!(status, 200, "{page}");
            totals.push(page["total"].as_u64().unwrap());
            records.extend(page["results"].as_array().unwrap().iter().cloned());
            match page["paging"]["next"]["after"].as_str() {
                Some(after) => body["after"] = json!(after),
                None => {
                    assert!(page.get("paging").is_none());
                    return (records, totals);
                }
            }
        }
    }

    fn ms(t: DateTime<Utc>) -> i64 {
        t.timestamp_millis()
    }

    fn modified(r: &Value, property: &str) -> i64 {
        ms(r["properties"][property].as_str().unwrap().parse().unwrap())
    }

    fn ids_of(records: &[Value]) -> Vec<String> {
        records
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn search_filters_sorts_pages_and_counts_on_the_modified_date() {
        let (company, server) = serve(40, Faults::default()).await;
        let mut times: Vec<i64> = company.accounts.iter().map(|a| ms(a.updated_at)).collect();
        times.sort_unstable();
        let median = times[times.len() / 2];
        let expected = |keep: &dyn Fn(i64) -> bool| -> Vec<String> {
            let mut v: Vec<(i64, u64)> = company
                .accounts
                .iter()
                .filter(|a| keep(ms(a.updated_at)))
                .map(|a| (ms(a.updated_at), a.id.parse().unwrap()))
                .collect();
            v.sort_unstable();
            v.into_iter().map(|(_, id)| id.to_string()).collect()
        };
        let sorted_set = |mut v: Vec<String>| {
            v.sort_unstable();
            v
        };

        // GTE, as an epoch-millisecond string, sorted ascending, paged by offset.
        let body = json!({
            "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": median.to_string()}]}],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["name", "numberofemployees"],
            "limit": 7,
        });
        let (status, headers, first) = search(&server, "companies", &body).await;
        assert_eq!(status, 200, "{first}");
        assert!(
            headers
                .keys()
                .all(|k| !k.as_str().starts_with("x-hubspot-ratelimit")),
            "search responses carry no rate-limit headers: {headers:?}"
        );
        assert_eq!(
            first["paging"],
            json!({"next": {"after": "7"}}),
            "a numeric offset, no link"
        );
        let props = first["results"][0]["properties"].as_object().unwrap();
        let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
                "name",
                "numberofemployees"
            ]
        );
        assert!(first["results"][0].get("associations").is_none());
        let (records, totals) = search_all(&server, "companies", &body).await;
        let want = expected(&|t| t >= median);
        assert!(totals.iter().all(|&t| t == want.len() as u64), "{totals:?}");
        let got_times: Vec<i64> = records
            .iter()
            .map(|r| modified(r, "hs_lastmodifieddate"))
            .collect();
        assert!(
            got_times.windows(2).all(|w| w[0] <= w[1]),
            "ascending: {got_times:?}"
        );
        assert_eq!(sorted_set(ids_of(&records)), sorted_set(want.clone()));

        // The same window in every other spelling: a number, ISO 8601, LT/LTE/GT/BETWEEN/EQ.
        let iso = |t: i64| timestamp(DateTime::from_timestamp_millis(t).unwrap());
        type Keep<'a> = Box<dyn Fn(i64) -> bool + 'a>;
        let cases: Vec<(Value, Keep<'_>)> = vec![
            (
                json!({"operator": "GTE", "value": median}),
                Box::new(move |t| t >= median),
            ),
            (
                json!({"operator": "GT", "value": iso(median)}),
                Box::new(move |t| t > median),
            ),
            (
                json!({"operator": "LT", "value": median.to_string()}),
                Box::new(move |t| t < median),
            ),
            (
                json!({"operator": "LTE", "value": iso(median)}),
                Box::new(move |t| t <= median),
            ),
            (
                json!({"operator": "EQ", "value": median.to_string()}),
                Box::new(move |t| t == median),
            ),
            (
                json!({"operator": "BETWEEN", "value": times[5].to_string(), "highValue": iso(times[20])}),
                Box::new(|t| times[5] <= t && t <= times[20]),
            ),
        ];
        for (filter, keep) in cases {
            let mut f = filter.clone();
            f["propertyName"] = json!("hs_lastmodifieddate");
            let body = json!({
                "filterGroups": [{"filters": [f]}],
                "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}],
                "limit": 200,
            });
            let (status, _, page) = search(&server, "companies", &body).await;
            assert_eq!(status, 200, "{filter}: {page}");
            let want = expected(&keep);
            assert!(!want.is_empty(), "{filter}");
            assert_eq!(page["total"], json!(want.len()), "{filter}");
            assert!(page.get("paging").is_none());
            let results = page["results"].as_array().unwrap();
            let t: Vec<i64> = results
                .iter()
                .map(|r| modified(r, "hs_lastmodifieddate"))
                .collect();
            assert!(t.windows(2).all(|w| w[0] >= w[1]), "descending: {filter}");
            assert_eq!(sorted_set(ids_of(results)), sorted_set(want), "{filter}");
        }

        // Contacts filter on `lastmodifieddate`; `hs_lastmodifieddate` matches none of them.
        let contact_median = {
            let mut t: Vec<i64> = company.contacts.iter().map(|c| ms(c.updated_at)).collect();
            t.sort_unstable();
            t[t.len() / 2]
        };
        let on = |property: &str| {
            json!({
                "filterGroups": [{"filters": [{"propertyName": property, "operator": "GTE", "value": contact_median}]}],
                "sorts": [{"propertyName": property, "direction": "ASCENDING"}],
                "limit": 200,
            })
        };
        let (records, _) = search_all(&server, "contacts", &on("lastmodifieddate")).await;
        let want = company
            .contacts
            .iter()
            .filter(|c| ms(c.updated_at) >= contact_median)
            .count();
        assert_eq!(records.len(), want);
        assert!(
            records
                .iter()
                .all(|r| modified(r, "lastmodifieddate") >= contact_median)
        );
        let (_, _, none) = search(&server, "contacts", &on("hs_lastmodifieddate")).await;
        assert_eq!(none["total"], 0);

        // hs_object_id: EQ, GT + sort by id descending, IN; groups are ORed.
        let ids: Vec<&str> = company.accounts.iter().map(|a| a.id.as_str()).collect();
        let body = json!({
            "filterGroups": [
                {"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": ids[3]}]},
                {"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": ids[36]}]},
                {"filters": [{"propertyName": "hs_object_id", "operator": "IN", "values": [ids[0], ids[1]]}]},
            ],
            "sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}],
            "limit": 10,
        });
        let (status, _, page) = search(&server, "companies", &body).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            ids_of(page["results"].as_array().unwrap()),
            [ids[39], ids[38], ids[37], ids[3], ids[1], ids[0]]
        );
        // Filters in a group are ANDed: an id window by GTE + LT.
        let body = json!({
            "filterGroups": [{"filters": [
                {"propertyName": "hs_object_id", "operator": "GTE", "value": ids[10]},
                {"propertyName": "hs_object_id", "operator": "LT", "value": ids[14]},
            ]}],
            "limit": 10,
        });
        let (_, _, page) = search(&server, "companies", &body).await;
        assert_eq!(
            ids_of(page["results"].as_array().unwrap()),
            ids[10..14].to_vec()
        );
        // No filters: everything, in id order, 10 by default.
        let (_, _, page) = search(&server, "companies", &json!({})).await;
        assert_eq!(page["total"], 40);
        assert_eq!(
            ids_of(page["results"].as_array().unwrap()),
            ids[..10].to_vec()
        );
        // Free text over the default searchable properties.
        let name = &company.accounts[7].name;
        let (_, _, page) = search(
            &server,
            "companies",
            &json!({"query": name.to_uppercase(), "limit": 100}),
        )
        .await;
        assert!(ids_of(page["results"].as_array().unwrap()).contains(&company.accounts[7].id));
    }

    #[tokio::test]
    async fn search_never_returns_archived_records_and_breaks_ties_out_of_id_order() {
        let mut company = Company::generate(&SimConfig {
            accounts: 60,
            ..SimConfig::default()
        });
        let same = company.accounts[0].updated_at;
        for a in &mut company.accounts[..50] {
            a.updated_at = same;
        }
        company.accounts[2].archived_at = Some(same);
        let archived_id = company.accounts[2].id.clone();
        let company = Arc::new(company);
        let serve_it = || async {
            let mock = HubspotMock::new(company.clone(), HubspotMockConfig::default());
            MockServer::start(mock.router()).await.unwrap()
        };
        let server = serve_it().await;
        let body = json!({
            "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": ms(same)}]}],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "limit": 200,
        });
        let (_, _, page) = search(&server, "companies", &body).await;
        let got = ids_of(page["results"].as_array().unwrap());
        assert_eq!(page["total"], 49);
        assert!(!got.contains(&archived_id));
        let mut by_id = got.clone();
        by_id.sort_by_key(|id| id.parse::<u64>().unwrap());
        assert_ne!(got, by_id, "ties are not served in id order");
        let (_, _, again) = search(&serve_it().await, "companies", &body).await;
        assert_eq!(
            ids_of(again["results"].as_array().unwrap()),
            got,
            "but deterministically"
        );
    }

    #[tokio::test]
    async fn search_refuses_bad_requests_and_paging_past_the_cap() {
        let company = Arc::new(Company::generate(&SimConfig {
            accounts: 40,
            ..SimConfig::default()
        }));
        let default = MockServer::start(
            HubspotMock::new(company.clone(), HubspotMockConfig::default()).router(),
        )
        .await
        .unwrap();
        let assert_400 = |status: u16, body: &Value, input: &str| {
            assert_eq!(status, 400, "{body}");
            assert_eq!(body["status"], "error");
            assert_eq!(body["category"], "VALIDATION_ERROR", "{body}");
            assert_eq!(body["errors"][0]["in"], input, "{body}");
            assert!(uuid::Uuid::parse_str(body["correlationId"].as_str().unwrap()).is_ok());
        };

        // `limit` is at most 200.
        let (status, _, body) = search(&default, "deals", &json!({"limit": 201})).await;
        assert_400(status, &body, "limit");
        assert!(body["message"].as_str().unwrap().contains("200"), "{body}");
        for bad in [json!(0), json!("lots")] {
            let (status, _, body) = search(&default, "deals", &json!({"limit": bad})).await;
            assert_400(status, &body, "limit");
        }
        let (status, _, body) = search(&default, "deals", &json!({"limit": 200})).await;
        assert_eq!(status, 200, "{body}");

        // HubSpot's real cap: offsets up to 9,999 are served, 10,000 is refused, however few
        // records match.
        assert_eq!(SEARCH_RESULT_CAP, 10_000);
        let (status, _, body) = search(
            &default,
            "companies",
            &json!({"after": "9999", "limit": 100}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (
                body["total"].as_u64(),
                body["results"].as_array().map(Vec::len)
            ),
            (Some(40), Some(0))
        );
        for after in [json!("10000"), json!(10_000), json!("12000")] {
            let (status, _, body) = search(&default, "companies", &json!({"after": after})).await;
            assert_400(status, &body, "after");
        }
        let (status, _, body) = search(&default, "companies", &json!({"after": "x"})).await;
        assert_400(status, &body, "after");

        // A lowered cap: the page that reaches it is cut at the cap, its `next` points at the
        // cap, and following it is the 400 a reader that only pages gets (airbyte#26365).
        let capped = MockServer::start(
            HubspotMock::new(
                company.clone(),
                HubspotMockConfig {
                    search_result_cap: 25,
                    ..HubspotMockConfig::default()
                },
            )
            .router(),
        )
        .await
        .unwrap();
        let mut body = json!({
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "limit": 10,
        });
        let mut seen = 0;
        for (after, len, next) in [("0", 10, "10"), ("10", 10, "20"), ("20", 5, "25")] {
            body["after"] = json!(after);
            let (status, _, page) = search(&capped, "companies", &body).await;
            assert_eq!(status, 200, "{page}");
            assert_eq!(page["total"], 40, "total is the true count, not the cap");
            assert_eq!(page["results"].as_array().unwrap().len(), len);
            assert_eq!(page["paging"]["next"]["after"], next);
            seen += len;
        }
        assert_eq!(seen, 25);
        body["after"] = json!("25");
        let (status, _, page) = search(&capped, "companies", &body).await;
        assert_400(status, &page, "after");

        // Malformed requests.
        let bad_requests = [
            (
                json!({"sorts": [{"propertyName": "createdate"}, {"propertyName": "hs_object_id"}]}),
                "sorts",
            ),
            (
                json!({"sorts": [{"propertyName": "createdate", "direction": "UP"}]}),
                "sorts",
            ),
            (
                json!({"filterGroups": [{"filters": [{"propertyName": "createdate", "operator": "NEARLY", "value": "1"}]}]}),
                "filterGroups",
            ),
            (
                json!({"filterGroups": [{"filters": [{"propertyName": "createdate", "operator": "GTE", "value": "last tuesday"}]}]}),
                "filterGroups",
            ),
            (
                json!({"filterGroups": [{"filters": [{"propertyName": "createdate", "operator": "BETWEEN", "value": "1"}]}]}),
                "filterGroups",
            ),
            (
                json!({"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "IN", "value": "1"}]}]}),
                "filterGroups",
            ),
            (
                json!({"filterGroups": vec![json!({"filters": []}); 6]}),
                "filterGroups",
            ),
            (
                json!({"filterGroups": [{"filters": vec![json!({"propertyName": "hs_object_id", "operator": "HAS_PROPERTY"}); 11]}]}),
                "filterGroups",
            ),
            (
                json!({"filterGroups": vec![json!({"filters": vec![json!({"propertyName": "hs_object_id", "operator": "HAS_PROPERTY"}); 9]}); 3]}),
                "filterGroups",
            ),
            (json!([1, 2]), "body"),
        ];
        for (request, input) in bad_requests {
            let (status, _, body) = search(&default, "deals", &request).await;
            assert_400(status, &body, input);
        }
        let resp = reqwest::Client::new()
            .post(format!("{}/crm/v3/objects/deals/search", default.base_url))
            .bearer_auth(DEFAULT_ACCESS_TOKEN)
            .body("{\"limit\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid input JSON"),
            "{body}"
        );

        // Auth and unknown objects as on the list endpoint.
        let resp = reqwest::Client::new()
            .post(format!("{}/crm/v3/objects/deals/search", default.base_url))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        let (status, _, body) = search(&default, "widgets", &json!({})).await;
        assert_eq!(
            (status, body["category"].as_str()),
            (404, Some("OBJECT_NOT_FOUND"))
        );
    }

    #[tokio::test]
    async fn search_sees_records_changed_mid_sync_and_shares_the_fault_layer() {
        let faults = Faults::none()
            .with_mutate(Probability::new(0.2))
            .with_rate_limit(Schedule::requests(2..=2))
            .with_retry_after_secs(0);
        let (company, mock, server) = serve_mock(40, faults).await;
        let newest_generated = company
            .accounts
            .iter()
            .map(|a| ms(a.updated_at))
            .max()
            .unwrap();
        let body = json!({
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["numberofemployees"],
            "limit": 10,
        });
        let (status, _, first) = search(&server, "companies", &body).await;
        assert_eq!(status, 200);
        let (status, _, throttled) = search(&server, "companies", &body).await;
        assert_eq!(
            (status, throttled["errorType"].as_str()),
            (429, Some("RATE_LIMIT"))
        );
        assert!(
            mock.stats().mutated > 0,
            "serving a search page changed records"
        );
        assert!(
            first["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| modified(r, "hs_lastmodifieddate") <= newest_generated)
        );

        // Exactly the changed records are newer than anything generated, and search finds them
        // by their new time, with the changed property.
        let changed: Vec<String> = (0..company.accounts.len())
            .filter(|&i| mock.faults().revision("companies", i).is_some())
            .map(|i| company.accounts[i].id.clone())
            .collect();
        let newer = json!({
            "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": newest_generated}]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": ["numberofemployees"],
            "limit": 200,
        });
        let before = mock.stats().mutated;
        let (_, _, page) = search(&server, "companies", &newer).await;
        let results = page["results"].as_array().unwrap();
        assert_eq!(ids_of(results), changed);
        for r in results {
            let i = company
                .accounts
                .iter()
                .position(|a| a.id == r["id"])
                .unwrap();
            let employees: u64 = r["properties"]["numberofemployees"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(employees > u64::from(company.accounts[i].employees));
            assert_eq!(r["updatedAt"], r["properties"]["hs_lastmodifieddate"]);
        }
        assert!(mock.stats().mutated >= before);
        assert_eq!(mock.stats().rate_limited, 1);
    }

    #[tokio::test]
    async fn associations_batch_read_lists_primary_and_unlabeled_types() {
        let mut company = Company::generate(&SimConfig {
            accounts: 10,
            ..SimConfig::default()
        });
        // A deal whose company was deleted has no associations left.
        let orphan_account = company.deals[0].account;
        company.accounts[orphan_account].archived_at =
            Some(company.accounts[orphan_account].updated_at);
        let company = Arc::new(company);
        let server = MockServer::start(
            HubspotMock::new(company.clone(), HubspotMockConfig::default()).router(),
        )
        .await
        .unwrap();
        let orphan = company
            .deals
            .iter()
            .find(|d| d.account == orphan_account)
            .unwrap()
            .id
            .clone();
        let linked = company
            .deals
            .iter()
            .find(|d| d.account != orphan_account)
            .unwrap();
        let inputs = json!({"inputs": [{"id": linked.id}, {"id": orphan}, {"id": "1"}]});
        let (status, headers, body) = post_json(
            &server,
            "/crm/v4/associations/deals/companies/batch/read",
            &inputs,
        )
        .await;
        assert_eq!(status, 207, "{body}");
        assert!(headers.contains_key("x-hubspot-ratelimit-remaining"));
        assert_eq!(body["status"], "COMPLETE");
        let account_id: u64 = company.accounts[linked.account].id.parse().unwrap();
        assert_eq!(
            body["results"],
            json!([{"from": {"id": linked.id}, "to": [{"toObjectId": account_id, "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"},
                {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": null},
            ]}]}])
        );
        assert_eq!(body["numErrors"], 2);
        let missing: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["subCategory"], "crm.associations.NO_ASSOCIATIONS_FOUND");
                e["context"]["fromObjectId"][0].as_str().unwrap()
            })
            .collect();
        assert_eq!(missing, [orphan.as_str(), "1"]);

        // Contacts: every input found, a plain 200; companies list their contacts.
        let contact = company
            .contacts
            .iter()
            .find(|c| c.account != orphan_account)
            .unwrap();
        let (status, _, body) = post_json(
            &server,
            "/crm/v4/associations/contacts/companies/batch/read",
            &json!({"inputs": [{"id": contact.id}]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none());
        assert_eq!(
            body["results"][0]["to"][0]["associationTypes"][0]["typeId"],
            1
        );
        let (status, _, body) = post_json(
            &server,
            "/crm/v4/associations/companies/contacts/batch/read",
            &json!({"inputs": [{"id": company.accounts[contact.account].id}]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let contacts: Vec<u64> = body["results"][0]["to"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["toObjectId"].as_u64().unwrap())
            .collect();
        assert!(contacts.contains(&contact.id.parse().unwrap()));

        let too_many = json!({"inputs": vec![json!({"id": "1"}); ASSOCIATIONS_BATCH_MAX + 1]});
        let (status, _, body) = post_json(
            &server,
            "/crm/v4/associations/deals/companies/batch/read",
            &too_many,
        )
        .await;
        assert_eq!(
            (status, body["category"].as_str()),
            (400, Some("VALIDATION_ERROR"))
        );
    }

    #[tokio::test]
    async fn pipelines_and_property_definitions_describe_the_portal() {
        let (company, server) = serve(40, Faults::default()).await;
        let (status, headers, body) = get(
            &server,
            "/crm/v3/pipelines/deals",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(headers.contains_key("x-hubspot-ratelimit-remaining"));
        let pipelines = body["results"].as_array().unwrap();
        assert_eq!(pipelines.len(), 2);
        assert_eq!(pipelines[0]["id"], "default");
        assert_eq!(pipelines[0]["stages"][5]["id"], "closedwon");
        assert_eq!(
            pipelines[0]["stages"][5]["metadata"],
            json!({"isClosed": "true", "probability": "1.0"})
        );
        assert_eq!(pipelines[1]["id"], RENEWALS_PIPELINE.id);
        assert_eq!(pipelines[1]["label"], "Renewals");
        let won: Vec<&str> = pipelines[1]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                s["metadata"]["isClosed"] == "true" && s["metadata"]["probability"] == "1.0"
            })
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(won, ["4811304"]);
        let (status, _, _) = get(&server, "/crm/v3/pipelines/deals", Some("nope")).await;
        assert_eq!(status, 401);

        // Renewal deals are in the custom pipeline, with numeric stage ids.
        let (_, _, deals) = get(
            &server,
            "/crm/v3/objects/deals?limit=100&properties=dealstage,pipeline,hs_is_closed_won,deal_motion,dealtype",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        let mut renewals_won = 0;
        for (d, raw) in company
            .deals
            .iter()
            .zip(deals["results"].as_array().unwrap())
        {
            let p = &raw["properties"];
            assert_eq!(p["pipeline"], deal_pipeline(d).id);
            assert_eq!(p["dealstage"], deal_stage(d).id);
            assert_eq!(p["deal_motion"], deal_motion(d.motion));
            assert_eq!(p["hs_is_closed_won"], d.stage.is_won().to_string());
            if d.stage.is_won() && p["pipeline"] == "1487" {
                renewals_won += 1;
                assert_eq!(p["dealstage"], "4811304");
            }
        }
        assert!(renewals_won > 0, "won deals in the custom pipeline");

        // Property definitions, custom ones included; no currency without multi-currency.
        let (status, _, body) = get(
            &server,
            "/crm/v3/properties/deals",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let names: Vec<&str> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for name in [
            "amount",
            "term_months",
            "deal_motion",
            "dealtype",
            "deal_currency_code",
        ] {
            assert!(names.contains(&name), "{name}: {names:?}");
        }
        let motion = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "deal_motion")
            .unwrap();
        assert_eq!(motion["type"], "enumeration");
        assert_eq!(motion["options"][1]["value"], "renewal");
        let single = MockServer::start(
            HubspotMock::new(
                company.clone(),
                HubspotMockConfig {
                    multi_currency: false,
                    ..HubspotMockConfig::default()
                },
            )
            .router(),
        )
        .await
        .unwrap();
        let (_, _, body) = get(
            &single,
            "/crm/v3/properties/deals",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert!(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["name"] != "deal_currency_code")
        );
        let (_, _, deals) = get(
            &single,
            "/crm/v3/objects/deals?limit=5&properties=amount,deal_currency_code",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert!(
            deals["results"][0]["properties"]
                .get("deal_currency_code")
                .is_none()
        );
        let (status, _, _) = get(
            &server,
            "/crm/v3/properties/widgets",
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn deals_have_one_to_three_labelled_contacts_of_their_company() {
        let (company, server) = serve(40, Faults::default()).await;
        let mock_state = HubspotMock::new(company.clone(), HubspotMockConfig::default());
        let chosen = &mock_state.state.deal_contacts;
        assert_eq!(chosen, &deal_contacts(&company), "deterministic");
        let mut sizes = BTreeSet::new();
        for (d, list) in company.deals.iter().zip(chosen) {
            sizes.insert(list.len());
            for &j in list {
                assert_eq!(company.contacts[j].account, d.account);
                assert!(company.contacts[j].created_at <= d.updated_at);
            }
        }
        assert!(sizes.contains(&1) && sizes.contains(&3), "{sizes:?}");
        assert!(sizes.iter().all(|&n| n <= 3));
        let (i, deal) = company
            .deals
            .iter()
            .enumerate()
            .find(|(i, _)| chosen[*i].len() >= 3)
            .unwrap();
        let (status, _, body) = post_json(
            &server,
            "/crm/v4/associations/deals/contacts/batch/read",
            &json!({"inputs": [{"id": deal.id}]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let to = body["results"][0]["to"].as_array().unwrap();
        let ids: Vec<u64> = to
            .iter()
            .map(|t| t["toObjectId"].as_u64().unwrap())
            .collect();
        let expected: Vec<u64> = chosen[i]
            .iter()
            .map(|&j| company.contacts[j].id.parse().unwrap())
            .collect();
        assert_eq!(ids, expected);
        let labels = |k: usize| -> Vec<Value> {
            to[k]["associationTypes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["label"].clone())
                .collect()
        };
        assert_eq!(
            labels(0),
            [
                json!(null),
                json!("Primary Contact"),
                json!("Decision Maker")
            ]
        );
        assert_eq!(labels(1), [json!(null), json!("Champion")]);
        assert_eq!(labels(2), [json!(null)]);
        assert_eq!(to[0]["associationTypes"][0]["typeId"], 3);
        assert_eq!(to[0]["associationTypes"][1]["category"], "USER_DEFINED");
        // And back: the contact lists the deal, with the paired label's own id.
        let first = &company.contacts[chosen[i][0]];
        let (_, _, body) = post_json(
            &server,
            "/crm/v4/associations/contacts/deals/batch/read",
            &json!({"inputs": [{"id": first.id}]}),
        )
        .await;
        let back = body["results"][0]["to"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["toObjectId"].as_u64() == Some(deal.id.parse().unwrap()))
            .unwrap();
        assert_eq!(back["associationTypes"][0]["typeId"], 4);
        assert_eq!(back["associationTypes"][1]["typeId"], 17);
        // The list endpoint names them too.
        let (_, _, list) = get(
            &server,
            &format!(
                "/crm/v3/objects/deals?limit=1&after={}&associations=contacts",
                deal.id
            ),
            Some(DEFAULT_ACCESS_TOKEN),
        )
        .await;
        assert_eq!(
            list["results"][0]["associations"]["contacts"]["results"][0],
            json!({"id": first.id, "type": "deal_to_contact"})
        );
    }
}
