//! Forwarder: decides, per receive slot of a subscriber, whether an incoming
//! packet is sent and with which sequence number and timestamp.
//!
//! Decide, then send: `on_packet` returns plain numbers, the session applies
//! them. A subscriber sees one continuous stream per slot whatever source or
//! simulcast layer feeds it: sequence numbers continue at +1 across a switch,
//! timestamps advance by the wall time that passed, and a video switch only
//! happens on the first packet of a keyframe of the new source.

use std::time::Instant;

use super::TrackRef;

/// What to do with one incoming packet for one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Not for this slot (another source or layer, or before a switch point).
    Drop,
    /// Send with these rewritten values. `switched` is true on the first
    /// packet of a new source/layer.
    Forward { seq: u64, ts: u32, switched: bool },
}

/// Per-slot rewriting state.
#[derive(Debug, Clone)]
pub struct Forwarder {
    /// Video waits for a keyframe to switch; audio switches at once.
    video: bool,
    current: Option<TrackRef>,
    /// Source/layer we want; becomes current on its next keyframe.
    target: Option<TrackRef>,
    /// out_seq = in_seq + seq_offset (wrapping in u64 space).
    seq_offset: u64,
    ts_offset: u32,
    /// First incoming seq of the current source: older (reordered) packets
    /// would map onto numbers already used by the previous source.
    switch_in_seq: u64,
    last_out_seq: Option<u64>,
    last_out_ts: u32,
    last_out_at: Option<Instant>,
}

/// Where the first outgoing sequence number starts. Below 2^15 so that the
/// SRTP rollover counter starts at 0 (no out-of-band ROC signalling needed).
const FIRST_OUT_SEQ: u64 = 1000;

impl Forwarder {
    pub fn new(video: bool) -> Self {
        Forwarder {
            video,
            current: None,
            target: None,
            seq_offset: 0,
            ts_offset: 0,
            switch_in_seq: 0,
            last_out_seq: None,
            last_out_ts: 0,
            last_out_at: None,
        }
    }

    pub fn current(&self) -> Option<TrackRef> {
        self.current
    }

    pub fn target(&self) -> Option<TrackRef> {
        self.target
    }

    /// The source this slot should show next (None: show nothing).
    /// Returns true when a keyframe is needed from `want` to complete it.
    pub fn set_target(&mut self, want: Option<TrackRef>) -> bool {
        if want == self.current {
            self.target = None;
            return false;
        }
        match want {
            None => {
                self.current = None;
                self.target = None;
                false
            }
            Some(t) => {
                self.target = Some(t);
                self.video
            }
        }
    }

    /// Whether a switch is waiting for a keyframe.
    pub fn is_switch_pending(&self) -> bool {
        self.target.is_some()
    }

    /// Decide for one packet from `src` with extended sequence number `seq`
    /// and RTP timestamp `ts`, whose codec clock runs at `clock_rate` Hz.
    pub fn on_packet(
        &mut self,
        now: Instant,
        src: TrackRef,
        seq: u64,
        ts: u32,
        clock_rate: u32,
        starts_keyframe: bool,
    ) -> Decision {
        let switched = if Some(src) == self.target && (!self.video || starts_keyframe) {
            self.switch_to(now, src, seq, ts, clock_rate);
            true
        } else if Some(src) == self.current {
            if seq < self.switch_in_seq {
                return Decision::Drop;
            }
            false
        } else {
            return Decision::Drop;
        };
        let out_seq = seq.wrapping_add(self.seq_offset);
        let out_ts = ts.wrapping_add(self.ts_offset);
        if self.last_out_seq.is_none_or(|l| out_seq > l) {
            self.last_out_seq = Some(out_seq);
            self.last_out_ts = out_ts;
            self.last_out_at = Some(now);
        }
        Decision::Forward {
            seq: out_seq,
            ts: out_ts,
            switched,
        }
    }

    fn switch_to(&mut self, now: Instant, src: TrackRef, seq: u64, ts: u32, clock_rate: u32) {
        let (next_seq, next_ts) = match (self.last_out_seq, self.last_out_at) {
            (Some(last_seq), Some(at)) => {
                // Advance the timestamp by the wall time since the last packet
                // we sent (at least one tick) so the receiver's jitter buffer
                // sees time move forward, not jump.
                let elapsed = now.saturating_duration_since(at);
                let ticks = (elapsed.as_secs_f64() * clock_rate as f64).round() as u32;
                (last_seq + 1, self.last_out_ts.wrapping_add(ticks.max(1)))
            }
            _ => (FIRST_OUT_SEQ, ts),
        };
        self.seq_offset = next_seq.wrapping_sub(seq);
        self.ts_offset = next_ts.wrapping_sub(ts);
        self.switch_in_seq = seq;
        self.current = Some(src);
        self.target = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tr(track: u32, layer: u8) -> TrackRef {
        TrackRef { track, layer }
    }

    #[test]
    fn first_video_packet_waits_for_keyframe() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(true);
        assert!(f.set_target(Some(tr(1, 0))));
        assert_eq!(
            f.on_packet(t0, tr(1, 0), 500, 9000, 90_000, false),
            Decision::Drop
        );
        let d = f.on_packet(t0, tr(1, 0), 501, 9000, 90_000, true);
        assert_eq!(
            d,
            Decision::Forward {
                seq: FIRST_OUT_SEQ,
                ts: 9000,
                switched: true
            }
        );
        assert_eq!(
            f.on_packet(t0, tr(1, 0), 502, 9000, 90_000, false),
            Decision::Forward {
                seq: FIRST_OUT_SEQ + 1,
                ts: 9000,
                switched: false
            }
        );
    }

    #[test]
    fn layer_switch_waits_for_keyframe_and_keeps_seq_ts_continuous() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(true);
        f.set_target(Some(tr(1, 2)));
        f.on_packet(t0, tr(1, 2), 100, 1_000, 90_000, true);
        f.on_packet(t0, tr(1, 2), 101, 1_000, 90_000, false);
        // Ask for the low layer: keep forwarding the high one until a keyframe.
        assert!(f.set_target(Some(tr(1, 0))));
        let t1 = t0 + Duration::from_millis(33);
        assert!(matches!(
            f.on_packet(t1, tr(1, 2), 102, 4_000, 90_000, false),
            Decision::Forward { seq, .. } if seq == FIRST_OUT_SEQ + 2
        ));
        assert_eq!(
            f.on_packet(t1, tr(1, 0), 7_000, 50_000, 90_000, false),
            Decision::Drop
        );
        let t2 = t1 + Duration::from_millis(33);
        let d = f.on_packet(t2, tr(1, 0), 7_001, 53_000, 90_000, true);
        // 33 ms at 90 kHz = 2970 ticks after the last forwarded timestamp.
        assert_eq!(
            d,
            Decision::Forward {
                seq: FIRST_OUT_SEQ + 3,
                ts: 4_000 + 2_970,
                switched: true
            }
        );
        // The old layer is no longer forwarded.
        assert_eq!(
            f.on_packet(t2, tr(1, 2), 103, 7_000, 90_000, true),
            Decision::Drop
        );
        assert_eq!(f.current(), Some(tr(1, 0)));
    }

    #[test]
    fn audio_switches_source_immediately_with_continuous_numbers() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(false);
        assert!(!f.set_target(Some(tr(3, 0))));
        f.on_packet(t0, tr(3, 0), 10, 960, 48_000, false);
        f.set_target(Some(tr(4, 0)));
        let d = f.on_packet(
            t0 + Duration::from_millis(20),
            tr(4, 0),
            60_000,
            1,
            48_000,
            false,
        );
        assert_eq!(
            d,
            Decision::Forward {
                seq: FIRST_OUT_SEQ + 1,
                ts: 960 + 960,
                switched: true
            }
        );
    }

    #[test]
    fn reordered_packet_from_before_switch_is_dropped() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(true);
        f.set_target(Some(tr(1, 0)));
        f.on_packet(t0, tr(1, 0), 200, 0, 90_000, true);
        assert_eq!(
            f.on_packet(t0, tr(1, 0), 199, 0, 90_000, false),
            Decision::Drop
        );
    }

    #[test]
    fn clearing_the_target_stops_forwarding() {
        let t0 = Instant::now();
        let mut f = Forwarder::new(false);
        f.set_target(Some(tr(1, 0)));
        f.on_packet(t0, tr(1, 0), 1, 0, 48_000, false);
        f.set_target(None);
        assert_eq!(
            f.on_packet(t0, tr(1, 0), 2, 960, 48_000, false),
            Decision::Drop
        );
    }
}
