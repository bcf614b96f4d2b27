//! QR codes as inline SVG (for an authenticator app to scan a TOTP secret).

use qrcode::QrCode;
use qrcode::render::svg;

/// `text` as an SVG QR code to put inside a page (no XML prolog), labelled `label` for screen
/// readers. `None` if the text is too long for a QR code.
pub fn qr_svg(text: &str, label: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    let start = svg.find("<svg")?;
    let label = label
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    Some(format!(
        "<svg role=\"img\" aria-label=\"{label}\"{}",
        &svg[start + "<svg".len()..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_svg_without_prolog_with_its_label() {
        let svg = qr_svg(
            "otpauth://totp/Roster:ada%40example.com?secret=ABC",
            "QR \"code\"",
        )
        .unwrap_or_default();
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"QR &quot;code&quot;\" xmlns="));
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
    }
}
