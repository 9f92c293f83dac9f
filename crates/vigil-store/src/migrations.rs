//! The schema migrations, embedded in the binary.
//!
//! `sqlx::migrate!` lives behind sqlx's `macros` feature, which would compile sqlx's
//! proc-macro stack (and every database driver a second time, for the host) just to embed
//! a few files. `include_str!` embeds them just as well: the binary ships alone and the
//! files in `/migrations` stay the single source. Versions and descriptions follow
//! sqlx-cli's file naming (`0001_alert_index.sql` is version 1, "alert index") and the
//! checksums are sqlx's, so `sqlx migrate run --source migrations/<engine>` and
//! `vigil migrate` agree on what is applied. A unit test checks that this list and the
//! folders match, so a migration file cannot be forgotten here.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// One embedded migration file.
pub(crate) struct Embedded {
    pub(crate) version: i64,
    pub(crate) description: &'static str,
    pub(crate) sql: &'static str,
}

pub(crate) const SQLITE: &[Embedded] = &[
    Embedded {
        version: 1,
        description: "alert index",
        sql: include_str!("../../../migrations/sqlite/0001_alert_index.sql"),
    },
    Embedded {
        version: 2,
        description: "history outbox",
        sql: include_str!("../../../migrations/sqlite/0002_history_outbox.sql"),
    },
];

pub(crate) const POSTGRES: &[Embedded] = &[
    Embedded {
        version: 1,
        description: "alert index",
        sql: include_str!("../../../migrations/postgres/0001_alert_index.sql"),
    },
    Embedded {
        version: 2,
        description: "history outbox",
        sql: include_str!("../../../migrations/postgres/0002_history_outbox.sql"),
    },
];

/// A migrator over one engine's embedded migrations.
pub(crate) fn migrator(set: &[Embedded]) -> Migrator {
    Migrator::with_migrations(
        set.iter()
            .map(|m| {
                Migration::new(
                    m.version,
                    Cow::Borrowed(m.description),
                    MigrationType::Simple,
                    m.sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Whether every embedded migration is recorded as applied with the same checksum, given
/// the `(version, checksum)` pairs of `_sqlx_migrations` rows that succeeded.
pub(crate) fn all_applied(migrator: &Migrator, applied: &[(i64, Vec<u8>)]) -> bool {
    migrator.iter().all(|m| {
        applied
            .iter()
            .any(|(version, checksum)| *version == m.version && **checksum == *m.checksum)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The embedded list is exactly the folder: same versions, descriptions and contents.
    fn check(folder: &str, set: &[Embedded]) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../migrations")
            .join(folder);
        let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .map(|p| {
                let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
                let (version, description) = stem.split_once('_').unwrap();
                (
                    version.parse().unwrap(),
                    description.replace('_', " "),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
        files.sort();
        let embedded: Vec<(i64, String, String)> = set
            .iter()
            .map(|m| (m.version, m.description.to_owned(), m.sql.to_owned()))
            .collect();
        assert_eq!(
            files, embedded,
            "migrations/{folder} and the embedded list differ"
        );
    }

    #[test]
    fn embedded_sqlite_migrations_match_the_folder() {
        check("sqlite", SQLITE);
    }

    #[test]
    fn embedded_postgres_migrations_match_the_folder() {
        check("postgres", POSTGRES);
    }

    #[test]
    fn both_engines_have_the_same_versions() {
        let versions = |set: &[Embedded]| {
            set.iter()
                .map(|m| (m.version, m.description))
                .collect::<Vec<_>>()
        };
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }
}
