//! A browser without JavaScript, for the console's tests: one cookie, forms, no redirects
//! followed.

use crate::harness::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use roster_core::Secret;

/// A browser without JavaScript: one cookie, no redirects followed.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub client: reqwest::Client,
    pub cookie: Option<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// The text of the element whose id is `id` (a key or link shown once).
    pub fn text_of(&self, id: &str) -> String {
        let open = format!("id=\"{id}\">");
        let at = self
            .body
            .find(&open)
            .unwrap_or_else(|| panic!("no #{id}: {}", self.body));
        let rest = &self.body[at + open.len()..];
        rest[..rest.find('<').unwrap_or(rest.len())].to_string()
    }

    /// The value of the first `name="csrf"` hidden field.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a CSRF field")
            + 19;
        self.body[at..at + 64].to_string()
    }
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    pub async fn send(&mut self, rb: reqwest::RequestBuilder) -> Page {
        let rb = match &self.cookie {
            Some(c) => rb.header("Cookie", format!("roster_session={c}")),
            None => rb,
        };
        let resp = rb.send().await.unwrap();
        let headers = resp.headers().clone();
        for v in headers.get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            if let Some(rest) = v.strip_prefix("roster_session=") {
                let value = rest.split(';').next().unwrap_or("");
                self.cookie = (!value.is_empty()).then(|| value.to_string());
            }
        }
        Page {
            status: resp.status(),
            headers,
            body: resp.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let rb = self.client.get(self.app.url(path));
        self.send(rb).await
    }

    /// A GET as htmx sends it.
    pub async fn htmx_get(&mut self, path: &str) -> Page {
        let rb = self
            .client
            .get(self.app.url(path))
            .header("HX-Request", "true");
        self.send(rb).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let rb = self
            .client
            .post(self.app.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap());
        self.send(rb).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        self.post(
            "/console/sign-in",
            &[
                ("email", email),
                ("password", password),
                ("next", "/console"),
            ],
        )
        .await
    }
}

/// Form pairs with owned values, as `Browser::post` takes them.
pub fn refs<'f>(f: &'f [(&'static str, String)]) -> Vec<(&'static str, &'f str)> {
    f.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

pub const PASSWORD: &str = "correct horse battery staple";

pub async fn with_password(app: &TestApp, email: &str) {
    app.roster
        .set_password(None, email, &Secret::new(PASSWORD))
        .await
        .unwrap();
}
