//! The PATCH engine. See the parent module for the semantics.

mod changes;
mod write;

use changes::*;
use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{Change, OpKind, PatchOperation, PatchOptions, PatchOutcome};
use crate::datetime;
use crate::error::ScimError;
use crate::filter::{AttrPath, CompValue, CompareOp, Filter, ParseOptions, eval_element};
use crate::path::{PatchPath, parse_path_with};
use crate::schema::{AttributeDef, AttributeType, Container, Mutability, ResourceContext};
use crate::tolerance::{Tolerance, Tolerances};
use crate::value::{bool_from_str, get_ci, is_present, key_ci, remove_ci};

/// Applies `ops` to `resource` with the default (Entra/Okta-tolerant) options.
pub fn apply(
    resource: &Value,
    ops: &[PatchOperation],
    ctx: &ResourceContext<'_>,
) -> Result<PatchOutcome, ScimError> {
    apply_with(resource, ops, ctx, &PatchOptions::default())
}

/// Applies `ops` to `resource`. Pure: `resource` is not modified; on error nothing is applied.
pub fn apply_with(
    resource: &Value,
    ops: &[PatchOperation],
    ctx: &ResourceContext<'_>,
    options: &PatchOptions,
) -> Result<PatchOutcome, ScimError> {
    let original = resource
        .as_object()
        .ok_or_else(|| ScimError::invalid_value("the resource to patch is not a JSON object"))?;
    let mut engine = Engine {
        ctx,
        opts: *options,
        tol: Tolerances::new(),
        doc: original.clone(),
        touched: Vec::new(),
        creating: false,
    };
    for (i, op) in ops.iter().enumerate() {
        engine.apply_op(op).map_err(|mut e| {
            let path = op
                .path
                .as_deref()
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            e.detail = format!("operation {} ({}{}): {}", i + 1, op.op, path, e.detail);
            e
        })?;
    }
    engine.normalize();
    engine.check_required(original)?;
    let Engine { doc, tol, .. } = engine;
    let (changes, members_added, members_removed) = diff(original, &doc, ctx);
    Ok(PatchOutcome {
        resource: Value::Object(doc),
        changes,
        tolerances: tol,
        members_added,
        members_removed,
    })
}

/// Canonicalises a `members` value (array, single object or bare id) with the PATCH value rules.
pub(crate) fn canon_members(
    def: &AttributeDef,
    value: Value,
    ctx: &ResourceContext<'_>,
    tolerances: &mut Tolerances,
) -> Result<Vec<Value>, ScimError> {
    let mut engine = Engine {
        ctx,
        opts: PatchOptions::default(),
        tol: Tolerances::new(),
        doc: Map::new(),
        touched: Vec::new(),
        creating: false,
    };
    let out = engine.canon_attr(def, value)?;
    tolerances.extend(&engine.tol);
    Ok(match out {
        Some(Value::Array(a)) => a,
        Some(other) => vec![other],
        None => Vec::new(),
    })
}

struct Engine<'a> {
    ctx: &'a ResourceContext<'a>,
    opts: PatchOptions,
    tol: Tolerances,
    doc: Map<String, Value>,
    /// (container URN or "", canonical attribute name) written by some operation.
    touched: Vec<(String, String)>,
    /// Normalising a POST/PUT body: read-only attributes are ignored (RFC 7644 §3.3), not refused.
    creating: bool,
}

/// The result of [`normalize`].
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// The canonical resource: canonical attribute names, coerced values, no nulls or empty values, no
    /// unknown or read-only attributes, a `schemas` list of the core URN plus the extensions present.
    pub resource: Value,
    /// The non-standard tolerances that were needed.
    pub tolerances: Tolerances,
}

/// Normalises a POST or PUT body with the default (tolerant) options. See [`normalize_with`].
pub fn normalize(body: &Value, ctx: &ResourceContext<'_>) -> Result<Normalized, ScimError> {
    normalize_with(body, ctx, &PatchOptions::default())
}

/// Normalises a POST or PUT body into the canonical document a server stores (without `id` and `meta`,
/// which the server assigns): the same value rules as PATCH (case-insensitive names, `"True"` booleans,
/// `manager` as a string, `null` = absent, unknown attributes and URNs ignored), read-only attributes
/// ignored (RFC 7644 §3.3), then required attributes checked (`invalidValue` when missing).
pub fn normalize_with(
    body: &Value,
    ctx: &ResourceContext<'_>,
    options: &PatchOptions,
) -> Result<Normalized, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the resource must be a JSON object"))?;
    let filtered: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| {
            !["schemas", "id", "meta"]
                .iter()
                .any(|x| k.eq_ignore_ascii_case(x))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut engine = Engine {
        ctx,
        opts: *options,
        tol: Tolerances::new(),
        doc: Map::new(),
        touched: Vec::new(),
        creating: true,
    };
    engine.pathless(OpKind::Add, &filtered, None)?;
    engine.normalize();
    let required = std::iter::once((Container::Core, ctx.core)).chain(
        ctx.extensions
            .iter()
            .filter(|(s, _)| get_ci(&engine.doc, &s.id).is_some())
            .map(|(s, _)| (Container::Extension(s.id.as_str()), *s)),
    );
    for (c, schema) in required {
        for a in schema.attributes.iter().filter(|a| a.required) {
            if engine.current(c, a).is_none() {
                return Err(ScimError::invalid_value(format!(
                    "`{}` is required",
                    a.name
                )));
            }
        }
    }
    let Engine { mut doc, tol, .. } = engine;
    let schemas = ctx.schemas_for(&Value::Object(doc.clone()));
    doc.insert(
        "schemas".into(),
        Value::Array(schemas.into_iter().map(Value::String).collect()),
    );
    Ok(Normalized {
        resource: Value::Object(doc),
        tolerances: tol,
    })
}

/// A resolved PATCH target.
struct Target<'a> {
    container: Container<'a>,
    attr: &'a AttributeDef,
    filter: Option<Filter>,
    sub: Option<&'a AttributeDef>,
}

fn strict_error(t: Tolerance) -> ScimError {
    let detail = format!("non-standard input refused in strict mode ({t})");
    match t {
        Tolerance::OpNameCase | Tolerance::RemoveWithValue => ScimError::invalid_syntax(detail),
        Tolerance::PathlessDottedKey | Tolerance::UnknownAttributeIgnored => {
            ScimError::invalid_path(detail)
        }
        Tolerance::UpsertOnFilteredPath | Tolerance::RemoveNoMatch => ScimError::no_target(
            format!("the value filter matched no element ({t} refused in strict mode)"),
        ),
        Tolerance::ReadOnlyIgnored => ScimError::mutability(detail),
        Tolerance::UnquotedFilterValue | Tolerance::SubAttributeAfterValueFilter => {
            ScimError::invalid_filter(detail)
        }
        _ => ScimError::invalid_value(detail),
    }
}

fn container_key(c: Container<'_>) -> String {
    match c {
        Container::Core => String::new(),
        Container::Extension(u) => u.to_owned(),
    }
}

fn text_eq(a: &Value, b: &Value, case_exact: bool) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            if case_exact {
                x == y
            } else if x.is_ascii() && y.is_ascii() {
                x.eq_ignore_ascii_case(y)
            } else {
                x.to_lowercase() == y.to_lowercase()
            }
        }
        _ => a == b,
    }
}

/// Whether two elements of a multi-valued attribute are "the same value" for duplicate detection.
fn same_element(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let case_exact = def.sub_attribute("value").is_some_and(|d| d.case_exact);
            match (get_ci(x, "value"), get_ci(y, "value")) {
                (Some(va), Some(vb)) => {
                    let type_ok = match (get_ci(x, "type"), get_ci(y, "type")) {
                        (Some(ta), Some(tb)) => text_eq(ta, tb, false),
                        _ => true,
                    };
                    text_eq(va, vb, case_exact) && type_ok
                }
                _ => false,
            }
        }
        _ => text_eq(a, b, def.case_exact),
    }
}

/// A key equal for two values exactly when [`text_eq`] holds between them.
fn text_key(v: &Value, case_exact: bool) -> String {
    match v {
        Value::String(s) if case_exact => format!("s{s}"),
        Value::String(s) => format!("s{}", s.to_lowercase()),
        other => format!("j{other}"),
    }
}

/// Multi-valued attributes other than a group's `members` hold at most
/// [`MAX_VALUES`](super::MAX_VALUES) values: past that, `invalidValue` naming the attribute.
fn check_size(def: &AttributeDef, n: usize) -> Result<(), ScimError> {
    if n > super::MAX_VALUES && !def.name.eq_ignore_ascii_case("members") {
        return Err(ScimError::invalid_value(format!(
            "`{}` has {n} values; at most {} are accepted",
            def.name,
            super::MAX_VALUES
        )));
    }
    Ok(())
}

/// Elements of a multi-valued attribute bucketed by the key [`same_element`] compares first (the
/// `value`, folded unless case-exact), so duplicate detection costs one bucket, not the whole list.
#[derive(Default)]
struct ElementIndex {
    buckets: std::collections::HashMap<String, Vec<usize>>,
}

impl ElementIndex {
    /// The bucket key: equal keys are necessary for [`same_element`] (objects without a `value`
    /// all share one bucket: they are the same only when wholly equal).
    fn key(def: &AttributeDef, v: &Value) -> String {
        let text = text_key;
        match v {
            Value::Object(o) => match get_ci(o, "value") {
                Some(val) => text(
                    val,
                    def.sub_attribute("value").is_some_and(|d| d.case_exact),
                ),
                None => "o".to_owned(),
            },
            other => text(other, def.case_exact),
        }
    }

    fn insert(&mut self, def: &AttributeDef, v: &Value, at: usize) {
        self.buckets.entry(Self::key(def, v)).or_default().push(at);
    }

    /// The position in `items` of the first element that is the same value as `v`.
    fn find(&self, def: &AttributeDef, items: &[Value], v: &Value) -> Option<usize> {
        self.buckets
            .get(&Self::key(def, v))?
            .iter()
            .copied()
            .find(|i| items.get(*i).is_some_and(|x| same_element(def, x, v)))
    }
}

/// The `value` an item of a Remove-with-value list designates.
fn item_value(item: &Value) -> Option<&Value> {
    match item {
        Value::Object(o) => get_ci(o, "value"),
        Value::Null => None,
        other => Some(other),
    }
}

fn elements_mut(v: &mut Value) -> Vec<&mut Value> {
    match v {
        Value::Array(a) => a.iter_mut().collect(),
        other => vec![other],
    }
}

impl<'a> Engine<'a> {
    fn tolerate(&mut self, t: Tolerance) -> Result<(), ScimError> {
        if self.opts.strict {
            return Err(strict_error(t));
        }
        self.tol.add(t);
        Ok(())
    }

    fn touch(&mut self, c: Container<'_>, attr: &AttributeDef) {
        let key = (container_key(c), attr.name.clone());
        if !self.touched.contains(&key) {
            self.touched.push(key);
        }
    }

    fn apply_op(&mut self, op: &PatchOperation) -> Result<(), ScimError> {
        for t in op.tolerances.iter() {
            self.tolerate(t)?;
        }
        match (&op.path, op.op) {
            (None, OpKind::Remove) => Err(ScimError::no_target("remove requires a \"path\"")),
            (None, kind) => match &op.value {
                Some(Value::Object(obj)) => self.pathless(kind, obj, None),
                Some(_) => Err(ScimError::invalid_syntax(format!(
                    "{kind} without \"path\" needs an object \"value\" of attributes"
                ))),
                None => Err(ScimError::invalid_syntax(format!(
                    "{kind} needs a \"value\""
                ))),
            },
            (Some(path), kind) => {
                // A path that is an extension URN: its value is an object of that extension's attributes.
                if let Some(ext) = self.ctx.extension(path.trim()) {
                    if kind == OpKind::Remove {
                        return self.remove_extension(ext.id.as_str());
                    }
                    return match &op.value {
                        Some(Value::Object(obj)) => self.pathless(kind, obj, Some(ext.id.as_str())),
                        _ => Err(ScimError::invalid_value(format!(
                            "the value for {path} must be an object"
                        ))),
                    };
                }
                let (parsed, ptol) = parse_path_with(path, &ParseOptions::default())?;
                for t in ptol.iter() {
                    self.tolerate(t)?;
                }
                if kind != OpKind::Remove && op.value.is_none() {
                    return Err(ScimError::invalid_syntax(format!(
                        "{kind} needs a \"value\""
                    )));
                }
                self.path_op(kind, &parsed, op.value.as_ref())
            }
        }
    }

    fn remove_extension(&mut self, urn: &str) -> Result<(), ScimError> {
        if let Some(ext) = self.ctx.extension(urn) {
            let attrs: Vec<&AttributeDef> = ext.attributes.iter().collect();
            for a in attrs {
                self.check_removable(Container::Extension(ext.id.as_str()), a)?;
                self.touch(Container::Extension(ext.id.as_str()), a);
            }
        }
        remove_ci(&mut self.doc, urn);
        Ok(())
    }

    /// Path-less add/replace (also used for an extension-URN path, with `scope` set).
    fn pathless(
        &mut self,
        kind: OpKind,
        obj: &Map<String, Value>,
        scope: Option<&str>,
    ) -> Result<(), ScimError> {
        for (key, value) in obj {
            let key = key.trim();
            if scope.is_none() {
                if key.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                if key.eq_ignore_ascii_case("meta") {
                    if !self.creating {
                        self.tolerate(Tolerance::ReadOnlyIgnored)?;
                    }
                    continue;
                }
                let is_core_urn = self.ctx.core.id.eq_ignore_ascii_case(key)
                    || crate::schema::canonical_schema_alias(key)
                        .eq_ignore_ascii_case(&self.ctx.core.id);
                if is_core_urn {
                    match value {
                        Value::Object(inner) => self.pathless(kind, inner, None)?,
                        _ => {
                            return Err(ScimError::invalid_value(format!(
                                "the value of {key} must be an object"
                            )));
                        }
                    }
                    continue;
                }
                if let Some(ext) = self.ctx.extension(key) {
                    match value {
                        Value::Object(inner) => {
                            self.pathless(kind, inner, Some(ext.id.as_str()))?
                        }
                        Value::Null => {
                            if kind == OpKind::Replace {
                                self.remove_extension(ext.id.as_str())?;
                            }
                        }
                        _ => {
                            return Err(ScimError::invalid_value(format!(
                                "the value of {key} must be an object"
                            )));
                        }
                    }
                    continue;
                }
            }
            let dotted = key.contains('.') || key.contains(':') || key.contains('[');
            let text = match scope {
                Some(u) if !key.contains(':') => format!("{u}:{key}"),
                _ => key.to_owned(),
            };
            let parsed = match parse_path_with(&text, &ParseOptions::default()) {
                Ok((p, ptol)) => {
                    for t in ptol.iter() {
                        self.tolerate(t)?;
                    }
                    p
                }
                Err(_) => {
                    self.tolerate(Tolerance::UnknownAttributeIgnored)?;
                    continue;
                }
            };
            if dotted
                && (parsed.filter.is_some()
                    || parsed.attr.sub.is_some()
                    || scope.is_none() && parsed.attr.urn.is_some())
            {
                self.tolerate(Tolerance::PathlessDottedKey)?;
            }
            self.path_op(kind, &parsed, Some(value))?;
        }
        Ok(())
    }

    fn resolve(&mut self, path: &PatchPath) -> Result<Option<Target<'a>>, ScimError> {
        let ctx = self.ctx;
        let Some((container, attr)) = ctx.resolve_attr(path.attr.urn.as_deref(), &path.attr.attr)
        else {
            if self.opts.strict {
                return Err(ScimError::invalid_path(format!(
                    "unknown attribute `{}`",
                    path.attr
                )));
            }
            self.tol.add(Tolerance::UnknownAttributeIgnored);
            return Ok(None);
        };
        let sub_name = path.sub_attribute();
        let sub = match sub_name {
            None => None,
            Some(s) => match attr.sub_attribute(s) {
                Some(d) => Some(d),
                None => {
                    if !attr.is_complex() {
                        return Err(ScimError::invalid_path(format!(
                            "`{}` has no sub-attributes",
                            attr.name
                        )));
                    }
                    if self.opts.strict {
                        return Err(ScimError::invalid_path(format!(
                            "`{}` has no sub-attribute `{s}`",
                            attr.name
                        )));
                    }
                    self.tol.add(Tolerance::UnknownAttributeIgnored);
                    return Ok(None);
                }
            },
        };
        if path.filter.is_some() && !attr.multi_valued {
            return Err(ScimError::invalid_path(format!(
                "a value filter needs a multi-valued attribute; `{}` is single-valued",
                attr.name
            )));
        }
        Ok(Some(Target {
            container,
            attr,
            filter: path.filter.clone(),
            sub,
        }))
    }

    fn path_op(
        &mut self,
        kind: OpKind,
        path: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let Some(target) = self.resolve(path)? else {
            return Ok(());
        };
        self.touch(target.container, target.attr);
        match kind {
            OpKind::Remove => self.remove(&target, value),
            OpKind::Add | OpKind::Replace => {
                let value = value.cloned().unwrap_or(Value::Null);
                let clears = match &value {
                    Value::Null => true,
                    Value::String(s) if s.is_empty() => {
                        self.tolerate(Tolerance::EmptyValueClears)?;
                        true
                    }
                    _ => false,
                };
                if clears {
                    if kind == OpKind::Replace {
                        return self.remove(&target, None);
                    }
                    return Ok(());
                }
                self.write(kind, &target, value)
            }
        }
    }

    // ----- value canonicalisation -------------------------------------------------------------------

    /// Canonicalises a whole attribute value (array for multi-valued attributes).
    fn canon_attr(&mut self, def: &AttributeDef, v: Value) -> Result<Option<Value>, ScimError> {
        if def.multi_valued {
            let items = match v {
                Value::Null => return Ok(None),
                Value::Array(a) => a,
                other => {
                    self.tolerate(Tolerance::ScalarForMultiValued)?;
                    vec![other]
                }
            };
            check_size(def, items.len())?;
            let mut out: Vec<Value> = Vec::with_capacity(items.len());
            let mut index = ElementIndex::default();
            for item in items {
                if let Some(c) = self.canon_single(def, item)?
                    && index.find(def, &out, &c).is_none()
                {
                    index.insert(def, &c, out.len());
                    out.push(c);
                }
            }
            return Ok(Some(Value::Array(out)));
        }
        match v {
            Value::Array(mut a) => match a.len() {
                0 => Ok(None),
                1 => {
                    self.tolerate(Tolerance::SingleValueAsArray)?;
                    let item = a.remove(0);
                    self.canon_single(def, item)
                }
                n => Err(ScimError::invalid_value(format!(
                    "`{}` is single-valued but {n} values were given",
                    def.name
                ))),
            },
            other => self.canon_single(def, other),
        }
    }

    /// Canonicalises one value (one element of a multi-valued attribute).
    fn canon_single(&mut self, def: &AttributeDef, v: Value) -> Result<Option<Value>, ScimError> {
        let bad = |what: &str, v: &Value| {
            ScimError::invalid_value(format!("`{}` must be {what}, not {}", def.name, short(v)))
        };
        match (def.kind, v) {
            (_, Value::Null) => Ok(None),
            (AttributeType::Complex, Value::Object(o)) => {
                let mut out = Map::new();
                for (k, val) in o {
                    let Some(sd) = def.sub_attribute(&k) else {
                        self.tolerate(Tolerance::UnknownAttributeIgnored)?;
                        continue;
                    };
                    if sd.mutability == Mutability::ReadOnly {
                        self.tolerate(Tolerance::ReadOnlyIgnored)?;
                        continue;
                    }
                    if let Some(c) = self.canon_single(sd, val)? {
                        out.insert(sd.name.clone(), c);
                    }
                }
                Ok(if out.is_empty() {
                    None
                } else {
                    Some(Value::Object(out))
                })
            }
            (AttributeType::Complex, Value::String(s)) if def.sub_attribute("value").is_some() => {
                if s.is_empty() {
                    return Ok(None);
                }
                self.tolerate(Tolerance::ComplexAsString)?;
                let mut out = Map::new();
                out.insert("value".into(), Value::String(s));
                Ok(Some(Value::Object(out)))
            }
            (AttributeType::Complex, other) => Err(bad("an object", &other)),
            (AttributeType::Boolean, Value::Bool(b)) => Ok(Some(Value::Bool(b))),
            (AttributeType::Boolean, Value::String(s)) => match bool_from_str(&s) {
                Some(b) => {
                    self.tolerate(Tolerance::BooleanAsString)?;
                    Ok(Some(Value::Bool(b)))
                }
                None => Err(bad("true or false", &Value::String(s))),
            },
            (AttributeType::Boolean, other) => Err(bad("true or false", &other)),
            (
                AttributeType::String | AttributeType::Reference | AttributeType::Binary,
                Value::String(s),
            ) => Ok(Some(Value::String(s))),
            (
                AttributeType::String | AttributeType::Reference,
                v @ (Value::Number(_) | Value::Bool(_)),
            ) => {
                self.tolerate(Tolerance::ScalarCoercedToString)?;
                Ok(Some(Value::String(v.to_string())))
            }
            (AttributeType::String | AttributeType::Reference | AttributeType::Binary, other) => {
                Err(bad("a string", &other))
            }
            (AttributeType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => {
                Ok(Some(Value::Number(n)))
            }
            (AttributeType::Integer, other) => Err(bad("an integer", &other)),
            (AttributeType::Decimal, Value::Number(n)) => Ok(Some(Value::Number(n))),
            (AttributeType::Decimal, other) => Err(bad("a number", &other)),
            (AttributeType::DateTime, Value::String(s)) => {
                if datetime::parse(&s).is_some() {
                    Ok(Some(Value::String(s)))
                } else {
                    Err(ScimError::invalid_value(format!(
                        "`{}` must be an RFC 3339 date-time, not {s:?}",
                        def.name
                    )))
                }
            }
            (AttributeType::DateTime, other) => Err(bad("an RFC 3339 date-time string", &other)),
        }
    }

    // ----- mutability ------------------------------------------------------------------------------

    fn current(&self, c: Container<'_>, attr: &AttributeDef) -> Option<&Value> {
        let holder = match c {
            Container::Core => Some(&self.doc),
            Container::Extension(u) => get_ci(&self.doc, u).and_then(Value::as_object),
        };
        holder
            .and_then(|h| get_ci(h, &attr.name))
            .filter(|v| is_present(v))
    }

    /// Checks that `attr` may take `new` (the canonical whole value). `Ok(false)` means "ignore the write".
    fn check_writable(&mut self, t: &Target<'_>, new: Option<&Value>) -> Result<bool, ScimError> {
        let attr = t.attr;
        if self.creating && attr.mutability == Mutability::ReadOnly {
            return Ok(false);
        }
        match attr.mutability {
            Mutability::ReadOnly => {
                let cur = self.current(t.container, attr);
                if t.sub.is_none() && t.filter.is_none() && cur.is_some() && cur == new {
                    self.tolerate(Tolerance::ReadOnlyIgnored)?;
                    return Ok(false);
                }
                Err(ScimError::mutability(format!(
                    "`{}` is readOnly and cannot be modified",
                    attr.name
                )))
            }
            Mutability::Immutable => {
                let cur = self.current(t.container, attr);
                if cur.is_none() || cur == new {
                    Ok(true)
                } else {
                    Err(ScimError::mutability(format!(
                        "`{}` is immutable and already has a value",
                        attr.name
                    )))
                }
            }
            Mutability::ReadWrite | Mutability::WriteOnly => {
                if let Some(sub) = t.sub
                    && sub.mutability == Mutability::ReadOnly
                {
                    return Err(ScimError::mutability(format!(
                        "`{}.{}` is readOnly and cannot be modified",
                        attr.name, sub.name
                    )));
                }
                Ok(true)
            }
        }
    }

    fn check_removable(&self, c: Container<'_>, attr: &AttributeDef) -> Result<(), ScimError> {
        if self.current(c, attr).is_none() {
            return Ok(());
        }
        if attr.required {
            return Err(ScimError::mutability(format!(
                "`{}` is required and cannot be removed",
                attr.name
            )));
        }
        match attr.mutability {
            Mutability::ReadOnly | Mutability::Immutable => Err(ScimError::mutability(format!(
                "`{}` is {} and cannot be removed",
                attr.name,
                if attr.mutability == Mutability::ReadOnly {
                    "readOnly"
                } else {
                    "immutable"
                }
            ))),
            _ => Ok(()),
        }
    }

    // ----- holder access ---------------------------------------------------------------------------

    /// Runs `f` on the object holding the target's attribute (creating an extension object if needed).
    fn with_holder<R>(
        &mut self,
        c: Container<'_>,
        f: impl FnOnce(&mut Map<String, Value>) -> R,
    ) -> R {
        match c {
            Container::Core => f(&mut self.doc),
            Container::Extension(u) => {
                let mut m = match remove_ci(&mut self.doc, u) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                let r = f(&mut m);
                self.doc.insert(u.to_owned(), Value::Object(m));
                r
            }
        }
    }

    // ----- finishing -------------------------------------------------------------------------------

    /// Drops empty values of touched attributes and empty extension objects; keeps `schemas` in step
    /// with the extensions present.
    fn normalize(&mut self) {
        let touched = std::mem::take(&mut self.touched);
        for (container, name) in &touched {
            if container.is_empty() {
                if let Some(k) = key_ci(&self.doc, name)
                    && self.doc.get(&k).is_some_and(|v| !is_present(v))
                {
                    self.doc.remove(&k);
                }
            } else if let Some(Value::Object(ext)) = self.doc.get_mut(container.as_str())
                && let Some(k) = key_ci(ext, name)
                && ext.get(&k).is_some_and(|v| !is_present(v))
            {
                ext.remove(&k);
            }
        }
        let ctx = self.ctx;
        for (ext, _) in &ctx.extensions {
            let present = get_ci(&self.doc, &ext.id).is_some_and(is_present);
            if !present && touched.iter().any(|(c, _)| c.eq_ignore_ascii_case(&ext.id)) {
                remove_ci(&mut self.doc, &ext.id);
            }
            if let Some(Value::Array(schemas)) = self.doc.get_mut("schemas") {
                let listed = schemas
                    .iter()
                    .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&ext.id)));
                if present && !listed {
                    schemas.push(Value::String(ext.id.clone()));
                } else if !present
                    && listed
                    && touched.iter().any(|(c, _)| c.eq_ignore_ascii_case(&ext.id))
                {
                    schemas
                        .retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&ext.id)));
                }
            }
        }
    }

    fn check_required(&self, original: &Map<String, Value>) -> Result<(), ScimError> {
        let ctx = self.ctx;
        let containers = std::iter::once((Container::Core, ctx.core)).chain(
            ctx.extensions
                .iter()
                .map(|(s, _)| (Container::Extension(s.id.as_str()), *s)),
        );
        for (c, schema) in containers {
            for a in schema.attributes.iter().filter(|a| a.required) {
                let before = match c {
                    Container::Core => get_ci(original, &a.name),
                    Container::Extension(u) => get_ci(original, u)
                        .and_then(Value::as_object)
                        .and_then(|o| get_ci(o, &a.name)),
                };
                if before.is_some_and(is_present) && self.current(c, a).is_none() {
                    return Err(ScimError::mutability(format!(
                        "`{}` is required and cannot be removed",
                        a.name
                    )));
                }
            }
        }
        Ok(())
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

fn as_array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => vec![other],
    }
}

fn set_or_remove(o: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    remove_ci(o, key);
    if let Some(v) = v {
        o.insert(key.to_owned(), v);
    }
}

/// Merges an object's members into `slot` (which becomes `new` if it is not an object).
fn merge_into(slot: &mut Value, new: Value) {
    match (slot, new) {
        (Value::Object(existing), Value::Object(n)) => {
            for (k, v) in n {
                remove_ci(existing, &k);
                existing.insert(k, v);
            }
        }
        (slot, new) => *slot = new,
    }
}

/// RFC 7644 §3.5.2: a written `primary: true` turns every other element's `primary` to false.
fn fix_primary(items: &mut [Value], written: &[usize]) {
    let winner = written.iter().rev().copied().find(|i| {
        items
            .get(*i)
            .and_then(Value::as_object)
            .and_then(|o| get_ci(o, "primary"))
            == Some(&Value::Bool(true))
    });
    let Some(winner) = winner else { return };
    for (i, e) in items.iter_mut().enumerate() {
        if i == winner {
            continue;
        }
        if let Value::Object(o) = e
            && let Some(k) = key_ci(o, "primary")
            && o.get(&k) == Some(&Value::Bool(true))
        {
            o.insert(k, Value::Bool(false));
        }
    }
}

/// For a filter made only of `sub eq value` terms joined by `and`, the element those terms describe.
fn upsert_seed(filter: &Filter, attr: &AttributeDef) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    fn walk(f: &Filter, attr: &AttributeDef, out: &mut Map<String, Value>) -> bool {
        match f {
            Filter::And(items) => items.iter().all(|x| walk(x, attr, out)),
            Filter::Compare {
                path:
                    AttrPath {
                        urn: None,
                        attr: name,
                        sub: None,
                    },
                op: CompareOp::Eq,
                value,
            } => {
                let Some(sd) = attr.sub_attribute(name) else {
                    return false;
                };
                let v = match (sd.kind, value) {
                    (AttributeType::Boolean, CompValue::Bool(b)) => Value::Bool(*b),
                    (AttributeType::Boolean, CompValue::String(s)) => match bool_from_str(s) {
                        Some(b) => Value::Bool(b),
                        None => return false,
                    },
                    (_, CompValue::String(s)) => Value::String(s.clone()),
                    (AttributeType::Integer | AttributeType::Decimal, CompValue::Number(n)) => {
                        Value::Number(n.clone())
                    }
                    _ => return false,
                };
                out.insert(sd.name.clone(), v);
                true
            }
            _ => false,
        }
    }
    if walk(filter, attr, &mut out) && !out.is_empty() {
        Some(out)
    } else {
        None
    }
}
