//! What a backend gives the shared store code: a connection that runs [`Sql`] and rows it can
//! read by column name. Everything else (the statements, the row mappers, the store's logic) is
//! written once, over these two traits.

use crate::sql::{Dialect, Sql};
use chrono::{DateTime, Utc};
use roster_core::store::{Conflict, StoreResult};
use uuid::Uuid;

/// One connection, inside a transaction or not.
pub trait Db: Send {
    type Row: SqlRow + Send + Sync;

    fn dialect(&self) -> Dialect;

    /// Every row the statement answers.
    fn rows(&mut self, q: Sql) -> impl Future<Output = StoreResult<Vec<Self::Row>>> + Send;

    /// Run the statement; answer how many rows it changed.
    fn exec(&mut self, q: Sql) -> impl Future<Output = StoreResult<u64>> + Send;

    /// The first row, if any.
    fn row(&mut self, q: Sql) -> impl Future<Output = StoreResult<Option<Self::Row>>> + Send {
        async move { Ok(self.rows(q).await?.into_iter().next()) }
    }
}

/// A row, read by column name. Each backend decodes its own representation: SQLite keeps times,
/// uuids and documents as text and booleans as integers; PostgreSQL has native types.
pub trait SqlRow {
    fn i64(&self, col: &str) -> StoreResult<i64>;
    fn opt_i64(&self, col: &str) -> StoreResult<Option<i64>>;
    fn bool(&self, col: &str) -> StoreResult<bool>;
    fn opt_bool(&self, col: &str) -> StoreResult<Option<bool>>;
    fn text(&self, col: &str) -> StoreResult<String>;
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>>;
    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>>;
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>>;
    fn uuid(&self, col: &str) -> StoreResult<Uuid>;
    fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>>;
    fn bytes(&self, col: &str) -> StoreResult<Vec<u8>>;
    fn json(&self, col: &str) -> StoreResult<serde_json::Value>;
}

/// Which rule a unique violation broke, from the name of the index or constraint (PostgreSQL
/// reports it with SQLSTATE 23505) or the table and columns SQLite names with
/// `SQLITE_CONSTRAINT_UNIQUE` / `_PRIMARYKEY` (`users.account_id, users.email_folded`). Exact
/// names, not substrings: a new index that is not listed here is `Conflict::Other`.
pub fn conflict_of_constraint(name: &str) -> Conflict {
    match name {
        "users_account_email_key" | "users.account_id, users.email_folded" => Conflict::UserEmail,
        "teams_account_name_key" | "teams.account_id, teams.name_folded" => Conflict::TeamName,
        "personal_tokens_key_hash_key"
        | "personal_tokens.key_hash"
        | "operator_tokens_key_hash_key"
        | "operator_tokens.key_hash" => Conflict::TokenKey,
        "idp_one_active" | "identity_providers.account_id" => Conflict::ActiveIdentityProvider,
        _ => Conflict::Other,
    }
}

/// The column list of SQLite's `UNIQUE constraint failed: <columns>` message.
pub fn sqlite_unique_columns(message: &str) -> &str {
    message
        .split_once("constraint failed: ")
        .map_or(message, |(_, cols)| cols.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_name_their_rule() {
        assert_eq!(
            conflict_of_constraint(sqlite_unique_columns(
                "UNIQUE constraint failed: users.account_id, users.email_folded"
            )),
            Conflict::UserEmail
        );
        assert_eq!(
            conflict_of_constraint("teams_account_name_key"),
            Conflict::TeamName
        );
        assert_eq!(
            conflict_of_constraint("idp_one_active"),
            Conflict::ActiveIdentityProvider
        );
        assert_eq!(conflict_of_constraint("something_else"), Conflict::Other);
    }
}
