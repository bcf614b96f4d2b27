//! The signed-in pages: overview, users, a user, personal tokens, the profile.

use super::auth::NoFields;
use super::{Posted, Session, html};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use roster_console::pages::{
    AccountPage, Choice, OverviewPage, ProfilePage, TokenRow, TokensPage, UserDeletePage, UserPage,
    UserRow, UsersPage, activity_svg,
};
use roster_core::Secret;
use roster_core::model::{User, UserId};
use roster_core::service::{ListRequest, PASSWORD_MIN_CHARS, TokenInput, UserInput};
use roster_core::store::UserFilter;
use serde::Deserialize;

pub(crate) fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub(crate) fn full_name(u: &User) -> String {
    let name = format!("{} {}", u.first_name, u.last_name);
    let name = name.trim();
    if name.is_empty() {
        u.email.clone()
    } else {
        name.to_string()
    }
}

pub(crate) fn status(u: &User) -> (&'static str, &'static str) {
    if u.is_active {
        ("active", "ok")
    } else {
        ("inactive", "off")
    }
}

/// Who provisioned the user: its identity provider, by name when `names` (uuid → name) knows it.
fn provisioned_by(u: &User, names: &[(String, String)]) -> String {
    match u.provisioning.idp_uuid {
        Some(idp) => {
            let uuid = idp.to_string();
            match names.iter().find(|(id, _)| *id == uuid) {
                Some((_, name)) => name.clone(),
                None => format!("identity provider {idp}"),
            }
        }
        None => "by hand".to_string(),
    }
}

pub(crate) async fn overview(State(state): State<AppState>, s: Session) -> Response {
    if !s.principal.has(roster_core::model::perm::VIEW_USERS) {
        return Redirect::to("/console/profile").into_response();
    }
    match state.roster.overview(&s.principal).await {
        Ok(o) => {
            let last = o.since + Duration::hours(roster_core::service::ACTIVITY_HOURS - 1);
            html(
                StatusCode::OK,
                &OverviewPage {
                    layout: s.layout("Overview", "/console"),
                    users_active: o.users_active,
                    users_inactive: o.users_inactive,
                    teams: o.teams,
                    idps: o.idps,
                    requests_24h: o.requests_24h,
                    failures_24h: o.failures_24h,
                    activity_svg: activity_svg(&o.hourly, &when(&o.since), &when(&last)),
                },
            )
        }
        Err(e) => s.error(e),
    }
}

/// A searchable, paged list's query (`?q=…&page=…`), for users and teams alike.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ListQuery {
    q: String,
    page: Option<u32>,
    /// Users Management's filters: `active` / `inactive`; `hand` or a provider's uuid; a team id.
    status: String,
    idp: String,
    team: String,
}

/// A list page's paging: the page asked for and its search (at most 100 characters).
pub(crate) struct Paging {
    pub page: u32,
    pub search: String,
    size: i64,
    /// Filters the page links carry on.
    kept: Vec<(&'static str, String)>,
}

impl Paging {
    pub(crate) fn new(q: &ListQuery, size: i64) -> Self {
        let kept = [("status", &q.status), ("idp", &q.idp), ("team", &q.team)]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k, v.chars().take(64).collect()))
            .collect();
        Self {
            page: q.page.unwrap_or(1).max(1),
            search: q.q.chars().take(100).collect(),
            size,
            kept,
        }
    }

    /// The service's list request, ordered by `ordering`.
    pub(crate) fn request(&self, ordering: &str) -> ListRequest {
        let search = self.search.trim();
        ListRequest {
            page: Some(self.page.to_string()),
            page_size: Some(self.size.to_string()),
            ordering: Some(ordering.into()),
            search: (!search.is_empty()).then(|| search.to_string()),
        }
    }

    /// How many pages `total` rows make, and the links to the previous and next pages of `base`.
    pub(crate) fn links(&self, base: &str, total: i64) -> (i64, Option<String>, Option<String>) {
        let pages = (total + self.size - 1) / self.size;
        let link = |p: u32| {
            let mut pairs = vec![("q", self.search.clone())];
            pairs.extend(self.kept.iter().cloned());
            pairs.push(("page", p.to_string()));
            let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
            format!("{base}?{query}")
        };
        (
            pages,
            (self.page > 1).then(|| link(self.page - 1)),
            (i64::from(self.page) < pages).then(|| link(self.page + 1)),
        )
    }
}

pub(crate) async fn users(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let paging = Paging::new(&q, 50);
    let filter = UserFilter {
        active: match q.status.as_str() {
            "active" => Some(true),
            "inactive" => Some(false),
            _ => None,
        },
        idp: match q.idp.as_str() {
            "hand" => Some(None),
            other => uuid::Uuid::parse_str(other).ok().map(Some),
        },
        team: q.team.parse::<i64>().ok().map(roster_core::model::TeamId),
    };
    let listed = match state
        .roster
        .find_users(&s.principal, &paging.request("email"), &filter)
        .await
    {
        Ok(l) => l,
        Err(e) => return s.error(e),
    };
    let (pages, previous, next) = paging.links("/console/users", listed.total);
    let idp_names = idp_options(&state, &s).await;
    let (page, search) = (paging.page, paging.search.clone());
    let shown = listed.items.len() as i64;
    let rows = listed
        .items
        .iter()
        .map(|u| {
            let (status, status_class) = status(u);
            UserRow {
                id: u.id.0,
                name: full_name(u),
                email: u.email.clone(),
                status,
                status_class,
                provisioned_by: provisioned_by(u, &idp_names),
                teams: u
                    .teams
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                modified: when(&u.last_modified),
            }
        })
        .collect();
    html(
        StatusCode::OK,
        &UsersPage {
            layout: s.layout("Users Management", "/console/users"),
            q: search.clone(),
            statuses: choices(
                &q.status,
                [
                    ("", "Any status"),
                    ("active", "Active"),
                    ("inactive", "Inactive"),
                ]
                .map(|(v, l)| (v.to_string(), l.to_string()))
                .to_vec(),
            ),
            idps: choices(&q.idp, idp_names),
            teams: choices(&q.team, team_options(&state, &s).await),
            summary: if listed.total == 0 {
                "No users match.".to_string()
            } else {
                format!(
                    "{} user{} in all; page {page} of {pages}, showing {shown}.",
                    listed.total,
                    if listed.total == 1 { "" } else { "s" }
                )
            },
            rows,
            previous,
            next,
        },
    )
}

/// Options of a filter, the one `current` names selected.
fn choices(current: &str, options: Vec<(String, String)>) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| Choice {
            selected: value == current,
            value,
            label,
        })
        .collect()
}

/// The "provisioned by" filter's options: anyone, by hand, and each provider (owners see them).
async fn idp_options(state: &AppState, s: &Session) -> Vec<(String, String)> {
    let mut out = vec![
        (String::new(), "Anyone".to_string()),
        ("hand".to_string(), "By hand".to_string()),
    ];
    if let Ok(idps) = state.roster.list_idps(&s.principal).await {
        out.extend(idps.into_iter().map(|i| (i.uuid.to_string(), i.name)));
    }
    out
}

/// The team filter's options: any, and the first 200 teams by name.
async fn team_options(state: &AppState, s: &Session) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), "Any team".to_string())];
    let req = ListRequest {
        page: Some("1".into()),
        page_size: Some("200".into()),
        ordering: Some("name".into()),
        search: None,
    };
    if let Ok(teams) = state.roster.list_teams(&s.principal, &req).await {
        out.extend(teams.items.into_iter().map(|t| (t.id.to_string(), t.name)));
    }
    out
}

async fn user_page(
    state: &AppState,
    s: &Session,
    id: i64,
    notice: Option<String>,
    link: Option<String>,
) -> Response {
    let u = match state.roster.get_user(&s.principal, UserId(id)).await {
        Ok(u) => u,
        Err(e) => return s.error(e),
    };
    let history = match state
        .roster
        .user_history(&s.principal, UserId(id), 50)
        .await
    {
        Ok(h) => h.iter().map(super::idps::log_row).collect(),
        Err(e) => return s.error(e),
    };
    let (status, status_class) = status(&u);
    let p = &s.principal;
    html(
        StatusCode::OK,
        &UserPage {
            layout: s.layout(&full_name(&u), "/console/users"),
            notice,
            id: u.id.0,
            name: full_name(&u),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            email: u.email.clone(),
            active: u.is_active,
            status,
            status_class,
            owner: u.is_account_owner,
            scim_id: u.scim_ref().to_string(),
            external_id: u.provisioning.external_id.clone().unwrap_or_default(),
            joined: when(&u.date_joined),
            modified: when(&u.last_modified),
            teams: u
                .teams
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            managed_by: u.provisioning.idp_uuid.map(|i| i.to_string()),
            can_edit: p.has(roster_core::model::perm::EDIT_USERS) && u.id != p.user().id,
            can_link: p.is_owner() && u.provisioning.idp_uuid.is_none(),
            link,
            history,
            scim_doc: serde_json::to_string_pretty(&u.scim).unwrap_or_default(),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct UserQuery {
    done: String,
}

pub(crate) async fn user(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<UserQuery>,
) -> Response {
    // Only Roster's own words, never the query's text.
    let notice = match q.done.as_str() {
        "activated" => Some("The user is activated.".to_string()),
        "deactivated" => Some("The user is deactivated.".to_string()),
        "saved" => Some("Saved.".to_string()),
        _ => None,
    };
    match id.parse::<i64>() {
        Ok(n) if n > 0 => user_page(&state, &s, n, notice, None).await,
        _ => s.error(roster_core::CoreError::NotFound("User")),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct StatusForm {
    active: String,
}

pub(crate) async fn set_user_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { s, form: f }: Posted<StatusForm>,
) -> Response {
    let Ok(n) = id.parse::<i64>() else {
        return s.error(roster_core::CoreError::NotFound("User"));
    };
    let active = match f.active.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return s.error(roster_core::FieldErrors::single(
                "active",
                "Say true or false.",
            ));
        }
    };
    let input = UserInput {
        is_active: Some(active),
        ..UserInput::default()
    };
    match state
        .roster
        .update_user(&s.principal, UserId(n), &input, true)
        .await
    {
        // Post, then redirect, then get: a reload does not send the form again.
        Ok(_) => {
            let said = if active { "activated" } else { "deactivated" };
            Redirect::to(&format!("/console/users/{n}?done={said}")).into_response()
        }
        Err(e) => s.error(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EditForm {
    first_name: String,
    last_name: String,
    email: String,
}

/// Edit a hand-made user's name and email (the IAM API's rules; a provisioned user's fields are
/// its provider's).
pub(crate) async fn edit_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { s, form: f }: Posted<EditForm>,
) -> Response {
    let Some(n) = id.parse::<i64>().ok().filter(|n| *n > 0) else {
        return s.error(roster_core::CoreError::NotFound("User"));
    };
    match state.roster.get_user(&s.principal, UserId(n)).await {
        Ok(u) if u.provisioning.idp_uuid.is_some() => {
            return s.error(roster_core::CoreError::Forbidden(
                "This user is provisioned by an identity provider, which manages its name and email: change them there.".into(),
            ));
        }
        Ok(_) => {}
        Err(e) => return s.error(e),
    }
    let input = UserInput {
        first_name: Some(f.first_name),
        last_name: Some(f.last_name),
        email: Some(f.email),
        ..UserInput::default()
    };
    match state
        .roster
        .update_user(&s.principal, UserId(n), &input, true)
        .await
    {
        Ok(_) => Redirect::to(&format!("/console/users/{n}?done=saved")).into_response(),
        Err(e) => s.error(e),
    }
}

/// "Delete this user?": the confirmation, which works without JavaScript.
pub(crate) async fn confirm_delete(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> Response {
    let Some(n) = id.parse::<i64>().ok().filter(|n| *n > 0) else {
        return s.error(roster_core::CoreError::NotFound("User"));
    };
    match state.roster.get_user(&s.principal, UserId(n)).await {
        Ok(u) => html(
            StatusCode::OK,
            &UserDeletePage {
                layout: s.layout(&format!("Delete {}", full_name(&u)), "/console/users"),
                id: n,
                name: full_name(&u),
                email: u.email.clone(),
                managed_by: u.provisioning.idp_uuid.map(|i| i.to_string()),
            },
        ),
        Err(e) => s.error(e),
    }
}

pub(crate) async fn delete_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { s, .. }: Posted<NoFields>,
) -> Response {
    let Some(n) = id.parse::<i64>().ok().filter(|n| *n > 0) else {
        return s.error(roster_core::CoreError::NotFound("User"));
    };
    match state.roster.delete_user(&s.principal, UserId(n)).await {
        Ok(()) => Redirect::to("/console/users").into_response(),
        Err(e) => s.error(e),
    }
}

/// An owner makes a one-time link for a hand-made user to choose a password (shown this once).
pub(crate) async fn make_password_link(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { s, .. }: Posted<NoFields>,
) -> Response {
    let Ok(n) = id.parse::<i64>() else {
        return s.error(roster_core::CoreError::NotFound("User"));
    };
    match state
        .roster
        .make_password_link(&s.principal, UserId(n))
        .await
    {
        Ok(key) => {
            let url = state.roster.urls().password_link_url(key.0.expose());
            user_page(&state, &s, n, None, Some(url)).await
        }
        Err(e) => s.error(e),
    }
}

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

async fn account_page(
    state: &AppState,
    s: &Session,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    if let Err(e) = s.principal_is_owner() {
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

fn profile_page(s: &Session, notice: Option<String>, error: Option<String>) -> Response {
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
        },
    )
}

pub(crate) async fn profile(s: Session) -> Response {
    profile_page(&s, None, None)
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
            profile_page(&s, None, Some(errs.to_string()))
        }
        Err(roster_core::CoreError::Throttled(wait)) => profile_page(
            &s,
            None,
            Some(format!(
                "Too many wrong passwords. Try again in {wait} seconds."
            )),
        ),
        Err(e) => s.error(e),
    }
}
