//! SCIM errors (RFC 7644 §3.12).
//!
//! Every fallible function of this crate returns [`ScimError`], which is already the wire error: an HTTP
//! status, an optional [`ScimType`] keyword and a human-readable `detail`. It serialises to the RFC 7644
//! §3.12 body, with `status` as a JSON **string**:
//!
//! ```json
//! { "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
//!   "status": "400", "scimType": "invalidFilter",
//!   "detail": "invalid filter at character 10: expected a comparison operator" }
//! ```
//!
//! Deserialisation (for Roster's provisioning client) accepts `status` as a string or a number and an
//! unknown `scimType` keyword (kept as [`ScimType::Other`]).

use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::urn;

/// The `scimType` keywords of RFC 7644 §3.12 (Table 9), plus the two cursor errors of RFC 9865.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScimType {
    /// The filter syntax was invalid, or the attribute and comparison combination is not supported (400).
    InvalidFilter,
    /// The filter yields more results than the server is willing to return (400).
    TooMany,
    /// One or more unique attribute values are already in use or reserved (409).
    Uniqueness,
    /// The attempted modification is not compatible with the attribute's mutability (400).
    Mutability,
    /// The request body structure was invalid or did not conform to the schema (400).
    InvalidSyntax,
    /// The `path` attribute was invalid or malformed (400).
    InvalidPath,
    /// The `path` did not yield an attribute or attribute value that could be operated on (400).
    NoTarget,
    /// A required value was missing, or the value was not compatible with the attribute's type (400).
    InvalidValue,
    /// The specified SCIM protocol version is not supported (400).
    InvalidVers,
    /// The request cannot be completed because it passes sensitive information in the URI (403).
    Sensitive,
    /// RFC 9865: the cursor is invalid or was not issued by this server (400).
    InvalidCursor,
    /// RFC 9865: the cursor has expired (400).
    ExpiredCursor,
    /// A keyword this crate does not know (only produced when deserialising a peer's error).
    Other(String),
}

impl ScimType {
    /// The keyword as it appears on the wire (`"invalidFilter"`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::InvalidCursor => "invalidCursor",
            ScimType::ExpiredCursor => "expiredCursor",
            ScimType::Other(s) => s,
        }
    }

    /// Parses a wire keyword (case-insensitively); unknown keywords become [`ScimType::Other`].
    pub fn from_keyword(s: &str) -> ScimType {
        const ALL: [ScimType; 12] = [
            ScimType::InvalidFilter,
            ScimType::TooMany,
            ScimType::Uniqueness,
            ScimType::Mutability,
            ScimType::InvalidSyntax,
            ScimType::InvalidPath,
            ScimType::NoTarget,
            ScimType::InvalidValue,
            ScimType::InvalidVers,
            ScimType::Sensitive,
            ScimType::InvalidCursor,
            ScimType::ExpiredCursor,
        ];
        ALL.into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .unwrap_or_else(|| ScimType::Other(s.to_owned()))
    }

    /// The HTTP status RFC 7644 Table 9 pairs with this keyword.
    pub fn default_status(&self) -> u16 {
        match self {
            ScimType::Uniqueness => 409,
            ScimType::Sensitive => 403,
            _ => 400,
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ScimType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ScimType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(ScimType::from_keyword(&s))
    }
}

/// A SCIM error: HTTP status, optional `scimType` and detail. See the module documentation.
///
/// `Display` gives `400 invalidFilter: <detail>` (or `404: <detail>` without `scimType`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}{}: {detail}", .scim_type.as_ref().map(|t| format!(" {t}")).unwrap_or_default())]
pub struct ScimError {
    /// HTTP status code (rendered as a string on the wire).
    pub status: u16,
    /// RFC 7644 §3.12 error keyword, when one applies.
    pub scim_type: Option<ScimType>,
    /// Human-readable, actionable explanation.
    pub detail: String,
}

macro_rules! typed_constructor {
    ($(#[$doc:meta])* $name:ident, $variant:ident) => {
        $(#[$doc])*
        pub fn $name(detail: impl Into<String>) -> ScimError {
            ScimError::typed(ScimType::$variant, detail)
        }
    };
}

macro_rules! status_constructor {
    ($(#[$doc:meta])* $name:ident, $status:expr) => {
        $(#[$doc])*
        pub fn $name(detail: impl Into<String>) -> ScimError {
            ScimError::new($status, detail)
        }
    };
}

impl ScimError {
    /// An error without `scimType`.
    pub fn new(status: u16, detail: impl Into<String>) -> ScimError {
        ScimError {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// An error with a `scimType`, at the status RFC 7644 Table 9 gives it.
    pub fn typed(scim_type: ScimType, detail: impl Into<String>) -> ScimError {
        ScimError {
            status: scim_type.default_status(),
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    typed_constructor!(/// 400 `invalidFilter`.
        invalid_filter, InvalidFilter);
    typed_constructor!(/// 400 `tooMany`.
        too_many, TooMany);
    typed_constructor!(/// 409 `uniqueness`.
        uniqueness, Uniqueness);
    typed_constructor!(/// 400 `mutability`.
        mutability, Mutability);
    typed_constructor!(/// 400 `invalidSyntax`.
        invalid_syntax, InvalidSyntax);
    typed_constructor!(/// 400 `invalidPath`.
        invalid_path, InvalidPath);
    typed_constructor!(/// 400 `noTarget`.
        no_target, NoTarget);
    typed_constructor!(/// 400 `invalidValue`.
        invalid_value, InvalidValue);
    typed_constructor!(/// 400 `invalidVers`.
        invalid_vers, InvalidVers);
    typed_constructor!(/// 403 `sensitive`.
        sensitive, Sensitive);
    typed_constructor!(/// 400 `invalidCursor` (RFC 9865).
        invalid_cursor, InvalidCursor);
    typed_constructor!(/// 400 `expiredCursor` (RFC 9865).
        expired_cursor, ExpiredCursor);

    status_constructor!(/// 400 without `scimType`. RFC 7644's wording is a suitable detail:
        /// "Request is unparsable, syntactically incorrect, or violates schema."
        bad_request, 400);
    status_constructor!(/// 401: missing or invalid credentials.
        unauthorized, 401);
    status_constructor!(/// 403: the operation is not permitted for these credentials.
        forbidden, 403);
    status_constructor!(/// 404: resource or endpoint not found.
        not_found, 404);
    status_constructor!(/// 405: the endpoint does not support this method.
        method_not_allowed, 405);
    status_constructor!(/// 409 without `scimType` (use [`ScimError::uniqueness`] for duplicates).
        conflict, 409);
    status_constructor!(/// 412: `If-Match` failed (version mismatch).
        precondition_failed, 412);
    status_constructor!(/// 413: request too large (e.g. bulk limits).
        payload_too_large, 413);
    status_constructor!(/// 429: throttled; the server adds `Retry-After`.
        too_many_requests, 429);
    status_constructor!(/// 500: a generic server error. Keep the detail generic; log the cause.
        internal, 500);
    status_constructor!(/// 501: the service provider does not support the requested operation.
        not_implemented, 501);
    status_constructor!(/// 503: overloaded for now; the server adds `Retry-After`.
        unavailable, 503);

    /// The RFC 7644 §3.12 JSON body.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl Serialize for ScimError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("schemas", &[urn::ERROR])?;
        map.serialize_entry("status", &self.status.to_string())?;
        if let Some(t) = &self.scim_type {
            map.serialize_entry("scimType", t)?;
        }
        map.serialize_entry("detail", &self.detail)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for ScimError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Status {
            Text(String),
            Number(u16),
        }
        #[derive(Deserialize)]
        struct Wire {
            status: Status,
            #[serde(rename = "scimType", default)]
            scim_type: Option<ScimType>,
            #[serde(default)]
            detail: Option<String>,
        }
        let wire = Wire::deserialize(deserializer)?;
        let status = match wire.status {
            Status::Number(n) => n,
            Status::Text(s) => s
                .trim()
                .parse::<u16>()
                .map_err(|_| de::Error::custom(format!("invalid status {s:?}")))?,
        };
        Ok(ScimError {
            status,
            scim_type: wire.scim_type,
            detail: wire.detail.unwrap_or_default(),
        })
    }
}
