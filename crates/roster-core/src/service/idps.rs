//! Identity providers (SAML2 and OIDC). Account owners only. At most one is active per account:
//! activating one deactivates the others in the same transaction (the console's "Set as active").

use super::{Principal, Roster};
use crate::error::{CoreError, FieldErrors};
use crate::model::{IdentityProvider, IdpConfig, OidcConfig, Protocol, SamlConfig};
use crate::secret::Secret;
use crate::validate;
use serde::Deserialize;
use uuid::Uuid;

/// Writable fields of both protocols; the ones of the other protocol are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IdpInput {
    pub name: Option<String>,
    pub is_active: Option<bool>,
    pub scim_integration: Option<bool>,
    /// Link hand-made users whose `userName` a SCIM create names, instead of a 409.
    pub scim_adopt_existing: Option<bool>,
    // SAML2
    pub sign_in_url: Option<String>,
    pub entity_id_url: Option<String>,
    /// A PEM certificate (or several, one after another).
    pub certificate: Option<String>,
    /// PEM certificates, all trusted at once (Entra's rollover lists the old and the new).
    pub certificates: Option<Vec<String>>,
    /// The identity provider's metadata (Entra's Federation Metadata XML): fills `entity_id_url`,
    /// `sign_in_url` and the certificates where they are not given.
    pub federation_metadata_xml: Option<String>,
    // OIDC
    pub authorization_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub scopes: Option<Vec<String>>,
}

enum Mode {
    Create,
    Replace,
    Patch,
}

fn required(errs: &mut FieldErrors, mode: &Mode, field: &str, v: bool) {
    if !v && !matches!(mode, Mode::Patch) {
        errs.add(field, "This field is required.");
    }
}

/// Apply `input` to `idp`; a new client secret is sealed with `keys` (nothing stores it in clear).
fn apply(
    idp: &mut IdentityProvider,
    input: &IdpInput,
    mode: Mode,
    errs: &mut FieldErrors,
    keys: &crate::seal::SecretKey,
) {
    required(errs, &mode, "name", input.name.is_some());
    if let Some(n) = &input.name {
        validate::name(errs, "name", n, 50);
        idp.name = n.trim().to_string();
    }
    if let Some(a) = input.is_active {
        idp.is_active = a;
    }
    if let Some(s) = input.scim_integration {
        idp.scim_integration = s;
    }
    if let Some(a) = input.scim_adopt_existing {
        idp.scim_adopt_existing = a;
    }
    let url = |errs: &mut FieldErrors, field: &str, v: &Option<String>, slot: &mut String| {
        required(errs, &mode, field, v.is_some());
        if let Some(v) = v {
            validate::absolute_url(errs, field, v.trim());
            *slot = v.trim().to_string();
        }
    };
    match &mut idp.config {
        IdpConfig::Saml(c) => {
            for (f, present) in [
                ("authorization_url", input.authorization_url.is_some()),
                ("userinfo_url", input.userinfo_url.is_some()),
                ("token_url", input.token_url.is_some()),
                ("client_id", input.client_id.is_some()),
                ("client_secret", input.client_secret.is_some()),
                ("scopes", input.scopes.is_some()),
            ] {
                if present {
                    errs.add(f, "Not a field of a SAML2 identity provider.");
                }
            }
            // Metadata fills what is not given field by field.
            let metadata = match &input.federation_metadata_xml {
                Some(xml) => match roster_saml::metadata::parse_idp_metadata(xml) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        errs.add(
                            "federation_metadata_xml",
                            format!("This metadata cannot be used: {e}."),
                        );
                        return;
                    }
                },
                None => None,
            };
            let sign_in_url = input
                .sign_in_url
                .clone()
                .or_else(|| metadata.as_ref().map(|m| m.sign_in_url.clone()));
            let entity_id_url = input
                .entity_id_url
                .clone()
                .or_else(|| metadata.as_ref().map(|m| m.entity_id.clone()));
            url(errs, "sign_in_url", &sign_in_url, &mut c.sign_in_url);
            url(errs, "entity_id_url", &entity_id_url, &mut c.entity_id_url);
            let (field, given) = match (&input.certificates, &input.certificate, &metadata) {
                (Some(list), _, _) => ("certificates", Some(list.clone())),
                (None, Some(pem), _) => ("certificate", Some(vec![pem.clone()])),
                (None, None, Some(m)) => ("federation_metadata_xml", Some(m.certificates.clone())),
                (None, None, None) => ("certificate", None),
            };
            // The console sends certificates only when they change: PUT keeps the old ones.
            match given {
                None if matches!(mode, Mode::Create) => {
                    errs.add("certificate", "This field is required.");
                }
                None => {}
                Some(list) => {
                    if let Some((bundle, alg)) = crate::certs::checked_bundle(errs, field, &list) {
                        c.certificate_pem = bundle;
                        c.signature_algorithm = alg;
                    }
                }
            }
        }
        IdpConfig::Oidc(c) => {
            for (f, present) in [
                ("sign_in_url", input.sign_in_url.is_some()),
                ("entity_id_url", input.entity_id_url.is_some()),
                ("certificate", input.certificate.is_some()),
                ("certificates", input.certificates.is_some()),
                (
                    "federation_metadata_xml",
                    input.federation_metadata_xml.is_some(),
                ),
            ] {
                if present {
                    errs.add(f, "Not a field of an OIDC identity provider.");
                }
            }
            url(
                errs,
                "authorization_url",
                &input.authorization_url,
                &mut c.authorization_url,
            );
            url(
                errs,
                "userinfo_url",
                &input.userinfo_url,
                &mut c.userinfo_url,
            );
            url(errs, "token_url", &input.token_url, &mut c.token_url);
            required(errs, &mode, "client_id", input.client_id.is_some());
            if let Some(id) = &input.client_id {
                validate::name(errs, "client_id", id, 256);
                c.client_id = id.trim().to_string();
            }
            if matches!(mode, Mode::Create) && input.client_secret.is_none() {
                errs.add("client_secret", "This field is required.");
            }
            if let Some(s) = &input.client_secret {
                if validate::non_blank(errs, "client_secret", s.expose()) {
                    validate::max_len(errs, "client_secret", s.expose(), 256);
                }
                match keys.seal(s) {
                    Ok(sealed) => c.client_secret = sealed,
                    Err(e) => errs.add("client_secret", format!("Cannot store it: {e}.")),
                }
            }
            if let Some(scopes) = &input.scopes {
                if scopes
                    .iter()
                    .any(|s| s.trim().is_empty() || s.contains(char::is_whitespace))
                {
                    errs.add(
                        "scopes",
                        "Each scope must be a non-empty word without spaces.",
                    );
                }
                c.scopes = scopes.clone();
            }
        }
    }
}

/// What deleting an identity provider does with the users (and teams) it provisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProvisionedUsers {
    /// They stay, as hand-made (the default).
    #[default]
    Keep,
    /// They stay, as hand-made, and the users are deactivated.
    Deactivate,
    /// They are deleted.
    Delete,
}

impl ProvisionedUsers {
    /// `keep`, `deactivate` or `delete` (the `users` parameter of the DELETE).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "keep" => Some(Self::Keep),
            "deactivate" => Some(Self::Deactivate),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// Provisioned users or teams deleted per transaction when their provider is deleted.
const DELETE_BATCH: i64 = 2_000;

impl Roster {
    /// The provider's provisioning log (every SCIM request that changed something or failed),
    /// newest first.
    pub async fn provisioning_log(
        &self,
        p: &Principal,
        protocol: Protocol,
        uuid: Uuid,
        req: &super::ListRequest,
    ) -> Result<super::Listed<crate::store::LogEntry>, CoreError> {
        self.find_provisioning_log(p, protocol, uuid, req, &crate::store::LogFilter::default())
            .await
    }

    /// The provider's log entries `f` keeps (the console's filters), newest first.
    pub async fn find_provisioning_log(
        &self,
        p: &Principal,
        protocol: Protocol,
        uuid: Uuid,
        req: &super::ListRequest,
        f: &crate::store::LogFilter,
    ) -> Result<super::Listed<crate::store::LogEntry>, CoreError> {
        p.require_owner()?;
        let (params, page) = req.params(
            &[("id", crate::store::SortKey::Id)],
            (crate::store::SortKey::Id, true),
        )?;
        let mut tx = self.store.read().await?;
        tx.idp(p.account(), uuid)
            .await?
            .filter(|i| i.protocol() == protocol)
            .ok_or(CoreError::NotFound("Identity provider"))?;
        let got = tx
            .find_log(p.account(), uuid, f, params.offset, params.limit)
            .await?;
        super::check_page(super::Listed {
            items: got.items,
            total: got.total,
            page,
            page_size: params.limit,
        })
    }

    pub async fn list_idps(&self, p: &Principal) -> Result<Vec<IdentityProvider>, CoreError> {
        p.require_owner()?;
        let mut tx = self.store.read().await?;
        let all = tx.list_idps(p.account()).await?;
        Ok(all)
    }

    pub async fn get_idp(
        &self,
        p: &Principal,
        protocol: Protocol,
        uuid: Uuid,
    ) -> Result<IdentityProvider, CoreError> {
        p.require_owner()?;
        let mut tx = self.store.read().await?;
        let idp = tx.idp(p.account(), uuid).await?;
        idp.filter(|i| i.protocol() == protocol)
            .ok_or(CoreError::NotFound("Identity provider"))
    }

    pub async fn create_idp(
        &self,
        p: &Principal,
        protocol: Protocol,
        input: &IdpInput,
    ) -> Result<IdentityProvider, CoreError> {
        p.require_owner()?;
        let now = self.clock.now();
        let config = match protocol {
            Protocol::Saml => IdpConfig::Saml(SamlConfig {
                sign_in_url: String::new(),
                entity_id_url: String::new(),
                certificate_pem: String::new(),
                signature_algorithm: "sha-256".into(),
            }),
            Protocol::Oidc => IdpConfig::Oidc(OidcConfig {
                authorization_url: String::new(),
                userinfo_url: String::new(),
                token_url: String::new(),
                client_id: String::new(),
                client_secret: crate::seal::Sealed::default(),
                scopes: vec!["openid".into(), "email".into(), "profile".into()],
                response_mode: "post".into(),
            }),
        };
        let mut idp = IdentityProvider {
            uuid: Uuid::new_v4(),
            account_id: p.account(),
            name: String::new(),
            is_active: false,
            scim_integration: false,
            scim_adopt_existing: false,
            created: now,
            last_modified: now,
            version: 1,
            config,
        };
        let mut errs = FieldErrors::new();
        apply(&mut idp, input, Mode::Create, &mut errs, &self.keys);
        errs.into_result()?;
        let mut tx = self.store.begin().await?;
        if idp.is_active {
            tx.deactivate_other_idps(p.account(), idp.uuid, now).await?;
        }
        tx.insert_idp(&idp).await?;
        tx.commit().await?;
        tracing::info!(account = %p.account(), idp = %idp.uuid, protocol = protocol.label(), "identity provider created");
        Ok(idp)
    }

    /// PUT (`partial = false`) or PATCH. `POST` on the item URL (the guide's curl without
    /// `-X PATCH`) is a PATCH too; the server decides that.
    pub async fn update_idp(
        &self,
        p: &Principal,
        protocol: Protocol,
        uuid: Uuid,
        input: &IdpInput,
        partial: bool,
    ) -> Result<IdentityProvider, CoreError> {
        p.require_owner()?;
        let mut tx = self.store.begin().await?;
        let before = tx
            .idp(p.account(), uuid)
            .await?
            .filter(|i| i.protocol() == protocol)
            .ok_or(CoreError::NotFound("Identity provider"))?;
        let mut after = before.clone();
        let mut errs = FieldErrors::new();
        apply(
            &mut after,
            input,
            if partial { Mode::Patch } else { Mode::Replace },
            &mut errs,
            &self.keys,
        );
        errs.into_result()?;
        let now = self.clock.now();
        after.last_modified = now;
        if after.is_active && !before.is_active {
            tx.deactivate_other_idps(p.account(), uuid, now).await?;
        }
        tx.update_idp(&after, before.version).await?;
        let updated = tx
            .idp(p.account(), uuid)
            .await?
            .ok_or(CoreError::NotFound("Identity provider"))?;
        tx.commit().await?;
        if before.scim_integration != updated.scim_integration {
            tracing::info!(account = %p.account(), idp = %uuid, on = updated.scim_integration, "SCIM integration switched");
        }
        Ok(updated)
    }

    /// Delete a provider; what it provisioned is kept as hand-made (`Keep`), kept and its users
    /// deactivated (`Deactivate`), or deleted (`Delete`, in short batches first, so a large
    /// directory never holds the writer for long; the provider goes last).
    pub async fn delete_idp(
        &self,
        p: &Principal,
        protocol: Protocol,
        uuid: Uuid,
        users: ProvisionedUsers,
    ) -> Result<(), CoreError> {
        p.require_owner()?;
        let account = p.account();
        let found = |i: Option<IdentityProvider>| {
            i.filter(|i| i.protocol() == protocol)
                .ok_or(CoreError::NotFound("Identity provider"))
        };
        if users == ProvisionedUsers::Delete {
            found(self.store.read().await?.idp(account, uuid).await?)?;
            loop {
                let mut tx = self.store.begin().await?;
                let n = tx.delete_idp_resources(account, uuid, DELETE_BATCH).await?;
                tx.commit().await?;
                if n == 0 {
                    break;
                }
            }
        }
        let mut tx = self.store.begin().await?;
        found(tx.idp(account, uuid).await?)?;
        let released = tx
            .release_idp_resources(
                account,
                uuid,
                users == ProvisionedUsers::Deactivate,
                self.clock.now(),
            )
            .await?;
        tx.delete_idp(account, uuid).await?;
        tx.commit().await?;
        tracing::info!(%account, idp = %uuid, ?users, released, "identity provider deleted");
        Ok(())
    }

    /// An OIDC provider's client secret, opened (for the sign-in flow; never shown by the API).
    pub fn oidc_client_secret(&self, idp: &IdentityProvider) -> Result<Secret, CoreError> {
        match &idp.config {
            IdpConfig::Oidc(c) => self
                .keys
                .open(&c.client_secret)
                .map_err(|e| CoreError::Internal(e.to_string())),
            IdpConfig::Saml(_) => Err(CoreError::NotFound("OIDC client secret")),
        }
    }

    /// Seal every client secret an earlier release stored in clear; answer how many. Run once at
    /// start-up (idempotent: sealed values are left alone).
    pub async fn seal_stored_secrets(&self) -> Result<usize, CoreError> {
        let mut tx = self.store.begin().await?;
        let mut n = 0;
        for mut idp in tx.all_idps().await? {
            let IdpConfig::Oidc(c) = &mut idp.config else {
                continue;
            };
            if c.client_secret.is_sealed() || c.client_secret.is_empty() {
                continue;
            }
            let plain = self
                .keys
                .open(&c.client_secret)
                .map_err(|e| CoreError::Internal(e.to_string()))?;
            c.client_secret = self
                .keys
                .seal(&plain)
                .map_err(|e| CoreError::Internal(e.to_string()))?;
            tx.update_idp(&idp, idp.version).await?;
            n += 1;
        }
        tx.commit().await?;
        if n > 0 {
            tracing::info!(
                sealed = n,
                "client secrets stored in clear by an earlier release are now sealed"
            );
        }
        Ok(n)
    }
}
