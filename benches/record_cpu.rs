//! CPU cost of recording (issue 5): per recorded stream and for the program,
//! through the real pipelines (`record::TrackRecorder`, `ProgramRecorder`:
//! reorder buffer, depacketizer, Matroska writer, buffered file writes),
//! against the floor in the same run — the same packets' payloads appended
//! to a file, no parsing, no container.
//!
//! Input: 20 s of real VP8 (ffmpeg's testsrc, 640x360, 1 Mbit/s, 30 fps,
//! a keyframe a second) cut into RTP packets of ≤ 1200 bytes, and Opus-shaped
//! 20 ms packets (valid TOC, 80 bytes); for the program's mix, real Opus
//! (a voice-band tone with noise, encoded by libopus at 32 kbit/s) from 150
//! rooms of which 3 speak, the rest quiet, as in a province meeting.
//! Run: `cargo bench --bench record_cpu` (`-- --streams N` for the
//! many-streams line, default 50).

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use diemcau::record::{
    Codec, MixOptions, MixedFrame, Mixer, ProgramRecorder, RtpPacket, TrackOptions, TrackRecorder,
};

const SECONDS: u64 = 20;

struct Pkt {
    seq: u16,
    ts: u32,
    marker: bool,
    payload: Vec<u8>,
    at_ms: u64,
}

/// CPU time (user + system) of this process.
fn cpu() -> Duration {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn vp8_frames(dir: &Path) -> Vec<Vec<u8>> {
    let ivf = dir.join("clip.ivf");
    let ok = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size=640x360:rate=30:duration={SECONDS}"))
        .args([
            "-c:v",
            "libvpx",
            "-b:v",
            "1M",
            "-g",
            "30",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-f",
            "ivf",
        ])
        .arg(&ivf)
        .status()
        .expect("ffmpeg (Debian ffmpeg) runs")
        .success();
    assert!(ok, "ffmpeg made the VP8 clip");
    let bytes = std::fs::read(&ivf).unwrap();
    let header = u16::from_le_bytes([bytes[6], bytes[7]]) as usize;
    let mut at = header;
    let mut frames = Vec::new();
    while at + 12 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 12;
        frames.push(bytes[at..at + len].to_vec());
        at += len;
    }
    frames
}

/// VP8 frames as RTP (RFC 7741: one-byte descriptor, S on the first).
fn vp8_packets(frames: &[Vec<u8>]) -> Vec<Pkt> {
    let mut out = Vec::new();
    let mut seq = 0u16;
    for (i, f) in frames.iter().enumerate() {
        let ts = (i as u32) * 3000;
        let chunks: Vec<&[u8]> = f.chunks(1200).collect();
        for (k, c) in chunks.iter().enumerate() {
            let mut payload = vec![if k == 0 { 0x10 } else { 0x00 }];
            payload.extend_from_slice(c);
            out.push(Pkt {
                seq,
                ts,
                marker: k + 1 == chunks.len(),
                payload,
                at_ms: i as u64 * 1000 / 30,
            });
            seq = seq.wrapping_add(1);
        }
    }
    out
}

fn opus_packets() -> Vec<Pkt> {
    (0..SECONDS * 50)
        .map(|i| {
            // TOC: CELT fullband 20 ms, one frame.
            let mut payload = vec![0xF8u8];
            payload.extend((0..79).map(|k| (i as u8).wrapping_mul(31).wrapping_add(k)));
            Pkt {
                seq: i as u16,
                ts: (i as u32) * 960,
                marker: false,
                payload,
                at_ms: i * 20,
            }
        })
        .collect()
}

/// 20 s of real Opus: a 220 Hz tone with harmonics and noise, mono 32 kbit/s.
fn real_opus() -> Vec<Vec<u8>> {
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    enc.set_bitrate(opus::Bitrate::Bits(32_000)).unwrap();
    let mut noise: u32 = 7;
    (0..SECONDS as usize * 50)
        .map(|f| {
            let pcm: Vec<f32> = (0..960)
                .map(|i| {
                    let t = (f * 960 + i) as f32 / 48_000.0;
                    noise ^= noise << 13;
                    noise ^= noise >> 17;
                    noise ^= noise << 5;
                    let n = (noise as f32 / u32::MAX as f32 - 0.5) * 0.05;
                    let w = 2.0 * std::f32::consts::PI * 220.0 * t;
                    0.2 * w.sin() + 0.1 * (2.0 * w).sin() + 0.05 * (3.0 * w).sin() + n
                })
                .collect();
            enc.encode_vec_float(&pcm, 1_500).unwrap()
        })
        .collect()
}

/// Feeds `rooms` sources (3 speaking) through a mixer for the whole clip,
/// ticking every 50 ms like the recorder thread; returns the frames.
fn mix(opus: &[Vec<u8>], rooms: u64) -> Vec<MixedFrame> {
    let mut m = Mixer::new(MixOptions::default()).unwrap();
    m.set_forced(&[0]);
    let mut out = Vec::new();
    for (i, p) in opus.iter().enumerate() {
        let at = i as u64 * 20;
        for room in 0..rooms {
            let level = if room < 3 { 25 } else { 95 };
            m.push(room, at, i as u32 * 960, Some(level), p);
        }
        if i % 5 == 4 {
            m.poll(at, &mut out);
        }
    }
    m.poll(SECONDS * 1000 + 1000, &mut out);
    out
}

fn rtp(p: &Pkt) -> RtpPacket<'_> {
    RtpPacket {
        seq: p.seq,
        timestamp: p.ts,
        marker: p.marker,
        payload: &p.payload,
    }
}

fn sink(dir: &Path, name: &str) -> BufWriter<std::fs::File> {
    BufWriter::with_capacity(256 * 1024, std::fs::File::create(dir.join(name)).unwrap())
}

/// CPU seconds spent per second of media per stream, for `n` streams of
/// `packets` fed through `run`.
fn measure(label: &str, n: usize, media_s: f64, run: impl Fn(usize)) -> f64 {
    let c0 = cpu();
    let t0 = Instant::now();
    for i in 0..n {
        run(i);
    }
    let spent = (cpu() - c0).as_secs_f64();
    let per = spent / (n as f64 * media_s);
    println!(
        "{label:>34}: {n:>3} stream(s) × {media_s:.0} s: CPU {spent:.3} s (wall {:.3} s) → {:.1} µs CPU per media second = {:.3} % of a core per stream",
        t0.elapsed().as_secs_f64(),
        per * 1e6,
        per * 100.0
    );
    per
}

fn main() {
    let v: Vec<String> = std::env::args().collect();
    let streams = v
        .iter()
        .position(|a| a == "--streams")
        .and_then(|i| v.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(50usize);
    let dir = tempfile::tempdir().unwrap();
    let frames = vp8_frames(dir.path());
    let video = vp8_packets(&frames);
    let audio = opus_packets();
    let media_s = SECONDS as f64;
    println!(
        "Recording CPU: {} VP8 frames ({} RTP packets, {:.0} kbit/s) and {} Opus packets per {SECONDS} s stream; files on {}; one thread",
        frames.len(),
        video.len(),
        video.iter().map(|p| p.payload.len()).sum::<usize>() as f64 * 8.0 / media_s / 1000.0,
        audio.len(),
        dir.path().display()
    );

    let raw = |pkts: &[Pkt], name: String| {
        let mut w = sink(dir.path(), &name);
        for p in pkts {
            w.write_all(&p.payload).unwrap();
        }
        w.flush().unwrap();
    };
    let floor_v = measure("floor: VP8 payloads to a file", streams, media_s, |i| {
        raw(&video, format!("raw-v-{i}"))
    });
    let track_v = measure("VP8 track (TrackRecorder)", streams, media_s, |i| {
        let mut r = TrackRecorder::new(
            Codec::Vp8,
            sink(dir.path(), &format!("v-{i}.webm")),
            TrackOptions::default(),
        )
        .unwrap();
        for p in &video {
            r.push_rtp(p.at_ms, &rtp(p)).unwrap();
        }
        r.poll(SECONDS * 1000 + 1000).unwrap();
        r.finish_seekable().unwrap().flush().unwrap();
    });
    let floor_a = measure("floor: Opus payloads to a file", streams, media_s, |i| {
        raw(&audio, format!("raw-a-{i}"))
    });
    let track_a = measure("Opus track (TrackRecorder)", streams, media_s, |i| {
        let mut r = TrackRecorder::new(
            Codec::Opus,
            sink(dir.path(), &format!("a-{i}.webm")),
            TrackOptions::default(),
        )
        .unwrap();
        for p in &audio {
            r.push_rtp(p.at_ms, &rtp(p)).unwrap();
        }
        r.poll(SECONDS * 1000 + 1000).unwrap();
        r.finish_seekable().unwrap().flush().unwrap();
    });
    let program = measure(
        "program (video RTP + audio frames)",
        streams,
        media_s,
        |i| {
            let mut r = ProgramRecorder::new(
                Codec::Vp8,
                sink(dir.path(), &format!("program-{i}.webm")),
                TrackOptions::default(),
            )
            .unwrap();
            let mut a = audio.iter().peekable();
            for p in &video {
                while let Some(x) = a.peek() {
                    if x.at_ms > p.at_ms {
                        break;
                    }
                    r.push_audio_frame(x.at_ms, &x.payload).unwrap();
                    a.next();
                }
                r.push_video_rtp(p.at_ms, &rtp(p)).unwrap();
            }
            r.poll(SECONDS * 1000 + 1000).unwrap();
            r.finish_seekable().unwrap().flush().unwrap();
        },
    );
    let speech = real_opus();
    let mix_runs = 3;
    let mix_cost = measure(
        "program mix (150 rooms, 3 speak)",
        mix_runs,
        media_s,
        |_| {
            let frames = mix(&speech, 150);
            assert!(frames.len() as u64 >= SECONDS * 50 - 20);
        },
    );
    let full = measure(
        "program with the mix (video + mix)",
        mix_runs,
        media_s,
        |i| {
            let frames = mix(&speech, 150);
            let mut r = ProgramRecorder::new(
                Codec::Vp8,
                sink(dir.path(), &format!("program-mix-{i}.webm")),
                TrackOptions {
                    opus_channels: 1,
                    ..TrackOptions::default()
                },
            )
            .unwrap();
            let mut a = frames.iter().peekable();
            for p in &video {
                while let Some(x) = a.peek() {
                    if x.at_ms > p.at_ms {
                        break;
                    }
                    r.push_audio_frame(x.at_ms, &x.opus).unwrap();
                    a.next();
                }
                r.push_video_rtp(p.at_ms, &rtp(p)).unwrap();
            }
            r.poll(SECONDS * 1000 + 1000).unwrap();
            r.finish_seekable().unwrap().flush().unwrap();
        },
    );
    println!(
        "ratios to the floor in this run: VP8 track {:.2}×, Opus track {:.2}×; program {:.1} µs CPU per media second; the mix {:.1} µs ({:.2} % of a core), program with the mix {:.1} µs per media second",
        track_v / floor_v,
        track_a / floor_a,
        program * 1e6,
        mix_cost * 1e6,
        mix_cost * 100.0,
        full * 1e6
    );
}
