//! Authentication and authorisation: every way a token can fail, and who may do what.

use crate::both;
use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn status_with_header(
    app: &TestApp,
    header: Option<&str>,
) -> (StatusCode, serde_json::Value, Option<String>) {
    let mut rb = app.client.get(app.url("/iam/user"));
    if let Some(h) = header {
        rb = rb.header("Authorization", h);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (status, resp.json().await.unwrap(), www)
}

async fn every_auth_failure(app: &TestApp) {
    let (s, v, www) = status_with_header(app, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["detail"], "Authentication credentials were not provided.");
    assert_eq!(www.as_deref(), Some("Token"));

    let (s, v, _) = status_with_header(app, Some(&format!("Basic {}", app.owner_key))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("Token <personal token>"),
        "{v}"
    );

    let (s, v, _) = status_with_header(app, Some(&app.owner_key)).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "a bare key without scheme: {v}"
    );

    let (s, v, _) =
        status_with_header(app, Some("Token azion00000000000000000000000000000000000")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["detail"], "Invalid token.");

    // The scheme in any case, Token or Bearer.
    for scheme in ["Token", "token", "TOKEN", "Bearer", "bearer"] {
        let (s, _, _) = status_with_header(app, Some(&format!("{scheme} {}", app.owner_key))).await;
        assert_eq!(s, StatusCode::OK, "scheme {scheme}");
    }

    // JSON:API shape on /v4.
    let (s, v) = app.call(Method::GET, "/v4/iam/user", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["errors"][0]["code"], "10001");
    assert_eq!(v["errors"][0]["status"], "401");
}

async fn expired_tokens_stop_working(app: &TestApp) {
    let (s, v) = app
        .post(
            "/iam/personal_tokens",
            json!({"name": "short", "expires_at": "2026-11-30T12:00"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let key = v["key"].as_str().unwrap().to_string();
    let (s, _) = app.call(Method::GET, "/iam/user", Some(&key), None).await;
    assert_eq!(s, StatusCode::OK);
    app.clock.advance(chrono::Duration::days(1));
    let (s, v) = app.call(Method::GET, "/iam/user", Some(&key), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // One message for every token that does not work: the holder cannot tell why.
    assert_eq!(v["detail"], "Invalid token.");
}

async fn revoked_tokens_stop_at_once(app: &TestApp) {
    let (_, v) = app
        .post(
            "/iam/personal_tokens",
            json!({"name": "t", "expires_at": "2027-01-01"}),
        )
        .await;
    let key = v["key"].as_str().unwrap().to_string();
    let uuid = v["uuid"].as_str().unwrap().to_string();
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&key), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&format!("/iam/personal_tokens/{uuid}")).await.0,
        StatusCode::NO_CONTENT
    );
    let (s, v) = app.call(Method::GET, "/iam/user", Some(&key), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["detail"], "Invalid token.");
}

async fn inactive_users_tokens_stop(app: &TestApp) {
    let id = app.create_user("bob@example.com", &[]).await;
    let key = app.token_for("bob@example.com").await;
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&key), None).await.0,
        StatusCode::OK
    );
    let (s, _) = app
        .patch(&format!("/v4/iam/users/{id}"), json!({"is_active": false}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app.call(Method::GET, "/iam/user", Some(&key), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["detail"], "Invalid token.");
    // Re-activated, the same token works again (it was never revoked).
    app.patch(&format!("/v4/iam/users/{id}"), json!({"is_active": true}))
        .await;
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&key), None).await.0,
        StatusCode::OK
    );
    // Deleted, the user's tokens are gone with it.
    assert_eq!(
        app.delete(&format!("/v4/iam/users/{id}")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&key), None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn other_accounts_see_404(app: &TestApp) {
    let other = app.other_account_owner().await;
    let user = app.create_user("carol@example.com", &[]).await;
    let team = app.create_team("Devs", &[]).await;
    let (_, idp) = app
        .post(
            "/iam/identity_providers/saml2",
            json!({"name": "Entra", "sign_in_url": "https://login.example/saml2", "entity_id_url": "https://sts.example/", "certificate": cert_sha256()}),
        )
        .await;
    let idp = idp["uuid"].as_str().unwrap().to_string();
    for path in [
        format!("/v4/iam/users/{user}"),
        format!("/v4/iam/teams/{team}"),
        format!("/iam/identity_providers/saml2/{idp}"),
    ] {
        let (s, v) = app.call(Method::GET, &path, Some(&other), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
        assert!(!v.to_string().contains("carol"), "{v}");
        let (s, _) = app.call(Method::DELETE, &path, Some(&other), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    // Their lists hold only their own.
    let (_, v) = app
        .call(Method::GET, "/v4/iam/users", Some(&other), None)
        .await;
    assert_eq!(v["count"], 1);
    assert_eq!(v["results"][0]["email"], "other-owner@example.com");
    let (_, v) = app
        .call(Method::GET, "/iam/identity_providers", Some(&other), None)
        .await;
    assert_eq!(v, json!([]));
    // Still there for us.
    assert_eq!(
        app.get(&format!("/v4/iam/users/{user}")).await.0,
        StatusCode::OK
    );
}

async fn last_use_is_recorded(app: &TestApp) {
    let (_, v) = app.get("/iam/personal_tokens").await;
    let t = &v["results"][0];
    assert_eq!(t["last_used_at"], "2026-11-29T12:00:00Z", "{v}");
    app.clock.advance(chrono::Duration::minutes(5));
    app.get("/iam/user").await;
    let (_, v) = app.get("/iam/personal_tokens").await;
    assert_eq!(v["results"][0]["last_used_at"], "2026-11-29T12:05:00Z");
}

async fn permissions_decide(app: &TestApp) {
    let viewers = app.create_team("Viewers", &["view_users"]).await;
    let editors = app
        .create_team("Editors", &["view_users", "edit_users"])
        .await;
    app.create_user("nobody@example.com", &[]).await;
    let viewer = app.create_user("viewer@example.com", &[viewers]).await;
    app.create_user("editor@example.com", &[editors]).await;
    let nobody = app.token_for("nobody@example.com").await;
    let viewer_key = app.token_for("viewer@example.com").await;
    let editor = app.token_for("editor@example.com").await;
    let new_user = || json!({"first_name": "N", "last_name": "U", "email": format!("{}@example.com", uuid::Uuid::new_v4())});

    // No permissions: own profile, own tokens, the catalogue; not the user list.
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&nobody), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::GET, "/iam/permissions", Some(&nobody), None)
            .await
            .0,
        StatusCode::OK
    );
    let (s, v) = app
        .call(Method::GET, "/iam/users", Some(&nobody), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        v["detail"],
        "You do not have permission to perform this action."
    );
    // View Users: list, not create.
    assert_eq!(
        app.call(Method::GET, "/iam/users", Some(&viewer_key), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        app.call(
            Method::POST,
            "/iam/users",
            Some(&viewer_key),
            Some(new_user())
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // View + Edit Users: create, but never make owners, never touch owners, no teams' writes denied.
    assert_eq!(
        app.call(Method::POST, "/iam/users", Some(&editor), Some(new_user()))
            .await
            .0,
        StatusCode::CREATED
    );
    let mut owner_body = new_user();
    owner_body["is_account_owner"] = json!(true);
    assert_eq!(
        app.call(Method::POST, "/iam/users", Some(&editor), Some(owner_body))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(
            Method::PATCH,
            "/iam/users/1",
            Some(&editor),
            Some(json!({"first_name": "X"}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN,
        "the owner is changed by owners only"
    );
    assert_eq!(
        app.call(
            Method::POST,
            "/iam/teams",
            Some(&editor),
            Some(json!({"name": "T", "permissions_ids": []}))
        )
        .await
        .0,
        StatusCode::CREATED
    );
    assert_eq!(
        app.call(
            Method::POST,
            "/iam/teams",
            Some(&viewer_key),
            Some(json!({"name": "T2", "permissions_ids": []}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // Identity providers and the account: owners only.
    for (m, path) in [
        (Method::GET, "/iam/identity_providers"),
        (Method::POST, "/iam/identity_providers/saml2"),
    ] {
        assert_eq!(
            app.call(m, path, Some(&editor), Some(json!({}))).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(
        app.call(
            Method::PATCH,
            "/iam/account",
            Some(&editor),
            Some(json!({"name": "x"}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // An inactive team grants nothing.
    app.patch(
        &format!("/iam/teams/{viewers}"),
        json!({"is_active": false}),
    )
    .await;
    assert_eq!(
        app.call(Method::GET, "/iam/users", Some(&viewer_key), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // Everyone reads their own user record by id.
    assert_eq!(
        app.call(
            Method::GET,
            &format!("/iam/users/{viewer}"),
            Some(&viewer_key),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
}

both!(
    every_auth_failure,
    expired_tokens_stop_working,
    revoked_tokens_stop_at_once,
    inactive_users_tokens_stop,
    other_accounts_see_404,
    last_use_is_recorded,
    permissions_decide,
);
