//! SCIM 2.0 routes: `/v4/users/scim/{idp_uuid}/…`, one endpoint per identity provider.
//!
//! The handler parses the rest of the path itself, so that resource segments match in any case
//! (`/users`), a trailing slash is optional, and the guide's `scim_url` (which already ends in
//! `/Users`, to which Entra appends `/Users`) works in its doubled form `…/Users/Users`. Every
//! answer, errors included, is `application/scim+json`.

use crate::AppState;
use crate::middleware::REQUEST_ID;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use roster_core::scim::{Kind, RefusalCause, ScimCall, ScimOp, ScimReply};
use roster_scim::ScimError;
use roster_scim::messages::SearchRequest;
use roster_scim::projection::Projection;
use serde_json::Value;
use std::net::IpAddr;

pub const SCIM_JSON: &str = "application/scim+json";

/// SCIM request-rate limits (GCRA, from `governor`), applied once the caller is known:
///
/// - an authenticated caller gets `scim_rate_limit` requests a second (bursts of twice that)
///   per token and identity provider, so nobody else's traffic spends that budget;
/// - requests that fail authentication spend a budget of their client address
///   (`scim_unauthenticated_rate_limit`); past it they are answered 429 instead of 401. A valid
///   token from that address is still served: failures never spend anyone else's budget.
///
/// A 0 rate turns that limit off.
pub struct Limiter {
    callers: Option<governor::DefaultKeyedRateLimiter<(uuid::Uuid, uuid::Uuid)>>,
    strangers: Option<governor::DefaultKeyedRateLimiter<IpAddr>>,
    checks: std::sync::atomic::AtomicU64,
}

fn keyed<K: std::hash::Hash + Eq + Clone>(
    per_second: u32,
) -> Option<governor::DefaultKeyedRateLimiter<K>> {
    let rate = std::num::NonZeroU32::new(per_second)?;
    let burst = rate.saturating_mul(std::num::NonZeroU32::MIN.saturating_add(1));
    Some(governor::RateLimiter::keyed(
        governor::Quota::per_second(rate).allow_burst(burst),
    ))
}

/// Whose budget a failed authentication spends: the IPv4 address, or the IPv6 /64 (one host
/// usually holds a whole /64, so single IPv6 addresses would give it endless fresh budgets).
fn budget_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

fn wait_secs(not_until: &governor::NotUntil<governor::clock::QuantaInstant>) -> u64 {
    use governor::clock::{Clock, DefaultClock};
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl Limiter {
    pub fn new(per_second: u32, unauthenticated_per_second: u32) -> Limiter {
        Limiter {
            callers: keyed(per_second),
            strangers: keyed(unauthenticated_per_second),
            checks: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Forget idle keys now and then, so made-up tokens or addresses cannot grow the tables.
    fn tidy(&self) {
        let n = self
            .checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % 4096 == 4095 {
            if let Some(l) = &self.callers {
                l.retain_recent();
            }
            if let Some(l) = &self.strangers {
                l.retain_recent();
            }
        }
    }

    /// A failed authentication from `ip`: `Err(seconds)` once that address's budget is spent.
    fn refused(&self, ip: IpAddr) -> Result<(), u64> {
        self.tidy();
        match &self.strangers {
            Some(l) => l.check_key(&budget_key(ip)).map_err(|n| wait_secs(&n)),
            None => Ok(()),
        }
    }

    /// `Err(seconds)` when this token's budget on this provider is spent.
    fn admitted(&self, token: uuid::Uuid, idp: uuid::Uuid) -> Result<(), u64> {
        self.tidy();
        match &self.callers {
            Some(l) => l.check_key(&(token, idp)).map_err(|n| wait_secs(&n)),
            None => Ok(()),
        }
    }
}

fn too_many(detail: String, wait: u64) -> Response {
    let mut resp = error_response(&ScimError::too_many_requests(detail));
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Marks a response whose body is already SCIM-shaped.
#[derive(Debug, Clone, Copy)]
pub struct ScimRendered;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v4/users/scim/{idp}", any(handle_root))
        .route("/v4/users/scim/{idp}/{*rest}", any(handle))
}

/// A SCIM error as a response.
pub fn error_response(e: &ScimError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, e.to_json().to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    if status == StatusCode::UNAUTHORIZED {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"roster\""),
        );
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp.extensions_mut().insert(ScimRendered);
    resp
}

fn reply_response(r: ScimReply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    let mut resp = match r.body {
        Some(b) => (status, b.to_string()).into_response(),
        None => status.into_response(),
    };
    let h = resp.headers_mut();
    if r.status != 204 && r.status != 304 {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    }
    if let Some(e) = r.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        h.insert(header::ETAG, e);
    }
    if let Some(l) = r.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        h.insert(header::LOCATION, l);
    }
    resp.extensions_mut().insert(ScimRendered);
    resp
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut resp = error_response(&ScimError::method_not_allowed(format!(
        "Use {allow} on this endpoint"
    )));
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

async fn handle_root(State(s): State<AppState>, Path(idp): Path<String>, req: Request) -> Response {
    dispatch(s, idp, String::new(), req).await
}

async fn handle(
    State(s): State<AppState>,
    Path((idp, rest)): Path<(String, String)>,
    req: Request,
) -> Response {
    dispatch(s, idp, rest, req).await
}

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

/// The identity provider's id exactly as its `scim_url` writes it (lowercase, hyphenated): one
/// spelling per endpoint, so nothing keyed on it can be multiplied by writing it differently.
fn canonical_idp(idp: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(idp)
        .ok()
        .filter(|u| u.hyphenated().to_string() == idp)
}

async fn dispatch(s: AppState, idp: String, rest: String, req: Request) -> Response {
    if canonical_idp(&idp).is_none() {
        return error_response(&ScimError::not_found(
            "No SCIM endpoint here: the identity provider id in the path must be written as in its scim_url (lowercase, with hyphens)",
        ));
    }
    let client = req
        .extensions()
        .get::<crate::client::Client>()
        .and_then(|c| c.addr)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let (parts, body) = req.into_parts();
    let mut segs: Vec<String> = rest
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    // The guide's scim_url ends in /Users; Entra appends /Users, /Groups, ... to it.
    if segs.len() >= 2
        && segs[0].eq_ignore_ascii_case("users")
        && ENDPOINTS.contains(&segs[1].to_ascii_lowercase().as_str())
    {
        segs.remove(0);
    }
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    let method = parts.method.clone();
    let query: Vec<(String, String)> =
        match serde_urlencoded::from_str(parts.uri.query().unwrap_or("")) {
            Ok(q) => q,
            Err(e) => {
                return error_response(&ScimError::invalid_syntax(format!(
                    "The query string is not form-encoded: {e}"
                )));
            }
        };
    if query
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return error_response(&ScimError::invalid_value(
            "NUL characters are not allowed in the query string",
        ));
    }
    let q = || query.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let projection = || {
        let mut attrs = Vec::new();
        let mut excluded = Vec::new();
        for (k, v) in q() {
            if k.eq_ignore_ascii_case("attributes") {
                attrs.push(v.to_string());
            } else if k.eq_ignore_ascii_case("excludedAttributes") {
                excluded.push(v.to_string());
            }
        }
        Projection::from_lists(&attrs, &excluded)
    };
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let kind_of = |seg: &str| match seg {
        "users" => Some(Kind::Users),
        "groups" => Some(Kind::Groups),
        _ => None,
    };
    let body = || async {
        let bytes = axum::body::to_bytes(body, s.config.body_limit)
            .await
            .map_err(|e| {
                if crate::middleware::body_timed_out(&e) {
                    ScimError::new(408, "The request body did not arrive in time")
                } else {
                    ScimError::payload_too_large(format!(
                        "The request body is larger than {} bytes",
                        s.config.body_limit
                    ))
                }
            })?;
        parse_json(&bytes)
    };
    let op = match (lower.as_slice(), &method) {
        ([k], &Method::GET) if kind_of(k).is_some() => match SearchRequest::from_query(q()) {
            Ok(search) => ScimOp::List {
                kind: kind_of(k).unwrap_or(Kind::Users),
                search,
            },
            Err(e) => unreadable(kind_of(k), None, false, e),
        },
        ([k], &Method::POST) if kind_of(k).is_some() => match body().await {
            Ok(b) => ScimOp::Create {
                kind: kind_of(k).unwrap_or(Kind::Users),
                body: b,
                projection: projection(),
            },
            Err(e) => unreadable(kind_of(k), None, true, e),
        },
        ([k], _) if kind_of(k).is_some() => return method_not_allowed("GET, POST"),
        ([k, ".search"], &Method::POST) if kind_of(k).is_some() => {
            match body().await.and_then(search_body) {
                Ok(search) => ScimOp::List {
                    kind: kind_of(k).unwrap_or(Kind::Users),
                    search,
                },
                Err(e) => unreadable(kind_of(k), None, false, e),
            }
        }
        ([k, ".search"], _) if kind_of(k).is_some() => return method_not_allowed("POST"),
        ([k, _], m) if kind_of(k).is_some() => {
            let kind = kind_of(k).unwrap_or(Kind::Users);
            let id = segs[1].clone();
            match *m {
                Method::GET => ScimOp::Get {
                    kind,
                    id,
                    projection: projection(),
                    if_none_match: header(header::IF_NONE_MATCH),
                },
                Method::PUT => match body().await {
                    Ok(b) => ScimOp::Replace {
                        kind,
                        id,
                        body: b,
                        if_match: header(header::IF_MATCH),
                        projection: projection(),
                    },
                    Err(e) => unreadable(Some(kind), Some(id), true, e),
                },
                Method::PATCH => match body().await {
                    Ok(b) => ScimOp::Patch {
                        kind,
                        id,
                        body: b,
                        if_match: header(header::IF_MATCH),
                        projection: projection(),
                    },
                    Err(e) => unreadable(Some(kind), Some(id), true, e),
                },
                Method::DELETE => ScimOp::Delete {
                    kind,
                    id,
                    if_match: header(header::IF_MATCH),
                },
                _ => return method_not_allowed("GET, PUT, PATCH, DELETE"),
            }
        }
        ([".search"], &Method::POST) => match body().await.and_then(search_body) {
            Ok(search) => ScimOp::SearchAll { search },
            Err(e) => unreadable(None, None, false, e),
        },
        ([".search"], _) => return method_not_allowed("POST"),
        (["serviceproviderconfig"], &Method::GET) => ScimOp::ServiceProviderConfig,
        (["schemas"], &Method::GET) => ScimOp::Schemas,
        (["schemas", _], &Method::GET) => ScimOp::Schema {
            id: segs[1].clone(),
        },
        (["resourcetypes"], &Method::GET) => ScimOp::ResourceTypes,
        (["resourcetypes", _], &Method::GET) => ScimOp::ResourceType {
            name: segs[1].clone(),
        },
        (["serviceproviderconfig" | "schemas" | "resourcetypes", ..], _) => {
            return method_not_allowed("GET");
        }
        (["bulk"], &Method::POST) => match body().await {
            Ok(b) => ScimOp::Bulk { body: b },
            Err(e) => unreadable(None, None, true, e),
        },
        (["bulk"], _) => return method_not_allowed("POST"),
        (["me", ..], _) => {
            return error_response(&ScimError::not_implemented(
                "/Me is not supported: a personal token acts as its user, but SCIM here manages the account's users",
            ));
        }
        _ => {
            return error_response(&ScimError::not_found(format!(
                "No SCIM endpoint at \"/{}\": use /Users, /Groups, /Bulk, /ServiceProviderConfig, /Schemas or /ResourceTypes",
                segs.join("/")
            )));
        }
    };
    let call = ScimCall {
        idp,
        authorization: header(header::AUTHORIZATION),
        op,
        method: method.to_string(),
        path: parts.uri.path().to_string(),
        request_id: header(REQUEST_ID),
        client: Some(client.to_string()),
    };
    run(&s, client, call).await
}

/// A request that could not be read: its error is the answer once the caller is admitted, so
/// that a caller without a valid token hears 401 whatever it sent.
fn unreadable(kind: Option<Kind>, id: Option<String>, write: bool, error: ScimError) -> ScimOp {
    ScimOp::Unreadable {
        kind,
        id,
        write,
        error,
    }
}

/// Admit (authenticate, authorise), rate-limit by who the caller turned out to be, then run.
async fn run(s: &AppState, client: IpAddr, call: ScimCall) -> Response {
    let caller = match s.roster.scim_admit(&call).await {
        Ok(c) => c,
        Err(refused) => {
            if matches!(refused.cause, RefusalCause::Unauthenticated(_))
                && let Err(wait) = s.scim_limiter.refused(client)
            {
                return too_many(
                    format!(
                        "Too many unauthenticated requests from {client}: retry in {wait} s with a valid token"
                    ),
                    wait,
                );
            }
            return error_response(&refused.error);
        }
    };
    if let Err(wait) = s
        .scim_limiter
        .admitted(caller.principal.token(), caller.idp.uuid)
    {
        return too_many(
            format!(
                "Too many requests with this token for this identity provider: retry in {wait} s (the limit is {} per second)",
                s.config.scim_rate_limit
            ),
            wait,
        );
    }
    match s.roster.scim_run(&caller, call).await {
        Ok(r) => reply_response(r),
        Err(e) => error_response(&e),
    }
}

fn parse_json(bytes: &Bytes) -> Result<Value, ScimError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax(
            "The request body is empty: send a JSON object",
        ));
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        ScimError::invalid_syntax(format!("The request body is not valid JSON: {e}"))
    })?;
    if has_nul(&v) {
        return Err(ScimError::invalid_value(
            "NUL characters (\\u0000) are not allowed in values",
        ));
    }
    Ok(v)
}

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(o) => o.iter().any(|(k, x)| k.contains('\0') || has_nul(x)),
        _ => false,
    }
}

fn search_body(v: Value) -> Result<SearchRequest, ScimError> {
    serde_json::from_value(v)
        .map_err(|e| ScimError::invalid_syntax(format!("Not a SearchRequest: {e}")))
}

/// Render an error produced outside a SCIM handler (body limit, timeout, panic) as SCIM.
pub fn render_layer_error(status: StatusCode, headers: &HeaderMap) -> Option<Response> {
    let _ = headers;
    let e = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ScimError::payload_too_large("The request body is too large")
        }
        StatusCode::REQUEST_TIMEOUT => ScimError::new(408, "The request took too long"),
        StatusCode::METHOD_NOT_ALLOWED => ScimError::method_not_allowed("Method not allowed"),
        StatusCode::NOT_FOUND => ScimError::not_found("Not found"),
        s if s.is_server_error() => ScimError::internal("Internal server error"),
        s if s.is_client_error() => {
            ScimError::new(s.as_u16(), s.canonical_reason().unwrap_or("Error"))
        }
        _ => return None,
    };
    Some(error_response(&e))
}
