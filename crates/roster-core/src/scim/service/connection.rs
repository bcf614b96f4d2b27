//! "Test connection", as the console offers it: the requests Microsoft Entra ID's Test
//! Connection makes (a lookup of a user and of a group that do not exist), run inside the server
//! as the provider's endpoint would run them for its owner, so no token is needed. Nothing is
//! written, and the reads are not logged.

use super::*;
use crate::model::Protocol;

/// One request of the test and what it answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionCheck {
    /// `GET /Users?filter=…`, as Entra sends it.
    pub request: String,
    pub status: u16,
    /// Did it answer as Entra expects (200, no resource)?
    pub ok: bool,
    /// What a person should know: the error's detail, or what was found.
    pub detail: String,
}

impl Roster {
    /// Run Entra's Test Connection against the account's provider `uuid` (owners only).
    pub async fn test_connection(
        &self,
        p: &Principal,
        protocol: Protocol,
        uuid: Uuid,
    ) -> Result<Vec<ConnectionCheck>, CoreError> {
        p.require_owner()?;
        let idp = {
            let mut tx = self.store.read().await?;
            tx.idp(p.account(), uuid)
                .await?
                .filter(|i| i.protocol() == protocol)
                .ok_or(CoreError::NotFound("Identity provider"))?
        };
        let probe = Uuid::new_v4();
        let lookups = [
            (
                Kind::Users,
                format!("userName eq \"{probe}@test-connection.roster.invalid\""),
                None,
            ),
            (
                Kind::Groups,
                format!("displayName eq \"test-connection-{probe}\""),
                Some("members"),
            ),
        ];
        let refused = if !idp.scim_integration {
            Some("SCIM is off for this identity provider: turn it on first.")
        } else if !idp.is_active {
            Some("This identity provider is not the account's active one: set it as active first.")
        } else {
            None
        };
        let caller = ScimCaller {
            principal: p.clone(),
            base: format!("{}/users/scim/{}", self.urls().v4, idp.uuid),
            idp,
        };
        let mut out = Vec::new();
        for (kind, filter, excluded) in lookups {
            let request = match excluded {
                Some(x) => format!(
                    "GET /{}?excludedAttributes={x}&filter={filter}",
                    kind.endpoint()
                ),
                None => format!("GET /{}?filter={filter}", kind.endpoint()),
            };
            if let Some(why) = refused {
                out.push(ConnectionCheck {
                    request,
                    status: if why.starts_with("SCIM is off") {
                        404
                    } else {
                        403
                    },
                    ok: false,
                    detail: why.to_string(),
                });
                continue;
            }
            let mut search = json!({ "filter": filter });
            if let Some(x) = excluded {
                search["excludedAttributes"] = json!(x);
            }
            let search = serde_json::from_value(search)
                .map_err(|e| CoreError::Internal(format!("a test search: {e}")))?;
            let (status, detail, ok) =
                match self.scim_op(&caller, ScimOp::List { kind, search }).await {
                    Ok(Done { reply, .. }) => {
                        let total = reply
                            .body
                            .as_ref()
                            .and_then(|b| b.get("totalResults"))
                            .and_then(Value::as_u64);
                        let ok = reply.status == 200 && total == Some(0);
                        let detail = match total {
                            Some(0) => "found nothing, as expected".to_string(),
                            Some(n) => format!("found {n}: expected nothing"),
                            None => "no totalResults in the answer".to_string(),
                        };
                        (reply.status, detail, ok)
                    }
                    Err(f) => (f.error().status, f.error().detail.clone(), false),
                };
            out.push(ConnectionCheck {
                request,
                status,
                ok,
                detail,
            });
        }
        Ok(out)
    }
}
