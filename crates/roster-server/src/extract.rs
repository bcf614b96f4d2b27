//! Extractors that turn every rejection into an [`AppError`](crate::error::AppError).

use crate::AppState;
use crate::error::{AppError, ErrorInfo, info_response};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use roster_core::Principal;
use roster_core::error::{AuthFailure, CoreError, FieldErrors};
use roster_core::service::ListRequest;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// The authenticated caller (`Authorization: Token <key>` or `Bearer <key>`).
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = match parts.headers.get(header::AUTHORIZATION) {
            None => None,
            Some(v) => Some(
                v.to_str()
                    .map_err(|_| AppError(CoreError::Unauthenticated(AuthFailure::BadScheme)))?,
            ),
        };
        let p = state.roster.authenticate(header).await?;
        tracing::Span::current().record("user", p.user().id);
        Ok(Auth(p))
    }
}

/// A request body as the IAM API accepts it: JSON whatever the `Content-Type` says (the guide's
/// curl sends JSON as form-urlencoded), or a real form; an empty body is `{}`.
pub struct Body<T>(pub T);

/// The body-read error that means the body was too large.
fn too_large() -> Response {
    info_response(ErrorInfo::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request body too large.",
    ))
}

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                AppError::validation(
                    "non_field_errors",
                    format!("Could not read the request body: {e}"),
                )
                .into_response()
            }
        })?;
        parse_body(&bytes, is_form)
            .map(Body)
            .map_err(IntoResponse::into_response)
    }
}

/// Parse `bytes` as JSON (or as a form when it is not JSON and `is_form`).
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8], is_form: bool) -> Result<T, AppError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| AppError::validation("non_field_errors", "The body is not UTF-8."))?;
    let trimmed = text.trim();
    let text = if trimmed.is_empty() { "{}" } else { trimmed };
    let looks_json = text.starts_with('{') || text.starts_with('[') || text.starts_with('"');
    if is_form && !looks_json {
        return serde_urlencoded::from_str(text).map_err(|e| {
            AppError::validation("non_field_errors", format!("Invalid form data: {e}."))
        });
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        if inner.is_syntax() || inner.is_eof() {
            AppError::validation("non_field_errors", format!("JSON parse error: {msg}."))
        } else if path == "." || path.is_empty() {
            AppError::validation("non_field_errors", format!("Invalid data: {msg}."))
        } else {
            // `teams_ids[0]` → field `teams_ids`
            let field = path.split(['[', '.']).next().unwrap_or(&path).to_string();
            let mut f = FieldErrors::new();
            f.add(field, format!("Invalid value: {msg}."));
            AppError(CoreError::Validation(f))
        }
    })
}

/// List parameters: `page`, `page_size`, `ordering`, `search`, `fields`; others are ignored.
pub struct ListQuery {
    pub list: ListRequest,
    /// Sparse fieldset; empty means every field.
    pub fields: Vec<String>,
    /// The raw query, for rendering `next` / `previous`.
    pub raw: Vec<(String, String)>,
}

impl FromRequestParts<AppState> for ListQuery {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let raw: Vec<(String, String)> =
            serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).map_err(|e| {
                AppError::validation("non_field_errors", format!("Invalid query string: {e}."))
            })?;
        let map: HashMap<&str, &str> = raw.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let get = |k: &str| map.get(k).map(|v| v.to_string());
        let fields = get("fields")
            .map(|f| {
                f.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(ListQuery {
            list: ListRequest {
                page: get("page"),
                page_size: get("page_size"),
                ordering: get("ordering"),
                search: get("search"),
            },
            fields,
            raw,
        })
    }
}

/// `fields` for single-object reads.
pub struct Fields(pub Vec<String>);

impl FromRequestParts<AppState> for Fields {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Fields(
            ListQuery::from_request_parts(parts, state).await?.fields,
        ))
    }
}

pub fn parse_id(s: &str, what: &'static str) -> Result<i64, AppError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(AppError::not_found(what))
}

pub fn parse_uuid(s: &str, what: &'static str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(s).map_err(|_| AppError::not_found(what))
}
