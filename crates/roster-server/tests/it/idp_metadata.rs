//! An identity provider from its metadata (Entra's Federation Metadata XML), through the IAM API
//! and the console; several signing certificates at once; their expiry shown and warned of.

use crate::both;
use crate::browser::*;
use crate::harness::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The base64 DER inside a PEM.
fn der_b64(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// Metadata shaped as Entra's: WS-Federation role descriptors first (their certificates are not
/// the SAML ones), then the IDPSSODescriptor with `certs` and both bindings.
fn entra_metadata(entity: &str, certs: &[&str]) -> String {
    let keys: String = certs
        .iter()
        .map(|c| {
            format!(
                "<KeyDescriptor use=\"signing\"><KeyInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\">\
                 <X509Data><X509Certificate>{}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>",
                der_b64(c)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><EntityDescriptor ID=\"_m\" entityID=\"{entity}\" \
         xmlns=\"urn:oasis:names:tc:SAML:2.0:metadata\"><RoleDescriptor \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:fed=\"http://docs.oasis-open.org/wsfed/federation/200706\" \
         xsi:type=\"fed:SecurityTokenServiceType\" \
         protocolSupportEnumeration=\"http://docs.oasis-open.org/wsfed/federation/200706\"/>\
         <IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{keys}\
         <SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
         Location=\"https://login.microsoftonline.com/t/saml2/post\"/>\
         <SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" \
         Location=\"https://login.microsoftonline.com/t/saml2\"/></IDPSSODescriptor></EntityDescriptor>"
    )
}

async fn metadata_through_the_iam_api(app: &TestApp) {
    let xml = entra_metadata("https://sts.windows.net/t/", &[cert_sha256(), cert_sha1()]);
    let (s, v) = app
        .post(
            "/iam/identity_providers/saml2",
            json!({"name": "Entra", "federation_metadata_xml": xml}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let d = &v;
    assert_eq!(d["entity_id_url"], "https://sts.windows.net/t/");
    assert_eq!(
        d["sign_in_url"],
        "https://login.microsoftonline.com/t/saml2"
    );
    let certs = d["signing_certificates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(certs.len(), 2, "both certificates trusted: {v}");
    assert!(
        certs[0]["subject"]
            .as_str()
            .unwrap_or("")
            .contains("Roster Test IdP")
    );
    assert_eq!(
        certs[0]["sha256_fingerprint"]
            .as_str()
            .map(|f| f.split(':').count()),
        Some(32)
    );
    assert!(
        v.to_string().find("BEGIN CERTIFICATE").is_none(),
        "PEM stays write-only"
    );
    let uuid = d["uuid"].as_str().unwrap().to_string();
    let path = format!("/iam/identity_providers/saml2/{uuid}");

    // A field given wins over the metadata; a new metadata replaces the certificates.
    let one = entra_metadata("https://sts.windows.net/t2/", &[cert_sha1()]);
    let (s, v) = app
        .patch(
            &path,
            json!({"federation_metadata_xml": one, "entity_id_url": "https://given.example/"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["entity_id_url"], "https://given.example/");
    assert_eq!(v["signing_certificates"].as_array().map(Vec::len), Some(1));
    // A list of certificates, and the single field with two PEMs one after the other.
    let (s, v) = app
        .patch(&path, json!({"certificates": [cert_sha256(), cert_sha1()]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["signing_certificates"].as_array().map(Vec::len), Some(2));
    let (s, v) = app
        .patch(
            &path,
            json!({"certificate": format!("{}\n{}", cert_sha1(), cert_sha256())}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["signing_certificates"].as_array().map(Vec::len), Some(2));

    // What cannot be used says why, and changes nothing.
    let before = app.get(&path).await.1;
    for (body, field, why) in [
        (
            json!({"federation_metadata_xml": "<EntityDescriptor"}),
            "federation_metadata_xml",
            "not well-formed",
        ),
        (
            json!({"federation_metadata_xml": format!("<!DOCTYPE x [<!ENTITY e \"y\">]>{xml}")}),
            "federation_metadata_xml",
            "DTD",
        ),
        (
            json!({"federation_metadata_xml": entra_metadata("https://e/", &[])}),
            "federation_metadata_xml",
            "no signing certificate",
        ),
        (json!({"certificates": []}), "certificates", "at least one"),
        (
            json!({"certificates": ["not a certificate"]}),
            "certificates",
            "PEM",
        ),
    ] {
        let (s, v) = app.patch(&path, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        let said = v[field].to_string();
        assert!(said.contains(why), "{body}: {v}");
    }
    assert_eq!(app.get(&path).await.1, before);
}

/// The console: register from the metadata, see the certificates, be warned before the last
/// one expires, update from new metadata.
async fn metadata_in_the_console(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let mut b = Browser::new(app);
    b.sign_in("owner@example.com", PASSWORD).await;
    let csrf = b.get("/console/identity-providers").await.csrf();
    let xml = entra_metadata("https://sts.windows.net/t/", &[cert_sha256()]);
    let r = b
        .post(
            "/console/identity-providers",
            &[
                ("csrf", &csrf),
                ("name", "Entra"),
                ("federation_metadata_xml", &xml),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page_url = r.location().to_string();
    let page = b.get(&page_url).await;
    assert!(page.body.contains("Signing certificates"), "{}", page.body);
    assert!(page.body.contains("Roster Test IdP"), "{}", page.body);
    assert!(page.body.contains(">valid<"), "{}", page.body);
    assert!(!page.body.contains("role=\"alert\""), "no warning yet");
    // Nineteen days and some hours before the certificate expires, the page says so.
    let uuid = page_url.rsplit('/').next().unwrap().to_string();
    let (_, v) = app
        .get(&format!("/iam/identity_providers/saml2/{uuid}"))
        .await;
    let not_after: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(v["signing_certificates"][0]["not_after"].clone()).unwrap();
    let now = roster_core::clock::Clock::now(app.clock.as_ref());
    app.clock
        .advance(not_after - now - chrono::Duration::days(20) + chrono::Duration::hours(1));
    b.sign_in("owner@example.com", PASSWORD).await;
    let page = b.get(&page_url).await;
    assert!(page.body.contains("expires in 19 days"), "{}", page.body);
    assert!(
        page.body
            .contains("The last valid signing certificate expires in 19 days")
    );
    // New metadata with the next certificate beside it ends the warning.
    // (A certificate valid until 2204, beside the one that expires.)
    let next = include_str!("../fixtures/idp-cert-next.pem");
    let both = entra_metadata("https://sts.windows.net/t/", &[cert_sha256(), next]);
    let both_page_csrf = page.csrf();
    let r = b
        .post(
            &format!("{page_url}/metadata"),
            &[
                ("csrf", &both_page_csrf),
                ("federation_metadata_xml", &both),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get(r.location()).await;
    assert!(
        page.body.contains("Updated from the metadata."),
        "{}",
        page.body
    );
    assert!(page.body.contains("Roster Test IdP Next"));
    assert!(
        !page.body.contains("The last valid signing certificate"),
        "{}",
        page.body
    );
    // Metadata that cannot be used is a page saying why.
    let r = b
        .post(
            &format!("{page_url}/metadata"),
            &[
                ("csrf", &both_page_csrf),
                ("federation_metadata_xml", "<nope/>"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("not SAML metadata"), "{}", r.body);
    let _: Value = v;
}

/// Each SAML provider's service provider metadata, public at its `metadata_url`.
async fn service_provider_metadata(app: &TestApp) {
    let xml = entra_metadata("https://sts.windows.net/t/", &[cert_sha256()]);
    let (_, v) = app
        .post(
            "/iam/identity_providers/saml2",
            json!({"name": "Entra", "federation_metadata_xml": xml}),
        )
        .await;
    let url = v["metadata_url"].as_str().unwrap().to_string();
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/samlmetadata+xml"
    );
    let body = r.text().await.unwrap();
    assert!(body.contains(&format!("entityID=\"{url}\"")), "{body}");
    let acs = v["acs_url"].as_str().unwrap();
    assert!(
        body.contains(&format!("Location=\"{acs}\"")),
        "the ACS, as the IAM API says: {body}"
    );
    assert!(body.contains("WantAssertionsSigned=\"true\""));
    for path in [
        format!("/api/saml2v4/users/scim/{}/metadata", uuid::Uuid::new_v4()),
        "/api/saml2v4/users/scim/nonsense/metadata".to_string(),
    ] {
        let r = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

both!(
    metadata_through_the_iam_api,
    metadata_in_the_console,
    service_provider_metadata
);
