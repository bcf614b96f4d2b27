//! Projection: `attributes` / `excludedAttributes` (RFC 7644 §3.9) and `returned` (RFC 7643 §2.2).

use roster_scim::projection::Projection;
use serde_json::{Value, json};

use crate::common::{groups, load, users};

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

/// RFC 7643 §2.2: `returned: never` (password) is never output; id, schemas and meta always are.
#[test]
fn default_projection() {
    let u = load("rfc7643/user-enterprise.json");
    let out = Projection::all().apply(&u, &users());
    assert!(out.get("password").is_none());
    let mut expected = u.clone();
    expected.as_object_mut().unwrap().remove("password");
    assert_eq!(out, expected);
}

/// RFC 7644 §3.9: `attributes` returns only those (plus always-returned ones).
#[test]
fn rfc7644_3_9_attributes() {
    let u = load("rfc7643/user-enterprise.json");
    let out = Projection::new(Some("userName,name.givenName,EMAILS.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"), None)
        .apply(&u, &users());
    assert_eq!(
        keys(&out),
        vec![
            "emails",
            "id",
            "meta",
            "name",
            "schemas",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "userName"
        ]
    );
    assert_eq!(out["name"], json!({"givenName": "Barbara"}));
    assert_eq!(
        out["emails"],
        json!([{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}])
    );
    assert_eq!(
        out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        json!({"department": "Tour Operations"})
    );
    // A whole extension by URN.
    let out = Projection::new(
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
        None,
    )
    .apply(&u, &users());
    assert_eq!(
        out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
    );
    assert!(out.get("userName").is_none());
    // Asking for password still does not return it.
    let out = Projection::new(Some("password"), None).apply(&u, &users());
    assert_eq!(keys(&out), vec!["id", "meta", "schemas"]);
}

/// RFC 7644 §3.9: `excludedAttributes`; always-returned attributes cannot be excluded.
#[test]
fn rfc7644_3_9_excluded_attributes() {
    let u = load("rfc7643/user-enterprise.json");
    let out = Projection::new(None, Some("emails,name.familyName,id,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"))
        .apply(&u, &users());
    assert!(out.get("emails").is_none());
    assert!(out["name"].get("familyName").is_none());
    assert_eq!(out["name"]["givenName"], "Barbara");
    assert_eq!(out["id"], u["id"]);
    assert!(
        out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
            .get("manager")
            .is_none()
    );
    assert_eq!(
        out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Tour Operations"
    );
}

/// entra-behaviour.md §4 / §12 item 23: `excludedAttributes=members`, tolerant names.
#[test]
fn entra_group_projection() {
    let g = load("rfc7643/group.json");
    let p = Projection::new(None, Some("members"));
    let out = p.apply(&g, &groups());
    assert_eq!(keys(&out), vec!["displayName", "id", "meta", "schemas"]);
    assert!(
        !p.includes(&groups(), "members"),
        "the server can skip loading members"
    );
    assert!(Projection::all().includes(&groups(), "members"));
    // `attributes=emails[type eq "work"]`, unknown names, odd case: no error.
    let u = load("rfc7643/user-full.json");
    let out = Projection::new(
        Some(r#"emails[type eq "work"],nosuch,DisplayName"#),
        Some("ignored"),
    )
    .apply(&u, &users());
    assert_eq!(
        keys(&out),
        vec!["displayName", "emails", "id", "meta", "schemas"]
    );
    assert_eq!(out["emails"], u["emails"]);
    let p = Projection::new(Some(r#"emails[type eq "a,b"].value , userName"#), None);
    assert_eq!(
        p.attributes(),
        &["emails.value".to_string(), "userName".to_string()]
    );
}
