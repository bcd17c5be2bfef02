//! Checking signed PDFs made by an independent signer (pyHanko) with a test
//! PKI made here: each status of the issue, from the same signed file and
//! different trust material.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diemcau::sign::trust::{Trust, parse_certificates, parse_crl};
use diemcau::sign::verify::verify_pdf;
use diemcau::sign::{SignatureReport, SignatureStatus};

use crate::documents::pdf;
use crate::support::pki::{Ca, append_unsigned_revision, pyhanko_sign};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn trust(anchors: &[&str], crls: &[&str]) -> Trust {
    Trust {
        anchors: anchors
            .iter()
            .flat_map(|p| parse_certificates(p.as_bytes()).unwrap())
            .collect(),
        crls: crls
            .iter()
            .map(|c| parse_crl(c.as_bytes()).unwrap())
            .collect(),
    }
}

fn only(reports: Vec<SignatureReport>) -> SignatureReport {
    assert_eq!(reports.len(), 1, "{reports:#?}");
    reports.into_iter().next().unwrap()
}

/// A root, a sub-CA under it, and a document signed by a person the sub-CA
/// certified, with the sub-CA in the signature's chain.
struct Fixture {
    _dir: tempfile::TempDir,
    root: Ca,
    sub: Ca,
    signed: Vec<u8>,
    serial: u64,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = Ca::root("Root CA thử nghiệm");
    let sub = root.intermediate("Sub CA thử nghiệm");
    let sub_pem = dir.path().join("sub.pem");
    std::fs::write(&sub_pem, &sub.pem).unwrap();
    let signer = sub.signer(dir.path(), "Nguyễn Văn An", "Văn phòng Tỉnh ủy", 4242);
    let signed = pyhanko_sign(
        dir.path(),
        &pdf("Nghi quyet"),
        &signer,
        &[&sub_pem],
        "ChuKy1",
    );
    Fixture {
        _dir: dir,
        root,
        sub,
        signed,
        serial: signer.serial,
    }
}

#[test]
fn a_pdf_signed_with_a_trusted_root_and_current_crls_is_valid_and_names_its_signer() {
    let f = fixture();
    let t = trust(&[&f.root.pem], &[&f.root.fresh_crl(), &f.sub.fresh_crl()]);
    let r = only(verify_pdf(&f.signed, &t, now_ms()).unwrap());
    assert_eq!(r.status, SignatureStatus::Valid, "{r:#?}");
    assert_eq!(r.signer, "Nguyễn Văn An");
    assert_eq!(r.organization.as_deref(), Some("Văn phòng Tỉnh ủy"));
    assert_eq!(r.serial.trim_start_matches('0'), format!("{:X}", f.serial));
    assert_eq!(r.field.as_deref(), Some("ChuKy1"));
    assert!(r.covers_whole_file);
    assert_eq!(r.chain.len(), 3, "signer, sub-CA, root");
    let signed_at = r.signed_at_ms.expect("pyHanko states the signing time");
    assert!((now_ms() - signed_at).abs() < 10 * 60_000, "{signed_at}");
}

#[test]
fn a_pdf_whose_root_is_not_an_anchor_is_untrusted() {
    let f = fixture();
    let other = Ca::root("Another root");
    let t = trust(&[&other.pem], &[&other.fresh_crl()]);
    let r = only(verify_pdf(&f.signed, &t, now_ms()).unwrap());
    assert_eq!(r.status, SignatureStatus::Untrusted, "{r:#?}");
    let empty = only(verify_pdf(&f.signed, &Trust::default(), now_ms()).unwrap());
    assert_eq!(empty.status, SignatureStatus::Untrusted);
}

#[test]
fn a_signer_listed_on_its_issuers_crl_is_revoked() {
    let f = fixture();
    let revoking = f.sub.crl(
        &[f.serial],
        Duration::from_secs(60),
        Duration::from_secs(7 * 86_400),
    );
    let t = trust(&[&f.root.pem], &[&f.root.fresh_crl(), &revoking]);
    let r = only(verify_pdf(&f.signed, &t, now_ms()).unwrap());
    assert_eq!(r.status, SignatureStatus::Revoked, "{r:#?}");
}

#[test]
fn a_crl_past_its_next_update_leaves_revocation_unknown_not_valid() {
    let f = fixture();
    let stale = f.sub.crl(
        &[],
        Duration::from_secs(10 * 86_400),
        Duration::from_secs(86_400),
    );
    let t = trust(&[&f.root.pem], &[&f.root.fresh_crl(), &stale]);
    let r = only(verify_pdf(&f.signed, &t, now_ms()).unwrap());
    assert_eq!(r.status, SignatureStatus::RevocationUnknown, "{r:#?}");
    let none = trust(&[&f.root.pem], &[&f.root.fresh_crl()]);
    let r = only(verify_pdf(&f.signed, &none, now_ms()).unwrap());
    assert_eq!(
        r.status,
        SignatureStatus::RevocationUnknown,
        "no CRL of the sub-CA: {r:#?}"
    );
}

#[test]
fn an_unsigned_revision_appended_after_signing_is_reported_as_modified() {
    let f = fixture();
    let t = trust(&[&f.root.pem], &[&f.root.fresh_crl(), &f.sub.fresh_crl()]);
    let edited = append_unsigned_revision(&f.signed);
    let r = only(verify_pdf(&edited, &t, now_ms()).unwrap());
    assert_eq!(r.status, SignatureStatus::ModifiedAfterSigning, "{r:#?}");
    assert!(!r.covers_whole_file);
}

#[test]
fn one_byte_changed_inside_the_signed_range_is_invalid() {
    let f = fixture();
    let t = trust(&[&f.root.pem], &[&f.root.fresh_crl(), &f.sub.fresh_crl()]);
    let mut changed = f.signed.clone();
    let at = changed
        .windows(10)
        .position(|w| w == b"Nghi quyet")
        .expect("the page text");
    changed[at] = b'M';
    let r = only(verify_pdf(&changed, &t, now_ms()).unwrap());
    assert_eq!(r.status, SignatureStatus::Invalid, "{r:#?}");
    assert!(r.reason.unwrap().contains("digest"));
}

#[test]
fn a_certificate_expired_before_signing_is_expired() {
    let dir = tempfile::tempdir().unwrap();
    let root = Ca::root("Root CA thử nghiệm");
    let signer = root.signer_valid(dir.path(), "Trần Thị Bình", "Ban Tổ chức", 77, -2);
    let signed = pyhanko_sign(dir.path(), &pdf("Quyet dinh"), &signer, &[], "ChuKy1");
    let t = trust(&[&root.pem], &[&root.fresh_crl()]);
    let r = only(verify_pdf(&signed, &t, now_ms()).unwrap());
    assert_eq!(r.status, SignatureStatus::Expired, "{r:#?}");
}

#[test]
fn an_unsigned_pdf_has_no_signatures() {
    assert!(
        verify_pdf(&pdf("Khong ky"), &Trust::default(), now_ms())
            .unwrap()
            .is_empty()
    );
}

/// The fuzz target's property, run on every CI: a signed file with random
/// bytes of its signed ranges changed, truncated, or its byte range
/// rewritten gives a status for each signature it still has — never a
/// panic, never `valid`. (Bytes outside the ranges — the signature value's
/// zero padding — may change without harm.)
#[test]
fn hostile_mutations_of_a_signed_pdf_give_a_status_and_never_valid() {
    let f = fixture();
    let t = trust(&[&f.root.pem], &[&f.root.fresh_crl(), &f.sub.fresh_crl()]);
    let range = only(verify_pdf(&f.signed, &t, now_ms()).unwrap());
    assert_eq!(range.status, SignatureStatus::Valid);
    let text = String::from_utf8_lossy(&f.signed).into_owned();
    let at = text.find("/ByteRange [").unwrap() + 12;
    let nums: Vec<usize> = text[at..]
        .split(']')
        .next()
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let signed = |i: usize| i < nums[1] || (i >= nums[2] && i < nums[2] + nums[3]);
    // A fixed xorshift: the same mutations on every machine.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut checked = 0;
    for round in 0..300 {
        let mut m = f.signed.clone();
        let touches_signed = match round % 3 {
            0 => {
                let mut hit = false;
                for _ in 0..1 + next() % 4 {
                    let i = (next() as usize) % m.len();
                    m[i] ^= 1 << (next() % 8);
                    hit |= signed(i);
                }
                hit
            }
            1 => {
                let cut = (next() as usize) % m.len();
                m.truncate(cut);
                cut < nums[2] + nums[3]
            }
            _ => {
                let i = at + (next() as usize) % 24;
                let before = m[i];
                if before.is_ascii_digit() {
                    m[i] = b'0' + (next() % 10) as u8;
                }
                m[i] != before
            }
        };
        if let Ok(reports) = verify_pdf(&m, &t, now_ms())
            && touches_signed
        {
            checked += 1;
            for r in reports {
                assert_ne!(
                    r.status,
                    SignatureStatus::Valid,
                    "round {round}: a changed file checked valid"
                );
            }
        }
    }
    assert!(checked > 100, "only {checked} mutations reached the check");
}
