//! The SCIM routes, as ordinary axum routes over a normalised path.
//!
//! [`normalize`] runs before routing: resource segments match in any case (`/users`), and the
//! guide's `scim_url` (which already ends in `/Users`, to which Entra appends `/Users`) works in
//! its doubled form `…/Users/Users`. The extractors here reject in SCIM's shape; a body that cannot
//! be read is not a rejection but part of the operation, answered once the caller is admitted (an
//! unauthenticated caller hears 401 whatever it sent).

use super::{error_response, method_not_allowed, parse_json, run, search_body};
use crate::AppState;
use crate::middleware::REQUEST_ID;
use crate::routes::{Api, Route, route};
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::Response;
use axum::routing::{MethodRouter, any, get, post};
use roster_core::scim::{Kind, ScimCall, ScimOp};
use roster_scim::ScimError;
use roster_scim::messages::SearchRequest;
use roster_scim::projection::Projection;
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;

const PREFIX: &str = "/v4/users/scim/";

/// The endpoints under a provider's root, in the spelling the routes use.
const ENDPOINTS: &[&str] = &[
    "users",
    "groups",
    "serviceproviderconfig",
    "schemas",
    "resourcetypes",
    "bulk",
    ".search",
    "me",
];

/// The path as the client wrote it (the provisioning log records that one).
#[derive(Debug, Clone)]
struct SentPath(String);

/// Rewrite a SCIM path to the routes' spelling: empty segments dropped, a leading `Users` before
/// another endpoint dropped (`…/Users/Users`, `…/Users/Groups`), endpoint names (and
/// `/.search` after a resource) lowercased. Ids, schema URNs and other paths are left as sent.
pub fn normalize(mut req: Request) -> Request {
    let Some(rest) = req.uri().path().strip_prefix(PREFIX) else {
        return req;
    };
    let mut segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() < 2 {
        return req;
    }
    let idp = segs.remove(0);
    let is_endpoint = |s: &str| ENDPOINTS.iter().any(|e| e.eq_ignore_ascii_case(s));
    if segs.len() >= 2 && segs[0].eq_ignore_ascii_case("users") && is_endpoint(segs[1]) {
        segs.remove(0);
    }
    let mut out: Vec<String> = segs.iter().map(|s| s.to_string()).collect();
    if is_endpoint(&out[0]) {
        out[0] = out[0].to_ascii_lowercase();
    }
    if out.len() == 2 && out[1].eq_ignore_ascii_case(".search") {
        out[1] = ".search".into();
    }
    let path = format!("{PREFIX}{idp}/{}", out.join("/"));
    let sent = req.uri().path().to_string();
    let with_query = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    if let Ok(uri) = with_query.parse::<Uri>() {
        *req.uri_mut() = uri;
        req.extensions_mut().insert(SentPath(sent));
    }
    req
}

pub(crate) fn routes() -> Vec<Route> {
    // A SCIM route answers its other methods 405 with `Allow`, in SCIM's shape.
    let r = |p: &str, allow: &'static str, m: MethodRouter<AppState>| {
        route(
            Api::Scim,
            format!("{PREFIX}{{idp}}{p}"),
            allow,
            only(allow, m),
        )
    };
    const ANY: &str = "GET, POST, PUT, PATCH, DELETE";
    vec![
        r("/{kind}", "GET, POST", get(list).post(create)),
        r("/{kind}/.search", "POST", post(search)),
        r(
            "/{kind}/{id}",
            "GET, PUT, PATCH, DELETE",
            get(get_one).put(replace).patch(patch).delete(delete),
        ),
        r("/.search", "POST", post(search_all)),
        r("/bulk", "POST", post(bulk)),
        r("/serviceproviderconfig", "GET", get(discovery)),
        r("/schemas", "GET", get(discovery)),
        r("/schemas/{id}", "GET", get(discovery)),
        r("/resourcetypes", "GET", get(discovery)),
        r("/resourcetypes/{id}", "GET", get(discovery)),
        // `any` answers every method itself (501: `/Me` is not supported); no 405 fallback.
        route(Api::Scim, format!("{PREFIX}{{idp}}/me"), ANY, any(me)),
        route(
            Api::Scim,
            format!("{PREFIX}{{idp}}/me/{{*rest}}"),
            ANY,
            any(me),
        ),
    ]
}

/// The answer to a path under the SCIM prefix that no route takes (the application's fallback
/// asks), or `None` outside SCIM.
pub fn no_endpoint(path: &str) -> Option<Response> {
    path.starts_with(PREFIX)
        .then(|| error_response(&no_endpoint_error(path)))
}

/// A method router whose other methods are answered 405 with `Allow`.
fn only(allow: &'static str, m: MethodRouter<AppState>) -> MethodRouter<AppState> {
    m.fallback(move || async move { method_not_allowed(allow) })
}

/// Who is asking, and where: what every SCIM operation needs besides its own inputs.
struct Endpoint {
    idp: String,
    client: IpAddr,
    call_path: String,
    method: Method,
    authorization: Option<String>,
    request_id: Option<String>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
}

impl Endpoint {
    fn header(&self, name: header::HeaderName) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    fn projection(&self) -> Projection {
        let mut attrs = Vec::new();
        let mut excluded = Vec::new();
        for (k, v) in &self.query {
            if k.eq_ignore_ascii_case("attributes") {
                attrs.push(v.clone());
            } else if k.eq_ignore_ascii_case("excludedAttributes") {
                excluded.push(v.clone());
            }
        }
        Projection::from_lists(&attrs, &excluded)
    }

    fn search(&self) -> Result<SearchRequest, ScimError> {
        SearchRequest::from_query(self.query.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    async fn run(self, s: &AppState, op: ScimOp) -> Response {
        let call = ScimCall {
            authorization: self.authorization,
            op,
            method: self.method.to_string(),
            path: self.call_path,
            request_id: self.request_id,
            client: Some(self.client.to_string()),
            idp: self.idp,
        };
        run(s, self.client, call).await
    }
}

/// The identity provider's id exactly as its `scim_url` writes it (lowercase, hyphenated): one
/// spelling per endpoint, so nothing keyed on it can be multiplied by writing it differently.
fn canonical_idp(idp: &str) -> bool {
    uuid::Uuid::parse_str(idp).is_ok_and(|u| u.hyphenated().to_string() == idp)
}

/// A rejection, rendered as SCIM.
struct Rejection(ScimError);

impl axum::response::IntoResponse for Rejection {
    fn into_response(self) -> Response {
        error_response(&self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Endpoint {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| Rejection(ScimError::not_found("No SCIM endpoint here")))?;
        let idp = params.get("idp").cloned().unwrap_or_default();
        if !canonical_idp(&idp) {
            return Err(Rejection(ScimError::not_found(
                "No SCIM endpoint here: the identity provider id in the path must be written as in its scim_url (lowercase, with hyphens)",
            )));
        }
        let query: Vec<(String, String)> =
            serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).map_err(|e| {
                Rejection(ScimError::invalid_syntax(format!(
                    "The query string is not form-encoded: {e}"
                )))
            })?;
        if query
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(Rejection(ScimError::invalid_value(
                "NUL characters are not allowed in the query string",
            )));
        }
        let header = |name: header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Ok(Endpoint {
            idp,
            client: parts
                .extensions
                .get::<crate::client::Client>()
                .and_then(|c| c.addr)
                .unwrap_or(IpAddr::from([0, 0, 0, 0])),
            call_path: parts
                .extensions
                .get::<SentPath>()
                .map_or_else(|| parts.uri.path().to_string(), |p| p.0.clone()),
            method: parts.method.clone(),
            authorization: header(header::AUTHORIZATION),
            request_id: header(REQUEST_ID),
            query,
            headers: parts.headers.clone(),
        })
    }
}

/// `Users` or `Groups` from the `{kind}` segment (anything else is no endpoint).
struct Resource(Kind);

impl<S: Send + Sync> FromRequestParts<S> for Resource {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| Rejection(ScimError::not_found("No SCIM endpoint here")))?;
        match params.get("kind").map(String::as_str) {
            Some("users") => Ok(Resource(Kind::Users)),
            Some("groups") => Ok(Resource(Kind::Groups)),
            _ => Err(Rejection(no_endpoint_error(parts.uri.path()))),
        }
    }
}

/// The `{id}` segment.
struct Id(String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| Rejection(ScimError::not_found("No SCIM endpoint here")))?;
        Ok(Id(params.get("id").cloned().unwrap_or_default()))
    }
}

/// The body as JSON, or why it is not (never a rejection: see the module comment).
struct Body(Result<Value, ScimError>);

impl<S> FromRequest<S> for Body
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = AppState::from_ref(state).config.body_limit;
        let read = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|e| {
                if crate::middleware::body_timed_out(&e) {
                    ScimError::new(408, "The request body did not arrive in time")
                } else {
                    ScimError::payload_too_large(format!(
                        "The request body is larger than {limit} bytes"
                    ))
                }
            });
        Ok(Body(read.and_then(|b| parse_json(&b))))
    }
}

/// An operation whose input could not be read: its error is the answer once the caller is
/// admitted.
fn unreadable(kind: Option<Kind>, id: Option<String>, write: bool, error: ScimError) -> ScimOp {
    ScimOp::Unreadable {
        kind,
        id,
        write,
        error,
    }
}

async fn list(State(s): State<AppState>, e: Endpoint, Resource(kind): Resource) -> Response {
    let op = match e.search() {
        Ok(search) => ScimOp::List { kind, search },
        Err(err) => unreadable(Some(kind), None, false, err),
    };
    e.run(&s, op).await
}

async fn create(
    State(s): State<AppState>,
    e: Endpoint,
    Resource(kind): Resource,
    Body(body): Body,
) -> Response {
    let op = match body {
        Ok(body) => ScimOp::Create {
            kind,
            body,
            projection: e.projection(),
        },
        Err(err) => unreadable(Some(kind), None, true, err),
    };
    e.run(&s, op).await
}

async fn search(
    State(s): State<AppState>,
    e: Endpoint,
    Resource(kind): Resource,
    Body(body): Body,
) -> Response {
    let op = match body.and_then(search_body) {
        Ok(search) => ScimOp::List { kind, search },
        Err(err) => unreadable(Some(kind), None, false, err),
    };
    e.run(&s, op).await
}

async fn search_all(State(s): State<AppState>, e: Endpoint, Body(body): Body) -> Response {
    let op = match body.and_then(search_body) {
        Ok(search) => ScimOp::SearchAll { search },
        Err(err) => unreadable(None, None, false, err),
    };
    e.run(&s, op).await
}

async fn get_one(
    State(s): State<AppState>,
    e: Endpoint,
    Resource(kind): Resource,
    Id(id): Id,
) -> Response {
    let op = ScimOp::Get {
        kind,
        id,
        projection: e.projection(),
        if_none_match: e.header(header::IF_NONE_MATCH),
    };
    e.run(&s, op).await
}

async fn replace(
    State(s): State<AppState>,
    e: Endpoint,
    Resource(kind): Resource,
    Id(id): Id,
    Body(body): Body,
) -> Response {
    let op = match body {
        Ok(body) => ScimOp::Replace {
            kind,
            id,
            body,
            if_match: e.header(header::IF_MATCH),
            projection: e.projection(),
        },
        Err(err) => unreadable(Some(kind), Some(id), true, err),
    };
    e.run(&s, op).await
}

async fn patch(
    State(s): State<AppState>,
    e: Endpoint,
    Resource(kind): Resource,
    Id(id): Id,
    Body(body): Body,
) -> Response {
    let op = match body {
        Ok(body) => ScimOp::Patch {
            kind,
            id,
            body,
            if_match: e.header(header::IF_MATCH),
            projection: e.projection(),
        },
        Err(err) => unreadable(Some(kind), Some(id), true, err),
    };
    e.run(&s, op).await
}

async fn delete(
    State(s): State<AppState>,
    e: Endpoint,
    Resource(kind): Resource,
    Id(id): Id,
) -> Response {
    let op = ScimOp::Delete {
        kind,
        id,
        if_match: e.header(header::IF_MATCH),
    };
    e.run(&s, op).await
}

async fn bulk(State(s): State<AppState>, e: Endpoint, Body(body): Body) -> Response {
    let op = match body {
        Ok(body) => ScimOp::Bulk { body },
        Err(err) => unreadable(None, None, true, err),
    };
    e.run(&s, op).await
}

/// `/ServiceProviderConfig`, `/Schemas[/{id}]`, `/ResourceTypes[/{name}]`.
async fn discovery(State(s): State<AppState>, e: Endpoint, uri: Uri) -> Response {
    let rest = uri
        .path()
        .strip_prefix(PREFIX)
        .and_then(|r| r.split_once('/'))
        .map_or("", |(_, r)| r);
    let op = match rest.split_once('/') {
        None if rest == "serviceproviderconfig" => ScimOp::ServiceProviderConfig,
        None if rest == "schemas" => ScimOp::Schemas,
        None => ScimOp::ResourceTypes,
        Some(("schemas", id)) => ScimOp::Schema { id: id.to_string() },
        Some((_, name)) => ScimOp::ResourceType {
            name: name.to_string(),
        },
    };
    e.run(&s, op).await
}

/// `/Me` is not supported: answered 501 once the caller is admitted to this endpoint (another
/// account's caller hears 404, like everywhere else on it).
async fn me(State(s): State<AppState>, e: Endpoint) -> Response {
    let op = ScimOp::Unreadable {
        kind: None,
        id: None,
        write: false,
        error: ScimError::not_implemented(
            "/Me is not supported: a personal token acts as its user, but SCIM here manages the account's users",
        ),
    };
    e.run(&s, op).await
}

fn no_endpoint_error(path: &str) -> ScimError {
    let rest = path
        .strip_prefix(PREFIX)
        .and_then(|r| r.split_once('/'))
        .map_or("", |(_, r)| r);
    ScimError::not_found(format!(
        "No SCIM endpoint at \"/{rest}\": use /Users, /Groups, /Bulk, /ServiceProviderConfig, /Schemas or /ResourceTypes"
    ))
}
