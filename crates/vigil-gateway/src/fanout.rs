//! Asking providers: one call per provider, each under its own timeout, answers cached.
//!
//! The cache holds each provider's answer under (tenant, provider, pushed-down request), so two
//! callers asking the same thing share it, and identical concurrent misses share one upstream
//! call (moka's `try_get_with` runs one init future per key and hands its result to every
//! waiter). Failures are not cached. The cache is bounded by the bytes of the cached answers (a
//! weigher over the serialized size), not by an entry count: one provider's 1000-alert page and
//! another's 3-alert page are not the same cost.
//!
//! The same machinery serves every federated collection: [`PageCache`] is generic over the page
//! item type, and [`AnswerCache`] holds one per collection (alerts, risky users, risk
//! detections), each with its own share of the byte budget, all invalidated together per tenant
//! after a write.
//!
//! Every call yields a [`ProviderOutcome`] for the per-provider status block and the `Warning`
//! headers, answered or not.
//!
//! Every upstream call goes through [`crate::resilience`] (bulkhead, Retry-After, breaker, rate
//! budget, deadline, one retry). Stale-if-error: each good answer is also kept in a second,
//! byte-bounded map past the cache TTL (up to `resilience.max_stale_secs`); when the provider
//! then fails, that answer is served with the outcome `state: "stale"` (its age in
//! `cacheAgeMs`, the failure in `status`/`error`) and a `Warning: 110 - "…"`: the data is all
//! there, so the answer stays `200`, and the stale provider is named. A write invalidates it
//! like the cache.

use crate::resilience::Resilience;
use futures::future::BoxFuture;
use moka::future::Cache;
use serde::Serialize;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_model::{Alert, RiskDetection, RiskyUser};
use vigil_providers::{ListRequest, Page, Provider, ProviderError, ProviderErrorKind};

/// The key of one cached provider answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub tenant_id: String,
    pub provider: String,
    pub request: ListRequest,
    /// The tenant's write generation when the answer was asked for. A write moves the tenant
    /// to the next generation before it drops the cached answers, so an answer that was
    /// still in flight during the write (and lands in the cache after the invalidation) is
    /// never found again: a read after a write cannot see the state before it.
    pub generation: u64,
}

/// One provider's cached answer.
#[derive(Debug)]
pub struct CachedPage<T = Alert> {
    pub page: Page<T>,
    pub fetched_at: Instant,
    /// Approximate memory cost, for the weigher.
    pub weight: u32,
}

/// What happened when one provider was asked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderOutcome {
    /// The configured provider instance name.
    pub provider: String,
    pub vendor: String,
    pub product: String,
    /// `answered`; `stale` (it failed, its last good answer is served); or why not:
    /// `timeout`, `error`.
    pub state: &'static str,
    /// HTTP status Graph would report for it (200 when answered).
    pub status: u16,
    pub latency_ms: u64,
    pub from_cache: bool,
    /// Age of the cached answer, when served from the cache.
    pub cache_age_ms: Option<u64>,
    /// Items this provider contributed before merging.
    pub items: usize,
    /// Why it failed (no secrets: provider errors never carry credentials).
    pub error: Option<String>,
}

impl ProviderOutcome {
    pub fn failed(&self) -> bool {
        self.state != "answered" && !self.is_stale()
    }

    /// Failed, but its last good answer was served.
    pub fn is_stale(&self) -> bool {
        self.state == "stale"
    }

    /// Graph's `Warning` entry: `199 - "{vendor}/{provider}/{status}/{latencyMs}"`; for a stale
    /// answer the code is `110` (RFC 7234's "Response is Stale").
    pub fn warning(&self) -> String {
        format!(
            "{} - \"{}/{}/{}/{}\"",
            if self.is_stale() { 110 } else { 199 },
            sanitize(&self.vendor),
            sanitize(&self.provider),
            self.status,
            self.latency_ms
        )
    }
}

/// Keeps a header value printable and free of the quote that delimits it.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '"' || c == '\\' || !(' '..='~').contains(&c) {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// One provider call that yields a page (the collection-specific part of a fetch).
pub type PageFetch<T> =
    fn(Arc<dyn Provider>, ListRequest) -> BoxFuture<'static, Result<Page<T>, ProviderError>>;

/// A provider-answer cache for one collection whose items are `T`.
pub struct PageCache<T> {
    cache: Cache<CacheKey, Arc<CachedPage<T>>>,
    fetch: PageFetch<T>,
    resilience: Arc<Resilience>,
    /// The last good answer per key, kept past the TTL for stale-if-error.
    last_good: Option<Cache<CacheKey, Arc<CachedPage<T>>>>,
    /// Write generation per tenant (lower case); see [`CacheKey::generation`].
    generations: Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>>,
}

impl<T> Clone for PageCache<T> {
    fn clone(&self) -> Self {
        Self {
            cache: self.cache.clone(),
            fetch: self.fetch,
            resilience: self.resilience.clone(),
            last_good: self.last_good.clone(),
            generations: self.generations.clone(),
        }
    }
}

/// Heap bytes (in tenths) a parsed item takes per byte of its JSON, beyond the item itself (measured: the
/// `weigh` test asserts the weight of parsed alert pages is within [1, 1.6] × the memory they
/// take): strings, vectors and maps cost more in memory than their JSON text.
pub const HEAP_PER_JSON_BYTE_TENTHS: usize = 22;

/// Counts bytes written, keeps none.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Items of a page serialized to weigh it; a larger page is weighed by an evenly spaced
/// sample of this many (items of one product's page are alike in size, and weighing every one
/// cost a twentieth of an uncached list's CPU).
const WEIGHED_ITEMS: usize = 16;

/// The memory a cached page holds, estimated from its serialized size (counted, not
/// allocated; extrapolated from [`WEIGHED_ITEMS`] items on larger pages) times
/// [`HEAP_PER_JSON_BYTE_TENTHS`] / 10, plus the items themselves.
pub fn weight_of<T: Serialize>(page: &Page<T>) -> u32 {
    let n = page.items.len();
    let step = n.div_ceil(WEIGHED_ITEMS).max(1);
    let mut c = Counter(0);
    let mut weighed = 0usize;
    for item in page.items.iter().step_by(step) {
        weighed += 1;
        if serde_json::to_writer(&mut c, item).is_err() {
            c.0 += 1024;
        }
    }
    let json_bytes = match weighed {
        0 => 0,
        w => c.0.saturating_mul(n) / w,
    };
    let bytes = (json_bytes.saturating_mul(HEAP_PER_JSON_BYTE_TENTHS) / 10)
        .saturating_add(page.items.capacity() * std::mem::size_of::<T>())
        .saturating_add(256);
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

impl<T> PageCache<T>
where
    T: Serialize + Send + Sync + 'static,
{
    /// `stale_bytes` 0: no stale-if-error.
    pub fn new(
        ttl: Duration,
        max_bytes: u64,
        fetch: PageFetch<T>,
        resilience: Arc<Resilience>,
        stale_bytes: u64,
    ) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_k: &CacheKey, v: &Arc<CachedPage<T>>| v.weight)
            .time_to_live(ttl)
            .build();
        let max_stale = Duration::from_secs(resilience.config().max_stale_secs.max(1));
        let last_good = (stale_bytes > 0).then(|| {
            Cache::builder()
                .max_capacity(stale_bytes)
                .weigher(|_k: &CacheKey, v: &Arc<CachedPage<T>>| v.weight)
                .time_to_live(max_stale)
                .build()
        });
        Self {
            cache,
            fetch,
            resilience,
            last_good,
            generations: Arc::default(),
        }
    }

    /// The key `provider`'s answer to `request` is filed under now.
    fn key(&self, tenant_id: &str, provider: &str, request: ListRequest) -> CacheKey {
        CacheKey {
            tenant_id: tenant_id.to_string(),
            provider: provider.to_string(),
            request,
            generation: self.generation(tenant_id),
        }
    }

    fn generation(&self, tenant_id: &str) -> u64 {
        let map = self
            .generations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&tenant_id.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// Age of the newest answer cached for (tenant, provider), if any.
    pub fn newest_age(&self, tenant_id: &str, provider: &str) -> Option<Duration> {
        self.cache
            .iter()
            .filter(|(k, _)| k.provider == provider && k.tenant_id.eq_ignore_ascii_case(tenant_id))
            .map(|(_, v)| v.fetched_at.elapsed())
            .min()
    }

    /// Bytes currently held (moka applies inserts and evictions lazily: they are applied first).
    pub async fn weighted_size(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.weighted_size()
    }

    /// Forgets everything cached for a tenant (after a write).
    pub async fn invalidate_tenant(&self, tenant_id: &str) {
        *self
            .generations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(tenant_id.to_ascii_lowercase())
            .or_default() += 1;
        // Predicate invalidation needs support_invalidation_closures; a scan is cheap at our
        // sizes (entries are pages, not items) and keeps the cache builder simple.
        let keys: Vec<Arc<CacheKey>> = self
            .cache
            .iter()
            .filter(|(k, _)| k.tenant_id.eq_ignore_ascii_case(tenant_id))
            .map(|(k, _)| k)
            .collect();
        for k in keys {
            self.cache.invalidate(k.as_ref()).await;
        }
        if let Some(last_good) = &self.last_good {
            let keys: Vec<Arc<CacheKey>> = last_good
                .iter()
                .filter(|(k, _)| k.tenant_id.eq_ignore_ascii_case(tenant_id))
                .map(|(k, _)| k)
                .collect();
            for k in keys {
                last_good.invalidate(k.as_ref()).await;
            }
        }
    }

    /// Asks `provider`, through the cache unless `bypass`, bounded by `timeout`.
    pub async fn list(
        &self,
        tenant_id: &str,
        provider: &Arc<dyn Provider>,
        request: ListRequest,
        timeout: Duration,
        bypass: bool,
    ) -> (Option<Arc<CachedPage<T>>>, ProviderOutcome) {
        let info = provider.info();
        let key = self.key(tenant_id, &info.name, request);
        let started = Instant::now();
        let stale_key = self.last_good.as_ref().map(|_| key.clone());
        let fetch = {
            let info_name = info.name.clone();
            let provider = provider.clone();
            let request = key.request.clone();
            let call = self.fetch;
            let resilience = self.resilience.clone();
            let last_good = self.last_good.clone().zip(stale_key.clone());
            async move {
                // Its own task: the answers of many providers are parsed and weighed on every
                // worker thread at once, not one after the other on the request's task.
                let task = tokio::spawn(async move {
                    let page = resilience
                        .call(provider.info(), timeout, true, || {
                            call(provider.clone(), request.clone())
                        })
                        .await?;
                    let weight = weight_of(&page);
                    let cached = Arc::new(CachedPage {
                        page,
                        fetched_at: Instant::now(),
                        weight,
                    });
                    if let Some((last_good, key)) = last_good {
                        last_good.insert(key, cached.clone()).await;
                    }
                    Ok::<_, ProviderError>(cached)
                });
                match task.await {
                    Ok(r) => r,
                    Err(e) => Err(ProviderError::new(
                        info_name,
                        ProviderErrorKind::Upstream {
                            status: 502,
                            message: format!("the provider call did not complete: {e}"),
                        },
                    )),
                }
            }
        };
        let (result, from_cache) = if bypass {
            let r = fetch.await;
            if let Ok(p) = &r {
                self.cache.insert(key, p.clone()).await;
            }
            (r, false)
        } else {
            let inserted = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = inserted.clone();
            let r = self
                .cache
                .try_get_with(key, async move {
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                    fetch.await
                })
                .await
                .map_err(|e: Arc<ProviderError>| (*e).clone());
            // Only the caller whose future ran fetched; waiters of a shared miss got the
            // fresh answer too, so they report it as not cached if it is younger than the call.
            let ran_here = inserted.load(std::sync::atomic::Ordering::Relaxed);
            let cached = match &r {
                Ok(p) => !ran_here && p.fetched_at < started,
                Err(_) => false,
            };
            (r, cached)
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut outcome = ProviderOutcome {
            provider: info.name.clone(),
            vendor: info.vendor.clone(),
            product: info.product.clone(),
            state: "answered",
            status: 200,
            latency_ms,
            from_cache,
            cache_age_ms: None,
            items: 0,
            error: None,
        };
        let answer = match result {
            Ok(page) => {
                outcome.items = page.page.items.len();
                if from_cache {
                    outcome.cache_age_ms =
                        Some(u64::try_from(page.fetched_at.elapsed().as_millis()).unwrap_or(0));
                }
                (Some(page), outcome)
            }
            Err(e) if matches!(e.kind, ProviderErrorKind::NotFound) => {
                // Graph: a provider's 404 is a normal, empty answer.
                (None, outcome)
            }
            Err(e) => {
                outcome.record_failure(&e);
                tracing::warn!(provider = %info.name, error = %e, "provider call failed");
                match self.stale_answer(stale_key.as_ref(), &e).await {
                    Some(page) => {
                        outcome.state = "stale";
                        outcome.from_cache = true;
                        outcome.cache_age_ms =
                            Some(u64::try_from(page.fetched_at.elapsed().as_millis()).unwrap_or(0));
                        outcome.items = page.page.items.len();
                        (Some(page), outcome)
                    }
                    None => (None, outcome),
                }
            }
        };
        crate::metrics::provider_call(tenant_id, &answer.1, !bypass);
        answer
    }

    /// The last good answer for `key`, when stale-if-error applies to `e`.
    async fn stale_answer(
        &self,
        key: Option<&CacheKey>,
        e: &ProviderError,
    ) -> Option<Arc<CachedPage<T>>> {
        let (last_good, key) = self.last_good.as_ref().zip(key)?;
        if !e.is_transient() {
            return None;
        }
        last_good.get(key).await
    }
}

impl ProviderOutcome {
    /// An answered outcome for `provider`, before anything is known of the call.
    pub fn answered(provider: &dyn Provider, latency: Duration) -> Self {
        let info = provider.info();
        ProviderOutcome {
            provider: info.name.clone(),
            vendor: info.vendor.clone(),
            product: info.product.clone(),
            state: "answered",
            status: 200,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            from_cache: false,
            cache_age_ms: None,
            items: 0,
            error: None,
        }
    }

    /// Marks the outcome failed with `e` (timeout or error, with Graph's status for it).
    pub fn record_failure(&mut self, e: &ProviderError) {
        self.state = if matches!(e.kind, ProviderErrorKind::Timeout(_)) {
            "timeout"
        } else {
            "error"
        };
        self.status = e.warning_status();
        self.error = Some(e.kind.to_string());
    }
}

fn fetch_alerts(
    p: Arc<dyn Provider>,
    req: ListRequest,
) -> BoxFuture<'static, Result<Page<Alert>, ProviderError>> {
    Box::pin(async move { p.list_alerts(&req).await })
}

fn fetch_risky_users(
    p: Arc<dyn Provider>,
    req: ListRequest,
) -> BoxFuture<'static, Result<Page<RiskyUser>, ProviderError>> {
    Box::pin(async move { p.list_risky_users(&req).await })
}

fn fetch_risk_detections(
    p: Arc<dyn Provider>,
    req: ListRequest,
) -> BoxFuture<'static, Result<Page<RiskDetection>, ProviderError>> {
    Box::pin(async move { p.list_risk_detections(&req).await })
}

/// Risk directories kept at once (one per tenant; they hold what the identity page caches
/// hold, folded, so they are bounded by count rather than bytes).
const MAX_DIRECTORIES: u64 = 1024;

/// Longest a rendered list answer is kept (it is checked against its pages anyway).
const RENDERED_TTL: Duration = Duration::from_secs(30);

/// The provider-answer caches, one per federated collection.
///
/// Alerts get three quarters of the byte budget; identity collections (far fewer, smaller
/// items) share the rest.
#[derive(Clone)]
pub struct AnswerCache {
    alerts: PageCache<Alert>,
    pub risky_users: PageCache<RiskyUser>,
    pub risk_detections: PageCache<RiskDetection>,
    /// Per tenant (lower case): every risky user, folded ([`crate::identity::RiskDirectory`]).
    pub risk_directory: Cache<String, Arc<crate::identity::RiskDirectory>>,
    /// Per-provider protection, shared by every collection and by get-by-id.
    pub resilience: Arc<Resilience>,
    /// Rendered list answers ([`crate::rendered`]).
    pub rendered: crate::rendered::RenderedCache,
    /// The alert index's answers, in memory ([`crate::rendered::KnownIds`]).
    pub known_ids: crate::rendered::KnownIds,
}

impl AnswerCache {
    pub fn new(ttl: Duration, max_bytes: u64, resilience: Arc<Resilience>) -> Self {
        // `cache.max_bytes` bounds everything cached: fresh answers, the rendered lists and the
        // stale-if-error copies (at most an eighth, or `resilience.stale_max_bytes` if smaller;
        // a copy shared with the fresh cache is counted twice, so the bound errs on the safe
        // side).
        let identity_share = (max_bytes / 8).max(1);
        let stale = match resilience.config().stale_if_error {
            true => resilience.config().stale_max_bytes.min(max_bytes / 8),
            false => 0,
        };
        let r = || resilience.clone();
        let rendered_share = (max_bytes / 8).max(1);
        let generation = crate::rendered::Generation::default();
        Self {
            alerts: PageCache::new(
                ttl,
                max_bytes
                    .saturating_sub(2 * identity_share + rendered_share + stale)
                    .max(1),
                fetch_alerts,
                r(),
                stale - 2 * (stale / 8),
            ),
            rendered: crate::rendered::RenderedCache::new(
                ttl.min(RENDERED_TTL),
                rendered_share,
                generation.clone(),
            ),
            known_ids: crate::rendered::KnownIds::new(generation),
            risky_users: PageCache::new(ttl, identity_share, fetch_risky_users, r(), stale / 8),
            risk_detections: PageCache::new(
                ttl,
                identity_share,
                fetch_risk_detections,
                r(),
                stale / 8,
            ),
            resilience,
            risk_directory: Cache::builder()
                .max_capacity(MAX_DIRECTORIES)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Bytes currently held (pending inserts and evictions applied first).
    pub async fn weighted_size(&self) -> u64 {
        self.alerts.weighted_size().await
            + self.risky_users.weighted_size().await
            + self.risk_detections.weighted_size().await
            + self.rendered.weighted_size()
    }

    /// Age of the newest answer any collection holds for (tenant, provider).
    pub fn newest_age(&self, tenant_id: &str, provider: &str) -> Option<Duration> {
        [
            self.alerts.newest_age(tenant_id, provider),
            self.risky_users.newest_age(tenant_id, provider),
            self.risk_detections.newest_age(tenant_id, provider),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The tenant's write generation: it moves (before anything is marked written) on every
    /// write and delivery, so a reader that sees it unchanged across a fetch and the store
    /// read after it has copies no older than the sync states it read.
    pub fn write_generation(&self, tenant_id: &str) -> u64 {
        self.alerts.generation(tenant_id)
    }

    /// The key the alert cache files `provider`'s answer to `request` under, now.
    pub fn alert_key(&self, tenant_id: &str, provider: &str, request: ListRequest) -> CacheKey {
        self.alerts.key(tenant_id, provider, request)
    }

    /// The cached alert page under `key`, without asking anyone.
    pub async fn peek(&self, key: &CacheKey) -> Option<Arc<CachedPage>> {
        self.alerts.cache.get(key).await
    }

    /// Forgets everything cached for a tenant (after a write), in every collection.
    pub async fn invalidate_tenant(&self, tenant_id: &str) {
        // Rendered answers and known ids of every tenant (a counter: cheap, and writes are rare).
        self.rendered.invalidate_all();
        self.alerts.invalidate_tenant(tenant_id).await;
        self.risky_users.invalidate_tenant(tenant_id).await;
        self.risk_detections.invalidate_tenant(tenant_id).await;
        self.risk_directory
            .invalidate(&tenant_id.to_ascii_lowercase())
            .await;
    }

    /// Asks `provider` for alerts, through the cache unless `bypass`, bounded by `timeout`.
    pub async fn list(
        &self,
        tenant_id: &str,
        provider: &Arc<dyn Provider>,
        request: ListRequest,
        timeout: Duration,
        bypass: bool,
    ) -> (Option<Arc<CachedPage>>, ProviderOutcome) {
        self.alerts
            .list(tenant_id, provider, request, timeout, bypass)
            .await
    }
}

/// A stable hash of a value, for cache keys and ETags.
pub fn stable_hash<T: Hash>(t: &T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A provider whose list calls wait until the test lets them answer (the unit here is the
    /// cache's ordering against a write, which needs control over when an answer lands).
    struct Gated {
        info: vigil_providers::ProviderInfo,
        capabilities: vigil_providers::Capabilities,
        calls: std::sync::atomic::AtomicUsize,
        gate: tokio::sync::Semaphore,
    }

    #[async_trait::async_trait]
    impl Provider for Gated {
        fn info(&self) -> &vigil_providers::ProviderInfo {
            &self.info
        }
        fn capabilities(&self) -> &vigil_providers::Capabilities {
            &self.capabilities
        }
        async fn list_alerts(&self, _req: &ListRequest) -> Result<Page<Alert>, ProviderError> {
            let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            self.gate
                .acquire()
                .await
                .map_err(|_| ProviderError::new("gated", ProviderErrorKind::NotFound))?
                .forget();
            let alert = Alert {
                id: format!("answer-{n}"),
                ..Alert::default()
            };
            Ok(Page {
                items: vec![alert],
                next_cursor: None,
            })
        }
        async fn get_alert(&self, _id: &str) -> Result<Option<Alert>, ProviderError> {
            Ok(None)
        }
        async fn update_alert(
            &self,
            _id: &str,
            _change: &vigil_providers::AlertChange,
        ) -> Result<(), ProviderError> {
            Ok(())
        }
        async fn health(&self) -> vigil_providers::Health {
            vigil_providers::Health {
                healthy: true,
                latency: Duration::ZERO,
                detail: None,
            }
        }
    }

    #[tokio::test]
    async fn an_answer_in_flight_during_a_write_is_not_served_after_it() {
        let gated = Arc::new(Gated {
            info: vigil_providers::ProviderInfo {
                name: "gated".into(),
                kind: "test",
                vendor: "Test".into(),
                product: "Gated".into(),
                tenant_id: "t".into(),
            },
            capabilities: vigil_providers::Capabilities {
                alerts: true,
                identity_risk: false,
                identity_actions: false,
                push_down: vigil_providers::PushDownSupport::default(),
                writable_fields: Vec::new(),
                max_page_size: 50,
                paging: vigil_providers::PagingStyle::NextLink,
            },
            calls: std::sync::atomic::AtomicUsize::new(0),
            gate: tokio::sync::Semaphore::new(0),
        });
        let provider: Arc<dyn Provider> = gated.clone();
        let cache = AnswerCache::new(
            Duration::from_secs(60),
            1 << 20,
            Arc::new(Resilience::new(
                crate::resilience::ResilienceConfig::default(),
            )),
        );
        let timeout = Duration::from_secs(10);
        // a read asks the provider; its answer is still on the way when a write lands
        let first = {
            let (cache, provider) = (cache.clone(), provider.clone());
            tokio::spawn(async move {
                cache
                    .list("t", &provider, ListRequest::default(), timeout, false)
                    .await
            })
        };
        while gated.calls.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        cache.invalidate_tenant("T").await;
        gated.gate.add_permits(1);
        let (page, _) = first.await.unwrap();
        assert_eq!(page.unwrap().page.items[0].id, "answer-1");
        // a read after the write asks again instead of finding the pre-write answer
        gated.gate.add_permits(1);
        let (page, outcome) = cache
            .list("t", &provider, ListRequest::default(), timeout, false)
            .await;
        assert_eq!(page.unwrap().page.items[0].id, "answer-2");
        assert!(!outcome.from_cache);
        assert_eq!(gated.calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        // and that answer is cached as usual
        let (page, outcome) = cache
            .list("t", &provider, ListRequest::default(), timeout, false)
            .await;
        assert_eq!(page.unwrap().page.items[0].id, "answer-2");
        assert!(outcome.from_cache);
    }

    #[test]
    fn warning_is_graph_shaped_and_safe() {
        let o = ProviderOutcome {
            provider: "edr\"x".into(),
            vendor: "CrowdStrike".into(),
            product: "Falcon".into(),
            state: "timeout",
            status: 504,
            latency_ms: 10000,
            from_cache: false,
            cache_age_ms: None,
            items: 0,
            error: None,
        };
        assert_eq!(o.warning(), "199 - \"CrowdStrike/edr_x/504/10000\"");
    }
}
