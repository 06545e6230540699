//! The simulated company (SPEC §7): a seeded generator of a B2B SaaS company, the world that
//! the vendor mocks (`mocks/<vendor>`, built on `tributary-mock-kit`) serve through each
//! vendor's API shape, so connectors, tests, benches and `tributary demo` run against
//! something that behaves like production without a network.
//!
//! Key types:
//! - [`SimConfig`]: seed, size, the simulated "today", the planted effects of training
//!   ([`CausalConfig`]).
//! - [`Company`]: the generated company as of its today — accounts, contacts (some of whom
//!   moved companies) and deals ([`SimAccount`], [`SimContact`], [`SimDeal`], in the world's
//!   own terms: an [`Industry`], a [`DealStage`], a [`DealMotion`]), the feature
//!   catalog with its release calendar ([`SimFeature`]), courses and enrollments
//!   ([`SimCourse`], [`SimEnrollment`]) and support tickets ([`SimTicket`]); usage events
//!   ([`SimUsageEvent`]) are streamed, never stored ([`Company::usage_events`]).
//!   [`Company::truth`] summarises what a correct sync must land ([`Truth`]).
//! - [`GroundTruth`] ([`Company::ground_truth`], [`truth_json`]): the planted causal
//!   parameters and the true effect of training, per renewal decision, per account and in
//!   total, from simulating every account a second time without its training;
//!   [`GroundTruthSummary`] ([`Company::ground_truth_summary`]) is the same without the rows.
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
//! shortens time-to-value and deflects how-to tickets. The deals the CRM mocks serve are the
//! outcome of that model. Every account is simulated again with training switched off, from
//! the same uniform draws, so the true effects are known exactly ([`GroundTruth`]); a
//! placebo world ([`CausalConfig::placebo`]) has no effect at all, and
//! [`CausalConfig::unobserved_confounder`] adds confounding an estimator cannot see.
//!
//! What it must not do: be used by library code paths (only tests, benches and the binary's
//! `demo` / `sim` commands and the mocks depend on it); do I/O or HTTP (serving it is the
//! mocks' job); depend on the store, sync engine, gateway, any connector or any mock; or speak
//! any vendor's vocabulary — field names, stage ids, enum values and id formats belong to
//! each vendor's mock crate, which translates the world (`tests/vendor_neutral.rs` checks).

mod causal;
mod company;
mod config;
mod learning;
mod names;
mod support;
mod truth;
mod usage;

pub use causal::{CausalConfig, DGP, Dgp, Treatment};
pub use company::{
    Company, DealMotion, DealStage, Industry, SimAccount, SimContact, SimDeal, SimOwner, Truth,
};
pub use config::SimConfig;
pub use learning::{SimCourse, SimEnrollment, SimFeature};
pub use support::{SimTicket, TicketStatus};
pub use truth::{
    AccountTruth, DecisionSummary, DecisionTruth, FxTable, GroundTruth, GroundTruthSummary,
    PlantedParameters, TwinTotals, truth_json,
};
pub use usage::{SimUsageEvent, UsageEvents};
