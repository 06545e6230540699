//! A wire-faithful mock of HubSpot's CRM v3 object list and search endpoints, serving a
//! simulated [`Company`].
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

//!
//! # Layout
//!
//! The world → HubSpot translation lives in [`records`](crate) (every property of a company,
//! contact and deal, with HubSpot's names and formats), [`pipelines`](crate) (deal stages) and
//! [`properties`](crate) (property definitions): nothing outside this crate knows HubSpot's
//! field names, ids or enum values. The routes are `list`, `search` (with the request's
//! filters parsed in `search::filter`), `associations`, `pipelines` and `properties`; `auth`
//! holds HubSpot's error bodies, bearer checks and the OAuth token endpoint, on the shared
//! scaffolding of [`tributary_mock_kit`].
//!
//! What it must not do: depend on the HubSpot connector (it is written from HubSpot's
//! documentation, so that the connector passing against it means something), or be used by
//! library code paths (only tests, benches and the binary use it).

mod associations;
mod auth;
mod config;
mod list;
mod mock;
mod objects;
mod pipelines;
mod portal;
mod properties;
mod records;
mod search;
#[cfg(test)]
mod tests;

pub use config::{
    ASSOCIATIONS_BATCH_MAX, DEFAULT_ACCESS_TOKEN, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN, HubspotMockConfig, OAUTH_TOKEN_LIFETIME_SECS, OAUTH_TOKEN_PREFIX,
    RATE_LIMIT_DAILY, RATE_LIMIT_INTERVAL_MS, RATE_LIMIT_MAX, SEARCH_MAX_FILTER_GROUPS,
    SEARCH_MAX_FILTERS, SEARCH_MAX_FILTERS_PER_GROUP, SEARCH_MAX_LIMIT, SEARCH_RESULT_CAP,
    TOKEN_PATH,
};
pub use mock::{HubspotMock, revenue_mapping, router};
pub use objects::HubspotObject;
pub use pipelines::{
    DEAL_MOTION_PROPERTY, DEFAULT_PIPELINE, PIPELINES, Pipeline, PipelineStage, RENEWALS_PIPELINE,
    deal_motion, deal_pipeline, deal_stage,
};
pub use portal::{
    CONTACT_ROLE_LABELS, MALFORMED_AMOUNT, MALFORMED_EMAIL, MalformedIds, PRIMARY_CONTACT_LABEL,
    deal_contacts, malformed_ids,
};

// What every module of the mock shares: its own items and the crates it is built on.
#[allow(unused_imports)]
pub(crate) use {
    associations::*, auth::*, config::*, list::*, mock::*, objects::*, pipelines::*, portal::*,
    properties::*, records::*, search::*,
};
#[allow(unused_imports)]
pub(crate) use {
    axum::{
        Router,
        body::Bytes,
        extract::{Path, Query, State},
        http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
        response::{IntoResponse, Response},
        routing::{get, post},
    },
    chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc},
    rust_decimal::Decimal,
    serde_json::{Map, Value, json},
    std::{
        collections::{BTreeMap, HashMap, HashSet},
        str::FromStr,
        sync::{
            Arc, Mutex,
            atomic::{AtomicU64, Ordering},
        },
        time::{Duration, Instant},
    },
    tributary_mock_kit::{
        self as faults, FaultInjector, FaultStats, Faults, Revision, TokenCheck, VendorFaults,
        VendorMock,
    },
    tributary_sim::{Company, DealMotion, DealStage, Industry, SimContact, SimDeal},
};
