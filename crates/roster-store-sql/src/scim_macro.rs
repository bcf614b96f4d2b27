//! The SCIM part of the store: pages of a provider's users and teams (filters compiled to SQL),
//! member rows, and the provisioning log, as inherent methods of the transaction type that its
//! `Tx` impl forwards to (inherent methods win over the trait's in `Self::` paths). Expanded by
//! [`sql_store_tx!`](crate::sql_store_tx), in the backend crate.

#[macro_export]
#[doc(hidden)]
macro_rules! sql_store_scim {
    ($db:ty, $tx:ident, $dialect:expr) => {
        impl $tx {
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
                let caller = if resource == Resource::Users { $crate::except_caller(scope, "u") } else { String::new() };
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
                        $crate::except_caller(scope, "u"),
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
                        caller = $crate::except_caller(scope, "u")
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
