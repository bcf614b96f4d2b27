//! The overview, and what the console's pages share: formatting, and list paging.

use super::{Session, html};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use roster_console::pages::{OverviewPage, UserRow, activity_svg};
use roster_core::model::User;
use roster_core::service::ListRequest;
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
    /// Users Management's cursors: the page after, or before, this folded email.
    pub after: String,
    pub before: String,
    /// Users Management's filters: `active` / `inactive`; `hand` or a provider's uuid; a team id.
    pub status: String,
    pub idp: String,
    pub team: String,
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

    /// `base` with this search and these filters, and `extra` (a page, a cursor).
    pub(crate) fn link(&self, base: &str, extra: (&'static str, String)) -> String {
        let mut pairs = vec![("q", self.search.clone())];
        pairs.extend(self.kept.iter().cloned());
        pairs.push(extra);
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        format!("{base}?{query}")
    }

    /// How many pages `total` rows make, and the links to the previous and next pages of `base`.
    pub(crate) fn links(&self, base: &str, total: i64) -> (i64, Option<String>, Option<String>) {
        let pages = (total + self.size - 1) / self.size;
        let link = |p: u32| self.link(base, ("page", p.to_string()));
        (
            pages,
            (self.page > 1).then(|| link(self.page - 1)),
            (i64::from(self.page) < pages).then(|| link(self.page + 1)),
        )
    }
}

/// A user as the console's lists show it (`names`: provider uuids and names, for "provisioned by").
pub(crate) fn user_row(u: &User, names: &[(String, String)]) -> UserRow {
    let (status, status_class) = status(u);
    UserRow {
        id: u.id.0,
        name: full_name(u),
        email: u.email.clone(),
        status,
        status_class,
        provisioned_by: provisioned_by(u, names),
        teams: u
            .teams
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        modified: when(&u.last_modified),
    }
}
