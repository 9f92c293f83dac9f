//! One risky user out of several providers' reports: the identity counterpart of [`crate::merge`].
//!
//! Graph's Identity Protection knows one directory; Vigil federates several identity-risk
//! sources (Entra ID Protection through the Graph adapter, partner sources such as an OCSF
//! feed). The same person appears at several of them, so a federated `riskyUser` is a *fold*:
//!
//! - **Same user** ([`same_user`]): the same object id (`id`, compared case-insensitively, as
//!   GUIDs), else the same `userPrincipalName` (case-insensitively, as Entra compares UPNs).
//!   Grouping is transitive: A~B by id and B~C by UPN make one user.
//! - **Combination** ([`combine`]), documented on the wire contract:
//!   - `id`: the first source's (callers order sources with the directory of record, the Graph
//!     adapters, first, so the id is the Entra object id whenever Entra knows the user);
//!   - `riskLevel`: the highest, in the order `none` < `unknownFutureValue` < `hidden` < `low` <
//!     `medium` < `high` ([`risk_level_rank`]): a hidden or unknown level still means "some
//!     risk", which outranks none, and any disclosed level outranks an undisclosed one;
//!   - `riskState`: the most severe, in the order `none` < `confirmedSafe` < `dismissed` <
//!     `remediated` < `unknownFutureValue` < `atRisk` < `confirmedCompromised`
//!     ([`risk_state_rank`]): a user still at risk somewhere is at risk; an unknown future
//!     state is ranked below the two states that call for action;
//!   - `riskDetail`: the detail of the source whose state won (ties: the latest update), so
//!     state and detail always tell the same story;
//!   - `riskLastUpdatedDateTime`: the latest;
//!   - `isProcessing`: true if any source is processing (the gateway also sets it while its
//!     own deliveries of an action are pending);
//!   - `isDeleted`: true only when every source that says anything says deleted (a user alive
//!     at one source still has risk to work on);
//!   - `userDisplayName`, `userPrincipalName`: the first source's non-empty value;
//!   - `vigilSources` ([`SOURCES_KEY`]): every source with its own id, level, state and update
//!     time, in source order, so a caller can see who said what.
//! - **Actions** ([`RiskAction::effect`]) change state as spec §5 records: confirmCompromised →
//!   `confirmedCompromised`/`high`/`adminConfirmedUserCompromised`; dismiss →
//!   `dismissed`/`none`/`adminDismissedAllRiskForUser`; confirmSafe →
//!   `confirmedSafe`/`none`/`adminConfirmedAccountSafe` (an evolvable member: callers without
//!   `Prefer: include-unknown-enum-members` see `unknownFutureValue`, exactly as from Graph).

use crate::enums::{RiskDetail, RiskLevel, RiskState};
use crate::identity::{RiskUserActivity, RiskyUser, RiskyUserHistoryItem};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The extension listing a federated risky user's sources.
pub const SOURCES_KEY: &str = "vigilSources";

/// A risky user as one provider reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcedRiskyUser {
    /// The provider instance name.
    pub provider: String,
    pub user: RiskyUser,
}

/// One entry of [`SOURCES_KEY`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskSource {
    pub provider: String,
    /// The user's id at that provider.
    pub provider_user_id: String,
    pub risk_level: Option<RiskLevel>,
    pub risk_state: Option<RiskState>,
    pub risk_last_updated_date_time: Option<Timestamp>,
}

impl RiskSource {
    /// The sources recorded on a folded user (empty when it carries none).
    pub fn of(user: &RiskyUser) -> Vec<RiskSource> {
        user.additional_data
            .get(SOURCES_KEY)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }
}

/// Rank of a level for "highest wins" (see the module docs for the order).
pub fn risk_level_rank(l: RiskLevel) -> u8 {
    match l {
        RiskLevel::None => 0,
        RiskLevel::UnknownFutureValue => 1,
        RiskLevel::Hidden => 2,
        RiskLevel::Low => 3,
        RiskLevel::Medium => 4,
        RiskLevel::High => 5,
    }
}

/// Rank of a state for "most severe wins" (see the module docs for the order).
pub fn risk_state_rank(s: RiskState) -> u8 {
    match s {
        RiskState::None => 0,
        RiskState::ConfirmedSafe => 1,
        RiskState::Dismissed => 2,
        RiskState::Remediated => 3,
        RiskState::UnknownFutureValue => 4,
        RiskState::AtRisk => 5,
        RiskState::ConfirmedCompromised => 6,
    }
}

/// Whether `level` is at or above `threshold` in [`risk_level_rank`] order. An absent level is
/// never at or above anything.
pub fn level_at_least(level: Option<RiskLevel>, threshold: RiskLevel) -> bool {
    level.is_some_and(|l| risk_level_rank(l) >= risk_level_rank(threshold))
}

fn norm(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
}

/// Whether two reports are the same person: same object id, else same UPN (both
/// case-insensitive; empty values never match).
pub fn same_user(a: &RiskyUser, b: &RiskyUser) -> bool {
    let (ia, ib) = (a.id.trim(), b.id.trim());
    if !ia.is_empty() && ia.eq_ignore_ascii_case(ib) {
        return true;
    }
    matches!((norm(&a.user_principal_name), norm(&b.user_principal_name)), (Some(x), Some(y)) if x == y)
}

/// Groups reports of the same user (transitively) and folds each group, in order of first
/// appearance.
pub fn merge_risky_users(items: Vec<SourcedRiskyUser>) -> Vec<RiskyUser> {
    group(items).into_iter().map(combine).collect()
}

/// Groups reports of the same user (transitively), in order of first appearance; within a
/// group, input order is kept.
pub fn group(items: Vec<SourcedRiskyUser>) -> Vec<Vec<SourcedRiskyUser>> {
    use std::collections::HashMap;
    // Union-find over the items, keyed by normalized id and UPN.
    let n = items.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        let id = it.user.id.trim().to_ascii_lowercase();
        let keys = [
            (!id.is_empty()).then(|| format!("id:{id}")),
            norm(&it.user.user_principal_name).map(|u| format!("upn:{u}")),
        ];
        for k in keys.into_iter().flatten() {
            match by_key.get(&k) {
                Some(&j) => {
                    let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
                    if ri != rj {
                        // The earlier item stays the root, so groups keep first-appearance order.
                        let (lo, hi) = if ri < rj { (ri, rj) } else { (rj, ri) };
                        parent[hi] = lo;
                    }
                }
                None => {
                    by_key.insert(k, i);
                }
            }
        }
    }
    let mut slot_of_root: HashMap<usize, usize> = HashMap::new();
    let mut groups: Vec<Vec<SourcedRiskyUser>> = Vec::new();
    let roots: Vec<usize> = (0..n).map(|i| find(&mut parent, i)).collect();
    for (it, root) in items.into_iter().zip(roots) {
        let slot = *slot_of_root.entry(root).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[slot].push(it);
    }
    groups
}

/// Folds reports of one user (see the module docs). An empty group gives a default user.
pub fn combine(group: Vec<SourcedRiskyUser>) -> RiskyUser {
    let mut sources: Vec<RiskSource> = Vec::with_capacity(group.len());
    let mut out = RiskyUser::default();
    let mut winner: Option<(u8, Option<Timestamp>)> = None;
    let mut deleted_votes: Option<bool> = None;
    for (i, s) in group.into_iter().enumerate() {
        let u = s.user;
        // A user that is already a fold contributes its own sources, not itself.
        let inner = RiskSource::of(&u);
        if inner.is_empty() {
            sources.push(RiskSource {
                provider: s.provider.clone(),
                provider_user_id: u.id.clone(),
                risk_level: u.risk_level,
                risk_state: u.risk_state,
                risk_last_updated_date_time: u.risk_last_updated_date_time,
            });
        } else {
            sources.extend(inner);
        }
        if i == 0 {
            out.id = u.id.clone();
            out.additional_data = u.additional_data.clone();
            out.additional_data.remove(SOURCES_KEY);
        }
        if out.user_display_name.is_none() {
            out.user_display_name = u.user_display_name.clone().filter(|s| !s.is_empty());
        }
        if out.user_principal_name.is_none() {
            out.user_principal_name = u.user_principal_name.clone().filter(|s| !s.is_empty());
        }
        if let Some(l) = u.risk_level
            && out
                .risk_level
                .is_none_or(|cur| risk_level_rank(l) > risk_level_rank(cur))
        {
            out.risk_level = Some(l);
        }
        if let Some(st) = u.risk_state {
            let key = (risk_state_rank(st), u.risk_last_updated_date_time);
            if winner.is_none_or(|w| key > w) {
                winner = Some(key);
                out.risk_state = Some(st);
                out.risk_detail = u.risk_detail;
            }
        } else if out.risk_state.is_none() && out.risk_detail.is_none() {
            out.risk_detail = u.risk_detail;
        }
        if let Some(t) = u.risk_last_updated_date_time
            && out.risk_last_updated_date_time.is_none_or(|cur| t > cur)
        {
            out.risk_last_updated_date_time = Some(t);
        }
        if let Some(p) = u.is_processing {
            out.is_processing = Some(out.is_processing.unwrap_or(false) || p);
        }
        if let Some(d) = u.is_deleted {
            deleted_votes = Some(deleted_votes.unwrap_or(true) && d);
        }
    }
    out.is_deleted = deleted_votes;
    sources.dedup_by(|a, b| a.provider == b.provider && a.provider_user_id == b.provider_user_id);
    if let Ok(v) = serde_json::to_value(&sources) {
        out.additional_data.insert(SOURCES_KEY.to_string(), v);
    }
    out
}

/// The three Identity Protection actions on risky users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RiskAction {
    ConfirmCompromised,
    Dismiss,
    ConfirmSafe,
}

impl RiskAction {
    pub const ALL: [RiskAction; 3] = [
        RiskAction::ConfirmCompromised,
        RiskAction::Dismiss,
        RiskAction::ConfirmSafe,
    ];

    /// The Graph action name (`confirmCompromised`, `dismiss`, `confirmSafe`).
    pub fn as_str(self) -> &'static str {
        match self {
            RiskAction::ConfirmCompromised => "confirmCompromised",
            RiskAction::Dismiss => "dismiss",
            RiskAction::ConfirmSafe => "confirmSafe",
        }
    }

    /// By Graph action name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// The state, level and detail the action leaves the user in.
    pub fn effect(self) -> (RiskState, RiskLevel, RiskDetail) {
        match self {
            RiskAction::ConfirmCompromised => (
                RiskState::ConfirmedCompromised,
                RiskLevel::High,
                RiskDetail::AdminConfirmedUserCompromised,
            ),
            RiskAction::Dismiss => (
                RiskState::Dismissed,
                RiskLevel::None,
                RiskDetail::AdminDismissedAllRiskForUser,
            ),
            RiskAction::ConfirmSafe => (
                RiskState::ConfirmedSafe,
                RiskLevel::None,
                RiskDetail::AdminConfirmedAccountSafe,
            ),
        }
    }

    /// Applies the action to a user as the caller must see it at `at` (the latest action
    /// wins over whatever the providers still report while deliveries are pending).
    pub fn apply(self, user: &mut RiskyUser, at: Timestamp) {
        let (state, level, detail) = self.effect();
        user.risk_state = Some(state);
        user.risk_level = Some(level);
        user.risk_detail = Some(detail);
        if user.risk_last_updated_date_time.is_none_or(|t| t < at) {
            user.risk_last_updated_date_time = Some(at);
        }
    }

    /// The history item recording the action on `user` (`initiatedBy` = the caller).
    pub fn history_item(
        self,
        id: String,
        user: &RiskyUser,
        initiated_by: Option<String>,
        at: Timestamp,
        processing: bool,
    ) -> RiskyUserHistoryItem {
        let (state, level, detail) = self.effect();
        RiskyUserHistoryItem {
            id,
            is_deleted: user.is_deleted,
            is_processing: Some(processing),
            risk_detail: Some(detail),
            risk_last_updated_date_time: Some(at),
            risk_level: Some(level),
            risk_state: Some(state),
            user_display_name: user.user_display_name.clone(),
            user_principal_name: user.user_principal_name.clone(),
            activity: Some(RiskUserActivity {
                detail: Some(detail),
                risk_event_types: Vec::new(),
            }),
            initiated_by,
            user_id: Some(user.id.clone()),
            additional_data: Default::default(),
        }
    }
}

/// How long after a gateway-recorded action a provider's history item with the same outcome
/// is taken to be that action's echo (deliveries are retried for up to a day).
pub const ECHO_WINDOW_SECS: i64 = 24 * 3600;

/// One timeline out of the providers' histories and the actions recorded by the gateway,
/// oldest first. A provider item that echoes a gateway action (same resulting state and
/// detail, updated at or after the action and within [`ECHO_WINDOW_SECS`]) is dropped, each
/// action absorbing at most one echo per provider, so an action shows once, with the caller
/// as `initiatedBy`, not a second time with the gateway's own client id.
pub fn fold_history(
    provider_items: Vec<(String, RiskyUserHistoryItem)>,
    gateway_items: Vec<RiskyUserHistoryItem>,
) -> Vec<RiskyUserHistoryItem> {
    use std::collections::HashSet;
    let mut absorbed: HashSet<(usize, String)> = HashSet::new();
    let mut out: Vec<RiskyUserHistoryItem> = Vec::new();
    for (provider, item) in provider_items {
        let echo = gateway_items.iter().enumerate().find(|(gi, g)| {
            !absorbed.contains(&(*gi, provider.clone()))
                && g.risk_state == item.risk_state
                && g.risk_detail.map(|d| d.hide_evolvable_detail())
                    == item.risk_detail.map(|d| d.hide_evolvable_detail())
                && match (
                    g.risk_last_updated_date_time,
                    item.risk_last_updated_date_time,
                ) {
                    (Some(gt), Some(it)) => {
                        let d = (it.0 - gt.0).num_seconds();
                        (-1..=ECHO_WINDOW_SECS).contains(&d)
                    }
                    _ => false,
                }
        });
        match echo {
            Some((gi, _)) => {
                absorbed.insert((gi, provider));
            }
            None => out.push(item),
        }
    }
    out.extend(gateway_items);
    out.sort_by(|a, b| {
        a.risk_last_updated_date_time
            .cmp(&b.risk_last_updated_date_time)
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

trait HideDetail {
    fn hide_evolvable_detail(self) -> RiskDetail;
}

impl HideDetail for RiskDetail {
    /// A provider that hid an evolvable member (Graph without the `Prefer` header) still
    /// echoes the action: compare details as a caller without the header would see them.
    fn hide_evolvable_detail(self) -> RiskDetail {
        crate::enums::GraphEnum::hide_evolvable(self)
    }
}

/// The level named by a query option value (`low`, `medium`, `high`, ...), case-insensitively.
pub fn parse_level(s: &str) -> Option<RiskLevel> {
    crate::enums::GraphEnum::parse_exact(s.trim())
}

/// The JSON form of a user's risk as joined into an alert's `userStates` entry.
pub fn user_risk_value(user: &RiskyUser) -> Value {
    serde_json::json!({
        "id": user.id,
        "riskLevel": user.risk_level,
        "riskState": user.risk_state,
        "riskDetail": user.risk_detail,
        "riskLastUpdatedDateTime": user.risk_last_updated_date_time,
        "isProcessing": user.is_processing,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn user(id: &str, upn: &str, level: RiskLevel, state: RiskState, at: &str) -> RiskyUser {
        RiskyUser {
            id: id.into(),
            is_deleted: Some(false),
            is_processing: Some(false),
            risk_detail: Some(RiskDetail::None),
            risk_last_updated_date_time: Some(ts(at)),
            risk_level: Some(level),
            risk_state: Some(state),
            user_display_name: Some(format!("User {id}")),
            user_principal_name: Some(upn.into()),
            additional_data: Default::default(),
        }
    }

    fn src(p: &str, u: RiskyUser) -> SourcedRiskyUser {
        SourcedRiskyUser {
            provider: p.into(),
            user: u,
        }
    }

    #[test]
    fn same_id_folds_with_highest_level_most_severe_state_latest_time() {
        let mut a = user(
            "AAAA-1",
            "kim@contoso.com",
            RiskLevel::Low,
            RiskState::Dismissed,
            "2026-10-01T00:00:00Z",
        );
        a.risk_detail = Some(RiskDetail::AdminDismissedAllRiskForUser);
        let mut b = user(
            "aaaa-1",
            "other@contoso.com",
            RiskLevel::High,
            RiskState::AtRisk,
            "2026-09-01T00:00:00Z",
        );
        b.is_processing = Some(true);
        let out = merge_risky_users(vec![src("graph", a), src("ocsf", b)]);
        assert_eq!(out.len(), 1);
        let u = &out[0];
        assert_eq!(u.id, "AAAA-1", "the first source's id");
        assert_eq!(u.risk_level, Some(RiskLevel::High));
        assert_eq!(u.risk_state, Some(RiskState::AtRisk));
        assert_eq!(
            u.risk_detail,
            Some(RiskDetail::None),
            "detail of the winning state"
        );
        assert_eq!(
            u.risk_last_updated_date_time,
            Some(ts("2026-10-01T00:00:00Z"))
        );
        assert_eq!(u.is_processing, Some(true));
        assert_eq!(u.user_principal_name.as_deref(), Some("kim@contoso.com"));
        let s = RiskSource::of(u);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].provider, "ocsf");
        assert_eq!(s[1].provider_user_id, "aaaa-1");
        assert_eq!(s[1].risk_level, Some(RiskLevel::High));
    }

    #[test]
    fn upn_folds_case_insensitively_and_transitively() {
        let a = user(
            "1",
            "Kim@Contoso.com",
            RiskLevel::Low,
            RiskState::AtRisk,
            "2026-10-01T00:00:00Z",
        );
        let b = user(
            "2",
            "kim@contoso.com",
            RiskLevel::Medium,
            RiskState::AtRisk,
            "2026-10-01T00:00:00Z",
        );
        let c = user(
            "2",
            "",
            RiskLevel::None,
            RiskState::Remediated,
            "2026-10-01T00:00:00Z",
        );
        let d = user(
            "3",
            "",
            RiskLevel::None,
            RiskState::None,
            "2026-10-01T00:00:00Z",
        );
        let out = merge_risky_users(vec![src("g", a), src("o", b), src("x", c), src("y", d)]);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(RiskSource::of(&out[0]).len(), 3);
        assert_eq!(out[0].risk_level, Some(RiskLevel::Medium));
        assert_eq!(out[1].id, "3", "empty UPNs never match");
    }

    #[test]
    fn orders_are_as_documented() {
        use crate::enums::GraphEnum;
        let mut levels: Vec<RiskLevel> = RiskLevel::ALL.to_vec();
        levels.sort_by_key(|l| risk_level_rank(*l));
        assert_eq!(
            levels,
            vec![
                RiskLevel::None,
                RiskLevel::UnknownFutureValue,
                RiskLevel::Hidden,
                RiskLevel::Low,
                RiskLevel::Medium,
                RiskLevel::High
            ]
        );
        let mut states: Vec<RiskState> = RiskState::ALL.to_vec();
        states.sort_by_key(|s| risk_state_rank(*s));
        assert_eq!(states.last(), Some(&RiskState::ConfirmedCompromised));
        assert_eq!(states.first(), Some(&RiskState::None));
        assert!(level_at_least(Some(RiskLevel::High), RiskLevel::Medium));
        assert!(level_at_least(Some(RiskLevel::Medium), RiskLevel::Medium));
        assert!(!level_at_least(Some(RiskLevel::Hidden), RiskLevel::Low));
        assert!(!level_at_least(None, RiskLevel::None));
        assert_eq!(parse_level(" HIGH "), Some(RiskLevel::High));
        assert_eq!(parse_level("severe"), None);
    }

    #[test]
    fn deleted_only_when_every_source_says_so() {
        let mut a = user(
            "1",
            "a@x",
            RiskLevel::Low,
            RiskState::AtRisk,
            "2026-10-01T00:00:00Z",
        );
        let mut b = a.clone();
        a.is_deleted = Some(true);
        b.is_deleted = Some(false);
        let out = merge_risky_users(vec![src("g", a.clone()), src("o", b)]);
        assert_eq!(out[0].is_deleted, Some(false));
        let out = merge_risky_users(vec![src("g", a.clone()), src("o", a)]);
        assert_eq!(out[0].is_deleted, Some(true));
    }

    #[test]
    fn folding_a_fold_keeps_its_sources() {
        let a = user(
            "1",
            "a@x",
            RiskLevel::Low,
            RiskState::AtRisk,
            "2026-10-01T00:00:00Z",
        );
        let b = a.clone();
        let folded = combine(vec![src("g", a), src("o", b)]);
        let again = combine(vec![src("g", folded)]);
        assert_eq!(RiskSource::of(&again).len(), 2);
    }

    #[test]
    fn actions_have_the_documented_effect() {
        let mut u = user(
            "1",
            "a@x",
            RiskLevel::Low,
            RiskState::AtRisk,
            "2026-10-01T00:00:00Z",
        );
        let at = ts("2026-11-01T00:00:00Z");
        RiskAction::ConfirmCompromised.apply(&mut u, at);
        assert_eq!(u.risk_state, Some(RiskState::ConfirmedCompromised));
        assert_eq!(u.risk_level, Some(RiskLevel::High));
        assert_eq!(
            u.risk_detail,
            Some(RiskDetail::AdminConfirmedUserCompromised)
        );
        assert_eq!(u.risk_last_updated_date_time, Some(at));
        RiskAction::Dismiss.apply(&mut u, at);
        assert_eq!(
            (u.risk_state, u.risk_level, u.risk_detail),
            (
                Some(RiskState::Dismissed),
                Some(RiskLevel::None),
                Some(RiskDetail::AdminDismissedAllRiskForUser)
            )
        );
        let (_, _, d) = RiskAction::ConfirmSafe.effect();
        assert!(crate::enums::GraphEnum::is_evolvable(d));
        assert_eq!(
            RiskAction::parse("CONFIRMSAFE"),
            Some(RiskAction::ConfirmSafe)
        );
        assert_eq!(RiskAction::parse("delete"), None);
    }

    #[test]
    fn history_drops_provider_echoes_of_gateway_actions_once_per_provider() {
        let u = user(
            "1",
            "a@x",
            RiskLevel::Low,
            RiskState::AtRisk,
            "2026-10-01T00:00:00Z",
        );
        let at = ts("2026-11-01T00:00:00Z");
        let ours =
            RiskAction::ConfirmSafe.history_item("v1".into(), &u, Some("me".into()), at, false);
        let mut echo = RiskAction::ConfirmSafe.history_item(
            "g1".into(),
            &u,
            Some("vigil-app".into()),
            ts("2026-11-01T00:00:03Z"),
            false,
        );
        // Graph hid the evolvable detail: still an echo.
        echo.risk_detail = Some(RiskDetail::UnknownFutureValue);
        let older = RiskyUserHistoryItem {
            id: "g0".into(),
            risk_state: Some(RiskState::AtRisk),
            risk_last_updated_date_time: Some(ts("2026-10-01T00:00:00Z")),
            ..Default::default()
        };
        let second_echo = RiskyUserHistoryItem {
            id: "g2".into(),
            ..echo.clone()
        };
        let out = fold_history(
            vec![
                ("graph".into(), older),
                ("graph".into(), echo),
                ("graph".into(), second_echo),
            ],
            vec![ours],
        );
        let ids: Vec<&str> = out.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, vec!["g0", "v1", "g2"]);
        assert_eq!(out[1].initiated_by.as_deref(), Some("me"));
    }

    #[test]
    fn user_risk_value_is_graph_shaped() {
        let u = user(
            "1",
            "a@x",
            RiskLevel::High,
            RiskState::AtRisk,
            "2026-10-01T00:00:00Z",
        );
        let v = user_risk_value(&u);
        assert_eq!(v["riskLevel"], "high");
        assert_eq!(v["riskState"], "atRisk");
        assert_eq!(v["riskLastUpdatedDateTime"], "2026-10-01T00:00:00Z");
    }
}
