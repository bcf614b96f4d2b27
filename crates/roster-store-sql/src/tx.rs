//! The store's logic, written once over [`Db`]: [`SqlTx`] holds one connection and implements
//! every read and write of `roster_core::store` as ordinary async code. Each concern has its own
//! module of inherent methods; the trait impls at the bottom only forward to them.
//!
//! On PostgreSQL a `SqlTx` is the `Box<dyn Tx>` itself. On SQLite it is made on the connection's
//! own thread for each call, so a call's statements run there together (one hand-off per call).

mod accounts;
mod browse;
mod console;
mod idps;
mod log;
mod operators;
mod scim;
mod teams;
mod tokens;
mod two_factor;
mod users;

use crate::db::{Db, SqlRow};
use crate::sql::{Arg, Dialect, Sql};
use crate::token_cache::{Stale, TokenCache};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::model::*;
use roster_core::store::*;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// A connection and what the store does with it.
pub struct SqlTx<D> {
    db: D,
    /// Lock the single records read (`FOR UPDATE`): PostgreSQL write transactions. SQLite needs
    /// none: one writer, and its transactions are serial.
    lock: bool,
    /// Told when this transaction commits (see [`TokenCache`]).
    tokens: Option<Arc<TokenCache>>,
    /// What the writes so far changed that remembered tokens may depend on.
    stale: Stale,
}

/// How a backend ends a write transaction.
pub trait Commit: Db {
    fn commit(self) -> impl Future<Output = StoreResult<()>> + Send;
}

impl<D: Db> SqlTx<D> {
    pub fn new(db: D, lock: bool) -> SqlTx<D> {
        SqlTx {
            db,
            lock,
            tokens: None,
            stale: Stale::default(),
        }
    }

    /// A write transaction whose commit makes `tokens` forget what it remembers.
    pub fn noting(mut self, tokens: Arc<TokenCache>) -> SqlTx<D> {
        self.tokens = Some(tokens);
        self
    }

    pub fn db(&mut self) -> &mut D {
        &mut self.db
    }

    pub fn into_db(self) -> D {
        self.db
    }

    /// What the writes so far changed that remembered tokens may depend on, taken (a backend
    /// that makes a `SqlTx` per call gathers them across calls).
    pub fn take_stale(&mut self) -> Stale {
        std::mem::take(&mut self.stale)
    }

    fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// A fixed statement (`$N` placeholders) in this connection's dialect.
    fn sql(&self, text: &str, args: Vec<Arg>) -> Sql {
        Sql::fixed(self.dialect(), text, args)
    }

    /// A statement to build.
    fn build(&self) -> Sql {
        Sql::new(self.dialect())
    }

    /// A single-record read, locked for the rest of a PostgreSQL write transaction.
    fn locked(&self, text: &str, args: Vec<Arg>) -> Sql {
        self.sql(text, args).for_update(self.lock)
    }

    /// The integer column `n` of the first row (0 without one).
    async fn count(&mut self, q: Sql) -> StoreResult<i64> {
        match self.db.row(q).await? {
            Some(r) => r.i64("n"),
            None => Ok(0),
        }
    }

    /// The integer column `id` of every row.
    async fn ids(&mut self, q: Sql) -> StoreResult<Vec<i64>> {
        self.db.rows(q).await?.iter().map(|r| r.i64("id")).collect()
    }

    /// After an update matched no row: was the record gone, or at a newer version? `exists` is
    /// a statement that answers a row when it is there.
    async fn missing_or_stale(&mut self, exists: Sql) -> StoreError {
        match self.db.row(exists).await {
            Ok(Some(_)) => StoreError::VersionMismatch,
            Ok(None) => StoreError::NotFound,
            Err(e) => e,
        }
    }
}

/// Statements whose text grows with a list: each length is a text of its own, so only the
/// usual few (Entra sends one member at a time) stay prepared.
fn few_kept(q: Sql, len: usize) -> Sql {
    if len > 4 { q.one_off() } else { q }
}

/// `Ok` when a delete or update touched a row, else `NotFound`.
fn found(changed: u64) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

#[async_trait]
impl<D: Db> Read for SqlTx<D> {
    async fn account_count(&mut self) -> StoreResult<i64> {
        Self::account_count(self).await
    }
    async fn account(&mut self, id: AccountId) -> StoreResult<Option<Account>> {
        Self::account(self, id).await
    }
    async fn first_account(&mut self) -> StoreResult<Option<Account>> {
        Self::first_account(self).await
    }
    async fn list_accounts(&mut self, offset: i64, limit: i64) -> StoreResult<Page<Account>> {
        Self::list_accounts(self, offset, limit).await
    }
    async fn accounts_being_deleted(&mut self) -> StoreResult<Vec<AccountId>> {
        Self::accounts_being_deleted(self).await
    }
    async fn operator_token_count(&mut self) -> StoreResult<i64> {
        Self::operator_token_count(self).await
    }
    async fn operator_token_by_hash(
        &mut self,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<OperatorToken>> {
        Self::operator_token_by_hash(self, key_hash).await
    }
    async fn list_operator_tokens(&mut self) -> StoreResult<Vec<OperatorToken>> {
        Self::list_operator_tokens(self).await
    }
    async fn sign_in_candidates(&mut self, email: &str) -> StoreResult<Vec<SignInCandidate>> {
        Self::sign_in_candidates(self, email).await
    }
    async fn password_hash(
        &mut self,
        account: AccountId,
        user: UserId,
    ) -> StoreResult<Option<String>> {
        Self::password_hash(self, account, user).await
    }
    async fn session_by_hash(
        &mut self,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<ConsoleSession>> {
        Self::session_by_hash(self, key_hash).await
    }
    async fn password_link(&mut self, key_hash: &[u8; 32]) -> StoreResult<Option<PasswordLink>> {
        Self::password_link(self, key_hash).await
    }
    async fn totp(&mut self, account: AccountId, user: UserId) -> StoreResult<Option<StoredTotp>> {
        Self::totp(self, account, user).await
    }
    async fn browse_users(&mut self, account: AccountId, b: &UserBrowse) -> StoreResult<Vec<User>> {
        Self::browse_users(self, account, b).await
    }
    async fn search_users(
        &mut self,
        account: AccountId,
        b: &UserBrowse,
    ) -> StoreResult<UserSearchPage> {
        Self::search_users(self, account, b).await
    }
    async fn count_browsed_users(
        &mut self,
        account: AccountId,
        b: &UserBrowse,
        cap: i64,
    ) -> StoreResult<i64> {
        Self::count_browsed_users(self, account, b, cap).await
    }
    async fn account_overview(
        &mut self,
        account: AccountId,
        since: DateTime<Utc>,
    ) -> StoreResult<AccountOverview> {
        Self::account_overview(self, account, since).await
    }
    async fn user(&mut self, account: AccountId, id: UserId) -> StoreResult<Option<User>> {
        Self::user(self, account, id).await
    }
    async fn scim_user(&mut self, account: AccountId, r: ScimRef) -> StoreResult<Option<User>> {
        Self::scim_user(self, account, r).await
    }
    async fn resolve_users(
        &mut self,
        account: AccountId,
        refs: &[ScimRef],
    ) -> StoreResult<Vec<(ScimRef, UserId)>> {
        Self::resolve_users(self, account, refs).await
    }
    async fn user_by_email(
        &mut self,
        account: AccountId,
        email: &str,
    ) -> StoreResult<Option<User>> {
        Self::user_by_email(self, account, email).await
    }
    async fn list_users(&mut self, account: AccountId, p: &ListParams) -> StoreResult<Page<User>> {
        Self::list_users(self, account, p).await
    }
    async fn find_users(
        &mut self,
        account: AccountId,
        p: &ListParams,
        f: &UserFilter,
    ) -> StoreResult<Page<User>> {
        Self::find_users(self, account, p, f).await
    }
    async fn active_owner_count(&mut self, account: AccountId) -> StoreResult<i64> {
        Self::active_owner_count(self, account).await
    }
    async fn user_permission_slugs(
        &mut self,
        account: AccountId,
        user: UserId,
    ) -> StoreResult<Vec<String>> {
        Self::user_permission_slugs(self, account, user).await
    }
    async fn team(&mut self, account: AccountId, id: TeamId) -> StoreResult<Option<Team>> {
        Self::team(self, account, id).await
    }
    async fn scim_team(&mut self, account: AccountId, r: ScimRef) -> StoreResult<Option<Team>> {
        Self::scim_team(self, account, r).await
    }
    async fn team_users(
        &mut self,
        account: AccountId,
        team: TeamId,
        after: Option<UserId>,
        limit: i64,
    ) -> StoreResult<Vec<User>> {
        Self::team_users(self, account, team, after, limit).await
    }
    async fn resource_log(
        &mut self,
        account: AccountId,
        resource_type: &str,
        resource_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<LogEntry>> {
        Self::resource_log(self, account, resource_type, resource_id, limit).await
    }
    async fn list_teams(&mut self, account: AccountId, p: &ListParams) -> StoreResult<Page<Team>> {
        Self::list_teams(self, account, p).await
    }
    async fn team_member_count(
        &mut self,
        account: AccountId,
        team: TeamId,
        up_to: i64,
    ) -> StoreResult<i64> {
        Self::team_member_count(self, account, team, up_to).await
    }
    async fn existing_team_ids(
        &mut self,
        account: AccountId,
        ids: &[TeamId],
    ) -> StoreResult<Vec<TeamId>> {
        Self::existing_team_ids(self, account, ids).await
    }
    async fn list_permissions(&mut self, p: &ListParams) -> StoreResult<Page<Permission>> {
        Self::list_permissions(self, p).await
    }
    async fn existing_permission_ids(
        &mut self,
        ids: &[PermissionId],
    ) -> StoreResult<Vec<PermissionId>> {
        Self::existing_permission_ids(self, ids).await
    }
    async fn token(&mut self, scope: TokenScope, uuid: Uuid) -> StoreResult<Option<PersonalToken>> {
        Self::token(self, scope, uuid).await
    }
    async fn token_by_uuid(&mut self, uuid: Uuid) -> StoreResult<Option<PersonalToken>> {
        Self::token_by_uuid(self, uuid).await
    }
    async fn list_tokens(
        &mut self,
        scope: TokenScope,
        p: &ListParams,
    ) -> StoreResult<Page<PersonalToken>> {
        Self::list_tokens(self, scope, p).await
    }
    async fn idp(
        &mut self,
        account: AccountId,
        uuid: Uuid,
    ) -> StoreResult<Option<IdentityProvider>> {
        Self::idp(self, account, uuid).await
    }
    async fn idp_by_uuid(&mut self, uuid: Uuid) -> StoreResult<Option<IdentityProvider>> {
        Self::idp_by_uuid(self, uuid).await
    }
    async fn list_idps(&mut self, account: AccountId) -> StoreResult<Vec<IdentityProvider>> {
        Self::list_idps(self, account).await
    }
    async fn all_idps(&mut self) -> StoreResult<Vec<IdentityProvider>> {
        Self::all_idps(self).await
    }
    async fn scim_users(&mut self, scope: &ScimScope, q: &ScimQuery) -> StoreResult<Page<User>> {
        Self::scim_users(self, scope, q).await
    }
    async fn scim_teams(&mut self, scope: &ScimScope, q: &ScimQuery) -> StoreResult<Page<Team>> {
        Self::scim_teams(self, scope, q).await
    }
    async fn member_status(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
        users: &[UserId],
    ) -> StoreResult<Vec<(UserId, MemberStatus)>> {
        Self::member_status(self, scope, team, users).await
    }
    async fn team_members(
        &mut self,
        scope: &ScimScope,
        teams: &[TeamId],
    ) -> StoreResult<HashMap<TeamId, Vec<Member>>> {
        Self::team_members(self, scope, teams).await
    }
    async fn list_log(
        &mut self,
        account: AccountId,
        idp: Uuid,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Page<LogEntry>> {
        Self::list_log(self, account, idp, offset, limit).await
    }
    async fn find_log(
        &mut self,
        account: AccountId,
        idp: Uuid,
        f: &LogFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Page<LogEntry>> {
        Self::find_log(self, account, idp, f, offset, limit).await
    }
}

#[async_trait]
impl<D: Commit> Tx for SqlTx<D> {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let SqlTx {
            db, tokens, stale, ..
        } = *self;
        db.commit().await?;
        if let Some(t) = tokens {
            t.forget(&stale);
        }
        Ok(())
    }
    async fn insert_account(&mut self, new: &NewAccount) -> StoreResult<Account> {
        Self::insert_account(self, new).await
    }
    async fn update_account(&mut self, a: &Account, expected_version: i64) -> StoreResult<Account> {
        Self::update_account(self, a, expected_version).await
    }
    async fn purge_account(&mut self, account: AccountId, batch: i64) -> StoreResult<u64> {
        Self::purge_account(self, account, batch).await
    }
    async fn insert_operator_token(
        &mut self,
        t: &OperatorToken,
        key_hash: &[u8; 32],
    ) -> StoreResult<()> {
        Self::insert_operator_token(self, t, key_hash).await
    }
    async fn delete_operator_token(&mut self, uuid: Uuid) -> StoreResult<()> {
        Self::delete_operator_token(self, uuid).await
    }
    async fn set_password_hash(
        &mut self,
        account: AccountId,
        user: UserId,
        hash: Option<&str>,
    ) -> StoreResult<()> {
        Self::set_password_hash(self, account, user, hash).await
    }
    async fn insert_session(&mut self, key_hash: &[u8; 32], s: &ConsoleSession) -> StoreResult<()> {
        Self::insert_session(self, key_hash, s).await
    }
    async fn touch_session(&mut self, key_hash: &[u8; 32], at: DateTime<Utc>) -> StoreResult<()> {
        Self::touch_session(self, key_hash, at).await
    }
    async fn delete_session(&mut self, key_hash: &[u8; 32]) -> StoreResult<()> {
        Self::delete_session(self, key_hash).await
    }
    async fn delete_user_sessions(&mut self, account: AccountId, user: UserId) -> StoreResult<u64> {
        Self::delete_user_sessions(self, account, user).await
    }
    async fn insert_password_link(
        &mut self,
        key_hash: &[u8; 32],
        link: &PasswordLink,
    ) -> StoreResult<()> {
        Self::insert_password_link(self, key_hash, link).await
    }
    async fn delete_password_links(&mut self, account: AccountId, user: UserId) -> StoreResult<()> {
        Self::delete_password_links(self, account, user).await
    }
    async fn put_totp(
        &mut self,
        account: AccountId,
        user: UserId,
        secret: &roster_core::seal::Sealed,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        Self::put_totp(self, account, user, secret, at).await
    }
    async fn confirm_totp(
        &mut self,
        account: AccountId,
        user: UserId,
        step: i64,
        codes: &[[u8; 32]],
    ) -> StoreResult<bool> {
        Self::confirm_totp(self, account, user, step, codes).await
    }
    async fn use_totp_step(
        &mut self,
        account: AccountId,
        user: UserId,
        step: i64,
    ) -> StoreResult<bool> {
        Self::use_totp_step(self, account, user, step).await
    }
    async fn replace_recovery_codes(
        &mut self,
        account: AccountId,
        user: UserId,
        codes: &[[u8; 32]],
    ) -> StoreResult<()> {
        Self::replace_recovery_codes(self, account, user, codes).await
    }
    async fn use_recovery_code(
        &mut self,
        account: AccountId,
        user: UserId,
        hash: &[u8; 32],
    ) -> StoreResult<bool> {
        Self::use_recovery_code(self, account, user, hash).await
    }
    async fn delete_totp(&mut self, account: AccountId, user: UserId) -> StoreResult<()> {
        Self::delete_totp(self, account, user).await
    }
    async fn delete_sessions_without_totp(
        &mut self,
        account: AccountId,
        keep: UserId,
    ) -> StoreResult<u64> {
        Self::delete_sessions_without_totp(self, account, keep).await
    }
    async fn take_password_link(
        &mut self,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<PasswordLink>> {
        Self::take_password_link(self, key_hash).await
    }
    async fn prune_console(
        &mut self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        Self::prune_console(self, now, idle_before).await
    }
    async fn insert_user(&mut self, u: &NewUser) -> StoreResult<UserId> {
        Self::insert_user(self, u).await
    }
    async fn update_user(&mut self, u: &User, expected_version: i64) -> StoreResult<()> {
        Self::update_user(self, u, expected_version).await
    }
    async fn delete_user(&mut self, account: AccountId, id: UserId) -> StoreResult<()> {
        Self::delete_user(self, account, id).await
    }
    async fn set_user_teams(
        &mut self,
        account: AccountId,
        user: UserId,
        teams: &[TeamId],
    ) -> StoreResult<()> {
        Self::set_user_teams(self, account, user, teams).await
    }
    async fn lock_account(&mut self, account: AccountId) -> StoreResult<()> {
        Self::lock_account(self, account).await
    }
    async fn insert_team(&mut self, t: &NewTeam) -> StoreResult<TeamId> {
        Self::insert_team(self, t).await
    }
    async fn update_team(&mut self, t: &Team, expected_version: i64) -> StoreResult<()> {
        Self::update_team(self, t, expected_version).await
    }
    async fn delete_team(&mut self, account: AccountId, id: TeamId) -> StoreResult<()> {
        Self::delete_team(self, account, id).await
    }
    async fn set_team_permissions(
        &mut self,
        team: TeamId,
        permissions: &[PermissionId],
    ) -> StoreResult<()> {
        Self::set_team_permissions(self, team, permissions).await
    }
    async fn insert_token(&mut self, t: &StoredToken) -> StoreResult<()> {
        Self::insert_token(self, t).await
    }
    async fn delete_token(&mut self, user: UserId, uuid: Uuid) -> StoreResult<()> {
        Self::delete_token(self, user, uuid).await
    }
    async fn delete_user_tokens(&mut self, account: AccountId, user: UserId) -> StoreResult<u64> {
        Self::delete_user_tokens(self, account, user).await
    }
    async fn insert_idp(&mut self, idp: &IdentityProvider) -> StoreResult<()> {
        Self::insert_idp(self, idp).await
    }
    async fn update_idp(
        &mut self,
        idp: &IdentityProvider,
        expected_version: i64,
    ) -> StoreResult<()> {
        Self::update_idp(self, idp, expected_version).await
    }
    async fn delete_idp(&mut self, account: AccountId, uuid: Uuid) -> StoreResult<()> {
        Self::delete_idp(self, account, uuid).await
    }
    async fn release_idp_resources(
        &mut self,
        account: AccountId,
        idp: Uuid,
        deactivate: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        Self::release_idp_resources(self, account, idp, deactivate, now).await
    }
    async fn delete_idp_resources(
        &mut self,
        account: AccountId,
        idp: Uuid,
        batch: i64,
    ) -> StoreResult<u64> {
        Self::delete_idp_resources(self, account, idp, batch).await
    }
    async fn deactivate_other_idps(
        &mut self,
        account: AccountId,
        keep: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        Self::deactivate_other_idps(self, account, keep, now).await
    }
    async fn add_team_members(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
        members: &[(UserId, Option<String>)],
    ) -> StoreResult<Vec<UserId>> {
        Self::add_team_members(self, scope, team, members).await
    }
    async fn remove_team_members(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
        users: &[UserId],
    ) -> StoreResult<Vec<UserId>> {
        Self::remove_team_members(self, scope, team, users).await
    }
    async fn clear_team_members(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
    ) -> StoreResult<Vec<(UserId, ScimRef)>> {
        Self::clear_team_members(self, scope, team).await
    }
    async fn insert_log(&mut self, entry: &LogEntry) -> StoreResult<()> {
        Self::insert_log(self, entry).await
    }
    async fn prune_log(
        &mut self,
        older_than: Option<DateTime<Utc>>,
        keep_per_idp: i64,
        batch: i64,
    ) -> StoreResult<u64> {
        Self::prune_log(self, older_than, keep_per_idp, batch).await
    }
}
