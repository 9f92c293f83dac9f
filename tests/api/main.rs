//! End-to-end tests: the real gateway on an ephemeral port, the real mock fleet on ephemeral
//! ports, real HTTP. One test binary with modules (each extra test binary is another long link).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cache;
mod errors;
mod faults;
mod harness;
mod identity;
mod list;
mod merge;
mod paging;
mod query;
mod resilience;
mod storage;
mod tenancy;
mod tenancy_security;
mod writeback;

pub use harness::*;
