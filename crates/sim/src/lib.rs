//! The simulated company (SPEC §7): a seeded generator of a B2B SaaS company and mock servers
//! that serve it through each vendor's API shape, so connectors, tests, benches and
//! `tributary demo` run against something that behaves like production without a network.
//!
//! Key types:
//! - [`SimConfig`]: seed, size, the simulated "today", the planted effects of training
//!   ([`CausalConfig`]) and the [`Faults`] to inject.
//! - [`Company`]: the generated company as of its today — accounts, contacts (some of whom
//!   moved companies) and deals ([`SimAccount`], [`SimContact`], [`SimDeal`]), the feature
//!   catalog with its release calendar ([`SimFeature`]), courses and enrollments
//!   ([`SimCourse`], [`SimEnrollment`]) and support tickets ([`SimTicket`]); usage events
//!   ([`SimUsageEvent`]) are streamed, never stored ([`Company::usage_events`]).
//!   [`Company::truth`] summarises what a correct sync must land ([`Truth`]).
//! - [`GroundTruth`] ([`Company::ground_truth`], [`truth_json`]): the planted causal
//!   parameters and the true effect of training, per renewal decision, per account and in
//!   total, from simulating every account a second time without its training;
//!   [`GroundTruthSummary`] ([`Company::ground_truth_summary`]) is the same without the rows.
//! - [`MockServer`]: any axum router served on a loopback port until dropped.
//! - [`FaultInjector`]: the fault knobs of one mock instance, applied by one shared axum
//!   middleware ([`FaultInjector::wrap`]) plus the hooks a mock calls for record-level faults;
//!   its counters are [`FaultStats`]. [`VendorMock`] is what every vendor mock provides.
//! - [`hubspot`]: the HubSpot CRM v3 mock ([`hubspot::HubspotMock`], [`hubspot::router`]).
//! - [`salesforce`]: the Salesforce REST query mock ([`salesforce::SalesforceMock`],
//!   [`salesforce::router`]).
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
//! Generation is deterministic: the same seed gives byte-identical data, and each concern draws
//! from its own named random stream so that deepening the simulation later does not change
//! what existing concerns produce. The history is anchored at `history_start`, and every
//! record is planned over its whole life independently of `today`, so moving `today` forward
//! yields a superset world: older records keep their ids, change only with a later
//! `updated_at`, and new ones appear — what incremental-sync tests need.
//!
//! # The causal model (SPEC §7)
//!
//! Each account has a latent health (standard normal, autocorrelated year to year) that
//! drives its product usage — the observable proxy — as well as its chance to train in a
//! contract year (also rising with size) and to renew at its end. Training in a contract year
//! (a completion between the term's start and 30 days before the anniversary) multiplies the
//! odds of renewal by [`CausalConfig::renewal_odds_ratio`] (a certification by
//! [`CausalConfig::certification_odds_ratio`]), raises expansion, feature adoption and usage,
//! shortens time-to-value and deflects how-to tickets. The deals the CRM mock serves are the
//! outcome of that model. Every account is simulated again with training switched off, from
//! the same uniform draws, so the true effects are known exactly ([`GroundTruth`]); a
//! placebo world ([`CausalConfig::placebo`]) has no effect at all, and
//! [`CausalConfig::unobserved_confounder`] adds confounding an estimator cannot see.
//!
//! What it must not do: be used by library code paths (only tests, benches and the binary's
//! `demo` / `sim` commands depend on it); reach the network beyond the loopback socket it
//! binds; or depend on the store, sync engine, gateway or any connector — the mocks are
//! written from the vendors' documentation, not from our connectors, so that a connector
//! passing against its mock means something.

mod causal;
mod company;
mod config;
/// The mock framework under its old name, for the vendor mocks still in this crate.
mod faults {
    pub use tributary_mock_kit::*;
}
pub mod hubspot;
mod learning;
mod names;
pub mod salesforce;
mod support;
mod truth;
mod usage;

pub use causal::{CausalConfig, DGP, Dgp, Treatment};
pub use company::{
    Company, DealMotion, DealStage, SimAccount, SimContact, SimDeal, SimOwner, Truth,
};
pub use config::SimConfig;
pub use learning::{SimCourse, SimEnrollment, SimFeature};
pub use support::{SimTicket, TicketStatus};
pub use tributary_mock_kit::{
    FaultInjector, FaultStats, Faults, FaultsParseError, MockServer, Probability, Schedule,
    VendorFaults, VendorMock,
};
pub use truth::{
    AccountTruth, DecisionSummary, DecisionTruth, FxTable, GroundTruth, GroundTruthSummary,
    PlantedParameters, TwinTotals, truth_json,
};
pub use usage::{SimUsageEvent, UsageEvents};
