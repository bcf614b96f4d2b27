//! Two-factor sign-in to the console over HTTP: turning TOTP on with a first code, signing in
//! with a code (each used once) or a recovery code (each used once), turning it off with the
//! password; an owner requiring it of the account (once the owner has it), users setting it up
//! at their next sign-in, and resetting a user's.

use crate::both;
use crate::browser::*;
use crate::harness::*;
use reqwest::StatusCode;
use serde_json::Value;

/// The TOTP code of base32 `secret` at the app's clock, `steps` 30-second steps on.
fn code_at(app: &TestApp, secret: &str, steps: i64) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .with_account_name("test")
        .build()
        .unwrap();
    let t = roster_core::clock::Clock::now(app.clock.as_ref()).timestamp() + steps * 30;
    totp.generate(u64::try_from(t).unwrap()).to_string()
}

/// The recovery codes a page shows.
fn recovery_codes(p: &Page) -> Vec<String> {
    let at = p
        .body
        .find("id=\"recovery-codes\"")
        .expect("recovery codes");
    let list = &p.body[at..p.body[at..].find("</ul>").unwrap() + at];
    list.split("<span class=\"key\">")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_string())
        .collect()
}

/// Turn two-factor sign-in on from the profile of a signed-in browser: its secret and
/// recovery codes.
async fn turn_on(b: &mut Browser<'_>) -> (String, Vec<String>) {
    let page = b.get("/console/profile/two-factor").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    let r = b
        .post("/console/profile/two-factor/start", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get("/console/profile/two-factor").await;
    assert!(page.body.contains("<svg role=\"img\""), "a QR code");
    let secret = page.text_of("totp-secret");
    // A wrong code turns nothing on.
    let right = code_at(b.app, &secret, 0);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = b
        .post(
            "/console/profile/two-factor/confirm",
            &[("csrf", &csrf), ("code", wrong)],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("That code does not fit"), "{}", r.body);
    let r = b
        .post(
            "/console/profile/two-factor/confirm",
            &[("csrf", &csrf), ("code", &right)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Two-factor sign-in is on."), "{}", r.body);
    let codes = recovery_codes(&r);
    assert_eq!(codes.len(), 10, "{codes:?}");
    (secret, codes)
}

async fn iam_user(app: &TestApp, email: &str) -> Value {
    let (_, v) = app.get(&format!("/iam/users?search={email}")).await;
    v["results"]
        .as_array()
        .and_then(|a| a.iter().find(|u| u["email"] == email))
        .cloned()
        .unwrap_or_else(|| panic!("no {email}: {v}"))
}

async fn two_factor_sign_in(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let mut b = Browser::new(app);
    b.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(
        iam_user(app, "owner@example.com").await["two_factor_enabled"],
        false
    );
    let (secret, codes) = turn_on(&mut b).await;
    assert_eq!(
        iam_user(app, "owner@example.com").await["two_factor_enabled"],
        true,
        "the IAM API shows it"
    );

    // The password alone no longer signs in: the session waits for a code and does nothing else.
    let mut c = Browser::new(app);
    let r = c.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/console/sign-in/code?next=%2Fconsole");
    let pending = c.cookie.clone().expect("a pending session");
    let r = c.get("/console").await;
    assert_eq!(r.location(), "/console/sign-in/code");
    let r = c.get("/console/tokens").await;
    assert_eq!(
        r.location(),
        "/console/sign-in/code",
        "no page before the code"
    );
    let page = c.get("/console/sign-in/code").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("owner@example.com"));
    let csrf = page.csrf();
    // Without the form's CSRF token: refused.
    let r = c.post("/console/sign-in/code", &[("code", "123456")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The code used to turn it on is not accepted again.
    let used = code_at(app, &secret, 0);
    let r = c
        .post("/console/sign-in/code", &[("csrf", &csrf), ("code", &used)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(r.body.contains("That code does not fit"));
    // The next step's code signs in, with a new session key.
    app.clock.advance(chrono::Duration::seconds(30));
    let next = code_at(app, &secret, 0);
    let r = c
        .post(
            "/console/sign-in/code",
            &[
                ("csrf", &csrf),
                ("code", &format!(" {} {} ", &next[..3], &next[3..])),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/console");
    assert_ne!(c.cookie.as_deref(), Some(pending.as_str()), "a new key");
    assert_eq!(c.get("/console").await.status, StatusCode::OK);
    // The waiting session's key is gone.
    let mut stale = Browser::new(app);
    stale.cookie = Some(pending);
    assert_eq!(
        stale.get("/console/sign-in/code").await.location(),
        "/console/sign-in"
    );
    // The same code does not sign in a second browser.
    let mut d = Browser::new(app);
    d.sign_in("owner@example.com", PASSWORD).await;
    let csrf = d.get("/console/sign-in/code").await.csrf();
    let r = d
        .post("/console/sign-in/code", &[("csrf", &csrf), ("code", &next)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // A recovery code signs in once, typed any way.
    let typed = codes[0].replace('-', "").to_uppercase();
    let r = d
        .post(
            "/console/sign-in/code",
            &[("csrf", &csrf), ("code", &typed)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(d.get("/console").await.status, StatusCode::OK);
    let mut e = Browser::new(app);
    e.sign_in("owner@example.com", PASSWORD).await;
    let csrf = e.get("/console/sign-in/code").await.csrf();
    let r = e
        .post(
            "/console/sign-in/code",
            &[("csrf", &csrf), ("code", &codes[0])],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "used up");
    // Cancelling the waiting sign-in signs out.
    let r = e.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(e.cookie.is_none());
    let page = b.get("/console/profile/two-factor").await;
    assert!(page.body.contains("9 recovery codes left"), "{}", page.body);

    // New recovery codes replace the old ones (with the password).
    let csrf = page.csrf();
    let r = b
        .post(
            "/console/profile/two-factor/recovery-codes",
            &[("csrf", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let fresh = recovery_codes(&r);
    assert_eq!(fresh.len(), 10);
    let mut f = Browser::new(app);
    f.sign_in("owner@example.com", PASSWORD).await;
    let csrf_f = f.get("/console/sign-in/code").await.csrf();
    let r = f
        .post(
            "/console/sign-in/code",
            &[("csrf", &csrf_f), ("code", &codes[1])],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "old codes are gone");

    // Turning it off takes the password.
    let r = b
        .post(
            "/console/profile/two-factor/off",
            &[("csrf", &csrf), ("password", "not it at all")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("not your current password"));
    let r = b
        .post(
            "/console/profile/two-factor/off",
            &[("csrf", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        iam_user(app, "owner@example.com").await["two_factor_enabled"],
        false
    );
    let mut g = Browser::new(app);
    let r = g.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(r.location(), "/console", "the password alone again");
}

async fn account_requires_two_factor(app: &TestApp) {
    with_password(app, "owner@example.com").await;
    let gus_id = app.create_user("gus@example.com", &[]).await;
    with_password(app, "gus@example.com").await;
    let mut owner = Browser::new(app);
    owner.sign_in("owner@example.com", PASSWORD).await;
    let mut gus = Browser::new(app);
    assert_eq!(
        gus.sign_in("gus@example.com", PASSWORD).await.location(),
        "/console"
    );

    // The owner must have it first.
    let csrf = owner.get("/console/account").await.csrf();
    let r = owner
        .post(
            "/console/account/two-factor",
            &[("csrf", &csrf), ("require", "on")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("for yourself first"), "{}", r.body);
    let (_, a) = app.get("/iam/account").await;
    assert_eq!(a["data"]["is_enabled_mfa_to_all_users"], false, "{a}");
    let (s, v) = app
        .patch(
            "/iam/account",
            serde_json::json!({"is_enabled_mfa_to_all_users": true}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the IAM API's rule too: {v}");

    turn_on(&mut owner).await;
    let r = owner
        .post(
            "/console/account/two-factor",
            &[("csrf", &csrf), ("require", "on")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (_, a) = app.get("/iam/account").await;
    assert_eq!(a["data"]["is_enabled_mfa_to_all_users"], true, "{a}");
    // Gus's session ended; the owner's did not.
    assert!(
        gus.get("/console")
            .await
            .location()
            .starts_with("/console/sign-in?")
    );
    assert_eq!(owner.get("/console").await.status, StatusCode::OK);

    // Gus sets it up at his next sign-in, and nothing else happens before.
    let r = gus.sign_in("gus@example.com", PASSWORD).await;
    assert_eq!(r.location(), "/console/sign-in/two-factor");
    assert_eq!(
        gus.get("/console/users").await.location(),
        "/console/sign-in/two-factor"
    );
    let page = gus.get("/console/sign-in/two-factor").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    let r = gus
        .post("/console/tokens", &[("csrf", &csrf), ("description", "x")])
        .await;
    assert_eq!(r.location(), "/console/sign-in/two-factor", "no token");
    let r = gus
        .post("/console/sign-in/two-factor/start", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = gus.get("/console/sign-in/two-factor").await;
    let secret = page.text_of("totp-secret");
    let r = gus
        .post(
            "/console/sign-in/two-factor",
            &[("csrf", &csrf), ("code", "12345x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = gus
        .post(
            "/console/sign-in/two-factor",
            &[("csrf", &csrf), ("code", &code_at(app, &secret, 0))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(recovery_codes(&r).len(), 10);
    assert_eq!(
        gus.get("/console/profile").await.status,
        StatusCode::OK,
        "signed in"
    );
    // Required: it cannot be turned off.
    let csrf = gus.get("/console/profile/two-factor").await.csrf();
    let r = gus
        .post(
            "/console/profile/two-factor/off",
            &[("csrf", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // The owner resets Gus's (a lost phone): his sessions end; he sets it up again.
    let page = owner.get(&format!("/console/users/{gus_id}")).await;
    assert!(
        page.body.contains("Reset two-factor sign-in"),
        "{}",
        page.body
    );
    let r = owner
        .post(
            &format!("/console/users/{gus_id}/reset-two-factor"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        gus.get("/console")
            .await
            .location()
            .starts_with("/console/sign-in?")
    );
    let r = gus.sign_in("gus@example.com", PASSWORD).await;
    assert_eq!(r.location(), "/console/sign-in/two-factor");
    // A sign-in left waiting ends after 15 minutes.
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        gus.get("/console/sign-in/two-factor").await.location(),
        "/console/sign-in"
    );
}

both!(two_factor_sign_in, account_requires_two_factor);
