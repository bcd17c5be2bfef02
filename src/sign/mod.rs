//! Digital signatures (chữ ký số) on PDFs, sans-IO: checking the signatures
//! a document arrives with, and making the organisation's seal and the
//! personal signatures of a meeting's secretary and chair.
//!
//! Parsing of CMS and certificates is RustCrypto's (`cms`, `x509-cert`,
//! `der`); the primitives are aws-lc-rs's; keys on USB tokens and HSMs are
//! reached through PKCS#11 (`cryptoki`). Nothing here touches the network,
//! the database or the clock: callers pass the time and the trust material.

use serde::{Deserialize, Serialize};

/// What a check concluded about one signature, most serious first when
/// several apply (an invalid digest outranks an untrusted signer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureStatus {
    /// Intact, from a trusted and unrevoked certificate valid at signing time.
    Valid,
    /// The digest or the signature is wrong, or the signed byte ranges do
    /// not cover the file up to that signature except its own value.
    Invalid,
    /// Intact, but no path from the signer to a trust anchor.
    Untrusted,
    /// A certificate of the path was revoked at or before the signing time.
    Revoked,
    /// A certificate of the path was not valid at the signing time.
    Expired,
    /// Intact and trusted, but no current CRL says the certificates were not
    /// revoked (none held for an issuer, or the one held is past its next
    /// update).
    RevocationUnknown,
    /// Intact when signed, but the file was changed afterwards by an update
    /// that is not a later signature.
    ModifiedAfterSigning,
}

impl SignatureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureStatus::Valid => "valid",
            SignatureStatus::Invalid => "invalid",
            SignatureStatus::Untrusted => "untrusted",
            SignatureStatus::Revoked => "revoked",
            SignatureStatus::Expired => "expired",
            SignatureStatus::RevocationUnknown => "revocation_unknown",
            SignatureStatus::ModifiedAfterSigning => "modified_after_signing",
        }
    }

    pub fn parse(s: &str) -> Option<SignatureStatus> {
        use SignatureStatus::*;
        [
            Valid,
            Invalid,
            Untrusted,
            Revoked,
            Expired,
            RevocationUnknown,
            ModifiedAfterSigning,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// In Vietnamese, as the pages show it after "Đã ký số bởi … — ".
    pub fn label_vi(self) -> &'static str {
        match self {
            SignatureStatus::Valid => "hợp lệ",
            SignatureStatus::Invalid => "không hợp lệ (tệp hoặc chữ ký bị sai lệch)",
            SignatureStatus::Untrusted => "không xác định được nguồn tin cậy",
            SignatureStatus::Revoked => "chứng thư số đã bị thu hồi",
            SignatureStatus::Expired => "chứng thư số hết hạn khi ký",
            SignatureStatus::RevocationUnknown => "chưa kiểm tra được tình trạng thu hồi",
            SignatureStatus::ModifiedAfterSigning => "tệp đã bị sửa sau khi ký",
        }
    }
}

/// The certificate behind a signature, for "details on demand".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CertificateInfo {
    /// RFC 4514 subject and issuer.
    pub subject: String,
    pub issuer: String,
    /// Upper-case hex serial number.
    pub serial: String,
    pub not_before_ms: i64,
    pub not_after_ms: i64,
    /// Lower-case hex SHA-256 of the certificate's DER.
    pub sha256: String,
}

/// One signature of a PDF as checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SignatureReport {
    /// The signer's common name (CN), else the whole subject.
    pub signer: String,
    /// The signer's organisation (O), when its certificate names one.
    pub organization: Option<String>,
    /// The signer certificate's serial, upper-case hex.
    pub serial: String,
    /// When it was signed: a trusted timestamp's time, else the time the
    /// signer claimed (CMS signing-time or the PDF's /M), unix ms.
    pub signed_at_ms: Option<i64>,
    /// Whether `signed_at_ms` comes from a verified timestamp (PAdES B-T).
    pub timestamped: bool,
    pub status: SignatureStatus,
    /// Why, when the status is not `valid` (English, for logs and admins).
    pub reason: Option<String>,
    /// `adbe.pkcs7.detached` or `ETSI.CAdES.detached`.
    pub sub_filter: String,
    /// The signature field's name (/T), when it has one.
    pub field: Option<String>,
    /// Whether the signed ranges reach the end of the file (the last
    /// signature of an untouched file).
    pub covers_whole_file: bool,
    /// The signer's certificate and the path found above it, leaf first.
    pub chain: Vec<CertificateInfo>,
}

pub mod chain;
pub mod cms_check;
pub mod crypto;
pub mod pdf_sigs;
pub mod timestamp;
pub mod trust;
pub mod verify;
// Making signatures (the seal and personal signatures).
pub mod appearance;
pub mod client;
pub mod cms_build;
pub mod keys;
pub mod make;
pub mod tsa;
pub mod write;
