//! Upgrading a database of schema 5 (before SCIM ownership): migration 0006 makes a provider's
//! what its provisioning log shows it created or changed, so Entra keeps managing it, and nothing
//! that would hand a SCIM token more power.

use super::{account, saml_idp, t0};
use roster_core::model::*;
use roster_core::store::LogEntry;
use roster_store_tests::{Backend, TestStore};
use uuid::Uuid;

fn entry(
    account: AccountId,
    idp: Uuid,
    kind: &str,
    id: i64,
    status: i64,
    outcome: &str,
) -> LogEntry {
    LogEntry {
        id: 0,
        account_id: account,
        idp_uuid: idp,
        at: t0(),
        request_id: None,
        method: "PATCH".into(),
        path: format!("/v4/users/scim/{idp}/{kind}s/{id}"),
        resource_type: Some(kind.into()),
        resource_id: Some(id.to_string()),
        status,
        outcome: outcome.into(),
        scim_type: None,
        detail: None,
        tolerances: Vec::new(),
        changes: serde_json::json!([]),
    }
}

async fn upgrade_adopts_what_the_log_shows(backend: Backend) {
    let t = TestStore::at_version(backend, 5).await;
    let s = &t.store;
    let a = account(s, "A").await;
    let other = account(s, "B").await;
    let entra = saml_idp(a.id, true);
    let okta = saml_idp(a.id, false);
    let foreign = saml_idp(other.id, true);
    let mut tx = s.begin().await.unwrap();
    for idp in [&entra, &okta, &foreign] {
        tx.insert_idp(idp).await.unwrap();
    }
    let mut owner = User::new(a.id, "owner@example.com", "O", "W", t0());
    owner.is_account_owner = true;
    let owner = tx.insert_user(&owner).await.unwrap();
    let mut made = Vec::new();
    for name in [
        "created",
        "changed",
        "okta-first",
        "failed-only",
        "untouched",
        "foreign",
    ] {
        made.push(
            tx.insert_user(&User::new(
                a.id,
                format!("{name}@example.com"),
                "F",
                "L",
                t0(),
            ))
            .await
            .unwrap(),
        );
    }
    let [
        created,
        changed,
        okta_first,
        failed_only,
        untouched,
        foreign_logged,
    ] = made[..]
    else {
        unreachable!()
    };
    let scim_team = tx
        .insert_team(&Team::new(a.id, "Entra group", t0()))
        .await
        .unwrap();
    let plain_team = tx
        .insert_team(&Team::new(a.id, "Renamed by SCIM", t0()))
        .await
        .unwrap();
    let admins = tx
        .insert_team(&Team::new(a.id, "Admins", t0()))
        .await
        .unwrap();
    tx.set_team_permissions(admins, &[1, 2]).await.unwrap();
    let log = [
        entry(a.id, entra.uuid, "User", created, 201, "created"),
        entry(a.id, entra.uuid, "User", changed, 200, "updated"),
        entry(a.id, okta.uuid, "User", okta_first, 200, "replaced"),
        entry(a.id, entra.uuid, "User", okta_first, 200, "updated"),
        entry(a.id, entra.uuid, "User", failed_only, 409, "failed"),
        entry(a.id, entra.uuid, "User", owner, 200, "updated"),
        // A log row naming another account's provider adopts nothing here.
        entry(a.id, foreign.uuid, "User", foreign_logged, 200, "updated"),
        entry(a.id, entra.uuid, "Group", scim_team, 201, "created"),
        entry(a.id, entra.uuid, "Group", plain_team, 200, "updated"),
        entry(a.id, entra.uuid, "Group", admins, 200, "updated"),
    ];
    for e in &log {
        tx.insert_log(e).await.unwrap();
    }
    tx.commit().await.unwrap();

    t.migrate().await;

    let mut tx = s.read().await.unwrap();
    let owner_of_user = |u: Option<User>| u.unwrap().provisioning.idp_uuid;
    assert_eq!(
        owner_of_user(tx.user(a.id, created).await.unwrap()),
        Some(entra.uuid)
    );
    assert_eq!(
        owner_of_user(tx.user(a.id, changed).await.unwrap()),
        Some(entra.uuid)
    );
    // The first provider to change it wins.
    assert_eq!(
        owner_of_user(tx.user(a.id, okta_first).await.unwrap()),
        Some(okta.uuid)
    );
    for id in [failed_only, untouched, owner, foreign_logged] {
        assert_eq!(
            owner_of_user(tx.user(a.id, id).await.unwrap()),
            None,
            "user {id}"
        );
    }
    let owner_of_team = |t: Option<Team>| t.unwrap().provisioning.idp_uuid;
    assert_eq!(
        owner_of_team(tx.team(a.id, scim_team).await.unwrap()),
        Some(entra.uuid)
    );
    assert_eq!(
        owner_of_team(tx.team(a.id, plain_team).await.unwrap()),
        Some(entra.uuid)
    );
    // A team holding permissions is not handed to the provider, whatever the log says.
    assert_eq!(owner_of_team(tx.team(a.id, admins).await.unwrap()), None);
    drop(tx);
    // Migrating again changes nothing.
    t.migrate().await;
    let mut tx = s.read().await.unwrap();
    assert_eq!(owner_of_team(tx.team(a.id, admins).await.unwrap()), None);
    drop(tx);
    t.finish().await;
}

#[tokio::test]
async fn upgrade_adopts_what_the_log_shows_sqlite() {
    upgrade_adopts_what_the_log_shows(Backend::Sqlite).await;
}

#[tokio::test]
async fn upgrade_adopts_what_the_log_shows_postgres() {
    upgrade_adopts_what_the_log_shows(Backend::Postgres).await;
}
