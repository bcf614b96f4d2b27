//! Two-factor sign-in: the sign-in's second step (a code, or setting it up when the account
//! requires it), and the user's own page to set it up, renew recovery codes, or turn it off.

use super::auth::PasswordForm;
use super::{AnyStage, ENROLL_STEP, Posted, SECOND_STEP, Session, html, redirect, session_cookie};
use crate::AppState;
use crate::client::Client;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use roster_console::assets::AssetUrls;
use roster_console::pages::{SignInCodePage, TotpSetupView, TwoFactorPage};
use roster_core::model::{SessionStage, UserId};
use roster_core::service::{TotpSetup, TwoFactor};
use roster_core::{AuthFailure, CoreError, Secret};
use serde::Deserialize;

fn setup_view(setup: &TotpSetup) -> TotpSetupView {
    TotpSetupView {
        qr_svg: roster_console::qr_svg(
            setup.uri.expose(),
            "QR code of your two-factor sign-in key, for an authenticator app",
        )
        .unwrap_or_default(),
        secret: setup.secret.expose().to_string(),
    }
}

fn shown(codes: Vec<Secret>) -> Vec<String> {
    codes.iter().map(|c| c.expose().to_string()).collect()
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    #[serde(default)]
    code: String,
    /// Where the sign-in goes once done (a console path).
    #[serde(default)]
    next: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct NextQuery {
    next: String,
}

impl std::fmt::Debug for CodeForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeForm")
    }
}

/// The sign-in's second step as a page.
struct Step<'a> {
    s: &'a AnyStage,
    next: &'a str,
    error: Option<String>,
    setup: Option<TotpSetupView>,
    codes: Vec<String>,
}

impl Step<'_> {
    fn render(self, status: StatusCode) -> Response {
        let enroll = self.s.stage == SessionStage::Enroll || !self.codes.is_empty();
        html(
            status,
            &SignInCodePage {
                title: if enroll {
                    "Set up two-factor sign-in".into()
                } else {
                    "Two-factor sign-in".into()
                },
                assets: AssetUrls::get(),
                csrf: self.s.csrf(),
                email: self.s.principal.user().email.clone(),
                error: self.error,
                enroll,
                setup: self.setup,
                codes: self.codes,
                next: super::local_path(self.next),
            },
        )
    }
}

/// `None` for a session at `stage`; for one at another stage, the way to where it belongs.
fn elsewhere(s: &AnyStage, stage: SessionStage) -> Option<Response> {
    match s.stage {
        x if x == stage => None,
        SessionStage::Full => Some(redirect("/console")),
        SessionStage::SecondFactor => Some(redirect(SECOND_STEP)),
        SessionStage::Enroll => Some(redirect(ENROLL_STEP)),
    }
}

fn with_cookie(state: &AppState, key: &str, mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(state, Some(key)));
    r
}

pub(crate) async fn code_page(Query(q): Query<NextQuery>, s: AnyStage) -> Response {
    if let Some(r) = elsewhere(&s, SessionStage::SecondFactor) {
        return r;
    }
    Step {
        s: &s,
        next: &q.next,
        error: None,
        setup: None,
        codes: Vec::new(),
    }
    .render(StatusCode::OK)
}

pub(crate) async fn give_code(
    State(state): State<AppState>,
    client: Option<axum::Extension<Client>>,
    Posted { s, form }: Posted<CodeForm, AnyStage>,
) -> Response {
    if let Some(r) = elsewhere(&s, SessionStage::SecondFactor) {
        return r;
    }
    let address = super::address(client);
    let failed = |error: String, status: StatusCode| {
        let mut r = Step {
            s: &s,
            next: &form.next,
            error: Some(error),
            setup: None,
            codes: Vec::new(),
        }
        .render(status);
        r.extensions_mut().insert(super::ConsoleRendered);
        r
    };
    match state
        .roster
        .second_factor(&s.key, &form.code, &address)
        .await
    {
        Ok(key) => with_cookie(
            &state,
            key.0.expose(),
            redirect(&super::local_path(&form.next)),
        ),
        Err(CoreError::Unauthenticated(AuthFailure::Code)) => {
            failed(AuthFailure::Code.message().into(), StatusCode::UNAUTHORIZED)
        }
        Err(CoreError::Throttled(wait)) => failed(
            format!("Too many wrong codes. Try again in {wait} seconds."),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(CoreError::Unauthenticated(_)) => redirect("/console/sign-in"),
        Err(e) => super::service_error(e),
    }
}

async fn enroll_page(state: &AppState, s: &AnyStage, error: Option<String>) -> Response {
    match state.roster.two_factor(&s.principal).await {
        Ok(t) => Step {
            s,
            next: "/console",
            setup: t.setting_up.as_ref().map(setup_view),
            error: error.clone(),
            codes: Vec::new(),
        }
        .render(if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        }),
        Err(e) => super::service_error(e),
    }
}

pub(crate) async fn enroll(State(state): State<AppState>, s: AnyStage) -> Response {
    if let Some(r) = elsewhere(&s, SessionStage::Enroll) {
        return r;
    }
    enroll_page(&state, &s, None).await
}

pub(crate) async fn enroll_start(
    State(state): State<AppState>,
    Posted { s, .. }: Posted<super::auth::NoFields, AnyStage>,
) -> Response {
    if let Some(r) = elsewhere(&s, SessionStage::Enroll) {
        return r;
    }
    match state.roster.start_two_factor(&s.principal).await {
        Ok(_) => redirect(ENROLL_STEP),
        Err(e) => super::service_error(e),
    }
}

pub(crate) async fn enroll_confirm(
    State(state): State<AppState>,
    Posted { s, form }: Posted<CodeForm, AnyStage>,
) -> Response {
    if let Some(r) = elsewhere(&s, SessionStage::Enroll) {
        return r;
    }
    let codes = match state
        .roster
        .confirm_two_factor(&s.principal, &form.code)
        .await
    {
        Ok(codes) => codes,
        Err(CoreError::Validation(errs)) => {
            return enroll_page(&state, &s, Some(errs.to_string())).await;
        }
        Err(e) => return super::service_error(e),
    };
    match state.roster.finish_enrollment(&s.key).await {
        Ok(key) => {
            let page = Step {
                s: &s,
                next: "/console",
                error: None,
                setup: None,
                codes: shown(codes),
            }
            .render(StatusCode::OK);
            with_cookie(&state, key.0.expose(), page)
        }
        Err(e) => super::service_error(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Notice {
    done: Option<String>,
}

/// The user's two-factor page.
fn page(
    s: &Session,
    t: &TwoFactor,
    notice: Option<String>,
    error: Option<String>,
    codes: Vec<String>,
) -> Response {
    html(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &TwoFactorPage {
            layout: s.layout("Two-factor sign-in", "/console/profile"),
            notice,
            error,
            on: t.on,
            required: t.required_by_account || s.principal.user().two_factor_enabled,
            recovery_codes_left: t.recovery_codes_left,
            setup: t.setting_up.as_ref().map(setup_view),
            codes,
        },
    )
}

async fn render(
    state: &AppState,
    s: &Session,
    notice: Option<String>,
    error: Option<String>,
    codes: Vec<String>,
) -> Response {
    match state.roster.two_factor(&s.principal).await {
        Ok(t) => page(s, &t, notice, error, codes),
        Err(e) => s.error(e),
    }
}

pub(crate) async fn profile(
    State(state): State<AppState>,
    Query(q): Query<Notice>,
    s: Session,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("off") => Some("Two-factor sign-in is off.".to_string()),
        _ => None,
    };
    render(&state, &s, notice, None, Vec::new()).await
}

pub(crate) async fn start(
    State(state): State<AppState>,
    Posted { s, .. }: Posted<super::auth::NoFields>,
) -> Response {
    match state.roster.start_two_factor(&s.principal).await {
        Ok(_) => redirect("/console/profile/two-factor"),
        Err(e) => s.error(e),
    }
}

pub(crate) async fn confirm(
    State(state): State<AppState>,
    Posted { s, form }: Posted<CodeForm>,
) -> Response {
    match state
        .roster
        .confirm_two_factor(&s.principal, &form.code)
        .await
    {
        Ok(codes) => {
            let notice = Some("Two-factor sign-in is on.".to_string());
            render(&state, &s, notice, None, shown(codes)).await
        }
        Err(CoreError::Validation(errs)) => {
            render(&state, &s, None, Some(errs.to_string()), Vec::new()).await
        }
        Err(e) => s.error(e),
    }
}

/// A password form's failure: on the page, or (not a form mistake) as an error page.
async fn password_failed(state: &AppState, s: &Session, e: CoreError) -> Response {
    match e {
        CoreError::Validation(errs) => {
            render(state, s, None, Some(errs.to_string()), Vec::new()).await
        }
        CoreError::Throttled(wait) => {
            let error = format!("Too many wrong passwords. Try again in {wait} seconds.");
            render(state, s, None, Some(error), Vec::new()).await
        }
        e => s.error(e),
    }
}

pub(crate) async fn turn_off(
    State(state): State<AppState>,
    client: Option<axum::Extension<Client>>,
    Posted { s, form }: Posted<PasswordForm>,
) -> Response {
    let address = super::address(client);
    match state
        .roster
        .turn_off_two_factor(&s.principal, &form.password, &address)
        .await
    {
        Ok(()) => redirect("/console/profile/two-factor?done=off"),
        Err(e) => password_failed(&state, &s, e).await,
    }
}

pub(crate) async fn recovery_codes(
    State(state): State<AppState>,
    client: Option<axum::Extension<Client>>,
    Posted { s, form }: Posted<PasswordForm>,
) -> Response {
    let address = super::address(client);
    match state
        .roster
        .new_recovery_codes(&s.principal, &form.password, &address)
        .await
    {
        Ok(codes) => {
            let notice = Some("New recovery codes made; the old ones no longer work.".into());
            render(&state, &s, notice, None, shown(codes)).await
        }
        Err(e) => password_failed(&state, &s, e).await,
    }
}

/// An owner resets a user's two-factor sign-in.
pub(crate) async fn reset(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { s, .. }: Posted<super::auth::NoFields>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return s.error(CoreError::NotFound("User"));
    };
    match state
        .roster
        .reset_two_factor(&s.principal, UserId(id))
        .await
    {
        Ok(()) => redirect(&format!("/console/users/{id}?done=two-factor-reset")),
        Err(e) => s.error(e),
    }
}
