//! Making a signature, in the two steps every signer goes through: the
//! server prepares the revision and the bytes to sign ([`prepare`]); the
//! signature value comes back — from the seal's key at once, or from a
//! person's token through `prepare`/`complete` over the API — is checked
//! against the certificate, and is embedded ([`complete`]).

use x509_cert::Certificate;

use super::appearance::BlockText;
use super::cms_build::{self, CmsError};
use super::keys::{KeyError, Signer};
use super::write::{self, CMS_OVERHEAD_BYTES, Prepared, SignatureSpec, WriteError};
use der::{Decode, Encode};

#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    #[error(transparent)]
    Pdf(#[from] WriteError),
    #[error(transparent)]
    Cms(#[from] CmsError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A prepared signature: the PDF with its place made, and the DER of the
/// signed attributes — the exact bytes the signer signs.
#[derive(Debug, Clone)]
pub struct Pending {
    pub prepared: Prepared,
    pub to_be_signed: Vec<u8>,
}

/// Prepare a signature by `chain` (leaf first) on `pdf`.
pub fn prepare(
    pdf: &[u8],
    chain: &[Certificate],
    field: &str,
    reason: &str,
    block: BlockText,
    timestamped: bool,
) -> Result<Pending, MakeError> {
    let leaf = chain
        .first()
        .ok_or_else(|| CmsError::Certificate("no signer certificate".into()))?;
    // Fail before writing anything for a key type we cannot carry.
    cms_build::KeyAlg::of(leaf)?;
    let certs_len: usize = chain
        .iter()
        .map(|c| c.to_der().map(|d| d.len()).unwrap_or(4096))
        .sum();
    let spec = SignatureSpec {
        field: field.to_string(),
        block,
        reason: reason.to_string(),
        contents_bytes: CMS_OVERHEAD_BYTES
            + certs_len
            + if timestamped {
                super::tsa::MAX_TOKEN_BYTES
            } else {
                0
            },
    };
    let prepared = write::prepare(pdf, &spec)?;
    let attrs = cms_build::signed_attributes(&prepared.digest, leaf)?;
    Ok(Pending {
        prepared,
        to_be_signed: cms_build::to_be_signed(&attrs)?,
    })
}

/// Check `signature` over the pending bytes with the leaf certificate;
/// the value as CMS carries it (ECDSA as DER), which a timestamp covers.
pub fn check(
    pending: &Pending,
    chain: &[Certificate],
    signature: &[u8],
) -> Result<Vec<u8>, MakeError> {
    let leaf = chain
        .first()
        .ok_or_else(|| CmsError::Certificate("no signer certificate".into()))?;
    let signature = match cms_build::KeyAlg::of(leaf)? {
        cms_build::KeyAlg::EcdsaP256 => cms_build::ecdsa_der(signature)?,
        cms_build::KeyAlg::Rsa => signature.to_vec(),
    };
    cms_build::verify(leaf, &pending.to_be_signed, &signature)?;
    Ok(signature)
}

/// Embed the CMS of a checked signature (see [`check`]), with its
/// timestamp token if any: the signed PDF.
pub fn embed(
    pending: &Pending,
    chain: &[Certificate],
    checked_signature: &[u8],
    timestamp_token: Option<&[u8]>,
) -> Result<Vec<u8>, MakeError> {
    let attrs = cms::signed_data::SignedAttributes::from_der(&pending.to_be_signed)
        .map_err(CmsError::from)?;
    let cms = cms_build::signed_data(chain, attrs, checked_signature, timestamp_token)?;
    Ok(write::embed(&pending.prepared, &cms)?)
}

/// [`check`] then [`embed`] without a timestamp (PAdES B-B).
pub fn complete(
    pending: &Pending,
    chain: &[Certificate],
    signature: &[u8],
) -> Result<Vec<u8>, MakeError> {
    let checked = check(pending, chain, signature)?;
    embed(pending, chain, &checked, None)
}

/// Sign `pdf` with a key at hand (the organisation's seal).
pub fn sign_with(
    pdf: &[u8],
    key: &dyn Signer,
    field: &str,
    reason: &str,
    block: BlockText,
) -> Result<Vec<u8>, MakeError> {
    let pending = prepare(pdf, key.chain(), field, reason, block, false)?;
    let signature = key.sign(&pending.to_be_signed)?;
    complete(&pending, key.chain(), &signature)
}
