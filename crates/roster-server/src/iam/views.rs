//! The IAM API's JSON shapes (Azion's), built from domain records.

use chrono::{DateTime, SecondsFormat, Utc};
use roster_core::model::*;
use roster_core::service::Listed;
use roster_core::{PublicUrls, service::CreatedToken};
use serde_json::{Map, Value, json};

pub fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn opt_time(t: &Option<DateTime<Utc>>) -> Value {
    t.as_ref().map_or(Value::Null, |t| Value::String(time(t)))
}

pub fn user(u: &User) -> Value {
    json!({
        "id": u.id,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "email": u.email,
        "is_active": u.is_active,
        "is_account_owner": u.is_account_owner,
        "is_staff": false,
        "is_trial": false,
        "two_factor_enabled": u.two_factor_enabled,
        "language": u.language,
        "timezone": u.timezone,
        "phone": u.phone,
        "mobile": u.mobile,
        "country_call_code": u.country_call_code,
        "date_joined": time(&u.date_joined),
        "last_login": opt_time(&u.last_login),
        "last_modified": time(&u.last_modified),
        "teams": u.teams.iter().map(|t| json!({"id": t.id, "name": t.name, "is_active": t.is_active})).collect::<Vec<_>>(),
        "provisioned_by_idp_uuid": u.provisioning.idp_uuid,
        "scim_id": u.scim_ref().to_string(),
        "scim_external_id": u.provisioning.external_id,
    })
}

pub fn permission(p: &Permission) -> Value {
    json!({ "id": p.id, "name": p.name, "slug": p.slug, "group": p.group })
}

pub fn team(t: &Team) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "is_active": t.is_active,
        "permissions": t.permissions.iter().map(permission).collect::<Vec<_>>(),
        "last_modified": time(&t.last_modified),
        "provisioned_by_idp_uuid": t.provisioning.idp_uuid,
        "scim_id": t.scim_ref().to_string(),
        "scim_external_id": t.provisioning.external_id,
        "notice": team_notice(t),
    })
}

/// A team an identity provider made is its SCIM Group: the provider decides who is in it. Granting
/// it permissions hands them to whoever the provider adds, and the answer says so.
fn team_notice(t: &Team) -> Option<String> {
    let idp = t.provisioning.idp_uuid?;
    Some(if t.permissions.is_empty() {
        format!(
            "This team is managed through SCIM by identity provider {idp}: the identity provider decides its members."
        )
    } else {
        format!(
            "This team is managed through SCIM by identity provider {idp}: the identity provider decides its members, so every permission granted here goes to whoever it adds."
        )
    })
}

pub fn token(t: &PersonalToken) -> Value {
    json!({
        "uuid": t.uuid,
        "name": t.name,
        "description": t.description,
        "created": time(&t.created),
        "expires_at": time(&t.expires_at),
        "last_used_at": opt_time(&t.last_used_at),
        "user_id": t.user_id,
        "key_prefix": t.key_prefix,
    })
}

/// The create response: the only one that carries `key`.
pub fn created_token(c: &CreatedToken) -> Value {
    let mut v = token(&c.token);
    if let Value::Object(m) = &mut v {
        m.insert("key".into(), Value::String(c.key.0.expose().to_string()));
    }
    v
}

pub fn account(a: &Account) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "company_name": a.company_name,
        "account_type": "client",
        "is_active": a.is_active,
        "unique_identifier": format!("{:0>8}", a.id),
        "is_social_login_enabled": false,
        "is_enabled_mfa_to_all_users": a.is_enabled_mfa_to_all_users,
        "is_deleted": false,
        "parent_id": Value::Null,
        "created": time(&a.created),
        "last_modified": time(&a.last_modified),
    })
}

fn scim_url(urls: &PublicUrls, idp: &IdentityProvider) -> Value {
    if idp.scim_integration {
        Value::String(urls.scim_url(idp.uuid))
    } else {
        Value::Null
    }
}

fn login_url(urls: &PublicUrls, idp: &IdentityProvider) -> String {
    match idp.protocol() {
        Protocol::Saml => urls.saml_login_url(idp.uuid),
        Protocol::Oidc => urls.oidc_login_url(idp.uuid),
    }
}

/// An item of `GET /iam/identity_providers`.
pub fn idp_summary(urls: &PublicUrls, idp: &IdentityProvider) -> Value {
    json!({
        "uuid": idp.uuid,
        "name": idp.name,
        "protocol": idp.protocol().label(),
        "is_active": idp.is_active,
        "login_url": login_url(urls, idp),
        "scim_integration": idp.scim_integration,
        "scim_url": scim_url(urls, idp),
    })
}

/// The full object (`certificate` and `client_secret` are write-only and never shown; the
/// certificates are described in `signing_certificates`).
pub fn idp(urls: &PublicUrls, idp: &IdentityProvider) -> Value {
    match &idp.config {
        IdpConfig::Saml(c) => json!({
            "uuid": idp.uuid,
            "name": idp.name,
            "is_active": idp.is_active,
            "sign_in_url": c.sign_in_url,
            "entity_id_url": c.entity_id_url,
            "login_url": urls.saml_login_url(idp.uuid),
            "acs_url": urls.saml_login_url(idp.uuid),
            "metadata_url": urls.saml_metadata_url(idp.uuid),
            "signature_algorithm": c.signature_algorithm,
            "signing_certificates": c.certificate_infos().iter().map(|i| json!({
                "subject": i.subject,
                "sha256_fingerprint": i.sha256_fingerprint,
                "not_before": i.not_before,
                "not_after": i.not_after,
            })).collect::<Vec<_>>(),
            "scim_integration": idp.scim_integration,
            "scim_adopt_existing": idp.scim_adopt_existing,
            "scim_url": scim_url(urls, idp),
        }),
        IdpConfig::Oidc(c) => json!({
            "uuid": idp.uuid,
            "name": idp.name,
            "is_active": idp.is_active,
            "authorization_url": c.authorization_url,
            "userinfo_url": c.userinfo_url,
            "token_url": c.token_url,
            "client_id": c.client_id,
            "scopes": c.scopes,
            "login_url": urls.oidc_login_url(idp.uuid),
            "redirect_url": urls.oidc_redirect_url(idp.uuid),
            "response_mode": c.response_mode,
            "scim_integration": idp.scim_integration,
            "scim_adopt_existing": idp.scim_adopt_existing,
            "scim_url": scim_url(urls, idp),
        }),
    }
}

/// Keep only `fields` (when any are named) of an object.
pub fn sparse(v: Value, fields: &[String]) -> Value {
    if fields.is_empty() {
        return v;
    }
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| fields.iter().any(|f| f == k))
                .collect(),
        ),
        other => other,
    }
}

/// `{"state": "executed", "data": …}`.
pub fn envelope(data: Value) -> Value {
    json!({ "state": "executed", "data": data })
}

/// The pagination superset every Azion client reads: `count`, `total_pages`, `page`, `page_size`,
/// `next`, `previous`, `results`.
pub fn page<T>(
    listed: &Listed<T>,
    render: impl Fn(&T) -> Value,
    fields: &[String],
    base: &str,
    path: &str,
    raw_query: &[(String, String)],
) -> Value {
    let link = |p: i64| -> Value {
        let mut q: Vec<(String, String)> = raw_query
            .iter()
            .filter(|(k, _)| k != "page")
            .cloned()
            .collect();
        q.push(("page".into(), p.to_string()));
        let qs = serde_urlencoded::to_string(&q).unwrap_or_default();
        Value::String(format!("{base}{path}?{qs}"))
    };
    let total_pages = listed.total_pages();
    let mut m = Map::new();
    m.insert("count".into(), json!(listed.total));
    m.insert("total_pages".into(), json!(total_pages));
    m.insert("page".into(), json!(listed.page));
    m.insert("page_size".into(), json!(listed.page_size));
    m.insert(
        "next".into(),
        if listed.page < total_pages {
            link(listed.page + 1)
        } else {
            Value::Null
        },
    );
    m.insert(
        "previous".into(),
        if listed.page > 1 {
            link(listed.page - 1)
        } else {
            Value::Null
        },
    );
    m.insert(
        "results".into(),
        Value::Array(
            listed
                .items
                .iter()
                .map(|i| sparse(render(i), fields))
                .collect(),
        ),
    );
    Value::Object(m)
}

pub fn log_entry(e: &roster_core::store::LogEntry) -> Value {
    json!({
        "id": e.id,
        "at": roster_core::scim::view::time(&e.at),
        "method": e.method,
        "path": e.path,
        "resource_type": e.resource_type,
        "resource_id": e.resource_id,
        "status": e.status,
        "outcome": e.outcome,
        "scim_type": e.scim_type,
        "detail": e.detail,
        "tolerances": e.tolerances,
        "changes": e.changes,
        "request_id": e.request_id,
    })
}
