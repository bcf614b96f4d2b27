//! SCIM documents and the domain records they map to: users, teams, their member entries, and
//! the rules on what a document may hold (single-line names, the owner guard).

use super::*;
use crate::model::AccountId;

pub(super) fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

pub(super) fn str_at<'v>(doc: &'v Value, keys: &[&str]) -> Option<&'v str> {
    let mut v = doc;
    for k in keys {
        v = v.get(*k)?;
    }
    v.as_str()
}

/// The stored document: the normalised resource without `schemas`, `id` and `meta`.
pub(super) fn stored_doc(mut doc: Value) -> Value {
    if let Some(o) = doc.as_object_mut() {
        o.retain(|k, _| {
            !["schemas", "id", "meta"]
                .iter()
                .any(|x| k.eq_ignore_ascii_case(x))
        });
    }
    doc
}

/// The stored document with its `id`, as PATCH sees the resource (a path-less replace that
/// carries the resource's own id is then a no-op, as Okta needs).
pub(super) fn with_id(doc: &Value, id: impl std::fmt::Display) -> Value {
    let mut d = doc.clone();
    if let Some(o) = d.as_object_mut() {
        o.insert("id".into(), Value::String(id.to_string()));
    }
    d
}

/// The top-level string `key` of `doc`: present, not blank, at most `max` characters.
pub(super) fn required_text(
    doc: &Value,
    key: &str,
    max: usize,
    why: &str,
) -> Result<String, ScimError> {
    let text = str_at(doc, &[key]).unwrap_or("");
    if text.trim().is_empty() {
        return Err(ScimError::invalid_value(format!(
            "{key} is required and may not be empty"
        )));
    }
    if text.chars().count() > max {
        return Err(ScimError::invalid_value(format!(
            "{key} is longer than {max} characters{why}"
        )));
    }
    Ok(text.to_string())
}

/// The single-line attributes that identify or name a resource: no control characters (line
/// breaks and tabs included) and no bidirectional formatting characters, the IAM API's rule for
/// names. Multi-line attributes (`addresses.formatted`) keep their line breaks.
pub(super) const SINGLE_LINE: &[&[&str]] = &[
    &["userName"],
    &["externalId"],
    &["displayName"],
    &["nickName"],
    &["name", "formatted"],
    &["name", "givenName"],
    &["name", "familyName"],
    &["name", "middleName"],
    &["name", "honorificPrefix"],
    &["name", "honorificSuffix"],
];

/// Values kept from `before` (stored before this rule) pass: a re-send must not fail on them.
pub(super) fn check_single_line(doc: &Value, before: &Value) -> Result<(), ScimError> {
    for keys in SINGLE_LINE {
        if let Some(text) = str_at(doc, keys)
            && str_at(before, keys) != Some(text)
            && let Some(problem) = crate::validate::single_line_problem(text)
        {
            return Err(ScimError::invalid_value(format!(
                "{}: {problem}",
                keys.join(".")
            )));
        }
    }
    Ok(())
}

/// Set the user's mapped columns from a SCIM document (which becomes the stored document).
pub(super) fn apply_user_doc(u: &mut User, doc: Value) -> Result<(), ScimError> {
    check_single_line(&doc, &u.scim)?;
    u.email = required_text(&doc, "userName", 254, "")?;
    // The IAM API keeps 30 characters of each name; the SCIM document keeps them whole.
    u.first_name = truncate(str_at(&doc, &["name", "givenName"]).unwrap_or(""), 30);
    u.last_name = truncate(str_at(&doc, &["name", "familyName"]).unwrap_or(""), 30);
    // A user without `active` is active (and shows no `active`, as provisioned).
    u.is_active = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
    u.provisioning.external_id = str_at(&doc, &["externalId"]).map(str::to_string);
    let mut doc = stored_doc(doc);
    // Write-only attributes (`password`) are never stored: Roster users sign in through their
    // identity provider.
    strip_never_returned(&mut doc, crate::scim::user_ctx());
    u.scim = doc;
    Ok(())
}

pub(super) fn strip_never_returned(doc: &mut Value, ctx: &ResourceContext<'_>) {
    use roster_scim::schema::Returned;
    let Some(o) = doc.as_object_mut() else { return };
    o.retain(|k, _| {
        !ctx.resolve_attr(None, k)
            .is_some_and(|(_, d)| d.returned == Returned::Never)
    });
    for (ext, _) in &ctx.extensions {
        if let Some(Value::Object(inner)) = o.get_mut(&ext.id) {
            inner.retain(|k, _| {
                !ext.attribute(k)
                    .is_some_and(|d| d.returned == Returned::Never)
            });
        }
    }
}

/// Set the team's columns from a SCIM Group document (`members` are rows, kept apart).
pub(super) fn apply_group_doc(t: &mut Team, doc: Value) -> Result<Option<Vec<Entry>>, ScimError> {
    check_single_line(&doc, &t.scim)?;
    t.name = required_text(&doc, "displayName", 100, " (the longest team name)")?;
    t.provisioning.external_id = str_at(&doc, &["externalId"]).map(str::to_string);
    let mut doc = stored_doc(doc);
    let members = doc
        .as_object_mut()
        .and_then(|o| o.remove("members"))
        .map(|m| entries(m.as_array().map(Vec::as_slice).unwrap_or_default()));
    t.scim = doc;
    Ok(members)
}

/// A new user of `account` from a SCIM User resource, exactly as `POST /Users` on identity
/// provider `idp`'s endpoint would store it.
pub fn user_from_resource(
    account: AccountId,
    idp: Uuid,
    body: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<User, ScimError> {
    let normalized = patch::normalize(body, crate::scim::user_ctx())?;
    let mut u = User::new(account, "", "", "", now);
    u.provisioning.idp_uuid = Some(idp);
    apply_user_doc(&mut u, normalized.resource)?;
    Ok(u)
}

/// A member as sent: its id, its display if given, and whether it says it is a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub id: String,
    pub display: Option<String>,
    /// `"type": "Group"`, or a `$ref` to a group: nested groups are not supported.
    pub group: bool,
}

/// A member id that was not added, and why.
pub(super) type Ignored = (String, &'static str);

pub(super) const NOT_AN_ID: &str = "not a user id";
pub(super) const NO_SUCH_USER: &str = "no such user";
pub(super) const A_GROUP: &str = "a group: nested groups are not supported";

/// Entries of canonical member objects (`{"value", "display"}`, as `roster-scim` gives them).
pub(super) fn entries(members: &[Value]) -> Vec<Entry> {
    members
        .iter()
        .filter_map(|m| {
            let id = match m.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return None,
            };
            let text = |k: &str| m.get(k).and_then(Value::as_str);
            let group = text("type").is_some_and(|t| t.eq_ignore_ascii_case("group"))
                || text("$ref").is_some_and(|r| r.to_ascii_lowercase().contains("/groups/"));
            Some(Entry {
                id,
                display: text("display").map(str::to_string),
                group,
            })
        })
        .collect()
}

/// The entries that name users by a SCIM id, with the display each was sent with (the rest are
/// reported as ignored, with the reason).
pub(super) fn member_refs(entries: &[Entry]) -> (Vec<(ScimRef, Option<String>)>, Vec<Ignored>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for e in entries {
        match ScimRef::parse(&e.id) {
            _ if e.group => bad.push((e.id.clone(), A_GROUP)),
            Some(r) => ok.push((r, e.display.clone())),
            None => bad.push((e.id.clone(), NOT_AN_ID)),
        }
    }
    (ok, bad)
}

/// The ids that are SCIM ids (the rest are reported as ignored).
pub(super) fn remove_refs(ids: &[String]) -> (Vec<ScimRef>, Vec<Ignored>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for s in ids {
        match ScimRef::parse(s) {
            Some(r) => ok.push(r),
            None => bad.push((s.clone(), NOT_AN_ID)),
        }
    }
    (ok, bad)
}

pub(super) fn owner_error() -> ScimError {
    ScimError::forbidden(
        "This user is an account owner: owners cannot be changed, deactivated or deleted through SCIM \
         (so an identity provider can never lock the account out). Manage them in Roster, or remove them from the provisioning scope",
    )
}

/// Owners may be re-sent unchanged (Entra does, every cycle), never changed.
pub(super) fn guard_owner(before: &User, after: &User) -> Result<(), ScimError> {
    if before.is_account_owner
        && (before.scim != after.scim
            || before.is_active != after.is_active
            || before.email != after.email)
    {
        return Err(owner_error());
    }
    Ok(())
}
