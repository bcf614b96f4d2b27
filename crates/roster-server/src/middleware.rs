//! The layers around every route: request ids, tracing without secrets, panics as 500s, body
//! size limit, timeouts, and error bodies in each route's shape.

use crate::ServerConfig;
use crate::error::{ErrorInfo, info_response, render_errors};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::Response;
use std::any::Any;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    info_response(ErrorInfo::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal server error.",
    ))
}

/// A client's `x-request-id` is kept only when it is a short token (at most 64 characters of
/// letters, digits, `-`, `_`, `.`, `:`); anything else is replaced by a fresh UUID, so the id
/// logged and echoed is never the client's payload.
async fn sanitize_request_id(mut req: Request) -> Request {
    let ok = req.headers().get(&REQUEST_ID).is_none_or(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 64
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
    });
    if !ok {
        req.headers_mut().remove(&REQUEST_ID);
    }
    req
}

pub fn wrap(app: Router, config: &ServerConfig) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request| {
        let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
        let matched = req
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        // The path only: query strings are not logged.
        // A password link's path is its key: only the route is logged for it.
        let path = req.uri().path();
        let path = if path.starts_with("/console/password/") { "/console/password/{key}" } else { path };
        tracing::info_span!("request", request_id = %id, method = %req.method(), path = %path, route = %matched, user = tracing::field::Empty)
    });
    app.layer(CatchPanicLayer::custom(panic_response))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            config.body_read_timeout,
        ))
        .layer(trace)
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_request(sanitize_request_id))
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(config.trusted_proxies.clone()),
            crate::client::layer,
        ))
        // Outermost, so that errors made by the layers above get the route's body shape too.
        .layer(axum::middleware::from_fn(render_errors))
}

/// Did reading a request body fail because the client stopped sending it (the body-read timeout)?
pub fn body_timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cur = err.source();
    }
    false
}
