//! The conformance suite: the same stories against SQLite and PostgreSQL, at the `Store` trait;
//! and the differential test of SQL filters against the in-memory evaluator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod differential;
mod reconnect;
mod token_cache;
mod upgrade;

use chrono::{DateTime, TimeZone, Utc};
use roster_core::Store;
use roster_core::model::*;
use roster_core::store::{Conflict, ListParams, NewAccount, SortKey, StoreError};
use std::sync::Arc;
use uuid::Uuid;

macro_rules! stories {
    ($($name:ident),+ $(,)?) => {
        $(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let t = roster_store_tests::TestStore::new(roster_store_tests::Backend::Sqlite).await;
                super::$name(&t.store).await;
                t.finish().await;
            }
            #[tokio::test]
            async fn postgres() {
                let t = roster_store_tests::TestStore::new(roster_store_tests::Backend::Postgres).await;
                super::$name(&t.store).await;
                t.finish().await;
            }
        }
        )+
    };
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::microseconds(123_456)
}

async fn account(s: &Arc<dyn Store>, name: &str) -> Account {
    let mut tx = s.begin().await.unwrap();
    let a = tx
        .insert_account(&NewAccount {
            name: name.into(),
            company_name: String::new(),
            now: t0(),
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    a
}

async fn user(s: &Arc<dyn Store>, account: AccountId, email: &str) -> Result<UserId, StoreError> {
    let mut tx = s.begin().await.unwrap();
    let id = tx
        .insert_user(&NewUser::new(account, email, "F", "L", t0()))
        .await?;
    tx.commit().await.unwrap();
    Ok(id)
}

fn all(sort: SortKey) -> ListParams {
    ListParams {
        offset: 0,
        limit: 100,
        sort,
        descending: false,
        search: None,
    }
}

async fn records_round_trip(s: &Arc<dyn Store>) {
    let a = account(s, "Acme").await;
    assert_eq!(a.created, t0(), "microseconds survive");
    let mut u = NewUser::new(a.id, "Ada@Example.com", "Ada", "Lovelace", t0());
    u.timezone = "America/Sao_Paulo".into();
    u.last_login = Some(t0() + chrono::Duration::hours(1));
    u.provisioning = Provisioning {
        idp_uuid: Some(Uuid::new_v4()),
        external_id: Some("ext-1".into()),
    };
    // The SCIM service answers a create with the user it wrote, not a read-back: what is read
    // back must be exactly that (the id filled in, the first version).
    u.scim = serde_json::json!({
        "userName": "Ada@Example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
        "emails": [{"value": "ada@example.com", "type": "work", "primary": true}, {"value": "a@x.test"}],
        "active": true,
        "title": "Zoë ✓",
        "x-count": 3,
        "x-ratio": 0.25,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "007", "manager": {"value": "9"}}
    });
    let mut tx = s.begin().await.unwrap();
    let id = tx.insert_user(&u).await.unwrap();
    let got = tx.user(a.id, id).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_eq!(got, u.stored(id));

    let idp = IdentityProvider {
        uuid: Uuid::new_v4(),
        account_id: a.id,
        name: "OIDC".into(),
        is_active: false,
        scim_integration: true,
        scim_adopt_existing: true,
        created: t0(),
        last_modified: t0(),
        version: 1,
        config: IdpConfig::Oidc(OidcConfig {
            authorization_url: "https://a".into(),
            userinfo_url: "https://u".into(),
            token_url: "https://t".into(),
            client_id: "c".into(),
            client_secret: roster_core::Sealed::from_stored("s3cret"),
            scopes: vec!["openid".into(), "email".into()],
            response_mode: "post".into(),
        }),
    };
    let mut tx = s.begin().await.unwrap();
    tx.insert_idp(&idp).await.unwrap();
    assert_eq!(tx.idp(a.id, idp.uuid).await.unwrap().unwrap(), idp);
    tx.commit().await.unwrap();
}

async fn uniqueness_is_the_databases(s: &Arc<dyn Store>) {
    let a = account(s, "A").await;
    let b = account(s, "B").await;
    user(s, a.id, "élodie@example.com").await.unwrap();
    // Unicode case folding happens in Rust, so both backends agree.
    assert!(matches!(
        user(s, a.id, "ÉLODIE@EXAMPLE.COM").await,
        Err(StoreError::Conflict(Conflict::UserEmail))
    ));
    user(s, b.id, "ÉLODIE@example.com").await.unwrap();

    let mut tx = s.begin().await.unwrap();
    tx.insert_team(&Team::new(a.id, "Straße", t0()))
        .await
        .unwrap();
    let e = tx.insert_team(&Team::new(a.id, "STRASSE", t0())).await;
    // `to_lowercase` does not fold ß to ss: these are different names.
    assert!(e.is_ok());
    let e = tx.insert_team(&Team::new(a.id, "STRAßE", t0())).await;
    assert!(
        matches!(e, Err(StoreError::Conflict(Conflict::TeamName))),
        "{e:?}"
    );
    drop(tx);

    let saml = |active| saml_idp(a.id, active);
    let mut tx = s.begin().await.unwrap();
    tx.insert_idp(&saml(true)).await.unwrap();
    tx.insert_idp(&saml(false)).await.unwrap();
    let e = tx.insert_idp(&saml(true)).await;
    assert!(
        matches!(
            e,
            Err(StoreError::Conflict(Conflict::ActiveIdentityProvider))
        ),
        "{e:?}"
    );
}

async fn versions_guard_writes(s: &Arc<dyn Store>) {
    let a = account(s, "A").await;
    let id = user(s, a.id, "v@example.com").await.unwrap();
    let mut tx = s.begin().await.unwrap();
    let mut u = tx.user(a.id, id).await.unwrap().unwrap();
    assert_eq!(u.version, 1);
    u.first_name = "New".into();
    tx.update_user(&u, 1).await.unwrap();
    assert!(matches!(
        tx.update_user(&u, 1).await,
        Err(StoreError::VersionMismatch)
    ));
    let after = tx.user(a.id, id).await.unwrap().unwrap();
    assert_eq!((after.version, after.first_name.as_str()), (2, "New"));
    // What an update wrote is what is read back, at the next version (SCIM answers with it).
    assert_eq!(
        after,
        User {
            version: 2,
            ..u.clone()
        }
    );
    u.id = UserId(999_999);
    assert!(matches!(
        tx.update_user(&u, 2).await,
        Err(StoreError::NotFound)
    ));
    tx.commit().await.unwrap();
}

async fn everything_is_scoped_to_its_account(s: &Arc<dyn Store>) {
    let a = account(s, "A").await;
    let b = account(s, "B").await;
    let ua = user(s, a.id, "a@example.com").await.unwrap();
    user(s, b.id, "b@example.com").await.unwrap();
    let mut tx = s.begin().await.unwrap();
    let ta = tx.insert_team(&Team::new(a.id, "T", t0())).await.unwrap();
    assert!(tx.user(b.id, ua).await.unwrap().is_none());
    assert!(tx.team(b.id, ta).await.unwrap().is_none());
    assert!(matches!(
        tx.delete_user(b.id, ua).await,
        Err(StoreError::NotFound)
    ));
    assert!(tx.existing_team_ids(b.id, &[ta]).await.unwrap().is_empty());
    // A membership across accounts is never made.
    tx.set_user_teams(b.id, ua, &[ta]).await.unwrap();
    assert_eq!(tx.team_member_count(a.id, ta, 10).await.unwrap(), 0);
    // Counting stops at the cap the caller names.
    tx.set_user_teams(a.id, ua, &[ta]).await.unwrap();
    assert_eq!(tx.team_member_count(a.id, ta, 10).await.unwrap(), 1);
    assert_eq!(tx.team_member_count(a.id, ta, 0).await.unwrap(), 0);
    let page = tx.list_users(b.id, &all(SortKey::Id)).await.unwrap();
    assert_eq!(
        (page.total, page.items[0].email.as_str()),
        (1, "b@example.com")
    );
    tx.commit().await.unwrap();
}

fn saml_idp(account: AccountId, active: bool) -> IdentityProvider {
    IdentityProvider {
        uuid: Uuid::new_v4(),
        account_id: account,
        name: "S".into(),
        is_active: active,
        scim_integration: false,
        scim_adopt_existing: false,
        created: t0(),
        last_modified: t0(),
        version: 1,
        config: IdpConfig::Saml(SamlConfig {
            sign_in_url: "https://x".into(),
            entity_id_url: "https://y".into(),
            certificate_pem: "pem".into(),
            signature_algorithm: "sha-256".into(),
        }),
    }
}

async fn deletes_cascade(s: &Arc<dyn Store>) {
    let a = account(s, "A").await;
    let other = account(s, "B").await;
    let foreign = saml_idp(other.id, true);
    let id = user(s, a.id, "gone@example.com").await.unwrap();
    let hash = [7u8; 32];
    let mut tx = s.begin().await.unwrap();
    let team = tx.insert_team(&Team::new(a.id, "T", t0())).await.unwrap();
    tx.set_user_teams(a.id, id, &[team]).await.unwrap();
    tx.insert_token(&StoredToken {
        token: PersonalToken {
            uuid: Uuid::new_v4(),
            user_id: id,
            account_id: a.id,
            name: "t".into(),
            description: None,
            created: t0(),
            expires_at: t0() + chrono::Duration::days(1),
            last_used_at: None,
            key_prefix: "azionabcd".into(),
        },
        key_hash: hash,
    })
    .await
    .unwrap();
    let own = saml_idp(a.id, true);
    tx.insert_idp(&own).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = s.begin().await.unwrap();
    tx.insert_idp(&foreign).await.unwrap();
    tx.commit().await.unwrap();
    let found = s.token_by_hash(&hash, None).await.unwrap().unwrap();
    assert_eq!(found.user.email, "gone@example.com");
    assert!(found.account_active);
    assert_eq!(found.stored.key_hash, hash);
    assert_eq!(found.idp, None);
    // The provider asked for comes with the token only from the token's own account.
    let with = s
        .token_by_hash(&hash, Some(own.uuid))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(with.idp, Some(own.clone()));
    assert_eq!(with.user, found.user);
    let across = s
        .token_by_hash(&hash, Some(foreign.uuid))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(across.idp, None);
    s.touch_token(found.stored.token.uuid, t0() + chrono::Duration::minutes(1))
        .await
        .unwrap();
    let found = s.token_by_hash(&hash, None).await.unwrap().unwrap();
    assert_eq!(
        found.stored.token.last_used_at,
        Some(t0() + chrono::Duration::minutes(1))
    );

    let mut tx = s.begin().await.unwrap();
    tx.delete_user(a.id, id).await.unwrap();
    assert_eq!(tx.team_member_count(a.id, team, 10).await.unwrap(), 0);
    tx.commit().await.unwrap();
    assert!(s.token_by_hash(&hash, None).await.unwrap().is_none());
}

async fn uncommitted_work_is_rolled_back(s: &Arc<dyn Store>) {
    let a = account(s, "A").await;
    {
        let mut tx = s.begin().await.unwrap();
        tx.insert_user(&NewUser::new(a.id, "ghost@example.com", "G", "H", t0()))
            .await
            .unwrap();
        // dropped without commit
    }
    let mut tx = s.read().await.unwrap();
    assert!(
        tx.user_by_email(a.id, "ghost@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        tx.list_users(a.id, &all(SortKey::Id)).await.unwrap().total,
        0
    );
}

async fn lists_sort_search_and_page(s: &Arc<dyn Store>) {
    let a = account(s, "A").await;
    for (i, e) in [
        "carol@x.test",
        "alice@x.test",
        "bob@x.test",
        "dave_100%@x.test",
    ]
    .iter()
    .enumerate()
    {
        let mut tx = s.begin().await.unwrap();
        let mut u = NewUser::new(
            a.id,
            *e,
            "N",
            "M",
            t0() + chrono::Duration::seconds(i as i64),
        );
        u.last_modified = u.date_joined;
        tx.insert_user(&u).await.unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = s.read().await.unwrap();
    let emails = |p: &roster_core::store::Page<User>| {
        p.items.iter().map(|u| u.email.clone()).collect::<Vec<_>>()
    };
    let p = tx.list_users(a.id, &all(SortKey::Email)).await.unwrap();
    assert_eq!(
        emails(&p),
        [
            "alice@x.test",
            "bob@x.test",
            "carol@x.test",
            "dave_100%@x.test"
        ]
    );
    let p = tx
        .list_users(
            a.id,
            &ListParams {
                offset: 1,
                limit: 2,
                sort: SortKey::LastModified,
                descending: true,
                search: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (p.total, emails(&p)),
        (
            4,
            vec!["bob@x.test".to_string(), "alice@x.test".to_string()]
        )
    );
    let search = |q: &str| ListParams {
        search: Some(q.into()),
        ..all(SortKey::Id)
    };
    assert_eq!(tx.list_users(a.id, &search("100%")).await.unwrap().total, 1);
    assert_eq!(
        tx.list_users(a.id, &search("_")).await.unwrap().total,
        1,
        "_ is literal"
    );
    assert_eq!(
        tx.list_users(a.id, &search("x.test")).await.unwrap().total,
        4
    );
    assert_eq!(tx.list_users(a.id, &search("zzz")).await.unwrap().total, 0);
    let perms = tx.list_permissions(&all(SortKey::Id)).await.unwrap();
    assert!(perms.items.iter().any(|p| p.slug == perm::SCIM));
    assert!(perms.items.iter().any(|p| p.slug == perm::VIEW_USERS));
    assert!(perms.items.iter().any(|p| p.slug == perm::EDIT_USERS));
}

async fn permissions_flow_through_active_teams(s: &Arc<dyn Store>) {
    let a = account(s, "A").await;
    let id = user(s, a.id, "p@example.com").await.unwrap();
    let mut tx = s.begin().await.unwrap();
    let catalogue = tx.list_permissions(&all(SortKey::Id)).await.unwrap().items;
    let scim = catalogue.iter().find(|p| p.slug == perm::SCIM).unwrap().id;
    let view = catalogue
        .iter()
        .find(|p| p.slug == perm::VIEW_USERS)
        .unwrap()
        .id;
    let scim_team = Team::new(a.id, "SCIM", t0());
    let t1 = tx.insert_team(&scim_team).await.unwrap();
    let mut off = Team::new(a.id, "Off", t0());
    off.is_active = false;
    let t2 = tx.insert_team(&off).await.unwrap();
    tx.set_team_permissions(t1, &[scim]).await.unwrap();
    tx.set_team_permissions(t2, &[view]).await.unwrap();
    tx.set_user_teams(a.id, id, &[t1, t2]).await.unwrap();
    assert_eq!(
        tx.user_permission_slugs(a.id, id).await.unwrap(),
        vec![perm::SCIM.to_string()]
    );
    let u = tx.user(a.id, id).await.unwrap().unwrap();
    assert_eq!(
        u.teams,
        vec![
            TeamRef {
                id: t2,
                scim_id: off.scim_id,
                name: "Off".into(),
                is_active: false,
                provisioned_by: None,
            },
            TeamRef {
                id: t1,
                scim_id: scim_team.scim_id,
                name: "SCIM".into(),
                is_active: true,
                provisioned_by: None,
            }
        ]
    );
    // A single user and a list of users carry the same teams.
    let listed = tx.list_users(a.id, &all(SortKey::Id)).await.unwrap();
    let same = listed.items.iter().find(|x| x.id == id).unwrap();
    assert_eq!(same.teams, u.teams);
    tx.commit().await.unwrap();
}

/// Requests cancelled at any point (a client hanging up) leave no connection in a half-begun
/// transaction: writes afterwards still work. (sqlx's begin is not cancel-safe; the stores begin in
/// a task of their own.)
async fn cancelled_requests_leave_no_trace(s: &Arc<dyn Store>) {
    let a = account(s, "A").await;
    for i in 0..200u64 {
        let store = s.clone();
        let work = async move {
            let mut tx = store.begin().await?;
            tx.insert_user(&NewUser::new(
                a.id,
                format!("c{i}@example.com"),
                "C",
                "D",
                t0(),
            ))
            .await?;
            tx.commit().await
        };
        // Cancel after 0–199 µs: before, during or after BEGIN, the insert or COMMIT.
        let _ = tokio::time::timeout(std::time::Duration::from_micros(i), work).await;
        let store = s.clone();
        let read = async move {
            let mut tx = store.read().await?;
            tx.account_count().await
        };
        let _ = tokio::time::timeout(std::time::Duration::from_micros(i / 2), read).await;
    }
    // Every connection still writes: as many writers at once as the pool has connections.
    let writes = (0..16).map(|i| {
        let s = s.clone();
        async move {
            let mut tx = s.begin().await?;
            tx.insert_user(&NewUser::new(
                a.id,
                format!("after{i}@example.com"),
                "A",
                "F",
                t0(),
            ))
            .await?;
            tx.commit().await
        }
    });
    for r in futures::future::join_all(writes).await {
        r.unwrap();
    }
    let mut tx = s.read().await.unwrap();
    assert!(
        tx.user_by_email(a.id, "after15@example.com")
            .await
            .unwrap()
            .is_some()
    );
}

/// An identity provider's lookup (`externalId eq`, answered in one statement) gives each user
/// with the teams a list page gives it, in the same order, and pages and counts like one.
async fn lookups_answer_users_with_their_teams(s: &Arc<dyn Store>) {
    use roster_core::store::{ScimQuery, ScimScope, ScimSort};
    let a = account(s, "A").await;
    let idp = Uuid::new_v4();
    let mut tx = s.begin().await.unwrap();
    let mut ids = Vec::new();
    for (i, external) in ["same", "same", "same", "other"].iter().enumerate() {
        let mut u = NewUser::new(a.id, format!("l{i}@example.com"), "F", "L", t0());
        u.provisioning.idp_uuid = Some(idp);
        u.provisioning.external_id = Some((*external).into());
        ids.push(tx.insert_user(&u).await.unwrap());
    }
    let mut teams = Vec::new();
    for name in ["b", "A", "c"] {
        let mut t = Team::new(a.id, name, t0());
        t.provisioning.idp_uuid = Some(idp);
        teams.push(tx.insert_team(&t).await.unwrap());
    }
    tx.set_user_teams(a.id, ids[0], &teams).await.unwrap();
    tx.set_user_teams(a.id, ids[2], &teams[..1]).await.unwrap();
    tx.set_user_teams(a.id, ids[3], &teams).await.unwrap();
    tx.commit().await.unwrap();

    let scope = ScimScope {
        account: a.id,
        idp,
        caller: None,
    };
    let query = |filter: &str, limit: i64| ScimQuery {
        filter: Some(roster_scim::filter::parse(filter).unwrap()),
        sort: ScimSort::Id,
        descending: false,
        offset: 0,
        limit,
        after_id: None,
        base: None,
    };
    let mut r = s.read().await.unwrap();
    let page = r
        .scim_users(&scope, &query("externalId eq \"same\"", 100))
        .await
        .unwrap();
    assert_eq!(page.total, 3);
    let mut expected = Vec::new();
    for id in &ids[..3] {
        expected.push(r.user(a.id, *id).await.unwrap().unwrap());
    }
    assert_eq!(page.items, expected);
    let names: Vec<&str> = page.items[0]
        .teams
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, ["A", "b", "c"], "teams in name order");
    assert!(page.items[1].teams.is_empty());
    assert_eq!(page.items[2].teams.len(), 1);

    // A page smaller than the matches: the first users, and the count of all of them.
    let two = r
        .scim_users(&scope, &query("externalId eq \"same\"", 2))
        .await
        .unwrap();
    assert_eq!(two.total, 3);
    assert_eq!(two.items, expected[..2]);
    let none = r
        .scim_users(&scope, &query("userName eq \"nobody@example.com\"", 100))
        .await
        .unwrap();
    assert_eq!((none.total, none.items.len()), (0, 0));
}

/// What an account owns, made through the store: `users` users (with e-mail rows) in two teams,
/// a token, an identity provider and `users` log entries.
async fn populated(s: &Arc<dyn Store>, name: &str, users: usize) -> (Account, [u8; 32], Uuid) {
    let a = account(s, name).await;
    let idp = saml_idp(a.id, true);
    let mut tx = s.begin().await.unwrap();
    tx.insert_idp(&idp).await.unwrap();
    let t1 = tx.insert_team(&Team::new(a.id, "T1", t0())).await.unwrap();
    let t2 = tx.insert_team(&Team::new(a.id, "T2", t0())).await.unwrap();
    let mut first = None;
    for i in 0..users {
        let mut u = NewUser::new(a.id, format!("u{i}@{name}.test"), "F", "L", t0());
        u.scim =
            serde_json::json!({"emails": [{"value": format!("w{i}@{name}.test"), "type": "work"}]});
        let id = tx.insert_user(&u).await.unwrap();
        tx.set_user_teams(a.id, id, &[t1, t2]).await.unwrap();
        first.get_or_insert(id);
        tx.insert_log(&roster_core::store::LogEntry {
            id: 0,
            account_id: a.id,
            idp_uuid: idp.uuid,
            at: t0(),
            request_id: None,
            method: "POST".into(),
            path: "/Users".into(),
            resource_type: Some("User".into()),
            resource_id: Some(id.to_string()),
            status: 201,
            outcome: "created".into(),
            scim_type: None,
            detail: None,
            tolerances: Vec::new(),
            changes: serde_json::Value::Null,
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let hash = [name.as_bytes()[0]; 32];
    token_cache::token(s, a.id, first.unwrap(), hash).await;
    (a, hash, idp.uuid)
}

/// Deleting an account goes in short batches and removes its rows, and only its.
async fn purging_an_account_removes_only_its_rows(s: &Arc<dyn Store>) {
    let (gone, gone_key, _) = populated(s, "gone", 12).await;
    let (kept, kept_key, kept_idp) = populated(s, "kept", 5).await;
    let mut tx = s.begin().await.unwrap();
    let mut a = tx.account(gone.id).await.unwrap().unwrap();
    assert_eq!(a.state(), "active");
    a.is_active = false;
    a.deleting_since = Some(t0());
    let a = tx.update_account(&a, a.version).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(a.state(), "deleting");
    assert_eq!(
        s.read()
            .await
            .unwrap()
            .accounts_being_deleted()
            .await
            .unwrap(),
        vec![gone.id]
    );
    assert!(
        !s.token_by_hash(&gone_key, None)
            .await
            .unwrap()
            .unwrap()
            .account_active
    );

    let mut steps = 0;
    loop {
        let mut tx = s.begin().await.unwrap();
        let n = tx.purge_account(gone.id, 5).await.unwrap();
        tx.commit().await.unwrap();
        assert!(n <= 5, "a batch removed {n} rows");
        steps += 1;
        if n == 0 {
            break;
        }
        assert!(steps < 100, "the purge does not end");
    }
    // 24 memberships, 12 log entries, 12 users, 2 teams, 1 provider: at least 12 batches of 5.
    assert!(steps >= 12, "{steps} steps");
    let mut r = s.read().await.unwrap();
    assert!(r.account(gone.id).await.unwrap().is_none());
    assert!(r.accounts_being_deleted().await.unwrap().is_empty());
    assert!(s.token_by_hash(&gone_key, None).await.unwrap().is_none());
    let accounts = r.list_accounts(0, 10).await.unwrap();
    assert_eq!(accounts.total, 1);
    assert_eq!(accounts.items[0].id, kept.id);
    // The other account is whole.
    assert_eq!(
        r.list_users(kept.id, &all(SortKey::Id))
            .await
            .unwrap()
            .total,
        5
    );
    let teams = r
        .list_teams(kept.id, &all(SortKey::Id))
        .await
        .unwrap()
        .items;
    assert_eq!(teams.len(), 2);
    for t in &teams {
        assert_eq!(r.team_member_count(kept.id, t.id, 100).await.unwrap(), 5);
    }
    assert_eq!(
        r.list_log(kept.id, kept_idp, 0, 100).await.unwrap().total,
        5
    );
    assert_eq!(r.list_idps(kept.id).await.unwrap().len(), 1);
    assert!(
        s.token_by_hash(&kept_key, None)
            .await
            .unwrap()
            .unwrap()
            .account_active
    );
}

/// A provider's users and teams, deleted in short batches; nothing else goes.
async fn a_providers_resources_go_in_batches(s: &Arc<dyn Store>) {
    let a = account(s, "A").await;
    let idp = Uuid::new_v4();
    let mut tx = s.begin().await.unwrap();
    let mut team = Team::new(a.id, "Synced", t0());
    team.provisioning.idp_uuid = Some(idp);
    let team = tx.insert_team(&team).await.unwrap();
    let kept_team = tx
        .insert_team(&Team::new(a.id, "Hand", t0()))
        .await
        .unwrap();
    for i in 0..7 {
        let mut u = NewUser::new(a.id, format!("s{i}@x.test"), "F", "L", t0());
        u.provisioning.idp_uuid = Some(idp);
        let id = tx.insert_user(&u).await.unwrap();
        tx.set_user_teams(a.id, id, &[team, kept_team])
            .await
            .unwrap();
    }
    let hand = tx
        .insert_user(&NewUser::new(a.id, "hand@x.test", "F", "L", t0()))
        .await
        .unwrap();
    tx.set_user_teams(a.id, hand, &[team, kept_team])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut steps = 0;
    loop {
        let mut tx = s.begin().await.unwrap();
        let n = tx.delete_idp_resources(a.id, idp, 3).await.unwrap();
        tx.commit().await.unwrap();
        assert!(n <= 3, "{n}");
        steps += 1;
        assert!(steps < 50);
        if n == 0 {
            break;
        }
    }
    // 14 + 1 memberships, 7 users, 1 team: at least 8 batches of 3.
    assert!(steps >= 8, "{steps}");
    let mut r = s.read().await.unwrap();
    let users = r.list_users(a.id, &all(SortKey::Id)).await.unwrap();
    assert_eq!(users.total, 1);
    assert_eq!(users.items[0].id, hand);
    assert!(r.team(a.id, team).await.unwrap().is_none());
    assert_eq!(r.team_member_count(a.id, kept_team, 10).await.unwrap(), 1);
}

stories!(
    cancelled_requests_leave_no_trace,
    records_round_trip,
    uniqueness_is_the_databases,
    versions_guard_writes,
    everything_is_scoped_to_its_account,
    deletes_cascade,
    uncommitted_work_is_rolled_back,
    lists_sort_search_and_page,
    permissions_flow_through_active_teams,
    lookups_answer_users_with_their_teams,
    purging_an_account_removes_only_its_rows,
    a_providers_resources_go_in_batches,
);

/// Both backends' migrations carry the same versions and descriptions.
#[test]
fn migration_folders_match() {
    let sqlite: Vec<(i64, String)> = roster_store_sqlite::MIGRATIONS
        .iter()
        .map(|(v, d, _)| (*v, d.to_string()))
        .collect();
    let postgres: Vec<(i64, String)> = roster_store_postgres::MIGRATOR
        .iter()
        .map(|m| (m.version, m.description.to_string()))
        .collect();
    assert!(sqlite.len() >= 7);
    assert_eq!(sqlite, postgres);
}
