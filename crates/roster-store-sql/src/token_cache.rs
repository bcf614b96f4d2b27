//! Authenticated tokens remembered for at most a second, so a SCIM request reads its token once
//! a second instead of once a request.
//!
//! What a token may do depends on its row, its user (active, owner, teams), the permissions of
//! those teams, its account and the identity provider it was asked with. Every write method of
//! the store that can change one of those records what it touched in the transaction's [`Stale`]
//! (a user, or everything for the rare account-, team-, provider- and token-wide changes); the
//! process that commits the transaction then calls [`TokenCache::forget`], which drops the
//! entries it names at once. Writes that cannot change an existing token's answer (a new user, a
//! new team, a provisioning-log entry) forget nothing, so a burst of SCIM creates keeps its token
//! remembered. A read that was in flight while such a commit landed is not remembered either.
//!
//! Other processes sharing the database forget their entries [`FRESH_FOR`] after they were read,
//! so a change reaches them within a second without any signalling between processes. Only tokens
//! that were found are remembered: an unknown key is read from the database every time, and the
//! cache cannot be filled by guessing.

use roster_core::model::UserId;
use roster_core::store::{StoreResult, TokenWithUser};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long an entry is trusted, counted from before the read that made it.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Entries (and users changed since the oldest read in flight) kept at most; past it the cache
/// starts again empty.
const CAPACITY: usize = 4096;

type Key = ([u8; 32], Option<Uuid>);

/// What a write transaction changed that a remembered token may depend on.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stale {
    everything: bool,
    users: Vec<UserId>,
}

impl Stale {
    /// The user's row, teams or tokens changed.
    pub fn user(&mut self, id: UserId) {
        if !self.everything {
            self.users.push(id);
        }
    }

    pub fn users(&mut self, ids: impl IntoIterator<Item = UserId>) {
        for id in ids {
            self.user(id);
        }
    }

    /// Something many tokens may depend on changed (an account, a team, its permissions, an
    /// identity provider, a token).
    pub fn everything(&mut self) {
        self.everything = true;
        self.users = Vec::new();
    }

    /// Add what another part of the same transaction changed.
    pub fn absorb(&mut self, other: Stale) {
        if other.everything {
            self.everything();
        } else {
            self.users(other.users);
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.everything && self.users.is_empty()
    }
}

struct Entry {
    read_at: Instant,
    found: TokenWithUser,
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Entry>,
    /// Counts the commits that forgot something.
    generation: u64,
    /// The generation at which everything was last forgotten.
    all_since: u64,
    /// The generation at which each user was last forgotten (reads that began before it are not
    /// remembered).
    users_since: HashMap<UserId, u64>,
}

impl State {
    fn forget_all(&mut self) {
        self.entries.clear();
        self.users_since.clear();
        self.all_since = self.generation;
    }
}

#[derive(Default)]
pub struct TokenCache {
    state: Mutex<State>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.lock().entries.len())
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves nothing half-written worth refusing.
        self.state
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
        let began = {
            let state = self.lock();
            if let Some(e) = state.entries.get(&key)
                && e.read_at.elapsed() < FRESH_FOR
            {
                return Ok(Some(e.found.clone()));
            }
            state.generation
        };
        let read_at = Instant::now();
        let found = load.await?;
        if let Some(found) = &found {
            let mut state = self.lock();
            let forgotten_since = state
                .users_since
                .get(&found.user.id)
                .copied()
                .unwrap_or(0)
                .max(state.all_since);
            if forgotten_since <= began {
                if state.entries.len() >= CAPACITY {
                    state.entries.clear();
                }
                state.entries.insert(
                    key,
                    Entry {
                        read_at,
                        found: found.clone(),
                    },
                );
            }
        }
        Ok(found)
    }

    /// A write committed: what it changed is not trusted again.
    pub fn forget(&self, stale: &Stale) {
        if stale.is_empty() {
            return;
        }
        let mut state = self.lock();
        state.generation += 1;
        if stale.everything || state.users_since.len() + stale.users.len() > CAPACITY {
            state.forget_all();
            return;
        }
        let users: HashSet<UserId> = stale.users.iter().copied().collect();
        state
            .entries
            .retain(|_, e| !users.contains(&e.found.user.id));
        let generation = state.generation;
        for u in users {
            state.users_since.insert(u, generation);
        }
    }

    /// A token's last use was recorded: remembered copies say so too (else every request would
    /// record it again until the entry is read afresh).
    pub fn touched(&self, uuid: Uuid, at: chrono::DateTime<chrono::Utc>) {
        for e in self.lock().entries.values_mut() {
            if e.found.stored.token.uuid == uuid {
                e.found.stored.token.last_used_at = Some(at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::model::{AccountId, PersonalToken, StoredToken, User};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn found(user: i64) -> TokenWithUser {
        let now = chrono::Utc::now();
        let mut u = User::new(AccountId(1), format!("u{user}@example.com"), "", "", now);
        u.id = UserId(user);
        TokenWithUser {
            stored: StoredToken {
                token: PersonalToken {
                    uuid: Uuid::new_v4(),
                    user_id: u.id,
                    account_id: u.account_id,
                    name: "t".into(),
                    description: None,
                    created: now,
                    expires_at: now,
                    last_used_at: None,
                    key_prefix: "azion".into(),
                },
                key_hash: [user as u8; 32],
            },
            user: u,
            account_active: true,
            permissions: Vec::new(),
            idp: None,
        }
    }

    /// Look up user `user`'s token, counting the reads that reach the "database".
    async fn get(cache: &TokenCache, reads: &AtomicUsize, user: i64) {
        let got = cache
            .get_or_load(&[user as u8; 32], None, async {
                reads.fetch_add(1, Ordering::SeqCst);
                Ok(Some(found(user)))
            })
            .await
            .unwrap();
        assert_eq!(got.unwrap().user.id, UserId(user));
    }

    #[tokio::test]
    async fn commits_forget_only_what_they_changed() {
        let cache = TokenCache::default();
        let reads = AtomicUsize::new(0);
        get(&cache, &reads, 1).await;
        get(&cache, &reads, 2).await;
        get(&cache, &reads, 1).await;
        assert_eq!(
            reads.load(Ordering::SeqCst),
            2,
            "a fresh entry is not read again"
        );

        // A commit that changed nothing a token depends on (a new user, a log entry).
        cache.forget(&Stale::default());
        get(&cache, &reads, 1).await;
        assert_eq!(reads.load(Ordering::SeqCst), 2);

        // User 2 changed: its token is read again, user 1's is not.
        let mut stale = Stale::default();
        stale.user(UserId(2));
        cache.forget(&stale);
        get(&cache, &reads, 1).await;
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        get(&cache, &reads, 2).await;
        assert_eq!(reads.load(Ordering::SeqCst), 3);

        // Something everyone depends on changed.
        let mut stale = Stale::default();
        stale.everything();
        stale.user(UserId(9));
        cache.forget(&stale);
        get(&cache, &reads, 1).await;
        get(&cache, &reads, 2).await;
        assert_eq!(reads.load(Ordering::SeqCst), 5);
    }

    /// A read that began before a commit changed its user is answered but not remembered: it
    /// may have seen the user as it was.
    #[tokio::test]
    async fn a_read_overtaken_by_a_change_is_not_remembered() {
        for everything in [false, true] {
            let cache = TokenCache::default();
            let reads = AtomicUsize::new(0);
            let got = cache
                .get_or_load(&[1; 32], None, async {
                    reads.fetch_add(1, Ordering::SeqCst);
                    let mut stale = Stale::default();
                    if everything {
                        stale.everything();
                    } else {
                        stale.user(UserId(1));
                    }
                    cache.forget(&stale);
                    Ok(Some(found(1)))
                })
                .await
                .unwrap();
            assert!(got.is_some());
            get(&cache, &reads, 1).await;
            assert_eq!(reads.load(Ordering::SeqCst), 2, "everything: {everything}");
        }
    }

    #[test]
    fn stale_sets_absorb_each_other() {
        let mut a = Stale::default();
        assert!(a.is_empty());
        let mut b = Stale::default();
        b.user(UserId(3));
        a.absorb(b);
        assert!(!a.is_empty());
        let mut c = Stale::default();
        c.everything();
        a.absorb(c);
        a.user(UserId(4));
        assert_eq!(
            a,
            Stale {
                everything: true,
                users: Vec::new()
            }
        );
    }
}
