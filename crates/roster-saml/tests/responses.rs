//! Responses from the test identity provider (`saml-test-idp/idp.py`, signxml; made once into
//! `tests/fixtures`, see `fixtures/README.md`): the shape check refuses every wrapping attack
//! and every other forgery it can see without a key; the contents check refuses what the
//! Response says wrongly. (The signature check, and these same files against it, come with it.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use roster_saml::response::{Expected, check_contents, check_shape, parse_instant};
use roster_saml::xml::{SamlError, parse_strict};

const ISSUER: &str = "https://sts.windows.net/tenant/";
const AUDIENCE: &str = "https://roster.example/api/saml2v4/users/scim/idp/metadata";
const ACS: &str = "https://roster.example/api/saml2v4/users/scim/idp/login";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The time the fixture was made (its IssueInstant).
fn made(xml: &str) -> i64 {
    let at = xml.find("IssueInstant=\"").unwrap() + 14;
    parse_instant(&xml[at..at + 20]).unwrap()
}

fn expected(now: i64) -> Expected<'static> {
    Expected {
        issuer: ISSUER,
        audience: AUDIENCE,
        acs_url: ACS,
        in_response_to: Some("_request1"),
        now,
        skew_seconds: 120,
        user_attribute: None,
    }
}

#[test]
fn signed_responses_have_the_shape_accepted() {
    for (name, response, assertion) in [
        ("signed-assertion", false, true),
        ("signed-response", true, false),
        ("signed-both", true, true),
    ] {
        let xml = fixture(name);
        let doc = parse_strict(&xml).unwrap();
        let shape = check_shape(&doc, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (shape.response_signed, shape.assertion_signed),
            (response, assertion),
            "{name}"
        );
        assert!(shape.assertion_id.starts_with("_a"), "{name}");
        let ok = check_contents(&doc, &expected(made(&xml))).unwrap();
        assert_eq!(ok.subject, "grace@contoso.com");
        assert_eq!(ok.assertion_id, shape.assertion_id);
    }
}

fn refused(name: &str, allow_sha1: bool) -> String {
    let xml = fixture(name);
    let doc = match parse_strict(&xml) {
        Ok(d) => d,
        Err(e) => return e.to_string(),
    };
    match check_shape(&doc, allow_sha1) {
        Ok(s) => panic!("{name} was accepted: {s:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_wrapping_attack_is_refused_by_its_shape() {
    for (name, why) in [
        ("xsw1", "two elements carry the same ID"),
        ("xsw2", "two elements carry the same ID"),
        ("xsw3", "2 assertions"),
        ("xsw4", "2 assertions"),
        ("xsw5", "2 assertions"),
        ("xsw6", "2 assertions"),
        ("xsw7", "two elements carry the same ID"),
        ("xsw8", "two elements carry the same ID"),
        ("two-assertions", "2 assertions"),
    ] {
        let said = refused(name, false);
        assert!(said.contains(why), "{name}: {said}");
    }
}

#[test]
fn forgeries_visible_without_a_key_are_refused() {
    assert!(
        refused("unsigned", false).contains("neither the Response nor its assertion is signed")
    );
    assert!(refused("sha1", false).contains("SHA-1"));
    assert!(refused("sha1-digest", false).contains("SHA-1"));
    // With SHA-1 allowed, its shape passes (the signature check still follows).
    let xml = fixture("sha1");
    assert!(check_shape(&parse_strict(&xml).unwrap(), true).is_ok());
    assert_eq!(
        parse_strict(&fixture("nameid-comment")).err(),
        Some(SamlError::Comment)
    );
    assert_eq!(parse_strict(&fixture("dtd")).err(), Some(SamlError::Dtd));
}

#[test]
fn what_the_response_says_is_checked() {
    let xml = fixture("signed-assertion");
    let doc = parse_strict(&xml).unwrap();
    let t = made(&xml);
    let cases: Vec<(Expected<'static>, &str)> = vec![
        (
            Expected {
                audience: "https://other.example/",
                ..expected(t)
            },
            "Audience",
        ),
        (
            Expected {
                acs_url: "https://other.example/acs",
                ..expected(t)
            },
            "Destination",
        ),
        (
            Expected {
                issuer: "https://evil.example/",
                ..expected(t)
            },
            "Issuer",
        ),
        (
            Expected {
                in_response_to: Some("_other"),
                ..expected(t)
            },
            "does not answer",
        ),
        (
            Expected {
                in_response_to: None,
                ..expected(t)
            },
            "did not make",
        ),
        (expected(t + 6 * 60 + 121), "expired"),
        (expected(t - 60 - 121), "not valid yet"),
        (
            Expected {
                user_attribute: Some(
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                ),
                ..expected(t)
            },
            "no attribute",
        ),
    ];
    for (e, why) in cases {
        let said = check_contents(&doc, &e)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(said.contains(why), "{why}: {said}");
    }
    // Within the skew either way, it is accepted.
    assert!(check_contents(&doc, &expected(t + 5 * 60 + 119)).is_ok());
    assert!(check_contents(&doc, &expected(t - 60 - 119)).is_ok());
}
