//! The stored document through JSON functions: where a value sits (a key path, or an element
//! being iterated), its text, whether a container is there, and iterating a multi-valued one.

use super::*;

impl Compiler<'_, '_, '_> {
    pub(super) fn doc(&self) -> String {
        format!("{}.scim_folded", self.table())
    }

    /// On SQLite: the JSON path expression of a source (bound, or built from an element's path).
    pub(super) fn sqlite_path_expr(&mut self, src: &Source) -> String {
        match src {
            Source::Elem { elem, keys } if keys.is_empty() => elem.sqlite_path.clone(),
            Source::Elem { elem, keys } => {
                let suffix = self.bind(Arg::Text(
                    sqlite_path(keys).trim_start_matches('$').to_string(),
                ));
                format!("({} || {suffix})", elem.sqlite_path)
            }
            Source::Json { keys } => self.bind(Arg::Text(sqlite_path(keys))),
            Source::Text(col) => col.clone(),
        }
    }

    /// On PostgreSQL: the jsonb value of a source.
    pub(super) fn pg_value(&mut self, src: &Source) -> String {
        match src {
            Source::Elem { elem, keys } => {
                let base = elem.pg_value.clone();
                self.pg_walk(&base, keys)
            }
            Source::Json { keys } => {
                let doc = self.doc();
                self.pg_walk(&doc, keys)
            }
            Source::Text(col) => col.clone(),
        }
    }

    /// Text of a source, or NULL when it is absent or not a string.
    pub(super) fn text(&mut self, src: &Source) -> String {
        if let Source::Text(col) = src {
            return col.clone();
        }
        let doc = self.doc();
        match self.dialect {
            Dialect::Sqlite => {
                let p = self.sqlite_path_expr(src);
                format!(
                    "(CASE WHEN json_type({doc}, {p}) = 'text' THEN json_extract({doc}, {p}) END)"
                )
            }
            Dialect::Postgres => {
                let v = self.pg_value(src);
                format!("(CASE WHEN jsonb_typeof({v}) = 'string' THEN ({v}) #>> '{{}}' END)")
            }
        }
    }

    pub(super) fn pg_walk(&mut self, base: &str, keys: &[String]) -> String {
        let mut v = base.to_string();
        for k in keys {
            let p = self.bind(Arg::Text(k.clone()));
            v = format!("({v} -> {p}::text)");
        }
        v
    }

    /// A complex attribute is present: an object, or a non-empty array.
    pub(super) fn container_present(&mut self, keys: &[String], multi: bool) -> String {
        let src = Source::Json {
            keys: keys.to_vec(),
        };
        let doc = self.doc();
        match (self.dialect, multi) {
            (Dialect::Sqlite, false) => {
                let p = self.sqlite_path_expr(&src);
                format!("(COALESCE(json_type({doc}, {p}), '') = 'object')")
            }
            (Dialect::Sqlite, true) => {
                let p = self.sqlite_path_expr(&src);
                format!(
                    "(COALESCE(json_type({doc}, {p}), '') = 'array' AND json_array_length({doc}, {p}) > 0)"
                )
            }
            (Dialect::Postgres, false) => {
                let v = self.pg_value(&src);
                format!("(COALESCE(jsonb_typeof({v}) = 'object', FALSE))")
            }
            (Dialect::Postgres, true) => {
                let v = self.pg_value(&src);
                format!(
                    "(COALESCE(jsonb_typeof({v}) = 'array', FALSE) AND jsonb_array_length(CASE WHEN jsonb_typeof({v}) = 'array' THEN {v} ELSE '[]'::jsonb END) > 0)"
                )
            }
        }
    }

    /// The element alias `e` of [`Self::exists_elements`].
    pub(super) fn elem_ref(&self, e: &str) -> ElemRef {
        ElemRef {
            sqlite_path: format!("{e}.fullkey"),
            pg_value: format!("{e}.v"),
        }
    }

    /// The object at `keys`, as an element (for `attr[filter]` on a single complex attribute).
    pub(super) fn object_ref(&mut self, keys: &[String]) -> ElemRef {
        let src = Source::Json {
            keys: keys.to_vec(),
        };
        match self.dialect {
            Dialect::Sqlite => ElemRef {
                sqlite_path: self.sqlite_path_expr(&src),
                pg_value: String::new(),
            },
            Dialect::Postgres => ElemRef {
                sqlite_path: String::new(),
                pg_value: self.pg_value(&src),
            },
        }
    }

    pub(super) fn exists_elements(&mut self, keys: &[String], e: &str, cond: &str) -> String {
        let doc = self.doc();
        let src = Source::Json {
            keys: keys.to_vec(),
        };
        match self.dialect {
            Dialect::Sqlite => {
                let p = self.sqlite_path_expr(&src);
                format!(
                    "(COALESCE(json_type({doc}, {p}), '') = 'array' AND EXISTS (SELECT 1 FROM json_each({doc}, {p}) AS {e} WHERE {cond}))"
                )
            }
            Dialect::Postgres => {
                let v = self.pg_value(&src);
                format!(
                    "(EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof({v}) = 'array' THEN {v} ELSE '[]'::jsonb END) AS {e}(v) WHERE {cond}))"
                )
            }
        }
    }
}

/// `$."a"."b"` for SQLite's JSON functions.
pub(super) fn sqlite_path(keys: &[String]) -> String {
    let mut p = String::from("$");
    for k in keys {
        p.push_str(".\"");
        p.push_str(&k.replace('"', "\\\""));
        p.push('"');
    }
    p
}
