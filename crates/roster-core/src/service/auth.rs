//! Who is calling: tokens to principals, and what principals may do.

use super::Roster;
use crate::error::{AuthFailure, CoreError};
use crate::model::{AccountId, User, perm};
use crate::token::{hash_key, key_from_authorization};
use uuid::Uuid;

/// An authenticated caller: the user a valid personal token acts as. Only
/// [`Roster::authenticate`] makes one.
#[derive(Debug, Clone)]
pub struct Principal {
    user: User,
    /// The personal token used; `None` for a console session.
    token: Option<Uuid>,
    /// When the credential used expires (the token, or the session).
    expires_at: chrono::DateTime<chrono::Utc>,
    permissions: Vec<String>,
}

impl Principal {
    pub fn user(&self) -> &User {
        &self.user
    }
    pub fn account(&self) -> AccountId {
        self.user.account_id
    }
    /// The personal token used (`None` for a console session).
    pub fn token(&self) -> Option<Uuid> {
        self.token
    }
    /// The latest a token this caller makes may expire: a token never makes a token that
    /// outlives it; a person signed in to the console is not so bound.
    pub fn token_limit(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.token.map(|_| self.expires_at)
    }
    /// When the credential used (token or console session) expires.
    pub fn expires_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.expires_at
    }
    /// The principal of a console session of `user`.
    pub(crate) fn from_session(
        user: User,
        expires_at: chrono::DateTime<chrono::Utc>,
        permissions: Vec<String>,
    ) -> Self {
        Self {
            user,
            token: None,
            expires_at,
            permissions,
        }
    }
    /// A user whose only permission is SCIM Protocol Integration: an identity provider's bot.
    /// It may use SCIM and read itself, nothing else (in particular, make no tokens).
    pub fn is_scim_only(&self) -> bool {
        !self.is_owner()
            && !self.permissions.is_empty()
            && self.permissions.iter().all(|p| p == perm::SCIM)
    }
    /// May this principal use the IAM API for this request? A SCIM-only user (an identity
    /// provider's bot) may only read itself: its token is for SCIM.
    pub fn check_iam(&self, reads_self: bool) -> Result<(), CoreError> {
        if self.is_scim_only() && !reads_self {
            return Err(CoreError::Forbidden(
                "This token's user holds only the SCIM Protocol Integration permission: it may use SCIM, and read itself here, nothing else.".into(),
            ));
        }
        Ok(())
    }
    pub fn is_owner(&self) -> bool {
        self.user.is_account_owner
    }
    /// Owners hold every permission; others hold the union over their active teams.
    pub fn has(&self, slug: &str) -> bool {
        self.is_owner() || self.permissions.iter().any(|p| p == slug)
    }
    pub fn permissions(&self) -> &[String] {
        &self.permissions
    }

    pub fn require_owner(&self) -> Result<(), CoreError> {
        if self.is_owner() {
            Ok(())
        } else {
            Err(CoreError::Forbidden(
                "Only an account owner can perform this action.".into(),
            ))
        }
    }
    pub(crate) fn require_view_users(&self) -> Result<(), CoreError> {
        if self.has(perm::VIEW_USERS) {
            Ok(())
        } else {
            Err(CoreError::forbidden())
        }
    }
    pub(crate) fn require_edit_users(&self) -> Result<(), CoreError> {
        if self.has(perm::VIEW_USERS) && self.has(perm::EDIT_USERS) {
            Ok(())
        } else {
            Err(CoreError::forbidden())
        }
    }
    pub(crate) fn require_edit_teams(&self) -> Result<(), CoreError> {
        if self.has(perm::EDIT_USERS) {
            Ok(())
        } else {
            Err(CoreError::forbidden())
        }
    }
}

/// Record last use at most this often per token, so reads stay reads.
const TOUCH_EVERY_SECONDS: i64 = 30;

impl Roster {
    /// Authenticate an `Authorization` header value (`None` when the header is absent).
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, CoreError> {
        Ok(self.authenticate_for(authorization, None).await?.0)
    }

    /// Authenticate, and find the identity provider `idp` of the principal's account in the same
    /// lookup (the SCIM hot path).
    pub(crate) async fn authenticate_for(
        &self,
        authorization: Option<&str>,
        idp: Option<uuid::Uuid>,
    ) -> Result<(Principal, Option<crate::model::IdentityProvider>), CoreError> {
        let header = authorization.ok_or(CoreError::Unauthenticated(AuthFailure::Missing))?;
        let key = key_from_authorization(header).map_err(CoreError::Unauthenticated)?;
        let hash = hash_key(key);
        let found = self
            .store
            .token_by_hash(&hash, idp)
            .await?
            .ok_or(CoreError::Unauthenticated(AuthFailure::Invalid))?;
        // No second comparison of the hash: the store found the row by an exact, indexed match on
        // it. Timing cannot leak the key either way: what is compared is SHA-256 of 32 random
        // bytes, so learning a prefix of a stored hash tells nothing about any key.
        let now = self.clock.now();
        let token = &found.stored.token;
        let refused = if token.expires_at <= now {
            Some(AuthFailure::Expired)
        } else if !found.user.is_active || !found.account_active {
            Some(AuthFailure::InactiveUser)
        } else {
            None
        };
        if let Some(why) = refused {
            if self.signals().should_note_token(token.uuid, now) {
                tracing::info!(
                    account = %token.account_id,
                    user = %token.user_id,
                    token = %token.uuid,
                    reason = why.reason(),
                    "a personal token was refused"
                );
            }
            return Err(CoreError::Unauthenticated(why));
        }
        let stale = token
            .last_used_at
            .is_none_or(|t| (now - t).num_seconds() >= TOUCH_EVERY_SECONDS);
        if stale {
            self.store.touch_token(token.uuid, now).await?;
        }
        Ok((
            Principal {
                token: Some(token.uuid),
                expires_at: token.expires_at,
                user: found.user,
                permissions: found.permissions,
            },
            found.idp,
        ))
    }
}
