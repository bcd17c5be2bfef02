//! The UAC side of dial-out: one INVITE client transaction (RFC 3261
//! §17.1.1, with RFC 6026's Accepted state), sans-IO on virtual time.
//! Over UDP the INVITE is retransmitted (Timer A, doubling from T1) until
//! a response, and given up after Timer B (64·T1) without one; a non-2xx
//! final response is ACKed by the transaction (same branch) and its
//! retransmissions ACKed again until Timer D; a 2xx is ACKed from the
//! dialog (new branch, to the callee's Contact) and its retransmissions
//! answered with that same ACK until Timer M. Abandoning a call sends a
//! CANCEL once the callee has sent a provisional response (§9.1: not
//! before), retransmitted like a non-INVITE request (Timer E, F).

use std::time::{Duration, Instant};

use super::message::{Message, Method, StartLine, addr_uri, param};
use super::transaction::{T1, T2};
use super::transport::Transport;

/// Timer D over UDP: how long a completed transaction re-ACKs a
/// retransmitted final response (§17.1.1.2: at least 32 s).
const TIMER_D: Duration = Duration::from_secs(32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Calling,
    Proceeding,
    /// A non-2xx final response was ACKed; retransmissions are re-ACKed.
    Completed,
    /// A 2xx was ACKed (RFC 6026); retransmissions get the same ACK.
    Accepted,
    Terminated,
}

/// What the call should learn from a response or a timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UacEvent {
    /// 1xx (100 Trying is not reported: it only stops retransmissions).
    Provisional(u16),
    /// The first 2xx: the call is up; its ACK is already among the bytes
    /// to send.
    Answered(Message),
    /// A final 3xx–6xx (ACKed): status and reason phrase.
    Rejected(u16, String),
    /// No response within Timer B.
    TimedOut,
}

struct Cancel {
    bytes: Vec<u8>,
    retransmit_at: Option<Instant>,
    interval: Duration,
    give_up_at: Instant,
}

/// One INVITE client transaction and what its dialog needs to ACK a 2xx.
pub struct ClientInvite {
    invite: Message,
    bytes: Vec<u8>,
    transport: Transport,
    state: State,
    retransmit_at: Option<Instant>,
    interval: Duration,
    /// Timer B (Calling), D (Completed) or M (Accepted).
    end_at: Option<Instant>,
    /// The ACK sent for the final response (re-sent to its retransmissions).
    ack: Option<Vec<u8>>,
    /// Abandoned before a provisional came: CANCEL as soon as one does.
    cancel_wanted: bool,
    cancel: Option<Cancel>,
    /// The via host and a new branch for a 2xx's ACK.
    via: String,
}

impl ClientInvite {
    /// Start the transaction for `invite` (its top Via's branch is the
    /// key): returns it and the bytes to send now. `via` is our
    /// `host:port` for the ACK of a 2xx.
    pub fn new(
        now: Instant,
        invite: Message,
        transport: Transport,
        via: &str,
    ) -> (ClientInvite, Vec<u8>) {
        let bytes = invite.to_bytes();
        let t = ClientInvite {
            invite,
            bytes: bytes.clone(),
            transport,
            state: State::Calling,
            retransmit_at: (!transport.is_reliable()).then(|| now + T1),
            interval: T1,
            end_at: Some(now + 64 * T1),
            ack: None,
            cancel_wanted: false,
            cancel: None,
            via: via.to_owned(),
        };
        (t, bytes)
    }

    pub fn branch(&self) -> &str {
        self.invite.branch().unwrap_or_default()
    }

    pub fn invite(&self) -> &Message {
        &self.invite
    }

    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// Whether a final response came (or the transaction gave up).
    pub fn is_final(&self) -> bool {
        !matches!(self.state, State::Calling | State::Proceeding)
    }

    /// A response whose top Via names this transaction's branch: the
    /// event for the call, and the bytes to send (ACK, CANCEL).
    pub fn receive(&mut self, now: Instant, resp: &Message) -> (Option<UacEvent>, Vec<Vec<u8>>) {
        let StartLine::Response { code, reason } = &resp.start else {
            return (None, Vec::new());
        };
        let code = *code;
        if resp.cseq().is_some_and(|(_, m)| m == Method::Cancel) {
            // The CANCEL's own answer: stop retransmitting it.
            if let Some(c) = &mut self.cancel {
                c.retransmit_at = None;
            }
            return (None, Vec::new());
        }
        match self.state {
            State::Calling | State::Proceeding if code < 200 => {
                self.state = State::Proceeding;
                self.retransmit_at = None;
                // §17.1.1.2: Timer B only runs while Calling; a ringing
                // call's length is the call's business (it cancels).
                self.end_at = None;
                let mut out = Vec::new();
                if self.cancel_wanted && self.cancel.is_none() {
                    out.push(self.start_cancel(now));
                }
                let ev = (code > 100).then_some(UacEvent::Provisional(code));
                (ev, out)
            }
            State::Calling | State::Proceeding if code < 300 => {
                let ack = self.ack_2xx(resp).to_bytes();
                self.ack = Some(ack.clone());
                self.state = State::Accepted;
                self.retransmit_at = None;
                self.end_at = Some(now + 64 * T1);
                if let Some(c) = &mut self.cancel {
                    c.retransmit_at = None;
                }
                (Some(UacEvent::Answered(resp.clone())), vec![ack])
            }
            State::Calling | State::Proceeding => {
                let ack = self.ack_non_2xx(resp).to_bytes();
                self.ack = Some(ack.clone());
                self.state = State::Completed;
                self.retransmit_at = None;
                self.end_at = Some(
                    now + if self.transport.is_reliable() {
                        Duration::ZERO
                    } else {
                        TIMER_D
                    },
                );
                if let Some(c) = &mut self.cancel {
                    c.retransmit_at = None;
                }
                (Some(UacEvent::Rejected(code, reason.clone())), vec![ack])
            }
            // A retransmitted final response: the same ACK again (a 2xx
            // after another 2xx from a fork gets ours too; we keep one).
            State::Completed | State::Accepted if code >= 200 => {
                (None, self.ack.iter().cloned().collect())
            }
            _ => (None, Vec::new()),
        }
    }

    /// Give the call up: a CANCEL to send if the callee is ringing; else
    /// it goes out when a provisional comes, and nothing if the
    /// transaction is already final.
    pub fn cancel(&mut self, now: Instant) -> Option<Vec<u8>> {
        match self.state {
            State::Proceeding if self.cancel.is_none() => Some(self.start_cancel(now)),
            State::Calling => {
                self.cancel_wanted = true;
                None
            }
            _ => None,
        }
    }

    /// Retransmissions due now, and [`UacEvent::TimedOut`] once Timer B
    /// fires; a finished transaction becomes terminated.
    pub fn poll(&mut self, now: Instant) -> (Vec<Vec<u8>>, Option<UacEvent>) {
        let mut out = Vec::new();
        let mut ev = None;
        if self.end_at.is_some_and(|e| now >= e) {
            if self.state == State::Calling {
                ev = Some(UacEvent::TimedOut);
            }
            self.state = State::Terminated;
            self.retransmit_at = None;
            self.end_at = None;
        }
        if let Some(at) = self.retransmit_at
            && now >= at
        {
            out.push(self.bytes.clone());
            self.interval *= 2; // Timer A doubles without a cap (§17.1.1.2)
            self.retransmit_at = Some(now + self.interval);
        }
        if let Some(c) = &mut self.cancel {
            if now >= c.give_up_at {
                c.retransmit_at = None;
            } else if let Some(at) = c.retransmit_at
                && now >= at
            {
                out.push(c.bytes.clone());
                c.interval = (c.interval * 2).min(T2);
                c.retransmit_at = Some(now + c.interval);
            }
        }
        (out, ev)
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        let c = self.cancel.as_ref().and_then(|c| c.retransmit_at);
        [self.retransmit_at, self.end_at, c]
            .into_iter()
            .flatten()
            .min()
    }

    fn start_cancel(&mut self, now: Instant) -> Vec<u8> {
        let bytes = self.cancel_request().to_bytes();
        self.cancel = Some(Cancel {
            bytes: bytes.clone(),
            retransmit_at: (!self.transport.is_reliable()).then(|| now + T1),
            interval: T1,
            give_up_at: now + 64 * T1,
        });
        bytes
    }

    /// §9.1: the INVITE's Request-URI, top Via, Call-ID, From, To and CSeq
    /// number, method CANCEL.
    fn cancel_request(&self) -> Message {
        let mut m = self.copy_of_invite(Method::Cancel, &["via", "from", "to", "call-id"]);
        let n = self.invite.cseq().map_or(1, |c| c.0);
        m.push_header("cseq", format!("{n} CANCEL"));
        m.push_header("max-forwards", "70");
        m
    }

    /// §17.1.1.3: the ACK of a non-2xx is part of the transaction: same
    /// Request-URI and branch, the response's To (with its tag).
    fn ack_non_2xx(&self, resp: &Message) -> Message {
        let mut m = self.copy_of_invite(Method::Ack, &["via", "from", "call-id"]);
        if let Some(to) = resp.header("to") {
            m.push_header("to", to);
        }
        let n = self.invite.cseq().map_or(1, |c| c.0);
        m.push_header("cseq", format!("{n} ACK"));
        m.push_header("max-forwards", "70");
        m
    }

    /// §13.2.2.4: the ACK of a 2xx belongs to the dialog: sent to the
    /// callee's Contact, a new branch, the INVITE's CSeq number.
    fn ack_2xx(&self, resp: &Message) -> Message {
        let uri = resp
            .header("contact")
            .map(addr_uri)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| invite_uri(&self.invite));
        let transport = self.transport.via_name();
        let branch = super::uas::new_branch();
        let mut m = Message {
            start: StartLine::Request {
                method: Method::Ack,
                uri,
            },
            headers: Vec::new(),
            body: Vec::new(),
        };
        m.push_header(
            "via",
            format!("SIP/2.0/{transport} {};branch={branch};rport", self.via),
        );
        m.push_header("max-forwards", "70");
        for h in ["from", "call-id"] {
            if let Some(v) = self.invite.header(h) {
                m.push_header(h, v);
            }
        }
        if let Some(to) = resp.header("to") {
            m.push_header("to", to);
        }
        let n = self.invite.cseq().map_or(1, |c| c.0);
        m.push_header("cseq", format!("{n} ACK"));
        m
    }

    fn copy_of_invite(&self, method: Method, headers: &[&str]) -> Message {
        let mut m = Message {
            start: StartLine::Request {
                method,
                uri: invite_uri(&self.invite),
            },
            headers: Vec::new(),
            body: Vec::new(),
        };
        for h in headers {
            if let Some(v) = self.invite.header(h) {
                m.push_header(h, v);
            }
        }
        m
    }
}

fn invite_uri(invite: &Message) -> String {
    match &invite.start {
        StartLine::Request { uri, .. } => uri.clone(),
        StartLine::Response { .. } => String::new(),
    }
}

/// The remote tag a response carries (its To tag), for the dialog.
pub fn remote_tag(resp: &Message) -> Option<&str> {
    param(resp.header("to")?, "tag")
}

#[cfg(test)]
#[path = "uac_tests.rs"]
mod tests;
