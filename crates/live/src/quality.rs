//! Link quality over a whole meeting, per endpoint: what the 2 s link
//! samples (`links`) add up to once the meeting ends — time connected,
//! loss, RTT and jitter medians and 95th percentiles (fixed histograms, so
//! a day-long meeting of 200 rooms costs the same memory as a short one),
//! and the media counters of its sessions: audio continuity, video
//! freezes, the stage layers it received.
//!
//! Pure: the caller passes each round of samples with the wall clock; the
//! summary is taken when the meeting ends and stored (`control::quality`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{LINK_SAMPLE_MS, LinkMeasure, MediaCounters};

/// Loss histogram: 0.1 % per bin up to 100 %.
const LOSS_BINS: usize = 1001;
/// RTT histogram: 5 ms per bin up to 5 s (anything slower is "5 s or more":
/// a link that slow has failed for a conference anyway).
const RTT_BIN_MS: u32 = 5;
const RTT_BINS: usize = 1001;
/// Jitter histogram: 1 ms per bin up to 500 ms (a jitter buffer that deep
/// is already a broken conversation).
const JITTER_BINS: usize = 501;
/// Sessions remembered per endpoint (each reconnection is one): a room
/// that flaps all day keeps its first ones' counters summed in `earlier`.
const SESSIONS_KEPT: usize = 16;

/// One endpoint's link over the meeting so far.
#[derive(Debug, Clone)]
struct Accumulated {
    samples: u32,
    first_unix_ms: i64,
    last_unix_ms: i64,
    kbps_in_sum: u64,
    loss: Vec<u32>,
    rtt: Vec<u32>,
    jitter: Vec<u32>,
    /// The latest counters of each of its sessions (cumulative per session).
    sessions: BTreeMap<u64, MediaCounters>,
    earlier: MediaCounters,
}

impl Accumulated {
    fn new(unix_ms: i64) -> Self {
        Accumulated {
            samples: 0,
            first_unix_ms: unix_ms,
            last_unix_ms: unix_ms,
            kbps_in_sum: 0,
            loss: vec![0; LOSS_BINS],
            rtt: vec![0; RTT_BINS],
            jitter: vec![0; JITTER_BINS],
            sessions: BTreeMap::new(),
            earlier: MediaCounters::default(),
        }
    }

    fn media(&self) -> MediaCounters {
        MediaCounters::total(self.sessions.values().chain([&self.earlier]))
    }
}

/// The bin at fraction `q` of a histogram's count.
fn quantile(h: &[u32], total: u32, q: f64) -> usize {
    if total == 0 {
        return 0;
    }
    let want = ((f64::from(total) * q).ceil() as u64).max(1);
    let mut seen = 0u64;
    for (i, n) in h.iter().enumerate() {
        seen += u64::from(*n);
        if seen >= want {
            return i;
        }
    }
    h.len() - 1
}

/// What one room's link was over a meeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QualitySummary {
    pub endpoint_id: String,
    /// Time with a connection, from the samples (one per 2 s).
    pub connected_ms: i64,
    /// First and last time it was seen connected (unix ms).
    pub first_connected_ms: i64,
    pub last_connected_ms: i64,
    pub samples: u32,
    /// Loss, the worse of the two directions, %.
    pub loss_p50_pct: f64,
    pub loss_p95_pct: f64,
    pub rtt_p50_ms: u32,
    pub rtt_p95_ms: u32,
    /// Mean of what the room sent, kbit/s.
    pub kbps_in_mean: u32,
    /// Drops and reconnections during the meeting (the roll call's count).
    pub drops: u32,
    /// Jitter of its audio at the server, ms.
    pub jitter_p50_ms: u32,
    pub jitter_p95_ms: u32,
    /// Its audio frames sent and arrived (after RED's refills): continuity
    /// is their ratio.
    pub audio_frames_expected: u64,
    pub audio_frames_received: u64,
    /// Stalls of its video on the way in, and their total length.
    pub video_freezes: u32,
    pub video_freeze_ms: u64,
    /// Time its stage showed the low, mid and high layer, ms.
    pub stage_layer_ms: [u64; 3],
}

impl QualitySummary {
    /// Share of its audio that arrived, % (`None`: it sent none).
    pub fn audio_continuity_pct(&self) -> Option<f64> {
        (self.audio_frames_expected > 0)
            .then(|| 100.0 * self.audio_frames_received as f64 / self.audio_frames_expected as f64)
    }

    /// Video freezes per minute connected.
    pub fn freezes_per_minute(&self) -> f64 {
        let minutes = self.connected_ms as f64 / 60_000.0;
        if minutes <= 0.0 {
            return 0.0;
        }
        f64::from(self.video_freezes) / minutes
    }
}

/// Every endpoint's accumulated link over the meeting.
#[derive(Debug, Clone, Default)]
pub struct QualityLog {
    by_endpoint: BTreeMap<String, Accumulated>,
}

impl QualityLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// One round of samples (the endpoints connected now), at `unix_ms`.
    pub fn add(&mut self, unix_ms: i64, measures: &[LinkMeasure]) {
        for m in measures {
            let a = self
                .by_endpoint
                .entry(m.endpoint_id.clone())
                .or_insert_with(|| Accumulated::new(unix_ms));
            a.samples = a.samples.saturating_add(1);
            a.last_unix_ms = unix_ms;
            a.kbps_in_sum += m.bitrate_in_bps / 1000;
            let loss = m.loss_in_permille.max(m.loss_out_permille).min(1000) as usize;
            a.loss[loss] += 1;
            let rtt = ((m.rtt_ms / RTT_BIN_MS) as usize).min(RTT_BINS - 1);
            a.rtt[rtt] += 1;
            a.jitter[(m.jitter_ms as usize).min(JITTER_BINS - 1)] += 1;
            a.sessions.insert(m.session, m.media);
            if a.sessions.len() > SESSIONS_KEPT
                && let Some((_, oldest)) = a.sessions.pop_first()
            {
                a.earlier = MediaCounters::total([&a.earlier, &oldest]);
            }
        }
    }

    /// The summary per endpoint, with each one's drop count.
    pub fn summary(&self, drops: &BTreeMap<String, u32>) -> Vec<QualitySummary> {
        self.by_endpoint
            .iter()
            .map(|(id, a)| (id, a, a.media()))
            .map(|(id, a, media)| QualitySummary {
                endpoint_id: id.clone(),
                connected_ms: i64::from(a.samples) * LINK_SAMPLE_MS as i64,
                first_connected_ms: a.first_unix_ms,
                last_connected_ms: a.last_unix_ms,
                samples: a.samples,
                loss_p50_pct: quantile(&a.loss, a.samples, 0.5) as f64 / 10.0,
                loss_p95_pct: quantile(&a.loss, a.samples, 0.95) as f64 / 10.0,
                rtt_p50_ms: quantile(&a.rtt, a.samples, 0.5) as u32 * RTT_BIN_MS,
                rtt_p95_ms: quantile(&a.rtt, a.samples, 0.95) as u32 * RTT_BIN_MS,
                kbps_in_mean: u32::try_from(a.kbps_in_sum / u64::from(a.samples.max(1)))
                    .unwrap_or(u32::MAX),
                drops: drops.get(id).copied().unwrap_or(0),
                jitter_p50_ms: quantile(&a.jitter, a.samples, 0.5) as u32,
                jitter_p95_ms: quantile(&a.jitter, a.samples, 0.95) as u32,
                audio_frames_expected: media.audio_expected,
                audio_frames_received: media.audio_received,
                video_freezes: media.video_freezes,
                video_freeze_ms: media.video_freeze_ms,
                stage_layer_ms: media.stage_layer_ms,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(e: &str, loss_permille: u32, rtt_ms: u32) -> LinkMeasure {
        LinkMeasure {
            endpoint_id: e.into(),
            bitrate_in_bps: 800_000,
            loss_in_permille: loss_permille,
            loss_out_permille: 0,
            rtt_ms,
            bwe_bps: 1_000_000,
            ..Default::default()
        }
    }

    #[test]
    fn a_meetings_samples_add_up_to_time_connected_and_percentiles() {
        let mut q = QualityLog::new();
        // x1: 100 samples, 95 clean at 40 ms, 5 at 20 % loss and 900 ms.
        for i in 0..100 {
            let bad = i >= 95;
            q.add(
                1_000_000 + i * 2_000,
                &[m(
                    "x1",
                    if bad { 200 } else { 0 },
                    if bad { 900 } else { 40 },
                )],
            );
        }
        q.add(1_300_000, &[m("x2", 30, 9_000)]);
        let drops = BTreeMap::from([("x1".to_string(), 2)]);
        let s = q.summary(&drops);
        assert_eq!(s.len(), 2);
        let x1 = &s[0];
        assert_eq!((x1.samples, x1.connected_ms), (100, 200_000));
        assert_eq!(
            (x1.first_connected_ms, x1.last_connected_ms),
            (1_000_000, 1_198_000)
        );
        assert_eq!((x1.loss_p50_pct, x1.loss_p95_pct), (0.0, 0.0));
        assert_eq!((x1.rtt_p50_ms, x1.rtt_p95_ms), (40, 40));
        assert_eq!((x1.kbps_in_mean, x1.drops), (800, 2));
        let x2 = &s[1];
        assert_eq!((x2.loss_p95_pct, x2.rtt_p95_ms, x2.drops), (3.0, 5_000, 0));
    }

    #[test]
    fn the_95th_percentile_sees_the_worst_twentieth() {
        let mut q = QualityLog::new();
        for i in 0..100 {
            q.add(i, &[m("x", if i < 90 { 0 } else { 100 }, 50)]);
        }
        let s = &q.summary(&BTreeMap::new())[0];
        assert_eq!((s.loss_p50_pct, s.loss_p95_pct), (0.0, 10.0));
    }

    fn counted(e: &str, session: u64, expected: u64, received: u64, freezes: u32) -> LinkMeasure {
        LinkMeasure {
            session,
            jitter_ms: 12,
            media: MediaCounters {
                audio_expected: expected,
                audio_received: received,
                video_freezes: freezes,
                video_freeze_ms: u64::from(freezes) * 400,
                stage_layer_ms: [1_000, 0, 9_000],
            },
            ..m(e, 0, 40)
        }
    }

    #[test]
    fn a_reconnected_rooms_sessions_add_up_and_a_session_counts_once() {
        let mut q = QualityLog::new();
        // Session 1 reports twice (cumulative), then the room reconnects.
        q.add(0, &[counted("x", 1, 500, 490, 1)]);
        q.add(2_000, &[counted("x", 1, 1_000, 980, 2)]);
        q.add(4_000, &[counted("x", 2, 1_000, 1_000, 0)]);
        let s = &q.summary(&BTreeMap::new())[0];
        assert_eq!(
            (s.audio_frames_expected, s.audio_frames_received),
            (2_000, 1_980)
        );
        assert_eq!(s.audio_continuity_pct(), Some(99.0));
        assert_eq!((s.video_freezes, s.video_freeze_ms), (2, 800));
        assert_eq!(s.stage_layer_ms, [2_000, 0, 18_000]);
        assert_eq!((s.jitter_p50_ms, s.jitter_p95_ms), (12, 12));
        // Three samples of 2 s: 6 s connected, two freezes is 20 a minute.
        assert!((s.freezes_per_minute() - 20.0).abs() < 1e-9);
    }

    #[test]
    fn a_room_that_reconnects_all_day_keeps_its_counters_in_bounded_memory() {
        let mut q = QualityLog::new();
        for session in 0..100u64 {
            q.add(session as i64 * 2_000, &[counted("x", session, 10, 9, 1)]);
        }
        assert_eq!(q.by_endpoint["x"].sessions.len(), SESSIONS_KEPT);
        let s = &q.summary(&BTreeMap::new())[0];
        assert_eq!(
            (s.audio_frames_expected, s.audio_frames_received),
            (1_000, 900)
        );
        assert_eq!(s.video_freezes, 100);
    }
}
