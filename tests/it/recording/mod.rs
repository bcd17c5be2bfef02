//! Recording a live meeting end to end: real rooms (webrtc-rs) publish real
//! VP8 simulcast and Opus through the server; the recorder (an engine tap,
//! no browser) writes per-track files and the program; ffprobe reads them.
//!
//! One file per behaviour: `per_track` (the files and the program),
//! `disk` (a full disk, too little free space), `kill9` (a crash and the gap),
//! `policy` (automatic recording, retention).

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

mod disk;
mod kill9;
mod per_track;
mod policy;

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
