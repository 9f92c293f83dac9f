//! HS256 with a shared key: the demo and the tests, only when `auth.mode = "hs256"`.
//!
//! The key is generated in the data directory on first start (never a key from the repo), and
//! `vigil token` mints tokens with it. Only `HS256` is accepted: an RS256/ES256 token, or one
//! saying `alg: none`, is refused before any key is used.

use super::{Claims, TokenVerifier, Verified, rejection};
use crate::error::ApiError;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

/// The issuer and audience of tokens minted by `vigil token`.
pub const DEMO_ISSUER: &str = "https://vigil.local/demo";
pub const DEMO_AUDIENCE: &str = "api://vigil";

/// Verifies HS256 tokens with a shared key (the demo; only when configured explicitly).
pub struct Hs256Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl Hs256Verifier {
    pub fn new(key: &[u8], issuer: &str, audience: &str) -> Self {
        Self::with_leeway(key, issuer, audience, 60)
    }

    pub fn with_leeway(key: &[u8], issuer: &str, audience: &str, leeway_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.leeway = leeway_secs;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        Self {
            key: DecodingKey::from_secret(key),
            validation,
        }
    }
}

#[async_trait::async_trait]
impl TokenVerifier for Hs256Verifier {
    async fn verify_token(&self, token: &str) -> Result<Verified, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| rejection(&e))?;
        data.claims.into_verified()
    }
}

/// Mints an HS256 token (for `vigil token` and tests).
pub fn mint_hs256(key: &[u8], claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::auth::Need;

    fn claims(exp_in: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            iss: Some(DEMO_ISSUER.into()),
            aud: Some(DEMO_AUDIENCE.into()),
            exp: now + exp_in,
            nbf: Some(now - 5),
            iat: Some(now),
            tid: Some("t1".into()),
            oid: Some("user-1".into()),
            scp: Some("SecurityEvents.Read.All openid".into()),
            roles: vec!["Vigil.Admin".into()],
            appid: Some("app-1".into()),
            upn: Some("analyst@contoso.com".into()),
            ..Claims::default()
        }
    }

    // jsonwebtoken 10+ panics at the first sign/verify when no crypto backend is enabled:
    // this test fails loudly if the feature selection ever breaks.
    #[tokio::test]
    async fn signs_and_verifies() {
        let key = b"0123456789abcdef0123456789abcdef";
        let token = mint_hs256(key, &claims(600)).unwrap();
        let p = Hs256Verifier::new(key, DEMO_ISSUER, DEMO_AUDIENCE)
            .verify(&token)
            .await
            .unwrap();
        assert_eq!(p.tenant_id, "t1");
        assert_eq!(p.user.as_deref(), Some("analyst@contoso.com"));
        assert!(p.require(Need::READ_ALERTS).is_ok());
        assert!(p.require(Need::WRITE_ALERTS).is_err());
        assert!(p.require(Need::ADMIN).is_ok());
    }

    #[tokio::test]
    async fn rejects_expired_wrong_key_and_wrong_audience() {
        let key = b"0123456789abcdef0123456789abcdef";
        let v = Hs256Verifier::new(key, DEMO_ISSUER, DEMO_AUDIENCE);
        let expired = mint_hs256(key, &claims(-3600)).unwrap();
        assert!(matches!(
            v.verify(&expired).await,
            Err(ApiError::Unauthorized(_))
        ));
        let other = mint_hs256(b"another key another key another!", &claims(600)).unwrap();
        assert!(matches!(
            v.verify(&other).await,
            Err(ApiError::Unauthorized(_))
        ));
        let mut c = claims(600);
        c.aud = Some("api://someone-else".into());
        let wrong_aud = mint_hs256(key, &c).unwrap();
        assert!(matches!(
            v.verify(&wrong_aud).await,
            Err(ApiError::Unauthorized(_))
        ));
        let mut c = claims(600);
        c.tid = None;
        let no_tid = mint_hs256(key, &c).unwrap();
        assert!(matches!(
            v.verify(&no_tid).await,
            Err(ApiError::Unauthorized(_))
        ));
    }
}
