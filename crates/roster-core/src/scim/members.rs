//! Group membership PATCH operations, taken out of the PATCH so they cost in proportion to the
//! change: they become row inserts and deletes, and the group's members are never loaded.

use roster_scim::patch::{OpKind, PatchOperation};
use roster_scim::{Filter, ScimError};
use serde_json::{Map, Value};

/// What a PATCH does to a group's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    /// Members to add: id, and the display the client sent.
    Add(Vec<Entry>),
    Remove(Vec<String>),
    /// `remove members` without a value: every member.
    Clear,
    /// `replace members`: exactly these.
    Replace(Vec<Entry>),
}

/// A member as sent: its id and, if given, its display.
pub type Entry = (String, Option<String>);

fn only_ids(entries: Vec<Entry>) -> Vec<String> {
    entries.into_iter().map(|(id, _)| id).collect()
}

/// Split `ops` into membership changes and the rest (applied to the document).
pub fn split(ops: &[PatchOperation]) -> Result<(Vec<MemberOp>, Vec<PatchOperation>), ScimError> {
    let mut members = Vec::new();
    let mut rest = Vec::new();
    for op in ops {
        match op.path.as_deref().map(str::trim) {
            Some(p) if p.eq_ignore_ascii_case("members") => members.push(match op.op {
                OpKind::Add => MemberOp::Add(ids(op.value.as_ref())?),
                OpKind::Replace => MemberOp::Replace(ids(op.value.as_ref())?),
                OpKind::Remove => match &op.value {
                    None | Some(Value::Null) => MemberOp::Clear,
                    Some(v) => MemberOp::Remove(only_ids(ids(Some(v))?)),
                },
            }),
            Some(p) if starts_with_ci(p, "members[") || starts_with_ci(p, "members.") => {
                members.push(filtered(op, p)?);
            }
            Some(p) if is_urn_members(p) => members.push(match op.op {
                OpKind::Add => MemberOp::Add(ids(op.value.as_ref())?),
                OpKind::Replace => MemberOp::Replace(ids(op.value.as_ref())?),
                OpKind::Remove => match &op.value {
                    None | Some(Value::Null) => MemberOp::Clear,
                    Some(v) => MemberOp::Remove(only_ids(ids(Some(v))?)),
                },
            }),
            Some(_) => rest.push(op.clone()),
            None => {
                // Path-less add/replace: a `members` key in the value object is a membership change.
                let Some(Value::Object(obj)) = &op.value else {
                    rest.push(op.clone());
                    continue;
                };
                let mut remaining = Map::new();
                for (k, v) in obj {
                    if k.eq_ignore_ascii_case("members") || is_urn_members(k) {
                        let list = ids(Some(v))?;
                        members.push(match op.op {
                            OpKind::Replace => MemberOp::Replace(list),
                            _ => MemberOp::Add(list),
                        });
                    } else {
                        remaining.insert(k.clone(), v.clone());
                    }
                }
                if !remaining.is_empty() || obj.is_empty() {
                    let mut o = op.clone();
                    o.value = Some(Value::Object(remaining));
                    rest.push(o);
                }
            }
        }
    }
    Ok((members, rest))
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn is_urn_members(p: &str) -> bool {
    let lower = p.to_ascii_lowercase();
    lower == format!("{}:members", roster_scim::urn::GROUP.to_ascii_lowercase())
}

/// `members[value eq "id"]` (with `remove`; Entra's compliant dialect).
fn filtered(op: &PatchOperation, p: &str) -> Result<MemberOp, ScimError> {
    let path = roster_scim::path::parse_path(p)?;
    let id = match (&path.filter, path.sub_attribute()) {
        (
            Some(Filter::Compare {
                path: fp,
                op: roster_scim::CompareOp::Eq,
                value,
            }),
            None,
        ) if fp.attr.eq_ignore_ascii_case("value") && fp.sub.is_none() => match value {
            roster_scim::CompValue::String(s) => s.clone(),
            roster_scim::CompValue::Number(n) => n.to_string(),
            _ => {
                return Err(ScimError::invalid_path(format!(
                    "\"{p}\": a member id is a string"
                )));
            }
        },
        _ => {
            return Err(ScimError::invalid_path(format!(
                "\"{p}\": Roster supports members, members[value eq \"<id>\"] as member paths"
            )));
        }
    };
    match op.op {
        OpKind::Remove => Ok(MemberOp::Remove(vec![id])),
        // add/replace on a filtered member path: the member is there afterwards.
        OpKind::Add | OpKind::Replace => Ok(MemberOp::Add(vec![(id, None)])),
    }
}

/// Members from a value: `[{"value": "id", "display": …}, …]`, one object, a string, or an array of
/// strings.
pub fn ids(v: Option<&Value>) -> Result<Vec<Entry>, ScimError> {
    let one = |e: &Value| -> Result<Option<Entry>, ScimError> {
        match e {
            Value::String(s) => Ok(Some((s.trim().to_string(), None))),
            Value::Number(n) => Ok(Some((n.to_string(), None))),
            Value::Object(o) => {
                let get = |name: &str| {
                    o.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v)
                };
                let display = get("display").and_then(Value::as_str).map(str::to_string);
                match get("value") {
                    Some(Value::String(s)) => Ok(Some((s.trim().to_string(), display))),
                    Some(Value::Number(n)) => Ok(Some((n.to_string(), display))),
                    None | Some(Value::Null) => Err(ScimError::invalid_value(
                        "each member needs a \"value\" (the user's id)",
                    )),
                    Some(other) => Err(ScimError::invalid_value(format!(
                        "a member \"value\" must be a string, not {other}"
                    ))),
                }
            }
            Value::Null => Ok(None),
            other => Err(ScimError::invalid_value(format!(
                "a member must be an object with \"value\", not {other}"
            ))),
        }
    };
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a
            .iter()
            .map(one)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect()),
        Some(other) => Ok(one(other)?.into_iter().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(v: Value) -> PatchOperation {
        PatchOperation::from_json(&v).unwrap()
    }

    #[test]
    fn entra_member_shapes() {
        let ops = vec![
            op(
                json!({"op": "Add", "path": "members", "value": [{"$ref": null, "value": "1"}, {"value": "2"}]}),
            ),
            op(json!({"op": "Remove", "path": "members", "value": [{"value": "3"}]})),
            op(json!({"op": "remove", "path": "members[value eq \"4\"]"})),
            op(json!({"op": "Replace", "path": "displayName", "value": "New"})),
            op(
                json!({"op": "replace", "value": {"displayName": "X", "members": [{"value": "5"}]}}),
            ),
            op(json!({"op": "remove", "path": "members"})),
        ];
        let (m, rest) = split(&ops).unwrap();
        assert_eq!(
            m,
            vec![
                MemberOp::Add(vec![("1".into(), None), ("2".into(), None)]),
                MemberOp::Remove(vec!["3".into()]),
                MemberOp::Remove(vec!["4".into()]),
                MemberOp::Replace(vec![("5".into(), None)]),
                MemberOp::Clear,
            ]
        );
        assert_eq!(rest.len(), 2);
        assert_eq!(rest[1].value, Some(json!({"displayName": "X"})));
    }

    #[test]
    fn bad_member_values_say_why() {
        let e = split(&[op(
            json!({"op": "add", "path": "members", "value": [{"display": "x"}]}),
        )])
        .unwrap_err();
        assert!(e.detail.contains("value"));
        let e = split(&[op(
            json!({"op": "remove", "path": "members[display eq \"x\"]"}),
        )])
        .unwrap_err();
        assert_eq!(e.status, 400);
    }
}
