//! Bad input gets a clear error in the route's shape; the operational surface.

use crate::both;
use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    ctype: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut rb = app
        .client
        .request(method, app.url(path))
        .header("Authorization", format!("Token {}", app.owner_key));
    if let Some(c) = ctype {
        rb = rb.header("Content-Type", c);
    }
    let resp = rb.body(body.to_string()).send().await.unwrap();
    let s = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    if !text.is_empty() {
        assert_eq!(ct.as_deref(), Some("application/json"), "{path}: {text}");
    }
    (
        s,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        },
    )
}

async fn malformed_bodies(app: &TestApp) {
    let j = Some("application/json");
    let (s, v) = raw(app, Method::POST, "/iam/users", j, "{\"email\": ").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["non_field_errors"][0]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error"),
        "{v}"
    );
    let (s, v) = raw(app, Method::POST, "/v4/iam/users", j, "[1,2]").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["errors"][0]["code"], "10000");
    let (s, _) = raw(app, Method::POST, "/iam/teams", j, "\"a string\"").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = raw(
        app,
        Method::POST,
        "/iam/teams",
        j,
        "{\"name\": 7, \"permissions_ids\": []}",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["name"][0].as_str().unwrap().contains("expected a string"),
        "{v}"
    );
    let (s, _) = raw(app, Method::POST, "/iam/teams", j, "\u{0}\u{1}").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A real form is read as a form.
    let (s, v) = raw(
        app,
        Method::PATCH,
        "/iam/account",
        Some("application/x-www-form-urlencoded"),
        "name=Formed",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["name"], "Formed");
    // No content type at all, JSON body.
    let (s, v) = raw(
        app,
        Method::PATCH,
        "/iam/account",
        None,
        "{\"name\": \"Plain\"}",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Empty body on PATCH: nothing to change, still fine.
    let (s, _) = raw(app, Method::PATCH, "/iam/account", None, "").await;
    assert_eq!(s, StatusCode::OK);
}

async fn unknown_things(app: &TestApp) {
    let (s, v) = app.get("/iam/nothing-here").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["detail"], "Resource not found.");
    let (s, v) = app.get("/v4/iam/nothing-here").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["errors"][0]["status"], "404");
    for p in [
        "/iam/users/abc",
        "/iam/users/-1",
        "/iam/users/99999999999999999999",
        "/iam/teams/0",
    ] {
        let (s, _) = app.get(p).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{p}");
    }
    let resp = app
        .client
        .delete(app.url("/v4/iam/permissions"))
        .header("Authorization", format!("Token {}", app.owner_key))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        resp.headers().get("allow").is_some(),
        "405 names the allowed methods"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "10005");
}

async fn operations(app: &TestApp) {
    let resp = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["database"], "ok");
    // Request ids: made when absent, echoed when sent.
    let resp = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.headers()["x-request-id"].to_str().unwrap().len(), 36);
    let resp = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    // Trailing slashes are optional, without redirects.
    let (s, _) = app.get("/v4/iam/users/").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.get("/iam/account/").await;
    assert_eq!(s, StatusCode::OK);
}

async fn body_limit(app: &TestApp) {
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let (s, v) = raw(
        app,
        Method::PATCH,
        "/iam/account",
        Some("application/json"),
        &big,
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["detail"], "Request body too large.");
    let (s, v) = raw(
        app,
        Method::PATCH,
        "/v4/iam/account",
        Some("application/json"),
        &big,
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["errors"][0]["status"], "413");
    // Nothing changed.
    let (_, v) = app.get("/iam/account").await;
    assert_eq!(v["data"]["name"], "Roster");
}

both!(malformed_bodies, unknown_things, operations, body_limit);

/// No request gets a 500: every route and method, with bodies of every wrong kind.
async fn nothing_answers_500(app: &TestApp) {
    let (_, idp) = app
        .post(
            "/iam/identity_providers/saml2",
            serde_json::json!({"name": "A", "sign_in_url": "https://a.example", "entity_id_url": "https://b.example", "certificate": cert_sha256()}),
        )
        .await;
    let uuid = idp["uuid"].as_str().unwrap().to_string();
    let paths = [
        "/iam/identity_providers".to_string(),
        "/iam/identity_providers/saml2".to_string(),
        format!("/iam/identity_providers/saml2/{uuid}"),
        "/iam/identity_providers/oidc".to_string(),
        format!("/iam/identity_providers/oidc/{uuid}"),
        "/v4/iam/users".to_string(),
        "/v4/iam/users/1".to_string(),
        "/v4/iam/users/x".to_string(),
        "/v4/iam/user".to_string(),
        "/iam/teams".to_string(),
        "/iam/teams/1".to_string(),
        "/iam/permissions".to_string(),
        "/iam/personal_tokens".to_string(),
        format!("/iam/personal_tokens/{uuid}"),
        "/iam/account".to_string(),
        "/health".to_string(),
    ];
    let bodies = [
        "",
        "{",
        "null",
        "[]",
        "{\"name\": null}",
        "{\"name\": [1], \"email\": {}, \"teams_ids\": \"x\", \"permissions_ids\": [-1], \"is_active\": \"maybe\"}",
        "{\"expires_at\": 12, \"scopes\": \"openid\", \"certificate\": 5}",
        "{\"page\": \"\\u0000\"}",
        "name=%ff%fe&is_active=perhaps",
    ];
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    for path in &paths {
        for m in &methods {
            for (i, b) in bodies.iter().enumerate() {
                let ct = if i == bodies.len() - 1 {
                    Some("application/x-www-form-urlencoded")
                } else {
                    Some("application/json")
                };
                let (s, _) = raw_any(app, m.clone(), path, ct, b).await;
                assert!(s.as_u16() < 500, "{m} {path} with {b:?} answered {s}");
            }
        }
        let (s, _) = raw_any(
            app,
            Method::GET,
            &format!("{path}?page=%ff&page_size=-1&ordering=--&fields=,,"),
            None,
            "",
        )
        .await;
        assert!(s.as_u16() < 500, "GET {path} with odd query answered {s}");
    }
    // The provider survived all that (a PUT may have renamed it; DELETE may have removed it).
    let (s, _) = app.get("/health").await;
    assert_eq!(s, StatusCode::OK);
}

async fn raw_any(
    app: &TestApp,
    method: Method,
    path: &str,
    ctype: Option<&str>,
    body: &str,
) -> (StatusCode, String) {
    let mut rb = app
        .client
        .request(method, app.url(path))
        .header("Authorization", format!("Token {}", app.owner_key));
    if let Some(c) = ctype {
        rb = rb.header("Content-Type", c);
    }
    let resp = rb.body(body.to_string()).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

both!(nothing_answers_500);
