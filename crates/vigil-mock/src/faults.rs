//! Fault injection: what a flaky upstream does to an HTTP client, on demand and reproducibly.
//!
//! Why a middleware and not per-handler code: every product route (API and token endpoints
//! alike) must misbehave the same way, and the format modules should not have to know about it.
//! The `/_mock/*` admin routes are outside the layer, so a test can always repair a mock it
//! broke.
//!
//! Per request, in this order (every roll is drawn on every request, so the sequence of outcomes
//! depends only on the seed and the request count, not on which faults fired before):
//! 1. **latency**: the answer leaves `latency_ms` + uniform `0..=jitter_ms` after the request
//!    arrived, the product's own work included, as a real product's latency is. A read (`GET`,
//!    `HEAD`) is computed at once and held until then; a write waits first, so a client that
//!    gives up before the latency has passed never changed anything;
//! 2. **hang** (`hang_rate`): never answer (the connection stays open until the client gives up
//!    or the mock shuts down);
//! 3. **throttle** (`throttle_rate`): `429` + `Retry-After: retry_after_secs`, in the product's
//!    error format (Falcon also gets `X-RateLimit-RetryAfter`);
//! 4. **error** (`error_rate`): `error_status` (default 503) in the product's error format;
//! 5. the real handler runs, then its response may be replaced:
//!    **oversized** (`oversized_bytes`, every response while set): `200` with a valid JSON body
//!    of exactly that many bytes (or the minimum envelope if smaller), generated and streamed in
//!    64 KiB chunks, never held in memory;
//!    **malformed** (`malformed_rate`): `200`, `Content-Type: application/json`, a body that is
//!    not JSON (a cut-off copy of the real body with junk, an HTML error page, or JS literals);
//!    **truncated** (`truncated_rate`): the real status and headers, then a valid prefix of
//!    the real body and the connection is cut: either `Content-Length` announces the full size
//!    (a lie), or the body is chunked and the terminating chunk never comes;
//! 6. **drip** (`drip`, every response while set): whatever is sent goes out `chunk_bytes` at a
//!    time, `interval_ms` apart.
//!
//! The RNG is re-seeded from the mock's seed whenever the faults are replaced, so "set faults,
//! send N requests" gives the same outcomes on every run. Rates are in `0..=1`; 1 = always.

use crate::core::ProviderKind;
use crate::rng::Rng;
use crate::wire;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A body is read whole (to corrupt or cut it) only up to this size.
const MAX_REWRITE_BODY: usize = 64 * 1024 * 1024;
/// Chunk size of generated oversized bodies.
const OVERSIZED_CHUNK: usize = 64 * 1024;

/// The faults one mock injects. Every field has a default (no fault), so `{}` is valid JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fixed delay before answering.
    pub latency_ms: u64,
    /// Extra uniform random delay in `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Share of requests answered with `error_status`.
    pub error_rate: f64,
    /// Status of injected errors (500..=599 or 400..=499; default 503).
    pub error_status: u16,
    /// Share of requests never answered.
    pub hang_rate: f64,
    /// Share of responses replaced by invalid JSON (`200`, `application/json`).
    pub malformed_rate: f64,
    /// Share of responses cut off mid-body.
    pub truncated_rate: f64,
    /// Share of requests answered `429` with `Retry-After`.
    pub throttle_rate: f64,
    /// `Retry-After` of injected 429s, whole seconds.
    pub retry_after_secs: u64,
    /// Send every body slowly.
    pub drip: Option<Drip>,
    /// Replace every response by a valid JSON body of this many bytes.
    pub oversized_bytes: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            jitter_ms: 0,
            error_rate: 0.0,
            error_status: 503,
            hang_rate: 0.0,
            malformed_rate: 0.0,
            truncated_rate: 0.0,
            throttle_rate: 0.0,
            retry_after_secs: 2,
            drip: None,
            oversized_bytes: None,
        }
    }
}

/// A slowly dripping body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Drip {
    /// Bytes per chunk (at least 1).
    pub chunk_bytes: usize,
    /// Pause between chunks.
    pub interval_ms: u64,
}

impl Default for Drip {
    fn default() -> Self {
        Self {
            chunk_bytes: 16,
            interval_ms: 100,
        }
    }
}

/// Why a fault configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultsError {
    #[error("{field} must be between 0 and 1, got {value}")]
    RateOutOfRange { field: &'static str, value: f64 },
    #[error("error_status must be an HTTP error status (400..=599), got {0}")]
    BadStatus(u16),
    #[error("drip.chunk_bytes must be at least 1")]
    EmptyDripChunk,
}

impl Faults {
    /// No faults at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Checks ranges (rates in `0..=1`, an error status, a non-empty drip chunk).
    pub fn validate(&self) -> Result<(), FaultsError> {
        for (field, value) in [
            ("error_rate", self.error_rate),
            ("hang_rate", self.hang_rate),
            ("malformed_rate", self.malformed_rate),
            ("truncated_rate", self.truncated_rate),
            ("throttle_rate", self.throttle_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultsError::RateOutOfRange { field, value });
            }
        }
        if !(400..=599).contains(&self.error_status) {
            return Err(FaultsError::BadStatus(self.error_status));
        }
        if self.drip.as_ref().is_some_and(|d| d.chunk_bytes == 0) {
            return Err(FaultsError::EmptyDripChunk);
        }
        Ok(())
    }
}

/// What happens to one request.
#[derive(Debug, Clone)]
struct Decision {
    delay: Duration,
    hang: bool,
    throttle: bool,
    error: bool,
    malformed: bool,
    truncated: bool,
    variant: u64,
    faults: Faults,
}

/// The live fault configuration of one mock and its RNG.
#[derive(Debug)]
pub struct FaultController {
    kind: ProviderKind,
    seed: u64,
    state: Mutex<(Faults, Rng)>,
    shutdown: CancellationToken,
}

impl FaultController {
    pub fn new(kind: ProviderKind, seed: u64, faults: Faults, shutdown: CancellationToken) -> Self {
        let rng = Self::rng_for(kind, seed);
        Self {
            kind,
            seed,
            state: Mutex::new((faults, rng)),
            shutdown,
        }
    }

    fn rng_for(kind: ProviderKind, seed: u64) -> Rng {
        Rng::new(seed).fork(&format!("faults/{}", kind.as_str()))
    }

    pub fn get(&self) -> Faults {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// Replaces the faults and re-seeds the RNG. Invalid values are refused.
    pub fn set(&self, faults: Faults) -> Result<(), FaultsError> {
        faults.validate()?;
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *st = (faults, Self::rng_for(self.kind, self.seed));
        Ok(())
    }

    /// Sleeps until `at`; false when the mock is shutting down first.
    async fn wait_until(&self, at: tokio::time::Instant) -> bool {
        tokio::select! {
            _ = tokio::time::sleep_until(at) => true,
            _ = self.shutdown.cancelled() => false,
        }
    }

    fn decide(&self) -> Decision {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (faults, rng) = &mut *st;
        let jitter = if faults.jitter_ms > 0 {
            rng.below(faults.jitter_ms.saturating_add(1))
        } else {
            0
        };
        // Draw every roll every time (see the module doc).
        let hang = rng.chance(faults.hang_rate);
        let throttle = rng.chance(faults.throttle_rate);
        let error = rng.chance(faults.error_rate);
        let malformed = rng.chance(faults.malformed_rate);
        let truncated = rng.chance(faults.truncated_rate);
        let variant = rng.next_u64();
        Decision {
            delay: Duration::from_millis(faults.latency_ms.saturating_add(jitter)),
            hang,
            throttle,
            error,
            malformed,
            truncated,
            variant,
            faults: faults.clone(),
        }
    }
}

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn fault_layer(
    State(ctl): State<Arc<FaultController>>,
    req: Request,
    next: Next,
) -> Response {
    let d = ctl.decide();
    let answer_at = tokio::time::Instant::now() + d.delay;
    if d.hang {
        ctl.shutdown.cancelled().await;
        return shutting_down();
    }
    let computed_early = matches!(*req.method(), Method::GET | Method::HEAD);
    if !computed_early && !ctl.wait_until(answer_at).await {
        return shutting_down();
    }
    let headers = req.headers().clone();
    let resp = if d.throttle {
        wire::throttled(ctl.kind, d.faults.retry_after_secs, &headers)
    } else if d.error {
        let status =
            StatusCode::from_u16(d.faults.error_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        wire::injected_error(ctl.kind, status, &headers)
    } else {
        let resp = next.run(req).await;
        if let Some(n) = d.faults.oversized_bytes {
            oversized(ctl.kind, n)
        } else if d.malformed {
            malformed(resp, d.variant).await
        } else if d.truncated {
            truncated(resp, d.variant).await
        } else {
            resp
        }
    };
    if computed_early && !ctl.wait_until(answer_at).await {
        return shutting_down();
    }
    match &d.faults.drip {
        Some(drip) => dripping(resp, drip),
        None => resp,
    }
}

fn shutting_down() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "mock shutting down").into_response()
}

fn set_json(resp: &mut Response) {
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
}

async fn malformed(resp: Response, variant: u64) -> Response {
    let (_, body) = resp.into_parts();
    let real = axum::body::to_bytes(body, MAX_REWRITE_BODY)
        .await
        .unwrap_or_default();
    let bad: Vec<u8> = match variant % 3 {
        0 => {
            let mut v = real[..real.len() / 2].to_vec();
            v.extend_from_slice(b"}}]]{\"vigil\":\x01broken");
            v
        }
        1 => b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>".to_vec(),
        _ => b"{\"value\": [NaN, undefined, {'id': 'x',}], }".to_vec(),
    };
    let mut out = (StatusCode::OK, bad).into_response();
    set_json(&mut out);
    out
}

async fn truncated(resp: Response, variant: u64) -> Response {
    let (mut parts, body) = resp.into_parts();
    let real = axum::body::to_bytes(body, MAX_REWRITE_BODY)
        .await
        .unwrap_or_default();
    // Keep at least one byte back so the body is incomplete even when tiny; an empty body gets a
    // fake announced length so the cut is still observable.
    let full_len = real.len().max(2);
    let cut = (real.len() / 2).min(real.len().saturating_sub(1));
    let prefix = real.slice(..cut);
    // Yield the prefix, pause so the server flushes it (and the headers), then fail: hyper
    // aborts the connection without completing the body.
    let stream = futures::stream::unfold((0u8, prefix), |(stage, prefix)| async move {
        match stage {
            0 => Some((Ok::<Bytes, std::io::Error>(prefix), (1, Bytes::new()))),
            1 => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let cut = std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "vigil-mock: injected truncation",
                );
                Some((Err(cut), (2, Bytes::new())))
            }
            _ => None,
        }
    });
    parts.headers.remove(header::TRANSFER_ENCODING);
    if variant.is_multiple_of(2) {
        // Content-Length announces the whole body; fewer bytes follow.
        if let Ok(v) = HeaderValue::from_str(&full_len.to_string()) {
            parts.headers.insert(header::CONTENT_LENGTH, v);
        }
    } else {
        // Chunked; the terminating zero-length chunk never comes.
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    Response::from_parts(parts, Body::from_stream(stream))
}

/// The opening and closing of the generated body per product, so it parses as the product's
/// collection shape.
fn oversized_envelope(kind: ProviderKind) -> (&'static str, &'static str) {
    match kind {
        ProviderKind::Graph => (
            "{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#security/alerts\",\"value\":[],\"@vigil.padding\":\"",
            "\"}",
        ),
        ProviderKind::Falcon => (
            "{\"meta\":{\"query_time\":0.001,\"powered_by\":\"crowdstrike-api-gateway\"},\"resources\":[],\"errors\":[],\"padding\":\"",
            "\"}",
        ),
        ProviderKind::Ocsf => (
            "{\"findings\":[],\"next_cursor\":null,\"padding\":\"",
            "\"}",
        ),
    }
}

fn oversized(kind: ProviderKind, total: u64) -> Response {
    let (open, close) = oversized_envelope(kind);
    let min = (open.len() + close.len()) as u64;
    let total = total.max(min);
    let pad = total - min;
    // State: (bytes of padding still to send, whether the opening/closing went out).
    let stream = futures::stream::unfold((0u8, pad), move |(stage, left)| async move {
        match stage {
            0 => Some((
                Ok::<Bytes, std::io::Error>(Bytes::from_static(open.as_bytes())),
                (1, left),
            )),
            1 if left > 0 => {
                let n = left.min(OVERSIZED_CHUNK as u64);
                let chunk = Bytes::from(vec![b'x'; usize::try_from(n).unwrap_or(OVERSIZED_CHUNK)]);
                Some((Ok(chunk), (1, left - n)))
            }
            1 => Some((Ok(Bytes::from_static(close.as_bytes())), (2, 0))),
            _ => None,
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    set_json(&mut resp);
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        resp.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    resp
}

fn dripping(resp: Response, drip: &Drip) -> Response {
    let chunk = drip.chunk_bytes.max(1);
    let interval = Duration::from_millis(drip.interval_ms);
    let (parts, body) = resp.into_parts();
    let upstream = body.into_data_stream();
    // State: upstream stream, bytes not yet sent, whether a chunk already went out.
    let stream = futures::stream::unfold(
        (upstream, Bytes::new(), false, false),
        move |(mut up, mut pending, mut started, mut done)| async move {
            loop {
                if !pending.is_empty() {
                    if started {
                        tokio::time::sleep(interval).await;
                    }
                    started = true;
                    let n = chunk.min(pending.len());
                    let out = pending.split_to(n);
                    return Some((Ok::<Bytes, axum::Error>(out), (up, pending, started, done)));
                }
                if done {
                    return None;
                }
                match up.next().await {
                    Some(Ok(b)) => pending = b,
                    Some(Err(e)) => {
                        done = true;
                        return Some((Err(e), (up, pending, started, done)));
                    }
                    None => done = true,
                }
            }
        },
    );
    Response::from_parts(parts, Body::from_stream(stream))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_json_is_no_faults_and_unknown_fields_are_refused() {
        let f: Faults = serde_json::from_str("{}").unwrap();
        assert_eq!(f, Faults::none());
        assert_eq!(f.error_status, 503);
        assert!(serde_json::from_str::<Faults>(r#"{"eror_rate":1}"#).is_err());
        let d: Faults = serde_json::from_str(r#"{"drip":{}}"#).unwrap();
        assert_eq!(d.drip, Some(Drip::default()));
    }

    #[test]
    fn validation() {
        let mut f = Faults {
            error_rate: 1.5,
            ..Faults::none()
        };
        assert!(matches!(
            f.validate(),
            Err(FaultsError::RateOutOfRange {
                field: "error_rate",
                ..
            })
        ));
        f.error_rate = 1.0;
        f.error_status = 200;
        assert_eq!(f.validate(), Err(FaultsError::BadStatus(200)));
        f.error_status = 500;
        assert!(f.validate().is_ok());
        f.hang_rate = f64::NAN;
        assert!(f.validate().is_err());
    }

    #[test]
    fn decisions_are_reproducible_after_set() {
        let ctl = FaultController::new(
            ProviderKind::Graph,
            9,
            Faults::none(),
            CancellationToken::new(),
        );
        let f = Faults {
            error_rate: 0.5,
            ..Faults::none()
        };
        ctl.set(f.clone()).unwrap();
        let a: Vec<bool> = (0..32).map(|_| ctl.decide().error).collect();
        ctl.set(f).unwrap();
        let b: Vec<bool> = (0..32).map(|_| ctl.decide().error).collect();
        assert_eq!(a, b);
        assert!(a.iter().any(|x| *x) && a.iter().any(|x| !*x));
    }
}
