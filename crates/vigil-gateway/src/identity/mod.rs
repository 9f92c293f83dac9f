//! Identity Protection over every identity-risk provider: risky users, their history, risk
//! detections, and the join of user risk into alerts.
//!
//! # What Graph does, and what we do differently
//!
//! Graph's `identityProtection` answers from one directory. Vigil asks every provider of the
//! tenant whose capabilities say `identity_risk` (Entra ID Protection through the Graph
//! adapter, partner sources such as OCSF) with the alert path's machinery: one call per
//! provider under the provider timeout, answers cached per (tenant, provider, request) with
//! single flight ([`crate::fanout::PageCache`]), a failed provider reported with `206` +
//! `Warning` and in `@vigil.providerStatus`, and paging by a signed `$skiptoken` that carries
//! each provider's own cursor ([`CursorWalk`]). `$top` applies per provider, as Graph's
//! federated `$top` does for alerts.
//!
//! **One person, one risky user.** The same user known to several providers (same object id,
//! else same UPN) is one `riskyUser`, folded by [`vigil_model::identity_merge`] (highest
//! level, most severe state, latest update, sources in `vigilSources`). Folding across
//! providers that page independently needs to know, on the page where a user first shows, what
//! the other providers say about them. A per-tenant **risk directory** ([`RiskDirectory`]: every
//! identity provider's users, read in pages of the provider's maximum size through the same
//! cache and folded) gives that: a user listed by provider P is emitted only by its *owner*,
//! the first of its sources in provider order (Graph adapters first, then by name), as the
//! directory's fold. Every user therefore shows exactly once in a walk, with every source,
//! whatever page each provider lists it on. The directory is cached per tenant for the cache
//! TTL (only when every provider answered) and dropped with the tenant's cache after a write.
//! Limits: at most [`MAX_DIRECTORY_PAGES`] pages per provider are read into it; users beyond
//! that fold only with themselves. A provider that fails in the middle of a walk leaves it; a
//! user it owned and had not listed yet is then emitted by the next source that lists it.
//!
//! **Filters** are evaluated by the gateway on the folded user, never pushed to a provider:
//! pushing `riskLevel eq 'high'` down would drop a provider's copy whose own level is low
//! although the folded user's is high.
//!
//! **`$orderby`** orders each page (like the alert list), **`$count`** counts the directory.
//!
//! **`vigilUserRiskAtLeast`** (the alert list's option, [`join::RISK_FLOOR_OPTION`]) keeps the
//! users whose folded `riskLevel` is at or above the level, in the list, `$count` and
//! `@odata.count` alike (like a `$filter` on `riskLevel` that knows the level order).
//!
//! **Actions and pending state**: see [`actions`]. While a delivery of an action is pending,
//! the user shows the action's effect with `isProcessing: true` ([`Pending`]).
//!
//! **Joins into alerts**: see [`join`].

pub mod actions;
pub mod join;
pub mod legacy;

use crate::auth::{Need, permissions};
use crate::error::ApiError;
use crate::fanout::{PageCache, ProviderOutcome};
use crate::federation::Federation;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use vigil_model::identity_merge::{RiskAction, RiskSource, SourcedRiskyUser, merge_risky_users};
use vigil_model::query::{Filter, ItemFilter, OrderBy};
use vigil_model::{RiskDetection, RiskLevel, RiskyUser, RiskyUserHistoryItem, Timestamp};
use vigil_providers::{ListRequest, Provider, ProviderErrorKind};
use vigil_store::OutboxEntry;
use vigil_store::{AlertSource, OutboxState};

/// `GET` risky users and their history.
pub const READ_RISKY_USERS: Need = Need(&[
    permissions::IDENTITY_RISKY_USER_READ,
    permissions::IDENTITY_RISKY_USER_READ_WRITE,
]);
/// `confirmCompromised`, `dismiss`, `confirmSafe`.
pub const WRITE_RISKY_USERS: Need = Need(&[permissions::IDENTITY_RISKY_USER_READ_WRITE]);
/// Risk detections and the legacy identityRiskEvents.
pub const READ_RISK_EVENTS: Need = Need(&[permissions::IDENTITY_RISK_EVENT_READ]);

/// Prefix of the unified ids under which risky users are indexed and their actions recorded
/// in the store (`riskyUser:{object id, lower case}`).
pub const USER_KEY_PREFIX: &str = "riskyUser:";

/// At most this many pages per provider are read into a risk directory.
pub const MAX_DIRECTORY_PAGES: usize = 40;

/// How many pending outbox rows of a tenant are read to find pending actions.
const PENDING_SCAN_LIMIT: u32 = 1000;

/// The store key of a user.
pub fn user_key(id: &str) -> String {
    format!("{USER_KEY_PREFIX}{}", id.trim().to_ascii_lowercase())
}

/// The tenant's identity-risk providers, in owner order: Graph adapters (the directory of
/// record) first, then by instance name.
pub fn identity_providers(fed: &Federation, tenant: &str) -> Vec<Arc<dyn Provider>> {
    let mut v: Vec<Arc<dyn Provider>> = fed
        .registry
        .for_tenant(tenant)
        .iter()
        .filter(|p| p.capabilities().identity_risk)
        .cloned()
        .collect();
    v.sort_by(|a, b| {
        (a.info().kind != "graph", &a.info().name).cmp(&(b.info().kind != "graph", &b.info().name))
    });
    v
}

/// Where a walk over an identity collection stands; carried in the skiptoken.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CursorWalk {
    /// Per provider still walking after its first page: its own cursor.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cursors: BTreeMap<String, String>,
    /// Providers with nothing more to give.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub done: BTreeSet<String>,
    /// Providers that failed during the walk (also in `done`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub failed: BTreeSet<String>,
}

/// A parsed identity query.
#[derive(Debug, Clone, Default)]
pub struct IdentityQuery {
    pub filter: Option<Filter>,
    pub orderby: Option<OrderBy>,
    /// Per provider.
    pub top: u32,
    /// `vigilUserRiskAtLeast`: only users whose folded `riskLevel` is at or above it.
    pub floor: Option<RiskLevel>,
}

/// Whether a (folded) user is at or above the `vigilUserRiskAtLeast` floor, if any.
fn at_floor(floor: Option<RiskLevel>, user: &RiskyUser) -> bool {
    floor.is_none_or(|f| vigil_model::identity_merge::level_at_least(user.risk_level, f))
}

/// One step of a walk: one request to every provider still walking.
async fn step<T>(
    fed: &Federation,
    tenant: &str,
    cache: &PageCache<T>,
    providers: &[Arc<dyn Provider>],
    page_size: usize,
    walk: &CursorWalk,
    bypass: bool,
) -> (Vec<(String, T)>, Vec<ProviderOutcome>, CursorWalk)
where
    T: Serialize + Clone + Send + Sync + 'static,
{
    let walking: Vec<&Arc<dyn Provider>> = providers
        .iter()
        .filter(|p| !walk.done.contains(&p.info().name))
        .collect();
    let calls = walking.iter().map(|p| {
        let req = ListRequest {
            page_size: page_size.min(p.capabilities().max_page_size.max(1)).max(1),
            cursor: walk.cursors.get(&p.info().name).cloned(),
            ..ListRequest::default()
        };
        async move {
            let (page, outcome) = cache.list(tenant, p, req, fed.timeout, bypass).await;
            (p.info().name.clone(), page, outcome)
        }
    });
    let mut items = Vec::new();
    let mut outcomes = Vec::new();
    let mut next = walk.clone();
    for (name, page, outcome) in futures::future::join_all(calls).await {
        let failed = outcome.failed();
        outcomes.push(outcome);
        next.cursors.remove(&name);
        if failed {
            next.done.insert(name.clone());
            next.failed.insert(name);
            continue;
        }
        let Some(page) = page else {
            next.done.insert(name);
            continue;
        };
        match &page.page.next_cursor {
            Some(c) => {
                next.cursors.insert(name.clone(), c.clone());
            }
            None => {
                next.done.insert(name.clone());
            }
        }
        items.extend(page.page.items.iter().map(|i| (name.clone(), i.clone())));
    }
    (items, outcomes, next)
}

fn finished(providers: &[Arc<dyn Provider>], walk: &CursorWalk) -> bool {
    providers.iter().all(|p| walk.done.contains(&p.info().name))
}

/// Every risky user of a tenant, folded; see the module docs.
#[derive(Debug, Default)]
pub struct RiskDirectory {
    /// Folded users (no pending overlay), in provider order of first appearance.
    pub users: Vec<RiskyUser>,
    /// `id:{lower}`, `upn:{lower}`, `src:{provider}\0{lower id}` → index in `users`.
    index: HashMap<String, usize>,
    /// How each provider answered while the directory was read.
    pub outcomes: Vec<ProviderOutcome>,
}

impl RiskDirectory {
    fn build(users: Vec<RiskyUser>, outcomes: Vec<ProviderOutcome>) -> Self {
        let mut index = HashMap::new();
        for (i, u) in users.iter().enumerate() {
            if !u.id.trim().is_empty() {
                index
                    .entry(format!("id:{}", u.id.trim().to_ascii_lowercase()))
                    .or_insert(i);
            }
            if let Some(upn) = u.user_principal_name.as_deref().filter(|s| !s.is_empty()) {
                index
                    .entry(format!("upn:{}", upn.trim().to_ascii_lowercase()))
                    .or_insert(i);
            }
            for s in RiskSource::of(u) {
                index
                    .entry(source_key(&s.provider, &s.provider_user_id))
                    .or_insert(i);
                index
                    .entry(format!(
                        "id:{}",
                        s.provider_user_id.trim().to_ascii_lowercase()
                    ))
                    .or_insert(i);
            }
        }
        Self {
            users,
            index,
            outcomes,
        }
    }

    /// The folded user holding `provider`'s copy `id`.
    pub fn by_source(&self, provider: &str, id: &str) -> Option<&RiskyUser> {
        self.index
            .get(&source_key(provider, id))
            .and_then(|i| self.users.get(*i))
    }

    /// The folded user with this id (any source's) or, failing that, this UPN.
    pub fn find(&self, id: Option<&str>, upn: Option<&str>) -> Option<&RiskyUser> {
        let by = |k: String| self.index.get(&k).and_then(|i| self.users.get(*i));
        id.filter(|s| !s.trim().is_empty())
            .and_then(|id| by(format!("id:{}", id.trim().to_ascii_lowercase())))
            .or_else(|| {
                upn.filter(|s| !s.trim().is_empty())
                    .and_then(|u| by(format!("upn:{}", u.trim().to_ascii_lowercase())))
            })
    }

    /// Whether every provider answered.
    pub fn complete(&self) -> bool {
        !self.outcomes.iter().any(ProviderOutcome::failed)
    }
}

fn source_key(provider: &str, id: &str) -> String {
    format!("src:{provider}\u{0}{}", id.trim().to_ascii_lowercase())
}

/// Reads one provider's users, whole (bounded), through the page cache.
async fn read_all_users(
    fed: &Federation,
    tenant: &str,
    p: &Arc<dyn Provider>,
    bypass: bool,
    deadline: std::time::Instant,
) -> (Vec<RiskyUser>, ProviderOutcome) {
    let page_size = p.capabilities().max_page_size.max(1);
    let mut req = ListRequest {
        page_size,
        ..ListRequest::default()
    };
    let mut users = Vec::new();
    let mut combined: Option<ProviderOutcome> = None;
    for _ in 0..MAX_DIRECTORY_PAGES {
        let (page, outcome) = fed
            .cache
            .risky_users
            .list(
                tenant,
                p,
                req.clone(),
                deadline.saturating_duration_since(std::time::Instant::now()),
                bypass,
            )
            .await;
        let failed = outcome.failed();
        combined = Some(match combined {
            None => outcome,
            Some(mut c) => {
                c.latency_ms = c.latency_ms.saturating_add(outcome.latency_ms);
                c.items += outcome.items;
                c.from_cache &= outcome.from_cache;
                if failed {
                    c.state = outcome.state;
                    c.status = outcome.status;
                    c.error = outcome.error;
                }
                c
            }
        });
        if failed {
            break;
        }
        let Some(page) = page else { break };
        users.extend(page.page.items.iter().cloned());
        match &page.page.next_cursor {
            Some(c) if req.cursor.as_deref() != Some(c.as_str()) => req.cursor = Some(c.clone()),
            _ => break,
        }
    }
    let outcome =
        combined.unwrap_or_else(|| ProviderOutcome::answered(p.as_ref(), Default::default()));
    (users, outcome)
}

/// The tenant's risk directory, from the cache unless `bypass` (or the cached one is partial).
pub async fn directory(fed: &Federation, tenant: &str, bypass: bool) -> Arc<RiskDirectory> {
    let key = tenant.to_ascii_lowercase();
    // The risk join of an alert list runs after its fan-out: it gets what is left of the
    // request's provider timeout, so a slow provider does not make the answer wait twice.
    let deadline = std::time::Instant::now() + crate::resilience::follow_up_budget(fed.timeout);
    let build = async {
        let providers = identity_providers(fed, tenant);
        let reads = providers.iter().map(|p| async move {
            (
                p.info().name.clone(),
                read_all_users(fed, tenant, p, bypass, deadline).await,
            )
        });
        let mut items = Vec::new();
        let mut outcomes = Vec::new();
        for (name, (users, outcome)) in futures::future::join_all(reads).await {
            outcomes.push(outcome);
            items.extend(users.into_iter().map(|user| SourcedRiskyUser {
                provider: name.clone(),
                user,
            }));
        }
        let dir = Arc::new(RiskDirectory::build(merge_risky_users(items), outcomes));
        // A partial directory is used but not kept: the next request asks again.
        if dir.complete() { Ok(dir) } else { Err(dir) }
    };
    if bypass {
        let r = build.await;
        let dir = match r {
            Ok(d) => {
                fed.cache.risk_directory.insert(key, d.clone()).await;
                d
            }
            Err(d) => d,
        };
        return dir;
    }
    match fed.cache.risk_directory.try_get_with(key, build).await {
        Ok(d) => d,
        Err(e) => (*e).clone(),
    }
}

/// Actions whose delivery is still pending, by user.
#[derive(Debug, Default)]
pub struct Pending {
    /// `u:{store key}` or `s:{provider}\0{lower id}` → (history id, action, recorded at).
    by_key: HashMap<String, (i64, RiskAction, Timestamp)>,
    /// History ids with a pending row.
    pub history_ids: BTreeSet<i64>,
}

impl Pending {
    /// Reads the tenant's pending action rows.
    pub async fn load(fed: &Federation, tenant: &str) -> Result<Self, ApiError> {
        let rows = fed
            .store
            .list_outbox(tenant, OutboxState::Pending, PENDING_SCAN_LIMIT)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Self::of_rows(&rows))
    }

    /// The pending actions among the tenant's pending outbox rows (a list reads those once, for
    /// the alerts' sync states and for this).
    pub fn of_rows<'a>(rows: impl IntoIterator<Item = &'a OutboxEntry>) -> Self {
        let mut out = Pending::default();
        for r in rows {
            let Some(p) = actions::ActionPayload::of(&r.payload) else {
                continue;
            };
            out.history_ids.insert(r.history_id);
            let v = (r.history_id, p.action, p.at);
            for k in [
                format!("u:{}", r.unified_id),
                format!(
                    "s:{}\u{0}{}",
                    r.source.provider,
                    r.source.provider_alert_id.to_ascii_lowercase()
                ),
            ] {
                match out.by_key.get(&k) {
                    Some((h, _, _)) if *h >= v.0 => {}
                    _ => {
                        out.by_key.insert(k, v);
                    }
                }
            }
        }
        out
    }

    fn latest_for(&self, user: &RiskyUser) -> Option<(i64, RiskAction, Timestamp)> {
        let mut keys = vec![format!("u:{}", user_key(&user.id))];
        for s in RiskSource::of(user) {
            keys.push(format!(
                "s:{}\u{0}{}",
                s.provider,
                s.provider_user_id.to_ascii_lowercase()
            ));
        }
        keys.iter()
            .filter_map(|k| self.by_key.get(k).copied())
            .max_by_key(|(h, _, _)| *h)
    }

    /// Shows the latest pending action's effect with `isProcessing: true`.
    pub fn overlay(&self, user: &mut RiskyUser) {
        if let Some((_, action, at)) = self.latest_for(user) {
            action.apply(user, at);
            user.is_processing = Some(true);
        }
    }
}

/// One federated page of risky users.
#[derive(Debug)]
pub struct UserPage {
    pub users: Vec<RiskyUser>,
    pub outcomes: Vec<ProviderOutcome>,
    pub next: Option<CursorWalk>,
}

fn matches<T: Serialize>(filter: Option<&ItemFilter<'_>>, item: &T) -> bool {
    filter.is_none_or(|f| f.matches(item))
}

/// One page of the federated risky-user walk (see the module docs for ownership).
pub async fn list_users_page(
    fed: &Federation,
    tenant: &str,
    q: &IdentityQuery,
    mut walk: CursorWalk,
    bypass: bool,
) -> Result<UserPage, ApiError> {
    let providers = identity_providers(fed, tenant);
    let (dir, pending) = tokio::join!(directory(fed, tenant, bypass), Pending::load(fed, tenant));
    let pending = pending?;
    let order: Vec<String> = providers.iter().map(|p| p.info().name.clone()).collect();
    let mut all_outcomes: Vec<ProviderOutcome> = Vec::new();
    let mut users = Vec::new();
    let filter = q.filter.as_ref().map(Filter::for_items);
    for _ in 0..crate::federation::MAX_STEPS_PER_PAGE {
        let (items, outcomes, next) = step(
            fed,
            tenant,
            &fed.cache.risky_users,
            &providers,
            q.top as usize,
            &walk,
            bypass,
        )
        .await;
        all_outcomes = combine_outcomes(all_outcomes, outcomes);
        for (provider, copy) in items {
            let folded = dir
                .by_source(&provider, &copy.id)
                .or_else(|| dir.find(Some(&copy.id), copy.user_principal_name.as_deref()));
            let mut user = match folded {
                Some(f) => {
                    // The owner: the first source, in provider order, not failed in this walk.
                    let sources = RiskSource::of(f);
                    let owner = order
                        .iter()
                        .find(|name| {
                            !next.failed.contains(*name)
                                && sources.iter().any(|s| &s.provider == *name)
                        })
                        .cloned()
                        .unwrap_or_else(|| provider.clone());
                    if owner != provider {
                        continue;
                    }
                    f.clone()
                }
                None => vigil_model::identity_merge::combine(vec![SourcedRiskyUser {
                    provider: provider.clone(),
                    user: copy,
                }]),
            };
            pending.overlay(&mut user);
            if matches(filter.as_ref(), &user) && at_floor(q.floor, &user) {
                users.push(user);
            }
        }
        let done = finished(&providers, &next);
        walk = next;
        if done || !users.is_empty() {
            return Ok(UserPage {
                users,
                outcomes: all_outcomes,
                next: (!done).then_some(walk),
            });
        }
    }
    Ok(UserPage {
        users,
        outcomes: all_outcomes,
        next: Some(walk),
    })
}

/// Every risky user matching `filter` and the `floor` (for `$count`), from the directory.
pub async fn count_users(
    fed: &Federation,
    tenant: &str,
    filter: Option<&Filter>,
    floor: Option<RiskLevel>,
) -> Result<(usize, Vec<ProviderOutcome>), ApiError> {
    let (dir, pending) = tokio::join!(directory(fed, tenant, false), Pending::load(fed, tenant));
    let pending = pending?;
    let filter = filter.map(Filter::for_items);
    let n = dir
        .users
        .iter()
        .filter(|u| {
            let mut u = (*u).clone();
            pending.overlay(&mut u);
            matches(filter.as_ref(), &u) && at_floor(floor, &u)
        })
        .count();
    Ok((n, dir.outcomes.clone()))
}

/// The outcomes of several steps: a provider that failed in any step stays failed.
fn combine_outcomes(
    earlier: Vec<ProviderOutcome>,
    later: Vec<ProviderOutcome>,
) -> Vec<ProviderOutcome> {
    let mut by_name: BTreeMap<String, ProviderOutcome> = BTreeMap::new();
    for o in earlier.into_iter().chain(later) {
        match by_name.get_mut(&o.provider) {
            None => {
                by_name.insert(o.provider.clone(), o);
            }
            Some(cur) => {
                let latency = cur.latency_ms.saturating_add(o.latency_ms);
                let items = cur.items + o.items;
                if !cur.failed() {
                    *cur = o;
                }
                cur.latency_ms = latency;
                cur.items = items;
            }
        }
    }
    by_name.into_values().collect()
}

/// Runs `call` for each (provider, id) under the provider timeout, with one outcome each.
async fn ask_each<T, F, Fut>(
    fed: &Federation,
    targets: Vec<(Arc<dyn Provider>, String)>,
    call: F,
) -> Vec<(
    Arc<dyn Provider>,
    String,
    Result<Option<T>, vigil_providers::ProviderError>,
    ProviderOutcome,
)>
where
    F: Fn(Arc<dyn Provider>, String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, vigil_providers::ProviderError>>,
{
    let call = &call;
    let calls = targets.into_iter().map(|(p, id)| async move {
        let started = std::time::Instant::now();
        let r = fed
            .cache
            .resilience
            .call(p.info(), fed.timeout, true, || call(p.clone(), id.clone()))
            .await;
        let mut o = ProviderOutcome::answered(p.as_ref(), started.elapsed());
        match &r {
            Ok(Some(_)) => o.items = 1,
            Ok(None) => {}
            Err(e) if matches!(e.kind, ProviderErrorKind::NotFound) => {}
            Err(e) => o.record_failure(e),
        }
        (p, id, r, o)
    });
    futures::future::join_all(calls).await
}

/// One risky user by any of its ids, fresh from every provider that knows it, folded, with
/// pending actions shown. `None` when nobody knows it.
pub async fn get_user(
    fed: &Federation,
    tenant: &str,
    id: &str,
) -> Result<(Option<RiskyUser>, Vec<ProviderOutcome>), ApiError> {
    let providers = identity_providers(fed, tenant);
    let (dir, pending) = tokio::join!(directory(fed, tenant, false), Pending::load(fed, tenant));
    let pending = pending?;
    // Which ids to ask each provider for: the one given, and the ids the directory knows for
    // the same user at that provider (a user joined by UPN has another id there).
    let known = dir
        .find(Some(id), None)
        .map(RiskSource::of)
        .unwrap_or_default();
    let mut targets = Vec::new();
    for p in &providers {
        let name = &p.info().name;
        let mut ids: Vec<String> = known
            .iter()
            .filter(|s| &s.provider == name)
            .map(|s| s.provider_user_id.clone())
            .collect();
        if ids.is_empty() {
            ids.push(id.to_string());
        }
        ids.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        targets.extend(ids.into_iter().map(|i| (p.clone(), i)));
    }
    let answers = ask_each(
        fed,
        targets,
        |p, i| async move { p.get_risky_user(&i).await },
    )
    .await;
    let mut outcomes: Vec<ProviderOutcome> = Vec::new();
    let mut found = Vec::new();
    for (p, _, r, o) in answers {
        outcomes = combine_outcomes(outcomes, vec![o]);
        if let Ok(Some(user)) = r {
            found.push(SourcedRiskyUser {
                provider: p.info().name.clone(),
                user,
            });
        }
    }
    if found.is_empty() {
        return Ok((None, outcomes));
    }
    let mut user = vigil_model::identity_merge::combine(found);
    pending.overlay(&mut user);
    Ok((Some(user), outcomes))
}

/// Text marking a gateway history record as a risky-user action (in `comments`).
const ACTION_MARK: &str = "riskyUserAction:";
/// Text carrying the caller's object id in a gateway history record (in `comments`).
const INITIATOR_MARK: &str = "initiatedBy:";

/// The history of a user: every provider's own history (a provider that keeps none is noted
/// in the status block, not failed) and the actions recorded by the gateway, oldest first.
pub async fn history(
    fed: &Federation,
    tenant: &str,
    id: &str,
) -> Result<(Option<Vec<RiskyUserHistoryItem>>, Vec<ProviderOutcome>), ApiError> {
    let (user, mut outcomes) = get_user(fed, tenant, id).await?;
    let Some(user) = user else {
        return Ok((None, outcomes));
    };
    let providers = identity_providers(fed, tenant);
    let sources = RiskSource::of(&user);
    let targets: Vec<(Arc<dyn Provider>, String)> = sources
        .iter()
        .filter_map(|s| {
            providers
                .iter()
                .find(|p| p.info().name == s.provider)
                .map(|p| (p.clone(), s.provider_user_id.clone()))
        })
        .collect();
    let answers = ask_each(fed, targets, |p, i| async move {
        p.risky_user_history(&i).await.map(Some)
    })
    .await;
    let mut provider_items = Vec::new();
    let mut history_outcomes = Vec::new();
    for (p, _, r, mut o) in answers {
        match r {
            Ok(Some(items)) => {
                o.items = items.len();
                provider_items.extend(items.into_iter().map(|i| (p.info().name.clone(), i)));
            }
            Err(e) if matches!(e.kind, ProviderErrorKind::Unsupported(_)) => {
                // Not a failure: this source keeps no history. Say so, answered.
                o = ProviderOutcome::answered(p.as_ref(), Default::default());
                o.error = Some(e.kind.to_string());
            }
            _ => {}
        }
        history_outcomes.push(o);
    }
    outcomes = combine_outcomes(outcomes, history_outcomes);

    // The gateway's own records, under every unified id the user's sources are indexed under.
    let mut keys: BTreeSet<String> = BTreeSet::new();
    keys.insert(user_key(&user.id));
    for s in &sources {
        if let Ok(Some(r)) = fed
            .store
            .resolve_source(tenant, &AlertSource::new(&s.provider, &s.provider_user_id))
            .await
            && r.unified_id.starts_with(USER_KEY_PREFIX)
        {
            keys.insert(r.unified_id);
        }
    }
    let pending = Pending::load(fed, tenant).await?;
    let mut ours = Vec::new();
    for k in keys {
        let records = fed
            .store
            .history(tenant, &k)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        for r in records {
            let action = r
                .entry
                .comments
                .iter()
                .find_map(|c| c.strip_prefix(ACTION_MARK))
                .and_then(RiskAction::parse);
            let Some(action) = action else { continue };
            let by = r
                .entry
                .comments
                .iter()
                .find_map(|c| c.strip_prefix(INITIATOR_MARK))
                .map(str::to_string)
                .or_else(|| r.entry.user.clone());
            let at = r
                .entry
                .updated_date_time
                .unwrap_or_else(|| Timestamp::from_utc(r.recorded_at));
            ours.push(action.history_item(
                format!("vigil-{}", r.id),
                &user,
                by,
                at,
                pending.history_ids.contains(&r.id),
            ));
        }
    }
    let items = vigil_model::identity_merge::fold_history(provider_items, ours);
    Ok((Some(items), outcomes))
}

/// One federated page of risk detections (no folding: a detection is one provider's event).
#[derive(Debug)]
pub struct DetectionPage {
    pub detections: Vec<RiskDetection>,
    pub outcomes: Vec<ProviderOutcome>,
    pub next: Option<CursorWalk>,
}

/// The extension naming the provider a detection comes from.
pub const DETECTION_SOURCES_KEY: &str = "vigilSources";

fn with_source(mut d: RiskDetection, provider: &str) -> RiskDetection {
    let sources = serde_json::json!([{ "provider": provider, "providerDetectionId": d.id }]);
    d.additional_data
        .insert(DETECTION_SOURCES_KEY.to_string(), sources);
    d
}

/// One page of the federated risk-detection walk; `keep` decides which detections count.
pub async fn list_detections_page(
    fed: &Federation,
    tenant: &str,
    top: u32,
    keep: &(dyn Fn(&RiskDetection) -> bool + Sync),
    mut walk: CursorWalk,
    bypass: bool,
) -> DetectionPage {
    let providers = identity_providers(fed, tenant);
    let mut all_outcomes = Vec::new();
    let mut out = Vec::new();
    for _ in 0..crate::federation::MAX_STEPS_PER_PAGE {
        let (items, outcomes, next) = step(
            fed,
            tenant,
            &fed.cache.risk_detections,
            &providers,
            top as usize,
            &walk,
            bypass,
        )
        .await;
        all_outcomes = combine_outcomes(all_outcomes, outcomes);
        out.extend(
            items
                .into_iter()
                .map(|(p, d)| with_source(d, &p))
                .filter(|d| keep(d)),
        );
        let done = finished(&providers, &next);
        walk = next;
        if done || !out.is_empty() {
            return DetectionPage {
                detections: out,
                outcomes: all_outcomes,
                next: (!done).then_some(walk),
            };
        }
    }
    DetectionPage {
        detections: out,
        outcomes: all_outcomes,
        next: Some(walk),
    }
}

/// One risk detection by id from whichever provider has it (the first in provider order).
pub async fn get_detection(
    fed: &Federation,
    tenant: &str,
    id: &str,
) -> (Option<RiskDetection>, Vec<ProviderOutcome>) {
    let providers = identity_providers(fed, tenant);
    let targets = providers
        .iter()
        .map(|p| (p.clone(), id.to_string()))
        .collect();
    let answers = ask_each(fed, targets, |p, i| async move {
        p.get_risk_detection(&i).await
    })
    .await;
    let mut found = None;
    let mut outcomes = Vec::new();
    for (p, _, r, o) in answers {
        outcomes.push(o);
        if found.is_none()
            && let Ok(Some(d)) = r
        {
            found = Some(with_source(d, &p.info().name));
        }
    }
    (found, outcomes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn directory_finds_by_source_id_and_upn() {
        let u = |id: &str, upn: &str| RiskyUser {
            id: id.into(),
            user_principal_name: Some(upn.into()),
            ..RiskyUser::default()
        };
        let users = merge_risky_users(vec![
            SourcedRiskyUser {
                provider: "entra".into(),
                user: u("A", "kim@x"),
            },
            SourcedRiskyUser {
                provider: "ocsf".into(),
                user: u("b", "KIM@x"),
            },
        ]);
        let d = RiskDirectory::build(users, Vec::new());
        assert_eq!(d.users.len(), 1);
        assert_eq!(d.by_source("ocsf", "B").map(|u| u.id.as_str()), Some("A"));
        assert_eq!(d.find(Some("b"), None).map(|u| u.id.as_str()), Some("A"));
        assert_eq!(
            d.find(None, Some("kim@X")).map(|u| u.id.as_str()),
            Some("A")
        );
        assert!(d.by_source("entra", "b").is_none());
        assert!(d.complete());
    }

    #[test]
    fn walk_state_round_trips_compactly() {
        let w = CursorWalk::default();
        assert_eq!(serde_json::to_string(&w).unwrap(), "{}");
        let mut w = CursorWalk::default();
        w.cursors.insert("entra".into(), "c1".into());
        w.done.insert("ocsf".into());
        let back: CursorWalk = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(back, w);
    }
}
