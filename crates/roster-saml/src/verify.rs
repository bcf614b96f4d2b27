//! Checking a Response's signatures against the identity provider's configured certificates
//! (never a key the message carries). The check answers the IDs of the elements whose signature
//! verified; [`crate::response::check_shape`] has already pinned where those elements are, so the
//! caller only has to see that the element it reads is among them.
//!
//! Behind a trait so that two implementations can be run against the same attack corpus (issue
//! 13 asks for that comparison). [`Bergshamra`] is the pure-Rust candidate (bergshamra 0.11:
//! exclusive c14n, RSA and ECDSA on RustCrypto, `#![forbid(unsafe_code)]`).

use crate::xml::SamlError;

/// Verifies XML signatures against trusted certificates.
pub trait SignatureCheck {
    /// The `ID`s of the elements of `xml` whose enveloped signature verifies with one of
    /// `certificates` (PEM). Any signature that does not verify is an error.
    fn verified_ids(&self, xml: &str, certificates: &[String]) -> Result<Vec<String>, SamlError>;
}

/// bergshamra: trusted keys only, strict reference positions, every reference digested.
#[derive(Debug, Default, Clone, Copy)]
pub struct Bergshamra;

fn refused(why: impl std::fmt::Display) -> SamlError {
    SamlError::Invalid(format!("the signature does not verify: {why}"))
}

impl SignatureCheck for Bergshamra {
    fn verified_ids(&self, xml: &str, certificates: &[String]) -> Result<Vec<String>, SamlError> {
        use bergshamra::dsig::verify::verify_all_document_with_source;
        use bergshamra::keys::loader::load_x509_cert_pem;
        use bergshamra::{DsigContext, KeysManager, VerifyResult};
        bergshamra::initialize_backend()
            .map_err(|e| SamlError::Invalid(format!("no signature backend: {e}")))?;
        if certificates.is_empty() {
            return Err(refused("the identity provider has no certificate"));
        }
        let mut keys = KeysManager::new();
        for pem in certificates {
            keys.add_key(load_x509_cert_pem(pem.as_bytes()).map_err(refused)?);
        }
        // Trust comes from the configuration, not from the certificate's dates (identity
        // providers sign with self-signed certificates, often past their validity): the console
        // warns before they expire instead.
        // (`ID` is among the attributes it registers as IDs by itself.)
        let ctx = DsigContext::new(keys).with_skip_time_checks(true);
        let doc = bergshamra::xml::uppsala::parse(xml).map_err(refused)?;
        let results = verify_all_document_with_source(&ctx, &doc, Some(xml)).map_err(refused)?;
        if results.is_empty() {
            return Err(refused("there is no signature"));
        }
        let mut ids = Vec::new();
        for r in results {
            let VerifyResult::Valid {
                signature_node,
                references,
                ..
            } = r
            else {
                let why = match r {
                    VerifyResult::Invalid { reason } => reason,
                    VerifyResult::Valid { .. } => String::new(),
                };
                return Err(refused(why));
            };
            let parent = doc
                .parent(signature_node)
                .ok_or_else(|| refused("a signature has no parent"))?;
            let [reference] = references.as_slice() else {
                return Err(refused("a signature must reference exactly one element"));
            };
            if reference.resolved_node != Some(parent) || !reference.digest_verified {
                return Err(refused(
                    "a signature does not cover the element that holds it",
                ));
            }
            let id = doc
                .get_attribute(parent, "ID")
                .ok_or_else(|| refused("a signed element has no ID"))?;
            ids.push(id.to_string());
        }
        Ok(ids)
    }
}

/// samael 0.0.22 with libxmlsec1 (the C candidate; feature `xmlsec`, which needs Debian's
/// `libxmlsec1-dev libxml2-dev libclang-dev pkg-config` to build): xmlsec verifies every
/// signature with the configured certificates, and samael returns a document of the signed
/// content only, whose elements' IDs this answers.
#[cfg(feature = "xmlsec")]
#[derive(Debug, Default, Clone, Copy)]
pub struct Samael;

#[cfg(feature = "xmlsec")]
impl SignatureCheck for Samael {
    fn verified_ids(&self, xml: &str, certificates: &[String]) -> Result<Vec<String>, SamlError> {
        use base64::Engine;
        use samael::crypto::{CertificateDer, Crypto, CryptoProvider, ReduceMode};
        // samael checks nothing when it is given no certificate: refuse first.
        if certificates.is_empty() {
            return Err(refused("the identity provider has no certificate"));
        }
        let mut ders = Vec::new();
        for pem in certificates {
            let body: String = pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>()
                .split_whitespace()
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|_| refused("a certificate is not PEM"))?;
            ders.push(CertificateDer::from(der));
        }
        let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            xml,
            &ders,
            ReduceMode::ValidateAndMarkNoAncestors,
            None,
        )
        .map_err(refused)?;
        let doc = roxmltree::Document::parse(&reduced).map_err(refused)?;
        Ok(doc
            .descendants()
            .filter(|n| n.is_element())
            .filter_map(|n| n.attribute("ID"))
            .map(str::to_string)
            .collect())
    }
}
