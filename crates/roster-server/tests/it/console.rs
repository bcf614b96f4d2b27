//! The console over HTTP, as a browser uses it: sign-in and its slow-down, sessions (expiry,
//! sign-out, everywhere), CSRF, the one-time password link, the account chooser, security
//! headers, and pages that show only the signed-in account.

use crate::both;
use crate::browser::*;
use crate::harness::*;
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use roster_core::Secret;
use roster_core::model::AccountId;

/// Sign in, see the overview, sign out; the cookie's attributes and the pages' headers.
async fn sign_in_and_out(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let mut b = Browser::new(app);
    // Not signed in: sent to the sign-in page, which remembers where to go back.
    let p = b.get("/console/users?q=a").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(
        p.location().starts_with("/console/sign-in?next="),
        "{}",
        p.location()
    );
    assert_eq!(b.get("/").await.location(), "/console");
    let p = b.sign_in("Owner@Example.com", PASSWORD).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location(), "/console");
    let set = p.headers.get(SET_COOKIE).unwrap().to_str().unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/console"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP here: {set}");
    let p = b.get("/console").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("Overview") && p.body.contains("owner@example.com"));
    let csp = p.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(p.headers["x-frame-options"], "DENY");
    assert_eq!(p.headers["cache-control"], "no-store");
    // The assets it links are served, cached for a year.
    let css = p
        .body
        .split("href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let a = b.get(&css).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    // Open redirects are not: `next` is a local console path or nothing.
    let p = b
        .post(
            "/console/sign-in",
            &[
                ("email", "owner@example.com"),
                ("password", PASSWORD),
                ("next", "//evil.example/x"),
            ],
        )
        .await;
    assert_eq!(p.location(), "/console");
    // Sign out: the cookie is cleared and the session is gone on the server.
    let old = b.cookie.clone();
    let csrf = b.get("/console").await.csrf();
    let p = b.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(b.cookie.is_none());
    b.cookie = old;
    assert_eq!(
        b.get("/console").await.status,
        StatusCode::SEE_OTHER,
        "the old key is dead"
    );
}

/// Wrong password and unknown email answer alike; failures are slowed down per email.
async fn sign_in_failures_are_alike_and_slowed(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let mut b = Browser::new(app);
    let wrong = b
        .sign_in("owner@example.com", "not the password at all")
        .await;
    let unknown = b
        .sign_in("nobody@example.com", "not the password at all")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, wrong.status);
    assert!(wrong.body.contains("Wrong email or password."));
    assert_eq!(
        wrong.body.replace("owner@example.com", "X"),
        unknown.body.replace("nobody@example.com", "X"),
        "the same page, but for the email typed"
    );
    for _ in 0..4 {
        b.sign_in("owner@example.com", "not the password at all")
            .await;
    }
    // Held back now, even with the right password.
    let p = b.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS, "{}", p.body);
    assert!(p.headers.contains_key("retry-after"));
    assert!(b.cookie.is_none());
    // After the wait it works again.
    app.clock.advance(chrono::Duration::minutes(16));
    let p = b.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
}

/// Sessions end after an hour idle, twelve hours in all, and everywhere on request.
async fn sessions_expire_and_end_everywhere(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let mut one = Browser::new(app);
    let mut two = Browser::new(app);
    one.sign_in("owner@example.com", PASSWORD).await;
    two.sign_in("owner@example.com", PASSWORD).await;
    // Used every 50 minutes, a session lives on; idle for 61, it ends.
    for _ in 0..3 {
        app.clock.advance(chrono::Duration::minutes(50));
        assert_eq!(one.get("/console").await.status, StatusCode::OK);
    }
    assert_eq!(
        two.get("/console").await.status,
        StatusCode::SEE_OTHER,
        "idle 150 minutes"
    );
    // Twelve hours after sign-in, however used.
    let mut busy = Browser::new(app);
    busy.sign_in("owner@example.com", PASSWORD).await;
    for _ in 0..24 {
        app.clock.advance(chrono::Duration::minutes(30));
        busy.get("/console/profile").await;
    }
    assert_eq!(
        busy.get("/console").await.status,
        StatusCode::SEE_OTHER,
        "absolute expiry"
    );
    // Sign out everywhere ends the other browser's session too.
    let mut a = Browser::new(app);
    let mut c = Browser::new(app);
    a.sign_in("owner@example.com", PASSWORD).await;
    c.sign_in("owner@example.com", PASSWORD).await;
    let csrf = a.get("/console/profile").await.csrf();
    let p = a
        .post("/console/sign-out-everywhere", &[("csrf", &csrf)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/console").await.status, StatusCode::SEE_OTHER);
}

/// Every state-changing form needs the session's CSRF token, and a same-site Origin.
async fn forms_need_the_csrf_token(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let mut b = Browser::new(app);
    b.sign_in("owner@example.com", PASSWORD).await;
    let csrf = b.get("/console/tokens").await.csrf();
    let form = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("name", "CI".to_string()),
            ("expires_at", "2027-06-01".to_string()),
        ]
    };
    for bad in [
        "",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let f = form(bad);
        let p = b.post("/console/tokens", &refs(&f)).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{bad:?}");
    }
    let (_, before) = app.get("/iam/personal_tokens").await;
    // Another site's form, even with a stolen token, is refused by its Origin.
    let f = form(&csrf);
    let rb = b
        .client
        .post(app.url("/console/tokens"))
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(refs(&f)).unwrap());
    assert_eq!(b.send(rb).await.status, StatusCode::FORBIDDEN);
    let (_, after) = app.get("/iam/personal_tokens").await;
    assert_eq!(before["count"], after["count"], "nothing was made");
    // With it: the key is shown once, and the API agrees.
    let p = b.post("/console/tokens", &refs(&f)).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let key = p.text_of("new-key");
    assert!(key.starts_with("azion"), "{key}");
    let (st, _) = app
        .call(reqwest::Method::GET, "/iam/user", Some(&key), None)
        .await;
    assert_eq!(st, StatusCode::OK, "the new key works");
    assert!(
        !b.get("/console/tokens").await.body.contains(&key),
        "shown once"
    );
}

/// The one-time link: chooses a password once, within 24 hours, and signs in.
async fn password_links_work_once(app: &TestApp) {
    let hand = app.create_user("ada@example.com", &[]).await;
    let owner = app
        .roster
        .authenticate(Some(&format!("Token {}", app.owner_key)))
        .await
        .unwrap();
    let key = app
        .roster
        .make_password_link(&owner, roster_core::model::UserId(hand))
        .await
        .unwrap();
    let path = format!("/console/password/{}", key.0.expose());
    let mut b = Browser::new(app);
    let p = b.get(&path).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("ada@example.com"));
    let p = b.post(&path, &[("password", "short")]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("At least 12 characters"), "{}", p.body);
    let p = b.post(&path, &[("password", PASSWORD)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert!(b.cookie.is_some(), "signed in at once");
    assert_eq!(b.get("/console/profile").await.status, StatusCode::OK);
    // Used up.
    let mut other = Browser::new(app);
    assert_eq!(other.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        other
            .post(&path, &[("password", "another long password")])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // A link expires after 24 hours.
    let key = app
        .roster
        .make_password_link(&owner, roster_core::model::UserId(hand))
        .await
        .unwrap();
    app.clock.advance(chrono::Duration::hours(25));
    let p = other
        .get(&format!("/console/password/{}", key.0.expose()))
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    // Provisioned users sign in through their identity provider: no link for them.
    let s = app.scim().await;
    let scim_user = s.user("entra@example.com").await;
    let iam = app.iam_id("users", &scim_user).await;
    assert!(
        app.roster
            .make_password_link(&owner, roster_core::model::UserId(iam))
            .await
            .is_err()
    );
}

/// An email that is a user of two accounts is asked which one it means; each account's pages show
/// only that account.
async fn accounts_are_chosen_and_kept_apart(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let other_key = app.other_account_owner().await;
    // The same email, the same password, in the second account.
    let (_, accounts) = app
        .call(
            reqwest::Method::GET,
            "/operator/accounts",
            Some(&app.operator_key),
            None,
        )
        .await;
    let second = accounts["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .max()
        .unwrap();
    let (st, v) = app
        .call(
            reqwest::Method::POST,
            "/iam/users",
            Some(&other_key),
            Some(serde_json::json!({"first_name": "Same", "last_name": "Person", "email": "owner@example.com"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let twin = v["data"]["id"].as_i64().unwrap();
    app.roster
        .set_password(
            Some(AccountId(second)),
            "owner@example.com",
            &Secret::new(PASSWORD),
        )
        .await
        .unwrap();
    let mut b = Browser::new(app);
    let p = b.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("several accounts"), "{}", p.body);
    assert!(b.cookie.is_none());
    let second_s = second.to_string();
    let p = b
        .post(
            "/console/sign-in",
            &[
                ("email", "owner@example.com"),
                ("password", PASSWORD),
                ("account", &second_s),
                ("next", "/console/profile"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    // Signed in to the second account as a user without permissions: its own profile only.
    let p = b.get("/console/profile").await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(b.get("/console/users").await.status, StatusCode::FORBIDDEN);
    let _ = twin;
    // The first account's owner sees its own users, and not the other account's.
    let mut first = Browser::new(app);
    first
        .post(
            "/console/sign-in",
            &[
                ("email", "owner@example.com"),
                ("password", PASSWORD),
                ("account", "1"),
                ("next", "/console"),
            ],
        )
        .await;
    assert_eq!(
        first.get(&format!("/console/users/{twin}")).await.status,
        StatusCode::NOT_FOUND
    );
}

/// Users Management finds a user SCIM provisioned, and its page shows the SCIM document;
/// deactivating it there is what the IAM API then says.
async fn users_management(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let s = app.scim().await;
    let id = s.user("grace@contoso.com").await;
    let iam = app.iam_id("users", &id).await;
    let mut b = Browser::new(app);
    b.sign_in("owner@example.com", PASSWORD).await;
    let p = b.get("/console/users?q=GRACE").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("grace@contoso.com"));
    assert!(
        p.body.contains("<td>Entra</td>"),
        "the provider by name: {}",
        p.body
    );
    assert!(
        !b.get("/console/users?q=nobody-here")
            .await
            .body
            .contains("grace@contoso.com")
    );
    let p = b.get(&format!("/console/users/{iam}")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains(&id), "the SCIM id");
    assert!(
        p.body
            .contains("&#34;userName&#34;: &#34;grace@contoso.com&#34;"),
        "{}",
        p.body
    );
    let csrf = p.csrf();
    let p = b
        .post(
            &format!("/console/users/{iam}/status"),
            &[("csrf", &csrf), ("active", "false")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = b.get(p.location()).await;
    assert!(p.body.contains("The user is deactivated."), "{}", p.body);
    let (_, v) = app.get(&format!("/iam/users/{iam}")).await;
    assert_eq!(v["data"]["is_active"], false);
    // Filters: status, who provisioned, team; each alone and together, and the page says which
    // option is chosen.
    let team = app.create_team("Ops", &[]).await;
    let hand = app.create_user("hand@example.com", &[team]).await;
    let _ = hand;
    let shows = |body: &str| {
        (
            body.contains("grace@contoso.com"),
            body.contains("hand@example.com"),
            body.contains("owner@example.com</td>"),
        )
    };
    for (query, want) in [
        ("status=inactive", (true, false, false)),
        ("status=active", (false, true, true)),
        ("idp=hand", (false, true, true)),
        (format!("idp={}", s.idp).as_str(), (true, false, false)),
        (format!("team={team}").as_str(), (false, true, false)),
        (
            format!("team={team}&status=inactive").as_str(),
            (false, false, false),
        ),
    ] {
        let p = b.get(&format!("/console/users?{query}")).await;
        assert_eq!(p.status, StatusCode::OK, "{query}");
        assert_eq!(shows(&p.body), want, "{query}");
    }
    let p = b.get("/console/users?status=inactive").await;
    assert!(
        p.body.contains("<option value=\"inactive\" selected>"),
        "{}",
        p.body
    );
    // Markup in a name is shown, never run.
    let (_, v) = app
        .post(
            "/iam/users",
            serde_json::json!({"first_name": "<script>x</script>", "last_name": "L", "email": "xss@example.com"}),
        )
        .await;
    let p = b.get("/console/users?q=xss").await;
    assert!(
        p.body.contains("&#60;script&#62;x") && !p.body.contains("<script>x"),
        "{v}"
    );
    assert_eq!(
        b.get("/console/users/999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get("/console/users/abc").await.status,
        StatusCode::NOT_FOUND
    );
}

/// An owner makes a hand-made user's password link from the user's page; the link works.
async fn owners_make_password_links_in_the_console(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let hand = app.create_user("bob@example.com", &[]).await;
    let mut owner = Browser::new(app);
    owner.sign_in("owner@example.com", PASSWORD).await;
    let p = owner.get(&format!("/console/users/{hand}")).await;
    assert!(p.body.contains("Make a password link"), "{}", p.body);
    let csrf = p.csrf();
    let p = owner
        .post(
            &format!("/console/users/{hand}/password-link"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let link = p.text_of("password-link");
    let path = link.strip_prefix(&app.base).expect("a link to this server");
    let mut bob = Browser::new(app);
    let p = bob
        .post(path, &[("password", "bob's own long password")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(bob.get("/console/profile").await.status, StatusCode::OK);
    // Only owners make them, and not for provisioned users (no button, and refused).
    let p = bob.get("/console/profile").await;
    let csrf = p.csrf();
    let p = bob
        .post(
            &format!("/console/users/{hand}/password-link"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
}

/// A deactivated user's sessions end, and do not come back when it is activated again; a
/// password change ends every session of its user, and the old password stops working.
async fn deactivation_and_password_changes_end_sessions(app: &TestApp) {
    let hand = app.create_user("carol@example.com", &[]).await;
    with_password(app, "carol@example.com").await;
    let mut carol = Browser::new(app);
    carol.sign_in("carol@example.com", PASSWORD).await;
    assert_eq!(carol.get("/console/profile").await.status, StatusCode::OK);
    let kept = carol.cookie.clone();
    let (st, v) = app
        .patch(
            &format!("/iam/users/{hand}"),
            serde_json::json!({"is_active": false}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    app.patch(
        &format!("/iam/users/{hand}"),
        serde_json::json!({"is_active": true}),
    )
    .await;
    carol.cookie = kept;
    assert_eq!(
        carol.get("/console/profile").await.status,
        StatusCode::SEE_OTHER,
        "the session ended with the deactivation"
    );
    // Change the password: a wrong current one is refused, and counts as an attempt.
    let mut one = Browser::new(app);
    let mut two = Browser::new(app);
    one.sign_in("carol@example.com", PASSWORD).await;
    two.sign_in("carol@example.com", PASSWORD).await;
    let csrf = one.get("/console/profile").await.csrf();
    let p = one
        .post(
            "/console/profile/password",
            &[
                ("csrf", &csrf),
                ("current_password", "wrong wrong wrong"),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("not your current password"), "{}", p.body);
    let p = one
        .post(
            "/console/profile/password",
            &[
                ("csrf", &csrf),
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(
        one.get("/console/profile").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        two.get("/console/profile").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        Browser::new(app)
            .sign_in("carol@example.com", PASSWORD)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        Browser::new(app)
            .sign_in("carol@example.com", "a brand new passphrase")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

/// An owner registers a SAML provider, sees what to paste into Entra, switches it on, and its
/// provisioning log shows what SCIM did; others see no provider at all.
async fn identity_providers(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let mut b = Browser::new(app);
    b.sign_in("owner@example.com", PASSWORD).await;
    let p = b.get("/console/identity-providers").await;
    assert_eq!(p.status, StatusCode::OK);
    let csrf = p.csrf();
    let cert = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/idp-cert-sha256.pem"
    ))
    .unwrap();
    let form = |c: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "Entra ID".to_string()),
            (
                "sign_in_url",
                "https://login.microsoftonline.com/t/saml2".to_string(),
            ),
            ("entity_id_url", "https://sts.windows.net/t/".to_string()),
            ("certificate", c.to_string()),
        ]
    };
    // A broken certificate: the form comes back with what was typed and the reason.
    let bad = form("not a certificate");
    let p = b.post("/console/identity-providers", &refs(&bad)).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert!(p.body.contains("certificate") && p.body.contains("https://sts.windows.net/t/"));
    let good = form(&cert);
    let p = b.post("/console/identity-providers", &refs(&good)).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let page = p.location().to_string();
    let uuid = page.rsplit('/').next().unwrap().to_string();
    let p = b.get(&page).await;
    let scim_url = format!("{}/v4/users/scim/{uuid}/Users", app.base);
    assert!(p.body.contains(&scim_url), "{}", p.body);
    assert!(
        p.body
            .contains(&format!("/api/saml2v4/users/scim/{uuid}/login"))
    );
    assert!(p.body.contains("Nothing yet"));
    // Test connection: first it says what is missing, then it passes, as Entra's would.
    let csrf = p.csrf();
    let t = b
        .post(&format!("{page}/test-connection"), &[("csrf", &csrf)])
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    assert!(
        t.body.contains("SCIM is off") && !t.body.contains(">passed<"),
        "{}",
        t.body
    );
    // Switch it on.
    for field in ["is_active", "scim_integration"] {
        let p = b
            .post(
                &format!("{page}/settings"),
                &[("csrf", &csrf), (field, "true")],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    }
    let (_, v) = app
        .get(&format!("/iam/identity_providers/saml2/{uuid}"))
        .await;
    assert_eq!(
        (v["is_active"].as_bool(), v["scim_integration"].as_bool()),
        (Some(true), Some(true)),
        "{v}"
    );
    // Provision through it: the log on the page shows the request, and a failure with its reason.
    let t = b
        .post(&format!("{page}/test-connection"), &[("csrf", &csrf)])
        .await;
    assert_eq!(t.body.matches(">passed<").count(), 2, "{}", t.body);
    assert!(
        t.body.contains("GET /Users?filter=userName eq"),
        "{}",
        t.body
    );
    // A SCIM token, made on the page: a SCIM-only user's, shown once.
    let csrf = b.get(&page).await.csrf();
    let p = b
        .post(&format!("{page}/scim-token"), &[("csrf", &csrf)])
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let token = p.text_of("scim-token");
    assert!(!b.get(&page).await.body.contains(&token), "shown once");
    let (st, _) = app
        .call(reqwest::Method::GET, "/iam/users", Some(&token), None)
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "a SCIM token does SCIM only");
    // The IAM API makes them too.
    let (st, v) = app
        .post(
            &format!("/iam/identity_providers/saml2/{uuid}/scim_token"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert!(v["key"].as_str().unwrap().starts_with("azion"), "{v}");
    let post = |body: serde_json::Value| {
        app.client
            .post(format!("{}/v4/users/scim/{uuid}/Users", app.base))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/scim+json")
            .body(body.to_string())
            .send()
    };
    let user = ["urn:ietf:params:scim:schemas:core:2.0:User"];
    let r = post(serde_json::json!({"schemas": user, "userName": "grace@contoso.com"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = post(serde_json::json!({"schemas": user})).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let p = b.get(&page).await;
    assert!(p.body.contains("2 entries"), "{}", p.body);
    assert!(
        p.body.contains("created") && p.body.contains("failed"),
        "{}",
        p.body
    );
    assert!(
        p.body.contains("userName"),
        "the failure says why: {}",
        p.body
    );
    // The log's filters.
    for (query, want) in [
        ("result=failed", "1 entries"),
        ("outcome=created", "1 entries"),
        ("resource=Group", "No entries match"),
        ("outcome=bogus&result=succeeded&resource=User", "1 entries"),
    ] {
        let f = b.get(&format!("{page}?{query}")).await;
        assert!(f.body.contains(want), "{query}: {}", f.body);
    }
    let f = b.get(&format!("{page}?result=failed")).await;
    assert!(
        f.body.contains("hx-get=\"/console/identity-providers/"),
        "{}",
        f.body
    );
    assert!(
        f.body.contains("result=failed&#38;page=1"),
        "the refresh keeps the filter: {}",
        f.body
    );
    // The live log's refresh asks only whether a newer entry arrived: none, and htmx is told
    // there is nothing to change; one, and it gets the entries.
    let live = b.get(&page).await;
    let poll = live
        .body
        .split("id=\"log-entries\" hx-get=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a refreshing log")
        .replace("&#38;", "&");
    assert!(poll.contains("newest="), "{poll}");
    assert_eq!(b.htmx_get(&poll).await.status, StatusCode::NO_CONTENT);
    let r = post(serde_json::json!({"schemas": user, "userName": "alan@contoso.com"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let fresh = b.htmx_get(&poll).await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert!(fresh.body.contains("alan@contoso.com"), "{}", fresh.body);

    // The provider's tokens are listed on its page; revoking one comes back to it.
    assert_eq!(p.body.matches("/revoke\"").count(), 2, "{}", p.body);
    let first = p.body.split("/console/tokens/").nth(1).unwrap()[..36].to_string();
    let csrf = p.csrf();
    let r = b
        .post(
            &format!("/console/tokens/{first}/revoke"),
            &[("csrf", &csrf), ("back", &page)],
        )
        .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, page.as_str())
    );
    assert_eq!(b.get(&page).await.body.matches("/revoke\"").count(), 1);
    // A user without owner rights has no such pages.
    let hand = app.create_user("dan@example.com", &[]).await;
    let _ = hand;
    with_password(app, "dan@example.com").await;
    let mut dan = Browser::new(app);
    dan.sign_in("dan@example.com", PASSWORD).await;
    assert!(
        !dan.get("/console/profile")
            .await
            .body
            .contains("Identity providers")
    );
    assert_eq!(
        dan.get("/console/identity-providers").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(dan.get(&page).await.status, StatusCode::FORBIDDEN);
}

/// Teams: the list, a provisioned team read-only with its members paged by user id; a user's
/// provisioning history on its page.
async fn teams_and_history(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let s = app.scim().await;
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(s.user(&format!("m{i:02}@example.com")).await);
    }
    let members: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| serde_json::json!({"value": id}))
        .collect();
    let r = s
        .post(
            "/Groups",
            serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sixty", "members": members}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let team = app.iam_id("teams", r.body["id"].as_str().unwrap()).await;
    let mut b = Browser::new(app);
    b.sign_in("owner@example.com", PASSWORD).await;
    let p = b.get("/console/teams").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.body.contains("Sixty") && p.body.contains("identity provider"),
        "{}",
        p.body
    );
    let p = b.get(&format!("/console/teams/{team}")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("read-only"), "{}", p.body);
    assert_eq!(
        p.body.matches("/console/users/").count(),
        50,
        "a page of 50 members"
    );
    let next = p
        .body
        .split("href=\"/console/teams/")
        .find_map(|h| h.split('"').next().filter(|l| l.contains("after=")))
        .map(|l| format!("/console/teams/{}", l.replace("&amp;", "&")))
        .expect("a next page");
    let p = b.get(&next).await;
    assert_eq!(p.body.matches("/console/users/").count(), 10, "{}", p.body);
    assert!(p.body.contains("m59@example.com") && !p.body.contains("m00@example.com"));
    assert_eq!(
        b.get("/console/teams/999999").await.status,
        StatusCode::NOT_FOUND
    );
    // A user's page shows what the provider did to it, newest first.
    let r = s
        .patch_ops(
            &format!("/Users/{}", ids[0]),
            serde_json::json!([{"op": "replace", "path": "title", "value": "Engineer"}]),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let user = app.iam_id("users", &ids[0]).await;
    let p = b.get(&format!("/console/users/{user}")).await;
    let updated = p.body.find("updated").expect("the update");
    let created = p.body.find("created").expect("the create");
    assert!(updated < created, "newest first");
    assert!(p.body.contains("Engineer"), "the change: {}", p.body);
}

/// Hand-made users are edited in the console; provisioned users' fields are their provider's;
/// deleting asks first, and then the IAM API agrees.
async fn editing_and_deleting_users(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let hand = app.create_user("erin@example.com", &[]).await;
    let s = app.scim().await;
    let provisioned = app
        .iam_id("users", &s.user("frank@contoso.com").await)
        .await;
    let mut b = Browser::new(app);
    b.sign_in("owner@example.com", PASSWORD).await;
    let p = b.get(&format!("/console/users/{hand}")).await;
    assert!(p.body.contains("action=\"/console/users/"), "{}", p.body);
    let csrf = p.csrf();
    let edit = format!("/console/users/{hand}/edit");
    let r = b
        .post(
            &edit,
            &[
                ("csrf", &csrf),
                ("first_name", "Erin"),
                ("last_name", "Hale"),
                ("email", "erin.hale@example.com"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, v) = app.get(&format!("/iam/users/{hand}")).await;
    assert_eq!(
        (
            v["data"]["first_name"].as_str(),
            v["data"]["email"].as_str()
        ),
        (Some("Erin"), Some("erin.hale@example.com"))
    );
    let r = b
        .post(
            &edit,
            &[
                ("csrf", &csrf),
                ("first_name", "Erin"),
                ("email", "not an email"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let (_, v) = app.get(&format!("/iam/users/{hand}")).await;
    assert_eq!(
        v["data"]["email"], "erin.hale@example.com",
        "nothing half-written"
    );
    // A provisioned user has no edit form, and an edit is refused.
    let p = b.get(&format!("/console/users/{provisioned}")).await;
    assert!(!p.body.contains("/edit\""), "{}", p.body);
    let r = b
        .post(
            &format!("/console/users/{provisioned}/edit"),
            &[
                ("csrf", &csrf),
                ("first_name", "X"),
                ("email", "x@example.com"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Delete: a confirmation, then gone.
    let p = b.get(&format!("/console/users/{hand}/delete")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("cannot be undone"), "{}", p.body);
    let r = b
        .post(&format!("/console/users/{hand}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/console/users")
    );
    assert_eq!(
        app.get(&format!("/iam/users/{hand}")).await.0,
        StatusCode::NOT_FOUND
    );
}

/// The owner renames the account; others cannot see its settings.
async fn account_settings(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let mut b = Browser::new(app);
    b.sign_in("owner@example.com", PASSWORD).await;
    let p = b.get("/console/account").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let csrf = p.csrf();
    let r = b
        .post(
            "/console/account",
            &[
                ("csrf", &csrf),
                ("name", "Contoso Directory"),
                ("company_name", "Contoso"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Saved.") && r.body.contains("Contoso Directory"));
    let (_, v) = app.get("/iam/account").await;
    assert_eq!(v["data"]["name"], "Contoso Directory", "{v}");
    let r = b
        .post(
            "/console/account",
            &[("csrf", &csrf), ("name", "  "), ("company_name", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let (_, v) = app.get("/iam/account").await;
    assert_eq!(v["data"]["name"], "Contoso Directory", "unchanged: {v}");
    app.create_user("gus@example.com", &[]).await;
    with_password(app, "gus@example.com").await;
    let mut gus = Browser::new(app);
    gus.sign_in("gus@example.com", PASSWORD).await;
    assert_eq!(
        gus.get("/console/account").await.status,
        StatusCode::FORBIDDEN
    );
}

both!(
    account_settings,
    editing_and_deleting_users,
    teams_and_history,
    identity_providers,
    owners_make_password_links_in_the_console,
    deactivation_and_password_changes_end_sessions,
    sign_in_and_out,
    sign_in_failures_are_alike_and_slowed,
    sessions_expire_and_end_everywhere,
    forms_need_the_csrf_token,
    password_links_work_once,
    accounts_are_chosen_and_kept_apart,
    users_management,
);
