//! A SIP room's video in a browser room (issue 17): baresip, as a room
//! codec, sends H.264; staged, its pictures reach a Chromium room page as
//! H.264 — forwarded as they came, never transcoded — and decode there.
//! Runs in a loopback-only namespace; screenshots land in
//! `target/test-artifacts/browser/sip-h264-*.png`.

use std::time::Duration;

use serde_json::json;

use crate::support::browser::{ChromeDriver, Steps};
use crate::support::netns;
use crate::support::sip_meeting::{Dial, SipMeeting, runtime};

/// A Chromium room's ICE, DTLS and first frames on a loaded 2-core machine.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(250);

#[test]
fn a_staged_sip_rooms_h264_plays_as_h264_in_a_chromium_room() {
    netns::enter_loopback_only();
    runtime().block_on(async {
        let meeting = SipMeeting::start().await;
        let (s, p) = (&meeting.s, &meeting.p);

        // The hub in Chromium.
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let url = reqwest::Url::parse_with_params(
            &format!("{}/room/{}", s.base_url(), p.meeting_id),
            &[("token", p.rooms[0].token.as_str())],
        )
        .unwrap()
        .to_string();
        page.navigate(&url).await;
        let steps = Steps::new(&page, "sip-h264", POLL_INTERVAL);
        steps
            .until(
                "01-joined",
                "return window.diemcau.state().connection === 'connected';",
                JOIN_TIMEOUT,
            )
            .await;

        // A commune's room codec dials in with its camera.
        let codec = &p.rooms[1];
        let mut rooms = meeting.dial_connected(&[1], Dial::with_video()).await;
        meeting.stage(&codec.endpoint_id).await;

        // On the hub's stage: the codec's name, H.264, decoding.
        let shown = steps
            .until(
                "02-sip-on-stage",
                &format!(
                    "return window.diemcau.stats().then((st) => {{\
                       const name = document.getElementById('stage-name').textContent;\
                       return name === {} && st.stage.codec === 'video/H264'\
                         && st.stage.framesDecoded > 20 && st.stage.frameWidth > 0 ? st.stage : null;\
                     }});",
                    json!(codec.name)
                ),
                JOIN_TIMEOUT,
            )
            .await;
        steps.shot("02-sip-on-stage").await;
        assert!(
            shown["frameHeight"].as_u64().unwrap_or(0) > 0,
            "a picture with a size: {shown}"
        );
        rooms[0].0.stop();
        page.close().await;
        meeting.shutdown().await;
    });
}
