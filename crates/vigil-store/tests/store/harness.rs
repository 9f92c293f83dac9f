//! Fresh databases for each case, and a peek at what the engine actually did.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgPool, SqlitePool};
use uuid::Uuid;
use vigil_store::{AlertIndexEntry, Store};

pub const PG_URL_VAR: &str = "VIGIL_TEST_POSTGRES_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Direct access to the same database, for checks the store API does not offer.
#[derive(Clone)]
pub enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub struct TestDb {
    pub backend: Backend,
    /// A store opened with `vigil_store::connect`, not yet migrated.
    pub store: Arc<dyn Store>,
    /// The URL of this database: open it again to play a second replica.
    pub url: String,
    pub raw: Raw,
}

enum Cleanup {
    Dir(PathBuf),
    Schema { admin: PgPool, schema: String },
}

impl Cleanup {
    async fn run(self) {
        match self {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { admin, schema } => {
                let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                    .execute(&admin)
                    .await
                    .expect("drop the test schema");
                admin.close().await;
            }
        }
    }
}

/// Runs `case` on a fresh database of `backend`, then removes the database, also when the
/// case panics.
pub async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some((db, cleanup)) = open(backend).await else {
        return;
    };
    let outcome = tokio::spawn(case(db)).await;
    cleanup.run().await;
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

async fn open(backend: Backend) -> Option<(TestDb, Cleanup)> {
    match backend {
        Backend::Sqlite => {
            // A directory that does not exist yet: connect must create it.
            let dir = std::env::temp_dir().join(format!("vigil-store-test-{}", Uuid::new_v4()));
            let path = dir.join("data").join("vigil.db");
            let url = format!("sqlite://{}", path.display());
            let store = vigil_store::connect(&url).await.expect("open sqlite store");
            let raw = SqlitePool::connect(&url)
                .await
                .expect("open raw sqlite pool");
            let db = TestDb {
                backend,
                store,
                url,
                raw: Raw::Sqlite(raw),
            };
            Some((db, Cleanup::Dir(dir)))
        }
        Backend::Postgres => {
            let Ok(base) = std::env::var(PG_URL_VAR) else {
                if std::env::var_os("CI").is_some() {
                    panic!(
                        "CI is set but {PG_URL_VAR} is not: the PostgreSQL conformance tests must run in CI"
                    );
                }
                eprintln!("SKIPPED: postgres tests (set {PG_URL_VAR})");
                return None;
            };
            let admin = PgPool::connect(&base)
                .await
                .expect("connect to VIGIL_TEST_POSTGRES_URL");
            let schema = format!("vigil_test_{}", Uuid::new_v4().simple());
            let create = format!("CREATE SCHEMA \"{schema}\"");
            sqlx::raw_sql(sqlx::AssertSqlSafe(create))
                .execute(&admin)
                .await
                .expect("create the test schema");
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options[search_path]={schema}");
            let store = vigil_store::connect(&url)
                .await
                .expect("open postgres store");
            let raw = PgPool::connect(&url).await.expect("open raw postgres pool");
            let db = TestDb {
                backend,
                store,
                url,
                raw: Raw::Postgres(raw),
            };
            Some((db, Cleanup::Schema { admin, schema }))
        }
    }
}

impl TestDb {
    /// The store, migrated.
    pub async fn migrated(&self) -> Arc<dyn Store> {
        self.store.migrate().await.expect("migrate");
        self.store.clone()
    }

    /// Counts writes to `alert_index` from now on: rows updated (both engines) and INSERT
    /// statements (PostgreSQL only: SQLite has no statement-level triggers).
    pub async fn count_index_writes(&self) {
        match &self.raw {
            Raw::Sqlite(pool) => {
                sqlx::raw_sql(
                    "CREATE TABLE test_writes (kind TEXT PRIMARY KEY, n INTEGER NOT NULL);
                     INSERT INTO test_writes VALUES ('row_update', 0);
                     CREATE TRIGGER test_count_rows AFTER UPDATE ON alert_index
                     BEGIN UPDATE test_writes SET n = n + 1 WHERE kind = 'row_update'; END;",
                )
                .execute(pool)
                .await
                .unwrap();
            }
            Raw::Postgres(pool) => {
                sqlx::raw_sql(
                    "CREATE TABLE test_writes (kind text PRIMARY KEY, n bigint NOT NULL);
                     INSERT INTO test_writes VALUES ('row_update', 0), ('insert_statement', 0);
                     CREATE FUNCTION test_count() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN
                         UPDATE test_writes SET n = n + 1 WHERE kind = TG_ARGV[0];
                         RETURN NULL;
                     END $$;
                     CREATE TRIGGER test_count_rows AFTER UPDATE ON alert_index
                         FOR EACH ROW EXECUTE FUNCTION test_count('row_update');
                     CREATE TRIGGER test_count_statements AFTER INSERT ON alert_index
                         FOR EACH STATEMENT EXECUTE FUNCTION test_count('insert_statement');",
                )
                .execute(pool)
                .await
                .unwrap();
            }
        }
    }

    /// Rows of `alert_index` updated since [`TestDb::count_index_writes`].
    pub async fn index_rows_updated(&self) -> i64 {
        self.counter("row_update").await.unwrap()
    }

    /// INSERT statements on `alert_index` since [`TestDb::count_index_writes`]; `None` on
    /// SQLite, which cannot count statements.
    pub async fn index_insert_statements(&self) -> Option<i64> {
        match self.backend {
            Backend::Sqlite => None,
            Backend::Postgres => self.counter("insert_statement").await,
        }
    }

    async fn counter(&self, kind: &str) -> Option<i64> {
        let sql = "SELECT n FROM test_writes WHERE kind = $1";
        match &self.raw {
            Raw::Sqlite(pool) => {
                sqlx::query_scalar(sql)
                    .bind(kind)
                    .fetch_optional(pool)
                    .await
            }
            Raw::Postgres(pool) => {
                sqlx::query_scalar(sql)
                    .bind(kind)
                    .fetch_optional(pool)
                    .await
            }
        }
        .unwrap()
    }

    /// Rows in `alert_index` of all tenants.
    pub async fn index_rows(&self) -> i64 {
        let sql = "SELECT count(*) FROM alert_index";
        match &self.raw {
            Raw::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Raw::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .unwrap()
    }
}

/// A tenant id no other case uses (PostgreSQL cases share one NOTIFY channel).
pub fn tenant() -> String {
    Uuid::new_v4().to_string()
}

/// A fixed instant to count from.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn at(seconds: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(seconds)
}

pub fn entry(unified: &str, provider: &str, id: &str) -> AlertIndexEntry {
    AlertIndexEntry {
        unified_id: unified.to_owned(),
        provider: provider.to_owned(),
        provider_alert_id: id.to_owned(),
        fingerprint: None,
        last_seen: t0(),
    }
}
