#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use roster_scim::patch::{self, PatchOp, PatchOptions, PatchOutcome};
use roster_scim::{ResourceContext, SchemaRegistry, ScimError};
use serde_json::Value;

pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

pub fn load(rel: &str) -> Value {
    let path = testdata().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn registry() -> &'static SchemaRegistry {
    static R: OnceLock<SchemaRegistry> = OnceLock::new();
    R.get_or_init(SchemaRegistry::core)
}

pub fn users() -> ResourceContext<'static> {
    registry().context("User").expect("User")
}

pub fn groups() -> ResourceContext<'static> {
    registry().context("Group").expect("Group")
}

pub fn ctx(resource_type: &str) -> ResourceContext<'static> {
    registry().context(resource_type).expect("resource type")
}

/// Applies a PatchOp body (lenient).
pub fn patch(
    resource: &Value,
    body: &Value,
    ctx: &ResourceContext<'_>,
) -> Result<PatchOutcome, ScimError> {
    let req = PatchOp::from_json(body)?;
    patch::apply(resource, &req.operations, ctx)
}

/// Applies a PatchOp body in strict (RFC-only) mode.
pub fn patch_strict(
    resource: &Value,
    body: &Value,
    ctx: &ResourceContext<'_>,
) -> Result<PatchOutcome, ScimError> {
    let req = PatchOp::from_json(body)?;
    patch::apply_with(resource, &req.operations, ctx, &PatchOptions::strict())
}

/// Wraps operations in a PatchOp body.
pub fn ops(operations: Value) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": operations,
    })
}
