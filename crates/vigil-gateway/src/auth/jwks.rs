//! RS256/ES256 tokens verified against the keys of a JWKS endpoint (Entra ID in production).
//!
//! What Entra does and what we do:
//! - Entra publishes its signing keys at `https://login.microsoftonline.com/{tenant}/discovery/
//!   v2.0/keys` (`common` for multi-tenant apps) as RSA keys without an `alg` member, and rotates
//!   them: a token may name a `kid` we have not seen yet. Keys are cached in moka for
//!   `jwks_cache_ttl_secs`; an unknown `kid` triggers one refresh, and refreshes are rate-limited
//!   (at most one per `jwks_min_refresh_secs`, concurrent misses wait for the same fetch), so a
//!   flood of tokens with bogus `kid`s costs the key endpoint at most one request per interval.
//!   A successful refresh also drops keys the endpoint no longer lists (a revoked key stops
//!   working at the next refresh, not only at the cache TTL).
//! - The algorithm comes from the key, never from the token alone: an RSA key verifies RS256
//!   only, a P-256 key ES256 only; symmetric (`oct`) and encryption (`use: enc`) keys in the
//!   set are ignored. A token whose header algorithm differs from its key's (HS256 "signed" with
//!   the RSA public key, the classic confusion attack) is refused, and `alg: none` does not even
//!   parse. Tokens with algorithms we never accept are refused before any key lookup, so they
//!   cannot trigger refreshes.
//! - Issuers are patterns with `{tid}` replaced by the token's own `tid` (Entra v1 tokens:
//!   `https://sts.windows.net/{tid}/`, v2: `https://login.microsoftonline.com/{tid}/v2.0`), so a
//!   multi-tenant gateway accepts each tenant's tokens only with that tenant's issuer. When the
//!   gateway is bound to one tenant (`auth.tenant` is a GUID), `tid` must be that tenant.
//! - Audiences are a list. Tokens Entra issues *for Microsoft Graph* (`aud`
//!   `https://graph.microsoft.com`) carry a `nonce` header and cannot be verified by anyone but
//!   Graph, so the gateway accepts tokens issued for itself: `api://<app-id>` (v1 tokens) and the
//!   app id GUID (v2 tokens). SDK callers ask for the scope `api://<app-id>/.default`.
//! - `exp` and `nbf` are checked with a small leeway (`auth.leeway_secs`, at most 5 minutes,
//!   like Entra's own clock skew allowance).

use super::{Claims, INVALID_TOKEN, TokenVerifier, Verified, rejection};
use crate::error::ApiError;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Largest JWKS document we read (Entra's is a few KiB).
const MAX_JWKS_BYTES: usize = 512 * 1024;

/// How a [`JwksVerifier`] checks tokens.
#[derive(Debug, Clone)]
pub struct JwksSettings {
    /// The key set, already resolved (no `{tenant}` left).
    pub jwks_url: String,
    /// Accepted issuers; `{tid}` stands for the token's `tid`.
    pub issuers: Vec<String>,
    /// Accepted audiences (any one).
    pub audiences: Vec<String>,
    /// When set, the only tenant whose tokens are accepted.
    pub tenant: Option<String>,
    pub leeway_secs: u64,
    /// At most one key-set fetch per this interval.
    pub min_refresh_interval: Duration,
    /// How long fetched keys are trusted without a refresh.
    pub key_ttl: Duration,
    /// Bound on one key-set fetch.
    pub fetch_timeout: Duration,
}

/// A key with the one algorithm it verifies.
struct VerifyingKey {
    alg: Algorithm,
    key: DecodingKey,
}

#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    kids: HashSet<String>,
}

/// Verifies RS256/ES256 tokens against a JWKS endpoint.
pub struct JwksVerifier {
    settings: JwksSettings,
    http: reqwest::Client,
    keys: moka::future::Cache<String, Arc<VerifyingKey>>,
    refresh: tokio::sync::Mutex<RefreshState>,
    fetches: AtomicU64,
    /// Bumped by every key-set refresh that succeeds ([`TokenVerifier::key_generation`]).
    key_generation: AtomicU64,
}

/// Why a key set could not be fetched (logged, never shown to callers).
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("JWKS request failed: {0}")]
    Http(String),
    #[error("JWKS endpoint answered {0}")]
    Status(u16),
    #[error("JWKS document is not a key set: {0}")]
    Document(String),
}

impl JwksVerifier {
    pub fn new(settings: JwksSettings) -> Result<Self, JwksError> {
        let http = reqwest::Client::builder()
            .timeout(settings.fetch_timeout)
            .connect_timeout(settings.fetch_timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| JwksError::Http(e.to_string()))?;
        let keys = moka::future::Cache::builder()
            .max_capacity(1024)
            .time_to_live(settings.key_ttl)
            .build();
        Ok(Self {
            settings,
            http,
            keys,
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            fetches: AtomicU64::new(0),
            key_generation: AtomicU64::new(0),
        })
    }

    /// How many times the key set was requested (for tests and metrics).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The key for `kid`, refreshing the set once (rate-limited) when it is unknown.
    async fn key(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        if let Some(k) = self.keys.get(kid).await {
            return Some(k);
        }
        // One refresh at a time: concurrent misses queue here and find the fetched keys.
        let mut state = self.refresh.lock().await;
        if let Some(k) = self.keys.get(kid).await {
            return Some(k);
        }
        if let Some(last) = state.last_attempt
            && last.elapsed() < self.settings.min_refresh_interval
        {
            tracing::debug!("unknown signing key; key-set refresh is rate-limited");
            return None;
        }
        state.last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok(fresh) => {
                let kids: HashSet<String> = fresh.iter().map(|(k, _)| k.clone()).collect();
                for (k, v) in fresh {
                    self.keys.insert(k, v).await;
                }
                for gone in state.kids.difference(&kids) {
                    self.keys.invalidate(gone).await;
                }
                // A key may have been dropped or replaced: tokens remembered as verified
                // (auth::VerifiedTokens) are verified again against the new set.
                self.key_generation.fetch_add(1, Ordering::AcqRel);
                tracing::info!(keys = kids.len(), "signing keys refreshed");
                state.kids = kids;
            }
            Err(e) => tracing::warn!(error = %e, "signing keys could not be refreshed"),
        }
        self.keys.get(kid).await
    }

    async fn fetch(&self) -> Result<Vec<(String, Arc<VerifyingKey>)>, JwksError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .http
            .get(&self.settings.jwks_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| JwksError::Http(e.without_url().to_string()))?;
        if !resp.status().is_success() {
            return Err(JwksError::Status(resp.status().as_u16()));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(JwksError::Document("too large".into()));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| JwksError::Http(e.without_url().to_string()))?;
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(JwksError::Document("too large".into()));
        }
        parse_key_set(&bytes)
    }
}

/// The usable keys of a JWKS document; keys we cannot or must not use are skipped.
fn parse_key_set(bytes: &[u8]) -> Result<Vec<(String, Arc<VerifyingKey>)>, JwksError> {
    #[derive(serde::Deserialize)]
    struct Doc {
        keys: Vec<serde_json::Value>,
    }
    let doc: Doc = serde_json::from_slice(bytes).map_err(|e| JwksError::Document(e.to_string()))?;
    let mut out = Vec::new();
    for raw in doc.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone().filter(|k| !k.is_empty()) else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let Some(alg) = key_algorithm(&jwk) else {
            continue;
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        out.push((kid, Arc::new(VerifyingKey { alg, key })));
    }
    Ok(out)
}

/// The one algorithm a key verifies: RSA → RS256, EC P-256 → ES256; an `alg` member, when
/// present, must agree. Everything else (oct, OKP, other curves and algorithms) is unusable.
fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let (alg, declared_ok) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (
            Algorithm::RS256,
            matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256)),
        ),
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => (
            Algorithm::ES256,
            matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::ES256)),
        ),
        _ => return None,
    };
    declared_ok.then_some(alg)
}

#[async_trait::async_trait]
impl TokenVerifier for JwksVerifier {
    async fn verify_token(&self, token: &str) -> Result<Verified, ApiError> {
        let invalid = |reason: &'static str| {
            tracing::debug!(reason, "token rejected");
            ApiError::Unauthorized(INVALID_TOKEN.into())
        };
        let header = jsonwebtoken::decode_header(token).map_err(|e| rejection(&e))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(invalid("algorithm not accepted"));
        }
        let kid = header.kid.as_deref().ok_or_else(|| invalid("no kid"))?;
        if kid.is_empty() || kid.len() > 256 {
            return Err(invalid("kid"));
        }
        let key = self.key(kid).await.ok_or_else(|| invalid("unknown kid"))?;
        if key.alg != header.alg {
            return Err(invalid("algorithm does not match the key"));
        }
        let mut validation = Validation::new(key.alg);
        validation.set_audience(&self.settings.audiences);
        validation.leeway = self.settings.leeway_secs;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| rejection(&e))?
            .claims;
        let tid = claims
            .tid
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("no tid"))?;
        if let Some(only) = &self.settings.tenant
            && !only.eq_ignore_ascii_case(tid)
        {
            return Err(invalid("tenant not accepted"));
        }
        let iss = claims.iss.as_deref().unwrap_or_default();
        let issuer_ok = self
            .settings
            .issuers
            .iter()
            .any(|pattern| pattern.replace("{tid}", tid) == iss);
        if !issuer_ok {
            return Err(invalid("issuer"));
        }
        claims.into_verified()
    }

    fn key_generation(&self) -> u64 {
        self.key_generation.load(Ordering::Acquire)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_signing_keys_with_a_known_algorithm_are_kept() {
        let doc = serde_json::json!({"keys": [
            // Entra style: RSA without alg.
            {"kty": "RSA", "use": "sig", "kid": "a", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"},
            // Symmetric keys never verify anything here.
            {"kty": "oct", "kid": "b", "k": "c2VjcmV0"},
            // Encryption keys are not signing keys.
            {"kty": "RSA", "use": "enc", "kid": "c", "n": "sXch", "e": "AQAB"},
            // A declared algorithm we do not accept.
            {"kty": "RSA", "alg": "RS512", "kid": "d", "n": "sXch", "e": "AQAB"},
            // No kid.
            {"kty": "RSA", "n": "sXch", "e": "AQAB"},
            // Garbage.
            {"kty": "XYZ", "kid": "e"},
        ]});
        let keys = parse_key_set(doc.to_string().as_bytes()).unwrap();
        let kids: Vec<_> = keys.iter().map(|(k, v)| (k.as_str(), v.alg)).collect();
        assert_eq!(kids, [("a", Algorithm::RS256)]);
        assert!(parse_key_set(b"{\"nokeys\":1}").is_err());
    }
}
