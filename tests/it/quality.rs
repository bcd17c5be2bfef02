//! Quality after the meeting (issue 21, item 6): a real room's link summed
//! over the meeting and stored when it ends; the monthly report per unit on
//! both backends, as JSON, XLSX (read back with calamine) and PDF (with
//! pdftotext); an empty month is an empty report, not an error.

use std::io::Cursor;
use std::time::Duration;

use calamine::{Data, Reader, Xlsx};
use serde_json::json;

use crate::documents::pdf_text;
use crate::support::api::{ApiWorld, Client, world};
use crate::support::db::{both_backends, run_sqlite};
use crate::support::rtc_client::{
    ClientConfig, PublishConfig, RtcClient, run_in_loopback_netns, ws_join,
};
use diemcau::control::live::QualitySummary;

/// A briefing for the hub and communes A and B starting at `start`.
async fn plan_at(w: &ApiWorld, start: i64) -> String {
    let made = w
        .as_role("operator")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Giao ban trực tuyến",
                "kind": "giao_ban",
                "starts_at_ms": start,
                "ends_at_ms": start + 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("a"), w.endpoint("b")],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    made.body["meetings"][0]["id"].as_str().unwrap().to_string()
}

async fn download(c: &Client, path: &str) -> (u16, Vec<u8>) {
    let r = c
        .http
        .get(format!("{}{path}", c.base))
        .bearer_auth(c.bearer.as_deref().unwrap_or(""))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

fn sheet(bytes: Vec<u8>) -> Vec<Vec<Data>> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("an XLSX file");
    let range = book.worksheet_range("Báo cáo").expect("the sheet");
    range.rows().map(|r| r.to_vec()).collect()
}

fn summary(endpoint: &str, first: i64, loss_p95: f64, rtt_p95: u32, drops: u32) -> QualitySummary {
    QualitySummary {
        endpoint_id: endpoint.into(),
        connected_ms: 3_000_000,
        first_connected_ms: first,
        last_connected_ms: first + 3_000_000,
        samples: 1_500,
        loss_p50_pct: 0.1,
        loss_p95_pct: loss_p95,
        rtt_p50_ms: rtt_p95 / 2,
        rtt_p95_ms: rtt_p95,
        kbps_in_mean: 900,
        drops,
        jitter_p50_ms: 4,
        jitter_p95_ms: 20,
        // 50 minutes of 20 ms frames; each lost one per mille of loss p95
        // (a room's continuity follows its loss), and a freeze a minute
        // per drop.
        audio_frames_expected: 150_000,
        audio_frames_received: 150_000 - (loss_p95 * 1_500.0 / 10.0) as u64,
        video_freezes: drops * 50,
        video_freeze_ms: u64::from(drops) * 50 * 300,
        stage_layer_ms: [0, 1_000_000, 2_000_000],
    }
}

both_backends! {
    async fn the_monthly_unit_report_counts_attendance_on_time_quality_and_checks_and_an_empty_month_is_empty(db) {
        let w = world(db).await;
        let op = w.as_role("operator");
        // An empty month: an empty report in every format.
        let r = op.get("/api/v1/reports/units?month=2031-01").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.body["meetings"].as_u64(), r.body["rows"].as_array().map(Vec::len)), (Some(0), Some(0)));
        let (status, bytes) = download(op, "/api/v1/reports/units?month=2031-01&format=xlsx").await;
        assert_eq!(status, 200);
        let rows = sheet(bytes);
        assert_eq!(rows.len(), 4, "title, summary, blank, header: {rows:?}");
        let (status, bytes) = download(op, "/api/v1/reports/units?month=2031-01&format=pdf").await;
        assert_eq!(status, 200);
        assert!(pdf_text(&bytes).contains("Không có hội nghị nào trong tháng."));
        let r = op.get("/api/v1/reports/units?month=2031-13").await;
        assert_eq!((r.status.as_u16(), r.field()), (422, "month"), "{}", r.text);

        // A meeting next month (2 months ahead at most): A on time with a
        // clean check, B late with a failed one, the hub absent.
        let now = diemcau::store::now_ms();
        let start = now + 40 * 86_400_000;
        let month = {
            let t = time::OffsetDateTime::from_unix_timestamp((start + 7 * 3_600_000) / 1000).unwrap();
            format!("{}-{:02}", t.year(), u8::from(t.month()))
        };
        let id = plan_at(&w, start).await;
        let checks = format!("/api/v1/meetings/{id}/checks");
        let good = json!({"rtt_ms": 30, "loss_percent": 0.1, "up_kbps": 900, "camera_frames": 250,
            "camera_width": 1280, "camera_height": 720, "mic_level": 0.2, "speaker_heard": true,
            "technician_confirmed": true});
        assert_eq!(w.as_endpoint("a").post(&checks, good.clone()).await.status, 201);
        let mut bad = good.clone();
        bad["mic_level"] = json!(0.0);
        assert_eq!(w.as_endpoint("b").post(&checks, bad).await.status, 201);
        diemcau::control::quality::Quality::new(w.db.store.clone())
            .record(&id, &[
                summary(w.endpoint("a"), start - 600_000, 2.0, 80, 1),
                summary(w.endpoint("b"), start + 300_000, 7.5, 420, 3),
            ])
            .await
            .unwrap();

        let q = op.get(&format!("/api/v1/meetings/{id}/quality")).await;
        assert_eq!(q.status, 200, "{}", q.text);
        assert_eq!(q.body["final"], true);
        let qa = q.body["rows"].as_array().unwrap().iter().find(|r| r["endpoint_id"] == w.endpoint("a")).unwrap().clone();
        assert_eq!((qa["name"].as_str(), qa["loss_p95_pct"].as_f64(), qa["drops"].as_u64()), (Some("Điểm cầu xã An Phú"), Some(2.0), Some(1)));

        let r = op.get(&format!("/api/v1/reports/units?month={month}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["meetings"], 1);
        let unit = |name: &str| r.body["rows"].as_array().unwrap().iter().find(|u| u["unit_name"] == name).cloned().unwrap_or_else(|| panic!("{name} in {}", r.text));
        let a = unit("Xã An Phú");
        assert_eq!((a["planned"].as_u64(), a["attended"].as_u64(), a["on_time"].as_u64()), (Some(1), Some(1), Some(1)));
        assert_eq!((a["loss_p95_mean_pct"].as_f64(), a["rtt_p95_mean_ms"].as_u64(), a["checks_ready"].as_u64()), (Some(2.0), Some(80), Some(1)));
        let b = unit("Xã Bình Minh");
        assert_eq!((b["attended"].as_u64(), b["on_time"].as_u64(), b["drops"].as_u64(), b["checks_failed"].as_u64()), (Some(1), Some(0), Some(3), Some(1)));
        // 7.5 % loss: 1 125 of 150 000 frames missing; 150 freezes in 50 minutes.
        assert_eq!((b["audio_continuity_pct"].as_f64(), b["freezes_per_minute"].as_f64()), (Some(99.25), Some(3.0)));
        assert_eq!((a["audio_continuity_pct"].as_f64(), a["freezes_per_minute"].as_f64()), (Some(99.8), Some(1.0)));
        let p = unit("Tỉnh Thử Nghiệm");
        assert_eq!((p["planned"].as_u64(), p["attended"].as_u64(), p["checks_missing"].as_u64()), (Some(1), Some(0), Some(1)));
        assert!(p["loss_p95_mean_pct"].is_null());

        let (status, bytes) = download(op, &format!("/api/v1/reports/units?month={month}&format=xlsx")).await;
        assert_eq!(status, 200);
        let rows = sheet(bytes);
        assert_eq!(rows[3][0], Data::String("Đơn vị".into()));
        let row_b = rows.iter().find(|r| r[0] == Data::String("Xã Bình Minh".into())).expect("B's row");
        assert_eq!((&row_b[1], &row_b[3], &row_b[5], &row_b[11]), (&Data::Float(1.0), &Data::Float(0.0), &Data::Float(7.5), &Data::Float(1.0)));
        assert_eq!((&row_b[7], &row_b[8]), (&Data::Float(99.25), &Data::Float(3.0)));
        assert_eq!(rows.len(), 4 + 3, "one row per unit");
        let (status, bytes) = download(op, &format!("/api/v1/reports/units?month={month}&format=pdf")).await;
        assert_eq!(status, 200);
        let text = pdf_text(&bytes).split_whitespace().collect::<Vec<_>>().join(" ");
        for s in [format!("tháng {month}"), "Xã An Phú".into(), "Xã Bình Minh".into(), "Rớt kết nối".into(), "Xã Bình Minh 1 1 0 3 7.5 420 99.25 3.00 0 0 1 0".into(), "Âm thanh".into()] {
            assert!(text.contains(&s), "{s:?} in the PDF:\n{text}");
        }
        // Sub-operators see one subtree: not the province's report.
        assert_eq!(w.as_role("sub_operator").get(&format!("/api/v1/reports/units?month={month}")).await.status, 403);
    }
}

#[test]
fn a_rooms_link_over_the_meeting_is_stored_when_it_ends() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let id = plan_at(&w, diemcau::store::now_ms() + 60_000).await;
        let op = w.as_role("operator").clone();
        for step in ["open", "start"] {
            let r = op
                .post(&format!("/api/v1/meetings/{id}/{step}"), json!({}))
                .await;
            assert_eq!(r.status, 200, "{step}: {}", r.text);
        }
        let mut a = RtcClient::new(ClientConfig {
            name: "Điểm cầu xã An Phú".into(),
            publish: Some(PublishConfig::default()),
            recv_video: 1,
            recv_audio: 1,
            loss: None,
            ..Default::default()
        })
        .await
        .unwrap();
        let (_ws, _) = ws_join(
            &mut a,
            &w.srv.base_url(),
            &id,
            &w.province.endpoint_tokens["a"],
        )
        .await
        .unwrap();
        a.wait_connected(Duration::from_secs(20)).await.unwrap();
        // While it runs: the figures so far, not final.
        let mut so_far = None;
        for _ in 0..50 {
            let q = op.get(&format!("/api/v1/meetings/{id}/quality")).await;
            if q.body["rows"].as_array().is_some_and(|r| !r.is_empty()) {
                so_far = Some(q);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let so_far = so_far.expect("a link sample within 10 s");
        assert_eq!(so_far.body["final"], false);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let r = op
            .post(&format!("/api/v1/meetings/{id}/end"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let q = op.get(&format!("/api/v1/meetings/{id}/quality")).await;
        assert_eq!(q.body["final"], true, "{}", q.text);
        let rows = q.body["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{}", q.text);
        let r = &rows[0];
        assert_eq!(r["endpoint_id"], w.endpoint("a"));
        assert!(r["samples"].as_u64().unwrap() >= 2, "{r}");
        assert_eq!(
            r["connected_ms"].as_u64().unwrap(),
            r["samples"].as_u64().unwrap() * 2_000
        );
        assert!(
            r["first_connected_ms"].as_i64().unwrap() <= r["last_connected_ms"].as_i64().unwrap()
        );
        assert!(r["rtt_p95_ms"].as_u64().unwrap() < 1_000, "{r}");
        assert_eq!(r["loss_p95_pct"].as_f64(), Some(0.0), "{r}");
        // Its audio, measured as it arrived: seconds of 20 ms frames, none
        // lost on loopback.
        let (expected, received) = (
            r["audio_frames_expected"].as_u64().unwrap(),
            r["audio_frames_received"].as_u64().unwrap(),
        );
        assert!(expected >= 100, "{r}");
        assert!(received * 100 >= expected * 99, "{r}");
    }));
}
