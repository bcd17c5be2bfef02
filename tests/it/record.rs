//! SFU-side recording on real media: clips encoded by Debian's ffmpeg
//! (libvpx, libx264, libopus), packetized into RTP here, damaged (reordered,
//! duplicated, lost, malformed packets), recorded with `diemcau::record`,
//! then checked with ffprobe / ffmpeg. Missing ffmpeg fails, never skips.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use diemcau::record::{
    Codec, ProgramRecorder, RtpPacket, TrackOptions, TrackRecorder, depack::opus_packet_duration,
};
use serde_json::Value;

const CLIP_SECONDS: f64 = 6.0;
const FPS: u64 = 30;
const GOP: usize = 30;
const MTU: usize = 900;
/// The recording's time zero on the test's ms clock.
const START_MS: u64 = 50_000;
/// Sequence numbers and timestamps start close to their wrap.
const FIRST_SEQ: u16 = 65_500;
const FIRST_VIDEO_TS: u32 = u32::MAX - 90_000;
const FIRST_AUDIO_TS: u32 = u32::MAX - 48_000;

fn run(cmd: &str, args: &[&str]) -> Output {
    match Command::new(cmd).args(args).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{cmd} is not installed: the recording tests encode and check real media with \
             Debian's ffmpeg/ffprobe. Run `.ci/setup` (it installs ffmpeg) and try again"
        ),
        Err(e) => panic!("run {cmd}: {e}"),
    }
}

fn ffmpeg_encode(args: &[&str], out: &Path) -> Vec<u8> {
    let mut all = vec!["-hide_banner", "-loglevel", "error", "-nostdin", "-y"];
    all.extend_from_slice(args);
    let out_s = out.to_str().unwrap();
    all.push(out_s);
    let o = run("ffmpeg", &all);
    assert!(
        o.status.success(),
        "ffmpeg {all:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(out).unwrap()
}

/// A `testsrc` VP8 clip with a keyframe every second.
fn vp8_clip(dir: &Path, size: &str, seconds: u32) -> Vec<u8> {
    let args = format!(
        "-f lavfi -i testsrc=size={size}:rate=30 -t {seconds} -c:v libvpx -b:v 600k \
         -deadline realtime -cpu-used 8 -g 30 -keyint_min 30 -auto-alt-ref 0 \
         -lag-in-frames 0 -f ivf"
    );
    let args: Vec<&str> = args.split_whitespace().collect();
    ffmpeg_encode(&args, &dir.join(format!("clip-{size}-{seconds}.ivf")))
}

/// A `testsrc` H.264 clip without B-frames (as WebRTC sends) with an IDR
/// every second.
fn h264_clip(dir: &Path, profile: &str, size: &str, seconds: u32) -> Vec<u8> {
    let args = format!(
        "-f lavfi -i testsrc=size={size}:rate=30 -t {seconds} -c:v libx264 -pix_fmt yuv420p \
         -profile:v {profile} -preset ultrafast -bf 0 \
         -x264-params keyint=30:min-keyint=30:scenecut=0 -bsf:v h264_mp4toannexb -f h264"
    );
    let args: Vec<&str> = args.split_whitespace().collect();
    ffmpeg_encode(
        &args,
        &dir.join(format!("clip-{profile}-{size}-{seconds}.h264")),
    )
}

fn opus_clip(dir: &Path) -> Vec<u8> {
    let args = "-f lavfi -i sine=frequency=440:sample_rate=48000 -t 6 -c:a libopus -b:a 48k \
                -frame_duration 20 -f ogg";
    let args: Vec<&str> = args.split_whitespace().collect();
    ffmpeg_encode(&args, &dir.join("clip.ogg"))
}

// ------------------------------------------------------------ containers

/// IVF frames (VP8 frames, one per picture).
fn ivf_frames(b: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(&b[..4], b"DKIF", "not an IVF file");
    let mut i = u16::from_le_bytes([b[6], b[7]]) as usize;
    let mut frames = Vec::new();
    while i + 12 <= b.len() {
        let n = u32::from_le_bytes(b[i..i + 4].try_into().unwrap()) as usize;
        frames.push(b[i + 12..i + 12 + n].to_vec());
        i += 12 + n;
    }
    frames
}

/// Annex-B byte stream → access units (lists of NAL units).
fn annexb_access_units(b: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= b.len() {
        if b[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(b.len(), |&n| n - 3);
        let mut nal = &b[s..end];
        while nal.last() == Some(&0) {
            nal = &nal[..nal.len() - 1];
        }
        nals.push(nal.to_vec());
    }
    let mut aus: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut cur: Vec<Vec<u8>> = Vec::new();
    let mut has_vcl = false;
    for nal in nals {
        let t = nal[0] & 0x1f;
        let vcl = t == 1 || t == 5;
        let first_mb_zero = vcl && nal.len() > 1 && nal[1] & 0x80 != 0;
        if has_vcl && (!vcl || first_mb_zero) {
            aus.push(std::mem::take(&mut cur));
            has_vcl = false;
        }
        has_vcl |= vcl;
        cur.push(nal);
    }
    if !cur.is_empty() {
        aus.push(cur);
    }
    aus
}

/// Ogg Opus → audio packets (OpusHead and OpusTags skipped).
fn ogg_opus_packets(b: &[u8]) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i + 27 <= b.len() {
        assert_eq!(&b[i..i + 4], b"OggS", "not an Ogg page at {i}");
        let nseg = b[i + 26] as usize;
        let mut p = i + 27 + nseg;
        for &lace in &b[i + 27..i + 27 + nseg] {
            cur.extend_from_slice(&b[p..p + lace as usize]);
            p += lace as usize;
            if lace < 255 {
                packets.push(std::mem::take(&mut cur));
            }
        }
        i = p;
    }
    assert!(packets[0].starts_with(b"OpusHead") && packets[1].starts_with(b"OpusTags"));
    packets.split_off(2)
}

// ------------------------------------------------------------ RTP

#[derive(Debug, Clone)]
struct Pkt {
    seq: u16,
    ts: u32,
    marker: bool,
    payload: Vec<u8>,
    at_ms: u64,
    /// Index of the frame this packet carries (part of).
    frame: usize,
}

impl Pkt {
    fn rtp(&self) -> RtpPacket<'_> {
        RtpPacket {
            seq: self.seq,
            timestamp: self.ts,
            marker: self.marker,
            payload: &self.payload,
        }
    }
}

/// RFC 7741 with a 15-bit PictureID in the extended descriptor.
fn vp8_payloads(frame: &[u8], picture_id: u16) -> Vec<Vec<u8>> {
    frame
        .chunks(MTU)
        .enumerate()
        .map(|(i, chunk)| {
            let b0 = if i == 0 { 0x90 } else { 0x80 };
            let pid = picture_id & 0x7fff;
            let mut p = vec![b0, 0x80, 0x80 | (pid >> 8) as u8, pid as u8];
            p.extend_from_slice(chunk);
            p
        })
        .collect()
}

/// RFC 6184 mode 1: small NAL units aggregated in STAP-A, large ones in
/// FU-A, the rest single.
fn h264_payloads(au: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stap: Vec<&[u8]> = Vec::new();
    fn flush(out: &mut Vec<Vec<u8>>, stap: &mut Vec<&[u8]>) {
        match stap.len() {
            0 => {}
            1 => out.push(stap[0].to_vec()),
            _ => {
                let nri = stap.iter().map(|n| n[0] & 0x60).max().unwrap();
                let mut p = vec![nri | 24];
                for n in stap.iter() {
                    p.extend_from_slice(&(n.len() as u16).to_be_bytes());
                    p.extend_from_slice(n);
                }
                out.push(p);
            }
        }
        stap.clear();
    }
    for nal in au {
        let stap_len: usize = 1 + stap.iter().map(|n| n.len() + 2).sum::<usize>();
        if nal.len() + 2 + stap_len <= MTU {
            stap.push(nal);
            continue;
        }
        flush(&mut out, &mut stap);
        if nal.len() + 3 <= MTU {
            stap.push(nal);
            continue;
        }
        let hdr = nal[0];
        let body = &nal[1..];
        let chunks: Vec<&[u8]> = body.chunks(MTU - 2).collect();
        for (i, c) in chunks.iter().enumerate() {
            let s = if i == 0 { 0x80 } else { 0 };
            let e = if i + 1 == chunks.len() { 0x40 } else { 0 };
            let mut p = vec![(hdr & 0xe0) | 28, s | e | (hdr & 0x1f)];
            p.extend_from_slice(c);
            out.push(p);
        }
    }
    flush(&mut out, &mut stap);
    out
}

/// Numbers packets of successive frames: frame `i` at `ts0 + i * ts_step`
/// arriving at `at0 + i * ms_step` (+1 ms per packet inside a frame).
fn rtp_stream(
    frames: Vec<Vec<Vec<u8>>>,
    ts_steps: &[u32],
    ms_of_frame: impl Fn(usize) -> u64,
    ts0: u32,
) -> Vec<Pkt> {
    let mut seq = FIRST_SEQ;
    let mut ts = ts0;
    let mut out = Vec::new();
    for (f, payloads) in frames.into_iter().enumerate() {
        let n = payloads.len();
        for (k, payload) in payloads.into_iter().enumerate() {
            out.push(Pkt {
                seq,
                ts,
                marker: k + 1 == n,
                payload,
                at_ms: ms_of_frame(f) + k as u64 / 4,
                frame: f,
            });
            seq = seq.wrapping_add(1);
        }
        ts = ts.wrapping_add(ts_steps[f]);
    }
    out
}

fn video_ms(at0: u64) -> impl Fn(usize) -> u64 {
    move |f| at0 + f as u64 * 1000 / FPS
}

/// What the damage did, frame by frame.
#[derive(Debug, Default)]
struct Damage {
    damaged_frames: Vec<usize>,
}

fn first_packet_of(pkts: &[Pkt], frame: usize) -> usize {
    pkts.iter().position(|p| p.frame == frame).unwrap()
}

/// Swaps two packets near `reorder`, duplicates one near `dup`, loses
/// `lose_n` packets from the start of frame `lose`, and corrupts the first
/// packet of `corrupt` with `garbage`.
fn damage(
    mut pkts: Vec<Pkt>,
    reorder: usize,
    dup: usize,
    lose: usize,
    lose_n: usize,
    corrupt: usize,
    garbage: &[u8],
) -> (Vec<Pkt>, Damage) {
    let mut d = Damage::default();
    let c = first_packet_of(&pkts, corrupt);
    pkts[c].payload = garbage.to_vec();
    d.damaged_frames.push(corrupt);

    let l = first_packet_of(&pkts, lose);
    for p in pkts.drain(l..l + lose_n) {
        d.damaged_frames.push(p.frame);
    }

    let r = first_packet_of(&pkts, reorder);
    pkts.swap(r, r + 1);

    let u = first_packet_of(&pkts, dup);
    let copy = pkts[u].clone();
    pkts.insert(u + 3, copy);

    d.damaged_frames.sort();
    d.damaged_frames.dedup();
    (pkts, d)
}

/// Frames a correct video recorder keeps: a damaged frame and everything
/// after it up to the next keyframe are dropped.
fn expected_video_frames(keyframes: &[bool], d: &Damage) -> usize {
    let mut keep = vec![true; keyframes.len()];
    for &f in &d.damaged_frames {
        keep[f] = false;
        let mut g = f + 1;
        while g < keyframes.len() && !keyframes[g] {
            keep[g] = false;
            g += 1;
        }
    }
    keep.iter().filter(|k| **k).count()
}

/// Feeds packets at their arrival times (kept monotonic after reordering);
/// true if a keyframe was asked for after the recording had started.
fn feed<W: std::io::Write>(rec: &mut TrackRecorder<W>, pkts: &[Pkt]) -> bool {
    let mut now = 0;
    let mut asked = false;
    for p in pkts {
        now = p.at_ms.max(now);
        rec.push_rtp(now, &p.rtp()).unwrap();
        if rec.stats().frames_written > 0 && rec.needs_keyframe() {
            asked = true;
        }
    }
    rec.poll(now + 1_000).unwrap();
    asked
}

// ------------------------------------------------------------ checks

fn ffprobe(path: &Path, extra: &[&str]) -> Value {
    let p = path.to_str().unwrap();
    let mut args = vec![
        "-v",
        "error",
        "-show_streams",
        "-show_format",
        "-of",
        "json",
    ];
    args.extend_from_slice(extra);
    args.push(p);
    let o = run("ffprobe", &args);
    assert!(
        o.status.success(),
        "ffprobe {p} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn num(v: &Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

fn stream<'a>(probe: &'a Value, codec: &str) -> &'a Value {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_name"] == codec)
        .unwrap_or_else(|| panic!("no {codec} stream in {probe:#}"))
}

/// Decodes the whole file; ffmpeg must say nothing at level "error".
fn assert_decodes_cleanly(path: &Path) {
    let o = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-nostdin",
            "-i",
            path.to_str().unwrap(),
            "-f",
            "null",
            "-",
        ],
    );
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "ffmpeg could not decode {} cleanly ({}): {}",
        path.display(),
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

fn read_frames(path: &Path, selector: &str) -> u64 {
    let probe = ffprobe(path, &["-count_frames", "-select_streams", selector]);
    num(&probe["streams"][0]["nb_read_frames"]) as u64
}

fn out_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

// ------------------------------------------------------------ tests

fn vp8_stream(dir: &Path, at0: u64) -> (Vec<Pkt>, Vec<bool>) {
    let frames = ivf_frames(&vp8_clip(dir, "320x240", 6));
    assert_eq!(frames.len(), 180, "6 s at 30 fps");
    let keys: Vec<bool> = frames.iter().map(|f| f[0] & 1 == 0).collect();
    assert!(
        keys[0] && keys[GOP] && !keys[1],
        "a keyframe every {GOP} frames"
    );
    let payloads = frames
        .iter()
        .enumerate()
        .map(|(i, f)| vp8_payloads(f, i as u16 + 32_000))
        .collect();
    let steps = vec![3_000; frames.len()];
    (
        rtp_stream(payloads, &steps, video_ms(at0), FIRST_VIDEO_TS),
        keys,
    )
}

#[test]
fn vp8_recording_survives_reorder_duplicate_loss_and_malformed_and_resumes_at_next_keyframe() {
    let dir = tempfile::tempdir().unwrap();
    let (pkts, keys) = vp8_stream(dir.path(), START_MS);
    // Frame 45 is in the second GOP, frame 100 in the fourth: each loses the
    // rest of its GOP. A lone 0x80 claims an extension byte it does not have.
    let (pkts, dmg) = damage(pkts, 10, 20, 45, 2, 100, &[0x80]);
    let expected = expected_video_frames(&keys, &dmg);
    assert!(expected < 160, "the damage must cost frames: {expected}");

    let path = out_path(dir.path(), "vp8.webm");
    let opts = TrackOptions {
        start_ms: START_MS,
        ..TrackOptions::default()
    };
    let mut rec = TrackRecorder::new(Codec::Vp8, File::create(&path).unwrap(), opts).unwrap();
    let asked = feed(&mut rec, &pkts);
    let stats = rec.stats();
    assert!(asked, "after the loss the recorder asks for a keyframe");
    assert!(!rec.needs_keyframe(), "the next keyframe ended the wait");
    assert_eq!(stats.depack.malformed, 1, "{stats:?}");
    assert_eq!(stats.jitter.duplicates, 1, "{stats:?}");
    assert_eq!(stats.jitter.lost, 2, "{stats:?}");
    assert_eq!(stats.frames_written as usize, expected, "{stats:?}");
    rec.finish_seekable().unwrap();

    let probe = ffprobe(&path, &[]);
    let v = stream(&probe, "vp8");
    assert_eq!(v["width"], 320);
    let duration = num(&probe["format"]["duration"]);
    assert!(
        (duration - CLIP_SECONDS).abs() < 0.5,
        "duration {duration} s, expected {CLIP_SECONDS}"
    );
    assert_eq!(read_frames(&path, "v:0") as usize, expected);
    assert_decodes_cleanly(&path);
}

/// High profile: its AVCDecoderConfigurationRecord carries the chroma and
/// bit-depth extension.
#[test]
fn h264_recording_survives_reorder_duplicate_loss_and_malformed_and_resumes_at_next_idr() {
    let dir = tempfile::tempdir().unwrap();
    let aus = annexb_access_units(&h264_clip(dir.path(), "high", "320x240", 6));
    assert_eq!(aus.len(), 180, "6 s at 30 fps");
    let keys: Vec<bool> = aus
        .iter()
        .map(|au| au.iter().any(|n| n[0] & 0x1f == 5))
        .collect();
    assert!(
        keys[0] && keys[GOP] && !keys[1],
        "an IDR every {GOP} frames"
    );
    let payloads: Vec<Vec<Vec<u8>>> = aus.iter().map(|au| h264_payloads(au)).collect();
    assert!(
        payloads[0].iter().any(|p| p[0] & 0x1f == 24),
        "parameter sets travel in a STAP-A"
    );
    assert!(
        payloads[0].iter().any(|p| p[0] & 0x1f == 28),
        "the IDR travels in FU-A fragments"
    );
    let steps = vec![3_000; aus.len()];
    let pkts = rtp_stream(payloads, &steps, video_ms(START_MS), FIRST_VIDEO_TS);
    // Type 31 is reserved in RFC 6184.
    let (pkts, dmg) = damage(pkts, 10, 20, 45, 3, 100, &[0x1f, 1, 2, 3]);
    let expected = expected_video_frames(&keys, &dmg);

    let path = out_path(dir.path(), "h264.mkv");
    let opts = TrackOptions {
        start_ms: START_MS,
        ..TrackOptions::default()
    };
    let mut rec = TrackRecorder::new(Codec::H264, File::create(&path).unwrap(), opts).unwrap();
    let asked = feed(&mut rec, &pkts);
    let stats = rec.stats();
    assert!(asked, "after the loss the recorder asks for a keyframe");
    assert_eq!(stats.depack.malformed, 1, "{stats:?}");
    assert_eq!(stats.jitter.duplicates, 1, "{stats:?}");
    assert_eq!(stats.frames_written as usize, expected, "{stats:?}");
    rec.finish_seekable().unwrap();

    let probe = ffprobe(&path, &[]);
    let v = stream(&probe, "h264");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(320), Some(240))
    );
    let duration = num(&probe["format"]["duration"]);
    assert!(
        (duration - CLIP_SECONDS).abs() < 0.5,
        "duration {duration} s, expected {CLIP_SECONDS}"
    );
    assert_eq!(read_frames(&path, "v:0") as usize, expected);
    assert_decodes_cleanly(&path);
}

fn opus_frames(dir: &Path) -> (Vec<Vec<u8>>, Vec<u32>) {
    let packets = ogg_opus_packets(&opus_clip(dir));
    let steps = packets
        .iter()
        .map(|p| opus_packet_duration(p).expect("libopus output is valid") * 48 / 10)
        .collect();
    (packets, steps)
}

#[test]
fn opus_recording_drops_lost_and_malformed_packets_and_keeps_time() {
    let dir = tempfile::tempdir().unwrap();
    let (packets, steps) = opus_frames(dir.path());
    let n = packets.len();
    assert!(n >= 295, "6 s of 20 ms packets: {n}");
    let frames = packets.into_iter().map(|p| vec![p]).collect();
    let pkts = rtp_stream(frames, &steps, |f| START_MS + f as u64 * 20, FIRST_AUDIO_TS);
    // An empty payload is not an Opus packet (RFC 6716 R1).
    let (pkts, dmg) = damage(pkts, 10, 20, 100, 3, 150, &[]);

    let path = out_path(dir.path(), "opus.webm");
    let opts = TrackOptions {
        start_ms: START_MS,
        ..TrackOptions::default()
    };
    let mut rec = TrackRecorder::new(Codec::Opus, File::create(&path).unwrap(), opts).unwrap();
    feed(&mut rec, &pkts);
    let stats = rec.stats();
    assert_eq!(stats.depack.malformed, 1, "{stats:?}");
    assert_eq!(stats.jitter.lost, 3, "{stats:?}");
    assert_eq!(stats.frames_written as usize, n - dmg.damaged_frames.len());
    rec.finish_seekable().unwrap();

    let probe = ffprobe(&path, &[]);
    let a = stream(&probe, "opus");
    assert_eq!(a["sample_rate"], "48000");
    let duration = num(&probe["format"]["duration"]);
    assert!(
        (duration - CLIP_SECONDS).abs() < 0.5,
        "duration {duration} s, expected {CLIP_SECONDS}"
    );
    assert_eq!(read_frames(&path, "a:0") as usize, n - 4);
    assert_decodes_cleanly(&path);
}

/// Video RTP and mix frames in arrival order into one program recorder.
fn record_program(dir: &Path, name: &str, video_at0: u64, finish: bool) -> (PathBuf, Vec<Pkt>) {
    let (video, _) = vp8_stream(dir, video_at0);
    let (audio, _) = opus_frames(dir);
    enum Ev<'a> {
        Video(&'a Pkt),
        Audio(u64, &'a [u8]),
    }
    let mut events: Vec<(u64, Ev<'_>)> = video.iter().map(|p| (p.at_ms, Ev::Video(p))).collect();
    events.extend(audio.iter().enumerate().map(|(i, a)| {
        let at = START_MS + i as u64 * 20;
        (at, Ev::Audio(at, a.as_slice()))
    }));
    events.sort_by_key(|(at, _)| *at);

    let path = out_path(dir, name);
    let opts = TrackOptions {
        start_ms: START_MS,
        ..TrackOptions::default()
    };
    let mut rec = ProgramRecorder::new(Codec::Vp8, File::create(&path).unwrap(), opts).unwrap();
    for (at, ev) in &events {
        match ev {
            Ev::Video(p) => rec.push_video_rtp(*at, &p.rtp()).unwrap(),
            Ev::Audio(ms, data) => rec.push_audio_frame(*ms, data).unwrap(),
        }
    }
    if finish {
        rec.finish_seekable().unwrap();
    } else {
        // kill -9: whatever reached the file so far is all there is.
        std::mem::forget(rec);
    }
    (path, video)
}

#[test]
fn program_file_keeps_stage_video_and_mixed_audio_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = record_program(dir.path(), "program.webm", START_MS, true);
    let probe = ffprobe(&path, &[]);
    let v = num(&stream(&probe, "vp8")["start_time"]);
    let a = num(&stream(&probe, "opus")["start_time"]);
    assert!((v - a).abs() < 0.1, "video starts at {v} s, audio at {a} s");
    let duration = num(&probe["format"]["duration"]);
    assert!(
        (duration - CLIP_SECONDS).abs() < 0.5,
        "duration {duration} s, expected {CLIP_SECONDS}"
    );
    assert_eq!(read_frames(&path, "v:0"), 180);
    assert_decodes_cleanly(&path);
}

#[test]
fn program_file_places_late_video_at_its_wall_clock_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = record_program(dir.path(), "late.webm", START_MS + 2_000, true);
    let probe = ffprobe(&path, &[]);
    let v = num(&stream(&probe, "vp8")["start_time"]);
    let a = num(&stream(&probe, "opus")["start_time"]);
    assert!(a.abs() < 0.1, "audio starts at {a} s");
    assert!(
        (v - 2.0).abs() < 0.1,
        "video joined 2 s late, starts at {v} s"
    );
    let duration = num(&probe["format"]["duration"]);
    assert!(
        (duration - 8.0).abs() < 0.5,
        "duration {duration} s, expected 8"
    );
    assert_decodes_cleanly(&path);
}

/// Top-level Clusters of a file we wrote: (start, end, video blocks).
fn clusters(b: &[u8]) -> Vec<(usize, usize, usize)> {
    fn vint(b: &[u8], keep_marker: bool) -> (u64, usize) {
        let len = b[0].leading_zeros() as usize + 1;
        let mut v = if keep_marker {
            b[0] as u64
        } else {
            (b[0] as u64) & ((1u64 << (8 - len)) - 1)
        };
        for &x in &b[1..len] {
            v = (v << 8) | x as u64;
        }
        (v, len)
    }
    let (_, l) = vint(b, true);
    let (size, s) = vint(&b[l..], false);
    let mut i = l + s + size as usize; // past the EBML header
    let (id, l) = vint(&b[i..], true);
    assert_eq!(id, 0x1853_8067, "a Segment follows the EBML header");
    i += l + 8; // unknown size, 8 bytes
    let mut out = Vec::new();
    while i < b.len() {
        let (id, l) = vint(&b[i..], true);
        let (size, s) = vint(&b[i + l..], false);
        let body = i + l + s;
        let end = body + size as usize;
        if id == 0x1F43_B675 {
            let mut j = body;
            let mut video = 0;
            while j < end {
                let (bid, bl) = vint(&b[j..], true);
                let (bsize, bs) = vint(&b[j + bl..], false);
                if bid == 0xA3 && b[j + bl + bs] == 0x81 {
                    video += 1;
                }
                j += bl + bs + bsize as usize;
            }
            out.push((i, end, video));
        }
        i = end;
    }
    out
}

#[test]
fn program_file_cut_anywhere_after_its_first_clusters_plays_up_to_last_complete_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = record_program(dir.path(), "crash.webm", START_MS, false);
    let bytes = std::fs::read(&path).unwrap();
    let cl = clusters(&bytes);
    assert!(cl.len() >= 4, "clusters {cl:?}");
    assert_eq!(
        cl.last().unwrap().1,
        bytes.len(),
        "only whole clusters reach the file"
    );
    // As left by kill -9: every frame of every written cluster plays.
    let all: usize = cl.iter().map(|c| c.2).sum();
    assert_eq!(read_frames(&path, "v:0") as usize, all);

    for k in 2..cl.len() {
        let (start, end, in_cluster) = cl[k];
        let before: usize = cl[..k].iter().map(|c| c.2).sum();
        for cut in [start, start + 1, (start + end) / 2, end - 1] {
            let cut_path = dir.path().join(format!("cut-{cut}.webm"));
            std::fs::write(&cut_path, &bytes[..cut]).unwrap();
            let frames = read_frames(&cut_path, "v:0") as usize;
            assert!(
                (before..=before + in_cluster).contains(&frames),
                "cut at byte {cut} (cluster {k}): {frames} frames decoded, \
                 {before} complete before it"
            );
        }
    }
}

/// A simulcast layer switch as the SFU forwards it: sequence numbers and
/// timestamps continue, the new layer starts at a keyframe with another
/// resolution, after a one-second pause without video (a keyframe gap).
fn layer_switch_recording(codec: Codec, name: &str, codec_name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut frames: Vec<Vec<Vec<u8>>> = Vec::new();
    for size in ["320x240", "640x360"] {
        match codec {
            Codec::Vp8 => frames.extend(
                ivf_frames(&vp8_clip(dir.path(), size, 3))
                    .iter()
                    .enumerate()
                    .map(|(i, f)| vp8_payloads(f, i as u16)),
            ),
            _ => frames.extend(
                annexb_access_units(&h264_clip(dir.path(), "baseline", size, 3))
                    .iter()
                    .map(|au| h264_payloads(au)),
            ),
        }
    }
    assert_eq!(frames.len(), 180);
    let mut steps = vec![3_000; frames.len()];
    steps[89] += 90_000;
    let at = |f: usize| START_MS + f as u64 * 1000 / FPS + if f >= 90 { 1_000 } else { 0 };
    let pkts = rtp_stream(frames, &steps, at, FIRST_VIDEO_TS);

    let path = out_path(dir.path(), name);
    let opts = TrackOptions {
        start_ms: START_MS,
        ..TrackOptions::default()
    };
    let mut rec = TrackRecorder::new(codec, File::create(&path).unwrap(), opts).unwrap();
    feed(&mut rec, &pkts);
    assert_eq!(rec.stats().frames_written, 180, "{:?}", rec.stats());
    rec.finish_seekable().unwrap();

    let probe = ffprobe(&path, &[]);
    stream(&probe, codec_name);
    let duration = num(&probe["format"]["duration"]);
    assert!(
        (duration - 7.0).abs() < 0.5,
        "duration {duration} s, expected 3 + 1 (gap) + 3"
    );
    assert_eq!(read_frames(&path, "v:0"), 180);
    assert_decodes_cleanly(&path);
}

#[test]
fn vp8_recording_follows_a_layer_switch_to_another_resolution_after_a_gap() {
    layer_switch_recording(Codec::Vp8, "switch.webm", "vp8");
}

#[test]
fn h264_recording_follows_a_layer_switch_to_another_resolution_after_a_gap() {
    layer_switch_recording(Codec::H264, "switch.mkv", "h264");
}
