//! Personal tokens: shown once, stored as hashes, your own only.

use crate::both;
use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn token_lifecycle(app: &TestApp) {
    let (s, v) = app
        .post("/iam/personal_tokens", json!({"name": "One day token", "expires_at": "2026-11-30T00:00", "description": "example"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let key = v["key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 40);
    assert!(key.starts_with("azion"));
    assert_eq!(v["expires_at"], "2026-11-30T00:00:00Z");
    assert_eq!(v["description"], "example");
    let uuid = v["uuid"].as_str().unwrap().to_string();
    // Never shown again.
    let (_, one) = app.get(&format!("/v4/iam/personal_tokens/{uuid}")).await;
    assert!(one.get("key").is_none());
    assert_eq!(one["name"], "One day token");
    let (_, list) = app.get("/iam/personal_tokens").await;
    assert_eq!(list["count"], 2);
    assert!(!list.to_string().contains(&key));
    // The key works.
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&key), None).await.0,
        StatusCode::OK
    );
    // Somebody else's token is not yours to see or delete.
    app.create_user("eve@example.com", &[]).await;
    let eve = app.token_for("eve@example.com").await;
    let path = format!("/iam/personal_tokens/{uuid}");
    assert_eq!(
        app.call(Method::GET, &path, Some(&eve), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&eve), None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, eves) = app
        .call(Method::GET, "/iam/personal_tokens", Some(&eve), None)
        .await;
    assert_eq!(eves["count"], 1);
    // Delete: 204, then gone.
    assert_eq!(
        app.delete(&path).await,
        (StatusCode::NO_CONTENT, Value::Null)
    );
    assert_eq!(app.get(&path).await.0, StatusCode::NOT_FOUND);
}

async fn token_validation(app: &TestApp) {
    let (s, v) = app.post("/iam/personal_tokens", json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["name"][0], "This field is required.");
    assert_eq!(v["expires_at"][0], "This field is required.");
    let (s, v) = app
        .post(
            "/iam/personal_tokens",
            json!({"name": "x", "expires_at": "next tuesday"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["expires_at"][0]
            .as_str()
            .unwrap()
            .contains("not a date-time")
    );
    let (s, v) = app
        .post(
            "/iam/personal_tokens",
            json!({"name": "x", "expires_at": "2020-01-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["expires_at"][0], "The expiry must be in the future.");
    let (s, _) = app
        .post(
            "/iam/personal_tokens",
            json!({"name": "x", "expires_at": "2040-01-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app
        .post(
            "/iam/personal_tokens",
            json!({"name": "x".repeat(101), "expires_at": "2027-01-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // No update: tokens cannot be modified once created.
    let (_, v) = app.get("/iam/personal_tokens").await;
    let uuid = v["results"][0]["uuid"].as_str().unwrap().to_string();
    assert_eq!(
        app.patch(
            &format!("/iam/personal_tokens/{uuid}"),
            json!({"name": "y"})
        )
        .await
        .0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

/// Only hashes are stored: the key appears nowhere in the data directory.
async fn keys_are_not_stored(app: &TestApp) {
    let (_, v) = app
        .post(
            "/iam/personal_tokens",
            json!({"name": "secret", "expires_at": "2027-01-01"}),
        )
        .await;
    let key = v["key"].as_str().unwrap().to_string();
    app.call(Method::GET, "/iam/user", Some(&key), None).await;
    let Some(dir) = app.data_dir() else {
        // PostgreSQL: every column of every token row, as text.
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(app.pg_url().unwrap())
            .await
            .unwrap();
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT row_to_json(t)::text FROM personal_tokens t")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(rows.len(), 2);
        for r in rows {
            assert!(
                !r.contains(&key) && !r.contains(&app.owner_key),
                "a key was stored: {r}"
            );
            assert!(r.contains("key_hash"));
        }
        return;
    };
    for k in [key.as_str(), app.owner_key.as_str()] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(
                !bytes.windows(k.len()).any(|w| w == k.as_bytes()),
                "a key was found in the data directory"
            );
        }
    }
}

both!(token_lifecycle, token_validation, keys_are_not_stored);
