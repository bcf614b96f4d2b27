//! PATCH (RFC 7644 §3.5.2) in the RFC dialect and in every Entra ID dialect.
//!
//! [`apply`] is a pure function: it takes a resource document and operations and returns the new
//! document plus what changed ([`PatchOutcome`]). It never mutates its input, and an operation that
//! fails fails the whole request: nothing is half-applied.
//!
//! For large groups, [`plan_members`] splits a request into the operations on the group document and an
//! ordered list of [`MemberOp`]s a store applies without loading the member list ([`apply_member_ops`] is
//! the in-memory reference).
//!
//! # Semantics
//!
//! * `add`: a missing attribute is created; a single-valued one is replaced; a complex one gets the
//!   given sub-attributes merged in; a multi-valued one gets the values appended, without duplicates (an
//!   element with the same `value` (and `type`, when both have one) is merged instead of added).
//! * `replace`: a multi-valued attribute is replaced as a whole; a complex single-valued one gets the
//!   given sub-attributes merged in (unless the new value names a different `value`, e.g. another
//!   `manager`, in which case the object is replaced); `attr[filter]` replaces the matching elements;
//!   `attr[filter].sub` sets `sub` in each of them. A missing attribute is added.
//! * `remove`: requires a path (else `noTarget`); removes the attribute, sub-attribute, or the elements
//!   matching the filter. An emptied multi-valued attribute is removed.
//! * Path-less `add`/`replace`: each key of the value object is an attribute (or an extension URN whose
//!   object holds attributes).
//! * Mutability: writing a `readOnly` attribute, changing an `immutable` one that has a value, and
//!   removing a `required` one fail with `mutability`. Values of the wrong type fail with `invalidValue`.
//! * `primary`: when an operation writes an element with `"primary": true`, every other element of that
//!   attribute gets `"primary": false` (RFC 7644 §3.5.2); if one operation writes several, the last wins.
//! * Attribute names are case-insensitive (RFC 7643 §2.1); results use the canonical spelling.
//! * `null` is "unassigned" (RFC 7643 §2.5): `replace` with `null` clears; `null` members of a value are
//!   dropped.
//!
//! # Entra / Okta tolerances (each reported in [`PatchOutcome::tolerances`]; refused by
//! [`PatchOptions::strict`])
//!
//! | Input | Handling | [`Tolerance`] |
//! |---|---|---|
//! | `"op": "Replace"` | op names in any case | `OpNameCase` |
//! | `"value": "False"` on a boolean | coerced to `false` | `BooleanAsString` |
//! | path-less `{"name.givenName": …, "urn:…:User:employeeNumber": …}` | keys read as paths | `PathlessDottedKey` |
//! | `Remove` `members` with `value: [{"value": "u1"}]` | removes only the listed members | `RemoveWithValue` |
//! | `manager` as `"id"` | `{"value": "id"}` | `ComplexAsString` |
//! | `manager` as `[{"value": "id", "$ref": …}]` | the single element | `SingleValueAsArray` |
//! | `members` value as one object or one string | wrapped in an array | `ScalarForMultiValued` |
//! | `Add`/`Replace` `emails[type eq "work"].value` with no work e-mail | creates `{"type":"work","value":…}` | `UpsertOnFilteredPath` |
//! | `Replace` with `""` | clears the attribute | `EmptyValueClears` |
//! | path or key naming an unknown attribute | ignored | `UnknownAttributeIgnored` |
//! | read-only `id` with its current value (Okta), `meta`, read-only sub-attributes | ignored | `ReadOnlyIgnored` |
//! | `remove` `attr[filter]` matching nothing | no-op (RFC: `noTarget`) | `RemoveNoMatch` |
//! | number/boolean for a string attribute | converted to a string | `ScalarCoercedToString` |
//! | unquoted filter values in paths | read as strings | `UnquotedFilterValue` |

mod apply;
mod members;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use apply::{Normalized, apply, apply_with, normalize, normalize_with};
pub use members::{MemberOp, MembersPlan, apply_member_ops, plan_members};

/// The most operations one PATCH request may carry (`invalidValue` past it). Entra and Okta send
/// a few; the bound keeps one request's work bounded.
pub const MAX_OPERATIONS: usize = 1000;
/// The most values a multi-valued attribute other than a group's `members` may hold, in a POST,
/// PUT or PATCH value and in the result of a PATCH (`invalidValue` naming the attribute past it).
pub const MAX_VALUES: usize = 100;

use crate::error::ScimError;
use crate::tolerance::{Tolerance, Tolerances};
use crate::urn;
use crate::value::get_ci;

/// The PATCH operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// `add`.
    Add,
    /// `replace`.
    Replace,
    /// `remove`.
    Remove,
}

impl OpKind {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Replace => "replace",
            OpKind::Remove => "remove",
        }
    }
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// add / replace / remove.
    pub op: OpKind,
    /// The raw path, if any (parsed by [`apply`]; see [`crate::path`]).
    pub path: Option<String>,
    /// The value. `Some(Value::Null)` is an explicit `null`; `None` is an absent `value`.
    pub value: Option<Value>,
    /// Non-standard spellings seen while deserialising this operation (e.g. `"op": "Replace"`).
    pub tolerances: Tolerances,
}

impl PatchOperation {
    /// An operation built in code.
    pub fn new(op: OpKind, path: Option<&str>, value: Option<Value>) -> PatchOperation {
        PatchOperation {
            op,
            path: path.map(str::to_owned),
            value,
            tolerances: Tolerances::new(),
        }
    }

    /// Reads one operation object leniently: keys in any case (`Op`, `Path`, `Value`), `op` in any case,
    /// extra keys ignored (Entra sends `"name": "addMember"`), an empty or `null` path read as none.
    pub fn from_json(v: &Value) -> Result<PatchOperation, ScimError> {
        let obj = v.as_object().ok_or_else(|| {
            ScimError::invalid_syntax("each PATCH operation must be a JSON object")
        })?;
        let mut tolerances = Tolerances::new();
        let op_raw = get_ci(obj, "op")
            .ok_or_else(|| ScimError::invalid_syntax("a PATCH operation has no \"op\""))?
            .as_str()
            .ok_or_else(|| ScimError::invalid_syntax("\"op\" must be a string"))?;
        let op = match op_raw.to_ascii_lowercase().as_str() {
            "add" => OpKind::Add,
            "replace" => OpKind::Replace,
            "remove" => OpKind::Remove,
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "unknown PATCH op {op_raw:?}: expected add, replace or remove"
                )));
            }
        };
        if op_raw != op.as_str() {
            tolerances.add(Tolerance::OpNameCase);
        }
        let path = match get_ci(obj, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ScimError::invalid_path("\"path\" must be a string")),
        };
        let value = obj
            .iter()
            .find(|(k, _)| k.as_str() == "value")
            .or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case("value")))
            .map(|(_, v)| v.clone());
        Ok(PatchOperation {
            op,
            path,
            value,
            tolerances,
        })
    }
}

impl Serialize for PatchOperation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let n = 1 + usize::from(self.path.is_some()) + usize::from(self.value.is_some());
        let mut s = serializer.serialize_struct("PatchOperation", n)?;
        s.serialize_field("op", &self.op)?;
        if let Some(p) = &self.path {
            s.serialize_field("path", p)?;
        }
        if let Some(v) = &self.value {
            s.serialize_field("value", v)?;
        }
        s.end()
    }
}

impl<'de> Deserialize<'de> for PatchOperation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(deserializer)?;
        PatchOperation::from_json(&v).map_err(|e| de::Error::custom(e.detail))
    }
}

/// The PatchOp request message (`urn:ietf:params:scim:api:messages:2.0:PatchOp`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    /// `schemas` as sent (normally the PatchOp URN).
    pub schemas: Vec<String>,
    /// The operations, in order.
    pub operations: Vec<PatchOperation>,
}

impl PatchOp {
    /// A request with the standard `schemas`.
    pub fn new(operations: Vec<PatchOperation>) -> PatchOp {
        PatchOp {
            schemas: vec![urn::PATCH_OP.to_owned()],
            operations,
        }
    }

    /// Reads a request body leniently: `Operations` in any case, a top-level `id` or other extra keys
    /// ignored, `schemas` optional. Errors are `invalidSyntax` (or `invalidPath` for a non-string path).
    pub fn from_json(v: &Value) -> Result<PatchOp, ScimError> {
        let obj: &Map<String, Value> = v
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("the PATCH body must be a JSON object"))?;
        let schemas = match get_ci(obj, "schemas") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        let ops = match get_ci(obj, "Operations") {
            Some(Value::Array(a)) if a.len() > MAX_OPERATIONS => {
                return Err(ScimError::invalid_value(format!(
                    "the PATCH has {} operations; at most {MAX_OPERATIONS} are accepted in one request",
                    a.len()
                )));
            }
            Some(Value::Array(a)) => a,
            Some(_) => return Err(ScimError::invalid_syntax("\"Operations\" must be an array")),
            None => {
                return Err(ScimError::invalid_syntax(
                    "the PATCH body has no \"Operations\" array",
                ));
            }
        };
        let operations = ops
            .iter()
            .enumerate()
            .map(|(i, o)| {
                PatchOperation::from_json(o).map_err(|mut e| {
                    e.detail = format!("operation {}: {}", i + 1, e.detail);
                    e
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PatchOp {
            schemas,
            operations,
        })
    }

    /// Parses a JSON text (`invalidSyntax` for broken JSON).
    pub fn from_slice(body: &[u8]) -> Result<PatchOp, ScimError> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            ScimError::invalid_syntax(format!("the PATCH body is not valid JSON: {e}"))
        })?;
        PatchOp::from_json(&v)
    }
}

impl Serialize for PatchOp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("PatchOp", 2)?;
        s.serialize_field("schemas", &self.schemas)?;
        s.serialize_field("Operations", &self.operations)?;
        s.end()
    }
}

impl<'de> Deserialize<'de> for PatchOp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(deserializer)?;
        PatchOp::from_json(&v).map_err(|e| de::Error::custom(e.detail))
    }
}

/// Options for [`apply_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PatchOptions {
    /// RFC 7644 only: every [`Tolerance`] becomes an error (`noTarget` for a filtered path without match,
    /// `invalidValue` for `"False"`, …).
    pub strict: bool,
}

impl PatchOptions {
    /// Entra/Okta-tolerant (the default).
    pub fn lenient() -> PatchOptions {
        PatchOptions { strict: false }
    }
    /// RFC 7644 only.
    pub fn strict() -> PatchOptions {
        PatchOptions { strict: true }
    }
}

/// One changed attribute: canonical path (`displayName`, `name.givenName`, `emails`,
/// `urn:…:enterprise:2.0:User:manager.value`), old and new value (`None` = absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Canonical attribute path.
    pub attribute: String,
    /// Value before the PATCH.
    pub old: Option<Value>,
    /// Value after the PATCH.
    pub new: Option<Value>,
}

/// The result of [`apply`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchOutcome {
    /// The new resource document (`meta` untouched: the caller sets `lastModified` and `version`).
    pub resource: Value,
    /// Net changes per attribute (sub-attribute for complex single-valued attributes), in schema order.
    /// Group `members` changes are reported in `members_added` / `members_removed` instead.
    pub changes: Vec<Change>,
    /// The non-standard tolerances that were needed.
    pub tolerances: Tolerances,
    /// Member ids (`members[].value`) present after but not before.
    pub members_added: Vec<String>,
    /// Member ids present before but not after.
    pub members_removed: Vec<String>,
}

impl PatchOutcome {
    /// `true` when the PATCH changed nothing.
    pub fn is_noop(&self) -> bool {
        self.changes.is_empty() && self.members_added.is_empty() && self.members_removed.is_empty()
    }
}
