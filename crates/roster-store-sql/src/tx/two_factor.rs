//! Two-factor sign-in: a user's TOTP secret (sealed by the core before it gets here) and its
//! recovery codes (SHA-256 hashes only).

use super::SqlTx;
use crate::db::{Db, SqlRow};
use roster_core::model::*;
use roster_core::seal::Sealed;
use roster_core::store::StoreResult;

impl<D: Db> SqlTx<D> {
    pub async fn totp(
        &mut self,
        account: AccountId,
        user: UserId,
    ) -> StoreResult<Option<StoredTotp>> {
        let q = self.sql(
            "SELECT secret, confirmed, last_step, created, \
             (SELECT COUNT(*) FROM recovery_codes c WHERE c.user_id = t.user_id) AS codes_left \
             FROM user_totp t WHERE t.account_id = $1 AND t.user_id = $2",
            vec![account.into(), user.into()],
        );
        let Some(r) = self.db.row(q).await? else {
            return Ok(None);
        };
        Ok(Some(StoredTotp {
            secret: Sealed::from_stored(r.text("secret")?),
            confirmed: r.bool("confirmed")?,
            last_step: r.opt_i64("last_step")?,
            created: r.time("created")?,
            recovery_codes_left: r.i64("codes_left")?,
        }))
    }

    /// Start setting up a TOTP secret for the user, replacing any it had (and its recovery codes).
    pub async fn put_totp(
        &mut self,
        account: AccountId,
        user: UserId,
        secret: &Sealed,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        self.delete_totp(account, user).await?;
        let q = self.sql(
            "INSERT INTO user_totp (user_id, account_id, secret, confirmed, last_step, created) \
             VALUES ($2, $1, $3, FALSE, NULL, $4)",
            vec![
                account.into(),
                user.into(),
                secret.stored().to_string().into(),
                at.into(),
            ],
        );
        self.db.exec(q).await?;
        Ok(())
    }

    /// Mark the user's TOTP secret confirmed by a code of time step `step`, with these recovery
    /// codes. False when it has no secret being set up.
    pub async fn confirm_totp(
        &mut self,
        account: AccountId,
        user: UserId,
        step: i64,
        codes: &[[u8; 32]],
    ) -> StoreResult<bool> {
        let q = self.sql(
            "UPDATE user_totp SET confirmed = TRUE, last_step = $3 \
             WHERE account_id = $1 AND user_id = $2 AND NOT confirmed",
            vec![account.into(), user.into(), step.into()],
        );
        if self.db.exec(q).await? == 0 {
            return Ok(false);
        }
        self.replace_recovery_codes(account, user, codes).await?;
        Ok(true)
    }

    /// Record a code of time step `step` as used; false if that step (or a later one) was
    /// already used, so no code signs in twice, however many requests race with it.
    pub async fn use_totp_step(
        &mut self,
        account: AccountId,
        user: UserId,
        step: i64,
    ) -> StoreResult<bool> {
        let q = self.sql(
            "UPDATE user_totp SET last_step = $3 WHERE account_id = $1 AND user_id = $2 \
             AND confirmed AND (last_step IS NULL OR last_step < $3)",
            vec![account.into(), user.into(), step.into()],
        );
        Ok(self.db.exec(q).await? == 1)
    }

    pub async fn replace_recovery_codes(
        &mut self,
        account: AccountId,
        user: UserId,
        codes: &[[u8; 32]],
    ) -> StoreResult<()> {
        let q = self.sql(
            "DELETE FROM recovery_codes WHERE account_id = $1 AND user_id = $2",
            vec![account.into(), user.into()],
        );
        self.db.exec(q).await?;
        for c in codes {
            let q = self.sql(
                "INSERT INTO recovery_codes (user_id, account_id, code_hash) VALUES ($2, $1, $3)",
                vec![account.into(), user.into(), c.to_vec().into()],
            );
            self.db.exec(q).await?;
        }
        Ok(())
    }

    /// Use up the recovery code with this hash; false if the user has no such code.
    pub async fn use_recovery_code(
        &mut self,
        account: AccountId,
        user: UserId,
        hash: &[u8; 32],
    ) -> StoreResult<bool> {
        let q = self.sql(
            "DELETE FROM recovery_codes WHERE account_id = $1 AND user_id = $2 AND code_hash = $3",
            vec![account.into(), user.into(), hash.to_vec().into()],
        );
        Ok(self.db.exec(q).await? == 1)
    }

    /// Forget the user's TOTP secret and recovery codes.
    pub async fn delete_totp(&mut self, account: AccountId, user: UserId) -> StoreResult<()> {
        for table in ["recovery_codes", "user_totp"] {
            let q = self.sql(
                &format!("DELETE FROM {table} WHERE account_id = $1 AND user_id = $2"),
                vec![account.into(), user.into()],
            );
            self.db.exec(q).await?;
        }
        Ok(())
    }

    /// End the console sessions of the account's users without a confirmed TOTP secret, but
    /// `keep`'s; answer how many ended.
    pub async fn delete_sessions_without_totp(
        &mut self,
        account: AccountId,
        keep: UserId,
    ) -> StoreResult<u64> {
        let q = self.sql(
            "DELETE FROM console_sessions WHERE account_id = $1 AND user_id <> $2 \
             AND user_id NOT IN (SELECT t.user_id FROM user_totp t \
             WHERE t.account_id = $1 AND t.confirmed)",
            vec![account.into(), keep.into()],
        );
        self.db.exec(q).await
    }
}
