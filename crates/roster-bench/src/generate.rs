//! A realistic directory, loaded straight into a store: users with names, e-mails, titles and
//! enterprise attributes (stored exactly as `POST /Users` would store them), and groups of many
//! sizes. Batched transactions; PostgreSQL loads from several connections at once.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use roster_core::model::{Team, UserId};
use roster_core::service::IdpInput;
use roster_core::{PublicUrls, Roster, Store, SystemClock};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;

const CERT: &str = include_str!("../../roster-server/tests/fixtures/idp-cert-sha256.pem");
const GIVEN: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim",
    "Élodie", "Zoë",
];
const FAMILY: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Berners-Lee",
];
const TITLES: &[&str] = &[
    "Engineer", "Manager", "Analyst", "Designer", "Director", "Support",
];
const DEPARTMENTS: &[&str] = &["R&D", "Sales", "Finance", "Operations", "Legal"];
const BATCH: usize = 5_000;

/// What was made, for the workloads.
#[derive(Debug, Clone, Serialize)]
pub struct Directory {
    pub owner_key: String,
    pub idp: String,
    pub first_user: i64,
    pub last_user: i64,
    pub users: usize,
    /// (team id, members), the largest first.
    /// Each group's SCIM id and size.
    pub groups: Vec<(String, usize)>,
    pub load_seconds: f64,
}

/// The generated owner's console sign-in (the console workloads use it).
pub const CONSOLE_EMAIL: &str = "owner@bench.test";
pub const CONSOLE_PASSWORD: &str = "bench console password";

pub fn user_name(i: usize) -> String {
    format!("user{i}@bench.test")
}

pub async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("postgres") {
        let s = roster_store_postgres::PgStore::open(url)
            .await
            .context("opening PostgreSQL")?;
        s.migrate().await?;
        Ok(Arc::new(s))
    } else {
        let s = roster_store_sqlite::SqliteStore::open(url)
            .await
            .context("opening SQLite")?;
        s.migrate().await?;
        Ok(Arc::new(s))
    }
}

/// After a bulk load: on PostgreSQL, what autovacuum would do on its own a little later
/// (`VACUUM ANALYZE`), so the workloads meet a settled database. SQLite needs nothing.
pub async fn settle(url: &str) -> anyhow::Result<()> {
    if url.starts_with("postgres") {
        let s = roster_store_postgres::PgStore::open(url)
            .await
            .context("opening PostgreSQL")?;
        s.vacuum_analyze().await?;
        s.close().await;
    }
    Ok(())
}

fn resource(i: usize) -> serde_json::Value {
    let given = GIVEN[i % GIVEN.len()];
    let family = FAMILY[(i / GIVEN.len()) % FAMILY.len()];
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": user_name(i),
        "externalId": format!("ext-{i:08}"),
        "active": true,
        "displayName": format!("{given} {family}"),
        "title": TITLES[i % TITLES.len()],
        "name": {"givenName": given, "familyName": family, "formatted": format!("{given} {family}")},
        "emails": [{"value": format!("{}.{}{i}@work.bench.test", given.to_lowercase(), family.to_lowercase()), "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": DEPARTMENTS[i % DEPARTMENTS.len()],
            "employeeNumber": format!("{i:07}"),
        },
    })
}

/// The SCIM id of generated user `i`: a UUID of version 7's layout whose last 48 bits are `i`, so
/// that the load scripts can name any user without a list of a million ids (see
/// [`USER_SCIM_ID_LUA`]).
pub fn user_scim_id(i: usize) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000u128 | i as u128)
}

/// The Lua format that makes [`user_scim_id`]'s text from `i`.
pub const USER_SCIM_ID_LUA: &str = "01900000-0000-7000-8000-%012x";

/// Load `users` users and groups of `groups` sizes into an empty store; make its owner, an
/// identity provider with SCIM on, and the owner's token.
pub async fn directory(
    store: &Arc<dyn Store>,
    users: usize,
    groups: &[usize],
    progress: bool,
) -> anyhow::Result<Directory> {
    let started = std::time::Instant::now();
    let roster = Roster::new(
        store.clone(),
        Arc::new(SystemClock),
        PublicUrls::from_base("http://127.0.0.1"),
        roster_core::SecretKey::generate()?,
    );
    let boot = roster
        .bootstrap(CONSOLE_EMAIL)
        .await?
        .context("the store is not empty")?;
    roster
        .set_password(
            None,
            CONSOLE_EMAIL,
            &roster_core::Secret::new(CONSOLE_PASSWORD),
        )
        .await?;
    let owner_key = boot.key.0.expose().to_string();
    let principal = roster
        .authenticate(Some(&format!("Token {owner_key}")))
        .await?;
    let idp = roster
        .create_idp(
            &principal,
            roster_core::model::Protocol::Saml,
            &IdpInput {
                name: Some("Bench".into()),
                sign_in_url: Some("https://login.bench.test/saml2".into()),
                entity_id_url: Some("https://sts.bench.test/".into()),
                certificate: Some(CERT.into()),
                scim_integration: Some(true),
                is_active: Some(true),
                ..Default::default()
            },
        )
        .await?;
    let account = boot.account.id;
    let idp_uuid = idp.uuid;
    let bar = if progress {
        ProgressBar::new(users as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} users ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("loading {}", store.backend()));
    // SQLite has one writer; PostgreSQL takes several loaders at once.
    let loaders = if store.backend() == "postgres" { 4 } else { 1 };
    let batches: Vec<(usize, usize)> = (0..users)
        .step_by(BATCH)
        .map(|s| (s, (s + BATCH).min(users)))
        .collect();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let batches = Arc::new(batches);
    let mut tasks = Vec::new();
    for _ in 0..loaders {
        let (store, next, batches, bar) =
            (store.clone(), next.clone(), batches.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&(from, to)) = batches.get(b) else {
                    return Ok::<_, anyhow::Error>(());
                };
                let now = chrono::Utc::now();
                let mut tx = store.begin().await?;
                for i in from..to {
                    let mut u =
                        roster_core::scim::user_from_resource(account, idp_uuid, &resource(i), now)
                            .map_err(|e| anyhow::anyhow!("{e}"))?;
                    u.scim_id = Some(user_scim_id(i));
                    tx.insert_user(&u.into()).await?;
                }
                tx.commit().await?;
                bar.inc((to - from) as u64);
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    bar.finish_and_clear();
    // Identity columns hand out ids without gaps on an empty store: the owner first, then the users.
    let (lo, hi) = (boot.owner.id.0 + 1, boot.owner.id.0 + users as i64);
    let mut made = Vec::new();
    let now = chrono::Utc::now();
    for (n, size) in groups.iter().enumerate() {
        let size = (*size).min(users);
        let mut tx = store.begin().await?;
        let mut new_team = Team::new(account, format!("Group {n} ({size} members)"), now);
        new_team.provisioning.idp_uuid = Some(idp_uuid);
        let team = tx.insert_team(&new_team).await?;
        tx.commit().await?;
        let ids: Vec<i64> = (lo..lo + size as i64).collect();
        let scope = roster_core::store::ScimScope {
            caller: None,
            account,
            idp: idp_uuid,
        };
        for chunk in ids.chunks(10_000) {
            let members: Vec<(UserId, Option<String>)> =
                chunk.iter().map(|id| (UserId(*id), None)).collect();
            let mut tx = store.begin().await?;
            tx.add_team_members(&scope, team, &members).await?;
            tx.commit().await?;
        }
        made.push((new_team.scim_ref().to_string(), size));
    }
    Ok(Directory {
        owner_key,
        idp: idp.uuid.to_string(),
        first_user: lo,
        last_user: hi,
        users,
        groups: made,
        load_seconds: started.elapsed().as_secs_f64(),
    })
}
