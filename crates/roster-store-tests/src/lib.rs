//! Fresh stores for tests, on either backend.
//!
//! PostgreSQL stores get a database of their own on `ROSTER_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped by [`TestStore::finish`]. When PostgreSQL is
//! unreachable the test fails: it never skips.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use roster_core::Store;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestStore {
    pub store: Arc<dyn Store>,
    /// The SQLite data directory.
    pub dir: Option<tempfile::TempDir>,
    /// The PostgreSQL database URL and name.
    pub pg: Option<(String, String)>,
    /// The PostgreSQL store behind `store`, to migrate in place.
    pg_store: Option<roster_store_postgres::PgStore>,
}

pub fn pg_admin_url() -> String {
    std::env::var("ROSTER_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn admin() -> sqlx::PgConnection {
    use sqlx::Connection;
    let url = pg_admin_url();
    sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!("PostgreSQL at {url} is required for this test and is unreachable: {e}")
    })
}

/// A temporary directory for a SQLite database, and the database's URL.
fn sqlite_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    (dir, url)
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("roster.sqlite3").display())
}

/// A new, empty PostgreSQL database: its URL and name.
async fn pg_database() -> (String, String) {
    let name = format!("roster_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = admin().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let admin_url = pg_admin_url();
    let (prefix, _) = admin_url.rsplit_once('/').unwrap();
    (format!("{prefix}/{name}"), name)
}

impl TestStore {
    pub async fn new(backend: Backend) -> TestStore {
        match backend {
            Backend::Sqlite => {
                let (dir, url) = sqlite_file();
                let s = roster_store_sqlite::SqliteStore::open(&url).await.unwrap();
                s.migrate().await.unwrap();
                Self::sqlite(dir, s)
            }
            Backend::Postgres => {
                let (url, name) = pg_database().await;
                let s = roster_store_postgres::PgStore::open(&url).await.unwrap();
                s.migrate().await.unwrap();
                Self::pg(url, name, s)
            }
        }
    }

    /// A fresh store whose schema stops at migration `version`, for upgrade tests: write what a
    /// database of that version held, then [`TestStore::migrate`].
    pub async fn at_version(backend: Backend, version: i64) -> TestStore {
        match backend {
            Backend::Sqlite => {
                let (dir, url) = sqlite_file();
                let s = roster_store_sqlite::SqliteStore::open(&url).await.unwrap();
                s.migrate_to(Some(version)).await.unwrap();
                Self::sqlite(dir, s)
            }
            Backend::Postgres => {
                let (url, name) = pg_database().await;
                let pool = sqlx::PgPool::connect(&url).await.unwrap();
                roster_store_postgres::MIGRATOR
                    .run_to(version, &pool)
                    .await
                    .unwrap();
                pool.close().await;
                Self::pg_store(url, name).await
            }
        }
    }

    /// The store over a PostgreSQL test database as it is (not migrated).
    async fn pg_store(url: String, name: String) -> TestStore {
        let s = roster_store_postgres::PgStore::open(&url).await.unwrap();
        Self::pg(url, name, s)
    }

    fn pg(url: String, name: String, s: roster_store_postgres::PgStore) -> TestStore {
        TestStore {
            store: Arc::new(s.clone()),
            dir: None,
            pg: Some((url, name)),
            pg_store: Some(s),
        }
    }

    fn sqlite(dir: tempfile::TempDir, s: roster_store_sqlite::SqliteStore) -> TestStore {
        TestStore {
            store: Arc::new(s),
            dir: Some(dir),
            pg: None,
            pg_store: None,
        }
    }

    /// A store over a copy of a SQLite database file (not migrated).
    pub async fn sqlite_copy_of(file: &std::path::Path) -> TestStore {
        let (dir, url) = sqlite_file();
        std::fs::copy(file, dir.path().join("roster.sqlite3")).unwrap();
        let s = roster_store_sqlite::SqliteStore::open(&url).await.unwrap();
        Self::sqlite(dir, s)
    }

    /// A store over a fresh PostgreSQL database made by running `sql` (a plain `pg_dump`; not
    /// migrated).
    pub async fn postgres_from_dump(sql: &str) -> TestStore {
        let (url, name) = pg_database().await;
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        Self::pg_store(url, name).await
    }

    /// A second store over the same database, as another Roster process would open it.
    pub async fn another(&self) -> Arc<dyn Store> {
        match (&self.dir, &self.pg) {
            (Some(dir), _) => Arc::new(
                roster_store_sqlite::SqliteStore::open(&sqlite_url(dir))
                    .await
                    .unwrap(),
            ),
            (None, Some((url, _))) => {
                Arc::new(roster_store_postgres::PgStore::open(url).await.unwrap())
            }
            (None, None) => unreachable!("a test store is SQLite or PostgreSQL"),
        }
    }

    /// Apply every pending migration (and the data steps after them), as a server start does.
    pub async fn migrate(&self) {
        match (&self.dir, &self.pg) {
            (Some(dir), _) => {
                let s = roster_store_sqlite::SqliteStore::open(&sqlite_url(dir))
                    .await
                    .unwrap();
                s.migrate().await.unwrap();
                s.close().await;
            }
            (None, Some(_)) => {
                let s = self
                    .pg_store
                    .as_ref()
                    .expect("a PostgreSQL test store has its store");
                s.migrate().await.unwrap();
            }
            (None, None) => unreachable!("a test store is SQLite or PostgreSQL"),
        }
    }

    /// Drop a PostgreSQL test database (SQLite's goes with its temporary directory).
    pub async fn finish(self) {
        drop(self.store);
        if let Some((_, name)) = self.pg {
            let mut conn = admin().await;
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
    }
}
