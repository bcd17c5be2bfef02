//! One composite output fed tapped packets directly (no server): only the
//! sites in a tile are decoded, and a site that comes into view asks for a
//! keyframe rather than decoding from the middle of its stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diemcau::compose::codec::H264Decoder;
use diemcau::compose::frame::{Frame, Yuv};
use diemcau::compose::layout::{Layout, Layouts, OutputKind};
use diemcau::compose::output::{Feeds, Output};
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

fn small() -> LiveStreamConfig {
    LiveStreamConfig {
        width: 320,
        height: 180,
        fps: 10,
        segment_s: 1,
        ..LiveStreamConfig::default()
    }
}

fn red_and_blue() -> [Site; 2] {
    let clip = |c: &str| Arc::new(IvfClip::open(&solid_clip(c, 320, 180)).unwrap());
    [
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
    ]
}

/// The last picture received, decoded.
fn last_picture(
    rx: &mut tokio::sync::broadcast::Receiver<Arc<diemcau::compose::service::Picture>>,
) -> (Vec<Arc<diemcau::compose::service::Picture>>, Frame) {
    let mut got = Vec::new();
    while let Ok(p) = rx.try_recv() {
        got.push(p);
    }
    assert!(
        got.first().is_some_and(|p| p.keyframe),
        "starts at a keyframe"
    );
    let mut dec = H264Decoder::new().unwrap();
    let mut last = None;
    for p in &got {
        if let Ok(Some(f)) = dec.decode(&p.annex_b) {
            last = Some(f);
        }
    }
    (got, last.expect("pictures decode"))
}

fn is_blue(c: Yuv) -> bool {
    c.1 > 180 && c.2 < 150
}

fn is_red(c: Yuv) -> bool {
    c.2 > 180 && c.1 < 150
}

#[test]
fn outputs_with_their_own_layout_get_their_own_encoding_and_share_one_when_they_agree() {
    let t0 = Instant::now();
    let feeds = Feeds::new();
    let (mut screen, mut rooms) = (feeds.screen.subscribe(), feeds.rooms.subscribe());
    let mut layouts = Layouts::new(Some(Layout::Stage));
    let mut out = Output::new(small(), layouts, feeds.clone(), t0);
    out.site(1, Some("Hội trường Tỉnh ủy".into()));
    out.site(2, Some("Xã An Phú".into()));
    out.start_stream();
    out.attach(OutputKind::Rooms, true);
    out.attach(OutputKind::Screen, true);
    assert_eq!(out.stats.encodings, 1, "one layout, one encoding");
    layouts.set(OutputKind::Screen, Some(Layout::Grid2x2));
    out.set_layouts(layouts);
    assert_eq!(out.stats.encodings, 2);
    let mut sites = red_and_blue();
    let mut n = 0u32;
    let mut run = |out: &mut Output, frames: u32| {
        for _ in 0..frames {
            let at = t0 + Duration::from_millis(u64::from(n) * 100);
            for s in &mut sites {
                for p in s.frame(n, at) {
                    out.packet(&p);
                }
            }
            out.tick(at);
            n += 1;
        }
    };
    run(&mut out, 10);
    // The commune is in view only in the screen's 2×2: decoded once for it.
    assert_eq!(out.stats.frames_in, 20, "both sites decoded");
    assert_eq!(out.stats.frames_out, 20, "two encodings, ten pictures each");
    let (screen_pics, screen_frame) = last_picture(&mut screen);
    let (room_pics, room_frame) = last_picture(&mut rooms);
    assert!(
        is_red(screen_frame.at(80, 30)),
        "{:?}",
        screen_frame.at(80, 30)
    );
    assert!(
        is_blue(screen_frame.at(240, 30)),
        "{:?}",
        screen_frame.at(240, 30)
    );
    assert!(
        is_red(room_frame.at(240, 30)),
        "the rooms' stage layout: {:?}",
        room_frame.at(240, 30)
    );
    assert!(
        !Arc::ptr_eq(screen_pics.last().unwrap(), room_pics.last().unwrap()),
        "two encodings"
    );
    // The screen follows the meeting's layout again: one encoding, the
    // same pictures for both, the screen's from a keyframe.
    layouts.set(OutputKind::Screen, None);
    out.set_layouts(layouts);
    assert_eq!(out.stats.encodings, 1);
    run(&mut out, 5);
    let (screen_pics, screen_frame) = last_picture(&mut screen);
    let (room_pics, _) = last_picture(&mut rooms);
    assert!(is_red(screen_frame.at(240, 30)));
    assert!(Arc::ptr_eq(
        screen_pics.last().unwrap(),
        room_pics.last().unwrap()
    ));
    // The screens leave: the stream alone keeps its one encoding; nothing
    // left: the output is idle.
    out.attach(OutputKind::Screen, false);
    out.attach(OutputKind::Rooms, false);
    assert!(!out.idle());
    out.end_stream();
    assert!(out.idle());
    assert_eq!(out.stats.encodings, 0);
}

#[test]
fn only_sites_in_view_are_decoded_and_one_coming_into_view_asks_for_a_keyframe() {
    let t0 = Instant::now();
    let mut out = Output::new(small(), Layouts::new(Some(Layout::Stage)), Feeds::new(), t0);
    out.start_stream();
    out.site(1, Some("Hội trường Tỉnh ủy".into()));
    out.site(2, Some("Xã An Phú".into()));
    let mut sites = red_and_blue();
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
    out.set_layouts(Layouts::new(Some(Layout::Grid2x2)));
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
