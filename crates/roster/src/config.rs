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
    /// On first start, write the operator's token to this file (mode 0600) instead of printing it.
    pub bootstrap_operator_token_file: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: String,
    /// A tracing filter (`info`, `roster_server=debug,info`, …). `RUST_LOG` wins when set.
    pub log_level: String,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Seconds a request may take.
    pub request_timeout_secs: u64,
    /// Seconds a client may take to send a request body once its headers are in.
    pub body_read_timeout_secs: u64,
    /// Seconds a connection may take to send a request's headers; also how long an idle
    /// keep-alive connection is kept.
    pub header_read_timeout_secs: u64,
    /// Connections served at once; past it new connections wait to be accepted.
    pub max_connections: usize,
    /// SCIM requests per second one token may make on one identity provider (bursts of twice
    /// that) before 429; 0 = off.
    pub scim_rate_limit: u32,
    /// SCIM requests per second failing authentication one client address may make (bursts of
    /// twice that) before it is refused with 429 until the wait is over; 0 = off.
    pub scim_unauthenticated_rate_limit: u32,
    /// Proxies (CIDR, e.g. `10.0.0.0/8` or `127.0.0.1/32`) whose `X-Forwarded-For` and
    /// `X-Forwarded-Proto` are believed. Empty: the socket's address is the client's.
    pub trusted_proxies: Vec<String>,
    /// Provisioning log entries older than this many days are deleted (0 = kept).
    pub provisioning_log_retention_days: u32,
    /// Each identity provider keeps at most its newest this many log entries (0 = no bound).
    pub provisioning_log_max_entries: u64,
    /// The key (64 hex characters) that seals stored secrets such as OIDC client secrets. Unset:
    /// read from `secret_key_file`.
    pub secret_key: Option<String>,
    /// Where the secret key is kept (created, mode 0600, on first start) when `secret_key` is
    /// unset. Default: `<data_dir>/secret.key`. Several servers on one PostgreSQL need the same key.
    pub secret_key_file: Option<PathBuf>,
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
            bootstrap_operator_token_file: None,
            log_format: "text".into(),
            log_level: "info".into(),
            body_limit: 1024 * 1024,
            request_timeout_secs: 30,
            body_read_timeout_secs: 15,
            header_read_timeout_secs: 10,
            max_connections: 1024,
            scim_rate_limit: 200,
            scim_unauthenticated_rate_limit: 10,
            trusted_proxies: Vec::new(),
            provisioning_log_retention_days: 90,
            provisioning_log_max_entries: 1_000_000,
            secret_key: None,
            secret_key_file: None,
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
            .field(
                "bootstrap_operator_token_file",
                &self.bootstrap_operator_token_file,
            )
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("body_limit", &self.body_limit)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("body_read_timeout_secs", &self.body_read_timeout_secs)
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("max_connections", &self.max_connections)
            .field("scim_rate_limit", &self.scim_rate_limit)
            .field(
                "scim_unauthenticated_rate_limit",
                &self.scim_unauthenticated_rate_limit,
            )
            .field("trusted_proxies", &self.trusted_proxies)
            .field(
                "provisioning_log_retention_days",
                &self.provisioning_log_retention_days,
            )
            .field(
                "provisioning_log_max_entries",
                &self.provisioning_log_max_entries,
            )
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("secret_key_file", &self.secret_key_file)
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_proxies: Option<Vec<String>>,
}

const ENV_KEYS: &[&str] = &[
    "data_dir",
    "listen",
    "database_url",
    "public_url",
    "owner_email",
    "bootstrap_token_file",
    "bootstrap_operator_token_file",
    "log_format",
    "log_level",
    "body_limit",
    "request_timeout_secs",
    "body_read_timeout_secs",
    "header_read_timeout_secs",
    "max_connections",
    "scim_rate_limit",
    "scim_unauthenticated_rate_limit",
    "trusted_proxies",
    "provisioning_log_retention_days",
    "provisioning_log_max_entries",
    "secret_key",
    "secret_key_file",
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
        for file in [
            &mut cfg.bootstrap_token_file,
            &mut cfg.bootstrap_operator_token_file,
        ] {
            if file.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                *file = None;
            }
        }
        if let Some(p) = &cfg.public_url {
            match url::Url::parse(p) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                _ => anyhow::bail!(
                    "configuration: public_url must be an absolute http(s) URL, not {p:?}"
                ),
            }
        }
        for v in [&mut cfg.secret_key] {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *v = None;
            }
        }
        if let Some(k) = &cfg.secret_key
            && roster_core::SecretKey::from_hex(k).is_err()
        {
            anyhow::bail!("configuration: secret_key must be 64 hexadecimal characters");
        }
        for p in &cfg.trusted_proxies {
            if p.parse::<ipnet::IpNet>().is_err() && p.parse::<std::net::IpAddr>().is_err() {
                anyhow::bail!(
                    "configuration: trusted_proxies entry {p:?} is not an address or a CIDR range (e.g. 10.0.0.0/8)"
                );
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

    /// The trusted proxies as networks (a bare address is a /32 or /128).
    pub fn trusted_proxy_nets(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| {
                p.parse::<ipnet::IpNet>()
                    .ok()
                    .or_else(|| p.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
            })
            .collect()
    }

    pub fn secret_key_file(&self) -> PathBuf {
        self.secret_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secret.key"))
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}
