//! Dial-out's IO, driven by the listener's task: each order becomes
//! attempts; an attempt checks the meeting still runs and the room is not
//! in it, finds the codec (its registration, else its fixed address),
//! admits it through `conference::admit` as a dial-in call would be,
//! binds the call's RTP ports, sends our INVITE (`uac`) and, on a 2xx,
//! starts the very same `call` a dial-in codec gets. A failure is retried
//! on `dialout`'s schedule; every change is a `sip_call` event for the
//! consoles' wall. One attempt, up to its INVITE, is `attempt`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::call::{self, CallSetup};
use super::config::SipConfig;
use super::dialog::{DialogId, Dialogs};
use super::dialout::{self, CallState, DialOrder, Dialer};
use super::message::Message;
use super::metrics::SipMetrics;
use super::offer::OfferKeys;
use super::transport::Transport;
use super::uac::{ClientInvite, UacEvent};
use super::uas::{CallHandle, Contacts, Uas, new_branch};
use crate::conference::{Admission, Conference};
use crate::control::endpoints::Endpoints;
use crate::control::meetings::Meetings;

mod attempt;

/// Bytes to send, and where.
pub type Sends = Vec<(SocketAddr, Vec<u8>)>;
type Key = (String, String); // (meeting, endpoint)

struct Dial {
    attempt: u32,
    /// When the next attempt starts (`None` while one is under way).
    retry_at: Option<Instant>,
}

/// What a 2xx needs to become a call: made before the INVITE went out.
struct Pending {
    socks: [UdpSocket; 4],
    admission: Admission,
    name: String,
    offer: String,
    /// Our SDES keys, when we offered RTP/SAVP (dialling over TLS).
    keys: Option<OfferKeys>,
}

struct Invite {
    key: Key,
    txn: ClientInvite,
    peer: SocketAddr,
    transport: Transport,
    ring_until: Instant,
    ringing: bool,
    /// Cancelled (rang too long): a late 2xx is ACKed and hung up.
    abandoned: bool,
    pending: Option<Pending>,
}

pub struct Outbound {
    conference: Conference,
    cfg: SipConfig,
    dialer: Dialer,
    ended_tx: mpsc::Sender<DialogId>,
    metrics: Arc<SipMetrics>,
    dials: HashMap<Key, Dial>,
    invites: HashMap<String, Invite>,
    connected: HashMap<DialogId, Key>,
}

impl Outbound {
    pub fn new(
        conference: Conference,
        cfg: SipConfig,
        dialer: Dialer,
        ended_tx: mpsc::Sender<DialogId>,
        metrics: Arc<SipMetrics>,
    ) -> Outbound {
        Outbound {
            conference,
            cfg,
            dialer,
            ended_tx,
            metrics,
            dials: HashMap::new(),
            invites: HashMap::new(),
            connected: HashMap::new(),
        }
    }

    /// Queue the attempts an order asks for (they start at the next poll).
    pub async fn order(&mut self, order: DialOrder) {
        let now = Instant::now();
        // An operator's order starts a fresh set of attempts; the meeting's
        // (it opened, went live) leaves rooms already being retried alone.
        let (keys, fresh) = match order {
            DialOrder::Room { meeting, endpoint } => (vec![(meeting, endpoint)], true),
            DialOrder::Meeting(meeting) => (self.sip_rooms_of(&meeting).await, false),
        };
        for key in keys {
            let busy = self
                .invites
                .values()
                .any(|i| i.key == key && !i.txn.is_final())
                || self.connected.values().any(|k| *k == key)
                || (!fresh && self.dials.contains_key(&key));
            if !busy {
                self.dials.insert(
                    key,
                    Dial {
                        attempt: 0,
                        retry_at: Some(now),
                    },
                );
            }
        }
    }

    /// The meeting's planned rooms that have a SIP account.
    async fn sip_rooms_of(&self, meeting: &str) -> Vec<Key> {
        let meetings = Meetings::new(self.conference.store().clone());
        let Ok(m) = meetings.get(meeting).await else {
            return Vec::new();
        };
        let Ok(planned) = meetings.participants_of(&m).await else {
            return Vec::new();
        };
        let eps = Endpoints::new(self.conference.store().clone());
        let mut out = Vec::new();
        let now = Instant::now();
        for p in planned {
            // Only rooms we can reach: registered, or with a fixed address.
            if let Ok(Some(a)) = eps.sip_account_of(&p.endpoint_id).await
                && (self.dialer.registered(&a.endpoint_id, now).is_some()
                    || a.fixed_addr
                        .as_deref()
                        .and_then(|f| dialout::fixed_target(f, &a.user))
                        .is_some())
            {
                out.push((meeting.to_owned(), p.endpoint_id));
            }
        }
        out
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        let retries = self.dials.values().filter_map(|d| d.retry_at);
        let invites = self.invites.values().flat_map(|i| {
            [
                i.txn.next_timeout(),
                (!i.txn.is_final()).then_some(i.ring_until),
            ]
        });
        retries.chain(invites.flatten()).min()
    }

    /// Timers: retransmissions, calls that rang too long, no answer at
    /// all, and attempts due.
    pub async fn poll(&mut self, now: Instant, via: &str, contacts: &Contacts) -> Sends {
        let mut out = Vec::new();
        let mut failed = Vec::new();
        for (branch, inv) in &mut self.invites {
            if !inv.txn.is_final() && !inv.abandoned && now >= inv.ring_until {
                inv.abandoned = true;
                if let Some(c) = inv.txn.cancel(now) {
                    out.push((inv.peer, c));
                }
            }
            let (sends, ev) = inv.txn.poll(now);
            out.extend(sends.into_iter().map(|b| (inv.peer, b)));
            if ev == Some(UacEvent::TimedOut) {
                failed.push((branch.clone(), inv.key.clone()));
            }
        }
        for (branch, key) in failed {
            self.invites.remove(&branch);
            self.fail(now, &key, 408, dialout::reason(408)).await;
        }
        self.invites.retain(|_, i| !i.txn.is_terminated());
        let due: Vec<Key> = self
            .dials
            .iter()
            .filter(|(_, d)| d.retry_at.is_some_and(|at| now >= at))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some(send) = self.attempt(now, &key, via, contacts).await {
                out.push(send);
            }
        }
        out
    }

    /// A response that came to the listener: its INVITE's transaction.
    pub async fn response(
        &mut self,
        now: Instant,
        resp: &Message,
        dialogs: &mut Dialogs,
        uas: &mut Uas,
    ) -> Sends {
        let Some(inv) = resp.branch().and_then(|b| self.invites.get_mut(b)) else {
            return Vec::new(); // the answer to one of our BYEs, or stray
        };
        let (ev, sends) = inv.txn.receive(now, resp);
        let peer = inv.peer;
        let mut out: Sends = sends.into_iter().map(|b| (peer, b)).collect();
        let key = inv.key.clone();
        match ev {
            Some(UacEvent::Provisional(180 | 183)) if !inv.ringing => {
                inv.ringing = true;
                self.announce(&key, &CallState::Ringing).await;
            }
            Some(UacEvent::Rejected(code, _)) => {
                // Our own CANCEL's 487 means the codec rang unanswered.
                let code = if code == 487 && inv.abandoned {
                    408
                } else {
                    code
                };
                self.fail(now, &key, code, dialout::reason(code)).await;
            }
            Some(UacEvent::Answered(ok)) => {
                let (abandoned, pending) = (inv.abandoned, inv.pending.take());
                let invite = inv.txn.invite().clone();
                let transport = inv.transport;
                let Some(id) = dialogs.insert_uac(now, &invite, &ok, peer, transport) else {
                    self.fail(now, &key, 503, dialout::reason(503)).await;
                    return out;
                };
                let started = match (abandoned, pending) {
                    (false, Some(p)) => self.start_call(&key, id.clone(), &ok, p).await,
                    _ => Err(408),
                };
                match started {
                    Ok(handle) => {
                        uas.keep_call(id.clone(), handle, peer);
                        self.dials.remove(&key);
                        // The call announces itself, connected then ended
                        // (`call`), as a dialled-in one does.
                        self.connected.insert(id, key.clone());
                    }
                    Err(code) => {
                        if let Some((to, bye)) =
                            dialogs.hang_up(&id, &uas.via_host(), &new_branch())
                        {
                            out.push((to, bye.to_bytes()));
                        }
                        self.fail(now, &key, code, dialout::reason(code)).await;
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// A dialled call ended (BYE either way, the room removed): the room
    /// may be called again.
    pub async fn call_ended(&mut self, id: &DialogId) {
        self.connected.remove(id);
    }

    async fn start_call(
        &self,
        key: &Key,
        dialog: DialogId,
        ok: &Message,
        p: Pending,
    ) -> Result<CallHandle, u16> {
        let neg = super::offer::read_answer(&ok.body, p.keys.as_ref()).map_err(|_| 488u16)?;
        let setup = CallSetup {
            conference: self.conference.clone(),
            meeting: key.0.clone(),
            name: p.name,
            admission: p.admission,
            neg,
            bind_ip: self.bind_ip(),
            ports: (self.cfg.rtp_port_min, self.cfg.rtp_port_max),
            dialog,
            ended: self.ended_tx.clone(),
            socks: Some(p.socks),
            metrics: self.metrics.clone(),
        };
        match call::start(setup).await {
            Ok(c) => Ok(CallHandle::new(c, p.offer)),
            Err(e) => {
                tracing::warn!(meeting = %key.0, endpoint = %key.1, error = %e, "sip: dialled call not started");
                Err(500)
            }
        }
    }

    /// An attempt failed: the next one is planned if it may help.
    async fn fail(&mut self, now: Instant, key: &Key, status: u16, reason: String) {
        let mut retry_in_s = None;
        if let Some(d) = self.dials.get_mut(key) {
            match dialout::retry_wait(d.attempt + 1).filter(|_| dialout::retry_helps(status)) {
                Some(w) => {
                    d.retry_at = Some(now + w);
                    retry_in_s = Some(w.as_secs());
                }
                None => {
                    self.dials.remove(key);
                }
            }
        }
        tracing::info!(meeting = %key.0, endpoint = %key.1, status, ?retry_in_s, "sip: dial-out failed");
        let state = CallState::Failed {
            status,
            reason,
            retry_in_s,
        };
        self.announce(key, &state).await;
    }

    async fn announce(&self, (meeting, endpoint): &Key, state: &CallState) {
        self.conference
            .live()
            .announce(meeting, dialout::event(endpoint, state))
            .await;
    }
}
