//! OAuth2 client-credentials tokens (RFC 6749 §4.4), as Entra ID and the partner APIs issue them.
//!
//! A [`TokenSource`] holds one client's credentials and caches its access token until shortly
//! before it expires (a margin of 10 % of the lifetime, at most 60 s), so a busy provider asks
//! the token endpoint about once an hour instead of once a call. Concurrent callers that find
//! the cache empty share one token request (single flight): a burst of fan-out queries after a
//! restart or an expiry costs one round trip, not one per caller.
//!
//! [`send_authorized`] is the bearer call every adapter uses: a `401` from the API means the
//! token was revoked or expired early (Entra may do either), so the token is dropped, a new one
//! fetched and the call retried exactly once; a second `401` is the answer.
//!
//! Where we differ from a generic OAuth client: the token endpoint's `400`/`401`
//! (`invalid_client`, `unauthorized_client`, `invalid_grant`, …) become
//! [`ProviderErrorKind::Unauthorized`] so an operator sees "credentials rejected", and both
//! `200` and `201` are accepted as success (some partner APIs answer `201 Created`). The
//! secret and the tokens are never logged or put into an error.

use crate::error::{ProviderError, ProviderErrorKind};
use crate::http::{HttpClient, HttpResponse};
use crate::secret::Secret;
use serde::Deserialize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// The credentials of one OAuth2 client.
#[derive(Debug, Clone, Deserialize)]
pub struct ClientCredentials {
    /// The token endpoint. May be left out of a config file when the adapter has a default
    /// (Graph derives Entra's from the tenant); an empty one is a `Config` error at first use.
    #[serde(default)]
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    #[serde(default)]
    pub scope: Option<String>,
}

/// Lifetime assumed when the token endpoint omits `expires_in` (it is only RECOMMENDED).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// Largest refresh margin before expiry.
const MAX_MARGIN: Duration = Duration::from_secs(60);

/// A cached access token for one client; cheap to clone (clones share the cache).
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    creds: ClientCredentials,
    http: HttpClient,
    cached: Mutex<Option<Cached>>,
    /// Held while a token request is in flight, so concurrent callers wait for its result.
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Cached {
    token: Secret,
    /// When the token stops being handed out (expiry minus the margin).
    refresh_at: Instant,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("provider", &self.inner.http.provider_name())
            .field("token_url", &self.inner.creds.token_url)
            .field("client_id", &self.inner.creds.client_id)
            .finish_non_exhaustive()
    }
}

/// The token endpoint's answer. `expires_in` is a number per RFC 6749, but Entra's v1 endpoint
/// and some others send it as a string, so both are read.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl TokenSource {
    pub fn new(creds: ClientCredentials, http: HttpClient) -> Self {
        Self {
            inner: Arc::new(Inner {
                creds,
                http,
                cached: Mutex::new(None),
                refresh: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    pub async fn token(&self) -> Result<String, ProviderError> {
        if let Some(token) = self.cached() {
            return Ok(token);
        }
        let _flight = self.inner.refresh.lock().await;
        // Whoever held the lock before us may have just fetched one.
        if let Some(token) = self.cached() {
            return Ok(token);
        }
        let (token, lifetime) = self.fetch().await?;
        let margin = (lifetime / 10).min(MAX_MARGIN);
        let refresh_at = Instant::now() + lifetime.saturating_sub(margin);
        *self.lock_cache() = Some(Cached {
            token: Secret::new(token.clone()),
            refresh_at,
        });
        Ok(token)
    }

    /// Drops the cached token; the next [`token`](Self::token) call fetches a new one.
    pub fn invalidate(&self) {
        *self.lock_cache() = None;
    }

    /// Drops the cached token only if it is still `stale`: when several calls get a `401` for
    /// the same token, the first one's refresh is not thrown away by the others.
    pub fn invalidate_if(&self, stale: &str) {
        let mut cached = self.lock_cache();
        if cached.as_ref().is_some_and(|c| c.token.expose() == stale) {
            *cached = None;
        }
    }

    /// The HTTP client (and so the provider name) this source reports errors with.
    pub fn http(&self) -> &HttpClient {
        &self.inner.http
    }

    fn cached(&self) -> Option<String> {
        let cached = self.lock_cache();
        cached
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| c.token.expose().to_owned())
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        // The guarded value is a plain Option: a panic elsewhere cannot leave it half-written.
        self.inner
            .cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn fetch(&self) -> Result<(String, Duration), ProviderError> {
        let http = &self.inner.http;
        let creds = &self.inner.creds;
        if creds.token_url.trim().is_empty() {
            return Err(http.error(ProviderErrorKind::Config(
                "credentials.token_url is not set".into(),
            )));
        }
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "client_credentials"),
            ("client_id", &creds.client_id),
            ("client_secret", creds.client_secret.expose()),
        ];
        if let Some(scope) = creds.scope.as_deref() {
            form.push(("scope", scope));
        }
        let req = http
            .client()
            .post(&creds.token_url)
            .header(http::header::ACCEPT, "application/json")
            .form(&form);
        tracing::debug!(provider = %http.provider_name(), token_url = %creds.token_url, "requesting an access token");
        let response = http
            .send(req)
            .await
            .map_err(|e| token_endpoint_error(http, e))?;
        parse_token_response(http, &response)
    }
}

/// Errors of the token endpoint, in terms of what they mean for the operator.
fn token_endpoint_error(http: &HttpClient, e: ProviderError) -> ProviderError {
    match e.kind {
        ProviderErrorKind::Unauthorized(msg) | ProviderErrorKind::Forbidden(msg) => http.error(
            ProviderErrorKind::Unauthorized(format!("token endpoint: {msg}")),
        ),
        // RFC 6749 §5.2: invalid_client may come as 400; so do invalid_grant/unauthorized_client.
        ProviderErrorKind::Upstream {
            status: 400,
            message,
        } => http.error(ProviderErrorKind::Unauthorized(format!(
            "token endpoint: {message}"
        ))),
        ProviderErrorKind::NotFound => http.error(ProviderErrorKind::Config(
            "token endpoint not found (check token_url)".into(),
        )),
        kind => http.error(kind),
    }
}

fn parse_token_response(
    http: &HttpClient,
    response: &HttpResponse,
) -> Result<(String, Duration), ProviderError> {
    let decode = |what: &str| {
        http.error(ProviderErrorKind::Decode(format!(
            "token endpoint answer: {what}"
        )))
    };
    if response.status != http::StatusCode::OK && response.status != http::StatusCode::CREATED {
        return Err(decode(&format!("unexpected status {}", response.status)));
    }
    // The serde message could quote the token itself, so only its category and position are kept.
    let parsed: TokenResponse = serde_json::from_slice(&response.body).map_err(|e| {
        decode(&format!(
            "not a token response ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    if parsed.access_token.is_empty() {
        return Err(decode("empty access_token"));
    }
    if let Some(kind) = parsed.token_type.as_deref()
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(decode(&format!(
            "token_type '{}' is not Bearer",
            crate::http::truncate(kind, 40)
        )));
    }
    let lifetime = match &parsed.expires_in {
        None | Some(serde_json::Value::Null) => DEFAULT_LIFETIME,
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .map(Duration::from_secs)
            .ok_or_else(|| decode("expires_in is not a whole number of seconds"))?,
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| decode("expires_in is not a whole number of seconds"))?,
        Some(_) => return Err(decode("expires_in is not a whole number of seconds")),
    };
    Ok((parsed.access_token, lifetime))
}

/// A bearer-authorized call with one refresh on `401`: `build(token)` makes the request,
/// which is sent; if the API rejects the token, it is dropped, a new one fetched and the
/// request built and sent once more.
///
/// `build` may set the `Authorization` header itself (e.g. a scheme other than `Bearer`);
/// when it does not, `Authorization: Bearer <token>` is added (marked sensitive).
pub async fn send_authorized(
    http: &HttpClient,
    tokens: &TokenSource,
    build: impl Fn(&str) -> reqwest::RequestBuilder,
) -> Result<HttpResponse, ProviderError> {
    let token = tokens.token().await?;
    match http.send(with_bearer(http, build(&token), &token)?).await {
        Err(ProviderError {
            kind: ProviderErrorKind::Unauthorized(msg),
            ..
        }) => {
            tracing::debug!(provider = %http.provider_name(), reason = %msg, "token rejected; refreshing once");
            tokens.invalidate_if(&token);
            let fresh = tokens.token().await?;
            http.send(with_bearer(http, build(&fresh), &fresh)?).await
        }
        other => other,
    }
}

fn with_bearer(
    http: &HttpClient,
    req: reqwest::RequestBuilder,
    token: &str,
) -> Result<reqwest::RequestBuilder, ProviderError> {
    let (client, request) = req.build_split();
    let mut request = request
        .map_err(|e| http.error(ProviderErrorKind::Config(format!("invalid request: {e}"))))?;
    if !request.headers().contains_key(http::header::AUTHORIZATION) {
        let mut value = http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            http.error(ProviderErrorKind::Decode(
                "token endpoint issued a token that is not a valid header value".into(),
            ))
        })?;
        value.set_sensitive(true);
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value);
    }
    Ok(reqwest::RequestBuilder::from_parts(client, request))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::http::HttpConfig;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status: http::StatusCode::from_u16(status).unwrap(),
            headers: http::HeaderMap::new(),
            body: bytes::Bytes::from(body.to_owned()),
        }
    }

    fn client() -> HttpClient {
        HttpClient::new("idp", &HttpConfig::default()).unwrap()
    }

    #[test]
    fn token_responses() {
        let http = client();
        let ok = parse_token_response(
            &http,
            &response(
                200,
                r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"abc"}"#,
            ),
        )
        .unwrap();
        assert_eq!(ok, ("abc".to_owned(), Duration::from_secs(3599)));
        let created = parse_token_response(
            &http,
            &response(
                201,
                r#"{"access_token":"x","expires_in":"60","token_type":"bearer"}"#,
            ),
        )
        .unwrap();
        assert_eq!(created.1, Duration::from_secs(60));
        let no_expiry = parse_token_response(&http, &response(200, r#"{"access_token":"x"}"#));
        assert_eq!(no_expiry.unwrap().1, DEFAULT_LIFETIME);
        for bad in [
            r#"{"access_token":"","expires_in":1}"#,
            r#"{"access_token":"x","token_type":"mac"}"#,
            r#"{"access_token":"x","expires_in":-5}"#,
            r#"{"access_token":"x","expires_in":[1]}"#,
            r#"{"access_token":12}"#,
            r#"<html>"#,
            "",
        ] {
            let err = parse_token_response(&http, &response(200, bad)).unwrap_err();
            assert!(
                matches!(err.kind, ProviderErrorKind::Decode(_)),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("'idp'"));
        }
        let err = parse_token_response(&http, &response(202, r#"{"access_token":"x"}"#));
        assert!(err.is_err());
    }

    #[test]
    fn decode_errors_never_quote_the_token() {
        let http = client();
        let err = parse_token_response(
            &http,
            &response(
                200,
                r#"{"access_token":"s3cr3t-token","expires_in":{"x":"s3cr3t-token"}}"#,
            ),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        let err = parse_token_response(&http, &response(200, r#"{"access_token":["s3cr3t"]}"#))
            .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }

    #[test]
    fn token_endpoint_400_means_rejected_credentials() {
        let http = client();
        let e = token_endpoint_error(
            &http,
            http.error(ProviderErrorKind::Upstream {
                status: 400,
                message: "invalid_client: bad".into(),
            }),
        );
        assert!(
            matches!(e.kind, ProviderErrorKind::Unauthorized(ref m) if m.contains("invalid_client"))
        );
        let e = token_endpoint_error(&http, http.error(ProviderErrorKind::NotFound));
        assert!(matches!(e.kind, ProviderErrorKind::Config(_)));
        let e = token_endpoint_error(
            &http,
            http.error(ProviderErrorKind::Timeout(Duration::from_secs(1))),
        );
        assert!(matches!(e.kind, ProviderErrorKind::Timeout(_)));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let creds = ClientCredentials {
            token_url: "http://idp/token".into(),
            client_id: "app".into(),
            client_secret: Secret::new("hunter2"),
            scope: None,
        };
        let source = TokenSource::new(creds.clone(), client());
        assert!(!format!("{source:?}").contains("hunter2"));
        assert!(!format!("{creds:?}").contains("hunter2"));
    }
}
