//! Resolving a filter against a resource type: the step between parsing and compiling (to SQL or to the
//! evaluator). It checks every attribute and operator and returns the filter in canonical form.

use super::{AttrPath, CompValue, CompareOp, Filter};
use crate::error::ScimError;
use crate::schema::{AttributeDef, AttributeType, Container, ResourceContext};

/// Checks `filter` against the resource type and returns it in canonical form:
///
/// * attribute names in their canonical spelling; core attributes without URN, extension attributes
///   with their schema URN (`department` → `urn:…:enterprise:2.0:User:department`);
/// * a comparison on a complex attribute names its `value` sub-attribute explicitly
///   (`emails co "x"` → `emails.value co "x"`);
/// * paths inside `attr[…]` are canonical sub-attribute names.
///
/// Errors (`400 invalidFilter`): an unknown attribute or sub-attribute ("Filtering by this attribute is not
/// supported: …"); `gt`/`ge`/`lt`/`le` on a boolean or binary attribute, `co`/`sw`/`ew` on a boolean,
/// number or binary attribute, a comparison with a complex attribute that has no `value`, a value filter on
/// an attribute that is not complex ("This filter operator is not supported: …", RFC 7644 §3.4.2.2).
pub fn resolve(filter: &Filter, ctx: &ResourceContext<'_>) -> Result<Filter, ScimError> {
    match filter {
        Filter::And(items) => Ok(Filter::And(
            items
                .iter()
                .map(|f| resolve(f, ctx))
                .collect::<Result<_, _>>()?,
        )),
        Filter::Or(items) => Ok(Filter::Or(
            items
                .iter()
                .map(|f| resolve(f, ctx))
                .collect::<Result<_, _>>()?,
        )),
        Filter::Not(inner) => Ok(Filter::Not(Box::new(resolve(inner, ctx)?))),
        Filter::Present { path } => {
            let (path, _) = resolve_path(path, ctx, false)?;
            Ok(Filter::Present { path })
        }
        Filter::Compare { path, op, value } => {
            let (path, leaf) = resolve_path(path, ctx, !matches!(value, CompValue::Null))?;
            check_op(&path, leaf, *op, value)?;
            Ok(Filter::Compare {
                path,
                op: *op,
                value: value.clone(),
            })
        }
        Filter::ValuePath { path, filter } => {
            let (canonical, def) = resolve_path(path, ctx, false)?;
            if !def.is_complex() || canonical.sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "This filter operator is not supported: `{path}[…]` needs a complex attribute"
                )));
            }
            let inner = resolve_inner(filter, def)?;
            Ok(Filter::ValuePath {
                path: canonical,
                filter: Box::new(inner),
            })
        }
    }
}

fn unsupported_attr(path: &AttrPath) -> ScimError {
    ScimError::invalid_filter(format!(
        "Filtering by this attribute is not supported: `{path}` is not an attribute of this resource type"
    ))
}

/// Canonical path and the definition it ends at (for a complex attribute compared directly: its `value`).
fn resolve_path<'a>(
    path: &AttrPath,
    ctx: &ResourceContext<'a>,
    implicit_value: bool,
) -> Result<(AttrPath, &'a AttributeDef), ScimError> {
    let r = ctx.resolve(path).ok_or_else(|| unsupported_attr(path))?;
    let urn = match r.container {
        Container::Core => None,
        Container::Extension(u) => Some(u.to_owned()),
    };
    let (sub, leaf) = match r.sub {
        Some(s) => (Some(s.name.clone()), s),
        None if implicit_value && r.attr.is_complex() => match r.attr.sub_attribute("value") {
            Some(v) => (Some(v.name.clone()), v),
            None => {
                return Err(ScimError::invalid_filter(format!(
                    "This filter operator is not supported: `{path}` is complex; compare one of its sub-attributes"
                )));
            }
        },
        None => (None, r.attr),
    };
    Ok((
        AttrPath {
            urn,
            attr: r.attr.name.clone(),
            sub,
        },
        leaf,
    ))
}

fn resolve_inner(filter: &Filter, parent: &AttributeDef) -> Result<Filter, ScimError> {
    let sub = |path: &AttrPath| -> Result<&AttributeDef, ScimError> {
        if path.urn.is_some() || path.sub.is_some() {
            return Err(unsupported_attr(path));
        }
        parent
            .sub_attribute(&path.attr)
            .ok_or_else(|| unsupported_attr(path))
    };
    match filter {
        Filter::And(items) => Ok(Filter::And(
            items
                .iter()
                .map(|f| resolve_inner(f, parent))
                .collect::<Result<_, _>>()?,
        )),
        Filter::Or(items) => Ok(Filter::Or(
            items
                .iter()
                .map(|f| resolve_inner(f, parent))
                .collect::<Result<_, _>>()?,
        )),
        Filter::Not(inner) => Ok(Filter::Not(Box::new(resolve_inner(inner, parent)?))),
        Filter::Present { path } => Ok(Filter::Present {
            path: AttrPath::new(sub(path)?.name.clone()),
        }),
        Filter::Compare { path, op, value } => {
            let d = sub(path)?;
            let canonical = AttrPath::new(d.name.clone());
            check_op(&canonical, d, *op, value)?;
            Ok(Filter::Compare {
                path: canonical,
                op: *op,
                value: value.clone(),
            })
        }
        Filter::ValuePath { path, .. } => Err(ScimError::invalid_filter(format!(
            "This filter operator is not supported: value filters cannot be nested (`{path}[…]`)"
        ))),
    }
}

fn check_op(
    path: &AttrPath,
    def: &AttributeDef,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), ScimError> {
    let refuse = |why: &str| {
        Err(ScimError::invalid_filter(format!(
            "This filter operator is not supported: `{path} {op}` {why}"
        )))
    };
    if matches!(value, CompValue::Null) {
        return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            Ok(())
        } else {
            refuse("cannot compare with null")
        };
    }
    match def.kind {
        AttributeType::Boolean if !matches!(op, CompareOp::Eq | CompareOp::Ne) => {
            refuse("on a boolean attribute")
        }
        AttributeType::Binary if op.is_ordering() || op.is_substring() => {
            refuse("on a binary attribute")
        }
        AttributeType::Integer | AttributeType::Decimal if op.is_substring() => {
            refuse("on a numeric attribute")
        }
        AttributeType::Complex => refuse("on a complex attribute"),
        _ => Ok(()),
    }
}
