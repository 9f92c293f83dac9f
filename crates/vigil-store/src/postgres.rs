//! PostgreSQL: the engine for several replicas.
//!
//! A list page is indexed with one statement whatever its size: the entries travel as
//! arrays (`UNNEST`), not as thousands of bind parameters, so there is no parameter limit
//! to chunk around and one network round trip. Rows are upserted in key order so that
//! concurrent pages overlapping in content lock rows in the same order and cannot deadlock.
//! Outbox rows are claimed with `FOR UPDATE SKIP LOCKED`, so replicas never wait on each
//! other's claims, and leased (like on SQLite) so that delivery runs outside a transaction.
//! Cache invalidation is fanned out to every replica with `LISTEN/NOTIFY`.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, Row};
use tokio::sync::{Mutex, broadcast};
use tokio::task::JoinHandle;
use uuid::Uuid;
use vigil_model::alert::AlertHistoryState;

use crate::migrations::{self, POSTGRES};
use crate::{
    AlertIndexEntry, AlertSource, Engine, EnqueuedChange, HistoryRecord, INVALIDATION_BUFFER,
    Invalidation, LAST_SEEN_RESOLUTION, NewChange, OutboxClaim, OutboxEntry, OutboxState,
    OutboxStats, ResolvedAlert, Store, StoreError, check_expected_changes, check_targets,
    dedup_entries, pick_resolved,
};

/// The NOTIFY channel for cache invalidation; the payload is the tenant id.
const INVALIDATION_CHANNEL: &str = "vigil_invalidation";
/// How long the listener waits before retrying after a failed reconnect.
const LISTENER_RETRY: Duration = Duration::from_secs(1);

/// The store on PostgreSQL.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    invalidations: broadcast::Sender<Invalidation>,
    listener: Mutex<Option<AbortOnDrop>>,
}

/// The listener task lives as long as the store.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl PostgresStore {
    /// Opens a pool on `postgres://…`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self::from_pool(pool))
    }

    /// A store over an existing pool.
    pub fn from_pool(pool: PgPool) -> Self {
        let (invalidations, _) = broadcast::channel(INVALIDATION_BUFFER);
        PostgresStore {
            pool,
            invalidations,
            listener: Mutex::new(None),
        }
    }

    /// The underlying pool, for tests and tools.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn outbox_update(
        &self,
        sql: &'static str,
        id: i64,
        token: Uuid,
        text: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(sql)
            .bind(id)
            .bind(token)
            .bind(text)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Forwards notifications to the broadcast channel until the store drops the task.
async fn listen(mut listener: PgListener, tx: broadcast::Sender<Invalidation>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let _ = tx.send(Invalidation::Tenant(notification.payload().to_owned()));
            }
            // The connection was lost and will be re-established on the next call:
            // whatever was notified meanwhile is gone, so everything is suspect.
            Ok(None) => {
                tracing::warn!("invalidation listener lost its connection; reconnecting");
                let _ = tx.send(Invalidation::All);
            }
            Err(err) => {
                tracing::warn!(error = %err, "invalidation listener failed; retrying");
                let _ = tx.send(Invalidation::All);
                tokio::time::sleep(LISTENER_RETRY).await;
            }
        }
    }
}

fn outbox_entry(row: &PgRow) -> Result<OutboxEntry, StoreError> {
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
        payload: row.try_get("payload")?,
        state: OutboxState::parse(&state)?,
        attempts: row.try_get("attempts")?,
        created_at: row.try_get("created_at")?,
        age_from: row.try_get("age_from")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        updated_at: row.try_get("updated_at")?,
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
    E: sqlx::Executor<'c, Database = Postgres>,
{
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT provider, provider_alert_id FROM alert_index \
         WHERE tenant_id = $1 AND unified_id = $2 ORDER BY provider, provider_alert_id",
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
impl Store for PostgresStore {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        migrations::migrator(POSTGRES).run(&self.pool).await?;
        Ok(())
    }

    async fn migrations_applied(&self) -> Result<bool, StoreError> {
        let table: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        if !table {
            return Ok(false);
        }
        let applied: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?;
        Ok(migrations::all_applied(
            &migrations::migrator(POSTGRES),
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
        let providers: Vec<&str> = entries.iter().map(|e| e.provider.as_str()).collect();
        let ids: Vec<&str> = entries
            .iter()
            .map(|e| e.provider_alert_id.as_str())
            .collect();
        let unified: Vec<&str> = entries.iter().map(|e| e.unified_id.as_str()).collect();
        let fingerprints: Vec<Option<&str>> =
            entries.iter().map(|e| e.fingerprint.as_deref()).collect();
        let seen: Vec<DateTime<Utc>> = entries.iter().map(|e| e.last_seen).collect();
        sqlx::query(
            "INSERT INTO alert_index AS a \
                 (tenant_id, provider, provider_alert_id, unified_id, fingerprint, \
                  first_seen, last_seen) \
             SELECT $1, provider, provider_alert_id, unified_id, fingerprint, last_seen, last_seen \
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) \
                 AS t(provider, provider_alert_id, unified_id, fingerprint, last_seen) \
             ORDER BY provider, provider_alert_id \
             ON CONFLICT ON CONSTRAINT alert_index_pkey DO UPDATE SET \
                 unified_id = EXCLUDED.unified_id, \
                 fingerprint = coalesce(EXCLUDED.fingerprint, a.fingerprint), \
                 last_seen = greatest(a.last_seen, EXCLUDED.last_seen) \
             WHERE EXCLUDED.unified_id IS DISTINCT FROM a.unified_id",
        )
        .bind(tenant_id)
        .bind(&providers)
        .bind(&ids)
        .bind(&unified)
        .bind(&fingerprints)
        .bind(&seen)
        .execute(&self.pool)
        .await?;
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
        let providers: Vec<&str> = entries.iter().map(|e| e.provider.as_str()).collect();
        let ids: Vec<&str> = entries
            .iter()
            .map(|e| e.provider_alert_id.as_str())
            .collect();
        let unified: Vec<&str> = entries.iter().map(|e| e.unified_id.as_str()).collect();
        let fingerprints: Vec<Option<&str>> =
            entries.iter().map(|e| e.fingerprint.as_deref()).collect();
        let seen: Vec<DateTime<Utc>> = entries.iter().map(|e| e.last_seen).collect();
        let resolution = LAST_SEEN_RESOLUTION.num_microseconds().unwrap_or(i64::MAX);

        // Copies not rewritten (nothing changed) are not RETURNed, so the answer adds the
        // existing rows from the statement's snapshot. The unified id is never updated:
        // that is what keeps ids stable.
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "WITH input AS ( \
                 SELECT * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], \
                                      $6::timestamptz[]) \
                     AS t(provider, provider_alert_id, unified_id, fingerprint, last_seen) \
             ), upserted AS ( \
                 INSERT INTO alert_index AS a \
                     (tenant_id, provider, provider_alert_id, unified_id, fingerprint, \
                      first_seen, last_seen) \
                 SELECT $1, provider, provider_alert_id, unified_id, fingerprint, \
                        last_seen, last_seen \
                 FROM input ORDER BY provider, provider_alert_id \
                 ON CONFLICT ON CONSTRAINT alert_index_pkey DO UPDATE SET \
                     fingerprint = coalesce(EXCLUDED.fingerprint, a.fingerprint), \
                     last_seen = greatest(a.last_seen, EXCLUDED.last_seen) \
                 WHERE (EXCLUDED.fingerprint IS NOT NULL \
                        AND EXCLUDED.fingerprint IS DISTINCT FROM a.fingerprint) \
                    OR EXCLUDED.last_seen >= a.last_seen + $7::float8 * interval '1 microsecond' \
                 RETURNING a.provider, a.provider_alert_id, a.unified_id \
             ) \
             SELECT provider, provider_alert_id, unified_id FROM upserted \
             UNION \
             SELECT a.provider, a.provider_alert_id, a.unified_id \
             FROM alert_index a JOIN input i \
               ON a.provider = i.provider AND a.provider_alert_id = i.provider_alert_id \
             WHERE a.tenant_id = $1",
        )
        .bind(tenant_id)
        .bind(&providers)
        .bind(&ids)
        .bind(&unified)
        .bind(&fingerprints)
        .bind(&seen)
        .bind(resolution)
        .fetch_all(&self.pool)
        .await?;
        for (provider, provider_alert_id, unified_id) in rows {
            indexed.insert(
                AlertSource {
                    provider,
                    provider_alert_id,
                },
                unified_id,
            );
        }

        // A copy inserted by a concurrent batch that committed after this statement's
        // snapshot was neither returned nor visible. Rare; read those back.
        if indexed.len() < entries.len() {
            let missing: HashSet<(&str, &str)> = entries
                .iter()
                .map(|e| (e.provider.as_str(), e.provider_alert_id.as_str()))
                .filter(|(p, id)| !indexed.contains_key(&AlertSource::new(*p, *id)))
                .collect();
            let (providers, ids): (Vec<&str>, Vec<&str>) = missing.into_iter().unzip();
            let rows: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT a.provider, a.provider_alert_id, a.unified_id \
                 FROM alert_index a \
                 JOIN UNNEST($2::text[], $3::text[]) AS i(provider, provider_alert_id) \
                   ON a.provider = i.provider AND a.provider_alert_id = i.provider_alert_id \
                 WHERE a.tenant_id = $1",
            )
            .bind(tenant_id)
            .bind(&providers)
            .bind(&ids)
            .fetch_all(&self.pool)
            .await?;
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
        Ok(indexed)
    }

    async fn resolve(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<ResolvedAlert>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT unified_id, provider, provider_alert_id FROM alert_index \
             WHERE tenant_id = $1 AND unified_id IN ( \
                 SELECT $2 \
                 UNION \
                 SELECT unified_id FROM alert_index WHERE tenant_id = $1 AND provider_alert_id = $2)",
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
             WHERE tenant_id = $1 AND unified_id = ( \
                 SELECT unified_id FROM alert_index \
                 WHERE tenant_id = $1 AND provider = $2 AND provider_alert_id = $3)",
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
        let mut tx = self.pool.begin().await?;
        let sources = sources_in(&mut *tx, &change.tenant_id, &change.unified_id).await?;
        check_targets(change, &sources)?;
        if change.expected_changes.is_some() {
            // Serializes conditional changes to one alert across every process on this
            // database until the transaction ends; the count below is then exact.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || '|' || $2, 0))")
                .bind(change.tenant_id.as_str())
                .bind(change.unified_id.as_str())
                .execute(&mut *tx)
                .await?;
            let recorded: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM alert_history WHERE tenant_id = $1 AND unified_id = $2",
            )
            .bind(change.tenant_id.as_str())
            .bind(change.unified_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
            check_expected_changes(change, recorded)?;
        }
        let history_id: i64 = sqlx::query_scalar(
            "INSERT INTO alert_history (tenant_id, unified_id, request_id, entry, recorded_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(change.tenant_id.as_str())
        .bind(change.unified_id.as_str())
        .bind(change.request_id.as_deref())
        .bind(Json(&change.history))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;

        let mut outbox_ids = Vec::with_capacity(change.targets.len());
        for target in &change.targets {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO outbox (tenant_id, history_id, unified_id, provider, \
                 provider_alert_id, payload, created_at, age_from, next_attempt_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7, $7) RETURNING id",
            )
            .bind(change.tenant_id.as_str())
            .bind(history_id)
            .bind(change.unified_id.as_str())
            .bind(target.source.provider.as_str())
            .bind(target.source.provider_alert_id.as_str())
            .bind(&target.payload)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
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
        let rows: Vec<(
            String,
            i64,
            Option<String>,
            Json<AlertHistoryState>,
            DateTime<Utc>,
        )> = sqlx::query_as(
            "SELECT unified_id, id, request_id, entry, recorded_at FROM alert_history \
             WHERE tenant_id = $1 AND unified_id = ANY($2) ORDER BY id",
        )
        .bind(tenant_id)
        .bind(unified_ids)
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<String, Vec<HistoryRecord>> = HashMap::new();
        for (unified_id, id, request_id, Json(entry), recorded_at) in rows {
            out.entry(unified_id).or_default().push(HistoryRecord {
                id,
                request_id,
                entry,
                recorded_at,
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
            "UPDATE outbox SET attempts = attempts + 1, lease_token = $1, \
             next_attempt_at = $2, updated_at = $3 \
             WHERE id IN (SELECT id FROM outbox \
                          WHERE state = 'pending' AND next_attempt_at <= $3 \
                          ORDER BY next_attempt_at, id LIMIT $4 \
                          FOR UPDATE SKIP LOCKED) \
             RETURNING ",
            outbox_columns!()
        ))
        .bind(token)
        .bind(now + lease)
        .bind(now)
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
            "UPDATE outbox SET state = 'delivered', lease_token = NULL, last_error = $3, \
             updated_at = $4 WHERE id = $1 AND lease_token = $2 AND state = 'pending'",
            id,
            token,
            None,
            now,
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
            "UPDATE outbox SET next_attempt_at = $3, lease_token = NULL, last_error = $4, \
             updated_at = $5 WHERE id = $1 AND lease_token = $2 AND state = 'pending'",
        )
        .bind(id)
        .bind(token)
        .bind(next_attempt_at)
        .bind(error)
        .bind(now)
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
            "UPDATE outbox SET state = 'dead', lease_token = NULL, last_error = $3, \
             updated_at = $4 WHERE id = $1 AND lease_token = $2 AND state = 'pending'",
            id,
            token,
            Some(error),
            now,
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
            " FROM outbox WHERE tenant_id = $1 AND state = $2 ORDER BY id LIMIT $3"
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
            stats.add(
                OutboxState::parse(&state)?,
                row.try_get("n")?,
                row.try_get("oldest")?,
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
            "UPDATE outbox SET state = 'pending', attempts = 0, age_from = $3, \
             next_attempt_at = $3, lease_token = NULL, updated_at = $3 \
             WHERE tenant_id = $1 AND id = $2 AND state = 'dead'",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn notify_invalidation(&self, tenant_id: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(INVALIDATION_CHANNEL)
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn subscribe_invalidations(
        &self,
    ) -> Result<broadcast::Receiver<Invalidation>, StoreError> {
        let mut task = self.listener.lock().await;
        if task.is_none() {
            let mut listener = PgListener::connect_with(&self.pool).await?;
            listener.listen(INVALIDATION_CHANNEL).await?;
            let tx = self.invalidations.clone();
            *task = Some(AbortOnDrop(tokio::spawn(listen(listener, tx))));
        }
        // Subscribed after LISTEN took effect: every later NOTIFY reaches this receiver.
        Ok(self.invalidations.subscribe())
    }
}
