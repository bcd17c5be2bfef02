//! SRTP and SRTCP with keys exchanged in SDP (SDES, RFC 4568), for room
//! codecs that encrypt their media: AES_CM_128_HMAC_SHA1_80 and _32
//! (RFC 3711 §4, key derivation rate 0, no MKI). One [`Context`] per
//! direction: the codec's key for what it sends us, ours for what we send.
//! Sans-IO and bounded: at most [`MAX_SSRCS`] streams tracked per context,
//! a replay window of 64 packets each; a packet that fails its tag, is
//! replayed or is too short is an error, never a panic.

use std::collections::HashMap;

use aws_lc_rs::cipher::{AES_128, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use base64::Engine;

/// SSRCs a context follows (a codec sends one audio and one video stream,
/// perhaps a new one after a restart).
pub const MAX_SSRCS: usize = 16;
const KEY_LEN: usize = 16;
const SALT_LEN: usize = 14;
const AUTH_KEY_LEN: usize = 20;
/// SRTCP's tag is 80 bits whatever the suite (RFC 4568 §6.2).
const SRTCP_TAG_LEN: usize = 10;
const REPLAY_WINDOW: u64 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

impl Suite {
    pub fn parse(name: &str) -> Option<Suite> {
        match name {
            "AES_CM_128_HMAC_SHA1_80" => Some(Suite::AesCm128HmacSha1_80),
            "AES_CM_128_HMAC_SHA1_32" => Some(Suite::AesCm128HmacSha1_32),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 => 4,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SrtpError {
    #[error("the SRTP key is not 30 bytes of base64 (16 key, 14 salt)")]
    BadKey,
    #[error("packet too short for SRTP")]
    Short,
    #[error("authentication tag does not match")]
    Auth,
    #[error("packet replayed or too old")]
    Replay,
    #[error("too many SRTP streams")]
    TooManyStreams,
}

/// A master key and salt, as `inline:` carries them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MasterKey {
    pub key: [u8; KEY_LEN],
    pub salt: [u8; SALT_LEN],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    /// Fresh random key material for what we send.
    pub fn random() -> MasterKey {
        let mut b = [0u8; KEY_LEN + SALT_LEN];
        rand::fill(&mut b[..]);
        MasterKey::from_bytes(&b)
    }

    fn from_bytes(b: &[u8; KEY_LEN + SALT_LEN]) -> MasterKey {
        let mut key = [0u8; KEY_LEN];
        let mut salt = [0u8; SALT_LEN];
        key.copy_from_slice(&b[..KEY_LEN]);
        salt.copy_from_slice(&b[KEY_LEN..]);
        MasterKey { key, salt }
    }

    /// From the key-params after `inline:` (lifetime and MKI after `|`
    /// are allowed and ignored: we rekey per call, not per 2^31 packets).
    pub fn from_inline(params: &str) -> Result<MasterKey, SrtpError> {
        let b64 = params.split('|').next().unwrap_or_default();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| SrtpError::BadKey)?;
        let arr: [u8; KEY_LEN + SALT_LEN] = raw.try_into().map_err(|_| SrtpError::BadKey)?;
        Ok(MasterKey::from_bytes(&arr))
    }

    pub fn to_inline(&self) -> String {
        let mut b = self.key.to_vec();
        b.extend_from_slice(&self.salt);
        base64::engine::general_purpose::STANDARD.encode(b)
    }
}

/// AES-CM keystream XORed into `data` from counter block `iv`.
fn aes_cm(cipher: &EncryptingKey, iv: [u8; 16], data: &mut [u8]) {
    // CTR over a 128-bit counter is SRTP's AES-CM: the IV's low 16 bits
    // are zero, so the block counter never carries past them for a packet.
    let _ = cipher.less_safe_encrypt(data, EncryptionContext::Iv128(FixedLength::from(iv)));
}

fn ctr_key(key: &[u8]) -> EncryptingKey {
    EncryptingKey::ctr(UnboundCipherKey::new(&AES_128, key).expect("a 16-byte AES key"))
        .expect("AES-128-CTR")
}

/// RFC 3711 §4.3 with a key derivation rate of 0: the session key with
/// `label` (0–2 for RTP's cipher key, auth key and salt; 3–5 for RTCP's).
fn kdf(master: &MasterKey, label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..SALT_LEN].copy_from_slice(&master.salt);
    iv[7] ^= label;
    out.fill(0);
    aes_cm(&ctr_key(&master.key), iv, out);
}

/// Session keys for one of RTP or RTCP.
struct Keys {
    cipher: EncryptingKey,
    auth: hmac::Key,
    salt: [u8; SALT_LEN],
}

impl Keys {
    fn derive(master: &MasterKey, first_label: u8) -> Keys {
        let mut key = [0u8; KEY_LEN];
        let mut auth = [0u8; AUTH_KEY_LEN];
        let mut salt = [0u8; SALT_LEN];
        kdf(master, first_label, &mut key);
        kdf(master, first_label + 1, &mut auth);
        kdf(master, first_label + 2, &mut salt);
        Keys {
            cipher: ctr_key(&key),
            auth: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &auth),
            salt,
        }
    }

    fn iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..SALT_LEN].copy_from_slice(&self.salt);
        for (i, b) in ssrc.to_be_bytes().iter().enumerate() {
            iv[4 + i] ^= b;
        }
        for (i, b) in index.to_be_bytes()[2..].iter().enumerate() {
            iv[8 + i] ^= b;
        }
        iv
    }

    fn tag(&self, parts: &[&[u8]]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.auth);
        for p in parts {
            ctx.update(p);
        }
        ctx.sign()
    }
}

/// What a context knows of one SSRC.
#[derive(Default, Clone, Copy)]
struct Stream {
    roc: u32,
    /// Highest sequence number seen (s_l of RFC 3711 §3.3.1).
    last_seq: u16,
    /// Highest index accepted and the window below it (bit k: index − k).
    top: u64,
    window: u64,
    started: bool,
}

/// One direction's SRTP and SRTCP state.
pub struct Context {
    suite: Suite,
    rtp: Keys,
    rtcp: Keys,
    streams: HashMap<u32, Stream>,
    srtcp_index: u32,
}

/// Bytes of an RTP header with its CSRCs and extension, if the packet
/// holds them.
fn rtp_header_len(p: &[u8]) -> Option<usize> {
    if p.len() < 12 || p[0] >> 6 != 2 {
        return None;
    }
    let mut n = 12 + 4 * usize::from(p[0] & 0x0f);
    if p[0] & 0x10 != 0 {
        let words = u16::from_be_bytes([*p.get(n + 2)?, *p.get(n + 3)?]);
        n += 4 + 4 * usize::from(words);
    }
    (n <= p.len()).then_some(n)
}

impl Context {
    pub fn new(suite: Suite, master: &MasterKey) -> Context {
        Context {
            suite,
            rtp: Keys::derive(master, 0),
            rtcp: Keys::derive(master, 3),
            streams: HashMap::new(),
            srtcp_index: 0,
        }
    }

    fn stream(&mut self, ssrc: u32) -> Result<Stream, SrtpError> {
        if !self.streams.contains_key(&ssrc) && self.streams.len() >= MAX_SSRCS {
            return Err(SrtpError::TooManyStreams);
        }
        Ok(self.streams.get(&ssrc).copied().unwrap_or_default())
    }

    /// Encrypt and sign an RTP packet we send.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let h = rtp_header_len(packet).ok_or(SrtpError::Short)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let mut s = self.stream(ssrc)?;
        if s.started && seq < s.last_seq && s.last_seq - seq > 0x8000 {
            s.roc = s.roc.wrapping_add(1);
        }
        if !s.started || seq.wrapping_sub(s.last_seq) < 0x8000 {
            s.last_seq = seq;
        }
        s.started = true;
        self.streams.insert(ssrc, s);
        let index = (u64::from(s.roc) << 16) | u64::from(seq);
        let mut out = packet.to_vec();
        aes_cm(&self.rtp.cipher, self.rtp.iv(ssrc, index), &mut out[h..]);
        let tag = self.rtp.tag(&[&out, &s.roc.to_be_bytes()]);
        out.extend_from_slice(&tag.as_ref()[..self.suite.rtp_tag_len()]);
        Ok(out)
    }

    /// Check and decrypt an RTP packet the codec sent.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let tag_len = self.suite.rtp_tag_len();
        if packet.len() < 12 + tag_len {
            return Err(SrtpError::Short);
        }
        let (body, tag) = packet.split_at(packet.len() - tag_len);
        let h = rtp_header_len(body).ok_or(SrtpError::Short)?;
        let seq = u16::from_be_bytes([body[2], body[3]]);
        let ssrc = u32::from_be_bytes([body[8], body[9], body[10], body[11]]);
        let mut s = self.stream(ssrc)?;
        // RFC 3711 §3.3.1: the rollover counter this packet was sent with.
        let v = if !s.started {
            0
        } else if s.last_seq < 0x8000 {
            if seq.wrapping_sub(s.last_seq) > 0x8000 && seq > s.last_seq {
                // A late packet from before the last rollover (none before
                // the first).
                s.roc.saturating_sub(1)
            } else {
                s.roc
            }
        } else if seq < s.last_seq.wrapping_sub(0x8000) {
            s.roc.wrapping_add(1)
        } else {
            s.roc
        };
        let index = (u64::from(v) << 16) | u64::from(seq);
        if s.started {
            if index + REPLAY_WINDOW <= s.top {
                return Err(SrtpError::Replay);
            }
            if index <= s.top && s.window & (1 << (s.top - index)) != 0 {
                return Err(SrtpError::Replay);
            }
        }
        let want = self.rtp.tag(&[body, &v.to_be_bytes()]);
        if !constant_eq(&want.as_ref()[..tag_len], tag) {
            return Err(SrtpError::Auth);
        }
        // Authentic: move the window and the rollover state.
        if !s.started || index > s.top {
            let shift = if s.started { index - s.top } else { 0 };
            s.window = if shift >= REPLAY_WINDOW {
                0
            } else {
                s.window << shift
            };
            s.window |= 1;
            s.top = index;
            s.roc = v;
            s.last_seq = seq;
        } else {
            s.window |= 1 << (s.top - index);
        }
        s.started = true;
        self.streams.insert(ssrc, s);
        let mut out = body.to_vec();
        aes_cm(&self.rtp.cipher, self.rtp.iv(ssrc, index), &mut out[h..]);
        Ok(out)
    }

    /// Encrypt and sign an RTCP compound packet we send.
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        if packet.len() < 8 {
            return Err(SrtpError::Short);
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let index = self.srtcp_index;
        self.srtcp_index = (self.srtcp_index + 1) & 0x7fff_ffff;
        let mut out = packet.to_vec();
        aes_cm(
            &self.rtcp.cipher,
            self.rtcp.iv(ssrc, u64::from(index)),
            &mut out[8..],
        );
        out.extend_from_slice(&(0x8000_0000 | index).to_be_bytes());
        let tag = self.rtcp.tag(&[&out]);
        out.extend_from_slice(&tag.as_ref()[..SRTCP_TAG_LEN]);
        Ok(out)
    }

    /// Check and decrypt an RTCP packet the codec sent.
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        if packet.len() < 8 + 4 + SRTCP_TAG_LEN {
            return Err(SrtpError::Short);
        }
        let (signed, tag) = packet.split_at(packet.len() - SRTCP_TAG_LEN);
        let want = self.rtcp.tag(&[signed]);
        if !constant_eq(&want.as_ref()[..SRTCP_TAG_LEN], tag) {
            return Err(SrtpError::Auth);
        }
        let (body, trailer) = signed.split_at(signed.len() - 4);
        let e_index = u32::from_be_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let mut out = body.to_vec();
        if e_index & 0x8000_0000 != 0 {
            let ssrc = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
            let iv = self.rtcp.iv(ssrc, u64::from(e_index & 0x7fff_ffff));
            aes_cm(&self.rtcp.cipher, iv, &mut out[8..]);
        }
        Ok(out)
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[path = "srtp_tests.rs"]
mod tests;
