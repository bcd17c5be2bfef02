//! The technical check and the readiness board (issue 21, items 3 and 4)
//! over HTTP on both database backends: rooms report, the board judges,
//! strangers and bad figures change nothing, and the XLSX and PDF exports
//! read back with a real reader.

use std::io::Cursor;

use calamine::{Reader, Xlsx};
use serde_json::{Value, json};

use crate::documents::pdf_text;
use crate::support::api::{ApiWorld, Client, world};
use crate::support::db::both_backends;

/// A briefing in two hours for the hub and communes A and B (W is not
/// planned).
async fn plan(w: &ApiWorld) -> String {
    let start = diemcau::store::now_ms() + 2 * 3_600_000;
    let made = w
        .as_role("operator")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Giao ban trực tuyến tháng 12",
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

/// What a healthy room's page reports.
fn good() -> Value {
    json!({
        "rtt_ms": 35, "loss_percent": 0.4, "jitter_ms": 6,
        "up_kbps": 1100, "down_kbps": 1400,
        "camera_frames": 290, "camera_width": 1280, "camera_height": 720,
        "mic_level": 0.21, "speaker_heard": true, "technician_confirmed": true
    })
}

fn row<'a>(board: &'a Value, endpoint: &str) -> &'a Value {
    board["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["endpoint_id"] == endpoint)
        .unwrap_or_else(|| panic!("{endpoint} on the board: {board}"))
}

/// The raw bytes of a GET (an export).
async fn download(c: &Client, path: &str) -> (u16, String, Vec<u8>) {
    let r = c
        .http
        .get(format!("{}{path}", c.base))
        .bearer_auth(c.bearer.as_deref().unwrap_or(""))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ty = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ty, r.bytes().await.unwrap().to_vec())
}

both_backends! {
    async fn the_readiness_board_judges_each_planned_rooms_check_and_refuses_strangers_and_bad_figures(db) {
        let w = world(db).await;
        let id = plan(&w).await;
        let op = w.as_role("operator");
        let board_path = format!("/api/v1/meetings/{id}/readiness");
        let checks = format!("/api/v1/meetings/{id}/checks");

        let board = op.get(&board_path).await;
        assert_eq!(board.status, 200, "{}", board.text);
        assert_eq!(board.body["rows"].as_array().unwrap().len(), 3, "hub, A, B: {}", board.text);
        let a = row(&board.body, w.endpoint("a"));
        assert_eq!(a["status"], "not_checked");
        assert_eq!(a["technician_name"], "Trần Văn Kỹ");
        assert_eq!(a["technician_phone"], "0912 345 678");
        assert_eq!(row(&board.body, w.endpoint("hub"))["hub"], true);

        // A reports a healthy room; B's camera is missing.
        let r = w.as_endpoint("a").post(&checks, good()).await;
        assert_eq!((r.status.as_u16(), r.body["status"].as_str()), (201, Some("ready")), "{}", r.text);
        let mut no_camera = good();
        for k in ["camera_frames", "camera_width", "camera_height"] {
            no_camera.as_object_mut().unwrap().remove(k);
        }
        let r = w.as_endpoint("b").post(&checks, no_camera).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["status"], "failed");

        // Refused, and nothing changes: a room not planned (as if there were
        // no such meeting), a figure out of range, a person reporting.
        let r = w.as_endpoint("w").post(&checks, good()).await;
        assert_eq!((r.status.as_u16(), r.code()), (404, "unknown_meeting"), "{}", r.text);
        let mut lossy = good();
        lossy["loss_percent"] = json!(150);
        let r = w.as_endpoint("a").post(&checks, lossy).await;
        assert_eq!((r.status.as_u16(), r.code(), r.field()), (400, "out_of_range", "loss_percent"), "{}", r.text);
        let r = op.post(&checks, good()).await;
        assert_eq!(r.status, 403, "{}", r.text);
        let r = w.as_endpoint("a").post(&checks, json!({"rtt_ms": 5, "bogus": 1})).await;
        assert_eq!(r.status.as_u16() / 100, 4, "{}", r.text);

        let board = op.get(&board_path).await;
        let b = &board.body;
        assert_eq!(row(b, w.endpoint("a"))["status"], "ready");
        assert_eq!(row(b, w.endpoint("a"))["figures"]["loss_percent"], 0.4);
        assert!(row(b, w.endpoint("a"))["checked_at_ms"].as_i64().unwrap() > 0);
        let rb = row(b, w.endpoint("b"));
        assert_eq!(rb["status"], "failed");
        assert_eq!(rb["failing"][0]["check"], "camera");
        assert_eq!(rb["failing"][0]["reason"], "Không có hình từ camera");
        assert_eq!(row(b, w.endpoint("hub"))["status"], "not_checked");
        assert_eq!(b["rows"][0]["endpoint_id"], w.endpoint("b"), "failed rooms first");
        assert_eq!(b["counts"]["ready"], 1);
        assert!(b["rows"].as_array().unwrap().iter().all(|r| r["endpoint_id"] != w.endpoint("w")));
        // The auditor reads it; a delegate does not.
        assert_eq!(w.as_role("auditor").get(&board_path).await.status, 200);
        assert!(w.as_role("delegate").get(&board_path).await.status.is_client_error());

        // The operator starts the check (the meeting is not open: nobody
        // connected to tell), audited.
        let r = op.post(&format!("/api/v1/meetings/{id}/checks/start"), json!({})).await;
        assert_eq!((r.status.as_u16(), r.body["rooms_told"].as_u64()), (200, Some(0)), "{}", r.text);
        let board = op.get(&board_path).await;
        assert_eq!(board.body["started"]["started_by"], "test_operator");

        // XLSX, read back with calamine.
        let (status, ty, bytes) = download(op, &format!("{board_path}?format=xlsx")).await;
        assert_eq!(status, 200);
        assert!(ty.contains("spreadsheetml"), "{ty}");
        let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("an XLSX file");
        let sheet = book.worksheet_range("Sẵn sàng").expect("the sheet");
        let rows: Vec<Vec<String>> = sheet
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        assert_eq!(rows[0][0], "Bảng sẵn sàng kỹ thuật");
        let header = rows.iter().position(|r| r[0] == "Điểm cầu").expect("header row");
        assert_eq!(rows[header][2], "Trạng thái");
        let bb = rows.iter().find(|r| r[0] == "Điểm cầu xã Bình Minh").expect("B's row");
        assert_eq!(bb[2], "Không đạt");
        assert!(bb[3].contains("Không có hình từ camera"), "{bb:?}");
        assert_eq!(bb[10], "Trần Văn Kỹ\n0912 345 678");
        let aa = rows.iter().find(|r| r[0] == "Điểm cầu xã An Phú").expect("A's row");
        assert_eq!((aa[2].as_str(), aa[4].as_str(), aa[5].as_str()), ("Sẵn sàng", "35", "0.4"));
        assert_eq!(rows.len() - header - 1, 3, "one row per planned room");

        // PDF, read back with pdftotext.
        let (status, ty, bytes) = download(op, &format!("{board_path}?format=pdf")).await;
        assert_eq!((status, ty.as_str()), (200, "application/pdf"));
        // A cell's lines come out one after the other: read them as one.
        let text = pdf_text(&bytes).split_whitespace().collect::<Vec<_>>().join(" ");
        for s in ["Bảng sẵn sàng kỹ thuật", "Điểm cầu xã An Phú", "Không có hình từ camera", "Không đạt", "0912 345 678"] {
            assert!(text.contains(s), "{s:?} in the PDF:\n{text}");
        }
        let r = op.get(&format!("{board_path}?format=doc")).await;
        assert_eq!((r.status.as_u16(), r.field()), (422, "format"), "{}", r.text);
    }
}
