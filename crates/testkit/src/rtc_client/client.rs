//! The client: one peer connection, its publisher, its receive tracks.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::network_type::NetworkType;
use rtc::interceptor::Slot;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_RTX;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use tokio::sync::watch;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, RTCConfigurationBuilder,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
    register_default_interceptors,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use webrtc::runtime::TokioRuntime;

use super::publish::{Publisher, opus_codec, vp8_codec};
use super::receive::{Handler, RecvState, TrackStats};
use super::relay::{LossRelay, first_udp_candidate, rewrite_candidates};
use super::tap::{Tap, TapState};
use super::{
    BoxError, ClientConfig, LossConfig, PT_OPUS, PT_RED, PT_RTX, PT_VP8, URI_AUDIO_LEVEL, URI_MID,
    red, wait_for,
};

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

fn media_engine(offer_red: bool) -> Result<MediaEngine, BoxError> {
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
    let rtx = RTCRtpCodec {
        mime_type: MIME_TYPE_RTX.to_owned(),
        clock_rate: 90000,
        channels: 0,
        sdp_fmtp_line: format!("apt={PT_VP8}"),
        rtcp_feedback: vec![],
    };
    let mut codecs = vec![
        (vp8, PT_VP8, RtpCodecKind::Video),
        (rtx, PT_RTX, RtpCodecKind::Video),
        (opus_codec(), PT_OPUS, RtpCodecKind::Audio),
    ];
    if offer_red {
        let red = RTCRtpCodec {
            mime_type: red::MIME_TYPE_RED.to_owned(),
            clock_rate: 48000,
            channels: 2,
            sdp_fmtp_line: format!("{PT_OPUS}/{PT_OPUS}"),
            rtcp_feedback: vec![],
        };
        codecs.push((red, PT_RED, RtpCodecKind::Audio));
    }
    for (rtp_codec, payload_type, kind) in codecs {
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec,
                payload_type,
            },
            kind,
        )?;
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

impl RtcClient {
    /// Build a peer connection on one loopback (or `bind_ip`) socket with
    /// the configured send tracks and recvonly transceivers (in that order).
    pub async fn new(config: ClientConfig) -> Result<Self, BoxError> {
        let mut me = media_engine(config.red)?;
        // NACK generator/responder, mid/rid/rrid extensions, TWCC, RR/SR:
        // what a browser runs.
        let registry = register_default_interceptors(Registry::new(), &mut me)?;
        let tap = Arc::new(Mutex::new(TapState::default()));
        // Between the wire-most interceptors and the NACK generator (7_000):
        // sees outbound NACKs after they are made, inbound RTP before RTX
        // de-encapsulation (which happens after the whole chain).
        let registry = registry.with(Slot::from(3_500), Tap::new(tap.clone(), !config.keep_rtx));
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
            counters_only: config.counters_only,
            on_track: config.on_track.clone(),
        });
        let bind = format!("{}:0", config.bind_ip.as_deref().unwrap_or("127.0.0.1"));
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(me)
            .with_setting_engine(setting_engine)
            .with_interceptor_registry(registry)
            .with_runtime(Arc::new(TokioRuntime))
            .with_handler(handler)
            .with_udp_addrs(vec![bind])
            .build()
            .await?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let mut tasks = Vec::new();
        let mut publisher = None;
        if let Some(pubcfg) = &config.publish {
            let name = sanitize(&config.name);
            let (p, t) = Publisher::add(&pc, pubcfg, &name, config.red, &tap, &state_rx).await?;
            publisher = Some(p);
            tasks.extend(t);
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
                p.sent.audio_packets.load(Ordering::Relaxed)
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
            .store(0x80 | level.min(127), Ordering::Relaxed);
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

/// Wait until the connection is up, failed or `timeout` passes.
pub(super) async fn wait_connected_rx(
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

/// The client's name as a stream id: letters and digits, the rest dashes.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if s.is_empty() { "client".into() } else { s }
}
