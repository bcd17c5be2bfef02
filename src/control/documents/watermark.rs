//! The reader's copy of a PDF: who first read which document and when, the
//! watermark plan kept beside each stored PDF (bounded: a PDF over
//! `stamp::MAX_PLAN_PAGES` or `MAX_PLAN_BYTES` is refused at upload, 413
//! `pdf_too_large`), and the per-reader tail (`crate::pdf::stamp`) appended
//! to the stored bytes on download — laid out on the blocking pool once per
//! (version, reader) and then served from a bounded cache (`tail_cache`).

use std::sync::OnceLock;

use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde_json::json;
use sqlx::Row;
use tokio::sync::Semaphore;

use super::tail_cache::TailKey;
use super::{DocumentError, Documents, objects_err, target};
use crate::pdf::stamp::{self, StampPlan};
use crate::store::{Actor, SqlxResultExt, audit, now_ms};

/// Who a copy is for, as printed on it: fixed at their first read so every
/// later request returns the same bytes (Range, ETag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadStamp {
    pub name: String,
    pub unit: String,
    pub first_at_ms: i64,
}

impl ReadStamp {
    /// The time as the province reads it, e.g. `21/11/2026 21:40 (UTC+7)`.
    pub fn local_time(&self) -> String {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(self.first_at_ms) * 1_000_000,
        )
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(crate::control::meetings::LOCAL_OFFSET);
        format!(
            "{:02}/{:02}/{} {:02}:{:02} (UTC+7)",
            t.day(),
            u8::from(t.month()),
            t.year(),
            t.hour(),
            t.minute()
        )
    }
}

/// Parsing a PDF holds it in memory: one at a time, whatever the number of
/// uploads in flight, bounds that to one file (≤ the upload limit).
fn planning() -> &'static Semaphore {
    static ONE: OnceLock<Semaphore> = OnceLock::new();
    ONE.get_or_init(|| Semaphore::new(1))
}

fn plan_location(key: &str) -> ObjectPath {
    ObjectPath::from(format!("{key}.stamp.json"))
}

impl Documents {
    /// The watermark plan of the PDF stored at `key`: read from beside it,
    /// or made now (at upload; or for a PDF stored before plans existed).
    pub(super) async fn ensure_plan(&self, key: &str) -> Result<StampPlan, DocumentError> {
        let at = plan_location(key);
        match self.objects.get(&at).await {
            Ok(got) => {
                let bytes = got.bytes().await.map_err(objects_err)?;
                if let Ok(plan) = serde_json::from_slice::<StampPlan>(&bytes) {
                    return Ok(plan);
                }
                // A plan from an older format: make it again.
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(objects_err(e)),
        }
        let _one = planning()
            .acquire()
            .await
            .map_err(|e| DocumentError::Objects(e.to_string()))?;
        let bytes = self
            .objects
            .get(&ObjectPath::from(key))
            .await
            .map_err(objects_err)?
            .bytes()
            .await
            .map_err(objects_err)?;
        let plan = tokio::task::spawn_blocking(move || stamp::plan(&bytes))
            .await
            .map_err(|e| DocumentError::PdfUnreadable(e.to_string()))?
            .map_err(|e| match e {
                stamp::PlanError::TooLarge { .. } => DocumentError::PdfTooLarge(e.to_string()),
                _ => DocumentError::PdfUnreadable(e.to_string()),
            })?;
        let json = serde_json::to_vec(&plan).map_err(|e| DocumentError::Objects(e.to_string()))?;
        self.objects
            .put(&at, json.into())
            .await
            .map_err(objects_err)?;
        Ok(plan)
    }

    pub(super) async fn forget_plan(&self, key: &str) {
        let _ = self.objects.delete(&plan_location(key)).await;
    }

    /// The stamp of `reader` (`user:<id>` or `endpoint:<id>`) on a document,
    /// if they read it before.
    pub async fn read_stamp(
        &self,
        document_id: &str,
        reader: &str,
    ) -> Result<Option<ReadStamp>, DocumentError> {
        let row = sqlx::query(
            "SELECT name, unit, first_at FROM document_reads WHERE document_id = $1 AND reader = $2",
        )
        .bind(document_id)
        .bind(reader)
        .fetch_optional(self.store.pool())
        .await
        .ctx("reading a document read")?;
        row.map(|r| {
            Ok(ReadStamp {
                name: r.try_get(0).ctx("reading a document read")?,
                unit: r.try_get(1).ctx("reading a document read")?,
                first_at_ms: r.try_get(2).ctx("reading a document read")?,
            })
        })
        .transpose()
    }

    /// Record a first read (audited) and return the stamp; a reader who
    /// raced us gets the stamp that won.
    pub async fn record_read(
        &self,
        actor: &Actor,
        document_id: &str,
        reader: &str,
        name: &str,
        unit: &str,
    ) -> Result<ReadStamp, DocumentError> {
        const DOING: &str = "recording a document read";
        let mut tx = self.store.begin_write().await?;
        let seen = sqlx::query(
            "SELECT name, unit, first_at FROM document_reads WHERE document_id = $1 AND reader = $2",
        )
        .bind(document_id)
        .bind(reader)
        .fetch_optional(&mut *tx)
        .await
        .ctx(DOING)?;
        if let Some(r) = seen {
            return Ok(ReadStamp {
                name: r.try_get(0).ctx(DOING)?,
                unit: r.try_get(1).ctx(DOING)?,
                first_at_ms: r.try_get(2).ctx(DOING)?,
            });
        }
        let stamp = ReadStamp {
            name: name.to_string(),
            unit: unit.to_string(),
            first_at_ms: now_ms(),
        };
        sqlx::query(
            "INSERT INTO document_reads (document_id, reader, name, unit, first_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(document_id)
        .bind(reader)
        .bind(&stamp.name)
        .bind(&stamp.unit)
        .bind(stamp.first_at_ms)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        audit::append(
            &mut tx,
            actor,
            "document.read",
            &target(document_id),
            &json!({"reader": reader, "watermark": {"name": name, "unit": unit}}),
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(stamp)
    }

    /// The bytes appended to a stored PDF for this reader's copy.
    pub async fn watermark_tail(
        &self,
        meeting_id: &str,
        document_id: &str,
        stamp: &ReadStamp,
    ) -> Result<Vec<u8>, DocumentError> {
        let (_, key) = self.get_with_key(meeting_id, document_id).await?;
        let cache_key = TailKey {
            object: key.clone(),
            name: stamp.name.clone(),
            unit: stamp.unit.clone(),
            first_at_ms: stamp.first_at_ms,
        };
        if let Some(tail) = self.tails.lock().expect("tail cache lock").get(&cache_key) {
            return Ok(tail.as_ref().clone());
        }
        let plan = self.ensure_plan(&key).await?;
        let reader = stamp::Reader {
            name: stamp.name.clone(),
            unit: stamp.unit.clone(),
            when: stamp.local_time(),
        };
        let tail = tokio::task::spawn_blocking(move || stamp::tail(&plan, &reader))
            .await
            .map_err(|e| DocumentError::Objects(e.to_string()))?
            .map_err(DocumentError::Objects)?;
        self.tails
            .lock()
            .expect("tail cache lock")
            .put(cache_key, std::sync::Arc::new(tail.clone()));
        Ok(tail)
    }

    /// Watermark tails laid out since start (cache misses): a repeated
    /// download of the same version by the same reader adds nothing.
    pub fn tails_made(&self) -> u64 {
        self.tails
            .lock()
            .expect("tail cache lock")
            .made
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}
