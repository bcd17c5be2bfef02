//! What a room's media was like, as the server sees it, for the report
//! after the meeting: how much of a publisher's audio arrived (after RED
//! refilled what it could) and how often its video stalled. Pure and
//! constant-size per track; counters are cumulative over the session, the
//! live room's `QualityLog` sums sessions of one endpoint.
//!
//! Both are measured on the way in, before the mute policy: most communes
//! sit muted by the hub for most of a meeting, and their link is exactly
//! what the yearly assessment asks about.

use std::time::{Duration, Instant};

/// Audio frames expected (by sequence number) and present, with a 64-frame
/// window so a late or recovered frame is counted once.
#[derive(Debug, Clone, Default)]
pub struct AudioContinuity {
    base: Option<u64>,
    highest: u64,
    /// Bit `d` set: frame `highest - d` was seen.
    seen: u64,
    received: u64,
}

impl AudioContinuity {
    /// A frame with extended sequence number `seq` is here (a packet's
    /// primary, or one refilled from the redundancy of a later packet).
    pub fn on_frame(&mut self, seq: u64) {
        let Some(base) = self.base else {
            self.base = Some(seq);
            self.highest = seq;
            self.seen = 1;
            self.received = 1;
            return;
        };
        if seq > self.highest {
            let shift = seq - self.highest;
            self.seen = if shift >= 64 { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.highest = seq;
            self.received += 1;
            return;
        }
        let d = self.highest - seq;
        // Older than the window (or before the first): already counted
        // missing, and a frame that late is useless to a listener anyway.
        if d >= 64 || seq < base {
            return;
        }
        if self.seen & (1 << d) == 0 {
            self.seen |= 1 << d;
            self.received += 1;
        }
    }

    pub fn expected(&self) -> u64 {
        self.base.map_or(0, |b| self.highest - b + 1)
    }

    /// Frames present, never more than expected.
    pub fn received(&self) -> u64 {
        self.received.min(self.expected())
    }
}

/// An interval this long without a new frame is the camera or the layer
/// stopping (the publisher paused it, the room turned its camera off), not
/// a picture that froze: the report would otherwise turn every camera-off
/// minute into one long "freeze".
pub const VIDEO_PAUSE: Duration = Duration::from_secs(5);
/// Frames needed before the average interval means anything.
const WARMUP_FRAMES: u32 = 10;
/// Weight of a new interval in the running average (about the last 30
/// frames, one second at 30 fps).
const AVG_WEIGHT: f64 = 1.0 / 32.0;

/// Video stalls of one published track: a frame interval longer than
/// three times the average and more than 150 ms above it — the freeze of
/// the WebRTC statistics specification (`freezeCount`), measured on
/// arrival at the server.
#[derive(Debug, Clone, Default)]
pub struct FreezeMeter {
    last_ts: Option<u32>,
    last_frame: Option<Instant>,
    frames: u32,
    avg_ms: f64,
    pub freezes: u32,
    pub freeze_ms: u64,
}

impl FreezeMeter {
    /// A packet with RTP timestamp `ts` arrived at `now`; a newer
    /// timestamp is a new frame.
    pub fn on_packet(&mut self, now: Instant, ts: u32) {
        // The same frame, or an older one (a retransmission): not news.
        if let Some(last) = self.last_ts
            && (ts == last || ts.wrapping_sub(last) > u32::MAX / 2)
        {
            return;
        }
        self.last_ts = Some(ts);
        let Some(prev) = self.last_frame.replace(now) else {
            return;
        };
        let gap = now.saturating_duration_since(prev);
        if gap >= VIDEO_PAUSE {
            // A new start: the average of before the pause may not hold.
            self.frames = 0;
            return;
        }
        let ms = gap.as_secs_f64() * 1000.0;
        if self.frames >= WARMUP_FRAMES && ms > (3.0 * self.avg_ms).max(self.avg_ms + 150.0) {
            self.freezes += 1;
            self.freeze_ms += ms as u64;
            return;
        }
        self.avg_ms = if self.frames == 0 {
            ms
        } else {
            self.avg_ms + (ms - self.avg_ms) * AVG_WEIGHT
        };
        self.frames = self.frames.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuity_counts_gaps_and_a_refilled_frame_once() {
        let mut c = AudioContinuity::default();
        for s in [100, 101, 103, 104] {
            c.on_frame(s);
        }
        assert_eq!((c.expected(), c.received()), (5, 4));
        // 102 refilled from redundancy, then the late original: once.
        c.on_frame(102);
        c.on_frame(102);
        assert_eq!((c.expected(), c.received()), (5, 5));
    }

    #[test]
    fn continuity_ignores_frames_older_than_its_window() {
        let mut c = AudioContinuity::default();
        c.on_frame(10);
        c.on_frame(200);
        c.on_frame(11);
        assert_eq!((c.expected(), c.received()), (191, 2));
    }

    fn feed(m: &mut FreezeMeter, t0: Instant, frames_ms: &[u64]) {
        for (i, at) in frames_ms.iter().enumerate() {
            m.on_packet(t0 + Duration::from_millis(*at), i as u32 * 3000);
        }
    }

    #[test]
    fn a_long_frame_interval_is_a_freeze_and_steady_frames_are_not() {
        let t0 = Instant::now();
        let mut m = FreezeMeter::default();
        let mut at: Vec<u64> = (0..60).map(|i| i * 33).collect();
        feed(&mut m, t0, &at);
        assert_eq!(m.freezes, 0);
        // 600 ms without a frame, then steady again.
        let last = *at.last().unwrap();
        at = (0..61)
            .map(|i| i * 33)
            .chain([last + 600, last + 633])
            .collect();
        let mut m = FreezeMeter::default();
        feed(&mut m, t0, &at);
        assert_eq!(m.freezes, 1);
        assert!((560..=640).contains(&m.freeze_ms), "{}", m.freeze_ms);
    }

    #[test]
    fn a_camera_pause_is_not_a_freeze() {
        let t0 = Instant::now();
        let mut m = FreezeMeter::default();
        let at: Vec<u64> = (0..30).map(|i| i * 33).chain([30_000, 30_033]).collect();
        feed(&mut m, t0, &at);
        assert_eq!(m.freezes, 0);
    }

    #[test]
    fn packets_of_one_frame_count_as_one_frame() {
        let t0 = Instant::now();
        let mut m = FreezeMeter::default();
        for i in 0..40u32 {
            for p in 0..3u64 {
                m.on_packet(t0 + Duration::from_millis(u64::from(i) * 33 + p), i * 3000);
            }
        }
        assert_eq!(m.frames, 39);
        assert!((m.avg_ms - 33.0).abs() < 1.0, "{}", m.avg_ms);
    }
}
