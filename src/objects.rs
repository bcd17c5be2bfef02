//! Where documents and recordings are kept: `[objects]` in the config.
//!
//! `kind = "local"` (the default) keeps them in `<data_dir>/documents` and
//! `<data_dir>/recordings`, exactly where earlier versions put them, so
//! existing data stays readable. `kind = "s3"` keeps them in a bucket of an
//! S3-compatible service (path-style requests), under `<prefix>documents/`
//! and `<prefix>recordings/`.
//!
//! Recordings with S3: the recorder thread must never wait on the network,
//! so it writes into a local spool (`<data_dir>/spool/recordings/<meeting>/
//! <rec>/`) as it always did; when a recording ends the archiver uploads
//! every file (streamed, `index.json` last), checks the sizes the bucket
//! reports, and only then deletes the spool directory. A failed upload is
//! retried with backoff for as long as it takes; a spool left behind by a
//! crash is uploaded again at the next start. Readers look in the spool
//! first (running, or not yet uploaded), then in the bucket.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload,
    RetryConfig, WriteMultipart,
};
use tokio::io::AsyncReadExt;

use crate::recorder::Index;

pub use crate::config::objects::{ObjectsConfig, ObjectsKind};

/// The stores the server uses, built from `[objects]`.
#[derive(Clone)]
pub struct Objects {
    /// Meeting documents (keys as `control::documents` makes them).
    pub documents: Arc<dyn ObjectStore>,
    pub recordings: RecordingFiles,
}

impl Objects {
    /// Build the stores; with S3, check at once that the bucket answers, so
    /// a wrong endpoint or key fails the start, not the first upload.
    pub async fn open(config: &ObjectsConfig, data_dir: &Path) -> Result<Objects, String> {
        match config.kind {
            ObjectsKind::Local => {
                let docs = data_dir.join("documents");
                std::fs::create_dir_all(&docs)
                    .map_err(|e| format!("creating {}: {e}", docs.display()))?;
                let local = LocalFileSystem::new_with_prefix(&docs)
                    .map_err(|e| format!("{}: {e}", docs.display()))?
                    .with_automatic_cleanup(true);
                let root = data_dir.join("recordings");
                std::fs::create_dir_all(&root)
                    .map_err(|e| format!("creating {}: {e}", root.display()))?;
                Ok(Objects {
                    documents: Arc::new(local),
                    recordings: RecordingFiles::new(root, None),
                })
            }
            ObjectsKind::S3 => {
                let s3 = s3_store(config)?;
                let prefix = config.dir_prefix();
                let bucket = config.bucket.clone().unwrap_or_default();
                let endpoint = config.endpoint.clone().unwrap_or_default();
                let probe_at = (!prefix.is_empty()).then(|| ObjectPath::from(prefix.as_str()));
                let probe = tokio::time::timeout(
                    Duration::from_secs(20),
                    s3.list_with_delimiter(probe_at.as_ref()),
                )
                .await;
                match probe {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        return Err(format!(
                            "S3 bucket {bucket:?} at {endpoint} ([objects]) is not usable: {e}"
                        ));
                    }
                    Err(_) => {
                        return Err(format!(
                            "S3 bucket {bucket:?} at {endpoint} ([objects]) did not answer within 20 s"
                        ));
                    }
                }
                let root = data_dir.join("spool").join("recordings");
                std::fs::create_dir_all(&root)
                    .map_err(|e| format!("creating {}: {e}", root.display()))?;
                let docs = PrefixStore::new(s3.clone(), format!("{prefix}documents").as_str());
                let recs = PrefixStore::new(s3, format!("{prefix}recordings").as_str());
                Ok(Objects {
                    documents: Arc::new(docs),
                    recordings: RecordingFiles::new(root, Some(Arc::new(recs))),
                })
            }
        }
    }
}

fn s3_store(config: &ObjectsConfig) -> Result<object_store::aws::AmazonS3, String> {
    let endpoint = config.endpoint.clone().unwrap_or_default();
    let secret = config.secret().map_err(|e| e.to_string())?;
    // Few quick retries inside one request: the archiver has its own,
    // longer backoff, and a reader should get an answer, not a hang.
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(15),
    };
    // The total timeout covers a whole response body: a download of a long
    // program file must fit in it, a dead connection must not hang forever.
    let client = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(600))
        .with_allow_http(endpoint.starts_with("http://"));
    AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_bucket_name(config.bucket.clone().unwrap_or_default())
        .with_region(&config.region)
        .with_access_key_id(config.access_key_id.clone().unwrap_or_default())
        .with_secret_access_key(secret)
        .with_virtual_hosted_style_request(false)
        .with_allow_http(endpoint.starts_with("http://"))
        .with_retry(retry)
        .with_client_options(client)
        .build()
        .map_err(|e| format!("config key `objects`: {e}"))
}

/// What /metrics says about recording uploads.
#[derive(Debug, Clone, Copy, Default)]
pub struct UploadStats {
    /// Finished recordings waiting for, or in, their upload.
    pub pending: u64,
    pub uploaded: u64,
    /// Upload attempts that failed (each is retried).
    pub failures: u64,
}

struct Shared {
    /// Where the recorder writes: the store's own directory (local) or the
    /// spool (S3).
    root: PathBuf,
    remote: Option<Arc<dyn ObjectStore>>,
    queue: tokio::sync::mpsc::UnboundedSender<String>,
    rx: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<String>>>,
    /// Recording directories queued or uploading (each is queued once).
    queued: Mutex<HashSet<String>>,
    uploaded: AtomicU64,
    failures: AtomicU64,
}

/// Recording files: where the recorder writes them, where readers find
/// them, and (with S3) the archiver that moves finished ones to the bucket.
#[derive(Clone)]
pub struct RecordingFiles(Arc<Shared>);

/// A file opened for reading, in the spool or in the bucket.
pub enum Opened {
    Local(tokio::fs::File, u64),
    Remote(ObjectPath, u64),
}

impl Opened {
    pub fn len(&self) -> u64 {
        match self {
            Opened::Local(_, n) | Opened::Remote(_, n) => *n,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

const CHUNK: usize = 8 * 1024 * 1024;

impl RecordingFiles {
    fn new(root: PathBuf, remote: Option<Arc<dyn ObjectStore>>) -> Self {
        let (queue, rx) = tokio::sync::mpsc::unbounded_channel();
        RecordingFiles(Arc::new(Shared {
            root,
            remote,
            queue,
            rx: Mutex::new(Some(rx)),
            queued: Mutex::new(HashSet::new()),
            uploaded: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }))
    }

    /// The directory the recorder writes `<meeting>/<rec>` into (and the
    /// free-disk check measures).
    pub fn root(&self) -> &Path {
        &self.0.root
    }

    pub fn local_dir(&self, rel: &str) -> PathBuf {
        self.0.root.join(rel)
    }

    pub fn is_remote(&self) -> bool {
        self.0.remote.is_some()
    }

    pub fn stats(&self) -> UploadStats {
        UploadStats {
            pending: self.0.queued.lock().map(|q| q.len() as u64).unwrap_or(0),
            uploaded: self.0.uploaded.load(Ordering::Relaxed),
            failures: self.0.failures.load(Ordering::Relaxed),
        }
    }

    /// The recording in `rel` has ended (stopped, failed or interrupted):
    /// with S3, upload it. Nothing to do with the local store.
    pub fn finished(&self, rel: &str) {
        if self.0.remote.is_none() {
            return;
        }
        let new = self
            .0
            .queued
            .lock()
            .map(|mut q| q.insert(rel.to_string()))
            .unwrap_or(false);
        if new {
            let _ = self.0.queue.send(rel.to_string());
        }
    }

    /// Recording directories in the spool now. Called at start before any
    /// recording begins: each belongs to a previous run and has ended.
    pub fn leftovers(&self) -> Vec<String> {
        if self.0.remote.is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for m in std::fs::read_dir(&self.0.root)
            .into_iter()
            .flatten()
            .flatten()
        {
            if !m.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let meeting = m.file_name().to_string_lossy().into_owned();
            for r in std::fs::read_dir(m.path()).into_iter().flatten().flatten() {
                if r.file_type().is_ok_and(|t| t.is_dir()) {
                    out.push(format!("{meeting}/{}", r.file_name().to_string_lossy()));
                }
            }
        }
        out.sort();
        out
    }

    /// Start the archiver (S3 only; once).
    pub fn start_archiver(&self) -> Option<tokio::task::JoinHandle<()>> {
        let remote = self.0.remote.clone()?;
        let mut rx = self.0.rx.lock().ok()?.take()?;
        let me = self.clone();
        Some(tokio::spawn(async move {
            while let Some(rel) = rx.recv().await {
                me.archive(&remote, &rel).await;
                if let Ok(mut q) = me.0.queued.lock() {
                    q.remove(&rel);
                }
            }
        }))
    }

    /// Upload `rel` until it lands: backoff from 1 s doubling to 60 s.
    async fn archive(&self, remote: &Arc<dyn ObjectStore>, rel: &str) {
        let mut wait = Duration::from_secs(1);
        loop {
            match upload_dir(remote, &self.0.root, rel).await {
                Ok(files) => {
                    self.0.uploaded.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        recording = rel,
                        files,
                        "recording uploaded to the object store"
                    );
                    let dir = self.local_dir(rel);
                    if let Err(e) = tokio::fs::remove_dir_all(&dir).await
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        tracing::warn!(recording = rel, error = %e, "uploaded, but the spool directory was not deleted");
                    }
                    // The meeting's directory goes when its last recording has.
                    if let Some(parent) = dir.parent() {
                        let _ = tokio::fs::remove_dir(parent).await;
                    }
                    return;
                }
                Err(e) => {
                    self.0.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(recording = rel, error = %e, retry_in_s = wait.as_secs(), "recording upload failed; the spool keeps it");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(60));
                }
            }
        }
    }

    /// The recording's `index.json`: from the spool while it is there, else
    /// from the bucket.
    pub async fn read_index(&self, rel: &str) -> Option<Index> {
        match tokio::fs::read(self.local_dir(rel).join("index.json")).await {
            Ok(b) => return serde_json::from_slice(&b).ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => return None,
        }
        let remote = self.0.remote.as_ref()?;
        let got = remote.get(&object(rel, "index.json")).await.ok()?;
        serde_json::from_slice(&got.bytes().await.ok()?).ok()
    }

    /// Open `name` of `rel`: the spool first (the upload deletes it only
    /// once the bucket holds every file, and an open file stays readable
    /// after that), then the bucket. `Ok(None)`: no such file.
    pub async fn open(&self, rel: &str, name: &str) -> Result<Option<Opened>, String> {
        let path = self.local_dir(rel).join(name);
        match tokio::fs::File::open(&path).await {
            Ok(f) => {
                // A running recording grows: its length is what is on disk now.
                let len = f.metadata().await.map_err(|e| e.to_string())?.len();
                return Ok(Some(Opened::Local(f, len)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
        let Some(remote) = self.0.remote.as_ref() else {
            return Ok(None);
        };
        let at = object(rel, name);
        match remote.head(&at).await {
            Ok(meta) => Ok(Some(Opened::Remote(at, meta.size))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// `len` bytes from `start` of an opened file, streamed in pieces.
    pub async fn stream(&self, opened: Opened, start: u64, len: u64) -> Result<ByteStream, String> {
        match opened {
            Opened::Local(f, _) => {
                Ok(file_range(f, start, len).await.map_err(|e| e.to_string())?)
            }
            Opened::Remote(_, _) if len == 0 => Ok(futures_util::stream::empty().boxed()),
            Opened::Remote(at, _) => {
                let remote = self
                    .0
                    .remote
                    .as_ref()
                    .ok_or_else(|| "no object store".to_string())?;
                let opts = GetOptions {
                    range: Some(GetRange::Bounded(start..start + len)),
                    ..GetOptions::default()
                };
                let got = remote
                    .get_opts(&at, opts)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(got.into_stream().map_err(std::io::Error::other).boxed())
            }
        }
    }

    /// Delete every file of `rel`: in the spool and in the bucket.
    pub async fn delete(&self, rel: &str) -> Result<(), String> {
        let dir = self.local_dir(rel);
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        }
        let Some(remote) = self.0.remote.as_ref() else {
            return Ok(());
        };
        let at = ObjectPath::from(rel);
        let keys: Vec<ObjectPath> = remote
            .list(Some(&at))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| e.to_string())?;
        for k in keys {
            match remote.delete(&k).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(format!("{k}: {e}")),
            }
        }
        Ok(())
    }
}

fn object(rel: &str, name: &str) -> ObjectPath {
    ObjectPath::from(format!("{rel}/{name}").as_str())
}

/// Upload every file of the spool directory `rel` (`index.json` last, so
/// a bucket holding the index holds the files it names), checking each
/// size the bucket reports. Returns how many files went up.
async fn upload_dir(
    remote: &Arc<dyn ObjectStore>,
    root: &Path,
    rel: &str,
) -> Result<usize, String> {
    let dir = root.join(rel);
    let mut names = Vec::new();
    let mut rd = match tokio::fs::read_dir(&dir).await {
        Ok(rd) => rd,
        // Already uploaded and deleted (queued twice).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    while let Some(e) = rd.next_entry().await.map_err(|e| e.to_string())? {
        let name = e.file_name().to_string_lossy().into_owned();
        // `index.json.tmp`: a rewrite cut short; the index itself is whole.
        if name.ends_with(".tmp") || !e.file_type().await.is_ok_and(|t| t.is_file()) {
            continue;
        }
        names.push(name);
    }
    names.sort_by_key(|n| (n == "index.json", n.clone()));
    for name in &names {
        let path = dir.join(name);
        let at = object(rel, name);
        let len = upload_file(remote, &path, &at).await?;
        let meta = remote
            .head(&at)
            .await
            .map_err(|e| format!("{at}: checking the upload: {e}"))?;
        if meta.size != len {
            return Err(format!(
                "{at}: the store holds {} bytes, the spool {len}",
                meta.size
            ));
        }
    }
    Ok(names.len())
}

/// One file up: a single PUT when it fits in one chunk, else a multipart
/// upload fed chunk by chunk (at most a few chunks in memory).
async fn upload_file(
    remote: &Arc<dyn ObjectStore>,
    path: &Path,
    at: &ObjectPath,
) -> Result<u64, String> {
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut f = tokio::fs::File::open(path).await.map_err(io)?;
    let len = f.metadata().await.map_err(io)?.len();
    if len < CHUNK as u64 {
        let mut buf = Vec::with_capacity(len as usize);
        f.read_to_end(&mut buf).await.map_err(io)?;
        let n = buf.len() as u64;
        remote
            .put(at, PutPayload::from(buf))
            .await
            .map_err(|e| format!("{at}: {e}"))?;
        return Ok(n);
    }
    let upload = remote
        .put_multipart(at)
        .await
        .map_err(|e| format!("{at}: {e}"))?;
    let mut w = WriteMultipart::new_with_chunk_size(upload, CHUNK);
    let mut buf = vec![0u8; 1024 * 1024];
    let mut sent = 0u64;
    loop {
        let n = match f.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                let _ = w.abort().await;
                return Err(io(e));
            }
        };
        if n == 0 {
            break;
        }
        if let Err(e) = w.wait_for_capacity(2).await {
            let _ = w.abort().await;
            return Err(format!("{at}: {e}"));
        }
        w.write(&buf[..n]);
        sent += n as u64;
    }
    w.finish().await.map_err(|e| format!("{at}: {e}"))?;
    Ok(sent)
}

/// `len` bytes of the file from `start`, in 256 KiB reads.
async fn file_range(mut f: tokio::fs::File, start: u64, len: u64) -> std::io::Result<ByteStream> {
    use tokio::io::AsyncSeekExt;
    f.seek(std::io::SeekFrom::Start(start)).await?;
    Ok(
        futures_util::stream::try_unfold((f, len), |(mut f, left)| async move {
            if left == 0 {
                return Ok(None);
            }
            let mut buf = vec![0u8; (256 * 1024).min(left as usize)];
            let n = f.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), (f, left - n as u64))))
        })
        .boxed(),
    )
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load(
            None,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    fn key_of(r: Result<Config, ConfigError>) -> String {
        match r {
            Err(ConfigError::Invalid { key, .. }) => key.to_string(),
            other => panic!("expected a refusal naming a key, got {other:?}"),
        }
    }

    const S3: [(&str, &str); 5] = [
        ("DIEMCAU_OBJECTS__KIND", "s3"),
        ("DIEMCAU_OBJECTS__ENDPOINT", "http://127.0.0.1:9000"),
        ("DIEMCAU_OBJECTS__BUCKET", "diemcau"),
        ("DIEMCAU_OBJECTS__ACCESS_KEY_ID", "ak"),
        ("DIEMCAU_OBJECTS__SECRET_ACCESS_KEY", "sk"),
    ];

    fn s3_with(
        change: &[(&'static str, &'static str)],
        drop: &[&str],
    ) -> Vec<(&'static str, &'static str)> {
        let mut v: Vec<_> = S3
            .iter()
            .filter(|(k, _)| !drop.contains(k))
            .copied()
            .collect();
        v.extend_from_slice(change);
        v
    }

    #[test]
    fn local_is_the_default_and_a_full_s3_section_is_accepted() {
        let c = load(&[]).unwrap();
        assert_eq!(c.objects.kind, super::ObjectsKind::Local);
        let c = load(&s3_with(
            &[("DIEMCAU_OBJECTS__PREFIX", "tinh-lao-cai")],
            &[],
        ))
        .unwrap();
        assert_eq!(c.objects.kind, super::ObjectsKind::S3);
        assert_eq!(c.objects.region, "us-east-1");
        assert_eq!(c.objects.dir_prefix(), "tinh-lao-cai/");
    }

    #[test]
    fn s3_without_bucket_or_with_a_bad_endpoint_is_refused_naming_the_key() {
        assert_eq!(
            key_of(load(&s3_with(&[], &["DIEMCAU_OBJECTS__BUCKET"]))),
            "objects.bucket"
        );
        assert_eq!(
            key_of(load(&s3_with(&[], &["DIEMCAU_OBJECTS__ENDPOINT"]))),
            "objects.endpoint"
        );
        for bad in [
            "http://[::1",
            "http://h:1:2",
            "ftp://h",
            "127.0.0.1:9000",
            "http://",
            "http://:9000",
            "https://h:x",
            "http://a b",
        ] {
            let mut v = s3_with(&[], &["DIEMCAU_OBJECTS__ENDPOINT"]);
            v.push(("DIEMCAU_OBJECTS__ENDPOINT", bad));
            assert_eq!(key_of(load(&v)), "objects.endpoint", "{bad}");
        }
        assert_eq!(
            key_of(load(&s3_with(
                &[("DIEMCAU_OBJECTS__BUCKET", "\"Bad_Bucket\"")],
                &["DIEMCAU_OBJECTS__BUCKET"]
            ))),
            "objects.bucket"
        );
        assert_eq!(
            key_of(load(&s3_with(&[], &["DIEMCAU_OBJECTS__SECRET_ACCESS_KEY"]))),
            "objects.secret_access_key"
        );
        assert_eq!(
            key_of(load(&s3_with(
                &[("DIEMCAU_OBJECTS__SECRET_ACCESS_KEY_FILE", "/x")],
                &[]
            ))),
            "objects.secret_access_key_file"
        );
        assert_eq!(
            key_of(load(&s3_with(&[], &["DIEMCAU_OBJECTS__ACCESS_KEY_ID"]))),
            "objects.access_key_id"
        );
        assert_eq!(
            key_of(load(&s3_with(
                &[("DIEMCAU_OBJECTS__PREFIX", "a/../b")],
                &[]
            ))),
            "objects.prefix"
        );
        // S3 keys on the local store are a mistake, said so.
        assert_eq!(
            key_of(load(&[("DIEMCAU_OBJECTS__BUCKET", "diemcau")])),
            "objects.bucket"
        );
        let unknown = load(&[("DIEMCAU_OBJECTS__KIND", "ftp")]).unwrap_err();
        assert!(
            unknown.to_string().contains("ftp") || unknown.to_string().contains("variant"),
            "{unknown}"
        );
    }

    #[test]
    fn endpoints_with_a_host_and_an_optional_port_are_accepted() {
        for ok in [
            "http://127.0.0.1:9000",
            "https://s3.example.internal",
            "https://s3.example.internal:443/",
            "http://[::1]:9000",
            "http://[::1]",
        ] {
            assert!(crate::config::objects::valid_endpoint(ok), "{ok}");
        }
    }

    #[test]
    fn an_unreadable_or_empty_secret_file_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let mut c = super::ObjectsConfig {
            kind: super::ObjectsKind::S3,
            secret_access_key_file: Some(empty),
            ..Default::default()
        };
        let e = c.secret().unwrap_err().to_string();
        assert!(e.contains("objects.secret_access_key_file"), "{e}");
        c.secret_access_key_file = Some(dir.path().join("missing"));
        let e = c.secret().unwrap_err().to_string();
        assert!(e.contains("objects.secret_access_key_file"), "{e}");
    }
}
