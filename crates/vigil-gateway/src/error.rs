//! One error type for the HTTP layer, rendered in Microsoft Graph's error format.
//!
//! Graph clients (the Python and JavaScript SDKs, kiota-generated clients) parse every non-2xx
//! body as `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`
//! and fail with an unhelpful deserialization error when they get anything else, so every error
//! — including unknown routes, wrong methods and our own extractor rejections — leaves in that
//! shape with `Content-Type: application/json`. The request ids are only known to the request
//! context middleware ([`crate::context`]), so an `ApiError` renders to a response that carries
//! a [`PendingGraphError`] extension, and the middleware writes the final body. A 5xx never
//! shows internals: the cause is logged with the request id and the caller gets a generic text.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// Every way a request can fail, as the caller sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    TooManyRequests { retry_after: Duration },
    #[error("service unavailable: {message}")]
    Unavailable {
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("gateway timeout: {0}")]
    GatewayTimeout(String),
    /// An unexpected failure; the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Graph's `error.code` for this kind.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Unauthorized(_) => "InvalidAuthenticationToken",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound(_) => "NotFound",
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::PreconditionFailed(_) => "PreconditionFailed",
            ApiError::NotAcceptable(_) => "NotAcceptable",
            ApiError::PayloadTooLarge(_) => "RequestEntityTooLarge",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::TooManyRequests { .. } => "TooManyRequests",
            ApiError::Unavailable { .. } => "serviceNotAvailable",
            ApiError::GatewayTimeout(_) => "GatewayTimeout",
            ApiError::Internal(_) => "generalException",
        }
    }

    /// The message the caller sees.
    fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => {
                "An internal error occurred. Quote the request-id when reporting it.".to_string()
            }
            ApiError::TooManyRequests { .. } => "Please retry after".to_string(),
            ApiError::Unavailable { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// The error waiting for the request context middleware to render it with the request ids.
#[derive(Debug, Clone)]
pub struct PendingGraphError {
    pub code: &'static str,
    pub message: String,
}

/// Whole seconds, rounded up and at least 1: the Python SDK does `int(Retry-After)` and fails
/// on a decimal.
pub fn retry_after_value(d: Duration) -> HeaderValue {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    HeaderValue::from(secs.max(1))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let pending = PendingGraphError {
            code: self.code(),
            message: self.public_message(),
        };
        let mut resp = status.into_response();
        match &self {
            ApiError::Unauthorized(_) => {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"vigil\", error=\"invalid_token\""),
                );
            }
            ApiError::TooManyRequests { retry_after } => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_value(*retry_after));
            }
            ApiError::Unavailable {
                retry_after: Some(d),
                ..
            } => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_value(*d));
            }
            _ => {}
        }
        resp.extensions_mut().insert(pending);
        resp
    }
}

impl From<vigil_model::query::QueryError> for ApiError {
    fn from(e: vigil_model::query::QueryError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_whole_seconds() {
        assert_eq!(retry_after_value(Duration::from_millis(2128)), "3");
        assert_eq!(retry_after_value(Duration::from_secs(2)), "2");
        assert_eq!(retry_after_value(Duration::ZERO), "1");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = ApiError::Internal("db password=hunter2 refused".into());
        assert!(!e.public_message().contains("hunter2"));
        assert_eq!(e.code(), "generalException");
    }
}
