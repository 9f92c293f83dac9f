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
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The store answers and every migration is applied.
async fn readyz(State(st): State<AppState>) -> Response {
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
