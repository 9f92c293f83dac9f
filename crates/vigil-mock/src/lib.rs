//! Mock security providers that speak real wire formats over real HTTP: Microsoft Graph (with
//! its OAuth2 token endpoint), CrowdStrike Falcon Alerts, and an OCSF Detection Finding source.
//! Seeded, reproducible data with deliberate cross-provider duplicates; mutable state with every
//! write recorded; fault injection changeable at run time. Used by the demo, the tests, the
//! benchmarks and docker-compose. Formats: `docs/partner-formats.md`.
//!
//! Start one product with [`MockProvider::start`] or all three from one scenario with
//! [`MockFleet::start`]; see [`server`] for the admin routes and [`faults`] for what can be
//! injected.

pub mod core;
pub mod falcon;
pub mod faults;
pub mod graph;
pub mod kept;
pub mod ocsf;
mod rng;
pub mod scenario;
pub mod server;
pub mod wire;

pub use crate::core::{
    Core, Credentials, ProviderData, ProviderKind, RecordedRequest, RecordedWrite,
};
pub use crate::faults::{Drip, Faults, FaultsError};
pub use crate::scenario::{
    CONTOSO_TENANT_ID, DuplicateGroup, FABRIKAM_TENANT_ID, Scenario, ScenarioConfig, TenantSpec,
};
pub use crate::server::{MockConfig, MockFleet, MockProvider};
