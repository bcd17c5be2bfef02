//! An independent WebRTC client (webrtc-rs 0.21) for integration tests.
//!
//! Owns: a loopback-only peer connection that can publish synthetic VP8
//! simulcast (rids `q`/`h`/`f`) plus Opus with the RFC 6464 audio level, and
//! record every packet it receives; a seeded lossy UDP relay for the receive
//! path; WHIP/WHEP/WebSocket signalling helpers. It never touches the server's
//! code: everything it knows about the server comes over the wire.
//!
//! webrtc 0.21 facts this relies on:
//! - `PeerConnectionBuilder::with_udp_addrs(["127.0.0.1:0"])` binds exactly
//!   one loopback socket (only a wildcard expands to interfaces); the
//!   interface/IP filters of older releases are gone, mDNS is switched off
//!   through `SettingEngineBuilder::with_multicast_dns_mode`.
//! - Simulcast is one `TrackLocalStaticRTP` whose `MediaStreamTrack` carries
//!   one encoding per rid (each with its own SSRC); the offer then holds
//!   `a=rid:<rid> send` and `a=simulcast:send q;h;f`. The application writes
//!   ready RTP and must set SSRC, payload type and the mid/rid header
//!   extensions itself (ids from `RtpSender::get_parameters`).
//! - Inbound RTCP stops in the interceptor chain; a custom interceptor (the
//!   [`Tap`]) sees PLI/FIR/NACK and the raw RTX packets, and turns RTX back
//!   into the primary stream before the NACK generator looks (the core would
//!   only do it after the chain, so the generator re-NACKs repaired packets).
//! - The receiver maps RTX to its primary only through `a=ssrc-group:FID`;
//!   rid simulcast received peer to peer (no ssrc lines) cannot be repaired.
//!
//! Never hold `RtcClient::tap`'s lock across an await (use
//! [`RtcClient::tap`]): the interceptor takes it on the driver's thread.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::interceptor::{Interceptor, Packet as IPacket, Slot, StreamInfo, TaggedPacket};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_VP8,
};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::sansio::Protocol;
use serde_json::Value;
use tokio::sync::watch;
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
    Registry, SettingEngineBuilder, register_default_interceptors,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use webrtc::runtime::TokioRuntime;

use crate::support::vp8_source::{ClipPlayer, IvfClip, MAX_VP8_PAYLOAD_BYTES, packetize_vp8};

pub const PT_VP8: u8 = 96;
pub const PT_RTX: u8 = 97;
pub const PT_OPUS: u8 = 111;
pub const URI_MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
pub const URI_RID: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
pub const URI_AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// 90 kHz clock / 30 frames per second.
const VIDEO_TICKS_PER_FRAME: u32 = 3000;
/// 20 ms of Opus at 48 kHz.
const AUDIO_TICKS_PER_FRAME: u32 = 960;
/// Keyframe every 60 frames = 2 s at 30 fps.
const KEYFRAME_INTERVAL_FRAMES: u64 = 60;
/// Opus TOC byte of our audio payloads: config 31 (CELT FB 20 ms), mono, 1 frame.
const OPUS_TOC: u8 = 0xfc;
/// Keeps every packet well under a 1200-byte loopback MTU budget after
/// SRTP and header extensions.
const MAX_VP8_CHUNK_BYTES: usize = 1000;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Run a media test: enter a loopback-only network namespace first, then
/// start a multi-threaded tokio runtime and drive `fut` on it.
pub fn run_in_loopback_netns<F: Future<Output = ()>>(fut: F) {
    crate::support::netns::enter_loopback_only();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(fut)
}

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

/// The three layers: low / mid / high.
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
    /// Initial RFC 6464 level, 0 (loud, 0 dBov) ..= 127 (silence).
    pub audio_level: u8,
    /// What the video frames are: synthetic (default) or real VP8.
    pub video: VideoSource,
    /// Real Opus of a sine at this frequency (amplitude 0.3) instead of the
    /// tagged synthetic payloads: for tests that listen to what comes out.
    pub audio_tone_hz: Option<f32>,
}

/// The publisher's video frames.
#[derive(Clone, Debug, Default)]
pub enum VideoSource {
    /// Well-formed descriptors around undecodable frames that carry the
    /// layer rid and [`Publisher::source_tag`] (the recorder reads both).
    #[default]
    Synthetic,
    /// Real VP8 from IVF files, one per layer in layer order (see
    /// `vp8_source::testsrc_clips`). Decodable by browsers; the frames carry
    /// no layer or source tag (`RtpRecord::layer`/`source` read garbage for
    /// them): match `RtpRecord::fingerprint` against
    /// `vp8_source::clip_fingerprints` instead. Keyframes come where the
    /// clip has them; a PLI or a resumed layer restarts the clip.
    Ivf(Vec<std::path::PathBuf>),
}

impl Default for PublishConfig {
    fn default() -> Self {
        Self {
            layers: default_layers(),
            audio: true,
            audio_level: 30,
            video: VideoSource::Synthetic,
            audio_tone_hz: None,
        }
    }
}

/// Seeded random loss on the receive path (server -> client RTP).
#[derive(Clone, Copy, Debug)]
pub struct LossConfig {
    /// Probability of dropping an RTP datagram, 0.0 ..= 1.0.
    pub rate: f64,
    pub seed: u64,
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
}

// ---------------------------------------------------------------------------
// Tap interceptor: sees RTCP feedback and raw (pre-RTX-decap) RTP
// ---------------------------------------------------------------------------

/// What the [`Tap`] saw, shared with the client.
#[derive(Default, Debug, Clone)]
pub struct TapState {
    /// PLI/FIR received, per media SSRC.
    pub keyframe_requests: HashMap<u32, u64>,
    /// SSRCs with a keyframe request not yet served by the publisher.
    pending_keyframe: HashSet<u32>,
    /// NACK feedback received (as a sender).
    pub nacks_received: u64,
    /// NACK feedback sent (as a receiver), and the sequence numbers asked for.
    pub nacks_sent: u64,
    pub nacked_seqs_sent: u64,
    /// PLI/FIR sent.
    pub keyframe_requests_sent: u64,
    /// Inbound RTP datagrams per payload type, before RTX de-encapsulation.
    pub rtp_in_by_pt: BTreeMap<u8, u64>,
    /// RTX packets turned back into their primary stream by the tap.
    pub rtx_repaired: u64,
}

impl TapState {
    /// RTX packets received (RFC 4588 retransmissions).
    pub fn rtx_received(&self) -> u64 {
        self.rtp_in_by_pt.get(&PT_RTX).copied().unwrap_or(0)
    }
}

/// An interceptor that observes feedback and RTP, and turns inbound RTX
/// back into the primary stream.
///
/// Why the RTX rewrite: webrtc-rs 0.21 de-encapsulates RTX only after the
/// whole interceptor chain, so its NACK generator never sees a repaired
/// sequence number arrive and keeps NACKing it (≈20 NACKs per lost packet
/// in a peer-to-peer run). Doing it here, wire-ward of the generator, makes
/// the client NACK like a browser does.
struct Tap {
    state: Arc<Mutex<TapState>>,
    /// RTX SSRC -> (primary SSRC, primary payload type, RTX payload type).
    rtx: HashMap<u32, (u32, u8, Option<u8>)>,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl Tap {
    fn new(state: Arc<Mutex<TapState>>) -> Self {
        Self {
            state,
            rtx: HashMap::new(),
            reads: VecDeque::new(),
            writes: VecDeque::new(),
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for Tap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        {
            let mut s = self.state.lock().unwrap();
            match &mut msg.message.packet {
                IPacket::Rtp(p) => {
                    *s.rtp_in_by_pt.entry(p.header.payload_type).or_default() += 1;
                    if let Some(&(primary, pt, rtx_pt)) = self.rtx.get(&p.header.ssrc)
                        && rtx_pt.is_none_or(|r| r == p.header.payload_type)
                    {
                        if p.payload.len() < 2 {
                            // Padding-only probe: nothing to recover.
                            return Ok(());
                        }
                        s.rtx_repaired += 1;
                        p.header.ssrc = primary;
                        p.header.payload_type = pt;
                        p.header.sequence_number = u16::from_be_bytes([p.payload[0], p.payload[1]]);
                        p.payload = p.payload.slice(2..);
                    }
                }
                IPacket::Rtcp(packets) => {
                    for p in packets {
                        let any = p.as_any();
                        if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
                            *s.keyframe_requests.entry(pli.media_ssrc).or_default() += 1;
                            s.pending_keyframe.insert(pli.media_ssrc);
                        } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                            for e in &fir.fir {
                                *s.keyframe_requests.entry(e.ssrc).or_default() += 1;
                                s.pending_keyframe.insert(e.ssrc);
                            }
                        } else if any.is::<TransportLayerNack>() {
                            s.nacks_received += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let IPacket::Rtcp(packets) = &msg.message.packet {
            let mut s = self.state.lock().unwrap();
            for p in packets {
                let any = p.as_any();
                if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
                    s.nacks_sent += 1;
                    for pair in &nack.nacks {
                        s.nacked_seqs_sent += 1 + pair.lost_packets.count_ones() as u64;
                    }
                } else if any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>() {
                    s.keyframe_requests_sent += 1;
                }
            }
        }
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.writes.pop_front()
    }
}

impl Interceptor for Tap {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        if let Some(rtx) = info.ssrc_rtx {
            self.rtx
                .insert(rtx, (info.ssrc, info.payload_type, info.payload_type_rtx));
        }
    }
    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        if let Some(rtx) = info.ssrc_rtx {
            self.rtx.remove(&rtx);
        }
    }
}

// ---------------------------------------------------------------------------
// Receive-side statistics
// ---------------------------------------------------------------------------

/// One received RTP packet (after RTX de-encapsulation).
#[derive(Clone, Debug)]
pub struct RtpRecord {
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    pub pt: u8,
    pub marker: bool,
    pub payload_len: usize,
    /// First packet of a VP8 frame (S bit set, partition 0).
    pub frame_start: bool,
    /// First packet of a VP8 keyframe.
    pub keyframe: bool,
    /// RFC 6464 level if the packet carried the extension.
    pub audio_level: Option<u8>,
    /// Simulcast layer (rid byte, e.g. b'f') written by our publisher,
    /// readable on the first packet of each video frame.
    pub layer: Option<u8>,
    /// [`Publisher::source_tag`] of the publisher that made this media
    /// (video: first packet of a frame; audio: every packet).
    pub source: Option<u32>,
    /// `vp8_source::frame_fingerprint` of the frame, on its first packet
    /// (video only): identifies frames of real-VP8 clips.
    pub fingerprint: Option<u64>,
    /// A video packet's payload (VP8 descriptor included), for tests that
    /// decode what arrived; empty for audio.
    pub payload: bytes::Bytes,
    pub at: Instant,
}

/// Everything received on one transceiver.
#[derive(Clone, Debug, Default)]
pub struct TrackStats {
    pub transceiver: usize,
    pub mid: Option<String>,
    /// `audio` or `video`.
    pub kind: String,
    /// SSRC -> rid for simulcast receive (peer-to-peer only).
    pub rids: HashMap<u32, String>,
    pub packets: Vec<RtpRecord>,
    pub bytes: u64,
}

impl TrackStats {
    pub fn packet_count(&self) -> usize {
        self.packets.len()
    }

    pub fn keyframes(&self) -> usize {
        self.packets.iter().filter(|p| p.keyframe).count()
    }

    /// The packets of one SSRC, in arrival order.
    pub fn of_ssrc(&self, ssrc: u32) -> Vec<&RtpRecord> {
        self.packets.iter().filter(|p| p.ssrc == ssrc).collect()
    }

    pub fn ssrcs(&self) -> Vec<u32> {
        let mut v: Vec<u32> = Vec::new();
        for p in &self.packets {
            if !v.contains(&p.ssrc) {
                v.push(p.ssrc);
            }
        }
        v
    }

    /// Extended (unwrapped) sequence numbers in arrival order.
    pub fn ext_seqs(&self) -> Vec<i64> {
        unwrap_seqs(self.packets.iter().map(|p| p.seq))
    }

    /// Sequence numbers missing between the first and last received
    /// (duplicates and reordering forgiven).
    pub fn missing_seqs(&self) -> Vec<i64> {
        let ext = self.ext_seqs();
        let set: HashSet<i64> = ext.iter().copied().collect();
        let (Some(lo), Some(hi)) = (set.iter().min(), set.iter().max()) else {
            return vec![];
        };
        (*lo..=*hi).filter(|s| !set.contains(s)).collect()
    }

    /// Delivery over the settled part of the stream: sequence numbers from
    /// the first received up to the highest received `settle` before the
    /// last arrival (later holes may still be under repair). Only packets of
    /// `ssrc` when given. Returns (expected, missing seqs).
    pub fn settled_delivery(&self, ssrc: Option<u32>, settle: Duration) -> (usize, Vec<i64>) {
        let pkts: Vec<&RtpRecord> = self
            .packets
            .iter()
            .filter(|p| ssrc.is_none_or(|s| p.ssrc == s))
            .collect();
        let Some(last) = pkts.last().map(|p| p.at) else {
            return (0, vec![]);
        };
        let cutoff = last.checked_sub(settle).unwrap_or(last);
        let ext = unwrap_seqs(pkts.iter().map(|p| p.seq));
        let set: HashSet<i64> = ext.iter().copied().collect();
        let lo = ext.iter().copied().min().unwrap_or(0);
        let hi = pkts
            .iter()
            .zip(&ext)
            .filter(|(p, _)| p.at <= cutoff)
            .map(|(_, e)| *e)
            .max()
            .unwrap_or(lo);
        let missing: Vec<i64> = (lo..=hi).filter(|s| !set.contains(s)).collect();
        ((hi - lo + 1) as usize, missing)
    }

    /// Distinct sequence numbers received.
    pub fn unique_seqs(&self) -> usize {
        self.ext_seqs().into_iter().collect::<HashSet<_>>().len()
    }

    /// Places in arrival order where the next packet is not previous + 1
    /// (index of the later packet, previous ext seq, next ext seq).
    pub fn seq_discontinuities(&self) -> Vec<(usize, i64, i64)> {
        let ext: Vec<i64> = self.first_arrivals().into_iter().map(|(_, s)| s).collect();
        ext.windows(2)
            .enumerate()
            .filter(|(_, w)| w[1] != w[0] + 1)
            .map(|(i, w)| (i + 1, w[0], w[1]))
            .collect()
    }

    /// (index into `packets`, extended seq) of packets that advanced the
    /// stream: a seq at or below one already seen is a retransmission (NACK
    /// answer, or the sender's RTX padding while probing bandwidth), which a
    /// receiver's jitter buffer drops as a duplicate.
    pub fn first_arrivals(&self) -> Vec<(usize, i64)> {
        let mut max = i64::MIN;
        let mut out = Vec::new();
        for (i, s) in self.ext_seqs().into_iter().enumerate() {
            if s > max {
                max = s;
                out.push((i, s));
            }
        }
        out
    }

    /// Places where the RTP timestamp went backwards (wrapping compare),
    /// along the packets that advanced the stream.
    pub fn timestamp_regressions(&self) -> Vec<(usize, u32, u32)> {
        let firsts = self.first_arrivals();
        firsts
            .windows(2)
            .filter_map(|w| {
                let (a, b) = (&self.packets[w[0].0], &self.packets[w[1].0]);
                ((b.ts.wrapping_sub(a.ts) as i32) < 0).then_some((w[1].0, a.ts, b.ts))
            })
            .collect()
    }

    /// Distinct publisher source tags seen.
    pub fn sources(&self) -> Vec<u32> {
        let mut v: Vec<u32> = Vec::new();
        for s in self.packets.iter().filter_map(|p| p.source) {
            if !v.contains(&s) {
                v.push(s);
            }
        }
        v
    }

    /// Packets of frames from publisher `source` (video: counted from frame
    /// starts; audio: every packet).
    pub fn packets_from(&self, source: u32) -> usize {
        self.packets
            .iter()
            .filter(|p| p.source == Some(source))
            .count()
    }

    /// Frame starts whose fingerprint is (`true`) or is not (`false`) in
    /// `clip` (see [`VideoSource::Ivf`]), as (all, keyframes).
    pub fn frames_by_clip(&self, clip: &HashSet<u64>, inside: bool) -> (usize, usize) {
        let starts = self
            .packets
            .iter()
            .filter(|p| p.fingerprint.is_some_and(|f| clip.contains(&f) == inside));
        starts.fold((0, 0), |(n, k), p| (n + 1, k + usize::from(p.keyframe)))
    }

    /// The layer (rid byte) of the latest frame start, as a char.
    pub fn current_layer(&self) -> Option<char> {
        self.packets
            .iter()
            .rev()
            .find_map(|p| p.layer)
            .map(char::from)
    }

    /// Frame starts of layer `rid` received at or after `t`.
    pub fn frames_of_layer_since(&self, rid: char, t: Instant) -> usize {
        self.packets
            .iter()
            .filter(|p| p.at >= t && p.layer == Some(rid as u8))
            .count()
    }

    /// Packets received at or after `t`.
    pub fn since(&self, t: Instant) -> usize {
        self.packets.iter().filter(|p| p.at >= t).count()
    }

    pub fn last_arrival(&self) -> Option<Instant> {
        self.packets.last().map(|p| p.at)
    }

    /// Short human summary for failure messages.
    pub fn summary(&self) -> String {
        format!(
            "mid={:?} kind={} packets={} bytes={} keyframes={} ssrcs={:?} sources={:?} \
             current_layer={:?} first_is_keyframe={:?} missing_seqs={} discontinuities={}",
            self.mid,
            self.kind,
            self.packets.len(),
            self.bytes,
            self.keyframes(),
            self.ssrcs(),
            self.sources(),
            self.current_layer(),
            self.packets.first().map(|p| p.keyframe),
            self.missing_seqs().len(),
            self.seq_discontinuities().len(),
        )
    }
}

/// Unwrap 16-bit sequence numbers into a monotone-ish i64 space.
pub fn unwrap_seqs(seqs: impl Iterator<Item = u16>) -> Vec<i64> {
    let mut out = Vec::new();
    let mut last: Option<i64> = None;
    for s in seqs {
        let ext = match last {
            None => s as i64,
            Some(l) => l + (s.wrapping_sub(l as u16) as i16) as i64,
        };
        last = Some(ext);
        out.push(ext);
    }
    out
}

/// (frame_start, keyframe) from a VP8 RTP payload (RFC 7741 descriptor).
pub fn vp8_frame_kind(p: &[u8]) -> (bool, bool) {
    let (start, key, _) = vp8_parse(p);
    (start, key)
}

/// What this client's publisher wrote into a frame: (layer rid byte,
/// source tag), read from the first packet of a frame.
fn vp8_source(p: &[u8]) -> Option<(u8, u32)> {
    let (start, key, off) = vp8_parse(p);
    if !start {
        return None;
    }
    let i = off + if key { 10 } else { 3 };
    let b = p.get(i..i + 5)?;
    Some((b[0], u32::from_le_bytes([b[1], b[2], b[3], b[4]])))
}

/// (frame_start, keyframe, offset of the VP8 payload header).
fn vp8_parse(p: &[u8]) -> (bool, bool, usize) {
    if p.is_empty() {
        return (false, false, 0);
    }
    let b0 = p[0];
    let start = b0 & 0x10 != 0 && b0 & 0x07 == 0;
    let mut i = 1;
    if b0 & 0x80 != 0 {
        let Some(&x) = p.get(1) else {
            return (false, false, 0);
        };
        i = 2;
        if x & 0x80 != 0 {
            match p.get(i) {
                Some(m) if m & 0x80 != 0 => i += 2,
                Some(_) => i += 1,
                None => return (false, false, 0),
            }
        }
        if x & 0x40 != 0 {
            i += 1;
        }
        if x & 0x30 != 0 {
            i += 1;
        }
    }
    match p.get(i) {
        Some(h) if start => (true, h & 0x01 == 0, i),
        _ => (start, false, i),
    }
}

#[derive(Default)]
struct RecvState {
    tracks: BTreeMap<usize, TrackStats>,
    mids: HashMap<usize, String>,
}

// ---------------------------------------------------------------------------
// Peer connection event handler
// ---------------------------------------------------------------------------

struct Handler {
    state_tx: watch::Sender<RTCPeerConnectionState>,
    gathered_tx: watch::Sender<bool>,
    recv: Arc<Mutex<RecvState>>,
    remotes: Arc<Mutex<Vec<Arc<dyn TrackRemote>>>>,
    audio_level_ext: Arc<Mutex<Option<u8>>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered_tx.send(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!("rtc_client connection state: {state}");
        let _ = self.state_tx.send(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        self.remotes.lock().unwrap().push(track.clone());
        let recv = self.recv.clone();
        let level_ext = self.audio_level_ext.clone();
        tokio::spawn(async move {
            let kind = match track.kind().await {
                RtpCodecKind::Audio => "audio",
                RtpCodecKind::Video => "video",
                _ => "unknown",
            };
            let mut transceiver: Option<usize> = None;
            while let Some(evt) = track.poll().await {
                match evt {
                    TrackRemoteEvent::OnOpen(init) => {
                        let t: usize = init.receiver_id.into();
                        transceiver = Some(t);
                        let mut r = recv.lock().unwrap();
                        let ts = r.tracks.entry(t).or_insert_with(|| TrackStats {
                            transceiver: t,
                            kind: kind.into(),
                            ..Default::default()
                        });
                        if let Some(rid) = init.rid {
                            ts.rids.insert(init.ssrc, rid);
                        }
                    }
                    TrackRemoteEvent::OnRtpPacket(pkt) => {
                        let Some(t) = transceiver else { continue };
                        let at = Instant::now();
                        let (frame_start, keyframe) = if kind == "video" {
                            vp8_frame_kind(&pkt.payload)
                        } else {
                            (false, false)
                        };
                        let (layer, source) = if kind == "video" {
                            match vp8_source(&pkt.payload) {
                                Some((l, s)) => (Some(l), Some(s)),
                                None => (None, None),
                            }
                        } else {
                            let p = &pkt.payload;
                            let src = (p.len() >= 5 && p[0] == OPUS_TOC)
                                .then(|| u32::from_le_bytes([p[1], p[2], p[3], p[4]]));
                            (None, src)
                        };
                        let fingerprint = (kind == "video" && frame_start).then(|| {
                            let (_, _, off) = vp8_parse(&pkt.payload);
                            let off = off.min(pkt.payload.len());
                            crate::support::vp8_source::frame_fingerprint(&pkt.payload[off..])
                        });
                        let level_id = *level_ext.lock().unwrap();
                        let audio_level = level_id
                            .and_then(|id| pkt.header.get_extension(id))
                            .and_then(|b| b.first().map(|v| v & 0x7f));
                        let mut r = recv.lock().unwrap();
                        let ts = r.tracks.entry(t).or_default();
                        ts.bytes += pkt.payload.len() as u64;
                        ts.packets.push(RtpRecord {
                            seq: pkt.header.sequence_number,
                            ts: pkt.header.timestamp,
                            ssrc: pkt.header.ssrc,
                            pt: pkt.header.payload_type,
                            marker: pkt.header.marker,
                            payload_len: pkt.payload.len(),
                            frame_start,
                            keyframe,
                            audio_level,
                            layer,
                            source,
                            fingerprint,
                            payload: if kind == "video" {
                                pkt.payload.clone()
                            } else {
                                bytes::Bytes::new()
                            },
                            at,
                        });
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
    }
}

// ---------------------------------------------------------------------------
// Publisher
// ---------------------------------------------------------------------------

/// Per-layer sender counters, readable by tests.
#[derive(Debug, Default)]
pub struct LayerCounters {
    pub packets: AtomicU64,
    pub frames: AtomicU64,
    pub keyframes: AtomicU64,
    /// Keyframes sent because a PLI/FIR asked for one.
    pub keyframes_on_request: AtomicU64,
    pub write_errors: AtomicU64,
}

pub struct LayerHandle {
    pub spec: LayerSpec,
    pub ssrc: u32,
    pub paused: AtomicBool,
    pub counters: LayerCounters,
}

pub struct Publisher {
    /// Random tag written into every frame, so receivers can tell whose
    /// media they got.
    pub source_tag: u32,
    pub layers: Vec<Arc<LayerHandle>>,
    pub audio_ssrc: Option<u32>,
    pub audio_level: Arc<AtomicU8>,
    pub audio_packets: Arc<AtomicU64>,
    video: Arc<TrackLocalStaticRTP>,
    audio: Option<Arc<TrackLocalStaticRTP>>,
}

impl Publisher {
    pub fn layer(&self, rid: &str) -> &Arc<LayerHandle> {
        self.layers
            .iter()
            .find(|l| l.spec.rid == rid)
            .unwrap_or_else(|| panic!("publisher has no layer with rid {rid:?}"))
    }
}

fn vp8_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// Negotiated ids and payload types a sender needs to build packets.
#[derive(Clone, Debug, Default)]
struct SendParams {
    pt: Option<u8>,
    mid: Option<String>,
    mid_id: Option<u8>,
    rid_id: Option<u8>,
    level_id: Option<u8>,
}

async fn send_params(
    pc: &Arc<dyn PeerConnection>,
    track_ssrc: u32,
    mime: &str,
) -> Option<SendParams> {
    for t in pc.get_transceivers().await {
        let Ok(Some(sender)) = t.sender().await else {
            continue;
        };
        if !sender.track().ssrcs().await.contains(&track_ssrc) {
            continue;
        }
        let params = sender.get_parameters().await.ok()?;
        let mut sp = SendParams {
            mid: t.mid().await.ok().flatten(),
            ..Default::default()
        };
        sp.pt = params
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime))
            .map(|c| c.payload_type);
        for ext in &params.rtp_parameters.header_extensions {
            match ext.uri.as_str() {
                URI_MID => sp.mid_id = Some(ext.id as u8),
                URI_RID => sp.rid_id = Some(ext.id as u8),
                URI_AUDIO_LEVEL => sp.level_id = Some(ext.id as u8),
                _ => {}
            }
        }
        return Some(sp);
    }
    None
}

/// Build one synthetic VP8 frame split into RTP payloads.
fn vp8_frame(
    spec: &LayerSpec,
    source_tag: u32,
    picture_id: u16,
    keyframe: bool,
    frame_no: u64,
) -> Vec<Vec<u8>> {
    let mut size = (spec.kbps as usize * 1000 / 8 / 30).max(60);
    if keyframe {
        size *= 3;
    }
    let mut frame = Vec::with_capacity(size);
    let first_part: u32 = 40;
    let tag = (first_part << 5) | 0x10 | if keyframe { 0 } else { 1 };
    frame.extend_from_slice(&[tag as u8, (tag >> 8) as u8, (tag >> 16) as u8]);
    if keyframe {
        frame.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        frame.extend_from_slice(&spec.width.to_le_bytes());
        frame.extend_from_slice(&spec.height.to_le_bytes());
    }
    frame.push(spec.rid.bytes().next().unwrap_or(b'-'));
    frame.extend_from_slice(&source_tag.to_le_bytes());
    while frame.len() < size {
        frame.push((frame_no as u8) ^ (frame.len() as u8));
    }
    let pid = picture_id & 0x7fff;
    frame
        .chunks(MAX_VP8_CHUNK_BYTES)
        .enumerate()
        .map(|(i, chunk)| {
            let s = if i == 0 { 0x10 } else { 0x00 };
            let mut p = vec![0x80 | s, 0x80, 0x80 | (pid >> 8) as u8, pid as u8];
            p.extend_from_slice(chunk);
            p
        })
        .collect()
}

async fn run_video(
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    layers: Vec<Arc<LayerHandle>>,
    source_tag: u32,
    tap: Arc<Mutex<TapState>>,
    mut state_rx: watch::Receiver<RTCPeerConnectionState>,
    // Real VP8: one looping clip per layer; `None` sends synthetic frames.
    mut clips: Option<Vec<ClipPlayer>>,
) {
    if wait_connected_rx(&mut state_rx, Duration::from_secs(60))
        .await
        .is_err()
    {
        return;
    }
    let Some(sp) = send_params(&pc, layers[0].ssrc, MIME_TYPE_VP8).await else {
        tracing::warn!("rtc_client: no negotiated sender for the video track");
        return;
    };
    let pt = sp.pt.unwrap_or(PT_VP8);
    let mut seqs: Vec<u16> = layers.iter().map(|_| rand::random()).collect();
    let mut pids: Vec<u16> = layers
        .iter()
        .map(|_| rand::random::<u16>() & 0x7fff)
        .collect();
    let mut was_paused: Vec<bool> = layers.iter().map(|_| false).collect();
    let ts_base: u32 = rand::random();
    let mut tick = tokio::time::interval(Duration::from_micros(33_333));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut frame_no: u64 = 0;
    loop {
        tick.tick().await;
        if matches!(
            *state_rx.borrow(),
            RTCPeerConnectionState::Closed | RTCPeerConnectionState::Failed
        ) {
            return;
        }
        let ts = ts_base.wrapping_add((frame_no as u32).wrapping_mul(VIDEO_TICKS_PER_FRAME));
        for (i, layer) in layers.iter().enumerate() {
            let paused = layer.paused.load(Ordering::Relaxed);
            let requested = tap.lock().unwrap().pending_keyframe.remove(&layer.ssrc);
            if paused {
                was_paused[i] = true;
                continue;
            }
            // A real encoder restarts a resumed layer with a keyframe.
            let resumed = std::mem::take(&mut was_paused[i]);
            let (payloads, keyframe) = match clips.as_mut().map(|c| &mut c[i]) {
                None => {
                    let periodic = frame_no.is_multiple_of(KEYFRAME_INTERVAL_FRAMES);
                    let keyframe = periodic || requested || resumed;
                    if requested && !periodic {
                        layer
                            .counters
                            .keyframes_on_request
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    let payloads = vp8_frame(&layer.spec, source_tag, pids[i], keyframe, frame_no);
                    (payloads, keyframe)
                }
                Some(player) => {
                    if requested || resumed {
                        // Frame 0 of the clip is a real keyframe.
                        player.restart();
                    }
                    if requested {
                        layer
                            .counters
                            .keyframes_on_request
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    let (frame, keyframe) = player.next_frame();
                    let payloads = packetize_vp8(frame, Some(pids[i]), MAX_VP8_PAYLOAD_BYTES);
                    (payloads, keyframe)
                }
            };
            pids[i] = (pids[i] + 1) & 0x7fff;
            let n = payloads.len();
            for (k, payload) in payloads.into_iter().enumerate() {
                let mut header = rtc::rtp::header::Header {
                    version: 2,
                    marker: k + 1 == n,
                    payload_type: pt,
                    sequence_number: seqs[i],
                    timestamp: ts,
                    ssrc: layer.ssrc,
                    ..Default::default()
                };
                seqs[i] = seqs[i].wrapping_add(1);
                if let (Some(id), Some(mid)) = (sp.mid_id, sp.mid.as_ref()) {
                    let _ = header.set_extension(id, Bytes::from(mid.clone().into_bytes()));
                }
                if let Some(id) = sp.rid_id
                    && !layer.spec.rid.is_empty()
                {
                    let _ = header.set_extension(id, Bytes::from_static(layer.spec.rid.as_bytes()));
                }
                let packet = rtc::rtp::packet::Packet {
                    header,
                    payload: Bytes::from(payload),
                };
                if track.write_rtp(packet).await.is_err() {
                    layer.counters.write_errors.fetch_add(1, Ordering::Relaxed);
                } else {
                    layer.counters.packets.fetch_add(1, Ordering::Relaxed);
                }
            }
            layer.counters.frames.fetch_add(1, Ordering::Relaxed);
            if keyframe {
                layer.counters.keyframes.fetch_add(1, Ordering::Relaxed);
            }
        }
        frame_no += 1;
    }
}

/// One second of a sine at `hz` as 50 real Opus packets (20 ms, mono);
/// with a whole number of cycles per second it loops without a click.
pub fn opus_tone(hz: f32) -> Vec<Vec<u8>> {
    let mut enc = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Audio)
        .expect("opus encoder");
    (0..50)
        .map(|f| {
            let pcm: Vec<f32> = (0..960)
                .map(|i| {
                    let t = (f * 960 + i) as f32 / 48_000.0;
                    0.3 * (2.0 * std::f32::consts::PI * hz * t).sin()
                })
                .collect();
            enc.encode_vec_float(&pcm, 1_500).expect("opus encodes")
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn run_audio(
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    source_tag: u32,
    tone: Option<Vec<Vec<u8>>>,
    level: Arc<AtomicU8>,
    sent: Arc<AtomicU64>,
    mut state_rx: watch::Receiver<RTCPeerConnectionState>,
) {
    if wait_connected_rx(&mut state_rx, Duration::from_secs(60))
        .await
        .is_err()
    {
        return;
    }
    let Some(sp) = send_params(&pc, ssrc, MIME_TYPE_OPUS).await else {
        tracing::warn!("rtc_client: no negotiated sender for the audio track");
        return;
    };
    let pt = sp.pt.unwrap_or(PT_OPUS);
    let mut seq: u16 = rand::random();
    let mut ts: u32 = rand::random();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if matches!(
            *state_rx.borrow(),
            RTCPeerConnectionState::Closed | RTCPeerConnectionState::Failed
        ) {
            return;
        }
        let mut header = rtc::rtp::header::Header {
            version: 2,
            payload_type: pt,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            ..Default::default()
        };
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(AUDIO_TICKS_PER_FRAME);
        if let (Some(id), Some(mid)) = (sp.mid_id, sp.mid.as_ref()) {
            let _ = header.set_extension(id, Bytes::from(mid.clone().into_bytes()));
        }
        if let Some(id) = sp.level_id {
            let l = level.load(Ordering::Relaxed).min(127);
            // V bit set: voice activity.
            let _ = header.set_extension(id, Bytes::from(vec![0x80 | l]));
        }
        let payload = match tone.as_ref() {
            Some(t) => t[usize::from(seq) % t.len()].clone(),
            None => {
                // Opus TOC for a 20 ms CELT frame, our source tag, filler.
                let mut payload = vec![OPUS_TOC];
                payload.extend_from_slice(&source_tag.to_le_bytes());
                payload.extend_from_slice(&[0xa5; 36]);
                payload
            }
        };
        let packet = rtc::rtp::packet::Packet {
            header,
            payload: Bytes::from(payload),
        };
        if track.write_rtp(packet).await.is_ok() {
            sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn wait_connected_rx(
    rx: &mut watch::Receiver<RTCPeerConnectionState>,
    timeout: Duration,
) -> Result<(), String> {
    let r = tokio::time::timeout(timeout, async {
        loop {
            let s = *rx.borrow_and_update();
            match s {
                RTCPeerConnectionState::Connected => return Ok(()),
                RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                    return Err(format!("peer connection reached state {s}"));
                }
                _ => {}
            }
            if rx.changed().await.is_err() {
                return Err("peer connection dropped".to_string());
            }
        }
    })
    .await;
    match r {
        Ok(r) => r,
        Err(_) => Err(format!(
            "peer connection not connected within {timeout:?} (state {})",
            *rx.borrow()
        )),
    }
}

// ---------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------

pub struct RtcClient {
    pub name: String,
    pub pc: Arc<dyn PeerConnection>,
    pub publisher: Option<Publisher>,
    pub tap: Arc<Mutex<TapState>>,
    pub relay: Option<LossRelay>,
    loss: Option<LossConfig>,
    recv: Arc<Mutex<RecvState>>,
    remotes: Arc<Mutex<Vec<Arc<dyn TrackRemote>>>>,
    audio_level_ext: Arc<Mutex<Option<u8>>>,
    state_rx: watch::Receiver<RTCPeerConnectionState>,
    gathered_rx: watch::Receiver<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn media_engine() -> Result<MediaEngine, BoxError> {
    let mut me = MediaEngine::default();
    let fb = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    };
    let mut vp8 = vp8_codec();
    vp8.rtcp_feedback = vec![
        fb("goog-remb", ""),
        fb("ccm", "fir"),
        fb("nack", ""),
        fb("nack", "pli"),
    ];
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: vp8,
            payload_type: PT_VP8,
        },
        RtpCodecKind::Video,
    )?;
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_RTX.to_owned(),
                clock_rate: 90000,
                channels: 0,
                sdp_fmtp_line: format!("apt={PT_VP8}"),
                rtcp_feedback: vec![],
            },
            payload_type: PT_RTX,
        },
        RtpCodecKind::Video,
    )?;
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus_codec(),
            payload_type: PT_OPUS,
        },
        RtpCodecKind::Audio,
    )?;
    for uri in [URI_MID, URI_AUDIO_LEVEL] {
        me.register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: uri.to_owned(),
            },
            RtpCodecKind::Audio,
            None,
        )?;
    }
    Ok(me)
}

impl RtcClient {
    /// Build a loopback-only peer connection with the configured send
    /// tracks and recvonly transceivers (in that order).
    pub async fn new(config: ClientConfig) -> Result<Self, BoxError> {
        let mut me = media_engine()?;
        // NACK generator/responder, mid/rid/rrid extensions, TWCC, RR/SR.
        let registry = register_default_interceptors(Registry::new(), &mut me)?;
        let tap = Arc::new(Mutex::new(TapState::default()));
        // Between the wire-most interceptors and the NACK generator (7_000):
        // sees outbound NACKs after they are made, inbound RTP before RTX
        // de-encapsulation (which happens after the whole chain).
        let registry = registry.with(Slot::from(3_500), Tap::new(tap.clone()));
        let setting_engine = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_network_types(vec![NetworkType::Udp4])
            .with_include_loopback_candidate(true)
            .build();
        let (state_tx, state_rx) = watch::channel(RTCPeerConnectionState::New);
        let (gathered_tx, gathered_rx) = watch::channel(false);
        let recv = Arc::new(Mutex::new(RecvState::default()));
        let remotes = Arc::new(Mutex::new(Vec::new()));
        let audio_level_ext = Arc::new(Mutex::new(None));
        let handler = Arc::new(Handler {
            state_tx,
            gathered_tx,
            recv: recv.clone(),
            remotes: remotes.clone(),
            audio_level_ext: audio_level_ext.clone(),
        });
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(me)
            .with_setting_engine(setting_engine)
            .with_interceptor_registry(registry)
            .with_runtime(Arc::new(TokioRuntime))
            .with_handler(handler)
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .build()
            .await?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let mut tasks = Vec::new();

        let mut publisher = None;
        if let Some(pubcfg) = &config.publish {
            let stream_id = format!("{}-stream", sanitize(&config.name));
            let layers: Vec<Arc<LayerHandle>> = pubcfg
                .layers
                .iter()
                .map(|spec| {
                    Arc::new(LayerHandle {
                        spec: spec.clone(),
                        ssrc: rand::random(),
                        paused: AtomicBool::new(false),
                        counters: LayerCounters::default(),
                    })
                })
                .collect();
            let codings = layers
                .iter()
                .map(|l| RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        rid: l.spec.rid.to_string(),
                        ssrc: Some(l.ssrc),
                        ..Default::default()
                    },
                    codec: vp8_codec(),
                    active: true,
                    max_bitrate: l.spec.kbps * 1000,
                    ..Default::default()
                })
                .collect();
            let video = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                stream_id.clone(),
                format!("{}-video", sanitize(&config.name)),
                "video".to_string(),
                RtpCodecKind::Video,
                codings,
            )));
            let sendonly = || RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Sendonly,
                streams: vec![],
                send_encodings: vec![],
            };
            pc.add_transceiver_from_track(video.clone() as Arc<dyn TrackLocal>, Some(sendonly()))
                .await?;
            let audio_level = Arc::new(AtomicU8::new(pubcfg.audio_level.min(127)));
            let audio_packets = Arc::new(AtomicU64::new(0));
            let (audio, audio_ssrc) = if pubcfg.audio {
                let ssrc: u32 = rand::random();
                let audio = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                    stream_id,
                    format!("{}-audio", sanitize(&config.name)),
                    "audio".to_string(),
                    RtpCodecKind::Audio,
                    vec![RTCRtpEncodingParameters {
                        rtp_coding_parameters: RTCRtpCodingParameters {
                            ssrc: Some(ssrc),
                            ..Default::default()
                        },
                        codec: opus_codec(),
                        active: true,
                        ..Default::default()
                    }],
                )));
                pc.add_transceiver_from_track(
                    audio.clone() as Arc<dyn TrackLocal>,
                    Some(sendonly()),
                )
                .await?;
                (Some(audio), Some(ssrc))
            } else {
                (None, None)
            };
            let clips = match &pubcfg.video {
                VideoSource::Synthetic => None,
                VideoSource::Ivf(paths) => {
                    if paths.len() != layers.len() {
                        return Err(format!(
                            "VideoSource::Ivf has {} files for {} layers",
                            paths.len(),
                            layers.len()
                        )
                        .into());
                    }
                    let players = paths
                        .iter()
                        .map(|p| IvfClip::open(p).map(|c| ClipPlayer::new(Arc::new(c))))
                        .collect::<Result<Vec<_>, String>>()?;
                    Some(players)
                }
            };
            let source_tag: u32 = rand::random();
            tasks.push(tokio::spawn(run_video(
                pc.clone(),
                video.clone(),
                layers.clone(),
                source_tag,
                tap.clone(),
                state_rx.clone(),
                clips,
            )));
            if let (Some(a), Some(ssrc)) = (&audio, audio_ssrc) {
                tasks.push(tokio::spawn(run_audio(
                    pc.clone(),
                    a.clone(),
                    ssrc,
                    source_tag,
                    pubcfg.audio_tone_hz.map(opus_tone),
                    audio_level.clone(),
                    audio_packets.clone(),
                    state_rx.clone(),
                )));
            }
            publisher = Some(Publisher {
                source_tag,
                layers,
                audio_ssrc,
                audio_level,
                audio_packets,
                video,
                audio,
            });
        }

        let recvonly = || RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Recvonly,
            streams: vec![],
            send_encodings: vec![],
        };
        for _ in 0..config.recv_video {
            pc.add_transceiver_from_kind(RtpCodecKind::Video, Some(recvonly()))
                .await?;
        }
        for _ in 0..config.recv_audio {
            pc.add_transceiver_from_kind(RtpCodecKind::Audio, Some(recvonly()))
                .await?;
        }

        Ok(Self {
            name: config.name,
            pc,
            publisher,
            tap,
            relay: None,
            loss: config.loss,
            recv,
            remotes,
            audio_level_ext,
            state_rx,
            gathered_rx,
            tasks,
        })
    }

    /// Create the offer, wait for ICE gathering, return the full SDP.
    pub async fn create_offer(&self) -> Result<String, BoxError> {
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer).await?;
        self.local_sdp_after_gathering().await
    }

    async fn local_sdp_after_gathering(&self) -> Result<String, BoxError> {
        let mut rx = self.gathered_rx.clone();
        let _ = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|g| *g)).await;
        let desc = self
            .pc
            .local_description()
            .await
            .ok_or("no local description after set_local_description")?;
        Ok(desc.sdp)
    }

    /// Apply the server's answer. With a loss config, a relay is started
    /// and the answer's first UDP candidate is replaced by the relay.
    pub async fn set_answer(&mut self, sdp: &str) -> Result<(), BoxError> {
        let sdp = match self.loss {
            Some(loss) => {
                let target = first_udp_candidate(sdp)
                    .ok_or_else(|| format!("answer has no UDP candidate:\n{sdp}"))?;
                let relay = LossRelay::start(target, loss).await?;
                let rewritten = rewrite_candidates(sdp, target, relay.addr);
                self.relay = Some(relay);
                rewritten
            }
            None => sdp.to_string(),
        };
        self.pc
            .set_remote_description(RTCSessionDescription::answer(sdp)?)
            .await?;
        self.learn_transceivers().await;
        Ok(())
    }

    /// Answer a remote offer (peer-to-peer use).
    pub async fn accept_offer(&self, sdp: &str) -> Result<String, BoxError> {
        self.pc
            .set_remote_description(RTCSessionDescription::offer(sdp.to_string())?)
            .await?;
        let answer = self.pc.create_answer(None).await?;
        self.pc.set_local_description(answer).await?;
        let sdp = self.local_sdp_after_gathering().await?;
        self.learn_transceivers().await;
        Ok(sdp)
    }

    /// Map transceiver ids to mids, and learn the audio-level extension id.
    async fn learn_transceivers(&self) {
        let mut mids = HashMap::new();
        for t in self.pc.get_transceivers().await {
            if let Ok(Some(mid)) = t.mid().await {
                mids.insert(t.id(), mid);
            }
            if let Ok(Some(r)) = t.receiver().await
                && let Ok(params) = r.get_parameters().await
            {
                for ext in &params.rtp_parameters.header_extensions {
                    if ext.uri == URI_AUDIO_LEVEL {
                        *self.audio_level_ext.lock().unwrap() = Some(ext.id as u8);
                    }
                }
            }
        }
        // The receiver parameters may be empty before media flows; fall back
        // to the remote description's extmap.
        if self.audio_level_ext.lock().unwrap().is_none()
            && let Some(remote) = self.pc.remote_description().await
        {
            for line in remote.sdp.lines() {
                if let Some(rest) = line.strip_prefix("a=extmap:")
                    && rest.contains(URI_AUDIO_LEVEL)
                    && let Some(id) = rest.split([' ', '/']).next()
                    && let Ok(id) = id.parse::<u8>()
                {
                    *self.audio_level_ext.lock().unwrap() = Some(id);
                }
            }
        }
        self.recv.lock().unwrap().mids = mids;
    }

    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), String> {
        let mut rx = self.state_rx.clone();
        wait_connected_rx(&mut rx, timeout)
            .await
            .map_err(|e| format!("{}: {e}", self.name))
    }

    /// A copy of what the tap saw. Never hold `self.tap`'s lock across an
    /// await: the interceptor takes it on the driver's thread.
    pub fn tap(&self) -> TapState {
        self.tap.lock().unwrap().clone()
    }

    pub fn connection_state(&self) -> RTCPeerConnectionState {
        *self.state_rx.borrow()
    }

    /// Snapshot of everything received, per transceiver (mids filled in).
    pub fn stats(&self) -> Vec<TrackStats> {
        let r = self.recv.lock().unwrap();
        r.tracks
            .values()
            .map(|t| {
                let mut t = t.clone();
                t.mid = r.mids.get(&t.transceiver).cloned();
                t
            })
            .collect()
    }

    pub fn video_tracks(&self) -> Vec<TrackStats> {
        self.stats()
            .into_iter()
            .filter(|t| t.kind == "video")
            .collect()
    }

    pub fn audio_tracks(&self) -> Vec<TrackStats> {
        self.stats()
            .into_iter()
            .filter(|t| t.kind == "audio")
            .collect()
    }

    pub fn track_by_mid(&self, mid: &str) -> Option<TrackStats> {
        self.stats()
            .into_iter()
            .find(|t| t.mid.as_deref() == Some(mid))
    }

    /// The `n`th video track by transceiver order (0 = stage).
    pub fn video(&self, n: usize) -> Option<TrackStats> {
        self.video_tracks().into_iter().nth(n)
    }

    pub fn audio(&self, n: usize) -> Option<TrackStats> {
        self.audio_tracks().into_iter().nth(n)
    }

    /// Wait until `cond` holds over the received stats.
    pub async fn wait_until<F: FnMut(&[TrackStats]) -> bool>(
        &self,
        timeout: Duration,
        mut cond: F,
    ) -> bool {
        wait_for(timeout, || cond(&self.stats())).await
    }

    /// One line per received track, for failure messages.
    pub fn describe(&self) -> String {
        let tap = self.tap.lock().unwrap();
        let mut s = format!(
            "{} (state {}, rtp in by pt {:?}, nacks sent {}, rtx received {}, keyframe requests received {:?}):",
            self.name,
            self.connection_state(),
            tap.rtp_in_by_pt,
            tap.nacks_sent,
            tap.rtx_received(),
            tap.keyframe_requests,
        );
        drop(tap);
        for t in self.stats() {
            s.push_str("\n  ");
            s.push_str(&t.summary());
        }
        if let Some(p) = &self.publisher {
            for l in &p.layers {
                s.push_str(&format!(
                    "\n  sent rid={} ssrc={} paused={} packets={} keyframes={} on_request={} write_errors={}",
                    l.spec.rid,
                    l.ssrc,
                    l.paused.load(Ordering::Relaxed),
                    l.counters.packets.load(Ordering::Relaxed),
                    l.counters.keyframes.load(Ordering::Relaxed),
                    l.counters.keyframes_on_request.load(Ordering::Relaxed),
                    l.counters.write_errors.load(Ordering::Relaxed),
                ));
            }
            s.push_str(&format!(
                "\n  sent audio packets={}",
                p.audio_packets.load(Ordering::Relaxed)
            ));
        }
        s
    }

    /// Stop sending one simulcast layer (the encoder "drops" it).
    pub fn pause_layer(&self, rid: &str) {
        self.publisher()
            .layer(rid)
            .paused
            .store(true, Ordering::Relaxed);
    }

    /// Resume a paused layer; its first frame is a keyframe.
    pub fn resume_layer(&self, rid: &str) {
        self.publisher()
            .layer(rid)
            .paused
            .store(false, Ordering::Relaxed);
    }

    /// Set the RFC 6464 level (0 = loudest, 127 = silence).
    pub fn set_audio_level(&self, level: u8) {
        self.publisher()
            .audio_level
            .store(level.min(127), Ordering::Relaxed);
    }

    pub fn publisher(&self) -> &Publisher {
        self.publisher
            .as_ref()
            .expect("client was not configured to publish")
    }

    /// Send a PLI for `media_ssrc` on the first remote track that has it.
    pub async fn request_keyframe(&self, media_ssrc: u32) -> Result<(), BoxError> {
        let remotes = self.remotes.lock().unwrap().clone();
        for r in remotes {
            if r.ssrcs().await.contains(&media_ssrc) {
                r.write_rtcp(vec![Box::new(PictureLossIndication {
                    sender_ssrc: 0,
                    media_ssrc,
                })])
                .await?;
                return Ok(());
            }
        }
        Err(format!("no remote track with ssrc {media_ssrc}").into())
    }

    pub async fn close(&self) {
        for t in &self.tasks {
            t.abort();
        }
        let _ = self.pc.close().await;
    }
}

fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if s.is_empty() { "client".into() } else { s }
}

/// The first `a=candidate` with transport UDP: (ip, port).
pub fn first_udp_candidate(sdp: &str) -> Option<SocketAddr> {
    sdp.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("a=candidate:")?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() < 6 || !f[2].eq_ignore_ascii_case("udp") {
            return None;
        }
        format!("{}:{}", f[4], f[5]).parse().ok()
    })
}

/// Replace every candidate naming `from` by `to`.
pub fn rewrite_candidates(sdp: &str, from: SocketAddr, to: SocketAddr) -> String {
    let needle = format!(" {} {} ", from.ip(), from.port());
    let repl = format!(" {} {} ", to.ip(), to.port());
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        if line.starts_with("a=candidate:") {
            out.push_str(&line.replace(&needle, &repl));
        } else {
            out.push_str(line);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Lossy UDP relay
// ---------------------------------------------------------------------------

/// Counters of the relay, shared with the test.
#[derive(Default, Debug)]
pub struct RelayStats {
    pub to_client: u64,
    pub to_server: u64,
    /// RTP datagrams dropped in the lossy direction, as (ssrc, seq, pt).
    pub dropped: Vec<(u32, u16, u8)>,
    /// RTP datagrams forwarded in the lossy direction, per payload type.
    pub rtp_by_pt: BTreeMap<u8, u64>,
}

/// A UDP relay on 127.0.0.1 between a client and the server that drops
/// server -> client RTP (never STUN, DTLS or RTCP) with a seeded PRNG.
/// Headers are readable under SRTP, so it knows which (ssrc, seq) it dropped.
pub struct LossRelay {
    pub addr: SocketAddr,
    pub stats: Arc<Mutex<RelayStats>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LossRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LossRelay {
    /// Relay to `server`, dropping RTP that comes from the server.
    pub async fn start(server: SocketAddr, loss: LossConfig) -> std::io::Result<Self> {
        Self::start_with(server, loss, true).await
    }

    /// Relay to `server`; `drop_from_server` picks which direction loses RTP.
    pub async fn start_with(
        server: SocketAddr,
        loss: LossConfig,
        drop_from_server: bool,
    ) -> std::io::Result<Self> {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
        let addr = sock.local_addr()?;
        let stats = Arc::new(Mutex::new(RelayStats::default()));
        let st = stats.clone();
        let task = tokio::spawn(async move {
            let mut rng = loss.seed ^ 0x9e37_79b9_7f4a_7c15;
            let mut client: Option<SocketAddr> = None;
            let mut buf = vec![0u8; 2048];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                let data = &buf[..n];
                let to_client = from == server;
                if !to_client {
                    client = Some(from);
                }
                let Some(c) = client else { continue };
                let is_rtp =
                    n >= 12 && (128..=191).contains(&data[0]) && !(192..=223).contains(&data[1]);
                if is_rtp && to_client == drop_from_server {
                    let pt = data[1] & 0x7f;
                    let seq = u16::from_be_bytes([data[2], data[3]]);
                    let ssrc = u32::from_be_bytes([data[8], data[9], data[10], data[11]]);
                    let r = (splitmix64(&mut rng) >> 11) as f64 / (1u64 << 53) as f64;
                    if r < loss.rate {
                        st.lock().unwrap().dropped.push((ssrc, seq, pt));
                        continue;
                    }
                    *st.lock().unwrap().rtp_by_pt.entry(pt).or_default() += 1;
                }
                if to_client {
                    st.lock().unwrap().to_client += 1;
                    let _ = sock.send_to(data, c).await;
                } else {
                    st.lock().unwrap().to_server += 1;
                    let _ = sock.send_to(data, server).await;
                }
            }
        });
        Ok(Self { addr, stats, task })
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------
// Signalling: WHIP / WHEP
// ---------------------------------------------------------------------------

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

/// An established WHIP or WHEP session.
#[derive(Clone, Debug)]
pub struct HttpSession {
    /// Absolute URL of the session resource (from `Location`).
    pub location: String,
    /// The engine's participant id (`X-Diemcau-Participant`): what the
    /// roll call and the room controls name it by.
    pub participant: Option<String>,
    pub answer: String,
}

/// A raw signalling response, for error tests.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub location: Option<String>,
    pub participant: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

impl HttpReply {
    /// `{"error":{"code","message"}}` -> (code, message).
    pub fn error(&self) -> Option<(String, String)> {
        let v: Value = serde_json::from_str(&self.body).ok()?;
        let e = v.get("error")?;
        Some((
            e.get("code")?.as_str()?.to_string(),
            e.get("message")?.as_str()?.to_string(),
        ))
    }
}

/// POST an SDP offer to `{base}/{path}`; `token` None sends no Authorization.
pub async fn post_sdp(base: &str, path: &str, token: Option<&str>, offer: &str) -> HttpReply {
    let mut req = http_client()
        .post(format!("{base}/{path}"))
        .header("Content-Type", "application/sdp")
        .body(offer.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {base}/{path} failed: {e}"));
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(|l| absolute(base, l));
    let participant = resp
        .headers()
        .get("x-diemcau-participant")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.text().await.unwrap_or_default();
    HttpReply {
        status,
        location,
        participant,
        content_type,
        body,
    }
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else {
        let base = reqwest::Url::parse(base).expect("base url");
        base.join(location)
            .expect("location joins base")
            .to_string()
    }
}

/// DELETE a session resource; returns the status code.
pub async fn delete(url: &str, token: Option<&str>) -> u16 {
    let mut req = http_client().delete(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("DELETE {url} failed: {e}"))
        .status()
        .as_u16()
}

impl RtcClient {
    /// Offer to `{base}/{whip|whep}/{meeting}`, expect 201 + Location, apply
    /// the answer.
    async fn http_negotiate(
        &mut self,
        base: &str,
        kind: &str,
        meeting: &str,
        token: &str,
    ) -> Result<HttpSession, String> {
        let offer = self
            .create_offer()
            .await
            .map_err(|e| format!("create offer: {e}"))?;
        let reply = post_sdp(base, &format!("{kind}/{meeting}"), Some(token), &offer).await;
        if reply.status != 201 {
            return Err(format!(
                "{kind} POST answered {} (expected 201): {}",
                reply.status, reply.body
            ));
        }
        let location = reply
            .location
            .clone()
            .ok_or_else(|| format!("{kind} 201 without a Location header"))?;
        self.set_answer(&reply.body)
            .await
            .map_err(|e| format!("{kind} answer rejected by webrtc-rs: {e}\n{}", reply.body))?;
        Ok(HttpSession {
            location,
            participant: reply.participant.clone(),
            answer: reply.body,
        })
    }

    pub async fn whip_publish(
        &mut self,
        base: &str,
        meeting: &str,
        token: &str,
    ) -> Result<HttpSession, String> {
        self.http_negotiate(base, "whip", meeting, token).await
    }

    pub async fn whep_play(
        &mut self,
        base: &str,
        meeting: &str,
        token: &str,
    ) -> Result<HttpSession, String> {
        self.http_negotiate(base, "whep", meeting, token).await
    }
}

// ---------------------------------------------------------------------------
// Signalling: WebSocket
// ---------------------------------------------------------------------------

type WsSink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    tokio_tungstenite::tungstenite::Message,
>;

/// A `/ws` connection: sends text, records every JSON message received.
pub struct WsClient {
    sink: tokio::sync::Mutex<WsSink>,
    received: Arc<Mutex<Vec<Value>>>,
    closed: Arc<AtomicBool>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for WsClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl WsClient {
    pub async fn connect(base: &str) -> Result<Self, String> {
        let url = format!("{}/ws", base.replacen("http", "ws", 1));
        Self::connect_url(&url, None).await
    }

    /// Any WebSocket URL, optionally with `Authorization: Bearer`.
    pub async fn connect_url(url: &str, bearer: Option<&str>) -> Result<Self, String> {
        let headers: Vec<(&str, String)> = bearer
            .map(|t| ("authorization", format!("Bearer {t}")))
            .into_iter()
            .collect();
        Self::connect_with(url, &headers).await
    }

    /// Any WebSocket URL with these request headers (a session cookie…).
    pub async fn connect_with(url: &str, headers: &[(&str, String)]) -> Result<Self, String> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url
            .into_client_request()
            .map_err(|e| format!("websocket url {url}: {e}"))?;
        for (k, v) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
                    .expect("header name"),
                v.parse().expect("header value"),
            );
        }
        let (ws, _) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(request),
        )
        .await
        .map_err(|_| format!("websocket connect to {url} timed out"))?
        .map_err(|e| format!("websocket connect to {url}: {e}"))?;
        let (sink, mut stream) = ws.split();
        let received = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let (r, c) = (received.clone(), closed.clone());
        let reader = tokio::spawn(async move {
            use tokio_tungstenite::tungstenite::Message;
            while let Some(msg) = stream.next().await {
                match msg {
                    Ok(Message::Text(t)) => {
                        let v = serde_json::from_str::<Value>(t.as_str()).unwrap_or_else(
                            |_| serde_json::json!({"type": "__unparseable__", "raw": t.as_str()}),
                        );
                        r.lock().unwrap().push(v);
                    }
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            c.store(true, Ordering::Relaxed);
        });
        Ok(Self {
            sink: tokio::sync::Mutex::new(sink),
            received,
            closed,
            reader,
        })
    }

    pub async fn send_text(&self, text: &str) -> Result<(), String> {
        use tokio_tungstenite::tungstenite::Message;
        self.sink
            .lock()
            .await
            .send(Message::Text(text.to_string().into()))
            .await
            .map_err(|e| format!("websocket send: {e}"))
    }

    pub async fn send_json(&self, v: &Value) -> Result<(), String> {
        self.send_text(&v.to_string()).await
    }

    pub fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Wait for a message (received at index >= `from`) matching `pred`.
    pub async fn wait_message<F: Fn(&Value) -> bool>(
        &self,
        from: usize,
        timeout: Duration,
        pred: F,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self
                .received
                .lock()
                .unwrap()
                .iter()
                .skip(from)
                .find(|v| pred(v))
            {
                return Some(v.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Wait for the next message of `type` after index `from`.
    pub async fn wait_type(&self, from: usize, ty: &str, timeout: Duration) -> Option<Value> {
        self.wait_message(from, timeout, |v| v["type"] == ty).await
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

/// Join a meeting over `/ws` with the client's offer; applies the answer.
/// Returns the socket and the `joined` message.
pub async fn ws_join(
    client: &mut RtcClient,
    base: &str,
    meeting: &str,
    token: &str,
) -> Result<(WsClient, Value), String> {
    ws_join_as(client, base, meeting, token, "room").await
}

/// [`ws_join`] as `role` (`room`, `console`, `viewer`).
pub async fn ws_join_as(
    client: &mut RtcClient,
    base: &str,
    meeting: &str,
    token: &str,
    role: &str,
) -> Result<(WsClient, Value), String> {
    let ws = WsClient::connect(base).await?;
    let offer = client
        .create_offer()
        .await
        .map_err(|e| format!("create offer: {e}"))?;
    ws.send_json(&serde_json::json!({
        "type": "join",
        "v": 1,
        "meeting": meeting,
        "token": token,
        "name": client.name,
        "role": role,
        "offer": offer,
    }))
    .await?;
    let reply = ws
        .wait_message(0, Duration::from_secs(15), |v| {
            v["type"] == "joined" || v["type"] == "error"
        })
        .await
        .ok_or_else(|| format!("{}: no joined/error reply to join within 15 s", client.name))?;
    if reply["type"] != "joined" {
        return Err(format!("{}: join refused: {reply}", client.name));
    }
    let answer = reply["answer"]
        .as_str()
        .ok_or_else(|| format!("joined without answer: {reply}"))?;
    client
        .set_answer(answer)
        .await
        .map_err(|e| format!("joined answer rejected by webrtc-rs: {e}\n{answer}"))?;
    Ok((ws, reply))
}

/// GET `{base}/metrics` and return the value of the first sample whose
/// metric name satisfies `name_pred` (summed over label sets).
pub async fn scrape_metrics(base: &str) -> Result<String, String> {
    let resp = http_client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?;
    let status = resp.status();
    let body = resp
        .text()
        .await
        .map_err(|e| format!("GET /metrics body: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET /metrics answered {status}: {body}"));
    }
    Ok(body)
}

/// Sum of Prometheus samples per metric name (labels folded).
pub fn metric_sums(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name_part, rest) = match line.find('{') {
            Some(i) => {
                let close = line.rfind('}').unwrap_or(i);
                (&line[..i], &line[close + 1..])
            }
            None => match line.split_once(' ') {
                Some((n, r)) => (n, r),
                None => continue,
            },
        };
        if let Some(v) = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        {
            *out.entry(name_part.to_string()).or_insert(0.0) += v;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Test conveniences
// ---------------------------------------------------------------------------

/// Generous bound for ICE + DTLS on a loaded 2-core CI machine.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// A publisher (simulcast VP8 + Opus) connected over WHIP.
pub async fn whip_publisher(
    base: &str,
    meeting: &str,
    token: &str,
    name: &str,
    publish: PublishConfig,
) -> (RtcClient, HttpSession) {
    let mut c = RtcClient::new(ClientConfig {
        name: name.into(),
        publish: Some(publish),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{name}: build peer connection: {e}"));
    let session = c
        .whip_publish(base, meeting, token)
        .await
        .unwrap_or_else(|e| panic!("{name}: WHIP publish failed: {e}"));
    c.wait_connected(CONNECT_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{name}: WHIP session did not connect: {e}"));
    (c, session)
}

/// A receive-only subscriber connected over WHEP.
pub async fn whep_subscriber(
    base: &str,
    meeting: &str,
    token: &str,
    name: &str,
    recv_video: usize,
    recv_audio: usize,
    loss: Option<LossConfig>,
) -> (RtcClient, HttpSession) {
    let mut c = RtcClient::new(ClientConfig {
        name: name.into(),
        recv_video,
        recv_audio,
        loss,
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{name}: build peer connection: {e}"));
    let session = c
        .whep_play(base, meeting, token)
        .await
        .unwrap_or_else(|e| panic!("{name}: WHEP play failed: {e}"));
    c.wait_connected(CONNECT_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{name}: WHEP session did not connect: {e}"));
    (c, session)
}
