//! Personal tokens, and the lookup every authenticated request makes.

use super::users::ListQuery;
use super::{SqlTx, found};
use crate::Listing;
use crate::db::{Db, SqlRow};
use crate::rows::{self, IDP_COLS, TOKEN_COLS, USER_COLS};
use chrono::{DateTime, Utc};
use roster_core::model::*;
use roster_core::store::{ListParams, Page, StoreResult, TokenScope, TokenWithUser};
use roster_core::validate::fold;
use std::sync::LazyLock;
use uuid::Uuid;

/// The token by key hash, its user, whether the account is active, and the asked-for identity
/// provider of that account: one statement. (The token's `account_id` is its user's: the one
/// `u.account_id` column serves both.)
static BY_HASH: LazyLock<String> = LazyLock::new(|| {
    let idp_cols: Vec<String> = IDP_COLS
        .split(',')
        .map(|c| format!("i.{0} AS idp__{0}", c.trim()))
        .collect();
    format!(
        "SELECT {USER_COLS}, t.uuid, t.user_id, t.name, t.description, t.created, t.expires_at, \
         t.last_used_at, t.key_prefix, t.key_hash, a.is_active AS account_active, {} \
         FROM personal_tokens t JOIN users u ON u.id = t.user_id JOIN accounts a ON a.id = u.account_id \
         LEFT JOIN identity_providers i ON i.account_id = u.account_id AND i.uuid = $2 \
         WHERE t.key_hash = $1",
        idp_cols.join(", ")
    )
});

impl<D: Db> SqlTx<D> {
    /// The token with this key hash, with its user and the user's permissions (none listed for
    /// owners, who hold all), and `idp` when it is the user's account's.
    pub async fn token_by_hash(
        &mut self,
        hash: &[u8; 32],
        idp: Option<Uuid>,
    ) -> StoreResult<Option<TokenWithUser>> {
        let q = self.sql(&BY_HASH, vec![hash.to_vec().into(), idp.into()]);
        let Some(r) = self.db.row(q).await? else {
            return Ok(None);
        };
        let found_idp = match r.opt_uuid("idp__uuid")? {
            Some(_) => Some(rows::idp_prefixed(&r, "idp__")?),
            None => None,
        };
        let user = rows::user(&r)?;
        let permissions = if user.is_account_owner {
            Vec::new()
        } else {
            self.user_permission_slugs(user.account_id, user.id).await?
        };
        Ok(Some(TokenWithUser {
            stored: StoredToken {
                token: rows::token(&r)?,
                key_hash: rows::hash32(&r, "key_hash")?,
            },
            user,
            account_active: r.bool("account_active")?,
            permissions,
            idp: found_idp,
        }))
    }

    pub async fn touch_token(&mut self, uuid: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        let q = self.sql(
            "UPDATE personal_tokens SET last_used_at = $1 WHERE uuid = $2",
            vec![at.into(), uuid.into()],
        );
        self.db.exec(q).await?;
        Ok(())
    }

    pub async fn insert_token(&mut self, t: &StoredToken) -> StoreResult<()> {
        let k = &t.token;
        let q = self.sql(
            "INSERT INTO personal_tokens (uuid, user_id, account_id, name, description, created, \
             expires_at, last_used_at, key_hash, key_prefix, name_folded) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            vec![
                k.uuid.into(),
                k.user_id.into(),
                k.account_id.into(),
                (&k.name).into(),
                (&k.description).into(),
                k.created.into(),
                k.expires_at.into(),
                k.last_used_at.into(),
                t.key_hash.to_vec().into(),
                (&k.key_prefix).into(),
                fold(&k.name).into(),
            ],
        );
        self.db.exec(q).await?;
        Ok(())
    }

    pub async fn token(
        &mut self,
        scope: TokenScope,
        uuid: Uuid,
    ) -> StoreResult<Option<PersonalToken>> {
        let mut q = self.build();
        q.push(&format!(
            "SELECT {TOKEN_COLS} FROM personal_tokens t WHERE t.account_id = "
        ))
        .arg(scope.account)
        .push(" AND t.uuid = ")
        .arg(uuid);
        if let Some(user) = scope.user {
            q.push(" AND t.user_id = ").arg(user);
        }
        self.db.row(q).await?.as_ref().map(rows::token).transpose()
    }

    pub async fn token_by_uuid(&mut self, uuid: Uuid) -> StoreResult<Option<PersonalToken>> {
        let q = self.sql(
            &format!("SELECT {TOKEN_COLS} FROM personal_tokens t WHERE t.uuid = $1"),
            vec![uuid.into()],
        );
        self.db.row(q).await?.as_ref().map(rows::token).transpose()
    }

    pub async fn list_tokens(
        &mut self,
        scope: TokenScope,
        p: &ListParams,
    ) -> StoreResult<Page<PersonalToken>> {
        let mut eq = vec![("t.account_id", scope.account.into())];
        if let Some(user) = scope.user {
            eq.push(("t.user_id", user.into()));
        }
        let l = ListQuery {
            from: "personal_tokens t",
            cols: TOKEN_COLS,
            eq,
            null: Vec::new(),
            team: None,
            search_col: "t.name_folded",
            listing: Listing::Tokens,
        };
        let (rows, total) = self.list_rows(l, p).await?;
        let items = rows
            .iter()
            .map(rows::token)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page { items, total })
    }

    pub async fn delete_token(&mut self, user: UserId, uuid: Uuid) -> StoreResult<()> {
        self.stale.everything();
        let q = self.sql(
            "DELETE FROM personal_tokens WHERE user_id = $1 AND uuid = $2",
            vec![user.into(), uuid.into()],
        );
        found(self.db.exec(q).await?)
    }

    pub async fn delete_user_tokens(
        &mut self,
        account: AccountId,
        user: UserId,
    ) -> StoreResult<u64> {
        self.stale.user(user);
        let q = self.sql(
            "DELETE FROM personal_tokens WHERE account_id = $1 AND user_id = $2",
            vec![account.into(), user.into()],
        );
        self.db.exec(q).await
    }
}
