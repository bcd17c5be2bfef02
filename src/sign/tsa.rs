//! PAdES B-T: an RFC 3161 timestamp over the signature value, from the
//! timestamp server on the internal network (`[signatures] tsa_url`), kept
//! as the SignerInfo's unsigned `id-aa-signatureTimeStampToken`.
//!
//! The request and the answer are small ASN.1 structures written with
//! `der`'s derive; the token itself is a CMS `ContentInfo` taken as is. The
//! answer is checked before use: granted, a token present, and its
//! TSTInfo's message imprint the SHA-256 of our signature value (a server
//! that stamps something else is refused, not embedded).

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use const_oid::db::{rfc3161, rfc5912};
use der::asn1::{Any, BitString, ObjectIdentifier, OctetString, Uint};
use der::{Decode, Encode, Sequence};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;

/// How long the timestamp server may take: it is on the local network.
const TSA_TIMEOUT_SECS: u64 = 10;
/// Bytes a timestamp answer may take (a token with its TSA chain is 3–6 KiB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TsaError {
    #[error("the timestamp server {0} could not be reached ({1})")]
    Unreachable(String, String),
    #[error("the timestamp server refused (status {0})")]
    Refused(u32),
    #[error("the timestamp server's answer is not a valid timestamp ({0})")]
    Malformed(String),
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

/// RFC 3161 `TimeStampReq` (no policy, no extensions).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampReq {
    version: u8,
    message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    nonce: Option<Uint>,
    /// Ask for the TSA's certificate in the token (validators need it).
    cert_req: bool,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct PkiStatusInfo {
    status: u32,
    #[asn1(optional = "true")]
    status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    fail_info: Option<BitString>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    #[asn1(optional = "true")]
    time_stamp_token: Option<ContentInfo>,
}

/// The head of `TSTInfo`, as far as the check needs it.
#[allow(dead_code)]
struct TstInfoHead {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
}

fn request_der(digest: &[u8; 32], nonce: &[u8; 8]) -> Result<Vec<u8>, TsaError> {
    let bad = |e: der::Error| TsaError::Malformed(e.to_string());
    let req = TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: rfc5912::ID_SHA_256,
                parameters: None,
            },
            hashed_message: OctetString::new(digest.to_vec()).map_err(bad)?,
        },
        nonce: Some(Uint::new(nonce).map_err(bad)?),
        cert_req: true,
    };
    req.to_der().map_err(bad)
}

/// Check an answer to a request for `digest`; the token's DER.
fn token_of(answer: &[u8], digest: &[u8; 32]) -> Result<Vec<u8>, TsaError> {
    let bad = |e: der::Error| TsaError::Malformed(e.to_string());
    let resp = TimeStampResp::from_der(answer).map_err(bad)?;
    // 0 granted, 1 granted with modifications.
    if resp.status.status > 1 {
        return Err(TsaError::Refused(resp.status.status));
    }
    let token = resp
        .time_stamp_token
        .ok_or_else(|| TsaError::Malformed("no token".into()))?;
    let sd: SignedData = token.content.decode_as().map_err(bad)?;
    if sd.encap_content_info.econtent_type != rfc3161::ID_CT_TST_INFO {
        return Err(TsaError::Malformed("not a TSTInfo".into()));
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .ok_or_else(|| TsaError::Malformed("no TSTInfo".into()))?;
    let octets: OctetString = econtent.decode_as().map_err(bad)?;
    // TSTInfo goes on after the fields the check reads: read those only.
    let mut reader = der::SliceReader::new(octets.as_bytes()).map_err(bad)?;
    der::Header::decode(&mut reader).map_err(bad)?;
    let info = decode_head(&mut reader)?;
    if info.message_imprint.hashed_message.as_bytes() != digest {
        return Err(TsaError::Malformed(
            "the token stamps another value than our signature".into(),
        ));
    }
    token.to_der().map_err(bad)
}

fn decode_head(reader: &mut der::SliceReader<'_>) -> Result<TstInfoHead, TsaError> {
    let bad = |e: der::Error| TsaError::Malformed(e.to_string());
    use der::Reader;
    Ok(TstInfoHead {
        version: reader.decode().map_err(bad)?,
        policy: reader.decode().map_err(bad)?,
        message_imprint: reader.decode().map_err(bad)?,
    })
}

/// A timestamp token over `signature` from the server at `url`.
pub async fn timestamp(url: &str, signature: &[u8]) -> Result<Vec<u8>, TsaError> {
    let digest: [u8; 32] = Sha256::digest(signature).into();
    let nonce: [u8; 8] = rand::random();
    let body = request_der(&digest, &nonce)?;
    let unreachable = |e: http_client::Error| TsaError::Unreachable(url.into(), e.to_string());
    let client = http_client::Client::builder()
        .timeout(std::time::Duration::from_secs(TSA_TIMEOUT_SECS))
        .build()
        .map_err(unreachable)?;
    let answer = client
        .post(url)
        .header("content-type", "application/timestamp-query")
        .body(body)
        .send()
        .await
        .map_err(unreachable)?;
    if !answer.status().is_success() {
        return Err(TsaError::Unreachable(
            url.into(),
            format!("HTTP {}", answer.status()),
        ));
    }
    let bytes = answer.bytes().await.map_err(unreachable)?;
    if bytes.len() > MAX_TOKEN_BYTES {
        return Err(TsaError::Malformed(format!(
            "{} bytes, more than {MAX_TOKEN_BYTES}",
            bytes.len()
        )));
    }
    token_of(&bytes, &digest)
}

/// The unsigned attribute carrying a token.
pub fn attribute(token_der: &[u8]) -> Result<x509_cert::attr::Attribute, der::Error> {
    Ok(x509_cert::attr::Attribute {
        oid: rfc3161::ID_AA_TIME_STAMP_TOKEN,
        values: der::asn1::SetOfVec::try_from(vec![Any::from_der(token_der)?])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_request_asks_for_the_certificate_and_names_sha256() {
        let der = request_der(&[9; 32], &[1, 2, 3, 4, 5, 6, 7, 8]).expect("der");
        let back = TimeStampReq::from_der(&der).expect("parses");
        assert!(back.cert_req);
        assert_eq!(back.message_imprint.hash_algorithm.oid, rfc5912::ID_SHA_256);
        assert_eq!(back.message_imprint.hashed_message.as_bytes(), &[9; 32]);
        assert!(matches!(
            token_of(b"\x30\x03\x02\x01\x02", &[0; 32]),
            Err(TsaError::Malformed(_))
        ));
    }
}
