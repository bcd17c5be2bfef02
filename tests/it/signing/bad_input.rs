//! Bad input to the signing routes: a clear 4xx with the documented JSON
//! error, nothing changed, never a 500.

use base64::Engine;
use serde_json::json;

use super::flow::meeting_with_minutes;
use crate::support::api::{fingerprint, world};
use crate::support::db::both_backends;

both_backends! {
    async fn broken_chains_and_signature_values_are_refused_and_change_nothing(db) {
        let w = world(db).await;
        let id = meeting_with_minutes(&w).await;
        let sec = w.as_role("secretary");
        let r = sec.post(&format!("/api/v1/meetings/{id}/minutes/finalise"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let path = format!("/api/v1/meetings/{id}/minutes/signatures");
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        // An Ed25519 certificate: a key type the CMS here does not carry.
        let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let ed_cert = rcgen::CertificateParams::new(vec!["x".into()]).unwrap().self_signed(&ed).unwrap();
        let before = fingerprint(&w.db.store).await;
        for (body, field) in [
            (json!({"chain": []}), "chain"),
            (json!({"chain": ["not base64 at all!"]}), "chain.0"),
            (json!({"chain": [b64(b"\x30\x03\x02\x01\x01")]}), "chain"),
            (json!({"chain": vec![b64(ed_cert.der()); 9]}), "chain"),
            (json!({"chain": ["A".repeat(100_000)]}), "chain.0"),
            (json!({"chain": [b64(ed_cert.der())]}), "chain.0"),
            (json!({"chain": [b64(ed_cert.der())], "role": "seal"}), "chain.0"),
        ] {
            let r = sec.post(&format!("{path}/prepare"), body.clone()).await;
            assert_eq!((r.status.as_u16(), r.field()), (422, field), "{body}: {}", r.text);
        }
        let r = sec.post(&format!("{path}/prepare"), json!({"chain": "x"})).await;
        assert!(r.status.is_client_error(), "{}", r.text);
        let r = sec.post(&format!("{path}/complete"), json!({"signature": "%%%"})).await;
        assert_eq!((r.status.as_u16(), r.field()), (422, "signature"), "{}", r.text);
        let r = sec.post(&format!("{path}/complete"), json!({"signature": b64(&[1; 256])})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "nothing_prepared"), "{}", r.text);
        let r = sec.post(&format!("{path}/complete"), json!({"signature": b64(&[1; 256]), "role": "chair"})).await;
        assert_eq!((r.status.as_u16(), r.code()), (403, "not_a_signer"), "{}", r.text);
        // The chair's own refusal: an operator is not a personal signer.
        let r = w.as_role("operator").post(&format!("{path}/complete"), json!({"signature": b64(&[1; 256])})).await;
        assert_eq!(r.status, 403, "{}", r.text);
        assert_eq!(fingerprint(&w.db.store).await, before);
    }
}
