//! The caller's account.

use super::{Principal, Roster};
use crate::error::{CoreError, FieldErrors};
use crate::model::Account;
use crate::validate;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub company_name: Option<String>,
    pub is_enabled_mfa_to_all_users: Option<bool>,
}

/// An account's name as kept: checked (single line, at most 150 characters) and trimmed.
pub(super) fn account_name(errs: &mut FieldErrors, name: &str) -> String {
    validate::name(errs, "name", name, 150);
    name.trim().to_string()
}

impl Roster {
    pub async fn get_account(&self, p: &Principal) -> Result<Account, CoreError> {
        let mut tx = self.store.read().await?;
        let a = tx
            .account(p.account())
            .await?
            .ok_or(CoreError::NotFound("Account"))?;
        Ok(a)
    }

    pub async fn update_account(
        &self,
        p: &Principal,
        patch: &AccountPatch,
    ) -> Result<Account, CoreError> {
        p.require_owner()?;
        let mut errs = FieldErrors::new();
        let mut tx = self.store.begin().await?;
        let before = tx
            .account(p.account())
            .await?
            .ok_or(CoreError::NotFound("Account"))?;
        let mut after = before.clone();
        if let Some(n) = &patch.name {
            after.name = account_name(&mut errs, n);
        }
        if let Some(c) = &patch.company_name {
            validate::max_len(&mut errs, "company_name", c, 150);
            after.company_name = c.trim().to_string();
        }
        if let Some(m) = patch.is_enabled_mfa_to_all_users {
            after.is_enabled_mfa_to_all_users = m;
        }
        let requiring = after.is_enabled_mfa_to_all_users && !before.is_enabled_mfa_to_all_users;
        if requiring
            && !tx
                .totp(p.account(), p.user().id)
                .await?
                .is_some_and(|t| t.confirmed)
        {
            errs.add(
                "is_enabled_mfa_to_all_users",
                "Turn on two-factor sign-in for yourself first (in the console: Your profile), so \
                 requiring it cannot lock you out.",
            );
        }
        errs.into_result()?;
        after.last_modified = self.clock.now();
        let updated = tx.update_account(&after, before.version).await?;
        if requiring {
            // Everyone else without two-factor sign-in signs in again, and sets it up then.
            tx.delete_sessions_without_totp(p.account(), p.user().id)
                .await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    /// The name of the caller's account (for the console's frame).
    pub async fn account_name(&self, p: &Principal) -> Result<String, CoreError> {
        let mut tx = self.store.read().await?;
        Ok(tx
            .account(p.account())
            .await?
            .map(|a| a.name)
            .unwrap_or_default())
    }
}
