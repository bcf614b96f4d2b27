//! Teams and the permission catalogue.

use crate::both;
use crate::harness::*;
use reqwest::StatusCode;
use serde_json::json;

async fn catalogue(app: &TestApp) {
    let (s, v) = app.get("/v4/iam/permissions?page_size=100").await;
    assert_eq!(s, StatusCode::OK);
    let all = v["results"].as_array().unwrap();
    assert_eq!(v["count"].as_i64().unwrap() as usize, all.len());
    let scim = all
        .iter()
        .find(|p| p["slug"] == "scim_protocol_integration")
        .expect("SCIM permission seeded");
    assert_eq!(scim["name"], "SCIM Protocol Integration");
    assert_eq!(scim["group"], "Accounts");
    assert!(all.iter().any(|p| p["name"] == "View Users"));
    assert!(all.iter().any(|p| p["name"] == "Edit Users"));
    let (_, v) = app.get("/iam/permissions?search=scim").await;
    assert_eq!(v["count"], 1);
    // Read-only.
    assert_eq!(
        app.post("/iam/permissions", json!({"name": "x"})).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

async fn team_lifecycle(app: &TestApp) {
    let (_, perms) = app.get("/iam/permissions?search=users").await;
    let ids: Vec<i64> = perms["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    let (s, v) = app
        .post(
            "/v4/iam/teams",
            json!({"name": "Developers", "permissions_ids": ids, "is_active": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["state"], "executed");
    assert_eq!(v["data"]["permissions"].as_array().unwrap().len(), 2);
    let id = v["data"]["id"].as_i64().unwrap();
    // Unique name, any case.
    let (s, v) = app
        .post(
            "/v4/iam/teams",
            json!({"name": "developers", "permissions_ids": []}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    // Required on create: name and permissions_ids.
    let (s, v) = app.post("/iam/teams", json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["name"][0], "This field is required.");
    assert_eq!(v["permissions_ids"][0], "This field is required.");
    let (s, v) = app
        .post(
            "/iam/teams",
            json!({"name": "Q", "permissions_ids": [424242]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["permissions_ids"][0],
        "Invalid pk \"424242\" - object does not exist."
    );
    // PUT replaces permissions; PATCH renames.
    let (s, v) = app
        .put(
            &format!("/iam/teams/{id}"),
            json!({"name": "Developers", "permissions_ids": [ids[0]]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["permissions"].as_array().unwrap().len(), 1);
    let (s, v) = app
        .patch(&format!("/iam/teams/{id}"), json!({"name": "Engineers"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["name"], "Engineers");
    assert_eq!(v["data"]["permissions"].as_array().unwrap().len(), 1);
    // Members block deletion, as Azion documents.
    let user = app.create_user("m@example.com", &[id]).await;
    let (s, v) = app.delete(&format!("/iam/teams/{id}")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["non_field_errors"][0]
            .as_str()
            .unwrap()
            .contains("Remove all users")
    );
    app.patch(&format!("/iam/users/{user}"), json!({"teams_ids": []}))
        .await;
    let (s, v) = app.delete(&format!("/iam/teams/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!({"state": "executed", "data": null}));
    assert_eq!(
        app.get(&format!("/iam/teams/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
}

async fn team_list_orders_by_name(app: &TestApp) {
    for n in ["beta", "Alpha", "gamma"] {
        app.create_team(n, &[]).await;
    }
    let (_, v) = app.get("/v4/iam/teams?page_size=100").await;
    let names: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Alpha", "beta", "gamma"]);
    let (_, v) = app.get("/v4/iam/teams?ordering=-name").await;
    assert_eq!(v["results"][0]["name"], "gamma");
}

both!(catalogue, team_lifecycle, team_list_orders_by_name);
