//! SAML single sign-on through an account's identity providers (issue 13): what a service
//! provider publishes, and (to come) the sign-in itself.

use super::Roster;
use crate::error::CoreError;
use crate::model::IdpConfig;
use uuid::Uuid;

impl Roster {
    /// The service provider's metadata for SAML identity provider `uuid` (public: an
    /// administrator, or Entra itself, fetches it from the provider's `metadata_url`). Unknown,
    /// not SAML, or of an account being deleted: not found.
    pub async fn saml_sp_metadata(&self, uuid: Uuid) -> Result<String, CoreError> {
        let mut tx = self.store.read().await?;
        let idp = tx
            .idp_by_uuid(uuid)
            .await?
            .filter(|i| matches!(i.config, IdpConfig::Saml(_)))
            .ok_or(CoreError::NotFound("Identity provider"))?;
        let account = tx
            .account(idp.account_id)
            .await?
            .filter(|a| a.deleting_since.is_none())
            .ok_or(CoreError::NotFound("Identity provider"))?;
        drop((tx, account));
        let urls = self.urls();
        Ok(roster_saml::metadata::sp_metadata(
            &urls.saml_metadata_url(uuid),
            &urls.saml_login_url(uuid),
        ))
    }
}
