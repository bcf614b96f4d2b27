//! The operator API: accounts made, listed, renamed, disabled and deleted by the instance
//! operator, whose token works there and nowhere else.

use crate::both;
use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Operator tokens and personal tokens each open only their own door.
async fn tokens_open_only_their_own_api(app: &TestApp) {
    let op = Some(app.operator_key.as_str());
    let owner = Some(app.owner_key.as_str());
    assert!(app.operator_key.starts_with("rosterop"));
    let (s, v) = app
        .call(Method::GET, "/operator/accounts", None, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, _) = app
        .call(Method::GET, "/operator/accounts", owner, None)
        .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "a personal token is no operator token"
    );
    for path in [
        "/iam/user",
        "/iam/users",
        "/iam/account",
        "/iam/identity_providers",
    ] {
        let (s, _) = app.call(Method::GET, path, op, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "the operator token on {path}");
    }
    let (s, v) = app.call(Method::GET, "/operator/accounts", op, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["count"], 1);
    assert_eq!(v["results"][0]["state"], "active");
}

async fn accounts_are_made_listed_renamed_and_disabled(app: &TestApp) {
    let op = Some(app.operator_key.as_str());
    // Bad input is answered field by field, and makes nothing.
    let (s, v) = app
        .call(Method::POST, "/operator/accounts", op, Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["name"].is_array() && v["owner_email"].is_array(), "{v}");
    let (s, v) = app
        .call(
            Method::POST,
            "/operator/accounts",
            op,
            Some(json!({"name": "Acme", "owner_email": "not an email"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = app
        .call(
            Method::POST,
            "/operator/accounts",
            op,
            Some(json!({"name": "Acme", "owner_email": "boss@acme.test", "plan": "gold"})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "unknown fields are refused: {v}"
    );
    let (_, list) = app.call(Method::GET, "/operator/accounts", op, None).await;
    assert_eq!(list["count"], 1, "nothing was made by the refused requests");

    // The account, its owner and the owner's token, in one answer.
    let (s, made) = app
        .call(
            Method::POST,
            "/operator/accounts",
            op,
            Some(json!({"name": "Acme", "owner_email": "boss@acme.test"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let id = made["account"]["id"].as_i64().unwrap();
    assert_eq!(made["account"]["name"], "Acme");
    assert_eq!(made["account"]["state"], "active");
    assert_eq!(made["owner"]["email"], "boss@acme.test");
    assert_eq!(made["owner"]["is_account_owner"], true);
    let key = made["token"]["key"].as_str().unwrap().to_string();
    let (s, me) = app.call(Method::GET, "/iam/user", Some(&key), None).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["data"]["email"], "boss@acme.test");
    let (_, acct) = app
        .call(Method::GET, "/iam/account", Some(&key), None)
        .await;
    assert_eq!(acct["data"]["id"], id);
    // Never shown again, never stored.
    let (_, one) = app
        .call(Method::GET, &format!("/operator/accounts/{id}"), op, None)
        .await;
    assert!(!one.to_string().contains(&key));
    assert_eq!(one["name"], "Acme");

    // Listed and paged.
    let (s, page) = app
        .call(
            Method::GET,
            "/operator/accounts?page_size=1&page=2",
            op,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["count"], 2);
    assert_eq!(page["total_pages"], 2);
    assert_eq!(page["results"][0]["id"], id);

    // Renamed; a bad name is refused.
    let path = format!("/operator/accounts/{id}");
    let (s, v) = app
        .call(Method::PATCH, &path, op, Some(json!({"name": "Acme Corp"})))
        .await;
    assert_eq!((s, v["name"].as_str()), (StatusCode::OK, Some("Acme Corp")));
    let (s, _) = app
        .call(Method::PATCH, &path, op, Some(json!({"name": "  "})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Disabled: its token is refused at once, the other account is untouched; enabled again.
    let (s, v) = app
        .call(Method::PATCH, &path, op, Some(json!({"is_active": false})))
        .await;
    assert_eq!((s, v["state"].as_str()), (StatusCode::OK, Some("disabled")));
    let (s, _) = app.call(Method::GET, "/iam/user", Some(&key), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/iam/user").await.0, StatusCode::OK);
    let (s, _) = app
        .call(Method::PATCH, &path, op, Some(json!({"is_active": true})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.call(Method::GET, "/iam/user", Some(&key), None).await;
    assert_eq!(s, StatusCode::OK);

    for bad in [
        "/operator/accounts/0",
        "/operator/accounts/x",
        "/operator/accounts/999999",
    ] {
        let (s, _) = app.call(Method::GET, bad, op, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{bad}");
    }
}

async fn deleting_an_account_disables_it_then_removes_it(app: &TestApp) {
    let op = Some(app.operator_key.as_str());
    let (_, made) = app
        .call(
            Method::POST,
            "/operator/accounts",
            op,
            Some(json!({"name": "Gone", "owner_email": "boss@gone.test"})),
        )
        .await;
    let id = made["account"]["id"].as_i64().unwrap();
    let key = made["token"]["key"].as_str().unwrap().to_string();
    let path = format!("/operator/accounts/{id}");
    // Its owner provisions: an active identity provider with SCIM on, a user, a group.
    let (s, idp) = app
        .call(
            Method::POST,
            "/iam/identity_providers/saml2",
            Some(&key),
            Some(json!({
                "name": "Entra",
                "entity_id_url": "https://sts.windows.net/gone/",
                "sign_in_url": "https://login.microsoftonline.com/gone/saml2",
                "certificate": cert_sha256(),
                "is_active": true,
                "scim_integration": true,
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{idp}");
    let scim = format!("/v4/users/scim/{}", idp["uuid"].as_str().unwrap());
    let (s, v) = app
        .call(
            Method::POST,
            &format!("{scim}/Users"),
            Some(&key),
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u@gone.test"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // Refused while the provider is active, unless forced; a bad force is a 400.
    let (s, v) = app.call(Method::DELETE, &path, op, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v.to_string().contains("force=true"), "{v}");
    let (s, _) = app
        .call(Method::DELETE, &format!("{path}?force=maybe"), op, None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&key), None).await.0,
        StatusCode::OK,
        "a refused delete changes nothing"
    );

    let (s, v) = app
        .call(Method::DELETE, &format!("{path}?force=true"), op, None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["state"], "deleting");
    assert!(v["deleting_since"].is_string());
    // Disabled at once: the IAM API and the SCIM endpoint refuse its token.
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&key), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = app
        .call(Method::GET, &format!("{scim}/Users"), Some(&key), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .call(Method::PATCH, &path, op, Some(json!({"is_active": true})))
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a deleting account cannot come back"
    );

    // The background work removes it; the first account is untouched.
    app.roster.purge_deleted_accounts().await.unwrap();
    let (s, _) = app.call(Method::GET, &path, op, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app.call(Method::GET, "/operator/accounts", op, None).await;
    assert_eq!(list["count"], 1);
    assert_eq!(app.get("/iam/user").await.0, StatusCode::OK);
    assert_eq!(app.get("/iam/users").await.1["count"], 1);
}

both!(
    tokens_open_only_their_own_api,
    accounts_are_made_listed_renamed_and_disabled,
    deleting_an_account_disables_it_then_removes_it,
);
