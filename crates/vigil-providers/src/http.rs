//! The one HTTP client every adapter sends through, so that every upstream failure becomes the
//! same typed [`ProviderError`] whichever product caused it.
//!
//! Why a wrapper rather than bare `reqwest`:
//!
//! - **Bounded memory.** An upstream body is streamed chunk by chunk and abandoned as soon as it
//!   passes [`HttpConfig::max_body_bytes`] (or at once when its `Content-Length` already does),
//!   so a misbehaving provider cannot make the gateway buffer an arbitrary amount.
//! - **One error mapping.** Timeouts, refused connections, 401/403/404, throttling, other
//!   non-2xx statuses and bodies that stop mid-way all map to one [`ProviderErrorKind`] each,
//!   in one place; adapters only ever see 2xx responses. `Connect` means we could not reach
//!   the upstream at all; a server that accepted the connection and then closed it before a
//!   complete answer, or answered something that is not HTTP, is `Decode` (an unreadable
//!   answer), like a body cut off mid-way.
//! - **Throttling.** Graph (and the partner APIs) answer `429`, or `503`, with `Retry-After`.
//!   A short wait (at most [`HttpConfig::max_retry_wait_ms`]) is waited out and the request is
//!   retried once; a longer one is returned as [`ProviderErrorKind::Throttled`] with the delay,
//!   because a gateway request cannot sit on a provider for minutes: the caller (federation
//!   engine, outbox) decides when to come back. A `503` without `Retry-After` is an outage, not
//!   throttling, and is reported as [`ProviderErrorKind::Upstream`] with status 503.
//! - **No redirects.** Redirects are never followed, so a bearer token can only ever travel to
//!   the URL an adapter built; a `3xx` is reported as an upstream error.
//!
//! Secrets: only the method, URL and status are logged, at `debug`. Bodies are never logged;
//! an error body is reduced to a short message (Graph's `error.message`, OAuth's
//! `error_description`, or the first characters of the text).

use crate::error::{ProviderError, ProviderErrorKind};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Timeouts and limits of one provider's HTTP client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// Whole-request deadline, from sending until the last body byte (default 10 000).
    pub timeout_ms: u64,
    /// Deadline for establishing the connection (default 3 000).
    pub connect_timeout_ms: u64,
    /// Largest body accepted (default 16 MiB); a larger one is abandoned → `BodyTooLarge`.
    pub max_body_bytes: usize,
    /// A 429/503 whose `Retry-After` is at most this is waited out and retried once; a longer
    /// one becomes `Throttled` (default 2 000).
    pub max_retry_wait_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            connect_timeout_ms: 3_000,
            max_body_bytes: 16 * 1024 * 1024,
            max_retry_wait_ms: 2_000,
        }
    }
}

impl HttpConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn max_retry_wait(&self) -> Duration {
        Duration::from_millis(self.max_retry_wait_ms)
    }
}

/// An HTTP client bound to one provider instance: its name goes into every error.
/// Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    provider: String,
    client: reqwest::Client,
    cfg: HttpConfig,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.inner.provider)
            .field("cfg", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

/// A successful (2xx) response with its whole body.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Longest message kept from an upstream error body.
const MAX_ERROR_MESSAGE_CHARS: usize = 300;
/// Most bytes read from an error body to find its message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

impl HttpClient {
    pub fn new(provider_name: &str, cfg: &HttpConfig) -> Result<Self, ProviderError> {
        let config_error = |msg: String| {
            ProviderError::new(provider_name.to_owned(), ProviderErrorKind::Config(msg))
        };
        if cfg.timeout_ms == 0 || cfg.connect_timeout_ms == 0 {
            return Err(config_error("http timeouts must be positive".into()));
        }
        if cfg.max_body_bytes == 0 {
            return Err(config_error("http.max_body_bytes must be positive".into()));
        }
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout())
            .connect_timeout(cfg.connect_timeout())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| config_error(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                provider: provider_name.to_owned(),
                client,
                cfg: cfg.clone(),
            }),
        })
    }

    pub fn provider_name(&self) -> &str {
        &self.inner.provider
    }

    /// The underlying client, to build requests with (`client().get(url)`).
    pub fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    pub fn config(&self) -> &HttpConfig {
        &self.inner.cfg
    }

    /// An error of this provider.
    pub fn error(&self, kind: ProviderErrorKind) -> ProviderError {
        ProviderError::new(self.inner.provider.clone(), kind)
    }

    /// Sends the request and reads the whole body within the size cap. Returns only 2xx
    /// responses; everything else is a typed error (see the module docs). A throttled request
    /// whose `Retry-After` is short is waited out and sent once more.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<HttpResponse, ProviderError> {
        let request = req
            .build()
            .map_err(|e| self.error(ProviderErrorKind::Config(format!("invalid request: {e}"))))?;
        // A request with a streaming body cannot be cloned; it is then simply not retried.
        let retry = request.try_clone();
        match (self.send_once(request).await, retry) {
            (
                Err(Attempt::Throttled {
                    retry_after: Some(wait),
                }),
                Some(again),
            ) if wait <= self.inner.cfg.max_retry_wait() => {
                tracing::debug!(provider = %self.inner.provider, ?wait, "throttled; retrying once after the wait");
                tokio::time::sleep(wait).await;
                self.send_once(again)
                    .await
                    .map_err(|a| self.attempt_error(a))
            }
            (first, _) => first.map_err(|a| self.attempt_error(a)),
        }
    }

    fn attempt_error(&self, attempt: Attempt) -> ProviderError {
        match attempt {
            Attempt::Throttled { retry_after } => {
                self.error(ProviderErrorKind::Throttled { retry_after })
            }
            Attempt::Failed(kind) => self.error(kind),
        }
    }

    async fn send_once(&self, request: reqwest::Request) -> Result<HttpResponse, Attempt> {
        let method = request.method().clone();
        let url = request.url().clone();
        let started = Instant::now();
        let response = self
            .inner
            .client
            .execute(request)
            .await
            .map_err(|e| Attempt::Failed(self.transport_error(&e)))?;
        let status = response.status();
        tracing::debug!(
            provider = %self.inner.provider,
            %method,
            url = %redacted(&url),
            status = status.as_u16(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "upstream answered"
        );
        if status.is_success() {
            let headers = response.headers().clone();
            let body = self
                .read_body(response, self.inner.cfg.max_body_bytes)
                .await?;
            return Ok(HttpResponse {
                status,
                headers,
                body,
            });
        }
        let retry_after = parse_retry_after(response.headers());
        if status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::SERVICE_UNAVAILABLE && retry_after.is_some())
        {
            return Err(Attempt::Throttled { retry_after });
        }
        let limit = self.inner.cfg.max_body_bytes.min(MAX_ERROR_BODY_BYTES);
        // The status is the error; a body we cannot read only loses its detail.
        let body = self.read_body(response, limit).await.unwrap_or_default();
        let message = error_message(&body).unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("no reason given")
                .to_owned()
        });
        Err(Attempt::Failed(match status {
            StatusCode::UNAUTHORIZED => ProviderErrorKind::Unauthorized(message),
            StatusCode::FORBIDDEN => ProviderErrorKind::Forbidden(message),
            StatusCode::NOT_FOUND => ProviderErrorKind::NotFound,
            _ => ProviderErrorKind::Upstream {
                status: status.as_u16(),
                message,
            },
        }))
    }

    /// Streams the body, giving up as soon as it would exceed `limit`.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        limit: usize,
    ) -> Result<Bytes, Attempt> {
        let too_large = || {
            Attempt::Failed(ProviderErrorKind::BodyTooLarge {
                limit: self.inner.cfg.max_body_bytes,
            })
        };
        let declared = response.content_length();
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(too_large());
        }
        let capacity = declared.map_or(8 * 1024, |len| len as usize);
        let mut body = BytesMut::with_capacity(capacity.min(limit));
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body.freeze()),
                Err(e) if e.is_timeout() => {
                    return Err(Attempt::Failed(ProviderErrorKind::Timeout(
                        self.inner.cfg.timeout(),
                    )));
                }
                Err(e) => {
                    return Err(Attempt::Failed(ProviderErrorKind::Decode(format!(
                        "the response body stopped after {} bytes: {}",
                        body.len(),
                        error_chain(&e)
                    ))));
                }
            }
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> ProviderErrorKind {
        if e.is_connect() {
            ProviderErrorKind::Connect(error_chain(e))
        } else if e.is_timeout() {
            ProviderErrorKind::Timeout(self.inner.cfg.timeout())
        } else if e.is_builder() {
            ProviderErrorKind::Config(error_chain(e))
        } else {
            // Connected, but no complete HTTP answer came: the server closed or reset the
            // connection, or sent something that is not HTTP. The answer is unreadable.
            ProviderErrorKind::Decode(format!("no complete HTTP answer: {}", error_chain(e)))
        }
    }
}

/// The outcome of one attempt, before the retry decision.
enum Attempt {
    Throttled { retry_after: Option<Duration> },
    Failed(ProviderErrorKind),
}

impl HttpResponse {
    /// Parses the body as JSON; a failure is a `Decode` error naming the expected type.
    pub fn json<'a, T: serde::Deserialize<'a>>(
        &'a self,
        provider: &HttpClient,
    ) -> Result<T, ProviderError> {
        let decode_error = |why: String| {
            provider.error(ProviderErrorKind::Decode(format!(
                "expected {} as JSON: {}",
                short_type_name::<T>(),
                truncate(&why, MAX_ERROR_MESSAGE_CHARS)
            )))
        };
        // The body is checked as UTF-8 once, then parsed as text: `from_slice` checks every
        // string on its own, which was about a third of a provider page's parse.
        let text = std::str::from_utf8(&self.body).map_err(|e| {
            decode_error(format!(
                "the body is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ))
        })?;
        serde_json::from_str(text).map_err(|e| decode_error(e.to_string()))
    }
}

/// `Retry-After` as a delay: integer seconds, or an HTTP-date (a date in the past is zero).
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_http_date(value)?;
    let now = chrono::Utc::now();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) and the two obsolete forms RFC 9110 still
/// asks recipients to accept.
fn parse_http_date(value: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc2822(value) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|fmt| chrono::NaiveDateTime::parse_from_str(value, fmt).ok())
        .map(|t| t.and_utc())
}

/// The message of an error body: Graph's `{"error":{"code","message"}}`, OAuth's
/// `{"error","error_description"}`, a `{"message"}` or `{"errors":[{"message"}]}` as partner
/// APIs send, or else the start of the text.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let str_at = |v: &serde_json::Value, key: &str| {
            v.get(key).and_then(|s| s.as_str()).map(str::to_owned)
        };
        let found = match json.get("error") {
            Some(serde_json::Value::Object(_)) => {
                let err = &json["error"];
                match (str_at(err, "code"), str_at(err, "message")) {
                    (Some(code), Some(msg)) => Some(format!("{code}: {msg}")),
                    (code, msg) => msg.or(code),
                }
            }
            Some(serde_json::Value::String(code)) => {
                Some(match str_at(&json, "error_description") {
                    Some(desc) => format!("{code}: {desc}"),
                    None => code.clone(),
                })
            }
            _ => str_at(&json, "message").or_else(|| {
                json.get("errors")
                    .and_then(|e| e.get(0))
                    .and_then(|e| str_at(e, "message"))
            }),
        };
        if let Some(found) = found {
            return Some(truncate(&found, MAX_ERROR_MESSAGE_CHARS));
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then(|| truncate(&text, MAX_ERROR_MESSAGE_CHARS))
}

/// At most `max` characters, marked when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// The error and its causes on one line (reqwest's own Display stops at the outermost).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    truncate(&out, MAX_ERROR_MESSAGE_CHARS)
}

/// A URL for logs: scheme, host, port and path only (query strings may carry cursors or keys).
fn redacted(url: &url::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(parse_retry_after(&h), None);
        h.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            http::header::RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
        let later = chrono::Utc::now() + chrono::Duration::seconds(120);
        let date = later.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        h.insert(http::header::RETRY_AFTER, date.parse().unwrap());
        let d = parse_retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(110) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        h.insert(
            http::header::RETRY_AFTER,
            "Sunday, 06-Nov-94 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
        h.insert(
            http::header::RETRY_AFTER,
            "Sun Nov  6 08:49:37 1994".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
        h.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&h), None);
        h.insert(http::header::RETRY_AFTER, "-3".parse().unwrap());
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn error_messages_from_known_shapes() {
        let graph = br#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired."}}"#;
        assert_eq!(
            error_message(graph).as_deref(),
            Some("InvalidAuthenticationToken: Access token has expired.")
        );
        let oauth = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#;
        assert_eq!(
            error_message(oauth).as_deref(),
            Some("invalid_client: AADSTS7000215: Invalid client secret provided.")
        );
        let falcon = br#"{"meta":{},"errors":[{"code":500,"message":"internal error"}]}"#;
        assert_eq!(error_message(falcon).as_deref(), Some("internal error"));
        assert_eq!(
            error_message(b"<html>\n  <body>Bad   gateway</body></html>").as_deref(),
            Some("<html> <body>Bad gateway</body></html>")
        );
        assert_eq!(error_message(b""), None);
        assert_eq!(error_message(b"   "), None);
        let long = "x".repeat(5000);
        let msg = error_message(long.as_bytes()).unwrap();
        assert_eq!(msg.chars().count(), MAX_ERROR_MESSAGE_CHARS + 1);
        // Invalid UTF-8 and odd JSON never panic.
        assert!(error_message(&[0xff, 0xfe, 0x00]).is_some());
        assert!(error_message(br#"{"error":{"code":5}}"#).is_some());
        assert!(error_message(br#"{"error":null}"#).is_some());
        assert!(error_message(b"[1,2]").is_some());
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hé", 2), "hé");
    }

    #[test]
    fn logged_urls_lose_query_and_userinfo() {
        let url = url::Url::parse("https://u:p@h.example/v1.0/x?$skiptoken=abc#f").unwrap();
        assert_eq!(redacted(&url), "https://h.example/v1.0/x");
    }

    #[test]
    fn zero_limits_are_config_errors() {
        let cfg = HttpConfig {
            timeout_ms: 0,
            ..HttpConfig::default()
        };
        let err = HttpClient::new("p", &cfg).unwrap_err();
        assert!(matches!(err.kind, ProviderErrorKind::Config(_)));
        assert!(err.to_string().contains("'p'"));
    }

    #[test]
    fn bodies_parse_as_utf8_json_or_fail_as_decode_errors() {
        let client = HttpClient::new("p", &HttpConfig::default()).unwrap();
        let response = |body: &'static [u8]| HttpResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(body),
        };
        let v: Vec<String> = response("[\"é\",\"\\u00e9\"]".as_bytes())
            .json(&client)
            .unwrap();
        assert_eq!(v, ["é", "é"]);
        // A byte that is not UTF-8, inside a string or outside one.
        for bad in [&b"[\"\xff\"]"[..], &b"[1,\xc3]"[..]] {
            let body = Bytes::copy_from_slice(bad);
            let e = HttpResponse {
                body,
                ..response(b"")
            }
            .json::<Vec<String>>(&client)
            .unwrap_err();
            assert!(
                matches!(&e.kind, ProviderErrorKind::Decode(m) if m.contains("not UTF-8")),
                "{e}"
            );
        }
        let e = response(b"[\"a\",")
            .json::<Vec<String>>(&client)
            .unwrap_err();
        assert!(
            matches!(&e.kind, ProviderErrorKind::Decode(m) if m.starts_with("expected Vec as JSON: EOF")),
            "{e}"
        );
    }

    #[test]
    fn type_names_are_short() {
        assert_eq!(short_type_name::<Vec<String>>(), "Vec");
        assert_eq!(short_type_name::<HttpConfig>(), "HttpConfig");
    }
}
