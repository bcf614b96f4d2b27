//! The store, written once and instantiated per backend by [`sql_store_tx!`](crate::sql_store_tx).

/// Expands, in a backend crate, to:
/// - `pub struct $tx` wrapping a `sqlx::Transaction<'static, $db>` and implementing
///   `roster_core::store::Tx`;
/// - `fn map_err(sqlx::Error) -> StoreError` (unique violations become `Conflict`);
/// - `async fn token_by_hash(&Pool<$db>, &[u8; 32], Option<Uuid>)` and `async fn touch_token(...)` for the
///   backend's `Store` impl.
#[macro_export]
macro_rules! sql_store_tx {
    ($db:ty, $tx:ident, $dialect:expr) => {
        use ::roster_core::model::*;
        use ::roster_core::store::{ListParams, NewAccount, Page, StoreError, StoreResult, TokenWithUser};
        use ::sqlx::Row as _;
        use $crate::Listing;
        use $crate::filter_sql::{Bind, Resource};

        type DbRow = <$db as ::sqlx::Database>::Row;

        $crate::sql_store_support!($db, $dialect);

        /// A transaction, or (for reads that need no snapshot across statements) a plain pooled
        /// connection, which saves the `BEGIN`/`COMMIT` round trips.
        pub(crate) enum Conn {
            Tx(::sqlx::Transaction<'static, $db>),
            Plain(::sqlx::pool::PoolConnection<$db>),
        }

        impl ::std::ops::Deref for Conn {
            type Target = <$db as ::sqlx::Database>::Connection;
            fn deref(&self) -> &Self::Target {
                match self {
                    Conn::Tx(t) => t,
                    Conn::Plain(c) => c,
                }
            }
        }

        impl ::std::ops::DerefMut for Conn {
            fn deref_mut(&mut self) -> &mut Self::Target {
                match self {
                    Conn::Tx(t) => t,
                    Conn::Plain(c) => c,
                }
            }
        }

        pub struct $tx {
            tx: Conn,
            /// Lock rows read for writing (`FOR UPDATE`): PostgreSQL write transactions. SQLite
            /// needs none: its write transactions start with `BEGIN IMMEDIATE`.
            lock: bool,
        }

        impl $tx {
            pub(crate) fn new(tx: ::sqlx::Transaction<'static, $db>, write: bool) -> Self {
                Self { tx: Conn::Tx(tx), lock: write && $dialect == $crate::filter_sql::Dialect::Postgres }
            }

            /// Reads on a plain connection: each statement sees the latest committed state.
            pub(crate) fn plain(conn: ::sqlx::pool::PoolConnection<$db>) -> Self {
                Self { tx: Conn::Plain(conn), lock: false }
            }

            /// `sql`, with `FOR UPDATE` in a locking transaction.
            fn locking(&self, sql: &'static str) -> ::sqlx::AssertSqlSafe<String> {
                ::sqlx::AssertSqlSafe(if self.lock { format!("{sql} FOR UPDATE") } else { sql.to_string() })
            }

            /// Teams of each user in `ids`, by user id.
            async fn teams_of(
                &mut self,
                ids: &[UserId],
            ) -> StoreResult<::std::collections::HashMap<UserId, Vec<TeamRef>>> {
                let mut out: ::std::collections::HashMap<UserId, Vec<TeamRef>> = Default::default();
                if ids.is_empty() {
                    return Ok(out);
                }
                let sql = format!(
                    "SELECT m.user_id, t.id, t.name, t.is_active, t.provisioned_by_idp FROM team_members m JOIN teams t ON t.id = m.team_id \
                     WHERE m.user_id IN ({}) ORDER BY t.name_folded, t.id",
                    $crate::placeholders(1, ids.len())
                );
                let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(sql));
                for id in ids {
                    q = q.bind(*id);
                }
                for r in q.fetch_all(&mut *self.tx).await.map_err(map_err)? {
                    out.entry(get(&r, "user_id")?).or_default().push(TeamRef {
                        id: get(&r, "id")?,
                        name: get(&r, "name")?,
                        is_active: get(&r, "is_active")?,
                        provisioned_by: opt_uuid(get(&r, "provisioned_by_idp")?)?,
                    });
                }
                Ok(out)
            }

            /// Permissions of each team in `ids`, by team id.
            async fn permissions_of(
                &mut self,
                ids: &[TeamId],
            ) -> StoreResult<::std::collections::HashMap<TeamId, Vec<Permission>>> {
                let mut out: ::std::collections::HashMap<TeamId, Vec<Permission>> = Default::default();
                if ids.is_empty() {
                    return Ok(out);
                }
                let sql = format!(
                    "SELECT tp.team_id, p.id, p.name, p.slug, p.grp FROM team_permissions tp \
                     JOIN permissions p ON p.id = tp.permission_id WHERE tp.team_id IN ({}) ORDER BY p.id",
                    $crate::placeholders(1, ids.len())
                );
                let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(sql));
                for id in ids {
                    q = q.bind(*id);
                }
                for r in q.fetch_all(&mut *self.tx).await.map_err(map_err)? {
                    out.entry(get(&r, "team_id")?).or_default().push(permission_from_row(&r)?);
                }
                Ok(out)
            }

            /// Replace the user's rows in `user_emails` with those of `doc` (`fresh`: a new user,
            /// who has none yet). One statement per 500 addresses.
            async fn write_emails(&mut self, account: AccountId, user: UserId, doc: &::serde_json::Value, fresh: bool) -> StoreResult<()> {
                if !fresh {
                    ::sqlx::query("DELETE FROM user_emails WHERE user_id = $1")
                        .bind(user)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                }
                let rows = $crate::email_rows(doc);
                for (c, chunk) in rows.chunks(500).enumerate() {
                    let values: Vec<String> = (0..chunk.len())
                        .map(|i| format!("($1, $2, ${}, ${}, ${}, ${})", 3 + 4 * i, 4 + 4 * i, 5 + 4 * i, 6 + 4 * i))
                        .collect();
                    let sql = format!(
                        "INSERT INTO user_emails (account_id, user_id, position, value_folded, type_folded, is_primary) VALUES {}",
                        values.join(", ")
                    );
                    // Prepared (kept in the statement cache) only for the usual few addresses:
                    // each count is a statement text of its own.
                    let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(sql)).bind(account).bind(user).persistent(chunk.len() <= 4);
                    for (i, e) in chunk.iter().enumerate() {
                        q = q.bind((c * 500 + i) as i64).bind(e.value.clone()).bind(e.kind.clone()).bind(e.primary);
                    }
                    q.execute(&mut *self.tx).await.map_err(map_err)?;
                }
                Ok(())
            }

            /// After an update matched no row: was it gone, or a newer version?
            async fn missing_or_stale<K>(&mut self, table_check: &'static str, a: i64, key: K) -> StoreError
            where
                K: for<'q> ::sqlx::Encode<'q, $db> + ::sqlx::Type<$db> + Send + 'static,
            {
                let found = ::sqlx::query(::sqlx::AssertSqlSafe(table_check))
                    .bind(a)
                    .bind(key)
                    .fetch_optional(&mut *self.tx)
                    .await;
                match found {
                    Ok(Some(_)) => StoreError::VersionMismatch,
                    Ok(None) => StoreError::NotFound,
                    Err(e) => map_err(e),
                }
            }

        }

        #[::async_trait::async_trait]
        impl ::roster_core::store::Tx for $tx {
            async fn commit(self: Box<Self>) -> StoreResult<()> {
                match self.tx {
                    Conn::Tx(t) => t.commit().await.map_err(map_err),
                    Conn::Plain(_) => Ok(()),
                }
            }

            // ---- accounts ----
            async fn account_count(&mut self) -> StoreResult<i64> {
                ::sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err(map_err)
            }

            async fn insert_account(&mut self, new: &NewAccount) -> StoreResult<Account> {
                let r = ::sqlx::query(concat!(
                    "INSERT INTO accounts (name, company_name, is_active, is_enabled_mfa_to_all_users, created, last_modified, version) ",
                    "VALUES ($1, $2, TRUE, FALSE, $3, $3, 1) RETURNING ", $crate::account_cols!()
                ))
                .bind(&new.name)
                .bind(&new.company_name)
                .bind($crate::ts(&new.now))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(map_err)?;
                account_from_row(&r)
            }

            async fn account(&mut self, id: AccountId) -> StoreResult<Option<Account>> {
                let r = ::sqlx::query(self.locking(concat!("SELECT ", $crate::account_cols!(), " FROM accounts WHERE id = $1")))
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                r.as_ref().map(account_from_row).transpose()
            }

            async fn first_account(&mut self) -> StoreResult<Option<Account>> {
                let r = ::sqlx::query(concat!("SELECT ", $crate::account_cols!(), " FROM accounts ORDER BY id LIMIT 1"))
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                r.as_ref().map(account_from_row).transpose()
            }

            async fn update_account(&mut self, a: &Account, expected_version: i64) -> StoreResult<Account> {
                let r = ::sqlx::query(concat!(
                    "UPDATE accounts SET name = $2, company_name = $3, is_enabled_mfa_to_all_users = $4, ",
                    "last_modified = $5, version = version + 1 WHERE id = $1 AND version = $6 RETURNING ",
                    $crate::account_cols!()
                ))
                .bind(a.id)
                .bind(&a.name)
                .bind(&a.company_name)
                .bind(a.is_enabled_mfa_to_all_users)
                .bind($crate::ts(&a.last_modified))
                .bind(expected_version)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(map_err)?;
                match r {
                    Some(r) => account_from_row(&r),
                    None => Err(self.missing_or_stale("SELECT 1 FROM accounts WHERE id = $1 AND id = $2", a.id, a.id).await),
                }
            }

            // ---- users ----
            async fn insert_user(&mut self, u: &User) -> StoreResult<UserId> {
                let id: UserId = ::sqlx::query_scalar(
                    "INSERT INTO users (account_id, email, email_folded, first_name, last_name, search_text, is_active, \
                     is_account_owner, two_factor_enabled, language, timezone, phone, mobile, country_call_code, \
                     date_joined, last_login, last_modified, version, scim_external_id, provisioned_by_idp, \
                     scim_doc, scim_folded) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 1, $18, $19, $20, $21) \
                     RETURNING id",
                )
                .bind(u.account_id)
                .bind(&u.email)
                .bind(::roster_core::validate::user_name_key(&u.email))
                .bind(&u.first_name)
                .bind(&u.last_name)
                .bind($crate::user_search_text(&u.email, &u.first_name, &u.last_name))
                .bind(u.is_active)
                .bind(u.is_account_owner)
                .bind(u.two_factor_enabled)
                .bind(&u.language)
                .bind(&u.timezone)
                .bind(&u.phone)
                .bind(&u.mobile)
                .bind(&u.country_call_code)
                .bind($crate::ts(&u.date_joined))
                .bind(u.last_login.as_ref().map($crate::ts))
                .bind($crate::ts(&u.last_modified))
                .bind(&u.provisioning.external_id)
                .bind(u.provisioning.idp_uuid.map(|x| x.to_string()))
                .bind(::sqlx::types::Json(&u.scim))
                .bind(::sqlx::types::Json($crate::search_doc(&u.scim, ::roster_core::scim::user_ctx())))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(map_err)?;
                self.write_emails(u.account_id, id, &u.scim, true).await?;
                Ok(id)
            }

            async fn user(&mut self, account: AccountId, id: UserId) -> StoreResult<Option<User>> {
                let r = ::sqlx::query(self.locking(concat!("SELECT ", $crate::user_cols!(), " FROM users u WHERE u.account_id = $1 AND u.id = $2")))
                    .bind(account)
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                let Some(r) = r else { return Ok(None) };
                let mut u = user_from_row(&r)?;
                u.teams = self.teams_of(&[u.id]).await?.remove(&u.id).unwrap_or_default();
                Ok(Some(u))
            }

            async fn user_by_email(&mut self, account: AccountId, email: &str) -> StoreResult<Option<User>> {
                let r = ::sqlx::query(concat!(
                    "SELECT ", $crate::user_cols!(), " FROM users u WHERE u.account_id = $1 AND u.email_folded = $2"
                ))
                .bind(account)
                .bind(::roster_core::validate::user_name_key(email))
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(map_err)?;
                let Some(r) = r else { return Ok(None) };
                let mut u = user_from_row(&r)?;
                u.teams = self.teams_of(&[u.id]).await?.remove(&u.id).unwrap_or_default();
                Ok(Some(u))
            }

            async fn list_users(&mut self, account: AccountId, p: &ListParams) -> StoreResult<Page<User>> {
                let filter = if p.search.is_some() { " AND u.search_text LIKE $2 ESCAPE '\\'" } else { "" };
                let pattern = p.search.as_deref().map($crate::contains_pattern);
                let count_sql = format!("SELECT COUNT(*) FROM users u WHERE u.account_id = $1{filter}");
                let mut cq = ::sqlx::query_scalar(::sqlx::AssertSqlSafe(count_sql)).bind(account);
                if let Some(pat) = &pattern {
                    cq = cq.bind(pat.clone());
                }
                let total: i64 = cq.fetch_one(&mut *self.tx).await.map_err(map_err)?;
                let n = if pattern.is_some() { 3 } else { 2 };
                let sql = format!(
                    "SELECT {} FROM users u WHERE u.account_id = $1{filter} {} LIMIT ${} OFFSET ${}",
                    $crate::user_cols!(),
                    $crate::order_by(Listing::Users, p.sort, p.descending),
                    n,
                    n + 1
                );
                let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(sql)).bind(account);
                if let Some(pat) = &pattern {
                    q = q.bind(pat.clone());
                }
                let rows = q.bind(p.limit).bind(p.offset).fetch_all(&mut *self.tx).await.map_err(map_err)?;
                let mut items = rows.iter().map(user_from_row).collect::<StoreResult<Vec<_>>>()?;
                let ids: Vec<UserId> = items.iter().map(|u| u.id).collect();
                let mut teams = self.teams_of(&ids).await?;
                for u in &mut items {
                    u.teams = teams.remove(&u.id).unwrap_or_default();
                }
                Ok(Page { items, total })
            }

            async fn update_user(&mut self, u: &User, expected_version: i64) -> StoreResult<()> {
                let done = ::sqlx::query(
                    "UPDATE users SET email = $3, email_folded = $4, first_name = $5, last_name = $6, search_text = $7, \
                     is_active = $8, is_account_owner = $9, two_factor_enabled = $10, language = $11, timezone = $12, \
                     phone = $13, mobile = $14, country_call_code = $15, last_login = $16, last_modified = $17, \
                     scim_external_id = $18, provisioned_by_idp = $19, version = version + 1, \
                     scim_doc = $21, scim_folded = $22 \
                     WHERE account_id = $1 AND id = $2 AND version = $20",
                )
                .bind(u.account_id)
                .bind(u.id)
                .bind(&u.email)
                .bind(::roster_core::validate::user_name_key(&u.email))
                .bind(&u.first_name)
                .bind(&u.last_name)
                .bind($crate::user_search_text(&u.email, &u.first_name, &u.last_name))
                .bind(u.is_active)
                .bind(u.is_account_owner)
                .bind(u.two_factor_enabled)
                .bind(&u.language)
                .bind(&u.timezone)
                .bind(&u.phone)
                .bind(&u.mobile)
                .bind(&u.country_call_code)
                .bind(u.last_login.as_ref().map($crate::ts))
                .bind($crate::ts(&u.last_modified))
                .bind(&u.provisioning.external_id)
                .bind(u.provisioning.idp_uuid.map(|x| x.to_string()))
                .bind(expected_version)
                .bind(::sqlx::types::Json(&u.scim))
                .bind(::sqlx::types::Json($crate::search_doc(&u.scim, ::roster_core::scim::user_ctx())))
                .execute(&mut *self.tx)
                .await
                .map_err(map_err)?;
                if done.rows_affected() == 0 {
                    return Err(self.missing_or_stale("SELECT 1 FROM users WHERE account_id = $1 AND id = $2", u.account_id, u.id).await);
                }
                self.write_emails(u.account_id, u.id, &u.scim, false).await
            }

            async fn delete_user(&mut self, account: AccountId, id: UserId) -> StoreResult<()> {
                let done = ::sqlx::query("DELETE FROM users WHERE account_id = $1 AND id = $2")
                    .bind(account)
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn set_user_teams(&mut self, account: AccountId, user: UserId, teams: &[TeamId]) -> StoreResult<()> {
                ::sqlx::query("DELETE FROM team_members WHERE account_id = $1 AND user_id = $2")
                    .bind(account)
                    .bind(user)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                for t in teams {
                    ::sqlx::query(
                        "INSERT INTO team_members (account_id, team_id, user_id) \
                         SELECT $1, t.id, $3 FROM teams t WHERE t.account_id = $1 AND t.id = $2 \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(account)
                    .bind(*t)
                    .bind(user)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                }
                Ok(())
            }

            async fn lock_account(&mut self, account: AccountId) -> StoreResult<()> {
                if self.lock {
                    ::sqlx::query("SELECT id FROM accounts WHERE id = $1 FOR UPDATE")
                        .bind(account)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                }
                Ok(())
            }

            async fn active_owner_count(&mut self, account: AccountId) -> StoreResult<i64> {
                ::sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users WHERE account_id = $1 AND is_account_owner AND is_active",
                )
                .bind(account)
                .fetch_one(&mut *self.tx)
                .await
                .map_err(map_err)
            }

            async fn user_permission_slugs(&mut self, account: AccountId, user: UserId) -> StoreResult<Vec<String>> {
                ::sqlx::query_scalar(
                    "SELECT DISTINCT p.slug FROM team_members m JOIN teams t ON t.id = m.team_id \
                     JOIN team_permissions tp ON tp.team_id = t.id JOIN permissions p ON p.id = tp.permission_id \
                     WHERE m.account_id = $1 AND m.user_id = $2 AND t.is_active ORDER BY p.slug",
                )
                .bind(account)
                .bind(user)
                .fetch_all(&mut *self.tx)
                .await
                .map_err(map_err)
            }

            // ---- teams ----
            async fn insert_team(&mut self, t: &Team) -> StoreResult<TeamId> {
                ::sqlx::query_scalar(
                    "INSERT INTO teams (account_id, name, name_folded, is_active, created, last_modified, version, \
                     scim_external_id, provisioned_by_idp, scim_doc, scim_folded) \
                     VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $10) RETURNING id",
                )
                .bind(t.account_id)
                .bind(&t.name)
                .bind(::roster_core::validate::fold(&t.name))
                .bind(t.is_active)
                .bind($crate::ts(&t.created))
                .bind($crate::ts(&t.last_modified))
                .bind(&t.provisioning.external_id)
                .bind(t.provisioning.idp_uuid.map(|x| x.to_string()))
                .bind(::sqlx::types::Json(&t.scim))
                .bind(::sqlx::types::Json($crate::search_doc(&t.scim, ::roster_core::scim::group_ctx())))
                .fetch_one(&mut *self.tx)
                .await
                .map_err(map_err)
            }

            async fn team(&mut self, account: AccountId, id: TeamId) -> StoreResult<Option<Team>> {
                let r = ::sqlx::query(self.locking(concat!("SELECT ", $crate::team_cols!(), " FROM teams WHERE account_id = $1 AND id = $2")))
                    .bind(account)
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                let Some(r) = r else { return Ok(None) };
                let mut t = team_from_row(&r)?;
                t.permissions = self.permissions_of(&[t.id]).await?.remove(&t.id).unwrap_or_default();
                Ok(Some(t))
            }

            async fn list_teams(&mut self, account: AccountId, p: &ListParams) -> StoreResult<Page<Team>> {
                let filter = if p.search.is_some() { " AND name_folded LIKE $2 ESCAPE '\\'" } else { "" };
                let pattern = p.search.as_deref().map($crate::contains_pattern);
                let count_sql = format!("SELECT COUNT(*) FROM teams WHERE account_id = $1{filter}");
                let mut cq = ::sqlx::query_scalar(::sqlx::AssertSqlSafe(count_sql)).bind(account);
                if let Some(pat) = &pattern {
                    cq = cq.bind(pat.clone());
                }
                let total: i64 = cq.fetch_one(&mut *self.tx).await.map_err(map_err)?;
                let n = if pattern.is_some() { 3 } else { 2 };
                let sql = format!(
                    "SELECT {} FROM teams WHERE account_id = $1{filter} {} LIMIT ${} OFFSET ${}",
                    $crate::team_cols!(),
                    $crate::order_by(Listing::Teams, p.sort, p.descending),
                    n,
                    n + 1
                );
                let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(sql)).bind(account);
                if let Some(pat) = &pattern {
                    q = q.bind(pat.clone());
                }
                let rows = q.bind(p.limit).bind(p.offset).fetch_all(&mut *self.tx).await.map_err(map_err)?;
                let mut items = rows.iter().map(team_from_row).collect::<StoreResult<Vec<_>>>()?;
                let ids: Vec<TeamId> = items.iter().map(|t| t.id).collect();
                let mut perms = self.permissions_of(&ids).await?;
                for t in &mut items {
                    t.permissions = perms.remove(&t.id).unwrap_or_default();
                }
                Ok(Page { items, total })
            }

            async fn update_team(&mut self, t: &Team, expected_version: i64) -> StoreResult<()> {
                let done = ::sqlx::query(
                    "UPDATE teams SET name = $3, name_folded = $4, is_active = $5, last_modified = $6, \
                     scim_external_id = $7, provisioned_by_idp = $8, version = version + 1, \
                     scim_doc = $10, scim_folded = $11 \
                     WHERE account_id = $1 AND id = $2 AND version = $9",
                )
                .bind(t.account_id)
                .bind(t.id)
                .bind(&t.name)
                .bind(::roster_core::validate::fold(&t.name))
                .bind(t.is_active)
                .bind($crate::ts(&t.last_modified))
                .bind(&t.provisioning.external_id)
                .bind(t.provisioning.idp_uuid.map(|x| x.to_string()))
                .bind(expected_version)
                .bind(::sqlx::types::Json(&t.scim))
                .bind(::sqlx::types::Json($crate::search_doc(&t.scim, ::roster_core::scim::group_ctx())))
                .execute(&mut *self.tx)
                .await
                .map_err(map_err)?;
                if done.rows_affected() == 0 {
                    return Err(self.missing_or_stale("SELECT 1 FROM teams WHERE account_id = $1 AND id = $2", t.account_id, t.id).await);
                }
                Ok(())
            }

            async fn delete_team(&mut self, account: AccountId, id: TeamId) -> StoreResult<()> {
                let done = ::sqlx::query("DELETE FROM teams WHERE account_id = $1 AND id = $2")
                    .bind(account)
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn set_team_permissions(&mut self, team: TeamId, permissions: &[PermissionId]) -> StoreResult<()> {
                ::sqlx::query("DELETE FROM team_permissions WHERE team_id = $1")
                    .bind(team)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                for p in permissions {
                    ::sqlx::query("INSERT INTO team_permissions (team_id, permission_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(team)
                        .bind(*p)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                }
                Ok(())
            }

            async fn team_member_count(&mut self, account: AccountId, team: TeamId, up_to: i64) -> StoreResult<i64> {
                ::sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM team_members WHERE account_id = $1 AND team_id = $2 LIMIT $3) m")
                    .bind(account)
                    .bind(team)
                    .bind(up_to)
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err(map_err)
            }

            async fn existing_team_ids(&mut self, account: AccountId, ids: &[TeamId]) -> StoreResult<Vec<TeamId>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "SELECT id FROM teams WHERE account_id = $1 AND id IN ({})",
                    $crate::placeholders(2, ids.len())
                );
                let mut q = ::sqlx::query_scalar(::sqlx::AssertSqlSafe(sql)).bind(account);
                for id in ids {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *self.tx).await.map_err(map_err)
            }

            // ---- permissions ----
            async fn list_permissions(&mut self, p: &ListParams) -> StoreResult<Page<Permission>> {
                let filter = if p.search.is_some() { " WHERE lower(name) LIKE $1 ESCAPE '\\'" } else { "" };
                let pattern = p.search.as_deref().map($crate::contains_pattern);
                let mut cq = ::sqlx::query_scalar(::sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM permissions{filter}")));
                if let Some(pat) = &pattern {
                    cq = cq.bind(pat.clone());
                }
                let total: i64 = cq.fetch_one(&mut *self.tx).await.map_err(map_err)?;
                let n = if pattern.is_some() { 2 } else { 1 };
                let sql = format!(
                    "SELECT id, name, slug, grp FROM permissions{filter} {} LIMIT ${} OFFSET ${}",
                    $crate::order_by(Listing::Permissions, p.sort, p.descending),
                    n,
                    n + 1
                );
                let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(sql));
                if let Some(pat) = &pattern {
                    q = q.bind(pat.clone());
                }
                let rows = q.bind(p.limit).bind(p.offset).fetch_all(&mut *self.tx).await.map_err(map_err)?;
                let items = rows.iter().map(permission_from_row).collect::<StoreResult<Vec<_>>>()?;
                Ok(Page { items, total })
            }

            async fn existing_permission_ids(&mut self, ids: &[PermissionId]) -> StoreResult<Vec<PermissionId>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!("SELECT id FROM permissions WHERE id IN ({})", $crate::placeholders(1, ids.len()));
                let mut q = ::sqlx::query_scalar(::sqlx::AssertSqlSafe(sql));
                for id in ids {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *self.tx).await.map_err(map_err)
            }

            // ---- personal tokens ----
            async fn insert_token(&mut self, t: &StoredToken) -> StoreResult<()> {
                let k = &t.token;
                ::sqlx::query(
                    "INSERT INTO personal_tokens (uuid, user_id, account_id, name, description, created, expires_at, \
                     last_used_at, key_hash, key_prefix, name_folded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(k.uuid.to_string())
                .bind(k.user_id)
                .bind(k.account_id)
                .bind(&k.name)
                .bind(&k.description)
                .bind($crate::ts(&k.created))
                .bind($crate::ts(&k.expires_at))
                .bind(k.last_used_at.as_ref().map($crate::ts))
                .bind(::hex::encode(t.key_hash))
                .bind(&k.key_prefix)
                .bind(::roster_core::validate::fold(&k.name))
                .execute(&mut *self.tx)
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn token(&mut self, scope: ::roster_core::store::TokenScope, uuid: ::uuid::Uuid) -> StoreResult<Option<PersonalToken>> {
                let r = ::sqlx::query(concat!(
                    "SELECT ", $crate::token_cols!(), " FROM personal_tokens t ",
                    "WHERE t.account_id = $1 AND ($2 IS NULL OR t.user_id = $2) AND t.uuid = $3"
                ))
                .bind(scope.account)
                .bind(scope.user)
                .bind(uuid.to_string())
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(map_err)?;
                r.as_ref().map(token_from_row).transpose()
            }

            async fn token_by_uuid(&mut self, uuid: ::uuid::Uuid) -> StoreResult<Option<PersonalToken>> {
                let r = ::sqlx::query(concat!("SELECT ", $crate::token_cols!(), " FROM personal_tokens t WHERE t.uuid = $1"))
                    .bind(uuid.to_string())
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                r.as_ref().map(token_from_row).transpose()
            }

            async fn list_tokens(&mut self, scope: ::roster_core::store::TokenScope, p: &ListParams) -> StoreResult<Page<PersonalToken>> {
                let filter = if p.search.is_some() { " AND t.name_folded LIKE $3 ESCAPE '\\'" } else { "" };
                let pattern = p.search.as_deref().map($crate::contains_pattern);
                let mut cq = ::sqlx::query_scalar(::sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM personal_tokens t WHERE t.account_id = $1 AND ($2 IS NULL OR t.user_id = $2){filter}"
                )))
                .bind(scope.account)
                .bind(scope.user);
                if let Some(pat) = &pattern {
                    cq = cq.bind(pat.clone());
                }
                let total: i64 = cq.fetch_one(&mut *self.tx).await.map_err(map_err)?;
                let n = if pattern.is_some() { 4 } else { 3 };
                let sql = format!(
                    "SELECT {} FROM personal_tokens t WHERE t.account_id = $1 AND ($2 IS NULL OR t.user_id = $2){filter} {} LIMIT ${} OFFSET ${}",
                    $crate::token_cols!(),
                    $crate::order_by(Listing::Tokens, p.sort, p.descending),
                    n,
                    n + 1
                );
                let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(sql)).bind(scope.account).bind(scope.user);
                if let Some(pat) = &pattern {
                    q = q.bind(pat.clone());
                }
                let rows = q.bind(p.limit).bind(p.offset).fetch_all(&mut *self.tx).await.map_err(map_err)?;
                let items = rows.iter().map(token_from_row).collect::<StoreResult<Vec<_>>>()?;
                Ok(Page { items, total })
            }

            async fn delete_token(&mut self, user: UserId, uuid: ::uuid::Uuid) -> StoreResult<()> {
                let done = ::sqlx::query("DELETE FROM personal_tokens WHERE user_id = $1 AND uuid = $2")
                    .bind(user)
                    .bind(uuid.to_string())
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn delete_user_tokens(&mut self, account: AccountId, user: UserId) -> StoreResult<u64> {
                let done = ::sqlx::query("DELETE FROM personal_tokens WHERE account_id = $1 AND user_id = $2")
                    .bind(account)
                    .bind(user)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                Ok(done.rows_affected())
            }

            // ---- identity providers ----
            async fn insert_idp(&mut self, idp: &IdentityProvider) -> StoreResult<()> {
                let q = ::sqlx::query(concat!(
                    "INSERT INTO identity_providers (", $crate::idp_cols!(), ") VALUES ",
                    "($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
                ))
                .bind(idp.uuid.to_string())
                .bind(idp.account_id)
                .bind(idp.protocol().as_str())
                .bind(&idp.name)
                .bind(idp.is_active)
                .bind(idp.scim_integration)
                .bind($crate::ts(&idp.created))
                .bind($crate::ts(&idp.last_modified));
                $crate::bind_idp_config_impl!(q, idp)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                Ok(())
            }

            async fn idp(&mut self, account: AccountId, uuid: ::uuid::Uuid) -> StoreResult<Option<IdentityProvider>> {
                let r = ::sqlx::query(self.locking(concat!("SELECT ", $crate::idp_cols!(), " FROM identity_providers WHERE account_id = $1 AND uuid = $2")))
                .bind(account)
                .bind(uuid.to_string())
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(map_err)?;
                r.as_ref().map(idp_from_row).transpose()
            }

            async fn idp_by_uuid(&mut self, uuid: ::uuid::Uuid) -> StoreResult<Option<IdentityProvider>> {
                let r = ::sqlx::query(concat!("SELECT ", $crate::idp_cols!(), " FROM identity_providers WHERE uuid = $1"))
                    .bind(uuid.to_string())
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                r.as_ref().map(idp_from_row).transpose()
            }

            async fn list_idps(&mut self, account: AccountId) -> StoreResult<Vec<IdentityProvider>> {
                let rows = ::sqlx::query(concat!(
                    "SELECT ", $crate::idp_cols!(), " FROM identity_providers WHERE account_id = $1 ORDER BY created, uuid"
                ))
                .bind(account)
                .fetch_all(&mut *self.tx)
                .await
                .map_err(map_err)?;
                rows.iter().map(idp_from_row).collect()
            }

            async fn all_idps(&mut self) -> StoreResult<Vec<IdentityProvider>> {
                let rows = ::sqlx::query(concat!(
                    "SELECT ", $crate::idp_cols!(), " FROM identity_providers ORDER BY account_id, created, uuid"
                ))
                .fetch_all(&mut *self.tx)
                .await
                .map_err(map_err)?;
                rows.iter().map(idp_from_row).collect()
            }

            async fn update_idp(&mut self, idp: &IdentityProvider, expected_version: i64) -> StoreResult<()> {
                let q = ::sqlx::query(
                    "UPDATE identity_providers SET uuid = $1, account_id = $2, protocol = $3, name = $4, is_active = $5, \
                     scim_integration = $6, created = $7, last_modified = $8, version = version + 1, \
                     sign_in_url = $9, entity_id_url = $10, certificate_pem = $11, signature_algorithm = $12, \
                     authorization_url = $13, userinfo_url = $14, token_url = $15, client_id = $16, \
                     client_secret = $17, scopes = $18, response_mode = $19 \
                     WHERE account_id = $2 AND uuid = $1 AND version = $20",
                )
                .bind(idp.uuid.to_string())
                .bind(idp.account_id)
                .bind(idp.protocol().as_str())
                .bind(&idp.name)
                .bind(idp.is_active)
                .bind(idp.scim_integration)
                .bind($crate::ts(&idp.created))
                .bind($crate::ts(&idp.last_modified));
                let done = $crate::bind_idp_config_impl!(q, idp)
                    .bind(expected_version)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                if done.rows_affected() == 0 {
                    return Err(self
                        .missing_or_stale(
                            "SELECT 1 FROM identity_providers WHERE account_id = $1 AND uuid = $2",
                            idp.account_id,
                            idp.uuid.to_string(),
                        )
                        .await);
                }
                Ok(())
            }

            async fn delete_idp(&mut self, account: AccountId, uuid: ::uuid::Uuid) -> StoreResult<()> {
                let done = ::sqlx::query("DELETE FROM identity_providers WHERE account_id = $1 AND uuid = $2")
                    .bind(account)
                    .bind(uuid.to_string())
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            async fn deactivate_other_idps(
                &mut self,
                account: AccountId,
                keep: ::uuid::Uuid,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> StoreResult<()> {
                ::sqlx::query(
                    "UPDATE identity_providers SET is_active = FALSE, last_modified = $3, version = version + 1 \
                     WHERE account_id = $1 AND uuid <> $2 AND is_active",
                )
                .bind(account)
                .bind(keep.to_string())
                .bind($crate::ts(&now))
                .execute(&mut *self.tx)
                .await
                .map_err(map_err)?;
                Ok(())
            }

            // ---- SCIM (written in `scim_macro.rs`) ----
            async fn scim_users(&mut self, scope: &::roster_core::store::ScimScope, q: &::roster_core::store::ScimQuery) -> StoreResult<Page<User>> {
                Self::scim_users(self, scope, q).await
            }

            async fn scim_teams(&mut self, scope: &::roster_core::store::ScimScope, q: &::roster_core::store::ScimQuery) -> StoreResult<Page<Team>> {
                Self::scim_teams(self, scope, q).await
            }

            async fn team_members(&mut self, scope: &::roster_core::store::ScimScope, teams: &[TeamId]) -> StoreResult<::std::collections::HashMap<TeamId, Vec<::roster_core::store::Member>>> {
                Self::team_members(self, scope, teams).await
            }

            async fn add_team_members(&mut self, scope: &::roster_core::store::ScimScope, team: TeamId, members: &[(UserId, Option<String>)]) -> StoreResult<Vec<UserId>> {
                Self::add_team_members(self, scope, team, members).await
            }

            async fn remove_team_members(&mut self, scope: &::roster_core::store::ScimScope, team: TeamId, users: &[UserId]) -> StoreResult<Vec<UserId>> {
                Self::remove_team_members(self, scope, team, users).await
            }

            async fn clear_team_members(&mut self, scope: &::roster_core::store::ScimScope, team: TeamId) -> StoreResult<Vec<UserId>> {
                Self::clear_team_members(self, scope, team).await
            }

            async fn insert_log(&mut self, e: &::roster_core::store::LogEntry) -> StoreResult<()> {
                Self::insert_log(self, e).await
            }

            async fn prune_log(&mut self, older_than: Option<::chrono::DateTime<::chrono::Utc>>, keep_per_idp: i64, batch: i64) -> StoreResult<u64> {
                Self::prune_log(self, older_than, keep_per_idp, batch).await
            }

            async fn list_log(&mut self, account: AccountId, idp: ::uuid::Uuid, offset: i64, limit: i64) -> StoreResult<Page<::roster_core::store::LogEntry>> {
                Self::list_log(self, account, idp, offset, limit).await
            }
        }

        $crate::sql_store_scim!($db, $tx, $dialect);
    };
}

/// Binds the eleven protocol-specific columns of an identity provider, in `idp_cols!` order.
#[macro_export]
#[doc(hidden)]
macro_rules! bind_idp_config_impl {
    ($q:expr, $idp:expr) => {{
        let (saml, oidc) = match &$idp.config {
            IdpConfig::Saml(c) => (Some(c), None),
            IdpConfig::Oidc(c) => (None, Some(c)),
        };
        $q.bind(saml.map(|c| c.sign_in_url.clone()))
            .bind(saml.map(|c| c.entity_id_url.clone()))
            .bind(saml.map(|c| c.certificate_pem.clone()))
            .bind(saml.map(|c| c.signature_algorithm.clone()))
            .bind(oidc.map(|c| c.authorization_url.clone()))
            .bind(oidc.map(|c| c.userinfo_url.clone()))
            .bind(oidc.map(|c| c.token_url.clone()))
            .bind(oidc.map(|c| c.client_id.clone()))
            .bind(oidc.map(|c| c.client_secret.stored().to_string()))
            .bind(oidc.map(|c| $crate::scopes_to_text(&c.scopes)))
            .bind(oidc.map(|c| c.response_mode.clone()))
    }};
}
