//! Audio between a room codec and the meeting, pure: G.711 (µ-law,
//! A-law) to and from PCM, 8 ↔ 48 kHz, G.722 (`g722`) 16 ↔ 48 kHz, Opus (libopus, bundled) at 48 kHz
//! mono in 20 ms frames, RFC 6464 levels, and the mix-minus: the engine's
//! audio slots (stage + loudest K — never the codec's own voice) decoded,
//! summed and limited into one stream in the codec's codec.

use std::collections::VecDeque;

use super::g722;
use super::sdp::AudioCodec;

/// Samples in one 20 ms frame at 48 kHz (the Opus side) and 8 kHz (G.711).
pub const FRAME_48K: usize = 960;
pub const FRAME_8K: usize = 160;
/// …and at 16 kHz (G.722's sampling; 160 octets, 160 ticks of its clock).
pub const FRAME_16K: usize = 320;
/// Frames a slot may queue before the oldest is dropped: 60 ms of jitter
/// absorbed; more would only delay the room's conversation.
const MAX_QUEUED_FRAMES: usize = 3;
/// Opus bitrate for a codec's voice into the meeting: wideband speech.
const UP_BITRATE_BPS: i32 = 32_000;

pub fn ulaw_decode(b: u8) -> f32 {
    let b = !b;
    let exp = (b >> 4) & 7;
    let mant = i32::from(b & 0x0f);
    let mag = ((mant << 3) + 0x84) << exp;
    let v = if b & 0x80 != 0 {
        0x84 - mag
    } else {
        mag - 0x84
    };
    v as f32 / 32768.0
}

pub fn ulaw_encode(x: f32) -> u8 {
    let s = (x.clamp(-1.0, 1.0) * 32767.0) as i32;
    let sign = if s < 0 { 0x80u8 } else { 0 };
    let mag = (s.unsigned_abs() as i32).min(32635) + 0x84;
    let exp = (0..8).rev().find(|e| mag & (0x80 << e) != 0).unwrap_or(0) as u8;
    let mant = ((mag >> (exp + 3)) & 0x0f) as u8;
    !(sign | (exp << 4) | mant)
}

pub fn alaw_decode(b: u8) -> f32 {
    let b = b ^ 0x55;
    let exp = (b >> 4) & 7;
    let mant = i32::from(b & 0x0f);
    let mag = if exp == 0 {
        (mant << 4) + 8
    } else {
        ((mant << 4) + 0x108) << (exp - 1)
    };
    let v = if b & 0x80 != 0 { mag } else { -mag };
    v as f32 / 32768.0
}

pub fn alaw_encode(x: f32) -> u8 {
    let s = (x.clamp(-1.0, 1.0) * 32767.0) as i32;
    let sign = if s >= 0 { 0x80u8 } else { 0 };
    let mag = (s.unsigned_abs() as i32).min(32767);
    let byte = if mag < 256 {
        (mag >> 4) as u8
    } else {
        let exp = (1..8).rev().find(|e| mag & (0x80 << e) != 0).unwrap_or(1) as u8;
        (exp << 4) | ((mag >> (exp + 3)) & 0x0f) as u8
    };
    (sign | byte) ^ 0x55
}

/// RFC 6464 level of a frame: 0 (loudest) to 127 (silence), −dBov.
pub fn level_dbov(pcm: &[f32]) -> u8 {
    if pcm.is_empty() {
        return 127;
    }
    let rms = (pcm.iter().map(|x| x * x).sum::<f32>() / pcm.len() as f32).sqrt();
    if rms <= 0.0 {
        return 127;
    }
    (-20.0 * rms.log10()).clamp(0.0, 127.0) as u8
}

/// One Opus frame for the meeting, with its level.
#[derive(Debug, Clone, PartialEq)]
pub struct UpFrame {
    pub opus: Vec<u8>,
    pub level: u8,
}

/// The codec's voice into the meeting.
pub struct Up {
    codec: AudioCodec,
    encoder: Option<opus::Encoder>,
    decoder: Option<opus::Decoder>,
    pcm: Vec<f32>,
    last: f32,
    scratch: Vec<f32>,
    g722: g722::Decoder,
    wide: Vec<i16>,
}

impl Up {
    pub fn new(codec: AudioCodec) -> Result<Up, opus::Error> {
        let (encoder, decoder) = match codec {
            AudioCodec::Opus => (
                None,
                Some(opus::Decoder::new(48_000, opus::Channels::Mono)?),
            ),
            _ => {
                let mut e =
                    opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)?;
                e.set_bitrate(opus::Bitrate::Bits(UP_BITRATE_BPS))?;
                (Some(e), None)
            }
        };
        Ok(Up {
            codec,
            encoder,
            decoder,
            pcm: Vec::new(),
            last: 0.0,
            scratch: vec![0.0; 5760],
            g722: g722::Decoder::default(),
            wide: Vec::new(),
        })
    }

    /// One RTP payload from the codec → the Opus frames it completes.
    pub fn push(&mut self, payload: &[u8]) -> Vec<UpFrame> {
        let decode: fn(u8) -> f32 = match self.codec {
            AudioCodec::G722 => {
                // At most 60 ms, as for G.711 below.
                self.wide.clear();
                self.g722
                    .decode(&payload[..payload.len().min(3 * FRAME_8K)], &mut self.wide);
                for i in 0..self.wide.len() {
                    let x = f32::from(self.wide[i]) / 32768.0;
                    // Linear interpolation, 16 → 48 kHz.
                    for k in 1..=3 {
                        self.pcm.push(self.last + (x - self.last) * k as f32 / 3.0);
                    }
                    self.last = x;
                }
                return self.encode_frames();
            }
            AudioCodec::Pcmu => ulaw_decode,
            AudioCodec::Pcma => alaw_decode,
            AudioCodec::Opus => {
                // Passed through as it came; decoded only for its level.
                let Some(d) = self.decoder.as_mut() else {
                    return Vec::new();
                };
                let level = match d.decode_float(payload, &mut self.scratch, false) {
                    Ok(n) => level_dbov(&self.scratch[..n.min(self.scratch.len())]),
                    Err(_) => return Vec::new(),
                };
                return vec![UpFrame {
                    opus: payload.to_vec(),
                    level,
                }];
            }
        };
        // A payload longer than 60 ms at 8 kHz is not a room codec's.
        for &b in payload.iter().take(3 * FRAME_8K) {
            let x = decode(b);
            // Linear interpolation, 8 → 48 kHz.
            for k in 1..=6 {
                self.pcm.push(self.last + (x - self.last) * k as f32 / 6.0);
            }
            self.last = x;
        }
        self.encode_frames()
    }

    /// The whole 20 ms frames of PCM gathered, as Opus.
    fn encode_frames(&mut self) -> Vec<UpFrame> {
        let mut out = Vec::new();
        while self.pcm.len() >= FRAME_48K {
            let frame: Vec<f32> = self.pcm.drain(..FRAME_48K).collect();
            let level = level_dbov(&frame);
            if let Some(e) = self.encoder.as_mut()
                && let Ok(opus) = e.encode_vec_float(&frame, 1500)
            {
                out.push(UpFrame { opus, level });
            }
        }
        out
    }
}

/// The mix-minus towards the codec.
pub struct Down {
    codec: AudioCodec,
    slots: Vec<(opus::Decoder, VecDeque<Vec<f32>>)>,
    encoder: Option<opus::Encoder>,
    scratch: Vec<f32>,
    /// Limiter gain, eased back towards 1 after a loud passage.
    gain: f32,
    g722: g722::Encoder,
}

impl Down {
    pub fn new(codec: AudioCodec, slots: usize) -> Result<Down, opus::Error> {
        let slots = (0..slots)
            .map(|_| {
                Ok((
                    opus::Decoder::new(48_000, opus::Channels::Mono)?,
                    VecDeque::new(),
                ))
            })
            .collect::<Result<_, opus::Error>>()?;
        let encoder = match codec {
            AudioCodec::Opus => Some(opus::Encoder::new(
                48_000,
                opus::Channels::Mono,
                opus::Application::Voip,
            )?),
            _ => None,
        };
        Ok(Down {
            codec,
            slots,
            encoder,
            scratch: vec![0.0; 5760],
            gain: 1.0,
            g722: g722::Encoder::default(),
        })
    }

    /// An Opus packet arrived on audio slot `slot`.
    pub fn push(&mut self, slot: usize, opus: &[u8]) {
        let Some((dec, q)) = self.slots.get_mut(slot) else {
            return;
        };
        let Ok(n) = dec.decode_float(opus, &mut self.scratch, false) else {
            return;
        };
        for chunk in self.scratch[..n.min(self.scratch.len())].chunks(FRAME_48K) {
            let mut f = chunk.to_vec();
            f.resize(FRAME_48K, 0.0);
            if q.len() == MAX_QUEUED_FRAMES {
                q.pop_front();
            }
            q.push_back(f);
        }
    }

    /// The next 20 ms for the codec: the slots' frames summed, limited,
    /// encoded (silence when no one speaks, so the stream never stalls).
    pub fn mix(&mut self) -> Vec<u8> {
        let mut sum = [0.0f32; FRAME_48K];
        for (_, q) in &mut self.slots {
            if let Some(f) = q.pop_front() {
                for (s, x) in sum.iter_mut().zip(f) {
                    *s += x;
                }
            }
        }
        let peak = sum.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        // Limiter: never above 0.9 full scale; recover 5 % per frame.
        let want = if peak * self.gain > 0.9 {
            0.9 / peak
        } else {
            (self.gain * 1.05).min(1.0)
        };
        self.gain = want;
        for s in &mut sum {
            *s *= self.gain;
        }
        match self.codec {
            AudioCodec::Opus => self
                .encoder
                .as_mut()
                .and_then(|e| e.encode_vec_float(&sum, 1500).ok())
                .unwrap_or_default(),
            AudioCodec::G722 => {
                // 48 → 16 kHz: the mean of each three samples.
                let pcm: Vec<i16> = sum
                    .chunks(3)
                    .map(|c| (c.iter().sum::<f32>() / 3.0 * 32767.0) as i16)
                    .collect();
                let mut out = Vec::with_capacity(FRAME_8K);
                self.g722.encode(&pcm, &mut out);
                out
            }
            AudioCodec::Pcmu | AudioCodec::Pcma => {
                let enc = if self.codec == AudioCodec::Pcmu {
                    ulaw_encode
                } else {
                    alaw_encode
                };
                // 48 → 8 kHz: the mean of each six samples (a box filter;
                // the engine's Opus already holds speech below 8 kHz).
                sum.chunks(6)
                    .map(|c| enc(c.iter().sum::<f32>() / 6.0))
                    .collect()
            }
        }
    }

    /// Samples per mixed frame at the codec's RTP clock.
    pub fn ts_step(&self) -> u32 {
        match self.codec {
            AudioCodec::Opus => FRAME_48K as u32,
            _ => FRAME_8K as u32,
        }
    }
}

#[cfg(test)]
#[path = "audio_tests.rs"]
mod tests;
