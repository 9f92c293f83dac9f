//! Prometheus metrics: `GET /metrics` in the text exposition format (0.0.4).
//!
//! A small registry of its own (counters and fixed-bucket histograms behind one mutex per
//! family) rather than a metrics crate: a dozen series, rendered on demand, no global recorder
//! to install. Event series (requests, provider calls, cache lookups, circuit states) are
//! process-wide, like the process they describe; state series (cache bytes, outbox depth,
//! rate-limit rejections) are read from the serving gateway's state at scrape time. The
//! outbox is one grouped query ([`vigil_store::Store::outbox_stats`]) under a short timeout.
//!
//! Cardinality is bounded: routes are axum's matched route templates (`/v1.0/security/
//! alerts/{id}`, never a raw path; `unmatched` for anything no route matched), methods outside
//! the standard ones are `other`, providers and tenants are the configured ones.
//!
//! Series (all prefixed `vigil_`):
//! - `http_requests_total{method,route,status}`, `http_request_duration_seconds{…}` (histogram),
//!   `http_requests_in_flight`;
//! - `provider_calls_total{provider,tenant,outcome}` (`answered`, `error`, `timeout`,
//!   `cached`), `provider_call_duration_seconds{…}` (histogram);
//! - `cache_hits_total`, `cache_misses_total`, `cache_weighted_bytes`;
//! - `outbox_rows{state}`, `outbox_oldest_pending_age_seconds`, `store_up`;
//! - `provider_circuit_state{provider,tenant}` (0 closed, 1 half-open, 2 open; set by the
//!   circuit breaker through [`set_circuit_state`]);
//! - `rate_limit_rejections_total{scope}` (`tenant`, `app`);
//! - `token_checks_total{outcome}` (`remembered`, `verified`, `refused`: bearer tokens of the
//!   API, [`crate::auth::verified`]);
//! - `build_info{version}`.
//!
//! Access: `[metrics] enabled` (default on) and, optionally, `bearer_token_env`: the name of an
//! environment variable holding a token scrapers must send as `Authorization: Bearer …`. Without
//! it the route is open, like `/healthz`: bind the listener to a private network or put the
//! gateway behind a proxy that keeps `/metrics` internal. The route is never rate limited.

use crate::error::ApiError;
use crate::fanout::ProviderOutcome;
use crate::state::AppState;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// `[metrics]`: whether `/metrics` is served and who may read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics` (otherwise it answers `404`).
    pub enabled: bool,
    /// Name of an environment variable holding the bearer token scrapers must send; empty:
    /// no token (the route is open).
    pub bearer_token_env: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bearer_token_env: String::new(),
        }
    }
}

impl MetricsConfig {
    /// The scrape token, when one is configured. A configured variable that is unset or empty
    /// is an error: the operator asked for a token, so the route must not silently be open.
    pub fn bearer_token(&self) -> Result<Option<String>, String> {
        if self.bearer_token_env.is_empty() {
            return Ok(None);
        }
        match std::env::var(&self.bearer_token_env) {
            Ok(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_string())),
            _ => Err(format!(
                "metrics.bearer_token_env: the environment variable {} is unset or empty",
                self.bearer_token_env
            )),
        }
    }
}

/// Latency bucket bounds, seconds: 5 ms to 60 s (the default request timeout).
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// One histogram series: per-bucket counts (not cumulative; rendered cumulative).
#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i] += 1;
        }
        self.sum += secs;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(self.buckets) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// The state of a provider's circuit, as the gauge reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}

/// The process-wide event series.
#[derive(Default)]
struct Registry {
    /// (method, route, status) → latency.
    http: Mutex<BTreeMap<(&'static str, String, u16), Histogram>>,
    http_in_flight: AtomicI64,
    /// (provider, tenant, outcome) → latency.
    providers: Mutex<BTreeMap<(String, String, &'static str), Histogram>>,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    /// Bearer tokens: [remembered, verified, refused] (`auth::verified`).
    token_checks: [AtomicU64; 3],
    /// (provider, tenant) → state.
    circuits: Mutex<BTreeMap<(String, String), CircuitState>>,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::default);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves counts that are still counts.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How a bearer token was checked.
#[derive(Debug, Clone, Copy)]
pub enum TokenCheck {
    /// Recognised as one that verified moments ago.
    Remembered = 0,
    /// Verified in full, and valid.
    Verified = 1,
    /// Verified in full, and refused.
    Refused = 2,
}

/// Records one bearer-token check.
pub fn token_check(check: TokenCheck) {
    REGISTRY.token_checks[check as usize].fetch_add(1, Ordering::Relaxed);
}

/// Records one finished provider call. `through_cache`: the answer was looked up in the
/// cache first (a hit or a miss is counted); `false` for calls that bypass it.
pub fn provider_call(tenant_id: &str, outcome: &ProviderOutcome, through_cache: bool) {
    let r = &*REGISTRY;
    if through_cache {
        if outcome.from_cache {
            r.cache_hits.fetch_add(1, Ordering::Relaxed);
        } else {
            r.cache_misses.fetch_add(1, Ordering::Relaxed);
        }
    }
    let label = if outcome.from_cache {
        "cached"
    } else {
        match outcome.state {
            "timeout" => "timeout",
            "answered" => "answered",
            _ => "error",
        }
    };
    let secs = Duration::from_millis(outcome.latency_ms).as_secs_f64();
    lock(&r.providers)
        .entry((
            outcome.provider.clone(),
            tenant_id.to_ascii_lowercase(),
            label,
        ))
        .or_default()
        .observe(secs);
}

/// Sets the circuit-state gauge of a provider of a tenant (called by the circuit breaker on
/// every transition).
pub fn set_circuit_state(provider: &str, tenant_id: &str, state: CircuitState) {
    lock(&REGISTRY.circuits).insert(
        (provider.to_string(), tenant_id.to_ascii_lowercase()),
        state,
    );
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Decrements the in-flight gauge however the request ends (a client that hangs up drops
/// the future).
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        REGISTRY.http_in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        REGISTRY.http_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Middleware (inside the request context, so its log line carries the request id): counts
/// the request under its matched route and status, times it, and logs one access line.
pub async fn track_http(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = method_label(req.method());
    let started = Instant::now();
    let guard = InFlight::enter();
    let resp = next.run(req).await;
    drop(guard);
    let elapsed = started.elapsed();
    let status = resp.status().as_u16();
    tracing::info!(
        method,
        route = %route,
        status,
        latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        "request completed"
    );
    lock(&REGISTRY.http)
        .entry((method, route, status))
        .or_default()
        .observe(elapsed.as_secs_f64());
    resp
}

/// A label value with `\`, `"` and newlines escaped.
fn esc(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// How long a scrape waits for the store.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// The exposition text: process-wide series and `st`'s state.
pub async fn render(st: &AppState) -> String {
    let r = &*REGISTRY;
    let mut out = String::with_capacity(8192);
    // A circuit turns half-open by the clock, not by an event: read every one now.
    let resilience = &st.federation.cache.resilience;
    for p in st.federation.registry.all() {
        let info = p.info();
        let state = match resilience.snapshot(info).circuit {
            crate::resilience::Circuit::Closed => CircuitState::Closed,
            crate::resilience::Circuit::HalfOpen => CircuitState::HalfOpen,
            crate::resilience::Circuit::Open => CircuitState::Open,
        };
        set_circuit_state(&info.name, &info.tenant_id, state);
    }

    family(&mut out, "vigil_build_info", "gauge", "Vigil's version.");
    let _ = writeln!(
        out,
        "vigil_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );

    let http = lock(&r.http).clone();
    family(
        &mut out,
        "vigil_http_requests_total",
        "counter",
        "HTTP requests answered, by method, matched route template and status.",
    );
    for ((method, route, status), h) in &http {
        let _ = writeln!(
            out,
            "vigil_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
            esc(route),
            h.count
        );
    }
    family(
        &mut out,
        "vigil_http_request_duration_seconds",
        "histogram",
        "Time to answer an HTTP request (to the response head), seconds.",
    );
    for ((method, route, status), h) in &http {
        let labels = format!(
            "method=\"{method}\",route=\"{}\",status=\"{status}\"",
            esc(route)
        );
        h.render(&mut out, "vigil_http_request_duration_seconds", &labels);
    }
    family(
        &mut out,
        "vigil_http_requests_in_flight",
        "gauge",
        "HTTP requests being answered now.",
    );
    let _ = writeln!(
        out,
        "vigil_http_requests_in_flight {}",
        r.http_in_flight.load(Ordering::Relaxed)
    );

    let providers = lock(&r.providers).clone();
    family(
        &mut out,
        "vigil_provider_calls_total",
        "counter",
        "Provider calls by provider, tenant and outcome (answered, error, timeout, cached).",
    );
    for ((provider, tenant, outcome), h) in &providers {
        let _ = writeln!(
            out,
            "vigil_provider_calls_total{{provider=\"{}\",tenant=\"{}\",outcome=\"{outcome}\"}} {}",
            esc(provider),
            esc(tenant),
            h.count
        );
    }
    family(
        &mut out,
        "vigil_provider_call_duration_seconds",
        "histogram",
        "Provider call latency (cache lookups included), seconds.",
    );
    for ((provider, tenant, outcome), h) in &providers {
        let labels = format!(
            "provider=\"{}\",tenant=\"{}\",outcome=\"{outcome}\"",
            esc(provider),
            esc(tenant)
        );
        h.render(&mut out, "vigil_provider_call_duration_seconds", &labels);
    }

    family(
        &mut out,
        "vigil_cache_hits_total",
        "counter",
        "Provider answers served from the cache.",
    );
    let _ = writeln!(
        out,
        "vigil_cache_hits_total {}",
        r.cache_hits.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "vigil_cache_misses_total",
        "counter",
        "Cache lookups that asked the provider.",
    );
    let _ = writeln!(
        out,
        "vigil_cache_misses_total {}",
        r.cache_misses.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "vigil_token_checks_total",
        "counter",
        "Bearer tokens checked, by outcome: remembered (verified moments ago), verified, refused.",
    );
    for (outcome, n) in ["remembered", "verified", "refused"]
        .iter()
        .zip(&r.token_checks)
    {
        let _ = writeln!(
            out,
            "vigil_token_checks_total{{outcome=\"{outcome}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
    family(
        &mut out,
        "vigil_cache_weighted_bytes",
        "gauge",
        "Approximate bytes of provider answers held by the cache.",
    );
    let _ = writeln!(
        out,
        "vigil_cache_weighted_bytes {}",
        st.federation.cache.weighted_size().await
    );

    let stats = tokio::time::timeout(STORE_TIMEOUT, st.federation.store.outbox_stats()).await;
    let stats = match stats {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: outbox statistics unavailable");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: outbox statistics timed out");
            None
        }
    };
    family(
        &mut out,
        "vigil_store_up",
        "gauge",
        "1 when the store answered this scrape's outbox query.",
    );
    let _ = writeln!(out, "vigil_store_up {}", u8::from(stats.is_some()));
    if let Some(s) = stats {
        family(
            &mut out,
            "vigil_outbox_rows",
            "gauge",
            "Write-back outbox rows by state, every tenant.",
        );
        for (state, n) in [
            ("pending", s.pending),
            ("delivered", s.delivered),
            ("dead", s.dead),
        ] {
            let _ = writeln!(out, "vigil_outbox_rows{{state=\"{state}\"}} {n}");
        }
        family(
            &mut out,
            "vigil_outbox_oldest_pending_age_seconds",
            "gauge",
            "Age of the oldest pending outbox row (0 when none is pending), seconds.",
        );
        let age = s.oldest_pending_created_at.map_or(0.0, |t| {
            (chrono::Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
        });
        let _ = writeln!(out, "vigil_outbox_oldest_pending_age_seconds {age}");
    }

    family(
        &mut out,
        "vigil_provider_circuit_state",
        "gauge",
        "Circuit breaker state per provider and tenant: 0 closed, 1 half-open, 2 open.",
    );
    for ((provider, tenant), state) in lock(&r.circuits).iter() {
        let _ = writeln!(
            out,
            "vigil_provider_circuit_state{{provider=\"{}\",tenant=\"{}\"}} {}",
            esc(provider),
            esc(tenant),
            *state as u8
        );
    }

    let (tenant, app) = st.limiter.rejections();
    family(
        &mut out,
        "vigil_rate_limit_rejections_total",
        "counter",
        "Requests refused with 429, by the limit that refused them.",
    );
    let _ = writeln!(
        out,
        "vigil_rate_limit_rejections_total{{scope=\"tenant\"}} {tenant}"
    );
    let _ = writeln!(
        out,
        "vigil_rate_limit_rejections_total{{scope=\"app\"}} {app}"
    );
    out
}

/// The `/metrics` route.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

/// Equal without an early exit on the first differing byte.
fn same_token(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// Prometheus metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "getMetrics",
    tag = "health",
    summary = "Prometheus metrics",
    description = "Prometheus text exposition format (0.0.4): HTTP requests by matched route \
        and status with latency histograms, provider calls by outcome with latency histograms, \
        cache hits, misses and bytes, outbox depth and oldest pending age, circuit states, \
        rate-limit rejections. Open unless `metrics.bearer_token_env` names a variable holding \
        a token (then `Authorization: Bearer <token>`); `404` when `metrics.enabled` is false. \
        Never rate limited.",
    responses(
        (status = 200, description = "The metrics.", content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "A scrape token is configured and was not sent.", body = crate::openapi::ODataError),
        (status = 404, description = "Metrics are disabled.", body = crate::openapi::ODataError),
    ),
)]
pub async fn scrape(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let cfg = &st.config.metrics;
    if !cfg.enabled {
        return ApiError::NotFound("Resource not found for the segment 'metrics'.".into())
            .into_response();
    }
    match cfg.bearer_token() {
        Ok(None) => {}
        Ok(Some(expected)) => {
            let sent = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer ").or(v.strip_prefix("bearer ")))
                .map(str::trim);
            if !sent.is_some_and(|s| same_token(s.as_bytes(), expected.as_bytes())) {
                let mut resp = ApiError::Unauthorized("A valid metrics token is required.".into())
                    .into_response();
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"vigil-metrics\""),
                );
                return resp;
            }
        }
        Err(e) => {
            // Checked at start; the variable went away since.
            return ApiError::Internal(e).into_response();
        }
    }
    let body = render(&st).await;
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_complete() {
        let mut h = Histogram::default();
        for s in [0.001, 0.004, 0.2, 3.0, 120.0] {
            h.observe(s);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "a=\"b\"");
        let value = |le: &str| -> u64 {
            out.lines()
                .find(|l| l.starts_with(&format!("x_bucket{{a=\"b\",le=\"{le}\"}} ")))
                .and_then(|l| l.rsplit(' ').next())
                .unwrap()
                .parse()
                .unwrap()
        };
        assert_eq!(value("0.005"), 2);
        assert_eq!(value("0.25"), 3);
        assert_eq!(value("5"), 4);
        assert_eq!(value("60"), 4);
        assert_eq!(value("+Inf"), 5);
        assert!(out.contains("x_count{a=\"b\"} 5\n"));
        let sum: f64 = out
            .lines()
            .find(|l| l.starts_with("x_sum"))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!((sum - 123.205).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(
            esc("/v1.0/security/alerts/{id}"),
            "/v1.0/security/alerts/{id}"
        );
    }

    #[test]
    fn tokens_compare_by_value() {
        assert!(same_token(b"s3cret", b"s3cret"));
        assert!(!same_token(b"s3cret", b"s3creT"));
        assert!(!same_token(b"", b"s3cret"));
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
    }
}
