//! Upgrading a database of schema 5 (before SCIM ownership): migration 0006 makes a provider's
//! what its provisioning log shows it created or changed, so Entra keeps managing it, and nothing
//! that would hand a SCIM token more power.

use super::{account, saml_idp, t0};
use roster_core::model::*;
use roster_core::store::{LogEntry, SortKey};
use roster_store_tests::{Backend, TestStore};
use uuid::Uuid;

fn entry(
    account: AccountId,
    idp: Uuid,
    kind: &str,
    id: impl std::fmt::Display,
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

/// A user as schema 5 held it: no opaque SCIM id.
fn legacy_user(account: AccountId, email: &str) -> NewUser {
    let mut u = NewUser::new(account, email, "F", "L", t0());
    u.scim_id = None;
    u
}

/// A team as schema 5 held it: no opaque SCIM id.
fn legacy_team(account: AccountId, name: &str) -> Team {
    let mut t = Team::new(account, name, t0());
    t.scim_id = None;
    t
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
    let mut owner = legacy_user(a.id, "owner@example.com");
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
            tx.insert_user(&legacy_user(a.id, &format!("{name}@example.com")))
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
        .insert_team(&legacy_team(a.id, "Entra group"))
        .await
        .unwrap();
    let plain_team = tx
        .insert_team(&legacy_team(a.id, "Renamed by SCIM"))
        .await
        .unwrap();
    let admins = tx.insert_team(&legacy_team(a.id, "Admins")).await.unwrap();
    tx.set_team_permissions(admins, &[PermissionId(1), PermissionId(2)])
        .await
        .unwrap();
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
    // Users and teams made before opaque SCIM ids answer to the integer ids Entra stored.
    let legacy = tx
        .scim_user(a.id, ScimRef::Legacy(created.0))
        .await
        .unwrap()
        .expect("a legacy user answers to its integer id");
    assert_eq!((legacy.id, legacy.scim_id), (created, None));
    let team = tx
        .scim_team(a.id, ScimRef::Legacy(scim_team.0))
        .await
        .unwrap()
        .expect("a legacy team answers to its integer id");
    assert_eq!((team.id, team.scim_id), (scim_team, None));
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

/// A directory as the code of schema 6 stored it (`fixtures/schema-6`, made through the real APIs
/// by `scripts/make_upgrade_fixtures.py`): after migrating, every row is there and usable.
async fn schema_6_directory_survives_migration(t: TestStore, expected: &serde_json::Value) {
    t.migrate().await;
    let s = &t.store;
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    let idp: Uuid = expected["idp"].as_str().unwrap().parse().unwrap();
    let mut tx = s.read().await.unwrap();
    let mut users: Vec<String> = tx
        .list_users(AccountId(1), &super::all(SortKey::Id))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|u| u.email)
        .collect();
    users.sort();
    assert_eq!(users, strings(&expected["users"]));
    let mut teams: Vec<String> = tx
        .list_teams(AccountId(1), &super::all(SortKey::Id))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|t| t.name)
        .collect();
    teams.sort();
    assert_eq!(teams, strings(&expected["teams"]));
    let scope = roster_core::store::ScimScope {
        account: AccountId(1),
        idp,
        caller: None,
    };
    let group: TeamId = expected["scim_group"].as_str().unwrap().parse().unwrap();
    let mut members: Vec<String> = tx
        .team_members(&scope, &[group])
        .await
        .unwrap()
        .remove(&group)
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.user_id.to_string())
        .collect();
    members.sort();
    assert_eq!(members, strings(&expected["scim_group_members"]));
    let page = tx
        .scim_users(
            &scope,
            &roster_core::store::ScimQuery {
                filter: None,
                sort: roster_core::store::ScimSort::Id,
                descending: false,
                offset: 0,
                limit: 100,
                after_id: None,
                base: None,
            },
        )
        .await
        .unwrap();
    let mut scim_users: Vec<String> = page.items.iter().map(|u| u.id.to_string()).collect();
    scim_users.sort();
    assert_eq!(scim_users, strings(&expected["scim_users"]));
    let log = tx.list_log(AccountId(1), idp, 0, 100).await.unwrap();
    assert_eq!(log.total, expected["log_entries"].as_i64().unwrap());
    let sealed = tx
        .all_idps()
        .await
        .unwrap()
        .into_iter()
        .find_map(|i| match i.config {
            IdpConfig::Oidc(c) => Some(c.client_secret),
            IdpConfig::Saml(_) => None,
        })
        .expect("the OIDC provider");
    assert!(sealed.is_sealed());
    drop(tx);
    let key = roster_core::token::hash_key(expected["bot_token"].as_str().unwrap());
    let found = s.token_by_hash(&key, Some(idp)).await.unwrap();
    assert!(found.is_some(), "the bot's token still authenticates");
    t.finish().await;
}

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/schema-6")
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
        .unwrap()
}

#[tokio::test]
async fn schema_6_directory_survives_migration_sqlite() {
    let t = TestStore::sqlite_copy_of(&fixtures().join("roster.sqlite3")).await;
    schema_6_directory_survives_migration(t, &expected()["sqlite"]).await;
}

#[tokio::test]
async fn schema_6_directory_survives_migration_postgres() {
    let dump = std::fs::read_to_string(fixtures().join("postgres.sql")).unwrap();
    let t = TestStore::postgres_from_dump(&dump).await;
    schema_6_directory_survives_migration(t, &expected()["postgres"]).await;
}
