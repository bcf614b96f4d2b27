//! One abstraction over what SCIM serves: [`Resource`], which users and teams (SCIM Groups)
//! implement, so that each operation (get, list, create, replace, delete, and PATCH's frame) is
//! written once in `operations` and `patching`.

use super::*;
use crate::model::{NewUser, Provisioning};
use crate::store::MemberStatus;
use chrono::{DateTime, Utc};

/// Members a write added, removed, and ignored (with why). Empty for users.
#[derive(Debug, Default)]
pub(super) struct MemberChange {
    pub added: Vec<Moved>,
    pub removed: Vec<Moved>,
    pub ignored: Vec<Ignored>,
}

/// The account's users that `refs` name, by ref (refs naming no user of the account are absent).
async fn resolve(
    tx: &mut dyn Tx,
    scope: &ScimScope,
    refs: &[ScimRef],
) -> Result<std::collections::HashMap<ScimRef, UserId>, Failure> {
    Ok(tx
        .resolve_users(scope.account, refs)
        .await?
        .into_iter()
        .collect())
}

/// Add `members` (as sent) to the scope's `team`; answer those added and, for each one neither
/// added nor a member already, why (unknown, another provider's, made by hand, the caller, a
/// group, not an id): nothing is dropped without a trace in the provisioning log.
pub(super) async fn add_members(
    tx: &mut dyn Tx,
    scope: &ScimScope,
    team: TeamId,
    members: &[Entry],
) -> Result<(Vec<Moved>, Vec<Ignored>), Failure> {
    let (sent, mut ignored) = member_refs(members);
    let refs: Vec<ScimRef> = sent.iter().map(|(r, _)| *r).collect();
    let found = resolve(tx, scope, &refs).await?;
    let mut ok = Vec::with_capacity(sent.len());
    let mut unknown = std::collections::BTreeSet::new();
    for (r, display) in sent {
        match found.get(&r) {
            Some(id) => ok.push((*id, display)),
            None => {
                unknown.insert(r);
            }
        }
    }
    ignored.extend(unknown.iter().map(|r| (r.to_string(), NO_SUCH_USER)));
    let named: std::collections::HashMap<UserId, ScimRef> =
        found.iter().map(|(r, id)| (*id, *r)).collect();
    let name = |id: UserId| named.get(&id).copied().unwrap_or(ScimRef::Legacy(id.0));
    let added = tx.add_team_members(scope, team, &ok).await?;
    let done: std::collections::HashSet<UserId> = added.iter().copied().collect();
    let mut rest: Vec<UserId> = ok
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| !done.contains(id))
        .collect();
    rest.sort_unstable();
    rest.dedup();
    if !rest.is_empty() {
        for (id, status) in tx.member_status(scope, team, &rest).await? {
            let reason = match status {
                MemberStatus::Member => continue,
                MemberStatus::NoSuchUser => NO_SUCH_USER,
                MemberStatus::Caller => "the token's own user, which SCIM never addresses",
                MemberStatus::HandMade => "a user made by hand, outside this identity provider",
                MemberStatus::OtherProvider => "another identity provider's user",
            };
            ignored.push((name(id).to_string(), reason));
        }
    }
    Ok((
        added.into_iter().map(|id| (id, name(id))).collect(),
        ignored,
    ))
}

/// Remove the scope's users that `refs` name from `team`; answer those removed, and the refs
/// that name no user.
pub(super) async fn remove_members(
    tx: &mut dyn Tx,
    scope: &ScimScope,
    team: TeamId,
    ids: &[String],
) -> Result<(Vec<Moved>, Vec<Ignored>), Failure> {
    let (refs, mut ignored) = remove_refs(ids);
    let found = resolve(tx, scope, &refs).await?;
    let unknown: std::collections::BTreeSet<ScimRef> = refs
        .iter()
        .filter(|r| !found.contains_key(r))
        .copied()
        .collect();
    ignored.extend(unknown.iter().map(|r| (r.to_string(), NO_SUCH_USER)));
    let named: std::collections::HashMap<UserId, ScimRef> =
        found.iter().map(|(r, id)| (*id, *r)).collect();
    let ids: Vec<UserId> = named.keys().copied().collect();
    let removed = tx.remove_team_members(scope, team, &ids).await?;
    Ok((
        removed
            .into_iter()
            .map(|id| (id, named.get(&id).copied().unwrap_or(ScimRef::Legacy(id.0))))
            .collect(),
        ignored,
    ))
}

impl MemberChange {
    /// Recorded in a change set (added and removed net of each other).
    pub(super) fn record(&self, changes: &mut Value) {
        let (added, removed) = net(&self.added, &self.removed);
        push_members(changes, &added, &removed, &self.ignored);
    }
}

/// A SCIM resource as an operation needs it: read, changed by a document, written with a
/// version check, rendered. The store calls are the resource's own; everything around them
/// (scope, preconditions, change sets, replies, the log) is the operation's.
#[async_trait::async_trait]
pub(super) trait Resource: Clone + Send + Sync + Sized + 'static {
    const KIND: Kind;

    /// The id SCIM shows and addresses it by.
    fn scim_ref(&self) -> ScimRef;
    fn version(&self) -> i64;
    fn provisioning(&self) -> &Provisioning;
    /// The stored SCIM document (without `id`, `meta`, or group members).
    fn doc(&self) -> &Value;
    fn set_modified(&mut self, now: DateTime<Utc>);

    /// A new, empty resource of the caller's identity provider.
    fn blank(c: &ScimCaller, now: DateTime<Utc>) -> Self;
    /// Take a document's values (it becomes the stored document). Answers the members it lists
    /// (`None`: the document has no `members`; users never have any).
    fn apply(&mut self, doc: Value) -> Result<Option<Vec<Entry>>, ScimError>;
    /// May the provider change `before` into `after`? (Account owners stay as they are.)
    fn may_become(_before: &Self, _after: &Self) -> Result<(), ScimError> {
        Ok(())
    }
    /// May the provider delete it?
    fn may_delete(&self) -> Result<(), ScimError> {
        Ok(())
    }
    /// Is it the caller's own (SCIM never addresses the caller's own user)?
    fn is_caller(&self, _c: &ScimCaller) -> bool {
        false
    }
    /// A taken unique value, as the client should hear it.
    fn conflict(&self, c: Conflict) -> ScimError;
    /// The existing resource a create whose unique value is taken may adopt (the provider's
    /// `scim_adopt_existing`), read inside the write `tx`; `None` when there is none to adopt.
    async fn adoptable(&self, _tx: &mut dyn Tx, _c: &ScimCaller) -> Result<Option<Self>, Failure> {
        Ok(None)
    }
    /// Make it this provider's (an adopted resource).
    fn claim(&mut self, _c: &ScimCaller) {}
    /// When a create found its unique value taken by a resource outside this provider's scope,
    /// who holds it (so the admin knows what to do); `None` to answer the plain conflict.
    async fn taken_by(
        &self,
        _tx: &mut dyn Read,
        _c: &ScimCaller,
    ) -> Result<Option<ScimError>, Failure> {
        Ok(None)
    }

    async fn find(tx: &mut dyn Read, c: &ScimCaller, r: ScimRef) -> Result<Option<Self>, Failure>;
    /// Insert; answers the stored resource.
    async fn insert(self, tx: &mut dyn Tx) -> Result<Self, Failure>;
    /// Write a changed resource if it is still at `expected_version`; answers the stored one.
    async fn update(&self, tx: &mut dyn Tx, expected_version: i64) -> Result<Self, Failure>;
    async fn delete(&self, tx: &mut dyn Tx) -> Result<(), Failure>;
    /// Make its members exactly `members` (groups; nothing for users).
    async fn set_members(
        &self,
        _tx: &mut dyn Tx,
        _c: &ScimCaller,
        _members: &[Entry],
        _replace: bool,
    ) -> Result<MemberChange, Failure> {
        Ok(MemberChange::default())
    }
    /// A page of a list, rendered as the client asked: resources, total, last id.
    async fn page(
        tx: &mut dyn Read,
        c: &ScimCaller,
        q: &ScimQuery,
        projection: &Projection,
    ) -> Result<(Vec<Value>, i64, Option<i64>), Failure>;
    /// The resource as the client asked to see it.
    async fn render(
        &self,
        tx: &mut dyn Read,
        c: &ScimCaller,
        projection: &Projection,
    ) -> Result<Value, Failure>;
}

/// A write's store error, with a taken unique value named as the client sent it.
fn written<R: Resource>(r: &R, e: StoreError) -> Failure {
    match e {
        StoreError::Conflict(k) => Failure::Answer(r.conflict(k)),
        other => Failure::from(other),
    }
}

#[async_trait::async_trait]
impl Resource for User {
    const KIND: Kind = Kind::Users;

    fn scim_ref(&self) -> ScimRef {
        Self::scim_ref(self)
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn provisioning(&self) -> &Provisioning {
        &self.provisioning
    }
    fn doc(&self) -> &Value {
        &self.scim
    }
    fn set_modified(&mut self, now: DateTime<Utc>) {
        self.last_modified = now;
    }
    fn blank(c: &ScimCaller, now: DateTime<Utc>) -> Self {
        let mut u = User::new(c.idp.account_id, "", "", "", now);
        u.provisioning.idp_uuid = Some(c.idp.uuid);
        u
    }
    fn apply(&mut self, doc: Value) -> Result<Option<Vec<Entry>>, ScimError> {
        apply_user_doc(self, doc)?;
        Ok(None)
    }
    fn may_become(before: &Self, after: &Self) -> Result<(), ScimError> {
        guard_owner(before, after)
    }
    fn may_delete(&self) -> Result<(), ScimError> {
        if self.is_account_owner {
            return Err(owner_error());
        }
        Ok(())
    }
    fn is_caller(&self, c: &ScimCaller) -> bool {
        self.id == c.principal.user().id
    }
    fn conflict(&self, c: Conflict) -> ScimError {
        conflict(c, &self.email)
    }
    async fn adoptable(&self, tx: &mut dyn Tx, c: &ScimCaller) -> Result<Option<Self>, Failure> {
        if !c.idp.scim_adopt_existing {
            return Ok(None);
        }
        // Read in the write, so it is locked (PostgreSQL) until the adoption commits.
        let Some(found) = tx.user_by_email(c.idp.account_id, &self.email).await? else {
            return Ok(None);
        };
        let hand_made = found.provisioning.idp_uuid.is_none();
        Ok((hand_made && !found.is_account_owner && !found.is_caller(c)).then_some(found))
    }
    fn claim(&mut self, c: &ScimCaller) {
        self.provisioning.idp_uuid = Some(c.idp.uuid);
    }
    async fn taken_by(
        &self,
        tx: &mut dyn Read,
        c: &ScimCaller,
    ) -> Result<Option<ScimError>, Failure> {
        let Some(holder) = tx.user_by_email(c.idp.account_id, &self.email).await? else {
            return Ok(None);
        };
        let name = &self.email;
        let who = match holder.provisioning.idp_uuid {
            Some(idp) if idp == c.idp.uuid && !holder.is_account_owner => return Ok(None),
            _ if holder.is_account_owner => {
                "the account owner, whom SCIM never changes".to_string()
            }
            Some(other) => format!(
                "a user that identity provider {other} of this account provisioned; only that \
                 provider addresses it"
            ),
            None => "a user made by hand in this account, outside every identity provider: \
                     change or delete that user through the IAM API or the console first"
                .to_string(),
        };
        Ok(Some(ScimError::uniqueness(format!(
            "userName \"{name}\" is taken by {who}"
        ))))
    }

    async fn find(tx: &mut dyn Read, c: &ScimCaller, r: ScimRef) -> Result<Option<Self>, Failure> {
        Ok(tx.scim_user(c.idp.account_id, r).await?)
    }
    async fn insert(self, tx: &mut dyn Tx) -> Result<Self, Failure> {
        let new = NewUser::from(self);
        match tx.insert_user(&new).await {
            // The stored user is what was written (timestamps are already at the stores'
            // precision; the conformance suite checks a read-back equals it): no read-back.
            Ok(id) => Ok(new.stored(id)),
            Err(StoreError::Conflict(k)) => Err(Failure::Answer(conflict(k, &new.email))),
            Err(e) => Err(e.into()),
        }
    }
    async fn update(&self, tx: &mut dyn Tx, expected_version: i64) -> Result<Self, Failure> {
        tx.update_user(self, expected_version)
            .await
            .map_err(|e| written(self, e))?;
        // Its teams are untouched: the stored user is this one at the next version.
        let mut saved = self.clone();
        saved.version = expected_version + 1;
        Ok(saved)
    }
    async fn delete(&self, tx: &mut dyn Tx) -> Result<(), Failure> {
        Ok(tx.delete_user(self.account_id, self.id).await?)
    }
    async fn page(
        tx: &mut dyn Read,
        c: &ScimCaller,
        q: &ScimQuery,
        projection: &Projection,
    ) -> Result<(Vec<Value>, i64, Option<i64>), Failure> {
        let p = tx.scim_users(&c.scope(), q).await?;
        let last = p.items.last().map(|u| u.id.0);
        let ctx = Self::KIND.ctx();
        let items = p
            .items
            .iter()
            .map(|u| projection.apply(&view::user(u, &c.base, c.idp.uuid), ctx))
            .collect();
        Ok((items, p.total, last))
    }
    async fn render(
        &self,
        _tx: &mut dyn Read,
        c: &ScimCaller,
        projection: &Projection,
    ) -> Result<Value, Failure> {
        Ok(projection.apply(&view::user(self, &c.base, c.idp.uuid), Self::KIND.ctx()))
    }
}

#[async_trait::async_trait]
impl Resource for Team {
    const KIND: Kind = Kind::Groups;

    fn scim_ref(&self) -> ScimRef {
        Self::scim_ref(self)
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn provisioning(&self) -> &Provisioning {
        &self.provisioning
    }
    fn doc(&self) -> &Value {
        &self.scim
    }
    fn set_modified(&mut self, now: DateTime<Utc>) {
        self.last_modified = now;
    }
    fn blank(c: &ScimCaller, now: DateTime<Utc>) -> Self {
        let mut t = Team::new(c.idp.account_id, "", now);
        t.provisioning.idp_uuid = Some(c.idp.uuid);
        t
    }
    fn apply(&mut self, doc: Value) -> Result<Option<Vec<Entry>>, ScimError> {
        apply_group_doc(self, doc)
    }
    fn conflict(&self, c: Conflict) -> ScimError {
        conflict(c, &self.name)
    }

    async fn find(tx: &mut dyn Read, c: &ScimCaller, r: ScimRef) -> Result<Option<Self>, Failure> {
        Ok(tx.scim_team(c.idp.account_id, r).await?)
    }
    async fn insert(self, tx: &mut dyn Tx) -> Result<Self, Failure> {
        let id = tx.insert_team(&self).await.map_err(|e| written(&self, e))?;
        tx.team(self.account_id, id)
            .await?
            .ok_or_else(|| Failure::Answer(ScimError::internal("created group vanished")))
    }
    async fn update(&self, tx: &mut dyn Tx, expected_version: i64) -> Result<Self, Failure> {
        tx.update_team(self, expected_version)
            .await
            .map_err(|e| written(self, e))?;
        tx.team(self.account_id, self.id)
            .await?
            .ok_or_else(|| Failure::Answer(ScimError::not_found("The group was deleted meanwhile")))
    }
    async fn delete(&self, tx: &mut dyn Tx) -> Result<(), Failure> {
        // The team goes with every membership (those added by hand too, by the cascade).
        Ok(tx.delete_team(self.account_id, self.id).await?)
    }
    async fn set_members(
        &self,
        tx: &mut dyn Tx,
        c: &ScimCaller,
        members: &[Entry],
        replace: bool,
    ) -> Result<MemberChange, Failure> {
        let scope = c.scope();
        let removed = if replace {
            tx.clear_team_members(&scope, self.id).await?
        } else {
            Vec::new()
        };
        let (added, ignored) = add_members(tx, &scope, self.id, members).await?;
        Ok(MemberChange {
            added,
            removed,
            ignored,
        })
    }
    async fn page(
        tx: &mut dyn Read,
        c: &ScimCaller,
        q: &ScimQuery,
        projection: &Projection,
    ) -> Result<(Vec<Value>, i64, Option<i64>), Failure> {
        let ctx = Self::KIND.ctx();
        let scope = c.scope();
        let p = tx.scim_teams(&scope, q).await?;
        let last = p.items.last().map(|t| t.id.0);
        let mut members = if projection.includes(ctx, "members") {
            let ids: Vec<TeamId> = p.items.iter().map(|t| t.id).collect();
            Some(tx.team_members(&scope, &ids).await?)
        } else {
            None
        };
        let items = p
            .items
            .iter()
            .map(|t| {
                let ms = members
                    .as_mut()
                    .map(|m| m.remove(&t.id).unwrap_or_default());
                projection.apply(&view::group(t, ms.as_deref(), &c.base), ctx)
            })
            .collect();
        Ok((items, p.total, last))
    }
    async fn render(
        &self,
        tx: &mut dyn Read,
        c: &ScimCaller,
        projection: &Projection,
    ) -> Result<Value, Failure> {
        let ctx = Self::KIND.ctx();
        let members = if projection.includes(ctx, "members") {
            Some(
                tx.team_members(&c.scope(), &[self.id])
                    .await?
                    .remove(&self.id)
                    .unwrap_or_default(),
            )
        } else {
            None
        };
        Ok(projection.apply(&view::group(self, members.as_deref(), &c.base), ctx))
    }
}
