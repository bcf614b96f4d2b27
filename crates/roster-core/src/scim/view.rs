//! Users and teams as SCIM resources.

use crate::model::{Team, User};
use crate::store::Member;
use chrono::{DateTime, SecondsFormat, Utc};
use roster_scim::urn;
use serde_json::{Map, Value, json};

/// `meta` timestamps keep the stored microseconds, so filters on them mean what they show.
pub fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The ETag of a resource version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The base URL of one provider's SCIM endpoint (`…/v4/users/scim/{uuid}`).
pub type Base<'a> = &'a str;

fn meta(
    kind: &str,
    created: &DateTime<Utc>,
    modified: &DateTime<Utc>,
    version: i64,
    location: String,
) -> Value {
    json!({
        "resourceType": kind,
        "created": time(created),
        "lastModified": time(modified),
        "location": location,
        "version": etag(version),
    })
}

/// The full SCIM User (before projection), as the endpoint of identity provider `idp` shows it:
/// its `groups` are the teams that provider made (teams made through the IAM API are invisible to
/// SCIM).
pub fn user(u: &User, base: Base<'_>, idp: uuid::Uuid) -> Value {
    let ctx = super::user_ctx();
    let mut out = Map::new();
    out.insert("schemas".into(), json!(ctx.schemas_for(&u.scim)));
    let id = u.scim_ref();
    out.insert("id".into(), Value::String(id.to_string()));
    if let Value::Object(doc) = &u.scim {
        for (k, v) in doc {
            if !k.eq_ignore_ascii_case("schemas") {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    // `active` comes from the document, which the IAM API keeps in step with the column: every
    // user Entra or the IAM API made shows it explicitly (Entra needs that on every read).
    let mut groups = u
        .teams
        .iter()
        .filter(|t| t.provisioned_by == Some(idp))
        .peekable();
    if groups.peek().is_some() {
        out.insert(
            "groups".into(),
            Value::Array(
                groups
                    .map(|t| {
                        let id = t.scim_ref();
                        json!({"value": id.to_string(), "display": t.name, "$ref": format!("{base}/Groups/{id}"), "type": "direct"})
                    })
                    .collect(),
            ),
        );
    }
    out.insert(
        "meta".into(),
        meta(
            "User",
            &u.date_joined,
            &u.last_modified,
            u.version,
            format!("{base}/Users/{id}"),
        ),
    );
    Value::Object(out)
}

/// The full SCIM Group; `members` only when given (the caller loads them only when they are
/// returned).
pub fn group(t: &Team, members: Option<&[Member]>, base: Base<'_>) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([urn::GROUP]));
    let id = t.scim_ref();
    out.insert("id".into(), Value::String(id.to_string()));
    if let Value::Object(doc) = &t.scim {
        for (k, v) in doc {
            if !k.eq_ignore_ascii_case("schemas") && !k.eq_ignore_ascii_case("members") {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out.insert("displayName".into(), Value::String(t.name.clone()));
    if let Some(ms) = members {
        out.insert(
            "members".into(),
            Value::Array(
                ms.iter()
                    .map(|m| {
                        let user = m.scim_ref();
                        json!({"value": user.to_string(), "display": m.display, "$ref": format!("{base}/Users/{user}"), "type": "User"})
                    })
                    .collect(),
            ),
        );
    }
    out.insert(
        "meta".into(),
        meta(
            "Group",
            &t.created,
            &t.last_modified,
            t.version,
            format!("{base}/Groups/{id}"),
        ),
    );
    Value::Object(out)
}
