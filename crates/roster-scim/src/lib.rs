//! The SCIM 2.0 protocol core of Roster (RFC 7643 / RFC 7644 / RFC 9865). Pure: no I/O, no clock, no
//! async runtime. Resources are `serde_json::Value` documents in SCIM JSON.
//!
//! | Module | What |
//! |---|---|
//! | [`error`] | [`ScimError`] / [`ScimType`]: the RFC 7644 §3.12 error, serialisable as the wire body |
//! | [`schema`] | attribute definitions, the User / Group / EnterpriseUser schemas, [`SchemaRegistry`], [`ResourceContext`] |
//! | [`filter`] | filter AST, [`filter::parse`], `Display`, [`filter::eval`] (the reference semantics) |
//! | [`path`] | PATCH path grammar ([`path::parse_path`]) |
//! | [`patch`] | [`patch::PatchOp`] request, [`patch::apply`] (RFC + Entra dialects) |
//! | [`projection`] | `attributes` / `excludedAttributes` and `returned` |
//! | [`messages`] | ListResponse, SearchRequest, pagination, Bulk, ServiceProviderConfig |
//! | [`tolerance`] | the non-standard inputs accepted, reported per call |
//! | [`urn`] | schema and message URNs |
//!
//! ```ignore
//! use roster_scim::{SchemaRegistry, filter, patch, projection::Projection};
//! let registry = SchemaRegistry::core();
//! let users = registry.context("User").expect("core registry has User");
//! let f = filter::parse(r#"userName eq "bjensen""#)?;
//! let matches = filter::eval(&f, &resource, &users);
//! let body = patch::PatchOp::from_slice(request_body)?;
//! let outcome = patch::apply(&resource, &body.operations, &users)?;
//! let shown = Projection::new(Some("userName,emails"), None).apply(&outcome.resource, &users);
//! ```

#![warn(missing_docs)]

pub(crate) mod datetime;
pub mod error;
pub mod filter;
pub mod messages;
pub mod patch;
pub mod path;
pub mod projection;
pub mod schema;
pub mod tolerance;
pub mod urn;
pub(crate) mod value;

pub use error::{ScimError, ScimType};
pub use filter::{AttrPath, CompValue, CompareOp, Filter};
pub use patch::{OpKind, PatchOp, PatchOperation, PatchOptions, PatchOutcome};
pub use schema::{ResourceContext, SchemaRegistry};
pub use tolerance::{Tolerance, Tolerances};
