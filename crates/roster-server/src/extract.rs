//! Extractors that turn every rejection into an [`AppError`](crate::error::AppError).

use crate::AppState;
use crate::error::{AppError, ErrorInfo, info_response};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use roster_core::Principal;
use roster_core::error::{AuthFailure, CoreError, FieldErrors};
use roster_core::service::{ListRequest, Operator};
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
        let p = state.roster.authenticate(authorization(parts)?).await?;
        tracing::Span::current().record("user", p.user().id.0);
        let reads_self = parts.method == axum::http::Method::GET
            && parts.uri.path().trim_end_matches('/').ends_with("/user");
        p.check_iam(reads_self)?;
        Ok(Auth(p))
    }
}

/// The `Authorization` header's value, if any (one that is not text is a bad scheme).
fn authorization(parts: &Parts) -> Result<Option<&str>, AppError> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .map_err(|_| AppError(CoreError::Unauthenticated(AuthFailure::BadScheme)))
        })
        .transpose()
}

/// The instance operator, authenticated by an operator token (the operator API). Personal
/// tokens are refused here, and operator tokens everywhere else.
pub struct OperatorAuth(pub Operator);

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let op = state
            .roster
            .authenticate_operator(authorization(parts)?)
            .await?;
        Ok(OperatorAuth(op))
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
        let ctype = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if ctype.starts_with("multipart/") {
            return Err(info_response(ErrorInfo::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "multipart bodies are not supported: send JSON (Content-Type: application/json) or a form.",
            )));
        }
        let is_form = ctype.starts_with("application/x-www-form-urlencoded");
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else if crate::middleware::body_timed_out(&e) {
                info_response(ErrorInfo::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "The request body did not arrive in time.",
                ))
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

/// Fields that may be `null` (everything else refuses it, as DRF does).
const NULLABLE: &[&str] = &["description"];

/// Parse `bytes` as a JSON object (or as a form when it is not JSON and `is_form`): nothing after
/// the object, no `null` for fields that cannot be null, no control characters in strings.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8], is_form: bool) -> Result<T, AppError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| AppError::validation("non_field_errors", "The body is not UTF-8."))?;
    let trimmed = text.trim();
    let text = if trimmed.is_empty() { "{}" } else { trimmed };
    let looks_json = text.starts_with('{') || text.starts_with('[') || text.starts_with('"');
    let value: serde_json::Value = if is_form && !looks_json {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text).map_err(|e| {
            AppError::validation("non_field_errors", format!("Invalid form data: {e}."))
        })?;
        let mut map = serde_json::Map::new();
        for (k, v) in pairs {
            if map.contains_key(&k) {
                return Err(AppError::validation(
                    &k,
                    "Lists cannot be sent as form fields: send the body as JSON (Content-Type: application/json).",
                ));
            }
            map.insert(k, form_value(&v));
        }
        serde_json::Value::Object(map)
    } else {
        serde_json::from_str(text).map_err(|e| {
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            AppError::validation("non_field_errors", format!("JSON parse error: {msg}."))
        })?
    };
    let serde_json::Value::Object(obj) = &value else {
        return Err(AppError::validation(
            "non_field_errors",
            format!(
                "Invalid data: expected a JSON object, got {}.",
                kind(&value)
            ),
        ));
    };
    let mut errs = FieldErrors::new();
    for (k, v) in obj {
        if v.is_null() && !NULLABLE.contains(&k.as_str()) {
            errs.add(k.clone(), "This field may not be null.");
        }
        if has_control(v) {
            errs.add(
                k.clone(),
                "Control characters are not allowed (tab and line breaks excepted).",
            );
        }
    }
    if !errs.is_empty() {
        return Err(AppError(CoreError::Validation(errs)));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        // `teams_ids[0]` → field `teams_ids`
        let field = path.split(['[', '.']).next().unwrap_or(&path).to_string();
        let field = if field.is_empty() || field == "." {
            "non_field_errors".to_string()
        } else {
            field
        };
        let mut f = FieldErrors::new();
        f.add(field, format!("Invalid value: {}.", friendly(&msg)));
        AppError(CoreError::Validation(f))
    })
}

/// A form value as JSON: `true`/`false` and whole numbers as such, the rest as text.
fn form_value(v: &str) -> serde_json::Value {
    match v {
        "true" | "True" => serde_json::Value::Bool(true),
        "false" | "False" => serde_json::Value::Bool(false),
        _ => match v.parse::<i64>() {
            Ok(n) if n.to_string() == v => serde_json::Value::from(n),
            _ => serde_json::Value::String(v.to_string()),
        },
    }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
        serde_json::Value::Object(_) => "an object",
    }
}

/// serde's words, without Rust names.
fn friendly(msg: &str) -> String {
    msg.replace("i64", "a whole number")
        .replace("a sequence", "a list")
        .replace("floating point", "number")
}

/// Any string (or key) holding C0 control characters other than tab, CR and LF, or DEL.
pub fn has_control(v: &serde_json::Value) -> bool {
    let bad = |s: &str| {
        s.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    };
    match v {
        serde_json::Value::String(s) => bad(s),
        serde_json::Value::Array(a) => a.iter().any(has_control),
        serde_json::Value::Object(o) => o.iter().any(|(k, x)| bad(k) || has_control(x)),
        _ => false,
    }
}

/// The query string's pairs, refused in the IAM error shape when it cannot be read or holds
/// control characters.
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw: Vec<(String, String)> =
            serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).map_err(|e| {
                AppError::validation("non_field_errors", format!("Invalid query string: {e}."))
            })?;
        if raw
            .iter()
            .any(|(k, v)| k.chars().chain(v.chars()).any(char::is_control))
        {
            return Err(AppError::validation(
                "non_field_errors",
                "Control characters are not allowed in the query string.",
            ));
        }
        Ok(Params(raw))
    }
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

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let Params(raw) = Params::from_request_parts(parts, s).await?;
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

pub fn parse_id<T: From<i64>>(s: &str, what: &'static str) -> Result<T, AppError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(T::from)
        .ok_or(AppError::not_found(what))
}

pub fn parse_uuid(s: &str, what: &'static str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(s).map_err(|_| AppError::not_found(what))
}
