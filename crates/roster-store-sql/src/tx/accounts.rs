//! Accounts.

use super::SqlTx;
use crate::db::Db;
use crate::rows::{self, ACCOUNT_COLS};
use roster_core::model::*;
use roster_core::store::{NewAccount, StoreResult};

impl<D: Db> SqlTx<D> {
    pub async fn account_count(&mut self) -> StoreResult<i64> {
        self.count(self.sql("SELECT COUNT(*) AS n FROM accounts", vec![]))
            .await
    }

    pub async fn insert_account(&mut self, new: &NewAccount) -> StoreResult<Account> {
        let q = self.sql(
            &format!(
                "INSERT INTO accounts (name, company_name, is_active, is_enabled_mfa_to_all_users, \
                 created, last_modified, version) VALUES ($1, $2, TRUE, FALSE, $3, $3, 1) \
                 RETURNING {ACCOUNT_COLS}"
            ),
            vec![
                (&new.name).into(),
                (&new.company_name).into(),
                new.now.into(),
            ],
        );
        let r = self.db.row(q).await?;
        rows::account(&r.ok_or_else(|| no_row("INSERT INTO accounts"))?)
    }

    pub async fn account(&mut self, id: AccountId) -> StoreResult<Option<Account>> {
        let q = self.locked(
            &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1"),
            vec![id.into()],
        );
        self.db
            .row(q)
            .await?
            .as_ref()
            .map(rows::account)
            .transpose()
    }

    pub async fn first_account(&mut self) -> StoreResult<Option<Account>> {
        let q = self.sql(
            &format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY id LIMIT 1"),
            vec![],
        );
        self.db
            .row(q)
            .await?
            .as_ref()
            .map(rows::account)
            .transpose()
    }

    pub async fn update_account(
        &mut self,
        a: &Account,
        expected_version: i64,
    ) -> StoreResult<Account> {
        self.stale.everything();
        let q = self.sql(
            &format!(
                "UPDATE accounts SET name = $2, company_name = $3, is_enabled_mfa_to_all_users = $4, \
                 last_modified = $5, version = version + 1 WHERE id = $1 AND version = $6 \
                 RETURNING {ACCOUNT_COLS}"
            ),
            vec![
                a.id.into(),
                (&a.name).into(),
                (&a.company_name).into(),
                a.is_enabled_mfa_to_all_users.into(),
                a.last_modified.into(),
                expected_version.into(),
            ],
        );
        match self.db.row(q).await? {
            Some(r) => rows::account(&r),
            None => {
                let exists = self.sql(
                    "SELECT 1 AS n FROM accounts WHERE id = $1",
                    vec![a.id.into()],
                );
                Err(self.missing_or_stale(exists).await)
            }
        }
    }

    /// Lock the account row (PostgreSQL write transactions; SQLite's writer is serial already).
    pub async fn lock_account(&mut self, account: AccountId) -> StoreResult<()> {
        if self.lock {
            let q = self.sql(
                "SELECT id FROM accounts WHERE id = $1 FOR UPDATE",
                vec![account.into()],
            );
            self.db.rows(q).await?;
        }
        Ok(())
    }
}

/// A statement with `RETURNING` answered no row.
pub(super) fn no_row(what: &str) -> roster_core::store::StoreError {
    roster_core::store::StoreError::Other(format!("{what} returned no row"))
}
