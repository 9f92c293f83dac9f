//! Write-back: a change to a unified alert reaches every provider that holds a copy of it,
//! durably.
//!
//! # What Graph does, and what we do differently
//!
//! Graph's `PATCH /security/alerts/{id}` forwards the change to the provider named in the
//! body's `vendorInformation` and answers `204` whether or not that product ever applied it;
//! nothing retries. Vigil stores the change first and delivers it to **every** source of the
//! unified alert:
//!
//! 1. The handler resolves the id (unified or provider id) to the alert's sources, checks the
//!    body (`vendorInformation` must name the vendor and product of one of the sources'
//!    providers), and in **one transaction** ([`vigil_store::Store::enqueue_change`]) records
//!    the `alertHistoryState` entry (user and app id from the token, time, the change) and one
//!    outbox row per target provider holding the change as JSON ([`ChangePayload`]). No
//!    provider has been called at that point.
//! 2. It wakes the delivery worker ([`worker`]) and waits (at most the provider timeout plus a
//!    margin) for the outcome of its rows. The worker is the only code that calls
//!    `Provider::update_alert`: it claims due rows with a lease, delivers each target
//!    concurrently under the provider timeout, and settles each row (delivered, retry with
//!    backoff + jitter honouring `Retry-After`, or dead-lettered past the configured age).
//!    A process killed mid-delivery leaves claimed rows that become due again when their lease
//!    ends; nothing is lost.
//! 3. The answer is honest: `204` (or `200` + the alert under `Prefer: return=representation`)
//!    when every target took the change, else `202 Accepted` with the per-provider sync state.
//!
//! **Which sources, which fields.** Every indexed source whose provider is configured for the
//! tenant gets the change. Every provider receives all updatable fields of the change; an
//! adapter maps what its product supports and ignores the rest (its
//! `Capabilities::writable_fields`, shown by `vigil providers`, lists what it applies).
//!
//! **Idempotence.** A payload is the *desired state* (Graph semantics: `comments` and `tags`
//! are the full lists), and adapters diff it against the product's current state, so a
//! delivery that succeeded but whose "delivered" mark was lost (crash, lease expiry) is
//! delivered again harmlessly: a comment is never appended twice.
//!
//! **Ordering (concurrent PATCHes).** Changes to one provider copy are delivered in the order
//! they were recorded (history id): the worker never delivers a change to a provider while an
//! earlier change to the same copy is still pending and not claimed with it; it defers the
//! later one until the earlier is settled. Rows claimed together for one copy are folded in
//! order (later fields win) and sent as one call. Inside a process deliveries to one copy are
//! additionally serialized by a lock, so once deliveries settle every provider holds the
//! later value. Without `If-Match` the last writer wins (the later recorded change);
//! with `If-Match` a stale ETag gets `412`.
//!
//! **Where the sync state shows.** Each entry of the alert's `vigilSources` extension carries
//! `syncState` (`{"state": "pending"|"delivered"|"failed", "attempts", "lastError",
//! "nextAttemptDateTime", "outboxId"}`) for the copy's latest change; `failed` means
//! dead-lettered (an operator can re-drive it with `POST /vigil/admin/outbox/{id}/retry` or
//! `vigil outbox retry`).
//!
//! **History.** `historyStates` is the providers' own history (if any) followed by Vigil's
//! recorded changes, ordered by `updatedDateTime`, newest last.
//!
//! **ETag.** An alert's ETag is a hash of its id, its updatable fields and the number of
//! changes recorded for it ([`alert_etag`]): any accepted PATCH makes older ETags stale at
//! once, even before slow providers show the change.
//!
//! **Cache coherence.** After a write the tenant's cached provider answers are dropped in this
//! process and, through [`vigil_store::Store::notify_invalidation`], in every other gateway
//! process ([`spawn_background`] runs the listener).
//!
//! **Known limits.** The `If-Match` check and the in-process lock do not span replicas: two
//! replicas accepting PATCHes for one alert at the same instant both record them (the later
//! history id still wins at every provider, because delivery order is enforced through the
//! shared outbox). Re-driving a dead-lettered change re-applies it after newer ones.

pub mod drift;
pub mod worker;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use chrono::{TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use vigil_model::alert::AlertHistoryState;
use vigil_model::enums::GraphEnum;
use vigil_model::merge::VIGIL_SOURCES;
use vigil_model::{Alert, AlertFeedback, AlertStatus, SecurityVendorInformation, Timestamp};
use vigil_providers::AlertChange;
use vigil_store::{
    ChangeTarget, NewChange, OutboxEntry, OutboxState, ResolvedAlert, RetryPolicy, StoreError,
};

/// The properties a PATCH may change (Graph's list).
pub const UPDATABLE: &[&str] = &[
    "assignedTo",
    "closedDateTime",
    "comments",
    "feedback",
    "status",
    "tags",
];

/// How many outbox rows of a tenant are read to find an alert's pending or failed rows.
const SYNC_SCAN_LIMIT: u32 = 1000;

/// Configuration of the delivery worker (`[writeback]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WritebackConfig {
    /// Run the background delivery worker in this process.
    pub worker: bool,
    /// How often the worker looks for due rows when nobody wakes it.
    pub poll_interval_ms: u64,
    /// How long a claimed row stays hidden from other claims.
    pub lease_secs: u64,
    /// Rows claimed per round trip.
    pub batch_size: u32,
    /// Backoff after the first failed attempt.
    pub backoff_base_ms: u64,
    /// Longest backoff.
    pub backoff_max_secs: u64,
    /// A row still undelivered this long after its change was recorded is dead-lettered.
    pub dead_letter_after_secs: u64,
    /// What a PATCH waits for deliveries beyond the provider timeout before answering `202`.
    pub answer_margin_ms: u64,
    /// What to do when a provider's copy drifted from Vigil's last change: `newest-wins`,
    /// `vigil-wins` or `report` (see [`drift`]).
    #[serde(default = "default_drift_policy")]
    pub drift_policy: String,
}

fn default_drift_policy() -> String {
    "newest-wins".into()
}

impl Default for WritebackConfig {
    fn default() -> Self {
        WritebackConfig {
            worker: true,
            poll_interval_ms: 1000,
            lease_secs: 30,
            batch_size: 64,
            backoff_base_ms: 2000,
            backoff_max_secs: 600,
            dead_letter_after_secs: 86_400,
            answer_margin_ms: 500,
            drift_policy: default_drift_policy(),
        }
    }
}

impl WritebackConfig {
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            base: TimeDelta::milliseconds(i64::try_from(self.backoff_base_ms).unwrap_or(2000)),
            max_delay: TimeDelta::seconds(i64::try_from(self.backoff_max_secs).unwrap_or(600)),
            max_age: TimeDelta::seconds(
                i64::try_from(self.dead_letter_after_secs).unwrap_or(86_400),
            ),
        }
    }

    pub fn lease(&self) -> TimeDelta {
        TimeDelta::seconds(i64::try_from(self.lease_secs).unwrap_or(30))
    }

    /// Every mistake, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.poll_interval_ms == 0 {
            p.push("writeback.poll_interval_ms: must be greater than 0".into());
        }
        if self.lease_secs == 0 {
            p.push("writeback.lease_secs: must be greater than 0".into());
        }
        if self.batch_size == 0 {
            p.push("writeback.batch_size: must be greater than 0".into());
        }
        if self.backoff_base_ms == 0 {
            p.push("writeback.backoff_base_ms: must be greater than 0".into());
        }
        if drift::DriftPolicy::parse(&self.drift_policy).is_none() {
            p.push(format!(
                "writeback.drift_policy: '{}' is not one of newest-wins, vigil-wins, report",
                self.drift_policy
            ));
        }
        if self.dead_letter_after_secs == 0 {
            p.push("writeback.dead_letter_after_secs: must be greater than 0".into());
        }
        p
    }
}

/// The change as stored in an outbox row (JSON) and folded by the worker. `None` leaves a
/// field as it is; for `assignedTo` and `closedDateTime`, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangePayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AlertStatus>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub assigned_to: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub closed_date_time: Option<Option<Timestamp>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<AlertFeedback>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub vendor_information: SecurityVendorInformation,
}

/// A present key (even `null`) is `Some`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl ChangePayload {
    /// Applies `later` on top of `self` (later fields win).
    pub fn then(mut self, later: ChangePayload) -> ChangePayload {
        if later.status.is_some() {
            self.status = later.status;
        }
        if later.assigned_to.is_some() {
            self.assigned_to = later.assigned_to;
        }
        if later.closed_date_time.is_some() {
            self.closed_date_time = later.closed_date_time;
        }
        if later.comments.is_some() {
            self.comments = later.comments;
        }
        if later.feedback.is_some() {
            self.feedback = later.feedback;
        }
        if later.tags.is_some() {
            self.tags = later.tags;
        }
        self.vendor_information = later.vendor_information;
        self
    }

    pub fn to_change(&self) -> AlertChange {
        AlertChange {
            status: self.status,
            assigned_to: self.assigned_to.clone(),
            closed_date_time: self.closed_date_time,
            comments: self.comments.clone(),
            feedback: self.feedback,
            tags: self.tags.clone(),
            vendor_information: self.vendor_information.clone(),
        }
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.assigned_to.is_none()
            && self.closed_date_time.is_none()
            && self.comments.is_none()
            && self.feedback.is_none()
            && self.tags.is_none()
    }

    /// The `alertHistoryState` entry recording this change.
    pub fn history_entry(&self, principal: &Principal, at: Timestamp) -> AlertHistoryState {
        AlertHistoryState {
            app_id: principal.app_id.clone(),
            assigned_to: self.assigned_to.clone().flatten(),
            comments: self.comments.clone().unwrap_or_default(),
            feedback: self.feedback,
            status: self.status,
            updated_date_time: Some(at),
            user: principal
                .user
                .clone()
                .or_else(|| Some(principal.subject.clone())),
        }
    }

    /// Applies the change to an alert's representation (for the caller's view of the
    /// expected state).
    pub fn apply_to(&self, a: &mut Alert) {
        if let Some(s) = self.status {
            a.status = s;
        }
        if let Some(v) = &self.assigned_to {
            a.assigned_to = v.clone();
        }
        if let Some(v) = self.closed_date_time {
            a.closed_date_time = v;
        }
        if let Some(v) = &self.comments {
            a.comments = v.clone();
        }
        if let Some(v) = self.feedback {
            a.feedback = Some(v);
        }
        if let Some(v) = &self.tags {
            a.tags = v.clone();
        }
    }
}

/// Parses a Graph PATCH body (or one `updateAlerts` item without its `id`): updatable fields,
/// lenient enum casing and timestamps, `vendorInformation` required, anything else named in a
/// `400`. Property names match case-insensitively (Microsoft's samples are not consistent);
/// `@odata.*` annotations are ignored.
pub fn parse_change(body: &Value, allow_id: Option<&str>) -> Result<ChangePayload, ApiError> {
    let Value::Object(map) = body else {
        return Err(ApiError::BadRequest(
            "The request body must be a JSON object.".into(),
        ));
    };
    let mut out = ChangePayload::default();
    let mut vendor: Option<SecurityVendorInformation> = None;
    let mut rejected: Vec<String> = Vec::new();
    for (key, value) in map {
        if key.starts_with("@odata.") {
            continue;
        }
        let canonical = UPDATABLE
            .iter()
            .chain(["vendorInformation", "id"].iter())
            .find(|k| k.eq_ignore_ascii_case(key))
            .copied();
        match canonical {
            Some("status") => {
                out.status = Some(parse_enum::<AlertStatus>("status", value)?);
            }
            Some("feedback") => {
                out.feedback = Some(parse_enum::<AlertFeedback>("feedback", value)?);
            }
            Some("assignedTo") => {
                out.assigned_to = Some(match value {
                    Value::Null => None,
                    Value::String(s) if s.trim().is_empty() => None,
                    Value::String(s) => Some(s.clone()),
                    _ => return Err(bad_type("assignedTo", "a string or null")),
                });
            }
            Some("closedDateTime") => {
                out.closed_date_time = Some(match value {
                    Value::Null => None,
                    Value::String(s) => Some(Timestamp::parse(s).map_err(|e| {
                        ApiError::BadRequest(format!("Invalid value for 'closedDateTime': {e}"))
                    })?),
                    _ => return Err(bad_type("closedDateTime", "an ISO-8601 string or null")),
                });
            }
            Some(k @ ("comments" | "tags")) => {
                let list = match value {
                    Value::Null => Vec::new(),
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad_type(k, "an array of strings"))?,
                    _ => return Err(bad_type(k, "an array of strings")),
                };
                if k == "comments" {
                    out.comments = Some(list);
                } else {
                    out.tags = Some(list);
                }
            }
            Some("vendorInformation") => {
                let v: SecurityVendorInformation = serde_json::from_value(value.clone())
                    .map_err(|_| bad_type("vendorInformation", "an object"))?;
                vendor = Some(v);
            }
            Some("id") => match (allow_id, value.as_str()) {
                (Some(expected), Some(given)) if given == expected => {}
                _ => rejected.push(key.clone()),
            },
            _ => rejected.push(key.clone()),
        }
    }
    if !rejected.is_empty() {
        rejected.sort();
        return Err(ApiError::BadRequest(format!(
            "These properties cannot be updated: {}. Updatable properties: {}.",
            rejected.join(", "),
            UPDATABLE.join(", ")
        )));
    }
    let vendor = vendor.ok_or_else(|| {
        ApiError::BadRequest(
            "vendorInformation with provider and vendor is required to update an alert.".into(),
        )
    })?;
    let filled = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
    if !filled(&vendor.provider) || !filled(&vendor.vendor) {
        return Err(ApiError::BadRequest(
            "vendorInformation must name both provider and vendor.".into(),
        ));
    }
    out.vendor_information = vendor;
    Ok(out)
}

fn bad_type(key: &str, expected: &str) -> ApiError {
    ApiError::BadRequest(format!("Invalid value for '{key}': expected {expected}."))
}

fn parse_enum<E: GraphEnum + std::fmt::Display>(key: &str, v: &Value) -> Result<E, ApiError> {
    let s = v
        .as_str()
        .ok_or_else(|| bad_type(key, "one of its enum values as a string"))?;
    match E::parse_exact(s) {
        Some(e) if !e.to_string().eq_ignore_ascii_case("unknownFutureValue") => Ok(e),
        _ => Err(ApiError::BadRequest(format!(
            "Invalid value '{s}' for '{key}'. Allowed: {}.",
            E::ALL
                .iter()
                .filter(|e| !e.is_evolvable())
                .map(|e| e.to_string())
                .filter(|e| e != "unknownFutureValue")
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// One provider copy's delivery state for an alert's latest change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceSync {
    pub provider: String,
    pub provider_alert_id: String,
    /// `pending`, `delivered` or `failed` (dead-lettered).
    pub state: &'static str,
    pub attempts: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_date_time: Option<Timestamp>,
    pub outbox_id: Option<i64>,
}

impl SourceSync {
    fn of_entry(e: &OutboxEntry, state: &'static str) -> SourceSync {
        SourceSync {
            provider: e.source.provider.clone(),
            provider_alert_id: e.source.provider_alert_id.clone(),
            state,
            attempts: Some(e.attempts),
            last_error: e.last_error.clone(),
            next_attempt_date_time: (state == "pending")
                .then(|| Timestamp::from_utc(e.next_attempt_at)),
            outbox_id: Some(e.id),
        }
    }
}

/// What the worker reports for each row it settled or deferred.
#[derive(Debug, Clone)]
pub struct Settled {
    pub outbox_id: i64,
    pub sync: SourceSync,
}

/// The write-back machinery shared by handlers and the worker.
pub struct WriteBack {
    pub config: WritebackConfig,
    pub policy: RetryPolicy,
    kick: Notify,
    settled: broadcast::Sender<Settled>,
    alert_locks: KeyedLocks,
    pub(crate) target_locks: KeyedLocks,
}

impl WriteBack {
    pub fn new(config: WritebackConfig) -> Self {
        let (settled, _) = broadcast::channel(4096);
        WriteBack {
            policy: config.retry_policy(),
            config,
            kick: Notify::new(),
            settled,
            alert_locks: KeyedLocks::default(),
            target_locks: KeyedLocks::default(),
        }
    }

    /// Wakes the worker: there is something due.
    pub fn wake(&self) {
        self.kick.notify_one();
    }

    pub(crate) fn publish(&self, s: Settled) {
        let _ = self.settled.send(s);
    }
}

/// Async locks by key, dropped from the map when nobody holds or waits for them.
#[derive(Default)]
pub(crate) struct KeyedLocks {
    map: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

pub(crate) struct KeyedGuard<'a> {
    locks: &'a KeyedLocks,
    key: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    pub(crate) async fn lock(&self, key: String) -> KeyedGuard<'_> {
        let m = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.clone()).or_default().clone()
        };
        let guard = m.lock_owned().await;
        KeyedGuard {
            locks: self,
            key,
            guard: Some(guard),
        }
    }
}

impl Drop for KeyedGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.map.lock().unwrap_or_else(|p| p.into_inner());
        if map
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.key);
        }
    }
}

fn store_err(e: StoreError) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Resolves any id of an alert to its unified id and sources; an id never seen is looked up
/// at the providers (which indexes it). `404` when nobody knows it.
pub async fn resolve(st: &AppState, tenant: &str, id: &str) -> Result<ResolvedAlert, ApiError> {
    let store = &st.federation.store;
    let ambiguous = |_| {
        ApiError::BadRequest(format!(
            "'{id}' is the id of alerts of several providers; use the unified id."
        ))
    };
    let first = match store.resolve(tenant, id).await {
        Ok(r) => r,
        Err(e @ StoreError::AmbiguousId { .. }) => return Err(ambiguous(e)),
        Err(e) => return Err(store_err(e)),
    };
    if let Some(r) = first {
        return Ok(r);
    }
    let (alert, _) = crate::routes::alerts::fetch_one(st, tenant, id).await?;
    let not_found = || ApiError::NotFound(format!("Alert '{id}' was not found."));
    let alert = alert.ok_or_else(not_found)?;
    match store.resolve(tenant, &alert.id).await {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(not_found()),
        Err(e @ StoreError::AmbiguousId { .. }) => Err(ambiguous(e)),
        Err(e) => Err(store_err(e)),
    }
}

/// A recorded change and what became of it by the time the caller is answered.
#[derive(Debug)]
pub struct Submitted {
    pub unified_id: String,
    pub history_id: i64,
    pub sync: Vec<SourceSync>,
}

impl Submitted {
    pub fn all_delivered(&self) -> bool {
        self.sync.iter().all(|s| s.state == "delivered")
    }
}

/// The checks a submission makes before anything is stored.
pub struct Preconditions<'a> {
    /// `If-Match` ETags; `None` when the header is absent.
    pub if_match: Option<Vec<String>>,
    pub principal: &'a Principal,
}

/// Records a change and has it delivered (see the module doc). Returns once every target
/// answered or the wait ran out.
pub async fn submit(
    st: &AppState,
    pre: Preconditions<'_>,
    id: &str,
    payload: ChangePayload,
) -> Result<Submitted, ApiError> {
    let principal = pre.principal;
    let tenant = principal.tenant_id.as_str();
    let resolved = resolve(st, tenant, id).await?;
    let providers = st.federation.registry.for_tenant(tenant);
    let targets: Vec<_> = resolved
        .sources
        .iter()
        .filter(|s| providers.iter().any(|p| p.info().name == s.provider))
        .cloned()
        .collect();
    if targets.is_empty() {
        return Err(ApiError::NotFound(format!(
            "No configured provider holds alert '{id}' any more."
        )));
    }
    check_vendor(st, tenant, &resolved, &payload.vendor_information).await?;

    let wb = &st.writeback;
    let lock_key = format!("{}|{}", tenant.to_ascii_lowercase(), resolved.unified_id);
    let guard = wb.alert_locks.lock(lock_key).await;
    let stale = || {
        ApiError::PreconditionFailed(
            "The alert has changed since the ETag given in If-Match was issued.".into(),
        )
    };
    let mut expected_changes = None;
    if let Some(tags) = &pre.if_match {
        let (current, changes) = current_etag(st, tenant, &resolved.unified_id).await?;
        let ok = tags
            .iter()
            .any(|t| t == "*" || t.trim_start_matches("W/") == current);
        if !ok {
            return Err(stale());
        }
        // The store re-checks the count when it records the change, which closes the window
        // between this check and the write for every process sharing the database.
        expected_changes = Some(changes);
    }
    let json = serde_json::to_value(&payload).map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = Utc::now();
    let change = NewChange {
        tenant_id: tenant.to_string(),
        unified_id: resolved.unified_id.clone(),
        request_id: None,
        history: payload.history_entry(principal, Timestamp::from_utc(now)),
        targets: targets
            .iter()
            .map(|s| ChangeTarget {
                source: s.clone(),
                payload: json.clone(),
            })
            .collect(),
        expected_changes,
    };
    // Subscribe before anything can be delivered, so no outcome is missed.
    let mut rx = wb.settled.subscribe();
    let enqueued = match st.federation.store.enqueue_change(&change, now).await {
        Ok(e) => e,
        Err(StoreError::ChangedMeanwhile { .. }) => return Err(stale()),
        Err(e) => return Err(store_err(e)),
    };
    // History changed: no rendered list may show the alert without it.
    st.federation.cache.rendered.invalidate_all();
    drop(guard);
    tracing::info!(
        unified_id = %resolved.unified_id,
        history_id = enqueued.history_id,
        targets = targets.len(),
        "alert change recorded"
    );
    if wb.config.worker {
        wb.wake();
    } else {
        worker::pass(st).await;
    }

    let mut sync: HashMap<i64, SourceSync> = enqueued
        .outbox_ids
        .iter()
        .zip(&targets)
        .map(|(oid, s)| {
            (
                *oid,
                SourceSync {
                    provider: s.provider.clone(),
                    provider_alert_id: s.provider_alert_id.clone(),
                    state: "pending",
                    attempts: Some(0),
                    last_error: None,
                    next_attempt_date_time: Some(Timestamp::from_utc(now)),
                    outbox_id: Some(*oid),
                },
            )
        })
        .collect();
    let mut answered: std::collections::HashSet<i64> = std::collections::HashSet::new();
    let wait = st.federation.timeout + Duration::from_millis(wb.config.answer_margin_ms);
    let deadline = tokio::time::Instant::now() + wait;
    while answered.len() < sync.len() {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(s)) => {
                if let Some(slot) = sync.get_mut(&s.outbox_id) {
                    *slot = s.sync;
                    answered.insert(s.outbox_id);
                }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => break,
        }
    }
    invalidate(st, tenant).await;
    let mut sync: Vec<SourceSync> = sync.into_values().collect();
    sync.sort_by(|a, b| a.provider.cmp(&b.provider));
    Ok(Submitted {
        unified_id: resolved.unified_id,
        history_id: enqueued.history_id,
        sync,
    })
}

/// `vendorInformation` must name the vendor and product of the alert or of one of its copies
/// (compared case-insensitively): Graph routes by it, and a typo should not silently update
/// something. The configured providers' own names are checked first; the alert is fetched
/// only when they do not match (one Graph connection serves several products).
async fn check_vendor(
    st: &AppState,
    tenant: &str,
    resolved: &ResolvedAlert,
    v: &SecurityVendorInformation,
) -> Result<(), ApiError> {
    let eq = |a: &Option<String>, b: &str| a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(b));
    let providers = st.federation.registry.for_tenant(tenant);
    let mut candidates: Vec<(String, String)> = providers
        .iter()
        .filter(|p| resolved.sources.iter().any(|t| t.provider == p.info().name))
        .map(|p| (p.info().vendor.clone(), p.info().product.clone()))
        .collect();
    let matches = |c: &[(String, String)]| {
        c.iter()
            .any(|(vendor, product)| eq(&v.vendor, vendor) && eq(&v.provider, product))
    };
    if matches(&candidates) {
        return Ok(());
    }
    let (alert, _) = crate::routes::alerts::fetch_one(st, tenant, &resolved.unified_id).await?;
    if let Some(a) = alert {
        let mut pairs = vec![(
            a.vendor_information.vendor.clone().unwrap_or_default(),
            a.vendor_information.provider.clone().unwrap_or_default(),
        )];
        for s in vigil_model::merge::VigilSource::of(&a) {
            pairs.push((s.vendor.unwrap_or_default(), s.product.unwrap_or_default()));
        }
        if matches(&pairs) {
            return Ok(());
        }
        candidates.extend(pairs);
    }
    candidates.sort();
    candidates.dedup();
    Err(ApiError::BadRequest(format!(
        "vendorInformation names no provider of this alert. Use one of: {}.",
        candidates
            .iter()
            .filter(|(v, p)| !v.is_empty() && !p.is_empty())
            .map(|(v, p)| format!("{{\"vendor\":\"{v}\",\"provider\":\"{p}\"}}"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// Drops the tenant's cached provider answers here and tells every other replica.
pub async fn invalidate(st: &AppState, tenant: &str) {
    st.federation.cache.invalidate_tenant(tenant).await;
    if let Err(e) = st.federation.store.notify_invalidation(tenant).await {
        tracing::warn!(error = %e, "could not notify other replicas of a write");
    }
}

/// The ETag of an alert: its id, updatable fields and recorded change count.
pub fn alert_etag(a: &Alert, changes: usize) -> String {
    let state = serde_json::json!([
        a.id,
        a.status,
        a.assigned_to,
        a.closed_date_time,
        a.comments,
        a.feedback,
        a.tags,
        changes
    ]);
    crate::odata::etag_of(state.to_string().as_bytes())
}

/// The current ETag of a unified alert (fetched fresh from its providers), and the number of
/// recorded changes it was computed from.
async fn current_etag(
    st: &AppState,
    tenant: &str,
    unified_id: &str,
) -> Result<(String, usize), ApiError> {
    let (alert, _) = crate::routes::alerts::fetch_one(st, tenant, unified_id).await?;
    let alert =
        alert.ok_or_else(|| ApiError::NotFound(format!("Alert '{unified_id}' was not found.")))?;
    let changes = st
        .federation
        .store
        .history(tenant, unified_id)
        .await
        .map_err(store_err)?
        .len();
    Ok((alert_etag(&alert, changes), changes))
}

/// The sync state of each source of each alert, from the tenant's pending and dead rows.
/// The tenant's open changes: pending outbox rows, and dead ones (`true`).
pub type OpenRows = Vec<(OutboxEntry, bool)>;

/// The tenant's open changes, for [`decorate_with`]. They do not depend on the alerts shown, so
/// a list reads them while its providers are asked.
pub async fn open_rows(st: &AppState, tenant: &str) -> Result<OpenRows, ApiError> {
    let store = &st.federation.store;
    let (pending, dead) = tokio::join!(
        store.list_outbox(tenant, OutboxState::Pending, SYNC_SCAN_LIMIT),
        store.list_outbox(tenant, OutboxState::Dead, SYNC_SCAN_LIMIT)
    );
    let mut rows: Vec<(OutboxEntry, bool)> = pending
        .map_err(store_err)?
        .into_iter()
        .map(|e| (e, false))
        .collect();
    rows.extend(dead.map_err(store_err)?.into_iter().map(|e| (e, true)));
    Ok(rows)
}

/// What [`decorate`] made of the alerts.
#[derive(Debug)]
pub struct Decorated {
    /// Each alert's number of recorded changes, which its ETag is computed from when asked
    /// ([`Decorated::etag`]): a list shows no ETags, and a wide one holds a thousand alerts.
    changes: Vec<usize>,
    /// False when a write or delivery happened since the copies were read (the tenant's write
    /// generation moved): the sync states may then be newer than the copies (`delivered` next
    /// to the value before it), so the caller should read again, and drift was not looked for.
    pub coherent: bool,
}

impl Decorated {
    /// The ETag of `alert`, the `i`-th of the decorated alerts ([`alert_etag`] reads none of
    /// the properties the decoration adds); `None` past the end.
    pub fn etag(&self, i: usize, alert: &Alert) -> Option<String> {
        let changes = self.changes.get(i).copied()?;
        Some(alert_etag(alert, changes))
    }
}

/// Adds Vigil's view to alerts about to be shown: `historyStates` from the store (after the
/// providers' own, newest last) and each `vigilSources` entry's `syncState`. `read_at` is the
/// tenant's write generation ([`crate::fanout::AnswerCache::write_generation`]) taken before
/// the copies were read.
pub async fn decorate(
    st: &AppState,
    tenant: &str,
    alerts: &mut [Alert],
    read_at: u64,
) -> Result<Decorated, ApiError> {
    decorate_with(st, tenant, alerts, read_at, open_rows(st, tenant)).await
}

/// [`decorate`] with the tenant's open changes from `open` ([`open_rows`], read after
/// `read_at` was taken: the coherence check below covers them too), e.g. rows a list read
/// already, while its providers were asked.
pub async fn decorate_with(
    st: &AppState,
    tenant: &str,
    alerts: &mut [Alert],
    read_at: u64,
    open: impl std::future::Future<Output = Result<OpenRows, ApiError>>,
) -> Result<Decorated, ApiError> {
    if alerts.is_empty() {
        return Ok(Decorated {
            changes: Vec::new(),
            coherent: true,
        });
    }
    let store = &st.federation.store;
    // One query for the page's histories, not one per alert (a page over many providers
    // holds up to providers × `$top` alerts).
    let ids: Vec<String> = alerts.iter().map(|a| a.id.clone()).collect();
    let (histories, open) = tokio::join!(store.histories(tenant, &ids), open);
    let histories = histories.map_err(store_err)?;
    let open = open?;
    // Checked after the store reads: a delivery moves the generation before it marks its rows,
    // so a `delivered` read here with the generation unchanged means the copies came after it.
    let coherent = st.federation.cache.write_generation(tenant) == read_at;
    let mut changes = Vec::with_capacity(alerts.len());
    for a in alerts.iter_mut() {
        let h = histories.get(&a.id).cloned().unwrap_or_default();
        changes.push(h.len());
        if h.is_empty() {
            continue;
        }
        let expected = drift::expected_status(&h);
        a.history_states.extend(h.into_iter().map(|r| r.entry));
        a.history_states.sort_by_key(|e| e.updated_date_time);
        let unified = a.id.clone();
        let Some(Value::Array(sources)) = a.additional_data.get_mut(VIGIL_SOURCES) else {
            continue;
        };
        // A copy whose provider did not answer is missing from the fold; while a change to it
        // is open, list it anyway so its sync state shows.
        let mut missing: Vec<(String, String)> = open
            .iter()
            .filter(|(e, _)| e.unified_id == unified)
            .map(|(e, _)| {
                (
                    e.source.provider.clone(),
                    e.source.provider_alert_id.clone(),
                )
            })
            .filter(|(p, id)| {
                !sources.iter().any(|s| {
                    s.get("provider").and_then(Value::as_str) == Some(p.as_str())
                        && s.get("providerAlertId").and_then(Value::as_str) == Some(id.as_str())
                })
            })
            .collect();
        missing.sort();
        missing.dedup();
        for (p, id) in missing {
            sources.push(serde_json::json!({ "provider": p, "providerAlertId": id }));
        }
        for src in sources.iter_mut() {
            let Value::Object(m) = src else { continue };
            let provider = m.get("provider").and_then(Value::as_str).unwrap_or("");
            let pid = m
                .get("providerAlertId")
                .and_then(Value::as_str)
                .unwrap_or("");
            let sync = sync_of(&open, &a.id, provider, pid);
            if let Ok(v) = serde_json::to_value(sync) {
                m.insert("syncState".into(), strip_ids(v));
            }
        }
        // Drift: only when nothing is in flight for the alert, and on copies read after the
        // last delivery (a copy read before it would look drifted, and be "corrected" back).
        let Some(expected) = expected else { continue };
        if !coherent {
            continue;
        }
        if open.iter().any(|(e, _)| e.unified_id == unified) {
            continue;
        }
        let copies: Vec<(String, String, AlertStatus)> = sources
            .iter()
            .filter_map(|s| {
                Some((
                    s.get("provider")?.as_str()?.to_string(),
                    s.get("providerAlertId")?.as_str()?.to_string(),
                    serde_json::from_value(s.get("status")?.clone()).ok()?,
                ))
            })
            .collect();
        let drifts = drift::detect(expected, &copies);
        if drifts.is_empty() {
            continue;
        }
        for src in sources.iter_mut() {
            let Value::Object(m) = src else { continue };
            let hit = drifts.iter().find(|d| {
                m.get("provider").and_then(Value::as_str) == Some(d.provider.as_str())
                    && m.get("providerAlertId").and_then(Value::as_str)
                        == Some(d.provider_alert_id.as_str())
            });
            if let Some(d) = hit {
                m.insert(
                    "drift".into(),
                    serde_json::json!({"field": d.field, "expected": d.expected, "actual": d.actual}),
                );
            }
        }
        a.additional_data.insert(
            "vigilDrift".into(),
            serde_json::to_value(&drifts).unwrap_or(Value::Null),
        );
        if let Err(e) = drift::act(st, tenant, &unified, &copies, &drifts).await {
            tracing::warn!(unified_id = %unified, error = %e, "drift policy could not be applied");
        }
    }
    Ok(Decorated { changes, coherent })
}

/// The source's state for the alert's latest change: its newest open row (pending or dead),
/// else delivered.
fn sync_of(open: &[(OutboxEntry, bool)], unified: &str, provider: &str, pid: &str) -> SourceSync {
    let newest = open
        .iter()
        .filter(|(e, _)| {
            e.unified_id == unified
                && e.source.provider == provider
                && e.source.provider_alert_id == pid
        })
        .max_by_key(|(e, _)| e.history_id);
    match newest {
        Some((e, true)) => SourceSync::of_entry(e, "failed"),
        Some((e, false)) => SourceSync::of_entry(e, "pending"),
        None => SourceSync {
            provider: provider.to_string(),
            provider_alert_id: pid.to_string(),
            state: "delivered",
            attempts: None,
            last_error: None,
            next_attempt_date_time: None,
            outbox_id: None,
        },
    }
}

/// Inside a `vigilSources` entry the provider and id are already there.
fn strip_ids(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.remove("provider");
        m.remove("providerAlertId");
    }
    v
}

/// The `202 Accepted` body: where each provider stands.
pub fn accepted_body(s: &Submitted) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), Value::String(s.unified_id.clone()));
    m.insert(
        "vigilSync".into(),
        serde_json::to_value(&s.sync).unwrap_or(Value::Null),
    );
    Value::Object(m)
}

/// Starts the delivery worker (when configured) and the cache-invalidation listener; both stop
/// when `shutdown` is cancelled.
///
/// Returns the tasks, which end after `shutdown` is cancelled (the worker once its current
/// deliveries are done).
pub fn spawn_background(
    st: &AppState,
    shutdown: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    if st.writeback.config.worker {
        tasks.push(tokio::spawn(worker::run(st.clone(), shutdown.clone())));
    }
    tasks.push(tokio::spawn(worker::listen_invalidations(
        st.clone(),
        shutdown.clone(),
    )));
    tasks
}

/// Parses `If-Match` into its entity tags.
pub fn if_match(headers: &axum::http::HeaderMap) -> Option<Vec<String>> {
    let values: Vec<String> = headers
        .get_all(axum::http::header::IF_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    (!values.is_empty()).then_some(values)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vendor() -> Value {
        json!({"provider": "Falcon", "vendor": "CrowdStrike"})
    }

    #[test]
    fn lenient_enums_and_timestamps() {
        for ts in [
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:00:00+00:00",
            "2024-05-01T10:00:00.123456",
        ] {
            let p = parse_change(
                &json!({"Status": "InProgress", "feedback": "TRUEPOSITIVE",
                        "closedDateTime": ts, "vendorInformation": vendor()}),
                None,
            )
            .unwrap();
            assert_eq!(p.status, Some(AlertStatus::InProgress));
            assert_eq!(p.feedback, Some(AlertFeedback::TruePositive));
            let t = p.closed_date_time.unwrap().unwrap();
            assert_eq!(t.to_wire()[..19], *"2024-05-01T10:00:00");
        }
    }

    #[test]
    fn vendor_information_is_required() {
        let e = parse_change(&json!({"status": "resolved"}), None).unwrap_err();
        assert!(e.to_string().contains("vendorInformation"), "{e}");
        let e = parse_change(
            &json!({"status": "resolved", "vendorInformation": {"provider": "x"}}),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("vendor"), "{e}");
    }

    #[test]
    fn read_only_and_unknown_properties_are_named() {
        let e = parse_change(
            &json!({"severity": "high", "title": "x", "status": "resolved",
                    "vendorInformation": vendor()}),
            None,
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("severity") && msg.contains("title"), "{msg}");
        assert!(matches!(e, ApiError::BadRequest(_)));
    }

    #[test]
    fn bad_values_are_400() {
        for body in [
            json!({"status": "closedForever", "vendorInformation": vendor()}),
            json!({"status": 3, "vendorInformation": vendor()}),
            json!({"tags": "HVA", "vendorInformation": vendor()}),
            json!({"closedDateTime": "yesterday", "vendorInformation": vendor()}),
            json!(["status"]),
        ] {
            assert!(matches!(
                parse_change(&body, None),
                Err(ApiError::BadRequest(_))
            ));
        }
    }

    #[test]
    fn payload_round_trips_and_folds_in_order() {
        let a = parse_change(
            &json!({"status": "resolved", "assignedTo": "a@x", "comments": ["one"],
                    "vendorInformation": vendor()}),
            None,
        )
        .unwrap();
        let b = parse_change(
            &json!({"status": "inProgress", "assignedTo": null, "vendorInformation": vendor()}),
            None,
        )
        .unwrap();
        let back: ChangePayload =
            serde_json::from_value(serde_json::to_value(&b).unwrap()).unwrap();
        assert_eq!(back, b);
        assert_eq!(back.assigned_to, Some(None));
        let folded = a.then(b);
        assert_eq!(folded.status, Some(AlertStatus::InProgress));
        assert_eq!(folded.assigned_to, Some(None));
        assert_eq!(folded.comments, Some(vec!["one".to_string()]));
    }

    #[tokio::test]
    async fn keyed_locks_serialize_and_clean_up() {
        let locks = KeyedLocks::default();
        {
            let _a = locks.lock("k".into()).await;
            let second = tokio::time::timeout(Duration::from_millis(50), locks.lock("k".into()));
            assert!(second.await.is_err(), "a held key must block");
            let _other = locks.lock("j".into()).await;
        }
        assert!(locks.map.lock().unwrap().is_empty());
    }
}
