//! The in-memory evaluator: the reference semantics the SQL compiler is tested against.
//!
//! Semantics (RFC 7644 §3.4.2.2, with the open points decided as follows):
//! * Attribute names are matched case-insensitively, in the schema and in the document.
//! * Strings compare case-insensitively unless the attribute is `caseExact` (`id`, `externalId`, …).
//!   Case folding is Unicode lower-casing.
//! * `dateTime` attributes compare chronologically (offsets honoured); a value that is not a valid
//!   dateTime never matches an ordering or equality operator.
//! * `boolean` attributes support only `eq` and `ne` (`"True"` / `"False"` strings are read as booleans);
//!   numbers compare numerically. Unknown attributes compare by their JSON type.
//! * Multi-valued attributes match if **any** element matches. A complex attribute without a
//!   sub-attribute compares its `value` sub-attribute (`emails co "example.com"`).
//! * `ne` is the negation of `eq`: it matches when the attribute is absent, and for multi-valued
//!   attributes when **no** element is equal.
//! * `eq null` matches exactly when `pr` does not (the attribute is absent or empty); `ne null` exactly
//!   when `pr` does; every other operator with `null` is false.
//! * `pr` matches a value that is not null and not empty (`""`, `[]`, `{}`).
//! * `co`/`sw`/`ew` apply to strings only; gt/ge/lt/le on strings compare lexicographically (after case
//!   folding when not caseExact).
//! * `attr[filter]` matches if some element of `attr` matches `filter` evaluated against that element.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::{AttrPath, CompValue, CompareOp, Filter};
use crate::datetime;
use crate::schema::{AttributeDef, AttributeType, Container, ResourceContext};
use crate::value::{bool_from_str, get_ci, is_present};

/// Evaluates `filter` against a resource document of the context's resource type.
pub fn eval(filter: &Filter, resource: &Value, ctx: &ResourceContext<'_>) -> bool {
    eval_in(filter, &Scope::Resource { doc: resource, ctx })
}

/// Evaluates a value filter (the inside of `attr[...]`) against one element of `attr`.
/// `attr` gives the sub-attribute definitions; pass `None` to compare by JSON type.
pub fn eval_element(filter: &Filter, element: &Value, attr: Option<&AttributeDef>) -> bool {
    eval_in(
        filter,
        &Scope::Element {
            elem: element,
            def: attr,
        },
    )
}

enum Scope<'a> {
    Resource {
        doc: &'a Value,
        ctx: &'a ResourceContext<'a>,
    },
    Element {
        elem: &'a Value,
        def: Option<&'a AttributeDef>,
    },
}

fn eval_in(filter: &Filter, scope: &Scope<'_>) -> bool {
    match filter {
        Filter::And(items) => items.iter().all(|f| eval_in(f, scope)),
        Filter::Or(items) => items.iter().any(|f| eval_in(f, scope)),
        Filter::Not(inner) => !eval_in(inner, scope),
        Filter::Present { path } => {
            let (values, _) = lookup(path, scope, false);
            values.iter().any(|v| is_present(v))
        }
        Filter::Compare { path, op, value } => {
            // `eq null` / `ne null` test presence of the attribute itself, exactly like `pr`.
            let implicit_value = !matches!(value, CompValue::Null);
            let (values, def) = lookup(path, scope, implicit_value);
            compare_values(&values, *op, value, def)
        }
        Filter::ValuePath { path, filter } => match scope {
            Scope::Resource { doc, ctx } => {
                if path.sub.is_some() {
                    return false;
                }
                let (raw, def) = lookup_attr(path, doc, ctx);
                let Some(raw) = raw else { return false };
                elements(raw).any(|e| eval_in(filter, &Scope::Element { elem: e, def }))
            }
            Scope::Element { .. } => false,
        },
    }
}

fn elements(v: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match v {
        Value::Array(a) => Box::new(a.iter()),
        other => Box::new(std::iter::once(other)),
    }
}

/// The top-level value of `path.attr` in `doc` and its definition.
fn lookup_attr<'a>(
    path: &AttrPath,
    doc: &'a Value,
    ctx: &'a ResourceContext<'a>,
) -> (Option<&'a Value>, Option<&'a AttributeDef>) {
    let Some(obj) = doc.as_object() else {
        return (None, None);
    };
    match ctx.resolve_attr(path.urn.as_deref(), &path.attr) {
        Some((container, def)) => {
            let holder: Option<&Map<String, Value>> = match container {
                Container::Core => Some(obj),
                Container::Extension(u) => get_ci(obj, u).and_then(Value::as_object),
            };
            (holder.and_then(|h| get_ci(h, &def.name)), Some(def))
        }
        None => {
            let holder = match &path.urn {
                Some(u) if !ctx.core.id.eq_ignore_ascii_case(u) => {
                    get_ci(obj, u).and_then(Value::as_object)
                }
                _ => Some(obj),
            };
            (holder.and_then(|h| get_ci(h, &path.attr)), None)
        }
    }
}

/// The leaf values a path designates (arrays flattened) and the leaf definition.
fn lookup<'a>(
    path: &AttrPath,
    scope: &Scope<'a>,
    implicit_value: bool,
) -> (Vec<&'a Value>, Option<&'a AttributeDef>) {
    match scope {
        Scope::Resource { doc, ctx } => {
            let (raw, def) = lookup_attr(path, doc, ctx);
            let Some(raw) = raw else {
                return (Vec::new(), leaf_def(def, path.sub.as_deref()));
            };
            descend(raw, def, path.sub.as_deref(), implicit_value)
        }
        Scope::Element { elem, def } => {
            if path.sub.is_some() {
                return (Vec::new(), None);
            }
            match elem {
                Value::Object(o) => {
                    let sub_def = def.and_then(|d| d.sub_attribute(&path.attr));
                    match get_ci(o, &path.attr) {
                        Some(v) => descend(v, sub_def, None, implicit_value),
                        None => (Vec::new(), sub_def),
                    }
                }
                // A multi-valued simple attribute: its elements are addressed as `value`.
                other if path.attr.eq_ignore_ascii_case("value") => (vec![other], *def),
                _ => (Vec::new(), None),
            }
        }
    }
}

fn leaf_def<'a>(def: Option<&'a AttributeDef>, sub: Option<&str>) -> Option<&'a AttributeDef> {
    match (def, sub) {
        (Some(d), Some(s)) => d.sub_attribute(s),
        (Some(d), None) if d.is_complex() => d.sub_attribute("value"),
        (d, None) => d,
        (None, Some(_)) => None,
    }
}

fn descend<'a>(
    raw: &'a Value,
    def: Option<&'a AttributeDef>,
    sub: Option<&str>,
    implicit_value: bool,
) -> (Vec<&'a Value>, Option<&'a AttributeDef>) {
    let is_complex = def
        .map(AttributeDef::is_complex)
        .unwrap_or_else(|| first_elem(raw).is_some_and(Value::is_object));
    let sub_name = match sub {
        Some(s) => Some(s),
        None if is_complex && implicit_value => Some("value"),
        None => None,
    };
    let leaf = if implicit_value {
        leaf_def(def, sub)
    } else {
        sub.and_then(|s| def.and_then(|d| d.sub_attribute(s)))
            .or(def)
    };
    let mut out = Vec::new();
    for e in elements(raw) {
        match sub_name {
            Some(s) => {
                if let Some(v) = e.as_object().and_then(|o| get_ci(o, s)) {
                    out.extend(elements(v));
                }
            }
            None => out.push(e),
        }
    }
    (out, leaf)
}

fn first_elem(v: &Value) -> Option<&Value> {
    match v {
        Value::Array(a) => a.first(),
        other => Some(other),
    }
}

fn compare_values(
    values: &[&Value],
    op: CompareOp,
    expected: &CompValue,
    def: Option<&AttributeDef>,
) -> bool {
    let present: Vec<&Value> = values.iter().copied().filter(|v| !v.is_null()).collect();
    if let CompValue::Null = expected {
        return match op {
            CompareOp::Eq => !present.iter().any(|v| is_present(v)),
            CompareOp::Ne => present.iter().any(|v| is_present(v)),
            _ => false,
        };
    }
    match op {
        CompareOp::Ne => !present
            .iter()
            .any(|v| compare_one(v, CompareOp::Eq, expected, def)),
        _ => present.iter().any(|v| compare_one(v, op, expected, def)),
    }
}

fn kind_of(actual: &Value, def: Option<&AttributeDef>) -> AttributeType {
    if let Some(d) = def {
        return d.kind;
    }
    match actual {
        Value::Bool(_) => AttributeType::Boolean,
        Value::Number(_) => AttributeType::Decimal,
        _ => AttributeType::String,
    }
}

fn ordering_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn expected_text(expected: &CompValue) -> Option<String> {
    match expected {
        CompValue::String(s) => Some(s.clone()),
        CompValue::Number(n) => Some(n.to_string()),
        CompValue::Bool(b) => Some(b.to_string()),
        CompValue::Null => None,
    }
}

fn compare_one(
    actual: &Value,
    op: CompareOp,
    expected: &CompValue,
    def: Option<&AttributeDef>,
) -> bool {
    match kind_of(actual, def) {
        AttributeType::Boolean => {
            let a = match actual {
                Value::Bool(b) => *b,
                Value::String(s) => match bool_from_str(s) {
                    Some(b) => b,
                    None => return false,
                },
                _ => return false,
            };
            let e = match expected {
                CompValue::Bool(b) => *b,
                CompValue::String(s) => match bool_from_str(s) {
                    Some(b) => b,
                    None => return false,
                },
                _ => return false,
            };
            match op {
                CompareOp::Eq => a == e,
                CompareOp::Ne => a != e,
                _ => false,
            }
        }
        AttributeType::Integer | AttributeType::Decimal => {
            let a = match actual {
                Value::Number(n) => n,
                _ => return false,
            };
            let e = match expected {
                CompValue::Number(n) => n.clone(),
                CompValue::String(s) => {
                    match serde_json::from_str::<serde_json::Number>(s.trim()) {
                        Ok(n) => n,
                        Err(_) => return false,
                    }
                }
                _ => return false,
            };
            let ord = match (a.as_i64(), e.as_i64()) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => match (a.as_f64(), e.as_f64()) {
                    (Some(x), Some(y)) => match x.partial_cmp(&y) {
                        Some(o) => o,
                        None => return false,
                    },
                    _ => return false,
                },
            };
            ordering_matches(op, ord)
        }
        AttributeType::DateTime => {
            let (Some(a), Some(e)) = (actual.as_str(), expected_text(expected)) else {
                return false;
            };
            if op.is_substring() {
                return string_op(a, op, &e, true);
            }
            match (datetime::parse(a), datetime::parse(&e)) {
                (Some(x), Some(y)) => ordering_matches(op, x.cmp(&y)),
                _ => false,
            }
        }
        AttributeType::Complex => false,
        AttributeType::String | AttributeType::Reference | AttributeType::Binary => {
            let (Some(a), Some(e)) = (actual.as_str(), expected_text(expected)) else {
                return false;
            };
            let case_exact = def.is_some_and(|d| d.case_exact);
            string_op(a, op, &e, case_exact)
        }
    }
}

fn string_op(a: &str, op: CompareOp, e: &str, case_exact: bool) -> bool {
    let folded;
    let (a, e) = if case_exact
        || (op == CompareOp::Eq || op == CompareOp::Ne)
            && a.len() != e.len()
            && a.is_ascii()
            && e.is_ascii()
    {
        (a, e)
    } else if a.is_ascii() && e.is_ascii() && matches!(op, CompareOp::Eq | CompareOp::Ne) {
        return ordering_matches(
            op,
            if a.eq_ignore_ascii_case(e) {
                std::cmp::Ordering::Equal
            } else {
                std::cmp::Ordering::Less
            },
        );
    } else {
        folded = (a.to_lowercase(), e.to_lowercase());
        (folded.0.as_str(), folded.1.as_str())
    };
    match op {
        CompareOp::Co => a.contains(e),
        CompareOp::Sw => a.starts_with(e),
        CompareOp::Ew => a.ends_with(e),
        other => ordering_matches(other, a.cmp(e)),
    }
}
