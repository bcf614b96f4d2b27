//! Personal tokens: every user manages their own; an owner manages every token of the account.
//!
//! Containment: a token never makes a token that outlives it, a SCIM-only user (an identity
//! provider's bot) makes none, and an owner can list and revoke any token of the account, one or
//! all of a user's at once.

use super::{ListRequest, Listed, Principal, Roster, check_page};
use crate::error::{CoreError, FieldErrors};
use crate::model::{PersonalToken, StoredToken, User, UserId};
use crate::store::{SortKey, TokenScope, Tx};
use crate::token::NewKey;
use crate::validate;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TokenInput {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Lenient: RFC 3339, `YYYY-MM-DDTHH:MM` (UTC) or `YYYY-MM-DD`.
    pub expires_at: Option<String>,
}

/// A token just made: the only time its key exists outside the caller's hands.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub token: PersonalToken,
    pub key: NewKey,
}

const TOKEN_SORTS: &[(&str, SortKey)] = &[
    ("created", SortKey::Created),
    ("name", SortKey::Name),
    ("expires_at", SortKey::ExpiresAt),
    ("id", SortKey::Id),
];

/// The first instant after the latest expiry the console offers (the end of 2038-02-09).
fn max_expiry() -> DateTime<Utc> {
    validate::parse_datetime("2038-02-10T00:00").unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Roster {
    /// The caller's own tokens; an owner's list holds every token of the account, and `user`
    /// narrows it to one user's (a non-owner may name only itself).
    pub async fn list_tokens(
        &self,
        p: &Principal,
        req: &ListRequest,
        user: Option<UserId>,
    ) -> Result<Listed<PersonalToken>, CoreError> {
        let scope = match (p.is_owner(), user) {
            (true, user) => TokenScope {
                account: p.account(),
                user,
            },
            (false, Some(u)) if u != p.user().id => {
                return Err(CoreError::Forbidden(
                    "Only an account owner can list other users' tokens.".into(),
                ));
            }
            (false, _) => own(p),
        };
        let (params, page) = req.params(TOKEN_SORTS, (SortKey::Created, true))?;
        let mut tx = self.store.read().await?;
        let got = tx.list_tokens(scope, &params).await?;
        check_page(Listed {
            items: got.items,
            total: got.total,
            page,
            page_size: params.limit,
        })
    }

    pub async fn get_token(&self, p: &Principal, uuid: Uuid) -> Result<PersonalToken, CoreError> {
        let mut tx = self.store.read().await?;
        let t = tx
            .token(visible(p), uuid)
            .await?
            .ok_or(CoreError::NotFound("Personal token"))?;
        Ok(t)
    }

    /// A token for the caller, expiring no later than the token the caller used.
    pub async fn create_token(
        &self,
        p: &Principal,
        input: &TokenInput,
    ) -> Result<CreatedToken, CoreError> {
        if p.is_scim_only() {
            return Err(CoreError::Forbidden(
                "This user holds only the SCIM Protocol Integration permission: it cannot make personal tokens. An account owner can make one for it (POST /iam/users/{id}/personal_tokens).".into(),
            ));
        }
        let mut tx = self.store.begin().await?;
        let created = self
            .create_token_in(tx.as_mut(), p.user(), input, p.token_limit())
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// An owner makes a token for a user of the account (shown once), expiring no later than the
    /// owner's own token.
    pub async fn create_token_for_user(
        &self,
        p: &Principal,
        user: UserId,
        input: &TokenInput,
    ) -> Result<CreatedToken, CoreError> {
        p.require_owner()?;
        let mut tx = self.store.begin().await?;
        let target = tx
            .user(p.account(), user)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        let created = self
            .create_token_in(tx.as_mut(), &target, input, p.token_limit())
            .await?;
        tx.commit().await?;
        tracing::info!(account = %p.account(), by = %p.user().id, user = %user, token = %created.token.uuid, "an owner made a personal token for a user");
        Ok(created)
    }

    /// An owner revokes every token of a user at once; answers how many there were.
    pub async fn revoke_user_tokens(&self, p: &Principal, user: UserId) -> Result<u64, CoreError> {
        p.require_owner()?;
        let mut tx = self.store.begin().await?;
        tx.user(p.account(), user)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        let n = tx.delete_user_tokens(p.account(), user).await?;
        tx.commit().await?;
        tracing::info!(
            account = %p.account(),
            by = %p.user().id,
            user = %user,
            revoked = n,
            "all of a user's personal tokens revoked"
        );
        Ok(n)
    }

    pub(crate) async fn create_token_in(
        &self,
        tx: &mut dyn Tx,
        user: &User,
        input: &TokenInput,
        not_after: Option<DateTime<Utc>>,
    ) -> Result<CreatedToken, CoreError> {
        let now = self.clock.now();
        let mut errs = FieldErrors::new();
        let name = match &input.name {
            None => {
                errs.add("name", "This field is required.");
                String::new()
            }
            Some(n) => {
                validate::name(&mut errs, "name", n, 100);
                n.trim().to_string()
            }
        };
        if let Some(d) = &input.description {
            validate::max_len(&mut errs, "description", d, 256);
        }
        let expires_at = match input.expires_at.as_deref() {
            None => {
                errs.add("expires_at", "This field is required.");
                now
            }
            Some(s) => match validate::parse_datetime(s) {
                None => {
                    errs.add(
                        "expires_at",
                        format!("\"{s}\" is not a date-time: use YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM] or YYYY-MM-DD (UTC)."),
                    );
                    now
                }
                Some(t) if t <= now => {
                    errs.add("expires_at", "The expiry must be in the future.");
                    t
                }
                Some(t) if t >= max_expiry() => {
                    errs.add("expires_at", "The expiry must be on or before 2038-02-09.");
                    t
                }
                Some(t) if not_after.is_some_and(|limit| t > limit) => {
                    errs.add(
                        "expires_at",
                        format!(
                            "A token cannot outlive the token used to make it: choose an expiry on or before {}.",
                            not_after.map(|l| l.to_rfc3339()).unwrap_or_default()
                        ),
                    );
                    t
                }
                Some(t) => t,
            },
        };
        errs.into_result()?;
        let key = NewKey::generate()?;
        let token = PersonalToken {
            uuid: Uuid::new_v4(),
            user_id: user.id,
            account_id: user.account_id,
            name,
            description: input.description.clone(),
            created: now,
            expires_at,
            last_used_at: None,
            key_prefix: key.shown_prefix(),
        };
        tx.insert_token(&StoredToken {
            token: token.clone(),
            key_hash: key.hash(),
        })
        .await?;
        tracing::info!(account = %user.account_id, user = %user.id, token = %token.uuid, "personal token created");
        Ok(CreatedToken { token, key })
    }

    /// Revocation takes effect at once: the next request with the key fails. An owner may revoke
    /// any token of the account.
    pub async fn delete_token(&self, p: &Principal, uuid: Uuid) -> Result<(), CoreError> {
        let mut tx = self.store.begin().await?;
        let t = tx
            .token(visible(p), uuid)
            .await?
            .ok_or(CoreError::NotFound("Personal token"))?;
        tx.delete_token(t.user_id, uuid).await?;
        tx.commit().await?;
        tracing::info!(by = %p.user().id, user = %t.user_id, token = %uuid, "personal token revoked");
        Ok(())
    }
}

/// The caller's own tokens.
fn own(p: &Principal) -> TokenScope {
    TokenScope {
        account: p.account(),
        user: Some(p.user().id),
    }
}

/// The tokens a caller may read and revoke: an owner's account's, or its own.
fn visible(p: &Principal) -> TokenScope {
    if p.is_owner() {
        TokenScope {
            account: p.account(),
            user: None,
        }
    } else {
        own(p)
    }
}
