//! Inbound authentication: bearer tokens as Graph takes them, turned into a [`Principal`].
//!
//! Authentication is an extractor, so every handler states in its signature that it needs a
//! caller, and [`Principal::require`] states which permission. Verification sits behind
//! [`TokenVerifier`]:
//!
//! - [`JwksVerifier`] (`auth.mode = "jwks"`, production): RS256/ES256 tokens checked against the
//!   keys of a JWKS endpoint (Entra's `…/discovery/v2.0/keys` by default), issuers with `{tid}`
//!   substitution, audiences, `exp`/`nbf` with a small leeway, and the algorithm bound to the
//!   key, never taken from the token alone. See [`jwks`].
//! - [`Hs256Verifier`] (`auth.mode = "hs256"`, the demo): HS256 tokens signed with a key the demo
//!   generates in its data directory (never a key from the repo), as `vigil token` mints.
//!
//! Claims as Entra issues them: `tid` selects the tenant; delegated permissions come in `scp`
//! (space-separated), application permissions in `roles` (array); `appid`/`azp` name the client
//! app and `upn`/`unique_name` the user (both go into `alertHistoryState`).
//!
//! Errors: a missing token is `401` with `WWW-Authenticate: Bearer realm="vigil"` and no `error`
//! parameter (RFC 6750 §3.1: a request without credentials gets no error code); any invalid
//! token is `401` with `error="invalid_token"`; both carry Graph's `InvalidAuthenticationToken`
//! body with a message that never says why a signature or claim check failed (only "expired"
//! is told apart, as Graph does). The reason goes to the debug log, never the token.
//!
//! The [`authenticate`] middleware verifies the token once per request (so the per-tenant rate
//! limit can key on a *verified* tenant) and leaves the outcome in the request extensions; the
//! extractor picks it up, or verifies by itself on routers built without the middleware.

pub mod hs256;
pub mod jwks;
pub mod verified;

pub use hs256::{DEMO_AUDIENCE, DEMO_ISSUER, Hs256Verifier, mint_hs256};
pub use jwks::{JwksSettings, JwksVerifier};
pub use verified::VerifiedTokens;

use crate::error::ApiError;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::Arc;

/// Graph permission names Vigil checks.
pub mod permissions {
    pub const SECURITY_EVENTS_READ: &str = "SecurityEvents.Read.All";
    pub const SECURITY_EVENTS_READ_WRITE: &str = "SecurityEvents.ReadWrite.All";
    pub const IDENTITY_RISK_EVENT_READ: &str = "IdentityRiskEvent.Read.All";
    pub const IDENTITY_RISKY_USER_READ: &str = "IdentityRiskyUser.Read.All";
    pub const IDENTITY_RISKY_USER_READ_WRITE: &str = "IdentityRiskyUser.ReadWrite.All";
    /// Vigil's own app role for operator routes (outbox, providers, cache). An *app role*:
    /// honoured only from `roles`, never from the delegated `scp` claim.
    pub const VIGIL_ADMIN: &str = "Vigil.Admin";
}

/// Permissions that exist only as app roles: a token that carries them in `scp` is not granted
/// them (a delegated scope of that name cannot be issued by Entra for Vigil's registration, so
/// its presence means a confused or forged token).
const APP_ROLE_ONLY: &[&str] = &[permissions::VIGIL_ADMIN];

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
    /// Operator routes (outbox, providers, cache administration).
    pub const ADMIN: Need = Need(&[permissions::VIGIL_ADMIN]);
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
    /// A string as Entra issues it; an array (RFC 7519 allows one) is read as its first member
    /// (the audience itself was already checked against every member by the verifier).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_first"
    )]
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
    /// Delegated scopes, space-separated. Anything but a string rejects the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    /// Application roles, an array. Anything but an array of strings rejects the token.
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

fn string_or_first<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Aud>::deserialize(d)? {
        None => None,
        Some(Aud::One(s)) => Some(s),
        Some(Aud::Many(v)) => v.into_iter().next(),
    })
}

impl Claims {
    /// The principal, or `401` when the token names no tenant or subject.
    pub fn into_principal(self) -> Result<Principal, ApiError> {
        let tenant_id = self
            .tid
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::Unauthorized(INVALID_TOKEN.into()))?;
        let subject = self
            .oid
            .or(self.sub)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::Unauthorized(INVALID_TOKEN.into()))?;
        let mut permissions: Vec<String> = self
            .scp
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .filter(|s| !APP_ROLE_ONLY.iter().any(|r| r.eq_ignore_ascii_case(s)))
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

/// The message of every invalid-token `401` (Graph's wording).
pub const INVALID_TOKEN: &str = "Access token validation failure.";
/// The message of a `401` for an expired or not-yet-valid token.
pub const EXPIRED_TOKEN: &str = "Access token has expired or is not yet valid.";
/// The message of a `401` without a token.
pub const MISSING_TOKEN: &str = "Access token is empty.";

/// Maps a jsonwebtoken error to the caller's `401`, logging only the kind of failure.
pub(crate) fn rejection(e: &jsonwebtoken::errors::Error) -> ApiError {
    use jsonwebtoken::errors::ErrorKind as K;
    let reason = match e.kind() {
        K::ExpiredSignature => "expired",
        K::ImmatureSignature => "not yet valid",
        K::InvalidIssuer => "issuer",
        K::InvalidAudience => "audience",
        K::InvalidSignature => "signature",
        K::InvalidAlgorithm | K::InvalidAlgorithmName => "algorithm",
        K::MissingRequiredClaim(_) => "missing claim",
        K::Json(_) => "claims not as expected",
        _ => "malformed",
    };
    tracing::debug!(reason, "token rejected");
    match e.kind() {
        K::ExpiredSignature | K::ImmatureSignature => ApiError::Unauthorized(EXPIRED_TOKEN.into()),
        _ => ApiError::Unauthorized(INVALID_TOKEN.into()),
    }
}

/// Turns a bearer token into a principal. Errors must not say why a signature failed.
#[async_trait::async_trait]
pub trait TokenVerifier: Send + Sync + 'static {
    /// The principal of a valid token and when the token expires.
    async fn verify_token(&self, token: &str) -> Result<Verified, ApiError>;

    async fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        Ok(self.verify_token(token).await?.principal)
    }

    /// Changes whenever a token verified before might no longer verify for a reason other
    /// than its own expiry (a key set refresh may have dropped its signing key): what
    /// [`VerifiedTokens`] remembers under another generation is verified again.
    fn key_generation(&self) -> u64 {
        0
    }
}

/// A token that verified.
#[derive(Debug, Clone)]
pub struct Verified {
    pub principal: Principal,
    /// The token's `exp` (seconds since the Unix epoch).
    pub expires_at: i64,
}

impl Claims {
    /// The principal, with the token's expiry.
    pub fn into_verified(self) -> Result<Verified, ApiError> {
        let expires_at = self.exp;
        Ok(Verified {
            principal: self.into_principal()?,
            expires_at,
        })
    }
}

/// Shared handle to the configured verifier.
pub type Verifier = Arc<dyn TokenVerifier>;

/// The configured verifier, remembering the tokens that verified unless
/// `auth.verified_token_cache_secs` is 0, and counting every check ([`verified`]).
pub fn verifier_from_config(cfg: &crate::config::Config) -> Result<Verifier, crate::StartError> {
    let a = &cfg.auth;
    let verifier = token_verifier(cfg)?;
    Ok(Arc::new(VerifiedTokens::new(
        verifier,
        std::time::Duration::from_secs(a.verified_token_cache_secs),
        a.verified_token_cache_entries,
    )))
}

/// The verifier `auth.mode` asks for. HS256 only when configured so; with real providers it
/// is logged as a warning (its key lives in the data directory, fine for a demo only).
fn token_verifier(cfg: &crate::config::Config) -> Result<Verifier, crate::StartError> {
    let a = &cfg.auth;
    match a.mode.as_str() {
        "hs256" => {
            let key = crate::config::load_or_create_key(&cfg.hs256_key_path())?;
            if !cfg.providers.is_empty() {
                tracing::warn!(
                    "auth.mode is hs256 (demo tokens from `vigil token`); use jwks in production"
                );
            }
            Ok(Arc::new(Hs256Verifier::with_leeway(
                &key,
                &a.issuer,
                &a.audience,
                a.leeway_secs,
            )))
        }
        "jwks" => {
            let tenant = a.tenant.trim();
            let settings = JwksSettings {
                jwks_url: cfg.jwks_url(),
                issuers: a.issuers.clone(),
                audiences: a
                    .audiences
                    .iter()
                    .filter(|s| !s.trim().is_empty())
                    .cloned()
                    .collect(),
                tenant: (!matches!(tenant, "common" | "organizations")).then(|| tenant.to_string()),
                leeway_secs: a.leeway_secs,
                min_refresh_interval: std::time::Duration::from_secs(a.jwks_min_refresh_secs),
                key_ttl: std::time::Duration::from_secs(a.jwks_cache_ttl_secs),
                fetch_timeout: std::time::Duration::from_millis(a.jwks_fetch_timeout_ms),
            };
            let v = JwksVerifier::new(settings)
                .map_err(|e| crate::StartError::Config(format!("auth: {e}")))?;
            Ok(Arc::new(v))
        }
        other => Err(crate::StartError::Config(format!(
            "auth.mode '{other}' is not supported"
        ))),
    }
}

/// Why a request has no principal.
#[derive(Debug, Clone)]
pub enum AuthFailure {
    /// No `Authorization` header at all.
    Missing,
    /// A header that is not a bearer token, or a token that failed verification.
    Invalid(String),
}

impl AuthFailure {
    fn from_api(e: ApiError) -> Self {
        match e {
            ApiError::Unauthorized(m) => AuthFailure::Invalid(m),
            _ => AuthFailure::Invalid(INVALID_TOKEN.into()),
        }
    }
}

impl IntoResponse for AuthFailure {
    fn into_response(self) -> Response {
        match self {
            AuthFailure::Missing => {
                let mut resp = ApiError::Unauthorized(MISSING_TOKEN.into()).into_response();
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"vigil\""),
                );
                resp
            }
            // ApiError::Unauthorized carries `error="invalid_token"`.
            AuthFailure::Invalid(m) => ApiError::Unauthorized(m).into_response(),
        }
    }
}

/// The verification outcome the [`authenticate`] middleware leaves for the extractor.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Result<Principal, AuthFailure>);

/// The bearer token of a request, or why there is none.
fn bearer(parts: &axum::http::HeaderMap) -> Result<&str, AuthFailure> {
    let header = parts
        .get(header::AUTHORIZATION)
        .ok_or(AuthFailure::Missing)?;
    let invalid = || AuthFailure::Invalid(INVALID_TOKEN.into());
    let value = header.to_str().map_err(|_| invalid())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(invalid)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(invalid());
    }
    Ok(token)
}

/// Verifies the request's token, if any.
pub async fn verify_headers(
    verifier: &dyn TokenVerifier,
    headers: &axum::http::HeaderMap,
) -> Result<Principal, AuthFailure> {
    let token = bearer(headers)?;
    verifier.verify(token).await.map_err(AuthFailure::from_api)
}

/// Middleware: verifies the token once and leaves [`Authenticated`] in the request. Requests
/// without a valid token are not refused here (health probes need none); the extractor refuses
/// them where a principal is needed.
pub async fn authenticate(
    State(verifier): State<Verifier>,
    mut req: Request,
    next: Next,
) -> Response {
    // Probes need no principal: a token sent with one is not even verified (no key fetch).
    if crate::limits::is_probe(req.uri().path()) {
        return next.run(req).await;
    }
    let outcome = verify_headers(verifier.as_ref(), req.headers()).await;
    req.extensions_mut().insert(Authenticated(outcome));
    next.run(req).await
}

impl<S> FromRequestParts<S> for Principal
where
    S: Send + Sync,
    Verifier: axum::extract::FromRef<S>,
{
    type Rejection = AuthFailure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(Authenticated(outcome)) = parts.extensions.get::<Authenticated>() {
            return outcome.clone();
        }
        let verifier = <Verifier as axum::extract::FromRef<S>>::from_ref(state);
        verify_headers(verifier.as_ref(), &parts.headers).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn claims_json(v: serde_json::Value) -> Result<Claims, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn scopes_and_roles_come_from_their_own_claims() {
        let c = claims_json(serde_json::json!({
            "exp": 1, "tid": "t", "oid": "o",
            "scp": "SecurityEvents.Read.All Vigil.Admin",
            "roles": ["IdentityRiskyUser.Read.All"],
        }))
        .unwrap();
        let p = c.into_principal().unwrap();
        assert!(p.require(Need::READ_ALERTS).is_ok());
        // An app role in the delegated claim is not granted.
        assert!(p.require(Need::ADMIN).is_err());
        assert!(
            p.permissions
                .iter()
                .any(|x| x == permissions::IDENTITY_RISKY_USER_READ)
        );
    }

    #[test]
    fn claims_of_the_wrong_shape_do_not_parse() {
        // Scopes as a string in `roles`, roles as an array in `scp`.
        assert!(
            claims_json(serde_json::json!({"exp": 1, "roles": "SecurityEvents.Read.All"})).is_err()
        );
        assert!(claims_json(serde_json::json!({"exp": 1, "scp": ["Vigil.Admin"]})).is_err());
        // `aud` as an array is fine.
        let c = claims_json(serde_json::json!({"exp": 1, "aud": ["api://a", "api://b"]})).unwrap();
        assert_eq!(c.aud.as_deref(), Some("api://a"));
    }

    #[test]
    fn no_tenant_or_subject_is_unauthorized() {
        let no_tid = claims_json(serde_json::json!({"exp": 1, "oid": "o"})).unwrap();
        assert!(matches!(
            no_tid.into_principal(),
            Err(ApiError::Unauthorized(_))
        ));
        let empty_tid = claims_json(serde_json::json!({"exp": 1, "tid": "", "oid": "o"})).unwrap();
        assert!(matches!(
            empty_tid.into_principal(),
            Err(ApiError::Unauthorized(_))
        ));
        let no_sub = claims_json(serde_json::json!({"exp": 1, "tid": "t"})).unwrap();
        assert!(matches!(
            no_sub.into_principal(),
            Err(ApiError::Unauthorized(_))
        ));
    }

    #[test]
    fn bearer_header_parsing() {
        let mut h = axum::http::HeaderMap::new();
        assert!(matches!(bearer(&h), Err(AuthFailure::Missing)));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(matches!(bearer(&h), Err(AuthFailure::Invalid(_))));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer   "));
        assert!(matches!(bearer(&h), Err(AuthFailure::Invalid(_))));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer a.b.c"),
        );
        assert_eq!(bearer(&h).unwrap(), "a.b.c");
    }

    #[test]
    fn missing_and_invalid_tokens_differ_in_www_authenticate() {
        let missing = AuthFailure::Missing.into_response();
        assert_eq!(missing.status(), 401);
        let h = missing.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert!(h.starts_with("Bearer") && !h.contains("error="), "{h}");
        let invalid = AuthFailure::Invalid(INVALID_TOKEN.into()).into_response();
        let h = invalid.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert!(h.contains("error=\"invalid_token\""), "{h}");
    }
}
