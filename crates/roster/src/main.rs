//! The `roster` command: serve, migrate, and the operator's scripting commands.

mod config;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use config::{Config, Overrides};
use roster_core::{PublicUrls, Roster, Store, SystemClock};
use std::path::PathBuf;
use std::sync::Arc;

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the IAM API (and, later, SCIM and the console). Migrates, and on an empty store makes
    /// an account, its owner and the owner's token, printed once.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Personal tokens, for scripts.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Users, for scripts.
    #[command(subcommand)]
    User(UserCommand),
    /// Print the effective configuration (secrets redacted) as TOML.
    PrintConfig,
}

#[derive(Args, Debug, Default)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Base URL for rendered links such as `scim_url` [default: http://<listen>].
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Email of the account owner made on first start.
    #[arg(long, value_name = "EMAIL")]
    owner_email: Option<String>,
    /// Log format: text or json.
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Make a personal token for the user with EMAIL; prints only the key.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "CLI token")]
        name: String,
        /// Days until it expires.
        #[arg(long, default_value_t = 90)]
        days: i64,
        /// Account id [default: the first account].
        #[arg(long)]
        account: Option<i64>,
    },
    /// Revoke a token by uuid, at once.
    Revoke { uuid: uuid::Uuid },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// List the users of an account.
    List {
        #[arg(long)]
        account: Option<i64>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let serve = match &cli.command {
        Command::Serve(a) => Some(a),
        _ => None,
    };
    let overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        listen: serve.and_then(|a| a.listen),
        public_url: serve.and_then(|a| a.public_url.clone()),
        owner_email: serve.and_then(|a| a.owner_email.clone()),
        log_format: serve.and_then(|a| a.log_format.clone()),
    };
    let cfg = Config::load(cli.config.as_deref(), &overrides)?;
    init_logging(&cfg);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli.command, cfg))
}

fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
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

fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn write_secret_file(path: &std::path::Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    writeln!(f, "{content}")?;
    Ok(())
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
            open_store(&cfg).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Serve(_) => serve(cfg).await,
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
                    eprintln!("revoked token {} ({})", t.uuid, t.name);
                }
            }
            Ok(())
        }
        Command::User(UserCommand::List { account }) => {
            let roster = roster(&cfg).await?;
            let users = roster.operator_users(account).await?;
            println!(
                "{:>8}  {:<40} {:<30} {:<6} {:<5}",
                "ID", "EMAIL", "NAME", "ACTIVE", "OWNER"
            );
            for u in users {
                println!(
                    "{:>8}  {:<40} {:<30} {:<6} {:<5}",
                    u.id,
                    u.email,
                    format!("{} {}", u.first_name, u.last_name),
                    if u.is_active { "yes" } else { "no" },
                    if u.is_account_owner { "yes" } else { "no" }
                );
            }
            Ok(())
        }
    }
}

async fn roster(cfg: &Config) -> anyhow::Result<Roster> {
    let store = open_store(cfg).await?;
    Ok(Roster::new(
        store,
        Arc::new(SystemClock),
        PublicUrls::from_base(&cfg.public_url()),
    ))
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    let roster = roster(&cfg).await?;
    if let Some(b) = roster.bootstrap(&cfg.owner_email).await? {
        let key = b.key.0.expose();
        match &cfg.bootstrap_token_file {
            Some(path) => {
                write_secret_file(path, key)?;
                println!(
                    "Roster: first start. Made the account owner {} and wrote their personal token to {} (mode 0600).",
                    b.owner.email,
                    path.display()
                );
            }
            None => {
                let base = cfg.public_url();
                println!(
                    "Roster: first start. Made the account owner {email}.\n\
                     \n\
                     Their personal token is shown this once; Roster keeps only its hash. Store it now:\n\
                     \n    {key}\n\n\
                     Use it like this:\n\
                     \n    curl -H 'Authorization: Token {key}' {base}/iam/identity_providers\n\n\
                     Expires {exp}. Make more with `roster token create --email {email}` or POST /iam/personal_tokens.\n",
                    email = b.owner.email,
                    exp = b.token.expires_at.to_rfc3339(),
                );
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = roster.store().backend(), public_url = %cfg.public_url(), "Roster is serving");
    let server_cfg = roster_server::ServerConfig {
        body_limit: cfg.body_limit,
        request_timeout: std::time::Duration::from_secs(cfg.request_timeout_secs),
    };
    roster_server::serve(listener, roster, server_cfg, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
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
