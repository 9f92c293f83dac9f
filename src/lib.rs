//! The `vigil` package: the command line (`src/main.rs`) and the demo wiring it shares with
//! the end-to-end tests.

pub mod demo;
