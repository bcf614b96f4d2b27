//! The signature check and the whole acceptance of a Response, on the test identity provider's
//! fixtures, for each candidate library (bergshamra always; samael with `--features xmlsec`):
//! what the identity provider signed is accepted; another key, a key in KeyInfo, a changed
//! byte, and every wrapping attack are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use roster_saml::response::{Expected, accept, parse_instant};
use roster_saml::verify::{Bergshamra, SignatureCheck};

/// The candidates, run on the same corpus.
fn candidates() -> Vec<(&'static str, Box<dyn SignatureCheck>)> {
    #[allow(unused_mut)]
    let mut out: Vec<(&'static str, Box<dyn SignatureCheck>)> =
        vec![("bergshamra", Box::new(Bergshamra))];
    #[cfg(feature = "xmlsec")]
    out.push(("samael", Box::new(roster_saml::verify::Samael)));
    out
}

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

fn accepted(
    check: &dyn SignatureCheck,
    x: &str,
    certs: &[String],
    allow_sha1: bool,
) -> Result<String, String> {
    accept(x, certs, allow_sha1, &expected(x), check)
        .map(|a| a.subject)
        .map_err(|e| e.to_string())
}

#[test]
fn what_the_identity_provider_signed_is_accepted() {
    for (who, check) in candidates() {
        let check = check.as_ref();
        for name in ["signed-assertion", "signed-response", "signed-both"] {
            assert_eq!(
                accepted(check, &xml(name), &cert(), false).as_deref(),
                Ok("grace@contoso.com"),
                "{who}: {name}"
            );
        }
        // ECDSA, with its certificate.
        assert_eq!(
            accepted(check, &xml("ecdsa"), &[read("ec-cert.pem")], false).as_deref(),
            Ok("grace@contoso.com"),
            "{who}"
        );
        // SHA-1, when the provider allows it.
        assert_eq!(
            accepted(check, &xml("sha1"), &cert(), true).as_deref(),
            Ok("grace@contoso.com"),
            "{who}"
        );
        // With several certificates (a rollover), the one that signed is found.
        let both = vec![read("other-cert.pem"), read("idp-cert.pem")];
        assert!(
            accepted(check, &xml("signed-assertion"), &both, false).is_ok(),
            "{who}"
        );
    }
}

#[test]
fn another_key_a_key_in_keyinfo_and_a_changed_byte_are_refused() {
    for (who, check) in candidates() {
        let check = check.as_ref();
        let refused = |x: &str, certs: &[String]| {
            let said = accepted(check, x, certs, false).unwrap_err();
            assert!(said.contains("signature does not verify"), "{who}: {said}");
        };
        // Signed by another key, whose certificate rides in KeyInfo: the configured one decides.
        refused(&xml("other-key"), &cert());
        // The right response, checked against another certificate.
        refused(&xml("signed-assertion"), &[read("other-cert.pem")]);
        // One byte of the signed NameID changed.
        refused(
            &xml("signed-assertion").replace("grace@contoso.com", "grace@contoso.org"),
            &cert(),
        );
        // No certificate configured: nothing is accepted.
        let said = accepted(check, &xml("signed-assertion"), &[], false).unwrap_err();
        assert!(said.contains("no certificate"), "{who}: {said}");
    }
}

#[test]
fn every_wrapping_attack_is_refused_end_to_end() {
    for (who, check) in candidates() {
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
                accepted(check.as_ref(), &xml(name), &cert(), false).is_err(),
                "{who}: {name} was accepted"
            );
        }
    }
}

/// What each library alone says of each wrapping attack, without Roster's shape check: the
/// evidence for the choice (issue 13). Each attack must fail to verify, or verify only
/// elements other than the evil copies (whose IDs start with `_evil`).
#[test]
fn the_libraries_alone_on_wrapping_attacks() {
    for (who, check) in candidates() {
        for name in [
            "xsw1", "xsw2", "xsw3", "xsw4", "xsw5", "xsw6", "xsw7", "xsw8",
        ] {
            match check.verified_ids(&xml(name), &cert()) {
                Err(e) => println!("{who} {name}: refused: {e}"),
                Ok(ids) => {
                    println!("{who} {name}: verified {ids:?}");
                    assert!(
                        ids.iter().all(|i| !i.starts_with("_evil")),
                        "{who} {name}: the library verified {ids:?}"
                    );
                }
            }
        }
    }
}
