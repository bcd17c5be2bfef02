//! Recording a live meeting end to end: real rooms (webrtc-rs) publish real
//! VP8 simulcast and Opus through the server; the recorder (an engine tap,
//! no browser) writes per-track files and the program; ffprobe reads them.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::api::{ApiWorld, world_with};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::{
    ClientConfig, PublishConfig, RtcClient, VideoSource, WsClient, default_layers,
    run_in_loopback_netns, ws_join,
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

/// A file system of `bytes` at `at`, seen by this test process only: a new
/// mount namespace (made before any thread of the test starts, so the
/// server's threads inherit it) with a tmpfs mounted there. It goes away
/// with the process.
fn small_disk(at: &Path, bytes: u64) {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |s: &str| CString::new(s).unwrap();
    std::fs::create_dir_all(at).unwrap();
    let target = CString::new(at.as_os_str().as_bytes()).unwrap();
    let opts = c(&format!("size={bytes}"));
    // SAFETY: plain system calls with valid NUL-terminated strings.
    unsafe {
        assert_eq!(
            libc::unshare(libc::CLONE_NEWNS),
            0,
            "unshare(CLONE_NEWNS): {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(
            libc::mount(
                c("none").as_ptr(),
                c("/").as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null()
            ),
            0,
            "make / private: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(
            libc::mount(
                c("tmpfs").as_ptr(),
                target.as_ptr(),
                c("tmpfs").as_ptr(),
                0,
                opts.as_ptr().cast()
            ),
            0,
            "mount tmpfs: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The disk fills up mid-meeting: the recording stops cleanly with its
/// files playable, the row says why, the consoles are told — and the
/// meeting and its media go on.
#[test]
fn a_full_disk_stops_the_recording_cleanly_and_the_meeting_goes_on() {
    let layers = default_layers();
    let clips = vp8_source::testsrc_clips(&layers);
    let data = tempfile::tempdir().unwrap();
    let recordings = data.path().join("recordings");
    small_disk(&recordings, 300 * 1024);
    let data_dir = data.path().to_path_buf();
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world_with(db, move |c| {
            c.data_dir = data_dir;
            c.recording.automatic = false;
            c.recording.min_free_mib = 0;
        })
        .await;
        let id = live_meeting(&w).await;
        let op = w.as_role("operator").clone();
        let base = w.srv.base_url();
        let ws = format!(
            "{}/api/v1/meetings/{id}/live/events",
            base.replacen("http", "ws", 1)
        );
        let console = WsClient::connect_url(&ws, op.bearer.as_deref())
            .await
            .unwrap();
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
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings"), json!({}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);

        // A few hundred KiB of video fill it in seconds.
        let failed = console
            .wait_type(0, "recording_failed", Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no recording_failed event: {:?}", console.received()));
        assert_eq!(failed["reason"], "disk_full", "{failed}");
        assert!(
            failed["message"]
                .as_str()
                .unwrap()
                .contains("hội nghị vẫn tiếp tục")
        );
        let list = op.get(&format!("/api/v1/meetings/{id}/recordings")).await;
        let rec = &list.body["recordings"][0];
        assert_eq!(
            (rec["state"].as_str(), rec["failure"].as_str()),
            (Some("failed"), Some("disk_full")),
            "{}",
            list.text
        );
        // What was written before the disk filled plays.
        let program = recordings
            .join(rec["dir"].as_str().unwrap())
            .join("program.webm");
        if program.exists() && std::fs::metadata(&program).unwrap().len() > 0 {
            let out = std::process::Command::new("ffprobe")
                .args(["-v", "error", "-show_streams"])
                .arg(&program)
                .output()
                .unwrap();
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("codec_name=vp8"),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // The meeting is still live and still recordable later; the room
        // is still connected and receiving.
        let m = op.get(&format!("/api/v1/meetings/{id}")).await;
        assert_eq!(m.body["state"], "live", "{}", m.text);
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings/stop"), json!({}))
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (409, "not_recording"),
            "{}",
            r.text
        );
        assert_eq!(
            hub.connection_state(),
            webrtc::peer_connection::RTCPeerConnectionState::Connected,
            "the room stays connected"
        );
        hub.close().await;
    }));
}

/// Under the free-space threshold a recording does not start (507), and
/// nothing is recorded.
#[test]
fn a_recording_does_not_start_without_enough_free_disk() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world_with(db, |c| {
            c.recording.automatic = false;
            c.recording.min_free_mib = u64::MAX >> 21;
        })
        .await;
        let id = live_meeting(&w).await;
        let op = w.as_role("operator");
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings"), json!({}))
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (507, "disk_full"),
            "{}",
            r.text
        );
        let list = op.get(&format!("/api/v1/meetings/{id}/recordings")).await;
        assert_eq!(list.body["recordings"], json!([]), "{}", list.text);
    }));
}
