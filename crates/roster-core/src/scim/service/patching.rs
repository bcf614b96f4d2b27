//! PATCH: computed outside the write transaction, written with a version check, computed again
//! inside it after a conflict.

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
) -> Result<(), ScimError> {
    if read_in_this_tx {
        return Ok(());
    }
    let current = tx.team(c.idp.account_id, b.id).await?.map(|t| t.version);
    if current != Some(b.version) {
        return Err(ScimError::from(StoreError::VersionMismatch));
    }
    Ok(())
}

impl Roster {
    #[expect(
        clippy::too_many_arguments,
        reason = "the request's parts, as scim_replace takes them, and the retry mode"
    )]
    pub(super) async fn scim_patch(
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
            Reader::Writing(self.store.begin().await?)
        } else {
            Reader::Reading(self.store.read().await?)
        };
        let before = self.load(rtx.read(), c, kind, id).await?;
        check_if_match(if_match, before.version())?;
        let now = self.now();
        match &before {
            Loaded::User(b) => {
                let outcome = patch::apply(
                    &with_id(&b.scim, b.id),
                    &patch_op.operations,
                    crate::scim::user_ctx(),
                )?;
                tolerances.extend(&outcome.tolerances);
                let changes = loggable(&outcome.changes, crate::scim::user_ctx());
                let mut u = b.clone();
                apply_user_doc(&mut u, outcome.resource)?;
                if u.scim == b.scim && u.is_active == b.is_active && u.email == b.email {
                    let reply = self.reply_200(rtx.read(), c, &before, projection).await?;
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
                let ctx = crate::scim::group_ctx();
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
                            .await?
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
                let mut added_all: Vec<UserId> = Vec::new();
                let mut removed_all: Vec<UserId> = Vec::new();
                let mut ignored_all: Vec<String> = Vec::new();
                for m in &member_ops {
                    match m {
                        MemberOp::Add(list) => {
                            let (ok, bad) = user_ids(&entries(list));
                            ignored_all.extend(bad);
                            added_all.extend(tx.add_team_members(&scope, t.id, &ok).await?);
                        }
                        MemberOp::Remove(ids) => {
                            let (ok, bad) = remove_ids(ids);
                            ignored_all.extend(bad);
                            removed_all.extend(tx.remove_team_members(&scope, t.id, &ok).await?);
                        }
                        MemberOp::RemoveAll => {
                            removed_all.extend(tx.clear_team_members(&scope, t.id).await?);
                        }
                        MemberOp::Replace(list) => {
                            removed_all.extend(tx.clear_team_members(&scope, t.id).await?);
                            let (ok, bad) = user_ids(&entries(list));
                            ignored_all.extend(bad);
                            added_all.extend(tx.add_team_members(&scope, t.id, &ok).await?);
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
    /// The write transaction to follow `read` with: the one it already is, or a new one.
    pub(super) async fn writer(
        &self,
        read: Reader,
        _locked: bool,
    ) -> Result<Box<dyn Tx>, ScimError> {
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
