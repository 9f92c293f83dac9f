//! The state every handler shares.

use crate::auth::Verifier;
use crate::config::Config;
use crate::federation::Federation;
use crate::skiptoken::SkipTokenSigner;
use axum::extract::FromRef;
use std::ops::Deref;
use std::sync::Arc;

/// Cheap to clone; everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AppState(pub Arc<AppInner>);

pub struct AppInner {
    pub config: Config,
    pub federation: Federation,
    pub verifier: Verifier,
    /// Per-tenant and per-app request rates (its counters feed metrics).
    pub limiter: std::sync::Arc<crate::limits::RateLimiter>,
    pub skiptokens: SkipTokenSigner,
    pub writeback: crate::writeback::WriteBack,
}

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl FromRef<AppState> for Verifier {
    fn from_ref(s: &AppState) -> Verifier {
        s.0.verifier.clone()
    }
}
