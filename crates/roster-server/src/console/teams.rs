//! Teams in the console: the list, and a team with its permissions and its members, paged by
//! user id (so a team of 100,000 members answers as fast as one of ten). Teams an identity
//! provider made are read-only here: the provider decides their members.

use super::pages::{ListQuery, Paging, user_row, when};
use super::{Session, html};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_console::pages::{TeamPage, TeamRow, TeamsPage};
use roster_core::CoreError;
use roster_core::model::{Team, TeamId, UserId};
use serde::Deserialize;

const PAGE: i64 = 50;

fn permissions(t: &Team) -> String {
    if t.permissions.is_empty() {
        "none".to_string()
    } else {
        t.permissions
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn team_status(t: &Team) -> (&'static str, &'static str) {
    if t.is_active {
        ("active", "ok")
    } else {
        ("inactive", "off")
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let paging = Paging::new(&q, PAGE);
    let listed = match state
        .roster
        .list_teams(&s.principal, &paging.request("name"))
        .await
    {
        Ok(l) => l,
        Err(e) => return s.error(e),
    };
    let (pages, previous, next) = paging.links("/console/teams", listed.total);
    let page = paging.page;
    let rows = listed
        .items
        .iter()
        .map(|t| {
            let (status, status_class) = team_status(t);
            TeamRow {
                id: t.id.0,
                name: t.name.clone(),
                status,
                status_class,
                managed_by: t
                    .provisioning
                    .idp_uuid
                    .map_or("by hand".into(), |i| format!("identity provider {i}")),
                permissions: permissions(t),
                modified: when(&t.last_modified),
            }
        })
        .collect();
    html(
        StatusCode::OK,
        &TeamsPage {
            layout: s.layout("Teams", "/console/teams"),
            q: paging.search.clone(),
            summary: if listed.total == 0 {
                "No teams match.".into()
            } else {
                format!("{} teams in all; page {page} of {pages}.", listed.total)
            },
            rows,
            previous,
            next,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TeamQuery {
    /// Members after this user id.
    after: Option<i64>,
}

pub(crate) async fn team(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<TeamQuery>,
) -> Response {
    let Some(id) = id.parse::<i64>().ok().filter(|n| *n > 0).map(TeamId) else {
        return s.error(CoreError::NotFound("Team"));
    };
    let t = match state.roster.get_team(&s.principal, id).await {
        Ok(t) => t,
        Err(e) => return s.error(e),
    };
    let after = q.after.filter(|n| *n > 0).map(UserId);
    let (members, more) = match state
        .roster
        .team_members(&s.principal, id, after, PAGE)
        .await
    {
        Ok(m) => m,
        Err(e) => return s.error(e),
    };
    let (st, st_class) = team_status(&t);
    let next = if more {
        members
            .last()
            .map(|u| format!("/console/teams/{}?after={}", id.0, u.id.0))
    } else {
        None
    };
    let rows = members.iter().map(|u| user_row(u, &[])).collect::<Vec<_>>();
    html(
        StatusCode::OK,
        &TeamPage {
            layout: s.layout(&t.name, "/console/teams"),
            id: t.id.0,
            name: t.name.clone(),
            status: st,
            status_class: st_class,
            scim_id: t.scim_ref().to_string(),
            permissions: permissions(&t),
            modified: when(&t.last_modified),
            managed_by: t.provisioning.idp_uuid.map(|i| i.to_string()),
            members_summary: match (rows.len(), after) {
                (0, None) => "No members.".into(),
                (n, None) if !more => format!(
                    "{n} member{}, by when they joined Roster.",
                    if n == 1 { "" } else { "s" }
                ),
                (n, None) => format!("The first {n} members, by when they joined Roster."),
                (n, Some(_)) => format!("{n} more member{}.", if n == 1 { "" } else { "s" }),
            },
            members: rows,
            first: after.map(|_| format!("/console/teams/{}", id.0)),
            next,
        },
    )
}
