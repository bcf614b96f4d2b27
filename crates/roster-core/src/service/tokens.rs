//! Personal tokens: every user manages their own.

use super::{ListRequest, Listed, Principal, Roster, check_page};
use crate::error::{CoreError, FieldErrors};
use crate::model::{PersonalToken, StoredToken, User};
use crate::store::{SortKey, Tx};
use crate::token::NewKey;
use crate::validate;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TokenInput {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Lenient: RFC 3339, `YYYY-MM-DDTHH:MM` (UTC) or `YYYY-MM-DD`.
    pub expires_at: Option<String>,
}

/// A token just made: the only time its key exists outside the caller's hands.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub token: PersonalToken,
    pub key: NewKey,
}

const TOKEN_SORTS: &[(&str, SortKey)] = &[
    ("created", SortKey::Created),
    ("name", SortKey::Name),
    ("expires_at", SortKey::ExpiresAt),
    ("id", SortKey::Id),
];

/// The first instant after the latest expiry the console offers (the end of 2038-02-09).
fn max_expiry() -> DateTime<Utc> {
    validate::parse_datetime("2038-02-10T00:00").unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Roster {
    pub async fn list_tokens(
        &self,
        p: &Principal,
        req: &ListRequest,
    ) -> Result<Listed<PersonalToken>, CoreError> {
        let (params, page) = req.params(TOKEN_SORTS, (SortKey::Created, true))?;
        let mut tx = self.store.read().await?;
        let got = tx.list_tokens(p.user().id, &params).await?;
        tx.commit().await?;
        check_page(Listed {
            items: got.items,
            total: got.total,
            page,
            page_size: params.limit,
        })
    }

    pub async fn get_token(&self, p: &Principal, uuid: Uuid) -> Result<PersonalToken, CoreError> {
        let mut tx = self.store.read().await?;
        let t = tx
            .token(p.user().id, uuid)
            .await?
            .ok_or(CoreError::NotFound("Personal token"))?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn create_token(
        &self,
        p: &Principal,
        input: &TokenInput,
    ) -> Result<CreatedToken, CoreError> {
        let mut tx = self.store.begin().await?;
        let created = self.create_token_in(tx.as_mut(), p.user(), input).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub(crate) async fn create_token_in(
        &self,
        tx: &mut dyn Tx,
        user: &User,
        input: &TokenInput,
    ) -> Result<CreatedToken, CoreError> {
        let now = self.clock.now();
        let mut errs = FieldErrors::new();
        let name = match &input.name {
            None => {
                errs.add("name", "This field is required.");
                String::new()
            }
            Some(n) => {
                if validate::non_blank(&mut errs, "name", n) {
                    validate::max_len(&mut errs, "name", n, 100);
                }
                n.trim().to_string()
            }
        };
        if let Some(d) = &input.description {
            validate::max_len(&mut errs, "description", d, 256);
        }
        let expires_at = match input.expires_at.as_deref() {
            None => {
                errs.add("expires_at", "This field is required.");
                now
            }
            Some(s) => match validate::parse_datetime(s) {
                None => {
                    errs.add(
                        "expires_at",
                        format!("\"{s}\" is not a date-time: use YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM] or YYYY-MM-DD (UTC)."),
                    );
                    now
                }
                Some(t) if t <= now => {
                    errs.add("expires_at", "The expiry must be in the future.");
                    t
                }
                Some(t) if t >= max_expiry() => {
                    errs.add("expires_at", "The expiry must be on or before 2038-02-09.");
                    t
                }
                Some(t) => t,
            },
        };
        errs.into_result()?;
        let key = NewKey::generate()?;
        let token = PersonalToken {
            uuid: Uuid::new_v4(),
            user_id: user.id,
            account_id: user.account_id,
            name,
            description: input.description.clone(),
            created: now,
            expires_at,
            last_used_at: None,
            key_prefix: key.shown_prefix(),
        };
        tx.insert_token(&StoredToken {
            token: token.clone(),
            key_hash: key.hash(),
        })
        .await?;
        tracing::info!(account = user.account_id, user = user.id, token = %token.uuid, "personal token created");
        Ok(CreatedToken { token, key })
    }

    /// Revocation takes effect at once: the next request with the key fails.
    pub async fn delete_token(&self, p: &Principal, uuid: Uuid) -> Result<(), CoreError> {
        let mut tx = self.store.begin().await?;
        tx.token(p.user().id, uuid)
            .await?
            .ok_or(CoreError::NotFound("Personal token"))?;
        tx.delete_token(p.user().id, uuid).await?;
        tx.commit().await?;
        tracing::info!(user = p.user().id, token = %uuid, "personal token revoked");
        Ok(())
    }
}
