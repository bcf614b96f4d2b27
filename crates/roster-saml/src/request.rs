//! The service provider's side of SP-initiated sign-in: an AuthnRequest, sent with the
//! HTTP-Redirect binding (SAML Bindings §3.4: DEFLATE, then base64, then the `SAMLRequest` query
//! parameter, with an optional `RelayState` of at most 80 bytes).

use crate::xml::{SamlError, escape};
use std::io::Write;

/// RelayState's limit (SAML Bindings §3.4.3).
pub const MAX_RELAY_STATE_BYTES: usize = 80;

/// An AuthnRequest `id` (an NCName: it must not start with a digit) from the service provider
/// `issuer` to the identity provider at `destination`, asking for the response at `acs_url`
/// (HTTP-POST) and an email-address NameID; `issue_instant` is an `xs:dateTime` in UTC.
pub fn authn_request(
    id: &str,
    issuer: &str,
    destination: &str,
    acs_url: &str,
    issue_instant: &str,
) -> String {
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"{instant}\" Destination=\"{destination}\" \
         AssertionConsumerServiceURL=\"{acs}\" \
         ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\">\
         <saml:Issuer>{issuer}</saml:Issuer>\
         <samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\" \
         AllowCreate=\"true\"/></samlp:AuthnRequest>",
        id = escape(id),
        instant = escape(issue_instant),
        destination = escape(destination),
        acs = escape(acs_url),
        issuer = escape(issuer),
    )
}

/// The URL that sends `request` to the identity provider's `sign_in_url` with the
/// HTTP-Redirect binding, with `relay_state` (at most [`MAX_RELAY_STATE_BYTES`]).
pub fn redirect_url(
    sign_in_url: &str,
    request: &str,
    relay_state: Option<&str>,
) -> Result<String, SamlError> {
    use base64::Engine;
    if relay_state.is_some_and(|r| r.len() > MAX_RELAY_STATE_BYTES) {
        return Err(SamlError::Invalid(format!(
            "RelayState is longer than {MAX_RELAY_STATE_BYTES} bytes"
        )));
    }
    let mut deflate =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflate
        .write_all(request.as_bytes())
        .and_then(|()| deflate.flush())
        .map_err(|e| SamlError::Invalid(format!("cannot compress the request: {e}")))?;
    let compressed = deflate
        .finish()
        .map_err(|e| SamlError::Invalid(format!("cannot compress the request: {e}")))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(compressed);
    let mut url = url::Url::parse(sign_in_url)
        .map_err(|e| SamlError::Invalid(format!("the sign-in URL is not a URL: {e}")))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("SAMLRequest", &encoded);
        if let Some(r) = relay_state {
            q.append_pair("RelayState", r);
        }
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_redirect_carries_the_deflated_request_and_the_relay_state() {
        let req = authn_request(
            "_r1",
            "https://sp/metadata",
            "https://login.example/saml2",
            "https://sp/login",
            "2026-12-08T10:00:00Z",
        );
        crate::xml::parse_strict(&req).unwrap_or_else(|e| panic!("{e}"));
        let url = redirect_url(
            "https://login.example/saml2?tenant=t",
            &req,
            Some("/console/users"),
        )
        .unwrap_or_default();
        let parsed = url::Url::parse(&url).unwrap_or_else(|e| panic!("{e}"));
        let pairs: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(
            pairs.get("tenant").map(String::as_str),
            Some("t"),
            "the URL's own query stays"
        );
        assert_eq!(
            pairs.get("RelayState").map(String::as_str),
            Some("/console/users")
        );
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(pairs.get("SAMLRequest").cloned().unwrap_or_default())
            .unwrap_or_default();
        let mut back = String::new();
        flate2::read::DeflateDecoder::new(raw.as_slice())
            .read_to_string(&mut back)
            .unwrap_or_default();
        assert_eq!(back, req);
        assert!(redirect_url("https://l/", &req, Some(&"x".repeat(81))).is_err());
        assert!(redirect_url("not a url", &req, None).is_err());
    }
}
