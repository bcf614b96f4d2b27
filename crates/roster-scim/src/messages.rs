//! Protocol messages (RFC 7644 §3.4.2, §3.4.3, §3.7, §3.12; RFC 7643 §5; RFC 9865 cursors).
//!
//! All types serialise to the wire shape (camelCase, `Resources`, `Operations`) and deserialise
//! leniently where clients differ (`startIndex`/`count` as numbers or strings, `attributes` as a list or
//! a comma-separated string). Errors are in [`crate::error`], PATCH requests in [`crate::patch`], schemas
//! and resource types in [`crate::schema`].

use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::error::{ScimError, ScimType};
pub use crate::patch::{PatchOp, PatchOperation};
pub use crate::schema::{ResourceType, Schema, SchemaExtension};
use crate::urn;

fn list_response_schemas() -> Vec<String> {
    vec![urn::LIST_RESPONSE.to_owned()]
}

/// A query response (RFC 7644 §3.4.2), with the RFC 9865 cursor fields.
///
/// `Resources` is always serialised, even when empty (Entra's Test Connection requires it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    /// `["urn:ietf:params:scim:api:messages:2.0:ListResponse"]`.
    #[serde(default = "list_response_schemas")]
    pub schemas: Vec<String>,
    /// Total number of results matching the query.
    pub total_results: u64,
    /// 1-based index of the first result (index pagination; absent with cursors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_index: Option<u64>,
    /// Number of resources in this page.
    pub items_per_page: u64,
    /// RFC 9865: cursor of the next page, absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// RFC 9865: cursor of the previous page, if the server supports going back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_cursor: Option<String>,
    /// The resources of this page.
    #[serde(rename = "Resources", default = "Vec::new")]
    pub resources: Vec<T>,
}

impl<T> ListResponse<T> {
    /// An index-paginated page: `itemsPerPage` is the number of resources actually returned.
    pub fn page(resources: Vec<T>, total_results: u64, start_index: u64) -> ListResponse<T> {
        ListResponse {
            schemas: list_response_schemas(),
            total_results,
            start_index: Some(start_index),
            items_per_page: resources.len() as u64,
            next_cursor: None,
            previous_cursor: None,
            resources,
        }
    }

    /// A cursor-paginated page (RFC 9865).
    pub fn cursor_page(
        resources: Vec<T>,
        total_results: u64,
        next_cursor: Option<String>,
    ) -> ListResponse<T> {
        ListResponse {
            schemas: list_response_schemas(),
            total_results,
            start_index: None,
            items_per_page: resources.len() as u64,
            next_cursor,
            previous_cursor: None,
            resources,
        }
    }

    /// The empty result (`totalResults: 0`, `startIndex: 1`, `Resources: []`).
    pub fn empty() -> ListResponse<T> {
        ListResponse::page(Vec::new(), 0, 1)
    }
}

/// `ascending` / `descending` (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// The default.
    #[default]
    Ascending,
    /// Reverse order.
    Descending,
}

impl SortOrder {
    /// Parses `ascending` / `descending` in any case.
    pub fn parse(s: &str) -> Result<SortOrder, ScimError> {
        if s.trim().eq_ignore_ascii_case("ascending") {
            Ok(SortOrder::Ascending)
        } else if s.trim().eq_ignore_ascii_case("descending") {
            Ok(SortOrder::Descending)
        } else {
            Err(ScimError::invalid_value(format!(
                "sortOrder must be \"ascending\" or \"descending\", not {s:?}"
            )))
        }
    }
}

impl<'de> Deserialize<'de> for SortOrder {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SortOrder::parse(&s).map_err(|e| serde::de::Error::custom(e.detail))
    }
}

fn de_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected an integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("expected an integer, not {s:?}"))),
        Some(_) => Err(serde::de::Error::custom("expected an integer")),
    }
}

fn de_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(a)) => a
            .into_iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    })
}

/// `POST /.search` body (RFC 7644 §3.4.3), also the typed form of the GET query parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// `["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]`.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// Attributes to return.
    #[serde(
        default,
        deserialize_with = "de_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub attributes: Vec<String>,
    /// Attributes to leave out.
    #[serde(
        default,
        deserialize_with = "de_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub excluded_attributes: Vec<String>,
    /// The filter text (parse it with [`crate::filter::parse`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Attribute to sort by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<String>,
    /// Sort order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_order: Option<SortOrder>,
    /// 1-based start index (raw; normalise with [`Pagination::from_request`]).
    #[serde(
        default,
        deserialize_with = "de_opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_index: Option<i64>,
    /// Page size (raw).
    #[serde(
        default,
        deserialize_with = "de_opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub count: Option<i64>,
    /// RFC 9865 cursor (`""` asks for the first page of a cursor-paginated result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl SearchRequest {
    /// Builds a request from query parameters (already form-decoded: `+` is a space). Unknown parameters
    /// (such as Entra's `aadOptscim062020`) are ignored; names match case-insensitively.
    pub fn from_query<'q>(
        params: impl IntoIterator<Item = (&'q str, &'q str)>,
    ) -> Result<SearchRequest, ScimError> {
        let mut r = SearchRequest {
            schemas: vec![urn::SEARCH_REQUEST.to_owned()],
            ..Default::default()
        };
        let int = |name: &str, v: &str| {
            v.trim().parse::<i64>().map_err(|_| {
                ScimError::invalid_value(format!("{name} must be an integer, not {v:?}"))
            })
        };
        for (k, v) in params {
            match k.to_ascii_lowercase().as_str() {
                "filter" => r.filter = Some(v.to_owned()),
                "attributes" => r.attributes.push(v.to_owned()),
                "excludedattributes" => r.excluded_attributes.push(v.to_owned()),
                "sortby" => r.sort_by = Some(v.to_owned()),
                "sortorder" => r.sort_order = Some(SortOrder::parse(v)?),
                "startindex" => r.start_index = Some(int("startIndex", v)?),
                "count" => r.count = Some(int("count", v)?),
                "cursor" => r.cursor = Some(v.to_owned()),
                _ => {}
            }
        }
        Ok(r)
    }
}

/// Normalised pagination: index (RFC 7644 §3.4.2.4) or cursor (RFC 9865).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pagination {
    /// `startIndex` (1-based, at least 1) and `count` (0 ..= max).
    Index {
        /// 1-based index of the first result.
        start_index: u64,
        /// Maximum number of results.
        count: u64,
    },
    /// A cursor (`None` = first page) and `count`.
    Cursor {
        /// The opaque cursor from a previous `nextCursor`, or `None` for the first page.
        cursor: Option<String>,
        /// Maximum number of results.
        count: u64,
    },
}

impl Pagination {
    /// Normalises raw parameters per RFC 7644 §3.4.2.4: a `startIndex` below 1 is 1, a negative `count`
    /// is 0, a `count` above `max_count` is `max_count`, a missing `count` is `default_count`. A `cursor`
    /// parameter (even empty) selects cursor pagination; combining it with `startIndex` is `invalidValue`.
    pub fn from_request(
        r: &SearchRequest,
        default_count: u64,
        max_count: u64,
    ) -> Result<Pagination, ScimError> {
        let count = match r.count {
            None => default_count.min(max_count),
            Some(c) if c < 0 => 0,
            Some(c) => (c as u64).min(max_count),
        };
        match &r.cursor {
            Some(c) => {
                if r.start_index.is_some() {
                    return Err(ScimError::invalid_value(
                        "cursor and startIndex cannot be combined",
                    ));
                }
                let cursor = if c.is_empty() { None } else { Some(c.clone()) };
                Ok(Pagination::Cursor { cursor, count })
            }
            None => {
                let start_index = match r.start_index {
                    Some(s) if s >= 1 => s as u64,
                    _ => 1,
                };
                Ok(Pagination::Index { start_index, count })
            }
        }
    }

    /// Index pagination: the 0-based offset (`startIndex - 1`).
    pub fn offset(&self) -> Option<u64> {
        match self {
            Pagination::Index { start_index, .. } => Some(start_index - 1),
            Pagination::Cursor { .. } => None,
        }
    }

    /// The page size.
    pub fn count(&self) -> u64 {
        match self {
            Pagination::Index { count, .. } | Pagination::Cursor { count, .. } => *count,
        }
    }
}

/// A bulk operation (RFC 7644 §3.7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkOperation {
    /// `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// Client-assigned id, referenced as `bulkId:<id>`; required for POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_id: Option<String>,
    /// ETag for `If-Match` semantics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Resource path (`/Users`, `/Groups/{id}`).
    pub path: String,
    /// The body (resource or PatchOp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// `urn:ietf:params:scim:api:messages:2.0:BulkRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkRequest {
    /// Schemas.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// Stop after this many errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on_errors: Option<u32>,
    /// Operations.
    #[serde(rename = "Operations")]
    pub operations: Vec<BulkOperation>,
}

/// One result in a bulk response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkOperationResponse {
    /// The method of the operation.
    pub method: String,
    /// Its bulkId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_id: Option<String>,
    /// The resource's version after the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The resource URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// HTTP status, as a string (`"201"`).
    pub status: String,
    /// A SCIM error body (or resource) when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
}

/// `urn:ietf:params:scim:api:messages:2.0:BulkResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkResponse {
    /// Schemas.
    pub schemas: Vec<String>,
    /// Results, in request order.
    #[serde(rename = "Operations")]
    pub operations: Vec<BulkOperationResponse>,
}

impl BulkResponse {
    /// A response with the standard `schemas`.
    pub fn new(operations: Vec<BulkOperationResponse>) -> BulkResponse {
        BulkResponse {
            schemas: vec![urn::BULK_RESPONSE.to_owned()],
            operations,
        }
    }
}

/// `{"supported": bool}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Supported {
    /// Whether the feature is supported.
    pub supported: bool,
}

/// The `bulk` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BulkConfig {
    /// Supported.
    pub supported: bool,
    /// Maximum operations per request.
    pub max_operations: u32,
    /// Maximum payload size in bytes.
    pub max_payload_size: u64,
}

/// The `filter` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FilterConfig {
    /// Supported.
    pub supported: bool,
    /// Maximum results per query.
    pub max_results: u32,
}

/// RFC 9865 `pagination` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PaginationConfig {
    /// Cursor pagination supported.
    pub cursor: bool,
    /// Index pagination supported.
    pub index: bool,
    /// `index` or `cursor`: what the server uses when the client does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_pagination_method: Option<String>,
    /// Default page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_page_size: Option<u32>,
    /// Maximum page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_page_size: Option<u32>,
    /// Cursor lifetime in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_timeout: Option<u32>,
}

/// An authentication scheme entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationScheme {
    /// `oauthbearertoken`, `httpbasic`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Specification URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_uri: Option<String>,
    /// Documentation URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation_uri: Option<String>,
    /// Whether this is the primary scheme.
    #[serde(default)]
    pub primary: bool,
}

impl AuthenticationScheme {
    /// The OAuth bearer token scheme (RFC 6750), as Entra's "Secret Token" uses.
    pub fn oauth_bearer_token() -> AuthenticationScheme {
        AuthenticationScheme {
            kind: "oauthbearertoken".into(),
            name: "OAuth Bearer Token".into(),
            description: "Authentication scheme using the OAuth Bearer Token Standard".into(),
            spec_uri: Some("https://www.rfc-editor.org/info/rfc6750".into()),
            documentation_uri: None,
            primary: true,
        }
    }
}

/// `/ServiceProviderConfig` (RFC 7643 §5), with RFC 9865's `pagination` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceProviderConfig {
    /// Schemas.
    pub schemas: Vec<String>,
    /// Documentation URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation_uri: Option<String>,
    /// PATCH.
    pub patch: Supported,
    /// Bulk.
    pub bulk: BulkConfig,
    /// Filtering.
    pub filter: FilterConfig,
    /// Password change.
    pub change_password: Supported,
    /// Sorting.
    pub sort: Supported,
    /// ETags.
    pub etag: Supported,
    /// RFC 9865 pagination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<PaginationConfig>,
    /// Authentication schemes.
    pub authentication_schemes: Vec<AuthenticationScheme>,
    /// `meta` (resourceType `ServiceProviderConfig`, location, …), supplied by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

impl ServiceProviderConfig {
    /// An honest starting point: PATCH and filtering supported (`max_results`), bulk, sort,
    /// password change and ETags off, bearer-token authentication. Adjust what the server enforces.
    pub fn new(max_results: u32) -> ServiceProviderConfig {
        ServiceProviderConfig {
            schemas: vec![urn::SERVICE_PROVIDER_CONFIG.to_owned()],
            documentation_uri: None,
            patch: Supported { supported: true },
            bulk: BulkConfig::default(),
            filter: FilterConfig {
                supported: true,
                max_results,
            },
            change_password: Supported { supported: false },
            sort: Supported { supported: false },
            etag: Supported { supported: false },
            pagination: None,
            authentication_schemes: vec![AuthenticationScheme::oauth_bearer_token()],
            meta: Some(serde_json::json!({ "resourceType": "ServiceProviderConfig" })),
        }
    }
}
