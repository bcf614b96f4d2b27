//! The instance operator: makes, lists, renames, disables and deletes accounts. An operator token
//! works only here (the operator API and the CLI); it is not a personal token and cannot act
//! inside any account, and no account's token is an operator token.

use super::accounts::account_name;
use super::{ListRequest, Listed, Roster, TokenInput};
use crate::error::{AuthFailure, CoreError, FieldErrors};
use crate::model::{Account, AccountId, NewUser, OperatorToken, PersonalToken, User};
use crate::store::{NewAccount, SortKey, Tx};
use crate::token::{NewKey, hash_key, key_from_authorization};
use crate::validate;
use chrono::Duration;
use serde::Deserialize;
use uuid::Uuid;

/// Who may use the operator API: the holder of a valid operator token, or whoever runs the CLI
/// on the server's database.
#[derive(Debug, Clone)]
pub struct Operator {
    /// The operator token in use (`None`: the CLI).
    token: Option<Uuid>,
}

impl Operator {
    /// The CLI: whoever can run it can read the database, so it needs no token.
    pub fn local() -> Operator {
        Operator { token: None }
    }

    pub fn token(&self) -> Option<Uuid> {
        self.token
    }
}

/// What `POST /operator/accounts` takes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewAccountInput {
    pub name: Option<String>,
    pub owner_email: Option<String>,
}

/// What `PATCH /operator/accounts/{id}` takes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperatorAccountPatch {
    pub name: Option<String>,
    pub is_active: Option<bool>,
}

/// A new account, its owner and the owner's first token (the key shown once).
#[derive(Debug)]
pub struct CreatedAccount {
    pub account: Account,
    pub owner: User,
    pub token: PersonalToken,
    pub key: NewKey,
    /// A one-time link for the owner to choose a console password (24 hours).
    pub password_link: super::LinkKey,
}

/// An operator token just made (the key shown once).
#[derive(Debug)]
pub struct CreatedOperatorToken {
    pub token: OperatorToken,
    pub key: NewKey,
}

/// How long the first operator token and a new account's first owner token live.
pub const OPERATOR_TOKEN_DAYS: i64 = 365;

/// Rows removed per transaction while an account is deleted: short enough that the writer is
/// never held for long.
const PURGE_BATCH: i64 = 2_000;

impl Roster {
    /// Authenticate an operator token (`Authorization: Token <key>` or `Bearer <key>`). Personal
    /// tokens are not operator tokens: they are refused here like any unknown key.
    pub async fn authenticate_operator(
        &self,
        authorization: Option<&str>,
    ) -> Result<Operator, CoreError> {
        let header = authorization.ok_or(CoreError::Unauthenticated(AuthFailure::Missing))?;
        let key = key_from_authorization(header).map_err(CoreError::Unauthenticated)?;
        let mut tx = self.store.read().await?;
        // Looked up by the exact, indexed hash of 32 random bytes: see `authenticate_for`.
        let token = tx
            .operator_token_by_hash(&hash_key(key))
            .await?
            .ok_or(CoreError::Unauthenticated(AuthFailure::Invalid))?;
        if token.expires_at <= self.clock.now() {
            return Err(CoreError::Unauthenticated(AuthFailure::Expired));
        }
        Ok(Operator {
            token: Some(token.uuid),
        })
    }

    /// On a store without an operator token, make the first one (first start, and the first
    /// start after an upgrade to a version with operators); otherwise `None`.
    pub async fn bootstrap_operator(&self) -> Result<Option<CreatedOperatorToken>, CoreError> {
        let mut tx = self.store.begin().await?;
        if tx.operator_token_count().await? > 0 {
            return Ok(None);
        }
        let made = self
            .operator_token_in(
                tx.as_mut(),
                "Operator token (first start)",
                OPERATOR_TOKEN_DAYS,
            )
            .await?;
        tx.commit().await?;
        Ok(Some(made))
    }

    /// Another operator token (the CLI: to rotate one, or after the last one expired).
    pub async fn create_operator_token(
        &self,
        _op: &Operator,
        name: &str,
        days: i64,
    ) -> Result<CreatedOperatorToken, CoreError> {
        let mut errs = FieldErrors::new();
        validate::name(&mut errs, "name", name, 100);
        if !(1..=3650).contains(&days) {
            errs.add("days", "Between 1 and 3650 days.");
        }
        errs.into_result()?;
        let mut tx = self.store.begin().await?;
        let made = self
            .operator_token_in(tx.as_mut(), name.trim(), days)
            .await?;
        tx.commit().await?;
        Ok(made)
    }

    async fn operator_token_in(
        &self,
        tx: &mut dyn Tx,
        name: &str,
        days: i64,
    ) -> Result<CreatedOperatorToken, CoreError> {
        let now = self.clock.now();
        let key = NewKey::operator()?;
        let token = OperatorToken {
            uuid: Uuid::new_v4(),
            name: name.to_string(),
            created: now,
            expires_at: now + Duration::days(days),
            last_used_at: None,
            key_prefix: key.shown_prefix(),
        };
        tx.insert_operator_token(&token, &key.hash()).await?;
        Ok(CreatedOperatorToken { token, key })
    }

    pub async fn list_operator_tokens(
        &self,
        _op: &Operator,
    ) -> Result<Vec<OperatorToken>, CoreError> {
        Ok(self.store.read().await?.list_operator_tokens().await?)
    }

    /// Revoke an operator token: refused at once (operator tokens are never cached).
    pub async fn revoke_operator_token(&self, _op: &Operator, uuid: Uuid) -> Result<(), CoreError> {
        let mut tx = self.store.begin().await?;
        tx.delete_operator_token(uuid).await.map_err(|e| match e {
            crate::store::StoreError::NotFound => CoreError::NotFound("Operator token"),
            other => other.into(),
        })?;
        tx.commit().await?;
        Ok(())
    }

    /// Has no operator token been made yet?
    pub async fn needs_operator_bootstrap(&self) -> Result<bool, CoreError> {
        Ok(self.store.read().await?.operator_token_count().await? == 0)
    }

    /// Make an account with its owner and the owner's first token, in one transaction.
    pub async fn create_account(
        &self,
        _op: &Operator,
        input: &NewAccountInput,
    ) -> Result<CreatedAccount, CoreError> {
        let mut errs = FieldErrors::new();
        let name =
            required(&mut errs, "name", input.name.as_deref()).map(|n| account_name(&mut errs, &n));
        let email = required(&mut errs, "owner_email", input.owner_email.as_deref());
        if let Some(e) = &email {
            validate::email(&mut errs, "owner_email", e);
        }
        errs.into_result()?;
        let (name, email) = (name.unwrap_or_default(), email.unwrap_or_default());
        let mut tx = self.store.begin().await?;
        let made = self
            .make_account_in(
                tx.as_mut(),
                &name,
                email.trim(),
                ("Owner token", "Made with the account by the operator."),
                OPERATOR_TOKEN_DAYS,
            )
            .await?;
        tx.commit().await?;
        tracing::info!(account = %made.account.id, "account created by the operator");
        Ok(made)
    }

    /// An account, its owner and the owner's first token (named and described by `token`,
    /// living `days`), inside `tx`.
    pub(crate) async fn make_account_in(
        &self,
        tx: &mut dyn Tx,
        name: &str,
        owner_email: &str,
        token: (&str, &str),
        days: i64,
    ) -> Result<CreatedAccount, CoreError> {
        let now = self.clock.now();
        let token = TokenInput {
            name: Some(token.0.into()),
            description: Some(token.1.into()),
            expires_at: Some((now + Duration::days(days)).to_rfc3339()),
        };
        let account = tx
            .insert_account(&NewAccount {
                name: name.to_string(),
                company_name: String::new(),
                now,
            })
            .await?;
        let mut owner = NewUser::new(account.id, owner_email, "Account", "Owner", now);
        owner.is_account_owner = true;
        let id = tx.insert_user(&owner).await?;
        let owner = owner.stored(id);
        let created = self.create_token_in(tx, &owner, &token, None).await?;
        let password_link = self.password_link_in(tx, &owner).await?;
        Ok(CreatedAccount {
            account,
            owner,
            token: created.token,
            key: created.key,
            password_link,
        })
    }

    pub async fn list_accounts(
        &self,
        _op: &Operator,
        req: &ListRequest,
    ) -> Result<Listed<Account>, CoreError> {
        let (params, page) = req.params(&[("id", SortKey::Id)], (SortKey::Id, false))?;
        let mut tx = self.store.read().await?;
        let found = tx.list_accounts(params.offset, params.limit).await?;
        Ok(Listed {
            items: found.items,
            total: found.total,
            page,
            page_size: params.limit,
        })
    }

    pub async fn operator_account(
        &self,
        _op: &Operator,
        id: AccountId,
    ) -> Result<Account, CoreError> {
        let mut tx = self.store.read().await?;
        tx.account(id).await?.ok_or(CoreError::NotFound("Account"))
    }

    /// Rename, disable or enable an account. A disabled account's tokens and SCIM endpoints are
    /// refused at once (this process) or within a second (others).
    pub async fn patch_account(
        &self,
        _op: &Operator,
        id: AccountId,
        patch: &OperatorAccountPatch,
    ) -> Result<Account, CoreError> {
        let mut errs = FieldErrors::new();
        let mut tx = self.store.begin().await?;
        let before = tx
            .account(id)
            .await?
            .ok_or(CoreError::NotFound("Account"))?;
        let mut after = before.clone();
        if let Some(n) = &patch.name {
            after.name = account_name(&mut errs, n);
        }
        if let Some(active) = patch.is_active {
            if active && before.deleting_since.is_some() {
                errs.add(
                    "is_active",
                    "The account is being deleted; it cannot be enabled again.",
                );
            }
            after.is_active = active;
        }
        errs.into_result()?;
        after.last_modified = self.clock.now();
        let updated = tx.update_account(&after, before.version).await?;
        tx.commit().await?;
        if before.is_active != updated.is_active {
            tracing::info!(account = %id, active = updated.is_active, "account enabled or disabled by the operator");
        }
        Ok(updated)
    }

    /// Disable the account at once and have its rows removed in the background. Refused while it
    /// has an active identity provider (Entra would go on provisioning into nothing) unless
    /// `force`.
    pub async fn delete_account(
        &self,
        _op: &Operator,
        id: AccountId,
        force: bool,
    ) -> Result<Account, CoreError> {
        let mut tx = self.store.begin().await?;
        let before = tx
            .account(id)
            .await?
            .ok_or(CoreError::NotFound("Account"))?;
        if before.deleting_since.is_some() {
            return Ok(before);
        }
        if !force && let Some(active) = tx.list_idps(id).await?.into_iter().find(|i| i.is_active) {
            return Err(CoreError::Conflict {
                field: "force",
                message: format!(
                    "The account has an active identity provider ({}, {}): deactivate it first, \
                     or delete with force=true.",
                    active.name, active.uuid
                ),
            });
        }
        let now = self.clock.now();
        let mut after = before.clone();
        after.is_active = false;
        after.deleting_since = Some(now);
        after.last_modified = now;
        let updated = tx.update_account(&after, before.version).await?;
        tx.commit().await?;
        tracing::info!(account = %id, force, "account deletion started by the operator");
        Ok(updated)
    }

    /// Remove the rows of every account being deleted, one short transaction per batch; answer
    /// how many rows went. Runs in the background (and resumes after a restart).
    pub async fn purge_deleted_accounts(&self) -> Result<u64, CoreError> {
        let pending = self.store.read().await?.accounts_being_deleted().await?;
        let mut total = 0;
        for account in pending {
            loop {
                let n = self.purge_account_batch(account).await?;
                total += n;
                if n == 0 {
                    tracing::info!(%account, "account deleted");
                    break;
                }
            }
        }
        Ok(total)
    }

    /// One batch of an account's deletion, in its own transaction; 0 when the account is gone.
    /// Only for accounts whose deletion was asked for ([`Roster::delete_account`]).
    pub async fn purge_account_batch(&self, account: AccountId) -> Result<u64, CoreError> {
        let mut tx = self.store.begin().await?;
        match tx.account(account).await? {
            Some(a) if a.deleting_since.is_some() => {}
            Some(_) => {
                return Err(CoreError::Conflict {
                    field: "id",
                    message: "The account's deletion was not asked for.".into(),
                });
            }
            None => return Ok(0),
        }
        let n = tx.purge_account(account, PURGE_BATCH).await?;
        tx.commit().await?;
        Ok(n)
    }
}

/// A required text field (an error when absent).
fn required(errs: &mut FieldErrors, field: &'static str, v: Option<&str>) -> Option<String> {
    if v.is_none() {
        errs.add(field, "This field is required.");
    }
    v.map(str::to_string)
}
