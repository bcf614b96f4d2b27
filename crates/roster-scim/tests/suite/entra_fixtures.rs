//! The fixture corpus in `testdata/entra` and `testdata/okta`: real request bodies (every body of
//! entra-behaviour.md, in both Entra PATCH dialects, and Okta's) with the resource before, the resource
//! expected after, and the exact set of tolerances the engine must report.
//!
//! A fixture that needs no tolerance must also pass in strict (RFC-only) mode with the same result; a
//! fixture that needs one must fail in strict mode.

use std::collections::BTreeSet;

use roster_scim::patch::{self, PatchOp, PatchOptions};
use roster_scim::{ScimError, Tolerance};
use serde_json::Value;

use crate::common::{ctx, testdata};

struct Fixture {
    file: String,
    doc: Value,
}

fn fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    for dir in ["entra", "okta"] {
        let mut entries: Vec<_> = std::fs::read_dir(testdata().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let text = std::fs::read_to_string(&p).unwrap();
            let doc: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.push(Fixture {
                file: format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()),
                doc,
            });
        }
    }
    out
}

fn tolerance_names(t: &roster_scim::Tolerances) -> BTreeSet<String> {
    t.iter().map(|t: Tolerance| t.name().to_owned()).collect()
}

type Members = Option<(Vec<String>, Vec<String>)>;

fn run(
    f: &Fixture,
    options: &PatchOptions,
) -> Result<(Value, BTreeSet<String>, Members), ScimError> {
    let d = &f.doc;
    let rt = d["resourceType"].as_str().unwrap();
    let c = ctx(rt);
    match d["kind"].as_str().unwrap() {
        "patch" => {
            let req = PatchOp::from_json(&d["request"])?;
            let out = patch::apply_with(&d["before"], &req.operations, &c, options)?;
            Ok((
                out.resource,
                tolerance_names(&out.tolerances),
                Some((out.members_added, out.members_removed)),
            ))
        }
        "create" => {
            let out = patch::normalize_with(&d["request"], &c, options)?;
            Ok((out.resource, tolerance_names(&out.tolerances), None))
        }
        other => panic!("{}: unknown kind {other}", f.file),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn fixture_corpus() {
    let all = fixtures();
    assert!(all.len() >= 55, "{} fixtures", all.len());
    let mut failures = Vec::new();
    for f in &all {
        let d = &f.doc;
        let result = run(f, &PatchOptions::lenient());
        if let Some(err) = d.get("error") {
            match result {
                Ok((res, ..)) => failures.push(format!("{}: expected an error, got {res}", f.file)),
                Err(e) => {
                    if u64::from(e.status) != err["status"].as_u64().unwrap()
                        || e.scim_type.as_ref().map(|t| t.as_str()) != err["scimType"].as_str()
                    {
                        failures.push(format!("{}: expected {err}, got {e}", f.file));
                    }
                }
            }
            continue;
        }
        let (resource, tolerances, members) = match result {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: {e}", f.file));
                continue;
            }
        };
        if resource != d["expected"] {
            failures.push(format!(
                "{}: resource differs\n  got:      {resource}\n  expected: {}",
                f.file, d["expected"]
            ));
        }
        let want: BTreeSet<String> = strings(&d["tolerances"]).into_iter().collect();
        if tolerances != want {
            failures.push(format!(
                "{}: tolerances {tolerances:?}, expected {want:?}",
                f.file
            ));
        }
        if let (Some((added, removed)), Some(wa)) = (&members, d.get("membersAdded"))
            && (*added != strings(wa) || *removed != strings(&d["membersRemoved"]))
        {
            failures.push(format!("{}: members +{added:?} -{removed:?}", f.file));
        }
        // Strict mode: identical when nothing non-standard was needed, refused otherwise.
        match run(f, &PatchOptions::strict()) {
            Ok((strict_resource, ..)) => {
                if !want.is_empty() {
                    failures.push(format!(
                        "{}: strict mode accepted a non-standard request",
                        f.file
                    ));
                } else if strict_resource != d["expected"] {
                    failures.push(format!("{}: strict mode gave a different result", f.file));
                }
            }
            Err(e) => {
                if want.is_empty() {
                    failures.push(format!(
                        "{}: strict mode refused a standard request: {e}",
                        f.file
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing fixtures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_covers_both_entra_dialects_and_okta() {
    let all = fixtures();
    for dialect in ["entra-default", "entra-aadOptscim062020", "okta"] {
        let n = all.iter().filter(|f| f.doc["dialect"] == dialect).count();
        assert!(n >= 5, "{dialect}: {n} fixtures");
    }
}

/// Large groups: every group fixture gives the same result when the membership operations are split off
/// (`plan_members`) and applied to the member list separately, as a store does without loading members.
#[test]
fn group_fixtures_through_plan_members() {
    use roster_scim::patch::{apply_member_ops, plan_members};
    let mut checked = 0;
    for f in fixtures() {
        let d = &f.doc;
        if d["resourceType"] != "Group" || d["kind"] != "patch" || d.get("error").is_some() {
            continue;
        }
        let c = ctx("Group");
        let req = PatchOp::from_json(&d["request"]).unwrap();
        let plan = plan_members(&req.operations, &c)
            .unwrap()
            .unwrap_or_else(|| panic!("{}: no plan", f.file));
        let mut doc = d["before"].clone();
        let mut members: Vec<Value> = doc
            .as_object_mut()
            .unwrap()
            .remove("members")
            .and_then(|m| m.as_array().cloned())
            .unwrap_or_default();
        let out = patch::apply(&doc, &plan.other_ops, &c).unwrap();
        let (added, removed) = apply_member_ops(&mut members, &plan.member_ops);
        let mut result = out.resource;
        if !members.is_empty() {
            result["members"] = Value::Array(members);
        }
        assert_eq!(result, d["expected"], "{}", f.file);
        let mut tol = tolerance_names(&out.tolerances);
        tol.extend(tolerance_names(&plan.tolerances));
        let want: BTreeSet<String> = strings(&d["tolerances"]).into_iter().collect();
        assert_eq!(tol, want, "{}", f.file);
        if let Some(wa) = d.get("membersAdded") {
            assert_eq!(added, strings(wa), "{}", f.file);
            assert_eq!(removed, strings(&d["membersRemoved"]), "{}", f.file);
        }
        checked += 1;
    }
    assert!(checked >= 12, "{checked}");
    // What cannot be planned falls back to the full member list.
    let c = ctx("Group");
    for body in [
        serde_json::json!({"Operations": [{"op": "remove", "path": "members[display eq \"x\"]"}]}),
        serde_json::json!({"Operations": [{"op": "replace", "value": {"members": [{"value": "a"}]}}]}),
        serde_json::json!({"Operations": [{"op": "replace", "path": "members[value eq \"a\"].display", "value": "A"}]}),
    ] {
        let req = PatchOp::from_json(&body).unwrap();
        assert!(
            plan_members(&req.operations, &c).unwrap().is_none(),
            "{body}"
        );
    }
}
