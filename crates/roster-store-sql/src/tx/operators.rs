//! The instance operator's tokens.

use super::SqlTx;
use crate::db::Db;
use crate::rows::{self, OPERATOR_TOKEN_COLS};
use roster_core::model::OperatorToken;
use roster_core::store::StoreResult;

impl<D: Db> SqlTx<D> {
    pub async fn operator_token_count(&mut self) -> StoreResult<i64> {
        self.count(self.sql("SELECT COUNT(*) AS n FROM operator_tokens", vec![]))
            .await
    }

    pub async fn operator_token_by_hash(
        &mut self,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<OperatorToken>> {
        let q = self.sql(
            &format!("SELECT {OPERATOR_TOKEN_COLS} FROM operator_tokens WHERE key_hash = $1"),
            vec![key_hash.to_vec().into()],
        );
        self.db
            .row(q)
            .await?
            .as_ref()
            .map(rows::operator_token)
            .transpose()
    }

    pub async fn list_operator_tokens(&mut self) -> StoreResult<Vec<OperatorToken>> {
        let q = self.sql(
            &format!("SELECT {OPERATOR_TOKEN_COLS} FROM operator_tokens ORDER BY created, uuid"),
            vec![],
        );
        self.db
            .rows(q)
            .await?
            .iter()
            .map(rows::operator_token)
            .collect()
    }

    pub async fn delete_operator_token(&mut self, uuid: uuid::Uuid) -> StoreResult<()> {
        let q = self.sql(
            "DELETE FROM operator_tokens WHERE uuid = $1",
            vec![uuid.into()],
        );
        super::found(self.db.exec(q).await?)
    }

    pub async fn insert_operator_token(
        &mut self,
        t: &OperatorToken,
        key_hash: &[u8; 32],
    ) -> StoreResult<()> {
        let q = self.sql(
            &format!(
                "INSERT INTO operator_tokens ({OPERATOR_TOKEN_COLS}, key_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ),
            vec![
                t.uuid.into(),
                (&t.name).into(),
                t.created.into(),
                t.expires_at.into(),
                t.last_used_at.into(),
                (&t.key_prefix).into(),
                key_hash.to_vec().into(),
            ],
        );
        self.db.exec(q).await?;
        Ok(())
    }
}
