//! Making the CMS of a PAdES signature (B-B): the signed attributes a
//! signer signs, and the `SignedData` that carries them, the signature
//! value and the certificate chain — all with RustCrypto's `cms` and
//! `x509-cert` types, encoded by `der`.
//!
//! PAdES B-B (ETSI EN 319 142-1, 6.3) asks for exactly these signed
//! attributes: content-type (id-data), message-digest (of the PDF's signed
//! byte ranges) and ESS signing-certificate-v2 (binding the signer's
//! certificate by its SHA-256); no signing-time (the time goes in the
//! signature dictionary's `/M`).

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier,
    SignerInfo, SignerInfos,
};
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::{Any, OctetString, SetOfVec};
use der::{Decode, Encode, Sequence};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;

/// The key types a signature may be made with: what the province's tokens
/// carry (RSA) and what newer ones offer (ECDSA P-256); both with SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    /// RSA PKCS#1 v1.5 with SHA-256.
    Rsa,
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256,
}

#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    #[error("the certificate could not be read ({0})")]
    Certificate(String),
    #[error("the certificate's key is {0}; only RSA and ECDSA P-256 keys can sign")]
    UnsupportedKey(String),
    #[error("the signature value does not verify with the signer's certificate")]
    BadSignature,
    #[error("the CMS could not be encoded ({0})")]
    Encoding(String),
}

impl From<der::Error> for CmsError {
    fn from(e: der::Error) -> Self {
        CmsError::Encoding(e.to_string())
    }
}

/// RFC 5035 `IssuerSerial`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

/// RFC 5035 `ESSCertIDv2`; the hash algorithm is left out, as DER requires
/// for its default (SHA-256).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<IssuerSerial>,
}

/// RFC 5035 `SigningCertificateV2` (without policies).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

fn sha256_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: rfc5912::ID_SHA_256,
        parameters: None,
    }
}

/// Parse certificates given as DER.
pub fn parse_chain(ders: &[Vec<u8>]) -> Result<Vec<Certificate>, CmsError> {
    ders.iter()
        .map(|d| Certificate::from_der(d).map_err(|e| CmsError::Certificate(e.to_string())))
        .collect()
}

/// Certificates from PEM text, in the order given (leaf first).
pub fn parse_pem_chain(pem: &[u8]) -> Result<Vec<Certificate>, CmsError> {
    let certs =
        Certificate::load_pem_chain(pem).map_err(|e| CmsError::Certificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(CmsError::Certificate("no certificate in the PEM".into()));
    }
    Ok(certs)
}

impl KeyAlg {
    /// The algorithm of the key a certificate certifies.
    pub fn of(cert: &Certificate) -> Result<KeyAlg, CmsError> {
        let spki = cert.tbs_certificate().subject_public_key_info();
        if spki.algorithm.oid == rfc5912::RSA_ENCRYPTION {
            return Ok(KeyAlg::Rsa);
        }
        if spki.algorithm.oid == rfc5912::ID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
            if curve == Some(rfc5912::SECP_256_R_1) {
                return Ok(KeyAlg::EcdsaP256);
            }
            return Err(CmsError::UnsupportedKey(format!(
                "EC on curve {}",
                curve.map_or("?".into(), |c| c.to_string())
            )));
        }
        Err(CmsError::UnsupportedKey(spki.algorithm.oid.to_string()))
    }

    fn signature_algorithm(self) -> AlgorithmIdentifierOwned {
        match self {
            // rsaEncryption with NULL parameters: what RFC 5754 and every
            // validator accept for a SignerInfo.
            KeyAlg::Rsa => AlgorithmIdentifierOwned {
                oid: rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
                parameters: Some(Any::null()),
            },
            KeyAlg::EcdsaP256 => AlgorithmIdentifierOwned {
                oid: rfc5912::ECDSA_WITH_SHA_256,
                parameters: None,
            },
        }
    }
}

/// The signed attributes of a PAdES B-B signature over a PDF whose signed
/// byte ranges hash (SHA-256) to `document_digest`, by `signer`.
pub fn signed_attributes(
    document_digest: &[u8; 32],
    signer: &Certificate,
) -> Result<SignedAttributes, CmsError> {
    let attr = |oid, value: Any| -> Result<Attribute, CmsError> {
        Ok(Attribute {
            oid,
            values: SetOfVec::try_from(vec![value])?,
        })
    };
    let cert_hash = Sha256::digest(signer.to_der()?);
    let tbs = signer.tbs_certificate();
    let ess = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm: None,
            cert_hash: OctetString::new(cert_hash.to_vec())?,
            issuer_serial: Some(IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(tbs.issuer().clone())],
                serial_number: tbs.serial_number().clone(),
            }),
        }],
    };
    let attrs = vec![
        attr(
            rfc5911::ID_CONTENT_TYPE,
            Any::encode_from(&rfc5911::ID_DATA)?,
        )?,
        attr(
            rfc5911::ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(document_digest.to_vec())?)?,
        )?,
        attr(
            rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2,
            Any::encode_from(&ess)?,
        )?,
    ];
    Ok(SetOfVec::try_from(attrs)?)
}

/// The exact bytes a signer signs: the DER of the signed attributes as a
/// SET (RFC 5652, 5.4), not as the `[0]`-tagged field they travel in.
pub fn to_be_signed(attrs: &SignedAttributes) -> Result<Vec<u8>, CmsError> {
    Ok(attrs.to_der()?)
}

/// An ECDSA signature as DER `ECDSA-Sig-Value`: a token gives the raw
/// `r ‖ s` (64 bytes for P-256), CMS wants the DER sequence.
pub fn ecdsa_der(sig: &[u8]) -> Result<Vec<u8>, CmsError> {
    #[derive(Sequence)]
    struct EcdsaSigValue {
        r: der::asn1::Uint,
        s: der::asn1::Uint,
    }
    if sig.len() == 64 {
        let v = EcdsaSigValue {
            r: der::asn1::Uint::new(&sig[..32])?,
            s: der::asn1::Uint::new(&sig[32..])?,
        };
        return Ok(v.to_der()?);
    }
    // Already DER (or wrong, which verification then says).
    Ok(sig.to_vec())
}

/// Check that `signature` is `signer`'s signature over `message`.
pub fn verify(signer: &Certificate, message: &[u8], signature: &[u8]) -> Result<(), CmsError> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256};
    let alg = KeyAlg::of(signer)?;
    let key = signer
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes();
    let verified = match alg {
        KeyAlg::Rsa => {
            aws_lc_rs::signature::UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
                .verify(message, signature)
        }
        KeyAlg::EcdsaP256 => {
            aws_lc_rs::signature::UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key)
                .verify(message, signature)
        }
    };
    verified.map_err(|_| CmsError::BadSignature)
}

/// The DER of a CMS `ContentInfo` holding the detached `SignedData` of one
/// signer: `chain` leaf first, `attrs` as signed, `signature` over them
/// (for ECDSA in DER; see [`ecdsa_der`]), with a timestamp token over
/// that signature for PAdES B-T.
pub fn signed_data(
    chain: &[Certificate],
    attrs: SignedAttributes,
    signature: &[u8],
    timestamp_token: Option<&[u8]>,
) -> Result<Vec<u8>, CmsError> {
    let unsigned_attrs = match timestamp_token {
        Some(t) => Some(SetOfVec::try_from(vec![super::tsa::attribute(t)?])?),
        None => None,
    };
    let leaf = chain
        .first()
        .ok_or_else(|| CmsError::Certificate("no signer certificate".into()))?;
    let alg = KeyAlg::of(leaf)?;
    let tbs = leaf.tbs_certificate();
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        digest_alg: sha256_alg(),
        signed_attrs: Some(attrs),
        signature_algorithm: alg.signature_algorithm(),
        signature: OctetString::new(signature.to_vec())?,
        unsigned_attrs,
    };
    let certs = chain
        .iter()
        .cloned()
        .map(CertificateChoices::Certificate)
        .collect::<Vec<_>>();
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha256_alg()])?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: rfc5911::ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet::try_from(certs)?),
        crls: None,
        signer_infos: SignerInfos::try_from(vec![signer])?,
    };
    let ci = ContentInfo {
        content_type: rfc5911::ID_SIGNED_DATA,
        content: Any::encode_from(&sd)?,
    };
    Ok(ci.to_der()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(alg: &'static rcgen::SignatureAlgorithm) -> (rcgen::KeyPair, Certificate) {
        let key = rcgen::KeyPair::generate_for(alg).expect("key");
        let params = rcgen::CertificateParams::new(vec!["test".into()]).expect("params");
        let cert = params.self_signed(&key).expect("cert");
        (key, Certificate::from_der(cert.der()).expect("parse"))
    }

    #[test]
    fn signed_attributes_bind_the_digest_and_the_signer_certificate() {
        let (_key, cert) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
        let attrs = signed_attributes(&[7; 32], &cert).expect("attrs");
        assert_eq!(attrs.len(), 3);
        let der = to_be_signed(&attrs).expect("der");
        assert_eq!(der[0], 0x31, "signed as a SET");
        let back = SignedAttributes::from_der(&der).expect("parses back");
        let md = back
            .iter()
            .find(|a| a.oid == rfc5911::ID_MESSAGE_DIGEST)
            .expect("message digest");
        let v: OctetString = md
            .values
            .get(0)
            .expect("value")
            .decode_as()
            .expect("octets");
        assert_eq!(v.as_bytes(), &[7; 32]);
        let ess = back
            .iter()
            .find(|a| a.oid == rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2)
            .expect("signing certificate v2");
        let sc: SigningCertificateV2 = ess.values.get(0).expect("v").decode_as().expect("ess");
        let hash = Sha256::digest(cert.to_der().expect("der"));
        assert_eq!(sc.certs[0].cert_hash.as_bytes(), hash.as_slice());
        assert!(
            !back.iter().any(|a| a.oid == rfc5911::ID_SIGNING_TIME),
            "PAdES forbids signing-time"
        );
    }

    #[test]
    fn a_raw_ecdsa_signature_is_rewritten_as_der_and_then_verifies() {
        let (key, cert) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
        )
        .expect("pair");
        let raw = pair.sign(&rng, b"hello").expect("sign");
        assert_eq!(raw.as_ref().len(), 64);
        let der = ecdsa_der(raw.as_ref()).expect("der");
        verify(&cert, b"hello", &der).expect("verifies");
        assert!(matches!(
            verify(&cert, b"hellO", &der),
            Err(CmsError::BadSignature)
        ));
    }
}
