//! The receive side: every RTP packet of each remote track, counted and
//! (unless `counters_only`) kept as an [`RtpRecord`] in its track's
//! [`TrackStats`], and handed to the caller's [`super::OnTrack`] hook.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::watch;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
};

use super::OnTrack;
use super::publish::OPUS_TOC;
use super::vp8::{frame_fingerprint, vp8_frame_kind, vp8_parse, vp8_source};

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
    /// `vp8::frame_fingerprint` of the frame, on its first packet
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
    /// Every packet received, unless the client keeps counters only.
    pub packets: Vec<RtpRecord>,
    /// Packets and payload bytes received.
    pub received: u64,
    pub bytes: u64,
}

impl TrackStats {
    pub fn packet_count(&self) -> usize {
        self.received as usize
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
    /// `clip` (see [`super::VideoSource::Ivf`]), as (all, keyframes).
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
            self.received,
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

#[derive(Default)]
pub(super) struct RecvState {
    pub(super) tracks: BTreeMap<usize, TrackStats>,
    pub(super) mids: HashMap<usize, String>,
}

// ---------------------------------------------------------------------------
// Peer connection event handler
// ---------------------------------------------------------------------------

pub(super) struct Handler {
    pub(super) state_tx: watch::Sender<RTCPeerConnectionState>,
    pub(super) gathered_tx: watch::Sender<bool>,
    pub(super) recv: Arc<Mutex<RecvState>>,
    pub(super) remotes: Arc<Mutex<Vec<Arc<dyn TrackRemote>>>>,
    pub(super) audio_level_ext: Arc<Mutex<Option<u8>>>,
    pub(super) counters_only: bool,
    pub(super) on_track: Option<OnTrack>,
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
        let keep = !self.counters_only;
        let kind = match track.kind().await {
            RtpCodecKind::Audio => "audio",
            RtpCodecKind::Video => "video",
            _ => "unknown",
        };
        let mut hook = self.on_track.as_ref().map(|h| (h.0)(kind));
        tokio::spawn(async move {
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
                        if let Some(hook) = hook.as_mut() {
                            hook(&pkt);
                        }
                        let Some(t) = transceiver else { continue };
                        let record = keep.then(|| record(kind, &pkt, &level_ext));
                        let mut r = recv.lock().unwrap();
                        let ts = r.tracks.entry(t).or_default();
                        ts.received += 1;
                        ts.bytes += pkt.payload.len() as u64;
                        ts.packets.extend(record);
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
    }
}

/// What a test may ask of one received packet.
fn record(kind: &str, pkt: &rtc::rtp::packet::Packet, level_ext: &Mutex<Option<u8>>) -> RtpRecord {
    let at = Instant::now();
    let video = kind == "video";
    let (frame_start, keyframe) = if video {
        vp8_frame_kind(&pkt.payload)
    } else {
        (false, false)
    };
    let (layer, source) = if video {
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
    let fingerprint = (video && frame_start).then(|| {
        let (_, _, off) = vp8_parse(&pkt.payload);
        let off = off.min(pkt.payload.len());
        frame_fingerprint(&pkt.payload[off..])
    });
    let level_id = *level_ext.lock().unwrap();
    let audio_level = level_id
        .and_then(|id| pkt.header.get_extension(id))
        .and_then(|b| b.first().map(|v| v & 0x7f));
    RtpRecord {
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
        payload: if video {
            pkt.payload.clone()
        } else {
            bytes::Bytes::new()
        },
        at,
    }
}
