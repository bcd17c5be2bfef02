//! A signed PDF uploaded to a meeting shows its signer and status to its
//! readers; CRLs brought by an admin change that status for every document
//! at once; trust material from a stranger or garbage changes nothing.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::documents::{pdf, plan, upload};
use crate::support::api::{ApiWorld, Client, world_with};
use crate::support::db::both_backends;
use crate::support::pki::{Ca, pyhanko_sign};
use crate::support::server::start_with;

async fn post_crl(c: &Client, body: String) -> (StatusCode, Value) {
    let mut req = c
        .http
        .post(format!("{}/api/v1/signatures/crls", c.base))
        .header("content-type", "application/pkix-crl")
        .body(body);
    if let Some(t) = &c.bearer {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("request reaches the server");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Wait for the re-check a CRL change started to finish.
async fn rechecked(admin: &Client) {
    for _ in 0..100 {
        let t = admin.get("/api/v1/signatures/trust").await;
        assert_eq!(t.status, 200, "{}", t.text);
        if t.body["recheck"]["running"] == false {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the re-check did not finish in 10 s");
}

async fn status_of(c: &Client, meeting: &str, doc: &str) -> Value {
    let d = c
        .get(&format!("/api/v1/meetings/{meeting}/documents/{doc}"))
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    d.body["signatures"][0].clone()
}

both_backends! {
    async fn a_signed_upload_shows_its_signer_and_crls_brought_later_change_its_status(db) {
        let pki = tempfile::tempdir().unwrap();
        let root = Ca::root("Root CA thử nghiệm");
        let sub = root.intermediate("Sub CA thử nghiệm");
        let root_pem = pki.path().join("root.pem");
        let sub_pem = pki.path().join("sub.pem");
        std::fs::write(&root_pem, &root.pem).unwrap();
        std::fs::write(&sub_pem, &sub.pem).unwrap();
        let signer = sub.signer(pki.path(), "Lê Văn Cường", "Văn phòng Trung ương Đảng", 9001);
        let signed = pyhanko_sign(pki.path(), &pdf("Chi thi"), &signer, &[&sub_pem], "ChuKy1");
        // The sub-CA is an anchor too, as the production setup has
        // the Ban Cơ yếu root and sub-CAs; its CRLs are then accepted.
        let anchors = vec![root_pem.clone(), sub_pem.clone()];
        let w = world_with(db, move |c| c.signatures.trust = anchors).await;
        let m = plan(&w).await;
        let sec = w.as_role("secretary");
        let (s, d) = upload(sec, &m, &[("title", "Chỉ thị của Ban Bí thư"), ("classification", "thuong")], signed).await;
        assert_eq!(s, 201, "{d}");
        let doc = d["id"].as_str().unwrap().to_string();
        let sig = &d["signatures"][0];
        assert_eq!(sig["signer"], "Lê Văn Cường");
        assert_eq!(sig["organization"], "Văn phòng Trung ương Đảng");
        assert_eq!(sig["status"], "revocation_unknown", "no CRL held yet: {sig}");
        // Signer and the sub-CA, an anchor itself: the path ends there.
        assert_eq!(sig["chain"].as_array().unwrap().len(), 2);
        // A delegate of the meeting reads the same.
        let delegate = w.as_role("delegate");
        assert_eq!(status_of(delegate, &m, &doc).await["status"], "revocation_unknown");

        let admin = w.admin();
        for crl in [root.fresh_crl(), sub.fresh_crl()] {
            let (s, b) = post_crl(admin, crl).await;
            assert_eq!(s, 201, "{b}");
            assert_eq!(b["new"], true);
        }
        rechecked(admin).await;
        assert_eq!(status_of(delegate, &m, &doc).await["status"], "valid");

        // A newer list of the sub-CA revokes the signer.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let revoking = sub.crl(&[signer.serial], Duration::from_secs(0), Duration::from_secs(86_400));
        let (s, b) = post_crl(admin, revoking).await;
        assert_eq!(s, 201, "{b}");
        rechecked(admin).await;
        assert_eq!(status_of(delegate, &m, &doc).await["status"], "revoked");
        let t = admin.get("/api/v1/signatures/trust").await;
        assert_eq!(t.body["anchors"].as_array().unwrap().len(), 2);
        assert_eq!(t.body["crls"].as_array().unwrap().len(), 3);

        // Removing that list brings the earlier answer back.
        let sha = b["sha256"].as_str().unwrap();
        let gone = admin.delete(&format!("/api/v1/signatures/crls/{sha}")).await;
        assert_eq!(gone.status, 200, "{}", gone.text);
        rechecked(admin).await;
        assert_eq!(status_of(delegate, &m, &doc).await["status"], "valid");
        let audit = admin.get("/api/v1/audit?limit=1000").await;
        assert_eq!(audit.status, 200, "{}", audit.text);
        for action in ["signatures.crl_added", "signatures.crl_removed", "signatures.recheck"] {
            assert!(audit.text.contains(action), "{action} audited");
        }
    }
}

both_backends! {
    async fn a_crl_from_a_stranger_or_garbage_is_refused_and_changes_nothing(db) {
        let pki = tempfile::tempdir().unwrap();
        let root = Ca::root("Root CA thử nghiệm");
        let root_pem = pki.path().join("root.pem");
        std::fs::write(&root_pem, &root.pem).unwrap();
        let w = world_with(db, move |c| c.signatures.trust = vec![root_pem]).await;
        let admin = w.admin();
        let before = admin.get("/api/v1/signatures/trust").await;
        assert_eq!(before.body["crls"].as_array().unwrap().len(), 0);
        let stranger = Ca::root("Someone else");
        let (s, b) = post_crl(admin, stranger.fresh_crl()).await;
        assert_eq!(s, 422, "{b}");
        assert_eq!(b["error"]["code"], "crl_unverified");
        let (s, b) = post_crl(admin, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n".into()).await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(b["error"]["code"], "crl_unreadable");
        let (s, b) = post_crl(admin, "not a CRL at all".into()).await;
        assert_eq!(s, 400, "{b}");
        let operator = w.as_role("operator");
        let (s, _) = post_crl(operator, root.fresh_crl()).await;
        assert_eq!(s, 403);
        let after = admin.get("/api/v1/signatures/trust").await;
        assert_eq!(after.body["crls"], before.body["crls"]);
        let unknown = admin.delete(&format!("/api/v1/signatures/crls/{}", "0".repeat(64))).await;
        assert_eq!(unknown.status, 404);
        let traversal = admin.delete("/api/v1/signatures/crls/..%2F..%2Fdiemcau.db").await;
        assert_eq!(traversal.status, 404);
    }
}

both_backends! {
    async fn a_start_with_other_trust_anchors_checks_every_signed_document_again(db) {
        let pki = tempfile::tempdir().unwrap();
        let root = Ca::root("Root CA thử nghiệm");
        let root_pem = pki.path().join("root.pem");
        std::fs::write(&root_pem, &root.pem).unwrap();
        let crl_dir = pki.path().join("crl");
        std::fs::create_dir(&crl_dir).unwrap();
        std::fs::write(crl_dir.join("root.crl"), root.fresh_crl()).unwrap();
        let signer = root.signer(pki.path(), "Phạm Thị Dung", "Tỉnh ủy", 31);
        let signed = pyhanko_sign(pki.path(), &pdf("Ket luan"), &signer, &[], "ChuKy1");
        let data = tempfile::tempdir().unwrap();
        let (d, url) = (data.path().to_path_buf(), db.url.clone());
        // First run: nothing trusted.
        let w = world_with(db, move |c| c.data_dir = d).await;
        let m = plan(&w).await;
        let (s, doc) = upload(w.as_role("secretary"), &m, &[("title", "Kết luận"), ("classification", "thuong")], signed).await;
        assert_eq!(s, 201, "{doc}");
        assert_eq!(doc["signatures"][0]["status"], "untrusted");
        let delegate = w.as_role("delegate");
        let (http, bearer) = (delegate.http.clone(), delegate.bearer.clone());
        let ApiWorld { srv, .. } = w;
        srv.server.shutdown().await;
        // The operator adds the root and a CRL folder to the config, restarts.
        let d = data.path().to_path_buf();
        let srv = start_with(move |c| {
            c.database.url = url;
            c.data_dir = d;
            c.signatures.trust = vec![root_pem];
            c.signatures.crl_dir = Some(crl_dir);
        })
        .await;
        let reader = Client { http, base: srv.base_url(), bearer };
        let id = doc["id"].as_str().unwrap();
        let mut status = Value::Null;
        for _ in 0..100 {
            status = status_of(&reader, &m, id).await["status"].clone();
            if status == "valid" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, "valid", "re-checked at start against the new anchors");
        srv.server.shutdown().await;
    }
}

/// What a newcomer sees in the demo: its province meeting has an agenda, a
/// motion and the programme sealed with the demo seal, which checks valid
/// against the demo CA and its CRL.
#[tokio::test]
async fn the_demo_meeting_has_an_agenda_a_motion_and_a_programme_sealed_valid() {
    let srv = start_with(|c| {
        let dir = c.data_dir.clone();
        diemcau::demo_signing::prepare(&dir, &mut c.signatures).unwrap();
    })
    .await;
    let state = srv.server.state();
    let province = diemcau::demo::seed(&state.store).await.unwrap();
    diemcau::demo_content::seed(state, &province.meeting_id)
        .await
        .unwrap();
    // A second start seeds nothing twice.
    diemcau::demo_content::seed(state, &province.meeting_id)
        .await
        .unwrap();
    let docs = state
        .documents
        .list(&province.meeting_id, true)
        .await
        .unwrap();
    assert_eq!(docs.len(), 1);
    let sig = &docs[0].signatures[0];
    assert_eq!(sig.status, diemcau::sign::SignatureStatus::Valid, "{sig:?}");
    assert!(
        sig.signer.contains("TRÌNH DIỄN — không có giá trị pháp lý"),
        "{}",
        sig.signer
    );
    assert!(sig.signed_at_ms.is_some());
    let agenda = diemcau::control::agenda::Agendas::new(state.store.clone())
        .agenda(&province.meeting_id)
        .await
        .unwrap();
    assert_eq!(agenda.items.len(), 3);
    assert_eq!(
        docs[0].agenda_item_id.as_deref(),
        Some(agenda.items[0].id.as_str())
    );
    srv.server.shutdown().await;
}
