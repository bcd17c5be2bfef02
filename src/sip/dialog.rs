//! UAS dialogs (RFC 3261 §12–13), sans-IO on virtual time: the 2xx to an
//! INVITE retransmitted until its ACK (§13.3.1.4; no ACK in 64·T1 ends the
//! call with a BYE), in-dialog requests matched and ordered by CSeq, our
//! BYE built for the remote target, and session timers (RFC 4028: the
//! codec refreshes; a call not refreshed within its interval is ended).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::message::{Message, Method, StartLine, addr_uri};
use super::transaction::{T1, T2};
use super::transport::Transport;

/// Calls at once per listener: a room codec holds one; the cap bounds what
/// an INVITE flood that passed authentication could pin.
pub const MAX_DIALOGS: usize = 256;
/// Smallest session interval we accept (RFC 4028 §4: Min-SE 90 s).
pub const MIN_SESSION_EXPIRES: Duration = Duration::from_secs(90);
/// The interval we ask for when the codec names none: 30 min, so a codec
/// that vanished without BYE is ended within the half hour.
pub const DEFAULT_SESSION_EXPIRES: Duration = Duration::from_secs(1800);
/// A dialled call without session timers: a day bounds how long a codec
/// that vanished without a BYE keeps its dialog.
pub const UNREFRESHED_DIAL_OUT: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

impl DialogId {
    /// The dialog an in-dialog request names (its To tag is ours).
    pub fn of_request(req: &Message) -> Option<DialogId> {
        Some(DialogId {
            call_id: req.call_id().to_owned(),
            local_tag: req.to_tag()?.to_owned(),
            remote_tag: req.from_tag()?.to_owned(),
        })
    }
}

struct Pending2xx {
    bytes: Vec<u8>,
    cseq: u32,
    retransmit_at: Instant,
    interval: Duration,
    give_up_at: Instant,
}

pub struct Dialog {
    pub peer: SocketAddr,
    transport: Transport,
    /// Their Contact: where our BYE goes.
    remote_target: String,
    /// Our To header (with our tag), their From header.
    local: String,
    remote: String,
    remote_cseq: u32,
    local_cseq: u32,
    pending: Option<Pending2xx>,
    session_expires: Duration,
    expires_at: Instant,
}

/// An in-dialog request, as the call should see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InDialog {
    /// The ACK of our 2xx: the call is up.
    Ack,
    /// Answer it (200) and end the call.
    Bye,
    /// re-INVITE, UPDATE, INFO: for the call to answer.
    Request(Method),
    /// A duplicate ACK or an old CSeq: nothing to do.
    Stale,
    /// No such dialog: 481.
    Unknown,
}

/// What [`Dialogs::poll`] found due.
#[derive(Debug, Default)]
pub struct Due {
    pub transmit: Vec<(SocketAddr, Vec<u8>)>,
    /// Dialogs ended by the timers (ACK never came, session expired): the
    /// call is to hang up; send the BYE each carries.
    pub ended: Vec<(DialogId, Message)>,
}

#[derive(Default)]
pub struct Dialogs {
    map: HashMap<DialogId, Dialog>,
}

/// The Session-Expires an INVITE asks for, raised to our minimum.
pub fn session_interval(req: &Message) -> Duration {
    req.header("session-expires")
        .and_then(|v| v.split(';').next()?.trim().parse::<u64>().ok())
        .map_or(DEFAULT_SESSION_EXPIRES, |s| {
            Duration::from_secs(s).max(MIN_SESSION_EXPIRES)
        })
}

impl Dialogs {
    /// Record the dialog our 2xx `ok` to `invite` creates; `None` when
    /// the table is full (answer 503 instead of the 2xx).
    pub fn accept(
        &mut self,
        now: Instant,
        invite: &Message,
        ok: &Message,
        peer: SocketAddr,
        transport: Transport,
    ) -> Option<(DialogId, Vec<u8>)> {
        if self.map.len() >= MAX_DIALOGS {
            return None;
        }
        let id = DialogId {
            call_id: invite.call_id().to_owned(),
            local_tag: ok.to_tag()?.to_owned(),
            remote_tag: invite.from_tag()?.to_owned(),
        };
        let bytes = ok.to_bytes();
        let session_expires = session_interval(invite);
        let dialog = Dialog {
            peer,
            transport,
            remote_target: invite.header("contact").map_or_else(
                || addr_uri(invite.header("from").unwrap_or_default()).to_owned(),
                |c| addr_uri(c).to_owned(),
            ),
            local: ok.header("to")?.to_owned(),
            remote: invite.header("from")?.to_owned(),
            remote_cseq: invite.cseq()?.0,
            local_cseq: 0,
            pending: (!transport.is_reliable()).then(|| Pending2xx {
                bytes: bytes.clone(),
                cseq: invite.cseq().map_or(0, |c| c.0),
                retransmit_at: now + T1,
                interval: T1,
                give_up_at: now + 64 * T1,
            }),
            session_expires,
            expires_at: now + session_expires,
        };
        self.map.insert(id.clone(), dialog);
        Some((id, bytes))
    }

    /// Record the dialog a 2xx `ok` to our own `invite` creates (dial-out):
    /// our From is the local side, their To (with their tag) the remote,
    /// their Contact the target of our BYE. We send no `Supported: timer`,
    /// so only a codec that refreshes itself (refresher=uas) sets a session
    /// interval; else the call lasts until a BYE or the room leaves.
    pub fn insert_uac(
        &mut self,
        now: Instant,
        invite: &Message,
        ok: &Message,
        peer: SocketAddr,
        transport: Transport,
    ) -> Option<DialogId> {
        if self.map.len() >= MAX_DIALOGS {
            return None;
        }
        let id = DialogId {
            call_id: invite.call_id().to_owned(),
            local_tag: invite.from_tag()?.to_owned(),
            remote_tag: ok.to_tag()?.to_owned(),
        };
        let refreshed_by_them = ok
            .header("session-expires")
            .is_some_and(|v| super::message::param(v, "refresher") == Some("uas"));
        let session_expires = if refreshed_by_them {
            session_interval(ok)
        } else {
            UNREFRESHED_DIAL_OUT
        };
        let remote_target = match (ok.header("contact"), &invite.start) {
            (Some(c), _) => addr_uri(c).to_owned(),
            (None, StartLine::Request { uri, .. }) => uri.clone(),
            (None, StartLine::Response { .. }) => return None,
        };
        let dialog = Dialog {
            peer,
            transport,
            remote_target,
            local: invite.header("from")?.to_owned(),
            remote: ok.header("to")?.to_owned(),
            remote_cseq: 0,
            local_cseq: invite.cseq()?.0,
            pending: None,
            session_expires,
            expires_at: now + session_expires,
        };
        self.map.insert(id.clone(), dialog);
        Some(id)
    }

    pub fn get(&self, id: &DialogId) -> Option<&Dialog> {
        self.map.get(id)
    }

    /// Match an in-dialog request (ACK included). A BYE removes the dialog.
    pub fn receive(&mut self, now: Instant, req: &Message) -> InDialog {
        let (Some(id), Some(method), Some((cseq, _))) =
            (DialogId::of_request(req), req.method(), req.cseq())
        else {
            return InDialog::Unknown;
        };
        let Some(d) = self.map.get_mut(&id) else {
            return InDialog::Unknown;
        };
        if *method == Method::Ack {
            return match d.pending.take_if(|p| p.cseq == cseq) {
                Some(_) => InDialog::Ack,
                None => InDialog::Stale,
            };
        }
        // §12.2.2: a lower CSeq than the last one is out of order.
        if cseq <= d.remote_cseq && *method != Method::Cancel {
            return InDialog::Stale;
        }
        d.remote_cseq = cseq;
        match method {
            Method::Bye => {
                self.map.remove(&id);
                InDialog::Bye
            }
            Method::Invite | Method::Update => {
                // A refresh restarts the session timer (RFC 4028 §10).
                d.expires_at = now + d.session_expires;
                InDialog::Request(method.clone())
            }
            m => InDialog::Request(m.clone()),
        }
    }

    /// Our BYE for `id` (the call hangs up): sent to the remote target,
    /// the dialog forgotten.
    pub fn hang_up(
        &mut self,
        id: &DialogId,
        via: &str,
        branch: &str,
    ) -> Option<(SocketAddr, Message)> {
        let mut d = self.map.remove(id)?;
        Some((d.peer, d.bye(&id.call_id, via, branch)))
    }

    /// 2xx retransmissions due, dialogs whose ACK never came or whose
    /// session expired (removed; each with its BYE).
    pub fn poll(&mut self, now: Instant, via: &str) -> Due {
        let mut due = Due::default();
        let mut dead = Vec::new();
        for (id, d) in &mut self.map {
            if let Some(p) = &mut d.pending {
                if now >= p.give_up_at {
                    dead.push(id.clone());
                    continue;
                }
                if now >= p.retransmit_at {
                    due.transmit.push((d.peer, p.bytes.clone()));
                    p.interval = (p.interval * 2).min(T2);
                    p.retransmit_at = now + p.interval;
                }
            }
            if now >= d.expires_at {
                dead.push(id.clone());
            }
        }
        for id in dead {
            if let Some(mut d) = self.map.remove(&id) {
                let branch = format!("z9hG4bK-end-{}", d.local_cseq + 1);
                let bye = d.bye(&id.call_id, via, &branch);
                due.ended.push((id, bye));
            }
        }
        due
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.map
            .values()
            .flat_map(|d| {
                let p = d.pending.as_ref();
                [
                    p.map(|p| p.retransmit_at),
                    p.map(|p| p.give_up_at),
                    Some(d.expires_at),
                ]
            })
            .flatten()
            .min()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl Dialog {
    pub fn session_expires(&self) -> Duration {
        self.session_expires
    }

    pub fn is_reliable(&self) -> bool {
        self.transport.is_reliable()
    }

    /// Our in-dialog BYE (§15.1.1): From is our To, To their From.
    fn bye(&mut self, call_id: &str, via: &str, branch: &str) -> Message {
        self.local_cseq += 1;
        let transport = self.transport.via_name();
        let headers = vec![
            (
                "via".to_owned(),
                format!("SIP/2.0/{transport} {via};branch={branch}"),
            ),
            ("max-forwards".to_owned(), "70".to_owned()),
            ("from".to_owned(), self.local.clone()),
            ("to".to_owned(), self.remote.clone()),
            ("call-id".to_owned(), call_id.to_owned()),
            ("cseq".to_owned(), format!("{} BYE", self.local_cseq)),
        ];
        Message {
            start: StartLine::Request {
                method: Method::Bye,
                uri: self.remote_target.clone(),
            },
            headers,
            body: Vec::new(),
        }
    }
}

#[cfg(test)]
#[path = "dialog_tests.rs"]
mod tests;
