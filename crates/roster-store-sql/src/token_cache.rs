//! Authenticated tokens remembered for at most a second, so a SCIM request reads its token once
//! a second instead of once a request.
//!
//! Revocation, and anything else that changes what a token may do (a user disabled or deleted, a
//! team's permissions, an identity provider switched off, an account disabled), is a committed
//! write transaction. The process that commits one calls [`TokenCache::changed`] after the commit,
//! which makes every remembered entry stale at once. Other processes sharing the database forget
//! their entries [`FRESH_FOR`] after they were read, so a change reaches them within a second
//! without any signalling between processes. Only tokens that were found are remembered: an
//! unknown key is read from the database every time, and the cache cannot be filled by guessing.

use roster_core::store::{StoreResult, TokenWithUser};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long an entry is trusted, counted from before the read that made it.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Entries kept at most; when full, the cache starts again empty.
const CAPACITY: usize = 4096;

type Key = ([u8; 32], Option<Uuid>);

struct Entry {
    read_at: Instant,
    generation: u64,
    found: TokenWithUser,
}

#[derive(Default)]
pub struct TokenCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // A panic while holding the lock leaves nothing half-written worth refusing.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The token with this key hash (and the identity provider asked for), remembered or read
    /// by `load`.
    pub async fn get_or_load<F>(
        &self,
        key_hash: &[u8; 32],
        idp: Option<Uuid>,
        load: F,
    ) -> StoreResult<Option<TokenWithUser>>
    where
        F: Future<Output = StoreResult<Option<TokenWithUser>>>,
    {
        let key = (*key_hash, idp);
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(e) = self.lock().get(&key)
            && e.generation == generation
            && e.read_at.elapsed() < FRESH_FOR
        {
            return Ok(Some(e.found.clone()));
        }
        let read_at = Instant::now();
        let found = load.await?;
        if let Some(found) = &found {
            let mut entries = self.lock();
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(
                key,
                Entry {
                    read_at,
                    generation,
                    found: found.clone(),
                },
            );
        }
        Ok(found)
    }

    /// A write committed: nothing remembered before it is trusted again.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.lock().clear();
    }

    /// A token's last use was recorded: remembered copies say so too (else every request would
    /// record it again until the entry is read afresh).
    pub fn touched(&self, uuid: Uuid, at: chrono::DateTime<chrono::Utc>) {
        for e in self.lock().values_mut() {
            if e.found.stored.token.uuid == uuid {
                e.found.stored.token.last_used_at = Some(at);
            }
        }
    }
}
