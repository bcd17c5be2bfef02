//! What subscribers measure, per received track, and the analysis of one
//! measurement window.
//!
//! Definitions (also in load/README.md):
//! - **window**: packets whose *send* time (the probe trailer) falls in
//!   `[t0, t1]`, collected after a grace period, so late and repaired
//!   packets still count and joins/leaves outside the window do not.
//! - **loss**: holes in the SFU's rewritten sequence numbers between the
//!   lowest and highest received in the window (the forwarder keeps one
//!   continuous sequence per slot across layer switches, so a hole is a
//!   packet that never arrived, not even repaired by NACK/RTX in time).
//! - **one-way delay**: arrival (CLOCK_MONOTONIC, in the receive callback
//!   of webrtc-rs) minus the send time stamped right before the publisher
//!   handed the packet to its stack; first arrival of each sequence number.
//!   It includes both clients' stacks, not only the server.
//! - **jitter**: RFC 3550 §6.4.1 interarrival jitter over first arrivals,
//!   per track, averaged over tracks.
//! - **freeze**: a gap of more than 500 ms between the arrivals of two
//!   consecutive video frame starts (or a window with no frame at all);
//!   frozen time is the sum of those gaps.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// A video gap longer than this is a freeze (a viewer notices it).
pub const FREEZE_GAP_NS: u64 = 500_000_000;

#[derive(Clone, Copy, Debug)]
pub struct Rec {
    /// Unwrapped sequence number (filled in by [`TrackRecv::push`]).
    pub ext_seq: i64,
    pub seq: u16,
    /// Stream tag from the trailer (the publisher's layer SSRC), 0 if none.
    pub tag: u32,
    pub rtp_ts: u32,
    pub arrival_ns: u64,
    pub sent_ns: u64,
    pub frame_start: bool,
}

/// Everything one receive track got since the last [`TrackRecv::take`].
#[derive(Debug)]
pub struct TrackRecv {
    pub video: bool,
    last_ext: Option<i64>,
    pub records: Vec<Rec>,
    /// Packets ever received (never reset).
    pub total: u64,
    pub first_arrival_ns: Option<u64>,
    /// Payload bytes received (never reset).
    pub bytes: u64,
    /// Of those, RED redundancy (headers and older frames).
    pub redundancy_bytes: u64,
    /// Packets refilled from RED redundancy (never reset).
    pub recovered: u64,
}

pub type SharedTrack = Arc<Mutex<TrackRecv>>;

impl TrackRecv {
    pub fn new(video: bool) -> Self {
        Self {
            video,
            last_ext: None,
            records: Vec::new(),
            total: 0,
            first_arrival_ns: None,
            bytes: 0,
            redundancy_bytes: 0,
            recovered: 0,
        }
    }

    /// Whether `seq` is among the last packets received (a RED block for
    /// a packet that did arrive is not a recovery).
    pub fn has_recent(&self, seq: u16) -> bool {
        self.records.iter().rev().take(64).any(|r| r.seq == seq)
    }

    pub fn push(&mut self, mut rec: Rec) {
        let seq = rec.seq;
        let ext = match self.last_ext {
            None => seq as i64,
            Some(l) => l + (seq.wrapping_sub(l as u16) as i16) as i64,
        };
        // Keep the unwrap anchored on the highest seen, not on a late repair.
        if self.last_ext.is_none_or(|l| ext > l) {
            self.last_ext = Some(ext);
        }
        self.total += 1;
        self.first_arrival_ns.get_or_insert(rec.arrival_ns);
        rec.ext_seq = ext;
        self.records.push(rec);
    }

    pub fn take(&mut self) -> Vec<Rec> {
        std::mem::take(&mut self.records)
    }
}

/// Results of one kind (audio or video) over one window.
#[derive(Debug, Default, Clone, Serialize)]
pub struct KindResult {
    pub tracks: usize,
    /// Tracks with no packet in the window.
    pub empty_tracks: usize,
    pub received: u64,
    pub expected: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub loss_pct: f64,
    pub delay_p50_ms: f64,
    pub delay_p95_ms: f64,
    pub delay_p99_ms: f64,
    pub delay_max_ms: f64,
    pub jitter_mean_ms: f64,
    pub freezes: u64,
    pub frozen_ms: f64,
}

#[derive(Default)]
pub struct KindAcc {
    res: KindResult,
    delays_ns: Vec<u64>,
    jitter_sum_ms: f64,
    jitter_tracks: usize,
}

impl KindAcc {
    /// Add one track's records; `clock_hz` of its RTP timestamps.
    pub fn add_track(&mut self, recs: &[Rec], video: bool, t0: u64, t1: u64, clock_hz: f64) {
        self.res.tracks += 1;
        let mut seen = HashSet::new();
        let mut firsts: Vec<&Rec> = Vec::new();
        for r in recs.iter().filter(|r| r.sent_ns >= t0 && r.sent_ns <= t1) {
            if seen.insert(r.ext_seq) {
                firsts.push(r);
            } else {
                self.res.duplicates += 1;
            }
        }
        if firsts.is_empty() {
            self.res.empty_tracks += 1;
            if video {
                self.res.freezes += 1;
                self.res.frozen_ms += (t1 - t0) as f64 / 1e6;
            }
            return;
        }
        let lo = firsts.iter().map(|r| r.ext_seq).min().unwrap_or(0);
        let hi = firsts.iter().map(|r| r.ext_seq).max().unwrap_or(0);
        let expected = (hi - lo + 1) as u64;
        self.res.expected += expected;
        self.res.received += firsts.len() as u64;
        self.res.lost += expected.saturating_sub(firsts.len() as u64);
        for r in &firsts {
            self.delays_ns.push(r.arrival_ns.saturating_sub(r.sent_ns));
        }
        let mut by_arrival = firsts.clone();
        by_arrival.sort_by_key(|r| r.arrival_ns);
        let mut j = 0.0f64;
        for w in by_arrival.windows(2) {
            let arr = (w[1].arrival_ns as f64 - w[0].arrival_ns as f64) / 1e9;
            let ts = (w[1].rtp_ts.wrapping_sub(w[0].rtp_ts) as i32) as f64 / clock_hz;
            j += ((arr - ts).abs() - j) / 16.0;
        }
        self.jitter_sum_ms += j * 1e3;
        self.jitter_tracks += 1;
        if video {
            let starts: Vec<u64> = by_arrival
                .iter()
                .filter(|r| r.frame_start)
                .map(|r| r.arrival_ns)
                .collect();
            for w in starts.windows(2) {
                let gap = w[1] - w[0];
                if gap > FREEZE_GAP_NS {
                    self.res.freezes += 1;
                    self.res.frozen_ms += gap as f64 / 1e6;
                }
            }
        }
    }

    pub fn finish(mut self) -> KindResult {
        let r = &mut self.res;
        if r.expected > 0 {
            r.loss_pct = 100.0 * r.lost as f64 / r.expected as f64;
        }
        self.delays_ns.sort_unstable();
        let pct = |p: f64| -> f64 {
            let d = &self.delays_ns;
            if d.is_empty() {
                return 0.0;
            }
            let i = ((d.len() as f64 - 1.0) * p).round() as usize;
            d[i.min(d.len() - 1)] as f64 / 1e6
        };
        r.delay_p50_ms = pct(0.50);
        r.delay_p95_ms = pct(0.95);
        r.delay_p99_ms = pct(0.99);
        r.delay_max_ms = pct(1.0);
        if self.jitter_tracks > 0 {
            r.jitter_mean_ms = self.jitter_sum_ms / self.jitter_tracks as f64;
        }
        self.res
    }

    /// Delays of first arrivals, ns (for a combined percentile).
    pub fn delays(&self) -> &[u64] {
        &self.delays_ns
    }
}

/// Percentile `p` (0..=1) of unsorted samples, in ms.
pub fn percentile_ms(samples: &mut [u64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i.min(samples.len() - 1)] as f64 / 1e6
}

/// A Prometheus histogram's cumulative buckets on a `/metrics` page:
/// (upper bound in seconds, count at or below it), `+Inf` last.
pub fn histogram_buckets(page: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    page.lines()
        .filter_map(|l| {
            let (le, count) = l.strip_prefix(&prefix)?.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect()
}

/// Quantile `q` (0..=1) of what a histogram counted between two scrapes,
/// in ms: linear within the bucket it falls in, as Prometheus's
/// `histogram_quantile` reads it; the highest finite bound when it falls
/// above them all. `None` when nothing was counted in between.
pub fn histogram_quantile_ms(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> Option<f64> {
    let diff: Vec<(f64, f64)> = after
        .iter()
        .map(|&(le, n)| {
            let was = before.iter().find(|b| b.0 == le).map_or(0.0, |b| b.1);
            (le, (n - was).max(0.0))
        })
        .collect();
    let total = diff.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, n) in &diff {
        if n >= rank {
            if le.is_infinite() {
                return Some(lower.0 * 1e3);
            }
            let within = if n > lower.1 {
                (rank - lower.1) / (n - lower.1)
            } else {
                1.0
            };
            return Some((lower.0 + (le - lower.0) * within) * 1e3);
        }
        lower = (le, n);
    }
    Some(lower.0 * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histograms_quantile_is_read_from_the_counts_between_two_scrapes() {
        let page = |counts: [u64; 4]| {
            format!(
                "x_bucket{{le=\"0.001\"}} {}\nx_bucket{{le=\"0.002\"}} {}\nx_bucket{{le=\"0.005\"}} {}\nx_bucket{{le=\"+Inf\"}} {}\nx_count {}\n",
                counts[0], counts[1], counts[2], counts[3], counts[3]
            )
        };
        let before = histogram_buckets(&page([500, 500, 500, 500]), "x");
        assert_eq!(before.len(), 4);
        assert_eq!(before[3], (f64::INFINITY, 500.0));
        // In between: 50 at ≤ 1 ms, 50 in (1, 2] ms; nothing above.
        let after = histogram_buckets(&page([550, 600, 600, 600]), "x");
        let q = |q| histogram_quantile_ms(&before, &after, q).unwrap();
        assert!((q(0.5) - 1.0).abs() < 1e-9, "{}", q(0.5));
        assert!((q(0.75) - 1.5).abs() < 1e-9, "{}", q(0.75));
        assert!((q(0.25) - 0.5).abs() < 1e-9, "{}", q(0.25));
        // Above every finite bound: the highest one.
        let over = histogram_buckets(&page([550, 600, 600, 700]), "x");
        assert!((histogram_quantile_ms(&before, &over, 0.99).unwrap() - 5.0).abs() < 1e-9);
        assert_eq!(histogram_quantile_ms(&before, &before, 0.5), None);
        assert!(histogram_buckets("", "x").is_empty());
    }

    fn rec(seq: u16, rtp_ts: u32, arrival_ns: u64, sent_ns: u64, frame_start: bool) -> Rec {
        Rec {
            ext_seq: 0,
            seq,
            tag: 1,
            rtp_ts,
            arrival_ns,
            sent_ns,
            frame_start,
        }
    }

    #[test]
    fn holes_are_loss_and_gaps_are_freezes() {
        let mut t = TrackRecv::new(true);
        let ms = 1_000_000u64;
        // 10 frames 33 ms apart, seq 0..10 with 3 missing, then a 600 ms gap.
        for i in 0..10u16 {
            if i == 3 {
                continue;
            }
            let sent = 1000 * ms + i as u64 * 33 * ms;
            t.push(rec(i, i as u32 * 3000, sent + 5 * ms, sent, true));
        }
        let sent = 1000 * ms + 900 * ms;
        t.push(rec(10, 30_000, sent + 5 * ms, sent, true));
        let recs = t.take();
        let mut acc = KindAcc::default();
        acc.add_track(&recs, true, 0, u64::MAX, 90_000.0);
        let r = acc.finish();
        assert_eq!(r.expected, 11);
        assert_eq!(r.lost, 1);
        assert_eq!(r.freezes, 1);
        assert!((r.delay_p50_ms - 5.0).abs() < 1e-9);
    }

    #[test]
    fn sequence_wrap_is_unwrapped() {
        let mut t = TrackRecv::new(false);
        for (k, s) in [65534u16, 65535, 0, 1].into_iter().enumerate() {
            t.push(rec(s, k as u32 * 960, 10 + k as u64, 1 + k as u64, false));
        }
        let recs = t.take();
        let mut acc = KindAcc::default();
        acc.add_track(&recs, false, 0, u64::MAX, 48_000.0);
        let r = acc.finish();
        assert_eq!((r.expected, r.lost), (4, 0));
    }
}
