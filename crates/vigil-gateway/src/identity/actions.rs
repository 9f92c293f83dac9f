//! `confirmCompromised`, `dismiss`, `confirmSafe`: one action, every provider that knows the
//! user, durably.
//!
//! # What Graph does, and what we do differently
//!
//! Graph applies the action in its one directory and answers `204`. Vigil sends it to every
//! identity provider of the tenant that knows the user (and can act: `identity_actions`),
//! through the write-back outbox, with the alert write-back's guarantees ([`crate::writeback`]):
//!
//! 1. Per user id in the body: the user is looked up fresh at every identity provider
//!    ([`super::get_user`]); each provider that returns it is a target, with the id it knows
//!    the user by. A provider that could not be asked (down, timing out) is a target too, with
//!    the id the risk directory knows for it, else the id given: the delivery finds out, and a
//!    provider answering "no such user" settles the row as delivered (nothing to change). An id
//!    no provider knows and none could be asked about is ignored, as Graph ignores it.
//! 2. The user's targets are indexed under the unified id `riskyUser:{object id}` (the alert
//!    index; [`super::USER_KEY_PREFIX`]) and, in one transaction
//!    ([`vigil_store::Store::enqueue_change`]), a history record (the action and the caller's
//!    object id in `comments` as `riskyUserAction:{action}` / `initiatedBy:{oid}`, app id and
//!    UPN from the token) and one outbox row per target, whose payload is an
//!    [`ActionPayload`] (`{"kind":"riskyUserAction","action","userId","unifiedUserId","at"}`).
//! 3. The write-back worker is woken; it claims the rows like alert rows, keeps their order per
//!    provider copy, and delivers them with [`ActionPayload::deliver`] (its dispatch on
//!    `kind`), retrying with backoff and dead-lettering like any other row. The handler waits
//!    for its rows at most the provider timeout plus the write-back answer margin.
//! 4. The answer is Graph's `204` either way: the action is durably accepted. What is still
//!    pending is visible on the user: while any of its rows is pending it shows the action's
//!    effect (state, level, detail, update time) with `isProcessing: true`, and its history
//!    shows the action (initiated by the caller) with `isProcessing: true`. Once every row is
//!    delivered the providers' own state shows, and `isProcessing` is false again. A
//!    dead-lettered row stops the overlay; the providers' state (unchanged where it failed)
//!    shows, and the row is visible to operators in the outbox admin API.
//!
//! Idempotence: an action sets a state; a provider receiving it twice (a lost "delivered"
//! mark) ends in the same state. Graph appends a history item per call, which the history
//! fold absorbs once per action ([`vigil_model::identity_merge::fold_history`]).

use super::{INITIATOR_MARK, get_user, identity_providers, user_key};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use vigil_model::Timestamp;
use vigil_model::alert::AlertHistoryState;
use vigil_model::identity_merge::{RiskAction, RiskSource};
use vigil_providers::{Provider, ProviderError, ProviderErrorKind, RiskyUserAction};
use vigil_store::{
    AlertIndexEntry, AlertSource, ChangeTarget, NewChange, OutboxClaim, OutboxState,
};

/// The `kind` of an outbox payload that is a risky-user action.
pub const PAYLOAD_KIND: &str = "riskyUserAction";

/// Most user ids one action call may name.
pub const MAX_USER_IDS: usize = 1000;

/// A risky-user action as stored in an outbox row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionPayload {
    /// Always [`PAYLOAD_KIND`].
    pub kind: String,
    pub action: RiskAction,
    /// The user's id at the target provider.
    pub user_id: String,
    /// The folded user's id (the store key is `riskyUser:{it}`).
    pub unified_user_id: String,
    /// When the action was accepted.
    pub at: Timestamp,
}

impl ActionPayload {
    /// The payload of a row, if it is a risky-user action.
    pub fn of(v: &Value) -> Option<Self> {
        if v.get("kind").and_then(Value::as_str) != Some(PAYLOAD_KIND) {
            return None;
        }
        serde_json::from_value(v.clone()).ok()
    }

    /// The action of the latest (highest history id) risky-user row of a claimed group.
    pub fn latest(group: &[OutboxClaim]) -> Option<Self> {
        group
            .iter()
            .filter_map(|c| Self::of(&c.entry.payload).map(|p| (c.entry.history_id, p)))
            .max_by_key(|(h, _)| *h)
            .map(|(_, p)| p)
    }

    /// Sends the action to `provider`. A provider that does not know the user has nothing to
    /// change: delivered.
    pub async fn deliver(&self, provider: &dyn Provider) -> Result<(), ProviderError> {
        let action = match self.action {
            RiskAction::ConfirmCompromised => RiskyUserAction::ConfirmCompromised,
            RiskAction::Dismiss => RiskyUserAction::Dismiss,
            RiskAction::ConfirmSafe => RiskyUserAction::ConfirmSafe,
        };
        match provider
            .risky_user_action(action, std::slice::from_ref(&self.user_id))
            .await
        {
            Err(e) if matches!(e.kind, ProviderErrorKind::NotFound) => Ok(()),
            other => other,
        }
    }
}

/// Parses `{"userIds": [...]}`: a non-empty array of non-empty strings (duplicates dropped,
/// case-insensitively). Anything else is a `400` naming the problem.
pub fn parse_body(body: &[u8]) -> Result<Vec<String>, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("Invalid JSON in the request body: {e}")))?;
    let Value::Object(m) = v else {
        return Err(ApiError::BadRequest(
            "The request body must be a JSON object.".into(),
        ));
    };
    let mut ids = None;
    for (k, v) in &m {
        if k.starts_with("@odata.") {
            continue;
        }
        if !k.eq_ignore_ascii_case("userIds") {
            return Err(ApiError::BadRequest(format!(
                "The property '{k}' does not exist on this action; it takes 'userIds'."
            )));
        }
        ids = Some(v);
    }
    let list = match ids {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                ApiError::BadRequest("'userIds' must be an array of non-empty strings.".into())
            })?,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "'userIds' must be an array of non-empty strings.".into(),
            ));
        }
        None => {
            return Err(ApiError::BadRequest(
                "The property 'userIds' is required and must not be empty.".into(),
            ));
        }
    };
    if list.is_empty() {
        return Err(ApiError::BadRequest(
            "The property 'userIds' is required and must not be empty.".into(),
        ));
    }
    if list.len() > MAX_USER_IDS {
        return Err(ApiError::BadRequest(format!(
            "At most {MAX_USER_IDS} userIds may be given in one call."
        )));
    }
    let mut seen = BTreeSet::new();
    Ok(list
        .into_iter()
        .filter(|i| seen.insert(i.to_ascii_lowercase()))
        .collect())
}

fn store_err(e: vigil_store::StoreError) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Records the action for every user (see the module docs) and returns the outbox row ids.
pub async fn submit(
    st: &AppState,
    principal: &Principal,
    action: RiskAction,
    user_ids: &[String],
    request_id: Option<String>,
) -> Result<Vec<i64>, ApiError> {
    let fed = &st.federation;
    let tenant = principal.tenant_id.as_str();
    let actors: Vec<std::sync::Arc<dyn Provider>> = identity_providers(fed, tenant)
        .into_iter()
        .filter(|p| p.capabilities().identity_actions)
        .collect();
    let dir = super::directory(fed, tenant, false).await;
    let now = Utc::now();
    let at = Timestamp::from_utc(now);
    let mut outbox_ids = Vec::new();
    for id in user_ids {
        let (user, outcomes) = get_user(fed, tenant, id).await?;
        let mut targets: Vec<AlertSource> = Vec::new();
        if let Some(u) = &user {
            for s in RiskSource::of(u) {
                if actors.iter().any(|p| p.info().name == s.provider) {
                    targets.push(AlertSource::new(&s.provider, &s.provider_user_id));
                }
            }
        }
        // Providers that could not be asked still get the action (see the module docs).
        let known = dir
            .find(Some(id), None)
            .map(RiskSource::of)
            .unwrap_or_default();
        for o in outcomes.iter().filter(|o| o.failed()) {
            if !actors.iter().any(|p| p.info().name == o.provider)
                || targets.iter().any(|t| t.provider == o.provider)
            {
                continue;
            }
            let pid = known
                .iter()
                .find(|s| s.provider == o.provider)
                .map(|s| s.provider_user_id.clone())
                .unwrap_or_else(|| id.clone());
            targets.push(AlertSource::new(&o.provider, &pid));
        }
        if targets.is_empty() {
            tracing::debug!(
                action = action.as_str(),
                "risky user unknown to every provider; ignored"
            );
            continue;
        }
        let unified_user_id = user.as_ref().map_or_else(|| id.clone(), |u| u.id.clone());
        let proposed = user_key(&unified_user_id);
        let entries: Vec<AlertIndexEntry> = targets
            .iter()
            .map(|t| AlertIndexEntry {
                unified_id: proposed.clone(),
                provider: t.provider.clone(),
                provider_alert_id: t.provider_alert_id.clone(),
                fingerprint: None,
                last_seen: now,
            })
            .collect();
        let known_ids = fed
            .store
            .index_alerts(tenant, &entries)
            .await
            .map_err(store_err)?;
        // A copy indexed earlier under another key keeps it: the user's records stay together.
        let unified = targets
            .iter()
            .find_map(|t| {
                known_ids
                    .get(t)
                    .filter(|u| u.starts_with(super::USER_KEY_PREFIX))
            })
            .cloned()
            .unwrap_or(proposed);
        let moved: Vec<AlertIndexEntry> = entries
            .into_iter()
            .filter(|e| {
                known_ids.get(&AlertSource::new(&e.provider, &e.provider_alert_id))
                    != Some(&unified)
            })
            .map(|mut e| {
                e.unified_id = unified.clone();
                e
            })
            .collect();
        if !moved.is_empty() {
            fed.store
                .reassign_alerts(tenant, &moved)
                .await
                .map_err(store_err)?;
        }
        let change = NewChange {
            tenant_id: tenant.to_string(),
            unified_id: unified,
            // one request acts on several users: each user's change has its own key
            request_id: request_id
                .as_ref()
                .map(|r| format!("{r}/{}", unified_user_id.to_ascii_lowercase())),
            history: AlertHistoryState {
                app_id: principal.app_id.clone(),
                comments: vec![
                    format!("{}{}", super::ACTION_MARK, action.as_str()),
                    format!("{INITIATOR_MARK}{}", principal.subject),
                ],
                updated_date_time: Some(at),
                user: principal
                    .user
                    .clone()
                    .or_else(|| Some(principal.subject.clone())),
                ..AlertHistoryState::default()
            },
            targets: targets
                .iter()
                .map(|t| ChangeTarget {
                    source: t.clone(),
                    payload: serde_json::to_value(ActionPayload {
                        kind: PAYLOAD_KIND.to_string(),
                        action,
                        user_id: t.provider_alert_id.clone(),
                        unified_user_id: unified_user_id.clone(),
                        at,
                    })
                    .unwrap_or(Value::Null),
                })
                .collect(),
            expected_changes: None,
        };
        let enqueued = match fed.store.enqueue_change(&change, now).await {
            Ok(e) => e,
            // the same user twice in one request (ids differing only in case): recorded once
            Err(e) if e.is_unique_violation_of(&vigil_store::Constraint::HistoryRequest) => {
                continue;
            }
            Err(e) => return Err(store_err(e)),
        };
        // A pending action shows in rendered lists (the user-risk join): none may miss it.
        st.federation.cache.rendered.invalidate_all();
        tracing::info!(
            action = action.as_str(),
            targets = targets.len(),
            "risky user action recorded"
        );
        outbox_ids.extend(enqueued.outbox_ids);
    }
    if !outbox_ids.is_empty() {
        st.writeback.wake();
    }
    Ok(outbox_ids)
}

/// Waits until none of `ids` is pending, or `budget` has passed; returns whether all settled.
pub async fn wait_settled(st: &AppState, tenant: &str, ids: &[i64], budget: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + budget;
    loop {
        match st
            .federation
            .store
            .list_outbox(tenant, OutboxState::Pending, super::PENDING_SCAN_LIMIT)
            .await
        {
            Ok(rows) if !rows.iter().any(|r| ids.contains(&r.id)) => return true,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not read the outbox while waiting");
                return false;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked() {
        assert_eq!(
            parse_body(br#"{"userIds":["a","B","b"," c "]}"#).unwrap(),
            vec!["a", "B", "c"]
        );
        for bad in [
            &br#"{}"#[..],
            br#"{"userIds":[]}"#,
            br#"{"userIds":"a"}"#,
            br#"{"userIds":[1]}"#,
            br#"{"userIds":[""]}"#,
            br#"{"userIds":["a"],"extra":1}"#,
            br#"[]"#,
            b"not json",
        ] {
            assert!(
                matches!(parse_body(bad), Err(ApiError::BadRequest(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn payload_is_recognised_by_kind() {
        let p = ActionPayload {
            kind: PAYLOAD_KIND.into(),
            action: RiskAction::Dismiss,
            user_id: "u1".into(),
            unified_user_id: "U1".into(),
            at: Timestamp::now(),
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["kind"], "riskyUserAction");
        assert_eq!(v["action"], "dismiss");
        assert_eq!(ActionPayload::of(&v), Some(p));
        assert_eq!(
            ActionPayload::of(&serde_json::json!({"status":"resolved"})),
            None
        );
    }
}
