//! The cache of authenticated tokens: a change committed by this process is seen at once, one
//! committed by another process within a second.

use super::{account, t0, user};
use roster_core::Store;
use roster_core::model::*;
use roster_store_tests::{Backend, TestStore};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub(crate) async fn token(
    s: &Arc<dyn Store>,
    account: AccountId,
    user: UserId,
    hash: [u8; 32],
) -> Uuid {
    let uuid = Uuid::new_v4();
    let mut tx = s.begin().await.unwrap();
    tx.insert_token(&StoredToken {
        token: PersonalToken {
            uuid,
            user_id: user,
            account_id: account,
            name: "t".into(),
            description: None,
            created: t0(),
            expires_at: t0() + chrono::Duration::days(3650),
            last_used_at: None,
            key_prefix: "azionabcd".into(),
        },
        key_hash: hash,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    uuid
}

async fn revocations_reach_every_process(backend: Backend) {
    let t = TestStore::new(backend).await;
    let here = &t.store;
    let there = t.another().await;
    let a = account(here, "A").await;
    let id = user(here, a.id, "u@example.com").await.unwrap();

    // Revoked by this process: refused on the next lookup.
    let mine = [1u8; 32];
    let uuid = token(here, a.id, id, mine).await;
    assert!(here.token_by_hash(&mine, None).await.unwrap().is_some());
    let mut tx = here.begin().await.unwrap();
    tx.delete_token(id, uuid).await.unwrap();
    tx.commit().await.unwrap();
    assert!(here.token_by_hash(&mine, None).await.unwrap().is_none());

    // Revoked by another process: refused here within a second.
    let theirs = [2u8; 32];
    let uuid = token(here, a.id, id, theirs).await;
    assert!(here.token_by_hash(&theirs, None).await.unwrap().is_some());
    let mut tx = there.begin().await.unwrap();
    tx.delete_token(id, uuid).await.unwrap();
    tx.commit().await.unwrap();
    let revoked = Instant::now();
    while here.token_by_hash(&theirs, None).await.unwrap().is_some() {
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "a token revoked by another process was still accepted after a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A user disabled elsewhere: its token is refused within a second too (the lookup answers
    // the user as it now is).
    let key = [3u8; 32];
    token(here, a.id, id, key).await;
    assert!(
        here.token_by_hash(&key, None)
            .await
            .unwrap()
            .unwrap()
            .user
            .is_active
    );
    let mut tx = there.begin().await.unwrap();
    let mut u = tx.user(a.id, id).await.unwrap().unwrap();
    let v = u.version;
    u.is_active = false;
    tx.update_user(&u, v).await.unwrap();
    tx.commit().await.unwrap();
    let changed = Instant::now();
    while here
        .token_by_hash(&key, None)
        .await
        .unwrap()
        .unwrap()
        .user
        .is_active
    {
        assert!(changed.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(there);
    t.finish().await;
}

#[tokio::test]
async fn sqlite() {
    revocations_reach_every_process(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres() {
    revocations_reach_every_process(Backend::Postgres).await;
}
