//! Configuration, layered: compiled defaults < TOML file < `ROSTER_*` environment < flags.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Every setting, with its default. Keys are the same in the TOML file (`listen = "…"`), the
/// environment (`ROSTER_LISTEN`) and the flags (`--listen`).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded SQLite database lives (created if missing).
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `sqlite://…` (default: `sqlite://<data_dir>/roster.sqlite3`) or `postgres://…`.
    pub database_url: Option<String>,
    /// Base for rendered URLs (`scim_url`, `login_url`, `next`). Default: `http://<listen>`.
    pub public_url: Option<String>,
    /// Email of the account owner made on first start.
    pub owner_email: String,
    /// On first start, write the owner's token to this file (mode 0600) instead of printing it.
    pub bootstrap_token_file: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: String,
    /// A tracing filter (`info`, `roster_server=debug,info`, …). `RUST_LOG` wins when set.
    pub log_level: String,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Seconds a request may take.
    pub request_timeout_secs: u64,
    /// SCIM requests per second per identity provider before 429 (bursts of twice that); 0 = off.
    pub scim_rate_limit: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("roster-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            public_url: None,
            owner_email: "owner@roster.localhost".into(),
            bootstrap_token_file: None,
            log_format: "text".into(),
            log_level: "info".into(),
            body_limit: 1024 * 1024,
            request_timeout_secs: 30,
            scim_rate_limit: 200,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("public_url", &self.public_url)
            .field("owner_email", &self.owner_email)
            .field("bootstrap_token_file", &self.bootstrap_token_file)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("body_limit", &self.body_limit)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("scim_rate_limit", &self.scim_rate_limit)
            .finish()
    }
}

/// `postgres://user:secret@host/db?password=x` → `postgres://user:***@host/db?password=***`.
pub fn redact_url(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return url.to_string();
    };
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("password"))
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(
                k,
                if k.eq_ignore_ascii_case("password") {
                    "***"
                } else {
                    v
                },
            );
        }
    }
    u.to_string()
}

/// Flag values; `None` leaves the lower layers' value.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
}

const ENV_KEYS: &[&str] = &[
    "data_dir",
    "listen",
    "database_url",
    "public_url",
    "owner_email",
    "bootstrap_token_file",
    "log_format",
    "log_level",
    "body_limit",
    "request_timeout_secs",
    "scim_rate_limit",
];

impl Config {
    pub fn load(file: Option<&Path>, flags: &Overrides) -> anyhow::Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                anyhow::bail!("configuration file {} does not exist", f.display());
            }
            fig = fig.merge(Toml::file(f));
        }
        fig = fig
            .merge(Env::prefixed("ROSTER_").only(ENV_KEYS))
            .merge(Serialized::defaults(flags));
        let mut cfg: Config = fig
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        // An empty value (`ROSTER_DATABASE_URL=`) means "not set".
        for v in [&mut cfg.database_url, &mut cfg.public_url] {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *v = None;
            }
        }
        if cfg
            .bootstrap_token_file
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            cfg.bootstrap_token_file = None;
        }
        if let Some(p) = &cfg.public_url {
            match url::Url::parse(p) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                _ => anyhow::bail!(
                    "configuration: public_url must be an absolute http(s) URL, not {p:?}"
                ),
            }
        }
        if cfg.log_format != "text" && cfg.log_format != "json" {
            anyhow::bail!(
                "configuration: log_format must be \"text\" or \"json\", not {:?}",
                cfg.log_format
            );
        }
        Ok(cfg)
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.data_dir.join("roster.sqlite3").display()
            )
        })
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}
