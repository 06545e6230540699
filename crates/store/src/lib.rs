//! Storage for Tributary (SPEC §3, §6): sea-orm entities and migrations that run unchanged on
//! SQLite and PostgreSQL, batched idempotent upserts keyed by [`ExternalRef`], sync state,
//! sync runs and quarantine, and the reads the gateway and analytics need.
//!
//! Key types:
//! - [`Store`]: a connection pool plus every operation; cheap to clone.
//! - [`CommitBatch`]: records, rejects, deletes and a stream's new cursor, written in **one
//!   transaction** by [`Store::commit_batch`], so a crash never separates data from its cursor.
//! - [`read`]: reads by domain ([`read::accounts`], [`read::revenue`], [`read::ops`],
//!   [`read::aggregates`]), each returning **decoded read types** ([`AccountRow`],
//!   [`SubscriptionRow`] …) with model enums, exact [`Money`] and UTC times; the children of
//!   many parents through one generic query, [`Store::children_of`].
//!
//! Identity: every source row gets an entry in `external_refs` mapping its [`ExternalRef`] to
//! our UUIDv7 id. A reference to a row not seen yet (a contact whose company comes later)
//! reserves the id, so load order never matters and re-syncs keep ids stable.
//!
//! Only this crate knows SQL and sea-orm: the sea-orm entities are private, and no sea-orm
//! type appears in its API, so callers never see a storage row or a stored string to parse.
//! It knows nothing of HTTP, vendors or GraphQL.
//!
//! [`ExternalRef`]: tributary_model::ExternalRef
//! [`Money`]: tributary_model::Money

mod entities;
mod leases;
pub mod migration;
pub mod money;
pub mod read;
mod runs;
pub mod testing;
mod write;

pub use leases::Lease;
pub use read::accounts::{
    AccountFilter, AccountPage, AccountRow, DealContactRow, ExternalRefRow, PersonRow,
    SubscriptionRow,
};
pub use read::aggregates::StoreCounts;
pub use read::ops::{QuarantineRow, ScheduleRow, SyncRunRow};
pub use read::revenue::{FxRateRow, RevenueEventFilter, RevenueEventRow};
pub use read::{Child, Page};
pub use runs::{
    FieldSchema, RunChecks, RunFinish, RunOrigin, RunStatus, SchemaDrift, SchemaUpdate,
};
pub use write::{CommitBatch, CommitOutcome, QuarantineItem};

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait;
use std::time::Duration;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed an operation.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The database URL is not one we support.
    #[error("unsupported database url `{0}`: expected sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    /// A value cannot be stored as given (e.g. an amount with too many decimals).
    #[error("invalid value: {0}")]
    Invalid(String),
    /// A row in the database does not decode (corrupted or written by a newer version).
    #[error("corrupt row in `{table}`: {message}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// `url` with `sslmode=disable` added when it names no `sslmode` and its host is this
/// machine (`localhost`, `127.0.0.1`, `::1`, or a Unix socket): sqlx's default, `prefer`,
/// negotiates TLS whenever the server offers it, and over TLS every transaction of a sync
/// stalled about 90 ms on this machine (HubSpot at 3,000 accounts into a local PostgreSQL:
/// 950 records/s with TLS, 6,500 without; BENCHMARKS.md). Encrypting loopback traffic
/// protects nothing; a remote server keeps whatever the URL asks for.
fn plain_on_loopback(url: &str) -> String {
    let Some((_, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, query) = match rest.split_once('?') {
        Some((before, query)) => (before.split('/').next().unwrap_or(""), Some(query)),
        None => (rest.split('/').next().unwrap_or(""), None),
    };
    if query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with("sslmode="))) {
        return url.to_owned();
    }
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let socket = query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with("host=/")));
    let local = matches!(host, "localhost" | "127.0.0.1" | "::1")
        || (host.is_empty() && (socket || query.is_none_or(|q| !q.contains("host="))));
    if !local {
        return url.to_owned();
    }
    let separator = if query.is_some() { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

/// A connection pool to SQLite or PostgreSQL with every storage operation.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// How much `external_refs` grew since its statistics were last refreshed.
    growth: std::sync::Arc<write::Growth>,
}

impl Store {
    /// Connects to `url` (`sqlite://file.db`, `sqlite::memory:`, `postgres://…`). A SQLite file
    /// is created when missing and put in WAL mode.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let (url, sqlite) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let memory = rest.contains(":memory:") || rest.contains("mode=memory");
            let url = if memory || rest.contains("mode=") {
                url.to_owned()
            } else if rest.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (url, Some(memory))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (plain_on_loopback(url), None)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let mut opts = ConnectOptions::new(url);
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30));
        match sqlite {
            // Every connection to `:memory:` would be its own empty database.
            Some(true) => {
                opts.max_connections(1).min_connections(1);
            }
            Some(false) => {
                opts.max_connections(8);
            }
            None => {
                opts.max_connections(16);
            }
        }
        let db = Database::connect(opts).await?;
        if sqlite == Some(false) {
            // WAL lets readers (the gateway) proceed while a sync writes.
            db.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
                .await?;
        }
        Ok(Self {
            db,
            growth: Default::default(),
        })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migration::Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Drops every table and re-creates the schema (used by `tributary demo --reset`).
    pub async fn reset(&self) -> Result<(), StoreError> {
        migration::Migrator::fresh(&self.db).await?;
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Closes the pool.
    pub async fn close(self) -> Result<(), StoreError> {
        self.db.close().await?;
        Ok(())
    }

    /// Starts a write transaction. On SQLite it takes the write lock at `BEGIN IMMEDIATE`: a
    /// deferred transaction that reads and then writes fails with "database is locked" when
    /// another writer got in between, whereas an immediate one waits its turn.
    pub(crate) async fn begin_write(&self) -> Result<sea_orm::DatabaseTransaction, StoreError> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.backend() == DbBackend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        Ok(self.db.begin_with_options(options).await?)
    }

    /// The underlying connection, for tests of this crate.
    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}

#[cfg(test)]
mod url_tests {
    use super::plain_on_loopback;

    #[test]
    fn loopback_urls_without_an_sslmode_connect_in_plain_text() {
        for (url, expected) in [
            (
                "postgres://postgres@127.0.0.1:5432/db",
                "postgres://postgres@127.0.0.1:5432/db?sslmode=disable",
            ),
            (
                "postgresql://u:p@localhost/db?application_name=x",
                "postgresql://u:p@localhost/db?application_name=x&sslmode=disable",
            ),
            (
                "postgres://[::1]:5432/db",
                "postgres://[::1]:5432/db?sslmode=disable",
            ),
            (
                "postgres:///db?host=/var/run/postgresql",
                "postgres:///db?host=/var/run/postgresql&sslmode=disable",
            ),
            // Whatever the URL says wins, and remote hosts keep sqlx's default.
            (
                "postgres://127.0.0.1/db?sslmode=require",
                "postgres://127.0.0.1/db?sslmode=require",
            ),
            (
                "postgres://db.example.com/db",
                "postgres://db.example.com/db",
            ),
            (
                "postgres://u@10.0.0.5:5432/db?sslmode=prefer",
                "postgres://u@10.0.0.5:5432/db?sslmode=prefer",
            ),
            (
                "postgres:///db?host=db.internal",
                "postgres:///db?host=db.internal",
            ),
        ] {
            assert_eq!(plain_on_loopback(url), expected, "{url}");
        }
    }
}
