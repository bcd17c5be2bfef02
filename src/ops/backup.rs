//! `diemcau backup <folder>`: an online backup of a running (or stopped)
//! server into a new folder —
//!
//! - `keys/`: the audit key and the anchor file (`[audit]`, wherever they
//!   are kept), copied first: every anchor then names a record the
//!   database dump holds, so `audit verify` passes on the restored copy;
//! - `database/`: SQLite's `VACUUM INTO` (a consistent snapshot beside the
//!   server's writers) or `pg_dump --format=custom`;
//! - `data/`: the rest of the data directory — documents and recordings
//!   of the local object store, the generated TLS CA and certificate,
//!   uploaded CRLs, the spool of recordings waiting for S3, the trust
//!   fingerprint — after the dump, so every document the dump names is
//!   there. With an S3 store the bucket is not copied: the manifest says
//!   it is backed up by its own means;
//! - `manifest.json`, written last: the size and SHA-256 of every file.

use std::path::{Path, PathBuf};

use super::database::{Target, pg_tool, run_tool, schema_version};
use super::files::{
    Progress, complete_lines_len, copy_hashed, create_private_dirs, mode_of, total_size, walk,
};
use super::manifest::{
    AUDIT_ANCHORS, AUDIT_KEY, DATA_PREFIX, FORMAT_VERSION, FileEntry, MANIFEST_FILE, Manifest,
    ObjectsRecord, PG_DUMP, SQLITE_DUMP, slash_path,
};
use super::{OpsError, restore};
use crate::config::Config;
use crate::objects::ObjectsKind;
use crate::store::Backend;

/// A finished backup.
#[derive(Debug)]
pub struct Backup {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// Files of the data directory not copied (symbolic links, sockets).
    pub skipped: Vec<PathBuf>,
}

impl Backup {
    pub fn bytes(&self) -> u64 {
        self.manifest.files.iter().map(|f| f.size).sum()
    }
}

/// Back up what `config` names into `dest`: a new or empty folder, or an
/// existing folder that gets a new `diemcau-<UTC time>` folder inside.
pub async fn backup(config: &Config, dest: &Path) -> Result<Backup, OpsError> {
    let target = Target::of(config)?;
    let mut conn = target.connect().await?;
    let schema = schema_version(&mut conn, target.backend)
        .await?
        .ok_or_else(|| {
            OpsError::Database(
                "the database has no schema yet: start the server once before a backup".into(),
            )
        })?;
    let now = time::OffsetDateTime::now_utc();
    let dir = destination(dest, now)?;
    let mut files = Vec::new();

    // Keys first (see the module comment: anchors before the dump).
    let key = config.audit_key_path();
    if key.is_file() {
        files.push(copy_in(&key, &dir, AUDIT_KEY, None)?);
    }
    let anchors = config.audit_anchor_path();
    if anchors.is_file() {
        let complete = complete_lines_len(&anchors)?;
        files.push(copy_in(&anchors, &dir, AUDIT_ANCHORS, Some(complete))?);
    }

    create_private_dirs(&dir.join("database"))?;
    match target.backend {
        Backend::Sqlite => {
            let out = dir.join(SQLITE_DUMP);
            eprintln!("  cơ sở dữ liệu / database: VACUUM INTO {}", out.display());
            let sql = format!(
                "VACUUM INTO '{}'",
                out.display().to_string().replace('\'', "''")
            );
            sqlx::query(&sql)
                .execute(&mut conn)
                .await
                .map_err(|e| OpsError::Database(format!("VACUUM INTO {}: {e}", out.display())))?;
            files.push(entry_of(&dir, SQLITE_DUMP)?);
        }
        Backend::Postgres => {
            let out = dir.join(PG_DUMP);
            eprintln!("  cơ sở dữ liệu / database: pg_dump → {}", out.display());
            let mut cmd = pg_tool("pg_dump", &target.url);
            cmd.args(["--format=custom", "--no-owner", "--no-privileges"])
                .arg(format!("--file={}", out.display()));
            run_tool("pg_dump", cmd)?;
            files.push(entry_of(&dir, PG_DUMP)?);
        }
    }
    drop(conn);

    let skipped = copy_data_dir(config, &target, &dir, &mut files)?;
    let manifest = Manifest {
        format: FORMAT_VERSION,
        diemcau_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        schema_version: schema,
        backend: backend_name(target.backend).to_string(),
        objects: objects_record(config),
        files,
    };
    manifest.write(&dir)?;
    Ok(Backup {
        dir,
        manifest,
        skipped,
    })
}

pub fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

fn objects_record(config: &Config) -> ObjectsRecord {
    match config.objects.kind {
        ObjectsKind::Local => ObjectsRecord {
            kind: "local".into(),
            bucket: None,
            prefix: None,
            note: None,
        },
        ObjectsKind::S3 => ObjectsRecord {
            kind: "s3".into(),
            bucket: config.objects.bucket.clone(),
            prefix: Some(config.objects.prefix.clone()),
            note: Some(
                "documents and recordings are in the S3 bucket, not in this backup: \
                 the bucket is backed up by its own means (its versioning or replication)"
                    .into(),
            ),
        },
    }
}

/// The folder to write into: `dest` when it is new or empty, else a new
/// `diemcau-YYYYMMDD-HHMMSS` inside it.
fn destination(dest: &Path, now: time::OffsetDateTime) -> Result<PathBuf, OpsError> {
    let bad = |message: String| OpsError::Destination {
        path: dest.to_path_buf(),
        message,
    };
    let dir = match std::fs::read_dir(dest).map(|mut d| d.next().is_none()) {
        Ok(true) => dest.to_path_buf(),
        Ok(false) => {
            let stamp = format!(
                "diemcau-{:04}{:02}{:02}-{:02}{:02}{:02}",
                now.year(),
                u8::from(now.month()),
                now.day(),
                now.hour(),
                now.minute(),
                now.second()
            );
            let inside = dest.join(stamp);
            if inside.exists() {
                return Err(bad(format!(
                    "{} exists already; wait a second and run the backup again",
                    inside.display()
                )));
            }
            inside
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => dest.to_path_buf(),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(bad("is a file; name a folder".into()));
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    create_private_dirs(&dir)?;
    Ok(dir)
}

/// Copy one file to `name` inside the backup, read-only for the owner.
fn copy_in(from: &Path, dir: &Path, name: &str, limit: Option<u64>) -> Result<FileEntry, OpsError> {
    let mode = mode_of(from)?;
    let mut progress = Progress::new(name, limit.unwrap_or(0));
    let (size, sha256) = copy_hashed(from, &dir.join(name), 0o600, limit, &mut progress)?;
    progress.finish();
    Ok(FileEntry {
        path: name.to_string(),
        size,
        sha256,
        mode,
    })
}

/// An entry for a file already written into the backup (the dump).
fn entry_of(dir: &Path, name: &str) -> Result<FileEntry, OpsError> {
    let path = dir.join(name);
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(OpsError::io("protect", &path))?;
    let mut progress = Progress::new(name, 0);
    let (size, sha256) = super::files::hash_file(&path, &mut progress)?;
    Ok(FileEntry {
        path: name.to_string(),
        size,
        sha256,
        mode: 0o600,
    })
}

/// Everything in the data directory but the database, the keys (already
/// in `keys/`), a restore's staging folder and the backup itself.
fn copy_data_dir(
    config: &Config,
    target: &Target,
    dir: &Path,
    files: &mut Vec<FileEntry>,
) -> Result<Vec<PathBuf>, OpsError> {
    let data = &config.data_dir;
    if !data.is_dir() {
        return Ok(Vec::new());
    }
    let (all, skipped) = walk(data)?;
    let mut excluded: Vec<PathBuf> = vec![config.audit_key_path(), config.audit_anchor_path()];
    if let Some(db) = &target.sqlite_file {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            excluded.push(PathBuf::from(name));
        }
    }
    let abs_dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let wanted: Vec<PathBuf> = all
        .into_iter()
        .filter(|rel| {
            let full = data.join(rel);
            let first = rel
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy());
            !excluded.iter().any(|e| same_file(e, &full))
                && !first.is_some_and(|f| f.starts_with(restore::STAGING_PREFIX))
                && !std::fs::canonicalize(&full).is_ok_and(|f| f.starts_with(&abs_dir))
                // object_store's local writer stages an upload as `name#n`
                // and renames it when whole: a half-written upload.
                && !rel.to_string_lossy().contains('#')
                // Earlier backups kept in the data directory (the service's
                // user may write only there): not backed up again.
                && !in_a_backup(data, rel)
        })
        .collect();
    let mut progress = Progress::new("tệp / files", total_size(data, &wanted));
    for rel in &wanted {
        let from = data.join(rel);
        let name = format!("{DATA_PREFIX}{}", slash_path(rel));
        let mode = mode_of(&from)?;
        let (size, sha256) = copy_hashed(&from, &dir.join(&name), 0o600, None, &mut progress)?;
        files.push(FileEntry {
            path: name,
            size,
            sha256,
            mode,
        });
    }
    progress.finish();
    Ok(skipped)
}

/// Whether a folder above `rel` (inside `data`) is a backup: it holds a
/// manifest.
fn in_a_backup(data: &Path, rel: &Path) -> bool {
    rel.ancestors()
        .skip(1)
        .filter(|a| !a.as_os_str().is_empty())
        .any(|a| data.join(a).join(MANIFEST_FILE).is_file())
}

/// Whether two paths name the same file (by canonical path when both
/// exist, else as written).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
