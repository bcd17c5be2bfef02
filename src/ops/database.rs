//! The database as the installer's tools see it: reached without applying
//! migrations or creating anything, its schema version, and PostgreSQL's
//! own dump tools (`pg_dump`, `pg_restore`) run with the password kept out
//! of their command line.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use sqlx::{AnyConnection, Connection, Executor, Row};

use super::OpsError;
use crate::config::Config;
use crate::store::{Backend, redact_url};

/// How long a check or a backup waits to reach the database: long enough
/// for a busy server across a LAN, short enough that `diemcau check` on a
/// dead address answers before the installer gives up on it.
const CONNECT_TIMEOUT_SECS: u64 = 10;

/// How long SQLite waits for the running server's writer (same reason as
/// the server's own busy timeout: writes take milliseconds).
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// The newest schema this binary knows (its last migration).
pub fn binary_schema_version() -> i64 {
    crate::store::migrate::MIGRATIONS
        .last()
        .map_or(0, |m| m.version)
}

/// Where the configured database is.
#[derive(Debug, Clone)]
pub struct Target {
    pub backend: Backend,
    /// The URL as configured (`database_url()`), with `mode=rwc` for SQLite.
    pub url: String,
    /// The SQLite file; `None` on PostgreSQL.
    pub sqlite_file: Option<PathBuf>,
}

impl Target {
    pub fn of(config: &Config) -> Result<Target, OpsError> {
        let url = config.database_url();
        let backend = Backend::of_url(&url).ok_or_else(|| {
            OpsError::Database(format!(
                "{:?} is neither sqlite:// nor postgres://",
                redact_url(&url)
            ))
        })?;
        let sqlite_file = (backend == Backend::Sqlite).then(|| sqlite_path(&url));
        Ok(Target {
            backend,
            url,
            sqlite_file,
        })
    }

    /// A connection that creates nothing: SQLite opened read-write without
    /// `create` (a missing file is an error, not a new empty database).
    pub async fn connect(&self) -> Result<AnyConnection, OpsError> {
        sqlx::any::install_default_drivers();
        let url = match &self.sqlite_file {
            Some(file) => format!("sqlite://{}?mode=rw", file.display()),
            None => self.url.clone(),
        };
        let connect = AnyConnection::connect(&url);
        let mut conn = tokio::time::timeout(Duration::from_secs(CONNECT_TIMEOUT_SECS), connect)
            .await
            .map_err(|_| {
                OpsError::Database(format!(
                    "{} did not answer within {CONNECT_TIMEOUT_SECS} s",
                    redact_url(&self.url)
                ))
            })?
            .map_err(|e| {
                OpsError::Database(format!("cannot connect to {}: {e}", redact_url(&self.url)))
            })?;
        if self.backend == Backend::Sqlite {
            conn.execute(format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}").as_str())
                .await
                .map_err(|e| OpsError::Database(format!("set the busy timeout: {e}")))?;
        }
        Ok(conn)
    }
}

/// The file of a `sqlite://path?…` or `sqlite:path` URL.
fn sqlite_path(url: &str) -> PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

/// How many tables of ours the database holds (0: a fresh database).
pub async fn table_count(conn: &mut AnyConnection, backend: Backend) -> Result<i64, OpsError> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        }
    };
    let row = sqlx::query(sql)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| OpsError::Database(format!("list the tables: {e}")))?;
    row.try_get::<i64, _>(0)
        .map_err(|e| OpsError::Database(format!("list the tables: {e}")))
}

/// The newest migration applied to the database; `None` when it has none
/// yet (a database the server has not started on).
pub async fn schema_version(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<Option<i64>, OpsError> {
    let probe = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
        }
    };
    let err = |e: sqlx::Error| OpsError::Database(format!("read the schema version: {e}"));
    let exists: i64 = sqlx::query(probe)
        .fetch_one(&mut *conn)
        .await
        .map_err(err)?
        .try_get(0)
        .map_err(err)?;
    if exists == 0 {
        return Ok(None);
    }
    sqlx::query("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await
        .map_err(err)?
        .try_get::<Option<i64>, _>(0)
        .map_err(err)
}

/// `pg_dump` or `pg_restore` aimed at `url`: the password goes in the
/// environment (`PGPASSWORD`), not on a command line every local user can
/// read in `ps`.
pub fn pg_tool(tool: &'static str, url: &str) -> Command {
    let (url, password) = split_password(url);
    let mut cmd = Command::new(tool);
    cmd.arg(format!("--dbname={url}"));
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    cmd
}

/// Run a PostgreSQL tool to the end; its error output names what failed.
pub fn run_tool(tool: &'static str, mut cmd: Command) -> Result<(), OpsError> {
    let out = cmd
        .output()
        .map_err(|source| OpsError::ToolMissing { tool, source })?;
    if out.status.success() {
        return Ok(());
    }
    Err(OpsError::Tool {
        tool,
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// `postgres://user:pass@host/db` → (`postgres://user@host/db`, `pass`),
/// the password percent-decoded as libpq would.
fn split_password(url: &str) -> (String, Option<String>) {
    let (Some(s), Some(at)) = (url.find("://"), url.rfind('@')) else {
        return (url.to_string(), None);
    };
    if at < s {
        return (url.to_string(), None);
    }
    let userinfo = &url[s + 3..at];
    match userinfo.split_once(':') {
        Some((user, pass)) => (
            format!("{}{user}{}", &url[..s + 3], &url[at..]),
            Some(percent_decode(pass)),
        ),
        None => (url.to_string(), None),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_decoded() {
        assert_eq!(
            split_password("postgres://diemcau:p%40ss@db:5432/x?sslmode=disable"),
            (
                "postgres://diemcau@db:5432/x?sslmode=disable".to_string(),
                Some("p@ss".to_string())
            )
        );
        assert_eq!(
            split_password("postgres://db/x"),
            ("postgres://db/x".to_string(), None)
        );
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/diemcau/diemcau.db?mode=rwc"),
            PathBuf::from("/var/lib/diemcau/diemcau.db")
        );
        assert_eq!(
            sqlite_path("sqlite://data/diemcau.db"),
            PathBuf::from("data/diemcau.db")
        );
    }
}
