//! The IAM API, Azion-shaped. The same routes are nested under `/iam`, `/iam/api` and `/v4/iam`.

mod handlers;
pub(crate) mod views;

use crate::AppState;
use axum::Router;
use axum::routing::get;
use handlers::*;
use roster_core::model::Protocol;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/identity_providers", get(idp_list))
        .route(
            "/identity_providers/saml2",
            get(idp_list_protocol::<SAML>).post(idp_create::<SAML>),
        )
        .route(
            "/identity_providers/saml2/{uuid}",
            get(idp_get::<SAML>)
                .put(idp_put::<SAML>)
                .patch(idp_patch::<SAML>)
                .post(idp_patch::<SAML>)
                .delete(idp_delete::<SAML>),
        )
        .route(
            "/identity_providers/oidc",
            get(idp_list_protocol::<OIDC>).post(idp_create::<OIDC>),
        )
        .route(
            "/identity_providers/oidc/{uuid}",
            get(idp_get::<OIDC>)
                .put(idp_put::<OIDC>)
                .patch(idp_patch::<OIDC>)
                .post(idp_patch::<OIDC>)
                .delete(idp_delete::<OIDC>),
        )
        .route(
            "/identity_providers/saml2/{uuid}/provisioning_log",
            get(idp_log::<SAML>),
        )
        .route(
            "/identity_providers/oidc/{uuid}/provisioning_log",
            get(idp_log::<OIDC>),
        )
        .route("/users", get(users_list).post(users_create))
        .route(
            "/users/{id}",
            get(users_get)
                .put(users_put)
                .patch(users_patch)
                .delete(users_delete),
        )
        .route(
            "/users/{id}/personal_tokens",
            axum::routing::post(user_tokens_create).delete(user_tokens_delete),
        )
        .route("/user", get(me_get).patch(me_patch))
        .route("/teams", get(teams_list).post(teams_create))
        .route(
            "/teams/{id}",
            get(teams_get)
                .put(teams_put)
                .patch(teams_patch)
                .delete(teams_delete),
        )
        .route("/permissions", get(permissions_list))
        .route("/personal_tokens", get(tokens_list).post(tokens_create))
        .route(
            "/personal_tokens/{uuid}",
            get(tokens_get).delete(tokens_delete),
        )
        .route("/account", get(account_get).patch(account_patch))
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
