//! Errors, rendered once per wire format.
//!
//! Handlers return [`AppError`]; it becomes a response carrying an [`ErrorInfo`] extension. The
//! [`render_errors`] middleware then writes the body in the shape the route's clients read:
//! Django REST Framework bodies on `/iam/…` (`{"detail": …}` or `{"field": ["…"]}`), JSON:API
//! `errors[]` on `/v4/…`. Error statuses produced outside handlers (unknown route, wrong method,
//! body too large, timeout) get the same treatment.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roster_core::CoreError;
use roster_core::error::FieldErrors;
use serde_json::{Map, Value, json};

/// What went wrong, independent of the wire format.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub status: StatusCode,
    pub detail: String,
    /// Field errors (validation and uniqueness); empty for the others.
    pub fields: Vec<(String, String)>,
}

impl ErrorInfo {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            fields: Vec::new(),
        }
    }

    fn from_core(e: &CoreError) -> Self {
        match e {
            CoreError::Validation(f) => Self {
                status: StatusCode::BAD_REQUEST,
                detail: format!("Invalid data: {f}"),
                fields: f.0.clone(),
            },
            CoreError::Unauthenticated(a) => Self::new(StatusCode::UNAUTHORIZED, a.message()),
            CoreError::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, m.clone()),
            CoreError::NotFound(what) => {
                Self::new(StatusCode::NOT_FOUND, format!("{what} not found."))
            }
            CoreError::Conflict { field, message } => Self {
                status: StatusCode::CONFLICT,
                detail: message.clone(),
                fields: vec![((*field).to_string(), message.clone())],
            },
            CoreError::PreconditionFailed => Self::new(StatusCode::CONFLICT, e.to_string()),
            CoreError::Throttled(secs) => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed attempts: try again in {secs} seconds."),
            ),
            CoreError::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is busy or briefly cannot reach its database; retry shortly.",
            ),
            CoreError::Internal(_) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
            }
        }
    }

    /// `{"detail": …}` or `{"field": ["…", …], …}`.
    pub fn drf_body(&self) -> Value {
        if self.fields.is_empty() {
            return json!({ "detail": self.detail });
        }
        let mut m = Map::new();
        for (k, v) in &self.fields {
            let entry = m
                .entry(k.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = entry {
                a.push(Value::String(v.clone()));
            }
        }
        Value::Object(m)
    }

    /// `{"errors": [{"status", "code", "title", "detail", "source": {"pointer"}}]}`.
    pub fn jsonapi_body(&self) -> Value {
        let (code, title) = match self.status.as_u16() {
            400 => ("10000", "Validation Error"),
            401 => ("10001", "Authentication Failed"),
            403 => ("10003", "Permission Denied"),
            404 => ("10004", "Not Found"),
            405 => ("10005", "Method Not Allowed"),
            406 => ("10006", "Not Acceptable"),
            408 => ("10008", "Request Timeout"),
            409 => ("10009", "Conflict"),
            413 => ("10013", "Payload Too Large"),
            429 => ("10010", "Throttled"),
            503 => ("10503", "Service Unavailable"),
            _ => ("10500", "Internal Server Error"),
        };
        let status = self.status.as_u16().to_string();
        let errors: Vec<Value> = if self.fields.is_empty() {
            vec![json!({ "status": status, "code": code, "title": title, "detail": self.detail })]
        } else {
            self.fields
                .iter()
                .map(|(f, m)| {
                    let pointer = if f == "non_field_errors" { "/data".to_string() } else { format!("/data/attributes/{f}") };
                    json!({ "status": status, "code": code, "title": title, "detail": m, "source": { "pointer": pointer } })
                })
                .collect()
        };
        json!({ "errors": errors })
    }
}

/// The error type of every IAM handler.
#[derive(Debug)]
pub struct AppError(pub CoreError);

impl From<CoreError> for AppError {
    fn from(e: CoreError) -> Self {
        Self(e)
    }
}

impl AppError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self(FieldErrors::single(field, message))
    }
    pub fn not_found(what: &'static str) -> Self {
        Self(CoreError::NotFound(what))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self.0 {
            CoreError::Internal(cause) => tracing::error!(%cause, "internal error"),
            CoreError::Unavailable(cause) => tracing::warn!(%cause, "request refused: busy"),
            _ => {}
        }
        info_response(ErrorInfo::from_core(&self.0))
    }
}

/// A response for `info` in the default (DRF) shape, tagged for [`render_errors`].
pub fn info_response(info: ErrorInfo) -> Response {
    let mut resp = (info.status, Json(info.drf_body())).into_response();
    if info.status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
    }
    if info.status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp.extensions_mut().insert(info);
    resp
}

/// Which error body a path's clients expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Drf,
    JsonApi,
    /// Routes that render their own errors (SCIM).
    Own,
    /// The console: pages for people.
    Console,
}

fn flavor(path: &str) -> Flavor {
    if path.starts_with("/v4/users/scim") {
        Flavor::Own
    } else if path == "/" || path.starts_with("/console") {
        Flavor::Console
    } else if path.starts_with("/v4/") {
        Flavor::JsonApi
    } else {
        Flavor::Drf
    }
}

/// Middleware: give every error response the body shape of its route.
pub async fn render_errors(req: Request, next: Next) -> Response {
    let flavor = flavor(req.uri().path());
    let resp = next.run(req).await;
    if flavor == Flavor::Console {
        if resp
            .extensions()
            .get::<crate::console::ConsoleRendered>()
            .is_some()
            || !(resp.status().is_client_error() || resp.status().is_server_error())
        {
            return resp;
        }
        let status = resp.status();
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "What was sent is too large.",
            StatusCode::REQUEST_TIMEOUT => "The request took too long.",
            StatusCode::METHOD_NOT_ALLOWED => "This page does not take that kind of request.",
            StatusCode::NOT_FOUND => "There is no such page.",
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => {
                "The form could not be read. Go back, reload the page, and try again."
            }
            _ => "Something went wrong. Nothing was changed.",
        };
        return crate::console::plain_error(status, message);
    }
    if flavor == Flavor::Own {
        if resp
            .extensions()
            .get::<crate::scim::ScimRendered>()
            .is_some()
            || !(resp.status().is_client_error() || resp.status().is_server_error())
        {
            return resp;
        }
        let (parts, _) = resp.into_parts();
        return crate::scim::render_layer_error(parts.status, &parts.headers)
            .unwrap_or_else(|| parts.status.into_response());
    }
    let info = match resp.extensions().get::<ErrorInfo>() {
        Some(i) => i.clone(),
        None if resp.status().is_client_error() || resp.status().is_server_error() => {
            let status = resp.status();
            let detail = match status {
                StatusCode::PAYLOAD_TOO_LARGE => "Request body too large.",
                StatusCode::REQUEST_TIMEOUT => "The request took too long.",
                StatusCode::METHOD_NOT_ALLOWED => "Method not allowed.",
                StatusCode::NOT_FOUND => "Not found.",
                _ => status.canonical_reason().unwrap_or("Error"),
            };
            ErrorInfo::new(status, detail)
        }
        None => return resp,
    };
    let body = match flavor {
        Flavor::JsonApi => info.jsonapi_body(),
        _ => info.drf_body(),
    };
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

pub async fn fallback(uri: axum::http::Uri) -> Response {
    if let Some(r) = crate::scim::no_endpoint(uri.path()) {
        return r;
    }
    AppError::not_found("Resource").into_response()
}

pub async fn method_not_allowed() -> Response {
    info_response(ErrorInfo::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_503_with_retry_after_in_both_wire_formats() {
        let resp = AppError(CoreError::Unavailable("pool timed out".into())).into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        let info = ErrorInfo::from_core(&CoreError::Unavailable("x".into()));
        assert!(!info.detail.contains("pool"), "the cause stays in the log");
        assert_eq!(info.jsonapi_body()["errors"][0]["code"], "10503");
        let scim = crate::scim::error_response(&roster_scim::ScimError::unavailable("busy"));
        assert_eq!(scim.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(scim.headers()[header::RETRY_AFTER], "1");
    }
}
