//! Console sign-in and sessions.
//!
//! - Sign-in takes an email and a password; it answers the same for an unknown email and a wrong
//!   password (and costs the same: an unknown email is checked against a dummy hash). An email
//!   whose password fits users of several accounts is asked which account it means.
//! - Sign-in attempts are slowed down per email, per client address and per pair of them
//!   ([`SignInThrottle`]); password hashing runs two at a time at most.
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
use crate::model::{AccountId, ConsoleSession, SessionStage};
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
/// A session whose password fit but whose sign-in is not finished (a two-factor code, or setting
/// two-factor sign-in up) ends this long after the password.
pub const PENDING_MINUTES: i64 = 15;
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
    /// The password fit; the user's two-factor code is still to come (to this session, which
    /// does nothing else: see [`Roster::second_factor`]).
    SecondFactor(SessionKey),
    /// The password fit; the user must set up the two-factor sign-in its account requires (this
    /// session does nothing else: see [`Roster::finish_enrollment`]).
    Enroll(SessionKey),
}

/// Sign-in attempts, counted in memory, by three keys: the pair of email and client address, the
/// email alone, and the address alone. A pair is held back after [`SignInThrottle::PAIR_LIMIT`]
/// attempts without success within [`SignInThrottle::WINDOW_MINUTES`]; an email (from any
/// address) or an address (for any email) after [`SignInThrottle::WIDE_LIMIT`]. Held back means
/// refused for 30 seconds, doubling with each further attempt, up to the window: so a guesser
/// gets a few tries an hour, and someone who tries another user's email from elsewhere slows that
/// user down without locking them out for long.
///
/// An attempt counts when it begins (so parallel requests cannot all slip past the check), and a
/// success takes its own attempt back. Keys are SHA-256 of the folded email (fixed size, whatever
/// was typed) and the address, IPv6 by its /64. Per process: with N processes behind a balancer
/// an attacker gets at most N times the attempts.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    entries: Mutex<HashMap<[u8; 32], Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

/// The throttle's keys of one attempt (see [`SignInThrottle`]).
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    keys: [([u8; 32], u32); 3],
}

impl Attempt {
    /// The attempt of `email` (as typed) from `client` (an IP address, or anything else).
    pub fn new(email: &str, client: &str) -> Attempt {
        let email = Sha256::digest(validate::user_name_key(email.trim()).as_bytes());
        let addr = match client.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            Ok(v4) => v4.to_string(),
            Err(_) => client.chars().take(64).collect(),
        };
        let key = |tag: &str, parts: &[&[u8]]| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update(tag.as_bytes());
            for p in parts {
                h.update(p);
                h.update([0u8]);
            }
            h.finalize().into()
        };
        Attempt {
            keys: [
                (
                    key("pair", &[&email, addr.as_bytes()]),
                    SignInThrottle::PAIR_LIMIT,
                ),
                (key("email", &[&email]), SignInThrottle::WIDE_LIMIT),
                (
                    key("address", &[addr.as_bytes()]),
                    SignInThrottle::WIDE_LIMIT,
                ),
            ],
        }
    }
}

impl SignInThrottle {
    pub const PAIR_LIMIT: u32 = 5;
    pub const WIDE_LIMIT: u32 = 50;
    pub const WINDOW_MINUTES: i64 = 15;
    /// Keys kept at most (each about 60 bytes): past it, windows that ended go, then the oldest.
    const MAX_ENTRIES: usize = 100_000;

    /// Begin an attempt: `Err(seconds)` when it is held back (and then it does not count).
    pub fn begin(&self, a: &Attempt, now: DateTime<Utc>) -> Result<(), i64> {
        let window = Duration::minutes(Self::WINDOW_MINUTES);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let held = a
            .keys
            .iter()
            .filter_map(|(k, _)| entries.get(k).and_then(|f| f.locked_until))
            .filter(|until| *until > now)
            .map(|until| (until - now).num_seconds().max(1))
            .max();
        if let Some(wait) = held {
            return Err(wait);
        }
        if entries.len() + a.keys.len() > Self::MAX_ENTRIES {
            entries.retain(|_, f| now - f.first < window);
            while entries.len() + a.keys.len() > Self::MAX_ENTRIES {
                let Some(oldest) = entries.iter().min_by_key(|(_, f)| f.first).map(|(k, _)| *k)
                else {
                    break;
                };
                entries.remove(&oldest);
            }
        }
        for (key, limit) in a.keys {
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
        Ok(())
    }

    /// The attempt succeeded: the pair starts again, and the email and the address take it back.
    pub fn succeeded(&self, a: &Attempt) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let [pair, email, address] = a.keys;
        entries.remove(&pair.0);
        for (k, _) in [email, address] {
            if let Some(f) = entries.get_mut(&k) {
                f.count = f.count.saturating_sub(1);
                if f.count < SignInThrottle::WIDE_LIMIT {
                    f.locked_until = None;
                }
            }
        }
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
        let attempt = Attempt::new(email, client);
        self.sign_ins
            .begin(&attempt, now)
            .map_err(CoreError::Throttled)?;
        let failed = || CoreError::Unauthenticated(AuthFailure::SignIn);
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
                self.sign_ins.succeeded(&attempt);
                let user = &matched[0].user;
                let stage = self.stage_after_password(user).await?;
                let key = self.open_session(user.account_id, user.id, stage).await?;
                Ok(match stage {
                    SessionStage::Full => SignIn::Session(key),
                    SessionStage::SecondFactor => SignIn::SecondFactor(key),
                    SessionStage::Enroll => SignIn::Enroll(key),
                })
            }
            _ => Ok(SignIn::ChooseAccount(
                matched
                    .into_iter()
                    .map(|c| (c.user.account_id, c.account_name))
                    .collect(),
            )),
        }
    }

    /// A new session of `user` at `stage`: a signed-in one lasts [`SESSION_HOURS`], one still
    /// to finish its sign-in [`PENDING_MINUTES`].
    pub(super) async fn open_session(
        &self,
        account: AccountId,
        user: crate::model::UserId,
        stage: SessionStage,
    ) -> Result<SessionKey, CoreError> {
        let key = random_key()?;
        let now = self.clock.now();
        let lasts = match stage {
            SessionStage::Full => Duration::hours(SESSION_HOURS),
            _ => Duration::minutes(PENDING_MINUTES),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_session(
            &hash_key(key.expose()),
            &ConsoleSession {
                account_id: account,
                user_id: user,
                created: now,
                last_seen: now,
                expires_at: now + lasts,
                stage,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(SessionKey(key))
    }

    /// The principal of the session whose key is `key`, while it is valid and signed in.
    pub async fn session(&self, key: &str) -> Result<Principal, CoreError> {
        match self.session_at_any_stage(key).await? {
            (SessionStage::Full, p) => Ok(p),
            (SessionStage::SecondFactor, _) => {
                Err(CoreError::Unauthenticated(AuthFailure::SecondFactor))
            }
            (SessionStage::Enroll, _) => Err(CoreError::Unauthenticated(AuthFailure::Enroll)),
        }
    }

    /// The stage of the session whose key is `key` and its principal, while it is valid. A
    /// session still to finish its sign-in has no permissions.
    pub async fn session_at_any_stage(
        &self,
        key: &str,
    ) -> Result<(SessionStage, Principal), CoreError> {
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
        let permissions = match s.stage {
            SessionStage::Full => tx.user_permission_slugs(user.account_id, user.id).await?,
            _ => Vec::new(),
        };
        drop(tx);
        if now - s.last_seen >= Duration::seconds(TOUCH_EVERY_SECONDS) {
            let mut w = self.store.begin().await?;
            w.touch_session(&hash, now).await?;
            w.commit().await?;
        }
        Ok((
            s.stage,
            Principal::from_session(user, s.expires_at, permissions),
        ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn a_pair_is_held_back_after_five_and_released_after_the_wait() {
        let th = SignInThrottle::default();
        let a = Attempt::new("Ada@Example.com", "192.0.2.1");
        for _ in 0..SignInThrottle::PAIR_LIMIT {
            assert!(th.begin(&a, t0()).is_ok());
        }
        let wait = th.begin(&a, t0()).err();
        assert_eq!(wait, Some(30));
        // The same email from elsewhere is not held back by this pair.
        assert!(
            th.begin(&Attempt::new("ada@example.com", "198.51.100.7"), t0())
                .is_ok()
        );
        assert!(th.begin(&a, t0() + Duration::seconds(31)).is_ok());
    }

    #[test]
    fn an_email_tried_from_many_addresses_is_slowed_not_locked_for_long() {
        let th = SignInThrottle::default();
        for i in 0..SignInThrottle::WIDE_LIMIT {
            let a = Attempt::new("ada@example.com", &format!("203.0.113.{i}"));
            assert!(th.begin(&a, t0()).is_ok());
        }
        let a = Attempt::new("ada@example.com", "192.0.2.200");
        let wait = th.begin(&a, t0()).err().unwrap_or_default();
        assert!((1..=30).contains(&wait), "{wait}");
        assert!(th.begin(&a, t0() + Duration::minutes(16)).is_ok());
    }

    #[test]
    fn success_takes_its_attempt_back_and_ipv6_counts_by_its_64() {
        let th = SignInThrottle::default();
        let a = Attempt::new("ada@example.com", "2001:db8:1:2:aaaa::1");
        let b = Attempt::new("ada@example.com", "2001:db8:1:2:bbbb::9");
        for _ in 0..4 {
            assert!(th.begin(&a, t0()).is_ok());
        }
        // Another address of the same /64 is the same client.
        assert!(th.begin(&b, t0()).is_ok());
        assert!(th.begin(&a, t0()).is_err());
        th.succeeded(&a);
        assert!(th.begin(&a, t0()).is_ok(), "the pair starts again");
    }

    #[test]
    fn keys_are_fixed_size_whatever_is_typed() {
        let th = SignInThrottle::default();
        let long = "x".repeat(1 << 20);
        assert!(th.begin(&Attempt::new(&long, &long), t0()).is_ok());
        let entries = th.entries.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(entries.len(), 3);
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        assert!(csrf_matches(&a, &csrf_token(&a)));
        assert!(!csrf_matches(&a, &csrf_token(&b)));
        assert!(!csrf_matches(&a, ""));
        assert_ne!(csrf_token(&a), a, "the token is not the key");
    }
}
