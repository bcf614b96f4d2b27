//! The audit's attacks (issue 9), each stopped: nothing written without a token, a SCIM token
//! that can do only SCIM, PATCH computed outside the write transaction, rate limits nobody else
//! can spend, slow clients let go, tokens that can be contained, names without control
//! characters, bounded group pages. (The sealed OIDC secret is in `idps`; private data files in
//! the binary's tests.)

use crate::both;
use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BAD_KEY: &str = "azion00000000000000000000000000000000000";

/// The provisioning log of the provider, as its owner sees it.
async fn log_of(app: &TestApp, idp: &str) -> Vec<Value> {
    let (st, v) = app
        .get(&format!(
            "/iam/identity_providers/saml2/{idp}/provisioning_log?page_size=100"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["results"].as_array().unwrap().clone()
}

/// A raw request (status, headers, body text) to any URL.
async fn raw(
    app: &TestApp,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut rb = app.client.request(method, url);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status();
    let h = resp.headers().clone();
    (status, h, resp.text().await.unwrap())
}

// ---- 1. Disk fill without a token ----

/// Unauthenticated requests write nothing, whatever their request id; an existing and an unknown
/// provider answer them alike; another account's token writes nothing into this account's log.
async fn unauthenticated_requests_write_nothing(app: &TestApp) {
    let s = app.scim().await;
    let huge_id = "r".repeat(60_000);
    let unknown = format!("{}/v4/users/scim/{}/Users", app.base, uuid::Uuid::new_v4());
    let known = format!("{}/Users", s.base);
    let before = app.roster.signals().unauthenticated_scim_count();
    let mut answers = Vec::new();
    for url in [&known, &unknown] {
        for auth in [None, Some(format!("Bearer {BAD_KEY}"))] {
            let mut headers = vec![("x-request-id", huge_id.as_str())];
            if let Some(a) = &auth {
                headers.push(("authorization", a.as_str()));
            }
            let (st, h, body) = raw(app, Method::POST, url, &headers).await;
            let rid = h["x-request-id"].to_str().unwrap();
            assert!(
                rid.len() <= 64 && rid != huge_id,
                "the client's request id is replaced, not echoed ({} bytes)",
                rid.len()
            );
            answers.push((auth.is_some(), st, body));
        }
    }
    // Same status and body for the provider that exists and the one that does not.
    assert_eq!(answers[0], answers[2]);
    assert_eq!(answers[1], answers[3]);
    assert_eq!(answers[1].1, StatusCode::UNAUTHORIZED, "{}", answers[1].2);
    assert_eq!(
        app.roster.signals().unauthenticated_scim_count(),
        before + 4,
        "each refusal is counted in memory"
    );
    let sample = app.roster.signals().recent_unauthenticated_scim();
    assert!(sample.len() <= 1000 && !sample.is_empty());
    assert!(sample.iter().all(|r| r.idp.len() <= 64));
    // Account A's owner token on account B's endpoint: refused, nothing in B's log.
    let other = app.other_account_owner().await;
    let r = s
        .with_key(&other)
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "intruder@example.com"}),
        )
        .await;
    // To that token, B's provider is one its account does not have.
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(log_of(app, &s.idp).await.is_empty());
    // A flood: refused (401, then 429 for the address), never stored.
    for _ in 0..40 {
        let (st, _, _) = raw(
            app,
            Method::GET,
            &known,
            &[
                ("x-request-id", huge_id.as_str()),
                ("authorization", &format!("Bearer {BAD_KEY}")),
            ],
        )
        .await;
        assert!(
            st == StatusCode::UNAUTHORIZED || st == StatusCode::TOO_MANY_REQUESTS,
            "{st}"
        );
    }
    assert!(log_of(app, &s.idp).await.is_empty());
    // A client's well-formed request id is kept, and logged with its own account's request.
    let r = s
        .req(
            Method::POST,
            "/Users",
            Some(&json!({"schemas": [USER], "userName": "kept@example.com"})),
            &[("x-request-id", "entra-4f1c.attempt:2")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.headers["x-request-id"], "entra-4f1c.attempt:2");
    let log = log_of(app, &s.idp).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["request_id"], "entra-4f1c.attempt:2");
}

/// The log keeps 90 days by default, and at most so many entries per provider.
async fn provisioning_log_is_pruned(app: &TestApp) {
    let s = app.scim().await;
    for i in 0..5 {
        s.user(&format!("old{i}@example.com")).await;
    }
    app.clock.advance(chrono::Duration::days(91));
    for i in 0..3 {
        s.user(&format!("new{i}@example.com")).await;
    }
    let retention = roster_core::service::LogRetention::default();
    assert_eq!(retention.days, 90);
    let pruned = app.roster.prune_provisioning_log(&retention).await.unwrap();
    assert_eq!(pruned, 5);
    assert_eq!(log_of(app, &s.idp).await.len(), 3);
    let pruned = app
        .roster
        .prune_provisioning_log(&roster_core::service::LogRetention {
            days: 90,
            max_entries_per_idp: 2,
        })
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let log = log_of(app, &s.idp).await;
    assert_eq!(log.len(), 2);
    // The newest are kept.
    assert!(
        log.iter()
            .all(|e| e["outcome"] == "created" && e["status"] == 201)
    );
    // Users are never pruned, only log entries.
    assert_eq!(s.count("Users", "userName sw \"old\"").await, 5);
}

// ---- 2. A SCIM-only token can do only SCIM ----

/// A user whose only permission is SCIM tries every way to more: it cannot see itself, the owner
/// or the admins' team; cannot join any team it did not make or add hand-made users to its own;
/// the IAM API refuses it; so does Bulk.
async fn scim_token_cannot_escalate(app: &TestApp) {
    let (_, perms) = app.get("/v4/iam/permissions?page_size=100").await;
    let all: Vec<i64> = perms["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    let (st, v) = app
        .post(
            "/v4/iam/teams",
            json!({"name": "Admins", "permissions_ids": all}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let admins = v["data"]["id"].as_i64().unwrap();
    let bots = app
        .create_team("SCIM bots", &["scim_protocol_integration"])
        .await;
    let bot = app.create_user("bot@example.com", &[bots]).await;
    let hand_made = app.create_user("hand@example.com", &[]).await;
    let (_, me) = app.get("/iam/user").await;
    let owner = me["data"]["id"].as_i64().unwrap();
    let s = app.scim().await;
    let key = app.token_for("bot@example.com").await;
    let b = s.with_key(&key);
    // What SCIM would call them, were they in its scope.
    let (sbot, shand, sowner) = (
        app.scim_id("users", bot).await,
        app.scim_id("users", hand_made).await,
        app.scim_id("users", owner).await,
    );
    let (sadmins, sbots) = (
        app.scim_id("teams", admins).await,
        app.scim_id("teams", bots).await,
    );

    // Users made by hand (the bot itself first) and the owner are not there.
    for id in [&sbot, &shand, &sowner] {
        let p = format!("/Users/{id}");
        assert_eq!(b.get(&p).await.status, StatusCode::NOT_FOUND);
        let r = b
            .patch_ops(
                &p,
                json!([{"op": "replace", "path": "active", "value": false}]),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        let r = b
            .put(&p, json!({"schemas": [USER], "userName": "x@example.com"}))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(b.delete(&p).await.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(b.count("Users", "userName eq \"bot@example.com\"").await, 0);
    assert_eq!(b.get("/Users").await.body["totalResults"], 0);
    // The IAM teams are not there either.
    assert_eq!(b.get("/Groups").await.body["totalResults"], 0);
    assert_eq!(b.count("Groups", "displayName eq \"Admins\"").await, 0);
    for team in [&sadmins, &sbots] {
        let p = format!("/Groups/{team}");
        assert_eq!(b.get(&p).await.status, StatusCode::NOT_FOUND);
        let r = b
            .patch_ops(
                &p,
                json!([{"op": "add", "path": "members", "value": [{"value": sbot.clone()}]}]),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        let r = b
            .put(
                &p,
                json!({"schemas": [GROUP], "displayName": "Mine now", "members": [{"value": sbot.clone()}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(b.delete(&p).await.status, StatusCode::NOT_FOUND);
    }
    // Names it cannot see are still taken.
    let r = b
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "owner@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = b
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Admins"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // Its own group: hand-made users, the owner and the bot are ignored as members.
    let r = b
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Bot group",
                   "members": [{"value": sbot.clone()}, {"value": sowner.clone()}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let g = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["members"], json!([]));
    let r = b
        .patch_ops(
            &format!("/Groups/{g}"),
            json!([{"op": "add", "path": "members", "value": [{"value": shand.clone()}, {"value": sbot.clone()}]}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(
        b.get(&format!("/Groups/{g}")).await.body["members"],
        json!([])
    );
    // Bulk is SCIM too.
    let r = b
        .post(
            "/Bulk",
            json!({"schemas": [BULK], "Operations": [
                {"method": "PATCH", "path": format!("/Groups/{sadmins}"),
                 "data": {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": sbot.clone()}]}]}},
                {"method": "DELETE", "path": format!("/Users/{sowner}")},
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"schemas": [GROUP], "displayName": "Bulk group", "members": [{"value": sbot.clone()}]}}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops[0]["status"], "404");
    assert_eq!(ops[1]["status"], "404");
    assert_eq!(ops[2]["status"], "201");
    // The IAM API: every door shut.
    for (method, path, body) in [
        (Method::GET, "/v4/iam/users".to_string(), None),
        (Method::GET, "/v4/iam/teams".to_string(), None),
        (
            Method::POST,
            "/v4/iam/teams".to_string(),
            Some(json!({"name": "Root", "permissions_ids": all})),
        ),
        (
            Method::PATCH,
            format!("/v4/iam/teams/{admins}"),
            Some(json!({"name": "Pwned"})),
        ),
        (
            Method::PATCH,
            format!("/v4/iam/users/{bot}"),
            Some(json!({"teams_ids": [admins]})),
        ),
        (
            Method::POST,
            "/iam/personal_tokens".to_string(),
            Some(json!({"name": "forever", "expires_at": "2026-12-10T00:00"})),
        ),
        (Method::GET, "/v4/iam/identity_providers".to_string(), None),
    ] {
        let (st, v) = app.call(method.clone(), &path, Some(&key), body).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{method} {path}: {v}");
    }
    // It may read itself.
    let (st, v) = app.call(Method::GET, "/iam/user", Some(&key), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // After all that: the bot is still only in its team, the admins' team unchanged.
    let (_, u) = app.get(&format!("/v4/iam/users/{bot}")).await;
    let teams: Vec<i64> = u["data"]["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(teams, vec![bots], "{u}");
    let (_, t) = app.get(&format!("/v4/iam/teams/{admins}")).await;
    assert_eq!(t["data"]["name"], "Admins");
    assert!(t["data"]["notice"].is_null());
    // Granting a permission to a SCIM-made team is allowed, and the answer says what it means.
    let (st, v) = app
        .patch(
            &format!("/v4/iam/teams/{}", app.iam_id("teams", &g).await),
            json!({"permissions_ids": [all[0]]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(
        v["data"]["notice"]
            .as_str()
            .unwrap()
            .contains("every permission granted here goes to whoever it adds"),
        "{v}"
    );
    // A SCIM DELETE of its own team with members removes it with its memberships.
    let m = b.user("member@example.com").await;
    b.patch_ops(
        &format!("/Groups/{g}"),
        json!([{"op": "add", "path": "members", "value": [{"value": m}]}]),
    )
    .await;
    assert_eq!(
        b.delete(&format!("/Groups/{g}")).await.status,
        StatusCode::NO_CONTENT
    );
    // A bot the provider itself made (Entra syncs its own service user) still cannot act on
    // itself: a token never sees its own user through SCIM.
    let bot2 = s.user("bot2@example.com").await;
    let (st, v) = app
        .patch(
            &format!("/v4/iam/users/{}", app.iam_id("users", &bot2).await),
            json!({"teams_ids": [bots]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let key2 = app.token_for("bot2@example.com").await;
    let b2 = s.with_key(&key2);
    assert_eq!(
        b2.get(&format!("/Users/{bot2}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b2.count("Users", "userName eq \"bot2@example.com\"").await,
        0
    );
    let r = b2
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Bot2 group", "members": [{"value": bot2}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["members"], json!([]));
    let r = b.get(&format!("/Users/{m}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.get("groups").is_none_or(|g| g == &json!([])),
        "{}",
        r.body
    );
}

// ---- 3. One PATCH cannot stall every account ----

/// A store that can hold the next write transaction at `begin` and records what was opened.
struct Gated {
    inner: std::sync::Arc<dyn roster_core::store::Store>,
    armed: std::sync::atomic::AtomicBool,
    events: std::sync::Mutex<Vec<&'static str>>,
    reached: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl roster_core::store::Store for Gated {
    async fn begin(&self) -> roster_core::store::StoreResult<Box<dyn roster_core::store::Tx>> {
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.events.lock().unwrap().push("begin (held)");
            self.reached.notify_one();
            self.release.notified().await;
        } else {
            self.events.lock().unwrap().push("begin");
        }
        self.inner.begin().await
    }
    async fn read(&self) -> roster_core::store::StoreResult<Box<dyn roster_core::store::Read>> {
        self.events.lock().unwrap().push("read");
        self.inner.read().await
    }
    async fn ping(&self) -> roster_core::store::StoreResult<()> {
        self.inner.ping().await
    }
    async fn token_by_hash(
        &self,
        key_hash: &[u8; 32],
        idp: Option<uuid::Uuid>,
    ) -> roster_core::store::StoreResult<Option<roster_core::store::TokenWithUser>> {
        self.inner.token_by_hash(key_hash, idp).await
    }
    async fn touch_token(
        &self,
        uuid: uuid::Uuid,
        at: chrono::DateTime<chrono::Utc>,
    ) -> roster_core::store::StoreResult<()> {
        self.inner.touch_token(uuid, at).await
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

/// A PATCH is read and computed before its write transaction begins: held just before that
/// begin, another account's write goes through and a concurrent change to the same user lands;
/// the PATCH's version-checked write then fails once and is computed again, keeping both.
async fn patch_computes_outside_the_write(backend: Backend) {
    let gate = std::sync::Arc::new(std::sync::OnceLock::<std::sync::Arc<Gated>>::new());
    let g2 = gate.clone();
    let app = TestApp::spawn_wrapped(
        backend,
        roster_server::ServerConfig {
            scim_rate_limit: 0,
            ..Default::default()
        },
        move |inner| {
            let g = std::sync::Arc::new(Gated {
                inner,
                armed: false.into(),
                events: Default::default(),
                reached: Default::default(),
                release: Default::default(),
            });
            let _ = g2.set(g.clone());
            g
        },
    )
    .await;
    let gated = gate.get().unwrap().clone();
    let s = app.scim().await;
    let id = s.user("big.patch@example.com").await;
    let other = app.other_account_owner().await;
    // 1,000 operations of 100 e-mails' worth: the largest PATCH the limits allow.
    let ops: Vec<Value> = (0..1000)
        .map(|i| json!({"op": "add", "path": "emails", "value": [{"value": format!("e{}@example.com", i % 100), "type": format!("t{}", i % 100)}]}))
        .collect();
    gated.events.lock().unwrap().clear();
    gated.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let path = format!("/Users/{id}");
    let patch = s.patch(&path, json!({"schemas": [PATCH_OP], "Operations": ops}));
    let during = async {
        gated.reached.notified().await;
        assert_eq!(
            gated.events.lock().unwrap().as_slice(),
            ["read", "begin (held)"],
            "the PATCH read its user before asking for the writer"
        );
        // Another account writes while the PATCH is held.
        let (st, v) = app
            .call(
                Method::POST,
                "/v4/iam/users",
                Some(&other),
                Some(
                    json!({"first_name": "O", "last_name": "A", "email": "other.user@example.com"}),
                ),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        // And the same user changes under the PATCH.
        let r = s
            .patch_ops(
                &path,
                json!([{"op": "replace", "path": "title", "value": "Changed meanwhile"}]),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        gated.release.notify_one();
    };
    let (r, ()) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(patch, during)
    })
    .await
    .expect("nothing waits on the held PATCH");
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["title"], "Changed meanwhile");
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 100);
    assert_eq!(r.headers["etag"], "W/\"3\"");
    let begins = gated
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.starts_with("begin"))
        .count();
    // The held begin, the other account's, the concurrent PATCH's, and the retry's.
    assert_eq!(begins, 4, "{:?}", gated.events.lock().unwrap());

    // A group PATCH that needs the whole member list (a filter on `display`) reads it inside its
    // write transaction: a member the IAM API adds while it waits for the writer is kept.
    let g = s.group("Whole list").await;
    let m1 = s.user("m1@example.com").await;
    let m2 = s.user("m2@example.com").await;
    let (m2_iam, g_iam) = (
        app.iam_id("users", &m2).await,
        app.iam_id("teams", &g).await,
    );
    let gp = format!("/Groups/{g}");
    let r = s
        .patch_ops(
            &gp,
            json!([{"op": "add", "path": "members", "value": [{"value": m1}]}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    gated.events.lock().unwrap().clear();
    gated.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let patch = s.patch_ops(
        &gp,
        json!([{"op": "remove", "path": "members[display eq \"Nobody\"]"}]),
    );
    let during = async {
        gated.reached.notified().await;
        let (st, v) = app
            .patch(
                &format!("/v4/iam/users/{m2_iam}"),
                json!({"teams_ids": [g_iam]}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        gated.release.notify_one();
    };
    let (r, ()) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(patch, during)
    })
    .await
    .expect("nothing waits on the held PATCH");
    assert!(r.status.is_success(), "{}", r.body);
    let members: Vec<String> = s.get(&gp).await.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(members, vec![m1.clone(), m2]);
    app.finish().await;
}

#[tokio::test]
async fn patch_computes_outside_the_write_sqlite() {
    patch_computes_outside_the_write(Backend::Sqlite).await;
}

#[tokio::test]
async fn patch_computes_outside_the_write_postgres() {
    patch_computes_outside_the_write(Backend::Postgres).await;
}

/// At most 100 values in a multi-valued attribute (other than members), 1,000 operations per PATCH.
async fn multi_valued_attributes_are_bounded(app: &TestApp) {
    let s = app.scim().await;
    let emails: Vec<Value> = (0..101)
        .map(|i| json!({"value": format!("m{i}@example.com")}))
        .collect();
    let r = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "many@example.com", "emails": emails}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["scimType"], "invalidValue");
    assert!(
        r.body["detail"].as_str().unwrap().contains("emails"),
        "{}",
        r.body
    );
    let id = s.user("few@example.com").await;
    let r = s
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "add", "path": "emails", "value": emails}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["scimType"], "invalidValue");
    let ops: Vec<Value> = (0..1001)
        .map(|_| json!({"op": "replace", "path": "title", "value": "x"}))
        .collect();
    let r = s.patch_ops(&format!("/Users/{id}"), json!(ops)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Nothing half-written.
    let r = s.get(&format!("/Users/{id}")).await;
    assert!(r.body.get("emails").is_none() && r.body.get("title").is_none());
    assert_eq!(r.headers["etag"], "W/\"1\"");
    // Members are not capped: 300 in one create.
    let ids: Vec<String> = {
        let mut v = Vec::new();
        for i in 0..300 {
            v.push(s.user(&format!("g{i}@example.com")).await);
        }
        v
    };
    let members: Vec<Value> = ids.iter().map(|i| json!({"value": i})).collect();
    let r = s
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Large", "members": members}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 300);
}

// ---- 4. The rate limiter ----

fn limited() -> roster_server::ServerConfig {
    roster_server::ServerConfig {
        scim_rate_limit: 5,
        scim_unauthenticated_rate_limit: 2,
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..Default::default()
    }
}

/// Other spellings of the provider's UUID are 404 and spend nobody's budget; failed
/// authentication spends its own address's budget, never the provider's; behind a trusted proxy
/// the address is `X-Forwarded-For`'s.
async fn rate_limits_cannot_be_turned_against_the_provider(app: &TestApp) {
    let s = app.scim().await;
    let entra = [("x-forwarded-for", "198.51.100.7")];
    let attacker = "203.0.113.9";
    let uuid = s.idp.clone();
    let spellings = [
        format!("%20{uuid}"),
        uuid.replace('-', ""),
        format!("%7B{uuid}%7D"),
        format!("urn:uuid:{uuid}"),
        uuid.to_uppercase(),
    ];
    for sp in &spellings {
        for _ in 0..30 {
            let r = s
                .req(
                    Method::GET,
                    &format!("{}/v4/users/scim/{sp}/Users", app.base),
                    None,
                    &entra,
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{sp}: {}", r.body);
            assert_eq!(r.body["status"], "404");
        }
    }
    // The provider's budget (bursts of 10) is untouched by those 150.
    for _ in 0..8 {
        let r = s.req(Method::GET, "/Users", None, &entra).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    // Unauthenticated traffic from the attacker's address: 401 until its own budget is spent,
    // then 429 with Retry-After.
    let bad = s.with_key(BAD_KEY);
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let r = bad
            .req(
                Method::GET,
                "/Users",
                None,
                &[("x-forwarded-for", attacker)],
            )
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers.contains_key("retry-after"));
        }
        statuses.push(r.status);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(statuses[29], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    // A valid token is served from any address: failures spend no one else's budget.
    let r = s
        .req(
            Method::GET,
            "/Users",
            None,
            &[("x-forwarded-for", attacker)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The real provider, from its own address, is not affected.
    let r = s.req(Method::GET, "/Users", None, &entra).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // An authenticated caller's own budget: bursts of twice the rate, then 429.
    let mut last = StatusCode::OK;
    for _ in 0..30 {
        last = s.req(Method::GET, "/Users", None, &entra).await.status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // IPv6 clients share the budget of their /64: new interface ids buy nothing.
    let mut statuses = Vec::new();
    for i in 1..=30 {
        let xff = format!("2001:db8:0:1::{i:x}");
        statuses.push(
            bad.req(Method::GET, "/Users", None, &[("x-forwarded-for", &xff)])
                .await
                .status,
        );
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(statuses[29], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

/// Without a trusted proxy, `X-Forwarded-For` is the client's say-so and is ignored: changing it
/// buys no fresh budget.
async fn forwarded_headers_need_a_trusted_proxy(app: &TestApp) {
    let s = app.scim().await;
    let bad = s.with_key(BAD_KEY);
    let mut last = StatusCode::OK;
    for i in 0..30 {
        let xff = format!("192.0.2.{i}");
        last = bad
            .req(Method::GET, "/Users", None, &[("x-forwarded-for", &xff)])
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // The scheme, too: the scim_url stays http for an untrusted X-Forwarded-Proto.
    let (_, v) = app
        .get(&format!("/iam/identity_providers/saml2/{}", s.idp))
        .await;
    assert!(
        v["scim_url"]
            .as_str()
            .unwrap()
            .starts_with(&app.base.to_string()),
        "{v}"
    );
}

fn untrusted_limited() -> roster_server::ServerConfig {
    roster_server::ServerConfig {
        scim_rate_limit: 5,
        scim_unauthenticated_rate_limit: 2,
        ..Default::default()
    }
}

// ---- 5. Slow clients ----

fn impatient() -> roster_server::ServerConfig {
    roster_server::ServerConfig {
        scim_rate_limit: 0,
        body_read_timeout: Duration::from_secs(1),
        connections: roster_server::listen::ConnectionLimits {
            max_connections: 4,
            header_read_timeout: Duration::from_secs(1),
        },
        ..Default::default()
    }
}

/// Read until the server closes the connection; answer what it sent.
async fn until_closed(conn: &mut tokio::net::TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept a slow connection open"),
        }
    }
}

/// Half-open connections are closed after the header timeout; past the connection cap new
/// connections wait for a slot; an idle keep-alive connection is let go; a body that stalls is 408.
async fn slow_clients_are_let_go(app: &TestApp) {
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(c);
    }
    // Give the server the moment it needs to accept all four.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A fifth connection waits for a slot: the cap holds while the four hold theirs.
    let mut fifth = tokio::net::TcpStream::connect(&addr).await.unwrap();
    fifth
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), fifth.read(&mut buf))
            .await
            .is_err(),
        "the fifth connection is served only once a slot is free"
    );
    for c in &mut slow {
        let got = until_closed(c).await;
        assert!(!got.contains("200 OK"), "{got}");
    }
    let got = until_closed(&mut fifth).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    // Idle keep-alive: answered, then closed when nothing follows.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let got = until_closed(&mut idle).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    // A body that never finishes: 408.
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /iam/personal_tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Token {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"na",
        app.owner_key
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    let got = until_closed(&mut stalled).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    // And the server still serves.
    assert_eq!(app.get("/iam/user").await.0, StatusCode::OK);
}

// ---- 6. Tokens can be contained ----

async fn tokens_can_be_contained(app: &TestApp) {
    let eve = app.create_user("eve@example.com", &[]).await;
    // The owner makes Eve a token (shown once).
    let (st, v) = app
        .post(
            &format!("/iam/users/{eve}/personal_tokens"),
            json!({"name": "for eve", "expires_at": "2026-12-05T00:00"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["user_id"], eve);
    let eve_key = v["key"].as_str().unwrap().to_string();
    let first = v["uuid"].as_str().unwrap().to_string();
    // A token cannot outlive the token that made it.
    let (st, v) = app
        .call(
            Method::POST,
            "/iam/personal_tokens",
            Some(&eve_key),
            Some(json!({"name": "forever", "expires_at": "2038-01-01T00:00"})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["expires_at"][0]
            .as_str()
            .unwrap()
            .contains("cannot outlive"),
        "{v}"
    );
    let (st, v) = app
        .call(
            Method::POST,
            "/iam/personal_tokens",
            Some(&eve_key),
            Some(json!({"name": "second", "expires_at": "2026-12-04T00:00"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let second_key = v["key"].as_str().unwrap().to_string();
    // Eve sees her own; she cannot list anyone else's.
    let (_, mine) = app
        .call(Method::GET, "/iam/personal_tokens", Some(&eve_key), None)
        .await;
    assert_eq!(mine["count"], 2);
    let (st, _) = app
        .call(
            Method::GET,
            "/iam/personal_tokens?user_id=1",
            Some(&eve_key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // The owner sees every token of the account, or one user's.
    let (_, all) = app.get("/iam/personal_tokens").await;
    assert_eq!(all["count"], 3, "{all}");
    let (_, hers) = app
        .get(&format!("/iam/personal_tokens?user_id={eve}"))
        .await;
    assert_eq!(hers["count"], 2);
    assert!(!hers.to_string().contains(&eve_key));
    // Revokes one of them.
    assert_eq!(
        app.delete(&format!("/iam/personal_tokens/{first}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&eve_key), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&second_key), None)
            .await
            .0,
        StatusCode::OK
    );
    // Revokes all of hers.
    let (st, v) = app
        .delete(&format!("/iam/users/{eve}/personal_tokens"))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["revoked"], 1);
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&second_key), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // Users of other accounts are not the owner's to hand tokens to.
    let (st, _) = app
        .post(
            "/iam/users/999999/personal_tokens",
            json!({"name": "x", "expires_at": "2026-12-05T00:00"}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // A non-owner cannot make tokens for others.
    let (st, _) = app
        .call(
            Method::POST,
            "/iam/users/1/personal_tokens",
            Some(&app.token_for("eve@example.com").await),
            Some(json!({"name": "x", "expires_at": "2026-12-05T00:00"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

/// One 401 message whether the token is unknown, expired or inactive.
async fn one_message_for_every_bad_token(app: &TestApp) {
    let unknown = app
        .call(Method::GET, "/iam/user", Some(BAD_KEY), None)
        .await;
    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED);
    // Inactive (its user deactivated), well before it expires.
    let off = app.create_user("off@example.com", &[]).await;
    let inactive_key = app.token_for("off@example.com").await;
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&inactive_key), None)
            .await
            .0,
        StatusCode::OK
    );
    let (st, v) = app
        .patch(&format!("/v4/iam/users/{off}"), json!({"is_active": false}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let inactive = app
        .call(Method::GET, "/iam/user", Some(&inactive_key), None)
        .await;
    assert_eq!(inactive, unknown);
    // Expired (its user active).
    app.create_user("later@example.com", &[]).await;
    let expiring = app.token_for("later@example.com").await;
    app.clock.advance(chrono::Duration::days(31));
    let expired = app
        .call(Method::GET, "/iam/user", Some(&expiring), None)
        .await;
    assert_eq!(expired, unknown);
}

// ---- 7. Control characters ----

async fn scim_names_are_single_line(app: &TestApp) {
    let s = app.scim().await;
    for (attr, body) in [
        (
            "userName",
            json!({"schemas": [USER], "userName": "a\u{1b}[31mb@example.com"}),
        ),
        (
            "userName",
            json!({"schemas": [USER], "userName": "crlf@example.com\r\nX-Injected: 1"}),
        ),
        (
            "displayName",
            json!({"schemas": [USER], "userName": "d@example.com", "displayName": "evil\u{202e}gnp.exe"}),
        ),
        (
            "externalId",
            json!({"schemas": [USER], "userName": "e@example.com", "externalId": "x\u{7f}"}),
        ),
        (
            "name.givenName",
            json!({"schemas": [USER], "userName": "n@example.com", "name": {"givenName": "A\u{7}"}}),
        ),
    ] {
        let r = s.post("/Users", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert_eq!(r.body["scimType"], "invalidValue");
        assert!(
            r.body["detail"].as_str().unwrap().contains(attr),
            "{attr}: {}",
            r.body
        );
    }
    let r = s
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Team\u{1b}"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // PATCH and PUT are held to the same rule.
    let id = s.user("fine@example.com").await;
    let r = s
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "displayName", "value": "x\u{0}y"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = s
        .put(
            &format!("/Users/{id}"),
            json!({"schemas": [USER], "userName": "fine@example.com", "name": {"familyName": "F\u{1b}"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Multi-line attributes keep their newlines.
    let r = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "addr@example.com",
                   "addresses": [{"type": "work", "formatted": "1 Main St\nSpringfield"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.body["addresses"][0]["formatted"],
        "1 Main St\nSpringfield"
    );
    // userName uniqueness is by NFC; the stored value is exactly as received.
    let composed = "jos\u{e9}@example.com";
    let decomposed = "jose\u{301}@example.com";
    let r = s
        .post("/Users", json!({"schemas": [USER], "userName": decomposed}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["userName"], decomposed);
    let r = s
        .post("/Users", json!({"schemas": [USER], "userName": composed}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(
        s.count("Users", &format!("userName eq \"{composed}\""))
            .await,
        1
    );
}

// ---- 8. Smaller ones ----

/// A page of groups with members holds at most 100 groups, every member list whole.
async fn group_pages_with_members_are_bounded(app: &TestApp) {
    let s = app.scim().await;
    let u = s.user("in.every.group@example.com").await;
    for i in 0..120 {
        let r = s
            .post(
                "/Groups",
                json!({"schemas": [GROUP], "displayName": format!("G{i:03}"), "members": [{"value": u}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = s.get("/Groups?count=1000").await;
    assert_eq!(r.body["totalResults"], 120);
    assert_eq!(r.body["itemsPerPage"], 100);
    let groups = r.body["Resources"].as_array().unwrap();
    assert_eq!(groups.len(), 100);
    assert!(
        groups
            .iter()
            .all(|g| g["members"].as_array().unwrap().len() == 1)
    );
    let r = s.get("/Groups?count=1000&startIndex=101").await;
    assert_eq!(r.body["Resources"].as_array().unwrap().len(), 20);
    // Without members, the full page size.
    let r = s.get("/Groups?count=1000&excludedAttributes=members").await;
    assert_eq!(r.body["Resources"].as_array().unwrap().len(), 120);
    // Cursors: a next cursor while groups remain.
    let r = s.get("/Groups?count=1000&cursor").await;
    assert_eq!(r.body["Resources"].as_array().unwrap().len(), 100);
    let next = r.body["nextCursor"].as_str().unwrap().to_string();
    let r = s.get(&format!("/Groups?count=1000&cursor={next}")).await;
    assert_eq!(r.body["Resources"].as_array().unwrap().len(), 20);
    assert!(r.body.get("nextCursor").is_none());
}

both!(
    unauthenticated_requests_write_nothing,
    provisioning_log_is_pruned,
    scim_token_cannot_escalate,
    multi_valued_attributes_are_bounded,
    tokens_can_be_contained,
    one_message_for_every_bad_token,
    scim_names_are_single_line,
    group_pages_with_members_are_bounded
);

both!(limited() => rate_limits_cannot_be_turned_against_the_provider);

both!(untrusted_limited() => forwarded_headers_need_a_trusted_proxy);

both!(impatient() => slow_clients_are_let_go);
