//! Every Entra and Okta request body of the fixture corpus (`crates/roster-scim/testdata`, one
//! file per body in entra-behaviour.md §2–§5, both dialects) replayed against the live server on a
//! fresh store: the resource it leaves must be the one the fixture expects. [E32]

use crate::both;
use crate::harness::*;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

fn corpus() -> Vec<(String, Value)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../roster-scim/testdata");
    let mut out = Vec::new();
    for dir in ["entra", "okta"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            out.push((f.file_name().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    assert!(out.len() >= 50, "the corpus is there");
    out
}

/// Member ids a group fixture mentions (in members lists and member paths).
fn member_ids(v: &Value, in_members: bool, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            let is_member_op = o
                .get("path")
                .and_then(Value::as_str)
                .is_some_and(|p| p.to_ascii_lowercase().starts_with("members"));
            if let Some(p) = o.get("path").and_then(Value::as_str)
                && let Some(rest) = p.split("value eq \"").nth(1)
            {
                out.insert(rest.split('"').next().unwrap().to_string());
            }
            for (k, x) in o {
                let here = in_members
                    || k.eq_ignore_ascii_case("members")
                    || (is_member_op && k == "value");
                if here
                    && k == "value"
                    && let Value::String(s) = x
                {
                    out.insert(s.clone());
                }
                member_ids(x, here, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| member_ids(x, in_members, out)),
        Value::String(s) if in_members => {
            out.insert(s.clone());
        }
        _ => {}
    }
}

/// Replace ids by the server's ids, in values and in `members[value eq "…"]` paths.
fn map_ids(v: &Value, ids: &BTreeMap<String, String>) -> Value {
    match v {
        Value::String(s) => {
            if let Some(n) = ids.get(s) {
                return Value::String(n.clone());
            }
            let mut t = s.clone();
            for (from, to) in ids {
                t = t.replace(&format!("\"{from}\""), &format!("\"{to}\""));
            }
            Value::String(t)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| map_ids(x, ids)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), map_ids(x, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What a fixture and the server are compared on: no id, meta, groups or member displays;
/// schemas as a set.
fn comparable(v: &Value) -> Value {
    let mut o: Map<String, Value> = v.as_object().cloned().unwrap_or_default();
    for k in ["id", "meta", "groups", "password"] {
        o.remove(k);
    }
    if let Some(Value::Array(s)) = o.get("schemas") {
        let set: BTreeSet<String> = s
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
        o.insert("schemas".into(), json!(set));
    }
    if o.get("members").is_some_and(|m| m == &json!([])) {
        o.remove("members");
    }
    if let Some(Value::Array(m)) = o.get("members") {
        let set: BTreeSet<String> = m
            .iter()
            .filter_map(|x| x["value"].as_str().map(str::to_string))
            .collect();
        o.insert("members".into(), json!(set));
    }
    Value::Object(o)
}

async fn replay_corpus(app: &TestApp) {
    let s = app.scim().await;
    let mut failures = Vec::new();
    for (n, (file, fx)) in corpus().into_iter().enumerate() {
        let kind = if fx["resourceType"] == "Group" {
            "Groups"
        } else {
            "Users"
        };
        // Users get unique names per fixture; group members become real users.
        let mut ids = BTreeMap::new();
        let mut mentioned = BTreeSet::new();
        if kind == "Groups" {
            member_ids(&fx, false, &mut mentioned);
            for m in &mentioned {
                ids.insert(m.clone(), s.user(&format!("f{n}-{m}@fixture.test")).await);
            }
        }
        let uniq = |v: &Value| -> Value {
            let mut v = map_ids(v, &ids);
            let key = v.as_object().and_then(|o| {
                o.keys()
                    .find(|k| k.eq_ignore_ascii_case("userName"))
                    .cloned()
            });
            if let Some(key) = key
                && let Some(u) = v[&key].as_str().map(str::to_string)
            {
                v[&key] = json!(format!("{n}-{u}"));
            }
            if let Some(d) = v
                .get("displayName")
                .and_then(Value::as_str)
                .map(str::to_string)
                && kind == "Groups"
            {
                v["displayName"] = json!(format!("{n}-{d}"));
            }
            v
        };
        let result = match fx["kind"].as_str().unwrap() {
            "create" => {
                let r = s.post(&format!("/{kind}"), uniq(&fx["request"])).await;
                (r.status, r.body)
            }
            _ => {
                let mut before = uniq(&fx["before"]);
                before.as_object_mut().unwrap().remove("id");
                let created = s.post(&format!("/{kind}"), before).await;
                assert_eq!(
                    created.status,
                    StatusCode::CREATED,
                    "{file}: creating `before`: {}",
                    created.body
                );
                let id = created.body["id"].as_str().unwrap().to_string();
                let mut with_self = ids.clone();
                if let Some(fid) = fx["before"]["id"].as_str() {
                    with_self.insert(fid.to_string(), id.clone());
                }
                let mut req = map_ids(&fx["request"], &with_self);
                // Renames in the request keep the per-fixture prefix, so they stay unique.
                for op in req["Operations"].as_array_mut().into_iter().flatten() {
                    let path = op
                        .get("path")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    if kind == "Groups"
                        && path.eq_ignore_ascii_case("displayName")
                        && let Some(d) = op["value"].as_str().map(str::to_string)
                    {
                        op["value"] = json!(format!("{n}-{d}"));
                    }
                    if kind == "Groups"
                        && path.is_empty()
                        && let Some(d) = op["value"]["displayName"].as_str().map(str::to_string)
                    {
                        op["value"]["displayName"] = json!(format!("{n}-{d}"));
                    }
                    if kind == "Users"
                        && path.eq_ignore_ascii_case("userName")
                        && let Some(d) = op["value"]
                            .as_str()
                            .filter(|d| !d.is_empty())
                            .map(str::to_string)
                    {
                        op["value"] = json!(format!("{n}-{d}"));
                    }
                }
                let r = s.patch(&format!("/{kind}/{id}"), req).await;
                if r.status.is_success() {
                    let now = s.get(&format!("/{kind}/{id}")).await;
                    (r.status, now.body)
                } else {
                    (r.status, r.body)
                }
            }
        };
        let (status, body) = result;
        if let Some(err) = fx.get("error") {
            let ok = status.as_u16() as i64 == err["status"].as_i64().unwrap()
                && err.get("scimType").is_none_or(|t| body["scimType"] == *t);
            if !ok {
                failures.push(format!("{file}: expected error {err}, got {status} {body}"));
            }
            continue;
        }
        if !status.is_success() {
            failures.push(format!("{file}: {status} {body}"));
            continue;
        }
        let expected = uniq(&fx["expected"]);
        let mut expected = comparable(&expected);
        let got = comparable(&body);
        // Group renames in the fixture are prefixed like the request's.
        if kind == "Groups"
            && let (Some(e), Some(g)) = (
                expected.get("displayName").cloned(),
                got.get("displayName").cloned(),
            )
            && g.as_str().unwrap_or("").ends_with(
                e.as_str()
                    .unwrap_or("")
                    .trim_start_matches(&format!("{n}-")),
            )
        {
            expected["displayName"] = g;
        }
        if got != expected {
            failures.push(format!("{file}:\n  expected {expected}\n  got      {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixtures failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

both!(replay_corpus);
