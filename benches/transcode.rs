//! What one transcoded stream costs, per picture and as a share of one
//! core at 30 fps, in the same run:
//!
//! - VP8 → H.264, what a SIP room needs when the stage is a browser's VP8
//!   (shared per source and resolution class): libvpx decodes, OpenH264
//!   encodes (constrained baseline, 2 Mbit/s at 720p, 4 Mbit/s at 1080p,
//!   a keyframe every 2 s, one thread) — the composite's own encoder
//!   without drawing (`compose::codec`);
//! - H.264 → VP8, the VP8 rendition of a SIP room's H.264 for subscribers
//!   that cannot take H.264 (`sip::transcode`): OpenH264 decodes, libvpx
//!   encodes (realtime, cpu-used 8, CBR at the same rates, `compose::vp8enc`).
//!
//! The inputs are real pictures: ffmpeg's `testsrc2` (moving) encoded with
//! libvpx (the VP8 clip, 1.5 / 3 Mbit/s), and those pictures encoded by
//! OpenH264 at the same rates (the H.264 a room codec would send). Each
//! configuration runs over 300 pictures (10 s of 30 fps).
//!
//! Run: `cargo bench --bench transcode` (needs ffmpeg, as the tests do).

use std::process::Command;
use std::time::Duration;

use diemcau::compose::codec::{H264Decoder, H264Encoder, Vp8Decoder};
use diemcau::compose::frame::Frame;
use diemcau::compose::vp8enc::Vp8Encoder;

const FPS: u32 = 30;
const PICTURES: usize = 300;

/// A VP8 clip of `testsrc2` at w×h, 30 fps, 4 s.
fn vp8_clip(w: u32, h: u32, kbps: u32) -> Vec<Vec<u8>> {
    let path = std::env::temp_dir().join(format!("diemcau-transcode-{w}x{h}.ivf"));
    if !path.exists() {
        let ok = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
            .args([
                "-f",
                "lavfi",
                "-i",
                &format!("testsrc2=size={w}x{h}:rate={FPS}"),
            ])
            .args(["-t", "4", "-c:v", "libvpx", "-b:v", &format!("{kbps}k")])
            .args(["-g", "60", "-deadline", "realtime", "-cpu-used", "8"])
            .args(["-f", "ivf"])
            .arg(&path)
            .status()
            .expect("ffmpeg runs");
        assert!(ok.success(), "ffmpeg encoded the clip");
    }
    let data = std::fs::read(&path).unwrap();
    let mut frames = Vec::new();
    let mut i = 32;
    while i + 12 <= data.len() {
        let n = u32::from_le_bytes(data[i..i + 4].try_into().unwrap()) as usize;
        frames.push(data[i + 12..i + 12 + n].to_vec());
        i += 12 + n;
    }
    frames
}

struct Cost {
    decode: Duration,
    encode: Duration,
    bytes: usize,
}

impl Cost {
    fn row(&self, what: &str, size: &str) {
        let per = |d: Duration| d.as_secs_f64() * 1000.0 / PICTURES as f64;
        let (dec, enc) = (per(self.decode), per(self.encode));
        let total = dec + enc;
        let kbps = self.bytes as f64 * 8.0 / (PICTURES as f64 / FPS as f64) / 1000.0;
        println!(
            "{what:<14} {size:<8} {dec:>8.2} {enc:>8.2} {total:>8.2} {:>8.1} % {kbps:>8.0}",
            total * FPS as f64 / 10.0
        );
    }
}

/// This thread's CPU time (CLOCK_THREAD_CPUTIME_ID): what a picture costs,
/// whatever else runs on a shared machine (wall time would count the waits).
/// The codecs run single-threaded here, so it is their whole cost.
struct ThreadClock(Duration);

impl ThreadClock {
    fn now() -> ThreadClock {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ThreadClock(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }

    fn elapsed(&self) -> Duration {
        ThreadClock::now().0.saturating_sub(self.0)
    }
}

fn vp8_to_h264(clip: &[Vec<u8>], w: u32, h: u32, kbps: u32) -> (Cost, Vec<(Vec<u8>, bool)>) {
    let mut dec = Vp8Decoder::new().unwrap();
    let mut enc = H264Encoder::new(w, h, kbps, FPS, 2 * FPS).unwrap();
    let mut cost = Cost {
        decode: Duration::ZERO,
        encode: Duration::ZERO,
        bytes: 0,
    };
    let mut out = Vec::new();
    for i in 0..PICTURES {
        // The clip loops: restart the decoder at its keyframe.
        if i % clip.len() == 0 {
            dec = Vp8Decoder::new().unwrap();
        }
        let t = ThreadClock::now();
        let f: Frame = dec
            .decode(&clip[i % clip.len()])
            .unwrap()
            .expect("a picture");
        cost.decode += t.elapsed();
        let t = ThreadClock::now();
        let (bits, key) = enc.encode(&f).unwrap();
        cost.encode += t.elapsed();
        cost.bytes += bits.len();
        out.push((bits, key));
    }
    (cost, out)
}

fn h264_to_vp8(stream: &[(Vec<u8>, bool)], kbps: u32) -> Cost {
    let mut dec = H264Decoder::new().unwrap();
    let mut enc = Vp8Encoder::new(kbps);
    let mut cost = Cost {
        decode: Duration::ZERO,
        encode: Duration::ZERO,
        bytes: 0,
    };
    for (i, (annex_b, _)) in stream.iter().enumerate() {
        let t = ThreadClock::now();
        let f = dec.decode(annex_b).unwrap().expect("a picture");
        cost.decode += t.elapsed();
        let t = ThreadClock::now();
        let v = enc
            .encode(&f, i as i64 * 3000)
            .unwrap()
            .expect("a vp8 picture");
        cost.encode += t.elapsed();
        cost.bytes += v.data.len();
    }
    cost
}

fn main() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    println!(
        "{cpu}, {} cores; per picture (ms), share of one core at {FPS} fps, output kbit/s",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<14} {:<8} {:>8} {:>8} {:>8} {:>10} {:>8}",
        "transcode", "size", "decode", "encode", "total", "core", "kbit/s"
    );
    for (w, h, kbps) in [(1280u32, 720u32, 2000u32), (1920, 1080, 4000)] {
        let clip = vp8_clip(w, h, kbps * 3 / 4);
        let size = format!("{h}p{FPS}");
        let (cost, h264) = vp8_to_h264(&clip, w, h, kbps);
        cost.row("VP8 → H.264", &size);
        h264_to_vp8(&h264, kbps).row("H.264 → VP8", &size);
    }
}
