//! Joins, drops, reconnects; lock; remove and re-admit.
//!
//! An endpoint that connects again replaces its old participant id (a page
//! reload or a link that came back before the engine noticed the old one
//! was gone: the old session is told to leave, so the room never appears
//! twice). Everything the room had — operator mutes, its place on stage, a
//! floor grant — is kept per endpoint and re-applied to the new participant
//! by `reconcile`.

use super::{
    Conn, ConnectionKind, Effect, LiveError, LiveEvent, LiveMeeting, MediaAction,
    RECONNECT_GRACE_MS, Refusal, Site, event,
};
use diemcau_media::ParticipantId;

impl LiveMeeting {
    /// A connection joins. `endpoint_id` is the room it authenticated as
    /// (`None`: a console, a player or a demo page with a meeting token).
    /// A `room` or `publisher` naming an endpoint is that room's session; a
    /// `viewer` is listed apart (with the room it named) and never replaces
    /// the room's session; a `console` is never a room.
    ///
    /// Refused while locked, except a console (a locked meeting must stay
    /// operable) and a room that is already in: still connected (a
    /// replacement), dropped less than [`RECONNECT_GRACE_MS`] ago, or
    /// re-admitted by name. The grace exists because a commune's 4G or VSAT
    /// link blips: locking the meeting is meant to keep newcomers out, not
    /// to lock out a room that was in it a moment ago. A removed room is
    /// refused until an operator re-admits it, lock or not.
    pub fn connected(
        &mut self,
        endpoint_id: Option<&str>,
        participant: ParticipantId,
        name: &str,
        kind: ConnectionKind,
        now_ms: u64,
    ) -> Result<Vec<Effect>, Refusal> {
        if self.participants.is_empty() {
            // The engine made its room afresh for this one.
            self.sent_voice = false;
        }
        let mut fx = self.connect(endpoint_id, participant, name, kind, now_ms)?;
        // Whatever joined first made the engine's room: tell it whether its
        // stage follows the voice (a no-op when a reconcile already did).
        fx.extend(self.sync_voice());
        Ok(fx)
    }

    fn connect(
        &mut self,
        endpoint_id: Option<&str>,
        participant: ParticipantId,
        name: &str,
        kind: ConnectionKind,
        now_ms: u64,
    ) -> Result<Vec<Effect>, Refusal> {
        if self.participants.contains_key(&participant) {
            return Err(Refusal::ParticipantInUse(participant));
        }
        // A console is an operator's screen, not a room: whatever endpoint
        // it names, it is never on the roll call, muted or staged.
        if kind == ConnectionKind::Console {
            return self.person_connected(participant, name, kind, None, true, now_ms);
        }
        // A relay is another node, not a room: the cascade routes say which
        // kind (`child_relay_connected`, `parent_relay_connected`).
        if kind == ConnectionKind::Relay {
            self.participants.insert(
                participant,
                Conn::ChildRelay {
                    node: name.to_string(),
                },
            );
            return Ok(Vec::new());
        }
        // Who gets in: the same rule for a room and for a player naming it.
        let existing = endpoint_id.and_then(|e| self.index.get(e).copied());
        if let (Some(e), Some(i)) = (endpoint_id, existing) {
            let s = &self.sites[i];
            if s.barred {
                return Err(Refusal::Removed(e.to_string()));
            }
            let was_in = s.participant.is_some()
                || s.readmitted
                || s.dropped_at_ms
                    .is_some_and(|t| now_ms.saturating_sub(t) <= RECONNECT_GRACE_MS);
            if self.locked && !was_in {
                return Err(Refusal::Locked);
            }
        } else if self.locked {
            return Err(Refusal::Locked);
        }
        // A receive-only player is not the room's session: a room running a
        // WHIP encoder and a WHEP player must not have one replace the other.
        let eid = match endpoint_id {
            Some(e) if kind != ConnectionKind::Viewer => e,
            _ => {
                self.saw(now_ms);
                let endpoint = endpoint_id.map(str::to_string);
                self.participants.insert(
                    participant,
                    Conn::Other {
                        endpoint: endpoint.clone(),
                        name: name.to_string(),
                        kind,
                        since_ms: now_ms,
                        user: None,
                        runs: false,
                    },
                );
                return Ok(vec![event(LiveEvent::OtherConnected {
                    participant,
                    endpoint_id: endpoint,
                    name: name.to_string(),
                    kind,
                })]);
            }
        };

        self.saw(now_ms);
        let before = self.before();
        let mut fx = Vec::new();
        let i = existing.unwrap_or_else(|| {
            // A guest starts under the current scene's or the meeting's mute
            // policy: with 100+ rooms, a newcomer with an open microphone is
            // noise.
            let mut s = Site::new(eid.to_string(), name.to_string(), None, false);
            s.named_by_connection = true;
            s.muted_audio = self.guest_muted();
            self.index.insert(eid.to_string(), self.sites.len());
            self.sites.push(s);
            self.sites.len() - 1
        });
        let s = &mut self.sites[i];
        let reconnect = s.ever_connected;
        s.ever_connected = true;
        if let Some(old) = s.participant.take() {
            // The old link is gone even if the engine has not noticed yet.
            fx.push(Effect::Media(MediaAction::Remove { participant: old }));
            self.participants.remove(&old);
            self.sent_mute.remove(&old);
            s.drops += 1;
        }
        s.participant = Some(participant);
        s.kind = Some(kind);
        s.connected_since_ms = Some(now_ms);
        s.dropped_at_ms = None;
        s.readmitted = false;
        if s.named_by_connection && !name.is_empty() {
            s.name = name.to_string();
        }
        fx.push(event(LiveEvent::SiteConnected {
            endpoint_id: s.id.clone(),
            name: s.name.clone(),
            participant,
            guest: !s.on_roll,
            reconnect,
            muted_audio: s.muted_audio,
            muted_video: s.muted_video,
        }));
        self.participants.insert(participant, Conn::Site(i));
        // A new session starts without operator mutes; reconcile sends what
        // this room should have.
        self.sent_mute.insert(participant, (false, false));
        self.reconcile(before, &mut fx);
        Ok(fx)
    }

    /// A connection left (the engine's `Left`). Unknown ids — a participant
    /// this meeting already removed or replaced — change nothing. The room
    /// keeps its place in the floor queue, on stage and its floor grant: if
    /// it comes back, they are re-applied.
    pub fn disconnected(&mut self, participant: ParticipantId, now_ms: u64) -> Vec<Effect> {
        let mut fx = self.disconnect(participant, now_ms);
        // The last one out: the engine forgets the room (and its voice).
        fx.extend(self.sync_voice());
        fx
    }

    fn disconnect(&mut self, participant: ParticipantId, now_ms: u64) -> Vec<Effect> {
        self.saw(now_ms);
        let Some(conn) = self.participants.remove(&participant) else {
            return Vec::new();
        };
        let i = match conn {
            Conn::ChildRelay { node } => return self.child_relay_gone(participant, &node),
            Conn::ParentRelay => return self.parent_relay_gone(),
            Conn::Other { .. } => {
                return vec![event(LiveEvent::OtherDisconnected { participant })];
            }
            Conn::Site(i) => i,
        };
        let before = self.before();
        let mut fx = Vec::new();
        self.sent_mute.remove(&participant);
        let s = &mut self.sites[i];
        s.participant = None;
        s.kind = None;
        s.connected_since_ms = None;
        s.dropped_at_ms = Some(now_ms);
        s.drops += 1;
        fx.push(event(LiveEvent::SiteDisconnected {
            endpoint_id: s.id.clone(),
            drops: s.drops,
        }));
        self.reconcile(before, &mut fx);
        fx
    }

    /// No new rooms (see [`LiveMeeting::connected`] for who still gets in).
    pub fn lock(&mut self) -> Vec<Effect> {
        if self.locked {
            return Vec::new();
        }
        self.locked = true;
        vec![event(LiveEvent::Locked)]
    }

    pub fn unlock(&mut self) -> Vec<Effect> {
        if !self.locked {
            return Vec::new();
        }
        self.locked = false;
        vec![event(LiveEvent::Unlocked)]
    }

    /// Disconnect a room (and any player naming it) and refuse it until
    /// [`LiveMeeting::readmit`]. It
    /// leaves the operator's stage and the floor queue; if it had the floor,
    /// the floor is revoked (and its microphone stays muted when it returns).
    pub fn remove(&mut self, endpoint_id: &str) -> Result<Vec<Effect>, LiveError> {
        let i = self.site_idx(endpoint_id)?;
        if self.sites[i].barred {
            return Ok(Vec::new());
        }
        let before = self.before();
        let mut fx = Vec::new();
        if let Some(p) = self.sites[i].participant.take() {
            fx.push(Effect::Media(MediaAction::Remove { participant: p }));
            self.participants.remove(&p);
            self.sent_mute.remove(&p);
        }
        // Its players go too: a removed room neither speaks nor watches.
        let mut players: Vec<ParticipantId> = self
            .participants
            .iter()
            .filter_map(|(&p, c)| match c {
                Conn::Other {
                    endpoint: Some(e), ..
                } if e == endpoint_id => Some(p),
                _ => None,
            })
            .collect();
        players.sort_unstable();
        for p in players {
            self.participants.remove(&p);
            fx.push(Effect::Media(MediaAction::Remove { participant: p }));
            fx.push(event(LiveEvent::OtherDisconnected { participant: p }));
        }
        if self.speaker.as_ref().is_some_and(|sp| sp.site == i) {
            self.revoke_inner(self.clock_ms, &mut fx);
        }
        let queued = self.queue.len();
        self.queue.retain(|r| r.site != i);
        if self.queue.len() != queued {
            fx.push(self.queue_event());
        }
        self.base_stage.retain(|&x| x != i);
        let s = &mut self.sites[i];
        s.barred = true;
        s.readmitted = false;
        s.kind = None;
        s.connected_since_ms = None;
        s.dropped_at_ms = None;
        fx.push(event(LiveEvent::Removed {
            endpoint_id: s.id.clone(),
        }));
        self.reconcile(before, &mut fx);
        Ok(fx)
    }

    /// Lift a removal: the room may connect again, even into a locked
    /// meeting (the operator let it in by name).
    pub fn readmit(&mut self, endpoint_id: &str) -> Result<Vec<Effect>, LiveError> {
        let i = self.site_idx(endpoint_id)?;
        let s = &mut self.sites[i];
        if !s.barred {
            return Err(LiveError::NotRemoved(endpoint_id.to_string()));
        }
        s.barred = false;
        s.readmitted = true;
        Ok(vec![event(LiveEvent::Readmitted {
            endpoint_id: s.id.clone(),
        })])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn reconnect_reapplies_operator_mute_and_stage() {
        let mut m = meeting(3);
        join(&mut m, "tu", 1);
        join(&mut m, "x1", 11);
        m.mute("x1", Some(true), Some(true)).unwrap();
        m.set_stage(vec!["tu".into(), "x1".into()]).unwrap();
        m.disconnected(11, T0 + 1_000);
        let fx = m
            .connected(Some("x1"), 12, "Xã 1", ConnectionKind::Room, T0 + 5_000)
            .unwrap();
        assert!(fx.contains(&Effect::Media(MediaAction::Mute {
            participant: 12,
            audio: Some(true),
            video: Some(true),
        })));
        assert!(fx.contains(&Effect::Media(MediaAction::SetStage(vec![1, 12]))));
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::Event(LiveEvent::SiteConnected {
                reconnect: true,
                participant: 12,
                ..
            })
        )));
        assert_eq!(m.participant_of("x1"), Some(12));
        // The mute effect comes before the stage change.
        let mute_at = fx
            .iter()
            .position(|e| matches!(e, Effect::Media(MediaAction::Mute { .. })));
        let stage_at = fx
            .iter()
            .position(|e| matches!(e, Effect::Media(MediaAction::SetStage(_))));
        assert!(mute_at < stage_at);
    }

    #[test]
    fn reconnect_while_old_session_lingers_removes_the_old_one() {
        let mut m = meeting(2);
        join(&mut m, "x1", 11);
        m.mute("x1", Some(true), None).unwrap();
        let fx = m
            .connected(Some("x1"), 12, "Xã 1", ConnectionKind::Room, T0 + 100)
            .unwrap();
        assert_eq!(
            media(&fx),
            vec![
                MediaAction::Remove { participant: 11 },
                MediaAction::Mute {
                    participant: 12,
                    audio: Some(true),
                    video: None
                },
            ]
        );
        // The engine's late "left" for the old id changes nothing.
        assert!(m.disconnected(11, T0 + 200).is_empty());
        assert_eq!(m.participant_of("x1"), Some(12));
        assert_eq!(site(&m, "x1").drops, 1);
    }

    #[test]
    fn reconnect_reapplies_the_floor_grant() {
        let mut m = meeting(2);
        join(&mut m, "tu", 1);
        join(&mut m, "x1", 11);
        m.apply_scene(Scene::ThaoLuan, T0);
        m.grant_floor("x1", Some(120_000), T0).unwrap();
        m.disconnected(11, T0 + 1_000);
        let fx = m
            .connected(Some("x1"), 12, "Xã 1", ConnectionKind::Room, T0 + 2_000)
            .unwrap();
        // Unmuted (no mute sent to the fresh session) and back on stage.
        assert!(
            !media(&fx)
                .iter()
                .any(|a| matches!(a, MediaAction::Mute { .. }))
        );
        assert!(fx.contains(&Effect::Media(MediaAction::SetStage(vec![12, 1]))));
        assert_eq!(site(&m, "x1").floor, FloorStatus::Speaking);
    }

    #[test]
    fn lock_refuses_new_sites_but_admits_a_blip_reconnect_and_a_console() {
        let mut m = meeting(3);
        join(&mut m, "x1", 11);
        m.disconnected(11, T0 + 1_000);
        assert_eq!(events(&m.lock()), vec![LiveEvent::Locked]);
        // An expected room that never joined.
        assert_eq!(
            m.connected(Some("x2"), 21, "Xã 2", ConnectionKind::Room, T0 + 2_000),
            Err(Refusal::Locked)
        );
        // A guest and an anonymous viewer.
        assert_eq!(
            m.connected(Some("khach"), 31, "Khách", ConnectionKind::Room, T0 + 2_000),
            Err(Refusal::Locked)
        );
        assert_eq!(
            m.connected(None, 32, "Viewer", ConnectionKind::Viewer, T0 + 2_000),
            Err(Refusal::Locked)
        );
        // An operator's console always gets in (listed like any watcher).
        assert!(
            m.connected(None, 41, "Điều hành", ConnectionKind::Console, T0 + 2_000)
                .is_ok()
        );
        // x1 dropped 59 s ago: a blip, it comes back.
        assert!(
            m.connected(Some("x1"), 12, "Xã 1", ConnectionKind::Room, T0 + 60_000)
                .is_ok()
        );
        // Dropped again, back after more than 60 s: refused.
        m.disconnected(12, T0 + 61_000);
        assert_eq!(
            m.connected(Some("x1"), 13, "Xã 1", ConnectionKind::Room, T0 + 121_001),
            Err(Refusal::Locked)
        );
        // Unlocked: everyone may join again.
        assert_eq!(events(&m.unlock()), vec![LiveEvent::Unlocked]);
        assert!(
            m.connected(Some("x2"), 21, "Xã 2", ConnectionKind::Room, T0 + 130_000)
                .is_ok()
        );
        // A refused join changed nothing.
        assert!(!site(&m, "x1").connected);
    }

    #[test]
    fn remove_bars_until_readmit() {
        let mut m = meeting(2);
        join(&mut m, "tu", 1);
        join(&mut m, "x1", 11);
        m.set_stage(vec!["tu".into(), "x1".into()]).unwrap();
        m.request_floor("x1", T0).unwrap();
        let fx = m.remove("x1").unwrap();
        assert_eq!(
            media(&fx),
            vec![
                MediaAction::Remove { participant: 11 },
                MediaAction::SetStage(vec![1]),
            ]
        );
        assert!(events(&fx).contains(&LiveEvent::Removed {
            endpoint_id: "x1".into()
        }));
        assert!(events(&fx).contains(&LiveEvent::FloorQueue { order: vec![] }));
        // The engine's "left" for it is already accounted for.
        assert!(m.disconnected(11, T0 + 10).is_empty());
        assert_eq!(
            m.connected(Some("x1"), 12, "Xã 1", ConnectionKind::Room, T0 + 20),
            Err(Refusal::Removed("x1".into()))
        );
        // Even an unlocked meeting refuses it; re-admitting lets it in, even locked.
        m.lock();
        assert_eq!(
            events(&m.readmit("x1").unwrap()),
            vec![LiveEvent::Readmitted {
                endpoint_id: "x1".into()
            }]
        );
        assert_eq!(m.readmit("x1"), Err(LiveError::NotRemoved("x1".into())));
        assert!(
            m.connected(Some("x1"), 12, "Xã 1", ConnectionKind::Room, T0 + 30)
                .is_ok()
        );
        // It left the stage when removed: it does not pop back on it.
        assert_eq!(m.stage(), vec!["tu".to_string()]);
    }

    #[test]
    fn removing_the_floor_holder_revokes_and_keeps_it_muted() {
        let mut m = meeting(2);
        join(&mut m, "tu", 1);
        join(&mut m, "x1", 11);
        m.grant_floor("x1", None, T0).unwrap();
        let fx = m.remove("x1").unwrap();
        assert!(
            events(&fx)
                .iter()
                .any(|e| matches!(e, LiveEvent::FloorRevoked { .. }))
        );
        // No mute is sent to the removed participant; the room is muted in state.
        assert!(
            media(&fx)
                .iter()
                .all(|a| !matches!(a, MediaAction::Mute { .. }))
        );
        m.readmit("x1").unwrap();
        let fx = m
            .connected(Some("x1"), 12, "Xã 1", ConnectionKind::Room, T0 + 5)
            .unwrap();
        assert!(media(&fx).contains(&MediaAction::Mute {
            participant: 12,
            audio: Some(true),
            video: None
        }));
    }

    #[test]
    fn guests_join_apart_from_the_roll_call() {
        let mut m = meeting(2);
        let fx = m
            .connected(Some("bao-chi"), 51, "Phóng viên", ConnectionKind::Room, T0)
            .unwrap();
        assert!(events(&fx).iter().any(|e| matches!(
            e,
            LiveEvent::SiteConnected {
                guest: true,
                reconnect: false,
                ..
            }
        )));
        let rc = m.roll_call(T0);
        assert_eq!(rc.guests.len(), 1);
        assert_eq!(rc.guests[0].name, "Phóng viên");
        assert!(rc.sites.iter().all(|s| s.endpoint_id != "bao-chi"));
        assert_eq!(rc.connected_sites, 0);
        // Connections without an endpoint are listed too, consoles as well
        // (who watches a closed meeting is part of its record).
        m.connected(None, 52, "Màn hình", ConnectionKind::Viewer, T0)
            .unwrap();
        m.connected(None, 53, "Điều hành", ConnectionKind::Console, T0)
            .unwrap();
        let rc = m.roll_call(T0);
        assert_eq!(rc.others.len(), 2);
        assert_eq!(rc.others[0].participant, 52);
        assert_eq!(rc.others[1].kind, ConnectionKind::Console);
        assert_eq!(rc.others[0].endpoint_id, None);
        assert_eq!(
            events(&m.disconnected(52, T0)),
            vec![LiveEvent::OtherDisconnected { participant: 52 }]
        );
    }

    #[test]
    fn a_player_naming_a_room_does_not_replace_its_session() {
        let mut m = meeting(2);
        join(&mut m, "x1", 11);
        let fx = m
            .connected(Some("x1"), 12, "WHEP x1", ConnectionKind::Viewer, T0)
            .unwrap();
        assert_eq!(
            fx,
            vec![Effect::Event(LiveEvent::OtherConnected {
                participant: 12,
                endpoint_id: Some("x1".into()),
                name: "WHEP x1".into(),
                kind: ConnectionKind::Viewer,
            })]
        );
        assert_eq!(m.participant_of("x1"), Some(11));
        // A removed room's player goes with it, and cannot come back.
        let fx = m.remove("x1").unwrap();
        assert_eq!(
            media(&fx),
            vec![
                MediaAction::Remove { participant: 11 },
                MediaAction::Remove { participant: 12 },
            ]
        );
        assert_eq!(
            m.connected(Some("x1"), 13, "WHEP x1", ConnectionKind::Viewer, T0),
            Err(Refusal::Removed("x1".into()))
        );
        assert!(m.roll_call(T0).others.is_empty());
    }

    #[test]
    fn a_participant_id_in_use_is_refused() {
        let mut m = meeting(2);
        join(&mut m, "x1", 11);
        assert_eq!(
            m.connected(Some("x2"), 11, "Xã 2", ConnectionKind::Room, T0),
            Err(Refusal::ParticipantInUse(11))
        );
        assert!(!site(&m, "x2").connected);
    }

    #[test]
    fn drops_are_counted() {
        let mut m = meeting(1);
        join(&mut m, "x1", 11);
        m.disconnected(11, T0 + 1);
        join(&mut m, "x1", 12);
        m.disconnected(12, T0 + 2);
        assert_eq!(site(&m, "x1").drops, 2);
        assert!(!site(&m, "x1").connected);
    }
}
