//! The secretariat portal (`web/portal.*`) in real Chromium against the real
//! server, one file per tab and one test per behaviour: logging in
//! (`login`), the agenda (a bad time refused, items added, reordered by drag
//! and drop, taken up: `agenda`), documents (a 3 MiB PDF with its progress
//! bar, a Mật upload refused in Vietnamese, a stamped version held:
//! `documents`), votes (the chair's to open, the count following a
//! delegate's ballot, the published bars: `votes`) and the minutes (saved,
//! exported as PDF, finalised; the English labels: `minutes`).
//!
//! [`Portal`] brings the secretary to an open meeting's page (planned and
//! opened over the API, logged in, the meeting picked from the list); what a
//! test needs before its own steps (agenda items, a motion) it makes over
//! the API.
//!
//! Runs in a loopback-only network namespace. Screenshots of every step land
//! in `target/test-artifacts/browser/portal-*.png`.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::support::api::{ApiWorld, PASSWORD, world};
use crate::support::browser::{ChromeDriver, Session, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

mod agenda;
mod documents;
mod login;
mod minutes;
mod votes;

/// Page steps are one or two HTTP round trips; a loaded 2-core machine
/// still answers within seconds, so 20 s only trips on a real failure.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// A 3 MiB upload: read, hashed and parsed by the server.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(45);
const POLL_INTERVAL: Duration = Duration::from_millis(150);
/// Size of the uploaded PDF.
const PDF_BYTES: usize = 3 * 1024 * 1024;

/// A meeting with the hub and communes A and B, its chair and secretary,
/// opened (votes are opened and cast only in an open or live meeting).
async fn open_meeting(w: &ApiWorld) -> String {
    let id = w
        .plan_bch_meeting("Hội nghị Ban Chấp hành Đảng bộ tỉnh lần thứ 7", 3_600_000)
        .await;
    let r = w
        .as_role("operator")
        .post(&format!("/api/v1/meetings/{id}/open"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

/// A valid one-page PDF of `size` bytes or a little more showing `text`
/// (PDF string syntax, inside parentheses): its content stream is padded
/// with comment lines, stored uncompressed.
fn padded_pdf(size: usize, text: &str) -> Vec<u8> {
    let mut content = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET\n");
    let line = "% ---------------------------------------------------------------- noi dung dem\n";
    while content.len() < size {
        content.push_str(line);
    }
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    crate::documents::pdf_file(&objects)
}

/// Fill the agenda form and send it.
/// The script clicks only once the form's button is enabled again: the
/// list can show the previous item (pushed by the event stream) while that
/// add is still saving, and a click on the disabled button is lost.
fn add_item(title: &str, presenter: &str, minutes: &str) -> String {
    format!(
        "const b = document.getElementById('ag-submit'); if (b.disabled) return false;\
         document.getElementById('ag-title').value = {};\
         document.getElementById('ag-presenter').value = {};\
         document.getElementById('ag-minutes').value = {};\
         b.click(); return true;",
        json!(title),
        json!(presenter),
        json!(minutes)
    )
}

/// Put `bytes` as file `name` into the upload form's file input.
fn choose_file(name: &str, bytes: &[u8]) -> (String, Value) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    (
        format!(
            "const bin = atob(arguments[0]); const buf = new Uint8Array(bin.length);\
             for (let i = 0; i < bin.length; i++) buf[i] = bin.charCodeAt(i);\
             const dt = new DataTransfer();\
             dt.items.add(new File([buf], {}, {{ type: 'application/pdf' }}));\
             const input = document.getElementById('up-file');\
             input.files = dt.files; input.dispatchEvent(new Event('change'));\
             return input.files[0].size;",
            json!(name)
        ),
        json!([b64]),
    )
}

/// The page's motion card for `motion`.
fn card(motion: &str) -> String {
    format!("document.querySelector('#motions [data-motion=\"{motion}\"]')")
}

/// The secretary's portal in Chromium on an open meeting's page.
struct Portal {
    w: ApiWorld,
    id: String,
    /// `/api/v1/meetings/{id}`.
    api: String,
    page: Session,
    _driver: ChromeDriver,
}

impl Portal {
    async fn open(w: ApiWorld) -> Self {
        let id = open_meeting(&w).await;
        let base = w.srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let p = Self {
            api: format!("/api/v1/meetings/{id}"),
            w,
            id,
            page,
            _driver: driver,
        };
        let steps = p.steps();
        p.page.navigate(&format!("{base}/portal")).await;
        steps
            .until(
                "01-login",
                "const f = document.getElementById('view-login'); return !!f && !f.hidden;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run(&format!(
                "document.getElementById('login-name').value = 'test_secretary';\
                 document.getElementById('login-password').value = {};\
                 document.getElementById('login-submit').click(); return true;",
                json!(PASSWORD)
            ))
            .await;
        let row = format!(
            "document.querySelector('#meetings-body tr[data-meeting=\"{}\"]')",
            p.id
        );
        steps.until("02-meetings",
            &format!("const r = {row}; return !!r && r.querySelector('.badge').textContent === 'Mở phòng chờ';"),
            STEP_TIMEOUT,
        )
        .await;
        steps
            .run(&format!(
                "{row}.querySelector('[data-action=work]').click(); return true;"
            ))
            .await;
        steps
            .until(
                "03-meeting",
                "const s = window.diemcau.state(); return s.view === 'view-meeting' && s.ws === 1\
               && document.getElementById('m-title').textContent.includes('lần thứ 7');",
                STEP_TIMEOUT,
            )
            .await;
        p
    }

    fn steps(&self) -> Steps<'_> {
        Steps::new(&self.page, "portal", POLL_INTERVAL)
    }

    /// Two agenda items made over the API, once the page lists them;
    /// returns their ids in order.
    async fn two_items(&self) -> Vec<String> {
        let sec = self.w.as_role("secretary");
        let mut ids = Vec::new();
        for (title, presenter, minutes) in [
            ("Khai mạc hội nghị", "Đồng chí Bí thư", 10),
            (
                "Thảo luận dự thảo Nghị quyết về chuyển đổi số",
                "Ban Tuyên giáo",
                45,
            ),
        ] {
            let r = sec
                .post(
                    &format!("{}/agenda", self.api),
                    json!({"title": title, "presenter": presenter, "planned_minutes": minutes}),
                )
                .await;
            assert!(r.status == 200 || r.status == 201, "{}", r.text);
        }
        let agenda = sec.get(&format!("{}/agenda", self.api)).await;
        for i in agenda.body["items"].as_array().expect("items") {
            ids.push(i["id"].as_str().expect("item id").to_string());
        }
        assert_eq!(ids.len(), 2, "{}", agenda.text);
        self.steps()
            .until(
                "04-agenda-two",
                "return document.querySelectorAll('#agenda-list .ag-item').length === 2;",
                STEP_TIMEOUT,
            )
            .await;
        ids
    }

    /// A motion the chair made and opened over the API, once the page's
    /// votes tab shows it open (a draft made elsewhere reaches the page
    /// only with its opening's event).
    async fn open_motion(&self) -> String {
        let chair = self.w.as_role("chair");
        let r = chair
            .post(
                &format!("{}/motions", self.api),
                json!({"title": "Thông qua Nghị quyết về chuyển đổi số", "mode": "open", "electorate": "delegates"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let motion = r.body["id"].as_str().expect("motion id").to_string();
        let r = chair
            .post(&format!("{}/motions/{motion}/open", self.api), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let steps = self.steps();
        steps
            .run("document.querySelector('.tab[data-tab=votes]').click(); return true;")
            .await;
        steps
            .until(
                "09-motion-open",
                &format!(
                    "const c = {}; return !!c && c.dataset.state === 'open';",
                    card(&motion)
                ),
                STEP_TIMEOUT,
            )
            .await;
        motion
    }

    /// Open the documents tab, with the agenda's items to pick from.
    async fn documents_tab(&self, items: usize) {
        let steps = self.steps();
        steps
            .run("document.querySelector('.tab[data-tab=documents]').click(); return true;")
            .await;
        steps
            .until(
                "06-documents",
                &format!(
                    "return !document.getElementById('pane-documents').hidden\
                       && document.querySelectorAll('#up-item option').length === {}\
                       && document.querySelectorAll('#up-class option').length === 4;",
                    items + 1
                ),
                STEP_TIMEOUT,
            )
            .await;
    }

    /// Nothing went wrong on the page; then close it.
    async fn close(self) {
        let errors: Vec<String> = self
            .page
            .console_log()
            .await
            .into_iter()
            // A refused upload's 422 is logged by Chromium as a failed load.
            .filter(|l| l.starts_with("SEVERE") && !l.contains("Failed to load resource"))
            .collect();
        assert!(errors.is_empty(), "browser errors: {errors:#?}");
        self.page.close().await;
    }
}
