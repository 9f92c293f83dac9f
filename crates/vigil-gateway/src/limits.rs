//! Abuse limits: request rate per tenant and per client app, sizes, slow clients, CORS.
//!
//! Graph throttles per app per tenant (150 alert requests a minute) and answers `429` with
//! `Retry-After` and a `TooManyRequests` body whose `innerError` also carries `code`, `status`
//! and `message: "Please retry after"`. We do the same with two token buckets, one per tenant
//! (protects the providers of a tenant from all its apps together) and one per client app within
//! a tenant. Both key on the *verified* token (the [`crate::auth::authenticate`] middleware runs
//! first), so a forged `tid` cannot spend another tenant's budget. `Retry-After` is whole
//! seconds: the Python SDK does `int(Retry-After)` and fails on a decimal.
//!
//! Size limits answer in Graph's error format instead of a bare status: `414` for a long URL,
//! `431` for large headers, `413` for a large body. The body of a request is read here, under
//! `body_read_timeout_ms` (a client that trickles its body gets `408`), and handed on in memory;
//! the whole request is bounded by `request_timeout_ms` (`504`, the gateway gave up). Headers
//! themselves are read by hyper (its own buffer limit applies); a header-read timeout needs a
//! hyper builder with a timer, which `axum::serve` does not expose — see the issue note.
//!
//! CORS is off unless `cors.allowed_origins` lists origins (never `*`: the API takes bearer
//! tokens). The exposed headers let a dashboard read `request-id`, `Warning` (partial answers),
//! `ETag` and `Retry-After`.

use crate::auth::{Authenticated, Principal};
use crate::config::{CorsConfig, LimitsConfig};
use crate::context::{RequestContext, graph_error_body};
use crate::error::{ApiError, PendingGraphError, retry_after_value};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A token bucket.
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant, rate: f64, burst: f64) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * rate).min(burst);
        self.last = now;
    }
}

/// Buckets of one kind (per tenant, or per app within a tenant).
struct Buckets {
    /// Tokens per second.
    rate: f64,
    burst: f64,
    map: moka::future::Cache<String, Arc<std::sync::Mutex<Bucket>>>,
}

impl Buckets {
    fn new(per_minute: u32, burst: u32) -> Option<Self> {
        (per_minute > 0).then(|| Self {
            rate: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            // Idle buckets are full again after burst/rate seconds; forgetting them later is
            // harmless and bounds memory.
            map: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
        })
    }

    async fn bucket(&self, key: String) -> Arc<std::sync::Mutex<Bucket>> {
        let burst = self.burst;
        self.map
            .get_with(key, async move {
                Arc::new(std::sync::Mutex::new(Bucket {
                    tokens: burst,
                    last: Instant::now(),
                }))
            })
            .await
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    Tenant,
    App,
}

/// Per-tenant and per-app request rates.
pub struct RateLimiter {
    tenant: Option<Buckets>,
    app: Option<Buckets>,
    rejected_tenant: AtomicU64,
    rejected_app: AtomicU64,
}

impl RateLimiter {
    pub fn new(cfg: &LimitsConfig) -> Self {
        Self {
            tenant: Buckets::new(cfg.tenant_per_minute, cfg.tenant_burst),
            app: Buckets::new(cfg.app_per_minute, cfg.app_burst),
            rejected_tenant: AtomicU64::new(0),
            rejected_app: AtomicU64::new(0),
        }
    }

    /// Requests refused so far, per limit (for metrics).
    pub fn rejections(&self) -> (u64, u64) {
        (
            self.rejected_tenant.load(Ordering::Relaxed),
            self.rejected_app.load(Ordering::Relaxed),
        )
    }

    /// Takes one token from the caller's tenant and app buckets, or says how long to wait.
    /// Both buckets are taken together or not at all.
    pub async fn check(&self, p: &Principal) -> Result<(), (LimitScope, Duration)> {
        let tenant = p.tenant_id.to_ascii_lowercase();
        let app = format!(
            "{tenant}/{}",
            p.app_id.as_deref().unwrap_or(p.subject.as_str())
        );
        let tb = match &self.tenant {
            Some(b) => Some((b, b.bucket(tenant).await)),
            None => None,
        };
        let ab = match &self.app {
            Some(b) => Some((b, b.bucket(app).await)),
            None => None,
        };
        let now = Instant::now();
        // Always tenant before app: no lock-order inversion.
        let mut tg = tb
            .as_ref()
            .map(|(b, m)| (b, m.lock().unwrap_or_else(|e| e.into_inner())));
        let mut ag = ab
            .as_ref()
            .map(|(b, m)| (b, m.lock().unwrap_or_else(|e| e.into_inner())));
        let mut refused: Option<(LimitScope, Duration)> = None;
        for (scope, guard) in [(LimitScope::Tenant, &mut tg), (LimitScope::App, &mut ag)] {
            if let Some((b, bucket)) = guard.as_mut() {
                bucket.refill(now, b.rate, b.burst);
                if bucket.tokens < 1.0 {
                    let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / b.rate);
                    if refused.is_none_or(|(_, w)| wait > w) {
                        refused = Some((scope, wait));
                    }
                }
            }
        }
        if let Some((scope, wait)) = refused {
            match scope {
                LimitScope::Tenant => &self.rejected_tenant,
                LimitScope::App => &self.rejected_app,
            }
            .fetch_add(1, Ordering::Relaxed);
            return Err((scope, wait));
        }
        for guard in [&mut tg, &mut ag] {
            if let Some((_, bucket)) = guard.as_mut() {
                bucket.tokens -= 1.0;
            }
        }
        Ok(())
    }
}

/// The liveness and readiness probes: answered without a token and outside the rate limits
/// (an orchestrator's probe must neither spend a tenant's budget nor be refused by it).
pub fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// Middleware (after [`crate::auth::authenticate`]): `429` when the caller's budget is spent.
/// Probes ([`is_probe`]) are not counted.
pub async fn rate_limit(
    State(limiter): State<Arc<RateLimiter>>,
    req: Request,
    next: Next,
) -> Response {
    if is_probe(req.uri().path()) {
        return next.run(req).await;
    }
    let principal = match req.extensions().get::<Authenticated>() {
        Some(Authenticated(Ok(p))) => Some(p.clone()),
        _ => None,
    };
    if let Some(p) = principal
        && let Err((scope, wait)) = limiter.check(&p).await
    {
        tracing::info!(
            tenant = %p.tenant_id,
            app = p.app_id.as_deref().unwrap_or("-"),
            limit = ?scope,
            "request throttled"
        );
        return too_many_requests(req.extensions().get::<RequestContext>(), wait);
    }
    next.run(req).await
}

/// Graph's documented 429: `Retry-After` in whole seconds and `innerError.code/status/message`.
pub fn too_many_requests(ctx: Option<&RequestContext>, wait: Duration) -> Response {
    let Some(ctx) = ctx else {
        return ApiError::TooManyRequests { retry_after: wait }.into_response();
    };
    let pending = PendingGraphError {
        code: "TooManyRequests",
        message: "Please retry after".into(),
    };
    let mut body: serde_json::Value =
        serde_json::from_str(&graph_error_body(&pending, ctx)).unwrap_or_default();
    if let Some(inner) = body
        .pointer_mut("/error/innerError")
        .and_then(|v| v.as_object_mut())
    {
        inner.insert("code".into(), "429".into());
        inner.insert("status".into(), "429".into());
        inner.insert("message".into(), "Please retry after".into());
    }
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::RETRY_AFTER, retry_after_value(wait));
    resp
}

/// A Graph error for statuses [`ApiError`] has no variant for (rendered by the context layer).
fn graph_error(status: StatusCode, code: &'static str, message: &str) -> Response {
    let mut resp = status.into_response();
    resp.extensions_mut().insert(PendingGraphError {
        code,
        message: message.to_string(),
    });
    resp
}

fn may_have_body(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// Middleware: URL, header and body sizes, body read timeout, overall timeout.
pub async fn enforce_limits(
    State(cfg): State<Arc<LimitsConfig>>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let target_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target_len > cfg.max_url_bytes {
        return graph_error(
            StatusCode::URI_TOO_LONG,
            "RequestUriTooLong",
            &format!(
                "The request URL is longer than {} bytes.",
                cfg.max_url_bytes
            ),
        );
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    if header_bytes > cfg.max_header_bytes {
        return graph_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "RequestHeaderFieldsTooLarge",
            &format!(
                "The request headers are larger than {} bytes.",
                cfg.max_header_bytes
            ),
        );
    }
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "The request body is larger than {} bytes.",
            cfg.max_body_bytes
        ))
        .into_response()
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > cfg.max_body_bytes as u64) {
        return too_large();
    }
    let req = if may_have_body(&req) {
        let (parts, body) = req.into_parts();
        let read = read_body(body, cfg.max_body_bytes);
        match tokio::time::timeout(Duration::from_millis(cfg.body_read_timeout_ms), read).await {
            Err(_) => {
                return graph_error(
                    StatusCode::REQUEST_TIMEOUT,
                    "RequestTimeout",
                    "The request body was not received in time.",
                );
            }
            Ok(Err(BodyError::TooLarge)) => return too_large(),
            Ok(Err(BodyError::Broken)) => {
                return ApiError::BadRequest("The request body could not be read.".into())
                    .into_response();
            }
            Ok(Ok(bytes)) => Request::from_parts(parts, Body::from(bytes)),
        }
    } else {
        req
    };
    let budget = Duration::from_millis(cfg.request_timeout_ms).saturating_sub(started.elapsed());
    match tokio::time::timeout(budget, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!(
                timeout_ms = cfg.request_timeout_ms,
                "request exceeded the overall timeout"
            );
            ApiError::GatewayTimeout("The request did not complete in time.".into()).into_response()
        }
    }
}

enum BodyError {
    TooLarge,
    Broken,
}

async fn read_body(body: Body, max: usize) -> Result<bytes::Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        if buf.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then stops accepting (the
/// listener is closed: new connections are refused) and lets open connections finish their
/// requests for up to `grace`; connections still open then are closed.
///
/// What `axum::serve` does, plus what it cannot be told: a header-read timeout (a client that
/// trickles its request line and headers is disconnected after `header_read_timeout_ms`, so a
/// slow-header flood cannot hold every connection) and a bounded header buffer (hyper answers
/// `431` itself beyond it; below it, [`enforce_limits`] answers with a Graph error).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: tokio_util::sync::CancellationToken,
    cfg: &LimitsConfig,
    grace: Duration,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(cfg.header_read_timeout_ms))
        .max_buf_size((cfg.max_header_bytes + cfg.max_url_bytes + 4096).max(8192));
    builder.http2().timer(TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        connections.spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    let open = connections.len();
    tracing::info!(
        open,
        grace_ms = grace.as_millis() as u64,
        "no longer accepting connections; finishing in-flight requests"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "connections still busy at the shutdown deadline are closed"
        );
    }
    connections.abort_all();
    Ok(())
}

/// The CORS layer, or `None` when no origin is allowed (the default).
pub fn cors_layer(cfg: &CorsConfig) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer, ExposeHeaders};
    let origins: Vec<HeaderValue> = cfg
        .allowed_origins
        .iter()
        .filter(|o| o.as_str() != "*")
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let methods: Vec<http::Method> = cfg
        .allowed_methods
        .iter()
        .filter_map(|m| http::Method::from_bytes(m.as_bytes()).ok())
        .collect();
    let names = |list: &[String]| -> Vec<http::HeaderName> {
        list.iter()
            .filter_map(|h| http::HeaderName::from_bytes(h.as_bytes()).ok())
            .collect()
    };
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods(AllowMethods::list(methods))
            .allow_headers(AllowHeaders::list(names(&cfg.allowed_headers)))
            .expose_headers(ExposeHeaders::list(names(&cfg.exposed_headers)))
            .max_age(Duration::from_secs(cfg.max_age_secs)),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn limits(tenant: (u32, u32), app: (u32, u32)) -> LimitsConfig {
        LimitsConfig {
            tenant_per_minute: tenant.0,
            tenant_burst: tenant.1,
            app_per_minute: app.0,
            app_burst: app.1,
            max_body_bytes: 1024,
            max_url_bytes: 1024,
            max_header_bytes: 1024,
            header_read_timeout_ms: 1000,
            body_read_timeout_ms: 1000,
            request_timeout_ms: 1000,
            max_concurrent_providers: 1,
        }
    }

    fn principal(tenant: &str, app: &str) -> Principal {
        Principal {
            tenant_id: tenant.into(),
            subject: "s".into(),
            app_id: Some(app.into()),
            user: None,
            permissions: vec![],
        }
    }

    #[tokio::test]
    async fn buckets_per_app_and_per_tenant() {
        let l = RateLimiter::new(&limits((60, 3), (60, 2)));
        let a = principal("t1", "app-a");
        let b = principal("t1", "app-b");
        assert!(l.check(&a).await.is_ok());
        assert!(l.check(&a).await.is_ok());
        let (scope, wait) = l.check(&a).await.unwrap_err();
        assert_eq!(scope, LimitScope::App);
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO);
        // Another app of the same tenant has its own bucket, but shares the tenant's.
        assert!(l.check(&b).await.is_ok());
        assert_eq!(l.check(&b).await.unwrap_err().0, LimitScope::Tenant);
        // Another tenant is unaffected.
        assert!(l.check(&principal("t2", "app-a")).await.is_ok());
        assert_eq!(l.rejections(), (1, 1));
    }

    #[tokio::test]
    async fn a_refused_request_takes_no_token() {
        let l = RateLimiter::new(&limits((60, 1), (60, 5)));
        let a = principal("t1", "app-a");
        assert!(l.check(&a).await.is_ok());
        for _ in 0..5 {
            assert!(l.check(&a).await.is_err());
        }
        // The app bucket still holds 4 tokens: only the tenant limit refused.
        assert_eq!(l.rejections(), (5, 0));
    }

    #[tokio::test]
    async fn zero_rate_turns_the_limit_off() {
        let l = RateLimiter::new(&limits((0, 0), (0, 0)));
        for _ in 0..1000 {
            assert!(l.check(&principal("t", "a")).await.is_ok());
        }
    }

    #[test]
    fn cors_is_off_by_default_and_never_a_wildcard() {
        let mut c = CorsConfig {
            allowed_origins: vec![],
            allowed_methods: vec!["GET".into()],
            allowed_headers: vec!["authorization".into()],
            exposed_headers: vec!["request-id".into()],
            max_age_secs: 60,
        };
        assert!(cors_layer(&c).is_none());
        c.allowed_origins = vec!["*".into()];
        assert!(cors_layer(&c).is_none());
        c.allowed_origins = vec!["https://soc.example.com".into()];
        assert!(cors_layer(&c).is_some());
    }
}
