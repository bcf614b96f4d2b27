//! A SAML identity provider's signing certificates on its page (expiry, and a warning 30 days
//! before), and updating them (with the sign-in URL and entity id) from its metadata.

use super::idps::given;
use super::pages::when;
use super::{Posted, redirect};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use roster_console::pages::CertRow;
use roster_core::certs::EXPIRY_WARNING_DAYS;
use roster_core::model::{IdentityProvider, IdpConfig};
use roster_core::service::IdpInput;
use serde::Deserialize;

/// The provider's certificates as rows, and a warning if one expires within
/// [`EXPIRY_WARNING_DAYS`] (or has expired) while no other stays valid longer.
pub(crate) fn rows(idp: &IdentityProvider, now: DateTime<Utc>) -> (Vec<CertRow>, Option<String>) {
    let IdpConfig::Saml(c) = &idp.config else {
        return (Vec::new(), None);
    };
    let infos = c.certificate_infos();
    let rows = infos
        .iter()
        .map(|i| {
            let days = i.days_left(now);
            let (status, status_class) = if i.not_after <= now {
                ("expired".to_string(), "bad")
            } else if days < EXPIRY_WARNING_DAYS {
                (format!("expires in {days} days"), "bad")
            } else {
                ("valid".to_string(), "ok")
            };
            CertRow {
                subject: i.subject.clone(),
                fingerprint: i.sha256_fingerprint.clone(),
                not_after: when(&i.not_after),
                status,
                status_class,
            }
        })
        .collect();
    let lasting = infos.iter().map(|i| i.days_left(now)).max();
    let warning = match lasting {
        Some(d) if d < 0 => Some(
            "Every signing certificate has expired: sign-ins through this provider fail until \
             you add its current certificate (import its metadata again)."
                .to_string(),
        ),
        Some(d) if d < EXPIRY_WARNING_DAYS => Some(format!(
            "The last valid signing certificate expires in {d} days. Add the identity \
             provider's new certificate (import its metadata again) before then."
        )),
        _ => None,
    };
    (rows, warning)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct MetadataForm {
    federation_metadata_xml: String,
}

/// Update the provider's certificates, sign-in URL and entity id from its metadata.
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    Posted { s, form }: Posted<MetadataForm>,
) -> Response {
    let idp = match super::idps::find(&state, &s, &uuid).await {
        Ok(i) => i,
        Err(e) => return s.error(e),
    };
    let input = IdpInput {
        federation_metadata_xml: given(&form.federation_metadata_xml),
        ..IdpInput::default()
    };
    if input.federation_metadata_xml.is_none() {
        let mut errs = roster_core::FieldErrors::new();
        errs.add(
            "federation_metadata_xml",
            "Paste the Federation Metadata XML, or load its file.",
        );
        return s.error(roster_core::CoreError::Validation(errs));
    }
    match state
        .roster
        .update_idp(&s.principal, idp.protocol(), idp.uuid, &input, true)
        .await
    {
        Ok(_) => redirect(&format!(
            "/console/identity-providers/{}?done=metadata#certificates",
            idp.uuid
        )),
        Err(e) => s.error(e),
    }
}
