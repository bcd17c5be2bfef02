//! From a signer's certificate to a trust anchor, and what the path says:
//! trusted or not, valid at the signing time, revoked or not by the CRLs
//! held. The first failing check names the status.

use der::Encode;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};

use super::crypto;
use super::trust::{Crl, Trust, time_ms};
use super::{CertificateInfo, SignatureStatus};

/// Longest path followed (leaf, intermediates, anchor): real PKI paths are
/// 3 or 4 long; the bound stops a loop of cross-signed certificates.
const MAX_PATH: usize = 8;

/// Extensions this check understands (or may ignore because it does not
/// restrict a signature): a *critical* extension not in this list makes
/// the certificate unusable, as RFC 5280 §4.2 requires.
const UNDERSTOOD: &[&str] = &[
    "2.5.29.14",         // subject key identifier
    "2.5.29.15",         // key usage
    "2.5.29.17",         // subject alternative name
    "2.5.29.18",         // issuer alternative name
    "2.5.29.19",         // basic constraints
    "2.5.29.31",         // CRL distribution points (we hold CRLs offline)
    "2.5.29.32",         // certificate policies (no policy is required)
    "2.5.29.35",         // authority key identifier
    "2.5.29.37",         // extended key usage
    "1.3.6.1.5.5.7.1.1", // authority information access
    "1.3.6.1.5.5.7.1.3", // qualified certificate statements
];

/// What the path check concluded.
#[derive(Debug, Clone)]
pub struct PathCheck {
    pub status: SignatureStatus,
    pub reason: Option<String>,
    /// Leaf first, the anchor last when one was reached.
    pub chain: Vec<Certificate>,
}

/// Whether `issuer` signed `cert`.
pub fn issued_by(cert: &Certificate, issuer: &Certificate) -> bool {
    if cert.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
        return false;
    }
    let (Ok(tbs), Some(sig)) = (cert.tbs_certificate().to_der(), cert.signature().as_bytes())
    else {
        return false;
    };
    crypto::verify(
        issuer.tbs_certificate().subject_public_key_info(),
        &cert.signature_algorithm().oid,
        None,
        &tbs,
        sig,
    )
    .is_ok()
}

/// Build a path from `leaf` to an anchor through `pool`.
fn build(
    leaf: &Certificate,
    pool: &[Certificate],
    trust: &Trust,
) -> Result<Vec<Certificate>, Vec<Certificate>> {
    let mut path = vec![leaf.clone()];
    loop {
        let current = path.last().cloned().unwrap_or_else(|| leaf.clone());
        if trust.is_anchor(&current) {
            return Ok(path);
        }
        if path.len() >= MAX_PATH {
            return Err(path);
        }
        // Anchors first: a path that can end now should.
        let next = trust
            .anchors
            .iter()
            .chain(pool)
            .find(|c| !path.contains(c) && issued_by(&current, c));
        match next {
            Some(c) => path.push(c.clone()),
            None => return Err(path),
        }
    }
}

fn name_of(c: &Certificate) -> String {
    c.tbs_certificate().subject().to_string()
}

fn critical_unknown(c: &Certificate) -> Option<String> {
    c.tbs_certificate()
        .extensions()?
        .iter()
        .find(|e| e.critical && !UNDERSTOOD.contains(&e.extn_id.to_string().as_str()))
        .map(|e| e.extn_id.to_string())
}

fn may_issue(c: &Certificate) -> Result<(), String> {
    let tbs = c.tbs_certificate();
    let ca = matches!(tbs.get_extension::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca);
    if !ca {
        return Err(format!(
            "{} is not a CA certificate but issued one",
            name_of(c)
        ));
    }
    match tbs.get_extension::<KeyUsage>() {
        Ok(Some((_, ku))) if !ku.key_cert_sign() => Err(format!(
            "{} may not sign certificates (key usage)",
            name_of(c)
        )),
        Err(e) => Err(format!("{}: key usage does not parse: {e}", name_of(c))),
        _ => Ok(()),
    }
}

/// Check the path from `signer` at `at_ms` (the signing time: trusted when
/// `timestamped`), with `extra_crls` from the signature or the file beside
/// the held ones, CRL freshness judged at `now_ms`.
pub fn check(
    signer: &Certificate,
    pool: &[Certificate],
    extra_crls: &[Crl],
    trust: &Trust,
    at_ms: i64,
    timestamped: bool,
    now_ms: i64,
) -> PathCheck {
    let fail = |status, reason: String, chain: Vec<Certificate>| PathCheck {
        status,
        reason: Some(reason),
        chain,
    };
    let chain = match build(signer, pool, trust) {
        Ok(p) => p,
        Err(partial) => {
            let top = partial
                .last()
                .map(|c| c.tbs_certificate().issuer().to_string());
            return fail(
                SignatureStatus::Untrusted,
                format!(
                    "no path to a trust anchor (stops at issuer {})",
                    top.unwrap_or_default()
                ),
                partial,
            );
        }
    };
    let anchor_at = chain.len() - 1;
    for (i, c) in chain.iter().enumerate().take(anchor_at) {
        if let Some(oid) = critical_unknown(c) {
            return fail(
                SignatureStatus::Untrusted,
                format!("{} has an unsupported critical extension {oid}", name_of(c)),
                chain.clone(),
            );
        }
        if i > 0
            && let Err(why) = may_issue(c)
        {
            return fail(SignatureStatus::Untrusted, why, chain.clone());
        }
    }
    for c in &chain {
        let v = c.tbs_certificate().validity();
        let (from, to) = (time_ms(&v.not_before), time_ms(&v.not_after));
        if at_ms < from || at_ms > to {
            return fail(
                SignatureStatus::Expired,
                format!("{} was not valid at the signing time", name_of(c)),
                chain.clone(),
            );
        }
    }
    for i in 0..anchor_at {
        let (cert, issuer) = (&chain[i], &chain[i + 1]);
        if let Some(p) = revocation(cert, issuer, extra_crls, trust, at_ms, timestamped, now_ms) {
            return fail(p.0, p.1, chain.clone());
        }
    }
    PathCheck {
        status: SignatureStatus::Valid,
        reason: None,
        chain,
    }
}

/// What the newest CRL of `issuer` says about `cert`; `None` when it is
/// known not to be revoked.
fn revocation(
    cert: &Certificate,
    issuer: &Certificate,
    extra: &[Crl],
    trust: &Trust,
    at_ms: i64,
    timestamped: bool,
    now_ms: i64,
) -> Option<(SignatureStatus, String)> {
    let newest = trust
        .crls
        .iter()
        .chain(extra)
        .filter(|l| l.signed_by(issuer))
        .max_by_key(|l| l.this_update_ms);
    let Some(crl) = newest else {
        return Some((
            SignatureStatus::RevocationUnknown,
            format!("no CRL of {} is held", name_of(issuer)),
        ));
    };
    if let Some(when) = crl.revoked_at(cert) {
        // A revocation after a trusted signing time leaves the signature
        // good; without a timestamp the claimed time proves nothing.
        if !timestamped || when <= at_ms {
            return Some((
                SignatureStatus::Revoked,
                format!("{} is on the CRL of {}", name_of(cert), crl.issuer),
            ));
        }
        return None;
    }
    // A list issued after a trusted signing time covers that time (B-LT).
    let current = crl.next_update_ms.is_some_and(|n| n >= now_ms)
        || (timestamped && crl.this_update_ms >= at_ms);
    if !current {
        return Some((
            SignatureStatus::RevocationUnknown,
            format!("the CRL of {} is past its next update", crl.issuer),
        ));
    }
    None
}

/// A certificate as the report shows it.
pub fn info(c: &Certificate) -> CertificateInfo {
    let tbs = c.tbs_certificate();
    CertificateInfo {
        subject: tbs.subject().to_string(),
        issuer: tbs.issuer().to_string(),
        serial: hex::encode_upper(tbs.serial_number().as_bytes()),
        not_before_ms: time_ms(&tbs.validity().not_before),
        not_after_ms: time_ms(&tbs.validity().not_after),
        sha256: hex::encode(crypto::DigestAlg::Sha256.digest(&c.to_der().unwrap_or_default())),
    }
}
