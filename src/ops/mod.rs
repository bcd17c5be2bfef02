//! Tools for the people who install and run a server, not for meetings:
//! `diemcau check` (is this machine ready to run the configured server?),
//! `diemcau backup` and `diemcau restore` (the database, documents,
//! recordings and the keys the server needs, with a manifest of hashes).
//!
//! None of it runs inside the server: each is a command that starts, does
//! its work against the config, database and data directory, and exits.
//! They never apply migrations (a check or a backup must change nothing;
//! a restored database is upgraded by the server's next start).

pub mod backup;
pub mod check;
mod database;
mod files;
pub mod manifest;
pub mod restore;

use std::path::PathBuf;

pub use database::binary_schema_version;

/// Why a backup or restore stopped. A `Refused` restore changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Database(String),
    #[error("{tool} failed ({status}): {stderr}")]
    Tool {
        tool: &'static str,
        status: String,
        stderr: String,
    },
    #[error(
        "{tool} is not installed or not on PATH ({source}); install the PostgreSQL client tools \
         (apt install postgresql-client), the same major version as the server or newer"
    )]
    ToolMissing {
        tool: &'static str,
        source: std::io::Error,
    },
    #[error("backup destination {path}: {message}")]
    Destination { path: PathBuf, message: String },
    /// Nothing was changed; each line is one reason.
    #[error("refusing to restore, nothing was changed:\n  - {}", .0.join("\n  - "))]
    Refused(Vec<String>),
}

impl OpsError {
    fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> OpsError {
        let path = path.into();
        move |source| OpsError::Io { what, path, source }
    }
}
