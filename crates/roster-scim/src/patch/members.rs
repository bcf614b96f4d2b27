//! Group membership without the member list: split a PATCH into the operations on the group document and
//! an ordered list of membership changes a store can apply in O(changes) (large groups).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::apply::canon_members;
use super::{OpKind, PatchOperation};
use crate::error::ScimError;
use crate::filter::{CompValue, CompareOp, Filter, ParseOptions};
use crate::path::parse_path_with;
use crate::schema::ResourceContext;
use crate::tolerance::{Tolerance, Tolerances};
use crate::value::get_ci;

/// One membership change, in request order.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberOp {
    /// Add these members (canonical member objects: `value`, optional `display`, `type`, `$ref`); adding
    /// an existing member is a no-op.
    Add(Vec<Value>),
    /// Remove the members with these ids; absent ids are ignored.
    Remove(Vec<String>),
    /// Remove every member.
    RemoveAll,
    /// Replace the whole membership with these members.
    Replace(Vec<Value>),
}

/// The result of [`plan_members`].
#[derive(Debug, Clone, PartialEq)]
pub struct MembersPlan {
    /// The operations that do not touch `members`: apply them with [`super::apply`] to the group document
    /// loaded without members.
    pub other_ops: Vec<PatchOperation>,
    /// The membership changes, in order.
    pub member_ops: Vec<MemberOp>,
    /// Non-standard inputs used by the membership operations (the others are reported by `apply`).
    pub tolerances: Tolerances,
}

/// Splits a group PATCH into document operations and membership changes, so a server never has to load
/// a large member list. Returns `Ok(None)` when some operation on `members` cannot be expressed as
/// membership changes (e.g. a filter on `display`, or `members` inside a path-less value): the caller then
/// loads the members and uses [`super::apply`]. Errors are those `apply` would report for the same
/// membership operations (bad paths, bad member values).
///
/// Handled: `add`/`replace` `members` with a value list (one object or a bare id accepted, as Entra and
/// Okta send), `remove` `members` (all), `remove` `members` with a value list (Entra),
/// `remove` `members[value eq "id"]` (and `or` of such terms).
pub fn plan_members(
    ops: &[PatchOperation],
    ctx: &ResourceContext<'_>,
) -> Result<Option<MembersPlan>, ScimError> {
    let Some(members_def) = ctx
        .core
        .attribute("members")
        .filter(|d| d.multi_valued && d.is_complex())
    else {
        return Ok(None);
    };
    let mut plan = MembersPlan {
        other_ops: Vec::new(),
        member_ops: Vec::new(),
        tolerances: Tolerances::new(),
    };
    for op in ops {
        let Some(raw) = &op.path else {
            let touches = match &op.value {
                Some(Value::Object(o)) => o.keys().any(|k| {
                    let k = k.trim().to_ascii_lowercase();
                    k == "members"
                        || k.starts_with("members.")
                        || k.starts_with("members[")
                        || k.contains(":members")
                }),
                _ => false,
            };
            if touches {
                return Ok(None);
            }
            plan.other_ops.push(op.clone());
            continue;
        };
        let (path, ptol) = parse_path_with(raw, &ParseOptions::default())?;
        let is_members = path.attr.attr.eq_ignore_ascii_case("members")
            && path.attr.urn.as_deref().is_none_or(|u| {
                ctx.core
                    .id
                    .eq_ignore_ascii_case(crate::schema::canonical_schema_alias(u))
            });
        if !is_members {
            plan.other_ops.push(op.clone());
            continue;
        }
        if path.sub_attribute().is_some() {
            return Ok(None);
        }
        plan.tolerances.extend(&op.tolerances);
        plan.tolerances.extend(&ptol);
        let member_op = match (op.op, &path.filter) {
            (OpKind::Add | OpKind::Replace, None) => {
                let value = op.value.clone().ok_or_else(|| {
                    ScimError::invalid_syntax(format!("{} needs a \"value\"", op.op))
                })?;
                let members = canon_members(members_def, value, ctx, &mut plan.tolerances)?;
                match op.op {
                    OpKind::Add => MemberOp::Add(members),
                    _ => MemberOp::Replace(members),
                }
            }
            (OpKind::Remove, None) => match &op.value {
                None | Some(Value::Null) => MemberOp::RemoveAll,
                Some(list) => {
                    plan.tolerances.add(Tolerance::RemoveWithValue);
                    let items: Vec<&Value> = match list {
                        Value::Array(a) => a.iter().collect(),
                        other => vec![other],
                    };
                    MemberOp::Remove(items.into_iter().filter_map(member_id).collect())
                }
            },
            (OpKind::Remove, Some(filter)) => match value_eq_ids(filter) {
                Some(ids) => MemberOp::Remove(ids),
                None => return Ok(None),
            },
            (OpKind::Add | OpKind::Replace, Some(_)) => return Ok(None),
        };
        plan.member_ops.push(member_op);
    }
    Ok(Some(plan))
}

fn member_id(item: &Value) -> Option<String> {
    match item {
        Value::Object(o) => get_ci(o, "value")
            .and_then(Value::as_str)
            .map(str::to_owned),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// `value eq "a"` or `value eq "a" or value eq "b"` → the ids.
fn value_eq_ids(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(s),
        } if path.urn.is_none()
            && path.sub.is_none()
            && path.attr.eq_ignore_ascii_case("value") =>
        {
            Some(vec![s.clone()])
        }
        Filter::Or(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(value_eq_ids(i)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// Applies membership changes to an in-memory member list (what a store does in SQL), returning the ids
/// added and removed. Members are identified by `value`.
pub fn apply_member_ops(members: &mut Vec<Value>, ops: &[MemberOp]) -> (Vec<String>, Vec<String>) {
    let id = |v: &Value| {
        v.as_object()
            .and_then(|o| get_ci(o, "value"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let unique = |list: &[Value]| -> Vec<String> {
        let mut seen = HashSet::new();
        list.iter()
            .filter_map(id)
            .filter(|x| seen.insert(x.clone()))
            .collect()
    };
    let before = unique(members);
    for op in ops {
        match op {
            MemberOp::Add(new) => add_members(members, new),
            MemberOp::Remove(ids) => {
                let ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
                members.retain(|m| id(m).is_none_or(|x| !ids.contains(x.as_str())));
            }
            MemberOp::RemoveAll => members.clear(),
            MemberOp::Replace(new) => {
                members.clear();
                add_members(members, new);
            }
        }
    }
    let after = unique(members);
    let before_set: HashSet<&String> = before.iter().collect();
    let after_set: HashSet<&String> = after.iter().collect();
    let added = after
        .iter()
        .filter(|x| !before_set.contains(x))
        .cloned()
        .collect();
    let removed = before
        .iter()
        .filter(|x| !after_set.contains(x))
        .cloned()
        .collect();
    (added, removed)
}

/// Adds members without duplicates: the same `value` (exact) and, when both have one, the same `type`
/// (any case) is the same member, whose other sub-attributes are updated, as `apply` does.
fn add_members(members: &mut Vec<Value>, new: &[Value]) {
    let id = |v: &Value| {
        v.as_object()
            .and_then(|o| get_ci(o, "value"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let kind = |v: &Value| {
        v.as_object()
            .and_then(|o| get_ci(o, "type"))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, m) in members.iter().enumerate() {
        if let Some(x) = id(m) {
            index.entry(x).or_default().push(i);
        }
    }
    for m in new {
        let mid = id(m);
        let same = mid
            .as_ref()
            .and_then(|x| index.get(x))
            .and_then(|candidates| {
                candidates.iter().copied().find(|i| {
                    match (members.get(*i).and_then(kind), kind(m)) {
                        (Some(a), Some(b)) => a == b,
                        _ => true,
                    }
                })
            });
        match same {
            Some(i) => {
                if let (Some(Value::Object(e)), Value::Object(n)) = (members.get_mut(i), m) {
                    merge(e, n);
                }
            }
            None => {
                if let Some(x) = mid {
                    index.entry(x).or_default().push(members.len());
                }
                members.push(m.clone());
            }
        }
    }
}

fn merge(e: &mut Map<String, Value>, n: &Map<String, Value>) {
    for (k, v) in n {
        e.insert(k.clone(), v.clone());
    }
}
