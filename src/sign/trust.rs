//! What the server trusts: anchors (the Ban Cơ yếu root and sub-CAs in
//! production) and the CRLs held offline. Built by the caller from files and
//! uploads; read-only while checks run.

use der::{Decode, DecodePem, Encode};
use serde::Serialize;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;

use super::crypto;

/// A certificate revocation list as held.
#[derive(Debug, Clone)]
pub struct Crl {
    pub list: CertificateList,
    /// RFC 4514 issuer, for display.
    pub issuer: String,
    pub this_update_ms: i64,
    /// Past this the list says nothing about today: "revocation unknown".
    pub next_update_ms: Option<i64>,
    /// Lower-case hex SHA-256 of the DER (its identity in the store).
    pub sha256: String,
}

/// Why a file of trust material was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("not a certificate (PEM or DER): {0}")]
    Certificate(String),
    #[error("not a CRL (PEM or DER): {0}")]
    Crl(String),
    #[error("the CRL is not signed by any trusted issuer named {0}")]
    CrlUnverified(String),
}

pub fn time_ms(t: &x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_millis()).unwrap_or(i64::MAX)
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Every certificate in a PEM bundle, or the one DER certificate.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, TrustError> {
    if is_pem(bytes) {
        let certs = Certificate::load_pem_chain(bytes)
            .map_err(|e| TrustError::Certificate(e.to_string()))?;
        if certs.is_empty() {
            return Err(TrustError::Certificate("no certificate in the file".into()));
        }
        return Ok(certs);
    }
    Certificate::from_der(bytes)
        .map(|c| vec![c])
        .map_err(|e| TrustError::Certificate(e.to_string()))
}

/// A CRL from PEM (`X509 CRL`) or DER.
pub fn parse_crl(bytes: &[u8]) -> Result<Crl, TrustError> {
    let list = if is_pem(bytes) {
        CertificateList::from_pem(bytes).map_err(|e| TrustError::Crl(e.to_string()))?
    } else {
        CertificateList::from_der(bytes).map_err(|e| TrustError::Crl(e.to_string()))?
    };
    let der = list.to_der().map_err(|e| TrustError::Crl(e.to_string()))?;
    Ok(Crl {
        issuer: list.tbs_cert_list.issuer.to_string(),
        this_update_ms: time_ms(&list.tbs_cert_list.this_update),
        next_update_ms: list.tbs_cert_list.next_update.as_ref().map(time_ms),
        sha256: hex::encode(crypto::DigestAlg::Sha256.digest(&der)),
        list,
    })
}

impl Crl {
    /// Whether `issuer` signed this list.
    pub fn signed_by(&self, issuer: &Certificate) -> bool {
        if self.list.tbs_cert_list.issuer != *issuer.tbs_certificate().subject() {
            return false;
        }
        let Ok(tbs) = self.list.tbs_cert_list.to_der() else {
            return false;
        };
        let Some(sig) = self.list.signature.as_bytes() else {
            return false;
        };
        crypto::verify(
            issuer.tbs_certificate().subject_public_key_info(),
            &self.list.signature_algorithm.oid,
            None,
            &tbs,
            sig,
        )
        .is_ok()
    }

    /// When the list revokes `cert`, if it does.
    pub fn revoked_at(&self, cert: &Certificate) -> Option<i64> {
        let serial = cert.tbs_certificate().serial_number();
        self.list
            .tbs_cert_list
            .revoked_certificates
            .as_ref()?
            .iter()
            .find(|r| r.serial_number == *serial)
            .map(|r| time_ms(&r.revocation_date))
    }
}

/// Anchors and CRLs.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    pub anchors: Vec<Certificate>,
    pub crls: Vec<Crl>,
}

impl Trust {
    pub fn is_anchor(&self, c: &Certificate) -> bool {
        self.anchors.iter().any(|a| a == c)
    }

    /// Keep `crl` if an anchor or an intermediate in `pool` signed it
    /// (a list signed by someone else is refused, never silently held).
    pub fn verify_crl_issuer(&self, crl: &Crl, pool: &[Certificate]) -> Result<(), TrustError> {
        if self.anchors.iter().chain(pool).any(|c| crl.signed_by(c)) {
            Ok(())
        } else {
            Err(TrustError::CrlUnverified(crl.issuer.clone()))
        }
    }
}

/// A certificate as shown to people.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct AnchorInfo {
    pub subject: String,
    pub not_after_ms: i64,
    pub sha256: String,
}

/// A CRL as shown to people: whose, and until when it speaks.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, PartialEq, Eq)]
pub struct CrlInfo {
    pub issuer: String,
    pub this_update_ms: i64,
    pub next_update_ms: Option<i64>,
    pub revoked: usize,
    pub sha256: String,
}

impl From<&Crl> for CrlInfo {
    fn from(c: &Crl) -> Self {
        CrlInfo {
            issuer: c.issuer.clone(),
            this_update_ms: c.this_update_ms,
            next_update_ms: c.next_update_ms,
            revoked: c
                .list
                .tbs_cert_list
                .revoked_certificates
                .as_ref()
                .map_or(0, Vec::len),
            sha256: c.sha256.clone(),
        }
    }
}

pub fn anchor_info(c: &Certificate) -> AnchorInfo {
    AnchorInfo {
        subject: c.tbs_certificate().subject().to_string(),
        not_after_ms: time_ms(&c.tbs_certificate().validity().not_after),
        sha256: hex::encode(crypto::DigestAlg::Sha256.digest(&c.to_der().unwrap_or_default())),
    }
}
