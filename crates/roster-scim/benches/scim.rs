//! Micro-benchmarks: `cargo bench -p roster-scim`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use divan::{Bencher, black_box};
use roster_scim::filter;
use roster_scim::patch::{self, PatchOp};
use roster_scim::path;
use roster_scim::projection::Projection;
use roster_scim::{ResourceContext, SchemaRegistry};
use serde_json::{Value, json};

fn main() {
    divan::main();
}

const ENTRA_LOOKUP: &str = r#"userName eq "cf4d78e8-cc4f-4d5d-b8b9-183561c0104a""#;
const RFC_COMPLEX: &str = r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org") and not (title pr) or emails[type eq "work" and value co "@example.com"] or meta.lastModified gt "2011-05-13T04:42:34Z""#;

fn registry() -> &'static SchemaRegistry {
    static R: std::sync::OnceLock<SchemaRegistry> = std::sync::OnceLock::new();
    R.get_or_init(SchemaRegistry::core)
}

fn users() -> ResourceContext<'static> {
    registry().context("User").unwrap()
}

fn groups() -> ResourceContext<'static> {
    registry().context("Group").unwrap()
}

fn load(rel: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn big_group(n: usize) -> Value {
    let members: Vec<Value> = (0..n)
        .map(|i| json!({"value": format!("user-{i:06}")}))
        .collect();
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g", "displayName": "Big", "members": members})
}

#[divan::bench(name = "parse/entra_lookup")]
fn parse_entra(b: Bencher) {
    b.bench(|| filter::parse(black_box(ENTRA_LOOKUP)).unwrap());
}

#[divan::bench(name = "parse/rfc_complex")]
fn parse_complex(b: Bencher) {
    b.bench(|| filter::parse(black_box(RFC_COMPLEX)).unwrap());
}

#[divan::bench(name = "parse/patch_path")]
fn parse_patch_path(b: Bencher) {
    b.bench(|| path::parse_path(black_box(r#"addresses[type eq "work"].streetAddress"#)).unwrap());
}

#[divan::bench(name = "display/rfc_complex")]
fn display_complex(b: Bencher) {
    let f = filter::parse(RFC_COMPLEX).unwrap();
    b.bench(|| black_box(&f).to_string());
}

#[divan::bench(name = "eval/entra_lookup")]
fn eval_entra(b: Bencher) {
    let f = filter::parse(ENTRA_LOOKUP).unwrap();
    let u = load("rfc7643/user-enterprise.json");
    let ctx = users();
    b.bench(|| filter::eval(black_box(&f), black_box(&u), &ctx));
}

#[divan::bench(name = "eval/rfc_complex")]
fn eval_complex(b: Bencher) {
    let f = filter::parse(RFC_COMPLEX).unwrap();
    let u = load("rfc7643/user-enterprise.json");
    let ctx = users();
    b.bench(|| filter::eval(black_box(&f), black_box(&u), &ctx));
}

#[divan::bench(name = "apply/entra_user_update")]
fn apply_user(b: Bencher) {
    let u = load("rfc7643/user-enterprise.json");
    let req = PatchOp::from_json(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}}
    ]}))
    .unwrap();
    let ctx = users();
    b.bench(|| patch::apply(black_box(&u), black_box(&req.operations), &ctx).unwrap());
}

#[divan::bench(name = "apply/group_members", args = [10, 1000, 10000])]
fn apply_members(b: Bencher, n: usize) {
    let g = big_group(n);
    let req = PatchOp::from_json(&json!({"Operations": [
        {"op": "Add", "path": "members", "value": [{"value": "new-1"}, {"value": "new-2"}]},
        {"op": "Remove", "path": "members", "value": [{"value": "user-000003"}]},
        {"op": "remove", "path": "members[value eq \"user-000005\"]"}
    ]}))
    .unwrap();
    let ctx = groups();
    b.bench(|| patch::apply(black_box(&g), black_box(&req.operations), &ctx).unwrap());
}

#[divan::bench(name = "normalize/entra_post_user")]
fn normalize_post(b: Bencher) {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": "True",
        "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    });
    let ctx = users();
    b.bench(|| patch::normalize(black_box(&body), &ctx).unwrap());
}

#[divan::bench(name = "project/user_attributes")]
fn project_user(b: Bencher) {
    let u = load("rfc7643/user-enterprise.json");
    let p = Projection::new(
        Some(
            "userName,name.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ),
        None,
    );
    let ctx = users();
    b.bench(|| p.apply(black_box(&u), &ctx));
}

#[divan::bench(name = "project/user_default")]
fn project_default(b: Bencher) {
    let u = load("rfc7643/user-enterprise.json");
    let p = Projection::all();
    let ctx = users();
    b.bench(|| p.apply(black_box(&u), &ctx));
}

#[divan::bench(name = "project/group_1000_excluding_members")]
fn project_group(b: Bencher) {
    let g = big_group(1000);
    let p = Projection::new(None, Some("members"));
    let ctx = groups();
    b.bench(|| p.apply(black_box(&g), &ctx));
}

#[divan::bench(name = "plan_members/group", args = [10, 1000, 10000])]
fn plan_members(b: Bencher, n: usize) {
    let members: Vec<Value> = big_group(n)["members"].as_array().unwrap().clone();
    let req = PatchOp::from_json(&json!({"Operations": [
        {"op": "Add", "path": "members", "value": [{"value": "new-1"}, {"value": "new-2"}]},
        {"op": "Remove", "path": "members", "value": [{"value": "user-000003"}]},
        {"op": "remove", "path": "members[value eq \"user-000005\"]"}
    ]}))
    .unwrap();
    let ctx = groups();
    b.with_inputs(|| members.clone()).bench_local_refs(|m| {
        let plan = patch::plan_members(&req.operations, &ctx).unwrap().unwrap();
        patch::apply_member_ops(m, &plan.member_ops)
    });
}

#[divan::bench(name = "plan_members/plan_only")]
fn plan_only(b: Bencher) {
    let req = PatchOp::from_json(&json!({"Operations": [
        {"op": "Add", "path": "members", "value": [{"value": "new-1"}, {"value": "new-2"}]},
        {"op": "Remove", "path": "members", "value": [{"value": "user-000003"}]},
        {"op": "remove", "path": "members[value eq \"user-000005\"]"}
    ]}))
    .unwrap();
    let ctx = groups();
    b.bench(|| patch::plan_members(black_box(&req.operations), &ctx).unwrap());
}
