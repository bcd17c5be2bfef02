//! The room page (`web/room.*`) in real Chromium against the real server.
//!
//! Each test enters a loopback-only network namespace first, so the server,
//! chromedriver and every Chromium (with its ICE gathering) see only `lo`.
//! Screenshots land in `target/test-artifacts/browser/`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::browser::{ChromeDriver, Session, artifacts_dir};
use crate::support::rtc_client::{
    PublishConfig, RtcClient, VideoSource, default_layers, run_in_loopback_netns, whep_subscriber,
    whip_publisher,
};
use crate::support::{netns, server, vp8_source};

/// Two fake cameras through ICE, DTLS and the SFU: seconds on a loaded
/// 2-core machine, so 30 s only trips on a real failure.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(30);
/// The wrong-token refusal is one WebSocket round trip after page load.
const ERROR_TIMEOUT: Duration = Duration::from_secs(15);
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// After media flows, let the video elements paint before the screenshot.
const SETTLE_BEFORE_SCREENSHOT: Duration = Duration::from_millis(1500);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

pub(crate) fn room_url(base: &str, token: &str, name: &str) -> String {
    reqwest::Url::parse_with_params(
        &format!("{base}/room/demo"),
        &[("token", token), ("name", name)],
    )
    .expect("room url")
    .to_string()
}

/// `diemcau.stats()` of a page, or the error as a JSON string.
pub(crate) async fn stats(page: &Session) -> Value {
    match page
        .eval_promise("window.diemcau ? window.diemcau.stats() : null")
        .await
    {
        Ok(v) => v,
        Err(e) => Value::String(format!("stats() failed: {e}")),
    }
}

/// The stage shows decoded video and at least one audio slot carries bytes.
pub(crate) fn sees_and_hears(stats: &Value) -> bool {
    let frames = stats["stage"]["framesDecoded"].as_u64().unwrap_or(0);
    let audio = stats["audio"].as_array().is_some_and(|slots| {
        slots
            .iter()
            .any(|s| s["bytesReceived"].as_u64().unwrap_or(0) > 0)
    });
    frames > 0 && audio
}

/// Everything a failure message needs to be diagnosed from CI output.
pub(crate) async fn describe(label: &str, page: &Session) -> String {
    let state = page
        .execute(
            "return window.diemcau ? window.diemcau.state() : 'no window.diemcau';",
            serde_json::json!([]),
        )
        .await
        .unwrap_or_else(Value::String);
    let page_log = page
        .execute(
            "return window.diemcau ? window.diemcau.log() : [];",
            serde_json::json!([]),
        )
        .await
        .unwrap_or_else(Value::String);
    let page_log = match page_log {
        Value::Array(lines) => lines
            .iter()
            .map(|l| format!("    {}", l.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n"),
        other => format!("    {other}"),
    };
    // The page log above already holds the page's own console lines.
    let console = page
        .console_log()
        .await
        .iter()
        .filter(|l| !l.contains("\"[diemcau]\"") && !l.contains("chrome://new-tab-page"))
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "--- {label} ---\n  stats: {}\n  state: {state}\n  page log:\n{page_log}\n  console:\n{console}\n",
        stats(page).await
    )
}

#[test]
fn two_chromium_rooms_see_and_hear_each_other() {
    two_chromium_rooms(0);
}

/// The same with the room forced across both media workers (it splits
/// after one session on its home): each room's media crosses to the
/// other's worker.
#[test]
fn two_chromium_rooms_on_different_workers_see_and_hear_each_other() {
    two_chromium_rooms(1);
}

fn two_chromium_rooms(room_split_sessions: usize) {
    netns::enter_loopback_only();
    runtime().block_on(async {
        let server =
            server::start_with(|c| c.media.room_split_sessions = room_split_sessions).await;
        let base = server.base_url();
        let driver = ChromeDriver::start().await;
        let hub = driver.new_session().await;
        let commune = driver.new_session().await;
        hub.navigate(&room_url(&base, server::DEMO_TOKEN, "Tỉnh ủy"))
            .await;
        commune
            .navigate(&room_url(&base, server::DEMO_TOKEN, "Xã Tân Phú"))
            .await;

        let deadline = Instant::now() + MEDIA_TIMEOUT;
        let (mut hub_stats, mut commune_stats);
        loop {
            hub_stats = stats(&hub).await;
            commune_stats = stats(&commune).await;
            if sees_and_hears(&hub_stats) && sees_and_hears(&commune_stats) {
                break;
            }
            if Instant::now() >= deadline {
                let dir = artifacts_dir();
                hub.screenshot(&dir.join("timeout-tinh-uy.png")).await;
                commune
                    .screenshot(&dir.join("timeout-xa-tan-phu.png"))
                    .await;
                panic!(
                    "after {MEDIA_TIMEOUT:?} not both rooms decode stage video and receive \
                     audio (screenshots in {})\n{}\n{}",
                    dir.display(),
                    describe("Tỉnh ủy", &hub).await,
                    describe("Xã Tân Phú", &commune).await,
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }

        tokio::time::sleep(SETTLE_BEFORE_SCREENSHOT).await;
        let dir = artifacts_dir();
        hub.screenshot(&dir.join("tinh-uy.png")).await;
        commune.screenshot(&dir.join("xa-tan-phu.png")).await;
        eprintln!("Tỉnh ủy: {hub_stats}\nXã Tân Phú: {commune_stats}");
        if std::env::var_os("DIEMCAU_BROWSER_DEBUG").is_some() {
            eprintln!(
                "{}\n{}",
                describe("Tỉnh ủy", &hub).await,
                describe("Xã Tân Phú", &commune).await
            );
        }

        // The page must say it is connected, in Vietnamese.
        for (label, page) in [("Tỉnh ủy", &hub), ("Xã Tân Phú", &commune)] {
            let text = page
                .execute(
                    "return document.getElementById('conn-text').textContent;",
                    serde_json::json!([]),
                )
                .await
                .expect("read connection text");
            assert_eq!(
                text.as_str(),
                Some("Đã kết nối"),
                "{label} page does not show 'Đã kết nối'\n{}",
                describe(label, page).await
            );
        }

        if room_split_sessions == 1 {
            let stats = server.server.state().media.stats().await;
            let handed: u64 = stats
                .iter()
                .flat_map(|s| &s.rooms)
                .map(|r| r.handoff_packets_out)
                .sum();
            assert!(handed >= 100, "packets handed across workers: {handed}");
        }

        hub.close().await;
        commune.close().await;
        drop(driver);
        drop(server);
    });
}

#[test]
fn room_page_shows_clear_error_for_wrong_token() {
    netns::enter_loopback_only();
    runtime().block_on(async {
        let server = server::start().await;
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        page.navigate(&room_url(&server.base_url(), "not-the-token", "Xã Sai Mã"))
            .await;

        let deadline = Instant::now() + ERROR_TIMEOUT;
        let text = loop {
            let shown = page
                .execute(
                    "const e = document.getElementById('error');\
                     return e && !e.hidden ? e.textContent : null;",
                    serde_json::json!([]),
                )
                .await
                .expect("read #error");
            // The refusal names the access code ("mã truy cập"), not just
            // "cannot reach the server".
            if let Some(t) = shown.as_str().filter(|t| t.contains("Mã truy cập")) {
                break t.to_string();
            }
            if Instant::now() >= deadline {
                page.screenshot(&artifacts_dir().join("wrong-token-timeout.png"))
                    .await;
                panic!(
                    "after {ERROR_TIMEOUT:?} the page shows no access-code error in #error \
                     (shown: {shown})\n{}",
                    describe("wrong token", &page).await
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        };
        page.screenshot(&artifacts_dir().join("wrong-token.png"))
            .await;

        let state = page
            .execute("return window.diemcau.state();", serde_json::json!([]))
            .await
            .expect("read state");
        assert_ne!(
            state["connection"], "connected",
            "a refused room must not claim to be connected: {state}"
        );
        assert!(
            state["participant"].is_null(),
            "a refused room must not have joined: {state}"
        );
        eprintln!("#error: {text}");

        page.close().await;
        drop(driver);
        drop(server);
    });
}

/// RFC 6464 level of the WHIP publisher: -10 dBov, louder than Chromium's
/// fake microphone, so it is the active speaker.
const WHIP_AUDIO_LEVEL: u8 = 10;
/// Frames of Chromium's video the WHEP viewer must get: 2 s at 30 fps
/// (at least one keyframe interval of a fresh stream).
const CHROMIUM_FRAMES_AT_WHEP: usize = 60;

/// The page's stage or speaker slot that shows `participant`, with its
/// stats, if it has decoded a frame.
fn decoded_slot_of(stats: &Value, participant: &str) -> Option<(&'static str, Value)> {
    ["stage", "speaker"].into_iter().find_map(|role| {
        let s = &stats[role];
        (s["participant"].as_str() == Some(participant)
            && s["framesDecoded"].as_u64().unwrap_or(0) > 0)
            .then(|| (role, s.clone()))
    })
}

/// The WHEP viewer's video track (index) carrying the most frames that are
/// not from the WHIP publisher's clips, with (frames, keyframes).
fn foreign_video(
    viewer: &RtcClient,
    ours: &std::collections::HashSet<u64>,
) -> Option<(usize, usize, usize)> {
    viewer
        .video_tracks()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (n, k) = t.frames_by_clip(ours, false);
            (i, n, k)
        })
        .filter(|&(_, n, _)| n > 0)
        .max_by_key(|&(_, n, _)| n)
}

#[test]
fn chromium_room_and_webrtc_rs_whip_whep_see_each_other() {
    // Encoded (or found cached) before the namespace; ffmpeg needs no network.
    let clips = vp8_source::testsrc_clips(&default_layers());
    let ours = vp8_source::clip_fingerprints(&clips);
    run_in_loopback_netns(async {
        let server = server::start().await;
        let base = server.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        page.navigate(&room_url(&base, server::DEMO_TOKEN, "Tỉnh ủy"))
            .await;

        let publish = PublishConfig {
            audio_level: WHIP_AUDIO_LEVEL,
            video: VideoSource::Ivf(clips.clone()),
            ..Default::default()
        };
        let (publisher, whip) =
            whip_publisher(&base, "demo", server::DEMO_TOKEN, "whip-testsrc", publish).await;
        // The answer names the publisher's participant id (its Location is
        // an unguessable resource, not the id).
        let whip_id = whip.participant.clone().expect("X-Diemcau-Participant");
        let (viewer, _whep) =
            whep_subscriber(&base, "demo", server::DEMO_TOKEN, "whep-viewer", 2, 1, None).await;

        let deadline = Instant::now() + MEDIA_TIMEOUT;
        let (page_slot, viewer_track) = loop {
            let page_stats = stats(&page).await;
            let page_slot = decoded_slot_of(&page_stats, &whip_id);
            let viewer_track = foreign_video(&viewer, &ours)
                .filter(|&(_, n, k)| n >= CHROMIUM_FRAMES_AT_WHEP && k >= 1);
            if let (Some(p), Some(v)) = (&page_slot, viewer_track) {
                break (p.clone(), v);
            }
            if Instant::now() >= deadline {
                let dir = artifacts_dir();
                page.screenshot(&dir.join("whip-timeout.png")).await;
                panic!(
                    "after {MEDIA_TIMEOUT:?}: Chromium decodes the WHIP publisher ({whip_id}): {}; \
                     WHEP viewer has >= {CHROMIUM_FRAMES_AT_WHEP} frames incl. a keyframe not \
                     from the WHIP clips: {:?}\n{}\n{}\n{}",
                    page_slot.is_some(),
                    foreign_video(&viewer, &ours),
                    describe("Tỉnh ủy", &page).await,
                    viewer.describe(),
                    publisher.describe(),
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        };

        tokio::time::sleep(SETTLE_BEFORE_SCREENSHOT).await;
        page.screenshot(&artifacts_dir().join("whip-on-stage.png"))
            .await;

        // Chromium's page: the slot showing the WHIP publisher decodes real
        // frames of a real size.
        let (role, slot) = page_slot;
        eprintln!("Chromium {role} slot shows WHIP publisher {whip_id}: {slot}");
        assert!(
            slot["frameWidth"].as_u64().unwrap_or(0) > 0,
            "Chromium's {role} slot decoded frames of no size: {slot}"
        );

        // The WHEP viewer: Chromium's video arrives as one continuous
        // stream that starts decodable.
        let (idx, frames, keyframes) = viewer_track;
        let track = &viewer.video_tracks()[idx];
        let (from_whip, _) = track.frames_by_clip(&ours, true);
        let (expected, missing) = track.settled_delivery(None, Duration::from_secs(1));
        eprintln!(
            "WHEP video #{idx}: {frames} Chromium frames ({keyframes} keyframes), {from_whip} \
             WHIP-clip frames, {expected} seqs expected, {} missing, {} ts regressions\n{}",
            missing.len(),
            track.timestamp_regressions().len(),
            track.summary()
        );
        assert!(
            missing.is_empty(),
            "WHEP viewer's video #{idx} (Chromium's camera) misses seqs {missing:?}\n{}",
            viewer.describe()
        );
        let first_foreign = track
            .packets
            .iter()
            .find(|p| p.fingerprint.is_some_and(|f| !ours.contains(&f)))
            .expect("a Chromium frame start");
        assert!(
            first_foreign.keyframe,
            "the first Chromium frame the WHEP viewer got is not a keyframe\n{}",
            track.summary()
        );

        viewer.close().await;
        publisher.close().await;
        page.close().await;
        drop(driver);
        drop(server);
    });
}
