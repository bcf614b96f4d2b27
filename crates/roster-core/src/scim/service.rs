//! The SCIM service provider: one entry point, [`Roster::scim`], for every SCIM request of one
//! identity provider's endpoint. It authenticates, authorises, runs the operation in a store
//! transaction (read, apply the pure change from `roster-scim`, versioned write, commit), and
//! records the provisioning log.

use super::view;
use crate::error::{AuthFailure, CoreError};
use crate::model::{IdentityProvider, Team, TeamId, User, UserId, perm};
use crate::service::{Principal, Roster};
use crate::store::{Conflict, LogEntry, Read, ScimQuery, ScimScope, ScimSort, StoreError, Tx};
use roster_scim::messages::{ListResponse, Pagination, SearchRequest};
use roster_scim::patch::MemberOp;
use roster_scim::patch::{self, PatchOp};
use roster_scim::projection::Projection;
use roster_scim::schema::Container;
use roster_scim::{AttrPath, ResourceContext, ScimError, Tolerances};
use serde_json::{Value, json};
use uuid::Uuid;

mod audit;
mod discovery;
mod documents;
mod errors;
mod list;
mod patching;

pub(super) use audit::LogMeta;
use audit::*;
use discovery::*;
pub use documents::user_from_resource;
use documents::*;
use errors::*;

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

    async fn load(
        &self,
        tx: &mut dyn Read,
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
                tx.user(c.idp.account_id, UserId(n))
                    .await?
                    .filter(|u| mine(&u.provisioning) && u.id != c.principal.user().id)
                    .ok_or_else(missing)?,
            ),
            Kind::Groups => Loaded::Team(
                tx.team(c.idp.account_id, TeamId(n))
                    .await?
                    .filter(|t| mine(&t.provisioning))
                    .ok_or_else(missing)?,
            ),
        })
    }

    /// The resource as the client asked to see it.
    async fn render(
        &self,
        tx: &mut dyn Read,
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
                            .await?
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
        let mut tx = self.store.read().await?;
        let loaded = self.load(tx.as_mut(), c, kind, id).await?;
        let version = loaded.version();
        if if_none_match.is_some_and(|h| etag_matches(h, version)) {
            return Ok(ScimReply {
                status: 304,
                body: None,
                etag: Some(view::etag(version)),
                location: None,
            });
        }
        let body = self.render(tx.as_mut(), c, &loaded, projection).await?;
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
        let mut tx = self.store.begin().await?;
        let (loaded, changes) = match kind {
            Kind::Users => {
                let mut u = User::new(account, "", "", "", now);
                u.provisioning.idp_uuid = Some(c.idp.uuid);
                apply_user_doc(&mut u, normalized.resource)?;
                let id = tx.insert_user(&u).await.map_err(|e| match e {
                    StoreError::Conflict(k) => conflict(k, &u.email),
                    other => ScimError::from(other),
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
                    other => ScimError::from(other),
                })?;
                let (ids, ignored) = user_ids(&members);
                let added = tx.add_team_members(&c.scope(), id, &ids).await?;
                let t = tx
                    .team(account, id)
                    .await?
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
        let mut tx = self.store.begin().await?;
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
                let removed = tx.clear_team_members(&c.scope(), t.id).await?;
                let (ids, ignored) = user_ids(&members);
                let added = tx.add_team_members(&c.scope(), t.id, &ids).await?;
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

    /// 200 with the resource as the client asked to see it.
    async fn reply_200(
        &self,
        tx: &mut dyn Read,
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
                .team_member_count(
                    c.idp.account_id,
                    TeamId(loaded.id()),
                    GROUP_PATCH_BODY_LIMIT + 1,
                )
                .await?;
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
        let mut tx = self.store.begin().await?;
        let before = self.load(tx.as_mut(), c, kind, id).await?;
        check_if_match(if_match, before.version())?;
        match &before {
            Loaded::User(u) => {
                if u.is_account_owner {
                    return Err(owner_error());
                }
                tx.delete_user(account, u.id).await?;
            }
            Loaded::Team(t) => {
                // The team goes with every membership (those added by hand too, by the cascade).
                tx.delete_team(account, t.id).await?;
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
            Loaded::User(u) => u.id.0,
            Loaded::Team(t) => t.id.0,
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
            other => ScimError::from(other),
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
            other => ScimError::from(other),
        })?;
    let saved = tx.team(t.account_id, t.id).await?;
    Ok(Loaded::Team(saved.ok_or_else(|| {
        ScimError::not_found("The group was deleted meanwhile")
    })?))
}
