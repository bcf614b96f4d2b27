//! The storage the domain needs. One implementation per backend lives in its own crate; no
//! business code ever asks which one it runs on.
//!
//! Every method is scoped to an account where the record belongs to one. Writes happen inside a
//! [`Tx`] opened by [`Store::begin`]: read, apply the pure change, write with a version check
//! (`expected_version`), commit. Dropping a `Tx` without committing rolls it back.

use crate::model::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Which uniqueness rule a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    UserEmail,
    TeamName,
    TokenKey,
    ActiveIdentityProvider,
    ExternalId,
    Other,
}

impl Conflict {
    /// (field, message) for error bodies.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            Conflict::UserEmail => (
                "email",
                "A user with this email already exists in the account.",
            ),
            Conflict::TeamName => (
                "name",
                "A team with this name already exists in the account.",
            ),
            Conflict::TokenKey => ("key", "Token collision; try again."),
            Conflict::ActiveIdentityProvider => (
                "is_active",
                "Another identity provider is already active in the account.",
            ),
            Conflict::ExternalId => (
                "externalId",
                "The externalId is already used in the account.",
            ),
            Conflict::Other => (
                "non_field_errors",
                "The change conflicts with existing data.",
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    #[error("version mismatch")]
    VersionMismatch,
    /// A valid SCIM filter this store cannot answer exactly (answered as `400 invalidFilter`).
    #[error("unsupported filter: {0}")]
    UnsupportedFilter(String),
    /// No database connection came free in time (overload), or the connection broke (the
    /// database restarting): worth retrying shortly.
    #[error("storage busy: {0}")]
    Busy(String),
    /// The database driver failed; `source` is its error.
    #[error("storage error: {context}")]
    Database {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Something the store found wrong (a row it cannot read, a setting it cannot use).
    #[error("storage error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// A driver error, kept as the source.
    pub fn database(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Database {
            context: context.into(),
            source: Box::new(source),
        }
    }
}

/// Sort keys the IAM lists offer. Each store maps them to columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Id,
    Email,
    FirstName,
    LastName,
    LastModified,
    DateJoined,
    Name,
    Created,
    ExpiresAt,
    IsActive,
    Slug,
    Group,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    pub offset: i64,
    pub limit: i64,
    pub sort: SortKey,
    pub descending: bool,
    /// Case-folded free text; matched as a substring.
    pub search: Option<String>,
}

/// Which provisioning-log entries a list keeps (all by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// `created`, `updated`, `failed`, …
    pub outcome: Option<String>,
    /// `Some(true)`: failures only (status 400 or more); `Some(false)`: successes only.
    pub failed: Option<bool>,
    /// `User` or `Group`.
    pub resource_type: Option<String>,
    /// Only entries newer than this one (a live view asking whether anything arrived).
    pub newer_than: Option<i64>,
}

/// Which of an account's users a list keeps (all by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    pub active: Option<bool>,
    /// `Some(None)`: users made by hand; `Some(Some(uuid))`: that provider's.
    pub idp: Option<Option<Uuid>>,
    /// Members of this team.
    pub team: Option<TeamId>,
}

/// A page of Users Management: the users `filter` keeps whose email, name ("first last") or
/// last name starts with `prefix`, in email order, `limit` of them after (or before) a cursor.
#[derive(Debug, Clone, Default)]
pub struct UserBrowse {
    pub filter: UserFilter,
    /// Case-insensitive prefix (empty: everyone).
    pub prefix: String,
    /// The cursor: the folded email of the row the page starts after...
    pub after: Option<String>,
    /// ... or ends before (then the page is the `limit` rows just before it).
    pub before: Option<String>,
    pub limit: i64,
}

/// A page of a Users Management search, and the cursor of the next page if there is one.
#[derive(Debug, Clone, Default)]
pub struct UserSearchPage {
    pub users: Vec<User>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub company_name: String,
    pub now: DateTime<Utc>,
}

pub use crate::model::NewUser;
/// A team to insert: the `id`, `version` and `permissions` of `team` are ignored.
pub type NewTeam = Team;

/// Which tokens a query sees: one account's, and only one user's when `user` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenScope {
    pub account: AccountId,
    pub user: Option<UserId>,
}

/// A token with the user it acts as, found by key hash.
#[derive(Debug, Clone)]
pub struct TokenWithUser {
    pub stored: StoredToken,
    pub user: User,
    pub account_active: bool,
    /// Slugs of the permissions the user holds through its active teams (empty for owners, who
    /// hold every permission).
    pub permissions: Vec<String>,
    /// The identity provider asked for with the token, when the token's account has it (a SCIM
    /// request authenticates and finds its endpoint in one statement).
    pub idp: Option<IdentityProvider>,
}

/// What a SCIM list sorts by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimSort {
    Id,
    UserName,
    DisplayName,
    ExternalId,
    Created,
    LastModified,
    /// A string attribute in the stored document (canonical keys: `["name", "familyName"]`).
    Json(Vec<String>),
}

/// A SCIM list query: filter, sort and one page (by offset, or after an id for cursors).
#[derive(Debug, Clone)]
pub struct ScimQuery {
    pub filter: Option<roster_scim::Filter>,
    pub sort: ScimSort,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
    /// Cursor pagination: only ids greater than this (with `ScimSort::Id` ascending).
    pub after_id: Option<i64>,
    /// The endpoint's base URL (`…/v4/users/scim/<uuid>`, no trailing slash) that `meta.location`
    /// and `$ref` values start with, for filters on them; `None` refuses them.
    pub base: Option<String>,
}

/// What one identity provider's SCIM endpoint may address: the users and teams of `account` that
/// `idp` provisioned (`provisioned_by_idp`). Users made by hand, teams made through the IAM API
/// and other providers' resources are outside it: SCIM neither sees nor changes them. Nor does it
/// see `caller`, the user whose token is in use, whoever made it: a token never acts on its own
/// user through SCIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScimScope {
    pub account: AccountId,
    pub idp: Uuid,
    pub caller: Option<UserId>,
}

/// A member of a team, as SCIM shows it: `display` is the one the client sent with it, else the
/// user's `displayName`, else its `userName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    /// The user's SCIM id (`None`: made before opaque ids).
    pub scim_id: Option<Uuid>,
    pub display: String,
}

impl Member {
    /// The id SCIM shows for the member.
    pub fn scim_ref(&self) -> ScimRef {
        ScimRef::of(self.user_id.0, self.scim_id)
    }
}

/// What the console's overview counts of an account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountOverview {
    pub users_active: i64,
    pub users_inactive: i64,
    pub teams: i64,
    pub idps: i64,
    /// Provisioning requests and failures (status 400 or more) per UTC hour that had any, oldest
    /// first: (`YYYY-MM-DDTHH`, requests, failures).
    pub hourly: Vec<(String, i64, i64)>,
}

/// Why a member id a provider sent was not added to its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    /// Already a member: not ignored, nothing to add.
    Member,
    /// No user of the account has this id.
    NoSuchUser,
    /// The user whose token made the request (SCIM never addresses it).
    Caller,
    /// A user made by hand (or an owner), outside every provider.
    HandMade,
    /// Another identity provider's user.
    OtherProvider,
}

/// One provisioning log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub id: i64,
    pub account_id: AccountId,
    pub idp_uuid: Uuid,
    pub at: DateTime<Utc>,
    pub request_id: Option<String>,
    pub method: String,
    pub path: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub status: i64,
    /// `created`, `updated`, `deleted`, `unchanged`, `failed`, ...
    pub outcome: String,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    /// Names of the non-standard tolerances that were needed.
    pub tolerances: Vec<String>,
    /// The change list (attribute, old, new; members added and removed), as JSON.
    pub changes: serde_json::Value,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A transaction that may write. On SQLite it takes the write lock at once.
    async fn begin(&self) -> StoreResult<Box<dyn Tx>>;
    /// Reads only, outside any transaction: each statement sees the latest committed state. No
    /// read needs a snapshot across statements, and reads stay out of the writer's way.
    async fn read(&self) -> StoreResult<Box<dyn Read>>;
    /// Is the database reachable?
    async fn ping(&self) -> StoreResult<()>;
    /// The token with this key hash, its user and the user's permissions, and (when `idp` is
    /// given) that identity provider if it belongs to the token's account; without a
    /// transaction (the hot path).
    async fn token_by_hash(
        &self,
        key_hash: &[u8; 32],
        idp: Option<Uuid>,
    ) -> StoreResult<Option<TokenWithUser>>;
    /// Record that a token was used.
    async fn touch_token(&self, uuid: Uuid, at: DateTime<Utc>) -> StoreResult<()>;
    /// A short name for logs and `/health` (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;
}

/// What can be read. A [`Tx`] reads too: inside a write transaction on PostgreSQL, the single
/// records it reads (an account, a user, a team, a provider) are locked for the rest of it.
#[async_trait]
pub trait Read: Send {
    // Accounts
    async fn account_count(&mut self) -> StoreResult<i64>;
    async fn account(&mut self, id: AccountId) -> StoreResult<Option<Account>>;
    async fn first_account(&mut self) -> StoreResult<Option<Account>>;
    /// Every account, by id (those being deleted too).
    async fn list_accounts(&mut self, offset: i64, limit: i64) -> StoreResult<Page<Account>>;
    /// Accounts whose deletion was asked for and has not finished.
    async fn accounts_being_deleted(&mut self) -> StoreResult<Vec<AccountId>>;

    // The instance operator
    async fn operator_token_count(&mut self) -> StoreResult<i64>;
    async fn operator_token_by_hash(
        &mut self,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<OperatorToken>>;
    /// Every operator token, oldest first (never their keys).
    async fn list_operator_tokens(&mut self) -> StoreResult<Vec<OperatorToken>>;

    // The console's sign-in
    /// The users this email names (its userName key), in every account, with their password
    /// hashes: sign-in's only read of them.
    async fn sign_in_candidates(&mut self, email: &str) -> StoreResult<Vec<SignInCandidate>>;
    /// The user's password hash, if it has a password.
    async fn password_hash(
        &mut self,
        account: AccountId,
        user: UserId,
    ) -> StoreResult<Option<String>>;
    /// The console session whose key has this SHA-256.
    async fn session_by_hash(&mut self, key_hash: &[u8; 32])
    -> StoreResult<Option<ConsoleSession>>;
    /// The account's counts, and its provisioning activity per hour since `since`.
    async fn account_overview(
        &mut self,
        account: AccountId,
        since: DateTime<Utc>,
    ) -> StoreResult<AccountOverview>;
    /// The password link whose key has this SHA-256.
    async fn password_link(&mut self, key_hash: &[u8; 32]) -> StoreResult<Option<PasswordLink>>;
    /// A page of Users Management without a search, in email order (`before`: still in email
    /// order).
    async fn browse_users(&mut self, account: AccountId, b: &UserBrowse) -> StoreResult<Vec<User>>;
    /// A page of Users Management's search for `b.prefix`: the name's matches, then the last
    /// name's, then the email's, each user once; `b.after` is a cursor this gave.
    async fn search_users(
        &mut self,
        account: AccountId,
        b: &UserBrowse,
    ) -> StoreResult<UserSearchPage>;
    /// How many users `b` (its filter and prefix) finds, counting no further than `cap`.
    async fn count_browsed_users(
        &mut self,
        account: AccountId,
        b: &UserBrowse,
        cap: i64,
    ) -> StoreResult<i64>;
    /// The user's TOTP second factor, confirmed or being set up.
    async fn totp(&mut self, account: AccountId, user: UserId) -> StoreResult<Option<StoredTotp>>;

    // Users
    async fn user(&mut self, account: AccountId, id: UserId) -> StoreResult<Option<User>>;
    /// The account's user SCIM knows as `r` (a legacy integer names only a user that has no
    /// opaque SCIM id).
    async fn scim_user(&mut self, account: AccountId, r: ScimRef) -> StoreResult<Option<User>>;
    /// The account's users among `refs` (SCIM ids as clients send them), each with its ref.
    async fn resolve_users(
        &mut self,
        account: AccountId,
        refs: &[ScimRef],
    ) -> StoreResult<Vec<(ScimRef, UserId)>>;
    async fn user_by_email(&mut self, account: AccountId, email: &str)
    -> StoreResult<Option<User>>;
    async fn list_users(&mut self, account: AccountId, p: &ListParams) -> StoreResult<Page<User>>;
    /// Like `list_users`, keeping only the users `f` names.
    async fn find_users(
        &mut self,
        account: AccountId,
        p: &ListParams,
        f: &UserFilter,
    ) -> StoreResult<Page<User>>;
    async fn active_owner_count(&mut self, account: AccountId) -> StoreResult<i64>;
    /// Slugs of the permissions granted through the user's active teams.
    async fn user_permission_slugs(
        &mut self,
        account: AccountId,
        user: UserId,
    ) -> StoreResult<Vec<String>>;

    // Teams
    async fn team(&mut self, account: AccountId, id: TeamId) -> StoreResult<Option<Team>>;
    /// Up to `limit` members of the account's `team` after user `after`, in user id order (a
    /// page of a team of any size, through the membership index).
    async fn team_users(
        &mut self,
        account: AccountId,
        team: TeamId,
        after: Option<UserId>,
        limit: i64,
    ) -> StoreResult<Vec<User>>;
    /// The provisioning log's newest `limit` entries about one resource of the account.
    async fn resource_log(
        &mut self,
        account: AccountId,
        resource_type: &str,
        resource_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<LogEntry>>;
    /// The account's team SCIM knows as `r`.
    async fn scim_team(&mut self, account: AccountId, r: ScimRef) -> StoreResult<Option<Team>>;
    async fn list_teams(&mut self, account: AccountId, p: &ListParams) -> StoreResult<Page<Team>>;
    /// Members of the team, counted up to `up_to` (what the callers need to know, in time
    /// proportional to `up_to` rather than to the size of the team).
    async fn team_member_count(
        &mut self,
        account: AccountId,
        team: TeamId,
        up_to: i64,
    ) -> StoreResult<i64>;
    /// Which of `ids` are teams of the account.
    async fn existing_team_ids(
        &mut self,
        account: AccountId,
        ids: &[TeamId],
    ) -> StoreResult<Vec<TeamId>>;

    // Permission catalogue (global, read-only)
    async fn list_permissions(&mut self, p: &ListParams) -> StoreResult<Page<Permission>>;
    async fn existing_permission_ids(
        &mut self,
        ids: &[PermissionId],
    ) -> StoreResult<Vec<PermissionId>>;

    // Personal tokens (always scoped to their account, and to one user unless an owner asks)
    async fn token(&mut self, scope: TokenScope, uuid: Uuid) -> StoreResult<Option<PersonalToken>>;
    async fn token_by_uuid(&mut self, uuid: Uuid) -> StoreResult<Option<PersonalToken>>;
    async fn list_tokens(
        &mut self,
        scope: TokenScope,
        p: &ListParams,
    ) -> StoreResult<Page<PersonalToken>>;

    // Identity providers
    async fn idp(
        &mut self,
        account: AccountId,
        uuid: Uuid,
    ) -> StoreResult<Option<IdentityProvider>>;
    /// A provider by uuid in any account (to attribute a failed SCIM request to its provider's log).
    async fn idp_by_uuid(&mut self, uuid: Uuid) -> StoreResult<Option<IdentityProvider>>;
    async fn list_idps(&mut self, account: AccountId) -> StoreResult<Vec<IdentityProvider>>;
    /// Every identity provider of every account (start-up upkeep only).
    async fn all_idps(&mut self) -> StoreResult<Vec<IdentityProvider>>;

    // SCIM: everything here stays inside one provider's scope.
    /// The scope's users matching a SCIM query, and how many match in all.
    async fn scim_users(&mut self, scope: &ScimScope, q: &ScimQuery) -> StoreResult<Page<User>>;
    /// The scope's teams matching a SCIM query, and how many match in all.
    async fn scim_teams(&mut self, scope: &ScimScope, q: &ScimQuery) -> StoreResult<Page<Team>>;
    /// The scope's members of each team (users of the scope only), by team id, in user id order.
    /// Where each of `users` stands toward the scope's `team` (for members that were not added).
    async fn member_status(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
        users: &[UserId],
    ) -> StoreResult<Vec<(UserId, MemberStatus)>>;
    async fn team_members(
        &mut self,
        scope: &ScimScope,
        teams: &[TeamId],
    ) -> StoreResult<std::collections::HashMap<TeamId, Vec<Member>>>;
    /// The provider's log, newest first.
    async fn list_log(
        &mut self,
        account: AccountId,
        idp: Uuid,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Page<LogEntry>>;
    /// The provider's log entries `f` keeps, newest first.
    async fn find_log(
        &mut self,
        account: AccountId,
        idp: Uuid,
        f: &LogFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Page<LogEntry>>;
}

/// A write transaction: read, apply the pure change, write with a version check
/// (`expected_version`), commit. Dropping it without committing rolls it back.
#[async_trait]
pub trait Tx: Read {
    /// Commit; answers once the transaction is durable.
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    async fn insert_account(&mut self, new: &NewAccount) -> StoreResult<Account>;
    /// Write the account's name, settings, `is_active` and `deleting_since`.
    async fn update_account(&mut self, a: &Account, expected_version: i64) -> StoreResult<Account>;
    /// Delete up to `batch` rows the account owns (members, e-mail rows, tokens, log entries,
    /// teams, users, identity providers, in that order), or, when none is left, the account
    /// itself; answer how many rows went (0: the account is gone). Callers repeat it, one short
    /// transaction each, so deleting a large account never holds the writer for long.
    async fn purge_account(&mut self, account: AccountId, batch: i64) -> StoreResult<u64>;

    async fn insert_operator_token(
        &mut self,
        t: &OperatorToken,
        key_hash: &[u8; 32],
    ) -> StoreResult<()>;
    async fn delete_operator_token(&mut self, uuid: Uuid) -> StoreResult<()>;

    /// Set (or with `None`, remove) the user's password hash.
    async fn set_password_hash(
        &mut self,
        account: AccountId,
        user: UserId,
        hash: Option<&str>,
    ) -> StoreResult<()>;
    async fn insert_session(&mut self, key_hash: &[u8; 32], s: &ConsoleSession) -> StoreResult<()>;
    async fn touch_session(&mut self, key_hash: &[u8; 32], at: DateTime<Utc>) -> StoreResult<()>;
    async fn delete_session(&mut self, key_hash: &[u8; 32]) -> StoreResult<()>;
    /// End every console session of the user; answer how many.
    async fn delete_user_sessions(&mut self, account: AccountId, user: UserId) -> StoreResult<u64>;
    async fn insert_password_link(
        &mut self,
        key_hash: &[u8; 32],
        link: &PasswordLink,
    ) -> StoreResult<()>;
    /// Remove the password link whose key has this SHA-256, answering it: of requests racing to
    /// use one link, one gets it.
    async fn take_password_link(
        &mut self,
        key_hash: &[u8; 32],
    ) -> StoreResult<Option<PasswordLink>>;
    /// Forget sessions past their absolute expiry or idle since `idle_before`, and password links
    /// past theirs; answer how many rows went.
    async fn prune_console(
        &mut self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Forget every password link of the user (one was used, or a new one replaces them).
    async fn delete_password_links(&mut self, account: AccountId, user: UserId) -> StoreResult<()>;
    /// Start setting up a TOTP secret (sealed) for the user, replacing any it had.
    async fn put_totp(
        &mut self,
        account: AccountId,
        user: UserId,
        secret: &crate::seal::Sealed,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Confirm the user's TOTP secret being set up, by a code of time step `step`, with these
    /// recovery code hashes; false when none is being set up.
    async fn confirm_totp(
        &mut self,
        account: AccountId,
        user: UserId,
        step: i64,
        codes: &[[u8; 32]],
    ) -> StoreResult<bool>;
    /// Record a code of time step `step` as used; false if it or a later one was.
    async fn use_totp_step(
        &mut self,
        account: AccountId,
        user: UserId,
        step: i64,
    ) -> StoreResult<bool>;
    async fn replace_recovery_codes(
        &mut self,
        account: AccountId,
        user: UserId,
        codes: &[[u8; 32]],
    ) -> StoreResult<()>;
    /// Use up the recovery code with this hash; false if the user has none such.
    async fn use_recovery_code(
        &mut self,
        account: AccountId,
        user: UserId,
        hash: &[u8; 32],
    ) -> StoreResult<bool>;
    /// Forget the user's TOTP secret and recovery codes.
    async fn delete_totp(&mut self, account: AccountId, user: UserId) -> StoreResult<()>;
    /// End the sessions of the account's users without confirmed TOTP, but `keep`'s.
    async fn delete_sessions_without_totp(
        &mut self,
        account: AccountId,
        keep: UserId,
    ) -> StoreResult<u64>;
    async fn insert_user(&mut self, u: &NewUser) -> StoreResult<UserId>;
    async fn update_user(&mut self, u: &User, expected_version: i64) -> StoreResult<()>;
    async fn delete_user(&mut self, account: AccountId, id: UserId) -> StoreResult<()>;
    /// Make the user's team memberships exactly `teams` (all must belong to the account).
    async fn set_user_teams(
        &mut self,
        account: AccountId,
        user: UserId,
        teams: &[TeamId],
    ) -> StoreResult<()>;
    /// Serialise account-wide invariants (at least one owner): lock the account row for the rest
    /// of this write transaction (PostgreSQL; SQLite write transactions are serial already).
    async fn lock_account(&mut self, account: AccountId) -> StoreResult<()>;

    async fn insert_team(&mut self, t: &NewTeam) -> StoreResult<TeamId>;
    async fn update_team(&mut self, t: &Team, expected_version: i64) -> StoreResult<()>;
    async fn delete_team(&mut self, account: AccountId, id: TeamId) -> StoreResult<()>;
    async fn set_team_permissions(
        &mut self,
        team: TeamId,
        permissions: &[PermissionId],
    ) -> StoreResult<()>;

    async fn insert_token(&mut self, t: &StoredToken) -> StoreResult<()>;
    async fn delete_token(&mut self, user: UserId, uuid: Uuid) -> StoreResult<()>;
    /// Delete every token of the user; answer how many there were.
    async fn delete_user_tokens(&mut self, account: AccountId, user: UserId) -> StoreResult<u64>;

    async fn insert_idp(&mut self, idp: &IdentityProvider) -> StoreResult<()>;
    async fn update_idp(
        &mut self,
        idp: &IdentityProvider,
        expected_version: i64,
    ) -> StoreResult<()>;
    async fn delete_idp(&mut self, account: AccountId, uuid: Uuid) -> StoreResult<()>;
    /// Make what the provider provisioned hand-made (its users deactivated too when
    /// `deactivate`): answer how many users and teams changed.
    async fn release_idp_resources(
        &mut self,
        account: AccountId,
        idp: Uuid,
        deactivate: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Delete up to `batch` of the users, else of the teams, the provider provisioned; answer how
    /// many went (0: none is left).
    async fn delete_idp_resources(
        &mut self,
        account: AccountId,
        idp: Uuid,
        batch: i64,
    ) -> StoreResult<u64>;
    /// Deactivate every active provider of the account except `keep`.
    async fn deactivate_other_idps(
        &mut self,
        account: AccountId,
        keep: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Add the scope's users among `members` (id, and the `display` the client sent) that are not
    /// members yet; answer those added (ids outside the scope are not added). A display sent for
    /// an existing member replaces the one kept.
    async fn add_team_members(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
        members: &[(UserId, Option<String>)],
    ) -> StoreResult<Vec<UserId>>;
    /// Remove those of `users` that are members and in the scope; answer those removed.
    async fn remove_team_members(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
        users: &[UserId],
    ) -> StoreResult<Vec<UserId>>;
    /// Remove every member that is in the scope (members added by hand stay); answer those
    /// removed, each with its SCIM id.
    async fn clear_team_members(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
    ) -> StoreResult<Vec<(UserId, ScimRef)>>;
    /// Record a provisioning log entry (its `id` is ignored).
    async fn insert_log(&mut self, entry: &LogEntry) -> StoreResult<()>;
    /// Delete up to `batch` log entries that are older than `older_than` or beyond the newest
    /// `keep_per_idp` of their identity provider; answer how many went. Callers repeat it, one
    /// short transaction each, until it answers 0, so the writer is never held for long.
    async fn prune_log(
        &mut self,
        older_than: Option<DateTime<Utc>>,
        keep_per_idp: i64,
        batch: i64,
    ) -> StoreResult<u64>;
}
