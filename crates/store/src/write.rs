//! Writes: the one-transaction batch commit that the sync engine calls after every page.

use crate::{Store, StoreError, money::to_e4};
use chrono::{DateTime, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use tributary_model::{Entity, EntityKind, ExternalRef, SourceRecord, SyncRunId};
use uuid::Uuid;

/// Bind parameters per statement stay under SQLite's 32,766 and PostgreSQL's 65,535 caps
/// (sea-orm#691): statements are chunked to this many values.
const MAX_PARAMS: usize = 30_000;

/// `= ANY` of the ids in the JSON array bound as parameter `$n` on PostgreSQL: one statement
/// text for any number of ids, probing the primary key once per id.
fn pg_any_id(n: usize) -> String {
    format!("= ANY(ARRAY(SELECT json_array_elements_text(${n}::json)::bigint))")
}

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
    /// The source can send this batch again (a pull sync re-reads from its last checkpoint),
    /// so on PostgreSQL it commits without waiting for the WAL flush
    /// (`synchronous_commit = off` for this transaction only): a server crash may lose the
    /// last such commits, each with its checkpoint — never data without its checkpoint or the
    /// reverse — and the next run reads them again. Leave it false for anything acknowledged
    /// to a client (push sources).
    pub replayable: bool,
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
        if batch.replayable && self.backend() == DbBackend::Postgres {
            txn.execute_unprepared("SET LOCAL synchronous_commit = off")
                .await?;
        }
        let mut wanted: Vec<(EntityKind, &ExternalRef)> = Vec::new();
        for r in &records {
            wanted.push((r.kind(), &r.external_ref));
            wanted.extend(r.entity.links());
        }
        let own: HashSet<&ExternalRef> = records.iter().map(|r| &r.external_ref).collect();
        let resolved = resolve_refs(
            &txn,
            &wanted,
            Some(Reserve {
                own: &own,
                stream: &batch.stream,
            }),
            now,
        )
        .await?;
        let refs = &resolved.refs;
        // What is stored for the records whose references existed before this batch: a
        // record whose entity and raw payload hash as stored is not written again.
        let mut known: BTreeMap<EntityKind, Vec<i64>> = BTreeMap::new();
        for r in &records {
            let id = refs[&r.external_ref].ref_id;
            if !resolved.inserted.contains(&id) {
                known.entry(r.kind()).or_default().push(id);
            }
        }
        let stored = stored_hashes(&txn, &known).await?;

        let mut outcome = CommitOutcome::default();
        let mut by_kind: BTreeMap<EntityKind, Vec<Vec<Value>>> = BTreeMap::new();
        let mut raw_rows = Vec::with_capacity(records.len());
        for r in &records {
            let own = refs[&r.external_ref];
            let before = stored.get(&own.ref_id);
            let hash = hex_sha256(&serde_json::to_vec(&r.entity).map_err(invalid)?);
            if before.is_some_and(|b| b.live && b.content_hash == hash) {
                outcome.unchanged += 1;
            } else {
                let row = entity_row(r, own.entity_id, refs, &hash, now)?;
                by_kind.entry(r.kind()).or_default().push(row);
            }
            // The payload is serialised once: its text is hashed and stored as it is.
            let raw = r.raw.to_string();
            let raw_hash = hex_sha256(raw.as_bytes());
            if before.and_then(|b| b.raw_hash.as_deref()) != Some(raw_hash.as_str()) {
                raw_rows.push(vec![
                    own.ref_id.into(),
                    raw.into(),
                    raw_hash.into(),
                    r.source_updated_at.into(),
                    batch.run_id.map(|id| id.0).into(),
                    now.into(),
                ]);
            }
        }
        for (kind, rows) in by_kind {
            let n = rows.len() as u64;
            let table = table_of(kind);
            let changed = format!(
                "{table}.content_hash <> excluded.content_hash OR {table}.deleted_at IS NOT NULL"
            );
            let written =
                upsert(&txn, table, columns_of(kind), rows, &["id"], Some(&changed)).await?;
            outcome.written += written;
            outcome.unchanged += n - Ord::min(written, n);
        }
        upsert(
            &txn,
            "raw_payloads",
            RAW_COLUMNS,
            raw_rows,
            &["ref_id"],
            Some("raw_payloads.content_hash <> excluded.content_hash"),
        )
        .await?;

        outcome.deleted = mark_deleted(&txn, &batch.deletes, now).await?;
        // A delete that found no live row, and a record superseded by a later copy in this
        // batch, were read and deliberately not loaded.
        outcome.skipped = batch.skipped
            + (batch.deletes.len() as u64).saturating_sub(outcome.deleted)
            + (valid - records.len()) as u64;

        // Every row this stream reported, good or bad, counts as seen for the sweep (the
        // references this batch created were stamped as they were created).
        let ref_ids: Vec<i64> = records
            .iter()
            .map(|r| refs[&r.external_ref].ref_id)
            .filter(|id| !resolved.inserted.contains(id))
            .collect();
        let bad_ids: Vec<&str> = quarantine
            .iter()
            .filter_map(|q| q.external_id.as_deref())
            .collect();
        // Only a full refresh in progress (its marker set) reads when a row was last seen;
        // outside one, stamping every reference would rewrite a row per record for nothing
        // (on PostgreSQL a new tuple and an entry in each of the table's indexes), so only
        // references first reserved as another record's link are claimed for the stream.
        let sweeping = sweep_started(&txn, &batch.connector, &batch.stream)
            .await?
            .is_some();
        touch_refs(&txn, &batch, &ref_ids, &bad_ids, sweeping.then_some(now)).await?;

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
        if self.backend() == DbBackend::Postgres && self.growth.grew(resolved.reserved) {
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
        EntityKind::LearningEvent => "learning_events",
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
            "first_seen_at",
            "hints"
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
        EntityKind::LearningEvent => cols!(
            "person_id",
            "course_id",
            "verb",
            "occurred_at",
            "stored_at",
            "score",
            "success",
            "completion",
            "registration",
            "voided"
        ),
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
            if p.hints.is_empty() {
                Value::Json(None)
            } else {
                json(&p.hints)?
            },
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
        Entity::LearningEvent(e) => row.extend([
            link(&e.person),
            link(&e.course),
            e.verb.clone().into(),
            e.occurred_at.into(),
            e.stored_at.into(),
            e.score.map(|s| s.normalize().to_string()).into(),
            e.success.into(),
            e.completion.into(),
            e.registration.clone().into(),
            e.voided.into(),
        ]),
    }
    debug_assert_eq!(row.len(), columns_of(rec.kind()).len());
    Ok(row)
}

/// References to create when missing: the batch's own records' are stamped with the stream
/// and as seen now; references only linked to (a contact's company not yet read) are not.
struct Reserve<'a> {
    own: &'a HashSet<&'a ExternalRef>,
    stream: &'a str,
}

/// The references of a batch.
struct ResolvedRefs {
    refs: RefMap,
    /// Ids of the references this batch created.
    inserted: HashSet<i64>,
    /// How many it created.
    reserved: u64,
}

/// Looks up (and with `reserve`, creates) the `external_refs` rows of `wanted`.
async fn resolve_refs<C: ConnectionTrait>(
    db: &C,
    wanted: &[(EntityKind, &ExternalRef)],
    reserve: Option<Reserve<'_>>,
    now: DateTime<Utc>,
) -> Result<ResolvedRefs, StoreError> {
    let mut kinds: HashMap<&ExternalRef, EntityKind> = HashMap::new();
    for (k, r) in wanted {
        kinds.entry(*r).or_insert(*k);
    }
    let keys: Vec<&ExternalRef> = kinds.keys().copied().collect();
    let mut found = lookup_refs(db, &keys).await?;
    let mut inserted = HashSet::new();
    if let Some(reserve) = reserve {
        let missing: Vec<&ExternalRef> = keys
            .iter()
            .copied()
            .filter(|r| !found.contains_key(*r))
            .collect();
        if !missing.is_empty() {
            let rows = missing
                .iter()
                .map(|r| {
                    let own = reserve.own.contains(*r);
                    vec![
                        r.system.clone().into(),
                        r.instance.clone().into(),
                        r.object.clone().into(),
                        r.external_id.clone().into(),
                        kinds[*r].as_str().to_owned().into(),
                        Uuid::now_v7().into(),
                        now.into(),
                        own.then(|| reserve.stream.to_owned()).into(),
                        own.then_some(now).into(),
                    ]
                })
                .collect();
            // A concurrent writer may reserve the same ref first; then its row is not
            // returned here, and the lookup below finds it.
            let created = insert_returning(
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
                    "stream",
                    "last_seen_at",
                ],
                rows,
                &["system", "instance", "object", "external_id"],
                &[
                    "id",
                    "system",
                    "instance",
                    "object",
                    "external_id",
                    "entity_id",
                ],
            )
            .await?;
            for row in created {
                let r = ExternalRef::new(
                    row.try_get::<String>("", "system")?,
                    row.try_get::<String>("", "instance")?,
                    row.try_get::<String>("", "object")?,
                    row.try_get::<String>("", "external_id")?,
                );
                let resolved = Resolved {
                    ref_id: row.try_get("", "id")?,
                    entity_id: row.try_get("", "entity_id")?,
                };
                inserted.insert(resolved.ref_id);
                found.insert(r, resolved);
            }
            let raced: Vec<&ExternalRef> = missing
                .into_iter()
                .filter(|r| !found.contains_key(*r))
                .collect();
            if !raced.is_empty() {
                found.extend(lookup_refs(db, &raced).await?);
            }
        }
    }
    Ok(ResolvedRefs {
        refs: found,
        reserved: inserted.len() as u64,
        inserted,
    })
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
        let mut rows = Vec::new();
        if backend == DbBackend::Postgres {
            rows = db
                .query_all_raw(lookup_by_key(system, instance, object, &ids)?)
                .await?;
        } else {
            for chunk in ids.chunks(MAX_PARAMS - 3) {
                let q = Query::select()
                    .columns(["id", "external_id", "entity_id"])
                    .from("external_refs")
                    .and_where(Expr::col("system").eq(system))
                    .and_where(Expr::col("instance").eq(instance))
                    .and_where(Expr::col("object").eq(object))
                    .and_where(Expr::col("external_id").is_in(chunk.iter().copied()))
                    .to_owned();
                rows.extend(db.query_all(&q).await?);
            }
        }
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
    Ok(out)
}

/// The PostgreSQL lookup of `ids` of one object: one probe of the unique index per id, by
/// all four of its columns, whatever the statistics say. The plain `external_id IN (…)` form
/// lets the planner probe the index by its first three columns and filter the ids, which it
/// does whenever the statistics predate the object (a new stream's first pages, when
/// `object = 'deals'` is estimated at one row): every lookup then reads every reference of
/// the object, 73 ms at 50,000 deals instead of well under one. The ids travel as one JSON
/// array, so the statement's text is the same for any batch and stays prepared. `LIMIT 1`
/// (exact: the four columns are unique) keeps the planner from pulling the lateral subquery up
/// into a plain join, which it may then run as a hash join over every reference of the
/// object: at 100,000 accounts that turned each lookup of a contact into a scan of 676,000
/// references spilling to disk, and deal contacts loaded at a third of their rate.
fn lookup_by_key(
    system: &str,
    instance: &str,
    object: &str,
    ids: &[&str],
) -> Result<Statement, StoreError> {
    let sql = "SELECT r.id, r.external_id, r.entity_id \
         FROM json_array_elements_text($4::json) AS k(external_id) \
         CROSS JOIN LATERAL (SELECT id, external_id, entity_id FROM external_refs \
         WHERE system = $1 AND instance = $2 AND object = $3 AND external_id = k.external_id \
         LIMIT 1) AS r";
    let values: [Value; 4] = [
        system.into(),
        instance.into(),
        object.into(),
        serde_json::to_string(ids).map_err(invalid)?.into(),
    ];
    Ok(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
}

/// What the store holds for a record already known: its entity's content hash, whether
/// the entity is live, and the hash of its raw payload.
struct Stored {
    content_hash: String,
    live: bool,
    raw_hash: Option<String>,
}

/// The stored hashes of the entities behind these references, by reference id.
async fn stored_hashes<C: ConnectionTrait>(
    db: &C,
    known: &BTreeMap<EntityKind, Vec<i64>>,
) -> Result<HashMap<i64, Stored>, StoreError> {
    let backend = db.get_database_backend();
    let mut out = HashMap::new();
    for (kind, ids) in known {
        let table = table_of(*kind);
        let select = format!(
            "SELECT r.id, e.content_hash, e.deleted_at IS NULL AS live, p.content_hash AS raw_hash \
             FROM external_refs r JOIN {table} e ON e.id = r.entity_id \
             LEFT JOIN raw_payloads p ON p.ref_id = r.id WHERE r.id"
        );
        let mut rows = Vec::new();
        if backend == DbBackend::Postgres {
            let sql = format!("{select} {}", pg_any_id(1));
            let ids = serde_json::to_string(ids).map_err(invalid)?;
            rows = db
                .query_all_raw(Statement::from_sql_and_values(backend, sql, [ids.into()]))
                .await?;
        } else {
            for chunk in ids.chunks(MAX_PARAMS) {
                let marks = vec!["?"; chunk.len()].join(",");
                let sql = format!("{select} IN ({marks})");
                let values = chunk.iter().map(|id| Value::from(*id));
                rows.extend(
                    db.query_all_raw(Statement::from_sql_and_values(backend, sql, values))
                        .await?,
                );
            }
        }
        for row in rows {
            out.insert(
                row.try_get::<i64>("", "id")?,
                Stored {
                    content_hash: row.try_get("", "content_hash")?,
                    live: row.try_get("", "live")?,
                    raw_hash: row.try_get("", "raw_hash")?,
                },
            );
        }
    }
    Ok(out)
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

/// The columns of `raw_payloads`; `payload` is bound as the JSON text it was hashed from.
const RAW_COLUMNS: &[&str] = &[
    "ref_id",
    "payload",
    "content_hash",
    "source_updated_at",
    "sync_run_id",
    "fetched_at",
];

/// Columns whose values are bound as JSON text already serialised, never serialised again.
const JSON_TEXT_COLUMNS: &[&str] = &["payload"];

/// `INSERT … ON CONFLICT (conflict) DO UPDATE SET <every other column> WHERE changed`, or
/// `DO NOTHING` without `changed`. Returns the rows inserted or updated.
///
/// On PostgreSQL the rows travel as one JSON array and are unpacked by
/// `json_populate_recordset` into the table's own row type: one statement per table and
/// batch, whatever its size, whose text never changes (so it stays prepared), with no cap on
/// bind parameters. On SQLite, multi-row `VALUES`, chunked under its bind-parameter cap.
async fn upsert<C: ConnectionTrait>(
    db: &C,
    table: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Value>>,
    conflict: &[&'static str],
    changed: Option<&str>,
) -> Result<u64, DbErr> {
    if rows.is_empty() {
        return Ok(0);
    }
    if db.get_database_backend() == DbBackend::Postgres {
        let sql = pg_upsert_sql(table, columns, conflict, changed, &[]);
        let stmt = Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [json_rows(columns, &rows)?.into()],
        );
        return Ok(db.execute_raw(stmt).await?.rows_affected());
    }
    let mut affected = 0;
    for q in values_inserts(table, columns, rows, conflict, changed)? {
        affected += db.execute(&q).await?.rows_affected();
    }
    Ok(affected)
}

/// [`upsert`] with `DO NOTHING`, returning `returning` of the rows it inserted.
async fn insert_returning<C: ConnectionTrait>(
    db: &C,
    table: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Value>>,
    conflict: &[&'static str],
    returning: &[&'static str],
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    if db.get_database_backend() == DbBackend::Postgres {
        let sql = pg_upsert_sql(table, columns, conflict, None, returning);
        let stmt = Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [json_rows(columns, &rows)?.into()],
        );
        return db.query_all_raw(stmt).await;
    }
    let mut out = Vec::new();
    for mut q in values_inserts(table, columns, rows, conflict, None)? {
        q.returning(Query::returning().columns(returning.iter().copied()));
        out.extend(db.query_all(&q).await?);
    }
    Ok(out)
}

fn pg_upsert_sql(
    table: &str,
    columns: &[&str],
    conflict: &[&str],
    changed: Option<&str>,
    returning: &[&str],
) -> String {
    let cols = columns.join(", ");
    let action = match changed {
        Some(cond) => {
            let set = columns
                .iter()
                .filter(|c| !conflict.contains(c))
                .map(|c| format!("{c} = excluded.{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!("DO UPDATE SET {set} WHERE {cond}")
        }
        None => "DO NOTHING".to_owned(),
    };
    let mut sql = format!(
        "INSERT INTO {table} ({cols}) SELECT {cols} FROM json_populate_recordset(NULL::{table}, $1::json) \
         ON CONFLICT ({}) {action}",
        conflict.join(", ")
    );
    if !returning.is_empty() {
        sql.push_str(" RETURNING ");
        sql.push_str(&returning.join(", "));
    }
    sql
}

/// An insert as multi-row `VALUES` statements (SQLite's form), chunked under the
/// bind-parameter cap.
fn values_inserts(
    table: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Value>>,
    conflict: &[&'static str],
    changed: Option<&str>,
) -> Result<Vec<sea_orm::sea_query::InsertStatement>, DbErr> {
    let mut on_conflict = OnConflict::columns(conflict.iter().copied());
    match changed {
        Some(cond) => {
            on_conflict
                .update_columns(columns.iter().copied().filter(|c| !conflict.contains(c)))
                .action_and_where(Expr::cust(cond.to_owned()));
        }
        None => {
            on_conflict.do_nothing();
        }
    }
    let mut out = Vec::new();
    let mut rows = rows.into_iter().peekable();
    let mut left = rows.len();
    while rows.peek().is_some() {
        let per_chunk = chunk_rows(left, columns.len());
        left -= per_chunk;
        let mut q = Query::insert();
        q.into_table(table)
            .columns(columns.iter().copied())
            .on_conflict(on_conflict.clone());
        for row in rows.by_ref().take(per_chunk) {
            q.values(row.into_iter().map(Expr::val))
                .map_err(|e| DbErr::Custom(format!("bad row for `{table}`: {e}")))?;
        }
        out.push(q);
    }
    Ok(out)
}

/// Rows in the next multi-row statement when `left` remain: the most that fit under the
/// bind-parameter cap, rounded down to a power of two. Each statement text is prepared and
/// cached per connection, and a batch of any size is cut into at most one statement shape
/// per power of two: with one statement per batch size, group commits of ever-different
/// sizes would prepare a new, large statement each time and fill the cache with them.
fn chunk_rows(left: usize, columns: usize) -> usize {
    let cap = (MAX_PARAMS / columns.max(1)).max(1);
    let n = Ord::min(left, cap).max(1);
    1 << n.ilog2()
}

/// Rows as the text of a JSON array of objects keyed by column, the input of
/// `json_populate_recordset`. Values become what PostgreSQL's input functions read back
/// exactly: RFC 3339 timestamps with microseconds, ISO dates, UUIDs and numbers as text or
/// numbers, JSON nested as JSON.
fn json_rows(columns: &[&str], rows: &[Vec<Value>]) -> Result<String, DbErr> {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(rows.len() * 256);
    out.push('[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        for (j, (col, v)) in columns.iter().zip(row).enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(col);
            out.push_str("\":");
            let _ = match v {
                _ if *v == v.as_null() => write!(out, "null"),
                Value::String(Some(s)) if JSON_TEXT_COLUMNS.contains(col) => write!(out, "{s}"),
                Value::String(Some(s)) => write!(
                    out,
                    "{}",
                    serde_json::to_string(s).map_err(|e| DbErr::Custom(e.to_string()))?
                ),
                Value::Bool(Some(b)) => write!(out, "{b}"),
                Value::TinyInt(Some(n)) => write!(out, "{n}"),
                Value::SmallInt(Some(n)) => write!(out, "{n}"),
                Value::Int(Some(n)) => write!(out, "{n}"),
                Value::BigInt(Some(n)) => write!(out, "{n}"),
                Value::TinyUnsigned(Some(n)) => write!(out, "{n}"),
                Value::SmallUnsigned(Some(n)) => write!(out, "{n}"),
                Value::Unsigned(Some(n)) => write!(out, "{n}"),
                Value::BigUnsigned(Some(n)) => write!(out, "{n}"),
                Value::Uuid(Some(u)) => write!(out, "\"{u}\""),
                Value::ChronoDate(Some(d)) => write!(out, "\"{d}\""),
                Value::ChronoDateTimeUtc(Some(t)) => write!(
                    out,
                    "\"{}\"",
                    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                ),
                Value::Json(Some(j)) => write!(out, "{j}"),
                other => {
                    return Err(DbErr::Custom(format!(
                        "column `{col}`: no JSON form for {other:?}"
                    )));
                }
            };
        }
        out.push('}');
    }
    out.push(']');
    Ok(out)
}

/// Records that the stream reported these rows: with `seen` (a full refresh in progress), when
/// (landed ones by ref id, bad ones by external id), so the refresh can tell which rows vanished
/// at the source; always, that the landed ones belong to the stream.
async fn touch_refs<C: ConnectionTrait>(
    db: &C,
    batch: &CommitBatch,
    ref_ids: &[i64],
    bad_external_ids: &[&str],
    seen: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let stream = batch.stream.as_str();
    if !ref_ids.is_empty() && db.get_database_backend() == DbBackend::Postgres {
        let ids = serde_json::to_string(ref_ids).map_err(invalid)?;
        let (sql, values): (String, Vec<Value>) = match seen {
            Some(now) => (
                format!(
                    "UPDATE external_refs SET stream = $1, last_seen_at = $2 WHERE id {}",
                    pg_any_id(3)
                ),
                vec![stream.into(), now.into(), ids.into()],
            ),
            None => (
                format!(
                    "UPDATE external_refs SET stream = $1 WHERE id {} \
                     AND stream IS DISTINCT FROM $1",
                    pg_any_id(2)
                ),
                vec![stream.into(), ids.into()],
            ),
        };
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?;
    } else {
        for chunk in ref_ids.chunks(MAX_PARAMS - 2) {
            let mut q = Query::update();
            q.table("external_refs")
                .value("stream", stream)
                .and_where(Expr::col("id").is_in(chunk.iter().copied()));
            match seen {
                Some(now) => {
                    q.value("last_seen_at", now);
                }
                None => {
                    q.and_where(
                        Expr::col("stream")
                            .is_null()
                            .or(Expr::col("stream").ne(stream)),
                    );
                }
            }
            db.execute(&q).await?;
        }
    }
    let Some(now) = seen else {
        return Ok(());
    };
    for chunk in bad_external_ids.chunks(MAX_PARAMS - 3) {
        let q = Query::update()
            .table("external_refs")
            .value("last_seen_at", now)
            .and_where(Expr::col("instance").eq(batch.connector.as_str()))
            .and_where(Expr::col("stream").eq(stream))
            .and_where(Expr::col("external_id").is_in(chunk.iter().copied()))
            .to_owned();
        db.execute(&q).await?;
    }
    Ok(())
}

/// When the full refresh in progress on the stream began ([`Store::begin_sweep`]), if one is.
async fn sweep_started<C: ConnectionTrait>(
    db: &C,
    connector: &str,
    stream: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let marker = Query::select()
        .column("sweep_started_at")
        .from("sync_state")
        .and_where(Expr::col("connector").eq(connector))
        .and_where(Expr::col("stream").eq(stream))
        .to_owned();
    Ok(match db.query_one(&marker).await? {
        Some(row) => row.try_get("", "sweep_started_at")?,
        None => None,
    })
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
    let Some(started) = sweep_started(db, connector, stream).await? else {
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
    if ids.is_empty() {
        return Ok(());
    }
    if db.get_database_backend() == DbBackend::Postgres {
        let sql = "UPDATE quarantine SET resolved_at = $1 WHERE connector = $2 AND stream = $3 \
                   AND resolved_at IS NULL AND external_id = ANY(ARRAY(SELECT json_array_elements_text($4::json)))";
        let values: [Value; 4] = [
            now.into(),
            batch.connector.as_str().into(),
            batch.stream.as_str().into(),
            serde_json::to_string(&ids).map_err(invalid)?.into(),
        ];
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?;
        return Ok(());
    }
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

    /// Every entity kind, every column set (and some null), to compare the two ways rows
    /// reach PostgreSQL.
    fn one_of_each_kind() -> Vec<SourceRecord> {
        use chrono::{NaiveDate, TimeZone, Utc};
        use rust_decimal::Decimal;
        use tributary_model::*;
        let at = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap()
            + chrono::TimeDelta::microseconds(123_456);
        let day = NaiveDate::from_ymd_opt(2026, 3, 4).unwrap();
        let r = |o: &str, id: &str| ExternalRef::new("crm", "c", o, id);
        let usd = Currency::parse("USD").unwrap();
        let eur = Currency::parse("EUR").unwrap();
        let entities = vec![
            Entity::Account(Account {
                name: "Acme \"Ünïcode\" \\ Co".into(),
                domain: Some("acme.example".into()),
                segment: Some(Segment::MidMarket),
                industry: Some("Software".into()),
                region: None,
                owner: Some("o@x".into()),
                seats: Some(1_234_567_890_123),
                created_at: Some(at),
            }),
            Entity::Person(Person {
                name: "Ann".into(),
                email: Some("ann@acme.example".into()),
                title: None,
                role: Some(PersonRole::Admin),
                account: Some(r("a", "1")),
                first_seen_at: Some(at),
                hints: vec![],
            }),
            Entity::Subscription(Subscription {
                account: Some(r("a", "1")),
                plan: "Pro".into(),
                start_date: day,
                end_date: None,
                arr: Money::new(Decimal::new(1_234_567, 2), eur.clone()),
                status: SubscriptionStatus::Active,
                motion: Some(RevenueEventKind::Expansion),
                arr_basis: Some(ArrBasis::AmountOverTerm),
            }),
            Entity::RevenueEvent(RevenueEvent {
                account: Some(r("a", "1")),
                subscription: Some(r("s", "1")),
                date: day,
                kind: RevenueEventKind::New,
                arr_delta: Money::new(Decimal::new(-5, 1), usd.clone()),
                arr_after: Money::new(Decimal::new(99_995, 1), usd.clone()),
                original_delta: Some(Money::new(Decimal::new(-4, 1), eur.clone())),
                fx: Some(FxConversion {
                    rate: Decimal::new(1_085_012_345, 9),
                    quote: FxQuote::Multiply,
                    rate_date: Some(day),
                }),
            }),
            Entity::Course(Course {
                title: "Admin 101".into(),
                kind: CourseKind::Ilt,
                level: CourseLevel::Advanced,
                tags: vec!["a".into(), "b \"q\"".into()],
                features: vec![],
            }),
            Entity::Enrollment(Enrollment {
                person: Some(r("p", "1")),
                course: Some(r("k", "1")),
                enrolled_at: at,
                started_at: None,
                completed_at: Some(at),
                status: EnrollmentStatus::Completed,
                score: Some(Decimal::new(875, 1)),
                passed: Some(true),
                certified: false,
            }),
            Entity::UsageEvent(UsageEvent {
                person: None,
                anonymous_id: Some("anon".into()),
                account: Some(r("a", "1")),
                event: "Report Built".into(),
                feature: Some("reports".into()),
                occurred_at: at,
                properties: serde_json::json!({"n": 1.5, "s": "x", "nested": {"a": [1, null]}}),
            }),
            Entity::Ticket(Ticket {
                account: Some(r("a", "1")),
                requester: Some(r("p", "1")),
                created_at: at,
                solved_at: None,
                channel: Some("email".into()),
                tags: vec!["how-to".into()],
                category: TicketCategory::HowTo,
            }),
            Entity::DealContact(DealContact {
                subscription: Some(r("s", "1")),
                person: Some(r("p", "1")),
                role: None,
                primary: true,
            }),
            Entity::FxRate(FxRate {
                base: usd.clone(),
                currency: eur.clone(),
                start_date: day,
                rate: Decimal::new(920_000_001, 9),
            }),
            Entity::LearningEvent(LearningEvent {
                person: Some(r("p", "1")),
                course: Some(r("k", "1")),
                verb: "http://adlnet.gov/expapi/verbs/passed".into(),
                occurred_at: at,
                stored_at: at,
                score: Some(Decimal::new(-125, 1)),
                success: Some(true),
                completion: None,
                registration: Some("ec531277-b57b-4c15-8d91-d292c5b2b8f7".into()),
                voided: false,
            }),
        ];
        entities
            .into_iter()
            .enumerate()
            .map(|(i, entity)| SourceRecord {
                external_ref: r(&format!("o{i}"), "x"),
                source_updated_at: Some(at),
                raw: serde_json::json!({ "i": i }),
                entity,
            })
            .collect()
    }

    /// The reference lookup probes the unique index by all four columns, once per id, even
    /// when the statistics predate the object (a new stream's references are estimated at one
    /// row): then a plain join would hash every reference of the object instead.
    #[tokio::test]
    async fn reference_lookups_probe_the_index_whatever_the_statistics() {
        let Some(db) = TestDatabase::postgres().await.expect("postgres") else {
            return;
        };
        let store = db.store().await.expect("store");
        let conn = store.db();
        let fill = |object: &str, n: u32| {
            format!(
                "INSERT INTO external_refs (system, instance, object, external_id, entity_kind, \
                 entity_id, created_at) SELECT 'crm', 'c', '{object}', g::text, 'account', \
                 gen_random_uuid(), now() FROM generate_series(1, {n}) g"
            )
        };
        conn.execute_unprepared(&fill("companies", 5_000))
            .await
            .expect("fill");
        conn.execute_unprepared("ANALYZE external_refs")
            .await
            .expect("analyze");
        // Many references of an object the statistics have never seen.
        conn.execute_unprepared(&fill("contacts", 50_000))
            .await
            .expect("fill");
        let ids: Vec<String> = (1..=300).map(|i| (i * 7).to_string()).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let lookup = super::lookup_by_key("crm", "c", "contacts", &ids).expect("statement");
        let explain = Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("EXPLAIN {}", lookup.sql),
            lookup.values.map(|v| v.0).unwrap_or_default(),
        );
        let plan = conn
            .query_all_raw(explain)
            .await
            .expect("explain")
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).expect("a plan line"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!plan.contains("Hash"), "{plan}");
        assert!(
            plan.lines()
                .any(|l| l.contains("Index Cond") && l.contains("= k.external_id")),
            "{plan}"
        );
        let found = super::lookup_refs(
            conn,
            &ids.iter()
                .map(|id| ExternalRef::new("crm", "c", "contacts", *id))
                .collect::<Vec<_>>()
                .iter()
                .collect::<Vec<_>>(),
        )
        .await
        .expect("lookup");
        assert_eq!(found.len(), 300);
        db.cleanup().await.expect("cleanup");
    }

    /// On PostgreSQL rows travel as one JSON array (`json_populate_recordset`); the same row
    /// bound as parameters stores exactly the same values, column by column.
    #[tokio::test]
    async fn rows_sent_as_json_store_what_bound_parameters_store() {
        use super::{RefMap, Resolved, columns_of, entity_row, table_of, upsert, values_inserts};
        let Some(db) = TestDatabase::postgres().await.expect("postgres") else {
            return;
        };
        let store = db.store().await.expect("store");
        let conn = store.db();
        let now = chrono::Utc::now();
        let records = one_of_each_kind();
        let mut refs = RefMap::new();
        for (n, r) in records
            .iter()
            .flat_map(|r| r.entity.links().into_iter().map(|(_, l)| l.clone()))
            .enumerate()
        {
            refs.insert(
                r,
                Resolved {
                    ref_id: n as i64,
                    entity_id: uuid::Uuid::now_v7(),
                },
            );
        }
        for rec in &records {
            let kind = rec.kind();
            let (bound, sent) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
            let row = |id| entity_row(rec, id, &refs, "hash", now).expect("row");
            for q in values_inserts(
                table_of(kind),
                columns_of(kind),
                vec![row(bound)],
                &["id"],
                None,
            )
            .expect("insert")
            {
                conn.execute(&q).await.expect("bound insert");
            }
            let n = upsert(
                conn,
                table_of(kind),
                columns_of(kind),
                vec![row(sent)],
                &["id"],
                None,
            )
            .await
            .expect("json insert");
            assert_eq!(n, 1);
            let stored = async |id: uuid::Uuid| {
                let sql = format!(
                    "SELECT (to_jsonb(t) - 'id')::text AS j FROM {} t WHERE id = $1",
                    table_of(kind)
                );
                conn.query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    sql,
                    [id.into()],
                ))
                .await
                .expect("select")
                .expect("a row")
                .try_get::<String>("", "j")
                .expect("j")
            };
            let (a, b) = (stored(bound).await, stored(sent).await);
            assert_eq!(a, b, "{kind:?}");
        }
        db.cleanup().await.expect("cleanup");
    }

    /// A record is compared with what is stored before anything is sent: an unchanged one
    /// writes neither its entity nor its raw payload, and a new payload alone rewrites only
    /// the payload.
    #[tokio::test]
    async fn unchanged_records_and_payloads_are_not_rewritten() {
        crate::testing::for_each_backend(|store| async move {
            let record = |name: &str, note: &str| SourceRecord {
                external_ref: ExternalRef::new("hubspot", "hs", "companies", "1"),
                source_updated_at: None,
                raw: serde_json::json!({ "id": "1", "name": name, "note": note }),
                entity: Entity::Account(Account::named(name)),
            };
            let commit = async |r: SourceRecord| {
                store
                    .commit_batch(CommitBatch {
                        connector: "hs".into(),
                        stream: "companies".into(),
                        records_read: 1,
                        records: vec![r],
                        ..Default::default()
                    })
                    .await
                    .expect("commit")
            };
            let stored = async || {
                let row = store
                    .db()
                    .query_one_raw(Statement::from_string(
                        store.backend(),
                        "SELECT a.synced_at AS e, p.fetched_at AS p, p.content_hash AS h \
                         FROM accounts a, raw_payloads p",
                    ))
                    .await
                    .expect("select")
                    .expect("a row");
                (
                    row.try_get::<chrono::DateTime<chrono::Utc>>("", "e")
                        .expect("e"),
                    row.try_get::<chrono::DateTime<chrono::Utc>>("", "p")
                        .expect("p"),
                    row.try_get::<String>("", "h").expect("h"),
                )
            };
            assert_eq!(commit(record("Acme", "a")).await.written, 1);
            let first = stored().await;
            let again = commit(record("Acme", "a")).await;
            assert_eq!((again.written, again.unchanged), (0, 1));
            assert_eq!(stored().await, first, "nothing rewritten");
            let note = commit(record("Acme", "b")).await;
            assert_eq!((note.written, note.unchanged), (0, 1));
            let (entity, payload, hash) = stored().await;
            assert_eq!(entity, first.0, "the entity is as it was");
            assert!(payload > first.1 && hash != first.2, "the payload is new");
        })
        .await;
    }

    #[test]
    fn inserts_are_cut_into_few_statement_shapes() {
        use super::chunk_rows;
        let cut = |mut left: usize, columns: usize| {
            let mut sizes = Vec::new();
            while left > 0 {
                let n = chunk_rows(left, columns);
                sizes.push(n);
                left -= n;
            }
            sizes
        };
        assert_eq!(cut(1, 14), vec![1]);
        assert_eq!(cut(100, 14), vec![64, 32, 4]);
        assert_eq!(cut(5_000, 14), vec![2_048, 2_048, 512, 256, 128, 8]);
        // Under the cap of 30,000 parameters: 2,142 rows of 14 columns, so 2,048.
        assert!(cut(100_000, 14).iter().all(|n| n * 14 <= 30_000));
        assert_eq!(
            cut(3, 40_000),
            vec![1, 1, 1],
            "a row wider than the cap alone"
        );
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
