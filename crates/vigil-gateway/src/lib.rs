//! Vigil's HTTP gateway: Graph-compatible routes over a federation of security providers.
//!
//! Layout: [`config`] (layered configuration), [`app`] (build and run), [`routes`] (one module
//! per resource), [`federation`] + [`fanout`] (the engine), [`auth`] (the caller),
//! [`error`] + [`context`] (Graph errors and request ids), [`skiptoken`], [`odata`].

pub mod app;
pub mod auth;
pub mod config;
pub mod context;
pub mod error;
pub mod fanout;
pub mod federation;
pub mod identity;
pub mod limits;
pub mod metrics;
pub mod odata;
pub mod openapi;
pub mod rendered;
pub mod resilience;
pub mod routes;
pub mod skiptoken;
pub mod state;
pub mod writeback;

pub use app::{StartError, app, build_state, run};
pub use config::Config;
pub use state::AppState;
