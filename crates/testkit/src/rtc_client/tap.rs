//! The client's interceptor: sees RTCP feedback and raw (pre-RTX-decap) RTP.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rtc::interceptor::{Interceptor, Packet as IPacket, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::transport_feedbacks::transport_layer_cc::TransportLayerCc;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::sansio::Protocol;

use super::PT_RTX;

/// RTCP packets a client sent, by kind (a compound packet counts each of
/// its parts). Every feedback interceptor of the stack (NACK generator,
/// TWCC receiver, receiver reports) sits app-ward of the [`Tap`], so this
/// is what the server receives and must process.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RtcpSent {
    /// Transport-wide congestion control feedback.
    pub twcc: u64,
    pub receiver_reports: u64,
    pub remb: u64,
    pub nack: u64,
    /// PLI and FIR.
    pub keyframe_requests: u64,
    /// Sender reports, SDES, anything else.
    pub other: u64,
}

impl RtcpSent {
    pub fn add(&mut self, o: &RtcpSent) {
        self.twcc += o.twcc;
        self.receiver_reports += o.receiver_reports;
        self.remb += o.remb;
        self.nack += o.nack;
        self.keyframe_requests += o.keyframe_requests;
        self.other += o.other;
    }

    /// What was sent since `earlier` (a window's share).
    pub fn since(&self, earlier: &RtcpSent) -> RtcpSent {
        RtcpSent {
            twcc: self.twcc - earlier.twcc,
            receiver_reports: self.receiver_reports - earlier.receiver_reports,
            remb: self.remb - earlier.remb,
            nack: self.nack - earlier.nack,
            keyframe_requests: self.keyframe_requests - earlier.keyframe_requests,
            other: self.other - earlier.other,
        }
    }
}

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
    /// Every RTCP packet sent, by kind.
    pub rtcp_sent: RtcpSent,
    /// Inbound RTP datagrams per payload type, before RTX de-encapsulation.
    pub rtp_in_by_pt: BTreeMap<u8, u64>,
    /// RTX packets turned back into their primary stream by the tap.
    pub rtx_repaired: u64,
}

impl TapState {
    /// Whether a keyframe was asked for on `ssrc` since the last call: the
    /// publisher serves it on that layer's next frame, as an encoder does.
    pub fn take_keyframe_request(&mut self, ssrc: u32) -> bool {
        self.pending_keyframe.remove(&ssrc)
    }

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
pub(super) struct Tap {
    state: Arc<Mutex<TapState>>,
    /// Turn RTX back into the primary stream (off: `ClientConfig::keep_rtx`).
    repair_rtx: bool,
    /// RTX SSRC -> (primary SSRC, primary payload type, RTX payload type).
    rtx: HashMap<u32, (u32, u8, Option<u8>)>,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl Tap {
    pub(super) fn new(state: Arc<Mutex<TapState>>, repair_rtx: bool) -> Self {
        Self {
            state,
            repair_rtx,
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
                    if self.repair_rtx
                        && let Some(&(primary, pt, rtx_pt)) = self.rtx.get(&p.header.ssrc)
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
                    s.rtcp_sent.nack += 1;
                    for pair in &nack.nacks {
                        s.nacked_seqs_sent += 1 + pair.lost_packets.count_ones() as u64;
                    }
                } else if any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>() {
                    s.keyframe_requests_sent += 1;
                    s.rtcp_sent.keyframe_requests += 1;
                } else if any.is::<TransportLayerCc>() {
                    s.rtcp_sent.twcc += 1;
                } else if any.is::<ReceiverReport>() {
                    s.rtcp_sent.receiver_reports += 1;
                } else if any.is::<ReceiverEstimatedMaximumBitrate>() {
                    s.rtcp_sent.remb += 1;
                } else {
                    s.rtcp_sent.other += 1;
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
