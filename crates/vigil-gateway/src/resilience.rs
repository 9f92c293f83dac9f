//! Per-provider protection: every read from a provider goes through [`Resilience::call`].
//!
//! Per (tenant, provider instance), in this order:
//!
//! 1. **Bulkhead**: at most `max_concurrent_calls` calls in flight; one more is refused at once
//!    (`NotAsked`, 503) rather than queued behind a provider that is already slow.
//! 2. **Retry-After**: after the provider answered 429/503 with `Retry-After` (the HTTP client
//!    has already waited out short ones), it is not asked again until that time has passed
//!    (`NotAsked`, 429).
//! 3. **Circuit breaker**: `breaker_failures` consecutive outage-like failures (timeout,
//!    unreachable, 5xx, unreadable or oversized answer) open the circuit: for
//!    `breaker_open_ms` no call is sent (`NotAsked`, 503). Then one call, the probe, is let
//!    through (half-open) while every other is still refused; its success closes the circuit,
//!    its failure opens it again for another `breaker_open_ms`.
//! 4. **Rate budget**: a token bucket (`provider_per_minute`, `provider_burst`) per tenant and
//!    provider, so that Vigil never spends more than the provider's quota and gets itself
//!    throttled; an empty bucket refuses the call (`NotAsked`, 429).
//! 5. The call runs under the caller's **deadline** (the provider timeout). An idempotent read
//!    that failed in a way a second try can fix (unreachable, 5xx, unreadable answer) is retried
//!    **once**, after a random jitter in `0..=retry_jitter_ms`, when the deadline still leaves at
//!    least as long as the first try took (and a tenth of the deadline), and a budget token is
//!    left. A probe is never retried (half-open means exactly one upstream call). Timeouts are
//!    not retried: they used the deadline up.
//!
//! A refusal costs no upstream call and answers at once, so a caller with a cached answer can
//! serve it marked stale (`stale_if_error`, see [`crate::fanout`]). Every settled call feeds the
//! operator view ([`Resilience::snapshot`]): recent latencies, last error, circuit state.
//!
//! Writes (`update_alert`) do not go through here: the outbox retries them with its own backoff.
//!
//! A follow-up round within one request (the risk join after the alert fan-out) takes its
//! deadline from [`follow_up_budget`], so that one slow provider does not make the answer wait
//! two timeouts; a timeout under such a shortened deadline says nothing about the provider and
//! does not count toward its circuit.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Semaphore;
use vigil_providers::{ProviderError, ProviderErrorKind, ProviderInfo};

/// `[resilience]`: how providers are protected and how their failures are softened.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResilienceConfig {
    /// Consecutive failures that open a provider's circuit (0: no breaker).
    pub breaker_failures: u32,
    /// How long an open circuit refuses calls before one probe is let through.
    pub breaker_open_ms: u64,
    /// Retry an idempotent read once when a second try can help and the deadline allows.
    pub retry: bool,
    /// Upper bound of the random wait before that retry.
    pub retry_jitter_ms: u64,
    /// Calls per minute to one provider for one tenant (0: no budget).
    pub provider_per_minute: u32,
    /// Calls that may be sent at once after an idle period.
    pub provider_burst: u32,
    /// Calls in flight to one provider at once; more are refused.
    pub max_concurrent_calls: usize,
    /// When a provider fails, serve its last good answer, marked stale, instead of nothing.
    pub stale_if_error: bool,
    /// A last good answer older than this is not served.
    pub max_stale_secs: u64,
    /// Memory bound of the last good answers kept past the cache TTL, in bytes.
    pub stale_max_bytes: u64,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            breaker_failures: 5,
            breaker_open_ms: 30_000,
            retry: true,
            retry_jitter_ms: 100,
            provider_per_minute: 1200,
            provider_burst: 200,
            max_concurrent_calls: 32,
            stale_if_error: true,
            max_stale_secs: 3600,
            stale_max_bytes: 64 * 1024 * 1024,
        }
    }
}

impl ResilienceConfig {
    /// Every mistake, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.breaker_failures > 0 && self.breaker_open_ms == 0 {
            p.push("resilience.breaker_open_ms: must be greater than 0".into());
        }
        if self.max_concurrent_calls == 0 {
            p.push("resilience.max_concurrent_calls: must be at least 1".into());
        }
        if self.provider_per_minute > 0 && self.provider_burst == 0 {
            p.push("resilience.provider_burst: must be at least 1".into());
        }
        if self.stale_if_error && self.max_stale_secs == 0 {
            p.push("resilience.max_stale_secs: must be greater than 0".into());
        }
        if self.stale_if_error && self.stale_max_bytes < 1024 * 1024 {
            p.push("resilience.stale_max_bytes: must be at least 1048576 (1 MiB)".into());
        }
        p
    }
}

/// The state of a circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Circuit {
    /// Calls go through.
    Closed,
    /// Calls are refused until the open period ends.
    Open,
    /// One probe call decides.
    HalfOpen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BreakerState {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// A call the breaker lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Normal,
    /// The one half-open call: its result closes or re-opens the circuit.
    Probe,
}

/// The circuit breaker state machine (time is passed in, so it is testable without sleeping).
#[derive(Debug, Clone)]
pub struct Breaker {
    state: BreakerState,
    threshold: u32,
    open_for: Duration,
}

impl Breaker {
    /// `threshold` 0 turns the breaker off (always closed).
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            state: BreakerState::Closed { failures: 0 },
            threshold,
            open_for,
        }
    }

    /// The state as operators see it (an open circuit whose period is over is half-open: the
    /// next call is the probe).
    pub fn circuit(&self, now: Instant) -> Circuit {
        match self.state {
            BreakerState::Closed { .. } => Circuit::Closed,
            BreakerState::Open { until } if now < until => Circuit::Open,
            BreakerState::Open { .. } | BreakerState::HalfOpen { .. } => Circuit::HalfOpen,
        }
    }

    /// Consecutive failures counted while closed.
    pub fn consecutive_failures(&self) -> u32 {
        match self.state {
            BreakerState::Closed { failures } => failures,
            _ => self.threshold,
        }
    }

    /// Whether a call may go now; `Err` carries how long until the next probe may.
    pub fn admit(&mut self, now: Instant) -> Result<Admission, Duration> {
        match self.state {
            BreakerState::Closed { .. } => Ok(Admission::Normal),
            BreakerState::Open { until } if now < until => Err(until - now),
            BreakerState::Open { .. } | BreakerState::HalfOpen { probing: false } => {
                self.state = BreakerState::HalfOpen { probing: true };
                Ok(Admission::Probe)
            }
            BreakerState::HalfOpen { probing: true } => Err(Duration::ZERO),
        }
    }

    /// The provider answered (whatever it answered, it is up).
    pub fn success(&mut self) {
        self.state = BreakerState::Closed { failures: 0 };
    }

    /// An outage-like failure.
    pub fn failure(&mut self, now: Instant) {
        self.state = match self.state {
            BreakerState::Closed { failures } => {
                let failures = failures.saturating_add(1);
                if self.threshold > 0 && failures >= self.threshold {
                    BreakerState::Open {
                        until: now + self.open_for,
                    }
                } else {
                    BreakerState::Closed { failures }
                }
            }
            BreakerState::HalfOpen { .. } => BreakerState::Open {
                until: now + self.open_for,
            },
            open @ BreakerState::Open { .. } => open,
        };
    }

    /// A probe ended without a result (its caller went away): the next call probes.
    pub fn abandon_probe(&mut self) {
        if self.state == (BreakerState::HalfOpen { probing: true }) {
            self.state = BreakerState::HalfOpen { probing: false };
        }
    }
}

/// Whether a failure says the provider is down (and counts toward opening its circuit).
pub fn is_outage(e: &ProviderError) -> bool {
    match &e.kind {
        ProviderErrorKind::Timeout(_)
        | ProviderErrorKind::Connect(_)
        | ProviderErrorKind::Decode(_)
        | ProviderErrorKind::BodyTooLarge { .. } => true,
        ProviderErrorKind::Upstream { status, .. } => *status >= 500 && *status != 501,
        _ => false,
    }
}

/// Whether a second try of the same read can succeed where the first failed fast.
fn is_retryable(e: &ProviderError) -> bool {
    match &e.kind {
        ProviderErrorKind::Connect(_) | ProviderErrorKind::Decode(_) => true,
        ProviderErrorKind::Upstream { status, .. } => matches!(status, 500 | 502 | 503 | 504),
        _ => false,
    }
}

/// Latencies kept per provider for the percentiles.
const LATENCY_WINDOW: usize = 256;

struct Bucket {
    tokens: f64,
    last: Instant,
}

struct GuardState {
    breaker: Breaker,
    bucket: Bucket,
    throttled_until: Option<Instant>,
    latencies_ms: VecDeque<u64>,
    calls: u64,
    failures: u64,
    retries: u64,
    refused: u64,
    last_error: Option<(String, SystemTime)>,
    last_success: Option<SystemTime>,
}

/// The protection state of one provider instance.
struct Guard {
    state: Mutex<GuardState>,
    bulkhead: Arc<Semaphore>,
}

impl Guard {
    fn lock(&self) -> MutexGuard<'_, GuardState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What operators see of one provider's protection.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuardSnapshot {
    pub circuit: Circuit,
    pub consecutive_failures: u32,
    /// Calls sent (retries included), failed calls, retries, and calls refused unsent.
    pub calls: u64,
    pub failures: u64,
    pub retries: u64,
    pub refused: u64,
    /// Latency percentiles of the last calls (up to 256), in milliseconds.
    pub latency_p50_ms: Option<u64>,
    pub latency_p95_ms: Option<u64>,
    pub latency_p99_ms: Option<u64>,
    pub last_error: Option<String>,
    /// RFC 3339.
    pub last_error_date_time: Option<String>,
    pub last_success_date_time: Option<String>,
    /// Until when the provider's own `Retry-After` keeps it unasked, in milliseconds from now.
    pub throttled_for_ms: Option<u64>,
    /// Calls in flight now.
    pub in_flight: usize,
}

tokio::task_local! {
    static REQUEST_STARTED: Instant;
}

/// Middleware: records when the request started, for [`follow_up_budget`].
pub async fn request_clock(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    REQUEST_STARTED.scope(Instant::now(), next.run(req)).await
}

/// The deadline of a provider round that follows another in the same request: what is left of
/// `timeout` since the request started, at least a twentieth of it; the whole `timeout` when
/// little of it has passed (the round is the request's first) or outside a request.
pub fn follow_up_budget(timeout: Duration) -> Duration {
    REQUEST_STARTED
        .try_with(|started| {
            let spent = started.elapsed();
            if spent < timeout / 10 {
                timeout
            } else {
                timeout.saturating_sub(spent).max(timeout / 20)
            }
        })
        .unwrap_or(timeout)
}

/// Every provider's protection state, keyed by (tenant, provider instance).
pub struct Resilience {
    cfg: ResilienceConfig,
    /// The configured provider timeout: a timeout under a shorter deadline is not an outage.
    provider_timeout: Duration,
    guards: Mutex<HashMap<(String, String), Arc<Guard>>>,
    jitter: std::collections::hash_map::RandomState,
}

/// Resets an abandoned probe when the call future is dropped mid-way.
struct ProbeTicket {
    guard: Arc<Guard>,
    probe: bool,
    settled: bool,
}

impl Drop for ProbeTicket {
    fn drop(&mut self) {
        if self.probe && !self.settled {
            self.guard.lock().breaker.abandon_probe();
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

impl Resilience {
    pub fn new(cfg: ResilienceConfig) -> Self {
        Self {
            cfg,
            provider_timeout: Duration::ZERO,
            guards: Mutex::new(HashMap::new()),
            jitter: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Sets the configured provider timeout (see [`follow_up_budget`]).
    pub fn with_provider_timeout(mut self, timeout: Duration) -> Self {
        self.provider_timeout = timeout;
        self
    }

    pub fn config(&self) -> &ResilienceConfig {
        &self.cfg
    }

    fn guard(&self, info: &ProviderInfo) -> Arc<Guard> {
        let key = (info.tenant_id.to_ascii_lowercase(), info.name.clone());
        let mut map = self.guards.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(key)
            .or_insert_with(|| {
                Arc::new(Guard {
                    state: Mutex::new(GuardState {
                        breaker: Breaker::new(
                            self.cfg.breaker_failures,
                            Duration::from_millis(self.cfg.breaker_open_ms),
                        ),
                        bucket: Bucket {
                            tokens: f64::from(self.cfg.provider_burst.max(1)),
                            last: Instant::now(),
                        },
                        throttled_until: None,
                        latencies_ms: VecDeque::with_capacity(LATENCY_WINDOW),
                        calls: 0,
                        failures: 0,
                        retries: 0,
                        refused: 0,
                        last_error: None,
                        last_success: None,
                    }),
                    bulkhead: Arc::new(Semaphore::new(self.cfg.max_concurrent_calls.max(1))),
                })
            })
            .clone()
    }

    /// Takes one budget token; false when the budget is spent (and how long until one is back).
    fn take_token(&self, s: &mut GuardState, now: Instant) -> Result<(), Duration> {
        if self.cfg.provider_per_minute == 0 {
            return Ok(());
        }
        let rate = f64::from(self.cfg.provider_per_minute) / 60.0;
        let burst = f64::from(self.cfg.provider_burst.max(1));
        let dt = now.saturating_duration_since(s.bucket.last).as_secs_f64();
        s.bucket.tokens = (s.bucket.tokens + dt * rate).min(burst);
        s.bucket.last = now;
        if s.bucket.tokens >= 1.0 {
            s.bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - s.bucket.tokens) / rate))
        }
    }

    /// Decides whether a call may go now.
    fn admit(&self, guard: &Guard, name: &str, now: Instant) -> Result<Admission, ProviderError> {
        let mut s = guard.lock();
        let refuse = |s: &mut GuardState, reason: String, status: u16| {
            s.refused += 1;
            ProviderError::new(name, ProviderErrorKind::NotAsked { reason, status })
        };
        if let Some(until) = s.throttled_until {
            if now < until {
                let wait = until - now;
                return Err(refuse(
                    &mut s,
                    format!(
                        "the provider asked to wait (Retry-After), {} ms left",
                        ms(wait)
                    ),
                    429,
                ));
            }
            s.throttled_until = None;
        }
        let admission = match s.breaker.admit(now) {
            Ok(a) => a,
            Err(wait) => {
                return Err(refuse(
                    &mut s,
                    format!(
                        "circuit open after repeated failures; next probe in {} ms",
                        ms(wait)
                    ),
                    503,
                ));
            }
        };
        if let Err(wait) = self.take_token(&mut s, now) {
            if admission == Admission::Probe {
                s.breaker.abandon_probe();
            }
            return Err(refuse(
                &mut s,
                format!(
                    "Vigil's request budget for this provider is spent; next call in {} ms",
                    ms(wait)
                ),
                429,
            ));
        }
        Ok(admission)
    }

    fn jitter(&self) -> Duration {
        if self.cfg.retry_jitter_ms == 0 {
            return Duration::ZERO;
        }
        let mut h = self.jitter.build_hasher();
        h.write_u128(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        Duration::from_millis(h.finish() % (self.cfg.retry_jitter_ms + 1))
    }

    /// Runs `op` for `provider` under every protection, within `deadline`. `idempotent` reads
    /// may be retried once (see the module docs). Every refusal and failure is a typed
    /// [`ProviderError`]; the call never outlives the deadline.
    pub async fn call<T, F, Fut>(
        &self,
        provider: &ProviderInfo,
        deadline: Duration,
        idempotent: bool,
        mut op: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        let started = Instant::now();
        let end = started + deadline;
        let name = provider.name.as_str();
        let guard = self.guard(provider);
        let Ok(_permit) = guard.bulkhead.clone().try_acquire_owned() else {
            guard.lock().refused += 1;
            return Err(ProviderError::new(
                name,
                ProviderErrorKind::NotAsked {
                    reason: format!(
                        "{} calls to this provider are already in flight",
                        self.cfg.max_concurrent_calls
                    ),
                    status: 503,
                },
            ));
        };
        let admission = self.admit(&guard, name, started)?;
        let mut ticket = ProbeTicket {
            guard: guard.clone(),
            probe: admission == Admission::Probe,
            settled: false,
        };
        let attempt = |op: &mut F| {
            let fut = op();
            async move {
                let left = end.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, fut).await {
                    Ok(r) => r,
                    Err(_) => Err(ProviderError::new(
                        name,
                        ProviderErrorKind::Timeout(deadline),
                    )),
                }
            }
        };
        let mut result = attempt(&mut op).await;
        let mut tries = 1u64;
        if let Err(e) = &result
            && idempotent
            && self.cfg.retry
            && admission == Admission::Normal
            && is_retryable(e)
        {
            let took = started.elapsed();
            let jitter = self.jitter();
            let left = end.saturating_duration_since(Instant::now() + jitter);
            let fits = left >= took.max(deadline / 10);
            let token = fits && self.take_token(&mut guard.lock(), Instant::now()).is_ok();
            if token {
                tracing::debug!(provider = %name, error = %e, ?jitter, "retrying once");
                tokio::time::sleep(jitter).await;
                result = attempt(&mut op).await;
                tries = 2;
            }
        }
        let shortened = deadline < self.provider_timeout;
        self.settle(&guard, &result, started.elapsed(), tries, shortened);
        ticket.settled = true;
        result
    }

    fn settle<T>(
        &self,
        guard: &Guard,
        result: &Result<T, ProviderError>,
        took: Duration,
        tries: u64,
        shortened: bool,
    ) {
        let now = Instant::now();
        let mut s = guard.lock();
        s.calls += tries;
        s.retries += tries - 1;
        if s.latencies_ms.len() >= LATENCY_WINDOW {
            s.latencies_ms.pop_front();
        }
        s.latencies_ms.push_back(ms(took));
        match result {
            Ok(_) => {
                s.breaker.success();
                s.last_success = Some(SystemTime::now());
            }
            Err(e) if matches!(e.kind, ProviderErrorKind::NotFound) => s.breaker.success(),
            Err(e) => {
                s.failures += 1;
                s.last_error = Some((e.kind.to_string(), SystemTime::now()));
                if let ProviderErrorKind::Throttled { retry_after } = &e.kind {
                    s.throttled_until = Some(now + retry_after.unwrap_or(Duration::from_secs(1)));
                }
                if matches!(e.kind, ProviderErrorKind::Timeout(_)) && shortened {
                    // Cut short by the caller, not slow by itself: no verdict.
                    if s.breaker.circuit(now) == Circuit::HalfOpen {
                        s.breaker.abandon_probe();
                    }
                } else if is_outage(e) {
                    s.breaker.failure(now);
                } else {
                    // It answered: up, even if it refused this call.
                    s.breaker.success();
                }
            }
        }
    }

    /// The protection state of one provider (a provider never called yet has a fresh one).
    pub fn snapshot(&self, provider: &ProviderInfo) -> GuardSnapshot {
        let guard = self.guard(provider);
        let in_flight = self
            .cfg
            .max_concurrent_calls
            .max(1)
            .saturating_sub(guard.bulkhead.available_permits());
        let now = Instant::now();
        let s = guard.lock();
        let mut sorted: Vec<u64> = s.latencies_ms.iter().copied().collect();
        sorted.sort_unstable();
        GuardSnapshot {
            circuit: s.breaker.circuit(now),
            consecutive_failures: s.breaker.consecutive_failures(),
            calls: s.calls,
            failures: s.failures,
            retries: s.retries,
            refused: s.refused,
            latency_p50_ms: percentile(&sorted, 50.0),
            latency_p95_ms: percentile(&sorted, 95.0),
            latency_p99_ms: percentile(&sorted, 99.0),
            last_error: s.last_error.as_ref().map(|(e, _)| e.clone()),
            last_error_date_time: s.last_error.as_ref().map(|(_, t)| rfc3339(*t)),
            last_success_date_time: s.last_success.map(rfc3339),
            throttled_for_ms: s.throttled_until.filter(|u| *u > now).map(|u| ms(u - now)),
            in_flight,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const OPEN: Duration = Duration::from_secs(30);

    #[test]
    fn opens_after_consecutive_failures_only() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, OPEN);
        b.failure(t0);
        b.failure(t0);
        assert_eq!(b.circuit(t0), Circuit::Closed);
        // A success in between resets the count.
        b.success();
        assert_eq!(b.consecutive_failures(), 0);
        b.failure(t0);
        b.failure(t0);
        assert_eq!(b.admit(t0), Ok(Admission::Normal));
        b.failure(t0);
        assert_eq!(b.circuit(t0), Circuit::Open);
        assert_eq!(
            b.admit(t0 + Duration::from_secs(10)),
            Err(Duration::from_secs(20))
        );
    }

    #[test]
    fn half_open_lets_exactly_one_probe_through() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, OPEN);
        b.failure(t0);
        let later = t0 + OPEN;
        assert_eq!(b.circuit(later), Circuit::HalfOpen);
        assert_eq!(b.admit(later), Ok(Admission::Probe));
        // While the probe is out, everyone else is refused.
        assert_eq!(b.admit(later), Err(Duration::ZERO));
        assert_eq!(b.admit(later + OPEN), Err(Duration::ZERO));
        b.success();
        assert_eq!(b.circuit(later), Circuit::Closed);
        assert_eq!(b.admit(later), Ok(Admission::Normal));
    }

    #[test]
    fn a_failed_probe_opens_again_for_a_full_period() {
        let t0 = Instant::now();
        let mut b = Breaker::new(2, OPEN);
        b.failure(t0);
        b.failure(t0);
        let probe_at = t0 + OPEN + Duration::from_secs(1);
        assert_eq!(b.admit(probe_at), Ok(Admission::Probe));
        b.failure(probe_at);
        assert_eq!(b.circuit(probe_at), Circuit::Open);
        assert!(b.admit(probe_at + OPEN - Duration::from_millis(1)).is_err());
        assert_eq!(b.admit(probe_at + OPEN), Ok(Admission::Probe));
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, OPEN);
        b.failure(t0);
        assert_eq!(b.admit(t0 + OPEN), Ok(Admission::Probe));
        b.abandon_probe();
        assert_eq!(b.admit(t0 + OPEN), Ok(Admission::Probe));
    }

    #[test]
    fn threshold_zero_never_opens() {
        let t0 = Instant::now();
        let mut b = Breaker::new(0, OPEN);
        for _ in 0..100 {
            b.failure(t0);
        }
        assert_eq!(b.admit(t0), Ok(Admission::Normal));
    }

    #[test]
    fn outages_are_told_from_answers() {
        let e = |kind| ProviderError::new("p", kind);
        assert!(is_outage(&e(ProviderErrorKind::Timeout(OPEN))));
        assert!(is_outage(&e(ProviderErrorKind::Upstream {
            status: 503,
            message: String::new()
        })));
        assert!(is_outage(&e(ProviderErrorKind::BodyTooLarge { limit: 1 })));
        assert!(!is_outage(&e(ProviderErrorKind::NotFound)));
        assert!(!is_outage(&e(ProviderErrorKind::Throttled {
            retry_after: None
        })));
        assert!(!is_outage(&e(ProviderErrorKind::Upstream {
            status: 400,
            message: String::new()
        })));
        assert!(is_retryable(&e(ProviderErrorKind::Connect(String::new()))));
        assert!(!is_retryable(&e(ProviderErrorKind::Timeout(OPEN))));
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 95.0), Some(95));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[tokio::test]
    async fn a_follow_up_round_gets_what_is_left_of_the_request_timeout() {
        let t = Duration::from_secs(4);
        assert_eq!(
            follow_up_budget(t),
            t,
            "outside a request: the whole timeout"
        );
        let ago = |ms| {
            Instant::now()
                .checked_sub(Duration::from_millis(ms))
                .unwrap()
        };
        let fresh = REQUEST_STARTED.scope(ago(100), async { follow_up_budget(t) });
        assert_eq!(fresh.await, t, "the request's first round");
        let left = REQUEST_STARTED
            .scope(ago(3000), async { follow_up_budget(t) })
            .await;
        assert!(left <= Duration::from_millis(1000) && left > Duration::from_millis(900));
        let spent = REQUEST_STARTED.scope(ago(9000), async { follow_up_budget(t) });
        assert_eq!(spent.await, t / 20, "never less than a twentieth");
    }

    #[tokio::test]
    async fn a_timeout_under_a_shortened_deadline_is_no_verdict() {
        let r = Resilience::new(ResilienceConfig {
            breaker_failures: 1,
            ..ResilienceConfig::default()
        })
        .with_provider_timeout(Duration::from_secs(1));
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<(), ProviderError>(())
        };
        let e = r
            .call(&info(), Duration::from_millis(20), true, slow)
            .await
            .unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::Timeout(_)));
        assert_eq!(r.snapshot(&info()).circuit, Circuit::Closed);
        r.call(&info(), Duration::from_secs(1), true, || async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<(), ProviderError>(())
        })
        .await
        .unwrap_err();
        assert_eq!(r.snapshot(&info()).circuit, Circuit::Open);
    }

    fn info() -> ProviderInfo {
        ProviderInfo {
            name: "p".into(),
            kind: "graph",
            vendor: "V".into(),
            product: "P".into(),
            tenant_id: "t".into(),
        }
    }

    fn upstream(status: u16) -> ProviderError {
        ProviderError::new(
            "p",
            ProviderErrorKind::Upstream {
                status,
                message: String::new(),
            },
        )
    }

    #[tokio::test]
    async fn retries_once_then_opens_and_refuses_unsent() {
        let r = Resilience::new(ResilienceConfig {
            breaker_failures: 2,
            retry_jitter_ms: 5,
            ..ResilienceConfig::default()
        });
        let calls = std::sync::atomic::AtomicU32::new(0);
        let op = || {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Err::<(), _>(upstream(503)) }
        };
        for _ in 0..2 {
            let e = r
                .call(&info(), Duration::from_secs(2), true, op)
                .await
                .unwrap_err();
            assert_eq!(e.warning_status(), 503);
        }
        // Two calls, each retried once.
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);
        let e = r
            .call(&info(), Duration::from_secs(2), true, op)
            .await
            .unwrap_err();
        assert!(matches!(
            e.kind,
            ProviderErrorKind::NotAsked { status: 503, .. }
        ));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);
        let snap = r.snapshot(&info());
        assert_eq!(snap.circuit, Circuit::Open);
        assert_eq!((snap.calls, snap.retries, snap.refused), (4, 2, 1));
    }

    #[tokio::test]
    async fn a_retry_never_outlives_the_deadline() {
        let r = Resilience::new(ResilienceConfig::default());
        let started = Instant::now();
        let e = r
            .call(&info(), Duration::from_millis(200), true, || async {
                tokio::time::sleep(Duration::from_millis(150)).await;
                Err::<(), _>(upstream(502))
            })
            .await
            .unwrap_err();
        // 150 ms taken, 50 left: too little for a second 150 ms try, so no retry.
        assert_eq!(e.warning_status(), 502);
        assert!(started.elapsed() < Duration::from_millis(300));
        assert_eq!(r.snapshot(&info()).retries, 0);
    }

    #[tokio::test]
    async fn retry_after_and_budget_refuse_without_calling() {
        let r = Resilience::new(ResilienceConfig {
            provider_per_minute: 60,
            provider_burst: 2,
            ..ResilienceConfig::default()
        });
        let throttled = r
            .call(&info(), Duration::from_secs(1), true, || async {
                Err::<(), _>(ProviderError::new(
                    "p",
                    ProviderErrorKind::Throttled {
                        retry_after: Some(Duration::from_secs(30)),
                    },
                ))
            })
            .await
            .unwrap_err();
        assert_eq!(throttled.warning_status(), 429);
        let calls = std::sync::atomic::AtomicU32::new(0);
        let e = r
            .call(&info(), Duration::from_secs(1), true, || {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { Ok(()) }
            })
            .await
            .unwrap_err();
        assert!(matches!(
            e.kind,
            ProviderErrorKind::NotAsked { status: 429, .. }
        ));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
        // A second provider: two tokens, then the budget is spent.
        let mut other = info();
        other.name = "q".into();
        for _ in 0..2 {
            r.call(&other, Duration::from_secs(1), true, || async { Ok(()) })
                .await
                .unwrap();
        }
        let e = r
            .call(&other, Duration::from_secs(1), true, || async { Ok(()) })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("budget"), "{e}");
    }
}
