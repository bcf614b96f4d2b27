//! The pages, one struct per template. Values are text already formatted for people.

use crate::assets::AssetUrls;
use askama::Template;

/// What every signed-in page shows around its content.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub csrf: String,
    pub user_email: String,
    pub account_name: String,
    pub nav: Vec<NavItem>,
    pub assets: AssetUrls,
}

#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// An option of a filter.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Debug, Clone)]
pub struct AccountChoice {
    pub id: i64,
    pub name: String,
}

#[derive(Template, Debug)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    pub css: String,
    pub email: String,
    pub next: String,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub accounts: Vec<AccountChoice>,
}

#[derive(Template, Debug)]
#[template(path = "password.html")]
pub struct PasswordPage {
    pub css: String,
    pub key: String,
    /// `None`: the link is used or expired.
    pub email: Option<String>,
    pub error: Option<String>,
    pub min_chars: usize,
}

#[derive(Template, Debug)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
}

#[derive(Template, Debug)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub layout: Layout,
    pub users_active: i64,
    pub users_inactive: i64,
    pub teams: i64,
    pub idps: i64,
    pub requests_24h: i64,
    pub failures_24h: i64,
    /// Built from numbers only (see `activity_svg`).
    pub activity_svg: String,
}

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub provisioned_by: String,
    pub teams: String,
    pub modified: String,
}

#[derive(Template, Debug)]
#[template(path = "users.html")]
pub struct UsersPage {
    pub layout: Layout,
    pub q: String,
    pub statuses: Vec<Choice>,
    pub idps: Vec<Choice>,
    pub teams: Vec<Choice>,
    pub summary: String,
    pub rows: Vec<UserRow>,
    pub previous: Option<String>,
    /// A search's later page: the link to its first page.
    pub first: Option<String>,
    pub next: Option<String>,
}

#[derive(Template, Debug)]
#[template(path = "user.html")]
pub struct UserPage {
    pub layout: Layout,
    pub notice: Option<String>,
    pub id: i64,
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub active: bool,
    pub status: &'static str,
    pub status_class: &'static str,
    pub owner: bool,
    pub scim_id: String,
    pub external_id: String,
    pub joined: String,
    pub modified: String,
    pub teams: String,
    pub managed_by: Option<String>,
    pub can_edit: bool,
    /// May the viewer make this user a one-time password link?
    pub can_link: bool,
    /// A link just made (shown this once).
    pub link: Option<String>,
    /// The user has two-factor sign-in on, and the viewer (an owner) may reset it.
    pub can_reset_two_factor: bool,
    /// What identity providers did to the user, newest first.
    pub history: Vec<LogRow>,
    pub scim_doc: String,
}

#[derive(Template, Debug)]
#[template(path = "user_delete.html")]
pub struct UserDeletePage {
    pub layout: Layout,
    pub id: i64,
    pub name: String,
    pub email: String,
    pub managed_by: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub uuid: String,
    pub name: String,
    pub prefix: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
}

#[derive(Template, Debug)]
#[template(path = "tokens.html")]
pub struct TokensPage {
    pub layout: Layout,
    pub tokens: Vec<TokenRow>,
    /// Where revoking one returns (`None`: this page).
    pub token_back: Option<String>,
    pub new_key: Option<String>,
    pub error: Option<String>,
    pub default_expiry: String,
}

#[derive(Template, Debug)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub layout: Layout,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub id: i64,
    pub name: String,
    pub company_name: String,
    pub created: String,
    pub require_two_factor: bool,
}

#[derive(Template, Debug)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    pub layout: Layout,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub min_chars: usize,
    pub two_factor_on: bool,
}

#[derive(Debug, Clone)]
pub struct IdpRow {
    pub uuid: String,
    pub name: String,
    pub protocol: &'static str,
    pub active: &'static str,
    pub active_class: &'static str,
    pub scim: &'static str,
    pub scim_class: &'static str,
}

/// What the registration form was sent with (shown again with its errors).
#[derive(Debug, Clone, Default)]
pub struct IdpForm {
    pub name: String,
    pub sign_in_url: String,
    pub entity_id_url: String,
    pub certificate: String,
    pub federation_metadata_xml: String,
}

/// A signing certificate of an identity provider, as its page lists it.
#[derive(Debug, Clone)]
pub struct CertRow {
    pub subject: String,
    pub fingerprint: String,
    pub not_after: String,
    /// `valid`, `expires in N days`, `expired`; and its badge class.
    pub status: String,
    pub status_class: &'static str,
}

#[derive(Template, Debug)]
#[template(path = "idps.html")]
pub struct IdpsPage {
    pub layout: Layout,
    pub rows: Vec<IdpRow>,
    pub form: IdpForm,
    pub error: Option<String>,
}

/// One request of a test connection, and its result.
#[derive(Debug, Clone)]
pub struct ConnectionRow {
    pub request: String,
    pub status: u16,
    pub class: &'static str,
    pub verdict: &'static str,
    pub detail: String,
}

/// A value to paste into the identity provider, with a copy button.
#[derive(Debug, Clone)]
pub struct CopyUrl {
    pub id: &'static str,
    pub label: &'static str,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct LogRow {
    pub status: i64,
    pub class: &'static str,
    pub outcome: String,
    pub method: String,
    pub resource: String,
    pub at: String,
    pub path: String,
    pub request_id: Option<String>,
    pub detail: Option<String>,
    pub tolerances: String,
    pub changes: String,
}

#[derive(Template, Debug)]
#[template(path = "idp.html")]
pub struct IdpPage {
    pub layout: Layout,
    pub notice: Option<String>,
    /// A SAML provider's signing certificates (empty for OIDC).
    pub certificates: Vec<CertRow>,
    /// A warning about them (one expires within 30 days, or has expired).
    pub certificate_warning: Option<String>,
    pub is_saml: bool,
    /// A SCIM token just made (shown this once).
    pub new_token: Option<String>,
    /// The provider's SCIM tokens.
    pub tokens: Vec<TokenRow>,
    /// Where revoking one returns (this page).
    pub token_back: Option<String>,
    /// The results of a test connection just run.
    pub checks: Option<Vec<ConnectionRow>>,
    pub uuid: String,
    pub name: String,
    pub urls: Vec<CopyUrl>,
    pub is_active: bool,
    pub active: &'static str,
    pub active_class: &'static str,
    pub scim_on: bool,
    pub scim: &'static str,
    pub scim_class: &'static str,
    pub page: i64,
    /// The URL the log refreshes from (this page, with its filters).
    /// The live log's refresh URL (the first page only).
    pub poll: Option<String>,
    pub outcomes: Vec<Choice>,
    pub results: Vec<Choice>,
    pub resources: Vec<Choice>,
    pub log_summary: String,
    pub log: Vec<LogRow>,
    pub previous: Option<String>,
    pub next: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TeamRow {
    pub id: i64,
    pub name: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub managed_by: String,
    pub permissions: String,
    pub modified: String,
}

#[derive(Template, Debug)]
#[template(path = "teams.html")]
pub struct TeamsPage {
    pub layout: Layout,
    pub q: String,
    pub summary: String,
    pub rows: Vec<TeamRow>,
    pub previous: Option<String>,
    pub next: Option<String>,
}

#[derive(Template, Debug)]
#[template(path = "team.html")]
pub struct TeamPage {
    pub layout: Layout,
    pub id: i64,
    pub name: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub scim_id: String,
    pub permissions: String,
    pub modified: String,
    pub managed_by: Option<String>,
    pub members_summary: String,
    pub members: Vec<UserRow>,
    pub first: Option<String>,
    pub next: Option<String>,
}

/// Provisioning activity per hour as an SVG bar chart: `hours` oldest first, each (requests,
/// failures). Made of numbers only, so it is safe to embed unescaped.
pub fn activity_svg(hours: &[(i64, i64)], first_label: &str, last_label: &str) -> String {
    let (w, h, pad) = (840.0_f64, 160.0_f64, 18.0_f64);
    let max = hours.iter().map(|(r, _)| *r).max().unwrap_or(0).max(1) as f64;
    let n = hours.len().max(1) as f64;
    let bw = (w - 2.0 * pad) / n;
    let mut out = format!(
        "<svg class=\"activity\" viewBox=\"0 0 {w} {}\" role=\"img\" aria-label=\"Provisioning requests per hour over the last 7 days, most {max} in an hour\">",
        h + 20.0
    );
    out.push_str(&format!(
        "<line class=\"axis\" x1=\"{pad}\" y1=\"{h}\" x2=\"{}\" y2=\"{h}\"/>",
        w - pad
    ));
    for (i, (req, failed)) in hours.iter().enumerate() {
        let x = pad + i as f64 * bw;
        let rh = (*req as f64 / max) * (h - pad);
        let fh = (*failed as f64 / max) * (h - pad);
        if *req > 0 {
            out.push_str(&format!(
                "<rect class=\"bar\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{rh:.1}\"/>",
                h - rh,
                (bw - 0.5).max(0.5)
            ));
        }
        if *failed > 0 {
            out.push_str(&format!(
                "<rect class=\"bar failed\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{fh:.1}\"/>",
                h - fh,
                (bw - 0.5).max(0.5)
            ));
        }
    }
    let safe = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || " -:".contains(*c))
            .collect()
    };
    out.push_str(&format!(
        "<text x=\"{pad}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text></svg>",
        h + 14.0,
        safe(first_label),
        w - pad,
        h + 14.0,
        safe(last_label)
    ));
    out
}

/// A TOTP secret being set up, as its page shows it.
#[derive(Debug, Clone)]
pub struct TotpSetupView {
    /// The QR code of the `otpauth://` URI, as inline SVG markup (made by [`crate::qr_svg`]).
    pub qr_svg: String,
    pub secret: String,
}

/// The second step of a sign-in: the code, or setting two-factor sign-in up when the account
/// requires it (then the recovery codes, once).
#[derive(Template, Debug)]
#[template(path = "sign_in_code.html")]
pub struct SignInCodePage {
    pub title: String,
    pub assets: AssetUrls,
    pub csrf: String,
    pub email: String,
    pub error: Option<String>,
    /// Setting two-factor up, not giving a code.
    pub enroll: bool,
    pub setup: Option<TotpSetupView>,
    /// Recovery codes just made (shown once).
    pub codes: Vec<String>,
    /// Where the sign-in goes once done.
    pub next: String,
}

/// The user's two-factor sign-in, from its profile.
#[derive(Template, Debug)]
#[template(path = "two_factor.html")]
pub struct TwoFactorPage {
    pub layout: Layout,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub on: bool,
    pub required: bool,
    pub recovery_codes_left: i64,
    pub setup: Option<TotpSetupView>,
    /// Recovery codes just made (shown once).
    pub codes: Vec<String>,
}
