//! One composite output fed tapped packets directly (no server): only the
//! sites in a tile are decoded, and a site that comes into view asks for a
//! keyframe rather than decoding from the middle of its stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diemcau::compose::layout::Layout;
use diemcau::compose::output::Output;
use diemcau::config::LiveStreamConfig;
use diemcau::media::tap::{TapCodec, TapStream, Tapped};

use crate::support::vp8_source::{ClipPlayer, IvfClip, packetize_vp8, solid_clip};

/// Each site's next frame as tapped packets (track `track`, owner `owner`).
struct Site {
    player: ClipPlayer,
    owner: u64,
    track: u32,
    seq: u64,
}

impl Site {
    fn frame(&mut self, n: u32, at: Instant) -> Vec<Tapped> {
        let (frame, _) = self.player.next_frame();
        let parts = packetize_vp8(frame, None, 1100);
        let last = parts.len() - 1;
        parts
            .into_iter()
            .enumerate()
            .map(|(i, payload)| {
                self.seq += 1;
                Tapped {
                    room: Arc::from("m"),
                    stream: TapStream::Track(self.track),
                    owner: self.owner,
                    video: true,
                    codec: TapCodec::Vp8,
                    seq: self.seq,
                    ts: n * 3000,
                    marker: i == last,
                    keyframe: false,
                    audio_level: None,
                    layer: 0,
                    payload,
                    at,
                }
            })
            .collect()
    }
}

#[test]
fn only_sites_in_view_are_decoded_and_one_coming_into_view_asks_for_a_keyframe() {
    let cfg = LiveStreamConfig {
        width: 320,
        height: 180,
        fps: 10,
        segment_s: 1,
        ..LiveStreamConfig::default()
    };
    let t0 = Instant::now();
    let mut out = Output::new(cfg, Some(Layout::Stage), t0).unwrap();
    out.site(1, Some("Hội trường Tỉnh ủy".into()));
    out.site(2, Some("Xã An Phú".into()));
    let clip = |c: &str| Arc::new(IvfClip::open(&solid_clip(c, 320, 180)).unwrap());
    let mut sites = [
        Site {
            player: ClipPlayer::new(clip("red")),
            owner: 1,
            track: 10,
            seq: 0,
        },
        Site {
            player: ClipPlayer::new(clip("blue")),
            owner: 2,
            track: 20,
            seq: 0,
        },
    ];
    // The stage (the hub) alone: thirty frames each, only the hub's decoded.
    for n in 0..30u32 {
        let at = t0 + Duration::from_millis(u64::from(n) * 33);
        for s in &mut sites {
            for p in s.frame(n, at) {
                out.packet(&p);
            }
        }
    }
    assert_eq!(out.stats.frames_in, 30, "the hub's frames only");
    assert!(
        out.keyframe_wanted.is_empty(),
        "both started on a keyframe: {:?}",
        out.keyframe_wanted
    );
    // 2×2: commune A comes into view mid-stream (not a keyframe).
    out.set_layout(Some(Layout::Grid2x2));
    for n in 30..40u32 {
        let at = t0 + Duration::from_millis(u64::from(n) * 33);
        for s in &mut sites {
            for p in s.frame(n, at) {
                out.packet(&p);
            }
        }
    }
    assert_eq!(out.keyframe_wanted, vec![20], "A asks once (paced)");
    assert_eq!(out.stats.frames_in, 40, "A's inter frames are not decoded");
    // Its keyframe comes (the clip restarts on the request): decoded again.
    sites[1].player.restart();
    for n in 40..50u32 {
        let at = t0 + Duration::from_millis(u64::from(n) * 33);
        for s in &mut sites {
            for p in s.frame(n, at) {
                out.packet(&p);
            }
        }
    }
    assert_eq!(out.stats.frames_in, 60, "both decoded");
}
