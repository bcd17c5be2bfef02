//! The secretariat portal (`web/portal.*`) in real Chromium against the real
//! server: the secretary logs in, builds the agenda (two items, reordered by
//! drag and drop), uploads a 3 MiB PDF watching its progress bar, sees a
//! Mật upload refused in Vietnamese, sets up a vote that a delegate answers
//! through the API (the page's count follows the console event stream),
//! publishes the result as bars, and saves the minutes whose PDF export
//! answers.
//!
//! Runs in a loopback-only network namespace. Screenshots of every step land
//! in `target/test-artifacts/browser/portal-*.png`.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::support::api::{ApiWorld, PASSWORD, world};
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

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
    let start = diemcau::store::now_ms() + 3_600_000;
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Chấp hành Đảng bộ tỉnh lần thứ 7",
                "kind": "bch",
                "starts_at_ms": start,
                "ends_at_ms": start + 3 * 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("a"), w.endpoint("b")],
                "chair_user_id": w.users["chair"],
                "members": [{"user_id": w.users["delegate"], "role": "voting"}],
                "secretary_user_id": w.users["secretary"],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.body["meetings"][0]["id"]
        .as_str()
        .expect("meeting id")
        .to_string();
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
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
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

#[test]
fn secretary_builds_agenda_uploads_pdf_with_progress_runs_a_vote_and_exports_minutes_in_the_portal()
{
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let id = open_meeting(&w).await;
        let base = w.srv.base_url();
        let api = format!("/api/v1/meetings/{id}");
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "portal", POLL_INTERVAL);

        // 1. Login, in Vietnamese, with a link to the operator console.
        page.navigate(&format!("{base}/portal")).await;
        steps
            .until(
                "01-login",
                "const f = document.getElementById('view-login'); return !!f && !f.hidden;",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(
            steps
                .run("return document.querySelector('label[for=login-name]').textContent;")
                .await,
            "Tên đăng nhập"
        );
        assert_eq!(
            steps
                .run("return document.getElementById('link-console').getAttribute('href');")
                .await,
            "/console"
        );
        steps.shot("01-login").await;
        steps
            .run(&format!(
                "document.getElementById('login-name').value = 'test_secretary';\
                 document.getElementById('login-password').value = {};\
                 document.getElementById('login-submit').click(); return true;",
                json!(PASSWORD)
            ))
            .await;

        // 2. Pick the meeting.
        let row = format!("document.querySelector('#meetings-body tr[data-meeting=\"{id}\"]')");
        steps.until("02-meetings",
            &format!("const r = {row}; return !!r && r.querySelector('.badge').textContent === 'Mở phòng chờ';"),
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("02-meetings").await;
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

        // 3. Agenda: a bad planned time is caught before sending; two items
        //    added, then the second dragged above the first.
        steps
            .until(
                "03-agenda-add-invalid",
                &add_item("Khai mạc hội nghị", "Đồng chí Bí thư", "0"),
                STEP_TIMEOUT,
            )
            .await;
        let refusal = steps.until("03-agenda-invalid",
            "const e = document.getElementById('agenda-error'); return e.hidden ? null : e.textContent;",
            STEP_TIMEOUT,
        )
        .await;
        assert!(
            refusal
                .as_str()
                .unwrap_or_default()
                .contains("từ 1 đến 600 phút"),
            "{refusal}"
        );
        steps.shot("03-agenda-invalid").await;
        assert_eq!(
            w.as_role("secretary")
                .get(&format!("{api}/agenda"))
                .await
                .body["items"],
            json!([]),
            "nothing was sent"
        );
        steps
            .until(
                "04-agenda-add-first",
                &add_item("Khai mạc hội nghị", "Đồng chí Bí thư", "10"),
                STEP_TIMEOUT,
            )
            .await;
        steps
            .until(
                "04-agenda-one",
                "return document.querySelectorAll('#agenda-list .ag-item').length === 1;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .until(
                "04-agenda-add-second",
                &add_item(
                    "Thảo luận dự thảo Nghị quyết về chuyển đổi số",
                    "Ban Tuyên giáo",
                    "45",
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps
            .until(
                "04-agenda-two",
                "return document.querySelectorAll('#agenda-list .ag-item').length === 2;",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("04-agenda-added").await;
        let agenda = w.as_role("secretary").get(&format!("{api}/agenda")).await;
        let ids: Vec<String> = agenda.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["id"].as_str().expect("item id").to_string())
            .collect();
        assert_eq!(ids.len(), 2, "{}", agenda.text);
        steps.run("const items = document.querySelectorAll('#agenda-list .ag-item');\
             const src = items[1], dst = items[0]; const dt = new DataTransfer();\
             const r = dst.getBoundingClientRect();\
             const at = { bubbles: true, cancelable: true, dataTransfer: dt, clientX: r.left + 20, clientY: r.top + 3 };\
             src.dispatchEvent(new DragEvent('dragstart', { bubbles: true, dataTransfer: dt }));\
             dst.dispatchEvent(new DragEvent('dragenter', at));\
             dst.dispatchEvent(new DragEvent('dragover', at));\
             dst.dispatchEvent(new DragEvent('drop', at));\
             src.dispatchEvent(new DragEvent('dragend', { bubbles: true, dataTransfer: dt }));\
             return true;",
        )
        .await;
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let a = w.as_role("secretary").get(&format!("{api}/agenda")).await;
            let now: Vec<&str> = a.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["id"].as_str().unwrap_or_default())
                .collect();
            if now == [ids[1].as_str(), ids[0].as_str()] {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the drop did not reorder: {}",
                a.text
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        steps.until("05-agenda-reordered",
            &format!(
                "const li = document.querySelectorAll('#agenda-list .ag-item');\
                 return li.length === 2 && li[0].dataset.item === {} && li[0].querySelector('.ag-pos').textContent === '1.';",
                json!(ids[1])
            ),
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("05-agenda-reordered").await;
        // The (new) first item is taken up: the page marks it current.
        steps.run("document.querySelector('#agenda-list .ag-item [data-action=current]').click(); return true;",
        )
        .await;
        steps.until("05b-agenda-current",
            &format!(
                "const li = document.querySelector('#agenda-list .ag-item');\
                 return li.dataset.item === {} && li.dataset.current === 'true' && !!li.querySelector('.tb-current');",
                json!(ids[1])
            ),
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("05b-agenda-current").await;

        // 4. Documents: a 3 MiB PDF for the (now first) item, with its
        //    progress bar.
        steps
            .run("document.querySelector('.tab[data-tab=documents]').click(); return true;")
            .await;
        steps
            .until(
                "06-documents",
                "return !document.getElementById('pane-documents').hidden\
               && document.querySelectorAll('#up-item option').length === 3\
               && document.querySelectorAll('#up-class option').length === 4;",
                STEP_TIMEOUT,
            )
            .await;
        let pdf = padded_pdf(PDF_BYTES, "Tai lieu hop - du thao Nghi quyet");
        assert!(pdf.len() >= PDF_BYTES);
        let (script, args) = choose_file("du-thao-nghi-quyet.pdf", &pdf);
        let size = page
            .execute(&script, args)
            .await
            .unwrap_or_else(|e| panic!("choose the file: {e}"));
        assert_eq!(size, json!(pdf.len()));
        steps
            .run(&format!(
                "document.getElementById('up-title').value = 'Dự thảo Nghị quyết về chuyển đổi số';\
                 document.getElementById('up-item').value = {};\
                 document.getElementById('up-class').value = 'thuong';\
                 document.getElementById('up-submit').click(); return true;",
                json!(ids[1])
            ))
            .await;
        steps.shot("06-upload-progress").await;
        let upload = steps.until("07-uploaded",
            "const u = window.diemcau.state().upload; return u.state === 'uploading' ? null : u;",
            UPLOAD_TIMEOUT,
        )
        .await;
        assert_eq!(upload["state"], "done", "{upload}");
        let trace: Vec<u64> = upload["trace"]
            .as_array()
            .expect("trace")
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        eprintln!("progress bar percents seen: {trace:?}");
        assert_eq!(upload["max"], json!(100), "the bar reached 100%: {trace:?}");
        assert!(
            trace.len() >= 2 && trace[0] == 0 && trace.windows(2).all(|p| p[0] <= p[1]),
            "the bar moved from 0 up to 100 and never back: {trace:?}"
        );
        let bar = steps.run("return [document.getElementById('up-bar').style.width, document.getElementById('up-progress-text').textContent];",
        )
        .await;
        assert_eq!(bar[0], "100%", "{bar}");
        assert!(bar[1].as_str().unwrap_or_default().contains("MiB"), "{bar}");
        let doc_id = upload["result"]["id"]
            .as_str()
            .expect("uploaded document id")
            .to_string();
        steps.until("07-uploaded",
            &format!(
                "const r = document.querySelector('#docs-body tr[data-doc=\"{doc_id}\"]');\
                 return !!r && r.dataset.state === 'available' && r.textContent.includes('v1')\
                   && r.textContent.includes('3,0 MiB') && !!r.querySelector('a[data-action=download]');"
            ),
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("07-uploaded").await;
        let docs = w
            .as_role("secretary")
            .get(&format!("{api}/documents"))
            .await;
        assert_eq!(
            docs.body["documents"][0]["size_bytes"],
            json!(pdf.len()),
            "{}",
            docs.text
        );
        assert_eq!(docs.body["documents"][0]["agenda_item_id"], json!(ids[1]));

        // A Mật document is refused; the server's Vietnamese words are shown.
        let (script, args) = choose_file("van-ban-mat.pdf", &padded_pdf(4096, "Bao cao"));
        page.execute(&script, args)
            .await
            .unwrap_or_else(|e| panic!("choose the file: {e}"));
        steps
            .run(
                "document.getElementById('up-title').value = 'Báo cáo tình hình';\
             document.getElementById('up-class').value = 'mat';\
             document.getElementById('up-submit').click(); return true;",
            )
            .await;
        let refusal = steps.until("08-classified-refused",
            "const e = document.getElementById('upload-error'); return e.hidden ? null : e.textContent;",
            STEP_TIMEOUT,
        )
        .await;
        assert!(
            refusal
                .as_str()
                .unwrap_or_default()
                .starts_with("Tài liệu Mật không được đưa lên hệ thống")
                && !refusal.as_str().unwrap_or_default().contains("may not"),
            "{refusal}"
        );
        steps.shot("08-classified-refused").await;
        steps
            .run("document.getElementById('up-class').value = 'thuong'; return true;")
            .await;

        // A new version carrying a "MẬT" stamp is held; the secretary
        // confirms it is ordinary.
        steps.run(&format!(
                "document.querySelector('#docs-body tr[data-doc=\"{doc_id}\"] [data-action=new-version]').click();\
                 return document.getElementById('up-supersedes').value;"
            ),
        )
        .await;
        let stamped = padded_pdf(8192, ") Tj <FEFF004D1EAC0054> Tj (");
        let (script, args) = choose_file("du-thao-nghi-quyet-v2.pdf", &stamped);
        page.execute(&script, args)
            .await
            .unwrap_or_else(|e| panic!("choose the file: {e}"));
        steps
            .run("document.getElementById('up-submit').click(); return true;")
            .await;
        let second = steps.until("08b-held",
            "const u = window.diemcau.state().upload; return u.state === 'uploading' ? null : u;",
            STEP_TIMEOUT,
        )
        .await;
        assert_eq!(second["state"], "done", "{second}");
        assert_eq!(second["result"]["state"], "held", "{second}");
        assert_eq!(second["result"]["version"], 2, "{second}");
        assert_eq!(second["result"]["supersedes"], json!(doc_id), "{second}");
        let v2 = second["result"]["id"].as_str().expect("v2 id").to_string();
        let v2_row = format!("document.querySelector('#docs-body tr[data-doc=\"{v2}\"]')");
        steps.until("08b-held",
            &format!(
                "const r = {v2_row}; const old = document.querySelector('#docs-body tr[data-doc=\"{doc_id}\"]');\
                 return !!r && r.dataset.state === 'held' && !!r.querySelector('[data-action=confirm]')\
                   && !!old && old.textContent.includes('Đã có bản mới');"
            ),
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("08b-held").await;
        steps
            .run(&format!(
                "{v2_row}.querySelector('[data-action=confirm]').click(); return true;"
            ))
            .await;
        steps
            .until(
                "08c-confirm-dialog",
                "return document.getElementById('confirm').open;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run("document.getElementById('confirm-yes').click(); return true;")
            .await;
        steps
            .until(
                "08c-confirmed",
                &format!("const r = {v2_row}; return !!r && r.dataset.state === 'available';"),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("08c-confirmed").await;

        // 5. A vote: created and opened on the page; a delegate votes
        //    through the API and the page's count follows.
        steps
            .run(
                "document.querySelector('.tab[data-tab=votes]').click();\
             document.getElementById('mo-title').value = 'Thông qua Nghị quyết về chuyển đổi số';\
             document.getElementById('mo-mode').value = 'open';\
             document.getElementById('mo-electorate').value = 'delegates';\
             document.getElementById('mo-submit').click(); return true;",
            )
            .await;
        let motion = steps.until("09-motion",
            "const c = document.querySelector('#motions .motion'); return c && c.dataset.state === 'draft' ? c.dataset.motion : null;",
            STEP_TIMEOUT,
        )
        .await
        .as_str()
        .expect("motion id")
        .to_string();
        // The vote is the chair's to open, close and publish: the
        // secretary's page shows no such button, says so, and follows.
        let hint = steps
            .run(&format!(
                "const c = {}; return !c.querySelector('[data-action=open]') && !!c.querySelector('.mo-chair-hint');",
                card(&motion)
            ))
            .await;
        assert_eq!(
            hint,
            serde_json::Value::Bool(true),
            "the secretary's card offers no step"
        );
        let chair = w.as_role("chair");
        let r = chair
            .post(&format!("{api}/motions/{motion}/open"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
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
        steps.shot("09-motion-open").await;
        let r = w
            .as_role("delegate")
            .post(
                &format!("{api}/motions/{motion}/vote"),
                json!({"option": 0}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        steps
            .until(
                "10-vote-counted",
                &format!(
                    "const c = {}; return !!c && c.dataset.ballots === '1'\
                   && c.querySelector('.mo-ballots').textContent === 'Đã bỏ phiếu: 1'\
                   && c.querySelector('.bar-row[data-option=\"0\"]')?.dataset.votes === '1';",
                    card(&motion)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("10-vote-counted").await;

        // 6. Closed and published by the chair; the page shows the bars.
        for (verb, state) in [("close", "closed"), ("publish", "published")] {
            let r = chair
                .post(&format!("{api}/motions/{motion}/{verb}"), json!({}))
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            steps
                .until(
                    &format!("11-{state}"),
                    &format!(
                        "const c = {}; return !!c && c.dataset.state === '{state}';",
                        card(&motion)
                    ),
                    STEP_TIMEOUT,
                )
                .await;
        }
        let fill = steps.until("11-published",
            &format!(
                "const c = {}; const f = c && c.querySelector('.bar-row[data-option=\"0\"] .bar-fill');\
                 return f && c.querySelectorAll('.bar-row').length === 3 ? f.style.width : null;",
                card(&motion)
            ),
            STEP_TIMEOUT,
        )
        .await;
        assert_eq!(fill, "100%");
        steps.shot("11-published").await;
        let published = w
            .as_role("delegate")
            .get(&format!("{api}/motions/{motion}"))
            .await;
        assert_eq!(published.body["state"], "published", "{}", published.text);

        // 7. Minutes: conclusions and an item summary saved as version 1;
        //    the PDF export answers.
        steps
            .run("document.querySelector('.tab[data-tab=minutes]').click(); return true;")
            .await;
        steps
            .until(
                "12-minutes",
                "return document.querySelectorAll('#mi-items textarea').length === 2\
               && document.querySelectorAll('#mi-motions .bar-row').length === 3;",
                STEP_TIMEOUT,
            )
            .await;
        steps.run("document.querySelector('#mi-items textarea').value = 'Các đại biểu thống nhất nội dung dự thảo.';\
             document.getElementById('mi-conclusions').value = 'Hội nghị thông qua Nghị quyết về chuyển đổi số với 100% đại biểu tán thành.';\
             document.getElementById('mi-save').click(); return true;",
        )
        .await;
        steps
            .until(
                "12-minutes-saved",
                "const m = window.diemcau.state().minutes;\
             return !!m && m.status === 'draft' && m.version === 1\
               && document.querySelectorAll('#mi-versions li').length === 1;",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("12-minutes-saved").await;
        let saved = w.as_role("secretary").get(&format!("{api}/minutes")).await;
        assert!(
            saved.body["minutes"]["conclusions"]
                .as_str()
                .unwrap_or_default()
                .contains("100% đại biểu tán thành"),
            "{}",
            saved.text
        );
        assert_eq!(
            saved.body["minutes"]["agenda"][0]["summary"],
            "Các đại biểu thống nhất nội dung dự thảo."
        );
        let export = page
            .eval_promise(
                "fetch(document.getElementById('mi-pdf').href, { credentials: 'same-origin' })\
                 .then(async r => [r.status, r.headers.get('content-type'), (await r.arrayBuffer()).byteLength])",
            )
            .await
            .unwrap_or_else(|e| panic!("fetch the PDF export: {e}"));
        assert_eq!(export[0], 200, "{export}");
        assert_eq!(export[1], "application/pdf", "{export}");
        assert!(export[2].as_u64().unwrap_or(0) > 1000, "{export}");

        // Finalise: the minutes view lists who is still to sign — this
        // closed BCH meeting's secretary, then its chair.
        steps
            .run("document.getElementById('mi-finalise').click(); return true;")
            .await;
        steps
            .until(
                "12-finalise-dialog",
                "return document.getElementById('confirm').open;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run("document.getElementById('confirm-yes').click(); return true;")
            .await;
        steps
            .until(
                "12-minutes-to-sign",
                "const li = [...document.querySelectorAll('#mi-signatures li[data-state=pending]')];\
                 return li.length === 2 && li[0].dataset.role === 'secretary'\
                   && li[1].dataset.role === 'chair' && li[0].textContent.startsWith('Chờ ký — Thư ký')\
                   && document.getElementById('mi-signatures-empty').hidden;",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("12-minutes-to-sign").await;

        // The English switch: the same page, in English, and back.
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        steps
            .until(
                "13-english",
                "return document.querySelector('.tab[data-tab=votes]').textContent === 'Votes'\
               && document.getElementById('mi-save').textContent === 'Save draft'\
               && document.documentElement.lang === 'en';",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("13-english").await;
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        steps.until("13-vietnamese",
            "return document.querySelector('.tab[data-tab=votes]').textContent === 'Biểu quyết';",
            STEP_TIMEOUT,
        )
        .await;

        // Nothing went wrong on the page along the way.
        let errors: Vec<String> = page
            .console_log()
            .await
            .into_iter()
            // The refused upload's 422 is logged by Chromium as a failed load.
            .filter(|l| l.starts_with("SEVERE") && !l.contains("Failed to load resource"))
            .collect();
        assert!(errors.is_empty(), "browser errors: {errors:#?}");
        page.close().await;
    }));
}
