//! Link quality per endpoint, from the engine's own measurements: a ring of
//! the last five minutes of samples and degrade/recover alerts with
//! hysteresis (three bad samples in a row to degrade, three good ones to
//! recover), so one bad second does not flash an alert on the wall.
//!
//! Pure like the rest of `control::live`: the caller samples the engine
//! every [`LINK_SAMPLE_MS`], names each measurement's endpoint and passes
//! the clock in; the answers are the samples to publish and the alerts.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// How often the engine is sampled.
pub const LINK_SAMPLE_MS: u64 = 2_000;
/// How much history each endpoint keeps.
pub const LINK_WINDOW_MS: u64 = 300_000;
/// A sample is bad above this loss (either direction), per mille (5 %).
pub const DEGRADED_LOSS_PERMILLE: u32 = 50;
/// A sample is bad above this round-trip time.
pub const DEGRADED_RTT_MS: u32 = 400;
/// Consecutive samples that turn a link degraded, or back.
pub const HYSTERESIS_SAMPLES: u32 = 3;

/// One endpoint's link, as the engine measured it now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkMeasure {
    pub endpoint_id: String,
    /// What the endpoint sends us, bit/s.
    pub bitrate_in_bps: u64,
    pub loss_in_permille: u32,
    pub loss_out_permille: u32,
    pub rtt_ms: u32,
    pub bwe_bps: u64,
    /// The media session it came from (a reconnection is a new one, its
    /// counters start again) and what that session counted so far.
    pub session: u64,
    pub jitter_ms: u32,
    pub media: MediaCounters,
}

/// A session's cumulative media counters (`media::ParticipantStats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaCounters {
    pub audio_expected: u64,
    pub audio_received: u64,
    pub video_freezes: u32,
    pub video_freeze_ms: u64,
    /// Time its stage showed the low, mid and high layer, ms.
    pub stage_layer_ms: [u64; 3],
}

impl MediaCounters {
    fn add(&mut self, o: &MediaCounters) {
        self.audio_expected += o.audio_expected;
        self.audio_received += o.audio_received;
        self.video_freezes += o.video_freezes;
        self.video_freeze_ms += o.video_freeze_ms;
        for (a, b) in self.stage_layer_ms.iter_mut().zip(o.stage_layer_ms) {
            *a += b;
        }
    }

    /// The sum over sessions.
    pub fn total<'a>(all: impl IntoIterator<Item = &'a MediaCounters>) -> MediaCounters {
        let mut t = MediaCounters::default();
        for c in all {
            t.add(c);
        }
        t
    }
}

/// One sample of one endpoint's link.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LinkSample {
    /// The live clock (as `now_ms` in the snapshot).
    pub t_ms: u64,
    /// Received from the endpoint, kbit/s.
    pub kbps_in: u32,
    /// Lost on the way to us, %.
    pub loss_in_pct: f32,
    /// Lost on the way to the endpoint (its receiver reports), %.
    pub loss_out_pct: f32,
    pub rtt_ms: u32,
    /// Bandwidth estimate towards the endpoint, kbit/s.
    pub bwe_kbps: u32,
}

impl LinkSample {
    fn from_measure(t_ms: u64, m: &LinkMeasure) -> Self {
        let pct = |permille: u32| permille.min(1000) as f32 / 10.0;
        LinkSample {
            t_ms,
            kbps_in: u32::try_from(m.bitrate_in_bps / 1000).unwrap_or(u32::MAX),
            loss_in_pct: pct(m.loss_in_permille),
            loss_out_pct: pct(m.loss_out_permille),
            rtt_ms: m.rtt_ms,
            bwe_kbps: u32::try_from(m.bwe_bps / 1000).unwrap_or(u32::MAX),
        }
    }
}

/// A link crossed the threshold for [`HYSTERESIS_SAMPLES`] samples.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkAlert {
    /// Bad for three samples: the worst loss (either direction, %) and the
    /// RTT of the last one.
    Degraded {
        endpoint_id: String,
        loss_pct: f32,
        rtt_ms: u32,
    },
    /// Good again for three samples, or gone (`connected: false`: its
    /// connection dropped, which the wall shows on its own).
    Recovered {
        endpoint_id: String,
        connected: bool,
    },
}

/// One endpoint's history, as `GET …/live/links` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EndpointLinks {
    pub endpoint_id: String,
    pub degraded: bool,
    /// Oldest first, one per [`LINK_SAMPLE_MS`] while connected.
    pub samples: Vec<LinkSample>,
}

/// Every endpoint's link history of one meeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LinksView {
    pub now_ms: u64,
    pub interval_ms: u64,
    pub window_ms: u64,
    pub endpoints: Vec<EndpointLinks>,
}

#[derive(Debug, Default)]
struct Ring {
    samples: VecDeque<LinkSample>,
    degraded: bool,
    /// Consecutive samples on the other side of the threshold from `degraded`.
    run: u32,
}

/// Link history and alert state of every endpoint of one meeting.
#[derive(Debug, Default)]
pub struct LinkMonitor {
    rings: BTreeMap<String, Ring>,
}

/// Whether one sample counts against the link.
pub fn is_bad(m: &LinkMeasure) -> bool {
    m.loss_in_permille.max(m.loss_out_permille) > DEGRADED_LOSS_PERMILLE
        || m.rtt_ms > DEGRADED_RTT_MS
}

impl LinkMonitor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Take one round of measurements (connected endpoints only) at `now_ms`:
    /// the samples to publish, in endpoint order, and the alerts.
    pub fn sample(
        &mut self,
        now_ms: u64,
        measures: &[LinkMeasure],
    ) -> (Vec<(String, LinkSample)>, Vec<LinkAlert>) {
        let mut out = Vec::with_capacity(measures.len());
        let mut alerts = Vec::new();
        for m in measures {
            let ring = self.rings.entry(m.endpoint_id.clone()).or_default();
            let sample = LinkSample::from_measure(now_ms, m);
            ring.samples.push_back(sample);
            let bad = is_bad(m);
            if bad == ring.degraded {
                ring.run = 0;
            } else {
                ring.run += 1;
                if ring.run >= HYSTERESIS_SAMPLES {
                    ring.degraded = bad;
                    ring.run = 0;
                    alerts.push(if bad {
                        LinkAlert::Degraded {
                            endpoint_id: m.endpoint_id.clone(),
                            loss_pct: sample.loss_in_pct.max(sample.loss_out_pct),
                            rtt_ms: m.rtt_ms,
                        }
                    } else {
                        LinkAlert::Recovered {
                            endpoint_id: m.endpoint_id.clone(),
                            connected: true,
                        }
                    });
                }
            }
            out.push((m.endpoint_id.clone(), sample));
        }
        // Endpoints not measured this round are not connected: their runs
        // start over, and a degraded one is cleared (its tile says why).
        for (id, ring) in self.rings.iter_mut() {
            if measures.iter().any(|m| &m.endpoint_id == id) {
                continue;
            }
            ring.run = 0;
            if ring.degraded {
                ring.degraded = false;
                alerts.push(LinkAlert::Recovered {
                    endpoint_id: id.clone(),
                    connected: false,
                });
            }
        }
        let oldest = now_ms.saturating_sub(LINK_WINDOW_MS);
        for ring in self.rings.values_mut() {
            while ring.samples.front().is_some_and(|s| s.t_ms < oldest) {
                ring.samples.pop_front();
            }
        }
        self.rings
            .retain(|_, r| !r.samples.is_empty() || r.degraded);
        (out, alerts)
    }

    /// Whether an endpoint's link is degraded now.
    pub fn degraded(&self, endpoint_id: &str) -> bool {
        self.rings.get(endpoint_id).is_some_and(|r| r.degraded)
    }

    /// Every endpoint's ring.
    pub fn view(&self, now_ms: u64) -> LinksView {
        LinksView {
            now_ms,
            interval_ms: LINK_SAMPLE_MS,
            window_ms: LINK_WINDOW_MS,
            endpoints: self
                .rings
                .iter()
                .map(|(id, r)| EndpointLinks {
                    endpoint_id: id.clone(),
                    degraded: r.degraded,
                    samples: r.samples.iter().copied().collect(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, loss_permille: u32, rtt_ms: u32) -> LinkMeasure {
        LinkMeasure {
            endpoint_id: id.into(),
            bitrate_in_bps: 800_000,
            loss_in_permille: 0,
            loss_out_permille: loss_permille,
            rtt_ms,
            bwe_bps: 1_500_000,
            ..Default::default()
        }
    }

    /// Feed `rounds` one per sample interval from `t`, returning the alerts.
    fn feed(mon: &mut LinkMonitor, t: &mut u64, rounds: &[Vec<LinkMeasure>]) -> Vec<LinkAlert> {
        let mut all = Vec::new();
        for r in rounds {
            *t += LINK_SAMPLE_MS;
            all.extend(mon.sample(*t, r).1);
        }
        all
    }

    #[test]
    fn a_link_degrades_after_three_bad_samples_in_a_row_and_recovers_after_three_good_ones() {
        let mut mon = LinkMonitor::new();
        let mut t = 0;
        // Two bad samples, a good one, two bad: never three in a row.
        let alerts = feed(
            &mut mon,
            &mut t,
            &[
                vec![m("a", 70, 20)],
                vec![m("a", 70, 20)],
                vec![m("a", 10, 20)],
                vec![m("a", 70, 20)],
                vec![m("a", 0, 450)],
            ],
        );
        assert!(alerts.is_empty(), "{alerts:?}");
        assert!(!mon.degraded("a"));
        // Exactly 5 % and 400 ms are not bad; the third bad one in a row is.
        assert!(!is_bad(&m("a", 50, 400)));
        let alerts = feed(&mut mon, &mut t, &[vec![m("a", 70, 20)]]);
        assert_eq!(
            alerts,
            vec![LinkAlert::Degraded {
                endpoint_id: "a".into(),
                loss_pct: 7.0,
                rtt_ms: 20
            }]
        );
        assert!(mon.degraded("a"));
        // Still bad: no second alert. Two good, one bad, two good: stays.
        let alerts = feed(
            &mut mon,
            &mut t,
            &[
                vec![m("a", 90, 20)],
                vec![m("a", 0, 20)],
                vec![m("a", 0, 20)],
                vec![m("a", 0, 500)],
                vec![m("a", 0, 20)],
                vec![m("a", 0, 20)],
            ],
        );
        assert!(alerts.is_empty(), "{alerts:?}");
        assert!(mon.degraded("a"));
        let alerts = feed(&mut mon, &mut t, &[vec![m("a", 50, 400)]]);
        assert_eq!(
            alerts,
            vec![LinkAlert::Recovered {
                endpoint_id: "a".into(),
                connected: true
            }]
        );
        assert!(!mon.degraded("a"));
    }

    #[test]
    fn links_are_judged_per_endpoint_and_a_degraded_one_that_drops_is_cleared() {
        let mut mon = LinkMonitor::new();
        let mut t = 0;
        let bad_a = vec![m("a", 0, 20), m("b", 200, 20)];
        let alerts = feed(&mut mon, &mut t, &[bad_a.clone(), bad_a.clone(), bad_a]);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert!(mon.degraded("b") && !mon.degraded("a"));
        // b's connection drops: not measured any more.
        let alerts = feed(&mut mon, &mut t, &[vec![m("a", 0, 20)]]);
        assert_eq!(
            alerts,
            vec![LinkAlert::Recovered {
                endpoint_id: "b".into(),
                connected: false
            }]
        );
        // Back and bad again: three more samples before a new alert.
        let alerts = feed(
            &mut mon,
            &mut t,
            &[vec![m("b", 200, 20)], vec![m("b", 200, 20)]],
        );
        assert!(alerts.is_empty(), "{alerts:?}");
    }

    #[test]
    fn the_ring_keeps_five_minutes_of_samples_in_order() {
        let mut mon = LinkMonitor::new();
        let mut t = 0;
        let rounds: Vec<Vec<LinkMeasure>> = (0..400).map(|_| vec![m("a", 0, 30)]).collect();
        feed(&mut mon, &mut t, &rounds);
        let view = mon.view(t);
        let ring = &view.endpoints[0].samples;
        assert_eq!(ring.len() as u64, LINK_WINDOW_MS / LINK_SAMPLE_MS + 1);
        assert_eq!(ring.last().map(|s| s.t_ms), Some(t));
        assert!(ring.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
        assert_eq!(ring[0].kbps_in, 800);
        assert_eq!(ring[0].bwe_kbps, 1500);
        assert_eq!(ring[0].rtt_ms, 30);
    }
}
