//! The composite for the hall's big screen over WHEP (issue 18, 2(d)): two
//! rooms publish a solid red and a solid blue picture (real VP8,
//! webrtc-rs); a WHEP player — a str0m client in frame mode, full ICE,
//! its own UDP socket: nothing of the server's code on its side —
//! `POST`s `/whep/{meeting}/composite`, which starts the meeting's
//! composite (it was not streaming) and answers H.264 + Opus. The H.264
//! it receives decodes (OpenH264) to a picture with the red stage and
//! the blue commune in their tiles of the automatic 1+7 layout, Opus
//! frames of the program mix arrive beside it; a stranger is refused
//! exactly as on the HLS playlist; DELETE of the resource ends it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

use diemcau::compose::codec::H264Decoder;
use diemcau::compose::frame::{Frame, Yuv};
use diemcau::compose::layout::Layout;

use serde_json::json;

use crate::live_stream::{live_meeting, red_and_blue_rooms};
use crate::support::api::{ApiWorld, world};
use crate::support::db::run_sqlite;
use crate::support::metrics::metric;
use crate::support::rtc_client::{RtcClient, WsClient, post_sdp, run_in_loopback_netns};

/// The test servers' composite size (`support::server::test_config`).
const W: u32 = 320;
const H: u32 = 180;

/// A live BTV meeting with the hub (red, the stage) and commune A (blue)
/// publishing (kept alive while the value lives): the live-stream tests'
/// fixture.
pub(crate) async fn red_and_blue(w: &ApiWorld) -> (String, Vec<(RtcClient, WsClient)>) {
    let id = live_meeting(w).await;
    let rooms = red_and_blue_rooms(w, &id).await;
    (id, rooms)
}

/// A WHEP player built on str0m (frame mode: it hands out whole H.264
/// access units and Opus frames), receiving one video and one audio.
struct Player {
    rtc: Rtc,
    sock: tokio::net::UdpSocket,
    local: SocketAddr,
    video: Mid,
    audio: Mid,
    pending: Option<SdpPendingOffer>,
    /// Annex B access units received, with when.
    pictures: Vec<(Instant, Vec<u8>)>,
    /// Decoded as they arrive (so the arrival times stay true).
    decoder: H264Decoder,
    frames: Vec<(Instant, Frame)>,
    opus_frames: usize,
    video_codec: Option<Codec>,
}

impl Player {
    async fn new() -> (Player, String) {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = sock.local_addr().unwrap();
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_h264(true)
            .enable_opus(true, false)
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        let mut change = rtc.sdp_api();
        let video = change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        let audio = change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        let p = Player {
            rtc,
            sock,
            local,
            video,
            audio,
            pending: Some(pending),
            pictures: Vec::new(),
            decoder: H264Decoder::new().unwrap(),
            frames: Vec::new(),
            opus_frames: 0,
            video_codec: None,
        };
        (p, offer.to_sdp_string())
    }

    fn accept(&mut self, answer: &str) {
        let a = SdpAnswer::from_sdp_string(answer).unwrap();
        let pending = self.pending.take().unwrap();
        self.rtc.sdp_api().accept_answer(pending, a).unwrap();
    }

    /// Run the client for `d`, taking what arrives.
    async fn run_for(&mut self, d: Duration) {
        let until = Instant::now() + d;
        let mut buf = vec![0u8; 2048];
        loop {
            let timeout = loop {
                match self.rtc.poll_output().unwrap() {
                    Output::Timeout(t) => break t,
                    Output::Transmit(t) => {
                        let _ = self.sock.send_to(&t.contents, t.destination).await;
                    }
                    Output::Event(Event::MediaData(m)) => {
                        if m.mid == self.video {
                            self.video_codec = Some(m.params.spec().codec);
                            let at = Instant::now();
                            if let Ok(Some(f)) = self.decoder.decode(&m.data) {
                                self.frames.push((at, f));
                            }
                            self.pictures.push((at, m.data.to_vec()));
                        } else if m.mid == self.audio {
                            self.opus_frames += 1;
                        }
                    }
                    Output::Event(_) => {}
                }
            };
            let now = Instant::now();
            if now >= until {
                return;
            }
            let wait = timeout.min(until).saturating_duration_since(now);
            match tokio::time::timeout(wait, self.sock.recv_from(&mut buf)).await {
                Ok(Ok((n, source))) => {
                    let input = Input::Receive(
                        Instant::now(),
                        Receive {
                            proto: Protocol::Udp,
                            source,
                            destination: self.local,
                            contents: buf[..n].try_into().unwrap(),
                        },
                    );
                    self.rtc.handle_input(input).unwrap();
                }
                _ => self
                    .rtc
                    .handle_input(Input::Timeout(Instant::now()))
                    .unwrap(),
            }
        }
    }

    /// The pictures received so far, decoded (from the first keyframe).
    fn decoded(&self) -> Vec<&Frame> {
        self.frames.iter().map(|(_, f)| f).collect()
    }
}

/// Wait (10 s at most) until the gauge `name` reads `want`.
async fn until_metric(metrics: &str, name: &str, want: f64, why: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = metric(metrics, name).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{why}: {name} = {got}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn reddish(c: Yuv) -> bool {
    c.2 > 200 && c.1 < 120
}

fn bluish(c: Yuv) -> bool {
    c.1 > 200 && c.2 < 150
}

fn centre(f: &Frame, tile: usize) -> Yuv {
    let r = Layout::Grid2x2.tiles(W, H)[tile];
    f.at(r.x + r.w / 2, r.y + r.h / 3)
}

#[test]
fn a_hall_screen_plays_the_composite_over_whep_and_hangs_up_with_delete() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let (id, rooms) = red_and_blue(&w).await;
        let base = w.srv.base_url();
        let op = w.as_role("operator");
        let token = op.bearer.clone().expect("the operator's API token");

        // A stranger: refused exactly as on the HLS playlist.
        let (_, offer) = Player::new().await;
        let stranger = &w.province.endpoint_tokens["s"];
        let refused = post_sdp(
            &base,
            &format!("whep/{id}/composite"),
            Some(stranger),
            &offer,
        )
        .await;
        let hls = w
            .as_endpoint("s")
            .get(&format!("/live/{id}/index.m3u8"))
            .await;
        assert_eq!(
            (refused.status, refused.error().map(|e| e.0)),
            (hls.status.as_u16(), Some(hls.code().to_string())),
            "{}",
            refused.body
        );
        assert_eq!(refused.status, 404);

        // The hall screens get a layout of their own (the meeting's is
        // automatic: 1+7 with two rooms, which its recording shows).
        let laid = op
            .post(
                &format!("/api/v1/meetings/{id}/live/output-layout"),
                json!({"output": "screen", "layout": "grid2x2"}),
            )
            .await;
        assert_eq!(laid.status, 200, "{}", laid.text);
        assert_eq!(laid.body["output_layouts"]["screen"], "grid2x2");
        let metrics = w.srv.metrics_url();
        // The composer thread starts the recording's encoding on its own
        // time: wait for it rather than read the gauge once.
        until_metric(
            &metrics,
            "diemcau_composite_encodings",
            1.0,
            "the recording's",
        )
        .await;
        // Not streaming: the screen starts the composite for itself, not
        // the meeting's live stream (its playlist stays 404).
        let (mut player, offer) = Player::new().await;
        let reply = post_sdp(&base, &format!("whep/{id}/composite"), Some(&token), &offer).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert!(reply.body.contains("H264"), "{}", reply.body);
        let location = reply.location.clone().expect("a Location to DELETE");
        player.accept(&reply.body);
        let snap = op.get(&format!("/api/v1/meetings/{id}/live")).await;
        assert_eq!(
            snap.body["live_stream"].as_bool(),
            Some(false),
            "{}",
            snap.text
        );
        assert_eq!(
            op.get(&format!("/live/{id}/index.m3u8"))
                .await
                .status
                .as_u16(),
            404
        );

        // The picture: the hub (the stage, red) in the big tile, commune A
        // (blue) in the first small one.
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            player.run_for(Duration::from_millis(500)).await;
            let frames = player.decoded();
            if let Some(f) = frames.last()
                && reddish(centre(f, 0))
                && bluish(centre(f, 1))
            {
                assert_eq!((f.width, f.height), (W, H));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} pictures, {} decoded, last tiles {:?}",
                player.pictures.len(),
                frames.len(),
                frames.last().map(|f| (centre(f, 0), centre(f, 1)))
            );
        }
        assert_eq!(player.video_codec, Some(Codec::H264));
        assert_eq!(
            metric(&metrics, "diemcau_composite_encodings").await,
            2.0,
            "the screen's 2×2 beside the recording's 1+7"
        );
        assert!(
            player.opus_frames > 10,
            "program mix frames: {}",
            player.opus_frames
        );

        // The delay, publisher frame → screen picture: commune A's camera
        // stops until its tile goes dim ("mất tín hiệu"), then resumes with
        // a keyframe at `t0`; the first screen picture with its tile bright
        // blue again. An upper bound of the way through the composite: it
        // includes the taps finding the stopped layer again (a second of
        // idleness dropped it) and a keyframe request's round trip (the
        // test server composes at 10 fps, a debug build); 0.37 s here.
        let camera = &rooms[1].0;
        camera.pause_layer("");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            player.run_for(Duration::from_millis(300)).await;
            if player
                .decoded()
                .last()
                .is_some_and(|f| !bluish(centre(f, 1)))
            {
                break;
            }
            assert!(Instant::now() < deadline, "commune A's tile never dimmed");
        }
        let t0 = Instant::now();
        camera.resume_layer("");
        let deadline = t0 + Duration::from_secs(10);
        let delay = loop {
            player.run_for(Duration::from_millis(50)).await;
            if let Some((at, _)) = player
                .frames
                .iter()
                .find(|(at, f)| *at > t0 && bluish(centre(f, 1)))
            {
                break *at - t0;
            }
            assert!(
                Instant::now() < deadline,
                "commune A's picture never came back"
            );
        };
        eprintln!("whep composite delay, publisher frame to screen picture: {delay:?}");
        assert!(delay < Duration::from_secs(1), "sub-second: {delay:?}");

        // DELETE ends it: nothing more arrives.
        assert_eq!(
            crate::support::rtc_client::delete(&location, Some(&token)).await,
            200
        );
        player.run_for(Duration::from_millis(700)).await;
        let (pictures, frames) = (player.pictures.len(), player.opus_frames);
        player.run_for(Duration::from_secs(2)).await;
        assert_eq!(
            (player.pictures.len(), player.opus_frames),
            (pictures, frames),
            "media after DELETE"
        );
        // Its resource is gone.
        assert_eq!(
            crate::support::rtc_client::delete(&location, Some(&token)).await,
            404
        );
        // The last screen left: its encoding stops; the recording's goes on.
        until_metric(
            &metrics,
            "diemcau_composite_encodings",
            1.0,
            "the screen's encoding outlived it",
        )
        .await;
        assert_eq!(metric(&metrics, "diemcau_composite_outputs").await, 1.0);
    }));
}
