//! The audit key: 32 random bytes kept outside the database (a file in the
//! data directory, or `audit.key_file`), with which every record's link is
//! an HMAC-SHA256. Without it a chain cannot be recomputed to hide a change.
//!
//! The key file is made at the first start with mode 0600. A key file that
//! group or others may read refuses the start rather than being fixed
//! quietly: whoever could read it could already have forged a chain, and
//! only the operator can judge whether to make a new key (and from when the
//! log is then trustworthy).
//!
//! Records append inside transactions that know only their connection, so
//! a process keeps the keys it loaded by the database's `chain_id` (a
//! random name in `audit_head`, set at the first seal): `append` finds the
//! key of the chain it writes to. Two stores in one process (two test
//! databases) each find their own.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, RwLock};

use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Actor, AuditRecord, SELECT_RECORD, record_from_row};
use crate::store::{SqlxResultExt, Store, StoreError, new_id};

pub use crate::config::AUDIT_KEY_FILE_NAME as KEY_FILE_NAME;

/// The action of the first keyed record: every record from it on must carry
/// a keyed link.
pub const KEY_CREATED_ACTION: &str = "audit.key_created";

/// 256 bits: HMAC-SHA256's block-size-independent full strength.
const KEY_BYTES: usize = 32;

/// The secret the links are made with. `Debug` never shows it.
pub struct AuditKey([u8; KEY_BYTES]);

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditKey({})", self.id())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or create the audit key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the audit key file {path} has mode {mode:o}: group or others may read it, and whoever did could forge the audit log; \
         make a new key if it may have leaked, else `chmod 600 {path}`"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("the audit key file {path} does not hold a key (64 hexadecimal digits on one line)")]
    Malformed { path: PathBuf },
}

impl AuditKey {
    /// A fresh random key.
    pub fn generate() -> AuditKey {
        let mut k = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut k);
        AuditKey(k)
    }

    /// A short public name for the key (recorded in `audit.key_created`, so
    /// an operator can tell which key file a log needs): not the key, and
    /// nothing about it can be learnt from this.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"diemcau audit key id\0");
        h.update(self.0);
        hex::encode(&h.finalize()[..8])
    }

    /// HMAC-SHA256(key, previous link ‖ record bytes), hex.
    pub(super) fn link(&self, prev: &str, record: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(prev.as_bytes());
        mac.update(record);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Read the key at `path`: `None` when there is no file (a log that
    /// was never sealed).
    pub fn load(path: &Path) -> Result<Option<AuditKey>, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::TooOpen {
                path: path.to_path_buf(),
                mode,
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        let malformed = || KeyError::Malformed {
            path: path.to_path_buf(),
        };
        let bytes = hex::decode(text.trim()).map_err(|_| malformed())?;
        let key: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| malformed())?;
        Ok(Some(AuditKey(key)))
    }

    /// Read the key at `path`, or make one there (mode 0600, never
    /// replacing a file that appeared meanwhile). `true` when it is new.
    pub fn load_or_create(path: &Path) -> Result<(AuditKey, bool), KeyError> {
        if let Some(k) = AuditKey::load(path)? {
            return Ok((k, false));
        }
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        // Written whole beside it, then linked into place: a process that
        // starts at the same moment sees no file or a complete one, never
        // a half-written key.
        let key = AuditKey::generate();
        let mut suffix = [0u8; 8];
        rand::rng().fill_bytes(&mut suffix);
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".{}.new", hex::encode(suffix)));
        let tmp = PathBuf::from(tmp);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(format!("{}\n", hex::encode(key.0)).as_bytes())?;
                f.sync_all()
            });
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok((key, true)),
            // Another process made it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let k = AuditKey::load(path)?.ok_or_else(|| KeyError::Malformed {
                    path: path.to_path_buf(),
                })?;
                Ok((k, false))
            }
            Err(e) => Err(io(e)),
        }
    }
}

/// What a process loaded for one chain: its key and where its anchors go.
pub(crate) struct Sealing {
    pub key: AuditKey,
    pub anchor_file: PathBuf,
}

static SEALINGS: LazyLock<RwLock<HashMap<String, Arc<Sealing>>>> = LazyLock::new(Default::default);

/// The key loaded for the chain named `chain_id`, if any.
pub(crate) fn sealing(chain_id: &str) -> Option<Arc<Sealing>> {
    if chain_id.is_empty() {
        return None;
    }
    SEALINGS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(chain_id)
        .cloned()
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the audit log in this database is sealed from record {record} with another key (key id {expected}); \
         this node loaded key id {loaded}: give every node sharing the database the same audit.key_file"
    )]
    OtherKey {
        record: i64,
        expected: String,
        loaded: String,
    },
}

/// What `seal` found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub chain_id: String,
    /// The first keyed record.
    pub keyed_from: i64,
    /// True when this call wrote `audit.key_created` (a log sealed now).
    pub newly: bool,
}

/// Load `key` for the store's chain: from now on this process links every
/// record it appends with it. The first time (an existing log, or a new
/// one) it appends `audit.key_created`, the first keyed record — the ones
/// before keep their plain links and are still verified as such — and
/// anchors it. A log already sealed with another key refuses (nodes that
/// share a database must share its key).
pub async fn seal(store: &Store, key: AuditKey, anchor_file: PathBuf) -> Result<Sealed, SealError> {
    const DOING: &str = "sealing the audit log";
    let mut tx = store.begin_write().await?;
    let head = sqlx::query("SELECT seq, chain_id, keyed_from FROM audit_head WHERE id = 1")
        .fetch_one(&mut *tx)
        .await
        .ctx(DOING)?;
    let tip: i64 = head.try_get(0).ctx(DOING)?;
    let mut chain_id: String = head.try_get(1).ctx(DOING)?;
    let keyed_from: Option<i64> = head.try_get(2).ctx(DOING)?;
    if chain_id.is_empty() {
        chain_id = new_id("chain_");
        sqlx::query("UPDATE audit_head SET chain_id = $1 WHERE id = 1")
            .bind(&chain_id)
            .execute(&mut *tx)
            .await
            .ctx(DOING)?;
    }
    if let Some(from) = keyed_from {
        check_same_key(&mut tx, &key, from).await?;
    }
    let loaded_id = key.id();
    SEALINGS
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(chain_id.clone(), Arc::new(Sealing { key, anchor_file }));
    let Some(from) = keyed_from else {
        let actor = Actor {
            id: "system".into(),
            name: "audit seal".into(),
            address: None,
        };
        let details = json!({ "plain_until": tip, "key_id": loaded_id });
        let seq = super::append(&mut tx, &actor, KEY_CREATED_ACTION, "audit_log", &details).await?;
        sqlx::query("UPDATE audit_head SET keyed_from = $1 WHERE id = 1")
            .bind(seq)
            .execute(&mut *tx)
            .await
            .ctx(DOING)?;
        tx.commit().await.ctx(DOING)?;
        tracing::info!(chain = %chain_id, record = seq, plain_until = tip, key_id = %loaded_id, "audit log sealed with its key from now on");
        super::anchor_head(store, KEY_CREATED_ACTION).await;
        return Ok(Sealed {
            chain_id,
            keyed_from: seq,
            newly: true,
        });
    };
    tx.commit().await.ctx(DOING)?;
    Ok(Sealed {
        chain_id,
        keyed_from: from,
        newly: false,
    })
}

/// The record that began the keyed part must link under `key`; a missing
/// one is left to `verify` to report (a start is not the place to judge
/// tampering, and refusing it would only stop the meetings).
async fn check_same_key(
    tx: &mut sqlx::AnyConnection,
    key: &AuditKey,
    from: i64,
) -> Result<(), SealError> {
    const DOING: &str = "checking the audit key";
    let row = sqlx::query(&format!("{SELECT_RECORD} WHERE seq = $1"))
        .bind(from)
        .fetch_optional(&mut *tx)
        .await
        .ctx(DOING)?;
    let Some(row) = row else {
        return Ok(());
    };
    let record: AuditRecord = record_from_row(&row).ctx(DOING)?;
    if record.keyed_link(key, &record.prev_hash) == record.hash {
        return Ok(());
    }
    let expected = serde_json::from_str::<serde_json::Value>(&record.details)
        .ok()
        .and_then(|d| d["key_id"].as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    Err(SealError::OtherKey {
        record: from,
        expected,
        loaded: key.id(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_file_is_private_and_reads_back_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        let (key, new) = AuditKey::load_or_create(&path).unwrap();
        assert!(new);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (again, new) = AuditKey::load_or_create(&path).unwrap();
        assert!(!new);
        assert_eq!(key.0, again.0);
        assert_eq!(key.link("p", b"r"), again.link("p", b"r"));
    }

    #[test]
    fn a_key_file_others_may_read_refuses_to_load_and_says_how_to_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        AuditKey::load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = AuditKey::load_or_create(&path).unwrap_err();
        assert!(
            matches!(err, KeyError::TooOpen { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn a_key_file_without_a_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        std::fs::write(&path, "not a key\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            AuditKey::load(&path),
            Err(KeyError::Malformed { .. })
        ));
    }

    #[test]
    fn the_link_is_hmac_sha256_over_the_previous_link_then_the_record() {
        let key = AuditKey([0x0b; KEY_BYTES]);
        let mut mac = Hmac::<Sha256>::new_from_slice(&[0x0b; KEY_BYTES]).unwrap();
        mac.update(b"Hi There");
        assert_eq!(
            key.link("Hi ", b"There"),
            hex::encode(mac.finalize().into_bytes())
        );
        assert_ne!(
            key.link("Hi ", b"There"),
            AuditKey::generate().link("Hi ", b"There")
        );
    }
}
