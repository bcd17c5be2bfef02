//! The signing protocol over real HTTP, on SQLite and PostgreSQL: a closed
//! BTV meeting's final minutes signed by its secretary (RSA-2048 on a
//! SoftHSM2 token), then its chair (ECDSA P-256 on another), then sealed
//! by the server (a key file); who has signed and who is still to sign;
//! out-of-order, repeated and forged signatures refused and audited.

use base64::Engine;
use serde_json::{Value, json};

use super::sigtools::{SoftHsm, TestCa, pdfsig, pyhanko_validate};
use crate::support::api::{ApiWorld, Client, world_with};
use crate::support::db::both_backends;
use diemcau::sign::keys::{Pkcs11Key, Pkcs11Params, Signer};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub async fn pdf_bytes(c: &Client, path: &str) -> Vec<u8> {
    let mut req = c.http.get(format!("{}{path}", c.base));
    if let Some(t) = &c.bearer {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("request");
    assert_eq!(r.status(), 200);
    r.bytes().await.expect("body").to_vec()
}

/// A closed BTV meeting with a secretary and a chair, minutes saved.
pub async fn meeting_with_minutes(w: &ApiWorld) -> String {
    let start = diemcau::store::now_ms() + 3_600_000;
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Thường vụ Tỉnh ủy",
                "kind": "btv",
                "starts_at_ms": start,
                "ends_at_ms": start + 7_200_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("w")],
                "chair_user_id": w.users["chair"],
                "secretary_user_id": w.users["secretary"],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    assert_eq!(made.body["meetings"][0]["access_policy"], "closed");
    let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
    let r = w
        .as_role("secretary")
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/meetings/{id}/minutes"),
            Some(&json!({"conclusions": "Hội nghị thống nhất thông qua."})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

fn token(label: &str, pin: &str) -> Pkcs11Key {
    Pkcs11Key::open(&Pkcs11Params {
        module: super::sigtools::SOFTHSM_MODULE.into(),
        token: Some(label.into()),
        slot: None,
        key_label: "ky-so".into(),
        pin: pin.into(),
        cert_file: None,
    })
    .expect("token opens")
}

/// Prepare and complete over the API with a token.
pub(super) async fn sign_over_api(c: &Client, id: &str, key: &dyn Signer) -> (u16, Value) {
    use der::Encode;
    let chain: Vec<String> = key
        .chain()
        .iter()
        .map(|c| b64(&c.to_der().expect("der")))
        .collect();
    let path = format!("/api/v1/meetings/{id}/minutes/signatures");
    let r = c
        .post(&format!("{path}/prepare"), json!({"chain": chain}))
        .await;
    if r.status != 200 {
        return (r.status.as_u16(), r.body);
    }
    let tbs = base64::engine::general_purpose::STANDARD
        .decode(r.body["to_be_signed"].as_str().unwrap())
        .unwrap();
    let sig = key.sign(&tbs).expect("token signs");
    let r = c
        .post(&format!("{path}/complete"), json!({"signature": b64(&sig)}))
        .await;
    (r.status.as_u16(), r.body)
}

fn roles(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["role"].as_str().unwrap().to_string())
        .collect()
}

both_backends! {
    async fn secretary_then_chair_then_the_seal_sign_the_final_minutes_in_order(db) {
        let hsm = SoftHsm::new();
        let ca = TestCa::new("Test CA diemcau");
        hsm.token_with_key("thu-ky", "1111", "ky-so", true, &ca, "Trần Thị Thư", None);
        hsm.token_with_key("chu-tri", "2222", "ky-so", false, &ca, "Nguyễn Văn Chủ", None);
        let (seal_key, seal_chain) = ca.issue_file_key("Văn phòng Tỉnh ủy", true);
        let dir = hsm.dir.path().to_path_buf();
        let key_file = dir.join("seal.key");
        let cert_file = dir.join("seal.pem");
        std::fs::write(&key_file, seal_key).unwrap();
        std::fs::write(&cert_file, seal_chain).unwrap();
        let w = world_with(db, move |c| {
            c.signatures.key_file = Some(key_file);
            c.signatures.cert_file = Some(cert_file);
        })
        .await;
        let id = meeting_with_minutes(&w).await;
        let sec = w.as_role("secretary");
        let chair = w.as_role("chair");
        let path = format!("/api/v1/meetings/{id}/minutes/signatures");

        // Before finalise: nothing to sign.
        let (status, body) = sign_over_api(sec, &id, &token("thu-ky", "1111")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("not_final")), "{body}");

        let r = sec.post(&format!("/api/v1/meetings/{id}/minutes/finalise"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let st = w.as_role("chair").get(&path).await;
        assert_eq!(st.status, 200, "{}", st.text);
        assert_eq!(roles(&st.body["pending"]), ["secretary", "chair", "seal"]);
        assert_eq!(st.body["sealed"], false);

        // The chair does not sign before the secretary.
        let (status, body) = sign_over_api(chair, &id, &token("chu-tri", "2222")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("secretary_first")), "{body}");

        // A forged value (signed by another key) is refused and audited.
        let thu_ky = token("thu-ky", "1111");
        let chu_tri = token("chu-tri", "2222");
        {
            use der::Encode;
            let chain: Vec<String> = thu_ky.chain().iter().map(|c| b64(&c.to_der().unwrap())).collect();
            let r = sec.post(&format!("{path}/prepare"), json!({"chain": chain})).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let tbs = base64::engine::general_purpose::STANDARD
                .decode(r.body["to_be_signed"].as_str().unwrap()).unwrap();
            let forged = chu_tri.sign(&tbs).unwrap();
            let r = sec.post(&format!("{path}/complete"), json!({"signature": b64(&forged)})).await;
            assert_eq!((r.status.as_u16(), r.field()), (422, "signature"), "{}", r.text);
            let refused: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'minutes.sign_refused'",
            )
            .fetch_one(w.db.store.pool()).await.unwrap();
            assert_eq!(refused, 1);
        }

        let (status, body) = sign_over_api(sec, &id, &thu_ky).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(roles(&body["signed"]), ["secretary"]);
        assert_eq!(roles(&body["pending"]), ["chair", "seal"]);
        // Once per version.
        let (status, body) = sign_over_api(sec, &id, &thu_ky).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("already_signed")), "{body}");

        let (status, body) = sign_over_api(chair, &id, &chu_tri).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(roles(&body["signed"]), ["secretary", "chair", "seal"]);
        assert_eq!(body["sealed"], true);
        assert_eq!(body["pending"], json!([]));
        assert_eq!(body["signed"][0]["signer"], "Trần Thị Thư");

        // What everyone downloads: the PDF with all three, valid.
        let pdf = pdf_bytes(w.as_role("chair"), &format!("/api/v1/meetings/{id}/minutes?format=pdf")).await;
        let file = dir.join("bien-ban.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let py = pyhanko_validate(&file, &ca, &dir);
        assert_eq!(py.valid, 3, "{}", py.output);
        let pop = pdfsig(&file, &ca, &dir);
        assert_eq!(pop.valid, 3, "{}", pop.output);
        let same = pdf_bytes(sec, &format!("/api/v1/meetings/{id}/minutes/versions/1?format=pdf")).await;
        assert_eq!(same, pdf);

        // Nothing after the seal.
        let (status, body) = sign_over_api(chair, &id, &chu_tri).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("already_sealed")), "{body}");
        let actions: Vec<String> = sqlx::query_scalar(
            "SELECT action FROM audit_log WHERE action LIKE 'minutes.sign%' OR action = 'minutes.seal' ORDER BY seq",
        )
        .fetch_all(w.db.store.pool()).await.unwrap();
        assert_eq!(
            actions,
            ["minutes.sign_prepare", "minutes.sign_refused", "minutes.sign_prepare",
             "minutes.sign", "minutes.sign_prepare", "minutes.sign", "minutes.seal"]
        );
    }
}

both_backends! {
    async fn an_open_meeting_is_sealed_at_finalise(db) {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("Test CA diemcau");
        let (seal_key, seal_chain) = ca.issue_file_key("Văn phòng Tỉnh ủy", false);
        let key_file = dir.path().join("seal.key");
        let cert_file = dir.path().join("seal.pem");
        std::fs::write(&key_file, seal_key).unwrap();
        std::fs::write(&cert_file, seal_chain).unwrap();
        let w = world_with(db, move |c| {
            c.signatures.key_file = Some(key_file);
            c.signatures.cert_file = Some(cert_file);
        })
        .await;
        let id = meeting_with_minutes(&w).await;
        let r = w.as_role("secretary")
            .patch(&format!("/api/v1/meetings/{id}"), json!({"access_policy": "open"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = w.as_role("secretary").post(&format!("/api/v1/meetings/{id}/minutes/finalise"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let st = w.as_role("chair").get(&format!("/api/v1/meetings/{id}/minutes/signatures")).await;
        assert_eq!(roles(&st.body["signed"]), ["seal"], "{}", st.text);
        assert_eq!(st.body["pending"], json!([]));
        let pdf = pdf_bytes(w.as_role("chair"), &format!("/api/v1/meetings/{id}/minutes?format=pdf")).await;
        let file = dir.path().join("sealed.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let py = pyhanko_validate(&file, &ca, dir.path());
        assert_eq!(py.valid, 1, "{}", py.output);
        let pop = pdfsig(&file, &ca, dir.path());
        assert_eq!(pop.valid, 1, "{}", pop.output);

        // A new version is a new PDF with its own seal; the first stays.
        let sec = w.as_role("secretary");
        let r = sec
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/meetings/{id}/minutes"),
                Some(&json!({"conclusions": "Hội nghị thống nhất thông qua, có sửa đổi."})),
            )
            .await;
        assert_eq!(r.body["version"], 2, "{}", r.text);
        let r = sec.post(&format!("/api/v1/meetings/{id}/minutes/finalise"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let st = sec.get(&format!("/api/v1/meetings/{id}/minutes/signatures")).await;
        assert_eq!(st.body["version"], 2, "{}", st.text);
        assert_eq!(roles(&st.body["signed"]), ["seal"]);
        let v2 = pdf_bytes(sec, &format!("/api/v1/meetings/{id}/minutes?format=pdf")).await;
        assert_ne!(v2, pdf);
        let v1 = pdf_bytes(sec, &format!("/api/v1/meetings/{id}/minutes/versions/1?format=pdf")).await;
        assert_eq!(v1, pdf, "version 1 keeps its sealed PDF");
        let seals: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'minutes.finalise'")
            .fetch_one(w.db.store.pool()).await.unwrap();
        assert_eq!(seals, 2);
    }
}

/// `diemcau sign` as a secretary runs it on their PC.
async fn diemcau_sign(
    c: &Client,
    id: &str,
    conf: &std::path::Path,
    pin: &str,
) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_diemcau"));
    cmd.args(["sign", "--server", &c.base, "--meeting", id])
        .args([
            "--module",
            super::sigtools::SOFTHSM_MODULE,
            "--token",
            "thu-ky",
            "--key-label",
            "ky-so",
        ])
        .env("DIEMCAU_SIGN_API_TOKEN", c.bearer.as_deref().unwrap())
        .env("DIEMCAU_SIGN_PIN", pin)
        .env("SOFTHSM2_CONF", conf);
    // The server runs on this test's runtime: wait off it.
    tokio::task::spawn_blocking(move || cmd.output().expect("diemcau sign runs"))
        .await
        .unwrap()
}

both_backends! {
    async fn diemcau_sign_adds_the_secretarys_signature_from_a_softhsm_token(db) {
        let hsm = SoftHsm::new();
        let ca = TestCa::new("Test CA diemcau");
        hsm.token_with_key("thu-ky", "1111", "ky-so", true, &ca, "Trần Thị Thư", None);
        let w = world_with(db, |_| {}).await;
        let id = meeting_with_minutes(&w).await;
        let sec = w.as_role("secretary");
        let r = sec.post(&format!("/api/v1/meetings/{id}/minutes/finalise"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);

        let wrong = diemcau_sign(sec, &id, &hsm.conf, "0000").await;
        assert!(!wrong.status.success());
        let err = String::from_utf8_lossy(&wrong.stderr);
        assert!(err.contains("PIN was refused"), "{err}");
        let prepared: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM minutes_signatures")
            .fetch_one(w.db.store.pool()).await.unwrap();
        assert_eq!(prepared, 0, "a refused PIN reaches nothing on the server");

        let ok = diemcau_sign(sec, &id, &hsm.conf, "1111").await;
        let out = String::from_utf8_lossy(&ok.stdout);
        assert!(ok.status.success(), "{out}{}", String::from_utf8_lossy(&ok.stderr));
        assert!(out.contains("signed: secretary (Trần Thị Thư)"), "{out}");
        assert!(out.contains("still to sign: chair"), "{out}");

        let st = w.as_role("chair").get(&format!("/api/v1/meetings/{id}/minutes/signatures")).await;
        assert_eq!(roles(&st.body["signed"]), ["secretary"], "{}", st.text);
        assert_eq!(roles(&st.body["pending"]), ["chair"], "no seal is configured");
        let pdf = pdf_bytes(sec, &format!("/api/v1/meetings/{id}/minutes?format=pdf")).await;
        let dir = hsm.dir.path();
        let file = dir.join("signed.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let py = pyhanko_validate(&file, &ca, dir);
        assert_eq!(py.valid, 1, "{}", py.output);
    }
}

/// The server's seal on a SoftHSM2 token, PIN from a file.
fn token_seal(c: &mut diemcau::config::Config, hsm_dir: &std::path::Path, pin: &str) {
    let pin_file = hsm_dir.join(format!("pin-{pin}"));
    std::fs::write(&pin_file, format!("{pin}\n")).unwrap();
    c.signatures.pkcs11_module = Some(super::sigtools::SOFTHSM_MODULE.into());
    c.signatures.pkcs11_token = Some("van-phong".into());
    c.signatures.pkcs11_key_label = Some("con-dau".into());
    c.signatures.pin_file = Some(pin_file);
}

pub(super) async fn open_meeting_finalised(w: &ApiWorld) -> (String, crate::support::api::Answer) {
    let id = meeting_with_minutes(w).await;
    let sec = w.as_role("secretary");
    let r = sec
        .patch(
            &format!("/api/v1/meetings/{id}"),
            json!({"access_policy": "open"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = sec
        .post(
            &format!("/api/v1/meetings/{id}/minutes/finalise"),
            json!({}),
        )
        .await;
    (id, r)
}

both_backends! {
    async fn the_seal_on_a_pkcs11_token_signs_at_finalise(db) {
        let hsm = SoftHsm::new();
        let ca = TestCa::new("Test CA diemcau");
        hsm.token_with_key("van-phong", "3333", "con-dau", false, &ca, "Văn phòng Tỉnh ủy", Some("Văn phòng Tỉnh ủy"));
        let dir = hsm.dir.path().to_path_buf();
        let d = dir.clone();
        let w = world_with(db, move |c| token_seal(c, &d, "3333")).await;
        let (id, r) = open_meeting_finalised(&w).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let st = w.as_role("chair").get(&format!("/api/v1/meetings/{id}/minutes/signatures")).await;
        assert_eq!(roles(&st.body["signed"]), ["seal"], "{}", st.text);
        assert_eq!(st.body["signed"][0]["organization"], "Văn phòng Tỉnh ủy");
        let pdf = pdf_bytes(w.as_role("chair"), &format!("/api/v1/meetings/{id}/minutes?format=pdf")).await;
        let file = dir.join("sealed.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let py = pyhanko_validate(&file, &ca, &dir);
        assert_eq!(py.valid, 1, "{}", py.output);
    }
}

both_backends! {
    async fn a_seal_whose_pin_is_wrong_refuses_the_finalise_and_is_audited(db) {
        let hsm = SoftHsm::new();
        let ca = TestCa::new("Test CA diemcau");
        hsm.token_with_key("van-phong", "3333", "con-dau", true, &ca, "Văn phòng Tỉnh ủy", Some("Văn phòng Tỉnh ủy"));
        let d = hsm.dir.path().to_path_buf();
        let w = world_with(db, move |c| token_seal(c, &d, "0000")).await;
        let (id, r) = open_meeting_finalised(&w).await;
        assert_eq!((r.status.as_u16(), r.code()), (503, "seal_unavailable"), "{}", r.text);
        assert!(r.text.contains("PIN was refused"), "{}", r.text);
        let v = w.as_role("secretary").get(&format!("/api/v1/meetings/{id}/minutes")).await;
        assert_eq!(v.body["status"], "draft", "an unsealed finalise changes nothing");
        let failed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'minutes.seal_failed'",
        )
        .fetch_one(w.db.store.pool()).await.unwrap();
        assert_eq!(failed, 1);
        let pdfs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM minutes_pdfs")
            .fetch_one(w.db.store.pool()).await.unwrap();
        assert_eq!(pdfs, 0);
        // Not offered to the token again: it would lock after a few.
        let r = w.as_role("secretary").post(&format!("/api/v1/meetings/{id}/minutes/finalise"), json!({})).await;
        assert_eq!((r.status.as_u16(), r.code()), (503, "seal_unavailable"), "{}", r.text);
        assert!(r.text.contains("not tried again"), "{}", r.text);
    }
}
