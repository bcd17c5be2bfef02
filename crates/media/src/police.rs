//! Inbound budget of a relay: a token bucket over bytes.
//!
//! A relay link stands for a whole node below; its sender caps what it
//! forwards to the link's budget, so a relay that sends far more is
//! misbehaving (or compromised) and must not flood this node's rooms.
//! Packets beyond the budget are dropped and counted.

use std::time::Instant;

/// Room above the budget for what a well-behaved relay really sends:
/// RTP headers, RTCP, a keyframe now and then.
pub const HEADROOM: f64 = 1.25;
/// The bucket holds this many seconds of budget: a keyframe burst passes.
pub const DEPTH_SECS: f64 = 1.0;

#[derive(Debug, Clone)]
pub struct Policer {
    bytes_per_sec: f64,
    depth: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl Policer {
    /// A budget of `kbps` kbit/s.
    pub fn new(kbps: u32) -> Policer {
        let bytes_per_sec = f64::from(kbps) * 1000.0 / 8.0 * HEADROOM;
        let depth = bytes_per_sec * DEPTH_SECS;
        Policer {
            bytes_per_sec,
            depth,
            tokens: depth,
            last: None,
        }
    }

    /// May a packet of `bytes` pass at `now`? Takes its tokens if so.
    pub fn allow(&mut self, now: Instant, bytes: usize) -> bool {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.bytes_per_sec).min(self.depth);
        }
        self.last = Some(now);
        let b = bytes as f64;
        if self.tokens >= b {
            self.tokens -= b;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Bytes let through when `offered_kbps` is sent for `secs` in 1200-byte packets.
    fn passed(budget_kbps: u32, offered_kbps: u32, secs: u64) -> u64 {
        let mut p = Policer::new(budget_kbps);
        let t0 = Instant::now();
        let per_packet = 1200u64;
        let packets = u64::from(offered_kbps) * 1000 / 8 * secs / per_packet;
        let step = Duration::from_secs(secs).as_nanos() as u64 / packets;
        (0..packets)
            .filter(|i| p.allow(t0 + Duration::from_nanos(i * step), per_packet as usize))
            .count() as u64
            * per_packet
    }

    #[test]
    fn a_relay_within_its_budget_loses_nothing() {
        let offered = 1_500u64 * 1000 / 8 * 10 / 1200 * 1200;
        assert_eq!(passed(2_000, 1_500, 10), offered);
    }

    #[test]
    fn a_flooding_relay_is_held_to_its_budget_with_headroom() {
        // Ten times the budget for 10 s: what passes is the budget plus
        // headroom plus one bucket, not more.
        let got_kbps = passed(1_000, 10_000, 10) as f64 * 8.0 / 1000.0 / 10.0;
        assert!(
            got_kbps <= 1_000.0 * HEADROOM * 1.11,
            "{got_kbps} kbit/s passed"
        );
        assert!(got_kbps >= 1_000.0, "{got_kbps} kbit/s passed");
    }

    #[test]
    fn a_keyframe_burst_passes_the_bucket() {
        let mut p = Policer::new(1_000);
        let t = Instant::now();
        // 100 KiB at once: well under one second of a 1 Mbit/s budget.
        assert!((0..85).all(|_| p.allow(t, 1200)));
    }
}
