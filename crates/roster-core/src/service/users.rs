//! Users of an account, and the caller's own profile.

use super::{ListRequest, Listed, Principal, Roster, check_page};
use crate::error::{CoreError, FieldErrors};
use crate::model::{AccountId, NewUser, TeamId, User, UserId};
use crate::store::{SortKey, Tx};
use crate::validate;
use serde::Deserialize;

/// The writable fields of a user. `None` means "not sent".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UserInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub is_active: Option<bool>,
    pub is_account_owner: Option<bool>,
    pub two_factor_enabled: Option<bool>,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub country_call_code: Option<String>,
    pub teams_ids: Option<Vec<TeamId>>,
}

/// The fields a user may change on their own profile (`/iam/user`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProfileInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub two_factor_enabled: Option<bool>,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub country_call_code: Option<String>,
}

pub(crate) const USER_SORTS: &[(&str, SortKey)] = &[
    ("id", SortKey::Id),
    ("email", SortKey::Email),
    ("first_name", SortKey::FirstName),
    ("last_name", SortKey::LastName),
    ("last_modified", SortKey::LastModified),
    ("date_joined", SortKey::DateJoined),
    ("is_active", SortKey::IsActive),
];

/// Apply the sent fields onto `u`, validating each. `required` lists fields that must be sent.
fn apply_fields(u: &mut User, input: &UserInput, required: bool, errs: &mut FieldErrors) {
    let req = |errs: &mut FieldErrors, f: &str, v: &Option<String>| {
        if required && v.is_none() {
            errs.add(f, "This field is required.");
        }
    };
    req(errs, "first_name", &input.first_name);
    req(errs, "last_name", &input.last_name);
    req(errs, "email", &input.email);
    if let Some(v) = &input.email {
        let v = v.trim();
        validate::email(errs, "email", v);
        u.email = v.to_string();
    }
    if let Some(v) = input.is_active {
        u.is_active = v;
    }
    if let Some(v) = input.is_account_owner {
        u.is_account_owner = v;
    }
    apply_profile_fields(
        u,
        &ProfileInput {
            first_name: input.first_name.clone(),
            last_name: input.last_name.clone(),
            two_factor_enabled: input.two_factor_enabled,
            language: input.language.clone(),
            timezone: input.timezone.clone(),
            phone: input.phone.clone(),
            mobile: input.mobile.clone(),
            country_call_code: input.country_call_code.clone(),
        },
        errs,
    );
}

fn apply_profile_fields(u: &mut User, p: &ProfileInput, errs: &mut FieldErrors) {
    if let Some(v) = &p.first_name {
        validate::name(errs, "first_name", v, 30);
        u.first_name = v.trim().to_string();
    }
    if let Some(v) = &p.last_name {
        validate::name(errs, "last_name", v, 30);
        u.last_name = v.trim().to_string();
    }
    if let Some(v) = p.two_factor_enabled {
        u.two_factor_enabled = v;
    }
    if let Some(v) = &p.language {
        validate::language(errs, "language", v);
        u.language = v.clone();
    }
    if let Some(v) = &p.timezone {
        validate::timezone(errs, "timezone", v);
        u.timezone = v.clone();
    }
    if let Some(v) = &p.phone {
        validate::phone(errs, "phone", v);
        u.phone = v.clone();
    }
    if let Some(v) = &p.mobile {
        validate::phone(errs, "mobile", v);
        u.mobile = v.clone();
    }
    if let Some(v) = &p.country_call_code {
        validate::max_len(errs, "country_call_code", v, 20);
        u.country_call_code = v.clone();
    }
}

/// The most teams one request may assign.
pub const MAX_TEAMS_PER_USER: usize = 1000;

async fn check_team_ids(
    tx: &mut dyn Tx,
    account: AccountId,
    ids: &[TeamId],
    errs: &mut FieldErrors,
) -> Result<(), CoreError> {
    if ids.len() > MAX_TEAMS_PER_USER {
        errs.add(
            "teams_ids",
            format!("Ensure this list has no more than {MAX_TEAMS_PER_USER} elements."),
        );
        return Ok(());
    }
    let found = tx.existing_team_ids(account, ids).await?;
    for id in ids {
        if !found.contains(id) {
            errs.add(
                "teams_ids",
                format!("Invalid pk \"{id}\" - object does not exist."),
            );
        }
    }
    Ok(())
}

/// Refuse a change that would leave the account without an active owner.
async fn keep_an_owner(
    tx: &mut dyn Tx,
    before: &User,
    after: Option<&User>,
) -> Result<(), CoreError> {
    let was = before.is_account_owner && before.is_active;
    let is = after.is_some_and(|u| u.is_account_owner && u.is_active);
    if !was || is {
        return Ok(());
    }
    // Two owners stepping down at once must not both succeed.
    tx.lock_account(before.account_id).await?;
    if tx.active_owner_count(before.account_id).await? <= 1 {
        let field = match after {
            None => "non_field_errors",
            Some(u) if !u.is_active => "is_active",
            Some(_) => "is_account_owner",
        };
        return Err(FieldErrors::single(
            field,
            "At least one active account owner must remain: make another user an owner first.",
        ));
    }
    Ok(())
}

impl Roster {
    pub async fn list_users(
        &self,
        p: &Principal,
        req: &ListRequest,
    ) -> Result<Listed<User>, CoreError> {
        self.find_users(p, req, &crate::store::UserFilter::default())
            .await
    }

    /// The user's provisioning history: the newest `limit` log entries about it, newest first.
    pub async fn user_history(
        &self,
        p: &Principal,
        id: UserId,
        limit: i64,
    ) -> Result<Vec<crate::store::LogEntry>, CoreError> {
        p.require_view_users()?;
        let mut tx = self.store.read().await?;
        let user = tx
            .user(p.account(), id)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        let scim_id = user.scim_ref().to_string();
        Ok(tx
            .resource_log(p.account(), "User", &scim_id, limit)
            .await?)
    }

    /// Like [`Roster::list_users`], keeping only the users `f` names (the console's filters).
    pub async fn find_users(
        &self,
        p: &Principal,
        req: &ListRequest,
        f: &crate::store::UserFilter,
    ) -> Result<Listed<User>, CoreError> {
        p.require_view_users()?;
        let (params, page) = req.params(USER_SORTS, (SortKey::Id, false))?;
        let mut tx = self.store.read().await?;
        let got = tx.find_users(p.account(), &params, f).await?;
        check_page(Listed {
            items: got.items,
            total: got.total,
            page,
            page_size: params.limit,
        })
    }

    pub async fn get_user(&self, p: &Principal, id: UserId) -> Result<User, CoreError> {
        if id != p.user().id {
            p.require_view_users()?;
        }
        let mut tx = self.store.read().await?;
        let u = tx
            .user(p.account(), id)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        Ok(u)
    }

    pub async fn create_user(&self, p: &Principal, input: &UserInput) -> Result<User, CoreError> {
        p.require_edit_users()?;
        if input.is_account_owner == Some(true) {
            p.require_owner()?;
        }
        let now = self.clock.now();
        let mut u = User::new(p.account(), "", "", "", now);
        let mut errs = FieldErrors::new();
        apply_fields(&mut u, input, true, &mut errs);
        u.sync_doc(None);
        let mut tx = self.store.begin().await?;
        let teams = input.teams_ids.clone().unwrap_or_default();
        check_team_ids(tx.as_mut(), p.account(), &teams, &mut errs).await?;
        errs.into_result()?;
        let id = tx.insert_user(&NewUser::from(u)).await?;
        tx.set_user_teams(p.account(), id, &teams).await?;
        let created = tx
            .user(p.account(), id)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        tx.commit().await?;
        tracing::info!(
            account = %p.account(),
            user = %id,
            by = %p.user().id,
            "user created"
        );
        Ok(created)
    }

    /// PUT (`partial = false`: first_name, last_name and email required) or PATCH.
    pub async fn update_user(
        &self,
        p: &Principal,
        id: UserId,
        input: &UserInput,
        partial: bool,
    ) -> Result<User, CoreError> {
        p.require_edit_users()?;
        let mut tx = self.store.begin().await?;
        let before = tx
            .user(p.account(), id)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        if before.is_account_owner
            || input
                .is_account_owner
                .is_some_and(|o| o != before.is_account_owner)
        {
            p.require_owner()?;
        }
        let mut after = before.clone();
        let mut errs = FieldErrors::new();
        apply_fields(&mut after, input, !partial, &mut errs);
        if let Some(teams) = &input.teams_ids {
            check_team_ids(tx.as_mut(), p.account(), teams, &mut errs).await?;
        }
        errs.into_result()?;
        keep_an_owner(tx.as_mut(), &before, Some(&after)).await?;
        after.sync_doc(Some(&before));
        after.last_modified = self.clock.now();
        tx.update_user(&after, before.version).await?;
        if let Some(teams) = &input.teams_ids {
            tx.set_user_teams(p.account(), id, teams).await?;
        }
        let updated = tx
            .user(p.account(), id)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        tx.commit().await?;
        Ok(updated)
    }

    pub async fn delete_user(&self, p: &Principal, id: UserId) -> Result<(), CoreError> {
        p.require_edit_users()?;
        let mut tx = self.store.begin().await?;
        let before = tx
            .user(p.account(), id)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        if before.is_account_owner {
            p.require_owner()?;
        }
        keep_an_owner(tx.as_mut(), &before, None).await?;
        tx.delete_user(p.account(), id).await?;
        tx.commit().await?;
        tracing::info!(
            account = %p.account(),
            user = %id,
            by = %p.user().id,
            "user deleted"
        );
        Ok(())
    }

    pub async fn current_user(&self, p: &Principal) -> Result<User, CoreError> {
        let mut tx = self.store.read().await?;
        let u = tx
            .user(p.account(), p.user().id)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        Ok(u)
    }

    pub async fn update_current_user(
        &self,
        p: &Principal,
        input: &ProfileInput,
    ) -> Result<User, CoreError> {
        let mut tx = self.store.begin().await?;
        let before = tx
            .user(p.account(), p.user().id)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        let mut after = before.clone();
        let mut errs = FieldErrors::new();
        apply_profile_fields(&mut after, input, &mut errs);
        errs.into_result()?;
        after.sync_doc(Some(&before));
        after.last_modified = self.clock.now();
        tx.update_user(&after, before.version).await?;
        let updated = tx
            .user(p.account(), before.id)
            .await?
            .ok_or(CoreError::NotFound("User"))?;
        tx.commit().await?;
        Ok(updated)
    }
}
