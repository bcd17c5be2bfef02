//! Recording a live meeting end to end: real rooms (webrtc-rs) publish real
//! VP8 simulcast and Opus through the server; the recorder (an engine tap,
//! no browser) writes per-track files and the program; ffprobe reads them.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::api::{ApiWorld, world_with};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::{
    ClientConfig, PublishConfig, RtcClient, VideoSource, default_layers, run_in_loopback_netns,
    ws_join,
};
use crate::support::vp8_source;

async fn live_meeting(w: &ApiWorld) -> String {
    let start = diemcau::store::now_ms() + 3_600_000;
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Thường vụ Tỉnh ủy",
                "kind": "btv",
                "starts_at_ms": start,
                "ends_at_ms": start + 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("a")],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
    let op = w.as_role("operator");
    for step in ["open", "start"] {
        let r = op
            .post(&format!("/api/v1/meetings/{id}/{step}"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{step}: {}", r.text);
    }
    id
}

fn ffprobe(path: &Path) -> Value {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe (Debian ffmpeg, installed by .ci/setup) runs");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn seconds(v: &Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

/// Decode the whole file: errors in the stream fail the test.
fn decodes_cleanly(path: &Path) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ffmpeg decode {}: {err}",
        path.display()
    );
}

#[test]
fn a_live_meeting_is_recorded_per_track_and_as_a_program_that_ffprobe_reads() {
    let layers = default_layers();
    let clips = vp8_source::testsrc_clips(&layers);
    run_in_loopback_netns(run_sqlite(|db| async move {
        // By hand here, to know exactly when it starts and stops.
        let w = world_with(db, |c| c.recording.automatic = false).await;
        let id = live_meeting(&w).await;
        let op = w.as_role("operator").clone();
        let base = w.srv.base_url();

        // Refusals first: nothing is running, nothing to stop; a meeting
        // that is not live cannot be recorded.
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings/stop"), json!({}))
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (409, "not_recording"),
            "{}",
            r.text
        );

        let mut hub = RtcClient::new(ClientConfig {
            name: "Hội trường Tỉnh ủy".into(),
            publish: Some(PublishConfig {
                layers: layers.clone(),
                audio: true,
                audio_level: 20,
                video: VideoSource::Ivf(clips.clone()),
            }),
            recv_video: 1,
            recv_audio: 1,
            loss: None,
        })
        .await
        .unwrap();
        let (_ws, _) = ws_join(&mut hub, &base, &id, &w.province.endpoint_tokens["hub"])
            .await
            .unwrap();
        hub.wait_connected(Duration::from_secs(20)).await.unwrap();
        // Let the publisher ramp up before the recording starts.
        tokio::time::sleep(Duration::from_secs(2)).await;

        let started = Instant::now();
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings"), json!({}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let rec = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(r.body["state"], "recording");
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings"), json!({}))
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (409, "already_recording"),
            "{}",
            r.text
        );
        // The agenda moves while recording: a chapter.
        let sec = w.as_role("secretary");
        let item = sec
            .post(
                &format!("/api/v1/meetings/{id}/agenda"),
                json!({"title": "Báo cáo tình hình kinh tế - xã hội", "presenter": "Đồng chí Phó Chủ tịch", "planned_minutes": 15}),
            )
            .await;
        assert_eq!(item.status, 201, "{}", item.text);
        let r = sec
            .post(
                &format!("/api/v1/meetings/{id}/agenda/current"),
                json!({"item_id": item.body["id"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);

        tokio::time::sleep(Duration::from_secs(6)).await;
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings/stop"), json!({}))
            .await;
        let recorded_for = started.elapsed().as_secs_f64();
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["state"], "stopped");
        let r2 = op
            .post(&format!("/api/v1/meetings/{id}/recordings/stop"), json!({}))
            .await;
        assert_eq!(
            (r2.status.as_u16(), r2.code()),
            (409, "not_recording"),
            "{}",
            r2.text
        );

        // The listing carries the index: files and chapters.
        let list = w
            .as_role("secretary")
            .get(&format!("/api/v1/meetings/{id}/recordings"))
            .await;
        assert_eq!(list.status, 200, "{}", list.text);
        let one = &list.body["recordings"][0];
        assert_eq!(one["id"], rec.as_str());
        let index = &one["index"];
        let files: Vec<(String, String)> = index["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["file"].as_str().unwrap().to_string(),
                    s["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(files.iter().any(|f| f.0 == "program.webm"), "{files:?}");
        assert!(files.iter().any(|f| f.1 == "video"), "{files:?}");
        assert!(files.iter().any(|f| f.1 == "audio"), "{files:?}");
        let chapters = index["chapters"].as_array().unwrap();
        assert!(
            chapters.iter().any(
                |c| c["kind"] == "agenda" && c["title"] == "Báo cáo tình hình kinh tế - xã hội"
            ),
            "{chapters:?}"
        );
        assert!(
            chapters
                .iter()
                .any(|c| c["kind"] == "program" && c["title"] == "Hội trường Tỉnh ủy"),
            "{chapters:?}"
        );
        assert_eq!(
            w.as_role("delegate")
                .get(&format!("/api/v1/meetings/{id}/recordings"))
                .await
                .status,
            403
        );

        // Download every file through the API (Range works) and probe it.
        let dir = tempfile::tempdir().unwrap();
        for (file, kind) in &files {
            let url = format!("{base}/api/v1/meetings/{id}/recordings/{rec}/{file}");
            let c = w.as_role("secretary");
            let body = c
                .http
                .get(&url)
                .bearer_auth(c.bearer.as_ref().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(body.status(), 200);
            let bytes = body.bytes().await.unwrap();
            let part = c
                .http
                .get(&url)
                .bearer_auth(c.bearer.as_ref().unwrap())
                .header("range", "bytes=100-")
                .send()
                .await
                .unwrap();
            assert_eq!(part.status(), 206);
            assert_eq!(&part.bytes().await.unwrap()[..], &bytes[100..]);
            let path = dir.path().join(file);
            std::fs::write(&path, &bytes).unwrap();
            decodes_cleanly(&path);
            let probe = ffprobe(&path);
            let codecs: Vec<&str> = probe["streams"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["codec_name"].as_str().unwrap())
                .collect();
            match kind.as_str() {
                "program" => assert_eq!(codecs, vec!["vp8", "opus"], "{file}"),
                "video" => assert_eq!(codecs, vec!["vp8"], "{file}"),
                _ => assert_eq!(codecs, vec!["opus"], "{file}"),
            }
            let duration = seconds(&probe["format"]["duration"]);
            assert!(
                (duration - recorded_for).abs() < 0.5,
                "{file}: {duration:.2} s recorded of {recorded_for:.2} s"
            );
            if kind == "program" {
                let starts: Vec<f64> = probe["streams"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| seconds(&s["start_time"]))
                    .collect();
                assert!(
                    (starts[0] - starts[1]).abs() < 0.1,
                    "program audio/video start offsets {starts:?}"
                );
            }
        }
        let bad = w
            .as_role("secretary")
            .get(&format!(
                "/api/v1/meetings/{id}/recordings/{rec}/..%2Fdiemcau.db"
            ))
            .await;
        assert_eq!(bad.status, 404);
        let bad = w
            .as_role("secretary")
            .get(&format!(
                "/api/v1/meetings/{id}/recordings/rec_none/program.webm"
            ))
            .await;
        assert_eq!(
            (bad.status.as_u16(), bad.code()),
            (404, "unknown_recording")
        );
        hub.close().await;
    }));
}
