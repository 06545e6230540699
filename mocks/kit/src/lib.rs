//! The framework every vendor mock is built on (SPEC §7), so that a mock crate
//! (`mocks/<vendor>`) holds only what its vendor's API looks like:
//!
//! - [`MockServer`]: any axum router served on a loopback port until dropped.
//! - [`Faults`] (with [`Schedule`] and [`Probability`]): the fault knobs every mock shares,
//!   parsed from `--faults rate_limit=3@5/50,truncate=0.1` ([`Faults::parse`]) or a config file.
//! - [`FaultInjector`]: the knobs of one mock instance and their counters ([`FaultStats`]): one
//!   axum middleware for the request-level faults ([`FaultInjector::wrap`], speaking in the
//!   vendor's name through [`VendorFaults`]), OAuth access tokens that expire
//!   ([`FaultInjector::issue_token`], [`FaultInjector::check_token`]), the paging faults
//!   ([`FaultInjector::page_served`]), changed records ([`FaultInjector::revision`]) and the
//!   choice of malformed records ([`sample`]).
//! - [`auth`]: bearer tokens, static or issued ([`auth::authorize`]), and form-encoded token
//!   requests ([`auth::Form`]); [`respond`]: JSON responses with a vendor's exact content
//!   type, the base URL a client used, query parameters.
//! - [`VendorMock`]: what `tributary sim serve`, the demo and the conformance kit need from a
//!   mock.
//!
//! # Fault knobs
//!
//! Every vendor mock gets the same knobs: its router is wrapped in its [`FaultInjector`]'s
//! layer, which injects the request-level faults, and it consults the injector for the
//! record-level ones. All are off by default, deterministic given the seed (requests are
//! numbered from 1 over everything one mock instance receives), set in code with the
//! `Faults::with_*` builders or from a list such as
//! `tributary sim serve --faults rate_limit=3@5/50,retry_after=0,truncate=0.1` ([`Faults::parse`]):
//!
//! | `--faults` knob | value | effect |
//! |---|---|---|
//! | `rate_limit` | [`Schedule`] | those requests get the vendor's 429 body and `Retry-After` |
//! | `retry_after` | seconds, default 1 | the `Retry-After` of those 429s (0 in fast tests) |
//! | `server_errors` | [`Schedule`] | those requests get 500, 502 or 503 (by request number) |
//! | `slow_ms` | milliseconds | every response is delayed that long |
//! | `truncate` | [`Schedule`] | those requests, when successful, get a 200 with the body cut to half |
//! | `token_ttl` | requests | an OAuth-issued access token authorizes that many requests, then gets the vendor's "expired" 401 |
//! | `token_ttl_secs` | seconds | OAuth-issued access tokens expire that long after issue |
//! | `mutate` | [`Probability`] | after each page, records on it and on the next page change (newer last-modified time, a changed property) |
//! | `duplicates` | [`Probability`] | a page repeats its last record as the first of the next page |
//! | `malformed` | count | that many records per object type are served malformed |
//!
//! A [`Schedule`] is `K` (requests 1–K), `A-B`, `K@N` (K requests from request N), any of
//! these with `/P` (again every P requests), or a fraction such as `0.2` (each request with
//! that probability). A [`Probability`] is `0.05` or `5%`. [`FaultStats`] counts what each
//! knob did, so a test can check that it met the faults it asked for.
//!
//! What it must not do: know any vendor (no vendor's paths, field names or error bodies live
//! here: a mock passes them in) or the simulated world (it sees seeds, days and record
//! indices, never a company); reach the network beyond the loopback socket it binds; or be
//! used by library code paths — only mocks, tests, benches and the binary depend on it.

pub mod auth;
mod injector;
mod knobs;
mod paging;
pub mod respond;
mod server;

pub use injector::{
    FaultInjector, FaultStats, GenericVendor, IssuedToken, Revision, SERVER_ERROR_STATUSES,
    TokenCheck, VendorFaults, VendorMock, draw, fnv1a, sample, server_error_status,
};
pub use knobs::{Faults, FaultsParseError, Probability, Schedule};
pub use paging::ServedPage;
pub use server::MockServer;
