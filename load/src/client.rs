//! One simulated endpoint: the shared WebRTC test client
//! (`diemcau_testkit::rtc_client`, webrtc-rs 0.21: real ICE, DTLS, SRTP) as
//! a publisher (VP8 simulcast q/h/f with rids + Opus with the RFC 6464 audio
//! level) and/or a subscriber (N video slots + K audio slots), joined to a
//! diemcau room over its WebSocket signalling or to a Janus VideoRoom.
//!
//! What is the harness's own stays here: its payloads (each ending in the
//! probe trailer whose send time gives the one-way delay, `media`), its
//! per-track timing records (`stats::TrackRecv`, fed from the client's
//! per-track hook, with RED refills counted) and the Janus signalling.
//! Unlike the tests, the endpoint leaves inbound RTX to webrtc-rs
//! (`ClientConfig::keep_rtx`: repairing it in the interceptor raised
//! diemcau's S1 p99 delay at N = 5 from 1.5 ms to 170–960 ms while Janus's
//! did not move — still to be explained) and keeps counters only.

use std::sync::atomic::AtomicU8;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use diemcau_testkit::rtc_client::{
    self, ClientConfig, CustomPayloads, Join, OnTrack, Payloads, PublishConfig, RtcClient,
    WsClient, red,
};
use webrtc::peer_connection::StatsSelector;

use crate::janus_api::JanusSession;
use crate::media::{self, LayerSpec};
use crate::stats::{Rec, SharedTrack, TrackRecv};

pub use diemcau_testkit::rtc_client::{LEVEL_SILENT, SendCounters};

/// ICE + DTLS on a loaded 2-core machine.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The server answers a join within this time or the join failed.
const JOIN_REPLY_TIMEOUT: Duration = Duration::from_secs(30);
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
    /// 400 ms instead of one per 20 ms, as a browser's Opus does with DTX on.
    pub dtx: bool,
    /// Offer RED (`red/48000/2`, fmtp `111/111`) as Chromium does: a
    /// publisher then sends each Opus packet with the one before it, a
    /// subscriber refills a lost packet from the next one's redundancy.
    pub red: bool,
}

/// The signalling session that keeps an endpoint in its room.
enum Signal {
    Diemcau(WsClient),
    Janus(JanusSession),
}

/// The harness's payloads: synthetic VP8 and Opus, each ending in the
/// probe trailer (stream tag = the SSRC, send time stamped at write).
struct Probed;

impl Payloads for Probed {
    fn video(&self, layer: &LayerSpec, ssrc: u32, pid: u16, key: bool, n: u64) -> Vec<Vec<u8>> {
        media::vp8_frame(layer, ssrc, pid, key, n)
    }

    fn audio(&self, ssrc: u32) -> Vec<u8> {
        media::opus_packet(ssrc)
    }

    fn stamp(&self, payload: &mut [u8]) {
        media::stamp(payload, media::now_ns());
    }
}

/// Each remote track's packets into a [`TrackRecv`] of `tracks`: arrival
/// and trailer times, and the packets RED refilled.
fn recorder(tracks: Arc<Mutex<Vec<SharedTrack>>>, red_pt: Option<u8>) -> OnTrack {
    OnTrack(Arc::new(move |kind: &str| {
        let video = kind == "video";
        let rec: SharedTrack = Arc::new(Mutex::new(TrackRecv::new(video)));
        tracks.lock().unwrap().push(rec.clone());
        Box::new(move |pkt: &rtc::rtp::packet::Packet| {
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
            // A packet lost before this one, refilled from its redundancy
            // (20 ms frames: the offset says which).
            for (off, block) in red.map(|r| r.1).unwrap_or_default() {
                let back = (off + media::AUDIO_TICKS_PER_FRAME / 2) / media::AUDIO_TICKS_PER_FRAME;
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
        })
    }))
}

pub struct Endpoint {
    pub name: String,
    client: RtcClient,
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
    signal: Option<Signal>,
}

impl Endpoint {
    /// A peer connection on one loopback (or `bind_ip`) socket with the
    /// configured send tracks and recvonly transceivers.
    pub async fn new(config: &EndpointConfig) -> anyhow::Result<Self> {
        let tracks = Arc::new(Mutex::new(Vec::new()));
        let publish = config.publish.as_ref().map(|layers| PublishConfig {
            layers: layers.clone(),
            audio: true,
            audio_level_byte: Some(config.audio_level_shared.clone().unwrap_or_else(|| {
                Arc::new(AtomicU8::new(
                    config.audio_level.unwrap_or(0x80 | AUDIO_LEVEL),
                ))
            })),
            dtx: config.dtx,
            payloads: Some(CustomPayloads(Arc::new(Probed))),
            ..PublishConfig::default()
        });
        let client = RtcClient::new(ClientConfig {
            name: config.name.clone(),
            publish,
            recv_video: config.recv_video,
            recv_audio: config.recv_audio,
            bind_ip: config.bind_ip.clone(),
            red: config.red,
            keep_rtx: true,
            counters_only: true,
            on_track: Some(recorder(
                tracks.clone(),
                config.red.then_some(rtc_client::PT_RED),
            )),
            ..ClientConfig::default()
        })
        .await
        .map_err(|e| anyhow!("{}: build the peer connection: {e}", config.name))?;
        let (sent, layers, audio_ssrc) = match &client.publisher {
            Some(p) => (
                p.sent.clone(),
                p.layers.iter().map(|l| (l.spec.rid, l.ssrc)).collect(),
                p.audio_ssrc,
            ),
            None => (Arc::default(), Vec::new(), None),
        };
        Ok(Self {
            name: config.name.clone(),
            client,
            tracks,
            sent,
            layers,
            audio_ssrc,
            role: config.role.clone(),
            max_kbps: config.max_kbps,
            signal: None,
        })
    }

    /// Every RTCP packet this endpoint sent so far, by kind (its stack's
    /// feedback: what the server receives and must process).
    pub fn rtcp_sent(&self) -> rtc_client::RtcpSent {
        self.client.tap.lock().unwrap().rtcp_sent
    }

    /// Create the offer and return it once ICE gathering completed.
    pub async fn create_offer(&self) -> anyhow::Result<String> {
        self.client.create_offer().await.map_err(|e| anyhow!("{e}"))
    }

    pub async fn set_answer(&mut self, sdp: &str) -> anyhow::Result<()> {
        self.client
            .set_answer(sdp)
            .await
            .map_err(|e| anyhow!("{e}"))
    }

    /// Join `meeting` at `base` (`http://host:port`) over `/ws`, apply the
    /// answer; does not wait for ICE/DTLS. What the server pushes afterwards
    /// is read and dropped.
    pub async fn join_ws(&mut self, base: &str, meeting: &str, token: &str) -> anyhow::Result<()> {
        let join = Join {
            role: &self.role,
            max_kbps: self.max_kbps,
            reply_timeout: JOIN_REPLY_TIMEOUT,
            ..Join::room(meeting, token)
        };
        let (ws, _) = rtc_client::ws_join_with(&mut self.client, base, &join)
            .await
            .map_err(|e| anyhow!("{}: join over /ws: {e}", self.name))?;
        ws.discard();
        self.signal = Some(Signal::Diemcau(ws));
        Ok(())
    }

    /// Answer a remote offer; returns the answer once ICE gathering completed.
    pub async fn accept_offer(&self, sdp: &str) -> anyhow::Result<String> {
        self.client
            .accept_offer(sdp)
            .await
            .map_err(|e| anyhow!("{e}"))
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
        let Some(desc) = self.client.pc.local_description().await else {
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
        self.client
            .wait_connected(timeout)
            .await
            .map_err(|e| anyhow!("{e}"))
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
            .client
            .pc
            .get_stats(std::time::Instant::now(), StatsSelector::None)
            .await;
        report
            .transport()
            .map(|t| (t.bytes_sent, t.bytes_received))
            .unwrap_or((0, 0))
    }

    pub async fn close(mut self) {
        match self.signal.take() {
            Some(Signal::Diemcau(ws)) => ws.leave().await,
            Some(Signal::Janus(js)) => js.close().await,
            None => {}
        }
        self.client.close().await;
    }
}
