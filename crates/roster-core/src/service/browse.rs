//! Users Management's list: a page of the account's users in email order with cursors to the
//! next and previous pages, or a search by prefix of name, last name or email (see the store's
//! `search_users`), and a count that stops at [`COUNT_CAP`] (so a page costs the same at a
//! million users as at ten).

use super::{Principal, Roster};
use crate::error::CoreError;
use crate::model::User;
use crate::store::UserBrowse;
use crate::validate::user_name_key;

/// Counting stops here: past it, the list says "more than" (counting further would read every
/// match, and a one-letter search at a million users matches a hundred thousand).
pub const COUNT_CAP: i64 = 1_000;
/// The longest search kept (longer input is cut).
pub const SEARCH_MAX_CHARS: usize = 100;

/// A page of Users Management.
#[derive(Debug, Clone)]
pub struct Browsed {
    pub users: Vec<User>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
    /// The cursor of the previous page, if there is one.
    pub previous: Option<String>,
    /// A search's later page: the way back is to its first page.
    pub first: bool,
    /// How many users match, up to [`COUNT_CAP`]...
    pub count: i64,
    /// ... and whether there are more than that.
    pub more_than_count: bool,
}

impl Roster {
    /// A page of the account's users (see [`UserBrowse`]): `b.limit` of them.
    pub async fn browse_users(&self, p: &Principal, b: &UserBrowse) -> Result<Browsed, CoreError> {
        p.require_view_users()?;
        let limit = b.limit.clamp(1, 200);
        let mut b = b.clone();
        // Text no stored email or name holds (NUL, which PostgreSQL refuses) cannot match.
        let kept = |s: &str, max: usize| -> String {
            s.chars().filter(|c| *c != '\0').take(max).collect()
        };
        b.prefix = kept(b.prefix.trim(), SEARCH_MAX_CHARS);
        b.after = b.after.as_deref().map(|c| kept(c, 1000));
        b.before = b.before.as_deref().map(|c| kept(c, 1000));
        let mut tx = self.store.read().await?;
        let counted = tx
            .count_browsed_users(p.account(), &b, COUNT_CAP + 1)
            .await?;
        if !b.prefix.is_empty() {
            let page = tx
                .search_users(
                    p.account(),
                    &UserBrowse {
                        limit,
                        before: None,
                        ..b.clone()
                    },
                )
                .await?;
            return Ok(Browsed {
                users: page.users,
                next: page.next,
                // A search goes forwards only; back is its first page.
                previous: None,
                first: b.after.is_some(),
                count: counted.min(COUNT_CAP),
                more_than_count: counted > COUNT_CAP,
            });
        }
        let backwards = b.before.is_some() && b.after.is_none();
        let asked = UserBrowse {
            limit: limit + 1,
            ..b.clone()
        };
        let mut users = tx.browse_users(p.account(), &asked).await?;
        drop(tx);
        // One row more than the page says whether there is more in the direction of travel.
        let more = users.len() as i64 > limit;
        if more {
            if backwards {
                users.remove(0);
            } else {
                users.pop();
            }
        }
        let key = |u: Option<&User>| u.map(|u| user_name_key(&u.email));
        let (next, previous) = if backwards {
            (
                key(users.last()),
                if more { key(users.first()) } else { None },
            )
        } else {
            (
                if more { key(users.last()) } else { None },
                b.after.is_some().then(|| key(users.first())).flatten(),
            )
        };
        Ok(Browsed {
            users,
            next,
            previous,
            first: false,
            count: counted.min(COUNT_CAP),
            more_than_count: counted > COUNT_CAP,
        })
    }
}
