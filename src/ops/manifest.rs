//! A backup's `manifest.json`: which diemcau and schema made it, which
//! database, where documents and recordings were kept, and the size and
//! SHA-256 of every file in it. A restore believes nothing the manifest
//! does not vouch for: a file missing, changed, added or named outside the
//! backup refuses it.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::OpsError;
use super::files::{Progress, hash_file, total_size, walk};

/// The manifest's own name, at the top of a backup folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The layout of a backup this binary writes; a later layout is refused.
pub const FORMAT_VERSION: u32 = 1;

/// The database dump: `database/diemcau.db` (SQLite) or
/// `database/diemcau.pgdump` (`pg_dump --format=custom`).
pub const SQLITE_DUMP: &str = "database/diemcau.db";
pub const PG_DUMP: &str = "database/diemcau.pgdump";
/// The audit key and anchor file, wherever the config keeps them.
pub const AUDIT_KEY: &str = "keys/audit.key";
pub const AUDIT_ANCHORS: &str = "keys/audit-anchors.log";
/// Everything else of the data directory, under the same relative paths.
pub const DATA_PREFIX: &str = "data/";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// The diemcau version that made it.
    pub diemcau_version: String,
    /// UTC, RFC 3339.
    pub created_at: String,
    /// The newest migration applied to the database when it was dumped.
    pub schema_version: i64,
    /// `sqlite` or `postgres`.
    pub backend: String,
    pub objects: ObjectsRecord,
    pub files: Vec<FileEntry>,
}

/// Where documents and recordings were kept when the backup was made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ObjectsRecord {
    /// `local` (in this backup, under `data/documents` and
    /// `data/recordings`) or `s3`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// With `s3`: the bucket is not in this backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative to the backup folder, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// Permission bits to restore (0600 for keys).
    pub mode: u32,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Manifest, String> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a diemcau manifest: {e}", path.display()))
    }

    /// Written last, through a temporary name: a backup folder with a
    /// manifest is a finished backup.
    pub fn write(&self, dir: &Path) -> Result<(), OpsError> {
        let path = dir.join(MANIFEST_FILE);
        let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
        let text = serde_json::to_string_pretty(self).map_err(|e| OpsError::Io {
            what: "write",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        std::fs::write(&tmp, text + "\n").map_err(OpsError::io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(OpsError::io("write", &path))
    }

    pub fn entry(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == path)
    }

    /// Every way the folder `dir` differs from this manifest, each named:
    /// empty when every listed file is there with its size and hash and
    /// nothing else is.
    pub fn mismatches(&self, dir: &Path) -> Result<Vec<String>, OpsError> {
        let mut problems = Vec::new();
        let mut listed = BTreeSet::new();
        for f in &self.files {
            if safe_relative(&f.path).is_none() {
                problems.push(format!(
                    "the manifest names {:?}, a path outside the backup",
                    f.path
                ));
            } else if !listed.insert(f.path.as_str()) {
                problems.push(format!("the manifest lists {:?} twice", f.path));
            }
        }
        let (present, special) = walk(dir)?;
        for s in special {
            problems.push(format!(
                "{} is not a regular file (not in the manifest)",
                s.display()
            ));
        }
        let present: Vec<PathBuf> = present
            .into_iter()
            .filter(|p| p != Path::new(MANIFEST_FILE))
            .collect();
        for p in &present {
            let name = slash_path(p);
            if !listed.contains(name.as_str()) {
                problems.push(format!("{name} is in the backup but not in the manifest"));
            }
        }
        let mut progress = Progress::new("kiểm tra / verifying", total_size(dir, &present));
        for f in &self.files {
            let Some(rel) = safe_relative(&f.path) else {
                continue;
            };
            let path = dir.join(&rel);
            if !path.is_file() {
                problems.push(format!("{} is missing", f.path));
                continue;
            }
            let (size, sha) = hash_file(&path, &mut progress)?;
            if size != f.size {
                problems.push(format!(
                    "{} has {size} bytes, the manifest says {}",
                    f.path, f.size
                ));
            } else if sha != f.sha256 {
                problems.push(format!(
                    "{} does not match its SHA-256 in the manifest",
                    f.path
                ));
            }
        }
        progress.finish();
        Ok(problems)
    }
}

/// `a/b/c` from a relative path.
pub fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// A manifest path as a relative path that stays inside the backup (and
/// inside the data directory it is restored to): only plain names.
pub fn safe_relative(path: &str) -> Option<PathBuf> {
    if path.is_empty() || path.contains('\\') || path.contains('\0') {
        return None;
    }
    let p = Path::new(path);
    p.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_must_stay_inside_the_backup() {
        assert!(safe_relative("data/documents/m/d").is_some());
        for bad in ["", "/etc/passwd", "../x", "data/../../x", "./data", "a\\b"] {
            assert!(safe_relative(bad).is_none(), "{bad}");
        }
    }
}
