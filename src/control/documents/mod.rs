//! Meeting documents (tài liệu họp): upload, versions, confidentiality,
//! recall, and reading the bytes back.
//!
//! The bytes go to an object store — a local directory
//! (`<data_dir>/documents`) through `object_store`, so a shared store can
//! replace it without touching this module's callers. An upload is
//! streamed: hashed (SHA-256), counted against the size limit and written
//! part by part as it arrives, never held whole in memory; its kind is
//! sniffed from the bytes. A refused or interrupted upload leaves neither
//! an object nor a row.
//!
//! Classification is mandatory and only `thuong` (ordinary) is accepted:
//! the Party's rules keep Mật / Tối mật / Tuyệt mật documents off
//! electronic exchange. A PDF carrying a "MẬT" stamp is stored `held`:
//! nobody but the document writers sees it until the secretary confirms.
//!
//! Owns the `documents` table; every change appends an audit record in the
//! same transaction.

pub mod range;
pub mod signatures;
pub mod sniff;
pub mod tail_cache;
pub mod watermark;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

pub use sniff::DocKind;

use crate::store::{Actor, SqlxResultExt, Store, StoreError, audit, new_id, now_ms};

/// The default upload limit: 200 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 200 * 1024 * 1024;
/// Longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 300;
/// Object-store part size: memory per upload stays near
/// `PART_BYTES * (MAX_PARTS_IN_FLIGHT + 1)` whatever the file's size.
const PART_BYTES: usize = 4 * 1024 * 1024;
const MAX_PARTS_IN_FLIGHT: usize = 2;
/// How much of the head is kept for sniffing (the ODF `mimetype` entry).
const HEAD_BYTES: usize = 256;
/// An end-of-central-directory record is in the last 64 KiB + 22 bytes.
const ZIP_TAIL_BYTES: u64 = 65_557;
/// A central directory larger than this is not an office document.
const ZIP_DIRECTORY_MAX: u64 = 8 * 1024 * 1024;

/// How a document is classified (độ mật).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// Thường: ordinary, the only level the system accepts.
    Thuong,
    /// Mật (confidential): refused.
    Mat,
    /// Tối mật (secret): refused.
    ToiMat,
    /// Tuyệt mật (top secret): refused.
    TuyetMat,
}

impl Classification {
    pub const ALL: [Classification; 4] = [
        Classification::Thuong,
        Classification::Mat,
        Classification::ToiMat,
        Classification::TuyetMat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Thuong => "thuong",
            Classification::Mat => "mat",
            Classification::ToiMat => "toi_mat",
            Classification::TuyetMat => "tuyet_mat",
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Classification::Thuong => "Thường",
            Classification::Mat => "Mật",
            Classification::ToiMat => "Tối mật",
            Classification::TuyetMat => "Tuyệt mật",
        }
    }

    pub fn parse(s: &str) -> Result<Classification, String> {
        Classification::ALL
            .into_iter()
            .find(|c| c.as_str() == s.trim())
            .ok_or_else(|| {
                format!("{s:?} is not a classification; use thuong, mat, toi_mat or tuyet_mat")
            })
    }
}

/// Where a document is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocState {
    /// Readable by the meeting's participants.
    Available,
    /// A confidentiality stamp was seen: waits for the secretary.
    Held,
    /// Recalled after the meeting: nobody reads it any more.
    Recalled,
}

impl DocState {
    pub fn as_str(self) -> &'static str {
        match self {
            DocState::Available => "available",
            DocState::Held => "held",
            DocState::Recalled => "recalled",
        }
    }
    fn parse(s: &str) -> Option<DocState> {
        [DocState::Available, DocState::Held, DocState::Recalled]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// One version of a meeting document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Document {
    pub id: String,
    pub meeting_id: String,
    pub agenda_item_id: Option<String>,
    pub title: String,
    /// Sniffed from the bytes.
    pub kind: DocKind,
    pub media_type: String,
    pub size_bytes: u64,
    /// Lower-case hex SHA-256 of the bytes (the download's ETag).
    pub sha256: String,
    pub classification: Classification,
    pub state: DocState,
    /// The first version's id, shared by every version.
    pub lineage_id: String,
    /// 1 for the first upload, n+1 for the one that supersedes version n.
    pub version: u32,
    pub supersedes: Option<String>,
    /// The newer version, when there is one: readers see the document changed.
    pub superseded_by: Option<String>,
    pub uploaded_by: String,
    pub uploaded_at_ms: i64,
    pub confirmed_by: Option<String>,
    pub confirmed_at_ms: Option<i64>,
    pub recalled_at_ms: Option<i64>,
    /// A PDF's signatures as last checked (empty: none, or not a PDF).
    #[serde(default)]
    pub signatures: Vec<crate::sign::SignatureReport>,
    /// When they were last checked (at upload, then at every change of the
    /// trust anchors or CRLs).
    #[serde(default)]
    pub signatures_checked_at_ms: Option<i64>,
}

/// What comes with an upload besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadMeta {
    pub title: String,
    pub classification: Classification,
    pub agenda_item_id: Option<String>,
    /// The document this upload is a new version of.
    pub supersedes: Option<String>,
}

/// Why a document operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no meeting {0:?}")]
    UnknownMeeting(String),
    #[error("no document {0:?} in this meeting")]
    Unknown(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(
        "Tài liệu {} không được đưa lên hệ thống: văn bản Mật, Tối mật, Tuyệt mật không được trao đổi qua mạng. \
         {} documents may not be uploaded: confidential, secret and top-secret documents are excluded from electronic exchange.",
        .0.label_vi(), .0.label_vi()
    )]
    Classified(Classification),
    #[error("the file is larger than the limit of {max} bytes ({} MiB)", max / (1024 * 1024))]
    TooLarge { max: u64 },
    #[error(
        "this kind of file is not accepted: only PDF, PNG, JPEG and office documents (DOCX, XLSX, PPTX, ODT, ODS, ODP), recognised by their content"
    )]
    UnsupportedType,
    #[error("the upload was interrupted ({0}); nothing was stored")]
    Truncated(String),
    #[error("document storage failed: {0}")]
    Objects(String),
    #[error("meeting {id} is {state}; documents are uploaded before or during a meeting")]
    MeetingOver { id: String, state: String },
    #[error("meeting {id} is {state}; documents are recalled once it has ended")]
    MeetingNotOver { id: String, state: String },
    #[error("document {id} already has a newer version {by}; upload against the latest")]
    Superseded { id: String, by: String },
    #[error("document {0} is not held")]
    NotHeld(String),
    #[error("document {0} is held until the secretary confirms it")]
    Held(String),
    #[error("document {0} was recalled")]
    Recalled(String),
    #[error(
        "Không đọc được cấu trúc tệp PDF nên không thể đóng dấu tên người đọc lên bản tải về; hãy xuất lại tệp PDF rồi tải lên. \
         The PDF's structure could not be read, so downloads could not carry the reader's watermark: {0}"
    )]
    PdfUnreadable(String),
    #[error(
        "Tệp PDF quá lớn để đóng dấu tên người đọc lên từng bản tải về; hãy tách thành nhiều tệp. {0}"
    )]
    PdfTooLarge(String),
}

fn invalid<T>(field: &str, message: impl Into<String>) -> Result<T, DocumentError> {
    Err(DocumentError::Invalid {
        field: field.into(),
        message: message.into(),
    })
}

fn objects_err(e: object_store::Error) -> DocumentError {
    DocumentError::Objects(e.to_string())
}

/// Where the documents of a server with data directory `data_dir` live.
pub fn documents_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("documents")
}

const SELECT_DOC: &str = "SELECT id, meeting_id, agenda_item_id, title, kind, media_type, size_bytes, \
     sha256, classification, state, lineage_id, version, supersedes_id, superseded_by, \
     uploaded_by, uploaded_at, confirmed_by, confirmed_at, recalled_at, object_key, \
     signatures, signatures_checked_at FROM documents";

fn doc_from_row(r: &AnyRow) -> Result<(Document, String), DocumentError> {
    const DOING: &str = "reading a document";
    let kind: String = r.try_get("kind").ctx(DOING)?;
    let classification: String = r.try_get("classification").ctx(DOING)?;
    let state: String = r.try_get("state").ctx(DOING)?;
    let bad = |what: &str, v: &str| {
        DocumentError::Store(StoreError::Invalid {
            what: what.into(),
            message: format!("stored value {v:?} is not known"),
        })
    };
    let doc = Document {
        id: r.try_get("id").ctx(DOING)?,
        meeting_id: r.try_get("meeting_id").ctx(DOING)?,
        agenda_item_id: r.try_get("agenda_item_id").ctx(DOING)?,
        title: r.try_get("title").ctx(DOING)?,
        kind: DocKind::parse(&kind).ok_or_else(|| bad("document kind", &kind))?,
        media_type: r.try_get("media_type").ctx(DOING)?,
        size_bytes: u64::try_from(r.try_get::<i64, _>("size_bytes").ctx(DOING)?).unwrap_or(0),
        sha256: r.try_get("sha256").ctx(DOING)?,
        classification: Classification::parse(&classification)
            .map_err(|_| bad("classification", &classification))?,
        state: DocState::parse(&state).ok_or_else(|| bad("document state", &state))?,
        lineage_id: r.try_get("lineage_id").ctx(DOING)?,
        version: u32::try_from(r.try_get::<i64, _>("version").ctx(DOING)?).unwrap_or(0),
        supersedes: r.try_get("supersedes_id").ctx(DOING)?,
        superseded_by: r.try_get("superseded_by").ctx(DOING)?,
        uploaded_by: r.try_get("uploaded_by").ctx(DOING)?,
        uploaded_at_ms: r.try_get("uploaded_at").ctx(DOING)?,
        confirmed_by: r.try_get("confirmed_by").ctx(DOING)?,
        confirmed_at_ms: r.try_get("confirmed_at").ctx(DOING)?,
        recalled_at_ms: r.try_get("recalled_at").ctx(DOING)?,
        signatures: r
            .try_get::<Option<String>, _>("signatures")
            .ctx(DOING)?
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
        signatures_checked_at_ms: r.try_get("signatures_checked_at").ctx(DOING)?,
    };
    let key: String = r.try_get("object_key").ctx(DOING)?;
    Ok((doc, key))
}

fn target(id: &str) -> String {
    format!("document:{id}")
}

/// The documents of every meeting, over the store and an object store.
#[derive(Clone)]
pub struct Documents {
    store: Store,
    objects: Arc<dyn ObjectStore>,
    max_bytes: u64,
    /// Readers' watermark tails already laid out (bounded, LRU).
    tails: Arc<std::sync::Mutex<tail_cache::TailCache>>,
    /// What signed PDFs are checked against.
    trust: crate::control::trust::TrustStore,
}

impl Documents {
    /// Documents under `<data_dir>/documents` (created when missing), with
    /// uploads limited to `max_bytes`.
    pub fn open(store: Store, data_dir: &Path, max_bytes: u64) -> Result<Documents, DocumentError> {
        let dir = documents_dir(data_dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| DocumentError::Objects(format!("creating {}: {e}", dir.display())))?;
        let local = LocalFileSystem::new_with_prefix(&dir)
            .map_err(objects_err)?
            .with_automatic_cleanup(true);
        Ok(Documents::with_objects(store, Arc::new(local), max_bytes))
    }

    /// Over any object store (tests, a shared store).
    pub fn with_objects(store: Store, objects: Arc<dyn ObjectStore>, max_bytes: u64) -> Self {
        Documents {
            store,
            objects,
            max_bytes,
            tails: Default::default(),
            trust: crate::control::trust::TrustStore::empty(),
        }
    }

    /// Check signed PDFs against `trust`.
    pub fn with_trust(mut self, trust: crate::control::trust::TrustStore) -> Self {
        self.trust = trust;
        self
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    async fn meeting_state(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: &str,
    ) -> Result<String, DocumentError> {
        let row = sqlx::query("SELECT state FROM meetings WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .ctx("reading a meeting")?
            .ok_or_else(|| DocumentError::UnknownMeeting(id.to_string()))?;
        Ok(row.try_get(0).ctx("reading a meeting")?)
    }

    /// The checks that need no bytes: title, classification, the meeting
    /// still taking documents, the version it supersedes; and the declared
    /// length against the limit.
    pub async fn check_upload(
        &self,
        meeting_id: &str,
        meta: &UploadMeta,
        declared_len: Option<u64>,
    ) -> Result<(), DocumentError> {
        if meta.classification != Classification::Thuong {
            return Err(DocumentError::Classified(meta.classification));
        }
        let chars = meta.title.trim().chars().count();
        if chars == 0 || chars > TITLE_MAX_CHARS {
            return invalid(
                "title",
                format!("a title is 1 to {TITLE_MAX_CHARS} characters (this one has {chars})"),
            );
        }
        if let Some(a) = &meta.agenda_item_id
            && (a.is_empty() || a.len() > 100)
        {
            return invalid("agenda_item_id", "an agenda item id is 1 to 100 characters");
        }
        if declared_len.is_some_and(|n| n > self.max_bytes) {
            return Err(DocumentError::TooLarge {
                max: self.max_bytes,
            });
        }
        let mut conn = self.store.pool().acquire().await.ctx("reading a meeting")?;
        let state = self.meeting_state(&mut conn, meeting_id).await?;
        if state == "ended" || state == "cancelled" {
            return Err(DocumentError::MeetingOver {
                id: meeting_id.into(),
                state,
            });
        }
        if let Some(item) = &meta.agenda_item_id {
            let n: i64 =
                sqlx::query("SELECT COUNT(*) FROM agenda_items WHERE id = $1 AND meeting_id = $2")
                    .bind(item)
                    .bind(meeting_id)
                    .fetch_one(&mut *conn)
                    .await
                    .ctx("reading an agenda item")?
                    .try_get(0)
                    .ctx("reading an agenda item")?;
            if n == 0 {
                return invalid(
                    "agenda_item_id",
                    format!("no agenda item {item:?} in this meeting"),
                );
            }
        }
        drop(conn);
        if let Some(old) = &meta.supersedes {
            let (prev, _) = self
                .get_with_key(meeting_id, old)
                .await
                .map_err(|e| match e {
                    DocumentError::Unknown(_) => DocumentError::Invalid {
                        field: "supersedes".into(),
                        message: format!("no document {old:?} in this meeting"),
                    },
                    other => other,
                })?;
            if let Some(by) = prev.superseded_by {
                return Err(DocumentError::Superseded { id: prev.id, by });
            }
        }
        Ok(())
    }

    /// Store an upload streamed from `body`. Nothing is kept unless the
    /// whole body arrived, fits the limit and is a kind we accept.
    pub async fn upload<S, E>(
        &self,
        actor: &Actor,
        meeting_id: &str,
        meta: UploadMeta,
        declared_len: Option<u64>,
        mut body: S,
    ) -> Result<Document, DocumentError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        self.check_upload(meeting_id, &meta, declared_len).await?;
        // Sniff before anything is written.
        let mut head: Vec<u8> = Vec::new();
        let mut pending: Vec<Bytes> = Vec::new();
        let magic = loop {
            match sniff::magic(&head) {
                sniff::Magic::NeedMore => {}
                decided => break decided,
            }
            match body.next().await {
                Some(Ok(chunk)) => {
                    let want = sniff::MAGIC_LEN.max(HEAD_BYTES).saturating_sub(head.len());
                    head.extend_from_slice(&chunk[..chunk.len().min(want)]);
                    pending.push(chunk);
                }
                Some(Err(e)) => return Err(DocumentError::Truncated(e.to_string())),
                None => break sniff::Magic::Unsupported,
            }
        };
        let sniffed = match magic {
            sniff::Magic::Kind(k) => Some(k),
            sniff::Magic::Zip => None,
            _ => return Err(DocumentError::UnsupportedType),
        };
        let id = new_id("doc_");
        let key = format!("{meeting_id}/{id}");
        let location = ObjectPath::from(key.as_str());
        let upload = self
            .objects
            .put_multipart(&location)
            .await
            .map_err(objects_err)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut hasher = Sha256::new();
        let mut stamp = sniff::StampScanner::default();
        let mut size: u64 = 0;
        let mut input = futures_util::stream::iter(pending.into_iter().map(Ok)).chain(body);
        let outcome: Result<(), DocumentError> = async {
            while let Some(chunk) = input.next().await {
                let chunk = chunk.map_err(|e| DocumentError::Truncated(e.to_string()))?;
                size += chunk.len() as u64;
                if size > self.max_bytes {
                    return Err(DocumentError::TooLarge {
                        max: self.max_bytes,
                    });
                }
                hasher.update(&chunk);
                if sniffed == Some(DocKind::Pdf) {
                    stamp.feed(&chunk);
                }
                writer
                    .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
                    .await
                    .map_err(objects_err)?;
                writer.put(chunk);
            }
            Ok(())
        }
        .await;
        if let Err(e) = outcome {
            let _ = writer.abort().await;
            return Err(e);
        }
        writer.finish().await.map_err(objects_err)?;
        let kind = match sniffed {
            Some(k) => Ok(k),
            None => self.zip_kind(&location, &head, size).await,
        };
        let kind = match kind {
            Ok(k) => k,
            Err(e) => {
                self.forget(&location).await;
                return Err(e);
            }
        };
        // A PDF is parsed once now, so each reader's watermarked copy is a
        // small tail at download time; the parse also reads the text behind
        // compressed streams for a "MẬT" stamp.
        let mut stamped = stamp.found();
        if kind == DocKind::Pdf {
            match self.ensure_plan(&key).await {
                Ok(plan) => stamped |= plan.stamp_found,
                Err(e) => {
                    self.forget(&location).await;
                    self.forget_plan(&key).await;
                    return Err(e);
                }
            }
        }
        let doc = Document {
            id: id.clone(),
            meeting_id: meeting_id.to_string(),
            agenda_item_id: meta.agenda_item_id.clone(),
            title: meta.title.trim().to_string(),
            kind,
            media_type: kind.media_type().to_string(),
            size_bytes: size,
            sha256: hex::encode(hasher.finalize()),
            classification: meta.classification,
            state: if stamped {
                DocState::Held
            } else {
                DocState::Available
            },
            lineage_id: id.clone(),
            version: 1,
            supersedes: meta.supersedes.clone(),
            superseded_by: None,
            uploaded_by: actor.id.clone(),
            uploaded_at_ms: now_ms(),
            confirmed_by: None,
            confirmed_at_ms: None,
            recalled_at_ms: None,
            signatures: Vec::new(),
            signatures_checked_at_ms: None,
        };
        match self.record(actor, doc, &key).await {
            Ok(d) if d.kind == DocKind::Pdf => Ok(self.check_signatures(d, &key).await),
            Ok(d) => Ok(d),
            Err(e) => {
                self.forget(&location).await;
                self.forget_plan(&key).await;
                Err(e)
            }
        }
    }

    async fn forget(&self, location: &ObjectPath) {
        if let Err(e) = self.objects.delete(location).await {
            tracing::warn!(object = %location, error = %e, "a refused upload's object was not deleted");
        }
    }

    /// Which office format a stored ZIP is, from its central directory.
    async fn zip_kind(
        &self,
        location: &ObjectPath,
        head: &[u8],
        size: u64,
    ) -> Result<DocKind, DocumentError> {
        let tail_start = size.saturating_sub(ZIP_TAIL_BYTES);
        let tail = self
            .objects
            .get_range(location, tail_start..size)
            .await
            .map_err(objects_err)?;
        let (offset, len) =
            sniff::zip_directory(&tail, size).ok_or(DocumentError::UnsupportedType)?;
        if len > ZIP_DIRECTORY_MAX {
            return Err(DocumentError::UnsupportedType);
        }
        let directory = if offset >= tail_start {
            let from = usize::try_from(offset - tail_start).unwrap_or(usize::MAX);
            let to = from.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
            tail.get(from..to).map(<[u8]>::to_vec).unwrap_or_default()
        } else {
            self.objects
                .get_range(location, offset..offset + len)
                .await
                .map_err(objects_err)?
                .to_vec()
        };
        let names = sniff::zip_names(&directory);
        sniff::zip_kind(&names, sniff::odf_mimetype(head)).ok_or(DocumentError::UnsupportedType)
    }

    /// Insert the row (and link the version it supersedes) with its audit
    /// record, checking the meeting and the version again inside the write.
    async fn record(
        &self,
        actor: &Actor,
        mut doc: Document,
        key: &str,
    ) -> Result<Document, DocumentError> {
        const DOING: &str = "recording a document";
        let mut tx = self.store.begin_write().await?;
        let state = self.meeting_state(&mut tx, &doc.meeting_id).await?;
        if state == "ended" || state == "cancelled" {
            return Err(DocumentError::MeetingOver {
                id: doc.meeting_id.clone(),
                state,
            });
        }
        if let Some(old) = doc.supersedes.clone() {
            let row = sqlx::query(
                "SELECT lineage_id, version, superseded_by FROM documents WHERE id = $1 AND meeting_id = $2",
            )
            .bind(&old)
            .bind(&doc.meeting_id)
            .fetch_optional(&mut *tx)
            .await
            .ctx(DOING)?
            .ok_or_else(|| DocumentError::Invalid {
                field: "supersedes".into(),
                message: format!("no document {old:?} in this meeting"),
            })?;
            let by: Option<String> = row.try_get(2).ctx(DOING)?;
            if let Some(by) = by {
                return Err(DocumentError::Superseded { id: old, by });
            }
            doc.lineage_id = row.try_get(0).ctx(DOING)?;
            let v: i64 = row.try_get(1).ctx(DOING)?;
            doc.version = u32::try_from(v + 1).unwrap_or(u32::MAX);
        }
        sqlx::query(
            "INSERT INTO documents (id, meeting_id, agenda_item_id, title, kind, media_type, size_bytes, \
             sha256, classification, state, lineage_id, version, supersedes_id, superseded_by, object_key, \
             uploaded_by, uploaded_at, confirmed_by, confirmed_at, recalled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14, $15, $16, NULL, NULL, NULL)",
        )
        .bind(&doc.id)
        .bind(&doc.meeting_id)
        .bind(&doc.agenda_item_id)
        .bind(&doc.title)
        .bind(doc.kind.as_str())
        .bind(&doc.media_type)
        .bind(i64::try_from(doc.size_bytes).unwrap_or(i64::MAX))
        .bind(&doc.sha256)
        .bind(doc.classification.as_str())
        .bind(doc.state.as_str())
        .bind(&doc.lineage_id)
        .bind(i64::from(doc.version))
        .bind(&doc.supersedes)
        .bind(key)
        .bind(&doc.uploaded_by)
        .bind(doc.uploaded_at_ms)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        if let Some(old) = &doc.supersedes {
            let done = sqlx::query(
                "UPDATE documents SET superseded_by = $1 WHERE id = $2 AND superseded_by IS NULL",
            )
            .bind(&doc.id)
            .bind(old)
            .execute(&mut *tx)
            .await
            .ctx(DOING)?;
            if done.rows_affected() != 1 {
                return Err(DocumentError::Superseded {
                    id: old.clone(),
                    by: "another upload".into(),
                });
            }
        }
        let details = json!({
            "meeting_id": doc.meeting_id, "title": doc.title, "kind": doc.kind.as_str(),
            "size_bytes": doc.size_bytes, "sha256": doc.sha256, "version": doc.version,
            "supersedes": doc.supersedes, "state": doc.state.as_str(),
            "classification": doc.classification.as_str(), "agenda_item_id": doc.agenda_item_id,
        });
        audit::append(
            &mut tx,
            actor,
            "document.upload",
            &target(&doc.id),
            &details,
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(doc)
    }

    async fn get_with_key(
        &self,
        meeting_id: &str,
        id: &str,
    ) -> Result<(Document, String), DocumentError> {
        let row = sqlx::query(&format!("{SELECT_DOC} WHERE id = $1 AND meeting_id = $2"))
            .bind(id)
            .bind(meeting_id)
            .fetch_optional(self.store.pool())
            .await
            .ctx("reading a document")?
            .ok_or_else(|| DocumentError::Unknown(id.to_string()))?;
        doc_from_row(&row)
    }

    /// One document of a meeting.
    pub async fn get(&self, meeting_id: &str, id: &str) -> Result<Document, DocumentError> {
        Ok(self.get_with_key(meeting_id, id).await?.0)
    }

    /// A meeting's documents, every version, oldest upload first; `held`
    /// ones only when `include_held`.
    pub async fn list(
        &self,
        meeting_id: &str,
        include_held: bool,
    ) -> Result<Vec<Document>, DocumentError> {
        let rows = sqlx::query(&format!(
            "{SELECT_DOC} WHERE meeting_id = $1 ORDER BY uploaded_at, id"
        ))
        .bind(meeting_id)
        .fetch_all(self.store.pool())
        .await
        .ctx("listing documents")?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let (d, _) = doc_from_row(r)?;
            if include_held || d.state != DocState::Held {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// The secretary confirms a held document is not confidential.
    pub async fn confirm(
        &self,
        actor: &Actor,
        meeting_id: &str,
        id: &str,
    ) -> Result<Document, DocumentError> {
        const DOING: &str = "confirming a document";
        let mut tx = self.store.begin_write().await?;
        let done = sqlx::query(
            "UPDATE documents SET state = 'available', confirmed_by = $1, confirmed_at = $2 \
             WHERE id = $3 AND meeting_id = $4 AND state = 'held'",
        )
        .bind(&actor.id)
        .bind(now_ms())
        .bind(id)
        .bind(meeting_id)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        if done.rows_affected() != 1 {
            drop(tx);
            self.get(meeting_id, id).await?;
            return Err(DocumentError::NotHeld(id.to_string()));
        }
        audit::append(
            &mut tx,
            actor,
            "document.confirm",
            &target(id),
            &json!({"meeting_id": meeting_id}),
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        self.get(meeting_id, id).await
    }

    /// Recall every document of an ended (or cancelled) meeting: nobody
    /// reads them any more. Returns how many were recalled now.
    pub async fn recall(&self, actor: &Actor, meeting_id: &str) -> Result<u64, DocumentError> {
        const DOING: &str = "recalling documents";
        let mut tx = self.store.begin_write().await?;
        let state = self.meeting_state(&mut tx, meeting_id).await?;
        if state != "ended" && state != "cancelled" {
            return Err(DocumentError::MeetingNotOver {
                id: meeting_id.into(),
                state,
            });
        }
        let done = sqlx::query(
            "UPDATE documents SET state = 'recalled', recalled_at = $1 \
             WHERE meeting_id = $2 AND state <> 'recalled'",
        )
        .bind(now_ms())
        .bind(meeting_id)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        let n = done.rows_affected();
        audit::append(
            &mut tx,
            actor,
            "document.recall",
            &format!("meeting:{meeting_id}"),
            &json!({"recalled": n}),
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(n)
    }

    /// Record that a room endpoint fetched a document whole (its last byte
    /// was served): the first time only, audited.
    pub async fn record_fetch(
        &self,
        actor: &Actor,
        document_id: &str,
        endpoint_id: &str,
    ) -> Result<(), DocumentError> {
        const DOING: &str = "recording a document fetch";
        const SEEN: &str =
            "SELECT COUNT(*) FROM document_fetches WHERE document_id = $1 AND endpoint_id = $2";
        let seen: i64 = sqlx::query(SEEN)
            .bind(document_id)
            .bind(endpoint_id)
            .fetch_one(self.store.pool())
            .await
            .ctx(DOING)?
            .try_get(0)
            .ctx(DOING)?;
        if seen > 0 {
            return Ok(());
        }
        let mut tx = self.store.begin_write().await?;
        let seen: i64 = sqlx::query(SEEN)
            .bind(document_id)
            .bind(endpoint_id)
            .fetch_one(&mut *tx)
            .await
            .ctx(DOING)?
            .try_get(0)
            .ctx(DOING)?;
        if seen > 0 {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO document_fetches (document_id, endpoint_id, fetched_at) VALUES ($1, $2, $3)",
        )
        .bind(document_id)
        .bind(endpoint_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        audit::append(
            &mut tx,
            actor,
            "document.fetch",
            &target(document_id),
            &json!({"endpoint_id": endpoint_id}),
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(())
    }

    /// Which endpoints fetched each document of a meeting: document id →
    /// endpoint ids.
    pub async fn fetches(
        &self,
        meeting_id: &str,
    ) -> Result<HashMap<String, Vec<String>>, DocumentError> {
        let rows = sqlx::query(
            "SELECT f.document_id, f.endpoint_id FROM document_fetches f \
             JOIN documents d ON d.id = f.document_id WHERE d.meeting_id = $1 \
             ORDER BY f.fetched_at, f.endpoint_id",
        )
        .bind(meeting_id)
        .fetch_all(self.store.pool())
        .await
        .ctx("reading document fetches")?;
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for r in &rows {
            let doc: String = r.try_get(0).ctx("reading document fetches")?;
            let ep: String = r.try_get(1).ctx("reading document fetches")?;
            out.entry(doc).or_default().push(ep);
        }
        Ok(out)
    }

    /// The bytes `start..end` of a document, streamed from the object store.
    pub async fn read(
        &self,
        meeting_id: &str,
        id: &str,
        start: u64,
        end: u64,
    ) -> Result<BoxStream<'static, Result<Bytes, std::io::Error>>, DocumentError> {
        let (doc, key) = self.get_with_key(meeting_id, id).await?;
        if start >= end || end > doc.size_bytes {
            return Ok(futures_util::stream::empty().boxed());
        }
        let got = self
            .objects
            .get_opts(
                &ObjectPath::from(key.as_str()),
                GetOptions {
                    range: Some(GetRange::Bounded(start..end)),
                    ..GetOptions::default()
                },
            )
            .await
            .map_err(objects_err)?;
        match got.payload {
            // A local file: read it ourselves in 256 KiB steps. object_store's
            // own stream reads 8 KiB per blocking task, which made a 150-room
            // meeting-book download 3× slower than plain file serving
            // (benches/book_download.rs).
            object_store::GetResultPayload::File(file, _) => {
                Ok(file_stream(file, start, end - start).await?.boxed())
            }
            other => Ok(object_store::GetResult {
                payload: other,
                ..got
            }
            .into_stream()
            .map_err(std::io::Error::other)
            .boxed()),
        }
    }
}

/// Up to `len` bytes of `file` from `start`, in reads of [`READ_CHUNK`].
async fn file_stream(
    file: std::fs::File,
    start: u64,
    len: u64,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, DocumentError> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    const READ_CHUNK: usize = 256 * 1024;
    let mut file = tokio::fs::File::from_std(file);
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(|e| DocumentError::Objects(e.to_string()))?;
    Ok(futures_util::stream::try_unfold(
        (file, len),
        |(mut file, left)| async move {
            if left == 0 {
                return Ok(None);
            }
            let want = READ_CHUNK.min(left as usize);
            let mut buf = vec![0u8; want];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "document file shorter than recorded",
                ));
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), (file, left - n as u64))))
        },
    ))
}
