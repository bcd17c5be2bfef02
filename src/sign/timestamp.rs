//! RFC 3161 timestamp tokens over a signature (PAdES B-T): when a token's
//! TSA is trusted and its imprint matches the signature value, its time is
//! the signing time, proven rather than claimed.

use const_oid::db::rfc3161::ID_CT_TST_INFO;
use der::asn1::{GeneralizedTime, Int, ObjectIdentifier, OctetString};
use der::{Reader, Sequence, SliceReader};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use super::SignatureStatus;
use super::chain;
use super::cms_check::{self, CmsCheck};
use super::crypto::DigestAlg;
use super::trust::{Crl, Trust};

#[derive(Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

/// The parts of a TSTInfo the check needs (the rest is skipped).
fn tst_info(der_bytes: &[u8]) -> Result<(MessageImprint, GeneralizedTime), String> {
    let mut r = SliceReader::new(der_bytes).map_err(|e| e.to_string())?;
    r.sequence(|r| {
        let _version: Int = r.decode()?;
        let _policy: ObjectIdentifier = r.decode()?;
        let imprint: MessageImprint = r.decode()?;
        let _serial: Int = r.decode()?;
        let gen_time: GeneralizedTime = r.decode()?;
        while !r.is_finished() {
            let _rest: der::Any = r.decode()?;
        }
        Ok::<_, der::Error>((imprint, gen_time))
    })
    .map_err(|e| format!("the timestamp's TSTInfo does not parse: {e}"))
}

/// The time a token proves for `signature`, if it proves one.
pub fn check(
    token: &[u8],
    signature: &[u8],
    pool: &[Certificate],
    crls: &[Crl],
    trust: &Trust,
    now_ms: i64,
) -> Result<i64, String> {
    let sd = cms_check::signed_data(token)?;
    if sd.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err("the token does not hold a TSTInfo".into());
    }
    let content: OctetString = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or("the token has no content")?
        .decode_as()
        .map_err(|e| format!("the token's content does not parse: {e}"))?;
    let tst = content.as_bytes();
    let (imprint, gen_time) = tst_info(tst)?;
    let alg = DigestAlg::from_oid(&imprint.hash_algorithm.oid)
        .ok_or_else(|| format!("unsupported imprint hash {}", imprint.hash_algorithm.oid))?;
    if alg.digest(signature) != imprint.hashed_message.as_bytes() {
        return Err("the timestamp covers another signature".into());
    }
    let mut out = CmsCheck::default();
    cms_check::check_signed(&sd, ID_CT_TST_INFO, |a| a.digest(tst), &mut out)?;
    let tsa = out
        .signer
        .as_ref()
        .ok_or("the token does not carry the TSA's certificate")?;
    let at = i64::try_from(gen_time.to_unix_duration().as_millis()).unwrap_or(i64::MAX);
    let mut all = out.certs.clone();
    all.extend_from_slice(pool);
    let path = chain::check(tsa, &all, crls, trust, at, false, now_ms);
    match path.status {
        SignatureStatus::Valid | SignatureStatus::RevocationUnknown => Ok(at),
        _ => Err(path
            .reason
            .unwrap_or_else(|| "the TSA is not trusted".into())),
    }
}
