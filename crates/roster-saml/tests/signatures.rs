//! The signature check (bergshamra, the pure-Rust candidate) and the whole acceptance of a
//! Response, on the test identity provider's fixtures: what it signed is accepted; another key,
//! a key in KeyInfo, a changed byte, and every wrapping attack are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use roster_saml::response::{Expected, accept, parse_instant};
use roster_saml::verify::{Bergshamra, SignatureCheck};

fn read(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn xml(name: &str) -> String {
    read(&format!("{name}.xml"))
}

fn cert() -> Vec<String> {
    vec![read("idp-cert.pem")]
}

fn expected(xml: &str) -> Expected<'static> {
    let at = xml.find("IssueInstant=\"").unwrap() + 14;
    Expected {
        issuer: "https://sts.windows.net/tenant/",
        audience: "https://roster.example/api/saml2v4/users/scim/idp/metadata",
        acs_url: "https://roster.example/api/saml2v4/users/scim/idp/login",
        in_response_to: Some("_request1"),
        now: parse_instant(&xml[at..at + 20]).unwrap(),
        skew_seconds: 120,
        user_attribute: None,
    }
}

fn accepted(name: &str, certs: &[String], allow_sha1: bool) -> Result<String, String> {
    let x = xml(name);
    accept(&x, certs, allow_sha1, &expected(&x), &Bergshamra)
        .map(|a| a.subject)
        .map_err(|e| e.to_string())
}

#[test]
fn what_the_identity_provider_signed_is_accepted() {
    for name in ["signed-assertion", "signed-response", "signed-both"] {
        assert_eq!(
            accepted(name, &cert(), false).as_deref(),
            Ok("grace@contoso.com"),
            "{name}"
        );
    }
    // ECDSA, with its certificate.
    assert_eq!(
        accepted("ecdsa", &[read("ec-cert.pem")], false).as_deref(),
        Ok("grace@contoso.com")
    );
    // SHA-1, when the provider allows it.
    assert_eq!(
        accepted("sha1", &cert(), true).as_deref(),
        Ok("grace@contoso.com")
    );
    // With several certificates (a rollover), the one that signed is found.
    let both = vec![read("other-cert.pem"), read("idp-cert.pem")];
    assert!(accepted("signed-assertion", &both, false).is_ok());
}

#[test]
fn another_key_a_key_in_keyinfo_and_a_changed_byte_are_refused() {
    // Signed by another key, whose certificate rides in KeyInfo: the configured one decides.
    let said = accepted("other-key", &cert(), false).unwrap_err();
    assert!(said.contains("signature does not verify"), "{said}");
    // The right response checked against another certificate.
    let said = accepted("signed-assertion", &[read("other-cert.pem")], false).unwrap_err();
    assert!(said.contains("signature does not verify"), "{said}");
    // One byte of the signed NameID changed.
    let x = xml("signed-assertion").replace("grace@contoso.com", "grace@contoso.org");
    let said = accept(&x, &cert(), false, &expected(&x), &Bergshamra)
        .unwrap_err()
        .to_string();
    assert!(said.contains("signature does not verify"), "{said}");
    // No certificate configured: nothing is accepted.
    let said = accepted("signed-assertion", &[], false).unwrap_err();
    assert!(said.contains("no certificate"), "{said}");
}

#[test]
fn every_wrapping_attack_is_refused_end_to_end() {
    for name in [
        "xsw1",
        "xsw2",
        "xsw3",
        "xsw4",
        "xsw5",
        "xsw6",
        "xsw7",
        "xsw8",
        "two-assertions",
        "nameid-comment",
        "dtd",
        "unsigned",
    ] {
        assert!(
            accepted(name, &cert(), false).is_err(),
            "{name} was accepted"
        );
    }
}

/// What the signature library alone says of each wrapping attack, without Roster's shape
/// check: the evidence for the choice of library (issue 13). Each attack must either fail to
/// verify, or verify only elements other than the evil assertion Roster would read.
#[test]
fn the_library_alone_on_wrapping_attacks() {
    for name in [
        "xsw1", "xsw2", "xsw3", "xsw4", "xsw5", "xsw6", "xsw7", "xsw8",
    ] {
        let x = xml(name);
        match Bergshamra.verified_ids(&x, &cert()) {
            Err(_) => {}
            Ok(ids) => {
                // The evil copies carry the `_evil_` ids: a signature must never cover them.
                assert!(
                    ids.iter().all(|i| !i.starts_with("_evil")),
                    "{name}: the library verified {ids:?}"
                );
            }
        }
    }
}
