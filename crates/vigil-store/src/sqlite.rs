//! SQLite: the embedded default, for one process.
//!
//! One writer at a time is SQLite's nature, so write transactions begin `IMMEDIATE`: they
//! queue on the write lock (under `busy_timeout`) instead of failing with `SQLITE_BUSY` when
//! a read transaction tries to become a write. WAL lets readers run beside the writer.
//! Outbox rows are claimed with one `UPDATE … RETURNING` that moves them past a lease; with
//! a single writer nothing more is needed. Invalidation is an in-process broadcast: there
//! is no other replica to tell.
//!
//! Timestamps are INTEGER microseconds since the Unix epoch (UTC), the precision of
//! PostgreSQL's timestamptz, so both engines hand back the same instants.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use tokio::sync::broadcast;
use uuid::Uuid;
use vigil_model::alert::AlertHistoryState;

use crate::migrations::{self, SQLITE};
use crate::{
    AlertIndexEntry, AlertSource, Constraint, Engine, EnqueuedChange, HistoryRecord,
    INVALIDATION_BUFFER, Invalidation, LAST_SEEN_RESOLUTION, NewChange, OutboxClaim, OutboxEntry,
    OutboxState, OutboxStats, ResolvedAlert, Store, StoreError, check_expected_changes,
    check_targets, dedup_entries, pick_resolved,
};

/// SQLite's default cap on bound parameters per statement (since 3.32; the bundled
/// library is newer).
const MAX_VARIABLES: usize = 32_766;
/// Index rows per upsert statement: 7 parameters a row, plus the resolution.
const ROWS_PER_STATEMENT: usize = (MAX_VARIABLES - 1) / 7;
/// How long a writer waits for the write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The store on SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    invalidations: broadcast::Sender<Invalidation>,
}

impl SqliteStore {
    /// Opens `sqlite://path` (creating the file and its directory) or `sqlite::memory:`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            // One connection that never closes: the database lives as long as it does, and
            // shared-cache connections would fail with SQLITE_LOCKED instead of waiting.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            if let Some(dir) = options.get_filename().parent()
                && !dir.as_os_str().is_empty()
            {
                tokio::fs::create_dir_all(dir).await?;
            }
            SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?
        };
        let (invalidations, _) = broadcast::channel(INVALIDATION_BUFFER);
        Ok(SqliteStore {
            pool,
            invalidations,
        })
    }

    /// The underlying pool, for tests and tools.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn outbox_update(
        &self,
        sql: &'static str,
        id: i64,
        token: Uuid,
        text: Option<&str>,
        at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(sql)
            .bind(id)
            .bind(token.to_string())
            .bind(text)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {us} out of range")))
}

fn outbox_entry(row: &SqliteRow) -> Result<OutboxEntry, StoreError> {
    let payload: String = row.try_get("payload")?;
    let state: String = row.try_get("state")?;
    Ok(OutboxEntry {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        history_id: row.try_get("history_id")?,
        unified_id: row.try_get("unified_id")?,
        source: AlertSource {
            provider: row.try_get("provider")?,
            provider_alert_id: row.try_get("provider_alert_id")?,
        },
        payload: serde_json::from_str(&payload)?,
        state: OutboxState::parse(&state)?,
        attempts: row.try_get("attempts")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        age_from: from_micros(row.try_get("age_from")?)?,
        next_attempt_at: from_micros(row.try_get("next_attempt_at")?)?,
        last_error: row.try_get("last_error")?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

fn group_sources(rows: Vec<(String, String, String)>) -> Option<ResolvedAlert> {
    let unified_id = rows.first()?.0.clone();
    let mut sources: Vec<AlertSource> = rows
        .into_iter()
        .map(|(_, provider, provider_alert_id)| AlertSource {
            provider,
            provider_alert_id,
        })
        .collect();
    sources.sort();
    Some(ResolvedAlert {
        unified_id,
        sources,
    })
}

async fn sources_in<'c, E>(
    executor: E,
    tenant_id: &str,
    unified_id: &str,
) -> Result<Vec<AlertSource>, StoreError>
where
    E: sqlx::Executor<'c, Database = Sqlite>,
{
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT provider, provider_alert_id FROM alert_index \
         WHERE tenant_id = ?1 AND unified_id = ?2 ORDER BY provider, provider_alert_id",
    )
    .bind(tenant_id)
    .bind(unified_id)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(provider, provider_alert_id)| AlertSource {
            provider,
            provider_alert_id,
        })
        .collect())
}

#[async_trait]
impl Store for SqliteStore {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        migrations::migrator(SQLITE).run(&self.pool).await?;
        Ok(())
    }

    async fn migrations_applied(&self) -> Result<bool, StoreError> {
        let table: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&self.pool)
        .await?;
        if table == 0 {
            return Ok(false);
        }
        let applied: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?;
        Ok(migrations::all_applied(
            &migrations::migrator(SQLITE),
            &applied,
        ))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn reassign_alerts(
        &self,
        tenant_id: &str,
        entries: &[AlertIndexEntry],
    ) -> Result<(), StoreError> {
        let entries = dedup_entries(entries);
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for chunk in entries.chunks(ROWS_PER_STATEMENT) {
            let mut upsert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO alert_index \
                 (tenant_id, provider, provider_alert_id, unified_id, fingerprint, first_seen, last_seen) ",
            );
            upsert.push_values(chunk, |mut row, e| {
                let seen = micros(e.last_seen);
                row.push_bind(tenant_id)
                    .push_bind(e.provider.as_str())
                    .push_bind(e.provider_alert_id.as_str())
                    .push_bind(e.unified_id.as_str())
                    .push_bind(e.fingerprint.as_deref())
                    .push_bind(seen)
                    .push_bind(seen);
            });
            upsert.push(
                " ON CONFLICT (tenant_id, provider, provider_alert_id) DO UPDATE SET \
                 unified_id = excluded.unified_id, \
                 fingerprint = coalesce(excluded.fingerprint, alert_index.fingerprint), \
                 last_seen = max(alert_index.last_seen, excluded.last_seen) \
                 WHERE excluded.unified_id IS NOT alert_index.unified_id",
            );
            upsert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn index_alerts(
        &self,
        tenant_id: &str,
        entries: &[AlertIndexEntry],
    ) -> Result<HashMap<AlertSource, String>, StoreError> {
        let entries = dedup_entries(entries);
        let mut indexed = HashMap::with_capacity(entries.len());
        if entries.is_empty() {
            return Ok(indexed);
        }
        let resolution = LAST_SEEN_RESOLUTION.num_microseconds().unwrap_or(i64::MAX);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for chunk in entries.chunks(ROWS_PER_STATEMENT) {
            let mut upsert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO alert_index \
                 (tenant_id, provider, provider_alert_id, unified_id, fingerprint, first_seen, last_seen) ",
            );
            upsert.push_values(chunk, |mut row, e| {
                let seen = micros(e.last_seen);
                row.push_bind(tenant_id)
                    .push_bind(e.provider.as_str())
                    .push_bind(e.provider_alert_id.as_str())
                    .push_bind(e.unified_id.as_str())
                    .push_bind(e.fingerprint.as_deref())
                    .push_bind(seen)
                    .push_bind(seen);
            });
            // The unified id is never updated: that is what keeps ids stable.
            upsert.push(
                " ON CONFLICT (tenant_id, provider, provider_alert_id) DO UPDATE SET \
                 fingerprint = coalesce(excluded.fingerprint, alert_index.fingerprint), \
                 last_seen = max(alert_index.last_seen, excluded.last_seen) \
                 WHERE (excluded.fingerprint IS NOT NULL \
                        AND excluded.fingerprint IS NOT alert_index.fingerprint) \
                    OR excluded.last_seen >= alert_index.last_seen + ",
            );
            upsert.push_bind(resolution);
            upsert.build().execute(&mut *tx).await?;

            let mut select = QueryBuilder::<Sqlite>::new(
                "SELECT provider, provider_alert_id, unified_id FROM alert_index WHERE tenant_id = ",
            );
            select.push_bind(tenant_id);
            select.push(" AND (provider, provider_alert_id) IN (VALUES ");
            let mut tuples = select.separated(", ");
            for e in chunk {
                tuples.push("(");
                tuples.push_bind_unseparated(e.provider.as_str());
                tuples.push_unseparated(", ");
                tuples.push_bind_unseparated(e.provider_alert_id.as_str());
                tuples.push_unseparated(")");
            }
            select.push(")");
            let rows: Vec<(String, String, String)> =
                select.build_query_as().fetch_all(&mut *tx).await?;
            for (provider, provider_alert_id, unified_id) in rows {
                indexed.insert(
                    AlertSource {
                        provider,
                        provider_alert_id,
                    },
                    unified_id,
                );
            }
        }
        tx.commit().await?;
        Ok(indexed)
    }

    async fn resolve(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<ResolvedAlert>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT unified_id, provider, provider_alert_id FROM alert_index \
             WHERE tenant_id = ?1 AND unified_id IN ( \
                 SELECT ?2 \
                 UNION \
                 SELECT unified_id FROM alert_index WHERE tenant_id = ?1 AND provider_alert_id = ?2)",
        )
        .bind(tenant_id)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        pick_resolved(id, rows)
    }

    async fn resolve_source(
        &self,
        tenant_id: &str,
        source: &AlertSource,
    ) -> Result<Option<ResolvedAlert>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT unified_id, provider, provider_alert_id FROM alert_index \
             WHERE tenant_id = ?1 AND unified_id = ( \
                 SELECT unified_id FROM alert_index \
                 WHERE tenant_id = ?1 AND provider = ?2 AND provider_alert_id = ?3)",
        )
        .bind(tenant_id)
        .bind(source.provider.as_str())
        .bind(source.provider_alert_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(group_sources(rows))
    }

    async fn sources_of(
        &self,
        tenant_id: &str,
        unified_id: &str,
    ) -> Result<Vec<AlertSource>, StoreError> {
        sources_in(&self.pool, tenant_id, unified_id).await
    }

    async fn enqueue_change(
        &self,
        change: &NewChange,
        now: DateTime<Utc>,
    ) -> Result<EnqueuedChange, StoreError> {
        let entry = serde_json::to_string(&change.history)?;
        let payloads = change
            .targets
            .iter()
            .map(|t| serde_json::to_string(&t.payload))
            .collect::<Result<Vec<_>, _>>()?;
        let now = micros(now);

        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let sources = sources_in(&mut *tx, &change.tenant_id, &change.unified_id).await?;
        check_targets(change, &sources)?;
        if change.expected_changes.is_some() {
            // BEGIN IMMEDIATE holds the database's write lock: the count stays exact.
            let recorded: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM alert_history WHERE tenant_id = ?1 AND unified_id = ?2",
            )
            .bind(change.tenant_id.as_str())
            .bind(change.unified_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
            check_expected_changes(change, recorded)?;
        }
        let history_id: i64 = sqlx::query_scalar(
            "INSERT INTO alert_history (tenant_id, unified_id, request_id, entry, recorded_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .bind(change.tenant_id.as_str())
        .bind(change.unified_id.as_str())
        .bind(change.request_id.as_deref())
        .bind(entry)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::unique_as(Constraint::HistoryRequest))?;

        let mut outbox_ids = Vec::with_capacity(change.targets.len());
        for (target, payload) in change.targets.iter().zip(payloads) {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO outbox (tenant_id, history_id, unified_id, provider, \
                 provider_alert_id, payload, created_at, age_from, next_attempt_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7, ?7) RETURNING id",
            )
            .bind(change.tenant_id.as_str())
            .bind(history_id)
            .bind(change.unified_id.as_str())
            .bind(target.source.provider.as_str())
            .bind(target.source.provider_alert_id.as_str())
            .bind(payload)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::unique_as(Constraint::OutboxTarget))?;
            outbox_ids.push(id);
        }
        tx.commit().await?;
        Ok(EnqueuedChange {
            history_id,
            outbox_ids,
        })
    }

    async fn histories(
        &self,
        tenant_id: &str,
        unified_ids: &[String],
    ) -> Result<HashMap<String, Vec<HistoryRecord>>, StoreError> {
        let mut ids: Vec<&str> = unified_ids.iter().map(String::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut out: HashMap<String, Vec<HistoryRecord>> = HashMap::new();
        // The ids go in as one JSON array: the statement's text never changes, so it is
        // prepared once (an `IN (?, ?, …)` list of the page's length was parsed and planned
        // again on every list: ~4 % of a 3-provider list's CPU).
        let rows: Vec<(String, i64, Option<String>, String, i64)> = sqlx::query_as(
            "SELECT unified_id, id, request_id, entry, recorded_at FROM alert_history \
             WHERE tenant_id = ? AND unified_id IN (SELECT value FROM json_each(?)) ORDER BY id",
        )
        .bind(tenant_id)
        .bind(serde_json::to_string(&ids)?)
        .fetch_all(&self.pool)
        .await?;
        for (unified_id, id, request_id, entry, recorded_at) in rows {
            out.entry(unified_id).or_default().push(HistoryRecord {
                id,
                request_id,
                entry: serde_json::from_str::<AlertHistoryState>(&entry)?,
                recorded_at: from_micros(recorded_at)?,
            });
        }
        Ok(out)
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: TimeDelta,
    ) -> Result<Vec<OutboxClaim>, StoreError> {
        let token = Uuid::new_v4();
        let rows = sqlx::query(concat!(
            "UPDATE outbox SET attempts = attempts + 1, lease_token = ?1, \
             next_attempt_at = ?2, updated_at = ?3 \
             WHERE id IN (SELECT id FROM outbox \
                          WHERE state = 'pending' AND next_attempt_at <= ?3 \
                          ORDER BY next_attempt_at, id LIMIT ?4) \
             RETURNING ",
            outbox_columns!()
        ))
        .bind(token.to_string())
        .bind(micros(now + lease))
        .bind(micros(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut claims = rows
            .iter()
            .map(|row| {
                Ok(OutboxClaim {
                    entry: outbox_entry(row)?,
                    token,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        claims.sort_by_key(|c| c.entry.id);
        Ok(claims)
    }

    async fn mark_delivered(
        &self,
        id: i64,
        token: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.outbox_update(
            "UPDATE outbox SET state = 'delivered', lease_token = NULL, last_error = ?3, \
             updated_at = ?4 WHERE id = ?1 AND lease_token = ?2 AND state = 'pending'",
            id,
            token,
            None,
            micros(now),
        )
        .await
    }

    async fn schedule_retry(
        &self,
        id: i64,
        token: Uuid,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET next_attempt_at = ?3, lease_token = NULL, last_error = ?4, \
             updated_at = ?5 WHERE id = ?1 AND lease_token = ?2 AND state = 'pending'",
        )
        .bind(id)
        .bind(token.to_string())
        .bind(micros(next_attempt_at))
        .bind(error)
        .bind(micros(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn dead_letter(
        &self,
        id: i64,
        token: Uuid,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.outbox_update(
            "UPDATE outbox SET state = 'dead', lease_token = NULL, last_error = ?3, \
             updated_at = ?4 WHERE id = ?1 AND lease_token = ?2 AND state = 'pending'",
            id,
            token,
            Some(error),
            micros(now),
        )
        .await
    }

    async fn list_outbox(
        &self,
        tenant_id: &str,
        state: OutboxState,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox WHERE tenant_id = ?1 AND state = ?2 ORDER BY id LIMIT ?3"
        ))
        .bind(tenant_id)
        .bind(state.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_entry).collect()
    }

    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox GROUP BY state",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut stats = OutboxStats::default();
        for row in &rows {
            let state: String = row.try_get("state")?;
            let oldest: Option<i64> = row.try_get("oldest")?;
            stats.add(
                OutboxState::parse(&state)?,
                row.try_get("n")?,
                oldest.map(from_micros).transpose()?,
            );
        }
        Ok(stats)
    }

    async fn redrive(
        &self,
        tenant_id: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET state = 'pending', attempts = 0, age_from = ?3, \
             next_attempt_at = ?3, lease_token = NULL, updated_at = ?3 \
             WHERE tenant_id = ?1 AND id = ?2 AND state = 'dead'",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(micros(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn notify_invalidation(&self, tenant_id: &str) -> Result<(), StoreError> {
        // No receivers is not an error: nobody caches yet.
        let _ = self
            .invalidations
            .send(Invalidation::Tenant(tenant_id.to_owned()));
        Ok(())
    }

    async fn subscribe_invalidations(
        &self,
    ) -> Result<broadcast::Receiver<Invalidation>, StoreError> {
        Ok(self.invalidations.subscribe())
    }
}
