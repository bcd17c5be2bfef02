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
    pub fn note_sip_call(&mut self, event: &serde_json::Value) {
        let Some(endpoint) = event.get("endpoint_id").and_then(|e| e.as_str()) else {
            return;
        };
        if !self.index.contains_key(endpoint) {
            return;
        }
        let mut state = event.clone();
        if let Some(o) = state.as_object_mut() {
            o.remove("type");
            o.remove("endpoint_id");
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
        let ev = |e: &str, state: &str| serde_json::json!({"type": "sip_call", "endpoint_id": e, "state": state});
        m.note_sip_call(&ev("x1", "calling"));
        m.note_sip_call(&ev("x1", "ringing"));
        m.note_sip_call(&ev("stranger", "calling"));
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
