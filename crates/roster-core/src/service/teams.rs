//! Teams, their permissions, and the permission catalogue.

use super::{ListRequest, Listed, Principal, Roster, check_page};
use crate::error::{CoreError, FieldErrors};
use crate::model::{Permission, PermissionId, Team, TeamId};
use crate::store::{SortKey, Tx};
use crate::validate;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TeamInput {
    pub name: Option<String>,
    pub is_active: Option<bool>,
    pub permissions_ids: Option<Vec<PermissionId>>,
}

const TEAM_SORTS: &[(&str, SortKey)] = &[
    ("id", SortKey::Id),
    ("name", SortKey::Name),
    ("last_modified", SortKey::LastModified),
    ("is_active", SortKey::IsActive),
];
const PERMISSION_SORTS: &[(&str, SortKey)] = &[
    ("id", SortKey::Id),
    ("name", SortKey::Name),
    ("slug", SortKey::Slug),
    ("group", SortKey::Group),
];

fn apply(t: &mut Team, input: &TeamInput, required: bool, errs: &mut FieldErrors) {
    if required {
        if input.name.is_none() {
            errs.add("name", "This field is required.");
        }
        if input.permissions_ids.is_none() {
            errs.add("permissions_ids", "This field is required.");
        }
    }
    if let Some(n) = &input.name {
        validate::name(errs, "name", n, 100);
        t.name = n.trim().to_string();
    }
    if let Some(a) = input.is_active {
        t.is_active = a;
    }
}

async fn check_permission_ids(
    tx: &mut dyn Tx,
    ids: &[PermissionId],
    errs: &mut FieldErrors,
) -> Result<(), CoreError> {
    if ids.len() > 1000 {
        errs.add(
            "permissions_ids",
            "Ensure this list has no more than 1000 elements.",
        );
        return Ok(());
    }
    let found = tx.existing_permission_ids(ids).await?;
    for id in ids {
        if !found.contains(id) {
            errs.add(
                "permissions_ids",
                format!("Invalid pk \"{id}\" - object does not exist."),
            );
        }
    }
    Ok(())
}

impl Roster {
    pub async fn list_teams(
        &self,
        p: &Principal,
        req: &ListRequest,
    ) -> Result<Listed<Team>, CoreError> {
        let (params, page) = req.params(TEAM_SORTS, (SortKey::Name, false))?;
        let mut tx = self.store.read().await?;
        let got = tx.list_teams(p.account(), &params).await?;
        check_page(Listed {
            items: got.items,
            total: got.total,
            page,
            page_size: params.limit,
        })
    }

    pub async fn get_team(&self, p: &Principal, id: TeamId) -> Result<Team, CoreError> {
        let mut tx = self.store.read().await?;
        let t = tx
            .team(p.account(), id)
            .await?
            .ok_or(CoreError::NotFound("Team"))?;
        Ok(t)
    }

    /// A page of the team's members (up to `limit`, after user `after`), and whether more follow.
    pub async fn team_members(
        &self,
        p: &Principal,
        id: TeamId,
        after: Option<crate::model::UserId>,
        limit: i64,
    ) -> Result<(Vec<crate::model::User>, bool), CoreError> {
        p.require_view_users()?;
        let mut tx = self.store.read().await?;
        tx.team(p.account(), id)
            .await?
            .ok_or(CoreError::NotFound("Team"))?;
        let mut users = tx.team_users(p.account(), id, after, limit + 1).await?;
        let more = users.len() as i64 > limit;
        users.truncate(usize::try_from(limit).unwrap_or(0));
        Ok((users, more))
    }

    pub async fn create_team(&self, p: &Principal, input: &TeamInput) -> Result<Team, CoreError> {
        p.require_edit_teams()?;
        let now = self.clock.now();
        let mut t = Team::new(p.account(), "", now);
        let mut errs = FieldErrors::new();
        apply(&mut t, input, true, &mut errs);
        t.sync_doc();
        let perms = input.permissions_ids.clone().unwrap_or_default();
        let mut tx = self.store.begin().await?;
        check_permission_ids(tx.as_mut(), &perms, &mut errs).await?;
        errs.into_result()?;
        let id = tx.insert_team(&t).await?;
        tx.set_team_permissions(id, &perms).await?;
        let created = tx
            .team(p.account(), id)
            .await?
            .ok_or(CoreError::NotFound("Team"))?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn update_team(
        &self,
        p: &Principal,
        id: TeamId,
        input: &TeamInput,
        partial: bool,
    ) -> Result<Team, CoreError> {
        p.require_edit_teams()?;
        let mut tx = self.store.begin().await?;
        let before = tx
            .team(p.account(), id)
            .await?
            .ok_or(CoreError::NotFound("Team"))?;
        let mut after = before.clone();
        let mut errs = FieldErrors::new();
        apply(&mut after, input, !partial, &mut errs);
        if let Some(perms) = &input.permissions_ids {
            check_permission_ids(tx.as_mut(), perms, &mut errs).await?;
        }
        errs.into_result()?;
        after.sync_doc();
        after.last_modified = self.clock.now();
        tx.update_team(&after, before.version).await?;
        if let Some(perms) = &input.permissions_ids {
            tx.set_team_permissions(id, perms).await?;
        }
        let updated = tx
            .team(p.account(), id)
            .await?
            .ok_or(CoreError::NotFound("Team"))?;
        tx.commit().await?;
        Ok(updated)
    }

    /// As Azion documents: "Before deleting teams, you must remove all users from the team".
    pub async fn delete_team(&self, p: &Principal, id: TeamId) -> Result<(), CoreError> {
        p.require_edit_teams()?;
        let mut tx = self.store.begin().await?;
        tx.team(p.account(), id)
            .await?
            .ok_or(CoreError::NotFound("Team"))?;
        let members = tx.team_member_count(p.account(), id, i64::MAX).await?;
        if members > 0 {
            return Err(FieldErrors::single(
                "non_field_errors",
                format!(
                    "Remove all users from the team before deleting it ({members} still assigned)."
                ),
            ));
        }
        tx.delete_team(p.account(), id).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_permissions(
        &self,
        _p: &Principal,
        req: &ListRequest,
    ) -> Result<Listed<Permission>, CoreError> {
        let (params, page) = req.params(PERMISSION_SORTS, (SortKey::Id, false))?;
        let mut tx = self.store.read().await?;
        let got = tx.list_permissions(&params).await?;
        check_page(Listed {
            items: got.items,
            total: got.total,
            page,
            page_size: params.limit,
        })
    }
}
