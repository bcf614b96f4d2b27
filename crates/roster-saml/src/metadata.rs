//! An identity provider's SAML metadata, as Entra's "Federation Metadata XML" gives it: the
//! entity id, the single sign-on URL, and the signing certificates (all of them: during a
//! certificate rollover Entra lists the old and the new). The document's own signature is not
//! checked: an administrator pastes or uploads it from the provider's portal, and the
//! certificates it names are shown to them.

use crate::xml::{SamlError, children, escape, parse_strict, text_of};

const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// What Roster takes from an identity provider's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// `entityID`: the Issuer of its responses.
    pub entity_id: String,
    /// Its single sign-on service (the HTTP-Redirect binding's, else the HTTP-POST binding's).
    pub sign_in_url: String,
    /// Its signing certificates, PEM, each once, in document order.
    pub certificates: Vec<String>,
}

/// PEM of a certificate given as base64 DER (as `X509Certificate` holds it).
pub fn pem_of(b64: &str) -> String {
    let kept: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in kept.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Read an identity provider's metadata (an `EntityDescriptor` with an `IDPSSODescriptor`).
pub fn parse_idp_metadata(text: &str) -> Result<IdpMetadata, SamlError> {
    let doc = parse_strict(text.trim_start_matches('\u{feff}'))?;
    let root = doc.root_element();
    let invalid = |m: &str| SamlError::Invalid(m.to_string());
    if root.tag_name().namespace() != Some(MD) {
        return Err(invalid("this is not SAML metadata (no EntityDescriptor)"));
    }
    match root.tag_name().name() {
        "EntityDescriptor" => {}
        "EntitiesDescriptor" => {
            return Err(invalid(
                "this metadata describes several entities: use the identity provider's own",
            ));
        }
        _ => return Err(invalid("this is not SAML metadata (no EntityDescriptor)")),
    }
    let entity_id = root
        .attribute("entityID")
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| invalid("the EntityDescriptor has no entityID"))?
        .to_string();
    let idp = children(root, MD, "IDPSSODescriptor")
        .next()
        .ok_or_else(|| {
            invalid(
                "the metadata has no IDPSSODescriptor: it does not describe an identity provider",
            )
        })?;
    let services: Vec<_> = children(idp, MD, "SingleSignOnService").collect();
    let url_of = |binding: &str| {
        services
            .iter()
            .find(|s| s.attribute("Binding") == Some(binding))
            .and_then(|s| s.attribute("Location"))
            .map(|l| l.trim().to_string())
    };
    let sign_in_url = url_of(REDIRECT)
        .or_else(|| url_of(POST))
        .filter(|u| !u.is_empty())
        .ok_or_else(|| invalid("the IDPSSODescriptor has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding"))?;
    let mut certificates = Vec::new();
    for kd in children(idp, MD, "KeyDescriptor") {
        // `use` absent means both signing and encryption.
        if kd.attribute("use").is_some_and(|u| u != "signing") {
            continue;
        }
        for ki in children(kd, DS, "KeyInfo") {
            for data in children(ki, DS, "X509Data") {
                for cert in children(data, DS, "X509Certificate") {
                    let pem = pem_of(&text_of(cert)?);
                    if !certificates.contains(&pem) {
                        certificates.push(pem);
                    }
                }
            }
        }
    }
    if certificates.is_empty() {
        return Err(invalid("the IDPSSODescriptor has no signing certificate"));
    }
    Ok(IdpMetadata {
        entity_id,
        sign_in_url,
        certificates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entra's shape: a signature over the document, WS-Federation role descriptors (whose
    /// certificates are not the SAML ones), then the IDPSSODescriptor with two signing
    /// certificates (a rollover) and both bindings.
    const ENTRA: &str = r#"<?xml version="1.0" encoding="utf-8"?><EntityDescriptor ID="_1" entityID="https://sts.windows.net/tenant-id/" xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo/></Signature><RoleDescriptor xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="fed:SecurityTokenServiceType" xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706" protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>V1NGRUQ=</X509Certificate></X509Data></KeyInfo></KeyDescriptor></RoleDescriptor><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>QUFB
QUFB</X509Certificate></X509Data></KeyInfo></KeyDescriptor><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>QkJC</X509Certificate></X509Data></KeyInfo></KeyDescriptor><KeyDescriptor use="encryption"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>RU5D</X509Certificate></X509Data></KeyInfo></KeyDescriptor><SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.microsoftonline.com/tenant-id/saml2"/><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://login.microsoftonline.com/tenant-id/saml2/post"/><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.microsoftonline.com/tenant-id/saml2"/></IDPSSODescriptor></EntityDescriptor>"#;

    #[test]
    fn entras_federation_metadata() {
        let m = parse_idp_metadata(ENTRA).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.entity_id, "https://sts.windows.net/tenant-id/");
        assert_eq!(
            m.sign_in_url,
            "https://login.microsoftonline.com/tenant-id/saml2"
        );
        assert_eq!(
            m.certificates,
            vec![
                "-----BEGIN CERTIFICATE-----\nQUFBQUFB\n-----END CERTIFICATE-----\n".to_string(),
                "-----BEGIN CERTIFICATE-----\nQkJC\n-----END CERTIFICATE-----\n".to_string(),
            ],
            "the IDPSSODescriptor's signing certificates only"
        );
    }

    #[test]
    fn what_is_not_an_identity_providers_metadata_says_why() {
        let cases = [
            ("<r/>", "not SAML metadata"),
            (
                r#"<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"/>"#,
                "several entities",
            ),
            (
                r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"/>"#,
                "no entityID",
            ),
            (
                r#"<EntityDescriptor entityID="x" xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><SPSSODescriptor/></EntityDescriptor>"#,
                "no IDPSSODescriptor",
            ),
            (
                r#"<EntityDescriptor entityID="x" xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><IDPSSODescriptor><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp/"/></IDPSSODescriptor></EntityDescriptor>"#,
                "no signing certificate",
            ),
        ];
        for (xml, why) in cases {
            let e = parse_idp_metadata(xml)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(why), "{xml}: {e}");
        }
    }
}

/// The metadata of Roster's service provider for one identity provider: its entity id (the
/// metadata's own URL, as the IAM API's `metadata_url` says), its assertion consumer service
/// (HTTP-POST, at `acs_url`), the NameID it asks for (an email address), and that it wants
/// assertions signed.
pub fn sp_metadata(entity_id: &str, acs_url: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <md:EntityDescriptor xmlns:md=\"{MD}\" entityID=\"{entity}\">\
         <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\
         <md:AssertionConsumerService Binding=\"{POST}\" Location=\"{acs}\" index=\"0\" \
         isDefault=\"true\"/></md:SPSSODescriptor></md:EntityDescriptor>\n",
        entity = escape(entity_id),
        acs = escape(acs_url),
    )
}

#[cfg(test)]
mod sp_tests {
    use super::*;

    #[test]
    fn sp_metadata_reads_back_strictly_with_its_urls() {
        let xml = sp_metadata("https://r.example/m?a=1&b=2", "https://r.example/login");
        let doc = parse_strict(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
        let root = doc.root_element();
        assert_eq!(
            root.attribute("entityID"),
            Some("https://r.example/m?a=1&b=2")
        );
        let acs = root
            .descendants()
            .find(|n| n.has_tag_name((MD, "AssertionConsumerService")))
            .and_then(|n| n.attribute("Location"));
        assert_eq!(acs, Some("https://r.example/login"));
    }
}
