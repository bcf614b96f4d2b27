//! Users, the current user, and the account.

use crate::both;
use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn user_lifecycle(app: &TestApp) {
    let team = app.create_team("Developers", &["view_users"]).await;
    let body = json!({"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","language":"en",
        "timezone":"America/Sao_Paulo","country_call_code":"55","mobile":"11999990000",
        "is_account_owner":false,"teams_ids":[team],"two_factor_enabled":false,"is_active":true});
    let (s, v) = app.post("/v4/iam/users", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["state"], "executed");
    let u = &v["data"];
    assert_eq!(u["email"], "ada@example.com");
    assert_eq!(u["timezone"], "America/Sao_Paulo");
    assert_eq!(
        u["teams"],
        json!([{"id": team, "name": "Developers", "is_active": true}])
    );
    let id = u["id"].as_i64().unwrap();

    let (s, v) = app.get(&format!("/v4/iam/users/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["first_name"], "Ada");

    // PATCH is partial; teams_ids replaces memberships.
    let (s, v) = app
        .patch(
            &format!("/v4/iam/users/{id}"),
            json!({"last_name": "King", "teams_ids": []}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["last_name"], "King");
    assert_eq!(v["data"]["first_name"], "Ada");
    assert_eq!(v["data"]["teams"], json!([]));

    // PUT needs the required fields.
    let (s, v) = app
        .put(&format!("/v4/iam/users/{id}"), json!({"first_name": "A"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["errors"].as_array().unwrap().len(), 2, "{v}");
    let (s, v) = app
        .put(
            &format!("/iam/users/{id}"),
            json!({"first_name": "Augusta", "last_name": "King", "email": "augusta@example.com"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["email"], "augusta@example.com");

    // Delete: 200 with a null data envelope, then 404.
    let (s, v) = app.delete(&format!("/v4/iam/users/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!({"state": "executed", "data": null}));
    assert_eq!(
        app.get(&format!("/v4/iam/users/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
}

async fn email_is_unique_per_account_in_any_case(app: &TestApp) {
    app.create_user("dup@example.com", &[]).await;
    let (s, v) = app
        .post(
            "/iam/users",
            json!({"first_name": "D", "last_name": "U", "email": "DUP@Example.com"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(
        v["email"][0],
        "A user with this email already exists in the account."
    );
    let (s, v) = app
        .post(
            "/v4/iam/users",
            json!({"first_name": "D", "last_name": "U", "email": "Dup@example.com"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        v["errors"][0]["source"]["pointer"],
        "/data/attributes/email"
    );
    // Renaming onto another's email conflicts too; nothing changes.
    let other = app.create_user("other@example.com", &[]).await;
    let (s, _) = app
        .patch(
            &format!("/iam/users/{other}"),
            json!({"email": "dup@EXAMPLE.com"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, v) = app.get(&format!("/iam/users/{other}")).await;
    assert_eq!(v["data"]["email"], "other@example.com");
    // Another account may use the same email.
    let other_owner = app.other_account_owner().await;
    let (s, _) = app
        .call(
            Method::POST,
            "/iam/users",
            Some(&other_owner),
            Some(json!({"first_name": "D", "last_name": "U", "email": "dup@example.com"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

async fn user_validation(app: &TestApp) {
    let (s, v) = app.post("/iam/users", json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for f in ["first_name", "last_name", "email"] {
        assert_eq!(v[f][0], "This field is required.", "{v}");
    }
    let (s, v) = app
        .post(
            "/iam/users",
            json!({"first_name": "x".repeat(31), "last_name": " ", "email": "nope", "language": "English",
                   "timezone": "", "phone": "call me", "teams_ids": [999]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["first_name"][0].as_str().unwrap().contains("30"));
    assert_eq!(v["last_name"][0], "This field may not be blank.");
    assert_eq!(v["email"][0], "Enter a valid email address.");
    assert!(v["language"][0].as_str().is_some());
    assert!(v["timezone"][0].as_str().is_some());
    assert!(v["phone"][0].as_str().is_some());
    assert_eq!(
        v["teams_ids"][0],
        "Invalid pk \"999\" - object does not exist."
    );
    let (s, v) = app.post("/iam/users", json!({"first_name": "A", "last_name": "B", "email": "a@b.example", "teams_ids": ["x"]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["teams_ids"][0].as_str().is_some(), "{v}");
    // Nothing was half-written.
    let (_, v) = app.get("/iam/users").await;
    assert_eq!(v["count"], 1);
}

async fn an_owner_always_remains(app: &TestApp) {
    let (_, me) = app.get("/iam/user").await;
    let owner = me["data"]["id"].as_i64().unwrap();
    for (body, field) in [
        (json!({"is_account_owner": false}), "is_account_owner"),
        (json!({"is_active": false}), "is_active"),
    ] {
        let (s, v) = app.patch(&format!("/iam/users/{owner}"), body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(
            v[field][0]
                .as_str()
                .unwrap()
                .contains("At least one active account owner"),
            "{v}"
        );
    }
    let (s, _) = app.delete(&format!("/iam/users/{owner}")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // With a second owner, the first may step down.
    let second = app.create_user("second@example.com", &[]).await;
    let (s, v) = app
        .patch(
            &format!("/iam/users/{second}"),
            json!({"is_account_owner": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["is_account_owner"], true);
    let (s, _) = app
        .patch(
            &format!("/iam/users/{owner}"),
            json!({"is_account_owner": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

async fn current_user_and_account(app: &TestApp) {
    let (s, v) = app.get("/v4/iam/user").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["email"], "owner@example.com");
    assert_eq!(v["data"]["is_account_owner"], true);
    let (s, v) = app
        .patch(
            "/iam/user",
            json!({"first_name": "Grace", "timezone": "Europe/Lisbon"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["first_name"], "Grace");
    assert_eq!(v["data"]["timezone"], "Europe/Lisbon");
    let (s, v) = app
        .patch("/iam/user", json!({"language": "klingon!"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    let (s, v) = app.get("/v4/iam/account").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["account_type"], "client");
    assert_eq!(v["data"]["name"], "Roster");
    let (s, v) = app
        .patch(
            "/v4/iam/account",
            json!({"name": "Acme", "company_name": "Acme Inc."}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["name"], "Acme");
    let (s, _) = app.patch("/v4/iam/account", json!({"name": ""})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

async fn pagination_ordering_search_fields(app: &TestApp) {
    for i in 0..12 {
        app.clock.advance(chrono::Duration::seconds(1));
        app.create_user(&format!("user{i:02}@example.com"), &[])
            .await;
    }
    let (s, v) = app.get("/v4/iam/users?page_size=5&ordering=email").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["count"], 13);
    assert_eq!(v["total_pages"], 3);
    assert_eq!(v["page"], 1);
    assert_eq!(v["page_size"], 5);
    assert_eq!(v["previous"], Value::Null);
    let next = v["next"].as_str().unwrap().to_string();
    assert!(
        next.contains("page=2") && next.contains("ordering=email") && next.contains("page_size=5"),
        "{next}"
    );
    assert_eq!(v["results"][0]["email"], "owner@example.com");
    assert_eq!(v["results"][1]["email"], "user00@example.com");
    // Follow next.
    let resp = app
        .client
        .get(&next)
        .header("Authorization", format!("Token {}", app.owner_key))
        .send()
        .await
        .unwrap();
    let p2: Value = resp.json().await.unwrap();
    assert_eq!(p2["page"], 2);
    assert_eq!(p2["results"][0]["email"], "user04@example.com");
    assert!(p2["previous"].as_str().unwrap().contains("page=1"));
    let (_, p3) = app
        .get("/v4/iam/users?page_size=5&ordering=email&page=3")
        .await;
    assert_eq!(p3["results"].as_array().unwrap().len(), 3);
    assert_eq!(p3["next"], Value::Null);
    // The console's default: newest first.
    let (_, v) = app
        .get("/v4/iam/users?ordering=-last_modified&page=1&page_size=10&fields=&search=")
        .await;
    assert_eq!(v["results"][0]["email"], "user11@example.com");
    assert_eq!(v["results"].as_array().unwrap().len(), 10);
    // Search in email and names, any case.
    let (_, v) = app.get("/v4/iam/users?search=USER1").await;
    assert_eq!(v["count"], 2, "{v}");
    let (_, v) = app.get("/v4/iam/users?search=%25").await;
    assert_eq!(v["count"], 0, "a literal % matches nothing");
    // Sparse fieldsets.
    let (_, v) = app.get("/v4/iam/users?fields=id,email&page_size=1").await;
    assert_eq!(
        v["results"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["id", "email"]
    );
    // Bad parameters say which and why.
    let (s, v) = app.get("/iam/users?page=0").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["page"][0].as_str().unwrap().contains("at least 1"));
    let (s, v) = app.get("/iam/users?page_size=abc").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["page_size"][0].as_str().is_some());
    let (s, v) = app.get("/iam/users?ordering=password").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["ordering"][0]
            .as_str()
            .unwrap()
            .contains("Cannot order by \"password\"")
    );
    let (s, v) = app.get("/iam/users?page=99").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["detail"], "Page not found.");
    // Unknown parameters are ignored.
    assert_eq!(app.get("/iam/users?foo=bar").await.0, StatusCode::OK);
}

/// Two owners stepping down at the same time: one succeeds, one is refused; an owner remains.
async fn owners_stepping_down_concurrently(app: &TestApp) {
    let (_, me) = app.get("/iam/user").await;
    let first = me["data"]["id"].as_i64().unwrap();
    let second = app.create_user("second@example.com", &[]).await;
    app.patch(
        &format!("/iam/users/{second}"),
        json!({"is_account_owner": true}),
    )
    .await;
    let second_key = app.token_for("second@example.com").await;
    for _ in 0..5 {
        let (pa, pb) = (
            format!("/iam/users/{first}"),
            format!("/iam/users/{second}"),
        );
        let a = app.call(
            reqwest::Method::PATCH,
            &pa,
            Some(&app.owner_key),
            Some(json!({"is_account_owner": false})),
        );
        let b = app.call(
            reqwest::Method::PATCH,
            &pb,
            Some(&second_key),
            Some(json!({"is_account_owner": false})),
        );
        let ((sa, _), (sb, _)) = tokio::join!(a, b);
        let ok = [sa, sb].iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(ok, 1, "{sa} {sb}");
        let mut tx = app.roster.store().read().await.unwrap();
        assert_eq!(
            tx.active_owner_count(roster_core::model::AccountId(1))
                .await
                .unwrap(),
            1
        );
        drop(tx);
        // Restore both as owners for the next round (through the remaining owner).
        let remaining = if sa == StatusCode::OK {
            &second_key
        } else {
            &app.owner_key
        };
        for id in [first, second] {
            app.call(
                reqwest::Method::PATCH,
                &format!("/iam/users/{id}"),
                Some(remaining),
                Some(json!({"is_account_owner": true})),
            )
            .await;
        }
    }
}

both!(
    owners_stepping_down_concurrently,
    user_lifecycle,
    email_is_unique_per_account_in_any_case,
    user_validation,
    an_owner_always_remains,
    current_user_and_account,
    pagination_ordering_search_fields,
);
