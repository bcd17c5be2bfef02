//! Storage: one connection pool over SQLite (default, a file in the data
//! directory) or PostgreSQL (scale-out), the embedded migrations, dates and
//! ids as the schema stores them, and the hash-chained audit log.
//!
//! Owns connections, schema and the audit chain. Domain rules (what a valid
//! org tree or endpoint is) live in `control/`; this module must never
//! decide them. Queries use `$n` placeholders, which both backends accept
//! through sqlx's `Any` driver.

pub mod audit;
mod error;
pub mod migrate;

use std::time::Duration;

use rand::RngCore;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use audit::Actor;
pub use error::{SqlxResultExt, StoreError};

/// How long a SQLite writer waits for another to finish before failing.
/// Control-plane writes take milliseconds; 5 s absorbs a burst without
/// letting a stuck writer hang requests forever.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// How long to wait for a pooled connection (or to reach PostgreSQL) before
/// reporting the database unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

pub use crate::config::database::{Backend, redact_url};

/// The database. Cheap to clone (one shared pool).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connect to `url` (`sqlite://path?mode=rwc` or `postgres://…`) and apply
    /// any missing migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let backend = Backend::of_url(url).ok_or_else(|| StoreError::Invalid {
            what: "database url".into(),
            message: format!("{:?} is neither sqlite:// nor postgres://", redact_url(url)),
        })?;
        sqlx::any::install_default_drivers();
        let mut options = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer; foreign keys
                    // are off by default in SQLite and our schema relies on them;
                    // secure_delete zeroes freed content (old secret-ballot
                    // tallies must not stay readable in free pages).
                    conn.execute(
                        format!(
                            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                             PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA synchronous = NORMAL; \
                             PRAGMA secure_delete = ON;"
                        )
                        .as_str(),
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(url)
            .await
            .ctx("connecting to the database")?;
        migrate::apply(&pool, backend).await?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for modules that own their own tables (and tests).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Start a transaction that will change state. It first takes the audit
    /// chain's tip row, which serialises writers on both backends: on SQLite
    /// the transaction holds the write lock from its first statement (no
    /// read-then-upgrade deadlock), on PostgreSQL the row lock makes every
    /// later read in the transaction see the previous writer's commit, so
    /// rules checked in Rust hold at commit time.
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        let mut tx = self.pool.begin().await.ctx("starting a transaction")?;
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
            .execute(&mut *tx)
            .await
            .ctx("locking the audit log")?;
        Ok(tx)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch: how instants are stored.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// A fresh random id, `prefix` + 26 base32 characters (128 bits): unguessable
/// and collision-free without a database sequence, so the same insert works
/// on both backends.
pub fn new_id(prefix: &str) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let mut n = u128::from_be_bytes(bytes);
    let mut out = String::with_capacity(prefix.len() + 26);
    out.push_str(prefix);
    for _ in 0..26 {
        out.push(ALPHABET[(n & 31) as usize] as char);
        n >>= 5;
    }
    out
}

/// Dates are stored as `YYYY-MM-DD` text: portable, and text order is date order.
pub mod date {
    use time::Date;
    use time::macros::format_description;

    const FORMAT: &[time::format_description::FormatItem<'static>] =
        format_description!("[year]-[month]-[day]");

    pub fn to_text(d: Date) -> String {
        d.format(FORMAT)
            .expect("a date always formats as YYYY-MM-DD")
    }

    /// Parse `YYYY-MM-DD`; the error says what was expected.
    pub fn parse(s: &str) -> Result<Date, String> {
        Date::parse(s.trim(), FORMAT)
            .map_err(|_| format!("{s:?} is not a date; write it as YYYY-MM-DD"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_distinct() {
        let a = new_id("ou_");
        assert!(a.starts_with("ou_") && a.len() == 29, "{a}");
        assert_ne!(a, new_id("ou_"));
    }

    #[test]
    fn redacted_url_hides_the_password_only() {
        assert_eq!(
            redact_url("postgres://diemcau:secret@db:5432/x"),
            "postgres://diemcau:***@db:5432/x"
        );
        assert_eq!(
            redact_url("sqlite://data/diemcau.db"),
            "sqlite://data/diemcau.db"
        );
    }

    #[test]
    fn dates_round_trip_and_bad_dates_say_the_format() {
        let d = date::parse("2025-07-01").unwrap();
        assert_eq!(date::to_text(d), "2025-07-01");
        assert!(date::parse("1/7/2025").unwrap_err().contains("YYYY-MM-DD"));
    }
}
