//! Walking the chain: every link (keyed where the key must seal it, plain
//! only before the key existed), the recorded tip, and every anchor taken
//! outside the database. The first record at which any of them fails is
//! reported.

use std::collections::HashMap;
use std::fmt;

use futures_util::TryStreamExt;
use sqlx::Row;

use super::seal::{AuditKey, KEY_CREATED_ACTION};
use super::{Anchor, GENESIS_HASH, SELECT_RECORD, record_from_row};
use crate::store::{SqlxResultExt, Store, StoreError};

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Intact {
        records: u64,
    },
    Broken(BrokenLink),
    /// The log is sealed from this record, and no key was given: its links
    /// cannot be checked (give the key file; `audit.key_file`).
    KeyNeeded {
        keyed_from: i64,
    },
}

/// The first record at which the chain no longer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The sequence number (id) of the record that fails.
    pub record: i64,
    pub reason: BrokenReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokenReason {
    /// The record's fields no longer hash to its stored hash.
    Altered,
    /// Its `prev_hash` is not the previous record's hash.
    LinkMismatch,
    /// Sequence numbers jump: records before this one were removed.
    Missing { expected: i64 },
    /// The chain ends before (or differs from) the recorded tip: trailing
    /// records were removed or the last one replaced.
    Truncated { tip_seq: i64 },
    /// A plain SHA-256 link where the key must seal the record (after the
    /// key existed, or at or after an anchor): the chain was recomputed
    /// without the key.
    Unkeyed,
    /// The record exists but its link is not the one anchored outside the
    /// database: the chain was rewritten since the anchor was taken.
    AnchorMismatch { anchor_at_ms: i64 },
    /// The log ends before an anchored record: the tail was cut (and the
    /// tip row rewritten to hide it). `record` is the first one missing.
    BelowAnchor { anchor_seq: i64 },
}

impl fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.record;
        match &self.reason {
            BrokenReason::Altered => write!(
                f,
                "audit record {r}: its contents do not match its hash (altered after it was written)"
            ),
            BrokenReason::LinkMismatch => write!(
                f,
                "audit record {r}: its previous-hash is not the hash of the record before it"
            ),
            BrokenReason::Missing { expected } => write!(
                f,
                "audit record {r}: expected record {expected} before it; records were removed"
            ),
            BrokenReason::Truncated { tip_seq } => write!(
                f,
                "audit record {r}: the log ends here but its tip says record {tip_seq}; records were removed or replaced"
            ),
            BrokenReason::Unkeyed => write!(
                f,
                "audit record {r}: linked with plain SHA-256 where the audit key must seal it; the chain was recomputed without the key"
            ),
            BrokenReason::AnchorMismatch { anchor_at_ms } => write!(
                f,
                "audit record {r}: its link differs from the anchor taken at {anchor_at_ms} ms; the chain was rewritten since"
            ),
            BrokenReason::BelowAnchor { anchor_seq } => write!(
                f,
                "audit record {r}: missing, but an anchor names record {anchor_seq}; the log was cut below an anchor"
            ),
        }
    }
}

/// Walk the chain with the key and anchors this process loaded for the
/// store (by [`super::seal`]); a store never sealed is walked plain.
pub async fn verify(store: &Store) -> Result<Verification, StoreError> {
    let chain: String = sqlx::query("SELECT chain_id FROM audit_head WHERE id = 1")
        .fetch_one(store.pool())
        .await
        .ctx("reading the audit log tip")?
        .try_get(0)
        .ctx("reading the audit log tip")?;
    match super::seal::sealing(&chain) {
        Some(s) => {
            let anchors = super::read_anchors(&s.anchor_file).map_err(|e| StoreError::Invalid {
                what: "audit anchors".into(),
                message: e.to_string(),
            })?;
            verify_with(store, Some(&s.key), &anchors).await
        }
        None => verify_with(store, None, &[]).await,
    }
}

/// Walk the whole chain in order and report the first record at which a
/// link, the tip or an anchor fails. Without `key` a sealed log is
/// [`Verification::KeyNeeded`]; anchors are checked either way.
pub async fn verify_with(
    store: &Store,
    key: Option<&AuditKey>,
    anchors: &[Anchor],
) -> Result<Verification, StoreError> {
    let keyed_from: Option<i64> = sqlx::query("SELECT keyed_from FROM audit_head WHERE id = 1")
        .fetch_one(store.pool())
        .await
        .ctx("reading the audit log tip")?
        .try_get(0)
        .ctx("reading the audit log tip")?;
    if let (None, Some(keyed_from)) = (key, keyed_from) {
        return Ok(Verification::KeyNeeded { keyed_from });
    }
    // Anchors are taken only once a key exists: from the first one on,
    // plain links are forgeries even if `keyed_from` was erased.
    let first_anchor = anchors.iter().map(|a| a.seq).min();
    let must_be_keyed_from = [keyed_from, first_anchor].into_iter().flatten().min();
    let mut by_seq: HashMap<i64, &Anchor> = HashMap::new();
    for a in anchors {
        by_seq.entry(a.seq).or_insert(a);
    }

    let sql = format!("{SELECT_RECORD} ORDER BY seq");
    let mut rows = sqlx::query(&sql).fetch(store.pool());
    let mut prev_seq = 0i64;
    let mut prev_hash = GENESIS_HASH.to_string();
    let mut keyed = false;
    let mut count = 0u64;
    while let Some(row) = rows.try_next().await.ctx("reading the audit log")? {
        let record = record_from_row(&row).ctx("reading the audit log")?;
        let broken = |reason| {
            Ok(Verification::Broken(BrokenLink {
                record: record.seq,
                reason,
            }))
        };
        if record.seq != prev_seq + 1 {
            return broken(BrokenReason::Missing {
                expected: prev_seq + 1,
            });
        }
        if record.prev_hash != prev_hash {
            return broken(BrokenReason::LinkMismatch);
        }
        if key.is_some_and(|k| record.keyed_link(k, &record.prev_hash) == record.hash) {
            keyed = true;
        } else if record.plain_link(&record.prev_hash) == record.hash {
            let must_be_keyed = key.is_some()
                && (keyed
                    || record.action == KEY_CREATED_ACTION
                    || must_be_keyed_from.is_some_and(|from| record.seq >= from));
            if must_be_keyed {
                return broken(BrokenReason::Unkeyed);
            }
        } else {
            return broken(BrokenReason::Altered);
        }
        if let Some(a) = by_seq.get(&record.seq)
            && a.link != record.hash
        {
            return broken(BrokenReason::AnchorMismatch {
                anchor_at_ms: a.at_ms,
            });
        }
        prev_seq = record.seq;
        prev_hash = record.hash;
        count += 1;
    }
    drop(rows);
    // Evidence from outside the database first: a cut tail whose tip row
    // was rewritten to match passes the tip check below.
    if let Some(a) = anchors
        .iter()
        .filter(|a| a.seq > prev_seq)
        .min_by_key(|a| a.seq)
    {
        return Ok(Verification::Broken(BrokenLink {
            record: prev_seq + 1,
            reason: BrokenReason::BelowAnchor { anchor_seq: a.seq },
        }));
    }
    let tip = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(store.pool())
        .await
        .ctx("reading the audit log tip")?;
    let tip_seq: i64 = tip.try_get(0).ctx("reading the audit log tip")?;
    let tip_hash: String = tip.try_get(1).ctx("reading the audit log tip")?;
    if tip_seq != prev_seq || tip_hash != prev_hash {
        return Ok(Verification::Broken(BrokenLink {
            record: prev_seq,
            reason: BrokenReason::Truncated { tip_seq },
        }));
    }
    Ok(Verification::Intact { records: count })
}
