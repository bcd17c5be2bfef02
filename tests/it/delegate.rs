//! The delegate's tablet view (`web/delegate.*`) in real Chromium against
//! the real server: a delegate logs in, opens a live meeting, finds the
//! current agenda item's two-page PDF, reads page 2, writes a private note
//! that survives a reload (it lives in the browser only), follows the
//! presenter's page-sync, casts a vote that the API counts, and sees a
//! second vote refused in Vietnamese.
//!
//! Runs in a loopback-only network namespace. Screenshots of every step land
//! in `target/test-artifacts/browser/delegate-*.png`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::api::{ApiWorld, Client, PASSWORD, world};
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

/// Page steps are one or two HTTP round trips; a loaded 2-core machine
/// still answers within seconds, so 20 s only trips on a real failure.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(150);
const NOTE: &str = "Đề nghị làm rõ chỉ tiêu chuyển đổi số ở trang 2.";

/// A live meeting with the hub and communes A and B, its chair and
/// secretary.
pub(crate) async fn live_meeting(w: &ApiWorld) -> String {
    let id = w
        .plan_bch_meeting("Hội nghị Ban Chấp hành Đảng bộ tỉnh lần thứ 8", 60_000)
        .await;
    for step in ["open", "start"] {
        let r = w
            .as_role("operator")
            .post(&format!("/api/v1/meetings/{id}/{step}"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{step}: {}", r.text);
    }
    id
}

/// A valid PDF with one page per entry of `texts` (PDF string syntax).
fn pdf(texts: &[&str]) -> Vec<u8> {
    let n = texts.len();
    // 1 catalog, 2 pages, then per page: the page and its content; last the font.
    let font = 3 + 2 * n;
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 3 + 2 * i)).collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")),
    ];
    for (i, text) in texts.iter().enumerate() {
        let content = format!("BT /F1 28 Tf 72 720 Td ({text}) Tj ET\n");
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {} 0 R \
             /Resources << /Font << /F1 {font} 0 R >> >> >>",
            4 + 2 * i
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string());
    crate::documents::pdf_file(&objects)
}

/// Upload `body` to the meeting as `c`, for agenda item `item`.
async fn upload(c: &Client, meeting: &str, title: &str, item: &str, body: Vec<u8>) -> Value {
    let mut req = c
        .http
        .post(format!("{}/api/v1/meetings/{meeting}/documents", c.base))
        .query(&[
            ("title", title),
            ("classification", "thuong"),
            ("agenda_item_id", item),
        ])
        .body(body);
    if let Some(t) = &c.bearer {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("request reaches the server");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "upload: {status} {text}");
    serde_json::from_str(&text).expect("upload answers JSON")
}

/// The page's motion card for `motion`.
fn card(motion: &str) -> String {
    format!("document.querySelector('#motions [data-motion=\"{motion}\"]')")
}

/// Tap option `index` of `motion` and confirm it in the dialog.
async fn vote_in_page(steps: &Steps<'_>, step: &str, motion: &str, index: u32) {
    steps
        .run(&format!(
            "{}.querySelector('[data-option=\"{index}\"]').click(); return true;",
            card(motion)
        ))
        .await;
    steps
        .until(
            step,
            "return document.getElementById('confirm').open;",
            STEP_TIMEOUT,
        )
        .await;
    steps.shot(step).await;
    steps
        .run("document.getElementById('confirm-yes').click(); return true;")
        .await;
}

#[test]
fn delegate_reads_page_two_keeps_a_private_note_across_reload_follows_the_presenter_and_votes_once_on_the_tablet()
 {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let id = live_meeting(&w).await;
        let api = format!("/api/v1/meetings/{id}");
        let sec = w.as_role("secretary");

        // The secretariat's preparation: an agenda item taken up, its
        // two-page PDF, an open motion.
        let item = sec
            .post(
                &format!("{api}/agenda"),
                json!({"title": "Thảo luận dự thảo Nghị quyết về chuyển đổi số", "presenter": "Ban Tuyên giáo", "planned_minutes": 45}),
            )
            .await;
        assert_eq!(item.status, 201, "{}", item.text);
        let item_id = item.body["id"].as_str().expect("item id").to_string();
        let r = sec
            .post(
                &format!("{api}/agenda/current"),
                json!({"item_id": item_id}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let doc = upload(
            sec,
            &id,
            "Dự thảo Nghị quyết chuyển đổi số",
            &item_id,
            pdf(&["Trang mot", "Trang hai"]),
        )
        .await;
        let doc_id = doc["id"].as_str().expect("document id").to_string();
        let motion = sec
            .post(
                &format!("{api}/motions"),
                json!({"title": "Thông qua Nghị quyết về chuyển đổi số", "mode": "open", "electorate": "delegates"}),
            )
            .await;
        assert_eq!(motion.status, 201, "{}", motion.text);
        let motion_id = motion.body["id"].as_str().expect("motion id").to_string();
        // Opening the vote is the chair's.
        let r = w
            .as_role("chair")
            .post(&format!("{api}/motions/{motion_id}/open"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);

        let base = w.srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "delegate", POLL_INTERVAL);

        // 1. Login, in Vietnamese.
        page.navigate(&format!("{base}/delegate")).await;
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
        steps.shot("01-login").await;
        steps
            .run(&format!(
                "document.getElementById('login-name').value = 'test_delegate';\
                 document.getElementById('login-password').value = {};\
                 document.getElementById('login-submit').click(); return true;",
                json!(PASSWORD)
            ))
            .await;

        // 2. The meeting, in session.
        let row = format!("document.querySelector('#meetings-list [data-meeting=\"{id}\"]')");
        steps
            .until(
                "02-meetings",
                &format!("const r = {row}; return !!r && r.querySelector('.badge').textContent === 'Đang họp';"),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("02-meetings").await;
        steps
            .run(&format!(
                "{row}.querySelector('[data-action=open]').click(); return true;"
            ))
            .await;

        // 3. Documents by agenda item; the current item is marked.
        let group = format!("document.querySelector('#doc-index [data-item=\"{item_id}\"]')");
        steps
            .until(
                "03-documents",
                &format!(
                    "const s = window.diemcau.state(); const g = {group};\
                     return s.view === 'view-meeting' && s.ws === 1 && !!g && g.dataset.current === 'true'\
                       && g.querySelector('.ag-current').textContent === 'Đang thảo luận'\
                       && !!g.querySelector('[data-doc=\"{doc_id}\"]');"
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("03-documents").await;

        // 4. Open it (the reader's watermarked copy) and go to page 2.
        steps
            .run(&format!(
                "document.querySelector('#doc-index [data-doc=\"{doc_id}\"]').click(); return true;"
            ))
            .await;
        steps
            .until(
                "04-reader",
                "const v = window.diemcau.state().viewer; return !!v && v.loaded && v.page === 1 && v.pages === 2\
                   && document.getElementById('page-label').textContent === 'Trang 1 / 2'\
                   && document.getElementById('page-prev').disabled;",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("04-reader-page-1").await;
        steps
            .run("document.getElementById('page-next').click(); return true;")
            .await;
        steps
            .until(
                "05-page-2",
                "const v = window.diemcau.state().viewer; const f = document.querySelector('#reader-frame iframe');\
                 return v.page === 2 && document.getElementById('page-label').textContent === 'Trang 2 / 2'\
                   && document.getElementById('page-next').disabled && !!f && f.getAttribute('src').endsWith('page=2');",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(
            steps
                .run("return document.querySelector('.notes .hint').textContent;")
                .await,
            "Ghi chú chỉ lưu trên máy này."
        );

        // 5. A private note on page 2, kept across a reload.
        steps
            .run(&format!(
                "const a = document.getElementById('note-text'); a.value = {};\
                 a.dispatchEvent(new Event('input')); return true;",
                json!(NOTE)
            ))
            .await;
        steps.shot("05-note").await;
        let url = steps.run("return location.href;").await;
        page.navigate(url.as_str().expect("page url")).await;
        steps
            .until(
                "06-reloaded",
                &format!(
                    "if (!window.diemcau) return false; const v = window.diemcau.state().viewer;\
                     return !!v && v.page === 2 && v.loaded && document.getElementById('note-text').value === {};",
                    json!(NOTE)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("06-note-after-reload").await;
        let exported = steps.run("return window.diemcau.notesText().text;").await;
        let exported = exported.as_str().unwrap_or_default();
        assert!(
            exported.contains(NOTE) && exported.contains("Trang 2:"),
            "{exported}"
        );

        // 6. Follow the presenter: the chair's page-sync moves the reader
        //    back to page 1, where this note is not shown.
        steps
            .run("const f = document.getElementById('follow'); if (!f.checked) f.click(); return true;")
            .await;
        let r = sec
            .post(
                &format!("{api}/presentation"),
                json!({"document_id": doc_id, "page": 1}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        steps
            .until(
                "07-follow",
                "const s = window.diemcau.state(); return s.follow && s.viewer.page === 1\
                   && document.getElementById('note-text').value === '';",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("07-following-presenter").await;

        // 7. Vote: confirmed, counted, marked.
        steps
            .run("document.querySelector('.tab[data-tab=votes]').click(); return true;")
            .await;
        steps
            .until(
                "08-votes",
                &format!("const c = {}; return !!c && c.dataset.state === 'open' && !c.querySelector('.voted');", card(&motion_id)),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("08-votes").await;
        vote_in_page(&steps, "09-confirm", &motion_id, 0).await;
        steps
            .until(
                "10-voted",
                &format!("const c = {}; const v = c && c.querySelector('.voted'); return !!v && v.textContent === 'Đã biểu quyết';", card(&motion_id)),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("10-voted").await;
        let m = sec.get(&format!("{api}/motions/{motion_id}")).await;
        assert_eq!(m.body["ballots_cast"], json!(1), "{}", m.text);
        assert_eq!(
            m.body["results"]["options"][0]["votes"],
            json!(1),
            "{}",
            m.text
        );

        // 8. A second vote is refused, in Vietnamese, and not counted.
        vote_in_page(&steps, "11-confirm-again", &motion_id, 1).await;
        let refusal = steps
            .until(
                "12-refused",
                &format!(
                    "const e = {}.querySelector('.motion-error'); return e ? e.textContent : null;",
                    card(&motion_id)
                ),
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(
            refusal,
            json!("Đồng chí đã biểu quyết nội dung này; không biểu quyết lại được."),
        );
        steps.shot("12-second-vote-refused").await;
        let m = sec.get(&format!("{api}/motions/{motion_id}")).await;
        assert_eq!(m.body["ballots_cast"], json!(1), "{}", m.text);

        // 9. Registering to speak is for the room the delegate sits in (not
        //    the hub); a room not connected yet is refused in Vietnamese.
        steps
            .run("document.querySelector('.tab[data-tab=speak]').click(); return true;")
            .await;
        let rooms = steps
            .until(
                "14-speak",
                "const o = [...document.querySelectorAll('#speak-room option')].map((x) => x.value);\
                 return o.length === 2 ? o : null;",
                STEP_TIMEOUT,
            )
            .await;
        let mut rooms: Vec<&str> = rooms
            .as_array()
            .expect("rooms")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        rooms.sort_unstable();
        let mut want = [w.endpoint("a"), w.endpoint("b")];
        want.sort_unstable();
        assert_eq!(rooms, want);
        assert_eq!(
            steps
                .run("return document.getElementById('speak-status').textContent;")
                .await,
            "Chưa đăng ký phát biểu."
        );
        steps
            .run("document.getElementById('speak-request').click(); return true;")
            .await;
        steps
            .until(
                "14-speak-refused",
                "return [...document.querySelectorAll('.toast-error')].some(e => e.textContent.includes('chưa kết nối'));",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("14-speak-not-connected").await;
        let live = sec.get(&format!("{api}/live")).await;
        assert_eq!(live.body["floor"]["queue"], json!([]), "{}", live.text);

        // 10. English.
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        steps
            .until(
                "15-english",
                &format!(
                    "return document.querySelector('.tab[data-tab=votes]').textContent === 'Votes'\
                   && {}.querySelector('.voted').textContent === 'Vote cast';",
                    card(&motion_id)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("15-english").await;

        // Nothing went wrong on the page along the way.
        let errors: Vec<String> = page
            .console_log()
            .await
            .into_iter()
            // The refused second vote's 409 is logged as a failed load.
            .filter(|l| l.starts_with("SEVERE") && !l.contains("Failed to load resource"))
            .collect();
        assert!(errors.is_empty(), "browser errors: {errors:#?}");
        page.close().await;
    }));
}
