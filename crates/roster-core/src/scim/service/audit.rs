//! The provisioning log: what is recorded for each request (and what never is), and the
//! change lists it keeps.

use super::*;

/// Where a request came from, for the log.
#[derive(Debug, Clone)]
pub(in crate::scim) struct LogMeta {
    pub method: String,
    pub path: String,
    pub request_id: Option<String>,
}

pub(super) fn log_meta(call: &ScimCall) -> LogMeta {
    LogMeta {
        method: call.method.clone(),
        path: call.path.clone(),
        request_id: call.request_id.clone(),
    }
}

/// Changes as logged: values of write-only attributes are never written down.
pub(super) fn loggable(changes: &[roster_scim::patch::Change], ctx: &ResourceContext<'_>) -> Value {
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

pub(super) fn created_changes(doc: &Value) -> Value {
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
pub(super) fn diff_changes(before: &Value, after: &Value) -> Value {
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

/// A member a write added or removed, with the SCIM id the log shows.
pub(super) type Moved = (UserId, ScimRef);

/// Members added and removed, net of each other.
pub(super) fn net(added: &[Moved], removed: &[Moved]) -> (Vec<Moved>, Vec<Moved>) {
    let a: std::collections::BTreeSet<Moved> = added.iter().copied().collect();
    let r: std::collections::BTreeSet<Moved> = removed.iter().copied().collect();
    (
        a.difference(&r).copied().collect(),
        r.difference(&a).copied().collect(),
    )
}

pub(super) fn push_members(
    changes: &mut Value,
    added: &[Moved],
    removed: &[Moved],
    ignored: &[Ignored],
) {
    let Value::Array(a) = changes else { return };
    if !added.is_empty() || !removed.is_empty() {
        a.push(json!({
            "attribute": "members",
            "added": added.iter().map(|(_, r)| r.to_string()).collect::<Vec<_>>(),
            "removed": removed.iter().map(|(_, r)| r.to_string()).collect::<Vec<_>>(),
        }));
    }
    if !ignored.is_empty() {
        let ignored: Vec<Value> = ignored
            .iter()
            .map(|(value, reason)| json!({"value": value, "reason": reason}))
            .collect();
        a.push(json!({"attribute": "members", "ignored": ignored}));
    }
}

/// The longest path, resource id or detail a provisioning-log entry keeps (in characters): a
/// client's long path or id costs the log no more than this.
pub(super) const LOG_TEXT_MAX: usize = 512;

/// `text`, cut to `LOG_TEXT_MAX` characters (marked with `…` when cut).
pub(super) fn clip(text: &str) -> String {
    match text.char_indices().nth(LOG_TEXT_MAX) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

impl Roster {
    /// Where a refusal before the operation goes. Unauthenticated: counted and sampled in memory,
    /// never stored (whoever sent it showed no token, so it may not cost disk, and no account's
    /// log may be written by a stranger). Authenticated, on a provider of the caller's own account
    /// (SCIM off, no SCIM permission): that provider's log, so its admin sees why Entra fails.
    /// Authenticated on anything else (another account's provider, an unknown one): nowhere.
    pub(super) async fn record_refusal(&self, call: &ScimCall, meta: &LogMeta, refused: &Refused) {
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
            // (These refusals are the provider's settings and the token's permission: never an
            // overload, which is refused as `Elsewhere`.)
            RefusalCause::OwnProvider(idp) => {
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
                    outcome: Outcome::Failed.as_str().into(),
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
            RefusalCause::Elsewhere => {}
        }
    }

    /// Run one operation and record it in the provisioning log when it changed something or failed.
    pub(in crate::scim) async fn run_logged(
        &self,
        caller: &ScimCaller,
        op: ScimOp,
        meta: &LogMeta,
    ) -> Result<Done, ScimError> {
        let (resource_type, resource_id) = op.target();
        let writes = op.writes() && !matches!(op, ScimOp::Bulk { .. });
        let result = self.scim_op(caller, op).await;
        let entry = |status: i64,
                     outcome: Outcome,
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
            outcome: outcome.as_str().to_string(),
            scim_type: error
                .and_then(|e| e.scim_type.as_ref())
                .map(|t| t.as_str().to_string()),
            detail: error.map(|e| clip(&e.detail)),
            tolerances: tol.iter().map(|t| t.name().to_string()).collect(),
            changes,
        };
        let result = match result {
            Ok(mut done) => {
                let logged = writes && done.outcome != Outcome::Unchanged;
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
                        r.map_err(Failure::from)
                    }
                    None => Ok(()),
                };
                committed.map(|()| done)
            }
            Err(err) => Err(err),
        };
        if let Err(failure) = &result
            && !matches!(failure, Failure::Busy(_))
        {
            // The write (if any) rolled back: the failure is recorded on its own.
            let err = failure.error();
            let e = entry(
                i64::from(err.status),
                Outcome::Failed,
                Some(err),
                Value::Null,
                &Tolerances::new(),
                resource_id,
            );
            self.write_log(&e).await;
        }
        result.map_err(ScimError::from)
    }

    pub(super) async fn write_log(&self, e: &LogEntry) {
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
}
