//! What SCIM reads and writes: pages of a provider's users and teams (filters compiled to SQL)
//! and member rows. Everything stays inside one provider's scope.

use super::{SqlTx, few_kept};
use crate::db::{Db, SqlRow};
use crate::filter_sql::{self, Resource};
use crate::rows::{self, TEAM_COLS, USER_COLS};
use crate::sql::{Dialect, Sql, values_rows};
use crate::{except_caller, scim_order};
use roster_core::model::*;
use roster_core::store::{
    Member, MemberStatus, Page, ScimQuery, ScimScope, ScimSort, StoreError, StoreResult,
};
use std::collections::HashMap;

impl<D: Db> SqlTx<D> {
    /// `WHERE` for the scope's rows of `resource` matching the query's filter.
    fn scim_where(
        &self,
        s: &mut Sql,
        resource: Resource,
        scope: &ScimScope,
        q: &ScimQuery,
    ) -> StoreResult<()> {
        let (alias, ctx) = match resource {
            Resource::Users => ("u", roster_core::scim::user_ctx()),
            Resource::Groups => ("t", roster_core::scim::group_ctx()),
        };
        let a = s.bind(scope.account);
        let o = s.bind(scope.idp);
        s.push(&format!(
            " WHERE {alias}.account_id = {a} AND {alias}.provisioned_by_idp = {o}"
        ));
        // The caller's own user is never in SCIM's view.
        if resource == Resource::Users {
            s.push(&except_caller(scope, "u"));
        }
        if let Some(f) = &q.filter {
            let cond = filter_sql::compile(f, resource, ctx, s, &a, &o, q.base.as_deref())
                .map_err(StoreError::UnsupportedFilter)?;
            s.push(" AND ").push(&cond);
        }
        Ok(())
    }

    /// One page of a SCIM query, and how many rows match in all.
    async fn scim_page(
        &mut self,
        resource: Resource,
        scope: &ScimScope,
        q: &ScimQuery,
    ) -> StoreResult<(Vec<D::Row>, i64)> {
        let (table, cols, alias) = match resource {
            Resource::Users => ("users u", USER_COLS, "u"),
            Resource::Groups => ("teams t", TEAM_COLS, "t"),
        };
        let order = scim_order(resource, &q.sort, q.descending, self.dialect())?;
        // Filter texts are unbounded; on PostgreSQL only the identity providers' lookups (a
        // handful of texts) stay prepared. SQLite caches what it prepares.
        let keep = self.dialect() == Dialect::Sqlite
            || q.filter.as_ref().is_some_and(filter_sql::is_lookup);
        let mut page = self.build();
        // A deep page skips its offset over ids alone (a deferred join): the skipped rows'
        // documents are never read.
        if q.offset > 0 {
            page.push(&format!(
                "SELECT {cols} FROM {table} WHERE {alias}.id IN (SELECT {alias}.id FROM {table}"
            ));
        } else {
            page.push(&format!("SELECT {cols} FROM {table}"));
        }
        self.scim_where(&mut page, resource, scope, q)?;
        if let Some(after) = q.after_id {
            page.push(&format!(" AND {alias}.id > ")).arg(after);
        }
        // The page size is written into the text, not bound: SQLite re-prepares a cached
        // statement whose LIMIT is a parameter on every run (its planner reads the value),
        // which measured as a fifth of a filtered GET. It is an integer, never user text.
        page.push(" ")
            .push(&order)
            .push(&format!(" LIMIT {} OFFSET ", q.limit))
            .arg(q.offset);
        if q.offset > 0 {
            page.push(") ").push(&order);
        }
        if !keep {
            page = page.one_off();
        }
        let rows = self.db.rows(page).await?;
        // A first page that is not full holds every match: no need to count them.
        if q.after_id.is_none() && q.offset == 0 && (rows.len() as i64) < q.limit {
            let total = rows.len() as i64;
            return Ok((rows, total));
        }
        let mut count = self.build();
        count.push(&format!("SELECT COUNT(*) AS n FROM {table}"));
        self.scim_where(&mut count, resource, scope, q)?;
        if !keep {
            count = count.one_off();
        }
        let total = self.count(count).await?;
        Ok((rows, total))
    }

    pub async fn scim_users(
        &mut self,
        scope: &ScimScope,
        q: &ScimQuery,
    ) -> StoreResult<Page<User>> {
        if is_first_lookup_page(q) {
            return self.scim_user_lookup(scope, q).await;
        }
        let (rows, total) = self.scim_page(Resource::Users, scope, q).await?;
        let items = self.users_with_teams(&rows).await?;
        Ok(Page { items, total })
    }

    /// The first page of an identity provider's lookup (`userName eq`, `externalId eq`, ...: a
    /// user or a handful), with each user's teams, in one statement instead of two: on
    /// PostgreSQL every statement is a round trip, and this is the request Entra makes before
    /// every create. The users are chosen as a page would choose them; the teams are joined to
    /// them, one row per team, in the order `teams_of` gives.
    async fn scim_user_lookup(
        &mut self,
        scope: &ScimScope,
        q: &ScimQuery,
    ) -> StoreResult<Page<User>> {
        let mut s = self.build();
        s.push(&format!(
            "SELECT {USER_COLS}, t.id AS team__id, t.scim_id AS team__scim_id, \
             t.name AS team__name, \
             t.is_active AS team__is_active, t.provisioned_by_idp AS team__idp \
             FROM users u LEFT JOIN team_members m ON m.user_id = u.id \
             LEFT JOIN teams t ON t.id = m.team_id \
             WHERE u.id IN (SELECT u.id FROM users u"
        ));
        self.scim_where(&mut s, Resource::Users, scope, q)?;
        // An integer in the text, not a bind: see `scim_page`.
        s.push(&format!(
            " ORDER BY u.id LIMIT {}) ORDER BY u.id, t.name_folded, t.id",
            q.limit
        ));
        let mut items: Vec<User> = Vec::new();
        for r in self.db.rows(s).await? {
            let id = UserId(r.i64("id")?);
            if items.last().is_none_or(|u| u.id != id) {
                items.push(rows::user(&r)?);
            }
            if let (Some(team), Some(u)) = (r.opt_i64("team__id")?, items.last_mut()) {
                u.teams.push(TeamRef {
                    id: TeamId(team),
                    scim_id: r.opt_uuid("team__scim_id")?,
                    name: r.text("team__name")?,
                    is_active: r.bool("team__is_active")?,
                    provisioned_by: r.opt_uuid("team__idp")?,
                });
            }
        }
        let total = if (items.len() as i64) < q.limit {
            items.len() as i64
        } else {
            let mut count = self.build();
            count.push("SELECT COUNT(*) AS n FROM users u");
            self.scim_where(&mut count, Resource::Users, scope, q)?;
            self.count(count).await?
        };
        Ok(Page { items, total })
    }

    pub async fn scim_teams(
        &mut self,
        scope: &ScimScope,
        q: &ScimQuery,
    ) -> StoreResult<Page<Team>> {
        let (rows, total) = self.scim_page(Resource::Groups, scope, q).await?;
        let items = rows
            .iter()
            .map(rows::team)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page { items, total })
    }

    pub async fn team_members(
        &mut self,
        scope: &ScimScope,
        teams: &[TeamId],
    ) -> StoreResult<HashMap<TeamId, Vec<Member>>> {
        let mut out: HashMap<TeamId, Vec<Member>> = HashMap::new();
        // A member's display is the one the client sent with it (kept in step with its user's
        // name: see `update_user`); without one, the user's `displayName`.
        let display = format!(
            "COALESCE(m.display, {})",
            display_name_sql(self.dialect(), "u")
        );
        for chunk in teams.chunks(500) {
            let mut q = self.build();
            q.push(&format!(
                "SELECT m.team_id, u.id, u.scim_id, u.email, {display} AS display_name \
                 FROM team_members m \
                 JOIN users u ON u.id = m.user_id WHERE m.account_id = "
            ))
            .arg(scope.account)
            .push(" AND u.provisioned_by_idp = ")
            .arg(scope.idp)
            .push(&except_caller(scope, "u"))
            .push(" AND m.team_id IN (")
            .list(chunk.iter().copied())
            .push(") ORDER BY m.team_id, u.id");
            for r in self.db.rows(q).await? {
                let display = match r.opt_text("display_name")? {
                    Some(d) if !d.trim().is_empty() => d,
                    _ => r.text("email")?,
                };
                out.entry(TeamId(r.i64("team_id")?))
                    .or_default()
                    .push(Member {
                        user_id: UserId(r.i64("id")?),
                        scim_id: r.opt_uuid("scim_id")?,
                        display,
                    });
            }
        }
        Ok(out)
    }

    pub async fn member_status(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
        users: &[UserId],
    ) -> StoreResult<Vec<(UserId, MemberStatus)>> {
        let mut out = Vec::new();
        for chunk in users.chunks(400) {
            let mut q = self.build();
            let (a, t) = (q.bind(scope.account), q.bind(team));
            q.push(&format!(
                "SELECT v.column1 AS id, u.id AS found, u.provisioned_by_idp AS idp, \
                 EXISTS (SELECT 1 FROM team_members m WHERE m.team_id = {t} \
                 AND m.user_id = v.column1) AS member FROM (VALUES "
            ));
            values_rows(&mut q, chunk.iter().map(|id| [(*id).into()]));
            q.push(&format!(
                ") AS v LEFT JOIN users u ON u.id = v.column1 AND u.account_id = {a}"
            ));
            for r in self.db.rows(q.one_off()).await? {
                let id = UserId(r.i64("id")?);
                let status = if r.bool("member")? {
                    MemberStatus::Member
                } else if r.opt_i64("found")?.is_none() {
                    MemberStatus::NoSuchUser
                } else if scope.caller == Some(id) {
                    MemberStatus::Caller
                } else {
                    match r.opt_uuid("idp")? {
                        None => MemberStatus::HandMade,
                        Some(_) => MemberStatus::OtherProvider,
                    }
                };
                out.push((id, status));
            }
        }
        Ok(out)
    }

    pub async fn add_team_members(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
        members: &[(UserId, Option<String>)],
    ) -> StoreResult<Vec<UserId>> {
        let mut added = Vec::new();
        for chunk in members.chunks(400) {
            // `VALUES` names its columns column1, column2 on both databases.
            let sent: Vec<&(UserId, Option<String>)> =
                chunk.iter().filter(|(_, d)| d.is_some()).collect();
            if !sent.is_empty() {
                let mut q = self.build();
                let (a, t, o) = (q.bind(scope.account), q.bind(team), q.bind(scope.idp));
                q.push(
                    "UPDATE team_members SET display = v.column2, display_folded = v.column3 \
                     FROM (VALUES ",
                );
                values_rows(
                    &mut q,
                    sent.iter()
                        .map(|(id, d)| [(*id).into(), d.clone().into(), folded(d).into()]),
                );
                q.push(&format!(
                    ") AS v WHERE team_members.account_id = {a} AND team_members.team_id = {t} \
                     AND team_members.user_id = v.column1 \
                     AND (team_members.display IS NULL OR team_members.display <> v.column2) \
                     AND EXISTS (SELECT 1 FROM users u WHERE u.id = team_members.user_id \
                     AND u.provisioned_by_idp = {o})"
                ));
                self.db.exec(few_kept(q, sent.len())).await?;
            }
            let mut q = self.build();
            let (a, t, o) = (q.bind(scope.account), q.bind(team), q.bind(scope.idp));
            q.push(&format!(
                "INSERT INTO team_members (account_id, team_id, user_id, display, display_folded) \
                 SELECT {a}, {t}, u.id, v.column2, v.column3 FROM (VALUES "
            ));
            values_rows(
                &mut q,
                chunk
                    .iter()
                    .map(|(id, d)| [(*id).into(), d.clone().into(), folded(d).into()]),
            );
            q.push(&format!(
                ") AS v JOIN users u ON u.id = v.column1 WHERE u.account_id = {a} \
                 AND u.provisioned_by_idp = {o}{} ON CONFLICT DO NOTHING RETURNING user_id",
                except_caller(scope, "u")
            ));
            let rows = self.db.rows(few_kept(q, chunk.len())).await?;
            for r in rows {
                added.push(UserId(r.i64("user_id")?));
            }
        }
        self.stale.users(added.iter().copied());
        Ok(added)
    }

    pub async fn remove_team_members(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
        users: &[UserId],
    ) -> StoreResult<Vec<UserId>> {
        let mut out = Vec::new();
        for chunk in users.chunks(500) {
            let mut q = self.build();
            let (a, t, o) = (q.bind(scope.account), q.bind(team), q.bind(scope.idp));
            q.push(&format!(
                "DELETE FROM team_members WHERE account_id = {a} AND team_id = {t} AND user_id IN ("
            ))
            .list(chunk.iter().copied())
            .push(&format!(
                ") AND EXISTS (SELECT 1 FROM users u WHERE u.id = team_members.user_id \
                 AND u.provisioned_by_idp = {o}) RETURNING user_id"
            ));
            for r in self.db.rows(few_kept(q, chunk.len())).await? {
                out.push(UserId(r.i64("user_id")?));
            }
        }
        self.stale.users(out.iter().copied());
        Ok(out)
    }

    pub async fn clear_team_members(
        &mut self,
        scope: &ScimScope,
        team: TeamId,
    ) -> StoreResult<Vec<(UserId, ScimRef)>> {
        let q = self.sql(
            "DELETE FROM team_members WHERE account_id = $1 AND team_id = $2 \
             AND EXISTS (SELECT 1 FROM users u WHERE u.id = team_members.user_id \
             AND u.provisioned_by_idp = $3) RETURNING user_id, \
             (SELECT u.scim_id FROM users u WHERE u.id = team_members.user_id) AS scim_id",
            vec![scope.account.into(), team.into(), scope.idp.into()],
        );
        let removed = self
            .db
            .rows(q)
            .await?
            .iter()
            .map(|r| {
                let id = r.i64("user_id")?;
                Ok((UserId(id), ScimRef::of(id, r.opt_uuid("scim_id")?)))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.stale.users(removed.iter().map(|(u, _)| *u));
        Ok(removed)
    }
}

/// A first page, in id order, of a query only the identity providers' lookups make: a user or a
/// handful, found through an index.
fn is_first_lookup_page(q: &ScimQuery) -> bool {
    q.offset == 0
        && q.after_id.is_none()
        && q.sort == ScimSort::Id
        && !q.descending
        && q.filter.as_ref().is_some_and(filter_sql::is_lookup)
}

/// A member display as `members.display` filters compare it (see `filter_sql`).
pub(super) fn folded(display: &Option<String>) -> Option<String> {
    display.as_deref().map(roster_core::validate::fold)
}

/// The `displayName` of the user aliased `alias` when it is a string, else NULL.
pub(super) fn display_name_sql(dialect: Dialect, alias: &str) -> String {
    crate::sql::json_string(dialect, &format!("{alias}.scim_doc"), "displayName")
}
