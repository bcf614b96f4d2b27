//! Background upkeep the server runs on a timer.

use super::Roster;
use crate::error::CoreError;

/// How long the provisioning log keeps entries, and how many it keeps per identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRetention {
    /// Entries older than this many days go; 0 keeps them whatever their age.
    pub days: u32,
    /// Each provider keeps at most its newest this many entries; 0 sets no bound.
    pub max_entries_per_idp: u64,
}

impl Default for LogRetention {
    fn default() -> Self {
        Self {
            days: 90,
            max_entries_per_idp: 1_000_000,
        }
    }
}

/// Entries deleted per transaction: short enough that the writer is never held for long.
const PRUNE_BATCH: i64 = 2_000;

impl Roster {
    /// Apply the retention rule to the provisioning log; answer how many entries went.
    pub async fn prune_provisioning_log(&self, r: &LogRetention) -> Result<u64, CoreError> {
        let older_than =
            (r.days > 0).then(|| self.now() - chrono::Duration::days(i64::from(r.days)));
        let keep = match r.max_entries_per_idp {
            0 => i64::MAX,
            n => i64::try_from(n).unwrap_or(i64::MAX),
        };
        let mut total = 0;
        loop {
            let mut tx = self.store.begin().await?;
            let n = tx.prune_log(older_than, keep, PRUNE_BATCH).await?;
            tx.commit().await?;
            total += n;
            if n == 0 {
                break;
            }
        }
        if total > 0 {
            tracing::info!(deleted = total, "provisioning log pruned");
        }
        Ok(total)
    }

    /// Forget console sessions and password links that can no longer be used.
    pub async fn prune_console(&self) -> Result<u64, CoreError> {
        let now = self.now();
        let idle = chrono::Duration::minutes(super::SESSION_IDLE_MINUTES);
        let mut tx = self.store.begin().await?;
        let n = tx.prune_console(now, now - idle).await?;
        tx.commit().await?;
        Ok(n)
    }
}
