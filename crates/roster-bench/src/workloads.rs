//! The servers and the workloads.

use crate::RunArgs;
use crate::generate::{self, Directory};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One `wrk` measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Wrk {
    pub requests: u64,
    pub seconds: f64,
    pub rps: f64,
    pub errors: u64,
    pub non_2xx: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Latencies of a measured-by-us workload.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Latency {
    pub n: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub(crate) fn of(mut v: Vec<f64>) -> Latency {
        if v.is_empty() {
            return Latency::default();
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
        Latency {
            n: v.len(),
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: v[v.len() - 1],
        }
    }
}

/// Everything measured for one server.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Target {
    pub name: String,
    pub users: usize,
    pub load_seconds: Option<f64>,
    pub startup_ms: Option<f64>,
    pub rss_mb: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    /// workload name → measurement.
    pub wrk: Vec<(String, Wrk)>,
    pub add_1000_members: Option<Latency>,
    /// `POST /Groups` with 20,000 members, and an Okta-style `PUT` of the full list (1,000 of the
    /// members changed).
    #[serde(default)]
    pub create_large_group: Option<Latency>,
    #[serde(default)]
    pub put_large_group: Option<Latency>,
    /// Members in those groups (`LARGE_GROUP`, fewer when the directory is smaller).
    #[serde(default)]
    pub large_group_size: Option<usize>,
    pub remove_one_member: Option<Latency>,
    pub remove_group_size: Option<usize>,
    pub group_sizes: Vec<usize>,
    /// Users per second through lookup, create and group membership, and the step latencies.
    pub entra_cycle_users_per_s: Option<f64>,
    pub entra_cycle: Option<Latency>,
    /// The console's pages (see `console::latency`), by name.
    #[serde(default)]
    pub console: Vec<(String, Latency)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// How the run was made (`roster-bench report` renders the report again from this file).
    pub args: RunArgs,
    pub machine: Value,
    pub ceiling: Wrk,
    pub targets: Vec<Target>,
    pub command: String,
    pub smoke: bool,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

struct Server {
    child: Child,
    port: u16,
}

/// A server that is never left running, even when a workload fails half-way.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Server {
    /// Start a server whose output goes to `log`; answer once its port accepts connections.
    fn spawn(cmd: &mut Command, port: u16, log: &Path) -> anyhow::Result<(Server, Duration)> {
        let started = Instant::now();
        let out = std::fs::File::create(log)?;
        let child = cmd
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting a server")?;
        let mut s = Server { child, port };
        s.wait_ready(started)?;
        Ok((s, started.elapsed()))
    }

    fn wait_ready(&mut self, started: Instant) -> anyhow::Result<()> {
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited: {status}");
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("the server did not start");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    /// Resident and peak resident memory, MB.
    fn memory(&self) -> (Option<f64>, Option<f64>) {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
        else {
            return (None, None);
        };
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<f64>().ok())
                .map(|k| k / 1024.0)
        };
        (kb("VmRSS:"), kb("VmHWM:"))
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"#;

/// Run `wrk` with a Lua script (headers and request generator) against `url`.
fn wrk(args: &RunArgs, url: &str, script: &str, dir: &Path, name: &str) -> anyhow::Result<Wrk> {
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, format!("{script}\n{DONE}"))?;
    let out = Command::new("wrk")
        .arg(format!("-t{}", args.threads))
        .arg(format!("-c{}", args.connections))
        .arg(format!("-d{}s", args.seconds))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(&path)
        .arg(url)
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("wrk printed no summary for {name}: {text}"))?;
    let v: Value = serde_json::from_str(line)?;
    let n = |k: &str| v[k].as_f64().unwrap_or(0.0);
    let seconds = n("duration_us") / 1e6;
    Ok(Wrk {
        requests: n("requests") as u64,
        seconds,
        rps: if seconds > 0.0 {
            n("requests") / seconds
        } else {
            0.0
        },
        errors: n("errors") as u64,
        non_2xx: n("non2xx") as u64,
        p50_ms: n("p50") / 1000.0,
        p90_ms: n("p90") / 1000.0,
        p99_ms: n("p99") / 1000.0,
        max_ms: n("max") / 1000.0,
    })
}

fn headers(token: &str) -> String {
    format!(
        "wrk.headers[\"Authorization\"] = \"Bearer {token}\"\nwrk.headers[\"Content-Type\"] = \"application/scim+json\"\n\
         local prefix = tostring({{}}):sub(8) .. tostring(math.random(1, 1000000000))\nlocal counter = 0\n"
    )
}

/// Ids of the directory's users, as the Lua scripts pick them: a numeric range, or a table.
enum Ids {
    /// The generated directory's users `0..n` (see `generate::user_scim_id`).
    Generated(usize),
    Table(Vec<String>),
}

impl Ids {
    fn lua(&self) -> String {
        match self {
            Ids::Generated(n) => format!(
                "local function pick() return string.format(\"{}\", math.random(0, {})) end\n",
                crate::generate::USER_SCIM_ID_LUA,
                n.saturating_sub(1)
            ),
            Ids::Table(ids) => {
                let list: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
                format!(
                    "local ids = {{{}}}\nlocal function pick() return ids[math.random(1, #ids)] end\n",
                    list.join(",")
                )
            }
        }
    }
}

/// The workloads every server runs, through `wrk`.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename the list
fn wrk_workloads(
    args: &RunArgs,
    base: &str,
    token: &str,
    users: usize,
    ids: &Ids,
    deep: &str,
    dir: &Path,
    tag: &str,
) -> anyhow::Result<Vec<(String, Wrk)>> {
    let h = headers(token);
    let pick = ids.lua();
    let path = url_path(base);
    let mut out = Vec::new();
    let filtered = format!(
        "{h}request = function()\n  local i = math.random(0, {})\n  return wrk.format(\"GET\", \"{path}/Users?filter=userName+eq+%22user\" .. i .. \"%40bench.test%22\")\nend\n",
        users.saturating_sub(1)
    );
    out.push((
        "filtered GET userName eq".to_string(),
        wrk(args, base, &filtered, dir, &format!("{tag}-filter"))?,
    ));
    let by_id = format!(
        "{h}{pick}request = function()\n  return wrk.format(\"GET\", \"{path}/Users/\" .. pick())\nend\n"
    );
    out.push((
        "GET by id".to_string(),
        wrk(args, base, &by_id, dir, &format!("{tag}-get"))?,
    ));
    let create = format!(
        "{h}request = function()\n  counter = counter + 1\n  local body = '{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"new-' .. prefix .. '-' .. counter .. '@bench.test\",\"name\":{{\"givenName\":\"New\",\"familyName\":\"User\"}},\"active\":true}}'\n  return wrk.format(\"POST\", \"{path}/Users\", nil, body)\nend\n"
    );
    out.push((
        "POST create".to_string(),
        wrk(args, base, &create, dir, &format!("{tag}-post"))?,
    ));
    let patch = format!(
        "{h}{pick}request = function()\n  counter = counter + 1\n  local body = '{{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{{\"op\":\"replace\",\"path\":\"title\",\"value\":\"T' .. counter .. '\"}}]}}'\n  return wrk.format(\"PATCH\", \"{path}/Users/\" .. pick(), nil, body)\nend\n"
    );
    out.push((
        "PATCH user".to_string(),
        wrk(args, base, &patch, dir, &format!("{tag}-patch"))?,
    ));
    let page = format!(
        "{h}request = function()\n  return wrk.format(\"GET\", \"{path}/Users?{deep}\")\nend\n"
    );
    out.push((
        "deep index page (100)".to_string(),
        wrk(args, base, &page, dir, &format!("{tag}-page"))?,
    ));
    Ok(out)
}

fn url_path(base: &str) -> String {
    // `http://127.0.0.1:1234/v4/users/scim/x` → `/v4/users/scim/x`
    base.splitn(4, '/')
        .nth(3)
        .map(|p| format!("/{p}"))
        .unwrap_or_default()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

/// A cursor that continues after generated user `i` (cursors are opaque: the server gives one
/// for the page that ends with that user, found by its userName).
async fn deep_cursor(base: &str, token: &str, i: usize) -> anyhow::Result<String> {
    let url = format!("{base}/Users?filter=userName+eq+%22user{i}%40bench.test%22&count=1&cursor=");
    let (s, b, _) = send(&client(), reqwest::Method::GET, &url, token, None).await?;
    match b["nextCursor"].as_str() {
        Some(c) if s == 200 => Ok(c.to_string()),
        _ => bail!("no cursor after user {i}: {s} {b}"),
    }
}

async fn send(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value, f64)> {
    let mut rb = c
        .request(method, url)
        .header("Authorization", format!("Bearer {token}"));
    if let Some(b) = body {
        rb = rb
            .header("Content-Type", "application/scim+json")
            .body(b.to_string());
    }
    let t = Instant::now();
    let resp = rb.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        ms,
    ))
}

fn patch_op(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// Adding 1,000 members to a fresh group, `iterations` times.
async fn add_members(
    base: &str,
    token: &str,
    ids: &[String],
    iterations: usize,
) -> anyhow::Result<Latency> {
    let c = client();
    let mut lat = Vec::new();
    for it in 0..iterations {
        let (s, g, _) = send(&c, reqwest::Method::POST, &format!("{base}/Groups"), token, Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("add-{it}-{}", std::process::id())}))).await?;
        if s != 201 {
            bail!("creating a group answered {s}: {g}");
        }
        let gid = g["id"].as_str().unwrap_or_default().to_string();
        let start = (it * 997) % ids.len().max(1);
        let members: Vec<Value> = ids
            .iter()
            .cycle()
            .skip(start)
            .take(1000.min(ids.len()))
            .map(|i| json!({"value": i}))
            .collect();
        let (s, b, ms) = send(
            &c,
            reqwest::Method::PATCH,
            &format!("{base}/Groups/{gid}"),
            token,
            Some(&patch_op(
                json!([{"op": "add", "path": "members", "value": members}]),
            )),
        )
        .await?;
        if s >= 300 {
            bail!("adding members answered {s}: {b}");
        }
        lat.push(ms);
    }
    Ok(Latency::of(lat))
}

/// Members in the large-group workloads.
pub const LARGE_GROUP: usize = 20_000;

/// Creating a group with `LARGE_GROUP` members in one `POST`, then replacing its member list with
/// an Okta-style full-list `PUT` (1,000 of them changed), `iterations` times.
async fn large_groups(
    base: &str,
    token: &str,
    ids: &[String],
    iterations: usize,
) -> anyhow::Result<(Latency, Latency)> {
    let c = client();
    let n = LARGE_GROUP.min(ids.len());
    let members = |from: usize| -> Vec<Value> {
        ids.iter()
            .cycle()
            .skip(from)
            .take(n)
            .map(|i| json!({"value": i}))
            .collect()
    };
    let group = |name: &str, from: usize| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members(from)});
    // One timed request that must answer `want`.
    let timed =
        |method: reqwest::Method, url: String, body: Value, want: u16, what: &'static str| {
            let c = &c;
            async move {
                let (s, b, ms) = send(c, method, &url, token, Some(&body)).await?;
                if s != want {
                    bail!("{what} a {n}-member group answered {s}: {b}");
                }
                Ok::<_, anyhow::Error>((b, ms))
            }
        };
    let (mut create, mut put) = (Vec::new(), Vec::new());
    for it in 0..iterations {
        let name = format!("large-{it}-{}", std::process::id());
        let url = format!("{base}/Groups?excludedAttributes=members");
        let (g, ms) = timed(
            reqwest::Method::POST,
            url,
            group(&name, it * n),
            201,
            "creating",
        )
        .await?;
        create.push(ms);
        let gid = g["id"].as_str().unwrap_or_default();
        let url = format!("{base}/Groups/{gid}?excludedAttributes=members");
        let (_, ms) = timed(
            reqwest::Method::PUT,
            url,
            group(&name, it * n + 1000),
            200,
            "replacing the list of",
        )
        .await?;
        put.push(ms);
    }
    Ok((Latency::of(create), Latency::of(put)))
}

/// Removing one member at a time from the large group.
async fn remove_members(
    base: &str,
    token: &str,
    group: &str,
    members: &[String],
    iterations: usize,
) -> anyhow::Result<Latency> {
    let c = client();
    let mut lat = Vec::new();
    for m in members.iter().take(iterations) {
        let (s, b, ms) = send(
            &c,
            reqwest::Method::PATCH,
            &format!("{base}/Groups/{group}"),
            token,
            Some(&patch_op(
                json!([{"op": "remove", "path": format!("members[value eq \"{m}\"]")}]),
            )),
        )
        .await?;
        if s >= 300 {
            bail!("removing a member answered {s}: {b}");
        }
        lat.push(ms);
    }
    Ok(Latency::of(lat))
}

/// An Entra-like initial cycle: per user, look up by userName, create, add to a group; 8 at once.
async fn entra_cycle(base: &str, token: &str, users: usize) -> anyhow::Result<(f64, Latency)> {
    let c = client();
    let (s, g, _) = send(&c, reqwest::Method::POST, &format!("{base}/Groups"), token, Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("cycle-{}", std::process::id())}))).await?;
    if s != 201 {
        bail!("creating the cycle group answered {s}: {g}");
    }
    let gid = g["id"].as_str().unwrap_or_default().to_string();
    let started = Instant::now();
    let tag = std::process::id();
    let steps = futures::future::join_all((0..8).map(|w| {
        let (c, base, token, gid) = (c.clone(), base.to_string(), token.to_string(), gid.clone());
        async move {
            let mut lat = Vec::new();
            for i in (w..users).step_by(8) {
                let name = format!("cycle-{tag}-{i}@bench.test");
                let q = format!("{base}/Users?filter=userName+eq+%22{}%22", name.replace('@', "%40"));
                let (s, b, ms1) = send(&c, reqwest::Method::GET, &q, &token, None).await?;
                if s != 200 || b["totalResults"] != 0 {
                    bail!("lookup answered {s}: {b}");
                }
                let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true, "name": {"givenName": "Cy", "familyName": "Cle"}});
                let (s, u, ms2) = send(&c, reqwest::Method::POST, &format!("{base}/Users"), &token, Some(&body)).await?;
                if s != 201 {
                    bail!("create answered {s}: {u}");
                }
                let id = u["id"].as_str().unwrap_or_default();
                let (s, b, ms3) = send(&c, reqwest::Method::PATCH, &format!("{base}/Groups/{gid}"), &token, Some(&patch_op(json!([{"op": "Add", "path": "members", "value": [{"value": id}]}])))).await?;
                if s >= 300 {
                    bail!("membership answered {s}: {b}");
                }
                lat.extend([ms1, ms2, ms3]);
            }
            Ok::<_, anyhow::Error>(lat)
        }
    }))
    .await;
    let mut all = Vec::new();
    for s in steps {
        all.extend(s?);
    }
    let per_s = users as f64 / started.elapsed().as_secs_f64();
    Ok((per_s, Latency::of(all)))
}

fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let mem_kb = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0);
    let cmd = |c: &str, a: &[&str]| {
        Command::new(c)
            .args(a)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "memory_gib": (mem_kb / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": cmd("uname", &["-r"]),
        "wrk": cmd("sh", &["-c", "wrk -v 2>&1 | head -n1"]),
        "postgres": cmd("sh", &["-c", "psql --version 2>/dev/null"]),
        "date": chrono::Utc::now().to_rfc3339(),
        "commit": cmd("git", &["rev-parse", "--short", "HEAD"]),
    })
}

/// Roster on one backend: load, start (timed), measure, stop.
async fn roster(args: &RunArgs, name: &str, url: &str, tmp: &Path) -> anyhow::Result<Target> {
    eprintln!("== {name}: loading {} users", args.users);
    let store = generate::open(url).await?;
    let sizes = [
        args.big_group,
        10_000.min(args.big_group / 2),
        1000.min(args.big_group / 4),
        100,
        10,
    ];
    let dir: Directory = generate::directory(&store, args.users, &sizes, !args.smoke).await?;
    drop(store);
    generate::settle(url).await?;
    eprintln!("   loaded in {:.1} s", dir.load_seconds);
    let port = free_port()?;
    let data = tmp.join(format!("{name}-data"));
    let mut cmd = Command::new(&args.roster);
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(&data)
        .arg("--database-url")
        .arg(url)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"));
    cmd.env("ROSTER_SCIM_RATE_LIMIT", "0")
        .env("ROSTER_LOG_LEVEL", "warn")
        .env_remove("RUST_LOG");
    let (server, startup) = Server::spawn(&mut cmd, port, &tmp.join(format!("{name}.log")))?;
    let base = format!("http://127.0.0.1:{port}/v4/users/scim/{}", dir.idp);
    let ids = Ids::Generated(args.users);
    let deep_start = args.users.saturating_sub(100).max(1);
    let mut wrk_results = wrk_workloads(
        args,
        &base,
        &dir.owner_key,
        args.users,
        &ids,
        &format!("startIndex={deep_start}&count=100"),
        tmp,
        name,
    )?;
    let cursor = format!(
        "count=100&cursor={}",
        deep_cursor(&base, &dir.owner_key, args.users.saturating_sub(200)).await?
    );
    let h = headers(&dir.owner_key);
    let path = url_path(&base);
    let cursor_script = format!(
        "{h}request = function()\n  return wrk.format(\"GET\", \"{path}/Users?{cursor}\")\nend\n"
    );
    wrk_results.push((
        "deep cursor page (100)".to_string(),
        wrk(args, &base, &cursor_script, tmp, &format!("{name}-cursor"))?,
    ));
    eprintln!("   latency workloads");
    let member_ids: Vec<String> = (0..args.users)
        .map(|i| crate::generate::user_scim_id(i).to_string())
        .collect();
    let add = add_members(&base, &dir.owner_key, &member_ids, args.iterations).await?;
    let (create_large, put_large) =
        large_groups(&base, &dir.owner_key, &member_ids, args.iterations.min(5)).await?;
    let (big, big_size) = dir.groups[0].clone();
    let remove = remove_members(
        &base,
        &dir.owner_key,
        &big,
        &member_ids,
        args.iterations.max(30),
    )
    .await?;
    let (cycle_rate, cycle) = entra_cycle(&base, &dir.owner_key, args.cycle_users).await?;
    eprintln!("   console");
    let console = crate::console::latency(
        &format!("http://127.0.0.1:{port}"),
        args.users,
        args.iterations,
    )
    .await?;
    let (rss, peak) = server.memory();
    server.stop();
    Ok(Target {
        name: name.to_string(),
        users: args.users,
        load_seconds: Some(dir.load_seconds),
        startup_ms: Some(startup.as_secs_f64() * 1000.0),
        rss_mb: rss,
        peak_rss_mb: peak,
        wrk: wrk_results,
        add_1000_members: Some(add),
        create_large_group: Some(create_large),
        put_large_group: Some(put_large),
        large_group_size: Some(LARGE_GROUP.min(member_ids.len())),
        remove_one_member: Some(remove),
        remove_group_size: Some(big_size),
        group_sizes: dir.groups.iter().map(|(_, n)| *n).collect(),
        entra_cycle_users_per_s: Some(cycle_rate),
        entra_cycle: Some(cycle),
        console,
    })
}

/// The Python peer, in memory.
async fn peer(args: &RunArgs, cmd_path: &Path, tmp: &Path) -> anyhow::Result<Target> {
    eprintln!("== peer (scim2-server): loading {} users", args.peer_users);
    let port = free_port()?;
    let token = "peer-bench-token";
    let mut cmd = Command::new(cmd_path);
    cmd.arg("--bearer-token")
        .arg(token)
        .arg("--port")
        .arg(port.to_string())
        .arg("--hostname")
        .arg("127.0.0.1");
    let (server, startup) = Server::spawn(&mut cmd, port, &tmp.join("peer.log"))?;
    let base = format!("http://127.0.0.1:{port}");
    let c = client();
    let started = Instant::now();
    let mut ids = Vec::new();
    let made = futures::future::join_all((0..4).map(|w| {
        let (c, base) = (c.clone(), base.clone());
        async move {
            let mut out = Vec::new();
            for i in (w..args.peer_users).step_by(4) {
                let mut r = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": generate::user_name(i), "active": true, "name": {"givenName": "Ada", "familyName": "Lovelace"}, "title": "Engineer"});
                r["emails"] = json!([{"value": format!("ada{i}@work.bench.test"), "type": "work", "primary": true}]);
                let (s, u, _) = send(&c, reqwest::Method::POST, &format!("{base}/Users"), token, Some(&r)).await?;
                if s != 201 {
                    bail!("peer create answered {s}: {u}");
                }
                out.push(u["id"].as_str().unwrap_or_default().to_string());
            }
            Ok::<_, anyhow::Error>(out)
        }
    }))
    .await;
    for m in made {
        ids.extend(m?);
    }
    let load = started.elapsed().as_secs_f64();
    let deep = format!(
        "startIndex={}&count=100",
        args.peer_users.saturating_sub(100).max(1)
    );
    let wrk_results = wrk_workloads(
        args,
        &base,
        token,
        args.peer_users,
        &Ids::Table(ids.clone()),
        &deep,
        tmp,
        "peer",
    )?;
    let add = add_members(&base, token, &ids, args.iterations.min(5))
        .await
        .ok();
    let (rss, peak) = server.memory();
    server.stop();
    Ok(Target {
        name: "peer: scim2-server (Python, in memory)".into(),
        users: args.peer_users,
        load_seconds: Some(load),
        startup_ms: Some(startup.as_secs_f64() * 1000.0),
        rss_mb: rss,
        peak_rss_mb: peak,
        wrk: wrk_results,
        add_1000_members: add,
        ..Default::default()
    })
}

pub async fn run(args: &RunArgs) -> anyhow::Result<Results> {
    let tmp = tempdir()?;
    let result = run_in(args, &tmp).await;
    if result.is_err() {
        // The servers' own words, before the temporary directory goes.
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(20).collect();
                eprintln!("--- {} (last lines)", path.display());
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let p = std::env::temp_dir().join(format!("roster-bench-{}", std::process::id()));
    std::fs::create_dir_all(&p)?;
    Ok(p)
}

async fn run_in(args: &RunArgs, tmp: &Path) -> anyhow::Result<Results> {
    eprintln!("== ceiling: hello-world axum");
    let port = free_port()?;
    let me = std::env::current_exe()?;
    let mut cmd = Command::new(&me);
    cmd.arg("hello")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"));
    let (hello, _) = Server::spawn(&mut cmd, port, &tmp.join("hello.log"))?;
    let ceiling = wrk(args, &format!("http://127.0.0.1:{port}/"), "", tmp, "hello")?;
    hello.stop();
    let mut targets = Vec::new();
    let sqlite_url = format!("sqlite://{}", tmp.join("bench.sqlite3").display());
    targets.push(roster(args, "Roster on SQLite", &sqlite_url, tmp).await?);
    if let Some(pg) = &args.postgres {
        let db = format!("roster_bench_{}", std::process::id());
        psql(pg, &format!("DROP DATABASE IF EXISTS {db}"))?;
        psql(pg, &format!("CREATE DATABASE {db}"))?;
        let url = format!("{}/{db}", pg.rsplit_once('/').map(|(p, _)| p).unwrap_or(pg));
        let t = roster(args, "Roster on PostgreSQL", &url, tmp).await;
        psql(pg, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))?;
        targets.push(t?);
    }
    if let Some(p) = &args.peer {
        targets.push(peer(args, p, tmp).await?);
    }
    Ok(Results {
        args: args.clone(),
        machine: machine(),
        ceiling,
        targets,
        command: std::env::args()
            .map(|a| redact_password(&a))
            .collect::<Vec<_>>()
            .join(" "),
        smoke: args.smoke,
    })
}

/// A URL's password masked, whether written `user:password@host` or `?password=…` (the command
/// goes into the report).
fn redact_password(arg: &str) -> String {
    let mut out = arg.to_string();
    if let Some((scheme, rest)) = out.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _)) = userinfo.split_once(':')
    {
        out = format!("{scheme}://{user}:***@{host}");
    }
    if let Some(at) = out.find("password=") {
        let start = at + "password=".len();
        let end = out[start..].find('&').map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "***");
    }
    out
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let ok = Command::new("psql")
        .arg(url)
        .arg("-qc")
        .arg(sql)
        .stdout(Stdio::null())
        .status()?
        .success();
    if ok {
        Ok(())
    } else {
        bail!("psql failed: {sql}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_the_report() {
        assert_eq!(
            super::redact_password("postgres://roster:s3cret@db:5432/x"),
            "postgres://roster:***@db:5432/x"
        );
        assert_eq!(
            super::redact_password("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
        assert_eq!(
            super::redact_password("postgres://roster@db/x?sslmode=require&password=s3cret&a=b"),
            "postgres://roster@db/x?sslmode=require&password=***&a=b"
        );
        assert_eq!(super::redact_password("--users"), "--users");
    }
}
