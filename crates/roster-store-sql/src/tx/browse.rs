//! Users Management's list: an account's users, a page at a time after a cursor, kept by status,
//! provider and team, and searched by prefix of name ("first last"), last name or email. Every
//! part reads an index in its own order and stops after a page (migration 0013), so a page costs
//! the same at a million users as at ten, however the matches are spread:
//!
//! - without a search, the users in email order (and back, by `before`);
//! - with a search, the users whose name starts with it (by name), then those whose last name
//!   does (by last name), then those whose email does (by email); a user appears once, in the
//!   first of these it matches. The cursor names the part, the key and the email it stopped at.
//!
//! (Merging the three ranges into one email order would read every match of a one-letter search,
//! or walk the email index past whole regions without a match: 35 to 100 ms at a million users.)

use super::SqlTx;
use crate::db::{Db, SqlRow};
use crate::rows::USER_COLS;
use crate::sql::{Dialect, Sql};
use roster_core::model::*;
use roster_core::store::{StoreResult, UserBrowse, UserSearchPage};
use roster_core::validate::{fold, user_name_key};

/// The indexed expressions: the folded email, the name ("first last", folded) and the last
/// name (folded), each as its migration 0013 index names it, in byte order.
struct Keys {
    email: &'static str,
    name: &'static str,
    last: &'static str,
}

fn keys(d: Dialect) -> Keys {
    match d {
        Dialect::Sqlite => Keys {
            email: "u.email_folded",
            name: "substr(u.search_text, length(u.email_folded) + 2)",
            last: "substr(u.search_text, length(u.email_folded) + length(u.first_name) + 3)",
        },
        Dialect::Postgres => Keys {
            email: "(u.email_folded COLLATE \"C\")",
            name: "(substr(u.search_text, length(u.email_folded) + 2) COLLATE \"C\")",
            last: "(substr(u.search_text, length(u.email_folded) + length(u.first_name) + 3) \
                   COLLATE \"C\")",
        },
    }
}

/// The end of the range of strings starting with `prefix`: no character sorts after U+10FFFF.
fn upper(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// Where a search page stopped: the part (0 name, 1 last name, 2 email), its key, the email.
fn parse_cursor(c: &str) -> Option<(usize, String, String)> {
    let mut parts = c.splitn(3, '\u{1}');
    let part = parts.next()?.parse::<usize>().ok().filter(|p| *p < 3)?;
    Some((part, parts.next()?.to_string(), parts.next()?.to_string()))
}

fn cursor(part: usize, key: &str, email: &str) -> String {
    format!("{part}\u{1}{key}\u{1}{email}")
}

impl<D: Db> SqlTx<D> {
    /// `WHERE` conditions of `b`'s account and filter (not its search or cursor).
    fn browse_filter(s: &mut Sql, account: AccountId, b: &UserBrowse) {
        s.push(" WHERE u.account_id = ").arg(account);
        if let Some(a) = b.filter.active {
            s.push(" AND u.is_active = ").arg(a);
        }
        match b.filter.idp {
            Some(Some(idp)) => {
                s.push(" AND u.provisioned_by_idp = ").arg(idp);
            }
            Some(None) => {
                s.push(" AND u.provisioned_by_idp IS NULL");
            }
            None => {}
        }
        if let Some(team) = b.filter.team {
            s.push(" AND u.id IN (SELECT tm.user_id FROM team_members tm WHERE tm.team_id = ")
                .arg(team)
                .push(")");
        }
    }

    /// A page of the account's users in email order (no search).
    pub async fn browse_users(
        &mut self,
        account: AccountId,
        b: &UserBrowse,
    ) -> StoreResult<Vec<User>> {
        let email = keys(self.dialect()).email;
        let limit = b.limit.clamp(1, 1000);
        let descending = b.before.is_some() && b.after.is_none();
        let mut q = self.build();
        q.push("SELECT ").push(USER_COLS).push(" FROM users u");
        Self::browse_filter(&mut q, account, b);
        if let Some(after) = &b.after {
            q.push(" AND ").push(email).push(" > ").arg(after.clone());
        } else if let Some(before) = &b.before {
            q.push(" AND ").push(email).push(" < ").arg(before.clone());
        }
        q.push(" ORDER BY ")
            .push(email)
            .push(if descending { " DESC" } else { "" })
            .push(&format!(" LIMIT {limit}"));
        let rows = self.db.rows(q).await?;
        let mut users = self.users_with_teams(&rows).await?;
        if descending {
            users.reverse();
        }
        Ok(users)
    }

    /// A page of the users whose name, last name or email starts with `b.prefix` (see the
    /// module's comment), after the cursor `b.after`.
    pub async fn search_users(
        &mut self,
        account: AccountId,
        b: &UserBrowse,
    ) -> StoreResult<UserSearchPage> {
        let k = keys(self.dialect());
        let limit = usize::try_from(b.limit.clamp(1, 1000)).unwrap_or(50);
        let parts = [
            (k.name, fold(&b.prefix)),
            (k.last, fold(&b.prefix)),
            (k.email, user_name_key(&b.prefix)),
        ];
        let start = b.after.as_deref().and_then(parse_cursor);
        // (part, key, email, id) of each user shown, in order, and one more if there is one.
        let mut found: Vec<(usize, String, String, UserId)> = Vec::new();
        'parts: for (i, (key, prefix)) in parts.iter().enumerate() {
            let mut from = match &start {
                Some((p, _, _)) if *p > i => continue,
                Some((p, key, email)) if *p == i => Some((key.clone(), email.clone())),
                _ => None,
            };
            loop {
                // One more than still needed, and a few over for users an earlier part shows.
                let want = limit + 1 - found.len() + 8;
                let mut q = self.build();
                q.push(&format!(
                    "SELECT u.id, {key} AS k, {email} AS e, {name} AS k0, {last} AS k1 FROM users u",
                    email = k.email,
                    name = k.name,
                    last = k.last
                ));
                Self::browse_filter(&mut q, account, b);
                q.push(" AND ")
                    .push(key)
                    .push(" >= ")
                    .arg(prefix.clone())
                    .push(" AND ")
                    .push(key)
                    .push(" < ")
                    .arg(upper(prefix));
                if let Some((fk, fe)) = &from {
                    q.push(" AND (")
                        .push(key)
                        .push(", ")
                        .push(k.email)
                        .push(") > (")
                        .arg(fk.clone())
                        .push(", ")
                        .arg(fe.clone())
                        .push(")");
                }
                q.push(&format!(" ORDER BY {key}, {} LIMIT {want}", k.email));
                let rows = self.db.rows(q).await?;
                let got = rows.len();
                for r in &rows {
                    let (kk, e) = (r.text("k")?, r.text("e")?);
                    from = Some((kk.clone(), e.clone()));
                    // Shown already by an earlier part?
                    let earlier = [r.text("k0")?, r.text("k1")?];
                    if (0..i).any(|j| earlier[j].starts_with(parts[j].1.as_str())) {
                        continue;
                    }
                    found.push((i, kk, e, UserId(r.i64("id")?)));
                    if found.len() > limit {
                        break 'parts;
                    }
                }
                if got < want {
                    break;
                }
            }
        }
        let more = found.len() > limit;
        found.truncate(limit);
        let next = if more {
            found.last().map(|(p, k, e, _)| cursor(*p, k, e))
        } else {
            None
        };
        let users = self
            .users_by_ids(account, &found.iter().map(|f| f.3).collect::<Vec<_>>())
            .await?;
        Ok(UserSearchPage { users, next })
    }

    /// The account's users `ids`, in that order, with their teams.
    async fn users_by_ids(&mut self, account: AccountId, ids: &[UserId]) -> StoreResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = self.build();
        q.push("SELECT ")
            .push(USER_COLS)
            .push(" FROM users u WHERE u.account_id = ")
            .arg(account)
            .push(" AND u.id IN (")
            .list(ids.iter().copied())
            .push(")");
        let rows = self.db.rows(q).await?;
        let mut users = self.users_with_teams(&rows).await?;
        let at = |id: UserId| ids.iter().position(|i| *i == id).unwrap_or(usize::MAX);
        users.sort_by_key(|u| at(u.id));
        Ok(users)
    }

    pub async fn count_browsed_users(
        &mut self,
        account: AccountId,
        b: &UserBrowse,
        cap: i64,
    ) -> StoreResult<i64> {
        let k = keys(self.dialect());
        let cap = cap.max(0);
        let mut q = self.build();
        q.push("SELECT COUNT(*) AS n FROM (");
        if b.prefix.is_empty() {
            q.push("SELECT u.id FROM users u");
            Self::browse_filter(&mut q, account, b);
        } else {
            // Each range read in its index's order and no further than the cap, then merged.
            let ranges = [
                (k.name, fold(&b.prefix)),
                (k.last, fold(&b.prefix)),
                (k.email, user_name_key(&b.prefix)),
            ];
            for (i, (key, prefix)) in ranges.into_iter().enumerate() {
                if i > 0 {
                    q.push(" UNION ");
                }
                q.push("SELECT id FROM (SELECT u.id FROM users u");
                Self::browse_filter(&mut q, account, b);
                q.push(" AND ")
                    .push(key)
                    .push(" >= ")
                    .arg(prefix.clone())
                    .push(" AND ")
                    .push(key)
                    .push(" < ")
                    .arg(upper(&prefix))
                    .push(&format!(" ORDER BY {key} LIMIT {cap}) r{i}"));
            }
        }
        q.push(&format!(" LIMIT {cap}) c"));
        self.count(q).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_nonsense_is_no_cursor() {
        let c = cursor(1, "hopper", "grace@x");
        assert_eq!(
            parse_cursor(&c),
            Some((1, "hopper".to_string(), "grace@x".to_string()))
        );
        for bad in ["", "x", "3\u{1}a\u{1}b", "1\u{1}only-key"] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
    }
}
