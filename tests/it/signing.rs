//! Signatures we make, checked by independent validators: pyHanko (with
//! the test's own CA as the only trust root) and poppler's `pdfsig` (with
//! an NSS database trusting that CA). The seal from a PKCS#8 key file and
//! from SoftHSM2 tokens (RSA-2048 and ECDSA P-256), personal signatures
//! through prepare/complete, and a byte changed in a signed range.
//!
//! The tools come from `.ci/setup`: pyHanko at `DIEMCAU_TEST_PYHANKO`
//! (default `/opt/diemcau-pyhanko/bin/pyhanko`), `pdfsig` and `certutil`
//! (poppler-utils, libnss3-tools), `softhsm2-util` and `pkcs11-tool`.

mod sigtools;

use std::path::Path;

use diemcau::sign::appearance::BlockText;
use diemcau::sign::keys::{FileKey, Signer};
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
