//! The console's pages and assets. Pages are askama templates compiled into the binary; each
//! page is a struct of plain, already formatted values (the server builds them from the domain's
//! records), so the templates hold no logic beyond loops and conditions. Assets (htmx, the
//! stylesheet, a small script) are embedded and served under a content hash, so they can be
//! cached for a year.

pub mod assets;
pub mod pages;
mod qr;

pub use qr::qr_svg;

pub use askama::Template;
