//! The SCIM service provider: one entry point, [`Roster::scim`], for every SCIM request of one
//! identity provider's endpoint. It authenticates, authorises, runs the operation in a store
//! transaction (read, apply the pure change from `roster-scim`, versioned write, commit), and
//! records the provisioning log.

use super::view;
use crate::error::{AuthFailure, CoreError};
use crate::model::{IdentityProvider, ScimRef, Team, TeamId, User, UserId, perm};
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
mod connection;
mod discovery;
mod documents;
mod errors;
mod list;
mod operations;
mod patching;
mod resource;

pub(super) use audit::LogMeta;
use audit::*;
pub use connection::ConnectionCheck;
use discovery::*;
pub use documents::user_from_resource;
use documents::*;
use errors::*;
use resource::*;

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

/// What an operation did, as the provisioning log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Read,
    Created,
    /// A create that linked an existing hand-made user (the provider's `scim_adopt_existing`).
    Adopted,
    Replaced,
    Updated,
    /// A write that changed nothing (not logged).
    Unchanged,
    Deleted,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Read => "read",
            Outcome::Created => "created",
            Outcome::Adopted => "adopted",
            Outcome::Replaced => "replaced",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Deleted => "deleted",
            Outcome::Failed => "failed",
        }
    }
}

/// What an operation did, for the reply and the log.
pub(super) struct Done {
    pub reply: ScimReply,
    pub outcome: Outcome,
    pub changes: Value,
    pub tolerances: Tolerances,
    /// The write's transaction, still open: its log entry joins it, so the change and its record
    /// commit together, with one durable flush instead of two.
    pub tx: Option<Box<dyn Tx>>,
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
        if !found.is_active {
            return Err(own(ScimError::forbidden(format!(
                "Identity provider {} is not the account's active one: SCIM provisions only through \
                 the active provider (PATCH it with {{\"is_active\": true}}). What it provisioned \
                 stays its own meanwhile.",
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

    async fn scim_op(&self, c: &ScimCaller, op: ScimOp) -> Result<Done, Failure> {
        let read = |reply| {
            Ok(Done {
                reply,
                outcome: Outcome::Read,
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
            } => {
                let inm = if_none_match.as_deref();
                read(match kind {
                    Kind::Users => self.scim_get::<User>(c, &id, &projection, inm).await?,
                    Kind::Groups => self.scim_get::<Team>(c, &id, &projection, inm).await?,
                })
            }
            ScimOp::Create {
                kind,
                body,
                projection,
            } => match kind {
                Kind::Users => self.scim_create::<User>(c, &body, &projection).await,
                Kind::Groups => self.scim_create::<Team>(c, &body, &projection).await,
            },
            ScimOp::Replace {
                kind,
                id,
                body,
                if_match,
                projection,
            } => {
                let im = if_match.as_deref();
                let (id, body, projection) = (&id, &body, &projection);
                self.retrying(im.is_some(), move |_| async move {
                    match kind {
                        Kind::Users => self.scim_replace::<User>(c, id, body, im, projection).await,
                        Kind::Groups => {
                            self.scim_replace::<Team>(c, id, body, im, projection).await
                        }
                    }
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
                let im = if_match.as_deref();
                let (id, body, projection) = (&id, &body, &projection);
                self.retrying(im.is_some(), move |locked| async move {
                    match kind {
                        Kind::Users => {
                            self.scim_patch::<User>(c, id, body, im, projection, locked)
                                .await
                        }
                        Kind::Groups => {
                            self.scim_patch::<Team>(c, id, body, im, projection, locked)
                                .await
                        }
                    }
                })
                .await
            }
            ScimOp::Delete { kind, id, if_match } => {
                let im = if_match.as_deref();
                match kind {
                    Kind::Users => self.scim_delete::<User>(c, &id, im).await,
                    Kind::Groups => self.scim_delete::<Team>(c, &id, im).await,
                }
            }
            ScimOp::Unreadable { error, .. } => Err(error.into()),
            ScimOp::Bulk { body } => {
                let reply = self.scim_bulk(c, &body).await?;
                Ok(Done {
                    reply,
                    outcome: Outcome::Unchanged,
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
}
