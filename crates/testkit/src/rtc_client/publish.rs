//! The publisher: one simulcast VP8 track (an encoding per layer, each its
//! own SSRC) and one Opus track, written as ready RTP by two tasks at 30
//! frames and 50 packets a second. A keyframe request (PLI/FIR, seen by the
//! tap) or a resumed layer is answered with a keyframe on that layer's next
//! frame, as an encoder does.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::watch;
use webrtc::media_stream::MediaStreamTrack;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};

use super::client::wait_connected_rx;
use super::tap::TapState;
use super::vp8::{ClipPlayer, IvfClip, MAX_VP8_PAYLOAD_BYTES, packetize_vp8, synthetic_frame};
use super::{
    BoxError, LEVEL_SILENT, LayerSpec, PT_OPUS, PT_VP8, PublishConfig, SEND_CONNECT_TIMEOUT,
    URI_AUDIO_LEVEL, URI_MID, URI_RID, VideoSource, red,
};

/// 90 kHz clock / 30 frames per second.
const VIDEO_TICKS_PER_FRAME: u32 = 3000;
const VIDEO_FRAME_MICROS: u64 = 33_333;
/// 20 ms of Opus at 48 kHz.
const AUDIO_TICKS_PER_FRAME: u32 = 960;
const AUDIO_FRAME_MILLIS: u64 = 20;
/// Keyframe every 60 frames = 2 s at 30 fps (what a conferencing encoder
/// does without PLI; the SFU asks for more when it switches layers).
const KEYFRAME_INTERVAL_FRAMES: u64 = 60;
/// Opus TOC byte of the synthetic audio: config 31 (CELT FB 20 ms), mono,
/// one frame.
pub(super) const OPUS_TOC: u8 = 0xfc;
/// DTX: one packet per this many 20 ms frames while silent (400 ms).
const DTX_EVERY_FRAMES: u64 = 20;

/// The caller's synthetic payloads (see `PublishConfig::payloads`).
pub trait Payloads: Send + Sync + 'static {
    /// One VP8 frame of `layer`, sent on `ssrc`, as RTP payloads.
    fn video(
        &self,
        layer: &LayerSpec,
        ssrc: u32,
        picture_id: u16,
        keyframe: bool,
        frame_no: u64,
    ) -> Vec<Vec<u8>>;
    /// One 20 ms Opus payload sent on `ssrc`.
    fn audio(&self, ssrc: u32) -> Vec<u8>;
    /// The last touch on a payload right before it is written (a send
    /// time); RED payloads are stamped whole, their primary last.
    fn stamp(&self, _payload: &mut [u8]) {}
}

/// The tagged payloads `RtpRecord::layer` and `RtpRecord::source` read.
struct Tagged {
    source_tag: u32,
}

impl Payloads for Tagged {
    fn video(&self, layer: &LayerSpec, _: u32, pid: u16, keyframe: bool, n: u64) -> Vec<Vec<u8>> {
        synthetic_frame(layer, self.source_tag, pid, keyframe, n)
    }

    fn audio(&self, _: u32) -> Vec<u8> {
        // Opus TOC for a 20 ms CELT frame, our source tag, filler.
        let mut payload = vec![OPUS_TOC];
        payload.extend_from_slice(&self.source_tag.to_le_bytes());
        payload.extend_from_slice(&[0xa5; 36]);
        payload
    }
}

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

/// What the whole publisher has sent.
#[derive(Debug, Default)]
pub struct SendCounters {
    pub video_packets: AtomicU64,
    pub audio_packets: AtomicU64,
    pub write_errors: AtomicU64,
    /// Keyframes sent because a receiver asked (PLI/FIR), per layer frame.
    pub keyframes_on_request: AtomicU64,
}

pub struct LayerHandle {
    pub spec: LayerSpec,
    pub ssrc: u32,
    pub paused: AtomicBool,
    pub counters: LayerCounters,
}

pub struct Publisher {
    /// Random tag written into every synthetic frame, so receivers can tell
    /// whose media they got.
    pub source_tag: u32,
    pub layers: Vec<Arc<LayerHandle>>,
    pub audio_ssrc: Option<u32>,
    /// The RFC 6464 byte sent on the next audio packet (V bit and level).
    pub audio_level: Arc<AtomicU8>,
    pub sent: Arc<SendCounters>,
}

impl Publisher {
    pub fn layer(&self, rid: &str) -> &Arc<LayerHandle> {
        self.layers
            .iter()
            .find(|l| l.spec.rid == rid)
            .unwrap_or_else(|| panic!("publisher has no layer with rid {rid:?}"))
    }

    /// Add the send tracks to `pc` and start their tasks, which wait for
    /// the connection before they send.
    pub(super) async fn add(
        pc: &Arc<dyn PeerConnection>,
        config: &PublishConfig,
        name: &str,
        red_offered: bool,
        tap: &Arc<Mutex<TapState>>,
        state_rx: &watch::Receiver<RTCPeerConnectionState>,
    ) -> Result<(Self, Vec<tokio::task::JoinHandle<()>>), BoxError> {
        let stream_id = format!("{name}-stream");
        let layers: Vec<Arc<LayerHandle>> = config
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
            format!("{name}-video"),
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
        let audio_level = config
            .audio_level_byte
            .clone()
            .unwrap_or_else(|| Arc::new(AtomicU8::new(0x80 | config.audio_level.min(127))));
        let (audio, audio_ssrc) = if config.audio {
            let ssrc: u32 = rand::random();
            let audio = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                stream_id,
                format!("{name}-audio"),
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
            pc.add_transceiver_from_track(audio.clone() as Arc<dyn TrackLocal>, Some(sendonly()))
                .await?;
            (Some(audio), Some(ssrc))
        } else {
            (None, None)
        };
        let clips = match &config.video {
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
        let payloads: Arc<dyn Payloads> = match &config.payloads {
            Some(p) => p.0.clone(),
            None => Arc::new(Tagged { source_tag }),
        };
        let sent = Arc::new(SendCounters::default());
        let mut tasks = vec![tokio::spawn(run_video(
            pc.clone(),
            video,
            VideoRun {
                layers: layers.clone(),
                payloads: payloads.clone(),
                clips,
                tap: tap.clone(),
                sent: sent.clone(),
            },
            state_rx.clone(),
        ))];
        if let (Some(track), Some(ssrc)) = (audio, audio_ssrc) {
            tasks.push(tokio::spawn(run_audio(
                pc.clone(),
                track,
                AudioRun {
                    ssrc,
                    payloads,
                    tone: config.audio_tone_hz.map(opus_tone),
                    level: audio_level.clone(),
                    dtx: config.dtx,
                    red: red_offered,
                    sent: sent.clone(),
                },
                state_rx.clone(),
            )));
        }
        let publisher = Publisher {
            source_tag,
            layers,
            audio_ssrc,
            audio_level,
            sent,
        };
        Ok((publisher, tasks))
    }
}

pub(super) fn vp8_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

pub(super) fn opus_codec() -> RTCRtpCodec {
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

fn closed(rx: &watch::Receiver<RTCPeerConnectionState>) -> bool {
    matches!(
        *rx.borrow(),
        RTCPeerConnectionState::Closed | RTCPeerConnectionState::Failed
    )
}

struct VideoRun {
    layers: Vec<Arc<LayerHandle>>,
    payloads: Arc<dyn Payloads>,
    /// Real VP8: one looping clip per layer; `None` sends `payloads`.
    clips: Option<Vec<ClipPlayer>>,
    tap: Arc<Mutex<TapState>>,
    sent: Arc<SendCounters>,
}

async fn run_video(
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    mut run: VideoRun,
    mut state_rx: watch::Receiver<RTCPeerConnectionState>,
) {
    if wait_connected_rx(&mut state_rx, SEND_CONNECT_TIMEOUT)
        .await
        .is_err()
    {
        return;
    }
    let layers = &run.layers;
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
    let mut tick = tokio::time::interval(Duration::from_micros(VIDEO_FRAME_MICROS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut frame_no: u64 = 0;
    loop {
        tick.tick().await;
        if closed(&state_rx) {
            return;
        }
        let ts = ts_base.wrapping_add((frame_no as u32).wrapping_mul(VIDEO_TICKS_PER_FRAME));
        for (i, layer) in layers.iter().enumerate() {
            let paused = layer.paused.load(Ordering::Relaxed);
            let requested = run.tap.lock().unwrap().take_keyframe_request(layer.ssrc);
            if paused {
                was_paused[i] = true;
                continue;
            }
            // A real encoder restarts a resumed layer with a keyframe.
            let resumed = std::mem::take(&mut was_paused[i]);
            let (payloads, keyframe, on_request) = match run.clips.as_mut().map(|c| &mut c[i]) {
                None => {
                    let periodic = frame_no.is_multiple_of(KEYFRAME_INTERVAL_FRAMES);
                    let keyframe = periodic || requested || resumed;
                    let p =
                        run.payloads
                            .video(&layer.spec, layer.ssrc, pids[i], keyframe, frame_no);
                    (p, keyframe, requested && !periodic)
                }
                Some(player) => {
                    if requested || resumed {
                        // Frame 0 of the clip is a real keyframe.
                        player.restart();
                    }
                    let (frame, keyframe) = player.next_frame();
                    let p = packetize_vp8(frame, Some(pids[i]), MAX_VP8_PAYLOAD_BYTES);
                    (p, keyframe, requested)
                }
            };
            if on_request {
                layer
                    .counters
                    .keyframes_on_request
                    .fetch_add(1, Ordering::Relaxed);
                run.sent
                    .keyframes_on_request
                    .fetch_add(1, Ordering::Relaxed);
            }
            pids[i] = (pids[i] + 1) & 0x7fff;
            let n = payloads.len();
            for (k, mut payload) in payloads.into_iter().enumerate() {
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
                run.payloads.stamp(&mut payload);
                let packet = rtc::rtp::packet::Packet {
                    header,
                    payload: Bytes::from(payload),
                };
                if track.write_rtp(packet).await.is_err() {
                    layer.counters.write_errors.fetch_add(1, Ordering::Relaxed);
                    run.sent.write_errors.fetch_add(1, Ordering::Relaxed);
                } else {
                    layer.counters.packets.fetch_add(1, Ordering::Relaxed);
                    run.sent.video_packets.fetch_add(1, Ordering::Relaxed);
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

struct AudioRun {
    ssrc: u32,
    payloads: Arc<dyn Payloads>,
    /// Real Opus packets played in a loop instead of `payloads`.
    tone: Option<Vec<Vec<u8>>>,
    level: Arc<AtomicU8>,
    dtx: bool,
    /// RED was offered: send it if the answer kept it.
    red: bool,
    sent: Arc<SendCounters>,
}

async fn run_audio(
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    run: AudioRun,
    mut state_rx: watch::Receiver<RTCPeerConnectionState>,
) {
    if wait_connected_rx(&mut state_rx, SEND_CONNECT_TIMEOUT)
        .await
        .is_err()
    {
        return;
    }
    let Some(sp) = send_params(&pc, run.ssrc, MIME_TYPE_OPUS).await else {
        tracing::warn!("rtc_client: no negotiated sender for the audio track");
        return;
    };
    let pt = sp.pt.unwrap_or(PT_OPUS);
    // RED when negotiated: each packet carries the one before it.
    let red_pt = match run.red {
        true => send_params(&pc, run.ssrc, red::MIME_TYPE_RED)
            .await
            .and_then(|p| p.pt),
        false => None,
    };
    let mut previous: Option<(u32, Vec<u8>)> = None;
    let mut seq: u16 = rand::random();
    let mut ts: u32 = rand::random();
    let mut tick = tokio::time::interval(Duration::from_millis(AUDIO_FRAME_MILLIS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut frame: u64 = 0;
    loop {
        tick.tick().await;
        if closed(&state_rx) {
            return;
        }
        let level = run.level.load(Ordering::Relaxed);
        frame += 1;
        if run.dtx && level & 0x7f == LEVEL_SILENT && !frame.is_multiple_of(DTX_EVERY_FRAMES) {
            // Silence under DTX: the frame is not sent, its time passes.
            ts = ts.wrapping_add(AUDIO_TICKS_PER_FRAME);
            continue;
        }
        let mut header = rtc::rtp::header::Header {
            version: 2,
            payload_type: pt,
            sequence_number: seq,
            timestamp: ts,
            ssrc: run.ssrc,
            ..Default::default()
        };
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(AUDIO_TICKS_PER_FRAME);
        if let (Some(id), Some(mid)) = (sp.mid_id, sp.mid.as_ref()) {
            let _ = header.set_extension(id, Bytes::from(mid.clone().into_bytes()));
        }
        if let Some(id) = sp.level_id {
            // V bit (0x80): voice activity; then -dBov.
            let _ = header.set_extension(id, Bytes::from(vec![level]));
        }
        let mut payload = match run.tone.as_ref() {
            Some(t) => t[usize::from(header.sequence_number) % t.len()].clone(),
            None => run.payloads.audio(run.ssrc),
        };
        if let Some(red_pt) = red_pt {
            run.payloads.stamp(&mut payload);
            let this = (header.timestamp, payload.clone());
            let blocks: Vec<(u32, &[u8])> = previous
                .iter()
                .map(|(t, p)| (header.timestamp.wrapping_sub(*t), &p[..]))
                .collect();
            payload = red::build(pt, &payload, &blocks);
            header.payload_type = red_pt;
            previous = Some(this);
        }
        run.payloads.stamp(&mut payload);
        let packet = rtc::rtp::packet::Packet {
            header,
            payload: Bytes::from(payload),
        };
        let c = match track.write_rtp(packet).await {
            Ok(_) => &run.sent.audio_packets,
            Err(_) => &run.sent.write_errors,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}
