//! The console's sign-in: password hashes, sessions and one-time password links. Sessions and
//! links are found by the SHA-256 of their keys; the keys themselves are never stored.

use super::{SqlTx, found};
use crate::db::{Db, SqlRow};
use crate::rows::{self, USER_COLS};
use crate::sql::Dialect;
use roster_core::model::*;
use roster_core::store::{AccountOverview, StoreResult};
use roster_core::validate::user_name_key;

const SESSION_COLS: &str = "account_id, user_id, created, last_seen, expires_at, stage";
const LINK_COLS: &str = "account_id, user_id, created, expires_at";

fn link_row(r: &impl SqlRow) -> StoreResult<PasswordLink> {
    Ok(PasswordLink {
        account_id: AccountId(r.i64("account_id")?),
        user_id: UserId(r.i64("user_id")?),
        created: r.time("created")?,
        expires_at: r.time("expires_at")?,
    })
}

impl<D: Db> SqlTx<D> {
    pub async fn sign_in_candidates(&mut self, email: &str) -> StoreResult<Vec<SignInCandidate>> {
        let q = self.sql(
            &format!(
                "SELECT {USER_COLS}, u.password_hash, a.name AS account_name, \
                 a.is_active AS account_active, a.deleting_since \
                 FROM users u JOIN accounts a ON a.id = u.account_id \
                 WHERE u.email_folded = $1 ORDER BY a.name, a.id"
            ),
            vec![user_name_key(email).into()],
        );
        let mut out = Vec::new();
        for r in self.db.rows(q).await? {
            out.push(SignInCandidate {
                user: rows::user(&r)?,
                account_name: r.text("account_name")?,
                account_active: r.bool("account_active")?
                    && r.opt_time("deleting_since")?.is_none(),
                password_hash: r.opt_text("password_hash")?,
            });
        }
        Ok(out)
    }

    pub async fn password_hash(
        &mut self,
        account: AccountId,
        user: UserId,
    ) -> StoreResult<Option<String>> {
        let q = self.sql(
            "SELECT password_hash FROM users WHERE account_id = $1 AND id = $2",
            vec![account.into(), user.into()],
        );
        match self.db.row(q).await? {
            Some(r) => r.opt_text("password_hash"),
            None => Ok(None),
        }
    }

    pub async fn set_password_hash(
        &mut self,
        account: AccountId,
        user: UserId,
        hash: Option<&str>,
    ) -> StoreResult<()> {
        let q = self.sql(
            "UPDATE users SET password_hash = $3 WHERE account_id = $1 AND id = $2",
            vec![account.into(), user.into(), hash.map(str::to_string).into()],
        );
        found(self.db.exec(q).await?)
    }

    pub async fn session_by_hash(
        &mut self,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<ConsoleSession>> {
        let q = self.sql(
            &format!("SELECT {SESSION_COLS} FROM console_sessions WHERE key_hash = $1"),
            vec![key_hash.to_vec().into()],
        );
        let Some(r) = self.db.row(q).await? else {
            return Ok(None);
        };
        Ok(Some(ConsoleSession {
            account_id: AccountId(r.i64("account_id")?),
            user_id: UserId(r.i64("user_id")?),
            created: r.time("created")?,
            last_seen: r.time("last_seen")?,
            expires_at: r.time("expires_at")?,
            stage: SessionStage::parse(&r.text("stage")?),
        }))
    }

    pub async fn insert_session(
        &mut self,
        key_hash: &[u8; 32],
        s: &ConsoleSession,
    ) -> StoreResult<()> {
        let q = self.sql(
            &format!(
                "INSERT INTO console_sessions (key_hash, {SESSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ),
            vec![
                key_hash.to_vec().into(),
                s.account_id.into(),
                s.user_id.into(),
                s.created.into(),
                s.last_seen.into(),
                s.expires_at.into(),
                s.stage.as_str().to_string().into(),
            ],
        );
        self.db.exec(q).await?;
        Ok(())
    }

    pub async fn touch_session(
        &mut self,
        key_hash: &[u8; 32],
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        let q = self.sql(
            "UPDATE console_sessions SET last_seen = $2 WHERE key_hash = $1",
            vec![key_hash.to_vec().into(), at.into()],
        );
        self.db.exec(q).await?;
        Ok(())
    }

    pub async fn delete_session(&mut self, key_hash: &[u8; 32]) -> StoreResult<()> {
        let q = self.sql(
            "DELETE FROM console_sessions WHERE key_hash = $1",
            vec![key_hash.to_vec().into()],
        );
        self.db.exec(q).await?;
        Ok(())
    }

    pub async fn delete_user_sessions(
        &mut self,
        account: AccountId,
        user: UserId,
    ) -> StoreResult<u64> {
        let q = self.sql(
            "DELETE FROM console_sessions WHERE account_id = $1 AND user_id = $2",
            vec![account.into(), user.into()],
        );
        self.db.exec(q).await
    }

    pub async fn password_link(
        &mut self,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<PasswordLink>> {
        let q = self.sql(
            &format!("SELECT {LINK_COLS} FROM password_links WHERE key_hash = $1"),
            vec![key_hash.to_vec().into()],
        );
        self.db.row(q).await?.as_ref().map(link_row).transpose()
    }

    pub async fn insert_password_link(
        &mut self,
        key_hash: &[u8; 32],
        link: &PasswordLink,
    ) -> StoreResult<()> {
        let q = self.sql(
            &format!(
                "INSERT INTO password_links (key_hash, {LINK_COLS}) VALUES ($1, $2, $3, $4, $5)"
            ),
            vec![
                key_hash.to_vec().into(),
                link.account_id.into(),
                link.user_id.into(),
                link.created.into(),
                link.expires_at.into(),
            ],
        );
        self.db.exec(q).await?;
        Ok(())
    }

    /// Remove the password link whose key has this SHA-256, and answer it (at most one caller
    /// gets it, however many race for it).
    pub async fn take_password_link(
        &mut self,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<PasswordLink>> {
        let q = self.sql(
            &format!("DELETE FROM password_links WHERE key_hash = $1 RETURNING {LINK_COLS}"),
            vec![key_hash.to_vec().into()],
        );
        self.db.row(q).await?.as_ref().map(link_row).transpose()
    }

    /// Forget sessions past their absolute expiry or idle since `idle_before`, and password links
    /// past theirs; answer how many rows went.
    pub async fn prune_console(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        idle_before: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<u64> {
        let q = self.sql(
            "DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen <= $2",
            vec![now.into(), idle_before.into()],
        );
        let sessions = self.db.exec(q).await?;
        let q = self.sql(
            "DELETE FROM password_links WHERE expires_at <= $1",
            vec![now.into()],
        );
        Ok(sessions + self.db.exec(q).await?)
    }

    pub async fn delete_password_links(
        &mut self,
        account: AccountId,
        user: UserId,
    ) -> StoreResult<()> {
        let q = self.sql(
            "DELETE FROM password_links WHERE account_id = $1 AND user_id = $2",
            vec![account.into(), user.into()],
        );
        self.db.exec(q).await?;
        Ok(())
    }

    pub async fn account_overview(
        &mut self,
        account: AccountId,
        since: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<AccountOverview> {
        let q = self.sql(
            // All users from the account's index alone, the few inactive ones from
            // users_account_active: no row is read (a million users count in milliseconds).
            "SELECT (SELECT COUNT(*) FROM users WHERE account_id = $1) AS total, \
             (SELECT COUNT(*) FROM users WHERE account_id = $1 AND is_active = FALSE) AS inactive, \
             (SELECT COUNT(*) FROM teams WHERE account_id = $1) AS teams, \
             (SELECT COUNT(*) FROM identity_providers WHERE account_id = $1) AS idps",
            vec![account.into()],
        );
        let mut out = AccountOverview::default();
        if let Some(r) = self.db.row(q).await? {
            out.users_inactive = r.i64("inactive")?;
            out.users_active = r.i64("total")? - out.users_inactive;
            out.teams = r.i64("teams")?;
            out.idps = r.i64("idps")?;
        }
        // SQLite keeps times as canonical UTC text, whose first 13 characters name the hour.
        let hour = match self.dialect() {
            Dialect::Postgres => {
                "to_char(date_trunc('hour', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24')"
            }
            Dialect::Sqlite => "substr(at, 1, 13)",
        };
        let q = self.sql(
            &format!(
                "SELECT {hour} AS hour, COUNT(*) AS n, \
                 SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS failed \
                 FROM provisioning_log WHERE account_id = $1 AND at >= $2 GROUP BY 1 ORDER BY 1"
            ),
            vec![account.into(), since.into()],
        );
        for r in self.db.rows(q).await? {
            out.hourly
                .push((r.text("hour")?, r.i64("n")?, r.i64("failed")?));
        }
        Ok(out)
    }
}
