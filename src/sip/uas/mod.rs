//! What the listener answers (RFC 3261 UAS core): digest challenges, the
//! dial-in number → meeting, admission through `conference::admit` as the
//! room (so roll call, mute, stage, floor, remove and lock work unchanged),
//! the SDP answer, REGISTER and OPTIONS. Refusals: unknown number 404, not
//! admitted 403 (audited by `admit`), wrong credentials 401 then 403 once
//! throttled, no common codec 488, SDES keys (RTP/SAVP) over signalling
//! that is not TLS 488 unless `allow_sdes_without_tls`, a key that does
//! not parse 488 (both counted and audited as `sip.call_refused`). The
//! INVITE's path is `invite`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::call::Call;
use super::config::SipConfig;
use super::dialog::DialogId;
use super::dialout::{Dialer, Registration};
use super::digest::{Credentials, Digest, Verdict};
use super::message::{Message, addr_uri};
use super::metrics::SipMetrics;
use super::transport::Transport;
use crate::conference::Conference;
use crate::control::endpoints::Endpoints;
use crate::control::endpoints::sip::SipAccount;

mod invite;

pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, REGISTER";
/// Longest registration we grant: a codec re-registers within the hour,
/// so a room that vanished is forgotten within the hour too.
const MAX_REGISTER_SECS: u64 = 3600;
/// Registrations kept at once (one per SIP room).
const MAX_REGISTRATIONS: usize = 4096;

pub fn new_tag() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub fn new_branch() -> String {
    format!("z9hG4bK{:016x}", rand::random::<u64>())
}

struct ActiveCall {
    call: Call,
    answer: String,
    peer: SocketAddr,
}

pub struct Uas {
    conference: Conference,
    cfg: SipConfig,
    local: SocketAddr,
    /// Bound TCP and TLS ports, when listening.
    stream_ports: (Option<u16>, Option<u16>),
    digest: Digest,
    /// Where each codec registered from, shared with dial-out.
    dialer: Dialer,
    calls: HashMap<DialogId, ActiveCall>,
    ended_peers: HashMap<DialogId, SocketAddr>,
    ended_tx: mpsc::Sender<DialogId>,
    pub metrics: Arc<SipMetrics>,
}

impl Uas {
    pub fn new(
        conference: Conference,
        cfg: SipConfig,
        local: SocketAddr,
        ended_tx: mpsc::Sender<DialogId>,
        metrics: Arc<SipMetrics>,
        dialer: Dialer,
    ) -> Uas {
        let key: [u8; 32] = rand::random();
        let digest = Digest::new(&cfg.realm, key, Instant::now());
        Uas {
            conference,
            cfg,
            local,
            stream_ports: (None, None),
            digest,
            dialer,
            calls: HashMap::new(),
            ended_peers: HashMap::new(),
            ended_tx,
            metrics,
        }
    }

    pub fn via_host(&self) -> String {
        SocketAddr::new(self.cfg.public_ip(), self.local.port()).to_string()
    }

    /// Our Contact for a dialog over `transport`: the port we listen on
    /// for it (as bound: a configured port 0 is the kernel's pick).
    pub fn contact(&self, transport: Transport) -> String {
        let port = match transport {
            Transport::Udp => Some(self.local.port()),
            Transport::Tcp => self.stream_ports.0,
            Transport::Tls => self.stream_ports.1,
        }
        .unwrap_or(self.local.port());
        format!(
            "<sip:diemcau@{}{}>",
            SocketAddr::new(self.cfg.public_ip(), port),
            transport.uri_param()
        )
    }

    /// Our Contact for each transport (dial-out picks by the codec's).
    pub fn contacts(&self) -> Contacts {
        Contacts {
            udp: self.contact(Transport::Udp),
            tcp: self.contact(Transport::Tcp),
            tls: self.contact(Transport::Tls),
        }
    }

    /// The TCP and TLS listeners' bound ports, for our Contact.
    pub fn set_stream_ports(&mut self, tcp: Option<u16>, tls: Option<u16>) {
        self.stream_ports = (tcp, tls);
    }

    /// Digest check: the account, or the response to send (401 / 403).
    pub(super) async fn authenticate(
        &mut self,
        req: &Message,
        from: SocketAddr,
    ) -> Result<SipAccount, Message> {
        let method = req
            .method()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default();
        let creds = req
            .header("authorization")
            .or_else(|| req.header("proxy-authorization"))
            .and_then(Credentials::parse);
        let challenge = |this: &Self, stale: bool| {
            let mut r = Message::response_to(req, 401, "Unauthorized", Some(&new_tag()));
            for c in this
                .digest
                .challenges(Instant::now(), stale, this.cfg.challenge_sha256)
            {
                r.push_header("WWW-Authenticate", c);
            }
            r
        };
        let Some(creds) = creds else {
            return Err(challenge(self, false));
        };
        let account = Endpoints::new(self.conference.store().clone())
            .sip_account(&creds.username)
            .await
            .ok()
            .flatten()
            .filter(|a| a.realm == self.digest.realm());
        let verdict = self
            .digest
            .verify(Instant::now(), from.ip(), &method, &creds, |alg| {
                account.as_ref().map(|a| a.ha1(alg).to_owned())
            });
        match (verdict, account) {
            (Verdict::Ok, Some(a)) => Ok(a),
            (Verdict::Stale, _) => Err(challenge(self, true)),
            (Verdict::Replayed, _) => {
                self.metrics.auth_replayed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(user = %creds.username, %from, "sip: digest nonce count replayed");
                Err(challenge(self, false))
            }
            (Verdict::Throttled, _) => {
                self.metrics.auth_throttled.fetch_add(1, Ordering::Relaxed);
                Err(Message::response_to(
                    req,
                    403,
                    "Forbidden",
                    Some(&new_tag()),
                ))
            }
            _ => {
                self.metrics.auth_failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(user = %creds.username, %from, "sip: digest failed");
                Err(challenge(self, false))
            }
        }
    }

    pub fn keep_call(&mut self, id: DialogId, handle: CallHandle, peer: SocketAddr) {
        self.metrics.calls_active.fetch_add(1, Ordering::Relaxed);
        self.calls.insert(
            id,
            ActiveCall {
                call: handle.call,
                answer: handle.answer,
                peer,
            },
        );
    }

    /// The call of `id` ends (BYE, timers): its task is dropped.
    pub fn end_call(&mut self, id: &DialogId) {
        if let Some(c) = self.calls.remove(id) {
            self.metrics.calls_active.fetch_sub(1, Ordering::Relaxed);
            self.ended_peers.insert(id.clone(), c.peer);
            drop(c.call);
        }
        if self.ended_peers.len() > 1024 {
            self.ended_peers.clear();
        }
    }

    pub fn peer_of_ended(&mut self, id: &DialogId) -> Option<SocketAddr> {
        self.ended_peers.remove(id)
    }

    /// A re-INVITE (session refresh): our answer again.
    pub fn reinvite_answer(
        &self,
        req: &Message,
        id: Option<&DialogId>,
        transport: Transport,
    ) -> Message {
        let Some(c) = id.and_then(|id| self.calls.get(id)) else {
            return Message::response_to(req, 481, "Call/Transaction Does Not Exist", None);
        };
        let mut ok = Message::response_to(req, 200, "OK", None);
        ok.push_header("Contact", self.contact(transport));
        ok.push_header("Content-Type", "application/sdp");
        ok.body = c.answer.clone().into_bytes();
        ok
    }

    pub async fn register(
        &mut self,
        req: &Message,
        from: SocketAddr,
        transport: Transport,
    ) -> Message {
        let account = match self.authenticate(req, from).await {
            Ok(a) => a,
            Err(resp) => return resp,
        };
        let asked = req
            .header("contact")
            .and_then(|c| super::message::param(c, "expires").and_then(|e| e.parse().ok()))
            .or_else(|| req.header("expires").and_then(|e| e.trim().parse().ok()))
            .unwrap_or(MAX_REGISTER_SECS);
        let secs = asked.min(MAX_REGISTER_SECS);
        let mut ok = Message::response_to(req, 200, "OK", Some(&new_tag()));
        if secs == 0 {
            self.dialer
                .register(&account.endpoint_id, None, MAX_REGISTRATIONS);
        } else {
            let contact = req.header("contact").map(addr_uri).unwrap_or_default();
            let reg = Registration {
                addr: from,
                contact: if contact.starts_with("sip:") {
                    contact.to_owned()
                } else {
                    format!("sip:{}@{from}", account.user)
                },
                transport,
                expires: Instant::now() + Duration::from_secs(secs),
            };
            self.dialer
                .register(&account.endpoint_id, Some(reg), MAX_REGISTRATIONS);
            if let Some(c) = req.header("contact") {
                ok.push_header("Contact", format!("<{}>;expires={secs}", addr_uri(c)));
            }
        }
        ok.push_header("Expires", secs.to_string());
        ok
    }

    pub fn options(&self, req: &Message) -> Message {
        let mut ok = Message::response_to(req, 200, "OK", Some(&new_tag()));
        ok.push_header("Allow", ALLOW);
        ok.push_header("Accept", "application/sdp");
        ok.push_header("Supported", "timer");
        ok
    }
}

/// Our Contact over each transport.
pub struct Contacts {
    udp: String,
    tcp: String,
    tls: String,
}

impl Contacts {
    pub fn of(&self, t: Transport) -> &str {
        match t {
            Transport::Udp => &self.udp,
            Transport::Tcp => &self.tcp,
            Transport::Tls => &self.tls,
        }
    }
}

/// A call answered but not yet kept by the listener.
pub struct CallHandle {
    call: Call,
    answer: String,
}

impl CallHandle {
    /// `sdp`: what a re-INVITE is answered with (our answer, or for a
    /// dialled call our offer).
    pub fn new(call: Call, sdp: String) -> CallHandle {
        CallHandle { call, answer: sdp }
    }
}
