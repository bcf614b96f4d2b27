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

impl TestStore {
    pub async fn new(backend: Backend) -> TestStore {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("roster.sqlite3").display());
                let s = roster_store_sqlite::SqliteStore::open(&url).await.unwrap();
                s.migrate().await.unwrap();
                TestStore {
                    store: Arc::new(s),
                    dir: Some(dir),
                    pg: None,
                }
            }
            Backend::Postgres => {
                let name = format!("roster_t_{}", uuid::Uuid::new_v4().simple());
                let mut conn = admin().await;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let admin_url = pg_admin_url();
                let (prefix, _) = admin_url.rsplit_once('/').unwrap();
                let url = format!("{prefix}/{name}");
                let s = roster_store_postgres::PgStore::open(&url).await.unwrap();
                s.migrate().await.unwrap();
                TestStore {
                    store: Arc::new(s),
                    dir: None,
                    pg: Some((url, name)),
                }
            }
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
