//! PostgreSQL connections that break under the pool (a server restart, an administrator ending
//! them): the next request is answered "busy, retry" (503), never an internal error, and the
//! one after it is served on a fresh connection.

use super::account;
use roster_core::store::StoreError;
use roster_store_tests::{Backend, TestStore, pg_admin_url};
use sqlx::Connection;

#[tokio::test]
async fn broken_connections_are_busy_then_replaced() {
    let t = TestStore::new(Backend::Postgres).await;
    let s = &t.store;
    let a = account(s, "A").await;
    // Several connections in the pool, each used just now (so none is pinged before use).
    let reads = (0..4).map(|_| async {
        let mut r = s.read().await.unwrap();
        r.account(a.id).await.unwrap().unwrap();
    });
    futures::future::join_all(reads).await;

    let (_, name) = t.pg.clone().unwrap();
    let mut admin = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    )))
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!ended.is_empty(), "the pool's connections were not found");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    // Each broken connection fails as busy at most once; then the store reads again.
    let mut busy = 0;
    let mut served = false;
    for _ in 0..20 {
        let read = async {
            let mut r = s.read().await?;
            r.account(a.id).await
        };
        match read.await {
            Ok(found) => {
                assert_eq!(found.unwrap().id, a.id);
                served = true;
                break;
            }
            Err(StoreError::Busy(_)) => busy += 1,
            Err(other) => panic!("a broken connection was answered {other:?}, not busy"),
        }
    }
    assert!(served, "no read succeeded after {busy} busy answers");
    assert!(
        busy <= ended.len(),
        "{busy} busy answers for {} connections",
        ended.len()
    );
    t.finish().await;
}
