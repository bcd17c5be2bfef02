//! A room: the live media state of one meeting — who is in it, what they
//! publish, the stage, the active speaker, and the fan-out map from each
//! published track to the subscriber slots it feeds.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use str0m::format::Codec;
use str0m::media::{Mid, Rid};
use str0m::rtp::Ssrc;

use super::codec::VideoCodec;
use super::speaker::SpeakerDetector;
use super::{ParticipantId, RoomStats, TrackId};

/// Up to three simulcast layers per track (low, mid, high).
pub const MAX_LAYERS: usize = 3;
/// A layer that sent nothing for this long is treated as stopped (publisher
/// paused it, or lost bandwidth) and subscribers move to another layer.
pub const LAYER_IDLE: Duration = Duration::from_millis(1000);
/// A keyframe request not yet answered (no keyframe since) is repeated
/// after this long, not before: several subscribers switching at once must
/// not make the publisher send a keyframe each, and one keyframe serves
/// them all.
pub const PLI_INTERVAL: Duration = Duration::from_millis(500);
/// Once a keyframe has arrived, a new request (a subscriber that connected
/// after it passed) may follow this soon after it: a join storm then costs
/// the publisher at most four keyframes a second per layer, and a joiner
/// waits a fraction of [`PLI_INTERVAL`] instead of all of it.
pub const KEYFRAME_MIN_GAP: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Default)]
pub struct Layer {
    pub rid: Option<Rid>,
    pub ssrc: Option<Ssrc>,
    pub last_packet: Option<Instant>,
    /// Bytes (payload + RTP header) since `window_start`.
    pub window_bytes: u64,
    pub window_start: Option<Instant>,
    /// Smoothed bitrate, bit/s (0 until measured).
    pub bitrate_bps: u64,
    pub last_pli: Option<Instant>,
    /// When the last keyframe started on this layer.
    pub last_keyframe: Option<Instant>,
}

impl Layer {
    pub fn is_active(&self, now: Instant) -> bool {
        self.last_packet
            .is_some_and(|t| now.saturating_duration_since(t) < LAYER_IDLE)
    }

    /// Account one packet of `bytes` payload at `now`.
    pub fn on_packet(&mut self, now: Instant, bytes: usize) {
        if self.window_start.is_none() || !self.is_active(now) {
            self.window_start = Some(now);
            self.window_bytes = 0;
        }
        self.last_packet = Some(now);
        // 12 bytes of RTP header: what the subscriber's link carries too.
        self.window_bytes += bytes as u64 + 12;
    }
}

#[derive(Debug, Clone)]
pub struct PublishedTrack {
    pub id: TrackId,
    pub owner: ParticipantId,
    pub mid: Mid,
    pub video: bool,
    /// Learned from the first packet's payload type.
    pub codec: Option<Codec>,
    pub layers: [Layer; MAX_LAYERS],
    /// Audio: the newest (extended seq, RTP timestamp) received, so a RED
    /// packet's redundancy refills only what was lost since.
    pub audio_last: Option<(u64, u32)>,
    /// Audio: frames that arrived (refilled ones included) against those
    /// sent, for the report after the meeting.
    pub continuity: super::quality::AudioContinuity,
    /// Video: stalls of the lowest layer (every publisher sends it).
    pub freezes: super::quality::FreezeMeter,
    /// A mirror of a track published on another engine (`span`): which.
    pub remote: Option<super::span::WorkerId>,
}

impl PublishedTrack {
    pub fn new(id: TrackId, owner: ParticipantId, mid: Mid, video: bool) -> Self {
        PublishedTrack {
            id,
            owner,
            mid,
            video,
            codec: None,
            layers: Default::default(),
            audio_last: None,
            continuity: Default::default(),
            freezes: Default::default(),
            remote: None,
        }
    }

    pub fn video_codec(&self) -> Option<VideoCodec> {
        match self.codec? {
            Codec::Vp8 => Some(VideoCodec::Vp8),
            Codec::H264 => Some(VideoCodec::H264),
            _ => None,
        }
    }

    pub fn active_layers(&self, now: Instant) -> impl Iterator<Item = u8> + '_ {
        (0..MAX_LAYERS as u8).filter(move |&l| self.layers[l as usize].is_active(now))
    }
}

/// Layer index for a simulcast rid: the usual names map to low/mid/high,
/// anything else falls back to its position in the offer's rid list.
pub fn layer_for_rid(rid: Option<&str>, position: Option<usize>) -> u8 {
    match rid {
        None => 0,
        Some("q" | "l" | "low" | "0" | "quarter") => 0,
        Some("h" | "m" | "mid" | "1" | "half") => 1,
        Some("f" | "high" | "2" | "full") => 2,
        Some(_) => position.unwrap_or(0).min(MAX_LAYERS - 1) as u8,
    }
}

#[derive(Debug)]
pub struct Room {
    pub id: String,
    /// In join order.
    pub participants: Vec<ParticipantId>,
    pub stage: Vec<ParticipantId>,
    /// The stage may fall back to the active speaker (`Command::StageVoice`;
    /// off by default: a room that was re-created is safe until told).
    pub voice_stage: bool,
    pub speaker: SpeakerDetector,
    pub active_speaker: Option<super::SourceId>,
    /// Published track -> (subscriber, slot index) it may feed (current or
    /// pending source of that slot). Rebuilt whenever assignments change.
    pub fanout: HashMap<TrackId, Vec<(ParticipantId, usize)>>,
    /// Slot assignments must be recomputed.
    pub dirty: bool,
    pub stats: RoomStats,
    /// Held with other engines (`span`): its home, peers, and what crosses.
    pub span: Option<super::span::Span>,
}

impl Room {
    pub fn new(id: String) -> Self {
        Room {
            stats: RoomStats {
                room: id.clone(),
                ..Default::default()
            },
            id,
            participants: Vec::new(),
            stage: Vec::new(),
            voice_stage: false,
            speaker: SpeakerDetector::new(),
            active_speaker: None,
            fanout: HashMap::new(),
            dirty: true,
            span: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_rid_names_map_to_low_mid_high() {
        assert_eq!(layer_for_rid(Some("q"), Some(2)), 0);
        assert_eq!(layer_for_rid(Some("h"), Some(0)), 1);
        assert_eq!(layer_for_rid(Some("f"), Some(0)), 2);
        assert_eq!(layer_for_rid(Some("x"), Some(1)), 1);
        assert_eq!(layer_for_rid(Some("x"), Some(9)), 2);
        assert_eq!(layer_for_rid(None, None), 0);
    }
}
