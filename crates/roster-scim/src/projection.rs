//! Attribute projection: `attributes` / `excludedAttributes` (RFC 7644 §3.9) and the `returned`
//! characteristic (RFC 7643 §2.2).
//!
//! * `returned: never` attributes (`password`) are never output; `always` ones (`id`) always are;
//!   `schemas`, `id` and `meta` are always present.
//! * With `attributes`, only the named attributes (plus the `always` ones) are returned; naming
//!   `name.givenName` returns `name` with only `givenName`; naming an extension URN returns all of the
//!   extension's default attributes; `urn:…:User:department` names one.
//! * Without `attributes`, `default` and `always` attributes are returned, minus `excludedAttributes`
//!   (which cannot remove `always` attributes). `request` attributes appear only when named.
//! * If both lists are given, `attributes` wins (RFC 7644 §3.9 lets the server choose).
//! * Tolerant, as Entra needs: unknown names are ignored, attribute names match in any case, and a value
//!   filter in a name (`emails[type eq "work"]`) is ignored (the name counts as `emails`). Projection never
//!   fails.

use serde_json::{Map, Value};

use crate::filter::AttrPath;
use crate::schema::{AttributeDef, Container, Resolved, ResourceContext, Returned};
use crate::value::get_ci;

/// A parsed `attributes` / `excludedAttributes` pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    attributes: Vec<String>,
    excluded: Vec<String>,
}

/// Splits a comma-separated list, ignoring commas inside brackets or quotes, and drops value filters.
fn split_list(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for c in s.chars() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            if depth == 0 {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ if depth == 0 => cur.push(c),
            _ => {}
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|x| x.trim().to_owned())
        .filter(|x| !x.is_empty())
        .collect()
}

/// One selector resolved against a resource type.
enum Sel<'a> {
    /// A whole schema (core or extension URN).
    Schema(Container<'a>),
    /// An attribute or sub-attribute.
    Attr(Resolved<'a>),
}

impl Projection {
    /// Everything returned by default.
    pub fn all() -> Projection {
        Projection::default()
    }

    /// From the query parameters (comma-separated, as sent).
    pub fn new(attributes: Option<&str>, excluded_attributes: Option<&str>) -> Projection {
        Projection {
            attributes: attributes.map(split_list).unwrap_or_default(),
            excluded: excluded_attributes.map(split_list).unwrap_or_default(),
        }
    }

    /// From lists (a `SearchRequest`); each entry may itself be comma-separated.
    pub fn from_lists(attributes: &[String], excluded_attributes: &[String]) -> Projection {
        Projection {
            attributes: attributes.iter().flat_map(|s| split_list(s)).collect(),
            excluded: excluded_attributes
                .iter()
                .flat_map(|s| split_list(s))
                .collect(),
        }
    }

    /// The `attributes` names (filters dropped).
    pub fn attributes(&self) -> &[String] {
        &self.attributes
    }

    /// The `excludedAttributes` names (filters dropped).
    pub fn excluded_attributes(&self) -> &[String] {
        &self.excluded
    }

    fn resolve<'a>(ctx: &ResourceContext<'a>, names: &[String]) -> Vec<Sel<'a>> {
        names
            .iter()
            .filter_map(|n| {
                if ctx.core.id.eq_ignore_ascii_case(n) {
                    return Some(Sel::Schema(Container::Core));
                }
                if let Some(ext) = ctx.extension(n) {
                    return Some(Sel::Schema(Container::Extension(ext.id.as_str())));
                }
                let p = AttrPath::parse(n).ok()?;
                ctx.resolve(&p).map(Sel::Attr)
            })
            .collect()
    }

    /// Whether the top-level attribute `name` (e.g. `members`) appears in the output, so a server can skip
    /// loading it (large groups).
    pub fn includes(&self, ctx: &ResourceContext<'_>, name: &str) -> bool {
        let Some(r) = ctx.resolve_str(name) else {
            return self.attributes.is_empty();
        };
        let plan = Plan::new(self, ctx);
        plan.attr_mode(r.container, r.attr).is_some()
    }

    /// Projects a resource document.
    pub fn apply(&self, resource: &Value, ctx: &ResourceContext<'_>) -> Value {
        let Some(obj) = resource.as_object() else {
            return resource.clone();
        };
        let plan = Plan::new(self, ctx);
        let mut out = Map::new();
        for (k, v) in obj {
            if k.eq_ignore_ascii_case("schemas")
                || k.eq_ignore_ascii_case("id")
                || k.eq_ignore_ascii_case("meta")
            {
                out.insert(k.clone(), v.clone());
                continue;
            }
            if let Some(ext) = ctx.extension(k) {
                let container = Container::Extension(ext.id.as_str());
                let Some(inner) = v.as_object() else { continue };
                let mut eo = Map::new();
                for (ik, iv) in inner {
                    match ext.attribute(ik) {
                        Some(def) => {
                            if let Some(pv) = plan.project_attr(container, def, iv) {
                                eo.insert(ik.clone(), pv);
                            }
                        }
                        None => {
                            if plan.unknown_included() {
                                eo.insert(ik.clone(), iv.clone());
                            }
                        }
                    }
                }
                if !eo.is_empty() {
                    out.insert(k.clone(), Value::Object(eo));
                }
                continue;
            }
            match ctx.resolve_attr(None, k) {
                Some((container @ Container::Core, def)) => {
                    if let Some(pv) = plan.project_attr(container, def, v) {
                        out.insert(k.clone(), pv);
                    }
                }
                _ => {
                    if plan.unknown_included() {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        Value::Object(out)
    }
}

struct Plan<'a> {
    include: Option<Vec<Sel<'a>>>,
    exclude: Vec<Sel<'a>>,
}

/// How an attribute is output.
enum Mode<'s> {
    /// All sub-attributes returned by default.
    Whole,
    /// Only these sub-attributes (plus `always` ones).
    Only(Vec<&'s str>),
    /// Default sub-attributes minus these.
    Without(Vec<&'s str>),
}

fn same_container(a: Container<'_>, b: Container<'_>) -> bool {
    match (a, b) {
        (Container::Core, Container::Core) => true,
        (Container::Extension(x), Container::Extension(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    }
}

impl<'a> Plan<'a> {
    fn new(p: &Projection, ctx: &ResourceContext<'a>) -> Plan<'a> {
        let include = if p.attributes.is_empty() {
            None
        } else {
            Some(Projection::resolve(ctx, &p.attributes))
        };
        let exclude = if include.is_some() {
            Vec::new()
        } else {
            Projection::resolve(ctx, &p.excluded)
        };
        Plan { include, exclude }
    }

    fn unknown_included(&self) -> bool {
        self.include.is_none()
    }

    fn attr_mode(&self, container: Container<'_>, def: &AttributeDef) -> Option<Mode<'_>> {
        if def.returned == Returned::Never {
            return None;
        }
        if def.returned == Returned::Always {
            return Some(Mode::Whole);
        }
        match &self.include {
            Some(sels) => {
                let mut subs = Vec::new();
                let mut whole = false;
                for s in sels {
                    match s {
                        Sel::Schema(c) if same_container(*c, container) => whole = true,
                        Sel::Attr(r)
                            if same_container(r.container, container)
                                && r.attr.name == def.name =>
                        {
                            match r.sub {
                                None => whole = true,
                                Some(sd) => subs.push(sd.name.as_str()),
                            }
                        }
                        _ => {}
                    }
                }
                if whole {
                    if def.returned == Returned::Request
                        && !sels
                            .iter()
                            .any(|s| matches!(s, Sel::Attr(r) if r.attr.name == def.name))
                    {
                        return None;
                    }
                    Some(Mode::Whole)
                } else if !subs.is_empty() {
                    Some(Mode::Only(subs))
                } else {
                    None
                }
            }
            None => {
                if def.returned == Returned::Request {
                    return None;
                }
                let mut subs = Vec::new();
                for s in &self.exclude {
                    match s {
                        Sel::Schema(c) if same_container(*c, container) => return None,
                        Sel::Attr(r)
                            if same_container(r.container, container)
                                && r.attr.name == def.name =>
                        {
                            match r.sub {
                                None => return None,
                                Some(sd) => subs.push(sd.name.as_str()),
                            }
                        }
                        _ => {}
                    }
                }
                if subs.is_empty() {
                    Some(Mode::Whole)
                } else {
                    Some(Mode::Without(subs))
                }
            }
        }
    }

    fn project_attr(
        &self,
        container: Container<'_>,
        def: &AttributeDef,
        v: &Value,
    ) -> Option<Value> {
        let mode = self.attr_mode(container, def)?;
        if !def.is_complex() {
            return Some(v.clone());
        }
        let project_obj = |o: &Map<String, Value>| -> Option<Value> {
            let mut out = Map::new();
            for (k, sv) in o {
                let sd = def.sub_attribute(k);
                let returned = sd.map_or(Returned::Default, |d| d.returned);
                let canonical = sd.map_or(k.as_str(), |d| d.name.as_str());
                let keep = match returned {
                    Returned::Never => false,
                    Returned::Always => true,
                    Returned::Default | Returned::Request => match &mode {
                        Mode::Whole => returned == Returned::Default,
                        Mode::Only(names) => {
                            names.iter().any(|n| n.eq_ignore_ascii_case(canonical))
                        }
                        Mode::Without(names) => {
                            returned == Returned::Default
                                && !names.iter().any(|n| n.eq_ignore_ascii_case(canonical))
                        }
                    },
                };
                if keep {
                    out.insert(k.clone(), sv.clone());
                }
            }
            // An object with nothing left to show is left out.
            (!out.is_empty()).then_some(Value::Object(out))
        };
        match v {
            Value::Object(o) => project_obj(o),
            Value::Array(items) => {
                let projected: Vec<Value> = items
                    .iter()
                    .filter_map(|e| match e {
                        Value::Object(o) => project_obj(o),
                        other => Some(other.clone()),
                    })
                    .collect();
                Some(Value::Array(projected))
            }
            other => Some(other.clone()),
        }
    }
}

/// Looks up an attribute value in a projected document (convenience for tests and callers).
pub fn get<'v>(doc: &'v Value, name: &str) -> Option<&'v Value> {
    doc.as_object().and_then(|o| get_ci(o, name))
}
