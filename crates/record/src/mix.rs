//! The program's mixed audio, sans-IO: Opus packets of several sources in,
//! one mono Opus stream out (48 kHz, 20 ms frames).
//!
//! Who is heard: the sources the caller forces (the stage holder) plus the
//! `loudest` others by their RFC 6464 level, with a little hysteresis so two
//! rooms of equal loudness do not flap. Only those are decoded: a province
//! meeting has ~150 sources and most are quiet rooms, so the mix costs a few
//! decoders, not 150. A source without a level extension is decoded and
//! ranked by the loudness of its samples.
//!
//! Time: each source's packets are placed by their RTP timestamps from an
//! anchor taken at its first packet (its arrival time on the caller's
//! clock), so network jitter does not move samples; the output waits
//! `latency_ms` behind the caller's clock for late packets. A source whose
//! clock drifts behind the output, or jumps, is re-anchored at its arrival.
//! Lost packets leave silence in that source only.
//!
//! Nothing here panics on input bytes: a packet the decoder refuses is
//! counted in [`MixStats::malformed`] and dropped.

use std::collections::HashMap;

/// Samples per millisecond at 48 kHz.
const PER_MS: u64 = 48;
/// One output frame: 20 ms.
pub const FRAME_SAMPLES: usize = 960;
/// The longest Opus packet decodes to 120 ms.
const MAX_PACKET_SAMPLES: usize = 5_760;
/// A packet further ahead of the output than this is a clock jump.
const MAX_AHEAD_SAMPLES: u64 = 5 * 48_000;
/// A source quiet for this long leaves the mix and frees its decoder.
const FORGET_MS: u64 = 10_000;
/// A source not heard from for this long is not a candidate.
const CANDIDATE_MS: u64 = 1_000;
/// Loudness bonus (dB) that keeps a mixed source in against a newcomer.
const HYSTERESIS_DB: f32 = 3.0;
/// This many late packets in a row re-anchor a source.
const REANCHOR_AFTER_LATE: u32 = 3;
/// The limiter keeps peaks under this: −1 dBFS (10^(−1/20)). The mix is
/// Opus-encoded after the limiter, and a lossy codec's reconstruction
/// overshoots its input's peaks (measured: 0.97 in came back as 1.002 on an
/// AMD EPYC, whose SIMD path differs from an AVX-512 Xeon's); −1 dB is the
/// true-peak margin broadcast practice (EBU R 128) gives lossy codecs, so
/// the decoded program stays under full scale on every CPU.
const CEILING: f32 = 0.891;
/// The limiter's attack: a falling gain reaches its target within 2 ms at
/// the start of the frame (the frame is mixed whole before it is limited,
/// so this is look-ahead, not reaction). Fast enough that almost nothing
/// reaches the hard clamp, slow enough not to click.
const ATTACK_SAMPLES: usize = 96;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixOptions {
    /// How many sources are mixed besides the forced ones.
    pub loudest: usize,
    /// How long the output waits for late packets.
    pub latency_ms: u64,
    /// Bit rate of the mixed stream.
    pub bitrate_bps: i32,
    /// Sources quieter than this (dBov, RFC 6464: 0 loudest … 127 silent)
    /// are not mixed unless forced.
    pub silence_dbov: u8,
}

impl Default for MixOptions {
    fn default() -> Self {
        MixOptions {
            loudest: 3,
            latency_ms: 200,
            bitrate_bps: 48_000,
            silence_dbov: 60,
        }
    }
}

/// What the mixer did, for logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MixStats {
    pub packets: u64,
    /// Packets decoded (the others belonged to sources not in the mix).
    pub decoded: u64,
    pub malformed: u64,
    /// Packets that came after their samples had been mixed.
    pub late: u64,
    /// Re-anchored sources (clock drift or jump).
    pub reanchored: u64,
    /// Output frames encoded.
    pub frames: u64,
    /// The most sources mixed into one frame.
    pub max_mixed: usize,
}

/// One encoded output frame; `at_ms` is its first sample on the caller's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixedFrame {
    pub at_ms: u64,
    pub opus: Vec<u8>,
}

struct Source {
    decoder: Option<opus::Decoder>,
    /// (RTP timestamp, sample position) of the anchor packet.
    anchor: (u32, u64),
    /// Decoded samples from the output position on.
    pcm: Vec<f32>,
    /// Smoothed loudness in dB above -127 dBov (0 silent … 127 loudest).
    loudness: f32,
    /// Whether the level comes from the RTP extension (else from samples).
    level_from_rtp: bool,
    last_ms: u64,
    /// Consecutive packets that came after their samples were mixed.
    late_run: u32,
    mixed: bool,
    forced: bool,
}

/// The program mixer. Keys name sources (the caller's track ids).
pub struct Mixer {
    opts: MixOptions,
    encoder: opus::Encoder,
    sources: HashMap<u64, Source>,
    /// Keys always heard, also for sources not seen yet.
    forced: Vec<u64>,
    /// Sample position of the next output frame; none before the first packet.
    out_pos: Option<u64>,
    gain: f32,
    stats: MixStats,
    scratch: Vec<f32>,
    frame: Vec<f32>,
    encoded: Vec<u8>,
}

impl std::fmt::Debug for Mixer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mixer")
            .field("sources", &self.sources.len())
            .field("out_pos", &self.out_pos)
            .field("stats", &self.stats)
            .finish()
    }
}

fn smooth(current: f32, sample: f32) -> f32 {
    // Fast attack, ~0.4 s release at one update per 20 ms packet.
    if sample > current {
        sample
    } else {
        current + (sample - current) * 0.05
    }
}

/// Loudness of decoded samples on the RFC 6464 scale (0 silent … 127).
fn loudness_of(pcm: &[f32]) -> f32 {
    if pcm.is_empty() {
        return 0.0;
    }
    let mean_sq = pcm.iter().map(|x| x * x).sum::<f32>() / pcm.len() as f32;
    let dbov = 10.0 * mean_sq.max(1e-13).log10();
    (127.0 + dbov).clamp(0.0, 127.0)
}

impl Mixer {
    pub fn new(opts: MixOptions) -> Result<Mixer, opus::Error> {
        let mut encoder =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Audio)?;
        encoder.set_bitrate(opus::Bitrate::Bits(opts.bitrate_bps))?;
        Ok(Mixer {
            opts,
            encoder,
            sources: HashMap::new(),
            forced: Vec::new(),
            out_pos: None,
            gain: 1.0,
            stats: MixStats::default(),
            scratch: vec![0.0; MAX_PACKET_SAMPLES],
            frame: vec![0.0; FRAME_SAMPLES],
            encoded: vec![0; 1_500],
        })
    }

    pub fn stats(&self) -> MixStats {
        self.stats
    }

    /// The sources heard in the mix now (keys, sorted).
    pub fn mixed(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .sources
            .iter()
            .filter(|(_, s)| s.mixed)
            .map(|(k, _)| *k)
            .collect();
        v.sort_unstable();
        v
    }

    /// The sources that are always heard (the stage holder's audio).
    pub fn set_forced(&mut self, keys: &[u64]) {
        for (k, s) in self.sources.iter_mut() {
            s.forced = keys.contains(k);
            if s.forced {
                s.mixed = true;
            }
        }
        self.forced = keys.to_vec();
    }

    /// One Opus packet of source `key` that arrived at `arrived_ms`.
    /// `level` is its RFC 6464 level (dBov attenuation, 127 silent), if sent.
    pub fn push(&mut self, key: u64, arrived_ms: u64, rtp_ts: u32, level: Option<u8>, opus: &[u8]) {
        self.stats.packets += 1;
        let arrival_pos = arrived_ms * PER_MS;
        let out_pos = *self
            .out_pos
            .get_or_insert(arrival_pos / FRAME_SAMPLES as u64 * FRAME_SAMPLES as u64);
        let forced = self.forced.contains(&key);
        let src = self.sources.entry(key).or_insert_with(|| Source {
            decoder: None,
            anchor: (rtp_ts, arrival_pos.max(out_pos)),
            pcm: Vec::new(),
            loudness: 0.0,
            level_from_rtp: level.is_some(),
            last_ms: arrived_ms,
            late_run: 0,
            mixed: forced,
            forced,
        });
        src.last_ms = src.last_ms.max(arrived_ms);
        if let Some(l) = level {
            src.level_from_rtp = true;
            src.loudness = smooth(src.loudness, 127.0 - f32::from(l.min(127)));
        }
        // Place the packet by its RTP clock from the anchor.
        let delta = i64::from(rtp_ts.wrapping_sub(src.anchor.0) as i32);
        let mut pos = src.anchor.1 as i64 + delta;
        let jumped = pos > (arrival_pos + MAX_AHEAD_SAMPLES) as i64;
        if pos < out_pos as i64 {
            src.late_run += 1;
        } else {
            src.late_run = 0;
        }
        // One late packet was delayed in the network: drop it. A run of
        // them means the sender's clock fell behind ours past what the
        // latency absorbs (or the anchor packet came early); a jump means
        // the stream restarted. Either way: hear it from its arrival on.
        if jumped || src.late_run >= REANCHOR_AFTER_LATE {
            // Right after what is buffered, and at least half the latency
            // ahead of the output so that it does not fall behind again at
            // once: a short silence, no overlap.
            let margin = self.opts.latency_ms * PER_MS / 2;
            let at = (out_pos + src.pcm.len() as u64).max(out_pos + margin);
            src.anchor = (rtp_ts, at);
            pos = src.anchor.1 as i64;
            src.late_run = 0;
            self.stats.reanchored += 1;
        }
        if pos < out_pos as i64 {
            self.stats.late += 1;
            return;
        }
        // Not in the mix, and its level known without decoding: skip it.
        if !src.mixed && src.level_from_rtp {
            return;
        }
        let decoder = match src.decoder.as_mut() {
            Some(d) => d,
            None => match opus::Decoder::new(48_000, opus::Channels::Mono) {
                Ok(d) => src.decoder.insert(d),
                Err(_) => return,
            },
        };
        let n = match decoder.decode_float(opus, &mut self.scratch, false) {
            Ok(n) if n > 0 => n.min(MAX_PACKET_SAMPLES),
            _ => {
                self.stats.malformed += 1;
                return;
            }
        };
        self.stats.decoded += 1;
        let pcm = &self.scratch[..n];
        if !src.level_from_rtp {
            src.loudness = smooth(src.loudness, loudness_of(pcm));
        }
        let offset = (pos as u64 - out_pos) as usize;
        if src.pcm.len() < offset + n {
            src.pcm.resize(offset + n, 0.0);
        }
        src.pcm[offset..offset + n].copy_from_slice(pcm);
    }

    /// Chooses who is heard: the forced sources, then the loudest others
    /// above the silence threshold.
    fn select(&mut self, now_ms: u64) {
        let threshold = 127.0 - f32::from(self.opts.silence_dbov.min(127));
        let mut ranked: Vec<(f32, u64)> = self
            .sources
            .iter()
            .filter(|(_, s)| {
                !s.forced
                    && now_ms.saturating_sub(s.last_ms) <= CANDIDATE_MS
                    && s.loudness >= threshold
            })
            .map(|(k, s)| {
                let bonus = if s.mixed { HYSTERESIS_DB } else { 0.0 };
                (s.loudness + bonus, *k)
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.truncate(self.opts.loudest);
        for (k, s) in self.sources.iter_mut() {
            let was = s.mixed;
            s.mixed = s.forced || ranked.iter().any(|(_, r)| r == k);
            if was && !s.mixed {
                // Out of the mix: its queued samples go, its decoder starts
                // fresh when it comes back (no stale state replayed).
                s.pcm.clear();
                s.decoder = None;
            }
        }
    }

    /// Encodes every frame whose time (plus the latency) has come.
    pub fn poll(&mut self, now_ms: u64, out: &mut Vec<MixedFrame>) {
        self.sources
            .retain(|_, s| s.forced || now_ms.saturating_sub(s.last_ms) <= FORGET_MS);
        self.select(now_ms);
        let Some(mut pos) = self.out_pos else {
            return;
        };
        let due = now_ms.saturating_sub(self.opts.latency_ms) * PER_MS;
        while pos + FRAME_SAMPLES as u64 <= due {
            self.mix_one();
            match self.encoder.encode_float(&self.frame, &mut self.encoded) {
                Ok(n) => {
                    self.stats.frames += 1;
                    out.push(MixedFrame {
                        at_ms: pos / PER_MS,
                        opus: self.encoded[..n].to_vec(),
                    });
                }
                Err(e) => tracing::warn!(error = %e, "program mix: encoding failed"),
            }
            pos += FRAME_SAMPLES as u64;
        }
        self.out_pos = Some(pos);
    }

    /// Sums the next frame of every mixed source into `self.frame`, limits
    /// it, and moves every source's buffer on by one frame.
    fn mix_one(&mut self) {
        self.frame.fill(0.0);
        let mut mixed = 0;
        for s in self.sources.values_mut() {
            let n = s.pcm.len().min(FRAME_SAMPLES);
            if s.mixed && n > 0 {
                mixed += 1;
                for (o, x) in self.frame.iter_mut().zip(&s.pcm[..n]) {
                    *o += *x;
                }
            }
            s.pcm.drain(..n);
        }
        self.stats.max_mixed = self.stats.max_mixed.max(mixed);
        limit(&mut self.frame, &mut self.gain);
    }
}

/// A limiter, not a clipper: the gain falls within [`ATTACK_SAMPLES`] to
/// keep the frame's peak under [`CEILING`] and recovers over ~0.5 s,
/// ramped across the frame so the change makes no click. Samples inside
/// the attack ramp can still be above the ceiling; they are clamped to it
/// (never to full scale, which the codec would then overshoot).
fn limit(frame: &mut [f32], gain: &mut f32) {
    let peak = frame.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let target = if peak * *gain > CEILING {
        CEILING / peak
    } else {
        (*gain + 0.04).min(1.0)
    };
    let ramp = if target < *gain {
        ATTACK_SAMPLES
    } else {
        frame.len()
    };
    let step = (target - *gain) / ramp as f32;
    let mut g = *gain;
    for (i, x) in frame.iter_mut().enumerate() {
        if i < ramp {
            g += step;
        } else {
            g = target;
        }
        *x = (*x * g).clamp(-CEILING, CEILING);
    }
    *gain = target;
}

#[cfg(test)]
// The packet index is also its time in these tests.
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;

    /// `frames` 20 ms Opus packets of a sine at `hz` (amplitude 0.3).
    fn tone(hz: f32, frames: usize) -> Vec<Vec<u8>> {
        let mut enc =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Audio).unwrap();
        (0..frames)
            .map(|f| {
                let pcm: Vec<f32> = (0..FRAME_SAMPLES)
                    .map(|i| {
                        let t = (f * FRAME_SAMPLES + i) as f32 / 48_000.0;
                        0.3 * (2.0 * std::f32::consts::PI * hz * t).sin()
                    })
                    .collect();
                enc.encode_vec_float(&pcm, 1_500).unwrap()
            })
            .collect()
    }

    /// Decodes the mixer's output into one sample vector starting at the
    /// first frame's time; returns (first at_ms, samples).
    fn decode(frames: &[MixedFrame]) -> (u64, Vec<f32>) {
        let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut all = Vec::new();
        let mut buf = vec![0.0; MAX_PACKET_SAMPLES];
        for f in frames {
            let n = dec.decode_float(&f.opus, &mut buf, false).unwrap();
            all.extend_from_slice(&buf[..n]);
        }
        (frames.first().map_or(0, |f| f.at_ms), all)
    }

    /// Relative power of `hz` in `x` (Goertzel).
    fn power(x: &[f32], hz: f32) -> f32 {
        let w = 2.0 * std::f32::consts::PI * hz / 48_000.0;
        let c = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for &v in x {
            let s0 = v + c * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.len() as f32).powi(2)
    }

    fn run(m: &mut Mixer, until_ms: u64, out: &mut Vec<MixedFrame>) {
        m.poll(until_ms, out);
    }

    #[test]
    fn two_speakers_are_heard_together_in_one_mono_stream() {
        let mut m = Mixer::new(MixOptions::default()).unwrap();
        let (a, b) = (tone(440.0, 100), tone(1_000.0, 100));
        let mut out = Vec::new();
        for i in 0..100 {
            let at = 1_000 + 20 * i as u64;
            m.push(1, at, 5_000 + 960 * i as u32, Some(20), &a[i]);
            m.push(2, at + 3, 90_000 + 960 * i as u32, Some(25), &b[i]);
            run(&mut m, at, &mut out);
            if i > 0 {
                assert_eq!(m.mixed(), vec![1, 2]);
            }
        }
        run(&mut m, 4_000, &mut out);
        let (start, pcm) = decode(&out);
        assert_eq!(start, 1_000, "the mix starts at the first packet");
        let mid = &pcm[48_000..96_000];
        let (p440, p1k, p700) = (power(mid, 440.0), power(mid, 1_000.0), power(mid, 700.0));
        assert!(p440 > 100.0 * p700, "440 Hz heard: {p440} vs {p700}");
        assert!(p1k > 100.0 * p700, "1 kHz heard: {p1k} vs {p700}");
        assert!(m.mixed().is_empty(), "silent for a second: out of the mix");
        assert_eq!(m.stats().malformed, 0);
    }

    #[test]
    fn only_the_loudest_rooms_are_decoded_and_mixed() {
        let mut m = Mixer::new(MixOptions::default()).unwrap();
        let t = tone(500.0, 50);
        let mut out = Vec::new();
        for i in 0..50 {
            let at = 20 * i as u64;
            for key in 0..20u64 {
                // Rooms 3, 7, 11 and 12 speak; 12 is the quietest of them.
                let level = match key {
                    3 => 10,
                    7 => 15,
                    11 => 20,
                    12 => 40,
                    _ => 90,
                };
                m.push(key, at, 960 * i as u32, Some(level), &t[i]);
            }
            run(&mut m, at, &mut out);
        }
        assert_eq!(m.mixed(), vec![3, 7, 11], "the three loudest");
        let s = m.stats();
        assert_eq!(s.packets, 1_000);
        assert!(
            s.decoded <= 3 * 50 + 20,
            "quiet rooms are not decoded: {s:?}"
        );
        assert!(s.max_mixed <= 3);
    }

    #[test]
    fn the_stage_holder_is_heard_even_when_quiet() {
        let mut m = Mixer::new(MixOptions::default()).unwrap();
        m.set_forced(&[9]);
        let t = tone(300.0, 60);
        let mut out = Vec::new();
        for i in 0..60 {
            let at = 20 * i as u64;
            m.push(9, at, 960 * i as u32, Some(100), &t[i]);
            run(&mut m, at, &mut out);
        }
        run(&mut m, 2_000, &mut out);
        assert_eq!(m.mixed(), vec![9]);
        let (_, pcm) = decode(&out);
        assert!(power(&pcm[9_600..48_000], 300.0) > 1e-4);
        // Off the stage and quiet: out of the mix.
        m.set_forced(&[]);
        m.push(9, 1_220, 960 * 61, Some(100), &t[0]);
        run(&mut m, 1_240, &mut out);
        assert!(m.mixed().is_empty());
    }

    #[test]
    fn a_late_joiner_is_heard_from_when_it_spoke_and_jitter_moves_nothing() {
        let mut m = Mixer::new(MixOptions::default()).unwrap();
        let (a, b) = (tone(440.0, 150), tone(1_200.0, 100));
        let mut out = Vec::new();
        // Source 2 starts speaking at 1 s; its packets arrive with up to
        // 60 ms of jitter, some of them out of order.
        let mut b_arrivals: Vec<(u64, usize)> = (0..100)
            .map(|i| (1_000 + 20 * i as u64 + (i as u64 * 37 % 61), i))
            .collect();
        b_arrivals.sort();
        let mut next_b = 0;
        for i in 0..150 {
            let at = 20 * i as u64;
            m.push(1, at, 960 * i as u32, Some(20), &a[i]);
            while next_b < b_arrivals.len() && b_arrivals[next_b].0 <= at {
                let (arr, k) = b_arrivals[next_b];
                m.push(2, arr, 777 + 960 * k as u32, Some(20), &b[k]);
                next_b += 1;
            }
            run(&mut m, at, &mut out);
        }
        run(&mut m, 4_000, &mut out);
        let (start, pcm) = decode(&out);
        assert_eq!(start, 0);
        let before = &pcm[24_000..44_000];
        let after = &pcm[60_000..120_000];
        assert!(
            power(before, 1_200.0) < 1e-6,
            "nothing of source 2 before it spoke"
        );
        assert!(power(after, 1_200.0) > 1e-3, "source 2 heard after 1 s");
        // Every 20 ms window after it joined carries its tone: jitter and
        // reordering left no holes.
        for w in after.chunks(960) {
            assert!(power(w, 1_200.0) > 1e-4, "a hole in source 2");
        }
        assert_eq!(m.stats().late, 0);
    }

    #[test]
    fn a_sender_clock_that_drifts_behind_is_reanchored_not_silenced() {
        let mut m = Mixer::new(MixOptions::default()).unwrap();
        let t = tone(440.0, 500);
        let mut out = Vec::new();
        // RTP clock 5 % slow: after 4 s it is 200 ms behind arrival, after
        // 10 s half a second.
        for i in 0..500 {
            let at = 20 * i as u64;
            m.push(1, at, (i as f64 * 960.0 * 0.95) as u32, Some(20), &t[i]);
            run(&mut m, at, &mut out);
        }
        let s = m.stats();
        assert!(s.reanchored >= 1, "{s:?}");
        assert!(s.late <= 3 * s.reanchored + 3, "{s:?}");
        let (_, pcm) = decode(&out);
        // The packets overlap where the slow clock squeezes them: measure
        // in 10 ms windows, across which the tone's phase is continuous.
        let tail = &pcm[pcm.len() - 48_000..];
        let windows: Vec<f32> = tail.chunks(480).map(|w| power(w, 440.0)).collect();
        let heard = windows.iter().filter(|p| **p > 1e-3).count();
        // A sender 5 % slow leaves 5 % of silence, plus a short gap at each
        // re-anchoring.
        assert!(
            heard * 4 >= windows.len() * 3,
            "still heard at the end: {heard} of {}",
            windows.len()
        );
    }

    #[test]
    fn loud_sources_together_are_limited_not_clipped() {
        let mut m = Mixer::new(MixOptions::default()).unwrap();
        let t = tone(440.0, 100);
        let mut out = Vec::new();
        for i in 0..100 {
            let at = 20 * i as u64;
            // Four identical loud sources add up to 1.2 of full scale.
            for key in 0..4 {
                m.push(key, at, 960 * i as u32, Some(5), &t[i]);
            }
            run(&mut m, at, &mut out);
        }
        m.set_forced(&[0]);
        run(&mut m, 3_000, &mut out);
        let (_, pcm) = decode(&out);
        let peak = pcm.iter().fold(0.0f32, |a, x| a.max(x.abs()));
        assert!(peak <= 1.0, "peak {peak}");
        assert!(peak > 0.5, "still loud: {peak}");
    }

    #[test]
    fn the_limiter_keeps_every_sample_under_the_ceiling_before_encoding() {
        // Pure arithmetic, before any codec: what reaches Opus is under
        // -1 dBFS whatever the CPU, so the codec's overshoot has room.
        let mut gain = 1.0;
        for f in 0..50 {
            // Silence, then a sudden 1.8x overload, then quiet again.
            let amp = match f {
                0..10 => 0.0,
                10..30 => 1.8,
                _ => 0.2,
            };
            let mut frame: Vec<f32> = (0..FRAME_SAMPLES)
                .map(|i| amp * (i as f32 * 0.13).sin())
                .collect();
            limit(&mut frame, &mut gain);
            let peak = frame.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            assert!(peak <= CEILING, "frame {f}: peak {peak}");
            if f >= 45 {
                assert!(peak > 0.15, "quiet speech comes back up: {peak}");
            }
        }
    }

    #[test]
    fn hostile_packets_are_counted_never_a_panic() {
        let mut m = Mixer::new(MixOptions::default()).unwrap();
        let mut out = Vec::new();
        let mut x: u32 = 1;
        for i in 0..2_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let len = (x % 300) as usize;
            let bytes: Vec<u8> = (0..len).map(|j| (x >> (j % 24)) as u8).collect();
            let level = if i % 3 == 0 {
                None
            } else {
                Some((x % 128) as u8)
            };
            m.push(u64::from(x % 5), u64::from(i), x, level, &bytes);
            run(&mut m, u64::from(i), &mut out);
        }
        let s = m.stats();
        assert_eq!(s.packets, 2_000);
        assert!(s.malformed > 0, "{s:?}");
    }
}
