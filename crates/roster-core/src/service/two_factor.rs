//! Two-factor sign-in to the console: a TOTP code (RFC 6238: SHA-1, 6 digits, 30-second steps,
//! one step of clock drift either way; what every authenticator app makes) after the password,
//! or one of ten single-use recovery codes.
//!
//! - A user turns it on from its profile: Roster makes a secret (20 random bytes, sealed at rest:
//!   it must use it to check codes), shows it as a QR code and as text, and turns it on when a
//!   first code fits. Then it shows the recovery codes, once (stored as SHA-256 hashes).
//! - No code is accepted twice: the store keeps the time step of the last code used.
//! - A user's `two_factor_enabled` (the IAM API's field) says two-factor sign-in is required of
//!   it; turning TOTP on sets it, turning it off clears it. An owner can require it of the whole
//!   account (`is_enabled_mfa_to_all_users`), once the owner has it on. A user required to use it
//!   who has not set it up is led through setting it up right after its password.
//! - An owner can reset a user's two-factor sign-in (a lost phone): the user sets it up again at
//!   its next sign-in if it is still required.
//! - Wrong codes count as failed sign-ins ([`super::SignInThrottle`]).
//!
//! API tokens are not affected: a personal token is its own credential.

use super::Roster;
use super::auth::Principal;
use super::sessions::{Attempt, SessionKey};
use crate::error::{AuthFailure, CoreError, FieldErrors};
use crate::model::{SessionStage, StoredTotp, User, UserId};
use crate::secret::Secret;
use crate::token::hash_key;
use totp_rs::{Builder, Totp};

/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;
/// The issuer authenticator apps show beside the account.
const ISSUER: &str = "Roster";
/// Recovery codes' letters (base32's: unambiguous when typed, 5 bits each).
const CODE_LETTERS: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Letters in a recovery code: 16, so 80 random bits.
const CODE_LEN: usize = 16;

/// A TOTP secret being set up: what the authenticator app needs. `Debug` shows neither.
#[derive(Clone)]
pub struct TotpSetup {
    /// The secret in base32, for typing into an app.
    pub secret: Secret,
    /// The `otpauth://` URI (the QR code's content).
    pub uri: Secret,
}

impl std::fmt::Debug for TotpSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSetup(<redacted>)")
    }
}

/// A user's two-factor sign-in, as its profile shows it.
#[derive(Debug, Clone)]
pub struct TwoFactor {
    /// On: sign-in asks for a code.
    pub on: bool,
    /// Being set up: the secret to add to an app (and then confirm with a code).
    pub setting_up: Option<TotpSetup>,
    pub recovery_codes_left: i64,
    /// The account requires it of everyone (so it cannot be turned off).
    pub required_by_account: bool,
}

/// A code as typed: six digits, or a recovery code.
enum Code {
    Totp(String),
    Recovery([u8; 32]),
}

fn parse_code(typed: &str) -> Option<Code> {
    let kept: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    if kept.len() == 6 && kept.bytes().all(|b| b.is_ascii_digit()) {
        Some(Code::Totp(kept))
    } else if kept.len() == CODE_LEN && kept.bytes().all(|b| CODE_LETTERS.contains(&b)) {
        Some(Code::Recovery(hash_key(&kept)))
    } else {
        None
    }
}

/// Ten new recovery codes (shown `xxxx-xxxx-xxxx-xxxx`) and their hashes.
fn recovery_codes() -> Result<(Vec<Secret>, Vec<[u8; 32]>), CoreError> {
    let mut shown = Vec::with_capacity(RECOVERY_CODES);
    let mut hashes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let mut buf = [0u8; CODE_LEN];
        getrandom::fill(&mut buf)
            .map_err(|e| CoreError::Internal(format!("no randomness: {e}")))?;
        // 32 divides 256: every letter equally likely.
        let code: String = buf
            .iter()
            .map(|b| char::from(CODE_LETTERS[usize::from(b % 32)]))
            .collect();
        hashes.push(hash_key(&code));
        let grouped = code
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-");
        shown.push(Secret::new(grouped));
    }
    Ok((shown, hashes))
}

fn wrong_code() -> CoreError {
    let mut errs = FieldErrors::new();
    errs.add("code", AuthFailure::Code.message());
    CoreError::Validation(errs)
}

impl Roster {
    /// The TOTP of a stored secret, for `user`.
    fn totp_of(&self, stored: &StoredTotp, user: &User) -> Result<Totp, CoreError> {
        let secret = self
            .keys
            .open(&stored.secret)
            .map_err(|e| CoreError::Internal(format!("a TOTP secret: {e}")))?;
        self.totp_from_base32(secret.expose(), user)
    }

    fn totp_from_base32(&self, secret: &str, user: &User) -> Result<Totp, CoreError> {
        let secret = totp_rs::Secret::try_from_base32(secret)
            .map_err(|e| CoreError::Internal(format!("a TOTP secret: {e}")))?;
        Builder::new()
            .with_secret(secret)
            .with_issuer(Some(ISSUER))
            // The label's account may not hold a colon.
            .with_account_name(user.email.replace(':', "_"))
            .build()
            .map_err(|e| CoreError::Internal(format!("a TOTP: {e}")))
    }

    /// The time step of `code` if it fits `totp` now (one step of drift either way).
    fn code_step(&self, totp: &Totp, code: &str) -> Option<i64> {
        let now = u64::try_from(self.clock.now().timestamp()).ok()?;
        totp.check(code, now).and_then(|s| i64::try_from(s).ok())
    }

    /// Where a sign-in whose password fit goes: to the user's code, to setting two-factor up
    /// (required of the user or its account, and not set up), or straight in.
    pub(super) async fn stage_after_password(
        &self,
        user: &User,
    ) -> Result<SessionStage, CoreError> {
        let mut tx = self.store.read().await?;
        if tx
            .totp(user.account_id, user.id)
            .await?
            .is_some_and(|t| t.confirmed)
        {
            return Ok(SessionStage::SecondFactor);
        }
        let account_requires = tx
            .account(user.account_id)
            .await?
            .is_some_and(|a| a.is_enabled_mfa_to_all_users);
        Ok(if user.two_factor_enabled || account_requires {
            SessionStage::Enroll
        } else {
            SessionStage::Full
        })
    }

    /// The caller's two-factor sign-in.
    pub async fn two_factor(&self, p: &Principal) -> Result<TwoFactor, CoreError> {
        let user = p.user();
        let mut tx = self.store.read().await?;
        let stored = tx.totp(user.account_id, user.id).await?;
        let required_by_account = tx
            .account(user.account_id)
            .await?
            .is_some_and(|a| a.is_enabled_mfa_to_all_users);
        drop(tx);
        let setting_up = match &stored {
            Some(t) if !t.confirmed => Some(self.setup_of(t, user)?),
            _ => None,
        };
        Ok(TwoFactor {
            on: stored.as_ref().is_some_and(|t| t.confirmed),
            setting_up,
            recovery_codes_left: stored.map_or(0, |t| t.recovery_codes_left),
            required_by_account,
        })
    }

    fn setup_of(&self, stored: &StoredTotp, user: &User) -> Result<TotpSetup, CoreError> {
        Self::setup(&self.totp_of(stored, user)?)
    }

    /// What an authenticator app needs of `totp`: its secret in base32 and its URI.
    fn setup(totp: &Totp) -> Result<TotpSetup, CoreError> {
        let uri = totp
            .to_url()
            .map_err(|e| CoreError::Internal(format!("a TOTP URI: {e}")))?;
        Ok(TotpSetup {
            secret: Secret::new(totp.secret().to_base32()),
            uri: Secret::new(uri),
        })
    }

    /// Begin setting up two-factor sign-in for the caller: a new secret, to add to an app and
    /// confirm with a code. Refused while it is on (turn it off first).
    pub async fn start_two_factor(&self, p: &Principal) -> Result<TotpSetup, CoreError> {
        let user = p.user();
        let mut buf = [0u8; 20];
        getrandom::fill(&mut buf)
            .map_err(|e| CoreError::Internal(format!("no randomness: {e}")))?;
        let secret = Secret::new(totp_rs::Secret::from(buf).to_base32());
        let sealed = self
            .keys
            .seal(&secret)
            .map_err(|e| CoreError::Internal(format!("sealing a TOTP secret: {e}")))?;
        let mut tx = self.store.begin().await?;
        if tx
            .totp(user.account_id, user.id)
            .await?
            .is_some_and(|t| t.confirmed)
        {
            return Err(CoreError::Conflict {
                field: "two_factor",
                message: "Two-factor sign-in is already on. Turn it off first to move it to \
                          another authenticator app."
                    .into(),
            });
        }
        tx.put_totp(user.account_id, user.id, &sealed, self.clock.now())
            .await?;
        tx.commit().await?;
        Self::setup(&self.totp_from_base32(secret.expose(), user)?)
    }

    /// Turn on the two-factor sign-in the caller is setting up, with a first `code` from its app;
    /// answer the recovery codes (shown once).
    pub async fn confirm_two_factor(
        &self,
        p: &Principal,
        code: &str,
    ) -> Result<Vec<Secret>, CoreError> {
        let user = p.user();
        let mut tx = self.store.begin().await?;
        let stored = tx
            .totp(user.account_id, user.id)
            .await?
            .filter(|t| !t.confirmed)
            .ok_or_else(|| {
                let mut errs = FieldErrors::new();
                errs.add(
                    "code",
                    "Two-factor sign-in is not being set up: start again from your profile.",
                );
                CoreError::Validation(errs)
            })?;
        let totp = self.totp_of(&stored, user)?;
        let step = match parse_code(code) {
            Some(Code::Totp(c)) => self.code_step(&totp, &c),
            _ => None,
        }
        .ok_or_else(wrong_code)?;
        let (shown, hashes) = recovery_codes()?;
        if !tx
            .confirm_totp(user.account_id, user.id, step, &hashes)
            .await?
        {
            return Err(wrong_code());
        }
        self.set_two_factor_flag(&mut *tx, user, true).await?;
        tx.commit().await?;
        Ok(shown)
    }

    /// Keep the user's `two_factor_enabled` (its requirement, as the IAM API shows it) at `on`.
    async fn set_two_factor_flag(
        &self,
        tx: &mut dyn crate::store::Tx,
        user: &User,
        on: bool,
    ) -> Result<(), CoreError> {
        let mut u = tx
            .user(user.account_id, user.id)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        if u.two_factor_enabled != on {
            let version = u.version;
            u.two_factor_enabled = on;
            u.last_modified = self.clock.now();
            tx.update_user(&u, version).await?;
        }
        Ok(())
    }

    /// Finish a sign-in with the user's TOTP `code` or a recovery code: answer the signed-in
    /// session's key, which replaces `key`'s.
    pub async fn second_factor(
        &self,
        key: &str,
        code: &str,
        client: &str,
    ) -> Result<SessionKey, CoreError> {
        let (stage, p) = self.session_at_any_stage(key).await?;
        if stage != SessionStage::SecondFactor {
            return Err(CoreError::Unauthenticated(AuthFailure::Invalid));
        }
        let user = p.user();
        let attempt = Attempt::new(&user.email, client);
        self.sign_ins
            .begin(&attempt, self.clock.now())
            .map_err(CoreError::Throttled)?;
        let mut tx = self.store.begin().await?;
        let stored = tx
            .totp(user.account_id, user.id)
            .await?
            .filter(|t| t.confirmed)
            .ok_or(CoreError::Unauthenticated(AuthFailure::Invalid))?;
        let fits = match parse_code(code) {
            Some(Code::Totp(c)) => match self.code_step(&self.totp_of(&stored, user)?, &c) {
                Some(step) => tx.use_totp_step(user.account_id, user.id, step).await?,
                None => false,
            },
            Some(Code::Recovery(hash)) => {
                tx.use_recovery_code(user.account_id, user.id, &hash)
                    .await?
            }
            None => false,
        };
        if !fits {
            return Err(CoreError::Unauthenticated(AuthFailure::Code));
        }
        tx.delete_session(&hash_key(key)).await?;
        tx.commit().await?;
        self.sign_ins.succeeded(&attempt);
        self.open_session(user.account_id, user.id, SessionStage::Full)
            .await
    }

    /// Finish a sign-in that had to set up two-factor sign-in, once it is on: answer the
    /// signed-in session's key, which replaces `key`'s.
    pub async fn finish_enrollment(&self, key: &str) -> Result<SessionKey, CoreError> {
        let (stage, p) = self.session_at_any_stage(key).await?;
        let user = p.user();
        let on = {
            let mut tx = self.store.read().await?;
            tx.totp(user.account_id, user.id)
                .await?
                .is_some_and(|t| t.confirmed)
        };
        if stage != SessionStage::Enroll || !on {
            return Err(CoreError::Unauthenticated(AuthFailure::Enroll));
        }
        let mut tx = self.store.begin().await?;
        tx.delete_session(&hash_key(key)).await?;
        tx.commit().await?;
        self.open_session(user.account_id, user.id, SessionStage::Full)
            .await
    }

    /// Turn the caller's two-factor sign-in off (with its password). Refused while the account
    /// requires it.
    pub async fn turn_off_two_factor(
        &self,
        p: &Principal,
        password: &Secret,
        client: &str,
    ) -> Result<(), CoreError> {
        let user = p.user();
        if self.two_factor(p).await?.required_by_account {
            return Err(CoreError::Forbidden(
                "Your account requires two-factor sign-in, so it stays on. An owner can reset it \
                 if you lost your authenticator."
                    .into(),
            ));
        }
        self.check_current_password(p, password, client).await?;
        let mut tx = self.store.begin().await?;
        tx.delete_totp(user.account_id, user.id).await?;
        self.set_two_factor_flag(&mut *tx, user, false).await?;
        tx.commit().await?;
        Ok(())
    }

    /// New recovery codes for the caller (with its password), replacing the old ones.
    pub async fn new_recovery_codes(
        &self,
        p: &Principal,
        password: &Secret,
        client: &str,
    ) -> Result<Vec<Secret>, CoreError> {
        let user = p.user();
        if !self.two_factor(p).await?.on {
            return Err(CoreError::Conflict {
                field: "two_factor",
                message: "Two-factor sign-in is off: there are no recovery codes to replace."
                    .into(),
            });
        }
        self.check_current_password(p, password, client).await?;
        let (shown, hashes) = recovery_codes()?;
        let mut tx = self.store.begin().await?;
        tx.replace_recovery_codes(user.account_id, user.id, &hashes)
            .await?;
        tx.commit().await?;
        Ok(shown)
    }

    /// Reset another user's two-factor sign-in (owners only): it loses its secret, recovery
    /// codes and sessions, and sets two-factor up again at its next sign-in if it is required.
    pub async fn reset_two_factor(&self, p: &Principal, id: UserId) -> Result<(), CoreError> {
        p.require_owner()?;
        if id == p.user().id {
            return Err(CoreError::Forbidden(
                "Turn your own two-factor sign-in off from your profile.".into(),
            ));
        }
        let mut tx = self.store.begin().await?;
        let user = tx
            .user(p.account(), id)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        tx.delete_totp(user.account_id, user.id).await?;
        tx.delete_user_sessions(user.account_id, user.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Is two-factor sign-in on for the account's user `id`? (For its page.)
    pub async fn has_two_factor(&self, p: &Principal, id: UserId) -> Result<bool, CoreError> {
        p.require_view_users()?;
        let mut tx = self.store.read().await?;
        Ok(tx.totp(p.account(), id).await?.is_some_and(|t| t.confirmed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_distinct_grouped_and_parse_back_to_their_hashes() {
        let (shown, hashes) = recovery_codes().unwrap_or_default();
        assert_eq!(shown.len(), RECOVERY_CODES);
        let mut seen = std::collections::HashSet::new();
        for (code, hash) in shown.iter().zip(&hashes) {
            let c = code.expose();
            assert_eq!(c.len(), 19, "{c}");
            assert_eq!(c.matches('-').count(), 3);
            assert!(seen.insert(c.to_string()));
            // Typed in capitals and without dashes, it is still the code.
            let typed = c.replace('-', " ").to_uppercase();
            match parse_code(&typed) {
                Some(Code::Recovery(h)) => assert_eq!(&h, hash),
                _ => panic!("{typed} is not read as a recovery code"),
            }
        }
    }

    #[test]
    fn codes_are_six_digits_or_a_recovery_code_and_nothing_else() {
        assert!(matches!(parse_code(" 123 456 "), Some(Code::Totp(c)) if c == "123456"));
        for bad in ["12345", "1234567", "12345a", "", "abcd-efgh-ijkl-mno1"] {
            assert!(parse_code(bad).is_none(), "{bad}");
        }
    }
}
