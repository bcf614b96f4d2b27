//! Statements as values: SQL text with numbered placeholders and the arguments they take.
//!
//! [`Sql`] numbers its placeholders itself, in the dialect's form (`$1` on PostgreSQL, `?1` on
//! SQLite), so no caller counts them. Fixed statements are written once with `$N` placeholders
//! ([`Sql::fixed`]) and rewritten for SQLite; built statements push text and arguments in order
//! ([`Sql::arg`], [`Sql::list`]).

use chrono::{DateTime, Utc};
use roster_core::model::{AccountId, PermissionId, TeamId, UserId};
use std::fmt::Write as _;
use uuid::Uuid;

pub use crate::filter_sql::Dialect;

/// The type of an SQL `NULL` (PostgreSQL wants typed parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Bool,
    Text,
    Time,
    Uuid,
    Bytes,
    Json,
}

/// One bound value. Each backend maps it to its own types: on SQLite times, uuids and documents
/// are text; on PostgreSQL they are `timestamptz`, `uuid` and `jsonb`.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Null(Kind),
    Int(i64),
    Bool(bool),
    Text(String),
    Time(DateTime<Utc>),
    Uuid(Uuid),
    Bytes(Vec<u8>),
    Json(serde_json::Value),
}

macro_rules! arg_from {
    ($($t:ty => $v:ident, $k:ident;)*) => {$(
        impl From<$t> for Arg {
            fn from(v: $t) -> Arg {
                Arg::$v(v.into())
            }
        }
        impl From<Option<$t>> for Arg {
            fn from(v: Option<$t>) -> Arg {
                v.map_or(Arg::Null(Kind::$k), |v| Arg::$v(v.into()))
            }
        }
    )*};
}

arg_from! {
    i64 => Int, Int;
    bool => Bool, Bool;
    String => Text, Text;
    &str => Text, Text;
    DateTime<Utc> => Time, Time;
    Uuid => Uuid, Uuid;
    Vec<u8> => Bytes, Bytes;
    serde_json::Value => Json, Json;
}

macro_rules! id_args {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(v: $t) -> Arg {
                Arg::Int(v.0)
            }
        }
        impl From<Option<$t>> for Arg {
            fn from(v: Option<$t>) -> Arg {
                v.map(|v| v.0).into()
            }
        }
    )*};
}

id_args!(AccountId, UserId, TeamId, PermissionId);

impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(v.clone())
    }
}

impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Arg {
        v.as_deref().into()
    }
}

impl From<&DateTime<Utc>> for Arg {
    fn from(v: &DateTime<Utc>) -> Arg {
        Arg::Time(*v)
    }
}

impl From<&serde_json::Value> for Arg {
    fn from(v: &serde_json::Value) -> Arg {
        Arg::Json(v.clone())
    }
}

/// A statement and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
    pub dialect: Dialect,
    /// Keep the statement prepared (PostgreSQL's per-connection cache): true for the fixed texts,
    /// false for built texts whose variety is unbounded. SQLite caches every text it prepares.
    pub persistent: bool,
}

impl Dialect {
    /// The placeholder of argument `n` (from 1).
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => format!("?{n}"),
        }
    }
}

impl Sql {
    /// An empty statement to build.
    pub fn new(dialect: Dialect) -> Sql {
        Sql {
            text: String::new(),
            args: Vec::new(),
            dialect,
            persistent: true,
        }
    }

    /// A fixed statement written with `$1 … $N` placeholders, and its arguments in that order.
    pub fn fixed(dialect: Dialect, text: &str, args: Vec<Arg>) -> Sql {
        let text = match dialect {
            Dialect::Postgres => text.to_string(),
            Dialect::Sqlite => dollars_to_questions(text),
        };
        Sql {
            text,
            args,
            dialect,
            persistent: true,
        }
    }

    /// Append text.
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Append a placeholder for `a`.
    pub fn arg(&mut self, a: impl Into<Arg>) -> &mut Sql {
        let p = self.bind(a);
        self.text.push_str(&p);
        self
    }

    /// Take `a` as the next argument; answer its placeholder, to write where it belongs.
    pub fn bind(&mut self, a: impl Into<Arg>) -> String {
        self.args.push(a.into());
        self.dialect.placeholder(self.args.len())
    }

    /// Append `p1, p2, …` for the values.
    pub fn list<T: Into<Arg>>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Sql {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.arg(v);
        }
        self
    }

    /// Append `FOR UPDATE` when `lock` (row locks in PostgreSQL's write transactions).
    pub fn for_update(mut self, lock: bool) -> Sql {
        if lock {
            self.text.push_str(" FOR UPDATE");
        }
        self
    }

    /// Leave this statement out of PostgreSQL's statement cache.
    pub fn one_off(mut self) -> Sql {
        self.persistent = false;
        self
    }
}

/// `$12` → `?12`: SQLite's numbered form. A `$` not followed by a digit (a JSON path such as
/// `'$.displayName'`) is kept.
fn dollars_to_questions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// `(p1, p2), (p3, p4), …`: one row of placeholders per item, for `VALUES` lists.
pub fn values_rows<I, R>(sql: &mut Sql, rows: I)
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = Arg>,
{
    for (i, row) in rows.into_iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        for (j, a) in row.into_iter().enumerate() {
            if j > 0 {
                sql.push(", ");
            }
            sql.arg(a);
        }
        sql.push(")");
    }
}

impl std::fmt::Display for Sql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)?;
        if !self.args.is_empty() {
            let mut s = String::new();
            let _ = write!(s, " -- {} args", self.args.len());
            f.write_str(&s)?;
        }
        Ok(())
    }
}

/// The top-level `key` of the JSON document column `col` when it is a string, else NULL.
pub fn json_string(dialect: Dialect, col: &str, key: &str) -> String {
    match dialect {
        Dialect::Postgres => format!(
            "CASE WHEN jsonb_typeof({col} -> '{key}') = 'string' THEN {col} ->> '{key}' END"
        ),
        Dialect::Sqlite => format!(
            "CASE WHEN json_type({col}, '$.{key}') = 'text' THEN json_extract({col}, '$.{key}') END"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_per_dialect() {
        let mut s = Sql::new(Dialect::Sqlite);
        s.push("SELECT 1 WHERE a = ")
            .arg(1)
            .push(" AND b IN (")
            .list(["x", "y"])
            .push(")");
        assert_eq!(s.text, "SELECT 1 WHERE a = ?1 AND b IN (?2, ?3)");
        assert_eq!(s.args.len(), 3);
        let mut p = Sql::new(Dialect::Postgres);
        p.push("x = ")
            .arg(Some(5_i64))
            .push(", y = ")
            .arg(None::<String>);
        assert_eq!(p.text, "x = $1, y = $2");
        assert_eq!(p.args[1], Arg::Null(Kind::Text));
    }

    #[test]
    fn fixed_statements_keep_json_paths() {
        let s = Sql::fixed(
            Dialect::Sqlite,
            "SELECT json_extract(d, '$.displayName') FROM t WHERE id = $12 AND x = $1",
            vec![],
        );
        assert_eq!(
            s.text,
            "SELECT json_extract(d, '$.displayName') FROM t WHERE id = ?12 AND x = ?1"
        );
    }
}
