//! First start, and the operator's CLI paths (trusted: whoever runs them owns the database).

use super::{Roster, TokenInput};
use crate::error::{CoreError, FieldErrors};
use crate::model::{Account, PersonalToken, User};
use crate::model::{AccountId, UserId};
use crate::token::NewKey;
use crate::validate;
use chrono::Duration;
use uuid::Uuid;

/// What first start made (the key is shown once and never stored).
pub type Bootstrapped = super::CreatedAccount;

/// How long the first owner token lives.
pub const BOOTSTRAP_TOKEN_DAYS: i64 = 365;

impl Roster {
    /// On an empty store, create an account, its owner and a token for the owner. On a store that
    /// has an account already, do nothing and answer `None`.
    pub async fn bootstrap(&self, owner_email: &str) -> Result<Option<Bootstrapped>, CoreError> {
        let mut tx = self.store.begin().await?;
        if tx.account_count().await? > 0 {
            return Ok(None);
        }
        let mut errs = FieldErrors::new();
        validate::email(&mut errs, "owner_email", owner_email);
        errs.into_result()?;
        let made = self
            .make_account_in(
                tx.as_mut(),
                "Roster",
                owner_email,
                (
                    "Owner token (first start)",
                    "Made by the first start of Roster.",
                ),
                BOOTSTRAP_TOKEN_DAYS,
            )
            .await?;
        tx.commit().await?;
        Ok(Some(made))
    }

    /// Is the store empty (so [`Roster::bootstrap`] would make the first account)?
    pub async fn needs_bootstrap(&self) -> Result<bool, CoreError> {
        let mut tx = self.store.read().await?;
        let n = tx.account_count().await?;
        Ok(n == 0)
    }

    /// Make a token for the user with this email (in `account`, or the first account).
    pub async fn issue_token(
        &self,
        account: Option<AccountId>,
        email: &str,
        name: &str,
        days: i64,
    ) -> Result<(PersonalToken, NewKey), CoreError> {
        let mut tx = self.store.begin().await?;
        let account = operator_account(tx.as_mut(), account).await?;
        let user = tx
            .user_by_email(account.id, email)
            .await?
            .ok_or(CoreError::NotFound("User with that email"))?;
        let now = self.clock.now();
        let created = self
            .create_token_in(
                tx.as_mut(),
                &user,
                &TokenInput {
                    name: Some(name.to_string()),
                    description: None,
                    expires_at: Some((now + Duration::days(days)).to_rfc3339()),
                },
                None,
            )
            .await?;
        tx.commit().await?;
        Ok((created.token, created.key))
    }

    /// Revoke any token by uuid.
    pub async fn revoke_token(&self, uuid: Uuid) -> Result<PersonalToken, CoreError> {
        let mut tx = self.store.begin().await?;
        let t = tx
            .token_by_uuid(uuid)
            .await?
            .ok_or(CoreError::NotFound("Personal token"))?;
        tx.delete_token(t.user_id, uuid).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Every user of the account (or the first account), for the CLI.
    pub async fn operator_users(&self, account: Option<AccountId>) -> Result<Vec<User>, CoreError> {
        let mut tx = self.store.read().await?;
        let account = operator_account(tx.as_mut(), account).await?;
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let page = tx
                .list_users(
                    account.id,
                    &crate::store::ListParams {
                        offset,
                        limit: 500,
                        sort: crate::store::SortKey::Id,
                        descending: false,
                        search: None,
                    },
                )
                .await?;
            let n = page.items.len() as i64;
            all.extend(page.items);
            offset += n;
            if n == 0 || offset >= page.total {
                break;
            }
        }
        Ok(all)
    }

    /// Every token of the account (or the first account), or of the user with `email` there,
    /// with each token's user's email, newest first; for the CLI.
    pub async fn operator_tokens(
        &self,
        account: Option<AccountId>,
        email: Option<&str>,
    ) -> Result<Vec<(PersonalToken, String)>, CoreError> {
        use crate::store::{ListParams, SortKey, TokenScope};
        let mut tx = self.store.read().await?;
        let account = operator_account(tx.as_mut(), account).await?;
        let user = match email {
            Some(e) => Some(
                tx.user_by_email(account.id, e)
                    .await?
                    .ok_or(CoreError::NotFound("User with that email"))?,
            ),
            None => None,
        };
        let scope = TokenScope {
            account: account.id,
            user: user.as_ref().map(|u| u.id),
        };
        let mut tokens = Vec::new();
        loop {
            let page = tx
                .list_tokens(
                    scope,
                    &ListParams {
                        offset: tokens.len() as i64,
                        limit: 500,
                        sort: SortKey::Created,
                        descending: true,
                        search: None,
                    },
                )
                .await?;
            let n = page.items.len();
            tokens.extend(page.items);
            if n == 0 || tokens.len() as i64 >= page.total {
                break;
            }
        }
        let mut emails: std::collections::HashMap<UserId, String> = Default::default();
        let mut out = Vec::with_capacity(tokens.len());
        for t in tokens {
            if let std::collections::hash_map::Entry::Vacant(slot) = emails.entry(t.user_id) {
                let e = tx
                    .user(account.id, t.user_id)
                    .await?
                    .map(|u| u.email)
                    .unwrap_or_default();
                slot.insert(e);
            }
            let e = emails.get(&t.user_id).cloned().unwrap_or_default();
            out.push((t, e));
        }
        Ok(out)
    }

    /// Revoke every token of the user with `email` (in `account`, or the first account); answers
    /// how many there were.
    pub async fn operator_revoke_all(
        &self,
        account: Option<AccountId>,
        email: &str,
    ) -> Result<u64, CoreError> {
        let mut tx = self.store.begin().await?;
        let account = operator_account(tx.as_mut(), account).await?;
        let user = tx
            .user_by_email(account.id, email)
            .await?
            .ok_or(CoreError::NotFound("User with that email"))?;
        let n = tx.delete_user_tokens(account.id, user.id).await?;
        tx.commit().await?;
        tracing::info!(
            account = %account.id,
            user = %user.id,
            revoked = n,
            "all of a user's personal tokens revoked (CLI)"
        );
        Ok(n)
    }
}

/// The account an operator command names, or the first account.
pub(super) async fn operator_account(
    tx: &mut dyn crate::store::Read,
    account: Option<AccountId>,
) -> Result<Account, CoreError> {
    match account {
        Some(a) => tx.account(a).await?,
        None => tx.first_account().await?,
    }
    .ok_or(CoreError::NotFound("Account"))
}
