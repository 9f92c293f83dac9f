//! The `Provider` abstraction and one adapter per upstream product.
//!
//! An adapter is an HTTP client plus a mapping between the product's native records and Vigil's
//! common schema (`vigil-model`). It knows nothing of axum or of the gateway: it answers "list",
//! "get", "update" for one tenant's credentials against one product, and reports failures as
//! typed [`ProviderError`]s that name the provider and the cause.
//!
//! Adapters: [`graph`] (Microsoft Graph security API + Identity Protection), [`falcon`]
//! (CrowdStrike Falcon Alerts API), [`ocsf`] (OCSF 1.3 Detection Finding source, also serving
//! identity risk). Their wire formats are described in `docs/partner-formats.md`.

pub mod error;
pub mod falcon;
pub mod graph;
pub mod http;
pub mod oauth2;
pub mod ocsf;
pub mod provider;
pub mod secret;

pub use error::{ProviderError, ProviderErrorKind};
pub use provider::*;
pub use secret::Secret;
