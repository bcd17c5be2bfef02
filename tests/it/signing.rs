//! Signatures we make, checked by independent validators: pyHanko (with
//! the test's own CA as the only trust root) and poppler's `pdfsig` (with
//! an NSS database trusting that CA). The seal from a PKCS#8 key file and
//! from SoftHSM2 tokens (RSA-2048 and ECDSA P-256), personal signatures
//! through prepare/complete, and a byte changed in a signed range.
//!
//! The tools come from `.ci/setup`: pyHanko at `DIEMCAU_TEST_PYHANKO`
//! (default `/opt/diemcau-pyhanko/bin/pyhanko`), `pdfsig` and `certutil`
//! (poppler-utils, libnss3-tools), `softhsm2-util` and `pkcs11-tool`.

mod bad_input;
mod flow;
mod results;
mod sigtools;
mod timestamps;

use std::path::Path;

use diemcau::sign::SignatureStatus;
use diemcau::sign::appearance::BlockText;
use diemcau::sign::keys::{FileKey, Signer};
use diemcau::sign::verify::verify_pdf;
use sigtools::{TestCa, pdfsig, pyhanko_validate};

/// A minutes PDF as the server renders it.
pub fn minutes_pdf() -> Vec<u8> {
    let m: diemcau::control::minutes::Minutes = serde_json::from_value(serde_json::json!({
        "header": {
            "meeting_id": "mtg_seal", "title": "Hội nghị Ban Thường vụ Tỉnh ủy",
            "kind": "btv", "kind_label": "Hội nghị Ban Thường vụ",
            "starts_at_ms": 1_767_225_600_000i64, "ends_at_ms": 1_767_232_800_000i64,
            "started_at_ms": null, "ended_at_ms": null,
            "local_date": "2026-01-01", "local_start": "07:00", "local_end": "09:00",
            "chair": "Nguyễn Văn Chủ", "secretary": "Trần Thị Thư"
        },
        "attendance": null, "agenda": [], "floor": [], "motions": [],
        "notes": "Diễn biến hội nghị.", "conclusions": "Thống nhất thông qua.",
        "generated_at_ms": 1_767_232_800_000i64
    }))
    .expect("minutes");
    diemcau::pdf::minutes::render(&m, None).expect("render")
}

fn block(signer: &str, role: &str) -> BlockText {
    BlockText {
        signer: signer.into(),
        organization: Some("Văn phòng Tỉnh ủy".into()),
        role: role.into(),
        signed_at_ms: diemcau::store::now_ms(),
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[test]
fn a_pdf_sealed_with_a_key_file_is_valid_in_pyhanko_and_pdfsig() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca = TestCa::new("Test CA diemcau");
    let (key_pem, chain_pem) = ca.issue_file_key("Văn phòng Tỉnh ủy", false);
    let key = FileKey::open(
        &write(dir.path(), "seal.key", key_pem.as_bytes()),
        &write(dir.path(), "seal.pem", chain_pem.as_bytes()),
    )
    .expect("key opens");
    let signed = diemcau::sign::make::sign_with(
        &minutes_pdf(),
        &key,
        "seal",
        "Đóng dấu biên bản",
        block("Văn phòng Tỉnh ủy", "Dấu của cơ quan"),
    )
    .expect("signs");
    let file = write(dir.path(), "signed.pdf", &signed);
    let py = pyhanko_validate(&file, &ca, dir.path());
    assert_eq!(py.valid, 1, "{}", py.output);
    let pop = pdfsig(&file, &ca, dir.path());
    assert_eq!(pop.valid, 1, "{}", pop.output);
    assert!(key.chain().len() == 2);
}

fn token_key(
    label: &str,
    pin: &str,
    key_label: &str,
) -> Result<diemcau::sign::keys::Pkcs11Key, diemcau::sign::keys::KeyError> {
    diemcau::sign::keys::Pkcs11Key::open(&diemcau::sign::keys::Pkcs11Params {
        module: sigtools::SOFTHSM_MODULE.into(),
        token: Some(label.into()),
        slot: None,
        key_label: key_label.into(),
        pin: pin.into(),
        cert_file: None,
    })
}

#[test]
fn two_personal_signatures_from_softhsm_tokens_then_the_seal_are_all_valid_in_pyhanko_pdfsig_and_ours()
 {
    let hsm = sigtools::SoftHsm::new();
    let ca = TestCa::new("Test CA diemcau");
    // The secretary's token: RSA-2048; the chair's: ECDSA P-256; the seal:
    // RSA-2048 on the office's token.
    hsm.token_with_key("thu-ky", "1111", "ky-so", true, &ca, "Trần Thị Thư", None);
    hsm.token_with_key(
        "chu-tri",
        "2222",
        "ky-so",
        false,
        &ca,
        "Nguyễn Văn Chủ",
        None,
    );
    hsm.token_with_key(
        "van-phong",
        "3333",
        "con-dau",
        true,
        &ca,
        "Văn phòng Tỉnh ủy",
        Some("Văn phòng Tỉnh ủy"),
    );

    let mut pdf = minutes_pdf();
    for (label, pin, key_label, field, role) in [
        ("thu-ky", "1111", "ky-so", "secretary", "Thư ký"),
        ("chu-tri", "2222", "ky-so", "chair", "Chủ trì"),
        ("van-phong", "3333", "con-dau", "seal", "Dấu của cơ quan"),
    ] {
        let key = token_key(label, pin, key_label).expect("token key opens");
        // The two steps as the API runs them: prepare, sign elsewhere, complete.
        let pending = diemcau::sign::make::prepare(
            &pdf,
            key.chain(),
            field,
            "Ký biên bản",
            block(label, role),
            false,
        )
        .expect("prepares");
        let signature = key.sign(&pending.to_be_signed).expect("token signs");
        pdf = diemcau::sign::make::complete(&pending, key.chain(), &signature).expect("completes");
    }
    let dir = hsm.dir.path();
    let file = write(dir, "three.pdf", &pdf);
    let py = pyhanko_validate(&file, &ca, dir);
    assert_eq!(py.valid, 3, "{}", py.output);
    let pop = pdfsig(&file, &ca, dir);
    assert_eq!(pop.valid, 3, "{}", pop.output);
    // And our own verifier (the checking half) agrees.
    let ours = verify_pdf(&pdf, &ca.trust(), diemcau::store::now_ms()).expect("scans");
    let statuses: Vec<_> = ours.iter().map(|r| (r.signer.as_str(), r.status)).collect();
    assert_eq!(
        statuses,
        [
            ("Trần Thị Thư", SignatureStatus::Valid),
            ("Nguyễn Văn Chủ", SignatureStatus::Valid),
            ("Văn phòng Tỉnh ủy", SignatureStatus::Valid),
        ],
        "{ours:#?}"
    );
}

#[test]
fn a_wrong_pin_or_a_certificate_of_another_key_is_refused() {
    let hsm = sigtools::SoftHsm::new();
    let ca = TestCa::new("Test CA diemcau");
    hsm.token_with_key("thu-ky", "1111", "ky-so", true, &ca, "Trần Thị Thư", None);
    match token_key("thu-ky", "0000", "ky-so") {
        Err(diemcau::sign::keys::KeyError::WrongPin(t)) => assert_eq!(t, "thu-ky"),
        Err(e) => panic!("not a wrong-PIN refusal: {e}"),
        Ok(_) => panic!("a wrong PIN opened the token"),
    }
    match token_key("khong-co", "1111", "ky-so") {
        Err(diemcau::sign::keys::KeyError::NoToken(_)) => {}
        other => panic!("a missing token: {:?}", other.err().map(|e| e.to_string())),
    }
    // A certificate file for another key.
    let (_, other_chain) = ca.issue_file_key("Khác", true);
    let other = write(hsm.dir.path(), "other.pem", other_chain.as_bytes());
    let mismatch = diemcau::sign::keys::Pkcs11Key::open(&diemcau::sign::keys::Pkcs11Params {
        module: sigtools::SOFTHSM_MODULE.into(),
        token: Some("thu-ky".into()),
        slot: None,
        key_label: "ky-so".into(),
        pin: "1111".into(),
        cert_file: Some(other),
    });
    assert!(
        matches!(mismatch, Err(diemcau::sign::keys::KeyError::Mismatch(_))),
        "{:?}",
        mismatch.err().map(|e| e.to_string())
    );
}

#[test]
fn one_byte_changed_in_a_signed_range_is_invalid_in_pyhanko_pdfsig_and_ours() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca = TestCa::new("Test CA diemcau");
    let (key_pem, chain_pem) = ca.issue_file_key("Văn phòng Tỉnh ủy", true);
    let key = FileKey::open(
        &write(dir.path(), "seal.key", key_pem.as_bytes()),
        &write(dir.path(), "seal.pem", chain_pem.as_bytes()),
    )
    .expect("key opens");
    let mut signed = diemcau::sign::make::sign_with(
        &minutes_pdf(),
        &key,
        "seal",
        "Đóng dấu",
        block("Văn phòng Tỉnh ủy", "Dấu của cơ quan"),
    )
    .expect("signs");
    // A letter of the document's info dictionary, in the first range.
    let at = signed
        .windows(9)
        .position(|w| w == b"/Producer")
        .expect("producer")
        + 11;
    signed[at] ^= 0x01;
    let file = write(dir.path(), "changed.pdf", &signed);
    let py = pyhanko_validate(&file, &ca, dir.path());
    assert_eq!(py.valid, 0, "{}", py.output);
    assert_eq!(py.invalid, 1, "{}", py.output);
    let pop = pdfsig(&file, &ca, dir.path());
    assert_eq!(pop.valid, 0, "{}", pop.output);
    assert_eq!(pop.invalid, 1, "{}", pop.output);
    let ours = verify_pdf(&signed, &ca.trust(), diemcau::store::now_ms()).expect("scans");
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].status, SignatureStatus::Invalid, "{ours:#?}");
}
