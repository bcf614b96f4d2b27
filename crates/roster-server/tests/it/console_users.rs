//! Users Management's search and paging over HTTP: a prefix of the email, the name or the last
//! name finds a user, in any case and script; the list goes page by page by cursor, forwards and
//! back, showing every user once; counts stop at a cap.

use crate::both;
use crate::browser::*;
use crate::harness::*;
use reqwest::StatusCode;
use serde_json::json;

async fn person(app: &TestApp, first: &str, last: &str, email: &str) {
    let (s, v) = app
        .post(
            "/v4/iam/users",
            json!({"first_name": first, "last_name": last, "email": email}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

/// The emails a Users Management page lists, in order.
fn emails(body: &str) -> Vec<String> {
    body.split("<td class=\"email\">")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_string())
        .collect()
}

/// The link of `rel` ("next" or "prev") on a page, unescaped.
fn link(body: &str, rel: &str) -> Option<String> {
    let at = body.find(&format!("rel=\"{rel}\""))?;
    let tag_start = body[..at].rfind("<a ")?;
    let tag = &body[tag_start..at + body[at..].find('>')?];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&amp;", "&").replace("&#38;", "&"))
}

async fn users_search_by_prefix(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    person(app, "Grace", "Hopper", "grace.hopper@contoso.com").await;
    person(app, "Ada", "Lovelace", "countess@example.com").await;
    person(app, "Élodie", "Zoë Martin", "elodie@example.com").await;
    person(app, "Alan", "Turing", "alan@example.com").await;
    person(app, "Hugo", "Ball", "xavier@example.com").await;
    person(app, "Zed", "Quinn", "hq@example.com").await;
    let mut b = Browser::new(app);
    b.sign_in("owner@example.com", PASSWORD).await;
    for (q, want) in [
        // Email, first name, "first last", last name (of two words), in any case.
        ("grace.h", vec!["grace.hopper@contoso.com"]),
        ("GRACE", vec!["grace.hopper@contoso.com"]),
        ("ada lov", vec!["countess@example.com"]),
        ("lovel", vec!["countess@example.com"]),
        ("count", vec!["countess@example.com"]),
        ("élo", vec!["elodie@example.com"]),
        ("ÉLODIE Z", vec!["elodie@example.com"]),
        ("zoë m", vec!["elodie@example.com"]),
        // Name matches first (by name), then last names, then emails; each user once.
        (
            "a",
            vec![
                "owner@example.com",
                "countess@example.com",
                "alan@example.com",
            ],
        ),
        (
            "h",
            vec![
                "xavier@example.com",
                "grace.hopper@contoso.com",
                "hq@example.com",
            ],
        ),
        // A prefix, not anywhere inside.
        ("opper", vec![]),
        ("%", vec![]),
        ("_", vec![]),
    ] {
        let p = b
            .get(&format!(
                "/console/users?{}",
                serde_urlencoded::to_string([("q", q)]).unwrap()
            ))
            .await;
        assert_eq!(p.status, StatusCode::OK, "{q}");
        assert_eq!(emails(&p.body), want, "{q}");
    }
    let p = b.get("/console/users?q=a").await;
    assert!(p.body.contains("3 users match"), "{}", p.body);
}

async fn users_page_by_cursor(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    for i in 0..120 {
        person(
            app,
            "User",
            &format!("N{i:03}"),
            &format!("u{i:03}@example.com"),
        )
        .await;
    }
    let mut b = Browser::new(app);
    b.sign_in("owner@example.com", PASSWORD).await;
    // Forwards: every user once, in email order, 50 a page.
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut at = "/console/users".to_string();
    loop {
        let p = b.get(&at).await;
        assert_eq!(p.status, StatusCode::OK, "{at}");
        let got = emails(&p.body);
        assert!(got.len() <= 50);
        seen.extend(got.clone());
        pages.push((at.clone(), got));
        match link(&p.body, "next") {
            Some(next) => at = next,
            None => break,
        }
    }
    let mut all: Vec<String> = (0..120).map(|i| format!("u{i:03}@example.com")).collect();
    all.push("owner@example.com".into());
    all.sort();
    assert_eq!(seen, all);
    assert_eq!(pages.len(), 3);
    let first = b.get("/console/users").await;
    assert!(first.body.contains("121 users in all"), "{}", first.body);
    assert!(
        link(&first.body, "prev").is_none(),
        "no page before the first"
    );
    // Backwards from the last page: the pages again, the same users.
    let last = b.get(&pages[2].0).await;
    let back = link(&last.body, "prev").expect("a previous page");
    let p = b.get(&back).await;
    assert_eq!(emails(&p.body), pages[1].1, "{back}");
    let back = link(&p.body, "prev").expect("the first page");
    let p = b.get(&back).await;
    assert_eq!(emails(&p.body), pages[0].1, "{back}");
    assert!(link(&p.body, "prev").is_none());
    // Paging keeps the search: its pages hold only matches.
    let p = b.get("/console/users?q=u0").await;
    assert_eq!(emails(&p.body).len(), 50);
    assert!(p.body.contains("100 users match"), "{}", p.body);
    let next = link(&p.body, "next").expect("more matches");
    assert!(next.contains("q=u0"), "{next}");
    let p = b.get(&next).await;
    let rest = emails(&p.body);
    assert_eq!(rest.len(), 50);
    assert!(rest.iter().all(|e| e.starts_with("u0")), "{rest:?}");
    assert!(link(&p.body, "next").is_none(), "100 matches, two pages");
    assert!(link(&p.body, "prev").is_none(), "a search goes forwards");
    let first = link(&p.body, "first").expect("back to the search's first page");
    let p = b.get(&first).await;
    assert_eq!(emails(&p.body).len(), 50);
    assert!(emails(&p.body).iter().all(|e| e.starts_with("u0")));
    // A cursor that is nonsense is just a place in the alphabet.
    let p = b.get("/console/users?after=%F0%9F%98%80%00x").await;
    assert_eq!(p.status, StatusCode::OK);
}

both!(users_search_by_prefix, users_page_by_cursor);
