//! Field validation shared by the services.

use crate::error::FieldErrors;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Case folding for uniqueness and search (Unicode-aware, unlike SQLite's `lower()`).
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// The uniqueness key of a `userName` (the IAM API's email): case-folded and in Unicode NFC, so
/// `é` typed as one code point or as `e` and a combining accent is the same user. The stored
/// value stays exactly as received.
pub fn user_name_key(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let composed: String = s.nfc().collect();
    composed.to_lowercase().nfc().collect()
}

/// Bidirectional formatting characters (embeddings, overrides, isolates, marks): they reorder what
/// is displayed, so a name could show as something it is not.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// What is wrong with `value` as single-line text (a name, an email, an identifier), if anything:
/// control characters (C0 including tab, CR and LF, DEL, C1) and bidirectional formatting
/// characters are refused. The IAM API and SCIM apply the same rule.
pub fn single_line_problem(value: &str) -> Option<&'static str> {
    if value.chars().any(char::is_control) {
        Some("Control characters (line breaks and tabs included) are not allowed.")
    } else if value.chars().any(is_bidi_control) {
        Some("Bidirectional formatting characters are not allowed.")
    } else {
        None
    }
}

pub fn single_line(errs: &mut FieldErrors, field: &str, value: &str) {
    if let Some(m) = single_line_problem(value) {
        errs.add(field, m);
    }
}

/// A name: not blank, single-line, at most `max` characters.
pub fn name(errs: &mut FieldErrors, field: &str, value: &str, max: usize) {
    if non_blank(errs, field, value) {
        single_line(errs, field, value);
        max_len(errs, field, value, max);
    }
}

pub fn max_len(errs: &mut FieldErrors, field: &str, value: &str, max: usize) {
    if value.chars().count() > max {
        errs.add(
            field,
            format!("Ensure this field has no more than {max} characters."),
        );
    }
}

pub fn non_blank(errs: &mut FieldErrors, field: &str, value: &str) -> bool {
    if value.trim().is_empty() {
        errs.add(field, "This field may not be blank.");
        false
    } else {
        true
    }
}

pub fn email(errs: &mut FieldErrors, field: &str, value: &str) {
    if single_line_problem(value).is_some()
        || value.chars().count() > 254
        || !email_address::EmailAddress::is_valid(value)
        || !value.contains('@')
    {
        errs.add(field, "Enter a valid email address.");
    }
}

/// An absolute http(s) URI of at most 250 characters. The host is not checked.
pub fn absolute_url(errs: &mut FieldErrors, field: &str, value: &str) {
    if value.chars().count() > 250 {
        errs.add(field, "Ensure this field has no more than 250 characters.");
        return;
    }
    match url::Url::parse(value) {
        Ok(u) if u.scheme() == "https" || u.scheme() == "http" => {}
        _ => errs.add(field, "Enter a valid URL (an absolute http or https URI)."),
    }
}

/// `^[+\d()\-/.\s]*$`, at most 21 characters.
pub fn phone(errs: &mut FieldErrors, field: &str, value: &str) {
    max_len(errs, field, value, 21);
    if !value
        .chars()
        .all(|c| c.is_ascii_digit() || "+()-/. ".contains(c))
    {
        errs.add(
            field,
            "Enter a valid phone number (digits, spaces and + ( ) - / . only).",
        );
    }
}

/// A language code such as `en` or `pt-br`.
pub fn language(errs: &mut FieldErrors, field: &str, value: &str) {
    let ok = match value.split_once('-') {
        None => value.len() == 2 && value.bytes().all(|b| b.is_ascii_lowercase()),
        Some((a, b)) => {
            a.len() == 2
                && a.bytes().all(|c| c.is_ascii_lowercase())
                && (2..=4).contains(&b.len())
                && b.bytes().all(|c| c.is_ascii_alphanumeric())
        }
    };
    if !ok {
        errs.add(
            field,
            format!("\"{value}\" is not a valid language code (for example \"en\" or \"pt-br\")."),
        );
    }
}

/// An IANA time zone name such as `America/Sao_Paulo` or `UTC` (shape only).
pub fn timezone(errs: &mut FieldErrors, field: &str, value: &str) {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
        && !value.starts_with('/')
        && !value.ends_with('/');
    if !ok {
        errs.add(
            field,
            format!(
                "\"{value}\" is not a valid time zone name (for example \"America/Sao_Paulo\")."
            ),
        );
    }
}

/// Parse a date-time leniently, as Azion does: RFC 3339, or without seconds or zone
/// (`2023-07-26T00:00`, taken as UTC), or a bare date (`2023-07-26`, midnight UTC).
pub fn parse_datetime(value: &str) -> Option<DateTime<Utc>> {
    let v = value.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(v, fmt) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|n| Utc.from_utc_datetime(&n));
    }
    None
}

/// Validate a PEM X.509 certificate; answer the signature algorithm label (`sha-1`/`sha-256`).
pub fn certificate(errs: &mut FieldErrors, field: &str, pem: &str) -> Option<String> {
    if pem.chars().count() > 4096 {
        errs.add(field, "Ensure this field has no more than 4096 characters.");
        return None;
    }
    let parsed = x509_parser::pem::parse_x509_pem(pem.trim().as_bytes());
    let Ok((_, block)) = parsed else {
        errs.add(
            field,
            "Enter a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----).",
        );
        return None;
    };
    if block.label != "CERTIFICATE" {
        errs.add(
            field,
            format!(
                "Expected a CERTIFICATE PEM block, found \"{}\".",
                block.label
            ),
        );
        return None;
    }
    match block.parse_x509() {
        Ok(cert) => {
            let oid = cert.signature_algorithm.algorithm.to_id_string();
            // sha1WithRSAEncryption, ecdsa-with-SHA1, dsa-with-sha1
            let sha1 = [
                "1.2.840.113549.1.1.5",
                "1.2.840.10045.4.1",
                "1.2.840.10040.4.3",
            ];
            Some(
                if sha1.contains(&oid.as_str()) {
                    "sha-1"
                } else {
                    "sha-256"
                }
                .to_string(),
            )
        }
        Err(e) => {
            errs.add(
                field,
                format!("The certificate is not a valid X.509 certificate: {e}."),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_dates() {
        assert_eq!(
            parse_datetime("2023-07-26T00:00").unwrap().to_rfc3339(),
            "2023-07-26T00:00:00+00:00"
        );
        assert_eq!(
            parse_datetime("2023-07-26").unwrap().to_rfc3339(),
            "2023-07-26T00:00:00+00:00"
        );
        assert_eq!(
            parse_datetime("2023-07-26T03:00:00+03:00")
                .unwrap()
                .to_rfc3339(),
            "2023-07-26T00:00:00+00:00"
        );
        assert!(parse_datetime("tomorrow").is_none());
    }

    #[test]
    fn field_checks() {
        let mut e = FieldErrors::new();
        email(&mut e, "email", "ada@example.com");
        language(&mut e, "language", "pt-br");
        timezone(&mut e, "timezone", "America/Sao_Paulo");
        phone(&mut e, "phone", "+55 (11) 9999-0000");
        absolute_url(&mut e, "u", "https://login.microsoftonline/123abc/saml2");
        assert!(e.is_empty(), "{e}");
        email(&mut e, "email", "not-an-email");
        language(&mut e, "language", "English");
        timezone(&mut e, "timezone", "");
        phone(&mut e, "phone", "call me");
        absolute_url(&mut e, "u", "/relative");
        assert_eq!(e.0.len(), 5);
    }

    #[test]
    fn pem_is_checked() {
        let mut e = FieldErrors::new();
        assert!(
            certificate(
                &mut e,
                "certificate",
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
            )
            .is_none()
        );
        assert!(certificate(&mut e, "certificate", "hello").is_none());
        assert_eq!(e.0.len(), 2);
    }
}
