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
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

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

    /// Every signature row of a version, in signing order.
    pub async fn signatures(
        &self,
        meeting: &str,
        version: u32,
    ) -> Result<Vec<SignatureRow>, MinutesError> {
        const DOING: &str = "listing minutes signatures";
        let rows = sqlx::query(
            "SELECT role, user_id, state, signer, organization, serial, signed_at
             FROM minutes_signatures WHERE meeting_id = $1 AND version = $2",
        )
        .bind(meeting)
        .bind(i64::from(version))
        .fetch_all(self.store.pool())
        .await
        .ctx(DOING)?;
        let mut out = Vec::new();
        for r in rows {
            let role: String = r.try_get(0).ctx(DOING)?;
            let Some(role) = SignRole::parse(&role) else {
                continue;
            };
            out.push(SignatureRow {
                role,
                user_id: r.try_get(1).ctx(DOING)?,
                state: r.try_get(2).ctx(DOING)?,
                signer: r.try_get(3).ctx(DOING)?,
                organization: r.try_get(4).ctx(DOING)?,
                serial: r.try_get(5).ctx(DOING)?,
                signed_at_ms: r.try_get(6).ctx(DOING)?,
            });
        }
        out.sort_by_key(|s| s.role as u8);
        Ok(out)
    }

    /// Keep a prepared signature (replacing an earlier unfinished one of
    /// the same role); refused once that role has signed this version.
    pub async fn prepare(
        &self,
        actor: &Actor,
        meeting: &str,
        version: u32,
        p: &PreparedRow,
    ) -> Result<(), MinutesError> {
        const DOING: &str = "keeping a prepared signature";
        let mut tx = self.store.begin_write().await?;
        let state: Option<String> = sqlx::query_scalar(
            "SELECT state FROM minutes_signatures WHERE meeting_id = $1 AND version = $2 AND role = $3",
        )
        .bind(meeting)
        .bind(i64::from(version))
        .bind(p.role.as_str())
        .fetch_optional(&mut *tx)
        .await
        .ctx(DOING)?;
        if state.as_deref() == Some("signed") {
            return Err(MinutesError::AlreadySigned(
                meeting.into(),
                version,
                p.role.as_str(),
            ));
        }
        sqlx::query(
            "DELETE FROM minutes_signatures WHERE meeting_id = $1 AND version = $2 AND role = $3",
        )
        .bind(meeting)
        .bind(i64::from(version))
        .bind(p.role.as_str())
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        let br = p.byte_range.map(|n| n.to_string()).join(" ");
        sqlx::query(
            "INSERT INTO minutes_signatures (meeting_id, version, role, user_id, state, prepared_key,
                 base_sha256, byte_range, digest, to_be_signed, chain_pem, signer, organization,
                 serial, prepared_at)
             VALUES ($1, $2, $3, $4, 'prepared', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(meeting)
        .bind(i64::from(version))
        .bind(p.role.as_str())
        .bind(&p.user_id)
        .bind(&p.prepared_key)
        .bind(&p.base_sha256)
        .bind(&br)
        .bind(hex::encode(p.digest))
        .bind(hex::encode(&p.to_be_signed))
        .bind(&p.chain_pem)
        .bind(&p.signer)
        .bind(&p.organization)
        .bind(&p.serial)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        let details = json!({
            "meeting_id": meeting, "version": version, "role": p.role.as_str(),
            "signer": p.signer, "serial": p.serial,
            "to_be_signed_sha256": sha256_hex(&p.to_be_signed),
        });
        audit::append(
            &mut tx,
            actor,
            "minutes.sign_prepare",
            &target(meeting),
            &details,
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(())
    }

    /// The prepared signature of a role, if one waits.
    pub async fn prepared(
        &self,
        meeting: &str,
        version: u32,
        role: SignRole,
    ) -> Result<Option<PreparedRow>, MinutesError> {
        const DOING: &str = "reading a prepared signature";
        let row = sqlx::query(
            "SELECT user_id, prepared_key, base_sha256, byte_range, digest, to_be_signed,
                    chain_pem, signer, organization, serial
             FROM minutes_signatures
             WHERE meeting_id = $1 AND version = $2 AND role = $3 AND state = 'prepared'",
        )
        .bind(meeting)
        .bind(i64::from(version))
        .bind(role.as_str())
        .fetch_optional(self.store.pool())
        .await
        .ctx(DOING)?;
        let Some(r) = row else { return Ok(None) };
        let text = |i: usize| -> Result<String, MinutesError> {
            let v: Option<String> = r.try_get(i).ctx(DOING)?;
            Ok(v.unwrap_or_default())
        };
        let mut byte_range = [0u64; 4];
        for (slot, n) in byte_range.iter_mut().zip(text(3)?.split(' ')) {
            *slot = n.parse().unwrap_or(0);
        }
        let mut digest = [0u8; 32];
        let d = hex::decode(text(4)?).unwrap_or_default();
        if d.len() == 32 {
            digest.copy_from_slice(&d);
        }
        Ok(Some(PreparedRow {
            role,
            user_id: text(0)?,
            prepared_key: text(1)?,
            base_sha256: text(2)?,
            byte_range,
            digest,
            to_be_signed: hex::decode(text(5)?).unwrap_or_default(),
            chain_pem: text(6)?,
            signer: text(7)?,
            organization: r.try_get(8).ctx(DOING)?,
            serial: text(9)?,
        }))
    }

    /// Record a signature embedded into the PDF that had `base_sha256`:
    /// the new bytes (already stored as `new_key`) become the version's
    /// PDF. Refused if the PDF changed meanwhile or the role already
    /// signed. A seal (`prepared` is `None`) inserts its own row.
    #[allow(clippy::too_many_arguments)]
    pub async fn signed(
        &self,
        actor: &Actor,
        meeting: &str,
        version: u32,
        role: SignRole,
        base_sha256: &str,
        new_key: &str,
        new_bytes: &[u8],
        seal: Option<(&str, Option<&str>, &str, &str)>,
    ) -> Result<(), MinutesError> {
        const DOING: &str = "recording a signature";
        let now = now_ms();
        let sha = sha256_hex(new_bytes);
        let mut tx = self.store.begin_write().await?;
        let sealed_at = if role == SignRole::Seal {
            Some(now)
        } else {
            None
        };
        let moved = sqlx::query(
            "UPDATE minutes_pdfs SET object_key = $1, sha256 = $2, size = $3, updated_at = $4,
                 sealed_at = $5
             WHERE meeting_id = $6 AND version = $7 AND sha256 = $8 AND sealed_at IS NULL",
        )
        .bind(new_key)
        .bind(&sha)
        .bind(new_bytes.len() as i64)
        .bind(now)
        .bind(sealed_at)
        .bind(meeting)
        .bind(i64::from(version))
        .bind(base_sha256)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?
        .rows_affected();
        if moved != 1 {
            return Err(MinutesError::PdfChanged(meeting.into(), version));
        }
        let changed = match seal {
            Some((signer, org, serial, chain)) => sqlx::query(
                "INSERT INTO minutes_signatures (meeting_id, version, role, state, chain_pem,
                     signer, organization, serial, prepared_at, signed_at)
                 VALUES ($1, $2, 'seal', 'signed', $3, $4, $5, $6, $7, $7)",
            )
            .bind(meeting)
            .bind(i64::from(version))
            .bind(chain)
            .bind(signer)
            .bind(org)
            .bind(serial)
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx(DOING)?
            .rows_affected(),
            None => sqlx::query(
                "UPDATE minutes_signatures SET state = 'signed', signed_at = $1, prepared_key = NULL
                 WHERE meeting_id = $2 AND version = $3 AND role = $4 AND state = 'prepared'",
            )
            .bind(now)
            .bind(meeting)
            .bind(i64::from(version))
            .bind(role.as_str())
            .execute(&mut *tx)
            .await
            .ctx(DOING)?
            .rows_affected(),
        };
        if changed != 1 {
            return Err(MinutesError::AlreadySigned(
                meeting.into(),
                version,
                role.as_str(),
            ));
        }
        let details = json!({
            "meeting_id": meeting, "version": version, "role": role.as_str(),
            "pdf_sha256": sha, "pdf_bytes": new_bytes.len(),
        });
        let action = if role == SignRole::Seal {
            "minutes.seal"
        } else {
            "minutes.sign"
        };
        audit::append(&mut tx, actor, action, &target(meeting), &details).await?;
        tx.commit().await.ctx(DOING)?;
        Ok(())
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
