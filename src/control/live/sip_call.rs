//! "Gọi lại": an operator asks the server to call a planned SIP room
//! (dial-out). Live control decides whether it makes sense — a planned
//! room, not connected, not sent away — and the SIP listener is told
//! through an effect, so the action is audited before it happens.

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
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

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
