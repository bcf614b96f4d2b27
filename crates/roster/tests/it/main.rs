//! End-to-end tests of the `roster` binary: first start, configuration layers, scripting
//! commands, and that no token secret reaches the logs or the data directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod durability;

fn roster() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_roster"));
    // Only what the test sets: no ROSTER_* from the environment of the test run.
    for (k, _) in std::env::vars() {
        if k.starts_with("ROSTER_") {
            c.env_remove(k);
        }
    }
    c.env_remove("RUST_LOG");
    c
}

/// `roster <args> --data-dir <data>`, run to the end.
fn run_in(data: &Path, args: &[&str]) -> std::process::Output {
    roster()
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    base: String,
}

/// `GET /health` over a plain socket: did it answer 200?
fn health_ok(port: u16) -> bool {
    use std::io::Write;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut status = [0u8; 12];
    s.read_exact(&mut status).is_ok() && status.ends_with(b" 200")
}

impl Server {
    fn start(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Server, String) {
        let port = free_port();
        let mut cmd = roster();
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"));
        cmd.args(extra);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        // Wait for the port.
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("server exited with {status}: {err}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The port is bound before the first start writes the owner's token; HTTP is served only
        // after. Ready means /health answers 200.
        while !health_ok(port) {
            assert!(Instant::now() < deadline, "server did not answer /health");
            std::thread::sleep(Duration::from_millis(50));
        }
        // First lines of stdout, if any, without blocking forever.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut out = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                out.push_str(&line);
                out.push('\n');
                let _ = tx.send(out.clone());
            }
        });
        std::thread::sleep(Duration::from_millis(200));
        let printed = rx.try_iter().last().unwrap_or_default();
        (Server { child, base }, printed)
    }

    /// SIGTERM, wait for a clean exit, answer stderr.
    fn stop(mut self) -> String {
        unsafe_free_kill(self.child.id());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "graceful shutdown exits 0, got {status}");
                break;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        err
    }
}

fn unsafe_free_kill(pid: u32) {
    let ok = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

fn key_in(text: &str) -> Option<String> {
    key_with(text, "azion", 40)
}

/// The instance operator's key in some output.
fn operator_key_in(text: &str) -> Option<String> {
    key_with(text, "rosterop", 43)
}

fn key_with(text: &str, prefix: &str, len: usize) -> Option<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric()))
        .find(|w| w.len() == len && w.starts_with(prefix))
        .map(str::to_string)
}

async fn get(base: &str, path: &str, key: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("Authorization", format!("Token {key}"))
        .send()
        .await
        .unwrap();
    (
        r.status().as_u16(),
        r.json().await.unwrap_or(serde_json::Value::Null),
    )
}

fn grep_dir(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let p = e.unwrap().path();
        p.is_file()
            && std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
    })
}

#[tokio::test]
async fn first_start_prints_the_owner_token_once_and_nothing_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, printed) = Server::start(
        &data,
        &["--owner-email", "boss@example.com", "--log-format", "json"],
        &[],
    );
    let key =
        key_in(&printed).unwrap_or_else(|| panic!("no token in first-start output: {printed}"));
    assert!(printed.contains("boss@example.com"));
    assert!(printed.contains(&format!("Authorization: Token {key}")));
    let (s, v) = get(&server.base, "/iam/user", &key).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"]["email"], "boss@example.com");
    let (s, _) = get(&server.base, "/iam/identity_providers", &key).await;
    assert_eq!(s, 200);
    // The instance operator's token, printed once too, opens the operator API only.
    let op = operator_key_in(&printed)
        .unwrap_or_else(|| panic!("no operator token in first-start output: {printed}"));
    let (s, v) = get(&server.base, "/operator/accounts", &op).await;
    assert_eq!((s, v["count"].as_i64()), (200, Some(1)), "{v}");
    assert_eq!(get(&server.base, "/iam/user", &op).await.0, 401);
    assert_eq!(get(&server.base, "/operator/accounts", &key).await.0, 401);
    let logs = server.stop();
    assert!(!logs.contains(&key), "the key reached the logs");
    assert!(!logs.contains(&op), "the operator key reached the logs");
    assert!(!grep_dir(&data, &op), "the operator key is in the data dir");
    assert!(
        logs.lines().any(|l| l.starts_with('{')),
        "JSON logs: {logs}"
    );
    assert!(!grep_dir(&data, &key), "the key is in the data dir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    // Second start: no new owner, no token printed; the first token still works.
    let (server, printed) = Server::start(&data, &[], &[]);
    assert!(
        key_in(&printed).is_none() && operator_key_in(&printed).is_none(),
        "second start printed a token: {printed}"
    );
    assert_eq!(get(&server.base, "/iam/user", &key).await.0, 200);
    server.stop();
}

/// POST a form to the console without following redirects; answers the status and whether a
/// session cookie was set.
async fn console_post(base: &str, path: &str, form: &str) -> (u16, bool) {
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}{path}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap_or("").starts_with("roster_session=") && v.len() > 80);
    (r.status().as_u16(), cookie)
}

/// First start prints a one-time link for the owner's console password (never logged, never
/// stored but as a hash); `roster user set-password` reads a new one from standard input.
#[tokio::test]
async fn console_passwords_from_the_link_and_the_cli() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, printed) = Server::start(&data, &["--owner-email", "boss@example.com"], &[]);
    let link = printed
        .split_whitespace()
        .find(|w| w.contains("/console/password/"))
        .unwrap_or_else(|| panic!("no password link in first-start output: {printed}"))
        .to_string();
    let path = link
        .strip_prefix(&server.base)
        .expect("a link to this server")
        .to_string();
    let key = path.rsplit('/').next().unwrap().to_string();
    assert_eq!(key.len(), 64);
    let (status, cookie) =
        console_post(&server.base, &path, "password=a+long+first+password").await;
    assert_eq!((status, cookie), (303, true), "the link signs the owner in");
    assert_eq!(
        console_post(&server.base, &path, "password=a+long+first+password")
            .await
            .0,
        404,
        "used up"
    );
    let logs = server.stop();
    assert!(!logs.contains(&key), "the link's key reached the logs");
    assert!(!grep_dir(&data, &key), "the link's key is in the data dir");
    // The CLI: the password from standard input; too short is refused, saying why.
    let set = |password: &str| {
        let mut child = roster()
            .args([
                "user",
                "set-password",
                "--email",
                "boss@example.com",
                "--data-dir",
            ])
            .arg(&data)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = set("short");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("At least 12 characters"));
    let out = set("the password set from the CLI");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (server, _) = Server::start(&data, &[], &[]);
    let form = "email=boss%40example.com&password=the+password+set+from+the+CLI&next=%2Fconsole";
    assert_eq!(
        console_post(&server.base, "/console/sign-in", form).await,
        (303, true)
    );
    let old = "email=boss%40example.com&password=a+long+first+password&next=%2Fconsole";
    assert_eq!(
        console_post(&server.base, "/console/sign-in", old).await,
        (401, false)
    );
    let logs = server.stop();
    assert!(
        !logs.contains("the password set from the CLI"),
        "the password reached the logs"
    );
}

#[tokio::test]
async fn bootstrap_token_file_and_token_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("owner.token");
    let (server, printed) = Server::start(
        &data,
        &[],
        &[
            ("ROSTER_BOOTSTRAP_TOKEN_FILE", file.to_str().unwrap()),
            ("ROSTER_OWNER_EMAIL", "ops@example.com"),
        ],
    );
    assert!(
        key_in(&printed).is_none(),
        "the token went to stdout: {printed}"
    );
    let key = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert_eq!(key.len(), 40);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let (s, v) = get(&server.base, "/iam/user", &key).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"]["email"], "ops@example.com");

    // `token create` prints only the key; it works at once against the running server.
    let out = run_in(
        &data,
        &[
            "token",
            "create",
            "--email",
            "ops@example.com",
            "--name",
            "ci",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let new_key = printed.trim().to_string();
    assert_eq!(new_key.len(), 40, "only the key: {printed:?}");
    let (s, list) = get(&server.base, "/iam/personal_tokens", &new_key).await;
    assert_eq!(s, 200);
    let uuid = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap()["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    // `token revoke` stops it within a second (the server remembers a token it authenticated
    // for at most a second; a revocation by another process reaches it after that).
    let out = run_in(&data, &["token", "revoke", &uuid]);
    assert!(out.status.success());
    refused_within_a_second(&server.base, &new_key).await;
    // Unknown email: a clear failure.
    let out = run_in(&data, &["token", "create", "--email", "nobody@example.com"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    // `user list`
    let out = run_in(&data, &["user", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ops@example.com"));
    // `token list --email` shows the user's tokens (never their keys); `token revoke-all` ends
    // every one of them within a second.
    let out = run_in(&data, &["token", "list", "--email", "ops@example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    // The first-start token is listed; the revoked "ci" one is gone.
    for t in list["results"].as_array().unwrap() {
        let uuid = t["uuid"].as_str().unwrap();
        assert_eq!(listed.contains(uuid), t["name"] != "ci", "{listed}");
    }
    assert!(!listed.contains(&key) && !listed.contains(&new_key));
    assert_eq!(get(&server.base, "/iam/user", &key).await.0, 200);
    let out = run_in(
        &data,
        &["token", "revoke-all", "--email", "ops@example.com"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    refused_within_a_second(&server.base, &key).await;
    server.stop();
}

/// The operator's commands, beside a running server: accounts made, listed, disabled and
/// deleted; the first operator token written to its file.
#[tokio::test]
async fn account_commands_and_the_operator_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("operator.token");
    let (server, printed) = Server::start(
        &data,
        &[],
        &[(
            "ROSTER_BOOTSTRAP_OPERATOR_TOKEN_FILE",
            file.to_str().unwrap(),
        )],
    );
    assert!(operator_key_in(&printed).is_none(), "{printed}");
    let op = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(operator_key_in(&op).is_some(), "{op:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let out = run_in(
        &data,
        &[
            "account",
            "create",
            "--name",
            "Acme",
            "--owner-email",
            "boss@acme.test",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key_in(&key).is_some(), "only the new owner's key: {key:?}");
    let (s, me) = get(&server.base, "/iam/user", &key).await;
    assert_eq!(
        (s, me["data"]["email"].as_str()),
        (200, Some("boss@acme.test"))
    );
    let (_, acct) = get(&server.base, "/iam/account", &key).await;
    let id = acct["data"]["id"].as_i64().unwrap().to_string();

    let out = run_in(&data, &["account", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listed.contains("Acme") && listed.contains("active"),
        "{listed}"
    );
    let (_, v) = get(&server.base, "/operator/accounts", &op).await;
    assert_eq!(v["count"], 2, "{v}");

    let out = run_in(&data, &["account", "disable", "--id", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    refused_within_a_second(&server.base, &key).await;

    let out = run_in(&data, &["account", "delete", "--id", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("deleted"));
    let (s, _) = get(&server.base, &format!("/operator/accounts/{id}"), &op).await;
    assert_eq!(s, 404);
    let out = run_in(&data, &["account", "delete", "--id", &id]);
    assert!(
        !out.status.success(),
        "deleting it again says it is not there"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    // Operator tokens rotate: a new one works at once, the old one revoked is refused at once.
    let out = run_in(&data, &["operator-token", "create", "--name", "rotated"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_op = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        operator_key_in(&new_op).is_some(),
        "only the key: {new_op:?}"
    );
    assert_eq!(
        get(&server.base, "/operator/accounts", &new_op).await.0,
        200
    );
    let out = run_in(&data, &["operator-token", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listed.contains("rotated") && !listed.contains(&new_op) && !listed.contains(&op),
        "{listed}"
    );
    let first = listed
        .lines()
        .find(|l| l.contains("first start"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let out = run_in(&data, &["operator-token", "revoke", &first]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(get(&server.base, "/operator/accounts", &op).await.0, 401);
    assert_eq!(
        get(&server.base, "/operator/accounts", &new_op).await.0,
        200
    );
    server.stop();
}

/// A key revoked by another process (the CLI) is refused by the server within a second.
async fn refused_within_a_second(base: &str, key: &str) {
    let revoked = std::time::Instant::now();
    loop {
        let status = get(base, "/iam/user", key).await.0;
        if status == 401 {
            return;
        }
        assert_eq!(status, 200, "neither accepted nor refused");
        assert!(
            revoked.elapsed() < std::time::Duration::from_secs(1),
            "a revoked key was still accepted after a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[test]
fn configuration_layers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("roster.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:7001\"\nowner_email = \"file@example.com\"\nlog_level = \"debug\"\n",
    )
    .unwrap();
    let show = |env: &[(&str, &str)], flags: &[&str]| -> String {
        let mut c = roster();
        c.arg("print-config").arg("--config").arg(&file).args(flags);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // File over defaults.
    let out = show(&[], &[]);
    assert!(out.contains("listen = \"127.0.0.1:7001\""), "{out}");
    assert!(out.contains("owner_email = \"file@example.com\""));
    assert!(
        out.contains("request_timeout_secs = 30"),
        "defaults fill the rest"
    );
    assert!(out.contains("public_url = \"http://127.0.0.1:7001\""));
    // Environment over file.
    let out = show(
        &[
            ("ROSTER_LISTEN", "127.0.0.1:7002"),
            ("ROSTER_DATABASE_URL", "postgres://u:hunter2@db/x"),
        ],
        &[],
    );
    assert!(out.contains("127.0.0.1:7002"));
    assert!(
        out.contains("postgres://u:***@db/x") && !out.contains("hunter2"),
        "secrets redacted: {out}"
    );
    // Flags over environment.
    let out = show(
        &[("ROSTER_DATA_DIR", "/tmp/from-env")],
        &["--data-dir", "/tmp/from-flag"],
    );
    assert!(out.contains("data_dir = \"/tmp/from-flag\""), "{out}");
    // Unknown keys in the file are refused with the key named.
    std::fs::write(&file, "lisen = \"x\"\n").unwrap();
    let out = roster()
        .arg("print-config")
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));
}

#[test]
fn migrate_and_bad_urls() {
    let dir = tempfile::tempdir().unwrap();
    let out = roster()
        .arg("migrate")
        .arg("--data-dir")
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("d/roster.sqlite3").exists());
    let out = roster()
        .args(["migrate", "--database-url", "mysql://x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"));
}

#[test]
fn operator_mistakes_are_explained_and_harmless() {
    let dir = tempfile::tempdir().unwrap();
    // An existing data directory is narrowed to 0700; the database, its WAL files and the
    // secret key are 0600.
    let data = dir.path().join("shared");
    std::fs::create_dir(&data).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = roster()
        .arg("migrate")
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        let mut files = 0;
        for e in std::fs::read_dir(&data).unwrap() {
            let p = e.unwrap().path();
            assert_eq!(mode(&p), 0o600, "{}", p.display());
            files += 1;
        }
        assert!(data.join("roster.sqlite3").exists() && data.join("secret.key").exists());
        assert!(files >= 2);
    }
    // `user list` before the first start says what to do.
    let out = run_in(&data, &["user", "list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `roster serve` once"));
    // --days out of range is refused by the CLI.
    for days in ["0", "100000000"] {
        let out = run_in(
            &data,
            &[
                "token",
                "create",
                "--email",
                "x@example.com",
                "--days",
                days,
            ],
        );
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--days"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A bootstrap token file that cannot be written stops the first start before anything is made…
    let bad = dir.path().join("missing-dir/owner.token");
    let out = roster()
        .arg("serve")
        .arg("--data-dir")
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .env("ROSTER_BOOTSTRAP_TOKEN_FILE", &bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bootstrap token file"));
    // …so the next start (with a good path) is still a first start.
    let good = dir.path().join("owner.token");
    let (server, _) = Server::start(
        &data,
        &[],
        &[("ROSTER_BOOTSTRAP_TOKEN_FILE", good.to_str().unwrap())],
    );
    assert_eq!(std::fs::read_to_string(&good).unwrap().trim().len(), 40);
    server.stop();
}
