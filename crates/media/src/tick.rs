//! Periodic room work: layer bitrates, active speaker, and turning the stage
//! policy's wishes into forwarder targets (which layer of whom, per slot).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::engine::{BITRATE_WINDOW, Engine};
use super::policy::{self, RoomView, SlotRole, Source};
use super::room::MAX_LAYERS;
use super::{Event, ParticipantId, SourceId, TrackId, TrackRef};

/// How often rooms are re-evaluated.
pub const TICK: Duration = Duration::from_millis(100);
/// Assumed bitrates of low/mid/high layers before they are measured, bit/s.
const DEFAULT_LAYER_BPS: [u64; MAX_LAYERS] = [150_000, 500_000, 1_500_000];
/// Receive budget assumed before the bandwidth estimator has spoken, bit/s.
const DEFAULT_BUDGET_BPS: u64 = 2_500_000;
/// Audio reserved per audio slot before video gets the rest, bit/s.
const AUDIO_RESERVE_BPS: u64 = 40_000;
/// Only move up a layer when the budget exceeds its bitrate by this factor,
/// so a subscriber near a boundary does not bounce between layers.
const UPGRADE_HEADROOM: f64 = 1.2;

impl Engine {
    pub(super) fn tick(&mut self, now: Instant) {
        // What each subscriber's stage showed over this tick.
        for s in self.sessions.values_mut() {
            if let Some(t) = s
                .slots
                .iter()
                .find(|sl| sl.video && sl.role == SlotRole::Stage)
                .and_then(|sl| sl.fwd.current())
                && let Some(ms) = s.stage_layer_ms.get_mut(t.layer as usize)
            {
                *ms += TICK.as_millis() as u64;
            }
        }
        // Layer bitrates, once per window.
        for t in self.tracks.values_mut() {
            for l in t.layers.iter_mut() {
                if let Some(last) = l.last_packet
                    && now.saturating_duration_since(last) >= super::room::LAYER_IDLE
                    && l.bitrate_bps > 0
                {
                    l.bitrate_bps = 0;
                }
            }
        }
        // Layer bitrates: bytes over the time since the layer's window began
        // (a layer that started mid-window is not under-counted).
        for t in self.tracks.values_mut() {
            for l in t.layers.iter_mut() {
                let Some(start) = l.window_start else {
                    continue;
                };
                let elapsed = now.saturating_duration_since(start);
                if elapsed < BITRATE_WINDOW {
                    continue;
                }
                let bps = (l.window_bytes as f64 * 8.0 / elapsed.as_secs_f64()) as u64;
                l.bitrate_bps = if l.bitrate_bps == 0 {
                    bps
                } else {
                    (l.bitrate_bps + bps) / 2
                };
                l.window_bytes = 0;
                l.window_start = Some(now);
            }
        }
        let room_ids: Vec<String> = self.rooms.keys().cloned().collect();
        let me = self.cfg.worker;
        for rid in room_ids {
            let Some(room) = self.rooms.get_mut(&rid) else {
                continue;
            };
            // Only the home hears the whole room (its parts hand it their
            // levels); a part takes the home's speaker with its decision.
            if Engine::is_home(room, me)
                && let Some(change) = room.speaker.handle_timeout(now)
            {
                room.active_speaker = change;
                room.dirty = true;
                let name = change.and_then(|p| self.source_name(p));
                self.events.push_back(Event::SpeakerChanged {
                    room: rid.clone(),
                    participant: change.and_then(|p| self.source_owner(p)),
                    name,
                });
            }
            // Re-run every tick: the loudest ranking, layer activity and
            // bandwidth estimates move without any event.
            self.apply_policy(now, &rid);
        }
        self.retarget_taps(now);
        self.update_renditions();
        if self.spanned > 0 {
            // Layer activity and bitrates, the home's decisions: each tick.
            self.publish_spans(now, true);
        }
    }

    /// Everyone in `room`: its sessions here, then (a shared room) its
    /// members on other engines; in join order (ids are allocated in join
    /// order), so every engine's policy sees the same room.
    pub(super) fn members_of(&self, room: &super::room::Room) -> Vec<ParticipantId> {
        let mut members = room.participants.clone();
        if room.span.is_some() {
            members.extend(
                self.remote
                    .iter()
                    .filter(|(_, m)| m.room == room.id)
                    .map(|(id, _)| *id),
            );
            members.sort_unstable();
        }
        members
    }

    /// Point each recorded room's taps at what exists now: every track of
    /// its participants (video at the best active layer) and, for the
    /// program, the video of whoever the stage shows — the operator's
    /// stage, else the active speaker when the stage follows the voice,
    /// else the first participant with video (the hub joins first).
    pub(super) fn retarget_taps(&mut self, now: Instant) {
        let rooms: Vec<String> = self.taps.keys().cloned().collect();
        let mut plis = Vec::new();
        for rid in rooms {
            let participants: Vec<ParticipantId> = self
                .rooms
                .get(&rid)
                .map(|r| self.members_of(r))
                .unwrap_or_default();
            let best = |t: &super::room::PublishedTrack| {
                if t.video {
                    t.active_layers(now).last()
                } else {
                    Some(0)
                }
            };
            let mut tracks = Vec::new();
            for t in self.tracks.values() {
                // A SIP room's VP8 rendition is its H.264 again: the
                // recording and the composite take the original.
                if participants.contains(&t.owner) && !self.is_alternative(t) {
                    tracks.push((t.id, t.video, best(t)));
                }
            }
            tracks.sort_by_key(|t| t.0);
            let room = self.rooms.get(&rid);
            let video_of = |p: ParticipantId| {
                if self.mute_of(p)?.video() {
                    return None;
                }
                let t = self.tracks.get(&self.track_of(p, true)?)?;
                Some((p, t.id, best(t)?))
            };
            let stage = room.and_then(|r| {
                r.stage
                    .iter()
                    .copied()
                    .chain(
                        r.active_speaker
                            .filter(|_| r.voice_stage)
                            .and_then(SourceId::participant),
                    )
                    .chain(participants.iter().copied())
                    .find_map(video_of)
            });
            if let Some(tap) = self.taps.get_mut(&rid) {
                plis.extend(tap.retarget(&tracks, stage));
                // The composite's layers: the smallest that fills each tile.
                let mut choices: Vec<(TrackId, Option<u8>)> = tap
                    .composite_wants
                    .iter()
                    .filter_map(|(&id, &wanted)| {
                        let t = self.tracks.get(&id).filter(|t| t.video)?;
                        participants.contains(&t.owner).then(|| {
                            (
                                id,
                                super::tap::composite_layer(wanted, t.active_layers(now)),
                            )
                        })
                    })
                    .collect();
                choices.sort_by_key(|c| c.0);
                plis.extend(tap.retarget_composite(&choices));
            }
        }
        for src in plis {
            self.request_keyframe(now, src, true);
        }
    }

    /// Recompute every slot of every subscriber in `room` and retarget the
    /// forwarders whose source or layer changed.
    pub(super) fn apply_policy(&mut self, now: Instant, room_id: &str) {
        let me = self.cfg.worker;
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        if room
            .span
            .as_ref()
            .is_some_and(|s| s.home != me && !s.synced)
        {
            // A part that has not heard the home yet (`Span::synced`).
            return;
        }
        // Membership changed: the fan-out map must drop or add subscribers.
        let mut rebuild_fanout = std::mem::take(&mut room.dirty);
        // A part ranks by the home's detector, which hears the whole room.
        let loudest = match &room.span {
            Some(s) if s.home != me => s.loudest.clone(),
            _ => room.speaker.ranked(now),
        };
        let Some(room) = self.rooms.get(room_id) else {
            return;
        };
        let (stage, active_speaker, voice_stage) =
            (room.stage.clone(), room.active_speaker, room.voice_stage);
        let participants = room.participants.clone();
        let members = self.members_of(room);
        let mut sources: Vec<Source> = Vec::with_capacity(members.len());
        let mut relays: HashSet<ParticipantId> = HashSet::new();
        for &id in &members {
            // A screen is nobody's source (it shows the composite only).
            let (Some(role), Some(mute)) = (self.role_of(id), self.mute_of(id)) else {
                continue;
            };
            if role == super::Role::Screen {
                continue;
            }
            sources.push(Source {
                id: SourceId::Participant(id),
                video: !mute.video()
                    && self
                        .track_of(id, true)
                        .is_some_and(|t| self.tracks[&t].active_layers(now).next().is_some()),
                audio: !mute.audio() && self.track_of(id, false).is_some(),
            });
            // A relay's further audio tracks: more voices from its side.
            for track in self.extra_tracks_of(id, false) {
                sources.push(Source {
                    id: SourceId::RelayAudio { track, relay: id },
                    video: false,
                    audio: !mute.audio(),
                });
            }
            if role == super::Role::Relay {
                relays.insert(id);
            }
            // Its further video tracks: thumbnails of rooms on its side,
            // while they flow (only while someone here watches).
            // (No more than a relay's thumbnail slots can be pinned.)
            let thumbs = self.extra_tracks_of(id, true).take(super::RELAY_THUMBS);
            for (index, t) in (0u8..).zip(thumbs) {
                sources.push(Source {
                    id: SourceId::RelayThumb { relay: id, index },
                    video: self.tracks[&t].active_layers(now).next().is_some(),
                    audio: false,
                });
            }
        }
        let view = RoomView::new(
            &sources,
            &stage,
            active_speaker,
            &loudest,
            self.cfg.audio_slots_max,
        )
        .with_relays(relays)
        .with_voice(voice_stage);
        let mut plis: Vec<TrackRef> = Vec::new();
        let mut changed_slots: Vec<ParticipantId> = Vec::new();
        let mut bwe_changed: Vec<ParticipantId> = Vec::new();
        for &sub in &participants {
            let Some(s) = self.sessions.get(&sub) else {
                continue;
            };
            // A screen's slots carry the composite (`composite`), never
            // the policy's choice.
            if s.slots.is_empty() || s.role == super::Role::Screen {
                continue;
            }
            let roles: Vec<SlotRole> = s.slots.iter().map(|sl| sl.role).collect();
            let current: Vec<Option<SourceId>> = s.slots.iter().map(|sl| sl.shows).collect();
            let mut wanted = policy::assign(&view, sub, &roles, &current);
            let relay = s.role == super::Role::Relay;
            if relay {
                // A relay's thumbnails show what the other side asked for.
                let mut pins = s.pinned.iter();
                for (w, r) in wanted.iter_mut().zip(&roles) {
                    if *r == SlotRole::Thumbnail {
                        *w = pins
                            .next()
                            .copied()
                            .flatten()
                            .filter(|p| p.owner() != sub && view.has_video(*p));
                    }
                }
            }
            let budget = s
                .bwe_bps
                .unwrap_or(DEFAULT_BUDGET_BPS)
                .min(s.max_kbps.map_or(u64::MAX, |k| k as u64 * 1000));
            let audio_slots = roles
                .iter()
                .zip(&wanted)
                .filter(|(r, w)| **r == SlotRole::Audio && w.is_some())
                .count() as u64;
            // What the subscriber would take with unlimited bandwidth, and
            // what the next step up costs: the estimator probes towards these.
            let mut preferred = audio_slots * AUDIO_RESERVE_BPS;
            let mut next_step = 0u64;
            let mut remaining = budget.saturating_sub(audio_slots * AUDIO_RESERVE_BPS);
            let mut targets: Vec<Option<TrackRef>> = Vec::with_capacity(wanted.len());
            // Video slots in priority order: stage, speaker, thumbnails.
            let mut order: Vec<usize> = (0..roles.len()).collect();
            order.sort_by_key(|&i| match roles[i] {
                SlotRole::Stage => 0,
                SlotRole::Speaker => 1,
                SlotRole::Thumbnail => 2,
                SlotRole::Audio => 3,
            });
            targets.resize(wanted.len(), None);
            for i in order {
                let Some(p) = wanted[i] else { continue };
                let video = s.slots[i].video;
                // An alternative rendition flows only once wanted: the slot
                // waits for it on its lowest layer.
                let mut waits_for_alt = false;
                let track = match p {
                    SourceId::RelayAudio { track, .. } => {
                        (!video && self.tracks.contains_key(&track)).then_some(track)
                    }
                    SourceId::RelayThumb { relay, index } => self
                        .extra_tracks_of(relay, true)
                        .nth(usize::from(index))
                        .filter(|_| video),
                    SourceId::Participant(p) if video => self.video_for(s, i, p).map(|(t, alt)| {
                        waits_for_alt = alt;
                        t
                    }),
                    SourceId::Participant(p) => self.track_of(p, video),
                };
                let Some(track) = track else {
                    continue;
                };
                let t = &self.tracks[&track];
                let layer = if !video {
                    Some(0)
                } else {
                    let current = s.slots[i]
                        .fwd
                        .current()
                        .filter(|c| c.track == track)
                        .map(|c| c.layer);
                    choose_layer(t, now, roles[i], remaining, current)
                        .or(waits_for_alt.then_some(0))
                        // A relay link's budget is a hard cap (its far end
                        // polices it): a thumbnail that does not fit waits.
                        .filter(|&l| {
                            !(relay && roles[i] == SlotRole::Thumbnail)
                                || layer_bps(t, l) <= remaining
                        })
                };
                if let Some(layer) = layer {
                    if video {
                        let bps = layer_bps(t, layer);
                        remaining = remaining.saturating_sub(bps);
                        let top = if roles[i] == SlotRole::Thumbnail {
                            layer
                        } else {
                            t.active_layers(now).last().unwrap_or(layer)
                        };
                        preferred += layer_bps(t, top);
                        if next_step == 0 && top > layer {
                            next_step = layer_bps(t, layer + 1).saturating_sub(bps);
                        }
                    }
                    targets[i] = Some(TrackRef { track, layer });
                }
            }
            let s = self.sessions.get_mut(&sub).expect("checked above");
            let cap = s.max_kbps.map_or(u64::MAX, |k| k as u64 * 1000);
            let allocated = budget.saturating_sub(remaining);
            // str0m pads up to the first figure (resends of packets already
            // sent, in the gaps between frames): worth it only while there
            // is a next layer to climb to. On the top layer of everything
            // it shows, the media alone carries the estimate; zero leaves
            // str0m's own floor (50 kbit/s) for an audio-only subscriber.
            let floor = if next_step == 0 {
                0
            } else {
                allocated + next_step
            };
            let probe = (floor.min(cap), preferred.max(allocated).min(cap));
            if s.bwe_target
                .is_none_or(|(a, b)| differs(a, probe.0) || differs(b, probe.1))
            {
                s.bwe_target = Some(probe);
                s.rtc.bwe().set_bitrate(
                    str0m::bwe::Bitrate::bps(probe.0),
                    str0m::bwe::Bitrate::bps(probe.1),
                );
                bwe_changed.push(sub);
            }
            let mut changed = false;
            // A keyframe asked for before the subscriber's ICE and DTLS are
            // done arrives before it can be sent there, and uses up the
            // publisher's PLI interval: ask when it connects (see
            // `Engine::on_connected`).
            let connected = s.connected;
            for (i, sl) in s.slots.iter_mut().enumerate() {
                if sl.shows != wanted[i] {
                    sl.shows = wanted[i];
                    changed = true;
                }
                let want = targets[i];
                let pending = sl.fwd.target();
                if want != sl.fwd.current() && want != pending {
                    rebuild_fanout = true;
                    if sl.fwd.set_target(want)
                        && connected
                        && let Some(w) = want
                    {
                        plis.push(w);
                    }
                } else if want == sl.fwd.current() && pending.is_some() {
                    rebuild_fanout = true;
                    sl.fwd.set_target(want);
                } else if let Some(p) = pending
                    && connected
                {
                    // Still waiting for a keyframe: keep asking (throttled).
                    plis.push(p);
                }
            }
            if changed {
                changed_slots.push(sub);
            }
        }
        if rebuild_fanout {
            self.rebuild_fanout(room_id, &participants);
        }
        for sub in changed_slots {
            let slots = self.slot_states(sub);
            self.events.push_back(Event::SlotsChanged {
                participant: sub,
                slots,
            });
        }
        for p in plis {
            self.request_keyframe(now, p, true);
        }
        for sub in bwe_changed {
            self.drive(sub);
        }
    }

    /// The fan-out map from the forwarders' current and pending sources. A
    /// source a slot just switched away from may linger until the next
    /// rebuild; its packets are then dropped by that slot's forwarder.
    fn rebuild_fanout(&mut self, room_id: &str, participants: &[ParticipantId]) {
        let mut fanout: std::collections::HashMap<_, Vec<(ParticipantId, usize)>> =
            Default::default();
        for &sub in participants {
            let Some(s) = self
                .sessions
                .get(&sub)
                .filter(|s| s.role != super::Role::Screen)
            else {
                continue;
            };
            for (i, sl) in s.slots.iter().enumerate() {
                for t in [sl.fwd.current(), sl.fwd.target()].into_iter().flatten() {
                    let e = fanout.entry(t.track).or_default();
                    if !e.contains(&(sub, i)) {
                        e.push((sub, i));
                    }
                }
            }
        }
        if let Some(room) = self.rooms.get_mut(room_id) {
            room.fanout = fanout.into_iter().map(|(t, v)| (t, v.into())).collect();
            // Which remote tracks we need may have changed.
            if let Some(s) = &mut room.span {
                s.changed = true;
            }
        }
    }
}

/// More than 10% apart: worth telling the estimator.
fn differs(a: u64, b: u64) -> bool {
    a.abs_diff(b) * 10 > a.max(b)
}

fn layer_bps(t: &super::room::PublishedTrack, layer: u8) -> u64 {
    let measured = t.layers[layer as usize].bitrate_bps;
    if measured > 0 {
        measured
    } else {
        DEFAULT_LAYER_BPS[layer as usize]
    }
}

/// Pick the layer for one slot: thumbnails take the lowest active layer; the
/// stage and speaker the highest active layer that fits the remaining budget
/// (with headroom to move up), else the lowest.
fn choose_layer(
    t: &super::room::PublishedTrack,
    now: Instant,
    role: SlotRole,
    remaining_bps: u64,
    current: Option<u8>,
) -> Option<u8> {
    let active: Vec<u8> = t.active_layers(now).collect();
    let lowest = *active.first()?;
    if role == SlotRole::Thumbnail {
        return Some(lowest);
    }
    let fits = |l: u8| {
        let need = layer_bps(t, l) as f64;
        let need = if current.is_some_and(|c| l > c) {
            need * UPGRADE_HEADROOM
        } else {
            need
        };
        need <= remaining_bps as f64
    };
    Some(
        active
            .iter()
            .rev()
            .copied()
            .find(|&l| fits(l))
            .unwrap_or(lowest),
    )
}
