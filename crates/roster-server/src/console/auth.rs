//! Signing in and out, and choosing a password through a one-time link.

use super::{Posted, csrf_refused, html, local_path, same_origin, service_error, session_cookie};
use crate::AppState;
use crate::client::Client;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use roster_console::assets::AssetUrls;
use roster_console::pages::{AccountChoice, PasswordPage, SignInPage};
use roster_core::model::AccountId;
use roster_core::service::{PASSWORD_MIN_CHARS, SignIn};
use roster_core::{CoreError, Secret};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SignInQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

pub(crate) async fn sign_in_page(Query(q): Query<SignInQuery>) -> Response {
    html(
        StatusCode::OK,
        &SignInPage {
            css: AssetUrls::get().css,
            email: String::new(),
            next: local_path(q.next.as_deref().unwrap_or("/console")),
            error: None,
            notice: q.signed_out.map(|_| "You are signed out.".to_string()),
            accounts: Vec::new(),
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: Secret,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    next: String,
}

impl std::fmt::Debug for SignInForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInForm")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// A signed-in redirect: the session cookie, then the page asked for.
fn signed_in(state: &AppState, key: &str, next: &str) -> Response {
    let mut r = Redirect::to(&local_path(next)).into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(state, Some(key)));
    r
}

/// Where a sign-in whose password fit goes: in (to `next`), or to its two-factor step. `None`
/// for an account to choose.
fn after_password(state: &AppState, signed: &SignIn, next: &str) -> Option<Response> {
    match signed {
        SignIn::Session(key) => Some(signed_in(state, key.0.expose(), next)),
        SignIn::SecondFactor(key) => {
            let q = serde_urlencoded::to_string([("next", local_path(next))]).unwrap_or_default();
            let to = format!("{}?{q}", super::SECOND_STEP);
            Some(signed_in(state, key.0.expose(), &to))
        }
        SignIn::Enroll(key) => Some(signed_in(state, key.0.expose(), super::ENROLL_STEP)),
        SignIn::ChooseAccount(_) => None,
    }
}

pub(crate) async fn sign_in(
    State(state): State<AppState>,
    client: Option<axum::Extension<Client>>,
    headers: axum::http::HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    // Sign-in has no session yet: its CSRF defence is the browser's Origin (and SameSite).
    if !same_origin(&headers, &state) {
        return csrf_refused();
    }
    let address = super::address(client);
    let account = match f.account.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => match a.parse::<i64>() {
            Ok(n) => Some(AccountId(n)),
            Err(_) => None,
        },
    };
    let page = |error: Option<String>, accounts: Vec<AccountChoice>, status: StatusCode| {
        html(
            status,
            &SignInPage {
                css: AssetUrls::get().css,
                email: f.email.clone(),
                next: local_path(&f.next),
                error,
                notice: None,
                accounts,
            },
        )
    };
    match state
        .roster
        .sign_in(&f.email, &f.password, account, &address)
        .await
    {
        Ok(SignIn::ChooseAccount(accounts)) => page(
            Some("Choose the account, and enter your password again.".into()),
            accounts
                .into_iter()
                .map(|(id, name)| AccountChoice { id: id.0, name })
                .collect(),
            StatusCode::OK,
        ),
        Ok(signed) => after_password(&state, &signed, &f.next)
            .unwrap_or_else(|| Redirect::to("/console/sign-in").into_response()),
        Err(CoreError::Throttled(wait)) => {
            let mut r = page(
                Some(format!(
                    "Too many failed sign-ins. Try again in {wait} seconds."
                )),
                Vec::new(),
                StatusCode::TOO_MANY_REQUESTS,
            );
            if let Ok(v) = wait.to_string().parse() {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Err(CoreError::Unauthenticated(_)) => page(
            Some("Wrong email or password.".into()),
            Vec::new(),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => service_error(e),
    }
}

/// Sign out: at any stage of the sign-in (a sign-in waiting for its code can be cancelled).
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    Posted { s, .. }: Posted<NoFields, super::AnyStage>,
) -> Response {
    if let Err(e) = state.roster.sign_out(&s.key).await {
        return service_error(e);
    }
    signed_out(&state)
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NoFields {}

fn signed_out(state: &AppState) -> Response {
    let mut r = Redirect::to("/console/sign-in?signed_out=1").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(state, None));
    r
}

pub(crate) async fn sign_out_everywhere(
    State(state): State<AppState>,
    Posted { s, .. }: Posted<NoFields>,
) -> Response {
    match state.roster.sign_out_everywhere(&s.principal).await {
        Ok(_) => signed_out(&state),
        Err(e) => s.error(e),
    }
}

fn password_page(
    key: &str,
    email: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    html(
        status,
        &PasswordPage {
            css: AssetUrls::get().css,
            key: key.chars().filter(char::is_ascii_hexdigit).collect(),
            email,
            error,
            min_chars: PASSWORD_MIN_CHARS,
        },
    )
}

pub(crate) async fn password_page_route(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Response {
    match state.roster.password_link_user(&key).await {
        Ok(u) => password_page(&key, Some(u.email), None, StatusCode::OK),
        Err(CoreError::NotFound(_)) => password_page(&key, None, None, StatusCode::NOT_FOUND),
        Err(e) => service_error(e),
    }
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    pub(crate) password: Secret,
}

impl std::fmt::Debug for PasswordForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordForm")
    }
}

pub(crate) async fn choose_password(
    State(state): State<AppState>,
    client: Option<axum::Extension<Client>>,
    headers: axum::http::HeaderMap,
    Path(key): Path<String>,
    Form(f): Form<PasswordForm>,
) -> Response {
    if !same_origin(&headers, &state) {
        return csrf_refused();
    }
    match state.roster.use_password_link(&key, &f.password).await {
        Ok(user) => {
            // Signed in at once with the password just chosen.
            let address = super::address(client);
            match state
                .roster
                .sign_in(&user.email, &f.password, Some(user.account_id), &address)
                .await
            {
                Ok(signed) => after_password(&state, &signed, "/console")
                    .unwrap_or_else(|| Redirect::to("/console/sign-in").into_response()),
                Err(_) => Redirect::to("/console/sign-in").into_response(),
            }
        }
        Err(CoreError::Validation(errs)) => {
            let email = state
                .roster
                .password_link_user(&key)
                .await
                .ok()
                .map(|u| u.email);
            password_page(&key, email, Some(errs.to_string()), StatusCode::BAD_REQUEST)
        }
        Err(CoreError::NotFound(_)) => password_page(&key, None, None, StatusCode::NOT_FOUND),
        Err(e) => service_error(e),
    }
}
