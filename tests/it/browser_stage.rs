//! Who is seen by default, tried as a new user would (issue 21, item 5):
//! three Chromium rooms — the hub and two communes — join an unmuted
//! briefing, each sending the same fake-microphone tone. The communes'
//! pages keep the hub (chủ trì) on their stage the whole time; the voice
//! only moves their speaker slot. (The engine-level rule, with its
//! exceptions, is `stage_voice.rs`.)
//!
//! Runs in a loopback-only network namespace. Screenshots land in
//! `target/test-artifacts/browser/stage-*.png`.

use std::time::Duration;

use serde_json::json;

use crate::support::api::world;
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

/// Three Chromium rooms' ICE, DTLS and first frames on a loaded 2-core machine.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long the stage is watched once every room is in: several of the
/// fake microphone's one-second beeps, from all three rooms at once.
const WATCH: Duration = Duration::from_secs(10);

const HUB: &str = "Hội trường Tỉnh ủy";

#[test]
fn three_rooms_with_the_same_tone_keep_the_hub_on_every_communes_stage() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let op = w.as_role("operator");
        // Two hours ahead: no technical check runs on the pages.
        let start = diemcau::store::now_ms() + 2 * 3_600_000;
        let made = op
            .post(
                "/api/v1/meetings",
                json!({
                    "title": "Giao ban trực tuyến", "kind": "giao_ban",
                    "starts_at_ms": start, "ends_at_ms": start + 3_600_000,
                    "hub_endpoint_id": w.endpoint("hub"),
                    "endpoint_ids": [w.endpoint("a"), w.endpoint("b")],
                    // Everyone heard: the case where a voice could move the stage.
                    "mute_on_entry": false,
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

        let driver = ChromeDriver::start().await;
        let mut pages = Vec::new();
        for room in ["hub", "a", "b"] {
            let url = reqwest::Url::parse_with_params(
                &format!("{}/room/{id}", w.srv.base_url()),
                &[("token", w.province.endpoint_tokens[room].as_str())],
            )
            .unwrap()
            .to_string();
            let page = driver.new_session().await;
            page.navigate(&url).await;
            pages.push(page);
        }
        let hub = Steps::new(&pages[0], "stage-hub", POLL_INTERVAL);
        let a = Steps::new(&pages[1], "stage-a", POLL_INTERVAL);
        let b = Steps::new(&pages[2], "stage-b", POLL_INTERVAL);
        // Each commune sees the hub on stage, playing, and the other
        // commune in its speaker slot (the hub is already shown).
        for (steps, other) in [(&a, "Điểm cầu xã Bình Minh"), (&b, "Điểm cầu xã An Phú")]
        {
            steps
                .until(
                    "01-hub-on-stage",
                    &format!(
                        "const v = document.getElementById('stage-video');\
                         return document.getElementById('stage-name').textContent === {}\
                           && v.readyState >= 2 && v.videoWidth > 0\
                           && document.getElementById('speaker-name').textContent === {};",
                        json!(HUB),
                        json!(other)
                    ),
                    JOIN_TIMEOUT,
                )
                .await;
        }
        hub.until(
            "01-joined",
            "return document.getElementById('stage-video').readyState >= 2;",
            JOIN_TIMEOUT,
        )
        .await;
        // The tones play on every page at once; the communes' stages stay.
        let until = tokio::time::Instant::now() + WATCH;
        while tokio::time::Instant::now() < until {
            for steps in [&a, &b] {
                let on_stage = steps
                    .run("return document.getElementById('stage-name').textContent;")
                    .await;
                assert_eq!(on_stage, json!(HUB), "{}", steps.describe().await);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        a.shot("02-commune").await;
        hub.shot("02-hub").await;
        for p in pages {
            p.close().await;
        }
    }));
}
