//! The delivery worker: claims due outbox rows, delivers them, settles them.
//!
//! One loop per process wakes on a poll interval or when a handler recorded a change, and
//! spawns a delivery pass (a few may run at once; claims are exclusive, so they never deliver
//! the same row twice at the same time). A pass claims due rows in batches under a lease and
//! groups them by provider copy; each group is delivered once (its changes folded in history
//! order) under the provider timeout, all groups concurrently. A group waits for an earlier,
//! still pending change to the same copy instead of overtaking it (see the module doc of
//! [`super`]). Outcomes go to the waiting handler through a broadcast and into the row:
//! delivered; a retry at the [`vigil_store::RetryPolicy`]'s time (a provider's `Retry-After`
//! is a floor); or dead-lettered when the change is older than the configured age or the
//! provider's error is permanent (a 4xx other than 401/408/429: retrying the same request
//! cannot help; an operator re-drives it after fixing the cause).
//!
//! Settling can fail after a successful delivery (the lease ran out, the database went away);
//! the row is then claimed again later and delivered again, which is harmless because payloads
//! are desired states that adapters diff.

use super::{ChangePayload, Settled, SourceSync};
use crate::state::AppState;
use chrono::{TimeDelta, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use vigil_model::Timestamp;
use vigil_providers::ProviderErrorKind;
use vigil_store::{Invalidation, NextStep, OutboxClaim, OutboxState, jitter};

/// Passes running at once in one process.
const MAX_PASSES: usize = 4;

/// The worker loop. When `shutdown` is cancelled it starts no new pass and returns once the
/// running passes are done; dropping it (the shutdown deadline) aborts them, and the rows
/// they had claimed are claimed again when their lease ends.
pub async fn run(st: AppState, shutdown: CancellationToken) {
    let poll = Duration::from_millis(st.writeback.config.poll_interval_ms.max(1));
    let mut passes = tokio::task::JoinSet::new();
    tracing::info!(?poll, "write-back worker started");
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = st.writeback.kick.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
        while passes.try_join_next().is_some() {}
        if passes.len() >= MAX_PASSES {
            continue;
        }
        let (st, stop) = (st.clone(), shutdown.clone());
        passes.spawn(async move {
            pass_until(&st, &stop).await;
        });
    }
    if !passes.is_empty() {
        tracing::info!(
            passes = passes.len(),
            "write-back worker finishing its current deliveries"
        );
    }
    while passes.join_next().await.is_some() {}
    tracing::info!("write-back worker stopped");
}

/// Claims and delivers everything due now; returns how many rows it settled or deferred.
pub async fn pass(st: &AppState) -> usize {
    pass_until(st, &CancellationToken::new()).await
}

/// [`pass`], claiming no further batch once `stop` is cancelled (the claimed one is delivered).
async fn pass_until(st: &AppState, stop: &CancellationToken) -> usize {
    let cfg = &st.writeback.config;
    let mut done = 0;
    loop {
        if stop.is_cancelled() {
            return done;
        }
        let claims = match st
            .federation
            .store
            .claim_due(Utc::now(), cfg.batch_size, cfg.lease())
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "outbox claim failed");
                return done;
            }
        };
        let n = claims.len();
        if n == 0 {
            return done;
        }
        let mut groups: BTreeMap<(String, String, String, String), Vec<OutboxClaim>> =
            BTreeMap::new();
        for c in claims {
            let e = &c.entry;
            groups
                .entry((
                    e.tenant_id.to_ascii_lowercase(),
                    e.unified_id.clone(),
                    e.source.provider.clone(),
                    e.source.provider_alert_id.clone(),
                ))
                .or_default()
                .push(c);
        }
        let tenants: BTreeSet<String> = groups.keys().map(|k| k.0.clone()).collect();
        futures::future::join_all(
            groups
                .into_values()
                .map(|mut g| {
                    g.sort_by_key(|c| (c.entry.history_id, c.entry.id));
                    g
                })
                .map(|g| deliver_group(st, g)),
        )
        .await;
        for t in tenants {
            super::invalidate(st, &t).await;
        }
        done += n;
        if n < cfg.batch_size as usize {
            return done;
        }
    }
}

/// Why a group was not delivered this time.
enum Failure {
    /// Try again per the retry policy (with the provider's `Retry-After`, if any).
    Retry(String, Option<TimeDelta>),
    /// Retrying cannot help.
    Permanent(String),
}

/// Delivers the claimed rows of one provider copy (sorted by history id) as one call.
async fn deliver_group(st: &AppState, group: Vec<OutboxClaim>) {
    let Some(first) = group.first() else { return };
    let e0 = first.entry.clone();
    let wb = &st.writeback;
    let store = &st.federation.store;
    let key = format!(
        "{}|{}|{}|{}",
        e0.tenant_id.to_ascii_lowercase(),
        e0.unified_id,
        e0.source.provider,
        e0.source.provider_alert_id
    );
    let _guard = wb.target_locks.lock(key).await;

    // Never overtake an earlier change to the same copy that is still waiting.
    let ids: BTreeSet<i64> = group.iter().map(|c| c.entry.id).collect();
    let first_history = e0.history_id;
    match store
        .list_outbox(&e0.tenant_id, OutboxState::Pending, super::SYNC_SCAN_LIMIT)
        .await
    {
        Ok(pending) => {
            let earlier = pending
                .iter()
                .filter(|r| {
                    r.unified_id == e0.unified_id
                        && r.source == e0.source
                        && r.history_id < first_history
                        && !ids.contains(&r.id)
                })
                .map(|r| r.next_attempt_at)
                .max();
            if let Some(at) = earlier {
                let at = at.max(Utc::now()) + TimeDelta::milliseconds(200);
                let msg = "waiting for an earlier change to this provider to be delivered first";
                for c in &group {
                    let now = Utc::now();
                    let _ = store
                        .schedule_retry(c.entry.id, c.token, at, msg, now)
                        .await;
                    let mut s = SourceSync::of_entry(&c.entry, "pending");
                    s.last_error = Some(msg.into());
                    s.next_attempt_date_time = Some(Timestamp::from_utc(at));
                    wb.publish(Settled {
                        outbox_id: c.entry.id,
                        sync: s,
                    });
                }
                return;
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not check the order of pending changes");
            settle_failed(st, &group, Failure::Retry(e.to_string(), None)).await;
            return;
        }
    }

    let mut folded = ChangePayload::default();
    for c in &group {
        match serde_json::from_value::<ChangePayload>(c.entry.payload.clone()) {
            Ok(p) => folded = folded.then(p),
            Err(err) => {
                settle_failed(
                    st,
                    &group,
                    Failure::Permanent(format!("unreadable outbox payload: {err}")),
                )
                .await;
                return;
            }
        }
    }
    let provider = st
        .federation
        .registry
        .for_tenant(&e0.tenant_id)
        .iter()
        .find(|p| p.info().name == e0.source.provider)
        .cloned();
    let Some(provider) = provider else {
        let msg = format!("provider '{}' is not configured", e0.source.provider);
        settle_failed(st, &group, Failure::Retry(msg, None)).await;
        return;
    };
    let mut change = folded.to_change();
    let timeout = st.federation.timeout;
    let pid = &e0.source.provider_alert_id;
    // Each product wants its own vendorInformation (Graph routes by it, and one Graph
    // connection serves several products). A caller's change names one (any copy's, or the
    // connection's label) and the adapters route by the copy's own, so it goes out at once: a
    // provider that lost the alert answers the update itself with not-found. Only a change
    // that names none (drift reconciliation) reads the copy for it first.
    // Risky-user action rows (crate::identity::actions) share the outbox, dispatched on their
    // payload `kind`; they have no alert copy to read vendorInformation from.
    let identity_action = crate::identity::actions::ActionPayload::latest(&group);
    let named =
        change.vendor_information.provider.is_some() && change.vendor_information.vendor.is_some();
    let copy = match &identity_action {
        Some(_) => Ok(Ok(Some(vigil_model::Alert::default()))),
        None if named => Ok(Ok(Some(vigil_model::Alert::default()))),
        None => tokio::time::timeout(timeout, provider.get_alert(pid)).await,
    };
    match copy {
        Ok(Ok(Some(current))) => {
            if current.vendor_information.provider.is_some() {
                change.vendor_information = current.vendor_information;
            }
        }
        Ok(Ok(None)) => {
            let msg = format!("the provider no longer holds alert '{pid}'");
            settle_failed(st, &group, Failure::Permanent(msg)).await;
            return;
        }
        Ok(Err(err)) => {
            settle_failed(st, &group, classify(&err)).await;
            return;
        }
        Err(_) => {
            let msg = format!("no answer within {timeout:?}");
            settle_failed(st, &group, Failure::Retry(msg, None)).await;
            return;
        }
    }
    let result = tokio::time::timeout(timeout, async {
        match &identity_action {
            Some(a) => a.deliver(provider.as_ref()).await,
            None => provider.update_alert(pid, &change).await,
        }
    })
    .await;
    match result {
        Ok(Ok(())) => {
            // Cached copies predate the change: drop them (moving the write generation) before
            // the rows say `delivered`, so no reader shows `delivered` next to the old value
            // (and takes it for drift in the product's console).
            super::invalidate(st, &e0.tenant_id).await;
            for c in &group {
                let now = Utc::now();
                match store.mark_delivered(c.entry.id, c.token, now).await {
                    Ok(true) => {}
                    Ok(false) => tracing::debug!(id = c.entry.id, "delivered, but claim lost"),
                    Err(e) => tracing::warn!(id = c.entry.id, error = %e, "delivered, mark failed"),
                }
                let mut s = SourceSync::of_entry(&c.entry, "delivered");
                s.last_error = None;
                s.next_attempt_date_time = None;
                wb.publish(Settled {
                    outbox_id: c.entry.id,
                    sync: s,
                });
            }
            tracing::info!(
                provider = %e0.source.provider,
                unified_id = %e0.unified_id,
                rows = group.len(),
                "alert change delivered"
            );
        }
        Ok(Err(err)) => settle_failed(st, &group, classify(&err)).await,
        Err(_) => {
            let msg = format!("no answer within {timeout:?}");
            settle_failed(st, &group, Failure::Retry(msg, None)).await;
        }
    }
}

/// Transient errors and 5xx are retried (a `Retry-After` is kept as the floor); other
/// errors cannot be fixed by sending the same request again.
fn classify(err: &vigil_providers::ProviderError) -> Failure {
    if matches!(err.kind, ProviderErrorKind::NotFound) {
        Failure::Permanent(err.kind.to_string())
    } else if err.is_transient() || matches!(err.kind, ProviderErrorKind::Throttled { .. }) {
        Failure::Retry(
            err.kind.to_string(),
            err.retry_after().and_then(|d| TimeDelta::from_std(d).ok()),
        )
    } else if err.warning_status() >= 500 {
        Failure::Retry(err.kind.to_string(), None)
    } else {
        Failure::Permanent(err.kind.to_string())
    }
}

async fn settle_failed(st: &AppState, group: &[OutboxClaim], f: Failure) {
    let store = &st.federation.store;
    let wb = &st.writeback;
    for c in group {
        let now = Utc::now();
        let (msg, step) = match &f {
            Failure::Retry(msg, retry_after) => (
                msg.clone(),
                wb.policy
                    .after_failure(&c.entry, *retry_after, now, jitter()),
            ),
            Failure::Permanent(msg) => (msg.clone(), NextStep::DeadLetter),
        };
        let mut s;
        match step {
            NextStep::RetryAt(at) => {
                if let Err(e) = store
                    .schedule_retry(c.entry.id, c.token, at, &msg, now)
                    .await
                {
                    tracing::warn!(id = c.entry.id, error = %e, "could not schedule a retry");
                }
                s = SourceSync::of_entry(&c.entry, "pending");
                s.next_attempt_date_time = Some(Timestamp::from_utc(at));
            }
            NextStep::DeadLetter => {
                if let Err(e) = store.dead_letter(c.entry.id, c.token, &msg, now).await {
                    tracing::warn!(id = c.entry.id, error = %e, "could not dead-letter");
                }
                s = SourceSync::of_entry(&c.entry, "failed");
                s.next_attempt_date_time = None;
                tracing::warn!(
                    provider = %c.entry.source.provider,
                    id = c.entry.id,
                    error = %msg,
                    "alert change dead-lettered"
                );
            }
        }
        s.last_error = Some(msg);
        wb.publish(Settled {
            outbox_id: c.entry.id,
            sync: s,
        });
    }
}

/// Drops cached answers when any replica (this one included) wrote; returns when `shutdown`
/// is cancelled. A lagging or reconnected subscription drops everything.
pub async fn listen_invalidations(st: AppState, shutdown: CancellationToken) {
    loop {
        let mut rx = match st.federation.store.subscribe_invalidations().await {
            Ok(rx) => rx,
            Err(e) => {
                tracing::warn!(error = %e, "cannot subscribe to cache invalidations; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                }
            }
        };
        loop {
            let msg = tokio::select! {
                _ = shutdown.cancelled() => return,
                m = rx.recv() => m,
            };
            match msg {
                Ok(Invalidation::Tenant(t)) => st.federation.cache.invalidate_tenant(&t).await,
                Ok(Invalidation::All)
                | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    for t in st.federation.registry.tenants() {
                        st.federation.cache.invalidate_tenant(&t).await;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    }
}
