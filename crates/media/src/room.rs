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
/// Keyframes a publisher's layer may be asked for back to back (the
/// bucket's depth): a lone joiner's request goes out at once even just
/// after another viewer's keyframe passed.
pub const KEYFRAME_BURST: f64 = 2.0;
/// The share of a layer's bitrate that the keyframes we ask for may take
/// (each costs the publisher its measured size on the uplink): a join
/// storm at most doubles the layer's bitrate while it lasts (a browser's
/// encoder holds its target rate by coarser frames in between). A quarter
/// made S3's 30 joins a second wait ~190 ms for a token with 3× keyframes,
/// where Janus asks for one per joiner without any bound.
pub const KEYFRAME_UPLINK_SHARE: f64 = 1.0;
/// The refill never goes below one keyframe a second (a viewer that missed
/// one waits at most about a second, as a repeated PLI did) ...
pub const KEYFRAME_RATE_MIN_PER_S: f64 = 1.0;
/// ... nor above ten (one frame in three at 30 fps: beyond that the layer
/// would be mostly keyframes, whatever their size).
pub const KEYFRAME_RATE_MAX_PER_S: f64 = 10.0;
/// Before the layer's bitrate and keyframe size are measured: four a
/// second, the pace of the fixed 250 ms gap this budget replaced.
pub const KEYFRAME_RATE_UNMEASURED_PER_S: f64 = 4.0;

/// A publisher layer's keyframe budget: a token bucket, [`KEYFRAME_BURST`]
/// deep, refilled at [`keyframe_rate_per_s`]. Every keyframe request the
/// engine sends to the publisher takes a token; one without a token waits
/// (`Layer::keyframe_pending`) and goes out when a token is back, then
/// serving every viewer that waited meanwhile.
#[derive(Debug, Clone)]
pub struct KeyframeBudget {
    tokens: f64,
    at: Option<Instant>,
}

impl Default for KeyframeBudget {
    fn default() -> Self {
        KeyframeBudget {
            tokens: KEYFRAME_BURST,
            at: None,
        }
    }
}

impl KeyframeBudget {
    /// Take a token at `now` if one is there, refilling at `rate_per_s`
    /// since the last call.
    pub fn try_take(&mut self, now: Instant, rate_per_s: f64) -> bool {
        if let Some(at) = self.at {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            self.tokens = (self.tokens + dt * rate_per_s).min(KEYFRAME_BURST);
        }
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Keyframes a second a layer sending `bitrate_bps` may be asked for, when
/// its last keyframe took `keyframe_bytes`: [`KEYFRAME_UPLINK_SHARE`] of
/// its bitrate, within the bounds above.
pub fn keyframe_rate_per_s(bitrate_bps: u64, keyframe_bytes: u64) -> f64 {
    if bitrate_bps == 0 || keyframe_bytes == 0 {
        return KEYFRAME_RATE_UNMEASURED_PER_S;
    }
    let rate = KEYFRAME_UPLINK_SHARE * bitrate_bps as f64 / 8.0 / keyframe_bytes as f64;
    rate.clamp(KEYFRAME_RATE_MIN_PER_S, KEYFRAME_RATE_MAX_PER_S)
}

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
    /// The last keyframe's RTP timestamp and its bytes so far (payload +
    /// RTP header, every packet of that picture): what one costs.
    pub keyframe_ts: Option<u32>,
    pub keyframe_bytes: u64,
    pub keyframe_budget: KeyframeBudget,
    /// A viewer's keyframe request found the budget empty: asked again on
    /// the layer's next packet (when a token may be back), and dropped
    /// when any keyframe arrives (it serves that viewer too).
    pub keyframe_pending: bool,
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

    /// A video packet of picture `ts` (after [`Layer::on_packet`]):
    /// measures the keyframe's size, and a keyframe answers whoever waited.
    pub fn on_picture_packet(&mut self, now: Instant, keyframe: bool, ts: u32, bytes: usize) {
        if keyframe {
            self.last_keyframe = Some(now);
            self.keyframe_pending = false;
            if self.keyframe_ts != Some(ts) {
                self.keyframe_ts = Some(ts);
                self.keyframe_bytes = 0;
            }
        }
        if self.keyframe_ts == Some(ts) {
            self.keyframe_bytes += bytes as u64 + 12;
        }
    }

    /// Keyframes a second this layer may be asked for now.
    pub fn keyframe_rate_per_s(&self) -> f64 {
        keyframe_rate_per_s(self.bitrate_bps, self.keyframe_bytes)
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
    /// The same, shared: what a packet waiting for the end of its batch
    /// (`Engine::fan_out_pending`) or handed to another worker names its
    /// room by, without a copy each.
    pub key: std::sync::Arc<str>,
    /// In join order.
    pub participants: Vec<ParticipantId>,
    pub stage: Vec<ParticipantId>,
    /// The stage may fall back to the active speaker (`Command::StageVoice`;
    /// off by default: a room that was re-created is safe until told).
    pub voice_stage: bool,
    pub speaker: SpeakerDetector,
    pub active_speaker: Option<super::SourceId>,
    /// Published track -> (subscriber, slot index) it may feed (current or
    /// pending source of that slot). Rebuilt whenever assignments change;
    /// shared (`Arc`) so forwarding a packet takes the list without copying.
    pub fanout: HashMap<TrackId, std::sync::Arc<[(ParticipantId, usize)]>>,
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
            key: id.as_str().into(),
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

    #[test]
    fn keyframe_budget_allows_a_burst_then_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut b = KeyframeBudget::default();
        assert!(b.try_take(t0, 4.0));
        assert!(b.try_take(t0, 4.0));
        assert!(!b.try_take(t0, 4.0), "the burst is two deep");
        assert!(!b.try_take(t0 + Duration::from_millis(200), 4.0));
        assert!(b.try_take(t0 + Duration::from_millis(250), 4.0));
        // Idle for long: back to the burst, never more.
        let later = t0 + Duration::from_secs(60);
        assert!(b.try_take(later, 4.0));
        assert!(b.try_take(later, 4.0));
        assert!(!b.try_take(later, 4.0));
    }

    #[test]
    fn keyframe_rate_is_a_share_of_the_layer_bitrate_within_bounds() {
        // 1.2 Mbit/s with 60 kB keyframes: 150 kB/s / 60 kB = 2.5/s.
        assert!((keyframe_rate_per_s(1_200_000, 60_000) - 2.5).abs() < 1e-9);
        // Keyframes bigger than a second of video: the floor.
        assert_eq!(keyframe_rate_per_s(1_200_000, 300_000), 1.0);
        // Tiny keyframes: the ceiling.
        assert_eq!(keyframe_rate_per_s(1_200_000, 100), 10.0);
        assert_eq!(keyframe_rate_per_s(0, 15_000), 4.0);
    }

    #[test]
    fn a_keyframe_is_measured_over_its_packets_and_clears_a_pending_request() {
        let t0 = Instant::now();
        let mut l = Layer {
            keyframe_pending: true,
            ..Default::default()
        };
        l.on_picture_packet(t0, true, 9000, 988);
        assert!(!l.keyframe_pending);
        l.on_picture_packet(t0, false, 9000, 988);
        l.on_picture_packet(t0, false, 12000, 500);
        assert_eq!(l.keyframe_bytes, 2000);
    }
}
