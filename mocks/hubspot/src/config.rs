//! The mock's settings ([`HubspotMockConfig`]), its default credentials and HubSpot's documented limits.

use crate::*;

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
