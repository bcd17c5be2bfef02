//! Signed minutes over HTTP: who has signed and who is still to sign, and
//! the personal signatures of the meeting's secretary and chair (the seal
//! itself and the PDF a version is finalised with: `minutes_seal`).
//!
//! Order. A closed meeting with a secretary and a chair is signed by the
//! secretary, then the chair, then sealed (automatically, right after the
//! chair's signature); any other meeting is sealed at finalise. The seal
//! closes the document: nothing is added after it. Each role signs a
//! version once; a new version is a new PDF with its own signatures.
//!
//! The personal-signature protocol (what `diemcau sign` speaks, and what a
//! browser plugin could speak later):
//!
//! 1. `POST …/minutes/signatures/prepare` with `{"chain": [base64 DER,
//!    leaf first]}` (and optionally `"role"`). The server appends to the
//!    version's current PDF a revision with the signature field, its
//!    visible block and an empty `/Contents`, computes the SHA-256 of the
//!    signed byte ranges, and builds the CMS signed attributes
//!    (content-type, message-digest, ESS signing-certificate-v2 binding the
//!    leaf certificate). It keeps that revision and answers
//!    `to_be_signed`: the DER of the signed attributes (base64) — the exact
//!    bytes to sign — with their SHA-256 and the signature algorithm
//!    (`rsa_pkcs1_sha256`: PKCS#1 v1.5 over SHA-256 of those bytes, e.g.
//!    PKCS#11 `CKM_SHA256_RSA_PKCS`; `ecdsa_p256_sha256`: ECDSA over their
//!    SHA-256, raw `r‖s` or DER).
//! 2. `POST …/minutes/signatures/complete` with `{"signature": base64}`.
//!    The server verifies it with the leaf certificate (refused and
//!    audited if it does not verify), assembles the CMS SignedData and
//!    embeds it in the kept revision, which becomes the version's PDF —
//!    unless someone signed in between (409 `pdf_changed`: prepare again).

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::meetings::{acting_on, visible_meeting};
use super::minutes_seal::{internal, pdfs, personal_first, seal_bytes, system};
use crate::api::access::{Action, Caller};
use crate::api::openapi::{Api, Op};
use crate::api::{ApiError, JsonBody};
use crate::control::meetings::Meeting;
use crate::control::minutes::{MinutesStore, VersionStatus};
use crate::control::minutes_pdf::{PreparedRow, SignRole, SignatureRow, sha256_hex};
use crate::sign::appearance::BlockText;
use crate::sign::{cms_build, keys, make};
use crate::store::now_ms;

/// Certificates a chain may carry: leaf, sub-CAs, root.
const MAX_CHAIN_CERTS: usize = 8;
/// Bytes one certificate may take: real ones are 1–2 KiB.
const MAX_CERT_BYTES: usize = 16 * 1024;
/// Bytes a signature value may take (RSA-8192 is 1 KiB).
const MAX_SIGNATURE_BYTES: usize = 2048;

pub fn add_routes(api: Api<AppState>) -> Api<AppState> {
    use Action::{MeetingsRead, MinutesSign};
    const T: &str = "minutes";
    api.add(
        Op::get("/api/v1/meetings/{id}/minutes/signatures", MeetingsRead, T)
            .summary("Who has signed the final minutes and who is still to sign")
            .returns::<SigningStatus>(),
        get(status),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/minutes/signatures/prepare", MinutesSign, T)
            .summary("Prepare a personal signature: the signer's chain in, the exact bytes to sign out")
            .body::<PrepareBody>()
            .returns::<PrepareAnswer>(),
        post(prepare),
    )
    .add(
        Op::post("/api/v1/meetings/{id}/minutes/signatures/complete", MinutesSign, T)
            .summary("Complete a personal signature with its value; verified, then embedded as a new revision")
            .body::<CompleteBody>()
            .returns::<SigningStatus>(),
        post(complete),
    )
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrepareBody {
    /// The signer's certificates, base64 DER, leaf first.
    chain: Vec<String>,
    /// `secretary` or `chair`; by default the caller's role in the meeting.
    #[serde(default)]
    role: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    /// The signature value over `to_be_signed`, base64.
    signature: String,
    #[serde(default)]
    role: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct PrepareAnswer {
    version: u32,
    role: SignRole,
    /// The DER of the CMS signed attributes, base64: sign exactly these.
    to_be_signed: String,
    /// Their SHA-256, hex (what an ECDSA token signs).
    to_be_signed_sha256: String,
    /// `rsa_pkcs1_sha256` or `ecdsa_p256_sha256`.
    algorithm: String,
}

#[derive(Serialize, JsonSchema)]
pub struct SigningStatus {
    /// The final version whose PDF is signed; `None` before any finalise.
    version: Option<u32>,
    /// Whether the organisation's seal is configured on this server.
    seal_configured: bool,
    sealed: bool,
    /// Signatures made, in order.
    signed: Vec<SignatureRow>,
    /// Still to sign, in order (the seal last).
    pending: Vec<PendingSigner>,
}

#[derive(Serialize, JsonSchema)]
pub struct PendingSigner {
    role: SignRole,
    /// The person expected (`None` for the seal).
    user_id: Option<String>,
    name: Option<String>,
}

/// The latest final version that has a stored PDF.
async fn signed_version(state: &AppState, meeting: &str) -> Result<Option<u32>, ApiError> {
    let versions = MinutesStore::new(state.store.clone())
        .versions(meeting)
        .await?;
    let p = pdfs(state);
    for v in versions.iter().rev() {
        if v.status == VersionStatus::Final && p.record(meeting, v.version).await?.is_some() {
            return Ok(Some(v.version));
        }
    }
    Ok(None)
}

async fn status_of(state: &AppState, m: &Meeting) -> Result<SigningStatus, ApiError> {
    let configured = state.seal.configured();
    let Some(version) = signed_version(state, &m.id).await? else {
        return Ok(SigningStatus {
            version: None,
            seal_configured: configured,
            sealed: false,
            signed: Vec::new(),
            pending: Vec::new(),
        });
    };
    let p = pdfs(state);
    let sealed = p
        .record(&m.id, version)
        .await?
        .is_some_and(|r| r.sealed_at_ms.is_some());
    let signed: Vec<SignatureRow> = p
        .signatures(&m.id, version)
        .await?
        .into_iter()
        .filter(|s| s.state == "signed")
        .collect();
    let done = |r: SignRole| signed.iter().any(|s| s.role == r);
    let store = MinutesStore::new(state.store.clone());
    let mut pending = Vec::new();
    if !sealed {
        for (role, user) in [
            (SignRole::Secretary, &m.secretary_user_id),
            (SignRole::Chair, &m.chair_user_id),
        ] {
            if let Some(u) = user.as_ref().filter(|_| personal_first(m) && !done(role)) {
                pending.push(PendingSigner {
                    role,
                    user_id: Some(u.clone()),
                    name: store.user_name(u).await?,
                });
            }
        }
        if configured {
            pending.push(PendingSigner {
                role: SignRole::Seal,
                user_id: None,
                name: None,
            });
        }
    }
    Ok(SigningStatus {
        version: Some(version),
        seal_configured: configured,
        sealed,
        signed,
        pending,
    })
}

async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SigningStatus>, ApiError> {
    let m = visible_meeting(&state, &caller, &id).await?;
    Ok(Json(status_of(&state, &m).await?))
}

/// The role the caller signs in: the one asked for, else the one they
/// hold; they must hold it.
fn role_of(
    m: &Meeting,
    caller: &Caller,
    asked: Option<&str>,
) -> Result<(SignRole, String), ApiError> {
    let Caller::Person(p) = caller else {
        return Err(ApiError::forbidden(
            "not_a_signer",
            "a room does not sign minutes",
        ));
    };
    let user = p.user.id.clone();
    let holds = |r: SignRole| match r {
        SignRole::Secretary => m.secretary_user_id.as_deref() == Some(&user),
        SignRole::Chair => m.chair_user_id.as_deref() == Some(&user),
        SignRole::Seal => false,
    };
    let role = match asked {
        Some(s) => match SignRole::parse(s) {
            Some(r @ (SignRole::Secretary | SignRole::Chair)) => r,
            _ => {
                return Err(ApiError::invalid(
                    "role",
                    format!("{s:?} is not a role that signs; use secretary or chair"),
                ));
            }
        },
        None if holds(SignRole::Secretary) => SignRole::Secretary,
        None => SignRole::Chair,
    };
    if !holds(role) {
        return Err(ApiError::forbidden(
            "not_a_signer",
            format!("you are not this meeting's {}", role.as_str()),
        ));
    }
    Ok((role, user))
}

/// The version to sign and its current PDF, if the role may sign now.
async fn signable(
    state: &AppState,
    m: &Meeting,
    role: SignRole,
) -> Result<(u32, crate::control::minutes_pdf::PdfRecord), ApiError> {
    let Some(version) = signed_version(state, &m.id).await? else {
        return Err(ApiError::conflict(
            "not_final",
            format!("meeting {} has no final minutes to sign", m.id),
        ));
    };
    let p = pdfs(state);
    let rec = p
        .record(&m.id, version)
        .await?
        .ok_or_else(|| internal("corrupt_minutes", "the final PDF's record vanished"))?;
    if rec.sealed_at_ms.is_some() {
        return Err(ApiError::conflict(
            "already_sealed",
            format!("minutes version {version} is sealed; nothing is signed after the seal"),
        ));
    }
    let signed = p.signatures(&m.id, version).await?;
    let done = |r: SignRole| signed.iter().any(|s| s.role == r && s.state == "signed");
    if done(role) {
        return Err(crate::control::minutes::MinutesError::AlreadySigned(
            m.id.clone(),
            version,
            role.as_str(),
        )
        .into());
    }
    if role == SignRole::Chair && m.secretary_user_id.is_some() && !done(SignRole::Secretary) {
        return Err(ApiError::conflict(
            "secretary_first",
            "the secretary signs the minutes before the chair",
        ));
    }
    Ok((version, rec))
}

fn decode_b64(field: &str, s: &str, max: usize) -> Result<Vec<u8>, ApiError> {
    if s.len() > max * 4 / 3 + 8 {
        return Err(ApiError::invalid(field, format!("longer than {max} bytes")));
    }
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| ApiError::invalid(field, format!("not base64 ({e})")))
}

async fn prepare(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<PrepareBody>,
) -> Result<Json<PrepareAnswer>, ApiError> {
    if b.chain.is_empty() || b.chain.len() > MAX_CHAIN_CERTS {
        return Err(ApiError::invalid(
            "chain",
            format!("give 1 to {MAX_CHAIN_CERTS} certificates, leaf first"),
        ));
    }
    let mut ders = Vec::new();
    for (i, c) in b.chain.iter().enumerate() {
        ders.push(decode_b64(&format!("chain.{i}"), c, MAX_CERT_BYTES)?);
    }
    let chain =
        cms_build::parse_chain(&ders).map_err(|e| ApiError::invalid("chain", e.to_string()))?;
    let alg = cms_build::KeyAlg::of(&chain[0])
        .map_err(|e| ApiError::invalid("chain.0", e.to_string()))?;
    let m = acting_on(&state, &caller, &id, Action::MinutesSign).await?;
    let (role, user) = role_of(&m, &caller, b.role.as_deref())?;
    let (version, rec) = signable(&state, &m, role).await?;
    let p = pdfs(&state);
    let pdf = p.bytes(&rec.object_key).await?;
    let (signer, organization, serial) = keys::describe(&chain[0]);
    let block = BlockText {
        signer: signer.clone(),
        organization: organization.clone(),
        role: role.label_vi().into(),
        signed_at_ms: now_ms(),
    };
    let chain_for_task = chain.clone();
    let timestamped = state.seal.tsa_url().is_some();
    let pending = tokio::task::spawn_blocking(move || {
        make::prepare(
            &pdf,
            &chain_for_task,
            role.as_str(),
            "Ký biên bản hội nghị",
            block,
            timestamped,
        )
    })
    .await
    .map_err(|e| internal("prepare_failed", e))?
    .map_err(|e| ApiError::invalid("chain", e.to_string()))?;
    let prepared_key = p.put(&id, version, pending.prepared.bytes.clone()).await?;
    let row = PreparedRow {
        role,
        user_id: user,
        prepared_key,
        base_sha256: rec.sha256,
        byte_range: pending.prepared.byte_range,
        digest: pending.prepared.digest,
        to_be_signed: pending.to_be_signed.clone(),
        chain_pem: keys::chain_pem(&chain),
        signer,
        organization,
        serial,
    };
    p.prepare(&caller.actor(), &id, version, &row).await?;
    Ok(Json(PrepareAnswer {
        version,
        role,
        to_be_signed: base64::engine::general_purpose::STANDARD.encode(&pending.to_be_signed),
        to_be_signed_sha256: sha256_hex(&pending.to_be_signed),
        algorithm: match alg {
            cms_build::KeyAlg::Rsa => "rsa_pkcs1_sha256".into(),
            cms_build::KeyAlg::EcdsaP256 => "ecdsa_p256_sha256".into(),
        },
    }))
}

async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<CompleteBody>,
) -> Result<Json<SigningStatus>, ApiError> {
    let signature = decode_b64("signature", &b.signature, MAX_SIGNATURE_BYTES)?;
    let m = acting_on(&state, &caller, &id, Action::MinutesSign).await?;
    let (role, user) = role_of(&m, &caller, b.role.as_deref())?;
    let (version, _) = signable(&state, &m, role).await?;
    let p = pdfs(&state);
    let prepared = p
        .prepared(&id, version, role)
        .await?
        .filter(|r| r.user_id == user)
        .ok_or_else(|| {
            ApiError::conflict(
                "nothing_prepared",
                format!(
                    "no {} signature is prepared for version {version}; prepare first",
                    role.as_str()
                ),
            )
        })?;
    let chain = cms_build::parse_pem_chain(prepared.chain_pem.as_bytes())
        .map_err(|e| internal("corrupt_minutes", e))?;
    let bytes = p.bytes(&prepared.prepared_key).await?;
    let pending = make::Pending {
        prepared: crate::sign::write::Prepared {
            bytes,
            byte_range: prepared.byte_range,
            digest: prepared.digest,
        },
        to_be_signed: prepared.to_be_signed.clone(),
    };
    let checked = match make::check(&pending, &chain, &signature) {
        Ok(c) => c,
        Err(e) => {
            p.refused(
                &caller.actor(),
                &id,
                "minutes.sign_refused",
                json!({"meeting_id": id, "version": version, "role": role.as_str(), "error": e.to_string()}),
            )
            .await?;
            return Err(ApiError::invalid("signature", e.to_string()));
        }
    };
    // PAdES B-T when a timestamp server is configured. If it does not
    // answer, the prepared revision stays: the same value completes later.
    let token = match state.seal.tsa_url() {
        Some(url) => Some(
            crate::sign::tsa::timestamp(url, &checked)
                .await
                .map_err(|e| ApiError::unavailable("tsa_unavailable", e.to_string()))?,
        ),
        None => None,
    };
    let signed = tokio::task::spawn_blocking(move || {
        make::embed(&pending, &chain, &checked, token.as_deref())
    })
    .await
    .map_err(|e| internal("sign_failed", e))?
    .map_err(|e| internal("sign_failed", e))?;
    let new_key = p.put(&id, version, signed.clone()).await?;
    p.signed(
        &caller.actor(),
        &id,
        version,
        role,
        &prepared.base_sha256,
        &new_key,
        &signed,
        None,
    )
    .await?;
    // The last personal signature calls for the seal. A seal that fails
    // now is audited and shown as still to come; the signature stands.
    let all_personal = role == SignRole::Chair;
    if all_personal && state.seal.configured() {
        let base = sha256_hex(&signed);
        if let Ok((sealed, info)) = seal_bytes(&state, &id, version, signed).await {
            let key = p.put(&id, version, sealed.clone()).await?;
            p.signed(
                &system(),
                &id,
                version,
                SignRole::Seal,
                &base,
                &key,
                &sealed,
                Some((
                    &info.signer,
                    info.organization.as_deref(),
                    &info.serial,
                    &info.chain_pem,
                )),
            )
            .await?;
        }
    }
    Ok(Json(status_of(&state, &m).await?))
}
