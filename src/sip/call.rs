//! One SIP call's IO: its RTP/RTCP sockets (four consecutive ports: audio
//! RTP and RTCP, video RTP and RTCP), the local leg's socket, joining the
//! engine as the codec's room (admitted by `conference` before this runs),
//! and the task that drives the gateway until the call ends — a BYE (the
//! task is dropped), the room removed or the engine's session gone (the
//! listener is told, and sends the BYE).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::dialog::DialogId;
use super::gateway::{Gateway, Leg};
use super::metrics::SipMetrics;
use super::sdp::Negotiated;
use super::secure::MediaKeys;
use crate::conference::{Admission, Conference};
use crate::media::{Command, JoinRequest, ParticipantId, Reply, Role};
use crate::relay::bridge::answer_address;

/// How long the local leg may take to connect to our own engine (loopback).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the task checks that the engine still holds the room.
const ALIVE_CHECK: Duration = Duration::from_secs(1);
/// The VP8 rendition's bitrate when the room's link profile sets none:
/// what a room codec sends at 720p (the default for SIP video).
const RENDITION_DEFAULT_KBPS: u32 = 2000;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no free rtp ports in {0}..={1}")]
    NoPorts(u16, u16),
    #[error("{0}")]
    Setup(String),
    #[error("the meeting refused the room: {0}")]
    Refused(String),
}

pub struct CallSetup {
    pub conference: Conference,
    pub meeting: String,
    pub name: String,
    pub admission: Admission,
    pub neg: Negotiated,
    pub bind_ip: IpAddr,
    pub ports: (u16, u16),
    pub dialog: DialogId,
    pub ended: mpsc::Sender<DialogId>,
    /// The call's four RTP/RTCP sockets when bound already (dial-out binds
    /// them for its offer); `None`: bound here from `ports`.
    pub socks: Option<[UdpSocket; 4]>,
    /// Where SRTP drops are counted.
    pub metrics: Arc<SipMetrics>,
}

/// A running call; dropping it ends the call's task (and the room leaves).
pub struct Call {
    pub audio_port: u16,
    pub video_port: u16,
    pub participant: ParticipantId,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Call {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn bind_block(ip: IpAddr, (min, max): (u16, u16)) -> Result<[UdpSocket; 4], CallError> {
    let blocks = (u32::from(max) + 1 - u32::from(min)) / 4;
    if blocks == 0 {
        return Err(CallError::NoPorts(min, max));
    }
    let first = rand::random::<u32>() % blocks;
    for i in 0..blocks {
        let base = u32::from(min) + 4 * ((first + i) % blocks);
        let mut socks = Vec::with_capacity(4);
        for k in 0..4 {
            match UdpSocket::bind(SocketAddr::new(ip, (base + k) as u16)).await {
                Ok(s) => socks.push(s),
                Err(_) => break,
            }
        }
        if let Ok(s) = <[UdpSocket; 4]>::try_from(socks) {
            return Ok(s);
        }
    }
    Err(CallError::NoPorts(min, max))
}

/// Bind the call's sockets, join the engine, tell live control, start the
/// media task.
pub async fn start(s: CallSetup) -> Result<Call, CallError> {
    let socks = match s.socks {
        Some(socks) => socks,
        None => bind_block(s.bind_ip, s.ports).await?,
    };
    let audio_port = socks[0]
        .local_addr()
        .map_err(|e| CallError::Setup(e.to_string()))?
        .port();
    let keys = MediaKeys::new(&s.neg);
    let (mut gw, offer) =
        Gateway::new(Instant::now(), s.neg).map_err(|e| CallError::Setup(e.to_string()))?;
    let media = s.conference.media().clone();
    let (id, reply) = media
        .join(JoinRequest {
            participant: 0,
            room: s.meeting.clone(),
            name: s.name.clone(),
            role: Role::Room,
            max_kbps: s.admission.max_kbps,
            offer,
        })
        .await
        .map_err(|e| CallError::Setup(e.to_string()))?;
    let codec = s.neg.describe();
    let guard = LeaveGuard {
        conference: s.conference.clone(),
        meeting: s.meeting.clone(),
        participant: id,
        endpoint: s.admission.endpoint.clone(),
    };
    s.conference
        .connected(&s.meeting, &s.admission, id, &s.name, Role::Room)
        .await
        .map_err(|e| CallError::Refused(e.to_string()))?;
    // The wall tile: a SIP room, in the call, and with what codecs.
    if let Some(endpoint) = &s.admission.endpoint {
        let state = super::dialout::CallState::Connected { codec };
        s.conference
            .live()
            .announce(&s.meeting, super::dialout::event(endpoint, &state))
            .await;
    }
    let Reply::Joined { answer, .. } = reply else {
        return Err(CallError::Setup("unexpected engine reply".into()));
    };
    let to = answer_address(&answer)
        .ok_or_else(|| CallError::Setup("engine answer has no candidate".into()))?;
    let local_sock = UdpSocket::bind(SocketAddr::new(to.ip(), 0))
        .await
        .map_err(|e| CallError::Setup(e.to_string()))?;
    local_sock
        .connect(to)
        .await
        .map_err(|e| CallError::Setup(e.to_string()))?;
    let local = local_sock
        .local_addr()
        .map_err(|e| CallError::Setup(e.to_string()))?;
    gw.accept_answer(&answer, local)
        .map_err(|e| CallError::Setup(e.to_string()))?;
    // A codec that takes video is sent the meeting's composite picture,
    // encoded once for every SIP room (started now if it is not running,
    // kept while the call holds it); the stage slot's own video is the
    // fallback.
    let composite = if gw.takes_video() {
        let pictures = s
            .conference
            .composite_for(&s.meeting, crate::compose::layout::OutputKind::Rooms)
            .await
            .map(|(pictures, _)| pictures);
        if pictures.is_some() {
            gw.use_composite();
        }
        pictures.map(|p| (p, s.meeting.clone(), s.conference.clone()))
    } else {
        None
    };
    let [a, a_rtcp, v, v_rtcp] = socks;
    let video_port = audio_port + 2;
    let dialog = s.dialog;
    let ended = s.ended;
    let metrics = s.metrics;
    let rendition_kbps = s.admission.max_kbps.unwrap_or(RENDITION_DEFAULT_KBPS);
    let task = tokio::spawn(async move {
        let _guard = guard;
        let sip = Sip {
            socks: [a, a_rtcp, v, v_rtcp],
            keys,
            metrics,
        };
        let stats = run(gw, local_sock, sip, id, &media, composite, rendition_kbps).await;
        tracing::info!(participant = id, ?stats, "sip: call media ended");
        let _ = ended.send(dialog).await;
    });
    Ok(Call {
        audio_port,
        video_port,
        participant: id,
        task,
    })
}

/// The SIP leg: its four sockets and, with SDES, its SRTP contexts.
struct Sip {
    socks: [UdpSocket; 4],
    keys: MediaKeys,
    metrics: Arc<SipMetrics>,
}

impl Sip {
    /// A datagram from the codec, in clear, to the gateway; a sealed one
    /// that does not open is dropped and counted.
    fn receive(&mut self, gw: &mut Gateway, leg: Leg, from: SocketAddr, data: &[u8]) {
        match self.keys.inbound(leg, data) {
            Ok(None) => gw.handle_receive(Instant::now(), leg, from, data),
            Ok(Some(clear)) => gw.handle_receive(Instant::now(), leg, from, &clear),
            Err(e) => self.metrics.count_srtp_drop(&e),
        }
    }

    fn send(&mut self, leg: Leg, to: SocketAddr, data: &[u8]) {
        let sock = match leg {
            Leg::Local => return,
            Leg::SipAudio => &self.socks[0],
            Leg::SipAudioRtcp => &self.socks[1],
            Leg::SipVideo => &self.socks[2],
            Leg::SipVideoRtcp => &self.socks[3],
        };
        match self.keys.outbound(leg, data) {
            Ok(None) => {
                let _ = sock.try_send_to(data, to);
            }
            Ok(Some(sealed)) => {
                let _ = sock.try_send_to(&sealed, to);
            }
            // Ours is well-formed; a stream table full drops the packet.
            Err(e) => tracing::debug!(error = %e, "sip: srtp protect failed"),
        }
    }
}

async fn run(
    mut gw: Gateway,
    local: UdpSocket,
    mut sip: Sip,
    id: ParticipantId,
    media: &crate::net::Media,
    composite: Option<(crate::compose::service::Pictures, String, Conference)>,
    rendition_kbps: u32,
) -> super::gateway::GatewayStats {
    // The VP8 rendition's codecs, started the first time a subscriber
    // without H.264 wants this room's video, idle while none does.
    let mut transcoder: Option<super::transcode::Transcoder> = None;
    let mut rendition = false;
    let (mut pictures, composer_of) = match composite {
        Some((p, meeting, conference)) => (Some(p), Some((meeting, conference))),
        None => (None, None),
    };
    // Ask for a keyframe first: the codec joins mid-stream.
    let ask_keyframe = |who: &Option<(String, Conference)>| {
        if let Some((meeting, conference)) = who
            && let Some(c) = conference.composer()
        {
            c.keyframe(meeting);
        }
    };
    ask_keyframe(&composer_of);
    let legs = [
        Leg::SipAudio,
        Leg::SipAudioRtcp,
        Leg::SipVideo,
        Leg::SipVideoRtcp,
    ];
    let t0 = Instant::now();
    let mut next_check = t0 + ALIVE_CHECK;
    let (mut lb, mut b0, mut b1, mut b2, mut b3) = (
        vec![0u8; 2048],
        vec![0u8; 2048],
        vec![0u8; 2048],
        vec![0u8; 2048],
        vec![0u8; 2048],
    );
    loop {
        if Instant::now() >= gw.next_timeout() {
            gw.handle_timeout(Instant::now());
        }
        for t in gw.poll_transmit() {
            if t.leg == Leg::Local {
                let _ = local.try_send_to(&t.contents, t.destination);
            } else {
                sip.send(t.leg, t.destination, &t.contents);
            }
        }
        let now = Instant::now();
        if gw.is_dead() || (!gw.is_connected() && now.duration_since(t0) > CONNECT_TIMEOUT) {
            return gw.stats;
        }
        if now >= next_check {
            next_check = now + ALIVE_CHECK;
            tracing::debug!(participant = id, stats = ?gw.stats, "sip: call media");
            if media.room_of(id).is_none() {
                return gw.stats; // removed by an operator, or the meeting closed
            }
        }
        if gw.take_composite_keyframe_request() {
            ask_keyframe(&composer_of);
        }
        let wanted = media.rendition_wanted(id) && gw.takes_video();
        if wanted != rendition {
            rendition = wanted;
            gw.set_rendition(now, wanted);
            if wanted && transcoder.is_none() {
                match super::transcode::Transcoder::start(rendition_kbps, sip.metrics.clone()) {
                    Ok(t) => transcoder = Some(t),
                    Err(e) => tracing::warn!(error = %e, "sip: no thread for the vp8 rendition"),
                }
            }
            if !wanted && let Some(t) = transcoder.as_mut() {
                t.idle();
            }
            tracing::debug!(participant = id, wanted, "sip: vp8 rendition");
        }
        if let Some(t) = transcoder.as_mut() {
            for p in gw.take_pictures() {
                if !t.picture(p.annex_b, p.ts, p.keyframe) {
                    gw.request_idr(now);
                }
            }
            if gw.take_vp8_keyframe_request() {
                t.keyframe();
            }
        }
        let wake = tokio::time::Instant::from_std(gw.next_timeout().max(now).min(next_check));
        tokio::select! {
            p = async { pictures.as_mut().expect("guarded").recv().await }, if pictures.is_some() => match p {
                Ok(pic) => gw.send_picture(&pic.annex_b, pic.ts),
                // Fell behind: pictures were skipped, the next keyframe heals.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => ask_keyframe(&composer_of),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => pictures = None,
            },
            d = async { transcoder.as_mut().expect("guarded").done.recv().await }, if transcoder.is_some() => match d {
                Some(super::transcode::Done::Picture { vp8, ts, .. }) => gw.send_vp8(Instant::now(), &vp8, ts),
                Some(super::transcode::Done::NeedIdr) => gw.request_idr(Instant::now()),
                None => transcoder = None,
            },
            r = local.recv_from(&mut lb) => if let Ok((n, from)) = r {
                gw.handle_receive(Instant::now(), Leg::Local, from, &lb[..n]);
            },
            r = sip.socks[0].recv_from(&mut b0) => if let Ok((n, from)) = r {
                sip.receive(&mut gw, legs[0], from, &b0[..n]);
            },
            r = sip.socks[1].recv_from(&mut b1) => if let Ok((n, from)) = r {
                sip.receive(&mut gw, legs[1], from, &b1[..n]);
            },
            r = sip.socks[2].recv_from(&mut b2) => if let Ok((n, from)) = r {
                sip.receive(&mut gw, legs[2], from, &b2[..n]);
            },
            r = sip.socks[3].recv_from(&mut b3) => if let Ok((n, from)) = r {
                sip.receive(&mut gw, legs[3], from, &b3[..n]);
            },
            _ = tokio::time::sleep_until(wake) => gw.handle_timeout(Instant::now()),
        }
    }
}

/// Takes the room out of the engine and live control when the call ends.
struct LeaveGuard {
    conference: Conference,
    meeting: String,
    participant: ParticipantId,
    /// The room, told "ended" on its wall tile.
    endpoint: Option<String>,
}

impl Drop for LeaveGuard {
    fn drop(&mut self) {
        let conference = self.conference.clone();
        let (id, meeting) = (self.participant, self.meeting.clone());
        let endpoint = self.endpoint.take();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let media = conference.media();
                let _ = media
                    .participant_command(id, Command::Leave { participant: id })
                    .await;
                media.forget(id);
                conference.live().disconnected(&meeting, id).await;
                if let Some(e) = endpoint {
                    let ended = super::dialout::event(&e, &super::dialout::CallState::Ended);
                    conference.live().announce(&meeting, ended).await;
                }
            });
        }
    }
}
