//! Error bodies as each product puts them on the wire (`docs/partner-formats.md`).
//!
//! Kept in one place because two layers produce them: the format handlers (auth failures, bad
//! input) and the fault layer (injected 5xx and 429s must look exactly like the product's own,
//! or an adapter's error mapping is not really exercised).

use crate::core::ProviderKind;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Graph's JSON media type for responses.
pub const GRAPH_JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// The caller's `client-request-id`, if it sent one.
pub fn client_request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A Graph error response (spec §4): `{"error":{"code","message","innerError":{...}}}` with
/// `request-id`, `client-request-id` (echoed, else the request id) and an offset-less `date`.
pub fn graph_error(
    status: StatusCode,
    code: &str,
    message: &str,
    client_request_id: Option<&str>,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_id = client_request_id.unwrap_or(&request_id).to_string();
    let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let mut inner = json!({
        "date": date,
        "request-id": request_id,
        "client-request-id": client_id,
    });
    if status == StatusCode::TOO_MANY_REQUESTS
        && let Some(o) = inner.as_object_mut()
    {
        o.insert("code".into(), json!("429"));
        o.insert("status".into(), json!("429"));
        o.insert("message".into(), json!("Please retry after"));
    }
    let body = json!({"error": {"code": code, "message": message, "innerError": inner}});
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert(HeaderName::from_static("request-id"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&client_id) {
        h.insert(HeaderName::from_static("client-request-id"), v);
    }
    resp
}

/// The Graph error code for a status (spec §4's typical pairs).
pub fn graph_code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "InvalidAuthenticationToken",
        403 => "Forbidden",
        404 => "NotFound",
        429 => "TooManyRequests",
        500 => "generalException",
        503 => "serviceNotAvailable",
        504 => "gatewayTimeout",
        _ => "UnknownError",
    }
}

/// A Falcon envelope with one error.
pub fn falcon_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "meta": {
            "query_time": 0.001,
            "powered_by": "crowdstrike-api-gateway",
            "trace_id": uuid::Uuid::new_v4().to_string(),
        },
        "resources": [],
        "errors": [{"code": status.as_u16(), "message": message}],
    });
    json_response(status, &body)
}

/// The OCSF source's error body.
pub fn ocsf_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// `status` + compact JSON + `Content-Type: application/json`.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    json_body(status, body.to_string().into())
}

/// `status` + a JSON body already written + `Content-Type: application/json`.
pub fn json_body(status: StatusCode, body: axum::body::Bytes) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An injected server error, in the product's own error format.
pub fn injected_error(kind: ProviderKind, status: StatusCode, headers: &HeaderMap) -> Response {
    let message = "The service is temporarily unavailable (injected by vigil-mock).";
    let mut resp = match kind {
        ProviderKind::Graph => graph_error(
            status,
            graph_code_for(status),
            message,
            client_request_id(headers).as_deref(),
        ),
        ProviderKind::Falcon => falcon_error(status, message),
        ProviderKind::Ocsf => ocsf_error(status, "service_unavailable", message),
    };
    // Graph sends Retry-After with 503 too.
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

/// An injected throttle: `429` + `Retry-After: <whole seconds>` (plus Falcon's
/// `X-RateLimit-RetryAfter: <epoch seconds>`), in the product's own error format.
pub fn throttled(kind: ProviderKind, retry_after_secs: u64, headers: &HeaderMap) -> Response {
    let status = StatusCode::TOO_MANY_REQUESTS;
    let mut resp = match kind {
        ProviderKind::Graph => graph_error(
            status,
            "TooManyRequests",
            "Too many requests. Please retry after the time given in the Retry-After header.",
            client_request_id(headers).as_deref(),
        ),
        ProviderKind::Falcon => falcon_error(status, "API rate limit exceeded."),
        ProviderKind::Ocsf => ocsf_error(status, "rate_limited", "Too many requests."),
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        h.insert(header::RETRY_AFTER, v);
    }
    if kind == ProviderKind::Falcon {
        let at = chrono::Utc::now()
            .timestamp()
            .saturating_add_unsigned(retry_after_secs);
        if let Ok(v) = HeaderValue::from_str(&at.to_string()) {
            h.insert(HeaderName::from_static("x-ratelimit-retryafter"), v);
        }
        h.insert(
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderValue::from_static("6000"),
        );
        h.insert(
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderValue::from_static("0"),
        );
    }
    resp
}
