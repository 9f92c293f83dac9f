//! Per-request context: Graph's `request-id` / `client-request-id` headers and the rendering of
//! Graph error bodies.
//!
//! Graph answers every request with a `request-id` (a GUID) and echoes the caller's
//! `client-request-id`, or repeats the request id when the caller sent none (the Python SDK only
//! sends one to Microsoft's own hosts). The same ids go into `innerError` of an error body, with
//! `date` as `YYYY-MM-DDTHH:MM:SS` (no offset, no fraction: the SDK parses it as ISO-8601).
//! The request id is also put on the tracing span, so every log line of the request carries it.

use crate::error::PendingGraphError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
pub static CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// The ids of the request being served, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub client_request_id: String,
}

fn sanitized_client_request_id(v: Option<&HeaderValue>) -> Option<String> {
    let s = v?.to_str().ok()?.trim();
    // Echoed into a header and a JSON body: keep it short and printable.
    (!s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_graphic()))
        .then(|| s.to_string())
}

/// Assigns the ids, instruments the request, and renders pending Graph errors.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = sanitized_client_request_id(req.headers().get(&CLIENT_REQUEST_ID))
        .unwrap_or_else(|| request_id.clone());
    let ctx = RequestContext {
        request_id: request_id.clone(),
        client_request_id: client_request_id.clone(),
    };
    req.extensions_mut().insert(ctx.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    let mut resp = next.run(req).instrument(span).await;
    if let Some(pending) = resp.extensions_mut().remove::<PendingGraphError>() {
        let body = graph_error_body(&pending, &ctx);
        *resp.body_mut() = Body::from(body);
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp.headers_mut().remove(header::CONTENT_LENGTH);
    }
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        headers.insert(REQUEST_ID.clone(), v);
    }
    if let Ok(v) = HeaderValue::from_str(&ctx.client_request_id) {
        headers.insert(CLIENT_REQUEST_ID.clone(), v);
    }
    resp
}

/// The Graph error body.
pub fn graph_error_body(err: &PendingGraphError, ctx: &RequestContext) -> String {
    let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    serde_json::json!({
        "error": {
            "code": err.code,
            "message": err.message,
            "innerError": {
                "date": date,
                "request-id": ctx.request_id,
                "client-request-id": ctx.client_request_id,
            }
        }
    })
    .to_string()
}
