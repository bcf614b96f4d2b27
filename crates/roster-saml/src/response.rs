//! A SAML Response, read strictly. Its shape is pinned before any signature is checked, so the
//! element whose signature is verified is the element whose contents are used (no signature
//! wrapping): one Response, with exactly one Assertion as its direct child; each signature a
//! direct child of the element it signs, referencing that element's ID and nothing else, with
//! only the enveloped-signature and exclusive-canonicalization transforms and allowed algorithms;
//! no `Object` or `Manifest`; every ID unique. Then the conditions are checked against the time
//! the caller passes.

use crate::xml::{SamlError, children, only_child, parse_strict, text_of};
use roxmltree::{Document, Node};

pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Signature and digest algorithms accepted (SHA-1 only when the provider allows it).
const STRONG_SIGNATURES: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
const SHA1_SIGNATURES: &[&str] = &[
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
];
const STRONG_DIGESTS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// What the shape check found: the IDs of the Response and its Assertion, and which of them
/// carries a signature (still to be verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub response_id: String,
    pub assertion_id: String,
    pub response_signed: bool,
    pub assertion_signed: bool,
}

fn invalid(m: impl Into<String>) -> SamlError {
    SamlError::Invalid(m.into())
}

fn is(n: Node<'_, '_>, ns: &str, local: &str) -> bool {
    n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == local
}

/// Check one `ds:Signature` that is a direct child of `parent`.
fn check_signature(
    sig: Node<'_, '_>,
    parent: Node<'_, '_>,
    allow_sha1: bool,
) -> Result<(), SamlError> {
    let parent_id = parent
        .attribute("ID")
        .ok_or_else(|| invalid("a signed element has no ID"))?;
    if sig
        .descendants()
        .any(|d| is(d, DSIG, "Object") || is(d, DSIG, "Manifest"))
    {
        return Err(invalid("a signature carries an Object or a Manifest"));
    }
    let info = only_child(sig, DSIG, "SignedInfo")?
        .ok_or_else(|| invalid("a signature has no SignedInfo"))?;
    fn algorithm<'a>(n: Option<Node<'a, '_>>) -> &'a str {
        n.and_then(|n| n.attribute("Algorithm")).unwrap_or("")
    }
    if algorithm(only_child(info, DSIG, "CanonicalizationMethod")?) != EXC_C14N {
        return Err(invalid(
            "a signature's canonicalization is not exclusive XML canonicalization",
        ));
    }
    let method = algorithm(only_child(info, DSIG, "SignatureMethod")?);
    let sha1 = SHA1_SIGNATURES.contains(&method);
    if !(STRONG_SIGNATURES.contains(&method) || (sha1 && allow_sha1)) {
        return Err(if sha1 {
            invalid(
                "the response is signed with SHA-1, which this identity provider does not allow",
            )
        } else {
            invalid(format!("signature algorithm {method:?} is not accepted"))
        });
    }
    let references: Vec<_> = children(info, DSIG, "Reference").collect();
    let [reference] = references.as_slice() else {
        return Err(invalid("a signature must reference exactly one element"));
    };
    if reference.attribute("URI") != Some(&format!("#{parent_id}")) {
        return Err(invalid(
            "a signature does not reference the element that holds it",
        ));
    }
    if let Some(transforms) = only_child(*reference, DSIG, "Transforms")? {
        for t in transforms.children().filter(|c| c.is_element()) {
            let a = t.attribute("Algorithm").unwrap_or("");
            if !is(t, DSIG, "Transform") || !(a == ENVELOPED || a == EXC_C14N) {
                return Err(invalid(format!("transform {a:?} is not accepted")));
            }
        }
    }
    let digest = algorithm(only_child(*reference, DSIG, "DigestMethod")?);
    if !(STRONG_DIGESTS.contains(&digest) || (digest == SHA1_DIGEST && allow_sha1)) {
        return Err(if digest == SHA1_DIGEST {
            invalid("the response's digest is SHA-1, which this identity provider does not allow")
        } else {
            invalid(format!("digest algorithm {digest:?} is not accepted"))
        });
    }
    Ok(())
}

/// Pin the shape of a Response document (see the module's comment).
pub fn check_shape(doc: &Document<'_>, allow_sha1: bool) -> Result<Shape, SamlError> {
    let root = doc.root_element();
    if !is(root, PROTOCOL, "Response") {
        return Err(invalid("this is not a SAML Response"));
    }
    if root.attribute("Version") != Some("2.0") {
        return Err(invalid("the Response is not SAML 2.0"));
    }
    let mut ids = std::collections::HashSet::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        for a in n.attributes() {
            if matches!(a.name(), "ID" | "Id" | "id" | "AssertionID") && !ids.insert(a.value()) {
                return Err(invalid("two elements carry the same ID"));
            }
        }
    }
    if doc
        .descendants()
        .any(|n| is(n, ASSERTION, "EncryptedAssertion"))
    {
        return Err(invalid(
            "the assertion is encrypted, and this identity provider has no encryption key in Roster",
        ));
    }
    let assertions: Vec<_> = doc
        .descendants()
        .filter(|n| is(*n, ASSERTION, "Assertion"))
        .collect();
    let [assertion] = assertions.as_slice() else {
        return Err(invalid(format!(
            "the Response holds {} assertions; exactly one is accepted",
            assertions.len()
        )));
    };
    if assertion.parent_element() != Some(root) {
        return Err(invalid("the assertion is not where a Response holds it"));
    }
    let mut signed = (false, false);
    for sig in doc.descendants().filter(|n| is(*n, DSIG, "Signature")) {
        let parent = sig
            .parent_element()
            .ok_or_else(|| invalid("a signature has no parent"))?;
        let slot = if parent == root {
            &mut signed.0
        } else if parent == *assertion {
            &mut signed.1
        } else {
            return Err(invalid("a signature is where none belongs"));
        };
        if *slot {
            return Err(invalid("an element carries two signatures"));
        }
        check_signature(sig, parent, allow_sha1)?;
        *slot = true;
    }
    if !(signed.0 || signed.1) {
        return Err(invalid("neither the Response nor its assertion is signed"));
    }
    let id = |n: Node<'_, '_>, what: &str| {
        n.attribute("ID")
            .map(str::to_string)
            .ok_or_else(|| invalid(format!("the {what} has no ID")))
    };
    Ok(Shape {
        response_id: id(root, "Response")?,
        assertion_id: id(*assertion, "assertion")?,
        response_signed: signed.0,
        assertion_signed: signed.1,
    })
}

/// What a Response must say to be accepted, besides its signature.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The identity provider's entity id (the Issuer).
    pub issuer: &'a str,
    /// The service provider's entity id (the Audience).
    pub audience: &'a str,
    /// The ACS URL (Destination and Recipient).
    pub acs_url: &'a str,
    /// The outstanding request this answers (SP-initiated), or `None` (IdP-initiated, when
    /// allowed: then the Response must not claim to answer one).
    pub in_response_to: Option<&'a str>,
    /// Now, in seconds since the epoch, and the clock skew allowed either way.
    pub now: i64,
    pub skew_seconds: i64,
    /// The attribute naming the user, when not the NameID.
    pub user_attribute: Option<&'a str>,
}

/// What an accepted Response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub assertion_id: String,
    /// Who signs in: the NameID, or the configured attribute's value.
    pub subject: String,
    /// Until when the assertion id must be remembered (its NotOnOrAfter plus the skew).
    pub remember_until: i64,
}

/// Seconds since the epoch of an `xs:dateTime` in UTC (`2026-12-08T10:00:00Z`, with optional
/// fractions).
pub fn parse_instant(s: &str) -> Option<i64> {
    let s = s.trim();
    let body = s.strip_suffix('Z')?;
    let (date, time) = body.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let time = time.split('.').next()?;
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Check what a Response of pinned shape says against `e` (its signature is checked by the
/// caller, before).
pub fn check_contents(doc: &Document<'_>, e: &Expected<'_>) -> Result<Accepted, SamlError> {
    let root = doc.root_element();
    let assertion = children(root, ASSERTION, "Assertion")
        .next()
        .ok_or_else(|| invalid("the Response has no assertion"))?;
    // Status.
    let status = only_child(root, PROTOCOL, "Status")?
        .and_then(|s| children(s, PROTOCOL, "StatusCode").next())
        .and_then(|c| c.attribute("Value"));
    if status != Some(SUCCESS) {
        return Err(invalid(format!(
            "the identity provider answered {}",
            status.unwrap_or("without a status")
        )));
    }
    // Destination, InResponseTo of the Response.
    if let Some(d) = root.attribute("Destination")
        && d != e.acs_url
    {
        return Err(invalid(
            "the Response's Destination is not this service provider's ACS URL",
        ));
    }
    let answers = root.attribute("InResponseTo");
    match (e.in_response_to, answers) {
        (Some(want), Some(got)) if want == got => {}
        (Some(_), _) => {
            return Err(invalid(
                "the Response does not answer the request this browser made",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "the Response answers a request this browser did not make",
            ));
        }
        (None, None) => {}
    }
    // Issuers.
    if let Some(i) = only_child(root, ASSERTION, "Issuer")?
        && text_of(i)? != e.issuer
    {
        return Err(invalid(
            "the Response's Issuer is not this identity provider",
        ));
    }
    let issuer = only_child(assertion, ASSERTION, "Issuer")?
        .ok_or_else(|| invalid("the assertion has no Issuer"))?;
    if text_of(issuer)? != e.issuer {
        return Err(invalid(
            "the assertion's Issuer is not this identity provider",
        ));
    }
    // Conditions: time window and audience, both required.
    let conditions = only_child(assertion, ASSERTION, "Conditions")?
        .ok_or_else(|| invalid("the assertion has no Conditions"))?;
    let time = |n: Node<'_, '_>, a: &str| -> Result<Option<i64>, SamlError> {
        n.attribute(a)
            .map(|v| parse_instant(v).ok_or_else(|| invalid(format!("{a} is not a UTC time"))))
            .transpose()
    };
    let not_before = time(conditions, "NotBefore")?;
    let not_on_or_after = time(conditions, "NotOnOrAfter")?
        .ok_or_else(|| invalid("the assertion's Conditions have no NotOnOrAfter"))?;
    if not_before.is_some_and(|t| e.now + e.skew_seconds < t) {
        return Err(invalid(
            "the assertion is not valid yet (NotBefore is in the future)",
        ));
    }
    if e.now - e.skew_seconds >= not_on_or_after {
        return Err(invalid(
            "the assertion has expired (NotOnOrAfter has passed)",
        ));
    }
    let audiences: Vec<String> = children(conditions, ASSERTION, "AudienceRestriction")
        .flat_map(|r| children(r, ASSERTION, "Audience"))
        .map(text_of)
        .collect::<Result<_, _>>()?;
    if !audiences.iter().any(|a| a == e.audience) {
        return Err(invalid(
            "the assertion's Audience is not this service provider",
        ));
    }
    // Subject: a bearer confirmation for this ACS, in time, answering the same request.
    let subject = only_child(assertion, ASSERTION, "Subject")?
        .ok_or_else(|| invalid("the assertion has no Subject"))?;
    let confirmed = children(subject, ASSERTION, "SubjectConfirmation")
        .filter(|c| c.attribute("Method") == Some(BEARER))
        .filter_map(|c| children(c, ASSERTION, "SubjectConfirmationData").next())
        .any(|d| {
            let in_time = time(d, "NotOnOrAfter")
                .ok()
                .flatten()
                .is_some_and(|t| e.now - e.skew_seconds < t);
            d.attribute("Recipient") == Some(e.acs_url)
                && in_time
                && d.attribute("InResponseTo") == e.in_response_to
        });
    if !confirmed {
        return Err(invalid(
            "the assertion has no bearer confirmation for this ACS URL, in time, answering this request",
        ));
    }
    if children(assertion, ASSERTION, "AuthnStatement")
        .next()
        .is_none()
    {
        return Err(invalid("the assertion has no AuthnStatement"));
    }
    let who = match e.user_attribute {
        None => {
            let name_id = only_child(subject, ASSERTION, "NameID")?
                .ok_or_else(|| invalid("the assertion's Subject has no NameID"))?;
            text_of(name_id)?
        }
        Some(attr) => {
            let values: Vec<String> = children(assertion, ASSERTION, "AttributeStatement")
                .flat_map(|s| children(s, ASSERTION, "Attribute"))
                .filter(|a| a.attribute("Name") == Some(attr))
                .flat_map(|a| children(a, ASSERTION, "AttributeValue"))
                .map(text_of)
                .collect::<Result<_, _>>()?;
            match values.as_slice() {
                [one] => one.clone(),
                [] => return Err(invalid(format!("the assertion has no attribute {attr}"))),
                _ => {
                    return Err(invalid(format!(
                        "the assertion has several values of {attr}"
                    )));
                }
            }
        }
    };
    if who.is_empty() {
        return Err(invalid("the assertion names nobody"));
    }
    Ok(Accepted {
        assertion_id: assertion.attribute("ID").unwrap_or_default().to_string(),
        subject: who,
        remember_until: not_on_or_after + e.skew_seconds,
    })
}

/// Accept a Response (its XML text, decoded) of an identity provider whose signing
/// certificates are `certificates`: strict XML, pinned shape, signatures verified by `check`
/// covering what is read (the assertion, or the Response that holds it), then its contents.
pub fn accept(
    xml: &str,
    certificates: &[String],
    allow_sha1: bool,
    expected: &Expected<'_>,
    check: &dyn crate::verify::SignatureCheck,
) -> Result<Accepted, SamlError> {
    let doc = parse_strict(xml)?;
    let shape = check_shape(&doc, allow_sha1)?;
    let verified = check.verified_ids(xml, certificates)?;
    let covered = verified.contains(&shape.assertion_id)
        || (shape.response_signed && verified.contains(&shape.response_id));
    if !covered {
        return Err(invalid("no verified signature covers the assertion"));
    }
    check_contents(&doc, expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_utc() {
        assert_eq!(parse_instant("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_instant("2026-12-08T10:00:00Z"), Some(1_796_724_000));
        assert_eq!(
            parse_instant("2026-12-08T10:00:00.123Z"),
            Some(1_796_724_000)
        );
        assert_eq!(parse_instant("2026-12-08T10:00:00+01:00"), None);
        assert_eq!(parse_instant("2026-13-08T10:00:00Z"), None);
    }
}
