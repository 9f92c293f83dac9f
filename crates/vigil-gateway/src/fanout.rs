//! Asking providers: one call per provider, each under its own timeout, answers cached.
//!
//! The cache holds each provider's answer under (tenant, provider, pushed-down request), so two
//! callers asking the same thing share it, and identical concurrent misses share one upstream
//! call (moka's `try_get_with` runs one init future per key and hands its result to every
//! waiter). Failures are not cached. The cache is bounded by the bytes of the cached answers (a
//! weigher over the serialized size), not by an entry count: one provider's 1000-alert page and
//! another's 3-alert page are not the same cost.
//!
//! Every call yields a [`ProviderOutcome`] for the per-provider status block and the `Warning`
//! headers, answered or not.

use moka::future::Cache;
use serde::Serialize;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_model::Alert;
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
pub struct CachedPage {
    pub page: Page<Alert>,
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

/// The provider-answer cache.
#[derive(Clone)]
pub struct AnswerCache {
    cache: Cache<CacheKey, Arc<CachedPage>>,
}

fn weight_of(page: &Page<Alert>) -> u32 {
    // Serialized size is a fair, cheap proxy for the in-memory size of an alert page.
    let bytes: usize = page
        .items
        .iter()
        .map(|a| serde_json::to_vec(a).map(|v| v.len()).unwrap_or(1024))
        .sum::<usize>()
        + 256;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

impl AnswerCache {
    pub fn new(ttl: Duration, max_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_k: &CacheKey, v: &Arc<CachedPage>| v.weight)
            .time_to_live(ttl)
            .build();
        Self { cache }
    }

    /// Bytes currently held (approximate; moka applies pending work lazily).
    pub fn weighted_size(&self) -> u64 {
        self.cache.weighted_size()
    }

    /// Forgets everything cached for a tenant (after a write).
    pub async fn invalidate_tenant(&self, tenant_id: &str) {
        // Predicate invalidation needs support_invalidation_closures; a scan is cheap at our
        // sizes (entries are pages, not alerts) and keeps the cache builder simple.
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
    ) -> (Option<Arc<CachedPage>>, ProviderOutcome) {
        let info = provider.info();
        let key = CacheKey {
            tenant_id: tenant_id.to_string(),
            provider: info.name.clone(),
            request,
        };
        let started = Instant::now();
        let fetch = {
            let provider = provider.clone();
            let request = key.request.clone();
            async move {
                let page = match tokio::time::timeout(timeout, provider.list_alerts(&request)).await
                {
                    Ok(r) => r?,
                    Err(_) => {
                        return Err(ProviderError::new(
                            provider.info().name.clone(),
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
                outcome.state = if matches!(e.kind, ProviderErrorKind::Timeout(_)) {
                    "timeout"
                } else {
                    "error"
                };
                outcome.status = e.warning_status();
                outcome.error = Some(e.kind.to_string());
                tracing::warn!(provider = %info.name, error = %e, "provider call failed");
                (None, outcome)
            }
        }
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
