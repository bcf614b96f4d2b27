//! Users, their e-mail index rows and team memberships, and the IAM listings' one query.

use super::scim::display_name_sql;
use super::{SqlTx, accounts::no_row, few_kept, found};
use crate::db::{Db, SqlRow};
use crate::rows::{self, USER_COLS};
use crate::sql::{Arg, Sql, values_rows};
use crate::{Listing, contains_pattern, email_rows, order_by, search_doc, user_search_text};
use roster_core::model::*;
use roster_core::store::{ListParams, NewUser, Page, StoreResult, UserFilter};
use roster_core::validate::user_name_key;
use std::collections::HashMap;

/// One IAM listing: the table, the columns to read, equality conditions, and the column the free
/// text search matches.
pub(super) struct ListQuery<'a> {
    pub from: &'a str,
    pub cols: &'a str,
    pub eq: Vec<(&'a str, Arg)>,
    /// Columns that must be NULL.
    pub null: Vec<&'a str>,
    /// Only members of this team (users).
    pub team: Option<TeamId>,
    pub search_col: &'a str,
    pub listing: Listing,
}

/// The columns of `users` that [`user_columns`] fills, in its order.
const USER_WRITTEN: &str = "email, email_folded, first_name, last_name, search_text, is_active, \
    is_account_owner, two_factor_enabled, language, timezone, phone, mobile, country_call_code, \
    last_login, last_modified, scim_external_id, provisioned_by_idp, scim_doc, scim_folded";

/// What an insert and an update both write, in [`USER_WRITTEN`] order (taken by value: the
/// arguments own their text).
fn user_columns(u: NewUser) -> Vec<Arg> {
    let folded = user_name_key(&u.email);
    let search = user_search_text(&u.email, &u.first_name, &u.last_name);
    let doc_folded = search_doc(&u.scim, roster_core::scim::user_ctx());
    vec![
        u.email.into(),
        folded.into(),
        u.first_name.into(),
        u.last_name.into(),
        search.into(),
        u.is_active.into(),
        u.is_account_owner.into(),
        u.two_factor_enabled.into(),
        u.language.into(),
        u.timezone.into(),
        u.phone.into(),
        u.mobile.into(),
        u.country_call_code.into(),
        u.last_login.into(),
        u.last_modified.into(),
        u.provisioning.external_id.into(),
        u.provisioning.idp_uuid.into(),
        u.scim.into(),
        doc_folded.into(),
    ]
}

impl<D: Db> SqlTx<D> {
    /// A page of an IAM listing and how many rows match in all.
    pub(super) async fn list_rows(
        &mut self,
        l: ListQuery<'_>,
        p: &ListParams,
    ) -> StoreResult<(Vec<D::Row>, i64)> {
        let conditions = |s: &mut Sql| {
            let mut first = true;
            for (col, v) in &l.eq {
                s.push(if first { " WHERE " } else { " AND " })
                    .push(col)
                    .push(" = ")
                    .arg(v.clone());
                first = false;
            }
            for col in &l.null {
                s.push(if first { " WHERE " } else { " AND " })
                    .push(col)
                    .push(" IS NULL");
                first = false;
            }
            if let Some(team) = l.team {
                s.push(if first { " WHERE " } else { " AND " })
                    .push("u.id IN (SELECT tm.user_id FROM team_members tm WHERE tm.team_id = ")
                    .arg(team)
                    .push(")");
                first = false;
            }
            if let Some(needle) = &p.search {
                s.push(if first { " WHERE " } else { " AND " })
                    .push(l.search_col)
                    .push(" LIKE ")
                    .arg(contains_pattern(needle))
                    .push(" ESCAPE '\\'");
            }
        };
        let mut count = self.build();
        count.push("SELECT COUNT(*) AS n FROM ").push(l.from);
        conditions(&mut count);
        let total = self.count(count).await?;
        let mut page = self.build();
        page.push("SELECT ")
            .push(l.cols)
            .push(" FROM ")
            .push(l.from);
        conditions(&mut page);
        page.push(" ")
            .push(&order_by(l.listing, p.sort, p.descending))
            // An integer in the text, not a bind: see the SCIM page query.
            .push(&format!(" LIMIT {} OFFSET ", p.limit))
            .arg(p.offset);
        Ok((self.db.rows(page).await?, total))
    }

    /// Teams of each user in `ids`, by user id.
    pub(super) async fn teams_of(
        &mut self,
        ids: &[UserId],
    ) -> StoreResult<HashMap<UserId, Vec<TeamRef>>> {
        let mut out: HashMap<UserId, Vec<TeamRef>> = HashMap::new();
        for chunk in ids.chunks(500) {
            let mut q = self.build();
            q.push(
                "SELECT m.user_id, t.id, t.scim_id, t.name, t.is_active, t.provisioned_by_idp \
                 FROM team_members m JOIN teams t ON t.id = m.team_id WHERE m.user_id IN (",
            )
            .list(chunk.iter().copied())
            .push(") ORDER BY t.name_folded, t.id");
            for r in self.db.rows(few_kept(q, chunk.len())).await? {
                out.entry(UserId(r.i64("user_id")?))
                    .or_default()
                    .push(TeamRef {
                        id: TeamId(r.i64("id")?),
                        scim_id: r.opt_uuid("scim_id")?,
                        name: r.text("name")?,
                        is_active: r.bool("is_active")?,
                        provisioned_by: r.opt_uuid("provisioned_by_idp")?,
                    });
            }
        }
        Ok(out)
    }

    /// Users from rows, with their teams.
    pub(super) async fn users_with_teams(&mut self, rows: &[D::Row]) -> StoreResult<Vec<User>> {
        let mut users = rows
            .iter()
            .map(rows::user)
            .collect::<StoreResult<Vec<_>>>()?;
        let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        let mut teams = self.teams_of(&ids).await?;
        for u in &mut users {
            u.teams = teams.remove(&u.id).unwrap_or_default();
        }
        Ok(users)
    }

    async fn one_user(&mut self, q: Sql) -> StoreResult<Option<User>> {
        let rows = self.db.rows(q).await?;
        Ok(self.users_with_teams(&rows).await?.into_iter().next())
    }

    /// Replace the user's rows in `user_emails` with those of `doc` (`fresh`: a new user, who has
    /// none yet). One statement per 500 addresses.
    async fn write_emails(
        &mut self,
        account: AccountId,
        user: UserId,
        doc: &serde_json::Value,
        fresh: bool,
    ) -> StoreResult<()> {
        if !fresh {
            let q = self.sql(
                "DELETE FROM user_emails WHERE user_id = $1",
                vec![user.into()],
            );
            self.db.exec(q).await?;
        }
        let rows = email_rows(doc);
        for (c, chunk) in rows.chunks(500).enumerate() {
            let mut q = self.build();
            q.push(
                "INSERT INTO user_emails (account_id, user_id, position, value_folded, type_folded, \
                 is_primary) VALUES ",
            );
            values_rows(
                &mut q,
                chunk.iter().enumerate().map(|(i, e)| {
                    [
                        account.into(),
                        user.into(),
                        ((c * 500 + i) as i64).into(),
                        e.value.clone().into(),
                        e.kind.clone().into(),
                        e.primary.into(),
                    ]
                }),
            );
            self.db.exec(few_kept(q, chunk.len())).await?;
        }
        Ok(())
    }

    pub async fn insert_user(&mut self, u: &NewUser) -> StoreResult<UserId> {
        let mut args = vec![u.account_id.into(), u.date_joined.into()];
        args.extend(user_columns(u.clone()));
        // `scim_id` is named only when there is one: upgrade tests write users as they were
        // before opaque SCIM ids, into schemas that have no such column.
        let (col, val) = match u.scim_id {
            Some(id) => {
                args.push(id.into());
                (", scim_id", ", $22")
            }
            None => ("", ""),
        };
        let q = self.sql(
            &format!(
                "INSERT INTO users (account_id, date_joined, version, {USER_WRITTEN}{col}) \
                 VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18, $19, $20, $21{val}) RETURNING id"
            ),
            args,
        );
        let r = self
            .db
            .row(q)
            .await?
            .ok_or_else(|| no_row("INSERT INTO users"))?;
        let id = UserId(r.i64("id")?);
        self.write_emails(u.account_id, id, &u.scim, true).await?;
        Ok(id)
    }

    pub async fn user(&mut self, account: AccountId, id: UserId) -> StoreResult<Option<User>> {
        let q = self.locked(
            &format!("SELECT {USER_COLS} FROM users u WHERE u.account_id = $1 AND u.id = $2"),
            vec![account.into(), id.into()],
        );
        self.one_user(q).await
    }

    /// The account's user SCIM knows as `r` (a legacy integer names only a user that has no
    /// opaque SCIM id).
    pub async fn scim_user(&mut self, account: AccountId, r: ScimRef) -> StoreResult<Option<User>> {
        let q = match r {
            ScimRef::Id(id) => self.locked(
                &format!(
                    "SELECT {USER_COLS} FROM users u WHERE u.account_id = $1 AND u.scim_id = $2"
                ),
                vec![account.into(), id.into()],
            ),
            ScimRef::Legacy(n) => self.locked(
                &format!(
                    "SELECT {USER_COLS} FROM users u WHERE u.account_id = $1 AND u.id = $2 \
                     AND u.scim_id IS NULL"
                ),
                vec![account.into(), n.into()],
            ),
        };
        self.one_user(q).await
    }

    /// The account's users among `refs`, each with the ref that named it (one statement per 500
    /// refs of each kind). Each statement is found through its own index (the SCIM id's, the
    /// primary key); `+u.account_id` keeps the planner off the account's index, which would scan
    /// every user of a large account (SQLite takes an equality on it for a handful of rows).
    pub async fn resolve_users(
        &mut self,
        account: AccountId,
        refs: &[ScimRef],
    ) -> StoreResult<Vec<(ScimRef, UserId)>> {
        let ids: Vec<uuid::Uuid> = refs
            .iter()
            .filter_map(|r| match r {
                ScimRef::Id(u) => Some(*u),
                ScimRef::Legacy(_) => None,
            })
            .collect();
        let legacy: Vec<i64> = refs
            .iter()
            .filter_map(|r| match r {
                ScimRef::Legacy(n) => Some(*n),
                ScimRef::Id(_) => None,
            })
            .collect();
        let mut out = Vec::with_capacity(refs.len());
        for chunk in ids.chunks(500) {
            let mut q = self.build();
            q.push("SELECT u.id, u.scim_id FROM users u WHERE u.scim_id IN (")
                .list(chunk.iter().copied())
                .push(") AND +u.account_id = ")
                .arg(account);
            for r in self.db.rows(few_kept(q, chunk.len())).await? {
                let id = r.i64("id")?;
                out.push((ScimRef::of(id, r.opt_uuid("scim_id")?), UserId(id)));
            }
        }
        for chunk in legacy.chunks(500) {
            let mut q = self.build();
            q.push("SELECT u.id FROM users u WHERE u.id IN (")
                .list(chunk.iter().copied())
                .push(") AND u.scim_id IS NULL AND +u.account_id = ")
                .arg(account);
            for r in self.db.rows(few_kept(q, chunk.len())).await? {
                let id = r.i64("id")?;
                out.push((ScimRef::Legacy(id), UserId(id)));
            }
        }
        Ok(out)
    }

    pub async fn user_by_email(
        &mut self,
        account: AccountId,
        email: &str,
    ) -> StoreResult<Option<User>> {
        let q = self.sql(
            &format!(
                "SELECT {USER_COLS} FROM users u WHERE u.account_id = $1 AND u.email_folded = $2"
            ),
            vec![account.into(), user_name_key(email).into()],
        );
        self.one_user(q).await
    }

    pub async fn list_users(
        &mut self,
        account: AccountId,
        p: &ListParams,
    ) -> StoreResult<Page<User>> {
        self.find_users(account, p, &UserFilter::default()).await
    }

    pub async fn find_users(
        &mut self,
        account: AccountId,
        p: &ListParams,
        f: &UserFilter,
    ) -> StoreResult<Page<User>> {
        let mut eq: Vec<(&str, Arg)> = vec![("u.account_id", account.into())];
        let mut null = Vec::new();
        if let Some(a) = f.active {
            eq.push(("u.is_active", a.into()));
        }
        match f.idp {
            Some(Some(idp)) => eq.push(("u.provisioned_by_idp", idp.into())),
            Some(None) => null.push("u.provisioned_by_idp"),
            None => {}
        }
        let l = ListQuery {
            from: "users u",
            cols: USER_COLS,
            eq,
            null,
            team: f.team,
            search_col: "u.search_text",
            listing: Listing::Users,
        };
        let (rows, total) = self.list_rows(l, p).await?;
        let items = self.users_with_teams(&rows).await?;
        Ok(Page { items, total })
    }

    pub async fn update_user(&mut self, u: &User, expected_version: i64) -> StoreResult<()> {
        self.stale.user(u.id);
        self.rename_member_displays(u).await?;
        let mut args = vec![u.account_id.into(), u.id.into(), expected_version.into()];
        args.extend(user_columns(u.clone().into()));
        let q = self.sql(
            "UPDATE users SET version = version + 1, email = $4, email_folded = $5, \
             first_name = $6, last_name = $7, search_text = $8, is_active = $9, \
             is_account_owner = $10, two_factor_enabled = $11, language = $12, timezone = $13, \
             phone = $14, mobile = $15, country_call_code = $16, last_login = $17, \
             last_modified = $18, \
             scim_external_id = $19, provisioned_by_idp = $20, scim_doc = $21, scim_folded = $22 \
             WHERE account_id = $1 AND id = $2 AND version = $3",
            args,
        );
        if self.db.exec(q).await? == 0 {
            let exists = self.sql(
                "SELECT 1 AS n FROM users WHERE account_id = $1 AND id = $2",
                vec![u.account_id.into(), u.id.into()],
            );
            return Err(self.missing_or_stale(exists).await);
        }
        if !u.is_active {
            // A deactivated user's console sessions end, whichever front end deactivated it
            // (they would otherwise come back with a reactivation).
            self.delete_user_sessions(u.account_id, u.id).await?;
        }
        self.write_emails(u.account_id, u.id, &u.scim, false).await
    }

    /// A member display a client sent that was the user's name (Okta sends the name it knows)
    /// follows the user's rename, so every group shows the new name at once. A display that was
    /// something else stays as sent. Runs before the user's row changes, whose old name it reads.
    async fn rename_member_displays(&mut self, u: &User) -> StoreResult<()> {
        let new = u
            .scim
            .get("displayName")
            .and_then(serde_json::Value::as_str)
            .filter(|d| !d.trim().is_empty())
            .unwrap_or(&u.email)
            .to_string();
        let old = display_name_sql(self.dialect(), "o");
        let q = self.sql(
            &format!(
                "UPDATE team_members SET display = $3, display_folded = $4 WHERE user_id = $2 \
                 AND display <> $3 AND display = (SELECT COALESCE({old}, o.email) FROM users o \
                 WHERE o.account_id = $1 AND o.id = $2)"
            ),
            vec![
                u.account_id.into(),
                u.id.into(),
                new.clone().into(),
                roster_core::validate::fold(&new).into(),
            ],
        );
        self.db.exec(q).await?;
        Ok(())
    }

    pub async fn delete_user(&mut self, account: AccountId, id: UserId) -> StoreResult<()> {
        self.stale.user(id);
        let q = self.sql(
            "DELETE FROM users WHERE account_id = $1 AND id = $2",
            vec![account.into(), id.into()],
        );
        found(self.db.exec(q).await?)
    }

    pub async fn set_user_teams(
        &mut self,
        account: AccountId,
        user: UserId,
        teams: &[TeamId],
    ) -> StoreResult<()> {
        self.stale.user(user);
        let q = self.sql(
            "DELETE FROM team_members WHERE account_id = $1 AND user_id = $2",
            vec![account.into(), user.into()],
        );
        self.db.exec(q).await?;
        for t in teams {
            let q = self.sql(
                "INSERT INTO team_members (account_id, team_id, user_id) \
                 SELECT $1, t.id, $3 FROM teams t WHERE t.account_id = $1 AND t.id = $2 \
                 ON CONFLICT DO NOTHING",
                vec![account.into(), (*t).into(), user.into()],
            );
            self.db.exec(q).await?;
        }
        Ok(())
    }

    pub async fn active_owner_count(&mut self, account: AccountId) -> StoreResult<i64> {
        let q = self.sql(
            "SELECT COUNT(*) AS n FROM users WHERE account_id = $1 AND is_account_owner AND is_active",
            vec![account.into()],
        );
        self.count(q).await
    }

    pub async fn user_permission_slugs(
        &mut self,
        account: AccountId,
        user: UserId,
    ) -> StoreResult<Vec<String>> {
        let q = self.sql(
            "SELECT DISTINCT p.slug FROM team_members m JOIN teams t ON t.id = m.team_id \
             JOIN team_permissions tp ON tp.team_id = t.id JOIN permissions p ON p.id = tp.permission_id \
             WHERE m.account_id = $1 AND m.user_id = $2 AND t.is_active ORDER BY p.slug",
            vec![account.into(), user.into()],
        );
        self.db
            .rows(q)
            .await?
            .iter()
            .map(|r| r.text("slug"))
            .collect()
    }
}
