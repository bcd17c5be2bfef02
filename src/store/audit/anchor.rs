//! Anchors: the chain's head (sequence number and link) written outside the
//! database at every meeting end, the first seal and every start — as a
//! `tracing` event with the stable target [`ANCHOR_TARGET`] (under systemd
//! that line goes to the journal, and from there to syslog or a log
//! server), and as a JSON line appended to the anchor file
//! (`<data_dir>/audit-anchors.log`, or `audit.anchor_file`) that
//! `diemcau audit verify` reads offline. A chain cut below an anchor, or
//! recomputed since, no longer matches it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::store::{SqlxResultExt, Store, StoreError, now_ms};

pub use crate::config::AUDIT_ANCHOR_FILE_NAME as ANCHOR_FILE_NAME;

/// The `tracing` target of anchor lines: filter or route on it
/// (`RUST_LOG=…,diemcau::audit_anchor=info`).
pub const ANCHOR_TARGET: &str = "diemcau::audit_anchor";

/// One line of the anchor file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub at_ms: i64,
    /// The database's chain name (for people: which database it was).
    #[serde(default)]
    pub chain: String,
    pub seq: i64,
    pub link: String,
    /// Why it was taken: `meeting.end <id>`, `server.start`, `audit.key_created`.
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot append to the audit anchor file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the audit anchor file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "audit anchor file {path}, line {line}: not an anchor ({message}); it was edited by hand or damaged"
    )]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Write the chain's head outside the database. Never fails its caller (a
/// meeting that ends must end): a failure is logged as an error naming
/// the anchor file.
pub async fn anchor_head(store: &Store, reason: &str) {
    if let Err(e) = write_anchor(store, reason).await {
        tracing::error!(target: ANCHOR_TARGET, reason, error = %e, "audit chain head not anchored");
    }
}

/// [`anchor_head`] with its outcome: the anchor written, `None` for an
/// empty log.
pub async fn write_anchor(store: &Store, reason: &str) -> Result<Option<Anchor>, AnchorError> {
    const DOING: &str = "reading the audit chain head";
    // The last record itself, not `audit_head`: an anchor must name a link
    // the chain really has.
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(store.pool())
        .await
        .ctx(DOING)?;
    let Some(last) = last else {
        return Ok(None);
    };
    let chain: String = sqlx::query("SELECT chain_id FROM audit_head WHERE id = 1")
        .fetch_one(store.pool())
        .await
        .ctx(DOING)?
        .try_get(0)
        .ctx(DOING)?;
    let anchor = Anchor {
        at_ms: now_ms(),
        seq: last.try_get(0).ctx(DOING)?,
        link: last.try_get(1).ctx(DOING)?,
        chain,
        reason: reason.to_string(),
    };
    tracing::info!(
        target: ANCHOR_TARGET,
        chain = %anchor.chain,
        seq = anchor.seq,
        link = %anchor.link,
        reason,
        "audit chain head"
    );
    if let Some(sealing) = super::seal::sealing(&anchor.chain) {
        let path = sealing.anchor_file.clone();
        let line = anchor.clone();
        tokio::task::spawn_blocking(move || append_line(&path, &line))
            .await
            .map_err(|e| AnchorError::Write {
                path: sealing.anchor_file.clone(),
                source: std::io::Error::other(e),
            })??;
    }
    Ok(Some(anchor))
}

/// One JSON line, appended (O_APPEND: concurrent writers never interleave
/// within a line this short) and flushed to disk before returning.
fn append_line(path: &Path, anchor: &Anchor) -> Result<(), AnchorError> {
    let mut line = serde_json::to_string(anchor).expect("an anchor serialises");
    line.push('\n');
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| {
            f.write_all(line.as_bytes())?;
            f.sync_data()
        })
        .map_err(|source| AnchorError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// Every anchor in `path`, in file order; no file is no anchors. A line
/// that is not an anchor is an error, not skipped: a damaged anchor file
/// must be looked at.
pub fn read_anchors(path: &Path) -> Result<Vec<Anchor>, AnchorError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AnchorError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| AnchorError::Malformed {
                path: path.to_path_buf(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}
