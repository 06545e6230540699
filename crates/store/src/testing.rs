//! Test support: one suite, two backends (STYLE §6.4). [`TestDatabase::all`] yields a fresh
//! SQLite database always, and a fresh PostgreSQL database when `TRIBUTARY_TEST_POSTGRES_URL`
//! names a server; each PostgreSQL database is created for the test and dropped afterwards.
//!
//! This module reads one environment variable, which library code otherwise never does; it is
//! only for tests and is documented in the README.

use crate::{Store, StoreError};
use sea_orm::{ConnectionTrait, Database};

/// The environment variable naming a PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "TRIBUTARY_TEST_POSTGRES_URL";

/// When set, names a file to which every PostgreSQL test database created is appended, one
/// line each — `<database>\t<package>\t<test binary>\t<test>` — so CI can prove that every
/// storage suite (`.ci/postgres-suites`) ran on PostgreSQL, not just one test.
pub const POSTGRES_LOG_ENV: &str = "TRIBUTARY_TEST_POSTGRES_LOG";

/// Who created a test database: the package (`CARGO_PKG_NAME`, which cargo sets when it runs a
/// test binary), the test binary without its hash (`conformance`, `suite`) and the test (the
/// name libtest gives the thread running it, which `#[tokio::test]` bodies run on).
fn creator() -> String {
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "?".to_owned());
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
            _ => stem,
        })
        .unwrap_or_else(|| "?".to_owned());
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    format!("{package}\t{binary}\t{test}")
}

/// A database created for one test.
#[derive(Debug)]
pub struct TestDatabase {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// URL of the database.
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: Option<TempDir>,
}

/// A directory removed on drop.
#[derive(Debug)]
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestDatabase {
    /// A fresh SQLite file database in its own temporary directory.
    pub fn sqlite() -> Self {
        let name = format!("tributary-test-{}", uuid::Uuid::now_v7().simple());
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::create_dir_all(&dir);
        let url = format!("sqlite://{}", dir.join("test.db").display());
        Self {
            backend: "sqlite",
            url,
            admin_url: None,
            name,
            _dir: Some(TempDir(dir)),
        }
    }

    /// A fresh PostgreSQL database on the server of `TRIBUTARY_TEST_POSTGRES_URL`, if set.
    pub async fn postgres() -> Result<Option<Self>, StoreError> {
        let Ok(admin_url) = std::env::var(POSTGRES_ENV) else {
            return Ok(None);
        };
        let name = format!("tributary_test_{}", uuid::Uuid::now_v7().simple());
        let admin = Database::connect(admin_url.as_str()).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        admin.close().await?;
        if let Ok(log) = std::env::var(POSTGRES_LOG_ENV) {
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
            {
                let _ = writeln!(f, "{name}\t{}", creator());
            }
        }
        let url = replace_db_name(&admin_url, &name);
        Ok(Some(Self {
            backend: "postgres",
            url,
            admin_url: Some(admin_url),
            name,
            _dir: None,
        }))
    }

    /// SQLite, plus PostgreSQL when configured.
    pub async fn all() -> Result<Vec<Self>, StoreError> {
        let mut v = vec![Self::sqlite()];
        v.extend(Self::postgres().await?);
        Ok(v)
    }

    /// Connects and migrates.
    pub async fn store(&self) -> Result<Store, StoreError> {
        let store = Store::connect(&self.url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Drops the PostgreSQL database (SQLite files go with the directory on drop).
    pub async fn cleanup(self) -> Result<(), StoreError> {
        if let Some(admin_url) = &self.admin_url {
            let admin = Database::connect(admin_url.as_str()).await?;
            admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await?;
            admin.close().await?;
        }
        Ok(())
    }
}

/// Swaps the database name of a PostgreSQL URL, keeping any query string.
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Runs `f` once per test backend (see [`TestDatabase::all`]) with a migrated, empty store,
/// closing the store and dropping the database afterwards.
///
/// # Panics
/// When a test database cannot be created, connected, migrated or dropped: this is test
/// support, and a test without its database must fail loudly, not skip.
pub async fn for_each_backend<F, Fut>(f: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in TestDatabase::all().await.expect("test databases") {
        eprintln!("backend: {}", db.backend);
        let store = db.store().await.expect("connect and migrate");
        f(store.clone()).await;
        store.close().await.expect("close the store");
        db.cleanup().await.expect("drop the test database");
    }
}

#[cfg(test)]
mod tests {
    use super::replace_db_name;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            replace_db_name("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            replace_db_name("postgres://u@h/db?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
        assert_eq!(replace_db_name("postgres://u@h", "t1"), "postgres://u@h/t1");
    }
}
