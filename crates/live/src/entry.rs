//! Mute on entry: in a conference run from the hub, rooms other than the hub
//! join with their microphone muted by the operator, so that a hundred
//! communes opening their pages do not open a hundred microphones. Set per
//! meeting when its live room opens (by kind: `MeetingKind::mutes_on_entry`)
//! and changeable live by an operator.
//!
//! The mute is an ordinary operator mute of each room that has not joined
//! yet (planned rooms, and guests as they arrive): a room that is already in
//! keeps what it has (an operator mutes those with "mute all"), an operator
//! may lift one room's mute before it joins, and a room that reconnects keeps
//! whatever it had.

use super::{Effect, LiveEvent, LiveMeeting, event};

impl LiveMeeting {
    /// The meeting's rule as it opens.
    pub fn with_mute_on_entry(mut self, on: bool) -> Self {
        self.mute_on_entry = on;
        self.mute_waiting_rooms(on);
        self
    }

    /// Whether rooms other than the hub join muted.
    pub fn mute_on_entry(&self) -> bool {
        self.mute_on_entry
    }

    /// Change the rule live: rooms that have not joined yet are muted (or
    /// no longer) when they join; rooms already in are left as they are.
    pub fn set_mute_on_entry(&mut self, on: bool) -> Vec<Effect> {
        let before = self.before();
        let mut fx = Vec::new();
        if self.mute_on_entry != on {
            self.mute_on_entry = on;
            self.mute_waiting_rooms(on);
            fx.push(event(LiveEvent::MuteOnEntry { on }));
        }
        self.reconcile(before, &mut fx);
        fx
    }

    /// Whether a guest arriving now starts muted: the scene mutes rooms,
    /// or the meeting mutes them on entry.
    pub(super) fn guest_muted(&self) -> bool {
        self.mute_on_entry || self.scene.is_some_and(|sc| sc.policy().mute_audio)
    }

    fn mute_waiting_rooms(&mut self, on: bool) {
        for s in &mut self.sites {
            if !s.hub && !s.ever_connected && s.via.is_none() {
                s.muted_audio = on;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn rooms_but_the_hub_join_muted_and_an_operator_turns_it_off_for_rooms_still_to_come() {
        let mut m = meeting(3).with_mute_on_entry(true);
        assert!(m.mute_on_entry());
        let fx = join(&mut m, "tu", 1);
        assert!(mutes_for(&fx, 1).is_empty(), "the hub chairs: never muted");
        let fx = join(&mut m, "x1", 11);
        assert_eq!(mutes_for(&fx, 11), vec![(Some(true), None)]);
        assert!(site(&m, "x1").muted_audio);
        // A guest too.
        let fx = join(&mut m, "khach", 77);
        assert_eq!(mutes_for(&fx, 77), vec![(Some(true), None)]);
        // Turned off live: x1 (in) keeps its mute, x2 (to come) joins open.
        let fx = m.set_mute_on_entry(false);
        assert!(events(&fx).contains(&LiveEvent::MuteOnEntry { on: false }));
        assert!(media(&fx).is_empty(), "nobody connected is touched");
        assert!(site(&m, "x1").muted_audio);
        let fx = join(&mut m, "x2", 12);
        assert!(mutes_for(&fx, 12).is_empty());
        assert!(!site(&m, "x2").muted_audio);
        // The same value again changes nothing.
        assert!(m.set_mute_on_entry(false).is_empty());
        // A room that drops and comes back keeps what it had.
        m.disconnected(11, T0 + 1);
        let fx = join(&mut m, "x1", 21);
        assert_eq!(mutes_for(&fx, 21), vec![(Some(true), None)]);
    }

    #[test]
    fn an_operator_may_open_one_rooms_microphone_before_it_joins() {
        let mut m = meeting(2).with_mute_on_entry(true);
        join(&mut m, "tu", 1);
        m.mute("x2", Some(false), None).unwrap();
        let fx = join(&mut m, "x2", 12);
        assert!(mutes_for(&fx, 12).is_empty());
        let fx = join(&mut m, "x1", 11);
        assert_eq!(mutes_for(&fx, 11), vec![(Some(true), None)]);
    }

    #[test]
    fn without_mute_on_entry_rooms_join_open() {
        let mut m = meeting(1);
        assert!(!m.mute_on_entry());
        join(&mut m, "tu", 1);
        let fx = join(&mut m, "x1", 11);
        assert!(mutes_for(&fx, 11).is_empty());
    }
}
