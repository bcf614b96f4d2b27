//! Identity providers, including the guide's sequence verbatim.

use crate::both;
use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn saml_body(name: &str) -> Value {
    json!({
        "name": name,
        "entity_id_url": "https://sts.windows.net/123abc/saml2",
        "sign_in_url": "https://login.microsoftonline/123abc/saml2",
        "certificate": cert_sha256(),
    })
}

/// The guide: list, GET detail, switch `scim_integration` on with its literal curl (no `-X
/// PATCH`: curl sends POST with a form content type and a JSON body), read `scim_url`.
async fn the_guide_sequence(app: &TestApp) {
    let auth = format!("Token {}", app.owner_key);
    let (s, v) = app
        .post(
            "/iam/identity_providers/saml2",
            saml_body("Microsoft Entra IdP"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let uuid = v["uuid"].as_str().unwrap().to_string();

    // 1. curl --location '…/iam/identity_providers' --header 'Accept: application/json' --header 'Authorization: Token …'
    let resp = app
        .client
        .get(app.url("/iam/identity_providers"))
        .header("Accept", "application/json")
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let list: Value = resp.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let item = &list[0];
    assert_eq!(item["name"], "Microsoft Entra IdP");
    assert_eq!(item["protocol"], "SAML");
    assert_eq!(item["uuid"], uuid);
    assert_eq!(item["is_active"], false);
    assert_eq!(item["scim_integration"], false);
    assert_eq!(item["scim_url"], Value::Null);
    assert_eq!(
        item["login_url"],
        format!("{}/api/saml2v4/users/scim/{uuid}/login", app.base)
    );

    // 2. GET …/saml2/<uuid>
    let resp = app
        .client
        .get(app.url(&format!("/iam/identity_providers/saml2/{uuid}")))
        .header("Accept", "application/json")
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let d: Value = resp.json().await.unwrap();
    for k in [
        "uuid",
        "name",
        "is_active",
        "sign_in_url",
        "entity_id_url",
        "login_url",
        "acs_url",
        "metadata_url",
        "signature_algorithm",
        "scim_integration",
        "scim_url",
    ] {
        assert!(d.get(k).is_some(), "missing {k} in {d}");
    }
    assert!(d.get("certificate").is_none(), "certificate is write-only");
    assert_eq!(d["signature_algorithm"], "sha-256");
    assert_eq!(d["scim_url"], Value::Null);

    // 3. The literal curl: --data '{"scim_integration": true}' without -X PATCH.
    let resp = app
        .client
        .post(app.url(&format!("/iam/identity_providers/saml2/{uuid}")))
        .header("Accept", "application/json")
        .header("Authorization", &auth)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("{\n\"scim_integration\": true\n}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let d: Value = resp.json().await.unwrap();
    assert_eq!(d["scim_integration"], true);
    assert_eq!(
        d["scim_url"],
        format!("{}/v4/users/scim/{uuid}/Users", app.base)
    );
    assert_eq!(
        d["name"], "Microsoft Entra IdP",
        "a partial update keeps the rest"
    );

    // 4. And it stays so.
    let (_, d) = app
        .get(&format!("/iam/identity_providers/saml2/{uuid}"))
        .await;
    assert_eq!(d["scim_integration"], true);
    let (_, l) = app.get("/iam/identity_providers").await;
    assert_eq!(l[0]["scim_url"], d["scim_url"]);

    // The corrected command (PATCH with JSON) turns it off again.
    let (s, d) = app
        .patch(
            &format!("/iam/identity_providers/saml2/{uuid}"),
            json!({"scim_integration": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["scim_url"], Value::Null);
}

async fn every_prefix_and_slash(app: &TestApp) {
    let (_, v) = app
        .post("/iam/api/identity_providers/saml2/", saml_body("A"))
        .await;
    let uuid = v["uuid"].as_str().unwrap().to_string();
    for p in ["/iam", "/iam/api", "/v4/iam"] {
        for slash in ["", "/"] {
            let (s, v) = app
                .get(&format!("{p}/identity_providers/saml2/{uuid}{slash}"))
                .await;
            assert_eq!(s, StatusCode::OK, "{p} {slash}: {v}");
            let (s, _) = app.get(&format!("{p}/identity_providers{slash}")).await;
            assert_eq!(s, StatusCode::OK);
        }
    }
    // Upper-case uuids are the same provider.
    let (s, _) = app
        .get(&format!(
            "/iam/identity_providers/saml2/{}",
            uuid.to_uppercase()
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
}

async fn one_active_provider(app: &TestApp) {
    let mut a = saml_body("A");
    a["is_active"] = json!(true);
    let (_, a) = app.post("/iam/identity_providers/saml2", a).await;
    let (_, b) = app
        .post("/iam/identity_providers/saml2", saml_body("B"))
        .await;
    let (a, b) = (
        a["uuid"].as_str().unwrap().to_string(),
        b["uuid"].as_str().unwrap().to_string(),
    );
    // "Set as active" on B deactivates A.
    let (s, v) = app
        .patch(
            &format!("/iam/identity_providers/saml2/{b}"),
            json!({"is_active": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, l) = app.get("/iam/identity_providers").await;
    let active: Vec<&str> = l
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["is_active"] == true)
        .map(|i| i["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(active, vec![b.as_str()]);
    // Roll back: deactivate B; none active.
    app.patch(
        &format!("/iam/identity_providers/saml2/{b}"),
        json!({"is_active": false}),
    )
    .await;
    let (_, d) = app.get(&format!("/iam/identity_providers/saml2/{a}")).await;
    assert_eq!(d["is_active"], false);
}

async fn oidc_providers(app: &TestApp) {
    let body = json!({
        "name": "Okta OIDC",
        "authorization_url": "https://okta.example/oauth2/v1/authorize",
        "userinfo_url": "https://okta.example/oauth2/v1/userinfo",
        "token_url": "https://okta.example/oauth2/v1/token",
        "client_id": "0oa1",
        "client_secret": "very-secret-value",
        "scopes": ["openid", "email"],
    });
    let (s, v) = app.post("/v4/iam/identity_providers/oidc", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(v.get("client_secret").is_none());
    assert!(!v.to_string().contains("very-secret-value"));
    assert_eq!(v["scopes"], json!(["openid", "email"]));
    assert_eq!(v["scim_url"], Value::Null);
    let uuid = v["uuid"].as_str().unwrap().to_string();
    let (s, v) = app
        .patch(
            &format!("/iam/identity_providers/oidc/{uuid}"),
            json!({"scim_integration": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["scim_url"],
        format!("{}/v4/users/scim/{uuid}/Users", app.base)
    );
    // The SAML path does not serve an OIDC provider, and vice versa.
    assert_eq!(
        app.get(&format!("/iam/identity_providers/saml2/{uuid}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, l) = app.get("/iam/identity_providers").await;
    assert_eq!(l[0]["protocol"], "OIDC");
    // SAML fields are refused on an OIDC provider.
    let (s, v) = app
        .patch(
            &format!("/iam/identity_providers/oidc/{uuid}"),
            json!({"certificate": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["certificate"][0].as_str().unwrap().contains("OIDC"));
    // The per-protocol lists.
    let (_, l) = app.get("/iam/identity_providers/oidc").await;
    assert_eq!(l.as_array().unwrap().len(), 1);
    assert_eq!(l[0]["client_id"], "0oa1");
    let (_, l) = app.get("/iam/identity_providers/saml2").await;
    assert_eq!(l, json!([]));
    // PUT keeps the secret when it is not sent; DELETE answers 204.
    let (s, v) = app
        .put(
            &format!("/iam/identity_providers/oidc/{uuid}"),
            json!({"name": "Okta 2", "authorization_url": "https://o.example/a", "userinfo_url": "https://o.example/u",
                   "token_url": "https://o.example/t", "client_id": "0oa2"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["client_id"], "0oa2");
    let got = app
        .roster
        .store()
        .read()
        .await
        .unwrap()
        .list_idps(roster_core::model::AccountId(1))
        .await
        .unwrap();
    // Stored sealed, never in clear; the server opens it with its key.
    match &got[0].config {
        roster_core::model::IdpConfig::Oidc(c) => {
            assert!(c.client_secret.is_sealed(), "{:?}", c.client_secret);
            assert!(!c.client_secret.stored().contains("very-secret"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        app.roster.oidc_client_secret(&got[0]).unwrap().expose(),
        "very-secret-value"
    );
    assert_eq!(
        app.delete(&format!("/iam/identity_providers/oidc/{uuid}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/iam/identity_providers/oidc/{uuid}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

async fn validation_and_lifecycle(app: &TestApp) {
    // Missing fields: each named.
    let (s, v) = app.post("/iam/identity_providers/saml2", json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for f in ["name", "sign_in_url", "entity_id_url", "certificate"] {
        assert_eq!(v[f][0], "This field is required.", "{f}: {v}");
    }
    // Bad certificate and URLs.
    let mut b = saml_body("X");
    b["certificate"] =
        json!("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----");
    b["sign_in_url"] = json!("not a url");
    b["name"] = json!("n".repeat(51));
    let (s, v) = app.post("/iam/identity_providers/saml2", b).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["certificate"][0].as_str().is_some(), "{v}");
    assert!(v["sign_in_url"][0].as_str().unwrap().contains("URL"));
    assert!(v["name"][0].as_str().unwrap().contains("50"));
    // Wrong type.
    let mut b = saml_body("X");
    b["is_active"] = json!("yes please");
    let (s, v) = app.post("/iam/identity_providers/saml2", b).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["is_active"][0].as_str().unwrap().contains("boolean"),
        "{v}"
    );
    // A SHA-1 certificate says so.
    let mut b = saml_body("Legacy");
    b["certificate"] = json!(cert_sha1());
    let (s, v) = app.post("/iam/identity_providers/saml2", b).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["signature_algorithm"], "sha-1");
    let uuid = v["uuid"].as_str().unwrap().to_string();
    // PUT replaces: required fields must be sent (the certificate may be kept).
    let (s, v) = app
        .put(
            &format!("/iam/identity_providers/saml2/{uuid}"),
            json!({"name": "Only name"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["sign_in_url"][0], "This field is required.");
    let (s, v) = app
        .put(
            &format!("/iam/identity_providers/saml2/{uuid}"),
            json!({"name": "Renamed", "sign_in_url": "https://a.example/sso", "entity_id_url": "https://a.example/", "is_active": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "Renamed");
    assert_eq!(v["signature_algorithm"], "sha-1", "certificate kept");
    // Delete: 204, then 404.
    let (s, v) = app
        .delete(&format!("/iam/identity_providers/saml2/{uuid}"))
        .await;
    assert_eq!((s, v), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(
        app.get(&format!("/iam/identity_providers/saml2/{uuid}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/iam/identity_providers/saml2/{uuid}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // Not a uuid.
    let (s, v) = app.get("/iam/identity_providers/saml2/1234abc4567").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["detail"], "Identity provider not found.");
    let _ = Method::GET;
}

both!(
    the_guide_sequence,
    every_prefix_and_slash,
    one_active_provider,
    oidc_providers,
    validation_and_lifecycle
);
