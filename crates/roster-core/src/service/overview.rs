//! The console's overview of an account: counts, and provisioning activity per hour.

use super::{Principal, Roster};
use crate::error::CoreError;
use chrono::{Duration, DurationRound, Utc};

/// Hours the activity picture covers.
pub const ACTIVITY_HOURS: i64 = 7 * 24;

#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    pub users_active: i64,
    pub users_inactive: i64,
    pub teams: i64,
    pub idps: i64,
    pub requests_24h: i64,
    pub failures_24h: i64,
    /// Requests and failures per hour, oldest first, [`ACTIVITY_HOURS`] of them (the last is the
    /// current hour).
    pub hourly: Vec<(i64, i64)>,
    /// The first hour shown (UTC).
    pub since: chrono::DateTime<Utc>,
}

impl Roster {
    /// What the account holds, and its provisioning in the last week. Users who may not view
    /// users see none of it.
    pub async fn overview(&self, p: &Principal) -> Result<Overview, CoreError> {
        p.require_view_users()?;
        let now = self.clock.now();
        let hour = now
            .duration_trunc(Duration::hours(1))
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        let since = hour - Duration::hours(ACTIVITY_HOURS - 1);
        let mut tx = self.store.read().await?;
        let o = tx.account_overview(p.account(), since).await?;
        let mut hourly = vec![(0, 0); ACTIVITY_HOURS as usize];
        for (key, n, failed) in &o.hourly {
            let Ok(at) =
                chrono::NaiveDateTime::parse_from_str(&format!("{key}:00:00"), "%Y-%m-%dT%H:%M:%S")
            else {
                continue;
            };
            let i = (at.and_utc() - since).num_hours();
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| hourly.get_mut(i)) {
                *slot = (*n, *failed);
            }
        }
        let day = &hourly[hourly.len() - 24..];
        Ok(Overview {
            users_active: o.users_active,
            users_inactive: o.users_inactive,
            teams: o.teams,
            idps: o.idps,
            requests_24h: day.iter().map(|(n, _)| n).sum(),
            failures_24h: day.iter().map(|(_, f)| f).sum(),
            hourly,
            since,
        })
    }
}
