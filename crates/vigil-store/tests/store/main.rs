//! The store conformance suite: every case runs against SQLite (a fresh temporary file) and
//! against PostgreSQL (a fresh schema) when `VIGIL_TEST_POSTGRES_URL` is set, e.g.
//! `postgres://postgres@127.0.0.1:5432/test`. Without it the PostgreSQL cases print
//! `SKIPPED` and pass, unless `CI` is set: then they fail, so CI cannot skip them silently.
//!
//! One test binary (habit 8); cases are named `<module>::<engine>::<case>`, so
//! `cargo test -p vigil-store -- postgres` runs one engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Generates `sqlite::<case>` and `postgres::<case>` tests from `async fn <case>(TestDb)`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    $crate::harness::run($crate::harness::Backend::Sqlite, super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    $crate::harness::run($crate::harness::Backend::Postgres, super::$case).await;
                }
            )*
        }
    };
}

mod harness;
mod index;
mod invalidation;
mod outbox;
