//! vigil-model integration tests: one test binary (each extra `tests/*.rs` is another link on
//! shared cores), one module per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod enums;
mod fixtures;
mod full_alert;
mod leniency;
mod merge;
mod props;
mod time;
