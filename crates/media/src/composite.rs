//! The meeting's composite (`compose/`) as a source inside the room's
//! engine, for hall screens (`Role::Screen`, WHEP `…/composite`): the
//! composer's H.264 pictures and the program mix's Opus, packetized to RTP
//! outside the engine, arrive here by the driver (`net::Media::composite`,
//! bounded, never waited on) and go only to the room's screens — one video
//! and one audio slot each, through the slot's own forwarder (a screen
//! that joins mid-stream starts at a keyframe; sequence numbers are its
//! own). A screen is nobody's source: not a site of the composite, not on
//! the stage, thumbnails or speaker of ordinary subscribers (the policy
//! skips it, it publishes nothing), so the composite never taps back into
//! the composer or the recorder. A screen's PLI/FIR becomes
//! `Event::CompositeKeyframe`, which the composer paces.

use std::time::Instant;

use str0m::format::Codec;
use str0m::rtp::{ExtensionValues, RtpWrite};

use super::engine::Engine;
use super::forwarder::Decision;
use super::{Event, ParticipantId, Role, TrackRef};

/// The composite's picture and sound as forwarder sources: ids no
/// published track takes (tracks count up from 1).
pub const COMPOSITE_VIDEO: TrackRef = TrackRef {
    track: u32::MAX,
    layer: 0,
};
pub const COMPOSITE_AUDIO: TrackRef = TrackRef {
    track: u32::MAX - 1,
    layer: 0,
};

/// One RTP payload of the composite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositePacket {
    pub video: bool,
    /// Continuous per kind (the feed's own numbering; each screen's
    /// forwarder rewrites it).
    pub seq: u64,
    /// 90 kHz for video, 48 kHz for audio.
    pub ts: u32,
    pub marker: bool,
    /// The first packet of a keyframe (where a screen may start).
    pub keyframe: bool,
    pub payload: Vec<u8>,
}

impl Engine {
    /// Point a screen's first video and audio slots at the composite (its
    /// other slots stay empty; the policy never assigns a screen's slots).
    pub(super) fn attach_screen(&mut self, id: ParticipantId) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if s.role != Role::Screen {
            return;
        }
        if let Some(v) = s.slots.iter_mut().find(|sl| sl.video) {
            v.fwd.set_target(Some(COMPOSITE_VIDEO));
        }
        if let Some(a) = s.slots.iter_mut().find(|sl| !sl.video) {
            a.fwd.set_target(Some(COMPOSITE_AUDIO));
        }
    }

    /// The room's screens that can take media now.
    fn screens(&self, room: &str) -> Vec<ParticipantId> {
        let Some(r) = self.rooms.get(room) else {
            return Vec::new();
        };
        r.participants
            .iter()
            .copied()
            .filter(|p| {
                self.sessions
                    .get(p)
                    .is_some_and(|s| s.role == Role::Screen && s.connected)
            })
            .collect()
    }

    /// Whether `room` has a screen (joined, connected or not): the feed
    /// stops when this goes false.
    pub fn has_screen(&self, room: &str) -> bool {
        self.rooms.get(room).is_some_and(|r| {
            r.participants
                .iter()
                .any(|p| self.sessions.get(p).is_some_and(|s| s.role == Role::Screen))
        })
    }

    /// Packets of the composite of `room`, to each of its screens.
    pub fn composite_media(&mut self, now: Instant, room: &str, packets: &[CompositePacket]) {
        let screens = self.screens(room);
        let (mut sent, mut bytes) = (0u64, 0u64);
        for sub in screens {
            let Some(s) = self.sessions.get_mut(&sub) else {
                continue;
            };
            for p in packets {
                let (src, codec, clock) = if p.video {
                    (COMPOSITE_VIDEO, Codec::H264, 90_000)
                } else {
                    (COMPOSITE_AUDIO, Codec::Opus, 48_000)
                };
                let Some(slot) = s.slots.iter().position(|sl| sl.video == p.video) else {
                    continue;
                };
                let Decision::Forward { seq, ts, .. } = s.slots[slot]
                    .fwd
                    .on_packet(now, src, p.seq, p.ts, clock, p.keyframe)
                else {
                    continue;
                };
                // No H.264 in the screen's answer: nothing rather than
                // a payload it cannot read (the API refuses such offers).
                let Some((ssrc, pt)) = s.slot_send_params(slot, codec) else {
                    continue;
                };
                let mut api = s.rtc.direct_api();
                let Some(stream) = api.stream_tx(&ssrc) else {
                    continue;
                };
                stream.write_rtp(
                    RtpWrite::new(
                        pt,
                        seq.into(),
                        ts,
                        now,
                        std::sync::Arc::<[u8]>::from(p.payload.as_slice()),
                    )
                    .marker(p.marker)
                    .ext_vals(ExtensionValues::default())
                    .nackable(p.video),
                );
                sent += 1;
                bytes += p.payload.len() as u64;
            }
            self.defer(now, sub);
        }
        if let Some(r) = self.rooms.get_mut(room) {
            r.stats.packets_out += sent;
            r.stats.bytes_out += bytes;
        }
        self.process(now);
    }

    /// A screen lost a picture (or just connected): the composer is asked
    /// for a keyframe (it paces them: one serves every screen and SIP room).
    pub(super) fn screen_wants_keyframe(&mut self, id: ParticipantId) -> bool {
        let Some(s) = self.sessions.get(&id) else {
            return false;
        };
        if s.role != Role::Screen {
            return false;
        }
        self.events.push_back(Event::CompositeKeyframe {
            room: s.room.clone(),
        });
        true
    }
}
