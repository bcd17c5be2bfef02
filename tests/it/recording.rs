//! Recording a live meeting end to end: real rooms (webrtc-rs) publish real
//! VP8 simulcast and Opus through the server; the recorder (an engine tap,
//! no browser) writes per-track files and the program; ffprobe reads them.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::api::{ApiWorld, world_with};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::{
    ClientConfig, LayerSpec, PublishConfig, RtcClient, VideoSource, WsClient, default_layers,
    run_in_loopback_netns, ws_join,
};
use crate::support::server::free_tcp_port;
use crate::support::vp8_source;

pub(crate) async fn live_meeting(w: &ApiWorld) -> String {
    let id = live_meeting_of_kind(w, "btv").await;
    // A BTV conference mutes rooms on entry; these tests record every room
    // talking, so the operator lets them join open.
    let r = w
        .as_role("operator")
        .post(
            &format!("/api/v1/meetings/{id}/live/mute-on-entry"),
            json!({"on": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

async fn live_meeting_of_kind(w: &ApiWorld, kind: &str) -> String {
    let start = diemcau::store::now_ms() + 3_600_000;
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Thường vụ Tỉnh ủy",
                "kind": kind,
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

/// The hub room publishing real VP8 simulcast (the clips) and real Opus
/// (a 440 Hz tone).
pub(crate) async fn hub_publisher(layers: &[LayerSpec], clips: &[std::path::PathBuf]) -> RtcClient {
    RtcClient::new(ClientConfig {
        name: "Hội trường Tỉnh ủy".into(),
        publish: Some(PublishConfig {
            layers: layers.to_vec(),
            audio: true,
            audio_level: 20,
            video: VideoSource::Ivf(clips.to_vec()),
            audio_tone_hz: Some(HUB_TONE_HZ),
            ..Default::default()
        }),
        recv_video: 1,
        recv_audio: 1,
        loss: None,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// The hub room publishing those clips, joined over `/ws` with `token`
/// and connected; keep the socket (dropping it leaves the room).
pub(crate) async fn hub_in_room(
    layers: &[LayerSpec],
    clips: &[std::path::PathBuf],
    base: &str,
    id: &str,
    token: &str,
) -> (RtcClient, WsClient) {
    let mut hub = hub_publisher(layers, clips).await;
    let (ws, _) = ws_join(&mut hub, base, id, token).await.unwrap();
    hub.wait_connected(Duration::from_secs(20)).await.unwrap();
    (hub, ws)
}

const HUB_TONE_HZ: f32 = 440.0;
const COMMUNE_TONE_HZ: f32 = 1_000.0;

/// A commune room that speaks louder than the hub (a 1 kHz tone), with
/// the same real VP8 clips.
async fn commune_speaker(layers: &[LayerSpec], clips: &[std::path::PathBuf]) -> RtcClient {
    RtcClient::new(ClientConfig {
        name: "Điểm cầu xã An Phú".into(),
        publish: Some(PublishConfig {
            layers: layers.to_vec(),
            audio: true,
            audio_level: 10,
            video: VideoSource::Ivf(clips.to_vec()),
            audio_tone_hz: Some(COMMUNE_TONE_HZ),
            ..Default::default()
        }),
        recv_video: 1,
        recv_audio: 1,
        loss: None,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// The audio of `path` as mono 48 kHz samples (ffmpeg decodes).
fn audio_samples(path: &Path) -> Vec<f32> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-map", "0:a", "-ac", "1", "-ar", "48000", "-f", "f32le", "-",
        ])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Relative power of `hz` in `x` (Goertzel).
fn tone_power(x: &[f32], hz: f32) -> f32 {
    let w = 2.0 * std::f32::consts::PI * hz / 48_000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &v in x {
        let s0 = v + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.len() as f32).powi(2)
}

pub(crate) fn ffprobe(path: &Path) -> Value {
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
pub(crate) fn decodes_cleanly(path: &Path) {
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

        let (hub, _ws) = hub_in_room(
            &layers,
            &clips,
            &base,
            &id,
            &w.province.endpoint_tokens["hub"],
        )
        .await;
        // A commune speaks too, louder than the hub: the program's mix
        // hears both; the index names the speaker.
        let mut commune = commune_speaker(&layers, &clips).await;
        let (_ws_a, _) = ws_join(&mut commune, &base, &id, &w.province.endpoint_tokens["a"])
            .await
            .unwrap();
        commune
            .wait_connected(Duration::from_secs(20))
            .await
            .unwrap();
        // The hub holds the stage (the program's video) while the commune
        // speaks.
        let r = op
            .post(
                &format!("/api/v1/meetings/{id}/live/stage"),
                json!({"endpoint_ids": [w.endpoint("hub")]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // Let the publishers ramp up before the recording starts.
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
        assert!(
            chapters
                .iter()
                .any(|c| c["kind"] == "speaker" && c["title"] == "Điểm cầu xã An Phú"),
            "the louder room is indexed as the speaker: {chapters:?}"
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
                // The composite picture (tests/it/live_stream.rs looks at it).
                "composite" => assert_eq!(codecs, vec!["h264", "opus"], "{file}"),
                _ => assert_eq!(codecs, vec!["opus"], "{file}"),
            }
            let duration = seconds(&probe["format"]["duration"]);
            // The composite starts at the first keyframe its encoder makes
            // after the start (it is asked for one at once); a camera's
            // track at the publisher's first keyframe after the start (a
            // PLI's round trip, slower on a busy machine); sound at once.
            let slack = match kind.as_str() {
                "composite" => 1.5,
                "video" => 1.0,
                _ => 0.5,
            };
            assert!(
                (duration - recorded_for).abs() < slack,
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
                // One mono mix in which both rooms are heard, throughout.
                let pcm = audio_samples(&path);
                assert!(pcm.len() > 4 * 48_000, "{} samples", pcm.len());
                for (n, second) in pcm[48_000..pcm.len() - 48_000].chunks(48_000).enumerate() {
                    let (hub, commune, neither) = (
                        tone_power(second, HUB_TONE_HZ),
                        tone_power(second, COMMUNE_TONE_HZ),
                        tone_power(second, 700.0),
                    );
                    assert!(
                        hub > 50.0 * neither && commune > 50.0 * neither,
                        "second {n} of the program: hub {hub:e}, commune {commune:e}, other {neither:e}"
                    );
                }
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
        let (hub, _ws) = hub_in_room(
            &layers,
            &clips,
            &base,
            &id,
            &w.province.endpoint_tokens["hub"],
        )
        .await;
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
            crate::support::rtc_client::RTCPeerConnectionState::Connected,
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

/// The built server binary on `data`, listening on fixed loopback ports.
struct Binary {
    child: std::process::Child,
}

impl Binary {
    async fn start(config: &Path, base: &str) -> Binary {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_diemcau"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the server binary starts");
        let b = Binary { child };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server at {base} did not come up");
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        // Our own child, by its handle (its PID).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The last presentation time ffprobe reads in a file, seconds.
fn last_packet_time(path: &Path) -> f64 {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
        .fold(0.0, f64::max)
}

/// `kill -9` of the server mid-recording: the files written so far play up
/// to their last seconds; the restarted server marks the recording
/// interrupted with the gap in its index, and — the meeting still being
/// live — records on in a new recording that begins with the gap.
#[test]
fn after_kill_9_the_recording_plays_to_its_last_seconds_and_restart_records_the_gap() {
    let layers = default_layers();
    let clips = vp8_source::testsrc_clips(&layers);
    run_in_loopback_netns(run_sqlite(|db| async move {
        let data = tempfile::tempdir().unwrap();
        let data_dir = data.path().to_path_buf();
        let db_url = db.url.clone();
        // Seed the province, people and a live meeting with the library
        // server, then hand the data directory to the binary.
        let w = world_with(db, {
            let d = data_dir.clone();
            move |c| {
                c.data_dir = d;
                c.recording.automatic = false;
            }
        })
        .await;
        let id = live_meeting(&w).await;
        let op_token = w.as_role("operator").bearer.clone().unwrap();
        let hub_token = w.province.endpoint_tokens["hub"].clone();
        let ApiWorld { srv, .. } = w;
        srv.server.shutdown().await;

        let (http_port, udp_port) = (free_tcp_port(), free_udp_port());
        let mut config = crate::support::server::test_config(&data_dir);
        config.http.http_listen = Some(format!("127.0.0.1:{http_port}").parse().unwrap());
        config.media.udp_port = udp_port;
        config.database.url = db_url;
        config.demo.token = None;
        config.recording.automatic = false;
        config.recording.min_free_mib = 0;
        let config_path = data_dir.join("diemcau.toml");
        std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
        let base = format!("http://127.0.0.1:{http_port}");
        let http = reqwest::Client::new();
        let post = |path: String| {
            let (http, token) = (http.clone(), op_token.clone());
            async move {
                let r = http
                    .post(path)
                    .bearer_auth(token)
                    .json(&json!({}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };

        let mut server = Binary::start(&config_path, &base).await;
        let (hub, _ws) = hub_in_room(&layers, &clips, &base, &id, &hub_token).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (status, rec) = post(format!("{base}/api/v1/meetings/{id}/recordings")).await;
        assert_eq!(status, 201, "{rec}");
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(6)).await;
        // SIGKILL: no chance to close anything.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let recorded_for = started.elapsed().as_secs_f64();
        hub.close().await;

        let dir = data_dir
            .join("recordings")
            .join(rec["dir"].as_str().unwrap());
        let program = dir.join("program.webm");
        decodes_cleanly(&program);
        let program_end = last_packet_time(&program);
        // Clusters close at every keyframe (the clips have one a second):
        // what was lost is at most the cluster being built.
        assert!(
            program_end > recorded_for - 2.5,
            "the program plays to {program_end:.2} s of {recorded_for:.2} s recorded"
        );
        let mut tracks = 0;
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("track-") {
                decodes_cleanly(&e.path());
                tracks += 1;
            }
        }
        assert!(tracks >= 2, "a video and an audio track file");

        // Restart: the old recording is interrupted with its gap, a new
        // one runs (the meeting is still live) and starts with the gap.
        let server = Binary::start(&config_path, &base).await;
        let list: Value = http
            .get(format!("{base}/api/v1/meetings/{id}/recordings"))
            .bearer_auth(&op_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let recs = list["recordings"].as_array().unwrap();
        assert_eq!(recs.len(), 2, "{list}");
        assert_eq!(recs[0]["state"], "interrupted", "{list}");
        assert_eq!(recs[0]["index"]["failure"], "interrupted", "{list}");
        let gap = recs[0]["index"]["chapters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == "gap")
            .unwrap_or_else(|| panic!("a gap chapter: {list}"));
        let gap_at = gap["at_ms"].as_u64().unwrap() as f64 / 1000.0;
        assert!(
            (gap_at - recorded_for).abs() < 2.0,
            "gap at {gap_at} s, killed at {recorded_for} s"
        );
        assert_eq!(recs[1]["state"], "recording", "{list}");
        let resumed = recs[1]["index"]["chapters"].as_array().unwrap();
        assert!(
            resumed.iter().any(|c| c["kind"] == "gap"
                && c["title"]
                    .as_str()
                    .unwrap()
                    .contains(recs[0]["id"].as_str().unwrap())),
            "{list}"
        );
        let (status, _) = post(format!("{base}/api/v1/meetings/{id}/recordings/stop")).await;
        assert_eq!(status, 200);
        drop(server);
    }));
}

crate::support::db::both_backends! {
    async fn automatic_recording_follows_the_kinds_of_meeting_configured(db) {
        use diemcau::control::meetings::MeetingKind;
        let w = world_with(db, |c| c.recording.automatic_kinds = vec![MeetingKind::Bch]).await;
        let op = w.as_role("operator");
        // A standing committee meeting is not among the kinds: not recorded.
        let btv = live_meeting_of_kind(&w, "btv").await;
        let r = op.get(&format!("/api/v1/meetings/{btv}/recordings")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["recordings"].as_array().unwrap().len(), 0, "{}", r.text);
        // An executive committee plenum is: recording from the moment it is live.
        let bch = live_meeting_of_kind(&w, "bch").await;
        let r = op.get(&format!("/api/v1/meetings/{bch}/recordings")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let recs = r.body["recordings"].as_array().unwrap();
        assert_eq!(recs.len(), 1, "{}", r.text);
        assert_eq!(recs[0]["state"], "recording");
        // Either can still be recorded by hand.
        let r = op.post(&format!("/api/v1/meetings/{btv}/recordings"), json!({})).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
}

crate::support::db::both_backends! {
    async fn retention_expires_only_finished_recordings_past_their_time(db) {
        use diemcau::control::recordings::{RecordingState, Recordings};
        // Automatic recording would start one as the meeting goes live.
        let w = world_with(db, |c| c.recording.automatic = false).await;
        let id = live_meeting(&w).await;
        let recs = Recordings::new(w.db.store.clone());
        let actor = crate::support::db::operator();
        let running = recs.create(&actor, &id).await.unwrap();
        // A running recording is never due.
        assert!(recs.due_for_expiry(diemcau::store::now_ms() + 1000).await.unwrap().is_empty());
        recs.finish(&actor, &id, RecordingState::Stopped, None).await.unwrap();
        let due = recs.due_for_expiry(diemcau::store::now_ms() + 1000).await.unwrap();
        assert_eq!(due.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec![running.id.as_str()]);
        assert!(recs.due_for_expiry(diemcau::store::now_ms() - 60_000).await.unwrap().is_empty(), "not before its time");
        recs.expire(&actor, &running.id).await.unwrap();
        assert_eq!(recs.get(&id, &running.id).await.unwrap().state, RecordingState::Expired);
        assert!(recs.expire(&actor, &running.id).await.is_err(), "expired once");
        assert!(recs.due_for_expiry(diemcau::store::now_ms() + 1000).await.unwrap().is_empty());
    }
}
