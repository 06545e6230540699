//! [`conformance_suite!`](crate::conformance_suite): one test per check per backend.

/// Generates the conformance suite of a vendor: a module `conformance` with one module per
/// backend (`sqlite`, `postgres`) and in each one `#[tokio::test]` per check (`full_read`,
/// `idempotent_rerun`, `resume`, `fault_rate_limit`, `fault_server_errors`, `fault_truncate`,
/// `fault_slow_pages`, `fault_duplicates`, `fault_combined`, `token_expiry`, `incremental`),
/// so a failure names its check and backend: `conformance::postgres::fault_truncate`.
///
/// `$vendor` is an expression of a type implementing [`VendorUnderTest`](crate::VendorUnderTest),
/// evaluated in each test; `$kit` (default [`Kit::default`](crate::Kit)) the kit's settings.
/// The calling crate needs `tokio` (with `macros` and `rt-multi-thread`) as a dev-dependency.
/// Without `TRIBUTARY_TEST_POSTGRES_URL` the PostgreSQL tests print that the backend is not
/// configured and return; CI sets it and checks that every suite did use PostgreSQL.
#[macro_export]
macro_rules! conformance_suite {
    ($vendor:expr) => {
        $crate::conformance_suite!($vendor, $crate::Kit::default());
    };
    ($vendor:expr, $kit:expr) => {
        mod conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_backend!(sqlite, Sqlite, $vendor, $kit);
            $crate::__conformance_backend!(postgres, Postgres, $vendor, $kit);
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_backend {
    ($module:ident, $backend:ident, $vendor:expr, $kit:expr) => {
        mod $module {
            #[allow(unused_imports)]
            use super::super::*;
            $crate::__conformance_test!(
                full_read,
                $crate::Check::FullRead,
                $backend,
                $vendor,
                $kit
            );
            $crate::__conformance_test!(
                idempotent_rerun,
                $crate::Check::IdempotentRerun,
                $backend,
                $vendor,
                $kit
            );
            $crate::__conformance_test!(resume, $crate::Check::Resume, $backend, $vendor, $kit);
            $crate::__conformance_test!(
                fault_rate_limit,
                $crate::Check::Fault($crate::Knob::RateLimit),
                $backend,
                $vendor,
                $kit
            );
            $crate::__conformance_test!(
                fault_server_errors,
                $crate::Check::Fault($crate::Knob::ServerErrors),
                $backend,
                $vendor,
                $kit
            );
            $crate::__conformance_test!(
                fault_truncate,
                $crate::Check::Fault($crate::Knob::Truncate),
                $backend,
                $vendor,
                $kit
            );
            $crate::__conformance_test!(
                fault_slow_pages,
                $crate::Check::Fault($crate::Knob::SlowPages),
                $backend,
                $vendor,
                $kit
            );
            $crate::__conformance_test!(
                fault_duplicates,
                $crate::Check::Fault($crate::Knob::Duplicates),
                $backend,
                $vendor,
                $kit
            );
            $crate::__conformance_test!(
                fault_combined,
                $crate::Check::Fault($crate::Knob::Combined),
                $backend,
                $vendor,
                $kit
            );
            $crate::__conformance_test!(
                token_expiry,
                $crate::Check::TokenExpiry,
                $backend,
                $vendor,
                $kit
            );
            $crate::__conformance_test!(
                incremental,
                $crate::Check::Incremental,
                $backend,
                $vendor,
                $kit
            );
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_test {
    ($name:ident, $check:expr, $backend:ident, $vendor:expr, $kit:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $crate::run_suite_check($kit, &$vendor, $check, $crate::Backend::$backend).await;
        }
    };
}
