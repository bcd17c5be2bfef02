//! G.722 (ITU-T G.722, 64 kbit/s mode): 7 kHz audio as sub-band ADPCM,
//! pure and allocation-free per sample pair. A quadrature mirror filter
//! splits 16 kHz PCM into a lower and a higher band at 8 kHz each; the
//! lower is coded in 6 bits, the higher in 2, one octet per pair (higher
//! band in the top two bits). Both sides run the same backward-adaptive
//! predictor, so encoder and decoder state never travel. Written from the
//! recommendation's block descriptions (QMF, QUANTL/QUANTH, INVQAL/INVQBL/
//! INVQAH, LOGSCL/LOGSCH, SCALEL/SCALEH and block 4: RECONS, PARREC,
//! UPPOL1/2, UPZERO, DELAYA, FILTEP, FILTEZ, PREDIC), in the fixed-point
//! arithmetic it specifies, saturating at 16 bits where it does; checked
//! bit for bit against ffmpeg's `g722` both ways (tests/it/sip_g722.rs).
//! RFC 3551 §4.5.2: the RTP clock is 8000 although it samples at 16 kHz.

/// QMF coefficients h(0), h(2), …, h(22) (the odd ones are these reversed:
/// the filter is symmetric), in units of 2^-13.
const QMF: [i32; 12] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];

/// QUANTL decision levels (×det/4096) for magnitudes 1..=29.
const Q6: [i32; 31] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0,
];
/// Lower-band code for a negative / non-negative difference, by interval.
const ILN: [u8; 31] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4,
];
const ILP: [u8; 31] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32,
];
/// INVQBL: the 6-bit lower-band code's reconstruction level (×2^-15 det).
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];
/// INVQAL: the code's top 4 bits, what the predictor adapts on.
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];
/// LOGSCL: the 4-bit code's magnitude class, and its log-scale step.
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
/// Higher band: INVQAH levels, LOGSCH class and step, QUANTH codes.
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
const RH2: [usize; 4] = [2, 1, 2, 1];
const WH: [i32; 3] = [0, -214, 798];
const IHN: [u8; 3] = [0, 1, 0];
const IHP: [u8; 3] = [0, 3, 2];
/// SCALEL/SCALEH: 2^(i/32) in units of 2^-11, the log-to-linear table.
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

fn sat(x: i32) -> i32 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX))
}

/// One sub-band's ADPCM state: log scale factor, step size, and the
/// pole-zero predictor (two poles on the reconstructed signal, six zeros
/// on the quantized differences).
#[derive(Debug, Clone)]
struct Band {
    /// Log scale factor (LOGSCL/LOGSCH output) and its ceiling.
    nb: i32,
    nb_max: i32,
    /// SCALEL/SCALEH shift base: 8 lower band, 10 higher.
    shift: i32,
    /// Step size (×4).
    det: i32,
    /// Predicted signal, its zero and pole parts.
    s: i32,
    sz: i32,
    /// Reconstructed signal and partial reconstruction, now and before.
    r: [i32; 3],
    p: [i32; 3],
    /// Quantized differences and zero-section coefficients, 1..=6 used.
    d: [i32; 7],
    b: [i32; 7],
    /// Pole-section coefficients, 1..=2 used.
    a: [i32; 3],
}

impl Band {
    fn new(nb_max: i32, shift: i32) -> Band {
        let mut b = Band {
            nb: 0,
            nb_max,
            shift,
            det: 0,
            s: 0,
            sz: 0,
            r: [0; 3],
            p: [0; 3],
            d: [0; 7],
            b: [0; 7],
            a: [0; 3],
        };
        b.scale();
        b
    }

    /// LOGSCL/LOGSCH: leak the log scale factor, step it by the code's class.
    fn log_scale(&mut self, step: i32) {
        self.nb = ((self.nb * 127) >> 7) + step;
        self.nb = self.nb.clamp(0, self.nb_max);
        self.scale();
    }

    /// SCALEL/SCALEH: the step size from the log scale factor.
    fn scale(&mut self) {
        let mant = ILB[((self.nb >> 6) & 31) as usize];
        let shift = self.shift - (self.nb >> 11);
        let lin = if shift < 0 {
            mant << -shift
        } else {
            mant >> shift
        };
        self.det = lin << 2;
    }

    /// Block 4: adapt the predictor on the quantized difference `dq` and
    /// predict the next sample.
    fn adapt(&mut self, dq: i32) {
        // RECONS, PARREC.
        self.d[0] = dq;
        self.r[0] = sat(self.s + dq);
        self.p[0] = sat(self.sz + dq);
        let sign = |x: i32| x >> 15; // 0 or -1 for 16-bit values
        // UPPOL2: the second pole.
        let a1x4 = sat(self.a[1] << 2);
        let mut t = if sign(self.p[0]) == sign(self.p[1]) {
            -a1x4
        } else {
            a1x4
        };
        t = t.min(32767);
        let mut a2 = (t >> 7)
            + if sign(self.p[0]) == sign(self.p[2]) {
                128
            } else {
                -128
            };
        a2 += (self.a[2] * 32512) >> 15;
        let a2 = a2.clamp(-12288, 12288);
        // UPPOL1: the first pole, bounded by the second (stability).
        let step = if sign(self.p[0]) == sign(self.p[1]) {
            192
        } else {
            -192
        };
        let mut a1 = sat(step + ((self.a[1] * 32640) >> 15));
        let bound = sat(15360 - a2);
        a1 = a1.clamp(-bound, bound);
        // UPZERO: the six zeros, leaked, nudged by sign agreement.
        let nudge = if dq == 0 { 0 } else { 128 };
        for (b, d) in self.b.iter_mut().zip(self.d).skip(1) {
            let n = if sign(d) == sign(dq) { nudge } else { -nudge };
            *b = sat(n + ((*b * 32640) >> 15));
        }
        // DELAYA.
        self.d.copy_within(0..6, 1);
        for i in (1..3).rev() {
            self.r[i] = self.r[i - 1];
            self.p[i] = self.p[i - 1];
        }
        self.a[1] = a1;
        self.a[2] = a2;
        // FILTEP, FILTEZ, PREDIC.
        let sp = sat(((self.a[1] * sat(self.r[1] + self.r[1])) >> 15)
            + ((self.a[2] * sat(self.r[2] + self.r[2])) >> 15));
        let mut sz = 0;
        for i in (1..7).rev() {
            sz += (self.b[i] * sat(self.d[i] + self.d[i])) >> 15;
        }
        self.sz = sat(sz);
        self.s = sat(sp + self.sz);
    }
}

/// The lower band's coder after its code is known (INVQAL, LOGSCL, block 4).
fn low_update(band: &mut Band, code: u8) {
    let four = usize::from(code >> 2);
    let dq = (band.det * QM4[four]) >> 15;
    band.log_scale(WL[RL42[four]]);
    band.adapt(dq);
}

/// The higher band's (INVQAH, LOGSCH, block 4); returns its difference.
fn high_update(band: &mut Band, code: u8) -> i32 {
    let code = usize::from(code & 3);
    let dq = (band.det * QM2[code]) >> 15;
    band.log_scale(WH[RH2[code]]);
    band.adapt(dq);
    dq
}

/// The 24-sample QMF delay line, newest pair last.
#[derive(Debug, Clone)]
struct Qmf {
    x: [i32; 24],
}

impl Qmf {
    fn push(&mut self, first: i32, second: i32) {
        self.x.copy_within(2.., 0);
        self.x[22] = first;
        self.x[23] = second;
    }

    /// The two polyphase sums: even taps on the older of each pair…
    fn sums(&self) -> (i32, i32) {
        let (mut older, mut newer) = (0i32, 0i32);
        for i in 0..12 {
            older += self.x[2 * i] * QMF[i];
            newer += self.x[2 * i + 1] * QMF[11 - i];
        }
        (older, newer)
    }
}

/// G.722 encoder: 16 kHz PCM in pairs → one octet per pair.
#[derive(Debug, Clone)]
pub struct Encoder {
    qmf: Qmf,
    low: Band,
    high: Band,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            qmf: Qmf { x: [0; 24] },
            low: Band::new(18432, 8),
            high: Band::new(22528, 10),
        }
    }
}

impl Encoder {
    /// Encode 16 kHz samples (an odd last one is dropped) into octets.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        for pair in pcm.chunks_exact(2) {
            out.push(self.encode_pair(i32::from(pair[0]), i32::from(pair[1])));
        }
    }

    fn encode_pair(&mut self, x0: i32, x1: i32) -> u8 {
        // Transmit QMF: the sum and difference of the polyphase branches.
        self.qmf.push(x0, x1);
        let (older, newer) = self.qmf.sums();
        let xl = (newer + older) >> 14;
        let xh = (newer - older) >> 14;
        // QUANTL: the interval of the difference's magnitude.
        let el = sat(xl - self.low.s);
        let mag = if el >= 0 { el } else { -(el + 1) };
        let mut i = 1;
        while i < 30 && mag >= (Q6[i] * self.low.det) >> 12 {
            i += 1;
        }
        let ilow = if el < 0 { ILN[i] } else { ILP[i] };
        // QUANTH: one threshold.
        let eh = sat(xh - self.high.s);
        let mag = if eh >= 0 { eh } else { -(eh + 1) };
        let mih = if mag >= (564 * self.high.det) >> 12 {
            2
        } else {
            1
        };
        let ihigh = if eh < 0 { IHN[mih] } else { IHP[mih] };
        low_update(&mut self.low, ilow);
        high_update(&mut self.high, ihigh);
        (ihigh << 6) | ilow
    }
}

/// G.722 decoder: octets → 16 kHz PCM, two samples each.
#[derive(Debug, Clone)]
pub struct Decoder {
    qmf: Qmf,
    low: Band,
    high: Band,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            qmf: Qmf { x: [0; 24] },
            low: Band::new(18432, 8),
            high: Band::new(22528, 10),
        }
    }
}

impl Decoder {
    pub fn decode(&mut self, octets: &[u8], out: &mut Vec<i16>) {
        for &o in octets {
            let (a, b) = self.decode_octet(o);
            out.push(a);
            out.push(b);
        }
    }

    fn decode_octet(&mut self, o: u8) -> (i16, i16) {
        let (ilow, ihigh) = (o & 0x3f, o >> 6);
        // INVQBL with all six bits, then RECONS and LIMIT.
        let rl =
            (self.low.s + ((self.low.det * QM6[usize::from(ilow)]) >> 15)).clamp(-16384, 16383);
        low_update(&mut self.low, ilow);
        let s_high = self.high.s;
        let dh = high_update(&mut self.high, ihigh);
        let rh = (s_high + dh).clamp(-16384, 16383);
        // Receive QMF: sum and difference back through the filter.
        self.qmf.push(rl + rh, rl - rh);
        let (older, newer) = self.qmf.sums();
        (sat(newer >> 11) as i16, sat(older >> 11) as i16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (8000.0 * (i as f32 * 2.0 * std::f32::consts::PI * hz / 16000.0).sin()) as i16)
            .collect()
    }

    #[test]
    fn a_tone_survives_encoding_and_decoding() {
        // Both bands: 440 Hz in the lower, 5 kHz in the higher.
        for hz in [440.0, 5000.0] {
            let pcm = tone(hz, 16000);
            let mut bytes = Vec::new();
            Encoder::default().encode(&pcm, &mut bytes);
            assert_eq!(bytes.len(), 8000, "64 kbit/s: one octet per pair");
            let mut back = Vec::new();
            Decoder::default().decode(&bytes, &mut back);
            // The codec delays by the two QMFs (23 samples at 16 kHz).
            let best = (0..40)
                .map(|lag| {
                    let err: f64 = pcm[4000..15000]
                        .iter()
                        .zip(&back[4000 + lag..])
                        .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                        .sum();
                    err / 11000.0
                })
                .fold(f64::MAX, f64::min);
            let power = 8000.0f64.powi(2) / 2.0;
            assert!(
                10.0 * (power / best).log10() > 20.0,
                "{hz} Hz: SNR {:.1} dB",
                10.0 * (power / best).log10()
            );
        }
    }

    #[test]
    fn any_octets_decode_without_panic_and_stay_in_range() {
        let mut d = Decoder::default();
        let mut out = Vec::new();
        let junk: Vec<u8> = (0..20000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        d.decode(&junk, &mut out);
        assert_eq!(out.len(), 40000);
        let mut e = Encoder::default();
        let loud: Vec<i16> = (0..20000)
            .map(|i| if i % 7 < 3 { i16::MAX } else { i16::MIN })
            .collect();
        let mut bytes = Vec::new();
        e.encode(&loud, &mut bytes);
        assert_eq!(bytes.len(), 10000);
    }
}
