//! The simulated company (SPEC §7): a seeded generator of a B2B SaaS company and mock servers
//! that serve it through each vendor's API shape, so connectors, tests, benches and
//! `tributary demo` run against something that behaves like production without a network.
//!
//! Key types:
//! - [`SimConfig`]: seed, size, the simulated "today" and the [`Faults`] to inject.
//! - [`Company`]: generated accounts, contacts and deals ([`SimAccount`], [`SimContact`],
//!   [`SimDeal`]); [`Company::truth`] summarises what a correct sync must land ([`Truth`]).
//! - [`MockServer`]: any axum router served on a loopback port until dropped.
//! - [`hubspot`]: the HubSpot CRM v3 mock ([`hubspot::router`]).
//!
//! Generation is deterministic: the same seed gives byte-identical data, and each concern draws
//! from its own named random stream so that deepening the simulation later (courses, usage,
//! tickets, the training twin of §7) does not change what existing seeds produce.
//!
//! What it must not do: be used by library code paths (only tests, benches and the binary's
//! `demo` / `sim` commands depend on it); reach the network beyond the loopback socket it
//! binds; or depend on the store, sync engine, gateway or any connector — the mocks are
//! written from the vendors' documentation, not from our connectors, so that a connector
//! passing against its mock means something.

mod company;
mod config;
pub mod hubspot;
mod names;
mod server;

pub use company::{
    Company, DealMotion, DealStage, SimAccount, SimContact, SimDeal, SimOwner, Truth,
};
pub use config::{Faults, FaultsParseError, SimConfig};
pub use server::MockServer;
