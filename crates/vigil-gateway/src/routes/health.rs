//! Liveness and readiness.

use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::scrape))
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "getHealth",
    tag = "health",
    summary = "Liveness",
    description = "`ok` while the process serves requests.",
    responses((status = 200, description = "The process is up.", content_type = "text/plain", body = String, example = "ok")),
)]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The store answers and every migration is applied.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "getReadiness",
    tag = "health",
    summary = "Readiness",
    description = "`ready` when the store answers and every migration is applied.",
    responses(
        (status = 200, description = "Ready to serve.", content_type = "text/plain", body = String, example = "ready"),
        (status = 503, description = "Not ready: `store unavailable` or `migrations not applied`.", content_type = "text/plain", body = String),
    ),
)]
pub async fn readyz(State(st): State<AppState>) -> Response {
    let store = &st.federation.store;
    match (store.ping().await, store.migrations_applied().await) {
        (Ok(()), Ok(true)) => (StatusCode::OK, "ready").into_response(),
        (Ok(()), Ok(false)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "migrations not applied").into_response()
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "readiness: store unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
    }
}
