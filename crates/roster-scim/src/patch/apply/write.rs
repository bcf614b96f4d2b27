//! The engine's writes: add and replace (whole, sub-attribute, filtered) and remove.

use super::*;

impl<'a> Engine<'a> {
    // ----- add / replace ---------------------------------------------------------------------------

    pub(super) fn write(
        &mut self,
        kind: OpKind,
        t: &Target<'a>,
        value: Value,
    ) -> Result<(), ScimError> {
        if t.attr.mutability == Mutability::ReadOnly {
            if self.creating {
                return Ok(());
            }
            let unchanged = t.filter.is_none()
                && t.sub.is_none()
                && self.current(t.container, t.attr) == Some(&value);
            if unchanged {
                return self.tolerate(Tolerance::ReadOnlyIgnored);
            }
            return Err(ScimError::mutability(format!(
                "`{}` is readOnly and cannot be modified",
                t.attr.name
            )));
        }
        match (&t.filter, t.sub) {
            (None, None) => self.write_whole(kind, t, value),
            (None, Some(sub)) => self.write_sub(t, sub, value),
            (Some(filter), sub) => self.write_filtered(kind, t, filter, sub, value),
        }
    }

    pub(super) fn write_whole(
        &mut self,
        kind: OpKind,
        t: &Target<'a>,
        value: Value,
    ) -> Result<(), ScimError> {
        let attr = t.attr;
        let Some(new) = self.canon_attr(attr, value)? else {
            if kind == OpKind::Replace {
                return self.remove(t, None);
            }
            return Ok(());
        };
        let cur = self.current(t.container, attr).cloned();
        if attr.multi_valued {
            let mut items = match (kind, cur) {
                (OpKind::Add, Some(Value::Array(a))) => a,
                (OpKind::Add, Some(other)) => vec![other],
                _ => Vec::new(),
            };
            let mut written = Vec::new();
            let mut index = ElementIndex::default();
            for (i, x) in items.iter().enumerate() {
                index.insert(attr, x, i);
            }
            for e in as_array(new) {
                match index.find(attr, &items, &e) {
                    Some(i) => {
                        merge_into(&mut items[i], e);
                        written.push(i);
                    }
                    None => {
                        index.insert(attr, &e, items.len());
                        items.push(e);
                        written.push(items.len() - 1);
                    }
                }
            }
            check_size(attr, items.len())?;
            fix_primary(&mut items, &written);
            let whole = Value::Array(items);
            if !self.check_writable(t, Some(&whole))? {
                return Ok(());
            }
            let name = attr.name.clone();
            self.with_holder(t.container, |h| {
                remove_ci(h, &name);
                h.insert(name, whole);
            });
            return Ok(());
        }
        let merged = match (attr.is_complex(), cur) {
            (true, Some(Value::Object(mut existing))) => {
                let replaces_referent = match (&new, get_ci(&existing, "value")) {
                    (Value::Object(n), Some(old_v)) => {
                        get_ci(n, "value").is_some_and(|nv| nv != old_v)
                    }
                    _ => false,
                };
                if replaces_referent {
                    new
                } else {
                    if let Value::Object(n) = new {
                        for (k, v) in n {
                            remove_ci(&mut existing, &k);
                            existing.insert(k, v);
                        }
                    }
                    Value::Object(existing)
                }
            }
            _ => new,
        };
        if !self.check_writable(t, Some(&merged))? {
            return Ok(());
        }
        let name = attr.name.clone();
        self.with_holder(t.container, |h| {
            remove_ci(h, &name);
            h.insert(name, merged);
        });
        Ok(())
    }

    pub(super) fn write_sub(
        &mut self,
        t: &Target<'a>,
        sub: &AttributeDef,
        value: Value,
    ) -> Result<(), ScimError> {
        let attr = t.attr;
        if !self.check_writable(t, None)? {
            return Ok(());
        }
        let new = self.canon_attr(sub, value)?;
        let name = attr.name.clone();
        let sub_name = sub.name.clone();
        let multi = attr.multi_valued;
        let result = self.with_holder(t.container, |h| {
            let mut cur = remove_ci(h, &name).unwrap_or(Value::Null);
            if multi {
                let mut any = false;
                for e in elements_mut(&mut cur) {
                    if let Value::Object(o) = e {
                        set_or_remove(o, &sub_name, new.clone());
                        any = true;
                    }
                }
                if !cur.is_null() {
                    h.insert(name.clone(), cur);
                }
                if any { Ok(()) } else { Err(()) }
            } else {
                let mut o = match cur {
                    Value::Object(o) => o,
                    _ => Map::new(),
                };
                set_or_remove(&mut o, &sub_name, new);
                h.insert(name.clone(), Value::Object(o));
                Ok(())
            }
        });
        result.map_err(|()| {
            ScimError::no_target(format!(
                "`{}` has no elements to set `{}` on",
                attr.name, sub.name
            ))
        })
    }

    pub(super) fn write_filtered(
        &mut self,
        kind: OpKind,
        t: &Target<'a>,
        filter: &Filter,
        sub: Option<&'a AttributeDef>,
        value: Value,
    ) -> Result<(), ScimError> {
        let attr = t.attr;
        if !self.check_writable(t, None)? {
            return Ok(());
        }
        // The canonical new content: a sub-attribute value, or a whole element.
        let new = match sub {
            Some(sd) => self.canon_attr(sd, value)?,
            None => {
                let v = match value {
                    Value::Array(mut a) if a.len() == 1 => {
                        self.tolerate(Tolerance::SingleValueAsArray)?;
                        a.remove(0)
                    }
                    other => other,
                };
                self.canon_single(attr, v)?
            }
        };
        let name = attr.name.clone();
        let mut items = match self.current(t.container, attr).cloned() {
            Some(Value::Array(a)) => a,
            Some(other) => vec![other],
            None => Vec::new(),
        };
        let matches: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, e)| eval_element(filter, e, Some(attr)))
            .map(|(i, _)| i)
            .collect();
        let mut written = Vec::new();
        if matches.is_empty() {
            let Some(seed) = upsert_seed(filter, attr) else {
                return Err(ScimError::no_target(format!(
                    "the filter `{filter}` matched no element of `{}` and cannot be used to create one",
                    attr.name
                )));
            };
            self.tolerate(Tolerance::UpsertOnFilteredPath)?;
            let mut element = Value::Object(seed);
            match (sub, new) {
                (Some(sd), new) => {
                    if let Value::Object(o) = &mut element {
                        set_or_remove(o, &sd.name, new);
                    }
                }
                (None, Some(n)) => merge_into(&mut element, n),
                (None, None) => {}
            }
            items.push(element);
            written.push(items.len() - 1);
        } else {
            for i in matches {
                match (sub, &new) {
                    (Some(sd), new) => {
                        if let Some(Value::Object(o)) = items.get_mut(i) {
                            set_or_remove(o, &sd.name, new.clone());
                        }
                    }
                    (None, Some(n)) => {
                        if let Some(slot) = items.get_mut(i) {
                            if kind == OpKind::Replace {
                                *slot = n.clone();
                            } else {
                                merge_into(slot, n.clone());
                            }
                        }
                    }
                    (None, None) => {}
                }
                written.push(i);
            }
        }
        items.retain(is_present);
        check_size(attr, items.len())?;
        let written: Vec<usize> = written.into_iter().filter(|i| *i < items.len()).collect();
        fix_primary(&mut items, &written);
        self.with_holder(t.container, |h| {
            remove_ci(h, &name);
            h.insert(name, Value::Array(items));
        });
        Ok(())
    }

    // ----- remove ----------------------------------------------------------------------------------

    pub(super) fn remove(
        &mut self,
        t: &Target<'a>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let attr = t.attr;
        let name = attr.name.clone();
        match (&t.filter, t.sub) {
            (None, None) => {
                let list = match value {
                    Some(Value::Null) | None => None,
                    Some(v) if attr.multi_valued => Some(v.clone()),
                    Some(_) => None,
                };
                if let Some(list) = list {
                    self.tolerate(Tolerance::RemoveWithValue)?;
                    let targets: Vec<Value> = match list {
                        Value::Array(a) => a,
                        other => vec![other],
                    };
                    if attr.mutability == Mutability::ReadOnly {
                        return Err(ScimError::mutability(format!(
                            "`{}` is readOnly and cannot be modified",
                            attr.name
                        )));
                    }
                    let vdef = attr.sub_attribute("value");
                    let case_exact = vdef.map_or(attr.case_exact, |d| d.case_exact);
                    let complex = attr.is_complex();
                    // One hashed set of the values to remove: linear in the list and the attribute.
                    let doomed: HashSet<String> = targets
                        .iter()
                        .filter_map(item_value)
                        .map(|tv| text_key(tv, case_exact))
                        .collect();
                    let emptied = self.with_holder(t.container, |h| {
                        let Some(cur) = remove_ci(h, &name) else {
                            return false;
                        };
                        let mut items = match cur {
                            Value::Array(a) => a,
                            other => vec![other],
                        };
                        items.retain(|e| {
                            let ev = if complex {
                                e.as_object().and_then(|o| get_ci(o, "value"))
                            } else {
                                Some(e)
                            };
                            ev.is_none_or(|ev| !doomed.contains(&text_key(ev, case_exact)))
                        });
                        let empty = items.is_empty();
                        if !empty {
                            h.insert(name.clone(), Value::Array(items));
                        }
                        empty
                    });
                    if emptied && attr.required {
                        return Err(ScimError::mutability(format!(
                            "`{}` is required and cannot be removed",
                            attr.name
                        )));
                    }
                    return Ok(());
                }
                self.check_removable(t.container, attr)?;
                self.with_holder(t.container, |h| {
                    remove_ci(h, &name);
                });
                Ok(())
            }
            (None, Some(sub)) => {
                if sub.mutability == Mutability::ReadOnly || attr.mutability == Mutability::ReadOnly
                {
                    if self.current(t.container, attr).is_some() {
                        return Err(ScimError::mutability(format!(
                            "`{}.{}` is readOnly and cannot be removed",
                            attr.name, sub.name
                        )));
                    }
                    return Ok(());
                }
                if sub.required && self.current(t.container, attr).is_some() {
                    return Err(ScimError::mutability(format!(
                        "`{}.{}` is required and cannot be removed",
                        attr.name, sub.name
                    )));
                }
                let sub_name = sub.name.clone();
                self.with_holder(t.container, |h| {
                    if let Some(key) = key_ci(h, &name)
                        && let Some(cur) = h.get_mut(&key)
                    {
                        for e in elements_mut(cur) {
                            if let Value::Object(o) = e {
                                remove_ci(o, &sub_name);
                            }
                        }
                    }
                });
                Ok(())
            }
            (Some(filter), sub) => {
                if attr.mutability == Mutability::ReadOnly
                    && self.current(t.container, attr).is_some()
                {
                    return Err(ScimError::mutability(format!(
                        "`{}` is readOnly and cannot be modified",
                        attr.name
                    )));
                }
                let mut items = match self.current(t.container, attr).cloned() {
                    Some(Value::Array(a)) => a,
                    Some(other) => vec![other],
                    None => Vec::new(),
                };
                let before = items.len();
                let mut matched = 0usize;
                match sub {
                    None => {
                        items.retain(|e| !eval_element(filter, e, Some(attr)));
                        matched = before - items.len();
                    }
                    Some(sd) => {
                        if sd.required {
                            return Err(ScimError::mutability(format!(
                                "`{}.{}` is required and cannot be removed",
                                attr.name, sd.name
                            )));
                        }
                        for e in items.iter_mut() {
                            if eval_element(filter, e, Some(attr)) {
                                matched += 1;
                                if let Value::Object(o) = e {
                                    remove_ci(o, &sd.name);
                                }
                            }
                        }
                        items.retain(is_present);
                    }
                }
                if matched == 0 {
                    return self.tolerate(Tolerance::RemoveNoMatch);
                }
                if items.is_empty() && attr.required {
                    return Err(ScimError::mutability(format!(
                        "`{}` is required and cannot be removed",
                        attr.name
                    )));
                }
                self.with_holder(t.container, |h| {
                    remove_ci(h, &name);
                    if !items.is_empty() {
                        h.insert(name, Value::Array(items));
                    }
                });
                Ok(())
            }
        }
    }
}
