//! Identity providers in the console: the list, registering a SAML provider, and a provider's
//! page (what to paste into the identity provider, its switches, its provisioning log, which
//! refreshes itself). Owners only, as in the IAM API.

use super::{Posted, Session, html};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use roster_console::pages::{
    Choice, ConnectionRow, CopyUrl, IdpForm, IdpPage, IdpRow, IdpsPage, LogRow,
};
use roster_core::CoreError;
use roster_core::model::{IdentityProvider, Protocol};
use roster_core::service::{IdpInput, ListRequest};
use serde::Deserialize;

fn on_off(on: bool, yes: &'static str, no: &'static str) -> (&'static str, &'static str) {
    if on { (yes, "ok") } else { (no, "off") }
}

fn row(i: &IdentityProvider) -> IdpRow {
    let (active, active_class) = on_off(i.is_active, "active", "inactive");
    let (scim, scim_class) = on_off(i.scim_integration, "on", "off");
    IdpRow {
        uuid: i.uuid.to_string(),
        name: i.name.clone(),
        protocol: match i.protocol() {
            Protocol::Saml => "SAML 2.0",
            Protocol::Oidc => "OpenID Connect",
        },
        active,
        active_class,
        scim,
        scim_class,
    }
}

async fn list_page(
    state: &AppState,
    s: &Session,
    form: IdpForm,
    error: Option<String>,
) -> Response {
    let all = match state.roster.list_idps(&s.principal).await {
        Ok(a) => a,
        Err(e) => return s.error(e),
    };
    html(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &IdpsPage {
            layout: s.layout("Identity providers", "/console/identity-providers"),
            rows: all.iter().map(row).collect(),
            form,
            error,
        },
    )
}

pub(crate) async fn list(State(state): State<AppState>, s: Session) -> Response {
    list_page(&state, &s, IdpForm::default(), None).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct NewSaml {
    name: String,
    federation_metadata_xml: String,
    sign_in_url: String,
    entity_id_url: String,
    certificate: String,
}

/// A form field: `None` when left empty (so metadata, or the service's "required", decides).
pub(crate) fn given(v: &str) -> Option<String> {
    (!v.trim().is_empty()).then(|| v.to_string())
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Posted { s, form: f }: Posted<NewSaml>,
) -> Response {
    let input = IdpInput {
        name: Some(f.name.clone()),
        federation_metadata_xml: given(&f.federation_metadata_xml),
        sign_in_url: given(&f.sign_in_url),
        entity_id_url: given(&f.entity_id_url),
        certificate: given(&f.certificate),
        ..IdpInput::default()
    };
    match state
        .roster
        .create_idp(&s.principal, Protocol::Saml, &input)
        .await
    {
        Ok(idp) => {
            Redirect::to(&format!("/console/identity-providers/{}", idp.uuid)).into_response()
        }
        Err(CoreError::Validation(errs)) => {
            let form = IdpForm {
                name: f.name,
                sign_in_url: f.sign_in_url,
                entity_id_url: f.entity_id_url,
                certificate: f.certificate,
                federation_metadata_xml: f.federation_metadata_xml,
            };
            list_page(&state, &s, form, Some(errs.to_string())).await
        }
        Err(e) => s.error(e),
    }
}

/// The account's provider `uuid`, whichever its protocol.
pub(crate) async fn find(
    state: &AppState,
    s: &Session,
    uuid: &str,
) -> Result<IdentityProvider, CoreError> {
    let uuid = uuid::Uuid::parse_str(uuid).map_err(|_| CoreError::NotFound("Identity provider"))?;
    state
        .roster
        .list_idps(&s.principal)
        .await?
        .into_iter()
        .find(|i| i.uuid == uuid)
        .ok_or(CoreError::NotFound("Identity provider"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PageQuery {
    page: Option<u32>,
    done: String,
    /// The log's filters: an outcome, `failed` / `succeeded`, `User` / `Group`.
    outcome: String,
    result: String,
    resource: String,
    /// The live log's newest entry shown: the refresh asks only whether a newer one arrived.
    newest: Option<i64>,
}

/// The log filters a request names (unknown values are ignored), and their query string.
fn log_filter(q: &PageQuery) -> (roster_core::store::LogFilter, String) {
    const OUTCOMES: &[&str] = &[
        "created", "adopted", "replaced", "updated", "deleted", "failed",
    ];
    let outcome = OUTCOMES
        .iter()
        .find(|o| **o == q.outcome)
        .map(|o| o.to_string());
    let failed = match q.result.as_str() {
        "failed" => Some(true),
        "succeeded" => Some(false),
        _ => None,
    };
    let resource_type = ["User", "Group"]
        .iter()
        .find(|r| **r == q.resource)
        .map(|r| r.to_string());
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(o) = &outcome {
        pairs.push(("outcome", o.clone()));
    }
    if failed.is_some() {
        pairs.push(("result", q.result.clone()));
    }
    if let Some(r) = &resource_type {
        pairs.push(("resource", r.clone()));
    }
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    (
        roster_core::store::LogFilter {
            outcome,
            failed,
            resource_type,
            newer_than: None,
        },
        query,
    )
}

const LOG_PAGE: i64 = 50;

pub(crate) async fn page(
    State(state): State<AppState>,
    s: Session,
    headers: axum::http::HeaderMap,
    Path(uuid): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    if let (Some(newest), true) = (q.newest, headers.contains_key("hx-request"))
        && let Some(unchanged) = nothing_newer(&state, &s, &uuid, &q, newest).await
    {
        return unchanged;
    }
    let notice = match q.done.as_str() {
        "saved" => Some("Saved.".to_string()),
        "metadata" => Some("Updated from the metadata.".to_string()),
        _ => None,
    };
    let (filter, filter_query) = log_filter(&q);
    let extra = Extra {
        filter,
        filter_query,
        chosen: (q.outcome.clone(), q.result.clone(), q.resource.clone()),
        ..Extra::default()
    };
    render(&state, &s, &uuid, q.page.unwrap_or(1), notice, extra).await
}

/// The live log's refresh: `204 No Content` (htmx leaves the page alone) when no entry the
/// filters keep is newer than `newest`; `None` to render the page again.
async fn nothing_newer(
    state: &AppState,
    s: &Session,
    uuid: &str,
    q: &PageQuery,
    newest: i64,
) -> Option<Response> {
    let idp = find(state, s, uuid).await.ok()?;
    let (mut filter, _) = log_filter(q);
    filter.newer_than = Some(newest);
    let req = ListRequest {
        page: Some("1".into()),
        page_size: Some("1".into()),
        ordering: None,
        search: None,
    };
    let newer = state
        .roster
        .find_provisioning_log(&s.principal, idp.protocol(), idp.uuid, &req, &filter)
        .await
        .ok()?;
    (newer.total == 0).then(|| {
        let mut r = StatusCode::NO_CONTENT.into_response();
        r.extensions_mut().insert(super::ConsoleRendered);
        r
    })
}

/// What a provider's page shows beyond itself: a SCIM token just made, a test's results.
#[derive(Debug, Default)]
struct Extra {
    new_token: Option<String>,
    checks: Option<Vec<ConnectionRow>>,
    /// The log's filters, their query string, and the values chosen (outcome, result, resource).
    filter: roster_core::store::LogFilter,
    filter_query: String,
    chosen: (String, String, String),
}

/// A provider's page: log page `page`, an optional notice, and a SCIM token just made.
async fn render(
    state: &AppState,
    s: &Session,
    uuid: &str,
    page: u32,
    notice: Option<String>,
    extra: Extra,
) -> Response {
    let idp = match find(state, s, uuid).await {
        Ok(i) => i,
        Err(e) => return s.error(e),
    };
    let page = page.max(1);
    let req = ListRequest {
        page: Some(page.to_string()),
        page_size: Some(LOG_PAGE.to_string()),
        ordering: None,
        search: None,
    };
    let log = match state
        .roster
        .find_provisioning_log(&s.principal, idp.protocol(), idp.uuid, &req, &extra.filter)
        .await
    {
        Ok(l) => l,
        Err(e) => return s.error(e),
    };
    let scim_tokens = match state
        .roster
        .scim_tokens(&s.principal, idp.protocol(), idp.uuid)
        .await
    {
        Ok(t) => t.iter().map(super::tokens::token_row).collect(),
        Err(e) => return s.error(e),
    };
    let urls = state.roster.urls();
    let mut copy = vec![CopyUrl {
        id: "scim-url",
        label: "SCIM URL (Tenant URL)",
        value: urls.scim_url(idp.uuid),
    }];
    if idp.protocol() == Protocol::Saml {
        copy.push(CopyUrl {
            id: "entity-id",
            label: "Identifier (Entity ID)",
            value: urls.saml_metadata_url(idp.uuid),
        });
        copy.push(CopyUrl {
            id: "acs-url",
            label: "Reply URL (Assertion Consumer Service URL)",
            value: urls.saml_login_url(idp.uuid),
        });
        copy.push(CopyUrl {
            id: "sign-on-url",
            label: "Sign on URL",
            value: urls.saml_login_url(idp.uuid),
        });
    }
    let pages = (log.total + LOG_PAGE - 1) / LOG_PAGE;
    let amp = if extra.filter_query.is_empty() {
        ""
    } else {
        "&"
    };
    let link = |p: u32| {
        format!(
            "/console/identity-providers/{}?{}{amp}page={p}",
            idp.uuid, extra.filter_query
        )
    };
    let (outcome, result, resource) = extra.chosen.clone();
    let options = |current: &str, all: &[(&str, &str)]| -> Vec<Choice> {
        all.iter()
            .map(|(v, l)| Choice {
                value: v.to_string(),
                label: l.to_string(),
                selected: *v == current,
            })
            .collect()
    };
    let (certificates, certificate_warning) =
        super::idp_certificates::rows(&idp, state.roster.now());
    let (active, active_class) = on_off(idp.is_active, "active", "inactive");
    let (scim, scim_class) = on_off(idp.scim_integration, "on", "off");
    html(
        StatusCode::OK,
        &IdpPage {
            new_token: extra.new_token,
            checks: extra.checks,
            tokens: scim_tokens,
            token_back: Some(format!("/console/identity-providers/{}", idp.uuid)),
            layout: s.layout(&idp.name, "/console/identity-providers"),
            notice,
            certificates,
            certificate_warning,
            is_saml: idp.protocol() == Protocol::Saml,
            uuid: idp.uuid.to_string(),
            name: idp.name.clone(),
            urls: copy,
            is_active: idp.is_active,
            active,
            active_class,
            scim_on: idp.scim_integration,
            scim,
            scim_class,
            page: i64::from(page),
            // Only the first page (the newest entries) refreshes by itself.
            poll: (page == 1).then(|| {
                let newest = log.items.first().map_or(0, |e| e.id);
                format!("{}&newest={newest}", link(page))
            }),
            outcomes: options(
                &outcome,
                &[
                    ("", "Any outcome"),
                    ("created", "created"),
                    ("adopted", "adopted"),
                    ("replaced", "replaced"),
                    ("updated", "updated"),
                    ("deleted", "deleted"),
                    ("failed", "failed"),
                ],
            ),
            results: options(
                &result,
                &[
                    ("", "Any result"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                ],
            ),
            resources: options(
                &resource,
                &[
                    ("", "Users and groups"),
                    ("User", "Users"),
                    ("Group", "Groups"),
                ],
            ),
            log_summary: if log.total == 0 && !extra.filter_query.is_empty() {
                "No entries match these filters.".into()
            } else if log.total == 0 {
                "Nothing yet: entries appear here when the identity provider provisions.".into()
            } else {
                format!("{} entries; page {page} of {pages}.", log.total)
            },
            log: log.items.iter().map(log_row).collect(),
            previous: (page > 1).then(|| link(page - 1)),
            next: (i64::from(page) < pages).then(|| link(page + 1)),
        },
    )
}

pub(crate) fn log_row(e: &roster_core::store::LogEntry) -> LogRow {
    let class = match e.status {
        200..=399 => "ok",
        _ => "bad",
    };
    let resource = match (&e.resource_type, &e.resource_id) {
        (Some(t), Some(id)) => format!("{t} {id}"),
        (Some(t), None) => t.clone(),
        _ => String::new(),
    };
    let changes = match &e.changes {
        serde_json::Value::Array(a) if a.is_empty() => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    LogRow {
        status: e.status,
        class,
        outcome: e.outcome.clone(),
        method: e.method.clone(),
        resource,
        at: e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        path: e.path.clone(),
        request_id: e.request_id.clone(),
        detail: e.detail.clone(),
        tolerances: e.tolerances.join(", "),
        changes,
    }
}

/// Make a SCIM token for the provider (a SCIM-only user and its token), shown this once.
pub(crate) async fn scim_token(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    Posted { s, .. }: Posted<super::auth::NoFields>,
) -> Response {
    let idp = match find(&state, &s, &uuid).await {
        Ok(i) => i,
        Err(e) => return s.error(e),
    };
    match state
        .roster
        .make_scim_token(&s.principal, idp.protocol(), idp.uuid)
        .await
    {
        Ok(t) => {
            let key = t.key.0.expose().to_string();
            let extra = Extra {
                new_token: Some(key),
                ..Extra::default()
            };
            render(&state, &s, &uuid, 1, None, extra).await
        }
        Err(e) => s.error(e),
    }
}

/// Run Entra's Test Connection inside the server, and show what each request answered.
pub(crate) async fn test_connection(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    Posted { s, .. }: Posted<super::auth::NoFields>,
) -> Response {
    let idp = match find(&state, &s, &uuid).await {
        Ok(i) => i,
        Err(e) => return s.error(e),
    };
    match state
        .roster
        .test_connection(&s.principal, idp.protocol(), idp.uuid)
        .await
    {
        Ok(checks) => {
            let rows = checks
                .into_iter()
                .map(|c| ConnectionRow {
                    request: c.request,
                    status: c.status,
                    class: if c.ok { "ok" } else { "bad" },
                    verdict: if c.ok { "passed" } else { "failed" },
                    detail: c.detail,
                })
                .collect();
            let extra = Extra {
                checks: Some(rows),
                ..Extra::default()
            };
            render(&state, &s, &uuid, 1, None, extra).await
        }
        Err(e) => s.error(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Settings {
    is_active: Option<String>,
    scim_integration: Option<String>,
}

fn flag(v: &Option<String>) -> Result<Option<bool>, CoreError> {
    match v.as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(roster_core::FieldErrors::single(
            "value",
            "Say true or false.",
        )),
    }
}

pub(crate) async fn settings(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    Posted { s, form: f }: Posted<Settings>,
) -> Response {
    let idp = match find(&state, &s, &uuid).await {
        Ok(i) => i,
        Err(e) => return s.error(e),
    };
    let input = match (flag(&f.is_active), flag(&f.scim_integration)) {
        (Ok(is_active), Ok(scim_integration)) => IdpInput {
            is_active,
            scim_integration,
            ..IdpInput::default()
        },
        (Err(e), _) | (_, Err(e)) => return s.error(e),
    };
    match state
        .roster
        .update_idp(&s.principal, idp.protocol(), idp.uuid, &input, true)
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/console/identity-providers/{}?done=saved",
            idp.uuid
        ))
        .into_response(),
        Err(e) => s.error(e),
    }
}
