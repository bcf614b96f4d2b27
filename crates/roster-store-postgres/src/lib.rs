//! Roster's PostgreSQL store: the same SQL as the SQLite store (see `roster-store-sql`), its own
//! migrations, one connection pool. Reads run without a transaction (each statement sees the latest
//! committed state); writes run in `READ COMMITTED` transactions that lock the rows they read
//! (`FOR UPDATE`) and check versions on every update.

use async_trait::async_trait;
use roster_core::store::{Store, Tx};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

roster_store_sql::sql_store_tx!(
    sqlx::Postgres,
    PgTx,
    roster_store_sql::filter_sql::Dialect::Postgres
);

/// The store's migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold a password.
        f.write_str("PgStore")
    }
}

impl PgStore {
    /// Connect to a `postgres://` URL.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("bad PostgreSQL URL: {e}")))?
            .application_name("roster")
            .statement_cache_capacity(500);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(map_err)?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Apply pending migrations (PostgreSQL takes an advisory lock, so several servers may race).
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))?;
        after_migrations(&self.pool).await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// `VACUUM ANALYZE`: fresh planner statistics and visibility map, what autovacuum does on
    /// its own some time after a bulk load (index-only scans need the visibility map).
    pub async fn vacuum_analyze(&self) -> StoreResult<()> {
        sqlx::raw_sql("VACUUM ANALYZE")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl Store for PgStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let tx = begin_detached(&self.pool, None).await?;
        Ok(Box::new(PgTx::new(tx, true)))
    }

    async fn read(&self) -> StoreResult<Box<dyn Tx>> {
        // No transaction for reads: each statement sees the latest committed state (as on
        // SQLite), and two round trips are saved on every read request.
        let conn = self.pool.acquire().await.map_err(map_err)?;
        Ok(Box::new(PgTx::plain(conn)))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn token_by_hash(
        &self,
        key_hash: &[u8; 32],
        idp: Option<uuid::Uuid>,
    ) -> StoreResult<Option<TokenWithUser>> {
        token_by_hash(&self.pool, key_hash, idp).await
    }

    async fn touch_token(
        &self,
        uuid: uuid::Uuid,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        touch_token(&self.pool, uuid, at).await
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}
