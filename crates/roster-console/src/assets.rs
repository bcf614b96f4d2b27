//! Embedded assets, each under a URL with its content hash (`/console/assets/<name>-<hash>.<ext>`).

use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// One embedded asset.
#[derive(Debug)]
pub struct Asset {
    /// `/console/assets/htmx-1a2b3c4d5e6f.js`
    pub url: String,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

fn asset(stem: &str, ext: &str, content_type: &'static str, body: &'static [u8]) -> Asset {
    let hash = hex::encode(&Sha256::digest(body)[..6]);
    Asset {
        url: format!("/console/assets/{stem}-{hash}.{ext}"),
        content_type,
        body,
    }
}

/// Every asset: htmx 2 (vendored from the npm package `htmx.org`), the stylesheet, the script.
pub static ASSETS: LazyLock<[Asset; 3]> = LazyLock::new(|| {
    [
        asset(
            "htmx",
            "js",
            "text/javascript; charset=utf-8",
            include_bytes!("../assets/htmx-2.0.11.min.js"),
        ),
        asset(
            "console",
            "css",
            "text/css; charset=utf-8",
            include_bytes!("../assets/console.css"),
        ),
        asset(
            "console",
            "js",
            "text/javascript; charset=utf-8",
            include_bytes!("../assets/console.js"),
        ),
    ]
});

/// The asset served at `path`, if any.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.url == path)
}

/// The URLs pages link to.
#[derive(Debug, Clone)]
pub struct AssetUrls {
    pub htmx: String,
    pub css: String,
    pub js: String,
}

impl AssetUrls {
    pub fn get() -> AssetUrls {
        let [htmx, css, js] = &*ASSETS;
        AssetUrls {
            htmx: htmx.url.clone(),
            css: css.url.clone(),
            js: js.url.clone(),
        }
    }
}
