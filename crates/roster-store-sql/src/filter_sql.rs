//! SCIM filters to SQL, for both backends: one compiler, two dialects.
//!
//! The in-memory evaluator (`roster_scim::filter::eval`) is the reference; this compiler produces
//! exactly its answer or refuses the filter (`Err(message)`, which the service answers as
//! `400 invalidFilter`). A refusal is never a wrong result. What it compiles:
//!
//! - promoted columns with indexes: `id`, `userName` / group `displayName` (case-folded), `externalId`,
//!   `meta.created`, `meta.lastModified`;
//! - `emails` (value, type, primary) through the `user_emails` index table;
//! - group membership through `team_members` (`members.value` on groups, `groups.value` on users),
//!   with any expression of a membership's `value`, `type` and (on users' `groups`) `display`
//!   inside `[…]`;
//! - every other string or boolean attribute of the schemas, single- or multi-valued, with
//!   sub-attributes and `attr[filter]`, through JSON functions over the stored document
//!   (`scim_folded`, where strings of case-insensitive attributes are already folded);
//! - `meta.resourceType` (the same for every row: the evaluator's answer, as a constant),
//!   `meta.version` (`W/"<version>"` built from the column), `meta.location` (the endpoint's
//!   prefix, bound, and the id) and `schemas` (one of two lists, chosen by whether the extension
//!   is stored).
//!
//! Refused: unknown attributes, numbers, other dateTime attributes, `members.display` on groups
//! (a display a client sent is kept unfolded), and operators an attribute's type gives no meaning to (`active gt true`
//! evaluates to false in the evaluator, so such comparisons compile to constant false instead).
//!
//! Every literal is bound, never interpolated. Every generated condition is two-valued (never SQL
//! `NULL`), so `not (…)` is exact.
//!
//! The compiler is split by concern: this module dispatches a filter over its attributes;
//! `compare` holds the typed comparisons, `json` the stored document's JSON access, and
//! `relations` the attributes kept in rows of their own (e-mails, memberships).

mod compare;
mod json;
mod relations;

pub use compare::parse_time;
use compare::{literal_text, rendered_id};
use roster_core::model::ScimRef;
use roster_scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use roster_scim::schema::{AttributeDef, AttributeType, Container, ResourceContext};

use crate::sql::{Arg, Sql};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// The `users` table, aliased `u`.
    Users,
    /// The `teams` table, aliased `t`.
    Groups,
}

/// A `userName` literal in the form of the stored key's (NFC; `string` folds the case).
fn user_name_literal(v: &CompValue) -> CompValue {
    use unicode_normalization::UnicodeNormalization;
    match v {
        CompValue::String(s) => CompValue::String(s.nfc().collect()),
        other => other.clone(),
    }
}

/// Is this one of the identity providers' lookups (`userName`, `externalId`, `id` or `displayName`
/// `eq` a value)? Their SQL comes in a handful of texts, so it is worth keeping prepared on every
/// backend; other filters' texts are unbounded and stay out of PostgreSQL's statement cache.
pub fn is_lookup(filter: &Filter) -> bool {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            ..
        } => {
            path.sub.is_none()
                && ["userName", "externalId", "id", "displayName"]
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&path.attr))
        }
        _ => false,
    }
}

/// Compile `filter` for `resource` into a condition; its values become arguments of `sql` (the
/// statement it will be written into). `account` and `owner` are the placeholders already bound
/// to the account id and to the identity provider whose scope the query is in (group membership
/// counts only between that provider's users and teams).
pub fn compile(
    filter: &Filter,
    resource: Resource,
    ctx: &ResourceContext<'_>,
    sql: &mut Sql,
    account: &str,
    owner: &str,
    base: Option<&str>,
) -> Result<String, String> {
    let mut c = Compiler {
        ctx,
        dialect: sql.dialect,
        resource,
        account_param: account.to_string(),
        owner_param: owner.to_string(),
        base: base.map(str::to_string),
        sql,
        alias: 0,
    };
    c.filter(filter)
}

const FALSE: &str = "(1 = 0)";
const TRUE: &str = "(1 = 1)";

struct Compiler<'a, 'c, 's> {
    ctx: &'a ResourceContext<'c>,
    dialect: Dialect,
    resource: Resource,
    account_param: String,
    owner_param: String,
    /// The endpoint's base URL, which `meta.location` and `$ref` start with (see
    /// `ScimQuery::base`).
    base: Option<String>,
    sql: &'s mut Sql,
    alias: usize,
}

/// Where a compared value comes from.
#[derive(Clone)]
enum Source {
    /// A column or expression of text type (NULL when absent).
    Text(String),
    /// A location in the row's document.
    Json { keys: Vec<String> },
    /// A location inside one element of an array (or inside one object).
    Elem { elem: ElemRef, keys: Vec<String> },
}

/// One element being iterated: on SQLite, an SQL expression giving its JSON path in the row's
/// document (so a malformed element yields NULL, never an error); on PostgreSQL, a jsonb expression.
#[derive(Clone)]
struct ElemRef {
    sqlite_path: String,
    pg_value: String,
}

fn unsupported_attr(path: &AttrPath) -> String {
    format!("Filtering by this attribute is not supported: \"{path}\"")
}
impl Compiler<'_, '_, '_> {
    fn bind(&mut self, b: Arg) -> String {
        self.sql.bind(b)
    }

    fn fresh(&mut self) -> String {
        self.alias += 1;
        format!("e{}", self.alias)
    }

    fn table(&self) -> &'static str {
        match self.resource {
            Resource::Users => "u",
            Resource::Groups => "t",
        }
    }

    fn filter(&mut self, f: &Filter) -> Result<String, String> {
        match f {
            Filter::And(items) => self.join(items, " AND "),
            Filter::Or(items) => self.join(items, " OR "),
            Filter::Not(inner) => Ok(format!("(NOT {})", self.filter(inner)?)),
            Filter::Present { path } => self.attribute(path, None),
            // `eq null` / `ne null` test presence exactly as `pr` does; other operators with
            // `null` match nothing.
            Filter::Compare {
                path,
                op,
                value: CompValue::Null,
            } => match op {
                CompareOp::Eq => Ok(format!("(NOT {})", self.attribute(path, None)?)),
                CompareOp::Ne => self.attribute(path, None),
                _ => {
                    self.ctx
                        .resolve(path)
                        .ok_or_else(|| unsupported_attr(path))?;
                    Ok(FALSE.into())
                }
            },
            Filter::Compare { path, op, value } => self.attribute(path, Some((*op, value))),
            Filter::ValuePath { path, filter } => self.value_path(path, filter),
        }
    }

    fn join(&mut self, items: &[Filter], sep: &str) -> Result<String, String> {
        let parts = items
            .iter()
            .map(|f| self.filter(f))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(format!("({})", parts.join(sep)))
    }

    /// `path pr` (`cmp` = None) or `path op value`, at the resource level.
    fn attribute(
        &mut self,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<String, String> {
        let resolved = self
            .ctx
            .resolve(path)
            .ok_or_else(|| unsupported_attr(path))?;
        let t = self.table();
        let attr = resolved.attr.name.as_str();
        let sub = resolved.sub.map(|s| s.name.as_str());
        let core = matches!(resolved.container, Container::Core);
        // Promoted columns first.
        if core {
            match (self.resource, attr, sub) {
                (_, "id", None) => return Ok(self.id_column(t, cmp)),
                (Resource::Users, "userName", None) => {
                    // The uniqueness key: case-folded and NFC (see `validate::user_name_key`).
                    let cmp = cmp.map(|(op, v)| (op, user_name_literal(v)));
                    let cmp = cmp.as_ref().map(|(op, v)| (*op, v));
                    return self.string(&Source::Text(format!("{t}.email_folded")), false, cmp);
                }
                (Resource::Groups, "displayName", None) => {
                    return self.string(&Source::Text(format!("{t}.name_folded")), false, cmp);
                }
                (_, "externalId", None) => {
                    return self.string(&Source::Text(format!("{t}.scim_external_id")), true, cmp);
                }

                (Resource::Users, "meta", Some("created")) => {
                    return self.time(&format!("{t}.date_joined"), cmp);
                }
                (Resource::Groups, "meta", Some("created")) => {
                    return self.time(&format!("{t}.created"), cmp);
                }
                (_, "meta", Some("lastModified")) => {
                    return self.time(&format!("{t}.last_modified"), cmp);
                }
                // The same for every row of the resource type: the evaluator's own answer on a
                // resource that holds only that value.
                (_, "meta", Some("resourceType")) => {
                    let kind = self.ctx.resource_type.name.clone();
                    return Ok(self.constant(path, cmp, &json!({"meta": {"resourceType": kind}})));
                }
                // `W/"<version>"`, as the resource is rendered (caseExact).
                (_, "meta", Some("version")) => {
                    let v = format!("('W/\"' || CAST({t}.version AS TEXT) || '\"')");
                    return self.string(&Source::Text(v), true, cmp);
                }
                // `<base>/Users/<id>`, as the resource is rendered (caseExact).
                (_, "meta", Some("location")) => {
                    let endpoint = match self.resource {
                        Resource::Users => "Users",
                        Resource::Groups => "Groups",
                    };
                    let loc = self.url_of(path, endpoint, &rendered_id(t), true)?;
                    return self.string(&Source::Text(loc), true, cmp);
                }
                // `schemas` lists the core schema, and each extension the stored document holds.
                (_, "schemas", None) => return self.schemas(path, cmp),
                (_, "meta", _) | (_, "schemas", _) => return Err(unsupported_attr(path)),
                (Resource::Users, "emails", None) if cmp.is_none() => {
                    let a = self.account_param.clone();
                    return Ok(format!(
                        "({t}.id IN (SELECT ue.user_id FROM user_emails ue WHERE ue.account_id = {a}))"
                    ));
                }
                (Resource::Users, "emails", s)
                    if matches!(s, None | Some("value" | "type" | "primary")) =>
                {
                    let col = match s.unwrap_or("value") {
                        "value" => "value_folded",
                        "type" => "type_folded",
                        _ => "is_primary",
                    };
                    let inner = self.email_column(col, cmp)?;
                    return Ok(self.in_emails(&inner, cmp));
                }
                (Resource::Users, "groups", s) => return self.membership(path, s, cmp),
                (Resource::Groups, "members", s) => return self.membership(path, s, cmp),
                _ => {}
            }
        }
        let mut keys: Vec<String> = Vec::new();
        if let Container::Extension(u) = resolved.container {
            keys.push(u.to_string());
        }
        keys.push(resolved.attr.name.clone());
        // `attr pr` on a complex attribute: the attribute itself is present (stored documents hold
        // no empty objects or arrays).
        if cmp.is_none() && resolved.sub.is_none() && resolved.attr.is_complex() {
            return Ok(self.container_present(&keys, resolved.attr.multi_valued));
        }
        let leaf: &AttributeDef = match (resolved.sub, resolved.attr.is_complex()) {
            (Some(s), _) => s,
            (None, true) => match resolved.attr.sub_attribute("value") {
                Some(v) => v,
                // A complex attribute compared without a sub-attribute means its `value`, which
                // this one does not have: nothing is equal, everything is "not equal".
                None => {
                    let (negate, _) = negated(cmp);
                    return Ok(if negate { TRUE.into() } else { FALSE.into() });
                }
            },
            (None, false) => resolved.attr,
        };
        if leaf.multi_valued && resolved.sub.is_some() {
            return Err(unsupported_attr(path));
        }
        let sub_key = if resolved.attr.is_complex() {
            Some(leaf.name.clone())
        } else {
            None
        };
        if resolved.attr.multi_valued {
            // Any element matches (`ne` and `eq null`: no element does).
            let (negate, positive) = negated(cmp);
            let e = self.fresh();
            let elem = self.elem_ref(&e);
            let elem_src = Source::Elem {
                elem,
                keys: sub_key.into_iter().collect(),
            };
            let cond = self.leaf(leaf, &elem_src, positive)?;
            let exists = self.exists_elements(&keys, &e, &cond);
            return Ok(if negate {
                format!("(NOT {exists})")
            } else {
                exists
            });
        }
        if let Some(k) = sub_key {
            keys.push(k);
        }
        self.leaf(leaf, &Source::Json { keys }, cmp)
    }

    /// What the evaluator answers for `path` (`pr`, or `cmp`) on a resource that is `view`: a
    /// constant condition.
    fn constant(
        &self,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
        view: &serde_json::Value,
    ) -> String {
        let f = match cmp {
            None => Filter::Present { path: path.clone() },
            Some((op, value)) => Filter::Compare {
                path: path.clone(),
                op,
                value: value.clone(),
            },
        };
        if roster_scim::filter::eval(&f, view, self.ctx) {
            TRUE.into()
        } else {
            FALSE.into()
        }
    }

    /// `schemas`: the core schema always, an extension when the stored document holds it. With
    /// at most one extension a row's list is one of two, so the condition is the evaluator's
    /// answer for each, chosen by whether the extension is there.
    fn schemas(
        &mut self,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<String, String> {
        let core = self.ctx.core.id.clone();
        let view = |schemas: Vec<String>| json!({ "schemas": schemas });
        let exts: Vec<String> = self
            .ctx
            .extensions
            .iter()
            .map(|(s, _)| s.id.clone())
            .collect();
        let without = self.constant(path, cmp, &view(vec![core.clone()]));
        let [ext] = exts.as_slice() else {
            return if exts.is_empty() {
                Ok(without)
            } else {
                Err(unsupported_attr(path))
            };
        };
        let with = self.constant(path, cmp, &view(vec![core, ext.clone()]));
        if with == without {
            return Ok(with);
        }
        let held = self.container_present(std::slice::from_ref(ext), false);
        Ok(if with == TRUE {
            held
        } else {
            format!("(NOT {held})")
        })
    }

    /// `attr[filter]`: some element matches.
    fn value_path(&mut self, path: &AttrPath, inner: &Filter) -> Result<String, String> {
        let resolved = self
            .ctx
            .resolve(path)
            .ok_or_else(|| unsupported_attr(path))?;
        if resolved.sub.is_some() || !resolved.attr.is_complex() {
            return Err(format!(
                "A value filter needs a complex attribute: \"{path}\""
            ));
        }
        let def = resolved.attr;
        if matches!(resolved.container, Container::Core) {
            match (self.resource, def.name.as_str()) {
                (Resource::Users, "emails") if only_subs(inner, &["value", "type", "primary"]) => {
                    let cond = self.element_filter(inner, &ElementScope::EmailRow)?;
                    return Ok(self.in_emails(&cond, None));
                }
                (Resource::Users, "groups") | (Resource::Groups, "members") => {
                    return self.membership_filter(path, inner);
                }
                _ => {}
            }
        }
        let mut keys = Vec::new();
        if let Container::Extension(u) = resolved.container {
            keys.push(u.to_string());
        }
        keys.push(def.name.clone());
        if def.multi_valued {
            let e = self.fresh();
            let elem = self.elem_ref(&e);
            let cond = self.element_filter(inner, &ElementScope::Json { elem, def })?;
            Ok(self.exists_elements(&keys, &e, &cond))
        } else {
            // A single complex attribute: the filter applies to the object itself, when present.
            let elem = self.object_ref(&keys);
            let present = self.container_present(&keys, false);
            let cond = self.element_filter(inner, &ElementScope::Json { elem, def })?;
            Ok(format!("({present} AND {cond})"))
        }
    }

    /// A filter inside `attr[…]`, over one element.
    fn element_filter(&mut self, f: &Filter, scope: &ElementScope<'_>) -> Result<String, String> {
        match f {
            Filter::And(items) | Filter::Or(items) => {
                let sep = if matches!(f, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let parts = items
                    .iter()
                    .map(|i| self.element_filter(i, scope))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(format!("({})", parts.join(sep)))
            }
            Filter::Not(inner) => Ok(format!("(NOT {})", self.element_filter(inner, scope)?)),
            Filter::ValuePath { path, .. } => Err(format!("Value filters cannot nest: \"{path}\"")),
            Filter::Compare {
                path,
                op,
                value: CompValue::Null,
            } if *op != CompareOp::Eq && *op != CompareOp::Ne => {
                if path.sub.is_some() || path.urn.is_some() {
                    return Err(unsupported_attr(path));
                }
                Ok(FALSE.into())
            }
            Filter::Compare {
                path,
                op,
                value: CompValue::Null,
            } => {
                let present =
                    self.element_filter(&Filter::Present { path: path.clone() }, scope)?;
                Ok(if *op == CompareOp::Eq {
                    format!("(NOT {present})")
                } else {
                    present
                })
            }
            Filter::Present { path } | Filter::Compare { path, .. } => {
                if path.sub.is_some() || path.urn.is_some() {
                    return Err(unsupported_attr(path));
                }
                let cmp = match f {
                    Filter::Compare { op, value, .. } => Some((*op, value)),
                    _ => None,
                };
                match scope {
                    ElementScope::EmailRow => {
                        let col = match path.attr.to_ascii_lowercase().as_str() {
                            "value" => "value_folded",
                            "type" => "type_folded",
                            "primary" => "is_primary",
                            _ => return Err(unsupported_attr(path)),
                        };
                        self.email_column(col, cmp)
                    }
                    ElementScope::Json { elem, def } => {
                        let sub = def
                            .sub_attribute(&path.attr)
                            .ok_or_else(|| unsupported_attr(path))?;
                        if sub.multi_valued || sub.is_complex() {
                            return Err(unsupported_attr(path));
                        }
                        self.leaf(
                            sub,
                            &Source::Elem {
                                elem: elem.clone(),
                                keys: vec![sub.name.clone()],
                            },
                            cmp,
                        )
                    }
                    ElementScope::Membership { attr } => {
                        let (expr, exact) = self.member_field(attr, path)?;
                        self.string(&Source::Text(expr), exact, cmp)
                    }
                }
            }
        }
    }

    /// `<base>/<endpoint>/<id>` (`id_sql` is the id's text), as rendered: `meta.location`,
    /// `$ref`; case-folded unless `exact` (ids are digits or lower-case UUIDs, which folding
    /// leaves alone).
    fn url_of(
        &mut self,
        path: &AttrPath,
        endpoint: &str,
        id_sql: &str,
        exact: bool,
    ) -> Result<String, String> {
        let base = self.base.clone().ok_or_else(|| unsupported_attr(path))?;
        let prefix = format!("{base}/{endpoint}/");
        let prefix = if exact {
            prefix
        } else {
            roster_core::validate::fold(&prefix)
        };
        let p = self.bind(Arg::Text(prefix));
        Ok(format!("({p} || {id_sql})"))
    }
}

enum ElementScope<'d> {
    EmailRow,
    Json {
        elem: ElemRef,
        def: &'d AttributeDef,
    },
    /// A membership row (`m`, its other side `o`) of `attr` (`groups` or `members`).
    Membership {
        attr: &'d AttrPath,
    },
}

/// `ne x` is "no element equals x" and `eq null` is "no element is present": answer (negate the
/// whole?, the per-element comparison to test).
fn negated(cmp: Option<(CompareOp, &CompValue)>) -> (bool, Option<(CompareOp, &CompValue)>) {
    match cmp {
        Some((CompareOp::Ne, v)) if !matches!(v, CompValue::Null) => {
            (true, Some((CompareOp::Eq, v)))
        }
        Some((CompareOp::Eq, CompValue::Null)) => (true, None),
        Some((CompareOp::Ne, CompValue::Null)) => (false, None),
        other => (false, other),
    }
}

fn only_subs(f: &Filter, allowed: &[&str]) -> bool {
    match f {
        Filter::And(i) | Filter::Or(i) => i.iter().all(|x| only_subs(x, allowed)),
        Filter::Not(x) => only_subs(x, allowed),
        Filter::Compare { path, .. } | Filter::Present { path } => {
            path.urn.is_none()
                && path.sub.is_none()
                && allowed.iter().any(|a| path.attr.eq_ignore_ascii_case(a))
        }
        Filter::ValuePath { .. } => false,
    }
}
