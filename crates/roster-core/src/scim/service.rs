//! The SCIM service provider: one entry point, [`Roster::scim`], for every SCIM request of one
//! identity provider's endpoint. It authenticates, authorises, runs the operation in a store
//! transaction (read, apply the pure change from `roster-scim`, versioned write, commit), and
//! records the provisioning log.

use super::view;
use crate::error::{AuthFailure, CoreError};
use crate::model::{IdentityProvider, Team, User, perm};
use crate::service::{Principal, Roster};
use crate::store::{Conflict, LogEntry, ScimQuery, ScimScope, ScimSort, StoreError, Tx};
use roster_scim::messages::{ListResponse, Pagination, SearchRequest};
use roster_scim::patch::MemberOp;
use roster_scim::patch::{self, PatchOp};
use roster_scim::projection::Projection;
use roster_scim::schema::Container;
use roster_scim::{AttrPath, ResourceContext, ScimError, Tolerances};
use serde_json::{Value, json};
use uuid::Uuid;

/// Users or Groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Users,
    Groups,
}

impl Kind {
    fn ctx(self) -> &'static ResourceContext<'static> {
        match self {
            Kind::Users => super::user_ctx(),
            Kind::Groups => super::group_ctx(),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Kind::Users => "User",
            Kind::Groups => "Group",
        }
    }
    fn endpoint(self) -> &'static str {
        match self {
            Kind::Users => "Users",
            Kind::Groups => "Groups",
        }
    }
}

/// What a SCIM request asks for.
#[derive(Debug, Clone)]
pub enum ScimOp {
    List {
        kind: Kind,
        search: SearchRequest,
    },
    Get {
        kind: Kind,
        id: String,
        projection: Projection,
        if_none_match: Option<String>,
    },
    Create {
        kind: Kind,
        body: Value,
        projection: Projection,
    },
    Replace {
        kind: Kind,
        id: String,
        body: Value,
        if_match: Option<String>,
        projection: Projection,
    },
    Patch {
        kind: Kind,
        id: String,
        body: Value,
        if_match: Option<String>,
        projection: Projection,
    },
    Delete {
        kind: Kind,
        id: String,
        if_match: Option<String>,
    },
    Bulk {
        body: Value,
    },
    /// `POST /.search` at the endpoint's root.
    SearchAll {
        search: SearchRequest,
    },
    ServiceProviderConfig,
    Schemas,
    Schema {
        id: String,
    },
    ResourceTypes,
    ResourceType {
        name: String,
    },
    /// A request whose body or query could not be read: answered with `error` once the caller is
    /// admitted (an unauthenticated caller hears 401 first, whatever it sent).
    Unreadable {
        kind: Option<Kind>,
        id: Option<String>,
        /// Was it a write (so that its failure goes to the provisioning log)?
        write: bool,
        error: ScimError,
    },
}

impl ScimOp {
    fn writes(&self) -> bool {
        matches!(
            self,
            ScimOp::Create { .. }
                | ScimOp::Replace { .. }
                | ScimOp::Patch { .. }
                | ScimOp::Delete { .. }
                | ScimOp::Bulk { .. }
                | ScimOp::Unreadable { write: true, .. }
        )
    }
    fn target(&self) -> (Option<&'static str>, Option<String>) {
        match self {
            ScimOp::List { kind, .. } | ScimOp::Create { kind, .. } => (Some(kind.name()), None),
            ScimOp::Get { kind, id, .. }
            | ScimOp::Replace { kind, id, .. }
            | ScimOp::Patch { kind, id, .. }
            | ScimOp::Delete { kind, id, .. } => (Some(kind.name()), Some(id.clone())),
            ScimOp::Unreadable { kind, id, .. } => (kind.map(|k| k.name()), id.clone()),
            _ => (None, None),
        }
    }
}

/// One SCIM request, as the HTTP layer hands it over.
#[derive(Debug, Clone)]
pub struct ScimCall {
    /// The identity provider's uuid, as written in the path.
    pub idp: String,
    pub authorization: Option<String>,
    pub op: ScimOp,
    /// For the provisioning log.
    pub method: String,
    pub path: String,
    pub request_id: Option<String>,
    /// The client's address, for the in-memory sample of refused requests.
    pub client: Option<String>,
}

/// Why a request was refused before its operation ran, and where that may be recorded.
#[derive(Debug, Clone)]
pub struct Refused {
    pub error: ScimError,
    pub cause: RefusalCause,
}

#[derive(Debug, Clone)]
pub enum RefusalCause {
    /// No usable token: nothing is stored.
    Unauthenticated(AuthFailure),
    /// An authenticated caller of this provider's own account.
    OwnProvider(Box<IdentityProvider>),
    /// An authenticated caller elsewhere (another account's provider, an unknown one), or the
    /// store failing: nothing is stored.
    Elsewhere,
}

/// The answer: status, body, and the `ETag` / `Location` headers.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimReply {
    pub status: u16,
    pub body: Option<Value>,
    pub etag: Option<String>,
    pub location: Option<String>,
}

impl ScimReply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            etag: None,
            location: None,
        }
    }
}

/// Groups larger than this answer a PATCH with 204 instead of the resource (members included).
pub const GROUP_PATCH_BODY_LIMIT: i64 = 1000;
/// Page size when the client names none, and the most a page holds (`filter.maxResults`).
pub const DEFAULT_COUNT: u64 = 100;
pub const MAX_COUNT: u64 = 1000;
/// The largest page of groups when their members are included: a page lists every member of each
/// of its groups (never a truncated list), so it holds fewer groups. `excludedAttributes=members`
/// (what Entra sends) lifts it to `MAX_COUNT`.
pub const MAX_GROUPS_WITH_MEMBERS: u64 = 100;

/// The page size a list runs with: what was asked, at most `MAX_GROUPS_WITH_MEMBERS` for groups
/// whose members are included.
fn page_limit(kind: Kind, projection: &Projection, asked: u64) -> i64 {
    let cap = match kind {
        Kind::Groups if projection.includes(kind.ctx(), "members") => MAX_GROUPS_WITH_MEMBERS,
        _ => MAX_COUNT,
    };
    asked.min(cap) as i64
}
/// Bulk limits advertised in `/ServiceProviderConfig` and enforced.
pub const BULK_MAX_OPERATIONS: usize = 1000;
pub const BULK_MAX_PAYLOAD: usize = 1024 * 1024;
/// Attempts of a write that lost a race (without `If-Match`).
const WRITE_ATTEMPTS: usize = 5;

/// The authorised caller of one provider's endpoint.
#[derive(Debug, Clone)]
pub struct ScimCaller {
    pub principal: Principal,
    pub idp: IdentityProvider,
    /// `…/v4/users/scim/{uuid}`: the base of `location` and `$ref` URLs.
    pub base: String,
}

impl ScimCaller {
    /// What this endpoint may address: the users and teams its provider made, but never the
    /// caller's own user.
    pub fn scope(&self) -> ScimScope {
        ScimScope {
            account: self.idp.account_id,
            idp: self.idp.uuid,
            caller: Some(self.principal.user().id),
        }
    }
}

/// Where a request came from, for the log.
#[derive(Debug, Clone)]
pub(super) struct LogMeta {
    pub method: String,
    pub path: String,
    pub request_id: Option<String>,
}

fn log_meta(call: &ScimCall) -> LogMeta {
    LogMeta {
        method: call.method.clone(),
        path: call.path.clone(),
        request_id: call.request_id.clone(),
    }
}

/// What a write did, for the reply and the log.
pub(super) struct Done {
    pub reply: ScimReply,
    pub outcome: &'static str,
    pub changes: Value,
    pub tolerances: Tolerances,
    /// The write's transaction, still open: its log entry joins it, so the change and its record
    /// commit together, with one durable flush instead of two.
    pub tx: Option<Box<dyn Tx>>,
}

fn store_err(e: StoreError) -> ScimError {
    match e {
        StoreError::NotFound => ScimError::not_found("Resource not found"),
        StoreError::VersionMismatch => ScimError::precondition_failed(
            "The resource changed while this request ran: read it again and retry",
        ),
        StoreError::UnsupportedFilter(m) => ScimError::invalid_filter(m),
        StoreError::Conflict(c) => conflict(c, ""),
        StoreError::Busy(m) => busy(&m),
        StoreError::Other(m) => {
            tracing::error!(cause = %m, "storage error in SCIM request");
            ScimError::internal("Internal server error")
        }
    }
}

fn conflict(c: Conflict, value: &str) -> ScimError {
    match c {
        Conflict::UserEmail => ScimError::uniqueness(format!(
            "A user with userName \"{value}\" already exists in this account"
        )),
        Conflict::TeamName => ScimError::uniqueness(format!(
            "A group with displayName \"{value}\" already exists in this account"
        )),
        other => ScimError::uniqueness(other.describe().1),
    }
}

fn core_err(e: CoreError) -> ScimError {
    match e {
        CoreError::Unauthenticated(f) => ScimError::unauthorized(f.message()),
        CoreError::Forbidden(m) => ScimError::forbidden(m),
        CoreError::NotFound(what) => ScimError::not_found(format!("{what} not found")),
        CoreError::Validation(f) => ScimError::invalid_value(f.to_string()),
        CoreError::Conflict { message, .. } => ScimError::uniqueness(message),
        CoreError::PreconditionFailed => {
            ScimError::precondition_failed("The resource changed: read it again")
        }
        CoreError::Unavailable(m) => busy(&m),
        CoreError::Internal(m) => {
            tracing::error!(cause = %m, "internal error in SCIM request");
            ScimError::internal("Internal server error")
        }
    }
}

/// An overload refusal (503) is not written to the provisioning log: that would wait again for
/// the connection that was not there, delaying the answer and adding to the load. The server log
/// has it (see [`busy`]).
fn is_overload(e: &ScimError) -> bool {
    e.status == 503
}

fn busy(cause: &str) -> ScimError {
    tracing::warn!(%cause, "SCIM request refused: the store is busy");
    ScimError::unavailable(
        "The directory is busy (no database connection came free in time): retry after the Retry-After delay",
    )
}

/// Weak comparison of an `If-Match` / `If-None-Match` list with a version.
fn etag_matches(header: &str, version: i64) -> bool {
    let want = format!("\"{version}\"");
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == want)
}

fn check_if_match(if_match: Option<&str>, version: i64) -> Result<(), ScimError> {
    match if_match {
        Some(h) if !etag_matches(h, version) => Err(ScimError::precondition_failed(format!(
            "If-Match {h} does not match the current version {}: read the resource again",
            view::etag(version)
        ))),
        _ => Ok(()),
    }
}

fn parse_id(id: &str, kind: Kind) -> Result<i64, ScimError> {
    id.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && n.to_string() == id.trim())
        .ok_or_else(|| ScimError::not_found(format!("{} {id} not found", kind.name())))
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn str_at<'v>(doc: &'v Value, keys: &[&str]) -> Option<&'v str> {
    let mut v = doc;
    for k in keys {
        v = v.get(*k)?;
    }
    v.as_str()
}

/// The stored document: the normalised resource without `schemas`, `id` and `meta`.
fn stored_doc(mut doc: Value) -> Value {
    if let Some(o) = doc.as_object_mut() {
        o.retain(|k, _| {
            !["schemas", "id", "meta"]
                .iter()
                .any(|x| k.eq_ignore_ascii_case(x))
        });
    }
    doc
}

/// The stored document with its `id`, as PATCH sees the resource (a path-less replace that
/// carries the resource's own id is then a no-op, as Okta needs).
fn with_id(doc: &Value, id: i64) -> Value {
    let mut d = doc.clone();
    if let Some(o) = d.as_object_mut() {
        o.insert("id".into(), Value::String(id.to_string()));
    }
    d
}

/// The top-level string `key` of `doc`: present, not blank, at most `max` characters.
fn required_text(doc: &Value, key: &str, max: usize, why: &str) -> Result<String, ScimError> {
    let text = str_at(doc, &[key]).unwrap_or("");
    if text.trim().is_empty() {
        return Err(ScimError::invalid_value(format!(
            "{key} is required and may not be empty"
        )));
    }
    if text.chars().count() > max {
        return Err(ScimError::invalid_value(format!(
            "{key} is longer than {max} characters{why}"
        )));
    }
    Ok(text.to_string())
}

/// The single-line attributes that identify or name a resource: no control characters (line
/// breaks and tabs included) and no bidirectional formatting characters, the IAM API's rule for
/// names. Multi-line attributes (`addresses.formatted`) keep their line breaks.
const SINGLE_LINE: &[&[&str]] = &[
    &["userName"],
    &["externalId"],
    &["displayName"],
    &["nickName"],
    &["name", "formatted"],
    &["name", "givenName"],
    &["name", "familyName"],
    &["name", "middleName"],
    &["name", "honorificPrefix"],
    &["name", "honorificSuffix"],
];

/// Values kept from `before` (stored before this rule) pass: a re-send must not fail on them.
fn check_single_line(doc: &Value, before: &Value) -> Result<(), ScimError> {
    for keys in SINGLE_LINE {
        if let Some(text) = str_at(doc, keys)
            && str_at(before, keys) != Some(text)
            && let Some(problem) = crate::validate::single_line_problem(text)
        {
            return Err(ScimError::invalid_value(format!(
                "{}: {problem}",
                keys.join(".")
            )));
        }
    }
    Ok(())
}

/// Set the user's mapped columns from a SCIM document (which becomes the stored document).
fn apply_user_doc(u: &mut User, doc: Value) -> Result<(), ScimError> {
    check_single_line(&doc, &u.scim)?;
    u.email = required_text(&doc, "userName", 254, "")?;
    // The IAM API keeps 30 characters of each name; the SCIM document keeps them whole.
    u.first_name = truncate(str_at(&doc, &["name", "givenName"]).unwrap_or(""), 30);
    u.last_name = truncate(str_at(&doc, &["name", "familyName"]).unwrap_or(""), 30);
    // A user without `active` is active (and shows no `active`, as provisioned).
    u.is_active = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
    u.provisioning.external_id = str_at(&doc, &["externalId"]).map(str::to_string);
    let mut doc = stored_doc(doc);
    // Write-only attributes (`password`) are never stored: Roster users sign in through their
    // identity provider.
    strip_never_returned(&mut doc, super::user_ctx());
    u.scim = doc;
    Ok(())
}

fn strip_never_returned(doc: &mut Value, ctx: &ResourceContext<'_>) {
    use roster_scim::schema::Returned;
    let Some(o) = doc.as_object_mut() else { return };
    o.retain(|k, _| {
        !ctx.resolve_attr(None, k)
            .is_some_and(|(_, d)| d.returned == Returned::Never)
    });
    for (ext, _) in &ctx.extensions {
        if let Some(Value::Object(inner)) = o.get_mut(&ext.id) {
            inner.retain(|k, _| {
                !ext.attribute(k)
                    .is_some_and(|d| d.returned == Returned::Never)
            });
        }
    }
}

/// Changes as logged: values of write-only attributes are never written down.
fn loggable(changes: &[roster_scim::patch::Change], ctx: &ResourceContext<'_>) -> Value {
    use roster_scim::schema::Returned;
    let redacted = |name: &str| {
        let top = name.split('.').next().unwrap_or(name);
        ctx.resolve_str(top)
            .is_some_and(|r| r.attr.returned == Returned::Never)
    };
    Value::Array(
        changes
            .iter()
            .map(|c| {
                if redacted(&c.attribute) {
                    json!({"attribute": c.attribute, "old": "<redacted>", "new": "<redacted>"})
                } else {
                    json!({"attribute": c.attribute, "old": c.old, "new": c.new})
                }
            })
            .collect(),
    )
}

/// A new user of `account` from a SCIM User resource, exactly as `POST /Users` on identity
/// provider `idp`'s endpoint would store it.
pub fn user_from_resource(
    account: i64,
    idp: Uuid,
    body: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<User, ScimError> {
    let normalized = patch::normalize(body, super::user_ctx())?;
    let mut u = User::new(account, "", "", "", now);
    u.provisioning.idp_uuid = Some(idp);
    apply_user_doc(&mut u, normalized.resource)?;
    Ok(u)
}

/// Set the team's columns from a SCIM Group document (`members` are rows, kept apart).
fn apply_group_doc(t: &mut Team, doc: Value) -> Result<Option<Vec<Entry>>, ScimError> {
    check_single_line(&doc, &t.scim)?;
    t.name = required_text(&doc, "displayName", 100, " (the longest team name)")?;
    t.provisioning.external_id = str_at(&doc, &["externalId"]).map(str::to_string);
    let mut doc = stored_doc(doc);
    let members = doc
        .as_object_mut()
        .and_then(|o| o.remove("members"))
        .map(|m| entries(m.as_array().map(Vec::as_slice).unwrap_or_default()));
    t.scim = doc;
    Ok(members)
}

/// Members that name users (others are ignored, and reported).
/// A member as sent: its id and, if given, its display.
type Entry = (String, Option<String>);

/// Entries of canonical member objects (`{"value", "display"}`, as `roster-scim` gives them).
fn entries(members: &[Value]) -> Vec<Entry> {
    members
        .iter()
        .filter_map(|m| {
            let id = match m.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return None,
            };
            Some((
                id,
                m.get("display").and_then(Value::as_str).map(str::to_string),
            ))
        })
        .collect()
}

/// The entries that name users, with the display each was sent with (the rest are reported as
/// ignored).
fn user_ids(entries: &[Entry]) -> (Vec<(i64, Option<String>)>, Vec<String>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (s, display) in entries {
        match user_id(s) {
            Some(n) => ok.push((n, display.clone())),
            None => bad.push(s.clone()),
        }
    }
    (ok, bad)
}

/// A member id as Roster writes them: a positive integer in its canonical spelling.
fn user_id(s: &str) -> Option<i64> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && n.to_string() == s)
}

/// The ids that name users (the rest are reported as ignored).
fn remove_ids(ids: &[String]) -> (Vec<i64>, Vec<String>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for s in ids {
        match user_id(s) {
            Some(n) => ok.push(n),
            None => bad.push(s.clone()),
        }
    }
    (ok, bad)
}

fn sort_of(kind: Kind, sort_by: &str) -> Result<ScimSort, ScimError> {
    let bad = || {
        ScimError::invalid_value(format!(
            "Sorting by \"{sort_by}\" is not supported: sort by a single-valued string attribute"
        ))
    };
    let path = AttrPath::parse(sort_by).map_err(|_| bad())?;
    let r = kind.ctx().resolve(&path).ok_or_else(bad)?;
    let core = matches!(r.container, Container::Core);
    let sub = r.sub.map(|s| s.name.as_str());
    Ok(match (core, r.attr.name.as_str(), sub, kind) {
        (true, "id", None, _) => ScimSort::Id,
        (true, "userName", None, Kind::Users) => ScimSort::UserName,
        (true, "displayName", None, Kind::Groups) => ScimSort::DisplayName,
        (true, "externalId", None, _) => ScimSort::ExternalId,
        (true, "meta", Some("created"), _) => ScimSort::Created,
        (true, "meta", Some("lastModified"), _) => ScimSort::LastModified,
        (true, "meta" | "schemas", _, _) => return Err(bad()),
        _ => {
            let leaf = r.leaf();
            let string = matches!(
                leaf.kind,
                roster_scim::schema::AttributeType::String
                    | roster_scim::schema::AttributeType::Reference
            );
            if r.attr.multi_valued
                || leaf.multi_valued
                || !string
                || (r.sub.is_none() && r.attr.is_complex())
            {
                return Err(bad());
            }
            let mut keys = Vec::new();
            if let Container::Extension(u) = r.container {
                keys.push(u.to_string());
            }
            keys.push(r.attr.name.clone());
            if let Some(s) = r.sub {
                keys.push(s.name.clone());
            }
            ScimSort::Json(keys)
        }
    })
}

fn cursor_for(id: i64) -> String {
    format!("c{id}")
}

fn parse_cursor(c: &str) -> Result<i64, ScimError> {
    c.strip_prefix('c')
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            ScimError::invalid_cursor(format!("\"{c}\" is not a cursor this server gave out"))
        })
}

impl Roster {
    /// Handle one SCIM request end to end: [`Roster::scim_admit`], then [`Roster::scim_run`].
    pub async fn scim(&self, call: ScimCall) -> Result<ScimReply, ScimError> {
        let caller = self.scim_admit(&call).await.map_err(|r| r.error)?;
        self.scim_run(&caller, call).await
    }

    /// Authenticate and authorise a SCIM request (a front end may rate-limit between this and
    /// [`Roster::scim_run`], by the caller it answers). A refusal is recorded where it may be.
    pub async fn scim_admit(&self, call: &ScimCall) -> Result<ScimCaller, Refused> {
        match self
            .scim_caller(&call.idp, call.authorization.as_deref())
            .await
        {
            Ok(c) => Ok(c),
            Err(refused) => {
                self.record_refusal(call, &log_meta(call), &refused).await;
                Err(refused)
            }
        }
    }

    /// Run an admitted request's operation, recording it in the provisioning log.
    pub async fn scim_run(
        &self,
        caller: &ScimCaller,
        call: ScimCall,
    ) -> Result<ScimReply, ScimError> {
        let meta = log_meta(&call);
        self.run_logged(caller, call.op, &meta)
            .await
            .map(|d| d.reply)
    }

    /// Where a refusal before the operation goes. Unauthenticated: counted and sampled in memory,
    /// never stored (whoever sent it showed no token, so it may not cost disk, and no account's
    /// log may be written by a stranger). Authenticated, on a provider of the caller's own account
    /// (SCIM off, no SCIM permission): that provider's log, so its admin sees why Entra fails.
    /// Authenticated on anything else (another account's provider, an unknown one): nowhere.
    async fn record_refusal(&self, call: &ScimCall, meta: &LogMeta, refused: &Refused) {
        match &refused.cause {
            RefusalCause::Unauthenticated(why) => {
                self.signals()
                    .unauthenticated_scim(crate::security::RefusedScim {
                        at: self.now(),
                        idp: call.idp.clone(),
                        reason: why.reason(),
                        client: call.client.clone(),
                    });
            }
            RefusalCause::OwnProvider(idp) if !is_overload(&refused.error) => {
                let (resource_type, resource_id) = call.op.target();
                let e = LogEntry {
                    id: 0,
                    account_id: idp.account_id,
                    idp_uuid: idp.uuid,
                    at: self.now(),
                    request_id: meta.request_id.clone(),
                    method: meta.method.clone(),
                    path: clip(&meta.path),
                    resource_type: resource_type.map(str::to_string),
                    resource_id: resource_id.as_deref().map(clip),
                    status: i64::from(refused.error.status),
                    outcome: "failed".into(),
                    scim_type: refused
                        .error
                        .scim_type
                        .as_ref()
                        .map(|t| t.as_str().to_string()),
                    detail: Some(clip(&refused.error.detail)),
                    tolerances: Vec::new(),
                    changes: Value::Null,
                };
                self.write_log(&e).await;
            }
            RefusalCause::OwnProvider(_) | RefusalCause::Elsewhere => {}
        }
    }

    /// Run one operation and record it in the provisioning log when it changed something or failed.
    pub(super) async fn run_logged(
        &self,
        caller: &ScimCaller,
        op: ScimOp,
        meta: &LogMeta,
    ) -> Result<Done, ScimError> {
        let (resource_type, resource_id) = op.target();
        let writes = op.writes() && !matches!(op, ScimOp::Bulk { .. });
        let result = self.scim_op(caller, op).await;
        let entry = |status: i64,
                     outcome: &str,
                     error: Option<&ScimError>,
                     changes: Value,
                     tol: &Tolerances,
                     rid: Option<String>| LogEntry {
            id: 0,
            account_id: caller.idp.account_id,
            idp_uuid: caller.idp.uuid,
            at: self.now(),
            request_id: meta.request_id.clone(),
            method: meta.method.clone(),
            path: clip(&meta.path),
            resource_type: resource_type.map(str::to_string),
            resource_id: rid.as_deref().map(clip),
            status,
            outcome: outcome.to_string(),
            scim_type: error
                .and_then(|e| e.scim_type.as_ref())
                .map(|t| t.as_str().to_string()),
            detail: error.map(|e| clip(&e.detail)),
            tolerances: tol.iter().map(|t| t.name().to_string()).collect(),
            changes,
        };
        let result = match result {
            Ok(mut done) => {
                let logged = writes && done.outcome != "unchanged";
                let committed = match done.tx.take() {
                    Some(mut tx) => {
                        let r = async {
                            if logged {
                                let rid = resource_id.clone().or_else(|| {
                                    done.reply
                                        .body
                                        .as_ref()
                                        .and_then(|b| b.get("id"))
                                        .and_then(Value::as_str)
                                        .map(str::to_string)
                                });
                                let e = entry(
                                    i64::from(done.reply.status),
                                    done.outcome,
                                    None,
                                    done.changes.clone(),
                                    &done.tolerances,
                                    rid,
                                );
                                tx.insert_log(&e).await?;
                            }
                            tx.commit().await
                        }
                        .await;
                        r.map_err(store_err)
                    }
                    None => Ok(()),
                };
                committed.map(|()| done)
            }
            Err(err) => Err(err),
        };
        if let Err(err) = &result
            && !is_overload(err)
        {
            // The write (if any) rolled back: the failure is recorded on its own.
            let e = entry(
                i64::from(err.status),
                "failed",
                Some(err),
                Value::Null,
                &Tolerances::new(),
                resource_id,
            );
            self.write_log(&e).await;
        }
        result
    }

    async fn write_log(&self, e: &LogEntry) {
        let r = async {
            let mut tx = self.store.begin().await?;
            tx.insert_log(e).await?;
            tx.commit().await
        }
        .await;
        if let Err(err) = r {
            tracing::warn!(error = %err, "could not record the provisioning log entry");
        }
    }

    /// Token → principal, provider (in the principal's account, with SCIM on), permission.
    pub async fn scim_caller(
        &self,
        idp: &str,
        authorization: Option<&str>,
    ) -> Result<ScimCaller, Refused> {
        let uuid = Uuid::parse_str(idp.trim()).ok();
        let (principal, found) = match self.authenticate_for(authorization, uuid).await {
            Ok(found) => found,
            Err(CoreError::Unauthenticated(why)) => {
                let error = match why {
                    AuthFailure::Missing => ScimError::unauthorized(
                        "Authentication required: send 'Authorization: Bearer <personal token>' (Entra's Secret Token)",
                    ),
                    other => ScimError::unauthorized(other.message()),
                };
                return Err(Refused {
                    error,
                    cause: RefusalCause::Unauthenticated(why),
                });
            }
            Err(other) => {
                return Err(Refused {
                    error: core_err(other),
                    cause: RefusalCause::Elsewhere,
                });
            }
        };
        let Some(found) = found else {
            return Err(Refused {
                error: ScimError::not_found(format!(
                    "No SCIM endpoint for identity provider {idp} in your account"
                )),
                cause: RefusalCause::Elsewhere,
            });
        };
        let own = |error| Refused {
            error,
            cause: RefusalCause::OwnProvider(Box::new(found.clone())),
        };
        if !found.scim_integration {
            return Err(own(ScimError::not_found(format!(
                "SCIM is not enabled for identity provider {}: PATCH it with {{\"scim_integration\": true}} first",
                found.uuid
            ))));
        }
        if !principal.has(perm::SCIM) {
            return Err(own(ScimError::forbidden(
                "This token's user is neither an account owner nor a member of an active team with the \"SCIM Protocol Integration\" permission",
            )));
        }
        let base = format!("{}/users/scim/{}", self.urls().v4, found.uuid);
        Ok(ScimCaller {
            principal,
            idp: found,
            base,
        })
    }

    async fn scim_op(&self, c: &ScimCaller, op: ScimOp) -> Result<Done, ScimError> {
        let read = |reply| {
            Ok(Done {
                reply,
                outcome: "read",
                changes: Value::Null,
                tolerances: Tolerances::new(),
                tx: None,
            })
        };
        match op {
            ScimOp::List { kind, search } => read(ScimReply::json(
                200,
                self.scim_list(c, kind, &search).await?,
            )),
            ScimOp::Get {
                kind,
                id,
                projection,
                if_none_match,
            } => read(
                self.scim_get(c, kind, &id, &projection, if_none_match.as_deref())
                    .await?,
            ),
            ScimOp::Create {
                kind,
                body,
                projection,
            } => self.scim_create(c, kind, &body, &projection).await,
            ScimOp::Replace {
                kind,
                id,
                body,
                if_match,
                projection,
            } => {
                self.retrying(if_match.is_some(), |_| {
                    self.scim_replace(c, kind, &id, &body, if_match.as_deref(), &projection)
                })
                .await
            }
            ScimOp::Patch {
                kind,
                id,
                body,
                if_match,
                projection,
            } => {
                self.retrying(if_match.is_some(), |locked| {
                    self.scim_patch(
                        c,
                        kind,
                        &id,
                        &body,
                        if_match.as_deref(),
                        &projection,
                        locked,
                    )
                })
                .await
            }
            ScimOp::Delete { kind, id, if_match } => {
                self.scim_delete(c, kind, &id, if_match.as_deref()).await
            }
            ScimOp::Unreadable { error, .. } => Err(error),
            ScimOp::Bulk { body } => {
                let reply = self.scim_bulk(c, &body).await?;
                Ok(Done {
                    reply,
                    outcome: "unchanged",
                    changes: Value::Null,
                    tolerances: Tolerances::new(),
                    tx: None,
                })
            }
            ScimOp::SearchAll { search } => read(ScimReply::json(
                200,
                self.scim_search_all(c, &search).await?,
            )),
            ScimOp::ServiceProviderConfig => {
                read(ScimReply::json(200, service_provider_config(&c.base)))
            }
            ScimOp::Schemas => read(ScimReply::json(
                200,
                super::registry().schemas_list_json(Some(&c.base)),
            )),
            ScimOp::Schema { id } => {
                let s = super::registry()
                    .schema(&id)
                    .ok_or_else(|| ScimError::not_found(format!("Schema {id} not found")))?;
                read(ScimReply::json(
                    200,
                    s.to_json(Some(&format!("{}/Schemas/{}", c.base, s.id))),
                ))
            }
            ScimOp::ResourceTypes => read(ScimReply::json(
                200,
                super::registry().resource_types_list_json(Some(&c.base)),
            )),
            ScimOp::ResourceType { name } => {
                let t = super::registry().resource_type(&name).ok_or_else(|| {
                    ScimError::not_found(format!("ResourceType {name} not found"))
                })?;
                read(ScimReply::json(
                    200,
                    t.to_json(Some(&format!("{}/ResourceTypes/{}", c.base, t.id))),
                ))
            }
        }
    }

    /// Retry a write that lost a race to a concurrent writer (only without `If-Match`: with it,
    /// the 412 is the answer). `f` is told whether to read inside the write transaction: the first
    /// attempt computes outside it, a retry inside it, so that a busy resource still makes
    /// progress (SQLite's writer serialises the retries).
    async fn retrying<F, Fut>(&self, has_if_match: bool, f: F) -> Result<Done, ScimError>
    where
        F: Fn(bool) -> Fut,
        Fut: std::future::Future<Output = Result<Done, ScimError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match f(attempt > 1).await {
                Err(e) if e.status == 412 && !has_if_match && attempt < WRITE_ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    async fn scim_list(
        &self,
        c: &ScimCaller,
        kind: Kind,
        req: &SearchRequest,
    ) -> Result<Value, ScimError> {
        let page = Pagination::from_request(req, DEFAULT_COUNT, MAX_COUNT)?;
        let filter = match req
            .filter
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            Some(f) => Some(roster_scim::filter::parse(f)?),
            None => None,
        };
        let (sort, descending) = match req
            .sort_by
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => (
                sort_of(kind, s)?,
                matches!(
                    req.sort_order,
                    Some(roster_scim::messages::SortOrder::Descending)
                ),
            ),
            None => (ScimSort::Id, false),
        };
        let projection = Projection::from_lists(&req.attributes, &req.excluded_attributes);
        let (offset, after_id) = match &page {
            Pagination::Index { start_index, .. } => ((*start_index - 1) as i64, None),
            Pagination::Cursor { cursor, .. } => {
                if sort != ScimSort::Id || descending {
                    return Err(ScimError::invalid_value(
                        "Cursor pagination is in id order: leave sortBy and sortOrder out",
                    ));
                }
                (0, cursor.as_deref().map(parse_cursor).transpose()?)
            }
        };
        let limit = page_limit(kind, &projection, page.count());
        let q = ScimQuery {
            filter,
            sort,
            descending,
            offset,
            limit,
            after_id,
        };
        let mut tx = self.store.read().await.map_err(store_err)?;
        let (resources, total, last_id) = self
            .query_page(tx.as_mut(), c, kind, &q, &projection)
            .await?;
        tx.commit().await.map_err(store_err)?;
        let total = total.max(0) as u64;
        let list = match page {
            Pagination::Index { start_index, .. } => {
                ListResponse::page(resources, total, start_index)
            }
            Pagination::Cursor { .. } => {
                let full = resources.len() as i64 == limit && limit > 0;
                let next = if full { last_id.map(cursor_for) } else { None };
                ListResponse::cursor_page(resources, total, next)
            }
        };
        serde_json::to_value(list).map_err(|e| ScimError::internal(e.to_string()))
    }

    /// One page of users or groups, rendered and projected; the total; the last id (for cursors).
    async fn query_page(
        &self,
        tx: &mut dyn Tx,
        c: &ScimCaller,
        kind: Kind,
        q: &ScimQuery,
        projection: &Projection,
    ) -> Result<(Vec<Value>, i64, Option<i64>), ScimError> {
        let ctx = kind.ctx();
        let scope = c.scope();
        Ok(match kind {
            Kind::Users => {
                let p = tx.scim_users(&scope, q).await.map_err(store_err)?;
                let last = p.items.last().map(|u| u.id);
                (
                    p.items
                        .iter()
                        .map(|u| projection.apply(&view::user(u, &c.base, c.idp.uuid), ctx))
                        .collect(),
                    p.total,
                    last,
                )
            }
            Kind::Groups => {
                let p = tx.scim_teams(&scope, q).await.map_err(store_err)?;
                let last = p.items.last().map(|t| t.id);
                let mut members = if projection.includes(ctx, "members") {
                    let ids: Vec<i64> = p.items.iter().map(|t| t.id).collect();
                    Some(tx.team_members(&scope, &ids).await.map_err(store_err)?)
                } else {
                    None
                };
                let rendered = p
                    .items
                    .iter()
                    .map(|t| {
                        let ms = members
                            .as_mut()
                            .map(|m| m.remove(&t.id).unwrap_or_default());
                        projection.apply(&view::group(t, ms.as_deref(), &c.base), ctx)
                    })
                    .collect();
                (rendered, p.total, last)
            }
        })
    }

    /// `POST /.search` at the root: Users, then Groups, paged as one list. A filter that names an
    /// attribute only one of them has matches nothing of the other.
    async fn scim_search_all(
        &self,
        c: &ScimCaller,
        req: &SearchRequest,
    ) -> Result<Value, ScimError> {
        if req.cursor.is_some() {
            return Err(ScimError::invalid_value(
                "Cursor pagination is per resource type: search /Users or /Groups",
            ));
        }
        if req.sort_by.as_deref().is_some_and(|s| !s.trim().is_empty()) {
            return Err(ScimError::invalid_value(
                "sortBy is per resource type: search /Users or /Groups",
            ));
        }
        let page = Pagination::from_request(req, DEFAULT_COUNT, MAX_COUNT)?;
        let start_index = match page {
            Pagination::Index { start_index, .. } => start_index,
            Pagination::Cursor { .. } => 1,
        };
        let filter = match req
            .filter
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            Some(f) => Some(roster_scim::filter::parse(f)?),
            None => None,
        };
        let projection = Projection::from_lists(&req.attributes, &req.excluded_attributes);
        let limit = page.count() as i64;
        let mut offset = (start_index - 1) as i64;
        let mut resources = Vec::new();
        let mut total = 0i64;
        let mut answered = 0;
        let mut refusal = None;
        let mut tx = self.store.read().await.map_err(store_err)?;
        for kind in [Kind::Users, Kind::Groups] {
            let room = page_limit(kind, &projection, (limit - resources.len() as i64) as u64);
            let q = ScimQuery {
                filter: filter.clone(),
                sort: ScimSort::Id,
                descending: false,
                offset,
                limit: room,
                after_id: None,
            };
            match self.query_page(tx.as_mut(), c, kind, &q, &projection).await {
                Ok((items, n, _)) => {
                    answered += 1;
                    total += n;
                    offset = (offset - n).max(0);
                    resources.extend(items);
                }
                Err(e) if e.scim_type == Some(roster_scim::ScimType::InvalidFilter) => {
                    refusal = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit().await.map_err(store_err)?;
        if answered == 0 {
            return Err(refusal.unwrap_or_else(|| {
                ScimError::invalid_filter("The filter applies to no resource type")
            }));
        }
        let list = ListResponse::page(resources, total.max(0) as u64, start_index);
        serde_json::to_value(list).map_err(|e| ScimError::internal(e.to_string()))
    }

    async fn load(
        &self,
        tx: &mut dyn Tx,
        c: &ScimCaller,
        kind: Kind,
        id: &str,
    ) -> Result<Loaded, ScimError> {
        let n = parse_id(id, kind)?;
        let missing = || ScimError::not_found(format!("{} {id} not found", kind.name()));
        // Outside the provider's scope is the same as absent: SCIM cannot tell that it exists.
        let mine = |p: &crate::model::Provisioning| p.idp_uuid == Some(c.idp.uuid);
        Ok(match kind {
            Kind::Users => Loaded::User(
                tx.user(c.idp.account_id, n)
                    .await
                    .map_err(store_err)?
                    .filter(|u| mine(&u.provisioning) && u.id != c.principal.user().id)
                    .ok_or_else(missing)?,
            ),
            Kind::Groups => Loaded::Team(
                tx.team(c.idp.account_id, n)
                    .await
                    .map_err(store_err)?
                    .filter(|t| mine(&t.provisioning))
                    .ok_or_else(missing)?,
            ),
        })
    }

    /// The resource as the client asked to see it.
    async fn render(
        &self,
        tx: &mut dyn Tx,
        c: &ScimCaller,
        loaded: &Loaded,
        projection: &Projection,
    ) -> Result<Value, ScimError> {
        Ok(match loaded {
            Loaded::User(u) => {
                projection.apply(&view::user(u, &c.base, c.idp.uuid), super::user_ctx())
            }
            Loaded::Team(t) => {
                let ctx = super::group_ctx();
                let members = if projection.includes(ctx, "members") {
                    Some(
                        tx.team_members(&c.scope(), &[t.id])
                            .await
                            .map_err(store_err)?
                            .remove(&t.id)
                            .unwrap_or_default(),
                    )
                } else {
                    None
                };
                projection.apply(&view::group(t, members.as_deref(), &c.base), ctx)
            }
        })
    }

    async fn scim_get(
        &self,
        c: &ScimCaller,
        kind: Kind,
        id: &str,
        projection: &Projection,
        if_none_match: Option<&str>,
    ) -> Result<ScimReply, ScimError> {
        let mut tx = self.store.read().await.map_err(store_err)?;
        let loaded = self.load(tx.as_mut(), c, kind, id).await?;
        let version = loaded.version();
        if if_none_match.is_some_and(|h| etag_matches(h, version)) {
            tx.commit().await.map_err(store_err)?;
            return Ok(ScimReply {
                status: 304,
                body: None,
                etag: Some(view::etag(version)),
                location: None,
            });
        }
        let body = self.render(tx.as_mut(), c, &loaded, projection).await?;
        tx.commit().await.map_err(store_err)?;
        Ok(ScimReply {
            status: 200,
            body: Some(body),
            etag: Some(view::etag(version)),
            location: None,
        })
    }

    async fn scim_create(
        &self,
        c: &ScimCaller,
        kind: Kind,
        body: &Value,
        projection: &Projection,
    ) -> Result<Done, ScimError> {
        let normalized = patch::normalize(body, kind.ctx())?;
        let now = self.now();
        let account = c.idp.account_id;
        let mut tx = self.store.begin().await.map_err(store_err)?;
        let (loaded, changes) = match kind {
            Kind::Users => {
                let mut u = User::new(account, "", "", "", now);
                u.provisioning.idp_uuid = Some(c.idp.uuid);
                apply_user_doc(&mut u, normalized.resource)?;
                let id = tx.insert_user(&u).await.map_err(|e| match e {
                    StoreError::Conflict(k) => conflict(k, &u.email),
                    other => store_err(other),
                })?;
                // The stored user is what was written (timestamps are already at the stores'
                // precision; the conformance suite checks a read-back equals it): no read-back.
                u.id = id;
                u.version = 1;
                let changes = created_changes(&u.scim);
                (Loaded::User(u), changes)
            }
            Kind::Groups => {
                let mut t = Team::new(account, "", now);
                t.provisioning.idp_uuid = Some(c.idp.uuid);
                let members = apply_group_doc(&mut t, normalized.resource)?.unwrap_or_default();
                let id = tx.insert_team(&t).await.map_err(|e| match e {
                    StoreError::Conflict(k) => conflict(k, &t.name),
                    other => store_err(other),
                })?;
                let (ids, ignored) = user_ids(&members);
                let added = tx
                    .add_team_members(&c.scope(), id, &ids)
                    .await
                    .map_err(store_err)?;
                let t = tx
                    .team(account, id)
                    .await
                    .map_err(store_err)?
                    .ok_or_else(|| ScimError::internal("created group vanished"))?;
                let mut changes = created_changes(&t.scim);
                push_members(&mut changes, &added, &[], &ignored);
                (Loaded::Team(t), changes)
            }
        };
        let body = self.render(tx.as_mut(), c, &loaded, projection).await?;
        let id = loaded.id();
        Ok(Done {
            tx: Some(tx),
            reply: ScimReply {
                status: 201,
                body: Some(body),
                etag: Some(view::etag(loaded.version())),
                location: Some(format!("{}/{}/{id}", c.base, kind.endpoint())),
            },
            outcome: "created",
            changes,
            tolerances: normalized.tolerances,
        })
    }

    async fn scim_replace(
        &self,
        c: &ScimCaller,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        projection: &Projection,
    ) -> Result<Done, ScimError> {
        let normalized = patch::normalize(body, kind.ctx())?;
        let mut tx = self.store.begin().await.map_err(store_err)?;
        let before = self.load(tx.as_mut(), c, kind, id).await?;
        check_if_match(if_match, before.version())?;
        let now = self.now();
        let mut changes = json!([]);
        let after = match &before {
            Loaded::User(b) => {
                let mut u = b.clone();
                apply_user_doc(&mut u, normalized.resource)?;
                guard_owner(b, &u)?;
                u.last_modified = now;
                changes = diff_changes(&b.scim, &u.scim);
                save_user(tx.as_mut(), &u, b.version).await?
            }
            Loaded::Team(b) => {
                let mut t = b.clone();
                let members = apply_group_doc(&mut t, normalized.resource)?.unwrap_or_default();
                t.last_modified = now;
                if let Value::Array(a) = &mut changes
                    && let Value::Array(d) = diff_changes(&b.scim, &t.scim)
                {
                    a.extend(d);
                }
                let saved = save_team(tx.as_mut(), &t, b.version).await?;
                let removed = tx
                    .clear_team_members(&c.scope(), t.id)
                    .await
                    .map_err(store_err)?;
                let (ids, ignored) = user_ids(&members);
                let added = tx
                    .add_team_members(&c.scope(), t.id, &ids)
                    .await
                    .map_err(store_err)?;
                let (added, removed) = net(&added, &removed);
                push_members(&mut changes, &added, &removed, &ignored);
                saved
            }
        };
        let reply = self.reply_200(tx.as_mut(), c, &after, projection).await?;
        Ok(Done {
            tx: Some(tx),
            reply,
            outcome: "replaced",
            changes,
            tolerances: normalized.tolerances,
        })
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the request's parts, as scim_replace takes them, and the retry mode"
    )]
    async fn scim_patch(
        &self,
        c: &ScimCaller,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        projection: &Projection,
        locked: bool,
    ) -> Result<Done, ScimError> {
        let patch_op = PatchOp::from_json(body)?;
        let mut tolerances = Tolerances::new();
        for op in &patch_op.operations {
            tolerances.extend(&op.tolerances);
        }
        let scope = c.scope();
        // Read and compute outside the write transaction: the writer (SQLite has one for every
        // account) is taken only for the version-checked write, never while the PATCH is
        // computed. A concurrent change makes the write's version check fail, and the PATCH is
        // computed again on the new version, inside the write transaction (see `retrying`).
        let mut rtx = if locked {
            self.store.begin().await
        } else {
            self.store.read().await
        }
        .map_err(store_err)?;
        let before = self.load(rtx.as_mut(), c, kind, id).await?;
        check_if_match(if_match, before.version())?;
        let now = self.now();
        match &before {
            Loaded::User(b) => {
                let outcome = patch::apply(
                    &with_id(&b.scim, b.id),
                    &patch_op.operations,
                    super::user_ctx(),
                )?;
                tolerances.extend(&outcome.tolerances);
                let changes = loggable(&outcome.changes, super::user_ctx());
                let mut u = b.clone();
                apply_user_doc(&mut u, outcome.resource)?;
                if u.scim == b.scim && u.is_active == b.is_active && u.email == b.email {
                    let reply = self.reply_200(rtx.as_mut(), c, &before, projection).await?;
                    return Ok(Done {
                        tx: None,
                        reply,
                        outcome: "unchanged",
                        changes,
                        tolerances,
                    });
                }
                guard_owner(b, &u)?;
                u.last_modified = now;
                let mut tx = self.writer(rtx, locked).await?;
                let after = save_user(tx.as_mut(), &u, b.version).await?;
                let reply = self.reply_200(tx.as_mut(), c, &after, projection).await?;
                Ok(Done {
                    tx: Some(tx),
                    reply,
                    outcome: "updated",
                    changes,
                    tolerances,
                })
            }
            Loaded::Team(b) => {
                let ctx = super::group_ctx();
                let mut t = b.clone();
                let mut changes = json!([]);
                let mut read = Some(rtx);
                let mut writing: Option<Box<dyn Tx>> = None;
                let member_ops = match patch::plan_members(&patch_op.operations, ctx)? {
                    // Membership changes become row inserts and deletes: members are never loaded.
                    Some(plan) => {
                        tolerances.extend(&plan.tolerances);
                        if !plan.other_ops.is_empty() {
                            let outcome =
                                patch::apply(&with_id(&b.scim, b.id), &plan.other_ops, ctx)?;
                            tolerances.extend(&outcome.tolerances);
                            changes = loggable(&outcome.changes, ctx);
                            apply_group_doc(&mut t, outcome.resource)?;
                        }
                        plan.member_ops
                    }
                    // A membership change only the whole list can answer (a filter on `display`,
                    // `members` in a path-less value): load the members and apply it in full,
                    // inside the write transaction, so that no membership change slips in
                    // between the read and the write (IAM membership edits leave the team's
                    // version as it is).
                    None => {
                        let Some(r) = read.take() else {
                            return Err(ScimError::internal("the read was already used"));
                        };
                        let mut tx = self.writer(r, locked).await?;
                        lock_team(tx.as_mut(), c, b, locked).await?;
                        let current = tx
                            .team_members(&c.scope(), &[b.id])
                            .await
                            .map_err(store_err)?
                            .remove(&b.id)
                            .unwrap_or_default();
                        let mut doc = with_id(&b.scim, b.id);
                        doc["members"] = Value::Array(
                            current.iter().map(|m| json!({"value": m.user_id.to_string(), "display": m.display})).collect(),
                        );
                        let outcome = patch::apply(&doc, &patch_op.operations, ctx)?;
                        tolerances.extend(&outcome.tolerances);
                        changes = loggable(&outcome.changes, ctx);
                        let mut resource = outcome.resource;
                        let members = resource
                            .as_object_mut()
                            .and_then(|o| o.remove("members"))
                            .unwrap_or(json!([]));
                        apply_group_doc(&mut t, resource)?;
                        writing = Some(tx);
                        vec![MemberOp::Replace(
                            members.as_array().cloned().unwrap_or_default(),
                        )]
                    }
                };
                let mut tx = match (writing, read) {
                    (Some(tx), _) => tx,
                    (None, Some(r)) => {
                        let mut tx = self.writer(r, locked).await?;
                        lock_team(tx.as_mut(), c, b, locked).await?;
                        tx
                    }
                    (None, None) => return Err(ScimError::internal("no transaction")),
                };
                let mut added_all: Vec<i64> = Vec::new();
                let mut removed_all: Vec<i64> = Vec::new();
                let mut ignored_all: Vec<String> = Vec::new();
                for m in &member_ops {
                    match m {
                        MemberOp::Add(list) => {
                            let (ok, bad) = user_ids(&entries(list));
                            ignored_all.extend(bad);
                            added_all.extend(
                                tx.add_team_members(&scope, t.id, &ok)
                                    .await
                                    .map_err(store_err)?,
                            );
                        }
                        MemberOp::Remove(ids) => {
                            let (ok, bad) = remove_ids(ids);
                            ignored_all.extend(bad);
                            removed_all.extend(
                                tx.remove_team_members(&scope, t.id, &ok)
                                    .await
                                    .map_err(store_err)?,
                            );
                        }
                        MemberOp::RemoveAll => {
                            removed_all.extend(
                                tx.clear_team_members(&scope, t.id)
                                    .await
                                    .map_err(store_err)?,
                            );
                        }
                        MemberOp::Replace(list) => {
                            removed_all.extend(
                                tx.clear_team_members(&scope, t.id)
                                    .await
                                    .map_err(store_err)?,
                            );
                            let (ok, bad) = user_ids(&entries(list));
                            ignored_all.extend(bad);
                            added_all.extend(
                                tx.add_team_members(&scope, t.id, &ok)
                                    .await
                                    .map_err(store_err)?,
                            );
                        }
                    }
                }
                let (added, removed) = net(&added_all, &removed_all);
                push_members(&mut changes, &added, &removed, &ignored_all);
                let doc_changed = t.scim != b.scim || t.name != b.name;
                if !doc_changed && added.is_empty() && removed.is_empty() {
                    let reply = self
                        .group_patch_reply(tx.as_mut(), c, &before, projection)
                        .await?;
                    return Ok(Done {
                        tx: Some(tx),
                        reply,
                        outcome: "unchanged",
                        changes,
                        tolerances,
                    });
                }
                t.last_modified = now;
                let after = save_team(tx.as_mut(), &t, b.version).await?;
                let reply = self
                    .group_patch_reply(tx.as_mut(), c, &after, projection)
                    .await?;
                Ok(Done {
                    tx: Some(tx),
                    reply,
                    outcome: "updated",
                    changes,
                    tolerances,
                })
            }
        }
    }

    /// The write transaction for a change computed on `read`: `read` itself when it is one.
    async fn writer(&self, read: Box<dyn Tx>, locked: bool) -> Result<Box<dyn Tx>, ScimError> {
        if locked {
            return Ok(read);
        }
        drop(read);
        self.store.begin().await.map_err(store_err)
    }

    /// 200 with the resource as the client asked to see it.
    async fn reply_200(
        &self,
        tx: &mut dyn Tx,
        c: &ScimCaller,
        loaded: &Loaded,
        projection: &Projection,
    ) -> Result<ScimReply, ScimError> {
        let body = self.render(tx, c, loaded, projection).await?;
        Ok(ScimReply {
            status: 200,
            body: Some(body),
            etag: Some(view::etag(loaded.version())),
            location: None,
        })
    }

    /// A group PATCH answers 204, as Entra's documentation asks ("returning a body with a list of
    /// all the members isn't advisable"; RFC 7644 §3.5.2 allows it). With `attributes` the answer
    /// is 200 with the group as asked, which §3.5.2 requires. With only `excludedAttributes` it is
    /// 200 too, unless that would still list more than 1,000 members.
    async fn group_patch_reply(
        &self,
        tx: &mut dyn Tx,
        c: &ScimCaller,
        loaded: &Loaded,
        projection: &Projection,
    ) -> Result<ScimReply, ScimError> {
        let etag = Some(view::etag(loaded.version()));
        let no_content = ScimReply {
            status: 204,
            body: None,
            etag: etag.clone(),
            location: None,
        };
        if projection.attributes().is_empty() {
            if projection.excluded_attributes().is_empty() {
                return Ok(no_content);
            }
            let size = tx
                .team_member_count(c.idp.account_id, loaded.id(), GROUP_PATCH_BODY_LIMIT + 1)
                .await
                .map_err(store_err)?;
            if size > GROUP_PATCH_BODY_LIMIT && projection.includes(super::group_ctx(), "members") {
                return Ok(no_content);
            }
        }
        let body = self.render(tx, c, loaded, projection).await?;
        Ok(ScimReply {
            status: 200,
            body: Some(body),
            etag,
            location: None,
        })
    }

    async fn scim_delete(
        &self,
        c: &ScimCaller,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<Done, ScimError> {
        let account = c.idp.account_id;
        let mut tx = self.store.begin().await.map_err(store_err)?;
        let before = self.load(tx.as_mut(), c, kind, id).await?;
        check_if_match(if_match, before.version())?;
        match &before {
            Loaded::User(u) => {
                if u.is_account_owner {
                    return Err(owner_error());
                }
                tx.delete_user(account, u.id).await.map_err(store_err)?;
            }
            Loaded::Team(t) => {
                // The team goes with every membership (those added by hand too, by the cascade).
                tx.delete_team(account, t.id).await.map_err(store_err)?;
            }
        }
        Ok(Done {
            tx: Some(tx),
            reply: ScimReply {
                status: 204,
                body: None,
                etag: None,
                location: None,
            },
            outcome: "deleted",
            changes: Value::Null,
            tolerances: Tolerances::new(),
        })
    }
}

/// A user or team loaded for an operation.
enum Loaded {
    User(User),
    Team(Team),
}

impl Loaded {
    fn version(&self) -> i64 {
        match self {
            Loaded::User(u) => u.version,
            Loaded::Team(t) => t.version,
        }
    }
    fn id(&self) -> i64 {
        match self {
            Loaded::User(u) => u.id,
            Loaded::Team(t) => t.id,
        }
    }
}

/// Write a changed user (a taken userName answers `uniqueness`). The stored user is `u` at the
/// next version (its teams are untouched), so it is not read back.
async fn save_user(tx: &mut dyn Tx, u: &User, expected_version: i64) -> Result<Loaded, ScimError> {
    tx.update_user(u, expected_version)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(k) => conflict(k, &u.email),
            other => store_err(other),
        })?;
    let mut saved = u.clone();
    saved.version = expected_version + 1;
    Ok(Loaded::User(saved))
}

/// Write a changed team (a taken displayName answers `uniqueness`) and read it back.
async fn save_team(tx: &mut dyn Tx, t: &Team, expected_version: i64) -> Result<Loaded, ScimError> {
    tx.update_team(t, expected_version)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(k) => conflict(k, &t.name),
            other => store_err(other),
        })?;
    let saved = tx.team(t.account_id, t.id).await.map_err(store_err)?;
    Ok(Loaded::Team(saved.ok_or_else(|| {
        ScimError::not_found("The group was deleted meanwhile")
    })?))
}

fn owner_error() -> ScimError {
    ScimError::forbidden(
        "This user is an account owner: owners cannot be changed, deactivated or deleted through SCIM \
         (so an identity provider can never lock the account out). Manage them in Roster, or remove them from the provisioning scope",
    )
}

/// Owners may be re-sent unchanged (Entra does, every cycle), never changed.
fn guard_owner(before: &User, after: &User) -> Result<(), ScimError> {
    if before.is_account_owner
        && (before.scim != after.scim
            || before.is_active != after.is_active
            || before.email != after.email)
    {
        return Err(owner_error());
    }
    Ok(())
}

fn created_changes(doc: &Value) -> Value {
    match doc {
        Value::Object(o) => Value::Array(
            o.iter()
                .map(|(k, v)| json!({"attribute": k, "old": null, "new": v}))
                .collect(),
        ),
        _ => json!([]),
    }
}

/// Top-level attributes that differ.
fn diff_changes(before: &Value, after: &Value) -> Value {
    let empty = serde_json::Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut out = Vec::new();
    for k in b.keys().chain(a.keys().filter(|k| !b.contains_key(*k))) {
        if b.get(k) != a.get(k) {
            out.push(json!({"attribute": k, "old": b.get(k), "new": a.get(k)}));
        }
    }
    Value::Array(out)
}

/// Members added and removed, net of each other.
fn net(added: &[i64], removed: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let a: std::collections::BTreeSet<i64> = added.iter().copied().collect();
    let r: std::collections::BTreeSet<i64> = removed.iter().copied().collect();
    (
        a.difference(&r).copied().collect(),
        r.difference(&a).copied().collect(),
    )
}

fn push_members(changes: &mut Value, added: &[i64], removed: &[i64], ignored: &[String]) {
    let Value::Array(a) = changes else { return };
    if !added.is_empty() || !removed.is_empty() {
        a.push(json!({
            "attribute": "members",
            "added": added.iter().map(i64::to_string).collect::<Vec<_>>(),
            "removed": removed.iter().map(i64::to_string).collect::<Vec<_>>(),
        }));
    }
    if !ignored.is_empty() {
        a.push(json!({"attribute": "members", "ignored": ignored, "reason": "not a user id"}));
    }
}

/// Lock the team's row in a write transaction that did not read it, and check it is still the
/// version the change was computed on (412 otherwise, which `retrying` computes again). Locked
/// before its member rows: on PostgreSQL each member insert holds a key-share lock on the team,
/// and two PATCHes that inserted members first would deadlock on the team's versioned UPDATE.
async fn lock_team(
    tx: &mut dyn Tx,
    c: &ScimCaller,
    b: &Team,
    read_in_this_tx: bool,
) -> Result<(), ScimError> {
    if read_in_this_tx {
        return Ok(());
    }
    let current = tx
        .team(c.idp.account_id, b.id)
        .await
        .map_err(store_err)?
        .map(|t| t.version);
    if current != Some(b.version) {
        return Err(store_err(StoreError::VersionMismatch));
    }
    Ok(())
}

/// The longest path, resource id or detail a provisioning-log entry keeps (in characters): a
/// client's long path or id costs the log no more than this.
const LOG_TEXT_MAX: usize = 512;

/// `text`, cut to `LOG_TEXT_MAX` characters (marked with `…` when cut).
fn clip(text: &str) -> String {
    match text.char_indices().nth(LOG_TEXT_MAX) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

/// `/ServiceProviderConfig`: only what is enforced.
fn service_provider_config(base: &str) -> Value {
    let mut c = roster_scim::messages::ServiceProviderConfig::new(MAX_COUNT as u32);
    c.documentation_uri = None;
    c.sort.supported = true;
    c.etag.supported = true;
    c.bulk.supported = true;
    c.bulk.max_operations = BULK_MAX_OPERATIONS as u32;
    c.bulk.max_payload_size = BULK_MAX_PAYLOAD as u64;
    // Cursors are ids: they never expire, so no cursorTimeout.
    c.pagination = Some(roster_scim::messages::PaginationConfig {
        cursor: true,
        index: true,
        default_pagination_method: Some("index".into()),
        default_page_size: Some(DEFAULT_COUNT as u32),
        max_page_size: Some(MAX_COUNT as u32),
        cursor_timeout: None,
    });
    let mut v = serde_json::to_value(&c).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "meta".into(),
            json!({"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}),
        );
    }
    v
}
