//! A SIP room's H.264 for subscribers that cannot receive H.264 (issue 17):
//! baresip, as a room codec, sends H.264 (avcodec); a webrtc-rs room —
//! VP8 only, like Firefox without its OpenH264 plugin — is shown the room's
//! VP8 rendition (decoded with OpenH264, encoded with libvpx, once) and
//! decodes it. While every subscriber takes H.264, nothing is decoded nor
//! encoded. Each test runs in its own loopback-only namespace.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use diemcau::compose::codec::Vp8Decoder;
use diemcau::record::RtpPacket;
use diemcau::record::depack::{Depacketizer, Vp8Depacketizer};

use crate::support::baresip::{decoded_fps, video_rx_bps};
use crate::support::netns;
use crate::support::rtc_client::{ClientConfig, RtcClient, RtpRecord, ws_join};
use crate::support::sip_meeting::{Dial, SipMeeting, runtime};

/// The rendition's first pictures: the codec's IDR (asked for when the
/// rendition starts), decoding, encoding, on a loaded 2-core machine.
const FIRST_PICTURES: Duration = Duration::from_secs(20);

/// Reassemble and decode VP8 packets: (pictures decoded, frames that did
/// not decode, the last picture's size). In sequence order, each once, as
/// a jitter buffer hands them on (the server's bandwidth probes resend old
/// packets over RTX, which the client turns back into the stream).
fn decode_vp8(packets: &[RtpRecord]) -> (usize, usize, (u32, u32)) {
    let mut ordered: Vec<(i64, &RtpRecord)> = Vec::with_capacity(packets.len());
    let mut last: Option<i64> = None;
    for p in packets {
        let ext = match last {
            None => i64::from(p.seq),
            Some(l) => l + i64::from(p.seq.wrapping_sub(l as u16) as i16),
        };
        last = Some(last.map_or(ext, |l| l.max(ext)));
        ordered.push((ext, p));
    }
    ordered.sort_by_key(|(s, _)| *s);
    ordered.dedup_by_key(|(s, _)| *s);
    let mut depack = Vp8Depacketizer::new();
    let mut dec = Vp8Decoder::new().expect("a vp8 decoder");
    let (mut pictures, mut failed, mut size) = (0, 0, (0, 0));
    for (_, p) in ordered {
        let pkt = RtpPacket {
            seq: p.seq,
            timestamp: p.ts,
            marker: p.marker,
            payload: &p.payload,
        };
        let Some(frame) = depack.push(&pkt) else {
            continue;
        };
        match dec.decode(&frame.data) {
            Ok(Some(f)) => {
                pictures += 1;
                size = (f.width, f.height);
            }
            Ok(None) => {}
            Err(_) => failed += 1,
        }
    }
    (pictures, failed, size)
}

#[test]
fn a_sip_rooms_h264_reaches_a_vp8_only_webrtc_room_as_vp8_that_decodes() {
    netns::enter_loopback_only();
    runtime().block_on(async {
        let meeting = SipMeeting::start().await;
        let (s, p) = (&meeting.s, &meeting.p);
        let mut rooms = meeting.dial_connected(&[1], Dial::with_video()).await;
        let (b, codec) = &mut rooms[0];
        meeting.stage(codec).await;
        let m = s.server.sip_metrics().unwrap().clone();
        assert_eq!(
            m.rendition_encoded.load(Ordering::Relaxed),
            0,
            "no VP8 before a subscriber needs it"
        );

        // The hub's room, in webrtc-rs: VP8 only.
        let mut hub = RtcClient::new(ClientConfig {
            name: "hub".into(),
            publish: None,
            recv_video: 1,
            recv_audio: 1,
            loss: None,
            ..Default::default()
        })
        .await
        .unwrap();
        let (_ws, _) = ws_join(&mut hub, &s.base_url(), &p.meeting_id, &p.rooms[0].token)
            .await
            .unwrap();
        hub.wait_connected(Duration::from_secs(20)).await.unwrap();
        let deadline = Instant::now() + FIRST_PICTURES;
        let (mut pictures, mut failed, mut size) = (0, 0, (0, 0));
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let packets = hub.video(0).map(|t| t.packets).unwrap_or_default();
            (pictures, failed, size) = decode_vp8(&packets);
            if pictures >= 30 {
                break;
            }
        }
        let log = b.stop();
        assert!(
            pictures >= 30,
            "the room's pictures decode as VP8: {pictures} ({failed} failed); rendition: {} decoded, \
             {} failed, {} dropped, {} encoded\n{}\n{log}",
            m.rendition_decoded.load(Ordering::Relaxed),
            m.rendition_decode_failed.load(Ordering::Relaxed),
            m.rendition_dropped.load(Ordering::Relaxed),
            m.rendition_encoded.load(Ordering::Relaxed),
            hub.describe()
        );
        assert_eq!(failed, 0, "every VP8 frame that arrived whole decodes");
        assert_eq!(size, (352, 288), "the codec's picture, at its size");
        assert!(m.rendition_decoded.load(Ordering::Relaxed) >= 30);
        assert!(m.rendition_encoded.load(Ordering::Relaxed) >= 30);
        assert_eq!(m.rendition_decode_failed.load(Ordering::Relaxed), 0);
        hub.close().await;
        meeting.shutdown().await;
    });
}

#[test]
fn no_h264_is_transcoded_to_vp8_while_every_subscriber_takes_h264() {
    netns::enter_loopback_only();
    runtime().block_on(async {
        let meeting = SipMeeting::start().await;
        let mut rooms = meeting.dial_connected(&[1, 2], Dial::with_video()).await;
        meeting.stage(&rooms[0].1).await;
        tokio::time::sleep(Duration::from_secs(6)).await;
        let logs: Vec<String> = rooms.iter_mut().map(|(b, _)| b.stop()).collect();
        // The staged room's H.264 did flow to the other (as H.264) ...
        assert!(video_rx_bps(&logs[1]) > 0 && decoded_fps(&logs[1]) > 5.0);
        // ... and not one picture was decoded or encoded for a rendition.
        let m = meeting.s.server.sip_metrics().unwrap();
        assert_eq!(m.rendition_decoded.load(Ordering::Relaxed), 0);
        assert_eq!(m.rendition_encoded.load(Ordering::Relaxed), 0);
        meeting.shutdown().await;
    });
}
