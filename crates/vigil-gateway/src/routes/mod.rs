//! The HTTP surface: one module per resource, merged here.

pub mod alerts;
pub mod alerts_write;
pub mod health;
pub mod identity;
pub mod providers;

use crate::error::ApiError;
use crate::odata::ApiVersion;
use crate::state::AppState;
use axum::Router;
use axum::routing::get;

/// The Graph-compatible routes of one API version.
fn graph_api(version: ApiVersion) -> Router<AppState> {
    let beta_only = match version {
        ApiVersion::Beta => Router::new().route(
            "/security/alerts/updateAlerts",
            axum::routing::post(alerts_write::update_alerts),
        ),
        ApiVersion::V1 => Router::new(),
    };
    Router::new()
        .route("/security/alerts", get(alerts::list_alerts))
        .route("/security/alerts/", get(alerts::list_alerts))
        .route("/security/alerts/$count", get(alerts::count_alerts))
        .route(
            "/security/alerts/{id}",
            get(alerts::get_alert).patch(alerts_write::update_alert),
        )
        .merge(beta_only)
        .merge(identity::router(version))
        .layer(axum::middleware::from_fn(crate::resilience::request_clock))
        .layer(axum::Extension(version))
}

/// Every route.
pub fn router() -> Router<AppState> {
    Router::new()
        .nest("/v1.0", graph_api(ApiVersion::V1))
        .nest("/beta", graph_api(ApiVersion::Beta))
        .merge(health::router())
        .merge(crate::openapi::router())
        .merge(alerts_write::admin_router())
        .merge(providers::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!(
        "Resource not found for the segment '{}'.",
        uri.path()
            .rsplit('/')
            .find(|s| !s.is_empty())
            .unwrap_or("/")
    ))
}

async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "The method '{method}' is not allowed on this resource."
    ))
}
