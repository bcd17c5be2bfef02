//! One independent WebRTC client (webrtc-rs 0.21) for the server's
//! integration tests and the load harness (`diemcau-load`).
//!
//! Owns: a peer connection bound to one loopback (or given) address that
//! can publish VP8 simulcast (rids `q`/`h`/`f`) plus Opus with the RFC 6464
//! audio level — synthetic frames, real VP8 clips, a real Opus tone, or a
//! user's own payloads ([`Payloads`]: the load harness's timing trailer) —,
//! optionally with RED and DTX as Chromium sends them; receive-only
//! transceivers whose packets are counted per track and either kept
//! ([`TrackStats`], for tests' assertions) or handed to the user's hook
//! ([`OnTrack`], the load harness's delay records); a seeded lossy UDP
//! relay for the receive path; WHIP/WHEP and `/ws` signalling. It never
//! touches the server's code: everything it knows about the server comes
//! over the wire. What is specific to one user (a test's assertions, the
//! load harness's timing records and its Janus signalling) stays with it.
//!
//! webrtc 0.21 facts this relies on:
//! - `PeerConnectionBuilder::with_udp_addrs(["127.0.0.1:0"])` binds exactly
//!   one socket (only a wildcard expands to interfaces); the
//!   interface/IP filters of older releases are gone, mDNS is switched off
//!   through `SettingEngineBuilder::with_multicast_dns_mode`.
//! - Simulcast is one `TrackLocalStaticRTP` whose `MediaStreamTrack` carries
//!   one encoding per rid (each with its own SSRC); the offer then holds
//!   `a=rid:<rid> send` and `a=simulcast:send q;h;f`. The application writes
//!   ready RTP and must set SSRC, payload type and the mid/rid header
//!   extensions itself (ids from `RtpSender::get_parameters`).
//! - Inbound RTCP stops in the interceptor chain; a custom interceptor (the
//!   tap) sees PLI/FIR/NACK and the raw RTX packets, and turns RTX back
//!   into the primary stream before the NACK generator looks (the core would
//!   only do it after the chain, so the generator re-NACKs repaired packets).
//! - The receiver maps RTX to its primary only through `a=ssrc-group:FID`;
//!   rid simulcast received peer to peer (no ssrc lines) cannot be repaired.
//!
//! Never hold `RtcClient::tap`'s lock across an await (use
//! [`RtcClient::tap`]): the interceptor takes it on the driver's thread.

mod client;
mod http;
mod publish;
mod receive;
pub mod red;
mod relay;
mod tap;
pub mod vp8;
mod ws;

use std::sync::Arc;
use std::sync::atomic::AtomicU8;
use std::time::{Duration, Instant};

pub use client::RtcClient;
pub use http::{HttpReply, HttpSession, delete, http_client, post_sdp};
pub use publish::{LayerCounters, LayerHandle, Payloads, Publisher, SendCounters, opus_tone};
pub use receive::{RtpRecord, TrackStats, unwrap_seqs};
pub use relay::{LossRelay, RelayStats, first_udp_candidate, rewrite_candidates};
pub use tap::{RtcpSent, TapState};
pub use vp8::vp8_frame_kind;
pub use webrtc::peer_connection::RTCPeerConnectionState;
pub use ws::{Join, WsClient, ws_join, ws_join_as, ws_join_with};

/// The engine's answer, the client's offer: these payload types.
pub const PT_VP8: u8 = 96;
pub const PT_RTX: u8 = 97;
pub const PT_OPUS: u8 = 111;
/// RED over Opus (RFC 2198), as Chromium offers it.
pub const PT_RED: u8 = 63;
pub const URI_MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
pub const URI_RID: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
pub const URI_AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// RFC 6464 byte of silence (V bit clear, -127 dBov).
pub const LEVEL_SILENT: u8 = 127;
/// A sender waits this long for its connection before it gives up sending:
/// generous for ICE + DTLS of many peers on a loaded 2-core machine.
const SEND_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Poll `cond` every 50 ms until it holds or `timeout` passes.
pub async fn wait_for<F: FnMut() -> bool>(timeout: Duration, mut cond: F) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// One simulcast layer the publisher sends.
#[derive(Clone, Debug)]
pub struct LayerSpec {
    pub rid: &'static str,
    pub kbps: u32,
    pub width: u16,
    pub height: u16,
}

/// The three layers: low / mid / high, 100 / 300 / 1200 kbit/s.
pub fn default_layers() -> Vec<LayerSpec> {
    vec![
        LayerSpec {
            rid: "q",
            kbps: 100,
            width: 320,
            height: 180,
        },
        LayerSpec {
            rid: "h",
            kbps: 300,
            width: 640,
            height: 360,
        },
        LayerSpec {
            rid: "f",
            kbps: 1200,
            width: 1280,
            height: 720,
        },
    ]
}

#[derive(Clone, Debug)]
pub struct PublishConfig {
    /// Simulcast layers; one layer with an empty rid sends plain VP8.
    pub layers: Vec<LayerSpec>,
    /// Send Opus audio.
    pub audio: bool,
    /// Initial RFC 6464 level, 0 (loud, 0 dBov) ..= 127 (silence), sent with
    /// the V (voice) bit set.
    pub audio_level: u8,
    /// The whole RFC 6464 byte (V bit and level), read before every audio
    /// packet, instead of `audio_level`: for a level the caller changes
    /// while the client runs (the load harness's talkers) or silence sent
    /// without the V bit.
    pub audio_level_byte: Option<Arc<AtomicU8>>,
    /// Opus DTX: while the level is silence (127), send one packet per
    /// 400 ms instead of one per 20 ms (sequence numbers stay contiguous,
    /// timestamps jump), as a browser's Opus does with DTX on.
    pub dtx: bool,
    /// What the video frames are: synthetic (default) or real VP8.
    pub video: VideoSource,
    /// Real Opus of a sine at this frequency (amplitude 0.3) instead of the
    /// tagged synthetic payloads: for tests that listen to what comes out.
    pub audio_tone_hz: Option<f32>,
    /// The caller's own payloads for synthetic video and audio (the load
    /// harness's timing trailer) instead of the tagged ones
    /// [`RtpRecord::layer`]/[`RtpRecord::source`] read.
    pub payloads: Option<CustomPayloads>,
}

/// The publisher's video frames.
#[derive(Clone, Debug, Default)]
pub enum VideoSource {
    /// Well-formed descriptors around undecodable frames that carry the
    /// layer rid and [`Publisher::source_tag`] (the recorder reads both).
    #[default]
    Synthetic,
    /// Real VP8 from IVF files, one per layer in layer order. Decodable by
    /// browsers; the frames carry no layer or source tag
    /// (`RtpRecord::layer`/`source` read garbage for them): match
    /// `RtpRecord::fingerprint` against the clips' fingerprints
    /// ([`vp8::IvfClip::fingerprints`]) instead. Keyframes come where the
    /// clip has them; a PLI or a resumed layer restarts the clip.
    Ivf(Vec<std::path::PathBuf>),
}

impl Default for PublishConfig {
    fn default() -> Self {
        Self {
            layers: default_layers(),
            audio: true,
            audio_level: 30,
            audio_level_byte: None,
            dtx: false,
            video: VideoSource::Synthetic,
            audio_tone_hz: None,
            payloads: None,
        }
    }
}

/// A caller's [`Payloads`], shareable and printable in a config.
#[derive(Clone)]
pub struct CustomPayloads(pub Arc<dyn Payloads>);

impl std::fmt::Debug for CustomPayloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomPayloads")
    }
}

/// Seeded random loss on the receive path (server -> client RTP).
#[derive(Clone, Copy, Debug)]
pub struct LossConfig {
    /// Probability of dropping an RTP datagram, 0.0 ..= 1.0.
    pub rate: f64,
    pub seed: u64,
}

/// Called once per remote track as it opens, with its kind (`audio` or
/// `video`); the closure it returns sees every RTP packet of that track
/// (after RTX repair): the load harness records delays there.
pub type TrackHook = dyn Fn(&str) -> Box<dyn FnMut(&rtc::rtp::packet::Packet) + Send> + Send + Sync;

/// A [`TrackHook`], shareable and printable in a config.
#[derive(Clone)]
pub struct OnTrack(pub Arc<TrackHook>);

impl std::fmt::Debug for OnTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnTrack")
    }
}

#[derive(Clone, Debug, Default)]
pub struct ClientConfig {
    pub name: String,
    pub publish: Option<PublishConfig>,
    /// `recvonly` video transceivers (first = stage, second = speaker, ...).
    pub recv_video: usize,
    /// `recvonly` audio transceivers.
    pub recv_audio: usize,
    /// Impair the receive path through a lossy relay (applied when the
    /// answer is set: the server's candidate is replaced by the relay's).
    pub loss: Option<LossConfig>,
    /// Local address to bind (None: 127.0.0.1; the load harness's Janus
    /// runs behind a veth address).
    pub bind_ip: Option<String>,
    /// Offer RED (`red/48000/2`, fmtp `111/111`) as Chromium does: a
    /// publisher then sends each Opus packet with the one before it.
    pub red: bool,
    /// Leave inbound RTX to webrtc-rs instead of repairing it in the tap
    /// (see `tap`): the load harness measured its delays that way, and
    /// with the repair diemcau's S1 p99 rose from 1.5 ms to 170–960 ms
    /// while Janus's did not move — still to be explained.
    pub keep_rtx: bool,
    /// Count each track's packets and bytes but keep no [`RtpRecord`]s:
    /// for clients that run for minutes and record through `on_track`.
    pub counters_only: bool,
    /// Sees each remote track's packets as they arrive.
    pub on_track: Option<OnTrack>,
}
