//! The signatures of stored PDFs: checked at upload, kept with the version,
//! checked again when the trust anchors or CRLs change.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::{DocKind, Document, DocumentError, Documents, objects_err};
use crate::sign::{SignatureReport, SignatureStatus, verify};
use crate::store::{Actor, SqlxResultExt, audit, now_ms};

/// How far a re-check of every signed document is.
#[derive(Debug, Default)]
pub struct RecheckProgress {
    running: AtomicBool,
    /// (running, asked again while running): under one lock, so a change
    /// made while a re-check runs is never lost.
    claim: std::sync::Mutex<(bool, bool)>,
    total: AtomicU64,
    done: AtomicU64,
    changed: AtomicU64,
}

/// The progress as the API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RecheckState {
    pub running: bool,
    pub total: u64,
    pub done: u64,
    /// Documents whose statuses changed.
    pub changed: u64,
}

impl RecheckProgress {
    pub fn state(&self) -> RecheckState {
        RecheckState {
            running: self.running.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            done: self.done.load(Ordering::Relaxed),
            changed: self.changed.load(Ordering::Relaxed),
        }
    }

    /// Ask for a re-check: true when the caller must run it; false when one
    /// runs already (it will run once more when it ends: the trust set may
    /// have changed after it passed some documents).
    pub fn start(&self) -> bool {
        let mut c = self.claim.lock().unwrap_or_else(|p| p.into_inner());
        if c.0 {
            c.1 = true;
            return false;
        }
        *c = (true, false);
        self.running.store(true, Ordering::Relaxed);
        true
    }

    /// A run ended: true when another must follow.
    pub fn finish(&self) -> bool {
        let mut c = self.claim.lock().unwrap_or_else(|p| p.into_inner());
        if c.1 {
            c.1 = false;
            return true;
        }
        c.0 = false;
        self.running.store(false, Ordering::Relaxed);
        false
    }
}

fn statuses(r: &[SignatureReport]) -> Vec<SignatureStatus> {
    r.iter().map(|s| s.status).collect()
}

impl Documents {
    /// Check the signatures of the stored PDF `doc` and keep the result.
    /// A check that cannot run leaves the document as it is, logged: the
    /// upload itself succeeded.
    pub(super) async fn check_signatures(&self, mut doc: Document, key: &str) -> Document {
        match self.verify_stored(key).await {
            Ok(reports) => match self.keep(&doc.id, &reports).await {
                Ok(at) => {
                    doc.signatures = reports;
                    doc.signatures_checked_at_ms = Some(at);
                }
                Err(e) => {
                    tracing::warn!(document = %doc.id, error = %e, "signature check not kept")
                }
            },
            Err(e) => tracing::warn!(document = %doc.id, error = %e, "signature check failed"),
        }
        doc
    }

    /// Fetch the stored bytes once and check them on the blocking pool.
    async fn verify_stored(&self, key: &str) -> Result<Vec<SignatureReport>, DocumentError> {
        let bytes = self
            .objects
            .get(&ObjectPath::from(key))
            .await
            .map_err(objects_err)?
            .bytes()
            .await
            .map_err(objects_err)?;
        let trust = self.trust.current();
        let now = now_ms();
        tokio::task::spawn_blocking(move || match verify::verify_pdf(&bytes, &trust, now) {
            Ok(r) => r,
            // A file whose signatures cannot even be located is reported as
            // one invalid signature, never as an unsigned document.
            Err(e) => vec![unreadable(e.to_string())],
        })
        .await
        .map_err(|e| DocumentError::Objects(e.to_string()))
    }

    async fn keep(&self, id: &str, reports: &[SignatureReport]) -> Result<i64, DocumentError> {
        let at = now_ms();
        let json =
            serde_json::to_string(reports).map_err(|e| DocumentError::Objects(e.to_string()))?;
        sqlx::query(
            "UPDATE documents SET signatures = $1, signatures_checked_at = $2 WHERE id = $3",
        )
        .bind(json)
        .bind(at)
        .bind(id)
        .execute(self.store.pool())
        .await
        .ctx("keeping a signature check")?;
        Ok(at)
    }

    /// Run the re-check `progress` was claimed for (`RecheckProgress::start`)
    /// and again while changes arrived during it, then release the claim.
    pub async fn recheck_until_settled(&self, actor: &Actor, progress: Arc<RecheckProgress>) {
        loop {
            if let Err(e) = self.recheck_all(actor, progress.clone()).await {
                tracing::warn!(error = %e, "the signature re-check stopped");
            }
            if !progress.finish() {
                break;
            }
        }
    }

    /// Check every stored PDF again (trust anchors or CRLs changed),
    /// reporting progress; audited once with what changed.
    pub async fn recheck_all(
        &self,
        actor: &Actor,
        progress: Arc<RecheckProgress>,
    ) -> Result<(), DocumentError> {
        let rows = sqlx::query(
            "SELECT id, object_key, signatures FROM documents WHERE kind = $1 ORDER BY uploaded_at",
        )
        .bind(DocKind::Pdf.as_str())
        .fetch_all(self.store.pool())
        .await
        .ctx("listing PDFs to re-check")?;
        progress.total.store(rows.len() as u64, Ordering::Relaxed);
        progress.done.store(0, Ordering::Relaxed);
        progress.changed.store(0, Ordering::Relaxed);
        let mut changed_ids = Vec::new();
        for row in rows {
            let id: String = row.try_get(0).ctx("re-checking")?;
            let key: String = row.try_get(1).ctx("re-checking")?;
            let before: Option<String> = row.try_get(2).ctx("re-checking")?;
            let before: Vec<SignatureReport> = before
                .and_then(|j| serde_json::from_str(&j).ok())
                .unwrap_or_default();
            match self.verify_stored(&key).await {
                Ok(after) => {
                    if statuses(&after) != statuses(&before) {
                        progress.changed.fetch_add(1, Ordering::Relaxed);
                        changed_ids.push(json!({"document_id": id, "before": statuses(&before), "after": statuses(&after)}));
                    }
                    self.keep(&id, &after).await?;
                }
                Err(e) => tracing::warn!(document = %id, error = %e, "re-check skipped a document"),
            }
            progress.done.fetch_add(1, Ordering::Relaxed);
        }
        let mut tx = self.store.begin_write().await?;
        let details = json!({
            "checked": progress.done.load(Ordering::Relaxed),
            "changed": changed_ids,
        });
        audit::append(&mut tx, actor, "signatures.recheck", "signatures", &details).await?;
        tx.commit().await.ctx("auditing a re-check")?;
        Ok(())
    }
}

fn unreadable(reason: String) -> SignatureReport {
    SignatureReport {
        signer: String::new(),
        organization: None,
        serial: String::new(),
        signed_at_ms: None,
        timestamped: false,
        status: SignatureStatus::Invalid,
        reason: Some(reason),
        sub_filter: String::new(),
        field: None,
        covers_whole_file: false,
        chain: Vec::new(),
    }
}
