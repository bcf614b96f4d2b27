//! The provisioning log, its retention, and the data steps run once after migrations.

use super::SqlTx;
use crate::db::{Db, SqlRow};
use crate::rows::{self, LOG_COLS};
use crate::sql::Dialect;
use chrono::{DateTime, Utc};
use roster_core::model::*;
use roster_core::store::{LogEntry, LogFilter, Page, StoreResult};
use uuid::Uuid;

impl<D: Db> SqlTx<D> {
    pub async fn insert_log(&mut self, e: &LogEntry) -> StoreResult<()> {
        let q = self.sql(
            "INSERT INTO provisioning_log (account_id, idp_uuid, at, request_id, method, path, \
             resource_type, resource_id, status, outcome, scim_type, detail, tolerances, changes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            vec![
                e.account_id.into(),
                e.idp_uuid.into(),
                e.at.into(),
                (&e.request_id).into(),
                (&e.method).into(),
                (&e.path).into(),
                (&e.resource_type).into(),
                (&e.resource_id).into(),
                e.status.into(),
                (&e.outcome).into(),
                (&e.scim_type).into(),
                (&e.detail).into(),
                serde_json::Value::from(e.tolerances.clone()).into(),
                (&e.changes).into(),
            ],
        );
        self.db.exec(q).await?;
        Ok(())
    }

    pub async fn prune_log(
        &mut self,
        older_than: Option<DateTime<Utc>>,
        keep_per_idp: i64,
        batch: i64,
    ) -> StoreResult<u64> {
        if let Some(older_than) = older_than {
            let q = self.sql(
                "DELETE FROM provisioning_log WHERE id IN \
                 (SELECT id FROM provisioning_log WHERE at < $1 ORDER BY at LIMIT $2)",
                vec![older_than.into(), batch.into()],
            );
            let old = self.db.exec(q).await?;
            if old > 0 {
                return Ok(old);
            }
        }
        // Past the size bound: per provider, everything older than its newest `keep_per_idp`.
        let q = self.sql(
            "SELECT account_id, uuid FROM identity_providers ORDER BY account_id, uuid",
            vec![],
        );
        let idps: Vec<(i64, Uuid)> = self
            .db
            .rows(q)
            .await?
            .iter()
            .map(|r| Ok((r.i64("account_id")?, r.uuid("uuid")?)))
            .collect::<StoreResult<_>>()?;
        for (account, idp) in idps {
            let q = self.sql(
                "SELECT id FROM provisioning_log WHERE account_id = $1 AND idp_uuid = $2 \
                 ORDER BY id DESC LIMIT 1 OFFSET $3",
                vec![account.into(), idp.into(), keep_per_idp.into()],
            );
            let Some(cutoff) = self.db.row(q).await? else {
                continue;
            };
            let q = self.sql(
                "DELETE FROM provisioning_log WHERE id IN (SELECT id FROM provisioning_log \
                 WHERE account_id = $1 AND idp_uuid = $2 AND id <= $3 ORDER BY id LIMIT $4)",
                vec![
                    account.into(),
                    idp.into(),
                    cutoff.i64("id")?.into(),
                    batch.into(),
                ],
            );
            let n = self.db.exec(q).await?;
            if n > 0 {
                return Ok(n);
            }
        }
        Ok(0)
    }

    pub async fn list_log(
        &mut self,
        account: AccountId,
        idp: Uuid,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Page<LogEntry>> {
        self.find_log(account, idp, &LogFilter::default(), offset, limit)
            .await
    }

    pub async fn find_log(
        &mut self,
        account: AccountId,
        idp: Uuid,
        f: &LogFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Page<LogEntry>> {
        let conditions = |s: &mut crate::sql::Sql| {
            s.push(" WHERE account_id = ")
                .arg(account)
                .push(" AND idp_uuid = ")
                .arg(idp);
            if let Some(o) = &f.outcome {
                s.push(" AND outcome = ").arg(o.clone());
            }
            match f.failed {
                Some(true) => {
                    s.push(" AND status >= 400");
                }
                Some(false) => {
                    s.push(" AND status < 400");
                }
                None => {}
            }
            if let Some(t) = &f.resource_type {
                s.push(" AND resource_type = ").arg(t.clone());
            }
            if let Some(id) = f.newer_than {
                s.push(" AND id > ").arg(id);
            }
        };
        let mut count = self.build();
        count.push("SELECT COUNT(*) AS n FROM provisioning_log");
        conditions(&mut count);
        let total = self.count(count).await?;
        let mut page = self.build();
        page.push(&format!("SELECT {LOG_COLS} FROM provisioning_log"));
        conditions(&mut page);
        page.push(&format!(
            " ORDER BY id DESC LIMIT {} OFFSET ",
            limit.clamp(1, 1000)
        ))
        .arg(offset.max(0));
        let items = self
            .db
            .rows(page)
            .await?
            .iter()
            .map(rows::log_entry)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page { items, total })
    }

    pub async fn resource_log(
        &mut self,
        account: AccountId,
        resource_type: &str,
        resource_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<LogEntry>> {
        let q = self.sql(
            &format!(
                "SELECT {LOG_COLS} FROM provisioning_log WHERE account_id = $1 \
                 AND resource_type = $2 AND resource_id = $3 ORDER BY id DESC LIMIT {}",
                limit.clamp(1, 1000)
            ),
            vec![account.into(), resource_type.into(), resource_id.into()],
        );
        self.db.rows(q).await?.iter().map(rows::log_entry).collect()
    }

    /// Data steps that SQL alone cannot do, run after the migrations: userName keys made before
    /// they were NFC get their NFC key (once, recorded in `roster_meta`), and member displays
    /// their folded form. Only users with
    /// non-ASCII userNames can differ, so only those are read. Run inside a write transaction.
    pub async fn after_migrations(&mut self) -> StoreResult<()> {
        const STEP: &str = "user_name_key_nfc";
        let q = self.sql(
            "SELECT value FROM roster_meta WHERE key = $1",
            vec![STEP.into()],
        );
        if self.db.row(q).await?.is_some() {
            return self.fold_member_displays().await;
        }
        let non_ascii = match self.dialect() {
            Dialect::Postgres => "SELECT id, email, email_folded FROM users WHERE email ~ '[^ -~]'",
            Dialect::Sqlite => {
                "SELECT id, email, email_folded FROM users WHERE email GLOB '*[^ -~]*'"
            }
        };
        let q = self.sql(non_ascii, vec![]);
        for r in self.db.rows(q).await? {
            let key = roster_core::validate::user_name_key(&r.text("email")?);
            if key != r.text("email_folded")? {
                let q = self.sql(
                    "UPDATE users SET email_folded = $1 WHERE id = $2",
                    vec![key.into(), r.i64("id")?.into()],
                );
                self.db.exec(q).await?;
            }
        }
        let q = self.sql(
            "INSERT INTO roster_meta (key, value) VALUES ($1, 'done') ON CONFLICT DO NOTHING",
            vec![STEP.into()],
        );
        self.db.exec(q).await?;
        self.fold_member_displays().await
    }

    /// Member displays kept before schema 10 get their folded form (`members.display` filters
    /// compare it); once, recorded in `roster_meta`.
    async fn fold_member_displays(&mut self) -> StoreResult<()> {
        const STEP: &str = "member_display_folded";
        let q = self.sql(
            "SELECT value FROM roster_meta WHERE key = $1",
            vec![STEP.into()],
        );
        if self.db.row(q).await?.is_some() {
            return Ok(());
        }
        let q = self.sql(
            "SELECT team_id, user_id, display FROM team_members \
             WHERE display IS NOT NULL AND display_folded IS NULL",
            vec![],
        );
        for r in self.db.rows(q).await? {
            let folded = roster_core::validate::fold(&r.text("display")?);
            let q = self.sql(
                "UPDATE team_members SET display_folded = $1 WHERE team_id = $2 AND user_id = $3",
                vec![
                    folded.into(),
                    r.i64("team_id")?.into(),
                    r.i64("user_id")?.into(),
                ],
            );
            self.db.exec(q).await?;
        }
        let q = self.sql(
            "INSERT INTO roster_meta (key, value) VALUES ($1, 'done') ON CONFLICT DO NOTHING",
            vec![STEP.into()],
        );
        self.db.exec(q).await?;
        Ok(())
    }
}
