//! The domain-shaped values the store takes and returns. No SQL types leak out of here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_model::alert::AlertHistoryState;

use crate::StoreError;

/// One provider copy of an alert, as seen in a list response, to be indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertIndexEntry {
    /// The unified id the caller proposes. Used only when this provider copy is new to the
    /// index; once indexed, a copy keeps its unified id (that is what makes ids stable).
    pub unified_id: String,
    /// The provider instance holding the copy (its configured name).
    pub provider: String,
    /// The provider's own id for the copy.
    pub provider_alert_id: String,
    /// The cross-provider fingerprint the merge used, if any.
    pub fingerprint: Option<String>,
    /// When the copy was seen upstream.
    pub last_seen: DateTime<Utc>,
}

/// One provider copy of a unified alert.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertSource {
    pub provider: String,
    pub provider_alert_id: String,
}

impl AlertSource {
    pub fn new(provider: impl Into<String>, provider_alert_id: impl Into<String>) -> Self {
        AlertSource {
            provider: provider.into(),
            provider_alert_id: provider_alert_id.into(),
        }
    }
}

/// A unified alert and every provider copy of it, ordered by (provider, provider id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedAlert {
    pub unified_id: String,
    pub sources: Vec<AlertSource>,
}

/// A change to an alert to record and deliver: one history entry, one outbox row per target.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChange {
    pub tenant_id: String,
    pub unified_id: String,
    /// The caller's request id, if any. A second change with the same id in the same tenant
    /// fails with a unique violation of [`crate::Constraint::HistoryRequest`].
    pub request_id: Option<String>,
    /// The `alertHistoryState` entry: user and app id from the token, time, the change.
    pub history: AlertHistoryState,
    /// The providers to deliver the change to; each must be a source of the alert.
    pub targets: Vec<ChangeTarget>,
    /// How many changes the alert's history must hold for this one to be recorded (the
    /// count an `If-Match` ETag was computed from); `None` records unconditionally. Checked in
    /// the recording transaction, so two processes cannot both pass the same precondition.
    pub expected_changes: Option<usize>,
}

/// One provider to deliver a change to, with what to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeTarget {
    pub source: AlertSource,
    pub payload: serde_json::Value,
}

/// What [`crate::Store::enqueue_change`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnqueuedChange {
    pub history_id: i64,
    /// One outbox row id per target, in the order of [`NewChange::targets`].
    pub outbox_ids: Vec<i64>,
}

/// A recorded history entry.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRecord {
    pub id: i64,
    pub request_id: Option<String>,
    pub entry: AlertHistoryState,
    pub recorded_at: DateTime<Utc>,
}

/// Where an outbox row is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// Waiting for (another) delivery attempt.
    Pending,
    /// Delivered to the provider.
    Delivered,
    /// Given up after the configured age; an operator may re-drive it.
    Dead,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Dead => "dead",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(OutboxState::Pending),
            "delivered" => Ok(OutboxState::Delivered),
            "dead" => Ok(OutboxState::Dead),
            other => Err(StoreError::Corrupt(format!("outbox state {other:?}"))),
        }
    }
}

/// Outbox rows by state across every tenant, and the creation time of the oldest pending
/// row (for metrics: how much is waiting and for how long).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStats {
    pub pending: u64,
    pub delivered: u64,
    pub dead: u64,
    pub oldest_pending_created_at: Option<DateTime<Utc>>,
}

impl OutboxStats {
    /// Adds one `(state, count, oldest created_at)` row of the grouped query.
    pub(crate) fn add(&mut self, state: OutboxState, count: i64, oldest: Option<DateTime<Utc>>) {
        let n = u64::try_from(count).unwrap_or(0);
        match state {
            OutboxState::Pending => {
                self.pending = n;
                self.oldest_pending_created_at = oldest;
            }
            OutboxState::Delivered => self.delivered = n,
            OutboxState::Dead => self.dead = n,
        }
    }
}

/// An outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub id: i64,
    pub tenant_id: String,
    pub history_id: i64,
    pub unified_id: String,
    pub source: AlertSource,
    pub payload: serde_json::Value,
    pub state: OutboxState,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    /// Start of the current delivery effort: the dead-letter age counts from here.
    pub age_from: DateTime<Utc>,
    /// When the row may next be claimed (for a claimed row: when its lease ends).
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A claimed outbox row: deliver it, then settle it with the token
/// ([`crate::Store::mark_delivered`], [`crate::Store::schedule_retry`],
/// [`crate::Store::dead_letter`]) before the lease ends.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxClaim {
    pub entry: OutboxEntry,
    pub token: Uuid,
}

/// A reason to drop cached pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// Something of this tenant changed.
    Tenant(String),
    /// Notifications may have been missed (the listener reconnected): drop everything.
    All,
}
