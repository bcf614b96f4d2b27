//! The SCIM endpoint against the Entra checklist (entra-behaviour.md §12) and Okta's shapes, on
//! both backends. Items are cited as `[E<n>]`.

use crate::both;
use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const MS_GROUP: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// [E1] [E4] [E5] [E7] Test Connection, on every URL form Entra may use.
async fn test_connection(app: &TestApp) {
    let s = app.scim().await;
    let guid = "cf4d78e8-cc4f-4d5d-b8b9-183561c0104a";
    for url in [
        format!("{}/Users?filter=userName+eq+%22{guid}%22", s.base),
        // The guide's scim_url already ends in /Users; Entra appends /Users.
        format!("{}/Users?filter=userName+eq+%22{guid}%22", s.scim_url),
        format!(
            "{}/Users/?aadOptscim062020&filter=userName%20eq%20%22{guid}%22",
            s.scim_url
        ),
        format!("{}/users?filter=externalId+eq+{guid}", s.base),
    ] {
        let r = s.get(&url).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.body);
        assert_eq!(
            r.body,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}),
            "{url}"
        );
    }
    let r = s
        .get(&format!(
            "{}/Groups?excludedAttributes=members&filter=displayName+eq+%22{guid}%22",
            s.scim_url
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));
}

/// [E2] Authentication and authorisation, each failure a SCIM error.
async fn scim_auth(app: &TestApp) {
    let s = app.scim().await;
    let r = s
        .app
        .client
        .get(format!("{}/Users", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(r.headers()["content-type"], "application/scim+json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(body["status"], "401");
    assert!(body["detail"].as_str().unwrap().contains("Bearer"));
    let r = s
        .with_key("azion00000000000000000000000000000000000")
        .get("/Users")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // `Token` works as well as `Bearer`.
    let r = s
        .app
        .client
        .get(format!("{}/Users", s.base))
        .header("Authorization", format!("Token {}", s.key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A user without the SCIM permission: 403; with it through an active team: allowed.
    let plain = app.create_user("plain@example.com", &[]).await;
    let key = app.token_for("plain@example.com").await;
    let r = s.with_key(&key).get("/Users").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("SCIM Protocol Integration")
    );
    let team = app
        .create_team("Provisioning", &["scim_protocol_integration"])
        .await;
    app.patch(&format!("/iam/users/{plain}"), json!({"teams_ids": [team]}))
        .await;
    assert_eq!(s.with_key(&key).get("/Users").await.status, StatusCode::OK);
    app.patch(&format!("/iam/teams/{team}"), json!({"is_active": false}))
        .await;
    assert_eq!(
        s.with_key(&key).get("/Users").await.status,
        StatusCode::FORBIDDEN
    );
    // Another account's token: the endpoint does not exist for it.
    let other = app.other_account_owner().await;
    let r = s.with_key(&other).get("/Users").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Unknown provider, and SCIM switched off: 404 saying what to do.
    let r = s
        .get(&format!(
            "{}/v4/users/scim/{}/Users",
            app.base,
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    app.patch(
        &format!("/iam/identity_providers/saml2/{}", s.idp),
        json!({"scim_integration": false}),
    )
    .await;
    let r = s.get("/Users").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("scim_integration")
    );
}

/// [E8] [E9] [E19] [E20] A user's whole life in Entra's default dialect.
async fn user_lifecycle_default_dialect(app: &TestApp) {
    let s = app.scim().await;
    let upn = "Alice@Contoso.com";
    assert_eq!(s.count("Users", &format!("userName eq \"{upn}\"")).await, 0);
    let r = s
        .post(
            "/Users",
            json!({"schemas": [USER, ENTERPRISE], "externalId": "0a21f0f2", "userName": upn, "active": "True",
                   "emails": [{"primary": true, "type": "work", "value": "alice@contoso.com"}],
                   "meta": {"resourceType": "User"}, "id": "client-chosen",
                   "name": {"formatted": "Alice Smith", "familyName": "Smith", "givenName": "Alice"}, "roles": [],
                   "addresses": null, "title": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_ne!(id, "client-chosen", "[E8] the server assigns id");
    // Opaque: a UUID v7 (time-ordered), never a count of the users before it.
    let uuid = uuid::Uuid::parse_str(&id).expect("a UUID id");
    assert_eq!(uuid.get_version_num(), 7, "{id}");
    assert_eq!(
        uuid.hyphenated().to_string(),
        id,
        "in its canonical spelling"
    );
    assert_eq!(r.body["active"], true, "[E12] \"True\" is a boolean");
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(
        r.headers["location"],
        format!("{}/Users/{id}", s.base).as_str()
    );
    assert_eq!(r.body["meta"]["location"], format!("{}/Users/{id}", s.base));
    assert_eq!(r.headers["etag"], "W/\"1\"");
    // Lookups in any case find it; the IAM API shows it.
    assert_eq!(
        s.count("Users", "userName eq \"alice@contoso.com\"").await,
        1
    );
    assert_eq!(s.count("Users", "externalId eq \"0a21f0f2\"").await, 1);
    assert_eq!(
        s.count(
            "Users",
            "emails[type eq \"work\"].value eq \"ALICE@contoso.com\""
        )
        .await,
        1
    );
    let iam_id = app.iam_id("users", &id).await;
    let (_, iam) = app.get(&format!("/v4/iam/users/{iam_id}")).await;
    assert_eq!(iam["data"]["scim_id"], id.as_str());
    assert_eq!(iam["data"]["first_name"], "Alice");
    assert_eq!(iam["data"]["email"], upn);
    assert_eq!(iam["data"]["provisioned_by_idp_uuid"], s.idp);
    // A duplicate: 409 uniqueness. Missing userName: 400 invalidValue. Broken JSON: invalidSyntax.
    let r = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "ALICE@contoso.COM"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["scimType"], "uniqueness");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("ALICE@contoso.COM")
    );
    let r = s
        .post(
            "/Users",
            json!({"schemas": [USER], "name": {"givenName": "x"}}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidValue"))
    );
    let r = s
        .post("/Users", json!({"schemas": [USER], "userName": ""}))
        .await;
    assert_eq!(
        (r.status, r.body["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidValue"))
    );
    let bad = s
        .app
        .client
        .post(format!("{}/Users", s.base))
        .header("Authorization", format!("Bearer {}", s.key))
        .body("{\"userName\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["scimType"], "invalidSyntax");

    // Updates, one operation per attribute, capitalised ops, string booleans [E13] [E14] [E15].
    let r = s
        .patch_ops(
            &format!("/Users/{id}"),
            json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updated@contoso.com"},
                {"op": "Replace", "path": "name.familyName", "value": "Jones"},
                {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "55555555555"},
                {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"}
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"]["familyName"], "Jones");
    assert_eq!(r.body["emails"][0]["value"], "updated@contoso.com");
    assert_eq!(
        r.body["phoneNumbers"],
        json!([{"type": "mobile", "value": "55555555555"}]),
        "[E26] stored as sent"
    );
    assert_eq!(r.body[ENTERPRISE]["department"], "R&D");
    assert_eq!(r.headers["etag"], "W/\"2\"");
    let (_, iam) = app.get(&format!("/v4/iam/users/{iam_id}")).await;
    assert_eq!(iam["data"]["last_name"], "Jones");

    // Disable: still returned, with active false, by id and by filter; its tokens stop [E19].
    let key = app.token_for(upn).await;
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&key), None).await.0,
        StatusCode::OK
    );
    let team = s.group("Engineering").await;
    s.patch_ops(
        &format!("/Groups/{team}"),
        json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]),
    )
    .await;
    let r = s
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["active"]),
        (StatusCode::OK, &json!(false))
    );
    assert_eq!(s.get(&format!("/Users/{id}")).await.body["active"], false);
    let q = serde_urlencoded::to_string([("filter", format!("userName eq \"{upn}\""))]).unwrap();
    let listed = s.get(&format!("/Users?{q}")).await;
    assert_eq!(listed.body["Resources"][0]["active"], false);
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&key), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Re-enable keeps memberships.
    let r = s
        .patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "path": "active", "value": "True"}]),
        )
        .await;
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["groups"][0]["value"], team);
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&key), None).await.0,
        StatusCode::OK
    );
    // Delete: 204; then 404 and no match; its tokens are gone [E20].
    let r = s.delete(&format!("/Users/{id}")).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::NO_CONTENT, Value::Null)
    );
    let r = s.get(&format!("/Users/{id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["status"], "404");
    assert_eq!(s.count("Users", &format!("userName eq \"{upn}\"")).await, 0);
    assert_eq!(
        s.delete(&format!("/Users/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.patch_ops(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "active", "value": false}])
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(Method::GET, "/iam/user", Some(&key), None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// [E16] [E17] [E18] The `aadOptscim062020` dialect, and manager in every shape.
async fn user_compliant_dialect(app: &TestApp) {
    let s = app.scim().await;
    let boss = s.user("boss@contoso.com").await;
    let id = s.user("bob@contoso.com").await;
    let path = format!("/Users/{id}?aadOptscim062020");
    let r = s
        .patch_ops(
            &path,
            json!([
                {"op": "replace", "path": "active", "value": false},
                {"op": "add", "path": "nickName", "value": "Babs"},
                {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
                  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}},
                {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": boss}
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["active"], false);
    assert_eq!(b["nickName"], "Babs");
    assert_eq!(b["displayName"], "Bjfe");
    assert_eq!(b["name"]["givenName"], "Kkom");
    assert_eq!(b[ENTERPRISE]["employeeNumber"], "Aklq");
    assert_eq!(
        b[ENTERPRISE]["manager"]["value"], boss,
        "[E18] manager is returned as an object"
    );
    assert!(
        b["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(ENTERPRISE))
    );
    // Manager as an object, then removed by an empty string.
    let r = s
        .patch_ops(
            &path,
            json!([{"op": "Replace", "path": "manager", "value": {"value": boss}}]),
        )
        .await;
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], boss, "{}", r.body);
    assert_eq!(
        s.count(
            "Users",
            &format!("id eq \"{id}\" and manager eq \"{boss}\"")
        )
        .await,
        1
    );
    let r = s
        .patch_ops(
            &path,
            json!([{"op": "Replace", "path": "manager", "value": ""}]),
        )
        .await;
    assert!(r.body[ENTERPRISE].get("manager").is_none(), "{}", r.body);
    // A failing operation leaves nothing half-applied.
    let r = s
        .patch_ops(&path, json!([{"op": "replace", "path": "nickName", "value": "Changed"}, {"op": "replace", "path": "id", "value": "9"}]))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(
        s.get(&format!("/Users/{id}")).await.body["nickName"],
        "Babs"
    );
    // Unknown paths and bad paths are 400s that say so.
    let r = s
        .patch_ops(
            &path,
            json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["scimType"].is_string());
}

/// [E22] [E23] [E24] [E25] Groups become teams.
async fn group_lifecycle(app: &TestApp) {
    let s = app.scim().await;
    let u1 = s.user("u1@example.com").await;
    let u2 = s.user("u2@example.com").await;
    let u3 = s.user("u3@example.com").await;
    assert_eq!(s.count("Groups", "displayName eq \"Sales\"").await, 0);
    let r = s
        .post("/Groups", json!({"schemas": [GROUP, MS_GROUP], "externalId": "8aa1a0c0", "displayName": "Sales", "meta": {"resourceType": "Group"}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.body["schemas"],
        json!([GROUP]),
        "the Microsoft URI is not echoed"
    );
    assert_eq!(r.body["members"], json!([]));
    assert_eq!(r.body["externalId"], "8aa1a0c0");
    let gid = r.body["id"].as_str().unwrap().to_string();
    let g = format!("/Groups/{gid}");
    // Teams made by SCIM start with no permissions and show in the IAM API.
    let team_id = app.iam_id("teams", &gid).await;
    let (_, team) = app.get(&format!("/iam/teams/{team_id}")).await;
    assert_eq!(team["data"]["permissions"], json!([]));
    assert_eq!(team["data"]["name"], "Sales");
    // Unique displayName.
    let r = s
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "SALES"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["scimType"].as_str()),
        (StatusCode::CONFLICT, Some("uniqueness"))
    );
    // Add several members in one request, $ref null, a scalar, a duplicate, an unknown id.
    let r = s
        .patch_ops(
            &g,
            json!([
                {"op": "Add", "path": "members", "value": [{"$ref": null, "value": u1}, {"value": u2}]},
                {"op": "Add", "path": "members", "value": u3},
                {"op": "Add", "path": "members", "value": [{"value": u1}, {"value": "not-a-user"}, {"value": "99999"}], "name": "addMember"}
            ]),
        )
        .await;
    // [E21] A group PATCH answers 204 (never the member list), with the new ETag.
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert!(r.headers.get("etag").is_some());
    let members = |b: &Value| -> Vec<String> {
        let mut v: Vec<String> = b["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let mut all = vec![u1.clone(), u2.clone(), u3.clone()];
    all.sort();
    assert_eq!(members(&s.get(&g).await.body), all);
    assert_eq!(
        s.count("Groups", &format!("members.value eq \"{u2}\""))
            .await,
        1
    );
    assert_eq!(
        s.count("Users", &format!("groups.value eq \"{gid}\""))
            .await,
        3
    );
    // excludedAttributes=members on get and on filter.
    let r = s.get(&format!("{g}?excludedAttributes=members")).await;
    assert!(r.body.get("members").is_none());
    assert_eq!(r.body["displayName"], "Sales");
    let r = s
        .get("/Groups?excludedAttributes=members&filter=displayName+eq+%22sales%22")
        .await;
    assert_eq!(r.body["totalResults"], 1);
    assert!(r.body["Resources"][0].get("members").is_none());
    // Remove one (default dialect, with value) and one (compliant dialect, filter).
    s.patch_ops(
        &g,
        json!([{"op": "Remove", "path": "members", "value": [{"value": u1}]}]),
    )
    .await;
    assert_eq!(members(&s.get(&g).await.body).len(), 2);
    s.patch_ops(
        &g,
        json!([{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}]),
    )
    .await;
    assert_eq!(members(&s.get(&g).await.body), vec![u3.clone()]);
    // Removing an absent member is fine. Rename, also path-less.
    let r = s
        .patch_ops(
            &g,
            json!([{"op": "Remove", "path": "members", "value": [{"value": u1}]}]),
        )
        .await;
    assert!(r.status.is_success());
    let r = s
        .patch_ops(
            &g,
            json!([{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    // A client that names the attributes it wants back gets them (RFC 7644 §3.5.2).
    let r = s
        .patch_ops(
            &format!("{g}?attributes=displayName,members"),
            json!([{"op": "Replace", "path": "displayName", "value": "Sales EMEA 2"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["displayName"].as_str(), members(&r.body)),
        (Some("Sales EMEA 2"), vec![u3.clone()])
    );
    s.patch_ops(
        &g,
        json!([{"op": "replace", "value": {"displayName": "Sales West"}}]),
    )
    .await;
    let (_, team) = app.get(&format!("/iam/teams/{team_id}")).await;
    assert_eq!(team["data"]["name"], "Sales West");
    // The user's teams in the IAM API.
    let (_, user) = app
        .get(&format!("/iam/users/{}", app.iam_id("users", &u3).await))
        .await;
    assert_eq!(user["data"]["teams"][0]["name"], "Sales West");
    // Remove all; delete.
    s.patch_ops(&g, json!([{"op": "remove", "path": "members"}]))
        .await;
    assert_eq!(members(&s.get(&g).await.body), Vec::<String>::new());
    s.patch_ops(
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": u1}]}]),
    )
    .await;
    let u1_iam = app.iam_id("users", &u1).await;
    assert_eq!(s.delete(&g).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&g).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/iam/teams/{team_id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/iam/users/{u1_iam}")).await.1["data"]["teams"],
        json!([])
    );
}

/// The account owner and every user made by hand are invisible to SCIM: not listed, not found, not
/// changed, not deleted; a create with their userName is a uniqueness conflict that changes nothing.
async fn hand_made_users_are_invisible(app: &TestApp) {
    let s = app.scim().await;
    let owner = app.get("/iam/user").await.1["data"]["id"].as_i64().unwrap();
    let hand = app.create_user("existing@example.com", &[]).await;
    for (id, name) in [(owner, "owner@example.com"), (hand, "existing@example.com")] {
        assert_eq!(
            s.count("Users", &format!("userName eq \"{name}\"")).await,
            0
        );
        // Addressed by the SCIM id it has (it would be its id, were SCIM to see it).
        let scim_id = app.scim_id("users", id).await;
        assert_eq!(s.count("Users", &format!("id eq \"{scim_id}\"")).await, 0);
        let path = format!("/Users/{scim_id}");
        assert_eq!(s.get(&path).await.status, StatusCode::NOT_FOUND);
        let r = s
            .patch_ops(
                &path,
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        let r = s
            .put(
                &path,
                json!({"schemas": [USER], "userName": name, "active": false}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        assert_eq!(s.delete(&path).await.status, StatusCode::NOT_FOUND);
        let r = s
            .post(
                "/Users",
                json!({"schemas": [USER], "userName": name, "active": false}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["scimType"].as_str()),
            (StatusCode::CONFLICT, Some("uniqueness")),
            "{}",
            r.body
        );
        let (_, v) = app.get(&format!("/iam/users/{id}")).await;
        assert_eq!(v["data"]["is_active"], true, "{name} was not changed");
    }
    assert_eq!(s.get("/Users").await.body["totalResults"], 0);
    // Only SCIM's own users are listed.
    let mine = s.user("scim@example.com").await;
    let r = s.get("/Users").await;
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["id"], mine.as_str());
}

/// [E7] Pagination by index and by cursor, and sorting.
async fn pagination_and_sorting(app: &TestApp) {
    let s = app.scim().await;
    for i in 0..7 {
        s.user(&format!("p{i}@example.com")).await;
    }
    // 7 users: the owner is not SCIM's.
    let r = s.get("/Users?startIndex=1&count=3&sortBy=userName").await;
    assert_eq!(
        (
            r.body["totalResults"].as_i64(),
            r.body["itemsPerPage"].as_i64(),
            r.body["startIndex"].as_i64()
        ),
        (Some(7), Some(3), Some(1))
    );
    assert_eq!(r.body["Resources"][0]["userName"], "p0@example.com");
    let r = s.get("/Users?startIndex=6&count=3&sortBy=userName").await;
    assert_eq!(r.body["itemsPerPage"], 2);
    assert_eq!(r.body["Resources"][1]["userName"], "p6@example.com");
    let r = s
        .get("/Users?count=2&sortBy=userName&sortOrder=descending")
        .await;
    assert_eq!(r.body["Resources"][0]["userName"], "p6@example.com");
    let r = s.get("/Users?count=0").await;
    assert_eq!(
        (
            r.body["totalResults"].as_i64(),
            r.body["itemsPerPage"].as_i64()
        ),
        (Some(7), Some(0))
    );
    let r = s.get("/Users?startIndex=0&count=-5").await;
    assert_eq!(r.body["startIndex"], 1);
    // Cursor pagination (RFC 9865) visits everyone exactly once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = s.get(&format!("/Users?count=3&cursor={cursor}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["totalResults"], 7);
        for u in r.body["Resources"].as_array().unwrap() {
            seen.push(u["id"].as_str().unwrap().to_string());
        }
        match r.body.get("nextCursor").and_then(Value::as_str) {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!((seen.len(), dedup.len()), (7, 7));
    // Cursors are opaque: sealed, so they tell nothing and none is forged, and each belongs to
    // its resource type.
    let first = s.get("/Users?count=3&cursor").await.body["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tampered = first.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in ["garbage", "c3", "3", tampered.as_str()] {
        let r = s.get(&format!("/Users?cursor={bad}")).await;
        assert_eq!(
            (r.status, r.body["scimType"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalidCursor")),
            "{bad}"
        );
    }
    let r = s.get(&format!("/Groups?cursor={first}")).await;
    assert_eq!(
        (r.status, r.body["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidCursor")),
        "a Users cursor on Groups"
    );
    let r = s.get("/Users?sortBy=emails").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // POST .search, per type and at the root.
    let r = s.post("/Users/.search", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName sw \"p\"", "count": 2, "attributes": ["userName"]})).await;
    assert_eq!(
        (r.status, r.body["totalResults"].as_i64()),
        (StatusCode::OK, Some(7))
    );
    assert!(r.body["Resources"][0].get("name").is_none());
    let r = s
        .post("/.search", json!({"filter": "userName co \"p6\""}))
        .await;
    assert_eq!(r.body["totalResults"], 1);
}

/// Filters: the RFC grammar in full, in SQL; what cannot be answered exactly is refused.
async fn filters(app: &TestApp) {
    let s = app.scim().await;
    let a = s
        .post("/Users", json!({"schemas": [USER], "userName": "ann@example.com", "title": "Engineer", "nickName": "Ann",
            "emails": [{"value": "ann@work.example", "type": "work", "primary": true}, {"value": "ann@home.example", "type": "home"}],
            "addresses": [{"type": "work", "locality": "Lisboa"}], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    s.post("/Users", json!({"schemas": [USER], "userName": "ben@example.com", "title": "Manager", "active": false})).await;
    s.post("/Users", json!({"schemas": [USER], "userName": "zed@example.com", "name": {"givenName": "Account", "familyName": "Owner"}})).await;
    for (f, n) in [
        ("userName eq \"ANN@example.com\"", 1),
        ("title co \"gine\"", 1),
        ("title sw \"man\" or nickName pr", 2),
        ("not (title eq \"Engineer\")", 2),
        ("active eq false", 1),
        ("active eq \"False\"", 1),
        ("emails[type eq \"work\" and value co \"@work\"]", 1),
        ("emails.value ew \"home.example\"", 1),
        ("emails[type eq \"home\"].value eq \"ann@home.example\"", 1),
        ("emails.primary eq true", 1),
        ("addresses[locality eq \"lisboa\"]", 1),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"r&d\"",
            1,
        ),
        (
            "meta.created gt \"2000-01-01T00:00:00Z\" and meta.lastModified le \"2100-01-01T00:00:00+01:00\"",
            3,
        ),
        ("externalId pr", 0),
        ("title eq null", 1),
        ("userName gt \"b\"", 2),
        ("DISPLAYNAME pr or NAME.GIVENNAME eq \"account\"", 1),
        ("meta.version eq \"a\"", 0),
        ("schemas eq \"x\"", 0),
    ] {
        assert_eq!(s.count("Users", f).await, n, "{f}");
    }
    for f in [
        "userName eq",
        "title xx \"a\"",
        "((userName eq \"a\")",
        "bogusAttribute eq \"x\"",
        "active gt true",
    ] {
        let q = serde_urlencoded::to_string([("filter", f)]).unwrap();
        let r = s.get(&format!("/Users?{q}")).await;
        assert_eq!(
            (r.status, r.body["scimType"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalidFilter")),
            "{f}: {}",
            r.body
        );
    }
}

/// ETags: If-None-Match on GET, If-Match on PUT, PATCH and DELETE.
async fn etags(app: &TestApp) {
    let s = app.scim().await;
    let id = s.user("e@example.com").await;
    let p = format!("/Users/{id}");
    let r = s.get(&p).await;
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    let r = s
        .req(Method::GET, &p, None, &[("If-None-Match", &etag)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "title", "value": "T"}]});
    let r = s
        .req(Method::PATCH, &p, Some(&body), &[("If-Match", "W/\"99\"")])
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(r.body["status"], "412");
    let r = s
        .req(Method::PATCH, &p, Some(&body), &[("If-Match", &etag)])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let new = r.headers["etag"].to_str().unwrap().to_string();
    assert_ne!(new, etag);
    let put = json!({"schemas": [USER], "userName": "e@example.com"});
    assert_eq!(
        s.req(Method::PUT, &p, Some(&put), &[("If-Match", &etag)])
            .await
            .status,
        StatusCode::PRECONDITION_FAILED
    );
    let r = s
        .req(Method::PUT, &p, Some(&put), &[("If-Match", &new)])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.get("title").is_none(), "PUT replaces: title cleared");
    assert_eq!(
        s.req(Method::DELETE, &p, None, &[("If-Match", &new)])
            .await
            .status,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        s.req(Method::DELETE, &p, None, &[("If-Match", "*")])
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

/// Bulk, with bulkId references resolved across operations (forward ones too).
async fn bulk(app: &TestApp) {
    let s = app.scim().await;
    let r = s
        .post(
            "/Bulk",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"schemas": [GROUP], "displayName": "Bulk", "members": [{"value": "bulkId:u"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"schemas": [USER], "userName": "bulk@example.com"}},
                {"method": "PATCH", "path": "/Users/bulkId:u", "data": {"Operations": [{"op": "add", "path": "title", "value": "Bulked"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"schemas": [USER], "userName": "BULK@example.com"}},
                {"method": "DELETE", "path": "/Users/424242"}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ops = r.body["Operations"].as_array().unwrap();
    let status: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(
        status,
        vec!["201", "201", "200", "409", "404"],
        "{}",
        r.body
    );
    assert_eq!(ops[3]["response"]["scimType"], "uniqueness");
    let gid = ops[0]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let g = s.get(&format!("/Groups/{gid}")).await;
    assert_eq!(g.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(s.count("Users", "title eq \"Bulked\"").await, 1);
    // failOnErrors stops the run.
    let r = s
        .post("/Bulk", json!({"failOnErrors": 1, "Operations": [
            {"method": "DELETE", "path": "/Users/424242"},
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"schemas": [USER], "userName": "never@example.com"}}
        ]}))
        .await;
    assert_eq!(r.body["Operations"].as_array().unwrap().len(), 1);
    assert_eq!(
        s.count("Users", "userName eq \"never@example.com\"").await,
        0
    );
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    let r = s.post("/Bulk", json!({"Operations": too_many})).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// [E28] Discovery, generated from the schema registry; writes there are 405; /Me is 501.
async fn discovery(app: &TestApp) {
    let s = app.scim().await;
    let r = s.get("/ServiceProviderConfig").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["patch"]["supported"], true);
    assert_eq!(r.body["filter"]["maxResults"], 1000);
    assert_eq!(r.body["bulk"]["maxOperations"], 1000);
    assert_eq!(r.body["etag"]["supported"], true);
    assert_eq!(r.body["sort"]["supported"], true);
    assert_eq!(
        r.body["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );
    let r = s.get("/ResourceTypes").await;
    assert_eq!(r.body["Resources"][0]["endpoint"], "/Users");
    assert_eq!(r.body["Resources"][1]["endpoint"], "/Groups");
    let r = s.get("/Schemas").await;
    let ids: Vec<&str> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&USER) && ids.contains(&GROUP) && ids.contains(&ENTERPRISE),
        "{ids:?}"
    );
    assert!(!r.body.to_string().contains("null"), "no nulls in /Schemas");
    assert_eq!(s.get(&format!("/Schemas/{USER}")).await.body["id"], USER);
    assert_eq!(s.get("/ResourceTypes/Group").await.body["name"], "Group");
    assert_eq!(
        s.get("/Schemas/urn:nope").await.status,
        StatusCode::NOT_FOUND
    );
    for p in ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes"] {
        let r = s.post(p, json!({})).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{p}");
        assert_eq!(r.headers["allow"], "GET");
    }
    assert_eq!(s.get("/Me").await.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(s.get("/Nothing").await.status, StatusCode::NOT_FOUND);
    let r = s.req(Method::DELETE, "/Users", None, &[]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    // The doubled form serves discovery too.
    assert_eq!(
        s.get(&format!("{}/ServiceProviderConfig", s.scim_url))
            .await
            .status,
        StatusCode::OK
    );
    // Too large a body: 413 as a SCIM error.
    let big = json!({"schemas": [USER], "userName": "x".repeat(2 * 1024 * 1024)});
    let r = s.post("/Users", big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["status"], "413");
}

/// Every change and every failure is in the provider's provisioning log, newest first.
async fn provisioning_log(app: &TestApp) {
    let s = app.scim().await;
    let id = s.user("log@example.com").await;
    s.patch_ops(
        &format!("/Users/{id}"),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await;
    s.get(&format!("/Users/{id}")).await; // reads are not logged
    s.post(
        "/Users",
        json!({"schemas": [USER], "userName": "log@example.com"}),
    )
    .await;
    // A request without a valid token is counted in memory, never written to the log.
    let refused = app.roster.signals().unauthenticated_scim_count();
    s.with_key("azion00000000000000000000000000000000000")
        .get("/Users")
        .await;
    assert_eq!(
        app.roster.signals().unauthenticated_scim_count(),
        refused + 1
    );
    let (st, v) = app
        .get(&format!(
            "/iam/identity_providers/saml2/{}/provisioning_log",
            s.idp
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let entries = v["results"].as_array().unwrap();
    let outcomes: Vec<(&str, i64)> = entries
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap(),
                e["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![("failed", 409), ("updated", 200), ("created", 201)]
    );
    assert_eq!(entries[0]["scim_type"], "uniqueness");
    let update = &entries[1];
    assert_eq!(update["method"], "PATCH");
    assert_eq!(update["resource_id"], id);
    assert_eq!(update["changes"][0]["attribute"], "active");
    assert_eq!(update["changes"][0]["old"], true);
    assert_eq!(update["changes"][0]["new"], false);
    let tolerances: Vec<&str> = update["tolerances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        !tolerances.is_empty(),
        "Entra's \"Replace\" and \"False\" are tolerances: {update}"
    );
    assert_eq!(v["count"], 3);
    // Owner only.
    app.create_user("n@example.com", &[]).await;
    let key = app.token_for("n@example.com").await;
    let (st, _) = app
        .call(
            Method::GET,
            &format!("/iam/identity_providers/saml2/{}/provisioning_log", s.idp),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

/// Okta: PUT to update, deactivate without delete, group PUT replaces members.
async fn okta_shapes(app: &TestApp) {
    let s = app.scim().await;
    let id = s.user("okta.user@example.com").await;
    let m = s.user("member@example.com").await;
    let r = s
        .put(&format!("/Users/{id}"), json!({"schemas": [USER], "id": id, "userName": "okta.user@example.com",
            "name": {"givenName": "Okta", "familyName": "User"}, "emails": [{"primary": true, "value": "okta.user@example.com", "type": "work"}],
            "active": false, "password": "not-stored"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert!(r.body.get("password").is_none());
    let r = s
        .req(
            Method::GET,
            "/Users?count=1&startIndex=1&filter=userName+eq+%22OKTA.USER@example.com%22",
            None,
            &[("Accept", "application/scim+json")],
        )
        .await;
    assert_eq!(r.body["totalResults"], 1);
    let gid = s.group("Okta Group").await;
    let r = s.put(&format!("/Groups/{gid}"), json!({"schemas": [GROUP], "id": gid, "displayName": "Okta Group 2", "members": [{"value": m, "display": "member"}]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["members"][0]["value"], m);
    let r = s
        .put(
            &format!("/Groups/{gid}"),
            json!({"schemas": [GROUP], "displayName": "Okta Group 2"}),
        )
        .await;
    assert_eq!(r.body["members"], json!([]));
}

/// A group's members show the display a client sent with them, else their user's name; a
/// display that was the user's name (Okta sends the name it knows) follows a rename in every
/// group at once, and one that was something else stays as sent.
async fn member_displays_follow_renames(app: &TestApp) {
    let s = app.scim().await;
    let named = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "ada@example.com", "displayName": "Ada Lovelace"}),
        )
        .await;
    assert_eq!(named.status, StatusCode::CREATED, "{}", named.body);
    let ada = named.body["id"].as_str().unwrap().to_string();
    let bob = s.user("bob@example.com").await;
    let group = |name: &str, members: Value| {
        let s = &s;
        let name = name.to_string();
        async move {
            let r = s
                .post(
                    "/Groups",
                    json!({"schemas": [GROUP], "displayName": name, "members": members}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["id"].as_str().unwrap().to_string()
        }
    };
    let okta = group(
        "Okta",
        json!([{"value": ada, "display": "Ada Lovelace"}, {"value": bob}]),
    )
    .await;
    let label = group("Label", json!([{"value": ada, "display": "A. L."}])).await;
    let entra = group("Entra", json!([{"value": ada}])).await;
    let display = |g: Value, id: &str| -> String {
        g["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["value"] == id)
            .unwrap()["display"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let shown = |g: String, id: String| {
        let s = &s;
        async move { display(s.get(&format!("/Groups/{g}")).await.body, &id) }
    };
    assert_eq!(shown(okta.clone(), bob.clone()).await, "bob@example.com");
    assert_eq!(shown(entra.clone(), ada.clone()).await, "Ada Lovelace");
    let r = s
        .patch_ops(
            &format!("/Users/{ada}"),
            json!([{"op": "replace", "path": "displayName", "value": "Ada King"}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(shown(okta.clone(), ada.clone()).await, "Ada King");
    assert_eq!(shown(entra.clone(), ada.clone()).await, "Ada King");
    assert_eq!(
        shown(label.clone(), ada.clone()).await,
        "A. L.",
        "a label stays as sent"
    );
    // Filters on members.display compare what is shown, whatever its source, case-insensitively.
    for (filter, groups) in [
        ("members.display eq \"ADA KING\"", 2),
        ("members.display eq \"Ada Lovelace\"", 0),
        ("members.display eq \"a. l.\"", 1),
        ("members[display eq \"BOB@example.com\"]", 1),
        ("members[display sw \"ada\" and value eq \"{ada}\"]", 2),
        (
            "members.display co \"king\" and not (members.display eq \"bob@example.com\")",
            1,
        ),
    ] {
        let filter = filter.replace("{ada}", &ada);
        assert_eq!(s.count("Groups", &filter).await, groups, "{filter}");
    }
    // Without a displayName the name is the userName, and a rename of that is followed too.
    let r = s
        .patch_ops(
            &format!("/Users/{bob}"),
            json!([{"op": "replace", "path": "userName", "value": "robert@example.com"}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(shown(okta, bob).await, "robert@example.com");
    assert_eq!(
        s.count("Groups", "members.display eq \"Robert@Example.com\"")
            .await,
        1
    );
}

/// Only the account's active provider provisions: an inactive one's endpoint answers 403, and
/// what it made stays its own until it is active again.
async fn inactive_providers_answer_403(app: &TestApp) {
    let s = app.scim().await;
    let u = s.user("kept@example.com").await;
    let idp = format!("/iam/identity_providers/saml2/{}", s.idp);
    let (st, v) = app.patch(&idp, json!({"is_active": false})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    for (m, path) in [
        (Method::GET, "/Users".to_string()),
        (Method::GET, format!("/Users/{u}")),
        (Method::DELETE, format!("/Users/{u}")),
    ] {
        let r = s.req(m.clone(), &path, None, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{m} {path}: {}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap().contains("is_active"),
            "{}",
            r.body
        );
    }
    let (_, user) = app
        .get(&format!("/iam/users/{}", app.iam_id("users", &u).await))
        .await;
    assert_eq!(user["data"]["email"], "kept@example.com", "the user stays");
    app.patch(&idp, json!({"is_active": true})).await;
    let r = s.get(&format!("/Users/{u}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// A create whose userName is taken outside the provider's scope says who holds it.
async fn taken_user_names_say_who_holds_them(app: &TestApp) {
    let s = app.scim().await;
    let create = |name: &str| {
        let s = &s;
        let body = json!({"schemas": [USER], "userName": name});
        async move { s.post("/Users", body).await }
    };
    let r = create("owner@example.com").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["scimType"], "uniqueness");
    assert!(
        r.body["detail"].as_str().unwrap().contains("account owner"),
        "{}",
        r.body
    );
    app.create_user("hand@example.com", &[]).await;
    let r = create("hand@example.com").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("made by hand"),
        "{}",
        r.body
    );
    // Its own user: the plain conflict (the provider can find it with a filter).
    s.user("mine@example.com").await;
    let r = create("mine@example.com").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{}",
        r.body
    );
    // Another provider's: named by its uuid.
    let other = app.active_provider("Okta").await;
    let okta = s.with_idp(&other);
    let r = okta
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "mine@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains(&s.idp),
        "{}",
        r.body
    );
}

/// Deleting a provider keeps what it provisioned as hand-made (by default), keeps it
/// deactivated, or deletes it, as `?users=` says.
async fn deleting_a_provider_keeps_deactivates_or_deletes_its_users(app: &TestApp) {
    for (how, active_after, exists_after) in [
        (None, Some(true), true),
        (Some("deactivate"), Some(false), true),
        (Some("delete"), None, false),
    ] {
        let tag = how.unwrap_or("keep");
        let s = app.scim().await;
        let u = s.user(&format!("{tag}@example.com")).await;
        let r = s
            .post("/Groups", json!({"schemas": [GROUP], "displayName": format!("G {tag}"), "members": [{"value": u}]}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let g = r.body["id"].as_str().unwrap().to_string();
        let (u, g) = (app.iam_id("users", &u).await, app.iam_id("teams", &g).await);
        let idp = format!("/iam/identity_providers/saml2/{}", s.idp);
        let (st, v) = app.delete(&format!("{idp}?users=maybe")).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        let path = match how {
            Some(h) => format!("{idp}?users={h}"),
            None => idp.clone(),
        };
        let (st, v) = app.delete(&path).await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{tag}: {v}");
        assert_eq!(app.get(&idp).await.0, StatusCode::NOT_FOUND);
        let (st, user) = app.get(&format!("/iam/users/{u}")).await;
        let (tst, _) = app.get(&format!("/iam/teams/{g}")).await;
        if exists_after {
            assert_eq!(st, StatusCode::OK, "{tag}: {user}");
            assert_eq!(user["data"]["is_active"].as_bool(), active_after, "{tag}");
            assert_eq!(tst, StatusCode::OK, "{tag}");
            // Hand-made now: the IAM API may change it.
            let (st, v) = app
                .patch(&format!("/iam/users/{u}"), json!({"first_name": "Now"}))
                .await;
            assert_eq!(st, StatusCode::OK, "{tag}: {v}");
        } else {
            assert_eq!(st, StatusCode::NOT_FOUND, "{tag}: {user}");
            assert_eq!(tst, StatusCode::NOT_FOUND, "{tag}");
        }
    }
}

/// A member id that is not this provider's user is ignored (Entra expects that), and the
/// provisioning log says which and why.
async fn ignored_members_are_logged_with_their_reason(app: &TestApp) {
    let s = app.scim().await;
    let own = s.user("own@example.com").await;
    let hand = app.create_user("hand@example.com", &[]).await;
    let hand = app.scim_id("users", hand).await;
    let (_, me) = app.get("/iam/user").await;
    let owner = me["data"]["scim_id"].as_str().unwrap().to_string();
    let other_group = s.group("Other").await;
    let nobody = roster_core::model::ScimRef::fresh().to_string();
    // Another provider's user: made while that provider was the active one.
    let okta = app.active_provider("Okta").await;
    let foreign = s.with_idp(&okta).user("foreign@example.com").await;
    app.patch(
        &format!("/iam/identity_providers/saml2/{}", s.idp),
        json!({"is_active": true}),
    )
    .await;

    let r = s
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Mixed", "members": [
                {"value": own}, {"value": hand}, {"value": owner}, {"value": foreign},
                {"value": "999999"}, {"value": nobody}, {"value": "not-an-id"},
                {"value": own.to_uppercase()}, {"value": other_group, "type": "Group"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let members: Vec<&str> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, [own.as_str()]);
    let (_, log) = app
        .get(&format!(
            "/iam/identity_providers/saml2/{}/provisioning_log",
            s.idp
        ))
        .await;
    let entry = &log["results"][0];
    assert_eq!(entry["outcome"], "created", "{entry}");
    let ignored: Vec<(String, String)> = entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["ignored"].as_array())
        .flatten()
        .map(|i| {
            (
                i["value"].as_str().unwrap().to_string(),
                i["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let logged = |id: &str, why: &str| ignored.iter().any(|(v, r)| v == id && r.contains(why));
    assert!(logged(&hand, "made by hand"), "{ignored:?}");
    assert!(logged(&owner, "own user"), "{ignored:?}");
    assert!(logged(&foreign, "another identity provider"), "{ignored:?}");
    assert!(logged("999999", "no such user"), "{ignored:?}");
    assert!(logged(&nobody, "no such user"), "{ignored:?}");
    assert!(logged("not-an-id", "not a user id"), "{ignored:?}");
    // Ids are caseExact: another spelling names no one.
    assert!(logged(&own.to_uppercase(), "not a user id"), "{ignored:?}");
    assert!(logged(&other_group, "nested groups"), "{ignored:?}");
    assert_eq!(ignored.len(), 8, "{ignored:?}");
}

/// With `scim_adopt_existing` on, a create naming a hand-made user links it to the provider
/// (201, logged as adopted); owners and other providers' users are never adopted.
async fn providers_adopt_hand_made_users_when_told(app: &TestApp) {
    let s = app.scim().await;
    let hand = app.create_user("hand@example.com", &[]).await;
    let hand = app.scim_id("users", hand).await;
    let create = |name: &str| {
        let s = &s;
        let body = json!({"schemas": [USER], "userName": name, "name": {"givenName": "Hand", "familyName": "Made"}});
        async move { s.post("/Users", body).await }
    };
    assert_eq!(
        create("hand@example.com").await.status,
        StatusCode::CONFLICT,
        "off by default"
    );
    let idp = format!("/iam/identity_providers/saml2/{}", s.idp);
    let (st, v) = app.patch(&idp, json!({"scim_adopt_existing": true})).await;
    assert_eq!(
        (st, v["scim_adopt_existing"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );

    let r = create("hand@example.com").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["id"], hand.as_str(), "the same user");
    assert_eq!(r.body["name"]["givenName"], "Hand");
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .ends_with(&format!("/Users/{hand}"))
    );
    assert_eq!(
        s.get(&format!("/Users/{hand}")).await.status,
        StatusCode::OK
    );
    let (_, log) = app.get(&format!("{idp}/provisioning_log")).await;
    assert_eq!(log["results"][0]["outcome"], "adopted", "{log}");
    // Adopted once: a second create is the plain conflict.
    assert_eq!(
        create("hand@example.com").await.status,
        StatusCode::CONFLICT
    );
    // Never the owner, never another provider's user.
    let r = create("owner@example.com").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let other = app.active_provider("Okta").await;
    let okta = s.with_idp(&other);
    okta.user("theirs@example.com").await;
    app.patch(&idp, json!({"is_active": true})).await;
    let r = create("theirs@example.com").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains(&other),
        "{}",
        r.body
    );
}

/// `schemas` and `meta.resourceType` filter like any attribute, on GET and `/.search`.
async fn schemas_and_resource_type_filter(app: &TestApp) {
    let s = app.scim().await;
    s.user("plain@example.com").await;
    let r = s
        .post(
            "/Users",
            json!({"schemas": [USER, ENTERPRISE], "userName": "emp@example.com",
                   ENTERPRISE: {"department": "R&D"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    s.group("G").await;
    assert_eq!(s.count("Users", "meta.resourceType eq \"User\"").await, 2);
    assert_eq!(s.count("Groups", "meta.resourceType eq \"User\"").await, 0);
    assert_eq!(s.count("Groups", "meta.resourceType eq \"Group\"").await, 1);
    assert_eq!(
        s.count("Users", &format!("schemas eq \"{ENTERPRISE}\""))
            .await,
        1
    );
    assert_eq!(
        s.count("Users", &format!("not (schemas eq \"{ENTERPRISE}\")"))
            .await,
        1
    );
    let r = s
        .post(
            "/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": format!("schemas eq \"{ENTERPRISE}\" and meta.resourceType eq \"User\"")}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["totalResults"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{}",
        r.body
    );
    // meta.version, as the ETag shows it.
    let emp = r.body["Resources"][0]["id"].as_str().unwrap().to_string();
    let p = s
        .patch_ops(
            &format!("/Users/{emp}"),
            json!([{"op": "replace", "path": "title", "value": "Boss"}]),
        )
        .await;
    assert!(p.status.is_success(), "{}", p.body);
    let version = s.get(&format!("/Users/{emp}")).await.body["meta"]["version"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(version, "W/\"2\"");
    assert_eq!(s.count("Users", "meta.version eq \"W/\\\"2\\\"\"").await, 1);
    assert_eq!(s.count("Users", "meta.version eq \"W/\\\"1\\\"\"").await, 1);
    // meta.location, as the resource shows it.
    let location = r.body["Resources"][0]["meta"]["location"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        s.count("Users", &format!("meta.location eq \"{location}\""))
            .await,
        1
    );
    assert_eq!(
        s.count("Groups", &format!("meta.location eq \"{location}\""))
            .await,
        0
    );
}

/// Users and groups made before SCIM ids became opaque keep answering to the integer ids Entra
/// stored; new ones answer only to their UUIDs; a group holds both kinds.
async fn legacy_ids_keep_answering(app: &TestApp) {
    use roster_core::model::{AccountId, NewUser, ScimRef, Team};
    let s = app.scim().await;
    let idp: uuid::Uuid = s.idp.parse().unwrap();
    let now = roster_core::Clock::now(app.clock.as_ref());
    let (old_user, old_team) = {
        let store = app.roster.store().clone();
        let mut tx = store.begin().await.unwrap();
        let mut u = NewUser::new(AccountId(1), "old@example.com", "Old", "Timer", now);
        u.provisioning.idp_uuid = Some(idp);
        u.scim_id = None;
        let u = tx.insert_user(&u).await.unwrap();
        let mut t = Team::new(AccountId(1), "Old team", now);
        t.provisioning.idp_uuid = Some(idp);
        t.scim_id = None;
        let t = tx.insert_team(&t).await.unwrap();
        tx.commit().await.unwrap();
        (u.0.to_string(), t.0.to_string())
    };
    let r = s.get(&format!("/Users/{old_user}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["id"], old_user.as_str());
    assert!(
        r.body["meta"]["location"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/Users/{old_user}"))
    );
    assert_eq!(s.count("Users", &format!("id eq \"{old_user}\"")).await, 1);
    // A new user answers to its UUID only, never to the integer the IAM API knows it by.
    let new_user = s.user("new@example.com").await;
    assert!(matches!(ScimRef::parse(&new_user), Some(ScimRef::Id(_))));
    let iam = app.iam_id("users", &new_user).await;
    assert_eq!(
        s.get(&format!("/Users/{iam}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.count("Users", &format!("id eq \"{iam}\"")).await, 0);
    // One PATCH adds both kinds to the old group; both show, and filters find them.
    let g = format!("/Groups/{old_team}");
    let r = s
        .patch_ops(
            &format!("{g}?attributes=members"),
            json!([{"op": "add", "path": "members", "value": [{"value": old_user}, {"value": new_user}]}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let members: Vec<&str> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, [old_user.as_str(), new_user.as_str()]);
    assert_eq!(
        s.count("Groups", &format!("members.value eq \"{new_user}\""))
            .await,
        1
    );
    assert_eq!(
        s.count("Users", &format!("groups.value eq \"{old_team}\""))
            .await,
        2
    );
    let r = s.get(&format!("/Users/{new_user}")).await;
    assert_eq!(
        r.body["groups"][0]["value"],
        old_team.as_str(),
        "{}",
        r.body
    );
    // Removing by either id works, and the log names members by their SCIM ids.
    let r = s
        .patch_ops(
            &g,
            json!([{"op": "remove", "path": format!("members[value eq \"{new_user}\"]")}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let (_, log) = app
        .get(&format!(
            "/iam/identity_providers/saml2/{}/provisioning_log",
            s.idp
        ))
        .await;
    let entry = &log["results"][0];
    assert_eq!(entry["resource_id"], old_team.as_str(), "{entry}");
    assert!(entry["changes"].to_string().contains(&new_user), "{entry}");
}

both!(
    legacy_ids_keep_answering,
    schemas_and_resource_type_filter,
    providers_adopt_hand_made_users_when_told,
    ignored_members_are_logged_with_their_reason,
    deleting_a_provider_keeps_deactivates_or_deletes_its_users,
    taken_user_names_say_who_holds_them,
    inactive_providers_answer_403,
    member_displays_follow_renames,
    test_connection,
    scim_auth,
    user_lifecycle_default_dialect,
    user_compliant_dialect,
    group_lifecycle,
    hand_made_users_are_invisible,
    pagination_and_sorting,
    filters,
    etags,
    bulk,
    discovery,
    provisioning_log,
    okta_shapes,
);

/// Concurrent creates of one userName: exactly one 201, the rest 409 uniqueness.
async fn concurrent_creates(app: &TestApp) {
    let s = app.scim().await;
    let body = json!({"schemas": [USER], "userName": "race@example.com"});
    let futs = (0..12).map(|_| s.post("/Users", body.clone()));
    let results = futures::future::join_all(futs).await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let conflicts = results
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT && r.body["scimType"] == "uniqueness")
        .count();
    assert_eq!(
        (created, conflicts),
        (1, 11),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(
        s.count("Users", "userName eq \"race@example.com\"").await,
        1
    );
}

/// Concurrent PATCHes with the same If-Match: exactly one succeeds, the rest 412.
async fn concurrent_if_match(app: &TestApp) {
    let s = app.scim().await;
    let id = s.user("ifmatch@example.com").await;
    let p = format!("/Users/{id}");
    let etag = s.get(&p).await.headers["etag"]
        .to_str()
        .unwrap()
        .to_string();
    let futs = (0..10).map(|i| {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "title", "value": format!("t{i}")}]});
        let etag = etag.clone();
        let p = p.clone();
        let s = &s;
        async move { s.req(Method::PATCH, &p, Some(&body), &[("If-Match", &etag)]).await }
    });
    let results = futures::future::join_all(futs).await;
    let ok = results
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let failed = results
        .iter()
        .filter(|r| r.status == StatusCode::PRECONDITION_FAILED)
        .count();
    assert_eq!(
        (ok, failed),
        (1, 9),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(s.get(&p).await.headers["etag"], "W/\"2\"");
    // Without If-Match, concurrent PATCHes all land (lost updates are retried, not lost).
    let futs = (0..6).map(|i| {
        let s = &s;
        let p = p.clone();
        async move { s.patch_ops(&p, json!([{"op": "add", "path": "emails", "value": [{"value": format!("e{i}@example.com"), "type": format!("t{i}")}]}])).await }
    });
    for r in futures::future::join_all(futs).await {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    assert_eq!(s.get(&p).await.body["emails"].as_array().unwrap().len(), 6);
}

/// Entra adds users to one group from several workers at once: every add lands (no deadlock, no
/// lost member), whatever order the writes take.
async fn concurrent_member_adds(app: &TestApp) {
    let s = app.scim().await;
    let gid = s.group("Busy").await;
    let mut users = Vec::new();
    for i in 0..16 {
        users.push(s.user(&format!("busy{i}@example.com")).await);
    }
    let p = format!("/Groups/{gid}");
    let futs = users.iter().map(|u| {
        let s = &s;
        let p = p.clone();
        async move {
            s.patch_ops(
                &p,
                json!([{"op": "add", "path": "members", "value": [{"value": u}]}]),
            )
            .await
        }
    });
    for r in futures::future::join_all(futs).await {
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    }
    let members = s.get(&p).await.body["members"].as_array().unwrap().len();
    assert_eq!(members, 16);
}

/// Large groups: a membership PATCH sends back more than 1,000 members only when `attributes` asks.
async fn large_group_patch(app: &TestApp) {
    let s = app.scim().await;
    let gid = s.group("Big").await;
    let ids: Vec<roster_core::model::ScimRef> = {
        let store = app.roster.store().clone();
        let mut tx = store.begin().await.unwrap();
        let mut ids = Vec::new();
        let now = roster_core::Clock::now(app.clock.as_ref());
        let idp: uuid::Uuid = s.idp.parse().unwrap();
        for i in 0..1001 {
            let mut u = roster_core::model::NewUser::new(
                roster_core::model::AccountId(1),
                format!("big{i}@example.com"),
                "B",
                "G",
                now,
            );
            u.provisioning.idp_uuid = Some(idp);
            // Half were made before opaque SCIM ids: one request names both kinds.
            if i % 2 == 1 {
                u.scim_id = None;
            }
            let scim_id = u.scim_id;
            let id = tx.insert_user(&u).await.unwrap();
            ids.push(roster_core::model::ScimRef::of(id.0, scim_id));
        }
        tx.commit().await.unwrap();
        ids
    };
    let values: Vec<Value> = ids
        .iter()
        .map(|i| json!({"value": i.to_string()}))
        .collect();
    let r = s
        .patch_ops(
            &format!("/Groups/{gid}"),
            json!([{"op": "add", "path": "members", "value": values}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert!(r.headers.get("etag").is_some());
    // Only excludedAttributes that keep the members: still no member list.
    let r = s
        .patch_ops(
            &format!("/Groups/{gid}?excludedAttributes=externalId"),
            json!([{"op": "add", "path": "members", "value": values[..1]}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    // Named in `attributes`, RFC 7644 §3.5.2 requires 200 with them: the client asked.
    let r = s
        .patch_ops(
            &format!("/Groups/{gid}?attributes=members"),
            json!([{"op": "add", "path": "members", "value": values[..1]}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["members"].as_array().map(Vec::len), Some(1001));
    let r = s
        .patch_ops(
            &format!("/Groups/{gid}?excludedAttributes=members"),
            json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])}]),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "without members the group is small: {}",
        r.body
    );
    assert!(r.body.get("members").is_none());
    assert_eq!(
        app.get(&format!("/iam/teams/{}", app.iam_id("teams", &gid).await))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        s.count("Users", &format!("groups.value eq \"{gid}\""))
            .await,
        1000
    );
}

/// Write-only attributes never reach the store or the log.
async fn passwords_are_not_kept(app: &TestApp) {
    let s = app.scim().await;
    let r = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "pw@example.com", "password": "Sup3rSecret!"}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    s.patch_ops(
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"password": "An0ther!"}}]),
    )
    .await;
    let user = app
        .roster
        .store()
        .read()
        .await
        .unwrap()
        .scim_user(
            roster_core::model::AccountId(1),
            roster_core::model::ScimRef::parse(&id).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        !user.scim.to_string().contains("Sup3rSecret")
            && !user.scim.to_string().contains("An0ther"),
        "{}",
        user.scim
    );
    let (_, log) = app
        .get(&format!(
            "/iam/identity_providers/saml2/{}/provisioning_log",
            s.idp
        ))
        .await;
    assert!(
        !log.to_string().contains("Sup3rSecret") && !log.to_string().contains("An0ther"),
        "{log}"
    );
}

both!(
    concurrent_creates,
    concurrent_if_match,
    concurrent_member_adds,
    large_group_patch,
    passwords_are_not_kept
);

/// [E3] [E13] [E23] [E28] Content types, extra keys, value filters in `attributes`, schema texts.
async fn entra_tolerances(app: &TestApp) {
    let s = app.scim().await;
    for (i, ctype) in [
        "application/json",
        "application/scim+json; charset=utf-8",
        "application/scim+json",
    ]
    .iter()
    .enumerate()
    {
        let r = s
            .app
            .client
            .post(format!("{}/Users", s.base))
            .header("Authorization", format!("Bearer {}", s.key))
            .header("Content-Type", *ctype)
            .body(json!({"schemas": [USER], "userName": format!("ct{i}@example.com")}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{ctype}");
    }
    let id = s.user("tol@example.com").await;
    let r = s
        .patch(
            &format!("/Users/{id}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "id": id,
                   "Operations": [{"op": "Add", "path": "title", "value": "T", "name": "addTitle"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = s
        .get(&format!(
            "/Users/{id}?attributes=emails[type+eq+%22work%22],userName"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.get("title").is_none());
    assert_eq!(r.body["userName"], "tol@example.com");
    let r = s
        .get("/Users?attributes=emails%5Btype+eq+%22work%22%5D&excludedAttributes=nope")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = s.get(&format!("/Schemas/{USER}")).await;
    assert_eq!(r.body["description"], "User Account");
}

both!(entra_tolerances);

/// [E29] Beyond the configured rate, 429 with Retry-After and a SCIM body; other providers unaffected.
async fn throttled(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        roster_server::ServerConfig {
            scim_rate_limit: 5,
            ..Default::default()
        },
    )
    .await;
    let s = app.scim().await;
    let mut responses = Vec::new();
    for _ in 0..30 {
        responses.push(s.get("/Users?count=1").await);
    }
    assert!(
        responses
            .iter()
            .take(10)
            .all(|r| r.status == StatusCode::OK),
        "the burst (10) is served"
    );
    let limited: Vec<&ScimResponse> = responses
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        !limited.is_empty(),
        "30 quick requests against 5/s are throttled"
    );
    assert_eq!(limited[0].body["status"], "429");
    assert!(
        limited[0].headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // Another provider has its own budget.
    let other = app.scim().await;
    assert_eq!(other.get("/Users?count=1").await.status, StatusCode::OK);
    app.finish().await;
}

#[tokio::test]
async fn throttled_sqlite() {
    throttled(Backend::Sqlite).await;
}

/// No malformed SCIM request (body, filter, path, header) gets a 500; each gets a SCIM error.
async fn scim_never_500(app: &TestApp) {
    let s = app.scim().await;
    let uid = s.user("robust@example.com").await;
    let gid = s.group("Robust").await;
    let paths = [
        "/Users".to_string(),
        format!("/Users/{uid}"),
        "/Users/abc".to_string(),
        "/Users/.search".to_string(),
        "/Groups".to_string(),
        format!("/Groups/{gid}"),
        "/Groups/0".to_string(),
        "/Bulk".to_string(),
        "/.search".to_string(),
        "/ServiceProviderConfig".to_string(),
        "/Schemas/x".to_string(),
        "/ResourceTypes/x".to_string(),
        "/Users/1/extra/segments".to_string(),
    ];
    let bodies = [
        "",
        "{",
        "null",
        "[]",
        "\"x\"",
        "{\"Operations\": \"nope\"}",
        "{\"Operations\": [{\"op\": \"frobnicate\", \"path\": \"userName\"}]}",
        "{\"Operations\": [{\"op\": \"add\", \"path\": \"emails[type eq\", \"value\": 1}]}",
        "{\"Operations\": [{\"op\": \"replace\", \"path\": \"members\", \"value\": [{\"value\": {\"a\": 1}}]}]}",
        "{\"schemas\": 5, \"userName\": [\"a\"], \"displayName\": {\"x\": 1}, \"members\": \"x\", \"emails\": 7}",
        "{\"userName\": \"nul\\u0000here\"}",
        "{\"Operations\": [{\"method\": \"POST\", \"path\": \"/Users\", \"bulkId\": \"a\", \"data\": {\"userName\": \"bulkId:a\"}}]}",
        "{\"filter\": \"((((((((((((((((((((((((((((((((((((((((((((((((userName eq 1\", \"count\": -1}",
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
            for b in &bodies {
                let resp = s
                    .app
                    .client
                    .request(m.clone(), format!("{}{}", s.base, path))
                    .header("Authorization", format!("Bearer {}", s.key))
                    .header("If-Match", "garbage")
                    .body(b.to_string())
                    .send()
                    .await
                    .unwrap();
                let status = resp.status();
                assert!(
                    status.as_u16() < 500 || status.as_u16() == 501,
                    "{m} {path} {b:?} answered {status}"
                );
                if status.is_client_error() {
                    assert_eq!(
                        resp.headers()["content-type"],
                        "application/scim+json",
                        "{m} {path}"
                    );
                }
            }
        }
    }
    for q in [
        "filter=%00",
        "filter=userName%20eq",
        "filter=emails%5B%5D",
        "sortBy=%5B",
        "count=abc",
        "startIndex=-9",
        "cursor=c-1",
        "attributes=%2C%2C",
        "filter=not(not(not(userName%20pr)))",
        "sortOrder=sideways",
    ] {
        let r = s
            .app
            .client
            .get(format!("{}/Users?{q}", s.base))
            .header("Authorization", format!("Bearer {}", s.key))
            .send()
            .await
            .unwrap();
        assert!(r.status().as_u16() < 500, "{q}: {}", r.status());
    }
    for h in ["Bearer", "Bearer  ", "Basic x", "Bearer \u{7f}"] {
        let r = s
            .app
            .client
            .get(format!("{}/Users", s.base))
            .header("Authorization", h)
            .send()
            .await;
        match r {
            Ok(r) => assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{h:?}"),
            // The client itself refuses to send a control character in a header: nothing
            // reached the server, so there is nothing to assert of it.
            Err(e) => assert!(e.is_builder() && h.contains('\u{7f}'), "{h:?}: {e}"),
        }
    }
    assert_eq!(s.get(&format!("/Users/{uid}")).await.status, StatusCode::OK);
}

both!(scim_never_500);
