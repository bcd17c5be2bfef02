//! The trust material of this server: anchors from `[signatures] trust`,
//! CRLs from `[signatures] crl_dir` and those an admin uploaded (kept in
//! `<data_dir>/crls`). Swapped whole on every change, so a check in flight
//! keeps the set it started with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::config::SignaturesConfig;
use crate::sign::trust::{
    AnchorInfo, Crl, CrlInfo, Trust, TrustError, anchor_info, parse_certificates, parse_crl,
};

/// Largest CRL file read or accepted: national CAs' lists run to a few MiB.
pub const MAX_CRL_BYTES: usize = 32 * 1024 * 1024;

/// Why trust material could not be loaded or changed.
#[derive(Debug, thiserror::Error)]
pub enum TrustStoreError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Bad { path: PathBuf, source: TrustError },
    #[error(transparent)]
    Refused(#[from] TrustError),
    #[error("the CRL is larger than {} MiB", MAX_CRL_BYTES / (1024 * 1024))]
    TooLarge,
    #[error("no uploaded CRL {0}")]
    Unknown(String),
}

/// Where a CRL came from: uploads can be removed through the API, the
/// configured folder only by whoever manages it.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CrlSource {
    Uploaded,
    Folder,
}

/// A CRL as listed: its facts, where it came from, whether it is stale.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CrlView {
    #[serde(flatten)]
    pub info: CrlInfo,
    pub source: CrlSource,
    /// Past its next update: it no longer proves a certificate unrevoked.
    pub stale: bool,
}

/// The trust material as the API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TrustView {
    pub anchors: Vec<AnchorInfo>,
    pub crls: Vec<CrlView>,
}

/// This server's anchors and CRLs.
#[derive(Clone)]
pub struct TrustStore {
    current: Arc<RwLock<Arc<Trust>>>,
    sources: Arc<RwLock<Vec<CrlSource>>>,
    anchor_paths: Vec<PathBuf>,
    crl_folder: Option<PathBuf>,
    uploads: PathBuf,
}

fn read(path: &Path) -> Result<Vec<u8>, TrustStoreError> {
    std::fs::read(path).map_err(|source| TrustStoreError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The files of `path`: itself, or a folder's files with one of `exts`.
fn files(path: &Path, exts: &[&str]) -> Result<Vec<PathBuf>, TrustStoreError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|source| TrustStoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    out.sort();
    Ok(out)
}

impl TrustStore {
    /// No anchors and no CRLs: every signature is `untrusted`.
    pub fn empty() -> TrustStore {
        TrustStore {
            current: Default::default(),
            sources: Default::default(),
            anchor_paths: Vec::new(),
            crl_folder: None,
            uploads: PathBuf::new(),
        }
    }

    /// Load from `config` (a bad anchor file refuses the start, naming it),
    /// plus `extra_anchors` (the demo CA under `diemcau demo`).
    pub fn load(
        config: &SignaturesConfig,
        data_dir: &Path,
        extra_anchors: &[PathBuf],
    ) -> Result<TrustStore, TrustStoreError> {
        let store = TrustStore {
            current: Default::default(),
            sources: Default::default(),
            anchor_paths: config.trust.iter().chain(extra_anchors).cloned().collect(),
            crl_folder: config.crl_dir.clone(),
            uploads: data_dir.join("crls"),
        };
        store.reload()?;
        Ok(store)
    }

    /// Read everything again (after a change of files by hand or upload).
    pub fn reload(&self) -> Result<(), TrustStoreError> {
        let mut trust = Trust::default();
        for p in &self.anchor_paths {
            for f in files(p, &["pem", "crt", "cer", "der"])? {
                let certs =
                    parse_certificates(&read(&f)?).map_err(|source| TrustStoreError::Bad {
                        path: f.clone(),
                        source,
                    })?;
                trust.anchors.extend(certs);
            }
        }
        let mut sources = Vec::new();
        let folders = [
            (self.crl_folder.clone(), CrlSource::Folder),
            (Some(self.uploads.clone()), CrlSource::Uploaded),
        ];
        for (folder, source) in folders {
            let Some(folder) = folder.filter(|f| f.is_dir()) else {
                continue;
            };
            for f in files(&folder, &["crl", "pem", "der"])? {
                // One unreadable list in a shared folder must not take the
                // others with it: skipped and logged.
                match read(&f).map(|b| parse_crl(&b)) {
                    Ok(Ok(crl)) if !trust.crls.iter().any(|c| c.sha256 == crl.sha256) => {
                        trust.crls.push(crl);
                        sources.push(source);
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(file = %f.display(), error = %e, "skipped a CRL"),
                    Err(e) => tracing::warn!(error = %e, "skipped a CRL"),
                }
            }
        }
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(trust);
        *self.sources.write().unwrap_or_else(|p| p.into_inner()) = sources;
        Ok(())
    }

    /// The set checks run against now.
    pub fn current(&self) -> Arc<Trust> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Keep an uploaded CRL: it must parse and be signed by an anchor.
    pub fn add_crl(&self, bytes: &[u8]) -> Result<(CrlInfo, bool), TrustStoreError> {
        if bytes.len() > MAX_CRL_BYTES {
            return Err(TrustStoreError::TooLarge);
        }
        let crl: Crl = parse_crl(bytes)?;
        let trust = self.current();
        trust.verify_crl_issuer(&crl, &[])?;
        let known = trust.crls.iter().any(|c| c.sha256 == crl.sha256);
        std::fs::create_dir_all(&self.uploads).map_err(|source| TrustStoreError::Io {
            path: self.uploads.clone(),
            source,
        })?;
        let path = self.uploads.join(format!("{}.crl", crl.sha256));
        let der = der::Encode::to_der(&crl.list).map_err(|e| TrustError::Crl(e.to_string()))?;
        std::fs::write(&path, der).map_err(|source| TrustStoreError::Io { path, source })?;
        self.reload()?;
        Ok((CrlInfo::from(&crl), !known))
    }

    /// Forget an uploaded CRL by its SHA-256.
    pub fn remove_crl(&self, sha256: &str) -> Result<CrlInfo, TrustStoreError> {
        let valid = sha256.len() == 64 && sha256.bytes().all(|c| c.is_ascii_hexdigit());
        let path = self
            .uploads
            .join(format!("{}.crl", sha256.to_ascii_lowercase()));
        if !valid || !path.is_file() {
            return Err(TrustStoreError::Unknown(sha256.to_string()));
        }
        let crl = parse_crl(&read(&path)?)?;
        std::fs::remove_file(&path).map_err(|source| TrustStoreError::Io { path, source })?;
        self.reload()?;
        Ok(CrlInfo::from(&crl))
    }

    /// Anchors and CRLs as shown, judged stale at `now_ms`.
    pub fn view(&self, now_ms: i64) -> TrustView {
        let trust = self.current();
        let sources = self
            .sources
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        TrustView {
            anchors: trust.anchors.iter().map(anchor_info).collect(),
            crls: trust
                .crls
                .iter()
                .zip(sources)
                .map(|(c, source)| CrlView {
                    info: CrlInfo::from(c),
                    source,
                    stale: c.next_update_ms.is_none_or(|n| n < now_ms),
                })
                .collect(),
        }
    }
}
