//! One CMS SignedData as PDFs carry it (detached, one signer): is it intact,
//! who signed, which certificates and CRLs came with it, and when the
//! signer says it signed.

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;
use der::asn1::{OctetString, SetOfVec};
use der::{Encode, Reader, Sequence, SliceReader};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use super::crypto::{self, DigestAlg};

/// id-aa-signatureTimeStampToken (RFC 3161 appendix A).
pub const TIMESTAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");

/// ESS signing-certificate-v2 (RFC 5035): binds the signer's certificate.
#[derive(Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<der::Any>,
}

#[derive(Sequence)]
struct EssCertIdV2 {
    /// Absent means SHA-256 (the ASN.1 default).
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<der::Any>,
}

/// What the CMS says and whether it holds together.
#[derive(Debug, Clone, Default)]
pub struct CmsCheck {
    /// The signer's certificate, when the CMS carries it.
    pub signer: Option<Certificate>,
    /// Every certificate the CMS carries (the signer's among them).
    pub certs: Vec<Certificate>,
    /// CRLs the CMS carries, DER.
    pub crls: Vec<Vec<u8>>,
    /// The signing-time attribute, unix ms.
    pub claimed_at_ms: Option<i64>,
    /// The signature value (what a timestamp token's imprint covers).
    pub signature: Vec<u8>,
    /// An RFC 3161 timestamp token over the signature, DER.
    pub timestamp_token: Option<Vec<u8>>,
    /// Why it is not intact: unparseable, digest or signature wrong.
    pub problem: Option<String>,
}

/// Read the first DER value of `blob` (the rest is the placeholder's zero
/// padding) as a SignedData.
pub fn signed_data(blob: &[u8]) -> Result<SignedData, String> {
    let mut reader = SliceReader::new(blob).map_err(|e| format!("the CMS does not parse: {e}"))?;
    let info: ContentInfo = reader
        .decode()
        .map_err(|e| format!("the CMS does not parse: {e}"))?;
    if info.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(format!(
            "the CMS is {} rather than signed data",
            info.content_type
        ));
    }
    info.content
        .decode_as::<SignedData>()
        .map_err(|e| format!("the CMS signed data does not parse: {e}"))
}

/// Check `blob` against the digest of what it signs: `digest_of` hashes the
/// signed bytes with the algorithm the signer chose.
pub fn check(blob: &[u8], digest_of: impl FnOnce(DigestAlg) -> Vec<u8>) -> CmsCheck {
    let mut out = CmsCheck::default();
    match signed_data(blob) {
        Ok(sd) => {
            if let Err(p) = check_signed(&sd, rfc5911::ID_DATA, digest_of, &mut out) {
                out.problem = Some(p);
            }
        }
        Err(p) => out.problem = Some(p),
    }
    out
}

/// Check a parsed SignedData whose signed content is of `content_type`
/// (id-data for a PDF signature, id-ct-TSTInfo for a timestamp token).
pub fn check_signed(
    sd: &SignedData,
    content_type: ObjectIdentifier,
    digest_of: impl FnOnce(DigestAlg) -> Vec<u8>,
    out: &mut CmsCheck,
) -> Result<(), String> {
    check_into(sd, content_type, digest_of, out)
}

fn check_into(
    sd: &SignedData,
    expected_type: ObjectIdentifier,
    digest_of: impl FnOnce(DigestAlg) -> Vec<u8>,
    out: &mut CmsCheck,
) -> Result<(), String> {
    if let Some(set) = &sd.certificates {
        for c in set.0.iter() {
            if let cms::cert::CertificateChoices::Certificate(c) = c {
                out.certs.push(c.clone());
            }
        }
    }
    if let Some(crls) = &sd.crls {
        for c in crls.0.iter() {
            if let cms::revocation::RevocationInfoChoice::Crl(c) = c
                && let Ok(der) = c.to_der()
            {
                out.crls.push(der);
            }
        }
    }
    let signers: Vec<&SignerInfo> = sd.signer_infos.0.iter().collect();
    let [si] = signers.as_slice() else {
        return Err(format!("the CMS has {} signers, not one", signers.len()));
    };
    out.signature = si.signature.as_bytes().to_vec();
    out.signer = out.certs.iter().find(|c| identifies(&si.sid, c)).cloned();
    if let Some(unsigned) = &si.unsigned_attrs {
        out.timestamp_token = unsigned
            .iter()
            .find(|a| a.oid == TIMESTAMP_TOKEN)
            .and_then(|a| a.values.iter().next())
            .and_then(|v| v.to_der().ok());
    }
    let alg = DigestAlg::from_oid(&si.digest_alg.oid)
        .ok_or_else(|| format!("unsupported digest algorithm {}", si.digest_alg.oid))?;
    let Some(attrs) = &si.signed_attrs else {
        return Err("a signature without signed attributes is not supported".into());
    };
    out.claimed_at_ms = signing_time(attrs);
    let content_type: Option<ObjectIdentifier> =
        attr_value(attrs, rfc5911::ID_CONTENT_TYPE).and_then(|v| v.decode_as().ok());
    if content_type != Some(expected_type) {
        return Err(format!(
            "the content-type attribute is missing or not {expected_type}"
        ));
    }
    let md: OctetString = attr_value(attrs, rfc5911::ID_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as().ok())
        .ok_or("the message-digest attribute is missing")?;
    // Always compute, so a forged digest and a wrong one cost the same.
    let actual = digest_of(alg);
    if md.as_bytes() != actual.as_slice() {
        return Err(
            "the document's digest does not match the signed digest: the signed bytes were changed"
                .into(),
        );
    }
    let signer = out
        .signer
        .as_ref()
        .ok_or("the CMS does not carry the signer's certificate")?;
    if let Some(v) = attr_value(attrs, rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2) {
        let bound: SigningCertificateV2 = v
            .decode_as()
            .map_err(|e| format!("the signing-certificate-v2 attribute does not parse: {e}"))?;
        let first = bound
            .certs
            .first()
            .ok_or("the signing-certificate-v2 attribute names no certificate")?;
        let hash = match &first.hash_algorithm {
            None => DigestAlg::Sha256,
            Some(a) => DigestAlg::from_oid(&a.oid)
                .ok_or_else(|| format!("unsupported certificate hash {}", a.oid))?,
        };
        let der = signer.to_der().map_err(|e| e.to_string())?;
        if hash.digest(&der) != first.cert_hash.as_bytes() {
            return Err(
                "the signed attributes bind another certificate than the one carried".into(),
            );
        }
    }
    let signed = attrs
        .to_der()
        .map_err(|e| format!("the signed attributes do not encode: {e}"))?;
    crypto::verify(
        signer.tbs_certificate().subject_public_key_info(),
        &si.signature_algorithm.oid,
        Some(alg),
        &signed,
        si.signature.as_bytes(),
    )
    .map_err(|e| e.to_string())
}

fn attr_value(
    attrs: &SetOfVec<x509_cert::attr::Attribute>,
    oid: ObjectIdentifier,
) -> Option<&der::Any> {
    attrs
        .iter()
        .find(|a| a.oid == oid)
        .and_then(|a| a.values.iter().next())
}

fn signing_time(attrs: &SetOfVec<x509_cert::attr::Attribute>) -> Option<i64> {
    let t: x509_cert::time::Time = attr_value(attrs, rfc5911::ID_SIGNING_TIME)?
        .decode_as()
        .ok()?;
    i64::try_from(t.to_unix_duration().as_millis()).ok()
}

/// Whether `sid` names `cert`.
fn identifies(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(is) => {
            is.issuer == *tbs.issuer() && is.serial_number == *tbs.serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => matches!(
            tbs.get_extension::<SubjectKeyIdentifier>(),
            Ok(Some((_, own))) if own == *ski
        ),
    }
}
