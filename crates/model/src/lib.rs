//! The unified model of Tributary (SPEC §3): the shapes every source is mapped into.
//!
//! Key types:
//! - [`ExternalRef`]: where a record came from (`system`, `instance`, `object`, `external_id`).
//! - [`Money`]: an exact [`rust_decimal::Decimal`] amount with an ISO 4217 [`Currency`].
//! - the entities [`Account`], [`Person`], [`Subscription`], [`RevenueEvent`], [`Course`],
//!   [`Enrollment`], [`UsageEvent`] and [`Ticket`], as a connector emits them.
//! - [`SourceRecord`]: one mapped record plus its provenance and raw payload.
//!
//! Entities refer to each other by [`ExternalRef`] (a contact points at the CRM company it
//! belongs to), never by our own ids: connectors do not know our ids, and resolving a reference
//! to a row is the store's job. Our ids ([`AccountId`] …) are typed UUIDv7 newtypes.
//!
//! This crate does no I/O: no HTTP, no SQL, no files, no environment. It must stay that way so
//! every other crate (connectors, store, gateway, analytics) can depend on it freely.

mod entity;
mod ids;
mod money;

pub use entity::*;
pub use ids::*;
pub use money::*;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a record came from. Unique per source row: the store keys idempotent upserts on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExternalRef {
    /// The vendor system, e.g. `hubspot` or `salesforce`.
    pub system: String,
    /// The connector instance name from `tributary.toml`, e.g. `hubspot-prod`.
    pub instance: String,
    /// The vendor's object type, e.g. `companies` or `Opportunity`.
    pub object: String,
    /// The vendor's id for the row, always kept as a string (some vendors use numbers).
    pub external_id: String,
}

impl ExternalRef {
    /// Builds a reference from its four parts.
    pub fn new(
        system: impl Into<String>,
        instance: impl Into<String>,
        object: impl Into<String>,
        external_id: impl Into<String>,
    ) -> Self {
        Self {
            system: system.into(),
            instance: instance.into(),
            object: object.into(),
            external_id: external_id.into(),
        }
    }
}

impl std::fmt::Display for ExternalRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}/{}/{}",
            self.system, self.instance, self.object, self.external_id
        )
    }
}

/// One record mapped from a source, with the provenance the store keeps for audit and replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// The source row this record came from.
    pub external_ref: ExternalRef,
    /// The vendor's last-modified time for the row, when it reports one.
    pub source_updated_at: Option<DateTime<Utc>>,
    /// The payload exactly as the vendor sent it.
    pub raw: serde_json::Value,
    /// The mapped entity.
    pub entity: Entity,
}

impl SourceRecord {
    /// Which kind of entity this record holds.
    pub fn kind(&self) -> EntityKind {
        self.entity.kind()
    }
}

/// Errors raised when a value breaks a model invariant.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    /// A currency code that is not three ASCII letters.
    #[error("invalid currency code `{0}`: expected three letters such as `USD`")]
    InvalidCurrency(String),
    /// Two amounts in different currencies were combined.
    #[error("currency mismatch: `{0}` and `{1}`")]
    CurrencyMismatch(String, String),
    /// An email address without a local part and a domain.
    #[error("invalid email address `{0}`")]
    InvalidEmail(String),
    /// A required field is empty or missing.
    #[error("required field `{0}` is missing or empty")]
    MissingField(&'static str),
    /// A value outside its allowed range.
    #[error("field `{field}` is invalid: {reason}")]
    InvalidField {
        /// The field name.
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },
}
