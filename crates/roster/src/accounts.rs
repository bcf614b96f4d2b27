//! `roster account …`: the instance operator's commands (whoever runs them owns the database,
//! so they need no token), and the operator token made on first start.

use crate::config::Config;
use crate::printable;
use anyhow::Context;
use clap::Subcommand;
use roster_core::Roster;
use roster_core::model::AccountId;
use roster_core::service::{ListRequest, NewAccountInput, Operator, OperatorAccountPatch};

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Make an account and its owner; prints the owner's personal token once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
    },
    /// List every account.
    List,
    /// Disable an account: its tokens and SCIM endpoints are refused (by running servers within
    /// a second).
    Disable {
        #[arg(long)]
        id: AccountId,
    },
    /// Enable a disabled account again.
    Enable {
        #[arg(long)]
        id: AccountId,
    },
    /// Delete an account: disabled at once, then every row it owns removed in short batches.
    /// Refused while it has an active identity provider, unless --force.
    Delete {
        #[arg(long)]
        id: AccountId,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum OperatorTokenCommand {
    /// Make another operator token (to rotate one, or after the last one expired); prints only
    /// the key.
    Create {
        #[arg(long, default_value = "CLI operator token")]
        name: String,
        /// Days until it expires (at most 3650).
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(i64).range(1..=3650))]
        days: i64,
    },
    /// List the operator tokens (never their keys).
    List,
    /// Revoke an operator token by uuid (refused at once).
    Revoke { uuid: uuid::Uuid },
}

pub async fn run_operator_token(roster: &Roster, cmd: OperatorTokenCommand) -> anyhow::Result<()> {
    let op = Operator::local();
    match cmd {
        OperatorTokenCommand::Create { name, days } => {
            let made = roster.create_operator_token(&op, &name, days).await?;
            println!("{}", made.key.0.expose());
        }
        OperatorTokenCommand::List => {
            println!(
                "{:<36}  {:<32} {:<9} {:<20}",
                "UUID", "NAME", "PREFIX", "EXPIRES"
            );
            for t in roster.list_operator_tokens(&op).await? {
                println!(
                    "{:<36}  {:<32} {:<9} {:<20}",
                    t.uuid,
                    printable(&t.name),
                    t.key_prefix,
                    t.expires_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
        OperatorTokenCommand::Revoke { uuid } => {
            roster.revoke_operator_token(&op, uuid).await?;
            eprintln!("revoked operator token {uuid}");
        }
    }
    Ok(())
}

pub async fn run(roster: &Roster, cmd: AccountCommand) -> anyhow::Result<()> {
    let op = Operator::local();
    match cmd {
        AccountCommand::Create { name, owner_email } => {
            let c = roster
                .create_account(
                    &op,
                    &NewAccountInput {
                        name: Some(name),
                        owner_email: Some(owner_email),
                    },
                )
                .await?;
            eprintln!(
                "made account {} ({}) and its owner {}; their personal token, shown this once:",
                c.account.id,
                printable(&c.account.name),
                printable(&c.owner.email)
            );
            println!("{}", c.key.0.expose());
        }
        AccountCommand::List => {
            println!(
                "{:>8}  {:<40} {:<9} {:<20}",
                "ID", "NAME", "STATE", "CREATED"
            );
            let mut page = 1;
            loop {
                let listed = roster
                    .list_accounts(
                        &op,
                        &ListRequest {
                            page: Some(page.to_string()),
                            page_size: Some("1000".into()),
                            ..ListRequest::default()
                        },
                    )
                    .await?;
                for a in &listed.items {
                    println!(
                        "{:>8}  {:<40} {:<9} {:<20}",
                        a.id,
                        printable(&a.name),
                        a.state(),
                        a.created.format("%Y-%m-%d %H:%M")
                    );
                }
                if page >= listed.total_pages() {
                    break;
                }
                page += 1;
            }
        }
        AccountCommand::Disable { id } | AccountCommand::Enable { id } => {
            let active = matches!(cmd, AccountCommand::Enable { .. });
            let patch = OperatorAccountPatch {
                name: None,
                is_active: Some(active),
            };
            let a = roster.patch_account(&op, id, &patch).await?;
            eprintln!("account {} ({}) is {}", a.id, printable(&a.name), a.state());
        }
        AccountCommand::Delete { id, force } => {
            let a = roster.delete_account(&op, id, force).await?;
            eprintln!(
                "account {} ({}) is disabled; removing its rows",
                a.id,
                printable(&a.name)
            );
            let bar = indicatif::ProgressBar::new_spinner().with_style(
                indicatif::ProgressStyle::with_template("{spinner} {pos} rows removed")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            let mut total = 0u64;
            loop {
                let n = roster.purge_account_batch(id).await?;
                if n == 0 {
                    break;
                }
                total += n;
                bar.set_position(total);
                bar.tick();
            }
            bar.finish_and_clear();
            eprintln!("account {id} deleted ({total} rows removed)");
        }
    }
    Ok(())
}

/// The file the first operator token goes to, opened (so a bad path fails before anything is
/// made) when one will be made.
pub async fn operator_token_file(
    roster: &Roster,
    cfg: &Config,
) -> anyhow::Result<Option<std::fs::File>> {
    match &cfg.bootstrap_operator_token_file {
        Some(path) if roster.needs_operator_bootstrap().await? => Ok(Some(
            crate::open_secret_file(path, "the bootstrap operator token file")?,
        )),
        _ => Ok(None),
    }
}

/// Make the first operator token when there is none, and show it once (or write it to its file).
pub async fn bootstrap_operator(
    roster: &Roster,
    cfg: &Config,
    file: Option<std::fs::File>,
) -> anyhow::Result<()> {
    let Some(made) = roster.bootstrap_operator().await? else {
        return Ok(());
    };
    let key = made.key.0.expose();
    match (&cfg.bootstrap_operator_token_file, file) {
        (Some(path), Some(mut f)) => {
            use std::io::Write;
            writeln!(f, "{key}")
                .and_then(|()| f.sync_all())
                .with_context(|| format!("writing the operator token to {}", path.display()))?;
            println!(
                "Roster: made the instance operator's token and wrote it to {} (mode 0600).",
                path.display()
            );
        }
        _ => println!(
            "The instance operator's token manages accounts (and nothing inside one). It is shown \
             this once; Roster keeps only its hash:\n\
             \n    {key}\n\n\
             Use it like this:\n\
             \n    curl -H 'Authorization: Token {key}' {base}/operator/accounts\n\n\
             Expires {exp}. Without it, `roster account …` does the same on this machine.\n",
            base = cfg.public_url(),
            exp = made.token.expires_at.to_rfc3339(),
        ),
    }
    Ok(())
}

/// Remove the rows of deleted accounts now and every ten seconds, in the background (a deletion
/// asked for before a restart resumes).
pub fn spawn_purging(roster: Roster) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            every.tick().await;
            if let Err(e) = roster.purge_deleted_accounts().await {
                tracing::warn!(error = %e, "removing a deleted account's rows failed; trying again later");
            }
        }
    });
}
