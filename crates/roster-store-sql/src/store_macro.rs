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

        pub(crate) fn map_err(e: ::sqlx::Error) -> StoreError {
            if let ::sqlx::Error::Database(d) = &e {
                if d.is_unique_violation() {
                    return StoreError::Conflict($crate::classify_unique(d.constraint(), d.message()));
                }
                if d.is_foreign_key_violation() {
                    return StoreError::NotFound;
                }
                // PostgreSQL's deadlock and serialization failures: the transaction lost a race
                // and was rolled back; answered like a failed version check (SCIM retries it).
                if matches!(d.code().as_deref(), Some("40P01" | "40001")) {
                    return StoreError::VersionMismatch;
                }
            }
            if matches!(e, ::sqlx::Error::PoolTimedOut) {
                return StoreError::Busy(e.to_string());
            }
            StoreError::Other(e.to_string())
        }

        fn get<'r, T>(r: &'r DbRow, col: &str) -> StoreResult<T>
        where
            T: ::sqlx::Decode<'r, $db> + ::sqlx::Type<$db>,
        {
            r.try_get::<T, _>(col).map_err(map_err)
        }

        fn opt_uuid(s: Option<String>) -> StoreResult<Option<::uuid::Uuid>> {
            s.as_deref().map($crate::parse_uuid).transpose()
        }

        fn user_from_row(r: &DbRow) -> StoreResult<User> {
            Ok(User {
                id: get(r, "id")?,
                account_id: get(r, "account_id")?,
                email: get(r, "email")?,
                first_name: get(r, "first_name")?,
                last_name: get(r, "last_name")?,
                is_active: get(r, "is_active")?,
                is_account_owner: get(r, "is_account_owner")?,
                two_factor_enabled: get(r, "two_factor_enabled")?,
                language: get(r, "language")?,
                timezone: get(r, "timezone")?,
                phone: get(r, "phone")?,
                mobile: get(r, "mobile")?,
                country_call_code: get(r, "country_call_code")?,
                date_joined: $crate::parse_ts(&get::<String>(r, "date_joined")?)?,
                last_login: $crate::parse_opt_ts(get(r, "last_login")?)?,
                last_modified: $crate::parse_ts(&get::<String>(r, "last_modified")?)?,
                version: get(r, "version")?,
                provisioning: Provisioning {
                    idp_uuid: opt_uuid(get(r, "provisioned_by_idp")?)?,
                    external_id: get(r, "scim_external_id")?,
                },
                teams: Vec::new(),
                scim: get::<::sqlx::types::Json<::serde_json::Value>>(r, "scim_doc")?.0,
            })
        }

        fn team_from_row(r: &DbRow) -> StoreResult<Team> {
            Ok(Team {
                id: get(r, "id")?,
                account_id: get(r, "account_id")?,
                name: get(r, "name")?,
                is_active: get(r, "is_active")?,
                created: $crate::parse_ts(&get::<String>(r, "created")?)?,
                last_modified: $crate::parse_ts(&get::<String>(r, "last_modified")?)?,
                version: get(r, "version")?,
                provisioning: Provisioning {
                    idp_uuid: opt_uuid(get(r, "provisioned_by_idp")?)?,
                    external_id: get(r, "scim_external_id")?,
                },
                permissions: Vec::new(),
                scim: get::<::sqlx::types::Json<::serde_json::Value>>(r, "scim_doc")?.0,
            })
        }

        fn token_from_row(r: &DbRow) -> StoreResult<PersonalToken> {
            Ok(PersonalToken {
                uuid: $crate::parse_uuid(&get::<String>(r, "uuid")?)?,
                user_id: get(r, "user_id")?,
                account_id: get(r, "account_id")?,
                name: get(r, "name")?,
                description: get(r, "description")?,
                created: $crate::parse_ts(&get::<String>(r, "created")?)?,
                expires_at: $crate::parse_ts(&get::<String>(r, "expires_at")?)?,
                last_used_at: $crate::parse_opt_ts(get(r, "last_used_at")?)?,
                key_prefix: get(r, "key_prefix")?,
            })
        }

        fn account_from_row(r: &DbRow) -> StoreResult<Account> {
            Ok(Account {
                id: get(r, "id")?,
                name: get(r, "name")?,
                company_name: get(r, "company_name")?,
                is_active: get(r, "is_active")?,
                is_enabled_mfa_to_all_users: get(r, "is_enabled_mfa_to_all_users")?,
                created: $crate::parse_ts(&get::<String>(r, "created")?)?,
                last_modified: $crate::parse_ts(&get::<String>(r, "last_modified")?)?,
                version: get(r, "version")?,
            })
        }

        fn permission_from_row(r: &DbRow) -> StoreResult<Permission> {
            Ok(Permission { id: get(r, "id")?, name: get(r, "name")?, slug: get(r, "slug")?, group: get(r, "grp")? })
        }

        fn idp_from_row(r: &DbRow) -> StoreResult<IdentityProvider> {
            idp_from_prefixed(r, "")
        }

        /// An identity provider from columns named `{prefix}{column}`.
        fn idp_from_prefixed(r: &DbRow, prefix: &str) -> StoreResult<IdentityProvider> {
            let c = |name: &str| format!("{prefix}{name}");
            let s = |name: &str| -> StoreResult<String> { Ok(get::<Option<String>>(r, &c(name))?.unwrap_or_default()) };
            let protocol: String = get(r, &c("protocol"))?;
            let config = match Protocol::parse(&protocol) {
                Some(Protocol::Saml) => IdpConfig::Saml(SamlConfig {
                    sign_in_url: s("sign_in_url")?,
                    entity_id_url: s("entity_id_url")?,
                    certificate_pem: s("certificate_pem")?,
                    signature_algorithm: s("signature_algorithm")?,
                }),
                Some(Protocol::Oidc) => IdpConfig::Oidc(OidcConfig {
                    authorization_url: s("authorization_url")?,
                    userinfo_url: s("userinfo_url")?,
                    token_url: s("token_url")?,
                    client_id: s("client_id")?,
                    client_secret: ::roster_core::Sealed::from_stored(s("client_secret")?),
                    scopes: $crate::scopes_from_text(&s("scopes")?)?,
                    response_mode: s("response_mode")?,
                }),
                None => return Err(StoreError::Other(format!("unknown protocol {protocol:?} in the database"))),
            };
            Ok(IdentityProvider {
                uuid: $crate::parse_uuid(&get::<String>(r, &c("uuid"))?)?,
                account_id: get(r, &c("account_id"))?,
                name: get(r, &c("name"))?,
                is_active: get(r, &c("is_active"))?,
                scim_integration: get(r, &c("scim_integration"))?,
                created: $crate::parse_ts(&get::<String>(r, &c("created"))?)?,
                last_modified: $crate::parse_ts(&get::<String>(r, &c("last_modified"))?)?,
                version: get(r, &c("version"))?,
                config,
            })
        }

        /// The token with this key hash, with its user, whether the account is active, and (when
        /// `idp` is given) that identity provider of the user's account: one statement.
        pub(crate) async fn token_by_hash(
            pool: &::sqlx::Pool<$db>,
            hash: &[u8; 32],
            idp: Option<::uuid::Uuid>,
        ) -> StoreResult<Option<TokenWithUser>> {
            static SQL: ::std::sync::LazyLock<String> = ::std::sync::LazyLock::new(|| {
                let idp_cols: Vec<String> = $crate::idp_cols!()
                    .split(',')
                    .map(|c| format!("i.{0} AS idp__{0}", c.trim()))
                    .collect();
                format!(
                    "SELECT {}, t.uuid, t.user_id, t.name, t.description, t.created, t.expires_at, t.last_used_at, \
                     t.key_prefix, t.key_hash, a.is_active AS account_active, {} \
                     FROM personal_tokens t JOIN users u ON u.id = t.user_id JOIN accounts a ON a.id = u.account_id \
                     LEFT JOIN identity_providers i ON i.account_id = u.account_id AND i.uuid = $2 \
                     WHERE t.key_hash = $1",
                    $crate::user_cols!(),
                    idp_cols.join(", ")
                )
            });
            let row = ::sqlx::query(::sqlx::AssertSqlSafe(SQL.as_str()))
                .bind(::hex::encode(hash))
                .bind(idp.map(|u| u.to_string()))
                .fetch_optional(pool)
                .await
                .map_err(map_err)?;
            let Some(r) = row else { return Ok(None) };
            let mut key_hash = [0u8; 32];
            ::hex::decode_to_slice(get::<String>(&r, "key_hash")?, &mut key_hash)
                .map_err(|e| StoreError::Other(format!("bad key hash in the database: {e}")))?;
            let found_idp = match get::<Option<String>>(&r, "idp__uuid")? {
                Some(_) => Some(idp_from_prefixed(&r, "idp__")?),
                None => None,
            };
            Ok(Some(TokenWithUser {
                stored: StoredToken { token: token_from_row(&r)?, key_hash },
                user: user_from_row(&r)?,
                account_active: get(&r, "account_active")?,
                idp: found_idp,
            }))
        }

        /// Data steps that SQL alone cannot do, run once after the migrations (recorded in
        /// `roster_meta`): userName keys made before they were NFC get their NFC key. Only users
        /// with non-ASCII userNames can differ, so only those are read.
        pub(crate) async fn after_migrations(pool: &::sqlx::Pool<$db>) -> StoreResult<()> {
            const STEP: &str = "user_name_key_nfc";
            let done: Option<String> = ::sqlx::query_scalar("SELECT value FROM roster_meta WHERE key = $1")
                .bind(STEP)
                .fetch_optional(pool)
                .await
                .map_err(map_err)?;
            if done.is_some() {
                return Ok(());
            }
            let non_ascii = if $dialect == $crate::filter_sql::Dialect::Postgres {
                "SELECT id, email, email_folded FROM users WHERE email ~ '[^ -~]'"
            } else {
                "SELECT id, email, email_folded FROM users WHERE email GLOB '*[^ -~]*'"
            };
            let mut tx = pool.begin().await.map_err(map_err)?;
            let rows = ::sqlx::query(non_ascii).fetch_all(&mut *tx).await.map_err(map_err)?;
            for r in &rows {
                let email: String = get(r, "email")?;
                let old: String = get(r, "email_folded")?;
                let key = ::roster_core::validate::user_name_key(&email);
                if key != old {
                    ::sqlx::query("UPDATE users SET email_folded = $1 WHERE id = $2")
                        .bind(key)
                        .bind(get::<i64>(r, "id")?)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                }
            }
            ::sqlx::query("INSERT INTO roster_meta (key, value) VALUES ($1, 'done') ON CONFLICT DO NOTHING")
                .bind(STEP)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)
        }

        /// Begin a transaction in a task of its own, so that a caller cancelled half-way (a client
        /// hanging up) cannot leave the connection inside a transaction sqlx no longer counts:
        /// sqlx's begin is not cancel-safe, and such a connection, back in the pool, made later
        /// writes fail ("cannot execute INSERT in a read-only transaction").
        pub(crate) async fn begin_detached(
            pool: &::sqlx::Pool<$db>,
            statement: Option<&'static str>,
        ) -> StoreResult<::sqlx::Transaction<'static, $db>> {
            let pool = pool.clone();
            ::tokio::spawn(async move {
                match statement {
                    Some(s) => pool.begin_with(s).await,
                    None => pool.begin().await,
                }
            })
            .await
            .map_err(|e| StoreError::Other(format!("beginning a transaction: {e}")))?
            .map_err(map_err)
        }

        pub(crate) async fn touch_token<'e, E: ::sqlx::Executor<'e, Database = $db>>(
            pool: E,
            uuid: ::uuid::Uuid,
            at: ::chrono::DateTime<::chrono::Utc>,
        ) -> StoreResult<()> {
            ::sqlx::query("UPDATE personal_tokens SET last_used_at = $1 WHERE uuid = $2")
                .bind($crate::ts(&at))
                .bind(uuid.to_string())
                .execute(pool)
                .await
                .map_err(map_err)?;
            Ok(())
        }

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

            /// One page of a SCIM query on `users` (alias `u`) or `teams` (alias `t`): the rows and the total.
            async fn scim_page(
                &mut self,
                resource: Resource,
                scope: &::roster_core::store::ScimScope,
                q: &::roster_core::store::ScimQuery,
            ) -> StoreResult<(Vec<DbRow>, i64)> {
                let (table, cols, ctx) = match resource {
                    Resource::Users => ("users u", $crate::user_cols!(), ::roster_core::scim::user_ctx()),
                    Resource::Groups => ("teams t", concat!("t.", "id, t.account_id, t.name, t.is_active, t.created, t.last_modified, t.version, t.scim_external_id, t.provisioned_by_idp, t.scim_doc"), ::roster_core::scim::group_ctx()),
                };
                let alias = if resource == Resource::Users { "u" } else { "t" };
                // The caller's own user is never in SCIM's view.
                let caller = if resource == Resource::Users { scope.except_caller("u") } else { String::new() };
                let (cond, binds) = match &q.filter {
                    Some(f) => {
                        let c = $crate::filter_sql::compile(f, resource, ctx, $dialect, 1, 2, 3)
                            .map_err(StoreError::UnsupportedFilter)?;
                        (format!(" AND {}", c.sql), c.binds)
                    }
                    None => (String::new(), Vec::new()),
                };
                let mut n = 3 + binds.len();
                let after = match q.after_id {
                    Some(_) => {
                        let s = format!(" AND {alias}.id > ${n}");
                        n += 1;
                        s
                    }
                    None => String::new(),
                };
                let order = $crate::scim_order(resource, &q.sort, q.descending, $dialect)?;
                let page = format!(
                    "FROM {table} WHERE {alias}.account_id = $1 AND {alias}.provisioned_by_idp = $2{caller}{cond}{after} {order} LIMIT ${} OFFSET ${}",
                    n,
                    n + 1
                );
                // A deep page skips its offset over ids alone (a deferred join): the skipped rows'
                // documents are never read.
                let sql = if q.offset > 0 {
                    format!("SELECT {cols} FROM {table} WHERE {alias}.id IN (SELECT {alias}.id {page}) {order}")
                } else {
                    format!("SELECT {cols} {page}")
                };
                // Filter statements are prepared once on SQLite (literals are bound, so the common
                // lookups repeat their text). On PostgreSQL only the lookups are (a bounded set of
                // texts): the cache's evictions under many distinct filters broke binds in the
                // differential test.
                let persistent = $dialect == $crate::filter_sql::Dialect::Sqlite
                    || q.filter.as_ref().is_some_and($crate::filter_sql::is_lookup);
                let mut rq = ::sqlx::query(::sqlx::AssertSqlSafe(sql)).bind(scope.account).bind(scope.idp.to_string()).persistent(persistent);
                for b in &binds {
                    rq = match b {
                        Bind::Text(v) => rq.bind(v.clone()),
                        Bind::Int(v) => rq.bind(*v),
                    };
                }
                if let Some(a) = q.after_id {
                    rq = rq.bind(a);
                }
                let rows = rq.bind(q.limit).bind(q.offset).fetch_all(&mut *self.tx).await.map_err(map_err)?;
                // A first page that is not full holds every match: no need to count them.
                if q.after_id.is_none() && q.offset == 0 && (rows.len() as i64) < q.limit {
                    let total = rows.len() as i64;
                    return Ok((rows, total));
                }
                let count_sql = format!("SELECT COUNT(*) FROM {table} WHERE {alias}.account_id = $1 AND {alias}.provisioned_by_idp = $2{caller}{cond}");
                let mut cq = ::sqlx::query_scalar::<_, i64>(::sqlx::AssertSqlSafe(count_sql)).bind(scope.account).bind(scope.idp.to_string()).persistent(persistent);
                for b in &binds {
                    cq = match b {
                        Bind::Text(v) => cq.bind(v.clone()),
                        Bind::Int(v) => cq.bind(*v),
                    };
                }
                let total = cq.fetch_one(&mut *self.tx).await.map_err(map_err)?;
                Ok((rows, total))
            }

            /// Run `sql` (with `$1` = account, `$2` = team, `$3` = the scope's provider, then the ids)
            /// per chunk of ids; collect `user_id`s.
            async fn member_rows(&mut self, sql: &str, scope: &::roster_core::store::ScimScope, team: TeamId, ids: &[UserId]) -> StoreResult<Vec<UserId>> {
                let mut out = Vec::new();
                for chunk in ids.chunks(500) {
                    let full = sql.replace("{ids}", &$crate::placeholders(4, chunk.len()));
                    let mut q = ::sqlx::query_scalar::<_, i64>(::sqlx::AssertSqlSafe(full)).bind(scope.account).bind(team).bind(scope.idp.to_string());
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    out.extend(q.fetch_all(&mut *self.tx).await.map_err(map_err)?);
                }
                Ok(out)
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

            // ---- SCIM ----
            async fn scim_users(&mut self, scope: &::roster_core::store::ScimScope, q: &::roster_core::store::ScimQuery) -> StoreResult<Page<User>> {
                let (rows, total) = self.scim_page(Resource::Users, scope, q).await?;
                let mut items = rows.iter().map(user_from_row).collect::<StoreResult<Vec<_>>>()?;
                let ids: Vec<UserId> = items.iter().map(|u| u.id).collect();
                let mut teams = self.teams_of(&ids).await?;
                for u in &mut items {
                    u.teams = teams.remove(&u.id).unwrap_or_default();
                }
                Ok(Page { items, total })
            }

            async fn scim_teams(&mut self, scope: &::roster_core::store::ScimScope, q: &::roster_core::store::ScimQuery) -> StoreResult<Page<Team>> {
                let (rows, total) = self.scim_page(Resource::Groups, scope, q).await?;
                let items = rows.iter().map(team_from_row).collect::<StoreResult<Vec<_>>>()?;
                Ok(Page { items, total })
            }

            async fn team_members(
                &mut self,
                scope: &::roster_core::store::ScimScope,
                teams: &[TeamId],
            ) -> StoreResult<::std::collections::HashMap<TeamId, Vec<::roster_core::store::Member>>> {
                let mut out: ::std::collections::HashMap<TeamId, Vec<::roster_core::store::Member>> = Default::default();
                // A member's display is the one the client sent with it; without one, the user's
                // `displayName`, or its `userName` without that.
                let display = if $dialect == $crate::filter_sql::Dialect::Postgres {
                    "COALESCE(m.display, CASE WHEN jsonb_typeof(u.scim_doc -> 'displayName') = 'string' THEN u.scim_doc ->> 'displayName' END)"
                } else {
                    "COALESCE(m.display, CASE WHEN json_type(u.scim_doc, '$.displayName') = 'text' THEN json_extract(u.scim_doc, '$.displayName') END)"
                };
                for chunk in teams.chunks(500) {
                    let sql = format!(
                        "SELECT m.team_id, u.id, u.email, {display} AS display_name FROM team_members m \
                         JOIN users u ON u.id = m.user_id WHERE m.account_id = $1 AND u.provisioned_by_idp = $2{} \
                         AND m.team_id IN ({}) ORDER BY m.team_id, u.id",
                        scope.except_caller("u"),
                        $crate::placeholders(3, chunk.len())
                    );
                    let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(sql)).bind(scope.account).bind(scope.idp.to_string());
                    for t in chunk {
                        q = q.bind(*t);
                    }
                    for r in q.fetch_all(&mut *self.tx).await.map_err(map_err)? {
                        let display = match get::<Option<String>>(&r, "display_name")? {
                            Some(d) if !d.trim().is_empty() => d,
                            _ => get(&r, "email")?,
                        };
                        out.entry(get(&r, "team_id")?)
                            .or_default()
                            .push(::roster_core::store::Member { user_id: get(&r, "id")?, display });
                    }
                }
                Ok(out)
            }

            async fn add_team_members(
                &mut self,
                scope: &::roster_core::store::ScimScope,
                team: TeamId,
                members: &[(UserId, Option<String>)],
            ) -> StoreResult<Vec<UserId>> {
                let mut added = Vec::new();
                for chunk in members.chunks(400) {
                    // `VALUES` names its columns column1, column2 on both databases.
                    let values = (0..chunk.len())
                        .map(|i| format!("(${}, ${})", 4 + 2 * i, 5 + 2 * i))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sent: Vec<&(UserId, Option<String>)> = chunk.iter().filter(|(_, d)| d.is_some()).collect();
                    if !sent.is_empty() {
                        let sent_values = (0..sent.len())
                            .map(|i| format!("(${}, ${})", 4 + 2 * i, 5 + 2 * i))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let sql = format!(
                            "UPDATE team_members SET display = v.column2 FROM (VALUES {sent_values}) AS v \
                             WHERE team_members.account_id = $1 AND team_members.team_id = $2 AND team_members.user_id = v.column1 \
                             AND (team_members.display IS NULL OR team_members.display <> v.column2) \
                             AND EXISTS (SELECT 1 FROM users u WHERE u.id = team_members.user_id AND u.provisioned_by_idp = $3)"
                        );
                        let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(sql)).bind(scope.account).bind(team).bind(scope.idp.to_string());
                        for (id, display) in &sent {
                            q = q.bind(*id).bind(display.clone());
                        }
                        q.execute(&mut *self.tx).await.map_err(map_err)?;
                    }
                    let sql = format!(
                        "INSERT INTO team_members (account_id, team_id, user_id, display) \
                         SELECT $1, $2, u.id, v.column2 FROM (VALUES {values}) AS v JOIN users u ON u.id = v.column1 \
                         WHERE u.account_id = $1 AND u.provisioned_by_idp = $3{caller} \
                         ON CONFLICT DO NOTHING RETURNING user_id",
                        caller = scope.except_caller("u")
                    );
                    let mut q = ::sqlx::query_scalar::<_, i64>(::sqlx::AssertSqlSafe(sql)).bind(scope.account).bind(team).bind(scope.idp.to_string());
                    for (id, display) in chunk {
                        q = q.bind(*id).bind(display.clone());
                    }
                    added.extend(q.fetch_all(&mut *self.tx).await.map_err(map_err)?);
                }
                Ok(added)
            }

            async fn remove_team_members(&mut self, scope: &::roster_core::store::ScimScope, team: TeamId, users: &[UserId]) -> StoreResult<Vec<UserId>> {
                self.member_rows(
                    "DELETE FROM team_members WHERE account_id = $1 AND team_id = $2 AND user_id IN ({ids}) \
                     AND EXISTS (SELECT 1 FROM users u WHERE u.id = team_members.user_id AND u.provisioned_by_idp = $3) RETURNING user_id",
                    scope,
                    team,
                    users,
                )
                .await
            }

            async fn clear_team_members(&mut self, scope: &::roster_core::store::ScimScope, team: TeamId) -> StoreResult<Vec<UserId>> {
                ::sqlx::query_scalar(
                    "DELETE FROM team_members WHERE account_id = $1 AND team_id = $2 \
                     AND EXISTS (SELECT 1 FROM users u WHERE u.id = team_members.user_id AND u.provisioned_by_idp = $3) RETURNING user_id",
                )
                    .bind(scope.account)
                    .bind(team)
                    .bind(scope.idp.to_string())
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err(map_err)
            }

            async fn insert_log(&mut self, e: &::roster_core::store::LogEntry) -> StoreResult<()> {
                ::sqlx::query(
                    "INSERT INTO provisioning_log (account_id, idp_uuid, at, request_id, method, path, resource_type, \
                     resource_id, status, outcome, scim_type, detail, tolerances, changes) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(e.account_id)
                .bind(e.idp_uuid.to_string())
                .bind($crate::ts(&e.at))
                .bind(&e.request_id)
                .bind(&e.method)
                .bind(&e.path)
                .bind(&e.resource_type)
                .bind(&e.resource_id)
                .bind(e.status)
                .bind(&e.outcome)
                .bind(&e.scim_type)
                .bind(&e.detail)
                .bind(::serde_json::to_string(&e.tolerances).unwrap_or_else(|_| "[]".into()))
                .bind(e.changes.to_string())
                .execute(&mut *self.tx)
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn prune_log(
                &mut self,
                older_than: Option<::chrono::DateTime<::chrono::Utc>>,
                keep_per_idp: i64,
                batch: i64,
            ) -> StoreResult<u64> {
                if let Some(older_than) = older_than {
                    let old = ::sqlx::query(
                        "DELETE FROM provisioning_log WHERE id IN \
                         (SELECT id FROM provisioning_log WHERE at < $1 ORDER BY at LIMIT $2)",
                    )
                    .bind($crate::ts(&older_than))
                    .bind(batch)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                    if old > 0 {
                        return Ok(old);
                    }
                }
                // Past the size bound: per provider, everything older than its newest
                // `keep_per_idp` entries.
                let idps: Vec<(i64, String)> = ::sqlx::query_as(
                    "SELECT account_id, uuid FROM identity_providers ORDER BY account_id, uuid",
                )
                .fetch_all(&mut *self.tx)
                .await
                .map_err(map_err)?;
                for (account, idp) in idps {
                    let cutoff: Option<i64> = ::sqlx::query_scalar(
                        "SELECT id FROM provisioning_log WHERE account_id = $1 AND idp_uuid = $2 \
                         ORDER BY id DESC LIMIT 1 OFFSET $3",
                    )
                    .bind(account)
                    .bind(&idp)
                    .bind(keep_per_idp)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                    let Some(cutoff) = cutoff else { continue };
                    let n = ::sqlx::query(
                        "DELETE FROM provisioning_log WHERE id IN (SELECT id FROM provisioning_log \
                         WHERE account_id = $1 AND idp_uuid = $2 AND id <= $3 ORDER BY id LIMIT $4)",
                    )
                    .bind(account)
                    .bind(&idp)
                    .bind(cutoff)
                    .bind(batch)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                    if n > 0 {
                        return Ok(n);
                    }
                }
                Ok(0)
            }

            async fn list_log(
                &mut self,
                account: AccountId,
                idp: ::uuid::Uuid,
                offset: i64,
                limit: i64,
            ) -> StoreResult<Page<::roster_core::store::LogEntry>> {
                let total: i64 = ::sqlx::query_scalar("SELECT COUNT(*) FROM provisioning_log WHERE account_id = $1 AND idp_uuid = $2")
                    .bind(account)
                    .bind(idp.to_string())
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                let rows = ::sqlx::query(
                    "SELECT id, account_id, idp_uuid, at, request_id, method, path, resource_type, resource_id, status, \
                     outcome, scim_type, detail, tolerances, changes FROM provisioning_log \
                     WHERE account_id = $1 AND idp_uuid = $2 ORDER BY id DESC LIMIT $3 OFFSET $4",
                )
                .bind(account)
                .bind(idp.to_string())
                .bind(limit)
                .bind(offset)
                .fetch_all(&mut *self.tx)
                .await
                .map_err(map_err)?;
                let mut items = Vec::with_capacity(rows.len());
                for r in &rows {
                    let tolerances: String = get(r, "tolerances")?;
                    let changes: String = get(r, "changes")?;
                    items.push(::roster_core::store::LogEntry {
                        id: get(r, "id")?,
                        account_id: get(r, "account_id")?,
                        idp_uuid: $crate::parse_uuid(&get::<String>(r, "idp_uuid")?)?,
                        at: $crate::parse_ts(&get::<String>(r, "at")?)?,
                        request_id: get(r, "request_id")?,
                        method: get(r, "method")?,
                        path: get(r, "path")?,
                        resource_type: get(r, "resource_type")?,
                        resource_id: get(r, "resource_id")?,
                        status: get(r, "status")?,
                        outcome: get(r, "outcome")?,
                        scim_type: get(r, "scim_type")?,
                        detail: get(r, "detail")?,
                        tolerances: ::serde_json::from_str(&tolerances).unwrap_or_default(),
                        changes: ::serde_json::from_str(&changes).unwrap_or(::serde_json::Value::Null),
                    });
                }
                Ok(Page { items, total })
            }
        }
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
