//! Provider errors: one type for every adapter, naming the provider and the cause.
//!
//! The gateway turns a failed provider into a Graph `Warning: 199 - "{vendor}/{provider}/{status}/{ms}"`
//! entry, so every kind maps to the HTTP status Graph would have put there
//! ([`ProviderError::warning_status`]): a timeout is 504, an unreachable or garbled upstream 502,
//! the upstream's own status otherwise.

use std::time::Duration;

/// A failure of one provider call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("provider '{provider}': {kind}")]
pub struct ProviderError {
    /// The configured provider instance name.
    pub provider: String,
    pub kind: ProviderErrorKind,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderErrorKind {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("credentials rejected: {0}")]
    Unauthorized(String),
    #[error("access denied: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("throttled (retry after {retry_after:?})")]
    Throttled { retry_after: Option<Duration> },
    #[error("upstream answered {status}: {message}")]
    Upstream { status: u16, message: String },
    #[error("unreadable answer: {0}")]
    Decode(String),
    #[error("answer larger than the {limit}-byte limit")]
    BodyTooLarge { limit: usize },
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    #[error("rejected the request: {0}")]
    BadRequest(String),
    #[error("not supported by this provider: {0}")]
    Unsupported(&'static str),
    #[error("configuration: {0}")]
    Config(String),
    /// Vigil did not call the provider, to protect it or itself: its circuit is open, its
    /// `Retry-After` has not passed, its request budget is spent or too many calls to it are in
    /// flight. `status` is what the `Warning` header reports (503, or 429 for throttling).
    #[error("not asked: {reason}")]
    NotAsked { reason: String, status: u16 },
}

impl ProviderError {
    pub fn new(provider: impl Into<String>, kind: ProviderErrorKind) -> Self {
        Self {
            provider: provider.into(),
            kind,
        }
    }

    /// The status Graph would report for this provider in a `Warning` header.
    pub fn warning_status(&self) -> u16 {
        match &self.kind {
            ProviderErrorKind::Timeout(_) => 504,
            ProviderErrorKind::Connect(_)
            | ProviderErrorKind::Decode(_)
            | ProviderErrorKind::BodyTooLarge { .. } => 502,
            ProviderErrorKind::Unauthorized(_) => 401,
            ProviderErrorKind::Forbidden(_) => 403,
            ProviderErrorKind::NotFound => 404,
            ProviderErrorKind::Throttled { .. } => 429,
            ProviderErrorKind::Upstream { status, .. } => *status,
            ProviderErrorKind::InvalidCursor(_) | ProviderErrorKind::BadRequest(_) => 400,
            ProviderErrorKind::Unsupported(_) => 501,
            ProviderErrorKind::Config(_) => 500,
            ProviderErrorKind::NotAsked { status, .. } => *status,
        }
    }

    /// How long the upstream asked us to wait, when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match &self.kind {
            ProviderErrorKind::Throttled { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// Whether trying the same call again later can succeed (used by retries and the outbox).
    pub fn is_transient(&self) -> bool {
        matches!(
            &self.kind,
            ProviderErrorKind::Timeout(_)
                | ProviderErrorKind::Connect(_)
                | ProviderErrorKind::Throttled { .. }
                | ProviderErrorKind::Decode(_)
                | ProviderErrorKind::BodyTooLarge { .. }
                | ProviderErrorKind::Unauthorized(_)
                | ProviderErrorKind::NotAsked { .. }
        ) || matches!(&self.kind, ProviderErrorKind::Upstream { status, .. } if *status >= 500)
    }
}
