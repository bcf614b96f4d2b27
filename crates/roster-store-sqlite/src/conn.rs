//! One SQLite connection as the shared store code sees it: arguments bound (times, uuids and
//! documents as text), statements prepared once per connection and kept, rows copied out as owned
//! values, errors classified by extended result code.

use chrono::{DateTime, Utc};
use roster_core::store::{StoreError, StoreResult};
use roster_store_sql::{
    Arg, Commit, Db, Dialect, Sql, SqlRow, conflict_of_constraint, parse_ts, sqlite_unique_columns,
    ts,
};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Open a connection with Roster's settings: WAL, `synchronous = FULL` (a commit returns once
/// the WAL is on disk), foreign keys, a busy timeout for other processes (the CLI) holding the
/// write lock.
pub fn open(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let c = Connection::open_with_flags(path, flags).map_err(map_err)?;
    c.busy_timeout(Duration::from_secs(10)).map_err(map_err)?;
    if !read_only {
        c.pragma_update(None, "journal_mode", "WAL")
            .map_err(map_err)?;
    }
    c.pragma_update(None, "synchronous", "FULL")
        .map_err(map_err)?;
    c.pragma_update(None, "foreign_keys", "ON")
        .map_err(map_err)?;
    c.set_prepared_statement_cache_capacity(500);
    Ok(c)
}

/// The connection, for one call of the shared store code.
pub struct SqliteDb<'c> {
    conn: &'c mut Connection,
}

impl<'c> SqliteDb<'c> {
    pub fn new(conn: &'c mut Connection) -> SqliteDb<'c> {
        SqliteDb { conn }
    }
}

/// An argument as SQLite stores it.
struct Bound<'a>(&'a Arg);

impl ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Arg::Null(_) => ToSqlOutput::Borrowed(ValueRef::Null),
            Arg::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Arg::Bool(v) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*v))),
            Arg::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Arg::Time(v) => ToSqlOutput::Owned(Value::Text(ts(v))),
            Arg::Uuid(v) => ToSqlOutput::Owned(Value::Text(v.to_string())),
            Arg::Bytes(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
            Arg::Json(v) => ToSqlOutput::Owned(Value::Text(v.to_string())),
        })
    }
}

impl SqliteDb<'_> {
    fn prepared(&self, q: &Sql) -> StoreResult<rusqlite::CachedStatement<'_>> {
        debug_assert_eq!(q.dialect, Dialect::Sqlite);
        let mut stmt = self.conn.prepare_cached(&q.text).map_err(map_err)?;
        for (i, a) in q.args.iter().enumerate() {
            stmt.raw_bind_parameter(i + 1, Bound(a)).map_err(map_err)?;
        }
        Ok(stmt)
    }

    pub fn rows_now(&mut self, q: &Sql) -> StoreResult<Vec<Row>> {
        let mut stmt = self.prepared(q)?;
        let names: Arc<[String]> = stmt.column_names().into_iter().map(String::from).collect();
        let n = names.len();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(map_err)? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(r.get::<_, Value>(i).map_err(map_err)?);
            }
            out.push(Row {
                names: names.clone(),
                values,
            });
        }
        Ok(out)
    }

    pub fn exec_now(&mut self, q: &Sql) -> StoreResult<u64> {
        let mut stmt = self.prepared(q)?;
        Ok(stmt.raw_execute().map_err(map_err)? as u64)
    }
}

impl Db for SqliteDb<'_> {
    type Row = Row;

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn rows(&mut self, q: Sql) -> StoreResult<Vec<Row>> {
        self.rows_now(&q)
    }

    async fn exec(&mut self, q: Sql) -> StoreResult<u64> {
        self.exec_now(&q)
    }
}

/// Transactions are begun and ended by the writer thread (see `writer.rs`), not by the code
/// that runs inside them.
impl Commit for SqliteDb<'_> {
    async fn commit(self) -> StoreResult<()> {
        Ok(())
    }
}

/// A row, copied out of the statement.
pub struct Row {
    names: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    fn value(&self, col: &str) -> StoreResult<&Value> {
        self.names
            .iter()
            .position(|n| n == col)
            .map(|i| &self.values[i])
            .ok_or_else(|| StoreError::Other(format!("no column {col} in the result")))
    }

    fn opt<T>(
        &self,
        col: &str,
        f: impl FnOnce(&Value) -> Option<StoreResult<T>>,
    ) -> StoreResult<Option<T>> {
        let v = self.value(col)?;
        if matches!(v, Value::Null) {
            return Ok(None);
        }
        match f(v) {
            Some(r) => r.map(Some),
            None => Err(StoreError::Other(format!(
                "column {col} holds {v:?}, not what Roster wrote"
            ))),
        }
    }

    fn req<T>(
        &self,
        col: &str,
        f: impl FnOnce(&Value) -> Option<StoreResult<T>>,
    ) -> StoreResult<T> {
        self.opt(col, f)?
            .ok_or_else(|| StoreError::Other(format!("column {col} is NULL")))
    }
}

fn int(v: &Value) -> Option<StoreResult<i64>> {
    match v {
        Value::Integer(n) => Some(Ok(*n)),
        _ => None,
    }
}

fn boolean(v: &Value) -> Option<StoreResult<bool>> {
    match v {
        Value::Integer(n) => Some(Ok(*n != 0)),
        _ => None,
    }
}

fn text(v: &Value) -> Option<StoreResult<String>> {
    match v {
        Value::Text(s) => Some(Ok(s.clone())),
        _ => None,
    }
}

fn time(v: &Value) -> Option<StoreResult<DateTime<Utc>>> {
    match v {
        Value::Text(s) => Some(parse_ts(s)),
        _ => None,
    }
}

fn uuid(v: &Value) -> Option<StoreResult<Uuid>> {
    match v {
        Value::Text(s) => {
            Some(Uuid::parse_str(s).map_err(|e| StoreError::database(format!("uuid {s:?}"), e)))
        }
        _ => None,
    }
}

impl SqlRow for Row {
    fn i64(&self, col: &str) -> StoreResult<i64> {
        self.req(col, int)
    }
    fn opt_i64(&self, col: &str) -> StoreResult<Option<i64>> {
        self.opt(col, int)
    }
    fn bool(&self, col: &str) -> StoreResult<bool> {
        self.req(col, boolean)
    }
    fn opt_bool(&self, col: &str) -> StoreResult<Option<bool>> {
        self.opt(col, boolean)
    }
    fn text(&self, col: &str) -> StoreResult<String> {
        self.req(col, text)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.opt(col, text)
    }
    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>> {
        self.req(col, time)
    }
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.opt(col, time)
    }
    fn uuid(&self, col: &str) -> StoreResult<Uuid> {
        self.req(col, uuid)
    }
    fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>> {
        self.opt(col, uuid)
    }
    fn bytes(&self, col: &str) -> StoreResult<Vec<u8>> {
        self.req(col, |v| match v {
            Value::Blob(b) => Some(Ok(b.clone())),
            _ => None,
        })
    }
    fn json(&self, col: &str) -> StoreResult<serde_json::Value> {
        self.req(col, |v| match v {
            Value::Text(s) => Some(
                serde_json::from_str(s)
                    .map_err(|e| StoreError::database(format!("JSON in {col}"), e)),
            ),
            _ => None,
        })
    }
}

/// rusqlite's error as the store's: unique violations (`SQLITE_CONSTRAINT_UNIQUE`,
/// `_PRIMARYKEY`) by the columns SQLite names, foreign keys as a missing record, a database
/// locked by another process past the busy timeout as overload.
pub fn map_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        match f.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                let cols = sqlite_unique_columns(msg.as_deref().unwrap_or(""));
                return StoreError::Conflict(conflict_of_constraint(cols));
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return StoreError::NotFound,
            _ => {}
        }
        if matches!(
            f.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        ) {
            return StoreError::Busy(e.to_string());
        }
    }
    StoreError::database("SQLite", e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::store::Conflict;

    #[test]
    fn constraint_failures_are_classified_by_code() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = open(&dir.path().join("t.sqlite3"), false).unwrap();
        c.execute_batch(
            "CREATE TABLE users (account_id INTEGER, email_folded TEXT);
             CREATE UNIQUE INDEX u ON users (account_id, email_folded);
             INSERT INTO users VALUES (1, 'a');",
        )
        .unwrap();
        let mut db = SqliteDb::new(&mut c);
        let dup = Sql::fixed(
            Dialect::Sqlite,
            "INSERT INTO users VALUES ($1, $2)",
            vec![1.into(), "a".into()],
        );
        assert!(matches!(
            db.exec_now(&dup),
            Err(StoreError::Conflict(Conflict::UserEmail))
        ));
        let bad = Sql::fixed(Dialect::Sqlite, "SELECT nonsense FROM nowhere", vec![]);
        let Err(err) = db.rows_now(&bad) else {
            panic!("a bad statement ran")
        };
        assert!(matches!(err, StoreError::Database { .. }));
        assert!(
            std::error::Error::source(&err).is_some(),
            "the driver error is kept"
        );
    }
}
