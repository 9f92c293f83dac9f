//! Tokens that verified, remembered for a short while.
//!
//! A client sends the same bearer token with every request until it expires; checking its
//! signature and claims again each time is the largest cost of a cached answer (HS256: ~8 % of
//! a cached 500 KB list's CPU; RS256 and ES256 cost several times more). So a token that
//! verified is remembered, under the SHA-256 of its text (the token itself is not kept), for at
//! most `auth.verified_token_cache_secs`, never past its own `exp`, and only while the
//! verifier's key generation is the one it verified under (a JWKS refresh may drop its key:
//! [`TokenVerifier::key_generation`]). A token that failed is never remembered, so an attacker
//! cannot fill the cache with garbage, and the cache is bounded by entries
//! (`auth.verified_token_cache_entries`).
//!
//! What it changes for a caller: nothing but speed. A token is refused from the moment it
//! expires (the remembered entry ends at `exp`; the verifier's leeway only ever applies to a
//! full verification); a token whose signing key was withdrawn is refused once the gateway
//! refreshes its keys, as before, plus at most the cache lifetime when no refresh happens in
//! between (the same bound a fetched key set already has: `auth.jwks_cache_ttl_secs`).

use super::{TokenVerifier, Verified, Verifier};
use crate::error::ApiError;
use crate::metrics::{self, TokenCheck};
use sha2::Digest;
use std::sync::Arc;
use std::time::Duration;

struct Remembered {
    verified: Verified,
    generation: u64,
}

/// A [`TokenVerifier`] that remembers what its inner verifier accepted.
pub struct VerifiedTokens {
    inner: Verifier,
    /// `None`: nothing is remembered (`max_age` 0); checks are still counted.
    remembered: Option<moka::sync::Cache<[u8; 32], Arc<Remembered>>>,
}

impl VerifiedTokens {
    /// Remembers at most `entries` tokens, each for at most `max_age` (0: none).
    pub fn new(inner: Verifier, max_age: Duration, entries: u64) -> Self {
        Self {
            inner,
            remembered: (!max_age.is_zero() && entries > 0).then(|| {
                moka::sync::Cache::builder()
                    .max_capacity(entries)
                    .time_to_live(max_age)
                    .build()
            }),
        }
    }

    /// `verify_token` as of `now` (seconds since the Unix epoch).
    async fn verify_at(&self, token: &str, now: i64) -> Result<Verified, ApiError> {
        let Some(remembered) = &self.remembered else {
            return counted(self.inner.verify_token(token).await);
        };
        let key: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let generation = self.inner.key_generation();
        if let Some(r) = remembered.get(&key) {
            if r.generation == generation && r.verified.expires_at > now {
                metrics::token_check(TokenCheck::Remembered);
                return Ok(r.verified.clone());
            }
            remembered.invalidate(&key);
        }
        let verified = counted(self.inner.verify_token(token).await)?;
        if verified.expires_at > now {
            remembered.insert(
                key,
                Arc::new(Remembered {
                    verified: verified.clone(),
                    generation,
                }),
            );
        }
        Ok(verified)
    }
}

/// Counts a full verification's outcome.
fn counted(r: Result<Verified, ApiError>) -> Result<Verified, ApiError> {
    metrics::token_check(if r.is_ok() {
        TokenCheck::Verified
    } else {
        TokenCheck::Refused
    });
    r
}

#[async_trait::async_trait]
impl TokenVerifier for VerifiedTokens {
    async fn verify_token(&self, token: &str) -> Result<Verified, ApiError> {
        self.verify_at(token, chrono::Utc::now().timestamp()).await
    }

    fn key_generation(&self) -> u64 {
        self.inner.key_generation()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::auth::{Claims, DEMO_AUDIENCE, DEMO_ISSUER, Hs256Verifier, mint_hs256};
    use std::sync::atomic::{AtomicU64, Ordering};

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// The real HS256 verifier, counted, with a key generation the test moves.
    struct Counted {
        real: Hs256Verifier,
        calls: AtomicU64,
        generation: AtomicU64,
    }

    #[async_trait::async_trait]
    impl TokenVerifier for Counted {
        async fn verify_token(&self, token: &str) -> Result<Verified, ApiError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.real.verify_token(token).await
        }
        fn key_generation(&self) -> u64 {
            self.generation.load(Ordering::SeqCst)
        }
    }

    fn setup() -> (Arc<Counted>, VerifiedTokens) {
        setup_with(Duration::from_secs(60))
    }

    fn setup_with(max_age: Duration) -> (Arc<Counted>, VerifiedTokens) {
        let counted = Arc::new(Counted {
            real: Hs256Verifier::new(KEY, DEMO_ISSUER, DEMO_AUDIENCE),
            calls: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        });
        let cache = VerifiedTokens::new(counted.clone(), max_age, 100);
        (counted, cache)
    }

    fn token(tid: &str, exp: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        mint_hs256(
            KEY,
            &Claims {
                iss: Some(DEMO_ISSUER.into()),
                aud: Some(DEMO_AUDIENCE.into()),
                exp,
                nbf: Some(now - 5),
                tid: Some(tid.into()),
                oid: Some("user-1".into()),
                scp: Some("SecurityEvents.Read.All".into()),
                ..Claims::default()
            },
        )
        .unwrap()
    }

    fn calls(c: &Counted) -> u64 {
        c.calls.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_token_is_verified_once_and_then_remembered_with_its_own_principal() {
        let (inner, cache) = setup();
        let now = chrono::Utc::now().timestamp();
        let a = token("tenant-a", now + 600);
        let b = token("tenant-b", now + 600);
        for _ in 0..3 {
            let p = cache.verify(&a).await.unwrap();
            assert_eq!(p.tenant_id, "tenant-a");
        }
        assert_eq!(calls(&inner), 1);
        // Another token is its own entry, never the first one's principal.
        assert_eq!(cache.verify(&b).await.unwrap().tenant_id, "tenant-b");
        assert_eq!(cache.verify(&a).await.unwrap().tenant_id, "tenant-a");
        assert_eq!(calls(&inner), 2);
    }

    #[tokio::test]
    async fn refused_tokens_are_never_remembered() {
        let (inner, cache) = setup();
        let now = chrono::Utc::now().timestamp();
        let good = token("t", now + 600);
        // The same claims under another signature: a forgery of a remembered token.
        let forged = {
            let (head, _) = good.rsplit_once('.').unwrap();
            format!("{head}.AAAA")
        };
        cache.verify(&good).await.unwrap();
        for _ in 0..3 {
            assert!(matches!(
                cache.verify(&forged).await,
                Err(ApiError::Unauthorized(_))
            ));
        }
        assert_eq!(
            calls(&inner),
            4,
            "every attempt with the forgery is verified"
        );
        let expired = token("t", now - 3600);
        assert!(cache.verify(&expired).await.is_err());
        assert!(cache.verify(&expired).await.is_err());
        assert_eq!(calls(&inner), 6);
    }

    #[tokio::test]
    async fn a_remembered_token_ends_at_its_expiry() {
        let (inner, cache) = setup();
        let now = chrono::Utc::now().timestamp();
        let t = token("t", now + 30);
        cache.verify_at(&t, now).await.unwrap();
        cache.verify_at(&t, now + 29).await.unwrap();
        assert_eq!(calls(&inner), 1);
        // At `exp` the entry is gone and the full check runs (the real verifier still
        // accepts it here: its leeway is the verifier's business, not the cache's).
        cache.verify_at(&t, now + 30).await.unwrap();
        assert_eq!(calls(&inner), 2);
        // Verified at or after its expiry, a token is not remembered at all.
        cache.verify_at(&t, now + 31).await.unwrap();
        assert_eq!(calls(&inner), 3);
    }

    #[tokio::test]
    async fn a_new_key_generation_verifies_remembered_tokens_again() {
        let (inner, cache) = setup();
        let t = token("t", chrono::Utc::now().timestamp() + 600);
        cache.verify(&t).await.unwrap();
        cache.verify(&t).await.unwrap();
        assert_eq!(calls(&inner), 1);
        inner.generation.fetch_add(1, Ordering::SeqCst);
        cache.verify(&t).await.unwrap();
        cache.verify(&t).await.unwrap();
        assert_eq!(calls(&inner), 2);
    }

    #[tokio::test]
    async fn a_zero_age_remembers_nothing() {
        let (inner, cache) = setup_with(Duration::ZERO);
        let t = token("t", chrono::Utc::now().timestamp() + 600);
        for _ in 0..3 {
            cache.verify(&t).await.unwrap();
        }
        assert_eq!(calls(&inner), 3);
    }

    #[tokio::test]
    async fn entries_live_no_longer_than_the_configured_age() {
        let (counted, cache) = setup_with(Duration::from_millis(200));
        let t = token("t", chrono::Utc::now().timestamp() + 600);
        cache.verify(&t).await.unwrap();
        cache.verify(&t).await.unwrap();
        assert_eq!(calls(&counted), 1);
        tokio::time::sleep(Duration::from_millis(400)).await;
        cache.verify(&t).await.unwrap();
        assert_eq!(calls(&counted), 2);
    }
}
