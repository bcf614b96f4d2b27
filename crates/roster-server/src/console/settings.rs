//! The signed-in user's profile (password, sessions) and the account's settings (owners).

use super::pages::when;
use super::{Posted, Session, html};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use roster_console::pages::{AccountPage, ProfilePage};
use roster_core::Secret;
use roster_core::service::PASSWORD_MIN_CHARS;
use serde::Deserialize;

async fn account_page(
    state: &AppState,
    s: &Session,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    if let Err(e) = s.principal.require_owner() {
        return s.error(e);
    }
    match state.roster.get_account(&s.principal).await {
        Ok(a) => html(
            if error.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            },
            &AccountPage {
                layout: s.layout("Account", "/console/account"),
                notice,
                error,
                id: a.id.0,
                name: a.name,
                company_name: a.company_name,
                created: when(&a.created),
                require_two_factor: a.is_enabled_mfa_to_all_users,
            },
        ),
        Err(e) => s.error(e),
    }
}

pub(crate) async fn account(State(state): State<AppState>, s: Session) -> Response {
    account_page(&state, &s, None, None).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AccountForm {
    name: String,
    company_name: String,
}

/// The owner renames the account (the IAM API's rules).
pub(crate) async fn save_account(
    State(state): State<AppState>,
    Posted { s, form: f }: Posted<AccountForm>,
) -> Response {
    let patch = roster_core::service::AccountPatch {
        name: Some(f.name),
        company_name: Some(f.company_name),
        is_enabled_mfa_to_all_users: None,
    };
    match state.roster.update_account(&s.principal, &patch).await {
        Ok(_) => account_page(&state, &s, Some("Saved.".into()), None).await,
        Err(roster_core::CoreError::Validation(errs)) => {
            account_page(&state, &s, None, Some(errs.to_string())).await
        }
        Err(e) => s.error(e),
    }
}

async fn profile_page(
    state: &AppState,
    s: &Session,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let two_factor_on = match state.roster.two_factor(&s.principal).await {
        Ok(t) => t.on,
        Err(e) => return s.error(e),
    };
    html(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &ProfilePage {
            layout: s.layout("Your profile", "/console/profile"),
            notice,
            error,
            min_chars: PASSWORD_MIN_CHARS,
            two_factor_on,
        },
    )
}

pub(crate) async fn profile(State(state): State<AppState>, s: Session) -> Response {
    profile_page(&state, &s, None, None).await
}

#[derive(Deserialize)]
pub(crate) struct PasswordChange {
    #[serde(default)]
    current_password: Secret,
    #[serde(default)]
    new_password: Secret,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordChange")
    }
}

pub(crate) async fn change_password(
    State(state): State<AppState>,
    client: Option<axum::Extension<crate::client::Client>>,
    Posted { s, form: f }: Posted<PasswordChange>,
) -> Response {
    let address = super::address(client);
    match state
        .roster
        .change_password(&s.principal, &f.current_password, &f.new_password, &address)
        .await
    {
        // Every session ended, this one too: sign in again with the new password.
        Ok(()) => Redirect::to("/console/sign-in?next=/console/profile").into_response(),
        Err(roster_core::CoreError::Validation(errs)) => {
            profile_page(&state, &s, None, Some(errs.to_string())).await
        }
        Err(roster_core::CoreError::Throttled(wait)) => {
            let error = format!("Too many wrong passwords. Try again in {wait} seconds.");
            profile_page(&state, &s, None, Some(error)).await
        }
        Err(e) => s.error(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RequireForm {
    require: Option<String>,
}

/// The owner requires two-factor sign-in of the account (or stops requiring it).
pub(crate) async fn require_two_factor(
    State(state): State<AppState>,
    Posted { s, form: f }: Posted<RequireForm>,
) -> Response {
    let patch = roster_core::service::AccountPatch {
        is_enabled_mfa_to_all_users: Some(f.require.is_some()),
        ..Default::default()
    };
    match state.roster.update_account(&s.principal, &patch).await {
        Ok(a) => {
            let said = if a.is_enabled_mfa_to_all_users {
                "Two-factor sign-in is required of everyone who signs in with a password."
            } else {
                "Two-factor sign-in is no longer required of everyone."
            };
            account_page(&state, &s, Some(said.into()), None).await
        }
        Err(roster_core::CoreError::Validation(errs)) => {
            account_page(&state, &s, None, Some(errs.to_string())).await
        }
        Err(e) => s.error(e),
    }
}
