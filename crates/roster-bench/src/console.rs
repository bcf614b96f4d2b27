//! The console at scale: Users Management's first page, its searches and its next page, and the
//! overview, each timed one request at a time as a person's browser sends them (issue 12's
//! target: the first page and a search under 100 ms at 1,000,000 users).

use crate::generate::{CONSOLE_EMAIL, CONSOLE_PASSWORD};
use crate::workloads::Latency;
use anyhow::{Context, bail};
use std::time::{Duration, Instant};

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// Sign in with the generated owner's password: the session cookie.
async fn sign_in(c: &reqwest::Client, root: &str) -> anyhow::Result<String> {
    let form = serde_urlencoded::to_string([
        ("email", CONSOLE_EMAIL),
        ("password", CONSOLE_PASSWORD),
        ("next", "/console"),
    ])?;
    let r = c
        .post(format!("{root}/console/sign-in"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await?;
    let cookie = r
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("roster_session="))
        .and_then(|v| v.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    cookie.with_context(|| {
        format!(
            "the console sign-in answered {} without a session",
            r.status()
        )
    })
}

async fn get(c: &reqwest::Client, root: &str, cookie: &str, path: &str) -> anyhow::Result<String> {
    let r = c
        .get(format!("{root}{path}"))
        .header("Cookie", format!("roster_session={cookie}"))
        .send()
        .await?;
    let status = r.status();
    let body = r.text().await?;
    if status != reqwest::StatusCode::OK {
        bail!("GET {path}: {status}");
    }
    Ok(body)
}

/// The next-page link of a Users Management page.
fn next_link(body: &str) -> Option<String> {
    let at = body.find("rel=\"next\"")?;
    let start = body[..at].rfind("href=\"")? + 6;
    let end = start + body[start..].find('"')?;
    Some(body[start..end].replace("&amp;", "&").replace("&#38;", "&"))
}

/// Each console workload's latency over `iterations` requests (after two to warm up), on a
/// Roster at `root` whose directory has `users` generated users.
pub async fn latency(
    root: &str,
    users: usize,
    iterations: usize,
) -> anyhow::Result<Vec<(String, Latency)>> {
    let c = client()?;
    let cookie = sign_in(&c, root).await?;
    let first = get(&c, root, &cookie, "/console/users").await?;
    let next = next_link(&first).context("the first page has no next page")?;
    let email = format!("user{}", users / 2);
    let q = |s: &str| {
        format!(
            "/console/users?{}",
            serde_urlencoded::to_string([("q", s)]).unwrap_or_default()
        )
    };
    let cases = [
        (
            "Users Management: the first page (50 users)".to_string(),
            "/console/users".to_string(),
        ),
        (
            "Users Management: the next page, by cursor".to_string(),
            next,
        ),
        ("search: one letter (\"g\")".to_string(), q("g")),
        ("search: a first name (\"grace\")".to_string(), q("grace")),
        ("search: a name (\"grace hop\")".to_string(), q("grace hop")),
        (
            "search: a last name (\"lovelace\")".to_string(),
            q("lovelace"),
        ),
        (format!("search: an email prefix (\"{email}\")"), q(&email)),
        ("search: nothing matches (\"zzz\")".to_string(), q("zzz")),
        (
            "overview (counts over every user)".to_string(),
            "/console".to_string(),
        ),
    ];
    let mut out = Vec::new();
    for (name, path) in cases {
        for _ in 0..2 {
            get(&c, root, &cookie, &path).await?;
        }
        let mut times = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let t = Instant::now();
            get(&c, root, &cookie, &path).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        out.push((name, Latency::of(times)));
    }
    Ok(out)
}
