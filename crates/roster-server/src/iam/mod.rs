//! The IAM API, Azion-shaped. The same routes are nested under `/iam`, `/iam/api` and `/v4/iam`.

mod handlers;
pub(crate) mod views;

use crate::AppState;
use crate::routes::{Api, Route, route};
use axum::routing::{MethodRouter, get, post};
use handlers::*;
use roster_core::model::Protocol;

/// The IAM routes under `prefix` (one of [`crate::routes::IAM_PREFIXES`]).
pub(crate) fn routes(prefix: &str) -> Vec<Route> {
    let r = |path: &str, methods: &str, m: MethodRouter<AppState>| {
        route(Api::Iam, format!("{prefix}{path}"), methods, m)
    };
    vec![
        r("/identity_providers", "GET", get(idp_list)),
        r(
            "/identity_providers/saml2",
            "GET, POST",
            get(idp_list_protocol::<SAML>).post(idp_create::<SAML>),
        ),
        r(
            "/identity_providers/saml2/{uuid}",
            "GET, PUT, PATCH, POST, DELETE",
            get(idp_get::<SAML>)
                .put(idp_put::<SAML>)
                .patch(idp_patch::<SAML>)
                .post(idp_patch::<SAML>)
                .delete(idp_delete::<SAML>),
        ),
        r(
            "/identity_providers/oidc",
            "GET, POST",
            get(idp_list_protocol::<OIDC>).post(idp_create::<OIDC>),
        ),
        r(
            "/identity_providers/oidc/{uuid}",
            "GET, PUT, PATCH, POST, DELETE",
            get(idp_get::<OIDC>)
                .put(idp_put::<OIDC>)
                .patch(idp_patch::<OIDC>)
                .post(idp_patch::<OIDC>)
                .delete(idp_delete::<OIDC>),
        ),
        r(
            "/identity_providers/saml2/{uuid}/scim_token",
            "POST",
            post(idp_scim_token::<SAML>),
        ),
        r(
            "/identity_providers/oidc/{uuid}/scim_token",
            "POST",
            post(idp_scim_token::<OIDC>),
        ),
        r(
            "/identity_providers/saml2/{uuid}/provisioning_log",
            "GET",
            get(idp_log::<SAML>),
        ),
        r(
            "/identity_providers/oidc/{uuid}/provisioning_log",
            "GET",
            get(idp_log::<OIDC>),
        ),
        r("/users", "GET, POST", get(users_list).post(users_create)),
        r(
            "/users/{id}",
            "GET, PUT, PATCH, DELETE",
            get(users_get)
                .put(users_put)
                .patch(users_patch)
                .delete(users_delete),
        ),
        r(
            "/users/{id}/personal_tokens",
            "POST, DELETE",
            post(user_tokens_create).delete(user_tokens_delete),
        ),
        r("/user", "GET, PATCH", get(me_get).patch(me_patch)),
        r("/teams", "GET, POST", get(teams_list).post(teams_create)),
        r(
            "/teams/{id}",
            "GET, PUT, PATCH, DELETE",
            get(teams_get)
                .put(teams_put)
                .patch(teams_patch)
                .delete(teams_delete),
        ),
        r("/permissions", "GET", get(permissions_list)),
        r(
            "/personal_tokens",
            "GET, POST",
            get(tokens_list).post(tokens_create),
        ),
        r(
            "/personal_tokens/{uuid}",
            "GET, DELETE",
            get(tokens_get).delete(tokens_delete),
        ),
        r(
            "/account",
            "GET, PATCH",
            get(account_get).patch(account_patch),
        ),
    ]
}

/// Protocols as const generics, so one handler serves both path families.
pub const SAML: u8 = 0;
pub const OIDC: u8 = 1;

pub fn protocol<const P: u8>() -> Protocol {
    if P == SAML {
        Protocol::Saml
    } else {
        Protocol::Oidc
    }
}
