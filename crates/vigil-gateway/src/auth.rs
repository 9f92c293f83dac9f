//! Inbound authentication: bearer tokens as Graph takes them, turned into a [`Principal`].
//!
//! Authentication is an extractor, so every handler states in its signature that it needs a
//! caller, and [`Principal::require`] states which permission. Verification sits behind
//! [`TokenVerifier`] so the production verifier (JWKS, RS256/ES256, issuer and audience lists)
//! slots in without touching handlers. The demo verifier takes HS256 tokens signed with a key
//! the demo generates in its data directory (never a key from the repo), as `vigil token` mints.
//!
//! Claims as Entra issues them: `tid` selects the tenant; delegated permissions come in `scp`
//! (space-separated), application permissions in `roles` (array); `appid`/`azp` name the client
//! app and `upn`/`unique_name` the user (both go into `alertHistoryState`).

use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Graph permission names Vigil checks.
pub mod permissions {
    pub const SECURITY_EVENTS_READ: &str = "SecurityEvents.Read.All";
    pub const SECURITY_EVENTS_READ_WRITE: &str = "SecurityEvents.ReadWrite.All";
    pub const IDENTITY_RISK_EVENT_READ: &str = "IdentityRiskEvent.Read.All";
    pub const IDENTITY_RISKY_USER_READ: &str = "IdentityRiskyUser.Read.All";
    pub const IDENTITY_RISKY_USER_READ_WRITE: &str = "IdentityRiskyUser.ReadWrite.All";
    pub const VIGIL_ADMIN: &str = "Vigil.Admin";
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: String,
    /// `oid`, else `sub`.
    pub subject: String,
    /// `appid` / `azp`.
    pub app_id: Option<String>,
    /// `upn` / `unique_name` (delegated tokens).
    pub user: Option<String>,
    /// Delegated scopes and application roles together.
    pub permissions: Vec<String>,
}

/// What is needed for an operation: any one of these permissions.
#[derive(Debug, Clone, Copy)]
pub struct Need(pub &'static [&'static str]);

impl Need {
    pub const READ_ALERTS: Need = Need(&[
        permissions::SECURITY_EVENTS_READ,
        permissions::SECURITY_EVENTS_READ_WRITE,
    ]);
    pub const WRITE_ALERTS: Need = Need(&[permissions::SECURITY_EVENTS_READ_WRITE]);
}

impl Principal {
    /// `403` unless the caller holds one of the needed permissions (names compared
    /// case-insensitively, as Entra treats them).
    pub fn require(&self, need: Need) -> Result<(), ApiError> {
        let ok = need
            .0
            .iter()
            .any(|n| self.permissions.iter().any(|p| p.eq_ignore_ascii_case(n)));
        if ok {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "Insufficient privileges to complete the operation. Requires one of: {}.",
                need.0.join(", ")
            )))
        }
    }
}

/// The claims Vigil reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_name: Option<String>,
}

impl Claims {
    /// The principal, or `401` when the token names no tenant or subject.
    pub fn into_principal(self) -> Result<Principal, ApiError> {
        let tenant_id = self
            .tid
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("Access token has no tenant (tid).".into()))?;
        let subject = self
            .oid
            .or(self.sub)
            .ok_or_else(|| ApiError::Unauthorized("Access token has no subject.".into()))?;
        let mut permissions: Vec<String> = self
            .scp
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        permissions.extend(self.roles);
        Ok(Principal {
            tenant_id,
            subject,
            app_id: self.appid.or(self.azp),
            user: self.upn.or(self.unique_name),
            permissions,
        })
    }
}

/// Turns a bearer token into a principal. Errors must not say why a signature failed.
pub trait TokenVerifier: Send + Sync + 'static {
    fn verify(&self, token: &str) -> Result<Principal, ApiError>;
}

/// Verifies HS256 tokens with a shared key (the demo; only when configured explicitly).
pub struct Hs256Verifier {
    key: DecodingKey,
    validation: Validation,
}

/// The issuer and audience of tokens minted by `vigil token`.
pub const DEMO_ISSUER: &str = "https://vigil.local/demo";
pub const DEMO_AUDIENCE: &str = "api://vigil";

impl Hs256Verifier {
    pub fn new(key: &[u8], issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.leeway = 60;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        Self {
            key: DecodingKey::from_secret(key),
            validation,
        }
    }
}

impl TokenVerifier for Hs256Verifier {
    fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|e| {
                tracing::debug!(reason = %e.kind_name(), "token rejected");
                ApiError::Unauthorized("Access token validation failure.".into())
            })?;
        data.claims.into_principal()
    }
}

/// A short name for a jsonwebtoken error kind, for debug logs (never the token).
trait KindName {
    fn kind_name(&self) -> &'static str;
}

impl KindName for jsonwebtoken::errors::Error {
    fn kind_name(&self) -> &'static str {
        use jsonwebtoken::errors::ErrorKind as K;
        match self.kind() {
            K::ExpiredSignature => "expired",
            K::ImmatureSignature => "not yet valid",
            K::InvalidIssuer => "issuer",
            K::InvalidAudience => "audience",
            K::InvalidSignature => "signature",
            K::InvalidAlgorithm => "algorithm",
            K::MissingRequiredClaim(_) => "missing claim",
            _ => "malformed",
        }
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

/// Shared handle to the configured verifier.
pub type Verifier = Arc<dyn TokenVerifier>;

impl<S> FromRequestParts<S> for Principal
where
    S: Send + Sync,
    Verifier: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = <Verifier as axum::extract::FromRef<S>>::from_ref(state);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::Unauthorized("Access token is empty.".into()))?;
        let value = header
            .to_str()
            .map_err(|_| ApiError::Unauthorized("Access token validation failure.".into()))?;
        let (scheme, token) = value
            .split_once(' ')
            .ok_or_else(|| ApiError::Unauthorized("Access token validation failure.".into()))?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::Unauthorized(
                "Access token validation failure.".into(),
            ));
        }
        verifier.verify(token.trim())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

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
    #[test]
    fn signs_and_verifies() {
        let key = b"0123456789abcdef0123456789abcdef";
        let token = mint_hs256(key, &claims(600)).unwrap();
        let p = Hs256Verifier::new(key, DEMO_ISSUER, DEMO_AUDIENCE)
            .verify(&token)
            .unwrap();
        assert_eq!(p.tenant_id, "t1");
        assert_eq!(p.user.as_deref(), Some("analyst@contoso.com"));
        assert!(p.require(Need::READ_ALERTS).is_ok());
        assert!(p.require(Need::WRITE_ALERTS).is_err());
        assert!(p.permissions.iter().any(|x| x == "Vigil.Admin"));
    }

    #[test]
    fn rejects_expired_wrong_key_and_wrong_audience() {
        let key = b"0123456789abcdef0123456789abcdef";
        let v = Hs256Verifier::new(key, DEMO_ISSUER, DEMO_AUDIENCE);
        let expired = mint_hs256(key, &claims(-3600)).unwrap();
        assert!(matches!(v.verify(&expired), Err(ApiError::Unauthorized(_))));
        let other = mint_hs256(b"another key another key another!", &claims(600)).unwrap();
        assert!(matches!(v.verify(&other), Err(ApiError::Unauthorized(_))));
        let mut c = claims(600);
        c.aud = Some("api://someone-else".into());
        let wrong_aud = mint_hs256(key, &c).unwrap();
        assert!(matches!(
            v.verify(&wrong_aud),
            Err(ApiError::Unauthorized(_))
        ));
        let mut c = claims(600);
        c.tid = None;
        let no_tid = mint_hs256(key, &c).unwrap();
        assert!(matches!(v.verify(&no_tid), Err(ApiError::Unauthorized(_))));
    }
}
