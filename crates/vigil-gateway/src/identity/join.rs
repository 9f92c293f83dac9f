//! Identity joins alerts: each `userStates` entry of an alert carries the user's current,
//! federated risk, and alerts can be asked for by the risk of the users they involve.
//!
//! # Where the risk goes
//!
//! Graph's `userSecurityState` has a `riskScore` string ("0-1") that no identity-risk source
//! fills consistently, and overloading it would break clients that parse it. Vigil adds an
//! undeclared property to each `userStates` entry instead (Graph's complex types are not open,
//! but every Graph client we target keeps unknown properties: kiota puts them in
//! `additional_data`):
//!
//! ```json
//! "userStates": [{ "userPrincipalName": "kim@contoso.com", ...,
//!   "vigilUserRisk": { "id": "<object id>", "riskLevel": "high", "riskState": "atRisk",
//!                      "riskDetail": "none", "riskLastUpdatedDateTime": "...",
//!                      "isProcessing": false } }]
//! ```
//!
//! `vigilUserRisk` is the folded risky user of [`super`] (same object id as `aadUserId`, else
//! same UPN as `userPrincipalName`), with pending actions shown, or `null` when no identity
//! provider knows the user as risky. Evolvable members are hidden like everywhere else unless
//! the caller sends `Prefer: include-unknown-enum-members`. The values come from the tenant's
//! risk directory (cached for the cache TTL, dropped after any write), so an alert page costs
//! no identity call while the directory is fresh. When no identity provider answers, entries
//! carry no `vigilUserRisk` at all (unknown, not "not risky").
//!
//! # Asking for alerts by user risk
//!
//! The query option `vigilUserRiskAtLeast={low|medium|high|hidden|none}` (no `$`: OData
//! reserves `$` names, and Graph clients pass unknown plain options through) keeps only alerts
//! with at least one user whose folded `riskLevel` is at or above the level, in the order
//! `none` < `unknownFutureValue` < `hidden` < `low` < `medium` < `high`. It applies to the
//! page after the federated walk (like a `$filter` the providers cannot evaluate), so a page
//! may hold fewer alerts than `$top` per provider, and the `nextLink` keeps the option.
//! `$count` and `@odata.count` take it too ([`count_at_least`]): they count the alerts a full
//! walk of the list with the same `$filter` and option returns.
//!
//! # Where the join is made
//!
//! [`annotate`] serves the alert list, `GET /security/alerts/{id}` and the `200` answer of
//! `PATCH` with `Prefer: return=representation`, so the three show the same `userStates`.

use super::{Pending, RiskDirectory, directory, identity_providers};
use crate::error::ApiError;
use crate::state::AppState;
use axum::http::HeaderMap;
use bytes::Bytes;
use serde_json::Value;
use sha2::Digest;
use std::collections::HashMap;
use std::sync::Arc;
use vigil_model::identity_merge::{level_at_least, parse_level, user_risk_value};
use vigil_model::query::{Projection, Select};
use vigil_model::{Alert, GraphEnum, HideEvolvable, RiskLevel, RiskyUser};

/// The property added to each `userStates` entry.
pub const USER_RISK_KEY: &str = "vigilUserRisk";

/// The query option selecting alerts by the risk of their users.
pub const RISK_FLOOR_OPTION: &str = "vigilUserRiskAtLeast";

/// The level asked for with [`RISK_FLOOR_OPTION`], if any.
pub fn risk_floor(pairs: &[(String, String)]) -> Result<Option<RiskLevel>, ApiError> {
    let mut found = None;
    for (k, v) in pairs {
        if !k.eq_ignore_ascii_case(RISK_FLOOR_OPTION) {
            continue;
        }
        if found.is_some() {
            return Err(ApiError::BadRequest(format!(
                "Query option '{RISK_FLOOR_OPTION}' was given more than once."
            )));
        }
        let level = parse_level(v)
            .filter(|l| *l != RiskLevel::UnknownFutureValue)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Invalid value '{v}' for '{RISK_FLOOR_OPTION}'. Allowed: none, hidden, low, medium, high."
                ))
            })?;
        found = Some(level);
    }
    Ok(found)
}

/// Query options as `(name, value)` pairs.
pub type QueryPairs = Vec<(String, String)>;

/// The level asked for with [`RISK_FLOOR_OPTION`] and the other options (for routes that
/// check which OData options they take, as `$count` does).
pub fn take_risk_floor(pairs: QueryPairs) -> Result<(Option<RiskLevel>, QueryPairs), ApiError> {
    let floor = risk_floor(&pairs)?;
    let rest = pairs
        .into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(RISK_FLOOR_OPTION))
        .collect();
    Ok((floor, rest))
}

/// Serializes alerts for a caller: user risk joined into `userStates`, alerts below the risk
/// floor dropped, then `$select` applied.
pub async fn render_alerts(
    st: &AppState,
    tenant: &str,
    alerts: Vec<Alert>,
    select: Option<&Select>,
    floor: Option<RiskLevel>,
    include_evolvable: bool,
    bypass: bool,
) -> Vec<Value> {
    render_alerts_with_directory(
        st,
        tenant,
        alerts,
        select,
        floor,
        include_evolvable,
        bypass,
        None,
    )
    .await
    .0
}

/// [`render_alerts`], also naming the risk directory joined in (what a rendered answer
/// depends on, [`crate::rendered`]): `Err(())` when it was partial (not cached). `prefetched`:
/// the directory, when the caller read it already (concurrently with the alerts).
#[allow(clippy::too_many_arguments)]
pub async fn render_alerts_with_directory(
    st: &AppState,
    tenant: &str,
    alerts: Vec<Alert>,
    select: Option<&Select>,
    floor: Option<RiskLevel>,
    include_evolvable: bool,
    bypass: bool,
    prefetched: Option<Arc<RiskDirectory>>,
) -> (Vec<Value>, Result<Option<Arc<RiskDirectory>>, ()>) {
    // Only what the answer shows (and the floor reads) is serialized: `$select=id,title` over
    // a thousand alerts must not build a thousand whole alerts' JSON first.
    let projection = match select {
        Some(sel) if floor.is_some() => sel.projection().union(&Projection::of(&["userStates"])),
        Some(sel) => sel.projection(),
        None => Projection::whole(),
    };
    let mut values: Vec<Value> = alerts
        .iter()
        .map(|a| projection.apply(a))
        .filter(|v| !v.is_null())
        .collect();
    let used = annotate_with(
        st,
        tenant,
        &mut values,
        include_evolvable,
        bypass,
        prefetched,
    )
    .await;
    if let Some(floor) = floor {
        values.retain(|v| alert_at_least(v, floor));
    }
    if let Some(sel) = select {
        for v in &mut values {
            sel.apply(v);
        }
    }
    (values, used)
}

/// Adds `vigilUserRisk` to every `userStates` entry of a serialized alert.
fn join_user_risk(v: &mut Value, dir: &RiskDirectory, pending: &Pending, include_evolvable: bool) {
    let Some(states) = v.get_mut("userStates").and_then(Value::as_array_mut) else {
        return;
    };
    for s in states.iter_mut().filter_map(Value::as_object_mut) {
        let id = s.get("aadUserId").and_then(Value::as_str);
        let upn = s.get("userPrincipalName").and_then(Value::as_str);
        let risk = dir
            .find(id, upn)
            .map(|u| risk_value(u, pending, include_evolvable));
        s.insert(USER_RISK_KEY.into(), risk.unwrap_or(Value::Null));
    }
}

/// A risky user's `vigilUserRisk`: pending actions shown, evolvable members as asked.
fn risk_value(u: &RiskyUser, pending: &Pending, include_evolvable: bool) -> Value {
    let mut u = u.clone();
    pending.overlay(&mut u);
    if !include_evolvable {
        u.hide_evolvable_members();
    }
    user_risk_value(&u)
}

/// The alerts of a list as a JSON array after `prefix`, user risk joined in, and the digest of
/// the array (see [`WrittenArray`]): no `serde_json::Value` in between (the risk goes into each
/// typed user state's `vigil_user_risk`), and the blocks are written on every core at once.
pub async fn render_alerts_json(
    st: &AppState,
    tenant: &str,
    alerts: Vec<Alert>,
    include_evolvable: bool,
    bypass: bool,
    prefetched: Prefetched,
    prefix: &[u8],
) -> (
    Result<WrittenArray, RenderError>,
    Result<Option<Arc<RiskDirectory>>, ()>,
) {
    let involves_users = alerts.iter().any(|a| !a.user_states.is_empty());
    let (join, used) = risk_to_join(
        st,
        tenant,
        involves_users,
        bypass,
        prefetched.directory,
        prefetched.pending,
    )
    .await;
    let joiner = join.map(|(dir, pending)| {
        Arc::new(Joiner {
            dir,
            pending,
            include_evolvable,
        })
    });
    (write_alert_array(prefix, alerts, joiner).await, used)
}

/// What a list read while its providers were asked: the risk directory and the pending identity
/// actions of the user-risk join (each read here when `None`).
pub struct Prefetched {
    pub directory: Option<Arc<RiskDirectory>>,
    pub pending: Option<Pending>,
}

/// Alerts per block: a block is serialized on a task of its own, and is the unit of the
/// array's digest, so the digest (and a list's ETag) does not depend on how many cores wrote it.
const BLOCK: usize = 16;

/// A written alert array.
pub struct WrittenArray {
    /// The prefix, then `[alert,alert,...]`, in one part per block (sent as they are: the
    /// array is never copied into one buffer).
    pub parts: Vec<Bytes>,
    /// SHA-256 over the SHA-256 of each block's bytes, in order: hashed by the tasks that wrote
    /// the blocks, while the bytes are still in their cache.
    pub digest: [u8; 32],
}

/// A block's task did not finish (only a panic in serialization does that): the list is not
/// answered rather than answered without those alerts.
#[derive(Debug, thiserror::Error)]
#[error("a block of alerts was not serialized: {0}")]
pub struct RenderError(String);

/// `prefix[alert,alert,...]`, written in blocks of [`BLOCK`] alerts: every block but the first
/// on its own task, the first on the caller's meanwhile.
async fn write_alert_array(
    prefix: &[u8],
    alerts: Vec<Alert>,
    joiner: Option<Arc<Joiner>>,
) -> Result<WrittenArray, RenderError> {
    let mut rest = alerts.into_iter();
    let first: Vec<Alert> = rest.by_ref().take(BLOCK).collect();
    let mut spawned = Vec::with_capacity(rest.len().div_ceil(BLOCK));
    loop {
        let block: Vec<Alert> = rest.by_ref().take(BLOCK).collect();
        if block.is_empty() {
            break;
        }
        let joiner = joiner.clone();
        spawned.push(tokio::spawn(async move {
            // Room for the comma that joins it to what comes before.
            let mut bytes = Vec::with_capacity(block.len().saturating_mul(4096) + 1);
            bytes.push(b',');
            write_alerts(&mut bytes, block, joiner.as_deref());
            let digest: [u8; 32] = sha2::Sha256::digest(&bytes[1..]).into();
            (bytes, digest)
        }));
    }
    let mut out = Vec::with_capacity(prefix.len() + 1 + first.len().saturating_mul(4096));
    out.extend_from_slice(prefix);
    out.push(b'[');
    let first_at = out.len();
    write_alerts(&mut out, first, joiner.as_deref());
    let mut digests = sha2::Sha256::new();
    digests.update(sha2::Sha256::digest(&out[first_at..]));
    let mut written_any = out.len() > first_at;
    let mut parts = Vec::with_capacity(spawned.len() + 2);
    parts.push(Bytes::from(out));
    for task in spawned {
        let (mut bytes, digest) = task.await.map_err(|e| RenderError(e.to_string()))?;
        digests.update(digest);
        if bytes.len() == 1 {
            continue; // none of its alerts could be serialized
        }
        if !written_any {
            bytes.remove(0);
        }
        written_any = true;
        parts.push(Bytes::from(bytes));
    }
    parts.push(Bytes::from_static(b"]"));
    Ok(WrittenArray {
        parts,
        digest: digests.finalize().into(),
    })
}

/// The user-risk join of one list: the tenant's directory and pending actions.
struct Joiner {
    dir: Arc<RiskDirectory>,
    pending: Pending,
    include_evolvable: bool,
}

/// Appends alerts to `out` as comma-separated JSON objects (no brackets), user risk joined in
/// when `joiner`.
fn write_alerts(out: &mut Vec<u8>, alerts: Vec<Alert>, joiner: Option<&Joiner>) {
    let start = out.len();
    // Each risky user's `vigilUserRisk`, built once per chunk (keyed by the directory entry).
    let mut risks: HashMap<*const RiskyUser, Value> = HashMap::new();
    for mut a in alerts {
        if let Some(j) = joiner {
            for s in &mut a.user_states {
                let user = j
                    .dir
                    .find(s.aad_user_id.as_deref(), s.user_principal_name.as_deref());
                s.vigil_user_risk = Some(match user {
                    Some(u) => risks
                        .entry(std::ptr::from_ref(u))
                        .or_insert_with(|| risk_value(u, &j.pending, j.include_evolvable))
                        .clone(),
                    None => Value::Null,
                });
            }
        }
        let mark = out.len();
        if mark > start {
            out.push(b',');
        }
        if serde_json::to_writer(&mut *out, &a).is_err() {
            // As the Value path: an alert that cannot be serialized is left out.
            out.truncate(mark);
        }
    }
}

/// How many of `alerts` involve a user at or above `floor` (the `vigilUserRiskAtLeast` test of
/// the list, for `$count` and `@odata.count`).
pub async fn count_at_least(
    st: &AppState,
    tenant: &str,
    alerts: &[Alert],
    floor: RiskLevel,
) -> usize {
    let users = Projection::of(&["userStates"]);
    let mut values: Vec<Value> = alerts.iter().map(|a| users.apply(a)).collect();
    annotate(st, tenant, &mut values, true, false).await;
    values.iter().filter(|v| alert_at_least(v, floor)).count()
}

/// [`annotate`] for one alert answered to a caller (evolvable members as its `Prefer` asks).
pub async fn annotate_one(st: &AppState, tenant: &str, headers: &HeaderMap, alert: &mut Value) {
    let include = crate::routes::identity::include_evolvable(headers);
    annotate(st, tenant, std::slice::from_mut(alert), include, false).await;
}

/// Joins each serialized alert's users' risk into its `userStates` entries (`vigilUserRisk`):
/// used by the list, the get and the `PATCH` representation alike.
pub async fn annotate(
    st: &AppState,
    tenant: &str,
    values: &mut [Value],
    include_evolvable: bool,
    bypass: bool,
) {
    let _ = annotate_with(st, tenant, values, include_evolvable, bypass, None).await;
}

/// [`annotate`], naming the risk directory joined in (what a rendered answer depends on,
/// [`crate::rendered`]): `Err(())` when it was partial (not to be reused). `prefetched`: the
/// directory, when the caller read it already (concurrently with the alerts).
async fn annotate_with(
    st: &AppState,
    tenant: &str,
    values: &mut [Value],
    include_evolvable: bool,
    bypass: bool,
    prefetched: Option<Arc<RiskDirectory>>,
) -> Result<Option<Arc<RiskDirectory>>, ()> {
    let involves_users = values.iter().any(|v| {
        v.get("userStates")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    });
    let (join, used) = risk_to_join(st, tenant, involves_users, bypass, prefetched, None).await;
    if let Some((dir, pending)) = join {
        for v in values.iter_mut() {
            join_user_risk(v, &dir, &pending, include_evolvable);
        }
    }
    used
}

/// What alerts involving users get joined in: the tenant's risk directory (`prefetched`, or
/// read now) with the pending actions overlaid; `None` when there is nothing to join (no
/// identity provider, no user involved) or when no identity provider answered (the risk is
/// unknown: no `vigilUserRisk` at all). Also the directory a rendered answer depends on
/// ([`crate::rendered`]): `Err(())` when it was partial (not to be reused).
async fn risk_to_join(
    st: &AppState,
    tenant: &str,
    involves_users: bool,
    bypass: bool,
    prefetched: Option<Arc<RiskDirectory>>,
    pending: Option<Pending>,
) -> (
    Option<(Arc<RiskDirectory>, Pending)>,
    Result<Option<Arc<RiskDirectory>>, ()>,
) {
    let fed = &st.federation;
    if !involves_users || identity_providers(fed, tenant).is_empty() {
        return (None, Ok(None));
    }
    let dir = async {
        match prefetched {
            Some(d) => d,
            None => directory(fed, tenant, bypass).await,
        }
    };
    let pending = async {
        match pending {
            Some(p) => Ok(p),
            None => Pending::load(fed, tenant).await,
        }
    };
    let (dir, pending) = tokio::join!(dir, pending);
    let pending = pending.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "pending actions unknown; user risk shown without them");
        Pending::default()
    });
    let used = if dir.complete() {
        Ok(Some(dir.clone()))
    } else {
        Err(())
    };
    let answered = dir.outcomes.iter().any(|o| !o.failed());
    (answered.then_some((dir, pending)), used)
}

/// Whether an annotated alert involves a user at or above `floor`.
pub fn alert_at_least(alert: &Value, floor: RiskLevel) -> bool {
    alert
        .get("userStates")
        .and_then(Value::as_array)
        .is_some_and(|states| {
            states.iter().any(|s| {
                let level = s
                    .get(USER_RISK_KEY)
                    .and_then(|r| r.get("riskLevel"))
                    .and_then(Value::as_str)
                    .map(RiskLevel::from_wire);
                level_at_least(level, floor)
            })
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bytes_of(w: &WrittenArray) -> Vec<u8> {
        w.parts.iter().flat_map(|p| p.iter().copied()).collect()
    }

    /// A list long enough to be written in several blocks keeps its order, and every user
    /// state carries the same `vigilUserRisk` the `Value` path joins in.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn block_writing_keeps_order_and_joins_like_the_value_path() {
        let user: RiskyUser = serde_json::from_value(serde_json::json!({
            "id": "A1B2", "userPrincipalName": "kim@contoso.com", "riskLevel": "high",
            "riskState": "atRisk", "riskDetail": "none", "isProcessing": false
        }))
        .unwrap();
        let dir = Arc::new(RiskDirectory::build(vec![user], Vec::new()));
        let alerts: Vec<Alert> = (0..BLOCK * 5 + 7)
            .map(|i| {
                serde_json::from_value(serde_json::json!({
                    "id": format!("a{i}"), "title": "t", "status": "newAlert",
                    "createdDateTime": "2024-05-01T10:00:00.1234567Z",
                    "userStates": if i % 3 == 0 { serde_json::json!([]) } else { serde_json::json!([
                        {"aadUserId": "a1b2", "accountName": "kim"},
                        {"userPrincipalName": "nobody@contoso.com"}
                    ]) },
                    "vendorInformation": {"provider": "P", "vendor": "V"}
                }))
                .unwrap()
            })
            .collect();
        for include_evolvable in [false, true] {
            let joiner = Arc::new(Joiner {
                dir: dir.clone(),
                pending: Pending::default(),
                include_evolvable,
            });
            let array = write_alert_array(b"\"value\":", alerts.clone(), Some(joiner))
                .await
                .unwrap();
            let all = bytes_of(&array);
            let bytes = all.strip_prefix(b"\"value\":").unwrap();
            let written: Vec<Value> = serde_json::from_slice(bytes).unwrap();
            assert_eq!(written.len(), alerts.len());
            for (w, a) in written.iter().zip(&alerts) {
                let mut expected = serde_json::to_value(a).unwrap();
                join_user_risk(&mut expected, &dir, &Pending::default(), include_evolvable);
                assert_eq!(w, &expected);
            }
            assert_eq!(
                written[1]["userStates"][0][USER_RISK_KEY]["riskLevel"],
                "high"
            );
            assert_eq!(written[1]["userStates"][1][USER_RISK_KEY], Value::Null);
        }
        // Without a join nothing is added, and an empty list is `[]`.
        let plain = write_alert_array(b"", alerts.clone(), None).await.unwrap();
        let plain_values: Vec<Value> = serde_json::from_slice(&bytes_of(&plain)).unwrap();
        assert!(
            plain_values[1]["userStates"][0]
                .get(USER_RISK_KEY)
                .is_none()
        );
        let empty = write_alert_array(b"", Vec::new(), None).await.unwrap();
        assert_eq!(bytes_of(&empty), b"[]");
        // The digest is the SHA-256 of the blocks' SHA-256s: the same alerts give the same
        // digest, a change in any block another one.
        let sha = |b: &[u8]| -> [u8; 32] { sha2::Sha256::digest(b).into() };
        assert_eq!(empty.digest, sha(&sha(b"")));
        let again = write_alert_array(b"", alerts.clone(), None).await.unwrap();
        assert_eq!(
            (bytes_of(&again), again.digest),
            (bytes_of(&plain), plain.digest)
        );
        let mut one_block = alerts[..BLOCK].to_vec();
        let whole = write_alert_array(b"", one_block.clone(), None)
            .await
            .unwrap();
        let whole_bytes = bytes_of(&whole);
        assert_eq!(
            whole.digest,
            sha(&sha(&whole_bytes[1..whole_bytes.len() - 1]))
        );
        one_block[BLOCK - 1].title = Some("changed".into());
        let changed = write_alert_array(b"", one_block, None).await.unwrap();
        assert_ne!(changed.digest, whole.digest);
        let mut late = alerts.clone();
        late[BLOCK * 5 + 3].title = Some("changed".into());
        let late = write_alert_array(b"", late, None).await.unwrap();
        assert_ne!(late.digest, plain.digest);
    }

    #[test]
    fn floor_option_is_parsed_strictly() {
        let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert_eq!(risk_floor(&[]).unwrap(), None);
        assert_eq!(
            risk_floor(&p("vigilUserRiskAtLeast", "High")).unwrap(),
            Some(RiskLevel::High)
        );
        assert!(risk_floor(&p("vigiluserriskatleast", "severe")).is_err());
        assert!(risk_floor(&p("vigilUserRiskAtLeast", "unknownFutureValue")).is_err());
        let twice = [
            p("vigilUserRiskAtLeast", "low"),
            p("vigilUserRiskAtLeast", "low"),
        ]
        .concat();
        assert!(risk_floor(&twice).is_err());
    }

    #[test]
    fn alerts_are_kept_by_their_riskiest_user() {
        let a = serde_json::json!({"userStates": [
            {"vigilUserRisk": {"riskLevel": "low"}},
            {"vigilUserRisk": {"riskLevel": "high"}},
            {"vigilUserRisk": null}
        ]});
        assert!(alert_at_least(&a, RiskLevel::High));
        assert!(alert_at_least(&a, RiskLevel::Medium));
        let b = serde_json::json!({"userStates": [{"vigilUserRisk": null}]});
        assert!(!alert_at_least(&b, RiskLevel::None));
        assert!(!alert_at_least(&serde_json::json!({}), RiskLevel::Low));
    }
}
