//! The endpoint's own interceptor, between the wire and webrtc-rs's NACK
//! generator: it sees keyframe requests (PLI/FIR) for the publisher, so the
//! publisher answers them like a browser's encoder does (a subscriber that
//! joins gets a keyframe at once, not at the next periodic one), and it turns
//! inbound RTX back into the primary stream, so the NACK generator sees a
//! repaired packet arrive and stops asking (webrtc-rs 0.21 de-encapsulates
//! RTX only after the whole chain: without this it NACKs ~20 times per lost
//! packet and the server's answers were counted as duplicates).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rtc::interceptor::{Interceptor, Packet as IPacket, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::sansio::Protocol;

/// What the interceptor saw, shared with the endpoint's tasks.
#[derive(Default, Debug)]
pub struct FeedbackState {
    /// SSRCs with a keyframe request the publisher has not served yet.
    pending_keyframe: HashSet<u32>,
    pub keyframe_requests: u64,
    pub rtx_repaired: u64,
}

impl FeedbackState {
    /// Whether a keyframe was asked for on `ssrc` since the last call.
    pub fn take_keyframe_request(&mut self, ssrc: u32) -> bool {
        self.pending_keyframe.remove(&ssrc)
    }
}

pub struct Feedback {
    state: Arc<Mutex<FeedbackState>>,
    /// RTX SSRC → (primary SSRC, primary payload type, RTX payload type).
    rtx: HashMap<u32, (u32, u8, Option<u8>)>,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl Feedback {
    pub fn new(state: Arc<Mutex<FeedbackState>>) -> Self {
        Feedback {
            state,
            rtx: HashMap::new(),
            reads: VecDeque::new(),
            writes: VecDeque::new(),
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for Feedback {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        match &mut msg.message.packet {
            IPacket::Rtp(p) => {
                if let Some(&(primary, pt, rtx_pt)) = self.rtx.get(&p.header.ssrc)
                    && rtx_pt.is_none_or(|r| r == p.header.payload_type)
                {
                    if p.payload.len() < 2 {
                        // A padding-only probe: nothing to recover.
                        return Ok(());
                    }
                    p.header.ssrc = primary;
                    p.header.payload_type = pt;
                    p.header.sequence_number = u16::from_be_bytes([p.payload[0], p.payload[1]]);
                    p.payload = p.payload.slice(2..);
                    self.state.lock().unwrap().rtx_repaired += 1;
                }
            }
            IPacket::Rtcp(packets) => {
                let mut s = self.state.lock().unwrap();
                for p in packets.iter() {
                    let any = p.as_any();
                    if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
                        s.keyframe_requests += 1;
                        s.pending_keyframe.insert(pli.media_ssrc);
                    } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                        for e in &fir.fir {
                            s.keyframe_requests += 1;
                            s.pending_keyframe.insert(e.ssrc);
                        }
                    }
                }
            }
            _ => {}
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.writes.pop_front()
    }
}

impl Interceptor for Feedback {
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
