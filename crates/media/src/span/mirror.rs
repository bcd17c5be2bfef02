//! The mirror each engine keeps of a shared room's members on the other
//! engines (`Part` hand-offs): what it sends, and what it makes of what it
//! gets.

use std::collections::HashSet;
use std::time::Instant;

use super::{Handoff, Member, RemoteMember, TrackInfo, WorkerId};
use crate::engine::Engine;
use crate::room::{PublishedTrack, Room};
use crate::{ParticipantId, TrackId};

impl Engine {
    pub(super) fn on_part(
        &mut self,
        now: Instant,
        from: WorkerId,
        room: &str,
        members: Vec<Member>,
        wants: Vec<TrackId>,
    ) {
        let Some(r) = self.rooms.get_mut(room) else {
            return;
        };
        let Some(span) = &mut r.span else {
            return;
        };
        if !span.peers.contains(&from) {
            return;
        }
        let first_from_home = from == span.home && !span.synced;
        if from == span.home {
            span.synced = true;
        }
        // Which of our tracks it needs.
        for ws in span.wanted_by.values_mut() {
            ws.retain(|w| *w != from);
        }
        for t in wants {
            if self.tracks.get(&t).is_some_and(|t| t.remote.is_none()) {
                span.wanted_by.entry(t).or_default().push(from);
            }
        }
        span.wanted_by.retain(|_, ws| !ws.is_empty());
        // Its members: the mirror follows.
        let listed: HashSet<ParticipantId> = members.iter().map(|m| m.id).collect();
        let gone: Vec<ParticipantId> = self
            .remote
            .iter()
            .filter(|(id, m)| m.room == room && m.worker == from && !listed.contains(id))
            .map(|(id, _)| *id)
            .collect();
        let mut dirty = false;
        for m in members {
            // A session that moved here is ours, not a mirror.
            if self.sessions.contains_key(&m.id) {
                continue;
            }
            let old = self.remote.get(&m.id).map(|x| &x.member);
            if old.is_none_or(|o| o.id != m.id || differs_for_policy(o, &m)) {
                dirty = true;
            }
            let old_tracks: Vec<TrackId> = old
                .map(|o| o.tracks.iter().map(|t| t.id).collect())
                .unwrap_or_default();
            for t in old_tracks {
                if !m.tracks.iter().any(|x| x.id == t) {
                    self.tracks.remove(&t);
                }
            }
            for t in &m.tracks {
                let mirror = self.tracks.entry(t.id).or_insert_with(|| {
                    let mut p =
                        PublishedTrack::new(t.id, m.id, str0m::media::Mid::from("x"), t.video);
                    p.remote = Some(from);
                    p
                });
                mirror.codec = t.codec;
                for (l, layer) in mirror.layers.iter_mut().enumerate() {
                    // Active while the reports say so (one a tick, well
                    // within `LAYER_IDLE`): a part that stops reporting
                    // lets its layers lapse.
                    layer.last_packet = t.active[l].then_some(now);
                    layer.bitrate_bps = t.bitrate_bps[l];
                }
            }
            self.remote.insert(
                m.id,
                RemoteMember {
                    room: room.to_string(),
                    worker: from,
                    member: m,
                },
            );
        }
        for id in gone {
            self.drop_remote(id);
            dirty = true;
        }
        if (dirty || first_from_home)
            && let Some(r) = self.rooms.get_mut(room)
        {
            r.dirty = true;
        }
    }

    /// What this engine tells its peers about `room`.
    pub(crate) fn part_state(&self, now: Instant, room: &Room) -> Handoff {
        let now_active = |t: &PublishedTrack| std::array::from_fn(|l| t.layers[l].is_active(now));
        let members = room
            .participants
            .iter()
            .filter_map(|p| self.sessions.get(p))
            .map(|s| Member {
                id: s.id,
                name: s.name.clone(),
                role: s.role,
                mute: s.mute,
                tracks: s
                    .published
                    .iter()
                    .filter_map(|(_, t)| self.tracks.get(t))
                    .map(|t| TrackInfo {
                        id: t.id,
                        video: t.video,
                        codec: t.codec,
                        active: now_active(t),
                        bitrate_bps: std::array::from_fn(|l| t.layers[l].bitrate_bps),
                    })
                    .collect(),
            })
            .collect();
        // Remote tracks our slots forward (current or pending); a tapped
        // room's home needs every track of the room.
        let mut wants: Vec<TrackId> = if self.taps.contains_key(&room.id) {
            self.remote
                .values()
                .filter(|m| m.room == room.id)
                .flat_map(|m| m.member.tracks.iter().map(|t| t.id))
                .collect()
        } else {
            room.fanout
                .keys()
                .copied()
                .filter(|t| self.tracks.get(t).is_some_and(|t| t.remote.is_some()))
                .collect()
        };
        wants.sort_unstable();
        Handoff::Part {
            room: room.id.clone(),
            members,
            wants,
        }
    }

    /// Send each shared room's state to its peers when it changed (or
    /// `all`, at the tick), and the home's decisions.
    pub(crate) fn publish_spans(&mut self, now: Instant, all: bool) {
        let me = self.worker();
        let mut out: Vec<(WorkerId, Handoff)> = Vec::new();
        for r in self.rooms.values() {
            let Some(s) = &r.span else { continue };
            if all || s.changed {
                let h = self.part_state(now, r);
                for &p in &s.peers {
                    out.push((p, h.clone()));
                }
            }
            if s.home == me && (all || s.decided) {
                let h = Handoff::Decision {
                    room: r.id.clone(),
                    stage: r.stage.clone(),
                    voice_stage: r.voice_stage,
                    active_speaker: r.active_speaker,
                    loudest: r.speaker.ranked(now),
                };
                for &p in &s.peers {
                    out.push((p, h.clone()));
                }
            }
        }
        for r in self.rooms.values_mut() {
            if let Some(s) = &mut r.span {
                s.changed = false;
                s.decided = false;
            }
        }
        for (to, h) in out {
            self.hand(to, h);
        }
    }
}

/// What the policy and the forwarders see of a member changed (a layer's
/// bitrate drifting is not worth re-running the policy for).
fn differs_for_policy(a: &Member, b: &Member) -> bool {
    a.mute != b.mute
        || a.name != b.name
        || a.role != b.role
        || a.tracks.len() != b.tracks.len()
        || a.tracks
            .iter()
            .zip(&b.tracks)
            .any(|(x, y)| x.id != y.id || x.video != y.video || x.active != y.active)
}
