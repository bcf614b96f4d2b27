//! Teams, their permissions, and the permission catalogue.

use super::users::ListQuery;
use super::{SqlTx, accounts::no_row, few_kept, found};
use crate::db::{Db, SqlRow};
use crate::rows::{self, TEAM_COLS};
use crate::sql::Arg;
use crate::{Listing, search_doc};
use roster_core::model::*;
use roster_core::store::{ListParams, NewTeam, Page, StoreResult};
use roster_core::validate::fold;
use std::collections::HashMap;

impl<D: Db> SqlTx<D> {
    /// Permissions of each team in `ids`, by team id.
    async fn permissions_of(
        &mut self,
        ids: &[TeamId],
    ) -> StoreResult<HashMap<TeamId, Vec<Permission>>> {
        let mut out: HashMap<TeamId, Vec<Permission>> = HashMap::new();
        for chunk in ids.chunks(500) {
            let mut q = self.build();
            q.push(
                "SELECT tp.team_id, p.id, p.name, p.slug, p.grp FROM team_permissions tp \
                 JOIN permissions p ON p.id = tp.permission_id WHERE tp.team_id IN (",
            )
            .list(chunk.iter().copied())
            .push(") ORDER BY p.id");
            for r in self.db.rows(few_kept(q, chunk.len())).await? {
                out.entry(TeamId(r.i64("team_id")?))
                    .or_default()
                    .push(rows::permission(&r)?);
            }
        }
        Ok(out)
    }

    pub async fn insert_team(&mut self, t: &NewTeam) -> StoreResult<TeamId> {
        // `scim_id` is named only when there is one (see `insert_user`).
        let (col, val) = match t.scim_id {
            Some(_) => (", scim_id", ", $11"),
            None => ("", ""),
        };
        let mut args: Vec<Arg> = vec![
            t.account_id.into(),
            (&t.name).into(),
            fold(&t.name).into(),
            t.is_active.into(),
            t.created.into(),
            t.last_modified.into(),
            (&t.provisioning.external_id).into(),
            t.provisioning.idp_uuid.into(),
            (&t.scim).into(),
            search_doc(&t.scim, roster_core::scim::group_ctx()).into(),
        ];
        args.extend(t.scim_id.map(Arg::from));
        let q = self.sql(
            &format!(
                "INSERT INTO teams (account_id, name, name_folded, is_active, created, \
                 last_modified, version, scim_external_id, provisioned_by_idp, scim_doc, \
                 scim_folded{col}) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $10{val}) \
                 RETURNING id"
            ),
            args,
        );
        let r = self
            .db
            .row(q)
            .await?
            .ok_or_else(|| no_row("INSERT INTO teams"))?;
        Ok(TeamId(r.i64("id")?))
    }

    pub async fn team(&mut self, account: AccountId, id: TeamId) -> StoreResult<Option<Team>> {
        let q = self.locked(
            &format!("SELECT {TEAM_COLS} FROM teams t WHERE t.account_id = $1 AND t.id = $2"),
            vec![account.into(), id.into()],
        );
        self.one_team(q).await
    }

    /// The team a statement reads, with its permissions.
    async fn one_team(&mut self, q: crate::sql::Sql) -> StoreResult<Option<Team>> {
        let Some(r) = self.db.row(q).await? else {
            return Ok(None);
        };
        let mut t = rows::team(&r)?;
        t.permissions = self
            .permissions_of(&[t.id])
            .await?
            .remove(&t.id)
            .unwrap_or_default();
        Ok(Some(t))
    }

    pub async fn team_users(
        &mut self,
        account: AccountId,
        team: TeamId,
        after: Option<UserId>,
        limit: i64,
    ) -> StoreResult<Vec<User>> {
        let q = self.sql(
            &format!(
                "SELECT {} FROM team_members m JOIN users u ON u.id = m.user_id \
                 WHERE m.team_id = $1 AND m.account_id = $2 AND m.user_id > $3 \
                 ORDER BY m.user_id LIMIT {}",
                crate::rows::USER_COLS,
                limit.clamp(1, 1000)
            ),
            vec![team.into(), account.into(), after.map_or(0, |u| u.0).into()],
        );
        self.db.rows(q).await?.iter().map(rows::user).collect()
    }

    /// The account's team SCIM knows as `r` (a legacy integer names only a team that has no
    /// opaque SCIM id).
    pub async fn scim_team(&mut self, account: AccountId, r: ScimRef) -> StoreResult<Option<Team>> {
        let (cond, arg): (&str, Arg) = match r {
            ScimRef::Id(id) => ("t.scim_id = $2", id.into()),
            ScimRef::Legacy(n) => ("t.id = $2 AND t.scim_id IS NULL", n.into()),
        };
        let q = self.locked(
            &format!("SELECT {TEAM_COLS} FROM teams t WHERE t.account_id = $1 AND {cond}"),
            vec![account.into(), arg],
        );
        self.one_team(q).await
    }

    pub async fn list_teams(
        &mut self,
        account: AccountId,
        p: &ListParams,
    ) -> StoreResult<Page<Team>> {
        let l = ListQuery {
            from: "teams t",
            cols: TEAM_COLS,
            eq: vec![("t.account_id", account.into())],
            null: Vec::new(),
            team: None,
            search_col: "t.name_folded",
            listing: Listing::Teams,
        };
        let (rows, total) = self.list_rows(l, p).await?;
        let mut items = rows
            .iter()
            .map(rows::team)
            .collect::<StoreResult<Vec<_>>>()?;
        let ids: Vec<TeamId> = items.iter().map(|t| t.id).collect();
        let mut perms = self.permissions_of(&ids).await?;
        for t in &mut items {
            t.permissions = perms.remove(&t.id).unwrap_or_default();
        }
        Ok(Page { items, total })
    }

    pub async fn update_team(&mut self, t: &Team, expected_version: i64) -> StoreResult<()> {
        self.stale.everything();
        let q = self.sql(
            "UPDATE teams SET name = $3, name_folded = $4, is_active = $5, last_modified = $6, \
             scim_external_id = $7, provisioned_by_idp = $8, version = version + 1, \
             scim_doc = $10, scim_folded = $11 \
             WHERE account_id = $1 AND id = $2 AND version = $9",
            vec![
                t.account_id.into(),
                t.id.into(),
                (&t.name).into(),
                fold(&t.name).into(),
                t.is_active.into(),
                t.last_modified.into(),
                (&t.provisioning.external_id).into(),
                t.provisioning.idp_uuid.into(),
                expected_version.into(),
                (&t.scim).into(),
                search_doc(&t.scim, roster_core::scim::group_ctx()).into(),
            ],
        );
        if self.db.exec(q).await? == 0 {
            let exists = self.sql(
                "SELECT 1 AS n FROM teams WHERE account_id = $1 AND id = $2",
                vec![t.account_id.into(), t.id.into()],
            );
            return Err(self.missing_or_stale(exists).await);
        }
        Ok(())
    }

    pub async fn delete_team(&mut self, account: AccountId, id: TeamId) -> StoreResult<()> {
        self.stale.everything();
        let q = self.sql(
            "DELETE FROM teams WHERE account_id = $1 AND id = $2",
            vec![account.into(), id.into()],
        );
        found(self.db.exec(q).await?)
    }

    pub async fn set_team_permissions(
        &mut self,
        team: TeamId,
        permissions: &[PermissionId],
    ) -> StoreResult<()> {
        self.stale.everything();
        let q = self.sql(
            "DELETE FROM team_permissions WHERE team_id = $1",
            vec![team.into()],
        );
        self.db.exec(q).await?;
        for p in permissions {
            let q = self.sql(
                "INSERT INTO team_permissions (team_id, permission_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
                vec![team.into(), (*p).into()],
            );
            self.db.exec(q).await?;
        }
        Ok(())
    }

    pub async fn team_member_count(
        &mut self,
        account: AccountId,
        team: TeamId,
        up_to: i64,
    ) -> StoreResult<i64> {
        let q = self.sql(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM team_members \
             WHERE account_id = $1 AND team_id = $2 LIMIT $3) m",
            vec![account.into(), team.into(), up_to.into()],
        );
        self.count(q).await
    }

    pub async fn existing_team_ids(
        &mut self,
        account: AccountId,
        ids: &[TeamId],
    ) -> StoreResult<Vec<TeamId>> {
        let ids: Vec<i64> = ids.iter().map(|t| t.0).collect();
        let found = self.existing("teams", Some(account), &ids).await?;
        Ok(found.into_iter().map(TeamId).collect())
    }

    /// Which of `ids` are rows of `table` (of `account`, when given).
    async fn existing(
        &mut self,
        table: &str,
        account: Option<AccountId>,
        ids: &[i64],
    ) -> StoreResult<Vec<i64>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let mut q = self.build();
            q.push(&format!("SELECT id FROM {table} WHERE "));
            if let Some(a) = account {
                q.push("account_id = ").arg(a).push(" AND ");
            }
            q.push("id IN (").list(chunk.iter().copied()).push(")");
            out.extend(self.ids(few_kept(q, chunk.len())).await?);
        }
        Ok(out)
    }

    pub async fn list_permissions(&mut self, p: &ListParams) -> StoreResult<Page<Permission>> {
        let l = ListQuery {
            from: "permissions",
            cols: "id, name, slug, grp",
            eq: vec![],
            null: Vec::new(),
            team: None,
            search_col: "lower(name)",
            listing: Listing::Permissions,
        };
        let (rows, total) = self.list_rows(l, p).await?;
        let items = rows
            .iter()
            .map(rows::permission)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page { items, total })
    }

    pub async fn existing_permission_ids(
        &mut self,
        ids: &[PermissionId],
    ) -> StoreResult<Vec<PermissionId>> {
        let ids: Vec<i64> = ids.iter().map(|p| p.0).collect();
        let found = self.existing("permissions", None, &ids).await?;
        Ok(found.into_iter().map(PermissionId).collect())
    }
}
