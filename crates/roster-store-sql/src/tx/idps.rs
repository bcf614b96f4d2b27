//! Identity providers.

use super::{SqlTx, found};
use crate::db::Db;
use crate::rows::{self, IDP_COLS, IDP_INSERT_COLS};
use crate::scopes_to_text;
use crate::sql::Arg;
use chrono::{DateTime, Utc};
use roster_core::model::*;
use roster_core::store::StoreResult;
use uuid::Uuid;

/// The eleven protocol-specific columns of a provider, in `IDP_COLS` order (after `version`).
fn config_args(idp: &IdentityProvider) -> [Arg; 11] {
    let (saml, oidc) = match &idp.config {
        IdpConfig::Saml(c) => (Some(c), None),
        IdpConfig::Oidc(c) => (None, Some(c)),
    };
    let s = |f: fn(&SamlConfig) -> &String| Arg::from(saml.map(|c| f(c).clone()));
    let o = |f: fn(&OidcConfig) -> &String| Arg::from(oidc.map(|c| f(c).clone()));
    [
        s(|c| &c.sign_in_url),
        s(|c| &c.entity_id_url),
        s(|c| &c.certificate_pem),
        s(|c| &c.signature_algorithm),
        o(|c| &c.authorization_url),
        o(|c| &c.userinfo_url),
        o(|c| &c.token_url),
        o(|c| &c.client_id),
        oidc.map(|c| c.client_secret.stored().to_string()).into(),
        oidc.map(|c| scopes_to_text(&c.scopes)).into(),
        o(|c| &c.response_mode),
    ]
}

/// `uuid` … `last_modified`: the columns common to both protocols, before `version`.
fn common_args(idp: &IdentityProvider) -> Vec<Arg> {
    vec![
        idp.uuid.into(),
        idp.account_id.into(),
        idp.protocol().as_str().into(),
        (&idp.name).into(),
        idp.is_active.into(),
        idp.scim_integration.into(),
        idp.created.into(),
        idp.last_modified.into(),
    ]
}

impl<D: Db> SqlTx<D> {
    pub async fn insert_idp(&mut self, idp: &IdentityProvider) -> StoreResult<()> {
        self.stale.everything();
        let mut args = common_args(idp);
        args.extend(config_args(idp));
        let q = self.sql(
            &format!(
                "INSERT INTO identity_providers ({IDP_INSERT_COLS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
            ),
            args,
        );
        self.db.exec(q).await?;
        if idp.scim_adopt_existing {
            let q = self.sql(
                "UPDATE identity_providers SET scim_adopt_existing = TRUE WHERE uuid = $1",
                vec![idp.uuid.into()],
            );
            self.db.exec(q).await?;
        }
        Ok(())
    }

    pub async fn idp(
        &mut self,
        account: AccountId,
        uuid: Uuid,
    ) -> StoreResult<Option<IdentityProvider>> {
        let q = self.locked(
            &format!(
                "SELECT {IDP_COLS} FROM identity_providers WHERE account_id = $1 AND uuid = $2"
            ),
            vec![account.into(), uuid.into()],
        );
        self.db.row(q).await?.as_ref().map(rows::idp).transpose()
    }

    pub async fn idp_by_uuid(&mut self, uuid: Uuid) -> StoreResult<Option<IdentityProvider>> {
        let q = self.sql(
            &format!("SELECT {IDP_COLS} FROM identity_providers WHERE uuid = $1"),
            vec![uuid.into()],
        );
        self.db.row(q).await?.as_ref().map(rows::idp).transpose()
    }

    pub async fn list_idps(&mut self, account: AccountId) -> StoreResult<Vec<IdentityProvider>> {
        let q = self.sql(
            &format!(
                "SELECT {IDP_COLS} FROM identity_providers WHERE account_id = $1 ORDER BY created, uuid"
            ),
            vec![account.into()],
        );
        self.db.rows(q).await?.iter().map(rows::idp).collect()
    }

    pub async fn all_idps(&mut self) -> StoreResult<Vec<IdentityProvider>> {
        let q = self.sql(
            &format!(
                "SELECT {IDP_COLS} FROM identity_providers ORDER BY account_id, created, uuid"
            ),
            vec![],
        );
        self.db.rows(q).await?.iter().map(rows::idp).collect()
    }

    pub async fn update_idp(
        &mut self,
        idp: &IdentityProvider,
        expected_version: i64,
    ) -> StoreResult<()> {
        self.stale.everything();
        let mut args = common_args(idp);
        args.extend(config_args(idp));
        args.push(expected_version.into());
        let q = self.sql(
            "UPDATE identity_providers SET uuid = $1, account_id = $2, protocol = $3, name = $4, \
             is_active = $5, scim_integration = $6, created = $7, last_modified = $8, \
             version = version + 1, sign_in_url = $9, entity_id_url = $10, certificate_pem = $11, \
             signature_algorithm = $12, authorization_url = $13, userinfo_url = $14, token_url = $15, \
             client_id = $16, client_secret = $17, scopes = $18, response_mode = $19, \
             scim_adopt_existing = $21 WHERE account_id = $2 AND uuid = $1 AND version = $20",
            {
                let mut args = args;
                args.push(idp.scim_adopt_existing.into());
                args
            },
        );
        if self.db.exec(q).await? == 0 {
            let exists = self.sql(
                "SELECT 1 AS n FROM identity_providers WHERE account_id = $1 AND uuid = $2",
                vec![idp.account_id.into(), idp.uuid.into()],
            );
            return Err(self.missing_or_stale(exists).await);
        }
        Ok(())
    }

    pub async fn delete_idp(&mut self, account: AccountId, uuid: Uuid) -> StoreResult<()> {
        self.stale.everything();
        let q = self.sql(
            "DELETE FROM identity_providers WHERE account_id = $1 AND uuid = $2",
            vec![account.into(), uuid.into()],
        );
        found(self.db.exec(q).await?)
    }

    pub async fn release_idp_resources(
        &mut self,
        account: AccountId,
        idp: Uuid,
        deactivate: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.stale.everything();
        let active = if deactivate {
            ", is_active = FALSE"
        } else {
            ""
        };
        let users = self.sql(
            &format!(
                "UPDATE users SET provisioned_by_idp = NULL, last_modified = $3, \
                 version = version + 1{active} WHERE account_id = $1 AND provisioned_by_idp = $2"
            ),
            vec![account.into(), idp.into(), now.into()],
        );
        let mut n = self.db.exec(users).await?;
        let teams = self.sql(
            "UPDATE teams SET provisioned_by_idp = NULL, last_modified = $3, version = version + 1 \
             WHERE account_id = $1 AND provisioned_by_idp = $2",
            vec![account.into(), idp.into(), now.into()],
        );
        n += self.db.exec(teams).await?;
        Ok(n)
    }

    pub async fn delete_idp_resources(
        &mut self,
        account: AccountId,
        idp: Uuid,
        batch: i64,
    ) -> StoreResult<u64> {
        self.stale.everything();
        for table in ["users", "teams"] {
            // Memberships first, so that no delete cascades over more than `batch` of them.
            let (col, via) = match table {
                "users" => ("user_id", "users"),
                _ => ("team_id", "teams"),
            };
            let members = self.sql(
                &format!(
                    "DELETE FROM team_members WHERE (team_id, user_id) IN (SELECT m.team_id, m.user_id \
                     FROM {via} r JOIN team_members m ON m.{col} = r.id \
                     WHERE r.account_id = $1 AND r.provisioned_by_idp = $2 LIMIT {batch})"
                ),
                vec![account.into(), idp.into()],
            );
            let n = self.db.exec(members).await?;
            if n > 0 {
                return Ok(n);
            }
            let rows = self.sql(
                &format!(
                    "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} \
                     WHERE account_id = $1 AND provisioned_by_idp = $2 LIMIT {batch})"
                ),
                vec![account.into(), idp.into()],
            );
            let n = self.db.exec(rows).await?;
            if n > 0 {
                return Ok(n);
            }
        }
        Ok(0)
    }

    pub async fn deactivate_other_idps(
        &mut self,
        account: AccountId,
        keep: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.stale.everything();
        let q = self.sql(
            "UPDATE identity_providers SET is_active = FALSE, last_modified = $3, version = version + 1 \
             WHERE account_id = $1 AND uuid <> $2 AND is_active",
            vec![account.into(), keep.into(), now.into()],
        );
        self.db.exec(q).await?;
        Ok(())
    }
}
