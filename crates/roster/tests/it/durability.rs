//! No acknowledged write is lost when the process dies: a burst of concurrent creates, the server
//! killed with SIGKILL in the middle of it, a restart on the same database, and every id that was
//! answered `201` read back. On SQLite this is the group commit's promise (a write is answered
//! only once its batch is committed with `synchronous = FULL`); on PostgreSQL, its commit's.

use super::{Server, key_in};
use roster_store_tests::{Backend, TestStore};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Create users from `writers` tasks at once until the server stops answering; every id it
/// answered with `201` goes into `acked`.
async fn burst(base: String, key: String, acked: Arc<Mutex<Vec<i64>>>, writers: usize) {
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (client, base, key, acked) = (client.clone(), base.clone(), key.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let r = client
                    .post(format!("{base}/iam/users"))
                    .header("Authorization", format!("Token {key}"))
                    .json(&serde_json::json!({
                        "first_name": "Durable",
                        "last_name": format!("{w}-{i}"),
                        "email": format!("durable-{w}-{i}@example.com"),
                    }))
                    .send()
                    .await;
                let Ok(r) = r else { return };
                if r.status().as_u16() != 201 {
                    continue;
                }
                let Ok(v) = r.json::<serde_json::Value>().await else {
                    return;
                };
                let id = v["data"]["id"].as_i64().expect("a created user has an id");
                acked.lock().unwrap().push(id);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

fn sigkill(pid: u32) {
    let ok = Command::new("kill")
        .arg("-KILL")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

async fn acknowledged_writes_survive_sigkill(data: &std::path::Path, extra: &[&str]) {
    let mut args = vec!["--owner-email", "boss@example.com"];
    args.extend_from_slice(extra);
    let (server, printed) = Server::start(data, &args, &[]);
    let key = key_in(&printed).unwrap_or_else(|| panic!("no token in first start: {printed}"));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let load = tokio::spawn(burst(server.base.clone(), key.clone(), acked.clone(), 16));
    // Kill once the burst is well under way.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < 200 {
        assert!(Instant::now() < deadline, "the burst made too few users");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sigkill(server.child.id());
    load.await.unwrap();
    let mut child = server.child;
    child.wait().unwrap();
    let acked = acked.lock().unwrap().clone();

    let (again, _) = Server::start(data, extra, &[]);
    let client = reqwest::Client::new();
    let mut lost = Vec::new();
    for id in &acked {
        let r = client
            .get(format!("{}/iam/users/{id}", again.base))
            .header("Authorization", format!("Token {key}"))
            .send()
            .await
            .unwrap();
        if r.status().as_u16() != 200 {
            lost.push(*id);
        }
    }
    again.stop();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged users were lost: {lost:?}",
        lost.len(),
        acked.len()
    );
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    acknowledged_writes_survive_sigkill(&dir.path().join("data"), &[]).await;
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill_postgres() {
    let t = TestStore::new(Backend::Postgres).await;
    let (url, _) = t.pg.clone().expect("a PostgreSQL test store");
    let dir = tempfile::tempdir().unwrap();
    acknowledged_writes_survive_sigkill(&dir.path().join("data"), &["--database-url", &url]).await;
    t.finish().await;
}
