//! What the store needs besides its transaction type: error mapping, row mappers, the token
//! lookup on the hot path, the one-off data steps after migrations, detached transactions.
//! Expanded by [`sql_store_tx!`](crate::sql_store_tx), in the backend crate.

#[macro_export]
#[doc(hidden)]
macro_rules! sql_store_support {
    ($db:ty, $dialect:expr) => {
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
    };
}
