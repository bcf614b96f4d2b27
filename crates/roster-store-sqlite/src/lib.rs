//! Roster's embedded default store: SQLite in WAL mode, one file in the data directory, called
//! directly (rusqlite, the bundled SQLite) on connection threads of its own.
//!
//! - One writer connection on its thread; write transactions take turns on it, each a savepoint
//!   in a batch that commits with one fsync for everyone who arrived while the previous one
//!   synced (group commit, see [`threads::Writer`]). `synchronous = FULL`: a write is
//!   acknowledged only once it is on disk.
//! - A pool of read-only connections, one thread each, reading beside the writer (WAL).
//! - Each store call is one job on one of those threads, running all its statements there, with
//!   statements prepared once per connection and kept.

mod conn;
mod migrate;
mod remote;
mod threads;

use async_trait::async_trait;
use remote::{Remote, now};
use roster_core::store::{Read, Store, StoreError, StoreResult, TokenWithUser, Tx};
use roster_store_sql::{SqlTx, TokenCache};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use threads::{Readers, Writer};

pub use migrate::MIGRATIONS;

/// The database file and its WAL and shared-memory files readable by their owner only (0600):
/// the file is created so before SQLite opens it (SQLite gives the WAL files the database's
/// mode), and files left more open by an earlier release are narrowed.
fn private_files(db: &Path) -> std::io::Result<()> {
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
            let p = PathBuf::from(p);
            if p.exists() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db;
    Ok(())
}

/// The file a `sqlite:` URL names: `sqlite://data/roster.sqlite3`, `sqlite:roster.sqlite3`,
/// with or without `?…` options (SQLite's own settings are Roster's; options are ignored).
pub fn path_of(url: &str) -> StoreResult<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::Other(format!("not a sqlite: URL: {url:?}")))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return Err(StoreError::Other(
            "Roster keeps its directory in a file: use sqlite://PATH".into(),
        ));
    }
    Ok(PathBuf::from(path))
}

#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: Readers,
    /// Tokens authenticated in the last second (forgotten by the commits that change them).
    tokens: Arc<TokenCache>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Open (creating if missing) the database at a `sqlite:` URL, e.g.
    /// `sqlite://data/roster.sqlite3`. Start-up work (the file, its mode, the connections) runs on
    /// a blocking thread.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let path = path_of(url)?;
        tokio::task::spawn_blocking(move || Self::open_now(path))
            .await
            .map_err(|e| StoreError::database("opening SQLite", e))?
    }

    fn open_now(path: PathBuf) -> StoreResult<Self> {
        private_files(&path)
            .map_err(|e| StoreError::database(format!("making {} private", path.display()), e))?;
        let writer = conn::open(&path, false)?;
        // The WAL files exist once the writer has set WAL mode: narrow them too.
        private_files(&path)
            .map_err(|e| StoreError::database(format!("making {} private", path.display()), e))?;
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8)
            * 2;
        let readers = Readers::start(&path, n)?;
        Ok(Self {
            writer: Writer::start(writer)?,
            readers,
            path,
            tokens: Arc::default(),
        })
    }

    /// Apply pending migrations, then the data steps done in Rust.
    pub async fn migrate(&self) -> StoreResult<()> {
        self.migrate_to(None).await?;
        let tx = self.writer.begin().await?;
        tx.run(|c| now(SqlTx::new(conn::SqliteDb::new(c), false).after_migrations()))
            .await?;
        tx.commit().await
    }

    /// Apply the migrations up to `version` (all with `None`), on their own connection.
    pub async fn migrate_to(&self, version: Option<i64>) -> StoreResult<()> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn::open(&path, false)?;
            migrate::run(&mut c, version)
        })
        .await
        .map_err(|e| StoreError::database("migrating SQLite", e))?
    }

    /// The connection threads end when the last handle to the store is dropped.
    pub async fn close(&self) {}
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(Remote(
            self.writer.begin().await?.noting(self.tokens.clone()),
        )))
    }

    async fn read(&self) -> StoreResult<Box<dyn Read>> {
        Ok(Box::new(Remote(self.readers.clone())))
    }

    async fn ping(&self) -> StoreResult<()> {
        self.readers
            .run(|c| {
                c.query_row("SELECT 1", [], |_| Ok(()))
                    .map_err(conn::map_err)
            })
            .await
    }

    async fn token_by_hash(
        &self,
        key_hash: &[u8; 32],
        idp: Option<uuid::Uuid>,
    ) -> StoreResult<Option<TokenWithUser>> {
        let hash = *key_hash;
        let load = self
            .readers
            .run(move |c| now(SqlTx::new(conn::SqliteDb::new(c), false).token_by_hash(&hash, idp)));
        self.tokens.get_or_load(key_hash, idp, load).await
    }

    /// Recorded at once when the writer's turn comes within 100 ms; otherwise in the background,
    /// so a read never waits long behind writes for this bookkeeping.
    async fn touch_token(
        &self,
        uuid: uuid::Uuid,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        let touch = move |c: &mut rusqlite::Connection| {
            now(SqlTx::new(conn::SqliteDb::new(c), false).touch_token(uuid, at))
        };
        if let Some(tx) = self.writer.try_begin(Duration::from_millis(100)).await {
            let tx = tx?;
            tx.run(touch).await?;
            tx.commit().await?;
            self.tokens.touched(uuid, at);
            return Ok(());
        }
        self.tokens.touched(uuid, at);
        let writer = self.writer.clone();
        tokio::spawn(async move {
            let done = async {
                let tx = writer.begin().await?;
                tx.run(touch).await?;
                tx.commit().await
            };
            if let Err(e) = done.await {
                tracing::warn!(error = %e, "could not record a token's last use");
            }
        });
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
