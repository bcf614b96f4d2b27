//! Strict XML: what SAML messages and metadata must look like before Roster reads a byte of them.

use roxmltree::{Document, Node, NodeType, ParsingOptions};

/// The largest XML document read (a SAML response is a few kilobytes; Entra's federation
/// metadata about 20).
pub const MAX_XML_BYTES: usize = 256 * 1024;
/// The most XML nodes read.
const MAX_NODES: u32 = 20_000;

/// Why a SAML message or metadata document was refused. The text is for the sign-in log and for
/// the administrator's error message; it never repeats the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    #[error("the document is larger than {MAX_XML_BYTES} bytes")]
    TooLarge,
    #[error("the document declares a DTD or entities, which SAML never needs")]
    Dtd,
    #[error("the document holds a comment or a processing instruction")]
    Comment,
    #[error("the document is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the document is not valid base64")]
    Base64,
    #[error("{0}")]
    Invalid(String),
}

/// Parse `text` strictly: at most [`MAX_XML_BYTES`], no `<!DOCTYPE` or `<!ENTITY` (refused
/// before parsing), no comment or processing instruction, well-formed.
pub fn parse_strict(text: &str) -> Result<Document<'_>, SamlError> {
    if text.len() > MAX_XML_BYTES {
        return Err(SamlError::TooLarge);
    }
    let upper = text.to_ascii_uppercase();
    if upper.contains("<!DOCTYPE") || upper.contains("<!ENTITY") {
        return Err(SamlError::Dtd);
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options)
        .map_err(|e| SamlError::Malformed(e.to_string()))?;
    if doc
        .descendants()
        .any(|n| matches!(n.node_type(), NodeType::Comment | NodeType::PI))
    {
        return Err(SamlError::Comment);
    }
    Ok(doc)
}

/// `s` escaped for XML text and attribute values (what Roster writes: metadata, requests).
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Decode base64 (line breaks and spaces allowed, as identity providers wrap it) to UTF-8 text.
pub fn decode_base64(b64: &str) -> Result<String, SamlError> {
    use base64::Engine;
    let kept: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if kept.len() > MAX_XML_BYTES * 4 / 3 + 4 {
        return Err(SamlError::TooLarge);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(kept)
        .map_err(|_| SamlError::Base64)?;
    String::from_utf8(bytes).map_err(|_| SamlError::Malformed("not UTF-8".into()))
}

/// The child elements of `n` named `local` in namespace `ns`.
pub fn children<'a, 'i>(
    n: Node<'a, 'i>,
    ns: &'a str,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children().filter(move |c| {
        c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == local
    })
}

/// The only child element of `n` named `local` in `ns`: `None` if there is none, an error if
/// there are several.
pub fn only_child<'a, 'i>(
    n: Node<'a, 'i>,
    ns: &'a str,
    local: &'a str,
) -> Result<Option<Node<'a, 'i>>, SamlError> {
    let mut found = children(n, ns, local);
    let first = found.next();
    if found.next().is_some() {
        return Err(SamlError::Invalid(format!("more than one {local} element")));
    }
    Ok(first)
}

/// The whole text of element `n`: its text children joined (a strict document has no comment to
/// split it; an element child is refused).
pub fn text_of(n: Node<'_, '_>) -> Result<String, SamlError> {
    let mut out = String::new();
    for c in n.children() {
        match c.node_type() {
            NodeType::Text => out.push_str(c.text().unwrap_or_default()),
            _ => {
                return Err(SamlError::Invalid(format!(
                    "{} holds more than text",
                    n.tag_name().name()
                )));
            }
        }
    }
    Ok(out.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtds_entities_comments_and_oversize_are_refused() {
        assert_eq!(
            parse_strict("<!DOCTYPE r [<!ENTITY e \"x\">]><r>&e;</r>").err(),
            Some(SamlError::Dtd)
        );
        assert_eq!(parse_strict("<!doctype r><r/>").err(), Some(SamlError::Dtd));
        assert_eq!(
            parse_strict("<r>a<!-- -->b</r>").err(),
            Some(SamlError::Comment)
        );
        assert_eq!(
            parse_strict("<?xml-stylesheet href=\"x\"?><r/>").err(),
            Some(SamlError::Comment)
        );
        let big = format!("<r>{}</r>", "x".repeat(MAX_XML_BYTES));
        assert_eq!(parse_strict(&big).err(), Some(SamlError::TooLarge));
        assert!(matches!(parse_strict("<r>"), Err(SamlError::Malformed(_))));
        assert!(parse_strict("<?xml version=\"1.0\"?><r a=\"1\">t</r>").is_ok());
    }

    #[test]
    fn text_is_whole_or_refused() {
        let d = parse_strict("<r><n> ada@example.com </n><m>a<b/>c</m></r>")
            .unwrap_or_else(|e| panic!("{e}"));
        let root = d.root_element();
        let n = root.first_element_child().unwrap_or(root);
        assert_eq!(text_of(n).ok().as_deref(), Some("ada@example.com"));
        let m = root.last_element_child().unwrap_or(root);
        assert!(text_of(m).is_err());
    }

    #[test]
    fn base64_with_line_breaks() {
        assert_eq!(decode_base64("PHIv\r\nPg==").ok().as_deref(), Some("<r/>"));
        assert_eq!(decode_base64("***").err(), Some(SamlError::Base64));
    }
}
