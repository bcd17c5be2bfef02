//! The primitives a signature check needs, by OID: digests and signature
//! verification on aws-lc-rs (the provider the rest of the binary uses).

use aws_lc_rs::{digest, signature};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912 as oids;
use der::asn1::ObjectIdentifier as DerOid;
use spki::SubjectPublicKeyInfoOwned;

/// A digest algorithm a CMS signature may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlg {
    /// From a digest algorithm OID; SHA-1 and anything older are refused
    /// (a collision lets a forger swap the signed content).
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<DigestAlg> {
        if *oid == oids::ID_SHA_256 {
            Some(DigestAlg::Sha256)
        } else if *oid == oids::ID_SHA_384 {
            Some(DigestAlg::Sha384)
        } else if *oid == oids::ID_SHA_512 {
            Some(DigestAlg::Sha512)
        } else {
            None
        }
    }

    fn ring(self) -> &'static digest::Algorithm {
        match self {
            DigestAlg::Sha256 => &digest::SHA256,
            DigestAlg::Sha384 => &digest::SHA384,
            DigestAlg::Sha512 => &digest::SHA512,
        }
    }

    /// A streaming digest context.
    pub fn context(self) -> digest::Context {
        digest::Context::new(self.ring())
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.ring(), data).as_ref().to_vec()
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("unsupported signature algorithm {0}")]
    Algorithm(String),
    #[error("unsupported public key ({0})")]
    Key(String),
    #[error("the signature does not verify with the signer's public key")]
    Mismatch,
}

/// Verify `sig` over `message` with the key in `spki`, by the signature
/// algorithm `alg` (with `digest` for a bare rsaEncryption, as CMS allows).
pub fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    alg: &DerOid,
    digest: Option<DigestAlg>,
    message: &[u8],
    sig: &[u8],
) -> Result<(), CryptoError> {
    let params = verification_alg(spki, alg, digest)?;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| CryptoError::Key("the key's bit string is not whole bytes".into()))?;
    signature::UnparsedPublicKey::new(params, key)
        .verify(message, sig)
        .map_err(|_| CryptoError::Mismatch)
}

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

fn verification_alg(
    spki: &SubjectPublicKeyInfoOwned,
    alg: &DerOid,
    digest: Option<DigestAlg>,
) -> Result<&'static dyn signature::VerificationAlgorithm, CryptoError> {
    let key_oid = spki.algorithm.oid;
    let alg = *alg;
    if key_oid == RSA || key_oid == RSA_PSS {
        let hash = if alg == oids::SHA_256_WITH_RSA_ENCRYPTION {
            Some(DigestAlg::Sha256)
        } else if alg == oids::SHA_384_WITH_RSA_ENCRYPTION {
            Some(DigestAlg::Sha384)
        } else if alg == oids::SHA_512_WITH_RSA_ENCRYPTION {
            Some(DigestAlg::Sha512)
        } else if alg == RSA {
            digest
        } else if alg == RSA_PSS {
            // PSS parameters name the hash; the common profiles use the
            // same hash for the message and MGF1 with a salt of its length,
            // which is what aws-lc verifies. Take the CMS digest as the hash.
            return match digest {
                Some(DigestAlg::Sha256) => Ok(&signature::RSA_PSS_2048_8192_SHA256),
                Some(DigestAlg::Sha384) => Ok(&signature::RSA_PSS_2048_8192_SHA384),
                Some(DigestAlg::Sha512) => Ok(&signature::RSA_PSS_2048_8192_SHA512),
                None => Err(CryptoError::Algorithm("RSASSA-PSS without a digest".into())),
            };
        } else {
            None
        };
        return match hash {
            Some(DigestAlg::Sha256) => Ok(&signature::RSA_PKCS1_2048_8192_SHA256),
            Some(DigestAlg::Sha384) => Ok(&signature::RSA_PKCS1_2048_8192_SHA384),
            Some(DigestAlg::Sha512) => Ok(&signature::RSA_PKCS1_2048_8192_SHA512),
            None => Err(CryptoError::Algorithm(alg.to_string())),
        };
    }
    if key_oid == EC_PUBLIC_KEY {
        let curve: Option<ObjectIdentifier> = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as().ok());
        let hash = if alg == oids::ECDSA_WITH_SHA_256 {
            Some(DigestAlg::Sha256)
        } else if alg == oids::ECDSA_WITH_SHA_384 {
            Some(DigestAlg::Sha384)
        } else if alg == oids::ECDSA_WITH_SHA_512 {
            Some(DigestAlg::Sha512)
        } else if alg == EC_PUBLIC_KEY {
            // Some signers name the key, not the signature: the CMS digest.
            digest
        } else {
            None
        };
        return match (curve, hash) {
            (Some(c), Some(DigestAlg::Sha256)) if c == P256 => {
                Ok(&signature::ECDSA_P256_SHA256_ASN1)
            }
            (Some(c), Some(DigestAlg::Sha384)) if c == P256 => {
                Ok(&signature::ECDSA_P256_SHA384_ASN1)
            }
            (Some(c), Some(DigestAlg::Sha256)) if c == P384 => {
                Ok(&signature::ECDSA_P384_SHA256_ASN1)
            }
            (Some(c), Some(DigestAlg::Sha384)) if c == P384 => {
                Ok(&signature::ECDSA_P384_SHA384_ASN1)
            }
            (Some(c), _) if c != P256 && c != P384 => {
                Err(CryptoError::Key(format!("EC curve {c}")))
            }
            _ => Err(CryptoError::Algorithm(alg.to_string())),
        };
    }
    Err(CryptoError::Key(format!("key algorithm {key_oid}")))
}
