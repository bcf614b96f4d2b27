//! Typed comparisons: a text (a column, an expression, a JSON string) against a string literal,
//! a JSON boolean, an id, a timestamp; and the dispatch from an attribute's type to them.

use super::*;
use chrono::{DateTime, Timelike, Utc};

impl Compiler<'_, '_, '_> {
    /// A comparison on a single leaf value of type `def.kind`.
    pub(super) fn leaf(
        &mut self,
        def: &AttributeDef,
        src: &Source,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<String, String> {
        match def.kind {
            AttributeType::String | AttributeType::Reference | AttributeType::Binary => {
                self.string(src, def.case_exact, cmp)
            }
            AttributeType::Boolean => Ok(self.json_boolean(src, cmp)),
            _ => Err(format!(
                "Filtering on {:?} attributes is not supported: \"{}\"",
                def.kind, def.name
            )),
        }
    }

    /// String comparison with the evaluator's semantics.
    pub(super) fn string(
        &mut self,
        src: &Source,
        case_exact: bool,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<String, String> {
        let x = self.text(src);
        let present = format!("({x} IS NOT NULL AND {x} <> '')");
        let Some((op, value)) = cmp else {
            return Ok(present);
        };
        let Some(lit) = literal_text(value) else {
            return Ok(match op {
                CompareOp::Eq => format!("(NOT {present})"),
                CompareOp::Ne => present,
                _ => FALSE.into(),
            });
        };
        let lit = if case_exact {
            lit
        } else {
            roster_core::validate::fold(&lit)
        };
        let eq = |c: &mut Self| -> String {
            let p = c.bind(Arg::Text(lit.clone()));
            format!("({x} IS NOT NULL AND {x} = {p})")
        };
        Ok(match op {
            CompareOp::Eq => eq(self),
            CompareOp::Ne => format!("(NOT {})", eq(self)),
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew if lit.is_empty() => {
                format!("({x} IS NOT NULL)")
            }
            CompareOp::Co => {
                let p = self.bind(Arg::Text(lit));
                match self.dialect {
                    Dialect::Sqlite => format!("({x} IS NOT NULL AND instr({x}, {p}) > 0)"),
                    Dialect::Postgres => format!("({x} IS NOT NULL AND strpos({x}, {p}) > 0)"),
                }
            }
            CompareOp::Sw => {
                let p = self.bind(Arg::Text(lit));
                match self.dialect {
                    Dialect::Sqlite => {
                        format!("({x} IS NOT NULL AND substr({x}, 1, length({p})) = {p})")
                    }
                    Dialect::Postgres => {
                        format!("({x} IS NOT NULL AND left({x}, char_length({p})) = {p})")
                    }
                }
            }
            CompareOp::Ew => {
                let p = self.bind(Arg::Text(lit));
                match self.dialect {
                    Dialect::Sqlite => format!(
                        "({x} IS NOT NULL AND length({x}) >= length({p}) AND substr({x}, length({x}) - length({p}) + 1) = {p})"
                    ),
                    Dialect::Postgres => {
                        format!("({x} IS NOT NULL AND right({x}, char_length({p})) = {p})")
                    }
                }
            }
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
                let p = self.bind(Arg::Text(lit));
                let sym = op_symbol(op);
                match self.dialect {
                    Dialect::Sqlite => format!("({x} IS NOT NULL AND {x} {sym} {p})"),
                    Dialect::Postgres => format!(
                        "({x} IS NOT NULL AND ({x} COLLATE \"C\") {sym} ({p} COLLATE \"C\"))"
                    ),
                }
            }
        })
    }

    /// A boolean stored in JSON.
    pub(super) fn json_boolean(
        &mut self,
        src: &Source,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> String {
        let is = |c: &mut Self, b: bool| -> String {
            if let Source::Text(col) = src {
                return format!(
                    "({col} IS NOT NULL AND {col} = {})",
                    if b { "TRUE" } else { "FALSE" }
                );
            }
            let doc = c.doc();
            match c.dialect {
                Dialect::Sqlite => {
                    let p = c.sqlite_path_expr(src);
                    format!("(COALESCE(json_type({doc}, {p}), '') = '{b}')")
                }
                Dialect::Postgres => {
                    let v = c.pg_value(src);
                    format!("(COALESCE(({v}) = '{b}'::jsonb, FALSE))")
                }
            }
        };
        let present = |c: &mut Self| format!("({} OR {})", is(c, true), is(c, false));
        let Some((op, value)) = cmp else {
            return present(self);
        };
        let expected = match value {
            CompValue::Null => {
                return match op {
                    CompareOp::Eq => format!("(NOT {})", present(self)),
                    CompareOp::Ne => present(self),
                    _ => FALSE.into(),
                };
            }
            CompValue::Bool(b) => Some(*b),
            CompValue::String(s) => bool_from_str(s),
            CompValue::Number(_) => None,
        };
        match (op, expected) {
            (CompareOp::Eq, Some(b)) => is(self, b),
            (CompareOp::Ne, Some(b)) => format!("(NOT {})", is(self, b)),
            (CompareOp::Ne, None) => TRUE.into(),
            _ => FALSE.into(),
        }
    }

    /// `id` of the row aliased `alias`: its SCIM id, a UUID column, or for rows made before
    /// opaque ids (no UUID) the integer id.
    pub(super) fn id_column(
        &mut self,
        alias: &str,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> String {
        let Some((op, value)) = cmp else {
            return TRUE.into();
        };
        let Some(text) = literal_text(value) else {
            return if op == CompareOp::Ne {
                TRUE.into()
            } else {
                FALSE.into()
            };
        };
        // Only an id's own spelling equals it (ids are caseExact).
        let is = |c: &mut Self, r: ScimRef| match r {
            ScimRef::Id(u) => {
                let p = c.bind(Arg::Uuid(u));
                // Never NULL (a legacy row's is), so that `NOT` of it holds there.
                format!("({alias}.scim_id IS NOT NULL AND {alias}.scim_id = {p})")
            }
            ScimRef::Legacy(n) => {
                let p = c.bind(Arg::Int(n));
                format!("({alias}.id = {p} AND {alias}.scim_id IS NULL)")
            }
        };
        match (op, ScimRef::parse(&text)) {
            (CompareOp::Eq, Some(r)) => is(self, r),
            (CompareOp::Eq, None) => FALSE.into(),
            (CompareOp::Ne, Some(r)) => format!("(NOT {})", is(self, r)),
            (CompareOp::Ne, None) => TRUE.into(),
            // Substring and ordering comparisons on the id's text: compare the text form.
            _ => self
                .string(&Source::Text(rendered_id(alias)), true, Some((op, value)))
                .unwrap_or_else(|_| FALSE.into()),
        }
    }

    /// `meta.created` / `meta.lastModified`: timestamps of microsecond precision.
    pub(super) fn time(
        &mut self,
        col: &str,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<String, String> {
        let Some((op, value)) = cmp else {
            return Ok(TRUE.into());
        };
        let Some(text) = literal_text(value) else {
            return Ok(if op == CompareOp::Ne {
                TRUE.into()
            } else {
                FALSE.into()
            });
        };
        if op.is_substring() {
            // On the canonical text (microseconds, `Z`), case-exact: SQLite stores exactly that;
            // PostgreSQL's timestamptz is written out in the same form.
            let text = match self.dialect {
                Dialect::Sqlite => col.to_string(),
                Dialect::Postgres => format!(
                    "to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                ),
            };
            return self.string(&Source::Text(text), true, Some((op, value)));
        }
        let Some(at) = parse_time(&text) else {
            // Not a dateTime: nothing equals it; `ne` holds for every resource.
            return Ok(if op == CompareOp::Ne {
                TRUE.into()
            } else {
                FALSE.into()
            });
        };
        let exact = at.nanosecond() % 1000 == 0;
        let floor = at
            .with_nanosecond(at.nanosecond() - at.nanosecond() % 1000)
            .unwrap_or(at);
        let p = self.bind(Arg::Time(floor));
        // Stored values have microsecond precision: a literal with finer precision falls between two.
        Ok(match (op, exact) {
            (CompareOp::Eq, true) => format!("({col} = {p})"),
            (CompareOp::Eq, false) => FALSE.into(),
            (CompareOp::Ne, true) => format!("({col} <> {p})"),
            (CompareOp::Ne, false) => TRUE.into(),
            (CompareOp::Gt, _) => format!("({col} > {p})"),
            (CompareOp::Ge, true) => format!("({col} >= {p})"),
            (CompareOp::Ge, false) => format!("({col} > {p})"),
            (CompareOp::Lt, true) => format!("({col} < {p})"),
            (CompareOp::Lt, false) | (CompareOp::Le, _) => format!("({col} <= {p})"),
            _ => FALSE.into(),
        })
    }
}

/// A comparison value as text, the form a string column compares it in; `None` for `null`.
pub(super) fn literal_text(value: &CompValue) -> Option<String> {
    match value {
        CompValue::Null => None,
        CompValue::String(s) => Some(s.clone()),
        CompValue::Number(n) => Some(n.to_string()),
        CompValue::Bool(b) => Some(b.to_string()),
    }
}

pub(super) fn op_symbol(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        _ => "=",
    }
}

pub(super) fn bool_from_str(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// RFC 3339 (any offset), to UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// The SCIM id of the row aliased `alias`, as text, as it is rendered.
pub(super) fn rendered_id(alias: &str) -> String {
    format!("COALESCE(CAST({alias}.scim_id AS TEXT), CAST({alias}.id AS TEXT))")
}
