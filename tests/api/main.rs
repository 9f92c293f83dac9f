//! End-to-end tests: the real gateway on an ephemeral port, the real mock fleet on ephemeral
//! ports, real HTTP. One test binary with modules (each extra test binary is another long link).

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Runs each `async fn name(env: TestEnv)` of the calling module twice: `sqlite::name` on a fresh
/// SQLite environment and `postgres::name` on a fresh PostgreSQL schema (skipped, saying so,
/// unless `VIGIL_TEST_POSTGRES_URL` is set; CI must set it).
macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::TestEnv::start().await).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(env) = $crate::TestEnv::start_on_postgres().await {
                        super::$name(env).await
                    }
                }
            )+
        }
    };
}

mod cache;
mod credentials;
mod errors;
mod faults;
mod harness;
mod identity;
mod list;
mod merge;
mod observability;
mod paging;
mod process;
mod query;
mod resilience;
mod storage;
mod tenancy;
mod tenancy_security;
mod writeback;

pub use harness::*;
