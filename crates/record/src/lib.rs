//! Recording (issue 5): RTP depacketizers, a small reordering buffer and a
//! Matroska/WebM writer. Sans-IO like `media/`: bytes in, bytes out; no
//! clock reads (every time is a millisecond value the caller passes in), no
//! threads, no files (output goes to a `std::io::Write` the caller owns).
//!
//! ```text
//! RTP ─▶ jitter (reorder, dedupe, declare loss) ─▶ depack (VP8 / H.264 / Opus)
//!     ─▶ timestamps (RTP clock → ms on the recording's time base) ─▶ mkv
//! ```
//!
//! Crash safety comes from the writer: a cluster is built in memory and
//! written and flushed whole when it closes (at each video keyframe and at
//! least every [`mkv::MAX_CLUSTER_MS`]), so a file cut anywhere after its
//! first cluster plays up to its last complete cluster without Cues.
//!
//! Hostile payloads are dropped and counted in [`DepackStats`]; nothing in
//! here panics on input bytes or allocates more than [`MAX_FRAME_BYTES`] per
//! frame.

pub mod depack;
pub mod jitter;
pub mod mix;
pub mod mkv;
pub mod track;

pub use depack::{Depacketizer, H264Depacketizer, OpusDepacketizer, Vp8Depacketizer};
pub use jitter::{JitterBuffer, JitterOut, JitterStats};
pub use mix::{MixOptions, MixStats, MixedFrame, Mixer};
pub use mkv::{MkvWriter, TrackSpec};
pub use track::{AudioStats, ProgramRecorder, RecordStats, TrackOptions, TrackRecorder};

/// Codecs the recorder understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Vp8,
    H264,
    Opus,
}

impl Codec {
    /// RTP clock rate (RFC 7741, RFC 6184, RFC 7587).
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Vp8 | Codec::H264 => 90_000,
            Codec::Opus => 48_000,
        }
    }

    pub fn is_video(self) -> bool {
        !matches!(self, Codec::Opus)
    }
}

/// One RTP packet as the recorder needs it (header already parsed by str0m).
#[derive(Debug, Clone, Copy)]
pub struct RtpPacket<'a> {
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: &'a [u8],
}

/// A complete encoded frame: VP8 frame, H.264 access unit as 4-byte
/// length-prefixed NAL units (what Matroska's `V_MPEG4/ISO/AVC` carries), or
/// one Opus packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub data: Vec<u8>,
    pub rtp_ts: u32,
    pub keyframe: bool,
}

/// Counters of what the depacketizers refused. Everything dropped is
/// counted in exactly one field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DepackStats {
    pub packets: u64,
    pub frames: u64,
    /// Payloads that do not parse (truncated descriptor, unsupported NAL
    /// aggregation, invalid Opus TOC, …).
    pub malformed: u64,
    /// Frames thrown away because a fragment was missing or malformed.
    pub dropped_incomplete: u64,
    /// Complete frames thrown away while waiting for a keyframe after loss.
    pub dropped_waiting_keyframe: u64,
    /// Frames that would have grown past [`MAX_FRAME_BYTES`].
    pub oversize: u64,
}

/// No frame grows past this: bounds memory against hostile senders.
pub const MAX_FRAME_BYTES: usize = 4 << 20;
