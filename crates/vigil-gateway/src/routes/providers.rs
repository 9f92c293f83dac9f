//! `GET /vigil/admin/providers`: the operator's view of every provider of the caller's tenant:
//! health, circuit, latency, last error, cache freshness and capabilities.
//!
//! Passive: it reports what the calls made for clients saw ([`crate::resilience`]) and asks no
//! provider anything, so looking at a struggling provider never adds to its load.

use crate::auth::{Need, Principal};
use crate::error::ApiError;
use crate::resilience::{Circuit, GuardSnapshot};
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/vigil/admin/providers", get(list_providers))
}

/// One provider as operators see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderRow {
    /// The configured instance name.
    pub name: String,
    /// The adapter: `graph`, `falcon`, `ocsf`.
    pub kind: String,
    pub vendor: String,
    pub product: String,
    /// `healthy` (circuit closed, last call answered), `degraded` (circuit closed but recent
    /// failures, or waiting out a `Retry-After`), `down` (circuit open or half-open), `unknown`
    /// (not called since the gateway started).
    pub health: &'static str,
    #[serde(flatten)]
    pub protection: GuardSnapshot,
    /// Age of the newest answer cached for this provider (any collection), in milliseconds.
    pub cache_age_ms: Option<u64>,
    /// What the provider can do (collections, push-down, writable fields, paging).
    #[schema(value_type = Object)]
    pub capabilities: serde_json::Value,
}

/// The route's body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProviderRows {
    pub value: Vec<ProviderRow>,
}

fn health_of(s: &GuardSnapshot) -> &'static str {
    match s.circuit {
        Circuit::Open | Circuit::HalfOpen => "down",
        Circuit::Closed if s.consecutive_failures > 0 || s.throttled_for_ms.is_some() => "degraded",
        Circuit::Closed if s.last_success_date_time.is_some() => "healthy",
        // Called, and its last calls were refusals or unremarkable failures.
        Circuit::Closed if s.calls > 0 && s.last_error.is_some() => "degraded",
        Circuit::Closed => "unknown",
    }
}

/// `GET /vigil/admin/providers`
#[utoipa::path(
    get,
    path = "/vigil/admin/providers",
    operation_id = "listProviders",
    tag = "admin",
    summary = "Providers of the tenant with health, circuit state, latency and cache freshness",
    description = "Every provider configured for the caller's tenant: health, circuit breaker state (`closed`, `open`, `halfOpen`), consecutive failures, call/retry/refusal counts, p50/p95/p99 latency of its recent calls, last error and when, how long its `Retry-After` still holds, calls in flight, the age of its newest cached answer, and its capabilities. Passive: no provider is called. Needs the `Vigil.Admin` app role.",
    security(("bearer" = ["Vigil.Admin"])),
    responses(
        (status = 200, description = "The providers.", body = ProviderRows, content_type = "application/json"),
        (status = 403, description = "`Forbidden`: the caller lacks the `Vigil.Admin` app role.", body = crate::openapi::ODataError, content_type = "application/json"),
    ),
)]
pub async fn list_providers(
    State(st): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    principal.require(Need::ADMIN)?;
    let fed = &st.federation;
    let value: Vec<ProviderRow> = fed
        .registry
        .for_tenant(&principal.tenant_id)
        .iter()
        .map(|p| {
            let info = p.info();
            let protection = fed.cache.resilience.snapshot(info);
            ProviderRow {
                name: info.name.clone(),
                kind: info.kind.to_string(),
                vendor: info.vendor.clone(),
                product: info.product.clone(),
                health: health_of(&protection),
                protection,
                cache_age_ms: fed
                    .cache
                    .newest_age(&info.tenant_id, &info.name)
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                capabilities: serde_json::to_value(p.capabilities())
                    .unwrap_or(serde_json::Value::Null),
            }
        })
        .collect();
    let body = serde_json::to_vec(&ProviderRows { value })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
