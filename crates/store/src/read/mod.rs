//! Reads, by domain. Every query returns **decoded read types** defined here — model enums
//! ([`Segment`](tributary_model::Segment), [`RevenueEventKind`](tributary_model::RevenueEventKind)
//! …), [`Money`](tributary_model::Money) with exact decimals, UTC times — so no caller parses a
//! stored string, and a row that does not decode is a [`StoreError::Corrupt`] naming its table.
//!
//! - [`accounts`]: accounts (keyset pages), people, subscriptions, deal contacts, external
//!   references.
//! - [`revenue`]: the stored revenue ledger and synced FX rates.
//! - [`ops`]: sync runs, quarantine and the connectors' schedules.
//! - [`learning`]: the course catalog, enrollments of people and of accounts' learners.
//! - [`records`]: stored source records (raw payloads) by external id or update time, for
//!   push sources that answer for what they accepted.
//! - [`aggregates`]: counts and digests over whole tables; the home of rollup aggregates.
//!
//! List paths are single set-based queries (one page plus one `COUNT(*)` with the same
//! filter). The children of many parents — the people of a page of accounts, the external
//! references of any entities — come from [`Store::children_of`], **one** chunked `IN (…)`
//! query per relation whatever the number of parents, so a page never costs a query per row.

pub mod accounts;
pub mod aggregates;
pub mod learning;
pub mod ops;
pub mod records;
pub mod revenue;

use crate::{Store, StoreError};
use futures::future::BoxFuture;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select};
use uuid::Uuid;

/// Bind parameters per `IN (…)` list, under every backend's cap.
const IN_CHUNK: usize = 10_000;

/// A page of rows and the size of the whole filtered set.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows matching the filter, all pages together, when asked for (a `COUNT` costs a scan
    /// the page itself does not).
    pub total: Option<u64>,
    /// Whether a row follows the last one of this page.
    pub has_next: bool,
}

/// A read type that belongs to a parent by the parent's id: people and subscriptions of
/// accounts, deal contacts of subscriptions, external references of any entity. Load them
/// with [`Store::children_of`]. Sealed: only this crate's read types implement it.
pub trait Child: sealed::Sealed + Sized + Send + Sync + 'static {
    /// The relation, for logs and statistics (`people of accounts`).
    const RELATION: &'static str;

    /// The id of the parent this row belongs to; rows returned for a parent always have one.
    fn parent_id(&self) -> Option<Uuid>;

    /// The rows of the given parents. Use [`Store::children_of`].
    #[doc(hidden)]
    fn load<'a>(
        store: &'a Store,
        parents: &'a [Uuid],
    ) -> BoxFuture<'a, Result<Vec<Self>, StoreError>>;
}

mod sealed {
    /// Keeps [`super::Child`] to this crate's read types.
    pub trait Sealed {}
}

impl Store {
    /// How many rows `query` matches, when `count`; `None` (no query) otherwise.
    async fn count_if<E>(&self, count: bool, query: &Select<E>) -> Result<Option<u64>, StoreError>
    where
        E: EntityTrait,
        E::Model: Sync,
    {
        use sea_orm::PaginatorTrait;
        if !count {
            return Ok(None);
        }
        Ok(Some(query.clone().count(self.db()).await?))
    }

    /// The children of `parents` in relation `C`, in the relation's order within each parent
    /// (see each read type). One query per 10,000 distinct parents.
    pub async fn children_of<C: Child>(&self, parents: &[Uuid]) -> Result<Vec<C>, StoreError> {
        C::load(self, parents).await
    }
}

/// The generic children-of query: the rows of `select` (its filters and order) whose
/// `parent` column holds one of `ids`, decoded into `R`. Ids are deduplicated and sent in
/// chunks of [`IN_CHUNK`]; the order of `select` holds within each chunk, so within each
/// parent.
pub(crate) async fn rows_in<E, R>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    parent: E::Column,
    ids: &[Uuid],
) -> Result<Vec<R>, StoreError>
where
    E: EntityTrait,
    R: TryFrom<E::Model, Error = StoreError>,
{
    rows_in_chunks(db, select, parent, ids, IN_CHUNK).await
}

/// [`rows_in`] with `chunk_size` ids per query (tests use small chunks).
async fn rows_in_chunks<E, R>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    parent: E::Column,
    ids: &[Uuid],
    chunk_size: usize,
) -> Result<Vec<R>, StoreError>
where
    E: EntityTrait,
    R: TryFrom<E::Model, Error = StoreError>,
{
    debug_assert!(chunk_size > 0);
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::new();
    for chunk in ids.chunks(chunk_size.max(1)) {
        let rows = select
            .clone()
            .filter(parent.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        for row in rows {
            out.push(R::try_from(row)?);
        }
    }
    Ok(out)
}

/// Implements [`Child`] for a read type: its relation name, its parent column and the query
/// (filters and order) its rows come from.
macro_rules! child {
    ($row:ty, $relation:literal, $entity:ident, $parent:ident, |$r:ident| $parent_id:expr, $select:expr) => {
        impl $crate::read::sealed::Sealed for $row {}

        impl $crate::read::Child for $row {
            const RELATION: &'static str = $relation;

            fn parent_id(&self) -> Option<uuid::Uuid> {
                let $r = self;
                $parent_id
            }

            fn load<'a>(
                store: &'a $crate::Store,
                parents: &'a [uuid::Uuid],
            ) -> futures::future::BoxFuture<'a, Result<Vec<Self>, $crate::StoreError>> {
                Box::pin($crate::read::rows_in(
                    store.db(),
                    $select,
                    $entity::Column::$parent,
                    parents,
                ))
            }
        }
    };
}
pub(crate) use child;

/// An offset or limit as SQL binds it: a signed 64-bit integer. Larger values (a forged
/// cursor) select nothing either way, and would make the driver fail to bind.
pub(crate) fn sql_count(n: u64) -> u64 {
    n.min(i64::MAX as u64)
}

/// The error for a stored value that does not decode.
pub(crate) fn corrupt(table: &'static str, column: &str, value: &str) -> StoreError {
    StoreError::Corrupt {
        table,
        message: format!("unknown `{column}` value `{value}`"),
    }
}

/// Decodes a stored name with `parse`, or names the corrupt value.
pub(crate) fn decode<T>(
    table: &'static str,
    column: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(value).ok_or_else(|| corrupt(table, column, value))
}

/// A stored amount (`× 10⁴`) and currency code as [`tributary_model::Money`].
pub(crate) fn money(
    table: &'static str,
    e4: i64,
    currency: &str,
) -> Result<tributary_model::Money, StoreError> {
    let currency = currency_of(table, currency)?;
    // Written with the currency's decimals (`1200.00` USD, `1200` JPY) when the stored amount
    // is a whole number of its minor unit, as every amount Tributary derives is; a source
    // amount with more decimals keeps them.
    let mut amount = rust_decimal::Decimal::new(e4, crate::money::SCALE).normalize();
    let dp = currency.minor_units();
    if amount.scale() < dp {
        amount.rescale(dp);
    }
    Ok(tributary_model::Money::new(amount, currency))
}

/// A stored currency code.
pub(crate) fn currency_of(
    table: &'static str,
    code: &str,
) -> Result<tributary_model::Currency, StoreError> {
    tributary_model::Currency::parse(code).map_err(|_| corrupt(table, "currency", code))
}

#[cfg(test)]
mod tests;
