//! Users Management's list: an account's users in email order, a page at a time after (or
//! before) a cursor, kept by status, provider and team, and searched by prefix of email, name
//! ("first last") or last name. Every part is served by an index (migration 0013): the page
//! without a search walks the email index; a search takes the first page of each of the three
//! prefix ranges and merges them, so it reads little however many users the account has.

use super::SqlTx;
use crate::db::Db;
use crate::rows::USER_COLS;
use crate::sql::{Dialect, Sql};
use roster_core::model::*;
use roster_core::store::{StoreResult, UserBrowse};
use roster_core::validate::{fold, user_name_key};

/// The indexed expressions: the folded email, the name ("first last", folded) and the last
/// name (folded), each as its migration 0013 index names it, in byte order.
struct Keys {
    email: &'static str,
    name: &'static str,
    last: &'static str,
    /// The email to sort a prefix range's matches by, without walking the email index in order
    /// (SQLite would rather read every user in email order than sort a range's few).
    email_sorted: &'static str,
    /// The account condition of a query whose rows come by id.
    account_by_id: &'static str,
}

fn keys(d: Dialect) -> Keys {
    match d {
        Dialect::Sqlite => Keys {
            email: "u.email_folded",
            name: "substr(u.search_text, length(u.email_folded) + 2)",
            last: "substr(u.search_text, length(u.email_folded) + length(u.first_name) + 3)",
            email_sorted: "+u.email_folded",
            account_by_id: "+u.account_id",
        },
        Dialect::Postgres => Keys {
            email: "(u.email_folded COLLATE \"C\")",
            name: "(substr(u.search_text, length(u.email_folded) + 2) COLLATE \"C\")",
            last: "(substr(u.search_text, length(u.email_folded) + length(u.first_name) + 3) \
                   COLLATE \"C\")",
            email_sorted: "(u.email_folded COLLATE \"C\")",
            account_by_id: "u.account_id",
        },
    }
}

/// The end of the range of strings starting with `prefix`: no character sorts after U+10FFFF.
fn upper(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
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

    /// The cursor's condition on `email` and the order by `sort` (the same email, or a form of it
    /// that chooses no index), for a page of `limit` rows.
    fn browse_page(s: &mut Sql, email: &str, sort: &str, b: &UserBrowse, limit: i64) {
        let descending = b.before.is_some() && b.after.is_none();
        if let Some(after) = &b.after {
            s.push(" AND ").push(email).push(" > ").arg(after.clone());
        } else if let Some(before) = &b.before {
            s.push(" AND ").push(email).push(" < ").arg(before.clone());
        }
        s.push(" ORDER BY ")
            .push(sort)
            .push(if descending { " DESC" } else { "" })
            .push(&format!(" LIMIT {limit}"));
    }

    pub async fn browse_users(
        &mut self,
        account: AccountId,
        b: &UserBrowse,
    ) -> StoreResult<Vec<User>> {
        let k = keys(self.dialect());
        let limit = b.limit.clamp(1, 1000);
        let mut q = self.build();
        q.push("SELECT ").push(USER_COLS).push(" FROM users u");
        if b.prefix.is_empty() {
            Self::browse_filter(&mut q, account, b);
            Self::browse_page(&mut q, k.email, k.email, b, limit);
        } else {
            // The first page of each prefix range, merged: a user found twice counts once.
            q.push(" WHERE ")
                .push(k.account_by_id)
                .push(" = ")
                .arg(account)
                .push(" AND u.id IN (");
            Self::prefix_ranges(&mut q, &k, account, b, |q, email_range| {
                let sort = if email_range { k.email } else { k.email_sorted };
                Self::browse_page(q, k.email, sort, b, limit);
            });
            q.push(")");
            Self::browse_page(&mut q, k.email, k.email_sorted, b, limit);
        }
        // Planned for its own values each time: how many users a prefix matches decides whether
        // to walk the email index or a prefix range (a cached generic plan guesses, and sorts
        // 80,000 rows for "g").
        let rows = self.db.rows(q.one_off()).await?;
        let mut users = self.users_with_teams(&rows).await?;
        if b.before.is_some() && b.after.is_none() {
            users.reverse();
        }
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
            // Each range counted no further than the cap, then merged.
            Self::prefix_ranges(&mut q, &k, account, b, |q, _| {
                q.push(&format!(" LIMIT {cap}"));
            });
        }
        q.push(&format!(" LIMIT {cap}) c"));
        self.count(q.one_off()).await
    }

    /// `SELECT id … UNION SELECT id …` of the users `b`'s filter keeps whose email, name or last
    /// name starts with `b.prefix`, one range each; `tail` ends each range's query (an order and
    /// a limit; told whether the range is the email's).
    fn prefix_ranges(
        q: &mut Sql,
        k: &Keys,
        account: AccountId,
        b: &UserBrowse,
        tail: impl Fn(&mut Sql, bool),
    ) {
        let ranges = [
            (k.email, user_name_key(&b.prefix)),
            (k.name, fold(&b.prefix)),
            (k.last, fold(&b.prefix)),
        ];
        for (i, (key, prefix)) in ranges.into_iter().enumerate() {
            if i > 0 {
                q.push(" UNION ");
            }
            q.push("SELECT id FROM (SELECT u.id FROM users u");
            Self::browse_filter(q, account, b);
            q.push(" AND ")
                .push(key)
                .push(" >= ")
                .arg(prefix.clone())
                .push(" AND ")
                .push(key)
                .push(" < ")
                .arg(upper(&prefix));
            tail(q, i == 0);
            q.push(&format!(") r{i}"));
        }
    }
}
