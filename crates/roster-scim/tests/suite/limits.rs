//! Bounds on one request's work: multi-valued attribute sizes, the number of PATCH operations,
//! and duplicate detection that scales with the list (20,000 members dedupe correctly).

use roster_scim::ScimType;
use roster_scim::patch::{self, MAX_OPERATIONS, MAX_VALUES, PatchOp};
use serde_json::{Value, json};

use crate::common::{groups, ops, patch, users};

fn emails(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"value": format!("a{i}@example.com"), "type": "work"}))
            .collect(),
    )
}

#[test]
fn a_post_with_more_values_than_the_cap_is_invalid_value_naming_the_attribute() {
    let ok = json!({"userName": "a", "emails": emails(MAX_VALUES)});
    let n = patch::normalize(&ok, &users()).unwrap();
    assert_eq!(n.resource["emails"].as_array().unwrap().len(), MAX_VALUES);

    let too_many = json!({"userName": "a", "emails": emails(MAX_VALUES + 1)});
    let e = patch::normalize(&too_many, &users()).unwrap_err();
    assert_eq!(e.status, 400);
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("`emails`"), "{}", e.detail);
}

#[test]
fn a_patch_that_grows_an_attribute_past_the_cap_is_refused_and_applies_nothing() {
    let user = json!({"userName": "a", "emails": emails(MAX_VALUES)});
    // One more, in a separate operation: each operation's value is small, the result is not.
    let body =
        ops(json!([{"op": "add", "path": "emails", "value": [{"value": "new@example.com"}]}]));
    let e = patch(&user, &body, &users()).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("`emails`"), "{}", e.detail);
    // Re-adding existing values does not grow the list: accepted.
    let body = ops(
        json!([{"op": "add", "path": "emails", "value": [{"value": "A0@example.com", "type": "work"}]}]),
    );
    let out = patch(&user, &body, &users()).unwrap();
    assert_eq!(out.resource["emails"].as_array().unwrap().len(), MAX_VALUES);
    // An upsert through a filtered path is counted too.
    let body = ops(
        json!([{"op": "add", "path": "emails[type eq \"home\"].value", "value": "h@example.com"}]),
    );
    let e = patch(&user, &body, &users()).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn members_are_not_capped_and_dedupe_across_twenty_thousand() {
    let mut members: Vec<Value> = (0..20_000)
        .map(|i| json!({"value": format!("m{i}")}))
        .collect();
    // Every member a second time, and a few with a display that merges into the first.
    members.extend((0..20_000).map(|i| json!({"value": format!("m{i}")})));
    let group = json!({"displayName": "Big", "members": members});
    let n = patch::normalize(&group, &groups()).unwrap();
    let out = n.resource["members"].as_array().unwrap();
    assert_eq!(out.len(), 20_000);
    assert_eq!(out[0]["value"], "m0");
    assert_eq!(out[19_999]["value"], "m19999");
}

#[test]
fn remove_with_a_value_list_removes_exactly_the_listed_values() {
    let user = json!({"userName": "a", "emails": emails(50)});
    let doomed: Vec<Value> = (0..50)
        .step_by(2)
        .map(|i| json!({"value": format!("A{i}@EXAMPLE.com")}))
        .collect();
    let body = ops(json!([{"op": "remove", "path": "emails", "value": doomed}]));
    let out = patch(&user, &body, &users()).unwrap();
    let left: Vec<&str> = out.resource["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(left.len(), 25);
    assert!(left.iter().all(|v| {
        let n: usize = v[1..v.find('@').unwrap()].parse().unwrap();
        n % 2 == 1
    }));
}

#[test]
fn a_patch_with_too_many_operations_is_invalid_value() {
    let one = json!({"op": "replace", "path": "displayName", "value": "x"});
    let body = ops(Value::Array(vec![one.clone(); MAX_OPERATIONS]));
    assert!(PatchOp::from_json(&body).is_ok());
    let body = ops(Value::Array(vec![one; MAX_OPERATIONS + 1]));
    let e = PatchOp::from_json(&body).unwrap_err();
    assert_eq!(e.status, 400);
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("operations"), "{}", e.detail);
}
