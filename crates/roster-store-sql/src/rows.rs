//! Rows to records, and the column lists the mappers read, written once for both backends.

use crate::db::SqlRow;
use roster_core::model::*;
use roster_core::store::{LogEntry, StoreError, StoreResult};

/// Columns of `users` (alias `u`).
pub const USER_COLS: &str = "u.id, u.scim_id, u.account_id, u.email, u.first_name, u.last_name, u.is_active, \
    u.is_account_owner, u.two_factor_enabled, u.language, u.timezone, u.phone, u.mobile, \
    u.country_call_code, u.date_joined, u.last_login, u.last_modified, u.version, \
    u.scim_external_id, u.provisioned_by_idp, u.scim_doc";

/// Columns of `teams` (alias `t`).
pub const TEAM_COLS: &str = "t.id, t.scim_id, t.account_id, t.name, t.is_active, t.created, t.last_modified, \
    t.version, t.scim_external_id, t.provisioned_by_idp, t.scim_doc";

/// Columns of `personal_tokens` (alias `t`).
pub const TOKEN_COLS: &str = "t.uuid, t.user_id, t.account_id, t.name, t.description, t.created, \
    t.expires_at, t.last_used_at, t.key_prefix";

/// Columns of `identity_providers`, in the order `insert_idp` writes them.
pub const IDP_COLS: &str = "uuid, account_id, protocol, name, is_active, scim_integration, created, \
    last_modified, version, sign_in_url, entity_id_url, certificate_pem, signature_algorithm, \
    authorization_url, userinfo_url, token_url, client_id, client_secret, scopes, response_mode, \
    scim_adopt_existing";

/// The columns `insert_idp` names: every one of [`IDP_COLS`] that schema 1 had (upgrade tests
/// write providers into old schemas; later columns are set by an update when not default).
pub const IDP_INSERT_COLS: &str = "uuid, account_id, protocol, name, is_active, scim_integration, \
    created, last_modified, version, sign_in_url, entity_id_url, certificate_pem, \
    signature_algorithm, authorization_url, userinfo_url, token_url, client_id, client_secret, \
    scopes, response_mode";

pub const ACCOUNT_COLS: &str = "id, name, company_name, is_active, is_enabled_mfa_to_all_users, created, last_modified, version, deleting_since";

pub const OPERATOR_TOKEN_COLS: &str = "uuid, name, created, expires_at, last_used_at, key_prefix";

pub const LOG_COLS: &str = "id, account_id, idp_uuid, at, request_id, method, path, resource_type, \
    resource_id, status, outcome, scim_type, detail, tolerances, changes";

pub fn user(r: &impl SqlRow) -> StoreResult<User> {
    Ok(User {
        id: UserId(r.i64("id")?),
        scim_id: r.opt_uuid("scim_id")?,
        account_id: AccountId(r.i64("account_id")?),
        email: r.text("email")?,
        first_name: r.text("first_name")?,
        last_name: r.text("last_name")?,
        is_active: r.bool("is_active")?,
        is_account_owner: r.bool("is_account_owner")?,
        two_factor_enabled: r.bool("two_factor_enabled")?,
        language: r.text("language")?,
        timezone: r.text("timezone")?,
        phone: r.text("phone")?,
        mobile: r.text("mobile")?,
        country_call_code: r.text("country_call_code")?,
        date_joined: r.time("date_joined")?,
        last_login: r.opt_time("last_login")?,
        last_modified: r.time("last_modified")?,
        version: r.i64("version")?,
        provisioning: Provisioning {
            idp_uuid: r.opt_uuid("provisioned_by_idp")?,
            external_id: r.opt_text("scim_external_id")?,
        },
        teams: Vec::new(),
        scim: r.json("scim_doc")?,
    })
}

pub fn team(r: &impl SqlRow) -> StoreResult<Team> {
    Ok(Team {
        id: TeamId(r.i64("id")?),
        scim_id: r.opt_uuid("scim_id")?,
        account_id: AccountId(r.i64("account_id")?),
        name: r.text("name")?,
        is_active: r.bool("is_active")?,
        created: r.time("created")?,
        last_modified: r.time("last_modified")?,
        version: r.i64("version")?,
        provisioning: Provisioning {
            idp_uuid: r.opt_uuid("provisioned_by_idp")?,
            external_id: r.opt_text("scim_external_id")?,
        },
        permissions: Vec::new(),
        scim: r.json("scim_doc")?,
    })
}

pub fn token(r: &impl SqlRow) -> StoreResult<PersonalToken> {
    Ok(PersonalToken {
        uuid: r.uuid("uuid")?,
        user_id: UserId(r.i64("user_id")?),
        account_id: AccountId(r.i64("account_id")?),
        name: r.text("name")?,
        description: r.opt_text("description")?,
        created: r.time("created")?,
        expires_at: r.time("expires_at")?,
        last_used_at: r.opt_time("last_used_at")?,
        key_prefix: r.text("key_prefix")?,
    })
}

pub fn account(r: &impl SqlRow) -> StoreResult<Account> {
    Ok(Account {
        id: AccountId(r.i64("id")?),
        name: r.text("name")?,
        company_name: r.text("company_name")?,
        is_active: r.bool("is_active")?,
        is_enabled_mfa_to_all_users: r.bool("is_enabled_mfa_to_all_users")?,
        created: r.time("created")?,
        last_modified: r.time("last_modified")?,
        version: r.i64("version")?,
        deleting_since: r.opt_time("deleting_since")?,
    })
}

pub fn operator_token(r: &impl SqlRow) -> StoreResult<OperatorToken> {
    Ok(OperatorToken {
        uuid: r.uuid("uuid")?,
        name: r.text("name")?,
        created: r.time("created")?,
        expires_at: r.time("expires_at")?,
        last_used_at: r.opt_time("last_used_at")?,
        key_prefix: r.text("key_prefix")?,
    })
}

pub fn permission(r: &impl SqlRow) -> StoreResult<Permission> {
    Ok(Permission {
        id: PermissionId(r.i64("id")?),
        name: r.text("name")?,
        slug: r.text("slug")?,
        group: r.text("grp")?,
    })
}

pub fn idp(r: &impl SqlRow) -> StoreResult<IdentityProvider> {
    idp_prefixed(r, "")
}

/// An identity provider from columns named `{prefix}{column}`.
pub fn idp_prefixed(r: &impl SqlRow, prefix: &str) -> StoreResult<IdentityProvider> {
    let c = |name: &str| format!("{prefix}{name}");
    let s = |name: &str| -> StoreResult<String> { Ok(r.opt_text(&c(name))?.unwrap_or_default()) };
    let protocol = r.text(&c("protocol"))?;
    let config = match Protocol::parse(&protocol) {
        Some(Protocol::Saml) => IdpConfig::Saml(SamlConfig {
            sign_in_url: s("sign_in_url")?,
            entity_id_url: s("entity_id_url")?,
            certificate_pem: s("certificate_pem")?,
            signature_algorithm: s("signature_algorithm")?,
        }),
        Some(Protocol::Oidc) => IdpConfig::Oidc(OidcConfig {
            authorization_url: s("authorization_url")?,
            userinfo_url: s("userinfo_url")?,
            token_url: s("token_url")?,
            client_id: s("client_id")?,
            client_secret: roster_core::Sealed::from_stored(s("client_secret")?),
            scopes: crate::scopes_from_text(&s("scopes")?)?,
            response_mode: s("response_mode")?,
        }),
        None => {
            return Err(StoreError::Other(format!(
                "unknown protocol {protocol:?} in the database"
            )));
        }
    };
    Ok(IdentityProvider {
        uuid: r.uuid(&c("uuid"))?,
        account_id: AccountId(r.i64(&c("account_id"))?),
        name: r.text(&c("name"))?,
        is_active: r.bool(&c("is_active"))?,
        scim_integration: r.bool(&c("scim_integration"))?,
        scim_adopt_existing: r.bool(&c("scim_adopt_existing"))?,
        created: r.time(&c("created"))?,
        last_modified: r.time(&c("last_modified"))?,
        version: r.i64(&c("version"))?,
        config,
    })
}

pub fn log_entry(r: &impl SqlRow) -> StoreResult<LogEntry> {
    let tolerances = r.json("tolerances")?;
    Ok(LogEntry {
        id: r.i64("id")?,
        account_id: AccountId(r.i64("account_id")?),
        idp_uuid: r.uuid("idp_uuid")?,
        at: r.time("at")?,
        request_id: r.opt_text("request_id")?,
        method: r.text("method")?,
        path: r.text("path")?,
        resource_type: r.opt_text("resource_type")?,
        resource_id: r.opt_text("resource_id")?,
        status: r.i64("status")?,
        outcome: r.text("outcome")?,
        scim_type: r.opt_text("scim_type")?,
        detail: r.opt_text("detail")?,
        tolerances: serde_json::from_value(tolerances).unwrap_or_default(),
        changes: r.json("changes")?,
    })
}

/// A 32-byte hash column.
pub fn hash32(r: &impl SqlRow, col: &str) -> StoreResult<[u8; 32]> {
    r.bytes(col)?.try_into().map_err(|b: Vec<u8>| {
        StoreError::Other(format!("a {}-byte key hash in the database", b.len()))
    })
}
