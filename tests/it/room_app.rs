//! The room endpoint app (`web/room.*`) in real Chromium, joined with a real
//! endpoint's own token, against the real server and its control API: the
//! operator mutes the room and the page says so; the room registers to
//! speak; the presenter turns to page 2 of a document and the room's viewer
//! follows; the chair opens a motion, the room votes with its headcount and
//! sees the published result.
//!
//! Runs in a loopback-only network namespace. Screenshots of every step land
//! in `target/test-artifacts/browser/room-app-*.png`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::api::{ApiWorld, Client, world};
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

/// ICE, DTLS and the SFU on a loaded 2-core machine: seconds; 30 s only
/// trips on a real failure.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The page polls the control API every 2 s; one or two rounds plus a
/// document download.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// A meeting for the hub and commune A, chaired by the fixture's chair,
/// starting in three hours (the test opens and starts it itself).
async fn plan(w: &ApiWorld) -> String {
    let start = diemcau::store::now_ms() + 3 * 3_600_000;
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Chấp hành Đảng bộ tỉnh",
                "kind": "bch",
                "starts_at_ms": start,
                "ends_at_ms": start + 2 * 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("a")],
                "chair_user_id": w.users["chair"],
                "members": [{"user_id": w.users["delegate"], "role": "voting"}],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    made.body["meetings"][0]["id"]
        .as_str()
        .expect("meeting id")
        .to_string()
}

/// A small valid PDF with one page per text, with a correct
/// cross-reference table.
fn pdf(pages: &[&str]) -> Vec<u8> {
    let n = pages.len();
    // 1 catalog, 2 pages, 3 font, then (page, contents) pairs.
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    for (i, text) in pages.iter().enumerate() {
        let content = format!("BT /F1 48 Tf 72 600 Td ({text}) Tj ET");
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {} 0 R \
             /Resources << /Font << /F1 3 0 R >> >> >>",
            5 + 2 * i
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    crate::documents::pdf_file(&objects)
}

async fn upload(c: &Client, meeting: &str, title: &str, body: Vec<u8>) -> Value {
    let r = c
        .http
        .post(format!("{}/api/v1/meetings/{meeting}/documents", c.base))
        .query(&[("title", title), ("classification", "thuong")])
        .bearer_auth(c.bearer.as_deref().expect("a bearer"))
        .body(body)
        .send()
        .await
        .expect("upload reaches the server");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert_eq!(status, 201, "upload: {text}");
    serde_json::from_str(&text).expect("document JSON")
}

/// Poll the server through `c` until `check` holds on the JSON at `path`.
async fn server_until(
    steps: &Steps<'_>,
    c: &Client,
    step: &str,
    path: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let r = c.get(path).await;
        if r.status == 200 && check(&r.body) {
            return r.body;
        }
        if Instant::now() >= deadline {
            steps.shot(&format!("{step}-timeout")).await;
            panic!(
                "step {step}: the server's {path} never matched: {}\n{}",
                r.text,
                steps.describe().await
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[test]
fn room_app_follows_mute_floor_page_sync_and_vote_in_chromium() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let id = plan(&w).await;
        let a = w.endpoint("a").to_string();
        let op = w.as_role("operator");
        let sec = w.as_role("secretary");
        let chair = w.as_role("chair");
        for step in ["open", "start"] {
            let r = op
                .post(&format!("/api/v1/meetings/{id}/{step}"), json!({}))
                .await;
            assert_eq!(r.status, 200, "{step}: {}", r.text);
        }

        let base = w.srv.base_url();
        let url = reqwest::Url::parse_with_params(
            &format!("{base}/room/{id}"),
            &[("token", w.province.endpoint_tokens["a"].as_str())],
        )
        .expect("room url")
        .to_string();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "room-app", POLL_INTERVAL);
        page.navigate(&url).await;

        // 1. The room joins with its own token (fake camera), knows which
        // endpoint it is, follows the meeting's event stream (its token as a
        // WebSocket subprotocol), and says so in Vietnamese.
        steps.until("01-joined",
            &format!(
                "const s = window.diemcau && window.diemcau.state();\
                 return !!s && s.connection === 'connected' && s.endpoint === {} && s.events === true\
                   && document.getElementById('conn-text').textContent === 'Đã kết nối'\
                   && document.getElementById('me-name').textContent === 'Điểm cầu xã An Phú'\
                   && !document.getElementById('btn-floor').hidden;",
                json!(a)
            ),
            JOIN_TIMEOUT,
        )
        .await;
        steps.shot("01-joined").await;
        // The token left the address bar (kept in the tab's sessionStorage).
        steps
            .until(
                "01b-token-out-of-url",
                &format!(
                    "return !location.href.includes('token=')\
                       && !location.href.includes({tok})\
                       && sessionStorage.getItem('diemcau.room-token.' + {id}) === {tok};",
                    tok = json!(w.province.endpoint_tokens["a"]),
                    id = json!(id),
                ),
                STEP_TIMEOUT,
            )
            .await;

        // 2. The operator mutes the room: a red banner, and the room cannot
        // unmute itself.
        let r = op
            .post(
                &format!("/api/v1/meetings/{id}/live/mute"),
                json!({"endpoint_id": a, "audio": true, "video": true}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        steps
            .until(
                "02-muted",
                "const b = document.getElementById('muted-banner');\
             return !b.hidden && b.textContent.includes('Điều hành đã tắt micrô của điểm cầu')\
               && document.getElementById('btn-mic').disabled\
               && document.getElementById('btn-cam').disabled;",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("02-muted").await;
        let r = op
            .post(
                &format!("/api/v1/meetings/{id}/live/mute"),
                json!({"endpoint_id": a, "audio": false, "video": false}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        steps
            .until(
                "02b-unmuted",
                "return document.getElementById('muted-banner').hidden\
               && !document.getElementById('btn-mic').disabled;",
                STEP_TIMEOUT,
            )
            .await;

        // 3. The room registers to speak: the server's queue has it, the
        // page shows its place; the chair grants the floor and the page says
        // it is speaking.
        assert_eq!(
            steps
                .run("return document.querySelector('#btn-floor .btn-text').textContent;")
                .await,
            "Đăng ký phát biểu"
        );
        steps
            .run("document.getElementById('btn-floor').click(); return true;")
            .await;
        let live = format!("/api/v1/meetings/{id}/live");
        server_until(&steps, op, "03-floor-server", &live, |b| {
            b["floor"]["queue"]
                .as_array()
                .is_some_and(|q| q.iter().any(|e| e["endpoint_id"] == a.as_str()))
        })
        .await;
        steps
            .until(
                "03-floor-queued",
                "const s = document.getElementById('floor-status').textContent;\
             return s.includes('thứ tự 1')\
               && document.querySelector('#btn-floor .btn-text').textContent === 'Rút đăng ký';",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("03-floor-queued").await;
        // Withdrawn from the page, the queue forgets it; asked again, it is
        // back in line.
        steps
            .run("document.getElementById('btn-floor').click(); return true;")
            .await;
        server_until(&steps, op, "03b-floor-withdrawn", &live, |b| {
            b["floor"]["queue"].as_array().is_some_and(|q| q.is_empty())
        })
        .await;
        steps.until("03b-floor-withdrawn",
            "return window.diemcau.state().floor === 'none'\
               && document.querySelector('#btn-floor .btn-text').textContent === 'Đăng ký phát biểu';",
            STEP_TIMEOUT,
        )
        .await;
        steps
            .run("document.getElementById('btn-floor').click(); return true;")
            .await;
        steps
            .until(
                "03c-floor-again",
                "return window.diemcau.state().floor === 'queued';",
                STEP_TIMEOUT,
            )
            .await;
        let r = chair
            .post(
                &format!("/api/v1/meetings/{id}/live/floor/grant"),
                json!({"endpoint_id": a}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        steps.until("04-floor-granted",
            "return document.getElementById('floor-status').textContent.includes('Đang phát biểu')\
               && window.diemcau.state().floor === 'speaking';",
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("04-floor-granted").await;
        let r = chair
            .post(
                &format!("/api/v1/meetings/{id}/live/floor/revoke"),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        steps
            .until(
                "04b-floor-revoked",
                "return window.diemcau.state().floor === 'none';",
                STEP_TIMEOUT,
            )
            .await;

        // 4. The secretary uploads a two-page document and the presenter
        // turns to page 2: the room's viewer is told page 2 of it.
        let doc = upload(
            sec,
            &id,
            "Báo cáo chính trị",
            pdf(&["Trang mot", "Trang hai"]),
        )
        .await;
        let doc_id = doc["id"].as_str().expect("document id").to_string();
        for page_no in [1, 2] {
            let r = sec
                .post(
                    &format!("/api/v1/meetings/{id}/presentation"),
                    json!({"document_id": doc_id, "page": page_no}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            steps
                .until(
                    &format!("05-page-{page_no}"),
                    &format!(
                        "const p = window.diemcau.presentation();\
                     const f = document.querySelector('#doc-frame iframe');\
                     return !!p && p.document_id === {} && p.page === {page_no}\
                       && !!f && f.src.endsWith('page={page_no}')\
                       && document.getElementById('doc-caption').textContent\
                          .includes('Tài liệu: Báo cáo chính trị, trang {page_no}');",
                        json!(doc_id)
                    ),
                    STEP_TIMEOUT,
                )
                .await;
        }
        // The PDF viewer renders in its own frame: give it a moment to
        // paint before the picture (the assertion above does not wait on it).
        tokio::time::sleep(Duration::from_millis(1500)).await;
        steps.shot("05-page-2").await;

        // 5. A vote: the secretary confirms the room's headcount, the chair
        // opens a motion for the rooms; the page shows it with the
        // headcount filled in; the room votes; the server counts it.
        let r = sec
            .post(
                &format!("/api/v1/meetings/{id}/live/headcount"),
                json!({"endpoint_id": a, "headcount": 25}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let motions = format!("/api/v1/meetings/{id}/motions");
        let m = chair
            .post(
                &motions,
                json!({"title": "Thông qua Nghị quyết Đại hội", "mode": "open", "electorate": "rooms"}),
            )
            .await;
        assert_eq!(m.status, 201, "{}", m.text);
        let mid = m.body["id"].as_str().expect("motion id").to_string();
        let r = chair
            .post(&format!("{motions}/{mid}/open"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        steps.until("06-vote-open",
            "const p = document.getElementById('vote-panel');\
             return !p.hidden\
               && document.getElementById('vote-title').textContent === 'Thông qua Nghị quyết Đại hội'\
               && document.getElementById('vote-headcount').value === '25'\
               && document.querySelectorAll('#vote-options button').length === 3\
               && !document.querySelector('#vote-options button').disabled;",
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("06-vote-open").await;
        steps.run("document.querySelector('#vote-options button[data-index=\"0\"]').click(); return true;",
        )
        .await;
        steps.until("07-voted",
            "return document.getElementById('vote-status').textContent.includes('Đã biểu quyết');",
            STEP_TIMEOUT,
        )
        .await;
        let counted = server_until(
            &steps,
            chair,
            "07-counted",
            &format!("{motions}/{mid}"),
            |b| b["ballots_cast"] == 1,
        )
        .await;
        assert_eq!(
            counted["results"]["options"][0]["votes"], 25,
            "the room votes with its headcount: {counted}"
        );
        steps.shot("07-voted").await;

        // 6. The chair closes and publishes: the page shows the result.
        for step in ["close", "publish"] {
            let r = chair
                .post(&format!("{motions}/{mid}/{step}"), json!({}))
                .await;
            assert_eq!(r.status, 200, "{step}: {}", r.text);
        }
        steps
            .until(
                "08-result",
                "const r = document.getElementById('vote-results');\
             const rows = r.querySelectorAll('.vote-bar');\
             return !r.hidden && rows.length === 3 && rows[0].dataset.votes === '25'\
               && rows[0].textContent.includes('Tán thành')\
               && document.getElementById('vote-status').textContent.includes('Kết quả');",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("08-result").await;

        // 7. The signalling connection drops: the page says it is
        // reconnecting and comes back by itself, as the same endpoint.
        steps
            .run("window.diemcau.dropConnection(); return true;")
            .await;
        steps.until("09-reconnecting",
            "return document.getElementById('conn-text').textContent === 'Mất kết nối – đang kết nối lại…';",
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("09-reconnecting").await;
        steps
            .until(
                "10-reconnected",
                &format!(
                    "const s = window.diemcau.state();\
                 return s.connection === 'connected' && s.attempts >= 2 && s.endpoint === {}\
                   && document.getElementById('conn-text').textContent === 'Đã kết nối';",
                    json!(a)
                ),
                JOIN_TIMEOUT,
            )
            .await;
        steps.shot("10-reconnected").await;

        // 8. English on request, remembered; Vietnamese is the default.
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        steps
            .until(
                "11-english",
                "return document.documentElement.lang === 'en'\
               && document.getElementById('conn-text').textContent === 'Connected'\
               && document.querySelector('#btn-floor .btn-text').textContent === 'Request to speak'\
               && localStorage.getItem('diemcau.lang') === 'en';",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("11-english").await;

        page.close().await;
        drop(driver);
    }));
}
