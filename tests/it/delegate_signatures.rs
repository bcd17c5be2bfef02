//! A delegate sees at once whether a document is the signed original: in
//! real Chromium, the document index marks a signed document, and the
//! reader says "Đã ký số bởi … — hợp lệ" with the certificate on demand.
//! Screenshots land in `target/test-artifacts/browser/delegate-sig-*.png`.

use std::time::Duration;

use serde_json::json;

use crate::delegate::live_meeting;
use crate::documents::{pdf, upload};
use crate::support::api::{PASSWORD, world_with};
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::pki::{Ca, pyhanko_sign};
use crate::support::rtc_client::run_in_loopback_netns;

const STEP_TIMEOUT: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(150);

#[test]
fn a_delegate_sees_who_signed_a_document_and_that_the_signature_is_valid() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let pki = tempfile::tempdir().unwrap();
        let root = Ca::root("Root CA thử nghiệm");
        let root_pem = pki.path().join("root.pem");
        std::fs::write(&root_pem, &root.pem).unwrap();
        std::fs::create_dir(pki.path().join("crl")).unwrap();
        std::fs::write(pki.path().join("crl/root.crl"), root.fresh_crl()).unwrap();
        let signer = root.signer(pki.path(), "Lê Văn Cường", "Văn phòng Trung ương Đảng", 77);
        let signed = pyhanko_sign(pki.path(), &pdf("Chi thi so 05"), &signer, &[], "ChuKy1");
        let crl_dir = pki.path().join("crl");
        let w = world_with(db, move |c| {
            c.signatures.trust = vec![root_pem];
            c.signatures.crl_dir = Some(crl_dir);
        })
        .await;
        let id = live_meeting(&w).await;
        let (s, d) = upload(
            w.as_role("secretary"),
            &id,
            &[
                ("title", "Chỉ thị số 05 của Ban Bí thư"),
                ("classification", "thuong"),
            ],
            signed,
        )
        .await;
        assert_eq!(s, 201, "{d}");
        assert_eq!(d["signatures"][0]["status"], "valid", "{d}");
        let doc = d["id"].as_str().unwrap().to_string();

        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "delegate-sig", POLL_INTERVAL);
        page.navigate(&format!("{}/delegate", w.srv.base_url()))
            .await;
        steps
            .until(
                "01-login",
                "const f = document.getElementById('view-login'); return !!f && !f.hidden;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run(&format!(
                "document.getElementById('login-name').value = 'test_delegate';\
                 document.getElementById('login-password').value = {};\
                 document.getElementById('login-submit').click(); return true;",
                json!(PASSWORD)
            ))
            .await;
        let row = format!("document.querySelector('#meetings-list [data-meeting=\"{id}\"]')");
        steps
            .until("02-meetings", &format!("return !!{row};"), STEP_TIMEOUT)
            .await;
        steps
            .run(&format!(
                "{row}.querySelector('[data-action=open]').click(); return true;"
            ))
            .await;
        let button = format!("document.querySelector('#doc-index [data-doc=\"{doc}\"]')");
        steps
            .until(
                "03-index-marks-signed",
                &format!("const b = {button}; return !!b && !!b.querySelector('.doc-sig-ok');"),
                STEP_TIMEOUT,
            )
            .await;
        steps.run(&format!("{button}.click(); return true;")).await;
        let summary = "document.querySelector('#reader-signatures .sig-valid summary')";
        steps
            .until(
                "04-reader-says-valid",
                &format!("return !!{summary};"),
                STEP_TIMEOUT,
            )
            .await;
        let text = steps.run(&format!("return {summary}.textContent;")).await;
        assert_eq!(
            text,
            "Đã ký số bởi Lê Văn Cường, Văn phòng Trung ương Đảng — hợp lệ"
        );
        // The certificate on demand.
        steps.run(&format!("{summary}.click(); return true;")).await;
        steps
            .until(
                "05-certificate",
                "const d = document.querySelector('#reader-signatures details'); return d.open && d.textContent.includes('Root CA thử nghiệm');",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("05-certificate").await;
    }));
}
