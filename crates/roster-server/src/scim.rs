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
use roster_core::scim::{Kind, ScimCall, ScimOp, ScimReply};
use roster_scim::ScimError;
use roster_scim::messages::SearchRequest;
use roster_scim::projection::Projection;
use serde_json::Value;

pub const SCIM_JSON: &str = "application/scim+json";

/// A request-rate limit per identity provider (GCRA, from `governor`).
pub struct Limiter {
    inner: governor::DefaultKeyedRateLimiter<String>,
    checks: std::sync::atomic::AtomicU64,
}

impl Limiter {
    /// `per_second` requests a second, bursts of twice that; `None` for 0 (no limit).
    pub fn new(per_second: u32) -> Option<Limiter> {
        let rate = std::num::NonZeroU32::new(per_second)?;
        let burst = rate.saturating_mul(std::num::NonZeroU32::MIN.saturating_add(1));
        let quota = governor::Quota::per_second(rate).allow_burst(burst);
        Some(Limiter {
            inner: governor::RateLimiter::keyed(quota),
            checks: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// `Err(seconds to wait)` when the provider's budget is spent.
    fn check(&self, idp: &str) -> Result<(), u64> {
        use governor::clock::{Clock, DefaultClock};
        // Forget idle keys now and then, so made-up provider ids cannot grow the table for ever.
        if self
            .checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % 4096
            == 4095
        {
            self.inner.retain_recent();
        }
        self.inner
            .check_key(&idp.to_ascii_lowercase())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
            })
    }
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

async fn dispatch(s: AppState, idp: String, rest: String, req: Request) -> Response {
    if let Some(limiter) = &s.scim_limiter
        && let Err(wait) = limiter.check(&idp)
    {
        let mut resp = error_response(&ScimError::too_many_requests(format!(
            "Too many requests for this identity provider: retry in {wait} s (the limit is {} per second)",
            s.config.scim_rate_limit
        )));
        if let Ok(v) = HeaderValue::from_str(&wait.max(1).to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
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
            .map_err(|_| {
                ScimError::payload_too_large(format!(
                    "The request body is larger than {} bytes",
                    s.config.body_limit
                ))
            })?;
        parse_json(&bytes)
    };
    let op = match (lower.as_slice(), &method) {
        ([k], &Method::GET) if kind_of(k).is_some() => match SearchRequest::from_query(q()) {
            Ok(search) => ScimOp::List {
                kind: kind_of(k).unwrap_or(Kind::Users),
                search,
            },
            Err(e) => return error_response(&e),
        },
        ([k], &Method::POST) if kind_of(k).is_some() => match body().await {
            Ok(b) => ScimOp::Create {
                kind: kind_of(k).unwrap_or(Kind::Users),
                body: b,
                projection: projection(),
            },
            Err(e) => return error_response(&e),
        },
        ([k], _) if kind_of(k).is_some() => return method_not_allowed("GET, POST"),
        ([k, ".search"], &Method::POST) if kind_of(k).is_some() => {
            match body().await.and_then(search_body) {
                Ok(search) => ScimOp::List {
                    kind: kind_of(k).unwrap_or(Kind::Users),
                    search,
                },
                Err(e) => return error_response(&e),
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
                    Err(e) => return error_response(&e),
                },
                Method::PATCH => match body().await {
                    Ok(b) => ScimOp::Patch {
                        kind,
                        id,
                        body: b,
                        if_match: header(header::IF_MATCH),
                        projection: projection(),
                    },
                    Err(e) => return error_response(&e),
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
            Err(e) => return error_response(&e),
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
            Err(e) => return error_response(&e),
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
    };
    match s.roster.scim(call).await {
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
