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
//! - [`keys`]: API keys ([`ApiKey`], [`Role`], [`KeyScope`]), stored as SHA-256 hashes only.
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
pub mod keys;
mod leases;
pub mod migration;
pub mod money;
pub mod read;
mod runs;
pub mod testing;
mod write;

pub use keys::{ApiKey, ApiKeySecret, KeyHash, KeyScope, NewApiKey, Role};
pub use leases::Lease;
pub use read::accounts::{
    AccountFilter, AccountPage, AccountRow, DealContactRow, ExternalRefRow, PersonRow,
    SubscriptionRow,
};
pub use read::aggregates::StoreCounts;
pub use read::learning::{
    AccountEnrollmentRow, CourseFilter, CourseRow, EnrollmentRow, LearningEventRow,
    PersonEnrollmentRow,
};
pub use read::ops::{QuarantineRow, ScheduleRow, StreamHealthRow, SyncRunRow};
pub use read::records::{RawRecord, RawRecordPage, RecordScope};
pub use read::revenue::{FxRateRow, RevenueEventFilter, RevenueEventRow};
pub use read::{Child, Page};
pub use runs::{
    FieldSchema, RunChecks, RunFinish, RunOrigin, RunStatus, SchemaDrift, SchemaUpdate,
};
pub use write::{CommitBatch, CommitOutcome, QuarantineItem};

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait;
use std::time::Duration;

/// Errors of the store. Each displays as one line that carries everything it knows, and none
/// has a `source()`: the driver's own errors repeat their causes in their text, so a caller
/// printing the cause chain would print the same message several times.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed an operation.
    #[error("database error: {}", describe_db_err(.0))]
    Db(sea_orm::DbErr),
    /// The database could not be reached or opened.
    #[error("cannot connect to {target}: {message}")]
    Connect {
        /// What was tried: `PostgreSQL at host:port`, `SQLite database `path``.
        target: String,
        /// Why it failed: the OS error, the server's message, or the timeout.
        message: String,
    },
    /// The database URL is not one we support.
    #[error(
        "unsupported database url {0}: use sqlite://path/to/file.db (relative or, with a third \
         slash, absolute), sqlite::memory:, or postgres://user@host:5432/db (postgresql:// too)"
    )]
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

impl From<sea_orm::DbErr> for StoreError {
    fn from(e: sea_orm::DbErr) -> Self {
        StoreError::Db(e)
    }
}

/// The driver's message of `e` once: the server's own text for a database error (without the
/// PostgreSQL source line sqlx appends), the OS error for an I/O failure.
fn describe_db_err(e: &sea_orm::DbErr) -> String {
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        DbErr::Conn(RuntimeErr::SqlxError(s))
        | DbErr::Exec(RuntimeErr::SqlxError(s))
        | DbErr::Query(RuntimeErr::SqlxError(s)) => describe_sqlx(s),
        other => other.to_string(),
    }
}

fn describe_sqlx(e: &sea_orm::sqlx::Error) -> String {
    use sea_orm::sqlx::Error;
    match e {
        Error::Database(d) => d.message().to_owned(),
        Error::Io(io) => io.to_string(),
        Error::PoolTimedOut => "timed out waiting for a connection".to_owned(),
        other => other.to_string(),
    }
}

/// How long [`Store::connect`] waits for PostgreSQL to accept its first connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a database URL names, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// An in-memory SQLite database (`url` as given).
    SqliteMemory { url: String },
    /// A SQLite file: its path as written and the URL to open it with (created when missing).
    SqliteFile {
        path: std::path::PathBuf,
        url: String,
    },
    /// A PostgreSQL server (`url` with the loopback `sslmode` rule applied).
    Postgres { url: String },
}

impl Target {
    fn parse(url: &str) -> Result<Self, StoreError> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            if rest.contains(":memory:") || rest.contains("mode=memory") {
                return Ok(Target::SqliteMemory {
                    url: url.to_owned(),
                });
            }
            let (location, query) = match rest.split_once('?') {
                Some((l, q)) => (l, Some(q)),
                None => (rest, None),
            };
            let path = location.strip_prefix("//").unwrap_or(location);
            if path.is_empty() {
                return Err(StoreError::UnsupportedUrl(format!(
                    "`{url}` (no file name)"
                )));
            }
            let url = match query {
                Some(q) if q.contains("mode=") => url.to_owned(),
                Some(_) => format!("{url}&mode=rwc"),
                None => format!("{url}?mode=rwc"),
            };
            Ok(Target::SqliteFile {
                path: path.into(),
                url,
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Target::Postgres {
                url: plain_on_loopback(url),
            })
        } else {
            // Show the scheme only: the rest of a URL may hold a password.
            let shown = match url.split_once("://") {
                Some((scheme, _)) => format!("`{scheme}://…`"),
                None if url.contains('@') => "without a scheme".to_owned(),
                None => format!("`{url}` (no scheme)"),
            };
            Err(StoreError::UnsupportedUrl(shown))
        }
    }

    fn url(&self) -> &str {
        match self {
            Target::SqliteMemory { url }
            | Target::SqliteFile { url, .. }
            | Target::Postgres { url } => url,
        }
    }

    /// What the target is, for an error message (no credentials).
    fn describe(&self) -> String {
        match self {
            Target::SqliteMemory { .. } => "an in-memory SQLite database".to_owned(),
            Target::SqliteFile { path, .. } => format!("SQLite database `{}`", path.display()),
            Target::Postgres { url } => {
                match url.parse::<sea_orm::sqlx::postgres::PgConnectOptions>() {
                    Ok(o) => match o.get_socket() {
                        Some(socket) => format!("PostgreSQL at {}", socket.display()),
                        None => format!("PostgreSQL at {}:{}", o.get_host(), o.get_port()),
                    },
                    Err(_) => "PostgreSQL".to_owned(),
                }
            }
        }
    }

    fn failed(&self, message: impl Into<String>) -> StoreError {
        StoreError::Connect {
            target: self.describe(),
            message: message.into(),
        }
    }

    /// Checks that the database can be opened, without creating anything: a SQLite file's
    /// directory exists; PostgreSQL accepts one connection within `timeout` (one attempt, no
    /// retries, so a refused connection says so at once).
    async fn probe(&self, timeout: Duration) -> Result<(), StoreError> {
        match self {
            Target::SqliteMemory { .. } => Ok(()),
            Target::SqliteFile { path, .. } => {
                if path.is_dir() {
                    return Err(self.failed("it is a directory"));
                }
                match path.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
                        Err(self.failed(format!("directory `{}` does not exist", dir.display())))
                    }
                    _ => Ok(()),
                }
            }
            Target::Postgres { url } => {
                use sea_orm::sqlx::Connection;
                use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
                let options: PgConnectOptions = url
                    .parse()
                    .map_err(|e: sea_orm::sqlx::Error| self.failed(describe_sqlx(&e)))?;
                match tokio::time::timeout(timeout, PgConnection::connect_with(&options)).await {
                    Ok(Ok(conn)) => {
                        let _ = conn.close().await;
                        Ok(())
                    }
                    Ok(Err(e)) => Err(self.failed(describe_sqlx(&e))),
                    Err(_) => Err(self.failed(format!("no answer within {} s", timeout.as_secs()))),
                }
            }
        }
    }
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

/// Connections per core in a pool to a database file or server.
const POOL_PER_CORE: u32 = 4;

/// A connection pool to SQLite or PostgreSQL with every storage operation.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// On a SQLite file, the one connection that runs write transactions
    /// ([`Store::begin_write`]): SQLite has one writer at a time anyway, and with its own
    /// connection a commit never waits for a pool that readers (a gateway under load) hold.
    /// Elsewhere writes share `db`.
    writer: Option<DatabaseConnection>,
    /// How much `external_refs` grew since its statistics were last refreshed.
    growth: std::sync::Arc<write::Growth>,
    /// Bumped by every key revocation ([`Store::api_keys_generation`]).
    keys_generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Store {
    /// Connects to `url` (`sqlite://file.db`, `sqlite::memory:`, `postgres://…`). A SQLite file
    /// is created when missing (its directory must exist) and put in WAL mode. A database that
    /// cannot be reached fails with one [`StoreError::Connect`] naming the file or the host and
    /// port, within [`CONNECT_TIMEOUT`] for PostgreSQL.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let target = Target::parse(url)?;
        target.probe(CONNECT_TIMEOUT).await?;
        let mut opts = ConnectOptions::new(target.url());
        // sqlx prepares every statement and caches it per connection (100 statements; sea-orm
        // keeps sqlx's defaults and binds every value as a parameter, so the text repeats and
        // the cache hits). By default the pool also pings a connection on **every** checkout
        // (`test_before_acquire`): a round trip per query on PostgreSQL. Only a connection idle
        // long enough to have been dropped by the server or a proxy is checked now.
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30))
            .test_before_acquire_if_idle_for(Duration::from_secs(30));
        let cores = std::thread::available_parallelism().map_or(2, usize::from) as u32;
        match target {
            // Every connection to `:memory:` would be its own empty database.
            Target::SqliteMemory { .. } => {
                opts.max_connections(1).min_connections(1);
            }
            // In WAL mode readers run in parallel, each connection on its own thread, with one
            // writer at a time: a few readers per core keep the cores busy while one writes.
            Target::SqliteFile { .. } => {
                // Per connection, not per file: a pragma run once reaches one connection of
                // the pool, and every other would fsync each commit (`synchronous=FULL`). An
                // 8 MiB page cache per connection (SQLite's default is 2 MiB) keeps the indexes
                // a sync probes in memory, and checkpointing the WAL every 10,000 pages instead
                // of 1,000 copies a page rewritten by many commits once: together they cut a
                // sync's system time by about 40% (BENCHMARKS.md).
                opts.max_connections(POOL_PER_CORE * cores + 1)
                    .min_connections(cores)
                    .map_sqlx_sqlite_opts(|o| {
                        o.synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                            .pragma("cache_size", "-8192")
                            .pragma("wal_autocheckpoint", "10000")
                    });
            }
            // PostgreSQL runs a process per connection. The gateway reads an account and its
            // children concurrently (three connections per request at once), and one run with
            // a pool of 8 was slower at 10 clients (not a paired run: the machine was busy), so
            // 16, the earlier size, stays the floor until a paired measurement decides.
            Target::Postgres { .. } => {
                opts.max_connections((POOL_PER_CORE * cores).max(16))
                    .min_connections(cores);
            }
        }
        let writer_opts = matches!(target, Target::SqliteFile { .. }).then(|| {
            let mut w = opts.clone();
            w.max_connections(1).min_connections(1);
            w
        });
        let db = Database::connect(opts)
            .await
            .map_err(|e| target.failed(describe_db_err(&e)))?;
        if let Target::SqliteFile { .. } = target {
            // WAL lets readers (the gateway) proceed while a sync writes; it is a property of
            // the file, set once.
            db.execute_unprepared("PRAGMA journal_mode=WAL;")
                .await
                .map_err(|e| target.failed(describe_db_err(&e)))?;
        }
        let writer = match writer_opts {
            Some(w) => Some(
                Database::connect(w)
                    .await
                    .map_err(|e| target.failed(describe_db_err(&e)))?,
            ),
            None => None,
        };
        Ok(Self {
            db,
            writer,
            growth: Default::default(),
            keys_generation: Default::default(),
        })
    }

    /// Checks that `url` is a supported database URL and the database can be opened, creating
    /// nothing: a SQLite file's directory exists; PostgreSQL accepts a connection (with these
    /// credentials) within `timeout`. `tributary check-config` runs it.
    pub async fn probe(url: &str, timeout: Duration) -> Result<(), StoreError> {
        Target::parse(url)?.probe(timeout).await
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migration::Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// The names of the migrations this build knows and the database has not applied, oldest
    /// first; empty when the schema is current. Creates nothing (a read-only check, so a
    /// readiness probe can run it with a user without DDL rights).
    pub async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            migration::Migrator::get_pending_migrations_read_only(&self.db)
                .await?
                .iter()
                .map(|m| m.name().to_owned())
                .collect(),
        )
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
        if let Some(writer) = self.writer {
            writer.close().await?;
        }
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
        let conn = self.writer.as_ref().unwrap_or(&self.db);
        Ok(conn.begin_with_options(options).await?)
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

#[cfg(test)]
mod connect_tests {
    use super::{Store, StoreError, Target};
    use std::time::Duration;

    #[test]
    fn urls_are_classified_and_others_refused_with_the_accepted_forms() {
        assert_eq!(
            Target::parse("sqlite://data/t.db").unwrap(),
            Target::SqliteFile {
                path: "data/t.db".into(),
                url: "sqlite://data/t.db?mode=rwc".into()
            }
        );
        assert_eq!(
            Target::parse("sqlite:///abs/t.db?mode=ro").unwrap(),
            Target::SqliteFile {
                path: "/abs/t.db".into(),
                url: "sqlite:///abs/t.db?mode=ro".into()
            }
        );
        assert!(matches!(
            Target::parse("sqlite::memory:").unwrap(),
            Target::SqliteMemory { .. }
        ));
        for (url, shown) in [
            ("mysql://root:hunter2@db/x", "`mysql://…`"),
            ("tributary.db", "`tributary.db` (no scheme)"),
        ] {
            let err = Target::parse(url).unwrap_err().to_string();
            assert!(err.contains(shown), "{err}");
            assert!(
                err.contains("sqlite://") && err.contains("postgres://"),
                "{err}"
            );
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[tokio::test]
    async fn a_sqlite_file_in_a_missing_directory_is_named() {
        let err = Store::connect("sqlite:///nonexistent-tributary/dir/x.db")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "cannot connect to SQLite database `/nonexistent-tributary/dir/x.db`: \
             directory `/nonexistent-tributary/dir` does not exist"
        );
        assert!(std::error::Error::source(&err).is_none());
    }

    #[tokio::test]
    async fn a_refused_postgres_connection_names_host_port_and_the_os_error() {
        // A port nobody listens on: bind one, note it, and close it again.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://postgres@127.0.0.1:{port}/x");
        let err = Store::probe(&url, Duration::from_secs(5))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "cannot connect to PostgreSQL at 127.0.0.1:{port}: "
            )),
            "{err}"
        );
        assert!(err.to_lowercase().contains("connection refused"), "{err}");
        let err = Store::connect(&url).await.unwrap_err().to_string();
        assert!(err.to_lowercase().contains("connection refused"), "{err}");
    }

    #[tokio::test]
    async fn a_wrong_role_is_reported_once_without_a_source_line() {
        let Ok(url) = std::env::var("TRIBUTARY_TEST_POSTGRES_URL") else {
            return;
        };
        let Some((_, rest)) = url.split_once("://") else {
            return;
        };
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let url = format!("postgres://no_such_role_tributary@{host}");
        let err = Store::connect(&url).await.unwrap_err().to_string();
        assert_eq!(err.matches("no_such_role_tributary").count(), 1, "{err}");
        assert!(err.contains("does not exist"), "{err}");
        assert!(!err.contains(" at line "), "{err}");
    }
}
