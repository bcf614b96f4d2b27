//! What a PATCH changed, attribute by attribute, for the provisioning log.

use super::*;

pub(super) fn member_ids(v: Option<&Value>) -> Vec<&str> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    if let Some(v) = v {
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for e in items {
            if let Some(Value::String(s)) = e.as_object().and_then(|o| get_ci(o, "value"))
                && seen.insert(s.as_str())
            {
                out.push(s.as_str());
            }
        }
    }
    out
}

pub(super) fn present(v: Option<&Value>) -> Option<Value> {
    v.filter(|v| is_present(v)).cloned()
}

type Diff = (Vec<Change>, Vec<String>, Vec<String>);

pub(super) fn diff(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    ctx: &ResourceContext<'_>,
) -> Diff {
    let mut changes = Vec::new();
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let skip = |k: &str| {
        k.eq_ignore_ascii_case("schemas")
            || k.eq_ignore_ascii_case("meta")
            || ctx.extension(k).is_some()
    };
    diff_holder(
        old,
        new,
        Some(ctx.core),
        "",
        &skip,
        &mut changes,
        Some((&mut added, &mut removed)),
    );
    let empty = Map::new();
    for (ext, _) in &ctx.extensions {
        let o = get_ci(old, &ext.id)
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let n = get_ci(new, &ext.id)
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let prefix = format!("{}:", ext.id);
        diff_holder(o, n, Some(ext), &prefix, &|_| false, &mut changes, None);
    }
    (changes, added, removed)
}

pub(super) fn diff_holder(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    schema: Option<&crate::schema::Schema>,
    prefix: &str,
    skip: &dyn Fn(&str) -> bool,
    changes: &mut Vec<Change>,
    mut members: Option<(&mut Vec<String>, &mut Vec<String>)>,
) {
    // Attribute names: schema order first, then any other key (sorted), case-insensitively unique.
    let mut names: Vec<String> = Vec::new();
    let push = |n: &str, names: &mut Vec<String>| {
        if !names.iter().any(|x| x.eq_ignore_ascii_case(n)) {
            names.push(n.to_owned());
        }
    };
    if let Some(s) = schema {
        for a in &s.attributes {
            push(&a.name, &mut names);
        }
    }
    let mut extra: Vec<&String> = old.keys().chain(new.keys()).collect();
    extra.sort();
    for k in extra {
        if !skip(k) {
            push(k, &mut names);
        }
    }
    for name in names {
        let def = schema.and_then(|s| s.attribute(&name));
        let o = get_ci(old, &name).filter(|v| is_present(v));
        let n = get_ci(new, &name).filter(|v| is_present(v));
        if o == n {
            continue;
        }
        if name == "members"
            && def.is_some_and(|d| d.multi_valued)
            && let Some((added, removed)) = members.as_mut()
        {
            let before = member_ids(o);
            let after = member_ids(n);
            let before_set: HashSet<&str> = before.iter().copied().collect();
            let after_set: HashSet<&str> = after.iter().copied().collect();
            added.extend(
                after
                    .iter()
                    .filter(|x| !before_set.contains(*x))
                    .map(|x| (*x).to_owned()),
            );
            removed.extend(
                before
                    .iter()
                    .filter(|x| !after_set.contains(*x))
                    .map(|x| (*x).to_owned()),
            );
            continue;
        }
        match def {
            Some(d) if d.is_complex() && !d.multi_valued => {
                let empty = Map::new();
                let om = o.and_then(Value::as_object).unwrap_or(&empty);
                let nm = n.and_then(Value::as_object).unwrap_or(&empty);
                let mut subs: Vec<String> =
                    d.sub_attributes.iter().map(|s| s.name.clone()).collect();
                for k in om.keys().chain(nm.keys()) {
                    if !subs.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                        subs.push(k.clone());
                    }
                }
                for s in subs {
                    let so = present(get_ci(om, &s));
                    let sn = present(get_ci(nm, &s));
                    if so != sn {
                        changes.push(Change {
                            attribute: format!("{prefix}{}.{s}", d.name),
                            old: so,
                            new: sn,
                        });
                    }
                }
            }
            _ => {
                let canonical = def.map_or(name.as_str(), |d| d.name.as_str());
                changes.push(Change {
                    attribute: format!("{prefix}{canonical}"),
                    old: o.cloned(),
                    new: n.cloned(),
                });
            }
        }
    }
}
