//! The adapters against real servers over real HTTP on ephemeral ports: one test binary (each
//! extra `tests/*.rs` is another long link on 2 cores), one module per adapter.
//!
//! Adapter authors: add your module here (`mod falcon;`, `mod ocsf;`) next to `mod graph;`.
//! `support` has helpers shared by every module (a bounded-time wrapper, error assertions).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod every_fault;
mod falcon;
mod graph;
mod http_client;
mod ocsf;
mod support;
