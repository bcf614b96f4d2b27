//! PATCH: the examples of RFC 7644 §3.5.2 (each test names its subsection) and the RFC semantics.

use roster_scim::patch::{self, OpKind, PatchOp, PatchOperation};
use roster_scim::path::parse_path;
use roster_scim::{ScimType, Tolerance};
use serde_json::{Value, json};

use crate::common::{groups, load, ops, patch, patch_strict, users};

const BABS: &str = "2819c223-7f76-453a-919d-413861904646";
const MANDY: &str = "902c246b-6245-4190-8e05-00816be7344a";
const JAMES: &str = "08e1d05d-121c-4561-8b96-473d93df9210";

fn group() -> Value {
    load("rfc7643/group.json")
}

fn user() -> Value {
    load("rfc7643/user-full.json")
}

fn member_values(doc: &Value) -> Vec<String> {
    doc["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// RFC 7644 §3.5.2: the example PATH values all parse and print back.
#[test]
fn rfc7644_3_5_2_path_examples() {
    for p in [
        "members",
        "name.familyName",
        r#"addresses[type eq "work"]"#,
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName"#,
    ] {
        let parsed = parse_path(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(parsed.to_string(), p);
        assert_eq!(parse_path(&parsed.to_string()).unwrap(), parsed);
    }
    let p = parse_path(r#"members[value eq "x"].displayName"#).unwrap();
    assert_eq!(p.attr.attr, "members");
    assert_eq!(p.sub.as_deref(), Some("displayName"));
    let p =
        parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager").unwrap();
    assert_eq!(
        p.attr.urn.as_deref(),
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    );
    let e = parse_path("members[").unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    let e = parse_path("a..b").unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    let e = parse_path(r#"emails[type eq "work"] x"#).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
}

/// RFC 7644 §3.5.2.1: add a member to a group.
#[test]
fn rfc7644_3_5_2_1_add_member() {
    let mut g = group();
    g["members"] = json!([{"value": MANDY, "display": "Mandy Pepperidge"}]);
    let out = patch(
        &g,
        &ops(json!([{
            "op": "add",
            "path": "members",
            "value": [{
                "display": "Babs Jensen",
                "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
                "value": BABS
            }]
        }])),
        &groups(),
    )
    .unwrap();
    assert_eq!(member_values(&out.resource), vec![MANDY, BABS]);
    assert_eq!(out.members_added, vec![BABS]);
    assert!(out.members_removed.is_empty());
    assert!(
        out.changes.is_empty(),
        "member changes are reported separately: {:?}",
        out.changes
    );
    assert!(out.tolerances.is_empty());
    // Adding the same member again is a no-op ("without duplicates").
    let again = patch(
        &out.resource,
        &ops(json!([{"op": "add", "path": "members", "value": [{"value": BABS}]}])),
        &groups(),
    )
    .unwrap();
    assert_eq!(member_values(&again.resource), vec![MANDY, BABS]);
    assert!(again.is_noop());
}

/// RFC 7644 §3.5.2.1: path-less add of several attributes.
#[test]
fn rfc7644_3_5_2_1_add_without_path() {
    let u = user();
    let out = patch(
        &u,
        &ops(json!([{
            "op": "add",
            "value": {
                "emails": [{"value": "babs@jensen.org", "type": "home"}, {"value": "b2@example.com", "type": "other"}],
                "nickname": "Babs2"
            }
        }])),
        &users(),
    )
    .unwrap();
    let emails = out.resource["emails"].as_array().unwrap();
    assert_eq!(
        emails.len(),
        3,
        "babs@jensen.org/home already exists: not duplicated"
    );
    assert_eq!(
        emails[2],
        json!({"value": "b2@example.com", "type": "other"})
    );
    assert_eq!(
        out.resource["nickName"],
        json!("Babs2"),
        "canonical spelling"
    );
    assert!(out.resource.get("nickname").is_none());
    let attrs: Vec<&str> = out.changes.iter().map(|c| c.attribute.as_str()).collect();
    assert_eq!(attrs, vec!["nickName", "emails"]);
    assert!(out.tolerances.is_empty());
}

/// RFC 7644 §3.5.2.1: add to a single-valued attribute replaces it; add to a complex one merges.
#[test]
fn rfc7644_3_5_2_1_add_single_and_complex() {
    let u = user();
    let out = patch(
        &u,
        &ops(json!([
            {"op": "add", "path": "title", "value": "Manager"},
            {"op": "add", "path": "name", "value": {"givenName": "Barb"}},
            {"op": "add", "path": "name.middleName", "value": "J."}
        ])),
        &users(),
    )
    .unwrap();
    assert_eq!(out.resource["title"], "Manager");
    assert_eq!(out.resource["name"]["givenName"], "Barb");
    assert_eq!(out.resource["name"]["familyName"], "Jensen");
    assert_eq!(out.resource["name"]["middleName"], "J.");
    let attrs: Vec<&str> = out.changes.iter().map(|c| c.attribute.as_str()).collect();
    assert_eq!(attrs, vec!["name.givenName", "name.middleName", "title"]);
    assert_eq!(out.changes[0].old, Some(json!("Barbara")));
    assert_eq!(out.changes[0].new, Some(json!("Barb")));
}

/// RFC 7644 §3.5.2.2: remove a single member.
#[test]
fn rfc7644_3_5_2_2_remove_one_member() {
    let out = patch(
        &group(),
        &ops(json!([{"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}])),
        &groups(),
    )
    .unwrap();
    assert_eq!(member_values(&out.resource), vec![MANDY]);
    assert_eq!(out.members_removed, vec![BABS]);
}

/// RFC 7644 §3.5.2.2: remove all members.
#[test]
fn rfc7644_3_5_2_2_remove_all_members() {
    let out = patch(
        &group(),
        &ops(json!([{"op": "remove", "path": "members"}])),
        &groups(),
    )
    .unwrap();
    assert!(
        out.resource.get("members").is_none(),
        "an emptied multi-valued attribute is unassigned"
    );
    assert_eq!(out.members_removed, vec![BABS, MANDY]);
}

/// RFC 7644 §3.5.2.2: remove a value selected by a complex filter.
#[test]
fn rfc7644_3_5_2_2_remove_with_complex_filter() {
    let mut u = user();
    u["emails"] = json!([
        {"value": "bjensen@example.com", "type": "work", "primary": true},
        {"value": "babs@jensen.org", "type": "home"}
    ]);
    let out = patch(
        &u,
        &ops(json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}])),
        &users(),
    )
    .unwrap();
    assert_eq!(
        out.resource["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );
}

/// RFC 7644 §3.5.2.2: remove all members, then add new ones (replace the membership in one request).
#[test]
fn rfc7644_3_5_2_2_remove_then_add() {
    let out = patch(
        &group(),
        &ops(json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [
                {"display": "Babs Jensen", "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646", "value": BABS},
                {"display": "James Smith", "$ref": "https://example.com/v2/Users/08e1d05d-121c-4561-8b96-473d93df9210", "value": JAMES}
            ]}
        ])),
        &groups(),
    )
    .unwrap();
    assert_eq!(member_values(&out.resource), vec![BABS, JAMES]);
    assert_eq!(out.members_added, vec![JAMES]);
    assert_eq!(out.members_removed, vec![MANDY]);
}

/// RFC 7644 §3.5.2.2: a path-less remove fails with `noTarget`; removing a required attribute fails with
/// `mutability`.
#[test]
fn rfc7644_3_5_2_2_errors() {
    let e = patch(&group(), &ops(json!([{"op": "remove"}])), &groups()).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    let e = patch(
        &user(),
        &ops(json!([{"op": "remove", "path": "userName"}])),
        &users(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    assert!(
        e.detail.contains("operation 1 (remove userName)"),
        "{}",
        e.detail
    );
    let e = patch(
        &group(),
        &ops(json!([{"op": "replace", "path": "displayName", "value": null}])),
        &groups(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
}

/// RFC 7644 §3.5.2.3: replace all members.
#[test]
fn rfc7644_3_5_2_3_replace_members() {
    let out = patch(
        &group(),
        &ops(json!([{"op": "replace", "path": "members", "value": [
            {"display": "Babs Jensen", "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646", "value": BABS},
            {"display": "James Smith", "$ref": "https://example.com/v2/Users/08e1d05d-121c-4561-8b96-473d93df9210", "value": JAMES}
        ]}])),
        &groups(),
    )
    .unwrap();
    assert_eq!(member_values(&out.resource), vec![BABS, JAMES]);
    assert_eq!(out.members_added, vec![JAMES]);
    assert_eq!(out.members_removed, vec![MANDY]);
}

/// RFC 7644 §3.5.2.3: replace the work address selected by a filter.
#[test]
fn rfc7644_3_5_2_3_replace_filtered_element() {
    let new_addr = json!({
        "type": "work",
        "streetAddress": "911 Universal City Plaza",
        "locality": "Hollywood",
        "region": "CA",
        "postalCode": "91608",
        "country": "US",
        "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
        "primary": true
    });
    let out = patch(
        &user(),
        &ops(json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": new_addr}])),
        &users(),
    )
    .unwrap();
    let addrs = out.resource["addresses"].as_array().unwrap();
    assert_eq!(addrs[0], new_addr);
    assert_eq!(addrs[1]["type"], "home");
    assert_eq!(out.changes.len(), 1);
    assert_eq!(out.changes[0].attribute, "addresses");
}

/// RFC 7644 §3.5.2.3: replace one sub-attribute of the filtered element.
#[test]
fn rfc7644_3_5_2_3_replace_filtered_sub_attribute() {
    let out = patch(
        &user(),
        &ops(json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}])),
        &users(),
    )
    .unwrap();
    let addrs = out.resource["addresses"].as_array().unwrap();
    assert_eq!(addrs[0]["streetAddress"], "1010 Broadway Ave");
    assert_eq!(addrs[0]["locality"], "Hollywood");
    assert_eq!(addrs[0]["primary"], true);
    assert_eq!(addrs[1]["streetAddress"], "456 Hollywood Blvd");
}

/// RFC 7644 §3.5.2.3: path-less replace of several attributes.
#[test]
fn rfc7644_3_5_2_3_replace_without_path() {
    let out = patch(
        &user(),
        &ops(json!([{"op": "replace", "value": {
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "nickname": "Babs"
        }}])),
        &users(),
    )
    .unwrap();
    assert_eq!(out.resource["emails"], user()["emails"]);
    assert!(out.is_noop(), "{:?}", out.changes);
}

/// RFC 7644 §3.5.2.3: a filter that matches nothing is `noTarget` (strict mode; Entra upserts instead).
#[test]
fn rfc7644_3_5_2_3_no_target() {
    let body = ops(
        json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x@example.com"}]),
    );
    let e = patch_strict(&user(), &body, &users()).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    let e = patch(
        &user(),
        &ops(json!([{"op": "replace", "path": "emails[value co \"zzz\"].type", "value": "work"}])),
        &users(),
    )
    .unwrap_err();
    assert_eq!(
        e.scim_type,
        Some(ScimType::NoTarget),
        "a `co` filter cannot describe a new element"
    );
    let e = patch_strict(
        &group(),
        &ops(json!([{"op": "remove", "path": "members[value eq \"nobody\"]"}])),
        &groups(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    let ok = patch(
        &group(),
        &ops(json!([{"op": "remove", "path": "members[value eq \"nobody\"]"}])),
        &groups(),
    )
    .unwrap();
    assert!(ok.is_noop());
    assert!(ok.tolerances.contains(Tolerance::RemoveNoMatch));
}

/// RFC 7644 §3.5.2 / RFC 7643 §2.2: mutability.
#[test]
fn rfc7644_3_5_2_mutability() {
    let e = patch(
        &user(),
        &ops(json!([{"op": "replace", "path": "id", "value": "other"}])),
        &users(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    let e = patch(
        &user(),
        &ops(json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}])),
        &users(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    let e = patch(
        &user(),
        &ops(json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}])),
        &users(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    let e = patch(
        &load("rfc7643/user-enterprise.json"),
        &ops(json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", "value": "X"}])),
        &users(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    // Writing the current id is tolerated (Okta sends it in path-less replaces).
    let ok = patch(
        &user(),
        &ops(json!([{"op": "replace", "value": {"id": BABS}}])),
        &users(),
    )
    .unwrap();
    assert!(ok.is_noop());
    assert!(ok.tolerances.contains(Tolerance::ReadOnlyIgnored));
}

/// RFC 7643 §2.3 types: a value of the wrong type is `invalidValue`.
#[test]
fn invalid_values() {
    for (path, value) in [
        ("active", json!("maybe")),
        ("active", json!(1)),
        ("name", json!(42)),
        ("emails", json!([[1]])),
        ("userName", json!({"a": 1})),
        ("title", json!(["a", "b"])),
    ] {
        let e = patch(
            &user(),
            &ops(json!([{"op": "replace", "path": path, "value": value}])),
            &users(),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{path}: {e}");
    }
    let e = patch(
        &user(),
        &ops(json!([{"op": "add", "path": "title"}])),
        &users(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    let e = PatchOp::from_json(&json!({"Operations": [{"op": "move", "path": "x"}]})).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    let e = PatchOp::from_slice(b"{not json").unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
}

/// RFC 7644 §3.5.2: at most one primary.
#[test]
fn rfc7644_3_5_2_primary_is_unique() {
    let out = patch(
        &user(),
        &ops(json!([{"op": "add", "path": "emails", "value": [{"value": "new@example.com", "type": "other", "primary": true}]}])),
        &users(),
    )
    .unwrap();
    let emails = out.resource["emails"].as_array().unwrap();
    let primaries: Vec<&Value> = emails.iter().filter(|e| e["primary"] == true).collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0]["value"], "new@example.com");
    assert_eq!(emails[0]["primary"], false);
    let out = patch(
        &user(),
        &ops(json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}])),
        &users(),
    )
    .unwrap();
    let emails = out.resource["emails"].as_array().unwrap();
    assert_eq!(emails[0]["primary"], false);
    assert_eq!(emails[1]["primary"], true);
}

/// `apply` is pure and atomic: the input is never modified, and a failing operation leaves nothing.
#[test]
fn atomic_and_pure() {
    let before = user();
    let copy = before.clone();
    let ops = vec![
        PatchOperation::new(OpKind::Replace, Some("title"), Some(json!("Changed"))),
        PatchOperation::new(OpKind::Remove, Some("userName"), None),
    ];
    let e = patch::apply(&before, &ops, &users()).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    assert_eq!(before, copy);
    let ok = patch::apply(&before, &ops[..1], &users()).unwrap();
    assert_eq!(ok.resource["title"], "Changed");
    assert_eq!(before, copy);
}

/// Remove of sub-attributes, of extension attributes and of a whole extension.
#[test]
fn remove_variants() {
    let u = load("rfc7643/user-enterprise.json");
    let out = patch(
        &u,
        &ops(json!([
            {"op": "remove", "path": "name.middleName"},
            {"op": "remove", "path": "emails[type eq \"work\"].primary"},
            {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"},
            {"op": "remove", "path": "nosuchattribute"}
        ])),
        &users(),
    )
    .unwrap();
    assert!(out.resource["name"].get("middleName").is_none());
    assert!(out.resource["emails"][0].get("primary").is_none());
    assert!(
        out.resource["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
            .get("department")
            .is_none()
    );
    assert!(out.tolerances.contains(Tolerance::UnknownAttributeIgnored));
    let out = patch(&u, &ops(json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}])), &users())
        .unwrap();
    assert!(
        out.resource
            .get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
            .is_none()
    );
    assert_eq!(
        out.resource["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
    let e = patch_strict(
        &u,
        &ops(json!([{"op": "remove", "path": "nosuchattribute"}])),
        &users(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
}

/// Adding an extension attribute to a user without the extension adds it to `schemas`.
#[test]
fn extension_added_to_schemas() {
    let out = patch(
        &user(),
        &ops(json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", "value": "42"}])),
        &users(),
    )
    .unwrap();
    assert_eq!(
        out.resource["schemas"],
        json!([
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ])
    );
    assert_eq!(
        out.changes[0].attribute,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"
    );
    // The extension URN as a path, with an object value (RFC form).
    let out = patch(
        &user(),
        &ops(json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"division": "D"}}])),
        &users(),
    )
    .unwrap();
    assert_eq!(
        out.resource["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["division"],
        "D"
    );
}

/// The PatchOp message round-trips through serde in the standard shape.
#[test]
fn patch_op_serde() {
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": "1"}]},
        {"op": "remove", "path": "members[value eq \"2\"]"}
    ]});
    let req: PatchOp = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(serde_json::to_value(&req).unwrap(), body);
    assert_eq!(PatchOp::new(req.operations.clone()), req);
}

/// RFC 7644 §3.5.2.2: several values removed by several filtered operations in one request, and a value
/// of a binary (caseExact) multi-valued attribute removed by filter.
#[test]
fn rfc7644_3_5_2_2_remove_several_and_binary() {
    let out = patch(
        &group(),
        &ops(json!([
            {"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"},
            {"op": "remove", "path": "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]"}
        ])),
        &groups(),
    )
    .unwrap();
    assert!(out.resource.get("members").is_none());
    assert_eq!(out.members_removed, vec![BABS, MANDY]);
    let cert = "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx";
    let path = format!("x509Certificates[value eq \"{}\"]", cert.to_lowercase());
    let miss = patch(
        &user(),
        &ops(json!([{"op": "remove", "path": path}])),
        &users(),
    )
    .unwrap();
    assert!(miss.is_noop(), "binary values are caseExact");
    let path = format!("x509Certificates[value eq \"{cert}\"]");
    let hit = patch(
        &user(),
        &ops(json!([{"op": "remove", "path": path}])),
        &users(),
    )
    .unwrap();
    assert!(hit.resource.get("x509Certificates").is_none());
}
