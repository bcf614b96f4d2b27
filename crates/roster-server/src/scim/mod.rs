//! SCIM 2.0: `/v4/users/scim/{idp_uuid}/…`, one endpoint per identity provider. The routes and
//! their extractors are in [`routes`]; this module admits and rate-limits callers, runs the
//! operation and renders replies and errors, every one of them `application/scim+json`.

mod limit;
mod routes;

pub use limit::Limiter;
pub(crate) use routes::routes;
pub use routes::{no_endpoint, normalize};

use crate::AppState;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_core::scim::{RefusalCause, ScimCall, ScimReply};
use roster_scim::ScimError;
use roster_scim::messages::SearchRequest;
use serde_json::Value;
use std::net::IpAddr;

pub const SCIM_JSON: &str = "application/scim+json";

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

pub(crate) fn method_not_allowed(allow: &'static str) -> Response {
    let mut resp = error_response(&ScimError::method_not_allowed(format!(
        "Use {allow} on this endpoint"
    )));
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// Admit (authenticate, authorise), rate-limit by who the caller turned out to be, then run.
pub(crate) async fn run(s: &AppState, client: IpAddr, call: ScimCall) -> Response {
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
        // SCIM callers always come with a token (a console session never reaches SCIM).
        .admitted(
            caller.principal.token().unwrap_or_default(),
            caller.idp.uuid,
        )
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

pub(crate) fn parse_json(bytes: &Bytes) -> Result<Value, ScimError> {
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

pub(crate) fn search_body(v: Value) -> Result<SearchRequest, ScimError> {
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
