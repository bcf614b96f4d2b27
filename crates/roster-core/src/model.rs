//! Domain records, as services see them. Derived values (URLs, a user's teams, a team's
//! permissions) are filled in by the store or computed here; nothing here knows about SQL or HTTP.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Ids of records, one type each, so an account id never passes where a team id is meant. They
/// show (and parse) as the plain number the APIs use.
macro_rules! record_id {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(n: i64) -> Self {
                $name(n)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    )*};
}

record_id! {
    /// An account (a tenant).
    AccountId;
    /// A user of an account.
    UserId;
    /// A team (a SCIM Group) of an account.
    TeamId;
    /// An entry of the global permission catalogue.
    PermissionId;
}

/// How SCIM names a user or team. Those made since SCIM ids became opaque carry a UUID (v7, so
/// that id order is creation order, and no id tells how many users other accounts have); those
/// made before keep the integer id Entra or Okta stored for them and address every request by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScimRef {
    /// A resource made before opaque ids: its integer id.
    Legacy(i64),
    Id(Uuid),
}

impl ScimRef {
    /// The SCIM id of the record `id` whose stored SCIM id is `scim_id`.
    pub fn of(id: i64, scim_id: Option<Uuid>) -> ScimRef {
        scim_id.map_or(ScimRef::Legacy(id), ScimRef::Id)
    }

    /// A SCIM id as a client sent it, in the one spelling Roster writes it (ids are
    /// `caseExact`): a lower-case hyphenated UUID, or a positive integer in decimal.
    pub fn parse(s: &str) -> Option<ScimRef> {
        if let Ok(n) = s.parse::<i64>() {
            return (n > 0 && n.to_string() == s).then_some(ScimRef::Legacy(n));
        }
        let id = Uuid::try_parse(s).ok()?;
        (id.hyphenated().to_string() == s).then_some(ScimRef::Id(id))
    }

    /// A new SCIM id.
    pub fn fresh() -> Uuid {
        Uuid::now_v7()
    }
}

impl std::fmt::Display for ScimRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScimRef::Legacy(n) => n.fmt(f),
            ScimRef::Id(u) => u.hyphenated().fmt(f),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub company_name: String,
    pub is_active: bool,
    pub is_enabled_mfa_to_all_users: bool,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub version: i64,
    /// When an operator asked for the account to be deleted: it is disabled at once and its rows
    /// are removed in the background; it is gone when that ends.
    pub deleting_since: Option<DateTime<Utc>>,
}

impl Account {
    /// Where it stands: `active`, `disabled`, or `deleting` (its rows being removed).
    pub fn state(&self) -> &'static str {
        match (self.deleting_since, self.is_active) {
            (Some(_), _) => "deleting",
            (None, true) => "active",
            (None, false) => "disabled",
        }
    }
}

/// A token of the instance operator: it manages accounts through the operator API and can do
/// nothing inside one. Its key is shown once and stored only as SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorToken {
    pub uuid: Uuid,
    pub name: String,
    pub created: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The first characters of the key, to tell tokens apart. Never the secret.
    pub key_prefix: String,
}

/// A console session as the store keeps it. Its key is the browser's alone: the store keeps only
/// the key's SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleSession {
    pub account_id: AccountId,
    pub user_id: UserId,
    pub created: DateTime<Utc>,
    /// The last request it made (kept to the minute: see `service::sessions`).
    pub last_seen: DateTime<Utc>,
    /// The absolute expiry, whatever its use.
    pub expires_at: DateTime<Utc>,
    /// How far its sign-in went.
    pub stage: SessionStage,
}

/// How far a console session's sign-in went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// Signed in.
    Full,
    /// The password fit; the user's TOTP code (or a recovery code) is still to come.
    SecondFactor,
    /// The password fit; the account requires two-factor sign-in, which the user has still to
    /// set up.
    Enroll,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::SecondFactor => "second_factor",
            Self::Enroll => "enroll",
        }
    }

    /// The stage stored as `s` (an unknown stage is the most restricted).
    pub fn parse(s: &str) -> Self {
        match s {
            "full" => Self::Full,
            "enroll" => Self::Enroll,
            _ => Self::SecondFactor,
        }
    }
}

/// A user's TOTP (RFC 6238) second factor as stored.
#[derive(Clone, PartialEq)]
pub struct StoredTotp {
    /// The shared secret, sealed.
    pub secret: crate::seal::Sealed,
    /// A first code confirmed it; until then it is only being set up.
    pub confirmed: bool,
    /// The time step of the last code used (no code is accepted twice).
    pub last_step: Option<i64>,
    pub created: DateTime<Utc>,
    /// Recovery codes not used yet.
    pub recovery_codes_left: i64,
}

impl std::fmt::Debug for StoredTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTotp")
            .field("confirmed", &self.confirmed)
            .field("last_step", &self.last_step)
            .field("recovery_codes_left", &self.recovery_codes_left)
            .finish_non_exhaustive()
    }
}

/// A user that an email names, in one account, as sign-in weighs it.
#[derive(Clone, PartialEq)]
pub struct SignInCandidate {
    pub user: User,
    pub account_name: String,
    pub account_active: bool,
    /// The Argon2id hash of the user's password (PHC string), if it has one.
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for SignInCandidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInCandidate")
            .field("user", &self.user.id)
            .field("account", &self.user.account_id)
            .field("account_active", &self.account_active)
            .field("has_password", &self.password_hash.is_some())
            .finish()
    }
}

/// A pending one-time link to choose a password.
#[derive(Debug, Clone, PartialEq)]
pub struct PasswordLink {
    pub account_id: AccountId,
    pub user_id: UserId,
    pub created: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A user's membership in a team, as listed on the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRef {
    pub id: TeamId,
    /// Its SCIM id (`None`: made before opaque ids, it answers to `id`).
    pub scim_id: Option<Uuid>,
    pub name: String,
    pub is_active: bool,
    /// The identity provider that provisioned the team, if one did.
    pub provisioned_by: Option<Uuid>,
}

impl TeamRef {
    /// The id SCIM shows and addresses it by.
    pub fn scim_ref(&self) -> ScimRef {
        ScimRef::of(self.id.0, self.scim_id)
    }
}

/// Which identity provider created (and manages) a user or team, and its id there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provisioning {
    pub idp_uuid: Option<Uuid>,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    /// Its SCIM id (`None`: made before opaque ids, it answers to `id`).
    pub scim_id: Option<Uuid>,
    pub account_id: AccountId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub is_account_owner: bool,
    pub two_factor_enabled: bool,
    pub language: String,
    pub timezone: String,
    pub phone: String,
    pub mobile: String,
    pub country_call_code: String,
    pub date_joined: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    pub last_modified: DateTime<Utc>,
    pub version: i64,
    pub provisioning: Provisioning,
    /// Filled by the store on reads; ignored on writes (memberships have their own calls).
    pub teams: Vec<TeamRef>,
    /// The user as a SCIM resource (every attribute an identity provider sent), without `id`,
    /// `meta` and `groups`. The columns above that SCIM maps (`userName` = email, `name.givenName`,
    /// `name.familyName`, `active`, `externalId`) are kept in step with it: see [`User::sync_doc`].
    pub scim: serde_json::Value,
}

/// A user before the store gives it an id: what a [`User`] holds but its `id`, its `version`
/// (a new user starts at 1) and its `teams` (memberships have calls of their own).
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    /// Its SCIM id (`None` only for users written as they were before opaque ids, in tests).
    pub scim_id: Option<Uuid>,
    pub account_id: AccountId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub is_account_owner: bool,
    pub two_factor_enabled: bool,
    pub language: String,
    pub timezone: String,
    pub phone: String,
    pub mobile: String,
    pub country_call_code: String,
    pub date_joined: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    pub last_modified: DateTime<Utc>,
    pub provisioning: Provisioning,
    pub scim: serde_json::Value,
}

impl NewUser {
    /// A new active, non-owner user with default preferences (English, UTC).
    pub fn new(
        account_id: AccountId,
        email: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
        now: DateTime<Utc>,
    ) -> NewUser {
        User::new(account_id, email, first_name, last_name, now).into()
    }

    /// The user this is once stored as `id`: at version 1, in no team.
    pub fn stored(self, id: UserId) -> User {
        User {
            id,
            scim_id: self.scim_id,
            account_id: self.account_id,
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            is_active: self.is_active,
            is_account_owner: self.is_account_owner,
            two_factor_enabled: self.two_factor_enabled,
            language: self.language,
            timezone: self.timezone,
            phone: self.phone,
            mobile: self.mobile,
            country_call_code: self.country_call_code,
            date_joined: self.date_joined,
            last_login: self.last_login,
            last_modified: self.last_modified,
            version: 1,
            provisioning: self.provisioning,
            teams: Vec::new(),
            scim: self.scim,
        }
    }
}

/// A user's content, to insert as a new user (its id, version and teams are left behind).
impl From<User> for NewUser {
    fn from(u: User) -> NewUser {
        NewUser {
            scim_id: u.scim_id,
            account_id: u.account_id,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            is_active: u.is_active,
            is_account_owner: u.is_account_owner,
            two_factor_enabled: u.two_factor_enabled,
            language: u.language,
            timezone: u.timezone,
            phone: u.phone,
            mobile: u.mobile,
            country_call_code: u.country_call_code,
            date_joined: u.date_joined,
            last_login: u.last_login,
            last_modified: u.last_modified,
            provisioning: u.provisioning,
            scim: u.scim,
        }
    }
}

impl User {
    /// The id SCIM shows and addresses it by.
    pub fn scim_ref(&self) -> ScimRef {
        ScimRef::of(self.id.0, self.scim_id)
    }

    /// A new active, non-owner user with default preferences (English, UTC).
    pub fn new(
        account_id: AccountId,
        email: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
        now: DateTime<Utc>,
    ) -> User {
        User {
            id: UserId(0),
            scim_id: Some(ScimRef::fresh()),
            account_id,
            email: email.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            is_active: true,
            is_account_owner: false,
            two_factor_enabled: false,
            language: "en".into(),
            timezone: "UTC".into(),
            phone: String::new(),
            mobile: String::new(),
            country_call_code: String::new(),
            date_joined: now,
            last_login: None,
            last_modified: now,
            version: 1,
            provisioning: Provisioning::default(),
            teams: Vec::new(),
            scim: serde_json::Value::Object(Default::default()),
        }
        .with_synced_doc(None)
    }

    fn with_synced_doc(mut self, before: Option<&User>) -> User {
        self.sync_doc(before);
        self
    }

    /// Write the mapped columns that changed since `before` (all of them when `None`) into the
    /// SCIM document, so IAM edits show through SCIM.
    pub fn sync_doc(&mut self, before: Option<&User>) {
        use serde_json::Value;
        if !self.scim.is_object() {
            self.scim = Value::Object(Default::default());
        }
        let changed = |f: &dyn Fn(&User) -> String| before.is_none_or(|b| f(b) != f(self));
        let email = changed(&|u| u.email.clone());
        let given = changed(&|u| u.first_name.clone());
        let family = changed(&|u| u.last_name.clone());
        let active = changed(&|u| u.is_active.to_string());
        let external = changed(&|u| format!("{:?}", u.provisioning.external_id));
        let Some(doc) = self.scim.as_object_mut() else {
            return;
        };
        if email {
            doc.insert("userName".into(), Value::String(self.email.clone()));
        }
        if given || family {
            let name = doc
                .entry("name")
                .or_insert_with(|| Value::Object(Default::default()));
            if !name.is_object() {
                *name = Value::Object(Default::default());
            }
            if let Some(name) = name.as_object_mut() {
                if given {
                    name.insert("givenName".into(), Value::String(self.first_name.clone()));
                }
                if family {
                    name.insert("familyName".into(), Value::String(self.last_name.clone()));
                }
            }
        }
        if active {
            doc.insert("active".into(), Value::Bool(self.is_active));
        }
        if external {
            match &self.provisioning.external_id {
                Some(x) => doc.insert("externalId".into(), Value::String(x.clone())),
                None => doc.remove("externalId"),
            };
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub id: PermissionId,
    pub name: String,
    pub slug: String,
    pub group: String,
}

/// Slugs the services check. The catalogue itself is seeded by the stores' migrations.
pub mod perm {
    pub const VIEW_USERS: &str = "view_users";
    pub const EDIT_USERS: &str = "edit_users";
    pub const SCIM: &str = "scim_protocol_integration";
}

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: TeamId,
    /// Its SCIM id (`None`: made before opaque ids, it answers to `id`).
    pub scim_id: Option<Uuid>,
    pub account_id: AccountId,
    pub name: String,
    pub is_active: bool,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub version: i64,
    pub provisioning: Provisioning,
    /// Filled by the store on reads.
    pub permissions: Vec<Permission>,
    /// The team as a SCIM Group (without `id`, `meta` and `members`); `displayName` and
    /// `externalId` are kept in step with `name` and the provisioning external id.
    pub scim: serde_json::Value,
}

impl Team {
    /// The id SCIM shows and addresses it by.
    pub fn scim_ref(&self) -> ScimRef {
        ScimRef::of(self.id.0, self.scim_id)
    }

    /// A new active team with no permissions.
    pub fn new(account_id: AccountId, name: impl Into<String>, now: DateTime<Utc>) -> Team {
        Team {
            id: TeamId(0),
            scim_id: Some(ScimRef::fresh()),
            account_id,
            name: name.into(),
            is_active: true,
            created: now,
            last_modified: now,
            version: 1,
            provisioning: Provisioning::default(),
            permissions: Vec::new(),
            scim: serde_json::Value::Object(Default::default()),
        }
        .with_synced_doc()
    }

    fn with_synced_doc(mut self) -> Team {
        self.sync_doc();
        self
    }

    /// Write `name` and the external id into the SCIM document.
    pub fn sync_doc(&mut self) {
        use serde_json::Value;
        if !self.scim.is_object() {
            self.scim = Value::Object(Default::default());
        }
        if let Some(doc) = self.scim.as_object_mut() {
            doc.insert("displayName".into(), Value::String(self.name.clone()));
            match &self.provisioning.external_id {
                Some(x) => doc.insert("externalId".into(), Value::String(x.clone())),
                None => doc.remove("externalId"),
            };
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PersonalToken {
    pub uuid: Uuid,
    pub user_id: UserId,
    pub account_id: AccountId,
    pub name: String,
    pub description: Option<String>,
    pub created: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The first characters of the key, kept so a person can tell tokens apart. Never the secret.
    pub key_prefix: String,
}

/// What the store keeps for a token: the record and the SHA-256 of its key.
#[derive(Debug, Clone)]
pub struct StoredToken {
    pub token: PersonalToken,
    pub key_hash: [u8; 32],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Saml,
    Oidc,
}

impl Protocol {
    /// The label the IAM API shows (`"SAML"`, `"OIDC"`).
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Saml => "SAML",
            Protocol::Oidc => "OIDC",
        }
    }
    /// The path segment (`saml2`, `oidc`).
    pub fn segment(self) -> &'static str {
        match self {
            Protocol::Saml => "saml2",
            Protocol::Oidc => "oidc",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Saml => "saml",
            Protocol::Oidc => "oidc",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "saml" => Some(Protocol::Saml),
            "oidc" => Some(Protocol::Oidc),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SamlConfig {
    pub sign_in_url: String,
    pub entity_id_url: String,
    /// PEM, validated on write. Write-only in the API.
    pub certificate_pem: String,
    /// `sha-1` or `sha-256`, derived from the certificate.
    pub signature_algorithm: String,
}

impl SamlConfig {
    /// The signing certificates (PEM), all trusted: `certificate_pem` is their bundle.
    pub fn certificates(&self) -> Vec<String> {
        crate::certs::split_bundle(&self.certificate_pem)
    }

    /// The certificates as people see them (those that parse).
    pub fn certificate_infos(&self) -> Vec<crate::certs::CertificateInfo> {
        self.certificates()
            .iter()
            .filter_map(|p| crate::certs::info(p))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OidcConfig {
    pub authorization_url: String,
    pub userinfo_url: String,
    pub token_url: String,
    pub client_id: String,
    /// Write-only in the API; stored sealed (see [`crate::seal`]), redacted from `Debug`.
    pub client_secret: crate::seal::Sealed,
    pub scopes: Vec<String>,
    pub response_mode: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IdpConfig {
    Saml(SamlConfig),
    Oidc(OidcConfig),
}

impl IdpConfig {
    pub fn protocol(&self) -> Protocol {
        match self {
            IdpConfig::Saml(_) => Protocol::Saml,
            IdpConfig::Oidc(_) => Protocol::Oidc,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct IdentityProvider {
    pub uuid: Uuid,
    pub account_id: AccountId,
    pub name: String,
    pub is_active: bool,
    pub scim_integration: bool,
    /// A SCIM create whose `userName` is a hand-made user's (not an owner's) links that user to
    /// this provider instead of answering 409.
    pub scim_adopt_existing: bool,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub version: i64,
    pub config: IdpConfig,
}

impl IdentityProvider {
    pub fn protocol(&self) -> Protocol {
        self.config.protocol()
    }
}
