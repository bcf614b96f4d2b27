//! The `roster` command: serve, migrate, and the operator's scripting commands.

mod accounts;
mod config;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use config::{Config, Overrides};
use roster_core::{PublicUrls, Roster, Store, SystemClock};
use std::path::PathBuf;
use std::sync::Arc;

/// mimalloc rather than the system allocator: the request path allocates small, short-lived
/// values on every thread, and glibc's arenas showed as a fifth of a filtered GET's profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "roster",
    version,
    about = "Roster: an identity directory identity providers provision over SCIM 2.0"
)]
struct Cli {
    /// TOML configuration file (keys as in `roster print-config`).
    #[arg(long, global = true, env = "ROSTER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the embedded SQLite database [default: ./roster-data].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// `sqlite://PATH` or `postgres://USER@HOST/DB` [default: sqlite in the data dir].
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// Address `serve` listens on [default: 127.0.0.1:8080].
    #[arg(long, global = true, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Base URL for rendered links such as `scim_url` [default: http://<listen>].
    #[arg(long, global = true, value_name = "URL")]
    public_url: Option<String>,
    /// Email of the account owner made on first start.
    #[arg(long, global = true, value_name = "EMAIL")]
    owner_email: Option<String>,
    /// Log format: text or json.
    #[arg(long, global = true, value_name = "FORMAT")]
    log_format: Option<String>,
    /// A proxy whose X-Forwarded-For / X-Forwarded-Proto are believed (an address or a CIDR
    /// range); repeat for several.
    #[arg(long = "trusted-proxy", global = true, value_name = "CIDR")]
    trusted_proxy: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the IAM API (and, later, SCIM and the console). Migrates, and on an empty store makes
    /// an account, its owner and the owner's token, printed once.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Personal tokens, for scripts.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Users, for scripts.
    #[command(subcommand)]
    User(UserCommand),
    /// Accounts, for the instance operator: create, list, disable, enable, delete.
    #[command(subcommand)]
    Account(accounts::AccountCommand),
    /// The instance operator's tokens: create, list, revoke.
    #[command(subcommand)]
    OperatorToken(accounts::OperatorTokenCommand),
    /// Print the effective configuration (secrets redacted) as TOML.
    PrintConfig,
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Make a personal token for the user with EMAIL; prints only the key.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "CLI token")]
        name: String,
        /// Days until it expires (at most 3650).
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i64).range(1..=3650))]
        days: i64,
        /// Account id [default: the first account].
        #[arg(long)]
        account: Option<roster_core::model::AccountId>,
    },
    /// Revoke a token by uuid (a running server refuses it within a second).
    Revoke { uuid: uuid::Uuid },
    /// List the tokens of the account, or of the user with EMAIL (never their keys).
    List {
        #[arg(long)]
        email: Option<String>,
        /// Account id [default: the first account].
        #[arg(long)]
        account: Option<roster_core::model::AccountId>,
    },
    /// Revoke every token of the user with EMAIL (refused within a second).
    RevokeAll {
        #[arg(long)]
        email: String,
        /// Account id [default: the first account].
        #[arg(long)]
        account: Option<roster_core::model::AccountId>,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// List the users of an account.
    List {
        #[arg(long)]
        account: Option<roster_core::model::AccountId>,
    },
    /// Set the console password of the user with EMAIL, read from standard input (one line;
    /// at least 12 characters). The user's console sessions end.
    SetPassword {
        #[arg(long)]
        email: String,
        /// Account id [default: the first account].
        #[arg(long)]
        account: Option<roster_core::model::AccountId>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        listen: cli.listen,
        public_url: cli.public_url.clone(),
        owner_email: cli.owner_email.clone(),
        log_format: cli.log_format.clone(),
        trusted_proxies: (!cli.trusted_proxy.is_empty()).then(|| cli.trusted_proxy.clone()),
    };
    let cfg = Config::load(cli.config.as_deref(), &overrides)?;
    // Scripting commands print what they are asked for; their logs stay quiet unless asked.
    init_logging(&cfg, matches!(cli.command, Command::Serve));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli.command, cfg))
}

fn init_logging(cfg: &Config, serving: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let level = if serving || cfg.log_level != "info" {
        cfg.log_level.as_str()
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if cfg.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Open the store the URL names, once; nothing else asks which backend it is.
async fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = cfg.database_url();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let s = roster_store_postgres::PgStore::open(&url)
            .await
            .with_context(|| format!("connecting to {}", config::redact_url(&url)))?;
        s.migrate().await?;
        Ok(Arc::new(s))
    } else if url.starts_with("sqlite:") {
        if cfg.database_url.is_none() {
            create_private_dir(&cfg.data_dir)?;
        }
        let s = roster_store_sqlite::SqliteStore::open(&url)
            .await
            .with_context(|| format!("opening {url}"))?;
        s.migrate().await?;
        Ok(Arc::new(s))
    } else {
        bail!(
            "unsupported database URL {:?}: use sqlite://PATH or postgres://…",
            config::redact_url(&url)
        )
    }
}

/// Create the data directory, or narrow an existing one, to mode 0700: it holds the database and
/// the secret key.
fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making data directory {} private", dir.display()))?;
    }
    Ok(())
}

/// The key that seals stored secrets: from the configuration, else from its file, made (mode
/// 0600, in a private data directory) on first start.
fn secret_key(cfg: &Config) -> anyhow::Result<roster_core::SecretKey> {
    if let Some(k) = &cfg.secret_key {
        return roster_core::SecretKey::from_hex(k).context("secret_key");
    }
    let path = cfg.secret_key_file();
    if path.exists() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("making {} private", path.display()))?;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the secret key {}", path.display()))?;
        return roster_core::SecretKey::from_hex(&text)
            .with_context(|| format!("the secret key in {}", path.display()));
    }
    if cfg.secret_key_file.is_none() {
        create_private_dir(&cfg.data_dir)?;
    }
    let key = roster_core::SecretKey::generate()?;
    let mut f = open_secret_file(&path, "the secret key file")?;
    use std::io::Write;
    writeln!(f, "{}", key.to_hex().expose())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing the secret key {}", path.display()))?;
    tracing::info!(path = %path.display(), "made the key that seals stored secrets; back it up with the database");
    Ok(key)
}

/// Open (create or truncate) a file only its owner can read.
pub(crate) fn open_secret_file(
    path: &std::path::Path,
    what: &str,
) -> anyhow::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let f = opts
        .open(path)
        .with_context(|| format!("opening {what} {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

async fn run(cmd: Command, cfg: Config) -> anyhow::Result<()> {
    match cmd {
        Command::PrintConfig => {
            let mut shown = cfg.clone();
            shown.database_url = Some(config::redact_url(&cfg.database_url()));
            shown.public_url = Some(cfg.public_url());
            print!("{}", toml::to_string(&shown)?);
            Ok(())
        }
        Command::Migrate => {
            let roster = roster(&cfg).await?;
            roster.seal_stored_secrets().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Serve => serve(cfg).await,
        Command::Account(a) => accounts::run(&roster(&cfg).await?, a).await,
        Command::OperatorToken(t) => accounts::run_operator_token(&roster(&cfg).await?, t).await,
        Command::Token(t) => {
            let roster = roster(&cfg).await?;
            match t {
                TokenCommand::Create {
                    email,
                    name,
                    days,
                    account,
                } => {
                    let (_, key) = roster.issue_token(account, &email, &name, days).await?;
                    println!("{}", key.0.expose());
                }
                TokenCommand::Revoke { uuid } => {
                    let t = roster.revoke_token(uuid).await?;
                    eprintln!("revoked token {} ({})", t.uuid, printable(&t.name));
                }
                TokenCommand::List { email, account } => {
                    let tokens = roster
                        .operator_tokens(account, email.as_deref())
                        .await
                        .map_err(no_account)?;
                    println!(
                        "{:<36}  {:<32} {:<24} {:<9} {:<20} {:<20}",
                        "UUID", "USER", "NAME", "PREFIX", "EXPIRES", "LAST USED"
                    );
                    let day =
                        |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
                    for (t, user) in tokens {
                        println!(
                            "{:<36}  {:<32} {:<24} {:<9} {:<20} {:<20}",
                            t.uuid,
                            printable(&user),
                            printable(&t.name),
                            t.key_prefix,
                            day(&t.expires_at),
                            t.last_used_at
                                .as_ref()
                                .map(day)
                                .unwrap_or_else(|| "never".into())
                        );
                    }
                }
                TokenCommand::RevokeAll { email, account } => {
                    let n = roster
                        .operator_revoke_all(account, &email)
                        .await
                        .map_err(no_account)?;
                    eprintln!("revoked {n} token(s) of {}", printable(&email));
                }
            }
            Ok(())
        }
        Command::User(UserCommand::SetPassword { email, account }) => {
            let password = read_password()?;
            let roster = roster(&cfg).await?;
            let user = roster
                .set_password(account, &email, &password)
                .await
                .map_err(no_account)?;
            eprintln!(
                "set the console password of {} (account {})",
                printable(&user.email),
                user.account_id
            );
            Ok(())
        }
        Command::User(UserCommand::List { account }) => {
            let roster = roster(&cfg).await?;
            let users = roster.operator_users(account).await.map_err(no_account)?;
            println!(
                "{:>8}  {:<40} {:<30} {:<6} {:<5}",
                "ID", "EMAIL", "NAME", "ACTIVE", "OWNER"
            );
            for u in users {
                println!(
                    "{:>8}  {:<40} {:<30} {:<6} {:<5}",
                    u.id,
                    printable(&u.email),
                    printable(&format!("{} {}", u.first_name, u.last_name)),
                    if u.is_active { "yes" } else { "no" },
                    if u.is_account_owner { "yes" } else { "no" }
                );
            }
            Ok(())
        }
    }
}

/// One line of standard input (without its line ending), as a secret.
fn read_password() -> anyhow::Result<roster_core::Secret> {
    use std::io::{BufRead, Read};
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!("Password (it is shown as you type; pipe it in to avoid that):");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(4096)
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    Ok(roster_core::Secret::new(password))
}

/// "No account yet" says what to do; other errors pass through.
fn no_account(e: roster_core::CoreError) -> anyhow::Error {
    match e {
        roster_core::CoreError::NotFound("Account") => {
            anyhow::anyhow!("No account yet: run `roster serve` once to create it and its owner.")
        }
        other => other.into(),
    }
}

/// Text as a terminal should show it: control characters (ESC, CR, LF, DEL, C1) and bidirectional
/// overrides are escaped (`\u{1b}`), so stored data cannot move the cursor, recolour the screen or
/// reorder what is printed.
pub(crate) fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || roster_core::validate::is_bidi_control(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

async fn roster(cfg: &Config) -> anyhow::Result<Roster> {
    let store = open_store(cfg).await?;
    Ok(Roster::new(
        store,
        Arc::new(SystemClock),
        PublicUrls::from_base(&cfg.public_url()),
        secret_key(cfg)?,
    ))
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    let roster = roster(&cfg).await?;
    // The port first: a first start that cannot serve must not print a token nobody can use.
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    // Opened before the owner exists, so a bad path fails before anything is made.
    let mut token_file = match &cfg.bootstrap_token_file {
        Some(path) if roster.needs_bootstrap().await? => {
            Some(open_secret_file(path, "the bootstrap token file")?)
        }
        _ => None,
    };
    let operator_file = accounts::operator_token_file(&roster, &cfg).await?;
    if let Some(b) = roster.bootstrap(&cfg.owner_email).await? {
        let key = b.key.0.expose();
        match (&cfg.bootstrap_token_file, token_file.as_mut()) {
            (Some(path), Some(f)) => {
                use std::io::Write;
                writeln!(f, "{key}").and_then(|()| f.sync_all()).with_context(|| {
                    format!(
                        "writing the owner's token to {}: make another with `roster token create --email {}`",
                        path.display(),
                        b.owner.email
                    )
                })?;
                println!(
                    "Roster: first start. Made the account owner {} and wrote their personal token to {} (mode 0600).\n\
                     \n\
                     Open this link within 24 hours to choose the owner's console password:\n\
                     \n    {}\n",
                    b.owner.email,
                    path.display(),
                    roster.urls().password_link_url(b.password_link.0.expose()),
                );
            }
            _ => {
                let base = cfg.public_url();
                println!(
                    "Roster: first start. Made the account owner {email}.\n\
                     \n\
                     Their personal token is shown this once; Roster keeps only its hash. Store it now:\n\
                     \n    {key}\n\n\
                     Use it like this:\n\
                     \n    curl -H 'Authorization: Token {key}' {base}/iam/identity_providers\n\n\
                     Expires {exp}. Make more with `roster token create --email {email}` or POST /iam/personal_tokens.\n\
                     \n\
                     To sign in to the console at {base}/console, open this link within 24 hours and choose a password:\n\
                     \n    {link}\n",
                    email = b.owner.email,
                    exp = b.token.expires_at.to_rfc3339(),
                    link = roster.urls().password_link_url(b.password_link.0.expose()),
                );
            }
        }
    }
    accounts::bootstrap_operator(&roster, &cfg, operator_file).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = roster.store().backend(), public_url = %cfg.public_url(), "Roster is serving");
    roster.seal_stored_secrets().await?;
    accounts::spawn_purging(roster.clone());
    spawn_log_pruning(
        roster.clone(),
        roster_core::service::LogRetention {
            days: cfg.provisioning_log_retention_days,
            max_entries_per_idp: cfg.provisioning_log_max_entries,
        },
    );
    let secs = std::time::Duration::from_secs;
    let server_cfg = roster_server::ServerConfig {
        body_limit: cfg.body_limit,
        request_timeout: secs(cfg.request_timeout_secs),
        body_read_timeout: secs(cfg.body_read_timeout_secs),
        scim_rate_limit: cfg.scim_rate_limit,
        scim_unauthenticated_rate_limit: cfg.scim_unauthenticated_rate_limit,
        trusted_proxies: cfg.trusted_proxy_nets(),
        connections: roster_server::listen::ConnectionLimits {
            max_connections: cfg.max_connections,
            header_read_timeout: secs(cfg.header_read_timeout_secs),
        },
    };
    roster_server::serve(listener, roster, server_cfg, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Apply the provisioning log's retention, and forget ended console sessions and password links,
/// now and every ten minutes, in the background.
fn spawn_log_pruning(roster: Roster, retention: roster_core::service::LogRetention) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            every.tick().await;
            if let Err(e) = roster.prune_provisioning_log(&retention).await {
                tracing::warn!(error = %e, "pruning the provisioning log failed; trying again later");
            }
            if let Err(e) = roster.prune_console().await {
                tracing::warn!(error = %e, "forgetting ended console sessions failed; trying again later");
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod printable_tests {
    #[test]
    fn control_and_bidi_characters_are_escaped() {
        assert_eq!(super::printable("plain é"), "plain é");
        assert_eq!(super::printable("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(super::printable("x\r\ny"), "x\\u{d}\\u{a}y");
        assert_eq!(super::printable("evil\u{202e}gnp"), "evil\\u{202e}gnp");
        assert!(
            !super::printable("\u{7f}\u{0}")
                .chars()
                .any(char::is_control)
        );
    }
}
