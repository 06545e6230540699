//! Aggregates over whole tables: live row counts, the synced content's digest, the ids a
//! connector landed. Rollup aggregates (ARR, usage and learning per account and period) are
//! to live here too, as set-based queries, so that analytics reads sums rather than rows.

use crate::write::{hex_sha256, table_of};
use crate::{Store, StoreError};
use sea_orm::ConnectionTrait;
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, JoinType, Query};
use std::collections::{BTreeMap, BTreeSet};
use tributary_model::EntityKind;

/// Live (not deleted) rows per table, for operators and tests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreCounts {
    /// Live rows per entity kind.
    pub entities: BTreeMap<EntityKind, u64>,
    /// Rows in `external_refs`.
    pub external_refs: u64,
    /// Rows in `raw_payloads`.
    pub raw_payloads: u64,
    /// Rows in `quarantine`.
    pub quarantine: u64,
}

impl Store {
    /// The external ids of the live (not deleted) rows that connector `instance` landed, per
    /// stream that last reported them: what a sync made of the source, for tests that compare
    /// it with the source's own truth. References only linked to (a contact's account not yet
    /// synced) have no row and no stream, and are left out.
    pub async fn live_external_ids(
        &self,
        instance: &str,
    ) -> Result<BTreeMap<String, BTreeSet<String>>, StoreError> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for kind in EntityKind::ALL {
            let q = Query::select()
                .expr_as(Expr::col(("r", "stream")), "stream")
                .expr_as(Expr::col(("r", "external_id")), "external_id")
                .from_as("external_refs", "r")
                .join_as(
                    JoinType::InnerJoin,
                    table_of(kind),
                    "e",
                    Expr::col(("e", "id")).equals(("r", "entity_id")),
                )
                .and_where(Expr::col(("r", "instance")).eq(instance))
                .and_where(Expr::col(("r", "stream")).is_not_null())
                .and_where(Expr::col(("e", "deleted_at")).is_null())
                .to_owned();
            for row in self.db().query_all(&q).await? {
                let stream: String = row.try_get("", "stream")?;
                out.entry(stream)
                    .or_default()
                    .insert(row.try_get("", "external_id")?);
            }
        }
        Ok(out)
    }

    /// Row counts of every table that a sync writes.
    pub async fn counts(&self) -> Result<StoreCounts, StoreError> {
        let mut counts = StoreCounts::default();
        for kind in EntityKind::ALL {
            let q = Query::select()
                .expr_as(Expr::col("id").count(), "n")
                .from(table_of(kind))
                .and_where(Expr::col("deleted_at").is_null())
                .to_owned();
            counts
                .entities
                .insert(kind, count_of(self.db().query_one(&q).await?)?);
        }
        for (table, slot) in [
            ("external_refs", &mut counts.external_refs),
            ("raw_payloads", &mut counts.raw_payloads),
            ("quarantine", &mut counts.quarantine),
        ] {
            let q = Query::select()
                .expr_as(Expr::cust("COUNT(*)"), "n")
                .from(table)
                .to_owned();
            *slot = count_of(self.db().query_one(&q).await?)?;
        }
        Ok(counts)
    }

    /// A digest of the synced content: for every live row, its source references and content
    /// hash, plus the unresolved quarantine, in a canonical order. Two stores that synced the
    /// same source to the same state have equal digests whatever their ids, load order or
    /// backend — how tests prove that faults, crashes and resumes lose or duplicate nothing.
    pub async fn content_digest(&self) -> Result<String, StoreError> {
        let mut lines: Vec<String> = Vec::new();
        for kind in EntityKind::ALL {
            let t = table_of(kind);
            let q = Query::select()
                .expr_as(Expr::col(("r", "system")), "system")
                .expr_as(Expr::col(("r", "instance")), "instance")
                .expr_as(Expr::col(("r", "object")), "object")
                .expr_as(Expr::col(("r", "external_id")), "external_id")
                .expr_as(Expr::col(("e", "content_hash")), "content_hash")
                .from_as("external_refs", "r")
                .join_as(
                    JoinType::InnerJoin,
                    t,
                    "e",
                    Expr::col(("e", "id")).equals(("r", "entity_id")),
                )
                .and_where(Expr::col(("e", "deleted_at")).is_null())
                .to_owned();
            for row in self.db().query_all(&q).await? {
                let get = |c: &str| -> Result<String, StoreError> { Ok(row.try_get("", c)?) };
                lines.push(format!(
                    "{}\t{}:{}/{}/{}\t{}",
                    kind.as_str(),
                    get("system")?,
                    get("instance")?,
                    get("object")?,
                    get("external_id")?,
                    get("content_hash")?
                ));
            }
        }
        let q = Query::select()
            .columns(["connector", "stream", "external_id", "reason"])
            .from("quarantine")
            .and_where(Expr::col("resolved_at").is_null())
            .to_owned();
        for row in self.db().query_all(&q).await? {
            let external_id: Option<String> = row.try_get("", "external_id")?;
            lines.push(format!(
                "quarantine\t{}\t{}\t{}\t{}",
                row.try_get::<String>("", "connector")?,
                row.try_get::<String>("", "stream")?,
                external_id.unwrap_or_default(),
                row.try_get::<String>("", "reason")?
            ));
        }
        lines.sort();
        Ok(hex_sha256(lines.join("\n").as_bytes()))
    }
}

fn count_of(row: Option<sea_orm::QueryResult>) -> Result<u64, StoreError> {
    let n: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}
