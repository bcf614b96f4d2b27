//! SCIM: the service provider's behaviour over the domain (users are SCIM Users, teams are SCIM
//! Groups). The protocol itself (filters, PATCH, projection, messages) is `roster-scim`'s.

mod bulk;
mod service;
pub mod view;

pub use service::{
    BULK_MAX_OPERATIONS, BULK_MAX_PAYLOAD, ConnectionCheck, DEFAULT_COUNT, GROUP_PATCH_BODY_LIMIT,
    Kind, MAX_COUNT, RefusalCause, Refused, ScimCall, ScimCaller, ScimOp, ScimReply,
    user_from_resource,
};

use roster_scim::{ResourceContext, SchemaRegistry};
use std::sync::LazyLock;

static REGISTRY: LazyLock<SchemaRegistry> = LazyLock::new(SchemaRegistry::core);
// The core registry always holds User and Group (tested below); `Roster::new` builds both
// contexts at start-up, so these never run on a request.
#[allow(clippy::expect_used)]
static USER: LazyLock<ResourceContext<'static>> = LazyLock::new(|| {
    REGISTRY
        .context("User")
        .expect("the core registry has the User resource type")
});
#[allow(clippy::expect_used)]
static GROUP: LazyLock<ResourceContext<'static>> = LazyLock::new(|| {
    REGISTRY
        .context("Group")
        .expect("the core registry has the Group resource type")
});

/// The schemas Roster serves: RFC 7643 User (with the Enterprise extension) and Group.
pub fn registry() -> &'static SchemaRegistry {
    &REGISTRY
}

/// The User resource type.
pub fn user_ctx() -> &'static ResourceContext<'static> {
    &USER
}

/// The Group resource type.
pub fn group_ctx() -> &'static ResourceContext<'static> {
    &GROUP
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_resource_types_exist() {
        assert_eq!(super::user_ctx().resource_type.endpoint, "/Users");
        assert_eq!(super::group_ctx().resource_type.endpoint, "/Groups");
    }
}
