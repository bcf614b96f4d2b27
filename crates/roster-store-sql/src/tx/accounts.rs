//! Accounts.

use super::SqlTx;
use crate::db::{Db, SqlRow};
use crate::rows::{self, ACCOUNT_COLS};
use roster_core::model::*;
use roster_core::store::{NewAccount, Page, StoreResult};

impl<D: Db> SqlTx<D> {
    pub async fn account_count(&mut self) -> StoreResult<i64> {
        self.count(self.sql("SELECT COUNT(*) AS n FROM accounts", vec![]))
            .await
    }

    /// Insert; answers the account as written (only its id is read back, so the statement
    /// names no column later schemas added: upgrade tests write old schemas with it).
    pub async fn insert_account(&mut self, new: &NewAccount) -> StoreResult<Account> {
        let q = self.sql(
            "INSERT INTO accounts (name, company_name, is_active, is_enabled_mfa_to_all_users, \
             created, last_modified, version) VALUES ($1, $2, TRUE, FALSE, $3, $3, 1) RETURNING id",
            vec![
                (&new.name).into(),
                (&new.company_name).into(),
                new.now.into(),
            ],
        );
        let r = self.db.row(q).await?;
        let id = r.ok_or_else(|| no_row("INSERT INTO accounts"))?.i64("id")?;
        Ok(Account {
            id: AccountId(id),
            name: new.name.clone(),
            company_name: new.company_name.clone(),
            is_active: true,
            is_enabled_mfa_to_all_users: false,
            created: new.now,
            last_modified: new.now,
            version: 1,
            deleting_since: None,
        })
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
                 last_modified = $5, is_active = $7, deleting_since = $8, version = version + 1 \
                 WHERE id = $1 AND version = $6 RETURNING {ACCOUNT_COLS}"
            ),
            vec![
                a.id.into(),
                (&a.name).into(),
                (&a.company_name).into(),
                a.is_enabled_mfa_to_all_users.into(),
                a.last_modified.into(),
                expected_version.into(),
                a.is_active.into(),
                a.deleting_since.into(),
            ],
        );
        let row = self.db.row(q).await?;
        if row.is_some() && (!a.is_active || a.deleting_since.is_some()) {
            // A disabled account's console sessions end with it.
            let q = self.sql(
                "DELETE FROM console_sessions WHERE account_id = $1",
                vec![a.id.into()],
            );
            self.db.exec(q).await?;
        }
        match row {
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

    pub async fn list_accounts(&mut self, offset: i64, limit: i64) -> StoreResult<Page<Account>> {
        let total = self
            .count(self.sql("SELECT COUNT(*) AS n FROM accounts", vec![]))
            .await?;
        // The page size is an integer written into the text (see the SCIM page query).
        let q = self.sql(
            &format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY id LIMIT {limit} OFFSET $1"),
            vec![offset.into()],
        );
        let items = self
            .db
            .rows(q)
            .await?
            .iter()
            .map(rows::account)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page { items, total })
    }

    pub async fn accounts_being_deleted(&mut self) -> StoreResult<Vec<AccountId>> {
        let q = self.sql(
            "SELECT id FROM accounts WHERE deleting_since IS NOT NULL ORDER BY id",
            vec![],
        );
        Ok(self.ids(q).await?.into_iter().map(AccountId).collect())
    }

    /// One step of deleting an account: up to `batch` rows of the first of its tables that still
    /// has any (memberships first, so that deleting a team or a user never cascades over more
    /// than its own few rows), else the account row itself.
    pub async fn purge_account(&mut self, account: AccountId, batch: i64) -> StoreResult<u64> {
        self.stale.everything();
        let steps = [
            "DELETE FROM team_members WHERE (team_id, user_id) IN (SELECT m.team_id, m.user_id \
             FROM teams t JOIN team_members m ON m.team_id = t.id WHERE t.account_id = $1 LIMIT {n})",
            "DELETE FROM provisioning_log WHERE id IN \
             (SELECT id FROM provisioning_log WHERE account_id = $1 LIMIT {n})",
            "DELETE FROM users WHERE id IN (SELECT id FROM users WHERE account_id = $1 LIMIT {n})",
            "DELETE FROM teams WHERE id IN (SELECT id FROM teams WHERE account_id = $1 LIMIT {n})",
            "DELETE FROM identity_providers WHERE account_id = $1",
            "DELETE FROM accounts WHERE id = $1",
        ];
        for step in steps {
            let q = self.sql(
                &step.replace("{n}", &batch.to_string()),
                vec![account.into()],
            );
            let n = self.db.exec(q).await?;
            if n > 0 && !step.starts_with("DELETE FROM accounts") {
                return Ok(n);
            }
        }
        Ok(0)
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
