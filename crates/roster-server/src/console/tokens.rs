//! Personal tokens in the console: list, create (the key shown once), revoke.

use super::pages::when;
use super::{Posted, Session, html};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use roster_console::pages::{TokenRow, TokensPage};
use roster_core::service::{ListRequest, TokenInput};
use serde::Deserialize;

/// A token as the console lists it.
pub(crate) fn token_row(t: &roster_core::model::PersonalToken) -> TokenRow {
    TokenRow {
        uuid: t.uuid.to_string(),
        name: t.name.clone(),
        prefix: t.key_prefix.clone(),
        created: when(&t.created),
        expires: when(&t.expires_at),
        last_used: t.last_used_at.as_ref().map_or("never".into(), when),
    }
}

async fn tokens_page(
    state: &AppState,
    s: &Session,
    new_key: Option<String>,
    error: Option<String>,
) -> Response {
    let req = ListRequest {
        page: Some("1".into()),
        page_size: Some("1000".into()),
        ordering: Some("-created".into()),
        search: None,
    };
    let listed = match state
        .roster
        .list_tokens(&s.principal, &req, Some(s.principal.user().id))
        .await
    {
        Ok(l) => l,
        Err(e) => return s.error(e),
    };
    let now = Utc::now();
    html(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &TokensPage {
            layout: s.layout("Personal tokens", "/console/tokens"),
            tokens: listed.items.iter().map(token_row).collect(),
            token_back: None,
            new_key,
            error,
            default_expiry: (now + Duration::days(90)).format("%Y-%m-%d").to_string(),
        },
    )
}

pub(crate) async fn tokens(State(state): State<AppState>, s: Session) -> Response {
    tokens_page(&state, &s, None, None).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TokenForm {
    name: String,
    expires_at: String,
}

pub(crate) async fn create_token(
    State(state): State<AppState>,
    Posted { s, form: f }: Posted<TokenForm>,
) -> Response {
    let input = TokenInput {
        name: Some(f.name),
        description: None,
        expires_at: Some(f.expires_at),
    };
    match state.roster.create_token(&s.principal, &input).await {
        Ok(made) => tokens_page(&state, &s, Some(made.key.0.expose().to_string()), None).await,
        Err(roster_core::CoreError::Validation(errs)) => {
            tokens_page(&state, &s, None, Some(errs.to_string())).await
        }
        Err(e) => s.error(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RevokeForm {
    /// The console page to go back to.
    back: Option<String>,
}

pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    Posted { s, form }: Posted<RevokeForm>,
) -> Response {
    let Ok(uuid) = uuid::Uuid::parse_str(&uuid) else {
        return s.error(roster_core::CoreError::NotFound("Personal token"));
    };
    let back = match form.back.as_deref() {
        Some(b) => super::local_path(b),
        None => "/console/tokens".to_string(),
    };
    match state.roster.delete_token(&s.principal, uuid).await {
        Ok(()) => Redirect::to(&back).into_response(),
        Err(e) => s.error(e),
    }
}
