//! What makes a repeated alert list cheap: the rendered answer of a list, reused while nothing
//! it was built from changed, and the alert index's known ids kept in memory.
//!
//! # Rendered lists
//!
//! A list answer is a function of the provider pages it merged (cached in [`crate::fanout`]),
//! of the alert index (stable ids), of write-back state (history, sync state), of the tenant's
//! risk directory and pending identity actions (the user-risk join), and of the request (query,
//! base URL, API version, `Prefer`). [`RenderedCache`] keeps the rendered bytes of a list under
//! its request, with the identity of every provider page and of the risk directory it used. A
//! later request with the same key is answered from those bytes when every page it names is
//! still the one in the page cache (an expired, evicted, or refetched page is another
//! allocation: the entry keeps only a [`Weak`] to it, which is never equal to a new page's
//! pointer) and the same holds for the directory. Everything else is covered by a generation
//! counter: a write (history, outbox, index reassignment, a tenant invalidation from any
//! replica) bumps it, and an entry of an older generation is never served. Only the
//! `@vigil.providerStatus` block is rendered per request: it says what each provider did for
//! *this* request (answered from the cache, at which age).
//!
//! Not kept: answers with a failed provider (206), walks that re-fetched carried alerts (those
//! calls bypass the page cache), `$count` (a whole walk), and `Cache-Control: no-cache`.
//!
//! # Known ids
//!
//! The alert index maps each provider copy to its unified id, and that mapping only changes by
//! reassignment (which bumps the generation). [`KnownIds`] remembers what the store answered, so a
//! page whose every copy is known needs no store round trip. Entries expire after half of
//! [`vigil_store::LAST_SEEN_RESOLUTION`], so a copy still seen gets its `last_seen` rewritten
//! about as often as the store would rewrite it anyway.

use crate::fanout::{CacheKey, CachedPage, ProviderOutcome};
use crate::identity::RiskDirectory;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use vigil_store::{AlertIndexEntry, AlertSource};

/// A counter bumped by every write that can change a rendered answer or an indexed id.
#[derive(Clone, Default)]
pub struct Generation(Arc<AtomicU64>);

impl Generation {
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// One rendered list answer and what it was built from.
pub struct Rendered {
    pub generation: u64,
    /// Every provider page the answer merged, in walk order.
    pub pages: Vec<(CacheKey, Weak<CachedPage>)>,
    /// The risk directory joined in, when there was one.
    pub directory: Option<Weak<RiskDirectory>>,
    /// The outcomes of the request that rendered it (items per provider).
    pub outcomes: Vec<ProviderOutcome>,
    /// The body up to the status block ([`list_head`]).
    pub head: Bytes,
    /// The body after the status block ([`list_tail`]).
    pub tail: Vec<Bytes>,
    pub etag: String,
}

impl Rendered {
    fn weight(&self) -> u32 {
        let keys: usize = self
            .pages
            .iter()
            .map(|(k, _)| {
                k.tenant_id.len() + k.provider.len() + std::mem::size_of::<CacheKey>() + 128
            })
            .sum();
        let tail: usize = self.tail.iter().map(Bytes::len).sum();
        let bytes = self.head.len() + tail + keys + self.outcomes.len() * 256 + 512;
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

/// The rendered list answers (see the module docs).
#[derive(Clone)]
pub struct RenderedCache {
    cache: moka::future::Cache<String, Arc<Rendered>>,
    generation: Generation,
}

impl RenderedCache {
    pub fn new(ttl: Duration, max_bytes: u64, generation: Generation) -> Self {
        Self {
            cache: moka::future::Cache::builder()
                .max_capacity(max_bytes.max(1))
                .weigher(|k: &String, v: &Arc<Rendered>| {
                    v.weight()
                        .saturating_add(u32::try_from(k.len()).unwrap_or(u32::MAX))
                })
                .time_to_live(ttl)
                .build(),
            generation,
        }
    }

    /// The key of a list request: everything of the request the answer depends on.
    pub fn key(
        tenant: &str,
        version: &str,
        base: &str,
        path: &str,
        raw_query: &str,
        evolvable: bool,
    ) -> String {
        format!(
            "{}\n{version}\n{base}\n{path}\n{raw_query}\n{}",
            tenant.to_ascii_lowercase(),
            u8::from(evolvable)
        )
    }

    pub fn generation(&self) -> u64 {
        self.generation.current()
    }

    /// Forgets every rendered answer (cheaply: they become unreachable).
    pub fn invalidate_all(&self) {
        self.generation.bump();
    }

    pub async fn get(&self, key: &str) -> Option<Arc<Rendered>> {
        let r = self.cache.get(key).await?;
        (r.generation == self.generation.current()).then_some(r)
    }

    /// Keeps `r` unless a write happened since it was started (`r.generation`).
    pub async fn insert(&self, key: String, r: Rendered) {
        if r.generation == self.generation.current() {
            self.cache.insert(key, Arc::new(r)).await;
        }
    }

    /// Bytes currently held (approximate).
    pub fn weighted_size(&self) -> u64 {
        self.cache.weighted_size()
    }
}

/// The opening of a list body: `{`, the data members before the status block (each followed
/// by a comma), and the status block's key.
pub fn list_head(members: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(members.len() + 32);
    out.push(b'{');
    out.extend_from_slice(members);
    out.push(b'"');
    out.extend_from_slice(crate::routes::alerts::PROVIDER_STATUS_KEY.as_bytes());
    out.extend_from_slice(b"\":");
    out.into()
}

/// What a list body's tail starts with: the `value` member follows the status block.
pub const VALUE_MEMBER: &[u8] = b",\"value\":";

/// The closing of a list body: the `value` member and `}`.
pub fn list_tail(value: &[u8]) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(value.len() + 12);
    out.extend_from_slice(VALUE_MEMBER);
    out.extend_from_slice(value);
    out.push(b'}');
    vec![out.into()]
}

/// A list body: the (shared, cached) head and tail around this request's status block, sent
/// as they are (no copy), with their exact length.
pub fn list_body(head: &Bytes, outcomes: &[ProviderOutcome], tail: &[Bytes]) -> axum::body::Body {
    let status = serde_json::to_vec(outcomes).unwrap_or_else(|_| b"[]".to_vec());
    let mut parts = Vec::with_capacity(tail.len() + 2);
    parts.push(head.clone());
    parts.push(Bytes::from(status));
    parts.extend(tail.iter().cloned());
    axum::body::Body::new(Parts::new(parts))
}

/// A body of a few byte chunks, sent in order, with an exact size hint (`Content-Length`).
pub struct Parts {
    chunks: std::collections::VecDeque<Bytes>,
    remaining: u64,
}

impl Parts {
    pub fn new(chunks: Vec<Bytes>) -> Self {
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        Self {
            chunks: chunks.into(),
            remaining,
        }
    }
}

impl http_body::Body for Parts {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let next = this.chunks.pop_front().map(|c| {
            this.remaining = this.remaining.saturating_sub(c.len() as u64);
            Ok(http_body::Frame::data(c))
        });
        std::task::Poll::Ready(next)
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

/// Unified ids of provider copies the store already answered (see the module docs).
#[derive(Clone)]
pub struct KnownIds {
    cache: moka::future::Cache<(u64, String, String, String), String>,
    generation: Generation,
}

/// Copies remembered at most (about 200 bytes each).
const MAX_KNOWN_IDS: u64 = 200_000;

impl KnownIds {
    pub fn new(generation: Generation) -> Self {
        let ttl = vigil_store::LAST_SEEN_RESOLUTION
            .to_std()
            .unwrap_or(Duration::from_secs(600))
            / 2;
        Self {
            cache: moka::future::Cache::builder()
                .max_capacity(MAX_KNOWN_IDS)
                .time_to_live(ttl)
                .build(),
            generation,
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.current()
    }

    /// The unified id of every copy in `entries`, if every one is known.
    pub async fn lookup(
        &self,
        tenant_id: &str,
        entries: &[AlertIndexEntry],
    ) -> Option<HashMap<AlertSource, String>> {
        let g = self.generation.current();
        let mut out = HashMap::with_capacity(entries.len());
        for e in entries {
            let key = (
                g,
                tenant_id.to_string(),
                e.provider.clone(),
                e.provider_alert_id.clone(),
            );
            let id = self.cache.get(&key).await?;
            out.insert(AlertSource::new(&e.provider, &e.provider_alert_id), id);
        }
        Some(out)
    }

    /// Remembers what the store answered, under the generation read before asking it (so an
    /// answer that raced a reassignment is never read).
    pub async fn remember(
        &self,
        generation: u64,
        tenant_id: &str,
        known: &HashMap<AlertSource, String>,
    ) {
        for (s, id) in known {
            self.cache
                .insert(
                    (
                        generation,
                        tenant_id.to_string(),
                        s.provider.clone(),
                        s.provider_alert_id.clone(),
                    ),
                    id.clone(),
                )
                .await;
        }
    }
}
