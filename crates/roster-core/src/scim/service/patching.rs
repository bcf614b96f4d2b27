//! PATCH: computed outside the write transaction, written with a version check, computed again
//! inside it after a conflict.

use super::operations::{check_if_match, with_body};
use super::resource::{MemberChange, Resource};
use super::*;

/// Lock the team's row in a write transaction that did not read it, and check it is still the
/// version the change was computed on (412 otherwise, which `retrying` computes again). Locked
/// before its member rows: on PostgreSQL each member insert holds a key-share lock on the team,
/// and two PATCHes that inserted members first would deadlock on the team's versioned UPDATE.
pub(super) async fn lock_team(
    tx: &mut dyn Tx,
    c: &ScimCaller,
    b: &Team,
    read_in_this_tx: bool,
) -> Result<(), Failure> {
    if read_in_this_tx {
        return Ok(());
    }
    let current = tx.team(c.idp.account_id, b.id).await?.map(|t| t.version);
    if current != Some(b.version) {
        return Err(Failure::from(StoreError::VersionMismatch));
    }
    Ok(())
}

/// A PATCH request's parts, as the resource-specific half sees them.
pub(super) struct Patching<'a> {
    pub c: &'a ScimCaller,
    pub op: &'a PatchOp,
    pub projection: &'a Projection,
    /// The read is inside the write transaction already (a retry after a lost race).
    pub locked: bool,
    pub tolerances: Tolerances,
}

/// How a resource takes a PATCH once it is loaded and its precondition holds: users apply it
/// to their document; groups turn membership operations into row writes.
#[async_trait::async_trait]
pub(super) trait Patch: Resource {
    async fn patch(
        roster: &Roster,
        p: Patching<'_>,
        read: Reader,
        before: Self,
    ) -> Result<Done, Failure>;
}

#[async_trait::async_trait]
impl Patch for User {
    async fn patch(
        roster: &Roster,
        p: Patching<'_>,
        mut read: Reader,
        b: Self,
    ) -> Result<Done, Failure> {
        let Patching {
            c,
            op,
            projection,
            locked: _,
            mut tolerances,
        } = p;
        let ctx = User::KIND.ctx();
        let outcome = patch::apply(&with_id(&b.scim, b.scim_ref()), &op.operations, ctx)?;
        tolerances.extend(&outcome.tolerances);
        let changes = loggable(&outcome.changes, ctx);
        let mut u = b.clone();
        u.apply(outcome.resource)?;
        if u.scim == b.scim && u.is_active == b.is_active && u.email == b.email {
            let body = b.render(read.read(), c, projection).await?;
            return Ok(Done {
                tx: None,
                reply: with_body(200, body, b.version),
                outcome: Outcome::Unchanged,
                changes,
                tolerances,
            });
        }
        User::may_become(&b, &u)?;
        u.set_modified(roster.now());
        let mut tx = roster.writer(read).await?;
        let after = u.update(tx.as_mut(), b.version).await?;
        let body = after.render(tx.as_mut(), c, projection).await?;
        Ok(Done {
            tx: Some(tx),
            reply: with_body(200, body, after.version),
            outcome: Outcome::Updated,
            changes,
            tolerances,
        })
    }
}

#[async_trait::async_trait]
impl Patch for Team {
    async fn patch(
        roster: &Roster,
        p: Patching<'_>,
        read: Reader,
        b: Self,
    ) -> Result<Done, Failure> {
        let Patching {
            c,
            op,
            projection,
            locked,
            mut tolerances,
        } = p;
        let ctx = Team::KIND.ctx();
        let scope = c.scope();
        let mut t = b.clone();
        let mut changes = json!([]);
        let mut read = Some(read);
        let mut writing: Option<Box<dyn Tx>> = None;
        let member_ops = match patch::plan_members(&op.operations, ctx)? {
            // Membership changes become row inserts and deletes: members are never loaded.
            Some(plan) => {
                tolerances.extend(&plan.tolerances);
                if !plan.other_ops.is_empty() {
                    let outcome =
                        patch::apply(&with_id(&b.scim, b.scim_ref()), &plan.other_ops, ctx)?;
                    tolerances.extend(&outcome.tolerances);
                    changes = loggable(&outcome.changes, ctx);
                    t.apply(outcome.resource)?;
                }
                plan.member_ops
            }
            // A membership change only the whole list can answer (a filter on `display`,
            // `members` in a path-less value): load the members and apply it in full, inside the
            // write transaction, so that no membership change slips in between the read and the
            // write (IAM membership edits leave the team's version as it is).
            None => {
                let Some(r) = read.take() else {
                    return Err(ScimError::internal("the read was already used").into());
                };
                let mut tx = roster.writer(r).await?;
                lock_team(tx.as_mut(), c, &b, locked).await?;
                let current = tx
                    .team_members(&scope, &[b.id])
                    .await?
                    .remove(&b.id)
                    .unwrap_or_default();
                let mut doc = with_id(&b.scim, b.scim_ref());
                doc["members"] = Value::Array(
                    current
                        .iter()
                        .map(|m| json!({"value": m.scim_ref().to_string(), "display": m.display}))
                        .collect(),
                );
                let outcome = patch::apply(&doc, &op.operations, ctx)?;
                tolerances.extend(&outcome.tolerances);
                changes = loggable(&outcome.changes, ctx);
                let mut resource = outcome.resource;
                let members = resource
                    .as_object_mut()
                    .and_then(|o| o.remove("members"))
                    .unwrap_or(json!([]));
                t.apply(resource)?;
                writing = Some(tx);
                vec![MemberOp::Replace(
                    members.as_array().cloned().unwrap_or_default(),
                )]
            }
        };
        let mut tx = match (writing, read) {
            (Some(tx), _) => tx,
            (None, Some(r)) => {
                let mut tx = roster.writer(r).await?;
                lock_team(tx.as_mut(), c, &b, locked).await?;
                tx
            }
            (None, None) => return Err(ScimError::internal("no transaction").into()),
        };
        let mut m = MemberChange::default();
        for op in &member_ops {
            match op {
                MemberOp::Add(list) => {
                    let (added, bad) =
                        add_members(tx.as_mut(), &scope, t.id, &entries(list)).await?;
                    m.ignored.extend(bad);
                    m.added.extend(added);
                }
                MemberOp::Remove(ids) => {
                    let (removed, bad) = remove_members(tx.as_mut(), &scope, t.id, ids).await?;
                    m.ignored.extend(bad);
                    m.removed.extend(removed);
                }
                MemberOp::RemoveAll => {
                    m.removed.extend(tx.clear_team_members(&scope, t.id).await?);
                }
                MemberOp::Replace(list) => {
                    m.removed.extend(tx.clear_team_members(&scope, t.id).await?);
                    let (added, bad) =
                        add_members(tx.as_mut(), &scope, t.id, &entries(list)).await?;
                    m.ignored.extend(bad);
                    m.added.extend(added);
                }
            }
        }
        m.record(&mut changes);
        let (added, removed) = net(&m.added, &m.removed);
        let doc_changed = t.scim != b.scim || t.name != b.name;
        let (after, outcome) = if !doc_changed && added.is_empty() && removed.is_empty() {
            (b, Outcome::Unchanged)
        } else {
            t.set_modified(roster.now());
            (t.update(tx.as_mut(), b.version).await?, Outcome::Updated)
        };
        let reply = roster
            .group_patch_reply(tx.as_mut(), c, &after, projection)
            .await?;
        Ok(Done {
            tx: Some(tx),
            reply,
            outcome,
            changes,
            tolerances,
        })
    }
}

impl Roster {
    pub(super) async fn scim_patch<R: Patch>(
        &self,
        c: &ScimCaller,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        projection: &Projection,
        locked: bool,
    ) -> Result<Done, Failure> {
        let op = PatchOp::from_json(body)?;
        let mut tolerances = Tolerances::new();
        for o in &op.operations {
            tolerances.extend(&o.tolerances);
        }
        // Read and compute outside the write transaction: the writer (SQLite has one for every
        // account) is taken only for the version-checked write, never while the PATCH is
        // computed. A concurrent change makes the write's version check fail, and the PATCH is
        // computed again on the new version, inside the write transaction (see `retrying`).
        let mut read = if locked {
            Reader::Writing(self.store.begin().await?)
        } else {
            Reader::Reading(self.store.read().await?)
        };
        let before: R = self.load(read.read(), c, id).await?;
        check_if_match(if_match, before.version())?;
        let p = Patching {
            c,
            op: &op,
            projection,
            locked,
            tolerances,
        };
        R::patch(self, p, read, before).await
    }

    /// A group PATCH answers 204, as Entra's documentation asks ("returning a body with a list of
    /// all the members isn't advisable"; RFC 7644 §3.5.2 allows it). With `attributes` the answer
    /// is 200 with the group as asked, which §3.5.2 requires. With only `excludedAttributes` it is
    /// 200 too, unless that would still list more than 1,000 members.
    async fn group_patch_reply(
        &self,
        tx: &mut dyn Tx,
        c: &ScimCaller,
        t: &Team,
        projection: &Projection,
    ) -> Result<ScimReply, Failure> {
        let no_content = ScimReply {
            status: 204,
            body: None,
            etag: Some(view::etag(t.version)),
            location: None,
        };
        if projection.attributes().is_empty() {
            if projection.excluded_attributes().is_empty() {
                return Ok(no_content);
            }
            let size = tx
                .team_member_count(c.idp.account_id, t.id, GROUP_PATCH_BODY_LIMIT + 1)
                .await?;
            if size > GROUP_PATCH_BODY_LIMIT && projection.includes(Team::KIND.ctx(), "members") {
                return Ok(no_content);
            }
        }
        let body = t.render(tx, c, projection).await?;
        Ok(with_body(200, body, t.version))
    }

    /// The write transaction to follow `read` with: the one it already is, or a new one.
    pub(super) async fn writer(&self, read: Reader) -> Result<Box<dyn Tx>, Failure> {
        match read {
            Reader::Writing(tx) => Ok(tx),
            Reader::Reading(r) => {
                drop(r);
                Ok(self.store.begin().await?)
            }
        }
    }
}

/// Where a PATCH reads the record it changes: inside the write transaction already (a retry
/// after a lost race holds the writer from the start), or a plain read followed by one.
pub(super) enum Reader {
    Writing(Box<dyn Tx>),
    Reading(Box<dyn Read>),
}

impl Reader {
    pub(super) fn read(&mut self) -> &mut dyn Read {
        match self {
            Reader::Writing(tx) => tx.as_mut(),
            Reader::Reading(r) => r.as_mut(),
        }
    }
}
