//! SIP room systems (issue 17) end to end: baresip, an independent SIP
//! user agent, dials a meeting's number as a room codec would; the server
//! answers with digest, admits it through the conference layer, and the
//! room hears the meeting's mix-minus and is heard. Each test runs in its
//! own loopback-only namespace.

use std::time::{Duration, Instant};

use diemcau::control::live::RollCall;
use diemcau::demo::DemoProvince;

use crate::support::baresip::{Baresip, decoded_fps, frequency, rms, video_rx_bps};
use crate::support::netns;
use crate::support::server::{self, TestServer};

/// How long a call may take to show on the roll call.
const JOIN_TIMEOUT: Duration = Duration::from_secs(15);

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A server with SIP on an ephemeral UDP port and the demo province,
/// every room with a SIP password.
pub async fn sip_server() -> (TestServer, DemoProvince) {
    sip_server_with(|_| {}).await
}

/// [`sip_server`] with more configuration.
pub async fn sip_server_with(
    tweak: impl FnOnce(&mut diemcau::config::Config),
) -> (TestServer, DemoProvince) {
    let s = server::start_with(|c| {
        c.sip.udp_listen = Some("127.0.0.1:0".parse().unwrap());
        c.sip.tcp_listen = Some("127.0.0.1:0".parse().unwrap());
        c.sip.rtp_port_min = 31000;
        c.sip.rtp_port_max = 31999;
        tweak(c);
    })
    .await;
    let store = s.server.state().store.clone();
    let mut p = diemcau::demo::seed(&store).await.expect("demo province");
    diemcau::demo::seed_sip(&store, &mut p, "diemcau")
        .await
        .expect("sip passwords");
    (s, p)
}

pub async fn roll_call(s: &TestServer, meeting: &str) -> RollCall {
    let live = &s.server.state().live;
    let room = live.get(meeting).expect("the meeting's live room");
    live.apply(&room, |l, now| Ok((l.roll_call(now), Vec::new())))
        .await
        .expect("roll call")
}

pub async fn wait_connected(s: &TestServer, meeting: &str, endpoints: &[&str]) {
    let deadline = Instant::now() + JOIN_TIMEOUT;
    loop {
        if s.server.state().live.get(meeting).is_none() {
            // The live room opens with the first admission.
            assert!(Instant::now() < deadline, "no live room for {meeting}");
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let rc = roll_call(s, meeting).await;
        let on = |e: &&str| {
            rc.sites
                .iter()
                .any(|site| site.endpoint_id == *e && site.connected)
        };
        if endpoints.iter().all(on) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "rooms {endpoints:?} not on the roll call"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Room `i` of the demo as a baresip in `dir`, dialling the meeting.
fn dial(
    s: &TestServer,
    p: &DemoProvince,
    i: usize,
    dir: &std::path::Path,
    hz: f32,
) -> (Baresip, String) {
    dial_over(s, p, i, dir, hz, false)
}

fn dial_over(
    s: &TestServer,
    p: &DemoProvince,
    i: usize,
    dir: &std::path::Path,
    hz: f32,
    tcp: bool,
) -> (Baresip, String) {
    let sip = if tcp {
        s.server.sip_tcp_addr()
    } else {
        s.server.sip_udp_addr()
    }
    .expect("sip listener");
    let transport = if tcp { ";transport=tcp" } else { "" };
    let room = &p.rooms[i];
    let (user, password) = room.sip.clone().expect("a sip password");
    let mut b = Baresip::start(
        dir,
        &user,
        &password,
        &sip.to_string(),
        5070 + 10 * i as u16,
        hz,
    );
    std::thread::sleep(Duration::from_millis(500));
    b.dial(&format!(
        "sip:{}@{sip}{transport}",
        p.sip_dial_in.as_deref().expect("a dial-in number")
    ));
    (b, room.endpoint_id.clone())
}

#[test]
fn two_baresip_rooms_over_udp_and_tcp_hear_each_other_through_the_mix_minus_and_are_on_the_roll_call()
 {
    netns::enter_loopback_only();
    let tmp = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let (s, p) = sip_server().await;
        let (mut a, ea) = dial(&s, &p, 0, &tmp.path().join("a"), 440.0);
        // One over UDP, one over TCP.
        let (mut b, eb) = dial_over(&s, &p, 1, &tmp.path().join("b"), 880.0, true);
        wait_connected(&s, &p.meeting_id, &[&ea, &eb]).await;
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
        let metrics = s.server.sip_metrics().expect("sip metrics");
        assert_eq!(
            metrics
                .calls_started
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        s.server.shutdown().await;
    });
}

#[test]
fn server_side_mute_silences_a_sip_room_for_the_others() {
    netns::enter_loopback_only();
    let tmp = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let (s, p) = sip_server().await;
        let (mut a, ea) = dial(&s, &p, 0, &tmp.path().join("a"), 440.0);
        let (mut b, eb) = dial(&s, &p, 1, &tmp.path().join("b"), 880.0);
        wait_connected(&s, &p.meeting_id, &[&ea, &eb]).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let heard_before = b.heard();
        // The operator's mute, through live control as the console's is.
        let live = &s.server.state().live;
        let room = live.get(&p.meeting_id).unwrap();
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
        let rc = roll_call(&s, &p.meeting_id).await;
        let site = rc.sites.iter().find(|x| x.endpoint_id == ea).unwrap();
        assert!(site.muted_audio, "the roll call shows the mute");
        s.server.shutdown().await;
    });
}

/// A room codec's H.264 is published as it came (no transcoding); staged,
/// it reaches another SIP room, whose decoder shows frames.
#[test]
fn the_h264_of_a_staged_sip_room_reaches_another_sip_room() {
    netns::enter_loopback_only();
    let tmp = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let (s, p) = sip_server().await;
        let sip = s.server.sip_udp_addr().unwrap();
        let number = p.sip_dial_in.clone().unwrap();
        let mut rooms = Vec::new();
        for i in [1usize, 2] {
            let (user, password) = p.rooms[i].sip.clone().unwrap();
            let dir = tmp.path().join(format!("v{i}"));
            let mut b = Baresip::start_with(
                &dir,
                &user,
                &password,
                &sip.to_string(),
                5070 + 10 * i as u16,
                440.0,
                true,
            );
            std::thread::sleep(Duration::from_millis(500));
            b.dial(&format!("sip:{number}@{sip}"));
            rooms.push((b, p.rooms[i].endpoint_id.clone()));
        }
        let ids: Vec<&str> = rooms.iter().map(|(_, e)| e.as_str()).collect();
        wait_connected(&s, &p.meeting_id, &ids).await;
        let live = &s.server.state().live;
        let room = live.get(&p.meeting_id).unwrap();
        let staged = rooms[0].1.clone();
        live.apply(&room, |l, _| Ok(((), l.set_stage(vec![staged])?)))
            .await
            .expect("stage");
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
        s.server.shutdown().await;
    });
}

#[test]
fn removing_a_sip_room_hangs_up_its_call_and_takes_it_off_the_roll_call() {
    netns::enter_loopback_only();
    let tmp = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let (s, p) = sip_server().await;
        let (mut a, ea) = dial(&s, &p, 0, &tmp.path().join("a"), 440.0);
        wait_connected(&s, &p.meeting_id, &[&ea]).await;
        let live = &s.server.state().live;
        let room = live.get(&p.meeting_id).unwrap();
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
        let rc = roll_call(&s, &p.meeting_id).await;
        assert!(
            !rc.sites.iter().any(|x| x.endpoint_id == ea && x.connected),
            "off the roll call"
        );
        let m = s.server.sip_metrics().unwrap();
        assert_eq!(m.calls_active.load(std::sync::atomic::Ordering::Relaxed), 0);
        a.stop();
        s.server.shutdown().await;
    });
}
