//! The console: server-rendered pages (templates in `roster-console`) over the same service
//! functions the IAM API calls. Handlers here extract, call one service function, and render.
//!
//! - A session is a cookie (`roster_session`: `HttpOnly`, `SameSite=Lax`, `Path=/console`,
//!   `Secure` when the public URL is HTTPS) holding the session key; [`Session`] finds its
//!   principal, or sends the browser to the sign-in page.
//! - Every state-changing request carries the session's CSRF token (a form field `csrf`, or
//!   htmx's `X-CSRF-Token` header) and, when the browser sends one, an `Origin` of this server.
//! - Every page is sent with a `Content-Security-Policy` without `unsafe-inline`,
//!   `X-Frame-Options: DENY`, and `Cache-Control: no-store`; assets with a year of caching under
//!   their content hash.

mod auth;
mod idp_certificates;
mod idps;
mod pages;
mod settings;
mod teams;
mod tokens;
mod two_factor;
mod users;

use crate::AppState;
use crate::routes::{Api, Route, route};
use askama::Template;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use roster_console::assets::AssetUrls;
use roster_console::pages::{ErrorPage, Layout, NavItem};
use roster_core::model::SessionStage;
use roster_core::{AuthFailure, CoreError, Principal};

pub(crate) const COOKIE: &str = "roster_session";

pub(crate) fn routes() -> Vec<Route> {
    vec![
        route(
            Api::Public,
            "/",
            "GET",
            get(|| async { Redirect::to("/console") }),
        ),
        route(Api::Public, "/console/assets/{file}", "GET", get(asset)),
        route(
            Api::Public,
            "/console/sign-in",
            "GET, POST",
            get(auth::sign_in_page).post(auth::sign_in),
        ),
        route(
            Api::Public,
            "/console/password/{key}",
            "GET, POST",
            get(auth::password_page_route).post(auth::choose_password),
        ),
        route(
            Api::Public,
            "/console/sign-in/code",
            "GET, POST",
            get(two_factor::code_page).post(two_factor::give_code),
        ),
        route(
            Api::Public,
            "/console/sign-in/two-factor",
            "GET, POST",
            get(two_factor::enroll).post(two_factor::enroll_confirm),
        ),
        route(
            Api::Public,
            "/console/sign-in/two-factor/start",
            "POST",
            post(two_factor::enroll_start),
        ),
        route(
            Api::Public,
            "/console/sign-out",
            "POST",
            post(auth::sign_out),
        ),
        route(
            Api::Console,
            "/console/sign-out-everywhere",
            "POST",
            post(auth::sign_out_everywhere),
        ),
        route(Api::Console, "/console", "GET", get(pages::overview)),
        route(Api::Console, "/console/users", "GET", get(users::users)),
        route(Api::Console, "/console/users/{id}", "GET", get(users::user)),
        route(
            Api::Console,
            "/console/users/{id}/status",
            "POST",
            post(users::set_user_status),
        ),
        route(
            Api::Console,
            "/console/users/{id}/edit",
            "POST",
            post(users::edit_user),
        ),
        route(
            Api::Console,
            "/console/users/{id}/delete",
            "GET, POST",
            get(users::confirm_delete).post(users::delete_user),
        ),
        route(
            Api::Console,
            "/console/users/{id}/password-link",
            "POST",
            post(users::make_password_link),
        ),
        route(
            Api::Console,
            "/console/tokens",
            "GET, POST",
            get(tokens::tokens).post(tokens::create_token),
        ),
        route(
            Api::Console,
            "/console/tokens/{uuid}/revoke",
            "POST",
            post(tokens::revoke_token),
        ),
        route(
            Api::Console,
            "/console/identity-providers",
            "GET, POST",
            get(idps::list).post(idps::create),
        ),
        route(
            Api::Console,
            "/console/identity-providers/{uuid}",
            "GET",
            get(idps::page),
        ),
        route(
            Api::Console,
            "/console/identity-providers/{uuid}/scim-token",
            "POST",
            post(idps::scim_token),
        ),
        route(
            Api::Console,
            "/console/identity-providers/{uuid}/test-connection",
            "POST",
            post(idps::test_connection),
        ),
        route(
            Api::Console,
            "/console/identity-providers/{uuid}/metadata",
            "POST",
            post(idp_certificates::update),
        ),
        route(
            Api::Console,
            "/console/identity-providers/{uuid}/settings",
            "POST",
            post(idps::settings),
        ),
        route(Api::Console, "/console/teams", "GET", get(teams::list)),
        route(Api::Console, "/console/teams/{id}", "GET", get(teams::team)),
        route(
            Api::Console,
            "/console/account",
            "GET, POST",
            get(settings::account).post(settings::save_account),
        ),
        route(
            Api::Console,
            "/console/account/two-factor",
            "POST",
            post(settings::require_two_factor),
        ),
        route(
            Api::Console,
            "/console/profile",
            "GET",
            get(settings::profile),
        ),
        route(
            Api::Console,
            "/console/profile/password",
            "POST",
            post(settings::change_password),
        ),
        route(
            Api::Console,
            "/console/profile/two-factor",
            "GET",
            get(two_factor::profile),
        ),
        route(
            Api::Console,
            "/console/profile/two-factor/start",
            "POST",
            post(two_factor::start),
        ),
        route(
            Api::Console,
            "/console/profile/two-factor/confirm",
            "POST",
            post(two_factor::confirm),
        ),
        route(
            Api::Console,
            "/console/profile/two-factor/off",
            "POST",
            post(two_factor::turn_off),
        ),
        route(
            Api::Console,
            "/console/profile/two-factor/recovery-codes",
            "POST",
            post(two_factor::recovery_codes),
        ),
        route(
            Api::Console,
            "/console/users/{id}/reset-two-factor",
            "POST",
            post(two_factor::reset),
        ),
    ]
}

/// A response the console rendered itself (the error layer leaves it alone).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConsoleRendered;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers every console page carries.
fn page_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A rendered page with `status`.
pub(crate) fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut r = (status, body).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            page_headers(r.headers_mut());
            r.extensions_mut().insert(ConsoleRendered);
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "a console page failed to render");
            plain_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )
        }
    }
}

/// A minimal page for errors met before a session is known (and for the layers' errors).
pub(crate) fn plain_error(status: StatusCode, message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let css = AssetUrls::get().css;
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code} · Roster</title>\
         <link rel=\"stylesheet\" href=\"{css}\"></head><body><main class=\"center\" id=\"main\">\
         <div class=\"panel\"><h1>{code} {reason}</h1><p role=\"alert\">{escaped}</p>\
         <p><a href=\"/console\">Go to the console</a></p></div></main></body></html>",
        code = status.as_u16(),
        reason = status.canonical_reason().unwrap_or("Error"),
    );
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    page_headers(r.headers_mut());
    r.extensions_mut().insert(ConsoleRendered);
    r
}

/// The client's address, as the sign-in throttle counts it.
pub(crate) fn address(client: Option<axum::Extension<crate::client::Client>>) -> String {
    client
        .and_then(|c| c.0.addr)
        .map_or_else(|| "unknown".to_string(), |a| a.to_string())
}

/// A service error met before a session is known, as a plain page: never the internals.
pub(crate) fn service_error(e: CoreError) -> Response {
    match e {
        CoreError::Internal(cause) => {
            tracing::error!(%cause, "internal error in the console");
            plain_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Roster could not do that. Nothing was changed.",
            )
        }
        CoreError::Unavailable(_) => plain_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Roster is busy or cannot reach its database. Try again in a moment.",
        ),
        other => plain_error(StatusCode::BAD_REQUEST, &other.to_string()),
    }
}

/// Serve an embedded asset, cached for a year (its URL changes with its content).
async fn asset(req: Request) -> Response {
    match roster_console::assets::find(req.uri().path()) {
        Some(a) => {
            let mut r = a.body.into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(a.content_type),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            r.extensions_mut().insert(ConsoleRendered);
            r
        }
        None => plain_error(StatusCode::NOT_FOUND, "No such file."),
    }
}

/// The session key the browser sent, if any.
pub(crate) fn session_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_string())
}

/// The signed-in user of a console request, with its session key (for the CSRF token).
pub(crate) struct Session {
    pub principal: Principal,
    pub key: String,
    pub account_name: String,
    /// htmx sent this session's CSRF token in its `X-CSRF-Token` header (checked).
    pub header_csrf: bool,
}

impl Session {
    pub(crate) fn csrf(&self) -> String {
        roster_core::service::csrf_token(&self.key)
    }

    /// The frame of a page titled `title`, with `current` marked in the navigation.
    pub(crate) fn layout(&self, title: &str, current: &str) -> Layout {
        let p = &self.principal;
        let mut nav = Vec::new();
        let mut add = |href: &'static str, label: &'static str| {
            nav.push(NavItem {
                href,
                label,
                current: href == current,
            });
        };
        if p.has(roster_core::model::perm::VIEW_USERS) {
            add("/console", "Overview");
            add("/console/users", "Users Management");
            add("/console/teams", "Teams");
        }
        if p.is_owner() {
            add("/console/identity-providers", "Identity providers");
        }
        add("/console/tokens", "Personal tokens");
        if p.is_owner() {
            add("/console/account", "Account");
        }
        add("/console/profile", "Your profile");
        Layout {
            title: title.to_string(),
            csrf: self.csrf(),
            user_email: p.user().email.clone(),
            account_name: self.account_name.clone(),
            nav,
            assets: AssetUrls::get(),
        }
    }

    /// A service error as a page a person understands.
    pub(crate) fn error(&self, e: CoreError) -> Response {
        let (status, heading) = match &e {
            CoreError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
            CoreError::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed"),
            CoreError::Validation(_) => (StatusCode::BAD_REQUEST, "That did not work"),
            CoreError::Conflict { .. } | CoreError::PreconditionFailed => {
                (StatusCode::CONFLICT, "That did not work")
            }
            CoreError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "Slow down"),
            CoreError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "Sign in again"),
            CoreError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "Busy"),
            CoreError::Internal(cause) => {
                tracing::error!(%cause, "internal error in the console");
                (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
            }
        };
        let message = match &e {
            CoreError::Internal(_) => "Roster could not do that. Nothing was changed.".to_string(),
            other => other.to_string(),
        };
        html(
            status,
            &ErrorPage {
                layout: self.layout(heading, ""),
                heading: heading.to_string(),
                message,
            },
        )
    }
}

/// Where the sign-in page sends the browser back to: a local path only (never another site).
pub(crate) fn local_path(next: &str) -> String {
    let ok = next.starts_with("/console")
        && !next.starts_with("//")
        && next.len() <= 512
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if ok {
        next.to_string()
    } else {
        "/console".to_string()
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_sign_in = |parts: &Parts| {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/console");
            let q = serde_urlencoded::to_string([("next", local_path(next))]).unwrap_or_default();
            let mut r = Redirect::to(&format!("/console/sign-in?{q}")).into_response();
            r.extensions_mut().insert(ConsoleRendered);
            r
        };
        let Some(key) = session_key(&parts.headers) else {
            return Err(to_sign_in(parts));
        };
        let principal = match state.roster.session(&key).await {
            Ok(p) => p,
            // A sign-in still to finish goes on where it stopped.
            Err(CoreError::Unauthenticated(AuthFailure::SecondFactor)) => {
                return Err(redirect(SECOND_STEP));
            }
            Err(CoreError::Unauthenticated(AuthFailure::Enroll)) => {
                return Err(redirect(ENROLL_STEP));
            }
            Err(CoreError::Unauthenticated(_)) => return Err(to_sign_in(parts)),
            Err(e) => return Err(service_error(e)),
        };
        let header_csrf = checked_origin_and_header(parts, state, &key).map_err(Refused::page)?;
        let account_name = state
            .roster
            .account_name(&principal)
            .await
            .unwrap_or_default();
        Ok(Session {
            principal,
            key,
            account_name,
            header_csrf,
        })
    }
}

/// Where a sign-in goes for its two-factor code, and to set two-factor sign-in up.
pub(crate) const SECOND_STEP: &str = "/console/sign-in/code";
pub(crate) const ENROLL_STEP: &str = "/console/sign-in/two-factor";

/// A redirect the console made (the error layer leaves it alone).
pub(crate) fn redirect(to: &str) -> Response {
    let mut r = Redirect::to(to).into_response();
    r.extensions_mut().insert(ConsoleRendered);
    r
}

/// Why a state-changing request was refused before its handler.
#[derive(Debug, Clone, Copy)]
enum Refused {
    CrossSite,
    Csrf,
}

impl Refused {
    fn page(self) -> Response {
        match self {
            Refused::CrossSite => plain_error(
                StatusCode::FORBIDDEN,
                "This request came from another site, so it was refused.",
            ),
            Refused::Csrf => csrf_refused(),
        }
    }
}

/// For a state-changing request: refuse another site's `Origin`, and check htmx's
/// `X-CSRF-Token` header if sent (answer whether it was; a form's field is checked by
/// [`Posted`]).
fn checked_origin_and_header(parts: &Parts, state: &AppState, key: &str) -> Result<bool, Refused> {
    if parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD {
        return Ok(false);
    }
    if !same_origin(&parts.headers, state) {
        return Err(Refused::CrossSite);
    }
    match parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        Some(sent) if roster_core::service::csrf_matches(key, sent) => Ok(true),
        Some(_) => Err(Refused::Csrf),
        None => Ok(false),
    }
}

/// A console session at any stage of its sign-in (signed in, or still to give its two-factor
/// code or set two-factor up): for the sign-in's own steps and signing out.
pub(crate) struct AnyStage {
    pub stage: SessionStage,
    pub principal: Principal,
    pub key: String,
    pub header_csrf: bool,
}

impl AnyStage {
    pub(crate) fn csrf(&self) -> String {
        roster_core::service::csrf_token(&self.key)
    }
}

impl FromRequestParts<AppState> for AnyStage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(key) = session_key(&parts.headers) else {
            return Err(redirect("/console/sign-in"));
        };
        let (stage, principal) = match state.roster.session_at_any_stage(&key).await {
            Ok(found) => found,
            Err(CoreError::Unauthenticated(_)) => return Err(redirect("/console/sign-in")),
            Err(e) => return Err(service_error(e)),
        };
        let header_csrf = checked_origin_and_header(parts, state, &key).map_err(Refused::page)?;
        Ok(AnyStage {
            stage,
            principal,
            key,
            header_csrf,
        })
    }
}

/// A session extractor whose key signs the CSRF token of its forms.
pub(crate) trait Keyed: FromRequestParts<AppState, Rejection = Response> + Send {
    fn key(&self) -> &str;
    /// htmx sent the session's CSRF token in its header (checked).
    fn header_csrf(&self) -> bool;
}

impl Keyed for Session {
    fn key(&self) -> &str {
        &self.key
    }
    fn header_csrf(&self) -> bool {
        self.header_csrf
    }
}

impl Keyed for AnyStage {
    fn key(&self) -> &str {
        &self.key
    }
    fn header_csrf(&self) -> bool {
        self.header_csrf
    }
}

/// A state-changing console request: its session (`S`), and its form (`T`), admitted only with
/// the session's CSRF token (the form's `csrf` field, or htmx's header).
pub(crate) struct Posted<T, S = Session> {
    pub s: S,
    pub form: T,
}

impl<T: serde::de::DeserializeOwned + Send, S: Keyed> axum::extract::FromRequest<AppState>
    for Posted<T, S>
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        #[derive(Default, serde::Deserialize)]
        #[serde(default)]
        struct Csrf {
            csrf: String,
        }
        let (mut parts, body) = req.into_parts();
        let s = S::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let unreadable = || {
            plain_error(
                StatusCode::BAD_REQUEST,
                "The form could not be read. Go back, reload the page, and try again.",
            )
        };
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| unreadable())?;
        let sent: Csrf = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        if !(s.header_csrf() || roster_core::service::csrf_matches(s.key(), &sent.csrf)) {
            return Err(csrf_refused());
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|_| unreadable())?;
        Ok(Posted { s, form })
    }
}

pub(crate) fn csrf_refused() -> Response {
    plain_error(
        StatusCode::FORBIDDEN,
        "This form has expired or did not come from this console. Go back, reload the page, and try again.",
    )
}

/// Does the request's `Origin` (when the browser sent one) name this server?
pub(crate) fn same_origin(headers: &HeaderMap, state: &AppState) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let public = state.roster.urls().api.trim_end_matches('/');
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin == public || origin == format!("http://{host}") || origin == format!("https://{host}")
}

/// The `Set-Cookie` value of a session (`None`: clear it).
pub(crate) fn session_cookie(state: &AppState, key: Option<&str>) -> HeaderValue {
    let secure = state.roster.urls().api.starts_with("https://");
    let mut c = cookie::Cookie::build((COOKIE, key.unwrap_or("").to_string()))
        .path("/console")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure);
    if key.is_none() {
        c = c.max_age(cookie::time::Duration::ZERO);
    }
    HeaderValue::from_str(&c.build().to_string()).unwrap_or(HeaderValue::from_static(""))
}
