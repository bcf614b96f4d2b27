//! A pooled PostgreSQL connection as the shared store code sees it: arguments bound as native
//! types, rows decoded by column name, driver errors classified by SQLSTATE and constraint name.

use chrono::{DateTime, Utc};
use roster_core::store::{StoreError, StoreResult};
use roster_store_sql::{Arg, Commit, Db, Dialect, Kind, Sql, SqlRow, conflict_of_constraint};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{PgPool, Postgres, Row as _};
use uuid::Uuid;

/// A transaction, or (for reads, which need no snapshot across statements) a plain connection,
/// which saves the `BEGIN`/`COMMIT` round trips.
pub struct PgConn {
    conn: Conn,
    /// The schema is older than version 7 (not migrated yet): times and uuids are text there.
    pub text_types: bool,
}

enum Conn {
    Tx(sqlx::Transaction<'static, Postgres>),
    Plain(sqlx::pool::PoolConnection<Postgres>),
}

impl PgConn {
    /// Begin a transaction in a task of its own, so that a caller cancelled half-way (a client
    /// hanging up) cannot leave the connection inside a transaction sqlx no longer counts: sqlx's
    /// begin is not cancel-safe, and such a connection, back in the pool, made later writes fail
    /// ("cannot execute INSERT in a read-only transaction").
    pub async fn begin(pool: &PgPool, text_types: bool) -> StoreResult<PgConn> {
        let pool = pool.clone();
        let tx = tokio::spawn(async move { pool.begin().await })
            .await
            .map_err(|e| StoreError::database("beginning a transaction", e))?
            .map_err(map_err)?;
        Ok(PgConn {
            conn: Conn::Tx(tx),
            text_types,
        })
    }

    /// A pooled connection outside any transaction.
    pub async fn plain(pool: &PgPool, text_types: bool) -> StoreResult<PgConn> {
        Ok(PgConn {
            conn: Conn::Plain(pool.acquire().await.map_err(map_err)?),
            text_types,
        })
    }

    fn conn(&mut self) -> &mut sqlx::PgConnection {
        match &mut self.conn {
            Conn::Tx(t) => t,
            Conn::Plain(c) => c,
        }
    }
}

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

fn bind(q: Query<'_>, a: Arg, text_types: bool) -> Query<'_> {
    match a {
        Arg::Time(v) if text_types => q.bind(roster_store_sql::ts(&v)),
        Arg::Uuid(v) if text_types => q.bind(v.to_string()),
        Arg::Bytes(v) if text_types => q.bind(hex::encode(v)),
        Arg::Null(Kind::Time | Kind::Uuid | Kind::Bytes) if text_types => q.bind(None::<String>),
        Arg::Int(v) => q.bind(v),
        Arg::Bool(v) => q.bind(v),
        Arg::Text(v) => q.bind(v),
        Arg::Time(v) => q.bind(v),
        Arg::Uuid(v) => q.bind(v),
        Arg::Bytes(v) => q.bind(v),
        Arg::Json(v) => q.bind(sqlx::types::Json(v)),
        Arg::Null(k) => match k {
            Kind::Int => q.bind(None::<i64>),
            Kind::Bool => q.bind(None::<bool>),
            Kind::Text => q.bind(None::<String>),
            Kind::Time => q.bind(None::<DateTime<Utc>>),
            Kind::Uuid => q.bind(None::<Uuid>),
            Kind::Bytes => q.bind(None::<Vec<u8>>),
            Kind::Json => q.bind(None::<sqlx::types::Json<serde_json::Value>>),
        },
    }
}

fn query(q: Sql, text_types: bool) -> Query<'static> {
    debug_assert_eq!(q.dialect, Dialect::Postgres);
    let persistent = q.persistent;
    let mut out = sqlx::query(sqlx::AssertSqlSafe(q.text)).persistent(persistent);
    for a in q.args {
        out = bind(out, a, text_types);
    }
    out
}

/// A row of a PostgreSQL result.
pub struct Row(PgRow);

impl Db for PgConn {
    type Row = Row;

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn rows(&mut self, q: Sql) -> StoreResult<Vec<Row>> {
        let text_types = self.text_types;
        let rows = query(q, text_types)
            .fetch_all(self.conn())
            .await
            .map_err(map_err)?;
        Ok(rows.into_iter().map(Row).collect())
    }

    async fn exec(&mut self, q: Sql) -> StoreResult<u64> {
        let text_types = self.text_types;
        Ok(query(q, text_types)
            .execute(self.conn())
            .await
            .map_err(map_err)?
            .rows_affected())
    }
}

impl Commit for PgConn {
    async fn commit(self) -> StoreResult<()> {
        match self.conn {
            Conn::Tx(t) => t.commit().await.map_err(map_err),
            Conn::Plain(_) => Ok(()),
        }
    }
}

fn get<'r, T>(r: &'r Row, col: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    r.0.try_get::<T, _>(col)
        .map_err(|e| StoreError::database(format!("reading column {col}"), e))
}

impl Row {
    /// The column as text, when it is a text column: the schema before native types (version 7)
    /// kept times and uuids as text, and upgrade tests read such databases before migrating.
    fn old_text(&self, col: &str) -> StoreResult<Option<String>> {
        use sqlx::{Column as _, TypeInfo as _};
        let text = self
            .0
            .columns()
            .iter()
            .find(|c| c.name() == col)
            .is_some_and(|c| c.type_info().name() == "TEXT");
        if text { get(self, col) } else { Ok(None) }
    }
}

impl SqlRow for Row {
    fn i64(&self, col: &str) -> StoreResult<i64> {
        get(self, col)
    }
    fn opt_i64(&self, col: &str) -> StoreResult<Option<i64>> {
        get(self, col)
    }
    fn bool(&self, col: &str) -> StoreResult<bool> {
        get(self, col)
    }
    fn opt_bool(&self, col: &str) -> StoreResult<Option<bool>> {
        get(self, col)
    }
    fn text(&self, col: &str) -> StoreResult<String> {
        get(self, col)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        get(self, col)
    }
    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>> {
        self.opt_time(col)?
            .ok_or_else(|| StoreError::Other(format!("column {col} is NULL")))
    }
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        get(self, col).or_else(|e| match self.old_text(col)? {
            Some(t) => roster_store_sql::parse_ts(&t).map(Some),
            None => Err(e),
        })
    }
    fn uuid(&self, col: &str) -> StoreResult<Uuid> {
        self.opt_uuid(col)?
            .ok_or_else(|| StoreError::Other(format!("column {col} is NULL")))
    }
    fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>> {
        get(self, col).or_else(|e| match self.old_text(col)? {
            Some(t) => Uuid::parse_str(&t)
                .map(Some)
                .map_err(|e| StoreError::database(format!("uuid in {col}"), e)),
            None => Err(e),
        })
    }
    fn bytes(&self, col: &str) -> StoreResult<Vec<u8>> {
        get(self, col)
    }
    fn json(&self, col: &str) -> StoreResult<serde_json::Value> {
        Ok(get::<sqlx::types::Json<serde_json::Value>>(self, col)?.0)
    }
}

/// sqlx's error as the store's: unique violations (SQLSTATE 23505) by constraint name, foreign
/// keys (23503) as a missing record, deadlocks and serialization failures (40P01, 40001: the
/// transaction lost a race and was rolled back) like a failed version check, which SCIM retries.
pub fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        match d.code().as_deref() {
            Some("23505") => {
                return StoreError::Conflict(conflict_of_constraint(d.constraint().unwrap_or("")));
            }
            Some("23503") => return StoreError::NotFound,
            Some("40P01" | "40001") => return StoreError::VersionMismatch,
            // The server is shutting down or restarting (admin_shutdown, crash_shutdown,
            // cannot_connect_now): worth a retry, like a full pool.
            Some("57P01" | "57P02" | "57P03") => return StoreError::Busy(e.to_string()),
            _ => {}
        }
    }
    // No connection free within the pool's wait, or the connection broke (a server restart
    // under a pooled connection): overload (503, retry), not an internal error.
    if matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) {
        return StoreError::Busy(e.to_string());
    }
    StoreError::database("PostgreSQL", e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No connection free within the pool's wait, or a broken one, is overload (503, retry),
    /// not an internal error.
    #[test]
    fn a_pool_timeout_is_busy() {
        assert!(matches!(
            map_err(sqlx::Error::PoolTimedOut),
            StoreError::Busy(_)
        ));
        assert!(matches!(
            map_err(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())),
            StoreError::Busy(_)
        ));
        assert!(matches!(
            map_err(sqlx::Error::RowNotFound),
            StoreError::Database { .. }
        ));
    }
}
