//! The service functions every front end calls. Each one authorises the [`Principal`], validates
//! its input, and runs its reads and writes in one store transaction.

mod accounts;
mod auth;
mod bootstrap;
mod browse;
mod idps;
mod maintenance;
mod operator;
mod overview;
mod passwords;
mod saml;
mod scim_tokens;
mod sessions;
mod teams;
mod tokens;
mod two_factor;
mod users;

pub use accounts::AccountPatch;
pub use auth::Principal;
pub use bootstrap::Bootstrapped;
pub use browse::{Browsed, COUNT_CAP};
pub use idps::{IdpInput, ProvisionedUsers};
pub use maintenance::LogRetention;
pub use operator::{
    CreatedAccount, CreatedOperatorToken, NewAccountInput, OPERATOR_TOKEN_DAYS, Operator,
    OperatorAccountPatch,
};
pub use overview::{ACTIVITY_HOURS, Overview};
pub use passwords::{LinkKey, PASSWORD_LINK_HOURS, PASSWORD_MIN_CHARS};
pub use scim_tokens::{SCIM_TEAM, SCIM_TOKEN_DAYS, scim_user_email};
pub use sessions::{
    KEY_HEX_LEN, PENDING_MINUTES, SESSION_HOURS, SESSION_IDLE_MINUTES, SessionKey, SignIn,
    SignInThrottle, csrf_matches, csrf_token,
};
pub use teams::TeamInput;
pub use tokens::{CreatedToken, TokenInput};
pub use two_factor::{RECOVERY_CODES, TotpSetup, TwoFactor};
pub use users::{ProfileInput, UserInput};

use crate::clock::Clock;
use crate::error::{CoreError, FieldErrors};
use crate::store::{ListParams, SortKey, Store};
use std::sync::Arc;
use uuid::Uuid;

/// Base URLs used only to render links (`login_url`, `scim_url`, ...). No trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrls {
    /// Where the IAM API is served (`https://roster.example.com`).
    pub api: String,
    /// The v4 base (`<api>/v4` by default); `scim_url` derives from it.
    pub v4: String,
    /// The SSO base (`<api>` by default); SAML/OIDC sign-in URLs derive from it.
    pub sso: String,
}

impl PublicUrls {
    pub fn from_base(base: &str) -> Self {
        let b = base.trim_end_matches('/').to_string();
        Self {
            v4: format!("{b}/v4"),
            sso: b.clone(),
            api: b,
        }
    }
    /// `<v4>/users/scim/{uuid}/Users`, the value the guide tells admins to paste into Entra.
    pub fn scim_url(&self, idp: Uuid) -> String {
        format!("{}/users/scim/{idp}/Users", self.v4)
    }
    /// The SAML SP sign-on URL (also the ACS, as in Azion's guide).
    pub fn saml_login_url(&self, idp: Uuid) -> String {
        format!("{}/api/saml2v4/users/scim/{idp}/login", self.sso)
    }
    /// The console page where a one-time link's holder chooses a password.
    pub fn password_link_url(&self, key: &str) -> String {
        format!("{}/console/password/{key}", self.api)
    }
    pub fn saml_metadata_url(&self, idp: Uuid) -> String {
        format!("{}/api/saml2v4/users/scim/{idp}/metadata", self.sso)
    }
    pub fn oidc_login_url(&self, idp: Uuid) -> String {
        format!("{}/api/oidc/{idp}/login", self.sso)
    }
    pub fn oidc_redirect_url(&self, idp: Uuid) -> String {
        format!("{}/api/oidc/{idp}/callback", self.sso)
    }
}

/// The application: a store, a clock and the public URLs.
#[derive(Clone)]
pub struct Roster {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    urls: PublicUrls,
    signals: Arc<crate::security::SecuritySignals>,
    /// Seals the secrets Roster stores and must use (OIDC client secrets).
    pub(crate) keys: Arc<crate::seal::SecretKey>,
    /// Failed console sign-ins, per email and per address (in memory).
    pub(crate) sign_ins: Arc<sessions::SignInThrottle>,
}

impl std::fmt::Debug for Roster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Roster")
            .field("store", &self.store.backend())
            .field("urls", &self.urls)
            .finish()
    }
}

impl Roster {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        urls: PublicUrls,
        keys: crate::seal::SecretKey,
    ) -> Self {
        // The SCIM resource contexts are built here, at start-up, not on a first request: their
        // one invariant (the core registry holds User and Group) is checked before serving.
        crate::scim::user_ctx();
        crate::scim::group_ctx();
        Self {
            store,
            clock,
            urls,
            signals: Arc::default(),
            keys: Arc::new(keys),
            sign_ins: Arc::default(),
        }
    }
    /// Refused requests counted in memory (never stored).
    pub fn signals(&self) -> &crate::security::SecuritySignals {
        &self.signals
    }
    pub fn urls(&self) -> &PublicUrls {
        &self.urls
    }
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
    /// Is the database reachable?
    pub async fn health(&self) -> Result<&'static str, CoreError> {
        self.store.ping().await?;
        Ok(self.store.backend())
    }
}

/// A page request as the IAM API receives it (`page` is 1-based).
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub page: Option<String>,
    pub page_size: Option<String>,
    pub ordering: Option<String>,
    pub search: Option<String>,
}

pub const DEFAULT_PAGE_SIZE: i64 = 10;
pub const MAX_PAGE_SIZE: i64 = 1000;

/// One page of a list, with what the caller needs to render links.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
}

impl<T> Listed<T> {
    pub fn total_pages(&self) -> i64 {
        if self.total == 0 {
            1
        } else {
            (self.total + self.page_size - 1) / self.page_size
        }
    }
}

impl ListRequest {
    /// Validate against the sort keys a resource offers (`(name, key)`; the first is the default
    /// unless `default` says otherwise).
    pub(crate) fn params(
        &self,
        sorts: &[(&str, SortKey)],
        default: (SortKey, bool),
    ) -> Result<(ListParams, i64), CoreError> {
        let mut errs = FieldErrors::new();
        let page = parse_positive(&mut errs, "page", self.page.as_deref(), 1);
        let page_size = parse_positive(
            &mut errs,
            "page_size",
            self.page_size.as_deref(),
            DEFAULT_PAGE_SIZE,
        );
        if page_size > MAX_PAGE_SIZE {
            errs.add(
                "page_size",
                format!("Ensure this value is less than or equal to {MAX_PAGE_SIZE}."),
            );
        }
        let (mut sort, mut descending) = default;
        if let Some(o) = self
            .ordering
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            // DRF accepts a comma-separated list; Roster sorts by the first key (ties by id).
            let first = o.split(',').next().unwrap_or(o).trim();
            let (desc, name) = match first.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, first),
            };
            match sorts.iter().find(|(n, _)| *n == name) {
                Some((_, k)) => {
                    sort = *k;
                    descending = desc;
                }
                None => {
                    let names: Vec<&str> = sorts.iter().map(|(n, _)| *n).collect();
                    errs.add(
                        "ordering",
                        format!(
                            "Cannot order by \"{name}\"; choose one of: {}.",
                            names.join(", ")
                        ),
                    );
                }
            }
        }
        errs.into_result()?;
        let search = self
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            // No stored text holds NUL (PostgreSQL refuses it in a query, too).
            .map(|s| crate::validate::fold(&s.replace('\0', "")));
        let offset = (page - 1).saturating_mul(page_size);
        Ok((
            ListParams {
                offset,
                limit: page_size,
                sort,
                descending,
                search,
            },
            page,
        ))
    }
}

fn parse_positive(errs: &mut FieldErrors, field: &str, v: Option<&str>, default: i64) -> i64 {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => default,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 1 => n,
            _ => {
                errs.add(
                    field,
                    format!(
                        "\"{s}\" is not a valid {field}: expected a whole number of at least 1."
                    ),
                );
                default
            }
        },
    }
}

/// DRF answers a page past the end with 404 "Invalid page."; so does Roster.
pub(crate) fn check_page<T>(listed: Listed<T>) -> Result<Listed<T>, CoreError> {
    if listed.page > listed.total_pages() {
        return Err(CoreError::NotFound("Page"));
    }
    Ok(listed)
}
