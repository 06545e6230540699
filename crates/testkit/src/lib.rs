//! The connector conformance kit (SPEC §5, STYLE §2): the definition of done for a connector.
//!
//! A connector crate implements [`VendorUnderTest`] in one of its tests — how to start its
//! vendor's simulator mock and how to build the connector pointed at it — and calls
//! [`Kit::run`]. The kit then syncs through the real engine into real stores (SQLite, and
//! PostgreSQL when `TRIBUTARY_TEST_POSTGRES_URL` is set) and checks, comparing
//! [`Store::content_digest`]s so that "the same content" means exactly that:
//!
//! | check | what must hold |
//! |---|---|
//! | `full_read` | a full refresh pages every stream to its end and lands rows |
//! | `idempotent_rerun` | a second full refresh writes nothing and leaves the digest unchanged |
//! | `resume` | a stream cut off after a few checkpoints resumes from the last one: same digest |
//! | `fault:<knob>` | under each transient fault (429 storms, 5xx bursts, truncated bodies, slow pages, records repeated across pages) the digest equals the clean run's |
//! | `fault:combined` | the same with all of those at once |
//! | `token_expiry` | with access tokens expiring every few requests mid-pagination, on top of all the transient faults, the digest equals the clean run's (OAuth connectors) |
//! | `incremental` | after the source moves on (new and changed records, deletions), an incremental run reads fewer records than a full one and ends with the digest of a clean full refresh of the new source |
//!
//! The kit depends on the simulator and the store; connector crates use it only as a
//! dev-dependency, so library code never does.

use axum::Router;
use std::sync::Arc;
use std::time::Instant;
use tributary_connector::{Connector, ConnectorError, SyncMode};
use tributary_sim::{Company, Faults, MockServer, Probability, Schedule, SimConfig};
use tributary_store::Store;
use tributary_store::testing::TestDatabase;
use tributary_sync::{NoProgress, SyncEngine, SyncReport};

mod cutoff;
pub mod items;

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

/// How the kit reaches a vendor: its simulator mock and its connector.
pub trait VendorUnderTest: Send + Sync {
    /// The vendor's name, for messages.
    fn name(&self) -> &'static str;

    /// The mock serving `company` with `faults`.
    fn mock(&self, company: Arc<Company>, faults: Faults) -> Router;

    /// The connector under test, static credentials, pointed at `base_url`.
    fn connector(&self, base_url: &str) -> Result<Box<dyn Connector>, ConnectorError>;

    /// The connector authenticating through the mock's OAuth token endpoint, when the vendor
    /// has one; the kit then checks token expiry mid-pagination.
    fn oauth_connector(
        &self,
        _base_url: &str,
    ) -> Option<Result<Box<dyn Connector>, ConnectorError>> {
        None
    }
}

/// The kit's settings.
#[derive(Debug, Clone)]
pub struct Kit {
    /// Seed and size of the simulated company.
    pub sim: SimConfig,
    /// How far the source moves on between the two runs of the `incremental` check.
    pub advance_days: i64,
}

impl Default for Kit {
    fn default() -> Self {
        Self {
            sim: SimConfig {
                accounts: 120,
                ..SimConfig::default()
            },
            advance_days: 45,
        }
    }
}

/// What ran.
#[derive(Debug, Clone, Default)]
pub struct KitReport {
    /// `check@backend` of every check that passed, in order.
    pub passed: Vec<String>,
}

/// Every check the kit has. `token_expiry` runs only for connectors with an OAuth variant and
/// `incremental` only for streams that read incrementally; a connector that has both must
/// see all of these pass ([`KitReport::assert_ran`]).
pub const ALL_CHECKS: &[&str] = &[
    "full_read",
    "idempotent_rerun",
    "resume",
    "fault:rate_limit",
    "fault:server_errors",
    "fault:truncate",
    "fault:slow_pages",
    "fault:duplicates",
    "fault:combined",
    "token_expiry",
    "incremental",
];

impl KitReport {
    /// Panics unless each of `checks` passed on every backend the kit ran on, so a check
    /// that was skipped (no OAuth variant, no incremental stream) cannot pass unnoticed.
    pub fn assert_ran(&self, checks: &[&str]) {
        let backends: Vec<&str> = self
            .passed
            .iter()
            .filter_map(|p| p.strip_prefix("full_read@"))
            .collect();
        assert!(
            !backends.is_empty(),
            "the kit ran on no backend: {:?}",
            self.passed
        );
        for check in checks {
            for backend in &backends {
                let want = format!("{check}@{backend}");
                assert!(
                    self.passed.contains(&want),
                    "conformance check `{check}` did not run on {backend}: {:?}",
                    self.passed
                );
            }
        }
    }
}

/// The transient faults every connector must survive with identical content.
pub fn transient_faults() -> Vec<(&'static str, Faults)> {
    vec![
        (
            "rate_limit",
            Faults::none()
                .with_rate_limit(Schedule::burst(3, 2).repeating_every(7))
                .with_retry_after_secs(0),
        ),
        (
            "server_errors",
            Faults::none().with_server_errors(Schedule::burst(2, 3).repeating_every(9)),
        ),
        (
            "truncate",
            Faults::none().with_truncate(Schedule::burst(1, 4).repeating_every(5)),
        ),
        ("slow_pages", Faults::none().with_slow_ms(5)),
        (
            "duplicates",
            Faults::none().with_duplicates(Probability::new(0.3)),
        ),
        ("combined", combined()),
    ]
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

struct Ctx<'a> {
    vendor: &'a dyn VendorUnderTest,
    check: String,
    backend: &'static str,
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
}

async fn start(
    vendor: &dyn VendorUnderTest,
    company: &Arc<Company>,
    faults: Faults,
) -> Result<MockServer, String> {
    MockServer::start(vendor.mock(Arc::clone(company), faults))
        .await
        .map_err(|e| format!("cannot start the mock: {e}"))
}

impl Kit {
    /// Runs every check on every test backend; the first failure is returned.
    pub async fn run(&self, vendor: &dyn VendorUnderTest) -> Result<KitReport, KitError> {
        let mut report = KitReport::default();
        let company = Arc::new(Company::generate(&self.sim));
        let later = Arc::new(Company::generate(&SimConfig {
            today: self.sim.today + chrono::Duration::days(self.advance_days),
            ..self.sim.clone()
        }));
        let dbs = TestDatabase::all().await.map_err(|e| KitError::Setup {
            check: "databases".into(),
            message: e.to_string(),
        })?;
        for db in dbs {
            let started = Instant::now();
            self.run_on(vendor, &db, &company, &later, &mut report)
                .await?;
            tracing::info!(
                backend = db.backend,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "conformance kit passed"
            );
            db.cleanup().await.map_err(|e| KitError::Setup {
                check: "cleanup".into(),
                message: e.to_string(),
            })?;
        }
        Ok(report)
    }

    async fn run_on(
        &self,
        vendor: &dyn VendorUnderTest,
        db: &TestDatabase,
        company: &Arc<Company>,
        later: &Arc<Company>,
        report: &mut KitReport,
    ) -> Result<(), KitError> {
        let ctx = |check: &str| Ctx {
            vendor,
            check: check.to_owned(),
            backend: db.backend,
        };
        // Each check starts from empty tables in the backend's database.
        let db_store = db.store().await.map_err(|e| KitError::Setup {
            check: "connect".into(),
            message: e.to_string(),
        })?;
        let fresh = |c: &Ctx<'_>| {
            let store = db_store.clone();
            let setup = c.setup("cannot reset the database");
            async move {
                store.reset().await.map_err(|_| setup)?;
                Ok::<_, KitError>(store)
            }
        };

        // full_read + idempotent_rerun
        let c = ctx("full_read");
        let store = fresh(&c).await?;
        let mock = start(vendor, company, Faults::none())
            .await
            .map_err(|e| c.setup(e))?;
        let connector = vendor.connector(&mock.base_url).map_err(|e| c.setup(e))?;
        let first = c
            .sync(&store, connector.as_ref(), SyncMode::FullRefresh)
            .await?;
        let (_, landed) = first.totals();
        if landed.written == 0 {
            return Err(c.fail("a full refresh of the simulated company landed nothing"));
        }
        let clean = store.content_digest().await.map_err(|e| c.setup(e))?;
        report.passed.push(format!("full_read@{}", db.backend));

        let c = ctx("idempotent_rerun");
        let again = c
            .sync(&store, connector.as_ref(), SyncMode::FullRefresh)
            .await?;
        let (_, o) = again.totals();
        if o.written != 0 || o.deleted != 0 {
            return Err(c.fail(format!(
                "a second full refresh wrote {} and deleted {} rows",
                o.written, o.deleted
            )));
        }
        if store.content_digest().await.map_err(|e| c.setup(e))? != clean {
            return Err(c.fail("the digest changed on a re-run"));
        }
        report
            .passed
            .push(format!("idempotent_rerun@{}", db.backend));

        // resume: cut every stream off after two checkpoints, then finish.
        let c = ctx("resume");
        let store = fresh(&c).await?;
        let cut = cutoff::CutOff::new(connector.as_ref(), 2);
        let partial = SyncEngine::new(store.clone())
            .sync(&cut, SyncMode::FullRefresh, &[], &NoProgress)
            .await
            .map_err(|e| c.setup(e))?;
        if partial.succeeded() {
            return Err(c.fail("the cut-off run did not fail; the stream has fewer than three pages (use a larger company)"));
        }
        c.sync(&store, connector.as_ref(), SyncMode::FullRefresh)
            .await?;
        if store.content_digest().await.map_err(|e| c.setup(e))? != clean {
            return Err(
                c.fail("resuming from the last checkpoint did not give the clean run's content")
            );
        }
        report.passed.push(format!("resume@{}", db.backend));
        drop(mock);

        for (knob, faults) in transient_faults() {
            let c = ctx(&format!("fault:{knob}"));
            let store = fresh(&c).await?;
            let mock = start(vendor, company, faults)
                .await
                .map_err(|e| c.setup(e))?;
            let connector = vendor.connector(&mock.base_url).map_err(|e| c.setup(e))?;
            c.sync(&store, connector.as_ref(), SyncMode::FullRefresh)
                .await?;
            if store.content_digest().await.map_err(|e| c.setup(e))? != clean {
                return Err(c.fail("the content differs from a clean run"));
            }
            report.passed.push(format!("fault:{knob}@{}", db.backend));
        }

        let c = ctx("token_expiry");
        // Tokens expiring every few requests, on top of every transient fault.
        let mock = start(vendor, company, combined().with_token_ttl_requests(3))
            .await
            .map_err(|e| c.setup(e))?;
        if let Some(connector) = vendor.oauth_connector(&mock.base_url) {
            let connector = connector.map_err(|e| c.setup(e))?;
            let store = fresh(&c).await?;
            c.sync(&store, connector.as_ref(), SyncMode::FullRefresh)
                .await?;
            if store.content_digest().await.map_err(|e| c.setup(e))? != clean {
                return Err(c.fail("the content differs from a clean run"));
            }
            report.passed.push(format!("token_expiry@{}", db.backend));
        }
        drop(mock);

        // incremental: sync the company at T, then at T + advance_days.
        let c = ctx("incremental");
        let supports = connector
            .streams()
            .iter()
            .any(|s| s.modes.contains(&SyncMode::Incremental));
        if supports {
            let store = fresh(&c).await?;
            let before = start(vendor, company, Faults::none())
                .await
                .map_err(|e| c.setup(e))?;
            let conn = vendor.connector(&before.base_url).map_err(|e| c.setup(e))?;
            let first = c.sync(&store, conn.as_ref(), SyncMode::Incremental).await?;
            drop(before);
            let after = start(vendor, later, Faults::none())
                .await
                .map_err(|e| c.setup(e))?;
            let conn = vendor.connector(&after.base_url).map_err(|e| c.setup(e))?;
            let second = c.sync(&store, conn.as_ref(), SyncMode::Incremental).await?;
            let incremental_digest = store.content_digest().await.map_err(|e| c.setup(e))?;
            let (read_first, _) = first.totals();
            let (read_second, _) = second.totals();
            // The reference: a clean full refresh of the later source.
            let reference = fresh(&c).await?;
            c.sync(&reference, conn.as_ref(), SyncMode::FullRefresh)
                .await?;
            let expected = reference.content_digest().await.map_err(|e| c.setup(e))?;
            if incremental_digest != expected {
                return Err(c.fail("after an incremental run the content differs from a full refresh of the same source"));
            }
            if read_second >= read_first {
                return Err(c.fail(format!(
                    "the incremental run read {read_second} records, the first run {read_first}: it did not read only changes"
                )));
            }
            report.passed.push(format!("incremental@{}", db.backend));
        }
        db_store.close().await.map_err(|e| KitError::Setup {
            check: "close".into(),
            message: e.to_string(),
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(passed: &[&str]) -> KitReport {
        KitReport {
            passed: passed.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn every_check_must_pass_on_every_backend() {
        report(&["full_read@sqlite", "resume@sqlite"]).assert_ran(&["full_read", "resume"]);
    }

    #[test]
    #[should_panic(expected = "`resume` did not run on postgres")]
    fn a_check_missing_on_one_backend_fails() {
        report(&["full_read@sqlite", "resume@sqlite", "full_read@postgres"])
            .assert_ran(&["resume"]);
    }
}
