//! PAdES B-T: with `[signatures] tsa_url` every signature we make carries
//! an RFC 3161 timestamp (a local test TSA: pyHanko's DummyTimeStamper),
//! which pyHanko checks as sound and from a trusted TSA.

use serde_json::json;

use super::flow::{meeting_with_minutes, open_meeting_finalised, pdf_bytes, sign_over_api};
use super::sigtools::{TestCa, TestTsa, pdfsig, pyhanko_validate};
use crate::support::api::world_with;
use crate::support::db::both_backends;

both_backends! {
    async fn with_a_timestamp_server_the_seal_is_pades_b_t(db) {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("Test CA diemcau");
        let tsa = TestTsa::start(&ca, dir.path());
        let (seal_key, seal_chain) = ca.issue_file_key("Văn phòng Tỉnh ủy", true);
        let key_file = dir.path().join("seal.key");
        let cert_file = dir.path().join("seal.pem");
        std::fs::write(&key_file, seal_key).unwrap();
        std::fs::write(&cert_file, seal_chain).unwrap();
        let url = tsa.url.clone();
        let w = world_with(db, move |c| {
            c.signatures.key_file = Some(key_file);
            c.signatures.cert_file = Some(cert_file);
            c.signatures.tsa_url = Some(url);
        })
        .await;
        let (id, r) = open_meeting_finalised(&w).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let pdf = pdf_bytes(w.as_role("chair"), &format!("/api/v1/meetings/{id}/minutes?format=pdf")).await;
        let file = dir.path().join("b-t.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let py = pyhanko_validate(&file, &ca, dir.path());
        assert_eq!(py.valid, 1, "{}", py.output);
        assert!(py.output.contains("The timestamp token is cryptographically sound."), "{}", py.output);
        assert!(py.output.contains("The TSA certificate is trusted."), "{}", py.output);
        let pop = pdfsig(&file, &ca, dir.path());
        assert_eq!(pop.valid, 1, "{}", pop.output);
        drop(tsa);
    }
}

both_backends! {
    async fn with_a_timestamp_server_personal_signatures_and_the_seal_are_all_pades_b_t(db) {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("Test CA diemcau");
        let tsa = TestTsa::start(&ca, dir.path());
        let file_key = |name: &str, org: &str, rsa: bool| {
            let (k, c) = ca.issue_file_key(org, rsa);
            let (kf, cf) = (dir.path().join(format!("{name}.key")), dir.path().join(format!("{name}.pem")));
            std::fs::write(&kf, k).unwrap();
            std::fs::write(&cf, c).unwrap();
            (kf, cf)
        };
        let (seal_key, seal_cert) = file_key("seal", "Văn phòng Tỉnh ủy", true);
        let (sk, sc) = file_key("thu-ky", "Trần Thị Thư", true);
        let (ck, cc) = file_key("chu-tri", "Nguyễn Văn Chủ", false);
        let url = tsa.url.clone();
        let w = world_with(db, move |c| {
            c.signatures.key_file = Some(seal_key);
            c.signatures.cert_file = Some(seal_cert);
            c.signatures.tsa_url = Some(url);
        })
        .await;
        let id = meeting_with_minutes(&w).await;
        let r = w.as_role("secretary").post(&format!("/api/v1/meetings/{id}/minutes/finalise"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let secretary = diemcau::sign::keys::FileKey::open(&sk, &sc).unwrap();
        let chair = diemcau::sign::keys::FileKey::open(&ck, &cc).unwrap();
        let (status, body) = sign_over_api(w.as_role("secretary"), &id, &secretary).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = sign_over_api(w.as_role("chair"), &id, &chair).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["sealed"], true, "{body}");
        let pdf = pdf_bytes(w.as_role("chair"), &format!("/api/v1/meetings/{id}/minutes?format=pdf")).await;
        let file = dir.path().join("b-t-3.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let py = pyhanko_validate(&file, &ca, dir.path());
        assert_eq!(py.valid, 3, "{}", py.output);
        assert_eq!(py.output.matches("The timestamp token is cryptographically sound.").count(), 3, "{}", py.output);
        drop(tsa);
    }
}
