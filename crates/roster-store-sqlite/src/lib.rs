//! Roster's embedded default store: SQLite in WAL mode, one file in the data directory.
//!
//! Writes go through a single writer connection that starts every transaction with
//! `BEGIN IMMEDIATE` (no lock upgrades, no `SQLITE_BUSY` mid-transaction); reads use a pool of
//! reader connections, which WAL lets run beside the writer. `synchronous = FULL`: a write that
//! was acknowledged survives a power cut.

use async_trait::async_trait;
use roster_core::store::{Store, Tx};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

roster_store_sql::sql_store_tx!(
    sqlx::Sqlite,
    SqliteTx,
    roster_store_sql::filter_sql::Dialect::Sqlite
);

/// The database file and its WAL and shared-memory files readable by their owner only (0600):
/// the file is created so before SQLite opens it (SQLite gives the WAL files the database's
/// mode), and files left more open by an earlier release are narrowed.
fn private_files(db: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if !db.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(db)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut p = db.as_os_str().to_os_string();
            p.push(suffix);
            let p = std::path::PathBuf::from(p);
            if p.exists() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db;
    Ok(())
}

/// The store's migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Open (creating if missing) the database at a `sqlite:` URL, e.g. `sqlite://data/roster.sqlite3`.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .statement_cache_capacity(500);
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        if !memory {
            private_files(opts.get_filename()).map_err(|e| {
                StoreError::Other(format!(
                    "making {} private: {e}",
                    opts.get_filename().display()
                ))
            })?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.clone())
            .await
            .map_err(map_err)?;
        let readers = if memory {
            // An in-memory database exists once per connection: share the writer.
            writer.clone()
        } else {
            let n = std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(2)
                .clamp(2, 8)
                * 2;
            SqlitePoolOptions::new()
                .max_connections(n)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts.read_only(true))
                .await
                .map_err(map_err)?
        };
        Ok(Self { writer, readers })
    }

    /// Apply pending migrations.
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))?;
        after_migrations(&self.writer).await
    }

    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let tx = begin_detached(&self.writer, Some("BEGIN IMMEDIATE")).await?;
        Ok(Box::new(SqliteTx::new(tx, true)))
    }

    async fn read(&self) -> StoreResult<Box<dyn Tx>> {
        // No BEGIN/COMMIT: two worker-thread round trips saved on every read request. Each
        // statement reads a consistent WAL snapshot of its own.
        let conn = self.readers.acquire().await.map_err(map_err)?;
        Ok(Box::new(SqliteTx::plain(conn)))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.readers)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn token_by_hash(
        &self,
        key_hash: &[u8; 32],
        idp: Option<uuid::Uuid>,
    ) -> StoreResult<Option<TokenWithUser>> {
        token_by_hash(&self.readers, key_hash, idp).await
    }

    /// Recorded at once when the writer is free within 100 ms; otherwise in the background, so a
    /// read never waits long behind a write for this bookkeeping.
    async fn touch_token(
        &self,
        uuid: uuid::Uuid,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        if let Ok(Ok(mut conn)) =
            tokio::time::timeout(Duration::from_millis(100), self.writer.acquire()).await
        {
            return touch_token(&mut *conn, uuid, at).await;
        }
        let writer = self.writer.clone();
        tokio::spawn(async move {
            if let Err(e) = touch_token(&writer, uuid, at).await {
                tracing::warn!(error = %e, "could not record a token's last use");
            }
        });
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No connection free within the pool's wait is overload (503, retry), not an internal error.
    #[test]
    fn a_pool_timeout_is_busy() {
        assert!(matches!(
            map_err(sqlx::Error::PoolTimedOut),
            StoreError::Busy(_)
        ));
        assert!(matches!(
            map_err(sqlx::Error::RowNotFound),
            StoreError::Other(_)
        ));
    }
}
