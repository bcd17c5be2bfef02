//! The signature rows of a final version: listed in signing order, a
//! personal signature kept as prepared until its value comes, and each
//! embedded signature recorded onto the PDF it was prepared on.

use serde_json::json;
use sqlx::Row;

use super::{MinutesPdfs, PreparedRow, SignRole, SignatureRow, sha256_hex, target};
use crate::control::minutes::MinutesError;
use crate::store::{Actor, SqlxResultExt, audit, now_ms};

impl MinutesPdfs {
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
}
