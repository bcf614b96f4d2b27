//! RFC 7643 §8 examples: the User (§8.1 minimal, §8.2 full, §8.3 enterprise) and Group (§8.4)
//! representations go through normalisation, projection, filtering and PATCH.

use roster_scim::filter;
use roster_scim::patch;
use roster_scim::projection::Projection;
use serde_json::{Value, json};

use crate::common::{groups, load, ops, patch, users};

fn strip_server_fields(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("id");
    o.remove("meta");
    v
}

/// RFC 7643 §8.1, §8.2, §8.3: each example is already canonical: normalising it (as a POST/PUT body)
/// keeps everything except the server's `id`/`meta` and the read-only `groups`.
#[test]
fn rfc7643_8_1_to_8_3_users_are_canonical() {
    for file in [
        "rfc7643/user-minimal.json",
        "rfc7643/user-full.json",
        "rfc7643/user-enterprise.json",
    ] {
        let u = load(file);
        let n = patch::normalize(&u, &users()).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut expected = strip_server_fields(u.clone());
        let o = expected.as_object_mut().unwrap();
        o.remove("groups");
        if let Some(Value::Object(ent)) =
            o.get_mut("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        {
            ent.get_mut("manager")
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove("displayName");
        }
        assert_eq!(n.resource, expected, "{file}");
    }
}

/// RFC 7643 §8.4: the group example.
#[test]
fn rfc7643_8_4_group() {
    let g = load("rfc7643/group.json");
    let n = patch::normalize(&g, &groups()).unwrap();
    assert_eq!(n.resource, strip_server_fields(g.clone()));
    assert!(n.tolerances.is_empty());
    let f = filter::parse(
        r#"members[value eq "902c246b-6245-4190-8e05-00816be7344a"] and displayName sw "tour""#,
    )
    .unwrap();
    assert!(filter::eval(&f, &g, &groups()));
    let f = filter::parse(r#"members.display co "pepper""#).unwrap();
    assert!(filter::eval(&f, &g, &groups()));
}

/// RFC 7643 §8.2: projection and PATCH on the full user.
#[test]
fn rfc7643_8_2_full_user_round_trip() {
    let u = load("rfc7643/user-full.json");
    let shown = Projection::all().apply(&u, &users());
    assert!(shown.get("password").is_none());
    assert_eq!(
        shown["groups"].as_array().unwrap().len(),
        3,
        "groups are readOnly but returned"
    );
    let out = patch(
        &u,
        &ops(json!([{"op": "replace", "path": "x509Certificates", "value": [{"value": "MIIB"}]}])),
        &users(),
    )
    .unwrap();
    assert_eq!(out.resource["x509Certificates"], json!([{"value": "MIIB"}]));
    let out = patch(
        &u,
        &ops(
            json!([{"op": "replace", "path": "ims[type eq \"aim\"].value", "value": "newhandle"}]),
        ),
        &users(),
    )
    .unwrap();
    assert_eq!(
        out.resource["ims"],
        json!([{"value": "newhandle", "type": "aim"}])
    );
}
