//! One simulated endpoint: a webrtc-rs 0.21 peer connection (real ICE, DTLS,
//! SRTP) that joins a diemcau room over its WebSocket signalling, as a
//! publisher (VP8 simulcast q/h/f with rids + Opus with the RFC 6464 audio
//! level) and/or a subscriber (N video slots + K audio slots).
//!
//! Written for the load generator; it shares no code with the server's test
//! client (`tests/it/support/rtc_client.rs`), only the webrtc 0.21 facts:
//! `with_udp_addrs(["127.0.0.1:0"])` binds one loopback socket; simulcast is
//! one `TrackLocalStaticRTP` with an encoding per rid; the application writes
//! ready RTP and sets SSRC, payload type and the mid/rid extensions itself.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::interceptor::Slot;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_VP8,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use tokio::sync::watch;
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
    Registry, SettingEngineBuilder, StatsSelector, register_default_interceptors,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use webrtc::runtime::TokioRuntime;

use crate::feedback::{Feedback, FeedbackState};
use crate::janus_api::JanusSession;
use crate::media::{self, LayerSpec};
use crate::red;
use crate::signal::WsSession;
use crate::stats::{Rec, SharedTrack, TrackRecv};

const PT_VP8: u8 = 96;
const PT_RTX: u8 = 97;
const PT_OPUS: u8 = 111;
/// RED over Opus (RFC 2198), as Chromium offers it.
const PT_RED: u8 = 63;
const MIME_TYPE_RED: &str = "audio/red";
const URI_MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
const URI_RID: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
const URI_AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// ICE + DTLS on a loaded 2-core machine.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// RFC 6464 level the publisher reports: -30 dBov, voice active.
const AUDIO_LEVEL: u8 = 30;

#[derive(Clone, Debug, Default)]
pub struct EndpointConfig {
    pub name: String,
    /// Publish simulcast video (these layers) and audio.
    pub publish: Option<Vec<LayerSpec>>,
    pub recv_video: usize,
    pub recv_audio: usize,
    /// `room`, `viewer` or `console` (diemcau).
    pub role: String,
    /// Local address to bind (None: 127.0.0.1; Janus needs the veth address).
    pub bind_ip: Option<String>,
    /// The link cap the endpoint declares when it joins (diemcau), kbit/s.
    pub max_kbps: Option<u32>,
    /// RFC 6464 byte the audio publisher sends (None: voice active at
    /// -30 dBov; S5's communes send silence so the hub stays loudest).
    pub audio_level: Option<u8>,
    /// A level the scenario changes while the endpoint runs (S2's talkers);
    /// read before every audio packet, overrides `audio_level`.
    pub audio_level_shared: Option<Arc<AtomicU8>>,
    /// Opus DTX: while the level is silence (127), send one packet per
    /// 400 ms instead of one per 20 ms (sequence numbers stay contiguous,
    /// timestamps jump), as a browser's Opus does with DTX on.
    pub dtx: bool,
    /// Offer RED (`red/48000/2`, fmtp `111/111`) as Chromium does: a
    /// publisher then sends each Opus packet with the one before it, a
    /// subscriber refills a lost packet from the next one's redundancy.
    pub red: bool,
}

/// RFC 6464 byte of silence (V bit clear, -127 dBov).
pub const LEVEL_SILENT: u8 = 127;
/// DTX: one packet per this many 20 ms frames while silent.
const DTX_EVERY: u64 = 20;

/// Where an audio publisher reads its RFC 6464 byte from.
#[derive(Clone)]
enum Level {
    Fixed(u8),
    Shared(Arc<AtomicU8>),
}

impl Level {
    fn get(&self) -> u8 {
        match self {
            Level::Fixed(l) => *l,
            Level::Shared(a) => a.load(Ordering::Relaxed),
        }
    }
}

/// The signalling session that keeps an endpoint in its room.
enum Signal {
    Diemcau(WsSession),
    Janus(JanusSession),
}

/// What the publisher has sent (read by the harness).
#[derive(Default, Debug)]
pub struct SendCounters {
    pub video_packets: AtomicU64,
    pub audio_packets: AtomicU64,
    pub write_errors: AtomicU64,
    /// Keyframes sent because a receiver asked (PLI/FIR), per layer frame.
    pub keyframes_on_request: AtomicU64,
}

struct Handler {
    /// Audio packets with this payload type are RED.
    red_pt: Option<u8>,
    state_tx: watch::Sender<RTCPeerConnectionState>,
    gathered_tx: watch::Sender<bool>,
    tracks: Arc<Mutex<Vec<SharedTrack>>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered_tx.send(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.state_tx.send(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let video = matches!(track.kind().await, RtpCodecKind::Video);
        let rec: SharedTrack = Arc::new(Mutex::new(TrackRecv::new(video)));
        self.tracks.lock().unwrap().push(rec.clone());
        let red_pt = self.red_pt;
        tokio::spawn(async move {
            while let Some(evt) = track.poll().await {
                match evt {
                    TrackRemoteEvent::OnRtpPacket(pkt) => {
                        let arrival = media::now_ns();
                        let red = (!video && red_pt == Some(pkt.header.payload_type))
                            .then(|| red::parse(&pkt.payload))
                            .flatten();
                        let primary = red.as_ref().map_or(&pkt.payload[..], |r| r.0);
                        let (tag, sent) = media::read_trailer(primary).unwrap_or((0, 0));
                        let start = video && media::vp8_frame_kind(&pkt.payload).0;
                        let mut g = rec.lock().unwrap();
                        g.bytes += pkt.payload.len() as u64;
                        g.redundancy_bytes += (pkt.payload.len() - primary.len()) as u64;
                        g.push(Rec {
                            ext_seq: 0,
                            seq: pkt.header.sequence_number,
                            rtp_ts: pkt.header.timestamp,
                            arrival_ns: arrival,
                            sent_ns: sent,
                            tag,
                            frame_start: start,
                        });
                        // A packet lost before this one, refilled from its
                        // redundancy (20 ms frames: the offset says which).
                        for (off, block) in red.map(|r| r.1).unwrap_or_default() {
                            let back = (off + media::AUDIO_TICKS_PER_FRAME / 2)
                                / media::AUDIO_TICKS_PER_FRAME;
                            let seq = pkt.header.sequence_number.wrapping_sub(back as u16);
                            let Some((tag, sent)) = media::read_trailer(block) else {
                                continue;
                            };
                            if back > 0 && !g.has_recent(seq) {
                                g.recovered += 1;
                                g.push(Rec {
                                    ext_seq: 0,
                                    seq,
                                    rtp_ts: pkt.header.timestamp.wrapping_sub(off),
                                    arrival_ns: arrival,
                                    sent_ns: sent,
                                    tag,
                                    frame_start: false,
                                });
                            }
                        }
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
    }
}

pub struct Endpoint {
    pub name: String,
    pc: Arc<dyn PeerConnection>,
    state_rx: watch::Receiver<RTCPeerConnectionState>,
    gathered_rx: watch::Receiver<bool>,
    /// Receive tracks, in the order they opened.
    pub tracks: Arc<Mutex<Vec<SharedTrack>>>,
    pub sent: Arc<SendCounters>,
    /// (rid, SSRC) of each published layer; the SSRC is also the stream tag
    /// in every payload's trailer, so receivers know the layer they got.
    pub layers: Vec<(&'static str, u32)>,
    /// SSRC (and stream tag) of the published audio.
    pub audio_ssrc: Option<u32>,
    role: String,
    max_kbps: Option<u32>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    signal: Option<Signal>,
    /// What this endpoint's RTCP interceptor saw and sent (`feedback`).
    pub feedback: Arc<Mutex<FeedbackState>>,
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

fn media_engine(red: bool) -> anyhow::Result<MediaEngine> {
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
    let reg = |me: &mut MediaEngine, rtp_codec, payload_type, kind| {
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec,
                payload_type,
            },
            kind,
        )
    };
    reg(&mut me, vp8, PT_VP8, RtpCodecKind::Video)?;
    let rtx = RTCRtpCodec {
        mime_type: MIME_TYPE_RTX.to_owned(),
        clock_rate: 90000,
        channels: 0,
        sdp_fmtp_line: format!("apt={PT_VP8}"),
        rtcp_feedback: vec![],
    };
    reg(&mut me, rtx, PT_RTX, RtpCodecKind::Video)?;
    reg(&mut me, opus_codec(), PT_OPUS, RtpCodecKind::Audio)?;
    if red {
        let red = RTCRtpCodec {
            mime_type: MIME_TYPE_RED.to_owned(),
            clock_rate: 48000,
            channels: 2,
            sdp_fmtp_line: format!("{PT_OPUS}/{PT_OPUS}"),
            rtcp_feedback: vec![],
        };
        reg(&mut me, red, PT_RED, RtpCodecKind::Audio)?;
    }
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

impl Endpoint {
    /// A loopback-only peer connection with the configured send tracks and
    /// recvonly transceivers.
    pub async fn new(config: &EndpointConfig) -> anyhow::Result<Self> {
        let mut me = media_engine(config.red)?;
        // NACK generator/responder, mid/rid extensions, TWCC, RR/SR: what a browser runs.
        let registry = register_default_interceptors(Registry::new(), &mut me)?;
        // Between the wire-most interceptors and the NACK generator (7 000):
        // sees inbound RTP before RTX de-encapsulation, and the PLIs.
        let feedback = Arc::new(Mutex::new(FeedbackState::default()));
        let registry = registry.with(Slot::from(3_500), Feedback::new(feedback.clone()));
        let setting_engine = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_network_types(vec![NetworkType::Udp4])
            .with_include_loopback_candidate(true)
            .build();
        let (state_tx, state_rx) = watch::channel(RTCPeerConnectionState::New);
        let (gathered_tx, gathered_rx) = watch::channel(false);
        let tracks = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(Handler {
            red_pt: config.red.then_some(PT_RED),
            state_tx,
            gathered_tx,
            tracks: tracks.clone(),
        });
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(me)
            .with_setting_engine(setting_engine)
            .with_interceptor_registry(registry)
            .with_runtime(Arc::new(TokioRuntime))
            .with_handler(handler)
            .with_udp_addrs(vec![format!(
                "{}:0",
                config.bind_ip.as_deref().unwrap_or("127.0.0.1")
            )])
            .build()
            .await?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let sent = Arc::new(SendCounters::default());
        let mut tasks = Vec::new();
        let mut published = Vec::new();
        let mut audio_ssrc = None;
        if let Some(layers) = &config.publish {
            let level = match &config.audio_level_shared {
                Some(a) => Level::Shared(a.clone()),
                None => Level::Fixed(config.audio_level.unwrap_or(0x80 | AUDIO_LEVEL)),
            };
            let (t, ssrcs, a) = add_publisher(
                &pc,
                layers,
                &state_rx,
                &sent,
                &feedback,
                (level, config.dtx, config.red),
            )
            .await?;
            tasks.extend(t);
            published = layers.iter().map(|l| l.rid).zip(ssrcs).collect();
            audio_ssrc = Some(a);
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
            name: config.name.clone(),
            pc,
            state_rx,
            gathered_rx,
            tracks,
            sent,
            layers: published,
            audio_ssrc,
            role: config.role.clone(),
            max_kbps: config.max_kbps,
            tasks,
            signal: None,
            feedback,
        })
    }

    /// Create the offer and return it once ICE gathering completed.
    pub async fn create_offer(&self) -> anyhow::Result<String> {
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer).await?;
        let mut rx = self.gathered_rx.clone();
        let _ = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|g| *g)).await;
        let desc = self
            .pc
            .local_description()
            .await
            .ok_or_else(|| anyhow!("no local description after set_local_description"))?;
        Ok(desc.sdp)
    }

    pub async fn set_answer(&self, sdp: &str) -> anyhow::Result<()> {
        self.pc
            .set_remote_description(RTCSessionDescription::answer(sdp.to_string())?)
            .await?;
        Ok(())
    }

    /// Join `meeting` at `base` (`http://host:port`) over `/ws`, apply the
    /// answer; does not wait for ICE/DTLS.
    pub async fn join_ws(&mut self, base: &str, meeting: &str, token: &str) -> anyhow::Result<()> {
        let offer = self.create_offer().await.context("create offer")?;
        let (ws, answer) = WsSession::join(
            base,
            meeting,
            token,
            &self.name,
            &self.role,
            self.max_kbps,
            &offer,
        )
        .await
        .with_context(|| format!("{}: join over /ws", self.name))?;
        self.set_answer(&answer)
            .await
            .with_context(|| format!("{}: the server's answer", self.name))?;
        self.signal = Some(Signal::Diemcau(ws));
        Ok(())
    }

    /// Answer a remote offer; returns the answer once ICE gathering completed.
    pub async fn accept_offer(&self, sdp: &str) -> anyhow::Result<String> {
        self.pc
            .set_remote_description(RTCSessionDescription::offer(sdp.to_string())?)
            .await?;
        let answer = self.pc.create_answer(None).await?;
        self.pc.set_local_description(answer).await?;
        let mut rx = self.gathered_rx.clone();
        let _ = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|g| *g)).await;
        let desc = self
            .pc
            .local_description()
            .await
            .ok_or_else(|| anyhow!("no local description after set_local_description"))?;
        Ok(desc.sdp)
    }

    /// Publish into Janus VideoRoom `room`; returns the feed id.
    pub async fn publish_janus(&mut self, ws_url: &str, room: u64) -> anyhow::Result<u64> {
        let offer = self.create_offer().await.context("create offer")?;
        let mut js = JanusSession::open(ws_url).await?;
        let (feed, answer) = js.publish(room, &self.name, &offer).await?;
        self.set_answer(&answer)
            .await
            .with_context(|| format!("{}: Janus's answer", self.name))?;
        self.signal = Some(Signal::Janus(js));
        Ok(feed)
    }

    /// Subscribe to `feed` in Janus VideoRoom `room` (Janus offers).
    pub async fn subscribe_janus(
        &mut self,
        ws_url: &str,
        room: u64,
        feed: u64,
    ) -> anyhow::Result<()> {
        let mut js = JanusSession::open(ws_url).await?;
        let offer = js.subscribe(room, feed).await?;
        let answer = self
            .accept_offer(&offer)
            .await
            .with_context(|| format!("{}: Janus's offer", self.name))?;
        js.start(room, &answer).await?;
        self.signal = Some(Signal::Janus(js));
        Ok(())
    }

    /// Subscribe in Janus VideoRoom `room` to several feeds' streams in one
    /// peer connection (`streams`: `{"feed": id}` or `{"feed": id, "mid": m}`,
    /// Janus offers); with `substream`, every video stream is then set to
    /// that simulcast substream (0 = lowest). Returns the subscription's
    /// streams as Janus listed them.
    pub async fn subscribe_janus_streams(
        &mut self,
        ws_url: &str,
        room: u64,
        streams: Vec<serde_json::Value>,
        substream: Option<u8>,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut js = JanusSession::open(ws_url).await?;
        let (offer, listed) = js.subscribe_streams(room, streams).await?;
        let answer = self
            .accept_offer(&offer)
            .await
            .with_context(|| format!("{}: Janus's offer", self.name))?;
        js.start(room, &answer).await?;
        if let Some(sub) = substream {
            let video: Vec<serde_json::Value> = listed
                .iter()
                .filter(|s| s["type"] == "video")
                .filter_map(|s| s["mid"].as_str())
                .map(|mid| serde_json::json!({"mid": mid, "substream": sub}))
                .collect();
            js.configure_streams(video).await?;
        }
        self.signal = Some(Signal::Janus(js));
        Ok(listed)
    }

    /// (kind, mid) of every m-line this endpoint sends on, from its local
    /// description (a Janus feed's mids are its publisher's).
    pub async fn send_mids(&self) -> Vec<(String, String)> {
        let Some(desc) = self.pc.local_description().await else {
            return vec![];
        };
        let mut out = Vec::new();
        let (mut kind, mut mid, mut sends) = (String::new(), None::<String>, false);
        let mut flush = |kind: &str, mid: &mut Option<String>, sends: &mut bool| {
            if let Some(m) = mid.take()
                && *sends
            {
                out.push((kind.to_string(), m));
            }
            *sends = false;
        };
        for line in desc.sdp.lines() {
            if let Some(rest) = line.strip_prefix("m=") {
                flush(&kind, &mut mid, &mut sends);
                kind = rest.split(' ').next().unwrap_or("").to_string();
            } else if let Some(m) = line.strip_prefix("a=mid:") {
                mid = Some(m.trim().to_string());
            } else if line.starts_with("a=sendonly") || line.starts_with("a=sendrecv") {
                sends = true;
            }
        }
        flush(&kind, &mut mid, &mut sends);
        out
    }

    pub async fn wait_connected(&self, timeout: Duration) -> anyhow::Result<()> {
        let mut rx = self.state_rx.clone();
        let r = tokio::time::timeout(timeout, async {
            loop {
                let s = *rx.borrow_and_update();
                match s {
                    RTCPeerConnectionState::Connected => return Ok(()),
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        bail!("peer connection reached state {s}")
                    }
                    _ => {}
                }
                if rx.changed().await.is_err() {
                    bail!("peer connection dropped");
                }
            }
        })
        .await;
        match r {
            Ok(r) => r.with_context(|| self.name.clone()),
            Err(_) => bail!(
                "{}: not connected within {timeout:?} (state {})",
                self.name,
                *self.state_rx.borrow()
            ),
        }
    }

    /// Tracks that have received at least one packet.
    pub fn tracks_flowing(&self) -> usize {
        let t = self.tracks.lock().unwrap();
        t.iter().filter(|x| x.lock().unwrap().total > 0).count()
    }

    /// UDP payload bytes (sent, received) over the peer connection's
    /// transport so far: media, RTCP, STUN and DTLS (webrtc-rs's transport
    /// stats, counted in its demuxer).
    pub async fn transport_bytes(&self) -> (u64, u64) {
        let report = self
            .pc
            .get_stats(std::time::Instant::now(), StatsSelector::None)
            .await;
        report
            .transport()
            .map(|t| (t.bytes_sent, t.bytes_received))
            .unwrap_or((0, 0))
    }

    pub async fn close(mut self) {
        for t in &self.tasks {
            t.abort();
        }
        match self.signal.take() {
            Some(Signal::Diemcau(ws)) => ws.leave().await,
            Some(Signal::Janus(js)) => js.close().await,
            None => {}
        }
        let _ = self.pc.close().await;
    }
}

/// Negotiated ids and payload type a sender needs to build packets.
#[derive(Clone, Debug, Default)]
struct SendParams {
    pt: Option<u8>,
    mid: Option<String>,
    mid_id: Option<u8>,
    rid_id: Option<u8>,
    level_id: Option<u8>,
}

async fn send_params(pc: &Arc<dyn PeerConnection>, ssrc: u32, mime: &str) -> Option<SendParams> {
    for t in pc.get_transceivers().await {
        let Ok(Some(sender)) = t.sender().await else {
            continue;
        };
        if !sender.track().ssrcs().await.contains(&ssrc) {
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

async fn add_publisher(
    pc: &Arc<dyn PeerConnection>,
    layers: &[LayerSpec],
    state_rx: &watch::Receiver<RTCPeerConnectionState>,
    sent: &Arc<SendCounters>,
    feedback: &Arc<Mutex<FeedbackState>>,
    (audio_level, dtx, red): (Level, bool, bool),
) -> anyhow::Result<(Vec<tokio::task::JoinHandle<()>>, Vec<u32>, u32)> {
    let ssrcs: Vec<u32> = layers.iter().map(|_| rand_u32()).collect();
    let codings = layers
        .iter()
        .zip(&ssrcs)
        .map(|(l, &ssrc)| RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                rid: l.rid.to_string(),
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: vp8_codec(),
            active: true,
            max_bitrate: l.kbps * 1000,
            ..Default::default()
        })
        .collect();
    let stream_id = format!("dl-{}", rand_u32());
    let video = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        stream_id.clone(),
        format!("{stream_id}-video"),
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
    let audio_ssrc = rand_u32();
    let audio = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        stream_id.clone(),
        format!("{stream_id}-audio"),
        "audio".to_string(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(audio_ssrc),
                ..Default::default()
            },
            codec: opus_codec(),
            active: true,
            ..Default::default()
        }],
    )));
    pc.add_transceiver_from_track(audio.clone() as Arc<dyn TrackLocal>, Some(sendonly()))
        .await?;
    let v = tokio::spawn(run_video(
        pc.clone(),
        video,
        layers.to_vec(),
        ssrcs.clone(),
        state_rx.clone(),
        sent.clone(),
        feedback.clone(),
    ));
    let a = tokio::spawn(run_audio(
        pc.clone(),
        audio,
        audio_ssrc,
        state_rx.clone(),
        sent.clone(),
        audio_level,
        (dtx, red),
    ));
    Ok((vec![v, a], ssrcs, audio_ssrc))
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(media::now_ns());
    h.finish() as u32
}

async fn wait_connected(rx: &mut watch::Receiver<RTCPeerConnectionState>) -> bool {
    let r = tokio::time::timeout(CONNECT_TIMEOUT, async {
        loop {
            match *rx.borrow_and_update() {
                RTCPeerConnectionState::Connected => return true,
                RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => return false,
                _ => {}
            }
            if rx.changed().await.is_err() {
                return false;
            }
        }
    })
    .await;
    r.unwrap_or(false)
}

fn closed(rx: &watch::Receiver<RTCPeerConnectionState>) -> bool {
    matches!(
        *rx.borrow(),
        RTCPeerConnectionState::Closed | RTCPeerConnectionState::Failed
    )
}

fn rtp_packet(header: rtc::rtp::header::Header, mut payload: Vec<u8>) -> rtc::rtp::packet::Packet {
    media::stamp(&mut payload, media::now_ns());
    rtc::rtp::packet::Packet {
        header,
        payload: Bytes::from(payload),
    }
}

async fn run_video(
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    layers: Vec<LayerSpec>,
    ssrcs: Vec<u32>,
    mut state_rx: watch::Receiver<RTCPeerConnectionState>,
    sent: Arc<SendCounters>,
    feedback: Arc<Mutex<FeedbackState>>,
) {
    if !wait_connected(&mut state_rx).await {
        return;
    }
    let Some(sp) = send_params(&pc, ssrcs[0], MIME_TYPE_VP8).await else {
        eprintln!("diemcau-load: no negotiated sender for the video track");
        return;
    };
    let pt = sp.pt.unwrap_or(PT_VP8);
    let mut seqs: Vec<u16> = layers.iter().map(|_| rand_u32() as u16).collect();
    let mut pids: Vec<u16> = layers.iter().map(|_| rand_u32() as u16 & 0x7fff).collect();
    let ts_base = rand_u32();
    let mut tick = tokio::time::interval(Duration::from_micros(media::VIDEO_FRAME_MICROS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut frame_no: u64 = 0;
    loop {
        tick.tick().await;
        if closed(&state_rx) {
            return;
        }
        let ts = ts_base.wrapping_add((frame_no as u32).wrapping_mul(media::VIDEO_TICKS_PER_FRAME));
        let periodic = frame_no.is_multiple_of(media::KEYFRAME_INTERVAL_FRAMES);
        for (i, layer) in layers.iter().enumerate() {
            // A keyframe request is served on the next frame of that layer,
            // as an encoder does.
            let asked = feedback.lock().unwrap().take_keyframe_request(ssrcs[i]);
            let keyframe = periodic || asked;
            if asked && !periodic {
                sent.keyframes_on_request.fetch_add(1, Ordering::Relaxed);
            }
            let payloads = media::vp8_frame(layer, ssrcs[i], pids[i], keyframe, frame_no);
            pids[i] = (pids[i] + 1) & 0x7fff;
            let n = payloads.len();
            for (k, payload) in payloads.into_iter().enumerate() {
                let mut header = rtc::rtp::header::Header {
                    version: 2,
                    marker: k + 1 == n,
                    payload_type: pt,
                    sequence_number: seqs[i],
                    timestamp: ts,
                    ssrc: ssrcs[i],
                    ..Default::default()
                };
                seqs[i] = seqs[i].wrapping_add(1);
                if let (Some(id), Some(mid)) = (sp.mid_id, sp.mid.as_ref()) {
                    let _ = header.set_extension(id, Bytes::from(mid.clone().into_bytes()));
                }
                if let Some(id) = sp.rid_id {
                    let _ = header.set_extension(id, Bytes::from_static(layer.rid.as_bytes()));
                }
                let c = match track.write_rtp(rtp_packet(header, payload)).await {
                    Ok(_) => &sent.video_packets,
                    Err(_) => &sent.write_errors,
                };
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        frame_no += 1;
    }
}

async fn run_audio(
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    mut state_rx: watch::Receiver<RTCPeerConnectionState>,
    sent: Arc<SendCounters>,
    level: Level,
    (dtx, red): (bool, bool),
) {
    if !wait_connected(&mut state_rx).await {
        return;
    }
    let Some(sp) = send_params(&pc, ssrc, MIME_TYPE_OPUS).await else {
        eprintln!("diemcau-load: no negotiated sender for the audio track");
        return;
    };
    let pt = sp.pt.unwrap_or(PT_OPUS);
    // RED when negotiated: each packet carries the one before it.
    let red_pt = match red {
        true => send_params(&pc, ssrc, MIME_TYPE_RED)
            .await
            .and_then(|p| p.pt),
        false => None,
    };
    let mut previous: Option<(u32, Vec<u8>)> = None;
    let mut seq = rand_u32() as u16;
    let mut ts = rand_u32();
    let mut tick = tokio::time::interval(Duration::from_millis(media::AUDIO_FRAME_MILLIS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut frame: u64 = 0;
    loop {
        tick.tick().await;
        if closed(&state_rx) {
            return;
        }
        let level = level.get();
        frame += 1;
        if dtx && level == LEVEL_SILENT && !frame.is_multiple_of(DTX_EVERY) {
            // Silence under DTX: the frame is not sent, its time passes.
            ts = ts.wrapping_add(media::AUDIO_TICKS_PER_FRAME);
            continue;
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
        ts = ts.wrapping_add(media::AUDIO_TICKS_PER_FRAME);
        if let (Some(id), Some(mid)) = (sp.mid_id, sp.mid.as_ref()) {
            let _ = header.set_extension(id, Bytes::from(mid.clone().into_bytes()));
        }
        if let Some(id) = sp.level_id {
            // V bit (0x80): voice activity; then -dBov.
            let _ = header.set_extension(id, Bytes::from(vec![level]));
        }
        let mut payload = media::opus_packet(ssrc);
        if let Some(red_pt) = red_pt {
            media::stamp(&mut payload, media::now_ns());
            let this = (header.timestamp, payload.clone());
            let blocks: Vec<(u32, &[u8])> = previous
                .iter()
                .map(|(t, p)| (header.timestamp.wrapping_sub(*t), &p[..]))
                .collect();
            payload = red::build(pt, &payload, &blocks);
            header.payload_type = red_pt;
            previous = Some(this);
        }
        let c = match track.write_rtp(rtp_packet(header, payload)).await {
            Ok(_) => &sent.audio_packets,
            Err(_) => &sent.write_errors,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}
