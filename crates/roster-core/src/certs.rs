//! An identity provider's signing certificates: several at once (all trusted, so Entra's
//! certificate rollover never locks anyone out), kept as one PEM bundle, each described for
//! people (subject, fingerprint, validity) so the console can warn before one expires.

use crate::error::FieldErrors;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// At most this many certificates per identity provider.
pub const MAX_CERTIFICATES: usize = 10;
/// The console warns this many days before a certificate expires.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// A certificate as people see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    pub subject: String,
    /// SHA-256 of the DER, upper-case hex in pairs separated by colons (as Entra shows its
    /// thumbprints, though Entra's are SHA-1).
    pub sha256_fingerprint: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl CertificateInfo {
    /// Whole days from `now` until it expires (negative once expired).
    pub fn days_left(&self, now: DateTime<Utc>) -> i64 {
        (self.not_after - now).num_days()
    }
}

/// The PEM blocks of a bundle, each trimmed, in order.
pub fn split_bundle(bundle: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = bundle;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let end = start + len + END.len();
        out.push(rest[start..end].trim().to_string());
        rest = &rest[end..];
    }
    out
}

/// What a PEM certificate says about itself, if it is one.
pub fn info(pem: &str) -> Option<CertificateInfo> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.trim().as_bytes()).ok()?;
    let cert = block.parse_x509().ok()?;
    let digest = Sha256::digest(&block.contents);
    let sha256_fingerprint = digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let time = |t: x509_parser::time::ASN1Time| DateTime::from_timestamp(t.timestamp(), 0);
    Some(CertificateInfo {
        subject: cert.subject().to_string(),
        sha256_fingerprint,
        not_before: time(cert.validity().not_before)?,
        not_after: time(cert.validity().not_after)?,
    })
}

/// Check certificates given in `field` (each a PEM, or a bundle of them) and answer them as one
/// bundle with the signature algorithm of the first (`sha-1` or `sha-256`), or `None` after
/// adding the errors.
pub fn checked_bundle(
    errs: &mut FieldErrors,
    field: &str,
    given: &[String],
) -> Option<(String, String)> {
    let pems: Vec<String> = given
        .iter()
        .flat_map(|g| {
            let blocks = split_bundle(g);
            if blocks.is_empty() {
                // Not PEM at all: checked as it is, so the error says what is wrong.
                vec![g.trim().to_string()]
            } else {
                blocks
            }
        })
        .collect();
    if pems.is_empty() {
        errs.add(field, "Give at least one certificate.");
        return None;
    }
    if pems.len() > MAX_CERTIFICATES {
        errs.add(
            field,
            format!("Give at most {MAX_CERTIFICATES} certificates."),
        );
        return None;
    }
    let mut algorithm = None;
    let mut kept: Vec<String> = Vec::new();
    for pem in &pems {
        let alg = crate::validate::certificate(errs, field, pem)?;
        algorithm.get_or_insert(alg);
        if !kept.contains(pem) {
            kept.push(pem.clone());
        }
    }
    Some((kept.join("\n"), algorithm.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_split_into_their_blocks() {
        let a = format!("{BEGIN}\nQUFB\n{END}");
        let b = format!("{BEGIN}\nQkJC\n{END}");
        assert_eq!(
            split_bundle(&format!("junk\n{a}\n\n{b}\ntrailing")),
            vec![a.clone(), b.clone()]
        );
        assert!(split_bundle("no pem here").is_empty());
        assert!(split_bundle(&format!("{BEGIN}\nunterminated")).is_empty());
    }
}
