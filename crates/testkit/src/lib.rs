//! The connector conformance kit (SPEC §5, STYLE §2): the definition of done for a connector.
//!
//! A connector crate implements [`VendorUnderTest`] in one of its tests — how to start its
//! vendor's simulator mock, how to build the connector pointed at it, and which records the
//! simulated source holds — and calls [`conformance_suite!`], which generates one test per
//! check per storage backend (Quickwit's `metastore_test_suite!`), so that a failure names its
//! check and its backend (`conformance::postgres::fault_truncate`). Each test syncs through the
//! real engine into a fresh database and checks:
//!
//! | check | what must hold |
//! |---|---|
//! | `full_read` | a full refresh lands, per stream, exactly the live records of the source (ids compared with [`VendorUnderTest::expected`]) |
//! | `idempotent_rerun` | a second full refresh writes and deletes nothing and leaves the digest unchanged |
//! | `resume` | after a run cut off mid-stream, the cut streams have a saved state, the resuming run reads fewer records than a full one, and the content is the clean run's |
//! | `fault:<knob>` | the mock injected the knob's fault (its counter is above zero) and the content is the clean run's (429 storms, 5xx bursts, truncated bodies, slow pages, records repeated across pages, and all of them at once) |
//! | `token_expiry` | with access tokens expiring every few requests on top of every transient fault, tokens did expire and were re-issued, and the content is the clean run's (OAuth connectors) |
//! | `incremental` | after the source moves on, an incremental run reads at least what changed and at most that plus the overlap window, and ends with the content of a clean full refresh |
//!
//! "The content" is [`Store::content_digest`] plus the truth comparison: a fault check passes
//! only when both match, and the clean digest it is held to is itself checked against the
//! source. The kit depends on the simulator and the store; connector crates use it only as a
//! dev-dependency, so library code never does.

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use tributary_connector::{Connector, ConnectorError, DynKind, HttpClientConfig, SyncMode};
use tributary_mock_kit::{FaultStats, Faults, MockServer, Probability, Schedule, VendorMock};
use tributary_sim::{Company, SimConfig};
use tributary_store::Store;
use tributary_store::testing::TestDatabase;
use tributary_sync::{NoProgress, SyncEngine, SyncReport};

mod cutoff;
pub mod items;
mod suite;

pub use cutoff::CutOff;

/// A failed check.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// A check's expectation did not hold.
    #[error("conformance check `{check}` failed on {backend}: {message}")]
    Check {
        /// The check.
        check: String,
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// What went wrong.
        message: String,
    },
    /// Infrastructure failed (database, mock server).
    #[error("conformance kit could not run `{check}`: {message}")]
    Setup {
        /// The check.
        check: String,
        /// What went wrong.
        message: String,
    },
}

impl KitError {
    /// The check that failed or could not run.
    pub fn check(&self) -> &str {
        match self {
            KitError::Check { check, .. } | KitError::Setup { check, .. } => check,
        }
    }
}

/// What a full read of a source must land: per stream, the external id of every live record
/// and its version (its last-modified time), from which the `incremental` check tells changed
/// records from unchanged ones.
pub type Expected = BTreeMap<String, BTreeMap<String, DateTime<Utc>>>;

/// The HTTP client the kit's connectors get: production's retry policy (six retries, doubling
/// backoff, `Retry-After` honoured) with millisecond backoff, so that fault knobs that fail
/// many requests (every per-record request of a fan-out vendor under the 5xx and truncation
/// knobs) exercise the retries without the suites spending minutes asleep. The faults are
/// asserted injected and the content equal to a clean run's either way.
pub fn kit_http_config() -> HttpClientConfig {
    HttpClientConfig {
        initial_backoff: std::time::Duration::from_millis(5),
        max_backoff: std::time::Duration::from_millis(200),
        ..HttpClientConfig::default()
    }
}

/// How the kit reaches a vendor: its simulator mock, its connector and the source's truth.
pub trait VendorUnderTest: Send + Sync {
    /// The vendor's name, for messages; also keys the kit's cache of clean runs, so two
    /// vendors under test in one test binary need two names.
    fn name(&self) -> &'static str;

    /// The mock serving `company` with `faults`. The kit serves its router and reads its
    /// fault counters, to prove each fault check met its fault.
    fn mock(&self, company: Arc<Company>, faults: Faults) -> Box<dyn VendorMock>;

    /// The connector kind under test: the vendor crate's declaration, exactly as the
    /// binary's registry holds it. The kit builds every connector through it, from settings
    /// as `tributary.toml` would give them, so what passes here is what `tributary sync`
    /// builds.
    fn kind(&self) -> &'static dyn DynKind;

    /// The connector's `[connectors.<name>]` settings (as JSON, secrets resolved) pointed at
    /// the mock on `base_url`, with the vendor's plainest credentials.
    fn settings(&self, base_url: &str) -> serde_json::Value;

    /// The settings authenticating through the mock's OAuth token endpoint, when the vendor
    /// has one; the kit then checks token expiry mid-pagination.
    fn oauth_settings(&self, _base_url: &str) -> Option<serde_json::Value> {
        None
    }

    /// The connector under test, built through [`VendorUnderTest::kind`] from
    /// [`VendorUnderTest::settings`]. Override only to wrap it (a test of the kit itself).
    fn connector(&self, base_url: &str) -> Result<Box<dyn Connector>, ConnectorError> {
        self.kind().build(
            &format!("{}-kit", self.name()),
            self.settings(base_url),
            kit_http_config(),
        )
    }

    /// The connector from [`VendorUnderTest::oauth_settings`], when there are any.
    fn oauth_connector(
        &self,
        base_url: &str,
    ) -> Option<Result<Box<dyn Connector>, ConnectorError>> {
        let settings = self.oauth_settings(base_url)?;
        Some(
            self.kind()
                .build(&format!("{}-kit", self.name()), settings, kit_http_config()),
        )
    }

    /// What a full read of `company` must land, per stream of the connector: derived from the
    /// world through the mock's own id scheme, never from a run of the connector.
    fn expected(&self, company: &Arc<Company>) -> Expected;

    /// The records of `company` that the connector reads but does not land as live rows, per
    /// stream, with the time they last changed: records it turns into deletes (archived or
    /// deleted records from a delete feed, records its mapping skips). The `incremental`
    /// check allows an incremental run to read those that changed within its window; a feed
    /// that cannot be filtered by time (HubSpot's `archived=true` listing) is re-read whole
    /// each run, which the vendor says with [`DateTime::<Utc>::MAX_UTC`]. None by default.
    fn read_not_landed(&self, _company: &Arc<Company>) -> Expected {
        Expected::new()
    }
}

/// A storage backend of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory; always available.
    Sqlite,
    /// A database created on the server of `TRIBUTARY_TEST_POSTGRES_URL`, when set.
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A transient fault knob of the mocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knob {
    /// 429 storms with `Retry-After`.
    RateLimit,
    /// 5xx bursts.
    ServerErrors,
    /// Successful responses cut short.
    Truncate,
    /// Every response delayed.
    SlowPages,
    /// Records repeated across pages.
    Duplicates,
    /// 429s, 5xx, truncation and duplicates at once.
    Combined,
}

impl Knob {
    /// Every knob, in the order the suite runs them.
    pub const ALL: [Knob; 6] = [
        Knob::RateLimit,
        Knob::ServerErrors,
        Knob::Truncate,
        Knob::SlowPages,
        Knob::Duplicates,
        Knob::Combined,
    ];

    /// The knob's name (`rate_limit`).
    pub fn as_str(self) -> &'static str {
        match self {
            Knob::RateLimit => "rate_limit",
            Knob::ServerErrors => "server_errors",
            Knob::Truncate => "truncate",
            Knob::SlowPages => "slow_pages",
            Knob::Duplicates => "duplicates",
            Knob::Combined => "combined",
        }
    }

    /// The knob's settings in the kit.
    pub fn faults(self) -> Faults {
        match self {
            Knob::RateLimit => Faults::none()
                .with_rate_limit(Schedule::burst(3, 2).repeating_every(7))
                .with_retry_after_secs(0),
            Knob::ServerErrors => {
                Faults::none().with_server_errors(Schedule::burst(2, 3).repeating_every(9))
            }
            Knob::Truncate => {
                Faults::none().with_truncate(Schedule::burst(1, 4).repeating_every(5))
            }
            Knob::SlowPages => Faults::none().with_slow_ms(5),
            Knob::Duplicates => Faults::none().with_duplicates(Probability::new(0.3)),
            Knob::Combined => combined(),
        }
    }

    /// The fault counters that must be above zero after a run under this knob.
    fn counters(self) -> &'static [Counter] {
        match self {
            Knob::RateLimit => &[Counter::RateLimited],
            Knob::ServerErrors => &[Counter::ServerErrors],
            Knob::Truncate => &[Counter::Truncated],
            Knob::SlowPages => &[Counter::Slowed],
            Knob::Duplicates => &[Counter::Duplicated],
            Knob::Combined => &[
                Counter::RateLimited,
                Counter::ServerErrors,
                Counter::Truncated,
                Counter::Duplicated,
            ],
        }
    }
}

/// A counter of [`FaultStats`].
#[derive(Debug, Clone, Copy)]
enum Counter {
    RateLimited,
    ServerErrors,
    Truncated,
    Slowed,
    Duplicated,
    ExpiredTokens,
}

impl Counter {
    fn name(self) -> &'static str {
        match self {
            Counter::RateLimited => "rate_limited",
            Counter::ServerErrors => "server_errors",
            Counter::Truncated => "truncated",
            Counter::Slowed => "slowed",
            Counter::Duplicated => "duplicated",
            Counter::ExpiredTokens => "expired_tokens",
        }
    }

    fn of(self, s: &FaultStats) -> u64 {
        match self {
            Counter::RateLimited => s.rate_limited,
            Counter::ServerErrors => s.server_errors,
            Counter::Truncated => s.truncated,
            Counter::Slowed => s.slowed,
            Counter::Duplicated => s.duplicated,
            Counter::ExpiredTokens => s.expired_tokens,
        }
    }
}

/// 429 storms, 5xx bursts, truncated bodies and repeated records, all at once.
fn combined() -> Faults {
    Faults::none()
        .with_rate_limit(Schedule::burst(2, 3).repeating_every(11))
        .with_retry_after_secs(0)
        .with_server_errors(Schedule::burst(2, 6).repeating_every(13))
        .with_truncate(Schedule::burst(1, 9).repeating_every(7))
        .with_duplicates(Probability::new(0.2))
}

/// One check of the kit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A full refresh lands the source's live records.
    FullRead,
    /// A second full refresh changes nothing.
    IdempotentRerun,
    /// A cut-off run resumes from its checkpoint.
    Resume,
    /// A transient fault changes nothing.
    Fault(Knob),
    /// Expiring access tokens change nothing.
    TokenExpiry,
    /// An incremental run reads what changed.
    Incremental,
}

impl Check {
    /// Every check, in the order the suite lists them.
    pub const ALL: [Check; 11] = [
        Check::FullRead,
        Check::IdempotentRerun,
        Check::Resume,
        Check::Fault(Knob::RateLimit),
        Check::Fault(Knob::ServerErrors),
        Check::Fault(Knob::Truncate),
        Check::Fault(Knob::SlowPages),
        Check::Fault(Knob::Duplicates),
        Check::Fault(Knob::Combined),
        Check::TokenExpiry,
        Check::Incremental,
    ];

    /// The check's name in messages (`fault:truncate`).
    pub fn name(self) -> String {
        match self {
            Check::FullRead => "full_read".into(),
            Check::IdempotentRerun => "idempotent_rerun".into(),
            Check::Resume => "resume".into(),
            Check::Fault(knob) => format!("fault:{}", knob.as_str()),
            Check::TokenExpiry => "token_expiry".into(),
            Check::Incremental => "incremental".into(),
        }
    }
}

/// How a check ended without failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and held.
    Passed,
    /// The backend is not configured (PostgreSQL without `TRIBUTARY_TEST_POSTGRES_URL`).
    BackendNotConfigured,
    /// The vendor has nothing for this check to test (no OAuth variant, no incremental
    /// stream); the reason says which.
    NotApplicable(String),
}

/// The kit's settings.
#[derive(Debug, Clone)]
pub struct Kit {
    /// Seed and size of the simulated company.
    pub sim: SimConfig,
    /// How far the source moves on between the two runs of the `incremental` check.
    pub advance_days: i64,
    /// The connectors' safety overlap: an incremental read starts this far behind the saved
    /// mark, so records changed in that window are read again. At least the connector's own.
    pub overlap_secs: i64,
}

impl Default for Kit {
    fn default() -> Self {
        Self {
            sim: SimConfig {
                accounts: 120,
                ..SimConfig::default()
            },
            advance_days: 45,
            overlap_secs: 300,
        }
    }
}

/// What a clean full refresh of the kit's company gives: computed once per vendor and test
/// process (on SQLite; the digest does not depend on the backend) and shared by the checks.
#[derive(Debug, Clone)]
struct CleanRun {
    digest: String,
    /// Records read per stream.
    read: BTreeMap<String, u64>,
}

type CleanCache = Mutex<HashMap<String, Arc<tokio::sync::OnceCell<CleanRun>>>>;

fn clean_cache() -> &'static CleanCache {
    static CACHE: std::sync::OnceLock<CleanCache> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

struct Ctx<'a> {
    kit: &'a Kit,
    vendor: &'a dyn VendorUnderTest,
    check: String,
    backend: &'static str,
    company: Arc<Company>,
}

impl Ctx<'_> {
    fn fail(&self, message: impl Into<String>) -> KitError {
        KitError::Check {
            check: self.check.clone(),
            backend: self.backend,
            message: message.into(),
        }
    }

    fn setup(&self, e: impl std::fmt::Display) -> KitError {
        KitError::Setup {
            check: self.check.clone(),
            message: e.to_string(),
        }
    }

    async fn serve(
        &self,
        company: &Arc<Company>,
        faults: Faults,
    ) -> Result<(Box<dyn VendorMock>, MockServer), KitError> {
        let mock = self.vendor.mock(Arc::clone(company), faults);
        let server = MockServer::start(mock.router())
            .await
            .map_err(|e| self.setup(format!("cannot start the mock: {e}")))?;
        Ok((mock, server))
    }

    async fn sync(
        &self,
        store: &Store,
        connector: &dyn Connector,
        mode: SyncMode,
    ) -> Result<SyncReport, KitError> {
        let report = SyncEngine::new(store.clone())
            .sync(connector, mode, &[], &NoProgress)
            .await
            .map_err(|e| self.setup(e))?;
        if let Some(failed) = report.streams.iter().find(|s| s.error.is_some()) {
            return Err(self.fail(format!(
                "{} stream `{}` failed: {}",
                self.vendor.name(),
                failed.stream,
                failed.error.as_deref().unwrap_or_default()
            )));
        }
        Ok(report)
    }

    /// Fails unless every `counter` of `mock` is above zero: a fault check whose fault was
    /// not injected is a clean re-run and proves nothing.
    fn injected(
        &self,
        knob: &str,
        mock: &dyn VendorMock,
        counters: &[Counter],
    ) -> Result<(), KitError> {
        let stats = mock.faults().stats();
        for c in counters {
            if c.of(&stats) == 0 {
                return Err(self.fail(format!(
                    "fault knob `{knob}` was not injected: the mock's `{}` counter is 0 \
                     ({stats:?}); the check would have been a clean re-run",
                    c.name()
                )));
            }
        }
        Ok(())
    }

    /// The clean full refresh of the kit's company, from the cache or run now.
    async fn clean(&self) -> Result<CleanRun, KitError> {
        let key = format!(
            "{}/{}/{}/{}",
            self.vendor.name(),
            self.kit.sim.seed,
            self.kit.sim.accounts,
            self.kit.sim.today
        );
        let cell = clean_cache()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let db = TestDatabase::sqlite();
            let store = db.store().await.map_err(|e| self.setup(e))?;
            let (_mock, server) = self.serve(&self.company, Faults::none()).await?;
            let connector = self
                .vendor
                .connector(&server.base_url)
                .map_err(|e| self.setup(e))?;
            let report = self
                .sync(&store, connector.as_ref(), SyncMode::FullRefresh)
                .await?;
            self.matches_truth(&store, connector.instance(), &self.company)
                .await
                .map_err(|e| match e {
                    KitError::Check { message, .. } => {
                        self.fail(format!("the clean reference run: {message}"))
                    }
                    other => other,
                })?;
            let digest = store.content_digest().await.map_err(|e| self.setup(e))?;
            store.close().await.map_err(|e| self.setup(e))?;
            db.cleanup().await.map_err(|e| self.setup(e))?;
            Ok(CleanRun {
                digest,
                read: report
                    .streams
                    .iter()
                    .map(|s| (s.stream.clone(), s.read))
                    .collect(),
            })
        })
        .await
        .cloned()
    }

    /// Fails unless the store's content is the clean run's and matches the source.
    async fn same_as_clean(&self, store: &Store, instance: &str) -> Result<(), KitError> {
        let clean = self.clean().await?;
        self.matches_truth(store, instance, &self.company).await?;
        if store.content_digest().await.map_err(|e| self.setup(e))? != clean.digest {
            return Err(
                self.fail("the same records landed but their content differs from a clean run's")
            );
        }
        Ok(())
    }

    /// Fails unless, per stream, the live external ids that `instance` landed are exactly
    /// the live records of `company` ([`VendorUnderTest::expected`]).
    async fn matches_truth(
        &self,
        store: &Store,
        instance: &str,
        company: &Arc<Company>,
    ) -> Result<(), KitError> {
        let expected = self.vendor.expected(company);
        let landed = store
            .live_external_ids(instance)
            .await
            .map_err(|e| self.setup(e))?;
        let empty = BTreeSet::new();
        let streams: BTreeSet<&String> = expected.keys().chain(landed.keys()).collect();
        let mut problems = Vec::new();
        for stream in streams {
            let want: BTreeSet<&String> = expected
                .get(stream)
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            let got: BTreeSet<&String> = landed.get(stream).unwrap_or(&empty).iter().collect();
            if want == got {
                continue;
            }
            let missing: Vec<&&String> = want.difference(&got).collect();
            let unexpected: Vec<&&String> = got.difference(&want).collect();
            problems.push(format!(
                "stream `{stream}`: the source has {} live records, the store {}; \
                 missing {} (first: {:?}), unexpected {} (first: {:?})",
                want.len(),
                got.len(),
                missing.len(),
                missing.iter().take(5).collect::<Vec<_>>(),
                unexpected.len(),
                unexpected.iter().take(5).collect::<Vec<_>>(),
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(self.fail(format!(
                "the store does not hold the source's records: {}",
                problems.join("; ")
            )))
        }
    }
}

impl Kit {
    /// Runs `check` against `vendor` on `backend`, in a database of its own.
    pub async fn check(
        &self,
        vendor: &dyn VendorUnderTest,
        check: Check,
        backend: Backend,
    ) -> Result<Outcome, KitError> {
        let setup = |e: tributary_store::StoreError| KitError::Setup {
            check: check.name(),
            message: e.to_string(),
        };
        let db = match backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => match TestDatabase::postgres().await.map_err(setup)? {
                Some(db) => db,
                None => return Ok(Outcome::BackendNotConfigured),
            },
        };
        let store = db.store().await.map_err(setup)?;
        let ctx = Ctx {
            kit: self,
            vendor,
            check: check.name(),
            backend: backend.as_str(),
            company: Arc::new(Company::generate(&self.sim)),
        };
        let outcome = self.run_check(&ctx, &store, check).await;
        store.close().await.map_err(setup)?;
        db.cleanup().await.map_err(setup)?;
        outcome
    }

    async fn run_check(
        &self,
        c: &Ctx<'_>,
        store: &Store,
        check: Check,
    ) -> Result<Outcome, KitError> {
        match check {
            Check::FullRead => {
                let (_mock, server) = c.serve(&c.company, Faults::none()).await?;
                let connector = c
                    .vendor
                    .connector(&server.base_url)
                    .map_err(|e| c.setup(e))?;
                let report = c
                    .sync(store, connector.as_ref(), SyncMode::FullRefresh)
                    .await?;
                if report.totals().1.written == 0 {
                    return Err(c.fail("a full refresh of the simulated company landed nothing"));
                }
                c.matches_truth(store, connector.instance(), &c.company)
                    .await?;
            }
            Check::IdempotentRerun => {
                let (_mock, server) = c.serve(&c.company, Faults::none()).await?;
                let connector = c
                    .vendor
                    .connector(&server.base_url)
                    .map_err(|e| c.setup(e))?;
                c.sync(store, connector.as_ref(), SyncMode::FullRefresh)
                    .await?;
                let first = store.content_digest().await.map_err(|e| c.setup(e))?;
                let again = c
                    .sync(store, connector.as_ref(), SyncMode::FullRefresh)
                    .await?;
                let (_, o) = again.totals();
                if o.written != 0 || o.deleted + o.swept != 0 {
                    return Err(c.fail(format!(
                        "a second full refresh wrote {} and deleted {} rows",
                        o.written,
                        o.deleted + o.swept
                    )));
                }
                if store.content_digest().await.map_err(|e| c.setup(e))? != first {
                    return Err(c.fail("the digest changed on a re-run"));
                }
                c.same_as_clean(store, connector.instance()).await?;
            }
            Check::Resume => self.resume(c, store).await?,
            Check::Fault(knob) => {
                let (mock, server) = c.serve(&c.company, knob.faults()).await?;
                let connector = c
                    .vendor
                    .connector(&server.base_url)
                    .map_err(|e| c.setup(e))?;
                c.sync(store, connector.as_ref(), SyncMode::FullRefresh)
                    .await?;
                c.injected(knob.as_str(), mock.as_ref(), knob.counters())?;
                c.same_as_clean(store, connector.instance()).await?;
            }
            Check::TokenExpiry => {
                // Tokens expiring every few requests, on top of every transient fault.
                let (mock, server) = c
                    .serve(&c.company, combined().with_token_ttl_requests(3))
                    .await?;
                let Some(connector) = c.vendor.oauth_connector(&server.base_url) else {
                    return Ok(Outcome::NotApplicable(format!(
                        "{} has no OAuth variant",
                        c.vendor.name()
                    )));
                };
                let connector = connector.map_err(|e| c.setup(e))?;
                c.sync(store, connector.as_ref(), SyncMode::FullRefresh)
                    .await?;
                c.injected(
                    "token_ttl_requests",
                    mock.as_ref(),
                    &[Counter::ExpiredTokens],
                )?;
                let issued = mock.faults().stats().tokens_issued;
                if issued < 2 {
                    return Err(c.fail(format!(
                        "the mock issued {issued} access token(s): no token was replaced \
                         mid-pagination"
                    )));
                }
                c.same_as_clean(store, connector.instance()).await?;
            }
            Check::Incremental => return self.incremental(c, store).await,
        }
        Ok(Outcome::Passed)
    }

    /// Cuts every stream off after two checkpoints, then resumes.
    async fn resume(&self, c: &Ctx<'_>, store: &Store) -> Result<(), KitError> {
        let clean = c.clean().await?;
        let (_mock, server) = c.serve(&c.company, Faults::none()).await?;
        let connector = c
            .vendor
            .connector(&server.base_url)
            .map_err(|e| c.setup(e))?;
        let instance = connector.instance().to_owned();
        let cut = CutOff::new(connector.as_ref(), 2);
        let partial = SyncEngine::new(store.clone())
            .sync(&cut, SyncMode::FullRefresh, &[], &NoProgress)
            .await
            .map_err(|e| c.setup(e))?;
        let cut_streams: Vec<&str> = partial
            .streams
            .iter()
            .filter(|s| s.error.is_some())
            .map(|s| s.stream.as_str())
            .collect();
        if cut_streams.is_empty() {
            return Err(c.fail(
                "the cut-off run did not fail; no stream has three pages (use a larger company)",
            ));
        }
        for stream in &cut_streams {
            let state = store
                .load_state(&instance, stream)
                .await
                .map_err(|e| c.setup(e))?;
            if state.is_none() {
                return Err(c.fail(format!(
                    "stream `{stream}` was cut off after two checkpoints but has no saved state"
                )));
            }
        }
        let resumed = c
            .sync(store, connector.as_ref(), SyncMode::FullRefresh)
            .await?;
        for stream in &cut_streams {
            let read = resumed
                .streams
                .iter()
                .find(|s| s.stream == *stream)
                .map_or(0, |s| s.read);
            let full = clean.read.get(*stream).copied().unwrap_or(0);
            if read >= full {
                return Err(c.fail(format!(
                    "the resuming run read {read} records of stream `{stream}`, a full run \
                     {full}: it did not start from the checkpoint"
                )));
            }
        }
        c.same_as_clean(store, &instance).await
    }

    /// Syncs the company at T, then at T + `advance_days`.
    async fn incremental(&self, c: &Ctx<'_>, store: &Store) -> Result<Outcome, KitError> {
        let later = Arc::new(Company::generate(&SimConfig {
            today: self.sim.today + chrono::Duration::days(self.advance_days),
            ..self.sim.clone()
        }));
        let (_before, server) = c.serve(&c.company, Faults::none()).await?;
        let conn = c
            .vendor
            .connector(&server.base_url)
            .map_err(|e| c.setup(e))?;
        let incremental: BTreeSet<String> = conn
            .streams()
            .into_iter()
            .filter(|s| s.modes.contains(&SyncMode::Incremental))
            .map(|s| s.name)
            .collect();
        if incremental.is_empty() {
            return Ok(Outcome::NotApplicable(format!(
                "{} has no incremental stream",
                c.vendor.name()
            )));
        }
        c.sync(store, conn.as_ref(), SyncMode::Incremental).await?;
        drop(server);
        let (_after, server) = c.serve(&later, Faults::none()).await?;
        let conn = c
            .vendor
            .connector(&server.base_url)
            .map_err(|e| c.setup(e))?;
        let second = c.sync(store, conn.as_ref(), SyncMode::Incremental).await?;
        c.matches_truth(store, conn.instance(), &later).await?;
        let incremental_digest = store.content_digest().await.map_err(|e| c.setup(e))?;

        let before = c.vendor.expected(&c.company);
        let after = c.vendor.expected(&later);
        let before_other = c.vendor.read_not_landed(&c.company);
        let after_other = c.vendor.read_not_landed(&later);
        let overlap = chrono::Duration::seconds(self.overlap_secs);
        for s in &second.streams {
            let empty = BTreeMap::new();
            let was = before.get(&s.stream).unwrap_or(&empty);
            let is = after.get(&s.stream).unwrap_or(&empty);
            let diff = Diff::of(was, is);
            let (low, high, why) = if incremental.contains(&s.stream) {
                // At least every created or changed record must be read (deletions may
                // arrive as a sweep instead of items). At most: those; one delete per
                // deleted record; the unchanged records the overlap window reads again,
                // those whose version lies within `overlap_secs` of the newest version the
                // first run saw (the mark the second run starts from, less the overlap); and
                // the records read but not landed (skipped or tombstones) that changed since
                // that same point. Anything more is a connector reading what did not change.
                let was_other = before_other.get(&s.stream).unwrap_or(&empty);
                let is_other = after_other.get(&s.stream).unwrap_or(&empty);
                let mark = was
                    .values()
                    .chain(
                        was_other
                            .values()
                            .filter(|v| **v < DateTime::<Utc>::MAX_UTC),
                    )
                    .max()
                    .map(|m| *m - overlap);
                let (window, other) = mark.map_or((0, is_other.len()), |from| {
                    (
                        was.iter()
                            .filter(|(id, v)| **v >= from && is.get(*id) == Some(*v))
                            .count(),
                        is_other.values().filter(|v| **v >= from).count(),
                    )
                });
                (
                    diff.created + diff.changed,
                    diff.created + diff.changed + diff.deleted + (window + other) as u64,
                    format!(
                        "{diff:?}, {window} unchanged in the overlap window, {other} read but \
                         not landed"
                    ),
                )
            } else {
                // A stream without incremental reads is read whole: what lands, and what
                // is read but not landed (counted as skipped).
                let n = is.len() as u64;
                let other = after_other.get(&s.stream).map_or(0, |o| o.len() as u64);
                (
                    n,
                    n + other,
                    format!("a full-refresh stream is read whole, {other} read but not landed"),
                )
            };
            if s.read < low || s.read > high {
                return Err(c.fail(format!(
                    "the incremental run read {} items of stream `{}`, expected between {low} \
                     and {high} ({why}): it did not read only what changed",
                    s.read, s.stream
                )));
            }
        }

        // The reference: a clean full refresh of the later source.
        store.reset().await.map_err(|e| c.setup(e))?;
        c.sync(store, conn.as_ref(), SyncMode::FullRefresh).await?;
        let reference = store.content_digest().await.map_err(|e| c.setup(e))?;
        if incremental_digest != reference {
            return Err(c.fail(
                "after an incremental run the content differs from a full refresh of the same source",
            ));
        }
        Ok(Outcome::Passed)
    }
}

/// How a stream's live records moved between two versions of the source.
#[derive(Debug, Default)]
struct Diff {
    created: u64,
    changed: u64,
    deleted: u64,
}

impl Diff {
    fn of(was: &BTreeMap<String, DateTime<Utc>>, is: &BTreeMap<String, DateTime<Utc>>) -> Self {
        let mut d = Diff::default();
        for (id, v) in is {
            match was.get(id) {
                None => d.created += 1,
                Some(w) if w != v => d.changed += 1,
                Some(_) => {}
            }
        }
        d.deleted = was.keys().filter(|id| !is.contains_key(*id)).count() as u64;
        d
    }
}

/// Runs one check as a test: panics with the kit's message when it fails, and says so plainly
/// when the backend is not configured or the check does not apply. What
/// [`conformance_suite!`] expands to.
pub async fn run_suite_check(
    kit: Kit,
    vendor: &dyn VendorUnderTest,
    check: Check,
    backend: Backend,
) {
    match kit.check(vendor, check, backend).await {
        Ok(Outcome::Passed) => {}
        Ok(Outcome::BackendNotConfigured) => eprintln!(
            "conformance check `{}` of {} did not run: the {} backend is not configured \
             (set {})",
            check.name(),
            vendor.name(),
            backend.as_str(),
            tributary_store::testing::POSTGRES_ENV
        ),
        Ok(Outcome::NotApplicable(why)) => {
            eprintln!("conformance check `{}` does not apply: {why}", check.name())
        }
        Err(e) => panic!("{e}"),
    }
}

/// A connector's revenue field mapping from its `mapping` table as data, e.g. a simulated
/// org's (`tributary_mock_hubspot::revenue_mapping()`); panics on a table that does not
/// decode, which is a bug in the test.
pub fn mapping(table: serde_json::Value) -> tributary_connector::MappingSettings {
    serde_json::from_value(table).expect("a simulated org's mapping decodes as MappingSettings")
}
