//! `roster-bench`: Roster's benchmark suite.
//!
//! `roster-bench run` does everything in one run on one machine and writes `bench/REPORT.md`
//! (with `bench/results.json` and `bench/throughput.svg`): it starts a minimal hello-world axum
//! server (the ceiling of the machine and of the load tool), Roster on SQLite and Roster on
//! PostgreSQL (each over a generated directory of `--users` users), and the Python peer
//! `scim2-server` (in memory, at `--peer-users` users), and drives each with `wrk` at the same
//! connections and duration. Latency-bound workloads (group membership changes, an Entra-like
//! initial cycle, start-up, memory) are measured by this program itself.

mod console;
mod generate;
mod report;
mod workloads;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "roster-bench", about = "Roster's benchmark suite")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The ceiling: a minimal hello-world axum server.
    Hello {
        #[arg(long, default_value = "127.0.0.1:8099")]
        listen: std::net::SocketAddr,
    },
    /// Load a generated directory straight into a store (migrating it first).
    Load {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 1_000_000)]
        users: usize,
        /// Sizes of the groups to make (the largest takes the first users).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "100000,10000,1000,100,10"
        )]
        groups: Vec<usize>,
    },
    /// Run the whole suite and write the report.
    Run(RunArgs),
    /// Render `REPORT.md` again from a run's `results.json` and the current `NOTES.md` (the
    /// figures stay those of that one run; only the analysis text changes).
    Report {
        #[arg(long, default_value = "bench")]
        out: PathBuf,
    },
}

#[derive(clap::Args, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunArgs {
    /// The `roster` binary to benchmark.
    #[arg(long, default_value = "target/release/roster")]
    pub roster: PathBuf,
    /// Users in each Roster directory.
    #[arg(long, default_value_t = 1_000_000)]
    pub users: usize,
    /// Users in the peer's (in-memory) directory.
    #[arg(long, default_value_t = 5_000)]
    pub peer_users: usize,
    /// Size of the large group (one member is removed from it).
    #[arg(long, default_value_t = 100_000)]
    pub big_group: usize,
    /// `wrk` connections and threads, and seconds per workload.
    #[arg(long, default_value_t = 32)]
    pub connections: u32,
    #[arg(long, default_value_t = 2)]
    pub threads: u32,
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// Iterations of the latency workloads.
    #[arg(long, default_value_t = 30)]
    pub iterations: usize,
    /// Users in the Entra-like initial cycle.
    #[arg(long, default_value_t = 2000)]
    pub cycle_users: usize,
    /// PostgreSQL server URL (a database is made and dropped there); none skips PostgreSQL.
    /// Never written to results.json (it may hold a password).
    #[arg(long, env = "ROSTER_TEST_DATABASE_URL")]
    #[serde(skip)]
    pub postgres: Option<String>,
    /// The `scim2-server` command of the peer; none skips the peer.
    #[arg(long)]
    pub peer: Option<PathBuf>,
    /// Where the report goes.
    #[arg(long, default_value = "bench")]
    pub out: PathBuf,
    /// A seconds-long run that only checks the suite works (CI); writes to `--out` too.
    #[arg(long)]
    pub smoke: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Hello { listen } => rt.block_on(hello(listen)),
        Command::Load {
            database_url,
            users,
            groups,
        } => rt.block_on(async {
            let store = generate::open(&database_url).await?;
            let d = generate::directory(&store, users, &groups, true).await?;
            drop(store);
            generate::settle(&database_url).await?;
            println!("{}", serde_json::to_string(&d)?);
            Ok(())
        }),
        Command::Report { out } => {
            let path = out.join("results.json");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let mut results: workloads::Results = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a run's results", path.display()))?;
            results.args.out = out;
            report::write(&results.args, &results)?;
            println!(
                "report written to {}",
                results.args.out.join("REPORT.md").display()
            );
            Ok(())
        }
        Command::Run(mut args) => {
            if args.smoke {
                args.users = args.users.min(2_000);
                args.peer_users = args.peer_users.min(500);
                args.big_group = args.big_group.min(1_500);
                args.connections = args.connections.min(4);
                args.threads = 1;
                args.seconds = 1;
                args.iterations = args.iterations.min(3);
                args.cycle_users = args.cycle_users.min(20);
            }
            if !args.roster.exists() {
                bail!(
                    "{} not found: build it first (cargo build --release -p roster)",
                    args.roster.display()
                );
            }
            which("wrk")
                .context("wrk is needed: apt-get install -y wrk (scripts/bench does it)")?;
            let results = rt.block_on(workloads::run(&args))?;
            report::write(&args, &results)?;
            println!("report written to {}", args.out.join("REPORT.md").display());
            Ok(())
        }
    }
}

fn which(cmd: &str) -> anyhow::Result<()> {
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .output()?
        .status
        .success();
    if ok { Ok(()) } else { bail!("{cmd} not found") }
}

async fn hello(listen: std::net::SocketAddr) -> anyhow::Result<()> {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
