//! Console passwords: Argon2id hashes (the password itself is never kept), set from the CLI,
//! changed by their user with the current one, or chosen through a one-time link (valid 24 hours)
//! that first start prints for the owner and an owner can make for any hand-made user.
//!
//! Parameters (OWASP's first recommendation for Argon2id): 19 MiB of memory, 2 passes, 1 lane,
//! a 16-byte random salt, a 32-byte hash, in PHC string form so that stronger parameters can be
//! adopted later without breaking stored hashes. Hashing runs on a blocking thread.

use super::{Principal, Roster};
use crate::error::{CoreError, FieldErrors};
use crate::model::{AccountId, PasswordLink, User, UserId};
use crate::secret::Secret;
use crate::token::hash_key;
use chrono::Duration;

/// The shortest password accepted (NIST SP 800-63B asks at least 8; an admin console holds more).
pub const PASSWORD_MIN_CHARS: usize = 12;
/// The longest password read: hashing is costly, and no one types more.
pub const PASSWORD_MAX_BYTES: usize = 1024;
/// How long a one-time password link lives.
pub const PASSWORD_LINK_HOURS: i64 = 24;

fn argon2() -> Result<argon2::Argon2<'static>, CoreError> {
    let params = argon2::Params::new(19 * 1024, 2, 1, Some(32))
        .map_err(|e| CoreError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params,
    ))
}

/// The PHC string of `password`'s Argon2id hash (on a blocking thread).
pub(crate) async fn hash_password(password: &Secret) -> Result<String, CoreError> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let password = password.clone();
    run_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()?
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| CoreError::Internal(format!("hashing a password: {e}")))
    })
    .await
}

/// Does `password` match `hash`? With no hash, a dummy one is checked, so that an unknown email
/// costs what a wrong password does.
pub(crate) async fn verify_password(hash: Option<&str>, password: &Secret) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let known = hash.is_some();
    let hash = match hash {
        Some(h) => h.to_string(),
        None => dummy_hash().await,
    };
    let password = password.clone();
    let matched = run_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return Ok(false);
        };
        Ok(argon2()?
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .unwrap_or(false);
    known && matched
}

/// The hash of a random password nobody knows, made once with the parameters above.
async fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return h.clone();
    }
    let made = match super::sessions::random_key() {
        Ok(k) => hash_password(&k).await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    DUMMY.get_or_init(|| made).clone()
}

/// Password hashes computed at once, at most (each holds 19 MiB and a core for tens of
/// milliseconds); a request that waits longer than [`HASH_WAIT_SECONDS`] for its turn is answered
/// busy (503), so a flood of sign-ins costs bounded memory and never starves the SCIM endpoint.
const HASHES_AT_ONCE: usize = 2;
const HASH_WAIT_SECONDS: u64 = 5;

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CoreError> + Send + 'static,
) -> Result<T, CoreError> {
    static TURNS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(HASHES_AT_ONCE);
    let busy = || CoreError::Unavailable("too many password checks at once".into());
    let _turn = tokio::time::timeout(
        std::time::Duration::from_secs(HASH_WAIT_SECONDS),
        TURNS.acquire(),
    )
    .await
    .map_err(|_| busy())?
    .map_err(|_| busy())?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CoreError::Internal(format!("a blocking task failed: {e}")))?
}

/// A new password, checked: long enough, short enough, not only spaces.
fn checked(field: &'static str, password: &Secret) -> Result<(), CoreError> {
    let mut errs = FieldErrors::new();
    let p = password.expose();
    if p.len() > PASSWORD_MAX_BYTES {
        errs.add(field, format!("At most {PASSWORD_MAX_BYTES} bytes."));
    } else if p.chars().count() < PASSWORD_MIN_CHARS {
        errs.add(
            field,
            format!(
                "At least {PASSWORD_MIN_CHARS} characters: a passphrase of a few words is easiest."
            ),
        );
    } else if p.trim().is_empty() {
        errs.add(field, "Not only spaces.");
    }
    errs.into_result()
}

/// A one-time link's key, shown once (in the link) and stored only as SHA-256.
#[derive(Debug, Clone)]
pub struct LinkKey(pub Secret);

impl Roster {
    /// Set the password of the user with this email (in `account`, or the first account): the
    /// operator's CLI path. Every console session of the user ends.
    pub async fn set_password(
        &self,
        account: Option<AccountId>,
        email: &str,
        password: &Secret,
    ) -> Result<User, CoreError> {
        checked("password", password)?;
        let hash = hash_password(password).await?;
        let mut tx = self.store.begin().await?;
        let account = super::bootstrap::operator_account(tx.as_mut(), account).await?;
        let user = tx
            .user_by_email(account.id, email)
            .await?
            .ok_or(CoreError::NotFound("User with that email"))?;
        tx.set_password_hash(user.account_id, user.id, Some(&hash))
            .await?;
        tx.delete_user_sessions(user.account_id, user.id).await?;
        tx.delete_password_links(user.account_id, user.id).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The caller changes its own password, giving the current one (whose checks count in the
    /// sign-in throttle, from `client`). Every session of the user ends, this one too, and its
    /// password links go.
    pub async fn change_password(
        &self,
        p: &Principal,
        current: &Secret,
        new: &Secret,
        client: &str,
    ) -> Result<(), CoreError> {
        let user = p.user();
        self.check_current_password(p, current, client).await?;
        checked("new_password", new)?;
        let hash = hash_password(new).await?;
        let mut tx = self.store.begin().await?;
        tx.set_password_hash(user.account_id, user.id, Some(&hash))
            .await?;
        tx.delete_user_sessions(user.account_id, user.id).await?;
        tx.delete_password_links(user.account_id, user.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Is `current` the caller's password? A wrong one is a `current_password` field error, and
    /// counts as a failed sign-in (so it cannot be guessed here faster than at sign-in).
    pub(super) async fn check_current_password(
        &self,
        p: &Principal,
        current: &Secret,
        client: &str,
    ) -> Result<(), CoreError> {
        let user = p.user();
        let attempt = super::sessions::Attempt::new(&user.email, client);
        self.sign_ins
            .begin(&attempt, self.clock.now())
            .map_err(CoreError::Throttled)?;
        let stored = {
            let mut tx = self.store.read().await?;
            tx.password_hash(user.account_id, user.id).await?
        };
        if current.expose().len() > PASSWORD_MAX_BYTES
            || !verify_password(stored.as_deref(), current).await
        {
            let mut errs = FieldErrors::new();
            errs.add("current_password", "This is not your current password.");
            return Err(CoreError::Validation(errs));
        }
        self.sign_ins.succeeded(&attempt);
        Ok(())
    }

    /// A one-time link key for `user` to choose a password (valid 24 hours; it replaces the
    /// user's earlier links). Owners make them for hand-made users; a provisioned user signs in
    /// through its identity provider.
    pub async fn make_password_link(
        &self,
        p: &Principal,
        user: UserId,
    ) -> Result<LinkKey, CoreError> {
        p.require_owner()?;
        let mut tx = self.store.begin().await?;
        let target = tx
            .user(p.account(), user)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        if target.provisioning.idp_uuid.is_some() {
            return Err(CoreError::Forbidden(
                "This user is provisioned by an identity provider and signs in through it.".into(),
            ));
        }
        let key = self.password_link_in(tx.as_mut(), &target).await?;
        tx.commit().await?;
        Ok(key)
    }

    pub(crate) async fn password_link_in(
        &self,
        tx: &mut dyn crate::store::Tx,
        user: &User,
    ) -> Result<LinkKey, CoreError> {
        let key = super::sessions::random_key()?;
        let now = self.clock.now();
        tx.delete_password_links(user.account_id, user.id).await?;
        tx.insert_password_link(
            &hash_key(key.expose()),
            &PasswordLink {
                account_id: user.account_id,
                user_id: user.id,
                created: now,
                expires_at: now + Duration::hours(PASSWORD_LINK_HOURS),
            },
        )
        .await?;
        Ok(LinkKey(key))
    }

    /// The user a password link is for, while it is valid (to greet them on its page).
    pub async fn password_link_user(&self, key: &str) -> Result<User, CoreError> {
        let mut tx = self.store.read().await?;
        let link = self.valid_link(tx.as_mut(), key).await?;
        tx.user(link.account_id, link.user_id)
            .await?
            .ok_or(CoreError::NotFound("Link"))
    }

    /// Choose a password through a link; the link is used up (once, even when two requests race
    /// with it), and the user's sessions end. The link is checked before the password is hashed,
    /// so no hashing is done for a request without a valid link.
    pub async fn use_password_link(&self, key: &str, password: &Secret) -> Result<User, CoreError> {
        {
            let mut tx = self.store.read().await?;
            self.valid_link(tx.as_mut(), key).await?;
        }
        checked("password", password)?;
        let hash = hash_password(password).await?;
        let mut tx = self.store.begin().await?;
        let link = tx
            .take_password_link(&hash_key(key))
            .await?
            .filter(|l| l.expires_at > self.clock.now())
            .ok_or(CoreError::NotFound("Password link"))?;
        let user = tx
            .user(link.account_id, link.user_id)
            .await?
            .ok_or(CoreError::NotFound("Password link"))?;
        tx.set_password_hash(user.account_id, user.id, Some(&hash))
            .await?;
        tx.delete_password_links(user.account_id, user.id).await?;
        tx.delete_user_sessions(user.account_id, user.id).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn valid_link(
        &self,
        tx: &mut dyn crate::store::Read,
        key: &str,
    ) -> Result<PasswordLink, CoreError> {
        let gone = CoreError::NotFound("Password link");
        if key.len() > 128 {
            return Err(gone);
        }
        match tx.password_link(&hash_key(key)).await? {
            Some(l) if l.expires_at > self.clock.now() => Ok(l),
            _ => Err(gone),
        }
    }
}
