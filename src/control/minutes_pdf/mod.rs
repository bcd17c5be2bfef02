//! The signed PDF of each final minutes version, and its signatures.
//!
//! At finalise the minutes are rendered once; those bytes (sealed at once,
//! or later once the secretary and the chair have signed) are what
//! `?format=pdf` serves for that version from then on. Each signature is a
//! new incremental revision stored as a new object; the row points at the
//! latest. A role signs once per version (the primary key), and the seal
//! closes the document: nothing is added after it.
//!
//! Personal signatures come in two steps (see `api::v1::minutes_sign`): a
//! prepared revision is kept (object + row in state `prepared`) until the
//! signature value arrives; it is embedded only if the PDF has not changed
//! since (someone else signed in between: prepare again).

use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

mod signatures;

use super::minutes::MinutesError;
use crate::store::{Actor, SqlxResultExt, Store, audit, new_id, now_ms};

/// Who signs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignRole {
    Secretary,
    Chair,
    Seal,
}

impl SignRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SignRole::Secretary => "secretary",
            SignRole::Chair => "chair",
            SignRole::Seal => "seal",
        }
    }
    pub fn parse(s: &str) -> Option<SignRole> {
        [SignRole::Secretary, SignRole::Chair, SignRole::Seal]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
    /// As the visible block says it.
    pub fn label_vi(self) -> &'static str {
        match self {
            SignRole::Secretary => "Thư ký hội nghị",
            SignRole::Chair => "Chủ trì hội nghị",
            SignRole::Seal => "Dấu của cơ quan",
        }
    }
}

/// The stored PDF of a final version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfRecord {
    pub object_key: String,
    pub sha256: String,
    pub size: u64,
    pub sealed_at_ms: Option<i64>,
}

/// One signature row as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SignatureRow {
    pub role: SignRole,
    pub user_id: Option<String>,
    /// `prepared` or `signed`.
    pub state: String,
    /// The certificate's common name and organisation, its serial (hex).
    pub signer: String,
    pub organization: Option<String>,
    pub serial: String,
    pub signed_at_ms: Option<i64>,
}

/// A prepared personal signature, waiting for its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRow {
    pub role: SignRole,
    pub user_id: String,
    pub prepared_key: String,
    pub base_sha256: String,
    pub byte_range: [u64; 4],
    pub digest: [u8; 32],
    pub to_be_signed: Vec<u8>,
    pub chain_pem: String,
    pub signer: String,
    pub organization: Option<String>,
    pub serial: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn target(meeting: &str) -> String {
    format!("minutes:{meeting}")
}

fn object_err(e: impl std::fmt::Display) -> MinutesError {
    MinutesError::Objects(format!("the minutes PDF store failed: {e}"))
}

/// Who sealed, as the seal's row keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealInfo {
    pub signer: String,
    pub organization: Option<String>,
    pub serial: String,
    pub chain_pem: String,
}

/// The PDF a version is finalised with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalPdf {
    pub object_key: String,
    pub sha256: String,
    pub size: u64,
    /// Set when the seal was embedded at finalise.
    pub seal: Option<SealInfo>,
}

/// Insert the PDF row (and the seal's row) in the finalise transaction.
pub(super) async fn insert_final(
    tx: &mut sqlx::AnyConnection,
    meeting: &str,
    version: u32,
    pdf: &FinalPdf,
) -> Result<(), MinutesError> {
    const DOING: &str = "keeping the final minutes PDF";
    let now = now_ms();
    sqlx::query(
        "INSERT INTO minutes_pdfs (meeting_id, version, object_key, sha256, size, sealed_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(meeting)
    .bind(i64::from(version))
    .bind(&pdf.object_key)
    .bind(&pdf.sha256)
    .bind(pdf.size as i64)
    .bind(pdf.seal.as_ref().map(|_| now))
    .bind(now)
    .execute(&mut *tx)
    .await
    .ctx(DOING)?;
    if let Some(s) = &pdf.seal {
        sqlx::query(
            "INSERT INTO minutes_signatures (meeting_id, version, role, state, chain_pem,
                 signer, organization, serial, prepared_at, signed_at)
             VALUES ($1, $2, 'seal', 'signed', $3, $4, $5, $6, $7, $7)",
        )
        .bind(meeting)
        .bind(i64::from(version))
        .bind(&s.chain_pem)
        .bind(&s.signer)
        .bind(&s.organization)
        .bind(&s.serial)
        .bind(now)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
    }
    Ok(())
}

/// Signed minutes PDFs: rows in the database, bytes in the documents store.
pub struct MinutesPdfs {
    store: Store,
    objects: Arc<dyn ObjectStore>,
}

impl MinutesPdfs {
    pub fn new(store: Store, objects: Arc<dyn ObjectStore>) -> MinutesPdfs {
        MinutesPdfs { store, objects }
    }

    /// Keep `bytes` as a new object; its key.
    pub async fn put(
        &self,
        meeting: &str,
        version: u32,
        bytes: Vec<u8>,
    ) -> Result<String, MinutesError> {
        let key = format!("minutes/{meeting}/v{version}-{}.pdf", new_id("r_"));
        self.objects
            .put(&ObjectPath::from(key.as_str()), bytes.into())
            .await
            .map_err(object_err)?;
        Ok(key)
    }

    pub async fn bytes(&self, key: &str) -> Result<Vec<u8>, MinutesError> {
        let got = self
            .objects
            .get(&ObjectPath::from(key))
            .await
            .map_err(object_err)?;
        Ok(got.bytes().await.map_err(object_err)?.to_vec())
    }

    /// The stored PDF of a version, if it was finalised with one.
    pub async fn record(
        &self,
        meeting: &str,
        version: u32,
    ) -> Result<Option<PdfRecord>, MinutesError> {
        const DOING: &str = "reading a minutes PDF";
        let row = sqlx::query(
            "SELECT object_key, sha256, size, sealed_at FROM minutes_pdfs
             WHERE meeting_id = $1 AND version = $2",
        )
        .bind(meeting)
        .bind(i64::from(version))
        .fetch_optional(self.store.pool())
        .await
        .ctx(DOING)?;
        let Some(row) = row else { return Ok(None) };
        let size: i64 = row.try_get(2).ctx(DOING)?;
        Ok(Some(PdfRecord {
            object_key: row.try_get(0).ctx(DOING)?,
            sha256: row.try_get(1).ctx(DOING)?,
            size: u64::try_from(size).unwrap_or(0),
            sealed_at_ms: row.try_get(3).ctx(DOING)?,
        }))
    }

    /// Audit a refused signing step (a wrong signature value, a seal that
    /// could not be made).
    pub async fn refused(
        &self,
        actor: &Actor,
        meeting: &str,
        action: &str,
        details: serde_json::Value,
    ) -> Result<(), MinutesError> {
        let mut tx = self.store.begin_write().await?;
        audit::append(&mut tx, actor, action, &target(meeting), &details).await?;
        tx.commit().await.ctx("auditing a refused signature")?;
        Ok(())
    }
}
