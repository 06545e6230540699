//! The schema, one module per domain, merged into the roots.
//!
//! Each domain module owns its output and input types, its `…Query` object (and `…Mutation`
//! where it has one) and the conversion from the store's read types. [`QueryRoot`] and
//! [`MutationRoot`] merge them with async-graphql's `MergedObject`, so a new domain
//! (learning, usage, support, analytics) is a new module and one more member here.
//!
//! A domain module presents; it does not compute. Stored values arrive decoded
//! (`tributary_store::read`), and figures — ARR, the ARR bridge — come from
//! `tributary-analytics`.

pub mod accounts;
pub mod learning;
pub mod ops;
pub mod revenue;

use crate::error::GatewayError;
use crate::loaders::Loaders;
use async_graphql::{Context, MergedObject};
use tributary_store::Store;

// Reads of the unified model and of the sync log. (No doc comment: it would become the
// `Query` type's description in the SDL.)
#[derive(MergedObject, Default, Debug, Clone, Copy)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    accounts::AccountsQuery,
    revenue::RevenueQuery,
    learning::LearningQuery,
    ops::OpsQuery,
);

// Admin operations. They only record intent in the database; workers act on it, so the
// gateway never calls a vendor.
#[derive(MergedObject, Default, Debug, Clone, Copy)]
#[graphql(name = "MutationRoot")]
pub struct MutationRoot(ops::OpsMutation);

/// The store from the schema's data.
pub(crate) fn store<'a>(ctx: &Context<'a>) -> Result<&'a Store, GatewayError> {
    ctx.data_opt::<Store>()
        .ok_or(GatewayError::Misconfigured("the schema has no store"))
}

/// The batching loader from the schema's data.
pub(crate) fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, GatewayError> {
    ctx.data_opt::<Loaders>()
        .ok_or(GatewayError::Misconfigured("the schema has no loader"))
}
