//! The one error type of the store.
//!
//! Unique violations are reported by constraint *name*, never by matching message text, so
//! a caller can turn "this request id was already recorded" into an HTTP answer without
//! knowing which engine is underneath. PostgreSQL reports the violated constraint's name;
//! SQLite does not (its message lists columns), so on SQLite each statement that can hit a
//! unique key says which one it is: a statement there can hit at most one of ours.

use std::fmt;

/// A named unique constraint of our schema (see `/migrations`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// `alert_history_request_key`: one history entry per (tenant, request id).
    HistoryRequest,
    /// `outbox_target_key`: one outbox row per (change, provider).
    OutboxTarget,
    /// `alert_index_pkey`: one index row per (tenant, provider, provider alert id).
    AlertIndexKey,
    /// A constraint this version does not know by name.
    Other(String),
}

impl Constraint {
    /// The constraint's name in the schema.
    pub fn name(&self) -> &str {
        match self {
            Constraint::HistoryRequest => "alert_history_request_key",
            Constraint::OutboxTarget => "outbox_target_key",
            Constraint::AlertIndexKey => "alert_index_pkey",
            Constraint::Other(name) => name,
        }
    }

    /// The constraint of that name.
    pub fn from_name(name: &str) -> Constraint {
        match name {
            "alert_history_request_key" => Constraint::HistoryRequest,
            "outbox_target_key" => Constraint::OutboxTarget,
            "alert_index_pkey" => Constraint::AlertIndexKey,
            other => Constraint::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no engine we support.
    #[error("unsupported database URL {0:?}: expected sqlite://…, sqlite::memory: or postgres://…")]
    UnsupportedUrl(String),

    /// A write hit a unique constraint.
    #[error("unique constraint {constraint} violated")]
    UniqueViolation { constraint: Constraint },

    /// An id given without its provider is the own id of alerts at several providers.
    #[error("id {id:?} is a provider id of several alerts ({} candidates)", .unified_ids.len())]
    AmbiguousId {
        id: String,
        unified_ids: Vec<String>,
    },

    /// The unified alert is not in this tenant's index.
    #[error("unknown alert {unified_id:?}")]
    UnknownAlert { unified_id: String },

    /// A write-back target is not a source of the alert it is meant to change.
    #[error("{provider}/{provider_alert_id} is not a source of alert {unified_id:?}")]
    NotASource {
        unified_id: String,
        provider: String,
        provider_alert_id: String,
    },

    /// A conditional change found the alert's history moved on (another change was recorded
    /// since the caller's precondition was computed).
    #[error("alert {unified_id:?} has {actual} recorded changes, not the {expected} expected")]
    ChangedMeanwhile {
        unified_id: String,
        expected: usize,
        actual: usize,
    },

    /// Stored data could not be read back (e.g. an unknown outbox state).
    #[error("invalid stored data: {0}")]
    Corrupt(String),

    /// Applying or checking migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// JSON (history entries, outbox payloads) could not be (de)serialized.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// The SQLite file's directory could not be created.
    #[error("creating the database directory: {0}")]
    Io(#[from] std::io::Error),

    /// Any other database error.
    #[error("database: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    /// Maps unique violations that carry a constraint name (PostgreSQL) to
    /// [`StoreError::UniqueViolation`]; everything else stays a database error.
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && db.is_unique_violation()
            && let Some(name) = db.constraint()
        {
            return StoreError::UniqueViolation {
                constraint: Constraint::from_name(name),
            };
        }
        StoreError::Database(err)
    }
}

impl StoreError {
    /// For SQLite, which reports no constraint names: a unique violation from a statement
    /// that can only violate `constraint` is reported as that constraint.
    pub(crate) fn unique_as(constraint: Constraint) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::UniqueViolation { constraint }
            }
            _ => StoreError::from(err),
        }
    }

    /// Whether this is a violation of `constraint`.
    pub fn is_unique_violation_of(&self, constraint: &Constraint) -> bool {
        matches!(self, StoreError::UniqueViolation { constraint: c } if c == constraint)
    }
}
