//! `/Bulk` (RFC 7644 §3.7): operations run one by one, each in its own transaction and logged
//! on its own; `bulkId:` references are resolved across operations (forward references too);
//! `failOnErrors` stops the run.

use super::service::{BULK_MAX_OPERATIONS, Kind, LogMeta, ScimCaller, ScimOp, ScimReply};
use crate::service::Roster;
use roster_scim::ScimError;
use roster_scim::messages::{BulkOperation, BulkOperationResponse, BulkRequest, BulkResponse};
use roster_scim::projection::Projection;
use serde_json::Value;
use std::collections::HashMap;

/// Replace `bulkId:<id>` strings; answer the first reference that is not known yet.
fn resolve(v: &mut Value, ids: &HashMap<String, String>) -> Option<String> {
    match v {
        Value::String(s) => {
            if let Some(r) = s.strip_prefix("bulkId:") {
                match ids.get(r) {
                    Some(id) => *s = id.clone(),
                    None => return Some(r.to_string()),
                }
            }
            None
        }
        Value::Array(a) => a.iter_mut().find_map(|x| resolve(x, ids)),
        Value::Object(o) => o.values_mut().find_map(|x| resolve(x, ids)),
        _ => None,
    }
}

fn resolve_path(path: &str, ids: &HashMap<String, String>) -> Result<String, String> {
    let mut out = Vec::new();
    for seg in path.split('/') {
        match seg.strip_prefix("bulkId:") {
            Some(r) => out.push(ids.get(r).cloned().ok_or_else(|| r.to_string())?),
            None => out.push(seg.to_string()),
        }
    }
    Ok(out.join("/"))
}

/// `/Users`, `/Groups/7` → (kind, id).
fn target(path: &str) -> Result<(Kind, Option<String>), ScimError> {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let kind = match parts.first().map(|p| p.to_ascii_lowercase()) {
        Some(p) if p == "users" => Kind::Users,
        Some(p) if p == "groups" => Kind::Groups,
        _ => {
            return Err(ScimError::invalid_path(format!(
                "bulk path \"{path}\" must be /Users or /Groups[/<id>]"
            )));
        }
    };
    match parts.len() {
        1 => Ok((kind, None)),
        2 => Ok((kind, Some(parts[1].to_string()))),
        _ => Err(ScimError::invalid_path(format!(
            "bulk path \"{path}\" must be /Users or /Groups[/<id>]"
        ))),
    }
}

fn op_for(o: &BulkOperation, path: &str) -> Result<ScimOp, ScimError> {
    let (kind, id) = target(path)?;
    let data = || {
        o.data
            .clone()
            .ok_or_else(|| ScimError::invalid_syntax(format!("{} {path} needs \"data\"", o.method)))
    };
    let id_needed = |id: Option<String>| {
        id.ok_or_else(|| {
            ScimError::invalid_path(format!(
                "{} needs a resource path like /Users/<id>",
                o.method
            ))
        })
    };
    let all = Projection::all();
    match o.method.to_ascii_uppercase().as_str() {
        "POST" if id.is_none() => Ok(ScimOp::Create {
            kind,
            body: data()?,
            projection: all,
        }),
        "PUT" => Ok(ScimOp::Replace {
            kind,
            id: id_needed(id)?,
            body: data()?,
            if_match: o.version.clone(),
            projection: all,
        }),
        "PATCH" => Ok(ScimOp::Patch {
            kind,
            id: id_needed(id)?,
            body: data()?,
            if_match: o.version.clone(),
            projection: all,
        }),
        "DELETE" => Ok(ScimOp::Delete {
            kind,
            id: id_needed(id)?,
            if_match: o.version.clone(),
        }),
        m => Err(ScimError::invalid_syntax(format!(
            "bulk method \"{m}\" on \"{path}\": use POST (collection), PUT, PATCH or DELETE"
        ))),
    }
}

impl Roster {
    pub(super) async fn scim_bulk(
        &self,
        c: &ScimCaller,
        body: &Value,
    ) -> Result<ScimReply, ScimError> {
        let req: BulkRequest = serde_json::from_value(body.clone())
            .map_err(|e| ScimError::invalid_syntax(format!("not a BulkRequest: {e}")))?;
        if req.operations.len() > BULK_MAX_OPERATIONS {
            return Err(ScimError::payload_too_large(format!(
                "{} operations: at most {BULK_MAX_OPERATIONS} per bulk request",
                req.operations.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for o in &req.operations {
            if o.method.eq_ignore_ascii_case("POST")
                && o.bulk_id.as_deref().is_none_or(str::is_empty)
            {
                return Err(ScimError::invalid_value(
                    "every POST in a bulk request needs a bulkId",
                ));
            }
            if let Some(b) = &o.bulk_id
                && !seen.insert(b.clone())
            {
                return Err(ScimError::invalid_value(format!(
                    "bulkId \"{b}\" is used twice"
                )));
            }
        }
        let fail_limit = req.fail_on_errors.map(|n| n.max(1) as usize);
        let mut results: Vec<Option<BulkOperationResponse>> = vec![None; req.operations.len()];
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut errors = 0usize;
        let mut pending: Vec<usize> = (0..req.operations.len()).collect();
        'passes: loop {
            let mut progressed = false;
            let mut still = Vec::new();
            for i in std::mem::take(&mut pending) {
                if fail_limit.is_some_and(|l| errors >= l) {
                    break 'passes;
                }
                let o = &req.operations[i];
                let mut data = o.data.clone();
                let unresolved = data.as_mut().and_then(|d| resolve(d, &ids));
                let path = resolve_path(&o.path, &ids);
                if unresolved.is_some() || path.is_err() {
                    still.push(i);
                    continue;
                }
                progressed = true;
                let path = path.unwrap_or_default();
                let resolved = BulkOperation { data, ..o.clone() };
                let outcome = match op_for(&resolved, &path) {
                    Ok(op) => {
                        let meta = LogMeta {
                            method: o.method.to_ascii_uppercase(),
                            path: format!("/Bulk {path}"),
                            request_id: None,
                        };
                        Box::pin(self.run_logged(c, op, &meta)).await
                    }
                    Err(e) => Err(e),
                };
                results[i] = Some(match outcome {
                    Ok(done) => {
                        let id = done
                            .reply
                            .body
                            .as_ref()
                            .and_then(|b| b.get("id"))
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        if let (Some(b), Some(id)) = (&o.bulk_id, &id) {
                            ids.insert(b.clone(), id.clone());
                        }
                        let location = done.reply.location.clone().or_else(|| {
                            target(&path).ok().and_then(|(k, pid)| {
                                pid.or(id).map(|x| {
                                    format!(
                                        "{}/{}/{x}",
                                        c.base,
                                        if k == Kind::Users { "Users" } else { "Groups" }
                                    )
                                })
                            })
                        });
                        BulkOperationResponse {
                            method: o.method.to_ascii_uppercase(),
                            bulk_id: o.bulk_id.clone(),
                            version: done.reply.etag.clone(),
                            location,
                            status: done.reply.status.to_string(),
                            response: None,
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        failed(o, &e)
                    }
                });
            }
            pending = still;
            if pending.is_empty() || !progressed {
                break;
            }
        }
        // References that never resolved (to a failed or missing POST, or circular).
        for i in pending {
            let o = &req.operations[i];
            if results[i].is_none() && fail_limit.is_none_or(|l| errors < l) {
                errors += 1;
                let e = ScimError::conflict(format!(
                    "\"{}\" refers to a bulkId that no successful POST in this request defines",
                    o.path
                ));
                results[i] = Some(failed(o, &e));
            }
        }
        let body = BulkResponse::new(results.into_iter().flatten().collect());
        Ok(ScimReply {
            status: 200,
            body: Some(serde_json::to_value(body).map_err(|e| ScimError::internal(e.to_string()))?),
            etag: None,
            location: None,
        })
    }
}

fn failed(o: &BulkOperation, e: &ScimError) -> BulkOperationResponse {
    BulkOperationResponse {
        method: o.method.to_ascii_uppercase(),
        bulk_id: o.bulk_id.clone(),
        version: None,
        location: None,
        status: e.status.to_string(),
        response: Some(e.to_json()),
    }
}
