//! The organisation's seal on minutes: the PDF a final version is
//! finalised with (rendered once, sealed at once unless the meeting waits
//! for its secretary's and chair's personal signatures), and the seal
//! itself, whose failure is audited (`minutes.seal_failed`) and answered
//! as 503 `seal_unavailable`.

use serde_json::json;

use super::AppState;
use crate::api::ApiError;
use crate::control::meetings::Meeting;
use crate::control::meetings::members::AccessPolicy;
use crate::control::minutes::{StoredVersion, VersionInfo, VersionStatus};
use crate::control::minutes_pdf::{FinalPdf, MinutesPdfs, SealInfo, SignRole, sha256_hex};
use crate::sign::appearance::BlockText;
use crate::sign::{keys, make};
use crate::store::{Actor, now_ms};

pub(super) fn pdfs(state: &AppState) -> MinutesPdfs {
    MinutesPdfs::new(state.store.clone(), state.objects.documents.clone())
}

/// Whether the meeting's minutes wait for personal signatures before the
/// seal: a closed meeting with both a secretary and a chair.
pub fn personal_first(m: &Meeting) -> bool {
    m.access_policy == AccessPolicy::Closed
        && m.secretary_user_id.is_some()
        && m.chair_user_id.is_some()
}

pub(super) fn internal(code: &'static str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        code,
        e.to_string(),
    )
}

pub(super) fn system() -> Actor {
    Actor {
        id: "system".into(),
        name: "diemcau".into(),
        address: None,
    }
}

/// Seal `pdf` with the organisation's key; a failure is audited and
/// answered as 503 `seal_unavailable`.
pub(super) async fn seal_bytes(
    state: &AppState,
    meeting: &str,
    version: u32,
    pdf: Vec<u8>,
) -> Result<(Vec<u8>, SealInfo), ApiError> {
    let failed = |message: String| async move {
        let _ = pdfs(state)
            .refused(
                &system(),
                meeting,
                "minutes.seal_failed",
                json!({"meeting_id": meeting, "version": version, "error": message}),
            )
            .await;
        tracing::error!(meeting, version, %message, "the minutes could not be sealed");
        ApiError::unavailable(
            "seal_unavailable",
            format!("the organisation's seal could not sign: {message}"),
        )
    };
    match seal_pdf(state, pdf, "Đóng dấu biên bản hội nghị").await {
        Ok(done) => Ok(done),
        Err(message) => Err(failed(message).await),
    }
}

/// Sign `pdf` with the organisation's seal (PAdES B-T when a timestamp
/// server is configured, else B-B); why not, as text, when it cannot.
pub(crate) async fn seal_pdf(
    state: &AppState,
    pdf: Vec<u8>,
    reason: &'static str,
) -> Result<(Vec<u8>, SealInfo), String> {
    let key = match state.seal.key().await {
        Ok(Some(k)) => k,
        Ok(None) => return Err("no seal is configured".into()),
        Err(e) => return Err(e.to_string()),
    };
    let (signer, organization, serial) = keys::describe(&key.chain()[0]);
    let info = SealInfo {
        signer: signer.clone(),
        organization: organization.clone(),
        serial,
        chain_pem: keys::chain_pem(key.chain()),
    };
    let block = BlockText {
        signer: organization.clone().unwrap_or(signer),
        organization,
        role: SignRole::Seal.label_vi().into(),
        signed_at_ms: now_ms(),
    };
    let tsa = state.seal.tsa_url().map(str::to_string);
    let timestamped = tsa.is_some();
    let signer = key.clone();
    let (pending, checked) = tokio::task::spawn_blocking(move || {
        let pending = make::prepare(&pdf, signer.chain(), "seal", reason, block, timestamped)?;
        let value = signer.sign(&pending.to_be_signed)?;
        let checked = make::check(&pending, signer.chain(), &value)?;
        Ok::<_, make::MakeError>((pending, checked))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let token = match &tsa {
        Some(url) => Some(
            crate::sign::tsa::timestamp(url, &checked)
                .await
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let signed = tokio::task::spawn_blocking(move || {
        make::embed(&pending, key.chain(), &checked, token.as_deref())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    Ok((signed, info))
}

/// The PDF a version is finalised with: rendered as final, sealed now
/// unless the meeting waits for personal signatures, stored.
pub(super) async fn final_pdf(
    state: &AppState,
    m: &Meeting,
    latest: &StoredVersion,
    minutes: crate::control::minutes::Minutes,
) -> Result<FinalPdf, ApiError> {
    let info = VersionInfo {
        status: VersionStatus::Final,
        ..latest.info.clone()
    };
    let pdf =
        tokio::task::spawn_blocking(move || crate::pdf::minutes::render(&minutes, Some(&info)))
            .await
            .map_err(|e| internal("pdf_failed", e))?
            .map_err(|e| internal("pdf_failed", format!("the PDF could not be made: {e}")))?;
    let version = latest.info.version;
    let (bytes, seal) = if state.seal.configured() && !personal_first(m) {
        let (b, s) = seal_bytes(state, &m.id, version, pdf).await?;
        (b, Some(s))
    } else {
        (pdf, None)
    };
    let sha256 = sha256_hex(&bytes);
    let size = bytes.len() as u64;
    let object_key = pdfs(state).put(&m.id, version, bytes).await?;
    Ok(FinalPdf {
        object_key,
        sha256,
        size,
        seal,
    })
}

/// The stored PDF of a final version, if it has one.
pub(super) async fn stored_pdf(
    state: &AppState,
    meeting: &str,
    version: u32,
) -> Result<Option<Vec<u8>>, ApiError> {
    let p = pdfs(state);
    match p.record(meeting, version).await? {
        Some(rec) => Ok(Some(p.bytes(&rec.object_key).await?)),
        None => Ok(None),
    }
}
