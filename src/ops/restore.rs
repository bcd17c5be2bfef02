//! `diemcau restore <backup>`: a backup put back onto a fresh data
//! directory (and, on PostgreSQL, an empty database).
//!
//! Everything that can refuse is checked before anything is written: the
//! manifest against every file (size and SHA-256; a file missing, added or
//! changed refuses), its schema against this binary's (a newer one
//! refuses), the kind of database, and the destination (a non-empty data
//! directory or database refuses unless `--force`). Then the files are
//! copied into a staging folder inside the data directory — hashed again
//! on the way —, PostgreSQL is restored in one transaction, and only then
//! are the staged entries renamed into place. A failure before that point
//! removes the staging folder: the data directory is as it was.

use std::path::{Path, PathBuf};

use super::database::{Target, binary_schema_version, pg_tool, run_tool, table_count};
use super::files::{Progress, copy_hashed, create_private_dirs, total_size};
use super::manifest::{
    AUDIT_ANCHORS, AUDIT_KEY, DATA_PREFIX, FORMAT_VERSION, Manifest, PG_DUMP, SQLITE_DUMP,
    safe_relative,
};
use super::{OpsError, backup::backend_name};
use crate::config::Config;
use crate::store::{Backend, redact_url};

/// The staging folder's name inside the data directory (`.restore-<pid>`);
/// a backup leaves such folders out.
pub const STAGING_PREFIX: &str = ".restore-";

/// A finished restore.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    /// Files written, database included.
    pub files: usize,
}

/// Restore the backup folder `from` onto what `config` names. `force`
/// replaces what a non-empty destination holds.
pub async fn restore(config: &Config, from: &Path, force: bool) -> Result<Restored, OpsError> {
    let manifest = Manifest::read(from).map_err(|e| OpsError::Refused(vec![e]))?;
    let target = Target::of(config)?;
    let mut problems = backup_problems(&manifest, &target);
    problems.extend(manifest.mismatches(from)?);
    if !problems.is_empty() {
        return Err(OpsError::Refused(problems));
    }
    if !force {
        let problems = destination_problems(config, &target).await;
        if !problems.is_empty() {
            return Err(OpsError::Refused(problems));
        }
    }
    let data = config.data_dir.clone();
    let data_existed = data.exists();
    create_private_dirs(&data)?;
    let staging = data.join(format!("{STAGING_PREFIX}{}", std::process::id()));
    let mut outside = Vec::new();
    let staged = stage(config, &target, &manifest, from, &staging, &mut outside);
    let staged = match staged {
        Ok(n) => n,
        Err(e) => {
            undo(&data, data_existed, &staging, &outside);
            return Err(e);
        }
    };
    if target.backend == Backend::Postgres {
        eprintln!("  cơ sở dữ liệu / database: pg_restore");
        let mut cmd = pg_tool("pg_restore", &target.url);
        cmd.args([
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
        ]);
        if force {
            cmd.args(["--clean", "--if-exists"]);
        }
        cmd.arg(from.join(PG_DUMP));
        if let Err(e) = run_tool("pg_restore", cmd) {
            undo(&data, data_existed, &staging, &outside);
            return Err(e);
        }
    }
    commit(&data, &target, &staging, &outside)?;
    give_to_data_dir_owner(&data, &outside);
    Ok(Restored {
        manifest,
        files: staged + usize::from(target.backend == Backend::Postgres),
    })
}

/// What makes this backup unusable here, whatever the destination.
fn backup_problems(m: &Manifest, target: &Target) -> Vec<String> {
    let mut p = Vec::new();
    if m.format > FORMAT_VERSION {
        p.push(format!(
            "the backup's layout {} is newer than this diemcau's ({FORMAT_VERSION}); restore it with diemcau {} or newer",
            m.format, m.diemcau_version
        ));
    }
    let known = binary_schema_version();
    if m.schema_version > known {
        p.push(format!(
            "the backup's database schema {} is newer than this diemcau's ({known}); \
             restore it with diemcau {} or newer",
            m.schema_version, m.diemcau_version
        ));
    }
    let here = backend_name(target.backend);
    if m.backend != here {
        p.push(format!(
            "the backup holds a {} database but database.url names a {here} one; \
             restore onto the same kind of database",
            m.backend
        ));
    }
    let dump = match target.backend {
        Backend::Sqlite => SQLITE_DUMP,
        Backend::Postgres => PG_DUMP,
    };
    if m.backend == here && m.entry(dump).is_none() {
        p.push(format!("the manifest lists no database dump {dump}"));
    }
    for f in &m.files {
        let known = [AUDIT_KEY, AUDIT_ANCHORS, SQLITE_DUMP, PG_DUMP].contains(&f.path.as_str())
            || f.path.starts_with(DATA_PREFIX);
        if !known {
            p.push(format!(
                "the manifest names {:?}, which has no place in a diemcau installation",
                f.path
            ));
        }
    }
    p
}

/// What a restore without `--force` would overwrite.
async fn destination_problems(config: &Config, target: &Target) -> Vec<String> {
    let mut p = Vec::new();
    let data = &config.data_dir;
    if std::fs::read_dir(data).is_ok_and(|mut d| d.next().is_some()) {
        p.push(format!(
            "the data directory {} is not empty; restore onto a fresh one (or --force to replace what the backup holds)",
            data.display()
        ));
    }
    let mut outside: Vec<PathBuf> = vec![config.audit_key_path(), config.audit_anchor_path()];
    outside.extend(target.sqlite_file.clone());
    for f in outside
        .iter()
        .filter(|f| !f.starts_with(data) && f.exists())
    {
        p.push(format!(
            "{} exists already (or --force to replace it)",
            f.display()
        ));
    }
    if target.backend == Backend::Postgres {
        let tables = match target.connect().await {
            Ok(mut conn) => table_count(&mut conn, target.backend).await,
            Err(e) => Err(e),
        };
        match tables {
            Ok(0) => {}
            Ok(n) => p.push(format!(
                "the database {} already has {n} tables; restore into an empty database (or --force to replace them)",
                redact_url(&target.url)
            )),
            Err(e) => p.push(e.to_string()),
        }
    }
    p
}

/// Where a manifest entry goes, or `None` for the PostgreSQL dump (read by
/// `pg_restore` from the backup itself).
fn final_path(config: &Config, target: &Target, name: &str) -> Option<PathBuf> {
    match name {
        AUDIT_KEY => Some(config.audit_key_path()),
        AUDIT_ANCHORS => Some(config.audit_anchor_path()),
        SQLITE_DUMP => target.sqlite_file.clone(),
        PG_DUMP => None,
        _ => name
            .strip_prefix(DATA_PREFIX)
            .and_then(safe_relative)
            .map(|rel| config.data_dir.join(rel)),
    }
}

/// Copy every file to its staging place: inside the data directory under
/// `staging`, elsewhere beside its destination as `<name>.restore-tmp`
/// (listed in `outside` as (temporary, final)). Each copy's hash must be
/// the manifest's.
fn stage(
    config: &Config,
    target: &Target,
    manifest: &Manifest,
    from: &Path,
    staging: &Path,
    outside: &mut Vec<(PathBuf, PathBuf)>,
) -> Result<usize, OpsError> {
    create_private_dirs(staging)?;
    let names: Vec<PathBuf> = manifest
        .files
        .iter()
        .map(|f| PathBuf::from(&f.path))
        .collect();
    let mut progress = Progress::new("khôi phục / restoring", total_size(from, &names));
    let mut n = 0;
    for f in &manifest.files {
        let Some(dest) = final_path(config, target, &f.path) else {
            continue;
        };
        if target.backend == Backend::Postgres && f.path == SQLITE_DUMP {
            continue;
        }
        let tmp = match dest.strip_prefix(&config.data_dir) {
            Ok(rel) => staging.join(rel),
            Err(_) => {
                let mut name = dest.as_os_str().to_owned();
                name.push(".restore-tmp");
                let tmp = PathBuf::from(name);
                outside.push((tmp.clone(), dest.clone()));
                tmp
            }
        };
        let src = from.join(safe_relative(&f.path).unwrap_or_default());
        let (_, sha) = copy_hashed(&src, &tmp, f.mode, None, &mut progress)?;
        if sha != f.sha256 {
            return Err(OpsError::Refused(vec![format!(
                "{} changed while it was being restored",
                f.path
            )]));
        }
        n += 1;
    }
    progress.finish();
    Ok(n)
}

/// Put the staged entries in place, replacing what is there (only
/// `--force` gets here with anything there).
fn commit(
    data: &Path,
    target: &Target,
    staging: &Path,
    outside: &[(PathBuf, PathBuf)],
) -> Result<(), OpsError> {
    // A stale write-ahead log beside a restored SQLite file would be
    // replayed into it at the next open.
    if let Some(db) = &target.sqlite_file {
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
    let entries = std::fs::read_dir(staging).map_err(OpsError::io("read", staging))?;
    for entry in entries {
        let entry = entry.map_err(OpsError::io("read", staging))?;
        let dest = data.join(entry.file_name());
        if dest.is_dir() && !dest.is_symlink() {
            std::fs::remove_dir_all(&dest).map_err(OpsError::io("replace", &dest))?;
        }
        std::fs::rename(entry.path(), &dest).map_err(OpsError::io("move into place", &dest))?;
    }
    std::fs::remove_dir(staging).map_err(OpsError::io("remove", staging))?;
    for (tmp, dest) in outside {
        std::fs::rename(tmp, dest).map_err(OpsError::io("move into place", dest))?;
    }
    Ok(())
}

/// Remove what a failed restore made, leaving the destination as it was.
fn undo(data: &Path, data_existed: bool, staging: &Path, outside: &[(PathBuf, PathBuf)]) {
    let _ = std::fs::remove_dir_all(staging);
    for (tmp, _) in outside {
        let _ = std::fs::remove_file(tmp);
    }
    if !data_existed {
        let _ = std::fs::remove_dir(data);
    }
}

/// Run as root (the usual `sudo diemcau restore`), the restored files
/// would be root's and the service's own user could not read them: they
/// go to the owner of the data directory (the package makes it `diemcau`).
fn give_to_data_dir_owner(data: &Path, outside: &[(PathBuf, PathBuf)]) {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let Ok(meta) = std::fs::metadata(data) else {
        return;
    };
    let (uid, gid) = (meta.uid(), meta.gid());
    if uid == 0 {
        return;
    }
    let mut paths: Vec<PathBuf> = outside.iter().map(|(_, d)| d.clone()).collect();
    if let Ok((files, _)) = super::files::walk(data) {
        for f in files {
            let mut p = data.to_path_buf();
            for c in f.components() {
                p.push(c);
                paths.push(p.clone());
            }
        }
    }
    paths.sort();
    paths.dedup();
    for p in paths {
        if let Err(e) = std::os::unix::fs::lchown(&p, Some(uid), Some(gid)) {
            eprintln!("  cannot give {} to uid {uid}: {e}", p.display());
        }
    }
}
