//! The operations on one resource, each written once over [`Resource`]: read, create, replace,
//! delete (PATCH, which computes outside its write, is in `patching`). Every write runs in one
//! store transaction: read, apply the pure change, write with a version check; the caller
//! (`run_logged`) adds the log entry and commits.

use super::resource::Resource;
use super::*;

/// Weak comparison of an `If-Match` / `If-None-Match` list with a version.
pub(super) fn etag_matches(header: &str, version: i64) -> bool {
    let want = format!("\"{version}\"");
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == want)
}

pub(super) fn check_if_match(if_match: Option<&str>, version: i64) -> Result<(), ScimError> {
    match if_match {
        Some(h) if !etag_matches(h, version) => Err(ScimError::precondition_failed(format!(
            "If-Match {h} does not match the current version {}: read the resource again",
            view::etag(version)
        ))),
        _ => Ok(()),
    }
}

fn parse_id(id: &str, kind: Kind) -> Result<ScimRef, ScimError> {
    ScimRef::parse(id.trim())
        .ok_or_else(|| ScimError::not_found(format!("{} {id} not found", kind.name())))
}

/// An answer with the resource and its version.
pub(super) fn with_body(status: u16, body: Value, version: i64) -> ScimReply {
    ScimReply {
        status,
        body: Some(body),
        etag: Some(view::etag(version)),
        location: None,
    }
}

/// `201 Created` with the resource, its version and its `Location`.
fn created<R: Resource>(c: &ScimCaller, r: &R, body: Value) -> ScimReply {
    let mut reply = with_body(201, body, r.version());
    reply.location = Some(format!(
        "{}/{}/{}",
        c.base,
        R::KIND.endpoint(),
        r.scim_ref()
    ));
    reply
}

impl Roster {
    /// Retry a write that lost a race to a concurrent writer (only without `If-Match`: with it,
    /// the 412 is the answer). `f` is told whether to read inside the write transaction: the first
    /// attempt computes outside it, a retry inside it, so that a busy resource still makes
    /// progress (SQLite's writer serialises the retries).
    pub(super) async fn retrying<F, Fut>(&self, has_if_match: bool, f: F) -> Result<Done, Failure>
    where
        F: Fn(bool) -> Fut,
        Fut: std::future::Future<Output = Result<Done, Failure>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match f(attempt > 1).await {
                Err(Failure::Stale(_)) if !has_if_match && attempt < WRITE_ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    /// The resource `id` as this endpoint may address it. Outside the provider's scope is the
    /// same as absent: SCIM cannot tell that it exists.
    pub(super) async fn load<R: Resource>(
        &self,
        tx: &mut dyn Read,
        c: &ScimCaller,
        id: &str,
    ) -> Result<R, Failure> {
        let n = parse_id(id, R::KIND)?;
        R::find(tx, c, n)
            .await?
            .filter(|r| r.provisioning().idp_uuid == Some(c.idp.uuid) && !r.is_caller(c))
            .ok_or_else(|| {
                Failure::Answer(ScimError::not_found(format!(
                    "{} {id} not found",
                    R::KIND.name()
                )))
            })
    }

    pub(super) async fn scim_get<R: Resource>(
        &self,
        c: &ScimCaller,
        id: &str,
        projection: &Projection,
        if_none_match: Option<&str>,
    ) -> Result<ScimReply, Failure> {
        let mut tx = self.store.read().await?;
        let r: R = self.load(tx.as_mut(), c, id).await?;
        let version = r.version();
        if if_none_match.is_some_and(|h| etag_matches(h, version)) {
            return Ok(ScimReply {
                status: 304,
                body: None,
                etag: Some(view::etag(version)),
                location: None,
            });
        }
        let body = r.render(tx.as_mut(), c, projection).await?;
        Ok(with_body(200, body, version))
    }

    pub(super) async fn scim_create<R: Resource>(
        &self,
        c: &ScimCaller,
        body: &Value,
        projection: &Projection,
    ) -> Result<Done, Failure> {
        let normalized = patch::normalize(body, R::KIND.ctx())?;
        let mut r = R::blank(c, self.now());
        // Kept for an adoption (the provider's `scim_adopt_existing`), which applies it again.
        let sent = c
            .idp
            .scim_adopt_existing
            .then(|| normalized.resource.clone());
        let members = r.apply(normalized.resource)?;
        let mut tx = self.store.begin().await?;
        let attempt = r.clone();
        let stored = match r.insert(tx.as_mut()).await {
            Ok(stored) => stored,
            Err(Failure::Answer(e)) if e.scim_type == Some(roster_scim::ScimType::Uniqueness) => {
                // Said outside the failed transaction (PostgreSQL refuses reads in it).
                drop(tx);
                if let Some(doc) = sent {
                    let mut tx = self.store.begin().await?;
                    if let Some(before) = attempt.adoptable(tx.as_mut(), c).await? {
                        return self
                            .adopt(c, tx, before, doc, normalized.tolerances, projection)
                            .await;
                    }
                }
                let mut read = self.store.read().await?;
                let said = attempt.taken_by(read.as_mut(), c).await?;
                return Err(Failure::Answer(said.unwrap_or(e)));
            }
            Err(e) => return Err(e),
        };
        let mut changes = created_changes(stored.doc());
        if let Some(members) = members {
            let m = stored.set_members(tx.as_mut(), c, &members, false).await?;
            m.record(&mut changes);
        }
        let body = stored.render(tx.as_mut(), c, projection).await?;
        Ok(Done {
            tx: Some(tx),
            reply: created(c, &stored, body),
            outcome: Outcome::Created,
            changes,
            tolerances: normalized.tolerances,
        })
    }

    /// Link `before` (hand-made, its unique value named by a create) to this provider and give
    /// it the sent document: answered 201 like the create, logged as adopted.
    async fn adopt<R: Resource>(
        &self,
        c: &ScimCaller,
        mut tx: Box<dyn Tx>,
        before: R,
        doc: Value,
        tolerances: Tolerances,
        projection: &Projection,
    ) -> Result<Done, Failure> {
        let mut after = before.clone();
        after.apply(doc)?;
        after.claim(c);
        R::may_become(&before, &after)?;
        after.set_modified(self.now());
        let changes = diff_changes(before.doc(), after.doc());
        let saved = after.update(tx.as_mut(), before.version()).await?;
        let body = saved.render(tx.as_mut(), c, projection).await?;
        Ok(Done {
            tx: Some(tx),
            reply: created(c, &saved, body),
            outcome: Outcome::Adopted,
            changes,
            tolerances,
        })
    }

    pub(super) async fn scim_replace<R: Resource>(
        &self,
        c: &ScimCaller,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        projection: &Projection,
    ) -> Result<Done, Failure> {
        let normalized = patch::normalize(body, R::KIND.ctx())?;
        let mut tx = self.store.begin().await?;
        let before: R = self.load(tx.as_mut(), c, id).await?;
        check_if_match(if_match, before.version())?;
        let mut after = before.clone();
        // A replacement without `members` leaves a group without members.
        let members = after.apply(normalized.resource)?.unwrap_or_default();
        R::may_become(&before, &after)?;
        after.set_modified(self.now());
        let mut changes = diff_changes(before.doc(), after.doc());
        let saved = after.update(tx.as_mut(), before.version()).await?;
        let m = saved.set_members(tx.as_mut(), c, &members, true).await?;
        m.record(&mut changes);
        let body = saved.render(tx.as_mut(), c, projection).await?;
        Ok(Done {
            tx: Some(tx),
            reply: with_body(200, body, saved.version()),
            outcome: Outcome::Replaced,
            changes,
            tolerances: normalized.tolerances,
        })
    }

    pub(super) async fn scim_delete<R: Resource>(
        &self,
        c: &ScimCaller,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<Done, Failure> {
        let mut tx = self.store.begin().await?;
        let before: R = self.load(tx.as_mut(), c, id).await?;
        check_if_match(if_match, before.version())?;
        before.may_delete()?;
        before.delete(tx.as_mut()).await?;
        Ok(Done {
            tx: Some(tx),
            reply: ScimReply {
                status: 204,
                body: None,
                etag: None,
                location: None,
            },
            outcome: Outcome::Deleted,
            changes: Value::Null,
            tolerances: Tolerances::new(),
        })
    }
}
