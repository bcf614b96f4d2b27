//! The store traits for SQLite: each call is one job on a connection thread, where the shared
//! store code ([`SqlTx`]) runs all of the call's statements at once. Arguments are moved into the
//! job; the shared code's futures never wait on SQLite (its calls are synchronous), so the job
//! polls each to completion in place ([`now`]).

use crate::conn::SqliteDb;
use crate::threads::{Readers, WriteTx};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::model::*;
use roster_core::store::*;
use roster_store_sql::{SqlTx, Stale};
use rusqlite::Connection;
use std::collections::HashMap;
use std::task::{Context, Poll, Waker};
use uuid::Uuid;

/// Where a call runs: the reader pool, or the writer inside one write transaction.
pub trait Runner: Send + Sync {
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> impl Future<Output = StoreResult<T>> + Send;

    /// A call's writes changed what remembered tokens may depend on (see `TokenCache`).
    fn note(&self, stale: Stale);
}

impl Runner for Readers {
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> impl Future<Output = StoreResult<T>> + Send {
        Readers::run(self, f)
    }

    fn note(&self, _stale: Stale) {}
}

impl Runner for WriteTx {
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> impl Future<Output = StoreResult<T>> + Send {
        WriteTx::run(self, f)
    }

    fn note(&self, stale: Stale) {
        WriteTx::note(self, stale);
    }
}

/// Drive a future of the shared store code to its end, here: over SQLite it is ready at its first
/// poll, since every statement it awaits has already run.
pub fn now<T>(f: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(r) => r,
        Poll::Pending => Err(StoreError::Other(
            "a SQLite store call waited, which it never should".into(),
        )),
    }
}

/// The store traits over a [`Runner`].
pub struct Remote<R>(pub R);

impl<R: Runner> Remote<R> {
    /// Run `f` with the shared store code over the runner's connection.
    async fn call<T: Send + 'static>(
        &self,
        f: impl for<'c> FnOnce(&mut SqlTx<SqliteDb<'c>>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (out, stale) = self
            .0
            .run(move |c| {
                let mut t = SqlTx::new(SqliteDb::new(c), false);
                let out = f(&mut t);
                Ok((out, t.take_stale()))
            })
            .await?;
        self.0.note(stale);
        out
    }
}

#[async_trait]
impl<R: Runner + 'static> Read for Remote<R> {
    async fn account_count(&mut self) -> StoreResult<i64> {
        self.call(|t| now(t.account_count())).await
    }
    async fn account(&mut self, id: AccountId) -> StoreResult<Option<Account>> {
        self.call(move |t| now(t.account(id))).await
    }
    async fn first_account(&mut self) -> StoreResult<Option<Account>> {
        self.call(|t| now(t.first_account())).await
    }
    async fn list_accounts(&mut self, offset: i64, limit: i64) -> StoreResult<Page<Account>> {
        self.call(move |t| now(t.list_accounts(offset, limit)))
            .await
    }
    async fn accounts_being_deleted(&mut self) -> StoreResult<Vec<AccountId>> {
        self.call(|t| now(t.accounts_being_deleted())).await
    }
    async fn operator_token_count(&mut self) -> StoreResult<i64> {
        self.call(|t| now(t.operator_token_count())).await
    }
    async fn operator_token_by_hash(
        &mut self,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<OperatorToken>> {
        let hash = *key_hash;
        self.call(move |t| now(t.operator_token_by_hash(&hash)))
            .await
    }
    async fn list_operator_tokens(&mut self) -> StoreResult<Vec<OperatorToken>> {
        self.call(|t| now(t.list_operator_tokens())).await
    }
    async fn sign_in_candidates(&mut self, email: &str) -> StoreResult<Vec<SignInCandidate>> {
        let email = email.to_string();
        self.call(move |t| now(t.sign_in_candidates(&email))).await
    }
    async fn password_hash(
        &mut self,
        account: AccountId,
        user: UserId,
    ) -> StoreResult<Option<String>> {
        self.call(move |t| now(t.password_hash(account, user)))
            .await
    }
    async fn session_by_hash(
        &mut self,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<ConsoleSession>> {
        let h = *key_hash;
        self.call(move |t| now(t.session_by_hash(&h))).await
    }
    async fn password_link(&mut self, key_hash: &[u8; 32]) -> StoreResult<Option<PasswordLink>> {
        let h = *key_hash;
        self.call(move |t| now(t.password_link(&h))).await
    }
    async fn totp(&mut self, account: AccountId, user: UserId) -> StoreResult<Option<StoredTotp>> {
        self.call(move |t| now(t.totp(account, user))).await
    }
    async fn browse_users(&mut self, account: AccountId, b: &UserBrowse) -> StoreResult<Vec<User>> {
        let b = b.clone();
        self.call(move |t| now(t.browse_users(account, &b))).await
    }
    async fn search_users(
        &mut self,
        account: AccountId,
        b: &UserBrowse,
    ) -> StoreResult<UserSearchPage> {
        let b = b.clone();
        self.call(move |t| now(t.search_users(account, &b))).await
    }
    async fn count_browsed_users(
        &mut self,
        account: AccountId,
        b: &UserBrowse,
        cap: i64,
    ) -> StoreResult<i64> {
        let b = b.clone();
        self.call(move |t| now(t.count_browsed_users(account, &b, cap)))
            .await
    }
    async fn account_overview(
        &mut self,
        account: AccountId,
        since: DateTime<Utc>,
    ) -> StoreResult<AccountOverview> {
        self.call(move |t| now(t.account_overview(account, since)))
            .await
    }
    async fn user(&mut self, account: AccountId, id: UserId) -> StoreResult<Option<User>> {
        self.call(move |t| now(t.user(account, id))).await
    }
    async fn scim_user(&mut self, account: AccountId, r: ScimRef) -> StoreResult<Option<User>> {
        self.call(move |t| now(t.scim_user(account, r))).await
    }
    async fn resolve_users(
        &mut self,
        account: AccountId,
        refs: &[ScimRef],
    ) -> StoreResult<Vec<(ScimRef, UserId)>> {
        let refs = refs.to_vec();
        self.call(move |t| now(t.resolve_users(account, &refs)))
            .await
    }
    async fn user_by_email(
        &mut self,
        account: AccountId,
        email: &str,
    ) -> StoreResult<Option<User>> {
        let email = email.to_string();
        self.call(move |t| now(t.user_by_email(account, &email)))
            .await
    }
    async fn list_users(&mut self, account: AccountId, p: &ListParams) -> StoreResult<Page<User>> {
        let p = p.clone();
        self.call(move |t| now(t.list_users(account, &p))).await
    }
    async fn find_users(
        &mut self,
        account: AccountId,
        p: &ListParams,
        f: &UserFilter,
    ) -> StoreResult<Page<User>> {
        let (p, f) = (p.clone(), f.clone());
        self.call(move |t| now(t.find_users(account, &p, &f))).await
    }
    async fn active_owner_count(&mut self, account: AccountId) -> StoreResult<i64> {
        self.call(move |t| now(t.active_owner_count(account))).await
    }
    async fn user_permission_slugs(
        &mut self,
        account: AccountId,
        user: UserId,
    ) -> StoreResult<Vec<String>> {
        self.call(move |t| now(t.user_permission_slugs(account, user)))
            .await
    }
    async fn team(&mut self, account: AccountId, id: TeamId) -> StoreResult<Option<Team>> {
        self.call(move |t| now(t.team(account, id))).await
    }
    async fn scim_team(&mut self, account: AccountId, r: ScimRef) -> StoreResult<Option<Team>> {
        self.call(move |t| now(t.scim_team(account, r))).await
    }
    async fn team_users(
        &mut self,
        account: AccountId,
        team: TeamId,
        after: Option<UserId>,
        limit: i64,
    ) -> StoreResult<Vec<User>> {
        self.call(move |t| now(t.team_users(account, team, after, limit)))
            .await
    }
    async fn resource_log(
        &mut self,
        account: AccountId,
        resource_type: &str,
        resource_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<LogEntry>> {
        let (kind, id) = (resource_type.to_string(), resource_id.to_string());
        self.call(move |t| now(t.resource_log(account, &kind, &id, limit)))
            .await
    }
    async fn list_teams(&mut self, account: AccountId, p: &ListParams) -> StoreResult<Page<Team>> {
        let p = p.clone();
        self.call(move |t| now(t.list_teams(account, &p))).await
    }
    async fn team_member_count(
        &mut self,
        account: AccountId,
        team: TeamId,
        up_to: i64,
    ) -> StoreResult<i64> {
        self.call(move |t| now(t.team_member_count(account, team, up_to)))
            .await
    }
    async fn existing_team_ids(
        &mut self,
        account: AccountId,
        ids: &[TeamId],
    ) -> StoreResult<Vec<TeamId>> {
        let ids = ids.to_vec();
        self.call(move |t| now(t.existing_team_ids(account, &ids)))
            .await
    }
    async fn list_permissions(&mut self, p: &ListParams) -> StoreResult<Page<Permission>> {
        let p = p.clone();
        self.call(move |t| now(t.list_permissions(&p))).await
    }
    async fn existing_permission_ids(
        &mut self,
        ids: &[PermissionId],
    ) -> StoreResult<Vec<PermissionId>> {
        let ids = ids.to_vec();
        self.call(move |t| now(t.existing_permission_ids(&ids)))
            .await
    }
    async fn token(&mut self, scope: TokenScope, uuid: Uuid) -> StoreResult<Option<PersonalToken>> {
        self.call(move |t| now(t.token(scope, uuid))).await
    }
    async fn token_by_uuid(&mut self, uuid: Uuid) -> StoreResult<Option<PersonalToken>> {
        self.call(move |t| now(t.token_by_uuid(uuid))).await
    }
    async fn list_tokens(
        &mut self,
        scope: TokenScope,
        p: &ListParams,
    ) -> StoreResult<Page<PersonalToken>> {
        let p = p.clone();
        self.call(move |t| now(t.list_tokens(scope, &p))).await
    }
    async fn idp(
        &mut self,
        account: AccountId,
        uuid: Uuid,
    ) -> StoreResult<Option<IdentityProvider>> {
        self.call(move |t| now(t.idp(account, uuid))).await
    }
    async fn idp_by_uuid(&mut self, uuid: Uuid) -> StoreResult<Option<IdentityProvider>> {
        self.call(move |t| now(t.idp_by_uuid(uuid))).await
    }
    async fn list_idps(&mut self, account: AccountId) -> StoreResult<Vec<IdentityProvider>> {
        self.call(move |t| now(t.list_idps(account))).await
    }
    async fn all_idps(&mut self) -> StoreResult<Vec<IdentityProvider>> {
        self.call(|t| now(t.all_idps())).await
    }
    async fn scim_users(&mut self, scope: &ScimScope, q: &ScimQuery) -> StoreResult<Page<User>> {
        let (scope, q) = (*scope, q.clone());
        self.call(move |t| now(t.scim_users(&scope, &q))).await
    }
    async fn scim_teams(&mut self, scope: &ScimScope, q: &ScimQuery) -> StoreResult<Page<Team>> {
        let (scope, q) = (*scope, q.clone());
        self.call(move |t| now(t.scim_teams(&scope, &q))).await
    }
    async fn member_status(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
        users: &[UserId],
    ) -> StoreResult<Vec<(UserId, MemberStatus)>> {
        let (scope, users) = (*scope, users.to_vec());
        self.call(move |t| now(t.member_status(&scope, team, &users)))
            .await
    }
    async fn team_members(
        &mut self,
        scope: &ScimScope,
        teams: &[TeamId],
    ) -> StoreResult<HashMap<TeamId, Vec<Member>>> {
        let (scope, teams) = (*scope, teams.to_vec());
        self.call(move |t| now(t.team_members(&scope, &teams)))
            .await
    }
    async fn list_log(
        &mut self,
        account: AccountId,
        idp: Uuid,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Page<LogEntry>> {
        self.call(move |t| now(t.list_log(account, idp, offset, limit)))
            .await
    }
    async fn find_log(
        &mut self,
        account: AccountId,
        idp: Uuid,
        f: &LogFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Page<LogEntry>> {
        let f = f.clone();
        self.call(move |t| now(t.find_log(account, idp, &f, offset, limit)))
            .await
    }
}

#[async_trait]
impl Tx for Remote<WriteTx> {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.0.commit().await
    }
    async fn insert_account(&mut self, new: &NewAccount) -> StoreResult<Account> {
        let new = new.clone();
        self.call(move |t| now(t.insert_account(&new))).await
    }
    async fn update_account(&mut self, a: &Account, expected_version: i64) -> StoreResult<Account> {
        let a = a.clone();
        self.call(move |t| now(t.update_account(&a, expected_version)))
            .await
    }
    async fn purge_account(&mut self, account: AccountId, batch: i64) -> StoreResult<u64> {
        self.call(move |t| now(t.purge_account(account, batch)))
            .await
    }
    async fn insert_operator_token(
        &mut self,
        token: &OperatorToken,
        key_hash: &[u8; 32],
    ) -> StoreResult<()> {
        let (token, hash) = (token.clone(), *key_hash);
        self.call(move |t| now(t.insert_operator_token(&token, &hash)))
            .await
    }
    async fn delete_operator_token(&mut self, uuid: Uuid) -> StoreResult<()> {
        self.call(move |t| now(t.delete_operator_token(uuid))).await
    }
    async fn set_password_hash(
        &mut self,
        account: AccountId,
        user: UserId,
        hash: Option<&str>,
    ) -> StoreResult<()> {
        let hash = hash.map(str::to_string);
        self.call(move |t| now(t.set_password_hash(account, user, hash.as_deref())))
            .await
    }
    async fn insert_session(&mut self, key_hash: &[u8; 32], s: &ConsoleSession) -> StoreResult<()> {
        let (h, s) = (*key_hash, s.clone());
        self.call(move |t| now(t.insert_session(&h, &s))).await
    }
    async fn touch_session(&mut self, key_hash: &[u8; 32], at: DateTime<Utc>) -> StoreResult<()> {
        let h = *key_hash;
        self.call(move |t| now(t.touch_session(&h, at))).await
    }
    async fn delete_session(&mut self, key_hash: &[u8; 32]) -> StoreResult<()> {
        let h = *key_hash;
        self.call(move |t| now(t.delete_session(&h))).await
    }
    async fn delete_user_sessions(&mut self, account: AccountId, user: UserId) -> StoreResult<u64> {
        self.call(move |t| now(t.delete_user_sessions(account, user)))
            .await
    }
    async fn insert_password_link(
        &mut self,
        key_hash: &[u8; 32],
        link: &PasswordLink,
    ) -> StoreResult<()> {
        let (h, link) = (*key_hash, link.clone());
        self.call(move |t| now(t.insert_password_link(&h, &link)))
            .await
    }
    async fn delete_password_links(&mut self, account: AccountId, user: UserId) -> StoreResult<()> {
        self.call(move |t| now(t.delete_password_links(account, user)))
            .await
    }
    async fn put_totp(
        &mut self,
        account: AccountId,
        user: UserId,
        secret: &roster_core::seal::Sealed,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let secret = secret.clone();
        self.call(move |t| now(t.put_totp(account, user, &secret, at)))
            .await
    }
    async fn confirm_totp(
        &mut self,
        account: AccountId,
        user: UserId,
        step: i64,
        codes: &[[u8; 32]],
    ) -> StoreResult<bool> {
        let codes = codes.to_vec();
        self.call(move |t| now(t.confirm_totp(account, user, step, &codes)))
            .await
    }
    async fn use_totp_step(
        &mut self,
        account: AccountId,
        user: UserId,
        step: i64,
    ) -> StoreResult<bool> {
        self.call(move |t| now(t.use_totp_step(account, user, step)))
            .await
    }
    async fn replace_recovery_codes(
        &mut self,
        account: AccountId,
        user: UserId,
        codes: &[[u8; 32]],
    ) -> StoreResult<()> {
        let codes = codes.to_vec();
        self.call(move |t| now(t.replace_recovery_codes(account, user, &codes)))
            .await
    }
    async fn use_recovery_code(
        &mut self,
        account: AccountId,
        user: UserId,
        hash: &[u8; 32],
    ) -> StoreResult<bool> {
        let h = *hash;
        self.call(move |t| now(t.use_recovery_code(account, user, &h)))
            .await
    }
    async fn delete_totp(&mut self, account: AccountId, user: UserId) -> StoreResult<()> {
        self.call(move |t| now(t.delete_totp(account, user))).await
    }
    async fn delete_sessions_without_totp(
        &mut self,
        account: AccountId,
        keep: UserId,
    ) -> StoreResult<u64> {
        self.call(move |t| now(t.delete_sessions_without_totp(account, keep)))
            .await
    }
    async fn take_password_link(
        &mut self,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<PasswordLink>> {
        let h = *key_hash;
        self.call(move |t| now(t.take_password_link(&h))).await
    }
    async fn prune_console(
        &mut self,
        at: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.call(move |t| now(t.prune_console(at, idle_before)))
            .await
    }
    async fn insert_user(&mut self, u: &NewUser) -> StoreResult<UserId> {
        let u = u.clone();
        self.call(move |t| now(t.insert_user(&u))).await
    }
    async fn update_user(&mut self, u: &User, expected_version: i64) -> StoreResult<()> {
        let u = u.clone();
        self.call(move |t| now(t.update_user(&u, expected_version)))
            .await
    }
    async fn delete_user(&mut self, account: AccountId, id: UserId) -> StoreResult<()> {
        self.call(move |t| now(t.delete_user(account, id))).await
    }
    async fn set_user_teams(
        &mut self,
        account: AccountId,
        user: UserId,
        teams: &[TeamId],
    ) -> StoreResult<()> {
        let teams = teams.to_vec();
        self.call(move |t| now(t.set_user_teams(account, user, &teams)))
            .await
    }
    async fn lock_account(&mut self, _account: AccountId) -> StoreResult<()> {
        // SQLite's write transactions are serial: the account is locked already.
        Ok(())
    }
    async fn insert_team(&mut self, team: &NewTeam) -> StoreResult<TeamId> {
        let team = team.clone();
        self.call(move |t| now(t.insert_team(&team))).await
    }
    async fn update_team(&mut self, team: &Team, expected_version: i64) -> StoreResult<()> {
        let team = team.clone();
        self.call(move |t| now(t.update_team(&team, expected_version)))
            .await
    }
    async fn delete_team(&mut self, account: AccountId, id: TeamId) -> StoreResult<()> {
        self.call(move |t| now(t.delete_team(account, id))).await
    }
    async fn set_team_permissions(
        &mut self,
        team: TeamId,
        permissions: &[PermissionId],
    ) -> StoreResult<()> {
        let permissions = permissions.to_vec();
        self.call(move |t| now(t.set_team_permissions(team, &permissions)))
            .await
    }
    async fn insert_token(&mut self, token: &StoredToken) -> StoreResult<()> {
        let token = token.clone();
        self.call(move |t| now(t.insert_token(&token))).await
    }
    async fn delete_token(&mut self, user: UserId, uuid: Uuid) -> StoreResult<()> {
        self.call(move |t| now(t.delete_token(user, uuid))).await
    }
    async fn delete_user_tokens(&mut self, account: AccountId, user: UserId) -> StoreResult<u64> {
        self.call(move |t| now(t.delete_user_tokens(account, user)))
            .await
    }
    async fn insert_idp(&mut self, idp: &IdentityProvider) -> StoreResult<()> {
        let idp = idp.clone();
        self.call(move |t| now(t.insert_idp(&idp))).await
    }
    async fn update_idp(
        &mut self,
        idp: &IdentityProvider,
        expected_version: i64,
    ) -> StoreResult<()> {
        let idp = idp.clone();
        self.call(move |t| now(t.update_idp(&idp, expected_version)))
            .await
    }
    async fn delete_idp(&mut self, account: AccountId, uuid: Uuid) -> StoreResult<()> {
        self.call(move |t| now(t.delete_idp(account, uuid))).await
    }
    async fn release_idp_resources(
        &mut self,
        account: AccountId,
        idp: Uuid,
        deactivate: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.call(move |t| now(t.release_idp_resources(account, idp, deactivate, at)))
            .await
    }
    async fn delete_idp_resources(
        &mut self,
        account: AccountId,
        idp: Uuid,
        batch: i64,
    ) -> StoreResult<u64> {
        self.call(move |t| now(t.delete_idp_resources(account, idp, batch)))
            .await
    }
    async fn deactivate_other_idps(
        &mut self,
        account: AccountId,
        keep: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.call(move |t| now(t.deactivate_other_idps(account, keep, at)))
            .await
    }
    async fn add_team_members(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
        members: &[(UserId, Option<String>)],
    ) -> StoreResult<Vec<UserId>> {
        let (scope, members) = (*scope, members.to_vec());
        self.call(move |t| now(t.add_team_members(&scope, team, &members)))
            .await
    }
    async fn remove_team_members(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
        users: &[UserId],
    ) -> StoreResult<Vec<UserId>> {
        let (scope, users) = (*scope, users.to_vec());
        self.call(move |t| now(t.remove_team_members(&scope, team, &users)))
            .await
    }
    async fn clear_team_members(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
    ) -> StoreResult<Vec<(UserId, ScimRef)>> {
        let scope = *scope;
        self.call(move |t| now(t.clear_team_members(&scope, team)))
            .await
    }
    async fn insert_log(&mut self, entry: &LogEntry) -> StoreResult<()> {
        let entry = entry.clone();
        self.call(move |t| now(t.insert_log(&entry))).await
    }
    async fn prune_log(
        &mut self,
        older_than: Option<DateTime<Utc>>,
        keep_per_idp: i64,
        batch: i64,
    ) -> StoreResult<u64> {
        self.call(move |t| now(t.prune_log(older_than, keep_per_idp, batch)))
            .await
    }
}
