//! Embedded schema migrations and the small runner that applies them.
//!
//! Our own runner rather than `sqlx::migrate!`: that macro needs sqlx's
//! `macros` feature (compile-time query machinery we keep out), and
//! `Migrator::new` reads files at run time, which a single shipped binary
//! must not depend on. The runner is a version table and a loop.

use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

use super::Backend;
use super::error::{SqlxResultExt, StoreError};

/// One schema step, written once in SQL both backends accept.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. Append only: an applied migration whose text
/// changed is refused at open (its checksum no longer matches).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "control_plane",
        sql: include_str!("migrations/0001_control_plane.sql"),
    },
    Migration {
        version: 2,
        name: "people",
        sql: include_str!("migrations/0002_people.sql"),
    },
    Migration {
        version: 3,
        name: "meetings",
        sql: include_str!("migrations/0003_meetings.sql"),
    },
    Migration {
        version: 4,
        name: "agenda",
        sql: include_str!("migrations/0004_agenda.sql"),
    },
    Migration {
        version: 5,
        name: "documents",
        sql: include_str!("migrations/0005_documents.sql"),
    },
    Migration {
        version: 6,
        name: "voting",
        sql: include_str!("migrations/0006_voting.sql"),
    },
    Migration {
        version: 7,
        name: "minutes",
        sql: include_str!("migrations/0007_minutes.sql"),
    },
    Migration {
        version: 8,
        name: "document_reads",
        sql: include_str!("migrations/0008_document_reads.sql"),
    },
    Migration {
        version: 9,
        name: "recordings",
        sql: include_str!("migrations/0009_recordings.sql"),
    },
    Migration {
        version: 10,
        name: "cascade",
        sql: include_str!("migrations/0010_cascade.sql"),
    },
    Migration {
        version: 11,
        name: "cascade_parent",
        sql: include_str!("migrations/0011_cascade_parent.sql"),
    },
    Migration {
        version: 12,
        name: "membership",
        sql: include_str!("migrations/0012_membership.sql"),
    },
    Migration {
        version: 13,
        name: "audit_seal",
        sql: include_str!("migrations/0013_audit_seal.sql"),
    },
    Migration {
        version: 14,
        name: "sealed_ballots",
        sql: include_str!("migrations/0014_sealed_ballots.sql"),
    },
    Migration {
        version: 15,
        name: "document_signatures",
        sql: include_str!("migrations/0015_document_signatures.sql"),
    },
    Migration {
        version: 16,
        name: "technical_checks",
        sql: include_str!("migrations/0016_technical_checks.sql"),
    },
    Migration {
        version: 17,
        name: "meeting_quality",
        sql: include_str!("migrations/0017_meeting_quality.sql"),
    },
    Migration {
        version: 18,
        name: "mute_on_entry",
        sql: include_str!("migrations/0018_mute_on_entry.sql"),
    },
    Migration {
        version: 19,
        name: "minutes_signatures",
        sql: include_str!("migrations/0019_minutes_signatures.sql"),
    },
    Migration {
        version: 20,
        name: "results_pdfs",
        sql: include_str!("migrations/0020_results_pdfs.sql"),
    },
    Migration {
        version: 21,
        name: "sip",
        sql: include_str!("migrations/0021_sip.sql"),
    },
    Migration {
        version: 23,
        name: "quality_media",
        sql: include_str!("migrations/0023_quality_media.sql"),
    },
];

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// Any constant both nodes agree on: the key of the PostgreSQL advisory lock
/// that stops two nodes starting at once from migrating side by side.
const PG_MIGRATION_LOCK_KEY: i64 = 0x0064_6965_6d63_6175; // "diemcau" in ASCII

/// Apply what is missing, all in one transaction together with the
/// `schema_migrations` rows (both backends have transactional DDL, so a
/// failed step leaves no half-made schema). Returns how many ran.
pub async fn apply(pool: &AnyPool, backend: Backend) -> Result<usize, StoreError> {
    let mut tx = pool.begin().await.ctx("starting the schema migration")?;
    if backend == Backend::Postgres {
        // Held until commit; the second node then finds everything applied.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PG_MIGRATION_LOCK_KEY)
            .execute(&mut *tx)
            .await
            .ctx("locking the schema for migration")?;
    }
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    BIGINT PRIMARY KEY,
            name       TEXT NOT NULL,
            checksum   TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .execute(&mut *tx)
    .await
    .ctx("creating the migrations table")?;
    let mut ran = 0;
    for m in MIGRATIONS {
        let row = sqlx::query("SELECT checksum FROM schema_migrations WHERE version = $1")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await
            .ctx("reading applied migrations")?;
        if let Some(row) = row {
            let applied: String = row.try_get(0).ctx("reading applied migrations")?;
            if applied != checksum(m.sql) {
                return Err(StoreError::Schema(format!(
                    "migration {} ({}) was applied with different text; a shipped migration must never change",
                    m.version, m.name
                )));
            }
            continue;
        }
        sqlx::raw_sql(m.sql)
            .execute(&mut *tx)
            .await
            .ctx("applying a schema migration")?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(checksum(m.sql))
        .bind(super::now_ms())
        .execute(&mut *tx)
        .await
        .ctx("recording a schema migration")?;
        ran += 1;
    }
    tx.commit().await.ctx("committing the schema migration")?;
    Ok(ran)
}

/// Versions recorded as applied, ascending.
pub async fn applied(pool: &AnyPool) -> Result<Vec<i64>, StoreError> {
    let rows = sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(pool)
        .await
        .ctx("reading applied migrations")?;
    rows.iter()
        .map(|r| r.try_get(0).ctx("reading applied migrations"))
        .collect()
}
