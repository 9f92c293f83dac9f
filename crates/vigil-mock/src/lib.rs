//! Mock security providers that speak real wire formats over real HTTP: Microsoft Graph (with
//! its OAuth2 token endpoint), CrowdStrike Falcon Alerts, and an OCSF Detection Finding source.
//! Seeded, reproducible data with deliberate cross-provider duplicates; mutable state with every
//! write recorded; fault injection changeable at run time. Used by the demo, the tests, the
//! benchmarks and docker-compose. Formats: `docs/partner-formats.md`.

pub mod core;
pub mod falcon;

pub use crate::core::{Core, Credentials, ProviderData, ProviderKind, RecordedRequest, RecordedWrite};
