//! "Gọi lại": an operator asks the server to call a planned SIP room
//! (dial-out). Live control decides whether it makes sense — a planned
//! room, not connected, not sent away — and the SIP listener is told
//! through an effect, so the action is audited before it happens. The
//! listener's `sip_call` events (calling, ringing, connected, failed,
//! ended) are kept per room for the snapshot: a console that opens
//! mid-call sees each room's state, not only the events after it.

use super::{Effect, LiveError, LiveMeeting};

impl LiveMeeting {
    /// Call `endpoint` (a SIP room the caller checked) into the meeting.
    pub fn call_sip_room(&mut self, endpoint: &str) -> Result<Vec<Effect>, LiveError> {
        let i = *self
            .index
            .get(endpoint)
            .ok_or_else(|| LiveError::UnknownEndpoint(endpoint.to_string()))?;
        let site = &self.sites[i];
        if !site.on_roll {
            return Err(LiveError::UnknownEndpoint(endpoint.to_string()));
        }
        if site.participant.is_some() {
            return Err(LiveError::AlreadyConnected(endpoint.to_string()));
        }
        if site.barred {
            return Err(LiveError::Barred(endpoint.to_string()));
        }
        Ok(vec![Effect::SipCall(endpoint.to_string())])
    }

    /// Keep a `sip_call` event as its room's state; one for a room not in
    /// the meeting is ignored (the map stays bounded by the roll).
    pub fn note_sip_call(&mut self, endpoint: &str, state: serde_json::Value) {
        if !self.index.contains_key(endpoint) {
            return;
        }
        self.sip_calls.insert(endpoint.to_string(), state);
    }

    /// Each room's last `sip_call` state, by endpoint.
    pub fn sip_calls(&self) -> std::collections::BTreeMap<String, serde_json::Value> {
        self.sip_calls.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn the_last_sip_call_state_of_each_room_is_in_the_snapshot() {
        let mut m = meeting(2);
        let state = |s: &str| serde_json::json!({ "state": s });
        m.note_sip_call("x1", state("calling"));
        m.note_sip_call("x1", state("ringing"));
        m.note_sip_call("stranger", state("calling"));
        let snap = m.snapshot(T0);
        assert_eq!(snap.sip_calls.len(), 1, "only the meeting's rooms");
        assert_eq!(
            snap.sip_calls["x1"],
            serde_json::json!({"state": "ringing"})
        );
    }

    #[test]
    fn a_planned_room_not_connected_is_called_one_connected_is_not() {
        let mut m = meeting(2);
        assert_eq!(
            m.call_sip_room("x1").unwrap(),
            vec![Effect::SipCall("x1".into())]
        );
        join(&mut m, "x1", 2);
        assert_eq!(
            m.call_sip_room("x1"),
            Err(LiveError::AlreadyConnected("x1".into()))
        );
        assert_eq!(
            m.call_sip_room("nobody"),
            Err(LiveError::UnknownEndpoint("nobody".into()))
        );
    }
}
