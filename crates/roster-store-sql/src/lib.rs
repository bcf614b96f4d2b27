//! What Roster's SQL stores share: the SQL, the row mappers and the store's logic.
//!
//! # Why the backends share SQL and not a driver
//!
//! SQLite is called directly (rusqlite, on its connections' own threads) and PostgreSQL through
//! sqlx's pool, so there is no common driver to write the store against. What both speak is SQL,
//! with few differences (JSON functions, `FOR UPDATE`, a regular expression). So the store is
//! written once here, as ordinary generic code over two small traits a backend implements:
//! [`Db`] (run a statement, answer owned rows) and [`SqlRow`] (read a column by name as a Rust
//! type). [`SqlTx`] holds the logic; the backends only bind arguments, decode columns and manage
//! connections and transactions.
//!
//! Statements are [`Sql`] values that number their own placeholders in the dialect's form. We
//! chose this over `sea-query`: the SCIM filter compiler (the one piece of real query generation)
//! already writes dialect-aware SQL text, and a query builder would have meant rewriting it and
//! its differential test for no gain; the rest is fixed statements, easier to read as SQL than as
//! builder calls. Literals are always bound, never interpolated (ids of the caller excepted: an
//! integer written by [`except_caller`]).
//!
//! Case-insensitive lookups compare `*_folded` shadow columns computed in Rust (Unicode case
//! folding and NFC, the same as the in-memory filter evaluator), with ordinary indexes, rather
//! than `citext` (whose folding is the database's, not the evaluator's).

use chrono::{DateTime, NaiveDateTime, Utc};
use roster_core::store::{SortKey, StoreError};

pub mod db;
pub mod filter_sql;
pub mod rows;
pub mod sql;
pub mod token_cache;
mod tx;

pub use db::{Db, SqlRow, conflict_of_constraint, sqlite_unique_columns};
pub use sql::{Arg, Dialect, Kind, Sql};
pub use token_cache::{Stale, TokenCache};
pub use tx::{Commit, SqlTx};

/// `2026-11-29T09:12:46.123456Z`: fixed width, so text order is time order.
pub fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub fn parse_ts(s: &str) -> Result<DateTime<Utc>, StoreError> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.6fZ")
        .map(|n| n.and_utc())
        .map_err(|e| StoreError::Other(format!("bad timestamp {s:?} in the database: {e}")))
}

pub fn parse_opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    s.as_deref().map(parse_ts).transpose()
}

pub fn parse_uuid(s: &str) -> Result<uuid::Uuid, StoreError> {
    uuid::Uuid::parse_str(s)
        .map_err(|e| StoreError::Other(format!("bad uuid {s:?} in the database: {e}")))
}

/// The resources the IAM lists sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Users,
    Teams,
    Permissions,
    Tokens,
}

/// The column a sort key means for a listing, and the tie-breaker column.
pub fn sort_column(listing: Listing, key: SortKey) -> (&'static str, &'static str) {
    let col = match (listing, key) {
        (Listing::Users, SortKey::Email) => "email_folded",
        (Listing::Users, SortKey::FirstName) => "first_name",
        (Listing::Users, SortKey::LastName) => "last_name",
        (Listing::Users, SortKey::DateJoined) => "date_joined",
        (Listing::Users | Listing::Teams, SortKey::LastModified) => "last_modified",
        (Listing::Users | Listing::Teams, SortKey::IsActive) => "is_active",
        (Listing::Teams, SortKey::Name) => "name_folded",
        (Listing::Permissions | Listing::Tokens, SortKey::Name) => "name",
        (Listing::Permissions, SortKey::Slug) => "slug",
        (Listing::Permissions, SortKey::Group) => "grp",
        (Listing::Tokens, SortKey::ExpiresAt) => "expires_at",
        (Listing::Tokens, _) => "created",
        _ => "id",
    };
    let tie = if listing == Listing::Tokens {
        "uuid"
    } else {
        "id"
    };
    (col, tie)
}

/// `ORDER BY <col> <dir>, <tie> <dir>` for a listing.
pub fn order_by(listing: Listing, key: SortKey, descending: bool) -> String {
    let (col, tie) = sort_column(listing, key);
    let dir = if descending { "DESC" } else { "ASC" };
    format!("ORDER BY {col} {dir}, {tie} {dir}")
}

/// A `LIKE` pattern matching `needle` anywhere, with `\` as the escape character.
pub fn contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The folded text the user search matches against.
pub fn user_search_text(email: &str, first: &str, last: &str) -> String {
    roster_core::validate::fold(&format!("{email} {first} {last}"))
}

/// Scopes of an OIDC provider, kept as a JSON array in a text column.
pub fn scopes_to_text(scopes: &[String]) -> String {
    serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into())
}

pub fn scopes_from_text(s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s)
        .map_err(|e| StoreError::Other(format!("bad scopes in the database: {e}")))
}

/// The search copy of a SCIM document: strings of attributes that are not `caseExact` (and of
/// unknown attributes, which the evaluator compares case-insensitively) are case-folded; keys and
/// everything else are kept. Case-insensitive filters compare against it.
pub fn search_doc(
    doc: &serde_json::Value,
    ctx: &roster_scim::ResourceContext<'_>,
) -> serde_json::Value {
    use serde_json::Value;
    let Value::Object(m) = doc else {
        return fold_value(doc, None);
    };
    Value::Object(
        m.iter()
            .map(|(k, v)| {
                let folded = match ctx.extension(k) {
                    Some(ext) => match v {
                        Value::Object(inner) => Value::Object(
                            inner
                                .iter()
                                .map(|(ik, iv)| (ik.clone(), fold_value(iv, ext.attribute(ik))))
                                .collect(),
                        ),
                        other => fold_value(other, None),
                    },
                    None => fold_value(v, ctx.resolve_attr(None, k).map(|(_, d)| d)),
                };
                (k.clone(), folded)
            })
            .collect(),
    )
}

fn fold_value(
    v: &serde_json::Value,
    def: Option<&roster_scim::schema::AttributeDef>,
) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) if def.is_some_and(|d| d.case_exact) => Value::String(s.clone()),
        Value::String(s) => Value::String(roster_core::validate::fold(s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| fold_value(x, def)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    (
                        k.clone(),
                        fold_value(x, def.and_then(|d| d.sub_attribute(k))),
                    )
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// One row of `user_emails`: folded value and type, and whether it is primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRow {
    pub value: Option<String>,
    pub kind: Option<String>,
    /// `None` when the element has no `primary`.
    pub primary: Option<bool>,
}

/// The `emails` of a user document, as index rows.
pub fn email_rows(doc: &serde_json::Value) -> Vec<EmailRow> {
    use serde_json::Value;
    let Some(emails) = doc.get("emails") else {
        return Vec::new();
    };
    let items: Vec<&Value> = match emails {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![emails],
        _ => Vec::new(),
    };
    let text = |e: &Value, k: &str| {
        e.get(k)
            .and_then(Value::as_str)
            .map(roster_core::validate::fold)
    };
    items
        .into_iter()
        .filter(|e| e.is_object())
        .map(|e| EmailRow {
            value: text(e, "value"),
            kind: text(e, "type"),
            primary: e.get("primary").and_then(Value::as_bool),
        })
        .collect()
}

/// `ORDER BY` for a SCIM list (absent values last, ties by id).
pub fn scim_order(
    resource: filter_sql::Resource,
    sort: &roster_core::store::ScimSort,
    descending: bool,
    dialect: filter_sql::Dialect,
) -> Result<String, StoreError> {
    use filter_sql::{Dialect, Resource};
    use roster_core::store::ScimSort;
    let t = match resource {
        Resource::Users => "u",
        Resource::Groups => "t",
    };
    let dir = if descending { "DESC" } else { "ASC" };
    let (expr, text) = match (sort, resource) {
        (ScimSort::Id, _) => return Ok(format!("ORDER BY {t}.id {dir}")),
        (ScimSort::UserName, Resource::Users) => (format!("{t}.email_folded"), true),
        (ScimSort::DisplayName, Resource::Groups) => (format!("{t}.name_folded"), true),
        (ScimSort::ExternalId, _) => (format!("{t}.scim_external_id"), true),
        (ScimSort::Created, Resource::Users) => (format!("{t}.date_joined"), false),
        (ScimSort::Created, Resource::Groups) => (format!("{t}.created"), false),
        (ScimSort::LastModified, _) => (format!("{t}.last_modified"), false),
        (ScimSort::Json(keys), _) => {
            let safe = |k: &String| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ":._-$".contains(c))
            };
            if keys.is_empty() || !keys.iter().all(safe) {
                return Err(StoreError::UnsupportedFilter(
                    "cannot sort by that attribute".into(),
                ));
            }
            let expr = match dialect {
                Dialect::Sqlite => {
                    let path: String = keys.iter().map(|k| format!(".\"{k}\"")).collect();
                    format!(
                        "(CASE WHEN json_type({t}.scim_folded, '${path}') = 'text' THEN json_extract({t}.scim_folded, '${path}') END)"
                    )
                }
                Dialect::Postgres => {
                    let arr: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
                    let walk = format!("({t}.scim_folded #> '{{{}}}')", arr.join(","));
                    format!(
                        "(CASE WHEN jsonb_typeof({walk}) = 'string' THEN {walk} #>> '{{}}' END)"
                    )
                }
            };
            (expr, true)
        }
        _ => {
            return Err(StoreError::UnsupportedFilter(
                "cannot sort that resource by that attribute".into(),
            ));
        }
    };
    // Text sorts by code point on both (PostgreSQL's default collation is the locale's).
    let collate = if dialect == Dialect::Postgres && text {
        " COLLATE \"C\""
    } else {
        ""
    };
    Ok(format!(
        "ORDER BY ({expr} IS NULL) ASC, {expr}{collate} {dir}, {t}.id {dir}"
    ))
}

/// SQL that leaves the scope's caller (the user whose token is in use) out of the users aliased
/// `alias`; empty without a caller. An integer, so safe to write into the statement.
pub fn except_caller(scope: &roster_core::store::ScimScope, alias: &str) -> String {
    scope
        .caller
        .map(|id| format!(" AND {alias}.id <> {id}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_sort_as_text() {
        let a = parse_ts("2026-01-02T03:04:05.000006Z").unwrap();
        assert_eq!(ts(&a), "2026-01-02T03:04:05.000006Z");
        let b = parse_ts("2026-01-02T03:04:05.100000Z").unwrap();
        assert!(ts(&a) < ts(&b));
    }

    #[test]
    fn only_the_identity_providers_lookups_are_kept_prepared() {
        let lookup = |f: &str| filter_sql::is_lookup(&roster_scim::filter::parse(f).unwrap());
        assert!(lookup("userName eq \"a@b.c\""));
        assert!(lookup("externalId eq \"x\""));
        assert!(lookup(
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"a\""
        ));
        assert!(lookup("DISPLAYNAME eq \"Sales\""));
        assert!(!lookup("userName co \"a\""));
        assert!(!lookup("name.givenName eq \"a\""));
        assert!(!lookup("title eq \"a\""));
        assert!(!lookup("userName eq \"a\" and active eq true"));
        assert!(!lookup("emails[value eq \"a\"]"));
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }
}
