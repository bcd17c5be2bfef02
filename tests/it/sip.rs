//! SIP room systems (issue 17) end to end: baresip, an independent SIP
//! user agent, dials a meeting's number as a room codec would; the server
//! answers with digest, admits it through the conference layer, and the
//! room hears the meeting's mix-minus and is heard. Each test runs in its
//! own loopback-only namespace, on the shared fixture
//! (`support::sip_meeting`).

use std::time::{Duration, Instant};

use crate::support::baresip::{decoded_fps, frequency, rms, video_rx_bps};
use crate::support::netns;
use crate::support::sip_meeting::{Dial, SipMeeting, Transport, runtime};

#[test]
fn two_baresip_rooms_over_udp_and_tcp_hear_each_other_through_the_mix_minus_and_are_on_the_roll_call()
 {
    netns::enter_loopback_only();
    runtime().block_on(async {
        let m = SipMeeting::start().await;
        let (mut a, ea) = m.dial(0, Dial::tone(440.0));
        // One over UDP, one over TCP.
        let tcp = Dial {
            transport: Transport::Tcp,
            ..Dial::tone(880.0)
        };
        let (mut b, eb) = m.dial(1, tcp);
        m.wait_connected(&[&ea, &eb]).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        // What each heard so far (the dumps grow as they play), before
        // either hangs up: the last 1.5 s, well after both joined.
        let (heard_a, heard_b) = (a.heard(), b.heard());
        let (log_a, log_b) = (a.stop(), b.stop());
        let tail = |h: &[i16]| h[h.len().saturating_sub(12_000)..].to_vec();
        let (ta, tb) = (tail(&heard_a), tail(&heard_b));
        assert!(
            rms(&ta) > 1000.0 && rms(&tb) > 1000.0,
            "not silent: {} {}\n{log_a}\n{log_b}",
            rms(&ta),
            rms(&tb)
        );
        // Each hears the other's tone, never its own (mix-minus).
        assert!(
            (frequency(&ta) - 880.0).abs() < 40.0,
            "a hears b: {} Hz",
            frequency(&ta)
        );
        assert!(
            (frequency(&tb) - 440.0).abs() < 40.0,
            "b hears a: {} Hz",
            frequency(&tb)
        );
        let metrics = m.s.server.sip_metrics().expect("sip metrics");
        assert_eq!(
            metrics
                .calls_started
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        m.shutdown().await;
    });
}

#[test]
fn server_side_mute_silences_a_sip_room_for_the_others() {
    netns::enter_loopback_only();
    runtime().block_on(async {
        let m = SipMeeting::start().await;
        let (mut a, ea) = m.dial(0, Dial::tone(440.0));
        let (mut b, eb) = m.dial(1, Dial::tone(880.0));
        m.wait_connected(&[&ea, &eb]).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let heard_before = b.heard();
        // The operator's mute, through live control as the console's is.
        let live = &m.s.server.state().live;
        let room = live.get(m.meeting_id()).unwrap();
        live.apply(&room, |l, _| Ok(((), l.mute(&ea, Some(true), None)?)))
            .await
            .expect("mute");
        tokio::time::sleep(Duration::from_secs(3)).await;
        a.stop();
        b.stop();
        let heard = b.heard();
        let before = &heard_before[heard_before.len().saturating_sub(8000)..];
        let after = &heard[heard.len().saturating_sub(8000)..];
        assert!(
            rms(before) > 1000.0,
            "b heard a before the mute: {}",
            rms(before)
        );
        assert!(
            rms(after) < 50.0,
            "b hears nothing of a once muted: {}",
            rms(after)
        );
        let rc = m.roll_call().await;
        let site = rc.sites.iter().find(|x| x.endpoint_id == ea).unwrap();
        assert!(site.muted_audio, "the roll call shows the mute");
        m.shutdown().await;
    });
}

/// A room codec's H.264 is published as it came (no transcoding); staged,
/// it reaches another SIP room, whose decoder shows frames.
#[test]
fn the_h264_of_a_staged_sip_room_reaches_another_sip_room() {
    netns::enter_loopback_only();
    runtime().block_on(async {
        let m = SipMeeting::start().await;
        let mut rooms = m.dial_connected(&[1, 2], Dial::with_video()).await;
        m.stage(&rooms[0].1).await;
        tokio::time::sleep(Duration::from_secs(6)).await;
        let logs: Vec<String> = rooms.iter_mut().map(|(b, _)| b.stop()).collect();
        // The second room receives the stage's H.264, and decodes it.
        assert!(
            video_rx_bps(&logs[1]) > 0,
            "the staged room's video arrives"
        );
        assert!(
            decoded_fps(&logs[1]) > 5.0,
            "and is decoded: {} fps",
            decoded_fps(&logs[1])
        );
        m.shutdown().await;
    });
}

#[test]
fn removing_a_sip_room_hangs_up_its_call_and_takes_it_off_the_roll_call() {
    netns::enter_loopback_only();
    runtime().block_on(async {
        let m = SipMeeting::start().await;
        let (mut a, ea) = m.dial(0, Dial::tone(440.0));
        m.wait_connected(&[&ea]).await;
        let live = &m.s.server.state().live;
        let room = live.get(m.meeting_id()).unwrap();
        live.apply(&room, |l, _| Ok(((), l.remove(&ea)?)))
            .await
            .expect("remove");
        // The call ends from our side: baresip logs the BYE it got.
        let deadline = Instant::now() + Duration::from_secs(8);
        loop {
            let log = std::fs::read_to_string(a.dir.join("out.log")).unwrap_or_default();
            if log.contains("terminated") || log.contains("closed") {
                break;
            }
            assert!(Instant::now() < deadline, "no BYE reached the room:\n{log}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let rc = m.roll_call().await;
        assert!(
            !rc.sites.iter().any(|x| x.endpoint_id == ea && x.connected),
            "off the roll call"
        );
        let metrics = m.s.server.sip_metrics().unwrap();
        assert_eq!(
            metrics
                .calls_active
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
        a.stop();
        m.shutdown().await;
    });
}
