//! Published vote results as a sealed one-page PDF, over real HTTP.

use serde_json::json;

use super::flow::pdf_bytes;
use super::sigtools::{TestCa, pdfsig, pyhanko_validate};
use crate::support::api::world_with;
use crate::support::db::both_backends;

both_backends! {
    async fn published_results_come_as_a_pdf_sealed_by_the_organisation(db) {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("Test CA diemcau");
        let (seal_key, seal_chain) = ca.issue_file_key("Văn phòng Tỉnh ủy", true);
        let key_file = dir.path().join("seal.key");
        let cert_file = dir.path().join("seal.pem");
        std::fs::write(&key_file, seal_key).unwrap();
        std::fs::write(&cert_file, seal_chain).unwrap();
        let w = world_with(db, move |c| {
            c.signatures.key_file = Some(key_file);
            c.signatures.cert_file = Some(cert_file);
        })
        .await;
        let start = diemcau::store::now_ms() + 3_600_000;
        let made = w.as_role("secretary").post("/api/v1/meetings", json!({
            "title": "Hội nghị Ban Chấp hành Đảng bộ tỉnh",
            "kind": "bch",
            "starts_at_ms": start,
            "ends_at_ms": start + 7_200_000,
            "hub_endpoint_id": w.endpoint("hub"),
            "chair_user_id": w.users["chair"],
            "members": [{"user_id": w.users["delegate"], "role": "voting"}],
        })).await;
        assert_eq!(made.status, 201, "{}", made.text);
        let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
        let r = w.as_role("operator").post(&format!("/api/v1/meetings/{id}/open"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let chair = w.as_role("chair");
        let base = format!("/api/v1/meetings/{id}/motions");
        let r = chair.post(&base, json!({"title": "Thông qua Nghị quyết", "mode": "open", "electorate": "delegates"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let m = format!("{base}/{}", r.body["id"].as_str().unwrap());
        assert_eq!(chair.post(&format!("{m}/open"), json!({})).await.status, 200);
        let r = w.as_role("delegate").post(&format!("{m}/vote"), json!({"option": 0})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(chair.post(&format!("{m}/close"), json!({})).await.status, 200);

        // Not before publication.
        let r = chair.get(&format!("{m}/results.pdf")).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "not_published"), "{}", r.text);

        assert_eq!(chair.post(&format!("{m}/publish"), json!({})).await.status, 200);
        let made: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM motion_results_pdfs WHERE sealed = 1")
            .fetch_one(w.db.store.pool()).await.unwrap();
        assert_eq!(made, 1, "sealed at publication");
        let pdf = pdf_bytes(w.as_role("delegate"), &format!("{m}/results.pdf")).await;
        let again = pdf_bytes(chair, &format!("{m}/results.pdf")).await;
        assert_eq!(pdf, again, "sealed once, the same copy for everyone");
        let file = dir.path().join("ket-qua.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let py = pyhanko_validate(&file, &ca, dir.path());
        assert_eq!(py.valid, 1, "{}", py.output);
        let pop = pdfsig(&file, &ca, dir.path());
        assert_eq!(pop.valid, 1, "{}", pop.output);
    }
}
