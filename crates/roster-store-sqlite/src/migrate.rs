//! The SQLite schema's migrations, embedded, and the small runner that applies them: each in a
//! transaction of its own, recorded in `roster_migrations`. Databases made by releases that ran
//! sqlx's migrator carry their history in `_sqlx_migrations`; it is read once and carried over,
//! so they continue where they stopped. (rusqlite's migration crates keep their own bookkeeping
//! and cannot take over that history, hence these few lines.)

use crate::conn::map_err;
use roster_core::store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension};

/// (version, description, SQL), in order. The PostgreSQL store has the same versions.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "scim", include_str!("../migrations/0002_scim.sql")),
    (
        3,
        "member display",
        include_str!("../migrations/0003_member_display.sql"),
    ),
    (
        4,
        "drop redundant index",
        include_str!("../migrations/0004_drop_redundant_index.sql"),
    ),
    (
        5,
        "users by account",
        include_str!("../migrations/0005_users_by_account.sql"),
    ),
    (
        6,
        "scim ownership",
        include_str!("../migrations/0006_scim_ownership.sql"),
    ),
    (
        7,
        "native types",
        include_str!("../migrations/0007_native_types.sql"),
    ),
    (
        8,
        "operators",
        include_str!("../migrations/0008_operators.sql"),
    ),
    (
        9,
        "scim adopt existing",
        include_str!("../migrations/0009_scim_adopt_existing.sql"),
    ),
    (
        10,
        "scim ids",
        include_str!("../migrations/0010_scim_ids.sql"),
    ),
    (
        11,
        "console",
        include_str!("../migrations/0011_console.sql"),
    ),
    (
        12,
        "two factor",
        include_str!("../migrations/0012_two_factor.sql"),
    ),
    (
        13,
        "user search",
        include_str!("../migrations/0013_user_search.sql"),
    ),
];

fn applied(c: &Connection) -> StoreResult<Vec<i64>> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS roster_migrations (
             version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .map_err(map_err)?;
    let empty: bool = c
        .query_row("SELECT COUNT(*) = 0 FROM roster_migrations", [], |r| {
            r.get(0)
        })
        .map_err(map_err)?;
    let legacy: Option<String> = c
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(map_err)?;
    if empty && legacy.is_some() {
        c.execute_batch(
            "INSERT INTO roster_migrations (version, description, applied_at)
             SELECT version, description, CAST(installed_on AS TEXT) FROM _sqlx_migrations
             WHERE success",
        )
        .map_err(map_err)?;
    }
    let mut stmt = c
        .prepare("SELECT version FROM roster_migrations ORDER BY version")
        .map_err(map_err)?;
    let versions = stmt
        .query_map([], |r| r.get(0))
        .map_err(map_err)?
        .collect::<Result<Vec<i64>, _>>()
        .map_err(map_err)?;
    Ok(versions)
}

/// Apply the migrations up to `target` (all when `None`) that are not applied yet.
pub fn run(c: &mut Connection, target: Option<i64>) -> StoreResult<()> {
    let done = applied(c)?;
    if let Some(newest) = done.iter().max()
        && *newest > MIGRATIONS.len() as i64
    {
        return Err(StoreError::Other(format!(
            "the database is at schema version {newest}, newer than this release knows \
             ({}): run the release that made it",
            MIGRATIONS.len()
        )));
    }
    for (version, description, sql) in MIGRATIONS {
        if done.contains(version) || target.is_some_and(|t| *version > t) {
            continue;
        }
        let tx = c
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(map_err)?;
        tx.execute_batch(sql).map_err(|e| {
            StoreError::database(format!("applying migration {version} ({description})"), e)
        })?;
        tx.execute(
            "INSERT INTO roster_migrations (version, description, applied_at)
             VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            (version, description),
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
    }
    Ok(())
}
