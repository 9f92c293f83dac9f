//! Drift: a provider reports a state that differs from the last change Vigil synced to it
//! (someone changed the alert in that product's own console).
//!
//! Detection runs where Vigil sees providers' current state anyway, when an alert is shown
//! (GET and list, through [`super::decorate`]), and only for alerts Vigil has changed, with no
//! change in flight (an open outbox row means the providers are still catching up, not
//! drifting). It compares each copy's `status` with the status of the newest recorded change
//! that set one. Only `status` is compared: it is the field every adapter maps both ways
//! (assignees, comments and feedback are mapped lossily by some products, and would show
//! drift that is not there); `resolved` and `dismissed` count as the same, because products
//! with a single "closed" state read one back as the other.
//!
//! The alert shows it: the drifted copy's `vigilSources` entry carries `drift`
//! (`{"field","expected","actual"}`) and the alert carries `vigilDrift` (the list).
//! `writeback.drift_policy` decides what happens:
//! - `newest-wins` (default): the console change is newer than Vigil's last change (Vigil's was
//!   delivered before it), so it is recorded as a new change (history user `vigil-drift`, app
//!   id `vigil`) and propagated to every copy. When copies drifted to different values, the
//!   first by provider name wins (documented tie-break; nothing better is known).
//! - `vigil-wins`: Vigil's last change is re-applied to the drifted copies only.
//! - `report`: shown, nothing sent.

use super::{ChangePayload, store_err};
use crate::error::ApiError;
use crate::state::AppState;
use chrono::Utc;
use serde::Serialize;
use vigil_model::alert::AlertHistoryState;
use vigil_model::{AlertStatus, SecurityVendorInformation, Timestamp};
use vigil_store::{AlertSource, ChangeTarget, HistoryRecord, NewChange};

/// The configured reaction to drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftPolicy {
    NewestWins,
    VigilWins,
    Report,
}

impl DriftPolicy {
    pub fn parse(s: &str) -> Option<DriftPolicy> {
        match s {
            "newest-wins" => Some(DriftPolicy::NewestWins),
            "vigil-wins" => Some(DriftPolicy::VigilWins),
            "report" => Some(DriftPolicy::Report),
            _ => None,
        }
    }
}

/// One copy whose state differs from Vigil's last change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    pub provider: String,
    pub provider_alert_id: String,
    pub field: &'static str,
    pub expected: AlertStatus,
    pub actual: AlertStatus,
}

/// The status Vigil last set, from the history (oldest first).
pub fn expected_status(history: &[HistoryRecord]) -> Option<AlertStatus> {
    history.iter().rev().find_map(|r| r.entry.status)
}

/// Whether two statuses are the same as far as every product can tell. Products with one
/// "closed" state (Falcon, OCSF) read `dismissed` back as `resolved`: that is not drift.
fn same(a: AlertStatus, b: AlertStatus) -> bool {
    let closed = |s| matches!(s, AlertStatus::Resolved | AlertStatus::Dismissed);
    a == b || (closed(a) && closed(b))
}

/// Copies (provider, provider id, status) whose status differs from `expected`.
pub fn detect(expected: AlertStatus, copies: &[(String, String, AlertStatus)]) -> Vec<Drift> {
    copies
        .iter()
        .filter(|(_, _, s)| {
            !same(*s, expected)
                && !matches!(s, AlertStatus::Unknown | AlertStatus::UnknownFutureValue)
        })
        .map(|(p, id, s)| Drift {
            provider: p.clone(),
            provider_alert_id: id.clone(),
            field: "status",
            expected,
            actual: *s,
        })
        .collect()
}

/// Applies the policy: records and queues the change it calls for (the worker delivers it).
pub async fn act(
    st: &AppState,
    tenant: &str,
    unified_id: &str,
    copies: &[(String, String, AlertStatus)],
    drifts: &[Drift],
) -> Result<(), ApiError> {
    let policy =
        DriftPolicy::parse(&st.writeback.config.drift_policy).unwrap_or(DriftPolicy::NewestWins);
    let Some(first) = drifts.iter().min_by(|a, b| a.provider.cmp(&b.provider)) else {
        return Ok(());
    };
    let (status, targets): (AlertStatus, Vec<AlertSource>) = match policy {
        DriftPolicy::Report => return Ok(()),
        DriftPolicy::NewestWins => (
            first.actual,
            copies
                .iter()
                .filter(|(_, _, s)| *s != first.actual)
                .map(|(p, id, _)| AlertSource::new(p, id))
                .collect(),
        ),
        DriftPolicy::VigilWins => (
            first.expected,
            drifts
                .iter()
                .map(|d| AlertSource::new(&d.provider, &d.provider_alert_id))
                .collect(),
        ),
    };
    if targets.is_empty() {
        return Ok(());
    }
    let payload = ChangePayload {
        status: Some(status),
        vendor_information: SecurityVendorInformation::default(),
        ..ChangePayload::default()
    };
    let json = serde_json::to_value(&payload).map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = Utc::now();
    let change = NewChange {
        tenant_id: tenant.to_string(),
        unified_id: unified_id.to_string(),
        request_id: None,
        history: AlertHistoryState {
            app_id: Some("vigil".into()),
            status: Some(status),
            updated_date_time: Some(Timestamp::from_utc(now)),
            user: Some("vigil-drift".into()),
            ..AlertHistoryState::default()
        },
        targets: targets
            .into_iter()
            .map(|source| ChangeTarget {
                source,
                payload: json.clone(),
            })
            .collect(),
        expected_changes: None,
    };
    st.federation
        .store
        .enqueue_change(&change, now)
        .await
        .map_err(store_err)?;
    st.federation.cache.rendered.invalidate_all();
    tracing::info!(
        unified_id,
        provider = %first.provider,
        ?policy,
        "drift detected; change queued"
    );
    st.writeback.wake();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_differences_are_drift() {
        let copies = vec![
            ("a".to_string(), "1".to_string(), AlertStatus::Resolved),
            ("b".to_string(), "2".to_string(), AlertStatus::InProgress),
            ("c".to_string(), "3".to_string(), AlertStatus::Unknown),
        ];
        let d = detect(AlertStatus::Resolved, &copies);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].provider, "b");
        assert_eq!(d[0].actual, AlertStatus::InProgress);
        assert!(detect(AlertStatus::InProgress, &copies[1..2]).is_empty());
        assert!(detect(AlertStatus::Dismissed, &copies[0..1]).is_empty());
        assert_eq!(
            DriftPolicy::parse("newest-wins"),
            Some(DriftPolicy::NewestWins)
        );
        assert_eq!(DriftPolicy::parse("whatever"), None);
    }
}
