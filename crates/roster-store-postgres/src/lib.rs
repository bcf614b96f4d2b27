//! Roster's PostgreSQL store: the shared store logic ([`roster_store_sql::SqlTx`]) over a sqlx
//! connection pool, with native types (`uuid`, `timestamptz`, `bytea`, `jsonb`). Reads run
//! without a transaction (each statement sees the latest committed state); writes run in
//! `READ COMMITTED` transactions that lock the single records they read (`FOR UPDATE`) and check
//! versions on every update.

mod conn;

use async_trait::async_trait;
use conn::{PgConn, map_err};
use roster_core::store::{Read, Store, StoreError, StoreResult, TokenWithUser, Tx};
use roster_store_sql::{SqlTx, TokenCache};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The store's migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The database is at a schema older than native types (version 7) and not migrated yet:
    /// arguments are bound as the text that schema keeps (upgrade tests write such databases).
    text_types: Arc<AtomicBool>,
    /// Tokens authenticated in the last second (forgotten by the commits that change them).
    tokens: Arc<TokenCache>,
}

/// A pooled connection idle this long is pinged before it is handed out.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// The first schema version with native types.
const NATIVE_TYPES: i64 = 7;

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
            .map_err(|e| StoreError::database("bad PostgreSQL URL", e))?
            .application_name("roster")
            .statement_cache_capacity(500);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            // sqlx pings every connection it hands out by default: one more round trip per
            // request. A connection used within the last second is alive in all but a race
            // with a server restart (whose failure is answered 503 and drops the connection);
            // one idle for longer is still checked before use.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IF_IDLE_FOR {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(opts)
            .await
            .map_err(map_err)?;
        let migrated: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&pool)
                .await
                .map_err(map_err)?;
        let version: Option<i64> = if migrated {
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&pool)
                .await
                .map_err(map_err)?
        } else {
            None
        };
        let old = version.is_some_and(|v| v < NATIVE_TYPES);
        Ok(Self {
            pool,
            text_types: Arc::new(AtomicBool::new(old)),
            tokens: Arc::default(),
        })
    }

    fn text_types(&self) -> bool {
        self.text_types.load(Ordering::SeqCst)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Apply pending migrations (PostgreSQL takes an advisory lock, so several servers may race),
    /// then the data steps done in Rust.
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::database("migrating the PostgreSQL schema", e))?;
        self.text_types.store(false, Ordering::SeqCst);
        let mut tx = self.write().await?;
        tx.after_migrations().await?;
        Box::new(tx).commit().await
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

    async fn write(&self) -> StoreResult<SqlTx<PgConn>> {
        Ok(
            SqlTx::new(PgConn::begin(&self.pool, self.text_types()).await?, true)
                .noting(self.tokens.clone()),
        )
    }

    async fn plain(&self) -> StoreResult<SqlTx<PgConn>> {
        Ok(SqlTx::new(
            PgConn::plain(&self.pool, self.text_types()).await?,
            false,
        ))
    }
}

#[async_trait]
impl Store for PgStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(self.write().await?))
    }

    async fn read(&self) -> StoreResult<Box<dyn Read>> {
        Ok(Box::new(self.plain().await?))
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
        self.tokens
            .get_or_load(key_hash, idp, async {
                self.plain().await?.token_by_hash(key_hash, idp).await
            })
            .await
    }

    async fn touch_token(
        &self,
        uuid: uuid::Uuid,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        self.plain().await?.touch_token(uuid, at).await?;
        self.tokens.touched(uuid, at);
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}
