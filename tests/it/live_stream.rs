//! The composite live stream end to end (issue 18): two rooms publish a
//! solid red and a solid blue picture (real VP8, webrtc-rs), an operator
//! starts the stream, and the HLS stream plays in `ffprobe` with H.264
//! video and Opus audio; a frame decoded with `ffmpeg` shows both colours
//! in their tiles, and a layout change shows in the next segments. Who may
//! watch: the readers of this closed (BTV) meeting; a stranger gets the 404 of a meeting that
//! does not exist on the playlist and on every segment.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::api::{ApiWorld, world, world_with};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::{
    ClientConfig, LayerSpec, PublishConfig, RtcClient, VideoSource, WsClient,
    run_in_loopback_netns, ws_join,
};
use crate::support::vp8_source::solid_clip;

/// The test servers' composite size (`support::server::test_config`: a
/// small, slow output, as they are debug builds on 2 shared cores).
const W: u32 = 320;
const H: u32 = 180;

async fn publisher(name: &str, color: &str) -> RtcClient {
    RtcClient::new(ClientConfig {
        name: name.into(),
        publish: Some(PublishConfig {
            layers: vec![LayerSpec {
                rid: "",
                kbps: 200,
                width: 320,
                height: 180,
            }],
            audio: true,
            audio_level: 20,
            video: VideoSource::Ivf(vec![solid_clip(color, 320, 180)]),
            audio_tone_hz: Some(440.0),
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

/// The hub publishing solid red and commune A solid blue, both connected
/// (kept alive while the value lives).
pub(crate) async fn red_and_blue_rooms(w: &ApiWorld, id: &str) -> Vec<(RtcClient, WsClient)> {
    let base = w.srv.base_url();
    let mut rooms = Vec::new();
    for (key, name, color) in [
        ("hub", "Hội trường Tỉnh ủy", "red"),
        ("a", "Điểm cầu xã An Phú", "blue"),
    ] {
        let mut c = publisher(name, color).await;
        let (ws, _) = ws_join(&mut c, &base, id, &w.province.endpoint_tokens[key])
            .await
            .unwrap();
        c.wait_connected(Duration::from_secs(20)).await.unwrap();
        rooms.push((c, ws));
    }
    rooms
}

pub(crate) async fn live_meeting(w: &ApiWorld) -> String {
    let op = w.as_role("operator");
    let start = diemcau::store::now_ms() + 60_000;
    let made = op
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Thường vụ", "kind": "btv",
                "starts_at_ms": start, "ends_at_ms": start + 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"), "endpoint_ids": [w.endpoint("a")],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
    for step in ["open", "start"] {
        let r = op
            .post(&format!("/api/v1/meetings/{id}/{step}"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{step}: {}", r.text);
    }
    id
}

pub(crate) fn operator_token(w: &ApiWorld) -> String {
    w.as_role("operator")
        .bearer
        .clone()
        .expect("the operator's API token")
}

/// The picture of the stream's newest segment, as RGB (`W`×`H`).
pub(crate) fn last_frame(url: &str, token: &str) -> Vec<u8> {
    try_last_frame(url, token).unwrap_or_else(|e| panic!("{e}"))
}

/// [`last_frame`], or why there is none (no segment yet, say).
pub(crate) fn try_last_frame(url: &str, token: &str) -> Result<Vec<u8>, String> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(["-headers", &format!("Authorization: Bearer {token}\r\n")])
        .args(["-live_start_index", "-1", "-i", url])
        .args([
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:",
        ])
        .output()
        .expect("ffmpeg runs");
    if !out.status.success() {
        return Err(format!("ffmpeg: {}", String::from_utf8_lossy(&out.stderr)));
    }
    if out.stdout.len() != (W * H * 3) as usize {
        return Err(format!(
            "{} bytes, not one {W}x{H} picture",
            out.stdout.len()
        ));
    }
    Ok(out.stdout)
}

pub(crate) fn rgb(p: &[u8], x: u32, y: u32) -> (u8, u8, u8) {
    let i = ((y * W + x) * 3) as usize;
    (p[i], p[i + 1], p[i + 2])
}

pub(crate) fn reddish((r, g, b): (u8, u8, u8)) -> bool {
    r > 150 && g < 90 && b < 90
}

pub(crate) fn bluish((r, g, b): (u8, u8, u8)) -> bool {
    b > 150 && r < 90 && g < 90
}

#[test]
fn two_rooms_show_side_by_side_in_the_hls_stream_and_a_layout_change_follows() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        // The test servers compose 320×180 at 10 fps (`support::server`).
        let w = world(db).await;
        let id = live_meeting(&w).await;
        let base = w.srv.base_url();
        let _rooms = red_and_blue_rooms(&w, &id).await;

        let op = w.as_role("operator");
        let playlist = format!("/live/{id}/index.m3u8");
        // Not streaming yet: 404 with its reason.
        let r = op.get(&playlist).await;
        assert_eq!(
            (r.status.as_u16(), r.body["error"]["code"].as_str()),
            (404, Some("not_streaming")),
            "{}",
            r.text
        );
        let bad = op
            .post(
                &format!("/api/v1/meetings/{id}/live/stream"),
                json!({"on": true, "layout": "mosaic"}),
            )
            .await;
        assert_eq!(
            (bad.status.as_u16(), bad.body["error"]["field"].as_str()),
            (422, Some("layout")),
            "{}",
            bad.text
        );
        let r = op
            .post(
                &format!("/api/v1/meetings/{id}/live/stream"),
                json!({"on": true, "layout": "grid2x2"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            (
                r.body["live_stream"].as_bool(),
                r.body["live_stream_layout"].as_str()
            ),
            (Some(true), Some("grid2x2"))
        );

        // Segments arrive: the playlist lists at least two.
        let deadline = Instant::now() + Duration::from_secs(40);
        let listed = loop {
            let r = op.get(&playlist).await;
            if r.status == 200 && r.text.matches(".m4s").count() >= 2 {
                break r.text;
            }
            assert!(
                Instant::now() < deadline,
                "no segments in 40 s: {} {}",
                r.status,
                r.text
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        assert!(listed.contains("#EXT-X-MAP:URI=\"init.mp4\""), "{listed}");
        let url = format!("{base}{playlist}");
        let token = operator_token(&w);
        let probe = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-headers",
                &format!("Authorization: Bearer {token}\r\n"),
            ])
            .args([
                "-show_entries",
                "stream=codec_type,codec_name,width,height",
                "-of",
                "json",
                &url,
            ])
            .output()
            .expect("ffprobe runs");
        assert!(
            probe.status.success(),
            "ffprobe: {}",
            String::from_utf8_lossy(&probe.stderr)
        );
        let streams: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
        let codecs: Vec<(String, String)> = streams["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["codec_type"].as_str().unwrap_or("").into(),
                    s["codec_name"].as_str().unwrap_or("").into(),
                )
            })
            .collect();
        assert!(
            codecs.contains(&("video".into(), "h264".into())),
            "{streams}"
        );
        assert!(
            codecs.contains(&("audio".into(), "opus".into())),
            "{streams}"
        );

        // 2×2: the hub (the stage, red) top left, commune A (blue) top right.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let p = last_frame(&url, &token);
            let (left, right) = (rgb(&p, W / 4, H / 4), rgb(&p, 3 * W / 4, H / 4));
            if reddish(left) && bluish(right) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "tiles: left {left:?}, right {right:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // The stage alone: the next segments are all red.
        let r = op
            .post(
                &format!("/api/v1/meetings/{id}/live/stream"),
                json!({"on": true, "layout": "stage"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let p = last_frame(&url, &token);
            let (left, right) = (rgb(&p, W / 4, H / 4), rgb(&p, 3 * W / 4, H / 4));
            if reddish(left) && reddish(right) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "stage only: left {left:?}, right {right:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }

        // Who may watch: a room planned for the meeting may; anonymous may
        // not; a segment asked by a stranger is as absent as the meeting.
        assert_eq!(w.as_endpoint("a").get(&playlist).await.status, 200);
        let anon = w.as_role("anonymous").get(&playlist).await;
        assert_eq!(anon.status, 401, "{}", anon.text);
        let stranger = w.as_endpoint("s");
        let seg = listed.lines().find(|l| l.ends_with(".m4s")).unwrap();
        let hidden = stranger.get(&format!("/live/{id}/{seg}")).await;
        let none = stranger.get("/live/mtg_does_not_exist/0.m4s").await;
        assert_eq!(
            (hidden.status, hidden.code()),
            (none.status, none.code()),
            "{}",
            hidden.text
        );
        assert_eq!(hidden.status, 404);

        // Stopping ends the playlist.
        let r = op
            .post(
                &format!("/api/v1/meetings/{id}/live/stream"),
                json!({"on": false}),
            )
            .await;
        assert_eq!(r.body["live_stream"], false, "{}", r.text);
        let r = op.get(&playlist).await;
        assert_eq!(r.status, 404, "{}", r.text);
    }));
}

/// One picture of a Matroska file at `at_s` seconds, RGB `W`×`H`.
fn frame_of(file: &std::path::Path, at_s: &str) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-ss",
            at_s,
            "-i",
        ])
        .arg(file)
        .args([
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:",
        ])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.stdout.len(),
        (W * H * 3) as usize,
        "one {W}x{H} picture"
    );
    out.stdout
}

#[test]
fn a_recording_holds_the_composite_with_the_program_mix_and_lists_it_in_its_index() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world_with(db, |c| c.recording.automatic = false).await;
        let id = live_meeting(&w).await;
        let base = w.srv.base_url();
        let _rooms = red_and_blue_rooms(&w, &id).await;
        let op = w.as_role("operator");
        // Recorded, not streamed: the composite runs for the recording alone.
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings"), json!({}))
            .await;
        assert_eq!(r.status.as_u16() / 100, 2, "{}", r.text);
        tokio::time::sleep(Duration::from_secs(8)).await;
        assert_eq!(
            op.get(&format!("/live/{id}/index.m3u8")).await.status,
            404,
            "not streamed"
        );
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings/stop"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);

        let list = op.get(&format!("/api/v1/meetings/{id}/recordings")).await;
        let rec = list.body["recordings"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let streams = list.body["recordings"][0]["index"]["streams"].clone();
        assert!(
            streams
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["file"] == "composite.mkv" && s["kind"] == "composite"),
            "{streams}"
        );
        let got = reqwest::Client::new()
            .get(format!(
                "{base}/api/v1/meetings/{id}/recordings/{rec}/composite.mkv"
            ))
            .bearer_auth(operator_token(&w))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200);
        let bytes = got.bytes().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("composite.mkv");
        std::fs::write(&file, &bytes).unwrap();
        let probe = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_type,codec_name",
                "-of",
                "json",
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            probe.status.success(),
            "ffprobe of {} bytes: {}",
            bytes.len(),
            String::from_utf8_lossy(&probe.stderr)
        );
        let streams: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
        let codecs: Vec<String> = streams["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{}/{}",
                    s["codec_type"].as_str().unwrap_or(""),
                    s["codec_name"].as_str().unwrap_or("")
                )
            })
            .collect();
        assert_eq!(codecs, ["video/h264", "audio/opus"], "{streams}");
        // 1+7 (two rooms with video): the hub large and red, commune A blue
        // in the first small tile (the right column's top).
        let p = frame_of(&file, "4");
        assert!(
            reddish(rgb(&p, W * 3 / 8, H * 3 / 8)),
            "{:?}",
            rgb(&p, W * 3 / 8, H * 3 / 8)
        );
        assert!(
            bluish(rgb(&p, W * 7 / 8, H / 10)),
            "{:?}",
            rgb(&p, W * 7 / 8, H / 10)
        );
    }));
}
