//! The federation engine: one alert query answered from every provider of a tenant at once.
//!
//! # Paging across providers
//!
//! Graph applies `$top` per provider and returns the union, so a page holds up to
//! providers × `$top` alerts; we keep that. What Graph never had to solve is folding duplicates
//! across providers that page independently: if provider A's copy of a detection lands on page
//! 1 and provider B's on page 2, a naive walk shows the detection twice.
//!
//! So providers that can filter on `createdDateTime` (all built-in adapters) are walked
//! *time-aligned*: each page asks each of them for its newest `$top` alerts created before
//! that provider's bound, newest first. Let `T` be the newest "oldest item" among the providers
//! that returned a full page: every alert created at or after `T` has now been fetched from
//! every provider. A group of duplicates is emitted only when all its members were created at
//! or after `T + margin` (margin: twice the fingerprint window), since nothing unfetched can
//! join it; other fetched members created at or after `T` are *carried* in the skiptoken by id
//! and re-fetched on the next page; members created before `T` come back with the next page,
//! whose bound is `T`. A walk therefore emits every provider alert exactly once, and never
//! splits a group, provided each provider reports a detection within the margin of the others
//! (documented). Carrying is capped ([`MAX_CARRY`]); past it the page emits everything it
//! holds. A provider that cannot filter by creation time is walked with its own cursor and its
//! alerts are folded only with what shares its page.
//!
//! A provider that fails is reported (`206` + `Warning`, status block) and leaves the walk: the
//! caller learns the walk is partial on the page it failed, and a dead provider cannot make a
//! walk loop forever.
//!
//! # Ids
//!
//! The merge gives a single-source alert its provider's id and a folded one a UUID v5 of its
//! sources. The alert index keeps the first id an alert was shown under: a later list, GET,
//! replica or restart shows the same id, even when more sources have joined since.

use crate::fanout::{AnswerCache, CacheKey, CachedPage, ProviderOutcome};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;
use vigil_model::merge::{FingerprintRule, SourcedAlert, VigilSource, merge};
use vigil_model::query::{Filter, OrderBy, PushDown};
use vigil_model::{Alert, Timestamp};
use vigil_providers::{ListRequest, Provider};
use vigil_store::{AlertIndexEntry, AlertSource, Store};

/// At most this many provider alerts are carried from one page to the next.
pub const MAX_CARRY: usize = 200;

/// At most this many walk steps make one page.
pub const MAX_STEPS_PER_PAGE: usize = 8;

/// The outcomes of several steps of one page: a provider that failed in any step is reported
/// failed; otherwise the latest step's outcome, with latencies added up.
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

/// Providers per tenant.
#[derive(Clone, Default)]
pub struct Registry {
    by_tenant: HashMap<String, Vec<Arc<dyn Provider>>>,
}

impl Registry {
    pub fn new(providers: Vec<Arc<dyn Provider>>) -> Self {
        let mut by_tenant: HashMap<String, Vec<Arc<dyn Provider>>> = HashMap::new();
        for p in providers {
            by_tenant
                .entry(p.info().tenant_id.to_ascii_lowercase())
                .or_default()
                .push(p);
        }
        for v in by_tenant.values_mut() {
            v.sort_by(|a, b| a.info().name.cmp(&b.info().name));
        }
        Self { by_tenant }
    }

    /// The providers serving a tenant (tenant ids compare case-insensitively, as GUIDs).
    pub fn for_tenant(&self, tenant_id: &str) -> &[Arc<dyn Provider>] {
        self.by_tenant
            .get(&tenant_id.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.by_tenant.values().flatten()
    }

    pub fn tenants(&self) -> Vec<String> {
        let mut t: Vec<String> = self.by_tenant.keys().cloned().collect();
        t.sort();
        t
    }
}

/// Where a walk stands; carried in the skiptoken.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WalkState {
    /// Per time-aligned provider: only alerts created before this instant are still to come.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bounds: BTreeMap<String, Timestamp>,
    /// Per cursor-walked provider: its own cursor.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cursors: BTreeMap<String, String>,
    /// Providers that have nothing more to give (or failed).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub done: BTreeSet<String>,
    /// Provider alerts fetched but held back, as (provider, provider alert id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carry: Vec<(String, String)>,
    /// Items asked of each provider per step, when more than `$top` are needed: a step whose
    /// every alert had to be held back doubles it (see [`Federation::list_page`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<u32>,
}

/// A parsed alert query.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    pub filter: Option<Filter>,
    pub orderby: Option<OrderBy>,
    /// `$top`, per provider.
    pub top: u32,
    pub push_down: PushDown,
}

/// One federated page.
#[derive(Debug)]
pub struct AlertPage {
    /// Merged, filtered, ordered alerts.
    pub alerts: Vec<Alert>,
    pub outcomes: Vec<ProviderOutcome>,
    /// Where the next page starts; `None` at the end.
    pub next: Option<WalkState>,
    /// Every cached provider page the alerts came from, when they came from nothing else
    /// (no failed provider, no carried alert re-fetched): what a rendered answer depends on
    /// ([`crate::rendered`]).
    pub pages: Option<Vec<(CacheKey, Weak<CachedPage>)>>,
}

/// Errors of the engine (provider failures are outcomes, not errors).
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("alert index: {0}")]
    Store(#[from] vigil_store::StoreError),
    #[error("a federation task failed: {0}")]
    Task(String),
}

/// The engine.
pub struct Federation {
    pub registry: Registry,
    pub cache: AnswerCache,
    pub store: Arc<dyn Store>,
    pub rule: FingerprintRule,
    pub timeout: Duration,
    /// Providers asked at once by one request (`limits.max_concurrent_providers`): a tenant
    /// with many providers cannot make one request open unbounded upstream connections.
    pub max_concurrent_providers: usize,
}

fn created(a: &Alert) -> Option<Timestamp> {
    a.created_date_time
}

/// One 100 ns tick: the precision of Graph timestamps.
fn tick_after(t: Timestamp) -> Timestamp {
    Timestamp::from_utc(t.0 + chrono::Duration::nanoseconds(100))
}

fn odata_datetime(t: Timestamp) -> String {
    t.to_wire()
}

impl Federation {
    fn aligned(p: &Arc<dyn Provider>) -> bool {
        p.capabilities().push_down.created_range
    }

    /// The request for one provider on this page.
    fn request_for(&self, p: &Arc<dyn Provider>, q: &AlertQuery, state: &WalkState) -> ListRequest {
        let caps = p.capabilities();
        let name = &p.info().name;
        let mut push_down = q.push_down.clone();
        let bound = state.bounds.get(name).copied();
        let mut req = ListRequest {
            page_size: (q.top.max(state.fetch.unwrap_or(0)) as usize)
                .min(caps.max_page_size.max(1)),
            cursor: None,
            push_down: PushDown::default(),
            odata_filter: None,
            odata_orderby: None,
        };
        if Self::aligned(p) {
            if let Some(b) = bound {
                push_down.created_before = Some(match push_down.created_before {
                    Some(c) if c < b => c,
                    _ => b,
                });
            }
        } else {
            req.cursor = state.cursors.get(name).cloned();
        }
        if caps.push_down.odata_filter {
            let mut terms: Vec<String> = Vec::new();
            if let Some(f) = &q.filter {
                terms.push(format!("({})", f.to_odata()));
            }
            if let Some(b) = push_down
                .created_before
                .filter(|_| bound.is_some() && Self::aligned(p))
            {
                terms.push(format!("createdDateTime lt {}", odata_datetime(b)));
            }
            req.odata_filter = (!terms.is_empty()).then(|| terms.join(" and "));
        }
        if caps.push_down.odata_orderby && Self::aligned(p) {
            req.odata_orderby = Some("createdDateTime desc".to_string());
        }
        let s = caps.push_down;
        req.push_down = PushDown {
            statuses: if s.statuses {
                push_down.statuses
            } else {
                Vec::new()
            },
            severities: if s.severities {
                push_down.severities
            } else {
                Vec::new()
            },
            created_from: push_down.created_from.filter(|_| s.created_range),
            created_before: push_down.created_before.filter(|_| s.created_range),
        };
        req
    }

    /// One page of the federated walk. When every fetched alert had to be held back (a small
    /// `$top` over dense providers), the walk steps on, at most [`MAX_STEPS_PER_PAGE`] times,
    /// so that a page is empty only at the end of the walk or when nothing matches.
    pub async fn list_page(
        &self,
        tenant_id: &str,
        q: &AlertQuery,
        state: WalkState,
        bypass_cache: bool,
    ) -> Result<AlertPage, FederationError> {
        let mut page = self.step(tenant_id, q, state, bypass_cache).await?;
        let mut steps = 1;
        while page.alerts.is_empty() && steps < MAX_STEPS_PER_PAGE {
            let Some(next) = page.next.take() else { break };
            let more = self.step(tenant_id, q, next, bypass_cache).await?;
            page = AlertPage {
                alerts: more.alerts,
                outcomes: combine_outcomes(page.outcomes, more.outcomes),
                next: more.next,
                pages: page.pages.zip(more.pages).map(|(mut a, b)| {
                    a.extend(b);
                    a
                }),
            };
            steps += 1;
        }
        Ok(page)
    }

    /// One step of the walk: one request to each provider still walking.
    async fn step(
        &self,
        tenant_id: &str,
        q: &AlertQuery,
        mut state: WalkState,
        bypass_cache: bool,
    ) -> Result<AlertPage, FederationError> {
        let providers: Vec<Arc<dyn Provider>> = self
            .registry
            .for_tenant(tenant_id)
            .iter()
            .filter(|p| p.capabilities().alerts && !state.done.contains(&p.info().name))
            .cloned()
            .collect();

        let carried = std::mem::take(&mut state.carry);
        let gate = tokio::sync::Semaphore::new(self.max_concurrent_providers.max(1));
        let gate = &gate;
        let calls = providers.iter().map(|p| {
            let req = self.request_for(p, q, &state);
            async move {
                // The semaphore is never closed; a failed acquire just runs unbounded.
                let _permit = gate.acquire().await.ok();
                let (page, outcome) = self
                    .cache
                    .list(tenant_id, p, req.clone(), self.timeout, bypass_cache)
                    .await;
                // Copied for the merge as soon as it is here, while slower providers are
                // still answering.
                let copy = page
                    .as_ref()
                    .filter(|_| !outcome.failed())
                    .map(|page| copy_page(p.info().name.clone(), page.clone()));
                (p.clone(), req, page, outcome, copy)
            }
        });
        let (answers, carried_alerts) = tokio::join!(
            futures::future::join_all(calls),
            self.fetch_carried(tenant_id, carried, gate)
        );

        let mut outcomes = Vec::with_capacity(answers.len());
        // Carried alerts are fetched past the page cache: such a page is not rendered twice.
        let mut pages = carried_alerts.is_empty().then(Vec::new);
        let mut items: Vec<SourcedAlert> = carried_alerts;
        // The cut: the newest "oldest item" among aligned providers that returned a full page.
        let mut cut: Option<Timestamp> = None;
        let mut next = state.clone();
        let mut copies = Vec::with_capacity(answers.len());
        for (p, req, page, outcome, copy) in answers {
            let name = p.info().name.clone();
            let failed = outcome.failed();
            outcomes.push(outcome);
            if failed {
                pages = None;
                next.done.insert(name);
                continue;
            }
            let (Some(page), Some(copy)) = (page, copy) else {
                // A provider's 404: nothing there (and nothing cached).
                pages = None;
                next.done.insert(name);
                continue;
            };
            if let Some(used) = &mut pages {
                used.push((
                    self.cache.alert_key(tenant_id, &name, req.clone()),
                    Arc::downgrade(&page),
                ));
            }
            let page_items = &page.page.items;
            if Self::aligned(&p) {
                let full = page_items.len() >= req.page_size && req.page_size > 0;
                let oldest = page_items.iter().filter_map(created).min();
                match (full, oldest) {
                    (true, Some(o)) => {
                        cut = Some(cut.map_or(o, |c: Timestamp| c.max(o)));
                    }
                    _ => {
                        next.done.insert(name.clone());
                    }
                }
            } else {
                match &page.page.next_cursor {
                    Some(c) => {
                        next.cursors.insert(name.clone(), c.clone());
                    }
                    None => {
                        next.done.insert(name.clone());
                    }
                }
            }
            copies.push(copy);
        }
        for copy in copies {
            // Only a panic fails a copy: the page is refused rather than shown without the
            // alerts the walk already counts as seen.
            items.extend(
                copy.await
                    .map_err(|e| FederationError::Task(e.to_string()))?,
            );
        }

        let margin = chrono::Duration::seconds(
            i64::try_from(self.rule.window_seconds.saturating_mul(2)).unwrap_or(i64::MAX / 4),
        );
        let merged = merge(items, &self.rule);
        // A held-back alert comes back by itself only from an aligned provider that is still
        // walking, and only when it was created before the cut; anything else is carried.
        let walking: BTreeSet<&str> = providers
            .iter()
            .filter(|p| Self::aligned(p) && !next.done.contains(&p.info().name))
            .map(|p| p.info().name.as_str())
            .collect();
        let (emit, carry) = match cut {
            None => (merged, Vec::new()),
            Some(t) => split_at_cut(merged, t, margin, |provider, created| {
                walking.contains(provider) && created.is_some_and(|c| c < t)
            }),
        };
        // Progress: when every fetched alert had to be held back (providers so dense that
        // `$top` alerts span less than the margin), the next step asks for twice as many; once
        // that reaches the largest page, the held-back alerts are emitted as they are (a group
        // may then be split across pages). So every walk ends.
        let fetched = q.top.max(state.fetch.unwrap_or(0));
        let stalled = emit.is_empty() && !carry.is_empty();
        let can_grow = fetched < vigil_model::query::MAX_TOP;
        if stalled && can_grow {
            next.fetch = Some(fetched.saturating_mul(2).min(vigil_model::query::MAX_TOP));
        }
        let (alerts, carry) = if carry.len() > MAX_CARRY || (stalled && !can_grow) {
            tracing::warn!(
                carried = carry.len(),
                "carry cap reached; emitting held-back alerts"
            );
            let mut all = emit;
            all.extend(carry.into_iter().map(|(a, _)| a));
            (all, Vec::new())
        } else {
            (emit, carry)
        };
        next.carry = carry.into_iter().flat_map(|(_, members)| members).collect();
        next.carry.sort();
        next.carry.dedup();
        if let Some(t) = cut {
            let bound = tick_after(t);
            for name in &walking {
                next.bounds.insert((*name).to_string(), bound);
            }
        }

        let mut alerts = self.assign_stable_ids(tenant_id, alerts).await?;
        if let Some(f) = &q.filter {
            // Evaluated on the properties the filter reads, not the whole alert's JSON.
            let f = f.for_items();
            alerts.retain(|a| f.matches(a));
        }
        let finished =
            providers.iter().all(|p| next.done.contains(&p.info().name)) && next.carry.is_empty();
        Ok(AlertPage {
            alerts,
            outcomes,
            next: (!finished).then_some(next),
            pages,
        })
    }

    /// Re-fetches alerts carried from the previous page, by id, concurrently.
    async fn fetch_carried(
        &self,
        tenant_id: &str,
        carried: Vec<(String, String)>,
        gate: &tokio::sync::Semaphore,
    ) -> Vec<SourcedAlert> {
        let providers = self.registry.for_tenant(tenant_id);
        let calls = carried.into_iter().filter_map(|(prov, id)| {
            let p = providers.iter().find(|p| p.info().name == prov)?.clone();
            let timeout = self.timeout;
            Some(async move {
                let _permit = gate.acquire().await.ok();
                let r = self
                    .cache
                    .resilience
                    .call(p.info(), timeout, true, || p.get_alert(&id))
                    .await;
                match r {
                    Ok(Some(alert)) => Some(SourcedAlert {
                        provider: prov,
                        alert,
                    }),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(provider = %prov, error = %e, "carried alert not re-fetched");
                        None
                    }
                }
            })
        });
        futures::future::join_all(calls)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// Replaces merge ids by the ids the alert index already knows, and records new ones:
    /// one store round trip per page, never one per alert.
    pub async fn assign_stable_ids(
        &self,
        tenant_id: &str,
        mut alerts: Vec<Alert>,
    ) -> Result<Vec<Alert>, FederationError> {
        if alerts.is_empty() {
            return Ok(alerts);
        }
        let now = chrono::Utc::now();
        let mut entries = Vec::new();
        let mut sources_per_alert = Vec::with_capacity(alerts.len());
        for a in &alerts {
            let sources = VigilSource::of(a);
            for s in &sources {
                entries.push(AlertIndexEntry {
                    unified_id: a.id.clone(),
                    provider: s.provider.clone(),
                    provider_alert_id: s.provider_alert_id.clone(),
                    fingerprint: None,
                    last_seen: now,
                });
            }
            sources_per_alert.push(sources);
        }
        // Every copy already indexed (and remembered): no store round trip.
        let known = match self.cache.known_ids.lookup(tenant_id, &entries).await {
            Some(known) => known,
            None => {
                let generation = self.cache.known_ids.generation();
                let known = self.store.index_alerts(tenant_id, &entries).await?;
                self.cache
                    .known_ids
                    .remember(generation, tenant_id, &known)
                    .await;
                known
            }
        };
        let mut remaps: Vec<AlertIndexEntry> = Vec::new();
        for (a, sources) in alerts.iter_mut().zip(&sources_per_alert) {
            // The oldest id any of its sources was shown under wins; ties by the id itself.
            let stored: BTreeSet<&String> = sources
                .iter()
                .filter_map(|s| known.get(&AlertSource::new(&s.provider, &s.provider_alert_id)))
                .filter(|id| **id != a.id)
                .collect();
            if let Some(existing) = stored.into_iter().next() {
                a.id = existing.clone();
                for s in sources {
                    let current = known.get(&AlertSource::new(&s.provider, &s.provider_alert_id));
                    if current != Some(&a.id) {
                        remaps.push(AlertIndexEntry {
                            unified_id: a.id.clone(),
                            provider: s.provider.clone(),
                            provider_alert_id: s.provider_alert_id.clone(),
                            fingerprint: None,
                            last_seen: now,
                        });
                    }
                }
            }
        }
        if !remaps.is_empty() {
            self.store.reassign_alerts(tenant_id, &remaps).await?;
            // Ids changed: what this and every other replica remembers of them is stale.
            self.cache.rendered.invalidate_all();
            if let Err(e) = self.store.notify_invalidation(tenant_id).await {
                tracing::warn!(error = %e, "could not notify other replicas of reassigned ids");
            }
        }
        Ok(alerts)
    }
}

/// The merge takes its alerts by value and the cache keeps its pages: each page is copied on
/// its own task, so a wide fan-out's copying runs on every core (and as a single-page list
/// costs one task hop).
fn copy_page(
    provider: String,
    page: Arc<CachedPage>,
) -> tokio::task::JoinHandle<Vec<SourcedAlert>> {
    tokio::spawn(async move {
        page.page
            .items
            .iter()
            .map(|a| SourcedAlert {
                provider: provider.clone(),
                alert: a.clone(),
            })
            .collect()
    })
}

/// Splits merged alerts into those safe to emit and those held back, with the members to
/// carry: every member of a folded group (re-fetching one twice is harmless: the merge drops
/// exact duplicates), and a lone alert unless `refetched(provider, created)` says the next page
/// brings it back anyway.
/// A held-back alert and the (provider, provider alert id) members to carry for it.
type Held = (Alert, Vec<(String, String)>);

fn split_at_cut(
    merged: Vec<Alert>,
    cut: Timestamp,
    margin: chrono::Duration,
    refetched: impl Fn(&str, Option<Timestamp>) -> bool,
) -> (Vec<Alert>, Vec<Held>) {
    let safe_from = Timestamp::from_utc(cut.0 + margin);
    let mut emit = Vec::with_capacity(merged.len());
    let mut carry = Vec::new();
    for a in merged {
        // The group's oldest creation time (the fold keeps the earliest). Alerts without one
        // cannot be aligned: emit them.
        match a.created_date_time {
            Some(o) if o < safe_from => {
                let sources = VigilSource::of(&a);
                let keep: Vec<(String, String)> = if sources.len() <= 1 {
                    let provider = source_provider(&a, &sources);
                    if refetched(&provider, a.created_date_time) {
                        Vec::new()
                    } else {
                        vec![(provider, a.id.clone())]
                    }
                } else {
                    sources
                        .iter()
                        .map(|s| (s.provider.clone(), s.provider_alert_id.clone()))
                        .collect()
                };
                carry.push((a, keep));
            }
            _ => emit.push(a),
        }
    }
    (emit, carry)
}

fn source_provider(a: &Alert, sources: &[VigilSource]) -> String {
    sources
        .first()
        .map(|s| s.provider.clone())
        .or_else(|| a.vendor_information.provider.clone())
        .unwrap_or_default()
}
