//! SAML service provider endpoints, one set per SAML identity provider (issue 13): the metadata
//! at the provider's `metadata_url`; sign-in and the assertion consumer service come next.

use crate::AppState;
use crate::routes::{Api, Route, route};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use roster_core::CoreError;

pub(crate) fn routes() -> Vec<Route> {
    vec![route(
        Api::Public,
        "/api/saml2v4/users/scim/{uuid}/metadata",
        "GET",
        get(metadata),
    )]
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn metadata(State(state): State<AppState>, Path(uuid): Path<String>) -> Response {
    let Ok(uuid) = uuid::Uuid::parse_str(&uuid) else {
        return text(StatusCode::NOT_FOUND, "No such SAML identity provider.\n");
    };
    match state.roster.saml_sp_metadata(uuid).await {
        Ok(xml) => {
            let mut r = xml.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/samlmetadata+xml"),
            );
            r
        }
        Err(CoreError::NotFound(_)) => {
            text(StatusCode::NOT_FOUND, "No such SAML identity provider.\n")
        }
        Err(e) => {
            tracing::error!(error = %e, "SAML metadata");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "Roster cannot answer now. Try again in a moment.\n",
            )
        }
    }
}
