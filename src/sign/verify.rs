//! Check every signature of a PDF: the byte ranges, the CMS, the path to a
//! trust anchor, validity at the signing time, revocation, and changes made
//! after it.

use x509_cert::Certificate;

use super::cms_check::{self, CmsCheck};
use super::crypto::DigestAlg;
use super::pdf_sigs::{self, FoundSignature, ScanError};
use super::trust::{Crl, Trust, parse_crl};
use super::{SignatureReport, SignatureStatus, chain, timestamp};

/// Sub-filters whose /Contents is a detached CMS over the byte ranges.
const DETACHED: &[&str] = &["adbe.pkcs7.detached", "ETSI.CAdES.detached"];
/// A document timestamp (PAdES B-LTA): a signature revision, not a signer.
const DOC_TIMESTAMP: &str = "ETSI.RFC3161";

/// Digest the signed ranges of `bytes` in place (no copy of the file).
fn digest_ranges(bytes: &[u8], r: [u64; 4], alg: DigestAlg) -> Vec<u8> {
    let mut ctx = alg.context();
    for (start, len) in [(r[0], r[1]), (r[2], r[3])] {
        let (s, e) = (start as usize, (start + len) as usize);
        ctx.update(&bytes[s..e]);
    }
    ctx.finish().as_ref().to_vec()
}

/// `pos` without the whitespace before it: revision ends compare equal
/// whether or not a writer counted the line end after `%%EOF`.
fn trimmed(bytes: &[u8], mut pos: usize) -> usize {
    pos = pos.min(bytes.len());
    while pos > 0 && bytes[pos - 1].is_ascii_whitespace() {
        pos -= 1;
    }
    pos
}

/// Check every signature of `bytes` against `trust` at `now_ms`.
pub fn verify_pdf(
    bytes: &[u8],
    trust: &Trust,
    now_ms: i64,
) -> Result<Vec<SignatureReport>, ScanError> {
    let found = pdf_sigs::scan(bytes)?;
    if found.signatures.is_empty() {
        return Ok(Vec::new());
    }
    // CRLs and certificates a PAdES B-LT file keeps in its /DSS are not
    // read (the DSS may sit in a compressed object stream, which would need
    // the whole file parsed): the held CRLs and those in the CMS count.
    // Where signatures end: an update ending there is a later signature, any
    // other is a change after signing.
    let sig_ends: Vec<usize> = found
        .signatures
        .iter()
        .filter(|s| s.range_problem.is_none())
        .map(|s| trimmed(bytes, (s.byte_range[2] + s.byte_range[3]) as usize))
        .collect();
    let mut boundaries: Vec<usize> = found
        .revision_ends
        .iter()
        .map(|&e| trimmed(bytes, e as usize))
        .collect();
    boundaries.push(trimmed(bytes, bytes.len()));
    let file_end = trimmed(bytes, bytes.len());
    let mut out = Vec::new();
    for s in &found.signatures {
        if s.sub_filter == DOC_TIMESTAMP {
            continue;
        }
        let end = trimmed(bytes, (s.byte_range[2] + s.byte_range[3]) as usize);
        let modified = boundaries
            .iter()
            .any(|&b| b > end && !sig_ends.contains(&b));
        out.push(one(bytes, s, modified, end >= file_end, trust, now_ms));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn one(
    bytes: &[u8],
    s: &FoundSignature,
    modified: bool,
    covers_whole_file: bool,
    trust: &Trust,
    now_ms: i64,
) -> SignatureReport {
    let mut report = SignatureReport {
        signer: String::new(),
        organization: None,
        serial: String::new(),
        signed_at_ms: s.claimed_at_ms,
        timestamped: false,
        status: SignatureStatus::Invalid,
        reason: None,
        sub_filter: s.sub_filter.clone(),
        field: s.field.clone(),
        covers_whole_file,
        chain: Vec::new(),
    };
    if !DETACHED.contains(&s.sub_filter.as_str()) {
        report.reason = Some(format!("unsupported signature format {:?}", s.sub_filter));
        return report;
    }
    if let Some(p) = &s.range_problem {
        report.reason = Some(p.clone());
        return report;
    }
    let cms: CmsCheck =
        cms_check::check(&s.contents, |alg| digest_ranges(bytes, s.byte_range, alg));
    if let Some(signer) = &cms.signer {
        name_signer(&mut report, signer);
    }
    if let Some(p) = cms.problem {
        report.reason = Some(p);
        return report;
    }
    let Some(signer) = &cms.signer else {
        report.reason = Some("the CMS does not carry the signer's certificate".into());
        return report;
    };
    let pool = cms.certs.clone();
    let crls: Vec<Crl> = cms.crls.iter().filter_map(|d| parse_crl(d).ok()).collect();
    let stamped = cms
        .timestamp_token
        .as_deref()
        .map(|t| timestamp::check(t, &cms.signature, &pool, &crls, trust, now_ms));
    let at_ms = match &stamped {
        Some(Ok(t)) => {
            report.timestamped = true;
            *t
        }
        _ => cms.claimed_at_ms.or(s.claimed_at_ms).unwrap_or(now_ms),
    };
    report.signed_at_ms = Some(at_ms);
    if cms.claimed_at_ms.is_none() && s.claimed_at_ms.is_none() && !report.timestamped {
        report.signed_at_ms = None;
    }
    let path = chain::check(
        signer,
        &pool,
        &crls,
        trust,
        at_ms,
        report.timestamped,
        now_ms,
    );
    report.chain = path.chain.iter().map(chain::info).collect();
    if modified {
        report.status = SignatureStatus::ModifiedAfterSigning;
        report.reason = Some(
            "the file was updated after this signature by a revision that is not a signature"
                .into(),
        );
        return report;
    }
    report.status = path.status;
    report.reason = path.reason;
    if let (Some(Err(why)), SignatureStatus::Valid | SignatureStatus::RevocationUnknown) =
        (&stamped, report.status)
    {
        // An unusable timestamp does not break the signature, but say so.
        let note = format!("its timestamp was not usable: {why}");
        report.reason = Some(match report.reason.take() {
            Some(r) => format!("{r}; {note}"),
            None => note,
        });
    }
    report
}

fn name_signer(report: &mut SignatureReport, signer: &Certificate) {
    let subject = signer.tbs_certificate().subject();
    let text = |v: Option<x509_cert::ext::pkix::name::DirectoryString>| v.map(String::from);
    report.signer =
        text(subject.common_name().ok().flatten()).unwrap_or_else(|| subject.to_string());
    report.organization = text(subject.organization().ok().flatten());
    report.serial = hex::encode_upper(signer.tbs_certificate().serial_number().as_bytes());
}
