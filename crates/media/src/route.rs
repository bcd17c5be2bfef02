//! The forward path: one packet in from a publisher, out to every slot that
//! shows it. Fan-out is a map lookup (track -> slots), run once per batch of
//! input and subscriber by subscriber (`Engine::fan_out_pending`); each
//! slot's forwarder decides, the subscriber's str0m stream seals and queues
//! it. The payload is shared (`Arc<[u8]>`), never copied per subscriber.

use std::time::Instant;

use str0m::format::Codec;
use str0m::media::Mid;
use str0m::net::Protocol;
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite};

use super::Datagram;
use super::audio::{self, AudioUnit};
use super::codec::starts_keyframe;
use super::engine::{Engine, guarded};
use super::forwarder::Decision;
use super::room::{PLI_INTERVAL, layer_for_rid};
use super::tap::{TapCodec, TapInput};
use super::{ParticipantId, TrackRef};

/// What every copy of one incoming packet shares on its way out.
#[derive(Clone)]
pub(super) struct Outgoing<'a> {
    pub room: &'a str,
    pub from: ParticipantId,
    pub src: TrackRef,
    pub codec: Codec,
    pub video: bool,
    pub keyframe: bool,
    pub marker: bool,
    pub ext: ExtensionValues,
    pub wallclock: Instant,
    /// Published on this engine: handed on to the other engines of a
    /// shared room whose subscribers need it (`span`).
    pub local: bool,
}

impl Outgoing<'_> {
    /// The packet as it waits for the batch's end or crosses to another
    /// engine: owned, its payload shared.
    fn owned(&self, room: std::sync::Arc<str>, unit: &AudioUnit) -> super::span::RemotePacket {
        super::span::RemotePacket {
            room,
            from: self.from,
            src: self.src,
            codec: self.codec,
            video: self.video,
            keyframe: self.keyframe,
            marker: self.marker,
            ext: self.ext.clone(),
            wallclock: self.wallclock,
            unit: unit.clone(),
        }
    }
}

impl Engine {
    /// Which track layer an incoming SSRC belongs to (learned once per SSRC).
    fn resolve_ssrc(&mut self, id: ParticipantId, pkt: &RtpPacket) -> Option<TrackRef> {
        let s = self.sessions.get_mut(&id)?;
        if let Some(r) = s.rx_ssrc.get(&pkt.header.ssrc) {
            return Some(*r);
        }
        let (mid, rid) = {
            let mut api = s.rtc.direct_api();
            let rx = api.stream_rx(&pkt.header.ssrc)?;
            (rx.mid(), rx.rid())
        };
        let track = s
            .published
            .iter()
            .find(|(m, _)| *m == mid)
            .map(|(_, t)| *t)?;
        let position = rid.and_then(|r| {
            let media = s.rtc.media(mid)?;
            match media.rids_rx() {
                str0m::media::Rids::Specific(v) => v.iter().position(|x| *x == r),
                _ => None,
            }
        });
        let layer = layer_for_rid(rid.as_deref(), position);
        let r = TrackRef { track, layer };
        s.rx_ssrc.insert(pkt.header.ssrc, r);
        if layer > 0 {
            self.upper_layers.push((*pkt.header.ssrc, Some(layer)));
        }
        if let Some(t) = self.tracks.get_mut(&track) {
            let l = &mut t.layers[layer as usize];
            l.rid = rid;
            l.ssrc = Some(pkt.header.ssrc);
        }
        Some(r)
    }

    pub(super) fn route_packet(&mut self, now: Instant, from: ParticipantId, pkt: RtpPacket) {
        let Some(src) = self.resolve_ssrc(from, &pkt) else {
            return;
        };
        let Some(publisher) = self.sessions.get_mut(&from) else {
            return;
        };
        // A relay over its link budget: dropped here, before it costs
        // anything downstream (one lookup serves both).
        if let Some(p) = &mut publisher.inbound
            && !p.allow(now, pkt.payload.len() + 12)
        {
            if let Some(r) = self.rooms.get_mut(&publisher.room) {
                r.stats.dropped_over_budget += 1;
            }
            return;
        }
        let publisher = &*publisher;
        let muted_audio = publisher.mute.audio();
        let muted_video = publisher.mute.video();
        let room_id = publisher.room.clone();
        // A relay's extra audio tracks are sources of their own.
        let level_source = if publisher.role == super::Role::Relay
            && publisher.track_of_kind(false, &self.tracks) != Some(src.track)
        {
            super::SourceId::RelayAudio {
                track: src.track,
                relay: from,
            }
        } else {
            super::SourceId::Participant(from)
        };
        let pt = pkt.header.payload_type;
        let param = publisher
            .rtc
            .codec_config()
            .params()
            .iter()
            .find(|p| p.pt() == pt || p.resend() == Some(pt) || p.red() == Some(pt));
        let codec = param.map(|p| p.spec().codec);
        // RED wraps the Opus of this payload type.
        let red_of = param.filter(|p| p.red() == Some(pt)).map(|p| *p.pt());
        let Some(track) = self.tracks.get_mut(&src.track) else {
            return;
        };
        if track.codec.is_none() {
            track.codec = codec;
        }
        let Some(codec) = track.codec else { return };
        let video = track.video;
        let audio_last = track.audio_last;
        if !video && audio_last.is_none_or(|(s, _)| *pkt.seq_no > s) {
            track.audio_last = Some((*pkt.seq_no, pkt.header.timestamp));
        }
        // Counted here, before the mute policy: a muted commune's link is
        // reported too.
        if video {
            if src.layer == 0 {
                track.freezes.on_packet(now, pkt.header.timestamp);
            }
        } else {
            count_audio(track, &pkt, red_of, audio_last);
        }
        let vcodec = track.video_codec();
        let keyframe = vcodec.is_some_and(|c| starts_keyframe(c, &pkt.payload));
        let layer = &mut track.layers[src.layer as usize];
        let first_packet = !layer.is_active(now);
        layer.on_packet(now, pkt.payload.len());
        if video {
            layer.on_picture_packet(now, keyframe, pkt.header.timestamp, pkt.payload.len());
        }
        if layer.keyframe_pending {
            // A viewer's request waited for the budget: a token may be back.
            layer.keyframe_pending = false;
            self.request_keyframe(now, src, true);
        }
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        room.stats.packets_in += 1;
        room.stats.bytes_in += pkt.payload.len() as u64;
        if first_packet {
            // A layer came (back): subscribers may want it, here and on
            // the room's other engines.
            room.dirty = true;
            if let Some(s) = &mut room.span {
                s.changed = true;
            }
        }
        if !video && let Some(level) = pkt.header.ext_vals.audio_level {
            // str0m reports -dBov as a negative number. A part hands its
            // levels to the home, whose detector speaks for the room.
            match &mut room.span {
                Some(s) if s.home != self.cfg.worker => {
                    s.levels.push((level_source, level.unsigned_abs()));
                }
                _ => room
                    .speaker
                    .handle_level(now, level_source, level.unsigned_abs()),
            }
        }
        if (video && muted_video) || (!video && muted_audio) {
            room.stats.dropped_muted += 1;
            return;
        }
        let seq = *pkt.seq_no;
        let ts = pkt.header.timestamp;
        let ext = ExtensionValues {
            audio_level: pkt.header.ext_vals.audio_level,
            voice_activity: pkt.header.ext_vals.voice_activity,
            video_orientation: pkt.header.ext_vals.video_orientation,
            ..Default::default()
        };
        let ctx = Outgoing {
            room: &room_id,
            from,
            src,
            codec,
            video,
            keyframe,
            marker: pkt.header.marker,
            ext,
            wallclock: pkt.timestamp,
            local: true,
        };
        let Some(opus_pt) = red_of else {
            // The common path: one frame, no allocation.
            let unit = AudioUnit {
                seq,
                ts,
                payload: pkt.payload.clone(),
                red: None,
                recovered: false,
            };
            self.deliver(now, &ctx, &unit);
            return;
        };
        room.stats.red_packets_in += 1;
        let Some(units) = audio::unwrap(&pkt.payload, opus_pt, seq, ts, audio_last) else {
            room.stats.red_malformed += 1;
            return;
        };
        for unit in &units {
            if unit.recovered {
                // Redundant blocks carry no header extensions nor marker.
                let quiet = Outgoing {
                    marker: false,
                    ext: ExtensionValues::default(),
                    ..ctx.clone()
                };
                self.deliver(now, &quiet, unit);
                if let Some(room) = self.rooms.get_mut(&room_id) {
                    room.stats.red_recovered += 1;
                }
            } else {
                self.deliver(now, &ctx, unit);
            }
        }
    }

    /// One frame (a packet's payload, or one recovered from redundancy) to
    /// the room's recorder and to every slot that shows its source.
    pub(super) fn deliver(&mut self, now: Instant, ctx: &Outgoing<'_>, unit: &AudioUnit) {
        let room_id = ctx.room;
        // A room being recorded: the recorder takes what a subscriber
        // would (after the mute policy), whether anyone watches or not.
        // (Checked for emptiness first: most rooms are not recorded, and
        // this is the per-packet path.)
        if !self.taps.is_empty()
            && let Some(tap) = self.taps.get_mut(room_id)
        {
            let codec = match ctx.codec {
                Codec::Vp8 => Some(TapCodec::Vp8),
                Codec::H264 => Some(TapCodec::H264),
                Codec::Opus => Some(TapCodec::Opus),
                _ => None,
            };
            if let Some(codec) = codec {
                let input = TapInput {
                    room: room_id,
                    src: ctx.src,
                    owner: ctx.from,
                    video: ctx.video,
                    codec,
                    seq: unit.seq,
                    ts: unit.ts,
                    marker: ctx.marker,
                    keyframe: ctx.keyframe,
                    audio_level: ctx.ext.audio_level.map(|l| l.unsigned_abs()),
                    payload: &unit.payload,
                };
                tap.on_packet(now, &input, &mut self.tapped);
            }
        }
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        if ctx.local
            && let Some(span) = &room.span
            && let Some(workers) = span.wanted_by.get(&ctx.src.track)
        {
            // The other engines' subscribers: one hand-off each, the
            // payload shared (they rewrite and seal it themselves).
            for &w in workers {
                if let Some(q) = self.media_out.get_mut(w) {
                    q.push(ctx.owned(room.key.clone(), unit));
                    room.stats.handoff_packets_out += 1;
                }
            }
        }
        if !room.fanout.contains_key(&ctx.src.track) {
            return;
        }
        // The copies wait for the end of this batch of input
        // (`fan_out_pending`), so each subscriber takes all of a track's
        // packets of the batch at once.
        self.fanout_pending.push(ctx.owned(room.key.clone(), unit));
        self.mark_pending(now);
    }

    /// Send the copies of the packets `deliver` queued since the last call,
    /// subscriber by subscriber: each takes every packet of a track in the
    /// batch (in order) before the next subscriber is touched. A frame's
    /// packets arrive together, and a subscriber's session (its streams,
    /// pacer, TWCC register, RTX cache, SRTP key) is then read from memory
    /// once per batch rather than once per packet; with 150 subscribers
    /// those do not all stay in a core's cache between two packets.
    pub(super) fn fan_out_pending(&mut self, now: Instant) {
        if self.fanout_pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut self.fanout_pending);
        // By track, each track's packets in the order they came (a sort,
        // not a scan per track: a backlog's batch may hold thousands).
        let mut order = std::mem::take(&mut self.fanout_order);
        order.clear();
        order.extend(0..pending.len());
        order.sort_unstable_by_key(|&i| (pending[i].src.track, i));
        let mut start = 0;
        while start < order.len() {
            let first = &pending[order[start]];
            let run = order[start..]
                .iter()
                .take_while(|&&i| {
                    pending[i].src.track == first.src.track && pending[i].room == first.room
                })
                .count();
            self.stats.fanout_runs += 1;
            self.stats.fanout_run_packets += run as u64;
            self.fan_out_group(now, &pending, &order[start..start + run]);
            start += run;
        }
        self.fanout_order = order;
        // Keep the vector's room for the next batch, unless a burst grew it.
        if pending.capacity() <= 1024 {
            pending.clear();
            self.fanout_pending = pending;
        }
    }

    /// One track's packets of a batch (`group`: indexes into `pending`, in
    /// order) to every slot that shows the track.
    fn fan_out_group(
        &mut self,
        now: Instant,
        pending: &[super::span::RemotePacket],
        group: &[usize],
    ) {
        let first = &pending[group[0]];
        let Some(room) = self.rooms.get_mut(&*first.room) else {
            return;
        };
        let Some(targets) = room.fanout.get(&first.src.track) else {
            return;
        };
        let targets = targets.clone();
        let clock_rate = if first.video { 90_000 } else { 48_000 };
        let (mut sent, mut bytes, mut red_sent, mut red_made, mut red_bytes) = (0u64, 0, 0, 0, 0);
        for &(sub, slot) in targets.iter() {
            let Some(s) = self.sessions.get_mut(&sub) else {
                continue;
            };
            if !s.connected {
                continue;
            }
            let (mut queued, mut dead) = (false, false);
            for &k in group {
                let p = &pending[k];
                let unit = &p.unit;
                let Some(sl) = s.slots.get_mut(slot) else {
                    break;
                };
                let Decision::Forward {
                    seq: out_seq,
                    ts: out_ts,
                    ..
                } = sl
                    .fwd
                    .on_packet(now, p.src, unit.seq, unit.ts, clock_rate, p.keyframe)
                else {
                    continue;
                };
                let Some((ssrc, codec_pt)) = s.slot_send_params(slot, p.codec) else {
                    continue;
                };
                let (out_pt, payload) = if p.video {
                    (codec_pt, unit.payload.clone())
                } else {
                    let Some(a) = s.audio_out(now, slot, unit, out_ts, codec_pt) else {
                        continue;
                    };
                    if a.pt != codec_pt {
                        red_sent += 1;
                        red_made += u64::from(a.generated);
                        red_bytes += a.redundancy_bytes as u64;
                    }
                    (a.pt, a.payload)
                };
                bytes += payload.len() as u64;
                let write = RtpWrite::new(out_pt, out_seq.into(), out_ts, p.wallclock, payload)
                    .marker(p.marker)
                    .ext_vals(p.ext.clone())
                    .nackable(p.video);
                // Sent in this call when nothing makes it wait (str0m patch
                // "direct-send"); else queued, and the subscriber is flushed
                // and drained after the batch, as every packet was before.
                let spares = self.spare.len();
                let spare = &mut self.spare;
                let direct = guarded(|| match s.rtc.write_rtp_direct(now, ssrc, write, spare) {
                    Ok(t) => t.ok_or(()),
                    Err(write) => {
                        let mut api = s.rtc.direct_api();
                        if let Some(stream) = api.stream_tx(&ssrc) {
                            stream.write_rtp(write);
                        }
                        Err(())
                    }
                });
                sent += 1;
                match direct {
                    Some(Ok(t)) => {
                        s.sent_direct = true;
                        self.stats.direct_sends += 1;
                        if self.spare.len() < spares {
                            self.stats.direct_sends_reused += 1;
                        }
                        self.out.push(Datagram {
                            source: t.source,
                            destination: t.destination,
                            contents: t.contents.into(),
                            tcp: t.proto == Protocol::Tcp,
                        });
                    }
                    Some(Err(())) => {
                        self.stats.queued_writes += 1;
                        queued = true;
                    }
                    None => {
                        s.dead = true;
                        dead = true;
                        break;
                    }
                }
            }
            if queued {
                self.defer(now, sub);
            }
            if dead {
                self.dead.push(sub);
            }
        }
        if let Some(room) = self.rooms.get_mut(&*first.room) {
            room.stats.packets_out += sent;
            room.stats.bytes_out += bytes;
            room.stats.red_packets_out += red_sent;
            room.stats.red_generated += red_made;
            room.stats.red_bytes_out += red_bytes;
        }
    }

    /// A subscriber lost a picture on `mid`: ask the source of that slot.
    pub(super) fn on_keyframe_request(&mut self, now: Instant, sub: ParticipantId, mid: Mid) {
        if self.screen_wants_keyframe(sub) {
            return;
        }
        let Some(s) = self.sessions.get(&sub) else {
            return;
        };
        let Some(src) = s
            .slots
            .iter()
            .find(|sl| sl.mid == mid)
            .and_then(|sl| sl.fwd.target().or(sl.fwd.current()))
        else {
            return;
        };
        if let Some(r) = self.rooms.get_mut(&s.room) {
            r.stats.keyframe_requests_received += 1;
        }
        // A picture lost on the way (not a new viewer): the slower pace,
        // or a lossy link's requests would keep the publisher sending
        // keyframes, which cost the most to carry.
        self.request_keyframe(now, src, false);
    }

    /// Send a PLI for one layer of a track, within the publisher layer's
    /// keyframe budget (`room::KeyframeBudget`). An unanswered one (no
    /// keyframe since) serves every viewer that asks meanwhile and is
    /// repeated after [`PLI_INTERVAL`]; a picture lost on the way (not
    /// `fresh`) is asked for at that pace too. A viewer that starts on the
    /// layer now (`fresh`: it joined or switched after the last keyframe)
    /// is asked for at once while the budget has a token, else as soon as
    /// one is back (`Layer::keyframe_pending`), one request for all who
    /// waited.
    pub(super) fn request_keyframe(&mut self, now: Instant, src: TrackRef, fresh: bool) {
        let Some(track) = self.tracks.get_mut(&src.track) else {
            return;
        };
        if let Some(w) = track.remote {
            // Published on another engine: asked there, where the
            // requests of all its viewers are merged and paced.
            if self.keyframes_out.insert((src.track, src.layer)) {
                self.hand(w, super::span::Handoff::Keyframe { src, fresh });
            }
            return;
        }
        let layer = &mut track.layers[src.layer as usize];
        let recent_pli = layer
            .last_pli
            .is_some_and(|p| now.saturating_duration_since(p) < PLI_INTERVAL);
        let unanswered = layer
            .last_pli
            .is_some_and(|p| layer.last_keyframe.is_none_or(|k| k < p));
        if recent_pli && (unanswered || !fresh) {
            return;
        }
        let Some(ssrc) = layer.ssrc else { return };
        if !layer
            .keyframe_budget
            .try_take(now, layer.keyframe_rate_per_s())
        {
            if fresh {
                layer.keyframe_pending = true;
            }
            return;
        }
        layer.keyframe_pending = false;
        layer.last_pli = Some(now);
        let owner = track.owner;
        let Some(s) = self.sessions.get_mut(&owner) else {
            return;
        };
        if let Some(rx) = s.rtc.direct_api().stream_rx(&ssrc) {
            rx.request_keyframe(str0m::media::KeyframeRequestKind::Pli);
        }
        if let Some(r) = self.rooms.get_mut(&s.room) {
            r.stats.plis_sent += 1;
        }
        self.drive(owner);
    }
}

/// Codecs a slot can carry, for tests and diagnostics.
pub fn forwardable(codec: Codec) -> bool {
    matches!(codec, Codec::Opus | Codec::Vp8 | Codec::H264)
}

/// Count the audio frames one packet brings: its primary, and for RED the
/// lost frames its redundancy refills (the same ones `audio::unwrap` will).
fn count_audio(
    track: &mut super::room::PublishedTrack,
    pkt: &RtpPacket,
    red_of: Option<u8>,
    last: Option<(u64, u32)>,
) {
    let seq = *pkt.seq_no;
    if red_of.is_some()
        && let Ok(p) = super::red::RedPacket::parse(&pkt.payload)
    {
        for (s, _, _) in super::red::recoverable(&p, seq, pkt.header.timestamp, last) {
            track.continuity.on_frame(s);
        }
    }
    track.continuity.on_frame(seq);
}
