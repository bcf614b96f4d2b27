//! Isolation, proven route by route: for every route of the server's route table (so a route
//! added later joins by construction), a request made with account A's token that names account
//! B's resources, or another identity provider's resources of A's own account, is answered 404
//! or 403 (the operator API: 401, since no account token is an operator token), and nothing of
//! B is read or written.

use crate::both;
use crate::harness::*;
use reqwest::{Method, StatusCode};
use roster_server::routes::{Api, RouteInfo, table};
use serde_json::{Value, json};

/// An account's identifiers, as its own requests made them.
struct Made {
    key: String,
    saml: String,
    oidc: String,
    user: String,
    team: String,
    token: String,
    scim_user: String,
    scim_group: String,
    /// Text that only this account's data contains (its users' e-mails, names).
    markers: Vec<String>,
}

async fn make(app: &TestApp, key: &str, tag: &str) -> Made {
    let call = |m: Method, path: &str, body: Value| {
        let key = key.to_string();
        let path = path.to_string();
        async move { app.call(m, &path, Some(&key), Some(body)).await }
    };
    let (s, saml) = call(
        Method::POST,
        "/iam/identity_providers/saml2",
        json!({"name": format!("Entra {tag}"), "sign_in_url": "https://login.microsoftonline.com/t/saml2",
               "entity_id_url": format!("https://sts.windows.net/{tag}/"), "certificate": cert_sha256(),
               "is_active": true, "scim_integration": true}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{saml}");
    let (s, oidc) = call(
        Method::POST,
        "/iam/identity_providers/oidc",
        json!({"name": format!("Okta {tag}"), "authorization_url": "https://okta.example/a",
               "userinfo_url": "https://okta.example/u", "token_url": "https://okta.example/t",
               "client_id": format!("client-{tag}"), "client_secret": "s3cret", "scopes": ["openid"],
               "scim_integration": true}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{oidc}");
    let (s, user) = call(
        Method::POST,
        "/iam/users",
        json!({"first_name": format!("Hand{tag}"), "last_name": "Made", "email": format!("hand@{tag}.test"), "teams_ids": []}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    let (s, team) = call(
        Method::POST,
        "/iam/teams",
        json!({"name": format!("Team{tag}"), "permissions_ids": []}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{team}");
    let (s, token) = call(
        Method::POST,
        "/iam/personal_tokens",
        json!({"name": format!("tok{tag}"), "expires_at": "2027-01-01"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{token}");
    let scim = format!("/v4/users/scim/{}", saml["uuid"].as_str().unwrap());
    let (s, su) = call(
        Method::POST,
        &format!("{scim}/Users"),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("synced@{tag}.test"),
               "displayName": format!("Synced{tag}")}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{su}");
    let (s, sg) = call(
        Method::POST,
        &format!("{scim}/Groups"),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("Group{tag}"),
               "members": [{"value": su["id"]}]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{sg}");
    let id = |v: &Value, k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Made {
        key: key.to_string(),
        saml: id(&saml, "uuid"),
        oidc: id(&oidc, "uuid"),
        user: id(&user["data"], "id"),
        team: id(&team["data"], "id"),
        token: id(&token, "uuid"),
        scim_user: id(&su, "id"),
        scim_group: id(&sg, "id"),
        markers: vec![
            format!("hand@{tag}.test"),
            format!("synced@{tag}.test"),
            format!("Team{tag}"),
            format!("Group{tag}"),
            format!("client-{tag}"),
            id(&token, "uuid"),
            id(&saml, "uuid"),
            id(&oidc, "uuid"),
        ],
    }
}

/// A second account, made by the operator; answers its owner's key.
async fn second_account(app: &TestApp) -> String {
    let (s, made) = app
        .call(
            Method::POST,
            "/operator/accounts",
            Some(&app.operator_key),
            Some(json!({"name": "B", "owner_email": "owner@b.test"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    made["token"]["key"].as_str().unwrap().to_string()
}

/// Everything account `b` holds, as its owner reads it.
async fn snapshot(app: &TestApp, b: &Made) -> Vec<Value> {
    let mut out = Vec::new();
    let scim = format!("/v4/users/scim/{}", b.saml);
    for path in [
        "/iam/account".to_string(),
        "/iam/users?page_size=1000".into(),
        "/iam/teams?page_size=1000".into(),
        "/iam/identity_providers".into(),
        "/iam/personal_tokens?page_size=1000".into(),
        format!(
            "/iam/identity_providers/saml2/{}/provisioning_log?page_size=1000",
            b.saml
        ),
        format!("{scim}/Users"),
        format!("{scim}/Groups"),
    ] {
        let (s, v) = app.call(Method::GET, &path, Some(&b.key), None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        out.push(v);
    }
    out
}

/// The concrete paths a route takes when it names `b`'s resources (`idp`: the SCIM endpoint to
/// address, `ids`: the SCIM resources).
fn paths(route: &RouteInfo, b: &Made, idp: &str, user: &str, group: &str) -> Vec<String> {
    let p = &route.path;
    let fill = |kind: &str, id: &str| {
        p.replace("{idp}", idp)
            .replace("{kind}", kind)
            .replace("{id}", id)
            .replace("{*rest}", "x")
    };
    match route.api {
        Api::Scim if p.contains("{kind}") => vec![fill("Users", user), fill("Groups", group)],
        Api::Scim if p.contains("/schemas/") || p.contains("/resourcetypes/") => {
            vec![fill("", "User")]
        }
        Api::Scim => vec![fill("", "")],
        Api::Operator => vec![p.replace("{id}", "2")],
        Api::Iam => {
            let id = if p.contains("/users/") {
                &b.user
            } else {
                &b.team
            };
            let uuid = if p.contains("/saml2/") {
                &b.saml
            } else if p.contains("/oidc/") {
                &b.oidc
            } else {
                &b.token
            };
            vec![p.replace("{id}", id).replace("{uuid}", uuid)]
        }
        Api::Console => {
            let uuid = if p.contains("/identity-providers/") {
                &b.saml
            } else {
                &b.token
            };
            let id = if p.contains("/teams/") {
                &b.team
            } else {
                &b.user
            };
            vec![p.replace("{id}", id).replace("{uuid}", uuid)]
        }
        Api::Public => Vec::new(),
    }
}

/// A console session of account A's owner: its cookie value.
async fn console_session(app: &TestApp) -> String {
    app.roster
        .set_password(
            None,
            "owner@example.com",
            &roster_core::Secret::new("isolation test password"),
        )
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .post(app.url("/console/sign-in"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("email=owner%40example.com&password=isolation+test+password&next=%2Fconsole")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let set = resp.headers()["set-cookie"].to_str().unwrap();
    set.trim_start_matches("roster_session=")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// A console request with A's session (and its CSRF token, so that only the account check is
/// what stands in the way); answers the status and the page.
async fn console_call(
    app: &TestApp,
    session: &str,
    m: &Method,
    path: &str,
) -> (StatusCode, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let csrf = roster_core::service::csrf_token(session);
    let mut rb = client
        .request(m.clone(), app.url(path))
        .header("Cookie", format!("roster_session={session}"));
    if *m != Method::GET {
        rb = rb
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "csrf={csrf}&active=false&name=taken&expires_at=2027-01-01"
            ));
    }
    let resp = rb.send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

/// A body a real client of the route might send.
fn body(route: &RouteInfo, path: &str, m: &Method) -> Option<Value> {
    if *m == Method::GET || *m == Method::DELETE {
        return None;
    }
    Some(match route.api {
        Api::Scim if path.contains("/Groups") => {
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp", "urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "taken", "Operations": [{"op": "add", "path": "members", "value": [{"value": "1"}]}]})
        }
        Api::Scim => {
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp", "urn:ietf:params:scim:schemas:core:2.0:User"],
                   "userName": "taken@x.test", "Operations": [{"op": "replace", "path": "active", "value": false}]})
        }
        _ => json!({"name": "taken", "first_name": "T", "last_name": "K", "email": "taken@x.test",
                    "is_active": false, "expires_at": "2027-01-01", "teams_ids": [], "permissions_ids": []}),
    })
}

async fn every_route_keeps_accounts_apart(app: &TestApp) {
    let b_key = second_account(app).await;
    let a = make(app, &app.owner_key, "aaa").await;
    let b = make(app, &b_key, "bbb").await;
    snapshot(app, &b).await;
    let before = snapshot(app, &b).await;

    let session = console_session(app).await;
    let routes = table();
    assert!(routes.iter().any(|r| r.api == Api::Scim));
    assert!(
        routes
            .iter()
            .any(|r| r.api == Api::Console && r.path.contains('{'))
    );
    assert!(routes.iter().any(|r| r.api == Api::Operator));
    let mut tried = 0;
    // Console routes that name no resource act on the session's own account (signing out among
    // them): there is nothing of B's to reach.
    let reaches =
        |r: &&RouteInfo| r.api != Api::Public && (r.api != Api::Console || r.path.contains('{'));
    for route in routes.iter().filter(reaches) {
        // B's resources through B's endpoint; and, on SCIM, A's own SAML provider's resources
        // through A's other (OIDC) provider's endpoint.
        let mut targets = paths(route, &b, &b.saml, &b.scim_user, &b.scim_group);
        if route.api == Api::Scim && route.path.contains("{kind}/{id}") {
            targets.extend(paths(route, &a, &a.oidc, &a.scim_user, &a.scim_group));
        }
        let names_a_resource = route.path.contains('{') && route.api != Api::Operator;
        for path in targets {
            for m in &route.methods {
                let (s, v) = if route.api == Api::Console {
                    let (s, page) = console_call(app, &session, m, &path).await;
                    (s, Value::String(page))
                } else {
                    app.call(m.clone(), &path, Some(&a.key), body(route, &path, m))
                        .await
                };
                tried += 1;
                let text = v.to_string();
                // (An identifier the request itself names may be echoed in the error.)
                for marker in b.markers.iter().filter(|m| !path.contains(m.as_str())) {
                    assert!(
                        !text.contains(marker.as_str()),
                        "{m} {path} showed B's {marker}: {text}"
                    );
                }
                let allowed: &[StatusCode] = match route.api {
                    Api::Operator => &[StatusCode::UNAUTHORIZED],
                    _ if names_a_resource => &[StatusCode::NOT_FOUND, StatusCode::FORBIDDEN],
                    _ => continue,
                };
                assert!(
                    allowed.contains(&s),
                    "{m} {path} with another account's token answered {s}: {text}"
                );
            }
        }
    }
    assert!(tried > 100, "only {tried} requests");
    assert_eq!(snapshot(app, &b).await, before, "B changed");
}

/// The table is honest: each route serves the methods it lists and answers the others 405.
async fn the_route_table_lists_what_is_served(app: &TestApp) {
    let all = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    for route in table() {
        let path = route
            .path
            .replace("{idp}", "00000000-0000-4000-8000-000000000000")
            .replace("{kind}", "Users")
            .replace("{id}", "1")
            .replace("{uuid}", "00000000-0000-4000-8000-000000000000")
            .replace("{*rest}", "x");
        for m in &all {
            let (s, _) = app.call(m.clone(), &path, None, None).await;
            assert_eq!(
                s == StatusCode::METHOD_NOT_ALLOWED,
                !route.methods.contains(m),
                "{m} {path}: {s}"
            );
        }
    }
}

/// Two accounts, each with an Entra-like provider, provisioned at the same time: each endpoint
/// ends with exactly its own users and groups, and no group holds the other's users.
async fn two_accounts_provisioned_at_once_see_nothing_of_each_other(app: &TestApp) {
    let b_key = second_account(app).await;
    let endpoint = |key: String, tag: &'static str| async move {
        let (s, idp) = app
            .call(
                Method::POST,
                "/iam/identity_providers/saml2",
                Some(&key),
                Some(json!({"name": "Entra", "sign_in_url": "https://login.microsoftonline.com/t/saml2",
                            "entity_id_url": format!("https://sts.windows.net/{tag}/"), "certificate": cert_sha256(),
                            "is_active": true, "scim_integration": true})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{idp}");
        (
            key,
            format!("/v4/users/scim/{}", idp["uuid"].as_str().unwrap()),
        )
    };
    let a = endpoint(app.owner_key.clone(), "a").await;
    let b = endpoint(b_key, "b").await;
    const USERS: usize = 40;
    // Entra's cycle per user: look up, create, add to a group; the two accounts interleaved.
    let cycle = |(key, base): (String, String), tag: &'static str| async move {
        let k = Some(key.as_str());
        let (s, g) = app
            .call(Method::POST, &format!("{base}/Groups"), k,
                  Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("All {tag}")})))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        let gid = g["id"].as_str().unwrap().to_string();
        for i in 0..USERS {
            let name = format!("user{i}@shared.test");
            let filter = format!("{base}/Users?filter=userName+eq+%22user{i}%40shared.test%22");
            let (s, found) = app.call(Method::GET, &filter, k, None).await;
            assert_eq!(
                (s, found["totalResults"].as_i64()),
                (StatusCode::OK, Some(0)),
                "{tag}: {found}"
            );
            let (s, u) = app
                .call(Method::POST, &format!("{base}/Users"), k,
                      Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{tag}: {u}");
            let (s, v) = app
                .call(Method::PATCH, &format!("{base}/Groups/{gid}"), k,
                      Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                  "Operations": [{"op": "add", "path": "members", "value": [{"value": u["id"]}]}]})))
                .await;
            assert!(s.is_success(), "{tag}: {v}");
        }
        gid
    };
    let (ga, gb) = tokio::join!(cycle(a.clone(), "a"), cycle(b.clone(), "b"));
    for ((key, base), gid, other) in [(&a, ga, &b), (&b, gb, &a)] {
        let k = Some(key.as_str());
        let (_, users) = app
            .call(Method::GET, &format!("{base}/Users?count=1000"), k, None)
            .await;
        assert_eq!(users["totalResults"], USERS, "{users}");
        let ids: Vec<&str> = users["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        let (_, group) = app
            .call(Method::GET, &format!("{base}/Groups/{gid}"), k, None)
            .await;
        let members = group["members"].as_array().unwrap();
        assert_eq!(members.len(), USERS);
        assert!(
            members
                .iter()
                .all(|m| ids.contains(&m["value"].as_str().unwrap()))
        );
        let (_, groups) = app
            .call(Method::GET, &format!("{base}/Groups"), k, None)
            .await;
        assert_eq!(groups["totalResults"], 1, "{groups}");
        // And the other account's token sees nothing here.
        let (s, _) = app
            .call(
                Method::GET,
                &format!("{base}/Users"),
                Some(other.0.as_str()),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
}

both!(
    two_accounts_provisioned_at_once_see_nothing_of_each_other,
    every_route_keeps_accounts_apart,
    the_route_table_lists_what_is_served
);
