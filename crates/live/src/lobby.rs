//! The door of a live meeting: the lobby of an open meeting (a room that is
//! not planned waits there until an operator lets it in — it never lands in
//! the meeting by itself), and the people watching it (consoles, players),
//! who are listed like any connection, obey the lock unless they run the
//! meeting, and can be sent away.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{Conn, ConnectionKind, Effect, LiveError, LiveEvent, LiveMeeting, MediaAction, event};
use crate::Refusal;
use diemcau_media::ParticipantId;

/// Rooms waiting at once. Only authenticated endpoints knock, so the
/// registry bounds it anyway; this keeps one meeting's snapshot small.
const MAX_LOBBY: usize = 500;
/// A room that stopped knocking for this long has gone away.
const LOBBY_FORGET_MS: u64 = 60_000;

/// A room waiting in the lobby.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LobbyEntry {
    pub endpoint_id: String,
    pub name: String,
    pub since_ms: u64,
    /// Its last knock (the room page knocks every few seconds).
    pub last_ms: u64,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Door {
    lobby: Vec<LobbyEntry>,
    /// Unplanned rooms an operator let in, for the rest of the meeting.
    admitted: HashSet<String>,
    /// People sent away; refused until re-admitted.
    barred_users: HashSet<String>,
}

/// What a knock at the lobby came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knock {
    Admitted,
    Waiting,
}

impl LiveMeeting {
    /// An unplanned room asks to come into an open meeting.
    pub fn knock(&mut self, endpoint_id: &str, name: &str, now_ms: u64) -> (Knock, Vec<Effect>) {
        self.saw(now_ms);
        if self.door.admitted.contains(endpoint_id) {
            return (Knock::Admitted, Vec::new());
        }
        self.forget_stale_knocks(now_ms);
        if let Some(e) = self
            .door
            .lobby
            .iter_mut()
            .find(|e| e.endpoint_id == endpoint_id)
        {
            e.last_ms = now_ms;
            return (Knock::Waiting, Vec::new());
        }
        if self.door.lobby.len() >= MAX_LOBBY {
            return (Knock::Waiting, Vec::new());
        }
        let entry = LobbyEntry {
            endpoint_id: endpoint_id.to_string(),
            name: name.to_string(),
            since_ms: now_ms,
            last_ms: now_ms,
        };
        self.door.lobby.push(entry.clone());
        (
            Knock::Waiting,
            vec![event(LiveEvent::LobbyWaiting { entry })],
        )
    }

    /// Let a waiting room in: its next knock is admitted.
    pub fn admit_from_lobby(&mut self, endpoint_id: &str) -> Result<Vec<Effect>, LiveError> {
        let Some(i) = self
            .door
            .lobby
            .iter()
            .position(|e| e.endpoint_id == endpoint_id)
        else {
            return Err(LiveError::NotInLobby(endpoint_id.to_string()));
        };
        self.door.lobby.remove(i);
        self.door.admitted.insert(endpoint_id.to_string());
        Ok(vec![event(LiveEvent::LobbyAdmitted {
            endpoint_id: endpoint_id.to_string(),
        })])
    }

    /// Turn a waiting room away (it may knock again).
    pub fn deny_from_lobby(&mut self, endpoint_id: &str) -> Result<Vec<Effect>, LiveError> {
        let before = self.door.lobby.len();
        self.door.lobby.retain(|e| e.endpoint_id != endpoint_id);
        if self.door.lobby.len() == before {
            return Err(LiveError::NotInLobby(endpoint_id.to_string()));
        }
        Ok(vec![event(LiveEvent::LobbyDenied {
            endpoint_id: endpoint_id.to_string(),
        })])
    }

    pub fn lobby(&self) -> Vec<LobbyEntry> {
        self.door.lobby.clone()
    }

    fn forget_stale_knocks(&mut self, now_ms: u64) {
        self.door
            .lobby
            .retain(|e| now_ms.saturating_sub(e.last_ms) <= LOBBY_FORGET_MS);
    }

    /// A person's connection: a console, a player or a publisher. Listed
    /// with the other connections; refused while they are barred, and
    /// while the meeting is locked unless they run it (a locked meeting
    /// must stay operable).
    pub fn person_connected(
        &mut self,
        participant: ParticipantId,
        name: &str,
        kind: ConnectionKind,
        user: Option<&str>,
        runs: bool,
        now_ms: u64,
    ) -> Result<Vec<Effect>, Refusal> {
        if self.participants.contains_key(&participant) {
            return Err(Refusal::ParticipantInUse(participant));
        }
        if let Some(u) = user
            && self.door.barred_users.contains(u)
        {
            return Err(Refusal::Removed(u.to_string()));
        }
        if self.locked && !runs {
            return Err(Refusal::Locked);
        }
        self.saw(now_ms);
        if self.participants.is_empty() {
            // The engine made its room afresh for this one.
            self.sent_voice = false;
        }
        self.participants.insert(
            participant,
            Conn::Other {
                endpoint: None,
                name: name.to_string(),
                kind,
                since_ms: now_ms,
                user: user.map(str::to_string),
                runs,
            },
        );
        let mut fx = vec![event(LiveEvent::OtherConnected {
            participant,
            endpoint_id: None,
            name: name.to_string(),
            kind,
        })];
        // The first connection may have made the engine's room.
        fx.extend(self.sync_voice());
        Ok(fx)
    }

    /// Send a watching person's connection away; the person is refused
    /// until [`LiveMeeting::readmit_user`] (its operators are not barred:
    /// they may always come back to run the meeting).
    pub fn remove_connection(
        &mut self,
        participant: ParticipantId,
    ) -> Result<Vec<Effect>, LiveError> {
        let Some(Conn::Other { user, runs, .. }) = self.participants.get(&participant) else {
            return Err(LiveError::UnknownConnection(participant));
        };
        if let (Some(u), false) = (user, runs) {
            self.door.barred_users.insert(u.clone());
        }
        self.participants.remove(&participant);
        Ok(vec![
            Effect::Media(MediaAction::Remove { participant }),
            event(LiveEvent::OtherDisconnected { participant }),
        ])
    }

    pub fn readmit_user(&mut self, user_id: &str) -> Result<Vec<Effect>, LiveError> {
        if !self.door.barred_users.remove(user_id) {
            return Err(LiveError::NotRemoved(user_id.to_string()));
        }
        Ok(Vec::new())
    }

    pub fn barred_users(&self) -> Vec<String> {
        let mut v: Vec<String> = self.door.barred_users.iter().cloned().collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::meeting;

    #[test]
    fn an_unplanned_room_waits_until_an_operator_admits_it() {
        let mut m = meeting(2);
        let (k, fx) = m.knock("x", "Xã X", 1_000);
        assert_eq!(k, Knock::Waiting);
        assert_eq!(fx.len(), 1);
        // Knocking again changes nothing and says nothing.
        assert_eq!(m.knock("x", "Xã X", 2_000), (Knock::Waiting, Vec::new()));
        assert_eq!(m.lobby().len(), 1);
        m.admit_from_lobby("x").unwrap();
        assert!(m.lobby().is_empty());
        assert_eq!(m.knock("x", "Xã X", 3_000).0, Knock::Admitted);
    }

    #[test]
    fn a_denied_room_leaves_the_lobby_and_is_not_admitted() {
        let mut m = meeting(1);
        m.knock("x", "Xã X", 0);
        m.deny_from_lobby("x").unwrap();
        assert!(m.lobby().is_empty());
        assert_eq!(m.knock("x", "Xã X", 10).0, Knock::Waiting);
        assert!(m.admit_from_lobby("nobody").is_err());
    }

    #[test]
    fn a_lobby_entry_that_stops_knocking_is_forgotten() {
        let mut m = meeting(1);
        m.knock("x", "Xã X", 0);
        m.knock("y", "Xã Y", LOBBY_FORGET_MS + 1);
        let ids: Vec<String> = m.lobby().into_iter().map(|e| e.endpoint_id).collect();
        assert_eq!(ids, vec!["y".to_string()]);
    }

    #[test]
    fn a_watcher_obeys_the_lock_unless_it_runs_the_meeting() {
        let mut m = meeting(1);
        m.lock();
        assert_eq!(
            m.person_connected(
                90,
                "Đại biểu",
                ConnectionKind::Console,
                Some("u1"),
                false,
                0
            ),
            Err(Refusal::Locked)
        );
        assert!(
            m.person_connected(
                91,
                "Điều hành",
                ConnectionKind::Console,
                Some("op"),
                true,
                0
            )
            .is_ok()
        );
    }

    #[test]
    fn a_removed_watcher_is_refused_until_readmitted() {
        let mut m = meeting(1);
        m.person_connected(
            90,
            "Đại biểu",
            ConnectionKind::Console,
            Some("u1"),
            false,
            0,
        )
        .unwrap();
        let fx = m.remove_connection(90).unwrap();
        assert!(fx.contains(&Effect::Media(MediaAction::Remove { participant: 90 })));
        assert_eq!(
            m.person_connected(
                92,
                "Đại biểu",
                ConnectionKind::Console,
                Some("u1"),
                false,
                5
            ),
            Err(Refusal::Removed("u1".into()))
        );
        m.readmit_user("u1").unwrap();
        assert!(
            m.person_connected(
                93,
                "Đại biểu",
                ConnectionKind::Console,
                Some("u1"),
                false,
                6
            )
            .is_ok()
        );
        assert!(m.remove_connection(12345).is_err());
    }
}
