//! Users Management: the list with its search and filters, a user's page, and what is done to
//! a user there (status, edits, deletion, a password link).

use super::auth::NoFields;
use super::pages::{ListQuery, Paging, full_name, status, user_row, when};
use super::{Posted, Session, html};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use roster_console::pages::{Choice, UserDeletePage, UserPage, UsersPage};
use roster_core::model::UserId;
use roster_core::service::{ListRequest, UserInput};
use roster_core::store::{UserBrowse, UserFilter};

/// Users on a page of Users Management.
const PAGE: i64 = 50;
use serde::Deserialize;

pub(crate) async fn users(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let paging = Paging::new(&q, PAGE);
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
    let cursor = |c: &str| (!c.is_empty()).then(|| c.chars().take(1000).collect::<String>());
    let browse = UserBrowse {
        filter,
        prefix: paging.search.clone(),
        after: cursor(&q.after),
        before: cursor(&q.before),
        limit: PAGE,
    };
    let listed = match state.roster.browse_users(&s.principal, &browse).await {
        Ok(l) => l,
        Err(e) => return s.error(e),
    };
    let base = "/console/users";
    let previous = listed.previous.map(|c| paging.link(base, ("before", c)));
    let next = listed.next.map(|c| paging.link(base, ("after", c)));
    let first = listed
        .first
        .then(|| paging.link(base, ("after", String::new())));
    let idp_names = idp_options(&state, &s).await;
    let search = paging.search.clone();
    let shown = listed.users.len();
    let rows = listed
        .users
        .iter()
        .map(|u| user_row(u, &idp_names))
        .collect();
    let matching = if search.trim().is_empty() && browse.filter == UserFilter::default() {
        "in all"
    } else {
        "match"
    };
    let summary = match (listed.count, listed.more_than_count) {
        (0, _) => "No users match.".to_string(),
        (n, true) => format!(
            "More than {} users {matching}; showing {shown}.",
            grouped(n)
        ),
        (1, false) => format!("1 user {matching}."),
        (n, false) => format!("{n} users {matching}; showing {shown}."),
    };
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
            summary,
            rows,
            previous,
            first,
            next,
        },
    )
}

/// `n` with thousands separated: `1,000`.
fn grouped(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) && c.is_ascii_digit() {
            out.push(',');
        }
        out.push(c);
    }
    out
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
    let can_reset_two_factor = p.is_owner()
        && u.id != p.user().id
        && state.roster.has_two_factor(p, u.id).await.unwrap_or(false);
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
            can_reset_two_factor,
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
        "two-factor-reset" => Some(
            "Two-factor sign-in is reset: the user sets it up again at its next sign-in."
                .to_string(),
        ),
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

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
