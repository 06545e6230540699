//! The mock's settings ([`SalesforceMockConfig`]), its default credentials and limits.

use crate::*;

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
