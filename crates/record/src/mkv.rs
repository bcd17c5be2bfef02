//! An EBML writer and a Matroska / WebM muxer built for crash safety.
//!
//! The Segment is written with an unknown size and no SeekHead, so a reader
//! walks Clusters from the front. Each Cluster is assembled in memory and
//! written whole (known size) and flushed when it closes: at every video
//! keyframe and at least every [`MAX_CLUSTER_MS`]. A file cut at any byte
//! after its first Cluster therefore plays up to its last complete Cluster.
//! `finish()` adds Cues; `finish_seekable()` also patches the Segment size
//! and a Duration into the space reserved in Info — the file is valid without
//! either.

use std::io::{self, Seek, SeekFrom, Write};

use super::Codec;

/// A Cluster closes after this span (also keeps relative block times far
/// inside their signed 16-bit range).
pub const MAX_CLUSTER_MS: u64 = 5_000;
/// …or when its blocks reach this many bytes.
pub const MAX_CLUSTER_BYTES: usize = 8 << 20;

mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const DURATION: u32 = 0x4489;
    pub const VOID: u32 = 0xEC;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const FLAG_LACING: u32 = 0x9C;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const CODEC_DELAY: u32 = 0x56AA;
    pub const SEEK_PRE_ROLL: u32 = 0x56BB;
    pub const VIDEO: u32 = 0xE0;
    pub const PIXEL_WIDTH: u32 = 0xB0;
    pub const PIXEL_HEIGHT: u32 = 0xBA;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CUE_POINT: u32 = 0xBB;
    pub const CUE_TIME: u32 = 0xB3;
    pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
    pub const CUE_TRACK: u32 = 0xF7;
    pub const CUE_CLUSTER_POSITION: u32 = 0xF1;
}

/// "Unknown size": an 8-byte vint with all value bits set.
const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
/// Reserved in Info for Duration: Void(9 bytes) = ID + size + float64 later.
const DURATION_SLOT: usize = 11;
/// Duration counts the last frame as lasting its track's last step, up to this.
const MAX_TAIL_MS: u64 = 200;
/// Opus decoders need 80 ms of pre-roll after a seek (RFC 7845, WebM).
const OPUS_SEEK_PRE_ROLL_NS: u64 = 80_000_000;

/// EBML variable-size integer for an element size (minimal length).
pub fn put_size(out: &mut Vec<u8>, size: u64) {
    let mut len = 1;
    // All-ones is reserved for "unknown", hence `- 1`.
    while len < 8 && size >= (1u64 << (7 * len)) - 1 {
        len += 1;
    }
    let marked = size | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

/// Element IDs are stored with their marker bits: write their bytes as is.
fn put_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(3);
    out.extend_from_slice(&bytes[skip..]);
}

fn put_bytes(out: &mut Vec<u8>, id: u32, payload: &[u8]) {
    put_id(out, id);
    put_size(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

fn put_uint(out: &mut Vec<u8>, id: u32, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    put_bytes(out, id, &bytes[skip..]);
}

fn put_float(out: &mut Vec<u8>, id: u32, v: f64) {
    put_bytes(out, id, &v.to_be_bytes());
}

fn put_master(out: &mut Vec<u8>, id: u32, body: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    body(&mut inner);
    put_bytes(out, id, &inner);
}

/// One track of the file; track numbers are 1-based positions in the list
/// given to [`MkvWriter::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackSpec {
    /// VP8 (no codec private) or H.264 with its `AVCDecoderConfigurationRecord`.
    Video {
        codec: Codec,
        width: u16,
        height: u16,
        codec_private: Option<Vec<u8>>,
    },
    /// Opus at 48 kHz.
    Opus { channels: u8 },
}

impl TrackSpec {
    fn is_video(&self) -> bool {
        matches!(self, TrackSpec::Video { .. })
    }
}

/// `OpusHead` (RFC 7845 §5.1) for an RTP stream: no pre-skip is known, the
/// decoder starts at whatever packet came first.
pub fn opus_head(channels: u8) -> Vec<u8> {
    let mut h = b"OpusHead".to_vec();
    h.push(1);
    h.push(channels);
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&48_000u32.to_le_bytes());
    h.extend_from_slice(&0i16.to_le_bytes());
    h.push(0);
    h
}

#[derive(Debug)]
struct TrackState {
    video: bool,
    last_ts: Option<u64>,
    last_step: u64,
}

#[derive(Debug)]
struct OpenCluster {
    ts: u64,
    body: Vec<u8>,
}

/// Streams a Matroska (H.264) or WebM (VP8 / Opus) file to `sink`.
#[derive(Debug)]
pub struct MkvWriter<W: Write> {
    sink: W,
    pos: u64,
    segment_size_at: u64,
    segment_data_at: u64,
    duration_at: u64,
    tracks: Vec<TrackState>,
    has_video: bool,
    cluster: Option<OpenCluster>,
    last_cluster_ts: u64,
    cues: Vec<(u64, u64, u64)>,
    clusters: u64,
}

impl<W: Write> MkvWriter<W> {
    /// Writes the EBML header, Segment start, Info and Tracks, and flushes.
    pub fn new(sink: W, tracks: &[TrackSpec]) -> io::Result<Self> {
        if tracks.is_empty() || tracks.len() > 126 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "1 to 126 tracks",
            ));
        }
        let webm = tracks.iter().all(|t| match t {
            TrackSpec::Video { codec, .. } => *codec == Codec::Vp8,
            TrackSpec::Opus { .. } => true,
        });
        let mut out = Vec::new();
        put_master(&mut out, id::EBML, |o| {
            put_uint(o, id::EBML_VERSION, 1);
            put_uint(o, id::EBML_READ_VERSION, 1);
            put_uint(o, id::EBML_MAX_ID_LENGTH, 4);
            put_uint(o, id::EBML_MAX_SIZE_LENGTH, 8);
            put_bytes(o, id::DOC_TYPE, if webm { b"webm" } else { b"matroska" });
            put_uint(o, id::DOC_TYPE_VERSION, 4);
            put_uint(o, id::DOC_TYPE_READ_VERSION, 2);
        });
        put_id(&mut out, id::SEGMENT);
        let segment_size_at = out.len() as u64;
        out.extend_from_slice(&UNKNOWN_SIZE);
        let segment_data_at = out.len() as u64;

        let mut info = Vec::new();
        put_uint(&mut info, id::TIMESTAMP_SCALE, 1_000_000);
        put_bytes(&mut info, id::MUXING_APP, b"diemcau");
        put_bytes(&mut info, id::WRITING_APP, b"diemcau");
        let duration_in_info = info.len();
        put_id(&mut info, id::VOID);
        put_size(&mut info, (DURATION_SLOT - 2) as u64);
        info.extend_from_slice(&[0; DURATION_SLOT - 2]);
        put_id(&mut out, id::INFO);
        put_size(&mut out, info.len() as u64);
        let duration_at = (out.len() + duration_in_info) as u64;
        out.extend_from_slice(&info);

        let mut entries = Vec::new();
        for (i, t) in tracks.iter().enumerate() {
            let number = i as u64 + 1;
            let entry = track_entry(number, t)?;
            entries.extend_from_slice(&entry);
        }
        put_bytes(&mut out, id::TRACKS, &entries);

        let mut w = Self {
            sink,
            pos: 0,
            segment_size_at,
            segment_data_at,
            duration_at,
            tracks: tracks
                .iter()
                .map(|t| TrackState {
                    video: t.is_video(),
                    last_ts: None,
                    last_step: 0,
                })
                .collect(),
            has_video: tracks.iter().any(TrackSpec::is_video),
            cluster: None,
            last_cluster_ts: 0,
            cues: Vec::new(),
            clusters: 0,
        };
        w.emit(&out)?;
        w.sink.flush()?;
        Ok(w)
    }

    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sink.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Bytes handed to the sink so far.
    pub fn bytes_written(&self) -> u64 {
        self.pos
    }

    /// Clusters written (and flushed) so far.
    pub fn clusters_written(&self) -> u64 {
        self.clusters
    }

    /// Adds one frame of `track` (1-based) at `ts_ms` on the file's time
    /// line. Times running backwards within a track are clamped to the last
    /// one, so each track stays monotonic.
    pub fn write_frame(
        &mut self,
        track: usize,
        ts_ms: u64,
        keyframe: bool,
        data: &[u8],
    ) -> io::Result<()> {
        let Some(t) = track.checked_sub(1).and_then(|i| self.tracks.get_mut(i)) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no such track"));
        };
        let ts = t.last_ts.map_or(ts_ms, |last| ts_ms.max(last));
        if let Some(last) = t.last_ts {
            t.last_step = (ts - last).min(MAX_TAIL_MS);
        }
        t.last_ts = Some(ts);
        let video = t.video;
        // Audio blocks are all keyframes; only video keyframes start clusters
        // (a file with video seeks there).
        let starts_cluster = if self.has_video {
            video && keyframe
        } else {
            false
        };

        let close = match &self.cluster {
            None => false,
            Some(c) => {
                (starts_cluster && !c.body.is_empty() && ts > c.ts)
                    || ts > c.ts.saturating_add(MAX_CLUSTER_MS)
                    || c.body.len() + data.len() > MAX_CLUSTER_BYTES
            }
        };
        if close {
            self.close_cluster()?;
        }
        if self.cluster.is_none() {
            let cts = ts.max(self.last_cluster_ts);
            self.last_cluster_ts = cts;
            let mut body = Vec::with_capacity(64 * 1024);
            put_uint(&mut body, id::TIMESTAMP, cts);
            if keyframe && (video || !self.has_video) {
                let at = self.pos - self.segment_data_at;
                self.cues.push((cts, track as u64, at));
            }
            self.cluster = Some(OpenCluster { ts: cts, body });
        }
        let Some(c) = self.cluster.as_mut() else {
            return Ok(());
        };
        let rel = (ts as i128 - c.ts as i128).clamp(i16::MIN as i128, i16::MAX as i128) as i16;
        put_id(&mut c.body, id::SIMPLE_BLOCK);
        put_size(&mut c.body, 4 + data.len() as u64);
        c.body.push(0x80 | track as u8);
        c.body.extend_from_slice(&rel.to_be_bytes());
        c.body.push(if keyframe { 0x80 } else { 0 });
        c.body.extend_from_slice(data);
        Ok(())
    }

    /// Writes and flushes the open Cluster, if any.
    pub fn close_cluster(&mut self) -> io::Result<()> {
        let Some(c) = self.cluster.take() else {
            return Ok(());
        };
        let mut head = Vec::with_capacity(12);
        put_id(&mut head, id::CLUSTER);
        put_size(&mut head, c.body.len() as u64);
        self.emit(&head)?;
        self.emit(&c.body)?;
        self.sink.flush()?;
        self.clusters += 1;
        Ok(())
    }

    /// Duration in ms: the latest frame plus that track's last frame step.
    pub fn duration_ms(&self) -> u64 {
        self.tracks
            .iter()
            .filter_map(|t| Some(t.last_ts?.saturating_add(t.last_step)))
            .max()
            .unwrap_or(0)
    }

    /// Closes the last Cluster and appends Cues. For a sink that cannot
    /// seek; the Segment keeps its unknown size and Info has no Duration.
    pub fn finish(mut self) -> io::Result<W> {
        self.write_tail()?;
        Ok(self.sink)
    }

    fn write_tail(&mut self) -> io::Result<()> {
        self.close_cluster()?;
        if !self.cues.is_empty() {
            let mut points = Vec::new();
            for &(time, track, at) in &self.cues {
                put_master(&mut points, id::CUE_POINT, |o| {
                    put_uint(o, id::CUE_TIME, time);
                    put_master(o, id::CUE_TRACK_POSITIONS, |o| {
                        put_uint(o, id::CUE_TRACK, track);
                        put_uint(o, id::CUE_CLUSTER_POSITION, at);
                    });
                });
            }
            let mut cues = Vec::new();
            put_bytes(&mut cues, id::CUES, &points);
            self.emit(&cues)?;
        }
        self.sink.flush()
    }
}

impl<W: Write + Seek> MkvWriter<W> {
    /// [`finish`](Self::finish), then patches the Segment size and the
    /// Duration in place. Assumes the sink started at offset 0 of the file.
    pub fn finish_seekable(mut self) -> io::Result<W> {
        self.write_tail()?;
        let end = self.pos;
        let mut size = (end - self.segment_data_at).to_be_bytes();
        size[0] = 0x01;
        let mut dur = Vec::with_capacity(DURATION_SLOT);
        put_float(&mut dur, id::DURATION, self.duration_ms() as f64);
        let sink = &mut self.sink;
        sink.seek(SeekFrom::Start(self.segment_size_at))?;
        sink.write_all(&size)?;
        sink.seek(SeekFrom::Start(self.duration_at))?;
        sink.write_all(&dur)?;
        sink.seek(SeekFrom::Start(end))?;
        sink.flush()?;
        Ok(self.sink)
    }
}

fn track_entry(number: u64, t: &TrackSpec) -> io::Result<Vec<u8>> {
    let mut e = Vec::new();
    put_uint(&mut e, id::TRACK_NUMBER, number);
    put_uint(&mut e, id::TRACK_UID, number);
    put_uint(&mut e, id::FLAG_LACING, 0);
    match t {
        TrackSpec::Video {
            codec,
            width,
            height,
            codec_private,
        } => {
            put_uint(&mut e, id::TRACK_TYPE, 1);
            match (codec, codec_private) {
                (Codec::Vp8, _) => put_bytes(&mut e, id::CODEC_ID, b"V_VP8"),
                (Codec::H264, Some(avcc)) => {
                    put_bytes(&mut e, id::CODEC_ID, b"V_MPEG4/ISO/AVC");
                    put_bytes(&mut e, id::CODEC_PRIVATE, avcc);
                }
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "an H.264 track needs its AVCDecoderConfigurationRecord",
                    ));
                }
            }
            put_master(&mut e, id::VIDEO, |v| {
                put_uint(v, id::PIXEL_WIDTH, *width as u64);
                put_uint(v, id::PIXEL_HEIGHT, *height as u64);
            });
        }
        TrackSpec::Opus { channels } => {
            put_uint(&mut e, id::TRACK_TYPE, 2);
            put_bytes(&mut e, id::CODEC_ID, b"A_OPUS");
            put_bytes(&mut e, id::CODEC_PRIVATE, &opus_head(*channels));
            put_uint(&mut e, id::CODEC_DELAY, 0);
            put_uint(&mut e, id::SEEK_PRE_ROLL, OPUS_SEEK_PRE_ROLL_NS);
            put_master(&mut e, id::AUDIO, |a| {
                put_float(a, id::SAMPLING_FREQUENCY, 48_000.0);
                put_uint(a, id::CHANNELS, *channels as u64);
            });
        }
    }
    let mut out = Vec::new();
    put_bytes(&mut out, id::TRACK_ENTRY, &e);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_minimal_vints_and_avoid_the_unknown_pattern() {
        let enc = |v| {
            let mut o = Vec::new();
            put_size(&mut o, v);
            o
        };
        assert_eq!(enc(0), [0x80]);
        assert_eq!(enc(126), [0xfe]);
        // 127 in one byte would read as "unknown size".
        assert_eq!(enc(127), [0x40, 0x7f]);
        assert_eq!(enc(16_382), [0x7f, 0xfe]);
        assert_eq!(enc(16_383), [0x20, 0x3f, 0xff]);
    }

    #[test]
    fn ids_keep_their_marker_bits() {
        let mut o = Vec::new();
        put_id(&mut o, id::SIMPLE_BLOCK);
        put_id(&mut o, id::TIMESTAMP_SCALE);
        put_id(&mut o, id::CLUSTER);
        assert_eq!(o, [0xA3, 0x2A, 0xD7, 0xB1, 0x1F, 0x43, 0xB6, 0x75]);
    }

    #[test]
    fn clusters_close_at_video_keyframes_and_after_five_seconds() {
        let tracks = [
            TrackSpec::Video {
                codec: Codec::Vp8,
                width: 320,
                height: 240,
                codec_private: None,
            },
            TrackSpec::Opus { channels: 2 },
        ];
        let mut w = MkvWriter::new(Vec::new(), &tracks).unwrap();
        w.write_frame(1, 0, true, b"k").unwrap();
        w.write_frame(2, 10, true, b"a").unwrap();
        w.write_frame(1, 33, false, b"d").unwrap();
        assert_eq!(
            w.clusters_written(),
            0,
            "nothing on disk before a cluster closes"
        );
        w.write_frame(1, 1000, true, b"k").unwrap();
        assert_eq!(w.clusters_written(), 1);
        w.write_frame(2, 7000, true, b"a").unwrap();
        assert_eq!(w.clusters_written(), 2);
        assert_eq!(w.duration_ms(), 7000 + MAX_TAIL_MS);
        let file = w.finish().unwrap();
        assert!(file.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]));
    }
}
