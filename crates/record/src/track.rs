//! Per-track recording pipelines: jitter → depacketizer → timestamps → mkv.
//!
//! Times: every track of one meeting shares a time base, `start_ms` on the
//! caller's millisecond clock. A track's first packet anchors its RTP clock
//! to the `now_ms` it arrived at; later frames follow the RTP clock (90 kHz
//! video, 48 kHz Opus, u32 wrap unwrapped), so network jitter after the first
//! packet does not move frames, and tracks that joined late start late.

use std::collections::VecDeque;
use std::io::{self, Seek, Write};

use super::depack::{H264Depacketizer, OpusDepacketizer, Vp8Depacketizer, opus_packet_duration};
use super::jitter::{JitterBuffer, JitterOut, JitterStats};
use super::mkv::{MkvWriter, TrackSpec};
use super::{Codec, DepackStats, Depacketizer, Frame, RtpPacket};

/// Knobs of a recording; `Default` suits an SFU-side recorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackOptions {
    /// The recording's time zero on the caller's ms clock (shared by all
    /// tracks of a meeting).
    pub start_ms: u64,
    /// Reorder buffer size in packets.
    pub jitter_packets: usize,
    /// Longest wait for a missing packet.
    pub jitter_wait_ms: u64,
    /// Channels declared for Opus (WebRTC negotiates `opus/48000/2`).
    pub opus_channels: u8,
}

impl Default for TrackOptions {
    fn default() -> Self {
        Self {
            start_ms: 0,
            jitter_packets: 512,
            jitter_wait_ms: 200,
            opus_channels: 2,
        }
    }
}

/// What one RTP track's pipeline has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordStats {
    pub jitter: JitterStats,
    pub depack: DepackStats,
    pub frames_written: u64,
}

/// A frame on the recording's time line.
#[derive(Debug)]
struct Timed {
    ms: u64,
    frame: Frame,
}

/// RTP timestamp → ms since the recording's start.
#[derive(Debug)]
struct Clock {
    rate: i64,
    start_ms: u64,
    /// (last RTP ts, its unwrapped value, anchor unwrapped ts, anchor ms)
    state: Option<(u32, i64, i64, i64)>,
}

impl Clock {
    fn new(rate: u32, start_ms: u64) -> Self {
        Self {
            rate: rate as i64,
            start_ms,
            state: None,
        }
    }

    /// Feeds every packet's timestamp in arrival order so the unwrap never
    /// misses a wrap; the first one sets the anchor.
    fn observe(&mut self, ts: u32, arrived_ms: u64) {
        match &mut self.state {
            None => {
                let anchor_ms = arrived_ms.saturating_sub(self.start_ms) as i64;
                self.state = Some((ts, ts as i64, ts as i64, anchor_ms));
            }
            Some((last, ext, _, _)) => {
                *ext += ts.wrapping_sub(*last) as i32 as i64;
                *last = ts;
            }
        }
    }

    /// Time of `ts` (close to the last observed one) in ms, never negative.
    fn ms(&self, ts: u32) -> u64 {
        let Some((last, ext, anchor, anchor_ms)) = self.state else {
            return 0;
        };
        let ext_ts = ext + ts.wrapping_sub(last) as i32 as i64;
        let ms = anchor_ms.saturating_add((ext_ts - anchor).saturating_mul(1000) / self.rate);
        ms.max(0) as u64
    }
}

#[derive(Debug)]
enum Depack {
    Vp8(Vp8Depacketizer),
    H264(H264Depacketizer),
    Opus(OpusDepacketizer),
}

impl Depack {
    fn inner(&mut self) -> &mut dyn Depacketizer {
        match self {
            Depack::Vp8(d) => d,
            Depack::H264(d) => d,
            Depack::Opus(d) => d,
        }
    }

    fn inner_ref(&self) -> &dyn Depacketizer {
        match self {
            Depack::Vp8(d) => d,
            Depack::H264(d) => d,
            Depack::Opus(d) => d,
        }
    }
}

/// A packet waiting in the jitter buffer.
#[derive(Debug)]
struct Held {
    ts: u32,
    marker: bool,
    arrived_ms: u64,
    payload: Vec<u8>,
}

/// Jitter buffer, depacketizer and clock of one RTP track.
#[derive(Debug)]
struct RtpPipeline {
    codec: Codec,
    jitter: JitterBuffer<Held>,
    depack: Depack,
    clock: Clock,
}

impl RtpPipeline {
    fn new(codec: Codec, opts: &TrackOptions) -> Self {
        Self {
            codec,
            jitter: JitterBuffer::new(opts.jitter_packets, opts.jitter_wait_ms),
            depack: match codec {
                Codec::Vp8 => Depack::Vp8(Vp8Depacketizer::new()),
                Codec::H264 => Depack::H264(H264Depacketizer::new()),
                Codec::Opus => Depack::Opus(OpusDepacketizer::new()),
            },
            clock: Clock::new(codec.clock_rate(), opts.start_ms),
        }
    }

    fn push(&mut self, now_ms: u64, pkt: &RtpPacket<'_>, out: &mut Vec<Timed>) {
        // Copy bounded by the jitter buffer's capacity; RTP payloads are
        // small (one datagram).
        let held = Held {
            ts: pkt.timestamp,
            marker: pkt.marker,
            arrived_ms: now_ms,
            payload: pkt.payload.to_vec(),
        };
        self.jitter.push(pkt.seq, now_ms, held);
        self.poll(now_ms, out);
    }

    fn poll(&mut self, now_ms: u64, out: &mut Vec<Timed>) {
        while let Some(o) = self.jitter.pop(now_ms) {
            self.release(o, out);
        }
    }

    fn drain(&mut self, out: &mut Vec<Timed>) {
        for o in self.jitter.drain() {
            self.release(o, out);
        }
    }

    fn release(&mut self, o: JitterOut<Held>, out: &mut Vec<Timed>) {
        // Losses need no action: the depacketizer sees the sequence gap.
        let JitterOut::Packet { seq, item } = o else {
            return;
        };
        self.clock.observe(item.ts, item.arrived_ms);
        let pkt = RtpPacket {
            seq,
            timestamp: item.ts,
            marker: item.marker,
            payload: &item.payload,
        };
        if let Some(frame) = self.depack.inner().push(&pkt) {
            out.push(Timed {
                ms: self.clock.ms(frame.rtp_ts),
                frame,
            });
        }
    }

    fn needs_keyframe(&self) -> bool {
        self.depack.inner_ref().needs_keyframe()
    }

    fn stats(&self) -> (JitterStats, DepackStats) {
        (self.jitter.stats(), self.depack.inner_ref().stats())
    }

    /// The Matroska track for this pipeline, once a keyframe told us its
    /// size (and, for H.264, its parameter sets).
    fn track_spec(&self, opus_channels: u8) -> Option<TrackSpec> {
        match &self.depack {
            Depack::Vp8(d) => {
                let (width, height) = d.video_size()?;
                Some(TrackSpec::Video {
                    codec: Codec::Vp8,
                    width,
                    height,
                    codec_private: None,
                })
            }
            Depack::H264(d) => {
                let avcc = d.avc_config()?;
                // A size we cannot parse does not stop decoding: players
                // take the size from the SPS.
                let (width, height) = d.video_size().unwrap_or((16, 16));
                Some(TrackSpec::Video {
                    codec: Codec::H264,
                    width,
                    height,
                    codec_private: Some(avcc),
                })
            }
            Depack::Opus(_) => Some(TrackSpec::Opus {
                channels: opus_channels,
            }),
        }
    }
}

/// The muxer, opened when the first track spec is known.
#[derive(Debug)]
enum Output<W: Write> {
    Pending(W),
    Open(MkvWriter<W>),
    /// Only while a transition is in progress or after an error.
    Gone,
}

impl<W: Write> Output<W> {
    fn open(&mut self, tracks: &[TrackSpec]) -> io::Result<&mut MkvWriter<W>> {
        if let Output::Pending(_) = self {
            let Output::Pending(sink) = std::mem::replace(self, Output::Gone) else {
                unreachable!("matched above");
            };
            *self = Output::Open(MkvWriter::new(sink, tracks)?);
        }
        match self {
            Output::Open(w) => Ok(w),
            _ => Err(io::Error::other("recording output was lost after an error")),
        }
    }

    fn writer(&mut self) -> Option<&mut MkvWriter<W>> {
        match self {
            Output::Open(w) => Some(w),
            _ => None,
        }
    }

    fn finish(self, seek: impl FnOnce(MkvWriter<W>) -> io::Result<W>) -> io::Result<W> {
        match self {
            Output::Pending(w) => Ok(w),
            Output::Open(w) => seek(w),
            Output::Gone => Err(io::Error::other("recording output was lost after an error")),
        }
    }
}

/// Records one RTP track (VP8, H.264 or Opus) to its own file. A video file
/// starts at the first keyframe: nothing is written before it.
#[derive(Debug)]
pub struct TrackRecorder<W: Write> {
    pipe: RtpPipeline,
    opts: TrackOptions,
    out: Output<W>,
    frames: Vec<Timed>,
    written: u64,
}

impl<W: Write> TrackRecorder<W> {
    /// An Opus file gets its header at once; a video file at its first
    /// keyframe.
    pub fn new(codec: Codec, sink: W, opts: TrackOptions) -> io::Result<Self> {
        let pipe = RtpPipeline::new(codec, &opts);
        let mut out = Output::Pending(sink);
        if codec == Codec::Opus
            && let Some(spec) = pipe.track_spec(opts.opus_channels)
        {
            out.open(&[spec])?;
        }
        Ok(Self {
            pipe,
            opts,
            out,
            frames: Vec::new(),
            written: 0,
        })
    }

    pub fn codec(&self) -> Codec {
        self.pipe.codec
    }

    /// Feeds one RTP packet that arrived at `now_ms`.
    pub fn push_rtp(&mut self, now_ms: u64, pkt: &RtpPacket<'_>) -> io::Result<()> {
        let mut frames = std::mem::take(&mut self.frames);
        self.pipe.push(now_ms, pkt, &mut frames);
        let r = self.write(&mut frames);
        self.frames = frames;
        r
    }

    /// Releases packets whose gap has waited long enough; call it now and
    /// then when no packets arrive.
    pub fn poll(&mut self, now_ms: u64) -> io::Result<()> {
        let mut frames = std::mem::take(&mut self.frames);
        self.pipe.poll(now_ms, &mut frames);
        let r = self.write(&mut frames);
        self.frames = frames;
        r
    }

    fn write(&mut self, frames: &mut Vec<Timed>) -> io::Result<()> {
        for t in frames.drain(..) {
            let w = match self.out.writer() {
                Some(w) => w,
                None => {
                    let Some(spec) = self.pipe.track_spec(self.opts.opus_channels) else {
                        continue;
                    };
                    self.out.open(&[spec])?
                }
            };
            w.write_frame(1, t.ms, t.frame.keyframe, &t.frame.data)?;
            self.written += 1;
        }
        Ok(())
    }

    /// True while video frames are dropped for want of a keyframe: the
    /// caller should send a PLI (throttled).
    pub fn needs_keyframe(&self) -> bool {
        self.pipe.needs_keyframe()
    }

    pub fn stats(&self) -> RecordStats {
        let (jitter, depack) = self.pipe.stats();
        RecordStats {
            jitter,
            depack,
            frames_written: self.written,
        }
    }

    /// Releases what the jitter buffer holds, closes the last cluster and
    /// appends Cues. Returns the sink (untouched if no keyframe ever came).
    pub fn finish(mut self) -> io::Result<W> {
        self.drain()?;
        self.out.finish(MkvWriter::finish)
    }

    fn drain(&mut self) -> io::Result<()> {
        let mut frames = std::mem::take(&mut self.frames);
        self.pipe.drain(&mut frames);
        self.write(&mut frames)
    }
}

impl<W: Write + Seek> TrackRecorder<W> {
    /// [`finish`](Self::finish), then patches Duration and Segment size.
    pub fn finish_seekable(mut self) -> io::Result<W> {
        self.drain()?;
        self.out.finish(MkvWriter::finish_seekable)
    }
}

/// Audio is held at most this long waiting for video (and the reverse), so
/// the two tracks interleave in time order in the file.
const INTERLEAVE_MS: u64 = 1_000;
/// Audio held before the first video keyframe opens the file: 30 s of 20 ms
/// frames; older frames are dropped first.
const MAX_PENDING_AUDIO: usize = 1_500;

/// What the program recorder did with its audio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudioStats {
    pub frames: u64,
    pub malformed: u64,
    /// Dropped while no video keyframe had opened the file yet.
    pub dropped_before_video: u64,
}

/// The meeting's "program" file: one video track from RTP (the stage) and
/// one audio track of already-encoded Opus frames (the mix), interleaved in
/// time order in one WebM (VP8) or Matroska (H.264) file. The file opens at
/// the first video keyframe; audio before it is held (bounded) and written
/// then.
#[derive(Debug)]
pub struct ProgramRecorder<W: Write> {
    video: RtpPipeline,
    opts: TrackOptions,
    out: Output<W>,
    video_q: VecDeque<Timed>,
    audio_q: VecDeque<Timed>,
    video_high: Option<u64>,
    audio_high: Option<u64>,
    video_written: u64,
    audio: AudioStats,
    scratch: Vec<Timed>,
}

impl<W: Write> ProgramRecorder<W> {
    pub fn new(video_codec: Codec, sink: W, opts: TrackOptions) -> io::Result<Self> {
        if !video_codec.is_video() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the program's video track needs a video codec",
            ));
        }
        Ok(Self {
            video: RtpPipeline::new(video_codec, &opts),
            opts,
            out: Output::Pending(sink),
            video_q: VecDeque::new(),
            audio_q: VecDeque::new(),
            video_high: None,
            audio_high: None,
            video_written: 0,
            audio: AudioStats::default(),
            scratch: Vec::new(),
        })
    }

    /// Feeds one RTP packet of the stage video that arrived at `now_ms`.
    pub fn push_video_rtp(&mut self, now_ms: u64, pkt: &RtpPacket<'_>) -> io::Result<()> {
        let mut frames = std::mem::take(&mut self.scratch);
        self.video.push(now_ms, pkt, &mut frames);
        self.queue_video(&mut frames);
        self.scratch = frames;
        self.pump(false)
    }

    /// Releases video held in the jitter buffer past its wait.
    pub fn poll(&mut self, now_ms: u64) -> io::Result<()> {
        let mut frames = std::mem::take(&mut self.scratch);
        self.video.poll(now_ms, &mut frames);
        self.queue_video(&mut frames);
        self.scratch = frames;
        self.pump(false)
    }

    /// One encoded Opus packet of the mix whose first sample is at `at_ms`
    /// on the same clock as the video's `now_ms`.
    pub fn push_audio_frame(&mut self, at_ms: u64, opus: &[u8]) -> io::Result<()> {
        if opus_packet_duration(opus).is_none() {
            self.audio.malformed += 1;
            return Ok(());
        }
        self.audio.frames += 1;
        let ms = at_ms.saturating_sub(self.opts.start_ms);
        self.audio_high = Some(self.audio_high.map_or(ms, |h| h.max(ms)));
        self.audio_q.push_back(Timed {
            ms,
            frame: Frame {
                data: opus.to_vec(),
                rtp_ts: 0,
                keyframe: true,
            },
        });
        if matches!(self.out, Output::Pending(_)) && self.audio_q.len() > MAX_PENDING_AUDIO {
            self.audio_q.pop_front();
            self.audio.dropped_before_video += 1;
        }
        self.pump(false)
    }

    fn queue_video(&mut self, frames: &mut Vec<Timed>) {
        for t in frames.drain(..) {
            self.video_high = Some(self.video_high.map_or(t.ms, |h| h.max(t.ms)));
            self.video_q.push_back(t);
        }
    }

    /// Writes queued frames in time order; each track waits for the other
    /// at most [`INTERLEAVE_MS`]. `all` writes everything (end).
    fn pump(&mut self, all: bool) -> io::Result<()> {
        if matches!(self.out, Output::Pending(_)) {
            if self.video_q.is_empty() {
                return Ok(());
            }
            let Some(video) = self.video.track_spec(self.opts.opus_channels) else {
                return Ok(());
            };
            let audio = TrackSpec::Opus {
                channels: self.opts.opus_channels,
            };
            self.out.open(&[video, audio])?;
        }
        let Some(w) = self.out.writer() else {
            // The file could not be opened: hold nothing.
            self.video_q.clear();
            self.audio_q.clear();
            return Err(io::Error::other("recording output was lost after an error"));
        };
        loop {
            let v = self.video_q.front().map(|t| t.ms);
            let a = self.audio_q.front().map(|t| t.ms);
            let take_video = match (v, a) {
                (Some(v), Some(a)) => v <= a,
                (Some(v), None) => {
                    all || self.audio_high.is_some_and(|h| h >= v)
                        || self
                            .video_high
                            .is_some_and(|h| h >= v.saturating_add(INTERLEAVE_MS))
                }
                (None, Some(a)) => {
                    let ok = all
                        || self.video_high.is_some_and(|h| h >= a)
                        || self
                            .audio_high
                            .is_some_and(|h| h >= a.saturating_add(INTERLEAVE_MS));
                    if !ok {
                        return Ok(());
                    }
                    false
                }
                (None, None) => return Ok(()),
            };
            if take_video && v.is_some() {
                let Some(t) = self.video_q.pop_front() else {
                    break;
                };
                w.write_frame(1, t.ms, t.frame.keyframe, &t.frame.data)?;
                self.video_written += 1;
            } else if !take_video && a.is_some() {
                let Some(t) = self.audio_q.pop_front() else {
                    break;
                };
                w.write_frame(2, t.ms, true, &t.frame.data)?;
            } else {
                break;
            }
        }
        Ok(())
    }

    pub fn needs_keyframe(&self) -> bool {
        self.video.needs_keyframe()
    }

    pub fn video_stats(&self) -> RecordStats {
        let (jitter, depack) = self.video.stats();
        RecordStats {
            jitter,
            depack,
            frames_written: self.video_written,
        }
    }

    pub fn audio_stats(&self) -> AudioStats {
        self.audio
    }

    fn drain(&mut self) -> io::Result<()> {
        let mut frames = std::mem::take(&mut self.scratch);
        self.video.drain(&mut frames);
        self.queue_video(&mut frames);
        self.pump(true)
    }

    /// Writes everything held, closes the last cluster, appends Cues.
    pub fn finish(mut self) -> io::Result<W> {
        self.drain()?;
        self.out.finish(MkvWriter::finish)
    }
}

impl<W: Write + Seek> ProgramRecorder<W> {
    /// [`finish`](Self::finish), then patches Duration and Segment size.
    pub fn finish_seekable(mut self) -> io::Result<W> {
        self.drain()?;
        self.out.finish(MkvWriter::finish_seekable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_unwraps_u32_rtp_timestamps() {
        let mut c = Clock::new(90_000, 1_000);
        let first = u32::MAX - 89_999; // one second before the wrap
        c.observe(first, 1_500);
        assert_eq!(c.ms(first), 500);
        c.observe(first.wrapping_add(90_000), 2_500);
        assert_eq!(c.ms(first.wrapping_add(90_000)), 1_500);
        c.observe(first.wrapping_add(180_000), 3_500);
        assert_eq!(c.ms(first.wrapping_add(180_000)), 2_500);
        // A frame slightly behind the last observed packet.
        assert_eq!(c.ms(first.wrapping_add(171_000)), 2_400);
    }

    #[test]
    fn clock_never_goes_below_zero() {
        let mut c = Clock::new(48_000, 0);
        c.observe(48_000, 0);
        assert_eq!(c.ms(0), 0);
    }

    #[test]
    fn opus_track_writes_its_header_at_once() {
        let rec = TrackRecorder::new(Codec::Opus, Vec::new(), TrackOptions::default()).unwrap();
        let file = rec.finish().unwrap();
        assert!(file.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]));
    }

    /// Random and mutated packets through every pipeline: counted, never a
    /// panic (the fuzz targets do this at depth).
    #[test]
    fn hostile_packets_never_panic() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for codec in [Codec::Vp8, Codec::H264, Codec::Opus] {
            let opts = TrackOptions {
                jitter_packets: 16,
                ..TrackOptions::default()
            };
            let mut rec = TrackRecorder::new(codec, Vec::new(), opts).unwrap();
            let mut prog = ProgramRecorder::new(Codec::Vp8, Vec::new(), opts).unwrap();
            let (mut seq, mut ts) = (65_000u16, u32::MAX - 10_000);
            for n in 0..20_000u64 {
                let r = rnd();
                let len = (r % 40) as usize;
                let mut payload: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
                // Steer the first bytes to the interesting packet types.
                if let Some(b) = payload.first_mut() {
                    *b = match (r >> 8) % 6 {
                        0 => 0x10,
                        1 => 0x90,
                        2 => 0x18,
                        3 => 0x7c,
                        4 => 0x67,
                        _ => *b,
                    };
                }
                seq = seq.wrapping_add(if r >> 20 & 15 == 0 { 3 } else { 1 });
                if r >> 24 & 3 == 0 {
                    ts = ts.wrapping_add(3_000);
                }
                let pkt = RtpPacket {
                    seq,
                    timestamp: ts,
                    marker: r >> 30 & 1 == 1,
                    payload: &payload,
                };
                rec.push_rtp(n * 5, &pkt).unwrap();
                prog.push_video_rtp(n * 5, &pkt).unwrap();
                prog.push_audio_frame(rnd() % 100_000, &payload).unwrap();
            }
            let s = rec.stats();
            assert!(s.depack.malformed > 0, "{codec:?}: {s:?}");
            rec.finish().unwrap();
            prog.finish().unwrap();
        }
    }
}
