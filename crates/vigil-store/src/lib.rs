//! Vigil's storage: one domain-shaped [`Store`] trait over SQLite or PostgreSQL.
//!
//! Why this shape (after atuin's server): callers speak in alerts, sources, changes and
//! outbox rows, never in SQL; each engine has its own implementation with its own static
//! SQL, because the engines differ where it matters (PostgreSQL takes a whole batch as
//! arrays in one statement and lets replicas claim work with `FOR UPDATE SKIP LOCKED`;
//! SQLite is one process, one writer, and claims under a lease with
//! `UPDATE … RETURNING`). sqlx's `Any` driver would hide exactly those differences and has
//! no uuid, timestamp or JSON support. The engine is chosen at start from the URL scheme
//! ([`connect`]).
//!
//! What is stored:
//! - the **alert index**: unified id ⇄ provider copies, so ids handed to clients stay
//!   stable across requests. Indexing a list page is one statement on PostgreSQL and one
//!   transaction on SQLite, whatever the page size: a list request never pays a database
//!   write per alert. An indexed copy keeps its unified id forever; `last_seen` is only
//!   rewritten when it moves by at least [`LAST_SEEN_RESOLUTION`], so re-listing the same
//!   page rewrites nothing;
//! - the **history** of changes (Graph's `alertHistoryState`) and the **outbox** that
//!   delivers each change to every provider holding a copy, written together in one
//!   transaction ([`Store::enqueue_change`]);
//! - cache **invalidation** fan-out: `LISTEN/NOTIFY` on PostgreSQL, an in-process
//!   broadcast on SQLite (one process, nobody else to tell).
//!
//! Every query is keyed by tenant: the tenant is the first column of every key, and no
//! tenant-facing method takes a row id without its tenant. The only cross-tenant read is
//! [`Store::claim_due`], which the delivery worker uses and which returns each row's tenant.
//!
//! Time is passed in (`now`) rather than read from the clock, so the outbox's leases and
//! retries are testable without sleeping.

/// The columns of an outbox row, in the order both engines read them.
macro_rules! outbox_columns {
    () => {
        "id, tenant_id, history_id, unified_id, provider, provider_alert_id, payload, state, \
         attempts, created_at, age_from, next_attempt_at, last_error, updated_at"
    };
}

mod error;
mod migrations;
mod postgres;
mod retry;
mod sqlite;
mod types;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::broadcast;
use uuid::Uuid;
use vigil_model::alert::AlertHistoryState;

pub use error::{Constraint, StoreError};
pub use postgres::PostgresStore;
pub use retry::{NextStep, RetryPolicy, jitter};
pub use sqlite::SqliteStore;
pub use types::{
    AlertIndexEntry, AlertSource, ChangeTarget, EnqueuedChange, HistoryRecord, Invalidation,
    NewChange, OutboxClaim, OutboxEntry, OutboxState, OutboxStats, ResolvedAlert,
};

/// `last_seen` of an indexed copy is rewritten only when it advances by at least this much.
/// It exists to find copies no provider reports any more; minute precision is plenty, and
/// it keeps a page that is listed every few seconds from rewriting every row each time.
pub const LAST_SEEN_RESOLUTION: TimeDelta = TimeDelta::minutes(10);

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Opens the store named by `url`: `sqlite://path/to/vigil.db` (created if missing, with its
/// directory), `sqlite::memory:`, or `postgres://…` / `postgresql://…`.
///
/// Migrations are not applied here; call [`Store::migrate`] (the server does at start,
/// `vigil migrate` does on its own).
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(redact(url)))
    }
}

/// The URL without anything that may be a password.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://…@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Everything Vigil keeps in its database.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// The engine underneath.
    fn engine(&self) -> Engine;

    /// Applies the embedded migrations that are not applied yet. Idempotent; safe to call
    /// from several replicas at once (the migrator takes a database lock).
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Whether every embedded migration is applied (with an unchanged checksum): for
    /// readiness checks.
    async fn migrations_applied(&self) -> Result<bool, StoreError>;

    /// One trivial round trip to the database.
    async fn ping(&self) -> Result<(), StoreError>;

    // --- alert index ---

    /// Records the provider copies seen in a list response and returns, for each distinct
    /// (provider, provider id) among `entries`, the unified id it is indexed under: the
    /// proposed one for a new copy, the stored one for a known copy. Idempotent.
    ///
    /// One statement on PostgreSQL, one transaction on SQLite, whatever the number of
    /// entries. When `entries` repeats a copy, the latest `last_seen` wins.
    async fn index_alerts(
        &self,
        tenant_id: &str,
        entries: &[AlertIndexEntry],
    ) -> Result<HashMap<AlertSource, String>, StoreError>;

    /// Moves provider copies to another unified alert (two alerts shown separately were later
    /// recognised as one detection): upserts each entry with its unified id overwritten. The
    /// only operation that changes an indexed copy's unified id. One transaction.
    async fn reassign_alerts(
        &self,
        tenant_id: &str,
        entries: &[AlertIndexEntry],
    ) -> Result<(), StoreError>;

    /// The alert whose unified id is `id` or, failing that, the alert of which `id` is a
    /// provider's own id. A unified id wins over a provider id. When `id` is the provider id
    /// of copies in several unified alerts, fails with [`StoreError::AmbiguousId`]: ask
    /// again with [`Store::resolve_source`], naming the provider.
    async fn resolve(&self, tenant_id: &str, id: &str)
    -> Result<Option<ResolvedAlert>, StoreError>;

    /// The alert that holds this provider copy.
    async fn resolve_source(
        &self,
        tenant_id: &str,
        source: &AlertSource,
    ) -> Result<Option<ResolvedAlert>, StoreError>;

    /// The provider copies of a unified alert, ordered; empty when unknown.
    async fn sources_of(
        &self,
        tenant_id: &str,
        unified_id: &str,
    ) -> Result<Vec<AlertSource>, StoreError>;

    // --- history and outbox ---

    /// In one transaction: the history entry and one pending outbox row per target, due at
    /// `now`. The alert must be indexed for the tenant and every target must be one of its
    /// sources.
    async fn enqueue_change(
        &self,
        change: &NewChange,
        now: DateTime<Utc>,
    ) -> Result<EnqueuedChange, StoreError>;

    /// Records a history entry with nothing to deliver; returns its id.
    async fn append_history(
        &self,
        tenant_id: &str,
        unified_id: &str,
        entry: &AlertHistoryState,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let change = NewChange {
            tenant_id: tenant_id.to_owned(),
            unified_id: unified_id.to_owned(),
            request_id: None,
            history: entry.clone(),
            targets: Vec::new(),
            expected_changes: None,
        };
        Ok(self.enqueue_change(&change, now).await?.history_id)
    }

    /// The history of an alert, oldest first (newest last): [`Store::histories`] of one.
    async fn history(
        &self,
        tenant_id: &str,
        unified_id: &str,
    ) -> Result<Vec<HistoryRecord>, StoreError> {
        Ok(self
            .histories(tenant_id, &[unified_id.to_owned()])
            .await?
            .remove(unified_id)
            .unwrap_or_default())
    }

    /// The histories of several alerts in one round trip, each oldest first; alerts without
    /// history are absent from the map. What a list page needs (one query, not one per alert).
    async fn histories(
        &self,
        tenant_id: &str,
        unified_ids: &[String],
    ) -> Result<HashMap<String, Vec<HistoryRecord>>, StoreError>;

    /// Claims up to `limit` pending rows that are due at `now`, across tenants, oldest due
    /// first. Each claimed row counts an attempt and is hidden from other claims until
    /// `now + lease`; settle it with the returned token before then. A worker that dies
    /// leaves nothing to clean up: the row is due again when the lease ends.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: TimeDelta,
    ) -> Result<Vec<OutboxClaim>, StoreError>;

    /// Marks a claimed row delivered. `false` when the claim was lost (the row was claimed
    /// again after the lease ended, or settled already).
    async fn mark_delivered(
        &self,
        id: i64,
        token: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Releases a claimed row after a failed attempt, due again at `next_attempt_at`.
    /// `false` when the claim was lost.
    async fn schedule_retry(
        &self,
        id: i64,
        token: Uuid,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives up on a claimed row: it moves to the dead-letter state. `false` when the claim
    /// was lost.
    async fn dead_letter(
        &self,
        id: i64,
        token: Uuid,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// A tenant's outbox rows in one state, oldest first.
    async fn list_outbox(
        &self,
        tenant_id: &str,
        state: OutboxState,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Rows per state across every tenant and the oldest pending row's creation time: one
    /// grouped query, for metrics scrapes (the worker's cross-tenant view, like
    /// [`Store::claim_due`]; no row content is read).
    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError>;

    /// Moves a dead-lettered row of the tenant back to pending, due at `now`, with its
    /// attempts and age reset. `false` when there is no such dead row.
    async fn redrive(
        &self,
        tenant_id: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    // --- cache invalidation ---

    /// Tells every replica (this one included) that cached pages of the tenant are stale.
    async fn notify_invalidation(&self, tenant_id: &str) -> Result<(), StoreError>;

    /// Invalidations from every replica, from now on. A lagging receiver (or, on
    /// PostgreSQL, a listener that had to reconnect) sees [`Invalidation::All`] or a
    /// `Lagged` error: treat both as "drop everything".
    async fn subscribe_invalidations(
        &self,
    ) -> Result<broadcast::Receiver<Invalidation>, StoreError>;
}

/// How many invalidations a slow subscriber may fall behind before it sees `Lagged`.
const INVALIDATION_BUFFER: usize = 1024;

/// Deduplicates index entries by copy (the latest `last_seen` wins) and orders them by
/// copy, so that concurrent batches lock rows in the same order.
fn dedup_entries(entries: &[AlertIndexEntry]) -> Vec<&AlertIndexEntry> {
    let mut latest: HashMap<(&str, &str), &AlertIndexEntry> = HashMap::with_capacity(entries.len());
    for e in entries {
        latest
            .entry((e.provider.as_str(), e.provider_alert_id.as_str()))
            .and_modify(|cur| {
                if e.last_seen > cur.last_seen {
                    *cur = e;
                }
            })
            .or_insert(e);
    }
    let mut out: Vec<&AlertIndexEntry> = latest.into_values().collect();
    out.sort_by(|a, b| {
        (a.provider.as_str(), a.provider_alert_id.as_str())
            .cmp(&(b.provider.as_str(), b.provider_alert_id.as_str()))
    });
    out
}

/// Groups `(unified_id, provider, provider_alert_id)` rows into the answer of `resolve`.
fn pick_resolved(
    id: &str,
    rows: Vec<(String, String, String)>,
) -> Result<Option<ResolvedAlert>, StoreError> {
    let mut groups: Vec<ResolvedAlert> = Vec::new();
    for (unified_id, provider, provider_alert_id) in rows {
        let source = AlertSource {
            provider,
            provider_alert_id,
        };
        match groups.iter_mut().find(|g| g.unified_id == unified_id) {
            Some(g) => g.sources.push(source),
            None => groups.push(ResolvedAlert {
                unified_id,
                sources: vec![source],
            }),
        }
    }
    for g in &mut groups {
        g.sources.sort();
    }
    if let Some(pos) = groups.iter().position(|g| g.unified_id == id) {
        return Ok(Some(groups.swap_remove(pos)));
    }
    match groups.len() {
        0 => Ok(None),
        1 => Ok(groups.pop()),
        _ => {
            let mut unified_ids: Vec<String> = groups.into_iter().map(|g| g.unified_id).collect();
            unified_ids.sort();
            Err(StoreError::AmbiguousId {
                id: id.to_owned(),
                unified_ids,
            })
        }
    }
}

/// Checks a conditional change's expected history length against the recorded one.
fn check_expected_changes(change: &NewChange, recorded: i64) -> Result<(), StoreError> {
    let actual = usize::try_from(recorded).unwrap_or(usize::MAX);
    match change.expected_changes {
        Some(expected) if expected != actual => Err(StoreError::ChangedMeanwhile {
            unified_id: change.unified_id.clone(),
            expected,
            actual,
        }),
        _ => Ok(()),
    }
}

/// Checks a change against the alert's sources before anything is written.
fn check_targets(change: &NewChange, sources: &[AlertSource]) -> Result<(), StoreError> {
    if sources.is_empty() {
        return Err(StoreError::UnknownAlert {
            unified_id: change.unified_id.clone(),
        });
    }
    for t in &change.targets {
        if !sources.contains(&t.source) {
            return Err(StoreError::NotASource {
                unified_id: change.unified_id.clone(),
                provider: t.source.provider.clone(),
                provider_alert_id: t.source.provider_alert_id.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(provider: &str, id: &str, unified: &str, secs: i64) -> AlertIndexEntry {
        AlertIndexEntry {
            unified_id: unified.into(),
            provider: provider.into(),
            provider_alert_id: id.into(),
            fingerprint: None,
            last_seen: DateTime::from_timestamp(secs, 0).unwrap(),
        }
    }

    #[test]
    fn dedup_keeps_the_latest_sighting_and_orders_by_copy() {
        let entries = [
            entry("b", "1", "u-old", 10),
            entry("a", "2", "u2", 10),
            entry("b", "1", "u-new", 20),
            entry("b", "1", "u-older", 5),
        ];
        let out = dedup_entries(&entries);
        let keys: Vec<_> = out
            .iter()
            .map(|e| {
                (
                    e.provider.as_str(),
                    e.provider_alert_id.as_str(),
                    e.unified_id.as_str(),
                )
            })
            .collect();
        assert_eq!(keys, vec![("a", "2", "u2"), ("b", "1", "u-new")]);
    }

    #[test]
    fn a_unified_id_wins_over_a_provider_id() {
        let rows = vec![
            ("x".to_owned(), "p1".to_owned(), "x".to_owned()),
            ("u".to_owned(), "p2".to_owned(), "b".to_owned()),
            ("x".to_owned(), "p0".to_owned(), "a".to_owned()),
        ];
        let got = pick_resolved("x", rows).unwrap().unwrap();
        assert_eq!(got.unified_id, "x");
        assert_eq!(
            got.sources,
            vec![AlertSource::new("p0", "a"), AlertSource::new("p1", "x")]
        );
    }

    #[test]
    fn a_provider_id_of_several_alerts_is_ambiguous() {
        let rows = vec![
            ("u2".to_owned(), "p2".to_owned(), "7".to_owned()),
            ("u1".to_owned(), "p1".to_owned(), "7".to_owned()),
        ];
        match pick_resolved("7", rows) {
            Err(StoreError::AmbiguousId { id, unified_ids }) => {
                assert_eq!(id, "7");
                assert_eq!(unified_ids, vec!["u1".to_owned(), "u2".to_owned()]);
            }
            other => panic!("expected AmbiguousId, got {other:?}"),
        }
        assert_eq!(pick_resolved("7", Vec::new()).unwrap(), None);
    }

    #[test]
    fn redact_hides_credentials() {
        assert_eq!(redact("mysql://u:secret@db/x"), "mysql://…@db/x");
        assert_eq!(redact("oracle:thin"), "oracle:thin");
    }
}
