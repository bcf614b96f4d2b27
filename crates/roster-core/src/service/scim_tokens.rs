//! A SCIM token for an identity provider, made in one step: a dedicated user that holds only the
//! SCIM Protocol Integration permission (through the team "SCIM Protocol Integration", made once
//! per account), and a personal token for it, valid a year. The token goes into the identity
//! provider as its Secret Token; being SCIM-only, it can do nothing else (see
//! [`super::Principal::is_scim_only`]), and SCIM never shows or changes its own user.

use super::{CreatedToken, Principal, Roster, TokenInput};
use crate::error::CoreError;
use crate::model::PersonalToken;
use crate::model::{NewUser, Protocol, Team, perm};
use crate::store::{ListParams, SortKey, TokenScope};
use chrono::Duration;
use uuid::Uuid;

/// The team that grants the SCIM permission and nothing else.
pub const SCIM_TEAM: &str = "SCIM Protocol Integration";
/// How long a SCIM token made this way lives.
pub const SCIM_TOKEN_DAYS: i64 = 365;

/// The email of provider `uuid`'s SCIM user (never a mailbox: `.invalid` is reserved).
pub fn scim_user_email(uuid: Uuid) -> String {
    format!("scim-{}@scim.roster.invalid", uuid.simple())
}

impl Roster {
    /// Make a SCIM token for the account's provider `uuid` (owners only); its key is shown once.
    pub async fn make_scim_token(
        &self,
        p: &Principal,
        protocol: Protocol,
        uuid: Uuid,
    ) -> Result<CreatedToken, CoreError> {
        p.require_owner()?;
        let now = self.clock.now();
        let account = p.account();
        let mut tx = self.store.begin().await?;
        let idp = tx
            .idp(account, uuid)
            .await?
            .filter(|i| i.protocol() == protocol)
            .ok_or(CoreError::NotFound("Identity provider"))?;
        let scim = tx
            .list_permissions(&ListParams {
                offset: 0,
                limit: 1000,
                sort: SortKey::Id,
                descending: false,
                search: None,
            })
            .await?
            .items
            .into_iter()
            .find(|x| x.slug == perm::SCIM)
            .ok_or(CoreError::Internal("the SCIM permission is missing".into()))?;
        let teams = tx
            .list_teams(
                account,
                &ListParams {
                    offset: 0,
                    limit: 100,
                    sort: SortKey::Id,
                    descending: false,
                    search: Some(crate::validate::fold(SCIM_TEAM)),
                },
            )
            .await?;
        let team = match teams.items.iter().find(|t| t.name == SCIM_TEAM) {
            Some(t) => t.id,
            None => {
                let id = tx.insert_team(&Team::new(account, SCIM_TEAM, now)).await?;
                tx.set_team_permissions(id, &[scim.id]).await?;
                id
            }
        };
        let email = scim_user_email(uuid);
        let user = match tx.user_by_email(account, &email).await? {
            Some(u) => u,
            None => {
                let last: String = idp.name.chars().take(50).collect();
                let new = NewUser::new(account, &email, "SCIM", last, now);
                let id = tx.insert_user(&new).await?;
                new.stored(id)
            }
        };
        tx.set_user_teams(account, user.id, &[team]).await?;
        let input = TokenInput {
            name: Some(format!("SCIM for {}", idp.name).chars().take(100).collect()),
            description: Some(format!(
                "The Secret Token of identity provider {uuid}: it may use SCIM only."
            )),
            expires_at: Some((now + Duration::days(SCIM_TOKEN_DAYS)).to_rfc3339()),
        };
        let created = self
            .create_token_in(tx.as_mut(), &user, &input, None)
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// The tokens of provider `uuid`'s SCIM user (owners only), newest first.
    pub async fn scim_tokens(
        &self,
        p: &Principal,
        protocol: Protocol,
        uuid: Uuid,
    ) -> Result<Vec<PersonalToken>, CoreError> {
        p.require_owner()?;
        let mut tx = self.store.read().await?;
        tx.idp(p.account(), uuid)
            .await?
            .filter(|i| i.protocol() == protocol)
            .ok_or(CoreError::NotFound("Identity provider"))?;
        let Some(user) = tx
            .user_by_email(p.account(), &scim_user_email(uuid))
            .await?
        else {
            return Ok(Vec::new());
        };
        let scope = TokenScope {
            account: p.account(),
            user: Some(user.id),
        };
        let params = ListParams {
            offset: 0,
            limit: 100,
            sort: SortKey::Created,
            descending: true,
            search: None,
        };
        Ok(tx.list_tokens(scope, &params).await?.items)
    }
}
