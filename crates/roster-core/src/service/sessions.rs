//! Console sign-in and sessions.
//!
//! - Sign-in takes an email and a password; it answers the same for an unknown email and a wrong
//!   password (and costs the same: an unknown email is checked against a dummy hash). An email
//!   whose password fits users of several accounts is asked which account it means.
//! - Failed sign-ins are slowed down per email and per client address ([`SignInThrottle`]).
//! - A session's key (32 random bytes) lives in the browser's cookie; the store keeps its
//!   SHA-256, so sessions hold across several Roster processes on one PostgreSQL. A session ends
//!   after [`SESSION_IDLE_MINUTES`] without use or [`SESSION_HOURS`] after sign-in, at sign-out,
//!   when its user signs out everywhere or changes password, and when the user or the account is
//!   disabled.
//! - The CSRF token of a session is derived from its key, so forms need no stored state.

use super::Roster;
use super::auth::Principal;
use super::passwords::{PASSWORD_MAX_BYTES, verify_password};
use crate::error::{AuthFailure, CoreError};
use crate::model::{AccountId, ConsoleSession};
use crate::secret::Secret;
use crate::token::hash_key;
use crate::validate;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// A session ends after this long without a request.
pub const SESSION_IDLE_MINUTES: i64 = 60;
/// A session ends this long after sign-in, however used.
pub const SESSION_HOURS: i64 = 12;
/// Record a session's use at most this often, so page views stay reads.
const TOUCH_EVERY_SECONDS: i64 = 60;
/// The length of a session or link key: 32 random bytes in hex.
pub const KEY_HEX_LEN: usize = 64;

/// 32 random bytes from the OS, in hex.
pub(crate) fn random_key() -> Result<Secret, CoreError> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(|e| CoreError::Internal(format!("no randomness: {e}")))?;
    Ok(Secret::new(hex::encode(buf)))
}

/// A session's key: the browser's cookie. `Debug` redacts it.
#[derive(Debug, Clone)]
pub struct SessionKey(pub Secret);

impl SessionKey {
    /// The CSRF token of this session's forms: derived from the key (which never leaves the
    /// cookie), so a page can carry it without revealing the key.
    pub fn csrf_token(&self) -> String {
        csrf_token(self.0.expose())
    }
}

/// The CSRF token of the session whose key is `key`.
pub fn csrf_token(key: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"roster console csrf\0");
    h.update(key.as_bytes());
    hex::encode(h.finalize())
}

/// Does `sent` equal the CSRF token of session `key` (in constant time)?
pub fn csrf_matches(key: &str, sent: &str) -> bool {
    let want = csrf_token(key);
    want.len() == sent.len()
        && want
            .bytes()
            .zip(sent.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// What a sign-in answered.
#[derive(Debug, Clone)]
pub enum SignIn {
    /// Signed in: the new session's key (for the cookie).
    Session(SessionKey),
    /// The password fits this email in several accounts: which one is meant? (Account ids and
    /// names, by name.)
    ChooseAccount(Vec<(AccountId, String)>),
}

/// Failed sign-ins, counted in memory per email and per client address. After
/// [`SignInThrottle::EMAIL_LIMIT`] failures for an email (or [`SignInThrottle::ADDRESS_LIMIT`]
/// from an address) within [`SignInThrottle::WINDOW_MINUTES`], sign-in is refused for 30
/// seconds, doubling with each further failure, up to the window. Per process: with N processes
/// behind a balancer an attacker gets at most N times the attempts.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    entries: Mutex<HashMap<String, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

impl SignInThrottle {
    pub const EMAIL_LIMIT: u32 = 5;
    pub const ADDRESS_LIMIT: u32 = 20;
    pub const WINDOW_MINUTES: i64 = 15;
    /// Entries kept at most (each a few dozen bytes); beyond, the oldest windows go first.
    const MAX_ENTRIES: usize = 100_000;

    fn keys(email: &str, client: &str) -> [(String, u32); 2] {
        [
            (format!("e:{email}"), Self::EMAIL_LIMIT),
            (format!("a:{client}"), Self::ADDRESS_LIMIT),
        ]
    }

    /// Seconds to wait before trying again, when this email or address is held back.
    pub fn check(&self, email: &str, client: &str, now: DateTime<Utc>) -> Option<i64> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        Self::keys(email, client)
            .iter()
            .filter_map(|(k, _)| entries.get(k).and_then(|f| f.locked_until))
            .filter(|until| *until > now)
            .map(|until| (until - now).num_seconds().max(1))
            .max()
    }

    pub fn failed(&self, email: &str, client: &str, now: DateTime<Utc>) {
        let window = Duration::minutes(Self::WINDOW_MINUTES);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::MAX_ENTRIES {
            entries.retain(|_, f| now - f.first < window);
        }
        for (key, limit) in Self::keys(email, client) {
            let f = entries.entry(key).or_insert(Failures {
                count: 0,
                first: now,
                locked_until: None,
            });
            if now - f.first >= window {
                *f = Failures {
                    count: 0,
                    first: now,
                    locked_until: None,
                };
            }
            f.count += 1;
            if f.count >= limit {
                let doublings = (f.count - limit).min(5);
                let wait = Duration::seconds(30 * (1i64 << doublings)).min(window);
                f.locked_until = Some(now + wait);
            }
        }
    }

    /// A sign-in for `email` succeeded: its count starts again (the address's does not).
    pub fn succeeded(&self, email: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(&format!("e:{email}"));
    }
}

impl Roster {
    /// Sign in with an email and a password (`account`: the account meant, when the email is a
    /// user's in several). `client` is the caller's address, for the slow-down.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &Secret,
        account: Option<AccountId>,
        client: &str,
    ) -> Result<SignIn, CoreError> {
        let now = self.clock.now();
        let email = email.trim();
        let key = validate::user_name_key(email);
        if let Some(wait) = self.sign_ins.check(&key, client, now) {
            return Err(CoreError::Throttled(wait));
        }
        let failed = || {
            self.sign_ins.failed(&key, client, now);
            CoreError::Unauthenticated(AuthFailure::SignIn)
        };
        if email.is_empty() || email.len() > 320 || password.expose().len() > PASSWORD_MAX_BYTES {
            return Err(failed());
        }
        let candidates: Vec<_> = {
            let mut tx = self.store.read().await?;
            tx.sign_in_candidates(email).await?
        }
        .into_iter()
        .filter(|c| c.user.is_active && c.account_active)
        .filter(|c| account.is_none_or(|a| a == c.user.account_id))
        .filter(|c| c.password_hash.is_some())
        .collect();
        if candidates.is_empty() {
            verify_password(None, password).await;
            return Err(failed());
        }
        let mut matched = Vec::new();
        for c in candidates {
            if verify_password(c.password_hash.as_deref(), password).await {
                matched.push(c);
            }
        }
        match matched.len() {
            0 => Err(failed()),
            1 => {
                self.sign_ins.succeeded(&key);
                let user = &matched[0].user;
                let key = self.open_session(user.account_id, user.id).await?;
                Ok(SignIn::Session(key))
            }
            _ => Ok(SignIn::ChooseAccount(
                matched
                    .into_iter()
                    .map(|c| (c.user.account_id, c.account_name))
                    .collect(),
            )),
        }
    }

    async fn open_session(
        &self,
        account: AccountId,
        user: crate::model::UserId,
    ) -> Result<SessionKey, CoreError> {
        let key = random_key()?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        tx.insert_session(
            &hash_key(key.expose()),
            &ConsoleSession {
                account_id: account,
                user_id: user,
                created: now,
                last_seen: now,
                expires_at: now + Duration::hours(SESSION_HOURS),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(SessionKey(key))
    }

    /// The principal of the session whose key is `key`, while it is valid.
    pub async fn session(&self, key: &str) -> Result<Principal, CoreError> {
        let refused = CoreError::Unauthenticated(AuthFailure::Invalid);
        if key.len() != KEY_HEX_LEN {
            return Err(refused);
        }
        let hash = hash_key(key);
        let now = self.clock.now();
        let mut tx = self.store.read().await?;
        let s = tx.session_by_hash(&hash).await?.ok_or(refused)?;
        if s.expires_at <= now || now - s.last_seen >= Duration::minutes(SESSION_IDLE_MINUTES) {
            drop(tx);
            let mut w = self.store.begin().await?;
            w.delete_session(&hash).await?;
            w.commit().await?;
            return Err(CoreError::Unauthenticated(AuthFailure::Expired));
        }
        let user = tx.user(s.account_id, s.user_id).await?;
        let account = tx.account(s.account_id).await?;
        let (Some(user), Some(account)) = (user, account) else {
            return Err(CoreError::Unauthenticated(AuthFailure::Invalid));
        };
        if !user.is_active || !account.is_active || account.deleting_since.is_some() {
            return Err(CoreError::Unauthenticated(AuthFailure::InactiveUser));
        }
        let permissions = tx.user_permission_slugs(user.account_id, user.id).await?;
        drop(tx);
        if now - s.last_seen >= Duration::seconds(TOUCH_EVERY_SECONDS) {
            let mut w = self.store.begin().await?;
            w.touch_session(&hash, now).await?;
            w.commit().await?;
        }
        Ok(Principal::from_session(user, s.expires_at, permissions))
    }

    /// End the session whose key is `key`.
    pub async fn sign_out(&self, key: &str) -> Result<(), CoreError> {
        let mut tx = self.store.begin().await?;
        tx.delete_session(&hash_key(key)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// End every session of the caller's user (every browser it is signed in with).
    pub async fn sign_out_everywhere(&self, p: &Principal) -> Result<u64, CoreError> {
        let mut tx = self.store.begin().await?;
        let n = tx.delete_user_sessions(p.account(), p.user().id).await?;
        tx.commit().await?;
        Ok(n)
    }
}
