//! Schemas: characteristics (RFC 7643 §2, §7, §8.7), the registry, lookups and JSON rendering.

use roster_scim::schema::{AttributeType, Container, Mutability, Returned, Schema, Uniqueness};
use roster_scim::{AttrPath, SchemaRegistry, urn};
use serde_json::json;

use crate::common::{groups, registry, users};

/// RFC 7643 §8.7.1: a sample of characteristics of the User and Group schemas.
#[test]
fn rfc7643_8_7_1_characteristics() {
    let u = users();
    let user_name = u.resolve(&AttrPath::new("USERNAME")).unwrap().attr;
    assert_eq!(user_name.name, "userName");
    assert!(user_name.required && !user_name.case_exact);
    assert_eq!(user_name.uniqueness, Uniqueness::Server);
    let password = u.resolve_str("password").unwrap().attr;
    assert_eq!(
        (password.mutability, password.returned),
        (Mutability::WriteOnly, Returned::Never)
    );
    let emails = u.resolve_str("emails").unwrap().attr;
    assert!(emails.multi_valued);
    assert_eq!(emails.kind, AttributeType::Complex);
    assert_eq!(
        emails.sub_attribute("TYPE").unwrap().canonical_values,
        vec!["work", "home", "other"]
    );
    let groups_attr = u.resolve_str("groups").unwrap().attr;
    assert_eq!(groups_attr.mutability, Mutability::ReadOnly);
    assert_eq!(
        groups_attr.sub_attribute("$ref").unwrap().reference_types,
        vec!["User", "Group"]
    );
    let id = u.resolve_str("id").unwrap().attr;
    assert!(id.case_exact);
    assert_eq!(
        (id.mutability, id.returned),
        (Mutability::ReadOnly, Returned::Always)
    );
    let r = u.resolve_str("meta.lastModified").unwrap();
    assert_eq!(r.leaf().kind, AttributeType::DateTime);
    let r = u
        .resolve_str("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")
        .unwrap();
    assert_eq!(r.container, Container::Extension(urn::ENTERPRISE_USER));
    assert_eq!(
        r.canonical_path(),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
    );
    assert_eq!(
        u.resolve_str("Department").unwrap().canonical_path(),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
    );
    assert!(u.resolve_str("name.nosuch").is_none());
    assert!(u.resolve_str("userName.sub").is_none());
    assert_eq!(
        u.resolve_str("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName")
            .unwrap()
            .canonical_path(),
        "name.givenName"
    );
    let g = groups();
    let members = g.resolve_str("members").unwrap().attr;
    assert_eq!(
        members.sub_attribute("value").unwrap().mutability,
        Mutability::Immutable
    );
    assert!(g.resolve_str("displayName").unwrap().attr.required);
}

/// entra-behaviour.md §4 / §12 item 22: Microsoft's group schema URI is accepted as an alias.
#[test]
fn microsoft_group_schema_alias() {
    let r = registry();
    assert_eq!(r.schema(urn::MS_ADSCIM_GROUP).unwrap().id, urn::GROUP);
    assert!(groups().knows_schema(urn::MS_ADSCIM_GROUP));
    let doc = json!({"schemas": [urn::GROUP, urn::MS_ADSCIM_GROUP], "displayName": "x"});
    assert_eq!(groups().schemas_for(&doc), vec![urn::GROUP.to_owned()]);
}

/// entra-behaviour.md §5.4 / §12 item 28: `/Schemas` and `/ResourceTypes`.
#[test]
fn discovery_json() {
    let r = registry();
    let schemas = r.schemas_list_json(Some("https://host/scim/v2/"));
    assert_eq!(schemas["totalResults"], 3);
    let user = &schemas["Resources"][0];
    assert_eq!(user["description"], "User Account");
    assert_eq!(
        user["meta"]["location"],
        "https://host/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"
    );
    let text = schemas.to_string();
    assert!(!text.contains("null"), "no nulls in /Schemas");
    assert!(text.contains("\"readWrite\"") && text.contains("\"subAttributes\""));
    let rts = r.resource_types_list_json(None);
    assert_eq!(rts["Resources"][0]["endpoint"], "/Users");
    assert_eq!(rts["Resources"][1]["endpoint"], "/Groups");
    assert_eq!(
        rts["Resources"][0]["schemaExtensions"][0],
        json!({"schema": urn::ENTERPRISE_USER, "required": false})
    );
    // Every rendered schema parses back to the same definitions.
    for (i, s) in r.schemas().iter().enumerate() {
        let back = Schema::from_json(&schemas["Resources"][i]).unwrap();
        assert_eq!(&back, s);
    }
}

/// A registry can hold extensions loaded from JSON (RFC 7643 §7 representation).
#[test]
fn extension_from_json() {
    let mut r = SchemaRegistry::core();
    r.add_schema_json(&json!({
        "id": "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
        "name": "AcmeUser",
        "description": "Acme",
        "attributes": [
            {"name": "badge", "type": "integer", "multiValued": false, "required": false, "caseExact": false,
             "mutability": "readWrite", "returned": "default", "uniqueness": "none"},
            {"name": "hired", "type": "dateTime"}
        ]
    }))
    .unwrap();
    r.extend(
        "User",
        "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
        false,
    )
    .unwrap();
    let ctx = r.context("users").unwrap();
    let badge = ctx
        .resolve_str("urn:ietf:params:scim:schemas:extension:acme:2.0:User:badge")
        .unwrap();
    assert_eq!(badge.attr.kind, AttributeType::Integer);
    assert_eq!(
        ctx.resolve_str("hired").unwrap().attr.returned,
        Returned::Default
    );
    assert!(r.extend("User", "urn:nope", false).is_err());
    assert!(r.add_schema_json(&json!({"name": "no id"})).is_err());
    assert!(r.context("/Groups").is_some());
    assert!(r.context("Devices").is_none());
}
