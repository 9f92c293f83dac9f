//! Gateway integration tests that need no root package: the real app on 127.0.0.1:0 with
//! configurations the end-to-end harness does not cover (JWKS auth, limits, CORS).
//! One test binary with modules (each extra test binary is another long link): add a module
//! here rather than a new file under tests/.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod observability;
mod openapi;
mod security;
