//! The shared HTTP client and OAuth2 token source against a small axum server (and a raw TCP
//! one for what a well-behaved server cannot send: lying `Content-Length`, bodies cut short).

use crate::support::{assert_names, bounded};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigil_providers::http::{HttpClient, HttpConfig};
use vigil_providers::oauth2::{ClientCredentials, TokenSource, send_authorized};
use vigil_providers::{ProviderErrorKind, Secret};

const SECRET: &str = "s3cret-value";

#[derive(Default)]
struct Upstream {
    token_requests: AtomicU64,
    token_status: AtomicU16,
    token_delay_ms: AtomicU64,
    expires_in: AtomicU64,
    last_token_form: Mutex<HashMap<String, String>>,
    valid: Mutex<HashSet<String>>,
    api_calls: AtomicU64,
    authorization_headers: Mutex<Vec<Vec<String>>>,
    throttle_hits: AtomicU64,
    endless_chunks: AtomicU64,
    endless_dropped: AtomicBool,
}

struct Server {
    base: String,
    state: Arc<Upstream>,
}

async fn start() -> Server {
    let state = Arc::new(Upstream {
        token_status: AtomicU16::new(200),
        expires_in: AtomicU64::new(3599),
        ..Upstream::default()
    });
    let app = Router::new()
        .route("/token", post(token))
        .route("/api", get(api))
        .route("/status/{code}", get(status))
        .route("/throttle/{secs}", get(throttle))
        .route("/unavailable", get(unavailable))
        .route("/slow/{ms}", get(slow))
        .route("/hang", get(hang))
        .route("/drip/{n}/{ms}", get(drip))
        .route("/endless", get(endless))
        .route("/garbage", get(|| async { "{\"value\": [1, 2" }))
        .route(
            "/json",
            get(|| async { axum::Json(serde_json::json!({"value": [1, 2, 3]})) }),
        )
        .route(
            "/redirect",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/json")]) }),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server {
        base: format!("http://{addr}"),
        state,
    }
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

async fn token(
    State(s): State<Arc<Upstream>>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    s.token_requests.fetch_add(1, Ordering::SeqCst);
    let delay = s.token_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    *s.last_token_form.lock().unwrap() = form.clone();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("client_secret").map(String::as_str) != Some(SECRET)
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
                "error_codes": [7000215]
            })),
        )
            .into_response();
    }
    let n = s.token_requests.load(Ordering::SeqCst);
    let token = format!("tok-{n}");
    s.valid.lock().unwrap().insert(token.clone());
    let status = StatusCode::from_u16(s.token_status.load(Ordering::SeqCst)).unwrap();
    (
        status,
        axum::Json(serde_json::json!({
            "token_type": "Bearer",
            "expires_in": s.expires_in.load(Ordering::SeqCst),
            "access_token": token,
        })),
    )
        .into_response()
}

async fn api(State(s): State<Arc<Upstream>>, headers: HeaderMap) -> Response {
    s.api_calls.fetch_add(1, Ordering::SeqCst);
    let values: Vec<String> = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .map(|v| v.to_str().unwrap_or("?").to_owned())
        .collect();
    s.authorization_headers.lock().unwrap().push(values.clone());
    let valid = match values.as_slice() {
        [one] => one
            .strip_prefix("Bearer ")
            .is_some_and(|t| s.valid.lock().unwrap().contains(t)),
        _ => false,
    };
    if valid {
        axum::Json(serde_json::json!({"ok": true})).into_response()
    } else {
        let mut r = graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, "Bearer".parse().unwrap());
        r
    }
}

async fn status(Path(code): Path<u16>) -> Response {
    graph_error(
        StatusCode::from_u16(code).unwrap(),
        "generalException",
        "Something went wrong upstream.",
    )
}

async fn throttle(State(s): State<Arc<Upstream>>, Path(secs): Path<u64>) -> Response {
    if s.throttle_hits.fetch_add(1, Ordering::SeqCst) == 0 {
        let mut r = graph_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests.",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, secs.to_string().parse().unwrap());
        r
    } else {
        axum::Json(serde_json::json!({"value": []})).into_response()
    }
}

async fn unavailable() -> Response {
    graph_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "serviceNotAvailable",
        "Down for maintenance.",
    )
}

async fn slow(Path(ms): Path<u64>) -> Response {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    axum::Json(serde_json::json!({"value": []})).into_response()
}

async fn hang() -> Response {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    StatusCode::OK.into_response()
}

async fn drip(Path((n, ms)): Path<(usize, u64)>) -> Response {
    let chunks = futures::stream::unfold(0usize, move |i| async move {
        if i == n {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(ms)).await;
        let text = if i == 0 { "[0" } else { ",0" };
        Some((Ok::<_, std::io::Error>(bytes::Bytes::from(text)), i + 1))
    });
    let tail = futures::stream::once(async { Ok(bytes::Bytes::from("]")) });
    Body::from_stream(futures::StreamExt::chain(chunks, tail)).into_response()
}

/// Sets a flag when the response stream is dropped, i.e. when the client went away.
struct DropFlag(Arc<Upstream>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.endless_dropped.store(true, Ordering::SeqCst);
    }
}

async fn endless(State(s): State<Arc<Upstream>>) -> Response {
    let flag = DropFlag(s.clone());
    let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
    let stream = futures::stream::repeat_with(move || {
        let _keep = &flag;
        flag.0.endless_chunks.fetch_add(1, Ordering::SeqCst);
        Ok::<_, std::io::Error>(chunk.clone())
    });
    Body::from_stream(stream).into_response()
}

/// A raw TCP server answering every connection with `response` verbatim, then closing.
async fn raw_server(response: &'static [u8]) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(response).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

fn client_with(cfg: HttpConfig) -> HttpClient {
    HttpClient::new("testprov", &cfg).unwrap()
}

fn client() -> HttpClient {
    client_with(HttpConfig::default())
}

fn tokens(server: &Server, http: &HttpClient, secret: &str) -> TokenSource {
    TokenSource::new(
        ClientCredentials {
            token_url: format!("{}/token", server.base),
            client_id: "app-1".into(),
            client_secret: Secret::new(secret),
            scope: Some("api://test/.default".into()),
        },
        http.clone(),
    )
}

#[tokio::test]
async fn success_and_json() {
    bounded("success", async {
        let s = start().await;
        let http = client();
        let r = http
            .send(http.client().get(format!("{}/json", s.base)))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        let v: serde_json::Value = r.json(&http).unwrap();
        assert_eq!(v["value"][2], 3);
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Wrong {
            value: Vec<String>,
        }
        let err = r.json::<Wrong>(&http).unwrap_err();
        assert!(matches!(err.kind, ProviderErrorKind::Decode(_)));
        assert_names(&err, "testprov", "Wrong");
    })
    .await;
}

#[tokio::test]
async fn statuses_become_typed_errors() {
    bounded("statuses", async {
        let s = start().await;
        let http = client();
        let get = |path: String| http.send(http.client().get(format!("{}{path}", s.base)));

        let e = get("/status/401".into()).await.unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::Unauthorized(_)), "{e}");
        assert_names(&e, "testprov", "credentials rejected");
        let e = get("/status/403".into()).await.unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::Forbidden(_)), "{e}");
        let e = get("/status/404".into()).await.unwrap_err();
        assert_eq!(e.kind, ProviderErrorKind::NotFound);
        let e = get("/status/500".into()).await.unwrap_err();
        assert_eq!(
            e.kind,
            ProviderErrorKind::Upstream {
                status: 500,
                message: "generalException: Something went wrong upstream.".into()
            }
        );
        assert_names(&e, "testprov", "500");
        assert!(e.is_transient());
        let e = get("/status/400".into()).await.unwrap_err();
        assert!(matches!(
            e.kind,
            ProviderErrorKind::Upstream { status: 400, .. }
        ));
        // Redirects are never followed: a token must not travel to another URL.
        let e = get("/redirect".into()).await.unwrap_err();
        assert!(
            matches!(e.kind, ProviderErrorKind::Upstream { status: 302, .. }),
            "{e}"
        );
        // 503 without Retry-After is an outage, not throttling.
        let e = get("/unavailable".into()).await.unwrap_err();
        assert!(
            matches!(e.kind, ProviderErrorKind::Upstream { status: 503, .. }),
            "{e}"
        );
    })
    .await;
}

#[tokio::test]
async fn short_retry_after_is_waited_out_once() {
    bounded("throttle short", async {
        let s = start().await;
        let http = client_with(HttpConfig {
            max_retry_wait_ms: 2_000,
            ..HttpConfig::default()
        });
        let started = Instant::now();
        let r = http
            .send(http.client().get(format!("{}/throttle/1", s.base)))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert!(started.elapsed() >= Duration::from_secs(1), "did not wait");
        assert_eq!(s.state.throttle_hits.load(Ordering::SeqCst), 2);
    })
    .await;
}

#[tokio::test]
async fn long_retry_after_is_reported() {
    bounded("throttle long", async {
        let s = start().await;
        let http = client();
        let started = Instant::now();
        let e = http
            .send(http.client().get(format!("{}/throttle/30", s.base)))
            .await
            .unwrap_err();
        assert_eq!(
            e.kind,
            ProviderErrorKind::Throttled {
                retry_after: Some(Duration::from_secs(30))
            }
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        assert_names(&e, "testprov", "throttled");
        assert!(started.elapsed() < Duration::from_secs(5), "waited anyway");
        assert_eq!(s.state.throttle_hits.load(Ordering::SeqCst), 1);
    })
    .await;
}

#[tokio::test]
async fn slow_and_hung_upstreams_time_out() {
    bounded("timeouts", async {
        let s = start().await;
        let http = client_with(HttpConfig {
            timeout_ms: 800,
            ..HttpConfig::default()
        });
        for path in ["/slow/3000", "/hang"] {
            let started = Instant::now();
            let e = http
                .send(http.client().get(format!("{}{path}", s.base)))
                .await
                .unwrap_err();
            assert_eq!(
                e.kind,
                ProviderErrorKind::Timeout(Duration::from_millis(800)),
                "{path}"
            );
            assert_names(&e, "testprov", "no answer within");
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{path} took too long"
            );
        }
        // Within the deadline is fine.
        http.send(http.client().get(format!("{}/slow/50", s.base)))
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn dripping_body_within_and_beyond_the_deadline() {
    bounded("drip", async {
        let s = start().await;
        let http = client_with(HttpConfig {
            timeout_ms: 1_000,
            ..HttpConfig::default()
        });
        let r = http
            .send(http.client().get(format!("{}/drip/5/40", s.base)))
            .await
            .unwrap();
        let v: Vec<u32> = r.json(&http).unwrap();
        assert_eq!(v.len(), 5);
        let e = http
            .send(http.client().get(format!("{}/drip/40/100", s.base)))
            .await
            .unwrap_err();
        assert_eq!(
            e.kind,
            ProviderErrorKind::Timeout(Duration::from_secs(1)),
            "{e}"
        );
    })
    .await;
}

#[tokio::test]
async fn endless_body_is_abandoned_at_the_limit() {
    bounded("endless", async {
        let s = start().await;
        let limit = 256 * 1024;
        let http = client_with(HttpConfig {
            max_body_bytes: limit,
            ..HttpConfig::default()
        });
        let e = http
            .send(http.client().get(format!("{}/endless", s.base)))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ProviderErrorKind::BodyTooLarge { limit });
        assert_names(&e, "testprov", "larger than");
        // The client hung up: the server's stream is dropped instead of being read to the end.
        for _ in 0..100 {
            if s.state.endless_dropped.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            s.state.endless_dropped.load(Ordering::SeqCst),
            "stream still being read"
        );
    })
    .await;
}

#[tokio::test]
async fn declared_oversized_body_is_refused_before_reading() {
    bounded("declared oversize", async {
        let base = raw_server(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 999999999999\r\n\r\n[1,2,3",
        )
        .await;
        let http = client_with(HttpConfig {
            max_body_bytes: 1024,
            ..HttpConfig::default()
        });
        let e = http.send(http.client().get(&base)).await.unwrap_err();
        assert_eq!(e.kind, ProviderErrorKind::BodyTooLarge { limit: 1024 });
    })
    .await;
}

#[tokio::test]
async fn truncated_and_garbled_bodies_are_decode_errors() {
    bounded("truncated", async {
        let http = client();
        let base = raw_server(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"value\":[",
        )
        .await;
        let e = http.send(http.client().get(&base)).await.unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::Decode(_)), "{e}");
        assert_names(&e, "testprov", "stopped after 10 bytes");

        let chunked = raw_server(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n40\r\n[1,",
        )
        .await;
        let e = http.send(http.client().get(&chunked)).await.unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::Decode(_)), "{e}");

        let s = start().await;
        let r = http.send(http.client().get(format!("{}/garbage", s.base))).await.unwrap();
        let e = r.json::<serde_json::Value>(&http).unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::Decode(_)), "{e}");
        assert_names(&e, "testprov", "unreadable answer");

        // Not HTTP at all.
        let junk = raw_server(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        let e = http.send(http.client().get(&junk)).await.unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::Decode(_)), "{e}");
        assert_names(&e, "testprov", "no complete HTTP answer");
    })
    .await;
}

#[tokio::test]
async fn refused_connection() {
    bounded("refused", async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let http = client();
        let e = http
            .send(http.client().get(format!("http://{addr}/x")))
            .await
            .unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::Connect(_)), "{e}");
        assert_names(&e, "testprov", "could not connect");
    })
    .await;
}

#[tokio::test]
async fn token_is_cached_and_sent_once_per_request() {
    bounded("token cache", async {
        let s = start().await;
        let http = client();
        let tokens = tokens(&s, &http, SECRET);
        for _ in 0..5 {
            send_authorized(&http, &tokens, |_| {
                http.client().get(format!("{}/api", s.base))
            })
            .await
            .unwrap();
        }
        // The builder may set the header itself; it is then not added twice.
        send_authorized(&http, &tokens, |t| {
            http.client().get(format!("{}/api", s.base)).bearer_auth(t)
        })
        .await
        .unwrap();
        assert_eq!(s.state.token_requests.load(Ordering::SeqCst), 1);
        assert_eq!(s.state.api_calls.load(Ordering::SeqCst), 6);
        for headers in s.state.authorization_headers.lock().unwrap().iter() {
            assert_eq!(headers, &vec!["Bearer tok-1".to_owned()]);
        }
        let form = s.state.last_token_form.lock().unwrap().clone();
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(form["client_id"], "app-1");
        assert_eq!(form["scope"], "api://test/.default");
    })
    .await;
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    bounded("single flight", async {
        let s = start().await;
        s.state.token_delay_ms.store(200, Ordering::SeqCst);
        let http = client();
        let tokens = tokens(&s, &http, SECRET);
        let calls = (0..10).map(|_| tokens.token());
        let got = futures::future::join_all(calls).await;
        assert!(
            got.iter().all(|t| matches!(t.as_deref(), Ok("tok-1"))),
            "{got:?}"
        );
        assert_eq!(s.state.token_requests.load(Ordering::SeqCst), 1);
    })
    .await;
}

#[tokio::test]
async fn revoked_token_is_refreshed_exactly_once() {
    bounded("refresh on 401", async {
        let s = start().await;
        let http = client();
        let tokens = tokens(&s, &http, SECRET);
        let call = || {
            send_authorized(&http, &tokens, |_| {
                http.client().get(format!("{}/api", s.base))
            })
        };
        call().await.unwrap();
        s.state.valid.lock().unwrap().clear();
        call().await.unwrap();
        assert_eq!(s.state.token_requests.load(Ordering::SeqCst), 2);
        // 1 + (rejected + retried)
        assert_eq!(s.state.api_calls.load(Ordering::SeqCst), 3);
        call().await.unwrap();
        assert_eq!(s.state.token_requests.load(Ordering::SeqCst), 2);
    })
    .await;
}

#[tokio::test]
async fn api_that_keeps_rejecting_is_not_retried_forever() {
    bounded("persistent 401", async {
        let s = start().await;
        let http = client();
        let tokens = tokens(&s, &http, SECRET);
        let e = send_authorized(&http, &tokens, |_| {
            http.client().get(format!("{}/status/401", s.base))
        })
        .await
        .unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::Unauthorized(_)), "{e}");
        assert_eq!(s.state.token_requests.load(Ordering::SeqCst), 2);
    })
    .await;
}

#[tokio::test]
async fn token_expiry_triggers_a_refresh() {
    bounded("expiry", async {
        let s = start().await;
        s.state.expires_in.store(1, Ordering::SeqCst);
        s.state.token_status.store(201, Ordering::SeqCst);
        let http = client();
        let tokens = tokens(&s, &http, SECRET);
        assert_eq!(tokens.token().await.unwrap(), "tok-1");
        assert_eq!(tokens.token().await.unwrap(), "tok-1");
        // Lifetime 1 s minus a 10 % margin.
        tokio::time::sleep(Duration::from_millis(950)).await;
        assert_eq!(tokens.token().await.unwrap(), "tok-2");
        tokens.invalidate();
        assert_eq!(tokens.token().await.unwrap(), "tok-3");
    })
    .await;
}

#[tokio::test]
async fn bad_secret_is_unauthorized_and_never_echoed() {
    bounded("bad secret", async {
        let s = start().await;
        let http = client();
        let tokens = tokens(&s, &http, "wrong-secret-123");
        let e = send_authorized(&http, &tokens, |_| {
            http.client().get(format!("{}/api", s.base))
        })
        .await
        .unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::Unauthorized(_)), "{e}");
        assert_names(&e, "testprov", "invalid_client");
        assert!(e.to_string().contains("token endpoint"), "{e}");
        assert!(!e.to_string().contains("wrong-secret-123"));
        assert!(!format!("{e:?}").contains("wrong-secret-123"));
        assert_eq!(s.state.api_calls.load(Ordering::SeqCst), 0);
    })
    .await;
}
