//! `TestApp`: a store, a settable clock, the server on port 0, and an owner token.

use chrono::{TimeZone, Utc};
use reqwest::{Method, StatusCode};
use roster_core::clock::FixedClock;
use roster_core::{PublicUrls, Roster};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::oneshot;

pub use roster_store_tests::Backend;
use roster_store_tests::TestStore;

pub struct TestApp {
    pub base: String,
    pub owner_key: String,
    /// The instance operator's token.
    pub operator_key: String,
    pub clock: Arc<FixedClock>,
    pub roster: Roster,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    store: Option<TestStore>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        // No SCIM rate limit: the suite sends bursts far beyond any identity provider's.
        Self::spawn_with(
            backend,
            roster_server::ServerConfig {
                scim_rate_limit: 0,
                ..Default::default()
            },
        )
        .await
    }

    pub async fn spawn_with(backend: Backend, config: roster_server::ServerConfig) -> TestApp {
        Self::spawn_wrapped(backend, config, |s| s).await
    }

    /// Like `spawn_with`, the server's store seen through `wrap` (to observe or hold its calls).
    pub async fn spawn_wrapped(
        backend: Backend,
        config: roster_server::ServerConfig,
        wrap: impl FnOnce(Arc<dyn roster_core::store::Store>) -> Arc<dyn roster_core::store::Store>,
    ) -> TestApp {
        let test_store = TestStore::new(backend).await;
        let store = wrap(test_store.store.clone());
        let clock = Arc::new(FixedClock::new(
            Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let roster = Roster::new(
            store,
            clock.clone(),
            PublicUrls::from_base(&base),
            roster_core::SecretKey::generate().unwrap(),
        );
        let boot = roster
            .bootstrap("owner@example.com")
            .await
            .unwrap()
            .expect("empty store bootstraps");
        let owner_key = boot.key.0.expose().to_string();
        let operator_key = roster
            .bootstrap_operator()
            .await
            .unwrap()
            .expect("a store without operator tokens makes one")
            .key
            .0
            .expose()
            .to_string();
        let (tx, rx) = oneshot::channel::<()>();
        let served = roster.clone();
        tokio::spawn(async move {
            roster_server::serve(listener, served, config, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestApp {
            base,
            owner_key,
            operator_key,
            clock,
            roster,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            store: Some(test_store),
        }
    }

    /// Stop the server and drop a PostgreSQL test database.
    pub async fn finish(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.store.take() {
            s.finish().await;
        }
    }

    /// The SQLite data directory (`None` on PostgreSQL).
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.store
            .as_ref()
            .and_then(|s| s.dir.as_ref())
            .map(|d| d.path())
    }

    /// The PostgreSQL test database's URL (`None` on SQLite).
    pub fn pg_url(&self) -> Option<&str> {
        self.store
            .as_ref()
            .and_then(|s| s.pg.as_ref())
            .map(|(u, _)| u.as_str())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request with `Authorization: Token <key>` (when a key is given) and a JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = self.client.request(method, self.url(path));
        if let Some(k) = key {
            rb = rb.header("Authorization", format!("Token {k}"));
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(&self.owner_key), None)
            .await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(&self.owner_key), Some(body))
            .await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(&self.owner_key), Some(body))
            .await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(&self.owner_key), Some(body))
            .await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(&self.owner_key), None)
            .await
    }

    /// Create a user through the API; answer its id.
    pub async fn create_user(&self, email: &str, teams: &[i64]) -> i64 {
        let (s, v) = self
            .post(
                "/v4/iam/users",
                json!({"first_name": "Ada", "last_name": "Lovelace", "email": email, "teams_ids": teams}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["data"]["id"].as_i64().unwrap()
    }

    /// The IAM id of the user or team (`kind`: `users` or `teams`) whose SCIM id is `scim_id`,
    /// found through the IAM API's `scim_id`.
    pub async fn iam_id(&self, kind: &str, scim_id: &str) -> i64 {
        let (s, v) = self.get(&format!("/v4/iam/{kind}?page_size=100")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let found = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["scim_id"] == scim_id);
        found.unwrap_or_else(|| panic!("no {kind} with SCIM id {scim_id}: {v}"))["id"]
            .as_i64()
            .unwrap()
    }

    /// The SCIM id of the user or team (`kind`: `users` or `teams`) of IAM id `id`.
    pub async fn scim_id(&self, kind: &str, id: i64) -> String {
        let (s, v) = self.get(&format!("/v4/iam/{kind}/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["data"]["scim_id"].as_str().unwrap().to_string()
    }

    /// Create a team with the permissions of these slugs; answer its id.
    pub async fn create_team(&self, name: &str, slugs: &[&str]) -> i64 {
        let (_, perms) = self.get("/v4/iam/permissions?page_size=100").await;
        let ids: Vec<i64> = perms["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| slugs.contains(&p["slug"].as_str().unwrap()))
            .map(|p| p["id"].as_i64().unwrap())
            .collect();
        assert_eq!(
            ids.len(),
            slugs.len(),
            "unknown permission slug in {slugs:?}"
        );
        let (s, v) = self
            .post(
                "/v4/iam/teams",
                json!({"name": name, "permissions_ids": ids}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["data"]["id"].as_i64().unwrap()
    }

    /// Another SAML provider with SCIM on, made the account's active one (which deactivates the
    /// others); answers its uuid.
    pub async fn active_provider(&self, name: &str) -> String {
        let (s, v) = self
            .post(
                "/iam/identity_providers/saml2",
                json!({"name": name, "sign_in_url": "https://o.example/saml2", "entity_id_url": "https://o.example/",
                       "certificate": cert_sha256(), "is_active": true, "scim_integration": true}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["uuid"].as_str().unwrap().to_string()
    }

    /// A token for the user with this email, made through the operator path.
    pub async fn token_for(&self, email: &str) -> String {
        let (_, key) = self
            .roster
            .issue_token(None, email, "test", 30)
            .await
            .unwrap();
        key.0.expose().to_string()
    }

    /// A second account with its own owner; answers that owner's key.
    pub async fn other_account_owner(&self) -> String {
        let store = self.roster.store().clone();
        let mut tx = store.begin().await.unwrap();
        let now = self.clock.now_utc();
        let acct = tx
            .insert_account(&roster_core::store::NewAccount {
                name: "Other".into(),
                company_name: String::new(),
                now,
            })
            .await
            .unwrap();
        let mut owner = roster_core::model::NewUser::new(
            acct.id,
            "other-owner@example.com",
            "Other",
            "Owner",
            now,
        );
        owner.is_account_owner = true;
        tx.insert_user(&owner).await.unwrap();
        tx.commit().await.unwrap();
        let (_, key) = self
            .roster
            .issue_token(Some(acct.id), "other-owner@example.com", "other", 30)
            .await
            .unwrap();
        key.0.expose().to_string()
    }
}

/// A SCIM endpoint on a fresh SAML provider with `scim_integration` on.
pub struct Scim<'a> {
    pub app: &'a TestApp,
    /// The guide's `scim_url` (ends in `/Users`).
    pub scim_url: String,
    /// The endpoint base (`…/v4/users/scim/{uuid}`).
    pub base: String,
    pub idp: String,
    pub key: String,
}

pub struct ScimResponse {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub async fn scim(&self) -> Scim<'_> {
        let (s, v) = self
            .post(
                "/iam/identity_providers/saml2",
                json!({"name": "Entra", "sign_in_url": "https://login.microsoftonline.com/t/saml2",
                       "entity_id_url": "https://sts.windows.net/t/", "certificate": cert_sha256(),
                       "is_active": true}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let idp = v["uuid"].as_str().unwrap().to_string();
        let (_, v) = self
            .patch(
                &format!("/iam/identity_providers/saml2/{idp}"),
                json!({"scim_integration": true}),
            )
            .await;
        let scim_url = v["scim_url"].as_str().unwrap().to_string();
        let base = scim_url.trim_end_matches("/Users").to_string();
        Scim {
            app: self,
            scim_url,
            base,
            idp,
            key: self.owner_key.clone(),
        }
    }
}

impl Scim<'_> {
    pub fn with_key(&self, key: &str) -> Scim<'_> {
        Scim {
            app: self.app,
            scim_url: self.scim_url.clone(),
            base: self.base.clone(),
            idp: self.idp.clone(),
            key: key.to_string(),
        }
    }

    /// The same caller on another identity provider's endpoint of the account.
    pub fn with_idp(&self, idp: &str) -> Scim<'_> {
        Scim {
            app: self.app,
            scim_url: self.scim_url.replace(&self.idp, idp),
            base: self.base.replace(&self.idp, idp),
            idp: idp.to_string(),
            key: self.key.clone(),
        }
    }

    /// A request to `base + path` (an absolute URL when `path` starts with `http`).
    pub async fn req(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> ScimResponse {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        };
        let mut rb = self
            .app
            .client
            .request(method, url)
            .header("Authorization", format!("Bearer {}", self.key));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb
                .header("Content-Type", "application/scim+json")
                .body(b.to_string());
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        if !text.is_empty() {
            assert_eq!(
                headers.get("content-type").map(|v| v.to_str().unwrap()),
                Some("application/scim+json"),
                "every SCIM answer is application/scim+json: {status} {text}"
            );
        }
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        ScimResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> ScimResponse {
        self.req(Method::GET, path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> ScimResponse {
        self.req(Method::POST, path, Some(&body), &[]).await
    }
    pub async fn put(&self, path: &str, body: Value) -> ScimResponse {
        self.req(Method::PUT, path, Some(&body), &[]).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> ScimResponse {
        self.req(Method::PATCH, path, Some(&body), &[]).await
    }
    pub async fn delete(&self, path: &str) -> ScimResponse {
        self.req(Method::DELETE, path, None, &[]).await
    }

    /// `PATCH` with a PatchOp of these operations.
    pub async fn patch_ops(&self, path: &str, ops: Value) -> ScimResponse {
        self.patch(path, json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})).await
    }

    /// Create a user; answer its id.
    pub async fn user(&self, user_name: &str) -> String {
        let r = self
            .post(
                "/Users",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
                       "name": {"givenName": "G", "familyName": "F"}, "active": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// Create a group; answer its id.
    pub async fn group(&self, name: &str) -> String {
        let r = self.post("/Groups", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// `GET /Users?filter=…` (form-encoded as Entra does): the total.
    pub async fn count(&self, kind: &str, filter: &str) -> i64 {
        let q = serde_urlencoded::to_string([("filter", filter)]).unwrap();
        let r = self.get(&format!("/{kind}?{q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.body);
        r.body["totalResults"].as_i64().unwrap()
    }
}

pub trait ClockExt {
    fn now_utc(&self) -> chrono::DateTime<Utc>;
}

impl ClockExt for FixedClock {
    fn now_utc(&self) -> chrono::DateTime<Utc> {
        roster_core::Clock::now(self)
    }
}

pub fn cert_sha256() -> &'static str {
    include_str!("../fixtures/idp-cert-sha256.pem")
}

pub fn cert_sha1() -> &'static str {
    include_str!("../fixtures/idp-cert-sha1.pem")
}

/// Run stories on both backends: for each `async fn story(app: &TestApp)` named, a module
/// `story` with the tests `sqlite` and `postgres`. `both!(config => story, ...)` serves them
/// with that `ServerConfig`.
#[macro_export]
macro_rules! both {
    ($config:expr => $($name:ident),+ $(,)?) => {
        $(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let app = $crate::harness::TestApp::spawn_with($crate::harness::Backend::Sqlite, $config).await;
                super::$name(&app).await;
                app.finish().await;
            }
            #[tokio::test]
            async fn postgres() {
                let app = $crate::harness::TestApp::spawn_with($crate::harness::Backend::Postgres, $config).await;
                super::$name(&app).await;
                app.finish().await;
            }
        }
        )+
    };
    ($($name:ident),+ $(,)?) => {
        $(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let app = $crate::harness::TestApp::spawn($crate::harness::Backend::Sqlite).await;
                super::$name(&app).await;
                app.finish().await;
            }
            #[tokio::test]
            async fn postgres() {
                let app = $crate::harness::TestApp::spawn($crate::harness::Backend::Postgres).await;
                super::$name(&app).await;
                app.finish().await;
            }
        }
        )+
    };
}
