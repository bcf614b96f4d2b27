//! PATCH engine: any PatchOp body applied to a user and to a group never panics, never modifies its
//! input, an accepted request applied op by op gives the same resource, and for groups `plan_members`
//! plus `apply_member_ops` gives the same result as `apply`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_scim::SchemaRegistry;
use roster_scim::patch::{self, PatchOp};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(req) = PatchOp::from_json(&body) else {
        return;
    };
    let registry = SchemaRegistry::core();
    let user = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": "u1", "userName": "bjensen", "active": true,
        "emails": [{"value": "a@example.com", "type": "work", "primary": true}, {"value": "b@example.com", "type": "home"}],
        "name": {"givenName": "B", "familyName": "J"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "D", "manager": {"value": "m"}},
        "meta": {"resourceType": "User", "lastModified": "2011-05-13T04:42:34Z"}
    });
    let group = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "G",
        "members": [{"value": "u1"}, {"value": "u2", "display": "Two"}]
    });
    for (rt, doc) in [("User", &user), ("Group", &group)] {
        let ctx = registry.context(rt).unwrap();
        let before = doc.clone();
        let result = patch::apply(doc, &req.operations, &ctx);
        assert_eq!(doc, &before);
        if let Ok(out) = result {
            let mut step = doc.clone();
            for op in &req.operations {
                step = patch::apply(&step, std::slice::from_ref(op), &ctx)
                    .expect("op-by-op")
                    .resource;
            }
            assert_eq!(step, out.resource);
        }
        let _ = patch::normalize(&body, &ctx);
    }
    // Groups: splitting off the membership changes gives the same result as applying everything.
    let ctx = registry.context("Group").unwrap();
    if let (Ok(full), Ok(Some(plan))) = (
        patch::apply(&group, &req.operations, &ctx),
        patch::plan_members(&req.operations, &ctx),
    ) {
        let mut doc = group.clone();
        let mut members = doc
            .as_object_mut()
            .unwrap()
            .remove("members")
            .and_then(|m| m.as_array().cloned())
            .unwrap_or_default();
        if let Ok(out) = patch::apply(&doc, &plan.other_ops, &ctx) {
            let (added, removed) = patch::apply_member_ops(&mut members, &plan.member_ops);
            let mut result = out.resource;
            if !members.is_empty() {
                result["members"] = serde_json::Value::Array(members);
            }
            assert_eq!(result, full.resource, "plan_members differs");
            assert_eq!((added, removed), (full.members_added, full.members_removed));
        }
    }
});
