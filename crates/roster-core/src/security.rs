//! Signals about refused requests that are kept in memory, never written to the store: whoever
//! sends them has shown no token, so nothing they send may cost disk.
//!
//! - SCIM requests that failed authentication: a counter (for the metrics endpoint), a bounded
//!   sample of the most recent ones, and a log line at most every [`WARN_EVERY_SECONDS`].
//! - Why a known token was refused (expired, its user or account inactive): the answer says only
//!   "invalid token"; the server log says why, at most once per token per minute.

use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use uuid::Uuid;

/// How many recent unauthenticated SCIM failures are kept.
pub const SAMPLE_SIZE: usize = 64;
/// At most one log line about unauthenticated SCIM failures this often.
pub const WARN_EVERY_SECONDS: i64 = 10;
/// A refused token's reason is logged at most this often per token.
const TOKEN_NOTE_EVERY_SECONDS: i64 = 60;
/// Tokens remembered for that; past it the oldest notes are forgotten.
const TOKEN_NOTES_MAX: usize = 10_000;
/// The longest identity-provider path text kept in a sample.
const IDP_TEXT_MAX: usize = 64;

/// One unauthenticated SCIM failure, as sampled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedScim {
    pub at: DateTime<Utc>,
    /// The identity provider as written in the path (truncated).
    pub idp: String,
    /// Why: `missing`, `bad_scheme`, `invalid`, `expired`, `inactive`.
    pub reason: &'static str,
    /// The client address, when the server knows it.
    pub client: Option<String>,
}

#[derive(Debug, Default)]
pub struct SecuritySignals {
    unauthenticated_scim: AtomicU64,
    sample: Mutex<VecDeque<RefusedScim>>,
    /// When the last warning was logged, and the count then.
    last_warning: Mutex<Option<(DateTime<Utc>, u64)>>,
    token_notes: Mutex<HashMap<Uuid, DateTime<Utc>>>,
}

impl SecuritySignals {
    /// Count an unauthenticated SCIM failure; sample it; warn now and then.
    pub fn unauthenticated_scim(&self, mut refused: RefusedScim) {
        let total = self.unauthenticated_scim.fetch_add(1, Ordering::Relaxed) + 1;
        refused.idp = refused.idp.chars().take(IDP_TEXT_MAX).collect();
        let now = refused.at;
        if let Ok(mut s) = self.sample.lock() {
            if s.len() == SAMPLE_SIZE {
                s.pop_front();
            }
            s.push_back(refused.clone());
        }
        if let Ok(mut last) = self.last_warning.lock() {
            let due = last.is_none_or(|(at, _)| (now - at).num_seconds() >= WARN_EVERY_SECONDS);
            if due {
                let since = total - last.map_or(0, |(_, n)| n);
                *last = Some((now, total));
                tracing::warn!(
                    since_last_warning = since,
                    total,
                    latest_reason = refused.reason,
                    latest_client = refused.client.as_deref().unwrap_or("-"),
                    "SCIM requests refused before authentication (counted in memory, never stored)"
                );
            }
        }
    }

    /// Unauthenticated SCIM failures since start.
    pub fn unauthenticated_scim_count(&self) -> u64 {
        self.unauthenticated_scim.load(Ordering::Relaxed)
    }

    /// The most recent unauthenticated SCIM failures, oldest first.
    pub fn recent_unauthenticated_scim(&self) -> Vec<RefusedScim> {
        self.sample
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether a refusal of `token` should be logged now (at most once per token per minute).
    pub fn should_note_token(&self, token: Uuid, now: DateTime<Utc>) -> bool {
        let Ok(mut notes) = self.token_notes.lock() else {
            return false;
        };
        if notes
            .get(&token)
            .is_some_and(|at| (now - *at).num_seconds() < TOKEN_NOTE_EVERY_SECONDS)
        {
            return false;
        }
        if notes.len() >= TOKEN_NOTES_MAX {
            notes.retain(|_, at| (now - *at).num_seconds() < TOKEN_NOTE_EVERY_SECONDS);
            if notes.len() >= TOKEN_NOTES_MAX {
                notes.clear();
            }
        }
        notes.insert(token, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn the_sample_is_bounded_and_the_count_is_not() {
        let s = SecuritySignals::default();
        for i in 0..(SAMPLE_SIZE as i64 + 10) {
            s.unauthenticated_scim(RefusedScim {
                at: at(i),
                idp: "x".repeat(1000),
                reason: "invalid",
                client: None,
            });
        }
        assert_eq!(s.unauthenticated_scim_count(), SAMPLE_SIZE as u64 + 10);
        let recent = s.recent_unauthenticated_scim();
        assert_eq!(recent.len(), SAMPLE_SIZE);
        assert_eq!(recent[0].at, at(10));
        assert_eq!(recent[0].idp.len(), IDP_TEXT_MAX);
    }

    #[test]
    fn a_token_is_noted_once_a_minute() {
        let s = SecuritySignals::default();
        let t = Uuid::new_v4();
        assert!(s.should_note_token(t, at(0)));
        assert!(!s.should_note_token(t, at(59)));
        assert!(s.should_note_token(t, at(60)));
        assert!(s.should_note_token(Uuid::new_v4(), at(60)));
    }
}
