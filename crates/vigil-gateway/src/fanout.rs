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
    /// `answered`, or why not: `timeout`, `error`.
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
        self.state != "answered"
    }

    /// Graph's `Warning` entry: `199 - "{vendor}/{provider}/{status}/{latencyMs}"`.
    pub fn warning(&self) -> String {
        format!(
            "199 - \"{}/{}/{}/{}\"",
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
}

impl<T> Clone for PageCache<T> {
    fn clone(&self) -> Self {
        Self {
            cache: self.cache.clone(),
            fetch: self.fetch,
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

/// The memory a cached page holds, estimated from its serialized size (counted, not
/// allocated) times [`HEAP_PER_JSON_BYTE_TENTHS`] / 10, plus the items themselves.
pub fn weight_of<T: Serialize>(page: &Page<T>) -> u32 {
    let mut c = Counter(0);
    for item in &page.items {
        if serde_json::to_writer(&mut c, item).is_err() {
            c.0 += 1024;
        }
    }
    let bytes = (c.0.saturating_mul(HEAP_PER_JSON_BYTE_TENTHS) / 10)
        .saturating_add(page.items.capacity() * std::mem::size_of::<T>())
        .saturating_add(256);
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

impl<T> PageCache<T>
where
    T: Serialize + Send + Sync + 'static,
{
    pub fn new(ttl: Duration, max_bytes: u64, fetch: PageFetch<T>) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_k: &CacheKey, v: &Arc<CachedPage<T>>| v.weight)
            .time_to_live(ttl)
            .build();
        Self { cache, fetch }
    }

    /// Bytes currently held (approximate; moka applies pending work lazily).
    pub fn weighted_size(&self) -> u64 {
        self.cache.weighted_size()
    }

    /// Forgets everything cached for a tenant (after a write).
    pub async fn invalidate_tenant(&self, tenant_id: &str) {
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
        let key = CacheKey {
            tenant_id: tenant_id.to_string(),
            provider: info.name.clone(),
            request,
        };
        let started = Instant::now();
        let fetch = {
            let info_name = info.name.clone();
            let provider = provider.clone();
            let request = key.request.clone();
            let call = self.fetch;
            async move {
                let name = provider.info().name.clone();
                // Its own task: the answers of many providers are parsed and weighed on every
                // worker thread at once, not one after the other on the request's task.
                let task = tokio::spawn(async move {
                    let page = match tokio::time::timeout(timeout, call(provider, request)).await {
                        Ok(r) => r?,
                        Err(_) => {
                            return Err(ProviderError::new(
                                name,
                                ProviderErrorKind::Timeout(timeout),
                            ));
                        }
                    };
                    let weight = weight_of(&page);
                    Ok::<_, ProviderError>(Arc::new(CachedPage {
                        page,
                        fetched_at: Instant::now(),
                        weight,
                    }))
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
        match result {
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
                (None, outcome)
            }
        }
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
    /// Rendered list answers ([`crate::rendered`]).
    pub rendered: crate::rendered::RenderedCache,
    /// The alert index's answers, in memory ([`crate::rendered::KnownIds`]).
    pub known_ids: crate::rendered::KnownIds,
}

impl AnswerCache {
    pub fn new(ttl: Duration, max_bytes: u64) -> Self {
        let identity_share = (max_bytes / 8).max(1);
        // Rendered list answers get a share too: the bound is for everything cached.
        let rendered_share = (max_bytes / 8).max(1);
        let generation = crate::rendered::Generation::default();
        Self {
            alerts: PageCache::new(
                ttl,
                max_bytes
                    .saturating_sub(2 * identity_share + rendered_share)
                    .max(1),
                fetch_alerts,
            ),
            rendered: crate::rendered::RenderedCache::new(
                ttl.min(RENDERED_TTL),
                rendered_share,
                generation.clone(),
            ),
            known_ids: crate::rendered::KnownIds::new(generation),
            risky_users: PageCache::new(ttl, identity_share, fetch_risky_users),
            risk_detections: PageCache::new(ttl, identity_share, fetch_risk_detections),
            risk_directory: Cache::builder()
                .max_capacity(MAX_DIRECTORIES)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Bytes currently held (approximate; moka applies pending work lazily).
    pub fn weighted_size(&self) -> u64 {
        self.alerts.weighted_size()
            + self.risky_users.weighted_size()
            + self.risk_detections.weighted_size()
            + self.rendered.weighted_size()
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
mod tests {
    use super::*;

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
