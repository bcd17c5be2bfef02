//! The audit log: append-only records (who, what, on which target, details,
//! from where, when), each carrying a link over the previous link and its
//! canonical bytes, so altering, removing or reordering any record breaks
//! the chain from that record on.
//!
//! The link is HMAC-SHA256 under a key kept outside the database
//! ([`seal`]): whoever can write the database cannot recompute the chain
//! without it. Records written before the key existed keep their plain
//! SHA-256 link; the first keyed record (`audit.key_created`) says where
//! the plain part ends. The chain's head is also written outside the
//! database — the system log and an append-only anchor file ([`anchor`]) —
//! at every meeting end, so cutting the tail is found too ([`verify`]).
//!
//! Records are appended inside the transaction of the change they describe
//! (see [`super::Store::begin_write`]): a change and its record commit
//! together or not at all. Nothing here updates or deletes a record.

pub mod anchor;
pub mod seal;
mod verify;

pub use anchor::{Anchor, anchor_head, read_anchors};
pub use seal::{AuditKey, KeyError, SealError, seal};
pub use verify::{BrokenLink, BrokenReason, Verification, verify, verify_with};

use std::net::IpAddr;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::{SqlxResultExt, Store, StoreError, now_ms};

/// The hash the first record links to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did something, and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub id: String,
    pub name: String,
    /// The client's address; `None` for local tools (the command line).
    pub address: Option<IpAddr>,
}

impl Actor {
    /// The local command line, run by whoever has shell access to the server.
    pub fn command_line() -> Actor {
        Actor {
            id: "cli".into(),
            name: "command line".into(),
            address: None,
        }
    }
}

/// One stored record.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AuditRecord {
    pub seq: i64,
    pub at_ms: i64,
    pub actor_id: String,
    pub actor_name: String,
    /// Empty when the actor had no network address.
    pub address: String,
    pub action: String,
    pub target: String,
    /// JSON text exactly as written (and hashed).
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// The bytes the hash covers: every field, length-prefixed so no two
    /// different records encode the same (`"ab"+"c"` ≠ `"a"+"bc"`).
    fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.details.len());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.at_ms.to_be_bytes());
        for field in [
            &self.actor_id,
            &self.actor_name,
            &self.address,
            &self.action,
            &self.target,
            &self.details,
        ] {
            out.extend_from_slice(&(field.len() as u32).to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out
    }

    /// The plain link, SHA-256(previous hash ‖ canonical bytes), hex: what
    /// records written before the key existed carry — and all that someone
    /// without the key can compute.
    pub fn plain_link(&self, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        // The previous hash as stored text: a record whose prev_hash is not
        // valid hex still hashes deterministically (and then fails the link check).
        h.update(prev_hash.as_bytes());
        h.update(self.canonical_bytes());
        hex::encode(h.finalize())
    }

    /// The keyed link, HMAC-SHA256(key, previous hash ‖ canonical bytes), hex.
    fn keyed_link(&self, key: &AuditKey, prev_hash: &str) -> String {
        key.link(prev_hash, &self.canonical_bytes())
    }
}

/// Append one record inside the caller's write transaction; returns its
/// sequence number. The transaction must come from `Store::begin_write`,
/// which already holds the chain's tip.
pub async fn append(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    target: &str,
    details: &serde_json::Value,
) -> Result<i64, StoreError> {
    let head = sqlx::query("SELECT seq, hash, chain_id, keyed_from FROM audit_head WHERE id = 1")
        .fetch_one(&mut *conn)
        .await
        .ctx("reading the audit log tip")?;
    let prev_seq: i64 = head.try_get(0).ctx("reading the audit log tip")?;
    let prev_hash: String = head.try_get(1).ctx("reading the audit log tip")?;
    let chain_id: String = head.try_get(2).ctx("reading the audit log tip")?;
    let keyed_from: Option<i64> = head.try_get(3).ctx("reading the audit log tip")?;
    let mut record = AuditRecord {
        seq: prev_seq + 1,
        at_ms: now_ms(),
        actor_id: actor.id.clone(),
        actor_name: actor.name.clone(),
        address: actor.address.map(|a| a.to_string()).unwrap_or_default(),
        action: action.to_string(),
        target: target.to_string(),
        details: details.to_string(),
        prev_hash: prev_hash.clone(),
        hash: String::new(),
    };
    record.hash = match (seal::sealing(&chain_id), keyed_from) {
        (Some(sealing), _) => record.keyed_link(&sealing.key, &prev_hash),
        (None, None) => record.plain_link(&prev_hash),
        // A plain link after keyed ones is what `verify` reports as a chain
        // recomputed without the key: refuse rather than write one.
        (None, Some(from)) => {
            return Err(StoreError::Invalid {
                what: "audit log".into(),
                message: format!(
                    "it is sealed with a key from record {from} and this process has not loaded it; \
                     start with the same audit.key_file"
                ),
            });
        }
    };
    sqlx::query(
        "INSERT INTO audit_log (seq, at_ms, actor_id, actor_name, address, action, target, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(record.seq)
    .bind(record.at_ms)
    .bind(&record.actor_id)
    .bind(&record.actor_name)
    .bind(&record.address)
    .bind(&record.action)
    .bind(&record.target)
    .bind(&record.details)
    .bind(&record.prev_hash)
    .bind(&record.hash)
    .execute(&mut *conn)
    .await
    .ctx("writing an audit record")?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(record.seq)
        .bind(&record.hash)
        .execute(&mut *conn)
        .await
        .ctx("advancing the audit log tip")?;
    Ok(record.seq)
}

pub(crate) const SELECT_RECORD: &str = "SELECT seq, at_ms, actor_id, actor_name, address, action, target, details, prev_hash, hash FROM audit_log";

pub(crate) fn record_from_row(row: &sqlx::any::AnyRow) -> Result<AuditRecord, sqlx::Error> {
    Ok(AuditRecord {
        seq: row.try_get(0)?,
        at_ms: row.try_get(1)?,
        actor_id: row.try_get(2)?,
        actor_name: row.try_get(3)?,
        address: row.try_get(4)?,
        action: row.try_get(5)?,
        target: row.try_get(6)?,
        details: row.try_get(7)?,
        prev_hash: row.try_get(8)?,
        hash: row.try_get(9)?,
    })
}

/// Records with `seq > after`, oldest first, at most `limit`.
pub async fn list(store: &Store, after: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
    let rows = sqlx::query(&format!(
        "{SELECT_RECORD} WHERE seq > $1 ORDER BY seq LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(store.pool())
    .await
    .ctx("reading the audit log")?;
    rows.iter()
        .map(record_from_row)
        .collect::<Result<_, _>>()
        .ctx("reading the audit log")
}
