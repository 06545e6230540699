//! Writes: the one-transaction batch commit that the sync engine calls after every page.

use crate::{Store, StoreError, money::to_e4};
use chrono::{DateTime, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use tributary_model::{Entity, EntityKind, ExternalRef, SourceRecord, SyncRunId};
use uuid::Uuid;

/// Bind parameters per statement stay under SQLite's 32,766 and PostgreSQL's 65,535 caps
/// (sea-orm#691): statements are chunked to this many values.
const MAX_PARAMS: usize = 30_000;

/// A record that could not be stored, kept with its raw payload and the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineItem {
    /// The vendor id, when known.
    pub external_id: Option<String>,
    /// Why it was quarantined.
    pub reason: String,
    /// The raw payload as text.
    pub payload: String,
}

/// Everything one checkpoint commits, atomically.
#[derive(Debug, Default)]
pub struct CommitBatch {
    /// The connector instance.
    pub connector: String,
    /// The stream.
    pub stream: String,
    /// The run this batch belongs to; its counters are advanced in the same transaction.
    pub run_id: Option<SyncRunId>,
    /// How many items the connector yielded for this batch (for the run's `records_read`).
    pub records_read: u64,
    /// Records to upsert.
    pub records: Vec<SourceRecord>,
    /// Records the connector rejected.
    pub rejects: Vec<QuarantineItem>,
    /// Rows the source deleted.
    pub deletes: Vec<ExternalRef>,
    /// Items the connector read and deliberately did not load ([`CommitOutcome::skipped`]).
    pub skipped: u64,
    /// The stream's new state: `None` leaves it, `Some(Value::Null)` clears it.
    pub state: Option<serde_json::Value>,
    /// This batch ends a full refresh that read the stream to its end: rows of the stream not
    /// seen since the refresh began ([`Store::begin_sweep`]) are marked deleted, in the same
    /// transaction.
    pub complete_full_refresh: bool,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    /// Rows inserted or changed.
    pub written: u64,
    /// Rows that were already stored with identical content.
    pub unchanged: u64,
    /// Records sent to quarantine (rejects plus records failing validation).
    pub quarantined: u64,
    /// Rows marked deleted because the source said so (a delete item).
    pub deleted: u64,
    /// Items read but deliberately not loaded: what the connector skipped (a deal not won),
    /// a record repeated later in the same batch (the later copy is loaded), or a delete of a
    /// row that is not stored or already deleted (e.g. a deal that was never won). With the four above, these account for every item
    /// the connector yielded.
    pub skipped: u64,
    /// Rows a completed full refresh marked deleted because the source no longer lists them;
    /// not items that were read.
    pub swept: u64,
}

impl CommitOutcome {
    /// Adds another outcome to this one.
    pub fn add(&mut self, other: CommitOutcome) {
        self.written += other.written;
        self.unchanged += other.unchanged;
        self.quarantined += other.quarantined;
        self.deleted += other.deleted;
        self.skipped += other.skipped;
        self.swept += other.swept;
    }

    /// The items these figures account for: every record, reject and delete a batch held.
    pub fn accounted(&self) -> u64 {
        self.written + self.unchanged + self.quarantined + self.deleted + self.skipped
    }
}

/// A resolved external reference: the row in `external_refs` and the entity id it maps to.
#[derive(Debug, Clone, Copy)]
struct Resolved {
    ref_id: i64,
    entity_id: Uuid,
}

type RefMap = HashMap<ExternalRef, Resolved>;

impl Store {
    /// Writes a batch and the stream's state in one transaction.
    ///
    /// Records are validated first; a failure goes to quarantine with the reason and the raw
    /// payload, and the rest of the batch is written. Upserts are keyed by [`ExternalRef`] and
    /// only touch rows whose content changed, so re-running a sync changes nothing.
    pub async fn commit_batch(&self, mut batch: CommitBatch) -> Result<CommitOutcome, StoreError> {
        let now = Utc::now();
        let mut quarantine = std::mem::take(&mut batch.rejects);
        // Last write wins for a row repeated within a batch (vendors repeat rows across
        // pages), and PostgreSQL refuses to update one row twice in one statement.
        let mut latest: BTreeMap<ExternalRef, SourceRecord> = BTreeMap::new();
        let mut valid = 0usize;
        for rec in std::mem::take(&mut batch.records) {
            match check(&rec.entity) {
                Ok(()) => {
                    valid += 1;
                    latest.insert(rec.external_ref.clone(), rec);
                }
                Err(reason) => quarantine.push(QuarantineItem {
                    external_id: Some(rec.external_ref.external_id.clone()),
                    reason: format!("{} {}: {reason}", rec.kind().as_str(), rec.external_ref),
                    payload: rec.raw.to_string(),
                }),
            }
        }
        let records: Vec<SourceRecord> = latest.into_values().collect();

        let txn = self.begin_write().await?;
        let mut wanted: Vec<(EntityKind, &ExternalRef)> = Vec::new();
        for r in &records {
            wanted.push((r.kind(), &r.external_ref));
            wanted.extend(r.entity.links());
        }
        let (refs, reserved) = resolve_refs(&txn, &wanted, true, now).await?;

        let mut outcome = CommitOutcome::default();
        let mut by_kind: BTreeMap<EntityKind, Vec<Vec<Value>>> = BTreeMap::new();
        let mut raw_rows = Vec::with_capacity(records.len());
        for r in &records {
            let own = refs[&r.external_ref];
            let hash = hex_sha256(&serde_json::to_vec(&r.entity).map_err(invalid)?);
            let row = entity_row(r, own.entity_id, &refs, &hash, now)?;
            by_kind.entry(r.kind()).or_default().push(row);
            let raw_hash = hex_sha256(r.raw.to_string().as_bytes());
            raw_rows.push(vec![
                own.ref_id.into(),
                Value::Json(Some(Box::new(r.raw.clone()))),
                raw_hash.into(),
                r.source_updated_at.into(),
                batch.run_id.map(|id| id.0).into(),
                now.into(),
            ]);
        }
        for (kind, rows) in by_kind {
            let n = rows.len() as u64;
            let table = table_of(kind);
            let changed = Expr::col((table, "content_hash"))
                .ne(Expr::col(("excluded", "content_hash")))
                .or(Expr::col((table, "deleted_at")).is_not_null());
            let written =
                upsert(&txn, table, columns_of(kind), rows, &["id"], Some(changed)).await?;
            outcome.written += written;
            outcome.unchanged += n - Ord::min(written, n);
        }
        let changed =
            Expr::col(("raw_payloads", "content_hash")).ne(Expr::col(("excluded", "content_hash")));
        upsert(
            &txn,
            "raw_payloads",
            &[
                "ref_id",
                "payload",
                "content_hash",
                "source_updated_at",
                "sync_run_id",
                "fetched_at",
            ],
            raw_rows,
            &["ref_id"],
            Some(changed),
        )
        .await?;

        outcome.deleted = mark_deleted(&txn, &batch.deletes, now).await?;
        // A delete that found no live row, and a record superseded by a later copy in this
        // batch, were read and deliberately not loaded.
        outcome.skipped = batch.skipped
            + (batch.deletes.len() as u64).saturating_sub(outcome.deleted)
            + (valid - records.len()) as u64;

        // Every row this stream reported, good or bad, counts as seen for the sweep.
        let ref_ids: Vec<i64> = records
            .iter()
            .map(|r| refs[&r.external_ref].ref_id)
            .collect();
        let bad_ids: Vec<&str> = quarantine
            .iter()
            .filter_map(|q| q.external_id.as_deref())
            .collect();
        touch_refs(&txn, &batch, &ref_ids, &bad_ids, now).await?;

        outcome.quarantined = quarantine.len() as u64;
        record_quarantine(&txn, &batch, quarantine, now).await?;
        resolve_quarantine(&txn, &batch, &records, now).await?;

        if batch.complete_full_refresh {
            outcome.swept = sweep(&txn, &batch.connector, &batch.stream, now).await?;
        }
        if let Some(state) = batch.state.take() {
            crate::runs::save_state(&txn, &batch.connector, &batch.stream, state, now).await?;
        }
        if let Some(run) = batch.run_id {
            crate::runs::advance_run(&txn, run, batch.records_read, &outcome).await?;
        }
        txn.commit().await?;
        if self.backend() == DbBackend::Postgres && self.growth.grew(reserved) {
            self.refresh_statistics().await?;
        }
        Ok(outcome)
    }

    /// `ANALYZE external_refs`, and remembers how many rows the table then holds.
    async fn refresh_statistics(&self) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        self.db()
            .execute_unprepared("ANALYZE external_refs")
            .await?;
        let rows = self
            .db()
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT reltuples::BIGINT AS n FROM pg_class WHERE relname = 'external_refs'",
            ))
            .await?
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        self.growth.analyzed(u64::try_from(rows).unwrap_or(0));
        tracing::debug!(
            rows,
            ms = started.elapsed().as_millis() as u64,
            "external_refs statistics refreshed"
        );
        Ok(())
    }
}

/// How much `external_refs` grew since its statistics were last refreshed (PostgreSQL).
///
/// The planner chooses the plan of the reference lookup (`system = … AND instance = … AND
/// object = … AND external_id IN (…)`) from the table's statistics. Planned on those of an
/// empty table, it scans the unique index on its first three columns only and filters every
/// reference of the object, a cost that grows with the table: issue 12 measured 114 ms per
/// lookup at 83,000 rows, 0.09 ms after `ANALYZE`. Autovacuum analyses far too late for a
/// first load, so the store refreshes the statistics itself whenever it has reserved at least
/// as many references as the table held at the last refresh (and at least
/// [`ANALYZE_MIN_ROWS`]): a load from empty analyses about log₂ of its size times, each
/// `ANALYZE` a sample of at most 30,000 rows.
#[derive(Debug, Default)]
pub(crate) struct Growth {
    /// Rows at the last refresh, and references reserved since.
    counts: std::sync::Mutex<(u64, u64)>,
}

/// References reserved before the first refresh of a store's life.
pub(crate) const ANALYZE_MIN_ROWS: u64 = 1_000;

impl Growth {
    /// Counts `reserved` new references; true when the statistics are due a refresh (the
    /// count then starts again).
    pub(crate) fn grew(&self, reserved: u64) -> bool {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.1 += reserved;
        let due = reserved > 0 && counts.1 >= Ord::max(counts.0, ANALYZE_MIN_ROWS);
        if due {
            *counts = (counts.0 + counts.1, 0);
        }
        due
    }

    /// The statistics were refreshed with `rows` in the table.
    fn analyzed(&self, rows: u64) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.0 = rows;
    }
}

/// Model validation plus what the store itself needs (amounts it can keep exactly).
fn check(entity: &Entity) -> Result<(), String> {
    entity.validate().map_err(|e| e.to_string())?;
    let amounts = match entity {
        Entity::Subscription(s) => vec![s.arr.amount],
        Entity::RevenueEvent(e) => [e.arr_delta.amount, e.arr_after.amount]
            .into_iter()
            .chain(e.original_delta.as_ref().map(|m| m.amount))
            .collect(),
        _ => vec![],
    };
    for a in amounts {
        to_e4(a).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(e.to_string())
}

pub(crate) fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest.iter() {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    s
}

pub(crate) fn table_of(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Account => "accounts",
        EntityKind::Person => "people",
        EntityKind::Subscription => "subscriptions",
        EntityKind::RevenueEvent => "revenue_events",
        EntityKind::Course => "courses",
        EntityKind::Enrollment => "enrollments",
        EntityKind::UsageEvent => "usage_events",
        EntityKind::Ticket => "tickets",
        EntityKind::DealContact => "deal_contacts",
        EntityKind::FxRate => "fx_rates",
    }
}

const COMMON: [&str; 5] = [
    "id",
    "source_updated_at",
    "content_hash",
    "synced_at",
    "deleted_at",
];

fn columns_of(kind: EntityKind) -> &'static [&'static str] {
    macro_rules! cols {
        ($($c:literal),*) => {{
            const C: &[&str] = &["id", "source_updated_at", "content_hash", "synced_at", "deleted_at", $($c),*];
            C
        }};
    }
    match kind {
        EntityKind::Account => cols!(
            "name",
            "domain",
            "segment",
            "industry",
            "region",
            "owner",
            "seats",
            "created_at"
        ),
        EntityKind::Person => cols!(
            "account_id",
            "name",
            "email",
            "title",
            "role",
            "first_seen_at"
        ),
        EntityKind::Subscription => cols!(
            "account_id",
            "plan",
            "start_date",
            "end_date",
            "arr_e4",
            "currency",
            "status",
            "motion",
            "arr_basis"
        ),
        EntityKind::RevenueEvent => cols!(
            "account_id",
            "subscription_id",
            "event_date",
            "kind",
            "arr_delta_e4",
            "arr_after_e4",
            "currency",
            "original_delta_e4",
            "original_currency",
            "fx_rate",
            "fx_quote",
            "fx_rate_date"
        ),
        EntityKind::Course => cols!("title", "kind", "level", "tags", "features"),
        EntityKind::Enrollment => cols!(
            "person_id",
            "course_id",
            "enrolled_at",
            "started_at",
            "completed_at",
            "status",
            "score",
            "passed",
            "certified"
        ),
        EntityKind::UsageEvent => cols!(
            "person_id",
            "anonymous_id",
            "account_id",
            "event",
            "feature",
            "occurred_at",
            "properties"
        ),
        EntityKind::Ticket => cols!(
            "account_id",
            "requester_id",
            "created_at",
            "solved_at",
            "channel",
            "tags",
            "category"
        ),
        EntityKind::DealContact => cols!("subscription_id", "person_id", "role", "is_primary"),
        EntityKind::FxRate => cols!("base", "currency", "start_date", "rate"),
    }
}

/// The snake_case name serde gives a unit enum variant.
fn enum_name<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    match serde_json::to_value(v).map_err(invalid)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(StoreError::Invalid(format!("not a unit enum: {other}"))),
    }
}

fn json(v: &impl serde::Serialize) -> Result<Value, StoreError> {
    Ok(Value::Json(Some(Box::new(
        serde_json::to_value(v).map_err(invalid)?,
    ))))
}

fn entity_row(
    rec: &SourceRecord,
    id: Uuid,
    refs: &RefMap,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Value>, StoreError> {
    let link = |r: &Option<ExternalRef>| -> Value { r.as_ref().map(|r| refs[r].entity_id).into() };
    let mut row: Vec<Value> = vec![
        id.into(),
        rec.source_updated_at.into(),
        hash.to_owned().into(),
        now.into(),
        Option::<DateTime<Utc>>::None.into(),
    ];
    debug_assert_eq!(row.len(), COMMON.len());
    match &rec.entity {
        Entity::Account(a) => row.extend([
            a.name.clone().into(),
            a.domain.clone().into(),
            a.segment.map(|s| s.as_str().to_owned()).into(),
            a.industry.clone().into(),
            a.region.clone().into(),
            a.owner.clone().into(),
            a.seats.into(),
            a.created_at.into(),
        ]),
        Entity::Person(p) => row.extend([
            link(&p.account),
            p.name.clone().into(),
            p.email.clone().into(),
            p.title.clone().into(),
            p.role.map(|r| r.as_str().to_owned()).into(),
            p.first_seen_at.into(),
        ]),
        Entity::Subscription(s) => row.extend([
            link(&s.account),
            s.plan.clone().into(),
            s.start_date.into(),
            s.end_date.into(),
            to_e4(s.arr.amount)?.into(),
            s.arr.currency.as_str().to_owned().into(),
            s.status.as_str().to_owned().into(),
            s.motion.as_ref().map(enum_name).transpose()?.into(),
            s.arr_basis.map(|b| b.as_str().to_owned()).into(),
        ]),
        Entity::RevenueEvent(e) => {
            if e.arr_delta.currency != e.arr_after.currency {
                return Err(StoreError::Invalid(format!(
                    "revenue event mixes {} and {}",
                    e.arr_delta.currency, e.arr_after.currency
                )));
            }
            row.extend([
                link(&e.account),
                link(&e.subscription),
                e.date.into(),
                enum_name(&e.kind)?.into(),
                to_e4(e.arr_delta.amount)?.into(),
                to_e4(e.arr_after.amount)?.into(),
                e.arr_after.currency.as_str().to_owned().into(),
                e.original_delta
                    .as_ref()
                    .map(|m| to_e4(m.amount))
                    .transpose()?
                    .into(),
                e.original_delta
                    .as_ref()
                    .map(|m| m.currency.as_str().to_owned())
                    .into(),
                e.fx.map(|f| f.rate.to_string()).into(),
                e.fx.map(|f| f.quote.as_str().to_owned()).into(),
                e.fx.and_then(|f| f.rate_date).into(),
            ])
        }
        Entity::Course(c) => row.extend([
            c.title.clone().into(),
            enum_name(&c.kind)?.into(),
            enum_name(&c.level)?.into(),
            json(&c.tags)?,
            json(&c.features)?,
        ]),
        Entity::Enrollment(e) => row.extend([
            link(&e.person),
            link(&e.course),
            e.enrolled_at.into(),
            e.started_at.into(),
            e.completed_at.into(),
            enum_name(&e.status)?.into(),
            e.score.map(|s| s.to_string()).into(),
            e.passed.into(),
            e.certified.into(),
        ]),
        Entity::UsageEvent(u) => row.extend([
            link(&u.person),
            u.anonymous_id.clone().into(),
            link(&u.account),
            u.event.clone().into(),
            u.feature.clone().into(),
            u.occurred_at.into(),
            json(&u.properties)?,
        ]),
        Entity::Ticket(t) => row.extend([
            link(&t.account),
            link(&t.requester),
            t.created_at.into(),
            t.solved_at.into(),
            t.channel.clone().into(),
            json(&t.tags)?,
            enum_name(&t.category)?.into(),
        ]),
        Entity::DealContact(d) => row.extend([
            link(&d.subscription),
            link(&d.person),
            d.role.clone().into(),
            d.primary.into(),
        ]),
        Entity::FxRate(r) => row.extend([
            r.base.as_str().to_owned().into(),
            r.currency.as_str().to_owned().into(),
            r.start_date.into(),
            // Text keeps every digit a source sends (rates carry up to 9 decimals).
            r.rate.normalize().to_string().into(),
        ]),
    }
    debug_assert_eq!(row.len(), columns_of(rec.kind()).len());
    Ok(row)
}

/// Looks up (and with `reserve`, creates) the `external_refs` rows of `wanted`.
async fn resolve_refs<C: ConnectionTrait>(
    db: &C,
    wanted: &[(EntityKind, &ExternalRef)],
    reserve: bool,
    now: DateTime<Utc>,
) -> Result<(RefMap, u64), StoreError> {
    let mut kinds: HashMap<&ExternalRef, EntityKind> = HashMap::new();
    for (k, r) in wanted {
        kinds.entry(*r).or_insert(*k);
    }
    let keys: Vec<&ExternalRef> = kinds.keys().copied().collect();
    let mut found = lookup_refs(db, &keys).await?;
    let mut reserved = 0;
    if reserve {
        let missing: Vec<&ExternalRef> = keys
            .iter()
            .copied()
            .filter(|r| !found.contains_key(*r))
            .collect();
        if !missing.is_empty() {
            let rows = missing
                .iter()
                .map(|r| {
                    vec![
                        r.system.clone().into(),
                        r.instance.clone().into(),
                        r.object.clone().into(),
                        r.external_id.clone().into(),
                        kinds[*r].as_str().to_owned().into(),
                        Uuid::now_v7().into(),
                        now.into(),
                    ]
                })
                .collect();
            // A concurrent writer may reserve the same ref first; then its id wins and the
            // lookup below returns it.
            upsert(
                db,
                "external_refs",
                &[
                    "system",
                    "instance",
                    "object",
                    "external_id",
                    "entity_kind",
                    "entity_id",
                    "created_at",
                ],
                rows,
                &["system", "instance", "object", "external_id"],
                None,
            )
            .await?;
            found.extend(lookup_refs(db, &missing).await?);
            reserved = missing.len() as u64;
        }
    }
    Ok((found, reserved))
}

async fn lookup_refs<C: ConnectionTrait>(
    db: &C,
    keys: &[&ExternalRef],
) -> Result<RefMap, StoreError> {
    let mut groups: BTreeMap<(&str, &str, &str), Vec<&str>> = BTreeMap::new();
    for r in keys {
        groups
            .entry((&r.system, &r.instance, &r.object))
            .or_default()
            .push(&r.external_id);
    }
    let backend = db.get_database_backend();
    let mut out = RefMap::new();
    for ((system, instance, object), ids) in groups {
        for chunk in ids.chunks(MAX_PARAMS - 3) {
            let rows = if backend == DbBackend::Postgres {
                db.query_all_raw(lookup_by_key(system, instance, object, chunk))
                    .await?
            } else {
                let q = Query::select()
                    .columns(["id", "external_id", "entity_id"])
                    .from("external_refs")
                    .and_where(Expr::col("system").eq(system))
                    .and_where(Expr::col("instance").eq(instance))
                    .and_where(Expr::col("object").eq(object))
                    .and_where(Expr::col("external_id").is_in(chunk.iter().copied()))
                    .to_owned();
                db.query_all(&q).await?
            };
            for row in rows {
                let external_id: String = row.try_get("", "external_id")?;
                out.insert(
                    ExternalRef::new(system, instance, object, external_id),
                    Resolved {
                        ref_id: row.try_get("", "id")?,
                        entity_id: row.try_get("", "entity_id")?,
                    },
                );
            }
        }
    }
    Ok(out)
}

/// The PostgreSQL lookup of `ids` of one object: one probe of the unique index per id, by
/// all four of its columns, whatever the statistics say. The plain `external_id IN (…)` form
/// lets the planner probe the index by its first three columns and filter the ids, which it
/// does whenever the statistics predate the object (a new stream's first pages, when
/// `object = 'deals'` is estimated at one row): every lookup then reads every reference of
/// the object, 73 ms at 50,000 deals instead of well under one.
fn lookup_by_key(system: &str, instance: &str, object: &str, ids: &[&str]) -> Statement {
    let keys = (0..ids.len())
        .map(|i| format!("(${}::text)", i + 4))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT r.id, r.external_id, r.entity_id FROM (VALUES {keys}) AS k(external_id) \
         CROSS JOIN LATERAL (SELECT id, external_id, entity_id FROM external_refs \
         WHERE system = $1 AND instance = $2 AND object = $3 AND external_id = k.external_id) AS r"
    );
    let values = [system, instance, object]
        .into_iter()
        .chain(ids.iter().copied())
        .map(|v| Value::from(v.to_owned()));
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

async fn mark_deleted<C: ConnectionTrait>(
    db: &C,
    deletes: &[ExternalRef],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if deletes.is_empty() {
        return Ok(0);
    }
    let keys: Vec<&ExternalRef> = deletes.iter().collect();
    let found = lookup_refs(db, &keys).await?;
    let ids: Vec<Uuid> = found.values().map(|r| r.entity_id).collect();
    let mut deleted = 0;
    for kind in EntityKind::ALL {
        for chunk in ids.chunks(MAX_PARAMS) {
            let q = Query::update()
                .table(table_of(kind))
                .value("deleted_at", now)
                .and_where(Expr::col("id").is_in(chunk.iter().copied()))
                .and_where(Expr::col("deleted_at").is_null())
                .to_owned();
            deleted += db.execute(&q).await?.rows_affected();
        }
    }
    Ok(deleted)
}

/// `INSERT … ON CONFLICT (conflict) DO UPDATE SET <every other column> WHERE changed`, or
/// `DO NOTHING` without `changed`, chunked under the bind-parameter caps. Returns the rows
/// inserted or updated.
async fn upsert<C: ConnectionTrait>(
    db: &C,
    table: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Value>>,
    conflict: &[&'static str],
    changed: Option<Expr>,
) -> Result<u64, DbErr> {
    let update: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| !conflict.contains(c))
        .collect();
    let mut on_conflict = OnConflict::columns(conflict.iter().copied());
    match changed {
        Some(cond) => {
            on_conflict.update_columns(update).action_and_where(cond);
        }
        None => {
            on_conflict.do_nothing();
        }
    }
    let mut affected = 0;
    let per_chunk = (MAX_PARAMS / columns.len()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut q = Query::insert();
        q.into_table(table)
            .columns(columns.iter().copied())
            .on_conflict(on_conflict.clone());
        for row in rows.by_ref().take(per_chunk) {
            q.values(row.into_iter().map(Expr::val))
                .map_err(|e| DbErr::Custom(format!("bad row for `{table}`: {e}")))?;
        }
        affected += db.execute(&q).await?.rows_affected();
    }
    Ok(affected)
}

/// Records that the stream reported these rows now (landed ones by ref id, bad ones by
/// external id), so a full refresh can tell which rows vanished at the source.
async fn touch_refs<C: ConnectionTrait>(
    db: &C,
    batch: &CommitBatch,
    ref_ids: &[i64],
    bad_external_ids: &[&str],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in ref_ids.chunks(MAX_PARAMS - 2) {
        let q = Query::update()
            .table("external_refs")
            .values([
                ("stream", batch.stream.as_str().into()),
                ("last_seen_at", now.into()),
            ])
            .and_where(Expr::col("id").is_in(chunk.iter().copied()))
            .to_owned();
        db.execute(&q).await?;
    }
    for chunk in bad_external_ids.chunks(MAX_PARAMS - 3) {
        let q = Query::update()
            .table("external_refs")
            .value("last_seen_at", now)
            .and_where(Expr::col("instance").eq(batch.connector.as_str()))
            .and_where(Expr::col("stream").eq(batch.stream.as_str()))
            .and_where(Expr::col("external_id").is_in(chunk.iter().copied()))
            .to_owned();
        db.execute(&q).await?;
    }
    Ok(())
}

/// Ends a full refresh: rows the stream wrote before but did not report since the refresh
/// began are marked deleted, and the marker is cleared. A refresh that saw nothing at all
/// while rows exist deletes nothing and says so: an empty answer from a vendor is far more
/// often an outage or a permission change than a real mass deletion.
async fn sweep<C: ConnectionTrait>(
    db: &C,
    connector: &str,
    stream: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let marker = Query::select()
        .column("sweep_started_at")
        .from("sync_state")
        .and_where(Expr::col("connector").eq(connector))
        .and_where(Expr::col("stream").eq(stream))
        .to_owned();
    let started: Option<DateTime<Utc>> = match db.query_one(&marker).await? {
        Some(row) => row.try_get("", "sweep_started_at")?,
        None => None,
    };
    let Some(started) = started else {
        return Ok(0);
    };
    let stale = Expr::col("instance")
        .eq(connector)
        .and(Expr::col("stream").eq(stream))
        .and(
            Expr::col("last_seen_at")
                .is_null()
                .or(Expr::col("last_seen_at").lt(started)),
        );
    let seen = Query::select()
        .expr_as(Expr::cust("COUNT(*)"), "n")
        .from("external_refs")
        .and_where(Expr::col("instance").eq(connector))
        .and_where(Expr::col("stream").eq(stream))
        .and_where(Expr::col("last_seen_at").gte(started))
        .to_owned();
    let seen: i64 = match db.query_one(&seen).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    let mut deleted = 0;
    if seen == 0 {
        tracing::warn!(
            connector,
            stream,
            "full refresh saw no rows; not marking any row deleted"
        );
    } else {
        for kind in EntityKind::ALL {
            let q = Query::update()
                .table(table_of(kind))
                .value("deleted_at", now)
                .and_where(Expr::col("deleted_at").is_null())
                .and_where(
                    Expr::col("id").in_subquery(
                        Query::select()
                            .column("entity_id")
                            .from("external_refs")
                            .and_where(stale.clone())
                            .to_owned(),
                    ),
                )
                .to_owned();
            deleted += db.execute(&q).await?.rows_affected();
        }
    }
    let clear = Query::update()
        .table("sync_state")
        .value("sweep_started_at", Option::<DateTime<Utc>>::None)
        .and_where(Expr::col("connector").eq(connector))
        .and_where(Expr::col("stream").eq(stream))
        .to_owned();
    db.execute(&clear).await?;
    if deleted > 0 {
        tracing::info!(
            connector,
            stream,
            deleted,
            "full refresh marked rows not seen as deleted"
        );
    }
    Ok(deleted)
}

/// Adds bad records to quarantine. A record already quarantined by an earlier run (same
/// connector, stream and external id) gets its reason, payload and run refreshed and its
/// `occurrences` counted up instead of a second row.
async fn record_quarantine<C: ConnectionTrait>(
    db: &C,
    batch: &CommitBatch,
    items: Vec<QuarantineItem>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // PostgreSQL refuses to touch one row twice in a statement: keep the last of duplicates.
    let mut keyed: BTreeMap<String, QuarantineItem> = BTreeMap::new();
    let mut anonymous = Vec::new();
    for item in items {
        match &item.external_id {
            Some(id) => {
                keyed.insert(id.clone(), item);
            }
            None => anonymous.push(item),
        }
    }
    let rows = keyed
        .into_values()
        .chain(anonymous)
        .map(|q| {
            vec![
                batch.run_id.map(|id| id.0).into(),
                batch.connector.clone().into(),
                batch.stream.clone().into(),
                q.external_id.into(),
                q.reason.into(),
                q.payload.into(),
                now.into(),
                now.into(),
                1i64.into(),
                Option::<DateTime<Utc>>::None.into(),
            ]
        })
        .collect::<Vec<Vec<Value>>>();
    let columns: &[&str] = &[
        "sync_run_id",
        "connector",
        "stream",
        "external_id",
        "reason",
        "payload",
        "created_at",
        "last_seen_at",
        "occurrences",
        "resolved_at",
    ];
    let mut on_conflict = OnConflict::columns(["connector", "stream", "external_id"]);
    on_conflict
        .update_columns([
            "sync_run_id",
            "reason",
            "payload",
            "last_seen_at",
            "resolved_at",
        ])
        .value(
            "occurrences",
            Expr::col(("quarantine", "occurrences")).add(1),
        );
    let per_chunk = MAX_PARAMS / columns.len();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut q = Query::insert();
        q.into_table("quarantine")
            .columns(columns.iter().copied())
            .on_conflict(on_conflict.clone());
        for row in rows.by_ref().take(per_chunk) {
            q.values(row.into_iter().map(Expr::val))
                .map_err(|e| DbErr::Custom(format!("bad row for `quarantine`: {e}")))?;
        }
        db.execute(&q).await?;
    }
    Ok(())
}

/// A record that lands after having been quarantined resolves its quarantine entry.
async fn resolve_quarantine<C: ConnectionTrait>(
    db: &C,
    batch: &CommitBatch,
    landed: &[SourceRecord],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let ids: Vec<&str> = landed
        .iter()
        .map(|r| r.external_ref.external_id.as_str())
        .collect();
    for chunk in ids.chunks(MAX_PARAMS - 2) {
        let q = Query::update()
            .table("quarantine")
            .value("resolved_at", now)
            .and_where(Expr::col("connector").eq(batch.connector.as_str()))
            .and_where(Expr::col("stream").eq(batch.stream.as_str()))
            .and_where(Expr::col("resolved_at").is_null())
            .and_where(Expr::col("external_id").is_in(chunk.iter().copied()))
            .to_owned();
        db.execute(&q).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{ANALYZE_MIN_ROWS, Growth};
    use crate::CommitBatch;
    use crate::testing::TestDatabase;
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    use tributary_model::{Account, Entity, ExternalRef, SourceRecord};

    /// On PostgreSQL, a first load refreshes the reference table's statistics itself, so its
    /// lookups are not planned on those of an empty table (`reltuples` is -1 until then).
    #[tokio::test]
    async fn a_first_load_on_postgres_analyses_the_references_it_reserved() {
        let Some(db) = TestDatabase::postgres().await.expect("postgres") else {
            return;
        };
        let store = db.store().await.expect("store");
        let estimate = async || {
            let row = store
                .db()
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT reltuples::BIGINT AS n FROM pg_class WHERE relname = 'external_refs'",
                ))
                .await
                .expect("pg_class")
                .expect("a row");
            row.try_get::<i64>("", "n").expect("n")
        };
        assert!(estimate().await <= 0, "never analysed before the load");
        let records = (0..ANALYZE_MIN_ROWS)
            .map(|i| SourceRecord {
                external_ref: ExternalRef::new("hubspot", "hs", "companies", i.to_string()),
                source_updated_at: None,
                raw: serde_json::json!({ "id": i }),
                entity: Entity::Account(Account {
                    name: format!("Company {i}"),
                    domain: None,
                    segment: None,
                    industry: None,
                    region: None,
                    owner: None,
                    seats: None,
                    created_at: None,
                }),
            })
            .collect::<Vec<_>>();
        let batch = CommitBatch {
            connector: "hs".into(),
            stream: "companies".into(),
            records_read: records.len() as u64,
            records,
            ..Default::default()
        };
        store.commit_batch(batch).await.expect("commit");
        assert_eq!(estimate().await, ANALYZE_MIN_ROWS as i64);
        db.cleanup().await.expect("cleanup");
    }

    #[test]
    fn statistics_are_refreshed_each_time_the_references_double() {
        let growth = Growth::default();
        assert!(!growth.grew(0));
        assert!(!growth.grew(ANALYZE_MIN_ROWS - 1));
        assert!(growth.grew(1), "the first thousand references");
        growth.analyzed(1_000);
        assert!(!growth.grew(999));
        assert!(growth.grew(1), "the table doubled");
        growth.analyzed(2_000);
        assert!(!growth.grew(1_999));
        assert!(growth.grew(5), "and again");
        // A store that meets a table already large waits for it to double from what the
        // refresh found, not from what this process wrote.
        growth.analyzed(1_000_000);
        assert!(!growth.grew(500_000));
        assert!(!growth.grew(0), "nothing reserved: nothing to refresh");
        assert!(growth.grew(500_000));
    }
}
