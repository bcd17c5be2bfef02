//! Active-speaker detection from the RFC 6464 audio-level header extension.
//!
//! Levels arrive per packet as -dBov (0 = loudest, 127 = silence). Each
//! participant's loudness is smoothed; the active speaker changes only when
//! a challenger is clearly louder for long enough (hysteresis), so the stage
//! and the speaker slot do not flap between two people talking at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::SourceId;

/// Levels louder than this (in -dBov) count as speech; quieter is room noise.
const SPEECH_LEVEL_DBOV: u8 = 55;
/// Evaluation interval: long enough to average a few 20 ms audio frames.
pub const EVAL_INTERVAL: Duration = Duration::from_millis(250);
/// Smoothing factor per evaluation (higher reacts faster).
const SMOOTHING: f32 = 0.4;
/// A challenger must be this much louder (loudness units, ~dB) ...
const SWITCH_MARGIN: f32 = 6.0;
/// ... for this many consecutive evaluations (= 750 ms) to take over.
const SWITCH_EVALS: u32 = 3;
/// Silence for this long releases the floor to whoever speaks next.
const SILENCE_RELEASE: Duration = Duration::from_millis(1500);

#[derive(Debug, Default, Clone)]
struct Level {
    /// Sum and count of loudness samples since the last evaluation.
    sum: f32,
    n: u32,
    /// Smoothed loudness: 0 = silent, up to ~72 for full scale speech.
    smoothed: f32,
    last_speech: Option<Instant>,
}

/// Generic over what it tells apart (the engine's [`SourceId`]): it only
/// compares loudness, and ranks ties by id so every engine agrees.
#[derive(Debug)]
pub struct SpeakerDetector<K = SourceId> {
    levels: HashMap<K, Level>,
    active: Option<K>,
    challenger: Option<(K, u32)>,
    last_eval: Option<Instant>,
}

impl<K> Default for SpeakerDetector<K> {
    fn default() -> Self {
        SpeakerDetector {
            levels: HashMap::new(),
            active: None,
            challenger: None,
            last_eval: None,
        }
    }
}

impl<K: Copy + Eq + Ord + std::hash::Hash> SpeakerDetector<K> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn active(&self) -> Option<K> {
        self.active
    }

    /// Feed one packet's audio level (-dBov).
    pub fn handle_level(&mut self, now: Instant, who: K, level_dbov: u8) {
        let level = level_dbov.min(127);
        let loudness = (SPEECH_LEVEL_DBOV.saturating_sub(level)) as f32;
        let e = self.levels.entry(who).or_default();
        e.sum += loudness;
        e.n += 1;
        if level <= SPEECH_LEVEL_DBOV {
            e.last_speech = Some(now);
        }
    }

    /// Forget every source `gone` picks (a participant that left, with
    /// the extra voices its relay carried).
    pub fn remove_where(&mut self, gone: impl Fn(K) -> bool) {
        self.levels.retain(|k, _| !gone(*k));
        if self.active.is_some_and(&gone) {
            self.active = None;
        }
        if self.challenger.is_some_and(|(c, _)| gone(c)) {
            self.challenger = None;
        }
    }

    /// Participants ranked loudest first: recent speakers by smoothed
    /// loudness, then everyone else heard (quiet rooms) by id.
    pub fn ranked(&self, now: Instant) -> Vec<K> {
        let recent = |l: &Level| l.last_speech.is_some_and(|t| now - t < SILENCE_RELEASE * 4);
        let mut v: Vec<(K, f32)> = self
            .levels
            .iter()
            .map(|(p, l)| (*p, if recent(l) { 1000.0 + l.smoothed } else { 0.0 }))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().map(|(p, _)| p).collect()
    }

    /// Run an evaluation when due. Returns the new active speaker when it changed.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Option<K>> {
        if self.last_eval.is_some_and(|t| now - t < EVAL_INTERVAL) {
            return None;
        }
        self.last_eval = Some(now);
        for l in self.levels.values_mut() {
            let avg = if l.n > 0 { l.sum / l.n as f32 } else { 0.0 };
            l.smoothed += SMOOTHING * (avg - l.smoothed);
            l.sum = 0.0;
            l.n = 0;
        }
        let speaking = |l: &Level| l.last_speech.is_some_and(|t| now - t < SILENCE_RELEASE);
        let loudest = self
            .levels
            .iter()
            .filter(|(_, l)| speaking(l))
            .max_by(|a, b| a.1.smoothed.total_cmp(&b.1.smoothed).then(b.0.cmp(a.0)))
            .map(|(p, l)| (*p, l.smoothed));
        let previous = self.active;
        let current = self
            .active
            .and_then(|a| self.levels.get(&a).map(|l| (a, l)));
        match (current, loudest) {
            (_, None) => {
                self.challenger = None;
                // Nobody speaks: keep the last speaker shown until they have
                // been silent long enough, then release.
                if current.is_some_and(|(_, l)| !speaking(l)) {
                    self.active = None;
                }
            }
            (None, Some((p, _))) => {
                self.active = Some(p);
                self.challenger = None;
            }
            (Some((a, al)), Some((p, ps))) => {
                if p == a {
                    self.challenger = None;
                } else if !speaking(al) {
                    self.active = Some(p);
                    self.challenger = None;
                } else if ps > al.smoothed + SWITCH_MARGIN {
                    let n = match self.challenger {
                        Some((c, n)) if c == p => n + 1,
                        _ => 1,
                    };
                    if n >= SWITCH_EVALS {
                        self.active = Some(p);
                        self.challenger = None;
                    } else {
                        self.challenger = Some((p, n));
                    }
                } else {
                    self.challenger = None;
                }
            }
        }
        (self.active != previous).then_some(self.active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParticipantId;

    /// Feed 20 ms packets for `ms` with the given levels, evaluating as we go.
    fn run(
        d: &mut SpeakerDetector<ParticipantId>,
        start: Instant,
        ms: u64,
        levels: &[(ParticipantId, u8)],
    ) -> (Instant, Vec<Option<ParticipantId>>) {
        let mut changes = vec![];
        let mut t = start;
        for _ in 0..ms / 20 {
            t += Duration::from_millis(20);
            for &(p, l) in levels {
                d.handle_level(t, p, l);
            }
            if let Some(c) = d.handle_timeout(t) {
                changes.push(c);
            }
        }
        (t, changes)
    }

    #[test]
    fn loud_speaker_becomes_active() {
        let mut d = SpeakerDetector::new();
        let (_, ch) = run(&mut d, Instant::now(), 1000, &[(1, 100), (2, 20)]);
        assert_eq!(d.active(), Some(2));
        assert_eq!(ch, vec![Some(2)]);
    }

    #[test]
    fn speaker_does_not_flap_between_two_similar_voices() {
        let mut d = SpeakerDetector::new();
        let (t, _) = run(&mut d, Instant::now(), 1000, &[(1, 30)]);
        // Two voices alternating a few dB apart every 100 ms for 10 s.
        let mut changes = 0;
        let mut t = t;
        for i in 0..100 {
            let (a, b) = if i % 2 == 0 { (28, 32) } else { (33, 27) };
            let (nt, ch) = run(&mut d, t, 100, &[(1, a), (2, b)]);
            t = nt;
            changes += ch.len();
        }
        assert_eq!(changes, 0, "active speaker flapped");
        assert_eq!(d.active(), Some(1));
    }

    #[test]
    fn clearly_louder_challenger_takes_over_after_dwell() {
        let mut d = SpeakerDetector::new();
        let (t, _) = run(&mut d, Instant::now(), 1000, &[(1, 40)]);
        // 2 is much louder; a single short burst is not enough ...
        let (t, ch) = run(&mut d, t, 250, &[(1, 40), (2, 10)]);
        assert!(ch.is_empty());
        // ... but sustained speech is.
        let (_, ch) = run(&mut d, t, 1500, &[(1, 40), (2, 10)]);
        assert_eq!(ch, vec![Some(2)]);
    }

    #[test]
    fn silence_releases_the_active_speaker() {
        let mut d = SpeakerDetector::new();
        let (t, _) = run(&mut d, Instant::now(), 1000, &[(1, 20)]);
        let (_, ch) = run(&mut d, t, 3000, &[(1, 127)]);
        assert_eq!(ch, vec![None]);
        assert_eq!(d.active(), None);
    }

    #[test]
    fn ranking_orders_by_loudness() {
        let mut d = SpeakerDetector::new();
        let (t, _) = run(
            &mut d,
            Instant::now(),
            1000,
            &[(1, 50), (2, 10), (3, 30), (4, 127)],
        );
        assert_eq!(d.ranked(t), vec![2, 3, 1, 4]);
    }
}
